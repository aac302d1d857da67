"""The per-unit status page for the command office (admins: every unit) and supervisors (their group).

Each unit carries its 蓝/黄/红 colour (its worst finding; `supervision.yellows_make_red` yellows make red),
over the findings the viewer may see; `colour=` filters and `sort=colour` puts the worst first.
"""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Request
from fastapi.responses import Response

from rectify.core.palette import COLOURS
from rectify.services.access import may_see_status
from rectify.services.calendar import cliff_warning
from rectify.services.colours import palette
from web.actions import Forbidden
from web.auth import now, signed_in
from web.pages import page
from web.queries import unit_status
from web.supervision import unit_colours

router = APIRouter(include_in_schema=False)

_WORST_FIRST = {c: i for i, c in enumerate((*COLOURS, None))}


@router.get("/status")
def status_page(request: Request) -> Response:
    rt = request.app.state.rt
    today = now(request).astimezone(rt.tz).date()
    colour = request.query_params.get("colour", "")
    colour = colour if colour in (*COLOURS, "none") else ""
    by_colour = request.query_params.get("sort", "") == "colour"
    with rt.sessions() as s:
        me = signed_in(request, s)
        if not may_see_status(me.viewer):
            raise Forbidden
        colours = unit_colours(s, me.viewer, palette(rt, today))
        rows = [replace(r, colour=colours.get(r.unit_id)) for r in unit_status(s, me.viewer, today)]
    counts = {c: sum(r.colour == c for r in rows) for c in COLOURS}
    totals = {
        "total": sum(r.total for r in rows),
        "counted": sum(r.counted for r in rows),
        "closed": sum(r.closed for r in rows),
        "overdue": sum(r.overdue for r in rows),
    }
    if colour:
        rows = [r for r in rows if (r.colour or "none") == colour]
    if by_colour:
        rows.sort(key=lambda r: _WORST_FIRST[r.colour])  # stable: the directory's order within a colour
    warning = cliff_warning(rt.calendar, today, rt.settings.calendar.warn_from) or ""
    return page("status.html", me, rows=rows, totals=totals, today=today, colour=colour, by_colour=by_colour,
                colour_counts=counts, colours=COLOURS, yellows_make_red=rt.settings.supervision.yellows_make_red,
                calendar_warning=warning)
