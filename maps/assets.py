"""Local JS/CSS for every map: Leaflet and its plugins, installed from the npm registry into
``maps/static/node_modules`` at set-up and served by the app under ``/static/vendor``.

folium's elements name their assets with CDN URLs; :func:`localize` rewrites every one of them to
a local URL from :data:`ASSETS` and drops the ones wangge maps do not use.  An asset it does not
know is an error at build time, never a silent CDN reference.
"""

from __future__ import annotations

from pathlib import Path

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


def asset_url(name: str) -> str:
    """The local URL of a named asset."""
    if name in OWN_ASSETS:
        return f"{OWN_URL}/{OWN_ASSETS[name]}"
    if name in ASSETS:
        return f"{VENDOR_URL}/{ASSETS[name]}"
    raise UnknownAsset(
        f"map asset {name!r} is not served locally: add its npm package to "
        "maps/static/package.json and its file to maps.assets.ASSETS"
    )


def asset_path(url: str) -> Path | None:
    """The file behind a local asset URL, or None if the URL is not one of ours."""
    if url.startswith(VENDOR_URL + "/"):
        return VENDOR_DIR / url[len(VENDOR_URL) + 1 :]
    if url.startswith(OWN_URL + "/"):
        return OWN_DIR / url[len(OWN_URL) + 1 :]
    return None


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
