"""The committed Envoy configs are botwall.deploy's renderings, and the renderer's YAML and shared constants hold."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf.json_format import ParseDict

from botwall.cli import main
from botwall.deploy import _yaml
from botwall.deploy.envoy_config import EnvoyConfigOptions, render_bootstrap, render_snippet
from botwall.deploy.examples import FILES, REGENERATE, stale
from botwall.edge.envoy_api import BODY_MODE, HEADERS_MODE, ProcessingMode
from botwall.request import ATTRIBUTES_KEY, REQUEST_ATTRIBUTES, SOURCE_ADDRESS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", FILES, ids=list(FILES))
def test_committed_file_is_its_rendering(path: str) -> None:
    """Each committed Envoy config is byte for byte what botwall.deploy renders for it now."""
    assert FILES[path]() == (ROOT / path).read_text(), f"{path} is stale: run `{REGENERATE}`"


def test_every_envoy_file_is_generated() -> None:
    """No hand-written YAML under envoy/: every file there is one botwall.deploy renders, and none is stale."""
    committed = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "envoy").rglob("*.yaml"))
    assert committed == sorted(p for p in FILES if p.startswith("envoy/"))
    assert [] == stale(ROOT)


def test_the_charts_gateway_is_a_plain_file() -> None:
    """The Helm chart's gateway is a file of its own (`helm package` and a wheel-less checkout both carry it)."""
    path = ROOT / "k8s" / "helm" / "botwall" / "files" / "gateway.yaml"
    assert (False, True) == (path.is_symlink(), path.is_file())


def _rendered_by(text: str) -> list[str]:
    """The command a rendering's header names (the comment lines after `Rendered by:`)."""
    lines = text.splitlines()
    start = lines.index("# Rendered by:") + 1
    command = []
    for line in lines[start:]:
        if line == "#":
            break
        command.append(line.removeprefix("#").strip().removesuffix("\\"))
    return shlex.split(" ".join(command))


@pytest.mark.parametrize(
    "path", ["envoy/gateway.yaml", "envoy/snippets/existing-gateway.yaml", "k8s/helm/botwall/files/gateway.yaml"]
)
def test_the_named_command_prints_the_file(path: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The `botwall envoy-config` command in a file's header prints that file (below its generated-file note)."""
    text = (ROOT / path).read_text()
    command = _rendered_by(text)
    with pytest.raises(SystemExit) as exited:
        main(command[1:])
    printed = capsys.readouterr().out
    assert (0, True) == (exited.value.code, text.endswith(printed))
    assert all(line.startswith("#") for line in text.removesuffix(printed).splitlines())


def _ext_proc_filters(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if str(node.get("@type", "")).endswith(".ExternalProcessor") else []
        return found + [f for value in node.values() for f in _ext_proc_filters(value)]
    if isinstance(node, list):
        return [f for value in node for f in _ext_proc_filters(value)]
    return []


def test_configs_ask_for_the_modes_and_attributes_the_processor_expects() -> None:
    """Every rendered ext_proc filter is named as botwall reads its attributes, asks for the headers mode, allows the
    processor's body override and sends what request.py reads; a login route gets the processor's body mode."""
    options = EnvoyConfigOptions(tls=True, login_routes=("/login",))
    snippet = render_snippet(options)
    filters = _ext_proc_filters(render_bootstrap(options)) + _ext_proc_filters(snippet)
    assert 3 == len(filters)
    modes = [ParseDict(f["processing_mode"], ProcessingMode()) for f in filters]
    assert [HEADERS_MODE] * 3 == modes
    assert [True] * 3 == [f["allow_mode_override"] for f in filters]
    # The bootstrap's plain-HTTP listener, its HTTPS listener, then the snippet (with TLS).
    expected_attributes = [[SOURCE_ADDRESS], list(REQUEST_ATTRIBUTES), list(REQUEST_ATTRIBUTES)]
    assert expected_attributes == [f["request_attributes"] for f in filters]
    (login,) = snippet["per_route"]
    (name,) = login["typed_per_filter_config"]
    override = login["typed_per_filter_config"][name]["overrides"]["processing_mode"]
    assert (ATTRIBUTES_KEY, BODY_MODE) == (name, ParseDict(override, ProcessingMode()))


TRICKY = {
    "plain": "source.address",
    "percent": "%START_TIME%",
    "star": ["*"],
    "quote": ["filter_state['botwall.ja4']"],
    "newline": {"inline_string": "ok\n"},
    "looks_like_bool": "true",
    "looks_like_number": "0.25",
    "empty": {"mapping": {}, "list": []},
    "nested": [{"name": "a", "typed_config": {"@type": "t", "x": [1, 2]}}, {"k": [[1, 2], []]}],
    "long": ["x" * 70, "y" * 70],
}


def test_yaml_reads_back_as_written() -> None:
    """What the renderer's YAML writer prints loads back to the same data, however the values look."""
    assert TRICKY == yaml.safe_load(_yaml.dump(TRICKY))


def test_yaml_comments_go_above_the_first_match_only() -> None:
    """A comment is written once, above the first key its path suffix names, at that key's indentation; a list item
    with a name is named by it."""
    data = {"a": {"x": 1}, "b": {"x": 2}, "items": [{"name": "first", "v": 1}, {"name": "second", "v": 2}]}
    comments: dict[_yaml.Path, str] = {("x",): "about x", ("items", "second"): "the second one"}
    expected = """\
# head

a:
  # about x
  x: 1
b: {x: 2}
items:
- {name: first, v: 1}
# the second one
- {name: second, v: 2}
"""
    assert expected == _yaml.dump(data, comments, header="head")
