"""What the admin API lists (discovery, accounts, campaigns, the traffic series, the decisions, the alerts), built from
real streams through the servicer, matches the types the OpenAPI document declares for it: a row that gained, lost or
retyped a field fails here, without Envoy."""

from __future__ import annotations

import io
import json
import time
from typing import Any

from botwall.clock import FakeClock
from botwall.config import AlertTrigger, Webhook, parse_yaml
from botwall.edge import views
from botwall.edge.admin import openapi_document
from botwall.edge.alerts import Alerts
from botwall.edge.decision_log import DecisionLog
from botwall.edge.envoy_api import HttpBody, ProcessingRequest
from botwall.edge.server import BotwallServicer
from botwall.engine import Engine
from botwall.lab import testing
from botwall.lab.testing import StreamDriver, captured_headers, request_headers, resources, response_headers
from tests.openapi_bodies import answer_validator, component_validator

BROWSER = captured_headers("firefox-headless", "navigation", "http", "shop.test")
CONFIG = (
    "decision_log: {allow_sample_rate: 0}\n"
    + testing.LOGIN_CONFIG
    + """\
  - name: login-throttle
    match: {hosts: [shop.example, "*.shop.example"], path: {exact: /api/login}, methods: [POST]}
    action: throttle
    throttle: {key: ip, rate_per_minute: 600, burst: 100}
"""
)


def _login(user: str, client: str, status: int) -> list[ProcessingRequest]:
    headers = [*BROWSER, ("content-type", "application/json")]
    body = json.dumps({"username": user, "password": f"Leaked-{user}!"}).encode()
    return [
        request_headers("/api/login", method="POST", headers=headers, client=client, end_of_stream=False),
        ProcessingRequest(request_body=HttpBody(body=body, end_of_stream=True)),
        response_headers(status),
    ]


async def _traffic() -> BotwallServicer:
    """People browsing, a tool refused, a stuffer failing on six accounts, a person logging in."""
    config = parse_yaml(CONFIG, "test.yaml")
    servicer = BotwallServicer(Engine(config, resources()), DecisionLog(config.decision_log, io.StringIO()))
    driver = StreamDriver(servicer)
    for n in range(3):
        for path in ("/", f"/products/{n + 1}?ref=home"):
            await driver.run([request_headers(path, headers=BROWSER, client=f"198.51.100.{n}:1"), response_headers()])
    tool = [("user-agent", "python-requests/2.32.3"), ("accept", "*/*")]
    for _ in range(3):
        await driver.run([request_headers("/api/products", headers=tool, client="203.0.113.9:1")])
    for n in range(6):
        await driver.run(_login(f"victim{n}@mail.example", "203.0.113.50:1", 401))
    await driver.run(_login("alice", "198.51.100.60:1", 200))
    return servicer


def _valid(document: dict[str, Any], name: str, rows: list[Any]) -> None:
    assert rows, f"no {name} to check"
    validator = component_validator(document, name)
    for row in json.loads(json.dumps(rows)):  # as served
        validator.validate(row)


async def test_every_listing_matches_its_declared_type() -> None:
    """Discovery's rows and its OpenAPI, the accounts (with their evidence), the campaigns, the traffic series over
    every range, the decisions and the alerts (a firing trigger, a webhook) each validate against their schema."""
    servicer = await _traffic()
    document = openapi_document()
    endpoints = servicer.inventory.snapshot(servicer.engine.config.policies)
    _valid(document, "EndpointRow", endpoints)
    assert any(row["protected_by"] for row in endpoints)
    component_validator(document, "DiscoveredApi").validate(json.loads(json.dumps(servicer.inventory.openapi())))
    accounts = servicer.accounts.rows()
    _valid(document, "AccountRow", accounts)
    assert any(row["evidence"] for row in accounts)
    _valid(document, "CampaignRow", servicer.campaigns.describe())
    for name in views.TRAFFIC_RANGES:
        series = views.traffic(servicer.counters, name, time.time())
        answer_validator(document, "/api/v1/traffic").validate(json.loads(json.dumps(series)))
    assert series["reasons"]
    _valid(document, "DecisionRow", views.decisions(servicer.counters, {}, 100))

    clock = FakeClock(time.time())
    trigger = AlertTrigger("attacked", "accounts_under_attack", threshold=2)
    hook = Webhook("soc", "http://127.0.0.1:9/hook", secret_env="HOOK_KEY")
    alerts = Alerts(servicer, (trigger,), (hook,), lambda _: None, clock)
    assert ["firing"] == [event["state"] for event in alerts.evaluate()]
    state = json.loads(json.dumps(views.alerts(alerts)))
    answer_validator(document, "/api/v1/alerts").validate(state)
    assert (1, 1, 1) == (len(state["triggers"]), len(state["events"]), len(state["webhooks"]))
