"""Injected clocks, so time windows and token buckets are testable without sleeping."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """A monotonic source of seconds; only differences between readings are meaningful."""

    def __call__(self) -> float: ...


def monotonic() -> float:
    """The production clock."""
    return time.monotonic()


class FakeClock:
    """A clock that moves only when told to; for tests of time windows and buckets."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds
