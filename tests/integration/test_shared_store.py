"""The shared store against a real redis-server (Debian's, on a Unix socket): replicas that count the same keys see
the sum, distinct sets merge, buckets hold a shared level, marks travel, and Redis going away or coming back empty
costs no request and loses no count."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from botwall.config import RedisSettings, StateSettings
from botwall.evidence.behaviour import AccountWindow, ClientWindow, SprayWindow, add, distinct
from botwall.lab.stack import RedisProcess, start_redis
from botwall.state.shared import SharedStore


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisProcess]:
    server = start_redis(tmp_path / "redis")
    yield server
    server.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def settings(url: str, prefix: str = "test", timeout_ms: int = 1000) -> StateSettings:
    return StateSettings(backend="redis", redis=RedisSettings(url=url, prefix=prefix, timeout_ms=timeout_ms))


def count(store: SharedStore, clock: Clock, key: str, paths: range) -> ClientWindow:
    window = None
    for path in paths:
        window = store.record("ip", key, ClientWindow)
        window.observe(clock(), "page", path, False, 7)
    assert window is not None
    return window


def test_two_replicas_see_the_sum_of_their_counts(redis: RedisProcess) -> None:
    clock = Clock()

    async def run() -> tuple[ClientWindow, ClientWindow]:
        a, b = SharedStore(settings(redis.url), clock), SharedStore(settings(redis.url), clock)
        wa = count(a, clock, "198.51.100.7", range(10))
        wb = count(b, clock, "198.51.100.7", range(10, 16))
        await a.sync()
        await b.sync()
        a.record("ip", "198.51.100.7", ClientWindow)
        await a.sync()
        # Counted again after a round: only the difference is pushed, never the shared value a second time.
        count(b, clock, "198.51.100.7", range(16, 18))
        await b.sync()
        a.record("ip", "198.51.100.7", ClientWindow)
        await a.sync()
        await a.close()
        await b.close()
        return wa, wb

    wa, wb = asyncio.run(run())
    for window in (wa, wb):
        assert window.count == 18
        assert window.long == pytest.approx(18, abs=0.01)
        assert window.pages == pytest.approx(18, abs=0.01)
        assert distinct(window.paths) >= 16  # exact to 16, then the bitmap's estimate
    # A record's local view of its own gaps is untouched by the merge: the time of its last request stays.
    assert wa.last == 1000.0


def test_a_key_only_one_replica_counts_stays_its_own(redis: RedisProcess) -> None:
    clock = Clock()

    async def run() -> tuple[ClientWindow, ClientWindow]:
        a, b = SharedStore(settings(redis.url), clock), SharedStore(settings(redis.url), clock)
        wa = count(a, clock, "203.0.113.1", range(3))
        wb = count(b, clock, "203.0.113.2", range(4))
        await a.sync()
        await b.sync()
        await a.close()
        await b.close()
        return wa, wb

    wa, wb = asyncio.run(run())
    assert (wa.count, wb.count) == (3, 4)


def test_windows_decay_between_rounds_as_in_one_process(redis: RedisProcess) -> None:
    clock = Clock()

    async def run() -> ClientWindow:
        a, b = SharedStore(settings(redis.url), clock), SharedStore(settings(redis.url), clock)
        count(a, clock, "192.0.2.9", range(10))
        await a.sync()
        clock.now += 60.0  # one MEDIUM horizon later
        wb = count(b, clock, "192.0.2.9", range(10, 12))  # two: a one-request window stays local (test below)
        await b.sync()
        await a.close()
        await b.close()
        return wb

    wb = asyncio.run(run())
    # Redis decays by the wall clock between the two calls (milliseconds here), the replicas by their own clocks:
    # B holds its two requests plus A's ten as B's clock reads them at its round.
    assert wb.count == 12
    assert wb.short == pytest.approx(2.0 + 10.0, rel=0.01)  # Redis has not decayed A's ten (no wall time passed)


def test_accounts_and_sprays_merge_their_distinct_sets(redis: RedisProcess) -> None:
    clock = Clock()

    async def run() -> tuple[AccountWindow, SprayWindow, SprayWindow]:
        a, b = SharedStore(settings(redis.url), clock), SharedStore(settings(redis.url), clock)
        for ip in range(3):
            a.record("user", "alice", AccountWindow).observe(clock(), 100 + ip, 1)
        account = b.record("user", "alice", AccountWindow)
        account.observe(clock(), 200, 1)
        spray_a = a.record("password", "k", SprayWindow)
        spray_b = b.record("password", "k", SprayWindow)
        for user in range(2):
            spray_a.usernames = add(spray_a.usernames, user)
        for user in range(2, 5):
            spray_b.usernames = add(spray_b.usernames, user)
        await a.sync()
        await b.sync()
        a.record("password", "k", SprayWindow)
        await a.sync()
        await a.close()
        await b.close()
        return account, spray_a, spray_b

    account, spray_a, spray_b = asyncio.run(run())
    assert account.attempts == pytest.approx(4, abs=0.01)
    assert distinct(account.ips) == 4
    assert distinct(spray_a.usernames) == distinct(spray_b.usernames) == 5


def test_a_bucket_drained_on_one_replica_throttles_the_other(redis: RedisProcess) -> None:
    clock = Clock()

    async def run() -> tuple[list[float], list[float]]:
        a, b = SharedStore(settings(redis.url), clock), SharedStore(settings(redis.url), clock)
        first = [a.take_token("ip:1", 1.0, 5) for _ in range(5)]
        b.take_token("ip:1", 1.0, 5)  # B's first request on the key is judged on its own bucket
        await a.sync()
        await b.sync()
        after = [b.take_token("ip:1", 1.0, 5) for _ in range(2)]
        await a.close()
        await b.close()
        return first, after

    first, after = asyncio.run(run())
    assert first == [0.0] * 5
    # Six admitted against a burst of five: B is in debt and waits, though its own bucket had four left.
    assert all(wait > 0.5 for wait in after)


def test_a_challenge_mark_reaches_the_other_replica_a_round_later(redis: RedisProcess) -> None:
    clock = Clock()

    async def run() -> list[bool]:
        a, b = SharedStore(settings(redis.url), clock), SharedStore(settings(redis.url), clock)
        a.mark("challenged", "c1", 60.0)
        await a.sync()
        seen = [b.marked("challenged", "c1")]
        await b.sync()
        seen.append(b.marked("challenged", "c1"))
        seen.append(b.marked("challenged", "other"))
        await b.sync()
        await a.close()
        await b.close()
        return seen

    assert asyncio.run(run()) == [False, True, False]


def test_redis_down_at_start_then_up_runs_locally_and_pushes_on_reconnection(tmp_path: Path) -> None:
    clock = Clock()
    workdir = tmp_path / "late"
    workdir.mkdir()
    url = f"unix://{workdir / 'redis.sock'}"

    async def run() -> tuple[SharedStore, ClientWindow, int]:
        a = SharedStore(settings(url, timeout_ms=200), clock)
        await a.start()
        window = count(a, clock, "198.51.100.20", range(5))  # served from local state while Redis is away
        await asyncio.sleep(0.3)
        assert not a.stats.connected
        assert a.stats.failures >= 1
        server = start_redis(workdir)
        try:
            deadline = time.monotonic() + 10
            while not a.stats.connected and time.monotonic() < deadline:  # noqa: ASYNC110 - polling a stat
                await asyncio.sleep(0.05)
            b = SharedStore(settings(server.url), clock)
            seen = count(b, clock, "198.51.100.20", range(5, 7))
            await b.sync()
            await b.close()
            await a.close()
        finally:
            server.stop()
        return a, window, seen.count

    a, window, seen = asyncio.run(run())
    assert a.stats.connected
    assert window.count == 5
    assert seen == 7  # nothing counted during the outage was lost (B's two on top)


def test_redis_restarted_empty_is_reseeded(tmp_path: Path) -> None:
    clock = Clock()
    workdir = tmp_path / "restart"

    async def run() -> tuple[int, int]:
        server = start_redis(workdir)
        a = SharedStore(settings(server.url, timeout_ms=300), clock)
        b = SharedStore(settings(server.url, timeout_ms=300), clock)
        count(a, clock, "198.51.100.30", range(4))
        count(b, clock, "198.51.100.30", range(4, 7))
        await a.sync()
        await b.sync()
        a.record("ip", "198.51.100.30", ClientWindow)
        await a.sync()  # A pulls B's three
        server.kill()
        a.record("ip", "198.51.100.30", ClientWindow)
        with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the client raises for a dead socket
            await a.sync()
        server = start_redis(workdir)
        try:
            await a._drop_client()  # the loop does this after a failure
            await a.sync()
            c = SharedStore(settings(server.url), clock)
            seen = count(c, clock, "198.51.100.30", range(7, 9))
            await c.sync()
            await c.close()
            await a.close()
            await b.close()
        finally:
            server.stop()
        return a.local.peek("ip", "198.51.100.30").count, seen.count  # type: ignore[union-attr]

    kept, seeded = asyncio.run(run())
    assert kept == 7
    assert seeded == 9  # the empty Redis took A's whole view (which held B's three), not A's difference alone


def test_keys_carry_the_prefix_and_no_address_in_the_clear(redis: RedisProcess) -> None:
    import redis as redis_client

    clock = Clock()

    async def run() -> None:
        a = SharedStore(settings(redis.url, prefix="shop-eu"), clock)
        count(a, clock, "198.51.100.40", range(2))
        await a.sync()
        await a.close()

    asyncio.run(run())
    client = redis_client.Redis(unix_socket_path=str(redis.socket))
    keys = [k.decode() for k in client.keys("*")]
    client.close()
    assert keys
    assert all(k.startswith("shop-eu:") for k in keys)
    assert not any("198.51.100.40" in k for k in keys)


def test_a_one_request_window_stays_local_until_its_second(redis: RedisProcess) -> None:
    """A flood of new addresses makes one window per request: one page view is no behaviour, so it is not pushed (a
    sync round costs nothing for it), until that key's second request pushes it whole; a login goes at once."""
    clock = Clock()

    async def run() -> tuple[int, int, int, int]:
        a, b = SharedStore(settings(redis.url), clock), SharedStore(settings(redis.url), clock)
        for n in range(50):
            count(a, clock, f"203.0.113.{n}", range(1))
        login = count(a, clock, "198.51.100.77", range(1))
        login.observe_response(401, True, True, False)
        await a.sync()
        skipped = a.stats.single
        seen_one = count(b, clock, "203.0.113.7", range(1, 3))  # B's two requests: B pushes and pulls
        seen_login = count(b, clock, "198.51.100.77", range(1, 3))
        await b.sync()
        seen = (seen_one.count, seen_login.count)  # the windows live on: read them now
        count(a, clock, "203.0.113.7", range(3, 4))  # A's second request to that address: A's first goes too
        await a.sync()
        seen_late = count(b, clock, "203.0.113.7", range(4, 5))
        await b.sync()
        await a.close()
        await b.close()
        return skipped, *seen, seen_late.count

    skipped, seen_one, seen_login, seen_late = asyncio.run(run())
    assert skipped == 50
    assert seen_one == 2  # A's one request to it stayed at A
    assert seen_login == 3  # the login did not
    assert seen_late == 5  # A's two, B's three
