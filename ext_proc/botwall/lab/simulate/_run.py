"""Scenarios and the runner: actors' requests in simulated time, through the real decision engine, in-process.

Each request becomes a `RequestView` exactly as the server builds one from Envoy's message (`build_view`, with the
`source.address` and JA4 attributes and the headers Envoy adds; a request over plain HTTP has scheme http and no
JA4), a login body goes through `engine.logins`, the engine reads the evidence and decides, and the shop's answer (or
botwall's refusal) goes back to the actor and, for requests that reached the shop, into `engine.record_response`. The
engine's clock is a `FakeClock` moved to each request's simulated time, so its windows see the simulated pace.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from botwall.clock import FakeClock
from botwall.config import Action, Config
from botwall.engine import Engine
from botwall.lab.simulate import _network as net
from botwall.lab.simulate._personas import HOST, PERSONAS, Actor, Reply, Request, World, combo_username, human_password
from botwall.lab.simulate._shop import SimShop
from botwall.lab.testing import resources
from botwall.request import JA4_ATTRIBUTE, SOURCE_ADDRESS, build_view
from botwall.scoring.features import vectorize
from botwall.scoring.rules import Scorer
from botwall.state.keys import KeyHasher
from botwall.state.tokens import CookieSigner

# Actors per persona at scale 1 (bot personas count campaigns; a sneaker campaign runs several tasks).
STANDARD_MIX: Mapping[str, int] = {
    "human": 900,
    "human-office": 250,
    "human-mobile": 450,
    "human-sale": 120,
    "human-wave": 200,
    "human-search": 200,
    "human-link": 150,
    "human-cgnat": 80,
    "human-office-busy": 60,
    "googlebot": 3,
    "bingbot": 2,
    "stuffer": 6,
    "stuffer-rotating-ua": 4,
    "stuffer-popular": 6,
    "ato-slow": 3,
    "scraper-library": 6,
    "scraper-headless": 4,
    "scraper-stealth": 4,
    "scraper-stealth-jar": 4,
    "scraper-popular": 4,
    "price-monitor": 4,
    "fake-googlebot": 3,
    "sneaker-bot": 2,
    "api-enumeration": 4,
}


# How long after the marketing e-mail lands its wave of first visits lasts.
WAVE_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class Scenario:
    """A reproducible slice of traffic: the seed decides everything else."""

    seed: int
    mix: Mapping[str, int] = field(default_factory=lambda: dict(STANDARD_MIX))
    duration: float = 7200.0  # seconds of simulated time
    catalogue: int = 400  # products in the simulated shop (the demo shop has 8)
    users: int = 2000  # customer accounts besides the demo's three
    demo_only: bool = False  # only the demo shop's products and accounts (for runs against the real demo shop)
    ja4: bool = True  # False: a deployment whose Envoy sees no TLS fingerprint (TLS ends at a load balancer)
    # Longest pause (seconds) of people and of bots between two requests; None keeps the personas' own pace. The
    # end-to-end run compresses pauses this way (people 4 s, bots 1 s) to fit its seconds.
    pause_cap: tuple[float, float] | None = None
    # The deployment: False when only the API goes through Envoy and botwall (pages and assets are served elsewhere,
    # a CDN say), and when botwall hands out no cookie of its own (`client_cookie: {issue: false}`).
    pages: bool = True
    cookies: bool = True

    def scaled(self, factor: float) -> Scenario:
        """The same scenario with `factor` times as many actors (at least one of each persona kept)."""
        return replace(self, mix={k: max(1, round(v * factor)) if v else 0 for k, v in self.mix.items()})

    def without(self, *personas: str) -> Scenario:
        """The same scenario with some personas left out (held out of training)."""
        return replace(self, mix={k: v for k, v in self.mix.items() if k not in personas})


@dataclass(frozen=True, slots=True)
class Labels:
    """Ground truth of one simulated request."""

    persona: str
    campaign: str
    session: str
    is_bot: bool
    intent: str  # "human", "good" or "bad"


@dataclass(frozen=True, slots=True)
class Record:
    """One simulated request: its labels, what was sent, what botwall decided, and the feature vector it scored."""

    t: float  # seconds since the start of the scenario
    labels: Labels
    method: str
    path: str
    ip: str
    status: int  # what the client got
    action: str  # botwall's action (allow, monitor, block, throttle, deceive)
    mitigated: bool
    score: int
    reasons: tuple[str, ...]
    features: list[float]
    own: int = 0  # the client's own score (`scoring.rules.Score.own`)


def build_world(scenario: Scenario) -> World:
    """The shared world of a scenario: the shop with its accounts, office and carrier addresses, the sale, the
    marketing e-mail's wave and the busy stretch."""
    rng = random.Random(f"{scenario.seed}:world")
    catalogue = 8 if scenario.demo_only else scenario.catalogue
    shop = SimShop(random.Random(f"{scenario.seed}:shop"), catalogue)
    users: list[str] = []
    if not scenario.demo_only:
        for _ in range(scenario.users):
            user = combo_username(rng)
            shop.accounts[user] = human_password(rng)
            users.append(user)
    # Drawn in this order so that what older scenarios drew keeps its value.
    drop_product = rng.randrange(1, catalogue + 1)
    offices = net.pool(rng, net.BROADBAND, 6)
    carrier = net.pool(rng, net.MOBILE, 40)
    return World(
        rng=rng,
        shop=shop,
        duration=scenario.duration,
        sale_at=scenario.duration * 0.6,
        drop_product=drop_product,
        wave_at=scenario.duration * 0.3,
        wave_product=rng.randrange(1, catalogue + 1),
        busy_at=scenario.duration * 0.4,
        busy_for=min(1200.0, scenario.duration * 0.25),
        offices=offices,
        carrier=carrier,
        cgnat=net.nat(rng, net.MOBILE, 4),
        busy_office=net.nat(rng, net.BROADBAND, 2),
        users=sorted(set(users)),
        demo_only=scenario.demo_only,
    )


def build_actors(scenario: Scenario, world: World) -> list[Actor]:
    """Every actor of the scenario, with its own random stream (so adding a persona does not reshuffle the rest)."""
    actors = []
    for persona in sorted(scenario.mix):
        script, is_bot, intent, when = PERSONAS[persona]
        for n in range(scenario.mix[persona]):
            rng = random.Random(f"{scenario.seed}:{persona}:{n}")
            campaign = f"{persona}-{n:03d}"
            if when == "sale":
                start = world.sale_at + (rng.uniform(-90.0, 240.0) if not is_bot else rng.uniform(-20.0, 5.0))
            elif when == "early":
                start = rng.uniform(0.0, scenario.duration * 0.2)
            elif when == "wave" and not is_bot:
                start = world.wave_at + rng.triangular(0.0, WAVE_SECONDS, 0.0)  # most in the first minute
            elif when == "wave":
                # Half the campaigns start just before the wave and run through it, hidden in its crowd.
                if rng.random() < 0.5:
                    start = world.wave_at + rng.uniform(-300.0, 60.0)
                else:
                    start = rng.uniform(0.0, scenario.duration * 0.8)
            elif when == "busy":
                start = world.busy_at + rng.uniform(0.0, world.busy_for)
            else:
                start = rng.uniform(0.0, scenario.duration * (0.8 if is_bot else 0.95))
            if persona == "sneaker-bot":
                for task in range(rng.randint(8, 25)):
                    task_rng = random.Random(f"{scenario.seed}:{persona}:{n}:{task}")
                    task_start = start + task_rng.uniform(0.0, 10.0)
                    body = script(world, task_rng, f"{campaign}/t{task}")
                    actors.append(Actor(persona, campaign, is_bot, intent, task_start, body))
            else:
                actors.append(Actor(persona, campaign, is_bot, intent, start, script(world, rng, campaign)))
    return actors


def training_config(config: Config) -> Config:
    """The config with its login routes, no policies and no mitigations: nothing is refused, so every response is
    observed."""
    return replace(config, policies=(), automation=replace(config.automation, mitigations=False))


def make_engine(config: Config, scorer: Scorer | None = None, clock: FakeClock | None = None) -> Engine:
    """An engine on a fake clock (for its windows and for botwall's cookie), built as `botwall serve` builds its own."""
    clock = clock or FakeClock(0.0)
    # botwall's cookie from a fixed key and seeded nonces, so a scenario replays exactly.
    nonces = random.Random("botwall-cookie-nonces")
    signer = CookieSigner(config.client_cookie, key=b"simulation", clock=clock, nonce=lambda: nonces.randbytes(9))
    # The wall clock is the fake one too: mitigations age and expire in simulated time, and a scenario replays.
    return Engine(config, resources(), scorer=scorer, clock=clock, wall=clock, cookie_signer=signer, keys=KeyHasher())


_REFUSALS = {Action.BLOCK: 403, Action.THROTTLE: 429}


# Actors whose client keeps botwall's cookie and follows its challenge (a page that reloads itself): browsers, and
# bots that drive one. The others drop cookies between requests (a combo-list runner, a library scraper, a crawler
# that rotates its address every request) or do not render pages.
KEEPS_COOKIES = frozenset(
    (
        "human",
        "human-office",
        "human-mobile",
        "human-sale",
        "human-wave",
        "human-search",
        "human-link",
        "human-cgnat",
        "human-office-busy",
        "scraper-headless",
        "scraper-stealth-jar",
        "sneaker-bot",
        "ato-slow",
    )
)
# Bot personas some of whose campaigns keep a cookie jar (one jar across their proxy exits) and follow a challenge
# as a browser does: the share of campaigns that do.
SOME_KEEP_COOKIES: Mapping[str, float] = {"stuffer-popular": 0.3}
# Seconds between a challenge and the browser's reload.
_RELOAD = 0.3
# People whose browser keeps no cookies for the site (blocked by a setting or an extension), and people who arrive
# with a botwall cookie that is no longer valid (expired, or signed before a restart with another key).
_NO_COOKIES = 0.02
_STALE_COOKIE = 0.1


def _cookie_habits(scenario: Scenario, actors: list[Actor]) -> tuple[set[int], dict[int, str]]:
    """Which actors keep cookies, and the stale botwall cookie some people arrive with."""
    keeps: set[int] = set()
    jars: dict[int, str] = {}
    for index, actor in enumerate(actors):
        rng = random.Random(f"{scenario.seed}:{actor.campaign}:cookies")
        if actor.persona in SOME_KEEP_COOKIES:
            if rng.random() < SOME_KEEP_COOKIES[actor.persona]:
                keeps.add(index)
            continue
        if actor.persona not in KEEPS_COOKIES:
            continue
        if actor.intent == "human" and rng.random() < _NO_COOKIES:
            continue
        keeps.add(index)
        if actor.intent == "human" and rng.random() < _STALE_COOKIE:
            jars[index] = f"__bw={rng.randrange(1 << 31):x}.{rng.getrandbits(72):018x}.{rng.getrandbits(128):032x}"
    return keeps, jars


def run(scenario: Scenario, engine: Engine, clock: FakeClock) -> Iterator[Record]:
    """Play the scenario through the engine in simulated-time order, yielding one record per request.

    An actor that keeps cookies holds botwall's token once a response hands it one, and answers a challenge by
    reloading the page at once with it: both requests are recorded, the challenge as not mitigated (the client got
    its page), and the script sees the reload's answer. A bot that keeps cookies empties its jar when refused. A few
    people keep no cookies, and some arrive with a botwall cookie that is no longer valid (`_cookie_habits`).
    """
    world = build_world(scenario)
    actors = build_actors(scenario, world)
    ids = random.Random(f"{scenario.seed}:ids")
    origin = clock()
    keepers, jars = _cookie_habits(scenario, actors)  # jars: actor index -> botwall's cookie ("name=value")
    request_refused: dict[int, bool] = {}  # actor index -> its last request was refused
    queue: list[tuple[float, int, int, Request]] = []
    seq = 0
    for index, actor in enumerate(actors):
        try:
            delay, request = next(actor.script)
        except StopIteration:
            continue
        if scenario.pause_cap is not None:
            delay = min(delay, scenario.pause_cap[1 if actor.is_bot else 0])
        heapq.heappush(queue, (actor.start + delay, seq, index, request))
        seq += 1
    while queue:
        t, _, index, request = heapq.heappop(queue)
        actor = actors[index]
        if origin + t > clock.now:
            clock.now = origin + t
        if not scenario.pages and not request.path.startswith("/api/"):
            # Served without botwall: no record, no windows; the client gets the shop's answer.
            status, cookies = world.shop.respond(request.method, request.path, _cookie_header(request), request.body)
            reply = Reply(status, cookies, False)
        else:
            keeps = index in keepers
            if keeps and actor.is_bot and index in jars and request_refused.get(index):
                del jars[index]  # a refused bot starts a new session: an empty cookie jar
            jar = jars.get(index, "")
            record, reply, issued = _process(engine, world.shop, request, actor, t, ids, scenario.ja4, jar)
            if keeps and issued:
                jars[index] = issued
            if keeps and record.action == Action.CHALLENGE and record.mitigated:
                yield replace(record, mitigated=False)
                t += _RELOAD
                clock.now = max(clock.now, origin + t)
                record, reply, issued = _process(engine, world.shop, request, actor, t, ids, scenario.ja4, jars[index])
                if issued:
                    jars[index] = issued
            request_refused[index] = record.mitigated
            yield record
        try:
            delay, nxt = actor.script.send(reply)
        except StopIteration:
            continue
        if scenario.pause_cap is not None:
            delay = min(delay, scenario.pause_cap[1 if actor.is_bot else 0])
        heapq.heappush(queue, (t + max(0.0, delay), seq, index, nxt))
        seq += 1


def _cookie_header(request: Request) -> str:
    return next((v for n, v in request.headers if n == "cookie"), "")


def with_cookie(headers: list[tuple[str, str]], jar: str) -> list[tuple[str, str]]:
    """The request's headers with botwall's cookie added where the browser puts its Cookie header."""
    for i, (name, value) in enumerate(headers):
        if name == "cookie":
            headers[i] = (name, f"{value}; {jar}")
            return headers
    at = next((i for i, (n, _) in enumerate(headers) if n in ("priority", "te")), len(headers))
    headers.insert(at, ("cookie", jar))
    return headers


def _process(
    engine: Engine,
    shop: SimShop,
    request: Request,
    actor: Actor,
    t: float,
    ids: random.Random,
    ja4: bool,
    jar: str,
) -> tuple[Record, Reply, str]:
    """One request through the engine (and the shop, unless refused); also returns botwall's cookie if one came."""
    scheme = request.scheme  # "http": a plain-HTTP listener, where Envoy has no TLS and so no JA4
    pseudo = [(":authority", HOST), (":path", request.path), (":method", request.method), (":scheme", scheme)]
    headers = list(request.headers)
    if jar:
        headers = with_cookie(headers, jar)
    if request.body is not None:
        headers.append(("content-length", str(len(request.body))))
    # What Envoy's connection manager adds before ext_proc sees the request.
    headers.append(("x-forwarded-proto", scheme))
    headers.append(("x-request-id", f"{ids.getrandbits(128):032x}"))
    attributes = {
        SOURCE_ADDRESS: f"{request.ip}:{ids.randrange(1024, 65535)}",
        JA4_ATTRIBUTE: request.ja4 if ja4 else "",
    }
    view = build_view(pseudo + headers, attributes)
    route = engine.login_route(view)
    attempt = None
    if route is not None and request.body is not None:
        attempt = engine.logins.read_login(route, view.header("content-type"), request.body)
    evidence, context = engine.observe(view, route, attempt)
    decision = engine.judge(evidence)
    features = vectorize(evidence)
    if decision.mitigates:
        status = decision.deceive.status if decision.deceive is not None else _REFUSALS.get(decision.action, 403)
        reply = Reply(status, (), True)
        issued = decision.set_cookie.split(";", 1)[0]
    else:
        status, cookies = shop.respond(request.method, request.path, view.header("cookie"), request.body)
        if engine.reads_response(context):  # as the server asks Envoy for it (edge.server)
            engine.record_response(context, status, list(cookies))
        reply = Reply(status, cookies, False)
        issued = engine.response_cookie(context, status).split(";", 1)[0]
    labels = Labels(actor.persona, actor.campaign, request.session, actor.is_bot, actor.intent)
    record = Record(
        t=t,
        labels=labels,
        method=request.method,
        path=request.path,
        ip=request.ip,
        status=status,
        action=str(decision.action),
        mitigated=decision.mitigates,
        score=decision.score,
        reasons=decision.reasons,
        features=features,
        own=decision.own,
    )
    return record, reply, issued


def simulate(
    scenario: Scenario,
    config: Config,
    scorer: Scorer | None = None,
    engine_factory: Callable[[Config, Scorer | None, FakeClock], Engine] = make_engine,
) -> list[Record]:
    """Run a scenario through a fresh engine on a fresh fake clock and return every record."""
    clock = FakeClock(0.0)
    if not scenario.cookies:
        config = replace(config, client_cookie=replace(config.client_cookie, issue=False))
    engine = engine_factory(config, scorer, clock)
    return list(run(scenario, engine, clock))


def summarize(records: list[Record]) -> str:
    """A per-persona table: requests, campaigns or sessions, share mitigated, share scored as bot, status mix."""
    by_persona: dict[str, list[Record]] = {}
    for r in records:
        by_persona.setdefault(r.labels.persona, []).append(r)
    lines = [f"{'persona':22s} {'requests':>8s} {'actors':>6s} {'mitigated':>9s} {'score>=70':>9s}  statuses"]
    for persona in sorted(by_persona):
        rows = by_persona[persona]
        statuses: dict[int, int] = {}
        for r in rows:
            statuses[r.status] = statuses.get(r.status, 0) + 1
        top = ", ".join(f"{k}:{v}" for k, v in sorted(statuses.items(), key=lambda kv: -kv[1])[:4])
        mitigated = sum(r.mitigated for r in rows) / len(rows)
        high = sum(r.score >= 70 for r in rows) / len(rows)
        actors = len({r.labels.campaign for r in rows})
        lines.append(f"{persona:22s} {len(rows):8d} {actors:6d} {mitigated:9.3f} {high:9.3f}  {top}")
    return "\n".join(lines)
