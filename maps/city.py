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


def build_city_map(
    *,
    title: str,
    bounds: tuple[float, float, float, float] | None,
    heat: list[tuple[float, float, int]],
    base: BaseMap | None = None,
    subtitle: str = "",
    m: folium.Map | None = None,
) -> folium.Map:
    """The overview map.

    ``bounds`` is (west, south, east, north) in WGS 84 degrees; ``heat`` is ``(lat, lon, count)``
    bins.  folium takes (lat, lon) pairs where shapely has (lon, lat).
    """
    if m is None:
        figure = Figure(title=title)
        m = folium.Map(location=(23.0, 113.9), zoom_start=10, tiles=None, prefer_canvas=True)
        figure.add_child(m)
        figure.header.add_child(
            Element(
                '<meta name="viewport" content="width=device-width, initial-scale=1">'
                f'<link rel="icon" type="image/svg+xml" href="{asset_url("favicon.svg")}">'
            )
        )
    if base is not None and base.url:
        folium.TileLayer(
            base.url, attr=base.attribution or "底图", name="底图", overlay=False
        ).add_to(m)
    if bounds is not None:
        west, south, east, north = bounds
        m.fit_bounds([(south, west), (north, east)])

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
        peak = max(n for _, _, n in heat)
        HeatMap(
            [[lat, lon, n / peak] for lat, lon, n in heat],
            name="案件热力",
            radius=14,
            blur=18,
            min_opacity=0.3,
            max_zoom=14,
        ).add_to(m)
    ApiGeoJson(
        "/api/centers",
        "综治中心",
        marker={
            "radius": 6,
            "color": "#7b241c",
            "weight": 2,
            "fillColor": "#f5b041",
            "fillOpacity": 0.9,
        },
        fields=[
            ("name", "综治中心"),
            ("level_name", "级别"),
            ("phone", "电话"),
            ("address", "地址"),
        ],
    ).add_to(m)
    TitleBox(title, subtitle).add_to(m)
    MetricScale().add_to(m)
    Fullscreen(title="全屏", title_cancel="退出全屏").add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    localize(m.get_root())
    return m
