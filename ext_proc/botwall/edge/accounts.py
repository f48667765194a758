"""Accounts under attack and likely compromised: per username tried on a login route (never a password), what tried
it and how it ended, for a fraud team that must decide whose password to reset.

An attempt is counted when botwall refused it (it never reached the site) or when the site answered it (success or
failure, from the login route's markers). Per account: attempts, failures, successes, refusals; the distinct
addresses, networks (ASNs) and fingerprints trying it (exact up to `_DISTINCT`, then "at least"); whether a breached
or common password was tried; first and last attempt; the last few notable events as evidence.

- *Under attack*: an attempt from a client that was stuffing or spraying by its own evidence (a credential-abuse
  reason about the client itself, or an own score at the bot threshold; not its crowd's suspicion), or more distinct
  addresses than a person uses (`_MANY_ADDRESSES`).
- *Likely compromised*: a successful login from such a client, or a success after a burst of failures from many
  networks (`_BURST_FAILURES` failures from `_BURST_NETWORKS` networks within the hour before it).

Bounded: at most `max_accounts` usernames (the least recently tried forgotten first), usernames cut to 128
characters, `_EVENTS` events each. Updated in O(1) per login; listed when the admin API asks.
"""

from __future__ import annotations

import csv
import io
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from botwall.config import Action
from botwall.policy import Decision
from botwall.scoring.rules import COLLECTIVE_REASONS
from botwall.state.keys import KeyHasher

# Reason codes that say the client was stuffing or spraying credentials (its own evidence or its crowd's). Not a cold
# or tokenless login alone: a person with a bookmark or a password manager makes those.
ABUSE_REASONS = frozenset(
    {
        "beh:failed-logins",
        "beh:many-usernames",
        "beh:many-usernames-many",
        "beh:cookie-many-usernames",
        "beh:cookie-many-usernames-many",
        "beh:cookie-failed-logins",
        "beh:password-spray",
        "beh:fingerprint-stuffing",
        "beh:account-many-ips",
        "cred:malformed-login",
    }
)
_BREACHED = "cred:breached-password"
_OWN_BOT = 70  # an own score from which the client is a bot by its own evidence (the default bot threshold)
_DISTINCT = 64
_MANY_ADDRESSES = 10
_BURST_FAILURES = 5
_BURST_NETWORKS = 3
_BURST_SECONDS = 3600.0
_EVENTS = 5
_USERNAME = 128


@dataclass
class Account:
    """What tried one username, and how it ended."""

    username: str
    first_seen: float
    last_attempt: float = 0.0
    attempts: int = 0
    failures: int = 0
    successes: int = 0
    refused: int = 0
    abusive: int = 0  # attempts from clients that were stuffing or spraying
    breached_tried: bool = False
    addresses: set[int] = field(default_factory=set)
    networks: set[int] = field(default_factory=set)
    fingerprints: set[str] = field(default_factory=set)
    recent_failures: list[tuple[float, int]] = field(default_factory=list)  # (time, network) in the last hour
    compromised: str = ""  # why it is likely compromised ("" while it is not)
    events: list[dict[str, Any]] = field(default_factory=list)
    # Logins a deceive policy answered with a fake success (a fake session, `botwall.deception`): the account was
    # targeted, and the attacker believes it took it over; it was never opened.
    trapped: int = 0

    @property
    def under_attack(self) -> bool:
        return self.abusive > 0 or len(self.addresses) >= _MANY_ADDRESSES


@dataclass(frozen=True)
class Attempt:
    """One login attempt as the account registry needs it."""

    username: str
    outcome: str  # success, failure, unknown, refused (botwall answered it) or trapped (with a fake success)
    address: str
    network: int  # ASN, 0 when unknown
    fingerprint: str
    decision: Decision
    common_password: bool = False


class Accounts:
    """The registry of usernames tried; fed by the server, read by the admin API."""

    def __init__(
        self, max_accounts: int = 50_000, clock: Callable[[], float] = time.time, keys: KeyHasher | None = None
    ) -> None:
        self.max_accounts = max_accounts
        self._clock = clock
        # Addresses as keyed hashes (`state.keys`): the same in every process of the deployment, so saved distinct
        # counts add up after a restart, and not reversible from a saved file without the deployment's secret.
        self._keys = keys or KeyHasher.from_env()
        self._accounts: OrderedDict[str, Account] = OrderedDict()
        self._dirty: set[str] = set()  # usernames changed since the last save (`edge.persist`)

    def __len__(self) -> int:
        return len(self._accounts)

    def accounts(self) -> list[Account]:
        """Every account tracked (a copy of the list: safe while requests add more)."""
        return list(self._accounts.values())

    def attempt(self, attempt: Attempt) -> Account | None:
        """Count one attempt; returns its account (None without a username)."""
        username = attempt.username[:_USERNAME]
        if not username:
            return None
        now = self._clock()
        accounts = self._accounts
        account = accounts.get(username)
        if account is None:
            if len(accounts) >= self.max_accounts:
                accounts.popitem(last=False)
            account = accounts[username] = Account(username, now)
        else:
            accounts.move_to_end(username)
        self._dirty.add(username)
        decision = attempt.decision
        reasons = set(decision.reasons)
        # The client's own evidence only: a person on the stuffer's browser build carries its crowd's suspicion
        # (`COLLECTIVE_REASONS`, a high score), and that is not an attack on the person's account.
        abusive_reasons = sorted((reasons & ABUSE_REASONS) - COLLECTIVE_REASONS)
        abusive = bool(abusive_reasons) or decision.own >= _OWN_BOT
        account.attempts += 1
        account.last_attempt = now
        if len(account.addresses) < _DISTINCT:
            account.addresses.add(self._keys(attempt.address))
        if attempt.network and len(account.networks) < _DISTINCT:
            account.networks.add(attempt.network)
        if attempt.fingerprint and len(account.fingerprints) < _DISTINCT:
            account.fingerprints.add(attempt.fingerprint)
        if _BREACHED in reasons or attempt.common_password:
            account.breached_tried = True
        if abusive:
            account.abusive += 1
        outcome = attempt.outcome
        if outcome == "refused" or decision.mitigates:
            account.refused += 1
            account.trapped += outcome == "trapped"
        elif outcome == "failure":
            account.failures += 1
            recent = [(t, n) for t, n in account.recent_failures if now - t <= _BURST_SECONDS]
            account.recent_failures = [*recent[-(4 * _BURST_FAILURES) :], (now, attempt.network)]
        elif outcome == "success":
            account.successes += 1
            why = self._compromise(account, abusive, abusive_reasons, decision, now)
            if why and not account.compromised:
                account.compromised = why
        if abusive or outcome == "success" or decision.action is not Action.ALLOW:
            event = {
                "time": round(now, 3),
                "outcome": outcome,
                "action": str(decision.action),
                "score": decision.score,
                "reasons": list(decision.reasons)[:8],
                "fingerprint": attempt.fingerprint,
                "network": attempt.network,
            }
            account.events = [*account.events[-(_EVENTS - 1) :], event]
        return account

    @staticmethod
    def _compromise(account: Account, abusive: bool, reasons: list[str], decision: Decision, now: float) -> str:
        if abusive:
            named = ", ".join(reasons) or f"its own score {decision.own}"
            return f"a successful login from a client that was stuffing or spraying ({named})"
        recent = [(t, n) for t, n in account.recent_failures if now - t <= _BURST_SECONDS]
        networks = {n for _, n in recent if n}
        if len(recent) >= _BURST_FAILURES and len(networks) >= _BURST_NETWORKS:
            return f"a successful login after {len(recent)} failures from {len(networks)} networks within the hour"
        return ""

    def take_dirty(self) -> list[tuple[str, float, dict[str, Any]]]:
        """The accounts changed since the last call, as rows to save."""
        rows = []
        for username in self._dirty:
            a = self._accounts.get(username)
            if a is not None:
                data = {
                    "first_seen": a.first_seen, "last_attempt": a.last_attempt, "attempts": a.attempts,
                    "failures": a.failures, "successes": a.successes, "refused": a.refused, "abusive": a.abusive,
                    "breached_tried": a.breached_tried, "addresses": sorted(a.addresses),
                    "networks": sorted(a.networks), "fingerprints": sorted(a.fingerprints),
                    "recent_failures": a.recent_failures, "compromised": a.compromised, "events": a.events,
                    "trapped": a.trapped,
                }  # fmt: skip
                rows.append((username, a.last_attempt, data))
        self._dirty.clear()
        return rows

    def restore(self, rows: Iterable[tuple[str, dict[str, Any]]]) -> int:
        """Put saved accounts back (rows come most recently tried first), up to the bound; malformed rows skipped."""
        restored: list[Account] = []
        for username, d in rows:
            if len(restored) + len(self._accounts) >= self.max_accounts:
                break
            try:
                account = Account(
                    str(username)[:_USERNAME], float(d["first_seen"]), float(d["last_attempt"]), int(d["attempts"]),
                    int(d["failures"]), int(d["successes"]), int(d["refused"]), int(d["abusive"]),
                    bool(d["breached_tried"]), {int(x) for x in d["addresses"][:_DISTINCT]},
                    {int(x) for x in d["networks"][:_DISTINCT]}, {str(x) for x in d["fingerprints"][:_DISTINCT]},
                    [(float(t), int(n)) for t, n in d["recent_failures"]][-4 * _BURST_FAILURES :],
                    str(d["compromised"]), [dict(e) for e in d["events"]][-_EVENTS:], int(d.get("trapped", 0)),
                )  # fmt: skip
            except (KeyError, TypeError, ValueError):
                continue
            restored.append(account)
        for account in reversed(restored):  # the least recently tried first: the first to be forgotten
            self._accounts.setdefault(account.username, account)
        return len(restored)

    def rows(self, state: str = "") -> list[dict[str, Any]]:
        """Accounts as JSON-ready rows, most attempted first; `state`: under_attack, compromised, or all."""
        out = []
        for a in sorted(self._accounts.values(), key=lambda a: (-a.attempts, a.username)):
            if state == "under_attack" and not a.under_attack:
                continue
            if state == "compromised" and not a.compromised:
                continue
            out.append(
                {
                    "username": a.username,
                    "under_attack": a.under_attack,
                    "compromised": bool(a.compromised),
                    "compromised_because": a.compromised,
                    "attempts": a.attempts,
                    "failures": a.failures,
                    "successes": a.successes,
                    "refused": a.refused,
                    "trapped": a.trapped,
                    "from_abusive_clients": a.abusive,
                    "addresses": len(a.addresses),
                    "networks": len(a.networks),
                    "fingerprints": len(a.fingerprints),
                    "counts_capped_at": _DISTINCT,
                    "breached_password_tried": a.breached_tried,
                    "first_seen": round(a.first_seen, 3),
                    "last_attempt": round(a.last_attempt, 3),
                    "evidence": list(a.events),
                }
            )
        return out

    def csv(self, state: str = "") -> str:
        """The same rows as CSV (without the evidence events), for a password-reset job."""
        columns = [
            "username", "under_attack", "compromised", "compromised_because", "attempts", "failures", "successes",
            "refused", "trapped", "from_abusive_clients", "addresses", "networks", "fingerprints",
            "breached_password_tried", "first_seen", "last_attempt",
        ]  # fmt: skip
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in self.rows(state):
            # A username is the attacker's text: neutralise spreadsheet formulas (=, +, -, @ at the start).
            name = row["username"]
            row["username"] = "'" + name if name[:1] in ("=", "+", "-", "@", "\t", "\r") else name
            writer.writerow(row)
        return buffer.getvalue()
