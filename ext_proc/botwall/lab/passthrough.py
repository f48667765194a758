"""A pass-through ext_proc processor: the same gRPC stack as botwall, doing no work.

The benchmark's baseline: Envoy + this processor costs what any Python `grpc.aio` processor costs; botwall's own work
is what it adds on top. Run it with `python -m botwall.lab.passthrough --listen HOST:PORT [--ready-file F]`.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc

from botwall.edge import response as _response
from botwall.edge.envoy_api import ProcessingRequest, ProcessingResponse, add_ExternalProcessorServicer_to_server
from botwall.edge.listen import write_ready_file
from botwall.edge.server import SERVER_OPTIONS


class PassThroughServicer:
    """Answers every message with an unchanged continue of the matching kind."""

    def __init__(self, request_only: bool = False) -> None:
        self.request_only = request_only

    async def Process(  # noqa: N802 - the gRPC method name
        self, request_iterator: AsyncIterator[ProcessingRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[ProcessingResponse]:
        """One empty answer per message; the stream ends after the response headers' answer, as botwall's does, or
        with `request_only` after the request headers' answer (as botwall's does for a cookie holder's request)."""
        async for request in request_iterator:
            kind = request.WhichOneof("request")
            if kind == "response_headers":
                yield _response.continue_response_headers()
                return
            yield _response.passthrough_for(kind)
            if self.request_only and kind == "request_headers":
                return


async def _main(listen: str, ready_file: str | None, request_only: bool) -> None:
    server = grpc.aio.server(options=SERVER_OPTIONS)
    add_ExternalProcessorServicer_to_server(PassThroughServicer(request_only), server)
    port = server.add_insecure_port(listen)
    await server.start()
    if ready_file:
        write_ready_file(Path(ready_file), port)
    await server.wait_for_termination()


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m botwall.lab.passthrough")
    parser.add_argument("--listen", default="127.0.0.1:0")
    parser.add_argument("--ready-file")
    parser.add_argument("--request-only", action="store_true", help="end each stream after the request headers")
    args = parser.parse_args()
    asyncio.run(_main(args.listen, args.ready_file, args.request_only))


if __name__ == "__main__":
    main()
