"""The overview map: builder tests (no browser, no database) and the served page's assets."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

import folium
from folium.plugins import HeatMap, MarkerCluster

from maps.assets import UnknownAsset, asset_path, localize
from maps.city import BaseMap, build_city_map
from maps.layers import ApiGeoJson

BOUNDS = (113.8, 22.9, 114.0, 23.0)
HEAT = [(22.95, 113.9, 10), (22.96, 113.91, 3)]
URL_ATTR = re.compile(r'(?:src|href)\s*=\s*["\']([^"\']+)["\']')


def children(m: folium.Map) -> list:
    return list(m._children.values())


def test_builder_adds_outlines_grids_centers_and_heat() -> None:
    m = build_city_map(title="示例市", bounds=BOUNDS, heat=HEAT)
    layers = {c.layer_name: c for c in children(m) if isinstance(c, ApiGeoJson)}
    assert set(layers) == {"网格", "乡镇（街道）界", "区县界", "综治中心", "村（社区）综治服务站"}
    assert layers["村（社区）综治服务站"].min_zoom == 13  # 300+ stations only when zoomed in
    assert layers["网格"].url == "/api/grids"
    assert layers["区县界"].url == "/api/regions?level=district"
    assert ["households", "户数"] in layers["网格"].fields
    heat = [c for c in children(m) if isinstance(c, HeatMap)]
    assert len(heat) == 1 and max(w for _, _, w in heat[0].data) == 1.0
    assert any(isinstance(c, folium.LayerControl) for c in children(m))


def test_no_tile_url_means_no_base_layer() -> None:
    m = build_city_map(title="示例市", bounds=BOUNDS, heat=[])
    assert not any(isinstance(c, folium.TileLayer) for c in children(m))
    assert not any(isinstance(c, HeatMap) for c in children(m))  # nothing to heat


def test_configured_tiles_are_added() -> None:
    base = BaseMap("https://tiles.example.invalid/{z}/{x}/{y}.png", "内网底图")
    m = build_city_map(title="示例市", bounds=BOUNDS, heat=HEAT, base=base)
    tiles = [c for c in children(m) if isinstance(c, folium.TileLayer)]
    assert len(tiles) == 1 and tiles[0].tiles == base.url


def test_rendered_page_references_only_local_assets_that_exist() -> None:
    html = build_city_map(title="示例市", bounds=BOUNDS, heat=HEAT).get_root().render()
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
