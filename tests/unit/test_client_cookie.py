"""botwall's client cookie (a signed token bound to the client software) and the challenge policy, in-process."""

from __future__ import annotations

import pytest

from botwall.clock import FakeClock
from botwall.config import Action, ClientCookieSettings, StateSettings, parse_yaml
from botwall.engine import Engine
from botwall.errors import ConfigError
from botwall.lab.testing import captured_headers, resources
from botwall.request import SOURCE_ADDRESS, RequestView, build_view
from botwall.state.store import MemoryStore
from botwall.state.tokens import SECRET_ENV, CookieSigner

BROWSER = captured_headers("firefox-headless", "navigation", "http", "shop.test")
FETCH = captured_headers("firefox-headless", "xhr", "http", "shop.test")
SETTINGS = ClientCookieSettings(ttl_seconds=3600)
CHALLENGE = "model: {scorer: rules}\npolicies:\n  - {name: gate, action: challenge}\n  - {name: rest, action: block}\n"


def _signer(clock: FakeClock, key: bytes = b"k" * 32) -> CookieSigner:
    return CookieSigner(SETTINGS, key=key, clock=clock)


def _value(set_cookie: str) -> str:
    return set_cookie.split(";", 1)[0]


def test_a_token_is_valid_for_its_software_until_it_expires() -> None:
    clock = FakeClock(1_800_000_000.0)
    signer = _signer(clock)
    cookie = _value(signer.set_cookie("t13d_abc|Firefox/153", secure=False))
    header = f"theme=dark; {cookie}; cart=3"
    assert signer.valid(header, "t13d_abc|Firefox/153")
    assert not signer.valid(header, "t13d_abc|Firefox/152")  # another client's software
    assert not _signer(clock, b"x" * 32).valid(header, "t13d_abc|Firefox/153")  # another replica's key
    # Checked once, remembered: still bound to its software and its MAC, and still ageing.
    assert signer.valid(header, "t13d_abc|Firefox/153")
    forged = cookie[:-1] + ("A" if cookie[-1] != "A" else "B")
    assert not signer.valid(f"theme=dark; {forged}", "t13d_abc|Firefox/153")
    clock.now += 3600 + 61
    assert not signer.valid(header, "t13d_abc|Firefox/153")  # expired (past the minute of skew allowed)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "__bw=",
        "__bw=zz.abc",
        "__bw=6b0b658b",
        "__bw=6b0b658b.",
        "x__bw=1.2",
        "__bw=6b0b658b.AAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
    ],
)
def test_malformed_or_forged_tokens_are_not_valid(header: str) -> None:
    assert not _signer(FakeClock(1_800_000_000.0)).valid(header, "t13d_abc|Firefox/153")


def test_the_cookie_is_secure_over_https_and_httponly_always() -> None:
    signer = _signer(FakeClock(1_800_000_000.0))
    assert signer.set_cookie("s", secure=True).endswith("; HttpOnly; SameSite=Lax; Secure")
    assert "Secure" not in signer.set_cookie("s", secure=False)


def test_replicas_sharing_the_secret_accept_each_others_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, "shared between replicas")
    clock = FakeClock(1_800_000_000.0)
    one, two = CookieSigner(SETTINGS, clock=clock), CookieSigner(SETTINGS, clock=clock)
    assert two.valid(_value(one.set_cookie("s", secure=False)), "s")
    monkeypatch.delenv(SECRET_ENV)
    assert not CookieSigner(SETTINGS, clock=clock).valid(_value(one.set_cookie("s", secure=False)), "s")


def _view(headers: list[tuple[str, str]], path: str = "/products/1", ip: str = "198.51.100.7") -> RequestView:
    pseudo = [(":method", "GET"), (":path", path), (":authority", "shop.test"), (":scheme", "http")]
    return build_view([*pseudo, *headers], {SOURCE_ADDRESS: f"{ip}:1234"})


def _engine(text: str = CHALLENGE) -> Engine:
    clock = FakeClock(1_800_000_000.0)
    return Engine(
        parse_yaml(text, "test.yaml"), resources(), store=MemoryStore(StateSettings(), clock), clock=clock, wall=clock
    )


def test_the_challenge_lets_a_cookie_keeping_browser_through() -> None:
    """Challenged once; with the token its page and its fetch() (another header shape) skip the challenge policy."""
    engine = _engine()
    first = engine.decide(_view(BROWSER))
    assert (Action.CHALLENGE, True) == (first.action, first.mitigates)
    token = [("cookie", _value(first.set_cookie))]
    assert "rest" == engine.decide(_view([*BROWSER, *token])).policy
    assert "rest" == engine.decide(_view([*FETCH, *token], path="/api/products")).policy


def test_coming_back_without_the_token_is_refused_and_others_are_still_challenged() -> None:
    engine = _engine()
    assert Action.CHALLENGE == engine.decide(_view(BROWSER)).action
    assert Action.BLOCK == engine.decide(_view(BROWSER)).action  # the same address, software and page: no cookies
    assert Action.CHALLENGE == engine.decide(_view(BROWSER, ip="198.51.100.8")).action  # someone else behind a NAT
    assert Action.CHALLENGE == engine.decide(_view(BROWSER, path="/products/2")).action


def test_the_challenge_is_not_offered_where_it_cannot_work() -> None:
    """An API call, a tool that names itself, a POST, or a config that hands out no cookie: blocked at once."""
    engine = _engine()
    assert Action.BLOCK == engine.decide(_view(FETCH, path="/api/products")).action
    assert Action.BLOCK == engine.decide(_view([("user-agent", "curl/8.5.0"), ("accept", "*/*")])).action
    pseudo = [(":method", "POST"), (":path", "/cart"), (":authority", "shop.test"), (":scheme", "http")]
    assert Action.BLOCK == engine.decide(build_view([*pseudo, *BROWSER], {SOURCE_ADDRESS: "198.51.100.7:1"})).action
    off = _engine(CHALLENGE + "client_cookie: {issue: false}\n")
    assert Action.BLOCK == off.decide(_view(BROWSER)).action


def test_a_shadowed_challenge_is_logged_and_never_remembered() -> None:
    engine = _engine(CHALLENGE.replace("action: challenge}", "action: challenge, shadow: true}"))
    for _ in range(2):
        decision = engine.decide(_view(BROWSER))
        assert (Action.CHALLENGE, False, True) == (decision.action, decision.mitigates, decision.shadow)


def test_a_bad_client_cookie_section_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"client_cookie.name: expected a cookie name"):
        parse_yaml("client_cookie: {name: 'a b'}\n", "bad.yaml")
    with pytest.raises(ConfigError, match=r"client_cookie.ttl_seconds"):
        parse_yaml("client_cookie: {ttl_seconds: 5}\n", "bad.yaml")


# Addresses in six networks (ASNs) of the shipped table: Comcast, AT&T, Deutsche Telekom, T-Mobile USA, Verizon, Jio.
NETWORKS = ("73.15.2.3", "99.100.2.3", "79.200.2.3", "172.56.2.3", "174.200.2.3", "152.58.2.3")


def test_one_cookie_from_many_networks_is_a_proxy_pool() -> None:
    """A person's cookie from home, phone and office is fine; the same cookie from six networks is a scraper keeping
    one cookie jar across a proxy pool, and weighs a block on its own."""
    engine = _engine("model: {scorer: rules}\n")
    _, context = engine.evaluate(_view(BROWSER, ip=NETWORKS[0]))  # the first page: its response hands out the cookie
    cookie = _value(engine.response_cookie(context, 200))
    reasons = [engine.decide(_view([*BROWSER, ("cookie", cookie)], ip=ip)).reasons for ip in NETWORKS]
    assert [False] * 5 + [True] == ["beh:cookie-many-networks" in r for r in reasons]
    assert 70 <= engine.decide(_view([*BROWSER, ("cookie", cookie)], ip=NETWORKS[1])).score


@pytest.mark.parametrize(
    ("cache_control", "issued"),
    [
        ("", True),
        ("private, max-age=600", True),
        ("no-store", True),
        ("no-cache", True),
        ("public, max-age=300", False),
        ("max-age=60", False),
        ("s-maxage=600", False),
    ],
)
def test_no_cookie_on_a_response_a_shared_cache_may_store(cache_control: str, issued: bool) -> None:
    """A CDN in front of Envoy would hand one cached token to everybody: such responses carry none."""
    engine = _engine("model: {scorer: rules}\n")
    _, context = engine.evaluate(_view(BROWSER))
    assert issued == bool(engine.response_cookie(context, 200, cache_control))


def test_a_long_cookie_header_is_checked_but_not_kept() -> None:
    """One valid token with a different kilobyte of padding each time: each header is read (the token is valid),
    none is remembered whole, so a holder of one token cannot fill the table with its padding."""
    clock = FakeClock(1_800_000_000.0)
    signer = _signer(clock)
    cookie = _value(signer.set_cookie("t13d_abc|Firefox/153", secure=False))
    for n in range(10):
        assert signer.valid(f"pad{n}={'x' * 2000}; {cookie}", "t13d_abc|Firefox/153")
    assert len(signer._headers) == 0
    assert signer.valid(f"theme=dark; {cookie}", "t13d_abc|Firefox/153")
    assert len(signer._headers) == 1
