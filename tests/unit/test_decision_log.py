"""The decision log stays bounded: every field capped, repeats aggregated per key and interval, nothing lost."""

from __future__ import annotations

import asyncio
import io
import json
import random
from typing import Any

import pytest

from botwall.clock import FakeClock
from botwall.config import Action, DecisionLogSettings
from botwall.edge.decision_log import DecisionLog, capped, start_flushing
from botwall.evidence.credentials import LoginAttempt
from botwall.policy import Decision
from botwall.request import SOURCE_ADDRESS, RequestView, build_view

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
START = 1_800_000_000.0  # the fake wall clock's start, in seconds since the epoch
START_MS = int(START * 1000)


def _view(ip: str = "192.0.2.1", path: str = "/", ua: str = CHROME, method: str = "GET") -> RequestView:
    headers = [(":method", method), (":path", path), (":authority", "shop.example"), ("user-agent", ua)]
    return build_view(headers, {SOURCE_ADDRESS: f"{ip}:40000"})


def _decision(
    fingerprint: str = "f" * 16, action: Action = Action.BLOCK, reasons: tuple[str, ...] = ("ua:automation-tool",)
) -> Decision:
    return Decision(action, True, False, "bots", 90, "bot", reasons, fingerprint)


def _login(username: str) -> LoginAttempt:
    return LoginAttempt("form-login", username, True, False, b"k", True)


def _log(clock: FakeClock, **settings: Any) -> tuple[DecisionLog, io.StringIO]:
    out = io.StringIO()
    rng = random.Random(1)  # noqa: S311 - seeded sampling, not security
    return DecisionLog(DecisionLogSettings(**{"allow_sample_rate": 0.0, **settings}), out, rng, clock), out


def _lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _events(out: io.StringIO) -> list[str]:
    return [line["event"] for line in _lines(out)]


def test_every_capped_field_is_cut_and_named() -> None:
    """Each string field over its cap is cut to the cap and named in `truncated` with its original length."""
    long = {
        "user_agent": 513,
        "path": 600,
        "authority": 300,
        "username": 200,
        "client_ip": 100,
        "request_id": 100,
        "ja4": 100,
        "policy": 100,
        "login_route": 100,
        "fingerprint": 40,
        "method": 20,
    }
    fields: dict[str, Any] = {name: "x" * n for name, n in long.items()}
    fields["reasons"] = [f"r:{i}" for i in range(20)] + ["r:" + "y" * 100]
    out = capped(fields)
    caps = {n: len(out[n]) for n in long}
    expected_caps = {
        "user_agent": 512,
        "path": 512,
        "authority": 256,
        "username": 128,
        "client_ip": 64,
        "request_id": 64,
        "ja4": 64,
        "policy": 64,
        "login_route": 64,
        "fingerprint": 32,
        "method": 16,
    }
    assert expected_caps == caps
    assert {**long, "reasons": 21} == out["truncated"]
    assert [f"r:{i}" for i in range(16)] == out["reasons"]


def test_a_line_within_the_caps_has_no_truncated_field() -> None:
    """A decision whose values all fit is written as it is, without a `truncated` field."""
    log, out = _log(FakeClock(START))
    log.record(_decision(), _view(path="/products/1"))
    (line,) = _lines(out)
    assert (CHROME, "/products/1", False) == (line["user_agent"], line["path"], "truncated" in line)


def test_recorded_long_values_are_cut_and_marked() -> None:
    """A refused request with an 800-character user-agent and a 2,000-character path logs both cut and marked."""
    log, out = _log(FakeClock(START))
    log.record(_decision(), _view(ua="A" * 800, path="/" + "p" * 1999))
    (line,) = _lines(out)
    assert ("A" * 512, "/" + "p" * 511) == (line["user_agent"], line["path"])
    assert {"user_agent": 800, "path": 2000} == line["truncated"]


def test_repeats_of_a_key_aggregate_with_exact_counts() -> None:
    """Ten decisions of one key in an interval: three written in full, one aggregate line counting the other seven."""
    clock = FakeClock(START)
    log, out = _log(clock, full_lines_per_key=3, interval_seconds=10, sample_size=5)
    for i in range(10):
        log.record(_decision(), _view(ip=f"198.51.100.{i}", path=f"/p/{i % 2}"))
        clock.advance(0.5)
    assert ["decision"] * 3 == _events(out)
    clock.advance(10)
    log.flush_due()
    aggregate = _lines(out)[-1]
    expected = {
        "event": "decision_aggregate",
        "fingerprint": "f" * 16,
        "action": "block",
        "policy": "bots",
        "reason": "ua:automation-tool",
        "login_route": "",
        "written": 3,
        "suppressed": 7,
        "first_ms": START_MS + 1500,
        "last_ms": START_MS + 4500,
        "client_ips": [f"198.51.100.{i}" for i in range(3, 8)],
        "paths": ["/p/1", "/p/0"],
        "usernames": [],
    }
    assert expected == aggregate


def test_keys_differ_by_action_policy_reason_and_fingerprint() -> None:
    """Decisions that differ in fingerprint, action or top reason are counted under separate keys."""
    log, out = _log(FakeClock(START), full_lines_per_key=1)
    for decision in (
        _decision(),
        _decision(fingerprint="e" * 16),
        _decision(action=Action.THROTTLE),
        _decision(reasons=("ip:datacenter",)),
    ):
        log.record(decision, _view())
        log.record(decision, _view())
    log.flush()
    assert ["decision"] * 4 + ["decision_aggregate"] * 4 == _events(out)
    assert [1, 1, 1, 1] == [line["suppressed"] for line in _lines(out)[4:]]


def test_a_stuffing_run_aggregates_logins_with_a_sample_of_usernames() -> None:
    """Logins are always logged, but 200 attempts from one client software write 3 lines and one aggregate."""
    clock = FakeClock(START)
    log, out = _log(clock, full_lines_per_key=3, sample_size=4)
    for i in range(200):
        log.record(_decision(action=Action.ALLOW), _view(ip=f"203.0.113.{i % 250}", method="POST"), _login(f"u{i}"))
        clock.advance(0.01)
    log.flush()
    lines = _lines(out)
    assert ["u0", "u1", "u2"] == [line["username"] for line in lines[:3]]
    assert (4, "decision_aggregate", "form-login", 197) == (
        len(lines),
        lines[3]["event"],
        lines[3]["login_route"],
        lines[3]["suppressed"],
    )
    assert ["u3", "u4", "u5", "u6"] == lines[3]["usernames"]


def test_allowed_requests_are_sampled_not_aggregated() -> None:
    """With every allow sampled, ten allows of one key are ten full lines and no aggregate line."""
    log, out = _log(FakeClock(START), allow_sample_rate=1.0, full_lines_per_key=1)
    for _ in range(10):
        log.record(_decision(action=Action.ALLOW), _view())
    log.flush()
    assert ["decision"] * 10 == _events(out)


def test_the_key_table_overflows_into_one_counted_line() -> None:
    """Past `max_keys` keys in an interval, decisions of new keys are only counted, in one bounded overflow line."""
    log, out = _log(FakeClock(START), full_lines_per_key=1, max_keys=4, sample_size=3)
    for i in range(50):
        for _ in range(2):
            log.record(_decision(fingerprint=f"{i:016x}"), _view(ip=f"192.0.2.{i}"))
    log.flush()
    lines = _lines(out)
    assert ["decision"] * 4 + ["decision_aggregate"] * 4 + ["decision_overflow"] == [x["event"] for x in lines]
    overflow = lines[-1]
    assert (92, 4, ["block"]) == (overflow["suppressed"], overflow["max_keys"], overflow["actions"])
    assert ["192.0.2.4", "192.0.2.5", "192.0.2.6"] == overflow["client_ips"]
    assert [f"{i:016x}" for i in (4, 5, 6)] == overflow["fingerprints"]


def test_the_next_record_after_the_interval_flushes_it_first() -> None:
    """A decision arriving after the interval ended writes the ended interval's aggregate line before its own."""
    clock = FakeClock(START)
    log, out = _log(clock, full_lines_per_key=1, interval_seconds=10)
    for _ in range(3):
        log.record(_decision(), _view())
    clock.advance(10)
    log.record(_decision(), _view())
    assert ["decision", "decision_aggregate", "decision"] == _events(out)
    assert 2 == _lines(out)[1]["suppressed"]


def test_flush_due_waits_for_the_interval_to_end() -> None:
    """`flush_due` writes nothing while the interval runs, and the aggregate line once it has ended."""
    clock = FakeClock(START)
    log, out = _log(clock, full_lines_per_key=1, interval_seconds=10)
    log.record(_decision(), _view())
    log.record(_decision(), _view())
    clock.advance(9.9)
    log.flush_due()
    before = _events(out)
    clock.advance(0.1)
    log.flush_due()
    assert (["decision"], ["decision", "decision_aggregate"]) == (before, _events(out))


def test_a_clock_set_back_ends_the_interval() -> None:
    """When the wall clock goes back, the interval's counts are written rather than held until time catches up."""
    clock = FakeClock(START)
    log, out = _log(clock, full_lines_per_key=1, interval_seconds=10)
    log.record(_decision(), _view())
    log.record(_decision(), _view())
    clock.now -= 3600
    log.flush_due()
    assert ["decision", "decision_aggregate"] == _events(out)


async def test_the_periodic_flush_writes_an_ended_interval() -> None:
    """The flush task started beside the server writes an ended interval's aggregate line with no further decision."""
    clock = FakeClock(START)
    log, out = _log(clock, full_lines_per_key=1, interval_seconds=0.01)
    log.record(_decision(), _view())
    log.record(_decision(), _view())
    clock.advance(1)
    task = start_flushing(log)
    try:
        for _ in range(100):  # the task ticks every 10 ms here; give it up to a second
            await asyncio.sleep(0.01)
            if "decision_aggregate" in _events(out):
                break
    finally:
        task.cancel()
    assert ["decision", "decision_aggregate"] == _events(out)


def test_nothing_is_lost() -> None:
    """Over many keys, logins, overflows and intervals, full lines plus counted ones equal the decisions recorded."""
    clock = FakeClock(START)
    log, out = _log(clock, full_lines_per_key=2, max_keys=20, interval_seconds=10)
    rng = random.Random(5)  # noqa: S311 - reproducible traffic
    recorded = 0
    for _ in range(5_000):
        decision = _decision(
            fingerprint=f"{rng.randrange(40):016x}",
            action=rng.choice([Action.BLOCK, Action.THROTTLE, Action.CHALLENGE]),
            reasons=(rng.choice(["ua:automation-tool", "ip:datacenter", "cred:stuffing"]),),
        )
        login = _login(f"user{rng.randrange(1000)}") if rng.random() < 0.3 else None
        log.record(decision, _view(ip=f"10.0.{rng.randrange(256)}.{rng.randrange(256)}"), login)
        recorded += 1
        clock.advance(rng.uniform(0, 0.02))
    log.flush()
    lines = _lines(out)
    full = sum(1 for line in lines if line["event"] == "decision")
    counted = sum(line["suppressed"] for line in lines if line["event"] != "decision")
    assert recorded == full + counted
    assert any(line["event"] == "decision_overflow" for line in lines)


def _attack(ua: str, fingerprints: int, seconds: int = 10, rps: int = 1_000) -> float:
    """Bytes per second the decision log writes while a stuffer sends `rps` refused logins a second for `seconds`,
    from a new client address each time and `fingerprints` client softwares, at the default settings."""
    clock = FakeClock(START)
    out = io.StringIO()
    log = DecisionLog(DecisionLogSettings(), out, clock=clock)
    reasons = ("cred:stuffing", "ip:datacenter", "hdr:no-accept")
    for i in range(seconds * rps):
        view = _view(ip=f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", path="/login", ua=ua, method="POST")
        decision = Decision(Action.BLOCK, True, False, "login-throttle", 92, "bot", reasons, f"{i % fingerprints:016x}")
        log.record(decision, view, _login(f"victim{i}@mail.example"))
        clock.advance(1 / rps)
    log.flush()
    return len(out.getvalue().encode()) / seconds


@pytest.mark.parametrize(
    ("ua", "fingerprints", "bound"),
    [
        (CHROME, 4, 4_000),  # measured 2026-12-05: 918 B/s
        ("A" * 50_000, 4, 4_000),  # measured: 1,441 B/s
        (CHROME, 10**9, 20_000),  # a new fingerprint every request, so every key is new: 6,033 B/s
        ("A" * 50_000, 10**9, 30_000),  # measured: 10,393 B/s
    ],
    ids=["browser-ua", "50kb-ua", "browser-ua-new-fingerprints", "50kb-ua-new-fingerprints"],
)
def test_a_1000_rps_attack_stays_within_the_log_budget(ua: str, fingerprints: int, bound: int) -> None:
    """1,000 refused logins a second for 10 s, each from a new address, write less than the stated bytes per second."""
    rate = _attack(ua, fingerprints)
    print(f"decision log under a 1,000 rps attack: {rate:,.0f} bytes/s")
    assert rate < bound, rate
