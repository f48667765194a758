"""Client software: real browser builds (TLS via curl_cffi impersonation, header sets written out per request kind)
and the declared or disguised non-browser clients.

Every header set here is written from public knowledge of what each client sends (browser devtools and packet
captures, curl_cffi's captured defaults, crawler operators' documentation), never from botwall's code or data. A
browser sends a different header set for each kind of request, so the set depends on the request:

- ``navigate``: a top-level page load (typed, link click, search result, redirect after a form post);
- ``reload``: the navigation a ``<meta http-equiv=refresh>`` makes (no user activation);
- ``form``: the login form's POST (a navigation with ``origin`` and ``content-type``);
- ``style``, ``script``, ``image``, ``favicon``: subresources a page pulls in;
- ``fetch``, ``fetch-json-post``: what a page script's ``fetch()`` sends (only bots use it against this shop: its
  pages call no API).

Over plain HTTP a browser is not in a secure context: no client hints (``sec-ch-ua*``), no fetch metadata
(``sec-fetch-*``), no ``priority``, and it offers only ``gzip, deflate``. Header names over HTTP/1.1 are written in
the case browsers use; Envoy lowercases them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Literal

Kind = Literal["navigate", "reload", "form", "style", "script", "image", "favicon", "fetch", "fetch-json-post"]
Site = Literal["none", "same-origin", "cross-site"]

_NAV_KINDS = ("navigate", "reload", "form")

CHROME_NAV_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,"
    "application/signed-exchange;v=b3;q=0.7"
)
CHROME_IMG_ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
FIREFOX_NAV_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
FIREFOX_IMG_ACCEPT = "image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5"
SAFARI_NAV_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SAFARI_IMG_ACCEPT = (
    "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,"
    "image/*;q=0.8,*/*;q=0.5"
)
CSS_ACCEPT = "text/css,*/*;q=0.1"


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What a header set depends on besides the client: the request's kind and where it comes from."""

    kind: Kind
    secure: bool
    origin: str  # scheme://host:port of the shop
    referer: str | None = None
    site: Site = "none"
    user_activated: bool = True
    cookie: str | None = None
    content_type: str | None = None
    accept_language: str = "en-US,en;q=0.9"


class Client:
    """A piece of client software: its curl_cffi TLS/HTTP2 target and its header sets."""

    key: str
    family: str
    target: str | None  # curl_cffi impersonation target; None: curl's own TLS (a library or a crawler)
    favicon: bool = False  # requests /favicon.ico after the first page, as desktop browsers do

    def headers(self, ctx: RequestContext) -> list[tuple[str, str]]:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Chromium(Client):
    """Chrome, Edge, Opera, Chrome on Android: Chromium's header order, BoringSSL's handshake."""

    key: str
    family: str
    target: str
    ua: str
    ch_ua: str
    platform: str
    mobile: bool = False
    favicon: bool = True

    def headers(self, ctx: RequestContext) -> list[tuple[str, str]]:
        if not ctx.secure:
            return self._http1(ctx)
        mobile = "?1" if self.mobile else "?0"
        h: list[tuple[str, str]] = []
        if ctx.kind in _NAV_KINDS:
            if ctx.kind == "form":
                h.append(("cache-control", "max-age=0"))
            h += [("sec-ch-ua", self.ch_ua), ("sec-ch-ua-mobile", mobile), ("sec-ch-ua-platform", self.platform)]
            if ctx.kind == "form":
                h += [("origin", ctx.origin), ("content-type", ctx.content_type or "application/x-www-form-urlencoded")]
            h += [
                ("upgrade-insecure-requests", "1"),
                ("user-agent", self.ua),
                ("accept", CHROME_NAV_ACCEPT),
                ("sec-fetch-site", ctx.site),
                ("sec-fetch-mode", "navigate"),
            ]
            if ctx.user_activated and ctx.kind != "reload":
                h.append(("sec-fetch-user", "?1"))
            h.append(("sec-fetch-dest", "document"))
            priority = "u=0, i"
        else:
            accept, dest, mode, priority = {
                "style": (CSS_ACCEPT, "style", "no-cors", "u=0"),
                "script": ("*/*", "script", "no-cors", "u=1"),
                "image": (CHROME_IMG_ACCEPT, "image", "no-cors", "u=1, i"),
                "favicon": (CHROME_IMG_ACCEPT, "image", "no-cors", "u=1, i"),
                "fetch": ("*/*", "empty", "cors", "u=1, i"),
                "fetch-json-post": ("*/*", "empty", "cors", "u=1, i"),
            }[ctx.kind]
            h += [("sec-ch-ua-platform", self.platform), ("user-agent", self.ua), ("sec-ch-ua", self.ch_ua)]
            if ctx.kind == "fetch-json-post":
                h.append(("content-type", ctx.content_type or "application/json"))
            h += [("sec-ch-ua-mobile", mobile), ("accept", accept)]
            if ctx.kind == "fetch-json-post":
                h.append(("origin", ctx.origin))
            h += [("sec-fetch-site", ctx.site), ("sec-fetch-mode", mode), ("sec-fetch-dest", dest)]
        if ctx.referer:
            h.append(("referer", ctx.referer))
        h += [("accept-encoding", "gzip, deflate, br, zstd"), ("accept-language", self._lang(ctx))]
        if ctx.cookie:
            h.append(("cookie", ctx.cookie))
        h.append(("priority", priority))
        return h

    def _http1(self, ctx: RequestContext) -> list[tuple[str, str]]:
        h: list[tuple[str, str]] = [("Connection", "keep-alive")]
        if ctx.kind in _NAV_KINDS:
            if ctx.kind == "form":
                h += [
                    ("Cache-Control", "max-age=0"),
                    ("Origin", ctx.origin),
                    ("Content-Type", ctx.content_type or "application/x-www-form-urlencoded"),
                ]
            h += [("Upgrade-Insecure-Requests", "1"), ("User-Agent", self.ua), ("Accept", CHROME_NAV_ACCEPT)]
        else:
            accept = {"style": CSS_ACCEPT, "image": CHROME_IMG_ACCEPT, "favicon": CHROME_IMG_ACCEPT}.get(
                ctx.kind, "*/*"
            )
            h += [("User-Agent", self.ua), ("Accept", accept)]
            if ctx.kind == "fetch-json-post":
                h += [("Content-Type", ctx.content_type or "application/json"), ("Origin", ctx.origin)]
        if ctx.referer:
            h.append(("Referer", ctx.referer))
        h += [("Accept-Encoding", "gzip, deflate"), ("Accept-Language", self._lang(ctx))]
        if ctx.cookie:
            h.append(("Cookie", ctx.cookie))
        return h

    @staticmethod
    def _lang(ctx: RequestContext) -> str:
        return ctx.accept_language


@dataclass(frozen=True, slots=True)
class Firefox(Client):
    key: str
    family: str
    target: str
    ua: str
    favicon: bool = True

    def headers(self, ctx: RequestContext) -> list[tuple[str, str]]:
        secure = ctx.secure
        h: list[tuple[str, str]] = [("user-agent" if secure else "User-Agent", self.ua)]
        if ctx.kind in _NAV_KINDS:
            accept, dest, mode = FIREFOX_NAV_ACCEPT, "document", "navigate"
            priority = "u=0, i"
        else:
            accept, dest, mode, priority = {
                "style": (CSS_ACCEPT, "style", "no-cors", "u=2"),
                "script": ("*/*", "script", "no-cors", "u=2"),
                "image": (FIREFOX_IMG_ACCEPT, "image", "no-cors", "u=4, i"),
                "favicon": (FIREFOX_IMG_ACCEPT, "image", "no-cors", "u=6"),
                "fetch": ("*/*", "empty", "cors", "u=4"),
                "fetch-json-post": ("*/*", "empty", "cors", "u=4"),
            }[ctx.kind]
        lang = ctx.accept_language
        if secure:
            h += [("accept", accept), ("accept-language", lang), ("accept-encoding", "gzip, deflate, br, zstd")]
        else:
            h += [("Accept", accept), ("Accept-Language", lang), ("Accept-Encoding", "gzip, deflate")]
        if ctx.kind in ("form", "fetch-json-post"):
            h += [
                ("content-type" if secure else "Content-Type", ctx.content_type or "application/x-www-form-urlencoded"),
                ("origin" if secure else "Origin", ctx.origin),
            ]
        if ctx.referer:
            h.append(("referer" if secure else "Referer", ctx.referer))
        if not secure:
            h.append(("Connection", "keep-alive"))
        if ctx.cookie:
            h.append(("cookie" if secure else "Cookie", ctx.cookie))
        if ctx.kind in _NAV_KINDS:
            h.append(("upgrade-insecure-requests" if secure else "Upgrade-Insecure-Requests", "1"))
        if secure:
            h += [("sec-fetch-dest", dest), ("sec-fetch-mode", mode), ("sec-fetch-site", ctx.site)]
            if ctx.kind in _NAV_KINDS and ctx.user_activated and ctx.kind != "reload":
                h.append(("sec-fetch-user", "?1"))
            h += [("priority", priority), ("te", "trailers")]
        return h


@dataclass(frozen=True, slots=True)
class Safari(Client):
    key: str
    family: str
    target: str
    ua: str
    favicon: bool = False

    def headers(self, ctx: RequestContext) -> list[tuple[str, str]]:
        lang = ctx.accept_language
        if ctx.kind in _NAV_KINDS:
            accept, dest, mode = SAFARI_NAV_ACCEPT, "document", "navigate"
        else:
            accept, dest, mode = {
                "style": (CSS_ACCEPT, "style", "no-cors"),
                "script": ("*/*", "script", "no-cors"),
                "image": (SAFARI_IMG_ACCEPT, "image", "no-cors"),
                "favicon": (SAFARI_IMG_ACCEPT, "image", "no-cors"),
                "fetch": ("*/*", "empty", "cors"),
                "fetch-json-post": ("*/*", "empty", "cors"),
            }[ctx.kind]
        if not ctx.secure:
            h: list[tuple[str, str]] = []
            if ctx.kind in ("form", "fetch-json-post"):
                h += [("Content-Type", ctx.content_type or "application/x-www-form-urlencoded"), ("Origin", ctx.origin)]
            h += [("Accept", accept), ("User-Agent", self.ua)]
            if ctx.referer:
                h.append(("Referer", ctx.referer))
            h += [("Accept-Language", lang), ("Accept-Encoding", "gzip, deflate")]
            if ctx.kind in _NAV_KINDS:
                h.append(("Upgrade-Insecure-Requests", "1"))
            if ctx.cookie:
                h.append(("Cookie", ctx.cookie))
            h.append(("Connection", "keep-alive"))
            return h
        h = [("sec-fetch-dest", dest), ("user-agent", self.ua)]
        if ctx.kind in ("form", "fetch-json-post"):
            h.append(("content-type", ctx.content_type or "application/x-www-form-urlencoded"))
        h.append(("accept", accept))
        if ctx.kind in ("form", "fetch-json-post"):
            h.append(("origin", ctx.origin))
        if ctx.referer:
            h.append(("referer", ctx.referer))
        h += [
            ("sec-fetch-site", ctx.site),
            ("sec-fetch-mode", mode),
            ("accept-language", lang),
            ("accept-encoding", "gzip, deflate, br"),
        ]
        if ctx.cookie:
            h.append(("cookie", ctx.cookie))
        return h


@dataclass(frozen=True, slots=True)
class Fixed(Client):
    """A non-browser client that sends the same header set on every request (a crawler, a monitor, a library)."""

    key: str
    family: str
    target: str | None
    header_set: tuple[tuple[str, str], ...]
    http1: bool = False
    send_referer: bool = False
    favicon: bool = False

    def headers(self, ctx: RequestContext) -> list[tuple[str, str]]:
        h = list(self.header_set)
        if ctx.kind in ("form", "fetch-json-post"):
            h.append(("Content-Type", ctx.content_type or "application/x-www-form-urlencoded"))
        if self.send_referer and ctx.referer:
            h.append(("Referer", ctx.referer))
        if ctx.cookie:
            h.append(("Cookie", ctx.cookie))
        return h


@dataclass(frozen=True, slots=True)
class Localised:
    """A build as installed by one person: the build plus the accept-language that person's settings produce."""

    build: Client
    accept_language: str

    @property
    def key(self) -> str:
        return self.build.key

    @property
    def target(self) -> str | None:
        return self.build.target

    @property
    def favicon(self) -> bool:
        return self.build.favicon

    @property
    def family(self) -> str:
        return self.build.family

    @property
    def http1_only(self) -> bool:
        return isinstance(self.build, Fixed) and self.build.http1

    def headers(self, ctx: RequestContext) -> list[tuple[str, str]]:
        return self.build.headers(replace(ctx, accept_language=self.accept_language))


# --- the builds people use (late 2026), with curl_cffi 0.17's newest targets ------------------------------------

_WIN = "Windows NT 10.0; Win64; x64"
_MAC = "Macintosh; Intel Mac OS X 10_15_7"
_CH152 = '"Chromium";v="152", "Not?A_Brand";v="24", "Google Chrome";v="152"'

CHROME_152_WIN = Chromium(
    "chrome-152-win",
    "chrome",
    "chrome152",
    f"Mozilla/5.0 ({_WIN}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/152.0.0.0 Safari/537.36",
    _CH152,
    '"Windows"',
)
CHROME_152_MAC = Chromium(
    "chrome-152-mac",
    "chrome",
    "chrome152_macos",
    f"Mozilla/5.0 ({_MAC}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/152.0.0.0 Safari/537.36",
    _CH152,
    '"macOS"',
)
CHROME_146_MAC = Chromium(
    "chrome-146-mac",
    "chrome",
    "chrome146",
    f"Mozilla/5.0 ({_MAC}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/146.0.0.0 Safari/537.36",
    '"Chromium";v="146", "Not-A.Brand";v="24", "Google Chrome";v="146"',
    '"macOS"',
)
CHROME_152_ANDROID = Chromium(
    "chrome-152-android",
    "chrome",
    "chrome152",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/152.0.0.0 Mobile Safari/537.36",
    _CH152,
    '"Android"',
    mobile=True,
    favicon=False,
)
EDGE_152_WIN = Chromium(
    "edge-152-win",
    "edge",
    "chrome152",  # Edge is Chromium: the same BoringSSL handshake and HTTP/2 settings as Chrome of its version
    f"Mozilla/5.0 ({_WIN}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/152.0.0.0 Safari/537.36 Edg/152.0.0.0",
    '"Chromium";v="152", "Not?A_Brand";v="24", "Microsoft Edge";v="152"',
    '"Windows"',
)
OPERA_137_WIN = Chromium(
    "opera-137-win",
    "opera",
    "chrome152",  # Opera 137 runs Chromium 152
    f"Mozilla/5.0 ({_WIN}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/152.0.0.0 Safari/537.36 OPR/137.0.0.0",
    '"Chromium";v="152", "Not?A_Brand";v="24", "Opera";v="137"',
    '"Windows"',
)
# curl_cffi 0.17's firefox154 and firefox155 targets offer Chrome's cipher suites (JA4 cipher hash 8daaf6152771, the
# same as chrome152), which Firefox's NSS never does; firefox147 sends Firefox's own (5b57614c22b0). People on Firefox
# therefore run Firefox 147, handshake and user-agent alike.
FIREFOX_147_WIN = Firefox(
    "firefox-147-win", "firefox", "firefox147", f"Mozilla/5.0 ({_WIN}; rv:147.0) Gecko/20100101 Firefox/147.0"
)
FIREFOX_147_MAC = Firefox(
    "firefox-147-mac",
    "firefox",
    "firefox147",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:147.0) Gecko/20100101 Firefox/147.0",
)
SAFARI_26_MAC = Safari(
    "safari-26-mac",
    "safari",
    "safari2601",
    f"Mozilla/5.0 ({_MAC}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.0.1 Safari/605.1.15",
)
SAFARI_26_IOS = Safari(
    "safari-26-ios",
    "safari",
    "safari260_ios",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 26_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/26.0 Mobile/15E148 Safari/604.1",
)

# The most popular build: the one attackers clone, header for header and handshake for handshake.
POPULAR = CHROME_152_WIN
POPULAR_LANGUAGE = "en-US,en;q=0.9"

# Shares of a US-centred shop's visitors (desktop Chrome leads; mobile is iOS Safari and Android Chrome).
GENERAL_MIX: tuple[tuple[Client, float], ...] = (
    (CHROME_152_WIN, 0.52),
    (CHROME_152_MAC, 0.09),
    (CHROME_146_MAC, 0.03),
    (CHROME_152_ANDROID, 0.06),
    (EDGE_152_WIN, 0.09),
    (FIREFOX_147_WIN, 0.05),
    (FIREFOX_147_MAC, 0.01),
    (SAFARI_26_MAC, 0.05),
    (SAFARI_26_IOS, 0.07),
    (OPERA_137_WIN, 0.03),
)
# A corporate fleet: managed Windows desktops.
OFFICE_MIX: tuple[tuple[Client, float], ...] = (
    (CHROME_152_WIN, 0.62),
    (EDGE_152_WIN, 0.33),
    (FIREFOX_147_WIN, 0.05),
)
# Phones on a carrier network.
MOBILE_MIX: tuple[tuple[Client, float], ...] = (
    (SAFARI_26_IOS, 0.55),
    (CHROME_152_ANDROID, 0.45),
)
# Visitors arriving from social sites skew to phones.
SOCIAL_MIX: tuple[tuple[Client, float], ...] = (
    (CHROME_152_WIN, 0.40),
    (SAFARI_26_IOS, 0.22),
    (CHROME_152_ANDROID, 0.14),
    (CHROME_152_MAC, 0.07),
    (EDGE_152_WIN, 0.06),
    (SAFARI_26_MAC, 0.05),
    (FIREFOX_147_WIN, 0.04),
    (OPERA_137_WIN, 0.02),
)

# accept-language as each family writes it for a locale (Firefox's default q-values differ from Chromium's and
# Safari's).
_LOCALES: tuple[tuple[str, float, dict[str, str]], ...] = (
    ("en-US", 0.76, {"default": "en-US,en;q=0.9", "firefox": "en-US,en;q=0.5", "safari": "en-US,en;q=0.9"}),
    ("en-GB", 0.07, {"default": "en-GB,en;q=0.9", "firefox": "en-GB,en;q=0.5", "safari": "en-GB,en;q=0.9"}),
    (
        "es-US",
        0.05,
        {
            "default": "es-US,es;q=0.9,en-US;q=0.8,en;q=0.7",
            "firefox": "es-US,es;q=0.8,en-US;q=0.5,en;q=0.3",
            "safari": "es-US,es;q=0.9",
        },
    ),
    (
        "de-DE",
        0.05,
        {
            "default": "de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7",
            "firefox": "de,en-US;q=0.7,en;q=0.3",
            "safari": "de-DE,de;q=0.9",
        },
    ),
    (
        "fr-FR",
        0.04,
        {
            "default": "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7",
            "firefox": "fr,fr-FR;q=0.8,en-US;q=0.5,en;q=0.3",
            "safari": "fr-FR,fr;q=0.9",
        },
    ),
    ("en", 0.03, {"default": "en-US,en;q=0.9", "firefox": "en-US,en;q=0.5", "safari": "en-US,en;q=0.9"}),
)


def accept_language(build: Client, locale: str) -> str:
    for name, _share, values in _LOCALES:
        if name == locale:
            return values.get(build.family, values["default"])
    raise KeyError(locale)


def locales() -> tuple[tuple[str, float], ...]:
    return tuple((name, share) for name, share, _ in _LOCALES)


# --- declared bots and non-browser tools ------------------------------------------------------------------------

GOOGLEBOT = Fixed(
    "googlebot",
    "crawler",
    None,
    (
        ("accept", "text/html,application/xhtml+xml,application/signed-exchange;v=b3,application/xml;q=0.9,*/*;q=0.8"),
        ("from", "googlebot(at)googlebot.com"),
        (
            "user-agent",
            "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/141.0.7390.122 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        ),
        ("accept-encoding", "gzip, deflate, br"),
    ),
)
BINGBOT = Fixed(
    "bingbot",
    "crawler",
    None,
    (
        ("cache-control", "no-cache"),
        ("accept", "*/*"),
        ("accept-encoding", "gzip, deflate, br"),
        (
            "user-agent",
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
            "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
        ),
        ("pragma", "no-cache"),
    ),
)
UPTIMEROBOT = Fixed(
    "uptimerobot",
    "monitor",
    None,
    (
        ("User-Agent", "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)"),
        ("Accept", "*/*"),
        ("Accept-Encoding", "gzip, deflate"),
        ("Connection", "close"),
    ),
    http1=True,
)
PINGDOM = Fixed(
    "pingdom",
    "monitor",
    None,
    (
        ("User-Agent", "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)"),
        ("Accept", "*/*"),
        ("Accept-Encoding", "gzip"),
    ),
    http1=True,
)
DATADOG = Fixed(
    "datadog-synthetics",
    "monitor",
    None,
    (
        ("Accept", "*/*"),
        ("User-Agent", "Datadog/Synthetics"),
        ("Accept-Encoding", "gzip, deflate, br"),
    ),
    http1=True,
)
AHREFSBOT = Fixed(
    "ahrefsbot",
    "seo",
    None,
    (
        ("user-agent", "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"),
        ("accept", "*/*"),
        ("accept-encoding", "gzip, deflate, br"),
    ),
)
SEMRUSHBOT = Fixed(
    "semrushbot",
    "seo",
    None,
    (
        ("User-Agent", "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)"),
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        ("Accept-Encoding", "gzip, deflate"),
        ("Connection", "keep-alive"),
    ),
    http1=True,
)
FACEBOOKHIT = Fixed(
    "facebookexternalhit",
    "preview",
    None,
    (
        ("user-agent", "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"),
        ("accept", "*/*"),
        ("accept-encoding", "deflate, gzip"),
        ("range", "bytes=0-524287"),
    ),
)
SLACKBOT = Fixed(
    "slackbot",
    "preview",
    None,
    (
        ("User-Agent", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"),
        ("Accept", "*/*"),
        ("Accept-Encoding", "gzip,deflate"),
        ("Connection", "keep-alive"),
    ),
    http1=True,
)
TWITTERBOT = Fixed(
    "twitterbot",
    "preview",
    None,
    (
        ("User-Agent", "Twitterbot/1.0"),
        ("Accept", "*/*"),
        ("Accept-Encoding", "gzip"),
    ),
    http1=True,
)

# Attackers' non-browser tools.
PYTHON_REQUESTS = Fixed(
    "python-requests",
    "library",
    None,
    (
        ("User-Agent", "python-requests/2.32.5"),
        ("Accept-Encoding", "gzip, deflate"),
        ("Accept", "*/*"),
        ("Connection", "keep-alive"),
    ),
    http1=True,
)
# requests with a copied Chrome user-agent and the two headers tutorials tell you to add: requests' own order.
REQUESTS_AS_CHROME = Fixed(
    "requests-as-chrome",
    "library",
    None,
    (
        ("User-Agent", CHROME_152_WIN.ua),
        ("Accept-Encoding", "gzip, deflate"),
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        ("Connection", "keep-alive"),
        ("Accept-Language", "en-US,en;q=0.9"),
    ),
    http1=True,
    send_referer=True,
)
FAKE_GOOGLEBOT = Fixed(
    "fake-googlebot",
    "crawler",
    None,
    (
        ("User-Agent", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        ("Accept-Encoding", "gzip, deflate"),
        ("Connection", "keep-alive"),
    ),
    http1=True,
)


def pick(rng: random.Random, mix: tuple[tuple[Client, float], ...]) -> Client:
    """One build drawn from a weighted mix."""
    return rng.choices([b for b, _ in mix], weights=[w for _, w in mix], k=1)[0]
