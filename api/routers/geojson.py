"""GeoJSON plumbing and the filters shared by the list routes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query, Response

from gis.geo import BBox
from gis.models import CaseKind

GEOJSON = "application/geo+json"
#: ``responses=`` of a route that answers GeoJSON
GEOJSON_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"content": {GEOJSON: {}}}}
BBOX_DOC = "west,south,east,north in WGS 84 degrees (范围：西,南,东,北)"

RegionQuery = Annotated[
    str | None, Query(pattern=r"^[0-9]{6,12}$", description="narrow to this region 区划代码")
]
Kind = Annotated[CaseKind | None, Query(description="dispute 矛盾纠纷 | hazard 安全隐患")]
Category = Annotated[str | None, Query(max_length=32, description="category code 类别编码")]
Status = Annotated[
    Literal["open", "overdue"] | None, Query(description="open 未办结 | overdue 超期")
]


def geojson_response(body: str) -> Response:
    return Response(content=body, media_type=GEOJSON)


def parse_bbox(bbox: str | None) -> BBox | None:
    return BBox.parse(bbox) if bbox else None
