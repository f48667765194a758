"""`botwall up`, what `make run` runs: the whole stack starts, serves the demo shop, and stops on Ctrl-C."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

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
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "Ctrl-C" in line or not line:
                break
        text = "".join(lines)
        match = re.search(r"botwall is up: (http://127\.0\.0\.1:\d+)/", text)
        assert match, text
        base = match.group(1)
        request = urllib.request.Request(
            base + "/api/products",
            headers={
                "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                "Accept": "application/json",
                "Accept-Language": "en",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            status, products = resp.status, json.load(resp)
        assert (200, 8) == (status, len(products))
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(base + "/", headers={"User-Agent": "curl/8.5.0"}), timeout=10)
        assert 403 == refused.value.code
        assert re.search(r"HTTPS \(self-signed, JA4 on\): https://127\.0\.0\.1:\d+/", text), text
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert 0 == proc.returncode, out
    assert "stopping" in out
