"""Evidence files: recognised by their content, never by their name; stored once by SHA-256.

A file is accepted only when its bytes are one of the allowed kinds AND its name says the same
kind: a PDF called photo.png is refused, as is a program renamed report.pdf.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Kind:
    name: str
    content_type: str
    extensions: tuple[str, ...]


PDF = Kind("pdf", "application/pdf", (".pdf",))
JPEG = Kind("jpg", "image/jpeg", (".jpg", ".jpeg"))
PNG = Kind("png", "image/png", (".png",))
DOCX = Kind("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", (".docx",))
XLSX = Kind("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (".xlsx",))
KINDS = (PDF, JPEG, PNG, DOCX, XLSX)
ALLOWED_EXTENSIONS = tuple(ext for k in KINDS for ext in k.extensions)


class EvidenceError(ValueError):
    """An upload that cannot be accepted; `reason` picks the wording in the template."""

    def __init__(self, reason: str, filename: str):
        super().__init__(f"{filename}: {reason}")
        self.reason = reason  # too_large / bad_type / name_mismatch / empty
        self.filename = filename


def _office_kind(data: bytes) -> Kind | None:
    """A docx/xlsx is a zip whose directory names [Content_Types].xml and word/ or xl/ parts.

    Only the central directory is read (no member is decompressed), so a zip bomb costs nothing.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    if any(n.startswith("word/") for n in names):
        return DOCX
    if any(n.startswith("xl/") for n in names):
        return XLSX
    return None


def sniff(data: bytes) -> Kind | None:
    """The kind the bytes are, or None."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"PK\x03\x04"):
        return _office_kind(data)
    return None


_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')
# Bidirectional controls (U+202E shows "report\u202Efdp.exe" as "reportexe.pdf") and invisible marks.
_BIDI = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def strip_bidi(name: str) -> str:
    return _BIDI.sub("", name)


def clean_filename(name: str) -> str:
    """The last path part, without control or path characters, at most 200 characters."""
    base = re.split(r"[/\\]", strip_bidi(name or ""))[-1]
    base = _UNSAFE_NAME.sub("_", base).strip(" .") or "file"
    stem, dot, ext = base.rpartition(".")
    if dot and len(base) > 200:
        return stem[: 200 - len(ext) - 1] + "." + ext
    return base[:200]


def check(filename: str, data: bytes, max_bytes: int) -> Kind:
    """The file's kind, or EvidenceError saying why it is refused."""
    if not data:
        raise EvidenceError("empty", filename)
    if len(data) > max_bytes:
        raise EvidenceError("too_large", filename)
    kind = sniff(data)
    if kind is None:
        raise EvidenceError("bad_type", filename)
    if not filename.lower().endswith(kind.extensions):
        raise EvidenceError("name_mismatch", filename)
    return kind


def store(folder: Path, data: bytes) -> str:
    """Write the bytes under their SHA-256 (once; the same file uploaded twice is kept once)."""
    digest = hashlib.sha256(data).hexdigest()
    path = blob_path(folder, digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{digest}.{uuid.uuid4().hex}.tmp")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)  # atomic: a crash never leaves half a file under the real name
        finally:
            tmp.unlink(missing_ok=True)
    return digest


def blob_path(folder: Path, digest: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ValueError("not a SHA-256 hex digest")
    return folder / digest[:2] / digest
