"""The user-agent, parsed: browser family and version, OS and device (uap-core via `ua-parser`), and whether it names
an HTTP library, an automation framework, a scanner or a declared crawler (`crawler-user-agents` and `crawlerdetect`,
MIT, with crawlerdetect's exclusion layer so real browsers are not caught).

Parsing is cached per distinct user-agent string: real traffic repeats a few thousand strings. A client rotating random
strings must not make each request expensive, so the ~1,500 list patterns run as one RE2 set (linear time, one pass,
`google-re2`), and `ua-parser-rs` accelerates the uap-core parse.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import re2
import ua_parser
from crawlerdetect.providers.crawlers import data as _crawlerdetect_patterns
from crawlerdetect.providers.exclusions import data as _crawlerdetect_exclusions

from botwall.request import MAX_USER_AGENT

# Categories, strongest evidence of automation first.
MISSING = "missing"
HTTP_LIBRARY = "http-library"
AUTOMATION = "browser-automation"
SCANNER = "scanner"
CRAWLER = "crawler"

# crawler-user-agents tags -> our category. Declared crawlers (search, SEO, monitoring...) are honest bots.
_TAG_CATEGORY = {
    "http-library": HTTP_LIBRARY,
    "browser-automation": AUTOMATION,
    "scanner": SCANNER,
}
# Clients the lists do not name (or name too loosely): the libraries and frameworks our header profiles cover.
_EXTRA_TOOLS = re.compile(
    r"^(curl|wget|python-requests|python-urllib|python-httpx|httpie|go-http-client|okhttp|java|"
    r"apache-httpclient|libwww-perl|node|undici|node-fetch|axios|got|guzzlehttp|ruby|postmanruntime|insomnia)\b"
    r"|aiohttp/|scrapy/|\bphantomjs\b|\bselenium\b|\bpuppeteer\b|\bplaywright\b",
    re.IGNORECASE,
)
_BROWSERS = {
    "Chrome": "chrome",
    "Chrome Mobile": "chrome",
    "Chrome Mobile iOS": "chrome",
    "Chrome Mobile WebView": "chrome",
    "Chromium": "chrome",
    "HeadlessChrome": "chrome",
    "Edge": "edge",
    "Edge Mobile": "edge",
    "Opera": "opera",
    "Opera Mobile": "opera",
    "Samsung Internet": "samsung",
    "Yandex Browser": "yandex",
    "Brave": "chrome",
    "Vivaldi": "chrome",
    "Firefox": "firefox",
    "Firefox Mobile": "firefox",
    "Firefox iOS": "firefox",
    "Safari": "safari",
    "Mobile Safari": "safari",
    "Mobile Safari UI/WKWebView": "safari",
}
# Engines that send client hints (sec-ch-ua) to secure origins. Chrome on iOS is WebKit and does not.
_CHROMIUM_BROWSERS = frozenset({"chrome", "edge", "opera", "samsung", "yandex"})


def small_int(text: str | None, digits: int = 6) -> int:
    """A version number of at most `digits` ASCII digits, else 0.

    Checked before conversion: `int()` refuses more than 4,300 digits and the Latin-1 superscripts that
    `str.isdigit` accepts, and a client must not be able to make botwall's parsing raise.
    """
    if not text or len(text) > digits or not text.isascii() or not text.isdigit():
        return 0
    return int(text)


@dataclass(frozen=True, slots=True)
class UserAgentInfo:
    """What a user-agent string claims."""

    raw: str
    family: str  # ua-parser's family: "Chrome", "Firefox", "HeadlessChrome", "curl", "Other", ...
    major: int  # the family's major version, 0 when unknown
    os: str
    device: str
    browser: str  # "chrome", "edge", "firefox", "safari", ... when it claims a browser, else ""
    chromium: bool  # a Chromium-engine browser claim (sends client hints over TLS)
    category: str  # "", "missing", "http-library", "browser-automation", "scanner" or "crawler"
    crawler: str  # the crawler or tool pattern that matched, "" when none
    headless: bool  # names a headless browser (HeadlessChrome, PhantomJS)

    @property
    def is_tool(self) -> bool:
        """True when the string names an HTTP library or automation framework."""
        return self.category in (HTTP_LIBRARY, AUTOMATION)


@dataclass(frozen=True, slots=True)
class _Pattern:
    regex: re.Pattern[str]
    name: str
    category: str


def _load_crawler_user_agents() -> list[_Pattern]:
    text = resources.files("crawleruseragents").joinpath("crawler-user-agents.json").read_text(encoding="utf-8")
    patterns = []
    for entry in json.loads(text):
        tags = entry.get("tags", [])
        category = next((_TAG_CATEGORY[t] for t in tags if t in _TAG_CATEGORY), CRAWLER)
        name = re.sub(r"\\(.)", r"\1", entry["pattern"]).strip("^$/")
        patterns.append(_Pattern(re.compile(entry["pattern"]), name, category))
    return patterns


def _re2_set(patterns: list[str], case_sensitive: bool) -> tuple[re2.Set, list[int], re.Pattern[str] | None]:
    """An RE2 set of the patterns RE2 accepts, their indices, and a Python regex of the rest (lookarounds)."""
    options = re2.Options()
    options.case_sensitive = case_sensitive
    options.log_errors = False
    matcher = re2.Set.SearchSet(options)
    accepted: list[int] = []
    rest: list[str] = []
    for index, pattern in enumerate(patterns):
        try:
            matcher.Add(pattern)
        except re2.error:
            rest.append(pattern)
        else:
            accepted.append(index)
    matcher.Compile()
    flags = 0 if case_sensitive else re.IGNORECASE
    fallback = re.compile("|".join(f"(?:{p})" for p in rest), flags) if rest else None
    return matcher, accepted, fallback


class UserAgentAnalyzer:
    """Parses and classifies user-agent strings, with a bounded cache."""

    def __init__(self, cache_size: int = 16_384) -> None:
        self._patterns = _load_crawler_user_agents()
        self._cua, self._cua_index, self._cua_rest = _re2_set([p.regex.pattern for p in self._patterns], True)
        self._cd, _, self._cd_rest = _re2_set(list(_crawlerdetect_patterns), False)
        self._cd_exclusions = re.compile("|".join(_crawlerdetect_exclusions), re.IGNORECASE)
        self.analyze = lru_cache(maxsize=cache_size)(self._analyze)
        self.analyze("Mozilla/5.0")  # load ua-parser's regexes now, not on the first request

    def _list_match(self, ua: str) -> _Pattern | None:
        hits: list[int] = self._cua.Match(ua)
        if hits:
            return self._patterns[self._cua_index[min(hits)]]
        if self._cua_rest is not None and self._cua_rest.search(ua):
            return next(p for p in self._patterns if p.regex.search(ua))
        return None

    def _classify(self, ua: str) -> tuple[str, str]:
        extra = _EXTRA_TOOLS.search(ua)
        listed = self._list_match(ua)
        if listed is not None and not (listed.category == CRAWLER and extra):
            # (a library the list files under a crawler tag is classified as the library below)
            return listed.category, listed.name
        if extra:
            name = extra.group(0).rstrip("/")
            automation = name.lower() in ("phantomjs", "selenium", "puppeteer", "playwright")
            return (AUTOMATION if automation else HTTP_LIBRARY), name
        # crawlerdetect, after removing the tokens every browser carries (its exclusion layer).
        stripped = self._cd_exclusions.sub("", ua).strip()
        if stripped and (self._cd.Match(stripped) or (self._cd_rest is not None and self._cd_rest.search(stripped))):
            return CRAWLER, stripped[:64]
        return "", ""

    def _analyze(self, ua: str) -> UserAgentInfo:
        ua = ua[:MAX_USER_AGENT]  # the view cuts it already; a direct caller gets the same bound
        if not ua:
            return UserAgentInfo("", "", 0, "", "", "", False, MISSING, "", False)
        parsed = ua_parser.parse(ua)
        family = parsed.user_agent.family if parsed.user_agent else "Other"
        major_text = parsed.user_agent.major if parsed.user_agent else None
        major = small_int(major_text)
        category, crawler = self._classify(ua)
        headless = family == "HeadlessChrome" or "phantomjs" in ua.lower()
        if headless and category in ("", CRAWLER):
            category, crawler = AUTOMATION, family
        browser = _BROWSERS.get(family, "") if category in ("", AUTOMATION) else ""
        # Chrome on iOS (CriOS) is WebKit underneath and sends no client hints.
        chromium = browser in _CHROMIUM_BROWSERS and "CriOS/" not in ua
        return UserAgentInfo(
            raw=ua,
            family=family,
            major=major,
            os=parsed.os.family if parsed.os else "",
            device=parsed.device.family if parsed.device else "",
            browser=browser,
            chromium=chromium,
            category=category,
            crawler=crawler,
            headless=headless,
        )


def ua_reasons(info: UserAgentInfo) -> list[str]:
    """Reason codes of the user-agent pillar."""
    if info.category == MISSING:
        return ["ua:missing"]
    if info.headless:
        return ["ua:headless-browser"]
    if info.category in (HTTP_LIBRARY, AUTOMATION):
        return ["ua:automation-tool"]
    if info.category == SCANNER:
        return ["ua:scanner"]
    if info.category == CRAWLER:
        return ["ua:declared-crawler"]
    return []
