"""`botwall up`, what `make run` runs: the whole stack starts, serves the demo shop, and stops on Ctrl-C."""

from __future__ import annotations

import http.client
import json
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from botwall.lab.testing import captured_headers, up_banner

pytestmark = pytest.mark.integration


def test_up_serves_demo_shop_and_stops_cleanly(tmp_path: Path) -> None:
    """The printed URL serves the shop through Envoy and botwall, a bot is refused, and SIGINT stops everything."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "botwall",
            "up",
            "--listen",
            "127.0.0.1:0",
            "--tls-listen",
            "127.0.0.1:0",
            "--workdir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        text = up_banner(proc)
        match = re.search(r"botwall is up: (http://127\.0\.0\.1:\d+)/", text)
        assert match, text
        base = match.group(1)
        host, port = base.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        # A browser: the shop's page first, then the page's call to the product API.
        conn.putrequest("GET", "/", skip_accept_encoding=True)
        for name, value in captured_headers("firefox-headless", "navigation", "http", "127.0.0.1"):
            conn.putheader(name, value)
        conn.endheaders()
        page = conn.getresponse()
        assert 200 == page.status, page.read()
        page.read()
        conn.putrequest("GET", "/api/products", skip_accept_encoding=True)
        for name, value in captured_headers("firefox-headless", "xhr", "http", "127.0.0.1"):
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        status, products = resp.status, json.loads(resp.read())
        conn.close()
        assert (200, 8) == (status, len(products))
        for _ in range(5):  # one client's repeated refusals: 3 full log lines, the rest in an aggregate at the end
            request = urllib.request.Request(base + "/", headers={"User-Agent": "curl/8.5.0"})
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=10)
            assert 403 == refused.value.code
        assert re.search(r"HTTPS \(self-signed, JA4 on\): https://127\.0\.0\.1:\d+/", text), text
        # The dashboard, on a free loopback port without a token: no sign-in, and it counts what was judged.
        dashboard = re.search(r"dashboard: (http://127\.0\.0\.1:\d+)/", text)
        assert dashboard, text
        with urllib.request.urlopen(dashboard.group(1) + "/", timeout=10) as overview:
            assert "<h1>Overview</h1>" in overview.read().decode()
        with urllib.request.urlopen(dashboard.group(1) + "/api/v1/traffic", timeout=10) as traffic:
            series = json.loads(traffic.read())["series"]
        assert sum(c["requests"] for step in series for c in step["counts"]) == 7
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert 0 == proc.returncode, out
    assert "stopping" in out
    # The decision log's last aggregate is written on the way out, not lost with the process.
    aggregates = [json.loads(line) for line in out.splitlines() if '"event": "decision_aggregate"' in line]
    assert [2] == [a["suppressed"] for a in aggregates if a.get("action") == "block"], out


def test_up_refuses_an_open_dashboard_beyond_loopback(tmp_path: Path) -> None:
    """`--admin-listen` on every address without an admin token: one line saying why, exit 2, nothing started."""
    result = subprocess.run(
        [sys.executable, "-m", "botwall", "up", "--listen", "127.0.0.1:0", "--admin-listen", "0.0.0.0:0",
         "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=False, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "not a loopback address, and no admin token is set" in result.stderr
