"""The Helm chart, rendered by the real Helm library: lint, golden files, Kubernetes schemas, the sidecar's Envoy
config checked by Envoy, and the sidecar mode booted as local processes with real traffic through it.

Golden files: each `k8s/helm/botwall/tests/<case>.in.yaml` (values) renders to `<case>.out.yaml`. After a deliberate
change, regenerate them with `make helm-golden` (or `BOTWALL_UPDATE_GOLDEN=1 pytest tests/deploy`) and review the diff.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from botwall.config import parse_yaml
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

ENVOY_CONFIG_MASK = "<files/gateway.yaml with this release's values: see test_helm.py's sidecar tests>"
# Firefox's own navigation headers, as captured through Envoy to 127.0.0.1.
BROWSER = captured_headers("firefox-headless", "navigation", "http", "127.0.0.1")
CURL = [("user-agent", "curl/8.14.1"), ("accept", "*/*")]


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
        parts.append(f"---\n# Source: {path}\n{body}\n")
    return "".join(parts)


def envoy_config(rendered: dict[str, str]) -> dict[str, Any]:
    """The sidecar's Envoy config, from its ConfigMap."""
    configmap = find(objects(rendered), "ConfigMap", "botwall-envoy")
    loaded: dict[str, Any] = yaml.safe_load(configmap["data"]["envoy.yaml"])
    return loaded


def botwall_container(rendered: dict[str, str]) -> dict[str, Any]:
    """The botwall container of the Deployment (an init container in sidecar mode)."""
    spec = find(objects(rendered), "Deployment")["spec"]["template"]["spec"]
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
    assert [] == [error for obj in objs for error in schema_errors(obj)]
    assert {"Deployment", "Service", "ServiceAccount", "PodDisruptionBudget"} <= {o["kind"] for o in objs}


@pytest.mark.parametrize("case", CASES)
def test_hardened_by_default(case: str) -> None:
    """Every container runs non-root on a read-only root filesystem with no capabilities and seccomp RuntimeDefault."""
    spec = find(objects(render(case_values(case))), "Deployment")["spec"]["template"]["spec"]
    expected = {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    for container in spec.get("initContainers", []) + spec["containers"]:
        assert expected == container["securityContext"], container["name"]
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
    assert [] == [o for o in objects(own) if o["kind"] == "Secret"]
    env = {e["name"]: e for e in botwall_container(own)["env"]}
    assert {"name": "mine", "key": "k"} == env["BOTWALL_COOKIE_SECRET"]["valueFrom"]["secretKeyRef"]


def test_service_mode_is_headless_with_grpc_probes() -> None:
    """Service mode: a headless Service on gRPC port 9191, botwall on every address, gRPC health probes."""
    rendered = render({})
    service = find(objects(rendered), "Service")
    container = botwall_container(rendered)
    assert ("None", [9191]) == (service["spec"]["clusterIP"], [p["port"] for p in service["spec"]["ports"]])
    expected_args = ["serve", "--listen", "0.0.0.0:9191", "--config", "/etc/botwall/botwall.yaml"]
    assert [*expected_args, "--drain-delay", "15"] == container["args"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert {"port": 9191} == container[probe]["grpc"]
    assert 180 == container["startupProbe"]["periodSeconds"] * container["startupProbe"]["failureThreshold"]


def test_sidecar_mode_keeps_botwall_on_loopback() -> None:
    """Sidecar mode: botwall is a native sidecar on 127.0.0.1 with exec probes; Envoy's Service is the way in."""
    rendered = render(case_values("sidecar"))
    container = botwall_container(rendered)
    service = find(objects(rendered), "Service")
    assert "Always" == container["restartPolicy"]
    assert "127.0.0.1:9191" == container["args"][container["args"].index("--listen") + 1]
    assert "ports" not in container
    command = ["python", "-m", "botwall.edge.healthcheck", "--address", "127.0.0.1:9191"]
    probes = ("startupProbe", "livenessProbe", "readinessProbe")
    assert [command] * 3 == [container[p]["exec"]["command"] for p in probes]
    assert [("http", 80, "http")] == [(p["name"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]]


def _envoy_container(rendered: dict[str, str]) -> dict[str, Any]:
    spec = find(objects(rendered), "Deployment")["spec"]["template"]["spec"]
    containers = [c for c in spec["containers"] if c["name"] == "envoy"]
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
    pod = find(objects(service), "Deployment")["spec"]["template"]["spec"]
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
    ],
    ids=["bad-mode", "no-upstream", "tls-without-secret", "grace-shorter-than-drain"],
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
    return EnvoySettings(
        http=("0.0.0.0", envoy["httpPort"]),
        tls=("0.0.0.0", tls["port"]) if tls["enabled"] else None,
        tls_cert=Path("/etc/envoy/tls/tls.crt"),
        tls_key=Path("/etc/envoy/tls/tls.key"),
        botwall=("127.0.0.1", values.get("port", defaults["port"])),
        upstream=(upstream["host"], upstream["port"]),
        upstream_timeout=upstream["timeout"],
        trusted_hops=envoy["trustedHops"],
        fail_closed=not envoy["failureModeAllow"],
        message_timeout=envoy["messageTimeout"],
        admin=("127.0.0.1", envoy["adminPort"]),
    )


@pytest.mark.parametrize("case", ["sidecar", "sidecar-tls-fail-closed"])
def test_sidecar_envoy_config_is_what_botwall_renders(case: str) -> None:
    """The sidecar's Envoy config is exactly the gateway botwall renders for the release's values: the listeners'
    ports, the upstream (by DNS), the TLS listener, failure mode, message timeout, trusted hops and route timeout."""
    values = case_values(case)
    assert render_gateway(_gateway_settings(values)) == envoy_config(render(values))


@pytest.mark.parametrize("case", ["sidecar", "sidecar-tls-fail-closed"])
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


def _loopback(config: dict[str, Any], botwall_port: int, upstream_port: int) -> dict[str, Any]:
    """Only addresses and ports change: listeners and admin on ephemeral loopback ports, botwall's cluster on its
    ephemeral port, the upstream at the demo shop; access log to a file the test can read."""
    config = copy.deepcopy(config)
    loopback = {"address": "127.0.0.1", "port_value": 0}
    config["admin"]["address"]["socket_address"] = dict(loopback)
    for listener in config["static_resources"]["listeners"]:
        listener["address"]["socket_address"] = dict(loopback)
    for cluster in config["static_resources"]["clusters"]:
        endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
        port = botwall_port if cluster["name"] == "botwall" else upstream_port
        endpoint["address"]["socket_address"] = {"address": "127.0.0.1", "port_value": port}
    return config


@pytest.mark.integration
def test_sidecar_boots_and_filters_real_traffic(tmp_path: Path, shop: Any) -> None:
    """The sidecar case's botwall arguments and Envoy config, run as local processes in front of the demo shop: curl
    gets 403, a browser reaches the shop tagged, Envoy's probe route answers, and botwall's exec probe passes."""
    rendered = render(case_values("sidecar"))
    container = botwall_container(rendered)
    botwall_yaml = tmp_path / "botwall.yaml"
    botwall_yaml.write_text(find(objects(rendered), "ConfigMap", "botwall")["data"]["botwall.yaml"])
    args = list(container["args"])
    args[args.index("--listen") + 1] = "127.0.0.1:0"
    args[args.index("--config") + 1] = str(botwall_yaml)
    botwall = start_processor(tmp_path, [sys.executable, "-m", "botwall", *args])
    before = len(shop.requests)
    envoy = None
    try:
        envoy = start_envoy(_loopback(envoy_config(rendered), botwall.port, shop.port), tmp_path)
        port = envoy.ports["http"]
        human = http_get(port, "/_echo", BROWSER)
        bot = http_get(port, "/", CURL)
        probe = http_get(port, "/envoy/healthz", [])
        # The probe's own command, `python -m botwall.edge.healthcheck --address 127.0.0.1:9191`, at botwall's port.
        command = [a.replace(":9191", f":{botwall.port}") for a in container["livenessProbe"]["exec"]["command"]]
        health = subprocess.run([sys.executable, *command[1:]], capture_output=True, text=True, timeout=30)
        assert 403 == bot.status, bot.body
        assert 200 == human.status, human.body
        seen = dict(json.loads(human.body)["headers"])
        assert "human" == seen["x-botwall-verdict"]
        assert int(seen["x-botwall-score"]) < 30
        assert ["/_echo"] == [r["path"] for r in list(shop.requests)[before:]]
        assert (200, b"ok\n") == (probe.status, probe.body)
        assert (0, f"botwall health 127.0.0.1:{botwall.port}: SERVING\n") == (health.returncode, health.stdout)
    finally:
        if envoy is not None:
            envoy.stop()
            print(f"--- envoy log ---\n{envoy.logs()}")
        botwall.stop()
        print(f"--- botwall log ---\n{botwall.logs()}")
