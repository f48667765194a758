"""The behavioural fingerprint: a stable client ID that survives IP rotation.

It hashes what a client cannot cheaply change between requests without changing tools: the TLS fingerprint, the
shape of its headers (the standard names it sends, in order), its user-agent family and major version (not the full
string, so a minor browser update or a rotated build number keeps the ID), and its language and encoding preferences.
Volatile headers (cookies, lengths, proxies' additions, fetch metadata that varies by request kind) and names no
standard client sends are left out, so one client keeps one ID across pages and sessions. People on the same browser
build and locale can share an ID: the behaviour features read it as a shared key (how many IPs use it, how many of
its logins fail), never as one person.
"""

from __future__ import annotations

import hashlib

from botwall.evidence.useragent import UserAgentInfo
from botwall.request import RequestView

# Header names that describe the client software (which it sends, and in which order), as browsers and HTTP
# libraries send them. Every other name is left out of the shape: names that depend on the request or on proxies
# (cookie, content-type, referer, origin, forwarding headers, fetch metadata that varies by request kind), and names
# no standard client sends, so a client adding a random header name per request does not mint a new fingerprint
# each time (that evaded a throttle keyed on the fingerprint).
_CLIENT_NAMES = frozenset(
    {
        "accept",
        "accept-charset",
        "accept-encoding",
        "accept-language",
        "connection",
        "device-memory",
        "dnt",
        "downlink",
        "dpr",
        "ect",
        "keep-alive",
        "priority",
        "purpose",
        "rtt",
        "save-data",
        "sec-gpc",
        "sec-purpose",
        "te",
        "upgrade-insecure-requests",
        "user-agent",
        "viewport-width",
        "x-requested-with",
    }
)


def header_shape(view: RequestView) -> str:
    """The client's stable header names in arrival order, comma-joined."""
    return ",".join(name for name, _ in view.headers if name in _CLIENT_NAMES or name.startswith("sec-ch-"))


def _agent(ua: UserAgentInfo) -> str:
    # A string ua-parser cannot name keeps its full text: a tool's UA is its identity.
    return f"{ua.family}/{ua.major}" if ua.family not in ("", "Other") else ua.raw


def _tls(view: RequestView) -> str:
    # Only JA4's first two parts (protocol, counts, ALPN; sorted ciphers): Chromium puts a random GREASE value in its
    # signature algorithms, which Envoy 1.40 leaves in the third part, so that part changes on every connection.
    return view.ja4.rsplit("_", 1)[0]


def fingerprint(view: RequestView, ua: UserAgentInfo) -> str:
    """A 16-hex-digit ID for the client software and configuration behind a request."""
    parts = (_tls(view), header_shape(view), _agent(ua), view.header("accept-language"), view.header("accept-encoding"))
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).hexdigest()


def software(view: RequestView, ua: UserAgentInfo) -> str:
    """The client software alone (TLS stack, user-agent family and major version), the same for all its requests.

    A browser's header shape differs between a page, an asset and a fetch() (different names for each), so the
    fingerprint does too; botwall's cookie is bound to this instead, which every request of one browser shares.
    """
    return f"{_tls(view)}|{_agent(ua)}"
