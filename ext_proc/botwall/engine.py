"""The decision engine: from a RequestView to Evidence, a Score and a Decision, with no gRPC or Envoy types in sight.

Per request: the pillars are read (user-agent, headers, credentials on login routes), the behaviour windows of the
client's IP, fingerprint and username are updated and read, the scorer weighs the evidence, and the first policy
that takes the request decides. The response phase feeds the outcome (status, login success) back into the windows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from botwall.client_cookie import CookieSigner
from botwall.clock import Clock, monotonic
from botwall.config import Action, Config, DeceiveSpec, LoginRoute, Policy, ThrottleSpec
from botwall.evidence.behaviour import (
    AccountWindow,
    ClientWindow,
    SprayWindow,
    add,
    behaviour_reasons,
    is_cold,
    request_kind,
    site_shares,
    snapshot,
)
from botwall.evidence.credentials import LoginAttempt, LoginReader, credential_reasons, login_outcome
from botwall.evidence.headers import HeaderAnalyzer
from botwall.evidence.passwords import PasswordChecker, load_password_checker
from botwall.evidence.tls import TlsAnalyzer
from botwall.evidence.useragent import UserAgentAnalyzer, ua_reasons
from botwall.features import Evidence
from botwall.fingerprint import fingerprint, software
from botwall.infra import SPOOFED, VERIFIED, InfraSettings, IpInfo, IpIntel, load_ip_intel
from botwall.request import RequestView
from botwall.scoring import RuleScorer, Score, Scorer, signature_weight
from botwall.store import BoundedTable, Store, create_store, retry_after_seconds


class Verdict:
    """The scorer's opinion of the client, independent of the action."""

    HUMAN = "human"
    SUSPECT = "suspect"
    BOT = "bot"
    GOOD_BOT = "good-bot"


@dataclass(frozen=True, slots=True)
class Decision:
    """What botwall decided about one request; blocking is a value, not an exception."""

    action: Action
    enforced: bool
    shadow: bool
    policy: str
    score: int
    verdict: str
    reasons: tuple[str, ...]
    fingerprint: str
    retry_after: int = 0
    deceive: DeceiveSpec | None = None
    set_cookie: str = ""  # a challenge's Set-Cookie value (botwall's token)

    @property
    def mitigates(self) -> bool:
        """True when the request is answered by botwall instead of reaching the upstream."""
        return self.enforced and self.action in _ANSWERED


_ANSWERED = frozenset((Action.BLOCK, Action.THROTTLE, Action.DECEIVE, Action.CHALLENGE))


@dataclass(slots=True)
class RequestContext:
    """What the response phase of a request needs: the windows it counted in, and its login attempt."""

    ip: ClientWindow
    fp: ClientWindow
    route: LoginRoute | None = None
    login: LoginAttempt | None = None
    account: AccountWindow | None = None
    software: str = ""  # what botwall's cookie is bound to (fingerprint.software)
    issue_cookie: bool = False  # a page request without botwall's token: its response hands one out
    secure: bool = False  # the client reached us over HTTPS (the token cookie is then Secure)


_UA: UserAgentAnalyzer | None = None
_HEADERS: HeaderAnalyzer | None = None
_TLS: TlsAnalyzer | None = None
_IP_INTEL: dict[InfraSettings, IpIntel] = {}
_PASSWORDS: dict[str, PasswordChecker] = {}


def _shared_ua_analyzer() -> UserAgentAnalyzer:
    # Loading the pattern sets takes a fraction of a second: share one analyzer between engines (and tests).
    global _UA
    if _UA is None:
        _UA = UserAgentAnalyzer()
    return _UA


def _shared_header_analyzers() -> tuple[HeaderAnalyzer, TlsAnalyzer]:
    # The captured profiles and the TLS table are read once per process.
    global _HEADERS, _TLS
    if _HEADERS is None or _TLS is None:
        _HEADERS, _TLS = HeaderAnalyzer(), TlsAnalyzer()
    return _HEADERS, _TLS


def shared_ip_intel(settings: InfraSettings | None) -> IpIntel:
    """The IP intelligence for these settings, loaded once per process (its tables take ~0.3 s and ~12 MiB)."""
    key = settings or InfraSettings()
    intel = _IP_INTEL.get(key)
    if intel is None:
        intel = _IP_INTEL[key] = load_ip_intel(key)
    return intel


def shared_password_checker(hibp_path: str) -> PasswordChecker:
    """The breached/common-password checker (the shipped filter, plus HIBP data when configured), loaded once."""
    checker = _PASSWORDS.get(hibp_path)
    if checker is None:
        checker = _PASSWORDS[hibp_path] = load_password_checker(hibp_path or None)
    return checker


_NETWORK_REASONS = {
    "hosting": "ip:hosting",
    "cloud": "ip:hosting",
    "vpn": "ip:vpn",
    "tor": "ip:tor",
    "proxy": "ip:proxy",
}


def ip_reasons(ip: IpInfo, crawler: str) -> list[str]:
    """Reason codes of the infrastructure pillar."""
    out = []
    if crawler == SPOOFED:
        out.append("ip:fake-crawler")
    elif crawler == VERIFIED:
        out.append("ip:verified-crawler")
    network = _NETWORK_REASONS.get(ip.network)
    if network is not None:
        out.append(network)
    if ip.reputation == "bad":
        out.append("ip:bad-reputation")
    elif ip.reputation == "allow":
        out.append("ip:allowlisted")
    return out


def header_reasons(view: RequestView) -> list[str]:
    """Header reasons the shape analyzer leaves to us: a value over its bound (no real client sends one), and a
    missing `accept` (every real browser and most libraries send it)."""
    out = ["hdr:malformed-value"] if view.oversized else []
    if "accept" not in view.by_name:
        out.append("hdr:no-accept")
    return out


class Engine:
    """Reads the evidence, scores it, picks the first policy that takes the request, and applies its action."""

    def __init__(
        self,
        config: Config,
        scorer: Scorer | None = None,
        store: Store | None = None,
        clock: Clock = monotonic,
        login_reader: LoginReader | None = None,
        ip_intel: IpIntel | None = None,
        wall: Clock = time.time,
        cookie_signer: CookieSigner | None = None,
    ) -> None:
        self.config = config
        self.scorer: Scorer = scorer or RuleScorer()
        self.clock = clock
        self.store: Store = store if store is not None else create_store(config.state, clock)
        self.ua = _shared_ua_analyzer()
        self.headers, self.tls = _shared_header_analyzers()
        self.logins = login_reader or LoginReader(shared_password_checker(config.hibp_path))
        self.ip_intel = ip_intel or shared_ip_intel(config.ip_data)
        self.cookies = cookie_signer or CookieSigner(config.client_cookie, clock=wall)
        # All traffic in one window: the deployment's shape (pages through botwall at all? its cookie held?).
        self._site = ClientWindow()
        # (address, fingerprint, path) challenged lately, by hash (a slot and an int each, about 120 bytes): coming
        # back without the token means no cookies are kept.
        self._challenged: BoundedTable[bool] = BoundedTable(config.state.max_entries, _CHALLENGE_MEMORY, clock)

    def login_route(self, view: RequestView) -> LoginRoute | None:
        """The configured login route this request is for, if any."""
        for route in self.config.login_routes:
            if route.match.matches(view.authority, view.path, view.method):
                return route
        return None

    def evidence(
        self, view: RequestView, route: LoginRoute | None = None, login: LoginAttempt | None = None
    ) -> tuple[Evidence, RequestContext]:
        """Read every pillar and count the request in its behaviour windows."""
        now = self.clock()
        ua = self.ua.analyze(view.header("user-agent"))
        headers = self.headers.analyze(view, ua)
        tls = self.tls.analyze(view.ja4, ua)
        ip = self.ip_intel.lookup(view.client_ip)
        crawler = self.ip_intel.verify_crawler(ua.raw, view.client_ip) if ua.category == "crawler" else ""
        fp = fingerprint(view, ua)
        kind = request_kind(view)
        has_cookie = "cookie" in view.by_name
        client = software(view, ua)
        token = self.cookies.token_in(view.header("cookie"), client) if has_cookie else ""
        store = self.store
        ip_window = store.record("ip", view.client_ip, ClientWindow)
        fp_window = store.record("fp", fp, ClientWindow)
        path_hash = hash(view.path)
        ip_hash = hash(view.client_ip)
        # Behind a deployment where botwall sees pages, an API call with no page view from its address is cold; where
        # only the API passes through botwall (pages on a CDN), every API call would be, so none is.
        pages_seen = site_shares(self._site)[0] >= _SITE_PAGES
        cold = is_cold(view, kind, ip_window.pages if pages_seen else 1.0)
        ip_window.observe(now, kind, path_hash, has_cookie, ip_hash, cold)
        fp_window.observe(now, kind, path_hash, has_cookie, ip_hash, cold)
        token_window = None
        if token:
            # The cookie is one browser: where it is presented from, and how much, is that browser's own behaviour.
            token_window = store.record("tok", token, ClientWindow)
            token_window.observe(now, kind, path_hash, has_cookie, ip_hash)
            token_window.networks = add(token_window.networks, ip.asn or ip_hash)
        asn_window = None
        if ip.asn:
            asn_window = store.record("asn", str(ip.asn), ClientWindow)
            asn_window.observe(now, kind, path_hash, has_cookie, ip_hash)
        account = spray = None
        if login is not None and login.username:
            user_hash = hash(login.username)
            ip_window.usernames = add(ip_window.usernames, user_hash)
            fp_window.usernames = add(fp_window.usernames, user_hash)
            account = store.record("user", login.username, AccountWindow)
            account.observe(now, ip_hash, hash(fp))
            if login.password_key:
                spray = store.record("password", login.password_key.hex(), SprayWindow)
                spray.usernames = add(spray.usernames, user_hash)
        # The site window counts a request "with cookie" when it holds botwall's token.
        self._site.observe(now, kind, 0, bool(token), 0)
        behaviour = snapshot(now, ip_window, fp_window, asn_window, account, spray, cold, token_window, self._site)
        reasons = (
            ua_reasons(ua)
            + ip_reasons(ip, crawler)
            + header_reasons(view)
            + list(headers.reasons)
            + list(tls.reasons)
            + credential_reasons(login)
            + behaviour_reasons(behaviour)
        )
        evidence = Evidence(
            view, fp, kind, ua, headers, tls, ip, crawler, behaviour, login, tuple(reasons), bool(token)
        )
        issue = kind == "page" and not token and self.config.client_cookie.issue
        return evidence, RequestContext(ip_window, fp_window, route, login, account, client, issue, _https(view))

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
        return outcome

    def response_cookie(self, context: RequestContext, status: int, cache_control: str = "") -> str:
        """botwall's token for the response to a page request without one ("" when none is due).

        Never on a response a shared cache may store (`public`, `s-maxage`, or `max-age` without `private`): a CDN
        in front of Envoy would hand that one token to everybody.
        """
        if not context.issue_cookie or status >= 400 or shared_cacheable(cache_control):
            return ""
        return self.cookies.set_cookie(context.software, context.secure)

    def verdict(self, score: int) -> str:
        """Map a score to its verdict band."""
        t = self.config.thresholds
        if score >= t.bot:
            return Verdict.BOT
        if score >= t.suspect:
            return Verdict.SUSPECT
        return Verdict.HUMAN

    def decide(self, view: RequestView) -> Decision:
        """Evidence, score and decision for a request that is not a login with a body (convenience for tests)."""
        return self.evaluate(view)[0]

    def evaluate(
        self, view: RequestView, route: LoginRoute | None = None, login: LoginAttempt | None = None
    ) -> tuple[Decision, RequestContext]:
        """The whole decision, and the context its response phase needs."""
        evidence, context = self.evidence(view, route, login)
        return self.decide_evidence(view, evidence), context

    def decide_evidence(self, view: RequestView, evidence: Evidence) -> Decision:
        """Score the evidence and apply the first policy that takes the request."""
        result = self.scorer.score(evidence)
        fp = evidence.fingerprint
        if evidence.crawler == VERIFIED or evidence.ip.reputation == "allow":
            # Verified search and AI crawlers, and the operator's allowlist, are let through and labelled.
            result = Score(0, result.reasons)
        verdict = Verdict.GOOD_BOT if evidence.crawler == VERIFIED else self.verdict(result.value)
        for policy in self.config.policies:
            if result.value < policy.min_score:
                continue
            if policy.action is Action.CHALLENGE and evidence.token:
                continue  # the client passed a challenge already: the next policy decides
            if not policy.match.matches(view.authority, view.path, view.method):
                continue
            if policy.action is Action.CHALLENGE:
                return self._challenge(policy, view, evidence, result.value, verdict, result.reasons)
            return self._apply(policy, view, result.value, verdict, result.reasons, fp)
        return Decision(Action.ALLOW, True, self.config.shadow, "", result.value, verdict, result.reasons, fp)

    def failed(self, view: RequestView | None) -> Decision:
        """The decision for a request botwall failed to judge (a bug of its own, never the input): `on_error`.

        Tagged and logged with the reason `err:internal`, never a silent pass. Under `challenge`, a client holding
        a valid botwall token is let through (it kept what it was given), a page request without one gets the
        challenge, and anything else is refused; if even that cannot be worked out, the request is refused.
        """
        mode = self.config.on_error
        shadow = self.config.shadow
        action = Action.BLOCK
        cookie = ""
        if mode == "allow":
            action = Action.ALLOW
        elif mode == "challenge" and view is not None:
            try:
                client = software(view, self.ua.analyze(view.header("user-agent")))
                if self.cookies.token_in(view.header("cookie"), client):
                    action = Action.ALLOW
                elif view.method in ("GET", "HEAD") and self.config.client_cookie.issue:
                    action = Action.CHALLENGE
                    cookie = self.cookies.set_cookie(client, _https(view))
            except Exception:  # the failure being handled may be this very code's: refuse
                action = Action.BLOCK
        enforced = action is Action.ALLOW or not shadow
        score = self.config.thresholds.suspect
        reasons = (ERROR_REASON,)
        verdict = Verdict.SUSPECT
        return Decision(action, enforced, shadow, ON_ERROR_POLICY, score, verdict, reasons, "", set_cookie=cookie)

    def _challenge(
        self, policy: Policy, view: RequestView, evidence: Evidence, score: int, verdict: str, reasons: tuple[str, ...]
    ) -> Decision:
        """Answer with the token and a page that reloads itself, or block what a challenge cannot sort out."""
        shadow = self.config.shadow or policy.shadow
        fp = evidence.fingerprint
        key = hash((view.client_ip, fp, view.path))
        challengeable = (
            view.method in ("GET", "HEAD")
            and evidence.kind == "page"
            and not signature_weight(reasons)
            and self.config.client_cookie.issue
            and key not in self._challenged
        )
        if not challengeable:
            return Decision(Action.BLOCK, not shadow, shadow, policy.name, score, verdict, reasons, fp)
        if not shadow:
            self._challenged.put(key, True)
        cookie = self.cookies.set_cookie(software(view, evidence.ua), _https(view))
        return Decision(
            Action.CHALLENGE, not shadow, shadow, policy.name, score, verdict, reasons, fp, set_cookie=cookie
        )

    def _apply(
        self, policy: Policy, view: RequestView, score: int, verdict: str, reasons: tuple[str, ...], fp: str
    ) -> Decision:
        shadow = self.config.shadow or policy.shadow
        retry_after = 0
        if policy.action is Action.THROTTLE:
            assert policy.throttle is not None
            wait = self.store.take_token(
                _bucket_key(policy.name, policy.throttle, view, fp), policy.throttle.rate, policy.throttle.burst
            )
            if wait == 0.0:
                # Within its budget: the request passes as if no policy had matched, tagged.
                return Decision(Action.ALLOW, True, shadow, policy.name, score, verdict, reasons, fp)
            retry_after = retry_after_seconds(wait)
        return Decision(
            action=policy.action,
            enforced=not shadow,
            shadow=shadow,
            policy=policy.name,
            score=score,
            verdict=verdict,
            reasons=reasons,
            fingerprint=fp,
            retry_after=retry_after,
            deceive=policy.deceive,
        )


# The reason code and policy name of a decision botwall took because judging the request failed (`Engine.failed`).
ERROR_REASON = "err:internal"
ON_ERROR_POLICY = "on-error"

# The share of page views below which botwall takes it that it sees only an API (the pages are served elsewhere).
_SITE_PAGES = 0.1

# Seconds a challenge is remembered per address, fingerprint and path: a browser is back within a second or two.
_CHALLENGE_MEMORY = 60.0


def _https(view: RequestView) -> bool:
    """The client reached us over HTTPS (botwall's cookie is then `Secure`)."""
    return view.scheme == "https" or view.header("x-forwarded-proto") == "https"


def shared_cacheable(cache_control: str) -> bool:
    """True when a `Cache-Control` value lets a shared cache store the response."""
    value = cache_control.lower()
    if "private" in value or "no-store" in value:
        return False
    return "public" in value or "s-maxage" in value or "max-age" in value


def _bucket_key(policy: str, spec: ThrottleSpec, view: RequestView, fp: str) -> str:
    if spec.key == "ip":
        subject = view.client_ip
    elif spec.key == "fingerprint":
        subject = fp
    else:
        # A missing API key shares one bucket per client IP rather than one bucket for everybody.
        subject = view.header(spec.key[len("header:") :]) or f"ip:{view.client_ip}"
    return f"tb|{policy}|{spec.key}|{subject}"
