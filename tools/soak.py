"""`make soak`: resident memory of botwall and Envoy under a flood of distinct client addresses, through the real stack.

Envoy (trusting one hop of X-Forwarded-For, as behind a CDN), `botwall serve` and the demo shop run as separate
processes on loopback, on ephemeral ports. wrk sends one request from each of `--addresses` distinct client
addresses (a Lua script writes a new X-Forwarded-For on every request; the addresses are spread over the whole IPv4
space, so the IP data sees many networks), with a real browser's headers and a mix of pages, API calls and assets.
Every few seconds a row gives the addresses sent so far and the RSS of botwall, Envoy and the shop; the summary gives
botwall's RSS after each `--report-at` count and its growth over the last quarter of the run. `--processor
passthrough` runs the same flood against the pass-through processor (the gRPC stack with no state) as a control.
Not part of `make test`: a million addresses take about 17 minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from botwall.config import DEFAULT_CONFIG_YAML
from botwall.deploy.gateway import EnvoySettings, render_gateway
from botwall.lab.stack import BotwallProcess, EnvoyProcess, start_botwall, start_envoy, start_processor
from botwall.lab.testing import captured_headers

ROOT = Path(__file__).resolve().parents[1]
PATHS = ["/", "/products/3", "/api/products", "/static/app.css", "/products/7", "/api/products/2", "/static/app.js"]
EXT_PROC = "ext_proc.botwall."

# Request i goes out from address f(i), where f is a bijection of 32-bit integers (an odd multiplier, then an
# xor-shift), so the addresses are all distinct and scattered over the IPv4 space. Each wrk thread takes every
# `stride`-th index and stops once its share is sent. LuaJIT's numbers are doubles: i * 1664525 stays exact.
LUA = r"""
local bit = require("bit")
local threads = 0
function setup(thread)
  thread:set("first", threads)
  threads = threads + 1
end
function init(args)
  total, stride, salt = tonumber(args[1]), tonumber(args[2]), tonumber(args[3])
  n = first
  paths = {PATH_LIST}
  head = HEAD_TEXT
end
local function address(i)
  local x = (i * 1664525 + salt) % 4294967296
  x = bit.bxor(x, bit.rshift(x, 15))
  return string.format("%d.%d.%d.%d", bit.band(bit.rshift(x, 24), 255), bit.band(bit.rshift(x, 16), 255),
    bit.band(bit.rshift(x, 8), 255), bit.band(x, 255))
end
function request()
  local i = n % total
  n = n + stride
  return "GET " .. paths[i % #paths + 1] .. " HTTP/1.1\r\n" .. head .. "x-forwarded-for: " .. address(i) .. "\r\n\r\n"
end
function response(status, headers, body)
  if n >= total then wrk.thread:stop() end
end
"""


@dataclass
class Sample:
    """One reading: seconds since the flood started, requests Envoy has seen, and RSS (MiB) of each process."""

    seconds: float
    addresses: int
    processor_mib: float
    envoy_mib: float
    shop_mib: float


def rss_mib(pid: int) -> float:
    """Resident set size of a process, MiB (0 for none, or once it has exited)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def envoy_counters(envoy: EnvoyProcess) -> dict[str, int]:
    """Envoy's request counters and its ext_proc filter's (streams, timeouts, requests that skipped the processor)."""
    pattern = r"^http\.ingress_http\.(downstream_rq_total|downstream_rq_[2-5]xx|ext_proc\.)"
    url = f"{envoy.admin_url}/stats?format=json&filter={pattern}"
    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - Envoy's admin API on loopback
        data = json.load(resp)
    return {s["name"].removeprefix("http.ingress_http."): s["value"] for s in data.get("stats", []) if "value" in s}


def soak_config(workdir: Path, max_entries: int | None, source: Path | None) -> Path:
    """botwall's config for the run: the given file or the embedded defaults, with `state.max_entries` if given."""
    data = yaml.safe_load(source.read_text() if source is not None else DEFAULT_CONFIG_YAML)
    if max_entries is not None:
        data.setdefault("state", {})["max_entries"] = max_entries
    path = workdir / "soak-botwall.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def start_shop(workdir: Path) -> tuple[subprocess.Popen[str], int]:
    """The demo shop in its own process (its memory is not botwall's); returns it and its bound port."""
    with (workdir / "shop.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "botwall.lab.demo.shop", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r":(\d+)\s*$", line)
    if match is None:
        proc.kill()
        raise RuntimeError(f"the demo shop did not start: {line!r}")
    return proc, int(match.group(1))


def start_processor_under_test(kind: str, workdir: Path, config: Path) -> BotwallProcess:
    """`botwall serve`, or the pass-through processor (the same gRPC stack, no state: what gRPC alone costs)."""
    if kind == "passthrough":
        argv = [sys.executable, "-m", "botwall.lab.passthrough", "--listen", "127.0.0.1:0"]
        return start_processor(workdir / "passthrough", argv, "passthrough")
    return start_botwall(workdir / "botwall", config)


def lua_script(workdir: Path, client: str, host: str) -> Path:
    """The wrk script, with the browser's headers and the path mix filled in."""
    head = f"host: {host}\r\n" + "".join(f"{n}: {v}\r\n" for n, v in captured_headers(client, "navigation", "http"))
    text = LUA.replace("PATH_LIST", ", ".join(json.dumps(p) for p in PATHS)).replace("HEAD_TEXT", json.dumps(head))
    path = workdir / "soak.lua"
    path.write_text(text)
    return path


def growth(samples: list[Sample], fraction: float = 0.25) -> tuple[float, float, float]:
    """The processor's RSS growth over the last `fraction` of the run: MiB, MiB per 10 s, MiB per 100k addresses."""
    last = samples[-1]
    start = next(s for s in samples if s.seconds >= last.seconds * (1 - fraction))
    seconds = last.seconds - start.seconds
    addresses = last.addresses - start.addresses
    mib = last.processor_mib - start.processor_mib
    return mib, mib / seconds * 10 if seconds else 0.0, mib / addresses * 1e5 if addresses else 0.0


def at(samples: list[Sample], addresses: int, slack: int) -> Sample | None:
    """The first sample taken once `addresses` had been sent (but for `slack`, the requests wrk may leave unsent)."""
    return next((s for s in samples if s.addresses >= addresses - slack), None)


def row(sample: Sample, rate: str) -> str:
    return (
        f"{sample.seconds:>8.0f}{sample.addresses:>12,}{rate:>8}{sample.processor_mib:>15.1f}"
        f"{sample.envoy_mib:>11.1f}{sample.shop_mib:>10.1f}"
    )


def flood(
    args: argparse.Namespace, processor: BotwallProcess, envoy: EnvoyProcess, shop_pid: int, workdir: Path
) -> tuple[list[Sample], str]:
    """Run wrk over the addresses, sampling RSS every `--interval` seconds; returns the samples and wrk's output."""
    url = envoy.url("http")
    script = lua_script(workdir, args.client, url.removeprefix("http://"))
    argv = ["wrk", "-t", "1", "-c", str(args.connections), "-d", "10h", "--timeout", "5s", "-s", str(script), url]
    argv += ["--", str(args.addresses), "1", str(args.salt)]
    base = envoy_counters(envoy).get("downstream_rq_total", 0)

    def sample(seconds: float) -> Sample:
        sent = envoy_counters(envoy).get("downstream_rq_total", 0) - base
        return Sample(seconds, sent, rss_mib(processor.proc.pid), rss_mib(envoy.proc.pid), rss_mib(shop_pid))

    samples = [sample(0.0)]
    print(f"soak: {args.addresses:,} client addresses through {url} ({args.processor}), {args.connections} "
          f"connections, {os.cpu_count()} CPUs; workdir {workdir}")  # fmt: skip
    print(f"{'seconds':>8}{'addresses':>12}{'req/s':>8}{f'{args.processor} MiB':>15}{'Envoy MiB':>11}{'shop MiB':>10}")
    print(row(samples[0], ""), flush=True)
    log_path = workdir / "wrk.txt"
    with log_path.open("w") as log:
        wrk = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        start = progressed = time.monotonic()
        # A wrk thread stops itself once its share is sent, but wrk waits out its duration: interrupt it then. The
        # requests in flight when the thread stops are never sent, hence the slack of one per connection.
        while True:
            with contextlib.suppress(subprocess.TimeoutExpired):
                wrk.wait(args.interval)
            previous, current = samples[-1], sample(time.monotonic() - start)
            samples.append(current)
            rate = (current.addresses - previous.addresses) / max(current.seconds - previous.seconds, 1e-9)
            print(row(current, f"{rate:.0f}"), flush=True)
            if processor.proc.poll() is not None or envoy.proc.poll() is not None:
                raise RuntimeError(f"a process exited during the soak:\n{processor.logs()}\n{envoy.logs()}")
            if current.addresses >= args.addresses - args.connections:
                break
            if current.addresses > previous.addresses:
                progressed = time.monotonic()
            if wrk.poll() is not None or time.monotonic() - progressed > 60:
                raise RuntimeError(f"wrk stopped after {current.addresses:,} requests:\n{log_path.read_text()}")
        wrk.send_signal(signal.SIGINT)
        wrk.wait(30)
    finally:
        if wrk.poll() is None:
            wrk.kill()
            wrk.wait()
    return samples, log_path.read_text()


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Start the stack, flood it, stop it; returns the figures."""
    config = soak_config(workdir, args.max_entries, args.config)
    shop, shop_port = start_shop(workdir) if args.upstream == "shop" else (None, 0)
    processor = envoy = None
    try:
        processor = start_processor_under_test(args.processor, workdir, config)
        settings = EnvoySettings(
            botwall=("127.0.0.1", processor.port),
            upstream=("127.0.0.1", shop_port) if shop is not None else None,
            trusted_hops=1,
            access_log="/dev/null",
        )
        envoy = start_envoy(render_gateway(settings), workdir / "envoy")
        samples, wrk_text = flood(args, processor, envoy, shop.pid if shop is not None else 0, workdir)
        counters = envoy_counters(envoy)
    finally:
        for proc in (envoy, processor):
            if proc is not None:
                proc.stop()
        if shop is not None:
            shop.terminate()
            shop.wait(10)
    return report(args, samples, counters, wrk_text)


def report(args: argparse.Namespace, samples: list[Sample], counters: dict[str, int], wrk_text: str) -> dict[str, Any]:
    """Print the summary; return it with the samples and Envoy's counters."""
    name, first, last = args.processor, samples[0], samples[-1]
    mib, per_10s, per_100k = growth(samples)
    statuses = {k[len("downstream_rq_") :]: v for k, v in counters.items() if re.fullmatch(r"downstream_rq_\dxx", k)}
    skipped = counters.get(EXT_PROC + "failure_mode_allowed", 0)
    print(f"\nsummary: {last.addresses:,} distinct client addresses in {last.seconds:.0f} s "
          f"({last.addresses / max(last.seconds, 1e-9):.0f} req/s), responses {statuses}")  # fmt: skip
    print(f"  Envoy: {counters.get(EXT_PROC + 'streams_started', 0):,} streams to {name}, "
          f"{counters.get(EXT_PROC + 'message_timeouts', 0):,} message timeouts, {skipped:,} requests that skipped "
          f"{name} (fail-open)")  # fmt: skip
    print(f"  RSS at the start: {name} {first.processor_mib:.1f} MiB, Envoy {first.envoy_mib:.1f} MiB")
    figures: dict[str, Any] = {"processor": name, "addresses": last.addresses, "seconds": last.seconds}
    for count in args.report_at:
        sample = at(samples, count, args.connections)
        if sample is None:
            continue
        figures[f"processor_mib_at_{count}"] = sample.processor_mib
        figures[f"envoy_mib_at_{count}"] = sample.envoy_mib
        print(f"  RSS after {count:>9,} addresses: {name} {sample.processor_mib:6.1f} MiB, "
              f"Envoy {sample.envoy_mib:6.1f} MiB  (sampled at {sample.addresses:,})")  # fmt: skip
    print(f"  {name}'s growth over the last quarter of the run: {mib:+.1f} MiB, {per_10s:+.2f} MiB per 10 s, "
          f"{per_100k:+.2f} MiB per 100k addresses")  # fmt: skip
    wrk_errors = [line.strip() for line in wrk_text.splitlines() if "Socket errors" in line]
    if wrk_errors:
        print(f"  wrk: {'; '.join(wrk_errors)}")
    figures |= {"growth_mib_last_quarter": mib, "growth_mib_per_10s": per_10s, "growth_mib_per_100k": per_100k}
    return figures | {"counters": counters, "samples": [asdict(s) for s in samples]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addresses", type=int, default=1_000_000, help="distinct client addresses (default 1M)")
    parser.add_argument(
        "--report-at",
        type=lambda text: [int(x) for x in text.split(",")],
        default=[200_000, 1_000_000],
        help="address counts at which the summary gives RSS (default 200000,1000000)",
    )
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples (default 5)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--processor", choices=("botwall", "passthrough"), default="botwall", help="what to flood")
    parser.add_argument("--client", default="firefox-headless", help="captured header profile to send")
    parser.add_argument("--upstream", choices=("shop", "direct"), default="shop", help="the demo shop or Envoy's 200")
    parser.add_argument("--config", type=Path, help="botwall's config file (default: the embedded defaults)")
    parser.add_argument("--max-entries", type=int, help="override state.max_entries")
    parser.add_argument("--salt", type=int, default=0x01000000, help="shifts the sequence of addresses")
    parser.add_argument("--json", type=Path, default=ROOT / "build" / "soak.json", help="where to write the figures")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("soak: wrk is missing: run `make bench-tools`", file=sys.stderr)
        return 2
    # Stop the stack on Ctrl-C or SIGTERM, even when started in the background (where SIGINT arrives ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    workdir = Path(tempfile.mkdtemp(prefix="botwall-soak-"))
    figures = run(args, workdir)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2))
    print(f"(figures and samples in {args.json}; logs in {workdir})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
