"""Mitigations that follow a campaign (`botwall.mitigations`), through the engine with the shipped model on a fake
clock: a tool that rotates its address and user-agent and whose tells weigh too little to refuse on is let through by
scoring alone, and refused once its mitigation is live; people are never touched; a tell-set that browsers with a
clean history carry too is discarded after its shadow period; mitigations expire, and an operator pins, shortens and
revokes them, each change in the audit trail."""

from __future__ import annotations

import random
import re
from dataclasses import replace

import pytest

from botwall.clock import FakeClock
from botwall.config import Action, AutomationSettings, StateSettings, load_config, parse_config
from botwall.engine import Engine
from botwall.errors import ConfigError
from botwall.lab.testing import captured_headers, resources
from botwall.policy import Decision
from botwall.request import SOURCE_ADDRESS, build_view
from botwall.scoring.model import scorer_for

XHR = captured_headers("chromium-headful", "xhr", "https")
NAVIGATION = captured_headers("chromium-headful", "navigation", "https")
FIREFOX = captured_headers("firefox-headless", "navigation", "https")
LANGUAGES = ("en-US,en;q=0.9", "en-GB,en;q=0.9", "de-DE,de;q=0.9,en;q=0.8", "fr-FR,fr;q=0.9", "es-ES,es;q=0.9")
REFUSED = {Action.BLOCK, Action.THROTTLE, Action.DECEIVE}
SCORER = scorer_for(load_config(None).model)


class Site:
    """The engine with the embedded defaults and the shipped model, on one fake clock for windows and wall time."""

    def __init__(self, automation: AutomationSettings | None = None) -> None:
        config = load_config(None)
        if automation is not None:
            config = replace(config, automation=automation)
        self.clock = FakeClock(1_800_000_000.0)
        from botwall.state.store import MemoryStore

        store = MemoryStore(StateSettings(), self.clock)
        self.engine = Engine(config, resources(), scorer=SCORER, store=store, clock=self.clock, wall=self.clock)
        self.rng = random.Random(7)  # noqa: S311 - a reproducible mix, not security

    def request(self, path: str, ip: str, headers: list[tuple[str, str]], cookie: str = "") -> tuple[Decision, str]:
        pseudo = [(":method", "GET"), (":path", path), (":authority", "shop.example"), (":scheme", "https")]
        extra = [("cookie", cookie)] if cookie else []
        view = build_view([*pseudo, *headers, *extra], {SOURCE_ADDRESS: f"{ip}:40000"})
        decision, context = self.engine.evaluate(view)
        if decision.mitigates:
            return decision, decision.set_cookie.split(";", 1)[0] if decision.set_cookie else cookie
        self.engine.record_response(context, 200, [])
        handed = self.engine.response_cookie(context, 200)
        return decision, handed.split(";", 1)[0] if handed else cookie

    def tool(self) -> Decision:
        """One request of the rotating tool: Chrome's fetch() headers less its client hints (one tell, 35 points),
        a new Chrome version and language each time, a new residential address each time."""
        rng = self.rng
        version = f"Chrome/{rng.randint(120, 152)}.0.{rng.randint(1000, 7000)}.{rng.randint(10, 200)}"
        headers = []
        for name, value in XHR:
            if name.startswith("sec-ch-ua"):
                continue
            if name == "user-agent":
                value = re.sub(r"Chrome/[0-9.]+", version, value)
            if name == "accept-language":
                value = rng.choice(LANGUAGES)
            headers.append((name, value))
        address = f"73.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        decision, _ = self.request(f"/api/products/{rng.randint(1, 40)}", address, headers)
        self.clock.advance(1.5)
        return decision

    def person(self, n: int) -> list[Decision]:
        """A person's visit: a page, then three more with the cookie the first handed out."""
        ip, headers = f"24.{n % 200}.{n // 200}.9", NAVIGATION if n % 3 else FIREFOX
        decision, cookie = self.request("/", ip, headers)
        visit = [decision]
        for page in range(3):
            self.clock.advance(2.0)
            visit.append(self.request(f"/products/{page + 1}", ip, headers, cookie)[0])
        return visit


def _campaign(site: Site) -> tuple[list[Decision], list[Decision]]:
    """300 requests of the rotating tool, with a person's visit of four pages every fifth of them."""
    tool, people = [], []
    for n in range(300):
        tool.append(site.tool())
        if n % 5 == 0:
            people += site.person(n)
    return tool, people


def test_a_rotating_tool_is_refused_once_its_mitigation_is_live_and_people_are_not_touched() -> None:
    site = Site()
    tool, people = _campaign(site)
    rows = site.engine.mitigations.describe()
    assert [row["state"] for row in rows] == ["live"], rows
    mitigation = rows[0]
    assert mitigation["tells"] == ["hdr:chrome-without-client-hints"]
    assert mitigation["collateral"] == 0
    assert mitigation["spared"] == 0
    # It went live after 20 requests and a minute of shadow; from then on, nothing of the tool's gets through.
    live_from = next(i for i, d in enumerate(tool) if d.policy.startswith("mitigation:"))
    assert 40 <= live_from <= 70
    assert all(d.action in REFUSED for d in tool[live_from:])
    followed = [d for d in tool if d.policy.startswith("mitigation:")]
    assert all("mit:campaign-tells" in d.reasons for d in followed)
    assert mitigation["hits"] == len(followed)
    assert [] == [(d.action, d.policy, d.reasons) for d in people if d.action in REFUSED]

    # Scoring alone, on the same traffic: most of the tool's requests after that point get through.
    alone = Site(AutomationSettings(mitigations=False))
    tool_alone, people_alone = _campaign(alone)
    passed_alone = sum(d.action is Action.ALLOW for d in tool_alone[live_from:])
    assert passed_alone > 0.5 * (len(tool) - live_from), passed_alone
    assert alone.engine.mitigations.describe() == []
    assert [] == [d for d in people_alone if d.action in REFUSED]

    audit = [(entry["action"], entry["by"]) for entry in site.engine.events.audit]
    assert audit == [("mitigation_create", "automation"), ("mitigation_live", "automation")]


def test_tells_that_clean_cookie_holders_carry_are_discarded_after_the_shadow_period() -> None:
    """The same tell-set from browsers that keep botwall's cookie and behave (people on a browser build that happens
    to send no client hints, say) is collateral: the mitigation never goes live and nobody is refused by it."""
    site = Site()
    tool = [site.tool() for _ in range(25)]  # enough for a mitigation in shadow
    assert [row["state"] for row in site.engine.mitigations.describe()] == ["shadow"]
    browser = [(n, v) for n, v in NAVIGATION if not n.startswith("sec-ch-ua")]
    _, cookie = site.request("/", "24.1.1.1", browser)
    during = []
    for page in range(40):
        site.clock.advance(2.0)
        during.append(site.request(f"/products/{page % 9 + 1}", "24.1.1.1", browser, cookie)[0])
        tool.append(site.tool())
    rows = site.engine.mitigations.describe()
    assert [row["state"] for row in rows] == ["discarded"], rows
    assert rows[0]["collateral"] > 0
    assert not any(d.policy.startswith("mitigation:") for d in tool + during)
    assert ("mitigation_discarded", "automation") in [(e["action"], e["by"]) for e in site.engine.events.audit]


def test_a_live_mitigation_spares_a_clean_cookie_holder_and_ends_when_the_campaign_stops() -> None:
    site = Site(AutomationSettings(shadow_seconds=30.0, ttl_seconds=300.0))
    for _ in range(60):
        site.tool()
    [row] = site.engine.mitigations.describe()
    assert row["state"] == "live"
    # A browser without client hints that kept its cookie and has behaved is let through, and counted as spared.
    browser = [(n, v) for n, v in NAVIGATION if not n.startswith("sec-ch-ua")]
    _, cookie = site.request("/", "24.2.2.2", NAVIGATION)
    site.clock.advance(3.0)
    decision, _ = site.request("/products/2", "24.2.2.2", browser, cookie)
    assert decision.action is Action.ALLOW, (decision.action, decision.policy, decision.reasons)
    assert site.engine.mitigations.describe()[0]["spared"] == 1
    # The campaign stops: the mitigation expires ttl_seconds after its tells were last seen.
    site.clock.advance(301.0)
    site.request("/", "24.3.3.3", NAVIGATION)
    site.engine.mitigations.tick(site.clock())
    assert [row["state"] for row in site.engine.mitigations.describe()] == ["expired"]
    assert site.engine.events.audit[-1]["action"] == "mitigation_expired"


def test_an_operator_pins_shortens_and_revokes() -> None:
    site = Site(AutomationSettings(shadow_seconds=30.0, ttl_seconds=300.0))
    for _ in range(25):
        site.tool()
    book = site.engine.mitigations
    [row] = book.describe()
    book.pin(row["id"], "alice", "confirmed by the SOC")  # a shadow one goes live at once
    assert book.describe()[0]["state"] == "live"
    assert book.describe()[0]["expires"] is None
    site.clock.advance(10_000.0)
    book.tick(site.clock())
    assert book.describe()[0]["state"] == "live"  # pinned: the quiet campaign does not end it
    book.shorten(row["id"], 1.0, "bob", "false alarm?")
    site.clock.advance(61.0)
    book.tick(site.clock())
    assert book.describe()[0]["state"] == "expired"
    for _ in range(60):  # it comes back: followed afresh, a new mitigation
        site.tool()
    fresh = book.describe()[0]
    assert fresh["id"] != row["id"]
    book.revoke(fresh["id"], "carol", "a partner's integration")
    assert book.describe()[0]["state"] == "revoked"
    assert not any(site.tool().policy.startswith("mitigation:") for _ in range(100))  # not followed again
    actions = [(e["action"], e["by"].split(" ")[0]) for e in site.engine.events.audit]
    assert ("mitigation_pin", "alice") in actions
    assert ("mitigation_shorten", "bob") in actions
    assert ("mitigation_revoked", "carol") in actions
    with pytest.raises(KeyError):
        book.revoke(fresh["id"], "dave", "twice")


def test_the_config_names_the_key_and_what_was_expected() -> None:
    config = parse_config({"automation": {"mitigations": False, "shadow_seconds": 120}}, "botwall.yaml")
    assert config.automation == AutomationSettings(mitigations=False, shadow_seconds=120.0)
    for raw, key in (
        ({"mitigations": "yes"}, "automation.mitigations"),
        ({"min_requests": 1}, "automation.min_requests"),
        ({"ttl_seconds": -1}, "automation.ttl_seconds"),
        ({"tells": []}, "automation"),
    ):
        with pytest.raises(ConfigError) as error:
            parse_config({"automation": raw}, "botwall.yaml")
        assert str(error.value).startswith(f"botwall.yaml: {key}"), str(error.value)
