"""The 驾驶舱: one page for the command office (every unit) and supervisors (their group), with SVG charts
made on the server and every figure linking to the filtered list behind it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from rectify.core.palette import COLOURS
from rectify.services.access import may_see_status
from rectify.templating import cn_date, labels
from web import cockpit, svg
from web.actions import Forbidden
from web.auth import now, signed_in
from web.pages import page

router = APIRouter(include_in_schema=False)

COLOUR_HEX = {"red": "#c00000", "yellow": "#d69e00", "blue": "#1f5fa8"}


def _rate_colour(rate: float) -> str:
    return "#c00000" if rate < 50 else "#d69e00" if rate < 80 else "#2e7d32"


def charts(c: cockpit.Cockpit) -> dict[str, object]:
    lab = labels()["cockpit"]
    groups = [svg.Bar(g.name or lab["no_group"], r := (100 * g.closed / g.counted if g.counted else 0.0),
                      f"{r:.1f}%", f"/findings?group={g.group_id}" if g.group_id else "", _rate_colour(r))
              for g in c.groups]
    ranking = [svg.Bar(r.unit, r.score, f"{r.score:.1f}", f"/findings?unit={r.unit_id}", _rate_colour(r.score))
               for r in c.assessment.ranking[:10]]
    trend = svg.line_chart(
        [svg.Series(lab["open"], "#1f5fa8", [w.open for w in c.trend]),
         svg.Series(lab["closed"], "#2e7d32", [w.closed_total for w in c.trend]),
         svg.Series(lab["overdue"], "#c00000", [w.overdue for w in c.trend])],
        [cn_date(w.week_start) for w in c.trend], title=lab["trend"].format(n=len(c.trend)))
    return {"groups": svg.bar_chart(groups, title=lab["by_group"]) if groups else None,
            "ranking": svg.bar_chart(ranking, title=lab["ranking"]) if ranking else None,
            "trend": trend}


@router.get("/cockpit")
def cockpit_page(request: Request) -> Response:
    rt = request.app.state.rt
    today = now(request).astimezone(rt.tz).date()
    with rt.sessions() as s:
        me = signed_in(request, s)
        if not may_see_status(me.viewer):
            raise Forbidden
        c = cockpit.build(s, rt, me.viewer, today)
    return page("cockpit.html", me, c=c, charts=charts(c), colours=COLOURS, colour_hex=COLOUR_HEX)
