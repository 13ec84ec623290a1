"""Locating a point."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import SessionDep
from api.schemas import Lat, LocationOut, Lon
from gis.locate import locate_point

router = APIRouter(prefix="/api", tags=["locate 定位"])


@router.get("/locate", response_model=LocationOut)
def locate(
    session: SessionDep, lon: Annotated[Lon, Query()], lat: Annotated[Lat, Query()]
) -> LocationOut:
    """Whose is this WGS 84 point: grid, village, township, district, city and center."""
    return LocationOut.of(locate_point(session, lon, lat))
