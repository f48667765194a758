"""Endpoint discovery: every host, method and path *template* botwall sees, with what its traffic is made of.

A path becomes a template segment by segment: numbers become `{id}`, UUIDs `{uuid}`, long hex strings `{hash}`, long
mixed tokens `{token}`; and where one parent has more than `SIBLINGS` distinct literal children (`/users/alice`,
`/users/bob`, ... a slug per user), new ones under it become `{param}` (the templates seen before stay). Each
template counts its requests by verdict, by action and by kind, the status classes of the responses botwall reads
(a cookie holder's are not read, see `Engine.reads_response`), its query parameter names, first and last seen, and
requests per minute over the last hour. It is *new* when first seen after the warm-up (the first 10 minutes of the
process) and *found by bots first* when most of its first 10 requests were not a person's.

Bounded for an attacker scanning random paths: at most `max_templates` templates (later ones fold into one
`(other)` entry per host and method), 20 query names and 60 minutes per template, a cache of recent paths, hosts cut
to 128 characters. The request path does O(segments) work, O(1) for a path seen lately; summaries are built when the
admin API asks (`snapshot`, `openapi`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from botwall.config import Action, Policy
from botwall.policy import Decision

SIBLINGS = 50  # distinct literal children of one parent from which new ones are a parameter
_QUERY_NAMES = 20
_MINUTES = 60
_FIRST = 10  # requests that say who found a template first
_OTHERS = 64  # `(other)` entries per host and method past the bound; then one `(other)` for every host
_WARM_UP = 600.0  # seconds after start before a first-seen template counts as new
_PATH_CACHE = 4096
_HOST = 128
_SEGMENTS = 32  # a deeper path folds its tail into one `{rest}`
_LITERAL = 64  # characters: a longer segment is a parameter, whatever it looks like
_CACHED_PATH = 256  # characters: longer paths are templated each time rather than cached

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX = re.compile(r"[0-9a-fA-F]{12,}")
_TOKEN = re.compile(r"[A-Za-z0-9_\-.~%]{24,}")
OTHER = "(other)"


def segment(text: str) -> str:
    """One path segment as a template segment: a parameter where it looks like an identifier, else itself."""
    if len(text) > _LITERAL:
        return "{param}"
    if text.isdigit():
        return "{id}"
    if len(text) == 36 and _UUID.fullmatch(text):
        return "{uuid}"
    if len(text) >= 12 and _HEX.fullmatch(text) and any(c.isdigit() for c in text):
        return "{hash}"
    if len(text) >= 24 and _TOKEN.fullmatch(text) and any(c.isdigit() for c in text):
        return "{token}"
    return text


@dataclass
class Endpoint:
    """What one (host, method, template) has seen."""

    host: str
    method: str
    template: str
    example: str  # a path it was seen with (for matching policies against it)
    first_seen: float
    last_seen: float = 0.0
    requests: int = 0
    by_verdict: dict[str, int] = field(default_factory=dict)
    by_action: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)  # "2xx"... of the responses botwall read; exact codes too
    query_names: set[str] = field(default_factory=set)
    minutes: dict[int, int] = field(default_factory=dict)  # minute (epoch // 60) -> requests, the last hour
    first_verdicts: list[str] = field(default_factory=list)

    def count(self, now: float, verdict: str, action: str, kind: str, query: str) -> None:
        self.requests += 1
        self.last_seen = now
        self.by_verdict[verdict] = self.by_verdict.get(verdict, 0) + 1
        self.by_action[action] = self.by_action.get(action, 0) + 1
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        if len(self.first_verdicts) < _FIRST:
            self.first_verdicts.append(verdict)
        minute = int(now // 60)
        minutes = self.minutes
        minutes[minute] = minutes.get(minute, 0) + 1
        if len(minutes) > _MINUTES:
            for old in [m for m in minutes if m <= minute - _MINUTES]:
                del minutes[old]
        if query and len(self.query_names) < _QUERY_NAMES:
            for part in query.split("&", _QUERY_NAMES):
                name = part.partition("=")[0][:64]
                if name and len(self.query_names) < _QUERY_NAMES:
                    self.query_names.add(name)

    def status(self, code: int) -> None:
        if 100 <= code <= 599:
            key = str(code)
            self.statuses[key] = self.statuses.get(key, 0) + 1


class Inventory:
    """The endpoints botwall has seen, bounded; fed by the server, read by the admin API."""

    def __init__(self, max_templates: int = 2000, clock: Callable[[], float] = time.time) -> None:
        self.max_templates = max_templates
        self._clock = clock
        self.started = clock()
        self._endpoints: dict[tuple[str, str, str], Endpoint] = {}
        self._children: dict[tuple[str, str], set[int]] = {}  # (host, parent template) -> its literal children's hashes
        self._wide: set[tuple[str, str]] = set()  # parents whose new children are `{param}`
        self._paths: dict[tuple[str, str, str], tuple[str, str, str]] = {}  # (host, method, path) -> endpoint key
        self._dirty: set[tuple[str, str, str]] = set()  # endpoints changed since the last save (`edge.persist`)
        self._others = 0  # `(other)` entries made past the bound (one per host and method, up to `_OTHERS`)

    def template(self, host: str, path: str) -> str:
        """The template of `path` on `host`, learning the sibling counts as it goes."""
        parts = path.split("/")
        if len(parts) > _SEGMENTS:
            parts = [*parts[:_SEGMENTS], "{rest}"]
        out = [""]
        for text in parts[1:]:
            parent = "/".join(out)
            templated = segment(text) if text else text
            if templated == text and text:
                key = (host, parent)
                if key in self._wide:
                    templated = "{param}"
                else:
                    children = self._children.get(key)
                    if children is None and len(self._children) + len(self._wide) < 4 * self.max_templates:
                        children = self._children[key] = set()
                    if children is not None and hash(text) not in children:
                        if len(children) >= SIBLINGS:
                            self._wide.add(key)
                            del self._children[key]
                            templated = "{param}"
                        else:
                            children.add(hash(text))
            out.append(templated)
        return "/".join(out) or "/"

    def key(self, host: str, method: str, path: str) -> tuple[str, str, str]:
        """The (host, method, template) a request counts under (a recent path's from the cache)."""
        host = _hostname(host)
        method = method[:16]
        cached = self._paths.get((host, method, path))
        if cached is not None:
            return cached
        key = (host, method, self.template(host, path))
        if len(path) <= _CACHED_PATH:
            if len(self._paths) >= _PATH_CACHE:
                self._paths.clear()
            self._paths[(host, method, path)] = key
        return key

    def record(self, host: str, method: str, path: str, query: str, kind: str, decision: Decision) -> Endpoint:
        """Count one judged request; returns its endpoint (for its response's status)."""
        now = self._clock()
        key = self.key(host, method, path)
        endpoint = self._endpoints.get(key)
        if endpoint is None:
            if len(self._endpoints) >= self.max_templates:
                key = (key[0], key[1], OTHER)
                endpoint = self._endpoints.get(key)
                if endpoint is None and self._others >= _OTHERS:  # random Host headers or methods: one for all
                    key = (OTHER, OTHER, OTHER)
                    endpoint = self._endpoints.get(key)
                if endpoint is None:
                    self._others += 1
            if endpoint is None:
                endpoint = self._endpoints[key] = Endpoint(key[0], key[1], key[2], path[:_CACHED_PATH], now)
        endpoint.count(now, decision.verdict, str(decision.action), kind, query)
        self._dirty.add(key)
        return endpoint

    def status(self, endpoint: Endpoint, code: int) -> None:
        """Count the status of a response botwall read."""
        endpoint.status(code)
        self._dirty.add((endpoint.host, endpoint.method, endpoint.template))

    def take_dirty(self) -> list[tuple[str, float, dict[str, Any]]]:
        """The endpoints changed since the last call, as rows to save."""
        rows = []
        for key in self._dirty:
            e = self._endpoints.get(key)
            if e is not None:
                data = {
                    "host": e.host, "method": e.method, "template": e.template, "example": e.example,
                    "first_seen": e.first_seen, "last_seen": e.last_seen, "requests": e.requests,
                    "by_verdict": e.by_verdict, "by_action": e.by_action, "by_kind": e.by_kind,
                    "statuses": e.statuses, "query_names": sorted(e.query_names),
                    "minutes": {str(m): n for m, n in e.minutes.items()}, "first_verdicts": e.first_verdicts,
                }  # fmt: skip
                rows.append(("\x1f".join(key), e.last_seen, data))
        self._dirty.clear()
        return rows

    def restore(self, rows: Iterable[tuple[str, dict[str, Any]]]) -> int:
        """Put saved endpoints back, most recently seen first, up to the bound; malformed rows are skipped."""
        kept = 0
        for _, d in rows:
            if len(self._endpoints) >= self.max_templates:
                break
            try:
                e = Endpoint(
                    str(d["host"]), str(d["method"]), str(d["template"]), str(d["example"]), float(d["first_seen"]),
                    float(d["last_seen"]), int(d["requests"]), _counts(d["by_verdict"]), _counts(d["by_action"]),
                    _counts(d["by_kind"]), _counts(d["statuses"]), {str(q) for q in d["query_names"]},
                    {int(m): int(n) for m, n in dict(d["minutes"]).items()},
                    [str(v) for v in d["first_verdicts"]][:_FIRST],
                )  # fmt: skip
            except (KeyError, TypeError, ValueError):
                continue
            self._endpoints.setdefault((e.host, e.method, e.template), e)
            self._relearn(e.host, e.template)
            kept += 1
        return kept

    def _relearn(self, host: str, template: str) -> None:
        """The sibling counts a restored template implies: its literal segments are children of their parents, and
        a `{param}` segment means its parent had too many. (The counts themselves are not saved: they hold
        process-salted hashes.)"""
        out = [""]
        for text in template.split("/")[1:]:
            key = (host, "/".join(out))
            if text == "{param}":
                self._wide.add(key)
                self._children.pop(key, None)
            elif text and not text.startswith("{") and key not in self._wide:
                children = self._children.get(key)
                if children is None and len(self._children) + len(self._wide) < 4 * self.max_templates:
                    children = self._children[key] = set()
                if children is not None and len(children) < SIBLINGS:
                    children.add(hash(text))
            out.append(text)

    def __len__(self) -> int:
        return len(self._endpoints)

    def snapshot(self, policies: tuple[Policy, ...] = ()) -> list[dict[str, Any]]:
        """Every endpoint as JSON-ready data, busiest first."""
        now = self._clock()
        out = []
        for e in sorted(self._endpoints.values(), key=lambda e: (-e.requests, e.host, e.template, e.method)):
            people = e.first_verdicts.count("human") + e.first_verdicts.count("good-bot")
            out.append(
                {
                    "host": e.host,
                    "method": e.method,
                    "template": e.template,
                    "kind": max(e.by_kind, key=lambda k: e.by_kind[k]) if e.by_kind else "",
                    "requests": e.requests,
                    "by_verdict": dict(e.by_verdict),
                    "by_action": dict(e.by_action),
                    "mitigated": sum(n for a, n in e.by_action.items() if a != str(Action.ALLOW)),
                    "statuses": dict(sorted(e.statuses.items())),
                    "query_parameters": sorted(e.query_names),
                    "first_seen": round(e.first_seen, 3),
                    "last_seen": round(e.last_seen, 3),
                    "per_minute": [[m * 60, n] for m, n in sorted(e.minutes.items()) if m > (now // 60) - _MINUTES],
                    "new": e.first_seen - self.started >= _WARM_UP,
                    "found_by_bots_first": len(e.first_verdicts) >= 3 and people * 2 < len(e.first_verdicts),
                    "protected_by": [p.name for p in policies if _protects(p, e)],
                }
            )
        return out

    def openapi(self, title: str = "botwall discovered API") -> dict[str, Any]:
        """The API part (kind `api`) as an OpenAPI 3 document: paths, methods, parameters, observed status codes."""
        paths: dict[str, dict[str, Any]] = {}
        for e in self._endpoints.values():
            if e.template == OTHER or max(e.by_kind, key=lambda k: e.by_kind[k], default="") != "api":
                continue
            names = [p[1:-1] for p in e.template.split("/") if p.startswith("{") and p.endswith("}")]
            seen: dict[str, int] = {}
            parameters: list[dict[str, Any]] = []
            for name in names:  # a template may repeat a parameter kind: name them id, id2, ...
                seen[name] = seen.get(name, 0) + 1
                parameters.append(
                    {"name": name if seen[name] == 1 else f"{name}{seen[name]}", "in": "path", "required": True,
                     "schema": {"type": "integer" if name == "id" else "string"}}
                )  # fmt: skip
            path = e.template
            for name, count in seen.items():
                for n in range(2, count + 1):
                    path = _nth_replace(path, "{" + name + "}", "{" + f"{name}{n}" + "}", n)
            parameters += [
                {"name": q, "in": "query", "required": False, "schema": {"type": "string"}}
                for q in sorted(e.query_names)
            ]
            codes = sorted(code for code in e.statuses if code.isdigit())
            responses = {code: {"description": f"observed {e.statuses[code]} times"} for code in codes}
            operation = {
                "summary": f"{e.requests} requests seen on {e.host}",
                "parameters": parameters,
                "responses": responses or {"default": {"description": "no response read yet"}},
            }
            paths.setdefault(path, {})[e.method.lower()] = operation
        return {
            "openapi": "3.0.3",
            "info": {"title": title, "version": "discovered"},
            "paths": dict(sorted(paths.items())),
        }

    def endpoints(self) -> Iterable[Endpoint]:
        """The endpoints as they are counted, not copied: alert triggers read a few counts of each every round
        (`edge.alerts`), and only read them."""
        return self._endpoints.values()


def _hostname(authority: str) -> str:
    """The host an endpoint is listed under: lower-case, without a port (`shop.example:443` is `shop.example`)."""
    authority = authority.lower()[:_HOST]
    if authority.startswith("["):
        return authority.partition("]")[0] + "]"
    return authority.rpartition(":")[0] if authority.count(":") == 1 else authority


def _counts(value: Any) -> dict[str, int]:
    """A saved counter back: string keys, integer counts (a malformed one raises)."""
    return {str(k): int(v) for k, v in dict(value).items()}


def _nth_replace(text: str, old: str, new: str, n: int) -> str:
    """Replace the `n`th occurrence of `old` (1-based) in `text`."""
    start = -1
    for _ in range(n):
        start = text.find(old, start + 1)
        if start < 0:
            return text
    return text[:start] + new + text[start + len(old) :]


def _protects(policy: Policy, endpoint: Endpoint) -> bool:
    """A policy with a path condition that the endpoint's paths meet (score-only catch-alls protect everything alike,
    so they are not listed)."""
    match = policy.match
    if match.path is None or (match.path.kind == "prefix" and match.path.value == "/"):
        return False
    return match.matches(endpoint.host, endpoint.example, endpoint.method)
