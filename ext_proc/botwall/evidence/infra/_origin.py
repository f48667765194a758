"""Hosting, cloud, CDN, VPN, relay, Tor and declared-crawler ranges from the `iporigin` package's `ranges.bin`.

Only the data file is read, with the format iporigin 1.x documents in its `_data.py`; iporigin's own modules are
never imported (its `online` module calls a web API). Each range carries one label, `provider<TAB>kind`, and where
feeds overlap the narrowest wins: a Bingbot address reads as Microsoft Azure, so crawler verification must not
lean on these labels.
"""

from __future__ import annotations

import re
import struct
from array import array
from collections.abc import Iterator, Sequence
from importlib.util import find_spec
from pathlib import Path

from botwall.evidence.infra._ranges import NO_VALUE, Ranges4, Ranges6, flatten, is_disjoint

# The network vocabulary: what kind of place an address is, whoever runs it (the provider says who).
HOSTING = "hosting"  # a server at a hosting company
CLOUD = "cloud"  # on-demand compute at a public cloud (anyone can rent an address there in a minute)
CDN = "cdn"  # edge infrastructure (CDN, edge functions, Cloudflare WARP)
VPN = "vpn"  # a consumer VPN exit
RELAY = "relay"  # a privacy relay in front of real browsers (Apple iCloud Private Relay)
TOR = "tor"  # a Tor exit
PROXY = "proxy"  # a public or residential proxy (only from a user's anonymous-IP MMDB)
CRAWLER = "crawler"  # a declared crawler's range as community lists record it (not a verification)
NETWORK_KINDS = (HOSTING, CLOUD, CDN, VPN, RELAY, TOR, PROXY, CRAWLER)

_KINDS = {"hosting": HOSTING, "cdn": CDN, "vpn": VPN, "tor": TOR, "bot": CRAWLER}
# iporigin says "hosting" for all of these; botwall tells rent-by-the-minute clouds from classic hosting.
_CLOUD_PROVIDERS = frozenset(
    {
        "Amazon AWS",
        "Microsoft Azure",
        "Google Cloud",
        "Oracle Cloud",
        "Alibaba Cloud",
        "Tencent Cloud",
        "Huawei Cloud",
        "IBM Cloud",
        "DigitalOcean",
        "Linode",
        "Vultr",
        "Scaleway",
        "UpCloud",
    }
)
_RELAY_PROVIDERS = frozenset({"Apple Private Relay"})
_PROVIDER_IDS = {
    "Amazon AWS": "aws",
    "Microsoft Azure": "azure",
    "Google Cloud": "gcp",
    "Oracle Cloud": "oracle",
    "Alibaba Cloud": "alibaba",
    "Tencent Cloud": "tencent",
    "Huawei Cloud": "huawei",
    "IBM Cloud": "ibm",
    "OVHcloud": "ovh",
}

_MAGIC = b"IPORIGIN"
_FORMAT = 1
_HEADER = struct.Struct("<8sHQHII")  # magic, format version, built_at (unix), labels, IPv4 ranges, IPv6 ranges
_V4 = struct.Struct("<IIH")
_V6 = struct.Struct("<16s16sH")


def provider_id(name: str) -> str:
    """A short, stable identifier for a provider name: "Amazon AWS" -> "aws", "Apple Private Relay" -> ..."""
    return _PROVIDER_IDS.get(name) or re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def network_kind(provider: str, kind: str) -> str:
    """Map an iporigin label to the network vocabulary ("" for a kind botwall does not know)."""
    if provider in _RELAY_PROVIDERS:
        return RELAY
    if kind == "hosting" and provider in _CLOUD_PROVIDERS:
        return CLOUD
    return _KINDS.get(kind, "")


def package_file(package: str, *parts: str) -> Path:
    """A data file inside an installed package, located without importing the package."""
    spec = find_spec(package)
    if spec is None or spec.origin is None:
        raise RuntimeError(
            f"botwall.evidence.infra: the {package!r} package is not installed (it is a botwall dependency)"
        )
    return Path(spec.origin).parent.joinpath(*parts)


class OriginTable:
    """Address -> (network, provider)."""

    __slots__ = ("built_at", "labels", "v4", "v6")

    def __init__(self, labels: Sequence[tuple[str, str]], v4: Ranges4, v6: Ranges6, built_at: int) -> None:
        self.labels = tuple(labels)
        self.v4 = v4
        self.v6 = v6
        self.built_at = built_at

    def find(self, version: int, address: int) -> tuple[str, str]:
        """`(network, provider)`, or `("", "")` outside every range."""
        index = self.v4.find(address) if version == 4 else self.v6.find(address)
        return ("", "") if index == NO_VALUE else self.labels[index]

    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return self.v4.nbytes() + self.v6.nbytes()


def read_origin_table(path: Path | None = None) -> OriginTable:
    """Parse iporigin's `ranges.bin` (the installed package's, unless `path` is given)."""
    path = path or package_file("iporigin", "data", "ranges.bin")
    blob = path.read_bytes()
    magic, version, built_at, n_labels, n4, n6 = _HEADER.unpack_from(blob, 0)
    if magic != _MAGIC or version != _FORMAT:
        raise ValueError(f"{path}: not an iporigin format {_FORMAT} dataset ({magic!r}, version {version})")
    offset = _HEADER.size
    labels: list[tuple[str, str]] = []
    for _ in range(n_labels):
        (length,) = struct.unpack_from("<H", blob, offset)
        provider, _, kind = blob[offset + 2 : offset + 2 + length].decode("utf-8").partition("\t")
        labels.append((network_kind(provider, kind), provider_id(provider)))
        offset += 2 + length
    end4 = offset + n4 * _V4.size
    end6 = end4 + n6 * _V6.size
    if end6 != len(blob):
        raise ValueError(f"{path}: {len(blob)} bytes, expected {end6} for {n4} IPv4 and {n6} IPv6 ranges")
    view = memoryview(blob)

    def rows4() -> Iterator[tuple[int, int, int]]:
        return _V4.iter_unpack(view[offset:end4])

    def rows6() -> Iterator[tuple[int, int, int]]:
        return ((int.from_bytes(s, "big"), int.from_bytes(e, "big"), i) for s, e, i in _V6.iter_unpack(view[end4:end6]))

    # iporigin promises sorted, disjoint ranges, which stream straight into the arrays; should a release break
    # that promise, flatten resolves the overlaps narrowest-first.
    def narrowest(payloads: list[tuple[int, int]]) -> int:
        return min(payloads)[1]

    seg4 = rows4() if is_disjoint(rows4()) else flatten([(s, e, (e - s, i)) for s, e, i in rows4()], narrowest)
    seg6 = rows6() if is_disjoint(rows6()) else flatten([(s, e, (e - s, i)) for s, e, i in rows6()], narrowest)
    return OriginTable(labels, Ranges4.from_segments(seg4), Ranges6.from_segments(seg6), built_at)


def empty_origin_table() -> OriginTable:
    """A table with no ranges."""
    return OriginTable((), Ranges4(array("I"), array("I")), Ranges6(array("Q"), {}, array("I")), 0)
