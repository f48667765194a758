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
import hashlib
import os
import signal
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from botwall.config import Action
from botwall.deception.book import BODY, NONE, Deception, EndpointKey, session_cookie
from botwall.deception.shapes import Observed
from botwall.edge import response as _response
from botwall.edge._ratelimit import TracebackLimiter
from botwall.edge.accounts import Accounts, Attempt
from botwall.edge.campaigns import Campaigns, Sighting
from botwall.edge.decision_log import DecisionLog
from botwall.edge.delays import PreciseDelays
from botwall.edge.envoy_api import ProcessingRequest, ProcessingResponse, add_ExternalProcessorServicer_to_server
from botwall.edge.inventory import Endpoint, Inventory
from botwall.edge.transactions import Transactions
from botwall.engine import Engine, RequestContext
from botwall.evidence.credentials import LoginRoute
from botwall.evidence.transactions import Transaction, TransactionRoute, read_transaction
from botwall.policy import Decision
from botwall.request import ATTRIBUTES_KEY, RequestView, build_view
from botwall.state.tokens import SECRET_ENV, CookieSigner

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
        "_accounts", "_arrived", "_campaigns", "_client", "_context", "_counters", "_deception", "_decision_log",
        "_endpoint", "_engine", "_inventory", "_observed", "_path", "_pending", "_sample", "_tracebacks",
        "_transactions", "_view", "decision", "delay",
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
        deception: Deceiver | None = None,
    ) -> None:
        self._engine = engine
        self._deception = deception
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
        self._sample = NONE  # how much of the answer `botwall.deception` learns from (a person's request only)
        self._path = ""  # the request's path (a sampled JSON answer's values that repeat its segments)
        self._client = 0  # a sampled answer's client: the keyed hash of its botwall cookie, else of its address
        # When the request (its body, for a login) reached botwall: a sampled answer's latency runs from there to its
        # response, and a fake answer goes that long after its request arrived (judging and drawing it included).
        self._arrived = 0.0
        self._observed: Observed | None = None  # a sampled answer waiting for its body
        self.delay = 0.0  # seconds to wait before sending a fake answer (the upstream's learned latency)

    @property
    def finished(self) -> bool:
        """Nothing more to answer: the request was refused (Envoy sends nothing after an immediate response), or
        its response tells botwall nothing (`Engine.reads_response`), so the server ends the stream and Envoy lets
        the response through without asking."""
        if self.decision is None:
            return False
        if self.decision.mitigates:
            return True
        return not self._sample and self._context is not None and not self._engine.reads_response(self._context)

    @property
    def awaiting_body(self) -> bool:
        """The response's body was asked for (a sample) and has not arrived yet."""
        return self._observed is not None

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
        self._path = view.path
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
                trapped = decision.action is Action.DECEIVE and bool(context.route and context.route.success_cookie)
                self._account_attempt("trapped" if trapped else "refused", view, context, decision)
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
        started = self._arrived = time.perf_counter()
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
                # A login's answer is read anyway (its outcome); its body is sampled here or never.
                key = self._inventory.key(view.authority, view.method, view.path) if self._inventory else None
                self._sample = self._wants(key, view.client_ip, view.path)
                return _response.await_body(sent_tags, sample_body=self._sample == BODY)
            # A transaction without a body to read: its fields, if it has any, were not sent.
            transaction = Transaction(operation.name, parsed=not operation.fields) if operation is not None else None
            decision, context = engine.evaluate(view, route, None, transaction)
            decision = self._trapped(decision, view)
        except Exception:
            decision = self._failed("request_headers", view)
            return _response.request_headers_response(decision, sent_tags)
        decision = self._decided(decision, context, view)
        if decision.mitigates and decision.action is Action.DECEIVE:
            return self._deceive(decision, context, view)
        answer = _response.request_headers_response(decision, sent_tags)
        if _learns_from(decision, self._engine.config.thresholds.suspect):
            self._sample = self._wants(self._key(), context.token_id or view.client_ip, view.path)
            if self._sample == BODY:
                answer = _response.with_response_body(answer)
        return answer

    def _wants(self, key: EndpointKey | None, client: str, path: str) -> int:
        if self._deception is None or key is None:
            return NONE
        self._client = self._engine.keys(client)
        return self._deception.wants(key, self._client, path)

    def _key(self) -> EndpointKey | None:
        e = self._endpoint
        return (e.host, e.method, e.template) if e is not None else None

    def _trapped(self, decision: Decision, view: RequestView) -> Decision:
        """A request presenting a fake session botwall handed out is the trapped client: kept in the trap."""
        deception = self._deception
        if deception is None or not deception.session_names:
            return decision
        # Another process's traps (the store's marks) only for a client whose own evidence is against it already:
        # asking costs a key in the next sync round, and every logged-in person presents a session.
        shared = decision.own >= self._engine.config.thresholds.suspect
        trap = deception.trapped(view.header("cookie"), deception.session_names, shared)
        if trap is None:
            return decision
        return replace(
            decision, action=Action.DECEIVE, enforced=True, shadow=False, policy=trap.policy, deceive=trap.spec,
            reasons=(*decision.reasons, TRAP_REASON),
        )  # fmt: skip

    def _deceiver(self) -> Deceiver:
        assert self._deception is not None
        return self._deception

    def _deceive(self, decision: Decision, context: RequestContext, view: RequestView) -> ProcessingResponse:
        """A deceive decision's answer: a fake drawn from the endpoint's learned shape, else the policy's static one;
        on a login, a fake success whose session is remembered as a trap."""
        spec = decision.deceive
        assert spec is not None
        deceiver = self._deceiver()
        key = self._key()
        route, login = context.route, context.login
        opened = route is not None and login is not None and bool(login.username) and bool(route.success_cookie)
        statuses = tuple(route.success_status) if opened and route is not None else ()
        fake = None
        if spec.learn:
            seed = deceiver.seed(view.method, view.authority, view.path, view.query)
            fake = deceiver.answer(key, seed, statuses, view.path)
        if fake is not None:
            status, headers, body = fake.status, list(fake.headers), fake.body
            # As long after the request arrived as a real answer's response phase ended in botwall (the upstream's
            # time, Envoy's to and from it, botwall's own), judging and drawing this one included.
            late = time.perf_counter() - self._arrived + deceiver.lateness + LOCAL_REPLY
            self.delay = max(0.0, fake.delay - late)
        else:
            status, headers, body = spec.status, list(spec.headers), spec.body
            if statuses:
                status = statuses[0]
            headers.append(("content-length", str(len(body))))
        if opened and route is not None and login is not None:
            name = route.success_cookie
            value = session_cookie(fake, name) if fake is not None else ""
            if not value:
                value = deceiver.session_value(key, name)
                headers.append(("set-cookie", f"{name}={value}; HttpOnly; Path=/; SameSite=Lax"))
            deceiver.trap(value, login.username, decision.fingerprint, decision.policy, spec)
        if context.issue_cookie and status < 400:
            # A real page to a client without botwall's cookie gets one: the fake gets one of the same look, which
            # botwall does not take back as its own (the client stays a client without a cookie).
            headers.append(("set-cookie", deceiver.decoy.set_cookie(context.software, context.secure)))
        return _response.fake_response(decision, status, headers, body)

    def on_request_body(self, request: ProcessingRequest) -> ProcessingResponse:
        """Read the credentials of a login request and decide on it."""
        started = self._arrived = time.perf_counter()
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
            decision = self._trapped(decision, view)
        except Exception:
            self._sample = NONE
            return _response.request_body_response(self._failed("request_body", view))
        decision = self._decided(decision, context, view)
        if decision.mitigates and decision.action is Action.DECEIVE:
            self._sample = NONE
            return self._deceive(decision, context, view)
        if not _learns_from(decision, self._engine.config.thresholds.suspect):
            self._sample = NONE
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
        if self._sample:
            # Learned last: the latency runs to the end of this phase, as a real answer's does (its answer follows).
            try:
                self._learn(request, time.perf_counter() - self._arrived)
            except Exception:
                self._observed = None
                self._counters.errors += 1
                phases = self._counters.errors_by_phase
                phases["response_sample"] = phases.get("response_sample", 0) + 1
                self._tracebacks.exception(log, "response_sample_failed")
        return _response.continue_response_headers(set_cookie)

    def _learn(self, request: ProcessingRequest, latency: float) -> None:
        """Learn the shape of a person's answer (`botwall.deception`), now or once its body arrives; `latency`: from
        the request's arrival to its response's answer."""
        key = self._key()
        if key is None or self._deception is None:
            return
        message = request.response_headers
        status = 0
        headers: list[tuple[str, str]] = []
        for h in message.headers.headers[:_SAMPLED_HEADERS]:
            if h.key == ":status":
                status = int(h.raw_value) if h.raw_value.isdigit() else 0
            elif not h.key.startswith(":"):
                headers.append((h.key, h.raw_value.decode("latin-1")[:_SAMPLED_VALUE]))
        observed = Observed(status, tuple(headers), max(0.0, latency), self._client, time.time(), path=self._path)
        if self._sample == BODY and not message.end_of_stream:
            self._observed = observed  # the body follows in its own message
            return
        if self._sample == BODY:
            observed = replace(observed, body=b"")
        self._deception.learn(key, observed)

    def on_response_body(self, request: ProcessingRequest) -> ProcessingResponse:
        """A sampled answer's body (as much as Envoy buffered): learned with its headers, passed on unchanged."""
        observed, self._observed = self._observed, None
        key = self._key()
        if observed is not None and key is not None and self._deception is not None:
            try:
                body = request.response_body
                self._deception.learn(key, replace(observed, body=bytes(body.body), complete=body.end_of_stream))
            except Exception:
                self._counters.errors += 1
                phases = self._counters.errors_by_phase
                phases["response_sample"] = phases.get("response_sample", 0) + 1
                self._tracebacks.exception(log, "response_sample_failed")
        return _response.passthrough_for("response_body")


TRAP_REASON = "trap:fake-session"
# Envoy takes about this much longer to send an immediate response than to pass on an upstream's after botwall's
# answer (Envoy 1.40 on loopback, the same stack and load: fakes' median latency was 10-70 us above real answers'
# over six runs, 40 us on average).
LOCAL_REPLY = 0.00004
_SAMPLED_HEADERS = 64  # headers of a sampled answer learned at most
_SAMPLED_VALUE = 4096  # characters of a header value


def _learns_from(decision: Decision, suspect: int) -> bool:
    """Only answers to requests allowed as a person's teach what a real answer looks like: allowed, and the client's
    own evidence a person's (`Decision.own` under suspect). Not the verdict: it carries the crowd's suspicion, and a
    person on a browser build or an account under attack has answers as real as anyone's."""
    return decision.action is Action.ALLOW and decision.own < suspect and not decision.shadow


class Deceiver(Deception):
    """The server's `Deception`: with the login routes' session cookies (what a trap is presented as) and the decoy
    signer that makes a fake answer's botwall cookie."""

    def __init__(self, engine: Engine) -> None:
        specs = {p.name: p.deceive for p in engine.config.policies if p.deceive is not None}
        super().__init__(engine.config.deception, engine.keys, store=engine.store, specs=specs)
        self.session_names = tuple({r.success_cookie for r in engine.config.login_routes if r.success_cookie})
        secret = os.environ.get(SECRET_ENV, "")
        key = hashlib.sha256(b"botwall-decoy|" + (secret.encode() if secret else os.urandom(32))).digest()
        self.decoy = CookieSigner(engine.config.client_cookie, key=key)


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
        # The shape of real answers, learned from people's, and the fake sessions handed out (`botwall.deception`).
        self.deception = Deceiver(engine)
        self.delays = PreciseDelays()

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
            self.campaigns, self.transactions, self.deception,
        )  # fmt: skip
        async for request in request_iterator:
            kind = request.WhichOneof("request")
            if kind == "request_headers":
                answer = processor.on_request_headers(request)
                if processor.delay:
                    await self._wait(processor)  # a fake answer takes the upstream's time
                yield answer
            elif kind == "response_headers":
                yield processor.on_response_headers(request)
                if not processor.awaiting_body:
                    return
            elif kind == "response_body":
                yield processor.on_response_body(request)
                return
            elif kind == "request_body":
                answer = processor.on_request_body(request)
                if processor.delay:
                    await self._wait(processor)
                yield answer
            else:
                # Bodies and trailers are only sent when a route asks for them; pass them through unchanged.
                yield _response.passthrough_for(kind)
            if processor.finished:
                return

    async def _wait(self, processor: StreamProcessor) -> None:
        target = time.perf_counter() + processor.delay
        await self.delays.sleep(processor.delay)
        self.deception.late(time.perf_counter() - target)


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
