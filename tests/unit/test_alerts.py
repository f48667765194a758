"""Alert triggers (`edge.alerts`), in-process: an episode fires once and resolves, the cool-down holds, a baseline
keeps a busy site's normal quiet, the endpoint triggers fire per endpoint and judge a bounded number of endpoints,
deliveries are signed so a receiver can verify them and refuse replays, and with a state directory pending
deliveries, the last events and the episodes survive a restart."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from botwall.clock import FakeClock
from botwall.config import Action, AlertTrigger, Webhook, parse_yaml
from botwall.edge import alerts as alerts_module
from botwall.edge.accounts import Attempt
from botwall.edge.alerts import DELIVERIES, Alerts, render, verify
from botwall.edge.decision_log import DecisionLog
from botwall.edge.inventory import Inventory
from botwall.edge.persist import Persister, StateDb
from botwall.edge.server import BotwallServicer
from botwall.engine import Engine
from botwall.lab.testing import LOGIN_CONFIG, resources
from botwall.policy import Decision

BOT = Decision(Action.BLOCK, True, False, "b", 90, "bot", ("beh:failed-logins",), "fp", own=90)
PERSON = Decision(Action.ALLOW, True, False, "", 3, "human", (), "fpperson")
TAGGED_BOT = Decision(Action.MONITOR, True, False, "watch", 85, "bot", ("tool:http-library",), "fptool", own=85)
THROTTLED = Decision(Action.THROTTLE, True, False, "login-throttle", 45, "suspect", ("beh:rate",), "fpfast", own=45)
HOST = "shop.example"


def _alerts(
    clock: FakeClock, *triggers: AlertTrigger, webhooks: tuple[Webhook, ...] = ()
) -> tuple[Alerts, BotwallServicer, list[dict[str, object]]]:
    config = parse_yaml(LOGIN_CONFIG, "t.yaml")
    servicer = BotwallServicer(
        Engine(config, resources()), DecisionLog(config.decision_log, stream=io.StringIO()), Inventory(clock=clock)
    )
    servicer.accounts._clock = clock
    lines: list[dict[str, object]] = []
    return Alerts(servicer, triggers, webhooks, lines.append, clock), servicer, lines


def _hits(inventory: Inventory, method: str, path: str, decision: Decision, count: int) -> None:
    for _ in range(count):
        inventory.record(HOST, method, path, "", "api", decision)


def _endpoints(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(e["state"], e["endpoint"]["method"], e["endpoint"]["template"]) for e in events]


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


def test_an_endpoints_bad_bot_share_fires_for_that_endpoint_alone() -> None:
    """Stuffers on the login endpoint (bots, and suspects refused by a throttle) are a bad-bot share above the
    threshold there, and only there: people on the product pages, a tagged tool that is 30 % of the search traffic
    and a single bot request elsewhere (1 of 1, under min_requests) stay quiet; the episode fires once, names its
    endpoint, and resolves when the attack stops."""
    clock = FakeClock(1_800_000_000.0)
    trigger = AlertTrigger("bad-bots", "endpoint_bot_share", threshold=50, window_seconds=60, min_requests=20)
    alerts, servicer, lines = _alerts(clock, trigger)
    inventory = servicer.inventory
    fired = []
    for _ in range(12):  # a minute of traffic, a round every 5 seconds
        for n in range(4):
            inventory.record(HOST, "GET", f"/products/{n}", "", "page", PERSON)
        _hits(inventory, "GET", "/api/search", PERSON, 7)
        _hits(inventory, "GET", "/api/search", TAGGED_BOT, 3)
        _hits(inventory, "POST", "/api/login", BOT, 3)
        _hits(inventory, "POST", "/api/login", THROTTLED, 3)
        _hits(inventory, "POST", "/api/login", PERSON, 1)
        clock.advance(5)
        fired += alerts.evaluate()
    _hits(inventory, "GET", "/wp-admin", BOT, 1)
    fired += alerts.evaluate()
    (event,) = fired
    assert ("firing", "POST", "/api/login") == _endpoints(fired)[0]
    assert {"host": HOST, "method": "POST", "template": "/api/login"} == event["endpoint"]
    assert event["value"] > 80
    assert event["requests"] >= 20
    assert (
        "on POST shop.example/api/login"
        in json.loads(render(Webhook("chat", "http://x/", "slack"), event, 0)[0])["text"]
    )
    assert (True, 1) == (alerts.states["bad-bots"].firing, alerts.states["bad-bots"].fired)
    for _ in range(13):  # the attack stops; people go on
        _hits(inventory, "GET", "/api/search", PERSON, 7)
        clock.advance(5)
        fired += alerts.evaluate()
    assert [("firing", "POST", "/api/login"), ("resolved", "POST", "/api/login")] == _endpoints(fired)
    assert [e["state"] for e in fired] == [line["state"] for line in lines]
    assert False is alerts.states["bad-bots"].firing


def test_a_surge_on_an_endpoint_fires_against_its_own_norm() -> None:
    """Each endpoint against its own hour: a search endpoint at 30 a minute and product pages at 200 a minute are
    their normal, a tenfold surge on search fires naming it while the busier pages stay quiet, and nothing fires in
    the first ten minutes, when there is no norm to compare with."""
    clock = FakeClock(1_800_000_000.0)
    trigger = AlertTrigger("surge", "endpoint_traffic", threshold=20, window_seconds=60, baseline_factor=5)
    alerts, servicer, _ = _alerts(clock, trigger)
    inventory = servicer.inventory

    def minute(search: int) -> list[dict[str, Any]]:
        _hits(inventory, "GET", "/products/7", PERSON, 200)
        _hits(inventory, "GET", "/api/search", PERSON, search)
        clock.advance(60)
        return alerts.evaluate()

    assert [] == [event for _ in range(3) for event in minute(300)]  # no norm yet: quiet
    assert [] == [event for _ in range(57) for event in minute(30)]
    fired = minute(300)
    assert [("firing", "GET", "/api/search")] == _endpoints(fired)
    assert fired[0]["value"] >= 250
    assert 25 <= fired[0]["baseline"] <= 45
    fired = minute(30) + minute(30)
    assert [("resolved", "GET", "/api/search")] == _endpoints(fired)


def test_a_scanner_with_thousands_of_templates_is_judged_in_a_bounded_round() -> None:
    """A scanner on 2,000 templates, each hit often enough to be judged: each endpoint trigger judges only the
    busiest endpoints in a round, and the stuffing on the login endpoint, the busiest, still fires."""
    clock = FakeClock(1_800_000_000.0)
    share = AlertTrigger("bad-bots", "endpoint_bot_share", threshold=50, window_seconds=60, min_requests=20)
    surge = AlertTrigger("surge", "endpoint_traffic", threshold=20, window_seconds=60, baseline_factor=5)
    alerts, servicer, _ = _alerts(clock, share, surge)
    inventory = servicer.inventory
    _hits(inventory, "POST", "/api/login", BOT, 400)
    for i in range(40):
        for j in range(50):
            _hits(inventory, "GET", f"/scan{i}/probe{j}", BOT, 20)
    clock.advance(5)
    fired = alerts.evaluate()
    assert 2001 == len(inventory)  # the last template folded into `(other)`, at discovery's bound
    assert 2 * alerts_module._TOP_ENDPOINTS == alerts.checked
    assert ("firing", "POST", "/api/login") in _endpoints(fired)


def _receiver(statuses: list[int], seen: list[bytes]) -> web.Application:
    async def hook(request: web.Request) -> web.Response:
        seen.append(await request.read())
        return web.Response(status=statuses[0])

    app = web.Application()
    app.router.add_post("/hook", hook)
    return app


async def _until(condition: Any, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_pending_deliveries_events_and_episodes_survive_a_restart(tmp_path: Path) -> None:
    """A delivery the receiver refused once is saved with its attempt, queued again after a restart and delivered
    (the same event, by id); the last events and the firing episode come back, and a delivered row is removed."""
    clock = FakeClock(1_800_000_000.0)
    trigger = AlertTrigger("surge", "failed_logins", threshold=3, window_seconds=30)

    async def run() -> None:
        statuses, seen = [500], []
        runner = web.AppRunner(_receiver(statuses, seen))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        webhook = Webhook("soc", f"http://127.0.0.1:{port}/hook")
        first, servicer, _ = _alerts(clock, trigger, webhooks=(webhook,))
        saving = Persister(StateDb(tmp_path), first.tables())  # type: ignore[arg-type]
        first.start(interval=3600)
        for _ in range(4):
            servicer.counters.bump(servicer.counters.failed_logins, clock())
        (event,) = first.evaluate()
        await _until(lambda: first.stats["soc"].failed_attempts == 1)
        await first.stop()
        await saving.stop()  # the last batch, as on SIGTERM
        assert [("soc", 1)] == [(row["webhook"], row["attempts"]) for _, row in StateDb(tmp_path).load(DELIVERIES, 9)]

        second, _, _ = _alerts(clock, trigger, webhooks=(webhook,))
        restoring = Persister(StateDb(tmp_path), second.tables())  # type: ignore[arg-type]
        assert {"alert_deliveries": 1, "alert_events": 1, "alert_triggers": 1} == restoring.restore()
        assert [event["id"]] == [e["id"] for e in second.history]
        assert (True, 1) == (second.states["surge"].firing, second.states["surge"].fired)
        statuses[0] = 204
        second.start(interval=3600)
        await _until(lambda: second.stats["soc"].delivered == 1)
        await second.stop()
        await restoring.stop()
        await runner.cleanup()
        assert [event["id"], event["id"]] == [json.loads(body)["id"] for body in seen]
        assert [] == StateDb(tmp_path).load(DELIVERIES, 10)

    asyncio.run(run())


def test_a_full_queue_drops_and_counts_and_saves_only_what_it_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five events for a queue of two: three are dropped and counted, and only the two queued are saved."""
    monkeypatch.setattr(alerts_module, "_QUEUE", 2)
    clock = FakeClock(1_800_000_000.0)
    triggers = [AlertTrigger(f"t{n}", "failed_logins", threshold=1) for n in range(5)]
    webhook = Webhook("soc", "http://127.0.0.1:9/hook")  # the discard port: nothing answers

    async def run() -> list[tuple[str, dict[str, Any]]]:
        alerts, servicer, _ = _alerts(clock, *triggers, webhooks=(webhook,))
        saving = Persister(StateDb(tmp_path), alerts.tables())  # type: ignore[arg-type]
        alerts.start(interval=3600)
        servicer.counters.bump(servicer.counters.failed_logins, clock())
        assert 5 == len(alerts.evaluate())
        assert 3 == alerts.stats["soc"].dropped
        await alerts.stop()
        await saving.stop()
        return StateDb(tmp_path).load(DELIVERIES, 10)

    assert 2 == len(asyncio.run(run()))


def test_an_event_starting_and_ending_is_an_alert_with_who_and_why() -> None:
    """Event mode's starts and stops (by schedule or by hand) reach the history, the decision log and the webhooks'
    payloads, once each; a Slack receiver reads what happened in words."""
    clock = FakeClock(1_800_000_000.0)
    alerts, servicer, lines = _alerts(clock, webhooks=(Webhook("chat", "http://127.0.0.1:9/x", "slack", ""),))
    book = servicer.engine.events
    book.define(parse_yaml("events: [{name: drop, endpoints: [{}]}]", "t.yaml").events[0], "ops", "for the drop")
    assert alerts.evaluate() == []  # defining one changes nothing
    book.start("drop", 30, "alice", "the drop is on")
    book.stop("drop", "bob", "sold out")
    events = alerts.evaluate()
    assert [(e["alert"], e["kind"], e["state"], e["change"]["by"]) for e in events] == [
        ("event:drop", "event", "firing", "alice"), ("event:drop", "event", "resolved", "bob"),
    ]  # fmt: skip
    assert events[0]["change"]["policies"][0] == "event:drop:strict:0"
    assert [line["alert"] for line in lines] == ["event:drop", "event:drop"]
    assert alerts.evaluate() == []  # each change once
    body, _ = render(alerts.webhooks[0], events[0], clock())
    assert json.loads(body) == {"text": "botwall: event:drop started: its endpoints have stricter policies "
                                        "(alice: the drop is on)"}  # fmt: skip
