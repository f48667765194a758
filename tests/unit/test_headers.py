"""Header-shape and TLS evidence against the profiles captured from real clients (botwall/data/*.json)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from botwall.evidence import headers as hdr
from botwall.evidence import tls
from botwall.evidence.headers import HeaderAnalyzer, ProfileError
from botwall.evidence.tls import FingerprintTableError, TlsAnalyzer
from botwall.evidence.useragent import UserAgentAnalyzer, UserAgentInfo
from botwall.request import RequestView, build_view

PROFILES: list[dict[str, Any]] = json.loads(
    resources.files("botwall").joinpath("data", "header_profiles.json").read_text(encoding="utf-8")
)["profiles"]
TLS_TABLE: dict[str, dict[str, str]] = json.loads(
    resources.files("botwall").joinpath("data", "tls_fingerprints.json").read_text(encoding="utf-8")
)["fingerprints"]
BROWSER_PROFILES = [p for p in PROFILES if p["category"] == "browser"]
LIBRARY_PROFILES = [p for p in PROFILES if p["category"] == "tool"]
_KIND_PATHS = {"navigation": "/_echo/nav", "xhr": "/_echo/api", "plain": "/_echo/plain"}


def _profile(client: str, kind: str, transport: str, host: str) -> dict[str, Any]:
    return next(
        p for p in PROFILES if (p["client"], p["kind"], p["transport"], p["host"]) == (client, kind, transport, host)
    )


CHROME_NAV_HTTPS = _profile("chromium-headful", "navigation", "https", "shop.test")
CHROME_XHR_HTTPS = _profile("chromium-headful", "xhr", "https", "shop.test")
FIREFOX_NAV_HTTPS = _profile("firefox-headless", "navigation", "https", "shop.test")
CHROME_UA = CHROME_NAV_HTTPS["values"]["user-agent"]
FIREFOX_UA = FIREFOX_NAV_HTTPS["values"]["user-agent"]
SAFARI_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15"
)
EDGE_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36 "
    "Edg/156.0.0.0"
)


def _id(profile: dict[str, Any]) -> str:
    return f"{profile['client']}-{profile['kind']}-{profile['transport']}-{profile['host']}"


def profile_headers(profile: dict[str, Any], user_agent: str | None = None) -> list[tuple[str, str]]:
    """The profile's headers in order, with its recorded values (a placeholder for the others)."""
    out = []
    for name in profile["headers"]:
        value = profile["values"].get(name, "https://shop.test/" if name == "referer" else "1")
        if name == "user-agent" and user_agent is not None:
            value = user_agent
        out.append((name, value))
    return out


def make_view(
    pairs: list[tuple[str, str]],
    *,
    scheme: str = "https",
    host: str = "shop.test",
    path: str = "/",
    method: str = "GET",
    ja4: str = "",
) -> RequestView:
    pseudo = [(":method", method), (":scheme", scheme), (":authority", host), (":path", path)]
    return build_view([*pseudo, *pairs], {"filter_state['botwall.ja4']": ja4} if ja4 else {})


def profile_view(profile: dict[str, Any], user_agent: str | None = None, **kwargs: Any) -> RequestView:
    """The request a profile describes, as botwall would see it."""
    options: dict[str, Any] = {
        "scheme": profile["transport"],
        "host": profile["host"],
        "path": _KIND_PATHS.get(profile["kind"], f"/_echo/{profile['kind']}"),
        "ja4": profile["ja4"],
    }
    options.update(kwargs)
    return make_view(profile_headers(profile, user_agent), **options)


def without(pairs: list[tuple[str, str]], *prefixes: str) -> list[tuple[str, str]]:
    return [(n, v) for n, v in pairs if not n.startswith(prefixes)]


def replaced(pairs: list[tuple[str, str]], **values: str) -> list[tuple[str, str]]:
    changes = {k.replace("_", "-"): v for k, v in values.items()}
    return [(n, changes.get(n, v)) for n, v in pairs]


@pytest.fixture(scope="module")
def analyzer() -> HeaderAnalyzer:
    return HeaderAnalyzer()


@pytest.fixture(scope="module")
def tls_analyzer() -> TlsAnalyzer:
    return TlsAnalyzer()


@pytest.fixture(scope="module")
def uas() -> UserAgentAnalyzer:
    return UserAgentAnalyzer()


def ua_of(uas: UserAgentAnalyzer, pairs: list[tuple[str, str]]) -> UserAgentInfo:
    return uas.analyze(dict(pairs).get("user-agent", ""))


# --- every captured profile is classified as what it is ----------------------------------------------------------


def test_profiles_cover_every_client_kind_and_transport() -> None:
    """The shipped capture holds Chromium (headless, headful, Playwright), Firefox and seven libraries."""
    clients = {p["client"] for p in PROFILES}
    expected = {
        "chromium-headless",
        "chromium-headful",
        "playwright-chromium",
        "firefox-headless",
        "curl",
        "wget",
        "python-requests",
        "python-httpx",
        "python-aiohttp",
        "node-fetch",
        "go-net-http",
    }
    assert expected == clients
    assert {"navigation", "xhr"} <= {p["kind"] for p in BROWSER_PROFILES}
    assert {"http", "https"} == {p["transport"] for p in PROFILES}


@pytest.mark.parametrize("profile", BROWSER_PROFILES, ids=_id)
def test_browser_profile_passes(analyzer: HeaderAnalyzer, uas: UserAgentAnalyzer, profile: dict[str, Any]) -> None:
    """Every captured browser request, with its own user-agent, raises no hdr:* reason and matches its family."""
    view = profile_view(profile)
    evidence = analyzer.analyze(view, uas.analyze(profile["values"]["user-agent"]))
    assert () == evidence.reasons
    assert True is evidence.order_matches_claimed_browser
    assert False is evidence.looks_like_library_order


@pytest.mark.parametrize("profile", LIBRARY_PROFILES, ids=_id)
def test_library_profile_has_library_order(
    analyzer: HeaderAnalyzer, uas: UserAgentAnalyzer, profile: dict[str, Any]
) -> None:
    """Every captured library request looks like a library's header order, and claims no browser."""
    evidence = analyzer.analyze(profile_view(profile), uas.analyze(profile["values"]["user-agent"]))
    assert True is evidence.looks_like_library_order
    assert None is evidence.order_matches_claimed_browser


@pytest.mark.parametrize("user_agent", [CHROME_UA, FIREFOX_UA], ids=["chrome-ua", "firefox-ua"])
@pytest.mark.parametrize("target", [("http", "shop.example"), ("https", "shop.example")], ids=["http", "https"])
@pytest.mark.parametrize("profile", LIBRARY_PROFILES, ids=_id)
def test_library_profile_with_spoofed_browser_ua_is_caught(
    analyzer: HeaderAnalyzer,
    uas: UserAgentAnalyzer,
    profile: dict[str, Any],
    target: tuple[str, str],
    user_agent: str,
) -> None:
    """A library's headers under a browser's user-agent are caught by their order, over HTTP and HTTPS alike."""
    scheme, host = target
    view = profile_view(profile, user_agent, scheme=scheme, host=host)
    evidence = analyzer.analyze(view, uas.analyze(user_agent))
    assert True is (hdr.BROWSER_UA_LIBRARY_ORDER in evidence.reasons)
    assert profile["client"].split("-")[0] == evidence.closest_profile.split("-")[0]


# --- secure contexts ---------------------------------------------------------------------------------------------


def test_chrome_over_https_without_client_hints_is_flagged(analyzer: HeaderAnalyzer, uas: UserAgentAnalyzer) -> None:
    """A Chrome navigation over HTTPS without sec-ch-ua is flagged; nothing else about it is wrong."""
    pairs = without(profile_headers(CHROME_NAV_HTTPS), "sec-ch-ua")
    evidence = analyzer.analyze(make_view(pairs), ua_of(uas, pairs))
    assert (hdr.CHROME_WITHOUT_CLIENT_HINTS,) == evidence.reasons


def test_chrome_over_plain_http_to_a_remote_host_needs_no_client_hints(
    analyzer: HeaderAnalyzer, uas: UserAgentAnalyzer
) -> None:
    """Over plain HTTP to a non-loopback host Chrome sends no client hints, no sec-fetch-* and no br: not evidence."""
    pairs = replaced(
        without(profile_headers(CHROME_NAV_HTTPS), "sec-ch-ua", "sec-fetch-"), accept_encoding="gzip, deflate"
    )
    evidence = analyzer.analyze(make_view(pairs, scheme="http", host="shop.example:8080"), ua_of(uas, pairs))
    assert ((), False) == (evidence.reasons, evidence.secure_context)


@pytest.mark.parametrize("host", ["127.0.0.1:8080", "localhost", "[::1]:80", "app.localhost"])
def test_loopback_over_plain_http_is_a_secure_context(
    analyzer: HeaderAnalyzer, uas: UserAgentAnalyzer, host: str
) -> None:
    """Chrome sends client hints and sec-fetch-* to loopback hosts even over plain HTTP, so their absence counts."""
    pairs = without(profile_headers(CHROME_NAV_HTTPS), "sec-ch-ua", "sec-fetch-")
    evidence = analyzer.analyze(make_view(pairs, scheme="http", host=host), ua_of(uas, pairs))
    assert (hdr.CHROME_WITHOUT_CLIENT_HINTS, hdr.BROWSER_WITHOUT_SEC_FETCH) == evidence.reasons


def test_forwarded_proto_https_makes_plain_http_a_secure_context(
    analyzer: HeaderAnalyzer, uas: UserAgentAnalyzer
) -> None:
    """Behind a proxy that terminated TLS (x-forwarded-proto: https), the browser's secure-context headers are due."""
    pairs = [*without(profile_headers(CHROME_NAV_HTTPS), "sec-ch-ua"), ("x-forwarded-proto", "https")]
    evidence = analyzer.analyze(make_view(pairs, scheme="http"), ua_of(uas, pairs))
    assert (True, (hdr.CHROME_WITHOUT_CLIENT_HINTS,)) == (evidence.secure_context, evidence.reasons)


def test_firefox_over_https_without_sec_fetch_is_flagged(analyzer: HeaderAnalyzer, uas: UserAgentAnalyzer) -> None:
    """Firefox sends sec-fetch-* to secure contexts; a Firefox user-agent without them over HTTPS is flagged."""
    pairs = without(profile_headers(FIREFOX_NAV_HTTPS), "sec-fetch-")
    evidence = analyzer.analyze(make_view(pairs), ua_of(uas, pairs))
    assert (hdr.BROWSER_WITHOUT_SEC_FETCH,) == evidence.reasons


# --- client hints ------------------------------------------------------------------------------------------------


def test_client_hints_version_mismatch(analyzer: HeaderAnalyzer, uas: UserAgentAnalyzer) -> None:
    """sec-ch-ua naming Chromium 120 under a Chrome/156 user-agent is a mismatch."""
    pairs = replaced(profile_headers(CHROME_NAV_HTTPS), sec_ch_ua='"Chromium";v="120", "Not:A-Brand";v="24"')
    evidence = analyzer.analyze(make_view(pairs), ua_of(uas, pairs))
    assert (False, (hdr.CLIENT_HINTS_VERSION_MISMATCH,)) == (evidence.sec_ch_ua_major_matches, evidence.reasons)


def test_client_hints_under_a_firefox_user_agent(analyzer: HeaderAnalyzer, uas: UserAgentAnalyzer) -> None:
    """Firefox never sends client hints: Chrome's headers under a Firefox user-agent are flagged for them."""
    pairs = profile_headers(CHROME_NAV_HTTPS, FIREFOX_UA)
    evidence = analyzer.analyze(make_view(pairs), ua_of(uas, pairs))
    assert True is (hdr.CLIENT_HINTS_NON_CHROMIUM in evidence.reasons)
    assert False is evidence.order_matches_claimed_browser


def test_edge_brand_matches_edge_user_agent(analyzer: HeaderAnalyzer, uas: UserAgentAnalyzer) -> None:
    """Edge runs Chromium's network stack: its brand list and Chrome's header order pass under an Edge user-agent."""
    brands = '"Microsoft Edge";v="156", "Chromium";v="156", "Not:A-Brand";v="8"'
    pairs = replaced(profile_headers(CHROME_NAV_HTTPS, EDGE_UA), sec_ch_ua=brands)
    evidence = analyzer.analyze(make_view(pairs), ua_of(uas, pairs))
    assert ((), True) == (evidence.reasons, evidence.sec_ch_ua_major_matches)


def test_brand_majors_leave_out_grease() -> None:
    """The GREASE brand's version is not a version the user-agent can match."""
    assert frozenset({156}) == hdr.brand_majors('"Not:A-Brand";v="8", "Chromium";v="156", "Google Chrome";v="156"')


# --- sec-fetch-* ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("site", "mode", "dest", "user", "html_accept", "expected"),
    [
        ("none", "navigate", "document", "?1", True, True),
        ("same-origin", "cors", "empty", "", False, True),
        ("same-origin", "no-cors", "image", "", False, True),
        ("", "", "", "", False, True),
        ("none", "navigate", "document", "?1", False, False),  # a navigation asking for JSON
        ("same-origin", "cors", "document", "", False, False),  # a document fetched by an XHR
        ("same-origin", "navigate", "empty", "", True, False),  # a navigation to nothing
        ("same-origin", "cors", "empty", "?1", False, False),  # sec-fetch-user on an XHR
        ("", "cors", "", "", False, False),  # Node's fetch: sec-fetch-mode alone
        ("somewhere", "cors", "empty", "", False, False),  # not a site value
    ],
)
def test_sec_fetch_consistency(site: str, mode: str, dest: str, user: str, html_accept: bool, expected: bool) -> None:
    """sec-fetch-* values are consistent only as a whole browsers send: complete and agreeing with each other."""
    assert expected == hdr.sec_fetch_consistent(site, mode, dest, user, html_accept)


def test_navigation_headers_on_an_api_call_are_flagged(analyzer: HeaderAnalyzer, uas: UserAgentAnalyzer) -> None:
    """A navigation's sec-fetch-* with an API accept is inconsistent; sent to /api/ it is also an API navigation."""
    pairs = replaced(profile_headers(CHROME_NAV_HTTPS), accept="application/json")
    evidence = analyzer.analyze(make_view(pairs, path="/api/products"), ua_of(uas, pairs))
    assert (hdr.SEC_FETCH_INCONSISTENT, hdr.NAVIGATION_TO_API_PATH) == evidence.reasons


def test_xhr_headers_with_document_dest_are_flagged(analyzer: HeaderAnalyzer, uas: UserAgentAnalyzer) -> None:
    """An XHR (mode cors) whose destination is a document is not something a browser sends."""
    pairs = replaced(profile_headers(CHROME_XHR_HTTPS), sec_fetch_dest="document")
    evidence = analyzer.analyze(make_view(pairs, path="/api/products"), ua_of(uas, pairs))
    assert (False, (hdr.SEC_FETCH_INCONSISTENT,)) == (evidence.sec_fetch_consistent, evidence.reasons)


# --- accept-encoding, accept-language, order -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "secure", "expected"),
    [
        ("gzip, deflate, br, zstd", True, True),
        ("gzip, deflate, br", True, True),
        ("gzip, deflate, br, zstd, dcb, dcz", True, True),
        ("gzip, deflate", False, True),
        ("gzip, deflate, br, zstd", False, True),  # TLS ended at a proxy in front: still a browser
        ("identity;q=1, *;q=0", True, True),  # Chrome's media range requests
        ("gzip, deflate", True, False),  # requests, httpx, aiohttp over HTTPS
        ("br, gzip, deflate", True, False),  # Node's fetch
        ("gzip", False, False),  # Go
        ("identity", False, False),  # wget
    ],
)
def test_browser_like_accept_encoding(value: str, secure: bool, expected: bool) -> None:
    """Browsers list gzip, deflate first, and br too in a secure context; libraries do otherwise."""
    assert expected == hdr.browser_like_encoding(value, secure)


def test_missing_accept_language_is_flagged(analyzer: HeaderAnalyzer, uas: UserAgentAnalyzer) -> None:
    """Every browser sends accept-language; a browser user-agent without it is flagged."""
    pairs = without(profile_headers(CHROME_NAV_HTTPS), "accept-language")
    evidence = analyzer.analyze(make_view(pairs), ua_of(uas, pairs))
    assert (False, (hdr.MISSING_ACCEPT_LANGUAGE,)) == (evidence.has_accept_language, evidence.reasons)


def test_reordered_chrome_headers_are_flagged(analyzer: HeaderAnalyzer, uas: UserAgentAnalyzer) -> None:
    """Chrome's headers in an order no captured Chrome request has (accept-language before user-agent) mismatch."""
    pairs = profile_headers(CHROME_NAV_HTTPS)
    language = next(p for p in pairs if p[0] == "accept-language")
    reordered = [language, *(p for p in pairs if p != language)]
    evidence = analyzer.analyze(make_view(reordered), ua_of(uas, reordered))
    assert (False, (hdr.BROWSER_ORDER_MISMATCH,)) == (evidence.order_matches_claimed_browser, evidence.reasons)


def test_unknown_and_extra_headers_do_not_disturb_the_order(analyzer: HeaderAnalyzer, uas: UserAgentAnalyzer) -> None:
    """Cookies, custom headers and Envoy's own additions are ignored by the order check and the header count."""
    pairs = profile_headers(CHROME_XHR_HTTPS)
    noisy = [
        ("x-forwarded-proto", "https"),
        ("cache-control", "no-cache"),
        *pairs[:3],
        ("x-request-id", "abc"),
        ("x-envoy-expected-rq-timeout-ms", "30000"),
        *pairs[3:],
        ("cookie", "session=1"),
    ]
    evidence = analyzer.analyze(make_view(noisy), ua_of(uas, noisy))
    assert ((), True, len(pairs) + 2) == (
        evidence.reasons,
        evidence.order_matches_claimed_browser,
        evidence.header_count,
    )


def test_safari_gets_no_order_verdict(analyzer: HeaderAnalyzer, uas: UserAgentAnalyzer) -> None:
    """Without Safari profiles, a Safari user-agent gets no order verdict, even when a library's order fits better."""
    pairs = [
        ("accept", "*/*"),
        ("accept-language", "en-GB,en;q=0.9"),
        ("sec-fetch-mode", "cors"),
        ("user-agent", SAFARI_UA),
        ("accept-encoding", "gzip, deflate, br"),
        ("sec-fetch-site", "same-origin"),
        ("sec-fetch-dest", "empty"),
    ]
    evidence = analyzer.analyze(make_view(pairs), ua_of(uas, pairs))
    assert ((), None, False) == (
        evidence.reasons,
        evidence.order_matches_claimed_browser,
        evidence.looks_like_library_order,
    )


def test_cors_preflight_needs_no_client_hints(analyzer: HeaderAnalyzer, uas: UserAgentAnalyzer) -> None:
    """A CORS preflight (OPTIONS with access-control-request-method) is not held to the client-hints rule."""
    pairs = [("access-control-request-method", "POST"), *without(profile_headers(CHROME_XHR_HTTPS), "sec-ch-ua")]
    evidence = analyzer.analyze(make_view(pairs, method="OPTIONS"), ua_of(uas, pairs))
    assert () == evidence.reasons


def test_bad_profile_file_is_rejected(tmp_path: Path) -> None:
    """A profile file of another format version is refused at load, not misread."""
    path = tmp_path / "profiles.json"
    path.write_text(json.dumps({"version": 99, "profiles": []}))
    with pytest.raises(ProfileError, match="version 1"):
        HeaderAnalyzer(path)


# --- TLS ------------------------------------------------------------------------------------------------------------

TOOL_JA4S = sorted(k for k, v in TLS_TABLE.items() if v["category"] == "tool")
BROWSER_HTTPS_PROFILES = [p for p in BROWSER_PROFILES if p["ja4"]]


@pytest.mark.parametrize("ja4", TOOL_JA4S)
def test_tool_ja4_under_a_browser_user_agent(tls_analyzer: TlsAnalyzer, uas: UserAgentAnalyzer, ja4: str) -> None:
    """Every captured tool JA4 is a known tool, and a browser user-agent on it is a mismatch."""
    evidence = tls_analyzer.analyze(ja4, uas.analyze(CHROME_UA))
    assert (TLS_TABLE[ja4]["client"], True, (tls.KNOWN_TOOL, tls.BROWSER_UA_TOOL_FINGERPRINT)) == (
        evidence.tool,
        evidence.tls_tool_mismatch,
        evidence.reasons,
    )


@pytest.mark.parametrize("profile", BROWSER_HTTPS_PROFILES, ids=_id)
def test_browser_ja4_under_its_own_user_agent(
    tls_analyzer: TlsAnalyzer, uas: UserAgentAnalyzer, profile: dict[str, Any]
) -> None:
    """Every captured browser JA4 is known as a browser and raises nothing under the browser's own user-agent."""
    evidence = tls_analyzer.analyze(profile["ja4"], uas.analyze(profile["values"]["user-agent"]))
    assert (True, "browser", ()) == (evidence.known, evidence.category, evidence.reasons)


def test_chromium_ja4_with_another_grease_signature_algorithm(
    tls_analyzer: TlsAnalyzer, uas: UserAgentAnalyzer
) -> None:
    """Chromium's JA4 "c" part changes per connection under Envoy; its a_b prefix still identifies the browser."""
    chromium = CHROME_NAV_HTTPS["ja4"]
    other = chromium.rsplit("_", 1)[0] + "_0123456789ab"
    evidence = tls_analyzer.analyze(other, uas.analyze(CHROME_UA))
    assert (True, False, "browser", ()) == (evidence.known, evidence.exact, evidence.category, evidence.reasons)


def test_tool_ja4_without_sni_is_the_same_tool(tls_analyzer: TlsAnalyzer, uas: UserAgentAnalyzer) -> None:
    """curl connecting to an IP address (no SNI: 'i', one extension fewer) is still curl."""
    curl = next(k for k, v in TLS_TABLE.items() if v["client"] == "curl")
    count = int(curl[6:8]) - 1
    no_sni = f"{curl[:3]}i{curl[4:6]}{count:02d}{curl[8:]}"
    evidence = tls_analyzer.analyze(no_sni, uas.analyze("curl/7.88.1"))
    assert ("curl", True, False, (tls.KNOWN_TOOL,)) == (
        evidence.tool,
        evidence.exact,
        evidence.tls_tool_mismatch,
        evidence.reasons,
    )


def test_unknown_and_missing_ja4(tls_analyzer: TlsAnalyzer, uas: UserAgentAnalyzer) -> None:
    """An unknown JA4 and plain HTTP (no JA4) say nothing."""
    chrome = uas.analyze(CHROME_UA)
    unknown = tls_analyzer.analyze("t13d0000h2_000000000000_000000000000", chrome)
    assert ((False, ()), (False, ())) == (
        (unknown.known, unknown.reasons),
        (tls_analyzer.analyze("", chrome).known, tls_analyzer.analyze("", chrome).reasons),
    )


def test_firefox_ua_on_chromium_tls(tls_analyzer: TlsAnalyzer, uas: UserAgentAnalyzer) -> None:
    """A Firefox user-agent over Chromium's TLS stack is a spoofed user-agent; Edge's over it is not."""
    chromium = CHROME_NAV_HTTPS["ja4"]
    firefox = tls_analyzer.analyze(chromium, uas.analyze(FIREFOX_UA))
    edge = tls_analyzer.analyze(chromium, uas.analyze(EDGE_UA))
    assert ((tls.BROWSER_FAMILY_MISMATCH,), ()) == (firefox.reasons, edge.reasons)


def test_extra_table_extends_and_overrides(tmp_path: Path, uas: UserAgentAnalyzer) -> None:
    """A user's table adds JA4s and prefixes, and overrides the shipped entries."""
    curl = next(k for k, v in TLS_TABLE.items() if v["client"] == "curl")
    extra = tmp_path / "extra.json"
    extra.write_text(
        json.dumps(
            {
                "version": 1,
                "fingerprints": {
                    "t13d1111h2_aaaaaaaaaaaa_bbbbbbbbbbbb": {"client": "my-scraper", "category": "tool"},
                    "t13d2222h1_cccccccccccc": {"client": "in-house-app", "category": "browser", "browser": "chrome"},
                    curl: {"client": "curl (ours)", "category": "tool"},
                },
            }
        )
    )
    analyzer = TlsAnalyzer(extra_paths=[extra])
    chrome = uas.analyze(CHROME_UA)
    assert ("my-scraper", "in-house-app", "curl (ours)") == (
        analyzer.analyze("t13d1111h2_aaaaaaaaaaaa_bbbbbbbbbbbb", chrome).tool,
        analyzer.analyze("t13d2222h1_cccccccccccc_000000000000", chrome).client,
        analyzer.analyze(curl, chrome).tool,
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not valid JSON"),
        ('{"version": 1}', "'fingerprints'"),
        ('{"fingerprints": {"t13d": {"client": "x", "category": "tool"}}}', r"fingerprints\['t13d'\]"),
        ('{"fingerprints": {"a_b_c": {"client": "x", "category": "bot"}}}', r"fingerprints\['a_b_c'\]\.category"),
    ],
)
def test_malformed_extra_table_names_file_and_key(tmp_path: Path, content: str, message: str) -> None:
    """A malformed user table is refused with the file and the key in the message."""
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(FingerprintTableError, match=message) as info:
        TlsAnalyzer(extra_paths=[path])
    assert True is (str(path) in str(info.value))
