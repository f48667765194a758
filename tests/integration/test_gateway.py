"""End to end over real HTTP: real Envoy 1.40, `botwall serve`, the demo shop, on ephemeral loopback ports."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time

import pytest

from .conftest import BROWSER_HEADERS, Response, StackFactory

pytestmark = pytest.mark.integration

# These tests pin the rule scorer: they assert its exact weights (the model's scores are the subject of
# test_simulated_traffic and of the default-stack tests).
CONFIG = """
model: {scorer: rules}
decision_log: {allow_sample_rate: 1.0}
policies:
  - name: trap
    match: {path: {prefix: /wp-login.php}}
    action: deceive
    deceive:
      content_type: text/html; charset=utf-8
      body: "<!doctype html><title>Log In</title><form method=post><input name=log></form>"
  - name: admin-block
    match: {path: {prefix: /admin}}
    action: block
  - name: login-throttle
    match: {path: {exact: /api/login}, methods: [POST]}
    action: throttle
    throttle: {key: ip, rate_per_second: 0.5, burst: 2}
  - name: trial-block
    match: {path: {prefix: /_echo/trial}}
    action: block
    shadow: true
  - name: bots
    min_score: 70
    action: block
"""


def _echo_headers(response: Response) -> dict[str, str]:
    assert 200 == response.status, response.body
    return dict(response.json()["headers"])


def test_tags_reach_upstream_and_spoofed_tags_do_not(make_stack: StackFactory) -> None:
    """The upstream sees botwall's four tags with botwall's values, never the client's x-botwall-* headers."""
    stack = make_stack(CONFIG)
    spoofed = [*BROWSER_HEADERS, ("x-botwall-score", "0"), ("x-botwall-verdict", "human"), ("x-botwall-vip", "1")]
    seen = _echo_headers(stack.request("/_echo", headers=spoofed))
    assert "x-botwall-vip" not in seen
    assert ("0", "human", "") == (seen["x-botwall-score"], seen["x-botwall-verdict"], seen["x-botwall-reasons"])
    assert re.fullmatch(r"[0-9a-f]{16}", seen["x-botwall-fingerprint"])
    # Firefox's headers without accept-language and fetch metadata: a browser claim that does not add up.
    partial = [(n, v) for n, v in BROWSER_HEADERS if n != "accept-language" and not n.startswith("sec-fetch")]
    suspect = _echo_headers(stack.request("/_echo", headers=[*partial, ("x-botwall-score", "0")]))
    assert ("45", "suspect") == (suspect["x-botwall-score"], suspect["x-botwall-verdict"])
    assert "hdr:missing-accept-language,hdr:browser-without-sec-fetch" == suspect["x-botwall-reasons"]


def test_blocked_route_gets_403_and_bot_is_blocked(make_stack: StackFactory, shop) -> None:  # type: ignore[no-untyped-def]
    """A block policy answers 403 from botwall; curl's UA is blocked by score; the human passes."""
    stack = make_stack(CONFIG)
    before = len(shop.requests)
    blocked = stack.request("/admin/users")
    bot = stack.request("/api/products", headers=[("user-agent", "python-requests/2.32.3"), ("accept", "*/*")])
    human = stack.request("/api/products")
    assert (403, b"Forbidden\n") == (blocked.status, blocked.body)
    assert 403 == bot.status
    assert 200 == human.status
    assert ["/api/products"] == [r["path"] for r in list(shop.requests)[before:]]


def test_throttle_429_with_retry_after_then_recovers(make_stack: StackFactory) -> None:
    """Two logins pass, the third gets 429 with Retry-After, and after the refill a login passes again."""
    stack = make_stack(CONFIG)
    body = b'{"username": "alice", "password": "wrong"}'
    headers = [*BROWSER_HEADERS, ("content-type", "application/json")]
    statuses = [stack.request("/api/login", method="POST", headers=headers, body=body) for _ in range(3)]
    assert [401, 401, 429] == [r.status for r in statuses]
    # One token every 2 s: a loaded machine may have refilled part of one already.
    assert statuses[2].headers["retry-after"] in ("1", "2")
    time.sleep(2.1)
    again = stack.request("/api/login", method="POST", headers=headers, body=body)
    assert 401 == again.status


def test_deceive_returns_synthesized_page_and_upstream_never_sees_it(make_stack: StackFactory, shop) -> None:  # type: ignore[no-untyped-def]
    """The honeytrap answers 200 with the configured body and a matching content-length; the shop sees nothing."""
    stack = make_stack(CONFIG)
    before = len(shop.requests)
    response = stack.request("/wp-login.php", headers=[("user-agent", "curl/8.5.0")])
    expected = b"<!doctype html><title>Log In</title><form method=post><input name=log></form>"
    assert (200, expected) == (response.status, response.body)
    assert str(len(expected)) == response.headers["content-length"]
    assert "text/html; charset=utf-8" == response.headers["content-type"]
    assert [] == list(shop.requests)[before:]


def test_shadow_policy_logs_but_does_not_enforce(make_stack: StackFactory) -> None:
    """A shadowed block policy lets the request through, tags it, and logs the shadow decision."""
    stack = make_stack(CONFIG)
    seen = _echo_headers(stack.request("/_echo/trial"))
    assert "block-shadow" == seen["x-botwall-action"]
    decision = [d for d in stack.decisions() if d["policy"] == "trial-block"][-1]
    assert ("block", True, False) == (decision["action"], decision["shadow"], decision["enforced"])


def test_global_shadow_mode_enforces_nothing(make_stack: StackFactory) -> None:
    """With global shadow mode a bot, a blocked route and the honeytrap all reach the upstream, and are logged."""
    stack = make_stack("shadow: true\n" + CONFIG)
    curl = [("user-agent", "curl/8.5.0")]
    statuses = [stack.request(p, headers=curl).status for p in ("/_echo", "/admin", "/wp-login.php")]
    assert [200, 404, 404] == statuses
    logged = {(d["policy"], d["action"], d["shadow"], d["enforced"]) for d in stack.decisions()}
    assert {
        ("bots", "block", True, False),
        ("admin-block", "block", True, False),
        ("trap", "deceive", True, False),
    } <= logged


def _wait_for_access_log(stack, path: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Envoy flushes its access log about once a second: poll for the entry of `path`."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for entry in stack.access_log():
            if entry["path"] == path:
                return entry  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError(f"no access log entry for {path}")


def test_decision_reaches_envoy_access_log_as_dynamic_metadata(make_stack: StackFactory) -> None:
    """Envoy's access log carries botwall's verdict, action and policy from dynamic metadata."""
    stack = make_stack(CONFIG)
    stack.request("/admin")
    stack.request("/")
    by_path = {path: _wait_for_access_log(stack, path) for path in ("/admin", "/")}
    assert ("block", "admin-block", "botwall_block", 403) == (
        by_path["/admin"]["botwall_action"],
        by_path["/admin"]["botwall_policy"],
        by_path["/admin"]["details"],
        by_path["/admin"]["status"],
    )
    assert ("allow", "human", 200) == (
        by_path["/"]["botwall_action"],
        by_path["/"]["botwall_verdict"],
        by_path["/"]["status"],
    )


def test_fail_open_passes_requests_when_botwall_is_down(make_stack: StackFactory) -> None:
    """Fail-open (the default): with botwall stopped, requests reach the upstream, untagged."""
    stack = make_stack(CONFIG)
    assert stack.botwall is not None
    stack.botwall.stop()
    response = stack.request("/_echo", headers=[("user-agent", "curl/8.5.0")])
    assert "x-botwall-score" not in _echo_headers(response)


def test_fail_closed_refuses_requests_when_botwall_is_down(make_stack: StackFactory) -> None:
    """Fail-closed: with botwall stopped, Envoy answers 500 and the upstream sees nothing."""
    stack = make_stack(CONFIG, fail_closed=True)
    assert 200 == stack.request("/_echo").status
    assert stack.botwall is not None
    stack.botwall.stop()
    before = len(stack.shop.requests)
    assert 500 == stack.request("/_echo").status
    assert before == len(stack.shop.requests)


def test_ja4_reaches_botwall_over_tls_from_real_curl(make_stack: StackFactory) -> None:
    """Real curl over TLS: botwall's decision carries the JA4 Envoy computed, the same one Envoy logs."""
    curl = shutil.which("curl")
    if curl is None:
        pytest.fail("curl is needed for this test (Debian package curl)")
    stack = make_stack(CONFIG, tls=True)
    url = f"https://127.0.0.1:{stack.envoy.ports['https']}/admin/ja4-probe"
    # A spoofed header must not be mistaken for the fingerprint.
    result = subprocess.run(
        [curl, "-sk", "-o", "/dev/null", "-w", "%{http_code}", "-H", "x-ja4: spoofed", url],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "403" == result.stdout
    decision = next(d for d in stack.decisions() if d["path"] == "/admin/ja4-probe")
    # t13: TLS 1.3; i: no SNI (an IP was dialled); then cipher and extension counts, ALPN, two hashes.
    assert re.fullmatch(r"t1[23][di]\d{4}(h2|h1|00)_[0-9a-f]{12}_[0-9a-f]{12}", decision["ja4"]), decision["ja4"]
    logged = _wait_for_access_log(stack, "/admin/ja4-probe")
    assert decision["ja4"] == logged["ja4"]
    plain = stack.request("/admin/plain")
    assert 403 == plain.status
    assert "" == next(d for d in stack.decisions() if d["path"] == "/admin/plain")["ja4"]


def test_trusted_hops_take_client_ip_from_forwarded_for(make_stack: StackFactory) -> None:
    """With one trusted hop the client IP comes from X-Forwarded-For; with none a forged header is ignored."""
    spoof = [*BROWSER_HEADERS, ("x-forwarded-for", "203.0.113.50")]
    trusting = make_stack(CONFIG, trusted_hops=1)
    trusting.request("/admin/hop", headers=spoof)
    assert "203.0.113.50" == next(d for d in trusting.decisions() if d["path"] == "/admin/hop")["client_ip"]
    strict = make_stack(CONFIG)
    strict.request("/admin/hop", headers=spoof)
    assert "127.0.0.1" == next(d for d in strict.decisions() if d["path"] == "/admin/hop")["client_ip"]


def test_graceful_shutdown_lets_in_flight_request_finish(make_stack: StackFactory) -> None:
    """SIGTERM to botwall mid-request: the in-flight request still completes, and botwall exits cleanly."""
    stack = make_stack(CONFIG)
    assert stack.botwall is not None
    results: list[Response] = []
    slow = threading.Thread(target=lambda: results.append(stack.request("/_slow?ms=1500")))
    slow.start()
    time.sleep(0.5)
    stack.botwall.proc.terminate()
    slow.join(15)
    assert 0 == stack.botwall.proc.wait(15)
    assert [200] == [r.status for r in results]
    assert {"slept_ms": 1500} == results[0].json()


def test_malformed_config_fails_with_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`botwall serve` and `botwall check-config` refuse a bad config naming the file, the key and the expectation."""
    import sys

    bad = tmp_path / "bad.yaml"
    bad.write_text("policies:\n  - name: x\n    action: throttle\n    throttle: {rate_per_second: -1}\n")
    for args in (["serve", "--config", str(bad), "--listen", "127.0.0.1:0"], ["check-config", str(bad)]):
        result = subprocess.run([sys.executable, "-m", "botwall", *args], capture_output=True, text=True, timeout=30)
        assert 2 == result.returncode
        assert (
            f"botwall: invalid config: {bad}: policies[0].throttle.rate_per_second: "
            "expected a number from 0.001 to 1000000.0, got -1\n"
        ) == result.stderr


def test_bad_data_file_fails_with_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A reputation list with a malformed line stops `botwall check-config` and `serve`, naming file and line."""
    import sys

    (tmp_path / "bad-ips.txt").write_text("203.0.113.0/24\nnot-an-ip\n")
    config = tmp_path / "botwall.yaml"
    config.write_text("ip_data:\n  reputation_lists:\n    - {path: bad-ips.txt, reputation: bad}\n")
    for args in (["check-config", str(config)], ["serve", "--config", str(config), "--listen", "127.0.0.1:0"]):
        result = subprocess.run([sys.executable, "-m", "botwall", *args], capture_output=True, text=True, timeout=60)
        assert 2 == result.returncode, result.stderr
        assert result.stderr.startswith(f"botwall: invalid config: {tmp_path / 'bad-ips.txt'}: line 2"), result.stderr
