"""Rendering helpers: every page is a template under templates/web/ through the shared environment."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from rectify.templating import TEMPLATES, env, render
from web.auth import Me


def page(name: str, me: Me | None, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A full page; `me` drives the navigation and the sign-out form's CSRF token."""
    return HTMLResponse(render(f"web/{name}", me=me, **context), status_code=status)


def error_page(request: Request, kind: str, status: int, **context: Any) -> HTMLResponse:
    """One page for every refusal; `kind` picks the wording in templates/web/error.html."""
    return page("error.html", None, status=status, kind=kind, **context)



def warm_templates() -> None:
    """Compile every page template before the first request rather than inside it (they import only
    each other: web/_macros.html, web/base.html)."""
    e = env()
    for path in sorted((TEMPLATES / "web").glob("*.html")):
        e.get_template(f"web/{path.name}")
