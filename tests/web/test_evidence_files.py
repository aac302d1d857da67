"""Evidence files are recognised by content, must be named for what they are, and are stored once."""

from __future__ import annotations

import pytest

from tests.web import samples
from web.evidence import DOCX, JPEG, PDF, PNG, XLSX, EvidenceError, blob_path, check, clean_filename, sniff, store


@pytest.mark.parametrize(("data", "kind"), [
    (samples.pdf(), PDF), (samples.png(), PNG), (samples.jpg(), JPEG), (samples.docx(), DOCX),
    (samples.xlsx(), XLSX),
])
def test_it_recognises_every_accepted_kind_by_its_bytes(data: bytes, kind) -> None:
    assert sniff(data) is kind


@pytest.mark.parametrize("data", [
    samples.exe(), b"<html><script>alert(1)</script>", samples.plain_zip(),
    samples.plain_zip(("[Content_Types].xml", "ppt/slides/slide1.xml")),  # a pptx is not accepted
    b"PK\x03\x04 truncated", b"GIF89a",
])
def test_it_refuses_anything_else(data: bytes) -> None:
    assert sniff(data) is None


def test_it_refuses_a_file_whose_name_lies_about_its_content() -> None:
    with pytest.raises(EvidenceError) as exc:
        check("现场照片.png", samples.pdf(), 1 << 20)
    assert exc.value.reason == "name_mismatch"
    with pytest.raises(EvidenceError) as exc:
        check("整改报告.pdf", samples.exe(), 1 << 20)
    assert exc.value.reason == "bad_type"
    assert check("照片.JPEG", samples.jpg(), 1 << 20) is JPEG


def test_it_refuses_empty_and_oversized_files() -> None:
    with pytest.raises(EvidenceError, match="too_large"):
        check("a.pdf", samples.pdf() + b"\0" * 100, 50)
    with pytest.raises(EvidenceError, match="empty"):
        check("a.pdf", b"", 50)


def test_it_stores_a_file_once_under_its_hash(tmp_path) -> None:
    a = store(tmp_path, samples.pdf())
    assert store(tmp_path, samples.pdf()) == a
    assert blob_path(tmp_path, a).read_bytes() == samples.pdf()
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [a]
    with pytest.raises(ValueError):
        blob_path(tmp_path, "../../etc/passwd")


@pytest.mark.parametrize(("given", "kept"), [
    ("C:\\Users\\张三\\整改报告.pdf", "整改报告.pdf"), ("../../etc/passwd", "passwd"),
    ('a"<b>\r\n.pdf', "a_b_.pdf"), ("", "file"), ("x" * 300 + ".pdf", "x" * 196 + ".pdf"),
])
def test_it_keeps_only_a_safe_base_name(given: str, kept: str) -> None:
    assert clean_filename(given) == kept
