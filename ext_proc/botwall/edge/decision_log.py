"""The decision event (proto/decision.proto) and the decision log that writes it as JSON lines, bounded.

One event per decision; every enforced or shadowed action and every login is logged, allowed requests are sampled.
The event holds the user-agent and nothing else from the request's headers: never a password, cookie or
authorization value.

The log is bounded, so an attack cannot fill the disk through it:
- Every field has a length cap, in characters (JSON escaping can spend up to 6 bytes on one), applied in `capped`:
  user_agent 512, path 512, authority 256, username 128, client_ip 64, request_id 64, ja4 64, policy 64,
  login_route 64, fingerprint 32, method 16; at most 16 reasons of 64 characters each. A line with a cut value
  names each cut field with its original length in `truncated` (`"truncated": {"user_agent": 51200}`).
- Repeats aggregate. A decision's key is its fingerprint, action, policy, top reason and login route. In each
  interval (`interval_seconds`) the first `full_lines_per_key` decisions of a key are written in full and the rest
  are counted; when the interval ends, one `decision_aggregate` line per key gives how many were left out
  (`suppressed`), their time span and a sample of their client addresses, paths and usernames (`sample_size`
  distinct values each). At most `max_keys` keys are tracked per interval; decisions of further keys are counted
  into one `decision_overflow` line. Logins aggregate like the rest (a stuffing run tries hundreds of usernames a
  second); allowed requests are sampled (`allow_sample_rate`) and written as they come.
Whatever the attack, an interval writes at most max_keys * (full_lines_per_key + 1) + 1 refusal lines.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

import structlog

from botwall._proto import decision_pb2
from botwall.config import Action, DecisionLogSettings
from botwall.edge.workers import worker_processors
from botwall.evidence.credentials import LoginAttempt
from botwall.policy import ON_ERROR_POLICY, Decision, Verdict
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
    Action.CHALLENGE: decision_pb2.ACTION_CHALLENGE,
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
        own_score=decision.own,
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


_FIELDS = tuple(f.name for f in decision_pb2.DecisionEvent.DESCRIPTOR.fields)
_VERDICT_NAMES = {v.number: v.name.removeprefix("VERDICT_").lower() for v in decision_pb2.Verdict.DESCRIPTOR.values}
_ACTION_NAMES = {v.number: v.name.removeprefix("ACTION_").lower() for v in decision_pb2.Action.DESCRIPTOR.values}


def event_dict(event: decision_pb2.DecisionEvent) -> dict[str, Any]:
    """A JSON-ready dict of every event field (proto names), enums as short lower-case names (`bot`, `block`).

    Written out by hand rather than with json_format: under attack every request is logged, and this is 8x faster.
    """
    out: dict[str, Any] = {name: getattr(event, name) for name in _FIELDS}
    out["reasons"] = list(event.reasons)
    out["verdict"] = _VERDICT_NAMES[event.verdict]
    out["action"] = _ACTION_NAMES[event.action]
    return out


# Length caps of the logged string fields, in characters (see the module docstring).
_CAPS = {
    "user_agent": 512,
    "path": 512,
    "authority": 256,
    "username": 128,
    "client_ip": 64,
    "request_id": 64,
    "ja4": 64,
    "policy": 64,
    "login_route": 64,
    "reason": 64,  # each reason code
    "fingerprint": 32,
    "method": 16,
    "action": 16,
    "verdict": 16,
}
_MAX_REASONS = 16


def _cut(name: str, value: str, truncated: dict[str, int]) -> str:
    """`value` within the cap of field `name`; a cut is noted in `truncated` with the longest original length."""
    limit = _CAPS[name]
    if len(value) <= limit:
        return value
    truncated[name] = max(len(value), truncated.get(name, 0))
    return value[:limit]


def capped(fields: dict[str, Any], truncated: dict[str, int] | None = None) -> dict[str, Any]:
    """`fields` (a log line) with every capped field cut to its cap and `truncated` naming what was cut, if any.

    This is where every cap is applied: to the fields of a decision line, to the key fields of an aggregate line,
    and (through `_cut`, as they are collected) to the sampled values of an aggregate line, whose cuts arrive in
    `truncated`.
    """
    truncated = dict(truncated or {})
    for name, value in fields.items():
        if name in _CAPS and isinstance(value, str):
            fields[name] = _cut(name, value, truncated)
    reasons = fields.get("reasons")
    if reasons is not None and (len(reasons) > _MAX_REASONS or any(len(r) > _CAPS["reason"] for r in reasons)):
        fields["reasons"] = [_cut("reason", r, {}) for r in reasons[:_MAX_REASONS]]
        truncated["reasons"] = len(reasons)
    if truncated:
        fields["truncated"] = truncated
    return fields


@dataclass(slots=True)
class _Tally:
    """One key's decisions (or the overflow's) in the current interval: how many were written, and the rest."""

    written: int = 0
    suppressed: int = 0
    first_ms: int = 0
    last_ms: int = 0
    samples: dict[str, list[str]] = field(default_factory=dict)  # by field name: distinct values, capped
    truncated: dict[str, int] = field(default_factory=dict)  # sampled values that were cut

    def count(self, now_ms: int, sample_size: int, values: dict[str, str]) -> None:
        """Count one decision that is not written, keeping up to `sample_size` distinct values of each field."""
        if not self.suppressed:
            self.first_ms = now_ms
        self.suppressed += 1
        self.last_ms = now_ms
        for name, value in values.items():
            seen = self.samples.setdefault(name, [])
            if value and len(seen) < sample_size:
                value = _cut(name, value, self.truncated)
                if value not in seen:
                    seen.append(value)

    def sampled(self, names: tuple[str, ...]) -> dict[str, list[str]]:
        """The samples as log fields: `client_ips`, `paths`, ..."""
        return {f"{name}s": self.samples.get(name, []) for name in names}


class DecisionLog:
    """Writes logged decisions as JSON lines through structlog, repeats folded into one line per key and interval.

    `clock` gives the wall time in seconds (decisions' timestamps and the intervals); inject a `FakeClock` in tests.
    The server calls `record` for every decision; `flush_periodically` (see `start_flushing`) writes each interval's
    aggregate lines when it ends, and `flush` writes what is left at shutdown.
    """

    def __init__(
        self,
        settings: DecisionLogSettings,
        stream: TextIO | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sample = settings.allow_sample_rate
        self._interval = settings.interval_seconds
        self._full = settings.full_lines_per_key
        self._max_keys = settings.max_keys
        self._sample_size = settings.sample_size
        self._rng = rng or random.Random()  # noqa: S311 - sampling, not security
        self._clock = clock
        self._log = structlog.wrap_logger(
            structlog.WriteLogger(stream or sys.stdout),  # a line and its newline in one write (see cli)
            processors=[*worker_processors(), structlog.processors.JSONRenderer()],
        )
        self._start = clock()
        # Key: fingerprint, action, policy, top reason, login route. None of them comes from the client's bytes
        # (the fingerprint is a hash, policies and routes come from the config, reasons from the code), so a key
        # is small; `max_keys` bounds how many there are.
        self._keys: dict[tuple[str, str, str, str, str], _Tally] = {}
        self._overflow = _Tally()

    def should_log(self, decision: Decision) -> bool:
        """Every action other than allow is logged (shadowed ones too), and every failed judgment (`on_error`, even
        an allow); other allows are sampled."""
        if decision.action is not Action.ALLOW or decision.policy == ON_ERROR_POLICY:
            return True
        return self._sample > 0 and self._rng.random() < self._sample

    def record(self, decision: Decision, view: RequestView, login: LoginAttempt | None = None) -> None:
        """Log the decision if it should be (logins always are: they are what analysts audit), or count it into
        its key's aggregate line."""
        now = self._clock()
        self._roll(now)
        if login is None:
            if not self.should_log(decision):
                return
            if decision.action is Action.ALLOW and decision.policy != ON_ERROR_POLICY:  # sampled already
                self._write(decision, view, login, now)
                return
        top = decision.reasons[0] if decision.reasons else ""
        key = (decision.fingerprint, str(decision.action), decision.policy, top, login.route if login else "")
        tally = self._keys.get(key)
        if tally is None:
            if len(self._keys) >= self._max_keys:
                values = {"fingerprint": decision.fingerprint, "action": key[1], "client_ip": view.client_ip}
                self._overflow.count(int(now * 1000), self._sample_size, values)
                return
            tally = self._keys[key] = _Tally()
        if tally.written < self._full:
            tally.written += 1
            self._write(decision, view, login, now)
            return
        values = {"client_ip": view.client_ip, "path": view.path, "username": login.username if login else ""}
        tally.count(int(now * 1000), self._sample_size, values)

    def transaction(self, event: dict[str, Any]) -> None:
        """A transaction judged (`edge.transactions`), as its own line for the fraud review: every one is written."""
        self._log.info("transaction", **event)

    def alert(self, event: dict[str, Any]) -> None:
        """An alert firing or resolving (`edge.alerts`), as its own line for the SIEM."""
        self._log.info("alert", **event)

    def _write(self, decision: Decision, view: RequestView, login: LoginAttempt | None, now: float) -> None:
        event = decision_event(decision, view, login, int(now * 1000))
        self._log.info("decision", **capped(event_dict(event)))

    def _roll(self, now: float) -> None:
        # A clock set back (the wall clock was corrected) ends the interval too.
        if not 0 <= now - self._start < self._interval:
            self._flush(now)

    def flush_due(self) -> None:
        """Write the interval's aggregate lines if it has ended, and start the next."""
        self._roll(self._clock())

    def flush(self) -> None:
        """Write the interval's aggregate lines now, ended or not (at shutdown), and start the next."""
        self._flush(self._clock())

    def _flush(self, now: float) -> None:
        for (fingerprint, action, policy, reason, route), tally in self._keys.items():
            if not tally.suppressed:
                continue
            fields = {
                "fingerprint": fingerprint,
                "action": action,
                "policy": policy,
                "reason": reason,
                "login_route": route,
                "written": tally.written,
                "suppressed": tally.suppressed,
                "first_ms": tally.first_ms,
                "last_ms": tally.last_ms,
                **tally.sampled(("client_ip", "path", "username")),
            }
            self._log.info("decision_aggregate", **capped(fields, tally.truncated))
        overflow = self._overflow
        if overflow.suppressed:
            fields = {
                "max_keys": self._max_keys,
                "suppressed": overflow.suppressed,
                "first_ms": overflow.first_ms,
                "last_ms": overflow.last_ms,
                **overflow.sampled(("fingerprint", "action", "client_ip")),
            }
            self._log.info("decision_overflow", **capped(fields, overflow.truncated))
        self._keys = {}
        self._overflow = _Tally()
        self._start = now

    async def flush_periodically(self) -> None:
        """Write each interval's aggregate lines when it ends, also when no decision arrives to do it."""
        while True:
            await asyncio.sleep(min(1.0, self._interval))
            self.flush_due()


def start_flushing(decision_log: DecisionLog) -> asyncio.Task[None]:
    """Run the decision log's periodic flush on the running event loop (cancel it, then `flush()`, at shutdown)."""
    return asyncio.get_running_loop().create_task(decision_log.flush_periodically(), name="botwall-decision-log-flush")
