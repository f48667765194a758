"""botwall's gRPC server starting and stopping, in-process: an address it cannot listen on is one error naming it;
on the way down, NOT_SERVING while it still answers, then refusing new calls."""

from __future__ import annotations

import asyncio
import io
import socket
import time
from collections.abc import AsyncIterator

import pytest

from botwall.config import parse_yaml
from botwall.edge.decision_log import DecisionLog
from botwall.edge.healthcheck import check
from botwall.edge.listen import bind_error
from botwall.edge.server import RunningServer, start_server
from botwall.engine import Engine
from botwall.lab.testing import resources


async def _start(address: str = "127.0.0.1:0") -> RunningServer:
    config = parse_yaml("policies: []\n", "t.yaml")
    return await start_server(Engine(config, resources()), DecisionLog(config.decision_log, io.StringIO()), address)


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    """botwall's gRPC server on an ephemeral loopback port."""
    running = await _start()
    yield running
    await running.stop(0)


async def test_drain_says_not_serving_yet_still_answers(server: RunningServer) -> None:
    """During the drain delay health answers NOT_SERVING (a new call, so new calls are still served); the cut-short
    event ends the delay early; after stop, new calls are refused."""
    address = f"127.0.0.1:{server.port}"
    hurry = asyncio.Event()
    started = time.monotonic()
    draining = asyncio.create_task(server.drain(30, hurry))
    await asyncio.sleep(0.1)
    during = await asyncio.to_thread(check, address)
    hurry.set()
    await asyncio.wait_for(draining, 5)
    took = time.monotonic() - started
    await server.stop(0)
    after = await asyncio.to_thread(check, address, "", 2.0)
    assert (False, "NOT_SERVING") == during
    assert took < 5
    assert (False, "UNAVAILABLE") == (after[0], after[1].split(":")[0])


async def test_drain_waits_out_its_delay(server: RunningServer) -> None:
    """Without a cut-short, drain returns after its delay, not before."""
    started = time.monotonic()
    await server.drain(0.3)
    assert time.monotonic() - started >= 0.3


async def test_busy_address_is_one_error_naming_it() -> None:
    """An address already in use is an OSError naming it, not gRPC's RuntimeError; `bind_error` says why."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(OSError, match=f"^cannot listen on 127.0.0.1:{port}$"):
            await _start(f"127.0.0.1:{port}")
        assert "address already in use" == bind_error("127.0.0.1", port)
    assert bind_error("127.0.0.1", 0) is None
