"""Credentials: what a client presents on a login route, and what the response says about it.

The password lives only inside `read_login` while it is checked against the breached/common-password filter and
turned into a keyed hash (to spot one password sprayed across many accounts). It is never stored, logged or returned.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qsl

from botwall.evidence.passwords import keyed_hash, process_key
from botwall.request import Match


@dataclass(frozen=True, slots=True)
class LoginRoute:
    """A login endpoint: where the credentials are in the body, and how its response tells success from failure.

    Only requests on these routes have their body sent to botwall (asked of Envoy per request, by mode override).
    """

    name: str
    match: Match
    format: str  # "form", "json" or "auto" (by content-type)
    username_field: str
    password_field: str
    success_status: frozenset[int]
    success_cookie: str  # a Set-Cookie name that only a successful login sets, "" for none
    failure_status: frozenset[int]
    max_body_bytes: int = 16_384


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
    malformed: bool = False  # a body no real client sends (dozens of fields, nesting past the parser's depth)


# A login form has a handful of fields (a CSRF token, "remember me"); past this many, no real client sent it.
MAX_FIELDS = 64
_MAX_USERNAME = 256  # characters of a username kept (and counted, and logged)


class _MalformedLoginError(ValueError):
    """A login body built to break parsers rather than to log in."""


class LoginReader:
    """Reads login bodies for the configured routes."""

    def __init__(self, passwords: PasswordOracle | None = None, key: bytes | None = None) -> None:
        self._passwords = passwords or NoPasswordOracle()
        # A key per process: the hashes mean nothing outside it and cannot be looked up in a table.
        self._key = key or process_key()

    def read_login(self, route: LoginRoute, content_type: str, body: bytes) -> LoginAttempt:
        """Parse the credentials out of a login body and check the password."""
        try:
            fields = _fields(route, content_type, body)
        except _MalformedLoginError:
            return LoginAttempt(route.name, "", False, False, b"", False, malformed=True)
        if fields is None:
            return LoginAttempt(route.name, "", False, False, b"", False)
        username, password = fields
        username = username[:_MAX_USERNAME]
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
    """(username, password) from the body, None when it cannot be read; _MalformedLoginError for a parser attack."""
    kind = route.format
    if kind == "auto":
        kind = "json" if "json" in content_type else "multipart" if "multipart/" in content_type else "form"
    elif kind == "form" and "multipart/form-data" in content_type:
        kind = "multipart"  # an HTML form with enctype=multipart/form-data posts to the same route
    oversized = len(body) > route.max_body_bytes
    if oversized:
        if kind == "json":
            return None  # a JSON prefix cannot be parsed
        # A form's fields come in order: read those within the bound, so padding the body hides nothing.
        body = body[: route.max_body_bytes]
    try:
        text = body.decode("utf-8", errors="replace" if kind == "multipart" or oversized else "strict")
    except UnicodeDecodeError:
        return None
    if kind == "json":
        return _json_fields(route, text)
    form = _multipart_fields(content_type, text) if kind == "multipart" else _form_fields(text)
    if form is None or (oversized and route.username_field not in form):
        return None
    return form.get(route.username_field, "").strip().lower(), form.get(route.password_field, "")


def _json_fields(route: LoginRoute, text: str) -> tuple[str, str] | None:
    try:
        data = json.loads(text)
    except RecursionError:  # a body of deeply nested arrays
        raise _MalformedLoginError from None
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    if len(data) > MAX_FIELDS:
        raise _MalformedLoginError
    user, password = data.get(route.username_field, ""), data.get(route.password_field, "")
    if not isinstance(user, str) or not isinstance(password, str):
        return None
    return user.strip().lower(), password


def _form_fields(text: str) -> dict[str, str]:
    """The first value of each field of a urlencoded form."""
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:  # more than MAX_FIELDS fields
        raise _MalformedLoginError from None
    out: dict[str, str] = {}
    for name, value in pairs:
        out.setdefault(name, value)
    return out


_BOUNDARY = re.compile(r'boundary="?([^";,\s]{1,200})"?', re.IGNORECASE)
_PART_NAME = re.compile(r'\bname="([^"]{0,256})"', re.IGNORECASE)


def _multipart_fields(content_type: str, text: str) -> dict[str, str] | None:
    """The first value of each field of a multipart/form-data body (RFC 7578), None without a boundary."""
    boundary = _BOUNDARY.search(content_type)
    if boundary is None:
        return None
    # The preamble, the fields, and what follows the closing delimiter.
    parts = text.split("--" + boundary.group(1), MAX_FIELDS + 2)
    if len(parts) > MAX_FIELDS + 2:
        raise _MalformedLoginError
    out: dict[str, str] = {}
    for part in parts[1:]:
        if part.startswith("--"):
            break  # the closing delimiter
        head, separator, value = part.partition("\r\n\r\n")
        if not separator:
            head, separator, value = part.partition("\n\n")
        name = _PART_NAME.search(head[:1024])
        if separator and name is not None:
            out.setdefault(name.group(1), value.removesuffix("\r\n").removesuffix("\n"))
    return out


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
    if attempt.malformed:
        return ["cred:malformed-login"]
    if not attempt.parsed:
        return ["cred:unreadable-login"]
    if attempt.common_password:
        return ["cred:breached-password"]
    return []
