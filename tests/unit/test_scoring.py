"""The rule scorer: obvious automation scores high, real browser header sets score zero."""

from __future__ import annotations

from botwall.config import parse_yaml
from botwall.engine import Engine
from botwall.request import build_view
from botwall.scoring import Score

CHROME_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
# Header set of a real Chrome 131 navigation over HTTPS.
CHROME_HEADERS = [
    ("sec-ch-ua", '"Chromium";v="131", "Not_A Brand";v="24"'),
    ("sec-ch-ua-mobile", "?0"),
    ("sec-ch-ua-platform", '"Linux"'),
    ("upgrade-insecure-requests", "1"),
    ("user-agent", CHROME_UA),
    ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("sec-fetch-site", "none"),
    ("sec-fetch-mode", "navigate"),
    ("sec-fetch-user", "?1"),
    ("sec-fetch-dest", "document"),
    ("accept-encoding", "gzip, deflate, br, zstd"),
    ("accept-language", "en-GB,en;q=0.9"),
]


def _score(headers: list[tuple[str, str]], scheme: str = "https") -> Score:
    """Score one request on a fresh engine (fresh behaviour windows), through the rule scorer."""
    view = build_view([(":method", "GET"), (":scheme", scheme), (":path", "/"), *headers], {})
    engine = Engine(parse_yaml("{}", "t.yaml"))
    evidence, _ = engine.evidence(view)
    return engine.scorer.score(evidence)


def test_real_chrome_scores_zero() -> None:
    """A genuine Chrome header set has no reasons and score 0."""
    result = _score(CHROME_HEADERS)
    assert (0, ()) == (result.value, result.reasons)


def test_curl_is_an_automation_tool() -> None:
    """curl's default headers score at the bot threshold with ua:automation-tool."""
    result = _score([("user-agent", "curl/8.5.0"), ("accept", "*/*")])
    assert (75, ("ua:automation-tool",)) == (result.value, result.reasons)


def test_chrome_ua_without_client_hints_over_tls() -> None:
    """A Chrome UA over TLS without sec-ch-ua and sec-fetch-* is flagged, strongest reason first."""
    headers = [("user-agent", CHROME_UA), ("accept", "*/*"), ("accept-language", "en")]
    result = _score(headers)
    assert ("hdr:chrome-without-client-hints", "hdr:browser-without-sec-fetch") == result.reasons
    assert 55 == result.value


def test_client_hints_not_required_over_plain_http() -> None:
    """Chrome sends no client hints to insecure origins, so their absence over HTTP is not evidence."""
    headers = [("user-agent", CHROME_UA), ("accept", "*/*"), ("accept-language", "en")]
    assert 0 == _score(headers, scheme="http").value


def test_missing_user_agent() -> None:
    """No user-agent and no accept header add up, capped at 100."""
    result = _score([])
    assert (55, ("ua:missing", "hdr:no-accept")) == (result.value, result.reasons)
