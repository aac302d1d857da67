"""Evidence through the report form: accepted by content, refused when oversized or mislabelled (and
then nothing is changed and the typed text is kept), downloadable only by those who see the finding."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from models import Event, Evidence, Finding
from tests.web import samples
from tests.web.helpers import client, form_tokens


def _report(c, fid: int, files: list[tuple[str, bytes, str]], measures: str = "已整改", progress: str = "已完成"):
    csrf, version = form_tokens(c, fid)
    return c.post(f"/findings/{fid}/report",
                  data={"csrf_token": csrf, "version": str(version), "measures": measures, "progress": progress},
                  files=[("files", f) for f in files])


def _unchanged(rt, fid: int) -> bool:
    with rt.sessions() as s:
        f = s.get(Finding, fid)
        return (f.state == "open" and not s.scalars(select(Evidence)).all()
                and not s.scalars(select(Event)).all())


def test_it_accepts_every_allowed_kind_and_stores_it_by_hash(app, rt, world) -> None:
    files = [("整改报告.pdf", samples.pdf(), "application/pdf"), ("现场照片.png", samples.png(), "image/png"),
             ("照片.jpg", samples.jpg(), "image/jpeg"), ("说明.docx", samples.docx(), "application/octet-stream"),
             ("台账.xlsx", samples.xlsx(), "text/plain")]  # the browser's content type is not trusted
    r = _report(client(app, world.contact_a), world.open_a, files)
    assert r.status_code == 303 and r.headers["location"] == f"/findings/{world.open_a}?done=report"
    with rt.sessions() as s:
        rows = s.scalars(select(Evidence).order_by(Evidence.id)).all()
        kinds = [e.kind for e in s.scalars(select(Event).where(Event.finding_id == world.open_a).order_by(Event.id))]
    assert [e.filename for e in rows] == [f[0] for f in files]
    assert [e.content_type for e in rows] == [
        "application/pdf", "image/png", "image/jpeg",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"]
    for e, (_, data, _) in zip(rows, files, strict=True):
        assert e.sha256 == hashlib.sha256(data).hexdigest() and e.size == len(data)
        assert (rt.settings.evidence_path / e.sha256[:2] / e.sha256).read_bytes() == data
        assert e.uploaded_by_id == world.contact_a
    assert kinds == ["report", "evidence"]


def test_it_refuses_mislabelled_and_disguised_files_and_changes_nothing(app, rt, world) -> None:
    c = client(app, world.contact_a)
    cases = [
        ("照片.png", samples.pdf(), 415, "内容与文件扩展名不符"),  # a PDF named .png
        ("报告.pdf", samples.exe(), 415, "不是允许的文件类型"),  # a program renamed .pdf
        ("页面.html", b"<script>alert(1)</script>", 415, "不是允许的文件类型"),
        ("压缩包.docx", samples.plain_zip(), 415, "不是允许的文件类型"),  # a zip that is no Word file
    ]
    for name, data, status, words in cases:
        r = _report(c, world.open_a, [("ok.pdf", samples.pdf(), "application/pdf"), (name, data, "image/png")],
                    measures="措施<保留>")
        assert r.status_code == status, name
        assert words in r.text and name in r.text
        assert "措施&lt;保留&gt;" in r.text and "请重新选择文件" in r.text  # what was typed is kept
        assert _unchanged(rt, world.open_a), name
    assert not rt.settings.evidence_path.exists()


def test_it_refuses_a_file_over_the_size_limit(app, rt, world) -> None:
    big = samples.pdf() + b"\0" * (21 * 1024 * 1024)  # 21 MiB, limit 20
    r = _report(client(app, world.contact_a), world.open_a, [("大文件.pdf", big, "application/pdf")])
    assert r.status_code == 413
    assert "超过 20 MB" in r.text
    assert _unchanged(rt, world.open_a)


def test_it_refuses_an_oversized_request_before_reading_it(app, rt, world) -> None:
    c = client(app, world.contact_a)
    c.get(f"/findings/{world.open_a}")
    r = c.post(f"/findings/{world.open_a}/report", content=b"x" * 10,
               headers={"content-type": "multipart/form-data; boundary=b", "content-length": str(300 * 1024 * 1024)})
    assert r.status_code == 413
    assert _unchanged(rt, world.open_a)


def test_it_serves_evidence_only_to_those_who_see_the_finding(app, rt, world) -> None:
    assert _report(client(app, world.contact_a), world.open_a,
                   [("报告&说明<b>.pdf", samples.pdf(), "application/pdf")]).status_code == 303
    with rt.sessions() as s:
        ev = s.scalars(select(Evidence)).one()
    page = client(app, world.sup_1).get(f"/findings/{world.open_a}").text
    assert f'href="/evidence/{ev.id}"' in page and "报告&amp;说明_b_.pdf" in page  # stored name cleaned, shown escaped
    for who in ("contact_a", "leader_a", "sup_1", "admin"):
        r = client(app, getattr(world, who)).get(f"/evidence/{ev.id}")
        assert r.status_code == 200, who
        assert r.content == samples.pdf()
        assert r.headers["content-type"] == "application/pdf"
        assert r.headers["content-disposition"].startswith("attachment;")
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["cache-control"] == "no-store"
    for who in ("contact_b", "sup_2"):
        assert client(app, getattr(world, who)).get(f"/evidence/{ev.id}").status_code == 403, who
    assert client(app).get(f"/evidence/{ev.id}").status_code == 303  # signed out: to the sign-in page
    assert client(app, world.sup_1).get("/evidence/99999").status_code == 404
