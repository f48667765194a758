"""Alert triggers and their deliveries: what a SOC wants pushed to it rather than polled.

Every few seconds an evaluator reads what the request path already counts (accounts under attack, failed logins and
refusals per 10 seconds, discovery's new endpoints, the model's reload failures) and checks each configured trigger
(`alerts.triggers`). A trigger fires once per episode, when its value over its window reaches its threshold (and, with
`baseline_factor`, that factor times its mean over the previous hour, so a busy site's normal is not an alert; such a
trigger waits for ten minutes of history after start before it may fire); it
resolves when the value falls back, and stays quiet for `cooldown_seconds` after. Each firing and resolution is a
JSON line in the decision log (for the SIEM) and a delivery to every webhook:

- `format: json`: the event as JSON, with `X-Botwall-Timestamp` and, where `secret_env` names a key,
  `X-Botwall-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>">` (a receiver checks it, and rejects old
  timestamps against replays);
- `format: slack`: a Slack-compatible `{"text": ...}` message.

Deliveries wait in a bounded queue per webhook (drops counted) and are retried with exponential backoff (1, 2, 4, 8
seconds; then given up, counted); a slow or dead receiver holds only its own queue, never a request. Counts are in
`/metrics`; the state of each trigger and the last events are on the admin API (`/api/v1/alerts`). Pending deliveries
are not yet saved across a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog

from botwall import __version__
from botwall.config import AlertTrigger, Webhook
from botwall.edge.server import BotwallServicer
from botwall.scoring.model import OnnxScorer

log = structlog.get_logger("botwall.edge.alerts")

_QUEUE = 1000  # deliveries waiting per webhook
_ATTEMPTS = 5
_TIMEOUT = 5.0  # seconds per delivery attempt
_HISTORY = 200  # events kept for the admin API
_WARM_UP = 600.0  # seconds of history a trigger with a baseline waits for before it may fire


@dataclass
class TriggerState:
    trigger: AlertTrigger
    firing: bool = False
    since: float = 0.0
    quiet_until: float = 0.0
    value: float = 0.0
    baseline: float = 0.0
    fired: int = 0


@dataclass
class WebhookStats:
    delivered: int = 0
    failed_attempts: int = 0
    dropped: int = 0  # queue full, or given up after the last attempt


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
    _queues: dict[str, asyncio.Queue[dict[str, Any]]] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _reload_failures: int = 0
    _reload_failed_at: float = -1e18
    started: float = 0.0

    def __post_init__(self) -> None:
        self.started = self.clock()
        self.states = {t.name: TriggerState(t) for t in self.triggers}
        self.stats = {w.name: WebhookStats() for w in self.webhooks}

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
        """The trigger's value now and its baseline (0 where it has none)."""
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

    def evaluate(self) -> list[dict[str, Any]]:
        """Check every trigger once; returns the events (firings and resolutions) it produced."""
        now = self.clock()
        events = []
        for state in self.states.values():
            trigger = state.trigger
            value, baseline = self.measure(trigger, now)
            state.value, state.baseline = value, baseline
            above = value >= trigger.threshold
            if trigger.baseline_factor:
                # Against the site's own normal, which a fresh process has not seen yet: quiet for the warm-up.
                learned = now - self.started >= _WARM_UP
                above = above and learned and value > trigger.baseline_factor * baseline
            if above and not state.firing and now >= state.quiet_until:
                state.firing, state.since = True, now
                state.fired += 1
                events.append(self._event(state, "firing", now))
            elif not above and state.firing:
                state.firing = False
                state.quiet_until = now + trigger.cooldown_seconds
                events.append(self._event(state, "resolved", now))
        for event in events:
            self.history.append(event)
            self.emit(event)
            for webhook in self.webhooks:
                self._enqueue(webhook, event)
        return events

    def _event(self, state: TriggerState, status: str, now: float) -> dict[str, Any]:
        trigger = state.trigger
        return {
            "alert": trigger.name,
            "kind": trigger.kind,
            "state": status,
            "value": state.value,
            "threshold": trigger.threshold,
            "baseline": round(state.baseline, 3),
            "window_seconds": trigger.window_seconds,
            "time": round(now, 3),
            "since": round(state.since, 3),
            "botwall": {"version": __version__, "worker": os.environ.get("BOTWALL_WORKER", "")},
        }

    # Deliveries.

    def _enqueue(self, webhook: Webhook, event: dict[str, Any]) -> None:
        queue = self._queues.get(webhook.name)
        if queue is None:
            return  # not started (a test evaluating without deliveries)
        try:
            queue.put_nowait(event)
        except asyncio.QueueFull:
            self.stats[webhook.name].dropped += 1

    def start(self, interval: float = 5.0) -> None:
        loop = asyncio.get_running_loop()
        for webhook in self.webhooks:
            self._queues[webhook.name] = asyncio.Queue(maxsize=_QUEUE)
            self._tasks.append(loop.create_task(self._deliver(webhook), name=f"botwall-webhook-{webhook.name}"))
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
                event = await queue.get()
                body, headers = render(webhook, event, self.clock())
                for attempt in range(_ATTEMPTS):
                    try:
                        async with session.post(webhook.url, data=body, headers=headers) as response:
                            if response.status < 300:
                                stats.delivered += 1
                                break
                            raise aiohttp.ClientResponseError(response.request_info, (), status=response.status)
                    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                        stats.failed_attempts += 1
                        if attempt == _ATTEMPTS - 1:
                            stats.dropped += 1
                            log.warning(
                                "webhook_gave_up", webhook=webhook.name, alert=event["alert"], error=str(exc)[:200]
                            )
                            break
                        await asyncio.sleep(2**attempt)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def render(webhook: Webhook, event: dict[str, Any], now: float) -> tuple[bytes, dict[str, str]]:
    """The request body and headers of one delivery (signed when the webhook has a key)."""
    if webhook.format == "slack":
        text = (
            f"botwall alert *{event['alert']}* ({event['kind']}) is {event['state']}: value {event['value']:g} "
            f"against threshold {event['threshold']:g} over {event['window_seconds']:g} s"
        )
        payload: dict[str, Any] = {"text": text}
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
