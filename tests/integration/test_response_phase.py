"""A cookie holder's response tells botwall nothing it uses, so botwall ends the stream after the request's answer and
Envoy lets the response through without botwall's answer; a page without the cookie, and every login, still get their
response phase (the cookie to hand out, the login's outcome). Checked through real Envoy, fail-closed (a stream Envoy
took for broken would be a 500), with Envoy's own ext_proc counters: `stream_msgs_received`, the answers botwall gave
(Envoy may still send the response headers into a stream botwall has closed, when the upstream answers before Envoy
has seen the close: `stream_msgs_sent` races, and botwall never reads that message)."""

from __future__ import annotations

import json
import urllib.request

from botwall.lab.testing import LOGIN_CONFIG

from .conftest import BROWSER_HEADERS, StackFactory


def _counters(admin_url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{admin_url}/stats?filter=ext_proc.botwall&format=json", timeout=5) as resp:
        stats = json.load(resp)["stats"]
    return {s["name"].rsplit(".", 1)[1]: int(s["value"]) for s in stats if "value" in s}


def test_a_cookie_holders_page_is_answered_in_one_message(make_stack: StackFactory) -> None:
    stack = make_stack(LOGIN_CONFIG, fail_closed=True)
    first = stack.request("/", headers=BROWSER_HEADERS)
    cookie = next(c for c in first.set_cookies if c.startswith("__bw=")).split(";", 1)[0]
    before = _counters(stack.envoy.admin_url)
    assert before["stream_msgs_received"] == 2  # the first page: its headers, its response (which got the cookie)
    pages = [stack.request("/", headers=[*BROWSER_HEADERS, ("cookie", cookie)]) for _ in range(5)]
    assert [page.status for page in pages] == [200] * 5
    assert all(page.body == first.body for page in pages)  # the upstream's page, untouched
    assert not any(c.startswith("__bw=") for page in pages for c in page.set_cookies)
    after = _counters(stack.envoy.admin_url)
    assert after["stream_msgs_received"] - before["stream_msgs_received"] == 5  # one answer per request
    assert after["streams_failed"] == 0
    assert after["failure_mode_allowed"] == 0

    # A login by the same cookie holder still has its outcome read: headers, body, response.
    body = json.dumps({"username": "alice@example.com", "password": "wrong-password-1"}).encode()
    login_headers = [*BROWSER_HEADERS, ("cookie", cookie), ("content-type", "application/json")]
    login = stack.request("/api/login", method="POST", headers=login_headers, body=body)
    assert login.status == 401
    final = _counters(stack.envoy.admin_url)
    assert final["stream_msgs_received"] - after["stream_msgs_received"] == 3
    assert final["streams_failed"] == 0
