"""The transactions botwall judged (`config.transactions`): one event each, for the fraud review.

Every transaction is a line in the decision log (`"event": "transaction"`) and is kept among the last ones for the
admin API; those whose risk reaches their route's `review_from` also go to every webhook (`Alerts.forward`). The
event carries what a fraud platform needs to decide whether to look (risk, reasons, campaign, action) and how to
find the request (time, path, client address, fingerprint), and never a body field's value: velocity checks keep
only keyed hashes, and not even those are sent.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botwall import __version__
from botwall.policy import Decision
from botwall.request import RequestView

# Transactions kept for the admin API (each about 0.6 KB).
RECENT = 1_000


@dataclass
class Transactions:
    """The transactions of one botwall process, and who hears of them."""

    emit: Callable[[dict[str, Any]], None]  # the decision log's line
    review_from: dict[str, int]  # route name -> the risk from which it is sent for review
    clock: Callable[[], float] = time.time
    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECENT))
    listeners: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)  # reviewed ones (webhooks)
    counts: dict[tuple[str, bool], int] = field(default_factory=dict)  # (route, sent for review) -> transactions

    def record(self, decision: Decision, view: RequestView) -> dict[str, Any]:
        """The event of one judged transaction: logged, kept, and sent to the listeners when its risk asks for it."""
        review = decision.risk >= self.review_from.get(decision.transaction, 101)
        event: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "transaction": decision.transaction,
            "time": round(self.clock(), 3),
            "risk": decision.risk,
            "review": review,
            "score": decision.score,
            "verdict": decision.verdict,
            "reasons": list(decision.reasons),
            "campaign": decision.campaign,
            "action": str(decision.action),
            "enforced": decision.enforced,
            "policy": decision.policy,
            "fingerprint": decision.fingerprint,
            "client_ip": view.client_ip,
            "method": view.method[:16],
            "host": view.authority[:256],
            "path": view.path[:512],
            "botwall": {"version": __version__, "worker": os.environ.get("BOTWALL_WORKER", "")},
        }
        key = (decision.transaction, review)
        self.counts[key] = self.counts.get(key, 0) + 1
        self.recent.append(event)
        self.emit(event)
        if review:
            for listener in self.listeners:
                listener(event)
        return event

    def listing(
        self, route: str = "", min_risk: int = 0, limit: int = 100, review_only: bool = False
    ) -> list[dict[str, Any]]:
        """The latest transactions first, of one route (all: "") from a risk on, only those sent for review if asked."""
        out = []
        for event in reversed(self.recent):
            if (
                (not route or event["transaction"] == route)
                and event["risk"] >= min_risk
                and (event["review"] or not review_only)
            ):
                out.append(event)
                if len(out) >= limit:
                    break
        return out
