"""Map pages (HTML built by ``maps``)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from api.deps import SessionDep, SettingsDep
from gis import boundaries, cases
from maps.city import BaseMap, build_city_map

router = APIRouter(tags=["maps 地图"])


@router.get("/", response_class=HTMLResponse)
def city_map(session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """The city overview map: outlines, grids, centers and a heatmap of cases."""
    extent = boundaries.city_extent(session)
    title = boundaries.top_region_name(session) or "网格 wangge"
    m = build_city_map(
        title=f"{title} · 综治网格地图",
        subtitle="示例数据（虚构城市）" if title == "示例市" else "",
        bounds=(extent.west, extent.south, extent.east, extent.north) if extent else None,
        heat=cases.heat_bins(session),
        base=BaseMap(settings.tile_url, settings.tile_attribution),
    )
    return HTMLResponse(m.get_root().render())
