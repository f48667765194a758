"""The credentials pillar: login bodies parsed per route, outcomes from response markers, no password kept."""

from __future__ import annotations

import dataclasses

from botwall.config import parse_yaml
from botwall.evidence.credentials import LoginReader, LoginRoute, login_outcome

ROUTES = parse_yaml(
    """
login_routes:
  - name: form
    match: {path: {exact: /login}, methods: [POST]}
    format: form
    fields: {username: user, password: pass}
    success: {status: [303], set_cookie: session}
    failure: {status: [401]}
    max_body_bytes: 256
  - name: any
    match: {path: {exact: /api/login}}
    format: auto
""",
    "t.yaml",
).login_routes
FORM, AUTO = ROUTES


class _Common:
    def is_common(self, password: str) -> bool:
        return password in {"123456", "password"}


def test_form_body_is_read_and_password_checked() -> None:
    """A form login yields the normalized username and whether the password is common."""
    attempt = LoginReader(_Common()).read_login(FORM, "application/x-www-form-urlencoded", b"user=+Alice+&pass=123456")
    assert ("alice", True, True, True) == (
        attempt.username,
        attempt.has_password,
        attempt.common_password,
        attempt.parsed,
    )


def test_json_body_by_content_type() -> None:
    """An `auto` route reads JSON when the content-type says so."""
    attempt = LoginReader(_Common()).read_login(AUTO, "application/json", b'{"username": "bob", "password": "x9!"}')
    assert ("bob", False, True) == (attempt.username, attempt.common_password, attempt.parsed)


def test_malformed_bodies_are_flagged_not_raised() -> None:
    """Broken JSON, a non-object, wrong types, non-UTF-8 and oversized bodies give parsed=False."""
    reader = LoginReader()
    bodies = [b"{", b"[1, 2]", b'{"username": 5, "password": "x"}', b"\xff\xfe", b"x" * 300]
    results = [reader.read_login(FORM if len(b) > 256 else AUTO, "application/json", b).parsed for b in bodies]
    assert [False] * 5 == results


def test_password_is_not_kept() -> None:
    """The attempt holds a keyed hash, never the password, and the hash depends on the (per-process) key."""
    body = b'{"username": "c", "password": "hunter2-secret"}'
    first = LoginReader(key=b"k" * 32).read_login(AUTO, "application/json", body)
    second = LoginReader(key=b"j" * 32).read_login(AUTO, "application/json", body)
    values = list(dataclasses.astuple(first))
    assert all("hunter2" not in repr(v) for v in values)
    assert 16 == len(first.password_key)
    assert first.password_key != second.password_key


def test_outcome_markers() -> None:
    """Success needs the success status and the session cookie; 401 or any 4xx is a failure; 302 is unknown."""
    route: LoginRoute = FORM
    assert "success" == login_outcome(route, 303, ["session=abc; HttpOnly"])
    assert "failure" == login_outcome(route, 303, ["tracking=1"])
    assert "failure" == login_outcome(route, 401, [])
    assert "failure" == login_outcome(route, 429, [])
    assert "unknown" == login_outcome(route, 302, [])
