"""`python -m botwall.edge.healthcheck`: exit 0 for SERVING, 1 for NOT_SERVING, nothing listening, or no answer."""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import AsyncIterator

import pytest

from botwall.config import parse_yaml
from botwall.edge.decision_log import DecisionLog
from botwall.edge.healthcheck import build_parser, check, main
from botwall.edge.server import SERVICE_NAME, RunningServer, start_server
from botwall.engine import Engine
from botwall.lab.testing import resources


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    """botwall's gRPC server in-process on an ephemeral loopback port."""
    config = parse_yaml("policies: []\n", "t.yaml")
    running = await start_server(
        Engine(config, resources()), DecisionLog(config.decision_log, io.StringIO()), "127.0.0.1:0"
    )
    yield running
    await running.stop(0)


async def test_serving_server_exits_zero(server: RunningServer, capsys: pytest.CaptureFixture[str]) -> None:
    """A serving botwall gives exit status 0 and one line naming the address and SERVING."""
    address = f"127.0.0.1:{server.port}"
    status = await asyncio.to_thread(main, ["--address", address])
    assert (0, f"botwall health {address}: SERVING\n") == (status, capsys.readouterr().out)


async def test_ext_proc_service_is_checked_by_name(server: RunningServer) -> None:
    """`--service` asks about the ext_proc service itself, which botwall registers; an unknown name is not healthy."""
    address = f"127.0.0.1:{server.port}"
    assert (True, "SERVING") == await asyncio.to_thread(check, address, SERVICE_NAME)
    healthy, detail = await asyncio.to_thread(check, address, "no.such.Service")
    assert (False, "NOT_FOUND") == (healthy, detail.split(":")[0])


async def test_shutting_down_server_exits_one(server: RunningServer) -> None:
    """During a graceful shutdown botwall reports NOT_SERVING, and the check fails."""
    await server.health.enter_graceful_shutdown()
    assert (False, "NOT_SERVING") == await asyncio.to_thread(check, f"127.0.0.1:{server.port}")
    assert 1 == await asyncio.to_thread(main, ["--address", f"127.0.0.1:{server.port}"])


def test_nothing_listening_exits_one(capsys: pytest.CaptureFixture[str]) -> None:
    """With nothing on the port the check fails fast with UNAVAILABLE."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert 1 == main(["--address", f"127.0.0.1:{port}", "--timeout", "2"])
    assert "UNAVAILABLE" in capsys.readouterr().out


def test_address_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --address the check reads $BOTWALL_HEALTH_ADDRESS (the image sets it), else 127.0.0.1:9191."""
    monkeypatch.setenv("BOTWALL_HEALTH_ADDRESS", "127.0.0.1:9292")
    assert "127.0.0.1:9292" == build_parser().parse_args([]).address
    monkeypatch.delenv("BOTWALL_HEALTH_ADDRESS")
    assert "127.0.0.1:9191" == build_parser().parse_args([]).address
