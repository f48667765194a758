"""`botwall up`: the whole stack on this machine, Envoy + botwall + an upstream, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from botwall.deploy.gateway import EnvoySettings, render_gateway
from botwall.edge.admin import AdminServer
from botwall.edge.alerts import Alerts
from botwall.edge.decision_log import DecisionLog, start_flushing
from botwall.edge.server import start_server
from botwall.engine import Engine
from botwall.errors import StackError
from botwall.lab.stack import EnvoyProcess, self_signed_certificate, start_envoy
from botwall.scoring.model import start_watching, watch_interval

# On shutdown, how long Envoy gets to finish the requests it holds (new connections are refused at once).
ENVOY_DRAIN_SECONDS = 10.0


@dataclass(frozen=True)
class UpOptions:
    """What `botwall up` was asked to run."""

    engine: Engine
    config_path: str | None
    http: tuple[str, int]
    tls: tuple[str, int] | None
    upstream: str | None
    trusted_hops: int
    fail_closed: bool
    workdir: Path
    admin: tuple[str, int] = ("127.0.0.1", 0)  # the admin listener (dashboard, API, metrics); port 0: a free one
    admin_token: str = ""  # "" only on loopback (the CLI checks)


def parse_upstream(url: str) -> tuple[str, int]:
    """`http://host:port` to (host, port); HTTPS upstreams are not supported by the standalone config yet."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise StackError(f"--upstream expects http://HOST[:PORT], got {url!r}")
    return parts.hostname, parts.port or 80


async def run_up(options: UpOptions) -> int:
    """Start everything, print where to go, and stop it all cleanly on a signal: Envoy first, botwall last."""
    out = sys.stdout
    config = options.engine.config
    decision_log = DecisionLog(config.decision_log)
    running = await start_server(options.engine, decision_log, "127.0.0.1:0")
    alerts = None
    if config.alerts.triggers or config.alerts.webhooks:  # webhooks also hear events start and end
        alerts = Alerts(running.servicer, config.alerts.triggers, config.alerts.webhooks, decision_log.alert)
        running.servicer.transactions.listeners.append(alerts.forward)  # transactions for review go to them too
        alerts.start()
    admin = AdminServer(running, options.admin_token, config.admin.open_paths, alerts)
    await admin.start(*options.admin)
    flushing = start_flushing(decision_log)
    watch = start_watching(options.engine.scorer, watch_interval(config.model))  # noqa: F841
    shop_runner = None
    try:
        if options.upstream:
            upstream = parse_upstream(options.upstream)
        else:
            from botwall.lab.demo.shop import start_shop

            shop_runner, shop_port = await start_shop("127.0.0.1", 0)
            upstream = ("127.0.0.1", shop_port)
        cert = key = None
        if options.tls:
            cert, key = self_signed_certificate(options.workdir / "tls")
        settings = EnvoySettings(
            http=options.http,
            tls=options.tls,
            tls_cert=cert,
            tls_key=key,
            botwall=("127.0.0.1", running.port),
            upstream=upstream,
            trusted_hops=options.trusted_hops,
            fail_closed=options.fail_closed,
            access_log=str(options.workdir / "access.log"),
        )
        # In its own process group: a Ctrl-C in the terminal reaches only this process, which stops Envoy in order.
        envoy = await asyncio.to_thread(
            start_envoy, render_gateway(settings), options.workdir, None, 30.0, own_process_group=True
        )
    except BaseException:
        flushing.cancel()
        if alerts is not None:
            await alerts.stop()
        await admin.stop()
        await running.stop(0)
        if shop_runner is not None:
            await shop_runner.cleanup()
        raise
    try:
        code = await _serve_until_stopped(options, envoy, running.port, upstream, settings.access_log, admin.port)
    finally:
        print("stopping", file=out, flush=True)
        # No gap: Envoy closes its listeners and finishes the requests it holds while botwall still judges them;
        # botwall stops only once Envoy has (its health says NOT_SERVING from the start of this).
        await running.drain(0)
        await asyncio.to_thread(envoy.drain, ENVOY_DRAIN_SECONDS)
        await asyncio.to_thread(envoy.stop)
        await running.stop(5)
        if alerts is not None:
            await alerts.stop()
        await admin.stop()
        flushing.cancel()
        decision_log.flush()  # the aggregate lines of the last interval
        if shop_runner is not None:
            await shop_runner.cleanup()
    return code


async def _serve_until_stopped(
    options: UpOptions,
    envoy: EnvoyProcess,
    botwall_port: int,
    upstream: tuple[str, int],
    access_log: str,
    admin_port: int,
) -> int:
    """Print where to go, then wait for Ctrl-C or SIGTERM (0), or for Envoy to exit by itself (1)."""
    out = sys.stdout
    host = options.http[0] if options.http[0] not in ("0.0.0.0", "::") else "127.0.0.1"
    print(f"botwall is up: {envoy.url('http', host)}/", file=out)
    if "https" in envoy.ports:
        print(f"  HTTPS (self-signed, JA4 on): {envoy.url('https', host)}/", file=out)
    print(f"  upstream: http://{upstream[0]}:{upstream[1]}  botwall gRPC: 127.0.0.1:{botwall_port}", file=out)
    print(f"  Envoy admin: {envoy.admin_url}  access log: {access_log}", file=out)
    admin_host = options.admin[0] if options.admin[0] not in ("0.0.0.0", "::") else "127.0.0.1"
    sign_in = "  (sign in with the admin token)" if options.admin_token else ""
    print(f"  dashboard: http://{admin_host}:{admin_port}/{sign_in}  (and /api/v1/..., /metrics)", file=out)
    print(
        f"  try: curl -i {envoy.url('http', host)}/   and   curl -i -A 'python-requests/2.32' "
        f"{envoy.url('http', host)}/api/products",
        file=out,
    )
    print("  decision log below; Ctrl-C stops everything", file=out, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    envoy_exit = asyncio.ensure_future(asyncio.to_thread(envoy.proc.wait))
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({envoy_exit, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if envoy_exit.done():
        print(f"envoy exited with {envoy.proc.returncode}:\n{envoy.logs()}", file=sys.stderr)
        return 1
    return 0
