# ruff: noqa: S311 - seeded, reproducible simulated traffic, not security
"""The four held-out scenarios of issue 12, as seeded plans: who arrives when, from where, with which browser, and
what they do. A plan is a pure function of (scenario, seed, scale); its digest in the report lets two runs show they
played the same traffic (what botwall answers still depends on timing, as on a real site).

Sizes are per --scale 1 and keep each scenario to a few minutes on 2 cores; --scale multiplies the window and the
number of people (rates stay the same), so the attackers' volumes grow with it too.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass, field
from typing import Any

from . import browsers
from .attackers import AttackerSpec
from .declared import DeclaredSpec
from .network import AddressBook
from .people import PersonSpec, landing_for

PRODUCT_IDS = list(range(1, 9))  # the demo shop's catalogue (checked against the live shop at run time)
SCENARIOS = ("popular-build", "office-nat", "first-visit-wave", "search-and-links")

TITLES = {
    "popular-build": "1. Attackers on the most popular browser build, among people on that build",
    "office-nat": "2. An office behind one NAT address (and phones behind a CGNAT address), attackers elsewhere",
    "first-visit-wave": "3. A wave of first visits (typed address, no cookie, no referer) with declared bots",
    "search-and-links": "4. People arriving from search engines and shared links",
}

_FIRST = [
    "james",
    "mary",
    "john",
    "patricia",
    "robert",
    "jennifer",
    "michael",
    "linda",
    "david",
    "elizabeth",
    "william",
    "barbara",
    "richard",
    "susan",
    "joseph",
    "jessica",
    "thomas",
    "sarah",
    "carlos",
    "maria",
    "wei",
    "priya",
    "ahmed",
    "fatima",
    "lukas",
    "sophie",
    "oliver",
    "amelia",
    "noah",
    "emma",
    "liam",
    "olivia",
    "mateo",
    "chloe",
    "hiro",
    "yuki",
]
_LAST = [
    "smith",
    "johnson",
    "williams",
    "brown",
    "jones",
    "garcia",
    "miller",
    "davis",
    "rodriguez",
    "martinez",
    "hernandez",
    "lopez",
    "wilson",
    "anderson",
    "thomas",
    "taylor",
    "moore",
    "jackson",
    "martin",
    "lee",
    "perez",
    "thompson",
    "white",
    "harris",
    "clark",
    "lewis",
    "walker",
    "young",
    "allen",
    "king",
    "wright",
    "scott",
    "nguyen",
    "patel",
    "kim",
    "muller",
]
_WORDS = [
    "granite",
    "meadow",
    "copper",
    "lantern",
    "harbor",
    "thistle",
    "orbit",
    "maple",
    "falcon",
    "cinder",
    "willow",
    "pepper",
    "summit",
    "violet",
    "ember",
    "canyon",
    "juniper",
    "marble",
    "otter",
    "saffron",
    "tundra",
    "raven",
]
# The passwords breach corpora are full of (public top lists), and the spray candidates every guide lists.
COMMON_PASSWORDS = [
    "123456",
    "password",
    "123456789",
    "12345678",
    "qwerty",
    "abc123",
    "password1",
    "111111",
    "iloveyou",
    "1q2w3e4r",
    "admin",
    "welcome",
    "monkey",
    "dragon",
    "letmein",
    "football",
    "sunshine",
    "princess",
    "Password1",
    "qwerty123",
]
SPRAY_PASSWORDS = ["Winter2026!", "Welcome1!", "Password2026"]


@dataclass
class Plan:
    name: str
    title: str
    seed: int
    scale: float
    window_s: float
    people: list[PersonSpec] = field(default_factory=list)
    attackers: list[AttackerSpec] = field(default_factory=list)
    declared: list[DeclaredSpec] = field(default_factory=list)
    accounts: dict[str, str] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    def digest(self) -> str:
        def enc(o: Any) -> Any:
            if isinstance(o, browsers.Client | browsers.Localised):
                return o.key
            raise TypeError(type(o))

        blob = json.dumps(
            {
                "people": [asdict(p) | {"build": p.build.key + "|" + p.build.accept_language} for p in self.people],
                "attackers": [asdict(a) for a in self.attackers],
                "declared": [asdict(d) | {"build": d.build.key} for d in self.declared],
                "accounts": self.accounts,
                "window_s": self.window_s,
            },
            default=enc,
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _n(base: float, scale: float, minimum: int = 1) -> int:
    return max(minimum, round(base * scale))


def _workers(base: int, scale: float) -> int:
    return max(1, round(base * min(1.0, scale)))


def _username(rng: random.Random, taken: set[str]) -> str:
    while True:
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        style = rng.random()
        if style < 0.4:
            name = f"{first}.{last}{rng.randint(1, 99)}"
        elif style < 0.7:
            name = f"{first[0]}{last}{rng.randint(1960, 2005)}"
        else:
            name = f"{first}{last[0]}{rng.randint(100, 9999)}"
        if name not in taken:
            taken.add(name)
            return name


def _strong_password(rng: random.Random) -> str:
    words = rng.sample(_WORDS, 3)
    return "-".join(words) + f"-{rng.randint(10, 99)}{rng.choice('!?#%&')}"


def _localised(rng: random.Random, build: browsers.Client, locale: str | None = None) -> browsers.Localised:
    if locale is None:
        names = browsers.locales()
        locale = rng.choices([n for n, _ in names], weights=[w for _, w in names])[0]
    return browsers.Localised(build, browsers.accept_language(build, locale))


def _pages(rng: random.Random, mean_extra: float, cap: int = 12) -> int:
    extra = 0
    p = 1 / (1 + mean_extra)
    while rng.random() > p and extra < cap - 1:
        extra += 1
    return 1 + extra


def _general_person(
    rng: random.Random,
    book: AddressBook,
    plan: Plan,
    idx: int,
    *,
    group: str,
    arrival: str,
    start: float,
    mix: tuple[tuple[browsers.Client, float], ...] = browsers.GENERAL_MIX,
    ip: str | None = None,
    login_share: float = 0.15,
    mean_extra_pages: float = 3.0,
    http_share_typed: float = 0.25,
    taken: set[str],
) -> PersonSpec:
    build = browsers.pick(rng, mix)
    landing, referer, _site = landing_for(rng, arrival, PRODUCT_IDS)
    secure = not (arrival == "typed" and rng.random() < http_share_typed)
    account = None
    logins: list[int] = []
    if rng.random() < login_share:
        account = (_username(rng, taken), _strong_password(rng))
        plan.accounts[account[0]] = account[1]
        logins = [0]
    return PersonSpec(
        actor=f"{group}-{idx:04d}",
        group=group,
        build=_localised(rng, build),
        ip=ip or book.residential(),
        secure=secure,
        start=start,
        arrival=arrival,
        referer=referer,
        landing=landing,
        pages=_pages(rng, mean_extra_pages),
        seed=rng.randrange(2**31),
        account=account,
        logins=logins,
    )


def _arrival(rng: random.Random, shares: dict[str, float]) -> str:
    return rng.choices(list(shares), weights=list(shares.values()))[0]


def _combos(rng: random.Random, n: int, real: dict[str, str], taken: set[str]) -> list[tuple[str, str, bool]]:
    """A combo list from someone else's breach: mostly strangers here; a few of this shop's customers, some of whom
    reused their password."""
    out: list[tuple[str, str, bool]] = []
    real_users = sorted(real)
    for _ in range(n):
        roll = rng.random()
        if real_users and roll < 0.02:
            u = rng.choice(real_users)
            out.append((u, real[u], True))  # reused password: a takeover if it gets through
        elif real_users and roll < 0.05:
            u = rng.choice(real_users)
            out.append((u, rng.choice(COMMON_PASSWORDS) + str(rng.randint(0, 99)), False))
        else:
            u = _username(rng, set(taken))
            pw = rng.choice(COMMON_PASSWORDS) if rng.random() < 0.4 else _breach_password(rng)
            out.append((u, pw, False))
    rng.shuffle(out)
    return out


def _breach_password(rng: random.Random) -> str:
    word = rng.choice(_FIRST + _WORDS + ["summer", "soccer", "baseball", "shadow", "master", "hunter"])
    style = rng.random()
    if style < 0.4:
        return word + str(rng.randint(1, 2026))
    if style < 0.7:
        return word.capitalize() + str(rng.randint(1, 99)) + rng.choice("!@#$")
    return word + rng.choice(["123", "1", "!", "01", "007", "2024", "2025"])


def _start_times(rng: random.Random, n: int, window: float) -> list[float]:
    return sorted(rng.uniform(0, window) for _ in range(n))


def build_plan(name: str, seed: int, scale: float) -> Plan:
    rng = random.Random(f"{name}:{seed}")
    book = AddressBook(random.Random(f"{name}:{seed}:addresses"))
    taken: set[str] = set()
    builders = {
        "popular-build": _popular_build,
        "office-nat": _office_nat,
        "first-visit-wave": _wave,
        "search-and-links": _search_and_links,
    }
    plan = builders[name](rng, book, seed, scale, taken)
    for actor in [*plan.attackers, *plan.declared]:
        actor.start *= min(1.0, scale)  # a small run's window is short: its bots start early in it
    return plan


def _farm(rng: random.Random, plan: Plan, n: int, taken: set[str]) -> list[tuple[str, str]]:
    accounts = []
    for _ in range(n):
        u = _username(rng, taken)
        pw = _strong_password(rng)
        plan.accounts[u] = pw
        accounts.append((u, pw))
    return accounts


def _popular_build(rng: random.Random, book: AddressBook, seed: int, scale: float, taken: set[str]) -> Plan:
    window = 150.0 * scale
    plan = Plan("popular-build", TITLES["popular-build"], seed, scale, window)
    arrivals = {"typed": 0.30, "search": 0.40, "shared": 0.20, "email": 0.10}
    for i, t in enumerate(_start_times(rng, _n(160, scale, 4), window * 0.9)):
        plan.people.append(
            _general_person(rng, book, plan, i, group="visitors", arrival=_arrival(rng, arrivals), start=t, taken=taken)
        )
    customers = dict(plan.accounts)
    pool = book.residential_pool(_n(3000, scale, 200))
    plan.attackers += [
        AttackerSpec(
            "stuffer-api",
            "stuffer-api",
            _workers(3, scale),
            rng.randrange(2**31),
            5.0,
            pool,
            _combos(rng, _n(600, scale, 60), customers, taken),
        ),
        AttackerSpec(
            "stuffer-form-jar",
            "stuffer-form-jar",
            _workers(2, scale),
            rng.randrange(2**31),
            5.0,
            pool,
            _combos(rng, _n(300, scale, 40), customers, taken),
        ),
        AttackerSpec("scraper-stealth", "scraper-stealth", _workers(3, scale), rng.randrange(2**31), 3.0, pool),
        AttackerSpec("scraper-stealth-jar", "scraper-stealth-jar", _workers(2, scale), rng.randrange(2**31), 3.0, pool),
    ]
    tasks = _workers(5, scale)
    plan.attackers.append(
        AttackerSpec(
            "sneaker-bot",
            "sneaker-bot",
            tasks,
            rng.randrange(2**31),
            10.0,
            [book.residential("US") for _ in range(tasks)],
            accounts=_farm(rng, plan, tasks, taken),
        )
    )
    plan.notes["popular_build"] = browsers.POPULAR.key
    return plan


def _office_nat(rng: random.Random, book: AddressBook, seed: int, scale: float, taken: set[str]) -> Plan:
    window = 150.0 * scale
    plan = Plan("office-nat", TITLES["office-nat"], seed, scale, window)
    operator, office_ip = book.office()
    carrier, cgnat_ip = book.cgnat()
    plan.notes.update(
        {"office_ip": office_ip, "office_operator": operator, "cgnat_ip": cgnat_ip, "cgnat_carrier": carrier}
    )
    office_users: list[str] = []
    for i, t in enumerate(_start_times(rng, _n(40, scale, 3), window * 0.5)):
        build = browsers.pick(rng, browsers.OFFICE_MIX)
        username, password = _username(rng, taken), _strong_password(rng)
        plan.accounts[username] = password
        office_users.append(username)
        visits = rng.choice([1, 2, 2, 3])
        logins = sorted(rng.sample(range(visits), k=rng.randint(1, visits)))
        plan.people.append(
            PersonSpec(
                actor=f"office-{i:04d}",
                group="office",
                build=_localised(rng, build, "en-US" if rng.random() < 0.9 else "es-US"),
                ip=office_ip,
                secure=True,
                start=t,
                arrival="typed",
                referer=None,
                landing="/",
                pages=_pages(rng, 2.5, 7),
                seed=rng.randrange(2**31),
                account=(username, password),
                logins=logins,
                visits=visits,
                visit_gap_s=rng.uniform(25, 55) * min(1.0, scale),
                typo_rate=0.10,
            )
        )
    phones = {"shared": 0.5, "search": 0.3, "typed": 0.2}
    for i, t in enumerate(_start_times(rng, _n(30, scale, 2), window * 0.9)):
        plan.people.append(
            _general_person(
                rng,
                book,
                plan,
                i,
                group="cgnat",
                arrival=_arrival(rng, phones),
                start=t,
                mix=browsers.MOBILE_MIX,
                ip=cgnat_ip,
                login_share=0.25,
                http_share_typed=0.0,
                taken=taken,
            )
        )
    arrivals = {"typed": 0.30, "search": 0.45, "shared": 0.25}
    for i, t in enumerate(_start_times(rng, _n(40, scale, 2), window * 0.9)):
        plan.people.append(
            _general_person(rng, book, plan, i, group="visitors", arrival=_arrival(rng, arrivals), start=t, taken=taken)
        )
    customers = dict(plan.accounts)
    pool = book.residential_pool(_n(3000, scale, 200))
    generic = ["admin", "info", "sales", "support", "office", "test", "john.smith", "jane.doe"]
    spray = [(u, pw, customers.get(u) == pw) for pw in SPRAY_PASSWORDS for u in [*office_users, *generic]]
    cloud = [book.cloud()[1] for _ in range(3)]
    plan.attackers += [
        AttackerSpec(
            "stuffer-api",
            "stuffer-api",
            _workers(2, scale),
            rng.randrange(2**31),
            5.0,
            pool,
            _combos(rng, _n(400, scale, 40), customers, taken),
        ),
        AttackerSpec("sprayer", "sprayer", 1, rng.randrange(2**31), 8.0, pool, spray),
        AttackerSpec("scraper-requests-chrome-ua", "scraper-requests-chrome-ua", 1, rng.randrange(2**31), 4.0, pool),
        AttackerSpec(
            "scraper-python-requests",
            "scraper-python-requests",
            _workers(2, scale),
            rng.randrange(2**31),
            6.0,
            cloud[:2],
        ),
        AttackerSpec("fake-googlebot", "fake-googlebot", 1, rng.randrange(2**31), 2.0, cloud[2:]),
    ]
    return plan


def _wave(rng: random.Random, book: AddressBook, seed: int, scale: float, taken: set[str]) -> Plan:
    window = 45.0 * scale
    plan = Plan("first-visit-wave", TITLES["first-visit-wave"], seed, scale, window)
    wave_mix = (
        (browsers.CHROME_152_WIN, 0.50),
        (browsers.EDGE_152_WIN, 0.12),
        (browsers.CHROME_152_MAC, 0.08),
        (browsers.FIREFOX_147_WIN, 0.07),
        (browsers.OPERA_137_WIN, 0.04),
        (browsers.SAFARI_26_MAC, 0.05),
        (browsers.SAFARI_26_IOS, 0.08),
        (browsers.CHROME_152_ANDROID, 0.06),
    )
    n = _n(900, scale, 6)  # 20 first visits a second
    for i, t in enumerate(_start_times(rng, n, window)):
        build = browsers.pick(rng, wave_mix)
        plan.people.append(
            PersonSpec(
                actor=f"wave-{i:05d}",
                group="wave",
                build=_localised(rng, build),
                ip=book.residential(),
                secure=rng.random() >= 0.12,
                start=t,
                arrival="typed",
                referer=None,
                landing="/",
                pages=2 if rng.random() < 0.2 else 1,
                seed=rng.randrange(2**31),
            )
        )
    rates = [  # (bot, seconds between requests, paths)
        (browsers.GOOGLEBOT, 0.4, ["/robots.txt", "/", *[f"/products/{i}" for i in PRODUCT_IDS]]),
        (browsers.BINGBOT, 0.6, ["/robots.txt", "/", *[f"/products/{i}" for i in PRODUCT_IDS], "/login"]),
        (browsers.AHREFSBOT, 0.2, ["/robots.txt", "/", *[f"/products/{i}" for i in PRODUCT_IDS], "/sitemap.xml"]),
        (browsers.SEMRUSHBOT, 0.3, ["/robots.txt", "/", *[f"/products/{i}" for i in PRODUCT_IDS]]),
        (browsers.FACEBOOKHIT, 0.5, [f"/products/{i}?utm_source=newsletter&utm_medium=email" for i in PRODUCT_IDS]),
        (browsers.SLACKBOT, 2.0, [f"/products/{i}" for i in PRODUCT_IDS]),
        (browsers.TWITTERBOT, 2.0, ["/", *[f"/products/{i}" for i in PRODUCT_IDS]]),
        (browsers.UPTIMEROBOT, 0.7, ["/"]),
        (browsers.PINGDOM, 2.0, ["/"]),
        (browsers.DATADOG, 2.0, ["/", "/api/products"]),
    ]
    for k, (bot, interval, paths) in enumerate(rates):
        ips = [book.crawler(bot.key) for _ in range(4)]
        plan.declared.append(
            DeclaredSpec(
                f"declared-{bot.key}",
                bot,
                ips,
                rng.uniform(0, 3),
                interval,
                paths,
                seed * 100 + k,
                secure=rng.random() < 0.8 or bot.family == "crawler",
            )
        )
    pool = book.residential_pool(_n(2000, scale, 100))
    plan.attackers.append(
        AttackerSpec("scraper-wave", "scraper-wave", _workers(2, scale), rng.randrange(2**31), 2.0, pool)
    )
    return plan


def _search_and_links(rng: random.Random, book: AddressBook, seed: int, scale: float, taken: set[str]) -> Plan:
    window = 150.0 * scale
    plan = Plan("search-and-links", TITLES["search-and-links"], seed, scale, window)
    arrivals = {"search": 0.55, "shared": 0.30, "email": 0.05, "typed": 0.10}
    for i, t in enumerate(_start_times(rng, _n(180, scale, 4), window * 0.9)):
        arrival = _arrival(rng, arrivals)
        mix = browsers.SOCIAL_MIX if arrival == "shared" else browsers.GENERAL_MIX
        plan.people.append(
            _general_person(
                rng,
                book,
                plan,
                i,
                group=arrival,
                arrival=arrival,
                start=t,
                mix=mix,
                login_share=0.10,
                mean_extra_pages=2.5,
                taken=taken,
            )
        )
    pool = book.residential_pool(_n(3000, scale, 200))
    plan.attackers += [
        AttackerSpec("scraper-serp", "scraper-serp", _workers(2, scale), rng.randrange(2**31), 3.0, pool),
        AttackerSpec("scraper-stealth-jar", "scraper-stealth-jar", _workers(2, scale), rng.randrange(2**31), 3.0, pool),
        AttackerSpec("scraper-requests-chrome-ua", "scraper-requests-chrome-ua", 1, rng.randrange(2**31), 4.0, pool),
    ]
    return plan
