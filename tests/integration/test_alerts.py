"""Alert triggers through real Envoy and a real HTTP receiver on a free loopback port: a stuffing campaign fires
"accounts under attack" and "failed-login surge" within their windows, every delivery's signature verifies, the
receiver that fails twice gets the third try, and each alert is a line in the decision log; a bad-bot share fires for
its endpoint alone; a delivery pending at a restart is delivered by the next process; and a dead receiver does not
slow the requests botwall judges."""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from botwall.edge.alerts import verify
from botwall.lab.testing import LOGIN_CONFIG

from .conftest import BROWSER_HEADERS, BackgroundShop, Stack, free_port
from .test_admin import TOKEN, AdminStack, _get, _samples, admin_stack

KEY = "webhook-signing-key-for-tests"


class Receiver(ThreadingHTTPServer):
    """A webhook receiver that answers 500 to its first `failures` deliveries, then 204."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts: list[tuple[dict[str, str], bytes]] = []
        self.accepted: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.attempts.append((headers, body))
                ok = len(receiver.attempts) > receiver.failures
                if ok:
                    receiver.accepted.append((headers, body))
                self.send_response(204 if ok else 500)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


def _stuff(stack: Stack, count: int, address: str = "203.0.113.88", start: int = 0) -> list[int]:
    """A stuffer's login attempts with leaked credentials through Envoy; their statuses."""
    stuffer = [*BROWSER_HEADERS, ("content-type", "application/json"), ("x-forwarded-for", address)]
    statuses = []
    for n in range(start, start + count):
        body = json.dumps({"username": f"victim{n}@mail.example", "password": f"Leaked-{n}!"}).encode()
        statuses.append(stack.request("/api/login", method="POST", headers=stuffer, body=body).status)
    return statuses


def _until(condition: Callable[[], object], seconds: float = 20.0) -> None:
    """Wait until `condition()` holds (polled every 0.1 s), failing after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.1)


def _alerts_api(admin: int) -> dict[str, list[dict[str, object]]]:
    result: dict[str, list[dict[str, object]]] = json.loads(_get(admin, "/api/v1/alerts", TOKEN)[1])
    return result


def test_a_stuffing_campaign_fires_its_alerts_to_a_signed_webhook(
    shop: BackgroundShop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Receiver(failures=2)
    monkeypatch.setenv("HOOK_KEY", KEY)
    monkeypatch.setenv("BOTWALL_ADMIN_TOKEN", TOKEN)
    config = tmp_path / "botwall.yaml"
    config.write_text(
        "model: {scorer: rules}\n" + LOGIN_CONFIG + "alerts:\n"
        "  triggers:\n"
        "    - {name: failed-login-surge, kind: failed_logins, threshold: 3, window_seconds: 30}\n"
        "    - {name: accounts-under-attack, kind: accounts_under_attack, threshold: 2}\n"
        "  webhooks:\n"
        f"    - {{name: soc, url: 'http://127.0.0.1:{receiver.server_port}/hook', secret_env: HOOK_KEY}}\n"
    )
    running = admin_stack(shop, tmp_path, None, "--config", str(config), "--alert-interval", "0.3")
    stack, admin, botwall = running.stack, running.admin, running.stack.botwall
    assert botwall is not None
    try:
        statuses = _stuff(stack, 8)
        assert statuses[:3] == [401] * 3
        assert 403 in statuses  # refused from the fourth or so
        deadline = time.monotonic() + 30  # two failed tries back off 1 s and 2 s before the third
        while time.monotonic() < deadline and len({json.loads(b)["alert"] for _, b in receiver.accepted}) < 2:
            time.sleep(0.2)
        events = [json.loads(body) for _, body in receiver.accepted]
        assert {e["alert"] for e in events} == {"failed-login-surge", "accounts-under-attack"}
        assert all(e["state"] == "firing" for e in events)
        for headers, body in receiver.attempts:
            assert verify(KEY, headers["x-botwall-timestamp"], body, headers["x-botwall-signature"], time.time())
        first = receiver.attempts[0][1]
        assert [b for _, b in receiver.attempts[:3]] == [first] * 3  # the first event: two failures, then delivered
        samples = _samples(_get(admin, "/metrics", TOKEN)[1])
        assert samples[("botwall_webhook_deliveries_total", (("result", "failed_attempt"), ("webhook", "soc")))] == 2
        assert samples[("botwall_alerts_fired_total", (("trigger", "failed-login-surge"),))] == 1
        state = json.loads(_get(admin, "/api/v1/alerts", TOKEN)[1])
        assert {t["name"]: t["firing"] for t in state["triggers"]} == {
            "failed-login-surge": True, "accounts-under-attack": True,
        }  # fmt: skip
    finally:
        running.stop()
        receiver.shutdown()
    alert_lines = [line for line in botwall.log_path.read_text().splitlines() if '"event": "alert"' in line]
    assert len(alert_lines) >= 2


ALERTS_CONFIG = "model: {scorer: rules}\n" + LOGIN_CONFIG + "alerts:\n  triggers:\n"


def test_a_bad_bot_share_fires_for_its_endpoint_alone(
    shop: BackgroundShop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tool refused on the products API is a bad-bot share there: one event names that endpoint (host, method,
    template), while people on the product pages and a single refused request elsewhere (under min_requests) fire
    nothing."""
    receiver = Receiver(failures=0)
    monkeypatch.setenv("BOTWALL_ADMIN_TOKEN", TOKEN)
    config = (
        ALERTS_CONFIG
        + "    - {name: bad-bots, kind: endpoint_bot_share, threshold: 50, window_seconds: 60, min_requests: 5}\n"
        "  webhooks:\n"
        f"    - {{name: soc, url: 'http://127.0.0.1:{receiver.server_port}/hook'}}\n"
    )
    running = admin_stack(shop, tmp_path, config, "--alert-interval", "0.3")
    stack, admin = running.stack, running.admin
    try:
        people = [
            stack.request(f"/products/{n % 3 + 1}", headers=[*BROWSER_HEADERS, ("x-forwarded-for", f"198.51.100.{n}")])
            for n in range(8)
        ]
        tool = [("user-agent", "python-requests/2.32.3"), ("accept", "*/*"), ("x-forwarded-for", "203.0.113.9")]
        bots = [stack.request("/api/products", headers=tool).status for _ in range(6)]
        single = stack.request("/api/cart", headers=tool).status
        assert [200] * 8 == [r.status for r in people]
        assert [403] * 6 == bots
        assert single == 403
        _until(lambda: receiver.accepted)
        time.sleep(1.0)  # three more rounds: nothing else fires
        events = [json.loads(body) for _, body in receiver.accepted]
        assert [("bad-bots", "firing", {"host": "127.0.0.1", "method": "GET", "template": "/api/products"})] == [
            (e["alert"], e["state"], e["endpoint"]) for e in events
        ]
        assert (100.0, 6) == (events[0]["value"], events[0]["requests"])
        (state,) = _alerts_api(admin)["triggers"]
        assert (True, 1) == (state["firing"], state["fired"])
    finally:
        running.stop()
        receiver.shutdown()


def test_a_delivery_pending_at_a_restart_reaches_the_next_receiver(
    shop: BackgroundShop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --state-dir, a firing whose receiver was down when botwall stopped (SIGTERM) is queued again by the next
    process and delivered, the same event by id, and the admin API still lists it."""
    monkeypatch.setenv("BOTWALL_ADMIN_TOKEN", TOKEN)
    state = tmp_path / "state"
    trigger = "    - {name: failed-login-surge, kind: failed_logins, threshold: 3, window_seconds: 30}\n"

    def config(port: int) -> str:
        return ALERTS_CONFIG + trigger + f"  webhooks:\n    - {{name: soc, url: 'http://127.0.0.1:{port}/hook'}}\n"

    args = ("--alert-interval", "0.3", "--state-dir", str(state))
    first = admin_stack(shop, tmp_path / "first", config(free_port()), *args)  # nothing listens there
    try:
        assert [401] * 3 == _stuff(first.stack, 3)
        _until(lambda: _alerts_api(first.admin)["webhooks"][0]["failed_attempts"])
        (fired,) = _alerts_api(first.admin)["events"]
    finally:
        first.stop()
    receiver = Receiver(failures=0)
    second = admin_stack(shop, tmp_path / "second", config(receiver.server_port), *args)
    try:
        _until(lambda: receiver.accepted)
        delivered = json.loads(receiver.accepted[0][1])
        assert (fired["id"], "failed-login-surge", "firing") == (
            delivered["id"],
            delivered["alert"],
            delivered["state"],
        )
        assert fired["id"] in [e["id"] for e in _alerts_api(second.admin)["events"]]
    finally:
        second.stop()
        receiver.shutdown()


def test_a_dead_receiver_does_not_slow_the_requests_botwall_judges(
    shop: BackgroundShop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same stuffing burst through real Envoy, which fires the alerts as it goes, once with no webhook and once with
    a receiver that accepts the connection and never answers plus one whose port is closed: each request's answer
    time, seen by the client, stays within 3 times the run without webhooks (median), none waits for the 5-second
    delivery timeout, and the failed attempts are counted in /metrics."""
    monkeypatch.setenv("BOTWALL_ADMIN_TOKEN", TOKEN)
    silent = socket.socket()  # accepts TCP connections into its backlog, never reads or answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    triggers = (
        "    - {name: failed-login-surge, kind: failed_logins, threshold: 3, window_seconds: 30}\n"
        "    - {name: accounts-under-attack, kind: accounts_under_attack, threshold: 2}\n"
        "    - {name: refusals, kind: mitigation_rate, threshold: 2, window_seconds: 30}\n"
    )
    hooks = (
        "  webhooks:\n"
        f"    - {{name: silent, url: 'http://127.0.0.1:{silent.getsockname()[1]}/hook'}}\n"
        f"    - {{name: closed, url: 'http://127.0.0.1:{free_port()}/hook'}}\n"
    )

    def burst(running: AdminStack) -> list[float]:
        """150 rounds of a stuffing attempt and a person's page, each timed; the triggers fire during it."""
        times, refused = [], []
        began = time.time()
        for n in range(150):
            started = time.perf_counter()
            refused += _stuff(running.stack, 1, start=n)
            headers = [*BROWSER_HEADERS, ("x-forwarded-for", f"198.51.100.{n}")]
            assert running.stack.request(f"/products/{n % 3 + 1}", headers=headers).status == 200
            times.append(time.perf_counter() - started)
        ended = time.time()
        # Judged by botwall, every one: Envoy lets a request through unjudged when botwall is slower than its message
        # timeout (fail-open), so a stalled botwall would show as a stuffing attempt reaching the shop (401).
        assert [403] * 142 == refused[8:]
        state = _alerts_api(running.admin)
        assert all(t["firing"] for t in state["triggers"])
        assert min(float(str(e["time"])) for e in state["events"]) < (began + ended) / 2  # in the burst's first half
        return times

    quiet = admin_stack(shop, tmp_path / "baseline", ALERTS_CONFIG + triggers, "--alert-interval", "0.2")
    try:
        baseline = burst(quiet)
    finally:
        quiet.stop()
    dead = admin_stack(shop, tmp_path / "dead", ALERTS_CONFIG + triggers + hooks, "--alert-interval", "0.2")
    try:
        with_dead = burst(dead)
        ratio = statistics.median(with_dead) / statistics.median(baseline)
        assert ratio < 3, (statistics.median(with_dead), statistics.median(baseline))
        assert max(with_dead) < 5.0  # no request waited for a delivery's timeout

        def failed() -> dict[str, float]:
            samples = _samples(_get(dead.admin, "/metrics", TOKEN)[1])
            return {
                hook: samples[("botwall_webhook_deliveries_total", (("result", "failed_attempt"), ("webhook", hook)))]
                for hook in ("silent", "closed")
            }

        _until(lambda: all(failed().values()), 15)  # the silent one's first attempt times out after 5 s
    finally:
        dead.stop()
        silent.close()
