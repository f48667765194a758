"""botwall's own client cookie: a signed token that says "this client kept what it was given".

A browser keeps cookies and sends them back on every request; most scrapers, stuffers and monitors that rotate
addresses drop them (a cookie ties their requests together). botwall sets its token on page responses to clients
without a valid one, and a request that presents a valid token is known to be the continuation of an earlier visit
by the same client software, even from a new address (a phone changing networks).

The token is `<issued, hex seconds>.<nonce>.<MAC>`: an HMAC-SHA256 over the issue time, a random nonce (so each
client's token is its own) and the client's software (TLS stack, user-agent family and major version:
`fingerprint.software`), cut to 16 bytes. It holds nothing about the client, and is only valid for the software it
was issued to, for `ttl_seconds`. The key comes from `BOTWALL_COOKIE_SECRET`
(replicas must share one) or is random per process (tokens then do not survive a restart, which only costs returning
clients one challenge).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from collections.abc import Callable

from botwall.config import ClientCookieSettings

SECRET_ENV = "BOTWALL_COOKIE_SECRET"  # noqa: S105 - the name of the variable, not a secret
_MAC_BYTES = 16
_MAC_CHARS = 22  # unpadded base64 of 16 bytes
_NONCE_BYTES = 9
_ISSUED_DIGITS = 12  # hex seconds: enough until the year 10889
_HEX = frozenset("0123456789abcdef")
_VERIFIED = 16_384  # tokens remembered as checked (about 4 MiB at most)
# The longest Cookie header remembered whole (a browser's are a few hundred characters; a longer one is read again).
_CACHED_HEADER = 1024
_MAX_TRIES = 4  # copies of botwall's cookie checked per request (a stale one on another path, a new one)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _key_from_env() -> bytes:
    secret = os.environ.get(SECRET_ENV, "")
    if secret:
        return hashlib.sha256(secret.encode()).digest()
    return os.urandom(32)


class CookieSigner:
    """Issues and checks the token, bound to a client's software (`fingerprint.software`); `clock` is wall time
    (tokens outlive processes and cross replicas)."""

    __slots__ = ("_clock", "_headers", "_key", "_nonce", "_prefix", "_verified", "settings")

    def __init__(
        self,
        settings: ClientCookieSettings,
        key: bytes | None = None,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], bytes] = lambda: os.urandom(_NONCE_BYTES),
    ) -> None:
        self.settings = settings
        self._key = key if key is not None else _key_from_env()
        self._clock = clock
        self._nonce = nonce
        self._prefix = settings.name + "="
        # Tokens whose MAC checked out for a client software: a browser presents its token on every request, and the
        # HMAC was a tenth of a request's handling. Only good tokens go in (a forger cannot fill it), the age is
        # still checked on every request, and it is emptied when full.
        self._verified: set[tuple[str, str, str, str]] = set()
        # The same, by the whole `Cookie` header a browser sends again and again: its token and when it was issued.
        self._headers: dict[tuple[str, str], tuple[str, int]] = {}

    def _mac(self, issued: str, nonce: str, client: str) -> str:
        digest = hmac.new(self._key, f"{issued}|{nonce}|{client}".encode(), hashlib.sha256).digest()
        return _b64(digest[:_MAC_BYTES])

    def token(self, client: str) -> str:
        """A fresh token for this client software."""
        issued = format(int(self._clock()), "x")
        nonce = _b64(self._nonce())
        return f"{issued}.{nonce}.{self._mac(issued, nonce, client)}"

    def set_cookie(self, client: str, secure: bool) -> str:
        """The `Set-Cookie` value that hands a fresh token to the client."""
        attributes = f"Path=/; Max-Age={int(self.settings.ttl_seconds)}; HttpOnly; SameSite=Lax"
        return f"{self.settings.name}={self.token(client)}; {attributes}{'; Secure' if secure else ''}"

    def valid(self, cookie_header: str, client: str) -> bool:
        """True when the `Cookie` header carries a token issued to this client software that has not expired."""
        return bool(self.token_in(cookie_header, client))

    def token_in(self, cookie_header: str, client: str) -> str:
        """The valid token the `Cookie` header carries for this client software, or ""."""
        if self._prefix not in cookie_header:
            return ""
        key = (cookie_header, client)
        seen = self._headers.get(key)
        if seen is not None and self._fresh(seen[1]):
            return seen[0]
        found = self._token_in(cookie_header, client)
        if found is None:
            return ""
        if len(cookie_header) <= _CACHED_HEADER:  # one valid token and a different padding each time pins nothing
            if len(self._headers) >= _VERIFIED:
                self._headers.clear()
            self._headers[key] = found
        return found[0]

    def _fresh(self, issued_at: int) -> bool:
        """Issued within the token's lifetime, give or take a minute of clock skew between replicas."""
        return -60 <= self._clock() - issued_at <= self.settings.ttl_seconds + 60

    def _token_in(self, cookie_header: str, client: str) -> tuple[str, int] | None:
        """The first valid token's MAC and issue time (seconds), or None."""
        tries = 0
        for part in cookie_header.split(";"):
            part = part.strip()
            if not part.startswith(self._prefix):
                continue
            tries += 1
            if tries > _MAX_TRIES:
                break  # a browser sends one; checking hundreds of forged copies would cost a MAC each
            issued, _, rest = part[len(self._prefix) :].partition(".")
            nonce, _, mac = rest.partition(".")
            # Checked before conversion: a forged time of hundreds of hex digits overflows float arithmetic.
            if not 0 < len(issued) <= _ISSUED_DIGITS or not _HEX.issuperset(issued) or len(mac) != _MAC_CHARS:
                continue
            issued_at = int(issued, 16)
            if not self._fresh(issued_at):
                continue
            if not nonce:
                continue
            known = (issued, nonce, mac, client)
            if known in self._verified:
                return mac, issued_at
            if hmac.compare_digest(mac, self._mac(issued, nonce, client)):
                if len(self._verified) >= _VERIFIED:
                    self._verified.clear()
                self._verified.add(known)
                return mac, issued_at
        return None
