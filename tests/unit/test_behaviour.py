"""The behaviour pillar: windows per IP, fingerprint and username catch automation and let browsing humans through."""

from __future__ import annotations

import random
from dataclasses import replace

from botwall.clock import FakeClock
from botwall.config import StateSettings, parse_yaml
from botwall.engine import Engine
from botwall.evidence.credentials import LoginReader
from botwall.lab.testing import LOGIN_CONFIG, captured_headers, resources
from botwall.request import SOURCE_ADDRESS, RequestView, build_view
from botwall.scoring.features import FEATURE_NAMES, vectorize
from botwall.state.store import MemoryStore

FIREFOX = captured_headers("firefox-headless", "navigation", "https")
CONFIG = LOGIN_CONFIG


class _Common:
    def is_common(self, password: str) -> bool:
        return password == "123456"


def _engine(clock: FakeClock, max_entries: int = 100_000) -> Engine:
    config = parse_yaml(CONFIG, "t.yaml")
    store = MemoryStore(StateSettings(max_entries=max_entries), clock)
    return Engine(config, replace(resources(), logins=LoginReader(_Common())), store=store, clock=clock)


def _view(path: str, ip: str, headers: list[tuple[str, str]] = FIREFOX, method: str = "GET") -> RequestView:
    pseudo = [(":method", method), (":path", path), (":authority", "shop.example"), (":scheme", "https")]
    return build_view([*pseudo, *headers], {SOURCE_ADDRESS: f"{ip}:5000"})


FIREFOX_XHR = captured_headers("firefox-headless", "xhr", "https")


def _login(engine: Engine, ip: str, user: str, password: str, status: int, headers=FIREFOX_XHR):  # type: ignore[no-untyped-def]
    view = _view("/api/login", ip, [*headers, ("content-type", "application/json")], "POST")
    route = engine.login_route(view)
    assert route is not None
    body = f'{{"username": "{user}", "password": "{password}"}}'.encode()
    attempt = engine.logins.read_login(route, "application/json", body)
    decision, context = engine.evaluate(view, route, attempt)
    engine.record_response(context, status, [])
    return decision


def test_browsing_human_fires_nothing() -> None:
    """A person reading pages with their assets at human pace, then logging in once, has no reason and score 0."""
    clock, rng = FakeClock(), random.Random(3)  # noqa: S311 - reproducible timing, not security
    engine = _engine(clock)
    decisions = []
    for page in range(12):
        decisions.append(engine.decide(_view(f"/products/{page}", "198.51.100.20")))
        for asset in ("/static/app.css", "/static/app.js", "/static/logo.svg"):
            clock.advance(0.05 + rng.random() * 0.1)
            decisions.append(engine.decide(_view(asset, "198.51.100.20", [*FIREFOX, ("cookie", "session=1")])))
        clock.advance(3 + rng.random() * 20)
    decisions.append(_login(engine, "198.51.100.20", "alice", "wonderland-42", 200))
    assert {(0, ())} == {(d.score, d.reasons) for d in decisions}


def test_fast_regular_client_is_flagged() -> None:
    """Ten requests a second, exactly 0.1 s apart for 15 s, fire high-rate and regular-timing."""
    clock = FakeClock()
    engine = _engine(clock)
    for i in range(150):
        decision = engine.decide(_view(f"/api/products/{i}", "203.0.113.5"))
        clock.advance(0.1)
    assert {"beh:high-rate", "beh:regular-timing"} <= set(decision.reasons)


def test_stuffing_from_one_ip_is_blocked() -> None:
    """Failing logins for many usernames from one IP are blocked from the fourth attempt on."""
    clock = FakeClock()
    engine = _engine(clock)
    actions = []
    for i in range(8):
        actions.append(str(_login(engine, "203.0.113.9", f"user{i}@mail.example", f"pw{i}-x", 401).action))
        clock.advance(2.5 + i % 3)
    assert ["allow", "allow", "allow", "block", "block", "block", "block", "block"] == actions


def test_rotating_ip_stuffing_is_caught_by_fingerprint() -> None:
    """A stuffer on a fresh IP per attempt is caught once its shared fingerprint has failed across many accounts."""
    clock = FakeClock()
    engine = _engine(clock)
    decisions = []
    for i in range(20):
        decisions.append(_login(engine, f"10.{i}.0.1", f"victim{i}", f"pw-{i}-unique", 401))
        clock.advance(7.3)
    assert "allow" == str(decisions[0].action)
    assert "beh:fingerprint-stuffing" in decisions[-1].reasons
    assert "block" == str(decisions[-1].action)


def test_password_spray_across_accounts() -> None:
    """One password tried against several accounts from several IPs fires password-spray and breached-password."""
    clock = FakeClock()
    engine = _engine(clock)
    for i in range(4):
        decision = _login(engine, f"192.0.2.{i}", f"account{i}", "123456", 401)
        clock.advance(30)
    assert {"beh:password-spray", "cred:breached-password"} <= set(decision.reasons)


def _page_token(engine: Engine, path: str, ip: str) -> tuple[str, str]:
    """View a page as a browser and return the cookie header botwall's response hands it."""
    _, context = engine.evaluate(_view(path, ip))
    set_cookie = engine.response_cookie(context, 200)
    assert set_cookie
    return ("cookie", set_cookie.split(";", 1)[0])


def test_failed_then_successful_human_login_passes() -> None:
    """A person who loads the login page, mistypes once then succeeds is allowed both times without reasons."""
    clock = FakeClock()
    engine = _engine(clock)
    cookie = _page_token(engine, "/login", "198.51.100.40")
    clock.advance(5)
    first = _login(engine, "198.51.100.40", "carol", "correct-horse-battery", 401, [*FIREFOX_XHR, cookie])
    clock.advance(8)
    second = _login(engine, "198.51.100.40", "carol", "correct-horse-battery-staple", 200, [*FIREFOX_XHR, cookie])
    assert [("allow", ()), ("allow", ())] == [(str(d.action), d.reasons) for d in (first, second)]


def test_a_login_with_no_history_behind_it_is_the_clients_own_evidence() -> None:
    """A login with neither botwall's cookie nor a page view from its address is `cred:cold-login`; after a page
    view without keeping the cookie it is `cred:tokenless-login`; with the cookie, neither."""
    clock = FakeClock()
    engine = _engine(clock)
    for n in range(20):  # the site's people hold botwall's cookie
        engine.decide(
            _view("/", f"198.51.100.{n + 100}", [*FIREFOX, _page_token(engine, "/", f"198.51.100.{n + 100}")])
        )
    cold = _login(engine, "203.0.113.70", "dave", "hunter2-x", 401)
    engine.decide(_view("/login", "203.0.113.71"))
    tokenless = _login(engine, "203.0.113.71", "erin", "hunter2-y", 401)
    cookie = _page_token(engine, "/login", "203.0.113.72")
    holder = _login(engine, "203.0.113.72", "frank", "hunter2-z", 401, [*FIREFOX_XHR, cookie])
    assert ["cred:cold-login"] == [r for r in cold.reasons if r.startswith("cred:")]
    assert ["cred:tokenless-login"] == [r for r in tokenless.reasons if r.startswith("cred:")]
    assert [] == [r for r in holder.reasons if r.startswith("cred:")]


def test_an_office_is_a_shared_address_and_each_colleague_is_judged_by_their_cookie() -> None:
    """Three cookie holders behind one address make it shared: its many usernames are a crowd's (no refusal), a
    colleague's own cookie trying many usernames is their own evidence."""
    clock = FakeClock()
    engine = _engine(clock)
    office = "198.51.100.77"
    colleagues = [_page_token(engine, f"/products/{n}", office) for n in range(12)]
    decisions = []
    for n, cookie in enumerate(colleagues):
        clock.advance(20)
        decisions.append(
            _login(engine, office, f"colleague{n}", f"pw-{n}", 401 if n % 3 else 200, [*FIREFOX_XHR, cookie])
        )
    assert "beh:many-usernames-many" in decisions[-1].reasons
    assert {"allow"} == {str(d.action) for d in decisions}
    clock.advance(20)
    rogue = [_login(engine, office, f"victim{n}", f"x{n}", 401, [*FIREFOX_XHR, colleagues[0]]) for n in range(6)]
    assert "beh:cookie-many-usernames" in rogue[2].reasons  # its fourth username
    assert "beh:cookie-many-usernames-many" in rogue[4].reasons  # its sixth: a signature
    assert "block" == str(rogue[-1].action)
    # From then on the rogue cookie's page views are refused too; a colleague's are not.
    assert "block" == str(engine.decide(_view("/login", office, [*FIREFOX, colleagues[0]])).action)
    assert "allow" == str(engine.decide(_view("/login", office, [*FIREFOX, colleagues[1]])).action)


def test_state_is_bounded_under_an_ip_flood() -> None:
    """Twenty thousand distinct IPs never hold more than max_entries records per namespace."""
    clock = FakeClock()
    engine = _engine(clock, max_entries=1_000)
    for i in range(20_000):
        engine.decide(_view("/", f"10.{i // 65536}.{(i // 256) % 256}.{i % 256}"))
    sizes = engine.store.sizes()  # type: ignore[attr-defined]
    assert 1_000 == sizes["ip"]
    assert sizes["fp"] <= 1_000


def test_feature_vector_matches_schema() -> None:
    """The vector has one finite value per named feature, and a curl request sets ua_http_library."""
    engine = _engine(FakeClock())
    evidence, _ = engine.observe(_view("/", "192.0.2.1", [("user-agent", "curl/8.5.0")]))
    vector = vectorize(evidence)
    assert len(FEATURE_NAMES) == len(vector) == len(set(FEATURE_NAMES))
    assert 1.0 == vector[FEATURE_NAMES.index("ua_http_library")]
    assert all(v == v and abs(v) < 1e6 for v in vector)


def test_password_never_reaches_state() -> None:
    """After logins, nothing in the state store (windows, spray records, buckets) contains the password."""
    clock = FakeClock()
    engine = _engine(clock)
    for i in range(3):
        _login(engine, f"192.0.2.{i}", f"user{i}", "Tr0ub4dor&3-secret", 401)
    store = engine.store
    assert isinstance(store, MemoryStore)
    dumped = repr(store._buckets) + "".join(repr(dict(c)) for c in store._namespaces.values())
    assert "Tr0ub4dor" not in dumped


def test_distinct_counts_are_exact_when_small_and_bounded_when_large() -> None:
    """Up to 16 items are counted exactly (no hash collision can hide a fourth username), then estimated, capped."""
    from botwall.evidence.behaviour import add, distinct

    items: tuple[int, ...] | int = ()
    counts = []
    for value in [0, 256, 512, 768, 0, *range(1, 2000)]:  # four values that share a bitmap bit, one repeated
        items = add(items, value)
        counts.append(distinct(items))
    assert [1, 2, 3, 4, 4] == counts[:5]
    assert isinstance(items, int)
    assert 256 == counts[-1]


def _browse(engine: Engine, clock: FakeClock, ip: str, pages: int, rng: random.Random) -> list[tuple[str, ...]]:
    """A person's visit: a cold first page, then pages with a referer, each page's assets once; reasons per request."""
    reasons = []
    referer: list[tuple[str, str]] = []
    for page in range(pages):
        reasons.append(engine.decide(_view(f"/products/{rng.randrange(1, 400)}", ip, [*FIREFOX, *referer])).reasons)
        if page == 0:
            for asset in ("/static/app.css", "/static/app.js", "/static/logo.svg"):
                clock.advance(0.05)
                asset_headers = [*FIREFOX, ("referer", "https://shop.example/")]
                reasons.append(engine.decide(_view(asset, ip, asset_headers)).reasons)
        referer = [("referer", "https://shop.example/products/1")]
        clock.advance(5 + rng.random() * 20)
    return reasons


def test_cookieless_crawler_rotating_addresses_is_caught_by_fingerprint() -> None:
    """A crawler with a real browser's headers, a fresh address every three pages, no cookie, no referer and no
    assets fires fingerprint-cold-requests once its fingerprint's traffic is mostly such page views; people with the
    same browser build, visiting one after another from their own addresses, never do."""
    clock, rng = FakeClock(), random.Random(5)  # noqa: S311 - reproducible timing, not security
    engine = _engine(clock)
    people = [r for n in range(40) for r in _browse(engine, clock, f"198.51.100.{n}", 1 + n % 8, rng)]
    assert not [r for r in people if "beh:fingerprint-cold-requests" in r]

    crawler = []
    for n in range(120):
        clock.advance(2 + rng.random() * 3)
        crawler.append(engine.decide(_view(f"/products/{n + 1}", f"203.0.113.{n // 3}")).reasons)
    caught = ["beh:fingerprint-cold-requests" in r for r in crawler]
    assert not any(caught[:10])
    assert all(caught[40:])

    # A person arriving meanwhile: their first page (cold) is the cost; the pages they reach by link are not.
    during = _browse(engine, clock, "198.51.100.200", 6, rng)
    assert not [r for r in during[4:] if "beh:fingerprint-cold-requests" in r]


def test_cold_requests_have_no_history_behind_them() -> None:
    """A page view is cold without cookie and referer; an API call is cold without a cookie from an address that
    viewed no page lately; an asset never is."""
    engine = _engine(FakeClock())

    def cold(path: str, extra: list[tuple[str, str]], ip: str) -> bool:
        evidence, _ = engine.observe(_view(path, ip, [*FIREFOX, *extra]))
        return evidence.behaviour.cold

    api = [("accept", "application/json"), ("referer", "https://shop.example/")]
    assert cold("/products/3", [], "192.0.2.1")
    assert not cold("/products/3", [("cookie", "session=1")], "192.0.2.2")
    assert not cold("/products/3", [("referer", "https://www.google.com/")], "192.0.2.3")
    assert not cold("/static/app.css", [], "192.0.2.4")
    assert cold("/api/products/3", api, "192.0.2.5")
    assert not cold("/api/products/3", [*api, ("cookie", "session=1")], "192.0.2.6")
    assert not cold("/api/products/4", api, "192.0.2.3")  # this address viewed a page just before


def test_a_click_from_a_page_the_address_never_loaded_is_cold() -> None:
    """Without a cookie, a page with this site's referer is cold when its address viewed no page lately (a scraper
    claiming a click from the home page), and not cold after a page view; a search engine's referer never is."""
    from botwall.evidence.behaviour import is_cold

    own = _view("/products/3", "203.0.113.80", [*FIREFOX, ("referer", "https://shop.example/")])
    search = _view("/products/3", "203.0.113.80", [*FIREFOX, ("referer", "https://www.google.com/")])
    v6 = build_view(
        [(":method", "GET"), (":path", "/p"), (":authority", "[2001:db8::1]:8443"), *FIREFOX,
         ("referer", "https://[2001:db8::1]:8443/")],
        {SOURCE_ADDRESS: "192.0.2.1:5000"},
    )  # fmt: skip
    assert (True, False) == (is_cold(own, "page", 0.0), is_cold(own, "page", 1.0))
    assert (False, False) == (is_cold(search, "page", 0.0), is_cold(search, "page", 1.0))
    assert is_cold(v6, "page", 0.0)
    assert not is_cold(_view("/products/3", "203.0.113.80", [*FIREFOX, ("cookie", "a=1")]), "page", 0.0)


def test_a_cookie_polling_faster_than_a_person_reads_is_its_own_evidence() -> None:
    """A cookie holder polling the stock API every 0.6 s for a minute and a half fires `beh:cookie-high-rate`; a
    person with a cookie reading pages with their assets does not, however many assets a page pulls in."""
    clock = FakeClock()
    engine = _engine(clock)
    bot = _page_token(engine, "/products/1", "198.51.100.60")
    for _ in range(150):
        clock.advance(0.6)
        polled = engine.decide(_view("/api/stock/1", "198.51.100.60", [*FIREFOX_XHR, bot]))
    person = _page_token(engine, "/products/2", "198.51.100.61")
    reasons: set[str] = set()
    for page in range(10):
        clock.advance(8.0)
        reasons |= set(engine.decide(_view(f"/products/{page}", "198.51.100.61", [*FIREFOX, person])).reasons)
        for n in range(40):
            asset = _view(f"/static/{page}-{n}.js", "198.51.100.61", [*FIREFOX, person])
            reasons |= set(engine.decide(asset).reasons)
    assert "beh:cookie-high-rate" in polled.reasons
    assert "beh:cookie-high-rate" not in reasons


def test_a_client_polling_one_endpoint_is_its_own_evidence() -> None:
    """A cookie holder asking one product's stock about once a second (a page view every few polls, a timestamp to
    bust caches) fires `beh:endpoint-polling` within its first 25 requests and is refused on it, its page views too,
    and stays refused when it backs off for a few seconds after each refusal; a person whose pages each ask the API
    as they load, and one typing a search (a new query per keystroke), never do."""
    clock, rng = FakeClock(), random.Random(5)  # noqa: S311 - reproducible timing, not security
    engine = _engine(clock)
    bot = _page_token(engine, "/products/4", "198.51.100.70")
    first = 0
    refused = []
    for n in range(1, 160):
        clock.advance((3.0 if refused and refused[-1] else 0.7) + rng.random() * 0.3)
        if n % 8 == 0:
            polled = engine.decide(_view("/products/4", "198.51.100.70", [*FIREFOX, bot]))
        else:
            call = _view(f"/api/products/4?_={1796461007000 + n}", "198.51.100.70", [*FIREFOX_XHR, bot])
            polled = engine.decide(call)
        if "beh:endpoint-polling" in polled.reasons and not first:
            first = n
        if first:
            refused.append(polled.action.value == "block")
    assert 0 < first <= 25
    assert all(refused), refused  # backing off to one call every three seconds or so is still polling
    person = _page_token(engine, "/products/1", "198.51.100.71")
    reasons: set[str] = set()
    for n in range(40):
        clock.advance(3.0 + rng.random() * 4)
        reasons |= set(engine.decide(_view(f"/products/{n % 5}", "198.51.100.71", [*FIREFOX, person])).reasons)
        for _ in range(2):  # the page asks for its product's stock and reviews as it loads
            call = _view(f"/api/products/{n % 5}", "198.51.100.71", [*FIREFOX_XHR, person])
            reasons |= set(engine.decide(call).reasons)
    typist = _page_token(engine, "/search", "198.51.100.72")
    for word in ("running shoes", "trail runners", "waterproof jacket"):
        for end in range(1, len(word) + 1):
            clock.advance(0.25)
            call = _view("/api/search", "198.51.100.72", [*FIREFOX_XHR, typist])
            reasons |= set(engine.decide(replace(call, query=f"q={word[:end]}")).reasons)
    assert "beh:endpoint-polling" not in reasons


def test_an_endpoint_the_sites_own_pages_poll_is_not_polling() -> None:
    """Where the site's pages poll an endpoint themselves (a live auction's price, asked every second by every
    open page), the clients polling it are the site's normal: from about the 20th client polling it (a distinct
    count, estimated past 16), polling it is nobody's evidence; the first to get there are refused until then, the
    cost of learning it, once per endpoint and table lifetime. A client polling another endpoint still is."""
    clock = FakeClock()
    engine = _engine(clock)
    cookies = [_page_token(engine, "/auction", f"198.51.100.{100 + n}") for n in range(30)]
    rounds = []
    for _ in range(70):
        clock.advance(1.0)
        decisions = [
            engine.decide(_view("/api/auction/price", f"198.51.100.{100 + n}", [*FIREFOX_XHR, cookie]))
            for n, cookie in enumerate(cookies)
        ]
        rounds.append(sum("beh:endpoint-polling" in decision.reasons for decision in decisions))
    assert 0 < sum(rounds) <= 25, rounds
    assert sum(1 for refused in rounds if refused) <= 2, rounds  # the round in which they all got there, or one more
    assert sum(rounds[-25:]) == 0
    bot = _page_token(engine, "/products/4", "198.51.100.90")
    for _ in range(60):
        clock.advance(1.0)
        polled = engine.decide(_view("/api/products/4", "198.51.100.90", [*FIREFOX_XHR, bot]))
    assert "beh:endpoint-polling" in polled.reasons


def test_endpoint_of_drops_cache_busting_timestamps_only() -> None:
    from botwall.evidence.behaviour import endpoint_of

    assert endpoint_of("/api/stock/4", "") == "/api/stock/4"
    assert endpoint_of("/api/stock/4", "_=1796461007123&size=9") == "/api/stock/4?size=9"
    assert endpoint_of("/api/search", "q=running") != endpoint_of("/api/search", "q=runnin")
    assert endpoint_of("/api/orders", "id=12345") == "/api/orders?id=12345"


def test_an_api_flood_does_not_make_botwall_think_it_sees_no_pages() -> None:
    """Where people hold botwall's cookie (handed out on pages only), a flood of API calls that pushes the page share
    under a tenth still leaves a login with no page view behind it cold."""
    clock = FakeClock()
    engine = _engine(clock)
    for n in range(10):
        cookie = _page_token(engine, "/", f"198.51.100.{n + 10}")
        engine.decide(_view("/products/1", f"198.51.100.{n + 10}", [*FIREFOX, cookie]))
    for n in range(400):
        clock.advance(0.05)
        engine.decide(_view(f"/api/stock/{n}", f"203.0.113.{n % 250}", FIREFOX_XHR))
    login = _login(engine, "192.0.2.77", "zed", "pw-zed-1", 401)
    assert "cred:cold-login" in login.reasons
