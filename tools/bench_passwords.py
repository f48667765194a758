"""Cost of the password checks: load time, resident memory added, and check() latency over 100,000 passwords.

    .venv/bin/python tools/bench_passwords.py [--hibp FILE_OR_DIR] [--filter PATH] [--count N]

Resident memory is VmRSS from /proc/self/status before and after loading (Linux), split into anonymous memory (the
filter) and file-backed pages (a sorted HIBP file's mmap: the kernel may map a whole large folio per page touched).
The passwords are generated with a fixed seed: a quarter are 4-8 digit numbers (mostly in the common-password filter,
so the lookup tests every bit), the rest random 8-20 character strings (mostly not, so the lookup usually stops at the
first clear bit). Each check() is timed on its own; the machine is shared and noisy, so compare runs, not absolute
figures.
"""

from __future__ import annotations

import argparse
import random
import statistics
import string
import time
from pathlib import Path

from botwall.evidence.passwords import load_password_checker

ALPHABET = string.ascii_letters + string.digits + string.punctuation


def memory_kib() -> dict[str, int]:
    """VmRSS and its anonymous and file-backed parts (RssAnon, RssFile) in KiB; empty where /proc is missing."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return {}
    fields = (line.split() for line in status.splitlines())
    return {f[0].rstrip(":"): int(f[1]) for f in fields if f and f[0] in {"VmRSS:", "RssAnon:", "RssFile:"}}


def passwords(count: int) -> list[str]:
    """`count` passwords, a quarter numeric, from a fixed seed."""
    rng = random.Random(42)  # noqa: S311 -- a reproducible workload, not a secret
    out = []
    for i in range(count):
        if i % 4 == 0:
            out.append("".join(rng.choices(string.digits, k=rng.randint(4, 8))))
        else:
            out.append("".join(rng.choices(ALPHABET, k=rng.randint(8, 20))))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--hibp", help="a sorted Pwned Passwords file or a directory of range files")
    parser.add_argument("--filter", type=Path, help="a filter other than the shipped one")
    parser.add_argument("--count", type=int, default=100_000)
    args = parser.parse_args()

    workload = passwords(args.count)
    before = memory_kib()
    started = time.perf_counter()
    checker = load_password_checker(args.hibp, args.filter)
    load_ms = (time.perf_counter() - started) * 1000
    after = memory_kib()
    added = {name: (after[name] - before.get(name, 0)) / 1024 for name in after}

    timings = []
    common = breached = 0
    for password in workload:
        start = time.perf_counter_ns()
        verdict = checker.check(password)
        timings.append(time.perf_counter_ns() - start)
        common += verdict.common
        breached += verdict.breached
    timings.sort()
    info = checker.info
    print(f"filter: {info.path} ({info.keys:,} keys, {info.bits // 8:,} bytes, fp {info.false_positive_rate:g})")
    print(f"hibp: {args.hibp or 'none'}")
    print(
        f"load: {load_ms:.1f} ms, resident memory added: {added.get('VmRSS', 0):.1f} MiB "
        f"(anonymous {added.get('RssAnon', 0):.1f}, file-backed {added.get('RssFile', 0):.1f}: pages of the mmapped "
        "HIBP file that the kernel shares with its page cache and can drop)"
    )
    print(
        f"check() over {len(timings):,} passwords: median {statistics.median(timings) / 1000:.2f} us, "
        f"p99 {timings[int(len(timings) * 0.99)] / 1000:.2f} us, max {timings[-1] / 1000:.1f} us"
    )
    print(f"common: {common:,}, breached: {breached:,}")
    checker.close()


if __name__ == "__main__":
    main()
