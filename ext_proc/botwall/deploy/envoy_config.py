"""`botwall envoy-config`: the Envoy pieces that put botwall in front of an upstream, for the user's settings.

Every piece is built as a typed Envoy API message (the `xds-protos` classes) and only then turned into YAML-able
data, so a misspelt field or a wrong type fails here, at render time, instead of in Envoy. This module is off the hot
path: it is the only importer of Envoy's *configuration* protos (`_envoy_api.py` owns the ext_proc service protos).

Two forms:
- `snippet`: the pieces to paste into an existing Envoy (`http_filters`, `clusters`, `per_route`,
  `http_connection_manager`, and with TLS `listener_filters`), like `envoy/snippets/existing-gateway.yaml`;
- `bootstrap`: a complete standalone Envoy config, `envoy/gateway.yaml` filled in by `stack.render_gateway` with
  these pieces swapped in.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from envoy.config.accesslog.v3 import accesslog_pb2
from envoy.config.cluster.v3 import circuit_breaker_pb2, cluster_pb2
from envoy.config.core.v3 import address_pb2, grpc_service_pb2, protocol_pb2, substitution_format_string_pb2
from envoy.config.core.v3 import base_pb2 as core_base_pb2
from envoy.config.endpoint.v3 import endpoint_components_pb2, endpoint_pb2
from envoy.config.listener.v3 import listener_components_pb2
from envoy.extensions.access_loggers.file.v3 import file_pb2
from envoy.extensions.filters.common.set_filter_state.v3 import value_pb2 as filter_state_value_pb2
from envoy.extensions.filters.http.ext_proc.v3 import ext_proc_pb2, processing_mode_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.http.set_filter_state.v3 import set_filter_state_pb2
from envoy.extensions.filters.listener.tls_inspector.v3 import tls_inspector_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2
from google.protobuf import any_pb2, duration_pb2, struct_pb2, wrappers_pb2
from google.protobuf.json_format import MessageToJson
from google.protobuf.message import Message

from botwall.deploy.gateway import EnvoySettings, render_gateway
from botwall.errors import EnvoyConfigError

EXT_PROC_FILTER = "envoy.filters.http.ext_proc"
ROUTER_FILTER = "envoy.filters.http.router"
SET_FILTER_STATE_FILTER = "envoy.filters.http.set_filter_state"
TLS_INSPECTOR = "envoy.filters.listener.tls_inspector"
HTTP_PROTOCOL_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
CLUSTER_NAME = "botwall"
# The filter-state keys request.py reads through `request_attributes` (JA4_ATTRIBUTE, JA3_ATTRIBUTE there).
FINGERPRINT_STATE = (("botwall.ja4", "%TLS_JA4_FINGERPRINT%"), ("botwall.ja3", "%TLS_JA3_FINGERPRINT%"))
# Every in-flight HTTP request holds one stream to botwall: Envoy's default of 1,024 would fail (fail-closed) or skip
# botwall (fail-open) for requests beyond it.
CIRCUIT_BREAKER_LIMIT = 100_000
FILE_ACCESS_LOG = "envoy.access_loggers.file"
# The access log's path: the original path (before any route rewrite) or :path, WITHOUT the query string (NQ), which
# may carry a password or a token.
ACCESS_LOG_PATH = "%PATH(NQ:ORIG_OR_PATH)%"

_PM = processing_mode_pb2.ProcessingMode
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)$")


@dataclass(frozen=True)
class EnvoyConfigOptions:
    """What the user chose; every field has the default `botwall envoy-config` uses."""

    botwall: tuple[str, int] = ("127.0.0.1", 9191)  # host (IP or DNS name) and port of `botwall serve`
    fail_closed: bool = False  # Envoy's failure_mode_allow is `not fail_closed`
    message_timeout: str = "250ms"  # how long Envoy waits for each answer from botwall
    login_routes: tuple[str, ...] = ()  # exact paths whose request body botwall sees (BUFFERED)
    health_routes: tuple[str, ...] = ()  # exact paths that skip botwall
    tls: bool = False  # add the JA4/JA3 pieces (TLS inspector, filter state, request attributes)


@dataclass(frozen=True)
class BootstrapOptions:
    """Where the standalone bootstrap listens and what it fronts."""

    listen: tuple[str, int] = ("127.0.0.1", 8080)
    upstream: tuple[str, int] = ("127.0.0.1", 8000)
    admin: tuple[str, int] = ("127.0.0.1", 9901)
    tls_listen: tuple[str, int] = ("127.0.0.1", 8443)  # used with EnvoyConfigOptions.tls
    tls_cert: Path = Path("/etc/botwall/tls/cert.pem")
    tls_key: Path = Path("/etc/botwall/tls/key.pem")
    trusted_hops: int = 0
    access_log: str = "/dev/stdout"


def parse_duration(text: str) -> duration_pb2.Duration:
    """`250ms`, `0.25s` or `1s` as a protobuf Duration (strictly positive, at most an hour)."""
    match = _DURATION.match(text.strip())
    if not match:
        raise EnvoyConfigError(f"--message-timeout expects a duration such as 250ms or 0.5s, got {text!r}")
    number, unit = match.groups()
    nanos = round(float(number) * (1_000_000 if unit == "ms" else 1_000_000_000))
    if not 0 < nanos <= 3600 * 1_000_000_000:
        raise EnvoyConfigError(f"--message-timeout must be more than 0 and at most 1 hour, got {text!r}")
    duration = duration_pb2.Duration()
    duration.FromNanoseconds(nanos)
    return duration


def _check_routes(options: EnvoyConfigOptions) -> None:
    for flag, paths in (("--login-route", options.login_routes), ("--health-route", options.health_routes)):
        for path in paths:
            if not path.startswith("/") or any(c.isspace() for c in path):
                raise EnvoyConfigError(f"{flag} expects an absolute path such as /login, got {path!r}")
    both = sorted(set(options.login_routes) & set(options.health_routes))
    if both:
        raise EnvoyConfigError(f"{both[0]} cannot be both a login route and a health route")


def _data(message: Message) -> dict[str, Any]:
    """A message as plain YAML-able data (proto field names, `@type` for Any), via JSON to drop OrderedDicts."""
    data: dict[str, Any] = json.loads(MessageToJson(message, preserving_proto_field_name=True))
    return data


def _typed(message: Message) -> dict[str, Any]:
    packed = any_pb2.Any()
    packed.Pack(message)
    return _data(packed)


def _processing_mode(*, request_body: int) -> processing_mode_pb2.ProcessingMode:
    return _PM(
        request_header_mode=_PM.SEND,
        response_header_mode=_PM.SEND,
        request_body_mode=request_body,
        response_body_mode=_PM.NONE,
        request_trailer_mode=_PM.SKIP,
        response_trailer_mode=_PM.SKIP,
    )


def _all_six(mode: processing_mode_pb2.ProcessingMode) -> dict[str, Any]:
    """All six fields written out, NONE included (JSON omits proto defaults): a per-route mode replaces the whole
    filter mode, and a reader should not have to know which value an absent field falls back to."""
    data: dict[str, Any] = json.loads(
        MessageToJson(mode, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
    )
    order = (
        "request_header_mode",
        "response_header_mode",
        "request_body_mode",
        "response_body_mode",
        "request_trailer_mode",
        "response_trailer_mode",
    )
    return {key: data[key] for key in order}


def request_attributes(*, tls: bool) -> list[str]:
    """What botwall reads from Envoy besides headers: the client address, and on TLS the fingerprints."""
    attributes = ["source.address"]
    if tls:
        attributes += [f"filter_state['{key}']" for key, _ in FINGERPRINT_STATE]
    return attributes


def ext_proc_filter(options: EnvoyConfigOptions, *, tls: bool) -> dict[str, Any]:
    """The `envoy.filters.http.ext_proc` HTTP filter: request and response headers to botwall, no bodies."""
    config = ext_proc_pb2.ExternalProcessor(
        grpc_service=grpc_service_pb2.GrpcService(
            envoy_grpc=grpc_service_pb2.GrpcService.EnvoyGrpc(cluster_name=CLUSTER_NAME)
        ),
        stat_prefix="botwall",
        failure_mode_allow=not options.fail_closed,
        message_timeout=parse_duration(options.message_timeout),
        processing_mode=_processing_mode(request_body=_PM.NONE),
        request_attributes=request_attributes(tls=tls),
        metadata_options=ext_proc_pb2.MetadataOptions(
            receiving_namespaces=ext_proc_pb2.MetadataOptions.MetadataNamespaces(untyped=["botwall"])
        ),
    )
    typed_config = _typed(config)
    typed_config["failure_mode_allow"] = not options.fail_closed  # written out when false too: it is the choice
    typed_config["processing_mode"] = _all_six(config.processing_mode)
    return _data(http_connection_manager_pb2.HttpFilter(name=EXT_PROC_FILTER)) | {"typed_config": typed_config}


def set_filter_state_filter() -> dict[str, Any]:
    """Copies the TLS inspector's JA4/JA3 into filter state, where `request_attributes` reads them (no header)."""
    config = set_filter_state_pb2.Config(
        on_request_headers=[
            filter_state_value_pb2.FilterStateValue(
                object_key=key,
                factory_key="envoy.string",
                format_string=substitution_format_string_pb2.SubstitutionFormatString(
                    text_format_source=core_base_pb2.DataSource(inline_string=operator)
                ),
            )
            for key, operator in FINGERPRINT_STATE
        ]
    )
    filter_ = http_connection_manager_pb2.HttpFilter(name=SET_FILTER_STATE_FILTER)
    filter_.typed_config.Pack(config)
    return _data(filter_)


def access_log_format(*, tls: bool) -> dict[str, str]:
    """The access log's JSON fields: the request without its query string, and botwall's decision (dynamic
    metadata). The same fields as envoy/gateway.yaml's listeners (a test keeps them equal)."""
    fields = {
        "start_time": "%START_TIME%",
        "method": "%REQ(:METHOD)%",
        "path": ACCESS_LOG_PATH,
        "status": "%RESPONSE_CODE%",
        "details": "%RESPONSE_CODE_DETAILS%",
        "client": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
        "duration_ms": "%DURATION%",
    }
    if tls:
        fields["ja4"] = "%TLS_JA4_FINGERPRINT%"
    for key in ("score", "verdict", "action", "policy", "reasons", "fingerprint"):
        fields[f"botwall_{key}"] = f"%DYNAMIC_METADATA(botwall:{key})%"
    return fields


def http_connection_manager(*, tls: bool, access_log_path: str = "/dev/stdout") -> dict[str, Any]:
    """The HttpConnectionManager settings botwall relies on: one normalised path (RFC 3986 normalisation, duplicate
    slashes merged) for botwall, Envoy's routes and the upstream, and an access log that leaves query strings out."""
    log_format = _json_format(access_log_format(tls=tls))
    file_log = file_pb2.FileAccessLog(path=access_log_path, log_format=log_format)
    entry = accesslog_pb2.AccessLog(name=FILE_ACCESS_LOG)
    entry.typed_config.Pack(file_log)
    config = _data(
        http_connection_manager_pb2.HttpConnectionManager(
            normalize_path=wrappers_pb2.BoolValue(value=True), merge_slashes=True, access_log=[entry]
        )
    )
    # A Struct keeps no key order: write the fields back in the order a reader expects.
    config["access_log"][0]["typed_config"]["log_format"]["json_format"] = access_log_format(tls=tls)
    return {key: config[key] for key in ("normalize_path", "merge_slashes", "access_log")}


def _json_format(fields: dict[str, str]) -> substitution_format_string_pb2.SubstitutionFormatString:
    """A JSON access log format from its fields."""
    struct = struct_pb2.Struct()
    struct.update(fields)
    return substitution_format_string_pb2.SubstitutionFormatString(json_format=struct)


def router_filter() -> dict[str, Any]:
    """The router, always last."""
    filter_ = http_connection_manager_pb2.HttpFilter(name=ROUTER_FILTER)
    filter_.typed_config.Pack(router_pb2.Router())
    return _data(filter_)


def http_filters(options: EnvoyConfigOptions, *, tls: bool) -> list[dict[str, Any]]:
    """The HTTP filters to insert before the router (the router itself not included)."""
    return [*([set_filter_state_filter()] if tls else []), ext_proc_filter(options, tls=tls)]


def tls_inspector() -> dict[str, Any]:
    """The TLS inspector listener filter with JA3 and JA4 fingerprinting on."""
    filter_ = listener_components_pb2.ListenerFilter(name=TLS_INSPECTOR)
    filter_.typed_config.Pack(
        tls_inspector_pb2.TlsInspector(
            enable_ja3_fingerprinting=wrappers_pb2.BoolValue(value=True),
            enable_ja4_fingerprinting=wrappers_pb2.BoolValue(value=True),
        )
    )
    return _data(filter_)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def botwall_cluster(options: EnvoyConfigOptions) -> dict[str, Any]:
    """The HTTP/2 cluster to botwall: STATIC for an IP, STRICT_DNS for a name (a headless Service spreads streams
    over every replica), with circuit breakers raised for one stream per in-flight request."""
    host, port = options.botwall
    http2 = http_protocol_options_pb2.HttpProtocolOptions(
        explicit_http_config=http_protocol_options_pb2.HttpProtocolOptions.ExplicitHttpConfig(
            http2_protocol_options=protocol_pb2.Http2ProtocolOptions()
        )
    )
    limit = wrappers_pb2.UInt32Value(value=CIRCUIT_BREAKER_LIMIT)
    connect_timeout = duration_pb2.Duration()
    connect_timeout.FromMilliseconds(250)
    cluster = cluster_pb2.Cluster(
        name=CLUSTER_NAME,
        type=cluster_pb2.Cluster.STATIC if _is_ip(host) else cluster_pb2.Cluster.STRICT_DNS,
        connect_timeout=connect_timeout,
        circuit_breakers=circuit_breaker_pb2.CircuitBreakers(
            thresholds=[
                circuit_breaker_pb2.CircuitBreakers.Thresholds(
                    max_connections=limit, max_pending_requests=limit, max_requests=limit
                )
            ]
        ),
        load_assignment=endpoint_pb2.ClusterLoadAssignment(
            cluster_name=CLUSTER_NAME,
            endpoints=[
                endpoint_components_pb2.LocalityLbEndpoints(
                    lb_endpoints=[
                        endpoint_components_pb2.LbEndpoint(
                            endpoint=endpoint_components_pb2.Endpoint(
                                address=address_pb2.Address(
                                    socket_address=address_pb2.SocketAddress(address=host, port_value=port)
                                )
                            )
                        )
                    ]
                )
            ],
        ),
    )
    cluster.typed_extension_protocol_options[HTTP_PROTOCOL_OPTIONS].Pack(http2)
    return _data(cluster)


def health_route_config() -> dict[str, Any]:
    """`typed_per_filter_config` for a health route: the processor is skipped."""
    return {EXT_PROC_FILTER: _typed(ext_proc_pb2.ExtProcPerRoute(disabled=True))}


def login_route_config() -> dict[str, Any]:
    """`typed_per_filter_config` for a login route: the request body goes to botwall, BUFFERED. The override
    replaces the filter's whole processing mode, so all six fields are spelled out."""
    mode = _processing_mode(request_body=_PM.BUFFERED)
    config = _typed(ext_proc_pb2.ExtProcPerRoute(overrides=ext_proc_pb2.ExtProcOverrides(processing_mode=mode)))
    config["overrides"]["processing_mode"] = _all_six(mode)
    return {EXT_PROC_FILTER: config}


def per_route(options: EnvoyConfigOptions) -> list[dict[str, Any]]:
    """One entry per health and login route: its match and the `typed_per_filter_config` to add to it."""
    _check_routes(options)
    entries = [{"match": {"path": p}, "typed_per_filter_config": health_route_config()} for p in options.health_routes]
    entries += [{"match": {"path": p}, "typed_per_filter_config": login_route_config()} for p in options.login_routes]
    return entries


def render_snippet(options: EnvoyConfigOptions) -> dict[str, Any]:
    """The pieces for an existing Envoy, keyed like `envoy/snippets/existing-gateway.yaml`."""
    snippet: dict[str, Any] = {
        "http_filters": http_filters(options, tls=options.tls),
        "clusters": [botwall_cluster(options)],
        "per_route": per_route(options),
        "http_connection_manager": http_connection_manager(tls=options.tls),
    }
    if options.tls:
        snippet["listener_filters"] = [tls_inspector()]
    return snippet


_SNIPPET_COMMENTS = {
    "http_filters": "Paste into your HttpConnectionManager's http_filters, before envoy.filters.http.router.",
    "clusters": "Paste into static_resources.clusters (or serve it over CDS): the HTTP/2 cluster to botwall.",
    "per_route": "For each route whose match is shown, add this typed_per_filter_config to your route.",
    "http_connection_manager": "Merge into each HttpConnectionManager's typed_config: one normalised path, and an "
    "access log without query strings.",
    "listener_filters": "Paste into your TLS listener's listener_filters (one TLS inspector per listener).",
}


def snippet_yaml(snippet: dict[str, Any], options: EnvoyConfigOptions) -> str:
    """The snippet as commented YAML (one mapping; the comments say where each key goes)."""
    if options.fail_closed:
        mode = "fail-closed: Envoy answers 500 when botwall is down, 504 when it is slower than"
    else:
        mode = "fail-open: requests pass untagged when botwall is down or slower than"
    lines = [
        "# botwall for an existing Envoy: generated by `botwall envoy-config --form snippet`.",
        f"# Failure mode: {mode} message_timeout ({options.message_timeout}).",
    ]
    for key, value in snippet.items():
        lines.append(f"# {_SNIPPET_COMMENTS[key]}")
        lines.append(yaml.safe_dump({key: value}, sort_keys=False).rstrip())
    return "\n".join(lines) + "\n"


def _routes_for(options: EnvoyConfigOptions, route_template: dict[str, Any]) -> list[dict[str, Any]]:
    routes = []
    for entry in per_route(options):
        route = {"match": entry["match"], **{k: v for k, v in route_template.items() if k != "match"}}
        route["typed_per_filter_config"] = entry["typed_per_filter_config"]
        routes.append(route)
    return routes


def render_bootstrap(options: EnvoyConfigOptions, where: BootstrapOptions | None = None) -> dict[str, Any]:
    """A complete standalone Envoy config: the gateway template rendered for these addresses, with the filters,
    the botwall cluster and the per-route settings replaced by the typed pieces above."""
    where = where or BootstrapOptions()
    if where.trusted_hops < 0:
        raise EnvoyConfigError(f"--trusted-hops expects 0 or more, got {where.trusted_hops}")
    config = render_gateway(
        EnvoySettings(
            http=where.listen,
            tls=where.tls_listen if options.tls else None,
            tls_cert=where.tls_cert,
            tls_key=where.tls_key,
            botwall=options.botwall,
            upstream=where.upstream,
            trusted_hops=where.trusted_hops,
            fail_closed=options.fail_closed,
            access_log=where.access_log,
            admin=where.admin,
        )
    )
    for listener in config["static_resources"]["listeners"]:
        tls = listener["name"] == "https"
        if tls:
            listener["listener_filters"] = [tls_inspector()]
        for chain in listener["filter_chains"]:
            hcm = chain["filters"][0]["typed_config"]
            hcm.update(http_connection_manager(tls=tls, access_log_path=where.access_log))
            hcm["http_filters"] = [*http_filters(options, tls=tls), router_filter()]
            for vhost in hcm["route_config"]["virtual_hosts"]:
                catch_all = next(r for r in vhost["routes"] if r["match"] == {"prefix": "/"})
                index = vhost["routes"].index(catch_all)
                vhost["routes"][index:index] = _routes_for(options, catch_all)
    clusters = []
    for cluster in config["static_resources"]["clusters"]:
        if cluster["name"] == CLUSTER_NAME:
            cluster = botwall_cluster(options)
        elif not _is_ip(where.upstream[0]):
            cluster["type"] = "STRICT_DNS"  # an upstream named by DNS, such as a Kubernetes Service
        clusters.append(cluster)
    config["static_resources"]["clusters"] = clusters
    return config


def render(options: EnvoyConfigOptions, form: str, where: BootstrapOptions | None = None) -> str:
    """The YAML text `botwall envoy-config` prints."""
    if form == "snippet":
        return snippet_yaml(render_snippet(options), options)
    if form == "bootstrap":
        header = "# Standalone Envoy for botwall: generated by `botwall envoy-config --form bootstrap`.\n"
        return header + yaml.safe_dump(render_bootstrap(options, where), sort_keys=False)
    raise EnvoyConfigError(f"--form expects snippet or bootstrap, got {form!r}")
