"""What an IP lookup costs: load time, resident memory added, and per-lookup microseconds, cold and cached.

    .venv/bin/python tools/bench_infra.py [--count 100000] [--seed 1]

Draws `count` random addresses (80 % IPv4 over the whole space, 20 % IPv6 in 2000::/3), looks each up once with an
empty cache (cold: every table is searched) and then again (cached: the LRU answers), timing every call with
`perf_counter_ns` less the timer's own cost. Memory is VmRSS from /proc/self/status before and after loading, and
after the cold pass (which fills the cache). Also times `crawler_claim` and `verify_crawler` on typical user-agents.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from botwall.evidence.infra import InfraSettings, load_ip_intel


def rss_kib() -> int:
    """Resident set size of this process, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def random_ips(count: int, seed: int) -> list[str]:
    rnd = random.Random(seed)  # noqa: S311 - reproducible test addresses, not secrets
    out = []
    for _ in range(count):
        if rnd.random() < 0.8:
            out.append(".".join(str(rnd.randrange(256)) for _ in range(4)))
        else:
            value = (0x2000 << 112) | rnd.getrandbits(125)
            out.append(":".join(f"{(value >> s) & 0xFFFF:x}" for s in range(112, -1, -16)))
    return out


def timer_overhead() -> int:
    samples = []
    for _ in range(10_000):
        t0 = time.perf_counter_ns()
        samples.append(time.perf_counter_ns() - t0)
    return int(statistics.median(samples))


def timed(call: Callable[[str], object], args: list[str], overhead: int) -> list[float]:
    """Microseconds per call."""
    out = []
    clock = time.perf_counter_ns
    for a in args:
        t0 = clock()
        call(a)
        out.append(max(0, clock() - t0 - overhead) / 1000)
    return out


def summary(name: str, micros: list[float]) -> str:
    ordered = sorted(micros)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{name:<34} median {statistics.median(ordered):6.2f} us   p99 {p99:6.2f} us   ({len(ordered):,} calls)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    ips = random_ips(args.count, args.seed)

    before = rss_kib()
    started = time.perf_counter()
    intel = load_ip_intel(InfraSettings(cache_size=args.count))  # big enough that the second pass is all hits
    loaded = time.perf_counter() - started
    intel.lookup("192.0.2.1")  # touch iptocc's tables too
    after_load = rss_kib()

    overhead = timer_overhead()
    cold = timed(intel.lookup, ips, overhead)
    after_cold = rss_kib()
    cached = timed(intel.lookup, ips, overhead)

    browser = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    agents = [f"{browser} build/{i}" for i in range(10_000)]  # distinct, so the claim cache never answers
    claim_cold = timed(intel.crawler_claim, agents, overhead)
    verify = timed(lambda ip: intel.verify_crawler(googlebot, ip), ips[:10_000], overhead)

    known = sum(1 for ip in ips if intel.lookup(ip).asn)
    print(f"data: {', '.join(f'{k}: {v}' for k, v in intel.sources.items())}")
    print(f"load: {loaded * 1000:.0f} ms; RSS +{(after_load - before) / 1024:.1f} MiB after loading (VmRSS)")
    print(
        f"lookup cache: RSS +{(after_cold - after_load) / 1024:.1f} MiB for {args.count:,} cached answers "
        f"({(after_cold - after_load) * 1024 / args.count:.0f} bytes each); {known:,} of them have an ASN"
    )
    print(f"timer overhead subtracted: {overhead} ns")
    print(summary("lookup, cold (cache miss)", cold))
    print(summary("lookup, cached", cached))
    print(summary("crawler_claim, browser UA, cold", claim_cold))
    print(summary("verify_crawler, Googlebot UA", verify))
    return 0


if __name__ == "__main__":
    sys.exit(main())
