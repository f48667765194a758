"""The traffic simulator: reproducible from its seed, each persona shaped as its kind of client behaves."""

from __future__ import annotations

import ipaddress
import itertools
import random
import statistics
from dataclasses import replace
from functools import lru_cache
from urllib.parse import parse_qs

from botwall.config import load_config, parse_yaml
from botwall.lab.simulate import PERSONAS, Reply, Request, Scenario, build_world, simulate, training_config
from botwall.lab.simulate import _network as net
from botwall.scoring.features import FEATURE_NAMES

SMALL = Scenario(seed=7, mix=dict.fromkeys(PERSONAS, 1), duration=900.0, users=60)


OK = Reply(200, (), False)


def _drive(persona: str, seed: int = 3, reply: Reply = OK) -> list[tuple[float, Request]]:
    """Run one actor's script on its own, answering every request with `reply`; (time, request) pairs."""
    world = build_world(Scenario(seed=seed, users=60))
    rng = random.Random(f"{seed}:{persona}")  # noqa: S311 - reproducible test data
    script = PERSONAS[persona][0](world, rng, f"{persona}-000")
    out, t = [], 0.0
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
