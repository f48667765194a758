"""State that outlives a stream, behind one small interface.

`MemoryStore` keeps everything in bounded `cachetools` structures: a flood of distinct keys evicts the least
recently used entries instead of growing the process. A Redis-backed store will implement the same protocol, with
replication off the hot path, so callers never wait on the network. `create_store` is the one place that picks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol, TypeVar

from cachetools import TTLCache

from botwall.clock import Clock, monotonic
from botwall.config import StateSettings

T = TypeVar("T")


class Store(Protocol):
    """What the decision engine needs from state."""

    def record(self, namespace: str, key: str, factory: Callable[[], T]) -> T:
        """The mutable record for `key` in `namespace` (an IP's window, say), created by `factory` if absent."""
        ...

    def take_token(self, key: str, rate: float, burst: int) -> float:
        """Take one token from the bucket `key`; 0.0 when granted, else seconds until one is available."""
        ...

    def mark(self, namespace: str, key: str, ttl: float) -> None:
        """Remember `key` in `namespace` for `ttl` seconds (a challenge handed out, say)."""
        ...

    def aggregate(self, name: str, factory: Callable[[], T]) -> T:
        """The deployment-wide record `name` (the site's own window, say), created by `factory`; it never expires."""
        ...

    def marked(self, namespace: str, key: str) -> bool:
        """True while a mark of `key` in `namespace` has not expired."""
        ...

    def __len__(self) -> int: ...


class MemoryStore:
    """An in-process store bounded by entry count and idle time."""

    def __init__(self, settings: StateSettings, clock: Clock = monotonic) -> None:
        self._clock = clock
        self._settings = settings
        self._namespaces: dict[str, TTLCache[str, object]] = {}
        self._marks: dict[str, TTLCache[str, bool]] = {}  # each namespace's ttl is its first mark's
        self._aggregates: dict[str, object] = {}
        # Each bucket is [tokens, last_refill_time]; a list so it updates in place without re-inserting.
        self._buckets: TTLCache[str, list[float]] = TTLCache(
            maxsize=settings.max_entries, ttl=settings.ttl_seconds, timer=clock
        )

    def record(self, namespace: str, key: str, factory: Callable[[], T]) -> T:
        """Records live in one bounded, expiring cache per namespace; an evicted record starts afresh."""
        cache = self._namespaces.get(namespace)
        if cache is None:
            cache = self._namespaces[namespace] = TTLCache(
                maxsize=self._settings.max_entries, ttl=self._settings.ttl_seconds, timer=self._clock
            )
        found = cache.get(key)
        if found is None:
            found = cache[key] = factory()
        return found  # type: ignore[return-value]

    def sizes(self) -> dict[str, int]:
        """Entries per namespace (token buckets under `buckets`)."""
        return {"buckets": len(self._buckets)} | {name: len(cache) for name, cache in self._namespaces.items()}

    def take_token(self, key: str, rate: float, burst: int) -> float:
        """Token-bucket admission; an evicted or expired bucket starts full again."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            self._buckets[key] = [burst - 1.0, now]
            return 0.0
        tokens = min(float(burst), bucket[0] + (now - bucket[1]) * rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / rate

    def aggregate(self, name: str, factory: Callable[[], T]) -> T:
        """A handful of records, kept for the life of the process."""
        found = self._aggregates.get(name)
        if found is None:
            found = self._aggregates[name] = factory()
        return found  # type: ignore[return-value]

    def mark(self, namespace: str, key: str, ttl: float) -> None:
        """Marks expire `ttl` seconds after they are set; a namespace holds at most `max_entries` of them."""
        marks = self._marks.get(namespace)
        if marks is None:
            marks = self._marks[namespace] = TTLCache(maxsize=self._settings.max_entries, ttl=ttl, timer=self._clock)
        marks[key] = True

    def marked(self, namespace: str, key: str) -> bool:
        """True while the mark lasts."""
        marks = self._marks.get(namespace)
        return marks is not None and key in marks

    def __len__(self) -> int:
        marks = sum(len(m) for m in self._marks.values())
        return len(self._buckets) + marks + sum(len(cache) for cache in self._namespaces.values())


def retry_after_seconds(wait: float) -> int:
    """Whole seconds for a `Retry-After` header: never 0 for a refused request."""
    return max(1, math.ceil(wait))


def create_store(settings: StateSettings, clock: Clock = monotonic) -> Store:
    """Pick the store implementation for the settings (in-memory only, for now)."""
    return MemoryStore(settings, clock)
