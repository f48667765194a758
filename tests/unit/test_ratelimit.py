"""Tracebacks at a bounded rate: a few per event name and interval, the rest counted and reported."""

from __future__ import annotations

from typing import Any

import structlog

from botwall.clock import FakeClock
from botwall.edge._ratelimit import TracebackLimiter


class _Logger:
    """Records what `TracebackLimiter` logs."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def exception(self, event: str, **fields: Any) -> None:
        self.calls.append((event, fields))


def _fail(limiter: TracebackLimiter, logger: _Logger, event: str) -> bool:
    try:
        raise ValueError("boom")
    except ValueError:
        return limiter.exception(logger, event, phase="test")


def test_tracebacks_are_limited_per_event_name_and_interval() -> None:
    """Three tracebacks per name and interval are logged; the rest are counted and reported on the next one."""
    clock = FakeClock()
    limiter = TracebackLimiter(limit=3, interval_seconds=60, clock=clock)
    logger = _Logger()
    first = [_fail(limiter, logger, "request_headers_failed") for _ in range(10)]
    other = _fail(limiter, logger, "request_body_failed")
    clock.advance(60)
    after = _fail(limiter, logger, "request_headers_failed")
    assert ([True] * 3 + [False] * 7, True, True) == (first, other, after)
    expected = [
        ("request_headers_failed", {"phase": "test"}),
        ("request_headers_failed", {"phase": "test"}),
        ("request_headers_failed", {"phase": "test"}),
        ("request_body_failed", {"phase": "test"}),
        ("request_headers_failed", {"phase": "test", "suppressed": 7}),
    ]
    assert expected == logger.calls


def test_a_structlog_logger_gets_the_traceback() -> None:
    """Through structlog, a logged one is an error event carrying the exception's traceback."""
    limiter = TracebackLimiter(limit=1)
    with structlog.testing.capture_logs() as logs:
        try:
            raise ValueError("boom")
        except ValueError:
            limiter.exception(structlog.get_logger("botwall.edge.server"), "request_headers_failed")
    assert [{"event": "request_headers_failed", "log_level": "error", "exc_info": True}] == logs
