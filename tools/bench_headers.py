"""Median cost of one HeaderAnalyzer.analyze and one TlsAnalyzer.analyze call, over every captured profile (browsers
as themselves, libraries under a spoofed Chrome user-agent), with the shape cache warm (real traffic repeats a few
header shapes) and with it off (every request a new shape: the worst case).

Usage: .venv/bin/python tools/bench_headers.py [--calls 200] [--rounds 25]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from functools import partial
from importlib import resources
from typing import Any

from botwall.evidence.headers import HeaderAnalyzer, brand_majors, browser_like_encoding, sec_fetch_consistent
from botwall.evidence.tls import TlsAnalyzer
from botwall.evidence.useragent import UserAgentAnalyzer, UserAgentInfo
from botwall.request import JA4_ATTRIBUTE, RequestView, build_view


def _views(uas: UserAgentAnalyzer) -> list[tuple[RequestView, UserAgentInfo]]:
    profiles: list[dict[str, Any]] = json.loads(
        resources.files("botwall").joinpath("data", "header_profiles.json").read_text(encoding="utf-8")
    )["profiles"]
    chrome = next(p["values"]["user-agent"] for p in profiles if p["client"] == "chromium-headful")
    out = []
    for profile in profiles:
        pairs = [(":method", "GET"), (":scheme", profile["transport"]), (":authority", profile["host"])]
        pairs.append((":path", "/_echo/" + profile["kind"]))
        for name in profile["headers"]:
            value = profile["values"].get(name, "1")
            if name == "user-agent" and profile["category"] == "tool":
                value = chrome
            pairs.append((name, value))
        pairs += [("x-forwarded-proto", profile["transport"]), ("x-request-id", "5b0e8c1e-0000-4000-8000-000000000000")]
        view = build_view(pairs, {JA4_ATTRIBUTE: profile["ja4"]})
        out.append((view, uas.analyze(view.header("user-agent"))))
    return out


def _median_us(call: Callable[[], object], calls: int, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(calls):
            call()
        samples.append((time.perf_counter_ns() - start) / calls / 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per timed batch")
    parser.add_argument("--rounds", type=int, default=25, help="timed batches per request")
    args = parser.parse_args()
    uas = UserAgentAnalyzer()
    views = _views(uas)
    warm, cold, tls_analyzer = HeaderAnalyzer(), HeaderAnalyzer(cache_size=0), TlsAnalyzer()

    def uncached(view: RequestView, ua: UserAgentInfo) -> object:
        # The value checks are cached per distinct value too: clear them for the worst case.
        brand_majors.cache_clear()
        browser_like_encoding.cache_clear()
        sec_fetch_consistent.cache_clear()
        return cold.analyze(view, ua)

    https = [(v, u) for v, u in views if v.ja4]
    rows = {
        "headers, shape cache warm": [
            _median_us(partial(warm.analyze, v, u), args.calls, args.rounds) for v, u in views
        ],
        "headers, no cache": [_median_us(partial(uncached, v, u), args.calls, args.rounds) for v, u in views],
        "tls (https requests)": [
            _median_us(partial(tls_analyzer.analyze, v.ja4, u), args.calls, args.rounds) for v, u in https
        ],
    }
    print(f"{len(views)} captured requests, median of {args.rounds} batches of {args.calls} calls each")
    for name, values in rows.items():
        print(f"  {name:28} median {statistics.median(values):6.2f} us   max {max(values):6.2f} us")


if __name__ == "__main__":
    main()
