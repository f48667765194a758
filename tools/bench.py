"""`make bench`: Envoy alone vs Envoy + a pass-through processor vs Envoy + botwall, measured side by side.

Every setup answers from an Envoy direct response, so the only difference between them is the processor. For each
setup, in one run on loopback: requests/s at saturation (wrk), latency at fixed rates (wrk, Poisson-paced),
and CPU seconds per request of the processor and of Envoy (from /proc). The machine is shared and noisy: read the
ratios, not the absolute numbers. Writes the figures to build/bench.json as well.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from botwall.config import DEFAULT_CONFIG_YAML
from botwall.deploy.gateway import EnvoySettings, render_gateway
from botwall.lab.stack import (
    BotwallProcess,
    EnvoyProcess,
    RedisProcess,
    start_botwall,
    start_envoy,
    start_processor,
    start_redis,
)
from botwall.lab.testing import captured_headers, residential

ROOT = Path(__file__).resolve().parents[1]
# Firefox's own header set (captured through Envoy), so botwall's default policies allow the load: a block would skip
# the response phase and make botwall look cheaper than it is.
HEADERS = captured_headers("firefox-headless", "navigation", "http", "127.0.0.1")
TICKS = os.sysconf("SC_CLK_TCK")
# Ordinary traffic is many people, not one address: this many browsers, each behind its own address (Envoy trusts one
# X-Forwarded-For hop in every setup) and holding its own botwall cookie, share the load; at 1,000 requests/s each
# loads a page about every two seconds, as a person clicking quickly does.
CLIENTS = 2000


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@dataclass
class Setup:
    name: str
    envoy: EnvoyProcess
    processor: BotwallProcess | None
    results: dict[str, float] = field(default_factory=dict)  # each figure's median over the rounds
    rounds: list[dict[str, float]] = field(default_factory=list)  # each round's figures
    headers: list[tuple[str, str]] = field(default_factory=lambda: list(HEADERS))
    others: list[BotwallProcess] = field(default_factory=list)  # the pass-through's second process
    redis: RedisProcess | None = None  # the shared store's server: the processor's cost too
    admin_port: int = 0  # an admin listener polled every second while measured (its cost is the processor's)
    # (address, cookie) of each browser of ordinary traffic; none: every request from wrk's own address, as sent
    clients: list[tuple[str, str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.envoy.url("http") + "/bench"

    def processor_pids(self) -> list[int]:
        """The processes whose CPU is the processor's: its workers (not their idle supervisor) and any Redis."""
        if self.processor is None:
            return []
        served = [json.loads(line) for line in self.processor.log_path.read_text().splitlines() if '"serving"' in line]
        workers = [event["pid"] for event in served if "pid" in event] or [self.processor.proc.pid]
        return workers + [p.proc.pid for p in self.others] + ([self.redis.proc.pid] if self.redis else [])

    def stop(self) -> None:
        self.envoy.stop()
        for process in [self.processor, *self.others]:
            if process is not None:
                process.stop()
        if self.redis is not None:
            self.redis.stop()


def _wrk(setup: Setup, connections: int, seconds: int, *, paced: bool) -> list[str]:
    """wrk's command line for a setup: its headers exactly (hey replaces the user-agent with its own), each request
    from one of its clients picked at random (`_CLIENTS`), and with `paced`, Poisson gaps between requests."""
    script = Path(tempfile.gettempdir()) / f"botwall-bench-{os.getpid()}-{'paced' if paced else 'flat'}.lua"
    lines = [_PACING if paced else ""]
    if setup.clients:
        rows = ",".join(f'{{"{ip}","{cookie}"}}' for ip, cookie in setup.clients)
        host = setup.url.split("/")[2]
        head = "".join(f"{name}: {value}\\r\\n" for name, value in [("host", host), *setup.headers])
        head = head.replace('"', '\\"')
        lines.append(f'local clients = {{{rows}}}\nlocal head = "GET /bench HTTP/1.1\\r\\n{head}"\n{_CLIENTS}')
    script.write_text("\n".join(lines))
    args = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--latency", "-s", str(script)]
    for name, value in setup.headers:
        args += ["-H", f"{name}: {value}"]
    return [*args, setup.url]


def saturation(setup: Setup, seconds: int, connections: int) -> float:
    """Requests/s with wrk at `connections` concurrent connections."""
    out = subprocess.run(_wrk(setup, connections, seconds, paced=False), capture_output=True, text=True, check=True)
    out = out.stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match or "Non-2xx" in out:
        raise RuntimeError(f"wrk against {setup.name} failed:\n{out}")
    return float(match.group(1))


# Each connection waits an exponentially distributed time (mean `BENCH_GAP_MS`) before each request: the connections
# together are a Poisson stream of arrivals, as independent clients make, at the rate asked (a little under it, since
# a connection's gap starts when its previous answer came back).
_PACING = """
local gap = tonumber(os.getenv("BENCH_GAP_MS"))
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
function delay() return -math.log(1 - math.random()) * gap end
"""
# With clients: each request as one of them, from its address (the X-Forwarded-For hop Envoy trusts) with its cookie,
# its headers in the browser's order (wrk's own header table has none).
_CLIENTS = """
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
function request()
  local c = clients[math.random(#clients)]
  return head .. "x-forwarded-for: " .. c[1] .. "\\r\\ncookie: " .. c[2] .. "\\r\\n\\r\\n"
end
"""


def _poll_admin(port: int, stop: threading.Event) -> None:
    """What a dashboard and Prometheus do: every second, the metrics, the endpoints and the campaigns."""
    while not stop.wait(1.0):
        for path in ("/metrics", "/api/v1/endpoints", "/api/v1/campaigns", "/api/v1/accounts"):
            with contextlib.suppress(OSError), urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2):
                pass


def _millis(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _ext_proc_messages(setup: Setup) -> tuple[int, int]:
    """Envoy's count of ext_proc streams started and of the processor's answers received so far."""
    url = f"{setup.envoy.admin_url}/stats?filter=ext_proc.botwall.stream&format=json"
    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - loopback
        stats = {s["name"].rsplit(".", 1)[1]: int(s.get("value", 0)) for s in json.load(resp)["stats"]}
    return stats.get("streams_started", 0), stats.get("stream_msgs_received", 0)


def fixed_rate(setup: Setup, rate: int, seconds: int, connections: int = 10) -> dict[str, float]:
    """Latency (ms) at `rate` requests/s, CPU microseconds per request, and the processor's log bytes per second.

    wrk, with the setup's headers exactly (hey replaces the user-agent with its own), each of `connections`
    connections pacing its requests with Poisson gaps (`_PACING`), so arrivals are spread as real independent
    clients would make them, not in bursts that queue in a single-threaded processor.
    """
    args = _wrk(setup, connections, seconds, paced=True)
    env = dict(os.environ, BENCH_GAP_MS=str(1000.0 * connections / rate))
    pids = {"envoy": [setup.envoy.proc.pid], "processor": setup.processor_pids()}
    before = {k: sum(map(cpu_seconds, p)) for k, p in pids.items()}
    log_before = setup.processor.log_path.stat().st_size if setup.processor is not None else 0
    streams_before = _ext_proc_messages(setup) if setup.processor is not None else (0, 0)
    start = time.monotonic()
    stop_polling = threading.Event()
    poller = threading.Thread(target=_poll_admin, args=(setup.admin_port, stop_polling), daemon=True)
    if setup.admin_port:
        poller.start()
    out = subprocess.run(args, capture_output=True, text=True, check=True, env=env).stdout
    stop_polling.set()
    elapsed = time.monotonic() - start
    after = {k: sum(map(cpu_seconds, p)) for k, p in pids.items()}
    log_after = setup.processor.log_path.stat().st_size if setup.processor is not None else 0
    total = re.search(r"(\d+) requests in", out)
    if total is None or "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk at {rate} req/s against {setup.name} failed:\n{out}")
    requests = int(total.group(1))
    percentiles = {p: _millis(v, u) for p, v, u in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    mean = re.search(r"Latency\s+([\d.]+)(us|ms|s)", out)
    assert mean is not None, out
    result = {
        "requests": float(requests),
        "achieved_rps": requests / seconds,
        "p50_ms": percentiles["50"],
        "p99_ms": percentiles["99"],
        "mean_ms": _millis(*mean.groups()),
        "log_bytes_per_s": (log_after - log_before) / elapsed,  # decision and service logs
    }
    if setup.processor is not None:
        streams, messages = (a - b for a, b in zip(_ext_proc_messages(setup), streams_before, strict=True))
        result["answers_per_request"] = messages / max(streams, 1)  # 1: the stream ended after the request's
    for key, group in pids.items():
        if group:
            result[f"{key}_cpu_us"] = (after[key] - before[key]) / requests * 1e6
    return result


def bench_config(workdir: Path, name: str, *, attack: bool = False, state: str = "") -> Path:
    """The embedded defaults, for one scenario.

    Ordinary traffic: every policy as shipped, and people (`CLIENTS`) who each hold a valid botwall cookie and are
    allowed: every pillar, the model, the tagging and the policies run on every request, and nothing is logged but
    the 1 % sample of allows. Under attack: every policy in shadow mode, and one address without a cookie: every
    request is scored, shadow-challenged and logged (aggregated per key and second).
    """
    data = yaml.safe_load(DEFAULT_CONFIG_YAML)
    if attack:
        data["shadow"] = True
    if state:
        data["state"] = {"backend": "redis", "redis": {"url": state}}
    path = workdir / f"bench-{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _gateway(workdir: Path, processor: BotwallProcess | None) -> EnvoyProcess:
    botwall = None if processor is None else ("127.0.0.1", processor.port)
    ports = processor.ports if processor is not None else ()
    settings = EnvoySettings(botwall=botwall, botwall_ports=ports, trusted_hops=1)
    return start_envoy(render_gateway(settings), workdir)


# First octets of address blocks that ISPs hand to homes (RIPE, ARIN, APNIC): the clients spread over many networks.
_BLOCKS = (24, 31, 37, 46, 62, 73, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 98, 109)


def client_addresses(count: int) -> list[str]:
    """`count` distinct addresses spread over many networks, the same in every setup and run; none that botwall's IP
    data places in a hosting, cloud or anonymizing network (people browse from homes and phones)."""
    blocks = _BLOCKS
    candidates = (f"{blocks[i % len(blocks)]}.{i * 7 % 256}.{i * 13 % 256}.{i % 250 + 1}" for i in itertools.count())
    return residential(candidates, count)


def _cookie_for(setup: Setup, address: str) -> str:
    """The cookie a browser's first page view gets: from the page, or from the challenge a wave of 2,000 first visits
    on one browser build meets (a browser passes it by reloading with the cookie)."""
    headers = dict(HEADERS) | {"x-forwarded-for": address}
    request = urllib.request.Request(setup.url, headers=headers)  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            answer = response.getheaders()
    except urllib.error.HTTPError as refused:
        answer = list(refused.headers.items())
    cookies = [v.split(";", 1)[0] for k, v in answer if k.lower() == "set-cookie"]
    token = next((c for c in cookies if c.startswith("__bw=")), None)
    if token is None:
        raise RuntimeError(f"{setup.name}: botwall handed {address} no cookie")
    return token


def _with_clients(setup: Setup, botwall: bool = True) -> Setup:
    """Ordinary traffic: `CLIENTS` browsers, each with the cookie its first page view handed out. Without botwall, a
    cookie of the same shape, so every setup's Envoy parses the same requests."""
    addresses = client_addresses(CLIENTS)
    if not botwall:
        setup.clients = [(a, f"__bw=1.{i:032x}.{i:043x}") for i, a in enumerate(addresses)]
        return setup
    with ThreadPoolExecutor(8) as pool:
        setup.clients = list(zip(addresses, pool.map(lambda a: _cookie_for(setup, a), addresses), strict=True))
    return setup


def _passthrough(workdir: Path, name: str, count: int, *flags: str) -> Setup:
    """`count` pass-through processes (as `--workers` runs botwall's: a port each, Envoy's cluster over them)."""
    argv = [sys.executable, "-m", "botwall.lab.passthrough", "--listen", "127.0.0.1:0", *flags]
    first, *others = [start_processor(workdir / f"passthrough-{i}", argv, "passthrough") for i in range(count)]
    if others:
        first.ports = (first.port, *(p.port for p in others))
    return _with_clients(Setup(name, _gateway(workdir, first), first, others=others), botwall=False)


def start_setups(workdir: Path, setups: list[Setup]) -> None:
    """Every setup of the comparison into `setups`, each with its own Envoy (`--concurrency 1`) answering directly."""
    setups.append(_with_clients(Setup("envoy alone", _gateway(workdir / "alone", None), None), botwall=False))
    setups += [
        _passthrough(workdir / "pt1", "pass-through", 1),
        _passthrough(workdir / "pt-req", "pass-through, request only", 1, "--request-only"),
        _passthrough(workdir / "pt2", "pass-through x2", 2),
    ]

    def botwall(name: str, config: Path, workers: int = 1) -> Setup:
        processor = start_botwall(workdir / name, config, workers=workers, timeout=120)
        return Setup(name, _gateway(workdir / name, processor), processor)

    def polled(name: str, config: Path) -> Setup:
        argv = [sys.executable, "-m", "botwall", "serve", "--listen", "127.0.0.1:0", "--drain-delay", "0"]
        argv += ["--config", str(config), "--admin-listen", "127.0.0.1:0"]
        processor = start_processor(workdir / name, argv, "botwall", 120)
        admin = json.loads((workdir / name / "botwall-ready.json").read_text())["admin_port"]
        return Setup(name, _gateway(workdir / name, processor), processor, admin_port=admin)

    setups.append(_with_clients(botwall("botwall", bench_config(workdir, "ordinary"))))
    setups.append(botwall("botwall under attack", bench_config(workdir, "attack", attack=True)))
    redis = start_redis(workdir / "redis")
    shared = _with_clients(botwall("botwall, redis state", bench_config(workdir, "redis", state=redis.url)))
    shared.redis = redis
    setups.append(shared)
    setups.append(_with_clients(botwall("botwall x2", bench_config(workdir, "ordinary-x2"), workers=2)))
    setups.append(_with_clients(polled("botwall, admin polled", bench_config(workdir, "polled"))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=6, help="length of each measurement (default 6)")
    parser.add_argument("--rounds", type=int, default=3, help="times every measurement is repeated (default 3)")
    parser.add_argument("--rates", default="1000", help="fixed rates in requests/s (default 1000)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections at saturation (default 32)")
    args = parser.parse_args()
    for tool in ("wrk",):
        if shutil.which(tool) is None:
            print(f"bench: {tool} is missing: run `make bench-tools`", file=sys.stderr)
            return 2
    rates = [int(r) for r in args.rates.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="botwall-bench-"))
    setups: list[Setup] = []
    try:
        start_setups(workdir, setups)
        for setup in setups:  # warm up every path (connections, caches, the processor's first streams)
            fixed_rate(setup, 200, 2)
        # Interleave the setups within each measurement, so drifting machine load hits them alike, and repeat the
        # whole sequence: a ratio is worked out within each round (side by side), and the median round reported.
        for _ in range(args.rounds):
            for setup in setups:
                setup.rounds.append({"saturation_rps": saturation(setup, args.seconds, args.connections)})
            for rate in rates:
                for setup in setups:
                    for key, value in fixed_rate(setup, rate, args.seconds).items():
                        setup.rounds[-1][f"{rate}:{key}"] = value
        for setup in setups:
            setup.results = {key: statistics.median(r[key] for r in setup.rounds) for key in setup.rounds[0]}
    finally:
        for setup in setups:
            setup.stop()
    report(setups, rates, args)
    return 0


def report(setups: list[Setup], rates: list[int], args: argparse.Namespace) -> None:
    by = {s.name: s.results for s in setups}
    top = max(rates)
    print(
        f"\nbotwall benchmark: {os.cpu_count()} CPUs, Envoy --concurrency 1, {args.seconds}s per measurement, "
        f"{args.rounds} rounds (each figure the median)"
    )
    print(f"{'setup':<24}{'sat. req/s':>11}", end="")
    for rate in rates:
        print(f"{f'p50@{rate}':>11}{f'p99@{rate}':>11}", end="")
    print(f"{'proc CPU/req':>14}{'Envoy CPU/req':>15}{'log B/s':>10}")
    for s in setups:
        r = s.results
        print(f"{s.name:<24}{r['saturation_rps']:>11.0f}", end="")
        for rate in rates:
            print(f"{r[f'{rate}:p50_ms']:>9.2f}ms{r[f'{rate}:p99_ms']:>9.2f}ms", end="")
        proc = r.get(f"{top}:processor_cpu_us")
        print(f"{(f'{proc:.0f} us' if proc is not None else '-'):>14}{r[f'{top}:envoy_cpu_us']:>12.0f} us", end="")
        print(f"{r[f'{top}:log_bytes_per_s']:>10.0f}" if s.processor is not None else f"{'-':>10}")

    named = {s.name: s for s in setups}

    def in_round(i: int, name: str, base: str, figure: str) -> float:
        """The ratio within round `i`: both setups measured side by side, minutes apart at most."""
        a, b, alone = named[name].rounds[i], named[base].rounds[i], named["envoy alone"].rounds[i]
        if figure == "cpu":
            return a[f"{top}:processor_cpu_us"] / b[f"{top}:processor_cpu_us"]
        if figure == "cpu+envoy":  # issue 13's measure: "CPU per request (Envoy + processor)"
            cpu = [r[f"{top}:processor_cpu_us"] + r[f"{top}:envoy_cpu_us"] for r in (a, b)]
            return cpu[0] / cpu[1]
        if figure == "saturation":
            return a["saturation_rps"] / b["saturation_rps"]
        key = f"{top}:{figure}_ms"
        return max(a[key] - alone[key], 1e-3) / max(b[key] - alone[key], 1e-3)

    def ratio(name: str, base: str, figure: str) -> tuple[float, float, float]:
        """The median round's ratio, and the lowest and highest."""
        values = [in_round(i, name, base, figure) for i in range(args.rounds)]
        return statistics.median(values), min(values), max(values)

    # (what, setup, baseline, figure, target, whether the figure must stay at or under the target)
    checks = [
        ("ordinary traffic: added p50", "botwall", "pass-through", "p50", 1.5, True),
        ("ordinary traffic: added p99", "botwall", "pass-through", "p99", 2.0, True),
        ("ordinary traffic: CPU per request, Envoy + proc", "botwall", "pass-through", "cpu+envoy", 1.3, True),
        ("ordinary traffic: processor CPU per request", "botwall", "pass-through", "cpu", 1.3, True),
        ("ordinary: added p50 vs one-phase pass-through", "botwall", "pass-through, request only", "p50", 1.5, True),
        ("ordinary: CPU vs one-phase pass-through", "botwall", "pass-through, request only", "cpu", 1.3, True),
        ("under attack: added p50", "botwall under attack", "pass-through", "p50", 2.0, True),
        ("under attack: CPU per request, Envoy + proc", "botwall under attack", "pass-through", "cpu+envoy", 1.5, True),
        ("under attack: processor CPU per request", "botwall under attack", "pass-through", "cpu", 1.5, True),
        ("saturation", "botwall", "pass-through", "saturation", 0.6, False),
        ("2 workers' saturation / 1's", "botwall x2", "botwall", "saturation", 1.25, False),
        ("pass-through: 2 processes / 1", "pass-through x2", "pass-through", "saturation", 1.25, False),
        ("redis state: added p50 / memory's", "botwall, redis state", "botwall", "p50", 1.2, True),
        ("admin API polled each second: added p99 / unpolled", "botwall, admin polled", "botwall", "p99", 1.2, True),
        ("redis state: CPU per request / memory's", "botwall, redis state", "botwall", "cpu", 1.2, True),
    ]
    ratios: dict[str, float] = {}
    print(
        f"\nRatios at {top} req/s and at saturation (latency added over Envoy alone), the median of "
        f"{args.rounds} rounds (lowest-highest), against issue 13's targets:"
    )
    for what, name, base, figure, target, at_most in checks:
        value, low, high = ratio(name, base, figure)
        ratios[what] = value
        met = value <= target if at_most else value >= target
        bound = f"{'<=' if at_most else '>='} {target:.2f}x"
        spread = f"({low:.2f}-{high:.2f})"
        print(f"  {what:<52}{value:>6.2f}x {spread:<12} target {bound:<9} {'met' if met else 'MISSED'}")
    attack_log = by["botwall under attack"][f"{top}:log_bytes_per_s"]
    print(f"  log volume under a {top} req/s attack: {attack_log / 1024:.1f} KiB/s (decision lines aggregated per key)")
    out = ROOT / "build" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(by | {"ratios": ratios, "rounds": {s.name: s.rounds for s in setups}}, indent=2))
    print(f"\n(figures in {out.relative_to(ROOT)})")


if __name__ == "__main__":
    raise SystemExit(main())
