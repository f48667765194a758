"""The infrastructure and credential pillars through the engine: evidence becomes reasons, verdicts and actions."""

from __future__ import annotations

from pathlib import Path

from botwall.clock import FakeClock
from botwall.config import load_config, parse_yaml
from botwall.engine import Engine
from botwall.lab.testing import captured_headers, resources
from botwall.request import SOURCE_ADDRESS, RequestView, build_view
from botwall.resources import load_resources
from botwall.scoring.rules import RuleScorer

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
FIREFOX = captured_headers("firefox-headless", "navigation", "http", "shop.test")
CONFIG = "policies: [{name: bots, min_score: 70, action: block}]"


def _view(ip: str, headers: list[tuple[str, str]]) -> RequestView:
    return build_view([(":method", "GET"), (":path", "/"), *headers], {SOURCE_ADDRESS: f"{ip}:1"})


def test_verified_googlebot_is_a_good_bot_and_a_fake_one_is_blocked() -> None:
    """Googlebot from Google's published range is allowed as good-bot; the same UA from elsewhere is blocked."""
    engine = Engine(parse_yaml(CONFIG, "t.yaml"), resources(), clock=FakeClock())
    real = engine.decide(_view("66.249.66.1", [("user-agent", GOOGLEBOT), ("accept", "*/*")]))
    fake = engine.decide(_view("81.2.69.160", [("user-agent", GOOGLEBOT), ("accept", "*/*")]))
    assert ("allow", "good-bot", 0) == (str(real.action), real.verdict, real.score)
    assert "ip:verified-crawler" in real.reasons
    assert ("block", "ip:fake-crawler") == (str(fake.action), fake.reasons[0])


def test_browser_from_a_cloud_is_noted_not_blocked() -> None:
    """A browser on an AWS address carries ip:hosting but stays below the block threshold."""
    engine = Engine(parse_yaml(CONFIG, "t.yaml"), resources(), clock=FakeClock())
    decision = engine.decide(_view("52.95.110.1", FIREFOX))
    assert ("allow", ("ip:hosting",)) == (str(decision.action), decision.reasons)


def test_operator_lists_mark_bad_and_allowed_networks(tmp_path: Path) -> None:
    """A user reputation list adds ip:bad-reputation; an allowlist zeroes the score of a bot it covers."""
    (tmp_path / "bad.txt").write_text("# proxies we have seen stuffing\n81.2.69.0/24\n")
    (tmp_path / "partners.txt").write_text("AS15169\n")
    (tmp_path / "botwall.yaml").write_text(
        CONFIG + "\nip_data:\n  reputation_lists:\n"
        "    - {path: bad.txt, reputation: bad}\n    - {path: partners.txt, reputation: allow, name: partners}\n"
    )
    config = load_config(tmp_path / "botwall.yaml")
    engine = Engine(config, load_resources(config, RuleScorer()), clock=FakeClock())
    bad = engine.decide(_view("81.2.69.160", FIREFOX))
    partner = engine.decide(_view("8.8.8.8", [("user-agent", "curl/8.5.0")]))
    assert "ip:bad-reputation" in bad.reasons
    assert ("allow", 0) == (str(partner.action), partner.score)
