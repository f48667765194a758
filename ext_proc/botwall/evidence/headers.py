"""Header-shape evidence: do a request's headers (which ones, in which order, with which values) look like the browser
its user-agent names, or like an HTTP library wearing a browser's user-agent?

The reference is `botwall/data/header_profiles.json`: header names in arrival order, and the values that matter, from
real Chromium (headless, headful under Xvfb, driven by Playwright), Firefox, curl, wget, python-requests, httpx,
aiohttp, Node's fetch and Go's net/http, captured through a real Envoy 1.40 by `tools/capture_profiles.py`.

Secure contexts. Chromium sends client hints (`sec-ch-ua*`) and `sec-fetch-*`, and advertises `br`/`zstd`, only to
potentially trustworthy origins: HTTPS, and `localhost`/127.0.0.0/8/[::1] even over plain HTTP. The captures show it:
Chromium 156 to `http://127.0.0.1` sends client hints, `sec-fetch-*` and `gzip, deflate, br, zstd`; to
`http://shop.test` (a non-loopback name over plain HTTP) none of them and `gzip, deflate`; Firefox 153 does the same
for `sec-fetch-*` and encodings. So over plain HTTP to a non-loopback host their absence is not evidence, and the
checks that need them run only when the request reached a secure context. Behind a proxy that terminates TLS, Envoy
sees plain HTTP: the request counts as secure when `x-forwarded-proto` says `https` (Envoy overwrites that header
unless it trusts the hops in front of it), and otherwise the checks stay lenient. Their presence over plain HTTP is
not flagged for the same reason (the client may have used HTTPS to the proxy).

Header order. A profile matches when the relative order of the header names the request and the profile share agrees
exactly and they share at least two; names no profile knows (cookie, origin, content-type, custom headers) are
ignored, so extra headers and missing optional ones do not matter. The similarity of a request to a profile is then
the Jaccard index of their known names (0 when the order disagrees). `looks_like_library_order`: the best library
profile beats every browser profile and shares at least half the known names. Both order signals are given only for
a browser family that has profiles ("chrome" for every Chromium-engine browser, "firefox"): Safari and the iOS
browsers (all WebKit) have none here, and a WebKit order can resemble a library's.

Cost: the order part depends only on the tuple of known header names and the claimed family, so it is cached (real
traffic repeats a few shapes); value checks are cached per distinct value. Everything else is a few dict lookups.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from botwall.evidence.useragent import UserAgentInfo
from botwall.request import RequestView

PROFILES_VERSION = 1

MISSING_ACCEPT_LANGUAGE = "hdr:missing-accept-language"
CHROME_WITHOUT_CLIENT_HINTS = "hdr:chrome-without-client-hints"
CLIENT_HINTS_VERSION_MISMATCH = "hdr:client-hints-version-mismatch"
CLIENT_HINTS_NON_CHROMIUM = "hdr:client-hints-non-chromium"
BROWSER_WITHOUT_SEC_FETCH = "hdr:browser-without-sec-fetch"
SEC_FETCH_INCONSISTENT = "hdr:sec-fetch-inconsistent"
NAVIGATION_TO_API_PATH = "hdr:navigation-to-api-path"
BROWSER_UA_LIBRARY_ORDER = "hdr:browser-ua-library-order"
BROWSER_ORDER_MISMATCH = "hdr:browser-order-mismatch"
NON_BROWSER_ACCEPT_ENCODING = "hdr:non-browser-accept-encoding"

# What Envoy adds before ext_proc sees the request (and what it turns into :authority): never the client's.
_ENVOY_ADDED = frozenset({"x-request-id", "host"})
_ENVOY_PREFIXES = ("x-forwarded-", "x-envoy-")
# First versions that send these by default: sec-fetch-* (Chrome 76, Firefox 90), client hints (Chrome 89).
_SEC_FETCH_SINCE = {"chrome": 76, "firefox": 90}
_CLIENT_HINTS_SINCE = 89
_WEBKIT_ONLY_OS = frozenset({"iOS", "iPadOS"})
_FETCH_SITES = frozenset({"cross-site", "same-origin", "same-site", "none"})
# Destinations that are navigations. mode=navigate must come with one; a document-like one only with navigate.
_NAVIGATION_DESTS = frozenset({"document", "iframe", "frame", "embed", "object", "fencedframe"})
_DOCUMENT_DESTS = frozenset({"document", "iframe", "frame"})
API_PATH = re.compile(r"(?:^|/)(?:api|graphql)(?:/|$)|\.json$", re.IGNORECASE)
_BRAND = re.compile(r'"([^"]{0,128})"\s*;\s*v\s*=\s*"([0-9]{1,6})', re.ASCII)
_GREASE_BRAND = re.compile(r"^Not.A.Brand$")
# Encodings a browser may list after "gzip, deflate[, br]": zstd, and the compression-dictionary transports.
_EXTRA_ENCODINGS = frozenset({"br", "zstd", "dcb", "dcz"})
_CHROME_MEDIA_ENCODING = "identity;q=1, *;q=0"  # Chrome's audio/video range requests
_LOOPBACK_HOSTS = frozenset({"localhost", "[::1]", "::1"})
# A library order must cover at least half the request's known names: two names in a library's order (curl's
# user-agent then accept) are also in every browser's, so a small overlap proves nothing.
_LIBRARY_MIN_SIMILARITY = 0.5


class ProfileError(ValueError):
    """The header-profile file is unreadable or malformed."""


@dataclass(frozen=True, slots=True)
class HeaderEvidence:
    """What the header shape says about the client. Tri-state fields are None when there is nothing to compare."""

    header_count: int  # headers the client sent (Envoy's additions left out)
    secure_context: bool  # HTTPS (or x-forwarded-proto https) or a loopback host: browsers send everything there
    has_accept_language: bool
    has_sec_ch_ua: bool
    has_sec_fetch: bool
    sec_ch_ua_major_matches: bool | None  # a brand's major equals the user-agent's; None without both
    sec_fetch_consistent: bool  # sec-fetch-* complete and coherent with each other and with accept (or absent)
    api_path_navigation: bool  # a document navigation to an API-looking path (/api/, /graphql, .json)
    order_matches_claimed_browser: bool | None  # None: no browser claimed, no profiles for it, or < 2 known names
    looks_like_library_order: bool  # a library's profile fits the order better than any browser's
    closest_profile: str  # the client of the best-fitting captured profile, "" when none fits
    accept_encoding_browser_like: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Profile:
    client: str
    family: str  # "chrome", "firefox"; "" for libraries
    names: tuple[str, ...]
    index: dict[str, int]


def _load(path: Path | None) -> dict[str, Any]:
    try:
        if path is None:
            text = resources.files("botwall").joinpath("data", "header_profiles.json").read_text(encoding="utf-8")
        else:
            text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, ValueError) as exc:
        raise ProfileError(f"header profiles {path or 'botwall/data/header_profiles.json'}: {exc}") from exc
    if (
        not isinstance(data, dict)
        or data.get("version") != PROFILES_VERSION
        or not isinstance(data.get("profiles"), list)
    ):
        raise ProfileError(f"header profiles: expected version {PROFILES_VERSION} with a 'profiles' list")
    return data


def _profiles(data: dict[str, Any]) -> tuple[tuple[_Profile, ...], tuple[_Profile, ...]]:
    """Browser and library profiles, one per distinct header order (the first client seen names it)."""
    browsers: dict[tuple[str, tuple[str, ...]], _Profile] = {}
    libraries: dict[tuple[str, ...], _Profile] = {}
    for raw in data["profiles"]:
        names = tuple(dict.fromkeys(raw["headers"]))  # first occurrence of each name, in order
        index = {name: i for i, name in enumerate(names)}
        if raw["category"] == "browser":
            key = (raw["browser"], names)
            browsers.setdefault(key, _Profile(raw["client"], raw["browser"], names, index))
        else:
            libraries.setdefault(names, _Profile(raw["client"], "", names, index))
    return tuple(browsers.values()), tuple(libraries.values())


def _similarity(names: tuple[str, ...], profile: _Profile) -> float:
    """Jaccard index of the known names when their relative order agrees with the profile's (>= 2 shared), else 0."""
    index = profile.index
    last = -1
    common = 0
    for name in names:
        position = index.get(name)
        if position is None:
            continue
        if position < last:
            return 0.0
        last = position
        common += 1
    if common < 2:
        return 0.0
    return common / (len(names) + len(profile.names) - common)


@lru_cache(maxsize=1024)
def brand_majors(sec_ch_ua: str) -> frozenset[int]:
    """Major versions of the real brands in a `sec-ch-ua` value (the GREASE "Not.A.Brand" left out)."""
    return frozenset(int(v) for brand, v in _BRAND.findall(sec_ch_ua) if not _GREASE_BRAND.match(brand))


@lru_cache(maxsize=1024)
def browser_like_encoding(value: str, secure: bool) -> bool:
    """Whether an accept-encoding value is one a browser sends: "gzip, deflate, br[, zstd...]" to a secure context,
    "gzip, deflate[, ...]" otherwise (Chromium and Firefox drop br and zstd over plain HTTP)."""
    if value == _CHROME_MEDIA_ENCODING:
        return True
    tokens = [token.strip() for token in value.split(",")]
    head = ["gzip", "deflate", "br"] if secure else ["gzip", "deflate"]
    return tokens[: len(head)] == head and _EXTRA_ENCODINGS.issuperset(tokens[len(head) :])


@lru_cache(maxsize=1024)
def sec_fetch_consistent(site: str, mode: str, dest: str, user: str, html_accept: bool) -> bool:
    """Whether the sec-fetch-* values could come from one browser request (all absent counts as consistent)."""
    if not (site or mode or dest or user):
        return True
    if not (site and mode and dest):
        return False  # browsers send site, mode and dest together; Node's fetch sends sec-fetch-mode alone
    if site not in _FETCH_SITES:
        return False
    if user and (user != "?1" or mode != "navigate"):
        return False  # sec-fetch-user is only ever "?1", on navigations a user started
    if mode == "navigate":
        # A navigation fetches a document (or frame...), and browsers then always ask for text/html first.
        return dest in _NAVIGATION_DESTS and (dest not in _DOCUMENT_DESTS or html_accept)
    return dest not in _DOCUMENT_DESTS


def _host(authority: str) -> str:
    if authority.startswith("["):
        return authority[: authority.find("]") + 1]
    return authority.rsplit(":", 1)[0] if ":" in authority else authority


def secure_context(view: RequestView) -> bool:
    """Whether a browser would treat the request's origin as potentially trustworthy (and send everything)."""
    if view.scheme == "https" or view.header("x-forwarded-proto").split(",", 1)[0].strip() == "https":
        return True
    host = _host(view.authority).lower()
    return host in _LOOPBACK_HOSTS or host.startswith("127.") or host.endswith(".localhost")


def claimed_family(ua: UserAgentInfo) -> str:
    """The profile family a user-agent claims: "chrome" for every Chromium-engine browser, "firefox", or the raw
    browser name (no profiles) for WebKit browsers, iOS ones included, and pre-Chromium Edge."""
    if ua.chromium:
        return "" if ua.browser == "edge" and 0 < ua.major < 79 else "chrome"
    if ua.browser == "firefox" and ua.os in _WEBKIT_ONLY_OS:
        return "firefox-ios"
    return ua.browser


class HeaderAnalyzer:
    """Compares a request's headers with the captured browser and library profiles."""

    def __init__(self, profiles_path: Path | None = None, cache_size: int = 8192) -> None:
        data = _load(profiles_path)
        self._browsers, self._libraries = _profiles(data)
        self._families = frozenset(p.family for p in self._browsers)
        self._known = frozenset(name for p in (*self._browsers, *self._libraries) for name in p.names)
        self._shape = lru_cache(maxsize=cache_size)(self._shape_uncached)

    @property
    def families(self) -> frozenset[str]:
        """Browser families with reference profiles."""
        return self._families

    def _shape_uncached(self, names: tuple[str, ...], family: str) -> tuple[bool | None, bool, str]:
        """(order matches the family, library order, closest profile's client) for one shape of known names."""
        profiled = family in self._families
        matches: bool | None = (False if len(names) >= 2 else None) if profiled else None
        best_browser = best_library = 0.0
        closest = ""
        for profile in self._browsers:
            score = _similarity(names, profile)
            if score > 0.0 and profile.family == family:
                matches = True
            if score > best_browser:
                best_browser = score
                closest = profile.client
        for profile in self._libraries:
            score = _similarity(names, profile)
            if score > best_library:
                best_library = score
        library = best_library >= _LIBRARY_MIN_SIMILARITY and best_library > best_browser
        if library:
            closest = next(p.client for p in self._libraries if _similarity(names, p) == best_library)
        # For a browser without profiles (Safari...), a library may fit better only because its real order is unknown.
        if family and not profiled:
            library = False
        return matches, library, closest

    def analyze(self, view: RequestView, ua: UserAgentInfo) -> HeaderEvidence:
        """Evidence from the request's headers, judged against what its user-agent claims."""
        known = self._known
        names: list[str] = []
        count = 0
        for name, _ in view.headers:
            if name in known:
                count += 1
                if name not in names:
                    names.append(name)
            elif name not in _ENVOY_ADDED and not name.startswith(_ENVOY_PREFIXES):
                count += 1
        by_name = view.by_name
        secure = secure_context(view)
        family = claimed_family(ua)
        matches, library, closest = self._shape(tuple(names), family)

        has_language = "accept-language" in by_name
        sec_ch_ua = by_name.get("sec-ch-ua", "")
        site = by_name.get("sec-fetch-site", "")
        mode = by_name.get("sec-fetch-mode", "")
        dest = by_name.get("sec-fetch-dest", "")
        user = by_name.get("sec-fetch-user", "")
        has_sec_fetch = bool(site or mode or dest or user)
        fetch_ok = sec_fetch_consistent(site, mode, dest, user, "text/html" in by_name.get("accept", ""))
        api_navigation = mode == "navigate" and dest == "document" and API_PATH.search(view.path) is not None
        encoding = by_name.get("accept-encoding")
        encoding_ok = encoding is not None and ("range" in by_name or browser_like_encoding(encoding, secure))

        hints_match: bool | None = None
        if sec_ch_ua and ua.browser:
            if not ua.chromium:
                hints_match = False  # Firefox and WebKit never send client hints
            elif ua.major > 0:
                hints_match = ua.major in brand_majors(sec_ch_ua)

        reasons: list[str] = []
        if ua.browser:
            if not has_language:
                reasons.append(MISSING_ACCEPT_LANGUAGE)
            # Client hints and sec-fetch-* are due only in a secure context (HTTPS or loopback, even over plain
            # HTTP): Chromium sends neither to a plain-HTTP remote host, so there their absence is no evidence.
            # A CORS preflight is left out: it is not the request itself and carries few headers.
            preflight = view.method == "OPTIONS" and "access-control-request-method" in by_name
            if family == "chrome" and secure and not sec_ch_ua and ua.major >= _CLIENT_HINTS_SINCE and not preflight:
                reasons.append(CHROME_WITHOUT_CLIENT_HINTS)
            if hints_match is False:
                reasons.append(CLIENT_HINTS_VERSION_MISMATCH if ua.chromium else CLIENT_HINTS_NON_CHROMIUM)
            since = _SEC_FETCH_SINCE.get(family)
            if secure and not has_sec_fetch and since is not None and ua.major >= since:
                reasons.append(BROWSER_WITHOUT_SEC_FETCH)
            if not encoding_ok:
                reasons.append(NON_BROWSER_ACCEPT_ENCODING)
            if library:
                reasons.append(BROWSER_UA_LIBRARY_ORDER)
            elif matches is False:
                reasons.append(BROWSER_ORDER_MISMATCH)
        if not fetch_ok:
            reasons.append(SEC_FETCH_INCONSISTENT)
        if api_navigation:
            reasons.append(NAVIGATION_TO_API_PATH)

        return HeaderEvidence(
            header_count=count,
            secure_context=secure,
            has_accept_language=has_language,
            has_sec_ch_ua=bool(sec_ch_ua),
            has_sec_fetch=has_sec_fetch,
            sec_ch_ua_major_matches=hints_match,
            sec_fetch_consistent=fetch_ok,
            api_path_navigation=api_navigation,
            order_matches_claimed_browser=matches if ua.browser else None,
            looks_like_library_order=library,
            closest_profile=closest,
            accept_encoding_browser_like=encoding_ok,
            reasons=tuple(reasons),
        )


def header_reasons(view: RequestView) -> list[str]:
    """Header reasons the shape analyzer leaves to us: a value over its bound (no real client sends one), and a
    missing `accept` (every real browser and most libraries send it)."""
    out = ["hdr:malformed-value"] if view.oversized else []
    if "accept" not in view.by_name:
        out.append("hdr:no-accept")
    return out
