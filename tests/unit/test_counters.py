"""The server's traffic series: per minute for a day, folded into hours for a week, reason codes alongside."""

from __future__ import annotations

from botwall.edge.server import TRAFFIC_HOURS, TRAFFIC_MINUTES, Counters

T0 = 1_800_000_000.0 // 3600 * 3600  # the start of an hour


def test_minutes_fold_into_hours_and_nothing_is_counted_twice() -> None:
    counters = Counters()
    for minute in range(0, 2 * 24 * 60, 7):  # two days, one human every 7 minutes
        counters.traffic_minute(T0 + minute * 60, "allow", "human")
    counters.traffic_minute(T0 + 2 * 86400, "block", "bot", ("beh:credential-stuffing", "tls:tool"))
    now = T0 + 2 * 86400 + 30
    assert len(counters.traffic) <= TRAFFIC_MINUTES  # a day of minutes at most; the rest are hours
    assert counters.traffic_hours
    week, reasons = counters.traffic_series(now - 7 * 86400, 3600, now)
    total = sum(n for _, counts in week for n in counts.values())
    assert total == len(range(0, 2 * 24 * 60, 7)) + 1
    assert reasons == {"beh:credential-stuffing": 1, "tls:tool": 1}
    hour, _ = counters.traffic_series(now - 3600, 60, now)
    assert len(hour) == 61  # every minute present, empty ones too
    assert hour[-1][1] == {("block", "bot"): 1}
    assert sum(n for _, counts in hour for n in counts.values()) == 1 + len(range(2820, 2880, 7))


def test_hours_past_a_week_go_and_reason_codes_are_bounded() -> None:
    counters = Counters()
    counters.traffic_minute(T0, "allow", "human")
    later = T0 + (TRAFFIC_HOURS + 30) * 3600
    counters.traffic_minute(later, "allow", "human", tuple(f"code:{i}" for i in range(8)))
    for i in range(500):
        counters.traffic_minute(later, "block", "bot", (f"odd:{i}",))
    assert not [h for h in counters.traffic_hours if h < (later - TRAFFIC_HOURS * 3600) // 3600]
    assert len(counters.reasons[int(later // 60)]) == 200
    week, _ = counters.traffic_series(later - 7 * 86400, 3600, later)
    assert sum(n for _, counts in week for n in counts.values()) == 501
