"""A cookie holder's response tells botwall nothing it uses, so botwall ends the stream after the request's answer and
Envoy lets the response through without botwall's answer; a page without the cookie, and every login, still get their
response phase (the cookie to hand out, the login's outcome). Checked through real Envoy, fail-closed (a stream Envoy
took for broken would be a 500), with Envoy's own ext_proc counters: `stream_msgs_received`, the answers botwall gave
(Envoy may still send the response headers into a stream botwall has closed, when the upstream answers before Envoy
has seen the close: `stream_msgs_sent` races, and botwall never reads that message). Learning the shape of answers
(`botwall.deception`) keeps a sampled request's stream open for its response, and its body: off here but in the
last test, which counts what sampling costs."""

from __future__ import annotations

import itertools
import json
import urllib.request

from botwall.lab.testing import LOGIN_CONFIG

from .conftest import BROWSER_HEADERS, StackFactory


def _counters(admin_url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{admin_url}/stats?filter=ext_proc.botwall&format=json", timeout=5) as resp:
        stats = json.load(resp)["stats"]
    return {s["name"].rsplit(".", 1)[1]: int(s["value"]) for s in stats if "value" in s}


NOT_LEARNING = LOGIN_CONFIG + "\ndeception: {learn: false}\n"


def test_a_cookie_holders_page_is_answered_in_one_message(make_stack: StackFactory) -> None:
    stack = make_stack(NOT_LEARNING, fail_closed=True)
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


def test_a_sampled_answer_costs_its_response_and_body_messages_only_while_sampled(make_stack: StackFactory) -> None:
    """A person's answers are sampled to learn their shape: a new client's first with its body (a mode override asks
    Envoy for it, as much as it buffered), then headers until `header_samples`, then none (the rates set to 0 here);
    fail-closed, every answer on time."""
    config = LOGIN_CONFIG + "\ndeception: {header_samples: 3, body_samples: 1, sample_rate: 0, body_rate: 0}\n"
    stack = make_stack(config, fail_closed=True)
    first = stack.request("/", headers=BROWSER_HEADERS)
    cookie = next(c for c in first.set_cookies if c.startswith("__bw=")).split(";", 1)[0]
    counts = [_counters(stack.envoy.admin_url)["stream_msgs_received"]]
    for _ in range(4):
        page = stack.request("/", headers=[*BROWSER_HEADERS, ("cookie", cookie)])
        assert page.status == 200
        assert page.body == first.body  # a sampled body goes on to the client untouched
        counts.append(_counters(stack.envoy.admin_url)["stream_msgs_received"])
    # The first page: headers, response headers, response body (a body sample). The first with the cookie: a new
    # client to botwall (its cookie, not its address), a body sample too; the next: headers and response headers (a
    # header sample: the cookie holder's response is otherwise unread); then one answer each.
    assert counts[0] == 3
    assert [b - a for a, b in itertools.pairwise(counts)] == [3, 2, 1, 1]
    after = _counters(stack.envoy.admin_url)
    assert after["streams_failed"] == 0
    assert after["failure_mode_allowed"] == 0
