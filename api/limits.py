"""How large a request body the app reads: a request larger than its route may take is refused
(413) before it is read, not buffered whole in memory first.

Without a limit, anyone — before logging in, at ``/api/auth/login`` — could send a body of
gigabytes, and the app would hold it in memory to parse it.  Most routes take a few kilobytes;
:data:`DEFAULT_BYTES` leaves them room for a planner's largest geometry.  The routes that take
files or a device's whole queue take more (:data:`ROUTE_BYTES`): a report with its six photos,
a batch of 500 reports, a check-in batch with its tracks, an import's file (whose own, lower
limit then says so in its words).

A body that says its length (``Content-Length``) is judged before a byte of it is read; one
sent in chunks is counted as it is read, and refused once past the limit (unless the answer has
begun).  A proxy in front of the app may set a lower limit of its own.
"""

from __future__ import annotations

import json
import re

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import request_lang
from api.routers.imports import MAX_UPLOAD_MB
from gis import photos
from gis.patrols import MAX_BATCH as PATROL_MAX_BATCH
from gis.patrols import TRACK_MAX_POINTS

MB = 1024 * 1024
#: what any route may be sent
DEFAULT_BYTES = 16 * MB
#: routes that take more, by path
ROUTE_BYTES: tuple[tuple[re.Pattern[str], int], ...] = (
    # a report with its photos, or photos added to a case afterwards
    (
        re.compile(r"/api/reports|/api/cases/[^/]+/photos"),
        photos.MAX_PER_CASE * photos.MAX_BYTES + 4 * MB,
    ),
    (re.compile(r"/api/patrols/[^/]+/photos"), photos.MAX_PER_PATROL * photos.MAX_BYTES + 2 * MB),
    # 500 reports of 4,000 characters each, escaped as \uXXXX by a careless client
    (re.compile(r"/api/reports/batch"), 32 * MB),
    # 500 check-ins, each with a track of up to 2,000 points
    (re.compile(r"/api/patrols/batch"), PATROL_MAX_BATCH * TRACK_MAX_POINTS * 100 + 4 * MB),
    # (the import's own limit, lower, then says so in its words)
    (re.compile(r"/api/imports"), 2 * MAX_UPLOAD_MB * MB),
)


def limit_for(path: str) -> int:
    """The most bytes a request to ``path`` may carry."""
    for pattern, limit in ROUTE_BYTES:
        if pattern.fullmatch(path):
            return limit
    return DEFAULT_BYTES


class TooLarge(HTTPException):
    """A body found too large as it was read (sent in chunks, without its length): an HTTP
    error, so that the app's error handlers answer it (``api.errors``), in the caller's
    language, wherever the body was being read."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=too_large(limit, "zh"))
        self.limit = limit


def too_large(limit: int, lang: str) -> str:
    """What a caller is told of a body over ``limit`` bytes, in ``lang``."""
    mb = limit // MB
    if lang == "en":
        return (
            f"The request is too large: at most {mb} MB here. Send less (fewer or smaller "
            "photos), or in parts."
        )
    return f"请求内容过大：此处最多 {mb} MB。请减少内容（如照片少一些、小一些）或分次发送。"


class BodyLimit:
    """ASGI middleware: refuses (413) a request body larger than :func:`limit_for` its path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["path"])
        length = next((v for k, v in scope.get("headers") or () if k == b"content-length"), None)
        if length is not None and length.isdigit() and int(length) > limit:
            await _refuse(scope, send, limit)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise TooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except TooLarge:  # (raised where no handler answered it)
            if started:
                raise
            await _refuse(scope, send, limit)


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    """413 in the caller's language (:func:`api.deps.request_lang`)."""
    detail = too_large(limit, request_lang(Request(scope)))
    body = json.dumps({"detail": detail, "code": "too_large"}, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
