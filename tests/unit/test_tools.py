"""The tools under tools/ (bench, soak, capture...) start botwall's modules by name in subprocesses; a module that
moved (the demo shop went from `botwall.demo` to `botwall.lab.demo` in the refactor into layers) must fail here, not
minutes into a soak run."""

from __future__ import annotations

import importlib.util
import re
import sys
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


def _bench() -> object:
    spec = importlib.util.spec_from_file_location("bench", TOOLS / "bench.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench"] = module  # its dataclasses look their module up while they are built
    spec.loader.exec_module(module)
    return module


def test_the_benchmarks_people_are_distinct_residential_addresses_each_request_in_the_browsers_order() -> None:
    """Ordinary traffic is many people (`tools/bench.py`): distinct addresses none of which botwall's IP data calls a
    hosting or anonymizing network, and a wrk script that sends each request as one of them, with its cookie, the
    headers in the browser's order and quotes in values escaped for Lua."""
    from botwall.evidence.infra import load_ip_intel

    bench = _bench()
    addresses = bench.client_addresses(500)  # type: ignore[attr-defined]
    assert len(set(addresses)) == 500
    intel = load_ip_intel()
    assert not [a for a in addresses if intel.lookup(a).network in ("hosting", "cloud", "vpn", "tor", "proxy")]
    setup = bench.Setup("s", None, None)  # type: ignore[attr-defined]
    setup.headers = [("user-agent", 'Agent "quoted"'), ("accept", "*/*")]
    setup.clients = [("81.2.3.4", "__bw=a.b.c"), ("82.2.3.4", "__bw=d.e.f")]
    setup.envoy = type("E", (), {"url": lambda self, scheme: "http://127.0.0.1:9"})()
    argv = bench._wrk(setup, 4, 1, paced=True)  # type: ignore[attr-defined]
    script = Path(argv[argv.index("-s") + 1]).read_text()
    assert '{"81.2.3.4","__bw=a.b.c"},{"82.2.3.4","__bw=d.e.f"}' in script
    head = re.search(r'local head = "(.*)"\n', script)
    assert head is not None
    assert head.group(1) == (
        r"GET /bench HTTP/1.1\r\nhost: 127.0.0.1:9\r\nuser-agent: Agent \"quoted\"\r\naccept: */*\r\n"
    )
    assert "function delay()" in script
    assert 'x-forwarded-for: " .. c[1]' in script
