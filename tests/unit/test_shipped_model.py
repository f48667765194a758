"""The shipped model on things people do that the simulator's people seldom did: none of them may be blocked.

Each came from probing an earlier default model, which refused them: a typed /login after the home page (94-99), a
browser's page right after a curl from the same address (94). A retrained model that refuses them again fails here.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from botwall.clock import FakeClock
from botwall.config import load_config
from botwall.engine import Engine
from botwall.model import scorer_for
from botwall.request import SOURCE_ADDRESS, build_view
from botwall.testing import captured_headers, form_submission

NAV = captured_headers("firefox-headless", "navigation", "http", "127.0.0.1")
FORM = form_submission(NAV, "http://shop.example", "http://shop.example/login")
CURL = [("user-agent", "curl/8.5.0"), ("accept", "*/*")]
LOGIN = b"username=alice&password=wonderland-42"


class Visit:
    """One address's requests through an engine with the shipped model and the embedded defaults."""

    def __init__(self, pause: float) -> None:
        self.clock = FakeClock(1000.0)
        config = load_config(None)
        self.engine = Engine(config, scorer=scorer_for(config.model), clock=self.clock)
        self.pause = pause

    def send(self, path: str, headers: list[tuple[str, str]], method: str = "GET", body: bytes | None = None) -> int:
        self.clock.advance(self.pause)
        pseudo = [(":method", method), (":path", path), (":authority", "shop.example"), (":scheme", "http")]
        view = build_view([*pseudo, *headers], {SOURCE_ADDRESS: "198.51.100.7:5555"})
        route = self.engine.login_route(view)
        attempt = None
        if route is not None and body is not None:
            attempt = self.engine.logins.read_login(route, view.header("content-type"), body)
        decision, _ = self.engine.evaluate(view, route, attempt)
        return decision.score


@pytest.mark.parametrize("pause", [0.5, 5.0])
def test_people_who_type_addresses_are_not_blocked(pause: float) -> None:
    """The home page, then /login typed into the address bar, then the form: none reaches the block threshold."""
    visit = Visit(pause)
    scores = [visit.send("/", NAV), visit.send("/login", NAV), visit.send("/login", FORM, "POST", LOGIN)]
    assert max(scores) < 70, scores


@pytest.mark.parametrize("pause", [0.5, 5.0])
def test_a_browser_after_a_curl_on_the_same_address(pause: float) -> None:
    """The curl is blocked (a signature); the browser that follows from the same address is not."""
    visit = Visit(pause)
    curl = visit.send("/", CURL)
    scores = [visit.send("/", NAV), visit.send("/products/3", NAV), visit.send("/login", FORM, "POST", LOGIN)]
    assert curl >= 70
    assert max(scores) < 70, scores


def test_rules_are_still_one_setting_away() -> None:
    """`model: {scorer: rules}` gives the same curl the rule weighting's score, and the browser nothing."""
    config = load_config(None)
    rules = replace(config, model=replace(config.model, scorer="rules"))
    engine = Engine(rules, scorer=scorer_for(rules.model), clock=FakeClock(1000.0))
    view = build_view(
        [(":method", "GET"), (":path", "/"), (":authority", "shop"), (":scheme", "http"), *CURL],
        {SOURCE_ADDRESS: "198.51.100.8:5555"},
    )
    assert 75 == engine.decide(view).score
