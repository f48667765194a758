"""Breached and common passwords: the shipped filter of ~1M common passwords, and Have I Been Pwned files if supplied.

A password is looked up by its SHA-1 (over its UTF-8 bytes, 40 uppercase hex digits when written out), as Have I Been
Pwned does. The shipped filter (`data/common_passwords.bloom`, built by `tools/build_password_filter.py`) is an rbloom
Bloom filter of those digests: no password is stored in it, it answers "maybe common" with a small false-positive rate
(in its JSON sidecar) and never misses a listed password. Operators may add Pwned Passwords for breach counts: the
sorted `HASH:COUNT` file (binary-searched through mmap, never loaded) or a directory of `XXXXX.txt` range files.

The password is never stored or logged: it lives only in the local variables of the call that checks it (and so do its
UTF-8 bytes and its SHA-1), nothing here caches per password, and no error message carries it or its hash. Python
cannot wipe a string, so the caller's copy lives until the caller drops it. To notice one password sprayed across many
accounts without holding it, callers keep `keyed_hash(key, password)` in their time windows, with a key that is random
per process (`process_key()`) unless the operator configures one.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import mmap
import os
import re
import secrets
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from rbloom import Bloom

from botwall.errors import ConfigError

FILTER_FILE = "common_passwords.bloom"
_MAX_HASHES = 64  # a Bloom filter needs ~log2(1/fp) hashes: 64 would be a false-positive rate of 1e-19
_SORTED_LINE = re.compile(rb"[0-9A-F]{40}:[0-9]+\r?")
_RANGE_LINE = re.compile(rb"[0-9A-F]{35}:[0-9]+\r?")
_RANGE_NAME = re.compile(r"[0-9A-F]{5}\.txt", re.IGNORECASE)
_RANGE_NAME_UPPER = re.compile(r"[0-9A-F]{5}\.txt")
_SAMPLED_LINES = 64  # lines of a sorted HIBP file checked (format and order) when it is opened


class PasswordDataError(ConfigError):
    """A password filter or Have I Been Pwned source that cannot be used; names the file and what was expected."""


@dataclass(frozen=True, slots=True)
class PasswordVerdict:
    """What is known about one password; `hibp_count` is -1 when no Have I Been Pwned source is configured."""

    common: bool
    breached: bool  # common, or seen at least once in the Have I Been Pwned source
    hibp_count: int


@dataclass(frozen=True, slots=True)
class FilterInfo:
    """The shipped (or given) filter's parameters, from its sidecar."""

    path: Path
    keys: int
    bits: int
    hashes: int
    false_positive_rate: float
    build_date: str


def filter_hash(digest: bytes) -> int:
    """rbloom's hash of a key (a SHA-1 digest): its first 16 bytes as a signed integer, stable in every process.

    rbloom would otherwise use Python's `hash()`, which is salted per process for bytes and str.
    """
    return int.from_bytes(digest[:16], "big", signed=True)


def keyed_hash(secret_key: bytes, value: str) -> bytes:
    """HMAC-SHA256 of the UTF-8 `value` under `secret_key`, truncated to 16 bytes: a password's stand-in in memory.

    Without the key the result cannot be looked up in a table of hashed passwords; keep the key out of logs.
    """
    if len(secret_key) < 16:
        raise ValueError("keyed_hash: the secret key must be at least 16 bytes")
    return hmac.digest(secret_key, _utf8(value), "sha256")[:16]


@functools.cache
def process_key() -> bytes:
    """A random 32-byte key for `keyed_hash`, drawn once per process: its hashes mean nothing outside it."""
    return secrets.token_bytes(32)


class _HibpSource(Protocol):
    def count(self, hash_hex: str) -> int: ...

    def close(self) -> None: ...


class PasswordChecker:
    """Looks passwords up in the common-password filter and, when configured, in Have I Been Pwned data.

    Holds the filter and the open HIBP source only: never a password, a digest of one, or a per-password cache.
    """

    __slots__ = ("_filter", "_hibp", "info")

    def __init__(self, bloom: Bloom, info: FilterInfo, hibp: _HibpSource | None = None) -> None:
        self._filter = bloom
        self._hibp = hibp
        self.info = info

    def is_common(self, password: str) -> bool:
        """True when the password's SHA-1 is in the common/breached filter (false positives at `info`'s rate)."""
        return _sha1(password) in self._filter

    def breach_count(self, password: str) -> int:
        """Times Have I Been Pwned saw the password (0 if never); -1 when no HIBP source is configured."""
        if self._hibp is None:
            return -1
        return self._hibp.count(_sha1(password).hex().upper())

    def check(self, password: str) -> PasswordVerdict:
        """Both lookups, hashing the password once."""
        digest = _sha1(password)
        common = digest in self._filter
        count = -1 if self._hibp is None else self._hibp.count(digest.hex().upper())
        return PasswordVerdict(common=common, breached=common or count > 0, hibp_count=count)

    def close(self) -> None:
        """Release the HIBP file (its mmap); the checker answers -1 for breach counts afterwards."""
        if self._hibp is not None:
            self._hibp.close()
            self._hibp = None


def load_password_checker(hibp_path: str | None = None, filter_path: Path | None = None) -> PasswordChecker:
    """The checker over the shipped filter (or `filter_path` and its `.json` sidecar) and an optional HIBP source.

    `hibp_path` is a sorted Pwned Passwords file (`HASH:COUNT` lines, SHA-1 ordered by hash) or a directory of
    `XXXXX.txt` range files (`SUFFIX:COUNT` lines). Raises PasswordDataError naming the file and what was expected.
    """
    if filter_path is None:
        with resources.as_file(resources.files("botwall") / "data" / FILTER_FILE) as shipped:
            bloom, info = _load_filter(Path(shipped))
    else:
        bloom, info = _load_filter(filter_path)
    hibp: _HibpSource | None = None
    if hibp_path is not None:
        hibp = _RangeDirectory(Path(hibp_path)) if os.path.isdir(hibp_path) else _SortedFile(Path(hibp_path))
    return PasswordChecker(bloom, info, hibp)


def _utf8(value: str) -> bytes:
    # surrogatepass: a string decoded with surrogateescape upstream still hashes (to bytes no list holds) instead of
    # raising in the middle of a request.
    return value.encode("utf-8", "surrogatepass")


def _sha1(password: str) -> bytes:
    # SHA-1 because Have I Been Pwned and the shipped filter are keyed by it; not used for security here.
    return hashlib.sha1(_utf8(password), usedforsecurity=False).digest()


def _load_filter(path: Path) -> tuple[Bloom, FilterInfo]:
    expected = "an rbloom filter written by tools/build_password_filter.py"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PasswordDataError(str(path), "", f"{expected} ({exc.strerror})", show_got=False) from None
    sidecar_path = path.with_suffix(".json")
    sidecar = _read_sidecar(sidecar_path)

    def number(key: str, kind: type[int] | type[float]) -> Any:
        value = sidecar.get(key)
        if not isinstance(value, kind) or isinstance(value, bool) or value <= 0:
            raise PasswordDataError(str(sidecar_path), key, f"a positive {kind.__name__}", value)
        return value

    size, bits, hashes, keys = number("bytes", int), number("bits", int), number("hashes", int), number("keys", int)
    rate = number("false_positive_rate", float)
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != size or digest != sidecar.get("sha256"):
        got = f"{len(data)} bytes with SHA-256 {digest}"
        raise PasswordDataError(str(path), "", f"{size} bytes with the SHA-256 in {sidecar_path.name}", got)
    # rbloom panics (an exception that is not an Exception) on a header it cannot read: check it first.
    if size < 9 or size * 8 - 64 != bits or int.from_bytes(data[:8], "little") != hashes or hashes > _MAX_HASHES:
        raise PasswordDataError(str(path), "", f"{expected} ({bits} bits, {hashes} hashes)", show_got=False)
    bloom = Bloom.load_bytes(data, filter_hash)
    canaries = sidecar.get("canaries")
    if not isinstance(canaries, list) or not canaries or not all(_is_sha1_hex(c) for c in canaries):
        raise PasswordDataError(str(sidecar_path), "canaries", "a list of SHA-1 hex digests", canaries)
    if not all(bytes.fromhex(c) in bloom for c in canaries):
        # Every canary is a member: missing ones mean this rbloom indexes bits differently from the one that built it.
        raise PasswordDataError(str(path), "", "a filter built with a compatible rbloom (rebuild it)", show_got=False)
    build_date = sidecar.get("build_date")
    info = FilterInfo(path, keys, bits, hashes, rate, build_date if isinstance(build_date, str) else "")
    return bloom, info


def _read_sidecar(path: Path) -> dict[str, Any]:
    try:
        sidecar = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PasswordDataError(str(path), "", f"the filter's JSON sidecar ({exc.strerror})", show_got=False) from None
    except ValueError as exc:
        raise PasswordDataError(str(path), "", f"the filter's JSON sidecar ({exc})", show_got=False) from None
    if not isinstance(sidecar, dict):
        raise PasswordDataError(str(path), "", "a JSON object", type(sidecar).__name__)
    return sidecar


def _is_sha1_hex(value: object) -> bool:
    return isinstance(value, str) and re.fullmatch(r"[0-9A-F]{40}", value) is not None


class _SortedFile:
    """Pwned Passwords as one file of `HASH:COUNT` lines sorted by hash, binary-searched through a read-only mmap."""

    __slots__ = ("_mm", "_path")

    def __init__(self, path: Path) -> None:
        self._path = str(path)
        try:
            with path.open("rb") as file:
                if os.fstat(file.fileno()).st_size == 0:
                    raise self._error("", "a non-empty file of HASH:COUNT lines")
                self._mm = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as exc:
            raise PasswordDataError(
                self._path, "", f"a Have I Been Pwned file or range directory ({exc.strerror})", show_got=False
            ) from None
        if hasattr(self._mm, "madvise"):
            self._mm.madvise(mmap.MADV_RANDOM)  # a binary search touches one page per step: no read-ahead
        self._check_sample()

    def _error(self, key: str, expected: str, got: object = None) -> PasswordDataError:
        return PasswordDataError(self._path, key, expected, got, show_got=got is not None)

    def _line_at(self, start: int) -> bytes:
        end = self._mm.find(b"\n", start)
        return self._mm[start : len(self._mm) if end < 0 else end]

    def _check_sample(self) -> None:
        # A full check would read the whole file (tens of GB); the first and last lines and a spread of lines between
        # catch the wrong file (NTLM, the range format, lower case, unsorted) without that.
        size = len(self._mm)
        starts = [0]
        for i in range(1, _SAMPLED_LINES):
            newline = self._mm.find(b"\n", size * i // _SAMPLED_LINES)
            if newline < 0 or newline + 1 >= size:
                break
            starts.append(newline + 1)
        last = self._mm.rfind(b"\n", 0, size - 1)
        starts.append(last + 1)
        previous = b""
        for start in sorted(set(starts)):
            line = self._line_at(start)
            key = "line 1" if start == 0 else f"line at byte {start}"
            if _SORTED_LINE.fullmatch(line) is None:
                raise self._error(key, _sorted_expectation(line), _shown(line))
            if line[:40] < previous:
                raise self._error(key, "lines sorted by hash (the 'ordered by hash' download)", _shown(line))
            previous = line[:40]

    def count(self, hash_hex: str) -> int:
        target = hash_hex.encode("ascii")
        mm = self._mm
        lo, hi = 0, len(mm)  # lo is always a line start; hi a line start or the end of the file
        while lo < hi:
            mid = (lo + hi) // 2
            newline = mm.rfind(b"\n", lo, mid)
            start = lo if newline < 0 else newline + 1
            end = mm.find(b"\n", start, hi)
            end = hi if end < 0 else end
            line = mm[start:end]
            key = line[:40]
            if key == target:
                if _SORTED_LINE.fullmatch(line) is None:
                    # Not shown: this line is the looked-up password's hash.
                    raise self._error(f"line at byte {start}", "HASH:COUNT with a decimal count")
                return int(line[41:].rstrip(b"\r"))
            if key < target:
                lo = end + 1
            else:
                hi = start
        return 0

    def close(self) -> None:
        self._mm.close()


class _RangeDirectory:
    """Pwned Passwords as range files: `<dir>/XXXXX.txt` holds `SUFFIX:COUNT` lines for hashes starting XXXXX."""

    __slots__ = ("_dir",)

    def __init__(self, path: Path) -> None:
        self._dir = path
        try:
            with os.scandir(path) as entries:
                first = next((e for e in entries if e.is_file() and _RANGE_NAME.fullmatch(e.name)), None)
        except OSError as exc:
            raise PasswordDataError(str(path), "", f"a readable directory ({exc.strerror})", show_got=False) from None
        if first is None:
            raise PasswordDataError(str(path), "", "a directory of XXXXX.txt range files", show_got=False)
        if _RANGE_NAME_UPPER.fullmatch(first.name) is None:
            raise PasswordDataError(first.path, "", "an upper-case hex file name (XXXXX.txt)", first.name)
        self._check_file(Path(first.path))

    def _check_file(self, path: Path) -> None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PasswordDataError(str(path), "", f"a readable range file ({exc.strerror})", show_got=False) from None
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        if not lines:
            raise PasswordDataError(str(path), "", "a non-empty range file of SUFFIX:COUNT lines", show_got=False)
        for number, line in enumerate(lines, 1):
            if _RANGE_LINE.fullmatch(line) is None:
                raise PasswordDataError(str(path), f"line {number}", _range_expectation(line), _shown(line))

    def count(self, hash_hex: str) -> int:
        prefix, suffix = hash_hex[:5], hash_hex[5:].encode("ascii")
        path = self._dir / f"{prefix}.txt"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return 0  # a partial download: this range was never fetched
        except OSError as exc:
            raise PasswordDataError(str(path), "", f"a readable range file ({exc.strerror})", show_got=False) from None
        at = data.find(suffix)
        while at >= 0 and not ((at == 0 or data[at - 1] == 0x0A) and data[at + 35 : at + 36] == b":"):
            at = data.find(suffix, at + 1)
        if at < 0:
            return 0
        end = data.find(b"\n", at)
        field = data[at + 36 : len(data) if end < 0 else end].rstrip(b"\r")
        if not field.isdigit():
            # The line is not shown: its suffix is part of the looked-up password's hash.
            line = data.count(b"\n", 0, at) + 1
            raise PasswordDataError(str(path), f"line {line}", "SUFFIX:COUNT with a decimal count", show_got=False)
        return int(field)  # padding rows (count 0) read as "not seen"

    def close(self) -> None:
        pass


def _shown(line: bytes) -> str:
    text = line.rstrip(b"\r").decode("utf-8", "replace")
    return text if len(text) <= 60 else text[:57] + "..."


def _sorted_expectation(line: bytes) -> str:
    expected = "HASH:COUNT with a 40-digit upper-case hex SHA-1 (Pwned Passwords, SHA-1, ordered by hash)"
    head = line.split(b":", 1)[0]
    if len(head) == 32:
        return expected + "; this looks like the NTLM download"
    if len(head) == 35:
        return expected + "; this looks like a range file: pass their directory"
    return expected


def _range_expectation(line: bytes) -> str:
    expected = "SUFFIX:COUNT with a 35-digit upper-case hex hash suffix"
    if len(line.split(b":", 1)[0]) == 40:
        return expected + "; this looks like the sorted HASH:COUNT file: pass it, not its directory"
    return expected
