"""Alert triggers (`edge.alerts`), in-process: an episode fires once and resolves, the cool-down holds, a baseline
keeps a busy site's normal quiet, and deliveries are signed so a receiver can verify them and refuse replays."""

from __future__ import annotations

import io
import json

from botwall.clock import FakeClock
from botwall.config import Action, AlertTrigger, Webhook, parse_yaml
from botwall.edge.accounts import Attempt
from botwall.edge.alerts import Alerts, render, verify
from botwall.edge.decision_log import DecisionLog
from botwall.edge.server import BotwallServicer
from botwall.engine import Engine
from botwall.lab.testing import LOGIN_CONFIG, resources
from botwall.policy import Decision

BOT = Decision(Action.BLOCK, True, False, "b", 90, "bot", ("beh:failed-logins",), "fp", own=90)


def _alerts(clock: FakeClock, *triggers: AlertTrigger) -> tuple[Alerts, BotwallServicer, list[dict[str, object]]]:
    config = parse_yaml(LOGIN_CONFIG, "t.yaml")
    servicer = BotwallServicer(Engine(config, resources()), DecisionLog(config.decision_log, stream=io.StringIO()))
    servicer.accounts._clock = clock
    lines: list[dict[str, object]] = []
    return Alerts(servicer, triggers, (), lines.append, clock), servicer, lines


def test_an_episode_fires_once_resolves_and_cools_down() -> None:
    clock = FakeClock(1_800_000_000.0)
    trigger = AlertTrigger("surge", "failed_logins", threshold=5, window_seconds=30, cooldown_seconds=120)
    alerts, servicer, lines = _alerts(clock, trigger)
    counters = servicer.counters
    for _ in range(6):
        counters.bump(counters.failed_logins, clock())
    assert [e["state"] for e in alerts.evaluate()] == ["firing"]
    clock.advance(5)
    counters.bump(counters.failed_logins, clock())
    assert alerts.evaluate() == []  # still the same episode
    clock.advance(40)  # the window has passed: back under the threshold
    assert [e["state"] for e in alerts.evaluate()] == ["resolved"]
    for _ in range(6):
        counters.bump(counters.failed_logins, clock())
    assert alerts.evaluate() == []  # cooling down
    clock.advance(130)
    for _ in range(6):
        counters.bump(counters.failed_logins, clock())
    assert [e["state"] for e in alerts.evaluate()] == ["firing"]
    assert [line["state"] for line in lines] == ["firing", "resolved", "firing"]
    assert alerts.states["surge"].fired == 2


def test_a_baseline_keeps_the_sites_normal_quiet() -> None:
    """Forty failed logins a minute all hour are this site's normal (typos at scale); four times that is a surge."""
    clock = FakeClock(1_800_000_000.0)
    trigger = AlertTrigger("surge", "failed_logins", threshold=10, window_seconds=60, baseline_factor=3)
    alerts, servicer, _ = _alerts(clock, trigger)
    counters = servicer.counters
    for _ in range(360):  # an hour of 10-second buckets, about 7 failures each
        for _ in range(7):
            counters.bump(counters.failed_logins, clock())
        clock.advance(10)
        assert alerts.evaluate() == []
    for _ in range(6):
        for _ in range(30):
            counters.bump(counters.failed_logins, clock())
        clock.advance(10)
    assert [e["state"] for e in alerts.evaluate()] == ["firing"]


def test_accounts_under_attack_fire_the_trigger() -> None:
    clock = FakeClock(1_800_000_000.0)
    alerts, servicer, _ = _alerts(clock, AlertTrigger("attacked", "accounts_under_attack", threshold=3))
    for n in range(2):
        servicer.accounts.attempt(Attempt(f"v{n}", "refused", "203.0.113.9", 0, "fp", BOT))
    assert alerts.evaluate() == []
    servicer.accounts.attempt(Attempt("v2", "refused", "203.0.113.9", 0, "fp", BOT))
    (event,) = alerts.evaluate()
    assert (event["alert"], event["value"]) == ("attacked", 3.0)


def test_deliveries_are_signed_and_replays_refused(monkeypatch: object) -> None:
    import os

    os.environ["HOOK_KEY"] = "s3cret-key-for-tests"
    try:
        event = {"alert": "surge", "kind": "failed_logins", "state": "firing", "value": 9.0, "threshold": 5.0,
                 "window_seconds": 30.0}  # fmt: skip
        body, headers = render(Webhook("soc", "http://x/", "json", "HOOK_KEY"), event, 1_800_000_000.0)
        assert json.loads(body)["alert"] == "surge"
        stamp, signature = headers["X-Botwall-Timestamp"], headers["X-Botwall-Signature"]
        assert verify("s3cret-key-for-tests", stamp, body, signature, 1_800_000_010.0)
        assert not verify("s3cret-key-for-tests", stamp, body + b" ", signature, 1_800_000_010.0)  # tampered
        assert not verify("another-key", stamp, body, signature, 1_800_000_010.0)
        assert not verify("s3cret-key-for-tests", stamp, body, signature, 1_800_001_000.0)  # replayed later
        slack, _ = render(Webhook("chat", "http://x/", "slack"), event, 1_800_000_000.0)
        assert "surge" in json.loads(slack)["text"]
    finally:
        del os.environ["HOOK_KEY"]
