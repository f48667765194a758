"""Event mode through a real Envoy and the admin API: an event defined and started over the API makes its endpoints
stricter at once (a page view without botwall's cookie is challenged, a second add-to-cart within the quota is
throttled) and nothing else; stopping it restores the usual answers; every change is in the audit trail and the
expected load in `/metrics`; the session cookie never authorises a change."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from botwall.lab.testing import captured_headers

from .conftest import BackgroundShop
from .test_admin import TOKEN, _get, _samples, admin_stack

pytestmark = pytest.mark.integration

BROWSER = captured_headers("firefox-headless", "navigation", "http", "127.0.0.1")
XHR = captured_headers("firefox-headless", "xhr", "http", "127.0.0.1")
DROP = {
    "name": "spring-drop",
    "endpoints": [{"path": {"prefix": "/products/"}}, {"path": {"exact": "/api/products"}}],
    "expected_rps": 250,
    "quotas": [{"match": {"path": {"exact": "/api/products"}}, "key": "token", "requests": 1, "per_seconds": 30}],
}


def _post(port: int, path: str, body: object, token: str | None = TOKEN, cookie: str = "") -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if cookie:
        headers["Cookie"] = cookie
    data = json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_an_event_started_over_the_api_makes_its_endpoints_stricter(
    shop: BackgroundShop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOTWALL_ADMIN_TOKEN", TOKEN)
    running = admin_stack(shop, tmp_path, None)
    stack, admin = running.stack, running.admin
    person = [*BROWSER, ("x-forwarded-for", "73.162.10.20")]
    try:
        assert stack.request("/products/1", headers=person).status == 200  # before: a person's first page passes
        status, body = _post(admin, "/api/v1/events", {"event": {"name": "x", "endpoints": []}})
        assert status == 400
        assert "event.endpoints" in body["error"]
        assert _post(admin, "/api/v1/events", {"event": DROP}, token=None)[0] == 401
        status, body = _post(admin, "/api/v1/events", {"event": DROP, "start_minutes": 30, "by": "alice@soc",
                                                         "why": "the spring drop"})  # fmt: skip
        assert status == 200
        assert (body["event"]["state"], body["event"]["expected_rps"]) == ("running", 250.0)

        newcomer = [*BROWSER, ("x-forwarded-for", "86.150.3.30")]
        challenged = stack.request("/products/2", headers=newcomer)
        assert challenged.status == 403  # the challenge page, which sets the cookie and reloads itself
        cookie = next(c for c in challenged.set_cookies if c.startswith("__bw=")).split(";", 1)[0]
        back = [*newcomer, ("cookie", cookie)]
        assert stack.request("/products/2", headers=back).status == 200
        assert stack.request("/", headers=newcomer).status == 200  # not one of the event's endpoints
        api = [*XHR, ("x-forwarded-for", "86.150.3.30"), ("cookie", cookie)]
        assert [stack.request("/api/products", headers=api).status for _ in range(2)] == [200, 429]

        samples = _samples(_get(admin, "/metrics", TOKEN)[1])
        assert samples[("botwall_event_expected_rps", ())] == 250.0
        assert samples[("botwall_event_running", (("event", "spring-drop"),))] == 1.0

        # A signed-in dashboard session may look, never change: only the bearer token stops an event.
        assert _post(admin, "/api/v1/events/spring-drop/stop", {}, token=None, cookie="botwall_session=x")[0] == 401
        assert _post(admin, "/api/v1/events/no-such/stop", {})[0] == 404
        status, body = _post(admin, "/api/v1/events/spring-drop/stop", {"by": "bob@soc", "why": "sold out"})
        assert (status, body["event"]["state"]) == (200, "idle")
        other = [*BROWSER, ("x-forwarded-for", "73.162.10.40")]
        assert stack.request("/products/3", headers=other).status == 200  # after: as before
        deadline = time.monotonic() + 5
        audit = json.loads(_get(admin, "/api/v1/audit", TOKEN)[1])["audit"]
        while len(audit) < 3 and time.monotonic() < deadline:
            audit = json.loads(_get(admin, "/api/v1/audit", TOKEN)[1])["audit"]
        assert [(a["action"], a["by"].split(" ")[0], a["why"]) for a in audit] == [
            ("event_stop", "bob@soc", "sold out"), ("event_start", "alice@soc", "the spring drop"),
            ("event_define", "alice@soc", "the spring drop"),
        ]  # fmt: skip
        assert "event:spring-drop:quota:0" in audit[1]["changed"]["policies"]

        # The command line does the same through the API (once per worker or replica named).
        url = f"http://127.0.0.1:{admin}"
        cli = [sys.executable, "-m", "botwall", "event"]
        started = subprocess.run([*cli, "start", "spring-drop", "--minutes", "5", "--why", "again", "--admin", url],
                                 capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
        assert started.returncode == 0, started.stderr
        assert "spring-drop" in started.stdout
        assert " running " in started.stdout
        listed = subprocess.run([*cli, "list", "--admin", url], capture_output=True, text=True, timeout=60, check=False)
        assert re.search(r"spring-drop\s+running\s+until \S+ \S+\s+250 rps", listed.stdout), listed.stdout
        unknown = subprocess.run([*cli, "stop", "no-such", "--admin", url], capture_output=True, text=True,
                                 timeout=60, check=False)  # fmt: skip
        assert (unknown.returncode, "404" in unknown.stderr) == (2, True), unknown.stderr
    finally:
        running.stop()
