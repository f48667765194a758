# ruff: noqa: S311 - seeded, reproducible simulated traffic, not security
"""The HTTP layer every simulated client shares: curl_cffi sessions (a browser's exact TLS handshake and HTTP/2
settings), header sets built per request, a browser-style cookie jar, and a record of every exchange as the client
saw it (status, whether it was the real answer, a challenge, a refusal or a deception).

curl_cffi runs with ``default_headers=False`` and ``discard_cookies=True``: the harness writes every header itself,
in the browser's order, and keeps cookies the way a browser does (``Secure`` cookies only over HTTPS, ``Max-Age=0``
deletes, the original creation order kept on overwrite).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from curl_cffi.const import CurlOpt
from curl_cffi.requests import AsyncSession

from .browsers import Kind, Localised, RequestContext, Site
from .network import IpSource
from .truth import Check, ShopTruth, is_challenge, page_assets

HOST = "www.trailhead.example"
REQUEST_TIMEOUT_S = 20.0
_CHROMIUM = ("chrome", "edge", "opera")

# curl-impersonate sorts request headers into its target's navigation order unless told the order
# (CURLOPT_HTTPHEADER_ORDER). A browser's order depends on the request (a stylesheet, a form post and a fetch() differ),
# so the order is set per request: curl_cffi reads a session's curl_options when it prepares each request, inside the
# asyncio task that sends it, and this mapping adds the order that task set last.
_HEADER_ORDER: ContextVar[str | None] = ContextVar("heldout_header_order", default=None)


class _PerRequestOptions(dict[Any, Any]):
    def items(self) -> Any:  # type: ignore[override]
        order = _HEADER_ORDER.get()
        extra = [(CurlOpt.HTTPHEADER_ORDER, order)] if order else []
        return [*super().items(), *extra]


@dataclass
class Endpoint:
    """The stack under test as clients reach it: a hostname (sent as SNI and Host) pinned to loopback ports."""

    http_port: int
    https_port: int

    def origin(self, secure: bool) -> str:
        return f"https://{HOST}:{self.https_port}" if secure else f"http://{HOST}:{self.http_port}"

    def resolve(self) -> list[str]:
        return [f"{HOST}:{self.https_port}:127.0.0.1", f"{HOST}:{self.http_port}:127.0.0.1"]


class CookieJar:
    """One browser profile's cookies for the shop's host (every cookie here has Path=/)."""

    def __init__(self) -> None:
        self._cookies: dict[str, tuple[str, bool, float | None]] = {}  # name -> (value, secure, expires_at)

    def header(self, secure: bool) -> str | None:
        now = time.time()
        parts = [
            f"{name}={value}"
            for name, (value, only_secure, expires) in self._cookies.items()
            if (secure or not only_secure) and (expires is None or expires > now)
        ]
        return "; ".join(parts) or None

    def store(self, set_cookies: list[str], secure: bool) -> None:
        for line in set_cookies:
            name_value, *attrs = [p.strip() for p in line.split(";")]
            if "=" not in name_value:
                continue
            name, value = name_value.split("=", 1)
            flags = {a.split("=", 1)[0].lower(): (a.split("=", 1)[1] if "=" in a else "") for a in attrs}
            only_secure = "secure" in flags
            if only_secure and not secure:
                continue  # a browser ignores a Secure cookie set over plain HTTP
            expires: float | None = None
            if "max-age" in flags:
                with contextlib.suppress(ValueError):
                    age = int(flags["max-age"])
                    if age <= 0:
                        self._cookies.pop(name, None)
                        continue
                    expires = time.time() + age
            self._cookies[name] = (value, only_secure, expires)  # dict keeps the first insertion's position

    def drop_session_cookies(self) -> None:
        """What closing the browser does: cookies without Max-Age/Expires go."""
        self._cookies = {k: v for k, v in self._cookies.items() if v[2] is not None}

    def drop(self, name: str) -> None:
        self._cookies.pop(name, None)

    def names(self) -> list[str]:
        return list(self._cookies)


class Recorder:
    """Every exchange every client had, in the order they finished."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self._next = 0

    def new_id(self) -> int:
        self._next += 1
        return self._next

    def add(self, record: dict[str, Any]) -> None:
        self.records.append(record)


@dataclass
class Scene:
    """What every actor of one scenario shares."""

    name: str
    endpoint: Endpoint
    truth: ShopTruth
    recorder: Recorder
    pace: float
    t0: float
    window_s: float
    hard_stop: float  # absolute time after which nobody starts a new request

    def elapsed(self) -> float:
        return time.time() - self.t0

    def stopping(self) -> bool:
        return time.time() > self.hard_stop

    def in_window(self) -> bool:
        return self.elapsed() < self.window_s and time.time() < self.hard_stop

    async def pause(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) * self.pace)


@dataclass
class Reply:
    rid: int
    status: int
    headers: dict[str, str]
    body: str
    outcome: str  # ok | challenge | blocked | throttled | deceptive | error
    set_cookies: list[str] = field(default_factory=list)
    passed: bool | None = None  # for a challenge: whether the reload got the real answer

    @property
    def location(self) -> str | None:
        return self.headers.get("location")


def classify(status: int, set_cookies: list[str], body: str, real: bool) -> str:
    if status == 0 or status >= 500:
        return "error"
    if status == 403:
        return "challenge" if is_challenge(status, set_cookies, body) else "blocked"
    if status == 429:
        return "throttled"
    return "ok" if real else "deceptive"


class Agent:
    """One client identity: software (TLS + headers), where it connects from, and whether it keeps cookies."""

    def __init__(
        self,
        scene: Scene,
        *,
        actor: str,
        population: str,  # person | attacker | declared-bot
        persona: str,
        group: str,
        build: Localised,
        ip: IpSource,
        secure: bool,
        keep_cookies: bool = True,
        follow_challenge: bool = True,
        rng: random.Random | None = None,
    ) -> None:
        self.scene = scene
        self.actor = actor
        self.population = population
        self.persona = persona
        self.group = group
        self.build = build
        self.ip = ip
        self.secure = secure
        self.keep_cookies = keep_cookies
        self.follow_challenge = follow_challenge
        self.rng = rng or random.Random(0)
        self.jar = CookieJar()
        self.user: str | None = None  # who the shop's session cookie signs in (the harness's ground truth)
        self._session: AsyncSession[Any] | None = None
        self._current_ip = ""
        self.origin = scene.endpoint.origin(secure)

    def url(self, path: str) -> str:
        return self.origin + path

    async def _session_for(self, ip: str, changed: bool) -> AsyncSession[Any]:
        if self._session is None or changed:
            # A new exit address is a new TCP connection and a new TLS handshake.
            await self.close()
            http1 = (not self.secure) or self.build.http1_only
            self._session = AsyncSession(
                impersonate=self.build.target,  # type: ignore[arg-type]
                default_headers=False,
                discard_cookies=True,
                allow_redirects=False,
                verify=False,
                timeout=REQUEST_TIMEOUT_S,
                http_version="v1" if http1 else None,
                curl_options=_PerRequestOptions({CurlOpt.RESOLVE: self.scene.endpoint.resolve()}),
            )
        self._current_ip = ip
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            with contextlib.suppress(Exception):
                await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        target: str,
        kind: Kind,
        *,
        check: Check,
        referer: str | None = None,
        site: Site = "none",
        user_activated: bool = True,
        body: bytes | None = None,
        content_type: str | None = None,
        attempt: int | None = None,
        reload_of: int | None = None,
        note: str = "",
    ) -> Reply:
        ip, changed = self.ip.next()
        session = await self._session_for(ip, changed)
        cookie = self.jar.header(self.secure) if self.keep_cookies else None
        if referer and referer.startswith("https:") and not self.secure:
            referer = None  # strict-origin-when-cross-origin: no referer on an HTTPS -> HTTP downgrade
        ctx = RequestContext(
            kind=kind,
            secure=self.secure,
            origin=self.origin,
            referer=referer,
            site=site,
            user_activated=user_activated,
            cookie=cookie,
            content_type=content_type,
        )
        headers = self.build.headers(ctx)
        # What a CDN in front of Envoy appends (Envoy trusts one hop): the client's own address.
        headers.append(("x-forwarded-for", ip))
        order = [name.lower() for name, _ in headers]
        if body is not None:
            # curl writes content-length itself; put it where the browser does.
            if self.build.family in _CHROMIUM:
                pos = 1 if order and order[0] == "connection" else 0
            else:
                pos = order.index("content-type") + 1 if "content-type" in order else len(order) - 1
            order.insert(pos, "content-length")
        _HEADER_ORDER.set(",".join(["host", *order]))  # Host first on HTTP/1.1 (HTTP/2 sends :authority)
        rid = self.scene.recorder.new_id()
        t_send = time.time()
        status, resp_headers, text, set_cookies, error = 0, {}, "", [], ""
        try:
            r = await session.request(method, self.url(target), headers=headers, data=body)  # type: ignore[arg-type]
            status = r.status_code
            set_cookies = list(r.headers.get_list("set-cookie"))
            resp_headers = {k.lower(): v for k, v in r.headers.items() if k.lower() != "set-cookie"}
            text = r.content.decode("utf-8", "replace")
        except Exception as exc:  # transport errors are recorded, never raised into the actor
            error = f"{type(exc).__name__}: {exc}"[:200]
            await self.close()
        t_done = time.time()
        if self.keep_cookies and set_cookies:
            self.jar.store(set_cookies, self.secure)
        check_headers = dict(resp_headers)
        check_headers["_cookies"] = "; ".join(set_cookies)
        real = status != 0 and _safe_check(check, status, check_headers, text)
        outcome = classify(status, set_cookies, text, real)
        self.scene.recorder.add(
            {
                "rid": rid,
                "actor": self.actor,
                "population": self.population,
                "persona": self.persona,
                "group": self.group,
                "build": self.build.key,
                "client_ip": ip,
                "scheme": "https" if self.secure else "http",
                "method": method,
                "target": target,
                "path": urlsplit(target).path,
                "kind": kind,
                "attempt": attempt if attempt is not None else rid,
                "reload_of": reload_of,
                "t_send": t_send,
                "t_done": t_done,
                "status": status,
                "outcome": outcome,
                "cookie_sent": cookie or "",
                "set_cookie": [c.split(";", 1)[0] for c in set_cookies],
                "error": error,
                "note": note,
            }
        )
        return Reply(rid, status, resp_headers, text, outcome, set_cookies)

    async def reload_after_challenge(self, challenged: Reply, target: str, check: Check, attempt: int | None) -> Reply:
        """The ``<meta http-equiv=refresh content=0>`` navigation: same URL, with the cookie the page just set."""
        await asyncio.sleep(self.rng.uniform(0.03, 0.25))  # parse and render, then the refresh fires
        reply = await self.request(
            "GET",
            target,
            "reload",
            check=check,
            referer=self.url(target),
            site="same-origin",
            user_activated=False,
            attempt=attempt if attempt is not None else challenged.rid,
            reload_of=challenged.rid,
        )
        challenged.passed = reply.outcome == "ok"
        return reply


def _safe_check(check: Check, status: int, headers: Mapping[str, str], body: str) -> bool:
    try:
        return bool(check(status, headers, body))
    except Exception:
        return False


class Browser(Agent):
    """An Agent that behaves like a browser tab: navigations follow botwall's challenge once (as a browser does on a
    meta refresh), pages pull in their uncached subresources, the first page asks for /favicon.ico."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cache: set[str] = set()
        self.favicon_done = False
        self.load_assets = True

    async def navigate(
        self,
        target: str,
        *,
        referer: str | None,
        site: Site,
        user_activated: bool = True,
        note: str = "",
    ) -> Reply:
        check = self.scene.truth.check("GET", target, user=self.user)
        attempt = self.scene.recorder.new_id()
        reply = await self.request(
            "GET",
            target,
            "navigate",
            check=check,
            referer=referer,
            site=site,
            user_activated=user_activated,
            attempt=attempt,
            note=note,
        )
        if reply.outcome == "challenge" and self.follow_challenge:
            reply = await self.reload_after_challenge(reply, target, check, attempt)
        if reply.outcome == "ok" and reply.status == 200 and self.load_assets:
            await self.subresources(target, reply.body)
        return reply

    async def subresources(self, page: str, body: str) -> None:
        wanted = [(p, k) for p, k in page_assets(body) if p not in self.cache]
        page_url = self.url(page)

        async def one(path: str, kind: Kind) -> None:
            reply = await self.request(
                "GET",
                path,
                kind,
                check=self.scene.truth.check("GET", path),
                referer=page_url,
                site="same-origin",
            )
            if reply.outcome == "ok":
                self.cache.add(path)  # Cache-Control: public, max-age=3600

        if wanted:
            await asyncio.gather(*(one(p, k) for p, k in wanted))
        if self.build.favicon and not self.favicon_done:
            self.favicon_done = True
            await asyncio.sleep(self.rng.uniform(0.05, 0.4))  # after the load event
            await one("/favicon.ico", "favicon")

    async def submit_form(
        self, target: str, fields: dict[str, str], *, referer: str, valid: bool, attempt: int | None = None
    ) -> Reply:
        note = "valid-credentials" if valid else "invalid-credentials"
        """POST the login form as a browser does; a challenge page's refresh reloads the form page (a GET)."""
        from urllib.parse import urlencode

        attempt = attempt if attempt is not None else self.scene.recorder.new_id()
        reply = await self.request(
            "POST",
            target,
            "form",
            check=self.scene.truth.check("POST", target, valid_credentials=valid),
            referer=referer,
            site="same-origin",
            body=urlencode(fields).encode(),
            content_type="application/x-www-form-urlencoded",
            attempt=attempt,
            note=note,
        )
        if reply.outcome == "challenge" and self.follow_challenge:
            await self.reload_after_challenge(
                reply, target, self.scene.truth.check("GET", target, user=self.user), attempt
            )
        return reply

    async def fetch_json(
        self,
        method: str,
        target: str,
        *,
        referer: str,
        payload: dict[str, Any] | None = None,
        valid: bool | None = None,
        attempt: int | None = None,
    ) -> Reply:
        """What a page script's fetch() sends (cannot be challenged: no page to refresh)."""
        kind: Kind = "fetch-json-post" if method == "POST" else "fetch"
        return await self.request(
            method,
            target,
            kind,
            check=self.scene.truth.check(method, target, user=self.user, valid_credentials=valid),
            referer=referer,
            site="same-origin",
            body=json.dumps(payload).encode() if payload is not None else None,
            content_type="application/json" if payload is not None else None,
            attempt=attempt,
            note="" if valid is None else ("valid-credentials" if valid else "invalid-credentials"),
        )
