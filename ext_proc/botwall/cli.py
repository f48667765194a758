"""The `botwall` command: `serve`, `up`, `check-config`, `envoy-config`, `simulate`, `train` and `eval`."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import structlog

from botwall.config import Config, RedisSettings, load_config
from botwall.errors import BotwallError, UsageError

if TYPE_CHECKING:
    from botwall.engine import Engine


def _configure_logging() -> None:
    """Service logs as JSON lines on stderr; decision logs go to stdout (see events.DecisionLog)."""
    from botwall.edge.workers import worker_processors

    structlog.configure(
        processors=[
            *worker_processors(),  # a worker of `serve --workers N` says which it is
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        # sys.stderr as it is when a line is written, not when logging was configured (a test's captured stream is
        # closed after it; a supervisor may swap the stream). WriteLogger writes the line and its newline in one
        # write: stderr writes through, and print's two writes let --workers' processes interleave their lines.
        logger_factory=lambda *_: structlog.WriteLogger(sys.stderr),
    )


def _usage_error(message: str) -> NoReturn:
    """What the operator asked cannot work: the CLI's boundary prints it as one line, exit status 2."""
    raise UsageError(message)


def _need_lab(command: str) -> None:
    """The lab's commands need botwall.lab, which the runtime container image leaves out: say so in one line."""
    if importlib.util.find_spec("botwall.lab") is None:
        _usage_error(
            f"`botwall {command}` needs botwall's lab (demo shop, local stack, simulator, training), which this "
            "installation leaves out, as the runtime container image does: install the botwall wheel to use it"
        )


def _split_host_port(text: str, flag: str) -> tuple[str, int]:
    """HOST:PORT (an IPv6 address in brackets), checked here: gRPC would read a missing port as 443 and 99999 as
    34463 without a word."""
    host, sep, port = text.rpartition(":")
    if not sep:
        _usage_error(f"{flag} expects HOST:PORT, got {text!r}")
    if not (port.isascii() and port.isdigit() and len(port) <= 5 and int(port) <= 65535):
        _usage_error(f"{flag} expects a port from 0 to 65535, got {port!r} in {text!r}")
    if ":" in host and not (host.startswith("[") and host.endswith("]")):
        _usage_error(f"{flag} expects an IPv6 address in brackets, such as [::1]:9191, got {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _check_bindable(host: str, port: int, flag: str) -> None:
    """A port in use (or an address that is not this machine's) is a one-line error before anything starts."""
    from botwall.edge.listen import bind_error

    problem = bind_error(host, port)
    if problem is not None:
        _usage_error(f"{flag}: cannot listen on {_address(host, port)}: {problem}")


def _seconds(text: str) -> float:
    """A number of seconds from 0 to 3600 (an argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:  # NaN fails this too
        raise argparse.ArgumentTypeError(f"expected seconds from 0 to 3600, got {text!r}")
    return value


def _workers(text: str) -> int:
    """`--workers`: a count of processes, 1 to 256."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of processes, got {text!r}") from None
    if not 1 <= count <= 256:
        raise argparse.ArgumentTypeError(f"expected 1 to 256 processes, got {count}")
    return count


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate a config file, and the data files it names, and summarize it."""
    config = _engine(load_config(args.file)).config
    print(f"{config.source}: OK ({len(config.policies)} policies, shadow={'on' if config.shadow else 'off'})")
    for p in config.policies:
        print(f"  {p.name}: {p.action} (min_score {p.min_score}{', shadow' if p.shadow else ''})")
    return 0


def _engine(config: Config) -> Engine:
    """The engine for a config, with everything it loads (the model checked against the feature schema and warmed
    up; the operator's IP lists, MMDB and HIBP files) loaded before the server starts and health turns SERVING."""
    from botwall.engine import Engine
    from botwall.resources import load_resources

    return Engine(config, load_resources(config))


async def _serve(engine: Engine, args: argparse.Namespace) -> None:
    from botwall.edge.decision_log import DecisionLog, start_flushing
    from botwall.edge.listen import write_ready_file
    from botwall.edge.server import serve_until_signal, start_server
    from botwall.scoring.model import OnnxScorer, start_watching, watch_interval

    config = engine.config
    listen = _address(*_split_host_port(args.listen, "--listen"))
    decision_log = DecisionLog(config.decision_log)
    state_db = None
    if args.state_dir:  # opened before serving: a directory or file botwall cannot use is an error now, not later
        from botwall.edge.persist import StateDb
        from botwall.edge.workers import WORKER_ENV

        state_db = StateDb(Path(args.state_dir), int(os.environ.get(WORKER_ENV, "0") or 0))
    try:
        running = await start_server(engine, decision_log, listen)
    except OSError as exc:  # lost a race for the port after the check in cmd_serve
        raise UsageError(f"--listen: {exc}") from None
    watch = start_watching(engine.scorer, watch_interval(config.model))  # noqa: F841
    flushing = start_flushing(decision_log)
    alerts = None
    if config.alerts.triggers or config.alerts.webhooks:  # webhooks also hear events start and end
        from botwall.edge.alerts import Alerts

        alerts = Alerts(running.servicer, config.alerts.triggers, config.alerts.webhooks, decision_log.alert)
        running.servicer.transactions.listeners.append(alerts.forward)  # transactions for review go to them too
    persister = None
    if state_db is not None:
        from botwall.edge.persist import Persistent, Persister

        servicer = running.servicer
        registries: dict[str, tuple[Persistent, int]] = {
            "endpoints": (servicer.inventory, servicer.inventory.max_templates),
            "accounts": (servicer.accounts, servicer.accounts.max_accounts),
            "campaigns": (servicer.campaigns, servicer.campaigns.max_campaigns),
        }
        if alerts is not None:  # pending deliveries, the last events, the triggers' episodes
            registries.update(alerts.tables())
        persister = Persister(state_db, registries, retention_days=args.state_retention_days)
        restored = persister.restore()
        persister.start()
        structlog.get_logger("botwall").info("state_restored", path=str(state_db.path), **restored)
    if alerts is not None:  # after the restore: the deliveries saved pending are queued first
        alerts.start(args.alert_interval)
    admin = None
    if args.admin_listen:
        from botwall.edge.admin import AdminServer

        admin = AdminServer(running, args.admin_token, config.admin.open_paths, alerts)
        await admin.start(*_split_host_port(args.admin_listen, "--admin-listen"))
    log = structlog.get_logger("botwall")
    log.info(
        "serving",
        pid=os.getpid(),
        listen=listen,
        port=running.port,
        config=config.source,
        policies=len(config.policies),
        scorer=type(engine.scorer).__name__,
        model=engine.scorer.model.path if isinstance(engine.scorer, OnnxScorer) else "",
    )
    if admin is not None:
        log.info("admin_listening", port=admin.port, auth=bool(args.admin_token), open=list(config.admin.open_paths))
    if args.ready_file:
        write_ready_file(Path(args.ready_file), running.port, admin_port=admin.port if admin else None)
    try:
        await serve_until_signal(running, grace=args.shutdown_grace, drain_delay=args.drain_delay)
    finally:  # the decisions of in-flight requests are recorded by now: write what the interval still holds
        flushing.cancel()
        decision_log.flush()
        if alerts is not None:  # before the last batch: a delivery ending now is saved as delivered, or as pending
            await alerts.stop()
        if persister is not None:
            await persister.stop()
        if admin is not None:
            await admin.stop()


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the ext_proc processor only, for an existing Envoy (with `--workers N`, N of them on consecutive ports)."""
    host, port = _split_host_port(args.listen, "--listen")
    config = load_config(args.config)
    admin = None
    args.admin_token = ""
    if args.admin_listen:
        from botwall.edge.admin import admin_token, check_admin_address

        admin = _split_host_port(args.admin_listen, "--admin-listen")
        args.admin_token = admin_token(args.admin_token_file)
        check_admin_address(admin[0], args.admin_token)
        if admin[1] and admin[1] + args.workers - 1 > 65535:
            _usage_error(f"--workers {args.workers} from admin port {admin[1]} runs past port 65535")
        clash = set(range(port, port + args.workers)) & set(range(admin[1], admin[1] + args.workers))
        if admin[1] and port and clash:
            _usage_error(f"--admin-listen: port {min(clash)} is also a gRPC port (--listen, --workers)")
    if args.workers > 1:
        from botwall.edge.workers import WorkerOptions, serve_workers

        options = WorkerOptions(
            host, port, args.workers, args.config, args.drain_delay, args.shutdown_grace,
            Path(args.ready_file) if args.ready_file else None, admin, args.admin_token_file, args.state_dir,
            args.state_retention_days,
        )  # fmt: skip
        if port and port + args.workers - 1 > 65535:
            _usage_error(f"--workers {args.workers} from port {port} runs past port 65535")
        for worker_port in options.ports():
            _check_bindable(host, worker_port, "--listen")
        for admin_port in options.admin_ports():
            _check_bindable(options.admin[0], admin_port, "--admin-listen")  # type: ignore[index]
        return serve_workers(options, config)
    _check_bindable(host, port, "--listen")
    if admin is not None:
        _check_bindable(*admin, "--admin-listen")
    if args.state_url:  # a worker of `--workers N`: the supervisor's private Redis
        config = replace(config, state=replace(config.state, backend="redis", redis=RedisSettings(url=args.state_url)))
    engine = _engine(config)
    asyncio.run(_serve(engine, args))
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    """Envoy + botwall + an upstream (the demo shop unless --upstream), until Ctrl-C."""
    _need_lab("up")
    from botwall.lab.up import UpOptions, parse_upstream, run_up

    http = _split_host_port(args.listen, "--listen")
    tls = _split_host_port(args.tls_listen, "--tls-listen") if args.tls_listen else None
    if args.upstream:
        parse_upstream(args.upstream)
    if tls is not None and tls[1] != 0 and tls[1] == http[1]:
        _usage_error(f"--listen and --tls-listen name the same port, {http[1]}")
    _check_bindable(*http, "--listen")
    if tls is not None:
        _check_bindable(*tls, "--tls-listen")
    admin = _split_host_port(args.admin_listen, "--admin-listen")
    from botwall.edge.admin import admin_token, check_admin_address

    token = admin_token(args.admin_token_file)
    check_admin_address(admin[0], token)
    _check_bindable(*admin, "--admin-listen")
    engine = _engine(load_config(args.config))
    options = UpOptions(
        engine=engine,
        config_path=args.config,
        http=http,
        tls=tls,
        upstream=args.upstream,
        trusted_hops=args.trusted_hops,
        fail_closed=args.fail_closed,
        workdir=Path(args.workdir or tempfile.mkdtemp(prefix="botwall-up-")),
        admin=admin,
        admin_token=token,
    )
    return asyncio.run(run_up(options))


def cmd_envoy_config(args: argparse.Namespace) -> int:
    """Print the Envoy pieces (or a whole standalone config) that put botwall in front of an upstream."""
    from botwall.deploy.envoy_config import BootstrapOptions, EnvoyConfigOptions, render

    botwall = _split_host_port(args.botwall_address, "--botwall-address")
    if botwall[1] + args.botwall_workers - 1 > 65535:
        _usage_error(f"--botwall-workers {args.botwall_workers} from port {botwall[1]} runs past port 65535")
    options = EnvoyConfigOptions(
        botwall=botwall,
        botwall_workers=args.botwall_workers,
        fail_closed=args.failure_mode == "closed",
        message_timeout=args.message_timeout,
        login_routes=tuple(args.login_route),
        health_routes=tuple(args.health_route),
        tls=args.tls,
    )
    where = BootstrapOptions(
        listen=_split_host_port(args.listen, "--listen"),
        upstream=_split_host_port(args.upstream, "--upstream"),
        admin=_split_host_port(args.admin, "--admin"),
        tls_listen=_split_host_port(args.tls_listen, "--tls-listen"),
        tls_cert=Path(args.tls_cert),
        tls_key=Path(args.tls_key),
        trusted_hops=args.trusted_hops,
    )
    sys.stdout.write(render(options, args.form, where))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """Play a seeded scenario of simulated traffic through the engine; write labelled records, print a summary."""
    _need_lab("simulate")
    import json

    from botwall.lab.simulate import Scenario, simulate, summarize, training_config

    config = load_config(args.config)
    if args.no_policies:
        config = training_config(config)
    scenario = Scenario(seed=args.seed, duration=args.duration).scaled(args.scale)
    records = simulate(scenario, config)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            for r in records:
                row = {
                    "t": round(r.t, 3),
                    "persona": r.labels.persona,
                    "campaign": r.labels.campaign,
                    "session": r.labels.session,
                    "is_bot": r.labels.is_bot,
                    "intent": r.labels.intent,
                    "method": r.method,
                    "path": r.path,
                    "ip": r.ip,
                    "status": r.status,
                    "action": r.action,
                    "score": r.score,
                    "reasons": list(r.reasons),
                }
                if args.features:
                    row["features"] = r.features
                out.write(json.dumps(row) + "\n")
    print(summarize(records))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Train the confidence model on simulated traffic and write it with its model card."""
    _need_lab("train")
    try:
        from botwall.lab.training import TrainOptions, train
    except ImportError as exc:
        raise UsageError(f"training needs the [train] extras (pip install 'botwall[train]'): {exc}") from None
    train(TrainOptions(out_dir=Path(args.out), scale=args.scale), load_config(args.config))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate a model on held-out seeds and personas, against the targets, next to the rule scorer."""
    _need_lab("eval")
    from botwall.lab.evaluation import markdown, run_eval

    print(markdown(run_eval(Path(args.model), Path(args.out) if args.out else None, args.scale)))
    return 0


def _add_check_config(sub: Any) -> None:
    """The `check-config` command's arguments."""

    check = sub.add_parser("check-config", help="validate a config file")
    check.add_argument("file")
    check.set_defaults(func=cmd_check_config)


def _add_serve(sub: Any) -> None:
    """The `serve` command's arguments."""
    serve = sub.add_parser("serve", help="run the ext_proc processor (for an existing Envoy)")
    serve.add_argument("--config", help="YAML config (default: the embedded defaults)")
    serve.add_argument(
        "--listen",
        default=os.environ.get("BOTWALL_LISTEN", "127.0.0.1:9191"),
        help="gRPC address HOST:PORT (default 127.0.0.1:9191, or $BOTWALL_LISTEN)",
    )
    serve.add_argument(
        "--ready-file", help='write {"port": N} here once serving, with --workers also "ports": [...] (for supervisors)'
    )
    serve.add_argument(
        "--drain-delay",
        type=_seconds,
        default=os.environ.get("BOTWALL_DRAIN_DELAY", "5"),
        help="on SIGTERM or SIGINT, seconds for which gRPC health says NOT_SERVING while every new stream is still "
        "judged, so that Envoy and Kubernetes stop sending first; a second signal ends it (default 5, or "
        "$BOTWALL_DRAIN_DELAY)",
    )
    serve.add_argument(
        "--shutdown-grace",
        type=_seconds,
        default=os.environ.get("BOTWALL_SHUTDOWN_GRACE", "10"),
        help="after the drain delay, seconds in-flight streams get to finish while new ones are refused (default 10, "
        "or $BOTWALL_SHUTDOWN_GRACE)",
    )
    serve.add_argument(
        "--workers",
        type=_workers,
        default=os.environ.get("BOTWALL_WORKERS", "1"),
        help="processes to judge with, one per core, on consecutive ports from --listen's (Envoy's cluster lists "
        "each: `botwall envoy-config --botwall-workers N`); they share state through Redis (state.backend: redis, "
        "or a private redis-server when state is in memory) (default 1, or $BOTWALL_WORKERS)",
    )
    serve.add_argument(
        "--admin-listen",
        default=os.environ.get("BOTWALL_ADMIN_LISTEN", ""),
        help="the admin listener HOST:PORT: /healthz, /readyz, Prometheus /metrics (off unless set, or "
        "$BOTWALL_ADMIN_LISTEN; with --workers, one per worker on consecutive ports); without an admin token "
        "(BOTWALL_ADMIN_TOKEN or --admin-token-file) only a loopback address",
    )
    serve.add_argument("--admin-token-file", help="a file holding the admin listener's bearer token")
    serve.add_argument(
        "--state-dir",
        default=os.environ.get("BOTWALL_STATE_DIR", ""),
        help="keep what the admin API shows (discovery, accounts, campaigns) across restarts in SQLite files here "
        "(one per worker; default: in memory only, or $BOTWALL_STATE_DIR)",
    )
    serve.add_argument(
        "--state-retention-days",
        type=float,
        default=30.0,
        help="forget saved endpoints, accounts and campaigns not seen for this many days (default 30)",
    )
    serve.add_argument("--alert-interval", type=float, default=5.0, help=argparse.SUPPRESS)  # tests: faster checks
    serve.add_argument("--state-url", help=argparse.SUPPRESS)  # set by --workers for its workers
    serve.set_defaults(func=cmd_serve)


def _add_up(sub: Any) -> None:
    """The `up` command's arguments."""
    up = sub.add_parser("up", help="start Envoy + botwall + an upstream on this machine")
    up.add_argument(
        "--listen", default="127.0.0.1:8080", help="Envoy's HTTP listener HOST:PORT (default 127.0.0.1:8080)"
    )
    up.add_argument(
        "--tls-listen",
        default=None,
        help="also serve HTTPS (self-signed certificate, JA4/JA3 fingerprints) on HOST:PORT",
    )
    up.add_argument("--upstream", help="upstream URL, http://HOST:PORT (default: the built-in demo shop)")
    up.add_argument("--config", help="YAML config (default: the embedded defaults)")
    up.add_argument(
        "--trusted-hops",
        type=int,
        default=0,
        help="proxies in front of Envoy whose X-Forwarded-For entries are trusted (default 0)",
    )
    up.add_argument(
        "--fail-closed",
        action="store_true",
        help="answer 500/504 when botwall is down or slow, instead of letting requests through",
    )
    up.add_argument("--workdir", help="where rendered configs and logs go (default: a new temporary directory)")
    up.add_argument(
        "--admin-listen",
        default="127.0.0.1:0",
        help="the admin listener HOST:PORT: the dashboard, the admin API, /metrics (default: a free loopback port); "
        "beyond loopback it needs an admin token (BOTWALL_ADMIN_TOKEN or --admin-token-file)",
    )
    up.add_argument("--admin-token-file", help="a file holding the admin listener's bearer token")
    up.set_defaults(func=cmd_up)


def _add_envoy_config(sub: Any) -> None:
    """The `envoy-config` command's arguments."""
    envoy = sub.add_parser("envoy-config", help="print the Envoy config that puts botwall in front of an upstream")
    envoy.add_argument(
        "--form",
        choices=["snippet", "bootstrap"],
        default="snippet",
        help="snippet: pieces for an existing Envoy (default); bootstrap: a complete standalone Envoy config",
    )
    envoy.add_argument("--botwall-address", default="127.0.0.1:9191", help="botwall's HOST:PORT (IP or DNS name)")
    envoy.add_argument(
        "--botwall-workers",
        type=_workers,
        default=1,
        help="botwall serve's --workers: one endpoint per worker, on consecutive ports from --botwall-address's "
        "(default 1)",
    )
    envoy.add_argument(
        "--failure-mode",
        choices=["open", "closed"],
        default="open",
        help="open: requests pass when botwall is down or slow (default); closed: Envoy answers 500/504",
    )
    envoy.add_argument("--message-timeout", default="250ms", help="Envoy's wait for each botwall answer (250ms)")
    envoy.add_argument(
        "--login-route", action="append", default=[], metavar="PATH", help="exact path whose request body botwall sees"
    )
    envoy.add_argument(
        "--health-route", action="append", default=[], metavar="PATH", help="exact path that skips botwall"
    )
    envoy.add_argument("--tls", action="store_true", help="add the TLS JA4/JA3 fingerprint pieces")
    bootstrap = envoy.add_argument_group("bootstrap form only")
    bootstrap.add_argument("--listen", default="127.0.0.1:8080", help="HTTP listener HOST:PORT (127.0.0.1:8080)")
    bootstrap.add_argument("--upstream", default="127.0.0.1:8000", help="the protected upstream HOST:PORT")
    bootstrap.add_argument("--admin", default="127.0.0.1:9901", help="Envoy's admin HOST:PORT (127.0.0.1:9901)")
    bootstrap.add_argument("--tls-listen", default="127.0.0.1:8443", help="HTTPS listener HOST:PORT, with --tls")
    bootstrap.add_argument("--tls-cert", default="/etc/botwall/tls/cert.pem", help="certificate chain, with --tls")
    bootstrap.add_argument("--tls-key", default="/etc/botwall/tls/key.pem", help="private key, with --tls")
    bootstrap.add_argument(
        "--trusted-hops", type=int, default=0, help="proxies in front of Envoy whose X-Forwarded-For is trusted"
    )
    envoy.set_defaults(func=cmd_envoy_config)


def _add_simulate(sub: Any) -> None:
    """The `simulate` command's arguments."""
    sim = sub.add_parser("simulate", help="play seeded, labelled simulated traffic through the engine in-process")
    sim.add_argument("--seed", type=int, default=1, help="the scenario's seed: same seed, same traffic (default 1)")
    sim.add_argument("--scale", type=float, default=1.0, help="multiply the number of actors (default 1)")
    sim.add_argument("--duration", type=float, default=7200.0, help="simulated seconds (default 7200)")
    sim.add_argument("--config", help="YAML config whose login routes and policies apply (default: the embedded)")
    sim.add_argument("--no-policies", action="store_true", help="drop the policies: refuse nothing, observe all")
    sim.add_argument("--out", help="write one JSON line per request (labels, request, decision) to this file")
    sim.add_argument("--features", action="store_true", help="include each request's feature vector in --out")
    sim.set_defaults(func=cmd_simulate)


def _add_train(sub: Any) -> None:
    """The `train` command's arguments."""
    train = sub.add_parser("train", help="train the confidence model on simulated traffic (needs the [train] extras)")
    train.add_argument("--out", default="models", help="directory for botwall.onnx and model_card.json (models)")
    train.add_argument("--scale", type=float, default=1.0, help="multiply the simulated actors (default 1)")
    train.add_argument("--config", help="YAML config whose login routes and policies apply (default: the embedded)")
    train.set_defaults(func=cmd_train)


def _add_eval(sub: Any) -> None:
    """The `eval` command's arguments."""
    evaluate = sub.add_parser("eval", help="evaluate a model on held-out simulated traffic against the targets")
    evaluate.add_argument("--model", default="models/botwall.onnx", help="the ONNX model (models/botwall.onnx)")
    evaluate.add_argument("--out", default="models/eval.json", help="where the figures go (models/eval.json)")
    evaluate.add_argument("--scale", type=float, default=1.0, help="multiply the simulated actors (default 1)")
    evaluate.set_defaults(func=cmd_eval)


def cmd_event(args: argparse.Namespace) -> int:
    """List, start or stop events (event mode) on running botwalls, through their admin API (every worker named)."""
    import urllib.error
    import urllib.request

    from botwall.edge.admin import admin_token

    token = admin_token(args.admin_token_file)
    urls = args.admin or [os.environ.get("BOTWALL_ADMIN_URL", "http://127.0.0.1:9901")]
    if args.action != "list" and not args.name:
        _usage_error(f"botwall event {args.action} needs the event's name")
    body = {"by": args.by or os.environ.get("USER", "cli"), "why": args.why}
    if args.action == "start":
        body["minutes"] = args.minutes
    for url in urls:
        base = url.rstrip("/")
        if not base.startswith(("http://", "https://")):
            _usage_error(f"--admin {url}: an http:// or https:// URL")
        path = "/api/v1/events" if args.action == "list" else f"/api/v1/events/{args.name}/{args.action}"
        data = None if args.action == "list" else json.dumps(body).encode()
        request = urllib.request.Request(base + path, data=data, method="GET" if data is None else "POST")  # noqa: S310 - http(s) only, checked above
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - http(s) only
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            raise UsageError(f"{base}: {exc.code} {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise UsageError(f"{base}: cannot reach the admin listener: {getattr(exc, 'reason', exc)}") from None
        rows = answer["events"] if args.action == "list" else [answer["event"]]
        for row in rows:
            until = row["running_until"] or row["end"]
            when = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(until)) if until else "-"
            print(f"{base}  {row['name']:<24} {row['state']:<10} until {when:<21} {row['expected_rps']:g} rps")
    return 0


def _add_event(sub: Any) -> None:
    event = sub.add_parser("event", help="list, start or stop events (a drop, a sale) on running botwalls")
    event.add_argument("action", choices=("list", "start", "stop"))
    event.add_argument("name", nargs="?", help="the event (an `events:` entry, or one added through the API)")
    event.add_argument("--minutes", type=float, default=60.0, help="start: how long it runs (default 60)")
    event.add_argument("--why", default="", help="the reason, for the audit trail")
    event.add_argument("--by", default="", help="who asks, for the audit trail (default: $USER)")
    event.add_argument(
        "--admin",
        action="append",
        help="an admin listener's URL (repeat it for each worker or replica; default $BOTWALL_ADMIN_URL, else "
        "http://127.0.0.1:9901)",
    )
    event.add_argument("--admin-token-file", help="a file holding the admin token (default $BOTWALL_ADMIN_TOKEN)")
    event.set_defaults(func=cmd_event)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used by the tests)."""
    parser = argparse.ArgumentParser(prog="botwall", description="Server-side bot defence for Envoy.")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (
        _add_check_config,
        _add_serve,
        _add_up,
        _add_event,
        _add_envoy_config,
        _add_simulate,
        _add_train,
        _add_eval,
    ):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `botwall` command, and its one error boundary: every error botwall expects (a bad config,
    model, data file, option or local stack: `errors.BotwallError`) is one line on stderr and exit status 2."""
    args = build_parser().parse_args(argv)
    _configure_logging()
    try:
        code = args.func(args)
    except BotwallError as exc:
        print(f"botwall: {exc.what + ': ' if exc.what else ''}{exc}", file=sys.stderr)
        raise SystemExit(2) from None
    raise SystemExit(code)
