"""Map pages (HTML built by ``maps``) and the login page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse

from api.deps import MapViewer, SessionDep, SettingsDep
from gis import boundaries, cases
from gis.scope import Scope
from maps.city import BaseMap, build_city_map
from maps.pages import login_page, tracking_page

router = APIRouter(tags=["maps 地图"])


@router.get("/", response_class=HTMLResponse)
def city_map(session: SessionDep, settings: SettingsDep, caller: MapViewer) -> HTMLResponse:
    """The overview map of your jurisdiction: outlines, grids, centers and a heatmap of cases."""
    extent = boundaries.scope_extent(session, caller.scope)
    name = boundaries.scope_name(session, caller.scope) or "网格 wangge"
    is_demo = boundaries.scope_name(session, Scope.everything()) == "示例市"
    m = build_city_map(
        title=f"{name} · 综治网格地图",
        subtitle="示例数据（虚构城市）" if is_demo else "",
        bounds=(extent.west, extent.south, extent.east, extent.north) if extent else None,
        heat=cases.heat_bins(session, caller.scope),
        base=BaseMap(settings.tile_url, settings.tile_attribution),
        user=f"{caller.display_name or caller.username}（{caller.role_name}）",
    )
    return HTMLResponse(m.get_root().render())


@router.get("/t/{token}", response_class=HTMLResponse)
def tracking(
    token: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="public tracking token")],
    session: SessionDep,
) -> HTMLResponse:
    """The public case-tracking page (anonymous): status and steps, no personal data."""
    return HTMLResponse(tracking_page(cases.public_case(session, token)))


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(next: str = "/") -> HTMLResponse:
    """The login page (anonymous)."""
    return HTMLResponse(login_page(next))
