"""Every complete Envoy config in the repo, and every variant botwall renders, passes `envoy --mode validate`."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from botwall.deploy.gateway import EnvoySettings, render_gateway
from botwall.lab.stack import find_envoy

ROOT = Path(__file__).resolve().parents[2]
# The complete bootstraps (the snippet and the Kubernetes objects are checked in test_deploy_envoy.py).
ENVOY_CONFIGS = [ROOT / "envoy" / "gateway.yaml", ROOT / "k8s" / "helm" / "botwall" / "files" / "gateway.yaml"]


def _validate(config_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [find_envoy(), "--mode", "validate", "-c", str(config_path)], capture_output=True, text=True, timeout=60
    )


def _with_tls_files(node: Any, cert: Path, key: Path) -> Any:
    """The configs name TLS files under /etc/botwall/tls (the chart's under /etc/envoy/tls); point them at a generated
    certificate, nothing else."""
    if isinstance(node, dict):
        return {k: _with_tls_files(v, cert, key) for k, v in node.items()}
    if isinstance(node, list):
        return [_with_tls_files(v, cert, key) for v in node]
    if node in ("/etc/botwall/tls/cert.pem", "/etc/envoy/tls/tls.crt"):
        return str(cert)
    if node in ("/etc/botwall/tls/key.pem", "/etc/envoy/tls/tls.key"):
        return str(key)
    return node


@pytest.mark.parametrize("path", ENVOY_CONFIGS, ids=[str(p.relative_to(ROOT)) for p in ENVOY_CONFIGS])
def test_repo_config_validates(path: Path, tmp_path: Path, tls_files: tuple[Path, Path]) -> None:
    """The config as committed is accepted by Envoy 1.40."""
    config = _with_tls_files(yaml.safe_load(path.read_text()), *tls_files)
    target = tmp_path / path.name
    target.write_text(yaml.safe_dump(config))
    result = _validate(target)
    assert 0 == result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize(
    "settings",
    [
        EnvoySettings(upstream=("127.0.0.1", 8081)),
        EnvoySettings(upstream=("127.0.0.1", 8081), fail_closed=True, trusted_hops=2, message_timeout="0.5s"),
        EnvoySettings(upstream=("app.example", 80), login_routes=("/login",), health_routes=("/healthz",)),
        EnvoySettings(upstream=None),
        EnvoySettings(upstream=None, botwall=None),
    ],
    ids=["fail-open", "fail-closed-hops", "dns-upstream-routes", "direct-response", "envoy-alone"],
)
def test_rendered_variants_validate(settings: EnvoySettings, tmp_path: Path, tls_files: tuple[Path, Path]) -> None:
    """What `botwall up`, the tests and the benchmark render is accepted by Envoy 1.40, TLS listener included."""
    cert, key = tls_files
    settings = replace(settings, tls=("127.0.0.1", 0), tls_cert=cert, tls_key=key)
    target = tmp_path / "rendered.yaml"
    target.write_text(yaml.safe_dump(render_gateway(settings)))
    result = _validate(target)
    assert 0 == result.returncode, result.stdout + result.stderr


def test_validate_catches_a_broken_config(tmp_path: Path) -> None:
    """The check can fail: a cluster without its load assignment is refused."""
    target = tmp_path / "broken.yaml"
    target.write_text("static_resources: {clusters: [{name: x, type: STATIC, connect_timeout: banana}]}\n")
    assert 0 != _validate(target).returncode
