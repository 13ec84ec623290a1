"""Reports in, cases out — within the caller's jurisdiction."""

from __future__ import annotations

import re
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from geojson_pydantic import FeatureCollection
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload

from api.deps import (
    CaseReader,
    CategoryReader,
    CipherDep,
    LateReporter,
    QueryTime,
    Reporter,
    SessionDep,
    Triager,
    audit_caller,
    audit_phone_lookup,
    client_ip,
    demand,
    names_en,
    request_lang,
)
from api.errors import idempotency_key, invalid_item
from api.routers.geojson import (
    BBOX_DOC,
    GEOJSON_RESPONSES,
    Category,
    Kind,
    RegionQuery,
    geojson_response,
    parse_bbox,
)
from api.routers.photos import read_uploads
from api.routers.workflow import case_detail
from api.schemas import (
    CASE_CODE_PATTERN,
    BatchIn,
    BatchItemOut,
    BatchOut,
    BatchReportIn,
    CaseBriefOut,
    CaseDetailOut,
    CaseOut,
    CategoryOut,
    DuplicateDecisionIn,
    PartyOut,
    ReportCreate,
)
from api.surrogates import mend
from gis import boundaries, cases, intake, photos
from gis.cases import SHANGHAI
from gis.errors import (
    InvalidInput,
    UnsupportedMediaType,
    WanggeError,
)
from gis.models import CaseSource
from gis.pii import validate_phone

router = APIRouter(prefix="/api", tags=["cases 案件"])
CaseCode = Annotated[str, Path(pattern=CASE_CODE_PATTERN, description="case code 案件编码")]


_REPORT_SCHEMA = {"$ref": "#/components/schemas/ReportCreate"}
_REPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _REPORT_SCHEMA},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["report"],
                    "properties": {
                        "report": {
                            "type": "string",
                            "description": "the report as JSON (the application/json body)",
                        },
                        "photos": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "JPEG/PNG/WebP, ≤ 10 MB each, ≤ 6",
                        },
                    },
                }
            },
        },
    }
}


async def _read_report(request: Request) -> tuple[bytes, str, list[tuple[str, bytes]]]:
    """The report's JSON from a JSON body, or from a multipart form (``report`` + ``photos``);
    read, not yet validated (:func:`_parse_report`): the JSON, where it was (``body`` or
    ``report``, for a refusal to name), the photos."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=photos.MAX_PER_CASE + 2)
        raw = form.get("report")
        if isinstance(raw, StarletteUpload):  # sent as a part with a file name (a JSON file)
            sent = await raw.read(REPORT_PART_BYTES + 1)
            if len(sent) > REPORT_PART_BYTES:
                kb = REPORT_PART_BYTES // 1024
                raise InvalidInput(
                    f"report 字段过大（最多 {kb} KB）：照片请放在 photos 中。",
                    f"The report part is too large (at most {kb} KB): send photos as photos.",
                    field="report",
                )
            raw = sent.decode("utf-8", "replace")
        if not isinstance(raw, str):
            raise InvalidInput(
                "multipart 上报须有 report 字段（上报内容的 JSON）。",
                "A multipart report needs a 'report' field holding the report as JSON.",
                field="report",
            )
        files = form.getlist("photos")
        if any(not isinstance(f, StarletteUpload) for f in files):  # (a data: URL, a name)
            raise InvalidInput(
                "photos（照片）应为上传的文件，不是文本：每张照片作为一个文件部分发送"
                "（Content-Disposition 带 filename）。",
                "photos must be files sent, not text: send each photo as a file part (with a "
                "filename in its Content-Disposition).",
                field="photos",
            )
        report = mend(raw.encode("utf-8", "surrogatepass"))  # as a JSON body is (api.surrogates)
        return report, "report", await read_uploads(files)  # type: ignore[arg-type]
    if content_type.startswith("application/json") or not content_type:
        return await request.body(), "body", []
    raise UnsupportedMediaType(
        f"不支持的内容类型 {content_type!r}：请用 application/json 或 multipart/form-data。",
        f"Unsupported content type {content_type!r}: send application/json or multipart/form-data.",
    )


#: the most a multipart report's ``report`` part may hold, sent as a file (its JSON alone)
REPORT_PART_BYTES = 256 * 1024


def _parse_report(body: bytes, where: str) -> ReportCreate:
    """The report in ``body``, or a 422 naming ``where`` it was (the body, a form's part)."""
    if not body.strip():
        raise RequestValidationError(
            [{"type": "missing", "loc": (where,), "msg": "", "input": None}]
        )
    try:
        return ReportCreate.model_validate_json(body)
    except ValidationError as e:
        raise RequestValidationError(
            [dict(err) | {"loc": (where, *err["loc"])} for err in e.errors()]
        ) from None


_KEY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "description": "a UUID the device made for this report, the same on every retry",
    "schema": {"type": "string", "format": "uuid"},
}


@router.post(
    "/reports",
    response_model=CaseOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "a replay: the case this key already created"},
        400: {"description": "Idempotency-Key missing or not a UUID"},
        401: {"description": "not logged in"},
        403: {"description": "no case:report permission, or outside your area"},
        409: {"description": "a report with this key is still being taken in"},
        422: {"description": "invalid report, or the key already used for another report"},
        503: {"description": "busy, or the database out of reach: retry with the same key"},
        507: {"description": "the photos could not be stored (disk full): nothing saved"},
    },
    openapi_extra=_REPORT_BODY | {"parameters": [_KEY_HEADER]},
)
async def submit_report(caller: LateReporter, session: SessionDep, request: Request) -> Response:
    """Submit a report: it is located, assigned and stored as a case with its own code.

    JSON, or multipart with the report as JSON in ``report`` and up to 6 ``photos``.  The same
    ``Idempotency-Key`` with the same content returns the original case (200).

    The hot route of intake: the session lookup, the report and the reply's read-back share one
    worker thread and one transaction.  Checked in the same order as every route: the session
    (401/403), then the key (400), then the report (422)."""
    unreadable: WanggeError | None = None
    body, where = b"", "body"
    uploads: list[tuple[str, bytes]] = []
    try:
        body, where, uploads = await _read_report(request)
    except WanggeError as e:
        unreadable = e  # said after the session and the key are checked
    state = request.app.state
    header = request.headers.get("idempotency-key")

    def work() -> tuple[intake.Submission, dict[str, str] | None]:
        principal = caller.authenticate(session)
        key = _parse_key(header)
        if unreadable is not None:
            raise unreadable
        report = _parse_report(body, where)
        if report.region is not None and principal.role == "grid_worker":
            raise intake.region_not_for_grid_workers()
        done = intake.submit_report(
            session,
            principal.scope,
            principal.user_id,
            key,
            report.to_domain(principal.username, principal.role),
            report.content(),
            state.cipher,
            client_ip(request),
        )
        if uploads:
            photos.add_photos(
                session,
                done.case.code,
                uploads,
                state.settings.photos_path,
                principal.username,
                with_report=True,
            )
            done = intake.Submission(
                cases.get_case(session, principal.scope, done.case.code, state.cipher),
                done.replayed,
            )
        session.commit()
        return done, names_en(session, request)

    done, names = await run_in_threadpool(work)
    # Returned as it is: the model was built from the database's own row.
    return Response(
        CaseOut.of(done.case, names).model_dump_json(),
        status_code=status.HTTP_200_OK if done.replayed else status.HTTP_201_CREATED,
        media_type="application/json",
        headers={"Idempotent-Replayed": "true"} if done.replayed else None,
    )


#: the header value with which a batch answers briefly (RFC 7240)
MINIMAL = "return=minimal"


def prefers_minimal(prefer: str | None) -> bool:
    """Whether a ``Prefer`` header (RFC 7240: preferences separated by commas, each perhaps with
    parameters after a semicolon; names and values in any case, values perhaps quoted) asks
    for ``return=minimal``."""
    for preference in (prefer or "").split(","):
        name, _, value = preference.partition(";")[0].partition("=")
        if name.strip().lower() == "return" and value.strip().strip('"').lower() == "minimal":
            return True
    return False


@router.post("/reports/batch", response_model=BatchOut)
def submit_batch(
    body: BatchIn,
    session: SessionDep,
    caller: Reporter,
    cipher: CipherDep,
    request: Request,
    prefer: Annotated[
        str | None,
        Header(
            description="return=minimal: each case brief (code, status, grid, deadline, "
            "tracking link) instead of whole, as a phone syncing its queue wants it: about a "
            "tenth of the answer.  Said back in Preference-Applied (RFC 7240)."
        ),
    ] = None,
) -> Response:
    """Reports kept on a device while offline (≤ 500): each created, replayed, in conflict or
    rejected on its own; one bad item never fails the rest."""
    lang = request_lang(request)
    brief = prefers_minimal(prefer)
    items = [
        _batch_item(i, raw, caller.username, caller.role, lang)
        for i, raw in enumerate(body.reports)
    ]
    results = intake.submit_batch(
        session, caller.scope, caller.user_id, items, cipher, client_ip(request), brief=brief
    )
    session.commit()
    names = None if brief else names_en(session, request)  # (a brief case names nothing)
    out = [_batch_result(r, items[r.index], lang, names) for r in results]
    counts = {
        s: sum(r.status == s for r in results)
        for s in ("created", "replayed", "conflict", "rejected")
    }
    # Returned as it is (``response_model`` documents it): built from the database's own rows,
    # it is not validated a second time.
    return Response(
        BatchOut(**counts, results=out).model_dump_json(),
        media_type="application/json",
        headers={"Vary": "Prefer"} | ({"Preference-Applied": MINIMAL} if brief else {}),
    )


def _parse_key(value: str | None) -> UUID:
    return idempotency_key(value, ("每份上报", "each report"))


def _batch_item(index: int, raw: dict, reporter: str, role: str, lang: str) -> intake.BatchItem:
    try:
        item = BatchReportIn.model_validate(raw)
    except ValidationError as e:
        key = raw.get("idempotency_key") if isinstance(raw, dict) else None
        return intake.BatchItem(index, None, None, error=invalid_item(e, lang, raw_key=key))
    if item.region is not None and role == "grid_worker":
        error = intake.region_not_for_grid_workers()
        return intake.BatchItem(index, item.idempotency_key, None, error=error)
    return intake.BatchItem(
        index, item.idempotency_key, item.to_domain(reporter, role), item.content()
    )


def _batch_result(
    r: intake.BatchResult, item: intake.BatchItem, lang: str, names: dict[str, str] | None
) -> BatchItemOut:
    if r.error is None:
        return BatchItemOut(
            index=r.index,
            status=r.status,
            http_status=r.http_status,
            case=(
                CaseBriefOut.of(r.case)
                if isinstance(r.case, intake.CaseBrief)
                else CaseOut.of(r.case, names)
                if r.case
                else None
            ),
        )
    errors = r.error.extra.get("errors")
    return BatchItemOut(
        index=r.index,
        status=r.status,
        http_status=r.http_status,
        detail=r.error.localized(lang),
        errors=errors,
    )


@router.get("/cases", response_model=FeatureCollection, responses=GEOJSON_RESPONSES)
def list_cases(
    session: SessionDep,
    caller: CaseReader,
    cipher: CipherDep,
    request: Request,
    bbox: Annotated[str | None, Query(description=BBOX_DOC)] = None,
    since: Annotated[QueryTime | None, Query(description="received at or after (ISO 8601)")] = None,
    limit: Annotated[int, Query(ge=1, le=50_000)] = 5000,
    party_phone: Annotated[
        str | None, Query(max_length=20, description="cases with this party phone (pii:read)")
    ] = None,
    mine: Annotated[bool, Query(description="only the cases I submitted")] = False,
    source: Annotated[
        CaseSource | None,
        Query(description="only the cases from this source (案件来源), e.g. hotline"),
    ] = None,
    kind: Kind = None,
    category: Category = None,
    status: Annotated[
        list[str],
        Query(
            description="states 状态 (repeatable); open: every open one 未办结; to_verify: the "
            "resolved ones waiting to be verified 待核查"
        ),
    ] = [],  # noqa: B006 - FastAPI copies it
    overdue: Annotated[
        bool | None, Query(description="true: open and past the deadline 超期; false: not")
    ] = None,
    grid: Annotated[
        list[str],
        Query(description="grid code 网格编码 (repeatable: the cases of any of them)"),
    ] = [],  # noqa: B006 - FastAPI copies it
    region: RegionQuery = None,
    unplaced: Annotated[
        bool | None,
        Query(
            description="true: only the cases without a point, filed by their village because "
            "no one could say where (待查明位置; their geometry is null); false: only those "
            "with one"
        ),
    ] = None,
) -> Response:
    """Cases in your jurisdiction (or in one ``region`` of it) as GeoJSON, newest first.  A
    ``since`` without offset is read as Beijing time.  The filters add up; an unknown category
    or status is refused (422) with the valid ones, not answered with no cases."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=SHANGHAI)
    bad = [g for g in grid if not re.fullmatch(r"[0-9]{15}", g)]
    if bad:
        raise InvalidInput(
            f"网格编码应为 15 位数字：{bad[0]!r}。",
            f"A grid code has 15 digits: {bad[0]!r}.",
            field="grid",
        )
    phone_index = None
    if party_phone is not None:
        demand(caller, "pii:read")
        phone_index = cipher.phone_index(validate_phone(party_phone, field="party_phone"))
    body = cases.cases_geojson(
        session,
        boundaries.narrow_scope(session, caller.scope, region),
        parse_bbox(bbox),
        since,
        limit,
        phone_index,
        reporter_id=caller.user_id if mine else None,
        source=source.value if source else None,
        lang=request_lang(request),
        kind=kind.value if kind else None,
        category=category,
        statuses=status,
        overdue=overdue,
        grids=grid,
        unplaced=unplaced,
    )
    if phone_index is not None:
        audit_phone_lookup(session, request, caller)
    return geojson_response(body)


@router.get("/cases/{code}", response_model=CaseDetailOut)
def get_case(
    code: CaseCode,
    session: SessionDep,
    caller: CaseReader,
    cipher: CipherDep,
    request: Request,
    unmask: Annotated[
        bool,
        Query(
            description="the parties and the description's phone and ID numbers unmasked "
            "(needs pii:read; audited)"
        ),
    ] = False,
) -> CaseDetailOut:
    """One case in your jurisdiction: assignment chain, masked parties, its events (the whole
    timeline), department dispatches, working-time deadlines and the actions allowed now.  The
    phone and ID-card numbers typed into its description are masked as the parties' are."""
    if unmask:
        demand(caller, "pii:read")
    detail = case_detail(session, caller, code, cipher, request, unmask=unmask)
    if unmask:
        audit_caller(
            session,
            request,
            caller,
            "pii.view",
            f"case:{code}",
            {"parties": len(detail.parties), "description": True},
        )
        session.commit()
    return detail


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
    if unmask:
        demand(caller, "pii:read")
    parties = cases.case_parties(session, caller.scope, code, cipher, unmask=unmask)
    if unmask:
        audit_caller(
            session, request, caller, "pii.view", f"case:{code}", {"parties": len(parties)}
        )
        session.commit()
    return [PartyOut.model_validate(p, from_attributes=True) for p in parties]


@router.post("/cases/{code}/duplicates/{other}", response_model=CaseOut)
def decide_duplicate(
    code: CaseCode,
    other: Annotated[str, Path(pattern=CASE_CODE_PATTERN)],
    body: DuplicateDecisionIn,
    session: SessionDep,
    caller: Triager,
    cipher: CipherDep,
    request: Request,
) -> CaseOut:
    """Confirm or unlink a suggested duplicate (nothing is merged or dropped)."""
    case = cases.decide_duplicate_of(
        session, caller.scope, code, other, body.decision, caller.username, cipher
    )
    audit_caller(
        session, request, caller, f"duplicate.{body.decision}", f"case:{code}", {"other": other}
    )
    session.commit()
    return CaseOut.of(case, names_en(session, request))


@router.get("/categories", response_model=list[CategoryOut])
def list_categories(session: SessionDep, caller: CategoryReader) -> list[CategoryOut]:
    """The category catalogue: codes, Chinese and English names, kind, default severity."""
    return [CategoryOut.of(c) for c in cases.list_categories(session)]
