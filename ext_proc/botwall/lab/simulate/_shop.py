"""The demo shop's semantics without a server: which status and cookies each request would get.

Mirrors `botwall.lab.demo.shop` (same routes, statuses and session cookie) with two knobs the simulation needs: the
accounts (the demo's three plus the simulated users') and the catalogue size (a real shop has more than eight
products, and a scraper's path diversity depends on it).
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from urllib.parse import parse_qs

from botwall.lab.demo.shop import DEMO_ACCOUNTS, SESSION_COOKIE

ASSETS = ("/static/app.css", "/static/app.js", "/static/logo.svg")


class SimShop:
    """Answers simulated requests as the demo shop would."""

    def __init__(self, rng: random.Random, catalogue: int = 8, accounts: Mapping[str, str] | None = None) -> None:
        self._rng = rng
        self.catalogue = catalogue
        self.accounts: dict[str, str] = dict(DEMO_ACCOUNTS)
        self.accounts.update(accounts or {})
        self.sessions: dict[str, str] = {}

    def new_session(self, user: str) -> str:
        """Create a session for `user`; returns the cookie pair (`session=TOKEN`)."""
        token = f"{self._rng.getrandbits(128):032x}"
        self.sessions[token] = user
        return f"{SESSION_COOKIE}={token}"

    def _user(self, cookie: str) -> str | None:
        for part in cookie.split(";"):
            name, _, value = part.strip().partition("=")
            if name == SESSION_COOKIE:
                return self.sessions.get(value)
        return None

    def _login(self, username: str, password: str) -> tuple[int, tuple[str, ...]]:
        if self.accounts.get(username) != password or not password:
            return 401, ()
        pair = self.new_session(username)
        return 200, (f"{pair}; HttpOnly; Path=/; SameSite=Lax",)

    def respond(self, method: str, target: str, cookie: str, body: bytes | None) -> tuple[int, tuple[str, ...]]:
        """Status and Set-Cookie values for one request (`target` is the path with its query)."""
        path = target.partition("?")[0]
        if method == "POST" and path == "/login":
            form = parse_qs((body or b"").decode("utf-8", "replace"))
            status, cookies = self._login(form.get("username", [""])[0], form.get("password", [""])[0])
            return (303, cookies) if status == 200 else (401, ())
        if method == "POST" and path == "/api/login":
            try:
                data = json.loads(body or b"")
            except ValueError:
                return 400, ()
            if not isinstance(data, dict):
                return 400, ()
            user, password = data.get("username"), data.get("password")
            if not isinstance(user, str) or not isinstance(password, str):
                return 400, ()
            return self._login(user, password)
        if method not in ("GET", "HEAD"):
            return 405, ()
        if path in ("/", "/login", "/healthz") or path in ASSETS or path == "/api/products":
            return 200, ()
        if path == "/account":
            return (200, ()) if self._user(cookie) else (303, ())
        for prefix in ("/products/", "/api/products/"):
            if path.startswith(prefix):
                tail = path[len(prefix) :]
                return (200, ()) if tail.isdigit() and 1 <= int(tail) <= self.catalogue else (404, ())
        return 404, ()
