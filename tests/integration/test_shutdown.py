"""Drain without a gap, through real Envoy: on SIGTERM botwall says NOT_SERVING yet keeps judging every new stream for
its drain delay, and `botwall up` stops Envoy taking requests before botwall stops judging them."""

from __future__ import annotations

import http.client
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from botwall.deploy.gateway import EnvoySettings, render_gateway
from botwall.edge.healthcheck import check
from botwall.lab.stack import start_botwall, start_envoy
from botwall.lab.testing import up_banner

from .conftest import BROWSER_HEADERS, BackgroundShop

pytestmark = pytest.mark.integration

# A tool that names itself: the default policies refuse it (403) whenever botwall judges the request.
CURL = [("user-agent", "curl/8.5.0"), ("accept", "*/*")]


@dataclass(frozen=True)
class Answer:
    sent: float
    answered: float
    status: int | None  # None: no HTTP answer (connection refused or reset)


class Hammer:
    """Sends curl-like requests one after another, each on a new connection as curl does, and records every answer."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            sent = time.monotonic()
            status: int | None = None
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.putrequest("GET", "/", skip_accept_encoding=True)
                for name, value in CURL:
                    conn.putheader(name, value)
                conn.endheaders()
                response = conn.getresponse()
                response.read()
                status = response.status
                conn.close()
            except OSError:
                time.sleep(0.01)
            self.answers.append(Answer(sent, time.monotonic(), status))

    def __enter__(self) -> Hammer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not any(a.status == 403 for a in self.answers) and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def test_sigterm_keeps_judging_during_the_drain_delay(tmp_path: Path, shop: BackgroundShop) -> None:
    """After SIGTERM, gRPC health says NOT_SERVING at once, and every request Envoy answers during the drain delay was
    still judged (curl refused with 403, never passed with 200); then botwall exits 0."""
    delay = 3.0
    botwall = start_botwall(tmp_path, drain_delay=delay)
    envoy = None
    try:
        envoy = start_envoy(
            render_gateway(
                EnvoySettings(
                    botwall=("127.0.0.1", botwall.port),
                    upstream=("127.0.0.1", shop.port),
                    access_log=str(tmp_path / "access.log"),
                    # Generous, so that a busy test machine cannot turn a slow answer into a fail-open pass: a 200
                    # here means botwall refused the stream.
                    message_timeout="5s",
                )
            ),
            tmp_path,
        )
        address = f"127.0.0.1:{botwall.port}"
        assert (True, "SERVING") == check(address)
        with Hammer(envoy.ports["http"]) as hammer:
            signalled = time.monotonic()
            botwall.proc.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            early = check(address)
            time.sleep(1.5)
            late = check(address)
            time.sleep(delay - 1.8 - 0.5)  # stop short of the delay's end, when botwall starts refusing streams
            window_end = time.monotonic()
        exit_code = botwall.proc.wait(20)
    finally:
        if envoy is not None:
            envoy.stop()
            print(f"--- envoy log ---\n{envoy.logs()}")
        botwall.stop()
        print(f"--- botwall log ---\n{botwall.logs()}")
    during = [a.status for a in hammer.answers if signalled <= a.sent and a.answered <= window_end]
    assert ((False, "NOT_SERVING"), (False, "NOT_SERVING")) == (early, late)
    assert len(during) >= 20, during
    assert [403] * len(during) == during
    assert 0 == exit_code
    assert '"event": "draining"' in botwall.logs()


def test_up_stops_envoy_taking_requests_before_botwall_stops_judging(tmp_path: Path) -> None:
    """SIGTERM to `botwall up`: Envoy refuses new connections at once, finishes the request it holds (a slow page,
    answered in full), and botwall judges everything Envoy answers until then: no curl request ever gets 200."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "botwall", "up", "--listen", "127.0.0.1:0", "--workdir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = ""
    try:
        text = up_banner(proc)
        match = re.search(r"botwall is up: http://127\.0\.0\.1:(\d+)/", text)
        assert match, text
        port = int(match.group(1))
        slow: list[tuple[int, bytes]] = []

        def slow_page() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
            conn.putrequest("GET", "/_slow?ms=2000", skip_accept_encoding=True)
            for name, value in BROWSER_HEADERS:
                conn.putheader(name, value)
            conn.endheaders()
            response = conn.getresponse()
            slow.append((response.status, response.read()))

        # The page first: judged before the curl flood from the same address makes the address look automated.
        in_flight = threading.Thread(target=slow_page)
        in_flight.start()
        time.sleep(0.2)
        with Hammer(port) as hammer:
            time.sleep(0.3)
            signalled = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            in_flight.join(15)
            time.sleep(0.3)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            out, _ = proc.communicate()
        print(f"--- botwall up ---\n{out}")
    statuses = {a.status for a in hammer.answers}
    after = [a.status for a in hammer.answers if a.sent >= signalled + 0.2]
    assert [(200, b'{"slept_ms": 2000}')] == slow
    assert 200 not in statuses
    assert 403 in statuses
    assert after, "no request was sent after SIGTERM"
    assert {None} == set(after)  # new connections refused once Envoy drains
    assert 0 == proc.returncode


def test_second_signal_ends_the_drain_delay(tmp_path: Path) -> None:
    """A second SIGTERM (or Ctrl-C) during a long drain delay stops botwall at once instead of after the delay."""
    botwall = start_botwall(tmp_path, drain_delay=60)
    try:
        botwall.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while '"event": "draining"' not in botwall.logs() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (False, "NOT_SERVING") == check(f"127.0.0.1:{botwall.port}")
        started = time.monotonic()
        botwall.proc.send_signal(signal.SIGINT)
        exit_code = botwall.proc.wait(20)
        took = time.monotonic() - started
    finally:
        botwall.stop()
        print(f"--- botwall log ---\n{botwall.logs()}")
    assert 0 == exit_code
    assert took < 5, took
