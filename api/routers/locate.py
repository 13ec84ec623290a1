"""Locating a point."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.deps import Locator, SessionDep
from api.schemas import Lat, LocationOut, Lon
from gis.datum import to_wgs84
from gis.errors import NotFound
from gis.locate import locate_point

router = APIRouter(prefix="/api", tags=["locate 定位"])


@router.get("/locate", response_model=LocationOut)
def locate(
    session: SessionDep,
    caller: Locator,
    lon: Annotated[Lon, Query()],
    lat: Annotated[Lat, Query()],
    datum: Annotated[
        Literal["wgs84", "cgcs2000", "gcj02", "bd09"],
        Query(
            description="the point's datum: wgs84 (GPS) or cgcs2000; gcj02 for a point picked "
            "off Amap or Tencent maps, bd09 off Baidu (hundreds of metres from WGS 84)"
        ),
    ] = "wgs84",
) -> LocationOut:
    """Whose is this point: grid, village, township, district, city and center.  ``datum``
    says what the coordinates are (WGS 84 unless said otherwise); they are converted to WGS 84
    before the point is located, as a report's are."""
    x, y = to_wgs84(lon, lat, datum)
    location = locate_point(session, float(x), float(y))
    if not caller.scope.covers(location):
        raise NotFound("该位置不在您的管辖范围内。", "This location is outside your jurisdiction.")
    return LocationOut.of(location)
