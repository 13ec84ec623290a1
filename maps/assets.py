"""Local JS/CSS for every map: Leaflet and its plugins, installed from the npm registry into
``maps/static/node_modules`` at set-up and served by the app under ``/static/vendor``.

folium's elements name their assets with CDN URLs; :func:`localize` rewrites every one of them to
a local URL from :data:`ASSETS` and drops the ones wangge maps do not use.  An asset it does not
know is an error at build time, never a silent CDN reference.

Each URL :func:`asset_url` gives names the file's version (``?v=``, a checksum of its content):
the app lets a browser keep such a file for good (``Cache-Control: immutable``, see
:func:`cache_control`), and a page served after an upgrade asks for the new file by its new URL.
A browser never runs yesterday's script against today's page, and never asks again for what
it has.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs

from branca.element import Element

STATIC_DIR = Path(__file__).resolve().parent / "static"
VENDOR_DIR = STATIC_DIR / "node_modules"
OWN_DIR = STATIC_DIR / "wangge"
VENDOR_URL = "/static/vendor"
OWN_URL = "/static/wangge"

#: folium asset name → path under node_modules (npm package/file)
ASSETS: dict[str, str] = {
    "leaflet": "leaflet/dist/leaflet.js",
    "leaflet_css": "leaflet/dist/leaflet.css",
    "leaflet-heat.js": "leaflet.heat/dist/leaflet-heat.js",
    "Control.Fullscreen.js": "leaflet.fullscreen/Control.FullScreen.js",
    "Control.FullScreen.css": "leaflet.fullscreen/Control.FullScreen.css",
    "leaflet_draw_js": "leaflet-draw/dist/leaflet.draw.js",
    "leaflet_draw_css": "leaflet-draw/dist/leaflet.draw.css",
}
#: wangge's own assets → file under maps/static/wangge
OWN_ASSETS: dict[str, str] = {
    "wangge.js": "wangge.js",
    "wangge.css": "wangge.css",
    "favicon.svg": "favicon.svg",
    "login.js": "login.js",
    "receipt.js": "receipt.js",
    "phone.js": "phone.js",
    "phone.css": "phone.css",
    "case.js": "case.js",
    "track.js": "track.js",
    "command.js": "command.js",
    "planner.js": "planner.js",
    "users.js": "users.js",
    "staffing.js": "staffing.js",
    "account.js": "account.js",
    "places.js": "places.js",
    "imports.js": "imports.js",
    "queue.js": "queue.js",
    "session.js": "session.js",
}
#: folium defaults that wangge maps do not use (Bootstrap, jQuery, Font Awesome markers)
UNUSED = {
    "jquery",
    "bootstrap",
    "awesome_markers",
    "bootstrap_css",
    "glyphicons_css",
    "awesome_markers_font_css",
    "awesome_markers_css",
    "awesome_rotate_css",
}


class UnknownAsset(LookupError):
    """A map element asks for a JS/CSS asset that is not installed locally."""


#: the query parameter of an asset URL that names the file's version (:func:`asset_url`)
VERSION_PARAM = "v"
#: how long a browser keeps a file asked for by its current version: a year, never asking again
IMMUTABLE = "public, max-age=31536000, immutable"
#: any other static file (asked for without a version, or by an old one): kept, but asked
#: again each time (answered 304 Not Modified while unchanged).  Without it a browser guesses a
#: freshness from the file's age, and may run an old script for a day after an upgrade.
REVALIDATE = "no-cache"


def asset_url(name: str) -> str:
    """The local URL of a named asset, with its version (``?v=``: :func:`file_version`)."""
    if name in OWN_ASSETS:
        url = f"{OWN_URL}/{OWN_ASSETS[name]}"
    elif name in ASSETS:
        url = f"{VENDOR_URL}/{ASSETS[name]}"
    else:
        raise UnknownAsset(
            f"map asset {name!r} is not served locally: add its npm package to "
            "maps/static/package.json and its file to maps.assets.ASSETS"
        )
    version = file_version(asset_path(url))
    return url if version is None else f"{url}?{VERSION_PARAM}={version}"


def asset_path(url: str) -> Path | None:
    """The file behind a local asset URL (its query left out), or None if the URL is not one
    of ours."""
    url = url.partition("?")[0]
    if url.startswith(VENDOR_URL + "/"):
        return VENDOR_DIR / url[len(VENDOR_URL) + 1 :]
    if url.startswith(OWN_URL + "/"):
        return OWN_DIR / url[len(OWN_URL) + 1 :]
    return None


def file_version(path: Path | None) -> str | None:
    """A checksum of the file's content (12 hex digits), or None if there is no such file.
    Read again only when the file's time or size changed (an edit while the server runs)."""
    if path is None:
        return None
    try:
        stat = path.stat()
    except OSError:
        return None
    return _checksum(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=1024)
def _checksum(path: Path, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def cache_control(path: Path, query_string: str) -> str:
    """The ``Cache-Control`` of static file ``path`` asked for with ``query_string``:
    :data:`IMMUTABLE` when it names the file's current version, else :data:`REVALIDATE` (an
    old version's URL is answered with the current file, which must not be kept under it)."""
    asked = parse_qs(query_string).get(VERSION_PARAM)
    if asked and asked[-1] == file_version(path):
        return IMMUTABLE
    return REVALIDATE


def _walk(element: Element):  # type: ignore[no-untyped-def]
    yield element
    for child in element._children.values():
        yield from _walk(child)


def localize(root: Element) -> Element:
    """Point every JS/CSS asset of ``root`` and its descendants at local files."""
    for element in _walk(root):
        for attr in ("default_js", "default_css"):
            links = getattr(element, attr, None)
            if not links:
                continue
            setattr(
                element,
                attr,
                [(name, asset_url(name)) for name, _url in links if name not in UNUSED],
            )
    return root
