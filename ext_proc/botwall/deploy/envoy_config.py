"""`botwall envoy-config`: the Envoy config that puts botwall in front of an upstream, for the user's options.

Two forms, both built from the typed pieces in `messages` and written as commented YAML:
- `snippet`: the pieces to paste into an Envoy you already run (`http_filters`, `clusters`, `per_route`,
  `listener_filters` with TLS, `http_connection_manager`), like `envoy/snippets/existing-gateway.yaml`;
- `bootstrap`: a complete standalone Envoy config, the gateway of `gateway.py`, like `envoy/gateway.yaml`.
Each output names the command that renders it, so a committed example can be rendered again by anyone.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from botwall.deploy import _yaml
from botwall.deploy.gateway import EnvoySettings, failure_mode_note, gateway_yaml, render_gateway
from botwall.deploy.messages import (
    CLUSTER_NAME,
    DEFAULT_MESSAGE_TIMEOUT,
    access_log,
    access_log_format,
    botwall_cluster,
    check_routes,
    data,
    health_route_config,
    http_filters,
    is_ip,
    login_route_config,
    parse_duration,
    path_settings,
    tls_inspector,
)
from botwall.errors import EnvoyConfigError

__all__ = [
    "FORMS",
    "BootstrapOptions",
    "EnvoyConfigOptions",
    "access_log_format",
    "bootstrap_settings",
    "bootstrap_yaml",
    "command_line",
    "render",
    "render_bootstrap",
    "render_snippet",
    "snippet_yaml",
]

FORMS = ("snippet", "bootstrap")


@dataclass(frozen=True)
class EnvoyConfigOptions:
    """What the user chose; every field has the default `botwall envoy-config` uses."""

    botwall: tuple[str, int] = ("127.0.0.1", 9191)  # host (IP or DNS name) and port of `botwall serve`
    botwall_workers: int = 1  # `botwall serve --workers N`: one endpoint per worker, on consecutive ports
    fail_closed: bool = False  # Envoy's failure_mode_allow is `not fail_closed`
    message_timeout: str = DEFAULT_MESSAGE_TIMEOUT  # how long Envoy waits for each answer from botwall
    login_routes: tuple[str, ...] = ()  # exact paths whose request body botwall sees (BUFFERED)
    health_routes: tuple[str, ...] = ()  # exact paths that skip botwall
    tls: bool = False  # add the JA4/JA3 pieces (TLS inspector, filter state, request attributes)

    def worker_ports(self) -> tuple[int, ...]:
        """The cluster's ports with several workers (consecutive from botwall's), or () for botwall's port alone."""
        port = self.botwall[1]
        return tuple(range(port, port + self.botwall_workers)) if self.botwall_workers > 1 else ()


@dataclass(frozen=True)
class BootstrapOptions:
    """Where the standalone bootstrap listens and what it fronts."""

    listen: tuple[str, int] = ("127.0.0.1", 8080)
    upstream: tuple[str, int] = ("127.0.0.1", 8000)
    admin: tuple[str, int] = ("127.0.0.1", 9901)
    tls_listen: tuple[str, int] = ("127.0.0.1", 8443)  # used with EnvoyConfigOptions.tls
    tls_cert: Path = Path("/etc/botwall/tls/cert.pem")
    tls_key: Path = Path("/etc/botwall/tls/key.pem")
    trusted_hops: int = 0
    access_log: str = "/dev/stdout"


# --- the snippet ---------------------------------------------------------------------------------------------------


def _per_route(options: EnvoyConfigOptions) -> list[dict[str, Any]]:
    """One entry per health and login route: its match and the `typed_per_filter_config` to add to it."""
    check_routes(options.login_routes, options.health_routes)
    health = {name: data(config) for name, config in health_route_config().items()}
    login = {name: data(config) for name, config in login_route_config().items()}
    entries = [{"match": {"path": p}, "typed_per_filter_config": health} for p in options.health_routes]
    return entries + [{"match": {"path": p}, "typed_per_filter_config": login} for p in options.login_routes]


def _connection_manager_settings(*, tls: bool) -> dict[str, Any]:
    """The connection manager settings botwall relies on: one normalised path, an access log without queries."""
    manager = path_settings()
    manager.access_log.append(access_log(tls=tls))
    rendered = data(manager)
    return {key: rendered[key] for key in ("normalize_path", "merge_slashes", "access_log")}


def render_snippet(options: EnvoyConfigOptions) -> dict[str, Any]:
    """The pieces for an existing Envoy, keyed by where each goes."""
    parse_duration(options.message_timeout)
    filters = http_filters(fail_closed=options.fail_closed, message_timeout=options.message_timeout, tls=options.tls)
    snippet: dict[str, Any] = {
        "http_filters": [data(f) for f in filters],
        "clusters": [data(botwall_cluster(*options.botwall, name=CLUSTER_NAME, ports=options.worker_ports()))],
        "per_route": _per_route(options),
    }
    if options.tls:
        snippet["listener_filters"] = [data(tls_inspector())]
    snippet["http_connection_manager"] = _connection_manager_settings(tls=options.tls)
    return snippet


_SECTIONS = {
    "http_filters": """\
HTTP filters: paste into each HttpConnectionManager's `http_filters`, BEFORE `envoy.filters.http.router` (the
   router must stay last; filters after it never run).{tls}
   Request and response headers go to botwall; bodies do not (see per_route for login routes).""",
    "clusters": """\
Cluster: paste into `static_resources.clusters` (or serve it over CDS). ext_proc is gRPC, so the cluster must
   speak HTTP/2. {kind}
   Circuit breakers: every in-flight HTTP request holds one stream to botwall for its whole life (upstream time
   included), so Envoy's default of 1,024 concurrent requests on this cluster would make Envoy fail (fail-closed)
   or silently skip botwall (fail-open) for every request beyond the 1,024th. Size these for your peak concurrency.""",
    "per_route": """\
Per-route settings: for each of your routes whose `match` is shown, add the `typed_per_filter_config` to that
   route (keep the route's own match and action). The key must be the ext_proc filter's name.
   - Health routes skip botwall (`disabled: true`): a load balancer's probe must not depend on botwall, nor be
     scored as a bot.
   - Login routes send the request body to botwall, BUFFERED (a body over the buffer limit, 1 MiB by default,
     gets 413). A per-route processing_mode REPLACES the filter's whole mode: a field left out falls back to the
     proto default, not to the filter's value, so all six are spelled out.
   botwall also asks for the body of the login routes in its own config, per request (`allow_mode_override` on the
   filter); a route listed here gets its body whatever botwall's config says.""",
    "listener_filters": """\
Listener filters: paste into your TLS listener's `listener_filters`. If it already has a TLS inspector (any
   listener with SNI-matched filter chains does), add the two enable_* lines to it instead of adding a second one.""",
    "http_connection_manager": """\
HTTP connection manager settings: merge into each HttpConnectionManager's `typed_config` (keep its own fields).
   - normalize_path and merge_slashes: Envoy rewrites the path once, before any filter or route reads it (RFC 3986:
     percent-encoded unreserved characters decoded, so `/api/%6cogin` is `/api/login`; dot segments resolved; then
     `//api//login` is `/api/login`). botwall's policies, your routes and your upstream then all judge one path.
   - access_log: if you keep your own, make its path field `%PATH(NQ:ORIG_OR_PATH)%` (NQ: no query string) instead
     of `%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%`, Envoy's default, which logs the query: a password or a token sent in
     a GET query string must not land in a log file. Add botwall's decision from dynamic metadata if you like.""",
}
_TLS_FILTERS = """ set_filter_state copies the TLS inspector's JA4/JA3 into filter state and
   ext_proc hands them to botwall as `request_attributes`: no header is involved, so a client cannot forge them and
   nothing leaks upstream. On a plain-HTTP listener the values are `-` or empty, which botwall treats as "no
   fingerprint"; drop set_filter_state and the two filter_state attributes there if you prefer."""
_STATIC = """STATIC because botwall is named by an IP here (such as a sidecar on 127.0.0.1); with a DNS name
   it is STRICT_DNS, and behind a headless Service Envoy spreads streams across every botwall replica."""
_STRICT_DNS = """STRICT_DNS because botwall is named by DNS here (use STATIC with an IP, such as a sidecar on
   127.0.0.1); behind a headless Service, Envoy spreads streams across every botwall replica."""


def _snippet_comments(options: EnvoyConfigOptions) -> dict[_yaml.Path, str]:
    """Where each piece goes and why it is there; the numbered ones head the top-level keys."""
    fills = {"tls": _TLS_FILTERS if options.tls else "", "kind": _STATIC if is_ip(options.botwall[0]) else _STRICT_DNS}
    present = [key for key in _SECTIONS if key != "listener_filters" or options.tls]
    comments: dict[_yaml.Path, str] = {
        (key,): f"{number}. {_SECTIONS[key].format(**fills)}" for number, key in enumerate(present, start=1)
    }
    chosen, other = ("fail-closed", "fail-open") if options.fail_closed else ("fail-open", "fail-closed")
    comments[("typed_config", "failure_mode_allow")] = (
        f"{chosen} here; {str(options.fail_closed).lower()} for {other} (see the top of this file)"
    )
    comments[("typed_config", "request_attributes")] = (
        "The client address (configure xff_num_trusted_hops / use_remote_address on your HCM so it is the real\n"
        "client)" + (", and the TLS fingerprints set above." if options.tls else ".")
    )
    comments[("typed_config", "stat_prefix")] = "stats: http.<hcm stat_prefix>.ext_proc.botwall.* on the admin port"
    comments[("typed_config", "allow_mode_override")] = (
        "botwall asks for the request body of the login routes in its own config, per request (mode_override)."
    )
    comments[("typed_config", "mutation_rules")] = (
        "A deceive policy's fake answer carries x-envoy-upstream-service-time, as a real one does."
    )
    comments[("typed_config", "metadata_options")] = (
        "botwall's decision as dynamic metadata: %DYNAMIC_METADATA(botwall:verdict)% in your access log."
    )
    return comments


def snippet_yaml(options: EnvoyConfigOptions) -> str:
    """The snippet as commented YAML: one mapping, the comments saying where each key goes."""
    header = (
        "botwall for an Envoy you already run: the pieces to paste, one top-level key per place they go.\n"
        f"This is not a bootstrap: render a complete standalone Envoy with --form bootstrap.\nRendered by:\n"
        f"  {command_line('snippet', options)}\n\n"
        + failure_mode_note(fail_closed=options.fail_closed, message_timeout=options.message_timeout)
    )
    return _yaml.dump(render_snippet(options), _snippet_comments(options), header=header, spaced=True)


# --- the bootstrap -------------------------------------------------------------------------------------------------


def bootstrap_settings(options: EnvoyConfigOptions, where: BootstrapOptions | None = None) -> EnvoySettings:
    """The standalone gateway's settings for these options."""
    where = where or BootstrapOptions()
    return EnvoySettings(
        http=where.listen,
        tls=where.tls_listen if options.tls else None,
        tls_cert=where.tls_cert,
        tls_key=where.tls_key,
        botwall=options.botwall,
        botwall_ports=options.worker_ports(),
        upstream=where.upstream,
        trusted_hops=where.trusted_hops,
        fail_closed=options.fail_closed,
        message_timeout=options.message_timeout,
        login_routes=options.login_routes,
        health_routes=options.health_routes,
        access_log=where.access_log,
        admin=where.admin,
    )


def render_bootstrap(options: EnvoyConfigOptions, where: BootstrapOptions | None = None) -> dict[str, Any]:
    """A complete standalone Envoy config: the gateway for these options and addresses."""
    return render_gateway(bootstrap_settings(options, where))


def bootstrap_yaml(options: EnvoyConfigOptions, where: BootstrapOptions | None = None) -> str:
    """The bootstrap as commented YAML."""
    header = (
        "botwall's standalone gateway: Envoy in front of one upstream, with botwall as its ext_proc processor.\n"
        f"Rendered by:\n  {command_line('bootstrap', options, where)}"
    )
    return gateway_yaml(bootstrap_settings(options, where), header)


# --- the command ---------------------------------------------------------------------------------------------------


def _address(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# The flag of each option, and how its value is written.
_FLAGS: dict[str, tuple[str, Any]] = {
    "botwall": ("--botwall-address", _address),
    "botwall_workers": ("--botwall-workers", str),
    "fail_closed": ("--failure-mode", lambda closed: "closed" if closed else "open"),
    "message_timeout": ("--message-timeout", str),
    "login_routes": ("--login-route", None),
    "health_routes": ("--health-route", None),
    "tls": ("--tls", None),
    "listen": ("--listen", _address),
    "upstream": ("--upstream", _address),
    "admin": ("--admin", _address),
    "tls_listen": ("--tls-listen", _address),
    "tls_cert": ("--tls-cert", str),
    "tls_key": ("--tls-key", str),
    "trusted_hops": ("--trusted-hops", str),
}


def _flags(options: EnvoyConfigOptions | BootstrapOptions) -> list[str]:
    default = type(options)()
    words: list[str] = []
    for field in fields(options):
        value = getattr(options, field.name)
        if value == getattr(default, field.name) or field.name not in _FLAGS:
            continue
        flag, write = _FLAGS[field.name]
        if isinstance(value, tuple) and write is None:
            words += [w for item in value for w in (flag, item)]
        elif write is None:
            words.append(flag)
        else:
            words += [flag, write(value)]
    return words


def command_line(form: str, options: EnvoyConfigOptions, where: BootstrapOptions | None = None) -> str:
    """The `botwall envoy-config` command that renders this form with these options (defaults left out), on
    continued lines of at most about 100 characters."""
    words = ["botwall", "envoy-config", "--form", form, *_flags(options)]
    if form == "bootstrap" and where is not None:
        words += _flags(where)
    groups: list[str] = []
    for word in words:
        if groups and not word.startswith("--") and groups[-1].startswith("--") and " " not in groups[-1]:
            groups[-1] += " " + shlex.quote(word)
        else:
            groups.append(shlex.quote(word))
    lines = [""]
    for group in groups:
        if lines[-1] and len(lines[-1]) + len(group) > 96:
            lines.append("    ")
        lines[-1] += ("" if lines[-1].strip() == "" else " ") + group
    return " \\\n".join(lines)


def render(options: EnvoyConfigOptions, form: str, where: BootstrapOptions | None = None) -> str:
    """The YAML text `botwall envoy-config` prints."""
    if form == "snippet":
        return snippet_yaml(options)
    if form == "bootstrap":
        return bootstrap_yaml(options, where)
    raise EnvoyConfigError(f"--form expects one of {', '.join(FORMS)}, got {form!r}")
