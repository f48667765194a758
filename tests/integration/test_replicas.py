"""Two botwall replicas behind one real Envoy (a cluster of both, round robin), sharing state through a real
redis-server: a credential stuffer spread over both is blocked as soon as one process would block it; on the memory
backend each replica sees half its failures and lets it go on about twice as long (the reason for the shared store);
with Redis killed mid-run every request is still judged."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from botwall.deploy.gateway import EnvoySettings, render_gateway
from botwall.lab.stack import BotwallProcess, EnvoyProcess, RedisProcess, start_botwall, start_envoy, start_redis
from botwall.lab.testing import LOGIN_CONFIG

from .conftest import BROWSER_HEADERS, BackgroundShop, Stack

# The rule scorer, pinned (as in test_login): failed logins from one address block from the fourth on.
CONFIG = "model: {scorer: rules}\ndecision_log: {allow_sample_rate: 1.0}\n" + LOGIN_CONFIG
STUFFER = [*BROWSER_HEADERS, ("content-type", "application/json"), ("x-forwarded-for", "203.0.113.66")]


def replicas(
    shop: BackgroundShop, workdir: Path, state: str, count: int = 2
) -> tuple[EnvoyProcess, list[BotwallProcess]]:
    config = workdir / "botwall.yaml"
    workdir.mkdir(parents=True, exist_ok=True)
    config.write_text(CONFIG + state)
    processes = [start_botwall(workdir / f"replica{i}", config) for i in range(count)]
    rendered = render_gateway(
        EnvoySettings(
            http=("127.0.0.1", 0),
            botwall=("127.0.0.1", processes[0].port),
            upstream=("127.0.0.1", shop.port),
            access_log=str(workdir / "access.log"),
            trusted_hops=1,
        )
    )
    cluster = next(c for c in rendered["static_resources"]["clusters"] if c["name"] == "botwall")
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]
    cluster["load_assignment"]["endpoints"][0]["lb_endpoints"] = [
        json.loads(json.dumps(endpoint).replace(str(processes[0].port), str(p.port))) for p in processes
    ]
    try:
        envoy = start_envoy(rendered, workdir)
    except BaseException:
        for p in processes:
            p.stop()
        raise
    return envoy, processes


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisProcess]:
    server = start_redis(tmp_path / "redis")
    yield server
    server.stop()


def stuff(stack: Stack, attempts: int, pause: float) -> list[int]:
    """Failed logins from one address, one after another; the statuses the stuffer saw."""
    statuses = []
    for i in range(attempts):
        body = json.dumps({"username": f"victim{i}@example.com", "password": f"Leaked-Pass-{i}!"}).encode()
        statuses.append(stack.request("/api/login", method="POST", headers=STUFFER, body=body).status)
        time.sleep(pause)
    return statuses


def served_by(processes: list[BotwallProcess]) -> list[int]:
    """How many logins each replica judged (its decision log has a line for every login)."""
    return [
        sum('"event": "decision"' in line and "/api/login" in line for line in p.log_path.read_text().splitlines())
        for p in processes
    ]


def run(shop: BackgroundShop, workdir: Path, state: str, attempts: int = 12) -> tuple[list[int], list[int]]:
    envoy, processes = replicas(shop, workdir, state)
    try:
        statuses = stuff(Stack(envoy, processes[0], workdir, shop), attempts, pause=0.12)
        return statuses, served_by(processes)
    finally:
        envoy.stop()
        for p in processes:
            p.stop()


def test_a_stuffer_spread_over_two_replicas_is_blocked_as_by_one(
    shop: BackgroundShop, redis: RedisProcess, tmp_path: Path
) -> None:
    shared = f"state: {{backend: redis, redis: {{url: '{redis.url}', sync_interval_ms: 20}}}}\n"
    statuses, judged = run(shop, tmp_path / "shared", shared)
    assert all(n >= 4 for n in judged), judged  # Envoy spread the stream over both replicas
    # One process blocks from the fourth attempt (test_login); the two replicas together block from the fourth or,
    # when a round is still under way, the fifth, and every attempt after.
    first = next(i for i, status in enumerate(statuses) if status != 401)
    assert first in (3, 4), statuses
    assert set(statuses[first:]) == {403}, statuses

    # The same two replicas on the memory backend: each sees half the failures, so the stuffer gets further.
    alone, judged = run(shop, tmp_path / "memory", "")
    assert all(n >= 4 for n in judged), judged
    assert next(i for i, status in enumerate(alone) if status != 401) >= 5, alone


def test_redis_killed_mid_run_leaves_every_request_judged(
    shop: BackgroundShop, redis: RedisProcess, tmp_path: Path
) -> None:
    shared = f"state: {{backend: redis, redis: {{url: '{redis.url}', sync_interval_ms: 20, timeout_ms: 200}}}}\n"
    envoy, processes = replicas(shop, tmp_path, shared)
    try:
        stack = Stack(envoy, processes[0], tmp_path, shop)
        person = [*BROWSER_HEADERS, ("x-forwarded-for", "198.51.100.23")]
        before = [stack.request("/", headers=person).status for _ in range(6)]
        redis.kill()
        after = [stack.request("/", headers=person).status for _ in range(20)]
        time.sleep(0.3)
        time.sleep(0.5)
        logs = "\n".join(p.logs() for p in processes)
        for p in processes:
            assert p.proc.poll() is None, p.logs()
    finally:
        envoy.stop()
        for p in processes:
            p.stop()
    assert before == [200] * 6
    assert after == [200] * 20  # a person's pages, served while Redis is gone
    assert "redis_unavailable" in logs
    # Envoy's access log (written out when it stopped): every request carries botwall's decision, none passed on
    # Envoy's fail-open.
    lines = [json.loads(line) for line in (tmp_path / "access.log").read_text().splitlines() if line.startswith("{")]
    assert len(lines) == 26
    assert [line["botwall_action"] for line in lines] == ["allow"] * 26
