"""The plain manifests in k8s/manifests: valid Kubernetes, a valid botwall config, and the same botwall the Helm
chart deploys with its defaults."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
import yaml

from botwall.config import parse_yaml

from .conftest import MANIFESTS, find, objects, render, schema_errors


def _kustomization() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    return loaded


def _manifest_objects() -> list[dict[str, Any]]:
    out = []
    for name in _kustomization()["resources"]:
        out.extend(doc for doc in yaml.safe_load_all((MANIFESTS / name).read_text()) if doc)
    return out


def test_kustomization_lists_every_manifest_in_its_namespace() -> None:
    """kustomization.yaml names every manifest file beside it, and every object is in the botwall namespace."""
    files = sorted(p.name for p in MANIFESTS.glob("*.yaml") if p.name != "kustomization.yaml")
    assert ("botwall", files) == (_kustomization()["namespace"], sorted(_kustomization()["resources"]))
    namespaced = [o for o in _manifest_objects() if o["kind"] != "Namespace"]
    assert ["botwall"] * len(namespaced) == [o["metadata"]["namespace"] for o in namespaced]


def test_every_manifest_is_valid_kubernetes() -> None:
    """Every object passes the Kubernetes JSON schemas (strict) of the oldest and newest supported versions."""
    objs = _manifest_objects()
    assert [] == [error for obj in objs for error in schema_errors(obj)]
    assert ["ConfigMap", "Deployment", "Namespace", "Service"] == sorted(o["kind"] for o in objs)


def test_configmap_is_a_valid_botwall_config() -> None:
    """botwall accepts the ConfigMap's botwall.yaml, and it is the chart's default config."""
    configmap = find(_manifest_objects(), "ConfigMap")
    text = configmap["data"]["botwall.yaml"]
    assert 4 == len(parse_yaml(text, "configmap.yaml").policies)
    assert find(objects(render({})), "ConfigMap")["data"]["botwall.yaml"] == text


def test_same_botwall_as_the_charts_defaults() -> None:
    """The Deployment's pod and the Service match what the chart renders with its defaults (labels aside)."""
    chart = objects(render({}))
    chart_pod = find(chart, "Deployment")["spec"]["template"]["spec"]
    pod = find(_manifest_objects(), "Deployment")["spec"]["template"]["spec"]
    for key in ("containers", "securityContext", "volumes", "automountServiceAccountToken"):
        assert chart_pod[key] == pod[key], key
    chart_service = find(chart, "Service")["spec"]
    service = find(_manifest_objects(), "Service")["spec"]
    assert chart_service == service
    assert find(chart, "Deployment")["spec"]["replicas"] == find(_manifest_objects(), "Deployment")["spec"]["replicas"]


KUBECTL = shutil.which("kubectl")


@pytest.mark.skipif(KUBECTL is None, reason="kubectl (with its built-in kustomize) is not installed")
def test_kustomize_builds_the_manifests() -> None:
    """`kubectl kustomize k8s/manifests` builds the same objects, with the image the kustomization names."""
    assert KUBECTL is not None
    result = subprocess.run([KUBECTL, "kustomize", str(MANIFESTS)], capture_output=True, text=True, timeout=120)
    assert 0 == result.returncode, result.stderr
    built = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert sorted((o["kind"], o["metadata"]["name"]) for o in _manifest_objects()) == sorted(
        (o["kind"], o["metadata"]["name"]) for o in built
    )
    container = find(built, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert "botwall:0.1.0" == container["image"]
