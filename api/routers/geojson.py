"""GeoJSON plumbing shared by the list routes."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from gis.geo import BBox

GEOJSON = "application/geo+json"
#: ``responses=`` of a route that answers GeoJSON
GEOJSON_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"content": {GEOJSON: {}}}}
BBOX_DOC = "west,south,east,north in WGS 84 degrees (范围：西,南,东,北)"


def geojson_response(body: str) -> Response:
    return Response(content=body, media_type=GEOJSON)


def parse_bbox(bbox: str | None) -> BBox | None:
    return BBox.parse(bbox) if bbox else None
