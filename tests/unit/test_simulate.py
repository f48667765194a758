"""The traffic simulator: reproducible from its seed, each persona shaped as its kind of client behaves."""

from __future__ import annotations

import ipaddress
import itertools
import json
import random
import statistics
from dataclasses import replace
from functools import lru_cache
from importlib import resources
from urllib.parse import parse_qs

import pytest

from botwall.config import load_config, parse_yaml
from botwall.lab.simulate import (
    PERSONAS,
    Reply,
    Request,
    Scenario,
    _run,
    build_actors,
    build_world,
    simulate,
    training_config,
)
from botwall.lab.simulate import _clients as clients
from botwall.lab.simulate import _network as net
from botwall.lab.simulate._personas import PLAIN_HTTP, SEARCH_ENGINES, SHARED_LINKS, Script, human_session
from botwall.lab.simulate._run import SOME_KEEP_COOKIES, WAVE_SECONDS, _cookie_habits
from botwall.request import RequestView
from botwall.scoring.features import FEATURE_NAMES

SMALL = Scenario(seed=7, mix=dict.fromkeys(PERSONAS, 1), duration=900.0, users=60)


OK = Reply(200, (), False)


def _drive(persona: str, seed: int = 3, reply: Reply = OK) -> list[tuple[float, Request]]:
    """Run one actor's script on its own, answering every request with `reply`; (time, request) pairs."""
    world = build_world(Scenario(seed=seed, users=60))
    rng = random.Random(f"{seed}:{persona}")  # noqa: S311 - reproducible test data
    return _play(PERSONAS[persona][0](world, rng, f"{persona}-000"), reply=reply)


def _play(script: Script, start: float = 0.0, reply: Reply = OK) -> list[tuple[float, Request]]:
    """Every request of a script answered with `reply`, with its time from `start`."""
    out, t = [], start
    try:
        delay, request = next(script)
        while True:
            t += delay
            out.append((t, request))
            delay, request = script.send(reply)
    except StopIteration:
        pass
    return out


def _ua(request: Request) -> str:
    return dict(request.headers).get("user-agent", "")


def _in(ip: str, blocks: tuple[str, ...]) -> bool:
    address = ipaddress.ip_address(ip)
    return any(address in ipaddress.ip_network(b) for b in blocks)


@lru_cache(maxsize=1)
def _small_records() -> tuple[object, ...]:
    return tuple(simulate(SMALL, training_config(load_config(None))))


def test_same_seed_same_traffic() -> None:
    """Two runs of one scenario produce the same requests, outcomes, labels and feature vectors."""
    scenario = Scenario(seed=11, mix={"human": 20, "stuffer": 1, "scraper-stealth": 1}, duration=600.0, users=40)
    config = training_config(load_config(None))
    first = [(r.t, r.labels, r.method, r.path, r.ip, r.status, r.features) for r in simulate(scenario, config)]
    second = [(r.t, r.labels, r.method, r.path, r.ip, r.status, r.features) for r in simulate(scenario, config)]
    assert first == second


def test_other_seed_other_traffic() -> None:
    """A different seed gives a different request sequence."""
    config = training_config(load_config(None))
    a = [(r.path, r.ip) for r in simulate(Scenario(seed=1, mix={"human": 5}, duration=300.0, users=10), config)]
    b = [(r.path, r.ip) for r in simulate(Scenario(seed=2, mix={"human": 5}, duration=300.0, users=10), config)]
    assert a != b


def test_records_carry_persona_labels() -> None:
    """Every persona appears, and each record's is_bot and intent are its persona's."""
    records = _small_records()
    seen = {r.labels.persona for r in records}  # type: ignore[attr-defined]
    assert set(PERSONAS) == seen
    wrong = [
        r.labels  # type: ignore[attr-defined]
        for r in records
        if (r.labels.is_bot, r.labels.intent) != PERSONAS[r.labels.persona][1:3]  # type: ignore[attr-defined]
    ]
    assert [] == wrong


def test_training_config_refuses_nothing() -> None:
    """With the policies dropped, no simulated request is mitigated, so every response feeds the windows."""
    assert 0 == sum(r.mitigated for r in _small_records())  # type: ignore[attr-defined]


def test_human_browses_with_assets_at_human_pace() -> None:
    """A person loads pages with their assets, from one home address, with pauses of seconds between pages."""
    steps = _drive("human", seed=5)
    pages = [(t, r) for t, r in steps if not r.path.startswith(("/static/", "/api/")) and r.method == "GET"]
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(pages)]
    assert "GET" == steps[0][1].method
    assert any(r.path.startswith("/static/") for _, r in steps)
    assert 1 == len({r.ip for _, r in steps})
    assert _in(steps[0][1].ip, net.BROADBAND)
    assert not gaps or statistics.median(gaps) > 2.0
    assert "Mozilla/5.0" in _ua(steps[0][1])


def test_mobile_and_office_humans_share_addresses() -> None:
    """Mobile users come from the carrier's CGNAT pool and office users from the office NAT addresses."""
    world = build_world(Scenario(seed=3, users=60))
    mobile = {r.ip for _, r in _drive("human-mobile")}
    office = {r.ip for _, r in _drive("human-office")}
    assert mobile <= set(world.carrier)
    assert office <= set(world.offices)


def test_verified_and_fake_googlebot() -> None:
    """Googlebot crawls from Google's published ranges; the fake one claims the same UA from hosting ranges."""
    real = _drive("googlebot")
    fake = _drive("fake-googlebot")
    assert all("Googlebot" in _ua(r) and _in(r.ip, net.GOOGLEBOT) for _, r in real)
    assert all("Googlebot" in _ua(r) and _in(r.ip, net.HOSTING) for _, r in fake)


def test_stuffer_sprays_a_combo_list_over_rotating_ips() -> None:
    """Credential stuffing: hundreds of login POSTs, mostly unknown usernames, at most three per IP."""
    world = build_world(Scenario(seed=3, users=60))
    steps = [r for _, r in _drive("stuffer") if r.method == "POST"]
    users = [r.body.decode() for r in steps if r.body]
    known = sum(any(u in body for u in world.shop.accounts) for body in users)
    per_ip: dict[str, int] = {}
    for r in steps:
        per_ip[r.ip] = per_ip.get(r.ip, 0) + 1
    assert len(steps) >= 250
    assert known / len(steps) < 0.2
    assert max(per_ip.values()) <= 6  # 1-3 per visit; an exit address can come back later
    assert len(per_ip) >= len(steps) // 3


def test_rotating_ua_stuffer_changes_user_agent() -> None:
    """The rotating-UA variant sends many different user-agents; the plain one keeps one."""
    rotating = {_ua(r) for _, r in _drive("stuffer-rotating-ua")}
    plain = {_ua(r) for _, r in _drive("stuffer")}
    assert len(rotating) > 5
    assert 1 == len(plain)


def test_stuffer_rotates_ip_when_refused() -> None:
    """A refused stuffer moves to a new exit address for its next attempt."""
    steps = [r for _, r in _drive("stuffer", reply=Reply(403, (), True)) if r.method == "POST"]
    assert all(a.ip != b.ip for a, b in itertools.pairwise(steps))


def test_ato_is_low_and_slow_against_real_accounts() -> None:
    """Account takeover: real usernames, minutes between attempts, a new address and browser every time."""
    world = build_world(Scenario(seed=3, users=60))
    posts = [(t, r) for t, r in _drive("ato-slow") if r.method == "POST"]
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(posts)]
    users = [parse_qs(r.body.decode())["username"][0] for _, r in posts if r.body]
    assert set(users) <= set(world.shop.accounts)
    assert min(gaps) >= 60.0
    assert len({r.ip for _, r in posts}) == len(posts)


def test_scrapers_by_kind() -> None:
    """Library scrapers send a library UA at a steady pace without assets; headless ones load assets; stealth
    ones send a real browser's headers from many residential addresses and never a cookie."""
    library = _drive("scraper-library")
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(library)]
    headless = _drive("scraper-headless")
    stealth = [r for _, r in _drive("scraper-stealth")]
    assert not any(r.path.startswith("/static/") for _, r in library)
    assert statistics.pstdev(gaps) / statistics.mean(gaps) < 0.1
    assert "HeadlessChrome" in _ua(headless[0][1])
    assert any(r.path.startswith("/static/") for _, r in headless)
    assert "Headless" not in _ua(stealth[0])
    assert "Mozilla/5.0" in _ua(stealth[0])
    assert all(_in(r.ip, net.RESIDENTIAL_PROXY) for r in stealth)
    assert len({r.ip for r in stealth}) > len(stealth) // 8
    assert not any("cookie" in dict(r.headers) for r in stealth)


def test_sneaker_bot_logs_in_then_polls_fast() -> None:
    """A sneaker task logs in first, then polls one product faster than once a second."""
    steps = _drive("sneaker-bot")
    polls = steps[1:]
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(polls)]
    assert ("POST", "/api/login") == (steps[0][1].method, steps[0][1].path)
    assert 1 == len({r.path.rsplit("/", 1)[1] for _, r in polls})
    assert statistics.median(gaps) < 1.2


def test_api_enumeration_walks_ids_in_order() -> None:
    """API enumeration requests consecutive numeric IDs."""
    ids = [int(r.path.rsplit("/", 1)[1]) for _, r in _drive("api-enumeration")]
    assert list(range(ids[0], ids[0] + len(ids))) == ids


def test_price_monitor_sweeps_a_watch_list_from_fresh_addresses() -> None:
    """A price monitor revisits the same few dozen products sweep after sweep, a new address for every request,
    requests, with a browser's headers, never a cookie or an asset, and no referer on its page views."""
    steps = [r for _, r in _drive("price-monitor")]
    paths = [r.path for r in steps]
    assert all(p.startswith(("/products/", "/api/products/")) for p in paths)
    assert len(set(paths)) <= 60 < len(paths)
    assert len({r.ip for r in steps}) == len(steps)
    assert "Mozilla/5.0" in _ua(steps[0])
    assert not any("cookie" in dict(r.headers) for r in steps)
    assert not any("referer" in dict(r.headers) for r in steps if r.path.startswith("/products/"))


def test_cookie_keepers_hold_botwall_token_and_pass_its_challenge() -> None:
    """Browsers keep botwall's cookie and reload a challenge with it; a cookie-dropping scraper never holds one and
    is refused when it comes back. Every page request scores as challengeable here (a challenge-everything policy)."""
    config = load_config(None)
    gate = parse_yaml("policies: [{name: gate, action: challenge}]\n", "gate.yaml").policies
    config = replace(config, policies=gate)
    scenario = Scenario(seed=9, mix={"human": 6, "scraper-stealth": 1, "scraper-stealth-jar": 1}, duration=900.0)
    records = simulate(scenario, config)
    token = FEATURE_NAMES.index("token")
    by = {p: [r for r in records if r.labels.persona == p] for p in ("human", "scraper-stealth", "scraper-stealth-jar")}
    people, dropper, jar = by["human"], by["scraper-stealth"], by["scraper-stealth-jar"]
    # A person's first page is challenged, passes (not mitigated), and the reload and all after carry the token.
    first = {}
    for r in people:
        first.setdefault(r.labels.session, r)
    assert {("challenge", False)} == {(r.action, r.mitigated) for r in first.values()}
    assert [] == [r for r in people if r.mitigated]
    assert sum(r.features[token] for r in people) >= len(people) - len(first)
    # The dropper never gets a page; the jar-keeping scraper gets through this gate like a person.
    assert all(r.mitigated for r in dropper if r.path.startswith("/products/"))
    assert 0 == sum(r.features[token] for r in dropper)
    # (An API call before its first page holds no token and cannot be challenged: refused.)
    assert not any(r.mitigated for r in jar if r.path.startswith("/products/"))
    assert sum(r.features[token] for r in jar) > 0.9 * len(jar)


def test_popular_browser_is_the_most_common_desktop_build() -> None:
    """`popular_browser` is exactly the build (headers and JA4) that people's desktop browsers are most often."""
    rng = random.Random(1)  # noqa: S311 - reproducible test data
    builds = [clients.random_browser(rng) for _ in range(4000)]
    counts: dict[clients.Client, int] = {}
    for build in builds:
        counts[build] = counts.get(build, 0) + 1
    popular = clients.popular_browser()
    assert popular == max(counts, key=lambda b: counts[b])
    assert ("Windows", "156", "en-US,en;q=0.9", clients.JA4_CHROME) == (
        dict(popular.navigation)["sec-ch-ua-platform"].strip('"'),
        clients.user_agent(popular).split("Chrome/")[1].split(".")[0],
        dict(popular.navigation)["accept-language"],
        popular.ja4,
    )


def _people_on_the_popular_build() -> set[tuple[str, tuple[tuple[str, str], ...], str]]:
    """(method, headers, JA4) of what people on the popular build send: first visits typed in on the home page or the
    login page, browsing, searching, and logging in by the form and by the API."""
    world = build_world(Scenario(seed=3, users=60))
    seen = set()
    for n in range(60):
        rng = random.Random(n)  # noqa: S311 - reproducible test data
        user = world.users[n % len(world.users)]
        script = human_session(
            world,
            rng,
            clients.popular_browser(),
            lambda: "73.15.1.1",
            f"person-{n}",
            account=(user, world.shop.accounts[user]),
            logged_in=False,
            pages=3,
            landing=("/", "/login")[n % 2],
            wants_login=True,
            arrives_from="",
        )
        seen |= {(r.method, r.headers, r.ja4) for _, r in _play(script)}
    return seen


def test_popular_clones_send_exactly_what_people_on_that_build_send() -> None:
    """Every request of the popular-build stuffer and scraper, pages, login posts (form and API) and API reads, is
    byte for byte (header list and JA4) a request a person on that build sends."""
    people = _people_on_the_popular_build()
    clones = set()
    kinds = set()
    for persona in ("stuffer-popular", "scraper-popular"):
        for seed in range(8):
            for _, r in _drive(persona, seed=seed):
                clones.add((r.method, r.headers, r.ja4))
                kinds.add((r.method, r.path.split("/")[1] if r.method == "GET" else r.path))
    assert set() == clones - people
    assert {("POST", "/login"), ("POST", "/api/login"), ("GET", "login"), ("GET", ""), ("GET", "products")} <= kinds
    assert ("GET", "api") in kinds


def test_popular_stuffer_rotates_residential_exits() -> None:
    """The popular-build stuffer posts a combo list from residential exits only, at most three tries per visit, a
    new address after a refusal; some campaigns fetch the login page from each new address first, some do not."""
    world = build_world(Scenario(seed=3, users=60))
    fetching = 0
    for seed in range(8):
        steps = [r for _, r in _drive("stuffer-popular", seed=seed)]
        posts = [r for r in steps if r.method == "POST"]
        visits: dict[str, list[Request]] = {}
        for r in steps:
            visits.setdefault(r.session, []).append(r)
        assert all(_in(r.ip, net.RESIDENTIAL_PROXY) for r in steps)
        assert len(posts) >= 250
        assert all(len({r.ip for r in visit}) == 1 for visit in visits.values())
        assert max(sum(r.method == "POST" for r in visit) for visit in visits.values()) <= 3
        known = sum(any(u in (r.body or b"").decode() for u in world.shop.accounts) for r in posts)
        assert known / len(posts) < 0.2
        if steps[0].method == "GET":
            fetching += 1
            assert all("GET" == visit[0].method for visit in visits.values())
    refused = [r for _, r in _drive("stuffer-popular", reply=Reply(403, (), True))]
    assert 0 < fetching < 8
    assert all(a.ip != b.ip for a, b in itertools.pairwise(refused))


def test_some_popular_stuffer_campaigns_keep_a_cookie_jar() -> None:
    """The runner gives a share of the popular stuffer's campaigns (about three in ten) a cookie jar, and the
    popular scraper none."""
    scenario = Scenario(seed=5, mix={"stuffer-popular": 200, "scraper-popular": 20}, users=60)
    actors = build_actors(scenario, build_world(scenario))
    keepers, jars = _cookie_habits(scenario, actors)
    stuffers = [i for i, a in enumerate(actors) if a.persona == "stuffer-popular"]
    share = len(keepers & set(stuffers)) / len(stuffers)
    assert set(keepers) <= set(stuffers)
    assert {} == jars
    assert abs(SOME_KEEP_COOKIES["stuffer-popular"] - share) < 0.1


def test_popular_scraper_walks_the_catalogue_without_cookies_or_assets() -> None:
    """The popular-build scraper reads every product once from rotating residential exits, with no cookie, no
    asset, and at most six requests per address."""
    steps = [r for _, r in _drive("scraper-popular")]
    pages = [r.path for r in steps if r.path.startswith(("/products/", "/api/products/"))]
    ids = [p.rsplit("/", 1)[1] for p in pages]
    per_visit: dict[str, int] = {}
    for r in steps:
        per_visit[r.session] = per_visit.get(r.session, 0) + 1
    assert len(ids) == len(set(ids)) >= 300
    assert all(_in(r.ip, net.RESIDENTIAL_PROXY) for r in steps)
    assert not any("cookie" in dict(r.headers) or r.path.startswith("/static/") for r in steps)
    assert max(per_visit.values()) <= 6


def test_wave_arrives_within_minutes_of_the_email() -> None:
    """The e-mail's wave starts every one of its people within its window after `wave_at`, most in the first two
    minutes, each on a first page with no cookie and no referer; half the popular stuffer's campaigns run through it."""
    scenario = Scenario(seed=5, mix={"human-wave": 80, "stuffer-popular": 12}, users=60)
    world = build_world(scenario)
    actors = build_actors(scenario, world)
    wave = [a for a in actors if a.persona == "human-wave"]
    starts = sorted(a.start - world.wave_at for a in wave)
    firsts = [_play(a.script)[0][1] for a in wave]
    riders = [a for a in actors if a.persona == "stuffer-popular" and abs(a.start - world.wave_at) <= 300.0]
    assert 0.0 <= starts[0] <= starts[-1] <= WAVE_SECONDS
    assert statistics.median(starts) < 120.0
    assert [] == [r for r in firsts if {"cookie", "referer"} & set(dict(r.headers))]
    assert {"none"} == {dict(r.headers)["sec-fetch-site"] for r in firsts if r.scheme == "https"}
    assert 3 <= len(riders) <= 9


def test_cgnat_people_crowd_a_handful_of_addresses() -> None:
    """Dozens of phones share a carrier's handful of CGNAT addresses in the same stretch, each its own session,
    many logging in; the busy office puts dozens of colleagues (and their logins) behind two addresses."""
    scenario = Scenario(seed=5, mix={"human-cgnat": 80, "human-office-busy": 60}, users=60)
    world = build_world(scenario)
    by_persona: dict[str, list[tuple[float, str, Request]]] = {}
    for actor in build_actors(scenario, world):
        rows = [(t, actor.campaign, r) for t, r in _play(actor.script, actor.start)]
        by_persona.setdefault(actor.persona, []).extend(rows)
    for persona, pool in (("human-cgnat", world.cgnat), ("human-office-busy", world.busy_office)):
        rows = by_persona[persona]
        sessions: dict[str, set[str]] = {}
        logins: dict[str, set[str]] = {}
        for _, campaign, r in rows:
            sessions.setdefault(r.ip, set()).add(campaign)
            if r.method == "POST":
                logins.setdefault(r.ip, set()).add(campaign)
        assert set(sessions) <= set(pool)
        assert len(pool) <= 4
        assert min(len(s) for s in sessions.values()) >= 10
        assert sum(len(s) for s in logins.values()) >= 15
        assert all(world.busy_at <= t for t, _, _ in rows)
        assert len({r.headers for _, _, r in rows if r.method == "GET"}) > len(sessions)


def test_search_and_link_arrivals_carry_their_referers() -> None:
    """Search arrivals land on a product page from a search engine (cross-site); link arrivals land on a product
    page from a social site or a chat app (no referer), and half leave after one page."""
    search = [_drive("human-search", seed=seed) for seed in range(20)]
    link = [_drive("human-link", seed=seed) for seed in range(40)]
    for steps in search:
        first = dict(steps[0][1].headers)
        assert steps[0][1].path.startswith("/products/")
        assert first["referer"] in SEARCH_ENGINES
        assert "cross-site" == first["sec-fetch-site"]
    link_referers = set()
    for steps in link:
        first = dict(steps[0][1].headers)
        link_referers.add(first.get("referer", ""))
        assert steps[0][1].path.startswith("/products/")
        assert ("cross-site" if "referer" in first else "none") == first["sec-fetch-site"]
    single = sum(
        1 == sum(r.method == "GET" and not r.path.startswith(("/static/", "/api/")) for _, r in s) for s in link
    )
    assert link_referers <= set(SHARED_LINKS)
    assert "" in link_referers
    assert len(link_referers) >= 3
    assert 12 <= single <= 28


def _captured_plain_http(engine: str, kind: str) -> list[str]:
    """Header names a browser engine sent over plain HTTP outside a secure context, read from the capture file."""
    text = resources.files("botwall").joinpath("data/header_profiles.json").read_text(encoding="utf-8")
    for profile in json.loads(text)["profiles"]:
        key = (profile["client"], profile["kind"], profile["transport"], profile["secure_context"])
        if key == (engine, kind, "http", False):
            return list(profile["headers"])
    raise LookupError(f"no plain-HTTP capture of {engine} {kind}")


_SECURE_ONLY = ("sec-ch-", "sec-fetch-", "priority")
_PER_REQUEST = ("cookie", "referer", "origin", "content-type")


def _plain_http_visit(client: clients.Client, seed: int) -> list[Request]:
    """A person's typed-in visit on `client`, always over plain HTTP: pages, assets, searches and a login."""
    world = build_world(Scenario(seed=3, users=60))
    user = world.users[seed % len(world.users)]
    script = human_session(
        world,
        random.Random(seed),  # noqa: S311 - reproducible test data
        client,
        lambda: "73.15.1.1",
        f"person-{seed}",
        account=(user, world.shop.accounts[user]),
        logged_in=False,
        pages=6,
        landing="/",
        wants_login=True,
        arrives_from="",
        plain_http=1.0,
    )
    return [r for _, r in _play(script)]


@pytest.mark.parametrize(
    ("client", "engine"),
    [
        (clients.chrome("windows", 156, "de-DE,de;q=0.9,en;q=0.8"), "chromium-headful"),
        (clients.chrome("android", 155, "en-GB,en;q=0.9"), "chromium-headful"),
        (clients.chrome("windows", 156, "en-US,en;q=0.9", edge=True), "chromium-headful"),
        (clients.firefox("mac", 153, "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7"), "firefox-headless"),
    ],
)
def test_plain_http_visit_sends_the_captured_http_order(client: clients.Client, engine: str) -> None:
    """A visit over plain HTTP goes out with scheme http and no JA4, in the browser engine's captured http://shop.test
    order with the https client's user-agent and language, without client hints or sec-fetch-*, offering gzip and
    deflate only, and its referers and origins on http://."""
    steps = _plain_http_visit(client, seed=6) + _plain_http_visit(client, seed=7)  # logins by the API and the form
    kinds = {"navigation": 0, "xhr": 0, "style": 0}
    for r in steps:
        kind = "style" if r.path.startswith("/static/") else "xhr" if r.path.startswith("/api/") else "navigation"
        kinds[kind] += 1
        expected = [n for n in _captured_plain_http(engine, kind) if n not in _PER_REQUEST]
        headers = dict(r.headers)
        assert ("http", "") == (r.scheme, r.ja4)
        assert expected == [n for n, _ in r.headers if n not in _PER_REQUEST]
        assert (clients.user_agent(client), dict(client.navigation)["accept-language"], "gzip, deflate") == (
            headers["user-agent"],
            headers["accept-language"],
            headers["accept-encoding"],
        )
        assert all(headers[n].startswith("http://shop.example") for n in ("referer", "origin") if n in headers)
    assert [] == [n for r in steps for n, _ in r.headers if n.startswith(("sec-ch-", "sec-fetch-"))]
    assert ("priority" in _captured_plain_http(engine, "navigation")) == any(
        "priority" in dict(r.headers) for r in steps
    )
    assert all(kinds.values())
    assert {"/login", "/api/login"} == {r.path for r in steps if r.method == "POST"}


def test_plain_http_safari_drops_what_only_a_secure_context_sends() -> None:
    """Safari over plain HTTP (not captured) keeps its hand-written order less sec-fetch-* and priority, offers gzip
    and deflate only, and has no JA4; tools have no plain-HTTP browser variant."""
    https = clients.safari("ios", 26, "es-ES,es;q=0.9")
    plain = clients.plain_http(https)
    steps = _plain_http_visit(https, seed=6) + _plain_http_visit(https, seed=7)
    for template, derived in ((https.navigation, plain.navigation), (https.xhr, plain.xhr)):
        assert [n for n, _ in template if not n.startswith(_SECURE_ONLY)] == [n for n, _ in derived]
    assert ("http", "", "safari", clients.user_agent(https)) == (
        plain.scheme,
        plain.ja4,
        plain.family,
        clients.user_agent(plain),
    )
    assert {"gzip, deflate"} == {dict(r.headers)["accept-encoding"] for r in steps}
    assert {("http", "")} == {(r.scheme, r.ja4) for r in steps}
    assert [] == [n for r in steps for n, _ in r.headers if n.startswith(_SECURE_ONLY)]
    with pytest.raises(ValueError, match="not a browser"):
        clients.plain_http(clients.tool("curl"))


def test_runner_sends_plain_http_over_http_without_ja4(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner hands the engine a plain-HTTP request with scheme http, x-forwarded-proto http and no JA4, and an
    HTTPS one with scheme https, x-forwarded-proto https, the browser's JA4 and its secure-context headers."""
    views: list[RequestView] = []
    build_view = _run.build_view

    def spy(headers: list[tuple[str, str]], attributes: dict[str, str]) -> RequestView:
        views.append(build_view(headers, attributes))
        return views[-1]

    monkeypatch.setattr(_run, "build_view", spy)
    simulate(Scenario(seed=3, mix={"human-wave": 30}, duration=900.0, users=60), training_config(load_config(None)))
    by_scheme: dict[str, set[tuple[str, bool, bool]]] = {}
    for view in views:
        secure = any(n.startswith(("sec-ch-", "sec-fetch-")) for n, _ in view.headers)
        by_scheme.setdefault(view.scheme, set()).add((view.header("x-forwarded-proto"), bool(view.ja4), secure))
    assert {"http": {("http", False, False)}, "https": {("https", True, True)}} == by_scheme


def test_share_of_plain_http_visits() -> None:
    """About one visit in fifteen among people who type the address or follow the e-mail is over plain HTTP (5-8 %
    of the wave, and of home visits with no referer); people from search results, shared links and the sale never."""
    mix = {"human-wave": 2000, "human": 1500, "human-search": 200, "human-link": 200, "human-sale": 100}
    scenario = Scenario(seed=5, mix=mix, users=60)
    firsts: dict[str, list[Request]] = {}
    for actor in build_actors(scenario, build_world(scenario)):
        firsts.setdefault(actor.persona, []).append(next(actor.script)[1])
    wave = firsts["human-wave"]
    typed = [r for r in firsts["human"] if "referer" not in dict(r.headers)]
    searched = [r for r in firsts["human"] if "referer" in dict(r.headers)]
    for visits in (wave, typed):
        share = sum(r.scheme == "http" for r in visits) / len(visits)
        assert 0.05 <= share <= 0.08
    assert abs(PLAIN_HTTP - sum(r.scheme == "http" for r in wave) / len(wave)) < 0.015
    others = searched + firsts["human-search"] + firsts["human-link"] + firsts["human-sale"]
    assert {"https"} == {r.scheme for r in others}


def _draws_taken(seed: int, rng: random.Random) -> int:
    """How many `random()` calls take a fresh `Random(seed)` to `rng`'s state."""
    fresh = random.Random(seed)  # noqa: S311 - reproducible test data
    for n in range(10):
        if fresh.getstate() == rng.getstate():
            return n
        fresh.random()
    raise AssertionError("not a few random() calls away from its seed")


def test_plain_http_draw_leaves_other_visits_alone() -> None:
    """A visit that cannot be typed (it arrives from a link) draws nothing for plain HTTP, so it sends what it sent
    before the draw existed; a typed visit draws once, after its other first draws (its first page keeps them)."""
    world = build_world(Scenario(seed=3, users=60))
    draws, firsts = {}, {}
    for referer in ("https://www.bing.com/", ""):
        rng = random.Random(8)  # noqa: S311 - reproducible test data
        script = human_session(
            world,
            rng,
            clients.popular_browser(),
            lambda: "73.15.1.1",
            "person",
            account=None,
            logged_in=False,
            pages=8,
            arrives_from=referer,
            plain_http=PLAIN_HTTP,
        )
        firsts[referer] = next(script)[1]
        draws[referer] = _draws_taken(8, rng)
    # Before the first page: the warm-cache draw, and for the typed visit the plain-HTTP one after it.
    assert {"https://www.bing.com/": 1, "": 2} == draws
    link = firsts["https://www.bing.com/"]
    assert ("https", clients.JA4_CHROME) == (link.scheme, link.ja4)
