"""Regions, grids and centers as GeoJSON, limited to the caller's jurisdiction."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from geojson_pydantic import FeatureCollection

from api.deps import BoundaryReader, Planner, SessionDep, audit_caller, request_lang
from api.routers.geojson import BBOX_DOC, GEOJSON_RESPONSES, geojson_response, parse_bbox
from api.schemas import GridWorkersIn, GridWorkersOut, PlaceOut, PlacesOut
from gis import boundaries, ledger
from gis.models import RegionLevel

router = APIRouter(prefix="/api", tags=["boundaries 边界"])
BBoxQuery = Annotated[str | None, Query(description=BBOX_DOC, examples=["113.8,22.9,114.0,23.0"])]


@router.get("/grids", response_model=FeatureCollection, responses=GEOJSON_RESPONSES)
def list_grids(
    session: SessionDep,
    caller: BoundaryReader,
    bbox: BBoxQuery = None,
    as_of: Annotated[
        str | None,
        Query(
            description="a past layout: a date (as at the end of that day, Asia/Shanghai) or an "
            "ISO 8601 time",
            examples=["2026-10-01"],
        ),
    ] = None,
) -> Response:
    """Grids (网格) in your jurisdiction intersecting the bbox, as GeoJSON: the current layout,
    or the one in force at ``as_of``."""
    moment = boundaries.as_of_moment(as_of) if as_of else None
    return geojson_response(
        boundaries.grids_geojson(session, caller.scope, parse_bbox(bbox), moment)
    )


@router.get("/grids/{code}/history", response_model=FeatureCollection, responses=GEOJSON_RESPONSES)
def grid_history(
    code: Annotated[str, Path(pattern=r"^[0-9]{15}$", description="grid code 网格编码")],
    session: SessionDep,
    caller: BoundaryReader,
) -> Response:
    """Every version of a grid, oldest first: when it was valid, its area and households, the
    edit set that made it, the grids its land came from and the grids that took it over."""
    return geojson_response(boundaries.grid_history(session, caller.scope, code))


@router.put("/grids/{code}/workers", response_model=GridWorkersOut)
def set_grid_workers(
    code: Annotated[str, Path(pattern=r"^[0-9]{15}$", description="grid code 网格编码")],
    body: GridWorkersIn,
    session: SessionDep,
    caller: Planner,
    request: Request,
) -> GridWorkersOut:
    """网格员配备: the grid workers of a current grid of your area from now on (their codes), in
    place of those it has — a grid left without one, a worker who left, a team changed — and
    optionally their parts in the team (``roles``: one chief 网格长, managers, informants,
    supervisors).  The workers must be of your area too.  Audited (``grid.workers``, with the
    lists and parts before and after); the roster, the ledger and the grid's popup follow at
    once."""
    done = ledger.set_grid_workers(session, caller.scope, code, body.workers, body.roles)
    audit_caller(
        session, request, caller, "grid.workers", f"grid:{code}",
        {"before": done.before, "after": done.after, "roles_before": done.roles_before,
         "roles": done.roles},
    )  # fmt: skip
    session.commit()
    return GridWorkersOut(code=done.code, before=done.before, after=done.after, roles=done.roles)


@router.get("/places", response_model=PlacesOut)
def find_places(
    session: SessionDep,
    caller: BoundaryReader,
    request: Request,
    q: Annotated[
        str,
        Query(
            description="a place's name or part of it, or the start of its code",
            examples=["东坪", "990102001"],
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> PlacesOut:
    """地名查找: regions (city to village) and current grids in your jurisdiction whose name
    contains ``q`` or whose code starts with it, the best first (the name itself, then names
    starting with it, higher levels first), each with its extent to show on a map."""
    places = boundaries.find_places(session, caller.scope, q, request_lang(request), limit)
    return PlacesOut(places=[PlaceOut(**vars(p)) for p in places])


@router.get("/regions", response_model=FeatureCollection, responses=GEOJSON_RESPONSES)
def list_regions(
    session: SessionDep,
    caller: BoundaryReader,
    request: Request,
    level: RegionLevel | None = None,
    bbox: BBoxQuery = None,
) -> Response:
    """Regions (city, district, township, village) in your jurisdiction, as GeoJSON
    (``level_name`` in the caller's language)."""
    return geojson_response(
        boundaries.regions_geojson(
            session, caller.scope, level, parse_bbox(bbox), request_lang(request)
        )
    )


@router.get("/centers", response_model=FeatureCollection, responses=GEOJSON_RESPONSES)
def list_centers(
    session: SessionDep,
    caller: BoundaryReader,
    request: Request,
    bbox: BBoxQuery = None,
    level: Annotated[
        list[RegionLevel] | None, Query(description="repeatable: level=township&level=district")
    ] = None,
) -> Response:
    """Governance centers (综治中心) and village service stations in your jurisdiction
    (``level_name`` in the caller's language)."""
    return geojson_response(
        boundaries.centers_geojson(
            session, caller.scope, parse_bbox(bbox), level, request_lang(request)
        )
    )
