"""The state store's bounds: entries per kind of key, idle expiry, and the bytes a flood of addresses costs."""

from __future__ import annotations

import gc
import tracemalloc

from botwall.clock import FakeClock
from botwall.config import StateSettings
from botwall.evidence.behaviour import ClientWindow
from botwall.state.store import BoundedTable, MemoryStore

# What one client address costs in the store under a flood (its key, its window after one request and its response,
# the table's slot and expiry), measured at about 465 bytes with CPython 3.11 (840 with cachetools.TTLCache and a
# tuple of ints per distinct count): the README's memory figures rest on this bound.
BYTES_PER_ADDRESS = 520


def _address(i: int) -> str:
    """The i-th of 2**32 distinct IPv4 addresses, scattered (an odd multiplier, then an xor-shift: a bijection)."""
    x = (i * 1664525 + 0x01000000) % 2**32
    x ^= x >> 15
    return f"{x >> 24}.{(x >> 16) & 255}.{(x >> 8) & 255}.{x & 255}"


def test_a_million_distinct_addresses_never_exceed_max_entries() -> None:
    """One request from each of a million addresses, a millisecond apart: the IP table never holds more than
    max_entries, and a flood of one kind of key evicts nothing of another (a username idle meanwhile, within its
    TTL)."""
    clock = FakeClock()
    store = MemoryStore(StateSettings(max_entries=100_000, ttl_seconds=3600), clock)
    account = store.record("user", "alice", ClientWindow)
    largest = 0
    for i in range(1_000_000):
        store.record("ip", _address(i), ClientWindow)
        clock.advance(0.001)
        if i % 10_000 == 0:
            largest = max(largest, store.sizes()["ip"])
    assert (100_000, 100_000) == (largest, store.sizes()["ip"])
    assert account is store.record("user", "alice", ClientWindow)


def test_bytes_per_address_stay_under_the_stated_bound() -> None:
    """A window per address, counted as the engine counts a request and its response, costs under
    BYTES_PER_ADDRESS (key, window, floats, distinct-count tuples and the table's slot)."""
    clock = FakeClock()
    count = 50_000
    store = MemoryStore(StateSettings(max_entries=count, ttl_seconds=900), clock)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(count):
            ip = _address(i)
            now = clock()
            window = store.record("ip", ip, ClientWindow)
            window.observe(now, "page", hash(f"/products/{i % 400}"), False, hash(ip), cold=True)
            window.observe_response(403 if i % 2 else 200, login=False, login_failed=False, new_session=False)
            clock.advance(0.001)
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert count == len(store)
    assert used / count < BYTES_PER_ADDRESS


def test_entries_expire_ttl_after_creation_and_idle_ones_leave_memory() -> None:
    """An entry starts afresh ttl seconds after it was created (to the second), used or not, as with a TTLCache
    (the trained model's windows behave so); an idle one is dropped from memory within two TTLs."""
    clock = FakeClock()
    table: BoundedTable[object] = BoundedTable(10, 900, clock)
    table.put("busy", busy := object())
    table.put("idle", object())
    for _ in range(9):
        clock.advance(100)
        assert busy is table.get("busy")
    clock.advance(1)
    assert (None, 0) == (table.get("busy"), len(table))
    table.put("busy", renewed := object())
    assert (renewed, 1) == (table.get("busy"), len(table))
    clock.advance(1800)
    assert 0 == table.held()


def test_a_full_table_keeps_its_live_entries_across_epochs() -> None:
    """Entries a full table moved to the old generation early stay until they expire, not until the next epoch."""
    clock = FakeClock()
    table: BoundedTable[int] = BoundedTable(10, 900, clock)
    for i in range(11):
        table.put(f"k{i}", i)
    clock.advance(850)  # into the next epoch, before any entry expires
    assert ([f"k{i}" for i in range(1, 11)], 10) == (sorted(table.keys(), key=lambda k: int(k[1:])), table.held())
    clock.advance(60)
    assert 0 == len(table)


def test_eviction_keeps_the_keys_in_use() -> None:
    """When the table is full, the least recently used keys go first: a key used every few insertions survives a
    flood of a hundred times max_entries new ones."""
    clock = FakeClock()
    table: BoundedTable[int] = BoundedTable(1_000, 900, clock)
    table.put("hot", -1)
    for i in range(100_000):
        table.put(f"k{i}", i)
        if i % 100 == 0:
            assert -1 == table.get("hot")
    assert (1_000, -1) == (len(table), table.get("hot"))
    assert "k0" not in table
    assert 99_999 == table.get("k99999")


def test_token_buckets_are_bounded_like_records() -> None:
    """Buckets live in the same kind of table: a flood of keys keeps max_entries of them."""
    store = MemoryStore(StateSettings(max_entries=100, ttl_seconds=60), FakeClock())
    for i in range(10_000):
        assert 0.0 == store.take_token(f"tb|login|ip|{_address(i)}", 1.0, 5)
    assert {"buckets": 100} == store.sizes()
