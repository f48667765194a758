"""Real clients through real Envoy with botwall in the path: the header-shape and TLS analyzers applied to what botwall
sees of them (the headers `/_echo` reports, less botwall's own tags, and the JA4 from Envoy's access log).

botwall's engine does not call these analyzers yet, so the tests apply them directly to the same inputs. The clients
come from Debian (chromium, curl) and the venv (requests), and Playwright from npm in a scratch directory:
`make test-tools` installs them (`make capture-tools` too).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import resources
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

from botwall.evidence import headers as hdr
from botwall.evidence import tls
from botwall.evidence.headers import HeaderAnalyzer, HeaderEvidence
from botwall.evidence.tls import TlsAnalyzer, TlsEvidence
from botwall.evidence.useragent import UserAgentAnalyzer, UserAgentInfo
from botwall.request import JA4_ATTRIBUTE, SOURCE_ADDRESS, RequestView, build_view

from .conftest import Stack, StackFactory

pytestmark = pytest.mark.integration

# Shadow mode: the chosen clients are bots, and a block would hide their headers; every decision is logged.
CONFIG = "shadow: true\ndecision_log: {allow_sample_rate: 1.0}\n"
REPO = Path(__file__).resolve().parents[2]
PLAYWRIGHT_DIR = Path(os.environ.get("PLAYWRIGHT_DIR") or Path(tempfile.gettempdir()) / "botwall-playwright")
DRIVER = REPO / "tools" / "capture" / "playwright_echo.cjs"
# What this machine needs to run Chromium; none of these flags changes the request headers.
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
INSTALL_HINT = "run `make test-tools` (or `make capture-tools`) to install the real clients these tests drive"
CHROME_UA = next(
    p["values"]["user-agent"]
    for p in json.loads(resources.files("botwall").joinpath("data", "header_profiles.json").read_text())["profiles"]
    if p["client"] == "chromium-headful"
)
# Envoy adds these on the way to the upstream after botwall has seen the request; botwall adds x-botwall-*.
_AFTER_BOTWALL = ("x-envoy-", "x-botwall-")


@pytest.fixture(scope="module")
def analyzers() -> tuple[UserAgentAnalyzer, HeaderAnalyzer, TlsAnalyzer]:
    return UserAgentAnalyzer(), HeaderAnalyzer(), TlsAnalyzer()


def _require(executable: str) -> str:
    path = shutil.which(executable)
    if path is None:
        pytest.fail(f"{executable} is not installed: {INSTALL_HINT}")
    return path


def _access_log_ja4(stack: Stack, path: str) -> str:
    """The JA4 Envoy logged for the HTTPS request to `path` (Envoy flushes its access log every 250 ms here). The log
    records paths without their query string, and only the HTTPS listener's lines carry a `ja4` field."""
    logged_path = path.split("?", 1)[0]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for entry in stack.access_log():
            if entry["path"] == logged_path and "ja4" in entry:
                value = entry.get("ja4") or ""
                return "" if value == "-" else str(value)
        time.sleep(0.2)
    raise AssertionError(f"no access log entry for {path}")


def echo_view(echo: dict[str, Any], scheme: str, ja4: str) -> RequestView:
    """The request as botwall saw it, rebuilt from what `/_echo` received."""
    pairs = [(name, value) for name, value in echo["headers"] if not name.startswith(_AFTER_BOTWALL)]
    authority = next((value for name, value in pairs if name == "host"), "")
    pseudo = [(":method", echo["method"]), (":scheme", scheme), (":authority", authority), (":path", echo["path"])]
    headers = [*pseudo, *((n, v) for n, v in pairs if n != "host")]
    return build_view(headers, {SOURCE_ADDRESS: "127.0.0.1:40000", JA4_ATTRIBUTE: ja4})


def judge(
    analyzers: tuple[UserAgentAnalyzer, HeaderAnalyzer, TlsAnalyzer], view: RequestView
) -> tuple[UserAgentInfo, HeaderEvidence, TlsEvidence]:
    uas, headers, fingerprints = analyzers
    ua = uas.analyze(view.header("user-agent"))
    return ua, headers.analyze(view, ua), fingerprints.analyze(view.ja4, ua)


def assert_botwall_saw(stack: Stack, echo: dict[str, Any]) -> None:
    """botwall was in the path: it tagged the request for the upstream and logged its decision."""
    tagged = any(name == "x-botwall-score" for name, _ in echo["headers"])
    logged = any(d["path"] == echo["path"].split("?", 1)[0] for d in stack.decisions())
    assert (True, True) == (tagged, logged)


def run_json(argv: list[str], env: dict[str, str] | None = None) -> Any:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, env=env)
    assert 0 == result.returncode, f"{argv[0]} failed:\n{result.stderr[-3000:]}"
    return json.loads(result.stdout)


def test_playwright_chromium_passes_the_header_checks(
    make_stack: StackFactory, analyzers: tuple[UserAgentAnalyzer, HeaderAnalyzer, TlsAnalyzer]
) -> None:
    """Headless Chromium driven by Playwright passes the header and TLS checks; only its user-agent gives it away."""
    chromium = _require("chromium")
    node = _require("node")
    if not (PLAYWRIGHT_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.fail(f"playwright-core is not installed in {PLAYWRIGHT_DIR}: {INSTALL_HINT}")
    stack = make_stack(CONFIG, tls=True)
    base = f"https://localhost:{stack.envoy.ports['https']}"
    argv = [node, str(DRIVER), f"{base}/_echo/nav?client=playwright", f"{base}/_echo/api?client=playwright"]
    argv += ["--insecure", *(f"--arg={flag}" for flag in CHROMIUM_FLAGS)]
    out = run_json(argv, env={**os.environ, "PLAYWRIGHT_DIR": str(PLAYWRIGHT_DIR), "CHROMIUM": chromium})
    for echo in (out["navigation"], out["xhr"]):
        assert_botwall_saw(stack, echo)
        view = echo_view(echo, "https", _access_log_ja4(stack, echo["path"]))
        ua, evidence, fingerprint = judge(analyzers, view)
        # Headless Chromium sends what headful Chromium sends; the UA pillar catches "HeadlessChrome".
        assert ((), True, False) == (
            evidence.reasons,
            evidence.order_matches_claimed_browser,
            evidence.looks_like_library_order,
        )
        assert ("browser", (), True) == (fingerprint.category, fingerprint.reasons, ua.headless)


def test_python_requests_with_a_chrome_user_agent_is_caught(
    make_stack: StackFactory, analyzers: tuple[UserAgentAnalyzer, HeaderAnalyzer, TlsAnalyzer]
) -> None:
    """python-requests under Chrome's user-agent is caught by its header order, and over TLS by its JA4."""
    if find_spec("requests") is None:
        pytest.fail(f"python-requests is not installed in this venv: {INSTALL_HINT}")
    stack = make_stack(CONFIG, tls=True)
    script = (
        "import json, sys, warnings, requests\n"
        "warnings.filterwarnings('ignore')\n"
        "r = requests.get(sys.argv[1], headers={'User-Agent': sys.argv[2]}, verify=False)\n"
        "print(json.dumps(r.json()))\n"
    )
    results = {}
    for scheme, listener in (("http", "http"), ("https", "https")):
        # Dialled by IP: no SNI over TLS, which the TLS table still matches to the same client.
        url = f"{scheme}://127.0.0.1:{stack.envoy.ports[listener]}/_echo/plain?client=requests-{scheme}"
        echo = run_json([sys.executable, "-c", script, url, CHROME_UA])
        assert_botwall_saw(stack, echo)
        ja4 = _access_log_ja4(stack, echo["path"]) if scheme == "https" else ""
        results[scheme] = judge(analyzers, echo_view(echo, scheme, ja4))
    for _, evidence, _ in results.values():
        assert True is (hdr.BROWSER_UA_LIBRARY_ORDER in evidence.reasons)
        assert "python-requests" == evidence.closest_profile
    fingerprint = results["https"][2]
    assert ("python-requests", (tls.KNOWN_TOOL, tls.BROWSER_UA_TOOL_FINGERPRINT)) == (
        fingerprint.tool,
        fingerprint.reasons,
    )


def test_curl_with_a_chrome_user_agent_is_caught(
    make_stack: StackFactory, analyzers: tuple[UserAgentAnalyzer, HeaderAnalyzer, TlsAnalyzer]
) -> None:
    """curl under Chrome's user-agent lacks the client hints and headers Chrome sends; over TLS its JA4 is curl's."""
    curl = _require("curl")
    stack = make_stack(CONFIG, tls=True)
    url = f"https://localhost:{stack.envoy.ports['https']}/_echo/plain?client=curl"
    echo = run_json([curl, "-sk", "-A", CHROME_UA, url])
    assert_botwall_saw(stack, echo)
    _, evidence, fingerprint = judge(analyzers, echo_view(echo, "https", _access_log_ja4(stack, echo["path"])))
    expected = {
        hdr.MISSING_ACCEPT_LANGUAGE,
        hdr.CHROME_WITHOUT_CLIENT_HINTS,
        hdr.BROWSER_WITHOUT_SEC_FETCH,
        hdr.NON_BROWSER_ACCEPT_ENCODING,
        hdr.BROWSER_UA_LIBRARY_ORDER,
    }
    assert expected == set(evidence.reasons)
    assert ("curl", (tls.KNOWN_TOOL, tls.BROWSER_UA_TOOL_FINGERPRINT)) == (fingerprint.tool, fingerprint.reasons)
