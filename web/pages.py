"""Rendering helpers: every page is a template under templates/web/ through the shared environment."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from rectify.templating import render
from web.auth import Me


def page(name: str, me: Me | None, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A full page; `me` drives the navigation and the sign-out form's CSRF token."""
    return HTMLResponse(render(f"web/{name}", me=me, **context), status_code=status)


def error_page(request: Request, kind: str, status: int, **context: Any) -> HTMLResponse:
    """One page for every refusal; `kind` picks the wording in templates/web/error.html."""
    return page("error.html", None, status=status, kind=kind, **context)
