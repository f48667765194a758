"""The admin API's response bodies as types, and their JSON Schemas generated from those types.

Each JSON route of `edge.admin` answers with one of the TypedDicts below (the handler builds it by calling the type,
so mypy checks its keys), and `openapi_document` describes it with `SchemaSet.of(the type)`: one declaration, so the
document cannot list a field the code does not send, nor miss one. Objects are closed (`additionalProperties: false`)
so a client, or a test, notices a drifted shape. The schemas are JSON Schema 2020-12, the dialect of OpenAPI 3.1.
"""

from __future__ import annotations

import enum
import types
from typing import (
    Any,
    Literal,
    NotRequired,
    Required,
    TypedDict,
    Union,
    get_args,
    get_origin,
    get_type_hints,
    is_typeddict,
)

from botwall.config import Action

# --- Bodies shared by several routes.


class ErrorBody(TypedDict):
    """What a refused request gets (400: a bad query parameter; 401: no or a wrong bearer token)."""

    error: str
    detail: NotRequired[str]


class Health(TypedDict):
    status: Literal["ok"]


class Readiness(TypedDict):
    status: Literal["ready", "draining"]


# --- /api/v1/endpoints (`edge.inventory`).


class EndpointRow(TypedDict):
    """One (host, method, path template) discovery has seen (`Inventory.snapshot`)."""

    host: str
    method: str
    template: str
    kind: str  # page, api or asset (the most frequent), "" before any request
    requests: int
    by_verdict: dict[str, int]
    by_action: dict[str, int]
    mitigated: int
    statuses: dict[str, int]
    query_parameters: list[str]
    first_seen: float
    last_seen: float
    per_minute: list[tuple[int, int]]  # (epoch seconds of the minute, requests)
    new: bool
    found_by_bots_first: bool
    protected_by: list[str]


class EndpointsResponse(TypedDict):
    endpoints: list[EndpointRow]
    templates: int
    max_templates: int


class ApiInfo(TypedDict):
    title: str
    version: str


class DiscoveredApi(TypedDict):
    """`?format=openapi`: the API part of what discovery saw, as an OpenAPI 3 document (`Inventory.openapi`)."""

    openapi: str
    info: ApiInfo
    paths: dict[str, dict[str, Any]]


# --- /api/v1/accounts (`edge.accounts`).


class AccountEvent(TypedDict):
    """A notable attempt on an account: the evidence kept with it."""

    time: float
    outcome: str  # success, failure, refused, trapped (a fake success), or "" where the response told neither
    action: str
    score: int
    reasons: list[str]
    fingerprint: str
    network: int  # ASN, 0 when unknown


class AccountRow(TypedDict):
    """One username tried on a login route (`Accounts.rows`)."""

    username: str
    under_attack: bool
    compromised: bool
    compromised_because: str
    attempts: int
    failures: int
    successes: int
    refused: int
    trapped: int  # answered with a fake success by a deceive policy: targeted, never opened
    from_abusive_clients: int
    addresses: int
    networks: int
    fingerprints: int
    counts_capped_at: int
    breached_password_tried: bool
    first_seen: float
    last_attempt: float
    evidence: list[AccountEvent]


class AccountsResponse(TypedDict):
    accounts: list[AccountRow]
    tracked: int


# --- /api/v1/campaigns (`edge.campaigns`). Top-N lists are (key, count) pairs, the largest first.


class CampaignTools(TypedDict):
    user_agents: list[tuple[str, int]]
    tells: list[tuple[str, int]]


class CampaignInfrastructure(TypedDict):
    addresses: int
    networks: list[tuple[str, int]]
    countries: list[tuple[str, int]]
    network_kinds: dict[str, float]  # share of the requests from hosting, vpn, tor... ranges


class CampaignCredentials(TypedDict):
    login_attempts: int
    usernames: int
    breached_share: float


class CampaignBehaviour(TypedDict):
    requests_per_active_minute: float
    active_minutes: int
    endpoints: list[tuple[str, int]]
    reasons: list[tuple[str, int]]


class CampaignCaps(TypedDict):
    addresses: int
    usernames: int
    keys_per_list: int


class CampaignRow(TypedDict):
    """One campaign: the fingerprints linked by a cookie, described together (`Campaigns.describe`)."""

    id: str
    fingerprint: str
    requests: int
    first_seen: float
    last_seen: float
    actions: dict[str, int]
    tools: CampaignTools
    infrastructure: CampaignInfrastructure
    credentials: CampaignCredentials
    behaviour: CampaignBehaviour
    active: list[int]  # its last active minutes (epoch seconds), oldest first: its timeline
    counts_capped_at: CampaignCaps
    fingerprints: list[str]


class CampaignsResponse(TypedDict):
    campaigns: list[CampaignRow]
    tracked: int


# --- /api/v1/traffic and /api/v1/decisions (`edge.views` over `server.Counters`).


class TrafficCount(TypedDict):
    action: Action
    verdict: str
    requests: int


class TrafficStep(TypedDict):
    time: int  # epoch seconds of the step's start
    counts: list[TrafficCount]


class TrafficResponse(TypedDict):
    """Requests by action and verdict per step over a range, every step present, and the reason codes counted most
    over it."""

    range: str
    step_seconds: int
    series: list[TrafficStep]
    reasons: list[tuple[str, int]]


class DecisionRow(TypedDict):
    time: float
    client_ip: str
    fingerprint: str
    username: str  # a login's, else ""
    method: str
    path: str
    action: Action
    verdict: str
    score: int
    reasons: list[str]
    policy: str
    shadow: bool


class DecisionsResponse(TypedDict):
    decisions: list[DecisionRow]


# --- /api/v1/transactions (`edge.transactions`).


class BotwallInfo(TypedDict):
    version: str
    worker: str  # the worker's index under `serve --workers`, else ""


class TransactionEvent(TypedDict):
    id: str
    transaction: str  # the route's name in `transactions:`
    time: float
    risk: int  # the score with the velocity reasons' points added, 0-100
    review: bool  # the risk reached the route's review_from: sent to the webhooks
    score: int
    verdict: str
    reasons: list[str]
    campaign: str  # the id of the campaign the client belongs to (`/api/v1/campaigns`), else ""
    action: Action
    enforced: bool
    policy: str
    fingerprint: str
    client_ip: str
    method: str
    host: str
    path: str
    botwall: BotwallInfo


class TransactionsResponse(TypedDict):
    transactions: list[TransactionEvent]


# --- /api/v1/alerts (`edge.alerts`).


class AlertTriggerState(TypedDict):
    name: str
    kind: str
    threshold: float
    window_seconds: float
    baseline_factor: float
    cooldown_seconds: float
    firing: bool
    value: float
    baseline: float
    fired: int


class AlertSource(TypedDict):
    version: str
    worker: str


class AlertEndpoint(TypedDict):
    host: str
    method: str
    template: str


class AlertEvent(TypedDict):
    """An episode starting or ending: what the webhooks receive and the decision log records."""

    id: str
    alert: str
    kind: str
    state: Literal["firing", "resolved"]
    value: float
    threshold: float
    baseline: float
    window_seconds: float
    time: float
    since: float
    botwall: AlertSource
    endpoint: NotRequired[AlertEndpoint]  # an endpoint kind's episode: which endpoint, and its requests in the window
    requests: NotRequired[int]
    change: NotRequired[AlertChange]  # an event's start or end (kind "event"): who, why, the policies it switched


class AlertChange(TypedDict):
    by: str
    why: str
    policies: list[str]


class WebhookState(TypedDict):
    name: str
    format: str
    signed: bool
    delivered: int
    failed_attempts: int
    dropped: int


class AlertsResponse(TypedDict):
    triggers: list[AlertTriggerState]
    events: list[AlertEvent]
    webhooks: list[WebhookState]


# --- /api/v1/config.


class EventRow(TypedDict):
    """An event (event mode): its state, window, the load it expects, and the policies it puts first while it runs."""

    name: str
    state: Literal["running", "scheduled", "ended", "idle"]
    start: float | None
    end: float | None
    running_since: float | None
    running_until: float | None
    started_by: str | None
    expected_rps: float
    min_score: int
    challenge_new_clients: bool
    require_token: bool
    policies: list[str]


class AuditChange(TypedDict):
    policies: NotRequired[list[str]]  # an event's
    running: NotRequired[bool]
    state: NotRequired[str]  # a mitigation's, after the change
    tells: NotRequired[list[str]]


# --- /api/v1/mitigations (`botwall.mitigations`).


class MitigationEvidence(TypedDict):
    requests: int  # carrying the tells when it was derived
    suspect: int
    addresses: int
    first_seen: float
    last_seen: float
    fingerprints: list[str]  # up to 8
    paths: list[str]  # up to 8


class MitigationRow(TypedDict):
    id: str
    state: str  # shadow, live, discarded, expired, revoked
    tells: list[str]
    created: float
    shadow_until: float
    expires: float | None  # None: pinned
    pinned: bool
    hits: int  # refused while live
    shadow_hits: int  # would have been refused in shadow
    collateral: int  # clean cookie holders matched in shadow (any: discarded)
    spared: int  # clean cookie holders matched while live, let through
    ended: float | None
    evidence: MitigationEvidence


class MitigationsResponse(TypedDict):
    mitigations: list[MitigationRow]


class MitigationResponse(TypedDict):
    mitigation: MitigationRow


class MitigationChange(TypedDict):
    """Pin, shorten (by `minutes` from now) or revoke a mitigation; who asks and why go to the audit trail."""

    minutes: NotRequired[float]
    by: NotRequired[str]
    why: NotRequired[str]


class AuditEntry(TypedDict):
    """One automated or manual change: who or what made it, when, why, and what it changed."""

    time: float
    by: str
    action: str
    target: str
    why: str
    changed: AuditChange


class EventsResponse(TypedDict):
    events: list[EventRow]
    expected_rps: float  # what the running events, and those about to start, expect (the autoscaling gauge)


class AuditResponse(TypedDict):
    audit: list[AuditEntry]  # newest first


class EventChange(TypedDict):
    """Start or stop an event: for how long (start), who asks and why (both go to the audit trail)."""

    minutes: NotRequired[float]
    by: NotRequired[str]
    why: NotRequired[str]


class EventDefinition(TypedDict):
    """A new event, as an `events:` entry of the config reads (validated the same way), and whether to start it."""

    event: dict[str, Any]
    start_minutes: NotRequired[float]
    by: NotRequired[str]
    why: NotRequired[str]


class EventResponse(TypedDict):
    event: EventRow


class MatchView(TypedDict, total=False):
    hosts: list[str]  # exact names, and `*.suffix`
    path: dict[str, str]  # {prefix|exact|regex: value}
    methods: list[str]


class ThrottleView(TypedDict):
    key: str
    rate_per_minute: float
    burst: int


class PolicyView(TypedDict):
    name: str
    match: MatchView
    action: Action
    min_score: int
    shadow: bool
    throttle: NotRequired[ThrottleView]


class LoginRouteView(TypedDict):
    name: str
    match: MatchView
    format: str


class ThresholdsView(TypedDict):
    suspect: int
    bot: int


class StateView(TypedDict):
    backend: str
    max_entries: int


class ModelView(TypedDict):
    scorer: str


class AdminView(TypedDict):
    open_paths: list[str]


class ConfigView(TypedDict):
    """The configuration botwall runs with, never a secret."""

    source: str
    shadow: bool
    thresholds: ThresholdsView
    policies: list[PolicyView]
    login_routes: list[LoginRouteView]
    state: StateView
    model: ModelView
    on_error: str
    admin: AdminView


# --- /api/v1/openapi.json.


class OpenApiDocument(TypedDict):
    openapi: str
    info: ApiInfo
    components: dict[str, dict[str, Any]]
    security: list[dict[str, list[str]]]
    paths: dict[str, dict[str, Any]]


# --- JSON Schema from the types.

_SCALARS: dict[object, dict[str, Any]] = {
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    str: {"type": "string"},
    type(None): {"type": "null"},
    None: {"type": "null"},
    Any: {},
}


class SchemaSet:
    """JSON Schemas of types, each TypedDict once under its class name in `schemas` (OpenAPI's
    `components.schemas`) and referred to by `$ref` wherever it is used."""

    def __init__(self, ref_prefix: str = "#/components/schemas/") -> None:
        self.schemas: dict[str, dict[str, Any]] = {}
        self._owners: dict[str, object] = {}
        self._prefix = ref_prefix

    def of(self, tp: object) -> dict[str, Any]:
        """The schema of `tp`: str, int, float, bool, None, Any, a str enum, Literal, a union, list[X], tuple[X, Y]
        or tuple[X, ...], dict[str, X], or a TypedDict (a `$ref`). Anything else is a TypeError: a type the
        document cannot describe is a bug to fix where it is declared."""
        if tp in _SCALARS:
            return dict(_SCALARS[tp])
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            values = [member.value for member in tp]
            if not all(isinstance(v, str) for v in values):
                raise TypeError(f"no JSON Schema for {tp!r}: only string enums")
            return {"type": "string", "enum": values}
        if is_typeddict(tp):
            return self._ref(tp)
        origin, args = get_origin(tp), get_args(tp)
        if origin is Literal:
            schema: dict[str, Any] = {"enum": list(args)}
            if all(isinstance(a, str) for a in args):
                schema["type"] = "string"
            return schema
        if origin is Union or origin is types.UnionType:
            return {"anyOf": [self.of(a) for a in args]}
        if origin is list:
            return {"type": "array", "items": self.of(args[0])}
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return {"type": "array", "items": self.of(args[0])}
            items = [self.of(a) for a in args]
            return {
                "type": "array",
                "prefixItems": items,
                "minItems": len(items),
                "maxItems": len(items),
                "items": False,
            }
        if origin is dict:
            if args[0] is not str:
                raise TypeError(f"no JSON Schema for {tp!r}: JSON object keys are strings")
            return {"type": "object", "additionalProperties": self.of(args[1])}
        raise TypeError(f"no JSON Schema for {tp!r}")

    def _ref(self, tp: Any) -> dict[str, Any]:
        name: str = tp.__name__
        ref = {"$ref": self._prefix + name}
        owner = self._owners.get(name)
        if owner is tp:
            return ref
        if owner is not None:
            raise TypeError(f"two types named {name}: {owner!r} and {tp!r}")
        self._owners[name] = tp
        self.schemas[name] = {}  # claimed before its fields, so a type that contains itself refers to itself
        properties: dict[str, Any] = {}
        required: list[str] = []
        # From the evaluated hints, not `__required_keys__`: under `from __future__ import annotations` Python 3.11
        # cannot see NotRequired inside a string annotation, and counts every key as required.
        for key, hint in get_type_hints(tp, include_extras=True).items():
            origin = get_origin(hint)
            if origin is NotRequired or origin is Required:
                hint, needed = get_args(hint)[0], origin is Required
            else:
                needed = tp.__total__
            properties[key] = self.of(hint)
            if needed:
                required.append(key)
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        schema["additionalProperties"] = False
        if tp.__doc__:
            schema["description"] = " ".join(tp.__doc__.split())
        self.schemas[name] = schema
        return ref
