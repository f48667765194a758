"""Sorted range tables: an address maps to a small integer in one `bisect`, with no per-range Python objects.

A table holds the start of every segment (gaps included) in a machine-typed `array`, and each segment's value in
a parallel one; a gap has the value `NO_VALUE`. IPv4 starts are 32-bit. IPv6 starts are split: the high 64 bits in
an `array('Q')` that bisect searches, and the few non-zero low halves (ranges that do not start on a /64) in a
dict consulted only for starts inside the same /64 as the address.
"""

from __future__ import annotations

import socket
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import pairwise
from typing import TypeVar

NO_VALUE = 0xFFFFFFFF
MASK64 = (1 << 64) - 1
MAX4 = (1 << 32) - 1
MAX6 = (1 << 128) - 1
_MAPPED_V4 = 0xFFFF  # ::ffff:a.b.c.d, shifted right by 32

T = TypeVar("T")


def parse_ip(text: str) -> tuple[int, int, str] | None:
    """`(version, integer, canonical text)` for an IPv4 or IPv6 address, or None; IPv4-mapped IPv6 reads as IPv4.

    `inet_pton` is strict (no leading zeros, no short forms, no spaces) and about ten times cheaper than
    `ipaddress.ip_address`.
    """
    try:
        if ":" in text:
            packed = socket.inet_pton(socket.AF_INET6, text)
            value = int.from_bytes(packed, "big")
            if value >> 32 == _MAPPED_V4:
                value &= MAX4
                return 4, value, socket.inet_ntop(socket.AF_INET, packed[12:])
            return 6, value, socket.inet_ntop(socket.AF_INET6, packed)
        value = int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except (OSError, ValueError, TypeError):  # malformed text, an embedded NUL, or not a string at all
        return None
    return 4, value, text


def merge_adjacent(segments: Iterable[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Join sorted, disjoint `(start, end, value)` segments that touch and carry the same value."""
    out: list[tuple[int, int, int]] = []
    for start, end, value in segments:
        if out and out[-1][1] + 1 == start and out[-1][2] == value:
            out[-1] = (out[-1][0], end, value)
        else:
            out.append((start, end, value))
    return out


def flatten(intervals: Sequence[tuple[int, int, T]], choose: Callable[[list[T]], int]) -> list[tuple[int, int, int]]:
    """Disjoint, sorted `(start, end, value)` segments from possibly overlapping inclusive intervals.

    Where intervals overlap, `choose` receives the payloads of every interval covering the segment and returns its
    value. Already-disjoint input (the usual case) skips the sweep.
    """
    ordered = sorted(intervals, key=lambda r: (r[0], r[1]))
    if all(a[1] < b[0] for a, b in pairwise(ordered)):
        return merge_adjacent((s, e, choose([p])) for s, e, p in ordered)
    # Sweep: each interval opens at its start and closes just after its end; between two consecutive event
    # positions the covering set is constant.
    events: list[tuple[int, int, int]] = []
    for i, (start, end, _) in enumerate(ordered):
        events.append((start, 1, i))
        events.append((end + 1, 0, i))
    events.sort()
    active: dict[int, T] = {}
    out: list[tuple[int, int, int]] = []
    k, n = 0, len(events)
    while k < n:
        position = events[k][0]
        while k < n and events[k][0] == position:
            _, opens, i = events[k]
            if opens:
                active[i] = ordered[i][2]
            else:
                del active[i]
            k += 1
        if active:  # an open interval always has its closing event ahead, so events[k] exists
            out.append((position, events[k][0] - 1, choose(list(active.values()))))
    return merge_adjacent(out)


def is_disjoint(segments: Iterable[tuple[int, int, int]]) -> bool:
    """True when `(start, end, value)` segments are sorted and do not overlap (so no `flatten` is needed)."""
    last = -1
    for start, end, _ in segments:
        if start <= last or end < start:
            return False
        last = end
    return True


def _with_gaps(segments: Iterable[tuple[int, int, int]], top: int) -> Iterator[tuple[int, int]]:
    """`(start, value)` of every segment, with a NO_VALUE entry where each gap starts (below the first start,
    bisect already finds nothing)."""
    next_free: int | None = None
    for start, end, value in segments:
        if next_free is not None and start > next_free:
            yield next_free, NO_VALUE
        yield start, value
        next_free = end + 1
    if next_free is not None and next_free <= top:
        yield next_free, NO_VALUE


class Ranges4:
    """IPv4 ranges: parallel `array('I')` of segment starts and values."""

    __slots__ = ("starts", "values")

    def __init__(self, starts: array[int], values: array[int]) -> None:
        self.starts = starts
        self.values = values

    @classmethod
    def from_segments(cls, segments: Iterable[tuple[int, int, int]]) -> Ranges4:
        """Build from sorted, disjoint `(start, end, value)` segments."""
        starts, values = array("I"), array("I")
        for start, value in _with_gaps(segments, MAX4):
            starts.append(start)
            values.append(value)
        return cls(starts, values)

    def find(self, address: int) -> int:
        """The value of the segment holding `address`, or NO_VALUE."""
        i = bisect_right(self.starts, address) - 1
        return NO_VALUE if i < 0 else self.values[i]

    def __len__(self) -> int:
        return len(self.starts)

    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return len(self.starts) * self.starts.itemsize + len(self.values) * self.values.itemsize


class Ranges6:
    """IPv6 ranges: the high 64 bits of each start in an `array('Q')`, non-zero low halves in a dict."""

    __slots__ = ("hi", "lo", "values")

    def __init__(self, hi: array[int], lo: dict[int, int], values: array[int]) -> None:
        self.hi = hi
        self.lo = lo
        self.values = values

    @classmethod
    def from_segments(cls, segments: Iterable[tuple[int, int, int]]) -> Ranges6:
        """Build from sorted, disjoint `(start, end, value)` segments."""
        hi, lo, values = array("Q"), {}, array("I")
        for start, value in _with_gaps(segments, MAX6):
            if start & MASK64:
                lo[len(hi)] = start & MASK64
            hi.append(start >> 64)
            values.append(value)
        return cls(hi, lo, values)

    def find(self, address: int) -> int:
        """The value of the segment holding `address`, or NO_VALUE."""
        high = address >> 64
        i = bisect_right(self.hi, high) - 1
        if self.lo:
            # Starts sharing this /64 are sorted by their low half: step back past those beyond the address.
            low = address & MASK64
            hi, lo = self.hi, self.lo
            while i >= 0 and hi[i] == high and lo.get(i, 0) > low:
                i -= 1
        return NO_VALUE if i < 0 else self.values[i]

    def __len__(self) -> int:
        return len(self.hi)

    def nbytes(self) -> int:
        """Memory held by the arrays (the dict of low halves not counted)."""
        return len(self.hi) * self.hi.itemsize + len(self.values) * self.values.itemsize


class RangeMap:
    """One table per IP version, built from `(version, start, end, payload)` intervals that may overlap."""

    __slots__ = ("v4", "v6")

    def __init__(self, v4: Ranges4, v6: Ranges6) -> None:
        self.v4 = v4
        self.v6 = v6

    @classmethod
    def build(cls, intervals: Iterable[tuple[int, int, int, T]], choose: Callable[[list[T]], int]) -> RangeMap:
        """Resolve overlaps with `choose` (see `flatten`) and index both versions."""
        by_version: dict[int, list[tuple[int, int, T]]] = {4: [], 6: []}
        for version, start, end, payload in intervals:
            by_version[version].append((start, end, payload))
        return cls(
            Ranges4.from_segments(flatten(by_version[4], choose)),
            Ranges6.from_segments(flatten(by_version[6], choose)),
        )

    def find(self, version: int, address: int) -> int:
        """The value for an address, or NO_VALUE."""
        return self.v4.find(address) if version == 4 else self.v6.find(address)

    def __bool__(self) -> bool:
        return bool(len(self.v4) or len(self.v6))
