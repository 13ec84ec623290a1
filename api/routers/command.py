"""The command-center maps' data: heat bins, grid counts, hotspots, centers' load, the live
layer, grid summaries and vector tiles — all for the current view and the caller's jurisdiction
(optionally narrowed to one ``region`` of it)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy.orm import Session

from api.deps import CaseReader, QueryDay, SessionDep, demand, request_lang
from api.routers.geojson import (
    BBOX_DOC,
    GEOJSON_RESPONSES,
    Category,
    Kind,
    RegionQuery,
    Status,
    geojson_response,
    parse_bbox,
)
from gis import boundaries, cases, mapdata
from gis.errors import NotFound
from gis.geo import BBox
from gis.mapdata import CaseFilter, Period
from gis.models import CaseKind

router = APIRouter(tags=["command 指挥地图"])

BBoxRequired = Annotated[str, Query(description=BBOX_DOC, examples=["113.8,22.9,114.0,23.0"])]
BBoxOptional = Annotated[str | None, Query(description=BBOX_DOC)]
Days = Annotated[int, Query(ge=1, le=3660, description="the last N days (Asia/Shanghai)")]
Day = Annotated[QueryDay | None, Query(description="one day YYYY-MM-DD (the time slider)")]


def _bbox(value: str) -> BBox:
    """A required bbox: an empty one is refused like a malformed one (422), not taken as none."""
    return BBox.parse(value)


def _filter(
    session: Session, kind: CaseKind | None, category: str | None, status: str | None = None
) -> CaseFilter:
    """The filter of the query, its category checked against the catalogue (422 if unknown)."""
    if category:
        cases.check_category(session, category)
    return CaseFilter(kind.value if kind else None, category, status)


@router.get("/api/heat")
def heat(
    session: SessionDep,
    caller: CaseReader,
    bbox: BBoxRequired,
    zoom: Annotated[int, Query(ge=0, le=22, description="map zoom (chooses the cell size)")],
    days: Days = 30,
    day: Day = None,
    kind: Kind = None,
    category: Category = None,
    status: Status = None,
    region: RegionQuery = None,
) -> dict[str, Any]:
    """Cases in view counted per cell (100 m / 400 m / 1.6 km by zoom): ``bins`` are
    ``[lat, lon, count]`` at cell centres — 热力图数据（服务端分箱）."""
    scope = boundaries.narrow_scope(session, caller.scope, region)
    result = mapdata.heat(
        session,
        scope,
        _bbox(bbox),
        zoom,
        Period.of(days, day),
        _filter(session, kind, category, status),
    )
    return result.as_json()


@router.get("/api/grid-counts")
def grid_counts(
    session: SessionDep,
    caller: CaseReader,
    bbox: BBoxOptional = None,
    days: Days = 30,
    day: Day = None,
    kind: Kind = None,
    category: Category = None,
    region: RegionQuery = None,
    patrols: Annotated[
        bool,
        Query(description="also the days with a patrol check-in per grid (巡查覆盖)"),
    ] = False,
) -> dict[str, Any]:
    """Cases per grid for the period (and per 1,000 households) with quantile class breaks —
    网格案件数（分级设色）; with ``patrols``, on how many of the period's days someone checked in
    within each grid (``patrol_days``; kind and category do not apply to them)."""
    if patrols:
        demand(caller, "patrol:read")
    scope = boundaries.narrow_scope(session, caller.scope, region)
    return mapdata.grid_counts(
        session,
        scope,
        parse_bbox(bbox),
        Period.of(days, day),
        _filter(session, kind, category),
        patrols=patrols,
    )


@router.get("/api/hotspots")
def hotspots(
    session: SessionDep,
    caller: CaseReader,
    request: Request,
    bbox: BBoxRequired,
    days: Days = 30,
    eps_m: Annotated[float, Query(ge=10, le=5000, description="D: metres")] = 100.0,
    min_cases: Annotated[int, Query(ge=2, le=1000, description="N: cases")] = 5,
    kind: Kind = None,
    category: Category = None,
    region: RegionQuery = None,
) -> dict[str, Any]:
    """Hotspots: clusters of ≥ N cases within D metres over the last T days (DBSCAN) —
    热点（聚集）."""
    scope = boundaries.narrow_scope(session, caller.scope, region)
    return mapdata.hotspots(
        session,
        scope,
        _bbox(bbox),
        Period.of(days),
        eps_m,
        min_cases,
        _filter(session, kind, category),
        request_lang(request),
    )


@router.get("/api/centers/load", responses=GEOJSON_RESPONSES)
def centers_load(
    session: SessionDep, caller: CaseReader, bbox: BBoxOptional = None, region: RegionQuery = None
) -> Response:
    """Centers with their open and overdue case counts, as GeoJSON — 综治中心在办/超期数."""
    scope = boundaries.narrow_scope(session, caller.scope, region)
    return geojson_response(mapdata.center_load(session, scope, parse_bbox(bbox)))


@router.get("/api/live")
def live(
    session: SessionDep,
    caller: CaseReader,
    request: Request,
    after: Annotated[int | None, Query(ge=0, description="cursor of the previous answer")] = None,
    bbox: BBoxOptional = None,
    region: RegionQuery = None,
) -> dict[str, Any]:
    """New cases since ``after`` (poll it every second; first call without ``after`` gives the
    cursor) — 实时新案件."""
    scope = boundaries.narrow_scope(session, caller.scope, region)
    return mapdata.live(session, scope, after, parse_bbox(bbox), request_lang(request))


@router.get("/api/grids/{code}/summary")
def grid_summary(
    session: SessionDep,
    caller: CaseReader,
    request: Request,
    code: Annotated[str, Path(pattern=r"^[0-9]{15}$", description="grid code 网格编码")],
) -> dict[str, Any]:
    """One grid for its popup: workers, households, open and overdue cases, and (for those who
    may read check-ins) its patrol days over 30 days and the last check-in — 网格概况."""
    summary = mapdata.grid_summary(
        session, caller.scope, code, request_lang(request), patrols=caller.can("patrol:read")
    )
    if summary is None:
        raise NotFound(
            f"没有编码为 {code} 的现行网格，或不在您的管辖范围内。",
            f"No current grid {code} in your jurisdiction.",
        )
    return summary


@router.get(
    "/tiles/{layer}/{z}/{x}/{y}.mvt",
    response_class=Response,
    responses={200: {"content": {"application/vnd.mapbox-vector-tile": {}}}},
)
def vector_tile(
    session: SessionDep,
    caller: CaseReader,
    layer: Annotated[Literal["grids", "cases"], Path(description="grids | cases")],
    z: Annotated[int, Path(ge=0, le=22)],
    x: Annotated[int, Path(ge=0)],
    y: Annotated[int, Path(ge=0)],
    days: Days = 30,
    region: RegionQuery = None,
) -> Response:
    """A Mapbox vector tile of grids or of the last ``days`` days' cases (as points from z12, as
    counted cells below) — 矢量瓦片."""
    scope = boundaries.narrow_scope(session, caller.scope, region)
    body = mapdata.tile(session, scope, layer, z, x, y, days)
    return Response(
        body,
        media_type="application/vnd.mapbox-vector-tile",
        headers={"Cache-Control": "private, max-age=60"},
    )
