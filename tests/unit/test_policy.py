"""The pure policy decision, and the state it leaves to the engine: no store, no clock, no I/O in `policy.decide`."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

from botwall import policy
from botwall.clock import FakeClock
from botwall.config import Action, StateSettings, parse_yaml
from botwall.engine import Engine
from botwall.lab.testing import captured_headers, resources
from botwall.request import SOURCE_ADDRESS, build_view
from botwall.scoring.features import Evidence
from botwall.scoring.rules import Score
from botwall.state.keys import KeyHasher
from botwall.state.store import MemoryStore

FIREFOX = captured_headers("firefox-headless", "navigation", "http", "127.0.0.1")
CONFIG = parse_yaml(
    """
policies:
  - name: login
    match: {path: {exact: /login}, methods: [POST]}
    action: throttle
    throttle: {key: ip, rate_per_minute: 1, burst: 1}
  - name: challenge-bots
    min_score: 70
    action: challenge
  - name: block-bots
    min_score: 70
    action: block
""",
    "t.yaml",
)


def _evidence(path: str = "/", method: str = "GET") -> Evidence:
    """Evidence of a browser's request, observed by a throwaway engine (the pure function needs only its value)."""
    view = build_view(
        [(":method", method), (":path", path), (":authority", "shop"), *FIREFOX], {SOURCE_ADDRESS: "192.0.2.9:1"}
    )
    evidence, _ = Engine(CONFIG, resources()).observe(view)
    return evidence


def test_the_first_policy_that_takes_the_request_decides() -> None:
    """A low score is allowed; a high one on a page is challenged, and blocked when the client was challenged lately."""
    page = _evidence("/products")
    assert Action.ALLOW == policy.decide(Score(10, (), 10), page, CONFIG).action
    assert Action.CHALLENGE == policy.decide(Score(80, (), 80), page, CONFIG).action
    assert Action.BLOCK == policy.decide(Score(80, (), 80), page, CONFIG, challenged_lately=True).action


def test_a_crowds_evidence_challenges_a_page_and_refuses_nobody() -> None:
    """A score the client's own evidence does not carry (own < suspect) sends a page to the challenge, lets an API
    call and a login through (the login to its throttle), and a client back without the token is refused all the
    same: coming back without it is its own evidence."""
    crowd = Score(90, ("beh:fingerprint-cold-requests", "beh:fingerprint-stuffing"), 10)
    page, api, login = _evidence("/products"), _evidence("/api/products"), _evidence("/login", "POST")
    assert Action.CHALLENGE == policy.decide(crowd, page, CONFIG).action
    assert Action.ALLOW == policy.decide(crowd, api, CONFIG).action
    assert (Action.THROTTLE, "login") == (
        policy.decide(crowd, login, CONFIG).action,
        policy.decide(crowd, login, CONFIG).policy,
    )
    assert Action.BLOCK == policy.decide(crowd, page, CONFIG, challenged_lately=True).action
    own = Score(90, ("cred:cold-login", "beh:fingerprint-stuffing"), 40)
    assert Action.BLOCK == policy.decide(own, api, CONFIG).action


def test_a_token_holder_is_refused_only_on_its_own_evidence() -> None:
    """Proof accrues to the client: a holder of botwall's token whose own score is under suspect is not refused,
    whatever its crowds score; at suspect it is (its own behaviour turned bad)."""
    page = replace(_evidence("/products"), token=True, token_id="ab")
    assert Action.ALLOW == policy.decide(Score(90, (), 29), page, CONFIG).action
    assert Action.BLOCK == policy.decide(Score(90, (), 30), page, CONFIG).action


def test_behind_a_shared_address_each_token_holder_has_its_own_login_bucket() -> None:
    """An `ip` throttle keys an office's cookie holders by their token; a client without one keeps the address's."""
    login = _evidence("/login", "POST")
    shared = replace(login, behaviour=replace(login.behaviour, ip_shared=True))
    holder = replace(shared, token=True, token_id="ab")
    assert "tb|login|ip|192.0.2.9" == policy.decide(Score(0, (), 0), shared, CONFIG).bucket
    assert "tb|login|ip|tok:ab" == policy.decide(Score(0, (), 0), holder, CONFIG).bucket


def test_a_throttle_decision_names_its_bucket_and_leaves_the_count_to_the_engine() -> None:
    """decide() only says which bucket a throttle takes from; calling it twice changes nothing."""
    login = _evidence("/login", "POST")
    first, second = (policy.decide(Score(0, (), 0), login, CONFIG) for _ in range(2))
    assert first == second
    assert (Action.THROTTLE, "tb|login|ip|192.0.2.9") == (first.action, first.bucket)


def test_the_engine_applies_the_bucket_and_remembers_the_challenge_in_the_store() -> None:
    """Through the engine, the second login within the minute is 429, and a challenge is a mark in the store."""
    clock = FakeClock(100.0)
    store = MemoryStore(StateSettings(), clock)
    engine = Engine(CONFIG, resources(), store=store, clock=clock)
    login = build_view(
        [(":method", "POST"), (":path", "/login"), (":authority", "shop"), *FIREFOX], {SOURCE_ADDRESS: "192.0.2.9:1"}
    )
    assert [Action.ALLOW, Action.THROTTLE] == [engine.decide(login).action for _ in range(2)]
    store.mark("challenged", "k", 60.0)
    assert (True, False) == (store.marked("challenged", "k"), store.marked("challenged", "other"))
    clock.advance(61.0)
    assert False is store.marked("challenged", "k")


def test_the_site_window_is_one_record_that_never_expires() -> None:
    """The deployment-wide window outlives the store's entry TTL (a reset would make a fresh process of it)."""
    clock = FakeClock(0.0)
    store = MemoryStore(StateSettings(ttl_seconds=60), clock)
    site = store.aggregate("site", list)
    clock.advance(3600.0)
    assert site is store.aggregate("site", list)


def test_window_keys_hash_the_same_in_every_process() -> None:
    """KeyHasher gives one value for a string across processes (Python's hash() does not), and differs by key."""
    code = "from botwall.state.keys import KeyHasher; print(KeyHasher()('/products'))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert str(KeyHasher()("/products")) == other
    assert KeyHasher()("/products") != KeyHasher(b"another deployment")("/products")


def test_a_deceive_policy_spares_verified_crawlers_and_the_allowlist_and_keeps_to_its_endpoints() -> None:
    """Fakes must never reach a search engine (it would index them) nor the operator's allowlist; `endpoints` confines
    a deceive policy, elsewhere the next policy decides."""
    config = parse_yaml(
        """
policies:
  - name: honeytrap
    match: {path: {prefix: /wp-login.php}}
    action: deceive
  - name: deceive-bots
    min_score: 70
    action: deceive
    deceive: {endpoints: ['/api/products/{id}']}
  - name: block-bots
    min_score: 70
    action: block
""",
        "t.yaml",
    )
    bot = Score(90, ("ua:automation-tool",), 90)
    api = _evidence("/api/products/3")
    assert Action.DECEIVE == policy.decide(bot, api, config).action
    assert Action.BLOCK == policy.decide(bot, _evidence("/api/products/3/reviews"), config).action  # not named
    # The honeytrap takes anyone on its path (min_score 0): a scanner, but never a verified crawler or the allowlist.
    trap = _evidence("/wp-login.php")
    assert policy.decide(Score(0, (), 0), trap, config).action is Action.DECEIVE
    crawler = replace(trap, crawler="verified")
    assert policy.decide(Score(0, (), 0), crawler, config).action is Action.ALLOW
    allowed = replace(trap, ip=replace(trap.ip, reputation="allow"))
    assert policy.decide(Score(0, (), 0), allowed, config).action is Action.ALLOW
