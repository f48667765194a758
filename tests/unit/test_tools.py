"""The tools under tools/ (bench, soak, capture...) start botwall's modules by name in subprocesses; a module that
moved (the demo shop went from `botwall.demo` to `botwall.lab.demo` in the refactor into layers) must fail here, not
minutes into a soak run."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[2] / "tools"


def test_every_module_a_tool_runs_with_python_dash_m_exists() -> None:
    """Each `"-m", "botwall..."` in tools/*.py names a module this checkout has."""
    named = {
        module
        for path in TOOLS.glob("*.py")
        for module in re.findall(r'"-m",\s*"(botwall[\w.]*)"', path.read_text(encoding="utf-8"))
    }
    assert {"botwall.lab.demo.shop", "botwall.lab.passthrough"} <= named
    assert [] == sorted(m for m in named if importlib.util.find_spec(m) is None)
