"""Where a server listens: whether a port can be bound before anything starts, and publishing the port bound."""

from __future__ import annotations

import errno
import json
import socket
from pathlib import Path


def bind_error(host: str, port: int) -> str | None:
    """Why nothing could listen on `host:port` now (such as "address already in use"), or None if it could. Probed
    with a socket bound and closed at once, with SO_REUSEADDR as Envoy and gRPC bind theirs, so that a port in use
    is a one-line message before anything starts instead of an error deep inside Envoy or gRPC."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"cannot resolve {host!r}: {exc.strerror}"
    problem = None
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                problem = problem or (exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))).lower()
                continue
        return None  # like gRPC, one address of those a name resolves to is enough
    return problem


def write_ready_file(path: Path, port: int, **more: int | list[int] | None) -> None:
    """Atomically publish a processor's bound port, and what else it bound (`admin_port`; with `--workers`, every
    worker's `ports` and `admin_ports`, the first's in `port`), so a reader never sees a half-written file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"port": port} | {name: value for name, value in more.items() if value}))
    tmp.replace(path)


def read_ready_file(path: Path) -> int | None:
    """The port a ready file publishes, or None while there is none (or only a partial one)."""
    try:
        return int(json.loads(path.read_text())["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
