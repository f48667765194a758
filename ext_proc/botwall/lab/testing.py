"""Test helpers, shipped with the package so botwall's and users' own tests can drive botwall in-process.

`StreamDriver` feeds `ProcessingRequest`s through the servicer exactly as a gRPC stream would, without a
network; the `request_headers` and `response_headers` builders make Envoy's messages; `FakeClock` re-exports the
injected clock used for time windows.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from botwall.clock import FakeClock
from botwall.config import load_config
from botwall.edge.envoy_api import (
    HeaderMap,
    HeaderValue,
    HttpHeaders,
    ProcessingRequest,
    ProcessingResponse,
    Struct,
)
from botwall.edge.server import BotwallServicer
from botwall.request import ATTRIBUTES_KEY, SOURCE_ADDRESS
from botwall.resources import Resources, load_resources
from botwall.scoring.rules import RuleScorer

__all__ = [
    "LOGIN_CONFIG",
    "FakeClock",
    "StreamDriver",
    "captured_headers",
    "header_dict",
    "request_headers",
    "residential",
    "response_headers",
]

# The demo shop's two logins and a block for clear bots: a config for tests of the credential pillar.
LOGIN_CONFIG = """
login_routes:
  - name: form-login
    match: {path: {exact: /login}, methods: [POST]}
    format: form
    success: {status: [303], set_cookie: session}
    failure: {status: [401]}
  - name: api-login
    match: {path: {exact: /api/login}, methods: [POST]}
    format: json
    success: {status: [200]}
    failure: {status: [401]}
policies:
  - name: bots
    min_score: 70
    action: block
"""

PROFILES_PATH = Path(str(files("botwall") / "data" / "header_profiles.json"))
# Values the capture did not keep (they vary per request); plausible stand-ins keep the header in its place.
_STAND_INS = {
    "upgrade-insecure-requests": "1",
    "priority": "u=0, i",
    "referer": "https://shop.example/",
    "te": "trailers",
}


@cache
def _profiles() -> list[dict[str, Any]]:
    data = json.loads(PROFILES_PATH.read_text(encoding="utf-8"))
    return list(data["profiles"])


def captured_headers(
    client: str = "firefox-headless",
    kind: str = "navigation",
    transport: str = "https",
    host: str | None = None,
    user_agent: str | None = None,
) -> list[tuple[str, str]]:
    """The headers a real client sent, in its order, from the profiles captured through Envoy
    (ext_proc/botwall/data/header_profiles.json; `client` as named there, e.g. `chromium-headful`, `curl`).

    `user_agent` replaces the user-agent value (a tool spoofing a browser, say).
    """
    for profile in _profiles():
        if (profile["client"], profile["kind"], profile["transport"]) != (client, kind, transport):
            continue
        if host is not None and profile["host"] != host:
            continue
        values = profile["values"]
        pairs = [(name, values.get(name) or _STAND_INS.get(name, "1")) for name in profile["headers"]]
        if user_agent is not None:
            pairs = [(n, user_agent if n == "user-agent" else v) for n, v in pairs]
        return pairs
    raise LookupError(f"no captured profile for {client}/{kind}/{transport}/{host}")


def residential(candidates: Iterable[str], count: int) -> list[str]:
    """The first `count` of `candidates` that botwall's IP data places in no hosting, cloud or anonymizing network:
    addresses people browse from (a test's or a benchmark's people are not flagged by their network)."""
    intel = resources().ip_intel
    found: list[str] = []
    for address in candidates:
        if intel.lookup(address).network not in ("hosting", "cloud", "vpn", "tor", "proxy"):
            found.append(address)
            if len(found) == count:
                break
    return found


def form_submission(navigation: Sequence[tuple[str, str]], origin: str, referer: str) -> list[tuple[str, str]]:
    """A browser's navigation headers as its submission of a same-origin form: fetch metadata says same-origin, and
    the origin, referer and body type a browser adds to the POST."""
    return [
        *((n, "same-origin" if n == "sec-fetch-site" else v) for n, v in navigation),
        ("origin", origin),
        ("referer", referer),
        ("content-type", "application/x-www-form-urlencoded"),
    ]


def _header_map(headers: Iterable[tuple[str, str]]) -> HeaderMap:
    return HeaderMap(headers=[HeaderValue(key=k, raw_value=v.encode("latin-1")) for k, v in headers])


def request_headers(
    path: str = "/",
    *,
    method: str = "GET",
    authority: str = "shop.example",
    scheme: str = "http",
    headers: Sequence[tuple[str, str]] = (),
    client: str = "198.51.100.7:40000",
    attributes: Mapping[str, str] | None = None,
    end_of_stream: bool = True,
) -> ProcessingRequest:
    """A request-headers message as Envoy sends it: pseudo-headers first, values in `raw_value`, attributes."""
    pseudo = [(":authority", authority), (":path", path), (":method", method), (":scheme", scheme)]
    attrs = Struct()
    fields: dict[str, Any] = {SOURCE_ADDRESS: client}
    fields.update(attributes or {})
    attrs.update(fields)
    message = ProcessingRequest(
        request_headers=HttpHeaders(headers=_header_map([*pseudo, *headers]), end_of_stream=end_of_stream)
    )
    message.attributes[ATTRIBUTES_KEY].CopyFrom(attrs)
    return message


def response_headers(status: int = 200, headers: Sequence[tuple[str, str]] = ()) -> ProcessingRequest:
    """A response-headers message."""
    return ProcessingRequest(response_headers=HttpHeaders(headers=_header_map([(":status", str(status)), *headers])))


def header_dict(response: ProcessingResponse) -> dict[str, str]:
    """The headers a request-headers response sets, as a dict (for assertions)."""
    mutation = response.request_headers.response.header_mutation
    return {h.header.key: h.header.raw_value.decode() for h in mutation.set_headers}


class _Context:
    """The slice of `grpc.aio.ServicerContext` the servicer uses (none of it, today)."""

    def cancelled(self) -> bool:
        return False


class StreamDriver:
    """Runs message sequences through a servicer's `Process` method in-process."""

    def __init__(self, servicer: BotwallServicer) -> None:
        self.servicer = servicer

    async def run(self, messages: Iterable[ProcessingRequest]) -> list[ProcessingResponse]:
        """Send every message, then half-close; return the responses in order."""

        async def feed() -> AsyncIterator[ProcessingRequest]:
            for message in messages:
                yield message
                await asyncio.sleep(0)

        return [r async for r in self.servicer.Process(feed(), _Context())]

    async def one(self, message: ProcessingRequest) -> ProcessingResponse:
        """Send one message and return its one response."""
        responses = await self.run([message])
        assert len(responses) == 1, f"expected one response, got {len(responses)}"
        return responses[0]


@cache
def resources() -> Resources:
    """The shipped data (the embedded defaults' files), loaded once per process and scored with the rules: engines
    in tests and the simulator pass their own scorer where the scorer matters."""
    return load_resources(load_config(None), scorer=RuleScorer())


def up_banner(proc: subprocess.Popen[str], timeout: float = 60.0) -> str:
    """What a started `botwall up` prints before it serves (its lines up to "Ctrl-C ..."), or all it printed before
    it exited or `timeout` ran out."""
    assert proc.stdout is not None
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if "Ctrl-C" in line or not line:
            break
    return "".join(lines)
