"""The dashboard's pieces without a browser: session values, where sign-in may send a browser, and that what attackers
send (usernames, paths, user-agents) is shown as text, never as markup."""

from __future__ import annotations

import re

from botwall.edge.console import SESSION_SECONDS, Sessions, _next
from botwall.edge.console import _pages as pages

HOSTILE = "<script>alert(1)</script>'\"><img src=x onerror=alert(2)>"


def test_a_session_is_valid_until_it_expires_and_only_under_its_token() -> None:
    now = [1_800_000_000.0]
    sessions = Sessions("the-admin-token-0123456789", clock=lambda: now[0])
    value = sessions.mint()
    assert sessions.valid(value)
    assert not Sessions("another-admin-token-0123456", clock=lambda: now[0]).valid(value)  # a new token ends it
    expires, nonce, signature = value.split(".")
    assert not sessions.valid(f"{int(expires) + 3600}.{nonce}.{signature}")  # a longer life is a forgery
    assert not sessions.valid(f"{expires}.{nonce}.{'0' * len(signature)}")
    assert not sessions.valid("")
    assert not sessions.valid("x" * 10_000)
    now[0] += SESSION_SECONDS + 1
    assert not sessions.valid(value)
    assert sessions.csrf(value) != sessions.csrf(sessions.mint())


def test_sign_in_only_returns_to_a_screen_of_this_console() -> None:
    assert _next("/bots") == "/bots"
    assert _next("/decisions?fingerprint=abc") == "/decisions?fingerprint=abc"
    for elsewhere in ("https://evil.example/", "//evil.example/bots", "/\\evil.example", "javascript:alert(1)", "",
                      "/api/v1/accounts?format=csv", "/nowhere"):  # fmt: skip
        assert _next(elsewhere) == "/", elsewhere


def _markup(html: str) -> set[str]:
    return set(re.findall(r"<(script|img)\b", html))


def test_what_attackers_send_is_text_on_every_screen() -> None:
    account = {
        "username": HOSTILE, "under_attack": True, "compromised": True, "compromised_because": HOSTILE,
        "attempts": 1, "failures": 0, "successes": 1, "refused": 0, "trapped": 0, "from_abusive_clients": 1,
        "addresses": 1, "networks": 1, "fingerprints": 1, "breached_password_tried": False, "first_seen": 1.0,
        "last_attempt": 2.0,
        "evidence": [{"time": 2.0, "outcome": "success", "action": "allow", "score": 80, "reasons": [HOSTILE],
                      "fingerprint": HOSTILE, "network": 1}],
    }  # fmt: skip
    campaign = {
        "id": "f" * 16, "fingerprints": ["f" * 16], "requests": 3, "first_seen": 60.0, "last_seen": 120.0,
        "actions": {HOSTILE: 3}, "active": [60, 120],
        "tools": {"user_agents": [[HOSTILE, 3]], "tells": [[HOSTILE, 3]]},
        "infrastructure": {"addresses": 1, "networks": [[HOSTILE, 3]], "countries": [["US", 3]],
                           "network_kinds": {"cloud": 1.0}},
        "credentials": {"login_attempts": 0, "usernames": 0, "breached_share": 0.0},
        "behaviour": {"requests_per_active_minute": 1.5, "active_minutes": 2, "endpoints": [[HOSTILE, 3]],
                      "reasons": [[HOSTILE, 3]]},
    }  # fmt: skip
    endpoint = {
        "host": HOSTILE, "method": "GET", "template": HOSTILE, "kind": "page", "requests": 3, "by_verdict": {},
        "by_action": {}, "mitigated": 0, "statuses": {"200": 3}, "query_parameters": [HOSTILE], "first_seen": 1.0,
        "last_seen": 2.0, "per_minute": [[60, 3]], "new": True, "found_by_bots_first": False, "protected_by": [],
    }  # fmt: skip
    decision = {
        "time": 1.0, "client_ip": HOSTILE, "fingerprint": HOSTILE, "username": HOSTILE, "method": "GET",
        "path": HOSTILE, "action": "block", "verdict": "bot", "score": 90, "reasons": [HOSTILE], "policy": HOSTILE,
        "shadow": False,
    }  # fmt: skip
    transaction = {
        "time": 1.0, "transaction": HOSTILE, "risk": 80, "reasons": [HOSTILE], "campaign": HOSTILE,
        "client_ip": HOSTILE, "fingerprint": HOSTILE, "method": HOSTILE, "path": HOSTILE, "action": "allow",
    }  # fmt: skip
    mitigation = {
        "id": HOSTILE, "state": "live", "pinned": False, "tells": [HOSTILE], "hits": 3, "shadow_hits": 1,
        "collateral": 0, "spared": 0, "created": 1.0, "expires": 2.0,
        "evidence": {"requests": 20, "addresses": 9, "paths": [HOSTILE]},
    }  # fmt: skip
    screens = [
        pages.accounts([account], [account], 1),
        pages.transactions([transaction], 1),
        pages.mitigations([mitigation], HOSTILE),
        pages.bots([campaign]),
        pages.discover([endpoint], 1, 2000, 120.0),
        pages.decisions({"username": HOSTILE}, [decision]),
        pages.login(HOSTILE, HOSTILE, False, "0"),
        pages.layout("bots", HOSTILE, "", "0", False, (HOSTILE,), HOSTILE, (("/", "overview", "Overview"),)),
    ]
    for html in screens:
        assert HOSTILE not in html
        assert _markup(html) <= {"script"}  # only the layout's own <script src=...> tags
        assert "&lt;script&gt;" in html
    # And no screen carries inline script or a style attribute (the Content-Security-Policy would block them).
    for html in screens:
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
        assert " style=" not in html
