"""Tests for the demo shop upstream (botwall.lab.demo.shop)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from botwall.lab.demo import shop as shop_module
from botwall.lab.demo.shop import DEMO_ACCOUNTS, PRODUCTS, REQUEST_LOG, start_shop

HARDENED_COOKIE = "session={token}; HttpOnly; Path=/; SameSite=Lax"


@dataclass
class Shop:
    """A running shop plus a client session pointed at it."""

    runner: web.AppRunner
    base: str
    client: aiohttp.ClientSession

    def url(self, path: str) -> str:
        """Absolute URL for ``path`` on the running shop."""
        return self.base + path


@pytest_asyncio.fixture
async def shop() -> AsyncIterator[Shop]:
    """Start the shop on a free port; the cookie jar must accept IP hosts for sessions."""
    runner, port = await start_shop("127.0.0.1", 0)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as client:
        yield Shop(runner, f"http://127.0.0.1:{port}", client)
    await runner.cleanup()


async def test_start_shop_binds_real_port(shop: Shop) -> None:
    """Binding port 0 yields the real port, which serves /healthz."""
    async with shop.client.get(shop.url("/healthz")) as resp:
        actual = (resp.status, await resp.text())
    expected = (200, "ok")
    assert expected == actual


async def test_home_links_every_product(shop: Shop) -> None:
    """The home page is HTML and links to each product page."""
    async with shop.client.get(shop.url("/")) as resp:
        text = await resp.text()
        actual = (resp.status, resp.content_type, [f'href="/products/{p.id}"' in text for p in PRODUCTS])
    expected = (200, "text/html", [True] * len(PRODUCTS))
    assert expected == actual


async def test_product_page_and_unknown_product(shop: Shop) -> None:
    """A known product page shows its name; unknown or non-numeric ids are 404."""
    product = PRODUCTS[0]
    actual = []
    for path in (f"/products/{product.id}", "/products/9999", "/products/abc"):
        async with shop.client.get(shop.url(path)) as resp:
            actual.append((resp.status, product.name in await resp.text()))
    expected = [(200, True), (404, False), (404, False)]
    assert expected == actual


async def test_login_page_shows_form_and_demo_accounts(shop: Shop) -> None:
    """GET /login renders a form posting to /login and lists the demo accounts."""
    async with shop.client.get(shop.url("/login")) as resp:
        text = await resp.text()
        status = resp.status
    actual = [
        status,
        'method="post" action="/login"' in text,
        *(f"{name}</code> / <code>{pw}<" in text for name, pw in DEMO_ACCOUNTS.items()),
    ]
    expected = [200, True, *[True] * len(DEMO_ACCOUNTS)]
    assert expected == actual


async def test_account_redirects_anonymous_to_login(shop: Shop) -> None:
    """Without a session cookie /account answers 303 to /login."""
    async with shop.client.get(shop.url("/account"), allow_redirects=False) as resp:
        actual = (resp.status, resp.headers["Location"])
    expected = (303, "/login")
    assert expected == actual


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/static/app.css", "text/css"),
        ("/static/app.js", "text/javascript"),
        ("/static/logo.svg", "image/svg+xml"),
    ],
)
async def test_static_assets(shop: Shop, path: str, content_type: str) -> None:
    """Each static asset has its content type, a Cache-Control header and a body."""
    async with shop.client.get(shop.url(path)) as resp:
        body = await resp.read()
        actual = (resp.status, resp.content_type, resp.headers["Cache-Control"], len(body) > 0)
    expected = (200, content_type, "public, max-age=3600", True)
    assert expected == actual


async def test_api_products_lists_all(shop: Shop) -> None:
    """GET /api/products returns a JSON array with every product."""
    async with shop.client.get(shop.url("/api/products")) as resp:
        actual = (resp.status, resp.content_type, await resp.json())
    products = [{"id": p.id, "name": p.name, "price": p.price, "stock": p.stock} for p in PRODUCTS]
    expected = (200, "application/json", products)
    assert expected == actual


async def test_api_products_filter_is_case_insensitive(shop: Shop) -> None:
    """?q= keeps only products whose name contains the query, ignoring case."""
    actual = []
    for query in ("MUG", "zzz-nothing"):
        async with shop.client.get(shop.url("/api/products"), params={"q": query}) as resp:
            actual.append([item["name"] for item in await resp.json()])
    expected = [["Enamel Camp Mug"], []]
    assert expected == actual


async def test_api_product_found_and_missing(shop: Shop) -> None:
    """GET /api/products/{id} returns the product, or a JSON 404 for unknown ids."""
    actual = []
    for path in ("/api/products/3", "/api/products/999", "/api/products/x"):
        async with shop.client.get(shop.url(path)) as resp:
            actual.append((resp.status, resp.content_type, await resp.json()))
    found = {"id": 3, "name": "Insulated Water Bottle", "price": 2450, "stock": 37}
    missing = (404, "application/json", {"error": "product not found"})
    expected = [(200, "application/json", found), missing, missing]
    assert expected == actual


async def test_form_login_success_sets_session(shop: Shop) -> None:
    """A correct form login redirects to /account with a hardened session cookie."""
    form = {"username": "alice", "password": DEMO_ACCOUNTS["alice"]}
    async with shop.client.post(shop.url("/login"), data=form, allow_redirects=False) as resp:
        token = resp.cookies["session"].value
        login = (resp.status, resp.headers["Location"], resp.headers["Set-Cookie"])
    async with shop.client.get(shop.url("/account")) as resp:
        account = (resp.status, "alice" in await resp.text())
    expected = ((303, "/account", HARDENED_COOKIE.format(token=token)), (200, True))
    assert expected == (login, account)


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wrong"), ("mallory", DEMO_ACCOUNTS["alice"]), ("", "")],
)
async def test_form_login_failure_shows_form_again(shop: Shop, username: str, password: str) -> None:
    """Bad credentials give 401, the form again with an error, and no cookie."""
    form = {"username": username, "password": password}
    async with shop.client.post(shop.url("/login"), data=form, allow_redirects=False) as resp:
        text = await resp.text()
        actual = (
            resp.status,
            'action="/login"' in text,
            "Invalid username or password." in text,
            "Set-Cookie" in resp.headers,
        )
    expected = (401, True, True, False)
    assert expected == actual


async def test_json_login_success(shop: Shop) -> None:
    """A correct JSON login returns a token that is also the session cookie."""
    creds = {"username": "bob", "password": DEMO_ACCOUNTS["bob"]}
    async with shop.client.post(shop.url("/api/login"), json=creds) as resp:
        data = await resp.json()
        login = (resp.status, data["ok"], resp.headers["Set-Cookie"])
    async with shop.client.get(shop.url("/account")) as resp:
        account = (resp.status, "bob" in await resp.text())
    expected = ((200, True, HARDENED_COOKIE.format(token=data["token"])), (200, True))
    assert expected == (login, account)


async def test_json_login_failure(shop: Shop) -> None:
    """Wrong JSON credentials give 401 with the documented error body and no cookie."""
    creds = {"username": "bob", "password": "nope"}
    async with shop.client.post(shop.url("/api/login"), json=creds) as resp:
        actual = (resp.status, await resp.json(), "Set-Cookie" in resp.headers)
    expected = (401, {"ok": False, "error": "invalid credentials"}, False)
    assert expected == actual


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe",
        b'["alice", "wonderland-42"]',
        b'{"username": 1, "password": "x"}',
        b'{"username": "alice"}',
    ],
)
async def test_json_login_malformed(shop: Shop, body: bytes) -> None:
    """Unparseable or wrongly shaped JSON bodies give a 400 JSON error."""
    headers = {"Content-Type": "application/json"}
    async with shop.client.post(shop.url("/api/login"), data=body, headers=headers) as resp:
        actual = (resp.status, resp.content_type, (await resp.json())["ok"])
    expected = (400, "application/json", False)
    assert expected == actual


async def test_sessions_drop_oldest_beyond_limit(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past MAX_SESSIONS the oldest session is forgotten and its cookie stops working."""
    monkeypatch.setattr(shop_module, "MAX_SESSIONS", 2)
    tokens = []
    for name in ("alice", "bob", "carol"):
        creds = {"username": name, "password": DEMO_ACCOUNTS[name]}
        async with shop.client.post(shop.url("/api/login"), json=creds) as resp:
            tokens.append((await resp.json())["token"])
    shop.client.cookie_jar.clear()
    actual = []
    for token in tokens:
        async with shop.client.get(shop.url("/account"), cookies={"session": token}, allow_redirects=False) as resp:
            actual.append(resp.status)
    expected = [303, 200, 200]
    assert expected == actual


async def test_echo_reports_headers_in_arrival_order(shop: Shop) -> None:
    """/_echo lists headers lower-cased, in order, duplicates kept, path with query."""
    sent = [("X-Zeta", "1"), ("X-Alpha", "2"), ("X-Dup", "a"), ("X-Dup", "b")]
    async with shop.client.request("PATCH", shop.url("/_echo?x=1&y=2"), headers=sent) as resp:
        data = await resp.json()
    actual = (data["method"], data["path"], [pair for pair in data["headers"] if pair[0].startswith("x-")])
    expected = (
        "PATCH",
        "/_echo?x=1&y=2",
        [["x-zeta", "1"], ["x-alpha", "2"], ["x-dup", "a"], ["x-dup", "b"]],
    )
    assert expected == actual


async def test_request_log_records_every_request(shop: Shop) -> None:
    """REQUEST_LOG records method, path and headers of each request, even 404s."""
    log = shop.runner.app[REQUEST_LOG]
    log.clear()
    async with shop.client.get(shop.url("/api/products?q=sock"), headers={"X-Probe": "one"}) as resp:
        await resp.read()
    async with shop.client.post(shop.url("/no/such/page")) as resp:
        status = resp.status
    actual = (
        status,
        [(entry["method"], entry["path"]) for entry in log],
        [pair for pair in log[0]["headers"] if pair[0] == "x-probe"],
        log.maxlen,
    )
    expected = (404, [("GET", "/api/products?q=sock"), ("POST", "/no/such/page")], [("x-probe", "one")], 1000)
    assert expected == actual


async def _cart(shop: Shop, body: object) -> tuple[int, dict[str, object]]:
    async with shop.client.post(shop.url("/api/cart"), json=body) as resp:
        return resp.status, await resp.json()


async def test_a_drop_sells_its_stock_from_the_release_and_not_before(shop: Shop) -> None:
    """A drop answers 425 before its release, sells one unit per cart call with an order id the ledger lists, then
    409 sold out; its page and JSON follow the state."""
    async with shop.client.post(shop.url("/_drop"), json={"product": 4, "stock": 2, "release_in": 60}) as resp:
        assert (200, "soon") == (resp.status, (await resp.json())["drop"]["state"])
    early = await _cart(shop, {"product": 4})
    async with shop.client.get(shop.url("/products/4")) as resp:
        soon_page = await resp.text()
    async with shop.client.post(shop.url("/_drop"), json={"product": 4, "stock": 2, "release_at": 0}) as resp:
        assert 200 == resp.status
    async with shop.client.get(shop.url("/products/4")) as resp:
        live_page = await resp.text()
    sold = [await _cart(shop, {"product": 4}) for _ in range(3)]
    async with shop.client.get(shop.url("/api/products/4")) as resp:
        product = await resp.json()
    async with shop.client.get(shop.url("/_drop")) as resp:
        ledger = (await resp.json())["drop"]
    actual = (
        early[0], early[1]["error"], 'data-drop="soon"' in soon_page, 'id="add-to-cart"' in live_page,
        [status for status, _ in sold], sold[2][1]["error"], [body.get("order") for _, body in sold[:2]],
        (product["stock"], product["drop"]),
    )  # fmt: skip
    expected = (
        425, "not yet", True, True, [200, 200, 409], "sold out", ledger["orders"], (0, "sold-out"),
    )  # fmt: skip
    assert expected == actual


@pytest.mark.parametrize(
    ("body", "status"),
    [({"product": 1}, 404), ({"product": "4"}, 400), ([4], 400), ({"product": True}, 400)],
)
async def test_the_cart_sells_only_the_drop(shop: Shop, body: object, status: int) -> None:
    """Without a drop of that product the cart answers 404; a malformed body is a 400."""
    async with shop.client.post(shop.url("/_drop"), json={"product": 4, "stock": 5, "release_at": 0}) as resp:
        assert 200 == resp.status
    assert status == (await _cart(shop, body))[0]


@pytest.mark.parametrize(
    "body",
    [{"product": 99, "stock": 1, "release_at": 0}, {"product": 4, "stock": -1, "release_at": 0},
     {"product": 4, "stock": 1}, {"product": 4, "stock": 1, "release_at": 0, "release_in": 5}],
)  # fmt: skip
async def test_a_drop_needs_a_known_product_a_stock_and_one_release_time(shop: Shop, body: object) -> None:
    """Setting a drop with an unknown product, a negative stock, or not exactly one release time is a 400."""
    async with shop.client.post(shop.url("/_drop"), json=body) as resp:
        actual = (resp.status, "error" in await resp.json())
    assert (400, True) == actual


async def test_without_a_drop_the_catalogue_is_unchanged(shop: Shop) -> None:
    """No drop set: the cart sells nothing and the products show the catalogue's stock."""
    async with shop.client.get(shop.url("/_drop")) as resp:
        state = await resp.json()
    async with shop.client.get(shop.url("/api/products/4")) as resp:
        product = await resp.json()
    actual = (state, await _cart(shop, {"product": 4}), product)
    expected = (
        {"drop": None}, (404, {"ok": False, "error": "not on sale"}),
        {"id": 4, "name": "Packable Rain Jacket", "price": 11900, "stock": 6},
    )  # fmt: skip
    assert expected == actual
