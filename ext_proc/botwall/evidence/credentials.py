"""Credentials: what a client presents on a login route, and what the response says about it.

The password lives only inside `read_login` while it is checked against the breached/common-password filter and
turned into a keyed hash (to spot one password sprayed across many accounts). It is never stored, logged or returned.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qs

from botwall.config import LoginRoute
from botwall.evidence.passwords import keyed_hash, process_key


class PasswordOracle(Protocol):
    """What the credential checks need from a password filter."""

    def is_common(self, password: str) -> bool: ...


class NoPasswordOracle:
    """Used when no password filter is loaded: nothing is common."""

    def is_common(self, password: str) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """A login attempt, without its password."""

    route: str
    username: str  # normalized: stripped and lower-cased
    has_password: bool
    common_password: bool
    password_key: bytes  # keyed hash of the password, b"" when there was none
    parsed: bool  # False when the body could not be read (malformed, oversized, unexpected type)


class LoginReader:
    """Reads login bodies for the configured routes."""

    def __init__(self, passwords: PasswordOracle | None = None, key: bytes | None = None) -> None:
        self._passwords = passwords or NoPasswordOracle()
        # A key per process: the hashes mean nothing outside it and cannot be looked up in a table.
        self._key = key or process_key()

    def read_login(self, route: LoginRoute, content_type: str, body: bytes) -> LoginAttempt:
        """Parse the credentials out of a login body and check the password."""
        fields = _fields(route, content_type, body)
        if fields is None:
            return LoginAttempt(route.name, "", False, False, b"", False)
        username, password = fields
        if not password:
            return LoginAttempt(route.name, username, False, False, b"", True)
        return LoginAttempt(
            route=route.name,
            username=username,
            has_password=True,
            common_password=self._passwords.is_common(password),
            password_key=keyed_hash(self._key, password),
            parsed=True,
        )


def _fields(route: LoginRoute, content_type: str, body: bytes) -> tuple[str, str] | None:
    if len(body) > route.max_body_bytes:
        return None
    kind = route.format
    if kind == "auto":
        kind = "json" if "json" in content_type else "form"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if kind == "json":
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: a body of deeply nested arrays
            return None
        if not isinstance(data, dict):
            return None
        user, password = data.get(route.username_field, ""), data.get(route.password_field, "")
        if not isinstance(user, str) or not isinstance(password, str):
            return None
        return user.strip().lower(), password
    form = parse_qs(text, keep_blank_values=True, max_num_fields=64)
    user_values, password_values = form.get(route.username_field, [""]), form.get(route.password_field, [""])
    return user_values[0].strip().lower(), password_values[0]


def login_outcome(route: LoginRoute, status: int, set_cookies: list[str]) -> str:
    """`success`, `failure` or `unknown`, from the response markers configured for the route."""
    if status in route.success_status:
        if not route.success_cookie:
            return "success"
        prefix = route.success_cookie + "="
        if any(cookie.lstrip().startswith(prefix) for cookie in set_cookies):
            return "success"
        return "failure"  # the status of success without the session: a re-rendered login form, say
    if status in route.failure_status or status >= 400:
        return "failure"
    return "unknown"


def credential_reasons(attempt: LoginAttempt | None) -> list[str]:
    """Reason codes of the credentials pillar."""
    if attempt is None:
        return []
    if not attempt.parsed:
        return ["cred:unreadable-login"]
    if attempt.common_password:
        return ["cred:breached-password"]
    return []
