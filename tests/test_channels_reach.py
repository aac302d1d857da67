"""Whom the IM/SMS rows can reach (rectify.channels.enqueue.reach_of): the same people whether the day's
letters name a few (read by their ids) or most of the directory (one read of everyone reachable)."""

from __future__ import annotations

from models import Person
from rectify.channels import enqueue


def _directory(session) -> dict[str, int]:
    rows = [Person(name="李丽", email="li@unit.example", role="unit_contact", mobile="13800138000",
                   wecom_userid="lili"),
            Person(name="张伟", email="zhang@unit.example", role="unit_leader", dingtalk_userid="zw01"),
            Person(name="王芳", email="wang@unit.example", role="unit_contact"),  # mail only
            Person(name="赵强", email="zhao@unit.example", role="unit_contact", mobile="13900139000",
                   active=False)]  # left: never reached
    session.add_all(rows)
    session.commit()
    return {p.email: p.id for p in rows}


def test_it_reads_the_same_people_by_their_ids_and_by_one_read_of_everyone(rt, session) -> None:
    ids = _directory(session)
    expected = {ids["li@unit.example"]: ("13800138000", "lili", None),
                ids["zhang@unit.example"]: (None, None, "zw01")}
    few = sorted(ids.values())
    assert len(few) < enqueue.SCAN_FROM
    assert enqueue._reach(rt, few) == expected
    # A day whose letters name more people than SCAN_FROM (ids of people not in the directory among them):
    many = few + list(range(10**6, 10**6 + enqueue.SCAN_FROM))
    assert enqueue._reach(rt, many) == expected


def test_it_leaves_out_people_the_letters_do_not_name(rt, session) -> None:
    ids = _directory(session)
    only_li = [ids["li@unit.example"]]
    assert enqueue._reach(rt, only_li) == {ids["li@unit.example"]: ("13800138000", "lili", None)}
    many = only_li + list(range(10**6, 10**6 + enqueue.SCAN_FROM))
    assert enqueue._reach(rt, many) == {ids["li@unit.example"]: ("13800138000", "lili", None)}
