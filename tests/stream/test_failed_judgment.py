"""No input skips the judgment: what broke botwall's parsers is refused as evidence, and botwall's own failures are
decisions (the config's `on_error`), tagged, logged and counted, never a silent pass (issue 10, item 1)."""

from __future__ import annotations

import io
import json

import pytest

from botwall.config import load_config, parse_yaml
from botwall.edge.decision_log import DecisionLog
from botwall.edge.envoy_api import HttpBody, ProcessingRequest, ProcessingResponse
from botwall.edge.server import BotwallServicer
from botwall.engine import Engine
from botwall.evidence.useragent import UserAgentAnalyzer
from botwall.lab.testing import StreamDriver, captured_headers, form_submission, header_dict, request_headers, resources
from botwall.policy import ERROR_REASON
from botwall.request import build_view
from botwall.scoring.features import Evidence
from botwall.scoring.fingerprint import software
from botwall.scoring.rules import Score

CHROME = captured_headers("chromium-headful", "navigation", "http", "127.0.0.1")
FIREFOX = captured_headers("firefox-headless", "navigation", "http", "127.0.0.1")
FORM = form_submission(FIREFOX, "http://127.0.0.1", "http://127.0.0.1/login")
CURL = [("user-agent", "curl/8.5.0"), ("accept", "*/*")]
LOGIN = b"username=alice&password=wonderland-42"


def _servicer(config_text: str | None = None, scorer: object = None, log: io.StringIO | None = None) -> BotwallServicer:
    config = load_config(None) if config_text is None else parse_yaml(config_text, "t.yaml")
    engine = Engine(config, resources(), scorer=scorer)  # type: ignore[arg-type]
    return BotwallServicer(engine, DecisionLog(config.decision_log, log or io.StringIO()))


def _status(response: ProcessingResponse) -> int:
    """The status botwall answered with, or 0 when the request continues to the upstream."""
    if response.WhichOneof("response") == "immediate_response":
        return response.immediate_response.status.code
    return 0


def _with(headers: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    """The headers with `name` set to `value` (replaced in place, or added at the end)."""
    if any(n == name for n, _ in headers):
        return [(n, value if n == name else v) for n, v in headers]
    return [*headers, (name, value)]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("cookie", "__bw=" + "f" * 300 + ".a.b"),
        ("cookie", "__bw=" + "f" * 5000 + ".a." + "A" * 22),
        ("user-agent", "curl/" + "1" * 5000),
        ("user-agent", "curl/\u00b2\u00b3"),
        ("sec-ch-ua", '"Chromium";v="' + "1" * 5000 + '"'),
        ("x-padding", "x" * 60_000),
    ],
)
async def test_a_refused_client_stays_refused_with_the_part_that_used_to_break_parsing(name: str, value: str) -> None:
    """curl is refused, and still refused with an overlong cookie, version number, client hint or header; no error."""
    servicer = _servicer()
    driver = StreamDriver(servicer)
    assert 403 == _status(await driver.one(request_headers("/products", headers=CURL)))
    response = await driver.one(request_headers("/products", headers=_with(CURL, name, value)))
    assert 403 == _status(response)
    assert 0 == servicer.counters.errors


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("user-agent", "Mozilla/5.0 " + "1" * 5000),
        ("sec-ch-ua", '"Chromium";v="' + "1" * 5000 + '"'),
        ("referer", "http://127.0.0.1/" + "a" * 9000),
    ],
)
async def test_an_overlong_value_is_a_reason_that_weighs_a_block(name: str, value: str) -> None:
    """A browser's request passes, and the same with one value no client sends is refused for hdr:malformed-value."""
    servicer = _servicer()
    driver = StreamDriver(servicer)
    assert 0 == _status(await driver.one(request_headers("/", headers=CHROME, client="198.51.100.20:1")))
    engine = servicer.engine
    view = build_view([(":path", "/"), (":method", "GET"), *_with(CHROME, name, value)], {})
    decision = engine.decide(view)
    assert "hdr:malformed-value" in decision.reasons
    assert 403 == _status(await driver.one(request_headers("/", headers=_with(CHROME, name, value))))


async def _login(servicer: BotwallServicer, body: bytes, content_type: str = "") -> ProcessingResponse:
    headers = _with(FORM, "content-type", content_type) if content_type else FORM
    responses = await StreamDriver(servicer).run(
        [
            request_headers("/login", method="POST", headers=headers, end_of_stream=False, client="203.0.113.9:5"),
            ProcessingRequest(request_body=HttpBody(body=body, end_of_stream=True)),
        ]
    )
    assert 2 == len(responses)
    return responses[1]


async def test_a_login_with_dozens_of_fields_is_refused_not_let_through() -> None:
    """A browser's form login is allowed; the same with 70 extra empty fields is refused as cred:malformed-login."""
    log = io.StringIO()
    servicer = _servicer(log=log)
    assert 0 == _status(await _login(servicer, LOGIN))
    assert 403 == _status(await _login(servicer, LOGIN + b"&" * 70))
    assert 0 == servicer.counters.errors
    assert "cred:malformed-login" in json.loads(log.getvalue().splitlines()[-1])["reasons"]


async def test_a_multipart_login_is_read_like_a_form() -> None:
    """A multipart/form-data login is read: its username reaches the decision log (it used to be recorded as "")."""
    log = io.StringIO()
    servicer = _servicer(log=log)
    body = (
        b'------B\r\nContent-Disposition: form-data; name="username"\r\n\r\nAlice\r\n'
        b'------B\r\nContent-Disposition: form-data; name="password"\r\n\r\nwonderland-42\r\n------B--\r\n'
    )
    assert 0 == _status(await _login(servicer, body, "multipart/form-data; boundary=----B"))
    assert "alice" == json.loads(log.getvalue().splitlines()[-1])["username"]


class _BrokenScorer:
    """A scorer with a bug: every request makes it raise."""

    def score(self, evidence: Evidence) -> Score:
        raise RuntimeError("model exploded")


def _on_error(mode: str) -> str:
    return f"on_error: {mode}\ndecision_log: {{allow_sample_rate: 0}}\n"


async def test_an_internal_error_allowed_is_tagged_logged_and_counted() -> None:
    """With on_error: allow, a request botwall fails to judge continues tagged err:internal, logged, and counted."""
    log = io.StringIO()
    servicer = _servicer(_on_error("allow"), _BrokenScorer(), log)
    response = await StreamDriver(servicer).one(
        request_headers("/", headers=[*FIREFOX, ("x-botwall-verdict", "human")])
    )
    tags = header_dict(response)
    assert (ERROR_REASON, "suspect") == (tags["x-botwall-reasons"], tags["x-botwall-verdict"])
    assert 1 == servicer.counters.errors
    assert [ERROR_REASON] == json.loads(log.getvalue().splitlines()[-1])["reasons"]


async def test_an_internal_error_blocked_is_refused() -> None:
    """With on_error: block, a request botwall fails to judge is refused."""
    servicer = _servicer(_on_error("block"), _BrokenScorer())
    assert 403 == _status(await StreamDriver(servicer).one(request_headers("/", headers=FIREFOX)))
    assert 1 == servicer.counters.errors


async def test_an_internal_error_under_challenge_lets_a_cookie_holder_through() -> None:
    """With on_error: challenge (the default), a page gets the challenge, a form post is refused, and a browser that
    holds botwall's token continues, tagged."""
    servicer = _servicer(_on_error("challenge"), _BrokenScorer())
    driver = StreamDriver(servicer)
    page = await driver.one(request_headers("/products", headers=FIREFOX))
    assert 403 == _status(page)
    assert "botwall_challenge" == page.immediate_response.details
    post = await driver.one(request_headers("/cart", method="POST", headers=FORM))
    assert 403 == _status(post)
    assert "botwall_block" == post.immediate_response.details
    engine = servicer.engine
    view = build_view(FIREFOX, {})
    token = engine.cookies.token(software(view, UserAgentAnalyzer().analyze(view.header("user-agent"))))
    held = await driver.one(request_headers("/products", headers=[*FIREFOX, ("cookie", f"__bw={token}")]))
    assert (0, ERROR_REASON) == (_status(held), header_dict(held)["x-botwall-reasons"])
    assert 3 == servicer.counters.errors


def test_on_error_is_checked_when_the_config_loads() -> None:
    """An on_error value other than allow, challenge or block is refused, naming the key."""
    with pytest.raises(ValueError, match=r"t.yaml: on_error: expected one of allow, challenge, block, got 'pass'"):
        parse_yaml("on_error: pass\n", "t.yaml")
    assert "challenge" == load_config(None).on_error


async def test_an_encoded_login_path_meets_the_login_route_and_its_throttle() -> None:
    """`/api/%6cogin` is `/api/login` to the shop, and to botwall: its username is read and the sixth try is 429."""
    log = io.StringIO()
    servicer = _servicer(log=log)
    xhr = _with(captured_headers("firefox-headless", "xhr", "http", "127.0.0.1"), "content-type", "application/json")
    statuses = []
    for i in range(7):
        path = ("/api/%6cogin", "//api/./login", "/x/../api/login")[i % 3]
        responses = await StreamDriver(servicer).run(
            [
                request_headers(path, method="POST", headers=xhr, end_of_stream=False, client="203.0.113.77:5"),
                ProcessingRequest(request_body=HttpBody(body=b'{"username": "bob", "password": "x"}')),
            ]
        )
        statuses.append(_status(responses[-1]))
    assert [0, 0, 0, 0, 0, 429, 429] == statuses
    assert {"bob"} == {json.loads(line)["username"] for line in log.getvalue().splitlines()}


async def test_random_header_names_do_not_evade_a_fingerprint_throttle() -> None:
    """A throttle keyed on the fingerprint holds a client that adds a random header name to every request."""
    config = """
policies:
  - name: per-client
    action: throttle
    throttle: {key: fingerprint, rate_per_minute: 1, burst: 5}
"""
    servicer = _servicer(config)
    statuses = []
    for i in range(10):
        headers = [*FIREFOX, (f"x-nonce-{i:08x}", "1")]
        response = await StreamDriver(servicer).one(request_headers("/", headers=headers, client=f"192.0.2.{i}:1"))
        statuses.append(_status(response))
    assert [0] * 5 + [429] * 5 == statuses
