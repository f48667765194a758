"""What the shipped Envoy configs do to a request's path, through real Envoy 1.40: one normalised path for botwall
and the upstream (`normalize_path`, `merge_slashes`), and an access log that leaves query strings out."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from botwall.deploy.envoy_config import (
    BootstrapOptions,
    EnvoyConfigOptions,
    access_log_format,
    render_bootstrap,
    render_snippet,
)
from botwall.edge.envoy_api import ProcessingRequest, ProcessingResponse, add_ExternalProcessorServicer_to_server
from botwall.lab.passthrough import PassThroughServicer
from botwall.lab.stack import start_envoy
from botwall.lab.testing import captured_headers

from .conftest import BackgroundShop, Stack, StackFactory, free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
# Nothing is refused: the access log tests need requests that reach the upstream.
CONFIG = """
model: {scorer: rules}
decision_log: {allow_sample_rate: 1.0}
policies: []
"""
XHR_HEADERS = captured_headers("firefox-headless", "xhr", "http", "127.0.0.1")
HCM_NAME = "envoy.filters.network.http_connection_manager"


def _access_log(stack: Stack, paths: set[str]) -> list[dict[str, Any]]:
    """Envoy's access log once it holds an entry for each of `paths` (it flushes every 250 ms here)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        entries = stack.access_log()
        if paths <= {e["path"] for e in entries}:
            return entries
        time.sleep(0.1)
    raise AssertionError(f"no access log entries for {paths}: {stack.access_log()}")


class _Recorder(PassThroughServicer):
    """The pass-through processor, noting the `:path` of every request Envoy hands it."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths

    async def Process(  # noqa: N802 - the gRPC method name
        self, request_iterator: AsyncIterator[ProcessingRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[ProcessingResponse]:
        """Record, then answer as the pass-through does."""

        async def recorded() -> AsyncIterator[ProcessingRequest]:
            async for request in request_iterator:
                if request.WhichOneof("request") == "request_headers":
                    headers = request.request_headers.headers.headers
                    self.paths += [h.raw_value.decode() for h in headers if h.key == ":path"]
                yield request

        async for response in super().Process(recorded(), context):
            yield response


@pytest.fixture
def recording_processor() -> Iterator[tuple[int, list[str]]]:
    """A recording ext_proc processor on its own thread and event loop: its port and the paths it has seen."""
    paths: list[str] = []
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> tuple[grpc.aio.Server, int]:
        server = grpc.aio.server()
        add_ExternalProcessorServicer_to_server(_Recorder(paths), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        return server, port

    server, port = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    yield port, paths
    asyncio.run_coroutine_threadsafe(server.stop(0), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def test_envoy_normalises_the_path_the_processor_and_the_upstream_see(
    make_stack: StackFactory, recording_processor: tuple[int, list[str]]
) -> None:
    """`/api/%6cogin`, `/a/../api/login` and `//api//login` reach both the ext_proc processor and the upstream as
    `/api/login` (Envoy decodes %6c, an unreserved character, resolves dot segments and merges slashes), while an
    encoded slash is left alone (`/api%2Flogin` stays as sent: Envoy's default keeps escaped slashes unchanged)."""
    port, processor = recording_processor
    stack = make_stack(start_botwall_process=False, botwall_port=port)
    sent = ["/api/%6cogin", "/a/../api/login", "//api//login", "/api%2Flogin"]
    upstream = []
    for path in sent:
        before = len(stack.shop.requests)
        stack.request(path, headers=XHR_HEADERS)
        upstream += [r["path"] for r in list(stack.shop.requests)[before:]]
    expected = ["/api/login", "/api/login", "/api/login", "/api%2Flogin"]
    assert (expected, expected) == (processor, upstream)


def test_access_log_leaves_query_strings_out_on_both_listeners(make_stack: StackFactory) -> None:
    """A password sent in a GET query string reaches the upstream but never Envoy's access log, on the HTTP and the
    HTTPS listener: the path is logged without its query."""
    stack = make_stack(CONFIG, tls=True)
    for listener in ("http", "https"):
        response = stack.request(f"/_echo/{listener}?user=alice&password=hunter2", listener=listener)
        assert f"/_echo/{listener}?user=alice&password=hunter2" == response.json()["path"]
    entries = _access_log(stack, {"/_echo/http", "/_echo/https"})
    assert ["/_echo/http", "/_echo/https"] == sorted(e["path"] for e in entries)
    assert "hunter2" not in (stack.workdir / "access.log").read_text()


def test_rendered_bootstrap_normalises_and_logs_no_query(tmp_path: Path, shop: BackgroundShop) -> None:
    """The standalone config `botwall envoy-config --form bootstrap` renders merges slashes for the upstream and logs
    no query string (botwall is away here: fail-open lets the request through)."""
    options = EnvoyConfigOptions(botwall=("127.0.0.1", free_port()))
    where = BootstrapOptions(
        listen=("127.0.0.1", 0),
        upstream=("127.0.0.1", shop.port),
        admin=("127.0.0.1", 0),
        access_log=str(tmp_path / "access.log"),
    )
    envoy = start_envoy(render_bootstrap(options, where), tmp_path)
    stack = Stack(envoy, None, tmp_path, shop)
    try:
        response = stack.request("//_echo//bootstrap?password=hunter2")
        entries = _access_log(stack, {"/_echo/bootstrap"})
    finally:
        envoy.stop()
        print(f"--- envoy log ---\n{envoy.logs()}")
    assert "/_echo/bootstrap?password=hunter2" == response.json()["path"]
    assert ["/_echo/bootstrap"] == [e["path"] for e in entries]
    assert "hunter2" not in (tmp_path / "access.log").read_text()


def _hcms(config: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        f["typed_config"]
        for listener in config["static_resources"]["listeners"]
        for chain in listener["filter_chains"]
        for f in chain["filters"]
        if f["name"] == HCM_NAME
    ]


def test_every_shipped_connection_manager_normalises_and_logs_no_query() -> None:
    """envoy/gateway.yaml (both listeners), the typed bootstrap and snippet, and the Istio patch turn on
    normalize_path and merge_slashes, and every access log they carry has the same fields, path without query."""
    gateway = yaml.safe_load((ROOT / "envoy" / "gateway.yaml").read_text())
    bootstrap = render_bootstrap(EnvoyConfigOptions(tls=True))
    snippet = render_snippet(EnvoyConfigOptions(tls=True))["http_connection_manager"]
    istio = [
        p["patch"]["value"]["typed_config"]
        for p in yaml.safe_load((ROOT / "envoy" / "istio" / "envoyfilter.yaml").read_text())["spec"]["configPatches"]
        if p["applyTo"] == "NETWORK_FILTER"
    ]
    managers = [*_hcms(gateway), *_hcms(bootstrap), snippet, *istio]
    assert [(True, True)] * 6 == [(m.get("normalize_path"), m.get("merge_slashes")) for m in managers]
    formats = [
        (hcm["stat_prefix"], hcm["access_log"][0]["typed_config"]["log_format"]["json_format"])
        for hcm in [*_hcms(gateway), *_hcms(bootstrap)]
    ]
    expected = [("ingress_http", access_log_format(tls=False)), ("ingress_https", access_log_format(tls=True))]
    assert expected * 2 == formats
    assert "%PATH(NQ:ORIG_OR_PATH)%" == access_log_format(tls=True)["path"]
    assert access_log_format(tls=True) == snippet["access_log"][0]["typed_config"]["log_format"]["json_format"]
