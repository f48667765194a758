"""Waits to a fraction of a millisecond, for a fake answer that must take the upstream's time.

asyncio's timers wake on whole milliseconds (its epoll selector rounds a timeout up to the next millisecond), so
`asyncio.sleep(0.0013)` takes about 2 ms: against an upstream that answers in one, a fake answer would be a
millisecond late on every request, which a bot timing its answers can see. One daemon thread keeps the deadlines in a
heap and wakes each waiting stream through its loop's thread-safe call when its deadline passes (a condition
variable's timed wait: tens of microseconds late). Bounded: past `MAX_WAITING` waits at once, a wait is skipped.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
import time

MAX_WAITING = 10_000


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():  # the stream may have been cancelled meanwhile
        future.set_result(None)


class PreciseDelays:
    """`await delays.sleep(seconds)`, woken by one timer thread (started on first use)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._ready = threading.Condition()
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._ready:
            if len(self._heap) >= MAX_WAITING:
                return
            heapq.heappush(self._heap, (time.perf_counter() + seconds, next(self._order), loop, future))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="botwall-delays", daemon=True)
                self._thread.start()
            self._ready.notify()
        await future

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._heap:
                    self._ready.wait()
                deadline = self._heap[0][0]
                wait = deadline - time.perf_counter()
                if wait > 0:
                    self._ready.wait(wait)
                    continue
                _, _, loop, future = heapq.heappop(self._heap)
            try:
                loop.call_soon_threadsafe(_wake, future)
            except RuntimeError:  # the loop closed (the server stopped)
                continue
