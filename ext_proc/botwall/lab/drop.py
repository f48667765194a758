"""A simulated product drop through real Envoy + botwall + the demo shop, played without and with event mode.

People refresh the product page around the release, pass botwall's challenge like a browser (keep the cookie, follow
the page's reload) and add to cart once or twice at human speed; sneaker bots clone a popular browser's headers
exactly, rotate residential exits, poll the stock API before the release and hammer the cart at it. Each scenario
pits the same people against one bot persona and is played twice on a fresh stack, with the same seeded plan: on
botwall's embedded defaults, then with an `events:` entry over the product page, its API and the cart. The shop's
ledger is the truth: a cart counts only with an order id the shop sold. Scenarios are reported apart, never pooled.

The personas are written the way their authors would write them, from the shop's pages and the answers they get (a
403 that sets a cookie and reloads itself, a 429), not from botwall's detectors, so they measure and do not flatter.

    python -m botwall.lab.drop --seed 1 --out drop.json      # `make drop`: every scenario, about 90 s on 2 cores
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import ipaddress
import json
import random
import re
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from botwall.config import DEFAULT_CONFIG_YAML
from botwall.deploy.gateway import EnvoySettings, render_gateway
from botwall.lab.demo.shop import BackgroundShop
from botwall.lab.stack import start_botwall, start_envoy
from botwall.lab.testing import captured_headers

PRODUCT = 1  # the shoes
PAGE = f"/products/{PRODUCT}"
STOCK_API = f"/api/products/{PRODUCT}"
CART = "/api/cart"
CART_BODY = json.dumps({"product": PRODUCT}).encode()

# The event an operator would load before the drop: the product page, its stock API and the cart get the strict
# profile, page views without botwall's cookie are challenged, and each client (its token) gets one cart attempt per
# 10 seconds.
EVENT_YAML = """
events:
  - name: shoe-drop
    endpoints:
      - {{path: {{prefix: /products/}}}}
      - {{path: {{prefix: /api/products/}}}}
      - {{path: {{exact: /api/cart}}, methods: [POST]}}
    start: {start}
    end: {end}
    expected_rps: 200
    min_score: 50
    challenge_new_clients: true
    quotas:
      - {{match: {{path: {{exact: /api/cart}}, methods: [POST]}}, key: token, requests: 1, per_seconds: 10}}
"""

# Home connections of large ISPs (real allocations, none of them hosting): people live there, and residential proxy
# networks rent exits there, so bots draw from the same blocks (never an address a person uses).
RESIDENTIAL = (
    "73.0.0.0/8", "98.210.0.0/16", "99.33.0.0/16", "68.100.0.0/16", "71.170.0.0/16", "108.20.0.0/16",
    "174.100.0.0/16", "97.80.0.0/16", "79.200.0.0/16", "84.150.0.0/16", "86.150.0.0/16", "86.10.0.0/16",
    "90.12.0.0/16",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Size:
    """How big a drop is, and how fast people act (`pace` below 1 makes people quicker: never for figures)."""

    people: int = 20
    bot_tasks: int = 12
    stock: int = 10
    lead: float = 8.0  # seconds from the start of the run to the release
    tail: float = 8.0  # seconds the run goes on after the release
    pace: float = 1.0  # multiplies people's pauses


@dataclass(frozen=True, slots=True)
class Persona:
    """A sneaker bot's way of working, as its author configures it."""

    name: str
    about: str
    cookies: str  # "none" (drops every cookie), "jar" (one jar per task), "farm" (harvested, one per attempt)
    rotate: bool  # a new residential exit per request (else one sticky exit per task)


SCENARIOS: dict[str, Persona] = {
    p.name: p
    for p in (
        Persona("rotating", "a new residential exit per request, no cookies, straight to the API", "none", True),
        Persona("cookie-jar", "a sticky exit and a cookie jar per task, challenges passed like a browser", "jar",
                False),
        Persona("cookie-farm", "cookies harvested before the drop from fresh exits, a fresh cookie and exit per cart "
                "attempt", "farm", True),
    )
}  # fmt: skip


# --- clients: one HTTP/1.1 request through Envoy with exactly the headers a client sends -------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """What came back, and how the client reads it: served, challenged (a 403 that sets botwall's cookie and reloads
    itself) or refused (any other 403, or a 429); the shop itself never answers 403 or 429."""

    status: int
    body: bytes
    set_cookies: tuple[str, ...]
    verdict: str

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


_REFRESH = re.compile(rb"http-equiv=[\"']?refresh", re.IGNORECASE)


def classify(status: int, set_cookies: Sequence[str], body: bytes) -> str:
    """How a client reads an answer (see `Reply`): served, challenged or refused."""
    if status == 403 and any(c.startswith("__bw=") for c in set_cookies) and _REFRESH.search(body):
        return "challenged"
    return "refused" if status in (403, 429) else "served"


def send(port: int, method: str, path: str, headers: Sequence[tuple[str, str]], body: bytes | None = None) -> Reply:
    """One request to Envoy on loopback, with these headers in this order after Host (nothing added)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders(body)
        response = conn.getresponse()
        cookies = tuple(v for k, v in response.getheaders() if k.lower() == "set-cookie")
        data = response.read()
        return Reply(response.status, data, cookies, classify(response.status, cookies, data))
    finally:
        conn.close()


@dataclass(frozen=True, slots=True)
class Browser:
    """A real browser build, from the header profiles captured through Envoy (`captured_headers`)."""

    family: str  # "chrome" or "firefox": where each adds the headers its captures do not show
    client: str

    def headers(self, kind: str) -> list[tuple[str, str]]:
        return captured_headers(self.client, kind, "http", "127.0.0.1")


CHROME = Browser("chrome", "chromium-headful")
FIREFOX = Browser("firefox", "firefox-headless")


def _put(headers: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    return [(n, value if n == name else v) for n, v in headers]


def _insert(headers: list[tuple[str, str]], after: str, pair: tuple[str, str]) -> list[tuple[str, str]]:
    names = [n for n, _ in headers]
    at = names.index(after) + 1 if after in names else len(headers)
    return [*headers[:at], pair, *headers[at:]]


def with_cookie(browser: Browser, headers: list[tuple[str, str]], cookie: str) -> list[tuple[str, str]]:
    """The cookie header where the browser puts it: Chrome last, Firefox before its fetch metadata."""
    if not cookie:
        return headers
    if browser.family == "chrome":
        return [*headers, ("cookie", cookie)]
    names = [n for n, _ in headers]
    at = next((names.index(n) for n in ("upgrade-insecure-requests", "sec-fetch-dest") if n in names), len(names))
    return [*headers[:at], ("cookie", cookie), *headers[at:]]


def navigation(browser: Browser) -> list[tuple[str, str]]:
    """A typed address or a bookmark."""
    return browser.headers("navigation")


def f5_reload(browser: Browser) -> list[tuple[str, str]]:
    """The same navigation again with the reload button: the browser revalidates (`cache-control: max-age=0`)."""
    pair = ("cache-control", "max-age=0")
    nav = browser.headers("navigation")
    return [pair, *nav] if browser.family == "chrome" else [*nav, pair]


def meta_refresh(browser: Browser) -> list[tuple[str, str]]:
    """The reload a `<meta http-equiv=refresh>` makes: same origin, no user activation."""
    nav = [(n, v) for n, v in browser.headers("navigation") if n != "sec-fetch-user"]
    return _put(nav, "sec-fetch-site", "same-origin")


def subresource(browser: Browser, kind: str, referer: str) -> list[tuple[str, str]]:
    """A stylesheet, script or image the page pulls in."""
    return _put(browser.headers(kind), "referer", referer)


def fetch_post(browser: Browser, origin: str, referer: str, length: int) -> list[tuple[str, str]]:
    """The page's `fetch("/api/cart", {method: "POST", ...})` with a JSON body."""
    xhr = _put(browser.headers("xhr"), "referer", referer)
    if browser.family == "chrome":
        xhr = [("content-length", str(length)), *xhr]
        xhr = _insert(xhr, "sec-ch-ua", ("content-type", "application/json"))
        return _insert(xhr, "accept", ("origin", origin))
    xhr = _insert(xhr, "referer", ("content-type", "application/json"))
    xhr = _insert(xhr, "content-type", ("content-length", str(length)))
    return _insert(xhr, "content-length", ("origin", origin))


def xhr_get(browser: Browser, referer: str) -> list[tuple[str, str]]:
    """The page's `fetch()` of a JSON API."""
    return _put(browser.headers("xhr"), "referer", referer)


class Jar:
    """The cookies a client keeps (name=value, the attributes ignored: one site, one path)."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}

    def take(self, reply: Reply) -> None:
        for line in reply.set_cookies:
            name, _, value = line.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()

    def header(self) -> str:
        return "; ".join(f"{n}={v}" for n, v in self.cookies.items())


# --- one run's shared state -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Record:
    """One request as its sender saw it (`at`: seconds from the release, negative before)."""

    actor: str
    side: str  # "people" or "bots"
    method: str
    path: str
    status: int
    verdict: str
    at: float


@dataclass
class Run:
    """What the actors of one run share: where to send, when the release is, what happened."""

    port: int
    release_at: float
    end_at: float
    records: list[Record] = field(default_factory=list)
    orders: dict[str, str] = field(default_factory=dict)  # order id claimed -> actor

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(
        self, actor: str, side: str, address: str, method: str, path: str, headers: list[tuple[str, str]],
        body: bytes | None = None,
    ) -> Reply:  # fmt: skip
        """Send as `actor` from `address` (the X-Forwarded-For entry a CDN in front of Envoy appends) and record it."""
        reply = send(self.port, method, path, [*headers, ("x-forwarded-for", address)], body)
        at = time.time() - self.release_at
        self.records.append(Record(actor, side, method, path, reply.status, reply.verdict, at))
        if path == CART and reply.status == 200:
            order = (reply.json() or {}).get("order")
            if isinstance(order, str):
                self.orders[order] = actor
        return reply


def _sleep_until(moment: float) -> None:
    delay = moment - time.time()
    if delay > 0:
        time.sleep(delay)


def _page_state(reply: Reply) -> str:
    """What a person reads on the product page: soon, live, sold-out (or nothing, when no page came)."""
    if reply.verdict != "served":
        return ""
    found = re.search(rb'data-drop="([a-z-]+)"', reply.body)
    return found.group(1).decode() if found else ""


# --- people ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PersonPlan:
    """One person: their browser, their home address, when they open the page, and their own random stream."""

    name: str
    browser: Browser
    address: str
    arrive: float  # seconds from the release (negative: before)
    seed: str


def person(run: Run, plan: PersonPlan, pace: float) -> None:
    """Someone who wants the shoes: opens the page before the release, reloads it every few seconds until the button
    is live, clicks it, and clicks once more if the first click did not work; leaves when sold out."""
    rng = random.Random(plan.seed)  # noqa: S311 (a seeded plan, not security)
    browser, jar = plan.browser, Jar()
    referer = run.origin + PAGE

    def pause(median: float, low: float, high: float) -> None:
        time.sleep(pace * min(high, max(low, rng.lognormvariate(0.0, 0.35) * median)))

    def get(path: str, headers: list[tuple[str, str]]) -> Reply:
        reply = run.request(plan.name, "people", plan.address, "GET", path, with_cookie(browser, headers, jar.header()))
        jar.take(reply)
        return reply

    def open_page(headers: list[tuple[str, str]]) -> Reply:
        page = get(PAGE, headers)
        if page.verdict == "challenged":  # the browser keeps the cookie and follows the page's own reload
            time.sleep(rng.uniform(0.03, 0.12))
            page = get(PAGE, meta_refresh(browser))
        return page

    _sleep_until(run.release_at + plan.arrive)
    page = open_page(navigation(browser))
    if page.verdict == "served":  # uncached on the first visit; the browser caches them for an hour
        for kind, asset in (("style", "/static/app.css"), ("script", "/static/app.js"), ("image", "/static/logo.svg")):
            get(asset, subresource(browser, kind, referer))
    clicks = 0
    while time.time() < run.end_at and clicks < 2:
        state = _page_state(page)
        if state == "sold-out":
            return
        if state != "live":  # not released yet, or the page did not come: look again in a moment
            pause(2.5, 1.2, 6.0)
            page = open_page(f5_reload(browser))
            continue
        pause(1.2, 0.6, 3.0)  # read, find the button, click
        clicks += 1
        headers = with_cookie(browser, fetch_post(browser, run.origin, referer, len(CART_BODY)), jar.header())
        reply = run.request(plan.name, "people", plan.address, "POST", CART, headers, CART_BODY)
        jar.take(reply)
        if reply.status in (200, 409):  # in the cart, or sold out: done either way
            return
        pause(2.5, 1.5, 4.0)  # "something went wrong": reload the page and try the button again
        page = open_page(f5_reload(browser))


# --- sneaker bots ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskPlan:
    """One sneaker-bot task: the exits its proxy provider hands it, when it starts, and its own random stream."""

    name: str
    exits: tuple[str, ...]  # residential exits, used in order (a rotating task takes a new one per request)
    start: float  # seconds from the release (negative: before)
    seed: str


class Farm:
    """Cookies harvested for a cookie-farm persona: handed out round-robin, one per cart attempt."""

    def __init__(self) -> None:
        self.cookies: list[str] = []
        self._next = 0
        self._lock = threading.Lock()

    def add(self, cookie: str) -> None:
        with self._lock:
            self.cookies.append(cookie)

    def next(self) -> str:
        with self._lock:
            if not self.cookies:
                return ""
            self._next += 1
            return self.cookies[self._next % len(self.cookies)]


HARVEST_PER_TASK = 4  # cookie-farm: pages loaded from fresh exits per task before the drop
FIRE_EARLY = 0.2  # seconds before the announced release the checkout starts (the first to ask wins)
MONITOR_DELAY = (0.25, 0.4)  # seconds between stock polls
RETRY_DELAY = (0.08, 0.15)  # seconds between cart attempts
ERROR_DELAY = 1.0  # seconds after a 403 or a 429


def bot_task(run: Run, persona: Persona, plan: TaskPlan, farm: Farm) -> None:
    """One sneaker-bot task (one checkout): warm up as the persona does, poll the stock API until the release,
    then hit the cart until it gets a unit, the shoes sell out or the run ends."""
    rng = random.Random(plan.seed)  # noqa: S311 (a seeded plan, not security)
    exits = iter(plan.exits)
    sticky = next(exits)
    jar = Jar()
    page = run.origin + PAGE

    def exit_address() -> str:
        return next(exits, sticky) if persona.rotate else sticky

    def hit(
        method: str, path: str, headers: list[tuple[str, str]], cookie: str = "", body: bytes | None = None
    ) -> Reply:
        headers = with_cookie(CHROME, headers, cookie)
        reply = run.request(plan.name, "bots", exit_address(), method, path, headers, body)
        if persona.cookies == "jar":
            jar.take(reply)
        return reply

    def cookie() -> str:
        if persona.cookies == "jar":
            return jar.header()
        return farm.next() if persona.cookies == "farm" else ""

    _sleep_until(run.release_at + plan.start)
    if persona.cookies == "jar":  # load the page once like a browser would, and keep what it sets
        reply = hit("GET", PAGE, navigation(CHROME))
        if reply.verdict == "challenged":
            hit("GET", PAGE, navigation(CHROME), jar.header())
    elif persona.cookies == "farm":  # each page load from a fresh exit is a fresh cookie: bank them
        for _ in range(HARVEST_PER_TASK):
            harvest = Jar()
            address = next(exits, sticky)
            reply = run.request(plan.name, "bots", address, "GET", PAGE, navigation(CHROME))
            harvest.take(reply)
            if reply.verdict == "challenged":
                headers = with_cookie(CHROME, navigation(CHROME), harvest.header())
                reply = run.request(plan.name, "bots", address, "GET", PAGE, headers)
                harvest.take(reply)
            if "__bw" in harvest.cookies and reply.verdict == "served":
                farm.add(f"__bw={harvest.cookies['__bw']}")
    while time.time() < run.release_at - FIRE_EARLY:  # the monitor: is it live yet?
        stock = hit("GET", STOCK_API, xhr_get(CHROME, page), cookie()).json()
        if isinstance(stock, dict) and stock.get("drop") == "live":
            break
        time.sleep(rng.uniform(*MONITOR_DELAY))
    while time.time() < run.end_at:
        headers = fetch_post(CHROME, run.origin, page, len(CART_BODY))
        reply = hit("POST", CART, headers, cookie(), CART_BODY)
        if reply.status in (200, 409):
            return
        time.sleep(ERROR_DELAY if reply.status in (403, 429) else rng.uniform(*RETRY_DELAY))


# --- the plan -------------------------------------------------------------------------------------------------------


def _addresses(rng: random.Random) -> Iterator[str]:
    """Distinct residential addresses (no .0 or .255 host)."""
    seen: set[str] = set()
    blocks = [ipaddress.ip_network(b) for b in RESIDENTIAL]
    weights = [b.num_addresses**0.25 for b in blocks]
    while True:
        block = rng.choices(blocks, weights)[0]
        address = str(block.network_address + rng.randrange(1, block.num_addresses - 1))
        if address not in seen and not address.endswith((".0", ".255")):
            seen.add(address)
            yield address


@dataclass(frozen=True, slots=True)
class Plan:
    """Who comes, from where, when: the same for the run without and the run with the event."""

    people: tuple[PersonPlan, ...]
    tasks: tuple[TaskPlan, ...]


def make_plan(seed: int, scenario: str, size: Size) -> Plan:
    """The seeded plan of one scenario: people mostly on Chrome, some on Firefox, each at home; bot tasks on exits
    from the same ISPs. Most people arrive before the release, a few just after."""
    rng = random.Random(f"drop:{seed}:{scenario}")  # noqa: S311 (a seeded plan, not security)
    addresses = _addresses(rng)
    people = tuple(
        PersonPlan(
            name=f"person-{i}",
            browser=CHROME if rng.random() < 0.65 else FIREFOX,
            address=next(addresses),
            arrive=rng.uniform(-0.85, -0.15) * size.lead if rng.random() < 0.85 else rng.uniform(0.0, 1.5),
            seed=f"{seed}:{scenario}:person-{i}",
        )
        for i in range(size.people)
    )
    per_task = int(size.lead / MONITOR_DELAY[0] + size.tail / RETRY_DELAY[0]) + HARVEST_PER_TASK + 2
    tasks = tuple(
        TaskPlan(
            name=f"bot-{i}",
            exits=tuple(next(addresses) for _ in range(per_task)),
            start=rng.uniform(-0.95, -0.7) * size.lead,
            seed=f"{seed}:{scenario}:bot-{i}",
        )
        for i in range(size.bot_tasks)
    )
    return Plan(people, tasks)


# --- the stack ------------------------------------------------------------------------------------------------------


class ShopThread(BackgroundShop):
    """The demo shop in its thread, with the harness's `/_drop` control on its own port."""

    def control(self, method: str, body: object | None = None) -> Any:
        """Set (POST) or read (GET) the drop on the shop's own port, past Envoy."""
        data = json.dumps(body).encode() if body is not None else None
        headers = [("content-type", "application/json"), ("content-length", str(len(data)))] if data else []
        reply = send(self.port, method, "/_drop", headers, data)
        if reply.status != 200:
            raise RuntimeError(f"the shop's /_drop answered {reply.status}: {reply.body!r}")
        return json.loads(reply.body)


def botwall_config(event: bool, now: float) -> str:
    """botwall's embedded defaults, and with `event` the drop's event running from a minute ago for an hour."""
    if not event:
        return DEFAULT_CONFIG_YAML

    def iso(moment: float) -> str:
        return datetime.datetime.fromtimestamp(moment, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    return DEFAULT_CONFIG_YAML + EVENT_YAML.format(start=iso(now - 60), end=iso(now + 3600))


@contextmanager
def gateway(workdir: Path, config: str, upstream_port: int) -> Iterator[int]:
    """botwall with `config` and Envoy (one trusted hop: the client is X-Forwarded-For's last entry) in front of the
    shop; yields Envoy's HTTP port."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "botwall.yaml"
    config_path.write_text(config, encoding="utf-8")
    botwall = start_botwall(workdir, config_path, timeout=60)
    try:
        settings = EnvoySettings(
            http=("127.0.0.1", 0), botwall=("127.0.0.1", botwall.port), upstream=("127.0.0.1", upstream_port),
            access_log=str(workdir / "access.log"), trusted_hops=1,
        )  # fmt: skip
        envoy = start_envoy(render_gateway(settings), workdir)
        try:
            yield envoy.ports["http"]
        finally:
            envoy.stop()
    finally:
        botwall.stop()


# --- one run, and what it measured ------------------------------------------------------------------------------------


def play(shop: ShopThread, port: int, plan: Plan, persona: Persona, size: Size) -> dict[str, Any]:
    """Put the drop on sale `size.lead` seconds from now, let every actor go, and tally what each side got."""
    release_at = time.time() + size.lead
    shop.control("POST", {"product": PRODUCT, "stock": size.stock, "release_at": release_at})
    run = Run(port, release_at, release_at + size.tail)
    farm = Farm()
    threads = [threading.Thread(target=person, args=(run, p, size.pace), name=p.name) for p in plan.people]
    threads += [threading.Thread(target=bot_task, args=(run, persona, t, farm), name=t.name) for t in plan.tasks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.1, run.end_at + 20 - time.time()))
    ledger = shop.control("GET")["drop"]
    return tally(run, plan, ledger["orders"], size.stock)


def _side(records: list[Record], side: str, actors: int, units: list[str]) -> dict[str, Any]:
    """One side's requests by how they were answered, and `units`: the actor behind each unit it holds."""
    mine = [r for r in records if r.side == side]
    carts = [r for r in mine if r.path == CART]
    refused_paths = sorted({r.path for r in mine if r.verdict == "refused"})
    return {
        "actors": actors,
        "requests": len(mine),
        "served": sum(1 for r in mine if r.verdict == "served"),
        "challenged": sum(1 for r in mine if r.verdict == "challenged"),
        "refused": sum(1 for r in mine if r.verdict == "refused"),
        "actors_refused": len({r.actor for r in mine if r.verdict == "refused"}),
        "cart_attempts": len(carts),
        "cart_attempts_refused": sum(1 for r in carts if r.verdict == "refused"),
        "cart_statuses": {str(k): v for k, v in sorted(Counter(r.status for r in carts).items())},
        "units": len(units),
        "actors_with_a_unit": len(set(units)),
        "refused_by_path": {p: sum(1 for r in mine if r.verdict == "refused" and r.path == p) for p in refused_paths},
    }


def tally(run: Run, plan: Plan, orders: list[str], stock: int) -> dict[str, Any]:
    """Each side's requests and answers, and the units it holds by the shop's ledger (an order id a client claims
    and the shop never sold, a deception, counts for nobody)."""
    records = sorted(run.records, key=lambda r: r.at)
    buyers = [run.orders[o] for o in orders if o in run.orders]
    people = _side(records, "people", len(plan.people), [b for b in buyers if b.startswith("person-")])
    bots = _side(records, "bots", len(plan.tasks), [b for b in buyers if b.startswith("bot-")])
    sold = len(orders)
    return {
        "stock": stock,
        "sold": sold,
        "people_share": round(people["units"] / sold, 4) if sold else None,
        "bots_share": round(bots["units"] / sold, 4) if sold else None,
        "unclaimed_orders": sum(1 for o in orders if o not in run.orders),
        "claimed_not_sold": sum(1 for o in run.orders if o not in set(orders)),
        "people": people,
        "bots": bots,
    }


def drop(
    seed: int, scenarios: Sequence[str], size: Size, workdir: Path, progress: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    """Every scenario without and with the event, each run on a fresh gateway in front of one shop."""
    shop = ShopThread()
    report: dict[str, Any] = {"seed": seed, "size": asdict(size), "product": PRODUCT, "scenarios": {}}
    try:
        for name in scenarios:
            persona = SCENARIOS[name]
            plan = make_plan(seed, name, size)
            runs: dict[str, Any] = {"persona": persona.about}
            for mode in ("without_event", "with_event"):
                progress(f"{name}: {mode.replace('_', ' ')}")
                config = botwall_config(mode == "with_event", time.time())
                with gateway(workdir / name / mode, config, shop.port) as port:
                    runs[mode] = play(shop, port, plan, persona, size)
            report["scenarios"][name] = runs
    finally:
        shop.stop()
    return report


# The report's rows: a label, and what it shows of one run.
_ROWS: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("units sold (of the stock)", lambda r: f"{r['sold']} of {r['stock']}"),
    ("people's share of the units sold", lambda r: _percent(r["people_share"])),
    ("bots' share of the units sold", lambda r: _percent(r["bots_share"])),
    ("people with a unit", lambda r: f"{r['people']['actors_with_a_unit']} of {r['people']['actors']}"),
    ("people's requests refused", lambda r: f"{r['people']['refused']} of {r['people']['requests']}"),
    ("people's requests challenged", lambda r: f"{r['people']['challenged']} of {r['people']['requests']}"),
    ("people refused at least once", lambda r: f"{r['people']['actors_refused']} of {r['people']['actors']}"),
    ("bot tasks with a unit", lambda r: f"{r['bots']['actors_with_a_unit']} of {r['bots']['actors']}"),
    ("bots' requests refused", lambda r: f"{r['bots']['refused']} of {r['bots']['requests']}"),
    ("bots' requests challenged", lambda r: f"{r['bots']['challenged']} of {r['bots']['requests']}"),
    ("bots' cart attempts refused", lambda r: f"{r['bots']['cart_attempts_refused']} of {r['bots']['cart_attempts']}"),
    ("people's cart answers (status:count)", lambda r: _statuses(r["people"])),
    ("bots' cart answers (status:count)", lambda r: _statuses(r["bots"])),
)


def _statuses(side: dict[str, Any]) -> str:
    return " ".join(f"{status}:{count}" for status, count in side["cart_statuses"].items()) or "-"


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.0f} %"


def render(report: dict[str, Any]) -> str:
    """The report as a table per scenario: without and with the event side by side."""
    lines = [f"seed {report['seed']}, product {report['product']}, {report['size']}"]
    for name, runs in report["scenarios"].items():
        off, on = runs["without_event"], runs["with_event"]
        lines += ["", f"scenario {name}: {runs['persona']}", f"  {'':40}{'without event':>26}{'with event':>26}"]
        lines += [f"  {label:40}{show(off):>26}{show(on):>26}" for label, show in _ROWS]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m botwall.lab.drop`: play the drop and print (and with --out, write) the report."""
    parser = argparse.ArgumentParser(prog="python -m botwall.lab.drop", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1, help="the traffic plan (default 1)")
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS), help="repeatable; default all")
    defaults = Size()
    parser.add_argument("--people", type=int, default=defaults.people, help="people who want the shoes")
    parser.add_argument("--bot-tasks", type=int, default=defaults.bot_tasks, help="sneaker-bot tasks (checkouts)")
    parser.add_argument("--stock", type=int, default=defaults.stock, help="units for sale")
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    parser.add_argument("--workdir", type=Path, help="keep each run's logs and configs here (default: a temp dir)")
    args = parser.parse_args(argv)
    size = Size(people=args.people, bot_tasks=args.bot_tasks, stock=args.stock)
    scenarios = args.scenario or list(SCENARIOS)
    with tempfile.TemporaryDirectory(prefix="botwall-drop-") as scratch:
        report = drop(args.seed, scenarios, size, args.workdir or Path(scratch), lambda s: print(s, flush=True))
    print(render(report))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
