"""The admin listener (`botwall serve --admin-listen HOST:PORT`): health, readiness and Prometheus metrics over HTTP,
in the same event loop as the gRPC server and never on its port.

- `/healthz`: the process answers (200).
- `/readyz`: 200 while botwall serves ext_proc (the model loaded and the gRPC server SERVING), 503 once it drains.
- `/metrics`: Prometheus text, read from what the request path already counts (`server.Counters`, the store's sizes
  and evictions, the shared store's sync statistics, the model's reloads) when scraped: nothing on the request path
  waits for it, and no label carries a path, an address or a username (label values come from the code and the
  config's policy names).
- `/api/v1/...`: the JSON API (`ROUTES`). Its OpenAPI 3.1 document, `/api/v1/openapi.json`, is generated from that
  table and from the types the handlers build their bodies as (`edge.api_types`).

Every other path needs `Authorization: Bearer <token>` (`BOTWALL_ADMIN_TOKEN`, or `--admin-token-file`), compared in
constant time; the config's `admin.open_paths` names those of the three above that answer without it (the probes by
default). Without a token the listener may only bind a loopback address (the CLI refuses anything else), where it
answers everything.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from aiohttp import web
from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from botwall import __version__
from botwall.config import Config, Policy, parse_event
from botwall.edge import views
from botwall.edge.alerts import Alerts
from botwall.edge.api_types import (
    AccountRow,
    AccountsResponse,
    AdminView,
    AlertsResponse,
    ApiInfo,
    AuditEntry,
    AuditResponse,
    CampaignRow,
    CampaignsResponse,
    ConfigView,
    DecisionRow,
    DecisionsResponse,
    DiscoveredApi,
    EndpointRow,
    EndpointsResponse,
    ErrorBody,
    EventChange,
    EventDefinition,
    EventResponse,
    EventRow,
    EventsResponse,
    Health,
    LoginRouteView,
    MatchView,
    MitigationChange,
    MitigationResponse,
    MitigationRow,
    MitigationsResponse,
    ModelView,
    OpenApiDocument,
    PolicyView,
    Readiness,
    SchemaSet,
    StateView,
    ThresholdsView,
    ThrottleView,
    TrafficResponse,
    TransactionEvent,
    TransactionsResponse,
)
from botwall.edge.console import Console
from botwall.edge.server import DECISION_BUCKETS, RunningServer
from botwall.errors import ConfigError, Reader, UsageError
from botwall.request import Match
from botwall.scoring.model import OnnxScorer
from botwall.state.shared import SharedStore
from botwall.state.store import Store

TOKEN_ENV = "BOTWALL_ADMIN_TOKEN"  # noqa: S105 - the name of the variable, not a token
_MIN_TOKEN = 16  # characters: a guessable token on an admin port is no protection
_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def admin_token(token_file: str | None) -> str:
    """The admin bearer token: the file's content (stripped) when one is named, else `BOTWALL_ADMIN_TOKEN`, else ""."""
    if token_file:
        try:
            token = Path(token_file).read_text().strip()
        except OSError as exc:
            raise UsageError(f"--admin-token-file: cannot read {token_file}: {exc.strerror}") from None
        if not token:
            raise UsageError(f"--admin-token-file: {token_file} is empty")
    else:
        token = os.environ.get(TOKEN_ENV, "").strip()
    if token and len(token) < _MIN_TOKEN:
        raise UsageError(f"the admin token is {len(token)} characters: use at least {_MIN_TOKEN}, random")
    return token


def check_admin_address(host: str, token: str, flag: str = "--admin-listen") -> None:
    """Without a token, the admin listener binds loopback only: anything else is a usage error saying why."""
    if token:
        return
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise UsageError(
            f"{flag} {host}: not a loopback address, and no admin token is set: set {TOKEN_ENV} or "
            "--admin-token-file, so the admin listener asks for a bearer token"
        )


class BotwallCollector(Collector):
    """Prometheus metric families read from the running server when scraped."""

    def __init__(self, running: RunningServer, alerts: Alerts | None = None) -> None:
        self.running = running
        self.alerts = alerts

    def _deception(self) -> Iterator[Metric]:
        deception = self.running.servicer.deception
        answers = CounterMetricFamily(
            "botwall_deception_answers",
            "Deceive answers: drawn from an endpoint's learned shape, or the policy's static one (not learned yet)",
            labels=["source"],
        )
        answers.add_metric(["learned"], deception.faked)
        answers.add_metric(["static"], deception.static)
        yield answers
        learned = CounterMetricFamily("botwall_deception_samples", "Answers to people learned from (their shape)")
        learned.add_metric([], deception.learned)
        yield learned
        min_samples = deception.settings.min_samples
        ready = sum(shape.ready(min_samples) for shape in deception.shapes.values())
        endpoints = GaugeMetricFamily(
            "botwall_deception_endpoints", "Endpoints whose answers are learned, by state", labels=["state"]
        )
        endpoints.add_metric(["ready"], ready)
        endpoints.add_metric(["learning"], len(deception.shapes) - ready)
        yield endpoints
        traps = GaugeMetricFamily("botwall_deception_traps", "Fake sessions handed out and remembered")
        traps.add_metric([], len(deception.traps))
        yield traps

    def collect(self) -> Iterator[Metric]:
        servicer = self.running.servicer
        counters = servicer.counters
        engine = servicer.engine
        info = GaugeMetricFamily("botwall_info", "botwall's version and scorer", labels=["version", "scorer"])
        info.add_metric([__version__, type(engine.scorer).__name__], 1.0)
        yield info
        up = GaugeMetricFamily("botwall_serving", "1 while botwall serves ext_proc, 0 once it drains")
        up.add_metric([], 1.0 if self.running.serving else 0.0)
        yield up
        streams = CounterMetricFamily("botwall_streams", "ext_proc streams opened by Envoy")
        streams.add_metric([], counters.streams)
        yield streams
        requests = CounterMetricFamily(
            "botwall_requests",
            "Requests judged, by action, verdict and whether the action was enforced (false: shadow mode)",
            labels=["action", "verdict", "enforced"],
        )
        for (action, verdict, enforced), count in sorted(counters.by_outcome.items()):
            requests.add_metric([str(action), verdict, "true" if enforced else "false"], count)
        yield requests
        policies = CounterMetricFamily("botwall_policy_matches", "Decisions taken by each policy", labels=["policy"])
        for policy, count in sorted(counters.by_policy.items()):
            policies.add_metric([policy], count)
        yield policies
        errors = CounterMetricFamily(
            "botwall_errors", "Requests botwall failed to judge (its own bugs), by phase", labels=["phase"]
        )
        for phase, count in sorted(counters.errors_by_phase.items()):
            errors.add_metric([phase], count)
        yield errors
        transactions = CounterMetricFamily(
            "botwall_transactions",
            "Transactions judged (`transactions:` routes), and whether each was sent for review",
            labels=["transaction", "review"],
        )
        for (name, review), count in sorted(self.running.servicer.transactions.counts.items()):
            transactions.add_metric([name, "true" if review else "false"], count)
        yield transactions
        mitigations = engine.mitigations
        states = GaugeMetricFamily(
            "botwall_mitigations", "Mitigations that follow campaigns, active ones by state", labels=["state"]
        )
        for kind in ("shadow", "live"):
            states.add_metric([kind], sum(m.state == kind for m in mitigations.active.values()))
        yield states
        hits = CounterMetricFamily(
            "botwall_mitigation_refusals", "Requests refused by a live mitigation (the process's, ended ones included)"
        )
        hits.add_metric([], sum(m.hits for m in mitigations.active.values()) + mitigations.ended_hits)
        yield hits
        yield from self._deception()
        cumulative, buckets = 0, []
        for bound, count in zip((*map(str, DECISION_BUCKETS), "+Inf"), counters.decision_buckets, strict=True):
            cumulative += count
            buckets.append((bound, cumulative))
        yield HistogramMetricFamily(
            "botwall_decision_seconds",
            "Time botwall took to judge a request (evidence, score, policy, answer)",
            buckets=buckets,
            sum_value=counters.decision_seconds,
        )
        yield from self._store(engine.store)
        if self.alerts is not None:
            fired = CounterMetricFamily(
                "botwall_alerts_fired", "Alert episodes started, by trigger", labels=["trigger"]
            )
            firing = GaugeMetricFamily("botwall_alert_firing", "1 while a trigger's episode lasts", labels=["trigger"])
            for name, state in sorted(self.alerts.states.items()):
                fired.add_metric([name], state.fired)
                firing.add_metric([name], 1.0 if state.firing else 0.0)
            yield fired
            yield firing
            deliveries = CounterMetricFamily(
                "botwall_webhook_deliveries", "Webhook deliveries, by webhook and result", labels=["webhook", "result"]
            )
            for name, stats in sorted(self.alerts.stats.items()):
                deliveries.add_metric([name, "delivered"], stats.delivered)
                deliveries.add_metric([name, "failed_attempt"], stats.failed_attempts)
                deliveries.add_metric([name, "dropped"], stats.dropped)
            yield deliveries
        under_attack = compromised = 0
        for account in servicer.accounts.accounts():  # at most 50,000, when scraped
            under_attack += account.under_attack
            compromised += bool(account.compromised)
        accounts = GaugeMetricFamily(
            "botwall_accounts", "Usernames tried on login routes, by state (an account can be both)", labels=["state"]
        )
        accounts.add_metric(["tracked"], len(servicer.accounts))
        accounts.add_metric(["under_attack"], under_attack)
        accounts.add_metric(["compromised"], compromised)
        yield accounts
        book = engine.events
        now = time.time()
        expected = GaugeMetricFamily(
            "botwall_event_expected_rps",
            "Requests per second the running events, and those within their pre-warm time, expect (scale on it)",
        )
        expected.add_metric([], book.expected_load(now))
        yield expected
        running = GaugeMetricFamily("botwall_event_running", "1 while an event runs", labels=["event"])
        for row in book.describe(now):  # at most 50 events: a bounded label
            running.add_metric([row["name"]], 1.0 if row["state"] == "running" else 0.0)
        yield running
        scorer = engine.scorer
        if isinstance(scorer, OnnxScorer):
            reloads = CounterMetricFamily("botwall_model_reloads", "Model file reloads, by result", labels=["result"])
            reloads.add_metric(["loaded"], scorer.reloads)
            reloads.add_metric(["failed"], scorer.reload_failures)
            yield reloads
            memo = scorer.model.memo
            scores = CounterMetricFamily(
                "botwall_model_scores",
                "Model scores since the current model loaded, by where they came from (a memoized cell, onnxruntime)",
                labels=["source"],
            )
            scores.add_metric(["memo"], memo.hits)
            scores.add_metric(["onnxruntime"], memo.misses)
            yield scores

    def _store(self, store: Store) -> Iterator[Metric]:
        entries = GaugeMetricFamily("botwall_store_entries", "Entries held in the state store", labels=["namespace"])
        for namespace, count in sorted(store.sizes().items()):
            entries.add_metric([namespace], count)
        yield entries
        evictions = CounterMetricFamily(
            "botwall_store_evictions", "Live entries dropped to make room in the state store", labels=["namespace"]
        )
        for namespace, count in sorted(store.evictions().items()):
            evictions.add_metric([namespace], count)
        yield evictions
        if isinstance(store, SharedStore):
            stats = store.stats
            up = GaugeMetricFamily("botwall_redis_up", "1 while the shared store reaches Redis, 0 during an outage")
            up.add_metric([], 1.0 if stats.connected else 0.0)
            yield up
            rounds = CounterMetricFamily(
                "botwall_state_sync_rounds", "Sync rounds with Redis, by result", labels=["result"]
            )
            rounds.add_metric(["ok"], stats.rounds)
            rounds.add_metric(["failed"], stats.failures)
            yield rounds
            last = GaugeMetricFamily("botwall_state_sync_last_round_seconds", "How long the last sync round took")
            last.add_metric([], stats.last_round_seconds)
            yield last
            dropped = CounterMetricFamily(
                "botwall_state_sync_dropped_keys", "Keys not queued for a push because the queue was full"
            )
            dropped.add_metric([], stats.dropped)
            yield dropped


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Variant:
    """Another 200 body a route answers with when a query parameter asks for it (`format=csv`)."""

    asked: str
    body: object  # its type (a TypedDict, or str for text)
    content: str = "application/json"


@dataclass(frozen=True)
class Answer:
    """An answer besides 200 that a route gives: its status, when, and its body's type."""

    status: int
    when: str
    body: object = ErrorBody


@dataclass(frozen=True)
class Route:
    """One route of the admin API: its path, handler, what it returns (the type its handler builds) and its query
    parameters. The OpenAPI document is generated from this table and those types, and every route the server
    registers comes from it."""

    path: str
    handler: str
    summary: str
    body: object  # the 200 body's type: a TypedDict from `edge.api_types`, or str for text
    params: tuple[tuple[str, str], ...] = ()
    content: str = "application/json"
    variants: tuple[Variant, ...] = ()
    answers: tuple[Answer, ...] = ()
    method: str = "get"
    request: object = None  # a POST's JSON body type


ROUTES = (
    Route("/healthz", "_healthz", "The process answers", Health),
    Route(
        "/readyz",
        "_readyz",
        "botwall serves ext_proc (503 once it drains)",
        Readiness,
        answers=(Answer(503, "Draining: botwall is shutting down", Readiness),),
    ),
    Route("/metrics", "_metrics", "Prometheus metrics", str, content="text/plain"),
    Route(
        "/api/v1/endpoints",
        "_endpoints",
        "Discovery: every host, method and path template seen, with its traffic",
        EndpointsResponse,
        (
            ("kind", "page, api or asset"),
            ("host", "one host"),
            ("new", "true: first seen after the warm-up"),
            ("format", "openapi: the API part as an OpenAPI 3 document"),
        ),
        variants=(Variant("format=openapi", DiscoveredApi),),
    ),
    Route(
        "/api/v1/accounts",
        "_accounts",
        "Usernames tried on login routes, under attack or likely compromised, with the evidence",
        AccountsResponse,
        (("state", "under_attack or compromised"), ("format", "csv")),
        variants=(Variant("format=csv", str, "text/csv"),),
        answers=(Answer(400, "state is neither under_attack nor compromised"),),
    ),
    Route(
        "/api/v1/campaigns",
        "_campaigns",
        "Suspect and refused traffic by client software",
        CampaignsResponse,
        (("since", "epoch s"),),
        answers=(Answer(400, "since is not a number"),),
    ),
    Route(
        "/api/v1/traffic",
        "_traffic",
        "Requests by action and verdict over time, and the top reason codes",
        TrafficResponse,
        (("range", "15m, 1h (default), 6h, 24h or 7d"),),
        answers=(Answer(400, "range is not one of those"),),
    ),
    Route(
        "/api/v1/decisions",
        "_decisions",
        "The latest decisions, newest first",
        DecisionsResponse,
        (
            ("address", "client IP"),
            ("fingerprint", "16 hex digits"),
            ("username", "a login's"),
            ("reason", "a reason code"),
            ("action", "allow, block, challenge, throttle, deceive, monitor"),
            ("limit", "1 to 1000, default 100"),
        ),
        answers=(Answer(400, "limit is not a whole number"),),
    ),
    Route(
        "/api/v1/transactions",
        "_transactions",
        "The latest transactions (`transactions:` routes) with their risk, newest first",
        TransactionsResponse,
        (
            ("name", "a transaction route's name"),
            ("min_risk", "0 to 100"),
            ("review", "true: only those sent for review"),
            ("limit", "1 to 1000, default 100"),
        ),
        answers=(Answer(400, "min_risk or limit is not a whole number"),),
    ),
    Route(
        "/api/v1/alerts",
        "_alerts",
        "The alert triggers, their state and their last events, and the webhooks",
        AlertsResponse,
    ),
    Route(
        "/api/v1/config",
        "_config",
        "The configuration botwall runs with (thresholds, policies, login routes)",
        ConfigView,
    ),
    Route(
        "/api/v1/events",
        "_events",
        "Event mode: the events (drops, sales), which run, and the load they expect",
        EventsResponse,
    ),
    Route(
        "/api/v1/events",
        "_define_event",
        "Add an event (an `events:` entry of the config), and start it if asked",
        EventResponse,
        method="post",
        request=EventDefinition,
        answers=(Answer(400, "The event is malformed (the error names the key), or its name runs already"),),
    ),
    Route(
        "/api/v1/events/{name}/start",
        "_start_event",
        "Run an event now, for `minutes` (60 by default; a running one is extended)",
        EventResponse,
        method="post",
        request=EventChange,
        answers=(Answer(404, "No event of that name"), Answer(400, "The body is not a JSON object as documented")),
    ),
    Route(
        "/api/v1/events/{name}/stop",
        "_stop_event",
        "Stop an event now (a scheduled one stays stopped until its scheduled end)",
        EventResponse,
        method="post",
        request=EventChange,
        answers=(Answer(404, "No event of that name"), Answer(400, "The body is not a JSON object as documented")),
    ),
    Route(
        "/api/v1/mitigations",
        "_mitigations",
        "Mitigations that follow campaigns: their tells, state, hits and collateral, active ones first",
        MitigationsResponse,
    ),
    *(
        Route(
            f"/api/v1/mitigations/{{id}}/{verb}",
            f"_{verb}_mitigation",
            summary,
            MitigationResponse,
            method="post",
            request=MitigationChange,
            answers=(
                Answer(404, "No active mitigation of that id"),
                Answer(400, "The body is not a JSON object as documented"),
            ),
        )
        for verb, summary in (
            ("pin", "Keep a mitigation until revoked (a shadow one goes live now)"),
            ("shorten", "End a mitigation `minutes` from now (unpinned)"),
            ("revoke", "End a mitigation now; its tells are not followed again while they are seen"),
        )
    ),
    Route("/api/v1/audit", "_audit", "Every automated or manual change, newest first", AuditResponse),
    Route("/api/v1/openapi.json", "_openapi", "This document", OpenApiDocument),
)


def openapi_document() -> OpenApiDocument:
    """The admin API's OpenAPI 3.1 document, from `ROUTES` and the types of their bodies (`edge.api_types`)."""
    schemas = SchemaSet()
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        content: dict[str, Any] = {route.content: {"schema": schemas.of(route.body)}}
        description = "OK"
        for variant in route.variants:
            schema = schemas.of(variant.body)
            same = content.get(variant.content)
            if same is None:
                content[variant.content] = {"schema": schema}
            else:  # one media type, two shapes: the query parameter says which
                same["schema"] = {"oneOf": [same["schema"], schema]}
            name = schema.get("$ref", "").rpartition("/")[2]
            description += f"; with ?{variant.asked}, {variant.content}" + (f" ({name})" if name else "")
        responses: dict[str, Any] = {"200": {"description": description, "content": content}}
        for answer in route.answers:
            responses[str(answer.status)] = {
                "description": answer.when,
                "content": {"application/json": {"schema": schemas.of(answer.body)}},
            }
        responses["401"] = {
            "description": "Missing or wrong bearer token (except on the config's open paths)",
            "content": {"application/json": {"schema": schemas.of(ErrorBody)}},
        }
        parameters = [
            {"name": name, "in": "query", "required": False, "description": text, "schema": {"type": "string"}}
            for name, text in route.params
        ]
        if "{name}" in route.path:
            parameters.append({"name": "name", "in": "path", "required": True, "schema": {"type": "string"}})
        operation: dict[str, Any] = {
            "summary": route.summary,
            "operationId": route.handler.strip("_"),
            "parameters": parameters,
            "responses": responses,
        }
        if route.request is not None:
            operation["requestBody"] = {
                "required": False,
                "content": {"application/json": {"schema": schemas.of(route.request)}},
            }
        paths.setdefault(route.path, {})[route.method] = operation
    return OpenApiDocument(
        openapi="3.1.0",
        info=ApiInfo(title="botwall admin API", version=__version__),
        components={
            "schemas": dict(sorted(schemas.schemas.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        security=[{"bearer": []}],
        paths=paths,
    )


def config_view(config: Config) -> ConfigView:
    """The running configuration as JSON-ready data: what an operator checks (never a secret: the cookie key and the
    admin token live in the environment)."""

    def match(m: Match) -> MatchView:
        out: MatchView = {}
        if m.hosts or m.host_suffixes:
            out["hosts"] = sorted(m.hosts) + [f"*{suffix}" for suffix in m.host_suffixes]
        if m.path is not None:
            out["path"] = {m.path.kind: m.path.value}
        if m.methods:
            out["methods"] = sorted(m.methods)
        return out

    def policy(p: Policy) -> PolicyView:
        out = PolicyView(name=p.name, match=match(p.match), action=p.action, min_score=p.min_score, shadow=p.shadow)
        if p.throttle is not None:
            out["throttle"] = ThrottleView(
                key=p.throttle.key, rate_per_minute=round(p.throttle.rate * 60, 3), burst=p.throttle.burst
            )
        return out

    return ConfigView(
        source=config.source,
        shadow=config.shadow,
        thresholds=ThresholdsView(suspect=config.thresholds.suspect, bot=config.thresholds.bot),
        policies=[policy(p) for p in config.policies],
        login_routes=[LoginRouteView(name=r.name, match=match(r.match), format=r.format) for r in config.login_routes],
        state=StateView(backend=config.state.backend, max_entries=config.state.max_entries),
        model=ModelView(scorer=config.model.scorer),
        on_error=config.on_error,
        admin=AdminView(open_paths=list(config.admin.open_paths)),
    )


class AdminServer:
    """The admin listener's aiohttp application and site."""

    def __init__(
        self, running: RunningServer, token: str, open_paths: tuple[str, ...], alerts: Alerts | None = None
    ) -> None:
        self.running = running
        self.alerts = alerts
        self.token = token
        self.open_paths = frozenset(open_paths)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(BotwallCollector(running, alerts))
        ProcessCollector(registry=self.registry)
        self.app = app = web.Application(middlewares=[self._auth], client_max_size=4096)
        for route in ROUTES:
            app.router.add_route(route.method.upper(), route.path, getattr(self, route.handler))
        self.console = Console(running, alerts, token)
        self.console.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        self.port = 0

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        console = self.console
        if not self.token or request.path in self.open_paths or console.is_open(request.path):
            return await handler(request)
        sent = request.headers.get("Authorization", "")
        scheme, _, credentials = sent.partition(" ")
        bearer = scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), self.token.encode())
        if not bearer and not console.signed_in(request):
            if console.is_screen(request.path):
                console.to_login(request)
            return web.json_response(
                {"error": "unauthorized", "detail": "send Authorization: Bearer <the admin token>"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="botwall"'},
            )
        return await handler(request)

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.json_response(Health(status="ok"))

    async def _readyz(self, _request: web.Request) -> web.Response:
        if self.running.serving:
            return web.json_response(Readiness(status="ready"))
        return web.json_response(Readiness(status="draining"), status=503)

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.registry), headers={"Content-Type": _CONTENT_TYPE})

    async def _endpoints(self, request: web.Request) -> web.Response:
        """Discovery (`edge.inventory`): every endpoint seen, busiest first; `?kind=api|page|asset`, `?host=`,
        `?new=true` filter; `?format=openapi` gives the API part as an OpenAPI 3 document."""
        servicer = self.running.servicer
        inventory = servicer.inventory
        if request.query.get("format") == "openapi":
            return web.json_response(cast(DiscoveredApi, inventory.openapi()))
        endpoints = cast(list[EndpointRow], inventory.snapshot(servicer.engine.config.policies))
        kind, host, new = request.query.get("kind"), request.query.get("host"), request.query.get("new")
        endpoints = [
            e
            for e in endpoints
            if (kind is None or e["kind"] == kind)
            and (host is None or e["host"] == host.lower())
            and (new is None or e["new"] == (new == "true"))
        ]
        return web.json_response(
            EndpointsResponse(endpoints=endpoints, templates=len(inventory), max_templates=inventory.max_templates)
        )

    async def _accounts(self, request: web.Request) -> web.Response:
        """Usernames tried on login routes (`edge.accounts`): `?state=under_attack|compromised`, `?format=csv`."""
        state = request.query.get("state", "")
        if state not in ("", "under_attack", "compromised"):
            return web.json_response(ErrorBody(error="state is under_attack or compromised"), status=400)
        accounts = self.running.servicer.accounts
        if request.query.get("format") == "csv":
            return web.Response(text=accounts.csv(state), content_type="text/csv")
        rows = cast(list[AccountRow], accounts.rows(state))
        return web.json_response(AccountsResponse(accounts=rows, tracked=len(accounts)))

    async def _campaigns(self, request: web.Request) -> web.Response:
        """Suspect and refused traffic by client software (`edge.campaigns`), largest first; `?since=` epoch seconds
        keeps those active since then."""
        try:
            since = float(request.query.get("since", "0"))
        except ValueError:
            return web.json_response(ErrorBody(error="since is a time in epoch seconds"), status=400)
        campaigns = self.running.servicer.campaigns
        rows = cast(list[CampaignRow], campaigns.describe(since))
        return web.json_response(CampaignsResponse(campaigns=rows, tracked=len(campaigns)))

    async def _traffic(self, request: web.Request) -> web.Response:
        """Requests by action and verdict over `?range=` (15m, 1h (default), 6h, 24h, 7d), and the reason codes
        counted over it (`views.traffic`; per endpoint: `/api/v1/endpoints`)."""
        name = request.query.get("range", "1h")
        if name not in views.TRAFFIC_RANGES:
            return web.json_response(ErrorBody(error=f"range is one of {', '.join(views.TRAFFIC_RANGES)}"), status=400)
        series = cast(TrafficResponse, views.traffic(self.running.servicer.counters, name, time.time()))
        return web.json_response(series)

    async def _decisions(self, request: web.Request) -> web.Response:
        """The latest decisions (`views.decisions`), newest first, filtered by `address`, `fingerprint`, `username`,
        `reason` and `action`; `limit` (default 100, at most 1,000)."""
        query = request.query
        try:
            limit = min(1000, max(1, int(query.get("limit", "100"))))
        except ValueError:
            return web.json_response(ErrorBody(error="limit is a number from 1 to 1000"), status=400)
        filters = {name: query[name] for name in views.DECISION_FILTERS if name in query}
        found = cast(list[DecisionRow], views.decisions(self.running.servicer.counters, filters, limit))
        return web.json_response(DecisionsResponse(decisions=found))

    async def _transactions(self, request: web.Request) -> web.Response:
        """The latest transactions judged (`edge.transactions`), newest first: of one route (`name`), from a risk
        on (`min_risk`), only those sent for review (`review=true`); `limit` (default 100, at most 1,000)."""
        query = request.query
        try:
            limit = min(1000, max(1, int(query.get("limit", "100"))))
            min_risk = int(query.get("min_risk", "0"))
        except ValueError:
            return web.json_response(ErrorBody(error="min_risk and limit are whole numbers"), status=400)
        listing = self.running.servicer.transactions.listing
        found = listing(query.get("name", ""), min_risk, limit, review_only=query.get("review") == "true")
        return web.json_response(TransactionsResponse(transactions=cast(list[TransactionEvent], found)))

    async def _alerts(self, _request: web.Request) -> web.Response:
        """The configured triggers with their state, the last events (newest first), and the webhooks' counts."""
        return web.json_response(cast(AlertsResponse, views.alerts(self.alerts)))

    async def _config(self, _request: web.Request) -> web.Response:
        """The configuration botwall runs with: its source, thresholds, policies and login routes (never secrets)."""
        return web.json_response(config_view(self.running.servicer.engine.config))

    def _event_row(self, name: str) -> EventRow:
        book = self.running.servicer.engine.events
        return cast(EventRow, next(e for e in book.describe(time.time()) if e["name"] == name))

    async def _events(self, _request: web.Request) -> web.Response:
        """The events (`botwall.events`), which run, and the load they expect."""
        book = self.running.servicer.engine.events
        now = time.time()
        rows = cast(list[EventRow], book.describe(now))
        return web.json_response(EventsResponse(events=rows, expected_rps=book.expected_load(now)))

    async def _audit(self, _request: web.Request) -> web.Response:
        """Every change made to what botwall enforces (events started and stopped, by whom, why), newest first."""
        entries = cast(list[AuditEntry], list(reversed(self.running.servicer.engine.events.audit)))
        return web.json_response(AuditResponse(audit=entries))

    async def _define_event(self, request: web.Request) -> web.Response:
        """A new event, validated as the config's `events:` entries are; started at once with `start_minutes`."""
        body = await _json_object(request)
        book = self.running.servicer.engine.events
        who, why = _who(request, body), str(body.get("why", ""))[:500]
        try:
            spec = parse_event(Reader("the request body"), body.get("event"), "event", set())
            book.define(spec, who, why or "defined through the admin API")
        except (ConfigError, ValueError) as exc:
            raise _bad(str(exc)) from None
        if "start_minutes" in body:
            book.start(spec.name, _minutes(body.get("start_minutes")), who, why or "started through the admin API")
        return web.json_response(EventResponse(event=self._event_row(spec.name)))

    async def _start_event(self, request: web.Request) -> web.Response:
        """Run the event now for `minutes` (default 60, at most a week); who and why go to the audit trail."""
        body = await _json_object(request)
        name = request.match_info["name"]
        try:
            self.running.servicer.engine.events.start(
                name, _minutes(body.get("minutes", 60)), _who(request, body), str(body.get("why", ""))[:500]
            )
        except KeyError:
            raise web.HTTPNotFound(text=json.dumps({"error": f"no event {name!r}"}), content_type=_JSON) from None
        return web.json_response(EventResponse(event=self._event_row(name)))

    async def _stop_event(self, request: web.Request) -> web.Response:
        """Stop the event now; who and why go to the audit trail."""
        body = await _json_object(request)
        name = request.match_info["name"]
        try:
            self.running.servicer.engine.events.stop(name, _who(request, body), str(body.get("why", ""))[:500])
        except KeyError:
            raise web.HTTPNotFound(text=json.dumps({"error": f"no event {name!r}"}), content_type=_JSON) from None
        return web.json_response(EventResponse(event=self._event_row(name)))

    async def _mitigations(self, _request: web.Request) -> web.Response:
        """The mitigations (`botwall.mitigations`): active ones, then the ended ones, newest first."""
        rows = cast(list[MitigationRow], self.running.servicer.engine.mitigations.describe())
        return web.json_response(MitigationsResponse(mitigations=rows))

    async def _change_mitigation(self, request: web.Request, verb: str) -> web.Response:
        body = await _json_object(request)
        book = self.running.servicer.engine.mitigations
        ident = request.match_info["id"]
        who, why = _who(request, body), str(body.get("why", ""))[:500] or f"{verb} through the admin API"
        try:
            if verb == "pin":
                book.pin(ident, who, why)
            elif verb == "shorten":
                book.shorten(ident, _minutes(body.get("minutes", 10)), who, why)
            else:
                book.revoke(ident, who, why)
        except KeyError:
            message = json.dumps({"error": f"no active mitigation {ident!r}"})
            raise web.HTTPNotFound(text=message, content_type=_JSON) from None
        row = next(r for r in book.describe() if r["id"] == ident)
        return web.json_response(MitigationResponse(mitigation=cast(MitigationRow, row)))

    async def _pin_mitigation(self, request: web.Request) -> web.Response:
        """Keep the mitigation until revoked; who and why go to the audit trail."""
        return await self._change_mitigation(request, "pin")

    async def _shorten_mitigation(self, request: web.Request) -> web.Response:
        """End the mitigation `minutes` (default 10) from now; who and why go to the audit trail."""
        return await self._change_mitigation(request, "shorten")

    async def _revoke_mitigation(self, request: web.Request) -> web.Response:
        """End the mitigation now; who and why go to the audit trail."""
        return await self._change_mitigation(request, "revoke")

    async def _openapi(self, _request: web.Request) -> web.Response:
        """This API's own OpenAPI 3 document."""
        return web.json_response(openapi_document())

    async def start(self, host: str, port: int) -> int:
        """Listen on `host:port` (0: an ephemeral port); returns the bound port."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, host.strip("[]"), port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise UsageError(f"--admin-listen: cannot listen on {host}:{port}: {exc.strerror}") from None
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        return self.port

    async def stop(self) -> None:
        await self._runner.cleanup()


_JSON = "application/json"


def _bad(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type=_JSON)


async def _json_object(request: web.Request) -> dict[str, Any]:
    """A POST's JSON object body ({} when empty); anything else is a 400 saying so."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise _bad("the body is not JSON") from None
    if not isinstance(body, dict):
        raise _bad("the body is a JSON object")
    return body


def _minutes(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 7 * 24 * 60:
        raise _bad("minutes is a number from 0 to 10080 (a week)")
    return float(value)


def _who(request: web.Request, body: dict[str, Any]) -> str:
    """Who made a change, for the audit trail: what the caller says (`by`), through the API, from its address."""
    said = str(body.get("by", "")).strip()[:100] or "someone"
    return f"{said} (admin API from {request.remote or 'unknown'})"
