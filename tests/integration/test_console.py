"""The dashboard as a person uses it: real Chromium (Debian's, through playwright-core) signs in to a real `botwall
serve` whose traffic came through a real Envoy (people, a scraping tool, a credential stuffer, a path scanner), opens
every screen, and what each screen shows is compared with the admin API's answers fetched in the same session. The
screenshots are written to `$BOTWALL_ARTIFACTS` (default: the test's temporary directory); the README's come from
`BOTWALL_ARTIFACTS=docs/console pytest tests/integration/test_console.py`."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from botwall.lab.testing import LOGIN_CONFIG

from .conftest import BROWSER_HEADERS, BackgroundShop
from .test_admin import TOKEN, _get, admin_stack
from .test_tool_clients import INSTALL_HINT, PLAYWRIGHT_DIR, _require, run_json

pytestmark = pytest.mark.integration

TOUR = Path(__file__).with_name("console_tour.cjs")
# Shadow mode (the way a team starts): botwall refuses nothing, so the stuffer's success shows as a compromise.
CONFIG = (
    "shadow: true\nmodel: {scorer: rules}\n" + LOGIN_CONFIG + "alerts:\n  triggers:\n"
    "    - {name: failed-login-surge, kind: failed_logins, threshold: 4, window_seconds: 60}\n"
    "    - {name: accounts-under-attack, kind: accounts_under_attack, threshold: 3}\n"
    "    - {name: model-reload-failed, kind: model_reload_failed}\n"
    "events:\n"
    "  - {name: winter-drop, endpoints: [{path: {prefix: /drop/}}], expected_rps: 120, start: START, end: END}\n"
)


def _traffic(shop_request: Any) -> None:
    """People browse; a tool scrapes the API; a stuffer tries leaked pairs and gets into alice's account; a scanner
    probes paths nobody else asks for. Real networks' addresses (Envoy trusts one X-Forwarded-For hop), so the
    campaigns name their ASNs."""
    for n in range(6):
        home = f"73.162.10.{10 + n}" if n % 2 else f"86.150.3.{10 + n}"  # Comcast, BT
        person = [*BROWSER_HEADERS, ("x-forwarded-for", home)]
        for path in ("/", f"/products/{n + 1}", "/products/7"):
            assert shop_request(path, headers=person).status == 200
    tool = [
        ("user-agent", "python-requests/2.32.3"),
        ("accept", "*/*"),
        ("x-forwarded-for", "159.89.12.9"),
    ]  # DigitalOcean
    for n in range(8):
        shop_request(f"/api/products?page={n}", headers=tool)
    stuffer = [*BROWSER_HEADERS, ("content-type", "application/json"), ("x-forwarded-for", "5.188.62.77")]
    pairs = [(f"victim{n}@mail.example", f"Leaked-{n}!") for n in range(6)] + [("alice", "wonderland-42")]
    for username, password in pairs:
        body = json.dumps({"username": username, "password": password}).encode()
        shop_request("/api/login", method="POST", headers=stuffer, body=body)
    scanner = [("user-agent", "Mozilla/5.0 zgrab/0.x"), ("accept", "*/*"), ("x-forwarded-for", "45.155.205.200")]
    for path in ("/wp-login.php", "/.env", "/admin/config.php", "/api/internal/v0/debug"):
        shop_request(path, headers=scanner)


def _wait_firing(admin: int, names: set[str]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        triggers = json.loads(_get(admin, "/api/v1/alerts", TOKEN)[1])["triggers"]
        if {t["name"] for t in triggers if t["firing"]} >= names:
            return
        time.sleep(0.2)
    pytest.fail(f"alerts {names} did not fire: {triggers}")


def test_a_person_signs_in_and_every_screen_matches_the_api(
    shop: BackgroundShop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = _require("node")
    chromium = _require("chromium")
    if not (PLAYWRIGHT_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.fail(f"playwright-core is not installed in {PLAYWRIGHT_DIR}: {INSTALL_HINT}")
    artifacts = Path(os.environ.get("BOTWALL_ARTIFACTS") or tmp_path / "screens")
    artifacts.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("BOTWALL_ADMIN_TOKEN", TOKEN)
    now = time.time()  # an event that runs now, on an endpoint nobody here asks for
    start, end = (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)) for t in (now - 60, now + 3600))
    config = CONFIG.replace("START", start).replace("END", end)
    running = admin_stack(shop, tmp_path, config, "--alert-interval", "0.3")
    try:
        _traffic(running.stack.request)
        _wait_firing(running.admin, {"failed-login-surge", "accounts-under-attack"})
        env = {**os.environ, "PLAYWRIGHT_DIR": str(PLAYWRIGHT_DIR), "CHROMIUM": chromium}
        seen = run_json([node, str(TOUR), f"http://127.0.0.1:{running.admin}", TOKEN, str(artifacts)], env=env)
    finally:
        running.stop()
    api = {name: answer["body"] for name, answer in seen["api"].items()}
    assert {answer["status"] for answer in seen["api"].values()} == {200}  # the session opens the API's GETs
    screens = seen["screens"]
    assert seen["problems"] == [], seen["problems"]  # no script error, no Content-Security-Policy violation

    # Signing in: a screen asks for the token first; a wrong one is refused; the session cookie is locked down.
    assert seen["before"] in ("/login?next=%2Fbots", "/login?next=/bots")
    assert seen["wrong"]["status"] == 401
    assert "not the admin token" in seen["wrong"]["error"]
    assert seen["after"] == "/bots"
    assert seen["cookies"] == [{"name": "botwall_session", "httpOnly": True, "secure": True, "sameSite": "Strict"}]
    assert seen["scriptSeesCookie"] is False
    for screen in screens.values():
        assert screen["status"] == 200
        assert "script-src 'self'" in screen["csp"]
        assert "unsafe-inline" not in screen["csp"]

    # Overview: the totals by verdict and by action are the API's over the same hour, and both charts are drawn.
    overview = screens["overview"]
    series = api["traffic"]["series"]
    by_verdict: dict[str, int] = {}
    by_action: dict[str, int] = {}
    for step in series:
        for c in step["counts"]:
            by_verdict[c["verdict"]] = by_verdict.get(c["verdict"], 0) + c["requests"]
            by_action[c["action"]] = by_action.get(c["action"], 0) + c["requests"]
    total = sum(by_verdict.values())
    assert total >= 6 * 3 + 8 + 7 + 4  # every request sent was judged (Envoy may add none)
    assert overview["total"] == total
    assert {v: n for v, n in overview["verdicts"].items() if n} == by_verdict
    assert {a: n for a, n in overview["actions"].items() if n} == by_action
    assert by_action.get("block", 0) > 0
    assert by_verdict["human"] >= 18
    assert [(c["by"], c["drawn"], c["canvas"], c["total"]) for c in overview["charts"]] == [
        ("verdict", True, True, total), ("action", True, True, total),
    ]  # fmt: skip
    assert overview["reasons"] == [list(r) for r in api["traffic"]["reasons"]]
    assert overview["shadowBanner"] is True

    # Discover: every endpoint the API lists, with its volume; new and unprotected marks as the API says.
    discover = screens["discover"]
    expected = [
        {"host": e["host"], "method": e["method"], "template": e["template"], "kind": e["kind"],
         "requests": e["requests"], "new": e["new"], "unprotected": not e["protected_by"], "spark": True}
        for e in api["endpoints"]["endpoints"]
    ]  # fmt: skip
    assert discover["rows"] == expected
    templates = {row["template"] for row in discover["rows"]}
    assert {"/products/{id}", "/api/products", "/api/login", "/wp-login.php"} <= templates
    assert discover["openapi"] is True
    sorted_rows = seen["discover"]
    assert sorted_rows["descending"] == sorted(sorted_rows["descending"], reverse=True)
    assert sorted_rows["ascending"] == sorted(sorted_rows["descending"])
    assert sorted_rows["apiKinds"]
    assert set(sorted_rows["apiKinds"]) == {"api"}
    assert sorted(sorted_rows["unprotected"]) == sorted(e["template"] for e in expected if e["unprotected"])

    # Bots: one section per campaign the API describes, in its order, with its numbers, tools and networks.
    bots = screens["bots"]
    campaigns = api["campaigns"]["campaigns"]
    assert [(c["id"], c["requests"], c["addresses"], c["logins"]) for c in bots["campaigns"]] == [
        (c["id"], c["requests"], c["infrastructure"]["addresses"], c["credentials"]["login_attempts"])
        for c in campaigns
    ]
    tool = next(c for c in bots["campaigns"] if "python-requests/2.32.3" in c["tools"])
    assert tool["requests"] == 8
    assert tool["networks"] == ["AS14061 DigitalOcean, LLC"]
    assert bots["attribution"] is True  # AS organisations are shown: DB-IP's licence asks for the link
    # From the largest campaign to its decisions: every row is that client's.
    first = campaigns[0]["fingerprints"][0]
    assert seen["drill"]["url"] == f"?fingerprint={first}"
    assert seen["drill"]["fingerprints"]
    assert set(seen["drill"]["fingerprints"]) == {first}

    # Accounts: the stuffer's success lists alice as compromised; its victims are under attack.
    accounts = screens["accounts"]
    assert accounts["compromised"] == [a["username"] for a in api["compromised"]["accounts"]] == ["alice"]
    assert accounts["underAttack"] == [a["username"] for a in api["underAttack"]["accounts"]]
    assert {f"victim{n}@mail.example" for n in range(3, 6)} <= set(accounts["underAttack"])

    # Alerts: the triggers and their state as the API has them; the two that fired, and the event that started, are
    # in the history.
    alerts = screens["alerts"]
    assert alerts["triggers"] == [{"name": t["name"], "firing": t["firing"]} for t in api["alerts"]["triggers"]]
    assert {name for name, state in alerts["events"] if state == "firing"} == {
        "failed-login-surge", "accounts-under-attack", "event:winter-drop",
    }  # fmt: skip

    # Event mode: the running event is a banner on every screen, and in the events table and the audit trail.
    assert (
        alerts["eventRows"]
        == [[e["name"], e["state"]] for e in api["events"]["events"]]
        == [["winter-drop", "running"]]
    )
    assert overview["eventBanners"] == alerts["eventBanners"] == ["winter-drop"]
    assert alerts["audit"] == [["event_start", "winter-drop"]]

    # Signing out ends the session: the screens ask for the token again, and the API answers 401.
    assert (seen["signedOut"], seen["afterSignOut"], seen["apiAfterSignOut"]) == ("/login", "/login", 401)
    for name in ("overview", "discover", "bots", "accounts", "alerts", "decisions", "login"):
        assert (artifacts / f"{name}.png").stat().st_size > 10_000, name


def _post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, headers=headers, method="POST")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *_: Any) -> None:
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=5) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def test_sign_in_refuses_other_sites_guessing_and_foreign_redirects(
    shop: BackgroundShop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The forms refuse a post from another origin; ten wrong tokens from one address within a minute get 429 (the
    right one included); `next` never leads off the console; the session cookie opens GETs only."""
    monkeypatch.setenv("BOTWALL_ADMIN_TOKEN", TOKEN)
    running = admin_stack(shop, tmp_path, None)
    admin = running.admin
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    try:
        good = f"token={TOKEN}&next=https://evil.example/".encode()
        status, headers = _post(admin, "/login", good, {**form, "Origin": "https://evil.example"})
        assert status == 403
        assert "Set-Cookie" not in headers
        status, headers = _post(admin, "/login", good, {**form, "Origin": f"http://127.0.0.1:{admin}"})
        assert (status, headers["Location"]) == (303, "/")  # signed in, but sent home, not to evil.example
        cookie = headers["Set-Cookie"].split(";", 1)[0]
        assert "HttpOnly" in headers["Set-Cookie"]
        assert "SameSite=Strict" in headers["Set-Cookie"]
        request = urllib.request.Request(f"http://127.0.0.1:{admin}/api/v1/campaigns", headers={"Cookie": cookie})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
        forged = cookie[:-4] + ("0000" if not cookie.endswith("0000") else "1111")
        request = urllib.request.Request(f"http://127.0.0.1:{admin}/api/v1/campaigns", headers={"Cookie": forged})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 401
        # Sign-out needs this session's CSRF value, not just the cookie a browser would attach.
        status, _ = _post(admin, "/logout", b"csrf=guess", {**form, "Cookie": cookie})
        assert status == 403
        for _ in range(10):
            assert _post(admin, "/login", b"token=wrong-guess-000000000", form)[0] == 401
        assert _post(admin, "/login", f"token={TOKEN}".encode(), form)[0] == 429
    finally:
        running.stop()
