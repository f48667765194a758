"""A mitigation that follows a campaign, through real Envoy and the real botwall server: a tool rotating its address
and user-agent version, whose header order is its only tell, gets through on scoring alone (on an API whose pages
it has not seen yet) until botwall derives a
mitigation from that tell, watches it in shadow, and puts it live; then every one of its requests is refused while
people browsing with their cookies are not; the admin API lists it with its hits and no collateral, `/metrics`
counts it; the dashboard pins it only with its session's form; revoking it through the API ends its refusals, and
each change is in the audit trail with who made it."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest

from botwall.edge.console import SESSION_COOKIE, Sessions
from botwall.lab.testing import LOGIN_CONFIG, captured_headers

from .conftest import BROWSER_HEADERS, BackgroundShop
from .test_admin import TOKEN, _get, _samples, admin_stack

# Chrome's fetch() headers less its client hints (a kit copying an old capture): its one tell.
TOOL = [
    (n, v) for n, v in captured_headers("chromium-headful", "xhr", "http", "127.0.0.1") if not n.startswith("sec-ch")
]


def _post(port: int, path: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=5) as response:
        answer: dict[str, object] = json.loads(response.read())
        return response.status, answer


def _screen(port: int, path: str, session: str) -> str:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Cookie": session})
    with urllib.request.urlopen(request, timeout=5) as response:
        return str(response.read().decode())


def _form(port: int, path: str, session: str, csrf: str) -> int:
    """A form post from the dashboard's own page (same origin), with this session and a CSRF value."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=urlencode({"csrf": csrf}).encode(), method="POST",
        headers={"Cookie": session, "Origin": f"http://127.0.0.1:{port}",
                 "Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *_: object) -> None:
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_a_rotating_tool_is_followed_then_refused_and_people_are_not(
    shop: BackgroundShop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOTWALL_ADMIN_TOKEN", TOKEN)
    config = LOGIN_CONFIG + "automation: {shadow_seconds: 2, min_requests: 10, min_addresses: 5}\n"
    running = admin_stack(shop, tmp_path, config)
    stack, admin = running.stack, running.admin
    sent = 0

    def tool() -> int:
        nonlocal sent
        sent += 1
        version = f"Chrome/{120 + sent % 30}.0.{1000 + sent}.{sent % 90}"
        headers = [(n, re.sub(r"Chrome/[0-9.]+", version, v) if n == "user-agent" else v) for n, v in TOOL]
        headers.append(("x-forwarded-for", f"73.{sent % 250}.{sent // 250}.{sent % 200 + 1}"))
        return stack.request(f"/api/products/{sent % 8 + 1}", headers=headers).status

    try:
        before = [tool() for _ in range(12)]  # the tell-set is followed from here
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and before[-1] != 403:
            time.sleep(0.2)
            before.append(tool())
        assert before[-1] == 403
        print(
            [
                (d["score"], d["reasons"], d["action"])
                for d in json.loads(_get(admin, "/api/v1/decisions?limit=30", TOKEN)[1])["decisions"]
            ][::-1][:6]
        )
        assert before.count(200) >= 0.8 * len(before)  # scoring alone let it through until then

        after = [tool() for _ in range(20)]
        person = [*BROWSER_HEADERS, ("x-forwarded-for", "198.51.100.20")]
        page = stack.request("/", headers=person)
        cookie = next(c for c in page.set_cookies if c.startswith("__bw=")).split(";", 1)[0]
        person.append(("cookie", cookie))
        people = [page.status] + [stack.request(f"/products/{n % 8 + 1}", headers=person).status for n in range(9)]
        assert after == [403] * 20
        assert people == [200] * 10

        [row] = json.loads(_get(admin, "/api/v1/mitigations", TOKEN)[1])["mitigations"]
        assert row["state"] == "live"
        assert row["tells"] == ["hdr:chrome-without-client-hints"]
        assert row["hits"] >= 21
        assert row["collateral"] == 0
        samples = _samples(_get(admin, "/metrics", TOKEN)[1])
        assert samples[("botwall_mitigations", (("state", "live"),))] == 1
        assert samples[("botwall_mitigation_refusals_total", ())] == row["hits"]

        # The dashboard: a session without its form's CSRF value changes nothing; with it, the mitigation is pinned.
        session = f"{SESSION_COOKIE}={Sessions(TOKEN).mint()}"
        assert _form(admin, f"/mitigations/{row['id']}/pin", session, "wrong") == 403
        screen = _screen(admin, "/bots", session)
        csrf = re.search(r"name='csrf' value='([^']+)'", screen)
        assert csrf is not None
        assert _form(admin, f"/mitigations/{row['id']}/pin", session, csrf.group(1)) == 303
        [pinned] = json.loads(_get(admin, "/api/v1/mitigations", TOKEN)[1])["mitigations"]
        assert (pinned["state"], pinned["pinned"], pinned["expires"]) == ("live", True, None)

        status, answer = _post(admin, f"/api/v1/mitigations/{row['id']}/revoke", {"by": "soc", "why": "test"})
        assert status == 200
        assert answer["mitigation"]["state"] == "revoked"  # type: ignore[index]
        hits = json.loads(_get(admin, "/api/v1/decisions?reason=mit:campaign-tells&limit=1000", TOKEN)[1])
        for _ in range(10):
            tool()
        again = json.loads(_get(admin, "/api/v1/decisions?reason=mit:campaign-tells&limit=1000", TOKEN)[1])
        assert len(again["decisions"]) == len(hits["decisions"])  # no refusal for its reason since
        audit = json.loads(_get(admin, "/api/v1/audit", TOKEN)[1])["audit"]
        actions = [e["action"] for e in reversed(audit)]
        assert actions == ["mitigation_create", "mitigation_live", "mitigation_pin", "mitigation_revoked"]
        assert audit[0]["by"].startswith("soc (admin API")
        assert audit[1]["by"].startswith("dashboard (session")
        with pytest.raises(urllib.error.HTTPError) as missing:
            _post(admin, f"/api/v1/mitigations/{row['id']}/pin", {})
        assert missing.value.code == 404
    finally:
        running.stop()
