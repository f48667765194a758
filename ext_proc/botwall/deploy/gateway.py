"""The standalone gateway: `envoy/gateway.yaml` filled in with addresses, failure mode and options.

`botwall up`, `botwall envoy-config --form bootstrap`, the tests and the benchmarks start Envoy with this.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from botwall.errors import StackError

REPO_ENVOY_DIR = Path(__file__).resolve().parents[3] / "envoy"
_EXT_PROC = "envoy.filters.http.ext_proc"


def gateway_template() -> dict[str, Any]:
    """The standalone gateway config shipped in envoy/gateway.yaml, as data."""
    path = REPO_ENVOY_DIR / "gateway.yaml"
    if not path.is_file():
        raise StackError(f"{path} is missing: `botwall up` runs from a checkout installed with `make install`")
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def _socket(host: str, port: int) -> dict[str, Any]:
    return {"socket_address": {"address": host, "port_value": port}}


def _endpoint(cluster: dict[str, Any], host: str, port: int) -> None:
    cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"] = _socket(host, port)


@dataclass
class EnvoySettings:
    """What to fill into the gateway template."""

    http: tuple[str, int] | None = ("127.0.0.1", 0)
    tls: tuple[str, int] | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    botwall: tuple[str, int] | None = ("127.0.0.1", 0)  # None: no ext_proc filter (Envoy alone)
    upstream: tuple[str, int] | None = None  # None: answer every request with a direct 200 (benchmarks)
    trusted_hops: int = 0
    fail_closed: bool = False
    message_timeout: str | None = None
    access_log: str = "/dev/stdout"
    admin: tuple[str, int] = ("127.0.0.1", 0)


def render_gateway(settings: EnvoySettings, template: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The gateway config with addresses, failure mode and options filled in."""
    cfg = copy.deepcopy(dict(template) if template is not None else gateway_template())
    cfg["admin"]["address"] = _socket(*settings.admin)
    listeners = []
    for listener in cfg["static_resources"]["listeners"]:
        name = listener["name"]
        bind = settings.http if name == "http" else settings.tls
        if bind is None:
            continue
        listener["address"] = _socket(*bind)
        for chain in listener["filter_chains"]:
            if "transport_socket" in chain:
                tls_cert = chain["transport_socket"]["typed_config"]["common_tls_context"]["tls_certificates"][0]
                if settings.tls_cert is None or settings.tls_key is None:
                    raise StackError("a TLS listener needs tls_cert and tls_key")
                tls_cert["certificate_chain"] = {"filename": str(settings.tls_cert)}
                tls_cert["private_key"] = {"filename": str(settings.tls_key)}
            hcm = chain["filters"][0]["typed_config"]
            hcm["xff_num_trusted_hops"] = settings.trusted_hops
            hcm["access_log"][0]["typed_config"]["path"] = settings.access_log
            filters = hcm["http_filters"]
            if settings.botwall is None:
                hcm["http_filters"] = [f for f in filters if f["name"] == "envoy.filters.http.router"]
            for f in hcm["http_filters"]:
                if f["name"] == _EXT_PROC:
                    f["typed_config"]["failure_mode_allow"] = not settings.fail_closed
                    if settings.message_timeout:
                        f["typed_config"]["message_timeout"] = settings.message_timeout
            for vhost in hcm["route_config"]["virtual_hosts"]:
                for route in vhost["routes"]:
                    if settings.botwall is None:
                        route.pop("typed_per_filter_config", None)
                    if settings.upstream is None and "route" in route:
                        del route["route"]
                        route["direct_response"] = {"status": 200, "body": {"inline_string": "hello\n"}}
        listeners.append(listener)
    cfg["static_resources"]["listeners"] = listeners
    clusters = []
    for cluster in cfg["static_resources"]["clusters"]:
        if cluster["name"] == "botwall" and settings.botwall is not None:
            _endpoint(cluster, *settings.botwall)
            clusters.append(cluster)
        elif cluster["name"] == "upstream" and settings.upstream is not None:
            _endpoint(cluster, *settings.upstream)
            clusters.append(cluster)
    cfg["static_resources"]["clusters"] = clusters
    return cfg
