"""State that outlives a stream, behind one small interface.

`MemoryStore` keeps everything in bounded tables (`BoundedTable`), one per kind of key: a flood of distinct keys
evicts the least recently used entries instead of growing the process, and a flood of one kind (client IPs, say)
never evicts another (the usernames under attack). `state.shared.SharedStore` implements the same protocol over a
MemoryStore, merging with the other replicas through Redis off the hot path, so callers never wait on the network.
`create_store` is the one place that picks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, Protocol, TypeVar

from botwall.clock import Clock, monotonic
from botwall.config import StateSettings

T = TypeVar("T")
V = TypeVar("V")


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

    def touch(self, namespace: str, key: str) -> None:
        """The record of `key` changed after the request that fetched it (a response counted into it)."""
        ...

    async def start(self) -> None:
        """Start what the store runs in the background (a shared store's sync with the other replicas)."""
        ...

    async def close(self) -> None:
        """Push what is pending and stop the background work."""
        ...

    def sizes(self) -> dict[str, int]:
        """Entries held per namespace (for metrics)."""
        ...

    def evictions(self) -> dict[str, int]:
        """Live entries dropped to make room per namespace, since start (for metrics)."""
        ...

    def __len__(self) -> int: ...


class BoundedTable(Generic[V]):
    """At most `max_entries` keys, the least recently used evicted first; each entry expires `ttl_seconds` after it
    was created (to the second), used or not, as `cachetools.TTLCache` entries do, at under half their memory.

    Keys live in two generations of plain dicts, each in order of last use: a key used moves to the end of `young`,
    and every key in `old` was last used before every key in `young`. Once per `ttl_seconds` (an epoch) the expired
    keys are dropped and the live ones all become old; when the table is full, keys are evicted from the front of old,
    and when old is empty young becomes old early. A key costs a dict slot and a 2-tuple with its expiry time (shared
    by every entry created in the same second), about 100 bytes where `TTLCache` spends about 200 (a dict, an
    OrderedDict, a link object and a float per key).
    """

    __slots__ = (
        "_clock", "_epoch", "_expires", "_max", "_next", "_old", "_order", "_second", "_ttl", "_young", "evicted",
    )  # fmt: skip

    def __init__(self, max_entries: int, ttl_seconds: float, clock: Clock = monotonic) -> None:
        if max_entries < 1 or not ttl_seconds > 0:
            raise ValueError("a table needs max_entries >= 1 and ttl_seconds > 0")
        self._max = max_entries
        self._ttl = ttl_seconds
        self._clock = clock
        self._epoch = math.floor(clock() / ttl_seconds)
        self._second = math.nan
        self._expires = 0.0
        self._young: dict[Hashable, tuple[float, V]] = {}
        self._old: dict[Hashable, tuple[float, V]] = {}
        # Old's keys in eviction order (some moved to young since); `_next` indexes the next to evict.
        self._order: list[Hashable] = []
        self._next = 0
        self.evicted = 0  # live keys dropped to make room (not expired ones)

    def get(self, key: Hashable) -> V | None:
        """The value of `key`, now counted as used; None when absent, evicted or expired."""
        now = self._clock()
        self._tick(now)
        young = self._young
        entry = young.pop(key, None)
        if entry is None:
            entry = self._old.pop(key, None)
            if entry is None:
                return None
        if now >= entry[0]:
            return None  # expired: forgotten, and the caller's `put` starts it afresh
        young[key] = entry
        return entry[1]

    def put(self, key: Hashable, value: V) -> None:
        """Add `key` (absent: call `get` first), evicting the least recently used keys beyond `max_entries`."""
        second = math.floor(self._clock())
        if second != self._second:
            self._second = second
            self._expires = second + 1.0 + self._ttl
        young = self._young
        young[key] = (self._expires, value)
        if len(young) + len(self._old) > self._max:
            self._evict()

    def _live(self) -> dict[Hashable, V]:
        now = self._clock()
        self._tick(now)
        return {key: entry[1] for part in (self._old, self._young) for key, entry in part.items() if now < entry[0]}

    def __len__(self) -> int:
        """Live entries (expired ones that still hold a slot are left out): O(n), for tests and diagnostics."""
        return len(self._live())

    def held(self) -> int:
        """Entries in memory, expired ones not yet dropped included: never more than `max_entries`."""
        self._tick(self._clock())
        return len(self._young) + len(self._old)

    def __contains__(self, key: object) -> bool:
        """Whether `key` holds a live entry (not counted as a use)."""
        return isinstance(key, Hashable) and self._peek(key) is not None

    def __getitem__(self, key: Hashable) -> V:
        """The live value of `key`, not counted as a use (for inspection and tests)."""
        entry = self._peek(key)
        if entry is None:
            raise KeyError(key)
        return entry[1]

    def _peek(self, key: Hashable) -> tuple[float, V] | None:
        now = self._clock()
        self._tick(now)
        entry = self._young.get(key) or self._old.get(key)
        return entry if entry is not None and now < entry[0] else None

    def keys(self) -> list[Hashable]:
        return list(self._live())

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self.keys())

    def __repr__(self) -> str:
        return f"BoundedTable({self._live()!r})"

    def _tick(self, now: float) -> None:
        epoch = math.floor(now / self._ttl)
        if epoch > self._epoch:
            # O(n) once per TTL: expired entries leave memory within an epoch of expiring, used or not.
            self._epoch = epoch
            live = {key: entry for part in (self._old, self._young) for key, entry in part.items() if now < entry[0]}
            self._young = live
            self._shift()

    def _shift(self) -> None:
        self._old = self._young
        self._young = {}
        self._order = list(self._old)
        self._next = 0

    def _evict(self) -> None:
        young, old, order = self._young, self._old, self._order
        while len(young) + len(old) > self._max:
            if not old:
                self._shift()
                young, old, order = self._young, self._old, self._order
                continue
            # Each key of `order` is passed once: O(1) per eviction, where popping a dict's first key is not.
            key = order[self._next]
            self._next += 1
            if old.pop(key, None) is not None:
                self.evicted += 1


class MemoryStore:
    """An in-process store: one `BoundedTable` per namespace and one for the token buckets, each holding at most
    `state.max_entries` keys, each entry started afresh `state.ttl_seconds` after it was created."""

    def __init__(self, settings: StateSettings, clock: Clock = monotonic) -> None:
        self._clock = clock
        self._settings = settings
        self._namespaces: dict[str, BoundedTable[object]] = {}
        self._marks: dict[str, BoundedTable[bool]] = {}  # each namespace's ttl is its first mark's
        self._aggregates: dict[str, object] = {}
        # Each bucket is [tokens, last_refill_time]; a list so it updates in place without re-inserting.
        self._buckets: BoundedTable[list[float]] = BoundedTable(settings.max_entries, settings.ttl_seconds, clock)

    def record(self, namespace: str, key: str, factory: Callable[[], T]) -> T:
        """Records live in one bounded table per namespace; an evicted or expired record starts afresh."""
        table = self._namespaces.get(namespace)
        if table is None:
            table = self._namespaces[namespace] = BoundedTable(
                self._settings.max_entries, self._settings.ttl_seconds, self._clock
            )
        found = table.get(key)
        if found is None:
            found = factory()
            table.put(key, found)
        return found  # type: ignore[return-value]

    def fetch(self, namespace: str, key: str, factory: Callable[[], T]) -> tuple[T, bool]:
        """`record`, and whether the record was created by this call."""
        made: list[T] = []

        def make() -> T:
            made.append(factory())
            return made[0]

        return self.record(namespace, key, make), bool(made)

    def peek(self, namespace: str, key: str) -> object | None:
        """The live record of `key` in `namespace`, or None; never creates one."""
        table = self._namespaces.get(namespace)
        if table is None or key not in table:
            return None
        return table[key]

    def touch(self, namespace: str, key: str) -> None:
        """A record changed after the request that fetched it (nothing to do for a store in one process)."""

    def bucket_tokens(self, key: str, rate: float, burst: int, now: float) -> float:
        """The tokens the bucket `key` holds at `now` (a full bucket when there is none)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return float(burst)
        return min(float(burst), bucket[0] + max(0.0, now - bucket[1]) * rate)

    def set_bucket(self, key: str, tokens: float, now: float) -> None:
        """Set the bucket `key` to `tokens` (below zero: a debt that refills first) as of `now`."""
        bucket = self._buckets.get(key)
        if bucket is None:
            self._buckets.put(key, [tokens, now])
        else:
            bucket[0], bucket[1] = tokens, now

    async def start(self) -> None:
        """Nothing runs in the background of a store in one process."""

    async def close(self) -> None:
        """Nothing to flush."""

    def sizes(self) -> dict[str, int]:
        """Entries held per namespace (token buckets under `buckets`), expired ones not yet dropped included."""
        return {"buckets": self._buckets.held()} | {name: table.held() for name, table in self._namespaces.items()}

    def evictions(self) -> dict[str, int]:
        """Live entries dropped to make room, per namespace (token buckets under `buckets`), since start."""
        return {"buckets": self._buckets.evicted} | {name: table.evicted for name, table in self._namespaces.items()}

    def take_token(self, key: str, rate: float, burst: int) -> float:
        """Token-bucket admission; an evicted or expired bucket starts full again."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            self._buckets.put(key, [burst - 1.0, now])
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
            marks = self._marks[namespace] = BoundedTable(self._settings.max_entries, ttl, self._clock)
        if marks.get(key) is None:
            marks.put(key, True)

    def marked(self, namespace: str, key: str) -> bool:
        """True while the mark lasts."""
        marks = self._marks.get(namespace)
        return marks is not None and key in marks

    def __len__(self) -> int:
        marks = sum(len(table) for table in self._marks.values())
        return len(self._buckets) + marks + sum(len(table) for table in self._namespaces.values())


def retry_after_seconds(wait: float) -> int:
    """Whole seconds for a `Retry-After` header: never 0 for a refused request."""
    return max(1, math.ceil(wait))


def create_store(settings: StateSettings, clock: Clock = monotonic) -> Store:
    """The store the settings name: in-process memory, or memory shared with the other replicas through Redis."""
    if settings.backend == "redis":
        from botwall.state.shared import SharedStore

        return SharedStore(settings, clock)
    return MemoryStore(settings, clock)
