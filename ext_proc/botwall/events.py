"""The decision event (proto/decision.proto) and the decision log that writes it as JSON lines.

One event per decision; every enforced or shadowed action is logged, allowed requests are sampled. The event holds
the user-agent and nothing else from the request's headers: never a password, cookie or authorization value.
"""

from __future__ import annotations

import random
import sys
import time
from typing import Any, TextIO

import structlog
from google.protobuf import json_format

from botwall._proto import decision_pb2
from botwall.config import Action, DecisionLogSettings
from botwall.engine import Decision, Verdict
from botwall.evidence.credentials import LoginAttempt
from botwall.request import RequestView

_VERDICTS = {
    Verdict.HUMAN: decision_pb2.VERDICT_HUMAN,
    Verdict.SUSPECT: decision_pb2.VERDICT_SUSPECT,
    Verdict.BOT: decision_pb2.VERDICT_BOT,
    Verdict.GOOD_BOT: decision_pb2.VERDICT_GOOD_BOT,
}
_ACTIONS = {
    Action.ALLOW: decision_pb2.ACTION_ALLOW,
    Action.MONITOR: decision_pb2.ACTION_MONITOR,
    Action.BLOCK: decision_pb2.ACTION_BLOCK,
    Action.THROTTLE: decision_pb2.ACTION_THROTTLE,
    Action.DECEIVE: decision_pb2.ACTION_DECEIVE,
}
# Metadata namespace for Envoy's access log: %DYNAMIC_METADATA(botwall:verdict)%.
METADATA_NAMESPACE = "botwall"


def decision_event(
    decision: Decision, view: RequestView, login: LoginAttempt | None = None, now_ms: int | None = None
) -> decision_pb2.DecisionEvent:
    """The contract message for one decision."""
    return decision_pb2.DecisionEvent(
        request_id=view.header("x-request-id"),
        score=decision.score,
        verdict=_VERDICTS.get(decision.verdict, decision_pb2.VERDICT_UNSPECIFIED),
        action=_ACTIONS[decision.action],
        reasons=decision.reasons,
        fingerprint=decision.fingerprint,
        policy=decision.policy,
        shadow=decision.shadow,
        enforced=decision.enforced,
        client_ip=view.client_ip,
        method=view.method,
        authority=view.authority,
        path=view.path,
        user_agent=view.header("user-agent"),
        ja4=view.ja4,
        retry_after_s=decision.retry_after,
        timestamp_ms=now_ms if now_ms is not None else int(time.time() * 1000),
        username=login.username if login is not None else "",
        login_route=login.route if login is not None else "",
    )


def metadata_fields(decision: Decision) -> dict[str, Any]:
    """The decision's fields for Envoy dynamic metadata; names are DecisionEvent's field names."""
    return {
        "score": decision.score,
        "verdict": decision.verdict,
        "action": str(decision.action),
        "reasons": ",".join(decision.reasons),
        "fingerprint": decision.fingerprint,
        "policy": decision.policy,
        "shadow": decision.shadow,
        "enforced": decision.enforced,
    }


def event_dict(event: decision_pb2.DecisionEvent) -> dict[str, Any]:
    """A JSON-ready dict of the event, with enum values as short lower-case names (`bot`, `block`)."""
    out = json_format.MessageToDict(event, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
    out["verdict"] = decision_pb2.Verdict.Name(event.verdict).removeprefix("VERDICT_").lower()
    out["action"] = decision_pb2.Action.Name(event.action).removeprefix("ACTION_").lower()
    out["timestamp_ms"] = event.timestamp_ms  # MessageToDict turns 64-bit integers into strings
    return out


class DecisionLog:
    """Writes one JSON line per logged decision through structlog."""

    def __init__(
        self,
        settings: DecisionLogSettings,
        stream: TextIO | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._sample = settings.allow_sample_rate
        self._rng = rng or random.Random()  # noqa: S311 - sampling, not security
        self._log = structlog.wrap_logger(
            structlog.PrintLogger(stream or sys.stdout),
            processors=[structlog.processors.JSONRenderer()],
        )

    def should_log(self, decision: Decision) -> bool:
        """Every action other than allow is logged (shadowed ones too); allows are sampled."""
        if decision.action is not Action.ALLOW:
            return True
        return self._sample > 0 and self._rng.random() < self._sample

    def record(self, decision: Decision, view: RequestView, login: LoginAttempt | None = None) -> None:
        """Log the decision if it should be (logins always are: they are what analysts audit)."""
        if login is not None or self.should_log(decision):
            self._log.info("decision", **event_dict(decision_event(decision, view, login)))
