"""The user-agent pillar: real browsers pass as browsers; tools, automation, scanners and crawlers are named."""

from __future__ import annotations

import pytest

from botwall.evidence.useragent import ua_reasons
from botwall.lab.testing import resources

BROWSERS = {
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36": (
        "chrome", True,
    ),
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
    "Safari/537.36 Edg/131.0.0.0": ("edge", True),
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0": ("firefox", False),
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
    "Safari/605.1.15": ("safari", False),
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1": ("chrome", False),
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.135 "
    "Mobile Safari/537.36": ("chrome", True),
}  # fmt: skip


@pytest.mark.parametrize("ua", list(BROWSERS))
def test_real_browsers_are_browsers(ua: str) -> None:
    """Genuine browser strings claim their browser, fire no reason, and are not caught by the crawler lists."""
    info = resources().ua.analyze(ua)
    assert BROWSERS[ua] == (info.browser, info.chromium)
    assert ("", []) == (info.category, ua_reasons(info))


@pytest.mark.parametrize(
    ("ua", "category", "reason"),
    [
        ("curl/8.5.0", "http-library", "ua:automation-tool"),
        ("Wget/1.21.3", "http-library", "ua:automation-tool"),
        ("python-requests/2.32.3", "http-library", "ua:automation-tool"),
        ("python-httpx/0.28.1", "http-library", "ua:automation-tool"),
        ("Python/3.11 aiohttp/3.14.5", "http-library", "ua:automation-tool"),
        ("Go-http-client/1.1", "http-library", "ua:automation-tool"),
        ("node", "http-library", "ua:automation-tool"),
        ("okhttp/4.12.0", "http-library", "ua:automation-tool"),
        ("Java/17.0.15", "http-library", "ua:automation-tool"),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 "
            "Safari/537.36",
            "browser-automation",
            "ua:headless-browser",
        ),
        ("sqlmap/1.8#stable (https://sqlmap.org)", "scanner", "ua:scanner"),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "crawler", "ua:declared-crawler"),
        ("Mozilla/5.0 (compatible; GPTBot/1.2; +https://openai.com/gptbot)", "crawler", "ua:declared-crawler"),
        ("", "missing", "ua:missing"),
    ],
)
def test_non_browsers_are_named(ua: str, category: str, reason: str) -> None:
    """Libraries, headless browsers, scanners, declared crawlers and a missing UA get their category and reason."""
    info = resources().ua.analyze(ua)
    assert (category, [reason]) == (info.category, ua_reasons(info))


def test_rotating_browser_versions_stay_browsers() -> None:
    """A thousand Chrome build numbers are all classified as Chrome with no reason (no false positives by version)."""
    analyzer = resources().ua
    template = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{} Safari/537.36"
    )
    categories = {analyzer.analyze(template.format(f"13{i % 10}.0.{i}.0")).category for i in range(1000)}
    assert {""} == categories
