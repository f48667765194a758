"""Stream tests: Envoy's message sequences through the servicer in-process, no network."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from botwall.config import parse_yaml
from botwall.edge.decision_log import DecisionLog
from botwall.edge.envoy_api import ExternalProcessorStub, ProcessingRequest, ProcessingResponse
from botwall.edge.server import BotwallServicer, start_server
from botwall.engine import Engine
from botwall.lab import testing
from botwall.lab.testing import (
    StreamDriver,
    captured_headers,
    header_dict,
    request_headers,
    resources,
    response_headers,
)

BROWSER = captured_headers("firefox-headless", "navigation", "http", "shop.test")
CONFIG = """
decision_log: {allow_sample_rate: 0}
policies:
  - name: trap
    match: {path: {prefix: /wp-admin}}
    action: deceive
    deceive: {content_type: application/json, body: '{"ok": true}', headers: {x-trap: "1"}}
  - name: login
    match: {path: {exact: /login}, methods: [POST]}
    action: throttle
    throttle: {key: ip, rate_per_minute: 1, burst: 1}
  - name: bots
    min_score: 70
    action: block
"""


def _servicer(text: str = CONFIG, log: io.StringIO | None = None) -> BotwallServicer:
    config = parse_yaml(text, "test.yaml")
    return BotwallServicer(Engine(config, resources()), DecisionLog(config.decision_log, log or io.StringIO()))


async def test_allowed_request_is_tagged_and_spoofed_tags_removed() -> None:
    """A browser request continues with the four tags set and client-sent x-botwall-* headers removed."""
    spoofed = [*BROWSER, ("x-botwall-score", "0"), ("x-botwall-admin", "yes")]
    response = await StreamDriver(_servicer()).one(request_headers("/", headers=spoofed))
    tags = header_dict(response)
    mutation = response.request_headers.response.header_mutation
    assert ["x-botwall-admin"] == list(mutation.remove_headers)
    assert ("0", "human", "") == (tags["x-botwall-score"], tags["x-botwall-verdict"], tags["x-botwall-reasons"])
    assert 16 == len(tags["x-botwall-fingerprint"])
    metadata = response.dynamic_metadata.fields["botwall"].struct_value.fields
    assert ("allow", "human") == (metadata["action"].string_value, metadata["verdict"].string_value)


async def test_bot_gets_immediate_403() -> None:
    """A curl request is answered with 403 by botwall and never continues."""
    response = await StreamDriver(_servicer()).one(request_headers("/", headers=[("user-agent", "curl/8.5.0")]))
    assert "immediate_response" == response.WhichOneof("response")
    assert (403, b"Forbidden\n", "botwall_block") == (
        response.immediate_response.status.code,
        response.immediate_response.body,
        response.immediate_response.details,
    )


async def test_throttle_sets_retry_after() -> None:
    """The second login within the bucket's refill time gets 429 with Retry-After: 60."""
    driver = StreamDriver(_servicer())
    first = await driver.one(request_headers("/login", method="POST", headers=BROWSER))
    second = await driver.one(request_headers("/login", method="POST", headers=BROWSER))
    assert "request_headers" == first.WhichOneof("response")
    headers = {h.header.key: h.header.raw_value for h in second.immediate_response.headers.set_headers}
    assert (429, b"60") == (second.immediate_response.status.code, headers["retry-after"])


async def test_deceive_returns_configured_body() -> None:
    """A honeytrap request gets the synthesized status, headers and body."""
    response = await StreamDriver(_servicer()).one(request_headers("/wp-admin/", headers=BROWSER))
    immediate = response.immediate_response
    headers = {h.header.key: h.header.raw_value for h in immediate.headers.set_headers}
    assert (200, b'{"ok": true}', b"application/json", b"1") == (
        immediate.status.code,
        immediate.body,
        headers["content-type"],
        headers["x-trap"],
    )


async def test_shadow_mode_tags_but_does_not_block() -> None:
    """In shadow mode a bot continues, tagged with the action it would have had, and the decision is logged."""
    log = io.StringIO()
    response = await StreamDriver(_servicer("shadow: true\n" + CONFIG, log)).one(
        request_headers("/", headers=[("user-agent", "curl/8.5.0")])
    )
    assert "block-shadow" == header_dict(response)["x-botwall-action"]
    event = json.loads(log.getvalue())
    assert ("block", True, False) == (event["action"], event["shadow"], event["enforced"])


async def test_full_stream_with_response_headers() -> None:
    """Request headers then response headers: one response each, in order."""
    responses = await StreamDriver(_servicer()).run(
        [request_headers("/", headers=BROWSER), response_headers(200, [("content-type", "text/html")])]
    )
    assert ["request_headers", "response_headers"] == [r.WhichOneof("response") for r in responses]


async def test_page_response_carries_botwall_cookie_unless_a_shared_cache_may_keep_it() -> None:
    """A page's response gets botwall's cookie appended (never replacing the upstream's); a publicly cacheable one
    gets none."""

    def cookies(response: ProcessingResponse) -> list[tuple[str, bool]]:
        mutation = response.response_headers.response.header_mutation
        return [(h.header.key, h.append.value) for h in mutation.set_headers]

    private = await StreamDriver(_servicer()).run(
        [request_headers("/", headers=BROWSER), response_headers(200, [("content-type", "text/html")])]
    )
    public = await StreamDriver(_servicer()).run(
        [request_headers("/", headers=BROWSER), response_headers(200, [("cache-control", "public, max-age=300")])]
    )
    assert ([("set-cookie", True)], []) == (cookies(private[1]), cookies(public[1]))


async def test_stream_starting_with_response_headers_passes() -> None:
    """A stream that starts without request headers still gets a pass-through answer."""
    responses = await StreamDriver(_servicer()).run([response_headers(404)])
    assert ["response_headers"] == [r.WhichOneof("response") for r in responses]


async def test_body_messages_pass_through() -> None:
    """Body and trailer messages are answered with unchanged pass-through responses."""
    from botwall.edge.envoy_api import HttpBody

    responses = await StreamDriver(_servicer()).run(
        [
            request_headers("/", headers=BROWSER, end_of_stream=False),
            ProcessingRequest(request_body=HttpBody(body=b"x")),
        ]
    )
    assert ["request_headers", "request_body"] == [r.WhichOneof("response") for r in responses]


async def test_over_grpc_health_and_cancel() -> None:
    """Over a real gRPC channel: health is SERVING, a stream works, and a cancelled stream leaves the server healthy."""
    config = parse_yaml(CONFIG, "t.yaml")
    running = await start_server(
        Engine(config, resources()), DecisionLog(config.decision_log, io.StringIO()), "127.0.0.1:0"
    )
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            status = await health.Check(health_pb2.HealthCheckRequest(service=""))
            assert health_pb2.HealthCheckResponse.SERVING == status.status
            stub = ExternalProcessorStub(channel)
            gate = asyncio.Event()

            async def messages() -> AsyncIterator[ProcessingRequest]:
                yield request_headers("/", headers=[("user-agent", "curl/8.5.0")])
                await gate.wait()

            call = stub.Process(messages())
            first = await call.read()
            assert 403 == first.immediate_response.status.code
            call.cancel()
            gate.set()
            with pytest.raises(asyncio.CancelledError):
                await call.read()
            again = await health.Check(health_pb2.HealthCheckRequest(service=""))
            assert health_pb2.HealthCheckResponse.SERVING == again.status
    finally:
        await running.stop(0)
    assert 2 == running.servicer.counters.streams or 1 == running.servicer.counters.streams


LOGIN_CONFIG = "decision_log: {allow_sample_rate: 0}\n" + testing.LOGIN_CONFIG


def _login_messages(user: str, client: str) -> list[ProcessingRequest]:
    from botwall.edge.envoy_api import HttpBody

    headers = [*BROWSER, ("content-type", "application/json"), ("x-botwall-score", "0")]
    body = f'{{"username": "{user}", "password": "s3cret-{user}"}}'.encode()
    return [
        request_headers("/api/login", method="POST", headers=headers, client=client, end_of_stream=False),
        ProcessingRequest(request_body=HttpBody(body=body, end_of_stream=True)),
        response_headers(401),
    ]


async def test_login_route_asks_for_body_then_decides_on_it() -> None:
    """On a login route botwall asks Envoy for the buffered body, tags in the body response, and logs the username
    (a login with no page view before it from its address, and no botwall cookie, is tagged `cred:cold-login`)."""
    from botwall.edge.envoy_api import ProcessingMode

    log = io.StringIO()
    responses = await StreamDriver(_servicer(LOGIN_CONFIG, log)).run(_login_messages("alice", "192.0.2.10:1"))
    first, second, third = responses
    assert ProcessingMode.BUFFERED == first.mode_override.request_body_mode
    assert ["x-botwall-score"] == list(first.request_headers.response.header_mutation.remove_headers)
    tags = {h.header.key: h.header.raw_value.decode() for h in second.request_body.response.header_mutation.set_headers}
    assert ("suspect", "cred:cold-login") == (tags["x-botwall-verdict"], tags["x-botwall-reasons"])
    assert "response_headers" == third.WhichOneof("response")
    event = json.loads(log.getvalue())
    assert ("alice", "api-login", "allow") == (event["username"], event["login_route"], event["action"])
    assert "s3cret" not in log.getvalue()


async def test_stuffing_over_streams_is_blocked_at_the_body() -> None:
    """Failed logins for many usernames from one client end in a 403 answered from the body phase."""
    servicer = _servicer(LOGIN_CONFIG)
    driver = StreamDriver(servicer)
    outcomes = []
    for i in range(6):
        responses = await driver.run(_login_messages(f"user{i}", "203.0.113.77:1"))
        outcomes.append(responses[1].WhichOneof("response"))
    assert ["request_body"] * 3 + ["immediate_response"] * 3 == outcomes
