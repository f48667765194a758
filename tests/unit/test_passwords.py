"""Breached and common passwords: the shipped filter, Have I Been Pwned files and range directories, keyed hashes."""

from __future__ import annotations

import hashlib
import json
import random
import string
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rbloom import Bloom

from botwall.errors import ConfigError
from botwall.evidence.passwords import (
    PasswordChecker,
    PasswordDataError,
    PasswordVerdict,
    filter_hash,
    keyed_hash,
    load_password_checker,
    process_key,
)

ALPHABET = string.ascii_letters + string.digits + string.punctuation
# Not in the shipped filter (checked below), so HIBP alone decides whether it is breached.
UNLISTED = "Zq8#unlisted-but-breached"


def sha1_hex(password: str) -> str:
    return hashlib.sha1(password.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


@pytest.fixture(scope="module")
def checker() -> Iterator[PasswordChecker]:
    loaded = load_password_checker()
    yield loaded
    loaded.close()


def hibp_counts() -> dict[str, int]:
    """Passwords and their breach counts for the HIBP fixtures (one of them a zero, like a padding row)."""
    counts = {f"fixture-{i}": i + 1 for i in range(400)}
    counts.update({"password": 9_545_824, UNLISTED: 3, "seen-zero-times": 0})
    return counts


def write_sorted_file(path: Path, counts: dict[str, int], newline: str = "\r\n", final_newline: bool = True) -> Path:
    lines = sorted(f"{sha1_hex(p)}:{n}" for p, n in counts.items())
    path.write_text(newline.join(lines) + (newline if final_newline else ""), encoding="ascii", newline="")
    return path


def write_range_directory(directory: Path, counts: dict[str, int], padding: int = 3) -> Path:
    """One XXXXX.txt per prefix, SUFFIX:COUNT lines sorted, with `padding` random zero-count rows per file."""
    directory.mkdir()
    rng = random.Random(7)  # noqa: S311 -- reproducible fixture rows, not secrets
    ranges: dict[str, list[str]] = {}
    for password, count in counts.items():
        digest = sha1_hex(password)
        ranges.setdefault(digest[:5], []).append(f"{digest[5:]}:{count}")
    for prefix, rows in ranges.items():
        rows += [f"{rng.getrandbits(140):035X}:0" for _ in range(padding)]
        (directory / f"{prefix}.txt").write_text("\r\n".join(sorted(rows)) + "\r\n", encoding="ascii", newline="")
    return directory


@pytest.mark.parametrize("password", ["123456", "password", "qwerty123", "lozzer"])
def test_common_passwords_are_flagged(checker: PasswordChecker, password: str) -> None:
    """The top of the list and a mid-list password (`lozzer`, rank 500,002 of the 1M list) are common."""
    assert True is checker.is_common(password)
    assert PasswordVerdict(common=True, breached=True, hibp_count=-1) == checker.check(password)


def test_random_passwords_are_rarely_flagged(checker: PasswordChecker) -> None:
    """Random 20-character passwords are flagged at under twice the filter's configured false-positive rate.

    100,000 probes (fixed seed), not 10,000: at the shipped rate of 1e-4, 10,000 expect one false positive, too few to
    tell a right filter from a wrong one; 100,000 expect ten.
    """
    rng = random.Random(1)  # noqa: S311 -- a fixed, reproducible sample, not a secret
    probes = 100_000
    flagged = sum(checker.is_common("".join(rng.choices(ALPHABET, k=20))) for _ in range(probes))
    assert True is (flagged / probes < 2 * checker.info.false_positive_rate)
    assert False is checker.is_common(UNLISTED)


def test_shipped_filter_parameters(checker: PasswordChecker) -> None:
    """The sidecar describes ~1M keys at a 1e-4 false-positive rate, and its build-time measurement agrees."""
    sidecar = json.loads(checker.info.path.with_suffix(".json").read_text(encoding="utf-8"))
    assert (1_000_763, 1e-4, 13) == (checker.info.keys, checker.info.false_positive_rate, checker.info.hashes)
    assert True is (sidecar["measured_false_positive_rate"] < 2 * sidecar["false_positive_rate"])
    assert True is (checker.info.path.stat().st_size <= 3_000_000)


def test_filter_hash_is_stable() -> None:
    """The filter's key hash is a fixed function of the SHA-1, not Python's per-process salted hash()."""
    digest = hashlib.sha1(b"password", usedforsecurity=False).digest()
    assert 121844423602561309517818061757429068571 == filter_hash(digest)


def test_no_hibp_source_gives_minus_one(checker: PasswordChecker) -> None:
    """Without a Have I Been Pwned source the breach count is -1 and only the filter decides."""
    assert -1 == checker.breach_count("password")
    assert PasswordVerdict(common=False, breached=False, hibp_count=-1) == checker.check(UNLISTED)


@pytest.mark.parametrize(
    ("newline", "final_newline"), [("\r\n", True), ("\n", True), ("\r\n", False)], ids=["crlf", "lf", "no-final"]
)
def test_hibp_sorted_file_counts(tmp_path: Path, newline: str, final_newline: bool) -> None:
    """Every hash of a sorted HASH:COUNT file is found with its count, first and last lines included."""
    counts = hibp_counts()
    path = write_sorted_file(tmp_path / "pwned.txt", counts, newline, final_newline)
    checker = load_password_checker(str(path))
    try:
        assert counts == {p: checker.breach_count(p) for p in counts}
        assert 0 == checker.breach_count("not in the fixture file at all")
        assert PasswordVerdict(common=False, breached=True, hibp_count=3) == checker.check(UNLISTED)
        assert PasswordVerdict(common=True, breached=True, hibp_count=9_545_824) == checker.check("password")
    finally:
        checker.close()


def test_hibp_range_directory_counts(tmp_path: Path) -> None:
    """Range files give each suffix's count; padding rows (count 0) and missing range files read as not seen."""
    counts = hibp_counts()
    directory = write_range_directory(tmp_path / "ranges", counts)
    checker = load_password_checker(str(directory))
    assert counts == {p: checker.breach_count(p) for p in counts}
    missing = next(
        f"absent-{i}" for i in range(10_000) if not (directory / f"{sha1_hex(f'absent-{i}')[:5]}.txt").exists()
    )
    assert 0 == checker.breach_count(missing)
    rows = (directory / f"{sha1_hex('password')[:5]}.txt").read_bytes().split(b"\r\n")
    assert 3 == sum(row.endswith(b":0") for row in rows)
    assert PasswordVerdict(common=False, breached=True, hibp_count=3) == checker.check(UNLISTED)
    assert PasswordVerdict(common=False, breached=False, hibp_count=0) == checker.check("seen-zero-times")


HASH = "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8"
HASH2 = "7C4A8D09CA3762AF61E59520943DC26494F8941B"
SORTED_EXPECTED = "HASH:COUNT with a 40-digit upper-case hex SHA-1 (Pwned Passwords, SHA-1, ordered by hash)"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "expected a non-empty file of HASH:COUNT lines"),
        (
            b"8846F7EAEE8FB117AD06BDD830B7586C:42\r\n",
            f"line 1: expected {SORTED_EXPECTED}; this looks like the NTLM download, "
            "got '8846F7EAEE8FB117AD06BDD830B7586C:42'",
        ),
        (
            HASH.lower().encode() + b":3\n",
            f"line 1: expected {SORTED_EXPECTED}, got '{HASH.lower()}:3'",
        ),
        (
            HASH[5:].encode() + b":3\n",
            f"line 1: expected {SORTED_EXPECTED}; this looks like a range file: pass their directory, "
            f"got '{HASH[5:]}:3'",
        ),
        (
            f"{HASH2}:1\n{HASH}:2\n".encode(),
            f"line at byte 43: expected lines sorted by hash (the 'ordered by hash' download), got '{HASH}:2'",
        ),
        (f"{HASH}:many\n".encode(), f"line 1: expected {SORTED_EXPECTED}, got '{HASH}:many'"),
    ],
    ids=["empty", "ntlm", "lower-case", "range-format", "unsorted", "count"],
)
def test_bad_hibp_file(tmp_path: Path, content: bytes, message: str) -> None:
    """A file that is not the sorted SHA-1 download names itself, the line and what was expected."""
    path = tmp_path / "pwned.txt"
    path.write_bytes(content)
    with pytest.raises(PasswordDataError) as caught:
        load_password_checker(str(path))
    assert f"{path}: {message}" == str(caught.value)
    assert (str(path), True) == (caught.value.source, isinstance(caught.value, ConfigError))


def test_missing_hibp_path(tmp_path: Path) -> None:
    """A HIBP path that does not exist says what it should have been."""
    path = tmp_path / "nowhere.txt"
    with pytest.raises(PasswordDataError) as caught:
        load_password_checker(str(path))
    expected = f"{path}: expected a Have I Been Pwned file or range directory (No such file or directory)"
    assert expected == str(caught.value)


def test_bad_range_directories(tmp_path: Path) -> None:
    """Directories without range files, with wrong names or with bad lines name the file, the line and the format."""
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.md").write_text("not a range file", encoding="ascii")
    lower = tmp_path / "lower"
    lower.mkdir()
    (lower / "5baa6.txt").write_text(f"{HASH[5:]}:3\n", encoding="ascii")
    bad_line = tmp_path / "bad-line"
    bad_line.mkdir()
    (bad_line / "5BAA6.txt").write_text(f"{HASH[5:]}:3\r\nnonsense\r\n", encoding="ascii")
    full = tmp_path / "full"
    full.mkdir()
    (full / "5BAA6.txt").write_text(f"{HASH}:3\n", encoding="ascii")
    cases = {
        empty: f"{empty}: expected a directory of XXXXX.txt range files",
        lower: f"{lower / '5baa6.txt'}: expected an upper-case hex file name (XXXXX.txt), got '5baa6.txt'",
        bad_line: f"{bad_line / '5BAA6.txt'}: line 2: expected SUFFIX:COUNT with a 35-digit upper-case hex hash "
        "suffix, got 'nonsense'",
        full: f"{full / '5BAA6.txt'}: line 1: expected SUFFIX:COUNT with a 35-digit upper-case hex hash suffix; this "
        f"looks like the sorted HASH:COUNT file: pass it, not its directory, got '{HASH}:3'",
    }
    messages = {}
    for directory in cases:
        with pytest.raises(PasswordDataError) as caught:
            load_password_checker(str(directory))
        messages[directory] = str(caught.value)
    assert cases == messages


def test_bad_count_found_at_lookup_hides_the_hash(tmp_path: Path) -> None:
    """A malformed count met during a lookup names the file and line but not the looked-up hash."""
    directory = write_range_directory(tmp_path / "ranges", {"fixture-1": 1})
    checker = load_password_checker(str(directory))
    digest = sha1_hex("hunter2")
    (directory / f"{digest[:5]}.txt").write_text(f"{'0' * 35}:1\r\n{digest[5:]}:lots\r\n", encoding="ascii")
    with pytest.raises(PasswordDataError) as caught:
        checker.check("hunter2")
    assert f"{directory / (digest[:5] + '.txt')}: line 2: expected SUFFIX:COUNT with a decimal count" == str(
        caught.value
    )
    assert False is (digest[5:] in str(caught.value))


MEMBERS = [f"member-{i}" for i in range(200)]


def write_filter(directory: Path, hash_func: Callable[[bytes], int] = filter_hash) -> Path:
    """A small filter of MEMBERS and its sidecar, in the format tools/build_password_filter.py writes."""
    keys = sorted(hashlib.sha1(p.encode(), usedforsecurity=False).digest() for p in MEMBERS)
    bloom = Bloom(len(keys), 0.01, hash_func)
    bloom.update(keys)
    data = bloom.save_bytes()
    path = directory / "small.bloom"
    path.write_bytes(data)
    sidecar = {
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "keys": len(keys),
        "bits": bloom.size_in_bits,
        "hashes": int.from_bytes(data[:8], "little"),
        "false_positive_rate": 0.01,
        "canaries": [k.hex().upper() for k in keys[:4]],
        "build_date": "2026-11-28",
    }
    path.with_suffix(".json").write_text(json.dumps(sidecar), encoding="utf-8")
    return path


def test_custom_filter_loads(tmp_path: Path) -> None:
    """A filter given by path answers for its own members."""
    path = write_filter(tmp_path)
    checker = load_password_checker(filter_path=path)
    assert [True] * len(MEMBERS) == [checker.is_common(p) for p in MEMBERS]
    assert (len(MEMBERS), 0.01, "2026-11-28") == (
        checker.info.keys,
        checker.info.false_positive_rate,
        checker.info.build_date,
    )


def test_bad_filters(tmp_path: Path) -> None:
    """A corrupted, truncated, sidecar-less or incompatible filter is refused with the file and what was expected."""
    path = write_filter(tmp_path)
    sidecar = path.with_suffix(".json")
    good_data, good_sidecar = path.read_bytes(), json.loads(sidecar.read_text(encoding="utf-8"))
    messages = {}

    path.write_bytes(good_data[:-1] + bytes([good_data[-1] ^ 1]))
    with pytest.raises(PasswordDataError) as caught:
        load_password_checker(filter_path=path)
    messages["corrupted"] = str(caught.value).split(", got")[0]

    path.write_bytes(good_data[:7])
    truncated = {"bytes": 7, "sha256": hashlib.sha256(good_data[:7]).hexdigest()}
    sidecar.write_text(json.dumps(good_sidecar | truncated), encoding="utf-8")
    with pytest.raises(PasswordDataError) as caught:
        load_password_checker(filter_path=path)
    messages["truncated"] = str(caught.value)

    # A library that indexes bits differently from the builder's is simulated by building with another hash.
    write_filter(tmp_path, lambda digest: filter_hash(digest) ^ 0x5A5A)
    with pytest.raises(PasswordDataError) as caught:
        load_password_checker(filter_path=path)
    messages["incompatible"] = str(caught.value)

    sidecar.unlink()
    with pytest.raises(PasswordDataError) as caught:
        load_password_checker(filter_path=path)
    messages["no-sidecar"] = str(caught.value)

    bits, hashes = good_sidecar["bits"], good_sidecar["hashes"]
    assert {
        "corrupted": f"{path}: expected {len(good_data)} bytes with the SHA-256 in small.json",
        "truncated": f"{path}: expected an rbloom filter written by tools/build_password_filter.py ({bits} bits, "
        f"{hashes} hashes)",
        "incompatible": f"{path}: expected a filter built with a compatible rbloom (rebuild it)",
        "no-sidecar": f"{sidecar}: expected the filter's JSON sidecar (No such file or directory)",
    } == messages


def test_keyed_hash() -> None:
    """keyed_hash is 16 bytes, stable for one key and value, and differs across keys and across values."""
    key, other = b"k" * 32, b"o" * 32
    assert 16 == len(keyed_hash(key, "hunter2"))
    assert keyed_hash(key, "hunter2") == keyed_hash(key, "hunter2")
    assert False is (keyed_hash(key, "hunter2") == keyed_hash(other, "hunter2"))
    assert False is (keyed_hash(key, "hunter2") == keyed_hash(key, "hunter3"))
    assert (32, process_key()) == (len(process_key()), process_key())
    with pytest.raises(ValueError, match="at least 16 bytes"):
        keyed_hash(b"short", "hunter2")


def strings_reachable(root: object) -> list[str | bytes]:
    """Every str and bytes value reachable from `root` through attributes, slots and containers (mmap excluded)."""
    found: list[str | bytes] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, str | bytes | bytearray):
            found.append(bytes(obj) if isinstance(obj, bytearray) else obj)
            continue
        if isinstance(obj, dict):
            stack += list(obj.keys()) + list(obj.values())
            continue
        if isinstance(obj, list | tuple | set | frozenset):
            stack += list(obj)
            continue
        if type(obj).__module__ in {"builtins", "mmap", "rbloom"}:
            continue  # numbers, the mmap of the HIBP file, the Bloom filter's bits
        stack += list(getattr(obj, "__dict__", {}).values())
        for cls in type(obj).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                if hasattr(obj, slot):
                    stack.append(getattr(obj, slot))
    return found


def test_checker_keeps_no_password(tmp_path: Path) -> None:
    """After checks, nothing reachable from a checker holds the password, its bytes or its SHA-1."""
    password = "a-Very-Particular-passw0rd!"
    digest = hashlib.sha1(password.encode(), usedforsecurity=False).digest()
    text_forms, byte_forms = [password, digest.hex(), digest.hex().upper()], [password.encode(), digest]
    counts = {password: 5}
    for source in (
        write_sorted_file(tmp_path / "pwned.txt", counts),
        write_range_directory(tmp_path / "ranges", counts),
    ):
        checker = load_password_checker(str(source))
        assert PasswordVerdict(common=False, breached=True, hibp_count=5) == checker.check(password)
        assert (False, 5) == (checker.is_common(password), checker.breach_count(password))
        reachable = strings_reachable(checker)
        leaked: list[str | bytes] = [
            s for s in reachable if isinstance(s, str) and any(form in s for form in text_forms)
        ]
        leaked += [s for s in reachable if isinstance(s, bytes) and any(form in s for form in byte_forms)]
        assert ([], True) == (leaked, len(reachable) > 0)
        checker.close()
