"""The decision engine: policy matching, thresholds, throttling with an injected clock, shadow mode."""

from __future__ import annotations

import pytest

from botwall import engine as engine_module
from botwall.clock import FakeClock
from botwall.config import Action, StateSettings, load_config, parse_yaml
from botwall.engine import Engine
from botwall.lab.simulate import STANDARD_MIX, Scenario, make_engine, run
from botwall.lab.testing import captured_headers, resources
from botwall.request import SOURCE_ADDRESS, RequestView, build_view
from botwall.state.store import MemoryStore

BROWSER = captured_headers("firefox-headless", "navigation", "http", "shop.test")
CURL = [("user-agent", "curl/8.5.0"), ("accept", "*/*")]

CONFIG = """
policies:
  - name: trap
    match: {path: {prefix: /wp-admin}}
    action: deceive
    deceive: {body: "welcome"}
  - name: admin-host
    match: {hosts: [admin.example], methods: [DELETE]}
    action: block
  - name: login
    match: {path: {exact: /login}, methods: [POST]}
    action: throttle
    throttle: {key: ip, rate_per_second: 0.5, burst: 2}
  - name: watch
    match: {path: {prefix: /checkout}}
    min_score: 30
    action: monitor
  - name: bots
    min_score: 70
    action: block
"""


def _view(
    path: str = "/",
    method: str = "GET",
    headers: list[tuple[str, str]] = BROWSER,
    host: str = "shop.example",
    ip: str = "198.51.100.7",
) -> RequestView:
    pseudo = [(":method", method), (":path", path), (":authority", host), (":scheme", "http")]
    return build_view([*pseudo, *headers], {SOURCE_ADDRESS: f"{ip}:1234"})


def _engine(text: str = CONFIG, clock: FakeClock | None = None) -> Engine:
    config = parse_yaml(text, "test.yaml")
    return Engine(config, resources(), store=MemoryStore(StateSettings(), clock or FakeClock()))


def test_browser_is_allowed_and_curl_blocked() -> None:
    """The human passes untouched; the automation tool is blocked by the score policy."""
    engine = _engine()
    human, bot = engine.decide(_view()), engine.decide(_view(headers=CURL))
    assert (Action.ALLOW, "human", "", False) == (human.action, human.verdict, human.policy, human.mitigates)
    assert (Action.BLOCK, "bot", "bots", True) == (bot.action, bot.verdict, bot.policy, bot.mitigates)


def test_first_matching_policy_wins() -> None:
    """A curl request to the honeytrap is deceived, not blocked: policies are tried in order."""
    decision = _engine().decide(_view("/wp-admin/setup.php", headers=CURL))
    assert (Action.DECEIVE, "trap", b"welcome") == (decision.action, decision.policy, decision.deceive.body)


def test_host_and_method_match() -> None:
    """A host-and-method policy takes only that host and method (port ignored)."""
    engine = _engine()
    assert Action.BLOCK == engine.decide(_view(method="DELETE", host="admin.example:8443")).action
    assert Action.ALLOW == engine.decide(_view(method="GET", host="admin.example")).action
    assert Action.ALLOW == engine.decide(_view(method="DELETE", host="shop.example")).action


def test_min_score_gates_monitor() -> None:
    """A monitor policy with min_score 30 tags the suspicious and ignores the human."""
    engine = _engine()
    suspect = [("user-agent", "Mozilla/5.0 (X11) Gecko/20100101 Firefox/128.0")]
    assert Action.MONITOR == engine.decide(_view("/checkout", headers=suspect)).action
    assert Action.ALLOW == engine.decide(_view("/checkout")).action


def test_throttle_refuses_when_bucket_empty_and_recovers() -> None:
    """Two logins pass, the third gets a retry-after, and one passes again once a token has refilled."""
    clock = FakeClock()
    engine = _engine(clock=clock)
    results = [engine.decide(_view("/login", "POST")) for _ in range(3)]
    assert [Action.ALLOW, Action.ALLOW, Action.THROTTLE] == [d.action for d in results]
    assert 2 == results[2].retry_after
    other_ip = engine.decide(_view("/login", "POST", ip="203.0.113.9"))
    assert Action.ALLOW == other_ip.action
    clock.advance(2.0)
    assert Action.ALLOW == engine.decide(_view("/login", "POST")).action
    assert Action.THROTTLE == engine.decide(_view("/login", "POST")).action


def test_throttle_by_header_key() -> None:
    """Buckets keyed by an API key header are shared across IPs with the same key."""
    text = """
policies:
  - name: api
    action: throttle
    throttle: {key: "header:x-api-key", rate_per_minute: 1, burst: 1}
"""
    engine = _engine(text)
    keyed = [*BROWSER, ("x-api-key", "k1")]
    assert Action.ALLOW == engine.decide(_view(headers=keyed, ip="192.0.2.1")).action
    assert Action.THROTTLE == engine.decide(_view(headers=keyed, ip="192.0.2.2")).action
    assert Action.ALLOW == engine.decide(_view(headers=[*BROWSER, ("x-api-key", "k2")])).action


def test_global_shadow_enforces_nothing() -> None:
    """In global shadow mode the block is decided and marked shadow, but not enforced."""
    engine = _engine("shadow: true\n" + CONFIG)
    decision = engine.decide(_view(headers=CURL))
    assert (Action.BLOCK, True, False, False) == (
        decision.action,
        decision.shadow,
        decision.enforced,
        decision.mitigates,
    )


def test_policy_shadow_only_affects_that_policy() -> None:
    """A shadowed policy is not enforced while the others still are."""
    text = CONFIG.replace("    action: deceive\n", "    action: deceive\n    shadow: true\n")
    engine = _engine(text)
    trap = engine.decide(_view("/wp-admin"))
    bot = engine.decide(_view(headers=CURL))
    assert (Action.DECEIVE, False) == (trap.action, trap.enforced)
    assert (Action.BLOCK, True) == (bot.action, bot.enforced)


def test_store_is_bounded() -> None:
    """A flood of distinct client IPs never holds more buckets than max_entries."""
    store = MemoryStore(StateSettings(max_entries=100, ttl_seconds=60), FakeClock())
    for i in range(1_000):
        store.take_token(f"ip{i}", 1.0, 1)
    assert 100 == len(store)


def test_store_entries_expire() -> None:
    """Idle buckets expire after ttl_seconds."""
    clock = FakeClock()
    store = MemoryStore(StateSettings(max_entries=100, ttl_seconds=60), clock)
    store.take_token("a", 1.0, 1)
    clock.advance(61)
    store.take_token("b", 1.0, 1)
    assert 1 == len(store)


def test_software_evidence_is_cached_by_everything_it_reads() -> None:
    """A browser's next page (another cookie, referer, address) reuses its software evidence; a request that differs
    in something that evidence reads (the path being an API's, the method, the scheme, a header's value or place)
    gets its own, the same as a fresh engine's."""
    engine = _engine()
    first, _ = engine.observe(_view("/", headers=[*BROWSER, ("cookie", "a=1"), ("referer", "http://a.example/")]))
    again, _ = engine.observe(
        _view("/products", headers=[*BROWSER, ("cookie", "b=2"), ("referer", "http://shop.example/")], ip="192.0.2.9")
    )
    assert again.headers is first.headers  # the cookie's and the referer's values are not read (their places are)
    assert again.fingerprint == first.fingerprint
    assert len(engine._softwares) == 1
    navigation = [(n, v) for n, v in BROWSER]
    fetch = [("sec-fetch-dest", "document"), ("sec-fetch-mode", "navigate"), ("sec-fetch-site", "none")]
    variants = [
        _view("/", headers=[*navigation, *fetch]),
        _view("/api/products", headers=[*navigation, *fetch]),  # a navigation to an API path
        _view("/", headers=[*navigation, *[(n, "no-cors" if n == "sec-fetch-mode" else v) for n, v in fetch]]),
        _view("/", method="OPTIONS", headers=[*navigation, ("access-control-request-method", "POST")]),
        _view("/", headers=[(n, "gzip") if n == "accept-encoding" else (n, v) for n, v in navigation]),
        _view("/", headers=[(n, v) for n, v in navigation if n != "accept-language"]),
        _view("/", headers=list(reversed(navigation))),
        _view("/", headers=[*navigation, ("x-forwarded-proto", "https")]),
        _view("/", headers=CURL),
    ]
    for view in variants:
        cached, _ = engine.observe(view)
        fresh, _ = _engine().observe(view)
        assert (cached.headers, cached.tls, cached.ua, cached.fingerprint) == (
            fresh.headers,
            fresh.tls,
            fresh.ua,
            fresh.fingerprint,
        )
        assert sorted(cached.reasons) == sorted(fresh.reasons)
    reasons = {r for view in variants for r in engine.observe(view)[0].reasons}
    assert "hdr:navigation-to-api-path" in reasons
    assert "hdr:non-browser-accept-encoding" in reasons or "hdr:order-mismatch" in reasons


def test_the_software_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "SOFTWARE_CACHE", 8)
    engine = _engine()
    for n in range(30):
        engine.observe(_view(headers=[("user-agent", f"tool/{n}"), ("accept", "*/*")]))
    assert len(engine._softwares) == 8


class _NoCache(dict[tuple[object, ...], object]):
    """A software cache that keeps nothing: every request's software evidence worked out afresh."""

    def __setitem__(self, key: tuple[object, ...], value: object) -> None:
        return None


def test_every_persona_is_judged_the_same_with_the_software_cache() -> None:
    """Every standard persona (people on many builds, tools, crawlers, stuffers, scrapers) played through the engine
    with the software cache and without: the same score, reasons, own score and action for every request."""

    def play(cached: bool) -> list[tuple[int, tuple[str, ...], int, str]]:
        clock = FakeClock(0.0)
        engine = make_engine(load_config(None), clock=clock)
        if not cached:
            engine._softwares = _NoCache()  # type: ignore[assignment]
        scenario = Scenario(seed=12, mix=dict.fromkeys(STANDARD_MIX, 1) | {"human": 6}, duration=240.0, users=30)
        return [(r.score, r.reasons, r.own, r.action) for r in run(scenario, engine, clock)]

    with_cache = play(True)
    assert with_cache == play(False)
    assert len({reasons for _, reasons, _, _ in with_cache}) > 10  # many kinds of client, not one


def test_crafted_large_header_sets_are_not_kept() -> None:
    """Header sets carrying kilobytes of values (no browser's do) are judged but not kept: 2,048 of them would pin a
    hundred megabytes of an attacker's padding."""
    engine = _engine()
    for n in range(20):
        engine.observe(_view(headers=[*BROWSER, ("x-pad", f"{n}" + "a" * 5000)]))
    assert len(engine._softwares) == 0
    engine.observe(_view(headers=BROWSER))
    assert len(engine._softwares) == 1
