"""botwall's YAML configuration: policies, thresholds, state and logging, validated once at start-up.

Every error names the file, the key (as a path such as `policies[2].throttle.burst`) and what was expected, so an
operator can fix a config without reading code. The embedded defaults (`DEFAULT_CONFIG_YAML`) are what `make run`
and `botwall up` use when no file is given.
"""

from __future__ import annotations

import datetime
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

import re2
import yaml

from botwall.errors import ConfigError, Reader
from botwall.evidence.credentials import LoginRoute
from botwall.evidence.infra import InfraSettings, parse_infra_settings
from botwall.evidence.transactions import TransactionRoute
from botwall.request import Match, PathMatch


class Action(enum.StrEnum):
    """What a policy does with a request (see the decision contract in proto/decision.proto)."""

    ALLOW = "allow"
    MONITOR = "monitor"
    BLOCK = "block"
    THROTTLE = "throttle"
    DECEIVE = "deceive"
    CHALLENGE = "challenge"


@dataclass(frozen=True, slots=True)
class ThrottleSpec:
    """A token bucket: `burst` requests at once, refilled at `rate` requests per second, per key."""

    key: str  # "ip", "fingerprint" or "header:<name>"
    rate: float
    burst: int


@dataclass(frozen=True, slots=True)
class DeceiveSpec:
    """The answer a deceive policy returns instead of calling the upstream: one synthesized from the shape of the
    endpoint's real answers to people once botwall learned it (`learn`, `botwall.deception`), else this static one.
    `endpoints`, when given, are the endpoint templates (`/api/products/{id}`) the policy deceives on; elsewhere the
    next policy decides."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    learn: bool = True
    endpoints: tuple[str, ...] = ()
    _patterns: tuple[re.Pattern[str], ...] = ()

    def covers(self, path: str) -> bool:
        """Whether the policy deceives on this path (its endpoint is named, or none are)."""
        return not self._patterns or any(p.fullmatch(path) for p in self._patterns)


def template_pattern(template: str) -> re.Pattern[str]:
    """The paths of an endpoint template: `{name}` is one path segment, a trailing `{rest}` any remainder."""
    parts = []
    for segment in template.split("/"):
        if segment == "{rest}":
            parts.append(".+")
        elif segment.startswith("{") and segment.endswith("}"):
            parts.append("[^/]+")
        else:
            parts.append(re.escape(segment))
    return re.compile("/".join(parts))


@dataclass(frozen=True, slots=True)
class DeceptionSettings:
    """Learning the shape of real answers (`botwall.deception`): how many to sample, and what bounds it."""

    learn: bool = True  # sample answers to people and learn their shape; off: deceive policies answer statically
    min_samples: int = 20  # answers from at least 3 people before an endpoint's fake answers are drawn from them
    header_samples: int = 50  # per endpoint, every answer to a person is sampled until then; later `sample_rate`
    body_samples: int = 10  # per endpoint, bodies asked of Envoy until then; later `body_rate`
    sample_rate: float = 0.01
    body_rate: float = 0.001
    bodies_per_second: float = 20.0  # bodies read at most (JSON and HTML parsing is the costly part)
    max_endpoints: int = 1000
    max_delay_ms: int = 150  # a fake answer waits the upstream's latency, at most this (under Envoy's message timeout)
    max_traps: int = 10_000  # fake sessions remembered
    trap_ttl_seconds: float = 86_400.0


@dataclass(frozen=True, slots=True)
class Policy:
    """One rule: requests that match and score at least `min_score` get `action`."""

    name: str
    match: Match
    action: Action
    min_score: int = 0
    shadow: bool = False
    throttle: ThrottleSpec | None = None
    deceive: DeceiveSpec | None = None
    # Takes only requests that are not page views and hold no valid botwall token, or one never seen from this
    # network (an event's `require_token`).
    tokenless_only: bool = False


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Score bands for the verdict: below `suspect` is human, from `bot` up is bot."""

    suspect: int = 30
    bot: int = 70


@dataclass(frozen=True, slots=True)
class RedisSettings:
    """Where replicas share their state (`state.backend: redis`), see `botwall.state.shared`.

    `url` is redis:// or rediss:// (TLS), with the password in it (`redis://:secret@host:6379/0`, or user and
    password for an ACL user) or in the environment variable `password_env` names, so a Kubernetes secret can hold it.
    Every key starts with `prefix:`, so deployments can share one Redis.
    """

    url: str = "redis://127.0.0.1:6379/0"
    prefix: str = "botwall"
    password_env: str = ""
    ca_file: str = ""
    sync_interval_ms: int = 50
    timeout_ms: int = 1000


@dataclass(frozen=True, slots=True)
class StateSettings:
    """Bounds of the in-memory state store, and whether replicas share it through Redis (`backend: redis`)."""

    max_entries: int = 100_000
    ttl_seconds: float = 900.0
    backend: str = "memory"
    redis: RedisSettings = field(default_factory=RedisSettings)


@dataclass(frozen=True, slots=True)
class DecisionLogSettings:
    """Which decisions are logged, and how repeats are folded so an attack cannot fill the disk.

    Every enforced or shadowed action and every login is logged, a sample of allowed requests too. Within each
    interval, the first `full_lines_per_key` decisions of a key (fingerprint, action, policy, top reason, login
    route) are written in full and the rest counted into one aggregate line at the interval's end; past `max_keys`
    keys in an interval, decisions are only counted, into one overflow line.
    """

    allow_sample_rate: float = 0.01
    interval_seconds: float = 10.0  # length of an aggregation interval
    full_lines_per_key: int = 3  # decisions of one key written in full per interval; the rest are counted
    max_keys: int = 100  # keys tracked per interval; decisions of further keys fold into one overflow line
    sample_size: int = 5  # distinct client addresses, paths and usernames kept in an aggregate line


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """How requests are scored: the confidence model, or the transparent rule weighting of the reason codes.

    The model is the one shipped inside the package (`path` empty) or an ONNX file from `botwall train`, re-read
    when it changes (`reload_seconds`; 0: never).
    """

    scorer: str = "model"  # "model" or "rules"
    path: str = ""  # "": the model shipped with botwall (botwall/data/botwall.onnx)
    reload_seconds: float = 5.0


@dataclass(frozen=True, slots=True)
class ClientCookieSettings:
    """botwall's own cookie: a signed token that a browser keeps and a cookie-dropping script does not.

    It is set on page responses to clients that do not hold a valid one, bound to the client's fingerprint, and
    signed with `BOTWALL_COOKIE_SECRET` (replicas must share it) or, without one, a per-process random key.
    """

    issue: bool = True
    name: str = "__bw"
    ttl_seconds: float = 86_400.0


@dataclass(frozen=True, slots=True)
class EnvoySettings:
    """How this Envoy hands over what botwall cannot see itself.

    TLS fingerprints normally arrive as filter state through `request_attributes` (clients cannot forge those).
    Where that is impossible (Envoy Gateway only allows a few attribute prefixes), name the headers the gateway sets
    itself, overwriting any client copy (Envoy Gateway: ClientTrafficPolicy `earlyRequestHeaders.set`). Only then
    are they trusted; botwall strips them before the upstream like every `x-botwall-*` header.
    """

    ja4_header: str = ""
    ja3_header: str = ""


# The admin listener's paths that may answer without its bearer token (`admin.open_paths`).
ADMIN_OPENABLE = ("/healthz", "/readyz", "/metrics")


@dataclass(frozen=True, slots=True)
class AdminSettings:
    """The admin listener (`botwall serve --admin-listen`): which of its paths answer without the bearer token. The
    probes by default (a kubelet sends no token); `/metrics` too where the scraper cannot send one."""

    open_paths: tuple[str, ...] = ("/healthz", "/readyz")


# The conditions an alert trigger can watch (`edge.alerts` evaluates them); the endpoint kinds watch each endpoint
# that discovery lists, each with its own episodes.
ENDPOINT_ALERT_KINDS = ("endpoint_bot_share", "endpoint_traffic")
ALERT_KINDS = (
    "accounts_under_attack", "failed_logins", "new_endpoint", "mitigation_rate", "model_reload_failed",
    *ENDPOINT_ALERT_KINDS,
)  # fmt: skip
# What an endpoint kind means by default where the generic defaults make no sense: endpoint_bot_share's threshold is a
# percentage of the endpoint's requests, endpoint_traffic's the requests in the window that a surge needs at least,
# and its baseline factor how far above the endpoint's own norm that is.
_KIND_DEFAULTS: dict[str, dict[str, float]] = {
    "endpoint_bot_share": {"threshold": 50.0},
    "endpoint_traffic": {"threshold": 20.0, "baseline_factor": 5.0},
}


@dataclass(frozen=True, slots=True)
class AlertTrigger:
    """One alert trigger: `kind` watched over `window_seconds`, firing once per episode above `threshold` (and, for
    rates, above `baseline_factor` times the previous hour's mean), then quiet for `cooldown_seconds` after it
    resolves. An endpoint kind keeps an episode per endpoint."""

    name: str
    kind: str
    threshold: float = 1.0
    window_seconds: float = 60.0
    baseline_factor: float = 0.0  # 0: the threshold alone
    cooldown_seconds: float = 600.0
    # endpoint_bot_share: the requests an endpoint needs in the window before its share is judged (1 of 1 is no share)
    min_requests: int = 20


@dataclass(frozen=True, slots=True)
class Webhook:
    """Where alerts go: a URL receiving JSON (`format: json`, signed with HMAC-SHA256 when `secret_env` names a
    variable holding the key) or a Slack-compatible message (`format: slack`)."""

    name: str
    url: str
    format: str = "json"
    secret_env: str = ""


@dataclass(frozen=True, slots=True)
class AlertSettings:
    triggers: tuple[AlertTrigger, ...] = ()
    webhooks: tuple[Webhook, ...] = ()


@dataclass(frozen=True, slots=True)
class Quota:
    """During an event: at most `requests` per `per_seconds` for each key (one purchase attempt per token, say)."""

    match: Match
    key: str  # as a throttle's: ip, fingerprint, token, header:<name>, cookie:<name>
    requests: int
    per_seconds: float


@dataclass(frozen=True, slots=True)
class EventSpec:
    """A drop or a sale: its endpoints get a stricter profile while it runs (by its schedule, or started by hand)."""

    name: str
    endpoints: tuple[Match, ...]
    start: float = 0.0  # epoch seconds; 0: no schedule (`botwall event start`, the admin API)
    end: float = 0.0
    expected_rps: float = 0.0  # the load expected: `botwall_event_expected_rps` carries it ahead of time
    prewarm_seconds: float = 900.0  # how long before the start the gauge rises (scale before the drop, not after)
    min_score: int = 50  # refuse on the endpoints from this score (the client's own evidence still needed)
    challenge_new_clients: bool = True  # page views from clients without botwall's cookie get the challenge
    require_token: bool = True  # API calls and form posts without botwall's cookie (or from a new network) refused
    quotas: tuple[Quota, ...] = ()


@dataclass(frozen=True, slots=True)
class AutomationSettings:
    """Mitigations derived from a campaign's stable tells (`botwall.mitigations`)."""

    mitigations: bool = True
    shadow_seconds: float = 60.0  # matched and counted, refusing nothing; live only with no collateral
    ttl_seconds: float = 1800.0  # a live one ends this long after its tells were last seen, unless pinned
    min_requests: int = 20  # requests carrying the tells before a mitigation is derived
    min_addresses: int = 5  # from at least this many addresses (a rotating campaign)


@dataclass(frozen=True, slots=True)
class Config:
    """The whole validated configuration."""

    source: str = "<defaults>"
    shadow: bool = False
    thresholds: Thresholds = field(default_factory=Thresholds)
    state: StateSettings = field(default_factory=StateSettings)
    decision_log: DecisionLogSettings = field(default_factory=DecisionLogSettings)
    policies: tuple[Policy, ...] = ()
    login_routes: tuple[LoginRoute, ...] = ()
    transactions: tuple[TransactionRoute, ...] = ()  # scored, tagged with their risk, sent for review; not refused
    automation: AutomationSettings = field(default_factory=AutomationSettings)
    deception: DeceptionSettings = field(default_factory=DeceptionSettings)
    envoy: EnvoySettings = field(default_factory=EnvoySettings)
    admin: AdminSettings = field(default_factory=AdminSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    events: tuple[EventSpec, ...] = ()
    ip_data: InfraSettings | None = None  # user IP data files (docs/ip-data.md); None: the shipped data only
    hibp_path: str = ""  # Have I Been Pwned Pwned Passwords: a sorted HASH:COUNT file or a range directory
    model: ModelSettings = field(default_factory=ModelSettings)
    client_cookie: ClientCookieSettings = field(default_factory=ClientCookieSettings)
    # What a request gets when botwall fails to judge it (a bug, never the input): "allow" (tagged `err:internal`:
    # availability first, but an attacker who finds the bug walks past), "challenge" (a browser holding botwall's
    # cookie passes, a page request without one gets the challenge, anything else is refused) or "block".
    on_error: str = "challenge"


DEFAULT_CONFIG_YAML = """\
# botwall's embedded defaults (what `make run` and `botwall up` use without --config).
# Policies are tried in order; the first that matches the request and whose min_score the request reaches decides.
# A request no policy takes is allowed and tagged for the upstream.
# Every setting not named here has its default (the dataclasses in botwall/config.py; config/example.yaml shows them).
# The demo shop's logins: a form and a JSON API. Their bodies go to botwall for the credential checks.
login_routes:
  - name: form-login
    match: {path: {exact: /login}, methods: [POST]}
    format: form
    fields: {username: username, password: password}
    success: {status: [302, 303], set_cookie: session}
    failure: {status: [401]}
  - name: api-login
    match: {path: {exact: /api/login}, methods: [POST]}
    format: json
    fields: {username: username, password: password}
    success: {status: [200]}
    failure: {status: [401]}
policies:
  # Scanners looking for admin panels get a convincing but fake page; the upstream never sees them.
  - name: honeytrap-wp-login
    match: {path: {prefix: /wp-login.php}}
    action: deceive
    deceive:
      status: 200
      content_type: text/html; charset=utf-8
      body: >-
        <!doctype html><title>Log In</title>
        <form method=post><input name=log><input name=pwd type=password></form>
  # A page request that scores as a bot, from a client without botwall's cookie, gets a page that sets the cookie
  # and reloads itself: a browser is back within a round trip, with the cookie; a script that drops cookies is
  # refused. Requests that cannot be challenged (API calls, tool signatures, a client that came back without the
  # cookie) are refused at once.
  - name: challenge-bots
    min_score: 70
    action: challenge
  # Clearly automated clients are refused everywhere, including those holding the cookie.
  - name: block-bots
    min_score: 70
    action: block
  # Logins are the stuffing target: what is not clearly a bot gets at most 5 attempts at once per client IP,
  # then one every 6 seconds.
  - name: login-throttle
    match: {path: {regex: "/(api/)?login"}, methods: [POST]}
    action: throttle
    throttle: {key: ip, rate_per_minute: 10, burst: 5}
"""

_TOP_KEYS = {
    "shadow",
    "thresholds",
    "state",
    "decision_log",
    "policies",
    "login_routes",
    "transactions",
    "automation",
    "deception",
    "envoy",
    "admin",
    "alerts",
    "events",
    "ip_data",
    "passwords",
    "model",
    "client_cookie",
    "on_error",
}
_POLICY_KEYS = {"name", "match", "action", "min_score", "shadow", "throttle", "deceive"}


def _parse_path(r: Reader, raw: object, key: str) -> PathMatch:
    m = r.mapping(raw, key, {"prefix", "exact", "regex"})
    if len(m) != 1:
        raise r.fail(key, "exactly one of prefix, exact or regex", dict(m))
    kind, value = next(iter(m.items()))
    text = r.string(value, f"{key}.{kind}")
    if kind == "regex":
        # RE2, not Python's `re`: matching takes time linear in the path, so no crafted path can stall the loop
        # (`/assets/([a-z0-9]+/?)*\.js` took 3.4 s on one path with `re`). RE2 has no backreferences or lookarounds.
        options = re2.Options()
        options.log_errors = False
        try:
            return PathMatch(kind, text, re2.compile(text, options))
        except re2.error as exc:
            detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
            raise r.fail(f"{key}.regex", f"a regular expression RE2 accepts ({detail})", text) from None
    if not text.startswith("/"):
        raise r.fail(f"{key}.{kind}", "a path starting with '/'", text)
    return PathMatch(kind, text)


def _parse_match(r: Reader, raw: object, key: str) -> Match:
    if raw is None:
        return Match()
    m = r.mapping(raw, key, {"hosts", "path", "methods"})
    hosts: set[str] = set()
    suffixes: list[str] = []
    raw_hosts = m.get("hosts", [])
    if not isinstance(raw_hosts, list):
        raise r.fail(f"{key}.hosts", "a list of host names (`*.example.com` allowed)", raw_hosts)
    for i, h in enumerate(raw_hosts):
        host = r.string(h, f"{key}.hosts[{i}]").lower()
        if host.startswith("*."):
            suffixes.append(host[1:])
        else:
            hosts.add(host)
    raw_methods = m.get("methods", [])
    if not isinstance(raw_methods, list):
        raise r.fail(f"{key}.methods", "a list of HTTP methods", raw_methods)
    methods = frozenset(r.string(x, f"{key}.methods[{i}]").upper() for i, x in enumerate(raw_methods))
    path = _parse_path(r, m["path"], f"{key}.path") if "path" in m else None
    return Match(frozenset(hosts), tuple(suffixes), path, methods)


def _parse_throttle(r: Reader, raw: object, key: str) -> ThrottleSpec:
    m = r.mapping(raw, key, {"key", "rate_per_second", "rate_per_minute", "burst"})
    bucket_key = _bucket_key(r, m.get("key", "ip"), f"{key}.key")
    if ("rate_per_second" in m) == ("rate_per_minute" in m):
        raise r.fail(key, "exactly one of rate_per_second or rate_per_minute", show_got=False)
    if "rate_per_second" in m:
        rate = r.number(m["rate_per_second"], f"{key}.rate_per_second", 0.001, 1e6)
    else:
        rate = r.number(m["rate_per_minute"], f"{key}.rate_per_minute", 0.001, 1e8) / 60.0
    burst = r.integer(m.get("burst", 1), f"{key}.burst", 1, 1_000_000)
    return ThrottleSpec(bucket_key, rate, burst)


def _bucket_key(r: Reader, raw: object, key: str) -> str:
    """What a throttle or a quota counts per: `ip`, `fingerprint`, `token` (botwall's cookie, else the address),
    `header:<name>` or `cookie:<name>` (the site's session cookie: per account)."""
    text = r.string(raw, key)
    named = text.startswith(("header:", "cookie:")) and len(text) > len("header:")
    if text not in ("ip", "fingerprint", "token") and not named:
        raise r.fail(key, "'ip', 'fingerprint', 'token', 'header:<name>' or 'cookie:<name>'", text)
    return text.lower() if text.startswith("header:") else text


def _parse_deceive(r: Reader, raw: object, key: str) -> DeceiveSpec:
    m = r.mapping(raw, key, {"status", "content_type", "headers", "body", "learn", "endpoints"})
    status = r.integer(m.get("status", 200), f"{key}.status", 200, 599)
    content_type = r.string(m.get("content_type", "text/html; charset=utf-8"), f"{key}.content_type")
    raw_headers = m.get("headers", {})
    if not isinstance(raw_headers, Mapping):
        raise r.fail(f"{key}.headers", "a mapping of header name to value", raw_headers)
    headers = [("content-type", content_type)]
    for name, value in raw_headers.items():
        if not isinstance(name, str) or not name or name.startswith(":") or not isinstance(value, str):
            raise r.fail(f"{key}.headers.{name}", "a header name mapped to a string value", value)
        headers.append((name.lower(), value))
    body = m.get("body", "")
    if not isinstance(body, str):
        raise r.fail(f"{key}.body", "a string", body)
    endpoints = m.get("endpoints", [])
    if not isinstance(endpoints, list) or not all(isinstance(e, str) and e.startswith("/") for e in endpoints):
        raise r.fail(f"{key}.endpoints", "a list of endpoint templates such as /api/products/{id}", endpoints)
    learn = r.boolean(m.get("learn", True), f"{key}.learn")
    patterns = tuple(template_pattern(e) for e in endpoints)
    return DeceiveSpec(status, tuple(headers), body.encode(), learn, tuple(endpoints), patterns)


def _parse_policy(r: Reader, raw: object, key: str, seen: set[str]) -> Policy:
    m = r.mapping(raw, key, _POLICY_KEYS)
    name = r.string(m.get("name"), f"{key}.name")
    if name in seen:
        raise r.fail(f"{key}.name", "a policy name not used before", name)
    seen.add(name)
    action_text = m.get("action")
    try:
        action = Action(str(action_text))
    except ValueError:
        raise r.fail(f"{key}.action", "one of monitor, block, throttle, deceive, challenge", action_text) from None
    if action is Action.ALLOW:
        raise r.fail(f"{key}.action", "one of monitor, block, throttle, deceive, challenge", action_text)
    throttle = deceive = None
    if action is Action.THROTTLE:
        if "throttle" not in m:
            raise r.fail(f"{key}.throttle", "a throttle section for action throttle", show_got=False)
        throttle = _parse_throttle(r, m["throttle"], f"{key}.throttle")
    elif "throttle" in m:
        raise r.fail(f"{key}.throttle", "no throttle section unless action is throttle", show_got=False)
    if action is Action.DECEIVE:
        deceive = _parse_deceive(r, m.get("deceive", {}), f"{key}.deceive")
    elif "deceive" in m:
        raise r.fail(f"{key}.deceive", "no deceive section unless action is deceive", show_got=False)
    return Policy(
        name=name,
        match=_parse_match(r, m.get("match"), f"{key}.match"),
        action=action,
        min_score=r.integer(m.get("min_score", 0), f"{key}.min_score", 0, 100),
        shadow=r.boolean(m.get("shadow", False), f"{key}.shadow"),
        throttle=throttle,
        deceive=deceive,
    )


def _status_set(r: Reader, raw: object, key: str) -> frozenset[int]:
    if not isinstance(raw, list):
        raise r.fail(key, "a list of HTTP status codes", raw)
    return frozenset(r.integer(code, f"{key}[{i}]", 100, 599) for i, code in enumerate(raw))


def _body_route(r: Reader, m: Mapping[str, object], key: str, what: str) -> str:
    """A route whose body botwall reads has a match, and a format (returned): form, json or auto."""
    if "match" not in m:
        raise r.fail(f"{key}.match", f"a match section (path and methods of {what})", show_got=False)
    fmt = m.get("format", "auto")
    if fmt not in ("form", "json", "auto"):
        raise r.fail(f"{key}.format", "one of form, json, auto", fmt)
    return str(fmt)


def _parse_login_route(r: Reader, raw: object, key: str, seen: set[str]) -> LoginRoute:
    m = r.mapping(raw, key, {"name", "match", "format", "fields", "success", "failure", "max_body_bytes"})
    name = r.string(m.get("name"), f"{key}.name")
    if name in seen:
        raise r.fail(f"{key}.name", "a login route name not used before", name)
    seen.add(name)
    fmt = _body_route(r, m, key, "the login endpoint")
    fields = r.mapping(m.get("fields", {}), f"{key}.fields", {"username", "password"})
    success = r.mapping(m.get("success", {}), f"{key}.success", {"status", "set_cookie"})
    failure = r.mapping(m.get("failure", {}), f"{key}.failure", {"status"})
    success_status = _status_set(r, success.get("status", [200, 302, 303]), f"{key}.success.status")
    failure_status = _status_set(r, failure.get("status", [400, 401, 403]), f"{key}.failure.status")
    if success_status & failure_status:
        raise r.fail(f"{key}.failure.status", "codes not also listed in success.status", sorted(failure_status))
    cookie = success.get("set_cookie", "")
    if not isinstance(cookie, str):
        raise r.fail(f"{key}.success.set_cookie", "a cookie name", cookie)
    return LoginRoute(
        name=name,
        match=_parse_match(r, m["match"], f"{key}.match"),
        format=str(fmt),
        username_field=r.string(fields.get("username", "username"), f"{key}.fields.username"),
        password_field=r.string(fields.get("password", "password"), f"{key}.fields.password"),
        success_status=success_status,
        success_cookie=cookie,
        failure_status=failure_status,
        max_body_bytes=r.integer(m.get("max_body_bytes", _LOGIN_BODY_BYTES), f"{key}.max_body_bytes", 64, 1_048_576),
    )


_FIELD_PATH = re.compile(r"[A-Za-z0-9_\-\[\]]+(\.[A-Za-z0-9_\-\[\]]+)*")
_MAX_TRANSACTION_FIELDS = 16


def _parse_transactions(r: Reader, raw: object, suspect: int) -> tuple[TransactionRoute, ...]:
    if not isinstance(raw, list):
        raise r.fail("transactions", "a list of transaction routes", raw)
    seen: set[str] = set()
    return tuple(_parse_transaction(r, x, f"transactions[{i}]", seen, suspect) for i, x in enumerate(raw))


def _parse_transaction(r: Reader, raw: object, key: str, seen: set[str], suspect: int) -> TransactionRoute:
    m = r.mapping(raw, key, {"name", "match", "format", "fields", "max_body_bytes", "review_from"})
    name = r.string(m.get("name"), f"{key}.name")
    if name in seen or not re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", name):
        raise r.fail(
            f"{key}.name", "a name of 1-64 letters, digits, dots, dashes or underscores, not used before", name
        )
    seen.add(name)
    fmt = _body_route(r, m, key, "the transaction")
    raw_fields = m.get("fields", [])
    if (
        not isinstance(raw_fields, list)
        or len(raw_fields) > _MAX_TRANSACTION_FIELDS
        or not all(isinstance(f, str) and _FIELD_PATH.fullmatch(f) for f in raw_fields)
    ):
        raise r.fail(
            f"{key}.fields",
            f"a list of at most {_MAX_TRANSACTION_FIELDS} body field names (JSON: dotted paths, applicant.email)",
            raw_fields,
        )
    return TransactionRoute(
        name=name,
        match=_parse_match(r, m["match"], f"{key}.match"),
        format=str(fmt),
        fields=tuple(dict.fromkeys(raw_fields)),
        max_body_bytes=r.integer(
            m.get("max_body_bytes", _TRANSACTION_BODY_BYTES), f"{key}.max_body_bytes", 64, 1_048_576
        ),
        review_from=r.integer(m.get("review_from", suspect), f"{key}.review_from", 0, 100),
    )


def _header_name(r: Reader, raw: object, key: str) -> str:
    if raw == "":
        return ""
    if not isinstance(raw, str) or not re.fullmatch(r"[A-Za-z0-9-]+", raw):
        raise r.fail(key, "a header name (letters, digits and dashes)", raw)
    return raw.lower()


# Defaults are written once, in the dataclasses: what a file leaves out comes from these.
_BASE = Config()
_LOGIN_BODY_BYTES = next(f.default for f in fields(LoginRoute) if f.name == "max_body_bytes")
_TRANSACTION_BODY_BYTES = next(f.default for f in fields(TransactionRoute) if f.name == "max_body_bytes")


def parse_config(data: object, source: str, base_dir: Path | None = None) -> Config:
    """Validate already-loaded YAML data; `source` names it in errors, relative file paths resolve from `base_dir`."""

    r = Reader(source)
    if data is None:
        data = {}
    m = r.mapping(data, "", _TOP_KEYS)
    t = r.mapping(m.get("thresholds", {}), "thresholds", {"suspect", "bot"})
    thresholds = Thresholds(
        suspect=r.integer(t.get("suspect", _BASE.thresholds.suspect), "thresholds.suspect", 1, 100),
        bot=r.integer(t.get("bot", _BASE.thresholds.bot), "thresholds.bot", 1, 100),
    )
    if thresholds.suspect > thresholds.bot:
        raise r.fail(
            "thresholds.suspect", f"a value no higher than thresholds.bot ({thresholds.bot})", thresholds.suspect
        )
    state = _parse_state(r, m.get("state", {}), base_dir)
    log = _parse_decision_log(r, m.get("decision_log", {}))
    raw_policies = m.get("policies", [])
    if not isinstance(raw_policies, list):
        raise r.fail("policies", "a list of policies", raw_policies)
    seen: set[str] = set()
    policies = tuple(_parse_policy(r, p, f"policies[{i}]", seen) for i, p in enumerate(raw_policies))
    raw_routes = m.get("login_routes", [])
    if not isinstance(raw_routes, list):
        raise r.fail("login_routes", "a list of login routes", raw_routes)
    seen_routes: set[str] = set()
    login_routes = tuple(_parse_login_route(r, x, f"login_routes[{i}]", seen_routes) for i, x in enumerate(raw_routes))
    e = r.mapping(m.get("envoy", {}), "envoy", {"ja4_header", "ja3_header"})
    envoy = EnvoySettings(
        ja4_header=_header_name(r, e.get("ja4_header", ""), "envoy.ja4_header"),
        ja3_header=_header_name(r, e.get("ja3_header", ""), "envoy.ja3_header"),
    )
    a = r.mapping(m.get("admin", {}), "admin", {"open_paths"})
    open_paths = a.get("open_paths", list(_BASE.admin.open_paths))
    if not isinstance(open_paths, list) or any(path not in ADMIN_OPENABLE for path in open_paths):
        raise r.fail("admin.open_paths", f"a list of paths among {list(ADMIN_OPENABLE)}", open_paths)
    admin = AdminSettings(open_paths=tuple(dict.fromkeys(open_paths)))
    alerts = _parse_alerts(r, m.get("alerts", {}))
    ip_data = parse_infra_settings(m.get("ip_data"), source, "ip_data", base_dir) if "ip_data" in m else None
    pw = r.mapping(m.get("passwords", {}), "passwords", {"hibp_path"})
    hibp_path = ""
    if "hibp_path" in pw:
        hibp_path = r.string(pw["hibp_path"], "passwords.hibp_path")
        if base_dir is not None and not Path(hibp_path).is_absolute():
            hibp_path = str(base_dir / hibp_path)
    return Config(
        source=source,
        model=_parse_model(r, m["model"], base_dir) if "model" in m else ModelSettings(),
        client_cookie=_parse_client_cookie(r, m.get("client_cookie", {})),
        on_error=_parse_on_error(r, m.get("on_error", _BASE.on_error)),
        envoy=envoy,
        admin=admin,
        alerts=alerts,
        events=_parse_events(r, m.get("events", [])),
        ip_data=ip_data,
        hibp_path=hibp_path,
        shadow=r.boolean(m.get("shadow", _BASE.shadow), "shadow"),
        thresholds=thresholds,
        state=state,
        decision_log=log,
        policies=policies,
        login_routes=login_routes,
        transactions=_parse_transactions(r, m.get("transactions", []), thresholds.suspect),
        automation=_parse_automation(r, m.get("automation", {})),
        deception=_parse_deception(r, m.get("deception", {})),
    )


def _parse_deception(r: Reader, raw: object) -> DeceptionSettings:
    base = DeceptionSettings()
    d = r.mapping(raw, "deception", set(DeceptionSettings.__dataclass_fields__))

    def integer(name: str, low: int, high: int) -> int:
        return r.integer(d.get(name, getattr(base, name)), f"deception.{name}", low, high)

    def number(name: str, low: float, high: float) -> float:
        return r.number(d.get(name, getattr(base, name)), f"deception.{name}", low, high)

    return DeceptionSettings(
        learn=r.boolean(d.get("learn", base.learn), "deception.learn"),
        min_samples=integer("min_samples", 3, 100_000),
        header_samples=integer("header_samples", 0, 100_000),
        body_samples=integer("body_samples", 0, 10_000),
        sample_rate=number("sample_rate", 0.0, 1.0),
        body_rate=number("body_rate", 0.0, 1.0),
        bodies_per_second=number("bodies_per_second", 0.0, 10_000.0),
        max_endpoints=integer("max_endpoints", 1, 100_000),
        max_delay_ms=integer("max_delay_ms", 0, 10_000),
        max_traps=integer("max_traps", 0, 1_000_000),
        trap_ttl_seconds=number("trap_ttl_seconds", 60.0, 30 * 86_400.0),
    )


def _parse_automation(r: Reader, raw: object) -> AutomationSettings:
    keys = {"mitigations", "shadow_seconds", "ttl_seconds", "min_requests", "min_addresses"}
    a = r.mapping(raw, "automation", keys)
    base = AutomationSettings()
    return AutomationSettings(
        mitigations=r.boolean(a.get("mitigations", base.mitigations), "automation.mitigations"),
        shadow_seconds=r.number(a.get("shadow_seconds", base.shadow_seconds), "automation.shadow_seconds", 0, 86_400),
        ttl_seconds=r.number(a.get("ttl_seconds", base.ttl_seconds), "automation.ttl_seconds", 10, 7 * 86_400),
        min_requests=r.integer(a.get("min_requests", base.min_requests), "automation.min_requests", 5, 1_000_000),
        min_addresses=r.integer(a.get("min_addresses", base.min_addresses), "automation.min_addresses", 2, 1_000_000),
    )


def _parse_state(r: Reader, raw: object, base_dir: Path | None) -> StateSettings:
    s = r.mapping(raw, "state", {"max_entries", "ttl_seconds", "backend", "redis"})
    backend = s.get("backend", _BASE.state.backend)
    if backend not in ("memory", "redis"):
        raise r.fail("state.backend", "memory or redis", backend)
    if "redis" in s and backend != "redis":
        raise r.fail("state.redis", "no redis section unless state.backend is redis", show_got=False)
    keys = {"url", "prefix", "password_env", "ca_file", "sync_interval_ms", "timeout_ms"}
    x = r.mapping(s.get("redis", {}), "state.redis", keys)
    base = RedisSettings()
    url = r.string(x.get("url", base.url), "state.redis.url")
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise r.fail("state.redis.url", "a redis://, rediss:// (TLS) or unix:// URL", url)
    prefix = r.string(x.get("prefix", base.prefix), "state.redis.prefix")
    if not prefix or len(prefix) > 64 or any(c.isspace() or c in "{}" for c in prefix):
        raise r.fail("state.redis.prefix", "1-64 characters without spaces or braces", prefix)
    ca_file = r.string(x["ca_file"], "state.redis.ca_file") if "ca_file" in x else ""
    if ca_file and base_dir is not None and not Path(ca_file).is_absolute():
        ca_file = str(base_dir / ca_file)
    redis = RedisSettings(
        url=url,
        prefix=prefix,
        password_env=r.string(x["password_env"], "state.redis.password_env") if "password_env" in x else "",
        ca_file=ca_file,
        sync_interval_ms=r.integer(
            x.get("sync_interval_ms", base.sync_interval_ms), "state.redis.sync_interval_ms", 5, 5000
        ),
        timeout_ms=r.integer(x.get("timeout_ms", base.timeout_ms), "state.redis.timeout_ms", 10, 60_000),
    )
    return StateSettings(
        max_entries=r.integer(s.get("max_entries", _BASE.state.max_entries), "state.max_entries", 100, 100_000_000),
        ttl_seconds=r.number(s.get("ttl_seconds", _BASE.state.ttl_seconds), "state.ttl_seconds", 1, 7 * 86_400),
        backend=backend,
        redis=redis,
    )


def _parse_decision_log(r: Reader, raw: object) -> DecisionLogSettings:
    keys = {"allow_sample_rate", "interval_seconds", "full_lines_per_key", "max_keys", "sample_size"}
    d = r.mapping(raw, "decision_log", keys)
    base = DecisionLogSettings()
    key = "decision_log."
    return DecisionLogSettings(
        allow_sample_rate=r.number(d.get("allow_sample_rate", base.allow_sample_rate), key + "allow_sample_rate", 0, 1),
        interval_seconds=r.number(d.get("interval_seconds", base.interval_seconds), key + "interval_seconds", 1, 3600),
        full_lines_per_key=r.integer(
            d.get("full_lines_per_key", base.full_lines_per_key), key + "full_lines_per_key", 1, 1000
        ),
        max_keys=r.integer(d.get("max_keys", base.max_keys), key + "max_keys", 1, 100_000),
        sample_size=r.integer(d.get("sample_size", base.sample_size), key + "sample_size", 0, 50),
    )


def _parse_model(r: Reader, raw: object, base_dir: Path | None) -> ModelSettings:
    m = r.mapping(raw, "model", {"scorer", "path", "reload_seconds"})
    scorer = r.string(m.get("scorer", _BASE.model.scorer), "model.scorer")
    if scorer not in ("model", "rules"):
        raise r.fail("model.scorer", "'model' (the confidence model) or 'rules' (the reason-code weighting)", scorer)
    path = ""
    if "path" in m:
        if scorer == "rules":
            raise r.fail("model.path", "no path with scorer: rules (the rule scorer reads no file)", m["path"])
        path = r.string(m["path"], "model.path")
        if base_dir is not None and not Path(path).is_absolute():
            path = str(base_dir / path)
    reload = r.number(m.get("reload_seconds", _BASE.model.reload_seconds), "model.reload_seconds", 0, 86_400)
    return ModelSettings(scorer, path, reload)


ON_ERROR = ("allow", "challenge", "block")


def _parse_on_error(r: Reader, raw: object) -> str:
    if raw not in ON_ERROR:
        raise r.fail("on_error", "one of allow, challenge, block", raw)
    return str(raw)


def _parse_client_cookie(r: Reader, raw: object) -> ClientCookieSettings:
    m = r.mapping(raw, "client_cookie", {"issue", "name", "ttl_seconds"})
    name = m.get("name", _BASE.client_cookie.name)
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise r.fail("client_cookie.name", "a cookie name (letters, digits, '_', '.', '-')", name)
    return ClientCookieSettings(
        issue=r.boolean(m.get("issue", _BASE.client_cookie.issue), "client_cookie.issue"),
        name=name,
        ttl_seconds=r.number(
            m.get("ttl_seconds", _BASE.client_cookie.ttl_seconds),
            "client_cookie.ttl_seconds",
            60,
            30 * 86_400,
        ),
    )


_TRIGGER_KEYS = {"name", "kind", "threshold", "window_seconds", "baseline_factor", "cooldown_seconds", "min_requests"}


def _parse_trigger(r: Reader, raw: object, key: str, names: set[str]) -> AlertTrigger:
    t = r.mapping(raw, key, _TRIGGER_KEYS)
    name = r.string(t.get("name"), f"{key}.name")
    if name in names:
        raise r.fail(f"{key}.name", "a name no other trigger has", name)
    names.add(name)
    kind = t.get("kind")
    if kind not in ALERT_KINDS:
        raise r.fail(f"{key}.kind", f"one of {list(ALERT_KINDS)}", kind)
    base = AlertTrigger(name, kind)
    defaults = _KIND_DEFAULTS.get(kind, {})
    if "min_requests" in t and kind != "endpoint_bot_share":
        raise r.fail(f"{key}.min_requests", "no min_requests unless kind is endpoint_bot_share", show_got=False)
    if "baseline_factor" in t and kind == "endpoint_bot_share":
        raise r.fail(f"{key}.baseline_factor", "no baseline_factor for kind endpoint_bot_share", show_got=False)
    threshold = r.number(t.get("threshold", defaults.get("threshold", base.threshold)), f"{key}.threshold", 0, 1e9)
    if kind == "endpoint_bot_share" and threshold > 100:
        raise r.fail(f"{key}.threshold", "a percentage from 0 to 100 for kind endpoint_bot_share", t["threshold"])
    # A surge on an endpoint is against its own norm (a factor of at least 1), counted per minute, with the rest of
    # the hour before the window to learn that norm from.
    low_factor = 1 if kind == "endpoint_traffic" else 0
    windows = (60, 1800) if kind == "endpoint_traffic" else (5, 86_400)
    return AlertTrigger(
        name,
        kind,
        threshold=threshold,
        window_seconds=r.number(t.get("window_seconds", base.window_seconds), f"{key}.window_seconds", *windows),
        baseline_factor=r.number(
            t.get("baseline_factor", defaults.get("baseline_factor", base.baseline_factor)),
            f"{key}.baseline_factor",
            low_factor,
            1000,
        ),
        cooldown_seconds=r.number(
            t.get("cooldown_seconds", base.cooldown_seconds), f"{key}.cooldown_seconds", 0, 7 * 86_400
        ),
        min_requests=r.integer(t.get("min_requests", base.min_requests), f"{key}.min_requests", 1, 1_000_000),
    )


def _parse_alerts(r: Reader, raw: object) -> AlertSettings:
    m = r.mapping(raw, "alerts", {"triggers", "webhooks"})
    triggers, webhooks = [], []
    names: set[str] = set()
    hook_names: set[str] = set()
    raw_triggers = m.get("triggers", [])
    if not isinstance(raw_triggers, list):
        raise r.fail("alerts.triggers", "a list of triggers", raw_triggers)
    for i, t in enumerate(raw_triggers):
        triggers.append(_parse_trigger(r, t, f"alerts.triggers[{i}]", names))
    raw_hooks = m.get("webhooks", [])
    if not isinstance(raw_hooks, list):
        raise r.fail("alerts.webhooks", "a list of webhooks", raw_hooks)
    for i, w in enumerate(raw_hooks):
        key = f"alerts.webhooks[{i}]"
        w = r.mapping(w, key, {"name", "url", "format", "secret_env"})
        url = r.string(w.get("url"), f"{key}.url")
        if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
            raise r.fail(f"{key}.url", "an http:// or https:// URL", url)
        fmt = w.get("format", "json")
        if fmt not in ("json", "slack"):
            raise r.fail(f"{key}.format", "json or slack", fmt)
        secret_env = w.get("secret_env", "")
        if secret_env and (not isinstance(secret_env, str) or not re.fullmatch(r"[A-Z_][A-Z0-9_]*", secret_env)):
            raise r.fail(f"{key}.secret_env", "the name of an environment variable (A-Z, 0-9, _)", secret_env)
        name = r.string(w.get("name"), f"{key}.name")
        if name in hook_names:  # a webhook's name keys its queue, its counts and its saved deliveries
            raise r.fail(f"{key}.name", "a name no other webhook has", name)
        hook_names.add(name)
        webhooks.append(Webhook(name, url, fmt, secret_env))
    return AlertSettings(tuple(triggers), tuple(webhooks))


_EVENT_KEYS = {
    "name", "endpoints", "start", "end", "expected_rps", "prewarm_minutes", "min_score", "challenge_new_clients",
    "require_token", "quotas",
}  # fmt: skip
MAX_EVENTS = 50


def _instant(r: Reader, raw: object, key: str) -> float:
    """An ISO 8601 time with its offset (`2026-12-06T15:00:00Z`) as epoch seconds."""
    if isinstance(raw, datetime.datetime):  # YAML reads an unquoted timestamp itself
        moment = raw
    else:
        text = r.string(raw, key)
        try:
            moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise r.fail(key, "an ISO 8601 time such as 2026-12-06T15:00:00Z", text) from None
    if moment.tzinfo is None:
        raise r.fail(key, "a time with its UTC offset (Z or +01:00)", str(raw))
    return moment.timestamp()


def parse_event(r: Reader, raw: object, key: str, seen: set[str]) -> EventSpec:
    """One event (`events[i]` in the config, or the body of the admin API's POST /api/v1/events)."""
    m = r.mapping(raw, key, _EVENT_KEYS)
    name = r.string(m.get("name"), f"{key}.name")
    if name in seen or not name.replace("-", "").replace("_", "").isalnum() or len(name) > 64:
        raise r.fail(f"{key}.name", "a new name of letters, digits, - and _ (64 at most)", name)
    seen.add(name)
    raw_endpoints = m.get("endpoints")
    if not isinstance(raw_endpoints, list) or not 1 <= len(raw_endpoints) <= 20:
        raise r.fail(f"{key}.endpoints", "a list of 1 to 20 matches (path, methods, hosts)", raw_endpoints)
    endpoints = tuple(_parse_match(r, e, f"{key}.endpoints[{i}]") for i, e in enumerate(raw_endpoints))
    start = _instant(r, m["start"], f"{key}.start") if "start" in m else 0.0
    end = _instant(r, m["end"], f"{key}.end") if "end" in m else 0.0
    if ("start" in m) != ("end" in m) or (start and end <= start):
        raise r.fail(f"{key}.end", "both start and end, the end after the start (or neither)", show_got=False)
    raw_quotas = m.get("quotas", [])
    if not isinstance(raw_quotas, list) or len(raw_quotas) > 10:
        raise r.fail(f"{key}.quotas", "a list of at most 10 quotas", raw_quotas)
    quotas = []
    for i, q in enumerate(raw_quotas):
        qk = f"{key}.quotas[{i}]"
        qm = r.mapping(q, qk, {"match", "key", "requests", "per_seconds"})
        quotas.append(
            Quota(
                _parse_match(r, qm.get("match"), f"{qk}.match"), _bucket_key(r, qm.get("key", "token"), f"{qk}.key"),
                r.integer(qm.get("requests", 1), f"{qk}.requests", 1, 1_000_000),
                r.number(qm.get("per_seconds"), f"{qk}.per_seconds", 0.1, 86400.0),
            )
        )  # fmt: skip
    return EventSpec(
        name=name,
        endpoints=endpoints,
        start=start,
        end=end,
        expected_rps=r.number(m.get("expected_rps", 0), f"{key}.expected_rps", 0.0, 1e9),
        prewarm_seconds=60.0 * r.number(m.get("prewarm_minutes", 15), f"{key}.prewarm_minutes", 0.0, 1440.0),
        min_score=r.integer(m.get("min_score", 50), f"{key}.min_score", 1, 100),
        challenge_new_clients=r.boolean(m.get("challenge_new_clients", True), f"{key}.challenge_new_clients"),
        require_token=r.boolean(m.get("require_token", True), f"{key}.require_token"),
        quotas=tuple(quotas),
    )


def _parse_events(r: Reader, raw: object) -> tuple[EventSpec, ...]:
    if not isinstance(raw, list) or len(raw) > MAX_EVENTS:
        raise r.fail("events", f"a list of at most {MAX_EVENTS} events", raw)
    seen: set[str] = set()
    return tuple(parse_event(r, e, f"events[{i}]", seen) for i, e in enumerate(raw))


def parse_yaml(text: str, source: str, base_dir: Path | None = None) -> Config:
    """Parse and validate YAML text."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "document"
        raise ConfigError(source, where, f"valid YAML ({getattr(exc, 'problem', exc)})", show_got=False) from None
    return parse_config(data, source, base_dir)


def load_config(path: str | Path | None) -> Config:
    """Load a config file, or the embedded defaults when `path` is None."""
    if path is None:
        return parse_yaml(DEFAULT_CONFIG_YAML, "<defaults>")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(p), "", f"a readable file ({exc.strerror})", show_got=False) from None
    except UnicodeDecodeError:
        raise ConfigError(str(p), "", "UTF-8 text", show_got=False) from None
    return parse_yaml(text, str(p), p.parent)
