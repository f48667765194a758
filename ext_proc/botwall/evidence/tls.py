"""TLS evidence: which client a JA4 fingerprint belongs to, and whether it contradicts the user-agent.

The shipped table, `botwall/data/tls_fingerprints.json`, was captured from real clients through a real Envoy 1.40 by
`tools/capture_profiles.py` (`make capture-profiles`). A browser user-agent on a connection whose JA4 is an HTTP
library's (curl, python-requests, Go, Node...) is a client lying about what it is.

Matching, in order:
1. the exact JA4;
2. the same JA4 with SNI: a client that connects to an IP address sends no SNI (JA4 `t13i1811...`), the same client
   to a host name sends it (`t13d1812...`); only the SNI flag and the extension count differ, because JA4's hashes
   leave SNI out, so the two are the same client;
3. the JA4 "a_b" prefix (TLS version, SNI, counts, ALPN, and the cipher hash) when every table entry with that prefix
   is a browser of one family. Needed for Chromium: Chromium 156 (as captured) puts a GREASE value in its
   signature-algorithm list and Envoy 1.40's JA4 keeps it (it drops GREASE from ciphers and extensions only), so
   Chromium's JA4 "c" part takes one of 16 values, drawn anew for each connection. Tool entries only ever match
   exactly (steps 1 and 2): a prefix is evidence enough to recognise a browser's TLS stack, not to accuse a client.

Extending the table: pass files to `TlsAnalyzer(extra_paths=[...])`; later files override earlier ones and the
shipped table. Format (the shipped file has the same shape):

    {
      "version": 1,
      "fingerprints": {
        "t13d1812h1_85036bcba153_b26ce05bbdd6": {"client": "python-requests", "category": "tool"},
        "t13d1517h2_8daaf6152771":              {"client": "chromium", "category": "browser", "browser": "chrome"}
      }
    }

A key is a full JA4 (three parts, matched exactly) or a JA4 "a_b" prefix (two parts, matching every "c").
`category` is "tool" or "browser"; `browser` is the family a browser's user-agent names (`UserAgentInfo.browser`:
"chrome", "firefox", "safari"...; all Chromium-engine browsers share "chrome"); other keys are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from botwall.evidence.useragent import UserAgentInfo

TOOL = "tool"
BROWSER = "browser"
_CATEGORIES = (TOOL, BROWSER)
_WEBKIT_ONLY_OS = frozenset({"iOS", "iPadOS"})
KNOWN_TOOL = "tls:known-tool"
BROWSER_UA_TOOL_FINGERPRINT = "tls:browser-ua-tool-fingerprint"
BROWSER_FAMILY_MISMATCH = "tls:browser-family-mismatch"


class FingerprintTableError(ValueError):
    """A fingerprint table file is unreadable or malformed; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class TlsEntry:
    """One client (or a few that share a fingerprint) in the table."""

    client: str
    category: str  # "tool" or "browser"
    browser: str  # the family of a browser entry ("chrome", "firefox"), "" for tools


@dataclass(frozen=True, slots=True)
class TlsEvidence:
    """What the TLS fingerprint says about the client."""

    ja4: str
    known: bool  # the JA4 matched the table
    client: str  # the table's client name(s), "" when unknown
    category: str  # "tool", "browser" or ""
    tool: str  # the tool's name when the JA4 is a tool's, else ""
    exact: bool  # matched a full JA4 (possibly after adding SNI), not a prefix
    tls_tool_mismatch: bool  # the user-agent claims a browser, the JA4 is a tool's
    family_mismatch: bool  # the user-agent claims one browser family, the JA4 is another's
    reasons: tuple[str, ...]


_EMPTY = TlsEvidence("", False, "", "", "", False, False, False, ())


def _with_sni(ja4: str) -> str:
    """The JA4 the same client sends to a host name: `t13i1811h1_...` -> `t13d1812h1_...` (JA4 hashes omit SNI)."""
    if len(ja4) < 10 or ja4[3] != "i" or not (ja4[6:8].isascii() and ja4[6:8].isdigit()):
        return ja4
    count = min(int(ja4[6:8]) + 1, 99)
    return f"{ja4[:3]}d{ja4[4:6]}{count:02d}{ja4[8:]}"


def _prefix(ja4: str) -> str:
    a, _, rest = ja4.partition("_")
    b, _, _ = rest.partition("_")
    return f"{a}_{b}"


def _parse_table(data: Any, source: str) -> dict[str, TlsEntry]:
    if not isinstance(data, Mapping) or not isinstance(data.get("fingerprints"), Mapping):
        raise FingerprintTableError(f"{source}: expected an object with a 'fingerprints' object")
    table: dict[str, TlsEntry] = {}
    for key, value in data["fingerprints"].items():
        where = f"{source}: fingerprints[{key!r}]"
        parts = key.split("_") if isinstance(key, str) else []
        if len(parts) not in (2, 3) or not all(parts):
            raise FingerprintTableError(f"{where}: expected a JA4 (a_b_c) or a JA4 prefix (a_b)")
        if not isinstance(value, Mapping) or not isinstance(value.get("client"), str) or not value["client"]:
            raise FingerprintTableError(f"{where}: expected an object with a non-empty 'client' string")
        category = value.get("category")
        if category not in _CATEGORIES:
            raise FingerprintTableError(f"{where}.category: expected 'tool' or 'browser', got {category!r}")
        browser = value.get("browser", "")
        if not isinstance(browser, str):
            raise FingerprintTableError(f"{where}.browser: expected a string, got {browser!r}")
        table[key] = TlsEntry(value["client"], category, browser if category == BROWSER else "")
    return table


def load_table(path: Path | None = None) -> dict[str, TlsEntry]:
    """The shipped table (or the file at `path`), keyed by JA4 or JA4 prefix."""
    if path is None:
        text = resources.files("botwall").joinpath("data", "tls_fingerprints.json").read_text(encoding="utf-8")
        source = "botwall/data/tls_fingerprints.json"
    else:
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise FingerprintTableError(f"{source}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise FingerprintTableError(f"{source}: not valid JSON: {exc}") from exc
    return _parse_table(data, source)


class TlsAnalyzer:
    """Looks a JA4 up in the fingerprint table and compares it with what the user-agent claims."""

    def __init__(self, extra_paths: Iterable[Path] = (), table: Mapping[str, TlsEntry] | None = None) -> None:
        merged = dict(load_table() if table is None else table)
        for path in extra_paths:
            merged.update(load_table(path))
        self._exact = {k: v for k, v in merged.items() if k.count("_") == 2}
        # Browser prefixes derived from full entries, when unambiguous; explicit prefix entries always count.
        derived: dict[str, set[TlsEntry]] = {}
        for ja4, entry in self._exact.items():
            derived.setdefault(_prefix(ja4), set()).add(entry)
        self._prefixes: dict[str, TlsEntry] = {}
        for prefix, entries in derived.items():
            kinds = {(e.category, e.browser) for e in entries}
            if len(kinds) == 1 and next(iter(kinds))[0] == BROWSER:
                names = sorted({n for e in entries for n in e.client.split("/")})
                first = next(iter(entries))
                self._prefixes[prefix] = TlsEntry("/".join(names), BROWSER, first.browser)
        self._prefixes.update({k: v for k, v in merged.items() if k.count("_") == 1})

    def lookup(self, ja4: str) -> tuple[TlsEntry | None, bool]:
        """The table entry for a JA4 and whether the match was exact."""
        entry = self._exact.get(ja4)
        if entry is not None:
            return entry, True
        with_sni = _with_sni(ja4)
        entry = self._exact.get(with_sni)
        if entry is not None:
            return entry, True
        return self._prefixes.get(_prefix(with_sni)), False

    def analyze(self, ja4: str, ua: UserAgentInfo) -> TlsEvidence:
        """Evidence from the JA4 of the request's TLS connection ("" on plain HTTP) and the parsed user-agent."""
        if not ja4:
            return _EMPTY
        entry, exact = self.lookup(ja4)
        if entry is None:
            return TlsEvidence(ja4, False, "", "", "", False, False, False, ())
        is_tool = entry.category == TOOL
        mismatch = is_tool and bool(ua.browser)
        # A Firefox user-agent over Chromium's TLS stack (or the reverse) is a spoofed user-agent.
        family_mismatch = not is_tool and bool(ua.browser) and bool(entry.browser) and ua.browser != entry.browser
        if family_mismatch and ((entry.browser == "chrome" and ua.chromium) or ua.os in _WEBKIT_ONLY_OS):
            # Edge, Opera, Brave... run Chromium's TLS stack under their own names; on iOS every browser is WebKit.
            family_mismatch = False
        reasons: list[str] = []
        if is_tool:
            reasons.append(KNOWN_TOOL)
        if mismatch:
            reasons.append(BROWSER_UA_TOOL_FINGERPRINT)
        if family_mismatch:
            reasons.append(BROWSER_FAMILY_MISMATCH)
        return TlsEvidence(
            ja4=ja4,
            known=True,
            client=entry.client,
            category=entry.category,
            tool=entry.client if is_tool else "",
            exact=exact,
            tls_tool_mismatch=mismatch,
            family_mismatch=family_mismatch,
            reasons=tuple(reasons),
        )
