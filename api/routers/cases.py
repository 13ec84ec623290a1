"""Reports in, cases out — within the caller's jurisdiction."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status
from geojson_pydantic import FeatureCollection

from api.deps import (
    CaseReader,
    CategoryReader,
    CipherDep,
    Reporter,
    SessionDep,
    audit_caller,
)
from api.routers.geojson import BBOX_DOC, GEOJSON_RESPONSES, geojson_response, parse_bbox
from api.schemas import CASE_CODE_PATTERN, CaseOut, CategoryOut, PartyOut, ReportCreate
from gis import cases
from gis.cases import SHANGHAI
from gis.errors import Forbidden
from gis.pii import validate_phone

router = APIRouter(prefix="/api", tags=["cases 案件"])
CaseCode = Annotated[str, Path(pattern=CASE_CODE_PATTERN, description="case code 案件编码")]
_PII_FORBIDDEN = Forbidden(
    "查看或检索当事人个人信息需要 pii:read 权限。",
    "Seeing or searching residents' personal data needs the pii:read permission.",
)


@router.post("/reports", response_model=CaseOut, status_code=status.HTTP_201_CREATED)
def submit_report(
    report: ReportCreate,
    session: SessionDep,
    caller: Reporter,
    cipher: CipherDep,
    request: Request,
) -> CaseOut:
    """Submit a report: it is located, assigned and stored as a case with its own code."""
    case = cases.create_report(session, caller.scope, report.to_domain(caller.username), cipher)
    audit_caller(
        session,
        request,
        caller,
        "case.create",
        f"case:{case.code}",
        {"parties": len(report.parties)},
    )
    session.commit()
    return CaseOut.of(case)


@router.get("/cases", response_model=FeatureCollection, responses=GEOJSON_RESPONSES)
def list_cases(
    session: SessionDep,
    caller: CaseReader,
    cipher: CipherDep,
    request: Request,
    bbox: Annotated[str | None, Query(description=BBOX_DOC)] = None,
    since: Annotated[datetime | None, Query(description="received at or after (ISO 8601)")] = None,
    limit: Annotated[int, Query(ge=1, le=50_000)] = 5000,
    party_phone: Annotated[
        str | None, Query(max_length=20, description="cases with this party phone (pii:read)")
    ] = None,
) -> Response:
    """Cases in your jurisdiction as GeoJSON, newest first.  A ``since`` without offset is read
    as Beijing time."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=SHANGHAI)
    phone_index = None
    if party_phone is not None:
        if not caller.can("pii:read"):
            raise _PII_FORBIDDEN
        phone_index = cipher.phone_index(validate_phone(party_phone, field="party_phone"))
    body = cases.cases_geojson(session, caller.scope, parse_bbox(bbox), since, limit, phone_index)
    if phone_index is not None:
        audit_caller(session, request, caller, "pii.lookup", "case_party:phone")
        session.commit()
    return geojson_response(body)


@router.get("/cases/{code}", response_model=CaseOut)
def get_case(code: CaseCode, session: SessionDep, caller: CaseReader, cipher: CipherDep) -> CaseOut:
    """One case in your jurisdiction, with its assignment chain and masked parties."""
    return CaseOut.of(cases.get_case(session, caller.scope, code, cipher))


@router.get("/cases/{code}/parties", response_model=list[PartyOut])
def get_case_parties(
    code: CaseCode,
    session: SessionDep,
    caller: CaseReader,
    cipher: CipherDep,
    request: Request,
    unmask: Annotated[bool, Query(description="unmasked (needs pii:read; audited)")] = False,
) -> list[PartyOut]:
    """The parties to a case: masked, or unmasked for pii:read (each such view is audited)."""
    if unmask and not caller.can("pii:read"):
        raise _PII_FORBIDDEN
    parties = cases.case_parties(session, caller.scope, code, cipher, unmask=unmask)
    if unmask:
        audit_caller(
            session, request, caller, "pii.view", f"case:{code}", {"parties": len(parties)}
        )
        session.commit()
    return [PartyOut.model_validate(p, from_attributes=True) for p in parties]


@router.get("/categories", response_model=list[CategoryOut])
def list_categories(session: SessionDep, caller: CategoryReader) -> list[CategoryOut]:
    """The category catalogue: codes, Chinese and English names, kind, default severity."""
    return [CategoryOut.of(c) for c in cases.list_categories(session)]
