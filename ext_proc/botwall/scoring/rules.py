"""Scorers turn the evidence of a request into a 0-100 score and reason codes ordered by weight.

`RuleScorer` weighs the reason codes the evidence pillars fired, transparently. It implements the same `Scorer`
interface as the ONNX model (`scoring.model`), and is what `model: {scorer: rules}` asks for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from botwall.scoring.features import FEATURE_GROUPS, Evidence


@dataclass(frozen=True, slots=True)
class Score:
    """A score (higher means more likely automated) and the reason codes behind it, strongest first."""

    value: int
    reasons: tuple[str, ...]


class Scorer(Protocol):
    """What every scorer implements."""

    def score(self, evidence: Evidence) -> Score: ...


# Points per reason code; the sum is capped at 100. Unknown codes weigh 10.
DEFAULT_WEIGHTS: Mapping[str, int] = {
    "ua:missing": 45,
    "ua:automation-tool": 75,
    "ua:headless-browser": 80,
    "ua:scanner": 90,
    "ua:declared-crawler": 20,
    "ip:fake-crawler": 90,
    "ip:verified-crawler": 0,
    "ip:hosting": 20,
    "ip:vpn": 10,
    "ip:tor": 30,
    "ip:proxy": 25,
    "ip:bad-reputation": 50,
    "ip:allowlisted": 0,
    "hdr:no-accept": 10,
    # A header value over its bound (a 5,000-digit version, a 50 KB user-agent): no real client sends one.
    "hdr:malformed-value": 80,
    "hdr:missing-accept-language": 25,
    "hdr:chrome-without-client-hints": 35,
    "hdr:client-hints-version-mismatch": 40,
    "hdr:client-hints-non-chromium": 40,
    "hdr:browser-without-sec-fetch": 20,
    "hdr:sec-fetch-inconsistent": 30,
    "hdr:navigation-to-api-path": 15,
    "hdr:browser-ua-library-order": 60,
    "hdr:browser-order-mismatch": 30,
    "hdr:non-browser-accept-encoding": 20,
    "tls:known-tool": 40,
    "tls:browser-ua-tool-fingerprint": 80,
    "tls:browser-family-mismatch": 50,
    "cred:breached-password": 15,
    "cred:unreadable-login": 20,
    # A login body built to break parsers (dozens of fields, nesting past the parser's depth).
    "cred:malformed-login": 80,
    "beh:high-rate": 30,
    "beh:very-high-rate": 60,
    "beh:regular-timing": 25,
    "beh:many-usernames": 50,
    "beh:many-usernames-many": 80,
    "beh:failed-logins": 40,
    "beh:password-spray": 60,
    "beh:fingerprint-stuffing": 70,
    "beh:account-many-ips": 20,
    "beh:new-session-every-request": 25,
    "beh:high-error-ratio": 25,
    "beh:no-assets": 15,
    "beh:fingerprint-cold-requests": 40,
    "beh:cookie-many-networks": 70,
    # Why the model scored what it did, when its score is at least suspect (scoring.model, FEATURE_GROUPS): listed
    # after the evidence's own reasons, never a signature.
    **{group.reason: 0 for group in FEATURE_GROUPS},
}


# Rule weight from which one reason alone is a signature: the model's score cannot go under it (the default block
# threshold), and a challenge is not offered (a tool that announces itself is refused outright).
SIGNATURE = 70
# What the request's own shape weighs (user-agent, header and TLS reasons together), from which it is a floor under
# the model's score too: a browser's user-agent on a library's headers is a tool on every request, the first included.
TOOL_FLOOR = 90
TOOL_PREFIXES = ("ua:", "hdr:", "tls:")


def signature_weight(ranked: tuple[str, ...], weights: Mapping[str, int] = DEFAULT_WEIGHTS) -> int:
    """The weight of the strongest reason (`ranked` is ordered by weight) when it is a signature, else 0."""
    top = weights.get(ranked[0], 10) if ranked else 0
    return top if top >= SIGNATURE else 0


class RuleScorer:
    """Sums the weights of the reason codes that fired: transparent, and the fallback when no model is wanted."""

    def __init__(self, weights: Mapping[str, int] | None = None) -> None:
        self._weights = dict(DEFAULT_WEIGHTS if weights is None else weights)

    def score(self, evidence: Evidence) -> Score:
        """Score one request from the reasons its evidence fired."""
        if not evidence.reasons:
            return Score(0, ())
        w = self._weights
        ranked = sorted(evidence.reasons, key=lambda code: -w.get(code, 10))
        return Score(min(100, sum(w.get(code, 10) for code in ranked)), tuple(ranked))
