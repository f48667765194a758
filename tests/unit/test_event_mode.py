"""Event mode (`botwall.events`): an event's policies run by its schedule or by hand, in front of the config's own,
on its endpoints only; the expected load rises ahead of the start; every change is audited."""

from __future__ import annotations

import datetime

import pytest

from botwall.clock import FakeClock
from botwall.config import Action, ConfigError, StateSettings, parse_yaml
from botwall.engine import Engine
from botwall.events import EventBook
from botwall.lab.testing import captured_headers, resources
from botwall.request import SOURCE_ADDRESS, RequestView, build_view
from botwall.state.store import MemoryStore

START = datetime.datetime(2026, 12, 6, 15, 0, tzinfo=datetime.UTC).timestamp()
CONFIG = """
policies:
  - name: bots
    min_score: 70
    action: block
events:
  - name: spring-drop
    endpoints: [{path: {prefix: /products/}}, {path: {exact: /api/cart}, methods: [POST]}]
    start: 2026-12-06T15:00:00Z
    end: 2026-12-06T16:00:00Z
    expected_rps: 400
    prewarm_minutes: 10
    min_score: 50
    quotas:
      - {match: {path: {exact: /api/cart}, methods: [POST]}, key: token, requests: 1, per_seconds: 10}
  - name: flash-sale
    endpoints: [{path: {prefix: /sale/}}]
"""
BROWSER = captured_headers("firefox-headless", "navigation", "http", "shop.test")
XHR = captured_headers("firefox-headless", "xhr", "http", "shop.test")


def _view(path: str, method: str = "GET", headers: list[tuple[str, str]] = BROWSER, cookie: str = "") -> RequestView:
    pseudo = [(":method", method), (":path", path), (":authority", "shop.example"), (":scheme", "http")]
    extra = [("cookie", cookie)] if cookie else []
    return build_view([*pseudo, *headers, *extra], {SOURCE_ADDRESS: "198.51.100.7:1234"})


def test_a_scheduled_event_runs_its_window_and_is_audited() -> None:
    wall = FakeClock(START - 3600)
    book = EventBook(parse_yaml(CONFIG, "t.yaml"), wall)
    base = book.base
    assert book.config(wall()) is base
    assert book.expected_load(wall()) == 0.0
    wall.advance(3600 - 300)  # five minutes before: the gauge rises, the policies wait
    assert book.expected_load(wall()) == 400.0
    assert book.config(wall()) is base
    wall.advance(301)
    running = book.config(wall())
    names = [p.name for p in running.policies]
    assert names == [
        "event:spring-drop:strict:0", "event:spring-drop:strict:1", "event:spring-drop:new-clients:0",
        "event:spring-drop:new-clients:1", "event:spring-drop:token:0", "event:spring-drop:token:1",
        "event:spring-drop:quota:0", "bots",
    ]  # fmt: skip
    assert [e["state"] for e in book.describe(wall())] == ["running", "idle"]
    assert book.stop("spring-drop", "alice@soc", "a false alarm")
    assert book.config(wall() + 2) is base  # stopped by hand: the schedule does not start it again
    assert book.start("spring-drop", 5, "alice@soc", "the drop is on after all").by == "alice@soc"
    wall.advance(301)
    assert book.config(wall()) is base  # the five minutes are over
    audit = [(a["by"], a["action"], a["target"]) for a in book.audit]
    assert audit == [
        ("schedule", "event_start", "spring-drop"), ("alice@soc", "event_stop", "spring-drop"),
        ("alice@soc", "event_start", "spring-drop"), ("expiry", "event_stop", "spring-drop"),
    ]  # fmt: skip
    assert book.audit[1]["why"] == "a false alarm"
    assert len(book.transitions) == 4
    with pytest.raises(KeyError):
        book.start("no-such-event", 5, "x", "y")


def test_while_an_event_runs_its_endpoints_are_stricter_and_people_get_through() -> None:
    wall = FakeClock(START - 60)
    clock = FakeClock()
    engine = Engine(parse_yaml(CONFIG, "t.yaml"), resources(), store=MemoryStore(StateSettings(), clock), wall=wall)
    assert engine.decide(_view("/products/1")).action is Action.ALLOW  # before the drop: nothing changes
    wall.advance(120)
    first = engine.decide(_view("/products/1"))
    assert (first.action, first.policy) == (Action.CHALLENGE, "event:spring-drop:new-clients:0")
    assert engine.decide(_view("/about")).action is Action.ALLOW  # not one of the event's endpoints
    cookie = first.set_cookie.split(";", 1)[0]
    assert engine.decide(_view("/products/1", cookie=cookie)).action is Action.ALLOW  # the browser is back
    # A cart post without botwall's cookie (a script straight to the cart) is refused; the browser's goes through.
    tokenless = engine.decide(_view("/api/cart", "POST", XHR))
    assert (tokenless.action, tokenless.policy) == (Action.BLOCK, "event:spring-drop:token:1")
    form = engine.decide(_view("/products/1", "POST"))  # a form post is no page view to challenge
    assert (form.action, form.policy) == (Action.BLOCK, "event:spring-drop:token:0")
    cart = engine.decide(_view("/api/cart", "POST", XHR, cookie))
    assert cart.action is Action.ALLOW
    again = engine.decide(_view("/api/cart", "POST", XHR, cookie))
    assert (again.action, again.policy) == (Action.THROTTLE, "event:spring-drop:quota:0")
    assert again.retry_after >= 9
    wall.advance(1)
    clock.advance(10)
    assert engine.decide(_view("/api/cart", "POST", XHR, cookie)).action is Action.ALLOW
    tool = engine.decide(_view("/products/1", headers=[("user-agent", "python-requests/2.32"), ("accept", "*/*")]))
    assert (tool.action, tool.policy) == (Action.BLOCK, "event:spring-drop:strict:0")
    # The same cookie on a cart post from a network it was never seen on (a farmed cookie spent from another exit)
    # counts as none; a page view from there (a person whose phone left the wifi reloads) makes it that browser's.
    elsewhere = build_view(
        [(":method", "POST"), (":path", "/api/cart"), (":authority", "shop.example"), (":scheme", "http"), *XHR,
         ("cookie", cookie)], {SOURCE_ADDRESS: "203.0.113.50:1234"},
    )  # fmt: skip
    roaming = engine.decide(elsewhere)
    assert (roaming.action, roaming.policy) == (Action.BLOCK, "event:spring-drop:token:1")
    page_there = build_view(
        [(":method", "GET"), (":path", "/products/1"), (":authority", "shop.example"), (":scheme", "http"), *BROWSER,
         ("cookie", cookie)], {SOURCE_ADDRESS: "203.0.113.50:1234"},
    )  # fmt: skip
    assert engine.decide(page_there).action is Action.ALLOW
    clock.advance(10)
    assert engine.decide(elsewhere).action is Action.ALLOW


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ("{name: a, endpoints: []}", "events[0].endpoints"),
        ("{name: a, endpoints: [{}], start: 2026-12-06T15:00:00Z}", "events[0].end"),
        ("{name: a, endpoints: [{}], start: 2026-12-06T15:00:00Z, end: 2026-12-06T14:00:00Z}", "events[0].end"),
        ("{name: a, endpoints: [{}], start: '2026-12-06 15:00', end: '2026-12-06 16:00'}", "events[0].start"),
        ("{name: 'a b', endpoints: [{}]}", "events[0].name"),
        ("{name: a, endpoints: [{}], quotas: [{match: {}, key: session, per_seconds: 5}]}", "events[0].quotas[0].key"),
        ("{name: a, endpoints: [{}], surge: true}", "events[0]"),
    ],
)
def test_a_malformed_event_names_its_key(event: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_yaml(f"events:\n  - {event}\n", "botwall.yaml")
    assert message in str(error.value)
    assert "botwall.yaml" in str(error.value)
