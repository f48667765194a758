"""RequestView: what botwall knows about one HTTP request, built once from Envoy's first message."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# Attributes arrive under this key whatever the filter is named (ENVOY_NOTES).
ATTRIBUTES_KEY = "envoy.filters.http.ext_proc"
SOURCE_ADDRESS = "source.address"
# Filter-state keys that the standalone Envoy config fills from the TLS inspector. They reach botwall as
# request attributes, which clients cannot spoof (a header could be).
JA4_ATTRIBUTE = "filter_state['botwall.ja4']"
JA3_ATTRIBUTE = "filter_state['botwall.ja3']"
REQUEST_ATTRIBUTES = (SOURCE_ADDRESS, JA4_ATTRIBUTE, JA3_ATTRIBUTE)


@dataclass(frozen=True, slots=True)
class RequestView:
    """One request as the pipeline sees it: pseudo-headers split out, other headers in arrival order."""

    method: str
    scheme: str
    authority: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    client_ip: str
    ja4: str = ""
    ja3: str = ""
    by_name: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def header(self, name: str, default: str = "") -> str:
        """First value of a header (lower-case name), or `default`."""
        return self.by_name.get(name, default)


def strip_port(address: str) -> str:
    """Turn Envoy's `source.address` (`ip:port`, `[v6]:port`, or a bare IP) into the IP alone."""
    if address.startswith("["):
        end = address.find("]")
        return address[1:end] if end > 0 else address
    if address.count(":") == 1:
        return address.rsplit(":", 1)[0]
    return address  # a bare IPv6 address or an IPv4 address without a port


def _fingerprint_value(value: str) -> str:
    # TLS fingerprints on a plain-HTTP listener come through as "-" or empty.
    return "" if value in ("", "-") else value


def build_view(
    headers: Iterable[tuple[str, str]],
    attributes: Mapping[str, str],
    ja4_header: str = "",
    ja3_header: str = "",
) -> RequestView:
    """Build the view from decoded header pairs and the flattened request attributes.

    `ja4_header`/`ja3_header` name gateway-set headers to read the TLS fingerprints from when no attribute carries
    them (see config.EnvoySettings); empty means never trust a header for them.
    """
    method = scheme = authority = raw_path = ""
    ordered: list[tuple[str, str]] = []
    by_name: dict[str, str] = {}
    for name, value in headers:
        if name[:1] == ":":
            if name == ":method":
                method = value
            elif name == ":path":
                raw_path = value
            elif name == ":authority":
                authority = value
            elif name == ":scheme":
                scheme = value
            continue
        ordered.append((name, value))
        by_name.setdefault(name, value)
    path, _, query = raw_path.partition("?")
    return RequestView(
        method=method,
        scheme=scheme,
        authority=authority,
        path=path,
        query=query,
        headers=tuple(ordered),
        client_ip=strip_port(attributes.get(SOURCE_ADDRESS, "")),
        ja4=_fingerprint_value(attributes.get(JA4_ATTRIBUTE) or (by_name.get(ja4_header, "") if ja4_header else "")),
        ja3=_fingerprint_value(attributes.get(JA3_ATTRIBUTE) or (by_name.get(ja3_header, "") if ja3_header else "")),
        by_name=by_name,
    )
