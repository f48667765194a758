"""Judge the client, not the crowd: people on the attacker's browser build, behind a shared address or arriving in a
wave pass, through the engine with the shipped model and the embedded defaults; the attacker on their build does not.

The people and the attacker send the same captured header set (Chromium's, byte for byte): only what each client
does itself tells them apart.
"""

from __future__ import annotations

import random

from botwall.clock import FakeClock
from botwall.config import Action, StateSettings, load_config
from botwall.engine import Engine
from botwall.lab.testing import captured_headers, resources
from botwall.policy import Decision
from botwall.request import SOURCE_ADDRESS, build_view
from botwall.scoring.model import scorer_for
from botwall.state.store import MemoryStore

CONFIG = load_config(None)
NAVIGATION = captured_headers("chromium-headful", "navigation", "https")
XHR = captured_headers("chromium-headful", "xhr", "https")
ASSET = captured_headers("chromium-headful", "style", "https")
FIREFOX = captured_headers("firefox-headless", "navigation", "https")
SITE = "https://shop.example"
REFUSED = {Action.BLOCK, Action.THROTTLE, Action.DECEIVE}
SCORER = scorer_for(CONFIG.model)  # the shipped model


class Site:
    """The engine with the shipped model on a fake clock, and browsers that keep botwall's cookie."""

    def __init__(self) -> None:
        self.clock = FakeClock(1_000.0)
        store = MemoryStore(StateSettings(), self.clock)
        self.engine = Engine(CONFIG, resources(), scorer=SCORER, store=store, clock=self.clock)

    def request(
        self,
        method: str,
        path: str,
        ip: str,
        headers: list[tuple[str, str]],
        cookie: str = "",
        referer: str = "",
        body: bytes = b"",
        status: int = 200,
    ) -> tuple[Decision, str]:
        """One request and its response; returns the decision and the cookie the client holds afterwards."""
        extra = [("cookie", cookie)] if cookie else []
        extra += [("referer", referer)] if referer else []
        if body:
            extra.append(("content-type", "application/json"))
        pseudo = [(":method", method), (":path", path), (":authority", "shop.example"), (":scheme", "https")]
        view = build_view([*pseudo, *headers, *extra], {SOURCE_ADDRESS: f"{ip}:40000"})
        route = self.engine.login_route(view)
        login = self.engine.logins.read_login(route, "application/json", body) if route is not None else None
        decision, context = self.engine.evaluate(view, route, login)
        if decision.set_cookie:  # a challenge: the browser takes the cookie and reloads
            return decision, decision.set_cookie.split(";", 1)[0]
        if decision.mitigates:
            return decision, cookie
        self.engine.record_response(context, status, [])
        handed = self.engine.response_cookie(context, status)
        return decision, handed.split(";", 1)[0] if handed else cookie


def _person(site: Site, rng: random.Random, ip: str, user: str, pages: int = 4) -> list[Decision]:
    """A person's visit on the popular build: a typed-in first page (reloaded if challenged), assets, pages with
    referers, then the login page and a login (a typo first, now and then)."""
    decisions = []
    decision, cookie = site.request("GET", "/", ip, NAVIGATION)
    decisions.append(decision)
    if decision.action is Action.CHALLENGE:
        site.clock.advance(0.3)
        decision, cookie = site.request("GET", "/", ip, NAVIGATION, cookie)
        decisions.append(decision)
    here = f"{SITE}/"
    for page in range(pages):
        for asset in ("/static/app.css", "/static/app.js"):
            site.clock.advance(0.05)
            decisions.append(site.request("GET", asset, ip, ASSET, cookie, here)[0])
        site.clock.advance(rng.uniform(3.0, 20.0))
        path = f"/products/{rng.randint(1, 40)}" if page < pages - 1 else "/login"
        decision, cookie = site.request("GET", path, ip, NAVIGATION, cookie, here)
        decisions.append(decision)
        here = f"{SITE}{path}"
    for attempt in range(1 + (rng.random() < 0.2)):
        site.clock.advance(rng.uniform(4.0, 12.0))
        body = f'{{"username": "{user}", "password": "{user[:6]}-pw-{attempt}"}}'.encode()
        status = 200 if attempt or rng.random() < 0.8 else 401
        decisions.append(site.request("POST", "/api/login", ip, XHR, cookie, here, body, status)[0])
        if status == 200:
            break
    return decisions


def test_people_on_the_stuffers_build_pass_while_the_stuffer_is_refused() -> None:
    """A credential stuffer sending exactly the people's Chromium headers from a fresh address per attempt, among
    people on that build browsing and logging in: no person's request is refused, nobody holding the cookie is
    challenged, and the stuffer is refused from its 20th attempt on."""
    site, rng = Site(), random.Random(12)  # noqa: S311 - a reproducible mix, not security
    people: list[list[Decision]] = []
    stuffer: list[Decision] = []
    for n in range(60):
        if n % 2 == 0:
            people.append(_person(site, rng, f"73.15.{n}.{n + 10}", f"person{n}@mail.example"))
        for k in range(2):
            site.clock.advance(rng.uniform(0.5, 2.0))
            ip = f"99.100.{n}.{k + 100}"
            body = f'{{"username": "victim{n}-{k}@mail.example", "password": "leaked-{n}-{k}"}}'.encode()
            stuffer.append(site.request("POST", "/api/login", ip, XHR, body=body, status=401)[0])
    refused = [(d.action, d.reasons) for visit in people for d in visit if d.action in REFUSED]
    challenged = [visit for visit in people if sum(d.action is Action.CHALLENGE for d in visit) > 1]
    assert [] == refused
    assert [] == challenged
    assert all(d.action in REFUSED for d in stuffer[20:]), [(d.action, d.score, d.own) for d in stuffer[20:]]


def test_an_office_behind_one_address_logs_in_without_refusals() -> None:
    """Forty colleagues behind one NAT address, each with a browser of their own, browse and log in within a quarter
    of an hour (a few mistype): the address's many usernames are a crowd's, and nobody is refused."""
    site, rng = Site(), random.Random(7)  # noqa: S311 - a reproducible mix, not security
    visits = [_person(site, rng, "198.51.100.200", f"colleague{n}@corp.example", pages=3) for n in range(40)]
    refused = [(d.action, d.score, d.reasons) for visit in visits for d in visit if d.action in REFUSED]
    assert [] == refused


def test_a_wave_of_first_visits_is_not_challenged() -> None:
    """Four hundred people open a marketing email within four minutes: one typed-in first page each (no cookie, no
    referer), on Chromium and Firefox. A popular build with many first visits is a busy site, not a crawler: fewer
    than 3 % of them are challenged, and none is refused."""
    site, rng = Site(), random.Random(5)  # noqa: S311 - a reproducible mix, not security
    firsts = []
    for n in range(400):
        site.clock.advance(rng.expovariate(400 / 240.0))
        headers = NAVIGATION if n % 4 else FIREFOX
        decision, cookie = site.request(
            "GET", f"/products/{rng.randint(1, 20)}", f"24.4.{n // 200}.{n % 200 + 1}", headers
        )
        firsts.append(decision)
        site.clock.advance(0.05)
        site.request("GET", "/static/app.css", f"24.4.{n // 200}.{n % 200 + 1}", ASSET, cookie, SITE + "/")
    challenged = sum(d.action is Action.CHALLENGE for d in firsts)
    assert [] == [d for d in firsts if d.action in REFUSED]
    assert challenged < 0.03 * len(firsts), challenged


def _clicked(headers: list[tuple[str, str]], site: str) -> list[tuple[str, str]]:
    """A navigation's headers as a click on a link sends them: `sec-fetch-site` says where the link was."""
    return [(n, site if n == "sec-fetch-site" else v) for n, v in headers]


def test_a_spoofed_click_without_cookies_is_challenged_and_people_clicking_links_are_not() -> None:
    """A scraper claiming clicks from the home page (a same-site referer) with no cookies, from a new residential
    address per page, on the people's build: every page it asks for gets the challenge, whatever the model says,
    and none is refused outright. People are never refused and never carry the scraper's reason: those clicking the
    shop's links (they hold the cookie its pages hand out), those landing from a search engine, and a person whose
    browser keeps no cookies but loaded the referring page from its address. People's clicks with the cookie are let
    through. (First visits, and that cookieless browser, may be challenged while the scraper's cold pages swamp the
    build: the crowd's evidence, which the wave test bounds.) A person who opens a link without the cookie is
    challenged this way, reloads with the cookie and passes."""
    site, rng = Site(), random.Random(3)  # noqa: S311 - a reproducible mix, not security
    clicked = _clicked(NAVIGATION, "same-origin")
    google = _clicked(NAVIGATION, "cross-site")
    scraper, people, clicks, cookieless_clicks = [], [], [], []
    for n in range(60):
        site.clock.advance(rng.uniform(0.5, 2.0))
        path = f"/products/{rng.randint(1, 40)}"
        scraper.append(site.request("GET", path, f"71.{n % 7}.{n}.{n + 20}", clicked, referer=f"{SITE}/")[0])
        if n % 3:
            continue
        visit = _person(site, rng, f"73.20.{n}.{n + 5}", f"reader{n}@mail.example", pages=2)
        people += visit
        clicks += [d for d in visit[1:] if d.action is not Action.CHALLENGE]  # after the first page: the cookie's
        people.append(site.request("GET", path, f"73.21.{n}.9", google, referer="https://www.google.com/")[0])
        cookieless = f"73.22.{n}.9"  # no cookie ever kept, so the first page has no challenge to pass
        site.request("GET", "/", cookieless, NAVIGATION)
        site.clock.advance(4.0)
        cookieless_clicks.append(site.request("GET", path, cookieless, clicked, referer=f"{SITE}/")[0])
    assert all(d.action is Action.CHALLENGE for d in scraper), [(d.action, d.score, d.reasons) for d in scraper]
    assert all("beh:orphan-referer" in d.reasons for d in scraper)
    assert [] == [(d.action, d.reasons) for d in people + clicks + cookieless_clicks if d.action in REFUSED]
    assert [] == [d.reasons for d in people + clicks + cookieless_clicks if "beh:orphan-referer" in d.reasons]
    assert [] == [(d.action, d.score, d.reasons) for d in clicks if d.action is not Action.ALLOW]
    decision, cookie = site.request("GET", "/products/3", "73.23.1.1", clicked, referer=f"{SITE}/")
    assert decision.action is Action.CHALLENGE
    site.clock.advance(0.3)
    again, _ = site.request("GET", "/products/3", "73.23.1.1", clicked, cookie, f"{SITE}/")
    assert again.action is Action.ALLOW, (again.action, again.score, again.reasons)
