"""Scorers turn what botwall knows about a request into a 0-100 score and reason codes.

`RuleScorer` is a transparent set of weighted rules. It implements the same `Scorer` interface the trained ONNX
model will, and stays as the fallback when no model is configured.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from botwall.request import RequestView


@dataclass(frozen=True, slots=True)
class Score:
    """A score (higher means more likely automated) and the reason codes behind it, strongest first."""

    value: int
    reasons: tuple[str, ...]


class Scorer(Protocol):
    """What every scorer implements."""

    def score(self, view: RequestView) -> Score: ...


# HTTP libraries, command-line tools and automation frameworks that name themselves in the user-agent.
_TOOL_UA = re.compile(
    r"curl/|wget/|python-requests|python-urllib|python-httpx|aiohttp/|httpie/|go-http-client|okhttp|"
    r"java/|apache-httpclient|libwww-perl|lwp::|scrapy|node-fetch|undici|axios/|got \(|guzzlehttp|"
    r"ruby|headlesschrome|phantomjs|selenium|puppeteer|playwright|postmanruntime|insomnia|httpclient|"
    r"masscan|zgrab|nikto|sqlmap|nmap|nuclei",
    re.IGNORECASE,
)
_BROWSER_UA = re.compile(r"Mozilla/5\.0 .*(Chrome|Firefox|Safari|Edg)/", re.IGNORECASE)
_CHROMIUM_UA = re.compile(r"(Chrome|Chromium)/(\d+)")


@dataclass(frozen=True, slots=True)
class UserAgentClass:
    """What the user-agent string claims, from the patterns above."""

    tool: bool
    browser: bool
    chromium: bool


@lru_cache(maxsize=8192)
def classify_user_agent(ua: str) -> UserAgentClass:
    """Classify a user-agent; cached, because a few thousand distinct strings make up nearly all traffic."""
    tool = _TOOL_UA.search(ua) is not None
    browser = not tool and _BROWSER_UA.search(ua) is not None
    return UserAgentClass(tool, browser, browser and _CHROMIUM_UA.search(ua) is not None)


@dataclass(frozen=True, slots=True)
class RuleWeights:
    """Points each rule adds; the sum is capped at 100."""

    ua_missing: int = 45
    ua_tool: int = 75
    no_accept: int = 10
    browser_without_accept_language: int = 25
    chrome_without_client_hints: int = 35
    browser_without_sec_fetch: int = 20


class RuleScorer:
    """Weighted, explainable header rules: a placeholder until the model arrives, and its fallback."""

    def __init__(self, weights: RuleWeights | None = None) -> None:
        self._w = weights or RuleWeights()

    def score(self, view: RequestView) -> Score:
        """Score one request from its headers alone."""
        w = self._w
        hits: list[tuple[int, str]] = []
        ua = view.header("user-agent")
        kind = classify_user_agent(ua)
        if not ua:
            hits.append((w.ua_missing, "ua:missing"))
        elif kind.tool:
            hits.append((w.ua_tool, "ua:automation-tool"))
        if not view.header("accept"):
            hits.append((w.no_accept, "hdr:no-accept"))
        if kind.browser:
            if not view.header("accept-language"):
                hits.append((w.browser_without_accept_language, "hdr:browser-without-accept-language"))
            # Client hints and fetch metadata are only sent to secure contexts: judge them over TLS only.
            # Only Chromium is judged here: older Safari sends neither header.
            if view.scheme == "https" and kind.chromium:
                if not view.header("sec-ch-ua"):
                    hits.append((w.chrome_without_client_hints, "hdr:chrome-without-client-hints"))
                if not view.header("sec-fetch-mode"):
                    hits.append((w.browser_without_sec_fetch, "hdr:browser-without-sec-fetch"))
        if not hits:
            return Score(0, ())
        hits.sort(key=lambda hit: -hit[0])
        return Score(min(100, sum(points for points, _ in hits)), tuple(reason for _, reason in hits))
