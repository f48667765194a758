"""Tracebacks at a bounded rate: an error that every request of an attack can trigger must not flood stderr."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from botwall.clock import Clock, monotonic


class ExceptionLogger(Protocol):
    """What the limiter needs of a logger: structlog's `exception` (the event, fields, and the current traceback)."""

    def exception(self, event: str, **fields: Any) -> Any: ...


@dataclass(slots=True)
class _Window:
    start: float
    logged: int = 0
    suppressed: int = 0  # left out since the last one logged; carried into the next interval until reported


class TracebackLimiter:
    """Logs an exception with its traceback at most `limit` times per `interval_seconds` for each event name.

    The rest are counted, not logged; the next one logged carries `suppressed`, how many of that name were left out
    since the previous one. Event names are the code's own constants, so the table of names stays small.
    """

    def __init__(self, limit: int = 5, interval_seconds: float = 60.0, clock: Clock = monotonic) -> None:
        self._limit = limit
        self._interval = interval_seconds
        self._clock = clock
        self._windows: dict[str, _Window] = {}

    def exception(self, logger: ExceptionLogger, event: str, **fields: Any) -> bool:
        """Inside an `except` block: log the exception being handled as `event` if this name's budget allows.

        Returns True when it was logged, False when it was only counted.
        """
        now = self._clock()
        window = self._windows.get(event)
        if window is None or not 0 <= now - window.start < self._interval:
            window = self._windows[event] = _Window(now, suppressed=window.suppressed if window else 0)
        if window.logged >= self._limit:
            window.suppressed += 1
            return False
        window.logged += 1
        if window.suppressed:
            fields["suppressed"] = window.suppressed
            window.suppressed = 0
        logger.exception(event, **fields)
        return True
