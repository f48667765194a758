"""The dashboard: botwall's screens for a security team, served by the admin listener at `/`.

Overview (traffic by verdict and by action over a chosen range, top reasons, shadow mode), Discover (the endpoint
inventory), Bots (campaigns and what they do, down to their decisions), Accounts (under attack and likely compromised)
and Alerts (triggers, their state and history; events and the audit trail of what changed); a running event is a
banner on every screen. Each page is rendered on the server from the same functions the admin API answers with
(`edge.views`, and the inventory, campaigns and accounts themselves), so a screen and its API agree; a little JavaScript
of our own sorts and filters tables and draws the two charts with uPlot, which is vendored from npm into
`static/vendor` (`make console-assets`): the page loads nothing from elsewhere and works offline.

Sign-in: with an admin token set, `/login` takes the token and answers with a session cookie (`HttpOnly`, `Secure`,
`SameSite=Strict`, 12 hours) signed with a key derived from the token, so every worker accepts it and changing the
token ends every session. The cookie opens the screens and the API's GETs only; the console's forms (sign in, sign
out, and pin, shorten or revoke a mitigation on the Bots screen) check the request's `Origin`, and all but sign-in
also need a per-session CSRF value. Ten wrong tokens from one address
within a minute get a 429 until the minute ends. Without a token (a loopback-only listener) there is nothing to sign
in to. Every page is sent with a strict Content-Security-Policy (scripts, styles and data from this origin only).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn
from urllib.parse import quote, urlsplit

from aiohttp import web
from aiohttp.web_request import FileField
from multidict import MultiDictProxy

from botwall import __version__
from botwall.edge import views
from botwall.edge.alerts import Alerts
from botwall.edge.console import _pages
from botwall.edge.server import RunningServer

SESSION_COOKIE = "botwall_session"
SESSION_SECONDS = 12 * 3600
_FAILURES = 10  # wrong tokens per address within a minute before sign-in answers 429
_FAILURE_ADDRESSES = 1000  # addresses remembered for that (the oldest minute's are dropped first)
_STATIC = Path(__file__).parent / "static"
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # not no-referrer: with it Chromium sends `Origin: null` on our own forms
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
# The screens: path, handler, the navigation's label (None: reached from another screen).
SCREENS = (
    ("/", "_overview", "Overview"),
    ("/discover", "_discover", "Discover"),
    ("/bots", "_bots", "Bots"),
    ("/accounts", "_accounts", "Accounts"),
    ("/alerts", "_alerts", "Alerts"),
    ("/decisions", "_decisions", None),
)


class Sessions:
    """Signed session values `<expires>.<nonce>.<signature>`, keyed from the admin token."""

    def __init__(self, token: str, clock: Callable[[], float] = time.time) -> None:
        self._key = hmac.new(token.encode(), b"botwall console session v1", hashlib.sha256).digest()
        self._clock = clock

    def _sign(self, message: str) -> str:
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def mint(self) -> str:
        message = f"{int(self._clock()) + SESSION_SECONDS}.{secrets.token_urlsafe(12)}"
        return f"{message}.{self._sign(message)}"

    def valid(self, value: str) -> bool:
        message, _, signature = value[:200].rpartition(".")
        expires = message.partition(".")[0]
        if not expires.isdigit() or not hmac.compare_digest(signature, self._sign(message)):
            return False
        return int(expires) > self._clock()

    def csrf(self, value: str) -> str:
        """The sign-out form's value for this session."""
        return self._sign(f"csrf.{value}")[:32]


class Console:
    """The dashboard's routes on the admin listener's application."""

    def __init__(self, running: RunningServer, alerts: Alerts | None, token: str) -> None:
        self.running = running
        self.alerts = alerts
        self.token = token
        self.sessions = Sessions(token)
        self._failures: dict[str, tuple[int, int]] = {}  # address -> (minute, wrong tokens in it)
        self._static = {
            f"/static/{p.relative_to(_STATIC).as_posix()}": p.read_bytes() for p in _STATIC.rglob("*") if p.is_file()
        }
        self._screens = {path for path, _, _ in SCREENS}

    def add_routes(self, app: web.Application) -> None:
        for path, handler, _ in SCREENS:
            app.router.add_get(path, getattr(self, handler))
        app.router.add_get("/login", self._login_form)
        app.router.add_post("/login", self._login)
        app.router.add_post("/logout", self._logout)
        app.router.add_post("/mitigations/{id}/{verb}", self._change_mitigation)
        app.router.add_get("/static/{name:.+}", self._file)

    def is_open(self, path: str) -> bool:
        """Paths that answer before sign-in: the sign-in form, sign-out (it checks the session itself), the assets."""
        return path in ("/login", "/logout") or path.startswith(("/static/", "/mitigations/"))

    def is_screen(self, path: str) -> bool:
        return path in self._screens

    def signed_in(self, request: web.Request) -> bool:
        """A valid session cookie, on a request that changes nothing (the cookie never authorises a POST to the API;
        the console's own forms check it with their CSRF value)."""
        if not self.token:
            return True
        if request.method not in ("GET", "HEAD"):
            return False
        return self.sessions.valid(request.cookies.get(SESSION_COOKIE, ""))

    def to_login(self, request: web.Request) -> NoReturn:
        """Send a browser that is not signed in to the sign-in form, and back here after."""
        raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='')}", headers=HEADERS)

    # Screens.

    def _page(self, request: web.Request, screen: str, title: str, body: str, status: int = 200) -> web.Response:
        config = self.running.servicer.engine.config
        shadowed = tuple(p.name for p in config.policies if p.shadow)
        session = request.cookies.get(SESSION_COOKIE, "")
        csrf = self.sessions.csrf(session) if self.token and session else ""
        events = [e for e in self.running.servicer.engine.events.describe(time.time()) if e["state"] == "running"]
        html = _pages.layout(screen, title, body, __version__, config.shadow, shadowed, csrf, _nav(), events)
        return web.Response(text=html, content_type="text/html", status=status, headers=HEADERS)

    async def _overview(self, request: web.Request) -> web.Response:
        name = request.query.get("range", "1h")
        if name not in views.TRAFFIC_RANGES:
            name = "1h"
        traffic = views.traffic(self.running.servicer.counters, name, time.time())
        body = _pages.overview(traffic, tuple(views.TRAFFIC_RANGES), views.totals(traffic["series"]))
        return self._page(request, "overview", "Overview", body)

    async def _discover(self, request: web.Request) -> web.Response:
        servicer = self.running.servicer
        inventory = servicer.inventory
        endpoints = inventory.snapshot(servicer.engine.config.policies)
        body = _pages.discover(endpoints, len(inventory), inventory.max_templates, time.time())
        return self._page(request, "discover", "Discover", body)

    async def _bots(self, request: web.Request) -> web.Response:
        servicer = self.running.servicer
        session = request.cookies.get(SESSION_COOKIE, "")
        csrf = self.sessions.csrf(session) if self.token and session else ""
        mitigations = _pages.mitigations(servicer.engine.mitigations.describe(), csrf)
        body = mitigations + _pages.bots(servicer.campaigns.describe())
        return self._page(request, "bots", "Bots", body)

    async def _accounts(self, request: web.Request) -> web.Response:
        accounts = self.running.servicer.accounts
        body = _pages.accounts(accounts.rows("compromised"), accounts.rows("under_attack"), len(accounts))
        servicer = self.running.servicer
        reviewed = servicer.transactions.listing(review_only=True)
        body += _pages.transactions(reviewed, len(servicer.engine.config.transactions))
        return self._page(request, "accounts", "Accounts", body)

    async def _alerts(self, request: web.Request) -> web.Response:
        book = self.running.servicer.engine.events
        body = _pages.alerts(views.alerts(self.alerts)) + _pages.events(book.describe(time.time()), list(book.audit))
        return self._page(request, "alerts", "Alerts", body)

    async def _decisions(self, request: web.Request) -> web.Response:
        filters = {name: request.query[name][:256] for name in views.DECISION_FILTERS if request.query.get(name)}
        found = views.decisions(self.running.servicer.counters, filters, 200)
        return self._page(request, "decisions", "Decisions", _pages.decisions(filters, found))

    async def _file(self, request: web.Request) -> web.Response:
        body = self._static.get(request.path)
        if body is None:
            raise web.HTTPNotFound()
        kind = _TYPES.get(Path(request.path).suffix, "text/plain; charset=utf-8")
        return web.Response(body=body, headers={**HEADERS, "Content-Type": kind, "Cache-Control": "max-age=300"})

    # Sign-in and sign-out.

    async def _login_form(self, request: web.Request) -> web.Response:
        if not self.token:
            raise web.HTTPSeeOther("/", headers=HEADERS)
        return self._form(request, request.query.get("next", ""), "", 200)

    def _form(self, request: web.Request, next_path: str, error: str, status: int) -> web.Response:
        html = _pages.login(_next(next_path), error, request.secure, __version__)
        return web.Response(text=html, content_type="text/html", status=status, headers=HEADERS)

    async def _login(self, request: web.Request) -> web.Response:
        if not self.token:
            raise web.HTTPSeeOther("/", headers=HEADERS)
        _same_origin(request)
        address = request.remote or ""
        minute = int(time.time() // 60)
        form = await request.post()
        next_path = str(form.get("next", ""))
        seen, wrong = self._failures.get(address, (minute, 0))
        if seen == minute and wrong >= _FAILURES:
            return self._form(request, next_path, "Too many wrong tokens from this address: wait a minute.", 429)
        token = str(form.get("token", "")).strip()
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            if len(self._failures) >= _FAILURE_ADDRESSES and address not in self._failures:
                self._failures.pop(next(iter(self._failures)))
            self._failures[address] = (minute, wrong + 1 if seen == minute else 1)
            return self._form(request, next_path, "That is not the admin token.", 401)
        self._failures.pop(address, None)
        response = web.HTTPSeeOther(_next(next_path), headers=HEADERS)
        response.set_cookie(
            SESSION_COOKIE, self.sessions.mint(), max_age=SESSION_SECONDS, path="/", httponly=True, secure=True,
            samesite="Strict",
        )  # fmt: skip
        raise response

    async def _session_form(
        self, request: web.Request, what: str
    ) -> MultiDictProxy[str | bytes | bytearray | FileField]:
        """The fields of a form posted from this console's own page (same origin) with this session's CSRF value;
        403 otherwise."""
        _same_origin(request)
        session = request.cookies.get(SESSION_COOKIE, "")
        form = await request.post()
        if self.token and not (
            self.sessions.valid(session) and hmac.compare_digest(str(form.get("csrf", "")), self.sessions.csrf(session))
        ):
            raise web.HTTPForbidden(text=f"{what} needs this session's form", headers=HEADERS)
        return form

    async def _logout(self, request: web.Request) -> web.Response:
        await self._session_form(request, "sign-out")
        response = web.HTTPSeeOther("/login" if self.token else "/", headers=HEADERS)
        response.del_cookie(SESSION_COOKIE, path="/")
        raise response

    async def _change_mitigation(self, request: web.Request) -> web.Response:
        """Pin, shorten (by ten minutes from now) or revoke a mitigation from the Bots screen: a form of this
        console's own page, with this session's CSRF value (like sign-out); the change is audited as the dashboard's."""
        form = await self._session_form(request, "a change")
        book = self.running.servicer.engine.mitigations
        verb, ident = request.match_info["verb"], request.match_info["id"]
        who = f"dashboard (session from {request.remote or 'unknown'})"
        why = str(form.get("why", "")).strip()[:500] or f"{verb} from the dashboard"
        try:
            if verb == "pin":
                book.pin(ident, who, why)
            elif verb == "shorten":
                book.shorten(ident, 10.0, who, why)
            elif verb == "revoke":
                book.revoke(ident, who, why)
            else:
                raise web.HTTPNotFound(headers=HEADERS)
        except KeyError:
            raise web.HTTPNotFound(text="no active mitigation of that id", headers=HEADERS) from None
        raise web.HTTPSeeOther("/bots", headers=HEADERS)


def _nav() -> tuple[tuple[str, str, str], ...]:
    return tuple((path, handler.strip("_"), label) for path, handler, label in SCREENS if label)


def _next(value: str) -> str:
    """Where to go after signing in: a screen of this console, else the overview (never another site)."""
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or "\\" in value:
        return "/"
    return parts.path + (f"?{parts.query}" if parts.query else "") if parts.path in {s[0] for s in SCREENS} else "/"


def _same_origin(request: web.Request) -> None:
    """A form post from this console's own pages: a browser sends `Origin` on a POST, and another site's differs."""
    origin = request.headers.get("Origin") or request.headers.get("Referer", "")
    if not origin:
        return  # not a browser (curl): nothing another site could have made it send
    parts = urlsplit(origin)
    if parts.netloc != request.host:
        raise web.HTTPForbidden(text="cross-origin form post refused", headers=HEADERS)
