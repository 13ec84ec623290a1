"""The city overview map served at ``/``: outlines, grids, centers and a heatmap of cases.

A pure builder: data in, :class:`folium.Map` out; it never queries the database.  Outlines, grids,
centers and the heatmap are loaded by the page from the API for the current view (the heatmap as
server-side bins: a few thousand weighted cells whatever the number of cases, finer as the map
zooms in).
"""

from __future__ import annotations

import re
from html import escape

import folium
from branca.element import Element, Figure
from folium.plugins import Fullscreen
from folium.utilities import JsCode

from gis.settings import BaseMapSpec
from maps.assets import asset_url, localize
from maps.layers import (
    PHONE_SCREEN,
    ApiGeoJson,
    FitBeside,
    MetricScale,
    PlaceSearch,
    TileDatum,
    TitleBox,
    ViewHeat,
)

LEVEL_COLORS = {
    "city": "#7b241c",
    "district": "#c0392b",
    "township": "#8e44ad",
    "village": "#2874a6",
}


#: how many days of cases the overview's heatmap counts
HEAT_DAYS = 180


#: the words of the map pages drawn in Python (layers, popups' fields, controls)
MAP_WORDS = {
    "zh": {
        "base": "底图",
        "logout": "退出登录",
        "place_search": "查找村/社区、街道、网格",
        "place_none": "没有找到：请换个说法，或输入区划、网格代码",
        "place_offline": "没有网络，暂时不能查找地名",
        "fullscreen": "全屏",
        "fullscreen_off": "退出全屏",
        "grids": "网格",
        "grid_code": "网格编码",
        "grid": "网格",
        "village": "村/社区",
        "households": "户数",
        "population": "人口",
        "workers": "网格员",
        "townships": "乡镇（街道）界",
        "township": "乡镇（街道）",
        "code": "编码",
        "districts": "区县界",
        "district": "区县",
        "heat_days": "案件热力（近 {days} 天）",
        "name": "名称",
        "level": "级别",
        "phone": "电话",
        "address": "地址",
        "stations": "村（社区）综治服务站",
        "centers": "综治中心",
    },
    "en": {
        "base": "Base map",
        "logout": "Log out",
        "place_search": "Find a village, township or grid",
        "place_none": "Nothing found: try other words, or a region or grid code",
        "place_offline": "No network: places cannot be searched now",
        "fullscreen": "Full screen",
        "fullscreen_off": "Leave full screen",
        "grids": "Grids",
        "grid_code": "Grid code",
        "grid": "Grid",
        "village": "Village/community",
        "households": "Households",
        "population": "Population",
        "workers": "Grid workers",
        "townships": "Township outlines",
        "township": "Township",
        "code": "Code",
        "districts": "District outlines",
        "district": "District",
        "heat_days": "Case heat (last {days} days)",
        "name": "Name",
        "level": "Level",
        "phone": "Phone",
        "address": "Address",
        "stations": "Village service stations",
        "centers": "Governance centers",
    },
}


def map_words(lang: str) -> dict[str, str]:
    return MAP_WORDS["en" if lang == "en" else "zh"]


#: folium's own viewport, which forbids zooming the page: a reader with poor sight could not
#: enlarge the panels' words (WCAG 1.4.4).  The map itself takes pinches either way (Leaflet
#: holds the touches on it); the page keeps :func:`page_map`'s viewport
_NO_ZOOM = re.compile(
    r'<meta name="viewport" content="width=device-width,\s*initial-scale=1\.0, '
    r'maximum-scale=1\.0, user-scalable=no" />\s*'
)


def render_page(m: folium.Map, lang: str = "zh") -> str:
    """The page of map ``m`` as HTML, its ``<html>`` tagged with the page's language, and the
    map (with its panels: Leaflet's controls are inside it) the page's main landmark, named by
    the page's title — a screen reader's "main" lands on it, and nothing is outside a
    landmark."""
    root = m.get_root()
    html = _NO_ZOOM.sub("", root.render(), count=1)
    name = getattr(root, "title", None) or ""  # (escaped by page_map)
    html = html.replace(
        f'<div class="folium-map" id="{m.get_name()}" ',
        f'<div class="folium-map" id="{m.get_name()}" role="main" aria-label="{name}" ',
        1,
    )
    return html.replace("<html>", f'<html lang="{"en" if lang == "en" else "zh-CN"}">', 1)


#: the steps a page map's view is fitted and zoomed in (see :func:`page_map`)
ZOOM_SNAP = 0.25


def page_map(title: str) -> folium.Map:
    """An empty full-page map (no tiles) in a page titled ``title``, with viewport and icon."""
    # folium writes the title into the page as it is: a region's or a worker's name, from an
    # imported file, would be the page's HTML (a script in a name: run, with the page's hash)
    figure = Figure(title=escape(title, quote=True))
    m = folium.Map(
        location=(23.0, 113.9), zoom_start=10, tiles=None, prefer_canvas=True, font_size="14px"
    )
    # the view fitted in quarter steps, not whole zoom levels: a whole level can leave a city at
    # little more than half the size the screen allows (a command center's 1920 × 1080 wall
    # showed the demo city's outline 670 px tall, now 800 below the title box).  The buttons still
    # zoom by whole levels; /api/heat is asked at the nearest one
    m.options["zoomSnap"] = ZOOM_SNAP
    figure.add_child(m)
    figure.header.add_child(
        Element(
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" type="image/svg+xml" href="{asset_url("favicon.svg")}">'
        )
    )
    return m


def add_base_map(m: folium.Map, base: BaseMapSpec | None, lang: str = "zh") -> None:
    """The base tiles of ``base`` (none without a URL: a plain background, fully offline), with
    their subdomains, and their datum for the page's scripts (:class:`TileDatum`).  Add it first:
    the layers added after it are drawn in the tiles' datum."""
    if base is None or not base.url:
        return
    w = map_words(lang)
    folium.TileLayer(
        base.url,
        attr=base.attribution or w["base"],
        name=w["base"],
        overlay=False,
        subdomains=base.subdomains,
    ).add_to(m)
    if base.datum != "wgs84":
        TileDatum(base.datum).add_to(m)


def fit_view(
    m: folium.Map, bounds: tuple[float, float, float, float], base: BaseMapSpec | None = None
) -> None:
    """Open ``m`` on ``bounds`` (west, south, east, north; WGS 84) at once, without the zoom
    animation from the map's starting view: while Leaflet animates, ``getBounds()`` still answers
    the starting view, so layers that load for the current view (grids, heat, cases) would first
    fetch the whole city's data, and clicks and drawing land on a map in motion.  Over the GCJ-02
    tiles of ``base`` the view is where the tiles show those bounds (hundreds of metres away).
    The title box is kept clear (:class:`~maps.layers.FitBeside`): add it first (a desk's
    1366 × 768 screen showed the city's north-west under it)."""
    west, south, east, north = bounds
    if base is not None and base.url and base.datum == "gcj02":
        from gis.datum import wgs84_to_gcj02

        west, south = (float(v) for v in wgs84_to_gcj02(west, south))
        east, north = (float(v) for v in wgs84_to_gcj02(east, north))
    FitBeside([[south, west], [north, east]]).add_to(m)


def build_city_map(
    *,
    title: str,
    bounds: tuple[float, float, float, float] | None,
    base: BaseMapSpec | None = None,
    subtitle: str = "",
    user: str | None = None,
    links: list[tuple[str, str]] | None = None,
    m: folium.Map | None = None,
    lang: str = "zh",
) -> folium.Map:
    """The overview map.

    ``bounds`` is (west, south, east, north) in WGS 84 degrees (folium takes (lat, lon) pairs
    where shapely has (lon, lat)); the heatmap counts the last :data:`HEAT_DAYS` days.  Its words
    in ``lang``.
    """
    w = map_words(lang)
    if m is None:
        m = page_map(title)
    add_base_map(m, base, lang)
    TitleBox(title, subtitle, user=user, links=links, logout=w["logout"]).add_to(m)
    if bounds is not None:
        fit_view(m, bounds, base)

    ApiGeoJson(
        "/api/grids",
        w["grids"],
        style={"color": "#2874a6", "weight": 1, "fillOpacity": 0.03},
        fields=[
            ("code", w["grid_code"]),
            ("name", w["grid"]),
            ("village_name", w["village"]),
            ("households", w["households"]),
            ("population", w["population"]),
            ("workers", w["workers"]),
        ],
    ).add_to(m)
    ApiGeoJson(
        "/api/regions?level=township",
        w["townships"],
        style={"color": LEVEL_COLORS["township"], "weight": 2, "dashArray": "6 4", "fill": False},
        fields=[("name", w["township"]), ("code", w["code"])],
    ).add_to(m)
    ApiGeoJson(
        "/api/regions?level=district",
        w["districts"],
        style={"color": LEVEL_COLORS["district"], "weight": 3, "fill": False},
        fields=[("name", w["district"]), ("code", w["code"])],
    ).add_to(m)
    ViewHeat(w["heat_days"].format(days=HEAT_DAYS), days=HEAT_DAYS).add_to(m)
    center_fields = [
        ("name", w["name"]),
        ("level_name", w["level"]),
        ("phone", w["phone"]),
        ("address", w["address"]),
    ]
    ApiGeoJson(
        "/api/centers?level=village",
        w["stations"],
        marker={
            "radius": 4,
            "color": "#1f618d",
            "weight": 1,
            "fillColor": "#aed6f1",
            "fillOpacity": 0.9,
        },
        fields=center_fields,
        min_zoom=13,
    ).add_to(m)
    ApiGeoJson(
        "/api/centers?level=city&level=district&level=township",
        w["centers"],
        marker={
            "radius": 7,
            "color": "#7b241c",
            "weight": 2,
            "fillColor": "#f5b041",
            "fillOpacity": 0.95,
        },
        fields=center_fields,
    ).add_to(m)
    PlaceSearch(w, lang).add_to(m)
    MetricScale().add_to(m)
    Fullscreen(title=w["fullscreen"], title_cancel=w["fullscreen_off"]).add_to(m)
    # the list of layers stands open on a desk's screen; on a phone's it covered a third of the map
    # and folds into its button there (a tap opens it)
    # (folium writes a JsCode option as code, though its types say JSON values only)
    phone = JsCode(f"window.matchMedia({PHONE_SCREEN!r}).matches")
    folium.LayerControl(collapsed=phone).add_to(m)  # type: ignore[arg-type]
    localize(m.get_root())
    return m
