"""Deployment tests: the container image's Dockerfile, the Helm chart (rendered with the real Helm library, bundled
in the `helm-python-sdk` wheel) and the plain manifests, checked against the Kubernetes schemas and booted locally."""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from tests.integration.conftest import BackgroundShop

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "k8s" / "helm" / "botwall"
CASES = sorted(p.name.removesuffix(".in.yaml") for p in (CHART / "tests").glob("*.in.yaml"))
MANIFESTS = ROOT / "k8s" / "manifests"
RELEASE = "botwall"
NAMESPACE = "botwall"
# The oldest Kubernetes the chart supports (native sidecars) and the newest kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.29", kubernetes_validate.latest_version())
# Set BOTWALL_UPDATE_GOLDEN=1 (or run `make helm-golden`) to rewrite k8s/helm/botwall/tests/*.out.yaml.
UPDATE_GOLDEN = os.environ.get("BOTWALL_UPDATE_GOLDEN") == "1"


def case_values(case: str) -> dict[str, Any]:
    """The values of one golden case (`k8s/helm/botwall/tests/<case>.in.yaml`)."""
    loaded = yaml.safe_load((CHART / "tests" / f"{case}.in.yaml").read_text())
    return dict(loaded or {})


def render(values: dict[str, Any]) -> dict[str, str]:
    """`helm template` of the chart: template path -> rendered text, as a release named botwall in namespace botwall."""
    with helm.Chart.load(str(CHART)) as chart:
        return chart.render(values, name=RELEASE, namespace=NAMESPACE)


def objects(rendered: dict[str, str]) -> list[dict[str, Any]]:
    """Every Kubernetes object in a render, in template order."""
    out = []
    for path in sorted(rendered):
        if path.endswith(".yaml"):
            out.extend(doc for doc in yaml.safe_load_all(rendered[path]) if doc)
    return out


def find(objs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    """The one object of `kind` (and `name`) in a list."""
    matches = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert 1 == len(matches), f"{kind} {name}: {len(matches)} found"
    return matches[0]


def schema_errors(obj: dict[str, Any]) -> list[str]:
    """What the Kubernetes JSON schemas (strict: no unknown fields) say is wrong with an object, per version."""
    errors = []
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            errors.append(f"{obj['kind']}/{obj['metadata']['name']} on {version}: {path}: {exc.message}")
    return errors


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def http_get(port: int, path: str, headers: list[tuple[str, str]]) -> Reply:
    """One HTTP/1.1 GET to 127.0.0.1:`port` with exactly these headers (plus Host)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def venv_bin(name: str) -> str:
    """A script installed beside the running Python (`make install` puts `botwall` there)."""
    return str(Path(sys.executable).parent / name)


@pytest.fixture(scope="module")
def shop() -> Iterator[BackgroundShop]:
    """The demo shop as the upstream, on an ephemeral loopback port."""
    background = BackgroundShop()
    yield background
    background.stop()


def build_wheel(files: Iterable[str], workdir: Path) -> Path:
    """`pip wheel --no-deps --no-build-isolation` of a copy of `files` (repository paths) in `workdir`: the checkout
    itself is never written to."""
    source = workdir / "source"
    for rel in files:
        target = source / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(workdir), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert 0 == result.returncode, result.stdout + result.stderr
    [wheel] = workdir.glob("botwall-*.whl")
    return wheel


@dataclass(frozen=True)
class Installed:
    """botwall installed from its wheel into a fresh virtualenv outside the checkout."""

    venv: Path
    site_packages: Path

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def env(self) -> dict[str, str]:
        """The environment to run it with: nothing that points Python at the checkout."""
        return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "BOTWALL_ENVOY")}


def install_wheel(wheel: Path, venv: Path, envoy: str) -> Installed:
    """A fresh virtualenv with botwall installed from `wheel` (no dependencies: a .pth file lends it those of the
    virtualenv running the tests, as --system-site-packages would, without its editable botwall) and `envoy` beside
    its Python, as `make install` puts it."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert 0 == result.returncode, result.stdout + result.stderr
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    site_packages = Path(purelib)
    # A path line, not a site directory: the dependencies' own .pth files (the editable botwall's) are not read.
    (site_packages / "_botwall_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (venv / "bin" / "envoy").symlink_to(envoy)
    return Installed(venv, site_packages)
