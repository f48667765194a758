"""botwall from its wheel, in a fresh virtualenv outside the checkout, run from a directory outside it too: every
`botwall envoy-config` form renders a config Envoy 1.40 accepts, and `botwall up` serves the demo shop. Nothing is
read from the source checkout at run time (the Envoy configs are rendered from typed messages, the data files are
package data)."""

from __future__ import annotations

import http.client
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from botwall.lab.stack import find_envoy, self_signed_certificate
from botwall.lab.testing import captured_headers, up_banner
from tests.integration.conftest import embed_snippet

from .conftest import ROOT, Installed, build_wheel, install_wheel

pytestmark = pytest.mark.integration

BROWSER = captured_headers("firefox-headless", "navigation", "http", "127.0.0.1")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel of the checkout as it is (tracked and new files), installed into a fresh virtualenv."""
    work = tmp_path_factory.mktemp("wheel")
    listed = subprocess.run(
        [
            shutil.which("git") or "git",
            "ls-files",
            "--cached",
            "--others",
            "--exclude-standard",
            "pyproject.toml",
            "README.md",
            "ext_proc",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    wheel = build_wheel([p for p in listed if (ROOT / p).is_file()], work)
    return install_wheel(wheel, work / "venv", find_envoy())


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A working directory outside the checkout."""
    assert not tmp_path.resolve().is_relative_to(ROOT)
    return tmp_path


def _botwall(installed: Installed, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [installed.bin("botwall"), *args], cwd=cwd, env=installed.env(), capture_output=True, text=True, timeout=120
    )


def _validate(config: dict[str, Any], where: Path) -> subprocess.CompletedProcess[str]:
    target = where / "envoy.yaml"
    target.write_text(yaml.safe_dump(config, sort_keys=False))
    return subprocess.run(
        [find_envoy(), "--mode", "validate", "-c", str(target)], capture_output=True, text=True, timeout=60
    )


def test_botwall_runs_from_the_wheel(installed: Installed, outside: Path) -> None:
    """The installed `botwall` imports the package from the virtualenv, not from the checkout."""
    result = subprocess.run(
        [installed.bin("python"), "-c", "import botwall; print(botwall.__file__)"],
        cwd=outside,
        env=installed.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert installed.site_packages / "botwall" / "__init__.py" == Path(result.stdout.strip())


FORMS = {
    "snippet": ["--form", "snippet"],
    "snippet-tls-routes": ["--form", "snippet", "--tls", "--login-route", "/login", "--health-route", "/healthz"],
    "bootstrap": ["--form", "bootstrap"],
    "bootstrap-tls-fail-closed": ["--form", "bootstrap", "--tls", "--failure-mode", "closed", "--login-route", "/x"],
}


@pytest.mark.parametrize("args", FORMS.values(), ids=FORMS.keys())
def test_every_envoy_config_form_validates(installed: Installed, outside: Path, args: list[str]) -> None:
    """Each form `botwall envoy-config` prints from the wheel is accepted by Envoy 1.40 (a snippet inside a minimal
    bootstrap, where its comments say)."""
    cert, key = self_signed_certificate(outside / "tls")
    if "bootstrap" in args:
        args = [*args, "--tls-cert", str(cert), "--tls-key", str(key)]
    result = _botwall(installed, outside, "envoy-config", *args)
    assert (0, "") == (result.returncode, result.stderr)
    rendered = yaml.safe_load(result.stdout)
    config = embed_snippet(rendered, (cert, key)) if "snippet" in args else rendered
    checked = _validate(config, outside)
    assert 0 == checked.returncode, checked.stdout + checked.stderr


def _get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        for name, value in BROWSER:
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_up_serves_the_demo_shop(installed: Installed, outside: Path) -> None:
    """`botwall up` from the wheel starts Envoy, botwall and the demo shop; a browser reaches the shop through them,
    and SIGINT stops everything (exit 0)."""
    proc = subprocess.Popen(
        [installed.bin("botwall"), "up", "--listen", "127.0.0.1:0", "--workdir", str(outside / "up")],
        cwd=outside,
        env=installed.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        text = up_banner(proc)
        match = re.search(r"botwall is up: http://127\.0\.0\.1:(\d+)/", text)
        assert match, text
        status, page = _get(int(match.group(1)), "/")
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert (200, True) == (status, b"<html" in page.lower()), page[:200]
    assert 0 == proc.returncode, out
