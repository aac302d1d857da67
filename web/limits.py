"""Request body caps, enforced on the bytes as they stream in, whatever the headers say (issue 13.3).

A chunked POST has no Content-Length and a lying one proves nothing: the cap counts what arrives and
stops the request with 413 the moment it is passed, so nothing larger is ever spooled to disk.
Uploads (the report form) may carry web.max_upload_mib × MAX_FILES; every other request 1 MiB.
"""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MIB = 1024 * 1024
MAX_FILES = 10  # evidence files per report
SMALL_BODY = MIB
UPLOAD_PATH = re.compile(r"/findings/[0-9]{1,19}/report")


def body_cap(path: str, max_upload_mib: int) -> int:
    return max_upload_mib * MIB * MAX_FILES + MIB if UPLOAD_PATH.fullmatch(path) else SMALL_BODY


class BodyLimit:
    """Pure ASGI: counts request body bytes and raises 413 past the path's cap."""

    def __init__(self, app: ASGIApp, max_upload_mib: int) -> None:
        self.app, self.max_upload_mib = app, max_upload_mib

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = body_cap(scope["path"], self.max_upload_mib)
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        seen = 0

        # Raised from receive(), so inside the handler: after it checked who is asking (the body is only
        # read then), and through the app's 413 page.
        async def capped() -> Message:
            nonlocal seen
            if declared.isdigit() and int(declared) > cap:
                raise HTTPException(413)
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise HTTPException(413)
            return message

        await self.app(scope, capped, send)
