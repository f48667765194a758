"""The admin listener of a real `botwall serve` behind a real Envoy: health and readiness open, Prometheus metrics
behind the bearer token, counting what botwall judged (parsed with prometheus_client's own parser); readiness turns
503 as botwall drains; without a token it refuses to listen beyond loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from botwall.deploy.gateway import EnvoySettings, render_gateway
from botwall.lab.stack import start_envoy, start_processor
from botwall.lab.testing import LOGIN_CONFIG
from tests.openapi_bodies import answer_validator

from .conftest import BROWSER_HEADERS, BackgroundShop, Stack

TOKEN = "test-admin-token-0123456789abcdef"


def _get(port: int, path: str, token: str | None = None) -> tuple[int, str, dict[str, str]]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


@dataclass
class AdminStack:
    """botwall serve with an admin listener, behind a real Envoy trusting one X-Forwarded-For hop."""

    stack: Stack
    admin: int  # the admin listener's port

    def stop(self) -> None:
        self.stack.envoy.stop()
        assert self.stack.botwall is not None
        self.stack.botwall.stop()


def admin_stack(shop: BackgroundShop, workdir: Path, config: str | None = None, *args: str) -> AdminStack:
    """Start botwall (with `config` text, and extra `serve` arguments) and Envoy in front of the shop, its login
    route's body going to botwall."""
    argv = [
        sys.executable, "-m", "botwall", "serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
        "--drain-delay", "0", *args,
    ]  # fmt: skip
    if config is not None:
        path = workdir / "botwall.yaml"
        workdir.mkdir(parents=True, exist_ok=True)
        path.write_text(config)
        argv += ["--config", str(path)]
    botwall = start_processor(workdir / "botwall", argv, "botwall", 60)
    admin = json.loads((workdir / "botwall" / "botwall-ready.json").read_text())["admin_port"]
    settings = EnvoySettings(
        http=("127.0.0.1", 0), botwall=("127.0.0.1", botwall.port), upstream=("127.0.0.1", shop.port),
        access_log=str(workdir / "access.log"), trusted_hops=1, login_routes=("/api/login",),
    )  # fmt: skip
    try:
        envoy = start_envoy(render_gateway(settings), workdir)
    except BaseException:
        botwall.stop()
        raise
    return AdminStack(Stack(envoy, botwall, workdir, shop), admin)


def samples_total(text: str) -> float:
    """All requests judged, from the metrics."""
    return sum(v for (name, _), v in _samples(text).items() if name == "botwall_requests_total")


def test_metrics_count_what_botwall_judged_and_need_the_token(
    shop: BackgroundShop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOTWALL_ADMIN_TOKEN", TOKEN)  # the processor inherits it
    argv = [
        sys.executable, "-m", "botwall", "serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
        "--drain-delay", "3",
    ]  # fmt: skip
    botwall = start_processor(tmp_path / "botwall", argv, "botwall", 60)
    admin = json.loads((tmp_path / "botwall" / "botwall-ready.json").read_text())["admin_port"]
    settings = EnvoySettings(
        http=("127.0.0.1", 0),
        botwall=("127.0.0.1", botwall.port),
        upstream=("127.0.0.1", shop.port),
        access_log=str(tmp_path / "access.log"),
        trusted_hops=1,
    )
    envoy = start_envoy(render_gateway(settings), tmp_path)
    try:
        stack = Stack(envoy, botwall, tmp_path, shop)
        people = [
            stack.request("/", headers=[*BROWSER_HEADERS, ("x-forwarded-for", f"198.51.100.{n}")]).status
            for n in range(3)
        ]
        tool = [("user-agent", "python-requests/2.32.3"), ("accept", "*/*"), ("x-forwarded-for", "203.0.113.9")]
        bots = [stack.request("/api/products", headers=tool).status for _ in range(4)]
        assert people == [200] * 3
        assert bots == [403] * 4

        assert _get(admin, "/healthz")[0] == 200
        assert _get(admin, "/readyz")[0] == 200
        status, _, headers = _get(admin, "/metrics")
        assert status == 401
        assert headers["WWW-Authenticate"].startswith("Bearer")
        assert _get(admin, "/metrics", "not-the-token-at-all-0000")[0] == 401
        status, text, headers = _get(admin, "/metrics", TOKEN)
        assert status == 200
        assert headers["Content-Type"].startswith("text/plain")
        samples = _samples(text)
        requests = {labels: value for (name, labels), value in samples.items() if name == "botwall_requests_total"}
        allowed = sum(v for labels, v in requests.items() if ("action", "allow") in labels)
        blocked = sum(v for labels, v in requests.items() if ("action", "block") in labels)
        assert (allowed, blocked) == (3, 4), requests
        assert samples[("botwall_decision_seconds_count", ())] == 7
        policies = {
            dict(labels)["policy"]: v for (name, labels), v in samples.items() if name.startswith("botwall_pol")
        }
        assert policies == {"challenge-bots": 4}  # an API call cannot be challenged: the challenge policy refuses it
        assert samples[("botwall_store_entries", (("namespace", "fp"),))] == 2  # a browser and a tool
        assert samples[("botwall_store_entries", (("namespace", "ip"),))] == 4
        assert samples[("botwall_serving", ())] == 1
        # Every request scored once at least (the bots' twice: their own score too), from a memoized cell or not.
        scored = {dict(labels)["source"]: v for (n, labels), v in samples.items() if n == "botwall_model_scores_total"}
        assert set(scored) == {"memo", "onnxruntime"}
        assert scored["memo"] + scored["onnxruntime"] >= 7
        assert ("process_cpu_seconds_total", ()) in samples
        assert not any("path" in dict(labels) or "client_ip" in dict(labels) for _, labels in samples)

        # Discovery: the endpoints seen, with who used them, behind the token; the API part as OpenAPI.
        products = [
            stack.request(f"/products/{n}", headers=[*BROWSER_HEADERS, ("x-forwarded-for", f"198.51.100.{n}")]).status
            for n in (1, 2, 3)
        ]
        assert products == [200] * 3
        assert _get(admin, "/api/v1/endpoints")[0] == 401
        status, body, _ = _get(admin, "/api/v1/endpoints", TOKEN)
        assert status == 200
        rows = {(e["method"], e["template"]): e for e in json.loads(body)["endpoints"]}
        assert rows["GET", "/products/{id}"]["requests"] == 3
        assert rows["GET", "/products/{id}"]["by_verdict"] == {"human": 3}
        assert rows["GET", "/products/{id}"]["statuses"] == {"200": 3}  # no cookie yet: botwall read the responses
        assert rows["GET", "/api/products"]["by_action"] == {"block": 4}
        assert rows["GET", "/api/products"]["kind"] == "api"
        assert rows["GET", "/"]["requests"] == 3
        status, body, _ = _get(admin, "/api/v1/endpoints?format=openapi", TOKEN)
        assert status == 200
        assert "/api/products" in json.loads(body)["paths"]

        # Accounts: a stuffer's victims are under attack; a person who logs in is listed, but as neither.
        stuffer = [*BROWSER_HEADERS, ("content-type", "application/json"), ("x-forwarded-for", "203.0.113.50")]
        for n in range(6):
            body = json.dumps({"username": f"victim{n}@mail.example", "password": f"Leaked-{n}!"}).encode()
            stack.request("/api/login", method="POST", headers=stuffer, body=body)
        person = [*BROWSER_HEADERS, ("x-forwarded-for", "198.51.100.60")]
        page = stack.request("/login", headers=person)
        cookie = next(c for c in page.set_cookies if c.startswith("__bw=")).split(";", 1)[0]
        form = [*person, ("cookie", cookie), ("content-type", "application/x-www-form-urlencoded")]
        assert (
            stack.request("/login", method="POST", headers=form, body=b"username=alice&password=wonderland-42").status
            == 303
        )
        assert _get(admin, "/api/v1/accounts")[0] == 401
        status, body, _ = _get(admin, "/api/v1/accounts?state=under_attack", TOKEN)
        assert status == 200
        under = {row["username"]: row for row in json.loads(body)["accounts"]}
        assert {f"victim{n}@mail.example" for n in range(3, 6)} <= set(under), under
        assert "alice" not in under, under.get("alice")
        everyone = {row["username"]: row for row in json.loads(_get(admin, "/api/v1/accounts", TOKEN)[1])["accounts"]}
        assert (everyone["alice"]["successes"], everyone["alice"]["compromised"]) == (1, False)
        status, text, headers = _get(admin, "/api/v1/accounts?state=under_attack&format=csv", TOKEN)
        assert headers["Content-Type"].startswith("text/csv")
        assert text.splitlines()[0].startswith("username,under_attack,compromised")
        assert _get(admin, "/api/v1/accounts?state=everything", TOKEN)[0] == 400

        # Campaigns: the tool's four refused API calls are one campaign, described by its user-agent and endpoint;
        # the people's pages are none.
        assert _get(admin, "/api/v1/campaigns")[0] == 401
        status, body, _ = _get(admin, "/api/v1/campaigns", TOKEN)
        assert status == 200
        campaigns = json.loads(body)["campaigns"]
        tool_campaign = next(c for c in campaigns if c["tools"]["user_agents"][0][0] == "python-requests/2.32.3")
        assert tool_campaign["requests"] == 4
        assert tool_campaign["actions"] == {"block": 4}
        assert tool_campaign["behaviour"]["endpoints"] == [["/api/products", 4]]
        assert tool_campaign["infrastructure"]["addresses"] == 1
        assert not any("/products/{id}" in dict(c["behaviour"]["endpoints"]) for c in campaigns)

        # Recent decisions, searchable; the traffic series; the running config; every documented route answers.
        found = json.loads(_get(admin, "/api/v1/decisions?address=203.0.113.9", TOKEN)[1])["decisions"]
        assert [(d["action"], d["path"]) for d in found] == [("block", "/api/products")] * 4
        by_user = json.loads(_get(admin, "/api/v1/decisions?username=alice", TOKEN)[1])["decisions"]
        assert [(d["method"], d["path"]) for d in by_user] == [("POST", "/login")]
        assert _get(admin, "/api/v1/decisions?limit=lots", TOKEN)[0] == 400
        series = json.loads(_get(admin, "/api/v1/traffic", TOKEN)[1])["series"]
        judged = sum(c["requests"] for minute in series for c in minute["counts"])
        assert judged == samples_total(_get(admin, "/metrics", TOKEN)[1])
        week = json.loads(_get(admin, "/api/v1/traffic?range=7d", TOKEN)[1])
        assert week["step_seconds"] == 3600
        assert sum(c["requests"] for hour in week["series"] for c in hour["counts"]) == judged
        assert set(found[0]["reasons"]) <= set(dict(week["reasons"]))  # the blocked tool's reasons are counted
        assert _get(admin, "/api/v1/traffic?range=1y", TOKEN)[0] == 400
        config = json.loads(_get(admin, "/api/v1/config", TOKEN)[1])
        assert [p["name"] for p in config["policies"]] == ["honeytrap-wp-login", "challenge-bots", "block-bots",
                                                           "login-throttle"]  # fmt: skip
        document = json.loads(_get(admin, "/api/v1/openapi.json", TOKEN)[1])
        assert document["openapi"].startswith("3.")
        for path, item in document["paths"].items():
            if "get" in item:
                assert _get(admin, path, TOKEN)[0] == 200, path
        assert _get(admin, "/api/v1/nothing-here", TOKEN)[0] == 404

        botwall.proc.send_signal(signal.SIGTERM)  # draining: readiness says so at once
        deadline = time.monotonic() + 2
        ready = 200
        while ready == 200 and time.monotonic() < deadline:
            ready = _get(admin, "/readyz")[0]
        assert ready == 503
    finally:
        envoy.stop()
        botwall.stop()


@pytest.mark.parametrize(
    ("args", "token", "message"),
    [
        (["--admin-listen", "0.0.0.0:0"], "", "not a loopback address, and no admin token is set"),
        (["--admin-listen", "127.0.0.1:0"], "short", "the admin token is 5 characters: use at least 16"),
    ],
    ids=["open-beyond-loopback", "short-token"],
)
def test_an_unsafe_admin_listener_is_refused(args: list[str], token: str, message: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "BOTWALL_ADMIN_TOKEN"} | (
        {"BOTWALL_ADMIN_TOKEN": token} if token else {}
    )
    argv = [sys.executable, "-m", "botwall", "serve", "--listen", "127.0.0.1:0", *args]
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr


def test_a_restart_keeps_what_the_admin_api_shows(
    shop: BackgroundShop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --state-dir, discovery survives SIGTERM and a new process: an endpoint's count goes on where it was."""
    monkeypatch.setenv("BOTWALL_ADMIN_TOKEN", TOKEN)
    state = tmp_path / "state"

    def run(workdir: Path, pages: int) -> dict[str, object]:
        argv = [
            sys.executable, "-m", "botwall", "serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
            "--drain-delay", "0", "--state-dir", str(state),
        ]  # fmt: skip
        botwall = start_processor(workdir, argv, "botwall", 60)
        admin = json.loads((workdir / "botwall-ready.json").read_text())["admin_port"]
        settings = EnvoySettings(
            http=("127.0.0.1", 0), botwall=("127.0.0.1", botwall.port), upstream=("127.0.0.1", shop.port),
            access_log=str(workdir / "access.log"), trusted_hops=1,
        )  # fmt: skip
        envoy = start_envoy(render_gateway(settings), workdir)
        try:
            stack = Stack(envoy, botwall, workdir, shop)
            for n in range(pages):
                headers = [*BROWSER_HEADERS, ("x-forwarded-for", f"198.51.100.{n}")]
                assert stack.request(f"/products/{n + 1}", headers=headers).status == 200
            rows = json.loads(_get(admin, "/api/v1/endpoints", TOKEN)[1])["endpoints"]
        finally:
            envoy.stop()
            botwall.stop()  # SIGTERM: the last batch is written
        return {(e["method"], e["template"]): e for e in rows}

    first = run(tmp_path / "first", 3)
    assert first["GET", "/products/{id}"]["requests"] == 3
    second = run(tmp_path / "second", 2)
    assert second["GET", "/products/{id}"]["requests"] == 5
    assert (state / "botwall-0.db").exists()


def test_a_stuffers_success_lists_the_account_as_compromised(
    shop: BackgroundShop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In shadow mode (botwall watches, refuses nothing) a stuffer gets through: its success on a real account, after
    failures that are its own evidence, lists that account as compromised, with why, in the API, the CSV and the
    metrics."""
    monkeypatch.setenv("BOTWALL_ADMIN_TOKEN", TOKEN)
    running = admin_stack(shop, tmp_path, "shadow: true\nmodel: {scorer: rules}\n" + LOGIN_CONFIG)
    stack, admin = running.stack, running.admin
    try:
        stuffer = [*BROWSER_HEADERS, ("content-type", "application/json"), ("x-forwarded-for", "203.0.113.77")]
        credentials = [(f"victim{n}@mail.example", f"Leaked-{n}!") for n in range(5)] + [("alice", "wonderland-42")]
        statuses = []
        for username, password in credentials:
            body = json.dumps({"username": username, "password": password}).encode()
            statuses.append(stack.request("/api/login", method="POST", headers=stuffer, body=body).status)
        assert statuses == [401] * 5 + [200]  # shadow mode: nothing refused
        rows = json.loads(_get(admin, "/api/v1/accounts?state=compromised", TOKEN)[1])["accounts"]
        assert [row["username"] for row in rows] == ["alice"]
        assert "stuffing or spraying (beh:failed-logins" in rows[0]["compromised_because"]
        csv_text = _get(admin, "/api/v1/accounts?state=compromised&format=csv", TOKEN)[1]
        assert csv_text.splitlines()[1].startswith("alice,True,True,")
        samples = _samples(_get(admin, "/metrics", TOKEN)[1])
        assert samples[("botwall_accounts", (("state", "compromised"),))] == 1
        assert samples[("botwall_accounts", (("state", "under_attack"),))] >= 3
    finally:
        running.stop()


# A bad value for each query parameter a route refuses with 400, and the alternative bodies routes give when asked.
_BAD_QUERIES = {
    "/api/v1/accounts": "state=everything",
    "/api/v1/campaigns": "since=yesterday",
    "/api/v1/decisions": "limit=lots",
    "/api/v1/traffic": "range=1y",
    "/api/v1/transactions": "min_risk=high",
}
_ALTERNATIVES = {"/api/v1/endpoints": "format=openapi", "/api/v1/accounts": "format=csv"}


def test_every_documented_body_matches_its_schema(
    shop: BackgroundShop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After real traffic through Envoy (people, a tool, a credential stuffer, a person's login, an alert firing at a
    webhook), every route of the API's own OpenAPI document answers with a body its schema accepts, objects closed:
    each 200, the alternative bodies (`?format=openapi`, `?format=csv`), each documented 400, and the 401."""
    monkeypatch.setenv("BOTWALL_ADMIN_TOKEN", TOKEN)
    config = (
        "model: {scorer: rules}\n" + LOGIN_CONFIG + "  - name: login-throttle\n"
        "    match: {hosts: [127.0.0.1, '*.shop.example'], path: {exact: /login}, methods: [POST]}\n"
        "    action: throttle\n"
        "    throttle: {key: ip, rate_per_minute: 600, burst: 100}\n"
        "alerts:\n"
        "  triggers:\n"
        "    - {name: accounts-under-attack, kind: accounts_under_attack, threshold: 2}\n"
        "  webhooks:\n"
        f"    - {{name: soc, url: 'http://127.0.0.1:{shop.port}/hook'}}\n"
        "transactions:\n"
        "  - {name: signup, match: {path: {exact: /_echo/signup}, methods: [POST]}, fields: [email]}\n"
    )
    running = admin_stack(shop, tmp_path, config, "--alert-interval", "0.3")
    stack, admin = running.stack, running.admin
    try:
        for n in range(3):
            person = [*BROWSER_HEADERS, ("x-forwarded-for", f"198.51.100.{n}")]
            assert [stack.request(p, headers=person).status for p in ("/", f"/products/{n + 1}?ref=home")] == [200] * 2
        tool = [("user-agent", "python-requests/2.32.3"), ("accept", "*/*"), ("x-forwarded-for", "203.0.113.9")]
        assert 403 in [stack.request("/api/products", headers=tool).status for _ in range(3)]
        stuffer = [*BROWSER_HEADERS, ("content-type", "application/json"), ("x-forwarded-for", "203.0.113.50")]
        for n in range(8):
            body = json.dumps({"username": f"victim{n}@mail.example", "password": f"Leaked-{n}!"}).encode()
            stack.request("/api/login", method="POST", headers=stuffer, body=body)
        person = [*BROWSER_HEADERS, ("x-forwarded-for", "198.51.100.60")]
        cookie = next(c for c in stack.request("/login", headers=person).set_cookies if c.startswith("__bw="))
        form = [*person, ("cookie", cookie.split(";", 1)[0]), ("content-type", "application/x-www-form-urlencoded")]
        login = stack.request("/login", method="POST", headers=form, body=b"username=alice&password=wonderland-42")
        assert login.status == 303
        signup = [*form[:-1], ("content-type", "application/json")]
        assert (
            stack.request("/_echo/signup", method="POST", headers=signup, body=b'{"email": "a@b.example"}').status
            == 200
        )
        deadline = time.monotonic() + 15
        alerts: dict[str, list[object]] = {"events": []}
        while not alerts["events"] and time.monotonic() < deadline:
            alerts = json.loads(_get(admin, "/api/v1/alerts", TOKEN)[1])
            time.sleep(0.2)
        assert alerts["events"]
        assert alerts["webhooks"]

        document = json.loads(_get(admin, "/api/v1/openapi.json", TOKEN)[1])
        gets = {path: item["get"] for path, item in document["paths"].items() if "get" in item}
        refusing = {path for path, item in gets.items() if "400" in item["responses"]}
        assert set(_BAD_QUERIES) == refusing  # a new 400 needs its bad query here
        bodies = {}
        for path, item in gets.items():
            responses = item["responses"]
            status, text, headers = _get(admin, path, TOKEN)
            content = headers["Content-Type"].split(";")[0]
            assert (200, True) == (status, content in responses["200"]["content"]), (path, content)
            if content == "application/json":
                bodies[path] = json.loads(text)
                answer_validator(document, path).validate(bodies[path])
            if path in _ALTERNATIVES:
                status, text, headers = _get(admin, f"{path}?{_ALTERNATIVES[path]}", TOKEN)
                content = headers["Content-Type"].split(";")[0]
                assert (200, True) == (status, content in responses["200"]["content"]), (path, content)
                if content == "application/json":
                    answer_validator(document, path).validate(json.loads(text))
            if path in _BAD_QUERIES:
                status, text, _ = _get(admin, f"{path}?{_BAD_QUERIES[path]}", TOKEN)
                assert status == 400, path
                answer_validator(document, path, 400).validate(json.loads(text))
            status, text, _ = _get(admin, path)
            if status == 401:  # every path but the open ones (the probes)
                answer_validator(document, path, 401).validate(json.loads(text))
            else:
                assert (path, status) in {("/healthz", 200), ("/readyz", 200)}
        # Nothing passed for being empty: each listing held rows of every kind.
        assert bodies["/api/v1/endpoints"]["endpoints"]
        assert any(row["evidence"] for row in bodies["/api/v1/accounts"]["accounts"])
        assert any("throttle" in policy for policy in bodies["/api/v1/config"]["policies"])
        assert bodies["/api/v1/campaigns"]["campaigns"]
        assert bodies["/api/v1/decisions"]["decisions"]
        assert any(step["counts"] for step in bodies["/api/v1/traffic"]["series"])
        assert bodies["/api/v1/transactions"]["transactions"]
    finally:
        running.stop()
