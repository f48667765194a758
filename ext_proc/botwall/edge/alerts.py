"""Alert triggers and their deliveries: what a SOC wants pushed to it rather than polled.

Every few seconds an evaluator reads what the request path already counts (accounts under attack, failed logins and
refusals per 10 seconds, discovery's endpoints and new endpoints, the model's reload failures) and checks each
configured trigger (`alerts.triggers`). A trigger fires once per episode, when its value over its window reaches its
threshold (and, with `baseline_factor`, that factor times its mean over the previous hour, so a busy site's normal is
not an alert; such a trigger waits for ten minutes of history after start before it may fire); it resolves when the
value falls back, and stays quiet for `cooldown_seconds` after.

The endpoint kinds keep an episode per endpoint (host, method, template) and name it in their events:
`endpoint_bot_share` is the percentage of an endpoint's requests over the window that were bad bots (verdict bot, or
refused), judged once it had `min_requests`; `endpoint_traffic` is an endpoint's requests over the window against
`baseline_factor` times its own mean over the hour before (the endpoint and the process both ten minutes old first).
Each round judges only the 100 busiest endpoints (and those with an episode open), so a scanner's 2,000 templates cost
a pass over plain counts (a few milliseconds a round), not 2,000 judgments.

Each firing and resolution is a JSON line in the decision log (for the SIEM) and a delivery to every webhook:

- `format: json`: the event as JSON, with `X-Botwall-Timestamp` and, where `secret_env` names a key,
  `X-Botwall-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>">` (a receiver checks it, and rejects old
  timestamps against replays); each event has an `id` to drop the rare second delivery by;
- `format: slack`: a Slack-compatible `{"text": ...}` message.

Deliveries wait in a bounded queue per webhook (drops counted) and are retried with exponential backoff (1, 2, 4, 8
seconds; then given up, counted); a slow or dead receiver holds only its own queue, never a request. Counts are in
`/metrics`; the state of each trigger and the last events are on the admin API (`/api/v1/alerts`). With `--state-dir`
(`edge.persist`), the deliveries still pending (with their attempts so far), the last events and each trigger's
episodes are saved with the rest of the state and come back at start, the deliveries queued again: delivery is at
least once (a delivery that succeeded in the last seconds before a crash is sent again, with the same `id`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import hmac
import json
import os
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog

from botwall import __version__
from botwall.config import ENDPOINT_ALERT_KINDS, Action, AlertTrigger, Webhook
from botwall.edge.inventory import Endpoint
from botwall.edge.server import BotwallServicer
from botwall.scoring.model import OnnxScorer

log = structlog.get_logger("botwall.edge.alerts")

_QUEUE = 1000  # deliveries waiting per webhook
_ATTEMPTS = 5
_TIMEOUT = 5.0  # seconds per delivery attempt
_HISTORY = 200  # events kept for the admin API
_WARM_UP = 600.0  # seconds of history a trigger with a baseline waits for before it may fire
_TOP_ENDPOINTS = 100  # endpoints an endpoint trigger judges per round: the busiest (and those with an episode open)
_SAMPLES = 30  # samples of an endpoint's counts per bot-share window: the window is measured to a thirtieth of itself

# What `edge.persist` saves of the alerts with --state-dir: one table each.
DELIVERIES, EVENTS, TRIGGERS = "alert_deliveries", "alert_events", "alert_triggers"

EndpointKey = tuple[str, str, str]  # host, method, template


@dataclass
class Episode:
    """Whether an episode is on and since when, and what was measured last: a trigger's own, or one endpoint's under an
    endpoint trigger."""

    firing: bool = False
    since: float = 0.0
    quiet_until: float = 0.0
    value: float = 0.0
    baseline: float = 0.0
    requests: int = 0  # endpoint kinds: the endpoint's requests over the window

    def step(self, above: bool, now: float, cooldown: float) -> str:
        """Move the episode on: "firing" when one starts, "resolved" when it ends, "" otherwise."""
        if above and not self.firing and now >= self.quiet_until:
            self.firing, self.since = True, now
            return "firing"
        if not above and self.firing:
            self.firing, self.quiet_until = False, now + cooldown
            return "resolved"
        return ""


@dataclass
class TriggerState(Episode):
    """A trigger's state. An endpoint kind's is firing while any endpoint's episode is, with the highest value measured;
    `endpoints` holds the episodes firing or cooling down (at most one per endpoint discovery keeps)."""

    trigger: AlertTrigger = field(kw_only=True)
    fired: int = 0  # episodes started (an endpoint kind's: over all its endpoints)
    endpoints: dict[EndpointKey, Episode] = field(default_factory=dict)


@dataclass
class WebhookStats:
    delivered: int = 0
    failed_attempts: int = 0
    dropped: int = 0  # queue full, or given up after the last attempt


@dataclass
class Delivery:
    """One event on its way to one webhook, with the attempts made so far."""

    webhook: str
    event: dict[str, Any]
    attempts: int = 0

    @property
    def key(self) -> str:
        return f"{self.webhook}\x1f{self.event['id']}"


@dataclass
class SavedTable:
    """One table of alert records for `edge.persist`: the rows changed and the keys ended since its last batch."""

    put_back: Callable[[Iterable[tuple[str, dict[str, Any]]]], int]
    dirty: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)

    def keep(self, key: str, seen: float, data: dict[str, Any]) -> None:
        self.dirty[key] = (seen, data)

    def forget(self, key: str) -> None:
        self.dirty.pop(key, None)
        self.deleted.add(key)

    def take_dirty(self) -> list[tuple[str, float, dict[str, Any]]]:
        rows = [(key, seen, data) for key, (seen, data) in self.dirty.items()]
        self.dirty.clear()
        return rows

    def take_deleted(self) -> list[str]:
        keys = sorted(self.deleted)
        self.deleted.clear()
        return keys

    def restore(self, rows: Iterable[tuple[str, dict[str, Any]]]) -> int:
        return self.put_back(rows)


@dataclass
class Alerts:
    """The evaluator and the deliveries of one botwall process."""

    servicer: BotwallServicer
    triggers: tuple[AlertTrigger, ...]
    webhooks: tuple[Webhook, ...]
    emit: Callable[[dict[str, Any]], None]  # the decision log's alert line
    clock: Callable[[], float] = time.time
    states: dict[str, TriggerState] = field(default_factory=dict)
    history: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=_HISTORY))
    stats: dict[str, WebhookStats] = field(default_factory=dict)
    checked: int = 0  # endpoints the endpoint triggers judged in the last round
    _queues: dict[str, asyncio.Queue[Delivery]] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _reload_failures: int = 0
    _reload_failed_at: float = -1e18
    # Each endpoint's cumulative (time, requests, bad-bot requests) at evaluation rounds, for the bot-share windows:
    # one sample per step while it gets requests, back to just past the longest window.
    _samples: dict[EndpointKey, deque[tuple[float, int, int]]] = field(default_factory=dict)
    _span: float = 0.0  # the longest endpoint_bot_share window (0: none, no sampling)
    _sampled_at: float = 0.0
    _saved: dict[str, SavedTable] = field(default_factory=dict)  # empty unless `tables` was called (--state-dir)
    _restored: list[Delivery] = field(default_factory=list)  # saved deliveries, queued again at start
    started: float = 0.0

    def __post_init__(self) -> None:
        self.started = self._sampled_at = self.clock()
        self.states = {t.name: TriggerState(trigger=t) for t in self.triggers}
        self.stats = {w.name: WebhookStats() for w in self.webhooks}
        self._span = max((t.window_seconds for t in self.triggers if t.kind == "endpoint_bot_share"), default=0.0)

    # What the triggers watch.

    def _series(self, series: dict[int, int], window: float, now: float) -> tuple[float, float]:
        """(events in the window, mean per window over the hour before it, since start) from a 10-second series."""
        buckets = max(1, round(window / 10))
        current = int(now // 10)
        value = sum(series.get(b, 0) for b in range(current - buckets + 1, current + 1))
        first = max(current - 360, int(self.started // 10))  # not the time before this process counted anything
        before = [series.get(b, 0) for b in range(first, current - buckets + 1)]
        baseline = sum(before) / max(1, len(before)) * buckets
        return float(value), baseline

    def measure(self, trigger: AlertTrigger, now: float) -> tuple[float, float]:
        """The trigger's value now and its baseline (0 where it has none); not for the endpoint kinds."""
        counters = self.servicer.counters
        if trigger.kind == "failed_logins":
            return self._series(counters.failed_logins, trigger.window_seconds, now)
        if trigger.kind == "mitigation_rate":
            return self._series(counters.mitigations, trigger.window_seconds, now)
        if trigger.kind == "accounts_under_attack":
            attacked = sum(1 for a in self.servicer.accounts.accounts() if a.under_attack and
                           now - a.last_attempt <= max(trigger.window_seconds, 3600))  # fmt: skip
            return float(attacked), 0.0
        if trigger.kind == "new_endpoint":
            rows = self.servicer.inventory.snapshot()
            fresh = sum(1 for e in rows if e["new"] and now - e["first_seen"] <= trigger.window_seconds)
            return float(fresh), 0.0
        if trigger.kind == "model_reload_failed":
            scorer = self.servicer.engine.scorer
            failures = scorer.reload_failures if isinstance(scorer, OnnxScorer) else 0
            if failures > self._reload_failures:
                self._reload_failures, self._reload_failed_at = failures, now
            return (1.0 if now - self._reload_failed_at <= trigger.window_seconds else 0.0), 0.0
        return 0.0, 0.0

    def _sample(self, now: float) -> None:
        """Take each endpoint's counts for the bot-share windows (a few reads of each endpoint that changed)."""
        step = self._span / _SAMPLES
        cutoff = now - self._span
        for e in self.servicer.inventory.endpoints():
            key = (e.host, e.method, e.template)
            samples = self._samples.get(key)
            if samples is None:
                # One first seen since the last round has all its requests in the window; one seen before (restored
                # from --state-dir, or counted before the first round) is counted from now.
                first = (e.first_seen, 0, 0) if e.first_seen >= self._sampled_at else (now, e.requests, _bad(e))
                samples = self._samples[key] = deque([first])
            last = samples[-1]
            if e.requests != last[1]:
                sample = (now, e.requests, _bad(e))
                if len(samples) >= 2 and last[0] - samples[-2][0] < step:
                    samples[-1] = sample  # too close to the one before: move it on rather than add one
                else:
                    samples.append(sample)
            while len(samples) >= 2 and samples[1][0] <= cutoff:
                samples.popleft()
        self._sampled_at = now

    def _window(self, key: EndpointKey, window: float, now: float) -> tuple[int, int]:
        """An endpoint's requests and bad-bot requests over the last `window` seconds, from its samples."""
        samples = self._samples.get(key)
        if samples is None or len(samples) < 2:
            return 0, 0
        cutoff = now - window
        anchor = samples[-1]
        for i in range(len(samples) - 1):  # the newest sample at or before the window's start, else the oldest
            if samples[i + 1][0] > cutoff:
                anchor = samples[i]
                break
        _, requests, bad = samples[-1]
        return requests - anchor[1], bad - anchor[2]

    def _bot_shares(self, state: TriggerState, now: float) -> dict[EndpointKey, tuple[float, float, int, bool]]:
        """(share %, 0, requests, above) of the busiest endpoints with `min_requests` over the window, and of those
        with an episode open."""
        trigger = state.trigger
        window = trigger.window_seconds
        busy = []
        for key, samples in self._samples.items():
            if len(samples) >= 2 and samples[-1][0] > now - window:
                requests, bad = self._window(key, window, now)
                if requests >= trigger.min_requests:
                    busy.append((requests, bad, key))
        judged = {key: (requests, bad) for requests, bad, key in heapq.nlargest(_TOP_ENDPOINTS, busy)}
        for key in state.endpoints.keys() - judged.keys():
            judged[key] = self._window(key, window, now)
        out = {}
        for key, (requests, bad) in judged.items():
            share = round(100.0 * bad / requests, 2) if requests else 0.0
            out[key] = (share, 0.0, requests, requests >= trigger.min_requests and share >= trigger.threshold)
        return out

    def _surges(self, state: TriggerState, now: float) -> dict[EndpointKey, tuple[float, float, int, bool]]:
        """(requests, baseline, requests, above) of the busiest endpoints over the last two minutes, and of those with
        an episode open."""
        trigger = state.trigger
        minute = int(now // 60)

        def recent(e: Endpoint) -> int:
            return e.minutes.get(minute, 0) + e.minutes.get(minute - 1, 0)

        endpoints = self.servicer.inventory.endpoints()
        judged = [e for e in heapq.nlargest(_TOP_ENDPOINTS, endpoints, key=recent) if recent(e)]
        missing = state.endpoints.keys() - {(e.host, e.method, e.template) for e in judged}
        if missing:
            judged += [e for e in endpoints if (e.host, e.method, e.template) in missing]
        learned = now - self.started >= _WARM_UP
        out = {}
        for e in judged:
            value, baseline = self._rate(e, trigger.window_seconds, now)
            above = (
                learned
                and now - e.first_seen >= _WARM_UP
                and value >= trigger.threshold
                and value > trigger.baseline_factor * baseline
            )
            out[(e.host, e.method, e.template)] = (round(value, 2), baseline, round(value), above)
        return out

    def _rate(self, e: Endpoint, window: float, now: float) -> tuple[float, float]:
        """An endpoint's requests over the window (sliding over its per-minute counts: the oldest minute weighed by the
        part of it still in the window) and its mean per window over the hour before, since it and this process have
        both been counting."""
        minutes = e.minutes
        minute = int(now // 60)
        span = max(1, round(window / 60))
        oldest = minute - span  # partly in the window
        part = 1.0 - (now % 60) / 60.0  # of the oldest minute, still in the window
        value = sum(minutes.get(m, 0) for m in range(oldest + 1, minute + 1)) + minutes.get(oldest, 0) * part
        first = max(minute - 59, int(max(self.started, e.first_seen) // 60))
        before = [minutes.get(m, 0) for m in range(first, oldest)]
        return value, sum(before) / max(1, len(before)) * span

    def evaluate(self) -> list[dict[str, Any]]:
        """Check every trigger once; returns the events (firings and resolutions) it produced."""
        now = self.clock()
        if self._span:
            self._sample(now)
        self.checked = 0
        events = self._event_mode(now)
        for state in self.states.values():
            trigger = state.trigger
            if trigger.kind in ENDPOINT_ALERT_KINDS:
                events += self._evaluate_endpoints(state, now)
                continue
            value, baseline = self.measure(trigger, now)
            state.value, state.baseline = value, baseline
            above = value >= trigger.threshold
            if trigger.baseline_factor:
                # Against the site's own normal, which a fresh process has not seen yet: quiet for the warm-up.
                learned = now - self.started >= _WARM_UP
                above = above and learned and value > trigger.baseline_factor * baseline
            status = state.step(above, now, trigger.cooldown_seconds)
            if status:
                state.fired += status == "firing"
                events.append(self._event(state, state, status, now))
        for event in events:
            self._publish(event)
        saved = self._saved.get(TRIGGERS)
        if saved is not None:
            for name in {event["alert"] for event in events}:
                saved.keep(name, now, _state_row(self.states[name]))
        return events

    def _event_mode(self, now: float) -> list[dict[str, Any]]:
        """An event's start (firing) and end (resolved), by its schedule or by hand (`botwall.events`), as alerts:
        the SOC hears that a drop is on, and that its stricter policies are off again."""
        out = []
        transitions = self.servicer.engine.events.transitions
        while transitions:
            change = transitions.popleft()
            running = change["action"] == "event_start"
            out.append(
                {"id": uuid.uuid4().hex, "alert": f"event:{change['target']}", "kind": "event",
                 "state": "firing" if running else "resolved", "value": 1.0 if running else 0.0, "threshold": 1.0,
                 "baseline": 0.0, "window_seconds": 0.0, "time": round(now, 3), "since": change["time"],
                 "botwall": {"version": __version__, "worker": os.environ.get("BOTWALL_WORKER", "")},
                 "change": {"by": change["by"], "why": change["why"], "policies": change["changed"]["policies"]}}
            )  # fmt: skip
        return out

    def _evaluate_endpoints(self, state: TriggerState, now: float) -> list[dict[str, Any]]:
        """One round of an endpoint trigger: an episode per endpoint, started and ended on its own."""
        trigger = state.trigger
        measured = self._bot_shares(state, now) if trigger.kind == "endpoint_bot_share" else self._surges(state, now)
        self.checked += len(measured)
        events = []
        for key, (value, baseline, requests, above) in sorted(measured.items()):
            episode = state.endpoints.get(key)
            if episode is None:
                if not above:
                    continue
                episode = state.endpoints[key] = Episode()
            episode.value, episode.baseline, episode.requests = value, baseline, requests
            status = episode.step(above, now, trigger.cooldown_seconds)
            if status:
                state.fired += status == "firing"
                events.append(self._event(state, episode, status, now, key))
        for key in [k for k, e in state.endpoints.items() if not e.firing and now >= e.quiet_until]:
            del state.endpoints[key]
        top = max(measured.values(), default=(0.0, 0.0, 0, False))
        state.value, state.baseline = top[0], top[1]
        firing = [e.since for e in state.endpoints.values() if e.firing]
        state.firing, state.since = bool(firing), min(firing, default=state.since)
        return events

    def _event(
        self, state: TriggerState, episode: Episode, status: str, now: float, endpoint: EndpointKey | None = None
    ) -> dict[str, Any]:
        trigger = state.trigger
        event: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "alert": trigger.name,
            "kind": trigger.kind,
            "state": status,
            "value": episode.value,
            "threshold": trigger.threshold,
            "baseline": round(episode.baseline, 3),
            "window_seconds": trigger.window_seconds,
            "time": round(now, 3),
            "since": round(episode.since, 3),
            "botwall": {"version": __version__, "worker": os.environ.get("BOTWALL_WORKER", "")},
        }
        if endpoint is not None:
            host, method, template = endpoint
            event["endpoint"] = {"host": host, "method": method, "template": template}
            event["requests"] = episode.requests
        return event

    def forward(self, event: dict[str, Any]) -> None:
        """A transaction sent for review (`edge.transactions`): to every webhook, not to the alert history."""
        for webhook in self.webhooks:
            self._enqueue(webhook, event)

    def _publish(self, event: dict[str, Any]) -> None:
        """An event to the history (saved with --state-dir), the decision log and every webhook."""
        if len(self.history) == self.history.maxlen:
            self._forget(EVENTS, str(self.history[0].get("id", "")))
        self.history.append(event)
        self._keep(EVENTS, event["id"], event["time"], event)
        self.emit(event)
        for webhook in self.webhooks:
            self._enqueue(webhook, event)

    # Saved with --state-dir.

    def tables(self) -> dict[str, tuple[SavedTable, int]]:
        """What `edge.persist` saves of the alerts: each table, with the most rows it reads back; changes are kept
        for it from this call on."""
        self._saved = {
            DELIVERIES: SavedTable(self._put_back_deliveries),
            EVENTS: SavedTable(self._put_back_events),
            TRIGGERS: SavedTable(self._put_back_triggers),
        }
        limits = {DELIVERIES: (_QUEUE + 1) * max(1, len(self.webhooks)), EVENTS: _HISTORY, TRIGGERS: len(self.triggers)}
        return {table: (saved, limits[table]) for table, saved in self._saved.items()}

    def _keep(self, table: str, key: str, seen: float, data: dict[str, Any]) -> None:
        saved = self._saved.get(table)
        if saved is not None:
            saved.keep(key, seen, data)

    def _forget(self, table: str, key: str) -> None:
        saved = self._saved.get(table)
        if saved is not None:
            saved.forget(key)

    def _put_back_events(self, rows: Iterable[tuple[str, dict[str, Any]]]) -> int:
        events = sorted((data for _, data in rows if isinstance(data.get("time"), float | int)), key=_event_time)
        for event in events[:-_HISTORY]:
            self._forget(EVENTS, str(event.get("id", "")))
        self.history.extend(events[-_HISTORY:])
        return len(self.history)

    def _put_back_triggers(self, rows: Iterable[tuple[str, dict[str, Any]]]) -> int:
        kept = 0
        for name, data in rows:
            state = self.states.get(name)
            if state is None or data.get("kind") != state.trigger.kind:
                continue  # a trigger no longer configured, or now another kind: its episodes mean nothing now
            try:
                own = Episode(bool(data["firing"]), float(data["since"]), float(data["quiet_until"]))
                fired = int(data["fired"])
                endpoints = {
                    (str(host), str(method), str(template)): Episode(bool(on), float(since), float(quiet))
                    for host, method, template, on, since, quiet in data["endpoints"]
                }
            except (KeyError, TypeError, ValueError):
                continue  # an unreadable row: the trigger starts afresh
            state.firing, state.since, state.quiet_until = own.firing, own.since, own.quiet_until
            state.fired, state.endpoints = fired, endpoints
            kept += 1
        return kept

    def _put_back_deliveries(self, rows: Iterable[tuple[str, dict[str, Any]]]) -> int:
        names = {w.name for w in self.webhooks}
        waiting: dict[str, list[Delivery]] = {name: [] for name in names}
        for key, data in rows:
            webhook, event, attempts = data.get("webhook"), data.get("event"), data.get("attempts")
            if (
                webhook not in names
                or not isinstance(event, dict)
                or "id" not in event
                or not isinstance(attempts, int)
            ):
                self._forget(DELIVERIES, key)  # its webhook is gone from the config, or the row is unreadable
                continue
            waiting[str(webhook)].append(Delivery(str(webhook), event, min(attempts, _ATTEMPTS - 1)))
        for deliveries in waiting.values():
            deliveries.sort(key=lambda d: _event_time(d.event))
            for dropped in deliveries[:-_QUEUE]:
                self._forget(DELIVERIES, dropped.key)
                self.stats[dropped.webhook].dropped += 1
            self._restored += deliveries[-_QUEUE:]
        return len(self._restored)

    # Deliveries.

    def _enqueue(self, webhook: Webhook, event: dict[str, Any]) -> None:
        queue = self._queues.get(webhook.name)
        if queue is None:
            return  # not started (a test evaluating without deliveries)
        delivery = Delivery(webhook.name, event)
        try:
            queue.put_nowait(delivery)
        except asyncio.QueueFull:
            self.stats[webhook.name].dropped += 1
            return
        self._keep_delivery(delivery)

    def _keep_delivery(self, delivery: Delivery) -> None:
        data = {"webhook": delivery.webhook, "event": delivery.event, "attempts": delivery.attempts}
        self._keep(DELIVERIES, delivery.key, _event_time(delivery.event), data)

    def start(self, interval: float = 5.0) -> None:
        loop = asyncio.get_running_loop()
        for webhook in self.webhooks:
            queue: asyncio.Queue[Delivery] = asyncio.Queue(maxsize=_QUEUE)
            for delivery in self._restored:  # what was pending when the last process stopped goes first
                if delivery.webhook == webhook.name:
                    queue.put_nowait(delivery)
            self._queues[webhook.name] = queue
            self._tasks.append(loop.create_task(self._deliver(webhook), name=f"botwall-webhook-{webhook.name}"))
        self._restored = []
        self._tasks.append(loop.create_task(self._evaluate(interval), name="botwall-alerts"))

    async def _evaluate(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                self.evaluate()
            except Exception:  # a bug here must not stop the evaluator: log it and go on
                log.exception("alerts_evaluation_failed")

    async def _deliver(self, webhook: Webhook) -> None:
        queue = self._queues[webhook.name]
        stats = self.stats[webhook.name]
        timeout = aiohttp.ClientTimeout(total=_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                delivery = await queue.get()
                while True:
                    body, headers = render(webhook, delivery.event, self.clock())  # signed at each attempt's time
                    try:
                        async with session.post(webhook.url, data=body, headers=headers) as response:
                            if response.status >= 300:
                                raise aiohttp.ClientResponseError(response.request_info, (), status=response.status)
                    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                        stats.failed_attempts += 1
                        delivery.attempts += 1
                        if delivery.attempts < _ATTEMPTS:
                            self._keep_delivery(delivery)
                            await asyncio.sleep(2 ** (delivery.attempts - 1))
                            continue
                        stats.dropped += 1
                        log.warning(
                            "webhook_gave_up",
                            webhook=webhook.name,
                            alert=delivery.event.get("alert") or f"transaction {delivery.event.get('transaction')}",
                            error=str(exc)[:200],
                        )
                    else:
                        stats.delivered += 1
                    self._forget(DELIVERIES, delivery.key)
                    break

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _bad(e: Endpoint) -> int:
    """An endpoint's bad-bot requests: verdict bot, or refused. Discovery counts verdicts and actions apart, so their
    union is not known; the larger of the two is its floor."""
    actions = e.by_action  # keyed by the action's name, which an `Action` (a string enum) is equal to
    refused = (
        actions.get(Action.BLOCK, 0)
        + actions.get(Action.THROTTLE, 0)
        + actions.get(Action.DECEIVE, 0)
        + actions.get(Action.CHALLENGE, 0)
    )
    return max(e.by_verdict.get("bot", 0), refused)


def _event_time(event: dict[str, Any]) -> float:
    value = event.get("time", 0.0)
    return float(value) if isinstance(value, float | int) else 0.0


def _state_row(state: TriggerState) -> dict[str, Any]:
    """What a trigger's state saves: its episode, its count, and its endpoints' episodes."""
    return {
        "kind": state.trigger.kind, "firing": state.firing, "since": state.since, "quiet_until": state.quiet_until,
        "fired": state.fired,
        "endpoints": [[*key, e.firing, e.since, e.quiet_until] for key, e in sorted(state.endpoints.items())],
    }  # fmt: skip


def render(webhook: Webhook, event: dict[str, Any], now: float) -> tuple[bytes, dict[str, str]]:
    """The request body and headers of one delivery (signed when the webhook has a key)."""
    change = event.get("change")
    if webhook.format == "slack" and "transaction" in event:
        campaign = f", campaign {event['campaign']}" if event.get("campaign") else ""
        payload: dict[str, Any] = {
            "text": f"botwall: transaction *{event['transaction']}* for review, risk {event['risk']} "
            f"({', '.join(event['reasons']) or 'no reasons'}{campaign}): {event['method']} {event['path']} "
            f"from {event['client_ip']}, {event['action']}"
        }
    elif webhook.format == "slack" and isinstance(change, dict):
        what = "started: its endpoints have stricter policies" if event["state"] == "firing" else "ended"
        payload = {"text": f"botwall: {event['alert']} {what} ({change['by']}: {change['why']})"}
    elif webhook.format == "slack":
        text = (
            f"botwall alert *{event['alert']}* ({event['kind']}) is {event['state']}: value {event['value']:g} "
            f"against threshold {event['threshold']:g} over {event['window_seconds']:g} s"
        )
        endpoint = event.get("endpoint")
        if isinstance(endpoint, dict):
            text += f" on {endpoint['method']} {endpoint['host']}{endpoint['template']} ({event['requests']} requests)"
        payload = {"text": text}
    else:
        payload = event
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(now))
    headers = {"Content-Type": "application/json", "X-Botwall-Timestamp": timestamp}
    key = os.environ.get(webhook.secret_env, "") if webhook.secret_env else ""
    if key:
        digest = hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        headers["X-Botwall-Signature"] = f"v1={digest}"
    return body, headers


def verify(key: str, timestamp: str, body: bytes, signature: str, now: float, tolerance: float = 300.0) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent (a replayed delivery is refused)."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance or not signature.startswith("v1="):
        return False
    expected = hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature[3:], expected)
