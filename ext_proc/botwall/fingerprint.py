"""The behavioural fingerprint: a stable client ID that survives IP rotation.

It hashes what a client cannot cheaply change between requests without changing tools: the TLS fingerprint, the
shape of its headers (names in order), its user-agent and language and encoding preferences. Volatile headers
(cookies, lengths, proxies' additions) are left out so one client keeps one ID across pages and sessions.
"""

from __future__ import annotations

import hashlib

from botwall.request import RequestView

# Headers whose presence depends on the request or on proxies rather than on the client software.
_VOLATILE = frozenset(
    {
        "cookie",
        "content-length",
        "content-type",
        "authorization",
        "referer",
        "origin",
        "if-none-match",
        "if-modified-since",
        "cache-control",
        "pragma",
        "x-request-id",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-real-ip",
        "forwarded",
        "via",
    }
)


def header_shape(view: RequestView) -> str:
    """The client's stable header names in arrival order, comma-joined."""
    return ",".join(
        name
        for name, _ in view.headers
        if name not in _VOLATILE and not name.startswith(("x-envoy-", "x-botwall-", "sec-fetch-"))
    )


def fingerprint(view: RequestView) -> str:
    """A 16-hex-digit ID for the client software and configuration behind a request."""
    parts = (
        view.ja4,
        header_shape(view),
        view.header("user-agent"),
        view.header("accept-language"),
        view.header("accept-encoding"),
    )
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).hexdigest()
