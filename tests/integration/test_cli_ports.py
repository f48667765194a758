"""`botwall serve` and `botwall up` with a port they cannot use: one line on stderr and exit status 2, before anything
starts (no traceback, and no silent listening on some other port)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.integration


def _botwall(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "botwall", *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port something is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


INVALID = {
    "out-of-range": ("127.0.0.1:99999", "expects a port from 0 to 65535, got '99999' in '127.0.0.1:99999'"),
    "negative": ("127.0.0.1:-1", "expects a port from 0 to 65535, got '-1' in '127.0.0.1:-1'"),
    "not-a-number": ("127.0.0.1:http", "expects a port from 0 to 65535, got 'http' in '127.0.0.1:http'"),
    "empty-port": ("127.0.0.1:", "expects a port from 0 to 65535, got '' in '127.0.0.1:'"),
    "missing": ("127.0.0.1", "expects HOST:PORT, got '127.0.0.1'"),
    "ipv6-unbracketed": ("::1:9191", "expects an IPv6 address in brackets, such as [::1]:9191, got '::1:9191'"),
}


@pytest.mark.parametrize(("listen", "message"), INVALID.values(), ids=INVALID.keys())
@pytest.mark.parametrize("command", ["serve", "up"])
def test_invalid_port_is_one_line_and_exit_2(command: str, listen: str, message: str) -> None:
    """An out-of-range, non-numeric or missing port (or an IPv6 address without brackets) in --listen is refused with
    one line naming the flag and the value, exit status 2, and nothing on stdout."""
    result = _botwall(command, "--listen", listen)
    assert (2, "", f"botwall: --listen {message}\n") == (result.returncode, result.stdout, result.stderr)


def test_invalid_tls_port_of_up_is_one_line_and_exit_2() -> None:
    """`up --tls-listen` is checked the same way."""
    result = _botwall("up", "--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:70000")
    expected = "botwall: --tls-listen expects a port from 0 to 65535, got '70000' in '127.0.0.1:70000'\n"
    assert (2, "", expected) == (result.returncode, result.stdout, result.stderr)


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["serve", "--listen", "127.0.0.1:{port}"], "--listen"),
        (["up", "--listen", "127.0.0.1:{port}"], "--listen"),
        (["up", "--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:{port}"], "--tls-listen"),
    ],
    ids=["serve-grpc", "up-envoy-http", "up-envoy-https"],
)
def test_port_in_use_is_one_line_and_exit_2(args: list[str], flag: str, busy_port: int) -> None:
    """A port another process listens on (botwall's gRPC port, or Envoy's for `up`) is one line, exit status 2."""
    result = _botwall(*(a.format(port=busy_port) for a in args))
    expected = f"botwall: {flag}: cannot listen on 127.0.0.1:{busy_port}: address already in use\n"
    assert (2, "", expected) == (result.returncode, result.stdout, result.stderr)


def test_up_refuses_one_port_for_both_listeners() -> None:
    """`up` with the same non-zero port for HTTP and HTTPS says so in one line."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = _botwall("up", "--listen", f"127.0.0.1:{port}", "--tls-listen", f"127.0.0.1:{port}")
    expected = f"botwall: --listen and --tls-listen name the same port, {port}\n"
    assert (2, "", expected) == (result.returncode, result.stdout, result.stderr)


def test_address_not_on_this_machine_is_one_line_and_exit_2() -> None:
    """An address no interface of this machine has (TEST-NET-3) is refused the same way, with the system's reason."""
    result = _botwall("serve", "--listen", "203.0.113.7:0")
    expected = "botwall: --listen: cannot listen on 203.0.113.7:0: cannot assign requested address\n"
    assert (2, "", expected) == (result.returncode, result.stdout, result.stderr)
