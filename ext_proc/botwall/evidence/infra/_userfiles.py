"""Files the operator supplies: reputation lists, a Tor exit list, pyasn IPASN files and MMDB databases.

Every reader raises `ConfigError` naming the file, the line (or the part of the file) and what was expected, so a
bad download is caught at start-up rather than silently matching nothing. Formats are documented in docs/ip-data.md.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import maxminddb

from botwall.errors import ConfigError
from botwall.evidence.infra._origin import HOSTING, PROXY, RELAY, TOR, VPN
from botwall.evidence.infra._ranges import MAX4, NO_VALUE, RangeMap, parse_ip

BAD = "bad"
ALLOW = "allow"
REPUTATIONS = (BAD, ALLOW)
MMDB_KINDS = ("country", "asn", "anonymous")
_MAX_ASN = 0xFFFFFFFE  # 0xFFFFFFFF is the tables' "no value"; it is a reserved ASN anyway
_PROBE_RECORDS = 256


@dataclass(frozen=True, slots=True)
class ReputationList:
    """A list of CIDRs, IPs and AS numbers that botwall should treat as `bad` or `allow`; `name` tags the answer."""

    path: str
    reputation: str
    name: str = ""

    @property
    def label(self) -> str:
        """`name`, or the file name without its extension."""
        return self.name or Path(self.path).stem


@dataclass(frozen=True, slots=True)
class MmdbFile:
    """A MaxMind-format database: `kind` is country, asn or anonymous (VPN, proxy, Tor and hosting flags)."""

    path: str
    kind: str


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, "", f"a readable file ({exc.strerror})", show_got=False) from None
    except UnicodeDecodeError:
        raise ConfigError(path, "", "UTF-8 text", show_got=False) from None


def entries(path: str, comments: str = "#;") -> Iterator[tuple[int, list[str]]]:
    """`(line number, fields)` of every line that is not blank once comments are cut off."""
    for number, line in enumerate(_read_text(path).splitlines(), 1):
        for mark in comments:
            line = line.split(mark, 1)[0]
        fields = line.split()
        if fields:
            yield number, fields


def parse_asn(text: str) -> int | None:
    """`AS64500`, `as64500` or `64500` as an AS number, None if it is not one."""
    digits = text[2:] if text[:2].lower() == "as" else text
    if not digits.isdigit():
        return None
    asn = int(digits)
    return asn if 1 <= asn <= _MAX_ASN else None


def parse_network(text: str) -> tuple[int, int, int] | None:
    """`(version, first, last)` for a CIDR or a bare IP (host bits allowed), None if it is neither."""
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    if isinstance(net, ipaddress.IPv6Network) and net.prefixlen >= 96 and net.network_address.ipv4_mapped:
        # Lookups read ::ffff:a.b.c.d as IPv4, so store mapped entries that way too.
        first = int(net.network_address) & MAX4
        return 4, first, first | (MAX4 >> (net.prefixlen - 96))
    return net.version, int(net.network_address), int(net.broadcast_address)


class Reputation:
    """User reputation lists merged into one range map and one ASN map; allowlists outrank blocklists."""

    __slots__ = ("_asns", "_labels", "_ranges")

    def __init__(self, lists: Sequence[ReputationList]) -> None:
        for spec in lists:
            if spec.reputation not in REPUTATIONS:
                raise ConfigError(spec.path, "reputation", "'bad' or 'allow'", spec.reputation)
        # Rank = precedence: every allowlist (in the order given) before every blocklist, so an operator's
        # exception for a partner or a monitor beats a broad blocklist that happens to contain it.
        ranked = sorted(lists, key=lambda s: s.reputation != ALLOW)
        self._labels = [(s.reputation, s.label) for s in ranked]
        self._asns: dict[int, int] = {}
        intervals: list[tuple[int, int, int, int]] = []
        for rank, spec in enumerate(ranked):
            for number, fields in entries(spec.path):
                token = fields[0]
                asn = parse_asn(token) if token[:2].lower() == "as" else None
                if asn is not None:
                    self._asns[asn] = min(rank, self._asns.get(asn, rank))
                    continue
                network = parse_network(token)
                if network is None:
                    raise ConfigError(
                        spec.path, f"line {number}", "a CIDR (203.0.113.0/24), an IP or an AS number (AS64500)", token
                    )
                intervals.append((*network, rank))
        self._ranges = RangeMap.build(intervals, min)

    def find(self, version: int, address: int, asn: int) -> tuple[str, str]:
        """`(reputation, list name)` for an address and its ASN, `("", "")` if no list names either."""
        rank = self._ranges.find(version, address) if self._ranges else NO_VALUE
        if asn and self._asns:
            rank = min(rank, self._asns.get(asn, NO_VALUE))
        return ("", "") if rank == NO_VALUE else self._labels[rank]

    def __bool__(self) -> bool:
        return bool(self._labels)


def load_tor_exits(path: str) -> frozenset[str]:
    """Canonical IPs from a Tor exit list: one IP a line, or the Tor Project's `exit-addresses` format."""
    found: set[str] = set()
    for number, fields in entries(path, comments="#"):
        if fields[0] in ("ExitNode", "Published", "LastStatus"):
            continue  # exit-addresses: only the ExitAddress lines carry an address
        token = fields[1] if fields[0] == "ExitAddress" and len(fields) > 1 else fields[0]
        parsed = parse_ip(token)
        if parsed is None:
            raise ConfigError(path, f"line {number}", "an IP address (one a line) or an ExitAddress line", token)
        found.add(parsed[2])
    return frozenset(found)


def load_ipasn(paths: Sequence[str]) -> RangeMap:
    """pyasn IPASN files (`CIDR<TAB>ASN` a line, `;` comments) as one map; the first file, then the narrowest, wins."""
    intervals: list[tuple[int, int, int, tuple[int, int, int]]] = []
    for order, path in enumerate(paths):
        for number, fields in entries(path, comments=";#"):
            network = parse_network(fields[0]) if "/" in fields[0] else None
            if network is None:
                raise ConfigError(path, f"line {number}", "a CIDR prefix first (1.0.0.0/24)", fields[0])
            asn = parse_asn(fields[1]) if len(fields) > 1 else None
            if asn is None:
                got = fields[1] if len(fields) > 1 else None
                raise ConfigError(path, f"line {number}", "an AS number after the prefix", got)
            version, first, last = network
            intervals.append((version, first, last, (order, last - first, asn)))
    return RangeMap.build(intervals, lambda payloads: min(payloads)[2])


# MMDB records: MaxMind and DB-IP nest (`country.iso_code`, `autonomous_system_number`); IPinfo is flat
# (`country_code` or `country`, `asn: "AS15169"`, `as_name` or `name`, and "true"/"false" privacy flags).
def mmdb_country(record: object) -> str:
    """The ISO country code of a record, "" if it has none."""
    if not isinstance(record, dict):
        return ""
    value = record.get("country")
    if isinstance(value, dict):
        value = value.get("iso_code")
    if not isinstance(value, str):
        value = record.get("country_code")
    return value.upper() if isinstance(value, str) and len(value) == 2 else ""


def mmdb_asn(record: object) -> tuple[int, str]:
    """`(asn, organisation)` of a record, `(0, "")` if it has no ASN."""
    if not isinstance(record, dict):
        return 0, ""
    number = record.get("autonomous_system_number")
    org = record.get("autonomous_system_organization")
    if number is None:
        number = record.get("asn")
        org = record.get("as_name") or record.get("name")
    if isinstance(number, str):
        number = parse_asn(number)
    if not isinstance(number, int) or isinstance(number, bool) or not 0 < number <= _MAX_ASN:
        return 0, ""
    return number, org if isinstance(org, str) else ""


def _flag(record: dict[str, object], *names: str) -> bool:
    return any(record.get(n) in (True, "true", "True", 1) for n in names)


def mmdb_network(record: object) -> str:
    """The network kind an anonymous-IP record implies, strongest first, "" if none."""
    if not isinstance(record, dict):
        return ""
    if _flag(record, "is_tor_exit_node", "tor"):
        return TOR
    if _flag(record, "is_anonymous_vpn", "vpn"):
        return VPN
    if _flag(record, "is_public_proxy", "is_residential_proxy", "proxy"):
        return PROXY
    if _flag(record, "relay"):
        return RELAY
    if _flag(record, "is_hosting_provider", "hosting"):
        return HOSTING
    return ""


_EXPECTED = {
    "country": ("a country database (records with country.iso_code or country_code)", mmdb_country),
    "asn": ("an ASN database (records with autonomous_system_number or asn)", mmdb_asn),
    "anonymous": ("an anonymous-IP database (records with is_anonymous_vpn, vpn, proxy, tor or hosting)", None),
}
_ANONYMOUS_KEYS = frozenset(
    {
        "is_anonymous",
        "is_anonymous_vpn",
        "is_hosting_provider",
        "is_public_proxy",
        "is_residential_proxy",
        "is_tor_exit_node",
        "vpn",
        "proxy",
        "tor",
        "relay",
        "hosting",
    }
)


def _looks_like(kind: str, record: object) -> bool:
    if kind == "anonymous":
        return isinstance(record, dict) and not _ANONYMOUS_KEYS.isdisjoint(record)
    extract = _EXPECTED[kind][1]
    return extract is not None and bool(extract(record)[0] if kind == "asn" else extract(record))


def open_mmdb(spec: MmdbFile) -> maxminddb.Reader:
    """Open an MMDB file (memory-mapped) and check that its first records have the fields `kind` needs."""
    if spec.kind not in MMDB_KINDS:
        raise ConfigError(spec.path, "kind", "one of " + ", ".join(MMDB_KINDS), spec.kind)
    try:
        reader = maxminddb.open_database(spec.path)
    except OSError as exc:
        raise ConfigError(spec.path, "", f"a readable file ({exc.strerror})", show_got=False) from None
    except (maxminddb.InvalidDatabaseError, ValueError) as exc:
        raise ConfigError(spec.path, "", f"a MaxMind DB (MMDB) file ({exc})", show_got=False) from None
    try:
        sample = [record for _, record in islice(iter(reader), _PROBE_RECORDS)]
    except (maxminddb.InvalidDatabaseError, ValueError) as exc:
        reader.close()
        raise ConfigError(spec.path, "", f"a MaxMind DB (MMDB) file ({exc})", show_got=False) from None
    if not sample:
        reader.close()
        raise ConfigError(spec.path, "", "a database with at least one network", show_got=False)
    if not any(_looks_like(spec.kind, r) for r in sample):
        reader.close()
        got = sorted(sample[0]) if isinstance(sample[0], dict) else sample[0]
        raise ConfigError(spec.path, "kind", _EXPECTED[spec.kind][0], got)
    return reader


def mmdb_get(reader: maxminddb.Reader, ip: str) -> object:
    """The record for an IP, None if absent (an IPv6 address in an IPv4-only database is absent, not an error)."""
    try:
        return reader.get(ip)
    except ValueError:
        return None
