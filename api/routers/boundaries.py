"""Regions, grids and centers as GeoJSON."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from geojson_pydantic import FeatureCollection

from api.deps import SessionDep
from api.routers.geojson import BBOX_DOC, GEOJSON, geojson_response, parse_bbox
from gis import boundaries
from gis.models import RegionLevel

router = APIRouter(prefix="/api", tags=["boundaries 边界"])
BBoxQuery = Annotated[str | None, Query(description=BBOX_DOC, examples=["113.8,22.9,114.0,23.0"])]


@router.get("/grids", response_model=FeatureCollection, responses={200: {"content": {GEOJSON: {}}}})
def list_grids(session: SessionDep, bbox: BBoxQuery = None) -> Response:
    """Current grids (网格) intersecting the bbox, as GeoJSON."""
    return geojson_response(boundaries.grids_geojson(session, parse_bbox(bbox)))


@router.get(
    "/regions", response_model=FeatureCollection, responses={200: {"content": {GEOJSON: {}}}}
)
def list_regions(
    session: SessionDep, level: RegionLevel | None = None, bbox: BBoxQuery = None
) -> Response:
    """Regions (city, district, township, village) of one level, as GeoJSON."""
    return geojson_response(boundaries.regions_geojson(session, level, parse_bbox(bbox)))


@router.get(
    "/centers", response_model=FeatureCollection, responses={200: {"content": {GEOJSON: {}}}}
)
def list_centers(
    session: SessionDep,
    bbox: BBoxQuery = None,
    level: Annotated[
        list[RegionLevel] | None, Query(description="repeatable: level=township&level=district")
    ] = None,
) -> Response:
    """Governance centers (综治中心) and village service stations, as GeoJSON."""
    return geojson_response(boundaries.centers_geojson(session, parse_bbox(bbox), level))
