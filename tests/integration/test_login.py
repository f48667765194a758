"""Login routes end to end: Envoy sends login bodies to botwall on request, stuffing is stopped, people log in."""

from __future__ import annotations

import json

import pytest

from botwall.lab.testing import LOGIN_CONFIG

from .conftest import BROWSER_HEADERS, StackFactory

pytestmark = pytest.mark.integration

# The rule scorer, pinned: these tests assert when its failed-login and stuffing reasons start to block.
CONFIG = "model: {scorer: rules}\ndecision_log: {allow_sample_rate: 1.0}\n" + LOGIN_CONFIG


def test_stuffing_is_blocked_and_the_human_logs_in(make_stack: StackFactory, shop) -> None:  # type: ignore[no-untyped-def]
    """Stuffing logins are blocked from the fourth on; a person on another IP loads the login page, keeps botwall's
    cookie and logs in untagged; no password leaks."""
    stack = make_stack(CONFIG, trusted_hops=1)
    stuffer = [*BROWSER_HEADERS, ("content-type", "application/json"), ("x-forwarded-for", "203.0.113.66")]
    statuses = []
    for i in range(6):
        body = json.dumps({"username": f"victim{i}@mail.example", "password": f"Leaked-Pass-{i}!"}).encode()
        statuses.append(stack.request("/api/login", method="POST", headers=stuffer, body=body).status)
    assert [401, 401, 401, 403, 403, 403] == statuses

    page = stack.request("/login", headers=[*BROWSER_HEADERS, ("x-forwarded-for", "198.51.100.23")])
    token = next(c.split(";", 1)[0] for c in page.set_cookies if c.startswith("__bw="))
    human = [
        *BROWSER_HEADERS,
        ("content-type", "application/x-www-form-urlencoded"),
        ("x-forwarded-for", "198.51.100.23"),
        ("cookie", token),
    ]
    before = len(shop.requests)
    response = stack.request("/login", method="POST", headers=human, body=b"username=alice&password=wonderland-42")
    assert 303 == response.status
    # The shop's session cookie arrives (botwall hands out no second token to a client that holds one).
    assert ["session"] == sorted(c.split("=", 1)[0] for c in response.set_cookies)
    reached = list(shop.requests)[before:]
    tags = dict(reached[0]["headers"])
    assert ("/login", "human", "0") == (reached[0]["path"], tags["x-botwall-verdict"], tags["x-botwall-score"])

    logged = [d for d in stack.decisions() if d.get("login_route")]
    assert ["victim0@mail.example", "alice"] == [logged[0]["username"], logged[-1]["username"]]
    assert "block" == logged[3]["action"]
    texts = [stack.botwall.log_path.read_text(), stack.envoy.logs(), (stack.workdir / "access.log").read_text()]
    for text in texts:
        assert "Leaked-Pass" not in text
        assert "wonderland-42" not in text
