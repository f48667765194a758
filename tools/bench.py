"""`make bench`: Envoy alone vs Envoy + a pass-through processor vs Envoy + botwall, measured side by side.

Every setup answers from an Envoy direct response, so the only difference between them is the processor. For each
setup, in one run on loopback: requests/s at saturation (wrk), latency at fixed rates (hey, open rate per worker),
and CPU seconds per request of the processor and of Envoy (from /proc). The machine is shared and noisy: read the
ratios, not the absolute numbers. Writes the figures to build/bench.json as well.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from botwall.config import DEFAULT_CONFIG_YAML
from botwall.deploy.gateway import EnvoySettings, render_gateway
from botwall.lab.stack import BotwallProcess, EnvoyProcess, start_botwall, start_envoy, start_processor
from botwall.lab.testing import captured_headers

ROOT = Path(__file__).resolve().parents[1]
# Firefox's own header set (captured through Envoy), so botwall's default policies allow the load: a block would skip
# the response phase and make botwall look cheaper than it is.
HEADERS = captured_headers("firefox-headless", "navigation", "http", "127.0.0.1")
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@dataclass
class Setup:
    name: str
    envoy: EnvoyProcess
    processor: BotwallProcess | None
    results: dict[str, float] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.envoy.url("http") + "/bench"


def saturation(setup: Setup, seconds: int, connections: int) -> float:
    """Requests/s with wrk at `connections` concurrent connections."""
    args = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s"]
    for name, value in HEADERS:
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, setup.url], capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match or "Non-2xx" in out:
        raise RuntimeError(f"wrk against {setup.name} failed:\n{out}")
    return float(match.group(1))


def fixed_rate(setup: Setup, rate: int, seconds: int, workers: int = 10) -> dict[str, float]:
    """Latency percentiles (ms) at `rate` requests/s, and CPU microseconds per request.

    hey paces each worker with its own ticker, so workers started together fire in bursts that queue in a
    single-threaded processor. Here each worker is its own hey process, started 1/rate apart, which spreads
    arrivals evenly over time as real independent clients would.
    """
    args = ["hey", "-z", f"{seconds}s", "-c", "1", "-q", str(rate / workers), "-o", "csv"]
    for name, value in HEADERS:
        args += ["-H", f"{name}: {value}"]
    pids = {"envoy": setup.envoy.proc.pid}
    if setup.processor is not None:
        pids["processor"] = setup.processor.proc.pid
    before = {k: cpu_seconds(p) for k, p in pids.items()}
    procs = []
    start = time.monotonic()
    for i in range(workers):
        time.sleep(max(0.0, start + i / rate - time.monotonic()))
        procs.append(subprocess.Popen([*args, setup.url], stdout=subprocess.PIPE, text=True))
    outputs = [proc.communicate()[0] for proc in procs]
    after = {k: cpu_seconds(p) for k, p in pids.items()}
    rows = [line.split(",") for out in outputs for line in out.splitlines()[1:] if line and line[0].isdigit()]
    ok = [float(r[0]) * 1000 for r in rows if r[6] == "200"]
    if len(ok) < 0.99 * len(rows) or not ok:
        raise RuntimeError(f"hey against {setup.name}: {len(rows) - len(ok)} of {len(rows)} requests failed")
    ok.sort()
    result = {
        "requests": float(len(ok)),
        "achieved_rps": len(rows) / seconds,
        "p50_ms": statistics.median(ok),
        "p99_ms": ok[int(len(ok) * 0.99) - 1],
        "mean_ms": statistics.fmean(ok),
    }
    for key in pids:
        result[f"{key}_cpu_us"] = (after[key] - before[key]) / len(rows) * 1e6
    return result


def bench_config(workdir: Path, scorer: str = "model") -> Path:
    """The embedded defaults without the score-based challenge and block: a load generator hammering from one IP *is*
    a bot, and refused requests skip the response phase, so with them botwall would measure cheap 403s. Every pillar,
    the scorer (the shipped model, or the rule weighting), the tagging, the other policies and botwall's cookie (the
    load keeps none, so every response hands one out) still run on every request."""
    data = yaml.safe_load(DEFAULT_CONFIG_YAML)
    data["policies"] = [p for p in data["policies"] if p["name"] not in ("challenge-bots", "block-bots")]
    data["model"] = {"scorer": scorer}
    path = workdir / f"bench-botwall-{scorer}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def start_setups(workdir: Path) -> list[Setup]:
    setups = [Setup("envoy alone", start_envoy(render_gateway(EnvoySettings(botwall=None)), workdir / "alone"), None)]
    passthrough = start_processor(
        workdir / "passthrough",
        [sys.executable, "-m", "botwall.lab.passthrough", "--listen", "127.0.0.1:0"],
        "passthrough",
    )
    setups.append(
        Setup(
            "pass-through processor",
            start_envoy(render_gateway(EnvoySettings(botwall=("127.0.0.1", passthrough.port))), workdir / "pt"),
            passthrough,
        )
    )
    for scorer, name in (("model", "botwall (model, default)"), ("rules", "botwall (rule scorer)")):
        botwall = start_botwall(workdir / f"botwall-{scorer}", bench_config(workdir, scorer))
        setups.append(
            Setup(
                name,
                start_envoy(
                    render_gateway(EnvoySettings(botwall=("127.0.0.1", botwall.port))), workdir / f"bw-{scorer}"
                ),
                botwall,
            )
        )
    return setups


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8, help="length of each measurement (default 8)")
    parser.add_argument("--rates", default="500,1000", help="fixed rates in requests/s (default 500,1000)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections at saturation (default 32)")
    args = parser.parse_args()
    for tool in ("wrk", "hey"):
        if shutil.which(tool) is None:
            print(f"bench: {tool} is missing: run `make bench-tools`", file=sys.stderr)
            return 2
    rates = [int(r) for r in args.rates.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="botwall-bench-"))
    setups = start_setups(workdir)
    try:
        for setup in setups:  # warm up every path (connections, caches, the processor's first streams)
            fixed_rate(setup, 200, 1)
        # Interleave the setups within each measurement, so drifting machine load hits them alike.
        for setup in setups:
            setup.results["saturation_rps"] = saturation(setup, args.seconds, args.connections)
        for rate in rates:
            for setup in setups:
                for key, value in fixed_rate(setup, rate, args.seconds).items():
                    setup.results[f"{rate}:{key}"] = value
    finally:
        for setup in setups:
            setup.envoy.stop()
            if setup.processor is not None:
                setup.processor.stop()
    report(setups, rates, args)
    return 0


def report(setups: list[Setup], rates: list[int], args: argparse.Namespace) -> None:
    alone, passthrough, *botwalls = setups
    print(f"\nbotwall benchmark: {os.cpu_count()} CPUs, Envoy --concurrency 1, {args.seconds}s per measurement")
    print(f"{'setup':<28}{'sat. req/s':>11}", end="")
    for rate in rates:
        print(f"{f'p50@{rate}':>11}{f'p99@{rate}':>11}", end="")
    print(f"{'proc CPU/req':>14}{'Envoy CPU/req':>15}")
    top = max(rates)
    for s in setups:
        r = s.results
        print(f"{s.name:<28}{r['saturation_rps']:>11.0f}", end="")
        for rate in rates:
            print(f"{r[f'{rate}:p50_ms']:>9.2f}ms{r[f'{rate}:p99_ms']:>9.2f}ms", end="")
        proc = r.get(f"{top}:processor_cpu_us")
        print(f"{(f'{proc:.0f} us' if proc is not None else '-'):>14}{r[f'{top}:envoy_cpu_us']:>12.0f} us")
    base = alone.results
    figures: dict[str, float] = {}
    print(f"\nAdded by the processor at {top} req/s (over Envoy alone), mean of per-request latencies:")
    for s in (passthrough, *botwalls):
        added = s.results[f"{top}:mean_ms"] - base[f"{top}:mean_ms"]
        added_p50 = s.results[f"{top}:p50_ms"] - base[f"{top}:p50_ms"]
        figures[f"{s.name}:added_mean_ms"] = added
        figures[f"{s.name}:added_p50_ms"] = added_p50
        print(f"  {s.name:<28} +{added:.3f} ms mean, +{added_p50:.2f} ms median")
    pt = passthrough.results
    ratios: dict[str, dict[str, float]] = {}
    print("\nRatios, botwall / pass-through (targets: added median latency <= 1.5x, CPU per request <= 2x):")
    for botwall in botwalls:
        bw = botwall.results
        added_ratio = figures[f"{botwall.name}:added_p50_ms"] / max(figures[f"{passthrough.name}:added_p50_ms"], 1e-9)
        added_mean_ratio = figures[f"{botwall.name}:added_mean_ms"] / max(
            figures[f"{passthrough.name}:added_mean_ms"], 1e-9
        )
        cpu_ratio = bw[f"{top}:processor_cpu_us"] / max(pt[f"{top}:processor_cpu_us"], 1e-9)
        ratios[botwall.name] = {"added_p50": added_ratio, "added_mean": added_mean_ratio, "cpu_per_request": cpu_ratio}
        print(f"  {botwall.name}:")
        print(f"    added median latency at {top} req/s: {added_ratio:.2f}x  (mean: {added_mean_ratio:.2f}x)")
        print(f"    processor CPU per request at {top} req/s: {cpu_ratio:.2f}x")
        print(
            f"    saturation throughput: {bw['saturation_rps'] / pt['saturation_rps']:.2f}x"
            f"  (Envoy alone / pass-through: {base['saturation_rps'] / pt['saturation_rps']:.1f}x)"
        )
    out = ROOT / "build" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({s.name: s.results for s in setups} | {"ratios": ratios}, indent=2))
    print(f"\n(figures in {out.relative_to(ROOT)}; latency resolution is hey's 0.1 ms)")


if __name__ == "__main__":
    raise SystemExit(main())
