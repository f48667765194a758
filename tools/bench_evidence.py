"""Per-request cost of botwall's evidence extraction, and resident memory under a flood of distinct client IPs.

Run by `make bench` (or alone: `.venv/bin/python tools/bench_evidence.py`). In-process, no network: this is the CPU
botwall spends on evidence per request, on top of the gRPC stack that `tools/bench.py` measures end to end.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from pathlib import Path

from botwall.config import StateSettings, load_config
from botwall.engine import Engine
from botwall.lab import testing
from botwall.lab.testing import captured_headers
from botwall.request import SOURCE_ADDRESS, RequestView, build_view
from botwall.state.store import MemoryStore

CLIENTS = [
    captured_headers("firefox-headless", "navigation", "https"),
    captured_headers("chromium-headful", "xhr", "https"),
    captured_headers("python-requests", "plain", "https"),
    captured_headers("curl", "plain", "https"),
]
PATHS = ["/", "/products/3", "/api/products", "/static/app.css", "/account"]


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _view(rng: random.Random, ip: str) -> RequestView:
    pseudo = [(":method", "GET"), (":path", rng.choice(PATHS)), (":authority", "shop.example"), (":scheme", "https")]
    return build_view([*pseudo, *rng.choice(CLIENTS)], {SOURCE_ADDRESS: f"{ip}:40000"})


def evidence_cost(requests: int) -> tuple[float, float]:
    """Median and p99 microseconds of Engine.evidence over mixed traffic from 5,000 clients."""
    engine = Engine(load_config(None), testing.resources())
    rng = random.Random(1)  # noqa: S311 - reproducible traffic, not security
    views = [_view(rng, f"10.{i % 20}.{(i // 20) % 250}.{i % 250}") for i in range(requests)]
    for view in views[:2000]:
        engine.observe(view)
    samples = []
    for view in views:
        start = time.perf_counter_ns()
        engine.observe(view)
        samples.append(time.perf_counter_ns() - start)
    samples.sort()
    return samples[len(samples) // 2] / 1000, samples[int(len(samples) * 0.99)] / 1000


def flood(distinct_ips: int, max_entries: int) -> list[tuple[int, float]]:
    """RSS (MiB) as one request from each of `distinct_ips` new IPs goes through the engine."""
    config = load_config(None)
    engine = Engine(
        config, testing.resources(), store=MemoryStore(StateSettings(max_entries=max_entries, ttl_seconds=900))
    )
    rng = random.Random(2)  # noqa: S311 - reproducible traffic, not security
    gc.collect()
    points = [(0, rss_mib())]
    step = distinct_ips // 4
    for i in range(distinct_ips):
        engine.observe(_view(rng, f"{1 + (i >> 24) % 223}.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"))
        if (i + 1) % step == 0:
            gc.collect()
            points.append((i + 1, rss_mib()))
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--flood", type=int, default=1_000_000, help="distinct IPs in the memory test")
    parser.add_argument("--max-entries", type=int, default=100_000, help="state.max_entries for the memory test")
    args = parser.parse_args()
    median, p99 = evidence_cost(args.requests)
    print(
        f"evidence extraction per request: median {median:.1f} us, p99 {p99:.1f} us "
        f"({args.requests} mixed requests; target: median under 100 us)"
    )
    points = flood(args.flood, args.max_entries)
    print(f"resident memory, {args.flood:,} distinct client IPs with state.max_entries={args.max_entries:,}:")
    for count, rss in points:
        print(f"  after {count:>9,} IPs: {rss:7.1f} MiB")


if __name__ == "__main__":
    main()
