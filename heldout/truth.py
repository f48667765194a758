"""What the real shop answers, so a client can tell a real answer from a refusal, a challenge or a deception.

botwall's *deceive* action answers 200 with synthesized content shaped like the real endpoint's. The harness knows the
truth (the catalogue, the assets, which credentials are valid, who is signed in), so any answer that is not a 403, a
429 or a 5xx and does not match the truth counts as deceptive. Assets and the product API are compared byte for byte
and value for value with what the upstream serves directly (fetched once, around Envoy and botwall).
"""

from __future__ import annotations

import html
import json
import re
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

ASSET_PATHS = ("/static/app.css", "/static/app.js", "/static/logo.svg")
CHALLENGE_REFRESH = re.compile(r"""<meta[^>]+http-equiv\s*=\s*["']?refresh""", re.IGNORECASE)
_ASSET_RE = re.compile(
    r"""<link[^>]+rel=["']?stylesheet["']?[^>]*href=["']([^"']+)["']|<script[^>]+src=["']([^"']+)["']"""
    r"""|<img[^>]+src=["']([^"']+)["']""",
    re.IGNORECASE,
)

Check = Callable[[int, Mapping[str, str], str], bool]


def money(cents: int) -> str:
    dollars, rest = divmod(cents, 100)
    return f"${dollars:,}.{rest:02d}"


def page_assets(body: str) -> list[tuple[str, str]]:
    """The subresources a browser fetches for a page, as (path, kind), stylesheets and scripts first."""
    out: list[tuple[str, str]] = []
    for css, js, img in _ASSET_RE.findall(body):
        if css:
            out.append((css, "style"))
        elif js:
            out.append((js, "script"))
        elif img:
            out.append((img, "image"))
    out.sort(key=lambda a: a[1] == "image")
    return out


def is_challenge(status: int, set_cookies: list[str], body: str) -> bool:
    """botwall's challenge as a browser meets it: a 403 page that sets a cookie and refreshes itself."""
    return status == 403 and bool(set_cookies) and bool(CHALLENGE_REFRESH.search(body))


@dataclass(frozen=True)
class ShopTruth:
    products: tuple[dict[str, Any], ...]
    assets: Mapping[str, str]

    @classmethod
    def fetch(cls, upstream: str) -> ShopTruth:
        def get(path: str) -> str:
            with urllib.request.urlopen(upstream + path, timeout=10) as r:  # noqa: S310 - loopback upstream
                return r.read().decode()

        products = tuple(json.loads(get("/api/products")))
        return cls(products, {p: get(p) for p in ASSET_PATHS})

    def _product(self, raw: str) -> dict[str, Any] | None:
        try:
            pid = int(raw)
        except ValueError:
            return None
        return next((p for p in self.products if p["id"] == pid), None)

    def check(
        self,
        method: str,
        target: str,
        *,
        user: str | None = None,
        valid_credentials: bool | None = None,
    ) -> Check:
        """How to recognise the real answer to ``method target`` for a client signed in as ``user``."""
        split = urlsplit(target)
        path, query = split.path, parse_qs(split.query)

        def nav(status: int, headers: Mapping[str, str], body: str) -> bool:
            if user:
                return f'<a href="/account">{html.escape(user)}</a>' in body
            return '<a href="/login">Log in</a>' in body

        if method == "HEAD":
            return lambda status, headers, body: status in (200, 404, 405)
        if method == "GET" and path == "/":

            def home(status: int, headers: Mapping[str, str], body: str) -> bool:
                return (
                    status == 200
                    and "<title>Gear for the trail · Trailhead Supply</title>" in body
                    and all(html.escape(p["name"]) in body and money(p["price"]) in body for p in self.products)
                    and nav(status, headers, body)
                )

            return home
        if method == "GET" and path.startswith("/products/"):
            product = self._product(path.removeprefix("/products/"))
            if product is None:
                return lambda status, headers, body: status == 404 and "could not find that product" in body

            def product_page(status: int, headers: Mapping[str, str], body: str) -> bool:
                return (
                    status == 200
                    and f"<title>{html.escape(product['name'])} · Trailhead Supply</title>" in body
                    and money(product["price"]) in body
                    and nav(status, headers, body)
                )

            return product_page
        if method == "GET" and path == "/login":
            return lambda status, headers, body: status == 200 and 'action="/login"' in body
        if method == "POST" and path == "/login":
            if valid_credentials:
                return lambda status, headers, body: (
                    status == 303
                    and headers.get("location") == "/account"
                    and "session=" in headers.get("_cookies", "")
                )
            return lambda status, headers, body: status == 401 and "Invalid username or password." in body
        if method == "GET" and path == "/account":
            if user:
                return lambda status, headers, body: (
                    status == 200 and f"signed in as <strong>{html.escape(user)}</strong>" in body
                )
            return lambda status, headers, body: status == 303 and headers.get("location") == "/login"
        if method == "GET" and path == "/api/products":
            q = query.get("q", [""])[0].casefold()
            expected = [p for p in self.products if q in p["name"].casefold()]
            return lambda status, headers, body: status == 200 and _json(body) == expected
        if method == "GET" and path.startswith("/api/products/"):
            product = self._product(path.removeprefix("/api/products/"))
            if product is None:
                return lambda status, headers, body: status == 404 and _json(body) == {"error": "product not found"}
            return lambda status, headers, body: status == 200 and _json(body) == product
        if method == "POST" and path == "/api/login":
            if valid_credentials:

                def api_ok(status: int, headers: Mapping[str, str], body: str) -> bool:
                    data = _json(body)
                    return (
                        status == 200
                        and isinstance(data, dict)
                        and data.get("ok") is True
                        and isinstance(data.get("token"), str)
                        and f"session={data['token']}" in headers.get("_cookies", "")
                    )

                return api_ok
            return lambda status, headers, body: (
                status == 401
                and _json(body)
                == {
                    "ok": False,
                    "error": "invalid credentials",
                }
            )
        if method == "GET" and path in self.assets:
            expected_body = self.assets[path]
            return lambda status, headers, body: status == 200 and body == expected_body
        # Everything else (favicon.ico, robots.txt, sitemap.xml, ...) does not exist in the shop.
        return lambda status, headers, body: status == 404


def _json(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None
