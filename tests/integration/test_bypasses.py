"""The security probe's bypasses, replayed through real Envoy with the embedded defaults (issue 10, items 1 and 4):
each extra part that used to make botwall pass a refused request untouched now leaves it refused."""

from __future__ import annotations

import json

import pytest

from botwall.config import DEFAULT_CONFIG_YAML
from botwall.lab.testing import form_submission

from .conftest import BROWSER_HEADERS, StackFactory

pytestmark = pytest.mark.integration

CURL = [("user-agent", "curl/8.5.0"), ("accept", "*/*")]
# The embedded defaults (policies, login routes, the shipped model), every decision logged.
CONFIG = "decision_log: {allow_sample_rate: 1.0}\n" + DEFAULT_CONFIG_YAML


RULES = CONFIG + "model: {scorer: rules}\n"


def _from(address: str, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [*headers, ("x-forwarded-for", address)]


def test_overlong_values_do_not_turn_a_refusal_into_a_pass(make_stack: StackFactory) -> None:
    """curl is refused, and still refused with a 5,000-digit version or an overlong botwall cookie; no error logged."""
    stack = make_stack(CONFIG, trusted_hops=1)
    variants = [
        CURL,
        [("user-agent", "curl/" + "1" * 5000), ("accept", "*/*")],
        [*CURL, ("cookie", "__bw=" + "f" * 300 + ".a.b")],
        [*CURL, ("sec-ch-ua", '"Chromium";v="' + "9" * 5000 + '"')],
    ]
    statuses = [
        stack.request("/products", headers=_from(f"203.0.113.{i + 1}", h)).status for i, h in enumerate(variants)
    ]
    assert [403, 403, 403, 403] == statuses
    assert stack.botwall is not None
    assert "request_headers_failed" not in stack.botwall.logs()
    decisions = stack.decisions()
    assert "hdr:malformed-value" in decisions[1]["reasons"]
    assert len(decisions[1]["user_agent"]) < 2000


def test_a_login_padded_with_fields_never_reaches_the_shop(make_stack: StackFactory, shop) -> None:  # type: ignore[no-untyped-def]
    """A form login with 70 extra fields is refused before the shop; a person who loads the page and logs in passes
    (the rule scorer: the shipped model refuses that person's login on a fresh process, issue 12's collateral)."""
    stack = make_stack(RULES, trusted_hops=1)
    form = form_submission(BROWSER_HEADERS, "http://127.0.0.1", "http://127.0.0.1/login")
    login = b"username=alice&password=wonderland-42"
    before = len(shop.requests)
    padded = stack.request("/login", method="POST", headers=_from("198.51.100.41", form), body=login + b"&" * 70)
    assert 403 == padded.status
    assert [] == [r for r in list(shop.requests)[before:] if r["path"] == "/login"]
    page = stack.request("/login", headers=_from("198.51.100.43", BROWSER_HEADERS))
    assert 200 == page.status
    jar = "; ".join(c.split(";", 1)[0] for c in page.set_cookies)
    person = _from("198.51.100.43", [*form, ("cookie", jar)])
    assert 303 == stack.request("/login", method="POST", headers=person, body=login).status


def test_an_encoded_login_path_is_throttled_like_the_plain_one(make_stack: StackFactory) -> None:
    """Logins to `/api/%6cogin` are read and limited like `/api/login`: five reach the shop, then 429 (the rule
    scorer, and a browser that viewed a page first and kept botwall's cookie, so that only the login throttle
    refuses)."""
    stack = make_stack(RULES, trusted_hops=1)
    page = stack.request("/", headers=_from("198.51.100.42", BROWSER_HEADERS))
    token = next(c.split(";", 1)[0] for c in page.set_cookies if c.startswith("__bw="))
    headers = _from("198.51.100.42", [*BROWSER_HEADERS, ("content-type", "application/json"), ("cookie", token)])
    body = json.dumps({"username": "bob", "password": "not-his"}).encode()
    statuses = [stack.request("/api/%6cogin", method="POST", headers=headers, body=body).status for _ in range(7)]
    assert [401] * 5 + [429] * 2 == statuses
    assert ["bob"] * 7 == [d["username"] for d in stack.decisions() if d.get("login_route")]
