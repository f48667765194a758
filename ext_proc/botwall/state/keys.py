"""Stable, keyed hashes for what the behaviour windows count (paths, addresses, usernames, fingerprints).

Python's `hash()` of a string changes with every process (PYTHONHASHSEED), so two replicas, or a restarted process,
would count the same path as two; a shared store needs one hash everywhere. BLAKE2b, keyed: with the deployment's
secret (`BOTWALL_COOKIE_SECRET`, which replicas share already) an outsider cannot choose values that collide in the
distinct-count bitmaps; without one, a fixed key (the counts stay reproducible, as the simulator and evaluation need).
"""

from __future__ import annotations

import hashlib
import os

from botwall.state.tokens import SECRET_ENV

_DEFAULT_KEY = b"botwall-state-keys-v1"


class KeyHasher:
    """Maps a string to a 64-bit integer, the same in every process that shares the key."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes = _DEFAULT_KEY) -> None:
        self._key = hashlib.sha256(b"state-keys|" + key).digest()[:32]

    @classmethod
    def from_env(cls) -> KeyHasher:
        """Keyed with the deployment's secret when one is set, else with the fixed default key."""
        secret = os.environ.get(SECRET_ENV, "")
        return cls(secret.encode() if secret else _DEFAULT_KEY)

    def __call__(self, text: str) -> int:
        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8, key=self._key).digest()
        return int.from_bytes(digest, "little")
