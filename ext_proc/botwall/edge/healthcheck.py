"""`python -m botwall.edge.healthcheck --address HOST:PORT`: ask a botwall server's gRPC health service if it serves.

Exits 0 when the answer is SERVING and 1 otherwise (NOT_SERVING during a graceful shutdown, nothing listening, or no
answer within `--timeout`), which is what a container HEALTHCHECK and a Kubernetes exec probe expect. It writes
nothing to disk, so it runs on a read-only root filesystem.
"""

from __future__ import annotations

import argparse
import os

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

DEFAULT_ADDRESS = "127.0.0.1:9191"


def check(address: str, service: str = "", timeout: float = 2.0) -> tuple[bool, str]:
    """Whether the server at `address` reports `service` ("" for the whole server) as SERVING, and what it said."""
    with grpc.insecure_channel(address) as channel:
        try:
            response = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout
            )
        except grpc.RpcError as exc:
            return False, f"{exc.code().name}: {exc.details()}"
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    return response.status == health_pb2.HealthCheckResponse.SERVING, status


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used by the tests)."""
    parser = argparse.ArgumentParser(
        prog="python -m botwall.edge.healthcheck", description="Exit 0 if a botwall server's gRPC health is SERVING."
    )
    parser.add_argument(
        "--address",
        default=os.environ.get("BOTWALL_HEALTH_ADDRESS", DEFAULT_ADDRESS),
        help=f"the server's HOST:PORT (default {DEFAULT_ADDRESS}, or $BOTWALL_HEALTH_ADDRESS)",
    )
    parser.add_argument(
        "--service",
        default="",
        help='the health service name to ask about (default "": the whole server; botwall also answers for '
        "envoy.service.ext_proc.v3.ExternalProcessor)",
    )
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for the answer (default 2)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Check once, print one line, and return the exit status."""
    args = build_parser().parse_args(argv)
    healthy, detail = check(args.address, args.service, args.timeout)
    print(f"botwall health {args.address}: {detail}")
    return 0 if healthy else 1


if __name__ == "__main__":
    raise SystemExit(main())
