"""A units import keeps someone removed with `people deactivate` inactive, and says so (issue 13.9)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from models import Person
from rectify.intake import import_units
from rectify.services.people import add_person, deactivate
from rectify.templating import render
from tests.support.intake import PREFIX, UNIT_HEAD, xlsx

NOW = datetime(2024, 1, 20, 1, 0, tzinfo=UTC)
ROWS = [UNIT_HEAD, ["城关镇", "", "乡镇街道", "王五", "wang@example.cn", "赵六", "zhao@example.cn"]]


def test_it_keeps_a_deactivated_contact_inactive_on_reimport(session, tmp_path) -> None:
    import_units(session, xlsx(tmp_path / "u.xlsx", ROWS), county_prefix=PREFIX)
    deactivate(session, "wang@example.cn", NOW)
    session.commit()
    again = import_units(session, xlsx(tmp_path / "u.xlsx", ROWS), county_prefix=PREFIX)
    session.commit()
    wang = session.scalar(select(Person).where(Person.email == "wang@example.cn"))
    assert wang.active is False and again.kept_inactive == ["wang@example.cn"]
    assert "已停用人员未恢复" in render("intake/units_summary.txt", report=again)
    add_person(session, name="王五", email="wang@example.cn", role="unit_contact", unit="城关镇")  # on purpose
    third = import_units(session, xlsx(tmp_path / "u.xlsx", ROWS), county_prefix=PREFIX)
    assert wang.active is True and third.kept_inactive == []
