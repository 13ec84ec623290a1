"""The overview map: builder tests (no browser, no database) and the served page's assets."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

import folium
from folium.plugins import MarkerCluster

from gis.datum import wgs84_to_gcj02
from gis.settings import BaseMapSpec
from maps.assets import UnknownAsset, asset_path, localize
from maps.city import build_city_map
from maps.layers import ApiGeoJson, FitBeside, TileDatum, ViewHeat

BOUNDS = (113.8, 22.9, 114.0, 23.0)
URL_ATTR = re.compile(r'(?:src|href)\s*=\s*["\']([^"\']+)["\']')


def children(m: folium.Map) -> list:
    return list(m._children.values())


def test_builder_adds_outlines_grids_centers_and_heat() -> None:
    m = build_city_map(title="示例市", bounds=BOUNDS)
    layers = {c.layer_name: c for c in children(m) if isinstance(c, ApiGeoJson)}
    assert set(layers) == {"网格", "乡镇（街道）界", "区县界", "综治中心", "村（社区）综治服务站"}
    assert layers["村（社区）综治服务站"].min_zoom == 13  # 300+ stations only when zoomed in
    assert layers["网格"].url == "/api/grids"
    assert layers["区县界"].url == "/api/regions?level=district"
    assert ["households", "户数"] in layers["网格"].fields
    # the heat of the view, loaded as the map moves (finer cells as it zooms in), with no zoom
    # range of its own: Leaflet would grey out its switch in the layer control beyond one
    heat = [c for c in children(m) if isinstance(c, ViewHeat)]
    assert len(heat) == 1 and heat[0].url == "/api/heat?days=180"
    assert heat[0].layer_name == "案件热力（近 180 天）"  # (the period it counts)
    assert any(isinstance(c, folium.LayerControl) for c in children(m))


def test_no_tile_url_means_no_base_layer() -> None:
    m = build_city_map(title="示例市", bounds=BOUNDS)
    assert not any(isinstance(c, (folium.TileLayer, TileDatum)) for c in children(m))


def test_configured_tiles_are_added_with_their_subdomains_and_datum() -> None:
    base = BaseMapSpec("https://tiles.example.invalid/{z}/{x}/{y}.png", "内网底图")
    m = build_city_map(title="示例市", bounds=BOUNDS, base=base)
    tiles = [c for c in children(m) if isinstance(c, folium.TileLayer)]
    assert len(tiles) == 1 and tiles[0].tiles == base.url
    assert not any(isinstance(c, TileDatum) for c in children(m))  # WGS 84: nothing to shift
    # Tianditu's servers are t0…t7 (not Leaflet's a, b, c); Amap's tiles are GCJ-02
    amap = BaseMapSpec("https://t{s}.example.cn/{z}/{x}/{y}.png", "高德", "gcj02", "1234")
    m = build_city_map(title="示例市", bounds=BOUNDS, base=amap)
    tiles = [c for c in children(m) if isinstance(c, folium.TileLayer)]
    assert tiles[0].options["subdomains"] == "1234"
    datum = [c for c in children(m) if isinstance(c, TileDatum)]
    assert len(datum) == 1 and datum[0].datum == "gcj02"
    # the view opens where the tiles show the region (GCJ-02: some 600 m east and south here)
    fit = next(c for c in children(m) if isinstance(c, FitBeside))
    (south, west), _ = fit.bounds
    x, y = wgs84_to_gcj02(BOUNDS[0], BOUNDS[1])
    assert (west, south) == (float(x), float(y)) and west - BOUNDS[0] > 0.005
    html = m.get_root().render()
    # set before the first layer asks for its data, and the view fitted before it asks too (not
    # the map's starting view: the whole city's grids), and after the title box it keeps clear
    first = html.index("wangge.apiLayer(")
    assert html.index('wangge.setTileDatum("gcj02")') < first
    assert html.index("wg-title") < html.index("map.fitBounds(") < first


def test_rendered_page_references_only_local_assets_that_exist() -> None:
    html = build_city_map(title="示例市", bounds=BOUNDS).get_root().render()
    urls = URL_ATTR.findall(html)
    assert urls, "the page loads Leaflet from somewhere"
    for url in urls:
        assert not re.match(r"^(https?:)?//", url), f"external reference {url}"
        path = asset_path(url)
        assert path is not None and path.is_file(), f"{url} is not installed (npm ci)"
    assert "leaflet.js" in html and "leaflet-heat.js" in html


def test_unknown_plugin_asset_is_refused_not_fetched_from_a_cdn() -> None:
    m = folium.Map(tiles=None)
    MarkerCluster().add_to(m)
    with pytest.raises(UnknownAsset, match=r"package\.json"):
        localize(m.get_root())


def test_served_page_and_its_assets(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "示例市" in html and "<title>示例市 · 综治网格地图</title>" in html
    assert "cdn" not in html.lower()
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", html)
    for url in URL_ATTR.findall(html):
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100
