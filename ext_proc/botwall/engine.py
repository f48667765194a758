"""The engine: from a RequestView to Evidence, a score and a Decision, and the response phase's bookkeeping.

Three steps, each named for what it does. `observe` reads the pillars and counts the request in its behaviour
windows (the write is in the name: it changes state). `policy.decide` picks the decision from the score and the
evidence, purely. `record_response` feeds the outcome (status, login success, a new session) back into the windows
the request counted in. Every piece of state (windows, token buckets, challenge memory, the site's window) lives in
the `Store`, keyed through `state.keys`, so a shared backend sees all of it; loaded data comes in as `Resources`.
No gRPC or Envoy types in sight.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from botwall import policy
from botwall.clock import Clock, monotonic
from botwall.config import Action, Config
from botwall.events import EventBook
from botwall.evidence.behaviour import (
    POLLER_MEMORY,
    AccountWindow,
    ClientWindow,
    EndpointBaseline,
    EndpointWindow,
    LoginContext,
    SprayWindow,
    add,
    behaviour_reasons,
    contains,
    distinct,
    endpoint_of,
    is_cold,
    request_kind,
    site_shares,
    snapshot,
)
from botwall.evidence.credentials import LoginAttempt, LoginRoute, credential_reasons, login_outcome
from botwall.evidence.headers import API_PATH, HeaderEvidence, header_reasons
from botwall.evidence.infra import VERIFIED, IpInfo, ip_reasons
from botwall.evidence.tls import TlsEvidence
from botwall.evidence.transactions import (
    ApplicantWindow,
    DetailWindow,
    Transaction,
    TransactionRoute,
    Velocity,
    applicant_of,
)
from botwall.evidence.useragent import UserAgentInfo, ua_reasons
from botwall.mitigations import REASON as MITIGATION_REASON
from botwall.mitigations import MitigationBook
from botwall.policy import Decision
from botwall.request import RequestView, is_https
from botwall.resources import Resources
from botwall.scoring.features import Evidence
from botwall.scoring.fingerprint import fingerprint, software
from botwall.scoring.rules import DEFAULT_WEIGHTS, TOOL_PREFIXES, Score, Scorer
from botwall.state.keys import KeyHasher
from botwall.state.store import Store, create_store, retry_after_seconds
from botwall.state.tokens import CookieSigner


@dataclass(slots=True)
class RequestContext:
    """What the response phase of a request needs: the windows it counted in, and its login attempt."""

    ip: ClientWindow
    fp: ClientWindow
    site: ClientWindow | None = None
    token: ClientWindow | None = None  # the window of the request's botwall cookie, when it holds one
    route: LoginRoute | None = None
    login: LoginAttempt | None = None
    account: AccountWindow | None = None
    software: str = ""  # what botwall's cookie is bound to (fingerprint.software)
    issue_cookie: bool = False  # a page request without botwall's token: its response hands one out
    secure: bool = False  # the client reached us over HTTPS (the token cookie is then Secure)
    # The store's (namespace, key) of each record the response phase counts into, so a shared store pushes it again.
    keys: tuple[tuple[str, str], ...] = ()
    kind: str = ""  # page, api or asset (`request_kind`)
    ip_info: IpInfo | None = None  # what botwall knows of the address (the campaigns' infrastructure)
    token_id: str = ""  # the keyed hash of botwall's cookie, when the request holds a valid one


# Headers whose values the client software's evidence never reads (their names and places still count): they differ
# from one request of a browser to the next, so with their values in the key the cache below would never answer.
_PER_REQUEST = frozenset(
    {
        "cookie", "referer", "x-request-id", "x-forwarded-for", "content-length", "if-none-match",
        "if-modified-since", "traceparent", "tracestate",
    }
)  # fmt: skip
SOFTWARE_CACHE = 2048  # header sets whose software evidence is kept (a popular build's pages, fetches and assets)
# The most characters of header values a kept header set may hold (a browser's are about a thousand): with Envoy's 60
# KiB of headers, 2,048 entries of crafted ones would otherwise pin over 100 MiB.
SOFTWARE_CACHE_CHARS = 4096


@dataclass(frozen=True, slots=True)
class _Software:
    """What a request's headers say of the client software, the same for every request with those headers."""

    ua: UserAgentInfo
    headers: HeaderEvidence
    tls: TlsEvidence
    fingerprint: str
    client: str  # what botwall's cookie is bound to
    ua_reasons: list[str]
    reasons: list[str]  # the header shape's and the TLS fingerprint's


class Engine:
    """Observes a request's evidence, scores it, applies the decision's stateful part, and records the response."""

    def __init__(
        self,
        config: Config,
        resources: Resources,
        *,
        scorer: Scorer | None = None,
        store: Store | None = None,
        clock: Clock = monotonic,
        wall: Clock = time.time,
        cookie_signer: CookieSigner | None = None,
        keys: KeyHasher | None = None,
    ) -> None:
        self.config = config
        self.resources = resources
        self.scorer: Scorer = scorer if scorer is not None else resources.scorer
        self.clock = clock
        self.wall = wall
        self.events = EventBook(config, wall)  # event mode: the config to decide with, at a wall-clock time
        # Mitigations that follow campaigns, their changes in the events' audit trail (one trail for the API).
        self.mitigations = MitigationBook(config.automation, DEFAULT_WEIGHTS, wall, self.events.audit)
        self.store: Store = store if store is not None else create_store(config.state, clock)
        self.cookies = cookie_signer or CookieSigner(config.client_cookie, clock=wall)
        self.keys = keys or KeyHasher.from_env()
        self.logins = resources.logins  # reads a login body before `evaluate` (the body arrives in its own message)
        # By everything the software evidence reads (`_software`): a browser sends the same headers on every page.
        self._softwares: dict[tuple[object, ...], _Software] = {}

    def login_route(self, view: RequestView) -> LoginRoute | None:
        """The configured login route this request is for, if any."""
        for route in self.config.login_routes:
            if route.match.matches(view.authority, view.path, view.method):
                return route
        return None

    def observe(
        self, view: RequestView, route: LoginRoute | None = None, login: LoginAttempt | None = None
    ) -> tuple[Evidence, RequestContext]:
        """Read every pillar and count the request in its behaviour windows (this writes state)."""
        now = self.clock()
        res = self.resources
        soft = self._software(view)
        ua, fp, client = soft.ua, soft.fingerprint, soft.client
        ip = res.ip_intel.lookup(view.client_ip)
        crawler = res.ip_intel.verify_crawler(ua.raw, view.client_ip) if ua.category == "crawler" else ""
        kind = request_kind(view)
        has_cookie = "cookie" in view.by_name
        token = self.cookies.token_in(view.header("cookie"), client) if has_cookie else ""
        store, key = self.store, self.keys
        ip_window = store.record("ip", view.client_ip, ClientWindow)
        fp_window = store.record("fp", fp, ClientWindow)
        site = store.aggregate("site", ClientWindow)
        path_hash = key(view.path)
        ip_hash = key(view.client_ip)
        # Behind a deployment where botwall sees pages, an API call with no page view from its address is cold; where
        # only the API passes through botwall (pages on a CDN), every API call would be, so none is.
        # Cookie holders mean pages (botwall's cookie is handed out on page responses only), however much API traffic
        # an attacker adds to push the page share down.
        site_pages, site_tokens = site_shares(site)  # before this request counts
        pages_seen = site_pages >= _SITE_PAGES or site.long - site.no_cookie >= _SITE_HOLDERS
        ip_pages = ip_window.pages if pages_seen else 1.0  # before this request counts
        cold = is_cold(view, kind, ip_pages)
        ip_window.observe(now, kind, path_hash, has_cookie, ip_hash, cold)
        fp_window.observe(now, kind, path_hash, has_cookie, ip_hash, cold)
        token_window = None
        roams = False
        token_hash = key(token) if token else 0
        if token:
            # The cookie is one browser: where it is presented from, and how much, is that browser's own behaviour;
            # how many cookies an address presents says whether it is shared (an office, a carrier gateway).
            # Page views and API calls only: a page's assets arrive in bursts of dozens, and say nothing of its pace.
            token_window = store.record("tok", token, ClientWindow)
            if kind != "asset":
                token_window.observe(now, kind, path_hash, has_cookie, ip_hash)
            network = ip.asn or ip_hash
            roams = bool(token_window.networks) and not contains(token_window.networks, network)
            token_window.networks = add(token_window.networks, network)
            ip_window.tokens = add(ip_window.tokens, token_hash)
        polling = site_polled = False
        if kind == "api":
            holder = token_window if token_window is not None else ip_window
            polling, site_polled = self._endpoint_polling(
                view, token or view.client_ip, token_hash or ip_hash, holder, now
            )
        if token_window is not None:
            # A cookie caught polling is a poller on all its requests for a while (its page views between polls too),
            # unless what it polls turned out to be what the site's own pages poll.
            if polling or site_polled:
                token_window.polling_until = now + POLLER_MEMORY if polling else 0.0
            polling = polling or token_window.polling_until > now
        account = spray = None
        login_context = None
        if login is not None:
            # A login with no history behind it: no cookie of botwall's and no page view from its address (where
            # botwall sees pages), or no cookie where the site's people hold one. The client's own evidence.
            login_context = LoginContext(
                cold=not token and ip_pages < 0.5,
                tokenless=not token and self.config.client_cookie.issue and site_tokens >= _SITE_TOKENS,
            )
        if login is not None and login.username:
            user_hash = key(login.username)
            ip_window.usernames = add(ip_window.usernames, user_hash)
            fp_window.usernames = add(fp_window.usernames, user_hash)
            if token_window is not None:
                token_window.usernames = add(token_window.usernames, user_hash)
            account = store.record("user", login.username, AccountWindow)
            account.observe(now, ip_hash, key(fp))
            if login.password_key:
                spray = store.record("password", login.password_key.hex(), SprayWindow)
                spray.usernames = add(spray.usernames, user_hash)
        # The site window counts a request "with cookie" when it holds botwall's token.
        site.observe(now, kind, 0, bool(token), 0, cold)
        # A cold page with a referer is a click from this site's page that its address never loaded (`is_cold`), and
        # where botwall hands out its cookie, a click by a client that did not keep it: one that asks for proof (a
        # challenge, `PROOF_WANTED`). Where it hands none out, people changing address between pages look the same.
        orphan = cold and kind == "page" and "referer" in view.by_name and self.config.client_cookie.issue
        behaviour = snapshot(
            now, ip_window, fp_window, account, spray, cold, token_window, site, login_context, orphan, polling
        )
        reasons = (
            soft.ua_reasons
            + ip_reasons(ip, crawler)
            + header_reasons(view)
            + soft.reasons
            + credential_reasons(login)
            + behaviour_reasons(behaviour)
        )
        token_id = format(token_hash, "x") if token else ""
        evidence = Evidence(
            view, fp, kind, ua, soft.headers, soft.tls, ip, crawler, behaviour, login, tuple(reasons), bool(token),
            token_id, roams,
        )  # fmt: skip
        issue = kind == "page" and not token and self.config.client_cookie.issue
        keys: tuple[tuple[str, str], ...] = (("ip", view.client_ip), ("fp", fp))
        if token:
            keys += (("tok", token),)
        if account is not None and login is not None:
            keys += (("user", login.username),)
        context = RequestContext(
            ip_window, fp_window, site, token_window, route, login, account, client, issue, is_https(view), keys, kind,
            ip, token_id,
        )  # fmt: skip
        return evidence, context

    def _software(self, view: RequestView) -> _Software:
        """The user-agent, header shape and TLS evidence, the fingerprint and the cookie's binding of a request, from
        the cache when a request with the same headers came before (their values but `_PER_REQUEST`'s, and the
        method, scheme, authority, JA4 and whether the path is an API's: all that these read)."""
        stable = tuple((name, "") if name in _PER_REQUEST else (name, value) for name, value in view.headers)
        key = (view.method, view.scheme, view.authority, view.ja4, API_PATH.search(view.path) is not None, stable)
        known = self._softwares.get(key)
        if known is not None:
            return known
        res = self.resources
        ua = res.ua.analyze(view.header("user-agent"))
        headers = res.headers.analyze(view, ua)
        tls = res.tls.analyze(view.ja4, ua)
        soft = _Software(
            ua, headers, tls, fingerprint(view, ua), software(view, ua), ua_reasons(ua),
            list(headers.reasons) + list(tls.reasons),
        )  # fmt: skip
        chars = len(view.method) + len(view.authority) + len(view.ja4) + sum(len(value) for _, value in stable)
        if chars <= SOFTWARE_CACHE_CHARS:
            cache = self._softwares
            if len(cache) >= SOFTWARE_CACHE:
                del cache[next(iter(cache))]  # the oldest header set first
            cache[key] = soft
        return soft

    def _endpoint_polling(
        self, view: RequestView, holder: str, holder_hash: int, window: ClientWindow, now: float
    ) -> tuple[bool, bool]:
        """Count an API call in its client's window for the endpoint (the client: its botwall cookie, else its
        address) and in the endpoint's site-wide baseline. Returns whether the client is polling it where that is
        its own evidence (not where its API calls do not outnumber its page views three to one: a page that asks the
        endpoint as it loads), and whether it polls an endpoint the site's own clients poll (then it is not)."""
        endpoint = format(self.keys(endpoint_of(view.path, view.query)), "x")
        polling = self.store.record("ep", f"{holder}|{endpoint}", EndpointWindow).observe(now)
        baseline = self.store.record("endpoint", endpoint, EndpointBaseline)
        baseline.clients = add(baseline.clients, holder_hash)
        if polling:
            baseline.pollers = add(baseline.pollers, holder_hash)
        site = polling and baseline.polled()
        return polling and not site and window.apis >= 3.0 * window.pages, site

    def evaluate(
        self,
        view: RequestView,
        route: LoginRoute | None = None,
        login: LoginAttempt | None = None,
        transaction: Transaction | None = None,
    ) -> tuple[Decision, RequestContext]:
        """The whole decision, and the context its response phase needs."""
        evidence, context = self.observe(view, route, login)
        decision = self.judge(evidence)
        if transaction is not None:
            decision = self._transaction(decision, evidence, transaction)
        return decision, context

    def transaction_route(self, view: RequestView) -> TransactionRoute | None:
        """The configured transaction route this request is for, if any."""
        for route in self.config.transactions:
            if route.match.matches(view.authority, view.path, view.method):
                return route
        return None

    def _transaction(self, decision: Decision, evidence: Evidence, transaction: Transaction) -> Decision:
        """A transaction's velocity checks and risk. They inform the review and never the policies: the decision's
        score, and so its action, stay what the client's history says; the risk adds the velocity reasons' points."""
        store = self.store
        client = evidence.token_id or evidence.view.client_ip
        found: list[str] = [] if transaction.parsed else ["txn:unreadable-body"]
        if transaction.values:
            client_hash = self.keys(client)
            most = 0
            for name, value in transaction.values:
                detail = store.record("txd", f"{transaction.route}|{name}|{value:x}", DetailWindow)
                detail.clients = add(detail.clients, client_hash)
                most = max(most, distinct(detail.clients))
            window = store.record("txc", f"{transaction.route}|{client}", ApplicantWindow)
            window.observe(applicant_of(transaction))
            velocity = Velocity(most, distinct(window.applicants))
            found += velocity.reasons(not evidence.token and evidence.behaviour.ip_shared)
        reasons = decision.reasons + tuple(code for code in found if code not in decision.reasons)
        points = sum(DEFAULT_WEIGHTS.get(code, 10) for code in found)
        return replace(decision, reasons=reasons, transaction=transaction.route, risk=min(100, decision.score + points))

    def decide(self, view: RequestView) -> Decision:
        """Evidence, score and decision for a request that is not a login with a body (convenience for tests)."""
        return self.evaluate(view)[0]

    def judge(self, evidence: Evidence) -> Decision:
        """Score the evidence, let the policies decide, apply the decision's stateful part (a throttle's token
        bucket, a challenge's cookie and memory), and the mitigations that follow campaigns."""
        score = self.scorer.score(evidence)
        now = self.wall()
        config = self.events.config(now)
        decision = self._decide(score, evidence, config)
        if self.mitigations.enabled:
            decision = self._follow(decision, evidence, score, config, now)
        return decision

    def _follow(self, decision: Decision, evidence: Evidence, score: Score, config: Config, now: float) -> Decision:
        """Count the request's tells for the mitigations (`botwall.mitigations`), and refuse it when a live one
        matches: never a clean cookie holder's (its own score under suspect: proof accrues to the client), a
        verified crawler's or an allowlisted address's."""
        tells = tuple(sorted(code for code in evidence.reasons if code.startswith(TOOL_PREFIXES)))
        if not tells:
            return decision
        view = evidence.view
        suspect = config.thresholds.suspect
        clean = evidence.token and score.own < suspect
        book = self.mitigations
        book.observe(
            tells, score.value >= suspect, clean, self.keys(view.client_ip), evidence.fingerprint, view.path, now
        )
        if decision.mitigates or evidence.crawler == VERIFIED or evidence.ip.reputation == "allow":
            return decision
        mitigation = book.match(tells)
        if mitigation is None:
            return decision
        live = mitigation.state == "live"
        if clean:
            if live:
                mitigation.spared += 1
            else:
                mitigation.collateral += 1
            return decision
        if not live:
            mitigation.shadow_hits += 1
            return decision
        mitigation.hits += 1
        return replace(
            decision,
            action=Action.BLOCK,
            enforced=not config.shadow,
            shadow=config.shadow,
            policy=f"mitigation:{mitigation.id}",
            reasons=(*decision.reasons, MITIGATION_REASON),
            bucket="",
            throttle=None,
            retry_after=0,
        )

    def _decide(self, score: Score, evidence: Evidence, config: Config) -> Decision:
        view = evidence.view
        decision = policy.decide(score, evidence, config)
        memory = ""
        if decision.action is Action.CHALLENGE:
            # Only a challenge asks whether this client was challenged lately (and came back without the token), so
            # only then is the memory read. By keyed hash: a path can be 8 KiB, and a flood of them must not make the
            # challenge memory that large.
            memory = format(self.keys(f"{view.client_ip}|{evidence.fingerprint}|{view.path}"), "x")
            if self.store.marked("challenged", memory):
                decision = policy.decide(score, evidence, config, challenged_lately=True)
        if decision.action is Action.THROTTLE and decision.throttle is not None:
            wait = self.store.take_token(decision.bucket, decision.throttle.rate, decision.throttle.burst)
            if wait == 0.0:
                return policy.within_budget(decision)
            return replace(decision, retry_after=retry_after_seconds(wait))
        if decision.action is Action.CHALLENGE and not decision.shadow:
            # A shadowed challenge is not served: no memory of it, and no cookie minted for it (an HMAC each).
            self.store.mark("challenged", memory, _CHALLENGE_MEMORY)
            return replace(decision, set_cookie=self.cookies.set_cookie(software(view, evidence.ua), is_https(view)))
        return decision

    def failed(self, view: RequestView | None) -> Decision:
        """The decision for a request botwall failed to judge (a bug of its own, never the input): `on_error`,
        tagged and logged with the reason `err:internal`, never a silent pass (see `policy.failed`)."""
        holds: bool | None = None
        client = ""
        if view is not None:
            try:
                client = software(view, self.resources.ua.analyze(view.header("user-agent")))
                holds = bool(self.cookies.token_in(view.header("cookie"), client))
            except Exception:  # the failure being handled may be this very code's: refuse
                holds = None
        page = view is not None and view.method in ("GET", "HEAD")
        decision = policy.failed(self.config, holds, page)
        if decision.action is Action.CHALLENGE and view is not None:
            return replace(decision, set_cookie=self.cookies.set_cookie(client, is_https(view)))
        return decision

    def reads_response(self, context: RequestContext) -> bool:
        """Whether the response to an allowed request tells botwall anything: a login's outcome, a page that gets
        botwall's cookie, or, for a client without a valid cookie, the status and new session its address and
        browser build count (errors, sessions started). A cookie holder's other responses are not read: the server
        ends the stream after the request's answer, which saves Envoy and botwall a message each way on most of a
        site's traffic; a cookie holder's own evidence is its cookie's record, which counts requests, not answers."""
        return context.route is not None or context.issue_cookie or context.token is None

    def record_response(self, context: RequestContext, status: int, set_cookies: list[str]) -> str:
        """Feed a response back into the windows; returns the login outcome (or "" when not a login)."""
        outcome = ""
        if context.route is not None and context.login is not None:
            outcome = login_outcome(context.route, status, set_cookies)
            if context.account is not None:
                if outcome == "failure":
                    context.account.failures += 1.0
                elif outcome == "success":
                    context.account.successes += 1.0
        new_session = bool(set_cookies) and context.ip.no_cookie > 0
        login = context.login is not None
        failed = outcome == "failure"
        context.ip.observe_response(status, login, failed, new_session)
        context.fp.observe_response(status, login, failed, new_session)
        if login:
            # The site's and the cookie's logins: the baseline a build's failure share is read against, and the
            # cookie holder's own record behind a shared address.
            for window in (context.site, context.token):
                if window is not None:
                    window.logins += 1.0
                    if failed:
                        window.login_failures += 1.0
        store = self.store  # the site's window is pushed with every request's round (`observe` fetches it)
        for namespace, key in context.keys:
            store.touch(namespace, key)
        return outcome

    def response_cookie(self, context: RequestContext, status: int, cache_control: str = "") -> str:
        """botwall's token for the response to a page request without one ("" when none is due).

        Never on a response a shared cache may store (`public`, `s-maxage`, or `max-age` without `private`): a CDN
        in front of Envoy would hand that one token to everybody.
        """
        if not context.issue_cookie or status >= 400 or shared_cacheable(cache_control):
            return ""
        return self.cookies.set_cookie(context.software, context.secure)


# The share of page views below which botwall takes it that it sees only an API (the pages are served elsewhere).
_SITE_PAGES = 0.1

# Decayed requests holding botwall's cookie from which botwall takes it that it sees the site's pages.
_SITE_HOLDERS = 5.0

# The share of requests holding botwall's cookie from which a login without one stands out.
_SITE_TOKENS = 0.3

# Seconds a challenge is remembered per address, fingerprint and path: a browser is back within a second or two.
_CHALLENGE_MEMORY = 60.0


def shared_cacheable(cache_control: str) -> bool:
    """True when a `Cache-Control` value lets a shared cache store the response."""
    value = cache_control.lower()
    if "private" in value or "no-store" in value:
        return False
    return "public" in value or "s-maxage" in value or "max-age" in value
