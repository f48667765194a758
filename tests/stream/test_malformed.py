"""Malformed and hostile input from Envoy or clients: never a crash, always exactly one answer per message."""

from __future__ import annotations

import io
import random

from botwall.config import load_config
from botwall.edge.decision_log import DecisionLog
from botwall.edge.envoy_api import HeaderMap, HeaderValue, HttpBody, HttpHeaders, ProcessingRequest
from botwall.edge.server import BotwallServicer
from botwall.engine import Engine
from botwall.lab.testing import StreamDriver, request_headers, resources, response_headers


def _servicer() -> BotwallServicer:
    config = load_config(None)
    return BotwallServicer(Engine(config, resources()), DecisionLog(config.decision_log, io.StringIO()))


def _junk(rng: random.Random, size: int) -> bytes:
    return bytes(rng.randrange(256) for _ in range(size))


def _random_message(rng: random.Random) -> ProcessingRequest:
    """A request-headers message with random names, values and pseudo-headers, some missing or repeated."""
    headers = []
    for _ in range(rng.randrange(0, 40)):
        name = rng.choice(
            [
                ":path",
                ":method",
                ":authority",
                ":scheme",
                "user-agent",
                "cookie",
                "x-botwall-score",
                "content-type",
                "accept",
                "sec-ch-ua",
                rng.choice(["", "x", "\x00"]) * rng.randrange(4),
            ]
        )
        headers.append(HeaderValue(key=name, raw_value=_junk(rng, rng.randrange(0, 300))))
    message = ProcessingRequest(
        request_headers=HttpHeaders(headers=HeaderMap(headers=headers), end_of_stream=rng.random() < 0.5)
    )
    if rng.random() < 0.8:
        message.attributes["envoy.filters.http.ext_proc"].update(
            {
                "source.address": rng.choice(["", "::", "300.1.1.1:5", "[::1]:80", "not an ip", "1.2.3.4:99999"]),
                "filter_state['botwall.ja4']": rng.choice(["", "-", "t13d", _junk(rng, 20).hex()]),
            }
        )
    return message


async def test_random_request_headers_always_get_one_answer() -> None:
    """Five hundred random header sets, each followed by junk bodies and statuses, never raise and never go silent."""
    rng = random.Random(11)  # noqa: S311 - reproducible fuzzing, not security
    servicer = _servicer()
    driver = StreamDriver(servicer)
    for _ in range(500):
        messages = [
            _random_message(rng),
            ProcessingRequest(request_body=HttpBody(body=_junk(rng, rng.randrange(0, 2000)), end_of_stream=True)),
            ProcessingRequest(
                response_headers=HttpHeaders(
                    headers=HeaderMap(headers=[HeaderValue(key=":status", raw_value=rng.choice([b"200", b"x", b""]))])
                )
            ),
        ]
        kinds = [r.WhichOneof("response") for r in await driver.run(messages)]
        assert kinds[0] in ("request_headers", "immediate_response")
        # One answer per message, until an immediate response (Envoy sends nothing after one) or the response
        # headers' answer ends the stream.
        expected = kinds.index("immediate_response") + 1 if "immediate_response" in kinds else 3
        assert expected == len(kinds)
    assert 0 == servicer.counters.errors


async def test_login_body_junk_is_read_as_unparsed_not_crash() -> None:
    """A login route whose body is binary junk, deeply nested JSON or the wrong types is decided on, never a crash:
    junk is cred:unreadable-login, nesting past the parser's depth cred:malformed-login (refused at once; the others
    are judged on the rest of the client's evidence, here a bare user-agent logging in with no page view before)."""
    servicer = _servicer()
    driver = StreamDriver(servicer)
    headers = [("user-agent", "Mozilla/5.0"), ("content-type", "application/json")]
    for body in (b"\xff\xfe\x00", b"[" * 5000 + b"]" * 5000, b'{"username": {"$ne": 1}, "password": []}'):
        responses = await driver.run(
            [
                request_headers("/api/login", method="POST", headers=headers, end_of_stream=False),
                ProcessingRequest(request_body=HttpBody(body=body, end_of_stream=True)),
                response_headers(401),
            ]
        )
        kinds = [r.WhichOneof("response") for r in responses]
        refused = kinds[1] == "immediate_response"
        assert ["request_headers", kinds[1], *([] if refused else ["response_headers"])] == kinds
        assert kinds[1] in ("request_body", "immediate_response")
        assert refused or not body.startswith(b"[[")
    assert 0 == servicer.counters.errors
