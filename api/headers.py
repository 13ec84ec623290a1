"""The security headers of every answer: what a browser may load for a page, and what it must
not do with the answer.

- ``Content-Security-Policy``: a page loads scripts, styles, fonts and data from the app
  itself only, and images from the app and the configured base map's tile servers
  (:func:`tile_sources`); no page can pull a script from a CDN.  No inline script runs, nor any
  ``on…=`` attribute or ``javascript:`` link, so a resident's words that slipped through
  escaping into a case page, the queue or a tracking page stay words; and were a script to run
  anyway, it could send nothing elsewhere (``connect-src 'self'``, no outside image).  The
  app's own pages load their scripts as files.  The maps folium draws and the API
  documentation write theirs inline: their answers name each of those scripts by its SHA-256
  (:func:`inline_scripts`, :func:`script_hash`; ``api.deps.map_page_response``), taken from the
  page as the app rendered it, and nothing else inline runs there either.  Inline styles stay
  allowed (Leaflet's and folium's markup uses them; a style cannot run code).  No other site may
  frame a page (``frame-ancestors 'none'``: clicks stolen under a decoy).
- ``X-Content-Type-Options: nosniff``: a photo is shown as the image it was stored as, never
  run as a script or read as a page.
- ``Referrer-Policy: strict-origin-when-cross-origin``: a tile server learns the app's address
  (OpenStreetMap's rules want it), never the page's path (a case code, a tracking token).
- ``X-Frame-Options: DENY``: ``frame-ancestors`` for older browsers.

HSTS is for the HTTPS proxy in front of the app to send, where one is configured.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gis.settings import BaseMapSpec


def tile_sources(base: BaseMapSpec) -> list[str]:
    """The origins of ``base``'s tiles (scheme, host and port), one for each subdomain its URL
    template names; none for no base map or one served by the app itself (a path)."""
    if not base.url:
        return []
    hosts = (
        [base.url.replace("{s}", s) for s in base.subdomains] if "{s}" in base.url else [base.url]
    )
    origins = []
    for url in hosts:
        parts = urlsplit(url)
        if parts.scheme and parts.netloc:
            origin = f"{parts.scheme}://{parts.netloc}"
            if origin not in origins:
                origins.append(origin)
    return origins


# an inline script: a <script> element without a src (its text as the browser hashes it)
_INLINE_SCRIPT = re.compile(
    r"<script(?![^>]*\ssrc\s*=)(?:\s[^>]*)?>(.*?)</script\s*>", re.DOTALL | re.IGNORECASE
)
# a script element's type that holds data, not code (the policy does not apply to it)
_DATA_SCRIPT = re.compile(r"""<script\s[^>]*type\s*=\s*["']?application/(ld\+)?json""", re.I)


def inline_scripts(html: str) -> list[str]:
    """The text of each inline script of ``html`` (data blocks, ``type="application/json"``,
    left out): what a page's policy must name by hash for them to run."""
    return [m.group(1) for m in _INLINE_SCRIPT.finditer(html) if not _DATA_SCRIPT.match(m.group(0))]


def script_hash(script: str) -> str:
    """The policy's source expression for one inline script: ``'sha256-…'`` of its text (UTF-8,
    line ends as an HTML parser leaves them)."""
    text = script.replace("\r\n", "\n").replace("\r", "\n")
    digest = hashlib.sha256(text.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def content_security_policy(base: BaseMapSpec, scripts: Iterable[str] = ()) -> str:
    """The ``Content-Security-Policy`` of an answer, for base map ``base``; ``scripts``: the
    page's own inline scripts, allowed by hash (none: scripts from the app's files only)."""
    images = " ".join(["'self'", "data:", "blob:", *tile_sources(base)])
    hashes = dict.fromkeys(script_hash(s) for s in scripts)  # each once, in page order
    return "; ".join(
        [
            "default-src 'self'",
            " ".join(["script-src 'self'", *hashes]),
            "style-src 'self' 'unsafe-inline'",
            f"img-src {images}",
            "connect-src 'self'",
            "worker-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class SecurityHeaders:
    """ASGI middleware: adds the headers above to every HTTP answer (those it has already are
    kept)."""

    def __init__(self, app: ASGIApp, base: BaseMapSpec) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", content_security_policy(base).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"strict-origin-when-cross-origin"),
            (b"x-frame-options", b"DENY"),
            # pages and answers hold residents' personal data and the cases: none is kept by a
            # browser (a desk's shared computer: not in its cache, nor shown again by Back after
            # the user logged out).  The app's files, photos and the command map's counts say
            # otherwise themselves; the phone page keeps what it needs offline in its own store.
            (b"cache-control", b"no-store"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                have = {name.lower() for name, _ in message.get("headers", ())}
                extra = [h for h in self.headers if h[0] not in have]
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
