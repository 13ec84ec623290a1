"""巡查打卡: grid workers' patrol check-ins in (one, or a phone's offline batch), and out as
GeoJSON for the desks' and leaders' pages."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status
from geojson_pydantic import FeatureCollection
from pydantic import ValidationError

from api.deps import (
    CipherDep,
    Patroller,
    PatrolReader,
    QueryDay,
    SessionDep,
    audit_caller,
    demand,
    request_lang,
)
from api.errors import idempotency_key as parse_key
from api.errors import invalid_item
from api.routers.geojson import GEOJSON_RESPONSES, RegionQuery, geojson_response
from api.schemas import (
    BatchPatrolIn,
    PatrolBatchIn,
    PatrolBatchItemOut,
    PatrolBatchOut,
    PatrolIn,
    PatrolOut,
)
from gis import boundaries, patrols
from gis.cases import SHANGHAI
from gis.permissions import Role

router = APIRouter(prefix="/api", tags=["patrols 巡查打卡"])
#: the longest period one list covers
MAX_DAYS = 31


@router.post(
    "/patrols",
    response_model=PatrolOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "a replay: the check-in this key already recorded"},
        400: {"description": "Idempotency-Key missing or not a UUID"},
        401: {"description": "not logged in"},
        403: {"description": "no patrol:record permission (grid workers check in)"},
        422: {"description": "invalid check-in, or the key already used for another one"},
    },
)
def check_in(
    body: PatrolIn,
    session: SessionDep,
    caller: Patroller,
    cipher: CipherDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="a UUID the device made for this check-in, the same on every retry",
        ),
    ] = None,
) -> Response:
    """Check in on patrol: where (any datum; located to its grid) and when (the device's time),
    with what was seen.  The same ``Idempotency-Key`` with the same content returns the
    check-in it recorded (200); a check-in outside the worker's own grids is kept, marked
    ``own_grid: false``."""
    key = parse_key(idempotency_key, ("每次打卡", "each check-in"))
    (result,) = patrols.record_patrols(
        session,
        caller.scope,
        caller.user_id,
        [patrols.PatrolItem(0, key, body.to_domain(), body.content())],
        cipher,
    )
    if result.patrol is None:
        assert result.error is not None
        raise result.error
    session.commit()
    replayed = result.status == "replayed"
    return Response(
        PatrolOut.of(result.patrol).model_dump_json(),
        status_code=status.HTTP_200_OK if replayed else status.HTTP_201_CREATED,
        media_type="application/json",
        headers={"Idempotent-Replayed": "true"} if replayed else None,
    )


@router.post("/patrols/batch", response_model=PatrolBatchOut)
def check_in_batch(
    body: PatrolBatchIn, session: SessionDep, caller: Patroller, cipher: CipherDep, request: Request
) -> Response:
    """Check-ins kept on a device while offline (≤ 500): each created, replayed, in conflict
    (its key used for another check-in) or rejected on its own; one bad item never fails the
    rest."""
    lang = request_lang(request)
    items = [_item(i, raw, lang) for i, raw in enumerate(body.patrols)]
    results = patrols.record_patrols(
        session, caller.scope, caller.user_id, items, cipher, batch=True
    )
    session.commit()
    out = [
        PatrolBatchItemOut(
            index=r.index,
            status=r.status,
            http_status=r.http_status,
            patrol=PatrolOut.of(r.patrol) if r.patrol else None,
            detail=r.error.localized(lang) if r.error else None,
            errors=r.error.extra.get("errors") if r.error else None,
        )
        for r in results
    ]
    counts = {
        s: sum(r.status == s for r in results)
        for s in ("created", "replayed", "conflict", "rejected")
    }
    return Response(
        PatrolBatchOut(**counts, results=out).model_dump_json(), media_type="application/json"
    )


def _item(index: int, raw: object, lang: str) -> patrols.PatrolItem:
    try:
        item = BatchPatrolIn.model_validate(raw)
    except ValidationError as e:
        return patrols.PatrolItem(index, None, None, error=invalid_item(e, lang))
    return patrols.PatrolItem(index, item.idempotency_key, item.to_domain(), item.content())


@router.get("/patrols", response_model=FeatureCollection, responses=GEOJSON_RESPONSES)
def list_patrols(
    session: SessionDep,
    caller: PatrolReader,
    request: Request,
    day: Annotated[
        QueryDay | None, Query(description="the last day (Beijing time); default: today")
    ] = None,
    days: Annotated[
        int, Query(ge=1, le=MAX_DAYS, description="how many days, ending with day")
    ] = 1,
    mine: Annotated[bool, Query(description="only my own check-ins")] = False,
    worker: Annotated[
        str | None, Query(max_length=20, description="grid worker code 网格员编号")
    ] = None,
    grid: Annotated[
        str | None, Query(pattern=r"^[0-9]{15}$", description="made in this grid 网格编码")
    ] = None,
    region: RegionQuery = None,
    unmask: Annotated[
        bool,
        Query(
            description="the phone and ID numbers typed into the notes as written (needs "
            "pii:read; audited)"
        ),
    ] = False,
) -> Response:
    """Patrol check-ins in your jurisdiction (or one ``region`` of it) as GeoJSON points, in
    time order: of a day (or ``days`` days ending with ``day``), of one ``worker``, of one
    ``grid``, or ``mine``.  A grid worker sees their own.  The phone and ID-card numbers typed
    into a note (巡查情况) are masked, as a case's are, unless ``unmask``."""
    if unmask:
        demand(caller, "pii:read")
    last = day or datetime.now(SHANGHAI).date()
    try:
        first = last - timedelta(days=days - 1)
    except OverflowError:
        raise patrols.day_out_of_range(last) from None
    since, until = patrols.day_bounds(first, days)
    own = mine or caller.role is Role.grid_worker
    scope = boundaries.narrow_scope(session, caller.scope, region)
    found_worker = None
    if worker is not None:
        found_worker = patrols.patrol_worker(session, scope, worker)
        if found_worker is None:
            raise patrols.unknown_worker(worker)
    found = patrols.list_patrols(
        session,
        scope,
        since=since,
        until=until,
        user_id=caller.user_id if own else None,
        worker_id=found_worker.id if found_worker else None,
        grid_code=grid,
        unmask=unmask,
    )
    if unmask:
        audit_caller(session, request, caller, "pii.view", "patrol", {"patrols": len(found)})
        session.commit()
    return geojson_response(json.dumps(patrols.patrols_geojson(found), ensure_ascii=False))
