"""Bots and what they do: suspect and refused traffic grouped into campaigns, each described the way an analyst wants
it rather than as good, bad or human.

A campaign is one client software and configuration (the behavioural fingerprint: TLS, header shape, user-agent
family, languages), which survives address rotation; fingerprints that presented the same botwall cookie are one
campaign (a tool rotating its header shape keeps its cookie jar, and the cookie is bound to the TLS stack and the
user-agent family, not to the header shape), and so are fingerprints refused with the same tool tells (`ua:`, `hdr:`,
`tls:` codes) from the same rented network (one hosting, cloud, VPN, Tor or proxy ASN) on the same endpoint: a tool
rotating its user-agent from one provider. A campaign is named after the first of them and lists them all. Only
traffic botwall found suspect or worse, or refused, counts (a verified crawler never does). Each campaign describes:

- tools: the user-agents it sends and the tells of its request shape (`ua:`, `hdr:`, `tls:` reason codes);
- infrastructure: how many addresses, which networks (ASN and organisation) and countries, and the share of its
  requests from hosting, VPN, Tor and proxy ranges;
- credentials: login attempts, distinct usernames tried, the share with a breached or common password;
- behaviour: requests per minute while active, the endpoints (templates) it targets, its reason codes;
- actions taken, first and last seen.

Bounded: at most `max_campaigns` (the least recently active forgotten first), `_TOP` keys per counter (the rest under
`(other)`), `_DISTINCT` addresses and usernames counted exactly (then "at least"), `_TOKENS` cookies remembered for
linking. O(1) per request; described when the admin API asks. Never merged by a residential network or an address
alone (people share those with bots), so an operation that rotates its user-agent family through residential proxies
shows as several campaigns sharing endpoints; the links between fingerprints are not saved with `--state-dir` (they
are learned again).
"""

from __future__ import annotations

import heapq
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from botwall.policy import Decision
from botwall.state.keys import KeyHasher

_TOP = 20
_DISTINCT = 10_000
_SHOWN = 5
_TIMELINE = 240  # the last active minutes a campaign lists (its timeline)
_OTHER = "(other)"
_TOOL_PREFIXES = ("ua:", "hdr:", "tls:")
_NETWORK_KINDS = ("hosting", "cloud", "cdn", "vpn", "relay", "tor", "proxy")
# Rented networks: a refusal with the same tool tells, from the same one of these ASNs, on the same endpoint links
# fingerprints (not a relay or a CDN, which carry people's browsers).
_RENTED = ("hosting", "cloud", "vpn", "tor", "proxy")
_BREACHED = "cred:breached-password"
_TOKENS = 50_000  # cookies remembered, to link the fingerprints that present one
_SAVED = 1_000  # addresses and usernames saved per campaign (the rest saved as a count)


def _bump(counter: dict[str, int], key: str) -> None:
    if key in counter or len(counter) < _TOP:
        counter[key] = counter.get(key, 0) + 1
    else:
        counter[_OTHER] = counter.get(_OTHER, 0) + 1


def _merge(root: str, members: list[Campaign]) -> Campaign:
    """One campaign from several linked ones (their counters added, their distinct sets joined)."""
    merged = Campaign(root, min(m.first_seen for m in members))
    for m in members:
        merged.last_seen = max(merged.last_seen, m.last_seen)
        merged.requests += m.requests
        for mine, theirs in (
            (merged.actions, m.actions), (merged.reasons, m.reasons), (merged.user_agents, m.user_agents),
            (merged.asns, m.asns), (merged.countries, m.countries), (merged.network_kinds, m.network_kinds),
            (merged.endpoints, m.endpoints),
        ):  # fmt: skip
            for key, count in theirs.items():
                mine[key] = mine.get(key, 0) + count
        merged.addresses |= m.addresses
        merged.usernames |= m.usernames
        merged.extra_addresses += m.extra_addresses
        merged.extra_usernames += m.extra_usernames
        merged.logins += m.logins
        merged.breached += m.breached
        merged.minutes |= m.minutes
    return merged


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
    token: str = ""  # botwall's cookie (its keyed hash), when the request held one: it links fingerprints


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

    def count(self, now: float, s: Sighting, keys: KeyHasher) -> None:
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
            self.addresses.add(keys(s.address))
        if s.username:
            self.logins += 1
            self.breached += s.breached
            if len(self.usernames) < _DISTINCT:
                self.usernames.add(keys(s.username))
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
            "active": [m * 60 for m in sorted(heapq.nlargest(_TIMELINE, self.minutes))],
            "counts_capped_at": {"addresses": _DISTINCT, "usernames": _DISTINCT, "keys_per_list": _TOP},
        }


class Campaigns:
    """The campaigns seen; fed by the server, described by the admin API."""

    def __init__(
        self, max_campaigns: int = 500, clock: Callable[[], float] = time.time, keys: KeyHasher | None = None
    ) -> None:
        self.max_campaigns = max_campaigns
        self._clock = clock
        self._keys = keys or KeyHasher.from_env()  # addresses and usernames as keyed hashes, as `Accounts` keeps them
        self._campaigns: OrderedDict[str, Campaign] = OrderedDict()
        self._dirty: set[str] = set()  # campaigns changed since the last save (`edge.persist`)
        self._parent: dict[str, str] = {}  # fingerprint -> the fingerprint it was linked to (union-find)
        self._tokens: OrderedDict[str, str] = OrderedDict()  # cookie -> a fingerprint that presented it (bounded)

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
                gone, _ = campaigns.popitem(last=False)
                self._drop_link(gone)
            campaign = campaigns[key] = Campaign(key, now)
        else:
            campaigns.move_to_end(key)
        campaign.count(now, sighting, self._keys)
        self._dirty.add(key)
        if sighting.token:
            self._link(sighting.token, key)
        decision = sighting.decision
        if sighting.asn and sighting.network_kind in _RENTED and decision.mitigates:
            tells = sorted({code for code in decision.reasons if code.startswith(_TOOL_PREFIXES)})
            if tells:  # one operation's tool on rented infrastructure, whatever user-agent it rotates to
                self._link(f"net:{sighting.asn}:{sighting.endpoint}:{','.join(tells)}", key)

    def campaign_of(self, fingerprint: str) -> str:
        """The id of the campaign a fingerprint belongs to ("" when botwall has none for it): its group's root, as
        `describe` names it."""
        return self._root(fingerprint) if fingerprint in self._campaigns else ""

    def _root(self, fingerprint: str) -> str:
        """The fingerprint a campaign's group is named after (union-find, with path compression)."""
        parent = self._parent
        root = fingerprint
        while parent.get(root, root) != root:
            root = parent[root]
        node = fingerprint
        while node != root:
            parent[node], node = root, parent[node]
        return root

    def _drop_link(self, fingerprint: str) -> None:
        """A forgotten campaign leaves the union-find: what pointed at it points at its own root instead."""
        root = self._root(fingerprint)  # compresses: every member of its group now points at the root
        children = [node for node, up in self._parent.items() if up == fingerprint and node != fingerprint]
        heir = root if root != fingerprint else (children[0] if children else "")
        for node in children:
            self._parent[node] = heir
        self._parent.pop(fingerprint, None)
        self._parent.pop(heir, None)  # the heir of a root is a root itself

    def _link(self, token: str, fingerprint: str) -> None:
        tokens = self._tokens
        other = tokens.get(token)
        if other is None:
            if len(tokens) >= _TOKENS:
                tokens.popitem(last=False)
            tokens[token] = fingerprint
            return
        tokens.move_to_end(token)
        a, b = self._root(other), self._root(fingerprint)
        if a != b:  # the older campaign gives the group its name
            first, second = sorted((a, b), key=lambda f: self._campaigns[f].first_seen if f in self._campaigns else 0)
            self._parent[second] = first

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
        """Every campaign active since `active_since` (epoch seconds), the largest first: fingerprints linked by a
        cookie described together."""
        groups: dict[str, list[Campaign]] = {}
        for campaign in self._campaigns.values():
            groups.setdefault(self._root(campaign.fingerprint), []).append(campaign)
        rows = []
        for root, members in groups.items():
            merged = members[0] if len(members) == 1 else _merge(root, members)
            if merged.last_seen >= active_since:
                described = merged.describe()
                described["fingerprints"] = sorted(m.fingerprint for m in members)
                rows.append(described)
        return sorted(rows, key=lambda c: (-c["requests"], c["id"]))
