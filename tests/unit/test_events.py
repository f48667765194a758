"""The decision log: one JSON line per logged decision, never a secret from the request."""

from __future__ import annotations

import io
import json
import random

from botwall.config import Action, DecisionLogSettings
from botwall.edge.decision_log import DecisionLog
from botwall.policy import Decision
from botwall.request import SOURCE_ADDRESS, build_view

SECRET_HEADERS = [
    ("user-agent", "python-requests/2.32.3"),
    ("authorization", "Bearer s3cr3t-token-value"),
    ("cookie", "session=cookie-secret-value"),
    ("x-api-key", "apikey-secret-value"),
]


def _view():  # type: ignore[no-untyped-def]
    pseudo = [(":method", "POST"), (":path", "/login?password=query-secret-value"), (":authority", "shop")]
    return build_view([*pseudo, *SECRET_HEADERS], {SOURCE_ADDRESS: "192.0.2.9:1"})


def test_block_is_logged_without_secrets() -> None:
    """A block decision is written as JSON with its fields and no authorization, cookie or query value."""
    out = io.StringIO()
    log = DecisionLog(DecisionLogSettings(allow_sample_rate=0.0), out)
    log.record(Decision(Action.BLOCK, True, False, "bots", 75, "bot", ("ua:automation-tool",), "f" * 16), _view())
    line = out.getvalue()
    event = json.loads(line)
    assert ("decision", "block", "bot", 75, "bots", "192.0.2.9", "/login") == (
        event["event"],
        event["action"],
        event["verdict"],
        event["score"],
        event["policy"],
        event["client_ip"],
        event["path"],
    )
    for secret in ("s3cr3t", "cookie-secret", "apikey-secret", "query-secret"):
        assert secret not in line


def test_allows_are_sampled_and_actions_always_logged() -> None:
    """With a 0 sample rate no allow is logged; shadowed blocks are always logged."""
    out = io.StringIO()
    log = DecisionLog(DecisionLogSettings(allow_sample_rate=0.0), out, random.Random(1))  # noqa: S311 - seeded sampling, not security
    allow = Decision(Action.ALLOW, True, False, "", 0, "human", (), "a" * 16)
    shadow_block = Decision(Action.BLOCK, False, True, "bots", 80, "bot", (), "b" * 16)
    for _ in range(50):
        log.record(allow, _view())
    log.record(shadow_block, _view())
    lines = out.getvalue().splitlines()
    assert 1 == len(lines)
    assert (True, False) == (json.loads(lines[0])["shadow"], json.loads(lines[0])["enforced"])


def test_allow_sampling_rate_is_respected() -> None:
    """A 0.25 sample rate logs roughly a quarter of allowed requests (seeded)."""
    out = io.StringIO()
    log = DecisionLog(DecisionLogSettings(allow_sample_rate=0.25), out, random.Random(7))  # noqa: S311 - seeded sampling, not security
    allow = Decision(Action.ALLOW, True, False, "", 0, "human", (), "a" * 16)
    for _ in range(2_000):
        log.record(allow, _view())
    assert 400 < len(out.getvalue().splitlines()) < 600
