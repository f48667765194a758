"""The evidence of one request and the feature vector the model is trained on: the schema is defined here, once.

Training (`botwall train`, later) and serving both call `vectorize`, so they cannot drift apart. Changing, adding or
reordering a feature means bumping `SCHEMA_VERSION`; a model file records the version it was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

from botwall.evidence.behaviour import BehaviourEvidence
from botwall.evidence.credentials import LoginAttempt
from botwall.evidence.headers import HeaderEvidence
from botwall.evidence.infra import SPOOFED, VERIFIED, IpInfo
from botwall.evidence.tls import TlsEvidence
from botwall.evidence.useragent import AUTOMATION, CRAWLER, HTTP_LIBRARY, MISSING, SCANNER, UserAgentInfo
from botwall.request import RequestView

SCHEMA_VERSION = "4"


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything botwall knows about one request, pillar by pillar, and the reason codes that fired."""

    view: RequestView
    fingerprint: str
    kind: str  # "page", "api" or "asset" (behaviour.request_kind)
    ua: UserAgentInfo
    headers: HeaderEvidence
    tls: TlsEvidence
    ip: IpInfo
    crawler: str  # "verified" / "spoofed" when the UA claims a crawler with published ranges, else ""
    behaviour: BehaviourEvidence
    login: LoginAttempt | None
    reasons: tuple[str, ...]  # every reason code that fired, unordered; scorers order them by weight
    token: bool = False  # the request carries botwall's client cookie, valid for this client software
    token_id: str = ""  # that cookie's keyed hash (hex): a key for what is counted per cookie holder
    # The cookie was seen before, from other networks only: presented now from a network it never came from.
    token_roams: bool = False


def _cap(value: float, cap: float) -> float:
    return value if value < cap else cap


# (name, description) in vector order.
FEATURES: tuple[tuple[str, str], ...] = (
    ("ua_missing", "no user-agent header"),
    ("ua_http_library", "user-agent names an HTTP library or command-line tool"),
    ("ua_automation", "user-agent names a browser automation framework or headless browser"),
    ("ua_scanner", "user-agent names a vulnerability scanner"),
    ("ua_crawler", "user-agent declares a crawler"),
    ("ua_browser", "user-agent claims a browser"),
    ("ua_chromium", "user-agent claims a Chromium-engine browser"),
    ("hdr_count", "number of request headers (capped at 40)"),
    ("hdr_accept", "has an accept header"),
    ("hdr_accept_language", "has an accept-language header"),
    ("hdr_sec_ch_ua", "has a sec-ch-ua client hint"),
    ("hdr_sec_fetch", "has sec-fetch-mode"),
    ("hdr_cookie", "sends a cookie"),
    ("hdr_secure_context", "a secure context, where browsers send client hints and fetch metadata"),
    ("hdr_library_order", "header order fits an HTTP library better than any browser"),
    ("hdr_order_mismatch", "header order does not fit the claimed browser's captured profiles"),
    ("hdr_client_hints_mismatch", "sec-ch-ua contradicts the user-agent"),
    ("hdr_sec_fetch_inconsistent", "sec-fetch-* incomplete or incoherent"),
    ("hdr_browser_encoding", "accept-encoding as a browser sends it"),
    ("tls", "arrived over TLS with a JA4 fingerprint"),
    ("tls_known_tool", "the JA4 is a known tool's"),
    ("tls_ua_mismatch", "a browser user-agent with a tool's or another browser's JA4"),
    ("ip_hosting", "the IP is in a hosting or cloud provider's range"),
    ("ip_anonymizer", "the IP is a VPN, Tor or proxy exit"),
    ("ip_bad_reputation", "the IP or its ASN is on an operator's bad list"),
    ("ip_verified_crawler", "a crawler user-agent from that crawler's published ranges"),
    ("ip_fake_crawler", "a crawler user-agent from outside that crawler's published ranges"),
    ("ip_known_asn", "the IP's ASN is known"),
    ("kind_api", "request looks like an API call"),
    ("kind_asset", "request is for a static asset"),
    ("login", "request is a login attempt"),
    ("login_common_password", "the password is in the common/breached filter"),
    ("login_unparsed", "a login body that could not be read"),
    ("ip_rate_short", "IP requests/s over 10 s (capped at 50)"),
    ("ip_rate_medium", "IP requests/s over 60 s (capped at 50)"),
    ("ip_rate_long", "IP requests/s over 600 s (capped at 50)"),
    ("ip_requests", "IP requests seen (capped at 1000)"),
    ("ip_gap_cv", "coefficient of variation of the IP's inter-arrival gaps (capped at 3)"),
    ("ip_path_diversity", "distinct paths / requests for the IP"),
    ("ip_api_share", "share of the IP's requests that are API calls"),
    ("ip_asset_share", "share of the IP's requests that are assets"),
    ("ip_no_cookie_share", "share of the IP's requests without a cookie"),
    ("ip_error_ratio", "share of the IP's responses with status >= 400"),
    ("ip_failed_login_ratio", "share of the IP's logins that failed"),
    ("ip_login_failures", "decayed failed logins of the IP (capped at 100)"),
    ("ip_usernames", "distinct usernames tried from the IP (capped at 256)"),
    ("ip_new_session_ratio", "share of the IP's responses that start a new session"),
    ("fp_failed_login_ratio", "share of the fingerprint's logins that failed (shrunk towards 0.2)"),
    ("fp_failure_excess", "the fingerprint's failed-login share above the rest of the site's"),
    ("user_ips", "distinct IPs that tried this username (capped at 256)"),
    ("user_failures", "decayed failed logins of this username (capped at 100)"),
    ("password_usernames", "distinct usernames tried with this password (capped at 256)"),
    ("cold", "no cookie, and no referer (a page view) or no page view from the address lately (an API call)"),
    ("path_root", "the request is for the site's root, /"),
    ("ip_cold", "decayed cold requests of the IP (capped at 100)"),
    ("fp_cold_share", "share of the fingerprint's page views and API calls that are cold (shrunk towards 0)"),
    ("fp_cold_excess", "the fingerprint's cold share above the rest of the site's"),
    ("token", "the request carries botwall's own cookie, valid for this client software"),
    ("token_ips", "distinct IPs that presented this request's botwall cookie (0 without one; estimated past 16)"),
    ("token_networks", "distinct networks (ASNs) this request's botwall cookie came from (0 without one)"),
    ("token_paths", "distinct paths requested with this request's botwall cookie (estimated past 16)"),
    ("token_rate_medium", "requests/s with this request's botwall cookie over 60 s (capped at 500)"),
    ("token_usernames", "distinct usernames tried with this request's botwall cookie (capped at 256)"),
    ("token_login_failures", "decayed failed logins with this request's botwall cookie (capped at 100)"),
    ("ip_tokens", "distinct botwall cookies presented from the IP lately (capped at 256)"),
    ("cold_login", "a login with neither botwall's cookie nor a page view from its address"),
    ("tokenless_login", "a login without botwall's cookie on a site whose people hold it"),
    ("site_page_share", "share of all recent requests that are page views (0: only an API goes through botwall)"),
    ("site_token_share", "share of all recent requests that hold botwall's cookie (0: it is not handed out)"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(name for name, _ in FEATURES)
# The address's own behaviour windows (ip_rate_short, ip_requests, ...), as opposed to what kind of address it is.
_IP_BEHAVIOUR = (
    "rate",
    "requests",
    "gap",
    "path",
    "api",
    "asset",
    "no_cookie",
    "error",
    "failed",
    "login",
    "usernames",
    "new_session",
    "cold",
)


def vectorize(e: Evidence) -> list[float]:
    """The feature vector of one request, in FEATURE_NAMES order."""
    ua, b, view, login, ip, h, t = e.ua, e.behaviour, e.view, e.login, e.ip, e.headers, e.tls
    by_name = view.by_name
    return [
        1.0 if ua.category == MISSING else 0.0,
        1.0 if ua.category == HTTP_LIBRARY else 0.0,
        1.0 if ua.category == AUTOMATION else 0.0,
        1.0 if ua.category == SCANNER else 0.0,
        1.0 if ua.category == CRAWLER else 0.0,
        1.0 if bool(ua.browser) else 0.0,
        1.0 if ua.chromium else 0.0,
        _cap(float(len(view.headers)), 40.0),
        1.0 if "accept" in by_name else 0.0,
        1.0 if "accept-language" in by_name else 0.0,
        1.0 if "sec-ch-ua" in by_name else 0.0,
        1.0 if "sec-fetch-mode" in by_name else 0.0,
        1.0 if "cookie" in by_name else 0.0,
        1.0 if h.secure_context else 0.0,
        1.0 if h.looks_like_library_order else 0.0,
        1.0 if h.order_matches_claimed_browser is False else 0.0,
        1.0 if h.sec_ch_ua_major_matches is False else 0.0,
        1.0 if not h.sec_fetch_consistent else 0.0,
        1.0 if h.accept_encoding_browser_like else 0.0,
        1.0 if bool(view.ja4) else 0.0,
        1.0 if t.category == "tool" else 0.0,
        1.0 if t.tls_tool_mismatch or t.family_mismatch else 0.0,
        1.0 if ip.network in ("hosting", "cloud") else 0.0,
        1.0 if ip.network in ("vpn", "tor", "proxy") else 0.0,
        1.0 if ip.reputation == "bad" else 0.0,
        1.0 if e.crawler == VERIFIED else 0.0,
        1.0 if e.crawler == SPOOFED else 0.0,
        1.0 if ip.asn != 0 else 0.0,
        1.0 if e.kind == "api" else 0.0,
        1.0 if e.kind == "asset" else 0.0,
        1.0 if login is not None else 0.0,
        1.0 if login is not None and login.common_password else 0.0,
        1.0 if login is not None and not login.parsed else 0.0,
        _cap(b.ip_rate_short, 50.0),
        _cap(b.ip_rate_medium, 50.0),
        _cap(b.ip_rate_long, 50.0),
        _cap(float(b.ip_requests), 1000.0),
        _cap(b.ip_gap_cv, 3.0),
        b.ip_path_diversity,
        b.ip_api_share,
        b.ip_asset_share,
        b.ip_no_cookie_share,
        b.ip_error_ratio,
        b.ip_failed_login_ratio,
        _cap(b.ip_login_failures, 100.0),
        float(b.ip_usernames),
        b.ip_new_session_ratio,
        b.fp_failed_login_ratio,
        b.fp_failure_excess,
        float(b.user_ips),
        _cap(b.user_failures, 100.0),
        float(b.password_usernames),
        1.0 if b.cold else 0.0,
        1.0 if view.path == "/" else 0.0,
        _cap(b.ip_cold, 100.0),
        b.fp_cold_share,
        b.fp_cold_excess,
        1.0 if e.token else 0.0,
        float(b.token_ips),
        float(b.token_networks),
        float(b.token_paths),
        _cap(b.token_rate_medium, 500.0),
        float(b.token_usernames),
        _cap(b.token_login_failures, 100.0),
        float(b.ip_tokens),
        1.0 if b.cold_login else 0.0,
        1.0 if b.tokenless_login else 0.0,
        b.site_page_share,
        b.site_token_share,
    ]


@dataclass(frozen=True, slots=True)
class FeatureGroup:
    """Features that together say one thing about a request, and the reason code that names them when they drive a
    model's score (the model has no reason codes of its own: `scoring.model` explains a score by these groups)."""

    reason: str
    collective: bool  # evidence about a crowd the client belongs to (a browser build, a network, an account)
    features: tuple[str, ...]


# Every feature in exactly one group. Individual evidence is about this client: its own request (tool tells, TLS,
# kind, credentials), its address's own behaviour, its botwall token's history. Collective evidence is about a crowd
# it belongs to: everyone on its browser build (the fingerprint), everyone trying the same account or password, the
# site's shape. An address's behaviour is the client's own unless the address is shared (`crowd`).
FEATURE_GROUPS: tuple[FeatureGroup, ...] = (
    FeatureGroup(
        "ml:request-shape",
        False,
        tuple(n for n in FEATURE_NAMES if n.startswith(("ua_", "hdr_", "tls"))),
    ),
    FeatureGroup(
        "ml:address-type",
        False,
        ("ip_hosting", "ip_anonymizer", "ip_bad_reputation", "ip_verified_crawler", "ip_fake_crawler", "ip_known_asn"),
    ),
    FeatureGroup(
        "ml:request-kind", False, ("kind_api", "kind_asset", "login", "login_common_password", "login_unparsed")
    ),
    FeatureGroup("ml:cold-request", False, ("cold", "path_root", "cold_login", "tokenless_login")),
    FeatureGroup(
        "ml:address-behaviour",
        False,
        tuple(n for n in FEATURE_NAMES if n.startswith("ip_") and n.split("_", 1)[1].startswith(_IP_BEHAVIOUR)),
    ),
    FeatureGroup("ml:shared-address", False, ("ip_tokens",)),
    FeatureGroup(
        "ml:token-behaviour", False, tuple(n for n in FEATURE_NAMES if n == "token" or n.startswith("token_"))
    ),
    FeatureGroup("ml:fingerprint-crowd", True, tuple(n for n in FEATURE_NAMES if n.startswith("fp_"))),
    FeatureGroup("ml:account-crowd", True, ("user_ips", "user_failures", "password_usernames")),
    FeatureGroup("ml:site-shape", True, ("site_page_share", "site_token_share")),
)


REQUEST_SHAPE = "ml:request-shape"
ADDRESS_BEHAVIOUR = "ml:address-behaviour"


def crowd(group: FeatureGroup, shared_address: bool, token: bool) -> bool:
    """True when a group is left out of the client's own score (`scoring.rules.Score.own`): collective evidence;
    the address's behaviour when the address is shared (an office, a carrier gateway: a crowd); and the request's
    shape for a holder of botwall's token, whose software has shown it keeps what a browser keeps (a tool's
    signature is a floor over it all the same)."""
    if group.collective:
        return True
    if group.reason == ADDRESS_BEHAVIOUR:
        return shared_address
    return group.reason == REQUEST_SHAPE and token
