"""A small demo shop: the upstream web app that Envoy + botwall protect.

It serves HTML pages, static assets, a JSON product API and two login
endpoints (form and JSON), which are the kinds of traffic a bot-defense
filter has to tell apart.  ``/_echo`` and ``REQUEST_LOG`` let tests see
exactly what reached the upstream and with which headers.

A limited-stock drop (a hype sale) is off until a harness sets one with
``POST /_drop`` (JSON ``{"product": 4, "stock": 10, "release_at": <epoch s>}``,
or ``"release_in": <s>``; ``GET /_drop`` reads it back with the orders sold).
While it is set, ``POST /api/cart`` with ``{"product": 4}`` sells that
product to anyone, one unit a call: 425 before the release, 200 with an
order id while stock lasts, 409 sold out after; the product's page and JSON
show the release state and the stock left.  Like ``/_echo``, ``/_drop`` is
for the harness on the shop's own port, not for the gateway's clients.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import html
import secrets
import signal
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Final, TypedDict

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

__all__ = [
    "DEMO_ACCOUNTS",
    "DROP",
    "PRODUCTS",
    "REQUEST_LOG",
    "Drop",
    "Product",
    "RequestRecord",
    "create_app",
    "main",
    "start_shop",
]


@dataclass(frozen=True, slots=True)
class Product:
    """One item for sale; ``price`` is in cents so money stays an exact int."""

    id: int
    name: str
    price: int
    stock: int


@dataclass(slots=True)
class Drop:
    """A limited-stock release: `product` sells `stock` units through ``POST /api/cart`` from `release_at` (epoch
    seconds) on; `orders` are the ids sold, in order, so a harness can check a claimed success against the ledger."""

    product: int
    stock: int
    release_at: float
    orders: list[str] = field(default_factory=list)

    def state(self, now: float) -> str:
        """What the product's page shows: ``soon`` before the release, ``live`` while stock lasts, ``sold-out``."""
        if now < self.release_at:
            return "soon"
        return "live" if self.stock > 0 else "sold-out"


class RequestRecord(TypedDict):
    """What the shop saw of one request: method, raw path+query, headers."""

    method: str
    path: str
    headers: list[tuple[str, str]]


PRODUCTS: Final[tuple[Product, ...]] = (
    Product(1, "Trail Running Shoes", 8999, 14),
    Product(2, "Merino Wool Socks", 1499, 120),
    Product(3, "Insulated Water Bottle", 2450, 37),
    Product(4, "Packable Rain Jacket", 11900, 6),
    Product(5, "Headlamp 400lm", 3495, 0),
    Product(6, "Trekking Poles (pair)", 6950, 11),
    Product(7, "Canvas Daypack 22L", 5800, 23),
    Product(8, "Enamel Camp Mug", 1200, 64),
)
_PRODUCTS_BY_ID: Final[dict[int, Product]] = {p.id: p for p in PRODUCTS}

# Public on purpose: the login page lists them so people trying the demo can
# sign in.  Never reuse this pattern for real credentials.
DEMO_ACCOUNTS: Final[dict[str, str]] = {
    "alice": "wonderland-42",
    "bob": "builder-2026",
    "carol": "correct-horse-battery",
}

SESSION_COOKIE: Final = "session"
MAX_SESSIONS: Final = 10_000

REQUEST_LOG = web.AppKey[deque[RequestRecord]]("request_log")
# The drop on sale now: a one-element list (empty without one), so a handler can replace it in place.
DROP = web.AppKey[list[Drop]]("drop")
_SESSIONS = web.AppKey[dict[str, str]]("sessions")

_ASSET_CACHE_CONTROL: Final = "public, max-age=3600"

_CSS: Final = """\
:root { --ink: #1f2933; --muted: #616e7c; --brand: #2f7d5b; --bg: #f7f7f2; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: var(--ink);
       background: var(--bg); }
header { display: flex; align-items: center; gap: 1rem; padding: .75rem 2rem;
         background: #fff; border-bottom: 1px solid #e4e7eb; }
header nav { margin-left: auto; display: flex; gap: 1rem; }
header a { color: var(--ink); text-decoration: none; }
header a.active { color: var(--brand); font-weight: 600; }
.brand { display: flex; align-items: center; gap: .5rem; font-weight: 700; }
main { max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
.grid { display: grid; gap: 1rem;
        grid-template-columns: repeat(auto-fill, minmax(13rem, 1fr)); }
.card { background: #fff; border: 1px solid #e4e7eb; border-radius: .5rem;
        padding: 1rem; }
.card a { color: var(--ink); font-weight: 600; }
.price { color: var(--brand); font-weight: 700; }
.muted { color: var(--muted); }
.error { color: #b42318; }
form label { display: block; margin: .5rem 0; }
input { padding: .4rem; border: 1px solid #cbd2d9; border-radius: .25rem; }
button { padding: .5rem 1rem; border: 0; border-radius: .25rem;
         background: var(--brand); color: #fff; cursor: pointer; }
footer { text-align: center; color: var(--muted); padding: 2rem; }
"""

_JS: Final = """\
// Highlight the nav link for the current page.
document.addEventListener("DOMContentLoaded", () => {
  for (const link of document.querySelectorAll("header nav a")) {
    if (link.getAttribute("href") === window.location.pathname) {
      link.classList.add("active");
    }
  }
  // A drop's "Add to cart" posts the product to the cart API and shows the answer.
  const cart = document.getElementById("add-to-cart");
  if (cart) {
    cart.addEventListener("click", async () => {
      const response = await fetch("/api/cart", {
        method: "POST",
        headers: {"content-type": "application/json"},
        body: JSON.stringify({product: Number(cart.dataset.product)}),
      });
      const answer = await response.json();
      cart.textContent = response.ok ? "In your cart" : answer.error;
      cart.disabled = true;
    });
  }
});
"""

_LOGO_SVG: Final = """\
<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 32 32">
  <rect width="32" height="32" rx="6" fill="#2f7d5b"/>
  <path d="M6 22 L13 10 L18 18 L21 14 L26 22 Z" fill="#f7f7f2"/>
</svg>
"""

# path -> (content type, charset or None, body)
_ASSETS: Final[dict[str, tuple[str, str | None, str]]] = {
    "/static/app.css": ("text/css", "utf-8", _CSS),
    "/static/app.js": ("text/javascript", "utf-8", _JS),
    "/static/logo.svg": ("image/svg+xml", None, _LOGO_SVG),
}


def _money(cents: int) -> str:
    """Format cents as dollars without going through float."""
    dollars, rest = divmod(cents, 100)
    return f"${dollars:,}.{rest:02d}"


def _stock_label(stock: int) -> str:
    """Human stock status for product listings."""
    return f"{stock} in stock" if stock > 0 else "Out of stock"


def render_page(title: str, body: str, *, user: str | None = None) -> str:
    """Wrap ``body`` (already-escaped HTML) in the shared page layout."""
    account = f'<a href="/account">{html.escape(user)}</a>' if user else '<a href="/login">Log in</a>'
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · Trailhead Supply</title>
<link rel="stylesheet" href="/static/app.css">
<script src="/static/app.js" defer></script>
</head>
<body>
<header>
<a class="brand" href="/"><img src="/static/logo.svg" alt="" width="32" height="32">
Trailhead Supply</a>
<nav><a href="/">Shop</a>{account}</nav>
</header>
<main>
<h1>{html.escape(title)}</h1>
{body}
</main>
<footer>Trailhead Supply is a demo shop protected by botwall.</footer>
</body>
</html>
"""


def _html(text: str, status: int = 200) -> web.Response:
    """An HTML response with an explicit charset."""
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


def _current_user(request: web.Request) -> str | None:
    """The username bound to the request's session cookie, if any."""
    token = request.cookies.get(SESSION_COOKIE)
    if token is None:
        return None
    return request.app[_SESSIONS].get(token)


def _check_credentials(username: str, password: str) -> bool:
    """Constant-time password check.

    Unknown users are compared against a dummy secret so that response time
    does not reveal which usernames exist.
    """
    expected = DEMO_ACCOUNTS.get(username)
    ok = hmac.compare_digest(password.encode(), (expected if expected is not None else "\0").encode())
    return ok and expected is not None


def _new_session(app: web.Application, user: str) -> str:
    """Create a session for ``user`` and return its random token."""
    sessions = app[_SESSIONS]
    token = secrets.token_urlsafe(32)
    sessions[token] = user
    # dicts keep insertion order, so the first key is the oldest session.
    while len(sessions) > MAX_SESSIONS:
        del sessions[next(iter(sessions))]
    return token


def _set_session_cookie(response: web.Response, token: str) -> None:
    """Attach the session cookie; HttpOnly + SameSite keep it away from scripts."""
    response.set_cookie(SESSION_COOKIE, token, httponly=True, path="/", samesite="Lax")


def _login_form(*, error: str | None = None, username: str = "") -> str:
    """The login page body, optionally with an error and the typed username."""
    error_html = f'<p class="error">{html.escape(error)}</p>' if error else ""
    accounts = "".join(
        f"<li><code>{html.escape(name)}</code> / <code>{html.escape(password)}</code></li>"
        for name, password in DEMO_ACCOUNTS.items()
    )
    return f"""{error_html}
<form class="card" method="post" action="/login">
<label>Username <input name="username" autocomplete="username" required
 value="{html.escape(username)}"></label>
<label>Password <input name="password" type="password"
 autocomplete="current-password" required></label>
<button type="submit">Log in</button>
</form>
<p class="muted">Demo accounts:</p>
<ul class="muted">{accounts}</ul>
"""


@web.middleware
async def _record_request(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Log every request before handling it, so even 404s are visible to tests."""
    request.app[REQUEST_LOG].append(
        RequestRecord(
            method=request.method,
            path=request.raw_path,
            headers=_raw_header_pairs(request),
        )
    )
    return await handler(request)


def _raw_header_pairs(request: web.Request) -> list[tuple[str, str]]:
    """Headers in arrival order, duplicates kept, names lower-cased."""
    return [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in request.raw_headers]


async def home(request: web.Request) -> web.Response:
    """Home page: every product as a card linking to its page."""
    cards = "".join(
        f'<div class="card"><a href="/products/{p.id}">{html.escape(p.name)}</a>'
        f'<p class="price">{_money(p.price)}</p>'
        f'<p class="muted">{_stock_label(p.stock)}</p></div>'
        for p in (_on_sale(request.app, p) for p in PRODUCTS)
    )
    body = f'<div class="grid">{cards}</div>'
    return _html(render_page("Gear for the trail", body, user=_current_user(request)))


async def product_page(request: web.Request) -> web.Response:
    """One product's page; unknown ids get an HTML 404."""
    user = _current_user(request)
    product = _lookup_product(request.match_info["id"])
    if product is None:
        body = '<p>We could not find that product. <a href="/">Back to the shop</a></p>'
        return _html(render_page("Not found", body, user=user), status=404)
    drop = _drop_of(request.app, product.id)
    if drop is not None:
        return _html(render_page(product.name, _drop_card(product, drop), user=user))
    action = "<p><button disabled>Add to cart</button></p>" if user else '<p><a href="/login">Log in</a> to buy.</p>'
    body = (
        f'<div class="card"><p class="price">{_money(product.price)}</p>'
        f'<p class="muted">{_stock_label(product.stock)}</p>{action}</div>'
    )
    return _html(render_page(product.name, body, user=user))


def _drop_card(product: Product, drop: Drop) -> str:
    """A drop's product card: when it releases, then the stock left and a live "Add to cart" (guest checkout)."""
    state = drop.state(time.time())
    if state == "soon":
        when = time.strftime("%H:%M:%S UTC", time.gmtime(drop.release_at))
        status = f"Releases at {when}"
        button = "<button disabled>Add to cart</button>"
    elif state == "live":
        status = _stock_label(drop.stock)
        button = f'<button id="add-to-cart" data-product="{product.id}">Add to cart</button>'
    else:
        status = "Sold out"
        button = "<button disabled>Sold out</button>"
    return (
        f'<div class="card" data-drop="{state}"><p class="price">{_money(product.price)}</p>'
        f'<p class="muted">{status}</p><p>{button}</p></div>'
    )


async def login_page(request: web.Request) -> web.Response:
    """The login form."""
    return _html(render_page("Log in", _login_form(), user=_current_user(request)))


async def login_submit(request: web.Request) -> web.Response:
    """Form login: 303 to /account with a session cookie, or 401 with the form."""
    form = await request.post()
    username = form.get("username")
    password = form.get("password")
    # File uploads arrive as FileField objects; treat them as missing.
    username = username if isinstance(username, str) else ""
    password = password if isinstance(password, str) else ""
    if not _check_credentials(username, password):
        body = _login_form(error="Invalid username or password.", username=username)
        return _html(render_page("Log in", body), status=401)
    response = web.Response(status=303, headers={hdrs.LOCATION: "/account"})
    _set_session_cookie(response, _new_session(request.app, username))
    return response


async def account(request: web.Request) -> web.Response:
    """Shows the signed-in user; anonymous visitors are sent to /login."""
    user = _current_user(request)
    if user is None:
        raise web.HTTPSeeOther(location="/login")
    body = f"<p>You are signed in as <strong>{html.escape(user)}</strong>.</p>"
    return _html(render_page("Your account", body, user=user))


async def api_login(request: web.Request) -> web.Response:
    """JSON login: 200 with a token (also set as the session cookie) or 401."""
    try:
        payload = await request.json()
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return web.json_response({"ok": False, "error": "malformed JSON"}, status=400)
    username = payload.get("username") if isinstance(payload, dict) else None
    password = payload.get("password") if isinstance(payload, dict) else None
    if not (isinstance(username, str) and isinstance(password, str)):
        return web.json_response(
            {"ok": False, "error": "expected an object with string username and password"},
            status=400,
        )
    if not _check_credentials(username, password):
        return web.json_response({"ok": False, "error": "invalid credentials"}, status=401)
    token = _new_session(request.app, username)
    response = web.json_response({"ok": True, "token": token})
    _set_session_cookie(response, token)
    return response


def _lookup_product(raw_id: str) -> Product | None:
    """Product for a path segment, or None if it is not a known integer id."""
    try:
        return _PRODUCTS_BY_ID.get(int(raw_id))
    except ValueError:
        return None


def _drop_of(app: web.Application, product_id: int) -> Drop | None:
    """The drop on sale now if it sells this product."""
    drops = app[DROP]
    return drops[0] if drops and drops[0].product == product_id else None


def _on_sale(app: web.Application, product: Product) -> Product:
    """The product with its stock as it is now: a drop's stock left in place of the catalogue's."""
    drop = _drop_of(app, product.id)
    return product if drop is None else replace(product, stock=drop.stock)


def _product_json(app: web.Application, product: Product) -> dict[str, Any]:
    """A product as the API shows it; a drop's product also says when it releases and whether it has."""
    out: dict[str, Any] = asdict(_on_sale(app, product))
    drop = _drop_of(app, product.id)
    if drop is not None:
        out["release_at"] = drop.release_at
        out["drop"] = drop.state(time.time())
    return out


async def api_products(request: web.Request) -> web.Response:
    """JSON array of products, filtered by a case-insensitive ``?q=`` on name."""
    query = request.query.get("q", "").casefold()
    matches = [_product_json(request.app, p) for p in PRODUCTS if query in p.name.casefold()]
    return web.json_response(matches)


async def api_product(request: web.Request) -> web.Response:
    """One product as JSON, or a 404 JSON error."""
    product = _lookup_product(request.match_info["id"])
    if product is None:
        return web.json_response({"error": "product not found"}, status=404)
    return web.json_response(_product_json(request.app, product))


async def api_cart(request: web.Request) -> web.Response:
    """Add one unit of the drop's product to a (guest) cart: 425 before the release, 200 with an order id while
    stock lasts, 409 once sold out; 404 for a product not on sale, 400 for a malformed body."""
    try:
        payload = await request.json()
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return web.json_response({"ok": False, "error": "malformed JSON"}, status=400)
    product_id = payload.get("product") if isinstance(payload, dict) else None
    if not isinstance(product_id, int) or isinstance(product_id, bool):
        return web.json_response({"ok": False, "error": "expected an object with an integer product"}, status=400)
    drop = _drop_of(request.app, product_id)
    if drop is None:
        return web.json_response({"ok": False, "error": "not on sale"}, status=404)
    now = time.time()
    if now < drop.release_at:
        wait = round(drop.release_at - now, 3)
        return web.json_response({"ok": False, "error": "not yet", "release_in": wait}, status=425)
    if drop.stock <= 0:
        return web.json_response({"ok": False, "error": "sold out"}, status=409)
    drop.stock -= 1
    order = secrets.token_hex(8)
    drop.orders.append(order)
    return web.json_response({"ok": True, "order": order, "product": product_id, "left": drop.stock})


def _drop_json(drops: list[Drop]) -> dict[str, Any]:
    if not drops:
        return {"drop": None}
    drop = drops[0]
    state = drop.state(time.time())
    return {"drop": {"product": drop.product, "stock": drop.stock, "release_at": drop.release_at, "state": state,
                     "orders": list(drop.orders)}}  # fmt: skip


async def drop_get(request: web.Request) -> web.Response:
    """Diagnostic: the drop on sale (or null), with the orders sold so far."""
    return web.json_response(_drop_json(request.app[DROP]))


async def drop_set(request: web.Request) -> web.Response:
    """Diagnostic: put a drop on sale, replacing any other: ``product``, ``stock``, and ``release_at`` (epoch seconds)
    or ``release_in`` (seconds from now)."""
    try:
        payload = await request.json()
    except ValueError:
        return web.json_response({"error": "malformed JSON"}, status=400)
    if not isinstance(payload, dict):
        return web.json_response({"error": "expected an object"}, status=400)
    product, stock = payload.get("product"), payload.get("stock")
    release = payload.get("release_at", payload.get("release_in"))
    one_time = ("release_at" in payload) != ("release_in" in payload)
    if not (
        isinstance(product, int) and product in _PRODUCTS_BY_ID
        and isinstance(stock, int) and not isinstance(stock, bool) and stock >= 0
        and isinstance(release, int | float) and not isinstance(release, bool) and one_time
    ):  # fmt: skip
        error = "expected a known integer product, a stock of 0 or more, and release_at or release_in in seconds"
        return web.json_response({"error": error}, status=400)
    release_at = float(release) if "release_at" in payload else time.time() + float(release)
    request.app[DROP][:] = [Drop(product, stock, release_at)]
    return web.json_response(_drop_json(request.app[DROP]))


async def static_asset(request: web.Request) -> web.Response:
    """Serve one of the in-memory assets; the route table only maps known paths."""
    content_type, charset, body = _ASSETS[request.path]
    return web.Response(
        text=body,
        content_type=content_type,
        charset=charset,
        headers={hdrs.CACHE_CONTROL: _ASSET_CACHE_CONTROL},
    )


async def healthz(request: web.Request) -> web.Response:
    """Liveness probe."""
    return web.Response(text="ok")


async def echo(request: web.Request) -> web.Response:
    """Diagnostic: report the method, raw path and headers exactly as received."""
    return web.json_response(
        {
            "method": request.method,
            "path": request.raw_path,
            "headers": [list(pair) for pair in _raw_header_pairs(request)],
        }
    )


async def slow(request: web.Request) -> web.Response:
    """Diagnostic: answer after `?ms=` milliseconds (at most 10 s), to hold a request in flight."""
    try:
        delay_ms = min(10_000, max(0, int(request.query.get("ms", "1000"))))
    except ValueError:
        return web.json_response({"error": "ms must be an integer"}, status=400)
    await asyncio.sleep(delay_ms / 1000)
    return web.json_response({"slept_ms": delay_ms})


def create_app() -> web.Application:
    """Build the shop application with empty session store and request log."""
    app = web.Application(middlewares=[_record_request])
    app[REQUEST_LOG] = deque(maxlen=1000)
    app[_SESSIONS] = {}
    app[DROP] = []
    app.add_routes(
        [
            web.get("/", home),
            web.get("/products/{id}", product_page),
            web.get("/login", login_page),
            web.post("/login", login_submit),
            web.get("/account", account),
            web.get("/api/products", api_products),
            web.get("/api/products/{id}", api_product),
            web.post("/api/login", api_login),
            web.post("/api/cart", api_cart),
            web.get("/healthz", healthz),
            web.route("*", "/_echo", echo),
            web.route("*", "/_echo/{tail:.*}", echo),
            web.get("/_slow", slow),
            web.get("/_drop", drop_get),
            web.post("/_drop", drop_set),
        ]
        + [web.get(path, static_asset) for path in _ASSETS]
    )
    return app


async def start_shop(host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, int]:
    """Start the shop and return its runner and bound port (useful with port 0).

    The caller owns the runner and must ``await runner.cleanup()``.
    """
    runner = web.AppRunner(create_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port: int = runner.addresses[0][1]
    return runner, bound_port


async def _serve(host: str, port: int) -> None:
    """Run the shop until SIGINT or SIGTERM."""
    runner, bound_port = await start_shop(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Not available on every platform (e.g. Windows); Ctrl-C still works there.
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    print(f"demo shop listening on http://{host}:{bound_port}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    """Command-line entry point: ``python -m botwall.lab.demo.shop --host H --port P``."""
    parser = argparse.ArgumentParser(description="Run the botwall demo shop.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--port", type=int, default=8081, help="port to bind")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port))


if __name__ == "__main__":
    main()


class BackgroundShop:
    """The shop served from its own thread and event loop, so synchronous callers (tests, the drop harness) can send
    it requests through Envoy while they block."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self.port = 0
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._runner, self.port = self._loop.run_until_complete(start_shop("127.0.0.1", 0))
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="demo-shop", daemon=True)
        self._thread.start()
        started.wait(10)

    @property
    def requests(self) -> deque[RequestRecord]:
        """Every request the shop received, oldest first."""
        assert self._runner is not None
        return self._runner.app[REQUEST_LOG]

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
