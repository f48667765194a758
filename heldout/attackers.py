# ruff: noqa: S311 - seeded, reproducible simulated traffic, not security
"""Attackers, written from public knowledge of how real toolkits and their operators work, not from what botwall
detects.

The serious ones clone the most popular browser build exactly: curl_cffi's ``chrome152`` target (Chrome's own TLS
handshake, JA4 and HTTP/2 settings, as OpenBullet 2's and most paid "undetected" kits' TLS-impersonating clients do
today) with the same header sets, in the same order, with the same values and client hints as the people on that
build, over HTTPS. They exit through residential proxies (rotating per request, or sticky per session as the
proxy vendors sell them), which are real home connections. Some keep a cookie jar and pass a cookie-and-refresh
challenge the way a browser does (storing the cookie and requesting the page again is a two-line change any
operator makes when a 403 page sets a cookie); others keep nothing.

Personas (one worker is one bot thread or task):

- ``stuffer-api``: OpenBullet-style credential stuffing of the JSON login (``POST /api/login`` with Chrome's
  ``fetch()`` header set), a fresh residential exit and TLS connection per attempt, no cookies.
- ``stuffer-form-jar``: stuffing through the HTML form like a browser (``GET /login`` then ``POST /login`` with
  origin, referer and Chrome's form header set), a sticky exit per attempt, a cookie jar kept across attempts,
  challenges followed.
- ``sprayer``: a password spray (two or three seasonal passwords across many usernames, the office's among them),
  one attempt per residential exit, low and slow.
- ``scraper-stealth``: price and stock scraping of pages and the product API, a fresh exit per request, no cookies,
  no assets (residential bandwidth is billed per GB), referers claiming a click from the home page.
- ``scraper-stealth-jar``: the careful scraper: sticky exits of 25 requests, cookie jar, challenges followed,
  browses the site graph with referers, fetches assets on its first page, pauses 1-3.5 s; after a refusal it takes
  a new exit and a fresh jar.
- ``scraper-serp``: deep links with a spoofed Google referer (``cross-site``), a fresh exit per request.
- ``scraper-wave``: hides in a wave of first visits: typed navigations, a fresh exit and no cookie per request.
- ``sneaker-bot``: a hype-sale bot: tasks with farmed accounts on static ISP proxies (residential addresses sold for
  sneaker bots), sign in through the form, then hammer the limited product's stock API and page.
- ``scraper-requests-chrome-ua``: python-requests with a copied Chrome user-agent, a session (cookie jar) and a
  meta-refresh follower, sticky residential exits.
- ``scraper-python-requests``: python-requests as it comes, from cloud servers, on the product API.
- ``fake-googlebot``: claims to be Googlebot from rented servers.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .browsers import (
    FAKE_GOOGLEBOT,
    POPULAR,
    POPULAR_LANGUAGE,
    PYTHON_REQUESTS,
    REQUESTS_AS_CHROME,
    Client,
    Localised,
)
from .clients import Browser, Reply, Scene
from .network import RotatingIp, StaticIp

STUFFERS = ("stuffer-api", "stuffer-form-jar", "sprayer")


@dataclass
class AttackerSpec:
    actor: str
    persona: str
    workers: int
    seed: int
    start: float = 0.0
    pool: list[str] = field(default_factory=list)  # residential exits or the bot's own servers
    combos: list[tuple[str, str, bool]] = field(default_factory=list)  # (username, password, valid here)
    accounts: list[tuple[str, str]] = field(default_factory=list)  # a sneaker bot's farmed accounts


def _agent(
    spec: AttackerSpec,
    scene: Scene,
    worker: int,
    rng: random.Random,
    *,
    ip: RotatingIp | StaticIp,
    keep_cookies: bool,
    follow_challenge: bool,
    build: Client = POPULAR,
    language: str = POPULAR_LANGUAGE,
    secure: bool = True,
) -> Browser:
    b = Browser(
        scene,
        actor=f"{spec.actor}/{worker}",
        population="attacker",
        persona=spec.persona,
        group=spec.persona,
        build=Localised(build, language),
        ip=ip,
        secure=secure,
        keep_cookies=keep_cookies,
        follow_challenge=follow_challenge,
        rng=rng,
    )
    b.load_assets = False
    return b


def _refused(reply: Reply) -> bool:
    return reply.outcome in ("blocked", "throttled", "deceptive") or (reply.outcome == "challenge" and not reply.passed)


async def _workers(spec: AttackerSpec, scene: Scene, body: Callable[[int, random.Random], Awaitable[None]]) -> None:
    async def run(w: int) -> None:
        rng = random.Random(spec.seed * 1000 + w)
        await asyncio.sleep(rng.uniform(0, 2.0))  # threads start staggered
        await body(w, rng)

    await asyncio.gather(*(run(w) for w in range(spec.workers)))


async def stuffer_api(spec: AttackerSpec, scene: Scene) -> None:
    combos = list(spec.combos)

    async def body(w: int, rng: random.Random) -> None:
        b = _agent(spec, scene, w, rng, ip=RotatingIp(rng, spec.pool, 1), keep_cookies=False, follow_challenge=False)
        try:
            while scene.in_window() and combos:
                user, password, valid = combos.pop()
                await b.fetch_json(
                    "POST",
                    "/api/login",
                    referer=b.url("/login"),
                    payload={"username": user, "password": password},
                    valid=valid,
                )
                await asyncio.sleep(rng.uniform(0.6, 1.6))  # the proxy round trip and the kit's delay
        finally:
            await b.close()

    await _workers(spec, scene, body)


async def stuffer_form_jar(spec: AttackerSpec, scene: Scene) -> None:
    combos = list(spec.combos)

    async def body(w: int, rng: random.Random) -> None:
        ip = RotatingIp(rng, spec.pool, 10**9)
        b = _agent(spec, scene, w, rng, ip=ip, keep_cookies=True, follow_challenge=True)
        first = True
        try:
            while scene.in_window() and combos:
                user, password, valid = combos.pop()
                ip.rotate()  # a sticky session per attempt
                page = await b.navigate(
                    "/login",
                    referer=None if first else b.url("/login"),
                    site="none" if first else "same-origin",
                )
                first = False
                if page.outcome != "ok":
                    await asyncio.sleep(rng.uniform(0.5, 1.5))
                    continue
                await asyncio.sleep(rng.uniform(0.3, 1.0))
                reply = await b.submit_form(
                    "/login", {"username": user, "password": password}, referer=b.url("/login"), valid=valid
                )
                if reply.outcome == "challenge" and reply.passed:
                    reply = await b.submit_form(
                        "/login", {"username": user, "password": password}, referer=b.url("/login"), valid=valid
                    )
                if reply.outcome == "ok" and reply.status == 303:
                    b.user = user
                    await b.navigate("/account", referer=b.url("/login"), site="same-origin", note="capture")
                    b.jar.drop("session")  # log the hit and move on
                    b.user = None
                await asyncio.sleep(rng.uniform(0.4, 1.2))
        finally:
            await b.close()

    await _workers(spec, scene, body)


async def sprayer(spec: AttackerSpec, scene: Scene) -> None:
    combos = list(spec.combos)

    async def body(w: int, rng: random.Random) -> None:
        b = _agent(spec, scene, w, rng, ip=RotatingIp(rng, spec.pool, 1), keep_cookies=False, follow_challenge=False)
        try:
            while scene.in_window() and combos:
                user, password, valid = combos.pop()
                await b.submit_form(
                    "/login", {"username": user, "password": password}, referer=b.url("/login"), valid=valid
                )
                await asyncio.sleep(rng.uniform(1.5, 3.5))  # low and slow
        finally:
            await b.close()

    await _workers(spec, scene, body)


def _catalogue_target(rng: random.Random, product_ids: list[int]) -> tuple[str, str]:
    roll = rng.random()
    if roll < 0.35:
        return f"/products/{rng.choice(product_ids)}", "page"
    if roll < 0.45:
        return "/", "page"
    if roll < 0.60:
        return "/api/products", "api"
    return f"/api/products/{rng.choice(product_ids)}", "api"


async def scraper_stealth(spec: AttackerSpec, scene: Scene) -> None:
    product_ids = [p["id"] for p in scene.truth.products]

    async def body(w: int, rng: random.Random) -> None:
        b = _agent(spec, scene, w, rng, ip=RotatingIp(rng, spec.pool, 1), keep_cookies=False, follow_challenge=False)
        try:
            while scene.in_window():
                target, kind = _catalogue_target(rng, product_ids)
                if kind == "page":
                    if rng.random() < 0.5:
                        await b.navigate(target, referer=b.url("/"), site="same-origin")
                    else:
                        await b.navigate(target, referer=None, site="none")
                else:
                    await b.fetch_json("GET", target, referer=b.url(f"/products/{rng.choice(product_ids)}"))
                await asyncio.sleep(rng.uniform(0.4, 1.2))
        finally:
            await b.close()

    await _workers(spec, scene, body)


async def scraper_stealth_jar(spec: AttackerSpec, scene: Scene) -> None:
    product_ids = [p["id"] for p in scene.truth.products]

    async def body(w: int, rng: random.Random) -> None:
        ip = RotatingIp(rng, spec.pool, 25)
        b = _agent(spec, scene, w, rng, ip=ip, keep_cookies=True, follow_challenge=True)
        b.load_assets = True  # the first page of each identity pulls its assets, like a browser with a cold cache
        current: str | None = None
        try:
            while scene.in_window():
                if current is None:
                    nxt, ref, site = "/", None, "none"
                elif current == "/":
                    nxt, ref, site = f"/products/{rng.choice(product_ids)}", b.url("/"), "same-origin"
                else:
                    nxt, ref, site = (
                        ("/", b.url(current), "same-origin")
                        if rng.random() < 0.3
                        else (f"/products/{rng.choice(product_ids)}", b.url("/"), "same-origin")
                    )
                reply = await b.navigate(nxt, referer=ref, site=site)  # type: ignore[arg-type]
                if reply.outcome == "ok":
                    b.load_assets = False  # cached from now on
                current = nxt
                if _refused(reply):
                    # burned: a new exit and a fresh identity
                    ip.rotate()
                    b.jar = type(b.jar)()
                    b.cache.clear()
                    b.load_assets = True
                    current = None
                await asyncio.sleep(rng.uniform(1.0, 3.5))
        finally:
            await b.close()

    await _workers(spec, scene, body)


async def scraper_serp(spec: AttackerSpec, scene: Scene) -> None:
    product_ids = [p["id"] for p in scene.truth.products]

    async def body(w: int, rng: random.Random) -> None:
        b = _agent(spec, scene, w, rng, ip=RotatingIp(rng, spec.pool, 1), keep_cookies=False, follow_challenge=False)
        try:
            while scene.in_window():
                target = f"/products/{rng.choice(product_ids)}" if rng.random() < 0.85 else "/"
                await b.navigate(target, referer="https://www.google.com/", site="cross-site")
                await asyncio.sleep(rng.uniform(0.4, 1.0))
        finally:
            await b.close()

    await _workers(spec, scene, body)


async def scraper_wave(spec: AttackerSpec, scene: Scene) -> None:
    product_ids = [p["id"] for p in scene.truth.products]

    async def body(w: int, rng: random.Random) -> None:
        b = _agent(spec, scene, w, rng, ip=RotatingIp(rng, spec.pool, 1), keep_cookies=False, follow_challenge=False)
        try:
            while scene.in_window():
                target = f"/products/{rng.choice(product_ids)}" if rng.random() < 0.8 else "/"
                await b.navigate(target, referer=None, site="none")
                await asyncio.sleep(rng.uniform(0.25, 0.6))
        finally:
            await b.close()

    await _workers(spec, scene, body)


async def sneaker_bot(spec: AttackerSpec, scene: Scene) -> None:
    """Each worker is one task: one farmed account on one static ISP proxy."""
    limited = min(scene.truth.products, key=lambda p: p["stock"] if p["stock"] > 0 else 10**9)["id"]
    product = f"/products/{limited}"

    async def body(w: int, rng: random.Random) -> None:
        user, password = spec.accounts[w % len(spec.accounts)]
        b = _agent(
            spec, scene, w, rng, ip=StaticIp(spec.pool[w % len(spec.pool)]), keep_cookies=True, follow_challenge=True
        )
        b.load_assets = True
        try:
            await b.navigate("/", referer=None, site="none")
            b.load_assets = False
            await b.navigate(product, referer=b.url("/"), site="same-origin")
            await b.navigate("/login", referer=b.url(product), site="same-origin")
            await asyncio.sleep(rng.uniform(0.5, 1.2))  # autofill from the task's profile
            reply = await b.submit_form(
                "/login", {"username": user, "password": password}, referer=b.url("/login"), valid=True
            )
            if reply.outcome == "ok" and reply.status == 303:
                b.user = user
                await b.navigate("/account", referer=b.url("/login"), site="same-origin")
            n = 0
            while scene.in_window():
                n += 1
                if n % 8 == 0:
                    reply = await b.navigate(product, referer=b.url("/"), site="same-origin")
                else:
                    reply = await b.fetch_json("GET", f"/api/products/{limited}", referer=b.url(product))
                await asyncio.sleep(rng.uniform(2.0, 5.0) if _refused(reply) else rng.uniform(0.35, 0.9))
        finally:
            await b.close()

    await _workers(spec, scene, body)


async def scraper_requests_chrome_ua(spec: AttackerSpec, scene: Scene) -> None:
    product_ids = [p["id"] for p in scene.truth.products]

    async def body(w: int, rng: random.Random) -> None:
        ip = RotatingIp(rng, spec.pool, 30)
        b = _agent(
            spec,
            scene,
            w,
            rng,
            ip=ip,
            keep_cookies=True,
            follow_challenge=True,
            build=REQUESTS_AS_CHROME,
            language="",
        )
        try:
            while scene.in_window():
                target = f"/products/{rng.choice(product_ids)}" if rng.random() < 0.85 else "/"
                reply = await b.navigate(target, referer=b.url("/"), site="same-origin")
                if _refused(reply):
                    ip.rotate()
                await asyncio.sleep(rng.uniform(0.5, 1.5))
        finally:
            await b.close()

    await _workers(spec, scene, body)


async def scraper_python_requests(spec: AttackerSpec, scene: Scene) -> None:
    product_ids = [p["id"] for p in scene.truth.products]
    queries = ["", "shoe", "jacket", "socks", "bottle", "pack", "mug", "poles"]

    async def body(w: int, rng: random.Random) -> None:
        b = _agent(
            spec,
            scene,
            w,
            rng,
            ip=StaticIp(spec.pool[w % len(spec.pool)]),
            keep_cookies=False,
            follow_challenge=False,
            build=PYTHON_REQUESTS,
            language="",
        )
        try:
            while scene.in_window():
                if rng.random() < 0.5:
                    q = rng.choice(queries)
                    target = "/api/products" + (f"?q={q}" if q else "")
                else:
                    target = f"/api/products/{rng.choice(product_ids)}"
                await b.request("GET", target, "fetch", check=scene.truth.check("GET", target))
                await asyncio.sleep(rng.uniform(0.2, 0.6))
        finally:
            await b.close()

    await _workers(spec, scene, body)


async def fake_googlebot(spec: AttackerSpec, scene: Scene) -> None:
    product_ids = [p["id"] for p in scene.truth.products]
    order = ["/robots.txt", "/", *[f"/products/{i}" for i in product_ids], "/login", "/sitemap.xml"]

    async def body(w: int, rng: random.Random) -> None:
        b = _agent(
            spec,
            scene,
            w,
            rng,
            ip=StaticIp(spec.pool[w % len(spec.pool)]),
            keep_cookies=False,
            follow_challenge=False,
            build=FAKE_GOOGLEBOT,
            language="",
        )
        i = 0
        try:
            while scene.in_window():
                target = order[i % len(order)]
                i += 1
                await b.request("GET", target, "navigate", check=scene.truth.check("GET", target))
                await asyncio.sleep(rng.uniform(0.3, 0.8))
        finally:
            await b.close()

    await _workers(spec, scene, body)


PERSONAS: dict[str, Callable[[AttackerSpec, Scene], Awaitable[None]]] = {
    "stuffer-api": stuffer_api,
    "stuffer-form-jar": stuffer_form_jar,
    "sprayer": sprayer,
    "scraper-stealth": scraper_stealth,
    "scraper-stealth-jar": scraper_stealth_jar,
    "scraper-serp": scraper_serp,
    "scraper-wave": scraper_wave,
    "sneaker-bot": sneaker_bot,
    "scraper-requests-chrome-ua": scraper_requests_chrome_ua,
    "scraper-python-requests": scraper_python_requests,
    "fake-googlebot": fake_googlebot,
}
# How many of a persona's first requests are left out of its figure (the targets: stuffers after 20,
# scrapers and sneaker bots after 50).
WARMUP = {name: (20 if name in STUFFERS else 50) for name in PERSONAS}


async def run_attacker(spec: AttackerSpec, scene: Scene) -> None:
    await PERSONAS[spec.persona](spec, scene)
