"""Client software for the simulator: real header sets, in the order each client sends them, and their JA4s.

Browser and tool header orders come from `botwall/data/header_profiles.json` (captured from real Chromium, Firefox
and HTTP libraries through a real Envoy by `tools/capture_profiles.py`) when that file is present, else from the
copy of the same captures in `_FALLBACK` below. Platform variants (Chrome on Windows, macOS and Android; Edge) keep
the captured Chromium order and change only the values that differ between platforms (user-agent and the client
hints). Safari was not captured here: its order is hand-written from public captures and marked so.

People who type an address without `https://` (or follow an old `http://` link) browse over plain HTTP: outside a
secure context a browser sends no client hints and no `sec-fetch-*`, offers no brotli or zstd, speaks HTTP/1.1 (so
Chromium sends no `priority` either) and has no TLS, so no JA4. `plain_http` gives a browser's plain-HTTP variant from
the captures of http://shop.test (Safari's derived from its hand-written order).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

# JA4s captured by tools/capture_profiles.py (botwall/data/tls_fingerprints.json). Safari, the crawlers and the
# stuffing toolkits were not captured: theirs are stand-ins of the right shape, so they count as "some TLS client".
JA4_CHROME = "t13d1517h2_8daaf6152771_f10ceb9fcfd7"
JA4_CHROME_HEADLESS = "t13d1517h2_8daaf6152771_43736b97bd57"
JA4_PLAYWRIGHT = "t13d1517h2_8daaf6152771_0d789d2519e1"
JA4_FIREFOX = "t13d1617h2_86a278354501_3cbfd9057e0d"
JA4_SAFARI = "t13d2014h2_a09f3c656075_14788d8d241b"  # stand-in
JA4_TOOLS = {
    "curl": "t13d3112h2_e8f1e7e78f70_b26ce05bbdd6",
    "wget": "t13d291300_723694b0fccc_899037bd0b8c",
    "python-requests": "t13d1812h1_85036bcba153_b26ce05bbdd6",
    "python-httpx": "t13d1812h1_85036bcba153_d41ae481755e",
    "python-aiohttp": "t13d1812h1_85036bcba153_d41ae481755e",
    "node-fetch": "t13d5911h1_a33745022dd6_1f22a2ca17c4",
    "go-net-http": "t13d1910h2_9dc949149365_97f8aa674fd9",
}
JA4_CRAWLER = "t13d1011h2_61a7ad8aa9b6_3d0ddd1e2e5b"  # stand-in

# Header name -> value for the headers the capture records without a value.
_DEFAULT_VALUES = {
    "upgrade-insecure-requests": "1",
    "te": "trailers",
}

# The captured orders (https, secure context), trimmed to what the simulator uses; same content as the JSON file.
_FALLBACK: dict[str, dict[str, list[tuple[str, str]]]] = {
    "chromium-headful": {
        "navigation": [
            ("sec-ch-ua", '"Not:A-Brand";v="8", "Chromium";v="156"'),
            ("sec-ch-ua-mobile", "?0"),
            ("sec-ch-ua-platform", '"Linux"'),
            ("upgrade-insecure-requests", "1"),
            (
                "user-agent",
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36",
            ),
            (
                "accept",
                "text/html,application/xhtml+xml,application/xml;q=0.9,image/jxl,image/avif,image/webp,image/apng,"
                "*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
            ),
            ("sec-fetch-site", "none"),
            ("sec-fetch-mode", "navigate"),
            ("sec-fetch-user", "?1"),
            ("sec-fetch-dest", "document"),
            ("accept-encoding", "gzip, deflate, br, zstd"),
            ("accept-language", "en-US,en;q=0.9"),
            ("priority", ""),
        ],
        "xhr": [
            ("sec-ch-ua-platform", '"Linux"'),
            (
                "user-agent",
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36",
            ),
            ("sec-ch-ua", '"Not:A-Brand";v="8", "Chromium";v="156"'),
            ("sec-ch-ua-mobile", "?0"),
            ("accept", "*/*"),
            ("sec-fetch-site", "same-origin"),
            ("sec-fetch-mode", "cors"),
            ("sec-fetch-dest", "empty"),
            ("referer", ""),
            ("accept-encoding", "gzip, deflate, br, zstd"),
            ("accept-language", "en-US,en;q=0.9"),
            ("priority", ""),
        ],
    },
    "firefox-headless": {
        "navigation": [
            ("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0"),
            ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            ("accept-language", "en-US,en;q=0.9"),
            ("accept-encoding", "gzip, deflate, br, zstd"),
            ("upgrade-insecure-requests", "1"),
            ("sec-fetch-dest", "document"),
            ("sec-fetch-mode", "navigate"),
            ("sec-fetch-site", "none"),
            ("sec-fetch-user", "?1"),
            ("priority", ""),
            ("te", "trailers"),
        ],
        "xhr": [
            ("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0"),
            ("accept", "*/*"),
            ("accept-language", "en-US,en;q=0.9"),
            ("accept-encoding", "gzip, deflate, br, zstd"),
            ("referer", ""),
            ("sec-fetch-dest", "empty"),
            ("sec-fetch-mode", "cors"),
            ("sec-fetch-site", "same-origin"),
            ("priority", ""),
            ("te", "trailers"),
        ],
    },
    "curl": {"plain": [("user-agent", "curl/7.88.1"), ("accept", "*/*")]},
    "wget": {"plain": [("user-agent", "Wget/1.21.3"), ("accept", "*/*"), ("accept-encoding", "identity")]},
    "python-requests": {
        "plain": [("user-agent", "python-requests/2.34.2"), ("accept-encoding", "gzip, deflate"), ("accept", "*/*")]
    },
    "python-httpx": {
        "plain": [("accept", "*/*"), ("accept-encoding", "gzip, deflate"), ("user-agent", "python-httpx/0.28.1")]
    },
    "python-aiohttp": {
        "plain": [("accept", "*/*"), ("accept-encoding", "gzip, deflate"), ("user-agent", "Python/3.11 aiohttp/3.14.5")]
    },
    "node-fetch": {
        "plain": [
            ("accept", "*/*"),
            ("accept-language", "*"),
            ("sec-fetch-mode", "cors"),
            ("user-agent", "node"),
            ("accept-encoding", "br, gzip, deflate"),
        ]
    },
    "go-net-http": {"plain": [("accept-encoding", "gzip"), ("user-agent", "Go-http-client/2.0")]},
}
# The headless captures differ from the headful one only in the user-agent token (and the JA4).
_FALLBACK["chromium-headless"] = {
    kind: [(n, v.replace("Chrome/", "HeadlessChrome/") if n == "user-agent" else v) for n, v in headers]
    for kind, headers in _FALLBACK["chromium-headful"].items()
}

# The captured orders over plain HTTP outside a secure context (http://shop.test, HTTP/1.1), same content as the JSON
# file. Firefox keeps `priority` on HTTP/1.1; Chromium does not.
_FALLBACK_PLAIN_HTTP: dict[str, dict[str, list[tuple[str, str]]]] = {
    "chromium-headful": {
        "navigation": [
            ("upgrade-insecure-requests", "1"),
            (
                "user-agent",
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36",
            ),
            (
                "accept",
                "text/html,application/xhtml+xml,application/xml;q=0.9,image/jxl,image/avif,image/webp,image/apng,"
                "*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
            ),
            ("accept-encoding", "gzip, deflate"),
            ("accept-language", "en-US,en;q=0.9"),
        ],
        "xhr": [
            (
                "user-agent",
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36",
            ),
            ("accept", "*/*"),
            ("referer", ""),
            ("accept-encoding", "gzip, deflate"),
            ("accept-language", "en-US,en;q=0.9"),
        ],
    },
    "firefox-headless": {
        "navigation": [
            ("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0"),
            ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            ("accept-language", "en-US,en;q=0.9"),
            ("accept-encoding", "gzip, deflate"),
            ("upgrade-insecure-requests", "1"),
            ("priority", ""),
        ],
        "xhr": [
            ("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0"),
            ("accept", "*/*"),
            ("accept-language", "en-US,en;q=0.9"),
            ("accept-encoding", "gzip, deflate"),
            ("referer", ""),
            ("priority", ""),
        ],
    },
}
_FALLBACK_PLAIN_HTTP["chromium-headless"] = {
    kind: [(n, v.replace("Chrome/", "HeadlessChrome/") if n == "user-agent" else v) for n, v in headers]
    for kind, headers in _FALLBACK_PLAIN_HTTP["chromium-headful"].items()
}

# Safari 18/26 on macOS and iOS: not captured here, order from public HTTP/2 captures.
_SAFARI_NAVIGATION = [
    ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("sec-fetch-site", "none"),
    ("sec-fetch-dest", "document"),
    ("accept-language", "en-US,en;q=0.9"),
    ("sec-fetch-mode", "navigate"),
    ("user-agent", ""),
    ("accept-encoding", "gzip, deflate, br"),
    ("priority", "u=0, i"),
]
_SAFARI_XHR = [
    ("accept", "*/*"),
    ("sec-fetch-site", "same-origin"),
    ("sec-fetch-dest", "empty"),
    ("accept-language", "en-US,en;q=0.9"),
    ("sec-fetch-mode", "cors"),
    ("user-agent", ""),
    ("referer", ""),
    ("accept-encoding", "gzip, deflate, br"),
    ("priority", "u=3, i"),
]


@lru_cache(maxsize=2)
def captured_profiles(transport: str = "https") -> dict[str, dict[str, list[tuple[str, str]]]]:
    """Client -> request kind -> [(header, value)] from the capture file, else the fallback copy.

    `transport` "https": the https profiles. "http": the browsers' plain-HTTP profiles outside a secure context (the
    captures over http://127.0.0.1 are left out: loopback is a secure context, which no visitor from outside is in).
    """
    fallback = _FALLBACK if transport == "https" else _FALLBACK_PLAIN_HTTP
    try:
        text = resources.files("botwall").joinpath("data/header_profiles.json").read_text(encoding="utf-8")
        data: dict[str, Any] = json.loads(text)
    except (OSError, ValueError):
        return fallback
    out: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for profile in data.get("profiles", []):
        if profile.get("transport") != transport or (transport == "http" and profile.get("secure_context", True)):
            continue
        values = profile.get("values", {})
        headers = [(name, values.get(name) or _DEFAULT_VALUES.get(name, "")) for name in profile["headers"]]
        out.setdefault(profile["client"], {})[profile["kind"]] = headers
    for client, kinds in fallback.items():
        out.setdefault(client, kinds)
    return out


@dataclass(frozen=True, slots=True)
class Client:
    """One client configuration: the header templates it sends per request kind, and its TLS fingerprint."""

    name: str
    navigation: tuple[tuple[str, str], ...]
    xhr: tuple[tuple[str, str], ...]
    ja4: str
    family: str  # "chrome", "firefox", "safari" for browsers; the tool's name otherwise
    scheme: str = "https"  # "http": a browser browsing over plain HTTP (`plain_http`)

    def headers(
        self,
        kind: str,
        *,
        referer: str = "",
        cookie: str = "",
        content_type: str = "",
        origin: str = "",
        fetch_site: str = "",
    ) -> list[tuple[str, str]]:
        """Headers for one request: `kind` is navigation, xhr, asset, form (a POSTed form) or json (a POSTed XHR)."""
        template = self.xhr if kind in ("xhr", "asset", "json") else self.navigation
        out: list[tuple[str, str]] = []
        for name, value in template:
            if name == "referer":
                if referer:
                    out.append((name, referer))
                continue
            if name == "priority":
                value = value or _priority(self.family, kind)
            elif name == "sec-fetch-site":
                value = fetch_site or ("same-origin" if referer else value)
            elif kind == "asset":
                value = _asset_value(name, value)
            if name == "sec-fetch-user" and kind not in ("navigation", "form"):
                continue
            out.append((name, value))
        if content_type:
            out.append(("content-type", content_type))
        if origin:
            out.append(("origin", origin))
        if referer and not any(n == "referer" for n, _ in out):
            out.append(("referer", referer))
        if cookie:
            at = next((i for i, (n, _) in enumerate(out) if n in ("priority", "te")), len(out))
            out.insert(at, ("cookie", cookie))
        return out


def _priority(family: str, kind: str) -> str:
    if family == "firefox":
        return "u=0, i" if kind in ("navigation", "form") else "u=4"
    return "u=0, i" if kind in ("navigation", "form") else "u=1, i"


def _asset_value(name: str, value: str) -> str:
    if name == "accept":
        return "text/css,*/*;q=0.1"
    if name == "sec-fetch-mode":
        return "no-cors"
    if name == "sec-fetch-dest":
        return "style"
    return value


def _replace(headers: list[tuple[str, str]], values: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((n, values.get(n, v)) for n, v in headers)


# Platform -> (user-agent template with {v} for the major version, sec-ch-ua-platform, sec-ch-ua-mobile).
_CHROME_PLATFORMS = {
    "windows": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 "
        "Safari/537.36",
        '"Windows"',
        "?0",
    ),
    "mac": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 "
        "Safari/537.36",
        '"macOS"',
        "?0",
    ),
    "linux": (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
        '"Linux"',
        "?0",
    ),
    "android": (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Mobile "
        "Safari/537.36",
        '"Android"',
        "?1",
    ),
}
_FIREFOX_PLATFORMS = {
    "windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "mac": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "linux": "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
}
_SAFARI_PLATFORMS = {
    "mac": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v}.1 "
    "Safari/605.1.15",
    "ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/{v}.1 Mobile/15E148 Safari/604.1",
}
LANGUAGES = (
    "en-US,en;q=0.9",
    "en-GB,en;q=0.9",
    "en-US,en;q=0.9",
    "de-DE,de;q=0.9,en;q=0.8",
    "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7",
    "es-ES,es;q=0.9",
    "pt-BR,pt;q=0.9,en-US;q=0.8,en;q=0.7",
    "nl-NL,nl;q=0.9,en;q=0.8",
)


def chrome(platform: str, major: int, language: str, *, edge: bool = False, headless: bool = False) -> Client:
    """Chrome (or Edge) on a platform: the captured Chromium order with that platform's values."""
    base = captured_profiles()["chromium-headless" if headless else "chromium-headful"]
    ua, platform_hint, mobile = _CHROME_PLATFORMS[platform]
    ua = ua.format(v=major)
    brands = f'"Not:A-Brand";v="8", "Chromium";v="{major}", "Google Chrome";v="{major}"'
    if edge:
        ua += f" Edg/{major}.0.0.0"
        brands = f'"Chromium";v="{major}", "Not:A-Brand";v="8", "Microsoft Edge";v="{major}"'
    if headless:
        ua = ua.replace("Chrome/", "HeadlessChrome/")
        brands = f'"Not:A-Brand";v="8", "Chromium";v="{major}"'
    values = {
        "user-agent": ua,
        "sec-ch-ua": brands,
        "sec-ch-ua-platform": platform_hint,
        "sec-ch-ua-mobile": mobile,
        "accept-language": language,
    }
    name = ("edge" if edge else "chrome") + f"-{platform}" + ("-headless" if headless else "")
    return Client(
        name,
        _replace(base["navigation"], values),
        _replace(base["xhr"], values),
        JA4_CHROME_HEADLESS if headless else JA4_CHROME,
        "chrome",
    )


def firefox(platform: str, major: int, language: str) -> Client:
    """Firefox on a desktop platform: the captured Firefox order."""
    base = captured_profiles()["firefox-headless"]
    values = {"user-agent": _FIREFOX_PLATFORMS[platform].format(v=major), "accept-language": language}
    return Client(
        f"firefox-{platform}",
        _replace(base["navigation"], values),
        _replace(base["xhr"], values),
        JA4_FIREFOX,
        "firefox",
    )


def safari(platform: str, major: int, language: str) -> Client:
    """Safari on macOS or iOS (hand-written order, see the module docstring)."""
    values = {"user-agent": _SAFARI_PLATFORMS[platform].format(v=major), "accept-language": language}
    return Client(
        f"safari-{platform}",
        _replace(_SAFARI_NAVIGATION, values),
        _replace(_SAFARI_XHR, values),
        JA4_SAFARI,
        "safari",
    )


# What only a secure context (or HTTP/2) sends: left out of Safari's plain-HTTP order.
_SECURE_ONLY = ("sec-fetch-", "sec-ch-", "priority")


def plain_http(client: Client) -> Client:
    """The same browser (user-agent and language) browsing over plain HTTP: the captured http://shop.test order of its
    engine, or Safari's order without what only a secure context sends, `gzip, deflate` and no JA4."""
    if client.scheme == "http":
        return client
    values = {
        "user-agent": user_agent(client),
        "accept-language": next((v for n, v in client.navigation if n == "accept-language"), ""),
    }
    if client.family == "safari":
        navigation: list[tuple[str, str]] = [(n, v) for n, v in client.navigation if not n.startswith(_SECURE_ONLY)]
        xhr: list[tuple[str, str]] = [(n, v) for n, v in client.xhr if not n.startswith(_SECURE_ONLY)]
        values["accept-encoding"] = "gzip, deflate"
    elif client.family in ("chrome", "firefox"):
        engine = "firefox-headless" if client.family == "firefox" else "chromium-headful"
        base = captured_profiles("http")[engine]
        navigation, xhr = base["navigation"], base["xhr"]
    else:
        raise ValueError(f"{client.name} is not a browser")
    return Client(f"{client.name}-http", _replace(navigation, values), _replace(xhr, values), "", client.family, "http")


def random_browser(rng: random.Random, mobile: bool = False) -> Client:
    """A browser as people use them: Chrome most, then Safari, Edge and Firefox, recent versions."""
    language = rng.choice(LANGUAGES)
    roll = rng.random()
    if mobile:
        if roll < 0.55:
            return chrome("android", rng.choice((154, 155, 156, 156)), language)
        return safari("ios", rng.choice((18, 26, 26)), language)
    platform = rng.choices(("windows", "mac", "linux"), (0.65, 0.28, 0.07))[0]
    if roll < 0.62:
        return chrome(platform, rng.choice((154, 155, 156, 156, 156)), language)
    if roll < 0.74:
        return chrome("windows", rng.choice((155, 156)), language, edge=True)
    if roll < 0.86 and platform != "linux":
        return (
            safari("mac", rng.choice((18, 26, 26)), language) if platform == "mac" else firefox(platform, 153, language)
        )
    return firefox(platform, rng.choice((152, 153)), language)


def popular_browser() -> Client:
    """The single most common desktop build among the simulator's people: Chrome 156 on Windows in US English.

    `random_browser` hands it to about one desktop visitor in sixteen (no other build comes close); an attacker who
    clones it exactly (headers, their order and values, client hints and JA4) looks like all of those people.
    """
    return chrome("windows", 156, "en-US,en;q=0.9")


def tool(name: str) -> Client:
    """An HTTP library or command-line tool exactly as captured (curl, wget, python-requests, go-net-http...)."""
    headers = tuple(captured_profiles()[name]["plain"])
    return Client(name, headers, headers, JA4_TOOLS.get(name, ""), name)


def bare_script() -> Client:
    """A hand-written client on a raw socket or a low-level HTTP API: no user-agent, hardly any header."""
    headers = (("accept", "*/*"),)
    return Client("bare-script", headers, headers, "", "bare")


def user_agent(client: Client) -> str:
    """The user-agent a client sends."""
    return next((v for n, v in client.navigation if n == "user-agent"), "")


def with_user_agent(client: Client, ua: str, name: str = "") -> Client:
    """The same client claiming another user-agent (a stuffing toolkit's UA setting)."""
    nav = tuple((n, ua if n == "user-agent" else v) for n, v in client.navigation)
    xhr = tuple((n, ua if n == "user-agent" else v) for n, v in client.xhr)
    if not any(n == "user-agent" for n, _ in nav):
        nav, xhr = (("user-agent", ua), *nav), (("user-agent", ua), *xhr)
    return Client(name or client.name, nav, xhr, client.ja4, client.family, client.scheme)


GOOGLEBOT_UAS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
)
BINGBOT_UA = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"


def crawler(ua: str, sender: str) -> Client:
    """A search-engine crawler: its UA, a `from` address, no language, no client hints."""
    headers = (
        ("accept", "text/html,application/xhtml+xml,application/signed-exchange;v=b3,application/xml;q=0.9,*/*;q=0.8"),
        ("from", sender),
        ("user-agent", ua),
        ("accept-encoding", "gzip, deflate, br"),
    )
    return Client("crawler", headers, headers, JA4_CRAWLER, "crawler")


# Stuffing toolkits (OpenBullet/SentryMBA configs) send a browser UA over a library's header set.
STUFFER_UAS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 "
    "Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Mobile "
    "Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 "
    "Edg/120.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 "
    "Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36",
)


def stuffing_kit(rng: random.Random, ua: str = "") -> Client:
    """A stuffing toolkit's request shape: a browser UA on top of a few library-style headers."""
    language = rng.choice(("en-US,en;q=0.9", "en-US,en;q=0.5", ""))
    headers: list[tuple[str, str]] = [
        ("user-agent", ua or rng.choice(STUFFER_UAS)),
        ("accept", rng.choice(("*/*", "application/json, text/plain, */*", "text/html,application/xhtml+xml,*/*"))),
    ]
    if language:
        headers.append(("accept-language", language))
    headers.append(("accept-encoding", rng.choice(("gzip, deflate", "gzip, deflate, br"))))
    return Client("stuffing-kit", tuple(headers), tuple(headers), rng.choice(tuple(JA4_TOOLS.values())), "kit")
