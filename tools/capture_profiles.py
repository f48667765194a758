"""Capture reference header and TLS profiles of REAL clients through a REAL Envoy, for botwall's header-shape and TLS
analyzers (`botwall.evidence.headers`, `botwall.evidence.tls`).

Envoy 1.40 (the repo's gateway, rendered with no ext_proc filter: Envoy alone) runs in front of the demo shop, on an
HTTP and a TLS listener on ephemeral loopback ports. Each client runs with its default settings against `/_echo`:
browsers load a page (a real navigation) with a style sheet, a script and an image (subresources), whose script then
calls `fetch()` on `/_echo/api` (the XHR); tools make one plain GET. Playwright drives Debian's chromium
(`tools/capture/playwright_echo.cjs`); Go's client is built from `tools/capture/gofetch` at capture time. The shop's
request log gives the headers in arrival order (what `/_echo` reports); Envoy's access log gives the JA4/JA3 of the
TLS connection, joined on the `x-request-id` Envoy set.

Hosts. The certificate comes from a throwaway CA (`trustme`) that each client is told to trust (a browser's NSS
database, `SSL_CERT_FILE` and friends for tools), so no client runs with verification turned off. Browsers reach the
shop as `shop.test`, mapped to 127.0.0.1 by a DNS-only setting (`--host-resolver-rules`, `network.dns.localDomains`),
because Chromium treats `localhost` and 127.0.0.1 as secure contexts and sends client hints and `sec-fetch-*` there
even over plain HTTP: `http://shop.test` is what a real plain-HTTP site gets, and `http://127.0.0.1` is captured too
to show the loopback difference. Tools reach `https://localhost`, a host name, so that they send SNI as they do to
any real site (JA4's `d`, not the `i` of a bare IP).

Chromium always runs with the flags this machine needs (no sandbox as root, no background networking to the closed
network, a fresh profile): none of them changes what a page request carries.

Usage: .venv/bin/python tools/capture_profiles.py --out ext_proc/botwall/data [--only curl,wget] [--keep]
(`make capture-profiles` installs the clients first: `make capture-tools`).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import trustme
from aiohttp import web
from aiohttp.typedefs import Handler

from botwall.deploy.gateway import EnvoySettings, render_gateway
from botwall.lab.demo.shop import REQUEST_LOG, RequestRecord, create_app
from botwall.lab.stack import start_envoy

ENVOY_VERSION = "1.40.0"
FORMAT_VERSION = 1
HERE = Path(__file__).resolve().parent
BROWSER_HOST = "shop.test"
TOOL_TLS_HOST = "localhost"
PLAYWRIGHT_DIR = Path(os.environ.get("PLAYWRIGHT_DIR") or Path(tempfile.gettempdir()) / "botwall-playwright")
# What this machine needs to run Chromium (see the machine notes); none of these changes request headers.
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    f"--host-resolver-rules=MAP {BROWSER_HOST} 127.0.0.1",
)
# Headers Envoy adds or rewrites on the way to the upstream: never what the client sent.
ENVOY_ADDED_PREFIXES = ("x-forwarded-", "x-envoy-")
ENVOY_ADDED = frozenset({"x-request-id", "host"})
# The values worth keeping; every header name is kept, in order.
KEPT_VALUES = ("user-agent", "accept", "accept-language", "accept-encoding")
KEPT_VALUE_PREFIXES = ("sec-ch-ua", "sec-fetch-")
KINDS = {
    "/_echo/nav": "navigation",
    "/_echo/style": "style",
    "/_echo/script": "script",
    "/_echo/image": "image",
    "/_echo/api": "xhr",
    "/_echo/plain": "plain",
}
BROWSER_WAIT_S = 45.0
TOOL_TIMEOUT_S = 30.0

# Served at /_echo/nav?page=1: a real document with a style sheet, a script and an image (subresource requests have
# their own header order), whose inline script then calls fetch() (favicon disabled: one less request).
_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>capture</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/_echo/style?run={run}"><script src="/_echo/script?run={run}"></script></head>
<body><pre id="out">loading</pre><img src="/_echo/image?run={run}" alt="">
<script>
fetch("/_echo/api?run={run}").then((r) => r.json()).then((j) => {{
  document.getElementById("out").textContent = JSON.stringify(j);
  document.title = "done";
}});
</script></body></html>
"""


def header_names(pairs: list[tuple[str, str]]) -> list[str]:
    """The client's header names in order, without what Envoy adds (x-forwarded-*, x-request-id, x-envoy-*, host)."""
    return [
        name
        for name, _ in pairs
        if name not in ENVOY_ADDED and not name.startswith(ENVOY_ADDED_PREFIXES) and not name.startswith(":")
    ]


def kept_values(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """The values of the headers the analyzers compare (first occurrence of each)."""
    out: dict[str, str] = {}
    for name, value in pairs:
        if name in KEPT_VALUES or name.startswith(KEPT_VALUE_PREFIXES):
            out.setdefault(name, value)
    return out


# --- the upstream -------------------------------------------------------------------------------------------------


@web.middleware
async def _capture_page(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path == "/_echo/nav" and request.query.get("page") == "1":
        run = urllib.parse.quote(request.query.get("run", ""), safe="")
        return web.Response(text=_PAGE.format(run=run), content_type="text/html")
    return await handler(request)


class Shop:
    """The demo shop in its own thread and loop, plus a page whose script calls fetch() (for browsers)."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self.app = create_app()
        self.app.middlewares.append(_capture_page)  # after the shop's own recorder: the page's request is logged
        self._runner = web.AppRunner(self.app, access_log=None)
        self.port = 0
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            self._loop.run_until_complete(site.start())
            self.port = self._runner.addresses[0][1]
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="shop", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the demo shop did not start")

    def records(self) -> list[RequestRecord]:
        """A snapshot of every request the shop received, oldest first."""

        async def snapshot() -> list[RequestRecord]:
            log: deque[RequestRecord] = self.app[REQUEST_LOG]
            return list(log)

        return asyncio.run_coroutine_threadsafe(snapshot(), self._loop).result(5)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


# --- clients ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where one run sends its requests."""

    transport: str  # "http" or "https"
    host: str
    port: int
    secure_context: bool  # what a browser makes of the origin (HTTPS, localhost and 127.0.0.1 are secure)

    def url(self, path: str) -> str:
        return f"{self.transport}://{self.host}:{self.port}{path}"


@dataclass
class Workspace:
    """Files shared by the runs: the CA, a HOME with an NSS database that trusts it, built helpers."""

    root: Path
    ca_pem: Path
    home: Path
    gofetch: Path | None = None
    notes: dict[str, str] = field(default_factory=dict)

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            HOME=str(self.home),
            SSL_CERT_FILE=str(self.ca_pem),
            REQUESTS_CA_BUNDLE=str(self.ca_pem),
            CURL_CA_BUNDLE=str(self.ca_pem),
            NODE_EXTRA_CA_CERTS=str(self.ca_pem),
            PLAYWRIGHT_DIR=str(PLAYWRIGHT_DIR),
        )
        env.update(extra)
        return env


Launcher = Callable[[Workspace, Target, str], list[str]]


@dataclass(frozen=True)
class Client:
    """A real client: how to start it, whether it is a long-running browser, what it claims to be."""

    name: str
    category: str  # "browser" or "tool"
    browser: str  # the UserAgentInfo.browser family a genuine run claims ("chrome", "firefox"), "" for tools
    argv: Launcher
    needs: tuple[str, ...]  # executables that must exist
    long_running: bool = False  # a browser that stays up: stopped once its XHR reached the shop
    version: Callable[[], str] = lambda: ""


def _run_id(client: str, target: Target) -> str:
    return f"{client}.{target.transport}.{target.host}"


def _bin(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed (run `make capture-tools`)")
    return path


def _first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else ""


def _py_version(package: str) -> Callable[[], str]:
    def version() -> str:
        try:
            return f"{package} {metadata.version(package)}"
        except metadata.PackageNotFoundError:
            return ""

    return version


def _playwright_version() -> str:
    try:
        pkg = json.loads((PLAYWRIGHT_DIR / "node_modules/playwright-core/package.json").read_text())
    except (OSError, ValueError):
        return ""
    return f"playwright-core {pkg.get('version', '?')}, {_first_line(['chromium', '--version'])}"


def _nav(target: Target, run: str) -> str:
    return target.url(f"/_echo/nav?run={run}&page=1")


def _chromium(headful: bool) -> Launcher:
    def argv(ws: Workspace, target: Target, run: str) -> list[str]:
        profile = tempfile.mkdtemp(prefix="chromium-", dir=ws.root)
        browser = ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}", _nav(target, run)]
        if headful:
            return ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", *browser]
        return [browser[0], "--headless", *browser[1:]]

    return argv


def _firefox(ws: Workspace, target: Target, run: str) -> list[str]:
    profile = Path(tempfile.mkdtemp(prefix="firefox-", dir=ws.root))
    subprocess.run(
        [_bin("certutil"), "-N", "-d", f"sql:{profile}", "--empty-password"], check=True, capture_output=True
    )
    subprocess.run(
        [_bin("certutil"), "-A", "-d", f"sql:{profile}", "-n", "botwall-capture-ca", "-t", "C,,", "-i", str(ws.ca_pem)],
        check=True,
        capture_output=True,
    )
    # DNS only (shop.test -> loopback), and no first-run tabs competing with the page.
    (profile / "user.js").write_text(
        f'user_pref("network.dns.localDomains", "{BROWSER_HOST}");\n'
        'user_pref("browser.startup.homepage_override.mstone", "ignore");\n'
        'user_pref("datareporting.policy.firstRunURL", "");\n'
    )
    return ["firefox-esr", "--headless", "--no-remote", "--profile", str(profile), _nav(target, run)]


def _playwright(ws: Workspace, target: Target, run: str) -> list[str]:
    return [
        "node",
        str(HERE / "capture" / "playwright_echo.cjs"),
        _nav(target, run),
        target.url(f"/_echo/api?run={run}"),
        *(f"--arg={flag}" for flag in CHROMIUM_FLAGS if flag != "--no-first-run"),
    ]


def _plain(target: Target, run: str) -> str:
    return target.url(f"/_echo/plain?run={run}")


_AIOHTTP = """
import asyncio, sys, aiohttp
async def main():
    async with aiohttp.ClientSession() as session:
        async with session.get(sys.argv[1]) as resp:
            resp.raise_for_status()
            await resp.read()
asyncio.run(main())
"""


def _gofetch(ws: Workspace, target: Target, run: str) -> list[str]:
    if ws.gofetch is None:
        raise RuntimeError("gofetch was not built")
    return [str(ws.gofetch), _plain(target, run)]


CLIENTS: tuple[Client, ...] = (
    Client(
        "chromium-headless",
        "browser",
        "chrome",
        _chromium(headful=False),
        ("chromium",),
        long_running=True,
        version=lambda: _first_line(["chromium", "--version"]),
    ),
    Client(
        "chromium-headful",
        "browser",
        "chrome",
        _chromium(headful=True),
        ("chromium", "xvfb-run"),
        long_running=True,
        version=lambda: _first_line(["chromium", "--version"]) + " under Xvfb",
    ),
    Client(
        "firefox-headless",
        "browser",
        "firefox",
        _firefox,
        ("firefox-esr", "certutil"),
        long_running=True,
        version=lambda: _first_line(["firefox-esr", "--version"]),
    ),
    Client(
        "playwright-chromium",
        "browser",
        "chrome",
        _playwright,
        ("node", "chromium"),
        version=_playwright_version,
    ),
    Client(
        "curl",
        "tool",
        "",
        lambda ws, t, run: ["curl", "-sS", "-o", "/dev/null", _plain(t, run)],
        ("curl",),
        version=lambda: _first_line(["curl", "--version"]),
    ),
    Client(
        "wget",
        "tool",
        "",
        lambda ws, t, run: ["wget", "-q", "-O", "/dev/null", f"--ca-certificate={ws.ca_pem}", _plain(t, run)],
        ("wget",),
        version=lambda: _first_line(["wget", "--version"]),
    ),
    Client(
        "python-requests",
        "tool",
        "",
        lambda ws, t, run: [
            sys.executable,
            "-c",
            "import sys, requests; requests.get(sys.argv[1]).raise_for_status()",
            _plain(t, run),
        ],
        (),
        version=_py_version("requests"),
    ),
    Client(
        "python-httpx",
        "tool",
        "",
        lambda ws, t, run: [
            sys.executable,
            "-c",
            "import sys, httpx; httpx.get(sys.argv[1]).raise_for_status()",
            _plain(t, run),
        ],
        (),
        version=_py_version("httpx"),
    ),
    Client(
        "python-aiohttp",
        "tool",
        "",
        lambda ws, t, run: [sys.executable, "-c", _AIOHTTP, _plain(t, run)],
        (),
        version=_py_version("aiohttp"),
    ),
    Client(
        "node-fetch",
        "tool",
        "",
        lambda ws, t, run: [
            "node",
            "-e",
            "fetch(process.argv[1]).then((r) => r.text()).catch((e) => { console.error(e); process.exit(1); })",
            _plain(t, run),
        ],
        ("node",),
        version=lambda: "node " + _first_line(["node", "--version"]),
    ),
    Client(
        "go-net-http",
        "tool",
        "",
        _gofetch,
        ("go",),
        version=lambda: _first_line(["go", "version"]),
    ),
)


def _missing(client: Client) -> str | None:
    absent = [exe for exe in client.needs if shutil.which(exe) is None]
    if client.name == "playwright-chromium" and not (PLAYWRIGHT_DIR / "node_modules/playwright-core").is_dir():
        absent.append(f"playwright-core in {PLAYWRIGHT_DIR}")
    if client.name.startswith("python-"):
        module = client.name.removeprefix("python-")
        try:
            metadata.version(module)
        except metadata.PackageNotFoundError:
            absent.append(f"the {module} package")
    return f"not installed: {', '.join(absent)} (run `make capture-tools`)" if absent else None


def _build_gofetch(ws: Workspace) -> Path:
    out = ws.root / "gofetch"
    env = ws.env(GOCACHE=str(ws.root / "gocache"), GOPATH=str(ws.root / "gopath"), GO111MODULE="off")
    subprocess.run(
        [_bin("go"), "build", "-o", str(out), str(HERE / "capture" / "gofetch" / "main.go")],
        check=True,
        capture_output=True,
        env=env,
        timeout=300,
    )
    return out


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop a browser we started in its own process group (the browser, its helpers, and Xvfb)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _run_client(client: Client, ws: Workspace, target: Target, shop: Shop, log: Path) -> str | None:
    """Run one client against one target; an error message, or None when its requests reached the shop."""
    run = _run_id(client.name, target)
    argv = client.argv(ws, target, run)
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(argv)}\n".encode())
        out.flush()
        if client.long_running:
            proc = subprocess.Popen(argv, stdout=out, stderr=out, env=ws.env(), start_new_session=True)
            try:
                deadline = time.monotonic() + BROWSER_WAIT_S
                while time.monotonic() < deadline:
                    paths = {r["path"].split("?", 1)[0] for r in shop.records() if r["path"].endswith("run=" + run)}
                    if "/_echo/api" in paths:
                        # The subresources were requested before the script's fetch(); give their logs a moment.
                        time.sleep(0.5)
                        return None
                    if proc.poll() is not None:
                        return f"exited with {proc.returncode} before its XHR reached the shop"
                    time.sleep(0.2)
                return f"no XHR after {BROWSER_WAIT_S:.0f}s"
            finally:
                _stop_group(proc)
        try:
            done = subprocess.run(argv, stdout=out, stderr=out, env=ws.env(), timeout=120, check=False)
        except subprocess.TimeoutExpired:
            return "timed out"
        return None if done.returncode == 0 else f"exited with {done.returncode}"


# --- assembling the profiles -------------------------------------------------------------------------------------


def _kind(path: str) -> str:
    route = path.split("?", 1)[0]
    return KINDS.get(route, "")


def _access_log(path: Path) -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.startswith("{"):
                entry = json.loads(line)
                entries.setdefault(entry.get("request_id", ""), entry)
    return entries


def _fingerprint(value: Any) -> str:
    return "" if value in (None, "", "-") else str(value)


def build_profiles(
    records: list[RequestRecord],
    access: dict[str, dict[str, Any]],
    runs: dict[str, tuple[Client, Target, str]],
) -> list[dict[str, Any]]:
    """One profile per client, request kind, transport and host: the first matching request of each run."""
    profiles: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for record in records:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(record["path"]).query)
        run = query.get("run", [""])[0]
        kind = _kind(record["path"])
        if run not in runs or not kind or (run, kind) in seen:
            continue
        seen.add((run, kind))
        client, target, version = runs[run]
        pairs = [(name, value) for name, value in record["headers"]]
        request_id = next((value for name, value in pairs if name == "x-request-id"), "")
        entry = access.get(request_id, {})
        names = header_names(pairs)
        profiles.append(
            {
                "client": client.name,
                "client_version": version,
                "category": client.category,
                "browser": client.browser,
                "kind": kind,
                "transport": target.transport,
                "host": target.host,
                "secure_context": target.secure_context,
                "protocol": entry.get("protocol", ""),
                "header_count": len(names),
                "headers": names,
                "values": kept_values(pairs),
                "ja4": _fingerprint(entry.get("ja4")),
                "ja3": _fingerprint(entry.get("ja3")),
            }
        )
    order = {c.name: i for i, c in enumerate(CLIENTS)}
    kinds = list(KINDS.values())
    profiles.sort(key=lambda p: (order[p["client"]], p["transport"], p["host"], kinds.index(p["kind"])))
    return profiles


def build_tls_table(profiles: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """JA4 -> the client(s) seen with it, "tool" or "browser", and the browser family. A JA4 shared by a browser and
    a tool is recorded as the browser's (never call a browser a tool)."""
    clients: dict[str, list[str]] = {}
    table: dict[str, dict[str, str]] = {}
    for profile in profiles:
        ja4 = profile["ja4"]
        if not ja4:
            continue
        names = clients.setdefault(ja4, [])
        if profile["client"] not in names:
            names.append(profile["client"])
        entry = table.setdefault(ja4, {"client": "", "category": "tool", "browser": ""})
        if profile["category"] == "browser":
            entry["category"] = "browser"
            entry["browser"] = profile["browser"]
        entry["client"] = "/".join(names)
    # Chromium's JA4 "c" part is one of 16 per connection (a GREASE signature algorithm that Envoy's JA4 keeps), so
    # a browser family is also recorded by its JA4 "a_b" prefix, unless a tool shares that prefix.
    prefixes: dict[str, list[dict[str, str]]] = {}
    for ja4, entry in table.items():
        prefixes.setdefault(ja4.rsplit("_", 1)[0], []).append(entry)
    for prefix, entries in prefixes.items():
        families = {(e["category"], e["browser"]) for e in entries}
        if len(families) == 1 and entries[0]["category"] == "browser":
            seen = dict.fromkeys(name for e in entries for name in e["client"].split("/"))
            table[prefix] = {"client": "/".join(seen), "category": "browser", "browser": entries[0]["browser"]}
    return dict(sorted(table.items()))


def _envoy_config(settings: EnvoySettings) -> dict[str, Any]:
    """The repo's gateway without botwall, with the request id, protocol and JA3 added to the access logs."""
    cfg = render_gateway(settings)
    for listener in cfg["static_resources"]["listeners"]:
        for chain in listener["filter_chains"]:
            hcm = chain["filters"][0]["typed_config"]
            fmt = hcm["access_log"][0]["typed_config"]["log_format"]["json_format"]
            fmt["request_id"] = "%REQ(X-REQUEST-ID)%"
            fmt["protocol"] = "%PROTOCOL%"
            if listener["name"] == "https":
                fmt["ja3"] = "%TLS_JA3_FINGERPRINT%"
    return cfg


def _workspace(root: Path) -> tuple[Workspace, Path, Path]:
    ca = trustme.CA()
    leaf = ca.issue_cert(BROWSER_HOST, TOOL_TLS_HOST, "127.0.0.1")
    ca_pem, cert_pem, key_pem = root / "ca.pem", root / "cert.pem", root / "key.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    leaf.private_key_pem.write_to_path(str(key_pem))
    cert_pem.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    home = root / "home"
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    if shutil.which("certutil"):
        # Chromium on Linux trusts what $HOME/.pki/nssdb trusts: the browsers verify the certificate as usual.
        subprocess.run(
            [_bin("certutil"), "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True, capture_output=True
        )
        subprocess.run(
            [_bin("certutil"), "-A", "-d", f"sql:{nssdb}", "-n", "botwall-capture-ca", "-t", "C,,", "-i", str(ca_pem)],
            check=True,
            capture_output=True,
        )
    return Workspace(root, ca_pem, home), cert_pem, key_pem


def capture(out_dir: Path, only: set[str] | None, keep: bool) -> int:
    root = Path(tempfile.mkdtemp(prefix="botwall-capture-"))
    ws, cert, key = _workspace(root)
    shop = Shop()
    settings = EnvoySettings(
        http=("127.0.0.1", 0),
        tls=("127.0.0.1", 0),
        tls_cert=cert,
        tls_key=key,
        botwall=None,
        upstream=("127.0.0.1", shop.port),
        access_log=str(root / "access.log"),
    )
    envoy = start_envoy(_envoy_config(settings), root / "envoy")
    http_port, https_port = envoy.ports["http"], envoy.ports["https"]
    browser_targets = (
        Target("http", BROWSER_HOST, http_port, secure_context=False),
        Target("http", "127.0.0.1", http_port, secure_context=True),
        Target("https", BROWSER_HOST, https_port, secure_context=True),
    )
    tool_targets = (
        Target("http", "127.0.0.1", http_port, secure_context=True),
        Target("https", TOOL_TLS_HOST, https_port, secure_context=True),
    )
    runs: dict[str, tuple[Client, Target, str]] = {}
    skipped: dict[str, str] = {}
    failures: dict[str, str] = {}
    client_log = root / "clients.log"
    try:
        for client in CLIENTS:
            if only is not None and client.name not in only:
                continue
            why = _missing(client)
            if why is None and client.name == "go-net-http":
                try:
                    ws.gofetch = _build_gofetch(ws)
                except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                    why = f"go build failed: {exc}"
            if why is not None:
                skipped[client.name] = why
                print(f"skip {client.name}: {why}", flush=True)
                continue
            version = client.version()
            for target in browser_targets if client.category == "browser" else tool_targets:
                error = _run_client(client, ws, target, shop, client_log)
                label = f"{client.name} {target.transport}://{target.host}"
                print(f"{label}: {error or 'ok'}", flush=True)
                if error is None:
                    runs[_run_id(client.name, target)] = (client, target, version)
                else:
                    failures[label] = error
        time.sleep(1.0)  # Envoy flushes its access log every 250 ms (stack.start_envoy)
        profiles = build_profiles(shop.records(), _access_log(root / "access.log"), runs)
    finally:
        envoy.stop()
        shop.stop()
    if failures:
        print(f"failures: {json.dumps(failures, indent=2)}\nclient output: {client_log}", file=sys.stderr)
    header_doc = {
        "version": FORMAT_VERSION,
        "captured": dt.date.today().isoformat(),
        "envoy": ENVOY_VERSION,
        "tool": "tools/capture_profiles.py",
        "notes": (
            "Header names in arrival order at the upstream, minus what Envoy adds (x-forwarded-*, x-request-id, "
            "x-envoy-*, host/:authority). Browsers reach http://shop.test (not a secure context), http://127.0.0.1 "
            "(loopback: a secure context) and https://shop.test; tools reach http://127.0.0.1 and https://localhost."
        ),
        "skipped": skipped,
        "profiles": profiles,
    }
    fingerprints = build_tls_table(profiles)
    tls_doc = {
        "version": FORMAT_VERSION,
        "captured": header_doc["captured"],
        "envoy": ENVOY_VERSION,
        "tool": "tools/capture_profiles.py",
        "notes": (
            "Keys are JA4 fingerprints as Envoy computes them (a_b_c), or a_b prefixes that match any c. Browsers "
            "reached https://shop.test and tools https://localhost, so every entry has SNI ('d'). Chromium's c part "
            "changes per connection here (a GREASE value in its signature algorithms, kept by Envoy's JA4): match "
            "Chromium by its a_b prefix. Format and extension: botwall.evidence.tls."
        ),
        "fingerprints": fingerprints,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "header_profiles.json").write_text(json.dumps(header_doc, indent=1) + "\n")
    (out_dir / "tls_fingerprints.json").write_text(json.dumps(tls_doc, indent=1) + "\n")
    print(f"{len(profiles)} profiles, {len(fingerprints)} JA4 keys -> {out_dir}")
    if keep:
        print(f"work directory kept: {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--out", type=Path, default=Path("ext_proc/botwall/data"), help="where to write the JSON")
    parser.add_argument("--only", default="", help="comma-separated client names (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, certificates)")
    args = parser.parse_args()
    only = {name.strip() for name in args.only.split(",") if name.strip()} or None
    sys.exit(capture(args.out, only, args.keep))


if __name__ == "__main__":
    main()
