"""Behaviour: what a client does across requests, in sliding windows per client IP, fingerprint, ASN and username.

Windows are exponentially decayed counters (one float per horizon, O(1) to update, no per-request history), so
memory per key is fixed and a record costs a few microseconds to update. Distinct counts (paths, usernames, IPs) are
exact up to 16 items (their 64-bit hashes packed in a bytes object: the thresholds that matter are small, and must not
depend on a hash collision), then a 256-bit bitmap read by linear counting, saturating at "many".
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from botwall.request import RequestView

# Horizons of the rate windows, seconds.
SHORT, MEDIUM, LONG = 10.0, 60.0, 600.0
_BITS = 256
_MASK = _BITS - 1

_ASSET_SUFFIXES = (
    ".css", ".js", ".mjs", ".map", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".svg", ".ico",
    ".woff", ".woff2", ".ttf", ".otf", ".mp4", ".webm",
)  # fmt: skip


def request_kind(view: RequestView) -> str:
    """`asset`, `api` or `page`: the share of each is a strong tell (bots skip assets, scrapers hit the API)."""
    path = view.path
    if path.endswith(_ASSET_SUFFIXES) or path.startswith("/static/"):
        return "asset"
    accept = view.header("accept")
    if path.startswith("/api/") or "json" in accept or view.header("sec-fetch-mode") == "cors":
        return "api"
    return "page"


def is_cold(view: RequestView, kind: str, ip_pages: float) -> bool:
    """A request with no history behind it: without a cookie, a page view with no referer, or with a referer from
    this site that its address never loaded (no page view from it lately), or an API call from an address that has
    viewed no page lately (`ip_pages`: the address's decayed page views before this request; the engine passes 1
    where it sees no pages at all, an API whose pages are served elsewhere).

    A person makes one per visit (the first page, typed or from a bookmark; a phone's API call just after changing
    networks) and then browses with a referer from the address that loaded the page; a scraper that drops cookies
    and fetches every URL directly, from a new address every few requests, makes little else, and claiming a click
    from the home page does not change that. Counted per fingerprint, the share of cold requests shows a cookieless
    crawler even when it rotates its address.
    """
    if "cookie" in view.by_name:
        return False
    if kind == "page":
        referer = view.header("referer")
        return not referer or (ip_pages < 0.5 and _same_site(referer, view.authority))
    return kind == "api" and ip_pages < 0.5


def _same_site(referer: str, authority: str) -> bool:
    """True when a referer names this site's host (a link followed from one of its pages)."""
    host = _host(referer.partition("//")[2].partition("/")[0].rpartition("@")[2])
    return host == _host(authority) != ""


def _host(value: str) -> str:
    value = value.lower()
    return value[1:].partition("]")[0] if value.startswith("[") else value.partition(":")[0]


def _decay(value: float, elapsed: float, horizon: float) -> float:
    return value * math.exp(-elapsed / horizon) if elapsed > 0 else value


_EXACT = 16
# Exact hashes while few, packed 8 bytes each (one 41-byte object for the first, where a tuple of ints costs 88 and
# 16 of them 744), then a bitmap.
Distinct = bytes | int
_HASH = struct.Struct("<Q")
_pack = _HASH.pack
_WORD = _HASH.size
_U64 = (1 << 64) - 1


def add(items: Distinct, value: int) -> Distinct:
    """`items` with the hashed item `value` added (any int; taken modulo 2**64)."""
    if isinstance(items, int):
        return items | (1 << (value & _MASK))
    packed = _pack(value & _U64)
    if not items:
        return packed
    at = items.find(packed)
    while at > 0 and at & 7:  # a match straddling two hashes (8 bytes each) is not one
        at = items.find(packed, at + 1)
    if at >= 0:
        return items
    if len(items) < _EXACT * _WORD:
        return items + packed
    bitmap = 1 << (value & _MASK)
    for (item,) in _HASH.iter_unpack(items):
        bitmap |= 1 << (item & _MASK)
    return bitmap


def contains(items: Distinct, value: int) -> bool:
    """Whether the hashed item `value` is in `items` (a bitmap says yes for any item sharing its bit)."""
    if isinstance(items, int):
        return bool(items >> (value & _MASK) & 1)
    packed = _pack(value & _U64)
    at = items.find(packed)
    while at > 0 and at & 7:
        at = items.find(packed, at + 1)
    return at >= 0


def add_bit(items: Distinct, index: int) -> Distinct:
    """`items` with bit `index` of the bitmap set (an item another replica knew only as a bit), as a bitmap."""
    if isinstance(items, int):
        return items | (1 << (index & _MASK))
    bitmap = 1 << (index & _MASK)
    for (item,) in _HASH.iter_unpack(items):
        bitmap |= 1 << (item & _MASK)
    return bitmap


def members(items: Distinct) -> list[str]:
    """The items as text another replica can `add` back: `h` and the hash while exact, `b` and a bit's index after."""
    if isinstance(items, int):
        return [f"b{i}" for i in range(_BITS) if items >> i & 1]
    return [f"h{item:016x}" for (item,) in _HASH.iter_unpack(items)]


def distinct(items: Distinct) -> int:
    """How many distinct items: exact up to 16, then a linear-counting estimate (saturating at 256)."""
    if not isinstance(items, int):
        return len(items) // _WORD
    zeros = _BITS - items.bit_count()
    if zeros == 0:
        return _BITS
    return max(_EXACT, round(-_BITS * math.log(zeros / _BITS)))


@dataclass(slots=True)
class ClientWindow:
    """Decayed activity of one client key (an IP, a fingerprint or an ASN)."""

    last: float = 0.0
    short: float = 0.0
    medium: float = 0.0
    long: float = 0.0
    count: int = 0
    gap_mean: float = 0.0
    gap_var: float = 0.0
    pages: float = 0.0
    apis: float = 0.0
    assets: float = 0.0
    no_cookie: float = 0.0
    responses: float = 0.0
    errors: float = 0.0
    logins: float = 0.0
    login_failures: float = 0.0
    new_sessions: float = 0.0
    cold: float = 0.0  # requests with no history behind them (`is_cold`): a visit's first, or a cookieless bot's
    paths: Distinct = b""  # see `add` and `distinct`
    usernames: Distinct = b""
    ips: Distinct = b""
    networks: Distinct = b""  # ASNs (only counted for botwall's cookie)
    tokens: Distinct = b""  # botwall cookies presented from the key (only counted for an address)
    polling_until: float = 0.0  # a cookie caught polling an endpoint (`EndpointWindow`) is a poller until then

    def observe(
        self, now: float, kind: str, path_hash: int, has_cookie: bool, ip_hash: int, cold: bool = False
    ) -> None:
        """Count one request (`cold`: a request with no history behind it, see `is_cold`)."""
        if not self.count:
            self._first(now, kind, path_hash, has_cookie, ip_hash, cold)
            return
        elapsed = now - self.last
        # Exponentially weighted mean and variance of the gaps between requests (alpha 0.2): a low coefficient
        # of variation is a machine's metronome.
        delta = elapsed - self.gap_mean
        self.gap_mean += 0.2 * delta
        self.gap_var = 0.8 * (self.gap_var + 0.2 * delta * delta)
        self.short = _decay(self.short, elapsed, SHORT)
        self.medium = _decay(self.medium, elapsed, MEDIUM)
        factor = math.exp(-elapsed / LONG) if elapsed > 0 else 1.0
        self.long *= factor
        self.pages *= factor
        self.apis *= factor
        self.assets *= factor
        self.no_cookie *= factor
        self.responses *= factor
        self.errors *= factor
        self.logins *= factor
        self.login_failures *= factor
        self.new_sessions *= factor
        self.cold *= factor
        self.last = now
        self.count += 1
        self.short += 1.0
        self.medium += 1.0
        self.long += 1.0
        if kind == "page":
            self.pages += 1.0
        elif kind == "api":
            self.apis += 1.0
        else:
            self.assets += 1.0
        if not has_cookie:
            self.no_cookie += 1.0
        if cold:
            self.cold += 1.0
        self.paths = add(self.paths, path_hash)
        self.ips = add(self.ips, ip_hash)

    def _first(self, now: float, kind: str, path_hash: int, has_cookie: bool, ip_hash: int, cold: bool) -> None:
        # A window's first request takes its counters from zero to one. Assigning the constant 1.0 (one float object
        # for every window) instead of adding to zero (a new 24-byte float each) saves about 200 bytes per window:
        # under a flood of addresses most windows see one request.
        self.last = now
        self.count = 1
        self.short = self.medium = self.long = 1.0
        if kind == "page":
            self.pages = 1.0
        elif kind == "api":
            self.apis = 1.0
        else:
            self.assets = 1.0
        if not has_cookie:
            self.no_cookie = 1.0
        if cold:
            self.cold = 1.0
        self.paths = add(self.paths, path_hash)
        self.ips = add(self.ips, ip_hash)

    def observe_response(self, status: int, login: bool, login_failed: bool, new_session: bool) -> None:
        """Count the outcome of one of this client's requests (decay already applied at the request)."""
        # From zero, the shared constant (see `_first`).
        self.responses = self.responses + 1.0 if self.responses else 1.0
        if status >= 400:
            self.errors = self.errors + 1.0 if self.errors else 1.0
        if login:
            self.logins += 1.0
            if login_failed:
                self.login_failures += 1.0
        if new_session:
            self.new_sessions += 1.0

    def rates(self, now: float) -> tuple[float, float, float]:
        """Requests per second over the short, medium and long horizons, as of `now`."""
        elapsed = now - self.last
        return (
            _decay(self.short, elapsed, SHORT) / SHORT,
            _decay(self.medium, elapsed, MEDIUM) / MEDIUM,
            _decay(self.long, elapsed, LONG) / LONG,
        )

    def gap_cv(self) -> float:
        """Coefficient of variation of inter-arrival gaps; 1.0 until there is enough history."""
        if self.count < 8 or self.gap_mean <= 0:
            return 1.0
        return math.sqrt(self.gap_var) / self.gap_mean


# Calls of one client to one API endpoint within about a minute (decayed over MEDIUM) from which it is polling it: a
# person's page asks an endpoint once or twice per view, a sneaker bot asks for the stock every second.
POLLING = 15.0
# Seconds for which a cookie caught polling is a poller on every request (its page views too), from its last poll.
POLLER_MEMORY = 60.0
# Clients polling one endpoint from which the site's own pages poll it (a live widget every visitor runs): then
# polling it is the site's normal, not a bot's (when they are also at least half of the endpoint's clients).
_POLLED_BY = 20


def endpoint_of(path: str, query: str) -> str:
    """An API endpoint as a client asks for it: the path and the query, less any value of ten digits or more (a
    timestamp added to dodge a cache), so a poller is one endpoint however it busts caches, while a person typing a
    search or scrolling pages asks for a new one with each query."""
    if not query:
        return path
    kept = [part for part in query.split("&") if not (len(value := part.partition("=")[2]) >= 10 and value.isdigit())]
    return f"{path}?{'&'.join(kept)}"


@dataclass(slots=True)
class EndpointWindow:
    """One client's calls to one API endpoint (`endpoint_of`), decayed over the medium horizon, and whether it is
    polling it: from `POLLING` calls within about a minute until it slows under half that (a poller that backs off
    for a few seconds after each refusal keeps polling, at half the pace, and stays caught)."""

    last: float = 0.0
    calls: float = 0.0
    polling: bool = False

    def observe(self, now: float) -> bool:
        """Count one call; returns whether the client is polling the endpoint."""
        self.calls = _decay(self.calls, now - self.last, MEDIUM) + 1.0 if self.last else 1.0
        self.last = now
        if self.calls >= POLLING:
            self.polling = True
        elif self.calls < POLLING / 2:
            self.polling = False
        return self.polling


@dataclass(slots=True)
class EndpointBaseline:
    """Who calls one API endpoint, site-wide: its distinct clients, and those that polled it (`POLLING`)."""

    clients: Distinct = b""
    pollers: Distinct = b""

    def polled(self) -> bool:
        """True where the site's own clients poll the endpoint: many of them, and at least half of its clients."""
        pollers = distinct(self.pollers)
        return pollers >= _POLLED_BY and 2 * pollers >= distinct(self.clients)


@dataclass(slots=True)
class AccountWindow:
    """Decayed login activity against one username."""

    last: float = 0.0
    attempts: float = 0.0
    failures: float = 0.0
    successes: float = 0.0
    ips: Distinct = b""
    fingerprints: Distinct = b""

    def observe(self, now: float, ip_hash: int, fp_hash: int) -> None:
        """Count one login attempt."""
        factor = math.exp(-(now - self.last) / LONG) if self.last else 1.0
        self.attempts = self.attempts * factor + 1.0
        self.failures *= factor
        self.successes *= factor
        self.last = now
        self.ips = add(self.ips, ip_hash)
        self.fingerprints = add(self.fingerprints, fp_hash)


@dataclass(slots=True)
class SprayWindow:
    """Usernames tried with one (keyed-hash) password: many means a password spray."""

    usernames: Distinct = b""


@dataclass(frozen=True, slots=True)
class BehaviourEvidence:
    """The behaviour signals of one request, after counting it."""

    cold: bool = False  # this request is cold (`is_cold`)
    ip_rate_short: float = 0.0
    ip_rate_medium: float = 0.0
    ip_rate_long: float = 0.0
    ip_requests: int = 0
    ip_gap_cv: float = 1.0
    ip_path_diversity: float = 1.0
    ip_api_share: float = 0.0
    ip_asset_share: float = 0.0
    ip_no_cookie_share: float = 0.0
    ip_error_ratio: float = 0.0
    ip_failed_login_ratio: float = 0.0
    ip_login_failures: float = 0.0
    ip_usernames: int = 0
    ip_new_session_ratio: float = 0.0
    ip_cold: float = 0.0
    ip_tokens: int = 0  # distinct botwall cookies presented from the address lately
    ip_shared: bool = False  # an office, a campus or a carrier gateway: several cookie holders behind the address
    fp_cold: float = 0.0
    fp_cold_share: float = 0.0
    fp_cold_excess: float = 0.0  # the build's cold share above the rest of the site's (the site's own baseline)
    fp_failed_login_ratio: float = 0.0
    fp_failure_excess: float = 0.0  # the build's failed-login share above the rest of the site's
    fp_usernames: int = 0
    user_ips: int = 0
    user_failures: float = 0.0
    password_usernames: int = 0
    token_ips: int = 0  # addresses that presented this request's botwall cookie (0 without one)
    token_networks: int = 0  # networks (ASNs) it was presented from
    token_paths: int = 0  # distinct paths requested with it
    token_rate_medium: float = 0.0
    token_usernames: int = 0  # usernames tried with this request's botwall cookie
    token_login_failures: float = 0.0
    token_failed_login_ratio: float = 0.0
    # This client (its cookie, or its address where that is not shared) polls this API endpoint (`EndpointWindow`),
    # where that is its own evidence: not where it mostly views pages, nor where the site's own pages poll it.
    endpoint_polling: bool = False
    orphan_referer: bool = False  # a page with this site's referer, no cookie, from an address that loaded no page
    login: bool = False  # the request is a login attempt
    cold_login: bool = False  # a login with neither botwall's cookie nor a page view from its address
    tokenless_login: bool = False  # a login without botwall's cookie where the site's people hold it
    # The deployment as botwall sees it (one window for all traffic): whether pages pass through it at all (an API
    # behind Envoy with its pages on a CDN), and whether people hold its cookie (it may be turned off).
    site_page_share: float = 0.0
    site_token_share: float = 0.0


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole > 0 else 0.0


# Pseudo-requests behind a fingerprint's shares: a fingerprint seen a few times reads as ordinary traffic, and only
# volume moves its shares (one person's cold first page on a rare browser build is not a crawler).
_PRIOR = 10.0


def _shrunk(part: float, whole: float, prior: float) -> float:
    return (part + _PRIOR * prior) / (whole + _PRIOR)


# Pseudo-requests behind the site's shares, at the shape of a site whose pages pass through botwall and whose people
# hold its cookie: a freshly started botwall judges its first requests as on such a site, not as on one without
# pages or cookies, until its own traffic says otherwise.
_SITE_PRIOR = 10.0
_SITE_PAGE_SHARE = 0.3
_SITE_TOKEN_SHARE = 0.8


def site_shares(site: ClientWindow) -> tuple[float, float]:
    """The site's recent share of page views, and of requests holding botwall's cookie (shrunk to a full site's)."""
    kinds = site.pages + site.apis + site.assets
    pages = (site.pages + _SITE_PRIOR * _SITE_PAGE_SHARE) / (kinds + _SITE_PRIOR)
    tokens = (site.long - site.no_cookie + _SITE_PRIOR * _SITE_TOKEN_SHARE) / (site.long + _SITE_PRIOR)
    return pages, tokens


# What the rest of the site is taken to look like before it has shown anything: a fifth of page views and API calls
# cold (one first page per visit), a fifth of logins failing (typos, forgotten passwords).
_COLD_SHARE = 0.2
_FAILED_LOGINS = 0.2
# Cookie holders behind one address from which it is shared (an office, a campus, a carrier gateway): per-address
# behaviour is then a crowd's, and each holder's own is read from its cookie.
SHARED_ADDRESS = 3


def _excess(part: float, whole: float, rest_part: float, rest_whole: float, prior: float) -> float:
    """`part/whole` above `rest_part/rest_whole`, both shrunk towards `prior`: how far one browser build stands out
    from the rest of the site's traffic, which is the baseline (a wave of first visits raises every build's cold
    share, an attacker cloning one build raises that build's alone)."""
    mine = (part + _PRIOR * prior) / (whole + _PRIOR)
    rest = (max(0.0, rest_part) + _PRIOR * prior) / (max(0.0, rest_whole) + _PRIOR)
    return mine - rest


@dataclass(frozen=True, slots=True)
class LoginContext:
    """What the engine knows of a login attempt before it is scored: whether it has any history behind it."""

    cold: bool = False  # neither botwall's cookie nor a page view from its address (where botwall sees pages)
    tokenless: bool = False  # no botwall cookie, on a site whose people hold it


def snapshot(
    now: float,
    ip: ClientWindow,
    fp: ClientWindow,
    account: AccountWindow | None,
    spray: SprayWindow | None,
    cold: bool = False,
    token: ClientWindow | None = None,
    site: ClientWindow | None = None,
    login: LoginContext | None = None,
    orphan_referer: bool = False,
    endpoint_polling: bool = False,
) -> BehaviourEvidence:
    """The signals, read from the windows after this request was counted."""
    ip_short, ip_medium, ip_long = ip.rates(now)
    kinds = ip.pages + ip.apis + ip.assets
    # Cold is said of page views and API calls (an asset is never cold), so shares of cold are of those: a browser's
    # assets come with another header shape, hence under another fingerprint, than its page views.
    fp_views = fp.pages + fp.apis
    if site is not None:
        site_pages, site_tokens = site_shares(site)
        site_views = site.pages + site.apis
        cold_excess = _excess(fp.cold, fp_views, site.cold - fp.cold, site_views - fp_views, _COLD_SHARE)
        failure_excess = _excess(
            fp.login_failures, fp.logins, site.login_failures - fp.login_failures, site.logins - fp.logins,
            _FAILED_LOGINS,
        )  # fmt: skip
    else:
        site_pages, site_tokens, cold_excess, failure_excess = _SITE_PAGE_SHARE, _SITE_TOKEN_SHARE, 0.0, 0.0
    ip_tokens = distinct(ip.tokens)
    attempt = login or _NO_LOGIN
    return BehaviourEvidence(
        cold=cold,
        ip_rate_short=ip_short,
        ip_rate_medium=ip_medium,
        ip_rate_long=ip_long,
        ip_requests=ip.count,
        ip_gap_cv=ip.gap_cv(),
        ip_path_diversity=min(1.0, distinct(ip.paths) / min(ip.count, _BITS)) if ip.count else 1.0,
        ip_api_share=_ratio(ip.apis, kinds),
        ip_asset_share=_ratio(ip.assets, kinds),
        ip_no_cookie_share=_ratio(ip.no_cookie, ip.long),
        ip_error_ratio=_ratio(ip.errors, ip.responses),
        ip_failed_login_ratio=_ratio(ip.login_failures, ip.logins),
        ip_login_failures=ip.login_failures,
        ip_usernames=distinct(ip.usernames),
        ip_new_session_ratio=_ratio(ip.new_sessions, ip.responses),
        ip_cold=ip.cold,
        ip_tokens=ip_tokens,
        ip_shared=ip_tokens >= SHARED_ADDRESS,
        fp_cold=fp.cold,
        fp_cold_share=_shrunk(fp.cold, fp_views, 0.0),
        fp_cold_excess=cold_excess,
        fp_failed_login_ratio=_shrunk(fp.login_failures, fp.logins, _FAILED_LOGINS),
        fp_failure_excess=failure_excess,
        fp_usernames=distinct(fp.usernames),
        user_ips=distinct(account.ips) if account is not None else 0,
        user_failures=account.failures if account is not None else 0.0,
        password_usernames=distinct(spray.usernames) if spray is not None else 0,
        token_ips=distinct(token.ips) if token is not None else 0,
        token_networks=distinct(token.networks) if token is not None else 0,
        token_paths=distinct(token.paths) if token is not None else 0,
        token_rate_medium=token.rates(now)[1] if token is not None else 0.0,
        token_usernames=distinct(token.usernames) if token is not None else 0,
        token_login_failures=token.login_failures if token is not None else 0.0,
        token_failed_login_ratio=_ratio(token.login_failures, token.logins) if token is not None else 0.0,
        # Behind a shared address without a cookie, the address's calls are a crowd's.
        endpoint_polling=endpoint_polling and (token is not None or ip_tokens < SHARED_ADDRESS),
        login=login is not None,
        cold_login=attempt.cold,
        tokenless_login=attempt.tokenless,
        orphan_referer=orphan_referer,
        site_page_share=site_pages,
        site_token_share=site_tokens,
    )


_NO_LOGIN = LoginContext()


def behaviour_reasons(b: BehaviourEvidence) -> list[str]:
    """Reason codes of the behaviour pillar; thresholds are deliberately conservative (humans share NATs).

    Which of them are about this client and which about a crowd it belongs to is `scoring.rules.collective`'s to
    say: per-address codes describe a crowd when the address is shared (`ip_shared`).
    """
    out = []
    if b.ip_rate_short > 20.0:
        out.append("beh:very-high-rate")
    elif b.ip_rate_short > 5.0:
        out.append("beh:high-rate")
    if b.ip_requests >= 10 and b.ip_gap_cv < 0.15:
        out.append("beh:regular-timing")
    if b.ip_usernames >= 10:
        out.append("beh:many-usernames-many")
    elif b.ip_usernames >= 4:
        out.append("beh:many-usernames")
    failed = b.ip_login_failures >= 2.5 and b.ip_failed_login_ratio > 0.8
    if failed:
        out.append("beh:failed-logins")
    if b.token_usernames >= 6:
        # One browser trying many accounts, from any number of addresses (a stuffer keeping a cookie jar): from six,
        # more than a person fumbling their username's spellings, and its own evidence on every request it makes.
        out.append("beh:cookie-many-usernames-many")
    elif b.token_usernames >= 4:
        out.append("beh:cookie-many-usernames")
    if b.token_login_failures >= 2.5 and b.token_failed_login_ratio > 0.8 and (b.ip_shared or not failed):
        # The cookie's own failures where the address does not already say so (behind a shared address it cannot).
        out.append("beh:cookie-failed-logins")
    if b.cold_login:
        out.append("cred:cold-login")
    elif b.tokenless_login:
        out.append("cred:tokenless-login")
    if b.password_usernames >= 3:
        out.append("beh:password-spray")
    if b.login and b.fp_usernames >= 10 and b.fp_failed_login_ratio > 0.7 and b.fp_failure_excess > 0.3:
        # The build's logins fail far more often than the rest of the site's: a combo list behind this build (said
        # of its logins, not of every page its people view).
        out.append("beh:fingerprint-stuffing")
    if b.user_ips >= 5:
        out.append("beh:account-many-ips")
    if b.ip_requests >= 10 and b.ip_no_cookie_share > 0.95 and b.ip_new_session_ratio > 0.5:
        out.append("beh:new-session-every-request")
    if b.ip_requests >= 10 and b.ip_error_ratio > 0.5:
        out.append("beh:high-error-ratio")
    if b.ip_requests >= 20 and b.ip_asset_share < 0.02 and b.ip_api_share < 0.5:
        out.append("beh:no-assets")
    if b.token_rate_medium > 1.0:
        # Over a page view or API call a second under one cookie for a minute (assets not counted): a person reads.
        out.append("beh:cookie-high-rate")
    if b.endpoint_polling:
        # One client asking one API endpoint over and over, far more than it views pages (a sneaker bot polling the
        # stock of a drop), where the site's own pages do not poll it.
        out.append("beh:endpoint-polling")
    if b.orphan_referer:
        out.append("beh:orphan-referer")
    if b.token_networks >= 6:
        # One browser's cookie from many networks at once: a scraper keeping one cookie jar across a proxy pool (a
        # person moving between home, phone and office shows two or three).
        out.append("beh:cookie-many-networks")
    if b.cold and b.fp_cold >= 20.0 and b.fp_cold_share >= 0.5 and b.fp_cold_excess >= 0.3:
        # Most of this build's recent traffic is cold (no cookie, no referer or no page view behind it), far more
        # than the rest of the site's: a crawler that rotates addresses behind it. Thousands of first visits on a
        # popular build are the site's success, not this: a wave raises every build's cold share alike.
        out.append("beh:fingerprint-cold-requests")
    return out
