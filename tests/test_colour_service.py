"""Colours from the database in bulk (one query for refusals) on SQLite and PostgreSQL."""

from models import Unit
from rectify.services import colours
from rectify.services.practice import extension_refused
from tests.support.practice import AS_OF, seed_county


def test_it_finds_refused_extensions_in_one_query_as_the_single_check_does(session) -> None:
    f = seed_county(session)
    assert colours.refused_extension_ids(session) == {f["P-2"].id, f["P-3"].id}
    assert colours.refused_extension_ids(session, [f["P-1"].id, f["P-3"].id]) == {f["P-3"].id}
    assert all(extension_refused(session, x.id) == (x.id in {f["P-2"].id, f["P-3"].id}) for x in f.values())


def test_it_colours_unfinished_findings_and_units(session, rt) -> None:
    f = seed_county(session)
    got = colours.finding_colours(session, rt, AS_OF)
    assert got == {f["P-1"].id: None, f["P-2"].id: "yellow", f["P-3"].id: "yellow", f["P-5"].id: None}
    assert colours.finding_colours(session, rt, AS_OF, [f["P-3"].id, f["P-4"].id]) == {f["P-3"].id: "yellow"}
    names = {u.id: u.name for u in session.query(Unit)}
    assert {names[u]: c for u, c in colours.unit_colours(session, rt, AS_OF).items()} == {
        "县财政局": "red", "城关镇": None}
