"""botwall's cookie and the challenge, through real Envoy in front of the demo shop: a client that keeps cookies gets
the page one round trip later, a client that drops them is refused, and the token is handed out without touching the
upstream's own cookies. The last test drives real Chromium (Debian's, through playwright-core; `make test-tools`)."""

from __future__ import annotations

import os
import subprocess

import pytest

from .conftest import BROWSER_HEADERS, Stack, StackFactory
from .test_tool_clients import CHROME_UA, CHROMIUM_FLAGS, INSTALL_HINT, PLAYWRIGHT_DIR, REPO, _require, run_json

pytestmark = pytest.mark.integration

# Every page request without the token is challenged, whatever its score: the tests need no bot to trigger it.
CONFIG = """\
model: {scorer: rules}
decision_log: {allow_sample_rate: 1.0}
policies:
  - {name: challenge-all, action: challenge}
"""
VISIT = REPO / "tools" / "capture" / "playwright_visit.cjs"


def _cookie(set_cookie: str) -> str:
    return set_cookie.split(";", 1)[0]


def _with_cookie(headers: list[tuple[str, str]], cookie: str) -> list[tuple[str, str]]:
    return [*headers, ("cookie", cookie)]


def _client(ip: str) -> list[tuple[str, str]]:
    return [*BROWSER_HEADERS, ("x-forwarded-for", ip)]


def _actions(stack: Stack) -> list[tuple[str, str]]:
    return [(d["path"], d["action"]) for d in stack.decisions()]


def test_a_client_that_keeps_the_cookie_gets_the_page(make_stack: StackFactory, shop) -> None:  # type: ignore[no-untyped-def]
    """Challenged once (403, the token, a page that reloads itself); back with the token, the shop answers."""
    stack = make_stack(CONFIG, trusted_hops=1)
    before = len(shop.requests)
    first = stack.request("/products/1", headers=_client("198.51.100.40"))
    assert (403, "no-store") == (first.status, first.headers["cache-control"])
    assert b"http-equiv=refresh content=0" in first.body
    assert 1 == len(first.set_cookies)
    assert first.set_cookies[0].startswith("__bw=")
    assert "HttpOnly" in first.set_cookies[0]
    assert "Max-Age=86400" in first.set_cookies[0]
    assert before == len(shop.requests)  # the upstream never saw the challenged request
    again = stack.request("/products/1", headers=_with_cookie(_client("198.51.100.40"), _cookie(first.set_cookies[0])))
    assert 200 == again.status
    assert b"<h1>" in again.body
    assert [] == again.set_cookies  # a valid token is not handed out again
    # A phone that changed networks keeps its token: from a new address, no new challenge.
    moved = stack.request("/products/2", headers=_with_cookie(_client("203.0.113.9"), _cookie(first.set_cookies[0])))
    assert 200 == moved.status
    assert [("/products/1", "challenge"), ("/products/1", "allow"), ("/products/2", "allow")] == _actions(stack)


def test_a_client_that_drops_cookies_is_refused(make_stack: StackFactory) -> None:
    """Back without the token, or with a token issued to other client software, or forged: refused, not looped."""
    stack = make_stack(CONFIG, trusted_hops=1)
    first = stack.request("/products/3", headers=_client("198.51.100.41"))
    assert 403 == first.status
    assert first.set_cookies
    dropped = stack.request("/products/3", headers=_client("198.51.100.41"))
    assert (403, b"Forbidden\n", []) == (dropped.status, dropped.body, dropped.set_cookies)
    # Another client (a different user-agent, so another fingerprint) replaying the first client's token.
    other = [(n, v.replace("Firefox/", "Firefox/1") if n == "user-agent" else v) for n, v in _client("198.51.100.42")]
    replayed = stack.request("/products/3", headers=_with_cookie(other, _cookie(first.set_cookies[0])))
    assert 403 == replayed.status
    assert replayed.set_cookies
    forged = stack.request(
        "/products/4",
        headers=_with_cookie(_client("198.51.100.43"), "__bw=6b0b658b.AAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA"),
    )
    assert 403 == forged.status
    assert forged.set_cookies
    assert ["challenge", "block", "challenge", "challenge"] == [a for _, a in _actions(stack)]


def test_what_cannot_be_challenged_is_refused(make_stack: StackFactory) -> None:
    """An API call cannot follow a reload, and a tool that names itself is not offered one: both are refused."""
    stack = make_stack(CONFIG, trusted_hops=1)
    api = [(n, "application/json" if n == "accept" else v) for n, v in _client("198.51.100.44")]
    assert 403 == stack.request("/api/products", headers=api).status
    curl = [("user-agent", "curl/8.5.0"), ("accept", "*/*"), ("x-forwarded-for", "198.51.100.45")]
    response = stack.request("/products/1", headers=curl)
    assert (403, []) == (response.status, response.set_cookies)
    assert [("/api/products", "block"), ("/products/1", "block")] == _actions(stack)


def test_the_token_rides_beside_the_upstreams_cookies(make_stack: StackFactory) -> None:
    """With no policy at all, a page's response carries botwall's token; an API response and a 404 do not."""
    stack = make_stack("model: {scorer: rules}\n", trusted_hops=1)
    page = stack.request("/", headers=_client("198.51.100.46"))
    assert 200 == page.status
    assert ["__bw"] == [_cookie(c).split("=")[0] for c in page.set_cookies]
    api = [(n, "application/json" if n == "accept" else v) for n, v in _client("198.51.100.46")]
    assert [] == stack.request("/api/products", headers=api).set_cookies
    assert [] == stack.request("/products/99999", headers=_client("198.51.100.46")).set_cookies
    off = make_stack("model: {scorer: rules}\nclient_cookie: {issue: false}\n", trusted_hops=1)
    assert [] == off.request("/", headers=_client("198.51.100.47")).set_cookies


def test_chromium_passes_the_challenge(make_stack: StackFactory) -> None:
    """Real Chromium (a desktop user-agent) is challenged on its first page and lands on the shop's page by itself;
    its fetch() from that page carries the token and is let through."""
    chromium = _require("chromium")
    node = _require("node")
    if not (PLAYWRIGHT_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.fail(f"playwright-core is not installed in {PLAYWRIGHT_DIR}: {INSTALL_HINT}")
    stack = make_stack(CONFIG)
    base = f"http://127.0.0.1:{stack.envoy.ports['http']}"
    argv = [node, str(VISIT), f"{base}/products/1", f"{base}/api/products", f"--user-agent={CHROME_UA}"]
    argv += [f"--arg={flag}" for flag in CHROMIUM_FLAGS]
    env = {**os.environ, "PLAYWRIGHT_DIR": str(PLAYWRIGHT_DIR), "CHROMIUM": chromium}
    try:
        out = run_json(argv, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail("Chromium did not finish within two minutes")
    assert ([403, 200], ["__bw"], 200) == (out["statuses"], out["cookies"], out["api"]), out
    assert "Trailhead Supply" in out["title"]
    # The page's stylesheet, script and favicon are let through too (with the token); only the two requests matter.
    main = [(p, a) for p, a in _actions(stack) if p in ("/products/1", "/api/products")]
    assert [("/products/1", "challenge"), ("/products/1", "allow"), ("/api/products", "allow")] == main
