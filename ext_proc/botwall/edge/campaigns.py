"""Bots and what they do: suspect and refused traffic grouped into campaigns, each described the way an analyst wants
it rather than as good, bad or human.

A campaign is one client software and configuration (the behavioural fingerprint: TLS, header shape, user-agent
family, languages), which survives address rotation. Only traffic botwall found suspect or worse, or refused, counts
(a verified crawler never does). Each campaign describes:

- tools: the user-agents it sends and the tells of its request shape (`ua:`, `hdr:`, `tls:` reason codes);
- infrastructure: how many addresses, which networks (ASN and organisation) and countries, and the share of its
  requests from hosting, VPN, Tor and proxy ranges;
- credentials: login attempts, distinct usernames tried, the share with a breached or common password;
- behaviour: requests per minute while active, the endpoints (templates) it targets, its reason codes;
- actions taken, first and last seen.

Bounded: at most `max_campaigns` (the least recently active forgotten first), `_TOP` keys per counter (the rest under
`(other)`), `_DISTINCT` addresses and usernames counted exactly (then "at least"). O(1) per request; described when the
admin API asks. Not yet merged across fingerprints (one operation rotating browser builds shows as several campaigns
sharing networks and endpoints).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from botwall.edge.accounts import stable_hash
from botwall.policy import Decision

_TOP = 20
_DISTINCT = 10_000
_SHOWN = 5
_OTHER = "(other)"
_TOOL_PREFIXES = ("ua:", "hdr:", "tls:")
_NETWORK_KINDS = ("hosting", "cloud", "cdn", "vpn", "relay", "tor", "proxy")
_BREACHED = "cred:breached-password"
_SAVED = 1_000  # addresses and usernames saved per campaign (the rest saved as a count)


def _bump(counter: dict[str, int], key: str) -> None:
    if key in counter or len(counter) < _TOP:
        counter[key] = counter.get(key, 0) + 1
    else:
        counter[_OTHER] = counter.get(_OTHER, 0) + 1


def _counter(value: Any) -> dict[str, int]:
    """A saved counter back, cut to its bound (a malformed one raises)."""
    return {str(k): int(v) for k, v in list(dict(value).items())[: _TOP + 1]}


def _top(counter: dict[str, int], n: int = _SHOWN) -> list[list[Any]]:
    return [[key, count] for key, count in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


@dataclass(frozen=True)
class Sighting:
    """One suspect or refused request as a campaign needs it."""

    decision: Decision
    address: str
    user_agent: str
    asn: int
    as_org: str
    country: str
    network_kind: str  # hosting, vpn, tor... ("" for an ordinary network)
    endpoint: str  # the request's endpoint template (discovery), or its path
    username: str = ""  # a login's
    breached: bool = False


@dataclass
class Campaign:
    fingerprint: str
    first_seen: float
    last_seen: float = 0.0
    requests: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    user_agents: dict[str, int] = field(default_factory=dict)
    asns: dict[str, int] = field(default_factory=dict)
    countries: dict[str, int] = field(default_factory=dict)
    network_kinds: dict[str, int] = field(default_factory=dict)
    endpoints: dict[str, int] = field(default_factory=dict)
    addresses: set[int] = field(default_factory=set)
    usernames: set[int] = field(default_factory=set)
    logins: int = 0
    breached: int = 0
    minutes: set[int] = field(default_factory=set)  # minutes with activity, for its rate (capped)
    # Distinct addresses and usernames counted before a restart beyond those saved (saved sets are cut to `_SAVED`):
    # after a restart the distinct counts are at least this plus the set, and may count a returning one twice.
    extra_addresses: int = 0
    extra_usernames: int = 0

    def count(self, now: float, s: Sighting) -> None:
        self.requests += 1
        self.last_seen = now
        decision = s.decision
        _bump(self.actions, f"{decision.action}{'-shadow' if decision.shadow else ''}")
        for code in decision.reasons[:8]:
            _bump(self.reasons, code)
        _bump(self.user_agents, s.user_agent[:128] or "(none)")
        _bump(self.asns, f"AS{s.asn} {s.as_org}".strip() if s.asn else "(unknown)")
        _bump(self.countries, s.country or "(unknown)")
        if s.network_kind in _NETWORK_KINDS:
            self.network_kinds[s.network_kind] = self.network_kinds.get(s.network_kind, 0) + 1
        _bump(self.endpoints, s.endpoint[:256])
        if len(self.addresses) < _DISTINCT:
            self.addresses.add(stable_hash(s.address))
        if s.username:
            self.logins += 1
            self.breached += s.breached
            if len(self.usernames) < _DISTINCT:
                self.usernames.add(stable_hash(s.username))
        if len(self.minutes) < 10_080:  # a week of active minutes
            self.minutes.add(int(now // 60))

    def describe(self) -> dict[str, Any]:
        tells = {code: n for code, n in self.reasons.items() if code.startswith(_TOOL_PREFIXES)}
        return {
            "id": self.fingerprint,
            "fingerprint": self.fingerprint,
            "requests": self.requests,
            "first_seen": round(self.first_seen, 3),
            "last_seen": round(self.last_seen, 3),
            "actions": dict(self.actions),
            "tools": {"user_agents": _top(self.user_agents), "tells": _top(tells, 10)},
            "infrastructure": {
                "addresses": len(self.addresses) + self.extra_addresses,
                "networks": _top(self.asns),
                "countries": _top(self.countries),
                "network_kinds": {k: round(n / self.requests, 3) for k, n in sorted(self.network_kinds.items())},
            },
            "credentials": {
                "login_attempts": self.logins,
                "usernames": len(self.usernames) + self.extra_usernames,
                "breached_share": round(self.breached / self.logins, 3) if self.logins else 0.0,
            },
            "behaviour": {
                "requests_per_active_minute": round(self.requests / max(1, len(self.minutes)), 1),
                "active_minutes": len(self.minutes),
                "endpoints": _top(self.endpoints),
                "reasons": _top(self.reasons, 10),
            },
            "counts_capped_at": {"addresses": _DISTINCT, "usernames": _DISTINCT, "keys_per_list": _TOP},
        }


class Campaigns:
    """The campaigns seen; fed by the server, described by the admin API."""

    def __init__(self, max_campaigns: int = 500, clock: Callable[[], float] = time.time) -> None:
        self.max_campaigns = max_campaigns
        self._clock = clock
        self._campaigns: OrderedDict[str, Campaign] = OrderedDict()
        self._dirty: set[str] = set()  # campaigns changed since the last save (`edge.persist`)

    def __len__(self) -> int:
        return len(self._campaigns)

    @staticmethod
    def counts(decision: Decision) -> bool:
        """Whether a decision belongs to a campaign: suspect or worse, or refused; never a verified crawler."""
        return decision.verdict in ("suspect", "bot") or (decision.mitigates and decision.verdict != "good-bot")

    def record(self, sighting: Sighting) -> None:
        now = self._clock()
        key = sighting.decision.fingerprint or "(none)"
        campaigns = self._campaigns
        campaign = campaigns.get(key)
        if campaign is None:
            if len(campaigns) >= self.max_campaigns:
                campaigns.popitem(last=False)
            campaign = campaigns[key] = Campaign(key, now)
        else:
            campaigns.move_to_end(key)
        campaign.count(now, sighting)
        self._dirty.add(key)

    def take_dirty(self) -> list[tuple[str, float, dict[str, Any]]]:
        """The campaigns changed since the last call, as rows to save."""
        rows = []
        for key in self._dirty:
            c = self._campaigns.get(key)
            if c is None:
                continue
            addresses, usernames = sorted(c.addresses), sorted(c.usernames)
            data = {
                "first_seen": c.first_seen, "last_seen": c.last_seen, "requests": c.requests, "actions": c.actions,
                "reasons": c.reasons, "user_agents": c.user_agents, "asns": c.asns, "countries": c.countries,
                "network_kinds": c.network_kinds, "endpoints": c.endpoints, "logins": c.logins,
                "breached": c.breached, "minutes": sorted(c.minutes)[-_SAVED:],
                "addresses": addresses[:_SAVED], "extra_addresses": c.extra_addresses + max(0, len(addresses) - _SAVED),
                "usernames": usernames[:_SAVED], "extra_usernames": c.extra_usernames + max(0, len(usernames) - _SAVED),
            }  # fmt: skip
            rows.append((key, c.last_seen, data))
        self._dirty.clear()
        return rows

    def restore(self, rows: Iterable[tuple[str, dict[str, Any]]]) -> int:
        """Put saved campaigns back (most recently active first), up to the bound; malformed rows are skipped."""
        restored: list[Campaign] = []
        for key, d in rows:
            if len(restored) + len(self._campaigns) >= self.max_campaigns:
                break
            try:
                campaign = Campaign(
                    str(key), float(d["first_seen"]), float(d["last_seen"]), int(d["requests"]),
                    _counter(d["actions"]), _counter(d["reasons"]), _counter(d["user_agents"]), _counter(d["asns"]),
                    _counter(d["countries"]), _counter(d["network_kinds"]), _counter(d["endpoints"]),
                    {int(x) for x in d["addresses"][:_SAVED]}, {int(x) for x in d["usernames"][:_SAVED]},
                    int(d["logins"]), int(d["breached"]), {int(m) for m in d["minutes"][-_SAVED:]},
                    int(d["extra_addresses"]), int(d["extra_usernames"]),
                )  # fmt: skip
            except (KeyError, TypeError, ValueError):
                continue
            restored.append(campaign)
        for campaign in reversed(restored):
            self._campaigns.setdefault(campaign.fingerprint, campaign)
        return len(restored)

    def describe(self, active_since: float = 0.0) -> list[dict[str, Any]]:
        """Every campaign active since `active_since` (epoch seconds), the largest first."""
        rows = [c for c in self._campaigns.values() if c.last_seen >= active_since]
        return [c.describe() for c in sorted(rows, key=lambda c: (-c.requests, c.fingerprint))]
