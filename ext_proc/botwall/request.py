"""RequestView: what botwall knows about one HTTP request, built once from Envoy's first message.

Everything botwall reads later is bounded here, before any parsing: a header value longer than any real client sends
is cut to its bound and named in `RequestView.oversized` (evidence in its own right: `hdr:malformed-value`), so no
analyzer ever sees an unbounded string. The path used for matching is normalised the way Envoy's `normalize_path`
and `merge_slashes` do (percent-encoded unreserved characters decoded, dot segments removed, repeated slashes
merged), and `%2F` is read as the slash an upstream may decode it to, so `/api/%6cogin`, `//api/./login` and
`/api%2Flogin` meet the same login route and policies as `/api/login`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# The ext_proc filter's canonical name: every Envoy config botwall renders (botwall.deploy) names the filter this.
EXT_PROC_FILTER = "envoy.filters.http.ext_proc"
# Attributes arrive under the canonical name whatever the filter is named (ENVOY_NOTES).
ATTRIBUTES_KEY = EXT_PROC_FILTER
SOURCE_ADDRESS = "source.address"
# Filter-state keys that botwall's Envoy configs fill from the TLS inspector (JA4, JA3). They reach botwall as
# request attributes, which clients cannot spoof (a header could be).
FINGERPRINT_STATE = {"ja4": "botwall.ja4", "ja3": "botwall.ja3"}
JA4_ATTRIBUTE = f"filter_state['{FINGERPRINT_STATE['ja4']}']"
JA3_ATTRIBUTE = f"filter_state['{FINGERPRINT_STATE['ja3']}']"
REQUEST_ATTRIBUTES = (SOURCE_ADDRESS, JA4_ATTRIBUTE, JA3_ATTRIBUTE)

# Bounds, in characters, on what one request may carry into the pipeline. Real clients stay far below them (the
# longest browser and in-app user-agents are about 500 characters); Envoy's own limits (60 KiB of headers, 100
# headers by default) still apply before these.
MAX_USER_AGENT = 1024
MAX_COOKIE = 16_384
MAX_VALUE = 8192  # any other header value
MAX_PATH = 8192  # the path and the query string, each
MAX_HEADERS = 128
MAX_CLIENT_HINT = 512  # real `sec-ch-ua` values are about 100 characters
_LIMITS = {
    "user-agent": MAX_USER_AGENT,
    "cookie": MAX_COOKIE,
    "sec-ch-ua": MAX_CLIENT_HINT,
    "sec-ch-ua-full-version-list": MAX_CLIENT_HINT,
    "accept-language": MAX_USER_AGENT,
}


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
    # What was over its bound and cut: header names, ":path", ":query", or "headers" (too many of them).
    oversized: tuple[str, ...] = ()
    raw_path: str = ""  # the path as the client sent it, before normalisation ("" when it needed none)

    def header(self, name: str, default: str = "") -> str:
        """First value of a header (lower-case name), or `default`."""
        return self.by_name.get(name, default)

    def cookie(self, name: str) -> str:
        """One cookie's value from the `Cookie` header ("" when absent)."""
        for pair in self.header("cookie").split(";"):
            key, sep, value = pair.strip().partition("=")
            if sep and key == name:
                return value.strip()
        return ""


def is_https(view: RequestView) -> bool:
    """The client reached us over HTTPS (or a proxy in front says it did): botwall's cookie is then `Secure`."""
    return view.scheme == "https" or view.header("x-forwarded-proto") == "https"


def strip_port(address: str) -> str:
    """Turn Envoy's `source.address` (`ip:port`, `[v6]:port`, or a bare IP) into the IP alone."""
    if address.startswith("["):
        end = address.find("]")
        return address[1:end] if end > 0 else address
    if address.count(":") == 1:
        return address.rsplit(":", 1)[0]
    return address  # a bare IPv6 address or an IPv4 address without a port


_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _unescape_unreserved(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    if char in _UNRESERVED:
        return char
    # An encoded slash stays encoded in Envoy (path_with_escaped_slashes_action: keep), but many upstreams decode it
    # and route `/api%2Flogin` to `/api/login`: for matching, botwall takes it as the slash it may become.
    return "/" if char == "/" else "%" + match.group(1).upper()


def normalize_path(path: str) -> str:
    """The path as Envoy's `normalize_path` and `merge_slashes` leave it (RFC 3986 section 6.2.2).

    Percent-encoded unreserved characters are decoded (other escapes keep their meaning, upper-cased), repeated
    slashes merged, and `.` and `..` segments removed; a `..` never climbs above the root. Unlike Envoy, an encoded
    slash (`%2F`) is read as a slash, since an upstream may decode it.
    """
    if "%" in path:
        path = _ESCAPE.sub(_unescape_unreserved, path)
    if not path.startswith("/") or ("//" not in path and "/." not in path):
        return path  # nothing to do (or not an origin-form path, such as `*`)
    out: list[str] = []
    segments = path.split("/")
    for segment in segments:
        if segment == "..":
            if out:
                out.pop()
        elif segment not in (".", ""):
            out.append(segment)
    trailing = "/" if segments[-1] in ("", ".", "..") and out else ""
    return "/" + "/".join(out) + trailing


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
    oversized: list[str] = []
    for name, value in headers:
        if name == ":path":
            raw_path = value  # bounded below, path and query apart
            continue
        limit = _LIMITS.get(name, MAX_VALUE)
        if len(value) > limit:
            if name not in oversized:
                oversized.append(name)
            value = value[:limit]
        if name[:1] == ":":
            if name == ":method":
                method = value
            elif name == ":authority":
                authority = value
            elif name == ":scheme":
                scheme = value
            continue
        if len(ordered) == MAX_HEADERS:
            if "headers" not in oversized:
                oversized.append("headers")
            continue
        ordered.append((name, value))
        by_name.setdefault(name, value)
    sent_path, _, query = raw_path.partition("?")
    if len(sent_path) > MAX_PATH:
        sent_path = sent_path[:MAX_PATH]
        oversized.append(":path")
    if len(query) > MAX_PATH:
        query = query[:MAX_PATH]
        oversized.append(":query")
    path = normalize_path(sent_path)
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
        oversized=tuple(oversized),
        raw_path=sent_path if path != sent_path else "",
    )


@dataclass(frozen=True, slots=True)
class PathMatch:
    """A path condition: `prefix`, `exact` or `regex` (full match) on the path without its query string."""

    kind: str
    value: str
    pattern: Any = None  # a compiled RE2 expression (`re2._Regexp`, untyped): linear time whatever the path

    def matches(self, path: str) -> bool:
        """True when the path satisfies the condition."""
        if self.kind == "prefix":
            return path.startswith(self.value)
        if self.kind == "exact":
            return path == self.value
        assert self.pattern is not None
        return self.pattern.fullmatch(path) is not None


@dataclass(frozen=True, slots=True)
class Match:
    """Which requests a policy applies to; an empty condition matches everything."""

    hosts: frozenset[str] = frozenset()
    host_suffixes: tuple[str, ...] = ()
    path: PathMatch | None = None
    methods: frozenset[str] = frozenset()

    def matches(self, host: str, path: str, method: str) -> bool:
        """True when host (port ignored), path and method all satisfy the condition."""
        if self.methods and method not in self.methods:
            return False
        if self.path is not None and not self.path.matches(path):
            return False
        if self.hosts or self.host_suffixes:
            bare = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
            bare = bare.lower()
            if bare not in self.hosts and not bare.endswith(self.host_suffixes):
                return False
        return True
