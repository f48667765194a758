"""A private `redis-server` on a Unix socket: what `botwall serve --workers N` shares its workers' state through when
the config keeps state in memory, and what the tests and the two-replica demo run (`lab.stack`).

Empty, not persisted, reachable only through a socket file only its owner may open, so there is no port to race for
and nothing to secure beyond the directory it lives in.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from botwall.errors import StackError


@dataclass
class RedisProcess:
    """A `redis-server` subprocess on a Unix socket."""

    proc: subprocess.Popen[bytes]
    socket: Path
    log_path: Path
    password: str = ""

    @property
    def url(self) -> str:
        return f"unix://{self.socket}" + (f"?password={self.password}" if self.password else "")

    def logs(self) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-60:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """Stop it at once, as a crash would (no save, no goodbye to clients)."""
        self.proc.kill()
        self.proc.wait(10)


def find_redis() -> str:
    """The `redis-server` (or `valkey-server`) binary on PATH (Debian's package; `make test` installs it)."""
    found = shutil.which("redis-server") or shutil.which("valkey-server")
    if found is None:
        raise StackError("redis-server is needed (Debian: apt-get install redis-server; `make test-tools` does it)")
    return found


def start_redis(workdir: Path, password: str = "", timeout: float = 20.0) -> RedisProcess:
    """Start an empty, non-persistent redis-server listening on a Unix socket in `workdir`, and wait for it."""
    workdir.mkdir(parents=True, exist_ok=True)
    socket = workdir / "redis.sock"
    socket.unlink(missing_ok=True)
    log_path = workdir / "redis.log"
    argv = [
        find_redis(), "--port", "0", "--unixsocket", str(socket), "--unixsocketperm", "700", "--save", "",
        "--appendonly", "no", "--dir", str(workdir), "--logfile", str(log_path),
    ]  # fmt: skip
    if password:
        argv += ["--requirepass", password]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    log_path.touch()
    server = RedisProcess(proc, socket, log_path, password)
    deadline = time.monotonic() + timeout
    while not socket.exists():
        if proc.poll() is not None:
            raise StackError(f"redis-server exited with {proc.returncode}:\n{server.logs()}")
        if time.monotonic() > deadline:
            server.stop()
            raise StackError(f"redis-server not ready after {timeout:.0f}s:\n{server.logs()}")
        time.sleep(0.05)
    return server
