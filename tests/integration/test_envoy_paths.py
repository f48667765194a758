"""What the shipped Envoy configs log of a request's path, through real Envoy 1.40: the access log leaves query
strings out."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from botwall.envoy_config import (
    BootstrapOptions,
    EnvoyConfigOptions,
    access_log_format,
    render_bootstrap,
    render_snippet,
)
from botwall.stack import start_envoy

from .conftest import BackgroundShop, Stack, StackFactory, free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
# Nothing is refused: the access log tests need requests that reach the upstream.
CONFIG = """
model: {scorer: rules}
decision_log: {allow_sample_rate: 1.0}
policies: []
"""
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
    """The standalone config `botwall envoy-config --form bootstrap` renders logs no query string (botwall is away
    here: fail-open lets the request through)."""
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
        response = stack.request("/_echo/bootstrap?password=hunter2")
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


def test_every_shipped_access_log_leaves_query_strings_out() -> None:
    """envoy/gateway.yaml (both listeners), the typed bootstrap and the snippet carry the same access log fields, the
    path without its query."""
    gateway = yaml.safe_load((ROOT / "envoy" / "gateway.yaml").read_text())
    bootstrap = render_bootstrap(EnvoyConfigOptions(tls=True))
    snippet = render_snippet(EnvoyConfigOptions(tls=True))["http_connection_manager"]
    formats = [
        (hcm["stat_prefix"], hcm["access_log"][0]["typed_config"]["log_format"]["json_format"])
        for hcm in [*_hcms(gateway), *_hcms(bootstrap)]
    ]
    expected = [("ingress_http", access_log_format(tls=False)), ("ingress_https", access_log_format(tls=True))]
    assert expected * 2 == formats
    assert "%PATH(NQ:ORIG_OR_PATH)%" == access_log_format(tls=True)["path"]
    assert access_log_format(tls=True) == snippet["access_log"][0]["typed_config"]["log_format"]["json_format"]
