"""Personas: scripts of timed requests that react to what they get back, one script per actor.

An actor's script is a generator: it yields `(delay, Request)` (seconds to wait before sending) and receives the
`Reply` the client saw (the shop's answer, or botwall's 403/429/fake page). Humans browse pages with their assets
at human pace and log in; good bots crawl from their published ranges; bad bots stuff credentials, scrape, poll a
sale and enumerate the API, and the ones that rotate infrastructure rotate again when refused.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from botwall.lab.simulate import _clients as clients
from botwall.lab.simulate import _network as net
from botwall.lab.simulate._shop import ASSETS, SimShop

HOST = "shop.example"
ORIGIN = f"https://{HOST}"
# The share of people's visits that arrive with no referer (an address typed without `https://`, an old bookmark, a
# link in an e-mail) browsed over plain HTTP, which the site also serves: the whole visit, in a browser that is then
# not in a secure context (`clients.plain_http`).
PLAIN_HTTP = 0.065


@dataclass(frozen=True, slots=True)
class Request:
    """One simulated request, as the client sends it (Envoy's additions are made by the runner)."""

    method: str
    path: str  # with its query string
    headers: tuple[tuple[str, str], ...]
    ip: str
    ja4: str
    session: str  # label: the session or bot identity this request belongs to
    body: bytes | None = None
    scheme: str = "https"  # "http": sent over plain HTTP (no TLS, so no JA4)


@dataclass(frozen=True, slots=True)
class Reply:
    """What the client got back."""

    status: int
    set_cookies: tuple[str, ...]
    mitigated: bool  # answered by botwall (block, throttle or deceive), not the shop


Script = Generator[tuple[float, Request], Reply, None]


@dataclass(slots=True)
class Actor:
    """A human session or a bot campaign: its labels, when it starts, and its script."""

    persona: str
    campaign: str
    is_bot: bool
    intent: str  # "human", "good" (allowed automation) or "bad"
    start: float
    script: Script


@dataclass(slots=True)
class World:
    """What actors share: the shop, the clock origin and length, shared IPs, and the moments traffic bunches up: the
    sale, a marketing e-mail's wave of first visits, and a busy stretch (an evening rush on phones, an office's
    morning)."""

    rng: random.Random
    shop: SimShop
    duration: float
    sale_at: float
    drop_product: int
    wave_at: float = 0.0  # when the marketing e-mail lands in inboxes
    wave_product: int = 1  # the product it promotes
    busy_at: float = 0.0  # the busy stretch starts
    busy_for: float = 0.0  # and lasts this long (seconds)
    offices: list[str] = field(default_factory=list)  # office / campus NAT addresses
    carrier: list[str] = field(default_factory=list)  # a mobile carrier's CGNAT addresses
    cgnat: list[str] = field(default_factory=list)  # a handful of one carrier's CGNAT addresses, busy at once
    busy_office: list[str] = field(default_factory=list)  # one company's egress addresses
    users: list[str] = field(default_factory=list)  # usernames of real accounts (stuffers hit some)
    demo_only: bool = False  # use only the demo shop's accounts (end-to-end runs against the real shop)


SEARCH_TERMS = ("shoes", "socks", "bottle", "jacket", "headlamp", "poles", "daypack", "mug", "rain", "trail", "wool")
COMMON_PASSWORDS = (
    "123456", "password", "123456789", "12345678", "12345", "qwerty", "1234567", "111111", "123123", "abc123",
    "password1", "iloveyou", "1q2w3e4r", "000000", "qwerty123", "zaq12wsx", "dragon", "sunshine", "princess",
    "letmein", "654321", "monkey", "football", "baseball", "welcome", "shadow", "superman", "michael", "charlie",
    "Password1", "qwertyuiop", "123qwe", "admin", "1qaz2wsx", "master", "hello123", "freedom", "whatever", "trustno1",
)  # fmt: skip
_NAMES = (
    "james", "mary", "john", "linda", "david", "sarah", "chris", "anna", "mike", "laura", "alex", "emma", "dan",
    "olivia", "tom", "sophie", "nick", "julia", "paul", "kate", "raj", "priya", "wei", "mei", "lucas", "ana",
)  # fmt: skip
_DOMAINS = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com", "mail.ru", "web.de", "icloud.com")
_WORDS = ("summer", "dragon", "monkey", "tiger", "blue", "happy", "love", "star", "soccer", "hunter", "silver")


def think(rng: random.Random, median: float, sigma: float = 0.9, cap: float = 900.0) -> float:
    """A human pause: log-normal around `median` seconds."""
    return min(cap, rng.lognormvariate(math.log(median), sigma))


def combo_username(rng: random.Random) -> str:
    """A username from a combo list: an e-mail address that is mostly not a customer here."""
    name = rng.choice(_NAMES)
    sep = rng.choice(("", ".", "_", ""))
    return (
        f"{name}{sep}{rng.choice(_NAMES)}{rng.randrange(1, 9999) if rng.random() < 0.7 else ''}@{rng.choice(_DOMAINS)}"
    )


def leaked_password(rng: random.Random) -> str:
    """A password as combo lists carry them: a common one, or a word-and-digits one people reuse."""
    if rng.random() < 0.5:
        return rng.choice(COMMON_PASSWORDS)
    return f"{rng.choice(_WORDS).capitalize() if rng.random() < 0.5 else rng.choice(_WORDS)}{rng.randrange(1, 2030)}"


def human_password(rng: random.Random) -> str:
    """A customer's password: mostly unique, sometimes a common one."""
    if rng.random() < 0.04:
        return rng.choice(COMMON_PASSWORDS)
    return f"{rng.choice(_WORDS)}-{rng.choice(_NAMES)}-{rng.randrange(10, 99999)}"


def _login_body(kind: str, user: str, password: str) -> bytes:
    if kind == "json":
        return json.dumps({"username": user, "password": password}).encode()
    return urlencode({"username": user, "password": password}).encode()


def origin_of(client: clients.Client) -> str:
    """The site's origin as the client sees it: `https://shop.example`, or `http://` for a plain-HTTP visit."""
    return f"{client.scheme}://{HOST}"


def _send(
    client: clients.Client,
    method: str,
    path: str,
    headers: list[tuple[str, str]],
    ip: str,
    session: str,
    body: bytes | None = None,
) -> Request:
    """A request as `client` sends it: over its scheme, with its JA4."""
    return Request(method, path, tuple(headers), ip, client.ja4, session, body, client.scheme)


def _cookie_from(reply: Reply, current: str) -> str:
    for value in reply.set_cookies:
        return value.split(";", 1)[0]
    return current


# ----------------------------------------------------------------------------------------------------------------
# Humans


def human_session(
    world: World,
    rng: random.Random,
    client: clients.Client,
    ip_of: Callable[[], str],
    session: str,
    *,
    account: tuple[str, str] | None,
    logged_in: bool,
    pages: int,
    landing: str = "/",
    wants_login: bool = False,
    arrives_from: str | None = None,
    typo_rate: float = 0.1,
    plain_http: float = 0.0,
) -> Script:
    """A person browsing: pages with their assets (cached after the first), searches, and maybe a login.

    A returning visitor's browser may have the assets cached already, and now and then a page is reached by typing
    its address or from a bookmark (no referer) rather than by a link. `arrives_from` is the first page's referer
    ("" for none); left out, four visits in ten come from a search. `plain_http` is the share of visits with no
    referer that are made over plain HTTP (`PLAIN_HTTP` for people who type the address or follow an e-mail).
    """
    cookie = world.shop.new_session(account[0]) if account and logged_in else ""
    referer = arrives_from
    if referer is None:
        referer = "https://www.google.com/" if rng.random() < 0.4 else ""
    path = landing
    delay = 0.0
    assets_loaded = rng.random() < 0.35  # a warm cache
    # Drawn after the visit's other first draws, and only for visits that can be typed, so the rest keep their streams.
    if plain_http and not referer and rng.random() < plain_http:
        client = clients.plain_http(client)
    origin = origin_of(client)
    for page in range(pages):
        headers = client.headers(
            "navigation", referer=referer, cookie=cookie, fetch_site="cross-site" if page == 0 and referer else ""
        )
        reply = yield delay, _send(client, "GET", path, headers, ip_of(), session)
        if reply.mitigated and rng.random() < 0.5:
            return  # a person refused by the site may try once more, then leaves
        here = f"{origin}{path}"
        if reply.status == 200 and (not assets_loaded or rng.random() < 0.05):
            assets_loaded = True
            for asset in ASSETS:
                asset_headers = client.headers("asset", referer=here, cookie=cookie)
                yield rng.uniform(0.01, 0.15), _send(client, "GET", asset, asset_headers, ip_of(), session)
        if rng.random() < 0.2:
            term = rng.choice(SEARCH_TERMS)
            xhr = client.headers("xhr", referer=here, cookie=cookie)
            yield think(rng, 3.0), _send(client, "GET", f"/api/products?q={quote(term)}", xhr, ip_of(), session)
        if wants_login and account and not cookie and (page == pages // 2 or page == pages - 1):
            cookie = yield from _human_login(world, rng, client, ip_of, session, account, here, cookie, typo_rate)
            wants_login = False
        referer = here if rng.random() > 0.05 else ""
        delay = think(rng, 9.0)
        roll = rng.random()
        if roll < 0.7:
            path = f"/products/{_popular_product(rng, world.shop.catalogue)}"
        elif roll < 0.85:
            path = "/"
        elif roll < 0.95 and cookie:
            path = "/account"
        elif roll < 0.97:
            path = f"/products/{world.shop.catalogue + rng.randrange(1, 50)}"  # a stale link: 404
        else:
            path = "/"


def _popular_product(rng: random.Random, catalogue: int) -> int:
    # Heavy-tailed interest: a few products get most of the views.
    return min(catalogue, int(rng.paretovariate(0.7)))


def _human_login(
    world: World,
    rng: random.Random,
    client: clients.Client,
    ip_of: Callable[[], str],
    session: str,
    account: tuple[str, str],
    referer: str,
    cookie: str,
    typo_rate: float = 0.1,
) -> Generator[tuple[float, Request], Reply, str]:
    user, password = account
    origin = origin_of(client)
    api = rng.random() < 0.25
    if not api:
        headers = client.headers("navigation", referer=referer, cookie=cookie)
        yield think(rng, 4.0), _send(client, "GET", "/login", headers, ip_of(), session)
    attempts = [password]
    if rng.random() < typo_rate:
        attempts.insert(0, password[:-1] + ("x" if not password.endswith("x") else "y"))  # a typo first
    for attempt in attempts:
        if api:
            headers = client.headers(
                "json", referer=f"{origin}/", cookie=cookie, content_type="application/json", origin=origin
            )
            body = _login_body("json", user, attempt)
            reply = yield think(rng, 12.0, 0.5), _send(client, "POST", "/api/login", headers, ip_of(), session, body)
        else:
            headers = client.headers(
                "form",
                referer=f"{origin}/login",
                cookie=cookie,
                content_type="application/x-www-form-urlencoded",
                origin=origin,
            )
            body = _login_body("form", user, attempt)
            reply = yield think(rng, 12.0, 0.5), _send(client, "POST", "/login", headers, ip_of(), session, body)
        cookie = _cookie_from(reply, cookie)
        if reply.status in (200, 303):
            if reply.status == 303:
                headers = client.headers("navigation", referer=f"{origin}/login", cookie=cookie)
                yield 0.08, _send(client, "GET", "/account", headers, ip_of(), session)
            break
    return cookie


def _account(world: World, rng: random.Random) -> tuple[str, str]:
    pool = sorted(world.shop.accounts) if world.demo_only or not world.users else world.users
    user = rng.choice(pool)
    return user, world.shop.accounts[user]


def _landing(world: World, rng: random.Random) -> str:
    """Where a visit starts: the home page, or a product from a search result or a shared link."""
    return rng.choice(("/", "/", f"/products/{_popular_product(rng, world.shop.catalogue)}"))


def _pages(rng: random.Random) -> int:
    return min(40, 1 + int(rng.expovariate(1 / 6.0)))


def human_home(world: World, rng: random.Random, campaign: str) -> Script:
    """A person at home: one broadband address, a desktop browser (sometimes a phone on the Wi-Fi); a visit with no
    referer is now and then over plain HTTP (`PLAIN_HTTP`)."""
    client = clients.random_browser(rng, mobile=rng.random() < 0.3)
    ip = net.random_ip(rng, net.BROADBAND)
    account = _account(world, rng)
    yield from human_session(
        world,
        rng,
        client,
        lambda: ip,
        campaign,
        account=account,
        logged_in=rng.random() < 0.35,
        pages=_pages(rng),
        landing=_landing(world, rng),
        wants_login=rng.random() < 0.3,
        plain_http=PLAIN_HTTP,
    )


def human_office(world: World, rng: random.Random, campaign: str) -> Script:
    """A person behind an office or campus NAT: many colleagues share the address."""
    yield from _colleague(world, rng, campaign, world.offices, login_share=0.3)


def _colleague(world: World, rng: random.Random, campaign: str, addresses: Sequence[str], login_share: float) -> Script:
    client = clients.random_browser(rng)
    ip = rng.choice(addresses)
    yield from human_session(
        world,
        rng,
        client,
        lambda: ip,
        campaign,
        account=_account(world, rng),
        logged_in=rng.random() < 0.3,
        pages=_pages(rng),
        landing=_landing(world, rng),
        wants_login=rng.random() < login_share,
        plain_http=PLAIN_HTTP,
    )


def human_mobile(world: World, rng: random.Random, campaign: str) -> Script:
    """A person on a phone over a mobile carrier: a CGNAT address shared with strangers, which can change (within
    the carrier's network), and now and then the home Wi-Fi instead."""
    client = clients.random_browser(rng, mobile=True)
    current = [rng.choice(world.carrier)]
    block = current[0].rsplit(".", 2)[0]  # the carrier: its addresses here share their /16
    carrier = [ip for ip in world.carrier if ip.startswith(block + ".")]
    wifi = net.random_ip(rng, net.BROADBAND)

    def ip_of() -> str:
        roll = rng.random()
        if roll < 0.04:
            current[0] = rng.choice(carrier)
        elif roll < 0.05:
            current[0] = wifi if current[0] != wifi else rng.choice(carrier)
        return current[0]

    yield from human_session(
        world,
        rng,
        client,
        ip_of,
        campaign,
        account=_account(world, rng),
        logged_in=rng.random() < 0.4,
        pages=_pages(rng),
        landing=_landing(world, rng),
        wants_login=rng.random() < 0.25,
        plain_http=PLAIN_HTTP,
    )


def human_sale(world: World, rng: random.Random, campaign: str) -> Script:
    """A person waiting for the drop: refreshes the product page around the sale, checks stock, maybe logs in."""
    client = clients.random_browser(rng, mobile=rng.random() < 0.5)
    ip = net.random_ip(rng, net.BROADBAND + net.MOBILE)
    session = campaign
    account = _account(world, rng)
    cookie = world.shop.new_session(account[0]) if rng.random() < 0.6 else ""
    path = f"/products/{world.drop_product}"
    here = f"{ORIGIN}{path}"
    first = True
    for _ in range(rng.randint(4, 25)):
        headers = client.headers("navigation", referer=here if not first else "", cookie=cookie)
        yield think(rng, 6.0, 0.7) if not first else 0.0, Request("GET", path, tuple(headers), ip, client.ja4, session)
        if first:
            for asset in ASSETS:
                asset_headers = client.headers("asset", referer=here, cookie=cookie)
                yield rng.uniform(0.01, 0.15), Request("GET", asset, tuple(asset_headers), ip, client.ja4, session)
            first = False
        if rng.random() < 0.3:
            xhr = client.headers("xhr", referer=here, cookie=cookie)
            yield (
                rng.uniform(0.2, 1.5),
                Request("GET", f"/api/products/{world.drop_product}", tuple(xhr), ip, client.ja4, session),
            )
    if not cookie and rng.random() < 0.5:
        yield from _human_login(world, rng, client, lambda: ip, session, account, here, cookie)


# Where people come from when they follow a link: search engines, and social sites and chat apps (whose in-app
# browsers or link wrappers send their own origin, or nothing at all).
SEARCH_ENGINES = ("https://www.google.com/", "https://www.google.com/", "https://www.bing.com/")
SHARED_LINKS = (
    "https://t.co/",
    "https://l.facebook.com/",
    "https://lm.facebook.com/",
    "https://www.reddit.com/",
    "https://l.instagram.com/",
    "",  # WhatsApp, Telegram, Signal, iMessage: no referer
    "",
)


def human_wave(world: World, rng: random.Random, campaign: str) -> Script:
    """A customer following the marketing e-mail minutes after it lands: a first visit with no cookie and no
    referer (a mail client's link), mostly to the promoted product, on whatever browser people use (so many share
    the popular builds with each other, and with whoever clones them); some e-mail links are `http://` ones, and
    those visits are over plain HTTP (`PLAIN_HTTP`)."""
    client = clients.random_browser(rng, mobile=rng.random() < 0.45)
    ip = net.random_ip(rng, net.BROADBAND + net.MOBILE)
    roll = rng.random()
    if roll < 0.6:
        landing = f"/products/{world.wave_product}"
    elif roll < 0.85:
        landing = "/"
    else:
        landing = f"/products/{_popular_product(rng, world.shop.catalogue)}"  # another product in the e-mail
    yield from human_session(
        world,
        rng,
        client,
        lambda: ip,
        campaign,
        account=_account(world, rng),
        logged_in=False,
        pages=_pages(rng),
        landing=landing,
        wants_login=rng.random() < 0.3,
        arrives_from="",
        plain_http=PLAIN_HTTP,
    )


def human_search(world: World, rng: random.Random, campaign: str) -> Script:
    """A new visitor from a search result: a search engine's referer on a cross-site first page, a product page to
    land on, a few pages after it."""
    client = clients.random_browser(rng, mobile=rng.random() < 0.45)
    ip = net.random_ip(rng, net.BROADBAND + net.MOBILE)
    yield from human_session(
        world,
        rng,
        client,
        lambda: ip,
        campaign,
        account=_account(world, rng),
        logged_in=False,
        pages=_pages(rng),
        landing=f"/products/{_popular_product(rng, world.shop.catalogue)}",
        wants_login=rng.random() < 0.08,
        arrives_from=rng.choice(SEARCH_ENGINES),
    )


def human_link(world: World, rng: random.Random, campaign: str) -> Script:
    """A new visitor from a shared link, mostly on a phone: a social site's referer (or none, from a chat app), one
    product page, and often gone after a page or two."""
    client = clients.random_browser(rng, mobile=rng.random() < 0.7)
    ip = net.random_ip(rng, net.BROADBAND + net.MOBILE)
    roll = rng.random()
    pages = 1 if roll < 0.5 else 2 if roll < 0.75 else _pages(rng)
    yield from human_session(
        world,
        rng,
        client,
        lambda: ip,
        campaign,
        account=None,
        logged_in=False,
        pages=pages,
        landing=f"/products/{_popular_product(rng, world.shop.catalogue)}",
        arrives_from=rng.choice(SHARED_LINKS),
    )


def human_cgnat(world: World, rng: random.Random, campaign: str) -> Script:
    """A phone behind a carrier's CGNAT during the busy stretch: dozens of strangers share its handful of public
    addresses at the same time, and a connection can come out of another of them. Each has its own phone browser
    and cookies; half log in, and a thumb on a phone mistypes the password more often than a keyboard."""
    client = clients.random_browser(rng, mobile=True)
    current = [rng.choice(world.cgnat)]

    def ip_of() -> str:
        if rng.random() < 0.05:
            current[0] = rng.choice(world.cgnat)
        return current[0]

    yield from human_session(
        world,
        rng,
        client,
        ip_of,
        campaign,
        account=_account(world, rng),
        logged_in=rng.random() < 0.25,
        pages=_pages(rng),
        landing=_landing(world, rng),
        wants_login=rng.random() < 0.5,
        typo_rate=0.25,
        plain_http=PLAIN_HTTP,
    )


def human_office_busy(world: World, rng: random.Random, campaign: str) -> Script:
    """A colleague at a busy office during the busy stretch: one company's two egress addresses, dozens of
    colleagues on them within twenty minutes, most signed in or signing in (a company account at a supplier)."""
    yield from _colleague(world, rng, campaign, world.busy_office, login_share=0.6)


# ----------------------------------------------------------------------------------------------------------------
# Good bots


def _crawl_path(rng: random.Random, catalogue: int, index: int) -> str:
    if index == 0:
        return "/robots.txt"
    roll = rng.random()
    if roll < 0.75:
        return f"/products/{rng.randrange(1, catalogue + 1)}"
    if roll < 0.85:
        return "/"
    if roll < 0.95:
        return rng.choice(ASSETS)
    return f"/products/{catalogue + rng.randrange(1, 200)}"  # links to removed products


def good_crawler(
    world: World, rng: random.Random, campaign: str, ua: str, sender: str, blocks: tuple[str, ...]
) -> Script:
    """A verified search crawler: its published ranges, a steady polite pace, pages and the assets to render them."""
    client = clients.crawler(ua, sender)
    for index in range(rng.randint(80, 400)):
        path = _crawl_path(rng, world.shop.catalogue, index)
        headers = client.headers("navigation")
        yield (
            rng.uniform(2.0, 20.0),
            Request("GET", path, tuple(headers), net.random_ip(rng, blocks), client.ja4, campaign),
        )


def googlebot(world: World, rng: random.Random, campaign: str) -> Script:
    """Googlebot from Google's published ranges."""
    yield from good_crawler(
        world, rng, campaign, rng.choice(clients.GOOGLEBOT_UAS), "googlebot(at)googlebot.com", net.GOOGLEBOT
    )


def bingbot(world: World, rng: random.Random, campaign: str) -> Script:
    """Bingbot from Microsoft's published ranges."""
    yield from good_crawler(world, rng, campaign, clients.BINGBOT_UA, "bingbot(at)microsoft.com", net.BINGBOT)


# ----------------------------------------------------------------------------------------------------------------
# Bad bots


class _Rotator:
    """A proxy pool: a fresh exit every few requests, and at once after a refusal."""

    def __init__(self, rng: random.Random, campaign: str, hosting_share: float, per_ip: tuple[int, int]) -> None:
        self._rng = rng
        self._campaign = campaign
        self._hosting = hosting_share
        self._per_ip = per_ip
        self._left = 0
        self.ip = ""
        self.identity = 0

    @property
    def session(self) -> str:
        return f"{self._campaign}/{self.identity}"

    def next_ip(self, refused: bool = False) -> str:
        if refused or self._left <= 0:
            blocks = net.HOSTING if self._rng.random() < self._hosting else net.RESIDENTIAL_PROXY
            self.ip = net.random_ip(self._rng, blocks)
            self._left = self._rng.randint(*self._per_ip)
            self.identity += 1
        self._left -= 1
        return self.ip


def _combo_entry(world: World, rng: random.Random, known: list[str]) -> tuple[str, str]:
    """One line of a combo list: mostly strangers' addresses; now and then a customer's, rarely with their password."""
    if known and rng.random() < 0.08:
        user = rng.choice(known)
        return user, world.shop.accounts[user] if rng.random() < 0.03 else leaked_password(rng)
    return combo_username(rng), leaked_password(rng)


def _stuffer(world: World, rng: random.Random, campaign: str, rotate_ua: bool) -> Script:
    kit = clients.stuffing_kit(rng)
    endpoint = "json" if rng.random() < 0.6 else "form"
    path = "/api/login" if endpoint == "json" else "/login"
    rotator = _Rotator(rng, campaign, rng.uniform(0.1, 0.6), (1, 3))
    fetch_form = endpoint == "form" and rng.random() < 0.4
    mean_gap = rng.uniform(0.3, 3.0)
    ua_pool = clients.STUFFER_UAS + tuple(clients.user_agent(clients.random_browser(rng)) for _ in range(6))
    refused = False
    identity = 0
    known = sorted(world.shop.accounts) if world.demo_only else world.users
    for _ in range(rng.randint(250, 800)):
        ip = rotator.next_ip(refused)
        client = clients.with_user_agent(kit, rng.choice(ua_pool)) if rotate_ua else kit
        user, password = _combo_entry(world, rng, known)
        if fetch_form and rotator.identity != identity:
            identity = rotator.identity
            yield rng.uniform(0.0, 0.5), Request("GET", "/login", client.navigation, ip, client.ja4, rotator.session)
        content_type = "application/json" if endpoint == "json" else "application/x-www-form-urlencoded"
        headers = (*client.navigation, ("content-type", content_type))
        body = _login_body(endpoint, user, password)
        reply = yield (
            rng.expovariate(1 / mean_gap),
            Request("POST", path, headers, ip, client.ja4, rotator.session, body),
        )
        refused = reply.mitigated


def stuffer(world: World, rng: random.Random, campaign: str) -> Script:
    """Credential stuffing: a combo list through rotating residential and hosting proxies, 1-3 attempts per IP."""
    yield from _stuffer(world, rng, campaign, rotate_ua=False)


def stuffer_rotating_ua(world: World, rng: random.Random, campaign: str) -> Script:
    """The same, with a different browser user-agent on every request."""
    yield from _stuffer(world, rng, campaign, rotate_ua=True)


def stuffer_popular(world: World, rng: random.Random, campaign: str) -> Script:
    """Credential stuffing on an exact clone of the popular build (headers, their order and values, client hints,
    JA4: what a person on it sends for the same request), from residential proxy exits only, 1-3 attempts per
    address and a new one after a refusal.

    Campaigns differ: some fetch the page the login is made from (`/login` for the form, `/` for the API) from each
    new address before posting from it; the runner gives some a cookie jar kept across addresses (its
    `SOME_KEEP_COOKIES`); most keep no cookies. Half the campaigns run through the marketing e-mail's wave of first
    visits (the runner's "wave" timing).
    """
    client = clients.popular_browser()
    endpoint = "json" if rng.random() < 0.5 else "form"
    if endpoint == "json":
        page, path, content_type, referer = "/", "/api/login", "application/json", f"{ORIGIN}/"
    else:
        page, path, content_type, referer = "/login", "/login", "application/x-www-form-urlencoded", f"{ORIGIN}/login"
    post_headers = tuple(client.headers(endpoint, referer=referer, content_type=content_type, origin=ORIGIN))
    page_headers = tuple(client.headers("navigation"))
    rotator = _Rotator(rng, campaign, 0.0, (1, 3))
    fetches_page = rng.random() < 0.4
    mean_gap = rng.uniform(0.5, 4.0)
    known = sorted(world.shop.accounts) if world.demo_only else world.users
    refused = False
    identity = 0
    for _ in range(rng.randint(250, 800)):
        ip = rotator.next_ip(refused)
        user, password = _combo_entry(world, rng, known)
        delay = rng.expovariate(1 / mean_gap)
        if fetches_page and rotator.identity != identity:
            identity = rotator.identity
            reply = yield delay, Request("GET", page, page_headers, ip, client.ja4, rotator.session)
            if reply.mitigated:
                refused = True
                continue
            delay = rng.uniform(1.0, 6.0)  # "reads" the page, fills the form
        body = _login_body(endpoint, user, password)
        reply = yield delay, Request("POST", path, post_headers, ip, client.ja4, rotator.session, body)
        refused = reply.mitigated


def ato_slow(world: World, rng: random.Random, campaign: str) -> Script:
    """Account takeover, low and slow: a few guesses at a few real accounts, minutes apart, a new IP each time."""
    known = sorted(world.shop.accounts) if world.demo_only else world.users
    targets = rng.sample(known, min(len(known), rng.randint(3, 12)))
    guesses = [(user, leaked_password(rng)) for user in targets for _ in range(rng.randint(2, 4))]
    rng.shuffle(guesses)
    for n, (user, password) in enumerate(guesses):
        client = clients.random_browser(rng)
        ip = net.random_ip(rng, net.RESIDENTIAL_PROXY)
        session = f"{campaign}/{n}"
        headers = client.headers("navigation")
        yield rng.uniform(60.0, 600.0), Request("GET", "/login", tuple(headers), ip, client.ja4, session)
        form = client.headers(
            "form",
            referer=f"{ORIGIN}/login",
            content_type="application/x-www-form-urlencoded",
            origin=ORIGIN,
        )
        yield (
            rng.uniform(3.0, 15.0),
            Request("POST", "/login", tuple(form), ip, client.ja4, session, _login_body("form", user, password)),
        )


def _catalogue_paths(rng: random.Random, catalogue: int, api_share: float) -> list[str]:
    ids = list(range(1, catalogue + 1))
    if rng.random() < 0.5:
        rng.shuffle(ids)
    out = []
    for i in ids:
        out.append(f"/api/products/{i}" if rng.random() < api_share else f"/products/{i}")
        if rng.random() < 0.1:
            out.append(f"/api/products?q={quote(rng.choice(SEARCH_TERMS))}")
    return out


def scraper_library(world: World, rng: random.Random, campaign: str) -> Script:
    """A catalogue scraper on an HTTP library (or a bare script sending no user-agent) from one to four hosting
    addresses, or residential proxy exits, at a machine's steady pace; four in ten set a browser's user-agent on the
    library's own headers."""
    name = rng.choice(
        ("python-requests", "python-httpx", "python-aiohttp", "go-net-http", "curl", "node-fetch", "wget", "bare")
    )
    client = clients.bare_script() if name == "bare" else clients.tool(name)
    if name != "bare" and rng.random() < 0.4:
        client = clients.with_user_agent(client, clients.user_agent(clients.random_browser(rng)))
    ips = net.pool(rng, net.HOSTING if rng.random() < 0.7 else net.RESIDENTIAL_PROXY, rng.randint(1, 4))
    gap = rng.uniform(0.2, 3.0)
    paths = _catalogue_paths(rng, world.shop.catalogue, rng.uniform(0.0, 1.0))
    for n, path in enumerate(paths[: rng.randint(300, 2000)]):
        ip = ips[n % len(ips)]
        yield gap * rng.uniform(0.9, 1.1), Request("GET", path, client.navigation, ip, client.ja4, f"{campaign}/{ip}")


def scraper_headless(world: World, rng: random.Random, campaign: str) -> Script:
    """A headless Chrome (Puppeteer/Playwright defaults) on hosting addresses: each page with its assets."""
    client = clients.chrome("linux", rng.choice((155, 156)), "en-US,en;q=0.9", headless=True)
    ips = net.pool(rng, net.HOSTING, rng.randint(1, 2))
    gap = rng.uniform(0.8, 4.0)
    paths = _catalogue_paths(rng, world.shop.catalogue, 0.1)
    for n, path in enumerate(paths[: rng.randint(150, 800)]):
        ip = ips[n % len(ips)]
        session = f"{campaign}/{ip}"
        kind = "xhr" if path.startswith("/api/") else "navigation"
        yield gap * rng.uniform(0.7, 1.3), Request("GET", path, tuple(client.headers(kind)), ip, client.ja4, session)
        if kind == "navigation":
            for asset in ASSETS:
                headers = client.headers("asset", referer=f"{ORIGIN}{path}")
                yield rng.uniform(0.005, 0.05), Request("GET", asset, tuple(headers), ip, client.ja4, session)


def scraper_stealth(world: World, rng: random.Random, campaign: str) -> Script:
    """A stealth scraper: a genuine browser's headers and TLS, rotating residential proxies, jittered pace.

    Its only tells are behavioural: no assets, no cookies, every product once, and a fresh address every few pages.
    """
    yield from _stealth_walk(world, rng, campaign, clients.random_browser(rng), css_share=0.2)


def _stealth_walk(world: World, rng: random.Random, campaign: str, client: clients.Client, css_share: float) -> Script:
    """The stealth scraper's walk of the catalogue on `client`; a share of campaigns loads the stylesheet."""
    rotator = _Rotator(rng, campaign, 0.0, (1, 6))
    median = rng.uniform(1.5, 6.0)
    paths = _catalogue_paths(rng, world.shop.catalogue, rng.uniform(0.0, 0.4))
    loads_css = rng.random() < css_share
    refused = False
    for path in paths[: rng.randint(300, 1500)]:
        ip = rotator.next_ip(refused)
        kind = "xhr" if path.startswith("/api/") else "navigation"
        headers = client.headers(kind, referer=f"{ORIGIN}/" if kind == "xhr" else "")
        reply = yield (
            think(rng, median, 0.5, 60.0),
            Request("GET", path, tuple(headers), ip, client.ja4, rotator.session),
        )
        refused = reply.mitigated
        if loads_css and kind == "navigation" and not refused:
            asset_headers = client.headers("asset", referer=f"{ORIGIN}{path}")
            yield (
                rng.uniform(0.01, 0.1),
                Request("GET", ASSETS[0], tuple(asset_headers), ip, client.ja4, rotator.session),
            )


def scraper_popular(world: World, rng: random.Random, campaign: str) -> Script:
    """The stealth scraper on an exact clone of the popular build: rotating residential exits (1-6 requests each),
    no cookies, no assets, every product once."""
    yield from _stealth_walk(world, rng, campaign, clients.popular_browser(), css_share=0.0)


def scraper_stealth_jar(world: World, rng: random.Random, campaign: str) -> Script:
    """The stealth scraper built on a client that keeps cookies (one jar across its proxy exits) and follows a page
    that reloads itself, as a scraper driving a real browser through a proxy pool does: botwall's cookie alone does
    not stop it (the runner's `KEEPS_COOKIES` gives it the jar)."""
    yield from scraper_stealth(world, rng, campaign)


def price_monitor(world: World, rng: random.Random, campaign: str) -> Script:
    """Competitor price monitoring: a watch-list of products re-checked every few minutes with a real browser's
    headers, every request from a fresh residential (sometimes hosting) exit; no assets, no cookies.

    Unlike the stealth scraper it never walks the catalogue: the same few dozen pages come back sweep after sweep,
    quickly within a sweep, and no address is used twice, so nothing about it shows per address: only its
    fingerprint's volume of cold requests gives it away.
    """
    client = clients.random_browser(rng, mobile=rng.random() < 0.2)
    catalogue = world.shop.catalogue
    watch = rng.sample(range(1, catalogue + 1), min(catalogue, rng.randint(15, 60)))
    rotator = _Rotator(rng, campaign, rng.uniform(0.0, 0.3), (1, 1))
    interval = rng.uniform(180.0, 900.0)
    api_share = rng.choice((0.0, 0.0, 0.2, 0.4))  # some read the product API the page calls
    refused = False
    for sweep in range(rng.randint(3, 10)):
        for n, product in enumerate(watch):
            ip = rotator.next_ip(refused)
            api = rng.random() < api_share
            path = f"/api/products/{product}" if api else f"/products/{product}"
            headers = client.headers("xhr" if api else "navigation", referer=f"{ORIGIN}/" if api else "")
            delay = interval * rng.uniform(0.8, 1.2) if sweep and n == 0 else rng.uniform(0.3, 2.5)
            reply = yield delay, Request("GET", path, tuple(headers), ip, client.ja4, rotator.session)
            refused = reply.mitigated


def fake_googlebot(world: World, rng: random.Random, campaign: str) -> Script:
    """A scraper claiming to be Googlebot, from hosting addresses outside Google's ranges, faster than Google."""
    client = clients.crawler(rng.choice(clients.GOOGLEBOT_UAS), "googlebot(at)googlebot.com")
    ips = net.pool(rng, net.HOSTING, rng.randint(1, 3))
    gap = rng.uniform(0.3, 3.0)
    paths = _catalogue_paths(rng, world.shop.catalogue, rng.uniform(0.0, 0.6))
    for n, path in enumerate(paths[: rng.randint(200, 1500)]):
        ip = ips[n % len(ips)]
        yield gap * rng.uniform(0.5, 1.5), Request("GET", path, client.navigation, ip, client.ja4, f"{campaign}/{ip}")


def sneaker_bot(world: World, rng: random.Random, campaign: str) -> Script:
    """A sneaker bot task at a drop: logs in with its own account, then polls the product as fast as it dares."""
    if rng.random() < 0.5:
        client = clients.chrome(rng.choice(("windows", "mac")), 156, "en-US,en;q=0.9")
    else:
        client = clients.stuffing_kit(rng)
    ip = net.random_ip(rng, net.RESIDENTIAL_PROXY)  # a sticky "ISP proxy" per task
    session = campaign
    if world.demo_only:
        user = rng.choice(sorted(world.shop.accounts))
    else:
        user = f"{campaign.replace('/', '-')}@{rng.choice(_DOMAINS)}"
        world.shop.accounts[user] = human_password(rng)
    password = world.shop.accounts[user]
    headers = client.headers("json", referer=f"{ORIGIN}/", content_type="application/json", origin=ORIGIN)
    reply = yield (
        0.0,
        Request("POST", "/api/login", tuple(headers), ip, client.ja4, session, _login_body("json", user, password)),
    )
    cookie = _cookie_from(reply, "")
    poll = rng.uniform(0.15, 1.0)
    api = f"/api/products/{world.drop_product}"
    page = f"/products/{world.drop_product}"
    for _ in range(rng.randint(60, 300)):
        if rng.random() < 0.15:
            nav = client.headers("navigation", cookie=cookie)
            reply = yield poll * rng.uniform(0.8, 1.2), Request("GET", page, tuple(nav), ip, client.ja4, session)
        else:
            xhr = client.headers("xhr", referer=f"{ORIGIN}{page}", cookie=cookie)
            reply = yield poll * rng.uniform(0.8, 1.2), Request("GET", api, tuple(xhr), ip, client.ja4, session)
        if reply.mitigated and rng.random() < 0.3:
            ip = net.random_ip(rng, net.RESIDENTIAL_PROXY)


def api_enumeration(world: World, rng: random.Random, campaign: str) -> Script:
    """Walks the API's numeric IDs in order, far past the last product: mostly 404s, fast, from hosting addresses."""
    if rng.random() < 0.5:
        client = clients.tool(rng.choice(("python-requests", "go-net-http", "curl", "node-fetch")))
    else:
        client = clients.stuffing_kit(rng)
    ips = net.pool(rng, net.HOSTING, rng.randint(1, 2))
    gap = rng.uniform(0.05, 0.6)
    start = rng.randint(1, 50)
    resource = rng.choice(("/api/products/", "/api/products/", "/api/users/", "/api/orders/"))
    for n in range(rng.randint(300, 2500)):
        ip = ips[n % len(ips)]
        path = f"{resource}{start + n}"
        yield gap * rng.uniform(0.8, 1.2), Request("GET", path, client.xhr, ip, client.ja4, f"{campaign}/{ip}")


# persona -> (script, is_bot, intent, when it starts: "any" time, "early", around the "sale", in the "busy"
# stretch, or with the e-mail's "wave" (people minutes after it lands; half a bot's campaigns run through it))
PersonaFn = Callable[[World, random.Random, str], Script]
PERSONAS: dict[str, tuple[PersonaFn, bool, str, str]] = {
    "human": (human_home, False, "human", "any"),
    "human-office": (human_office, False, "human", "any"),
    "human-mobile": (human_mobile, False, "human", "any"),
    "human-sale": (human_sale, False, "human", "sale"),
    "human-wave": (human_wave, False, "human", "wave"),
    "human-search": (human_search, False, "human", "any"),
    "human-link": (human_link, False, "human", "any"),
    "human-cgnat": (human_cgnat, False, "human", "busy"),
    "human-office-busy": (human_office_busy, False, "human", "busy"),
    "googlebot": (googlebot, True, "good", "any"),
    "bingbot": (bingbot, True, "good", "any"),
    "stuffer": (stuffer, True, "bad", "any"),
    "stuffer-rotating-ua": (stuffer_rotating_ua, True, "bad", "any"),
    "stuffer-popular": (stuffer_popular, True, "bad", "wave"),
    "ato-slow": (ato_slow, True, "bad", "early"),
    "scraper-library": (scraper_library, True, "bad", "any"),
    "scraper-headless": (scraper_headless, True, "bad", "any"),
    "scraper-stealth": (scraper_stealth, True, "bad", "any"),
    "scraper-stealth-jar": (scraper_stealth_jar, True, "bad", "any"),
    "scraper-popular": (scraper_popular, True, "bad", "any"),
    "price-monitor": (price_monitor, True, "bad", "any"),
    "fake-googlebot": (fake_googlebot, True, "bad", "any"),
    "sneaker-bot": (sneaker_bot, True, "bad", "sale"),
    "api-enumeration": (api_enumeration, True, "bad", "any"),
}
