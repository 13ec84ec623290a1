"""The command map: builder tests (no browser, no database) and the served pages."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

import folium
from folium.plugins import Fullscreen

from gis.settings import BaseMapSpec, Settings
from maps.assets import asset_path
from maps.command import COMMAND_TEXT, CommandLayers, CommandOptions, build_command_map
from maps.layers import MetricScale, TitleBox

BOUNDS = (113.8, 22.9, 114.0, 23.0)
URL_ATTR = re.compile(r'(?:src|href)\s*=\s*["\']([^"\']+)["\']')
CATEGORIES = [("neighbour", "邻里纠纷", "dispute"), ("fire", "消防安全隐患", "hazard")]


def _options(html: str) -> dict:
    m = re.search(r"wangge\.command\([^,]+, (\{.*?\})\);", html, re.S)
    assert m, "the page does not start the command layers"
    body = re.sub(r"^(\s*)(\w+):", r'\1"\2":', m.group(1), flags=re.M)  # JS literal → JSON
    return json.loads(body)


def test_builder_adds_the_command_layers_and_controls() -> None:
    m = build_command_map(
        title="示例市 · 指挥中心",
        bounds=BOUNDS,
        options=CommandOptions(region="990102", categories=CATEGORIES),
    )
    kinds = [type(c) for c in m._children.values()]
    for cls in (CommandLayers, TitleBox, MetricScale, Fullscreen):
        assert cls in kinds, cls
    assert not any(isinstance(c, folium.TileLayer) for c in m._children.values())  # offline
    html = m.get_root().render()
    opts = _options(html)
    assert opts["region"] == "990102" and opts["tileDatum"] == "wgs84"
    assert opts["categories"][0] == ["neighbour", "邻里纠纷", "dispute"]
    assert opts["livePollMs"] <= 1000  # a new report shows within 2 s
    for url in URL_ATTR.findall(html):
        assert url.startswith("/static/"), url
        path = asset_path(url)
        assert path is not None and path.exists(), url
    assert "command.js" in html and "leaflet-heat.js" in html
    js = (asset_path("/static/wangge/command.js") or "").read_text(encoding="utf-8")  # type: ignore[union-attr]
    words = opts["text"]
    labels = ("案件热力", "网格（分级设色）", "热点", "综治中心（在办/超期）", "实时新案件", "逐日")
    for label in labels:
        assert label in words.values(), label
    assert opts["states"]["verified"] == "已回访"  # the centers' own names of the states
    assert "L.control.layers" in js and "/api/live" in js and "/api/heat" in js
    # every word the script asks for exists in both languages, and none is written in it
    used = set(re.findall(r"\bT\.(\w+)", js)) | set(re.findall(r'\["(layer_\w+)"', js))
    assert used and used <= COMMAND_TEXT["zh"].keys() == COMMAND_TEXT["en"].keys()
    assert not re.search(r"[\u4e00-\u9fff]", js.split("\n", 1)[1])  # (but its comment line)
    english = _options(
        build_command_map(
            title="t", bounds=BOUNDS, options=CommandOptions(categories=CATEGORIES, lang="en")
        )
        .get_root()
        .render()
    )
    assert english["text"]["layer_heat"] == "Case heat" and english["states"]["closed"] == "Closed"


def test_gcj02_tiles_shift_the_overlays_and_presets_resolve() -> None:
    base = Settings(tile_preset="osm").base_map()
    assert base.url and "openstreetmap" in base.url and base.datum == "wgs84"
    amap = BaseMapSpec("https://tiles.example.cn/{z}/{x}/{y}.png", "高德", "gcj02")
    m = build_command_map(
        title="t", bounds=BOUNDS, options=CommandOptions(tile_datum=amap.datum), base=amap
    )
    html = m.get_root().render()
    assert _options(html)["tileDatum"] == "gcj02"
    assert "tiles.example.cn" in html
    with pytest.raises(ValueError, match="TIANDITU_KEY"):
        Settings(tile_preset="tianditu")
    tdt = Settings(tile_preset="tianditu", tianditu_key="k").base_map()
    assert tdt.url and "tianditu.gov.cn" in tdt.url and tdt.subdomains == "01234567"
    assert Settings().base_map().url is None  # the default: no request leaves the server


def test_command_and_grid_pages_are_served_in_the_jurisdiction(
    anon_client: TestClient, login_as: Callable[[str], dict[str, str]]
) -> None:
    op = login_as("township_operator")
    r = anon_client.get("/maps/command", headers=op)
    assert r.status_code == 200 and "指挥中心" in r.text
    assert _options(r.text)["region"] is None
    mine = anon_client.get("/maps/command?region=990102001001", headers=op)
    assert mine.status_code == 200 and _options(mine.text)["region"] == "990102001001"
    assert anon_client.get("/maps/command?region=990103", headers=op).status_code == 404
    assert anon_client.get("/maps/command?region=abc", headers=op).status_code == 422
    grid = anon_client.get("/maps/grid/990102001001001", headers=op)
    assert grid.status_code == 200 and _options(grid.text)["focusGrid"] == "990102001001001"
    assert '"/grids/990102001001001"' in grid.text  # its record (网格档案), first in the menu
    other = anon_client.get("/maps/grid/990102001001001", headers=login_as("township_operator_b"))
    assert other.status_code == 404
