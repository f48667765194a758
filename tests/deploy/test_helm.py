"""The Helm chart, rendered by the real Helm library: lint, golden files, Kubernetes schemas, the sidecar's Envoy
config checked by Envoy, and the sidecar mode booted as local processes with real traffic through it.

Golden files: each `k8s/helm/botwall/tests/<case>.in.yaml` (values) renders to `<case>.out.yaml`. After a deliberate
change, regenerate them with `make helm-golden` (or `BOTWALL_UPDATE_GOLDEN=1 pytest tests/deploy`) and review the diff.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import re
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from botwall.config import Config, parse_yaml
from botwall.deploy.envoy_config import EnvoyConfigOptions, render_snippet
from botwall.deploy.gateway import EnvoySettings, render_gateway
from botwall.lab.stack import find_envoy, self_signed_certificate, start_envoy, start_processor
from botwall.lab.testing import captured_headers

from .conftest import (
    CASES,
    CHART,
    UPDATE_GOLDEN,
    case_values,
    find,
    http_get,
    objects,
    render,
    schema_errors,
)

README = CHART.parents[2] / "README.md"
ENVOY_CONFIG_MASK = "<files/gateway.yaml with this release's values: see test_helm.py's sidecar tests>"
# Firefox's own navigation headers, as captured through Envoy to 127.0.0.1.
BROWSER = captured_headers("firefox-headless", "navigation", "http", "127.0.0.1")
CURL = [("user-agent", "curl/8.14.1"), ("accept", "*/*")]
# Every container's security context.
HARDENED = {
    "allowPrivilegeEscalation": False,
    "privileged": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
# A Prometheus for KEDA to query, in the eventLoad cases.
KEDA_PROM = "http://prometheus-operated.monitoring.svc:9090"
BUNDLED_REDIS_URL = "redis://botwall-redis.botwall.svc.cluster.local:6379/0"
# Custom resources: not in the Kubernetes schemas kubernetes-validate ships, and their CRDs' schemas are not available
# offline, so they are not schema-checked: test_service_monitor_scrapes_every_worker_with_the_token checks the
# ServiceMonitor and test_keda_scales_on_the_expected_load_and_cpu KEDA's ScaledObject, field by field.
CUSTOM_API_GROUPS = ("monitoring.coreos.com/", "keda.sh/")
SIDECAR_CASES = [c for c in CASES if case_values(c).get("mode") == "sidecar"]


def golden_text(rendered: dict[str, str]) -> str:
    """What `helm template` prints, one document per template in path order, with the sidecar's Envoy config (and
    its checksum) masked: it is the gateway botwall renders (files/gateway.yaml), which other changes edit, and the
    sidecar tests check it."""
    parts = []
    for path in sorted(rendered):
        body = rendered[path].strip()
        if not path.endswith(".yaml") or not body:
            continue
        if path.endswith("envoy-configmap.yaml"):
            # The ConfigMap's last key: everything after it is the config.
            body = body[: body.index("  envoy.yaml: |")] + f"  envoy.yaml: |\n    {ENVOY_CONFIG_MASK}"
        body = re.sub(r"(checksum/envoy: )[0-9a-f]{64}", r"\1<sha256 of the Envoy config>", body)
        if path.endswith("cookie-secret.yaml"):
            body = re.sub(r"(  secret: )\S+$", r"\1<48 random characters, base64>", body)
        if path.endswith("admin-secret.yaml"):
            body = re.sub(r"(  token: )\S+$", r"\1<48 random characters, base64>", body)
        parts.append(f"---\n# Source: {path}\n{body}\n")
    return "".join(parts)


def envoy_config(rendered: dict[str, str]) -> dict[str, Any]:
    """The sidecar's Envoy config, from its ConfigMap."""
    configmap = find(objects(rendered), "ConfigMap", "botwall-envoy")
    loaded: dict[str, Any] = yaml.safe_load(configmap["data"]["envoy.yaml"])
    return loaded


def botwall_config(rendered: dict[str, str], name: str = "botwall") -> Config:
    """botwall's config as botwall itself parses it (`botwall.config.parse_config`), from the rendered ConfigMap."""
    text = find(objects(rendered), "ConfigMap", name)["data"]["botwall.yaml"]
    return parse_yaml(text, f"configmap/{name}")


def botwall_pod(rendered: dict[str, str]) -> dict[str, Any]:
    """The pod spec of botwall's Deployment (a release with the bundled Redis has a second Deployment)."""
    spec: dict[str, Any] = find(objects(rendered), "Deployment", "botwall")["spec"]["template"]["spec"]
    return spec


def botwall_container(rendered: dict[str, str]) -> dict[str, Any]:
    """The botwall container of the Deployment (an init container in sidecar mode)."""
    spec = botwall_pod(rendered)
    containers = [c for c in spec.get("initContainers", []) + spec["containers"] if c["name"] == "botwall"]
    assert 1 == len(containers)
    return containers[0]


@pytest.mark.parametrize("case", CASES)
def test_helm_lint_is_clean(case: str) -> None:
    """`helm lint --strict` with each case's values reports no error and no warning."""
    report = helm.lint(str(CHART), case_values(case), strict=True)
    problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
    assert [] == problems


@pytest.mark.parametrize("case", CASES)
def test_render_matches_golden_file(case: str) -> None:
    """Each case renders exactly to its committed `<case>.out.yaml`."""
    actual = golden_text(render(case_values(case)))
    golden = CHART / "tests" / f"{case}.out.yaml"
    if UPDATE_GOLDEN:
        golden.write_text(actual)
    assert golden.read_text() == actual, f"run `make helm-golden` if the change to {golden.name} is intended"


def test_every_case_has_a_golden_file() -> None:
    """Every `.out.yaml` has its `.in.yaml` and the other way round, and both modes have cases."""
    outs = sorted(p.name.removesuffix(".out.yaml") for p in (CHART / "tests").glob("*.out.yaml"))
    assert CASES == outs
    assert {"service", "sidecar"} == {case_values(c).get("mode", "service") for c in CASES}


@pytest.mark.parametrize("case", CASES)
def test_every_object_is_valid_kubernetes(case: str) -> None:
    """Every rendered object passes the Kubernetes JSON schemas (strict) of the oldest and newest supported versions."""
    objs = objects(render(case_values(case)))
    builtin = [o for o in objs if not o["apiVersion"].startswith(CUSTOM_API_GROUPS)]
    assert [] == [error for obj in builtin for error in schema_errors(obj)]
    assert {"Deployment", "Service", "ServiceAccount", "PodDisruptionBudget"} <= {o["kind"] for o in objs}


@pytest.mark.parametrize("case", CASES)
def test_hardened_by_default(case: str) -> None:
    """Every container runs non-root on a read-only root filesystem with no capabilities and seccomp RuntimeDefault."""
    spec = botwall_pod(render(case_values(case)))
    for container in spec.get("initContainers", []) + spec["containers"]:
        assert HARDENED == container["securityContext"], container["name"]
    assert (True, 10001, "RuntimeDefault") == (
        spec["securityContext"]["runAsNonRoot"],
        spec["securityContext"]["runAsUser"],
        spec["securityContext"]["seccompProfile"]["type"],
    )
    assert False is spec["automountServiceAccountToken"]


def test_replicas_share_one_cookie_key() -> None:
    """Every replica signs botwall's cookie with the key of one Secret (generated at install), or the operator's."""
    rendered = render(case_values("service-default"))
    secret = find(objects(rendered), "Secret", "botwall-cookie")
    assert 48 == len(base64.b64decode(secret["data"]["secret"]))
    env = {e["name"]: e for e in botwall_container(rendered)["env"]}
    assert {"name": "botwall-cookie", "key": "secret"} == env["BOTWALL_COOKIE_SECRET"]["valueFrom"]["secretKeyRef"]
    own = render({**case_values("service-default"), "cookieSecret": {"existingSecret": "mine", "key": "k"}})
    assert ["botwall-admin-token"] == [o["metadata"]["name"] for o in objects(own) if o["kind"] == "Secret"]
    env = {e["name"]: e for e in botwall_container(own)["env"]}
    assert {"name": "mine", "key": "k"} == env["BOTWALL_COOKIE_SECRET"]["valueFrom"]["secretKeyRef"]


def test_service_mode_is_headless_on_the_grpc_port() -> None:
    """Service mode: a headless Service on gRPC port 9191 alone, botwall on every address, its admin listener on 8081
    (declared as `admin`, not on the Service)."""
    rendered = render({})
    service = find(objects(rendered), "Service")
    container = botwall_container(rendered)
    assert ("None", [9191]) == (service["spec"]["clusterIP"], [p["port"] for p in service["spec"]["ports"]])
    expected_args = ["serve", "--listen", "0.0.0.0:9191", "--config", "/etc/botwall/botwall.yaml"]
    admin_args = ["--admin-listen", "0.0.0.0:8081"]
    assert [*expected_args, *admin_args, "--drain-delay", "15"] == container["args"]
    assert [("grpc", 9191), ("admin", 8081)] == [(p["name"], p["containerPort"]) for p in container["ports"]]


@pytest.mark.parametrize("case", ["service-default", "sidecar"])
def test_probes_are_http_gets_on_the_admin_port(case: str) -> None:
    """In both modes (the kubelet probes the pod's address, and in sidecar mode only the admin listener is on it):
    startup and readiness GET /readyz (503 once botwall drains), liveness GET /healthz, on the first worker's admin
    port, with the values' timing; and the config lets both paths answer without the token."""
    rendered = render(case_values(case))
    container = botwall_container(rendered)
    with helm.Chart.load(str(CHART)) as chart:
        defaults = chart.values
    paths = {"startupProbe": "/readyz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    for probe, path in paths.items():
        assert {"httpGet": {"path": path, "port": 8081}, **defaults[probe]} == container[probe], probe
    assert 180 == container["startupProbe"]["periodSeconds"] * container["startupProbe"]["failureThreshold"]
    assert {"/healthz", "/readyz"} <= set(botwall_config(rendered).admin.open_paths)
    # The timing stays the values' to change; the handler stays the chart's.
    tuned = botwall_container(render({**case_values(case), "readinessProbe": {"periodSeconds": 5}}))
    tuned_timing = {**defaults["readinessProbe"], "periodSeconds": 5}
    assert {"httpGet": {"path": "/readyz", "port": 8081}, **tuned_timing} == tuned["readinessProbe"]


def test_admin_token_comes_from_a_secret() -> None:
    """BOTWALL_ADMIN_TOKEN comes from a Secret, never from a value in the pod spec: one the chart generates (48 random
    characters, over botwall's minimum of 16, kept across upgrades and uninstalls), or the operator's own."""
    rendered = render(case_values("service-default"))
    secret = find(objects(rendered), "Secret", "botwall-admin-token")
    token = base64.b64decode(secret["data"]["token"]).decode()
    assert (48, True) == (len(token), token.isalnum())
    assert "keep" == secret["metadata"]["annotations"]["helm.sh/resource-policy"]
    for case in ("service-default", "sidecar"):
        env = {e["name"]: e for e in botwall_container(render(case_values(case)))["env"]}
        expected = {"valueFrom": {"secretKeyRef": {"name": "botwall-admin-token", "key": "token"}}}
        assert {"name": "BOTWALL_ADMIN_TOKEN", **expected} == env["BOTWALL_ADMIN_TOKEN"], case
    own = render({"admin": {"tokenSecret": {"existingSecret": "mine", "key": "t"}}})
    assert ["botwall-cookie"] == [o["metadata"]["name"] for o in objects(own) if o["kind"] == "Secret"]
    env = {e["name"]: e for e in botwall_container(own)["env"]}
    assert {"name": "mine", "key": "t"} == env["BOTWALL_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"]


def test_open_metrics_adds_metrics_to_the_configs_open_paths() -> None:
    """The chart writes the config's admin section: the probes' paths open, /metrics behind the token unless
    admin.openMetrics (botwall itself parses the rendered config)."""
    assert ("/healthz", "/readyz") == botwall_config(render({})).admin.open_paths
    opened = render({"admin": {"openMetrics": True}})
    assert ("/healthz", "/readyz", "/metrics") == botwall_config(opened).admin.open_paths
    case = render(case_values("service-metrics"))
    assert ("/healthz", "/readyz", "/metrics") == botwall_config(case).admin.open_paths


def test_prometheus_pod_annotations_only_when_asked() -> None:
    """metrics.podAnnotations: prometheus.io/scrape, /port (the admin port) and /path on the pod; pod.annotations
    still wins for any of them (without a duplicate key)."""
    annotations = find(objects(render({})), "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert [] == [k for k in annotations if k.startswith("prometheus.io/")]
    rendered = render({"metrics": {"podAnnotations": True}})
    annotations = find(objects(rendered), "Deployment")["spec"]["template"]["metadata"]["annotations"]
    expected = {"prometheus.io/scrape": "true", "prometheus.io/port": "8081", "prometheus.io/path": "/metrics"}
    assert expected == {k: v for k, v in annotations.items() if k.startswith("prometheus.io/")}
    mine = render({"metrics": {"podAnnotations": True}, "pod": {"annotations": {"prometheus.io/port": "9999"}}})
    text = mine["botwall/templates/deployment.yaml"]
    annotations = find(objects(mine), "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert ("9999", 1) == (annotations["prometheus.io/port"], text.count("prometheus.io/port"))


def test_no_service_monitor_unless_enabled() -> None:
    """Off by default, in every case but the one that turns it on: no ServiceMonitor, no admin Service, and the
    ext_proc (or gateway) Service keeps to its own ports."""
    for case in CASES:
        objs = objects(render(case_values(case)))
        monitors = [o for o in objs if o["kind"] == "ServiceMonitor"]
        services = sorted(o["metadata"]["name"] for o in objs if o["kind"] == "Service")
        enabled = case_values(case).get("metrics", {}).get("serviceMonitor", {}).get("enabled", False)
        assert (int(enabled), "botwall-admin" in services) == (len(monitors), enabled), case
        ports = [p["name"] for p in find(objs, "Service", "botwall")["spec"]["ports"]]
        assert [] == [p for p in ports if p.startswith("admin")], case


@pytest.mark.parametrize("mode", ["service", "sidecar"])
def test_service_monitor_scrapes_every_worker_with_the_token(mode: str) -> None:
    """metrics.serviceMonitor with two workers: a ServiceMonitor that selects the headless admin Service (and not the
    ext_proc or gateway Service), with an endpoint per worker's admin port, each scraping /metrics with the bearer
    token of the admin Secret; the admin Service's ports are the container's admin ports."""
    values = case_values("service-metrics")
    if mode == "sidecar":
        values = {**values, "mode": "sidecar", "envoy": {"upstream": {"host": "app"}}}
    rendered = render(values)
    objs = objects(rendered)
    monitor = find(objs, "ServiceMonitor", "botwall")
    admin = find(objs, "Service", "botwall-admin")
    main = find(objs, "Service", "botwall")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= admin["metadata"]["labels"].items()
    assert not selector.items() <= main["metadata"]["labels"].items()
    assert ("monitoring.coreos.com/v1", "botwall", ["botwall"]) == (
        monitor["apiVersion"],
        monitor["metadata"]["namespace"],
        monitor["spec"]["namespaceSelector"]["matchNames"],
    )
    assert "prometheus" == monitor["metadata"]["labels"]["release"]
    token = {"name": "botwall-admin-token", "key": "token"}
    scrape = ("/metrics", "http", token, "30s", "10s")
    assert [("admin", *scrape), ("admin-1", *scrape)] == [
        (e["port"], e["path"], e["scheme"], e["bearerTokenSecret"], e["interval"], e["scrapeTimeout"])
        for e in monitor["spec"]["endpoints"]
    ]
    container = botwall_container(rendered)
    declared = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert [("admin", 8081, "admin"), ("admin-1", 8082, "admin-1")] == [
        (p["name"], p["port"], p["targetPort"]) for p in admin["spec"]["ports"]
    ]
    assert all(declared[p["targetPort"]] == p["port"] for p in admin["spec"]["ports"])
    pods = find(objs, "Deployment", "botwall")["spec"]["selector"]["matchLabels"]
    assert ("None", True, pods) == (
        admin["spec"]["clusterIP"],
        admin["spec"]["publishNotReadyAddresses"],
        admin["spec"]["selector"],
    )
    # The ext_proc Service (service mode) or the gateway's (sidecar mode) keeps its own ports.
    expected = ["grpc", "grpc-1"] if mode == "service" else ["http"]
    assert expected == [p["name"] for p in main["spec"]["ports"]]
    # An operator's token Secret is the one scraped with.
    own = render({**values, "admin": {"tokenSecret": {"existingSecret": "mine", "key": "t"}}})
    endpoints = find(objects(own), "ServiceMonitor")["spec"]["endpoints"]
    assert [{"name": "mine", "key": "t"}] * 2 == [e["bearerTokenSecret"] for e in endpoints]


def test_sidecar_mode_keeps_botwall_on_loopback() -> None:
    """Sidecar mode: botwall is a native sidecar with its gRPC port on 127.0.0.1 and only its admin listener on the
    pod's address (for the kubelet's probes, behind the token but for /healthz and /readyz); Envoy's Service is the
    way in."""
    rendered = render(case_values("sidecar"))
    container = botwall_container(rendered)
    service = find(objects(rendered), "Service")
    args = container["args"]
    assert "Always" == container["restartPolicy"]
    listen = (args[args.index("--listen") + 1], args[args.index("--admin-listen") + 1])
    assert ("127.0.0.1:9191", "0.0.0.0:8081") == listen
    assert [("admin", 8081)] == [(p["name"], p["containerPort"]) for p in container["ports"]]
    assert [("http", 80, "http")] == [(p["name"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]]


def test_service_mode_workers_get_a_port_each() -> None:
    """botwall.workers 2: `botwall serve --workers 2`, worker i on 9191 + i, each port declared by the container
    (grpc, grpc-1) and exposed by the Service, and NOTES.txt's cluster (and envoy-config command) lists both."""
    rendered = render(case_values("service-workers"))
    container = botwall_container(rendered)
    service = find(objects(rendered), "Service")
    args = container["args"]
    assert ("2", "0.0.0.0:8081") == (args[args.index("--workers") + 1], args[args.index("--admin-listen") + 1])
    # Worker i's admin listener is on 8081 + i: declared too, but not on the ext_proc Service.
    assert [("grpc", 9191), ("grpc-1", 9192), ("admin", 8081), ("admin-1", 8082)] == [
        (p["name"], p["containerPort"]) for p in container["ports"]
    ]
    assert [("grpc", 9191, "grpc"), ("grpc-1", 9192, "grpc-1")] == [
        (p["name"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]
    ]
    assert {"kubernetes.io/h2c"} == {p["appProtocol"] for p in service["spec"]["ports"]}
    # The probes ask the first worker.
    assert [8081] * 3 == [container[p]["httpGet"]["port"] for p in ("startupProbe", "livenessProbe", "readinessProbe")]
    # NOTES.txt prints the cluster to add, with both ports, and the `botwall envoy-config` command that renders it.
    notes = rendered["botwall/templates/NOTES.txt"]
    block = notes[notes.index("  clusters:\n") : notes.index("\n\n", notes.index("  clusters:\n"))]
    (printed,) = yaml.safe_load(textwrap.dedent(block))["clusters"]
    address = ("botwall.botwall.svc.cluster.local", 9191)
    command = f"  botwall envoy-config --botwall-address {address[0]}:{address[1]} --botwall-workers 2\n"
    (rendered_cluster,) = render_snippet(EnvoyConfigOptions(botwall=address, botwall_workers=2))["clusters"]
    assert command in notes
    assert rendered_cluster["load_assignment"] == printed["load_assignment"]


def test_port_names_fit_kubernetes_for_every_worker_count() -> None:
    """The last worker's port names of the largest count (gRPC and admin) are valid IANA service names of at most 15
    characters, all distinct, and the default admin ports never meet the gRPC ports."""
    container = botwall_container(render({"botwall": {"workers": 256}}))
    names = [p["name"] for p in container["ports"]]
    grpc = [p for p in container["ports"] if p["name"].startswith("grpc")]
    admin = [p for p in container["ports"] if p["name"].startswith("admin")]
    assert (512, 256, 256) == (len(set(names)), len(grpc), len(admin))
    assert ("grpc-255", 9191 + 255, "admin-255", 8081 + 255) == (
        grpc[-1]["name"],
        grpc[-1]["containerPort"],
        admin[-1]["name"],
        admin[-1]["containerPort"],
    )
    assert 512 == len({p["containerPort"] for p in container["ports"]})
    assert all(re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?", n) and "--" not in n for n in names)


def test_sidecar_cluster_lists_every_worker() -> None:
    """Sidecar mode with botwall.workers 2: botwall runs `--workers 2` on loopback and Envoy's botwall cluster lists
    127.0.0.1 at both workers' ports, in one locality (round robin over the workers)."""
    rendered = render(case_values("sidecar-workers"))
    container = botwall_container(rendered)
    args = container["args"]
    (cluster,) = [c for c in envoy_config(rendered)["static_resources"]["clusters"] if c["name"] == "botwall"]
    (locality,) = cluster["load_assignment"]["endpoints"]
    sockets = [e["endpoint"]["address"]["socket_address"] for e in locality["lb_endpoints"]]
    assert ("2", "127.0.0.1:9191") == (args[args.index("--workers") + 1], args[args.index("--listen") + 1])
    # Only the admin listeners are on the pod's address, one per worker, the first probed.
    assert [("admin", 8081), ("admin-1", 8082)] == [(p["name"], p["containerPort"]) for p in container["ports"]]
    assert "0.0.0.0:8081" == args[args.index("--admin-listen") + 1]
    assert [("127.0.0.1", 9191), ("127.0.0.1", 9192)] == [(s["address"], s["port_value"]) for s in sockets]
    assert "STATIC" == cluster["type"]


def _envoy_container(rendered: dict[str, str]) -> dict[str, Any]:
    containers = [c for c in botwall_pod(rendered)["containers"] if c["name"] == "envoy"]
    assert 1 == len(containers)
    return containers[0]


@pytest.mark.parametrize("delay", [15, 4])
def test_drain_delay_keeps_botwall_judging_until_traffic_has_moved(delay: int) -> None:
    """drainDelaySeconds: in service mode botwall keeps judging that long after SIGTERM; in sidecar mode Envoy's
    preStop waits that long (botwall, stopped after Envoy, drains at once); the pod's grace period covers it all."""
    service = render({"drainDelaySeconds": delay})
    args = botwall_container(service)["args"]
    sidecar = render({**case_values("sidecar"), "drainDelaySeconds": delay})
    sidecar_args = botwall_container(sidecar)["args"]
    pod = botwall_pod(service)
    assert (str(delay), "0", ["sleep", str(delay)]) == (
        args[args.index("--drain-delay") + 1],
        sidecar_args[sidecar_args.index("--drain-delay") + 1],
        _envoy_container(sidecar)["lifecycle"]["preStop"]["exec"]["command"],
    )
    assert pod["terminationGracePeriodSeconds"] > delay + 10


def test_no_drain_delay_means_no_prestop_hook() -> None:
    """drainDelaySeconds 0: botwall refuses new streams at once and Envoy gets no preStop hook."""
    sidecar = render({**case_values("sidecar"), "drainDelaySeconds": 0})
    assert "lifecycle" not in _envoy_container(sidecar)


def test_default_botwall_config_is_valid() -> None:
    """botwall accepts the chart's default config: its four policies, enforcing (not shadowed)."""
    with helm.Chart.load(str(CHART)) as chart:
        config = parse_yaml(chart.values["config"]["botwall"], "values.yaml")
    assert (["honeytrap-wp-login", "login-throttle", "challenge-bots", "block-bots"], False) == (
        [p.name for p in config.policies],
        config.shadow,
    )


@pytest.mark.parametrize("case", [c for c in CASES if not case_values(c).get("config", {}).get("existingConfigMap")])
def test_rendered_botwall_config_is_valid(case: str) -> None:
    """botwall accepts every case's rendered config, whose state section the chart wrote from the state values."""
    values = case_values(case)
    state = botwall_config(render(values)).state
    assert (values.get("state", {}).get("backend", "memory"), 100_000, 900.0) == (
        state.backend,
        state.max_entries,
        state.ttl_seconds,
    )


def test_bundled_redis_is_where_the_config_points() -> None:
    """redis.enabled: a hardened Redis pod of the official image, in memory only, behind a Service that botwall's
    config names, with the release name as the key prefix and no password."""
    rendered = render(case_values("service-redis-bundled"))
    objs = objects(rendered)
    redis = botwall_config(rendered).state.redis
    assert (BUNDLED_REDIS_URL, "botwall", "", "", 50) == (
        redis.url,
        redis.prefix,
        redis.password_env,
        redis.ca_file,
        redis.sync_interval_ms,
    )
    service = find(objs, "Service", "botwall-redis")["spec"]
    pod = find(objs, "Deployment", "botwall-redis")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert ([(6379, "redis")], [("redis", 6379)]) == (
        [(p["port"], p["targetPort"]) for p in service["ports"]],
        [(p["name"], p["containerPort"]) for p in container["ports"]],
    )
    assert service["selector"] == find(objs, "Deployment", "botwall-redis")["spec"]["selector"]["matchLabels"]
    assert service["selector"] != find(objs, "Service", "botwall")["spec"]["selector"]
    expected_args = ["redis-server", "--save", "", "--appendonly", "no", "--maxmemory", "192mb"]
    assert ("redis:7", expected_args) == (container["image"], container["args"][:7])
    assert (HARDENED, 999, True) == (
        container["securityContext"],
        pod["securityContext"]["runAsUser"],
        pod["securityContext"]["runAsNonRoot"],
    )
    assert ({"cpu", "memory"}, {"cpu", "memory"}) == (
        set(container["resources"]["requests"]),
        set(container["resources"]["limits"]),
    )
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert [("data", "/data")] == [(m["name"], m["mountPath"]) for m in container["volumeMounts"]]
    assert "emptyDir" in volumes["data"]
    assert "BOTWALL_REDIS_PASSWORD" not in {e["name"] for e in botwall_container(rendered)["env"]}


def test_bundled_redis_takes_the_release_name_as_prefix() -> None:
    """Another release name: another Redis Service and another key prefix, so releases never share keys."""
    with helm.Chart.load(str(CHART)) as chart:
        rendered = chart.render(case_values("service-redis-bundled"), name="shop", namespace="edge")
    redis = botwall_config(rendered, "shop-botwall").state.redis
    assert ("redis://shop-botwall-redis.edge.svc.cluster.local:6379/0", "shop") == (redis.url, redis.prefix)
    assert ["Deployment", "Service"] == sorted(
        o["kind"] for o in objects(rendered) if o["metadata"]["name"] == "shop-botwall-redis"
    )


def test_bundled_redis_requires_the_secrets_password() -> None:
    """redis.enabled with state.redis.existingSecret: the bundled Redis requires the password botwall is given."""
    values = {**case_values("service-redis-bundled"), "state": {"backend": "redis", "redis": {"existingSecret": "rs"}}}
    rendered = render(values)
    container = find(objects(rendered), "Deployment", "botwall-redis")["spec"]["template"]["spec"]["containers"][0]
    ref = {"name": "rs", "key": "password"}
    assert (["--requirepass", "$(REDIS_PASSWORD)"], ref) == (
        container["args"][-2:],
        {e["name"]: e for e in container["env"]}["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"],
    )
    env = {e["name"]: e for e in botwall_container(rendered)["env"]}
    assert ref == env["BOTWALL_REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert "BOTWALL_REDIS_PASSWORD" == botwall_config(rendered).state.redis.password_env


def test_existing_redis_gets_its_password_and_ca_from_secrets() -> None:
    """An existing Redis over TLS: botwall's config names its URL, prefix and interval, the password's environment
    variable (set from the Secret) and the CA file (mounted from the other Secret); no Redis is bundled."""
    rendered = render(case_values("service-redis-existing"))
    redis = botwall_config(rendered).state.redis
    assert (
        "rediss://redis.data.svc.cluster.local:6380/0",
        "shop-botwall",
        "BOTWALL_REDIS_PASSWORD",
        "/etc/botwall-redis-ca/ca.crt",
        100,
    ) == (redis.url, redis.prefix, redis.password_env, redis.ca_file, redis.sync_interval_ms)
    container = botwall_container(rendered)
    env = {e["name"]: e for e in container["env"]}
    assert {"name": "botwall-redis", "key": "redis-password"} == env["BOTWALL_REDIS_PASSWORD"]["valueFrom"][
        "secretKeyRef"
    ]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in botwall_pod(rendered)["volumes"]}
    assert ("/etc/botwall-redis-ca", True) == (mounts["redis-ca"]["mountPath"], mounts["redis-ca"]["readOnly"])
    assert {"secretName": "redis-tls", "items": [{"key": "ca.crt", "path": "ca.crt"}]} == volumes["redis-ca"]["secret"]
    assert [] == [o for o in objects(rendered) if "redis" in o["metadata"]["name"]]


@pytest.mark.parametrize(
    ("values", "warned"),
    [
        ({}, True),
        ({"replicas": 1}, False),
        ({"replicas": 1, "autoscaling": {"enabled": True}}, True),
        ({"mode": "sidecar", "envoy": {"upstream": {"host": "app"}}}, True),
        ({"state": {"backend": "redis", "redis": {"url": "redis://redis:6379/0"}}}, False),
    ],
    ids=["two-replicas", "one-replica", "autoscaled", "sidecar", "redis"],
)
def test_notes_warn_that_memory_state_is_per_replica(values: dict[str, Any], warned: bool) -> None:
    """With more than one replica and state in memory, NOTES.txt warns that each replica sees only its own traffic."""
    notes = render(values)["botwall/templates/NOTES.txt"]
    assert warned == ("WARNING:" in notes and "half of its attempts" in notes)


def test_notes_tell_the_staleness_of_shared_state() -> None:
    """With Redis, NOTES.txt names the Redis (without a password), the sync interval and the staleness it means,
    and sends production to a managed Redis when the bundled one is on."""
    values = {"state": {"backend": "redis", "redis": {"url": "rediss://:hunter2@redis.example:6380/1"}}}
    notes = render(values)["botwall/templates/NOTES.txt"]
    bundled = render(case_values("service-redis-bundled"))["botwall/templates/NOTES.txt"]
    assert "rediss://redis.example:6380/1" in notes
    assert "hunter2" not in notes
    assert "every 50 ms" in notes
    assert "within about 100 ms" in notes
    assert "managed or highly available Redis" in bundled


def _state_dir(rendered: dict[str, str]) -> tuple[list[str], list[dict[str, Any]], list[dict[str, Any]]]:
    """What the state directory puts in a render: the botwall arguments from `--state-dir` on, its mounts in the
    botwall container, and its volumes in the pod."""
    container = botwall_container(rendered)
    args = container["args"]
    after = args[args.index("--state-dir") :] if "--state-dir" in args else []
    mounts = [m for m in container["volumeMounts"] if m["name"] == "state-dir"]
    volumes = [v for v in botwall_pod(rendered)["volumes"] if v["name"] == "state-dir"]
    return after, mounts, volumes


def _claims(rendered: dict[str, str]) -> list[dict[str, Any]]:
    return [o for o in objects(rendered) if o["kind"] == "PersistentVolumeClaim"]


@pytest.mark.parametrize("case", [c for c in CASES if not case_values(c).get("stateDir", {}).get("enabled")])
def test_state_dir_is_off_unless_enabled(case: str) -> None:
    """Without stateDir.enabled (the default, which the plain manifests match): no `--state-dir`, no state volume, no
    claim, the Deployment's default rollout strategy, and NOTES.txt says nothing of it."""
    rendered = render(case_values(case))
    assert ([], [], [], []) == (*_state_dir(rendered), _claims(rendered))
    assert "strategy" not in find(objects(rendered), "Deployment", "botwall")["spec"]
    assert "stateDir" not in rendered["botwall/templates/NOTES.txt"]
    # Persistence without the state directory is nothing either.
    unused = render({**case_values(case), "stateDir": {"persistence": {"enabled": True}}})
    assert ([], [], [], []) == (*_state_dir(unused), _claims(unused))


@pytest.mark.parametrize("mode", ["service", "sidecar"])
def test_state_dir_on_an_empty_dir_per_pod(mode: str) -> None:
    """stateDir.enabled: `botwall serve --state-dir PATH --state-retention-days N` (before extraArgs) with an emptyDir
    mounted writable at PATH in the botwall container (the native sidecar in sidecar mode), under a pod security
    context whose fsGroup is botwall's group; several replicas are fine, each pod keeping its own files, and the
    rollout strategy stays the default."""
    values = case_values("service-state-dir")
    if mode == "sidecar":
        values = {**values, "mode": "sidecar", "envoy": {"upstream": {"host": "app"}}}
    rendered = render({**values, "extraArgs": ["--shutdown-grace", "5"]})
    args, mounts, volumes = _state_dir(rendered)
    assert ["--state-dir", "/var/lib/botwall", "--state-retention-days", "7", "--shutdown-grace", "5"] == args
    assert [{"name": "state-dir", "mountPath": "/var/lib/botwall"}] == mounts
    assert [{"name": "state-dir", "emptyDir": {"sizeLimit": "512Mi"}}] == volumes
    pod = botwall_pod(rendered)
    assert (10001, 10001, 10001) == (
        pod["securityContext"]["runAsUser"],
        pod["securityContext"]["runAsGroup"],
        pod["securityContext"]["fsGroup"],
    )
    deployment = find(objects(rendered), "Deployment", "botwall")["spec"]
    assert (2, False, []) == (deployment["replicas"], "strategy" in deployment, _claims(rendered))
    notes = rendered["botwall/templates/NOTES.txt"]
    assert "/var/lib/botwall/botwall-<worker>.db (stateDir) on an emptyDir" in notes
    # The chart's defaults: the values' retention (botwall's own 30), an emptyDir without a size limit; an empty
    # retention leaves the flag out.
    args, _, volumes = _state_dir(render({"stateDir": {"enabled": True}}))
    assert (["--state-dir", "/var/lib/botwall", "--state-retention-days", "30"], {}) == (args, volumes[0]["emptyDir"])
    for days, flag in ((None, []), ("", []), (0.5, ["--state-retention-days", "0.5"])):
        args, _, _ = _state_dir(render({"stateDir": {"enabled": True, "retentionDays": days}}))
        assert ["--state-dir", "/var/lib/botwall", *flag] == args, days


def test_state_dir_on_a_claim_the_chart_creates() -> None:
    """stateDir.persistence with one replica: the chart creates `<fullname>-state` (ReadWriteOnce, the size and storage
    class asked for), mounts it at the path, and rolls the pod out with Recreate so the claim is never wanted by two
    pods at once."""
    rendered = render(case_values("sidecar-state-dir"))
    args, mounts, volumes = _state_dir(rendered)
    [claim] = _claims(rendered)
    assert ["--state-dir", "/var/lib/botwall/state", "--state-retention-days", "30"] == args
    assert [{"name": "state-dir", "mountPath": "/var/lib/botwall/state"}] == mounts
    assert [{"name": "state-dir", "persistentVolumeClaim": {"claimName": "botwall-state"}}] == volumes
    assert ("botwall-state", "botwall") == (claim["metadata"]["name"], claim["metadata"]["namespace"])
    assert {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "standard-rwo",
        "resources": {"requests": {"storage": "2Gi"}},
    } == claim["spec"]
    deployment = find(objects(rendered), "Deployment", "botwall")["spec"]
    assert (1, {"type": "Recreate", "rollingUpdate": None}) == (deployment["replicas"], deployment["strategy"])
    assert 10001 == botwall_pod(rendered)["securityContext"]["fsGroup"]
    assert "on the PersistentVolumeClaim botwall-state" in rendered["botwall/templates/NOTES.txt"]
    # The storage class: empty is the cluster's default (no field), `-` is none (an empty field).
    for asked, spec in (("", {}), ("-", {"storageClassName": ""})):
        persistence = {"enabled": True, "storageClassName": asked}
        [claim] = _claims(render({"replicas": 1, "stateDir": {"enabled": True, "persistence": persistence}}))
        expected = {"accessModes": ["ReadWriteOnce"], **spec, "resources": {"requests": {"storage": "1Gi"}}}
        assert expected == claim["spec"], asked
    # Another release's name, another claim.
    with helm.Chart.load(str(CHART)) as chart:
        other = chart.render(case_values("sidecar-state-dir"), name="shop", namespace="edge")
    assert ["shop-botwall-state"] == [c["metadata"]["name"] for c in _claims(other)]
    pod = find(objects(other), "Deployment", "shop-botwall")["spec"]["template"]["spec"]
    assert ["shop-botwall-state"] == [
        v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if v["name"] == "state-dir"
    ]


@pytest.mark.parametrize(
    "scale",
    [{"replicas": 1}, {"replicas": 3, "autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 1}}],
    ids=["one-replica", "autoscaled-to-one"],
)
def test_state_dir_on_an_existing_claim(scale: dict[str, Any]) -> None:
    """stateDir.persistence.existingClaim: that claim is mounted and none is created; one pod at a time (Recreate),
    also under an HPA whose maximum is one."""
    persistence = {"enabled": True, "existingClaim": "botwall-data"}
    rendered = render({**scale, "stateDir": {"enabled": True, "persistence": persistence}})
    _, mounts, volumes = _state_dir(rendered)
    assert [] == _claims(rendered)
    assert [{"name": "state-dir", "mountPath": "/var/lib/botwall"}] == mounts
    assert [{"name": "state-dir", "persistentVolumeClaim": {"claimName": "botwall-data"}}] == volumes
    assert {"type": "Recreate", "rollingUpdate": None} == find(objects(rendered), "Deployment", "botwall")["spec"][
        "strategy"
    ]


def _merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`base` with `extra` merged in, key by key (as Helm merges values files)."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def _autoscalers(objs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The HorizontalPodAutoscalers and KEDA ScaledObjects of a render, as (kind, name)."""
    return [
        (o["kind"], o["metadata"]["name"]) for o in objs if o["kind"] in ("HorizontalPodAutoscaler", "ScaledObject")
    ]


def test_no_autoscaler_unless_enabled() -> None:
    """In every case: with autoscaling off, no autoscaler and the Deployment's own `replicas`; with it on, one
    autoscaler (a ScaledObject in keda mode, else the chart's HPA) on the Deployment, which then has no `replicas`."""
    for case in CASES:
        values = case_values(case)
        objs = objects(render(values))
        deployment = find(objs, "Deployment", "botwall")
        scaling = values.get("autoscaling", {})
        keda = scaling.get("eventLoad", {}).get("enabled") and scaling["eventLoad"].get("mode") == "keda"
        if scaling.get("enabled"):
            expected = [("ScaledObject" if keda else "HorizontalPodAutoscaler", "botwall")]
            assert (expected, False) == (_autoscalers(objs), "replicas" in deployment["spec"]), case
        else:
            assert ([], values.get("replicas", 2)) == (_autoscalers(objs), deployment["spec"]["replicas"]), case


def test_cpu_autoscaling_alone_is_an_hpa_on_cpu() -> None:
    """autoscaling without eventLoad: the chart's HPA on the Deployment, min and max replicas, CPU only."""
    hpa = find(objects(render(case_values("service-autoscaled"))), "HorizontalPodAutoscaler")
    assert ({"apiVersion": "apps/v1", "kind": "Deployment", "name": "botwall"}, 3, 12) == (
        hpa["spec"]["scaleTargetRef"],
        hpa["spec"]["minReplicas"],
        hpa["spec"]["maxReplicas"],
    )
    cpu = {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}
    assert [{"type": "Resource", "resource": cpu}] == hpa["spec"]["metrics"]
    assert "behavior" not in hpa["spec"]


@pytest.mark.parametrize("mode", ["service", "sidecar"])
def test_keda_scales_on_the_expected_load_and_cpu(mode: str) -> None:
    """eventLoad in keda mode: a ScaledObject (and no chart HPA) on the Deployment (botwall's in service mode, the
    gateway's in sidecar mode) with the min and max replicas, a Prometheus trigger whose query is the largest
    botwall_event_expected_rps of this release's pods against rpsPerReplica, through the TriggerAuthentication, and a
    CPU trigger; the Deployment has no `replicas`. KEDA's CRD schema is not available offline: the fields are
    checked here by hand."""
    values = case_values("service-event-keda")
    if mode == "sidecar":
        values = {**values, "mode": "sidecar", "envoy": {"upstream": {"host": "app"}}}
    objs = objects(render(values))
    scaled = find(objs, "ScaledObject", "botwall")
    deployment = find(objs, "Deployment", "botwall")
    assert [("ScaledObject", "botwall")] == _autoscalers(objs)
    assert "replicas" not in deployment["spec"]
    expected_kind = "gateway" if mode == "sidecar" else "ext-proc"
    assert expected_kind == deployment["metadata"]["labels"]["app.kubernetes.io/component"]
    assert ("keda.sh/v1alpha1", "botwall") == (scaled["apiVersion"], scaled["metadata"]["namespace"])
    assert {"apiVersion": "apps/v1", "kind": "Deployment", "name": "botwall"} == scaled["spec"]["scaleTargetRef"]
    assert (2, 30) == (scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"])
    behavior = {"scaleDown": {"stabilizationWindowSeconds": 600}}
    assert behavior == scaled["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    prometheus, cpu = scaled["spec"]["triggers"]
    query = 'max(botwall_event_expected_rps{namespace="botwall",pod=~"botwall-[a-z0-9]+-[a-z0-9]+"})'
    metadata = {
        "serverAddress": "http://prometheus-operated.monitoring.svc:9090",
        "query": query,
        "threshold": "400",
        "ignoreNullValues": "true",
        "authModes": "bearer",
    }
    assert ("prometheus", metadata, {"name": "prometheus-credentials"}) == (
        prometheus["type"],
        prometheus["metadata"],
        prometheus["authenticationRef"],
    )
    assert {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "60"}} == cpu


def test_keda_query_picks_this_releases_pods_only() -> None:
    """The query's pod pattern (PromQL anchors it) matches the pods of the release's Deployment and none of the
    bundled Redis's or another release's whose name starts the same; another release and namespace get their own."""
    query = find(objects(render(case_values("service-event-keda"))), "ScaledObject")["spec"]["triggers"][0]
    pattern = re.search(r'pod=~"([^"]+)"', query["metadata"]["query"])
    assert pattern is not None
    pods = [
        "botwall-7d9f8c6b5-x2x7q",
        "botwall-65b4c8d9f7-abcde",
        "botwall-redis-5f6d7-abcde",
        "botwall-canary-7d9-abc",
    ]
    assert [True, True, False, False] == [re.fullmatch(pattern.group(1), pod) is not None for pod in pods]
    with helm.Chart.load(str(CHART)) as chart:
        other = chart.render(case_values("service-event-keda"), name="shop", namespace="edge")
    query = find(objects(other), "ScaledObject", "shop-botwall")["spec"]["triggers"][0]["metadata"]["query"]
    assert 'max(botwall_event_expected_rps{namespace="edge",pod=~"shop-botwall-[a-z0-9]+-[a-z0-9]+"})' == query
    dotted = render({**case_values("service-event-keda"), "fullnameOverride": "shop.botwall"})
    query = find(objects(dotted), "ScaledObject")["spec"]["triggers"][0]["metadata"]["query"]
    assert 'pod=~"shop[.]botwall-[a-z0-9]+-[a-z0-9]+"' in query
    own = {"eventLoad": {"keda": {"query": 'max(botwall_event_expected_rps{kubernetes_namespace="botwall"})'}}}
    mine = render(_merged(case_values("service-event-keda"), {"autoscaling": own}))
    query = find(objects(mine), "ScaledObject")["spec"]["triggers"][0]["metadata"]["query"]
    assert 'max(botwall_event_expected_rps{kubernetes_namespace="botwall"})' == query


@pytest.mark.parametrize(("asked", "rendered"), [(400, "400"), (250.5, "250.5"), (1000000, "1000000"), ("80", "80")])
def test_rps_per_replica_renders_as_a_plain_number(asked: Any, rendered: str) -> None:
    """rpsPerReplica becomes KEDA's threshold and the HPA's averageValue as written, never in exponent form."""
    keda = render(_merged(case_values("service-event-keda"), {"autoscaling": {"eventLoad": {"rpsPerReplica": asked}}}))
    adapter = render(
        _merged(case_values("sidecar-event-adapter"), {"autoscaling": {"eventLoad": {"rpsPerReplica": asked}}})
    )
    threshold = find(objects(keda), "ScaledObject")["spec"]["triggers"][0]["metadata"]["threshold"]
    average = find(objects(adapter), "HorizontalPodAutoscaler")["spec"]["metrics"][1]["object"]["target"]
    assert (rendered, rendered) == (threshold, average["averageValue"])


@pytest.mark.parametrize("mode", ["service", "sidecar"])
def test_prometheus_adapter_hpa_reads_the_admin_services_gauge(mode: str) -> None:
    """eventLoad in prometheusAdapter mode: the chart's HPA (no ScaledObject) on the Deployment, on CPU and on
    botwall_event_expected_rps of the admin Service, averaged over the replicas against rpsPerReplica; that Service
    is the one the ServiceMonitor scrapes and selects the Deployment's pods; the Deployment has no `replicas`."""
    values = case_values("sidecar-event-adapter")
    if mode == "service":
        values = {k: v for k, v in values.items() if k not in ("mode", "envoy")}
    objs = objects(render(values))
    hpa = find(objs, "HorizontalPodAutoscaler", "botwall")
    deployment = find(objs, "Deployment", "botwall")
    admin = find(objs, "Service", "botwall-admin")
    monitor = find(objs, "ServiceMonitor", "botwall")
    assert [("HorizontalPodAutoscaler", "botwall")] == _autoscalers(objs)
    assert "replicas" not in deployment["spec"]
    assert ({"apiVersion": "apps/v1", "kind": "Deployment", "name": "botwall"}, 3, 40) == (
        hpa["spec"]["scaleTargetRef"],
        hpa["spec"]["minReplicas"],
        hpa["spec"]["maxReplicas"],
    )
    cpu = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}
    event = {
        "type": "Object",
        "object": {
            "describedObject": {"apiVersion": "v1", "kind": "Service", "name": "botwall-admin"},
            "metric": {"name": "botwall_event_expected_rps"},
            "target": {"type": "AverageValue", "averageValue": "250.5"},
        },
    }
    assert [cpu, event] == hpa["spec"]["metrics"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= admin["metadata"]["labels"].items()
    assert deployment["spec"]["selector"]["matchLabels"] == admin["spec"]["selector"]


def test_readme_scaling_examples_are_what_the_chart_renders() -> None:
    """The README's "Helm: scaling ahead of a drop": its values render its ScaledObject, and its prometheus-adapter
    rule serves the metric the HPA asks for, on the Service it names (the namespace and service labels the
    ServiceMonitor's series carry), as the largest value over the pods."""
    section = re.split(r"\n##+ ", README.read_text().split("### Helm: scaling ahead of a drop\n", 1)[1])[0]
    values, scaled, _, rules = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", section, re.S)]
    rendered = find(objects(render(values)), "ScaledObject")
    assert (scaled["metadata"], scaled["spec"]) == (
        {k: rendered["metadata"][k] for k in ("name", "namespace")},
        rendered["spec"],
    )
    [rule] = rules["rules"]["custom"]
    adapter = _merged(values, {"autoscaling": {"eventLoad": {"mode": "prometheusAdapter"}}})
    hpa = find(
        objects(render({**adapter, "metrics": {"serviceMonitor": {"enabled": True}}})), "HorizontalPodAutoscaler"
    )
    metric = hpa["spec"]["metrics"][1]["object"]
    assert [metric["metric"]["name"]] * 2 == [re.split(r"[{]", rule["seriesQuery"])[0], rule["name"]["as"]]
    overrides = {
        "namespace": {"resource": "namespace"},
        "service": {"resource": metric["describedObject"]["kind"].lower()},
    }
    assert overrides == rule["resources"]["overrides"]
    assert rule["metricsQuery"].startswith("max(")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"mode": "gateway"}, 'mode must be "service" or "sidecar", got "gateway"'),
        ({"mode": "sidecar"}, "sidecar mode needs envoy.upstream.host"),
        (
            {"mode": "sidecar", "envoy": {"upstream": {"host": "app"}, "tls": {"enabled": True}}},
            "envoy.tls.enabled needs envoy.tls.secretName",
        ),
        (
            {"drainDelaySeconds": 25, "pod": {"terminationGracePeriodSeconds": 30}},
            "pod.terminationGracePeriodSeconds (30) must be more than drainDelaySeconds (25) + 10 seconds",
        ),
        ({"state": {"backend": "disk"}}, 'state.backend must be "memory" or "redis", got "disk"'),
        (
            {"redis": {"enabled": True}},
            "redis.enabled is set but state.backend is memory: set state.backend=redis",
        ),
        (
            {"state": {"redis": {"url": "redis://redis:6379/0"}}},
            "state.redis.url is set but state.backend is memory: set state.backend=redis",
        ),
        ({"state": {"backend": "redis"}}, "state.backend redis needs state.redis.url (an existing Redis) or"),
        (
            {"state": {"backend": "redis", "redis": {"url": "redis://redis:6379/0"}}, "redis": {"enabled": True}},
            "state.redis.url and redis.enabled exclude each other",
        ),
        (
            {"state": {"backend": "redis", "redis": {"url": "redis://redis:6379/0", "caSecret": "ca"}}},
            "state.redis.caSecret is for a TLS Redis: state.redis.url must start with rediss://",
        ),
        (
            {"state": {"backend": "redis", "redis": {"url": "redis://redis:6379/0", "prefix": "my shop"}}},
            'state.redis.prefix must be 1-64 characters without spaces or braces, got "my shop"',
        ),
        (
            {"config": {"botwall": "shadow: true\nstate: {backend: redis}\n"}},
            "config.botwall must leave out the state section: the chart appends it from the state values",
        ),
        ({"botwall": {"workers": 0}}, "botwall.workers must be a whole number from 1 to 256"),
        ({"botwall": {"workers": 1.5}}, "botwall.workers must be a whole number from 1 to 256 (botwall processes"),
        ({"botwall": {"workers": 257}}, "botwall.workers must be a whole number from 1 to 256"),
        (
            {"port": 65535, "botwall": {"workers": 2}},
            "botwall.workers 2 from port 65535 runs past port 65535",
        ),
        (
            {"mode": "sidecar", "envoy": {"upstream": {"host": "app"}, "adminPort": 9192}, "botwall": {"workers": 2}},
            "envoy.adminPort (9192) is one of botwall's ports in the pod (9191 to 9192",
        ),
        (
            {"extraEnv": [{"name": "BOTWALL_WORKERS", "value": "4"}]},
            "set botwall.workers, not BOTWALL_WORKERS in extraEnv",
        ),
        ({"admin": {"port": 0}}, "admin.port must be a port number from 1 to 65535, got 0"),
        ({"admin": {"port": "http"}}, "admin.port must be a port number from 1 to 65535, got http"),
        (
            {"admin": {"port": 65535}, "botwall": {"workers": 2}},
            "botwall.workers 2 from admin.port 65535 runs past port 65535",
        ),
        (
            {"admin": {"port": 9191}},
            "admin.port: botwall's admin ports (9191 to 9191: admin.port plus botwall.workers) meet its gRPC ports "
            "(9191 to 9191",
        ),
        (
            {"admin": {"port": 9190}, "botwall": {"workers": 2}},
            "admin.port: botwall's admin ports (9190 to 9191: admin.port plus botwall.workers) meet its gRPC ports "
            "(9191 to 9192",
        ),
        (
            {"mode": "sidecar", "envoy": {"upstream": {"host": "app"}}, "admin": {"port": 9901}},
            "envoy.adminPort (9901) is one of botwall's admin ports in the pod (9901 to 9901",
        ),
        (
            {"mode": "sidecar", "envoy": {"upstream": {"host": "app"}, "httpPort": 8082}, "botwall": {"workers": 2}},
            "envoy.httpPort (8082) is one of botwall's admin ports in the pod (8081 to 8082",
        ),
        (
            {"config": {"botwall": "shadow: true\nadmin: {open_paths: [/metrics]}\n"}},
            "config.botwall must leave out the admin section: the chart appends it from the admin values",
        ),
        (
            {"config": {"existingConfigMap": "mine"}, "admin": {"openMetrics": True}},
            "admin.openMetrics needs the chart's config: with config.existingConfigMap, add /metrics",
        ),
        (
            {"extraEnv": [{"name": "BOTWALL_ADMIN_TOKEN", "value": "0123456789abcdef"}]},
            "set admin.port and admin.tokenSecret, not BOTWALL_ADMIN_TOKEN in extraEnv",
        ),
        (
            {"extraArgs": ["--admin-listen=127.0.0.1:9000"]},
            "set admin.port and admin.tokenSecret, not --admin-listen=127.0.0.1:9000 in extraArgs",
        ),
        (
            {"stateDir": {"enabled": True, "persistence": {"enabled": True}}},
            "stateDir.persistence needs a single replica, but replicas is 2: every pod would mount the same "
            "PersistentVolumeClaim and write the same files (botwall-<worker>.db), and a ReadWriteOnce claim mounts on "
            "one node only. Set replicas=1 with autoscaling off, or stateDir.persistence.enabled=false for an emptyDir "
            "per pod",
        ),
        (
            {
                "replicas": 1,
                "autoscaling": {"enabled": True},
                "stateDir": {"enabled": True, "persistence": {"enabled": True}},
            },
            "stateDir.persistence needs a single replica, but autoscaling.maxReplicas is 10",
        ),
        (
            {"stateDir": {"enabled": True, "persistence": {"enabled": True, "existingClaim": "botwall-data"}}},
            "stateDir.persistence needs a single replica, but replicas is 2",
        ),
        (
            {"stateDir": {"enabled": True, "path": "state"}},
            'stateDir.path must be an absolute directory path other than /, got "state"',
        ),
        ({"stateDir": {"enabled": True, "path": "/"}}, "stateDir.path must be an absolute directory path other than /"),
        (
            {"stateDir": {"enabled": True, "path": "/etc/botwall/"}},
            "stateDir.path /etc/botwall/ is already a mount of the botwall container (/tmp, /etc/botwall,",
        ),
        (
            {"stateDir": {"enabled": True, "retentionDays": 0}},
            "stateDir.retentionDays must be a number of days above 0, got 0",
        ),
        (
            {"stateDir": {"enabled": True, "retentionDays": "a month"}},
            "stateDir.retentionDays must be a number of days above 0",
        ),
        (
            {"stateDir": {"enabled": True}, "extraArgs": ["--state-dir", "/data"]},
            "set stateDir.path and stateDir.retentionDays, not --state-dir in extraArgs",
        ),
        (
            {"stateDir": {"enabled": True}, "extraEnv": [{"name": "BOTWALL_STATE_DIR", "value": "/data"}]},
            "set stateDir.path, not BOTWALL_STATE_DIR in extraEnv",
        ),
        (
            {"autoscaling": {"enabled": True, "minReplicas": 0}},
            "autoscaling.minReplicas and autoscaling.maxReplicas must be whole numbers with 1 <= minReplicas <= "
            "maxReplicas, got 0 and 10",
        ),
        (
            {"autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 4}},
            "1 <= minReplicas <= maxReplicas, got 5 and 4",
        ),
        (
            {"autoscaling": {"eventLoad": {"enabled": True, "rpsPerReplica": 400}}},
            "autoscaling.eventLoad needs autoscaling.enabled",
        ),
        (
            {"autoscaling": {"enabled": True, "eventLoad": {"enabled": True, "keda": {"serverAddress": KEDA_PROM}}}},
            "autoscaling.eventLoad needs rpsPerReplica: the requests per second one replica handles (a number above "
            '0), got ""',
        ),
        (
            {"autoscaling": {"enabled": True, "eventLoad": {"enabled": True, "rpsPerReplica": 0}}},
            "autoscaling.eventLoad needs rpsPerReplica: the requests per second one replica handles (a number above "
            '0), got "0"',
        ),
        (
            {"autoscaling": {"enabled": True, "eventLoad": {"enabled": True, "rpsPerReplica": "lots"}}},
            "autoscaling.eventLoad needs rpsPerReplica: the requests per second one replica handles (a number above "
            '0), got "lots"',
        ),
        (
            {"autoscaling": {"enabled": True, "eventLoad": {"enabled": True, "rpsPerReplica": 400, "mode": "hpa"}}},
            'autoscaling.eventLoad.mode must be "keda" (a KEDA ScaledObject) or "prometheusAdapter" (an HPA on '
            'prometheus-adapter\'s metric), got "hpa"',
        ),
        (
            {"autoscaling": {"enabled": True, "eventLoad": {"enabled": True, "rpsPerReplica": 400}}},
            "autoscaling.eventLoad.keda.serverAddress must be the http:// or https:// address of the Prometheus KEDA "
            'queries, got ""',
        ),
        (
            {
                "autoscaling": {
                    "enabled": True,
                    "eventLoad": {
                        "enabled": True,
                        "rpsPerReplica": 400,
                        "keda": {"serverAddress": KEDA_PROM, "authenticationRef": "prometheus-credentials"},
                    },
                }
            },
            "autoscaling.eventLoad.keda.authenticationRef and authModes go together",
        ),
        (
            {
                "fullnameOverride": "a-storefront-gateway-with-a-very-long-release-name",
                "autoscaling": {
                    "enabled": True,
                    "eventLoad": {"enabled": True, "rpsPerReplica": 400, "keda": {"serverAddress": KEDA_PROM}},
                },
            },
            "Kubernetes shortens the pod names of a Deployment named over 46 characters "
            '("a-storefront-gateway-with-a-very-long-release-name" is 50): set a shorter fullnameOverride, or '
            "autoscaling.eventLoad.keda.query",
        ),
        (
            {
                "autoscaling": {
                    "enabled": True,
                    "eventLoad": {"enabled": True, "rpsPerReplica": 400, "mode": "prometheusAdapter"},
                }
            },
            "autoscaling.eventLoad.mode prometheusAdapter needs metrics.serviceMonitor.enabled",
        ),
        (
            {
                "autoscaling": {
                    "enabled": True,
                    "minReplicas": 1,
                    "maxReplicas": 1,
                    "eventLoad": {"enabled": True, "rpsPerReplica": 400, "keda": {"serverAddress": KEDA_PROM}},
                },
                "stateDir": {"enabled": True, "persistence": {"enabled": True}},
            },
            "autoscaling.eventLoad adds replicas ahead of an event, but stateDir.persistence mounts one "
            "PersistentVolumeClaim that a single pod can use: set stateDir.persistence.enabled=false",
        ),
    ],
    ids=[
        "autoscaling-from-zero",
        "autoscaling-min-over-max",
        "event-load-without-autoscaling",
        "event-load-without-rps",
        "event-load-rps-zero",
        "event-load-rps-not-a-number",
        "event-load-unknown-mode",
        "keda-without-prometheus",
        "keda-auth-ref-without-modes",
        "keda-pod-names-shortened",
        "adapter-without-service-monitor",
        "event-load-with-a-state-claim",
        "bad-mode",
        "no-upstream",
        "tls-without-secret",
        "grace-shorter-than-drain",
        "bad-backend",
        "bundled-redis-on-memory",
        "redis-url-on-memory",
        "redis-nowhere",
        "redis-url-and-bundled",
        "ca-without-tls",
        "prefix-with-space",
        "state-in-config",
        "no-workers",
        "fractional-workers",
        "too-many-workers",
        "workers-past-65535",
        "envoy-port-on-a-worker",
        "workers-in-extra-env",
        "admin-port-zero",
        "admin-port-a-name",
        "admin-ports-past-65535",
        "admin-port-is-grpc",
        "admin-ports-meet-grpc",
        "envoy-admin-on-botwall-admin",
        "envoy-http-on-a-worker-admin",
        "admin-in-config",
        "open-metrics-with-own-config",
        "admin-token-in-extra-env",
        "admin-listen-in-extra-args",
        "state-claim-for-two-replicas",
        "state-claim-for-an-hpa",
        "state-existing-claim-for-two-replicas",
        "state-dir-relative",
        "state-dir-root",
        "state-dir-on-the-config",
        "state-retention-zero",
        "state-retention-not-a-number",
        "state-dir-in-extra-args",
        "state-dir-in-extra-env",
    ],
)
def test_unusable_values_fail_with_a_message(values: dict[str, Any], message: str) -> None:
    """Values that cannot work stop the render with a message naming the key."""
    with pytest.raises(helm.HelmRenderError) as excinfo:
        render(values)
    assert message in str(excinfo.value)


@pytest.mark.parametrize("case", CASES)
def test_notes_name_the_release(case: str) -> None:
    """NOTES.txt renders for every case and tells where botwall (or the gateway) is and its failure mode."""
    notes = render(case_values(case))["botwall/templates/NOTES.txt"]
    assert "botwall.botwall.svc" in notes
    assert "fail-closed" in notes


def _rewrite_tls_files(node: Any, cert: Path, key: Path) -> Any:
    """The config names the TLS Secret's files under /etc/envoy/tls; point them at a generated pair, nothing else."""
    if isinstance(node, dict):
        return {k: _rewrite_tls_files(v, cert, key) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite_tls_files(v, cert, key) for v in node]
    if node == "/etc/envoy/tls/tls.crt":
        return str(cert)
    if node == "/etc/envoy/tls/tls.key":
        return str(key)
    return node


def _gateway_settings(values: dict[str, Any]) -> EnvoySettings:
    """What botwall's own renderer is asked for, for a sidecar release with these values (the chart's defaults
    where the values say nothing)."""
    with helm.Chart.load(str(CHART)) as chart:
        defaults = chart.values
    envoy = {**defaults["envoy"], **values.get("envoy", {})}
    upstream = {**defaults["envoy"]["upstream"], **envoy["upstream"]}
    tls = {**defaults["envoy"]["tls"], **envoy["tls"]}
    port = values.get("port", defaults["port"])
    workers = {**defaults["botwall"], **values.get("botwall", {})}["workers"]
    return EnvoySettings(
        http=("0.0.0.0", envoy["httpPort"]),
        tls=("0.0.0.0", tls["port"]) if tls["enabled"] else None,
        tls_cert=Path("/etc/envoy/tls/tls.crt"),
        tls_key=Path("/etc/envoy/tls/tls.key"),
        botwall=("127.0.0.1", port),
        botwall_ports=tuple(range(port, port + workers)) if workers > 1 else (),
        upstream=(upstream["host"], upstream["port"]),
        upstream_timeout=upstream["timeout"],
        trusted_hops=envoy["trustedHops"],
        fail_closed=not envoy["failureModeAllow"],
        message_timeout=envoy["messageTimeout"],
        admin=("127.0.0.1", envoy["adminPort"]),
    )


@pytest.mark.parametrize("case", SIDECAR_CASES)
def test_sidecar_envoy_config_is_what_botwall_renders(case: str) -> None:
    """The sidecar's Envoy config is exactly the gateway botwall renders for the release's values: the listeners'
    ports, botwall's cluster (an endpoint per worker), the upstream (by DNS), the TLS listener, failure mode, message
    timeout, trusted hops and route timeout."""
    values = case_values(case)
    assert render_gateway(_gateway_settings(values)) == envoy_config(render(values))


@pytest.mark.parametrize("case", SIDECAR_CASES)
def test_sidecar_envoy_config_passes_envoy_validate(case: str, tmp_path: Path) -> None:
    """Envoy 1.40 accepts the sidecar's Envoy config (`envoy --mode validate`; TLS files swapped for a test pair)."""
    cert, key = self_signed_certificate(tmp_path / "tls")
    config = _rewrite_tls_files(envoy_config(render(case_values(case))), cert, key)
    target = tmp_path / "envoy.yaml"
    target.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [find_envoy(), "--mode", "validate", "-c", str(target)], capture_output=True, text=True, timeout=60
    )
    assert 0 == result.returncode, result.stdout + result.stderr


def _loopback(config: dict[str, Any], botwall_ports: tuple[int, ...], upstream_port: int) -> dict[str, Any]:
    """Only addresses and ports change: listeners and admin on ephemeral loopback ports, botwall's cluster on its
    workers' ephemeral ports (one endpoint each), the upstream at the demo shop; access log to a file the test can
    read."""
    config = copy.deepcopy(config)
    loopback = {"address": "127.0.0.1", "port_value": 0}
    config["admin"]["address"]["socket_address"] = dict(loopback)
    for listener in config["static_resources"]["listeners"]:
        listener["address"]["socket_address"] = dict(loopback)
    for cluster in config["static_resources"]["clusters"]:
        endpoints = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
        ports = botwall_ports if cluster["name"] == "botwall" else (upstream_port,)
        assert len(ports) == len(endpoints), cluster["name"]
        for lb_endpoint, port in zip(endpoints, ports, strict=True):
            lb_endpoint["endpoint"]["address"]["socket_address"] = {"address": "127.0.0.1", "port_value": port}
    return config


def _saved_endpoints(state_dir: Path, workers: int) -> set[tuple[str, str]]:
    """The (method, template) of every endpoint botwall saved under `--state-dir`, over its workers' files."""
    saved = set()
    for worker in range(workers):
        with contextlib.closing(sqlite3.connect(state_dir / f"botwall-{worker}.db")) as db:
            for (data,) in db.execute("SELECT data FROM endpoints"):
                endpoint = json.loads(data)
                saved.add((endpoint["method"], endpoint["template"]))
    return saved


@pytest.mark.integration
@pytest.mark.parametrize("case", ["sidecar", "sidecar-workers", "sidecar-state-dir"])
def test_sidecar_boots_and_filters_real_traffic(
    case: str, tmp_path: Path, shop: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sidecar case's botwall arguments (its admin listener on every address, as in the pod), the admin token
    from the chart's Secret and the Envoy config, run as local processes in front of the demo shop: curl gets 403, a
    browser reaches the shop tagged, Envoy's probe route answers, and botwall's probes pass: their paths answer
    without the token on every worker's admin port, while /metrics asks for it. With two workers, Envoy's cluster
    reaches both: each judges some of the requests. With the state directory (its mount point mapped to an empty
    directory, as the volume starts), botwall starts on it and, once stopped, has saved the endpoints it saw there."""
    rendered = render(case_values(case))
    container = botwall_container(rendered)
    botwall_yaml = tmp_path / "botwall.yaml"
    botwall_yaml.write_text(find(objects(rendered), "ConfigMap", "botwall")["data"]["botwall.yaml"])
    args = list(container["args"])
    args[args.index("--listen") + 1] = "127.0.0.1:0"  # with --workers 2: an ephemeral port for each worker
    admin_host = args[args.index("--admin-listen") + 1].rsplit(":", 1)[0]
    args[args.index("--admin-listen") + 1] = f"{admin_host}:0"  # the chart's address, ephemeral ports
    args[args.index("--config") + 1] = str(botwall_yaml)
    state_dir = None
    if "--state-dir" in args:  # the volume's mount point, as the pod has it: an empty directory botwall can write
        [mount] = [m for m in container["volumeMounts"] if m["name"] == "state-dir"]
        assert mount["mountPath"] == args[args.index("--state-dir") + 1]
        state_dir = tmp_path / "state-volume"
        state_dir.mkdir()
        args[args.index("--state-dir") + 1] = str(state_dir)
    # BOTWALL_ADMIN_TOKEN as the pod gets it, from the chart's generated Secret (the processor inherits it).
    ref = {e["name"]: e for e in container["env"]}["BOTWALL_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"]
    token = base64.b64decode(find(objects(rendered), "Secret", ref["name"])["data"][ref["key"]]).decode()
    monkeypatch.setenv("BOTWALL_ADMIN_TOKEN", token)
    workers = int(args[args.index("--workers") + 1]) if "--workers" in args else 1
    botwall = start_processor(tmp_path, [sys.executable, "-m", "botwall", *args], timeout=30.0 * workers)
    ports = botwall.ports if workers > 1 else (botwall.port,)
    ready = json.loads((tmp_path / "botwall-ready.json").read_text())
    admin_ports = ready["admin_ports"] if workers > 1 else [ready["admin_port"]]
    before = len(shop.requests)
    envoy = None
    try:
        assert (workers, botwall.port) == (len(ports), ports[0])
        envoy = start_envoy(_loopback(envoy_config(rendered), ports, shop.port), tmp_path)
        port = envoy.ports["http"]
        human = http_get(port, "/_echo", BROWSER)
        bots = [http_get(port, "/", CURL) for _ in range(1 if workers == 1 else 20)]
        probe = http_get(port, "/envoy/healthz", [])
        # The probes' own requests, without a token, at each worker's admin port (the kubelet asks the first).
        probes = ("startupProbe", "livenessProbe", "readinessProbe")
        health = [http_get(a, container[p]["httpGet"]["path"], []).status for a in admin_ports for p in probes]
        bearer = [("authorization", f"Bearer {token}")]
        metrics = [(http_get(a, "/metrics", []).status, http_get(a, "/metrics", bearer)) for a in admin_ports]
        assert [403] * len(bots) == [bot.status for bot in bots], bots[0].body
        assert 200 == human.status, human.body
        seen = dict(json.loads(human.body)["headers"])
        assert "human" == seen["x-botwall-verdict"]
        assert int(seen["x-botwall-score"]) < 30
        assert ["/_echo"] == [r["path"] for r in list(shop.requests)[before:]]
        assert (200, b"ok\n") == (probe.status, probe.body)
        assert (workers, [200] * 3 * workers) == (len(admin_ports), health)
        assert [(401, 200)] * workers == [(closed, opened.status) for closed, opened in metrics]
        assert all(b"botwall_requests_total" in opened.body for _, opened in metrics)
        if workers > 1:
            lines = [json.loads(line) for line in botwall.log_path.read_text().splitlines() if line.startswith("{")]
            judged = {e.get("worker") for e in lines if e.get("event") == "decision" and e.get("path") == "/"}
            assert set(range(workers)) == judged
    finally:
        if envoy is not None:
            envoy.stop()
            print(f"--- envoy log ---\n{envoy.logs()}")
        botwall.stop()
        print(f"--- botwall log ---\n{botwall.logs()}")
    if state_dir is not None:  # SIGTERM wrote the last batch
        assert {("GET", "/_echo"), ("GET", "/")} <= _saved_endpoints(state_dir, workers)
