"""Scorers turn the evidence of a request into a 0-100 score and reason codes ordered by weight.

`RuleScorer` weighs the reason codes the evidence pillars fired, transparently. It implements the same `Scorer`
interface as the ONNX model (`scoring.model`), and is what `model: {scorer: rules}` asks for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from botwall.scoring.features import FEATURE_GROUPS, Evidence


@dataclass(frozen=True, slots=True)
class Score:
    """A score (higher means more likely automated), the reason codes behind it, strongest first, and `own`: what
    the client's own evidence scores without the crowds it belongs to (its browser build, a shared address, an
    account or a password others try too). Policies refuse on `own` (see `policy.decide`)."""

    value: int
    reasons: tuple[str, ...]
    own: int


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
    "beh:cookie-many-usernames": 60,
    "beh:cookie-many-usernames-many": 80,
    "beh:cookie-failed-logins": 40,
    "beh:cookie-high-rate": 50,
    # One client polling one API endpoint (15 calls in about a minute, three API calls or more per page view) that
    # the site's own pages do not poll: the client's own behaviour, and a bot's (a sneaker bot watching a drop).
    "beh:endpoint-polling": 70,
    # A click from this site's page that the address never loaded, without a cookie (a scraper's spoofed referer).
    "beh:orphan-referer": 30,
    # A login with no history behind it: no botwall cookie and no page view from its address (a person loads the
    # login page first), or no cookie on a site where people hold one.
    "cred:cold-login": 40,
    "cred:tokenless-login": 30,
    # Transactions (`config.transactions`): velocity checks on the body's fields, weighed into the transaction's risk
    # (`x-botwall-risk`) only, never into the score the policies read. The same applicant's details from several
    # clients (collective: it says something of the details, not of this client), several applicants from one
    # client, and a body a real form never sends.
    "txn:details-many-clients": 30,
    "txn:client-many-applicants": 50,
    "txn:unreadable-body": 20,
    # Added by a live mitigation that follows a campaign (`botwall.mitigations`) to the request it refused.
    "mit:campaign-tells": 0,
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


# Reasons of the client's own that ask it for proof: one of them sends a page request to the challenge whatever the
# model says (the score is floored at SIGNATURE), yet none is a signature, so the challenge is offered rather than a
# refusal. A browser passes it and the reason cannot fire again (it needs a request without cookies); a client that
# keeps no cookies comes back without the token and is refused. With no challenge policy, the block policy refuses
# it: it is the client's own evidence. `beh:orphan-referer` (a click from a page of this site that the address
# never loaded, without a cookie) is a scraper's spoofed referer; a person clicking a link holds the cookie the page
# handed out.
PROOF_WANTED = frozenset({"beh:orphan-referer"})


def proof_floor(own_codes: Iterable[str]) -> int:
    """SIGNATURE when the client's own reasons ask it for proof (`PROOF_WANTED`), else 0."""
    return SIGNATURE if any(code in PROOF_WANTED for code in own_codes) else 0


# Evidence about a crowd the client belongs to, never about the client alone: a browser build's cold share or
# failed logins, an account or a password many try, a network many share. It may raise suspicion and send a page to
# the challenge; it refuses nobody on its own.
COLLECTIVE_REASONS = frozenset(
    {
        "beh:fingerprint-stuffing",
        "beh:fingerprint-cold-requests",
        "beh:account-many-ips",
        "beh:password-spray",
        "txn:details-many-clients",
        "ip:vpn",
        "ip:tor",
        "ip:proxy",
        *(group.reason for group in FEATURE_GROUPS if group.collective),
    }
)
# Per-address behaviour: the client's own on its own address, a crowd's behind a shared one (`ip_shared`).
ADDRESS_REASONS = frozenset(
    {
        "beh:very-high-rate",
        "beh:high-rate",
        "beh:regular-timing",
        "beh:many-usernames",
        "beh:many-usernames-many",
        "beh:failed-logins",
        "beh:new-session-every-request",
        "beh:high-error-ratio",
        "beh:no-assets",
        "ml:address-behaviour",
    }
)


def own_reasons(reasons: Iterable[str], evidence: Evidence, weights: Mapping[str, int] = DEFAULT_WEIGHTS) -> list[str]:
    """The reasons that are about this client alone (see `Score.own` and `features.crowd`): collective ones out,
    per-address ones out behind a shared address, and for a holder of botwall's token the request's shape out unless
    it is a tool's (a signature, or tells adding up to `TOOL_FLOOR`)."""
    shared = evidence.behaviour.ip_shared
    out = [code for code in reasons if code not in COLLECTIVE_REASONS and not (shared and code in ADDRESS_REASONS)]
    if evidence.token:
        shape = [code for code in out if code.startswith(TOOL_PREFIXES)]
        tool = sum(weights.get(code, 10) for code in shape)
        if tool < TOOL_FLOOR and not any(weights.get(code, 10) >= SIGNATURE for code in shape):
            out = [code for code in out if not code.startswith(TOOL_PREFIXES)]
    return out


def signature_weight(ranked: Iterable[str], weights: Mapping[str, int] = DEFAULT_WEIGHTS) -> int:
    """The weight of the strongest reason of the client's own (`ranked` is ordered by weight) when it is a
    signature, else 0. Collective evidence is never a signature."""
    for code in ranked:
        if code not in COLLECTIVE_REASONS:
            top = weights.get(code, 10)
            return top if top >= SIGNATURE else 0
    return 0


class RuleScorer:
    """Sums the weights of the reason codes that fired: transparent, and the fallback when no model is wanted."""

    def __init__(self, weights: Mapping[str, int] | None = None) -> None:
        self._weights = dict(DEFAULT_WEIGHTS if weights is None else weights)

    def score(self, evidence: Evidence) -> Score:
        """Score one request from the reasons its evidence fired."""
        if not evidence.reasons:
            return Score(0, (), 0)
        w = self._weights
        ranked = sorted(evidence.reasons, key=lambda code: -w.get(code, 10))
        own = own_reasons(ranked, evidence, w)
        proof = proof_floor(own)
        return Score(
            max(proof, min(100, sum(w.get(code, 10) for code in ranked))),
            tuple(ranked),
            max(proof, min(100, sum(w.get(c, 10) for c in own))),
        )
