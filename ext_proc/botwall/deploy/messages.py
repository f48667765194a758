"""The typed pieces every Envoy config botwall renders is made of, and the one conversion to YAML-able data.

Each piece is an Envoy API message (the `xds-protos` classes), so a misspelt field or a wrong type fails here, at
render time, instead of in Envoy. This is the only importer of Envoy's *configuration* protos (`edge.envoy_api`
owns the ext_proc service protos and the processing modes); nothing on a request's path imports it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Any

from envoy.config.accesslog.v3 import accesslog_pb2
from envoy.config.cluster.v3 import circuit_breaker_pb2, cluster_pb2
from envoy.config.common.mutation_rules.v3 import mutation_rules_pb2
from envoy.config.core.v3 import address_pb2, grpc_service_pb2, protocol_pb2, substitution_format_string_pb2
from envoy.config.core.v3 import base_pb2 as core_base_pb2
from envoy.config.endpoint.v3 import endpoint_components_pb2, endpoint_pb2
from envoy.config.listener.v3 import listener_components_pb2
from envoy.extensions.access_loggers.file.v3 import file_pb2
from envoy.extensions.filters.common.set_filter_state.v3 import value_pb2 as filter_state_value_pb2
from envoy.extensions.filters.http.ext_proc.v3 import ext_proc_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.http.set_filter_state.v3 import set_filter_state_pb2
from envoy.extensions.filters.listener.tls_inspector.v3 import tls_inspector_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2
from google.protobuf import any_pb2, descriptor_pool, duration_pb2, struct_pb2, wrappers_pb2
from google.protobuf.descriptor import Descriptor
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from botwall.edge.decision_log import METADATA_NAMESPACE
from botwall.edge.envoy_api import BODY_MODE, HEADERS_MODE, ProcessingMode
from botwall.errors import EnvoyConfigError
from botwall.request import EXT_PROC_FILTER, FINGERPRINT_STATE, REQUEST_ATTRIBUTES, SOURCE_ADDRESS

ROUTER_FILTER = "envoy.filters.http.router"
SET_FILTER_STATE_FILTER = "envoy.filters.http.set_filter_state"
TLS_INSPECTOR = "envoy.filters.listener.tls_inspector"
HTTP_CONNECTION_MANAGER = "envoy.filters.network.http_connection_manager"
HTTP_PROTOCOL_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
FILE_ACCESS_LOG = "envoy.access_loggers.file"
CLUSTER_NAME = "botwall"
STAT_PREFIX = "botwall"  # stats: http.<connection manager's stat_prefix>.ext_proc.botwall.*
DEFAULT_MESSAGE_TIMEOUT = "250ms"
# Every in-flight HTTP request holds one stream to botwall: Envoy's default of 1,024 would fail (fail-closed) or skip
# botwall (fail-open) for requests beyond it.
CIRCUIT_BREAKER_LIMIT = 100_000
# The access log's path: the original path (before any route rewrite) or :path, WITHOUT the query string (NQ), which
# may carry a password or a token.
ACCESS_LOG_PATH = "%PATH(NQ:ORIG_OR_PATH)%"
# The Envoy substitution operators of the TLS fingerprints, by filter-state key (request.FINGERPRINT_STATE).
FINGERPRINT_OPERATORS = {"ja4": "%TLS_JA4_FINGERPRINT%", "ja3": "%TLS_JA3_FINGERPRINT%"}
DECISION_FIELDS = ("score", "verdict", "action", "policy", "reasons", "fingerprint")

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)$")
_PROTO_DURATION = re.compile(r"^(\d+)\.(\d*?)0*s$")
_EXT_PROC_TYPE = ext_proc_pb2.ExternalProcessor.DESCRIPTOR.full_name
# Written out even at their proto default, which MessageToDict leaves out: a reader should not have to know what an
# absent field means. A per-route mode replaces the whole filter mode, so all six of its fields are spelled out.
_SPELLED_OUT = {_EXT_PROC_TYPE: ("failure_mode_allow",)}
_MODE_FIELDS = tuple(f.name for f in ProcessingMode.DESCRIPTOR.fields)


def parse_duration(text: str, flag: str = "--message-timeout") -> duration_pb2.Duration:
    """`250ms`, `0.25s` or `1s` as a protobuf Duration (strictly positive, at most an hour)."""
    match = _DURATION.match(text.strip())
    if not match:
        raise EnvoyConfigError(f"{flag} expects a duration such as 250ms or 0.5s, got {text!r}")
    number, unit = match.groups()
    nanos = round(float(number) * (1_000_000 if unit == "ms" else 1_000_000_000))
    if not 0 < nanos <= 3600 * 1_000_000_000:
        raise EnvoyConfigError(f"{flag} must be more than 0 and at most 1 hour, got {text!r}")
    duration = duration_pb2.Duration()
    duration.FromNanoseconds(nanos)
    return duration


def check_routes(login_routes: Iterable[str], health_routes: Iterable[str]) -> None:
    """Login and health routes are exact absolute paths, and no path is both."""
    login, health = tuple(login_routes), tuple(health_routes)
    for flag, paths in (("--login-route", login), ("--health-route", health)):
        for path in paths:
            if not path.startswith("/") or any(c.isspace() for c in path):
                raise EnvoyConfigError(f"{flag} expects an absolute path such as /login, got {path!r}")
    both = sorted(set(login) & set(health))
    if both:
        raise EnvoyConfigError(f"{both[0]} cannot be both a login route and a health route")


def is_ip(host: str) -> bool:
    """Whether `host` is an IP address (a STATIC cluster) rather than a DNS name (STRICT_DNS)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _packed(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def socket(host: str, port: int) -> address_pb2.Address:
    return address_pb2.Address(socket_address=address_pb2.SocketAddress(address=host, port_value=port))


def request_attributes(*, tls: bool) -> list[str]:
    """What botwall reads from Envoy besides headers: the client address, and on TLS the fingerprints."""
    return list(REQUEST_ATTRIBUTES) if tls else [SOURCE_ADDRESS]


def ext_proc_filter(
    *, fail_closed: bool, message_timeout: str, tls: bool, cluster: str = CLUSTER_NAME
) -> http_connection_manager_pb2.HttpFilter:
    """The ext_proc HTTP filter: request and response headers to botwall, no bodies, except that botwall may ask
    for the request body of its login routes per request (`allow_mode_override`)."""
    config = ext_proc_pb2.ExternalProcessor(
        grpc_service=grpc_service_pb2.GrpcService(
            envoy_grpc=grpc_service_pb2.GrpcService.EnvoyGrpc(cluster_name=cluster)
        ),
        stat_prefix=STAT_PREFIX,
        failure_mode_allow=not fail_closed,
        message_timeout=parse_duration(message_timeout),
        processing_mode=HEADERS_MODE,
        allow_mode_override=True,
        # A fake answer (a deceive policy) carries the upstream service time a real one does.
        mutation_rules=mutation_rules_pb2.HeaderMutationRules(allow_envoy=wrappers_pb2.BoolValue(value=True)),
        request_attributes=request_attributes(tls=tls),
        metadata_options=ext_proc_pb2.MetadataOptions(
            receiving_namespaces=ext_proc_pb2.MetadataOptions.MetadataNamespaces(untyped=[METADATA_NAMESPACE])
        ),
    )
    return http_connection_manager_pb2.HttpFilter(name=EXT_PROC_FILTER, typed_config=_packed(config))


def set_filter_state_filter() -> http_connection_manager_pb2.HttpFilter:
    """Copies the TLS inspector's JA4/JA3 into filter state, where `request_attributes` reads them (no header)."""
    config = set_filter_state_pb2.Config(
        on_request_headers=[
            filter_state_value_pb2.FilterStateValue(
                object_key=key,
                factory_key="envoy.string",
                format_string=substitution_format_string_pb2.SubstitutionFormatString(
                    text_format_source=core_base_pb2.DataSource(inline_string=FINGERPRINT_OPERATORS[name])
                ),
            )
            for name, key in FINGERPRINT_STATE.items()
        ]
    )
    return http_connection_manager_pb2.HttpFilter(name=SET_FILTER_STATE_FILTER, typed_config=_packed(config))


def router_filter() -> http_connection_manager_pb2.HttpFilter:
    """The router, always last."""
    return http_connection_manager_pb2.HttpFilter(name=ROUTER_FILTER, typed_config=_packed(router_pb2.Router()))


def http_filters(
    *, fail_closed: bool, message_timeout: str, tls: bool, cluster: str = CLUSTER_NAME
) -> list[http_connection_manager_pb2.HttpFilter]:
    """The HTTP filters that go before the router (the router itself not included)."""
    ext_proc = ext_proc_filter(fail_closed=fail_closed, message_timeout=message_timeout, tls=tls, cluster=cluster)
    return [set_filter_state_filter(), ext_proc] if tls else [ext_proc]


def tls_inspector() -> listener_components_pb2.ListenerFilter:
    """The TLS inspector listener filter with JA3 and JA4 fingerprinting on."""
    inspector = tls_inspector_pb2.TlsInspector(
        enable_ja3_fingerprinting=wrappers_pb2.BoolValue(value=True),
        enable_ja4_fingerprinting=wrappers_pb2.BoolValue(value=True),
    )
    return listener_components_pb2.ListenerFilter(name=TLS_INSPECTOR, typed_config=_packed(inspector))


def access_log_format(*, tls: bool) -> dict[str, str]:
    """The access log's JSON fields: the request without its query string, and botwall's decision (dynamic
    metadata)."""
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
        fields["ja4"] = FINGERPRINT_OPERATORS["ja4"]
    for key in DECISION_FIELDS:
        fields[f"botwall_{key}"] = f"%DYNAMIC_METADATA({METADATA_NAMESPACE}:{key})%"
    return fields


_FORMAT_ORDER = {key: index for index, key in enumerate(access_log_format(tls=True))}


def access_log(*, tls: bool, path: str = "/dev/stdout") -> accesslog_pb2.AccessLog:
    """A JSON access log to a file, with the fields of `access_log_format`."""
    fields = struct_pb2.Struct()
    fields.update(access_log_format(tls=tls))
    log_format = substitution_format_string_pb2.SubstitutionFormatString(json_format=fields)
    file_log = file_pb2.FileAccessLog(path=path, log_format=log_format)
    return accesslog_pb2.AccessLog(name=FILE_ACCESS_LOG, typed_config=_packed(file_log))


def path_settings() -> http_connection_manager_pb2.HttpConnectionManager:
    """One normalised path (RFC 3986 normalisation, duplicate slashes merged) for botwall, Envoy's routes and the
    upstream."""
    return http_connection_manager_pb2.HttpConnectionManager(
        normalize_path=wrappers_pb2.BoolValue(value=True), merge_slashes=True
    )


def _connect_timeout(milliseconds: int) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromMilliseconds(milliseconds)
    return duration


def _load_assignment(name: str, host: str, *ports: int) -> endpoint_pb2.ClusterLoadAssignment:
    endpoints = [
        endpoint_components_pb2.LbEndpoint(endpoint=endpoint_components_pb2.Endpoint(address=socket(host, port)))
        for port in ports
    ]
    return endpoint_pb2.ClusterLoadAssignment(
        cluster_name=name, endpoints=[endpoint_components_pb2.LocalityLbEndpoints(lb_endpoints=endpoints)]
    )


def botwall_cluster(host: str, port: int, name: str = CLUSTER_NAME, ports: tuple[int, ...] = ()) -> cluster_pb2.Cluster:
    """The HTTP/2 cluster to botwall: STATIC for an IP, STRICT_DNS for a name (a headless Service spreads streams
    over every replica), with circuit breakers raised for one stream per in-flight request. `ports`: one endpoint
    per worker of `botwall serve --workers N` (Envoy spreads the streams over them, round robin), else `port`."""
    limit = wrappers_pb2.UInt32Value(value=CIRCUIT_BREAKER_LIMIT)
    cluster = cluster_pb2.Cluster(
        name=name,
        type=cluster_pb2.Cluster.STATIC if is_ip(host) else cluster_pb2.Cluster.STRICT_DNS,
        connect_timeout=_connect_timeout(250),
        circuit_breakers=circuit_breaker_pb2.CircuitBreakers(
            thresholds=[
                circuit_breaker_pb2.CircuitBreakers.Thresholds(
                    max_connections=limit, max_pending_requests=limit, max_requests=limit
                )
            ]
        ),
        load_assignment=_load_assignment(name, host, *(ports or (port,))),
    )
    http2 = http_protocol_options_pb2.HttpProtocolOptions(
        explicit_http_config=http_protocol_options_pb2.HttpProtocolOptions.ExplicitHttpConfig(
            http2_protocol_options=protocol_pb2.Http2ProtocolOptions()
        )
    )
    cluster.typed_extension_protocol_options[HTTP_PROTOCOL_OPTIONS].Pack(http2)
    return cluster


def upstream_cluster(host: str, port: int, name: str = "upstream") -> cluster_pb2.Cluster:
    """The protected application: STATIC for an IP, STRICT_DNS for a name (such as a Kubernetes Service)."""
    return cluster_pb2.Cluster(
        name=name,
        type=cluster_pb2.Cluster.STATIC if is_ip(host) else cluster_pb2.Cluster.STRICT_DNS,
        connect_timeout=_connect_timeout(1000),
        load_assignment=_load_assignment(name, host, port),
    )


def health_route_config() -> dict[str, any_pb2.Any]:
    """`typed_per_filter_config` for a health route: the processor is skipped (a probe must not depend on botwall)."""
    return {EXT_PROC_FILTER: _packed(ext_proc_pb2.ExtProcPerRoute(disabled=True))}


def login_route_config() -> dict[str, any_pb2.Any]:
    """`typed_per_filter_config` for a login route: the request body goes to botwall, BUFFERED."""
    overrides = ext_proc_pb2.ExtProcOverrides(processing_mode=BODY_MODE)
    return {EXT_PROC_FILTER: _packed(ext_proc_pb2.ExtProcPerRoute(overrides=overrides))}


# --- to data -------------------------------------------------------------------------------------------------------


def data(message: Message) -> dict[str, Any]:
    """A message as plain YAML-able data: proto field names, `@type` for Any, durations in their shortest form
    (`0.25s`), the fields of `_SPELLED_OUT` and all six processing modes written out, access log fields in order."""
    tidied: dict[str, Any] = _tidy(MessageToDict(message, preserving_proto_field_name=True))
    return tidied


def _spelled(node: dict[str, Any], descriptor: Descriptor, names: Iterable[str]) -> dict[str, Any]:
    """`node` with `names` present (at their default when absent), keys in the message's field order."""
    for name in names:
        if name not in node:
            field = descriptor.fields_by_name[name]
            if field.enum_type is not None:
                node[name] = field.enum_type.values_by_number[0].name
            else:
                node[name] = field.default_value
    order = {f.name: f.number for f in descriptor.fields}
    return dict(sorted(node.items(), key=lambda item: (item[0] in order, order.get(item[0], 0))))


def _tidy(node: Any) -> Any:
    if isinstance(node, list):
        return [_tidy(v) for v in node]
    if isinstance(node, str):
        match = _PROTO_DURATION.match(node)
        return f"{match[1]}{'.' + match[2] if match[2] else ''}s" if match else node
    if not isinstance(node, dict):
        return node
    node = {key: _tidy(value) for key, value in node.items()}
    type_name = str(node.get("@type", "")).rpartition("/")[2]
    if type_name in _SPELLED_OUT:
        node = _spelled(node, descriptor_pool.Default().FindMessageTypeByName(type_name), _SPELLED_OUT[type_name])
    if isinstance(node.get("processing_mode"), dict):
        node["processing_mode"] = _spelled(node["processing_mode"], ProcessingMode.DESCRIPTOR, _MODE_FIELDS)
    if isinstance(node.get("json_format"), dict):
        last = len(_FORMAT_ORDER)
        node["json_format"] = dict(
            sorted(node["json_format"].items(), key=lambda i: (_FORMAT_ORDER.get(i[0], last), i[0]))
        )
    return node
