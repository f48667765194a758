"""Event mode: a drop or a sale gives its endpoints a stricter profile while it runs.

An event (`events:` in the config, or created through the admin API) names its endpoints and a profile, and runs by its
schedule or from `botwall event start` until its end or `botwall event stop`. While it runs, policies derived from it
go before the config's own, on its endpoints only:

- `event:<name>:strict:<i>`: refuse from the event's `min_score` (lower than the usual bot threshold); as for every
  policy that refuses on a score, only a client whose *own* evidence reaches it (people on the attacker's build or
  network are not refused for the crowd's evidence);
- `event:<name>:new-clients:<i>`: page views from clients without botwall's cookie get the challenge (a browser is
  back within a round trip, with the cookie; a script that drops cookies is refused);
- `event:<name>:token:<i>` (`require_token`, the default): an API call or a form post without botwall's cookie, or
  with one seen before from other networks only, is refused. A browser that loaded the event's page holds it and
  presents it from there; a script that goes straight to the cart from a new address has none, and a cookie farmed
  at one exit and spent at another comes from a network it was never seen on: the client's own evidence;
- `event:<name>:quota:<i>`: at most N requests per so many seconds per key (a token, an account's session cookie, an
  address): one purchase attempt per client, people included, which is what makes a drop fair.

Ahead of its start, `expected_load` carries the load the event expects (`botwall_event_expected_rps` in `/metrics`),
so an autoscaler can grow the gateway before the drop. Every start and stop, by the schedule or by a person, is an
audit record (who, when, why, what it changed) and a transition the alerts report. The book is checked at most once
a second on the request path; without a running event it costs one comparison.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from botwall.config import MAX_EVENTS, Action, Config, EventSpec, Policy, ThrottleSpec

_AUDIT = 1000  # audit records kept
_MAX_MANUAL = 7 * 86400.0  # a manual start runs at most a week


@dataclass
class Running:
    """An event that runs now: from when, until when, and who started it."""

    spec: EventSpec
    since: float
    until: float
    by: str


def event_policies(spec: EventSpec) -> tuple[Policy, ...]:
    """The policies an event puts before the config's own while it runs (see the module docstring)."""
    out: list[Policy] = []
    for i, endpoint in enumerate(spec.endpoints):
        out.append(Policy(f"event:{spec.name}:strict:{i}", endpoint, Action.BLOCK, min_score=spec.min_score))
    if spec.challenge_new_clients:
        for i, endpoint in enumerate(spec.endpoints):
            out.append(Policy(f"event:{spec.name}:new-clients:{i}", endpoint, Action.CHALLENGE))
    if spec.require_token:
        for i, endpoint in enumerate(spec.endpoints):
            out.append(Policy(f"event:{spec.name}:token:{i}", endpoint, Action.BLOCK, tokenless_only=True))
    for i, quota in enumerate(spec.quotas):
        bucket = ThrottleSpec(quota.key, quota.requests / quota.per_seconds, quota.requests)
        out.append(Policy(f"event:{spec.name}:quota:{i}", quota.match, Action.THROTTLE, throttle=bucket))
    return tuple(out)


class EventBook:
    """The events botwall knows, which of them run, and the config the engine decides with."""

    def __init__(self, config: Config, clock: Callable[[], float] = time.time) -> None:
        self.base = config
        self._clock = clock
        self.specs: dict[str, EventSpec] = {spec.name: spec for spec in config.events}
        self.running: dict[str, Running] = {}
        self._stopped: dict[str, float] = {}  # scheduled events stopped by hand: not restarted before this time
        self.audit: deque[dict[str, Any]] = deque(maxlen=_AUDIT)
        self.transitions: deque[dict[str, Any]] = deque(maxlen=100)  # starts and ends the alerts have not read
        self._config = config
        self._checked = -1.0
        self._next_change = float("inf")

    def config(self, now: float) -> Config:
        """The config to decide with at `now`: the base one, or with the running events' policies first."""
        if now - self._checked >= 1.0 or now >= self._next_change:
            self._tick(now)
        return self._config

    def _tick(self, now: float) -> None:
        self._checked = now
        changed = False
        for name, run in list(self.running.items()):
            if now >= run.until:
                del self.running[name]
                if run.by != "schedule" and run.spec.end > now:
                    self._stopped[name] = run.spec.end  # a run by hand ended: the schedule does not take over
                self._record(now, "schedule" if run.by == "schedule" else "expiry", "stop", name, "its end came")
                changed = True
        for spec in self.specs.values():
            scheduled = spec.start and spec.start <= now < spec.end
            if scheduled and spec.name not in self.running and self._stopped.get(spec.name, 0.0) < spec.end:
                self.running[spec.name] = Running(spec, now, spec.end, "schedule")
                self._record(now, "schedule", "start", spec.name, "its scheduled start came")
                changed = True
        if changed:
            self._rebuild()
        upcoming = [s.start for s in self.specs.values() if s.start > now]
        self._next_change = min([*upcoming, *(r.until for r in self.running.values())], default=float("inf"))

    def _rebuild(self) -> None:
        policies = tuple(p for run in self.running.values() for p in event_policies(run.spec))
        self._config = replace(self.base, policies=policies + self.base.policies) if policies else self.base

    def _record(self, now: float, by: str, action: str, name: str, why: str) -> None:
        run = self.running.get(name)
        spec = run.spec if run is not None else self.specs.get(name)
        policies = [p.name for p in event_policies(spec)] if spec is not None else []
        entry = {"time": round(now, 3), "by": by, "action": f"event_{action}", "target": name, "why": why,
                 "changed": {"policies": policies, "running": action == "start"}}  # fmt: skip
        self.audit.append(entry)
        self.transitions.append(entry)

    def define(self, spec: EventSpec, by: str, why: str) -> None:
        """Add an event (or replace one of that name that does not run); bounded like the config's list."""
        if spec.name in self.running:
            raise ValueError(f"event {spec.name} runs: stop it before replacing it")
        if spec.name not in self.specs and len(self.specs) >= MAX_EVENTS:
            raise ValueError(f"at most {MAX_EVENTS} events")
        self.specs[spec.name] = spec
        now = self._clock()
        self.audit.append({"time": round(now, 3), "by": by, "action": "event_define", "target": spec.name,
                           "why": why, "changed": {"policies": [p.name for p in event_policies(spec)]}})  # fmt: skip
        self._checked = -1.0  # a scheduled one may start at once

    def start(self, name: str, minutes: float, by: str, why: str) -> Running:
        """Run an event now for `minutes` (at most a week); a running one is extended."""
        spec = self.specs.get(name)
        if spec is None:
            raise KeyError(name)
        now = self._clock()
        until = now + min(_MAX_MANUAL, max(1.0, minutes * 60.0))
        run = self.running.get(name)
        if run is None:
            run = self.running[name] = Running(spec, now, until, by)
        else:
            run.until, run.by = until, by
        self._stopped.pop(name, None)
        self._record(now, by, "start", name, why)
        self._rebuild()
        self._next_change = min(self._next_change, until)
        return run

    def stop(self, name: str, by: str, why: str) -> bool:
        """Stop a running event now (a scheduled one stays stopped until its scheduled end); False if it did not run."""
        if name not in self.specs:
            raise KeyError(name)
        now = self._clock()
        run = self.running.pop(name, None)
        spec = self.specs[name]
        if spec.end > now:
            self._stopped[name] = spec.end
        if run is None:
            return False
        self._record(now, by, "stop", name, why)
        self._rebuild()
        return True

    def expected_load(self, now: float) -> float:
        """Requests per second the running events, and those starting within their pre-warm time, expect."""
        total = 0.0
        for spec in self.specs.values():
            soon = spec.start and spec.start - spec.prewarm_seconds <= now < spec.end
            if spec.name in self.running or soon:
                total += spec.expected_rps
        return total

    def describe(self, now: float) -> list[dict[str, Any]]:
        """Every event with its state (running, scheduled, ended, idle), window, load and policies."""
        self.config(now)
        out = []
        for spec in self.specs.values():
            run = self.running.get(spec.name)
            if run is not None:
                state = "running"
            elif spec.start and now < spec.start:
                state = "scheduled"
            elif spec.end and now >= spec.end:
                state = "ended"
            else:
                state = "idle"
            out.append(
                {"name": spec.name, "state": state, "start": spec.start or None, "end": spec.end or None,
                 "running_since": round(run.since, 3) if run else None,
                 "running_until": round(run.until, 3) if run else None, "started_by": run.by if run else None,
                 "expected_rps": spec.expected_rps, "min_score": spec.min_score,
                 "challenge_new_clients": spec.challenge_new_clients, "require_token": spec.require_token,
                 "policies": [p.name for p in event_policies(spec)]}
            )  # fmt: skip
        return out
