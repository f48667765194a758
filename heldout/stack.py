"""The system under test, started fresh for every scenario: ``botwall up`` (real Envoy 1.40, botwall with its
embedded default config and shipped model) in front of the shop (heldout.upstream), on ephemeral loopback ports,
with ``--trusted-hops 1`` so each client's X-Forwarded-For address is its address.

botwall's decision log (its stdout) and Envoy's access log (which carries botwall's decision for every request, from
dynamic metadata) are kept in the scenario's work directory.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

_HTTP = re.compile(r"botwall is up: http://127\.0\.0\.1:(\d+)/")
_HTTPS = re.compile(r"HTTPS[^:]*: https://127\.0\.0\.1:(\d+)/")


@dataclass
class Stack:
    workdir: Path
    upstream_url: str
    http_port: int
    https_port: int
    _botwall: subprocess.Popen[bytes]
    _upstream: subprocess.Popen[bytes]

    @property
    def decision_log(self) -> Path:
        return self.workdir / "decisions.jsonl"

    @property
    def access_log(self) -> Path:
        return self.workdir / "botwall" / "access.log"

    @classmethod
    def start(cls, workdir: Path, accounts: dict[str, str], timeout_s: float = 90.0) -> Stack:
        workdir.mkdir(parents=True, exist_ok=True)
        accounts_file = workdir / "accounts.json"
        accounts_file.write_text(json.dumps(accounts))
        upstream = subprocess.Popen(
            [sys.executable, "-m", "heldout.upstream", "--accounts", str(accounts_file)],
            stdout=subprocess.PIPE,
            stderr=(workdir / "upstream.err").open("wb"),
            cwd=Path(__file__).resolve().parent.parent,
        )
        assert upstream.stdout is not None
        line = upstream.stdout.readline().decode()
        m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if not m:
            upstream.kill()
            raise RuntimeError(f"the upstream did not start: {line!r} {(workdir / 'upstream.err').read_text()}")
        upstream_url = f"http://127.0.0.1:{m.group(1)}"
        out = workdir / "decisions.jsonl"
        botwall = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "botwall",
                "up",
                "--listen",
                "127.0.0.1:0",
                "--tls-listen",
                "127.0.0.1:0",
                "--trusted-hops",
                "1",
                "--upstream",
                upstream_url,
                "--workdir",
                str(workdir / "botwall"),
            ],
            stdout=out.open("wb"),
            stderr=(workdir / "botwall.err").open("wb"),
        )
        deadline = time.time() + timeout_s
        http_port = https_port = 0
        while time.time() < deadline:
            text = out.read_text(errors="replace")
            a, b = _HTTP.search(text), _HTTPS.search(text)
            if a and b:
                http_port, https_port = int(a.group(1)), int(b.group(1))
                break
            if botwall.poll() is not None:
                break
            time.sleep(0.2)
        stack = cls(workdir, upstream_url, http_port, https_port, botwall, upstream)
        if not http_port:
            stack.stop()
            raise RuntimeError(
                "botwall up did not come up: " + (workdir / "botwall.err").read_text(errors="replace")[-2000:]
            )
        stack._wait_ready(deadline)
        return stack

    def _wait_ready(self, deadline: float) -> None:
        # Envoy's own health route skips the processor; then one request through botwall proves the path.
        url = f"http://127.0.0.1:{self.http_port}/envoy/healthz"
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("Envoy never became healthy")

    def stop(self) -> None:
        """SIGINT to botwall up (it stops Envoy, then botwall, flushing the decision log's aggregates)."""
        if self._botwall.poll() is None:
            self._botwall.send_signal(signal.SIGINT)
            try:
                self._botwall.wait(45)
            except subprocess.TimeoutExpired:
                self._botwall.terminate()
                self._botwall.wait(10)
        if self._upstream.poll() is None:
            self._upstream.send_signal(signal.SIGTERM)
            try:
                self._upstream.wait(10)
            except subprocess.TimeoutExpired:
                self._upstream.kill()
