"""The decision engine: from a RequestView to a Decision, with no gRPC or Envoy types in sight."""

from __future__ import annotations

from dataclasses import dataclass

from botwall.config import Action, Config, DeceiveSpec, Policy, ThrottleSpec
from botwall.fingerprint import fingerprint
from botwall.request import RequestView
from botwall.scoring import RuleScorer, Scorer
from botwall.store import Store, create_store, retry_after_seconds


class Verdict:
    """The scorer's opinion of the client, independent of the action."""

    HUMAN = "human"
    SUSPECT = "suspect"
    BOT = "bot"


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

    @property
    def mitigates(self) -> bool:
        """True when the request is answered by botwall instead of reaching the upstream."""
        return self.enforced and self.action in (Action.BLOCK, Action.THROTTLE, Action.DECEIVE)


class Engine:
    """Scores a request, picks the first policy that takes it, and applies that policy's action."""

    def __init__(self, config: Config, scorer: Scorer | None = None, store: Store | None = None) -> None:
        self.config = config
        self.scorer: Scorer = scorer or RuleScorer()
        self.store: Store = store if store is not None else create_store(config.state)

    def verdict(self, score: int) -> str:
        """Map a score to its verdict band."""
        t = self.config.thresholds
        if score >= t.bot:
            return Verdict.BOT
        if score >= t.suspect:
            return Verdict.SUSPECT
        return Verdict.HUMAN

    def decide(self, view: RequestView) -> Decision:
        """The whole request-headers decision."""
        result = self.scorer.score(view)
        fp = fingerprint(view)
        verdict = self.verdict(result.value)
        for policy in self.config.policies:
            if result.value < policy.min_score:
                continue
            if not policy.match.matches(view.authority, view.path, view.method):
                continue
            return self._apply(policy, view, result.value, verdict, result.reasons, fp)
        return Decision(Action.ALLOW, True, self.config.shadow, "", result.value, verdict, result.reasons, fp)

    def _apply(
        self, policy: Policy, view: RequestView, score: int, verdict: str, reasons: tuple[str, ...], fp: str
    ) -> Decision:
        shadow = self.config.shadow or policy.shadow
        retry_after = 0
        if policy.action is Action.THROTTLE:
            assert policy.throttle is not None
            wait = self.store.take_token(
                _bucket_key(policy.name, policy.throttle, view, fp), policy.throttle.rate, policy.throttle.burst
            )
            if wait == 0.0:
                # Within its budget: the request passes as if no policy had matched, tagged.
                return Decision(Action.ALLOW, True, shadow, policy.name, score, verdict, reasons, fp)
            retry_after = retry_after_seconds(wait)
        return Decision(
            action=policy.action,
            enforced=not shadow,
            shadow=shadow,
            policy=policy.name,
            score=score,
            verdict=verdict,
            reasons=reasons,
            fingerprint=fp,
            retry_after=retry_after,
            deceive=policy.deceive,
        )


def _bucket_key(policy: str, spec: ThrottleSpec, view: RequestView, fp: str) -> str:
    if spec.key == "ip":
        subject = view.client_ip
    elif spec.key == "fingerprint":
        subject = fp
    else:
        # A missing API key shares one bucket per client IP rather than one bucket for everybody.
        subject = view.header(spec.key[len("header:") :]) or f"ip:{view.client_ip}"
    return f"tb|{policy}|{spec.key}|{subject}"
