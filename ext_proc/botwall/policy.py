"""Policy: from a score and the evidence to a Decision, purely (no I/O, no clock, no state).

The first policy whose match fits the request and whose `min_score` the score reaches decides; a request no policy
takes is allowed and tagged. Two actions need state the engine holds, and the decision says so instead of reaching
for it: a throttle carries the key of its token bucket (`Decision.bucket`; the engine asks the store whether the
budget allows the request), and a challenge carries no cookie yet (the engine mints it and remembers the challenge).
Whether this client was challenged moments ago is an input, read from the store by the engine.

**A refusal needs the client's own evidence.** Evidence about a crowd the client belongs to (its browser build, a
shared address, an account or a password others try too) may raise the score and send a page request to the
challenge; it never refuses a client on its own. A policy that refuses on a score (block, throttle or deceive with a
`min_score` above 0, or a challenge that cannot be offered) takes a request only when the client's own score
(`Score.own`: the crowds left out) is at least `suspect`. For a holder of botwall's token (a browser that passed the
challenge, or kept the cookie a page handed it) the own score leaves the request's shape out too, unless it is a
tool's: proof accrues to the client, and a passed challenge is not followed by a refusal on the crowd's or the
request's evidence that caused it, only on what the client does since (its cookie's pace, networks and logins). A
policy that does not take a request for this reason leaves it to the next. A client that came back from a challenge
without the token is refused: that is its own evidence.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from botwall.config import Action, Config, DeceiveSpec, Policy, ThrottleSpec
from botwall.evidence.infra import VERIFIED
from botwall.request import RequestView
from botwall.scoring.features import Evidence
from botwall.scoring.rules import Score, own_reasons, signature_weight


class Verdict:
    """The scorer's opinion of the client, independent of the action."""

    HUMAN = "human"
    SUSPECT = "suspect"
    BOT = "bot"
    GOOD_BOT = "good-bot"


@dataclass(frozen=True, slots=True)
class Decision:
    """What botwall decided about one request; blocking is a value, not an exception."""

    action: Action
    enforced: bool
    shadow: bool
    policy: str
    score: int
    verdict: str
    reasons: tuple[str, ...]
    fingerprint: str
    retry_after: int = 0
    deceive: DeceiveSpec | None = None
    set_cookie: str = ""  # a challenge's Set-Cookie value (botwall's token), filled in by the engine
    bucket: str = ""  # a throttle's token bucket, which the engine checks against the store
    throttle: ThrottleSpec | None = None
    own: int = 0  # the client's own score (`Score.own`), which a refusal on a score needs
    # On a transaction route (`config.transactions`): its name, its risk (the score with its velocity reasons'
    # points added) and the campaign the client belongs to, if any (filled in by the server).
    transaction: str = ""
    risk: int = 0
    campaign: str = ""

    @property
    def mitigates(self) -> bool:
        """True when the request is answered by botwall instead of reaching the upstream."""
        return self.enforced and self.action in _ANSWERED


_ANSWERED = frozenset((Action.BLOCK, Action.THROTTLE, Action.DECEIVE, Action.CHALLENGE))

# The reason code and policy name of a decision botwall took because judging the request failed.
ERROR_REASON = "err:internal"
ON_ERROR_POLICY = "on-error"


def verdict(score: int, config: Config) -> str:
    """Map a score to its verdict band."""
    t = config.thresholds
    if score >= t.bot:
        return Verdict.BOT
    if score >= t.suspect:
        return Verdict.SUSPECT
    return Verdict.HUMAN


def decide(score: Score, evidence: Evidence, config: Config, challenged_lately: bool = False) -> Decision:
    """The first policy that takes the request, as a Decision (see the module docstring for throttle and challenge).

    `challenged_lately`: this address, fingerprint and path got a challenge moments ago and came back without the
    token, so the client keeps no cookies and a challenge cannot sort it out.
    """
    view = evidence.view
    fp = evidence.fingerprint
    if evidence.crawler == VERIFIED or evidence.ip.reputation == "allow":
        # Verified search and AI crawlers, and the operator's allowlist, are let through and labelled.
        score = Score(0, score.reasons, 0)
    label = Verdict.GOOD_BOT if evidence.crawler == VERIFIED else verdict(score.value, config)
    for policy in config.policies:
        if score.value < policy.min_score:
            continue
        if policy.action is Action.CHALLENGE and evidence.token:
            continue  # the client passed a challenge already: the next policy decides
        if not policy.match.matches(view.authority, view.path, view.method):
            continue
        if policy.tokenless_only and (
            (evidence.token and not evidence.token_roams)
            or (evidence.kind == "page" and view.method in ("GET", "HEAD"))
        ):
            # For API calls and form posts without botwall's token, or with one never seen from this network (an
            # event's `require_token`): a page view is left to the challenge, and adds its network to the token.
            continue
        shadow = config.shadow or policy.shadow
        if policy.action is Action.CHALLENGE:
            challengeable = (
                view.method in ("GET", "HEAD")
                and evidence.kind == "page"
                and not signature_weight(own_reasons(score.reasons, evidence))
                and config.client_cookie.issue
                and not challenged_lately
            )
            if not challengeable and not challenged_lately and not convicts(score, config):
                continue  # cannot be challenged, and only a crowd's evidence is against it
            action = Action.CHALLENGE if challengeable else Action.BLOCK
            return Decision(
                action, not shadow, shadow, policy.name, score.value, label, score.reasons, fp, own=score.own
            )
        if policy.action in _REFUSALS and policy.min_score > 0 and not convicts(score, config):
            continue
        if policy.action is Action.DECEIVE and not _deceivable(policy, evidence):
            continue
        return _take(policy, view, shadow, score, label, fp, evidence)
    return Decision(Action.ALLOW, True, config.shadow, "", score.value, label, score.reasons, fp, own=score.own)


_REFUSALS = frozenset((Action.BLOCK, Action.THROTTLE, Action.DECEIVE))


def _deceivable(policy: Policy, evidence: Evidence) -> bool:
    """A deceive policy never answers a verified crawler or the operator's allowlist (their decisions matter to the
    site: a search engine indexing fake pages), and only on the endpoints it names, if it names any."""
    if evidence.crawler == VERIFIED or evidence.ip.reputation == "allow":
        return False
    return policy.deceive is None or policy.deceive.covers(evidence.view.path)


def convicts(score: Score, config: Config) -> bool:
    """Whether the client's own evidence lets a policy that refuses on a score refuse it (see the module docstring)."""
    return score.own >= config.thresholds.suspect


def _take(
    policy: Policy, view: RequestView, shadow: bool, score: Score, label: str, fp: str, evidence: Evidence
) -> Decision:
    bucket = _bucket_key(policy.name, policy.throttle, evidence) if policy.throttle is not None else ""
    return Decision(
        action=policy.action,
        enforced=not shadow,
        shadow=shadow,
        policy=policy.name,
        score=score.value,
        verdict=label,
        reasons=score.reasons,
        fingerprint=fp,
        deceive=policy.deceive,
        bucket=bucket,
        throttle=policy.throttle,
        own=score.own,
    )


def within_budget(decision: Decision) -> Decision:
    """A throttle decision whose bucket had a token: the request passes as if no policy had matched, tagged."""
    return replace(decision, action=Action.ALLOW, enforced=True, bucket="", throttle=None)


def failed(config: Config, holds_token: bool | None, page_request: bool) -> Decision:
    """The decision for a request botwall failed to judge (a bug of its own, never the input): `on_error`.

    Under `challenge`, a client holding a valid botwall token continues (it kept what it was given), a page request
    without one gets the challenge, and anything else is refused; `holds_token` None means even that could not be
    worked out, and the request is refused.
    """
    action = Action.BLOCK
    if config.on_error == "allow" or (config.on_error == "challenge" and holds_token):
        action = Action.ALLOW
    elif config.on_error == "challenge" and holds_token is False and page_request and config.client_cookie.issue:
        action = Action.CHALLENGE
    shadow = config.shadow
    enforced = action is Action.ALLOW or not shadow
    score = config.thresholds.suspect
    return Decision(action, enforced, shadow, ON_ERROR_POLICY, score, Verdict.SUSPECT, (ERROR_REASON,), "", own=score)


def _bucket_key(policy: str, spec: ThrottleSpec, evidence: Evidence) -> str:
    view = evidence.view
    if spec.key == "ip":
        # Behind a shared address (an office, a carrier gateway) each holder of botwall's token has a bucket of its
        # own, so colleagues do not spend each other's budget; a client without one keeps the address's bucket.
        shared = evidence.behaviour.ip_shared and evidence.token_id
        subject = f"tok:{evidence.token_id}" if shared else view.client_ip
    elif spec.key == "fingerprint":
        subject = evidence.fingerprint
    elif spec.key == "token":
        # Per holder of botwall's token; a client without one (or with one not valid for it) counts per address.
        subject = f"tok:{evidence.token_id}" if evidence.token_id else view.client_ip
    elif spec.key.startswith("cookie:"):
        # Per the site's session (an account): by a hash of the cookie's value; without it, per address.
        value = view.cookie(spec.key[len("cookie:") :])
        subject = f"c:{hashlib.blake2b(value.encode(), digest_size=12).hexdigest()}" if value else view.client_ip
    else:
        # A missing API key shares one bucket per client IP rather than one bucket for everybody.
        subject = view.header(spec.key[len("header:") :]) or f"ip:{view.client_ip}"
    return f"tb|{policy}|{spec.key}|{subject}"
