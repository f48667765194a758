"""Alert triggers through real Envoy and a real HTTP receiver on a free loopback port: a stuffing campaign fires
"accounts under attack" and "failed-login surge" within their windows, every delivery's signature verifies, the
receiver that fails twice gets the third try, and each alert is a line in the decision log."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from botwall.edge.alerts import verify
from botwall.lab.testing import LOGIN_CONFIG

from .conftest import BROWSER_HEADERS, BackgroundShop
from .test_admin import TOKEN, _get, _samples, admin_stack

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
        stuffer = [*BROWSER_HEADERS, ("content-type", "application/json"), ("x-forwarded-for", "203.0.113.88")]
        statuses = []
        for n in range(8):
            body = json.dumps({"username": f"victim{n}@mail.example", "password": f"Leaked-{n}!"}).encode()
            statuses.append(stack.request("/api/login", method="POST", headers=stuffer, body=body).status)
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
