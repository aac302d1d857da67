"""/docs without a CDN: the OpenAPI document rendered server-side (FastAPI's Swagger UI and ReDoc
pages load their scripts from a CDN, which an intranet cannot reach). /openapi.json stays the
machine-readable contract."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from rectify.templating import render
from web.auth import api_caller
from web.pages import page

router = APIRouter(include_in_schema=False)

API_DESCRIPTION = render("web/api_description.txt").strip()


def _schema_fields(spec: dict[str, Any], ref: str | None) -> list[dict[str, Any]]:
    """The top-level fields of a request/response model, for a readable table."""
    if not ref:
        return []
    schema = spec.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[-1], {})
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema.get("properties", {}).items():
        kind = prop.get("type") or " | ".join(
            p.get("type", p.get("$ref", "").rsplit("/", 1)[-1]) for p in prop.get("anyOf", [])) or "object"
        out.append({"name": name, "type": kind, "required": name in required,
                    "description": prop.get("description", "")})
    return out


def operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    ops = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            body_ref = (op.get("requestBody", {}).get("content", {}).get("application/json", {})
                        .get("schema", {}).get("$ref"))
            ok = op.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {})
            ops.append({
                "method": method.upper(),
                "path": path,
                "summary": op.get("summary", ""),
                "params": [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                            "type": p.get("schema", {}).get("type", "")} for p in op.get("parameters", [])],
                "body": _schema_fields(spec, body_ref),
                "body_name": body_ref.rsplit("/", 1)[-1] if body_ref else "",
                "returns": (ok.get("schema", {}).get("$ref", "") or "").rsplit("/", 1)[-1],
                "statuses": sorted(op.get("responses", {})),
            })
    return ops


def _may_read(request: Request) -> None:
    """The API's description is for signed-in people (issue 13.9) unless web.public_docs is set:
    a session cookie or a bearer token, as for the API itself."""
    rt = request.app.state.rt
    if rt.settings.web.public_docs:
        return
    with rt.sessions() as s:
        api_caller(request, s)


@router.get("/openapi.json")
def openapi_json(request: Request) -> Response:
    _may_read(request)
    return JSONResponse(request.app.openapi())


@router.get("/docs")
def docs(request: Request) -> Response:
    _may_read(request)
    spec = request.app.openapi()
    models = {name: _schema_fields(spec, f"#/components/schemas/{name}")
              for name in ("FindingOut", "FindingSummary", "FindingPage", "EvidenceOut", "Problem")}
    return page("docs.html", None, spec=spec, ops=operations(spec), models=models)
