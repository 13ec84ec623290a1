"""Half a character in a JSON body: an unpaired UTF-16 surrogate, taken as U+FFFD (�).

A JSON string may hold a surrogate on its own, escaped (``"\\ud83d"``): half an emoji, cut off by
a client that counts text in UTF-16 units (a description shortened to fit, an app's own
truncation).  It is no character and cannot be written as UTF-8: the database could not store
it, and an answer that quoted it could not be sent — a phone's batch with one such report
failed whole (500) and again at every sync, its other reports never answered.  pydantic's own
JSON reader (the single report) refused the whole body as "not valid JSON".

A browser that encodes such a string as UTF-8 (``TextEncoder``, a form) writes U+FFFD in its
place.  :class:`MendSurrogates` does the same to a JSON body before the app reads it, escaped or
raw (the bytes ``ED A0``–``ED BF`` …, which are no UTF-8): the report is taken in with the rest
of its words, the place of the lost half marked.  Pairs (a whole emoji escaped, as Python's
``json.dumps`` and many clients write one) and everything else stay byte for byte as sent.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# does the body hold anything to mend (a surrogate escaped, or one encoded raw)?
_SUSPECT = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
# every escape, left to right (so that ``\\`` then ``ud83d`` is text, not an escape), a pair of
# surrogates whole; and a surrogate encoded raw
_ESCAPE = re.compile(
    rb"\\(?:u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|(u[dD][89a-fA-F][0-9a-fA-F]{2})|.)"
    rb"|(\xed[\xa0-\xbf][\x80-\xbf])",
    re.DOTALL,
)


def _mended(match: re.Match[bytes]) -> bytes:
    if match[1]:  # escaped, unpaired
        return b"\\ufffd"
    if match[2]:  # raw
        return "\ufffd".encode()
    return match[0]


def mend(body: bytes) -> bytes:
    """``body`` (JSON) with each unpaired surrogate U+FFFD; the same object if there is none."""
    if _SUSPECT.search(body) is None:
        return body
    return _ESCAPE.sub(_mended, body)


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers") or ():
        if name == b"content-type":
            kind = value.split(b";", 1)[0].strip().lower()
            return kind == b"application/json" or kind.endswith(b"+json")
    return True  # (FastAPI reads a body without a type as JSON)


class MendSurrogates:
    """ASGI middleware: a JSON request's body read whole and mended (:func:`mend`) before the
    app reads it; other bodies pass as they come.  (Its size is limited before: api.limits.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD") or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        read = False

        async def mended() -> Message:
            nonlocal read
            if read:  # (the body was given whole: what follows is the client's leaving)
                return await receive()
            message = await receive()
            if message["type"] != "http.request":
                return message
            parts = [message.get("body", b"")]
            while message.get("more_body", False):
                message = await receive()
                if message["type"] != "http.request":
                    return message
                parts.append(message.get("body", b""))
            read = True
            body = parts[0] if len(parts) == 1 else b"".join(parts)
            return {"type": "http.request", "body": mend(body), "more_body": False}

        await self.app(scope, mended, send)
