"""Convert npm `@ip-location-db/asn` (CC BY 4.0) into botwall's compact ASN table, `ext_proc/botwall/data/asn.bin.xz`.

    .venv/bin/python tools/build_asn_data.py                      # `npm pack` the pinned version into a temp dir
    .venv/bin/python tools/build_asn_data.py --package DIR        # an already unpacked package/ directory
    .venv/bin/python tools/build_asn_data.py --tarball FILE.tgz   # a tarball from `npm pack`

Reads `asn-ipv4-num.csv` and `asn-ipv6-num.csv` (inclusive numeric ranges, ASN, organisation), keeps one name per
ASN, and writes the format described in `botwall/evidence/infra/_asn.py`. Run it when bumping VERSION, then update
NOTICE.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from botwall.evidence.infra._asn import read_asn_table, write_asn_table

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "@ip-location-db/asn"
VERSION = "2.3.2026061719"  # the last npm release (2026-06-17); upstream has since moved to GitHub releases
OUT = ROOT / "ext_proc" / "botwall" / "data" / "asn.bin.xz"
LICENCE_FILES = ("ROUTEVIEWS-LICENSE", "DBIP-LICENSE", "NRO_LICENSE")


def read_rows(path: Path, orgs: dict[int, str]) -> list[tuple[int, int, int]]:
    """`(start, end, asn)` rows of one `-num.csv` file; organisation names go into `orgs`."""
    rows: list[tuple[int, int, int]] = []
    with path.open(newline="", encoding="utf-8") as fh:
        for line_no, fields in enumerate(csv.reader(fh), 1):
            if len(fields) != 4:
                raise SystemExit(f"{path}: line {line_no}: expected 4 fields, got {len(fields)}")
            start, end, asn = int(fields[0]), int(fields[1]), int(fields[2])
            if not 0 <= start <= end or not 0 < asn < 1 << 32:
                raise SystemExit(f"{path}: line {line_no}: bad range or ASN {fields[:3]}")
            orgs.setdefault(asn, fields[3])
            rows.append((start, end, asn))
    return rows


def unpack(tarball: Path, into: Path) -> Path:
    """Extract an npm tarball (its files sit under `package/`)."""
    with tarfile.open(tarball) as tar:
        tar.extractall(into, filter="data")
    return into / "package"


def npm_pack(into: Path) -> Path:
    """Fetch the pinned package from the npm registry with the ordinary client."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is not installed: pass --package or --tarball instead")
    out = subprocess.run(
        [npm, "pack", "--silent", f"{PACKAGE}@{VERSION}"], cwd=into, check=True, capture_output=True, text=True
    )
    return unpack(into / out.stdout.strip().splitlines()[-1], into)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--package", type=Path, help="an unpacked npm package directory")
    source.add_argument("--tarball", type=Path, help="a tarball from `npm pack`")
    parser.add_argument("--out", type=Path, default=OUT, help=f"output file (default {OUT.relative_to(ROOT)})")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        if args.package:
            package = args.package
        elif args.tarball:
            package = unpack(args.tarball, Path(tmp))
        else:
            package = npm_pack(Path(tmp))
        info = json.loads((package / "package.json").read_text(encoding="utf-8"))
        missing = [name for name in LICENCE_FILES if not (package / name).is_file()]
        if missing:
            raise SystemExit(f"{package}: licence files missing: {missing}; the attribution would be incomplete")
        orgs: dict[int, str] = {}
        v4 = read_rows(package / "asn-ipv4-num.csv", orgs)
        v6 = read_rows(package / "asn-ipv6-num.csv", orgs)

    version = str(info["version"])
    stamp = version.rsplit(".", 1)[-1]  # 2026061719: YYYYMMDDHH of the upstream build
    meta = {
        "source": f"npm {info['name']} {version}",
        "data_date": f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}",
        "licence": "CC BY 4.0",
        "attribution": "RouteViews (routeviews.org), DB-IP (db-ip.com), NRO (nro.net), via sapics/ip-location-db",
    }
    started = time.perf_counter()
    size = write_asn_table(args.out, orgs, v4, v6, meta)
    built = time.perf_counter() - started
    started = time.perf_counter()
    table = read_asn_table(args.out)
    loaded = time.perf_counter() - started
    print(
        f"{args.out}: {size:,} bytes; {len(v4):,} IPv4 and {len(v6):,} IPv6 rows, {len(orgs):,} ASNs; "
        f"{len(table.v4):,} + {len(table.v6):,} segments with gaps; built in {built:.1f} s, loads in "
        f"{loaded * 1000:.0f} ms; {meta['source']} ({meta['data_date']})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
