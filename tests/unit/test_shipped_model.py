"""The shipped model on things people do that the simulator's people seldom did: none of them may be blocked.

Each came from probing an earlier default model, which refused them: a typed /login after the home page (94-99), a
browser's page right after a curl from the same address (94). A retrained model that refuses them again, or even
challenges them, fails here. The browser keeps botwall's cookie, as browsers do.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from botwall.clock import FakeClock
from botwall.config import Action, load_config
from botwall.engine import Engine, RequestContext
from botwall.lab.testing import captured_headers, form_submission, resources
from botwall.policy import Decision
from botwall.request import SOURCE_ADDRESS, build_view
from botwall.scoring.model import scorer_for

NAV = captured_headers("firefox-headless", "navigation", "http", "127.0.0.1")
XHR = captured_headers("firefox-headless", "xhr", "http", "127.0.0.1")
FORM = form_submission(NAV, "http://shop.example", "http://shop.example/login")
CURL = [("user-agent", "curl/8.5.0"), ("accept", "*/*")]
LOGIN = b"username=alice&password=wonderland-42"


class Visit:
    """One browser's requests from one address through an engine with the shipped model and the embedded defaults.

    Like a browser, it keeps botwall's cookie once a response hands it one, and reloads a challenge with it.
    """

    def __init__(self, pause: float) -> None:
        self.clock = FakeClock(1000.0)
        config = load_config(None)
        self.engine = Engine(config, resources(), scorer=scorer_for(config.model), clock=self.clock, wall=self.clock)
        self.pause = pause
        self.jar = ""
        self.challenged = 0
        self.ip = ""

    def send(
        self,
        path: str,
        headers: list[tuple[str, str]],
        method: str = "GET",
        body: bytes | None = None,
        ip: str = "198.51.100.7",
    ) -> int:
        """The score of the request (of its reload, after a challenge); a refusal fails the test at once."""
        self.clock.advance(self.pause)
        self.ip = ip
        decision, context = self._evaluate(path, headers, method, body)
        if decision.action is Action.CHALLENGE:
            self.challenged += 1
            self.jar = decision.set_cookie.split(";", 1)[0]
            decision, context = self._evaluate(path, headers, method, body)
        if "curl" not in dict(headers).get("user-agent", ""):
            assert not decision.mitigates, (path, decision)
        cookie = self.engine.response_cookie(context, 200) if not decision.mitigates else ""
        if cookie and "curl" not in dict(headers).get("user-agent", ""):
            self.jar = cookie.split(";", 1)[0]
        return decision.score

    def _evaluate(
        self, path: str, headers: list[tuple[str, str]], method: str, body: bytes | None
    ) -> tuple[Decision, RequestContext]:
        pseudo = [(":method", method), (":path", path), (":authority", "shop.example"), (":scheme", "http")]
        sent = [*headers, ("cookie", self.jar)] if self.jar else headers
        view = build_view([*pseudo, *sent], {SOURCE_ADDRESS: f"{self.ip}:5555"})
        route = self.engine.login_route(view)
        attempt = None
        if route is not None and body is not None:
            attempt = self.engine.logins.read_login(route, view.header("content-type"), body)
        return self.engine.evaluate(view, route, attempt)


@pytest.mark.parametrize("pause", [0.5, 5.0])
def test_people_who_type_addresses_are_not_blocked(pause: float) -> None:
    """The home page, then /login typed into the address bar, then the form: none is refused or challenged."""
    visit = Visit(pause)
    scores = [visit.send("/", NAV), visit.send("/login", NAV), visit.send("/login", FORM, "POST", LOGIN)]
    assert (0, True) == (visit.challenged, max(scores) < 70), scores


@pytest.mark.parametrize("pause", [0.5, 5.0])
def test_a_browser_after_a_curl_on_the_same_address(pause: float) -> None:
    """The curl is blocked (a signature); the browser that follows from the same address is not."""
    visit = Visit(pause)
    curl = visit.send("/", CURL)
    scores = [visit.send("/", NAV), visit.send("/products/3", NAV), visit.send("/login", FORM, "POST", LOGIN)]
    assert curl >= 70
    assert (0, True) == (visit.challenged, max(scores) < 70), scores


@pytest.mark.parametrize("pause", [0.5, 5.0])
def test_a_phone_that_changes_networks_mid_visit(pause: float) -> None:
    """Pages over Wi-Fi, then the page's API call from the carrier's address: the cookie carries the visit over."""
    visit = Visit(pause)
    scores = [visit.send("/", NAV, ip="73.15.2.3"), visit.send("/products/3", NAV, ip="73.15.2.3")]
    scores.append(visit.send("/api/products?q=socks", XHR, ip="172.56.2.3"))
    assert (0, True) == (visit.challenged, max(scores) < 70), scores


def test_curl_disguised_as_firefox_is_refused_from_its_first_request() -> None:
    """The README's demo: curl with Firefox's user-agent, on a freshly started botwall, is refused at once (a
    challenge it cannot pass, then a block), never let through."""
    config = load_config(None)
    engine = Engine(config, resources(), scorer=scorer_for(config.model), clock=FakeClock(1000.0))
    headers = [
        ("host", "127.0.0.1:8080"),
        ("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
        ("accept", "text/html"),
        ("accept-language", "en"),
    ]
    pseudo = [(":method", "GET"), (":path", "/"), (":authority", "127.0.0.1:8080"), (":scheme", "http")]
    actions = [engine.decide(build_view([*pseudo, *headers], {SOURCE_ADDRESS: "127.0.0.1:5555"})) for _ in range(3)]
    assert [Action.CHALLENGE, Action.BLOCK, Action.BLOCK] == [d.action for d in actions], [d.score for d in actions]


def test_rules_are_still_one_setting_away() -> None:
    """`model: {scorer: rules}` gives the same curl the rule weighting's score, and the browser nothing."""
    config = load_config(None)
    rules = replace(config, model=replace(config.model, scorer="rules"))
    engine = Engine(rules, resources(), scorer=scorer_for(rules.model), clock=FakeClock(1000.0))
    view = build_view(
        [(":method", "GET"), (":path", "/"), (":authority", "shop"), (":scheme", "http"), *CURL],
        {SOURCE_ADDRESS: "198.51.100.8:5555"},
    )
    assert 75 == engine.decide(view).score
