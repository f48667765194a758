# ruff: noqa: S311 - seeded, reproducible simulated traffic, not security
"""People: a browser tab driven by a person's habits.

A person arrives one way (typed address, a search result, a shared link, a marketing email), lands on a page, reads
it (the browser pulls in the page's stylesheet, script and logo, and asks for /favicon.ico once), clicks through the
shop with referers, goes back (from the browser's cache, no request) and sometimes signs in with their own account
(the password manager fills it; now and then they type it and mistype). Pauses are human: log-normal reading times,
seconds to tens of seconds. When botwall answers a page with its challenge (a 403 page that sets a cookie and
refreshes itself), the browser stores the cookie and reloads once, as a real browser does.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from .browsers import Localised, Site
from .clients import Browser, Scene
from .network import StaticIp

SEARCH_ENGINES = (
    ("https://www.google.com/", 0.86),
    ("https://www.bing.com/", 0.09),
    ("https://duckduckgo.com/", 0.05),
)
# Link shares: social sites send their origin as referer; messaging apps and mail clients open a fresh tab without one.
SHARED_FROM = (
    ("https://l.facebook.com/", 0.18, "fb"),
    ("https://t.co/", 0.10, ""),
    ("https://www.reddit.com/", 0.14, ""),
    ("https://lm.facebook.com/", 0.08, "fb"),
    ("https://www.pinterest.com/", 0.05, ""),
    (None, 0.45, "app"),  # WhatsApp, iMessage, Slack, Outlook: no referer
)


@dataclass
class PersonSpec:
    actor: str
    group: str  # which crowd the person belongs to in the scenario (visitors, office, cgnat, wave, search, shared...)
    build: Localised
    ip: str
    secure: bool
    start: float  # seconds after the scenario starts
    arrival: str  # typed | search | shared | email
    referer: str | None
    landing: str
    pages: int  # page views in a visit, the landing included
    seed: int
    account: tuple[str, str] | None = None  # (username, password) of the person's own account
    logins: list[int] = field(default_factory=list)  # visit indexes in which they sign in
    visits: int = 1
    visit_gap_s: float = 0.0
    typo_rate: float = 0.08


def lognormal_pause(rng: random.Random, median: float, sigma: float, lo: float, hi: float) -> float:
    return min(hi, max(lo, rng.lognormvariate(math.log(median), sigma)))


def landing_for(rng: random.Random, arrival: str, product_ids: list[int]) -> tuple[str, str | None, str]:
    """(landing path with query, referer, sec-fetch-site) for an arrival."""
    if arrival == "typed":
        return "/", None, "none"
    if arrival == "search":
        engine = rng.choices([e for e, _ in SEARCH_ENGINES], weights=[w for _, w in SEARCH_ENGINES])[0]
        # Product searches land deep; brand searches land on the home page.
        path = f"/products/{rng.choice(product_ids)}" if rng.random() < 0.7 else "/"
        return path, engine, "cross-site"
    if arrival == "email":
        pid = rng.choice(product_ids)
        campaign = rng.choice(["winter-sale", "new-arrivals", "trail-weekly"])
        return (
            f"/products/{pid}?utm_source=newsletter&utm_medium=email&utm_campaign={campaign}",
            None,
            "none",
        )
    # shared link
    ref, _, tag = rng.choices(SHARED_FROM, weights=[w for _, w, _ in SHARED_FROM])[0]
    path = f"/products/{rng.choice(product_ids)}" if rng.random() < 0.8 else "/"
    if tag == "fb":
        path += "?fbclid=IwAR" + "".join(
            rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") for _ in range(56)
        )
    elif ref == "https://t.co/":
        path += "?utm_source=twitter&utm_medium=social"
    return path, ref, ("cross-site" if ref else "none")


async def run_person(spec: PersonSpec, scene: Scene) -> None:
    rng = random.Random(spec.seed)
    browser = Browser(
        scene,
        actor=spec.actor,
        population="person",
        persona="person",
        group=spec.group,
        build=spec.build,
        ip=StaticIp(spec.ip),
        secure=spec.secure,
        keep_cookies=True,
        follow_challenge=True,
        rng=rng,
    )
    try:
        for visit in range(spec.visits):
            if visit > 0:
                await scene.pause(spec.visit_gap_s * rng.uniform(0.7, 1.3))
                if rng.random() < 0.5:
                    browser.jar.drop_session_cookies()  # the browser was closed in between
                    browser.user = None
                    browser.favicon_done = False
            if scene.stopping():
                return
            first = visit == 0
            # Someone still signed in from an earlier visit (the browser stayed open) does not sign in again.
            login = visit in spec.logins and browser.user is None
            await _visit(spec, scene, browser, rng, first=first, login=login)
    finally:
        await browser.close()


async def _visit(spec: PersonSpec, scene: Scene, b: Browser, rng: random.Random, *, first: bool, login: bool) -> None:
    product_ids = [p["id"] for p in scene.truth.products]
    site_: Site
    if first:
        landing, referer, site_ = spec.landing, spec.referer, ("cross-site" if spec.referer else "none")
    else:
        landing, referer, site_ = "/", None, "none"  # a returning visit: the bookmarked or typed address
    reply = await b.navigate(landing, referer=referer, site=site_, note=f"landing:{spec.arrival if first else 'typed'}")
    current = landing
    seen_home = landing.split("?")[0] == "/"
    views = 1
    login_at = rng.randint(1, max(1, spec.pages - 1)) if login else -1
    if reply.outcome != "ok":
        # A refused page (or a challenge that came back after its reload): a person retries once after a moment,
        # then leaves.
        await scene.pause(lognormal_pause(rng, 4, 0.5, 1.5, 15))
        reply = await b.navigate(landing, referer=referer, site=site_, note="retry")
        if reply.outcome != "ok":
            return
    while views < spec.pages or login_at >= views:
        if scene.stopping():
            return
        await scene.pause(lognormal_pause(rng, 7.0, 0.8, 1.2, 45.0))
        if views == login_at and spec.account:
            await _sign_in(spec, scene, b, rng, current)
            current = "/account"
            views += 1
            continue
        path = current.split("?")[0]
        if path == "/" or (path.startswith("/products/") and seen_home and rng.random() < 0.6):
            # click a product card on the home page (going back to it comes from the browser's cache)
            nxt, ref = f"/products/{rng.choice(product_ids)}", b.url("/")
        else:
            nxt, ref = "/", b.url(current)  # the "Shop" link in the header
            seen_home = True
        reply = await b.navigate(nxt, referer=ref, site="same-origin")
        current = nxt
        views += 1
        if reply.outcome not in ("ok",):
            # A person who meets a refusal tries once more a little later, then gives up.
            await scene.pause(lognormal_pause(rng, 5, 0.5, 2, 20))
            again = await b.navigate(nxt, referer=ref, site="same-origin", note="retry")
            if again.outcome != "ok":
                return


async def _sign_in(spec: PersonSpec, scene: Scene, b: Browser, rng: random.Random, current: str) -> None:
    assert spec.account is not None
    username, password = spec.account
    page = await b.navigate("/login", referer=b.url(current), site="same-origin")
    if page.outcome != "ok":
        return
    login_url = b.url("/login")
    # A password manager fills the form in a couple of seconds; typing takes longer and sometimes goes wrong.
    typed = rng.random() < 0.35
    await scene.pause(lognormal_pause(rng, 8.0 if typed else 3.0, 0.4, 1.5, 30.0))
    tries = [password]
    if typed and rng.random() < spec.typo_rate * 3:
        tries.insert(0, _typo(rng, password))
    resubmitted = False
    for i, pw in enumerate(tries):
        reply = await b.submit_form(
            "/login", {"username": username, "password": pw}, referer=login_url, valid=pw == password
        )
        if reply.outcome == "challenge" and reply.passed and not resubmitted:
            # The challenge page refreshed to the login form; the person fills it in again once.
            resubmitted = True
            await scene.pause(lognormal_pause(rng, 4.0, 0.4, 1.5, 20.0))
            reply = await b.submit_form(
                "/login", {"username": username, "password": pw}, referer=login_url, valid=pw == password
            )
        if reply.outcome != "ok":
            return
        if reply.status == 303:
            b.user = username
            await b.navigate("/account", referer=login_url, site="same-origin")
            return
        if i + 1 < len(tries):
            await scene.pause(lognormal_pause(rng, 5.0, 0.4, 2.0, 20.0))


def _typo(rng: random.Random, password: str) -> str:
    i = rng.randrange(len(password))
    ch = rng.choice("abcdefghijklmnopqrstuvwxyz0123456789")
    if ch == password[i]:
        ch = "#"
    return password[:i] + ch + password[i + 1 :]
