"""The security headers of every answer: what a browser may load for a page, and what it must
not do with the answer.

- ``Content-Security-Policy``: a page loads scripts, styles, fonts and data from the app
  itself only, and images from the app and the configured base map's tile servers
  (:func:`tile_sources`).  Even a script slipped into a page (a resident's words wrongly
  escaped) can send nothing elsewhere (``connect-src 'self'``, no outside image), and no page can
  pull a script from a CDN.  Inline scripts and styles stay allowed: folium writes its maps as
  inline scripts.  No other site may frame a page (``frame-ancestors 'none'``: clicks stolen
  under a decoy).
- ``X-Content-Type-Options: nosniff``: a photo is shown as the image it was stored as, never
  run as a script or read as a page.
- ``Referrer-Policy: strict-origin-when-cross-origin``: a tile server learns the app's address
  (OpenStreetMap's rules want it), never the page's path (a case code, a tracking token).
- ``X-Frame-Options: DENY``: ``frame-ancestors`` for older browsers.

HSTS is for the HTTPS proxy in front of the app to send, where one is configured.
"""

from __future__ import annotations

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


def content_security_policy(base: BaseMapSpec) -> str:
    """The ``Content-Security-Policy`` of every answer, for base map ``base``."""
    images = " ".join(["'self'", "data:", "blob:", *tile_sources(base)])
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self' 'unsafe-inline'",
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
