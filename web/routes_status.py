"""The per-unit status page for the command office (admins: every unit) and supervisors (their group)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from rectify.services.access import may_see_status
from web.actions import Forbidden
from web.auth import now, signed_in
from web.pages import page
from web.queries import unit_status

router = APIRouter(include_in_schema=False)


@router.get("/status")
def status_page(request: Request) -> Response:
    rt = request.app.state.rt
    today = now(request).astimezone(rt.tz).date()
    with rt.sessions() as s:
        me = signed_in(request, s)
        if not may_see_status(me.viewer):
            raise Forbidden
        rows = unit_status(s, me.viewer, today)
    totals = {
        "total": sum(r.total for r in rows),
        "counted": sum(r.counted for r in rows),
        "closed": sum(r.closed for r in rows),
        "overdue": sum(r.overdue for r in rows),
    }
    return page("status.html", me, rows=rows, totals=totals, today=today)
