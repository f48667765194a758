"""Automatic mitigations that follow a campaign: what stays stable while it rotates becomes a rule of its own.

A campaign that rotates its addresses (residential proxies) and its user-agent makes a new fingerprint and a new
address window every few requests, so behaviour never adds up against any of them. What it cannot rotate as easily
is its client software: the header shape and TLS its HTTP stack produces, the inconsistencies between what it claims
and what it sends. Those are the request's own tells (`ua:`, `hdr:`, `tls:` reason codes), each weighing too little to
refuse on its own. The book groups requests by their set of tells; a set that many requests from many addresses carry,
mostly suspect, and that no browser with a clean history of its own ever carried, is a campaign's signature:

1. **shadow** (`automation.shadow_seconds`): the mitigation matches and counts, refusing nothing. A request it
   matches from a holder of botwall's cookie whose own score is under `suspect` is *collateral* (a browser keeps the
   cookie and passes challenges: that is a person, or at least not this campaign);
2. **live** if its collateral stayed at zero, else **discarded**: it refuses (403, policy `mitigation:<id>`, reason
   `mit:campaign-tells`) every request carrying all its tells, except a clean cookie holder's (proof accrues to the
   client: a mitigation never refuses one, it counts it as spared), a verified crawler and the operator's allowlist;
3. **expired** `automation.ttl_seconds` after the tells were last seen (a campaign that stops lets it lapse), unless
   pinned; an operator can also pin, shorten or revoke it (the admin API). Every change is an audit record (who or
   what, when, why, what it did) in the same trail as events.

The groups are bounded (`_GROUPS` tell-sets, least recently seen dropped) and so is the book (`_ACTIVE` mitigations);
each replica or worker keeps its own. The book is ticked at most once a second on the request path.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botwall.config import AutomationSettings
from botwall.evidence.behaviour import Distinct, add, distinct

_GROUPS = 512  # tell-sets followed
_ACTIVE = 50  # mitigations in shadow or live at once
_ENDED = 200  # ended ones kept for the API
_TOP = 8  # fingerprints and paths kept per group, as evidence
MIN_TELL_WEIGHT = 30  # a tell-set weighing less (one missing header, say) says too little about a client's software
REASON = "mit:campaign-tells"


@dataclass
class TellGroup:
    """Requests that carried one set of tells: how many, from how many addresses, how many suspect, and how many
    from clean cookie holders."""

    tells: tuple[str, ...]
    first: float
    last: float = 0.0
    requests: int = 0
    suspect: int = 0
    clean: int = 0
    addresses: Distinct = b""
    fingerprints: dict[str, int] = field(default_factory=dict)
    paths: dict[str, int] = field(default_factory=dict)
    mitigation: str = ""


@dataclass
class Mitigation:
    """A rule derived from a tell-set, its state and what it did."""

    id: str
    tells: frozenset[str]
    created: float
    shadow_until: float
    expires: float
    state: str = "shadow"  # shadow, live, discarded, expired, revoked
    pinned: bool = False
    until: float = 0.0  # an operator's end (shorten), 0: none
    hits: int = 0  # requests refused while live
    shadow_hits: int = 0  # requests it would have refused in shadow
    collateral: int = 0  # clean cookie holders it matched in shadow (any: discarded)
    spared: int = 0  # clean cookie holders it matched while live (let through)
    evidence: dict[str, Any] = field(default_factory=dict)
    ended: float = 0.0

    @property
    def active(self) -> bool:
        return self.state in ("shadow", "live")


def _bump(counter: dict[str, int], key: str) -> None:
    if key in counter or len(counter) < _TOP:
        counter[key] = counter.get(key, 0) + 1


class MitigationBook:
    """The tell-sets followed, the mitigations derived from them, and the audit records of every change."""

    def __init__(
        self,
        settings: AutomationSettings,
        weights: Mapping[str, int],
        clock: Callable[[], float],
        audit: deque[dict[str, Any]] | None = None,
    ) -> None:
        self.settings = settings
        self._weights = weights
        self._clock = clock
        self.groups: OrderedDict[tuple[str, ...], TellGroup] = OrderedDict()
        self.active: dict[str, Mitigation] = {}
        self.ended: deque[Mitigation] = deque(maxlen=_ENDED)
        self.ended_hits = 0  # refusals of the mitigations that ended (a counter for /metrics)
        self.audit: deque[dict[str, Any]] = audit if audit is not None else deque(maxlen=1000)
        self._ticked = -1.0

    @property
    def enabled(self) -> bool:
        return self.settings.mitigations

    # The request path.

    def observe(
        self, tells: tuple[str, ...], suspect: bool, clean: bool, address: int, fingerprint: str, path: str, now: float
    ) -> None:
        """Count one request that carried `tells` (sorted): suspect or not, from a clean cookie holder or not."""
        groups = self.groups
        group = groups.get(tells)
        if group is None:
            if sum(self._weights.get(code, 10) for code in tells) < MIN_TELL_WEIGHT:
                return
            if len(groups) >= _GROUPS:
                groups.popitem(last=False)
            group = groups[tells] = TellGroup(tells, now)
        else:
            groups.move_to_end(tells)
        group.last = now
        group.requests += 1
        group.suspect += suspect
        group.clean += clean
        group.addresses = add(group.addresses, address)
        _bump(group.fingerprints, fingerprint)
        _bump(group.paths, path[:128])
        if now - self._ticked >= 1.0:
            self.tick(now)

    def match(self, tells: Iterable[str]) -> Mitigation | None:
        """The first active mitigation all of whose tells the request carries."""
        if not self.active:
            return None
        carried = frozenset(tells)
        for mitigation in self.active.values():
            if mitigation.tells <= carried:
                return mitigation
        return None

    # Once a second.

    def tick(self, now: float) -> None:
        """Derive mitigations from the groups, move shadows on, extend or end live ones."""
        self._ticked = now
        s = self.settings
        for group in self.groups.values():
            if group.mitigation or len(self.active) >= _ACTIVE:
                continue
            if (
                group.requests >= s.min_requests
                and distinct(group.addresses) >= s.min_addresses
                and group.suspect >= 0.8 * group.requests
                and group.clean == 0
                and now - group.last <= s.ttl_seconds
            ):
                self._create(group, now)
        for mitigation in list(self.active.values()):
            followed = self.groups.get(tuple(sorted(mitigation.tells)))
            seen = followed.last if followed is not None else mitigation.created
            if not mitigation.pinned:
                mitigation.expires = max(mitigation.expires, seen + s.ttl_seconds)
            end = min(mitigation.expires, mitigation.until) if mitigation.until else mitigation.expires
            if mitigation.state == "shadow" and now >= mitigation.shadow_until:
                if mitigation.collateral:
                    why = f"matched {mitigation.collateral} requests of clean cookie holders in its shadow period"
                    self._end(mitigation, "discarded", now, "automation", why)
                    continue
                mitigation.state = "live"
                why = f"no collateral in {s.shadow_seconds:g} s of shadow, {mitigation.shadow_hits} matches"
                self._record(now, "automation", "mitigation_live", mitigation, why)
            if not mitigation.pinned and now >= end:
                shortened = bool(mitigation.until) and now >= mitigation.until
                why = "its end came" if shortened else "its tells were not seen lately"
                self._end(mitigation, "expired", now, "expiry", why)

    def _create(self, group: TellGroup, now: float) -> None:
        tells = frozenset(group.tells)
        digest = hashlib.blake2b(f"{','.join(group.tells)}|{now}".encode(), digest_size=4).hexdigest()
        mitigation = Mitigation(
            id=f"m-{digest}",
            tells=tells,
            created=now,
            shadow_until=now + self.settings.shadow_seconds,
            expires=group.last + self.settings.ttl_seconds,
            evidence={
                "requests": group.requests,
                "suspect": group.suspect,
                "addresses": distinct(group.addresses),
                "first_seen": round(group.first, 3),
                "last_seen": round(group.last, 3),
                "fingerprints": sorted(group.fingerprints, key=lambda f: -group.fingerprints[f]),
                "paths": sorted(group.paths, key=lambda p: -group.paths[p]),
            },
        )
        group.mitigation = mitigation.id
        self.active[mitigation.id] = mitigation
        self._record(now, "automation", "mitigation_create", mitigation,
                     f"{group.requests} requests from {distinct(group.addresses)} addresses carried these tells, "
                     f"{group.suspect} of them suspect, none from a clean cookie holder")  # fmt: skip

    def _end(self, mitigation: Mitigation, state: str, now: float, by: str, why: str) -> None:
        mitigation.state = state
        mitigation.ended = now
        self.ended_hits += mitigation.hits
        self.active.pop(mitigation.id, None)
        self.ended.append(mitigation)
        group = self.groups.get(tuple(sorted(mitigation.tells)))
        if group is not None and state == "expired":
            # Followed afresh: a campaign coming back makes a new one (after a new shadow period). A discarded or
            # revoked one's tells stay marked, so they are not tried again while their group lives.
            group.mitigation = ""
            group.requests = group.suspect = group.clean = 0
            group.addresses = b""
        self._record(now, by, f"mitigation_{state}", mitigation, why)

    def _record(self, now: float, by: str, action: str, mitigation: Mitigation, why: str) -> None:
        self.audit.append(
            {"time": round(now, 3), "by": by, "action": action, "target": mitigation.id, "why": why,
             "changed": {"state": mitigation.state, "tells": sorted(mitigation.tells)}}
        )  # fmt: skip

    # The operator's (the admin API).

    def find(self, mitigation_id: str) -> Mitigation:
        """An active mitigation (KeyError otherwise)."""
        return self.active[mitigation_id]

    def pin(self, mitigation_id: str, by: str, why: str) -> Mitigation:
        """Keep a mitigation until revoked (a shadow one goes live now: the operator vouches for it)."""
        mitigation = self.find(mitigation_id)
        mitigation.pinned = True
        mitigation.until = 0.0
        mitigation.state = "live"
        self._record(self._clock(), by, "mitigation_pin", mitigation, why)
        return mitigation

    def shorten(self, mitigation_id: str, minutes: float, by: str, why: str) -> Mitigation:
        """End a mitigation within `minutes` (unpinning it)."""
        mitigation = self.find(mitigation_id)
        now = self._clock()
        mitigation.pinned = False
        mitigation.until = now + max(0.0, minutes) * 60.0
        self._record(now, by, "mitigation_shorten", mitigation, why)
        return mitigation

    def revoke(self, mitigation_id: str, by: str, why: str) -> Mitigation:
        """End a mitigation now; its tells are not followed again while their group lives."""
        mitigation = self.find(mitigation_id)
        self._end(mitigation, "revoked", self._clock(), by, why)
        return mitigation

    def describe(self) -> list[dict[str, Any]]:
        """Every active mitigation, then the ended ones, newest first (as of now: a quiet site ticks nothing)."""
        if self.active:
            self.tick(self._clock())
        rows = [*self.active.values(), *reversed(self.ended)]
        return [
            {"id": m.id, "state": m.state, "tells": sorted(m.tells), "created": round(m.created, 3),
             "shadow_until": round(m.shadow_until, 3), "expires": None if m.pinned else round(
                 min(m.expires, m.until) if m.until else m.expires, 3),
             "pinned": m.pinned, "hits": m.hits, "shadow_hits": m.shadow_hits, "collateral": m.collateral,
             "spared": m.spared, "ended": round(m.ended, 3) if m.ended else None, "evidence": m.evidence}
            for m in rows
        ]  # fmt: skip
