"""Test helpers, shipped with the package so later issues and users' own tests can drive botwall in-process.

`StreamDriver` feeds `ProcessingRequest`s through the servicer exactly as a gRPC stream would, without a
network; the `request_headers` and `response_headers` builders make Envoy's messages; `FakeClock` re-exports the
injected clock used for time windows.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

from botwall._envoy_api import (
    HeaderMap,
    HeaderValue,
    HttpHeaders,
    ProcessingRequest,
    ProcessingResponse,
    Struct,
)
from botwall.clock import FakeClock
from botwall.request import ATTRIBUTES_KEY, SOURCE_ADDRESS
from botwall.server import BotwallServicer

__all__ = ["FakeClock", "StreamDriver", "header_dict", "request_headers", "response_headers"]


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
