"""botwall's gRPC server starting and stopping, in-process: an address it cannot listen on is one error naming it;
on the way down, NOT_SERVING while it still answers, then refusing new calls."""

from __future__ import annotations

import io
import socket

import pytest

from botwall.config import parse_yaml
from botwall.engine import Engine
from botwall.events import DecisionLog
from botwall.server import RunningServer, start_server
from botwall.stack import bind_error


async def _start(address: str = "127.0.0.1:0") -> RunningServer:
    config = parse_yaml("policies: []\n", "t.yaml")
    return await start_server(Engine(config), DecisionLog(config.decision_log, io.StringIO()), address)


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
