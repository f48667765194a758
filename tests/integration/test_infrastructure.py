"""The infrastructure pillar end to end: the client IP Envoy derives (one trusted X-Forwarded-For hop) decides
whether a crawler's user-agent is believed."""

from __future__ import annotations

import json

import pytest

from .conftest import StackFactory

pytestmark = pytest.mark.integration

GOOGLEBOT = [
    ("user-agent", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
    ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("accept-encoding", "gzip, deflate, br"),
]
CONFIG = "decision_log: {allow_sample_rate: 1.0}\npolicies: [{name: bots, min_score: 70, action: block}]\n"


def test_googlebot_is_believed_only_from_googles_ranges(make_stack: StackFactory) -> None:
    """From Google's published range Googlebot passes as a good bot; from a UK broadband address it is blocked."""
    stack = make_stack(CONFIG, trusted_hops=1)
    real = stack.request("/_echo", headers=[*GOOGLEBOT, ("x-forwarded-for", "66.249.66.1")])
    fake = stack.request("/_echo", headers=[*GOOGLEBOT, ("x-forwarded-for", "81.2.69.160")])
    assert (200, 403) == (real.status, fake.status)
    seen = dict(json.loads(real.body)["headers"])
    assert ("good-bot", "0") == (seen["x-botwall-verdict"], seen["x-botwall-score"])
    decisions = {d["client_ip"]: d for d in stack.decisions()}
    assert "ip:fake-crawler" == decisions["81.2.69.160"]["reasons"][0]
    assert "ip:verified-crawler" in decisions["66.249.66.1"]["reasons"]
