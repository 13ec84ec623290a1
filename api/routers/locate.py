"""Locating a point."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import Locator, SessionDep
from api.schemas import Lat, LocationOut, Lon
from gis.errors import NotFound
from gis.locate import locate_point

router = APIRouter(prefix="/api", tags=["locate 定位"])


@router.get("/locate", response_model=LocationOut)
def locate(
    session: SessionDep,
    caller: Locator,
    lon: Annotated[Lon, Query()],
    lat: Annotated[Lat, Query()],
) -> LocationOut:
    """Whose is this WGS 84 point: grid, village, township, district, city and center."""
    location = locate_point(session, lon, lat)
    if not caller.scope.covers(location):
        raise NotFound("该位置不在您的管辖范围内。", "This location is outside your jurisdiction.")
    return LocationOut.of(location)
