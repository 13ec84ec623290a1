"""The closed loop over HTTP: actions, department responses, the center's queue, ratings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy.orm import Session

from api.deps import (
    CipherDep,
    Handler,
    Noter,
    QueryOffset,
    SessionDep,
    Verifier,
    audit_caller,
    names_en,
    request_lang,
)
from api.schemas import (
    CASE_CODE_PATTERN,
    ActionIn,
    CaseDetailOut,
    CaseLocationIn,
    DispatchResponseIn,
    NoteIn,
    PartyIn,
    PartyOut,
    QueueOut,
    RatingIn,
    VerifyIn,
)
from gis import cases, workflow
from gis.auth import Principal
from gis.pii import PiiCipher
from gis.plausibility import check_location, device_point
from gis.scope import Scope, bind_scope

router = APIRouter(prefix="/api", tags=["workflow 办理"])
CaseCode = Annotated[str, Path(pattern=CASE_CODE_PATTERN, description="case code 案件编码")]


def actor_of(caller: Principal) -> workflow.Actor:
    return workflow.Actor(caller.username, caller.scope, caller.can("case:handle"))


def case_detail(
    session: Session,
    caller: Principal,
    code: str,
    cipher: PiiCipher,
    request: Request,
    *,
    unmask: bool = False,
) -> CaseDetailOut:
    """A case with its workflow (events, dispatches, version, allowed actions, the caller's
    own); its category and source named in the caller's language; ``unmask``: its personal
    data as stored (the caller checked ``pii:read`` and audits it)."""
    scope = caller.scope
    return CaseDetailOut.of_workflow(
        cases.get_case(session, scope, code, cipher, unmask=unmask),
        workflow.workflow_view(
            session, scope, code, unmask=unmask, handles=caller.can("case:handle")
        ),
        names_en(session, request),
    )


@router.post("/cases/{code}/actions", response_model=CaseDetailOut)
def case_action(
    code: CaseCode,
    body: ActionIn,
    session: SessionDep,
    caller: Handler,
    cipher: CipherDep,
    request: Request,
) -> CaseDetailOut:
    """One move through the closed loop (受理、派遣、办结、回访、结案、退回、转办、上报、延期 …).

    An illegal move → 409 with the current state and the allowed actions; a case changed by
    someone else since ``version`` → 409."""
    workflow.act(session, actor_of(caller), code, workflow.ActionRequest(**body.model_dump()))
    audit_caller(session, request, caller, f"case.{body.action}", f"case:{code}")
    session.commit()
    return case_detail(session, caller, code, cipher, request)


def _made_or_replayed(
    made: bool,
    session: Session,
    request: Request,
    caller: Principal,
    response: Response,
    action: str,
    code: str,
    detail: dict | None = None,
) -> None:
    """A change made on case ``code`` is audited (``action``) and committed; the same one sent
    again (a phone's queue whose answer was lost: ``made`` False) is said in the answer's
    ``Idempotent-Replayed`` header, and nothing is written."""
    if made:
        audit_caller(session, request, caller, action, f"case:{code}", detail)
        session.commit()
    else:
        response.headers["Idempotent-Replayed"] = "true"


@router.post(
    "/cases/{code}/verify",
    response_model=CaseDetailOut,
    responses={
        403: {"description": "not a case of your grids (a grid worker), or of your center"},
        404: {"description": "no such case in your area"},
        409: {"description": "the case is not resolved (any more), or changed since version"},
        422: {"description": "not resolved, and no note of what was found"},
    },
)
def verify_case(
    code: CaseCode,
    body: VerifyIn,
    session: SessionDep,
    caller: Verifier,
    cipher: CipherDep,
    request: Request,
    response: Response,
) -> CaseDetailOut:
    """现场核查 (回访): a resolved case followed up on the spot by the grid worker of its grid
    (or by its center, as the ``verify`` action).  Put right: verified, for the center to close;
    not: reopened for another round, with the note of what was found.  The same verification
    sent again (its answer lost) is answered as the first was, with ``Idempotent-Replayed:
    true``, the case not moved again."""
    moved = workflow.verify_on_site(
        session, actor_of(caller), code, body.resolved, body.note or None, body.version
    )
    _made_or_replayed(
        moved, session, request, caller, response, "case.verify", code, {"resolved": body.resolved}
    )
    return case_detail(session, caller, code, cipher, request)


@router.post("/cases/{code}/dispatches/{dispatch_id}", response_model=CaseDetailOut)
def dispatch_response(
    code: CaseCode,
    dispatch_id: Annotated[int, Path(ge=1)],
    body: DispatchResponseIn,
    session: SessionDep,
    caller: Handler,
    cipher: CipherDep,
    request: Request,
) -> CaseDetailOut:
    """A department's answer to a dispatch (accepted / done / cannot, with a reason).  When every
    department has answered, the case is resolved (or, if none could, back to accepted)."""
    workflow.respond(session, actor_of(caller), code, dispatch_id, body.response, body.note)
    audit_caller(
        session,
        request,
        caller,
        f"dispatch.{body.response}",
        f"case:{code}",
        {"dispatch": dispatch_id},
    )
    session.commit()
    return case_detail(session, caller, code, cipher, request)


@router.post(
    "/cases/{code}/parties",
    response_model=list[PartyOut],
    status_code=201,
    responses={
        403: {"description": "another center is responsible for the case"},
        404: {"description": "no such case in your area"},
        422: {"description": "invalid name, phone or ID number; or 20 people named already"},
    },
)
def add_case_party(
    code: CaseCode,
    body: PartyIn,
    session: SessionDep,
    caller: Handler,
    cipher: CipherDep,
    request: Request,
) -> list[PartyOut]:
    """补充当事人: name a person to a case after it was registered (stored encrypted; the
    case's history says a party was added, and in which role).  Their phone counts towards the
    repeat warning by resident (高频线索).  Answers with the case's parties, masked."""
    workflow.add_party(session, actor_of(caller), code, body.to_domain(), cipher)
    audit_caller(session, request, caller, "case.party_add", f"case:{code}", {"role": body.role})
    session.commit()
    parties = cases.case_parties(session, caller.scope, code, cipher, unmask=False)
    return [PartyOut.model_validate(p, from_attributes=True) for p in parties]


@router.post(
    "/cases/{code}/notes",
    response_model=CaseDetailOut,
    status_code=201,
    responses={
        200: {
            "model": CaseDetailOut,
            "description": "a replay: the same note sent again (Idempotent-Replayed: true)",
        },
        403: {"description": "another center is responsible for the case"},
        404: {"description": "no such case in your area"},
        422: {"description": "an empty note, or one over 2,000 characters"},
    },
)
def add_case_note(
    code: CaseCode,
    body: NoteIn,
    session: SessionDep,
    caller: Noter,
    cipher: CipherDep,
    request: Request,
    response: Response,
) -> CaseDetailOut:
    """办理记录: a note of what was done or learnt (a call made, a visit agreed, a grid worker's
    findings on the spot) in the case's history, without moving the case.  By its responsible
    center or one above, or a grid worker of its area.  Not shown on the resident's tracking
    page.  The same note sent again by the same person (its answer lost), while it is still the
    case's last event and within a day, is answered 200 with ``Idempotent-Replayed: true``, not
    written twice."""
    written = workflow.add_note(session, actor_of(caller), code, body.note)
    _made_or_replayed(written, session, request, caller, response, "case.note", code)
    if not written:
        response.status_code = 200  # (nothing created)
    return case_detail(session, caller, code, cipher, request)


@router.post(
    "/cases/{code}/location",
    response_model=CaseDetailOut,
    responses={
        403: {
            "description": "another center is responsible, or the point is outside your area "
            "(a grid worker's: outside their own grids)"
        },
        404: {"description": "no such case in your area"},
        409: {"description": "the case has its point already, or changed since it was read"},
        422: {"description": "an implausible point"},
    },
)
def locate_case(
    code: CaseCode,
    body: CaseLocationIn,
    session: SessionDep,
    caller: Noter,
    cipher: CipherDep,
    request: Request,
    response: Response,
) -> CaseDetailOut:
    """补充位置: the point of a case filed by its village (or street) because no one could say
    where — once it is known.  In the datum it was given in (converted as a report's is), in
    the caller's area.  The point decides the case's grid and village (another than the one
    named: the history says so); the case appears on the maps and in the grid's figures, is
    linked to its possible duplicates.  Not yet accepted, it goes to the center responsible for
    the point; taken up, its center keeps it.  Its deadlines stay.  By its responsible
    center or one above, or by a grid worker of its village standing at the place: in one of
    their own grids (``case:note``, as their findings on the spot).  The same point sent again
    by the same person (its answer lost) is answered as the first was, with
    ``Idempotent-Replayed: true``, nothing changed."""
    where = body.location
    lon, lat = device_point(session, where.lon, where.lat, where.datum)
    check_location(session, lon, lat)
    given = workflow.locate_case(
        session,
        actor_of(caller),
        code,
        (where.lon, where.lat, where.datum),
        (lon, lat),
        where.accuracy_m,
        body.note,
        body.version,
    )
    _made_or_replayed(given, session, request, caller, response, "case.locate", code)
    return case_detail(session, caller, code, cipher, request)


@router.get("/queue", response_model=QueueOut)
def get_queue(
    session: SessionDep,
    caller: Handler,
    request: Request,
    status: Annotated[list[str], Query(description="states (default: every open one)")] = [],  # noqa: B006
    category: Annotated[str | None, Query(max_length=32)] = None,
    grid: Annotated[
        str | None, Query(pattern=r"^[0-9]{15}$", description="a grid's code (as the page's)")
    ] = None,
    overdue: bool | None = None,
    due_within_hours: Annotated[
        float | None, Query(gt=0, le=24 * 365, description="deadline within N (calendar) hours")
    ] = None,
    escalated_to_me: bool = False,
    below: Annotated[bool, Query(description="also the centers under yours")] = False,
    flagged: Annotated[
        bool, Query(description="only those with a repeat warning or a possible duplicate")
    ] = False,
    unplaced: Annotated[
        bool, Query(description="only those without a point (filed by their village: 位置待查明)")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: QueryOffset = 0,
) -> QueueOut:
    """Your center's cases, most urgent first (overdue, then deadline, then severity), with
    counts per state."""
    if category:
        cases.check_category(session, category)
    q = workflow.queue(
        session,
        caller.scope,
        statuses=status,
        category=category,
        grid=grid,
        overdue=overdue,
        due_within_hours=due_within_hours,
        escalated_to_me=escalated_to_me,
        below=below,
        flagged=flagged,
        unplaced=unplaced,
        limit=limit,
        offset=offset,
        lang=request_lang(request),
    )
    return QueueOut.of(q)


@router.post("/track/{token}/rating", tags=["public 公开"])
def rate_case(
    token: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="public tracking token")],
    body: RatingIn,
    session: SessionDep,
    request: Request,
) -> dict:
    """The resident rates the handling (1–5, once per case, after it is resolved).  A score ≤ 2
    or "not resolved" reopens the case.  ``message`` is in the caller's language
    (Accept-Language: Chinese, or English)."""
    bind_scope(session, Scope.everything())
    reopened = workflow.rate(session, token, body.score, body.resolved, body.comment)
    session.commit()
    if request_lang(request) == "en":
        message = "Thank you; the case is being handled again." if reopened else "Thank you."
    else:
        message = "感谢您的评价，案件已重新办理。" if reopened else "感谢您的评价。"
    return {"rated": True, "reopened": reopened, "message": message}
