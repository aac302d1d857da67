"""A zip written by hand around stored, already-compressed parts: for documents made by the thousand.

zipfile compresses every part on every write; a DOCX filled from a template changes one or two parts,
so the others are deflated once (`ZipTemplate`) and their bytes copied into each file, and only the
filled parts are deflated per document. The output is a plain zip (deflate, UTF-8 names, no extras)
that zipfile, Word, LibreOffice and python-docx read.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

_DOS_TIME, _DOS_DATE = 0, (2024 - 1980) << 9 | 1 << 5 | 1  # 2024-01-01 00:00: fixed, so output is reproducible
_UTF8 = 0x800
_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")


@dataclass(frozen=True, slots=True)
class _Part:
    name: bytes
    crc: int
    size: int
    data: bytes  # raw deflate


def _deflate(raw: bytes, level: int) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return c.compress(raw) + c.flush()


def _part(name: str, raw: bytes, level: int) -> _Part:
    return _Part(name.encode(), zlib.crc32(raw), len(raw), _deflate(raw, level))


class ZipTemplate:
    """Parts in order; the names in `fill` are given per document, every other part is stored once."""

    def __init__(self, parts: Mapping[str, bytes], fill: Sequence[str]) -> None:
        self.order = [*parts, *(n for n in fill if n not in parts)]
        self.fill_names = set(fill)
        self.stored = {n: _part(n, data, 9) for n, data in parts.items() if n not in self.fill_names}

    @staticmethod
    def read_parts(data: bytes) -> dict[str, bytes]:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return {i.filename: z.read(i) for i in z.infolist()}

    def fill(self, filled: Mapping[str, bytes], level: int = 6) -> bytes:
        if set(filled) != self.fill_names:
            raise ValueError(f"expected parts {sorted(self.fill_names)}, got {sorted(filled)}")
        out = bytearray()
        central = []
        for name in self.order:
            p = self.stored.get(name) or _part(name, filled[name], level)
            offset = len(out)
            out += _LOCAL.pack(0x04034B50, 20, _UTF8, 8, _DOS_TIME, _DOS_DATE, p.crc, len(p.data), p.size,
                               len(p.name), 0)
            out += p.name
            out += p.data
            central.append(_CENTRAL.pack(0x02014B50, 20, 20, _UTF8, 8, _DOS_TIME, _DOS_DATE, p.crc, len(p.data),
                                         p.size, len(p.name), 0, 0, 0, 0, 0, offset) + p.name)
        start = len(out)
        for c in central:
            out += c
        out += _END.pack(0x06054B50, 0, 0, len(central), len(central), len(out) - start, start, 0)
        return bytes(out)
