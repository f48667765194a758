"""botwall on the Kubernetes gateways that own their Envoy: an Istio `EnvoyFilter` whose patch values are the typed
pieces of `messages` (the same filters, per-route configs and TLS pieces as the snippet), and the Envoy Gateway
policies, which are Envoy Gateway's API rather than Envoy's but carry the same choices (failure mode, message
timeout, attributes, circuit breakers, metadata namespace, fingerprints) from the same constants.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import any_pb2

from botwall.deploy import _yaml
from botwall.deploy.messages import (
    CIRCUIT_BREAKER_LIMIT,
    DEFAULT_MESSAGE_TIMEOUT,
    FINGERPRINT_OPERATORS,
    HTTP_CONNECTION_MANAGER,
    ROUTER_FILTER,
    TLS_INSPECTOR,
    data,
    ext_proc_filter,
    health_route_config,
    login_route_config,
    path_settings,
    set_filter_state_filter,
    tls_inspector,
)
from botwall.edge.decision_log import METADATA_NAMESPACE
from botwall.request import SOURCE_ADDRESS

# Where the examples assume botwall runs: Service `botwall` in namespace `botwall`, gRPC port 9191.
BOTWALL_SERVICE = ("botwall.botwall.svc.cluster.local", 9191)
# The early request headers Envoy Gateway sets from the TLS fingerprints (botwall's `envoy.ja4_header` and
# `envoy.ja3_header` must name them for botwall to trust them).
JA4_HEADER = "x-botwall-ja4"
JA3_HEADER = "x-botwall-ja3"


def istio_cluster(service: tuple[str, int] = BOTWALL_SERVICE) -> str:
    """The name Istio gives the outbound cluster of a Service port."""
    host, port = service
    return f"outbound|{port}||{host}"


def _gateway_match(**listener: Any) -> dict[str, Any]:
    return {"context": "GATEWAY", "listener": listener}


def _route_match(name: str) -> dict[str, Any]:
    return {"context": "GATEWAY", "routeConfiguration": {"vhost": {"route": {"name": name}}}}


def _per_route(config: dict[str, any_pb2.Any]) -> dict[str, Any]:
    return {"typed_per_filter_config": {name: data(value) for name, value in config.items()}}


def istio_envoyfilter(service: tuple[str, int] = BOTWALL_SERVICE, *, fail_closed: bool = False) -> dict[str, Any]:
    """The EnvoyFilter for an Istio ingress gateway (`istio: ingressgateway` in istio-system)."""
    before_router = _gateway_match(
        filterChain={"filter": {"name": HTTP_CONNECTION_MANAGER, "subFilter": {"name": ROUTER_FILTER}}}
    )
    ext_proc = ext_proc_filter(
        fail_closed=fail_closed, message_timeout=DEFAULT_MESSAGE_TIMEOUT, tls=True, cluster=istio_cluster(service)
    )
    manager = any_pb2.Any()
    manager.Pack(path_settings())
    patches = [
        {
            "applyTo": "HTTP_FILTER",
            "match": before_router,
            "patch": {"operation": "INSERT_BEFORE", "value": data(set_filter_state_filter())},
        },
        {
            "applyTo": "HTTP_FILTER",
            "match": before_router,
            "patch": {"operation": "INSERT_BEFORE", "value": data(ext_proc)},
        },
        {
            "applyTo": "LISTENER_FILTER",
            "match": _gateway_match(listenerFilter=TLS_INSPECTOR),
            "patch": {"operation": "MERGE", "value": {"typed_config": data(tls_inspector())["typed_config"]}},
        },
        {
            "applyTo": "HTTP_ROUTE",
            "match": _route_match("healthz"),
            "patch": {"operation": "MERGE", "value": _per_route(health_route_config())},
        },
        {
            "applyTo": "HTTP_ROUTE",
            "match": _route_match("login"),
            "patch": {"operation": "MERGE", "value": _per_route(login_route_config())},
        },
        {
            "applyTo": "NETWORK_FILTER",
            "match": _gateway_match(filterChain={"filter": {"name": HTTP_CONNECTION_MANAGER}}),
            "patch": {"operation": "MERGE", "value": {"typed_config": data(manager)}},
        },
    ]
    return {
        "apiVersion": "networking.istio.io/v1alpha3",
        "kind": "EnvoyFilter",
        "metadata": {"name": "botwall", "namespace": "istio-system"},
        "spec": {"workloadSelector": {"labels": {"istio": "ingressgateway"}}, "configPatches": patches},
    }


ISTIO_HEADER = """\
botwall on an Istio ingress gateway. Istio has no first-class ext_proc API, so this EnvoyFilter patches the
gateway's generated Envoy config: the same filters, per-route settings and TLS fingerprint pieces as
envoy/snippets/existing-gateway.yaml (botwall renders both from the same typed Envoy messages).

  kubectl apply -f envoy/istio/envoyfilter.yaml

Assumes: the ingress gateway pods carry the label `istio: ingressgateway` and run in istio-system (this object must
live in the gateway's namespace), and botwall runs as Service `botwall` in namespace `botwall`, port 9191.
Name that Service port `grpc` (or set `appProtocol: grpc`) so Istio builds the cluster below as HTTP/2, which
ext_proc needs. Istio names that cluster `{cluster}`; change the `cluster_name`
line below if your Service, namespace or port differ.

Circuit breakers: Istio already sets every outbound cluster's thresholds to 2^32-1 unless a DestinationRule
`connectionPool` lowers them. If you have one for botwall, raise `http2MaxRequests` to your peak concurrency: every
in-flight HTTP request holds one stream to botwall.

Failure mode: `failure_mode_allow: true` below is fail-open (botwall down or slower than message_timeout: requests
pass untagged); false is fail-closed (500 when down, 504 when slow). See envoy/snippets/existing-gateway.yaml.

Client IP: botwall keys on `source.address`. Behind a cloud load balancer, preserve it (externalTrafficPolicy:
Local, or PROXY protocol) or set meshConfig.defaultConfig.gatewayTopology.numTrustedProxies.

Paths: patch 5 turns on normalize_path and merge_slashes on the gateway's HTTP connection managers, so botwall, the
routes and the upstream judge one path (`/api/%6cogin` and `//api//login` are `/api/login` for all three). The
mesh-wide equivalent is meshConfig.pathNormalization.normalization: MERGE_SLASHES (Istio's default, BASE, leaves
duplicate slashes alone).

Access log: Istio's default format logs `%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%`, query string included, so a password
sent in a GET query string lands in the log. If the mesh logs (meshConfig.accessLogFile), set
meshConfig.accessLogFormat to Envoy's default format with `%PATH(NQ:ORIG_OR_PATH)%` (NQ: no query) in that place,
and add botwall's decision if you like: `%DYNAMIC_METADATA(botwall:action)%`.

Checked by tests/integration/test_deploy_envoy.py against a JSON Schema derived from Istio's EnvoyFilter CRD, and
every patch value below by Envoy 1.40 itself. JA4 needs an Envoy of 1.35 or later in the gateway (Istio 1.27+)."""

ISTIO_COMMENTS: dict[_yaml.Path, str] = {
    ("configPatches", 0): (
        "1. set_filter_state, then ext_proc, each inserted just before the router, so the chain ends\n"
        "   ... -> set_filter_state -> ext_proc -> router (patches apply in order)."
    ),
    ("typed_config", "allow_mode_override"): (
        "botwall asks for the request body of the login routes in its own config, per request (mode_override)."
    ),
    ("typed_config", "mutation_rules"): (
        "A deceive policy's fake answer carries x-envoy-upstream-service-time, as a real one does."
    ),
    ("configPatches", 2): (
        "2. JA3/JA4 on the gateway's TLS inspector (present on HTTPS listeners; plain-HTTP listeners have none and\n"
        '   see `-` in the filter state, which botwall reads as "no fingerprint").'
    ),
    ("configPatches", 3): (
        "3. Health routes skip botwall. Istio names a route after its VirtualService `http[].name`: give your health\n"
        "   route `name: healthz` (or change the match)."
    ),
    ("configPatches", 4): (
        "4. Login routes send the request body to botwall, BUFFERED (route `name: login` in your VirtualService). A\n"
        "   per-route processing_mode replaces the filter's whole mode, so all six fields are spelled out."
    ),
    ("configPatches", 5): (
        "5. One path for botwall, the routes and the upstream: the gateway's HTTP connection managers normalise it\n"
        "   (RFC 3986: percent-encoded unreserved characters decoded, dot segments resolved) and merge duplicate\n"
        "   slashes before any filter reads it."
    ),
}


def istio_yaml(header: str = "") -> str:
    """The Istio EnvoyFilter as commented YAML."""
    text = ISTIO_HEADER.format(cluster=istio_cluster())
    return _yaml.dump(istio_envoyfilter(), ISTIO_COMMENTS, header=f"{header}{text}")


# --- Envoy Gateway -------------------------------------------------------------------------------------------------


def _ext_proc(*, body: bool, fail_closed: bool = False) -> dict[str, Any]:
    """One `extProc` entry of an EnvoyExtensionPolicy: botwall's Service, the failure mode, headers (and with
    `body` the request body) to botwall, its metadata namespace writable."""
    host, port = BOTWALL_SERVICE
    name, _, namespace = host.partition(".svc")[0].partition(".")
    limit = CIRCUIT_BREAKER_LIMIT
    request: dict[str, Any] = {"body": "Buffered"} if body else {}
    request["attributes"] = [SOURCE_ADDRESS]
    return {
        "backendRefs": [{"name": name, "namespace": namespace, "port": port}],
        "backendSettings": {
            "circuitBreaker": {"maxConnections": limit, "maxPendingRequests": limit, "maxParallelRequests": limit}
        },
        "failOpen": not fail_closed,
        "messageTimeout": DEFAULT_MESSAGE_TIMEOUT,
        "processingMode": {"request": request, "response": {}, "allowModeOverride": True},
        "metadata": {"writableNamespaces": [METADATA_NAMESPACE]},
    }


def _policy(name: str, target: dict[str, str], *, body: bool) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.envoyproxy.io/v1alpha1",
        "kind": "EnvoyExtensionPolicy",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"targetRefs": [target], "extProc": [_ext_proc(body=body)]},
    }


def envoy_gateway_documents() -> list[dict[str, Any]]:
    """The ReferenceGrant, the policies for Gateway `eg` and HTTPRoute `login`, and the TLS fingerprint policy."""
    gateway = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "eg"}
    namespace = BOTWALL_SERVICE[0].split(".")[1]
    grant = {
        "apiVersion": "gateway.networking.k8s.io/v1beta1",
        "kind": "ReferenceGrant",
        "metadata": {"name": "botwall-from-default", "namespace": namespace},
        "spec": {
            "from": [{"group": "gateway.envoyproxy.io", "kind": "EnvoyExtensionPolicy", "namespace": "default"}],
            "to": [{"group": "", "kind": "Service", "name": "botwall"}],
        },
    }
    fingerprints = {
        "apiVersion": "gateway.envoyproxy.io/v1alpha1",
        "kind": "ClientTrafficPolicy",
        "metadata": {"name": "botwall-tls-fingerprints", "namespace": "default"},
        "spec": {
            "targetRefs": [gateway],
            "tls": {"fingerprints": ["JA4", "JA3"]},
            "path": {"disableMergeSlashes": False},
            "headers": {
                "earlyRequestHeaders": {
                    "set": [
                        {"name": JA4_HEADER, "value": FINGERPRINT_OPERATORS["ja4"]},
                        {"name": JA3_HEADER, "value": FINGERPRINT_OPERATORS["ja3"]},
                    ]
                }
            },
        },
    }
    login = {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "login"}
    return [grant, _policy("botwall", gateway, body=False), _policy("botwall-login", login, body=True), fingerprints]


ENVOY_GATEWAY_HEADER = """\
botwall on Envoy Gateway (gateway.envoyproxy.io/v1alpha1). Field names follow the Envoy Gateway v1.8 API reference
(site/content/en/v1.8/api/extension_types.md in envoyproxy/gateway): EnvoyExtensionPolicy.spec.extProc
(backendRefs, backendSettings.circuitBreaker, failOpen, messageTimeout, processingMode.request/response with
body and attributes, processingMode.allowModeOverride, metadata.writableNamespaces) and
ClientTrafficPolicy.spec.tls.fingerprints (JA3, JA4) with spec.headers.earlyRequestHeaders. `tls.fingerprints` is
the newest of these: older Envoy Gateway releases reject it.

  kubectl apply -f envoy/envoy-gateway/extension-policy.yaml

Assumes: a Gateway `eg` and an HTTPRoute `login` in namespace `default`, and botwall as Service `botwall` in
namespace `botwall`, port 9191. Checked by tests/integration/test_deploy_envoy.py against JSON Schemas derived from
those API fields (tests/schemas/).

Failure mode is `failOpen` (Envoy Gateway's default is false):
  failOpen: true   botwall down or slower than messageTimeout: requests pass to your routes untagged and
                   unprotected. Availability wins; bots get through while botwall is away.
  failOpen: false  botwall down: 500; slower than messageTimeout: 504. Protection wins; a botwall outage is a
                   site outage.

Paths: Envoy Gateway normalises paths and merges duplicate slashes unless told otherwise; the ClientTrafficPolicy
below says so explicitly (`path.disableMergeSlashes: false`), so botwall, the routes and the upstream judge one path
(`/api/%6cogin` and `//api//login` are `/api/login` for all three).

Access log: Envoy Gateway's default access log records `%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%`, query string included,
so a password sent in a GET query string lands in it. In the EnvoyProxy your GatewayClass or Gateway points at
(parametersRef), give the access log a path of `%PATH(NQ:ORIG_OR_PATH)%` (NQ: no query), for example
  spec:
    telemetry:
      accessLog:
        settings:
        - format:
            type: JSON
            json:
              start_time: '%START_TIME%'
              method: '%REQ(:METHOD)%'
              path: '%PATH(NQ:ORIG_OR_PATH)%'
              response_code: '%RESPONSE_CODE%'
              botwall_action: '%DYNAMIC_METADATA(botwall:action)%'
          sinks:
          - type: File
            file: {path: /dev/stdout}

Health routes: Envoy Gateway has no per-route "disable ext_proc" switch. Keep health checks off this Gateway's
policy by attaching the policy to HTTPRoutes (targetRefs kind: HTTPRoute) instead of the Gateway and leaving the
health route out, or by serving health checks on a listener this policy does not target (targetRefs sectionName)."""

_EXT_PROC_COMMENTS: dict[_yaml.Path, str] = {
    ("backendSettings", "circuitBreaker"): (
        "Every in-flight HTTP request holds one stream to botwall: the default of 1,024 would fail (failOpen: false)\n"
        "or skip botwall (failOpen: true) for requests beyond it. Size for peak concurrency."
    ),
    ("processingMode", "request"): 'Present means "send the headers"; no `body` means no body.',
    ("request", "body"): "A body over the buffer limit gets 413.",
    ("request", "attributes"): "The client address botwall keys on.",
    ("processingMode", "allowModeOverride"): (
        "botwall asks for the request body of the login routes in its own config, per request."
    ),
    ("metadata", "writableNamespaces"): "botwall's decision as dynamic metadata, for the access log.",
}


def envoy_gateway_yaml(header: str = "") -> str:
    """The Envoy Gateway objects as commented YAML, one document each."""
    grant, policy, login, fingerprints = envoy_gateway_documents()
    no_comments: dict[_yaml.Path, str] = {}
    documents: list[tuple[str, dict[str, Any], dict[_yaml.Path, str]]] = [
        (
            "The policy lives in `default` and points at a Service in `botwall`: that namespace must allow it.",
            grant,
            no_comments,
        ),
        (
            "Every route of Gateway `eg`: request and response headers to botwall, no bodies.",
            policy,
            _EXT_PROC_COMMENTS,
        ),
        (
            "HTTPRoute `login`: the request body goes to botwall too, Buffered. A policy on the route replaces the\n"
            "Gateway's policy for that route (it is not merged), so this one repeats every setting above and only\n"
            "changes the body.",
            login,
            {("request", "body"): _EXT_PROC_COMMENTS[("request", "body")]},
        ),
        (
            "TLS fingerprints on Gateway `eg`'s listeners. Envoy Gateway only lets ext_proc `attributes` start with\n"
            "connection., source., destination., request., response., upstream. or xds.route_, so the filter-state\n"
            "route that envoy/gateway.yaml uses to hand JA4 to botwall is closed here; the fingerprint goes in an\n"
            "early request header instead (set, so a client-sent copy is overwritten, before routing and before\n"
            "ext_proc). botwall trusts these headers only when its config says the gateway sets them:\n"
            f"  envoy: {{ja4_header: {JA4_HEADER}, ja3_header: {JA3_HEADER}}}\n"
            "(without that, a client could forge them). botwall removes every x-botwall-* request header before the\n"
            "upstream, so they do not leak there. Envoy Gateway accepts one ClientTrafficPolicy per Gateway, so this\n"
            "one also carries the path settings (see the top of this file).",
            fingerprints,
            {("path", "disableMergeSlashes"): "Merge `//` (the default, written out); paths are normalised too."},
        ),
    ]
    return _yaml.dump_all(documents, header=f"{header}{ENVOY_GATEWAY_HEADER}")
