"""The ext_proc gRPC service: one `StreamProcessor` per stream, one method per phase.

`BotwallServicer.Process` alone owns receiving, sending and the end of a stream. Envoy ends most streams by
cancelling them and some by half-closing: both are normal ends. An unexpected error while judging a request (a bug:
input that no client should send is bounded and flagged before it can raise) is a decision too: the config's
`on_error` action, tagged and logged with the reason `err:internal` and counted, so a bug never turns into a silent
untagged pass, a spoofed tag or a stuck request.
"""

from __future__ import annotations

import asyncio
import bisect
import signal
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from botwall.edge import response as _response
from botwall.edge._ratelimit import TracebackLimiter
from botwall.edge.accounts import Accounts, Attempt
from botwall.edge.campaigns import Campaigns, Sighting
from botwall.edge.decision_log import DecisionLog
from botwall.edge.envoy_api import ProcessingRequest, ProcessingResponse, add_ExternalProcessorServicer_to_server
from botwall.edge.inventory import Endpoint, Inventory
from botwall.edge.transactions import Transactions
from botwall.engine import Engine, RequestContext
from botwall.evidence.credentials import LoginRoute
from botwall.evidence.transactions import Transaction, TransactionRoute, read_transaction
from botwall.policy import Decision
from botwall.request import ATTRIBUTES_KEY, RequestView, build_view

log = structlog.get_logger("botwall.edge.server")

SERVICE_NAME = "envoy.service.ext_proc.v3.ExternalProcessor"
SERVER_OPTIONS = [
    # Envoy multiplexes every stream over one HTTP/2 connection: allow plenty of concurrent streams.
    ("grpc.max_concurrent_streams", 10_000),
    # Never share a port with another process by accident.
    ("grpc.so_reuseport", 0),
]


TRAFFIC_MINUTES = 24 * 60  # the traffic series per minute for a day,
TRAFFIC_HOURS = 7 * 24  # then per hour for a week (minutes older than a day are folded into their hour)
_REASONS_PER_MINUTE = 200  # distinct reason codes counted per minute (codes come from the code: a safety bound)
RECENT = 10_000  # decisions kept for the admin API's search (about 5 MiB)

# Upper bounds, in seconds, of the buckets of the time botwall takes to judge a request (`botwall_decision_seconds`).
DECISION_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)


@dataclass
class Counters:
    """Process-wide counters: streams, decisions (by action; by action, verdict and enforcement; by policy), failed
    judgments by phase, and a histogram of judging time. Plain integers bumped on the request path, O(1) each; the
    admin listener's `/metrics` reads them when scraped."""

    streams: int = 0
    decisions: int = 0
    errors: int = 0
    by_action: dict[str, int] = field(default_factory=dict)
    by_outcome: dict[tuple[str, str, bool], int] = field(default_factory=dict)  # (action, verdict, enforced)
    by_policy: dict[str, int] = field(default_factory=dict)  # the config's policy names: bounded
    errors_by_phase: dict[str, int] = field(default_factory=dict)
    decision_buckets: list[int] = field(default_factory=lambda: [0] * (len(DECISION_BUCKETS) + 1))
    decision_seconds: float = 0.0
    # Requests per minute (epoch // 60) by (action, verdict), the last `TRAFFIC_MINUTES`, and per hour (epoch // 3600)
    # before that, the last `TRAFFIC_HOURS`; reason codes the same way (the admin API's series and the dashboard).
    traffic: dict[int, dict[tuple[str, str], int]] = field(default_factory=dict)
    traffic_hours: dict[int, dict[tuple[str, str], int]] = field(default_factory=dict)
    reasons: dict[int, dict[str, int]] = field(default_factory=dict)
    reason_hours: dict[int, dict[str, int]] = field(default_factory=dict)
    # The last `RECENT` decisions, newest last (the admin API's search): (time, address, fingerprint, username,
    # method, path, action, verdict, score, reasons, policy, shadow).
    recent: deque[tuple[Any, ...]] = field(default_factory=lambda: deque(maxlen=RECENT))
    # Failed logins and refusals per 10 seconds (epoch // 10), the last hour: what alert triggers read.
    failed_logins: dict[int, int] = field(default_factory=dict)
    mitigations: dict[int, int] = field(default_factory=dict)

    @staticmethod
    def bump(series: dict[int, int], now: float) -> None:
        """Count one event in a 10-second series, dropping buckets past the hour."""
        bucket = int(now // 10)
        if bucket not in series:
            for old in [b for b in series if b <= bucket - 360]:
                del series[old]
        series[bucket] = series.get(bucket, 0) + 1

    def traffic_minute(self, now: float, action: str, verdict: str, reasons: tuple[str, ...] = ()) -> None:
        """Count one decision (and its first reason codes) in the per-minute series."""
        minute = int(now // 60)
        counts = self.traffic.get(minute)
        if counts is None:
            counts = self.traffic[minute] = {}
            self.reasons.setdefault(minute, {})
            self._fold(minute)
        key = (action, verdict)
        counts[key] = counts.get(key, 0) + 1
        if reasons:
            codes = self.reasons[minute]
            for code in reasons[:8]:
                if code in codes or len(codes) < _REASONS_PER_MINUTE:
                    codes[code] = codes.get(code, 0) + 1

    def _fold(self, minute: int) -> None:
        """Once a minute: minutes older than a day join their hour; hours older than a week go."""
        for series, hours in ((self.traffic, self.traffic_hours), (self.reasons, self.reason_hours)):
            for old in [m for m in series if m <= minute - TRAFFIC_MINUTES]:
                into: dict[Any, int] = hours.setdefault(old // 60, {})
                for key, n in series.pop(old).items():
                    into[key] = into.get(key, 0) + n
            for old in [h for h in hours if h <= minute // 60 - TRAFFIC_HOURS]:
                del hours[old]

    def traffic_series(
        self, since: float, step: int, now: float
    ) -> tuple[list[tuple[int, dict[tuple[str, str], int]]], dict[str, int]]:
        """Requests by (action, verdict) in buckets of `step` seconds (a multiple of 60; 3600 or more reads the hours
        too) from `since` to `now`, oldest first, every bucket present; and the reason codes counted over the span."""
        first, last = int(since // step) * step, int(now // step) * step
        buckets: dict[int, dict[tuple[str, str], int]] = {t: {} for t in range(first, last + 1, step)}
        reasons: dict[str, int] = {}
        sources: list[tuple[int, dict[int, dict[Any, int]], dict[int, dict[str, int]]]] = [
            (60, self.traffic, self.reasons)
        ]
        if step >= 3600:
            sources.append((3600, self.traffic_hours, self.reason_hours))
        for width, series, codes in sources:
            for unit, counts in series.items():
                t = unit * width // step * step
                into = buckets.get(t)
                if into is None:
                    continue
                for key, n in counts.items():
                    into[key] = into.get(key, 0) + n
                for code, n in codes.get(unit, {}).items():
                    reasons[code] = reasons.get(code, 0) + n
        return sorted(buckets.items()), reasons

    def timed(self, seconds: float) -> None:
        """Count one judgment's duration in the histogram."""
        self.decision_buckets[bisect.bisect_left(DECISION_BUCKETS, seconds)] += 1
        self.decision_seconds += seconds


def _attributes(request: ProcessingRequest) -> dict[str, str]:
    """Flatten the ext_proc attributes to strings; they arrive only on the first message of a direction."""
    if ATTRIBUTES_KEY not in request.attributes:
        return {}
    out: dict[str, str] = {}
    for key, value in request.attributes[ATTRIBUTES_KEY].fields.items():
        kind = value.WhichOneof("kind")
        if kind == "string_value":
            out[key] = value.string_value
        elif kind == "number_value":
            out[key] = repr(value.number_value)
    return out


# What the decision log names when even the request's headers could not be read.
_UNREADABLE = RequestView(method="", scheme="", authority="", path="", query="", headers=(), client_ip="")


class StreamProcessor:
    """Handles the messages of one HTTP request's stream."""

    __slots__ = (
        "_accounts", "_campaigns", "_context", "_counters", "_decision_log", "_endpoint", "_engine", "_inventory",
        "_pending", "_tracebacks", "_transactions", "_view", "decision",
    )  # fmt: skip

    def __init__(
        self,
        engine: Engine,
        decision_log: DecisionLog,
        counters: Counters,
        tracebacks: TracebackLimiter,
        inventory: Inventory | None = None,
        accounts: Accounts | None = None,
        campaigns: Campaigns | None = None,
        transactions: Transactions | None = None,
    ) -> None:
        self._engine = engine
        self._accounts = accounts
        self._transactions = transactions
        self._campaigns = campaigns
        self._view: RequestView | None = None  # a login's, for its account's record when its outcome is known
        self._decision_log = decision_log
        self._counters = counters
        self._tracebacks = tracebacks
        self._inventory = inventory
        self._endpoint: Endpoint | None = None  # where discovery counted the request (its response's status too)
        # A request whose body botwall asked for: a login's credentials, a transaction's fields, or both.
        self._pending: tuple[RequestView, LoginRoute | None, TransactionRoute | None] | None = None
        self._context: RequestContext | None = None
        self.decision: Decision | None = None

    @property
    def finished(self) -> bool:
        """Nothing more to answer: the request was refused (Envoy sends nothing after an immediate response), or
        its response tells botwall nothing (`Engine.reads_response`), so the server ends the stream and Envoy lets
        the response through without asking."""
        if self.decision is None:
            return False
        return self.decision.mitigates or (self._context is not None and not self._engine.reads_response(self._context))

    def _count(self, decision: Decision) -> None:
        c = self._counters
        c.decisions += 1
        c.by_action[decision.action] = c.by_action.get(decision.action, 0) + 1
        outcome = (decision.action, decision.verdict, decision.enforced)
        c.by_outcome[outcome] = c.by_outcome.get(outcome, 0) + 1
        if decision.policy:
            c.by_policy[decision.policy] = c.by_policy.get(decision.policy, 0) + 1

    def _decided(self, decision: Decision, context: RequestContext, view: RequestView) -> Decision:
        """Count and record a decision; a transaction's gains its client's campaign and is recorded as one."""
        self.decision = decision
        self._context = context
        self._count(decision)
        now = time.time()
        counters = self._counters
        counters.traffic_minute(now, decision.action, decision.verdict, decision.reasons)
        if decision.mitigates:
            counters.bump(counters.mitigations, now)
        login = context.login
        counters.recent.append(
            (
                now, view.client_ip, decision.fingerprint, login.username if login is not None else "",
                view.method[:16], view.path[:256], decision.action, decision.verdict, decision.score, decision.reasons,
                decision.policy, decision.shadow,
            )
        )  # fmt: skip
        self._decision_log.record(decision, view, context.login)
        if self._inventory is not None:
            self._endpoint = self._inventory.record(
                view.authority, view.method, view.path, view.query, context.kind, decision
            )
        if self._campaigns is not None and Campaigns.counts(decision):
            self._campaign_sighting(view, context, decision)
        if self._accounts is not None and context.login is not None and context.login.username:
            if decision.mitigates:  # botwall answered it: the site never saw it
                self._account_attempt("refused", view, context, decision)
            else:
                self._view = view
        if decision.transaction and self._transactions is not None:
            if self._campaigns is not None:
                decision = self.decision = replace(decision, campaign=self._campaigns.campaign_of(decision.fingerprint))
            self._transactions.record(decision, view)
        return decision

    def _campaign_sighting(self, view: RequestView, context: RequestContext, decision: Decision) -> None:
        if self._campaigns is None:
            return
        ip = context.ip_info
        login = context.login
        sighting = Sighting(
            decision,
            view.client_ip,
            view.header("user-agent"),
            ip.asn if ip is not None else 0,
            ip.as_org if ip is not None else "",
            ip.country if ip is not None else "",
            ip.network if ip is not None else "",
            self._endpoint.template if self._endpoint is not None else view.path,
            login.username if login is not None else "",
            login is not None and (login.common_password or "cred:breached-password" in decision.reasons),
            context.token_id,
        )
        self._campaigns.record(sighting)

    def _account_attempt(self, outcome: str, view: RequestView, context: RequestContext, decision: Decision) -> None:
        if self._accounts is None or context.login is None:
            return
        attempt = Attempt(
            context.login.username, outcome, view.client_ip, context.ip_info.asn if context.ip_info else 0,
            decision.fingerprint, decision,
            context.login.common_password,
        )  # fmt: skip
        self._accounts.attempt(attempt)

    def on_request_headers(self, request: ProcessingRequest) -> ProcessingResponse:
        """Score the request and tag it or answer it directly; on a login route, first ask for the body."""
        started = time.perf_counter()
        answer = self._request_headers(request)
        if self.decision is not None:
            self._counters.timed(time.perf_counter() - started)
        return answer

    def _request_headers(self, request: ProcessingRequest) -> ProcessingResponse:
        message = request.request_headers
        headers = [(h.key, h.raw_value.decode("latin-1")) for h in message.headers.headers]
        sent_tags = _response.client_tags(name for name, _ in headers)
        view: RequestView | None = None
        try:
            envoy = self._engine.config.envoy
            view = build_view(headers, _attributes(request), envoy.ja4_header, envoy.ja3_header)
            engine = self._engine
            route = engine.login_route(view)
            operation = engine.transaction_route(view) if engine.config.transactions else None
            if (route is not None or (operation is not None and operation.fields)) and not message.end_of_stream:
                self._pending = (view, route, operation)
                return _response.await_body(sent_tags)
            # A transaction without a body to read: its fields, if it has any, were not sent.
            transaction = Transaction(operation.name, parsed=not operation.fields) if operation is not None else None
            decision, context = engine.evaluate(view, route, None, transaction)
        except Exception:
            decision = self._failed("request_headers", view)
            return _response.request_headers_response(decision, sent_tags)
        decision = self._decided(decision, context, view)
        return _response.request_headers_response(decision, sent_tags)

    def on_request_body(self, request: ProcessingRequest) -> ProcessingResponse:
        """Read the credentials of a login request and decide on it."""
        started = time.perf_counter()
        answer = self._request_body(request)
        if self.decision is not None:
            self._counters.timed(time.perf_counter() - started)
        return answer

    def _request_body(self, request: ProcessingRequest) -> ProcessingResponse:
        if self._pending is None:
            return _response.passthrough_for("request_body")
        view, route, operation = self._pending
        self._pending = None
        try:
            engine = self._engine
            body, content_type = request.request_body.body, view.header("content-type")
            attempt = engine.logins.read_login(route, content_type, body) if route is not None else None
            transaction = None
            if operation is not None:
                transaction = read_transaction(operation, content_type, body, engine.keys)
            decision, context = engine.evaluate(view, route, attempt, transaction)
        except Exception:
            return _response.request_body_response(self._failed("request_body", view))
        decision = self._decided(decision, context, view)
        return _response.request_body_response(decision)

    def _failed(self, phase: str, view: RequestView | None) -> Decision:
        """A request botwall failed to judge still gets a decision (the config's `on_error`), tags and a log line."""
        self._counters.errors += 1
        self._counters.errors_by_phase[phase] = self._counters.errors_by_phase.get(phase, 0) + 1
        self._tracebacks.exception(log, f"{phase}_failed")
        decision = self._engine.failed(view)
        self.decision = decision
        self._count(decision)
        self._decision_log.record(decision, view if view is not None else _UNREADABLE)
        return decision

    def on_response_headers(self, request: ProcessingRequest) -> ProcessingResponse:
        """Record the outcome (status, login success or failure, new session) in the client's windows, and hand a
        page's client botwall's cookie if it has none."""
        set_cookie = ""
        if self._context is not None:
            try:
                status = 0
                cookies = []
                cache_control = ""
                for h in request.response_headers.headers.headers:
                    if h.key == ":status":
                        status = int(h.raw_value) if h.raw_value.isdigit() else 0
                    elif h.key == "set-cookie":
                        cookies.append(h.raw_value.decode("latin-1"))
                    elif h.key == "cache-control":
                        cache_control = h.raw_value.decode("latin-1")
                outcome = self._engine.record_response(self._context, status, cookies)
                if outcome == "failure":
                    self._counters.bump(self._counters.failed_logins, time.time())
                if self._endpoint is not None and self._inventory is not None:
                    self._inventory.status(self._endpoint, status)
                if self._view is not None and self.decision is not None:
                    self._account_attempt(outcome, self._view, self._context, self.decision)
                set_cookie = self._engine.response_cookie(self._context, status, cache_control)
            except Exception:
                self._counters.errors += 1
                phases = self._counters.errors_by_phase
                phases["response_headers"] = phases.get("response_headers", 0) + 1
                self._tracebacks.exception(log, "response_headers_failed")
        return _response.continue_response_headers(set_cookie)


class BotwallServicer:
    """The `ExternalProcessor` service."""

    def __init__(self, engine: Engine, decision_log: DecisionLog, inventory: Inventory | None = None) -> None:
        self.engine = engine
        self.decision_log = decision_log
        self.counters = Counters()
        self.inventory = inventory if inventory is not None else Inventory()  # endpoint discovery (the admin API)
        # Usernames tried on login routes, and suspect or refused traffic by client software (the admin API).
        self.accounts = Accounts(keys=engine.keys)
        self.campaigns = Campaigns(keys=engine.keys)
        # Transactions judged (`config.transactions`): the decision log's lines, the last ones, the webhooks'.
        routes = engine.config.transactions
        self.transactions = Transactions(decision_log.transaction, {r.name: r.review_from for r in routes})
        # An error every request of an attack can trigger must not flood stderr: a few tracebacks a minute per phase.
        self.tracebacks = TracebackLimiter()

    async def Process(  # noqa: N802 - the gRPC method name
        self, request_iterator: AsyncIterator[ProcessingRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[ProcessingResponse]:
        """Answer each message of one stream with exactly one response, and end the stream after the last one.

        The last is the response-headers answer (botwall asks for no response body or trailers), an immediate
        response (Envoy sends nothing after one), or the request's answer when its response tells botwall nothing
        (`StreamProcessor.finished`: a processor may close the stream at any time, and Envoy then passes the rest of
        the exchange on without it). Ending the stream there, with an OK status, instead of reading on
        until Envoy cancels it, matters: grpc.aio leaks about 100 bytes of native memory for every stream cancelled
        while a read is pending (grpc/grpc#43360), 11 MiB per 100,000 requests through Envoy, never freed.
        """
        self.counters.streams += 1
        processor = StreamProcessor(
            self.engine, self.decision_log, self.counters, self.tracebacks, self.inventory, self.accounts,
            self.campaigns, self.transactions,
        )  # fmt: skip
        async for request in request_iterator:
            kind = request.WhichOneof("request")
            if kind == "request_headers":
                yield processor.on_request_headers(request)
            elif kind == "response_headers":
                yield processor.on_response_headers(request)
                return
            elif kind == "request_body":
                yield processor.on_request_body(request)
            else:
                # Bodies and trailers are only sent when a route asks for them; pass them through unchanged.
                yield _response.passthrough_for(kind)
            if processor.finished:
                return


@dataclass
class RunningServer:
    """A started gRPC server, its bound port and its health service."""

    server: grpc.aio.Server
    port: int
    servicer: BotwallServicer
    health: health.aio.HealthServicer
    serving: bool = True  # until the drain starts (the admin listener's /readyz)

    async def drain(self, delay: float, cut_short: asyncio.Event | None = None) -> None:
        """Report NOT_SERVING to gRPC health at once, and keep judging every new stream for `delay` seconds (or until
        `cut_short` is set): time for Kubernetes to take this pod out of its Service, and for Envoy (re-resolving it, or
        through an active gRPC health check) to stop sending here, before new streams are refused."""
        self.serving = False
        await self.health.enter_graceful_shutdown()
        if delay > 0:
            wake = asyncio.ensure_future((cut_short or asyncio.Event()).wait())
            await asyncio.wait([wake], timeout=delay)
            wake.cancel()

    async def stop(self, grace: float = 5.0) -> None:
        """Turn health to NOT_SERVING, refuse new streams, let in-flight ones finish for up to `grace` seconds, then
        push what the store holds for the other replicas."""
        self.serving = False
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        await self.servicer.engine.store.close()


async def start_server(engine: Engine, decision_log: DecisionLog, address: str) -> RunningServer:
    """Start the service on `address` (`host:port`, port 0 for an ephemeral one) and mark it SERVING."""
    server = grpc.aio.server(options=SERVER_OPTIONS)
    servicer = BotwallServicer(engine, decision_log)
    add_ExternalProcessorServicer_to_server(servicer, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    try:
        port = server.add_insecure_port(address)
    except RuntimeError:  # grpcio raises for an address it cannot bind (in use, not local); older releases return 0
        port = 0
    if port == 0:
        raise OSError(f"cannot listen on {address}")
    await engine.store.start()  # a shared store's sync with the other replicas (it never waits for Redis)
    await server.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(server, port, servicer, health_servicer)


async def serve_until_signal(
    running: RunningServer,
    grace: float = 10.0,
    on_stop: Callable[[], None] | None = None,
    drain_delay: float = 0.0,
) -> None:
    """Serve until SIGTERM or SIGINT, then drain without a gap: NOT_SERVING at once while new streams are still
    judged for `drain_delay` seconds (a second signal ends that wait), then new streams are refused and in-flight ones
    get up to `grace` seconds."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    hurry = asyncio.Event()

    def on_signal() -> None:
        (hurry if stop.is_set() else stop).set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    await stop.wait()
    log.info("draining", drain_delay_seconds=drain_delay, grace_seconds=grace)
    if on_stop is not None:
        on_stop()
    await running.drain(drain_delay, hurry)
    log.info("shutting_down", grace_seconds=grace)
    await running.stop(grace)
