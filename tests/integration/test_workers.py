"""`botwall serve --workers 2` behind one real Envoy (a cluster of both workers' ports): the workers are one
processor. With state in memory they share it through the private redis-server their supervisor starts, so a
stuffer whose attempts land on both is blocked as one process blocks it, and a cookie one worker hands out is valid at
the other; a worker that dies is restarted on its port, and SIGTERM stops them all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from botwall.deploy.gateway import EnvoySettings, render_gateway
from botwall.lab.stack import BotwallProcess, EnvoyProcess, start_botwall, start_envoy, start_processor

from .conftest import BROWSER_HEADERS, BackgroundShop, Stack
from .test_replicas import CONFIG, stuff


@pytest.fixture
def workers(shop: BackgroundShop, tmp_path: Path) -> Iterator[tuple[EnvoyProcess, BotwallProcess, Stack]]:
    config = tmp_path / "botwall.yaml"
    config.write_text(CONFIG)
    botwall = start_botwall(tmp_path / "botwall", config, workers=2, timeout=120)
    try:
        settings = EnvoySettings(
            http=("127.0.0.1", 0),
            botwall=("127.0.0.1", botwall.port),
            botwall_ports=botwall.ports,
            upstream=("127.0.0.1", shop.port),
            access_log=str(tmp_path / "access.log"),
            trusted_hops=1,
        )
        envoy = start_envoy(render_gateway(settings), tmp_path)
    except BaseException:
        botwall.stop()
        raise
    yield envoy, botwall, Stack(envoy, botwall, tmp_path, shop)
    envoy.stop()
    botwall.stop()


def _decisions(botwall: BotwallProcess) -> list[dict[str, object]]:
    lines = [line for line in botwall.log_path.read_text().splitlines() if line.startswith("{")]
    return [event for event in map(json.loads, lines) if event.get("event") == "decision"]


def test_two_workers_judge_as_one_processor(workers: tuple[EnvoyProcess, BotwallProcess, Stack]) -> None:
    _, botwall, stack = workers
    assert len(botwall.ports) == 2
    assert botwall.port == botwall.ports[0]
    statuses = stuff(stack, 12, pause=0.12)
    # One process blocks from the fourth attempt (test_login); the workers, sharing state every 50 ms, from the
    # fourth or, when a round is still under way, the fifth, and every attempt after.
    first = next(i for i, status in enumerate(statuses) if status != 401)
    assert first in (3, 4), statuses
    assert set(statuses[first:]) == {403}, statuses
    logins = Counter(event["worker"] for event in _decisions(botwall) if event.get("path") == "/api/login")
    assert sorted(logins) == [0, 1], logins  # Envoy spread them over both workers
    assert min(logins.values()) >= 4, logins

    # A person's cookie, handed out by whichever worker judged the page, is valid at both (one secret for all
    # workers): a page view without a valid one gets a new cookie, and none of these does.
    person = [*BROWSER_HEADERS, ("x-forwarded-for", "198.51.100.31")]
    first_page = stack.request("/", headers=person)
    cookie = first_page.headers["set-cookie"].split(";", 1)[0]
    assert cookie.startswith("__bw=")
    pages = [stack.request("/", headers=[*person, ("cookie", cookie)]) for _ in range(8)]
    assert [page.status for page in pages] == [200] * 8
    assert not any("__bw=" in page.headers.get("set-cookie", "") for page in pages)
    judged = [event["worker"] for event in _decisions(botwall) if event.get("client_ip") == "198.51.100.31"]
    assert set(judged) == {0, 1}, judged


def test_a_dead_worker_is_restarted_and_sigterm_stops_all(
    workers: tuple[EnvoyProcess, BotwallProcess, Stack],
) -> None:
    _, botwall, stack = workers
    served = [line for line in botwall.log_path.read_text().splitlines() if '"event": "serving"' in line]
    pids = {json.loads(line)["worker"]: json.loads(line)["pid"] for line in served}
    os.kill(pids[1], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = botwall.log_path.read_text()
        if text.count('"event": "serving"') >= 3:
            break
        time.sleep(0.2)
    assert '"event": "worker_died"' in text
    assert text.count('"event": "serving"') >= 3, botwall.logs()
    person = [*BROWSER_HEADERS, ("x-forwarded-for", "198.51.100.32")]
    assert [stack.request("/", headers=person).status for _ in range(6)] == [200] * 6
    botwall.proc.send_signal(signal.SIGTERM)
    assert botwall.proc.wait(30) == 0
    assert botwall.proc.returncode == 0


def _serve(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ) | ({"PATH": path} if path is not None else {})
    argv = [sys.executable, "-m", "botwall", "serve", "--listen", "127.0.0.1:0", *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)


def test_workers_without_a_way_to_share_state_is_a_usage_error() -> None:
    """State in memory and no redis-server to start a private one: two workers would judge apart, so botwall says
    what to do instead of starting them; and a count out of range is refused."""
    alone = _serve("--workers", "2", path=str(Path(sys.executable).parent))
    assert alone.returncode == 2, alone.stderr
    assert "--workers 2: the workers share their state through Redis: set state.backend: redis" in alone.stderr
    assert "apt-get install redis-server" in alone.stderr
    none = _serve("--workers", "0")
    assert none.returncode == 2
    assert "--workers: expected 1 to 256 processes, got 0" in none.stderr


def test_each_worker_has_its_admin_listener(tmp_path: Path) -> None:
    """With --admin-listen, worker i's admin listener is on its own port (here ephemeral), and the supervisor's ready
    file lists them: each worker counts only what it judged, so each is scraped."""
    argv = [
        sys.executable, "-m", "botwall", "serve", "--listen", "127.0.0.1:0", "--workers", "2",
        "--admin-listen", "127.0.0.1:0", "--drain-delay", "0",
    ]  # fmt: skip
    botwall = start_processor(tmp_path, argv, "botwall", 120)
    try:
        ready = json.loads((tmp_path / "botwall-ready.json").read_text())
        assert len(ready["admin_ports"]) == 2
        for port in ready["admin_ports"]:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                assert b"botwall_serving 1.0" in response.read()
    finally:
        botwall.stop()
