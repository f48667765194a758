"""InfraSettings: the operator's IP data files, one typed object, with a validator for a YAML `ip_data:` section."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from botwall.errors import ConfigError
from botwall.evidence.infra._crawlers import CrawlerRanges
from botwall.evidence.infra._userfiles import MMDB_KINDS, REPUTATIONS, MmdbFile, ReputationList

DEFAULT_CACHE_SIZE = 65_536


@dataclass(frozen=True, slots=True)
class InfraSettings:
    """Where botwall's IP knowledge comes from beyond the data it ships; every file is read once, at start-up."""

    # MaxMind-format databases (MaxMind, IPinfo, DB-IP): country, asn or anonymous; the first answer wins and
    # overrides the shipped data.
    mmdb_files: tuple[MmdbFile, ...] = ()
    # CIDR / IP / AS-number lists marked bad or allow; every allowlist outranks every blocklist.
    reputation_lists: tuple[ReputationList, ...] = ()
    # Tor exits, one IP a line (or the Tor Project's exit-addresses format); overrides the shipped Tor ranges.
    tor_exit_list: str | None = None
    # Crawler ranges in the operators' JSON format, refreshing or adding to the shipped snapshot.
    crawler_ranges: tuple[CrawlerRanges, ...] = ()
    # pyasn IPASN files (CIDR<TAB>ASN), preferred over the shipped ASN table.
    ipasn_files: tuple[str, ...] = ()
    # Distinct IPs whose answers stay cached (least recently used evicted first).
    cache_size: int = DEFAULT_CACHE_SIZE


_KEYS = {"mmdb", "reputation_lists", "tor_exit_list", "crawler_ranges", "ipasn_files", "cache_size"}


def _mapping(raw: object, source: str, key: str, allowed: set[str]) -> Mapping[str, object]:
    if not isinstance(raw, Mapping):
        raise ConfigError(source, key, "a mapping", raw)
    for name in raw:
        if name not in allowed:
            raise ConfigError(
                source, f"{key}.{name}", f"one of the keys {sorted(allowed)} (unknown key)", show_got=False
            )
    return raw


def _list(raw: object, source: str, key: str) -> list[object]:
    if not isinstance(raw, list):
        raise ConfigError(source, key, "a list", raw)
    return raw


def _string(raw: object, source: str, key: str) -> str:
    if not isinstance(raw, str) or not raw:
        raise ConfigError(source, key, "a non-empty string", raw)
    return raw


def parse_infra_settings(
    raw: object, source: str, key: str = "ip_data", base_dir: str | Path | None = None
) -> InfraSettings:
    """Validate an `ip_data:` config section (None means none); relative paths resolve against `base_dir`.

    Errors are `ConfigError`s naming `source` and the key path, like the rest of the config. The files themselves
    are checked later, by `load_ip_intel`.
    """
    if raw is None:
        return InfraSettings()
    m = _mapping(raw, source, key, _KEYS)

    def path(value: object, at: str) -> str:
        text = _string(value, source, at)
        return str(Path(base_dir) / text) if base_dir is not None and not Path(text).is_absolute() else text

    mmdb = []
    for i, item in enumerate(_list(m.get("mmdb", []), source, f"{key}.mmdb")):
        at = f"{key}.mmdb[{i}]"
        e = _mapping(item, source, at, {"path", "kind"})
        kind = _string(e.get("kind"), source, f"{at}.kind")
        if kind not in MMDB_KINDS:
            raise ConfigError(source, f"{at}.kind", "one of " + ", ".join(MMDB_KINDS), kind)
        mmdb.append(MmdbFile(path(e.get("path"), f"{at}.path"), kind))
    lists = []
    for i, item in enumerate(_list(m.get("reputation_lists", []), source, f"{key}.reputation_lists")):
        at = f"{key}.reputation_lists[{i}]"
        e = _mapping(item, source, at, {"path", "reputation", "name"})
        reputation = _string(e.get("reputation"), source, f"{at}.reputation")
        if reputation not in REPUTATIONS:
            raise ConfigError(source, f"{at}.reputation", "'bad' or 'allow'", reputation)
        name = _string(e["name"], source, f"{at}.name") if "name" in e else ""
        lists.append(ReputationList(path(e.get("path"), f"{at}.path"), reputation, name))
    crawlers = []
    for i, item in enumerate(_list(m.get("crawler_ranges", []), source, f"{key}.crawler_ranges")):
        at = f"{key}.crawler_ranges[{i}]"
        e = _mapping(item, source, at, {"path", "name", "user_agents"})
        name = _string(e["name"], source, f"{at}.name") if "name" in e else ""
        agents = _list(e.get("user_agents", []), source, f"{at}.user_agents")
        tokens = tuple(_string(a, source, f"{at}.user_agents[{j}]") for j, a in enumerate(agents))
        crawlers.append(CrawlerRanges(path(e.get("path"), f"{at}.path"), name, tokens))
    ipasn = tuple(
        path(p, f"{key}.ipasn_files[{i}]")
        for i, p in enumerate(_list(m.get("ipasn_files", []), source, f"{key}.ipasn_files"))
    )
    tor = m.get("tor_exit_list")
    cache_size = m.get("cache_size", DEFAULT_CACHE_SIZE)
    if isinstance(cache_size, bool) or not isinstance(cache_size, int) or not 0 <= cache_size <= 10_000_000:
        raise ConfigError(source, f"{key}.cache_size", "an integer from 0 to 10000000", cache_size)
    return InfraSettings(
        mmdb_files=tuple(mmdb),
        reputation_lists=tuple(lists),
        tor_exit_list=None if tor is None else path(tor, f"{key}.tor_exit_list"),
        crawler_ranges=tuple(crawlers),
        ipasn_files=ipasn,
        cache_size=cache_size,
    )
