"""The rule scorer over real captured header sets: browsers score zero, tools and disguised tools score high."""

from __future__ import annotations

from botwall.config import parse_yaml
from botwall.engine import Engine
from botwall.lab.testing import captured_headers, resources
from botwall.request import build_view
from botwall.scoring.rules import Score

CHROME_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"


def _score(headers: list[tuple[str, str]], scheme: str = "https") -> Score:
    """Score one request on a fresh engine (fresh behaviour windows), through the rule scorer."""
    pseudo = [(":method", "GET"), (":scheme", scheme), (":authority", "shop.test"), (":path", "/")]
    engine = Engine(parse_yaml("{}", "t.yaml"), resources())
    evidence, _ = engine.observe(build_view([*pseudo, *headers], {}))
    return engine.scorer.score(evidence)


def test_real_browsers_score_zero() -> None:
    """Chrome's and Firefox's own captured navigations, over TLS and plain HTTP, have no reasons and score 0."""
    for client in ("chromium-headful", "firefox-headless"):
        for transport in ("https", "http"):
            result = _score(captured_headers(client, "navigation", transport, "shop.test"), transport)
            assert (client, transport, 0, ()) == (client, transport, result.value, result.reasons)


def test_curl_is_an_automation_tool() -> None:
    """curl's own header set scores at least the bot threshold with ua:automation-tool first."""
    result = _score(captured_headers("curl", "plain", "https"))
    assert "ua:automation-tool" == result.reasons[0]
    assert result.value >= 70


def test_library_with_a_chrome_user_agent_is_caught_by_its_headers() -> None:
    """python-requests sending Chrome's user-agent is caught by header order and missing client hints."""
    result = _score(captured_headers("python-requests", "plain", "https", user_agent=CHROME_UA))
    assert "hdr:browser-ua-library-order" == result.reasons[0]
    assert {"hdr:chrome-without-client-hints", "hdr:browser-without-sec-fetch"} <= set(result.reasons)
    assert result.value >= 70


def test_client_hints_not_required_over_plain_http() -> None:
    """Chrome sends no client hints to insecure origins, so their absence over plain HTTP is not evidence."""
    headers = captured_headers("chromium-headful", "navigation", "http", "shop.test")
    assert [] == [name for name, _ in headers if name.startswith("sec-ch-")]
    assert 0 == _score(headers, scheme="http").value


def test_missing_user_agent() -> None:
    """No user-agent and no accept header add up."""
    result = _score([])
    assert (55, ("ua:missing", "hdr:no-accept")) == (result.value, result.reasons)
