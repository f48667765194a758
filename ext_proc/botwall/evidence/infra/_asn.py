"""The shipped IP-to-ASN table: its binary format, written by `tools/build_asn_data.py` and read at start-up.

The file is xz-compressed. Inside, after a fixed header and a JSON provenance block, every part is a little-endian
array that loads with one `frombytes` (no per-row parsing):

    header   "<8sIIIIIII": magic, meta_len, n_asn, blob_len, n4, n6, n6_lo, reserved (0)
    meta     meta_len bytes of UTF-8 JSON (source package, version, licence, build date)
    asns     n_asn  x u32   AS numbers, ascending
    offsets  n_asn+1 x u32  where each organisation name starts in the blob (and where the last ends)
    blob     blob_len bytes of UTF-8 organisation names, back to back
    v4       n4 x u32 segment starts, then n4 x u32 values (an index into asns, or 0xFFFFFFFF for a gap)
    v6       n6 x u64 high halves of segment starts, then n6 x u32 values
    v6_lo    n6_lo x u32 segment indexes, then n6_lo x u64 non-zero low halves of those starts
"""

from __future__ import annotations

import json
import lzma
import struct
import sys
from array import array
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from pathlib import Path

from botwall.evidence.infra._ranges import NO_VALUE, Ranges4, Ranges6, flatten

MAGIC = b"BWASN\x00\x01\x00"
_HEADER = struct.Struct("<8sIIIIIII")


class AsnTable:
    """Address -> (ASN, organisation), plus ASN -> organisation for ASNs learned elsewhere (MMDB, IPASN)."""

    __slots__ = ("_asns", "_blob", "_names", "_offsets", "meta", "v4", "v6")

    def __init__(
        self, asns: array[int], offsets: array[int], blob: bytes, v4: Ranges4, v6: Ranges6, meta: Mapping[str, str]
    ) -> None:
        self._asns = asns
        self._offsets = offsets
        self._blob = blob
        self.v4 = v4
        self.v6 = v6
        self.meta = dict(meta)
        # Names decoded once and shared, so a cache full of answers does not hold a copy of a name per IP.
        self._names: dict[int, str] = {}

    @classmethod
    def empty(cls) -> AsnTable:
        """A table that knows nothing (for tests, or a deployment that brings its own ASN files)."""
        no4 = Ranges4(array("I"), array("I"))
        no6 = Ranges6(array("Q"), {}, array("I"))
        return cls(array("I"), array("I", [0]), b"", no4, no6, {})

    def _entry(self, index: int) -> tuple[int, str]:
        name = self._names.get(index)
        if name is None:
            start, end = self._offsets[index], self._offsets[index + 1]
            name = self._names[index] = self._blob[start:end].decode("utf-8")
        return self._asns[index], name

    def find(self, version: int, address: int) -> tuple[int, str]:
        """`(asn, organisation)` for an address, `(0, "")` when the table has no route for it."""
        index = self.v4.find(address) if version == 4 else self.v6.find(address)
        return (0, "") if index == NO_VALUE else self._entry(index)

    def org(self, asn: int) -> str:
        """The organisation name of an ASN, "" if the table does not know it."""
        i = bisect_left(self._asns, asn)
        if i < len(self._asns) and self._asns[i] == asn:
            return self._entry(i)[1]
        return ""

    def __len__(self) -> int:
        return len(self._asns)

    def nbytes(self) -> int:
        """Memory held by the arrays and the name blob."""
        own = len(self._asns) * 4 + len(self._offsets) * 4 + len(self._blob)
        return own + self.v4.nbytes() + self.v6.nbytes()


def _array(code: str, data: memoryview, offset: int, count: int) -> tuple[array[int], int]:
    out = array(code)
    end = offset + count * out.itemsize
    out.frombytes(data[offset:end])
    if sys.byteorder != "little":
        out.byteswap()
    return out, end


def _check_itemsizes() -> None:
    # The format is u32/u64; `array` codes are C types, so make sure this platform agrees.
    if array("I").itemsize != 4 or array("Q").itemsize != 8:
        raise RuntimeError("botwall.evidence.infra needs array('I') of 4 bytes and array('Q') of 8 bytes")


def read_asn_table(path: Path) -> AsnTable:
    """Load a table written by `write_asn_table`; raises ValueError for a file in another format."""
    _check_itemsizes()
    raw = memoryview(lzma.decompress(path.read_bytes()))
    if len(raw) < _HEADER.size:
        raise ValueError(f"{path}: too short for a botwall ASN table")
    magic, meta_len, n_asn, blob_len, n4, n6, n6_lo, _ = _HEADER.unpack_from(raw, 0)
    if magic != MAGIC:
        raise ValueError(f"{path}: not a botwall ASN table (format {bytes(magic)!r})")
    offset = _HEADER.size
    meta = json.loads(bytes(raw[offset : offset + meta_len]).decode("utf-8"))
    offset += meta_len
    asns, offset = _array("I", raw, offset, n_asn)
    offsets, offset = _array("I", raw, offset, n_asn + 1)
    blob = bytes(raw[offset : offset + blob_len])
    offset += blob_len
    v4_starts, offset = _array("I", raw, offset, n4)
    v4_values, offset = _array("I", raw, offset, n4)
    v6_hi, offset = _array("Q", raw, offset, n6)
    v6_values, offset = _array("I", raw, offset, n6)
    lo_index, offset = _array("I", raw, offset, n6_lo)
    lo_value, offset = _array("Q", raw, offset, n6_lo)
    if offset != len(raw):
        raise ValueError(f"{path}: {len(raw) - offset} unexpected bytes after the ASN table")
    v6 = Ranges6(v6_hi, dict(zip(lo_index, lo_value, strict=True)), v6_values)
    return AsnTable(asns, offsets, blob, Ranges4(v4_starts, v4_values), v6, meta)


def _le(values: array[int]) -> bytes:
    if sys.byteorder != "little":
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def write_asn_table(
    path: Path,
    orgs: Mapping[int, str],
    v4: Sequence[tuple[int, int, int]],
    v6: Sequence[tuple[int, int, int]],
    meta: Mapping[str, str],
) -> int:
    """Write `(start, end, asn)` rows (inclusive; overlaps resolved narrowest-first) and return the file size."""
    _check_itemsizes()
    asns = sorted(orgs)
    index = {asn: i for i, asn in enumerate(asns)}
    names = [orgs[a].encode("utf-8") for a in asns]
    offsets = [0]
    for name in names:
        offsets.append(offsets[-1] + len(name))

    def narrowest(payloads: list[tuple[int, int]]) -> int:
        return min(payloads)[1]  # (width, asn index): a more specific route wins over the wider one around it

    def table(rows: Sequence[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
        return flatten([(s, e, (e - s, index[a])) for s, e, a in rows], narrowest)

    t4 = Ranges4.from_segments(table(v4))
    t6 = Ranges6.from_segments(table(v6))
    lo_items = sorted(t6.lo.items())
    meta_bytes = json.dumps(dict(meta), sort_keys=True).encode("utf-8")
    blob = b"".join(names)
    parts = [
        _HEADER.pack(MAGIC, len(meta_bytes), len(asns), len(blob), len(t4), len(t6), len(lo_items), 0),
        meta_bytes,
        _le(array("I", asns)),
        _le(array("I", offsets)),
        blob,
        _le(t4.starts),
        _le(t4.values),
        _le(t6.hi),
        _le(t6.values),
        _le(array("I", [i for i, _ in lo_items])),
        _le(array("Q", [v for _, v in lo_items])),
    ]
    data = lzma.compress(b"".join(parts), preset=9 | lzma.PRESET_EXTREME)
    path.write_bytes(data)
    return len(data)
