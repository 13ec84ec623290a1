"""The city overview map served at ``/``: outlines, grids, centers and a heatmap of cases.

A pure builder: data in, :class:`folium.Map` out; it never queries the database.  Outlines, grids
and centers are loaded by the page from the API for the current view; the heatmap gets
server-side bins (a few thousand weighted cells whatever the number of cases).
"""

from __future__ import annotations

from dataclasses import dataclass

import folium
from branca.element import Element, Figure
from folium.plugins import Fullscreen, HeatMap

from maps.assets import asset_url, localize
from maps.layers import ApiGeoJson, MetricScale, TitleBox

LEVEL_COLORS = {
    "city": "#7b241c",
    "district": "#c0392b",
    "township": "#8e44ad",
    "village": "#2874a6",
}


@dataclass(frozen=True)
class BaseMap:
    """A base-map tile layer.  ``url`` None: no base map (plain background, fully offline)."""

    url: str | None = None
    attribution: str | None = None


def page_map(title: str) -> folium.Map:
    """An empty full-page map (no tiles) in a page titled ``title``, with viewport and icon."""
    figure = Figure(title=title)
    m = folium.Map(location=(23.0, 113.9), zoom_start=10, tiles=None, prefer_canvas=True)
    figure.add_child(m)
    figure.header.add_child(
        Element(
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" type="image/svg+xml" href="{asset_url("favicon.svg")}">'
        )
    )
    return m


def fit_view(m: folium.Map, bounds: tuple[float, float, float, float]) -> None:
    """Open ``m`` on ``bounds`` (west, south, east, north) at once, without the zoom animation
    from the map's starting view: while Leaflet animates, ``getBounds()`` still answers the
    starting view, so layers that load for the current view (grids, heat, cases) would first
    fetch the whole city's data, and clicks and drawing land on a map in motion."""
    west, south, east, north = bounds
    fit = folium.map.FitBounds([(south, west), (north, east)])
    fit.options["animate"] = False
    m.add_child(fit)


def heat_weights(heat: list[tuple[float, float, int]]) -> list[list[float]]:
    """``[lat, lon, weight]`` with weights in [0, 1] relative to the 98th-percentile bin.

    Normalising to the single busiest bin would make one market outshine the city; normalising to
    a high percentile lets every hotspot reach full colour while background stays faint.
    """
    counts = sorted(n for _, _, n in heat)
    ref = counts[min(len(counts) - 1, int(0.98 * len(counts)))]
    return [[lat, lon, round(min(1.0, n / ref), 3)] for lat, lon, n in heat]


def build_city_map(
    *,
    title: str,
    bounds: tuple[float, float, float, float] | None,
    heat: list[tuple[float, float, int]],
    base: BaseMap | None = None,
    subtitle: str = "",
    user: str | None = None,
    links: list[tuple[str, str]] | None = None,
    m: folium.Map | None = None,
) -> folium.Map:
    """The overview map.

    ``bounds`` is (west, south, east, north) in WGS 84 degrees; ``heat`` is ``(lat, lon, count)``
    bins.  folium takes (lat, lon) pairs where shapely has (lon, lat).
    """
    if m is None:
        m = page_map(title)
    if base is not None and base.url:
        folium.TileLayer(
            base.url, attr=base.attribution or "底图", name="底图", overlay=False
        ).add_to(m)
    if bounds is not None:
        fit_view(m, bounds)

    ApiGeoJson(
        "/api/grids",
        "网格",
        style={"color": "#2874a6", "weight": 1, "fillOpacity": 0.03},
        fields=[
            ("code", "网格编码"),
            ("name", "网格"),
            ("village_name", "村/社区"),
            ("households", "户数"),
            ("population", "人口"),
            ("workers", "网格员"),
        ],
    ).add_to(m)
    ApiGeoJson(
        "/api/regions?level=township",
        "乡镇（街道）界",
        style={"color": LEVEL_COLORS["township"], "weight": 2, "dashArray": "6 4", "fill": False},
        fields=[("name", "乡镇（街道）"), ("code", "编码")],
    ).add_to(m)
    ApiGeoJson(
        "/api/regions?level=district",
        "区县界",
        style={"color": LEVEL_COLORS["district"], "weight": 3, "fill": False},
        fields=[("name", "区县"), ("code", "编码")],
    ).add_to(m)
    if heat:
        HeatMap(
            heat_weights(heat), name="案件热力", radius=12, blur=15, min_opacity=0.25, max_zoom=12
        ).add_to(m)
    center_fields = [
        ("name", "名称"),
        ("level_name", "级别"),
        ("phone", "电话"),
        ("address", "地址"),
    ]
    ApiGeoJson(
        "/api/centers?level=village",
        "村（社区）综治服务站",
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
        "综治中心",
        marker={
            "radius": 7,
            "color": "#7b241c",
            "weight": 2,
            "fillColor": "#f5b041",
            "fillOpacity": 0.95,
        },
        fields=center_fields,
    ).add_to(m)
    TitleBox(title, subtitle, user=user, links=links).add_to(m)
    MetricScale().add_to(m)
    Fullscreen(title="全屏", title_cancel="退出全屏").add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    localize(m.get_root())
    return m
