"""The unit directory import on SQLite and PostgreSQL: created, updated in place, refused whole."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models import Person, Unit
from rectify.intake import ImportRejected, import_units
from tests.support import factory
from tests.support.intake import PREFIX, UNIT_HEAD, csv_file, dump, xlsx

# --- the unit directory ----------------------------------------------------------------------------

def test_it_imports_the_unit_directory_and_updates_it_in_place(session, tmp_path) -> None:
    rows = [UNIT_HEAD,
            ["鲁山县财政局", "财政局、县财政;财政\n预算办", "县直单位", "张三", "Zhang@Example.cn", "李四",
             "li@example.cn"],
            ["城关镇", "", "乡镇街道", "王五", "wang@example.cn", "赵六", "zhao@example.cn"],
            ["鲁山县教育体育局", "教体局", "", "", "", "", ""]]
    report = import_units(session, xlsx(tmp_path / "u.xlsx", rows), county_prefix=PREFIX)
    session.commit()
    assert (report.created, report.people["created"]) == (3, 4)
    u = {x.name: x for x in session.scalars(select(Unit))}
    assert u["鲁山县财政局"].aliases == ["县财政", "财政", "预算办"]  # the name itself is not an alias
    assert (u["城关镇"].kind, u["鲁山县财政局"].kind, u["鲁山县教育体育局"].kind) == ("township", "county", "county")
    assert [u[n].sort_order for n in ("鲁山县财政局", "城关镇", "鲁山县教育体育局")] == [1, 2, 3]
    zhang = session.scalar(select(Person).where(Person.name == "张三"))
    assert (zhang.email, zhang.role, zhang.unit_id) == ("zhang@example.cn", "unit_contact", u["鲁山县财政局"].id)

    before = dump(session)
    again = import_units(session, xlsx(tmp_path / "u.xlsx", rows), county_prefix=PREFIX)
    session.commit()
    assert (again.created, again.updated, again.unchanged, sum(again.people.values())) == (0, 0, 3, 0)
    assert dump(session) == before

    # Next year: new order, a new leader for 城关镇, 张三 changes address, a unit typed with its short name.
    rows2 = [UNIT_HEAD,
             ["城关镇", "城关", "乡镇街道", "王五", "wang@example.cn", "孙七", "sun@example.cn"],
             ["财政局", "", "", "张三", "zhang3@example.cn", "李四", "li@example.cn"],
             ["鲁山县人社局", "人社局", "县直单位", "钱八", "qian@example.cn", "周九", "zhou@example.cn"]]
    third = import_units(session, csv_file(tmp_path / "u2.csv", rows2, "gbk"), county_prefix=PREFIX)
    session.commit()
    assert (third.created, third.updated) == (1, 2)
    assert session.scalar(select(func.count()).select_from(Unit)) == 4  # never duplicated
    u = {x.name: x for x in session.scalars(select(Unit))}
    assert "鲁山县财政局" not in u and u["财政局"].aliases == [] and u["财政局"].sort_order == 2
    assert u["城关镇"].aliases == ["城关"] and u["城关镇"].sort_order == 1
    people = {p.email: p for p in session.scalars(select(Person))}
    assert people["zhao@example.cn"].active is False  # the old leader
    assert people["sun@example.cn"].role == "unit_leader" and people["sun@example.cn"].active
    assert "zhang@example.cn" not in people and people["zhang3@example.cn"].name == "张三"  # same person, new address
    assert session.scalar(select(func.count()).select_from(Person).where(Person.active)) == 6


def test_it_refuses_a_bad_unit_directory_and_writes_nothing(session, tmp_path) -> None:
    factory.group(session, "第一督导组", members=0)
    session.add(Person(name="督导员", email="sup@example.cn", role="supervisor"))
    session.commit()
    before = dump(session)
    rows = [["单位名录"], UNIT_HEAD,
            ["财政局", "", "县直单位", "张三", "zhang@", "李四", "li@example.cn"],
            ["城关镇", "", "乡镇", "王五", "wang@example.cn", "王五", "wang@example.cn"],
            ["", "简称", "", "", "", "", ""],
            ["鲁山县财政局", "", "", "", "", "", ""],
            ["教体局", "", "事业单位", "", "", "李四", "LI@example.cn"],
            ["人社局", "", "", "钱八", "", "", "sup@example.cn"],
            ["住建局", "城关镇", "", "", "", "", ""]]
    with pytest.raises(ImportRejected) as caught:
        import_units(session, xlsx(tmp_path / "u.xlsx", rows), county_prefix=PREFIX)
    session.rollback()
    assert dump(session) == before
    got = [(e.row, e.column, e.code) for e in caught.value.errors]
    assert got == [
        (3, "联系人邮箱", "bad_email"),
        (4, "负责人邮箱", "same_email"),
        (5, "单位名称", "required"),
        (6, "单位名称", "duplicate_unit"),
        (7, "类型", "bad_kind"),
        (7, "负责人邮箱", "email_twice"),
        (8, "联系人邮箱", "missing_email"),
        (8, "主要负责人", "missing_name"),
        (9, "简称/别名", "name_clash"),
    ]
