"""Is a reported point plausible?  Each refusal says what looks wrong and how to fix it.

Checked after datum conversion, against the deployment's coverage (its top regions):
(0, 0) — a failed fix; more than 20 km outside the coverage; and a point that only lands inside
the coverage with longitude and latitude swapped.  Poor accuracy is not a refusal: it is flagged,
and so is a device time far from the server's (:func:`flags_for`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.datum import to_wgs84
from gis.errors import InvalidInput

MAX_OUTSIDE_M = 20_000
LOW_ACCURACY_M = 200
#: a device time this far after the server's is a clock running ahead
CLOCK_AHEAD = timedelta(minutes=10)
#: a device time this far before the server's is a report queued offline for over a month (worth
#: a look too), or a clock reset (a phone with a flat battery may start at 1970-01-01 or 2000-01-01)
CLOCK_BEHIND = timedelta(days=30)

_INSIDE = text("""
    SELECT NOT EXISTS (SELECT 1 FROM region WHERE parent_id IS NULL)
        OR EXISTS (SELECT 1 FROM region WHERE parent_id IS NULL
                   AND ST_Covers(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)))
""")
_OUTSIDE = text("""
    SELECT
        EXISTS (SELECT 1 FROM region WHERE parent_id IS NULL
                AND ST_DWithin(geom::geography,
                               ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :max_m))
            AS near,
        EXISTS (SELECT 1 FROM region WHERE parent_id IS NULL
                AND ST_Covers(geom, ST_SetSRID(ST_MakePoint(:lat, :lon), 4326))) AS swapped_in
""")


def check_location(session: Session, lon: float, lat: float) -> None:
    """Refuse an implausible WGS 84 point (raises :class:`InvalidInput` on field ``location``)."""
    if lon == 0 and lat == 0:
        raise InvalidInput(
            "location 坐标为 (0, 0)：定位没有成功，请等待卫星定位后重新获取位置。",
            "location is (0, 0): the device has no fix; wait for positioning and try again.",
            field="location",
        )
    if session.execute(_INSIDE, {"lon": lon, "lat": lat}).scalar():
        return  # inside the coverage (or nothing loaded yet): the common case, one cheap test
    row = session.execute(_OUTSIDE, {"lon": lon, "lat": lat, "max_m": MAX_OUTSIDE_M}).one()
    if row.near:
        return
    if -90 <= lon <= 90 and row.swapped_in:
        raise InvalidInput(
            f"location 不在辖区内，但把经纬度对调后 ({lat}, {lon}) 就在辖区内："
            "是否把经度和纬度填反了？",
            f"location is outside the coverage, but ({lat}, {lon}) is inside it: "
            "did you swap longitude and latitude?",
            field="location",
        )
    raise InvalidInput(
        f"location 距本系统覆盖范围超过 {MAX_OUTSIDE_M // 1000} 公里，请核对位置及坐标系"
        "（高德/腾讯为 gcj02，百度为 bd09，GPS 为 wgs84）。",
        f"location is more than {MAX_OUTSIDE_M // 1000} km outside the coverage; check the "
        "position and its datum (Amap/Tencent: gcj02, Baidu: bd09, GPS: wgs84).",
        field="location",
    )


def device_point(session: Session, lon: float, lat: float, datum: str) -> tuple[float, float]:
    """A device's point in WGS 84 (converted from ``datum``); (0, 0), a failed fix, refused.
    The rest of :func:`check_location` is left to the caller (set-based, for a whole batch)."""
    lon, lat = (float(v) for v in to_wgs84(lon, lat, datum))
    if lon == 0 and lat == 0:
        check_location(session, lon, lat)  # raises: no fix
    return lon, lat


def flags_for(
    accuracy_m: float | None, reported_at: datetime | None = None, now: datetime | None = None
) -> dict[str, bool]:
    """Flags for the operator on an accepted report: its position may be off (``low_accuracy``),
    or its device time (``clock_suspect``: more than :data:`CLOCK_AHEAD` after ``now``, the
    server's time, or more than :data:`CLOCK_BEHIND` before it).  Neither refuses the report:
    what happened is what the grid worker saw; the operator checks the place or the time."""
    flags = {}
    if accuracy_m is not None and accuracy_m > LOW_ACCURACY_M:
        flags["low_accuracy"] = True
    if (
        reported_at is not None
        and now is not None
        and not now - CLOCK_BEHIND <= reported_at <= now + CLOCK_AHEAD
    ):
        flags["clock_suspect"] = True
    return flags
