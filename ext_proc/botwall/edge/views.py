"""What the admin API and the dashboard both show, as JSON-ready data: the traffic series, the decision search and the
alerts' state. One function each, so a screen and the API it is checked against can never disagree on the numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from botwall.edge.alerts import Alerts
from botwall.edge.server import Counters

# The traffic series' ranges: (span, step) in seconds; steps of a minute up to 6h, ten minutes for a day, an hour
# for a week (`Counters` keeps minutes for a day, hours for a week).
TRAFFIC_RANGES = {"15m": (900, 60), "1h": (3600, 60), "6h": (21600, 60), "24h": (86400, 600), "7d": (604800, 3600)}
DECISION_FILTERS = ("address", "fingerprint", "username", "reason", "action")


def traffic(counters: Counters, name: str, now: float) -> dict[str, Any]:
    """Requests by action and verdict over the range `name` (a key of `TRAFFIC_RANGES`), every step present, and the
    20 reason codes counted most over it."""
    span, step = TRAFFIC_RANGES[name]
    buckets, reasons = counters.traffic_series(now - span, step, now)
    series = [
        {"time": t, "counts": [{"action": str(a), "verdict": v, "requests": n} for (a, v), n in sorted(c.items())]}
        for t, c in buckets
    ]
    top = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
    return {"range": name, "step_seconds": step, "series": series, "reasons": [[code, n] for code, n in top]}


def totals(series: Iterable[Mapping[str, Any]]) -> tuple[dict[str, int], dict[str, int]]:
    """A traffic series' requests by verdict and by action."""
    by_verdict: dict[str, int] = {}
    by_action: dict[str, int] = {}
    for step in series:
        for c in step["counts"]:
            by_verdict[c["verdict"]] = by_verdict.get(c["verdict"], 0) + c["requests"]
            by_action[c["action"]] = by_action.get(c["action"], 0) + c["requests"]
    return by_verdict, by_action


def decisions(counters: Counters, filters: Mapping[str, str], limit: int) -> list[dict[str, Any]]:
    """The latest decisions (up to `server.RECENT` kept), newest first, matching every filter given (`address`,
    `fingerprint`, `username`, `reason`, `action`; an empty value matches all), at most `limit`."""
    address, fingerprint = filters.get("address") or None, filters.get("fingerprint") or None
    username = (filters.get("username") or "").strip().lower() or None
    reason, action = filters.get("reason") or None, filters.get("action") or None
    out: list[dict[str, Any]] = []
    for when, ip, fp, user, method, path, act, verdict, score, reasons, policy, shadow in reversed(counters.recent):
        if (
            (address is not None and ip != address)
            or (fingerprint is not None and fp != fingerprint)
            or (username is not None and user != username)
            or (reason is not None and reason not in reasons)
            or (action is not None and str(act) != action)
        ):
            continue
        out.append(
            {
                "time": round(when, 3), "client_ip": ip, "fingerprint": fp, "username": user, "method": method,
                "path": path, "action": str(act), "verdict": verdict, "score": score, "reasons": list(reasons),
                "policy": policy, "shadow": shadow,
            }
        )  # fmt: skip
        if len(out) >= limit:
            break
    return out


def alerts(alerts: Alerts | None) -> dict[str, Any]:
    """The configured triggers with their state, the last events (newest first), and the webhooks' counts."""
    if alerts is None:
        return {"triggers": [], "events": [], "webhooks": []}
    triggers = [
        {"name": s.trigger.name, "kind": s.trigger.kind, "threshold": s.trigger.threshold,
         "window_seconds": s.trigger.window_seconds, "baseline_factor": s.trigger.baseline_factor,
         "cooldown_seconds": s.trigger.cooldown_seconds, "firing": s.firing, "value": s.value,
         "baseline": round(s.baseline, 3), "fired": s.fired}
        for s in alerts.states.values()
    ]  # fmt: skip
    webhooks = [
        {"name": w.name, "format": w.format, "signed": bool(w.secret_env), **vars(alerts.stats[w.name])}
        for w in alerts.webhooks
    ]
    return {"triggers": triggers, "events": list(reversed(alerts.history)), "webhooks": webhooks}
