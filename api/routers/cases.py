"""Reports in, cases out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from geojson_pydantic import FeatureCollection

from api.deps import SessionDep
from api.routers.geojson import BBOX_DOC, GEOJSON, geojson_response, parse_bbox
from api.schemas import CASE_CODE_PATTERN, CaseOut, CategoryOut, ReportCreate
from gis import cases
from gis.cases import SHANGHAI, NewReport

router = APIRouter(prefix="/api", tags=["cases 案件"])


@router.post("/reports", response_model=CaseOut, status_code=status.HTTP_201_CREATED)
def submit_report(report: ReportCreate, session: SessionDep) -> CaseOut:
    """Submit a report: it is located, assigned and stored as a case with its own code."""
    case = cases.create_report(session, NewReport(**report.model_dump()))
    session.commit()
    return CaseOut.of(case)


@router.get("/cases", response_model=FeatureCollection, responses={200: {"content": {GEOJSON: {}}}})
def list_cases(
    session: SessionDep,
    bbox: Annotated[str | None, Query(description=BBOX_DOC)] = None,
    since: Annotated[datetime | None, Query(description="received at or after (ISO 8601)")] = None,
    limit: Annotated[int, Query(ge=1, le=50_000)] = 5000,
) -> Response:
    """Cases as GeoJSON, newest first.  A ``since`` without offset is read as Beijing time."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=SHANGHAI)
    return geojson_response(cases.cases_geojson(session, parse_bbox(bbox), since, limit))


@router.get("/cases/{code}", response_model=CaseOut)
def get_case(
    code: Annotated[str, Path(pattern=CASE_CODE_PATTERN, description="case code 案件编码")],
    session: SessionDep,
) -> CaseOut:
    """One case by its code, with its assignment chain."""
    return CaseOut.of(cases.get_case(session, code))


@router.get("/categories", response_model=list[CategoryOut])
def list_categories(session: SessionDep) -> list[CategoryOut]:
    """The category catalogue: codes, Chinese and English names, kind, default severity."""
    return [CategoryOut.of(c) for c in cases.list_categories(session)]
