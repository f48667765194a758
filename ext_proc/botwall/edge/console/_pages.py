"""The dashboard's HTML, rendered on the server from the admin API's own data.

Every value goes through `_e` (HTML-escaped: usernames, paths and user-agents are what attackers send). Nothing here
carries inline script or a `style` attribute (the Content-Security-Policy forbids both): widths and heights are SVG
attributes, and behaviour is `static/console.js`, read from `data-*` attributes. Cells that tests and sorting compare
carry the raw value in `data-value`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

# What each action means to a reader, in the order the overview lists them.
ACTIONS = {
    "allow": "allowed",
    "monitor": "tagged",
    "challenge": "challenged",
    "block": "blocked",
    "throttle": "throttled",
    "deceive": "deceived",
}
VERDICTS = ("human", "good-bot", "suspect", "bot")
_ATTRIBUTION = (
    "<a href='https://db-ip.com'>IP Geolocation by DB-IP</a>; AS data by Route Views, the NRO and DB-IP via "
    "ip-location-db (CC BY 4.0)"
)


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _when(epoch: float) -> str:
    """A time as UTC, in a `<time>` element a reader and a test can both read."""
    if not epoch:
        return "<span class='muted'>never</span>"
    text = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    return f"<time datetime='{iso}' data-value='{epoch}'>{text}Z</time>"


def _count(n: int | float) -> str:
    return f"{n:,}" if isinstance(n, int) or n.is_integer() else f"{n:,.1f}"


def _plural(n: int, one: str, many: str = "", with_count: bool = True) -> str:
    word = one if n == 1 else many or f"{one}s"
    return f"{_count(n)} {word}" if with_count else word


def _num(value: int | float, text: str | None = None) -> str:
    """A numeric table cell: sorted by its value."""
    return f"<td class='num' data-value='{value}'>{text if text is not None else _count(value)}</td>"


def _pairs(pairs: Iterable[Sequence[Any]], empty: str = "none") -> str:
    items = [f"<li><span>{_e(k)}</span> <b>{_count(n)}</b></li>" for k, n in pairs]
    return f"<ul class='pairs'>{''.join(items)}</ul>" if items else f"<span class='muted'>{empty}</span>"


def _chips(counts: Mapping[str, int], css: str = "chip") -> str:
    return " ".join(
        f"<span class='{css} {css}-{_e(k)}' data-key='{_e(k)}' data-value='{n}'>{_e(k)} {_count(n)}</span>"
        for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    )


def _table(table_id: str, head: Sequence[tuple[str, str]], rows: Sequence[str], empty: str) -> str:
    """A sortable table (`console.js`): head is (label, "num" or "text")."""
    if not rows:
        return f"<p class='empty' id='{table_id}-empty'>{_e(empty)}</p>"
    ths = "".join(f"<th data-sort='{kind}' scope='col'>{_e(label)}</th>" for label, kind in head)
    return f"<table class='grid' id='{table_id}'><thead><tr>{ths}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def layout(
    screen: str,
    title: str,
    body: str,
    version: str,
    shadow: bool,
    shadowed: Sequence[str],
    csrf: str,
    nav: Sequence[tuple[str, str, str]],
    events: Sequence[Mapping[str, Any]] = (),
) -> str:
    links = "".join(
        f"<a href='{path}'{' class=current aria-current=page' if name == screen else ''}>{_e(label)}</a>"
        for path, name, label in nav
    )
    signout = (
        f"<form method='post' action='/logout' class='signout'><input type='hidden' name='csrf' value='{_e(csrf)}'>"
        "<button type='submit'>Sign out</button></form>"
        if csrf
        else ""
    )
    banner = ""
    if shadow:
        banner = (
            "<div class='banner shadow' id='shadow-banner'><b>Shadow mode.</b> botwall judges and logs every request "
            "but enforces nothing: refusals shown here were not sent to clients.</div>"
        )
    elif shadowed:
        banner = (
            "<div class='banner shadow' id='shadow-banner'><b>Some policies are in shadow mode</b> (logged, not "
            f"enforced): {_e(', '.join(shadowed))}.</div>"
        )
    for event in events:
        banner += (
            f"<div class='banner event' data-event='{_e(event['name'])}'><b>Event {_e(event['name'])}</b> runs until "
            f"{_when(event['running_until'])}: its endpoints have stricter policies "
            f"(<a href='/alerts#event-mode'>events</a>).</div>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>botwall · {_e(title)}</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/vendor/uPlot.min.css"><link rel="stylesheet" href="/static/console.css">
<script src="/static/vendor/uPlot.iife.min.js" defer></script><script src="/static/console.js" defer></script>
</head><body data-screen="{_e(screen)}">
<header><a class="brand" href="/">botwall</a><nav>{links}</nav>{signout}</header>
{banner}<main><h1>{_e(title)}</h1>
{body}
</main>
<footer>botwall {_e(version)} · times in UTC · {_ATTRIBUTION}</footer>
</body></html>
"""


def login(next_path: str, error: str, secure: bool, version: str) -> str:
    warning = (
        ""
        if secure
        else "<p class='note'>This connection is plain HTTP: browsers keep the session only on localhost (for example "
        "through <code>kubectl port-forward</code>). Elsewhere, put TLS in front of the admin listener.</p>"
    )
    problem = f"<p class='error' role='alert'>{_e(error)}</p>" if error else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>botwall · Sign in</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/static/console.css"></head>
<body class="login"><main><h1>botwall</h1>
<form method="post" action="/login" id="login">
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="{_e(next_path)}">
{problem}<button type="submit">Sign in</button></form>
<p class="note">The token is <code>BOTWALL_ADMIN_TOKEN</code> (or <code>--admin-token-file</code>) of this
botwall.</p>{warning}</main>
<footer>botwall {_e(version)}</footer></body></html>
"""


def overview(traffic: Mapping[str, Any], ranges: Sequence[str], totals: tuple[dict[str, int], dict[str, int]]) -> str:
    by_verdict, by_action = totals
    name = traffic["range"]
    picker = "".join(
        f"<a href='/?range={r}'{' class=current aria-current=true' if r == name else ''}>{r}</a>" for r in ranges
    )
    total = sum(by_verdict.values())
    verdicts = "".join(
        f"<div class='tile verdict-{v}' data-verdict='{v}'><span>{v}</span><b data-value='{by_verdict.get(v, 0)}'>"
        f"{_count(by_verdict.get(v, 0))}</b></div>"
        for v in VERDICTS
    )
    actions = "".join(
        f"<div class='tile action-{a}' data-action='{a}'><span>{label}</span><b data-value='{by_action.get(a, 0)}'>"
        f"{_count(by_action.get(a, 0))}</b></div>"
        for a, label in ACTIONS.items()
    )
    reasons = [
        f"<tr><td><a href='/decisions?{urlencode({'reason': code})}'>{_e(code)}</a></td>{_num(n)}</tr>"
        for code, n in traffic["reasons"]
    ]
    step = traffic["step_seconds"]
    source = f"/api/v1/traffic?range={name}"
    return f"""<div class="toolbar"><span>Range</span><span class="picker" id="range">{picker}</span>
<span class="muted">one point per {step // 60} min</span></div>
<section class="tiles" id="total"><div class="tile"><span>requests</span>
<b data-value="{total}">{_count(total)}</b></div></section>
<h2>By verdict</h2><section class="tiles" id="verdicts">{verdicts}</section>
<div class="chart" id="chart-verdict" data-src="{source}" data-by="verdict" role="img"
 aria-label="requests over time by verdict"></div>
<h2>By action</h2><section class="tiles" id="actions">{actions}</section>
<div class="chart" id="chart-action" data-src="{source}" data-by="action" role="img"
 aria-label="requests over time by action"></div>
<h2>Top reasons</h2>
{_table("reasons", (("reason", "text"), ("requests", "num")), reasons, "No reason codes in this range.")}
"""


def _sparkline(per_minute: Sequence[Sequence[int]], now: float, width: int = 120, height: int = 24) -> str:
    """The last hour's requests per minute as an SVG line (sizes as attributes: no style)."""
    start = (int(now) // 60 - 59) * 60
    counts = {int(t): int(n) for t, n in per_minute}
    values = [counts.get(start + 60 * i, 0) for i in range(60)]
    top = max(values) or 1
    points = " ".join(f"{i * width / 59:.1f},{height - 2 - v * (height - 4) / top:.1f}" for i, v in enumerate(values))
    return (
        f"<svg class='spark' width='{width}' height='{height}' viewBox='0 0 {width} {height}' role='img' "
        f"aria-label='requests per minute, last hour, peak {max(values)}'><polyline fill='none' "
        f"stroke='currentColor' stroke-width='1.5' points='{points}'/></svg>"
    )


def _share(part: int, whole: int, width: int = 60) -> str:
    share = part / whole if whole else 0.0
    return (
        f"<td class='num share' data-value='{share:.4f}'><svg width='{width}' height='8' class='bar' "
        f"aria-hidden='true'><rect width='{width}' height='8' class='bar-bg'/><rect width='{share * width:.1f}' "
        f"height='8' class='bar-fg'/></svg> {share:.0%}</td>"
    )


def discover(endpoints: Sequence[Mapping[str, Any]], templates: int, max_templates: int, now: float) -> str:
    rows = []
    for e in endpoints:
        marks = []
        if e["new"]:
            marks.append("<span class='badge new'>new</span>")
        if not e["protected_by"]:
            marks.append("<span class='badge open' title='no policy matches this endpoint'>no policy</span>")
        if e["found_by_bots_first"]:
            marks.append("<span class='badge bots'>bots first</span>")
        statuses = " ".join(f"{_e(code)}: {n}" for code, n in e["statuses"].items())
        bots = e["by_verdict"].get("bot", 0)
        rows.append(
            f"<tr data-kind='{_e(e['kind'])}' data-new='{str(e['new']).lower()}' "
            f"data-unprotected='{str(not e['protected_by']).lower()}'>"
            f"<td>{_e(e['host'])}</td><td>{_e(e['method'])}</td>"
            f"<td class='template'><code>{_e(e['template'])}</code> {''.join(marks)}</td>"
            f"<td>{_e(e['kind'])}</td>{_num(e['requests'])}<td>{_sparkline(e['per_minute'], now)}</td>"
            f"{_share(bots, e['requests'])}{_num(e['mitigated'])}<td>{statuses}</td>"
            f"<td>{_e(', '.join(e['query_parameters']))}</td><td>{_when(e['first_seen'])}</td>"
            f"<td>{_when(e['last_seen'])}</td><td>{_e(', '.join(e['protected_by']))}</td></tr>"
        )
    head = (
        ("host", "text"), ("method", "text"), ("endpoint", "text"), ("kind", "text"), ("requests", "num"),
        ("last hour", "none"), ("bot share", "num"), ("mitigated", "num"), ("statuses", "text"),
        ("query parameters", "text"), ("first seen", "num"), ("last seen", "num"), ("protected by", "text"),
    )  # fmt: skip
    new = sum(bool(e["new"]) for e in endpoints)
    unprotected = sum(not e["protected_by"] for e in endpoints)
    return f"""<div class="toolbar" data-table="endpoints">
<input type="search" placeholder="filter: host, path, parameter..." data-filter="text" aria-label="filter">
<select data-filter="kind" aria-label="kind"><option value="">every kind</option><option>page</option>
<option>api</option><option>asset</option><option>login</option></select>
<label><input type="checkbox" data-filter="new"> new only ({new})</label>
<label><input type="checkbox" data-filter="unprotected"> no policy ({unprotected})</label>
<a class="button" href="/api/v1/endpoints?format=openapi" download="botwall-discovered-openapi.json">OpenAPI export</a>
<span class="muted" id="template-count">{templates:,} templates (at most {max_templates:,})</span></div>
{_table("endpoints", head, rows, "No traffic seen yet.")}
"""


def _timeline(campaign: Mapping[str, Any], width: int = 360, height: int = 18) -> str:
    """When a campaign was active: a tick per active minute between its first and last request."""
    first = campaign["first_seen"] // 60 * 60  # the minute it started: `active` lists minutes
    span = max(60.0, campaign["last_seen"] - first)
    ticks = "".join(
        f"<rect x='{min(width - 2, (t - first) / span * (width - 2)):.1f}' y='2' width='2' height='{height - 4}'/>"
        for t in campaign.get("active", ())
    )
    return (
        f"<svg class='timeline' width='{width}' height='{height}' role='img' aria-label='active minutes'>"
        f"<rect width='{width}' height='{height}' class='bar-bg'/>{ticks}</svg>"
    )


def _campaign(c: Mapping[str, Any]) -> str:
    """One campaign as an analyst reads it: tools, networks, credentials, behaviour, and a way to its decisions."""
    infra, creds, behaviour = c["infrastructure"], c["credentials"], c["behaviour"]
    cid = _e(c["id"])
    kinds = ", ".join(f"{k} {share:.0%}" for k, share in infra["network_kinds"].items()) or "ordinary networks"
    addresses = infra["addresses"]
    tools = f"<h3>Tools</h3>{_pairs(c['tools']['user_agents'])}<h4>Tells</h4>{_pairs(c['tools']['tells'])}"
    networks = (
        f"<h3>Networks</h3><p><b class='addresses' data-value='{addresses}'>{_count(addresses)}</b> "
        f"{_plural(addresses, 'address', 'addresses', False)} · {_e(kinds)}</p>{_pairs(infra['networks'])}"
        f"<h4>Countries</h4>{_pairs(infra['countries'])}"
    )
    credentials = (
        f"<h3>Credentials</h3><p><b class='logins' data-value='{creds['login_attempts']}'>"
        f"{_count(creds['login_attempts'])}</b> login attempts on <b class='usernames' "
        f"data-value='{creds['usernames']}'>{_count(creds['usernames'])}</b> accounts, "
        f"{creds['breached_share']:.0%} with a breached password</p>"
    )
    conduct = (
        f"<h3>Behaviour</h3><p>{_count(behaviour['requests_per_active_minute'])} requests per active minute over "
        f"{_plural(behaviour['active_minutes'], 'minute')}</p><h4>Endpoints</h4>{_pairs(behaviour['endpoints'])}"
        f"<h4>Reasons</h4>{_pairs(behaviour['reasons'])}"
    )
    links = " ".join(
        f"<a href='/decisions?{urlencode({'fingerprint': fp})}'><code>{_e(fp)}</code></a>" for fp in c["fingerprints"]
    )
    return f"""<section class="campaign" id="campaign-{cid}" data-id="{cid}">
<h2><code>{cid}</code> <span class="count" data-value="{c["requests"]}">{_plural(c["requests"], "request")}</span>
{_chips(c["actions"])}</h2>
<p class="muted">first {_when(c["first_seen"])} · last {_when(c["last_seen"])} · {_timeline(c)}</p>
<div class="facets"><div class="facet tools">{tools}</div><div class="facet networks">{networks}</div>
<div class="facet credentials">{credentials}</div><div class="facet behaviour">{conduct}</div></div>
<p>Recent decisions: {links}</p></section>"""


def bots(campaigns: Sequence[Mapping[str, Any]]) -> str:
    if not campaigns:
        return "<p class='empty' id='campaigns-empty'>No suspect or refused traffic yet.</p>"
    sections = "\n".join(_campaign(c) for c in campaigns)
    return f"<p class='muted'>{_plural(len(campaigns), 'campaign')}, largest first.</p>\n{sections}"


def _mitigation_actions(m: Mapping[str, Any], csrf: str) -> str:
    """Pin, shorten and revoke buttons for an active mitigation (forms carrying the session's CSRF value)."""
    if m["state"] not in ("shadow", "live"):
        return ""
    ident = quote(str(m["id"]), safe="")
    return "".join(
        f"<form method='post' action='/mitigations/{ident}/{verb}' class='inline'>"
        f"<input type='hidden' name='csrf' value='{_e(csrf)}'><button type='submit'>{label}</button></form>"
        for verb, label in (("pin", "Pin"), ("shorten", "End in 10 min"), ("revoke", "Revoke"))
    )


def mitigations(rows: Sequence[Mapping[str, Any]], csrf: str = "") -> str:
    """The mitigations that follow campaigns (`botwall.mitigations`): active ones first, with their actions."""
    body = [
        f"<tr data-mitigation='{_e(m['id'])}'><td><code>{_e(m['id'])}</code></td><td>{_e(m['state'])}"
        f"{' (pinned)' if m['pinned'] else ''}</td><td>{_e(', '.join(m['tells']))}</td>{_num(m['hits'])}"
        f"{_num(m['shadow_hits'])}{_num(m['collateral'])}{_num(m['spared'])}"
        f"<td>{_when(m['created'])}</td><td>{_when(m['expires']) if m['expires'] else 'pinned'}</td>"
        f"<td>{_count(m['evidence']['requests'])} requests from {_count(m['evidence']['addresses'])} addresses; "
        f"{_e(', '.join(m['evidence']['paths'][:3]))}</td><td>{_mitigation_actions(m, csrf)}</td></tr>"
        for m in rows
    ]
    head = (
        ("id", "text"), ("state", "text"), ("tells", "text"), ("refused", "num"), ("in shadow", "num"),
        ("collateral", "num"), ("spared", "num"), ("created", "num"), ("ends", "num"), ("evidence", "text"),
        ("change", "none"),
    )  # fmt: skip
    return f"""<h2>Mitigations that follow campaigns</h2>
<p class="muted">Derived from the tells a rotating campaign cannot shed; live only after a shadow period with no
collateral on clean cookie holders. Pin, shorten or revoke them here or through the admin API
(<code>POST /api/v1/mitigations/&lt;id&gt;/pin|shorten|revoke</code>); every change is in the audit trail.</p>
{_table("mitigations", head, body, "No campaign has given botwall a mitigation yet.")}
"""


def _account_rows(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    out = []
    for a in rows:
        evidence = "".join(
            f"<li>{_when(ev['time'])} {_e(ev['outcome'])}, {_e(ev['action'])} (score {ev['score']}, "
            f"<code>{_e(ev['fingerprint'])}</code>): {_e(', '.join(ev['reasons']) or 'no reasons')}</li>"
            for ev in reversed(a["evidence"])
        )
        user = a["username"]
        because = f"<p class='why'>{_e(a['compromised_because'])}</p>" if a["compromised_because"] else ""
        out.append(
            f"<tr data-username='{_e(user)}'><td><a href='/decisions?{urlencode({'username': user})}'>{_e(user)}</a>"
            f"{because}</td>{_num(a['attempts'])}{_num(a['failures'])}{_num(a['successes'])}{_num(a['refused'])}"
            f"{_num(a['trapped'])}{_num(a['from_abusive_clients'])}{_num(a['addresses'])}{_num(a['networks'])}{_num(a['fingerprints'])}"
            f"<td>{'yes' if a['breached_password_tried'] else 'no'}</td><td>{_when(a['last_attempt'])}</td>"
            f"<td><details><summary>{_plural(len(a['evidence']), 'event')}</summary><ul>{evidence}</ul>"
            "</details></td></tr>"
        )
    return out


def accounts(compromised: Sequence[Mapping[str, Any]], attacked: Sequence[Mapping[str, Any]], tracked: int) -> str:
    head = (
        ("username", "text"), ("attempts", "num"), ("failures", "num"), ("successes", "num"), ("refused", "num"),
        ("trapped", "num"), ("from abusive clients", "num"), ("addresses", "num"), ("networks", "num"),
        ("fingerprints", "num"), ("breached password", "text"), ("last attempt", "num"), ("evidence", "none"),
    )  # fmt: skip
    return f"""<p class="muted">{tracked:,} usernames tried on login routes. Passwords are never kept.</p>
<h2>Likely compromised <a class="button" href="/api/v1/accounts?state=compromised&amp;format=csv"
download="compromised-accounts.csv">CSV</a></h2>
{_table("compromised", head, _account_rows(compromised), "No account looks compromised.")}
<h2>Under attack <a class="button" href="/api/v1/accounts?state=under_attack&amp;format=csv"
download="accounts-under-attack.csv">CSV</a></h2>
{_table("under-attack", head, _account_rows(attacked), "No account is under attack.")}
"""


def _campaign_link(campaign: str) -> str:
    return f"<a href='/bots'><code>{_e(campaign)}</code></a>" if campaign else ""


def transactions(found: Sequence[Mapping[str, Any]], routes: int) -> str:
    """The transactions sent for review (`edge.transactions`), newest first: the fraud analyst's queue."""
    if not routes:
        return ""
    rows = [
        f"<tr><td>{_when(t['time'])}</td><td>{_e(t['transaction'])}</td>{_num(t['risk'])}"
        f"<td>{_e(', '.join(t['reasons']) or 'none')}</td>"
        f"<td>{_campaign_link(t['campaign'])}</td>"
        f"<td>{_e(t['client_ip'])}</td><td><a href='/decisions?{urlencode({'fingerprint': t['fingerprint']})}'>"
        f"<code>{_e(t['fingerprint'])}</code></a></td><td class='path'>{_e(t['method'])} {_e(t['path'])}</td>"
        f"<td>{_e(ACTIONS.get(t['action'], t['action']))}</td></tr>"
        for t in found
    ]
    head = (
        ("time", "num"), ("transaction", "text"), ("risk", "num"), ("reasons", "text"), ("campaign", "text"),
        ("address", "text"), ("fingerprint", "text"), ("request", "text"), ("action", "text"),
    )  # fmt: skip
    return f"""<h2>Transactions for review <a class="button" href="/api/v1/transactions?review=true">JSON</a></h2>
<p class="muted">The latest {len(found)} transactions whose risk reached their route's review_from (of the last 1,000
judged). No field value is ever kept: the velocity checks see keyed hashes.</p>
{_table("transactions", head, rows, "No transaction was risky enough to review.")}
"""


def alerts(view: Mapping[str, Any]) -> str:
    firing = "<span class='badge firing'>firing</span>"
    triggers = [
        f"<tr data-name='{_e(t['name'])}' data-firing='{str(t['firing']).lower()}'><td>{_e(t['name'])}</td>"
        f"<td>{_e(t['kind'])}</td><td>{firing if t['firing'] else 'quiet'}</td>{_num(t['value'])}"
        f"{_num(t['threshold'])}<td>{_e(t['baseline_factor'] or '')}</td>{_num(t['baseline'])}"
        f"{_num(t['window_seconds'])}{_num(t['cooldown_seconds'])}{_num(t['fired'])}</tr>"
        for t in view["triggers"]
    ]
    events = [
        f"<tr data-alert='{_e(ev['alert'])}' data-state='{_e(ev['state'])}'><td>{_when(ev['time'])}</td>"
        f"<td>{_e(ev['alert'])}</td><td>{_e(ev['kind'])}</td><td>{_e(ev['state'])}</td>{_num(ev['value'])}"
        f"{_num(ev['threshold'])}</tr>"
        for ev in view["events"]
    ]
    webhooks = [
        f"<tr data-name='{_e(w['name'])}'><td>{_e(w['name'])}</td><td>{_e(w['format'])}</td>"
        f"<td>{'yes' if w['signed'] else 'no'}</td>{_num(w.get('delivered', 0))}"
        f"{_num(w.get('failed_attempts', 0))}{_num(w.get('dropped', 0))}</tr>"
        for w in view["webhooks"]
    ]
    trigger_head = (
        ("name", "text"), ("kind", "text"), ("state", "text"), ("value", "num"), ("threshold", "num"),
        ("baseline factor", "text"), ("baseline", "num"), ("window s", "num"), ("cool-down s", "num"), ("fired", "num"),
    )  # fmt: skip
    event_head = (
        ("time", "num"), ("trigger", "text"), ("kind", "text"), ("state", "text"), ("value", "num"),
        ("threshold", "num"),
    )  # fmt: skip
    webhook_head = (
        ("name", "text"), ("format", "text"), ("signed", "text"), ("delivered", "num"), ("failed attempts", "num"),
        ("dropped", "num"),
    )  # fmt: skip
    return "\n".join(
        (
            "<h2>Triggers</h2>",
            _table("triggers", trigger_head, triggers, "No alert triggers are configured (alerts.triggers)."),
            "<h2>History</h2>",
            _table("events", event_head, events, "No alert has fired."),
            "<h2>Webhooks</h2>",
            _table("webhooks", webhook_head, webhooks, "No webhooks are configured."),
        )
    )


def events(rows: Sequence[Mapping[str, Any]], audit: Sequence[Mapping[str, Any]]) -> str:
    """Event mode: the events and their state, and the audit trail of every change, newest first."""
    event_rows = [
        f"<tr data-name='{_e(e['name'])}' data-state='{_e(e['state'])}'><td>{_e(e['name'])}</td>"
        f"<td>{_e(e['state'])}</td><td>{_when(e['start'] or 0)}</td><td>{_when(e['end'] or 0)}</td>"
        f"<td>{_when(e['running_until'] or 0)}</td><td>{_e(e['started_by'] or '')}</td>{_num(e['expected_rps'])}"
        f"<td>{_e(', '.join(e['policies']))}</td></tr>"
        for e in rows
    ]
    audit_rows = [
        f"<tr data-action='{_e(a['action'])}' data-target='{_e(a['target'])}'><td>{_when(a['time'])}</td>"
        f"<td>{_e(a['by'])}</td><td>{_e(a['action'])}</td><td>{_e(a['target'])}</td><td>{_e(a['why'])}</td></tr>"
        for a in reversed(audit)
    ]
    event_head = (
        ("event", "text"), ("state", "text"), ("scheduled start", "num"), ("scheduled end", "num"),
        ("runs until", "num"), ("started by", "text"), ("expected rps", "num"), ("policies while it runs", "text"),
    )  # fmt: skip
    audit_head = (("time", "num"), ("by", "text"), ("change", "text"), ("target", "text"), ("why", "text"))
    return "\n".join(
        (
            "<h2 id='event-mode'>Events</h2>",
            _table("events-table", event_head, event_rows, "No events (events: in the config, or botwall event)."),
            "<h2 id='audit'>Audit trail</h2>",
            _table("audit", audit_head, audit_rows, "Nothing changed yet."),
        )
    )


def decisions(filters: Mapping[str, str], found: Sequence[Mapping[str, Any]]) -> str:
    fields = "".join(
        f"<label>{name} <input name='{name}' value='{_e(filters.get(name, ''))}'></label>"
        for name in ("address", "fingerprint", "username", "reason", "action")
    )
    rows = [
        f"<tr><td>{_when(d['time'])}</td><td>{_e(d['client_ip'])}</td><td><code>{_e(d['fingerprint'])}</code></td>"
        f"<td>{_e(d['username'])}</td><td>{_e(d['method'])}</td><td class='path'>{_e(d['path'])}</td>"
        f"<td>{_e(ACTIONS.get(d['action'], d['action']))}{' (shadow)' if d['shadow'] else ''}</td>"
        f"<td>{_e(d['verdict'])}</td>{_num(d['score'])}<td>{_e(', '.join(d['reasons']))}</td>"
        f"<td>{_e(d['policy'])}</td></tr>"
        for d in found
    ]
    head = (
        ("time", "num"), ("address", "text"), ("fingerprint", "text"), ("username", "text"), ("method", "text"),
        ("path", "text"), ("action", "text"), ("verdict", "text"), ("score", "num"), ("reasons", "text"),
        ("policy", "text"),
    )  # fmt: skip
    return f"""<form method="get" action="/decisions" class="toolbar search">{fields}
<button type="submit">Search</button></form>
<p class="muted">The latest {len(found)} matching decisions (of the last 10,000 kept), newest first.</p>
{_table("decisions", head, rows, "No decision matches.")}
"""
