"""The standalone gateway: a complete Envoy config, Envoy in front of one upstream with botwall as its ext_proc
processor, built from the typed pieces in `messages` for the addresses and options in `EnvoySettings`.

`botwall up`, `botwall envoy-config --form bootstrap`, the Helm chart's sidecar, the tests and the benchmarks all
start Envoy with this rendering; `envoy/gateway.yaml` is one of them, written out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envoy.config.bootstrap.v3 import bootstrap_pb2
from envoy.config.core.v3 import base_pb2 as core_base_pb2
from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.config.route.v3 import route_components_pb2, route_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from envoy.extensions.transport_sockets.tls.v3 import common_pb2, tls_pb2
from google.protobuf import any_pb2, wrappers_pb2
from google.protobuf.message import Message

from botwall.deploy import _yaml
from botwall.deploy.messages import (
    CLUSTER_NAME,
    DEFAULT_MESSAGE_TIMEOUT,
    HTTP_CONNECTION_MANAGER,
    SET_FILTER_STATE_FILTER,
    access_log,
    botwall_cluster,
    check_routes,
    data,
    health_route_config,
    http_filters,
    login_route_config,
    parse_duration,
    path_settings,
    router_filter,
    socket,
    tls_inspector,
    upstream_cluster,
)
from botwall.errors import EnvoyConfigError

UPSTREAM_CLUSTER = "upstream"
HEALTH_PATH = "/envoy/healthz"  # Envoy's own health route: answered by Envoy, botwall skipped
TLS_TRANSPORT_SOCKET = "envoy.transport_sockets.tls"


@dataclass(frozen=True)
class EnvoySettings:
    """What the standalone gateway listens on, fronts and asks of botwall; every field has a default."""

    http: tuple[str, int] | None = ("127.0.0.1", 0)  # the HTTP listener; None: none
    tls: tuple[str, int] | None = None  # the HTTPS listener (TLS inspector, JA4/JA3 to botwall); None: none
    tls_cert: Path | None = None  # the HTTPS listener's certificate chain and key files
    tls_key: Path | None = None
    botwall: tuple[str, int] | None = ("127.0.0.1", 0)  # None: no ext_proc filter (Envoy alone)
    botwall_ports: tuple[int, ...] = ()  # each worker's port (`botwall serve --workers N`); () : botwall's port alone
    upstream: tuple[str, int] | None = None  # None: answer every request with a direct 200 (benchmarks)
    upstream_timeout: str = "30s"  # the route timeout of a request to the upstream
    trusted_hops: int = 0  # proxies in front of Envoy whose X-Forwarded-For entries are trusted
    fail_closed: bool = False  # Envoy's failure_mode_allow is `not fail_closed`
    message_timeout: str = DEFAULT_MESSAGE_TIMEOUT  # how long Envoy waits for each answer from botwall
    login_routes: tuple[str, ...] = ()  # exact paths whose request body botwall sees (BUFFERED), by route
    health_routes: tuple[str, ...] = ()  # exact paths that skip botwall, besides HEALTH_PATH
    access_log: str = "/dev/stdout"
    admin: tuple[str, int] = ("127.0.0.1", 0)


def _packed(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def _routes(settings: EnvoySettings) -> list[route_components_pb2.Route]:
    """Envoy's health route, then the health and login routes with their per-route config, then the catch-all."""

    def route(match: route_components_pb2.RouteMatch, per_route: dict[str, any_pb2.Any]) -> route_components_pb2.Route:
        if settings.upstream is None:
            hello = core_base_pb2.DataSource(inline_string="hello\n")
            out = route_components_pb2.Route(
                match=match, direct_response=route_components_pb2.DirectResponseAction(status=200, body=hello)
            )
        else:
            timeout = parse_duration(settings.upstream_timeout, "the upstream timeout")
            out = route_components_pb2.Route(
                match=match, route=route_components_pb2.RouteAction(cluster=UPSTREAM_CLUSTER, timeout=timeout)
            )
        if settings.botwall is not None:
            for name, config in per_route.items():
                out.typed_per_filter_config[name].CopyFrom(config)
        return out

    ok = core_base_pb2.DataSource(inline_string="ok\n")
    health = route_components_pb2.Route(
        match=route_components_pb2.RouteMatch(path=HEALTH_PATH),
        direct_response=route_components_pb2.DirectResponseAction(status=200, body=ok),
    )
    if settings.botwall is not None:
        for name, config in health_route_config().items():
            health.typed_per_filter_config[name].CopyFrom(config)
    return [
        health,
        *(route(route_components_pb2.RouteMatch(path=p), health_route_config()) for p in settings.health_routes),
        *(route(route_components_pb2.RouteMatch(path=p), login_route_config()) for p in settings.login_routes),
        route(route_components_pb2.RouteMatch(prefix="/"), {}),
    ]


def _connection_manager(settings: EnvoySettings, *, tls: bool) -> hcm_pb2.HttpConnectionManager:
    """The listener's HTTP connection manager: routes, botwall's filters before the router, one normalised path,
    the client address from the trusted hops, and an access log without query strings."""
    filters = []
    if settings.botwall is not None:
        filters = http_filters(fail_closed=settings.fail_closed, message_timeout=settings.message_timeout, tls=tls)
    manager = hcm_pb2.HttpConnectionManager(
        stat_prefix="ingress_https" if tls else "ingress_http",
        route_config=route_pb2.RouteConfiguration(
            name="gateway_tls" if tls else "gateway",
            virtual_hosts=[route_components_pb2.VirtualHost(name="all", domains=["*"], routes=_routes(settings))],
        ),
        http_filters=[*filters, router_filter()],
        access_log=[access_log(tls=tls, path=settings.access_log)],
        use_remote_address=wrappers_pb2.BoolValue(value=True),
        xff_num_trusted_hops=settings.trusted_hops,
    )
    manager.MergeFrom(path_settings())
    return manager


def _tls_socket(settings: EnvoySettings) -> core_base_pb2.TransportSocket:
    if settings.tls_cert is None or settings.tls_key is None:
        raise EnvoyConfigError("a TLS listener needs a certificate and a key (tls_cert, tls_key)")
    certificate = common_pb2.TlsCertificate(
        certificate_chain=core_base_pb2.DataSource(filename=str(settings.tls_cert)),
        private_key=core_base_pb2.DataSource(filename=str(settings.tls_key)),
    )
    context = tls_pb2.DownstreamTlsContext(
        common_tls_context=tls_pb2.CommonTlsContext(alpn_protocols=["h2", "http/1.1"], tls_certificates=[certificate])
    )
    return core_base_pb2.TransportSocket(name=TLS_TRANSPORT_SOCKET, typed_config=_packed(context))


def _listener(settings: EnvoySettings, name: str, bind: tuple[str, int], *, tls: bool) -> listener_pb2.Listener:
    manager = listener_components_pb2.Filter(
        name=HTTP_CONNECTION_MANAGER, typed_config=_packed(_connection_manager(settings, tls=tls))
    )
    chain = listener_components_pb2.FilterChain(
        filters=[manager], transport_socket=_tls_socket(settings) if tls else None
    )
    return listener_pb2.Listener(
        name=name, address=socket(*bind), filter_chains=[chain], listener_filters=[tls_inspector()] if tls else []
    )


def gateway(settings: EnvoySettings) -> bootstrap_pb2.Bootstrap:
    """The standalone gateway as a typed Bootstrap."""
    if settings.trusted_hops < 0:
        raise EnvoyConfigError(f"--trusted-hops expects 0 or more, got {settings.trusted_hops}")
    check_routes(settings.login_routes, settings.health_routes)
    config = bootstrap_pb2.Bootstrap(admin=bootstrap_pb2.Admin(address=socket(*settings.admin)))
    for name, bind, tls in (("http", settings.http, False), ("https", settings.tls, True)):
        if bind is not None:
            config.static_resources.listeners.append(_listener(settings, name, bind, tls=tls))
    if settings.botwall is not None:
        config.static_resources.clusters.append(
            botwall_cluster(*settings.botwall, name=CLUSTER_NAME, ports=settings.botwall_ports)
        )
    if settings.upstream is not None:
        config.static_resources.clusters.append(upstream_cluster(*settings.upstream, name=UPSTREAM_CLUSTER))
    return config


def render_gateway(settings: EnvoySettings) -> dict[str, Any]:
    """The standalone gateway as YAML-able data (admin first, `xff_num_trusted_hops` written out even at 0)."""
    rendered = data(gateway(settings))
    for listener in rendered["static_resources"].get("listeners", []):
        for chain in listener["filter_chains"]:
            manager = chain["filters"][0]["typed_config"]
            hops = {"xff_num_trusted_hops": manager.pop("xff_num_trusted_hops", 0)}
            chain["filters"][0]["typed_config"] = _after(manager, "use_remote_address", hops)
    return {"admin": rendered["admin"], "static_resources": rendered["static_resources"]}


def _after(mapping: dict[str, Any], key: str, extra: Mapping[str, Any]) -> dict[str, Any]:
    """`mapping` with `extra` inserted right after `key`."""
    out: dict[str, Any] = {}
    for name, value in mapping.items():
        out[name] = value
        if name == key:
            out.update(extra)
    return out


def failure_mode_note(*, fail_closed: bool, message_timeout: str) -> str:
    """What the chosen failure mode means, for a rendered file's header."""
    chosen = "fail-closed" if fail_closed else "fail-open"
    return (
        f"Failure mode: {chosen} here (failure_mode_allow: {str(not fail_closed).lower()} on the ext_proc filter).\n"
        "  failure_mode_allow: true  (fail-open) - when botwall is down, or slower than message_timeout, requests\n"
        "    pass to the upstream untagged and unprotected. Availability wins; bots get through for as long as\n"
        "    botwall is away, and a slow botwall adds up to message_timeout to each request.\n"
        "  failure_mode_allow: false (fail-closed) - when botwall is down Envoy answers 500, and 504 when botwall is\n"
        "    slower than message_timeout. Protection wins; a botwall outage is a site outage.\n"
        f"message_timeout ({message_timeout} here) bounds how long Envoy waits for each answer from botwall (which\n"
        "answers in about 1-3 ms); Envoy reconnects to botwall by itself."
    )


COMMENTS: dict[_yaml.Path, str] = {
    ("use_remote_address",): (
        "source.address is the client: the TCP peer, or with xff_num_trusted_hops N > 0 the address N hops back in\n"
        "X-Forwarded-For (set N to the number of proxies, such as a CDN, in front of this Envoy)."
    ),
    ("normalize_path",): (
        "One path for everyone: Envoy normalises it (RFC 3986: percent-encoded unreserved characters decoded, dot\n"
        "segments resolved) and merges duplicate slashes before any filter or route reads it, so botwall's\n"
        "policies, Envoy's routes and the upstream all see `/api/login` for `/api/%6cogin` or `//api//login`."
    ),
    ("json_format", "path"): "NQ: no query string (it may carry a password or a token).",
    ("routes", 0): f"{HEALTH_PATH}: Envoy answers it itself, without botwall (load balancer and kubelet probes).",
    ("typed_config", "allow_mode_override"): (
        "botwall asks for the request body of its configured login routes only, per request (mode_override)."
    ),
    ("typed_config", "metadata_options"): (
        "botwall's decision as dynamic metadata: the botwall_* fields of the access log."
    ),
    ("typed_config", "mutation_rules"): (
        "A deceive policy's fake answer carries x-envoy-upstream-service-time, as a real one does."
    ),
    ("http_filters", SET_FILTER_STATE_FILTER): (
        "The TLS fingerprints go to botwall as filter state read through request_attributes: no header is\n"
        "involved, so a client cannot forge them and nothing leaks to the upstream."
    ),
    ("clusters", CLUSTER_NAME, "circuit_breakers"): (
        "Every in-flight HTTP request holds one stream to botwall: size these for peak concurrency, or Envoy fails\n"
        "(fail-closed) or skips botwall (fail-open) beyond the default of 1,024."
    ),
}


def gateway_yaml(settings: EnvoySettings, header: str) -> str:
    """The standalone gateway as commented YAML, under `header` (a comment block)."""
    note = failure_mode_note(fail_closed=settings.fail_closed, message_timeout=settings.message_timeout)
    full_header = f"{header}\n\n{note}" if settings.botwall is not None else header
    return _yaml.dump(render_gateway(settings), COMMENTS, header=full_header)
