"""`botwall serve --workers N`: N processor processes, one per core, on consecutive ports, under one supervisor.

Python judges one request at a time per process, so a processor uses one core; more cores need more processes. Each
worker listens on its own port (the first on `--listen`'s, the next on the one after it, and so on) rather than all
on one port with `SO_REUSEPORT`, because Envoy multiplexes every ext_proc stream over one HTTP/2 connection per Envoy
thread, and `SO_REUSEPORT` spreads connections, not streams: one or two connections would land on one worker while
the others idle. With a port each, Envoy's cluster lists every worker and spreads the streams among them
(`botwall envoy-config --botwall-workers N`, `botwall up --workers N` and the Helm chart write that cluster).

The workers are one processor: they share state through the store (`state.backend: redis`, or, where the config
keeps state in memory, a private `redis-server` the supervisor starts on a Unix socket only it can open), and one
cookie secret (the deployment's `BOTWALL_COOKIE_SECRET`, or one the supervisor draws for them), so a cookie handed out
by one worker is valid at the others and a client's windows count its requests wherever they land.

The supervisor starts them, publishes their ports once every one serves, restarts one that dies (a few times a
minute at most, then it stops them all and fails), and passes SIGTERM and SIGINT on, so each drains as a single
`botwall serve` does.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import structlog

from botwall.config import Config
from botwall.edge.listen import read_ready_file, write_ready_file
from botwall.errors import StackError, UsageError
from botwall.state.redis_server import RedisProcess, find_redis, start_redis
from botwall.state.tokens import SECRET_ENV

if TYPE_CHECKING:
    from structlog.typing import Processor

log = structlog.get_logger("botwall.edge.workers")

# Set by the supervisor in each worker's environment: the worker's index, which its log lines and decisions carry.
WORKER_ENV = "BOTWALL_WORKER"


def worker_processors() -> list[Processor]:
    """In a worker of `--workers N`, a structlog processor adding `"worker": i` to each line; else none."""
    worker = os.environ.get(WORKER_ENV, "")
    if not worker.isdigit():
        return []

    def name_worker(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event.setdefault("worker", int(worker))
        return event

    return [name_worker]


# A worker that dies is restarted; more deaths than this within a minute mean it cannot run, and the supervisor stops.
_RESTARTS_PER_MINUTE = 5
_READY_TIMEOUT = 120.0  # seconds for every worker to load the model and its data, started together on a small machine


@dataclass
class WorkerOptions:
    """What each worker runs with: `botwall serve`'s own options, less `--workers` and `--listen`."""

    host: str
    port: int  # the first worker's; 0 gives every worker an ephemeral port
    count: int
    config_path: str | None = None
    drain_delay: float = 5.0
    shutdown_grace: float = 10.0
    ready_file: Path | None = None
    admin: tuple[str, int] | None = None  # `--admin-listen`: worker i's admin listener on its port + i
    admin_token_file: str | None = None
    state_dir: str = ""  # `--state-dir`: worker i keeps its file there (`edge.persist`)
    state_retention_days: float = 30.0

    def ports(self) -> list[int]:
        """Each worker's port to ask for: consecutive from `port`, or 0 (ephemeral) for all."""
        return [self.port + i if self.port else 0 for i in range(self.count)]

    def admin_ports(self) -> list[int]:
        """Each worker's admin port to ask for, as `ports` does."""
        if self.admin is None:
            return []
        return [self.admin[1] + i if self.admin[1] else 0 for i in range(self.count)]


def shared_state_problem(config: Config) -> str | None:
    """Why `count` workers could not share state under this config, or None: memory state needs a private Redis."""
    if config.state.backend == "redis":
        return None
    try:
        find_redis()
    except StackError:
        return (
            "the workers share their state through Redis: set state.backend: redis in the config, or install "
            "redis-server (Debian: apt-get install redis-server) for a private one"
        )
    return None


@dataclass
class _Worker:
    index: int
    port: int  # as asked; the bound one once ready
    ready_file: Path
    proc: subprocess.Popen[bytes] | None = None
    deaths: deque[float] = field(default_factory=deque)


class Supervisor:
    """Starts the workers, watches them, and stops them."""

    def __init__(self, options: WorkerOptions, config: Config) -> None:
        self.options = options
        self.config = config
        self.workdir = Path(tempfile.mkdtemp(prefix="botwall-workers-"))
        self.env = dict(os.environ)
        self.redis: RedisProcess | None = None
        self.workers = [_Worker(i, port, self.workdir / f"worker-{i}.json") for i, port in enumerate(options.ports())]
        self.stopping = 0  # signals received

    def _argv(self, worker: _Worker) -> list[str]:
        o = self.options
        host = f"[{o.host}]" if ":" in o.host else o.host
        argv = [
            sys.executable, "-m", "botwall", "serve", "--workers", "1", "--listen", f"{host}:{worker.port}",
            "--ready-file", str(worker.ready_file), "--drain-delay", repr(o.drain_delay),
            "--shutdown-grace", repr(o.shutdown_grace),
        ]  # fmt: skip
        if o.config_path:
            argv += ["--config", o.config_path]
        if o.admin is not None:
            host = f"[{o.admin[0]}]" if ":" in o.admin[0] else o.admin[0]
            argv += ["--admin-listen", f"{host}:{o.admin_ports()[worker.index]}"]
            if o.admin_token_file:
                argv += ["--admin-token-file", o.admin_token_file]
        if self.redis is not None:
            argv += ["--state-url", self.redis.url]
        if o.state_dir:
            argv += ["--state-dir", o.state_dir, "--state-retention-days", repr(o.state_retention_days)]
        return argv

    def _spawn(self, worker: _Worker) -> None:
        worker.ready_file.unlink(missing_ok=True)
        env = self.env | {WORKER_ENV: str(worker.index)}
        worker.proc = subprocess.Popen(self._argv(worker), env=env)

    def start(self) -> list[int]:
        """Start every worker and wait until each serves; returns their ports."""
        if not self.env.get(SECRET_ENV):
            # One secret for all, or a cookie from one worker would be refused by the next; cookies then last as
            # long as this supervisor (set the variable to keep them across restarts, as for one process).
            self.env[SECRET_ENV] = secrets.token_urlsafe(32)
        if self.config.state.backend == "memory":
            self.redis = start_redis(self.workdir / "redis")
        for worker in self.workers:
            self._spawn(worker)
        deadline = time.monotonic() + _READY_TIMEOUT
        for worker in self.workers:
            worker.port = self._wait_ready(worker, deadline)
        ports = [worker.port for worker in self.workers]
        if self.options.ready_file is not None:
            write_ready_file(self.options.ready_file, ports[0], ports=ports, admin_ports=self._admin_ports())
        log.info("workers_serving", workers=len(ports), ports=ports, shared_state=self.redis.url if self.redis else "")
        return ports

    def _admin_ports(self) -> list[int]:
        """Each worker's bound admin port, from its ready file ([] without an admin listener)."""
        ports = []
        for worker in self.workers:
            with contextlib.suppress(OSError, ValueError):
                admin = json.loads(worker.ready_file.read_text()).get("admin_port")
                if isinstance(admin, int):
                    ports.append(admin)
        return ports

    def _wait_ready(self, worker: _Worker, deadline: float) -> int:
        assert worker.proc is not None
        while True:
            port = read_ready_file(worker.ready_file)
            if port is not None:
                return port
            if worker.proc.poll() is not None:
                raise StackError(f"worker {worker.index} exited with {worker.proc.returncode} before serving")
            if time.monotonic() > deadline or self.stopping:
                raise StackError(f"worker {worker.index} not serving after {_READY_TIMEOUT:.0f}s")
            time.sleep(0.05)

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        """Pass SIGTERM or SIGINT on to every worker (a second one cuts their drain short, as for one process)."""
        self.stopping += 1
        for worker in self.workers:
            if worker.proc is not None and worker.proc.poll() is None:
                worker.proc.send_signal(signum)

    def watch(self) -> int:
        """Until a signal: restart a worker that dies, on its port. Returns the exit status."""
        while not self.stopping:
            for worker in self.workers:
                assert worker.proc is not None
                code = worker.proc.poll()
                if code is None or self.stopping:
                    continue
                now = time.monotonic()
                worker.deaths.append(now)
                while worker.deaths and now - worker.deaths[0] > 60:
                    worker.deaths.popleft()
                if len(worker.deaths) > _RESTARTS_PER_MINUTE:
                    log.error("worker_keeps_dying", worker=worker.index, exit_code=code, port=worker.port)
                    self.on_signal(signal.SIGTERM, None)
                    return 1
                log.error("worker_died", worker=worker.index, exit_code=code, port=worker.port, restarting=True)
                self._spawn(worker)
            time.sleep(0.2)
        return 0

    def stop(self) -> None:
        """Wait for the workers to drain and end (killing any that outstays its grace), then the private Redis."""
        limit = time.monotonic() + self.options.drain_delay + self.options.shutdown_grace + 10
        for worker in self.workers:
            if worker.proc is None:
                continue
            if worker.proc.poll() is None and not self.stopping:
                worker.proc.send_signal(signal.SIGTERM)
            try:
                worker.proc.wait(max(0.1, limit - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.proc.kill()
                worker.proc.wait()
        if self.redis is not None:
            self.redis.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def serve_workers(options: WorkerOptions, config: Config) -> int:
    """Run `options.count` workers until SIGTERM or SIGINT; returns the exit status."""
    problem = shared_state_problem(config)
    if problem is not None:
        raise UsageError(f"--workers {options.count}: {problem}")
    supervisor = Supervisor(options, config)
    previous = {sig: signal.signal(sig, supervisor.on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        supervisor.start()
        return supervisor.watch()
    finally:
        supervisor.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
