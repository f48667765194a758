"""State shared by replicas through Redis, local first: no request ever waits on the network.

Every replica keeps its own `MemoryStore` and answers each request from it, as a single process does. A background
task, every `state.redis.sync_interval_ms`, pushes what changed locally since the last round and pulls the shared
view back, for the records this replica touched, in one script call:

- **Decayed windows merge by adding.** An exponentially decayed counter is linear in its increments, so a replica's
  contribution since the last round is its value now minus the shared value it last pulled (both decayed to now),
  and the shared value is the sum of every replica's. Redis keeps each counter as of the time it last changed and
  decays it in the script; the replica takes the merged value and adds what it counted while the call was under way.
  Plain counts add the same way. Distinct sets (paths, usernames, addresses) merge by union, kept as Redis sets of at
  most `_MEMBERS` members: exact hashes while few, then bitmap bits (`behaviour.add_bit`).
- **Token buckets** are leaky levels in Redis (the level drains at the bucket's rate; each replica adds what it
  admitted). A replica admits from its own bucket between rounds, so N replicas can admit up to N times the remaining
  burst within one interval before the shared level stops them all: the global rate holds to within
  `(N - 1) * rate * interval` requests a round, a burst's edge aside.
- **Challenge marks** are pushed as keys with their TTL; a local miss asks Redis in the next round, so a client that
  keeps coming back without its cookie through another replica is known there one round later.
- **Staleness**: another replica's requests reach this one's view within about two intervals (its push, then this
  replica's pull) once this replica has touched the key; a key's first request on a replica sees only the local view.
- **Faults**: when Redis is down or slow (each call has `timeout_ms`), the replica runs on its local state, logs one
  warning per outage, counts the failures (`stats`) and retries with a backoff up to `_MAX_BACKOFF` seconds. Nothing
  is lost meanwhile: what it counted stays in the difference from the last shared value and is pushed on
  reconnection. A Redis restarted empty is re-seeded: a key missing there takes the replica's whole current value
  instead of its difference.

Keys are `prefix:kind:hash`, the hash keyed with the deployment's secret (`KeyHasher`): usernames and addresses never
reach Redis in the clear.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import math
import os
import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog

from botwall.clock import Clock, monotonic
from botwall.config import RedisSettings, StateSettings
from botwall.evidence.behaviour import (
    LONG,
    MEDIUM,
    SHORT,
    AccountWindow,
    ClientWindow,
    Distinct,
    EndpointBaseline,
    EndpointWindow,
    SprayWindow,
    add,
    add_bit,
    members,
)
from botwall.evidence.transactions import ApplicantWindow, DetailWindow
from botwall.state.keys import KeyHasher
from botwall.state.store import BoundedTable, MemoryStore

T = TypeVar("T")
log = structlog.get_logger("botwall.state")

# Members kept per distinct set in Redis: 16 exact hashes, then up to 256 bitmap bits, and a margin.
_MEMBERS = 300
# Records and marks pushed in one script call; a larger round is split over several.
_BATCH = 256
# Seconds between retries while Redis is unreachable, doubling from the sync interval up to this.
_MAX_BACKOFF = 5.0
# Keys waiting for a push, and marks a replica asks about, at most (a flood of keys while Redis is down must not grow
# the process: what overflows is pushed when it is touched again).
_MAX_PENDING = 100_000


# The horizon of a count that does not decay.
_NEVER = 1e18


@dataclass(frozen=True)
class Shape:
    """Which fields of a record type merge, and how: decayed counters (with their horizons, decayed from `last`),
    plain counts, and distinct sets. Other fields stay local (a client's gap statistics: one replica's view)."""

    decayed: tuple[tuple[str, float], ...] = ()
    counts: tuple[str, ...] = ()
    distinct: tuple[str, ...] = ()

    @functools.cached_property
    def fields(self) -> tuple[tuple[str, float], ...]:
        """Every merged number with its horizon (a count's: one that never decays)."""
        return self.decayed + tuple((name, _NEVER) for name in self.counts)

    def decay(self, elapsed: float) -> list[float]:
        """Each merged number's decay factor over `elapsed` seconds."""
        return [math.exp(-elapsed / horizon) for _, horizon in self.fields]

    def values(self, record: object, now: float) -> list[float]:
        """The decayed counters as of `now`, then the counts."""
        last = getattr(record, "last", now) or now
        elapsed = max(0.0, now - last)
        out = [getattr(record, name) * math.exp(-elapsed / horizon) for name, horizon in self.decayed]
        out.extend(float(getattr(record, name)) for name in self.counts)
        return out

    def assign(self, record: object, now: float, values: list[float]) -> None:
        """Set the counters to `values` (as of `now`) without moving the record's `last` (its gap statistics are
        measured from it): each counter is stored as of `last`, which the readers decay from."""
        last = getattr(record, "last", now) or now
        elapsed = max(0.0, now - last)
        n = len(self.decayed)
        if any(elapsed / horizon > 600 for _, horizon in self.decayed):
            # So old that undoing its decay would overflow: the record's time moves to now instead.
            record.last, elapsed = now, 0.0  # type: ignore[attr-defined]
        for (name, horizon), value in zip(self.decayed, values, strict=False):
            setattr(record, name, max(0.0, value) * math.exp(elapsed / horizon))
        for name, value in zip(self.counts, values[n:], strict=False):
            setattr(record, name, max(0, round(value)))


_LONG_FIELDS = (
    "long", "pages", "apis", "assets", "no_cookie", "responses", "errors", "logins", "login_failures",
    "new_sessions", "cold",
)  # fmt: skip


def _single(record: object) -> bool:
    """A client's window that counted one request and no login, or its first call to an endpoint: what a flood of
    new addresses makes on every request, and worth nothing to the other replicas (one page view is no behaviour).
    It is pushed with its second request, whole (a key never pushed has no base), so nothing is lost; the price is
    that a replica learns what the others counted for such a key one request later. A login always goes at once."""
    if isinstance(record, ClientWindow):
        return record.count <= 1 and not record.logins
    return isinstance(record, EndpointWindow) and record.calls <= 1.0


SHAPES: dict[type, Shape] = {
    ClientWindow: Shape(
        decayed=(("short", SHORT), ("medium", MEDIUM), *((name, LONG) for name in _LONG_FIELDS)),
        counts=("count",),
        distinct=("paths", "usernames", "ips", "networks", "tokens"),
    ),
    AccountWindow: Shape(
        decayed=(("attempts", LONG), ("failures", LONG), ("successes", LONG)), distinct=("ips", "fingerprints")
    ),
    SprayWindow: Shape(distinct=("usernames",)),
    EndpointWindow: Shape(decayed=(("calls", MEDIUM),)),
    EndpointBaseline: Shape(distinct=("clients", "pollers")),
    DetailWindow: Shape(distinct=("clients",)),
    ApplicantWindow: Shape(distinct=("applicants",)),
}


# One round's records: for each key, its decayed fields' horizons, differences and whole values, its counts'
# differences and whole values, and its distinct sets' members. A key Redis does not hold takes the whole values (a
# new key, or a Redis restarted empty). Numbers go back as strings: Redis truncates a Lua number to an integer.
# One encoder for every record: `json.dumps` with separators builds a new one per call.
_encode = json.JSONEncoder(separators=(",", ":")).encode

_MERGE = """
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local out = {}
for i, key in ipairs(KEYS) do
  local p = cjson.decode(ARGV[3 + i])
  -- One read of the time and every field, one write: a record is a few calls, not two per field.
  local names = {'t'}
  for j, f in ipairs(p[1]) do names[j + 1] = f[1] end
  local got = redis.call('HMGET', key, unpack(names))
  local held = got[1] ~= false
  local elapsed = 0
  if held then
    elapsed = now - (tonumber(got[1]) or now)
    if elapsed < 0 then elapsed = 0 end
  end
  local res = {}
  local write = {'t', string.format('%.17g', now)}
  for j, f in ipairs(p[1]) do
    local horizon, diff, whole = f[2], f[3], f[4]
    local v = whole
    if held then
      v = (tonumber(got[j + 1]) or 0) * math.exp(-elapsed / horizon) + diff
    end
    if v < 0 then v = 0 end
    res[j] = string.format('%.17g', v)
    write[#write + 1] = f[1]
    write[#write + 1] = res[j]
  end
  redis.call('HSET', key, unpack(write))
  redis.call('EXPIRE', key, ttl)
  local sets = {}
  for j, s in ipairs(p[2]) do
    local skey = key .. '|' .. s[1]
    local new, known = s[2], s[3]
    local card = redis.call('SCARD', skey)
    if #new > 0 and card < cap then
      card = card + redis.call('SADD', skey, unpack(new))
    end
    if card > 0 then
      redis.call('EXPIRE', skey, ttl)
    end
    if card ~= known then
      sets[j] = redis.call('SMEMBERS', skey)
    else
      sets[j] = card
    end
  end
  out[i] = cjson.encode({res, sets})
end
return out
"""

# Token buckets as leaky levels: each key's level drains at its rate and takes what the replica admitted; a key Redis
# does not hold takes the replica's own level.
_BUCKETS = """
local now = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  local rate, admitted = tonumber(ARGV[4*i-2]), tonumber(ARGV[4*i-1])
  local own, ttl = tonumber(ARGV[4*i]), tonumber(ARGV[4*i+1])
  local level = own
  local held = redis.call('HMGET', key, 'level', 't')
  if held[1] then
    local elapsed = now - tonumber(held[2])
    if elapsed < 0 then elapsed = 0 end
    level = tonumber(held[1]) - rate * elapsed
    if level < 0 then level = 0 end
    level = level + admitted
  end
  redis.call('HSET', key, 'level', string.format('%.17g', level), 't', string.format('%.17g', now))
  redis.call('EXPIRE', key, ttl)
  out[i] = string.format('%.17g', level)
end
return out
"""


@dataclass
class SyncStats:
    """What the sync loop did, for metrics and tests."""

    rounds: int = 0
    failures: int = 0
    pushed: int = 0
    connected: bool = False
    last_round_seconds: float = 0.0
    dropped: int = 0  # keys not queued for a push because the queue was full
    single: int = 0  # keys left out of a round because they counted one request (`_single`)


@dataclass
class _Bucket:
    rate: float
    burst: int
    admitted: int = 0


@dataclass
class _Pending:
    records: dict[tuple[str, str], object] = field(default_factory=dict)
    buckets: dict[str, _Bucket] = field(default_factory=dict)
    marks: dict[tuple[str, str], float] = field(default_factory=dict)
    asked: dict[tuple[str, str], None] = field(default_factory=dict)


class SharedStore:
    """A `MemoryStore` whose records, buckets and marks are merged with the other replicas' through Redis."""

    def __init__(
        self,
        settings: StateSettings,
        clock: Clock = monotonic,
        keys: KeyHasher | None = None,
        wall: Clock = time.time,
        connect: Callable[[RedisSettings], Any] | None = None,
    ) -> None:
        self.local = MemoryStore(settings, clock)
        self._settings = settings
        self._redis_settings = settings.redis
        self._clock = clock
        self._wall = wall
        self._keys = keys or KeyHasher.from_env()
        self._connect = connect or _connect
        self._prefix = settings.redis.prefix
        self._pending = _Pending()
        # Each record's value as of the last round, packed: what this replica counted since is the difference.
        self._bases: dict[str, BoundedTable[bytes]] = {}
        self.stats = SyncStats()
        self._client: Any = None
        self._merge: Any = None
        self._buckets_script: Any = None
        self._task: asyncio.Task[None] | None = None
        self._warned = False  # this outage was logged

    # The Store protocol: every call is local.

    def record(self, namespace: str, key: str, factory: Callable[[], T]) -> T:
        found, created = self.local.fetch(namespace, key, factory)
        if created:
            self._forget(namespace, key)  # a record expired or evicted here starts afresh: so does its difference
        self._queue(namespace, key, found)
        return found

    def touch(self, namespace: str, key: str) -> None:
        """`record`'s record changed again after the request that fetched it (its response was counted)."""
        found = self.local.peek(namespace, key)
        if found is not None:
            self._queue(namespace, key, found)

    def aggregate(self, name: str, factory: Callable[[], T]) -> T:
        found = self.local.aggregate(name, factory)
        self._queue("agg", name, found)
        return found

    def take_token(self, key: str, rate: float, burst: int) -> float:
        wait = self.local.take_token(key, rate, burst)
        bucket = self._pending.buckets.get(key)
        if bucket is None:
            if len(self._pending.buckets) >= _MAX_PENDING:
                self.stats.dropped += 1
                return wait
            bucket = self._pending.buckets[key] = _Bucket(rate, burst)
        if wait == 0.0:
            bucket.admitted += 1
        return wait

    def mark(self, namespace: str, key: str, ttl: float) -> None:
        self.local.mark(namespace, key, ttl)
        if len(self._pending.marks) < _MAX_PENDING:
            self._pending.marks[(namespace, key)] = ttl

    def marked(self, namespace: str, key: str) -> bool:
        if self.local.marked(namespace, key):
            return True
        if len(self._pending.asked) < _MAX_PENDING:
            self._pending.asked[(namespace, key)] = None
        return False

    def sizes(self) -> dict[str, int]:
        return self.local.sizes()

    def evictions(self) -> dict[str, int]:
        return self.local.evictions()

    def __len__(self) -> int:
        return len(self.local)

    def _queue(self, namespace: str, key: str, record: object) -> None:
        pending = self._pending.records
        if (namespace, key) not in pending:
            if len(pending) >= _MAX_PENDING or type(record) not in SHAPES:
                self.stats.dropped += type(record) in SHAPES
                return
            pending[(namespace, key)] = record

    # The sync loop.

    async def start(self) -> None:
        """Connect (a Redis that is down only logs a warning) and start the sync loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="botwall-state-sync")

    async def close(self) -> None:
        """Push what is pending one last time (bounded by the timeout), then stop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.sync(), self._redis_settings.timeout_ms / 1000)
            with contextlib.suppress(Exception):
                await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        interval = self._redis_settings.sync_interval_ms / 1000
        backoff = interval
        while True:
            try:
                await self.sync()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis down, slow or answering nonsense: run on local state, retry later
                self.stats.failures += 1
                if not self._warned:
                    error = re.sub(r"(password=)[^&\s]*", r"\1...", f"{type(exc).__name__}: {exc}")[:300]
                    log.warning("redis_unavailable", error=error, retry_seconds=backoff)
                    self._warned = True
                self.stats.connected = False
                await self._drop_client()
                await asyncio.sleep(backoff)
                backoff = min(_MAX_BACKOFF, backoff * 2)
                continue
            if not self.stats.connected:
                log.info("redis_connected", url=_safe_url(self._redis_settings.url))
                self.stats.connected = True
                self._warned = False  # this outage was logged
            backoff = interval
            await asyncio.sleep(interval)

    async def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()

    async def sync(self) -> None:
        """One round: push what changed, pull the shared view of what this replica touched."""
        if self._client is None:
            self._client = self._connect(self._redis_settings)
            self._merge = self._client.register_script(_MERGE)
            self._buckets_script = self._client.register_script(_BUCKETS)
        started = self._clock()
        pending, self._pending = self._pending, _Pending()
        try:
            records = [item for item in pending.records.items() if not _single(item[1])]
            self.stats.single += len(pending.records) - len(records)
            for at in range(0, len(records), _BATCH):
                await self._sync_records(records[at : at + _BATCH])
                pending.records = dict(records[at + _BATCH :])
            await self._sync_buckets(pending.buckets)
            pending.buckets = {}
            await self._sync_marks(pending.marks, pending.asked)
        except BaseException:
            self._requeue(pending)
            raise
        self.stats.rounds += 1
        self.stats.last_round_seconds = self._clock() - started

    def _requeue(self, pending: _Pending) -> None:
        """A failed round's keys go back into the queue (their differences are still in the records)."""
        now = self._pending
        for key, record in pending.records.items():
            if len(now.records) < _MAX_PENDING:
                now.records.setdefault(key, record)
        for name, bucket in pending.buckets.items():
            mine = now.buckets.setdefault(name, _Bucket(bucket.rate, bucket.burst))
            mine.admitted += bucket.admitted
        for mark, ttl in pending.marks.items():
            now.marks.setdefault(mark, ttl)

    def _forget(self, namespace: str, key: str) -> None:
        bases = self._bases.get(namespace)
        if bases is not None and bases.get(key) is not None:
            bases.put(key, b"")

    def _redis_key(self, kind: str, namespace: str, key: str) -> str:
        return f"{self._prefix}:{kind}:{namespace}:{self._keys(key):016x}"

    async def _sync_records(self, batch: list[tuple[tuple[str, str], object]]) -> None:
        now = self._clock()
        wall = self._wall()
        timeout = self._redis_settings.timeout_ms / 1000
        keys: list[str] = []
        args: list[str] = []
        sent: list[tuple[str, str, object, Shape, list[float]]] = []
        for (namespace, key), record in batch:
            shape = SHAPES[type(record)]
            values = shape.values(record, now)
            base, sizes, cards = self._base(namespace, key, shape, now)
            fields = [
                [name, horizon, value - before, value]
                for (name, horizon), value, before in zip(shape.fields, values, base, strict=True)
            ]
            local_sizes = [_size(getattr(record, name)) for name in shape.distinct]
            sets = [
                [name, members(getattr(record, name)) if size != before else [], card]
                for name, size, before, card in zip(shape.distinct, local_sizes, sizes, cards, strict=True)
            ]
            keys.append(self._redis_key("r", namespace, key))
            args.append(_encode([fields, sets]))
            sent.append((namespace, key, record, shape, values))
        if not keys:
            return
        ttl = int(self._settings.ttl_seconds) + 1
        replies = await asyncio.wait_for(self._merge(keys=keys, args=[repr(wall), ttl, _MEMBERS, *args]), timeout)
        now2 = self._clock()
        for (namespace, key, record, shape, values), reply in zip(sent, replies, strict=True):
            merged, sets = json.loads(reply)
            # What this replica counted while the call was under way stays on top of the merged value.
            decay = shape.decay(max(0.0, now2 - now))
            merged_now = [float(m) * d for m, d in zip(merged, decay, strict=True)]
            current = shape.values(record, now2)
            shape.assign(
                record,
                now2,
                [m + c - v * d for m, c, v, d in zip(merged_now, current, values, decay, strict=True)],
            )
            seen: list[float] = []
            for name, got in zip(shape.distinct, sets if isinstance(sets, list) else [], strict=False):
                if isinstance(got, (list, dict)):  # members (an empty set comes back as an empty object)
                    got = got if isinstance(got, list) else []
                    items = getattr(record, name)
                    for member in got:
                        items = _merge_member(items, member)
                    setattr(record, name, items)
                    seen.append(float(len(got)))
                else:
                    seen.append(float(got))
            sizes = [float(_size(getattr(record, name))) for name in shape.distinct]
            bases = self._bases.get(namespace)
            if bases is None:
                bases = self._bases[namespace] = BoundedTable(
                    self._settings.max_entries, self._settings.ttl_seconds, self._clock
                )
            bases.put(key, _pack(now2, merged_now + sizes + seen))
        self.stats.pushed += len(keys)

    def _base(self, namespace: str, key: str, shape: Shape, now: float) -> tuple[list[float], list[float], list[int]]:
        """The record's shared value as of the last round decayed to `now`, its distinct sets' local sizes then, and
        the sizes Redis had (all zero for a record new to this replica)."""
        n, k = len(shape.fields), len(shape.distinct)
        bases = self._bases.get(namespace)
        packed = bases.get(key) if bases is not None else None
        if not packed:
            return [0.0] * n, [-1.0] * k, [-1] * k
        at, numbers = _unpack(packed)
        decay = shape.decay(max(0.0, now - at))
        return (
            [v * d for v, d in zip(numbers[:n], decay, strict=True)],
            numbers[n : n + k],
            [int(c) for c in numbers[n + k :]],
        )

    async def _sync_buckets(self, buckets: dict[str, _Bucket]) -> None:
        if not buckets:
            return
        timeout = self._redis_settings.timeout_ms / 1000
        items = list(buckets.items())
        for at in range(0, len(items), _BATCH):
            chunk = items[at : at + _BATCH]
            now = self._clock()
            args: list[object] = [f"{self._wall()!r}"]
            for key, bucket in chunk:
                own = float(bucket.burst) - self.local.bucket_tokens(key, bucket.rate, bucket.burst, now)
                ttl = int(self._settings.ttl_seconds) + 1
                args += [f"{bucket.rate!r}", bucket.admitted, f"{own!r}", ttl]
            keys = [self._redis_key("b", "bucket", key) for key, _ in chunk]
            levels = await asyncio.wait_for(self._buckets_script(keys=keys, args=args), timeout)
            for (key, bucket), level in zip(chunk, levels, strict=True):
                # Admitted while the call was under way: already taken from the local bucket, kept taken.
                during = self._pending.buckets.get(key)
                admitted = during.admitted if during is not None else 0
                self.local.set_bucket(key, float(bucket.burst) - float(level) - admitted, self._clock())
            self.stats.pushed += len(keys)

    async def _sync_marks(self, marks: dict[tuple[str, str], float], asked: dict[tuple[str, str], None]) -> None:
        if not marks and not asked:
            return
        timeout = self._redis_settings.timeout_ms / 1000
        async with self._client.pipeline(transaction=False) as pipe:
            for (namespace, key), ttl in marks.items():
                pipe.set(self._redis_key("m", namespace, key), b"1", px=max(1, int(ttl * 1000)), nx=True)
            ask = [k for k in asked if k not in marks]
            for namespace, key in ask:
                pipe.pttl(self._redis_key("m", namespace, key))
            replies = await asyncio.wait_for(pipe.execute(), timeout)
        for (namespace, key), left in zip(ask, replies[len(marks) :], strict=True):
            if isinstance(left, int) and left > 0:
                self.local.mark(namespace, key, left / 1000)


def _merge_member(items: Distinct, member: object) -> Distinct:
    text = member.decode() if isinstance(member, bytes) else str(member)
    if text.startswith("h"):
        return add(items, int(text[1:], 16))
    if text.startswith("b"):
        return add_bit(items, int(text[1:]))
    return items


def _size(items: Distinct) -> int:
    """A distinct set's size in its own terms (exact hashes, or bits set), to tell whether it grew."""
    return items.bit_count() + 1000 if isinstance(items, int) else len(items) // 8


def _pack(at: float, values: list[float]) -> bytes:
    return struct.pack(f"<d{len(values)}d", at, *values)


def _unpack(packed: bytes) -> tuple[float, list[float]]:
    numbers = struct.unpack(f"<{len(packed) // 8}d", packed)
    return numbers[0], list(numbers[1:])


def _safe_url(url: str) -> str:
    """The URL without a password in it, for the log."""
    scheme, sep, rest = url.partition("://")
    _, at, host = rest.rpartition("@")
    return f"{scheme}{sep}{host}" if at else url


def _connect(settings: RedisSettings) -> Any:
    """A redis.asyncio client for the settings (imported here: the memory backend needs no Redis client)."""
    import redis.asyncio as aioredis

    kwargs: dict[str, Any] = {
        "socket_timeout": settings.timeout_ms / 1000,
        "socket_connect_timeout": settings.timeout_ms / 1000,
        "health_check_interval": 30,
    }
    if settings.password_env:
        kwargs["password"] = os.environ.get(settings.password_env) or None
    if settings.ca_file:
        kwargs["ssl_ca_certs"] = settings.ca_file
    return aioredis.from_url(settings.url, **kwargs)
