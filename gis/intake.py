"""Exactly-once intake: single reports and offline batches under client idempotency keys.

A device gives every report a UUID (``Idempotency-Key``) and may send it as often as it likes:

* first time — the case is created;
* again with the same content — the original case comes back (*replayed*), never a duplicate;
* again with different content — refused (the key belongs to another report);
* again while the first is still being processed — 409, try later.

The uniqueness of (reporter, key) is a database constraint (the insert skips a key that exists,
and the item is then judged as a replay); a transaction-scoped advisory lock on the pair makes a
parallel retry fail fast with 409 instead of waiting; the content is compared by a keyed
fingerprint (:meth:`PiiCipher.fingerprint`).

One report and a batch of 500 take the same path, set-based: a handful of statements whatever the
number of reports — check (locks, known keys, categories, coverage), insert every accepted case
with its assignment (``wangge_assign``), code, deadline, repeat warning by place and audit entry
in one ``INSERT … SELECT``, then their first events, encrypted parties, duplicate links and the
repeat warning by resident (:func:`gis.repeats.register_new_cases`), then one read-back.  The two
writing statements are PL/pgSQL functions (migrations 0017, 0018, 0022), planned once per
connection; reports without parties are registered in the insert's call.
Each item is judged on its own: one bad item never fails the rest.

A batch may ask for the short answer (``brief``): each case as a :class:`CaseBrief` (code, state,
grid, deadline, public token), which the insert's call returns instead of the whole document
(migration 0072) — what a phone keeps of the reports it sent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.audit import audit_ip
from gis.cases import (
    KIND_NAMES,
    SEVERITY_NAMES,
    SHANGHAI,
    CaseView,
    NewReport,
    case_view,
    get_cases,
    list_categories,
)
from gis.db import execute_arrays
from gis.errors import Conflict, Forbidden, InvalidInput, WanggeError
from gis.pii import PiiCipher
from gis.plausibility import MAX_OUTSIDE_M, check_location, device_point, flags_for
from gis.repeats import PLACE_ARGS, REGISTER_ARGS, NewParty, register_new_cases
from gis.scope import Scope

MAX_BATCH = 500
BatchStatus = Literal["created", "replayed", "conflict", "rejected"]


@dataclass(frozen=True)
class Submission:
    case: CaseView
    replayed: bool


@dataclass(frozen=True)
class BatchItem:
    """One report to take in: its key, the report (None if it failed validation) and its
    canonical content (for the fingerprint)."""

    index: int
    key: UUID | None
    report: NewReport | None
    content: bytes = b""
    error: WanggeError | None = None


@dataclass(frozen=True)
class CaseBrief:
    """What a phone keeps of a case it reported (a batch's short answer): enough to send the
    photos after it, to say where it went and by when, and to show the resident's link."""

    code: str
    status: str
    grid_code: str | None
    deadline: datetime | None  # in Beijing time, as a whole case gives it
    public_token: str

    @classmethod
    def of(
        cls, code: str, status: str, grid_code: str | None, deadline: datetime | None, token: str
    ) -> CaseBrief:
        """From the database's columns (its deadline in whatever zone)."""
        return cls(code, status, grid_code, deadline and deadline.astimezone(SHANGHAI), token)


@dataclass(frozen=True)
class BatchResult:
    index: int
    status: BatchStatus
    http_status: int
    case: CaseView | CaseBrief | None = None
    error: WanggeError | None = None


@dataclass
class _Work:
    """An item on its way in."""

    item: BatchItem
    report: NewReport
    key: UUID
    fingerprint: bytes
    lon: float | None = None  # WGS 84 (None: a report filed by its region, ``NewReport.region``)
    lat: float | None = None
    flags: dict = field(default_factory=dict)
    code: str | None = None  # the case, once created or found
    case_id: int | None = None
    method: str | None = None
    doc: dict | None = None  # the new case as the insert's call returned it (``case_view``)
    brief: CaseBrief | None = None  # or, for the short answer, that much of it


def _lock_id(user_id: int, key: UUID) -> int:
    digest = hashlib.sha256(f"{user_id}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _in_flight() -> Conflict:
    return Conflict(
        "同一 Idempotency-Key 的上报正在处理中，请稍后重试。",
        "A report with this Idempotency-Key is being processed; retry shortly.",
    )


def _key_reused() -> InvalidInput:
    return InvalidInput(
        "该 Idempotency-Key 已用于另一份内容不同的上报；新的上报请使用新的 UUID。",
        "This Idempotency-Key was used for a different report; use a new UUID for a new report.",
        field="Idempotency-Key",
    )


#: a grid worker whose account has no grid yet: nothing they report can be registered
NO_GRIDS = (
    "您的账号还没有负责的网格，暂时不能上报；请联系所在综治中心在网格档案的「网格员配备」"
    "中为您配置网格。",
    "Your account has no grid yet, so what you report cannot be registered; ask your center "
    "to assign you grids (on a grid's page, under Grid workers).",
)


def _outside(scope: Scope, named: bool = False) -> Forbidden:
    if scope.grid_codes is not None and not scope.grid_codes:
        return Forbidden(*NO_GRIDS)
    where = "您负责的网格" if scope.grid_codes is not None else "您的管辖范围"
    if named:
        return Forbidden(
            f"该村（社区）不在{where}内，无法以您的账号登记；请核对所选地名或转交所属综治中心。",
            "This village or township is outside the area you may act in; check the place or "
            "pass the report to the center responsible for it.",
            field="region",
        )
    return Forbidden(
        f"该位置不在{where}内，无法以您的账号登记；请核对位置或转交所属综治中心。",
        "This location is outside the area you may act in; check the position or pass the "
        "report to the center responsible for it.",
    )


def submit_report(
    session: Session,
    scope: Scope,
    user_id: int,
    key: UUID,
    report: NewReport,
    content: bytes,
    cipher: PiiCipher,
    source_ip: str | None = None,
) -> Submission:
    """Create the case for ``report`` once per (user, key); replay it afterwards.

    Raises the item's error: 409 in flight, 422 key reused or invalid, 403 outside the caller's
    area."""
    (result,) = accept_reports(
        session, scope, user_id, [BatchItem(0, key, report, content)], cipher, source_ip=source_ip
    )
    if result.case is None:
        assert result.error is not None
        raise result.error
    assert isinstance(result.case, CaseView)  # (never brief: asked for whole)
    return Submission(result.case, replayed=result.status == "replayed")


def submit_batch(
    session: Session,
    scope: Scope,
    user_id: int,
    items: Sequence[BatchItem],
    cipher: PiiCipher,
    source_ip: str | None = None,
    brief: bool = False,
) -> list[BatchResult]:
    """Judge each item on its own: created, replayed, conflict (409: in flight, or the key used
    for other content) or rejected (the item's 4xx).  One bad item never fails the rest.
    ``brief``: each case as a :class:`CaseBrief`, not whole."""
    results = accept_reports(
        session, scope, user_id, items, cipher, source_ip=source_ip, batch=True, brief=brief
    )
    out = []
    for r in results:
        if r.error is not None and (
            isinstance(r.error, Conflict) or r.error.extra.get("field") == "Idempotency-Key"
        ):
            out.append(BatchResult(r.index, "conflict", 409, error=r.error))
        else:
            out.append(r)
    return out


# The insert is one call (migration 0017, ``wangge_intake_insert``): lock each key, check its
# category and that the point lies in the coverage, locate, insert the cases (a key already taken
# is skipped by the constraint) and their audit entries.  (Not their events: under row-level
# security an event's policy must see its case, which the insert's own statement cannot.)  Items
# it did not insert are diagnosed after (_PRECHECK).  A function, so that its plan lives as long
# as the connection: planning cost more than running it.
_INSERT_ARGS = """
        :user, :actor, CAST(:source_ip AS inet), :batch, :max_outside_m,
        :scope_column, :scope_code, CAST(:scope_grids AS text[]),
        CAST(:idx AS int[]), CAST(:lock AS bigint[]), CAST(:kind AS text[]),
        CAST(:category AS text[]), CAST(:severity AS text[]), CAST(:description AS text[]),
        CAST(:datum AS text[]), CAST(:received_lon AS float8[]),
        CAST(:received_lat AS float8[]), CAST(:lon AS float8[]), CAST(:lat AS float8[]),
        CAST(:accuracy_m AS float8[]), CAST(:reported_at AS timestamptz[]),
        CAST(:key AS uuid[]), CAST(:fingerprint AS bytea[]), CAST(:flags AS text[]),
        CAST(:parties AS int[]), CAST(:source AS text[])"""
_INSERT_CASES = (
    "SELECT case_id, case_code, key, method "
    f"FROM wangge_intake_insert({_INSERT_ARGS}, {PLACE_ARGS})"
)
# Reports without parties are registered in the same call (migration 0018,
# ``wangge_intake_accept``): one round trip and one statement less.  Parties are encrypted bound
# to their new case's id, so reports with parties are registered in a second call.  The call
# returns each new case's document too (migration 0023), from which the reply is built: no
# read-back after it.
_ACCEPT_CASES = (
    "SELECT case_id, case_code, key, method, doc "
    f"FROM wangge_intake_accept({_INSERT_ARGS}, {REGISTER_ARGS})"
)
# the same, returning of each new case what a brief answer says (migration 0072)
_ACCEPT_BRIEF = (
    "SELECT case_id, case_code, key, method, status, grid_code, deadline, public_token "
    f"FROM wangge_intake_accept_brief({_INSERT_ARGS}, {REGISTER_ARGS})"
)
# the brief of cases the insert's call did not return (replays; reports with parties)
_BRIEFS = """
    SELECT c.code, c.status, c.grid_code, c.deadline, c.public_token FROM cases c
    WHERE c.code = ANY(CAST(:codes AS varchar[])) AND {in_scope}
"""

# Why was an item not inserted?  Its key is in flight or taken, its category unknown, its point
# outside the coverage — or else outside the caller's area.
# A key's case is looked up by user *and* key through a lateral LIMIT: as a join (or with
# ``= ANY``) the planner may read every case of the user and filter the keys after, when the
# statistics have few cases with a reporter (a city with years of imported history).
_PRECHECK = text("""
    SELECT i.idx, pg_try_advisory_xact_lock(i.lock) AS locked,
           c.code AS existing, c.request_fingerprint AS fingerprint,
           k.kind::text AS category_kind,
           (i.lon IS NULL  -- (filed by its region: looked up before)
            OR NOT EXISTS (SELECT 1 FROM region WHERE parent_id IS NULL)
            OR EXISTS (SELECT 1 FROM region r WHERE r.parent_id IS NULL
                       AND ST_Covers(r.geom, ST_SetSRID(ST_MakePoint(i.lon, i.lat), 4326))))
               AS inside
    FROM unnest(CAST(:idx AS int[]), CAST(:lock AS bigint[]), CAST(:key AS uuid[]),
                CAST(:category AS text[]), CAST(:lon AS float8[]), CAST(:lat AS float8[]))
         AS i(idx, lock, key, category, lon, lat)
    LEFT JOIN LATERAL (SELECT c.code, c.request_fingerprint FROM cases c
                       WHERE c.reporter_id = :user AND c.idempotency_key = i.key LIMIT 1) c
           ON true
    LEFT JOIN category k ON k.code = i.category
    ORDER BY i.idx
""")

_KNOWN_KEYS = text("""
    SELECT c.idempotency_key, c.code, c.request_fingerprint
    FROM unnest(CAST(:keys AS uuid[])) AS k(key)
    CROSS JOIN LATERAL (SELECT idempotency_key, code, request_fingerprint FROM cases
                        WHERE reporter_id = :user AND idempotency_key = k.key LIMIT 1) c
""")


#: the severities a reporter may settle on the spot (就地化解); graver ones are the center's
ON_SITE_SEVERITIES = ("minor", "normal")
# 就地化解: the new cases settled on the spot are registered resolved, the reporter's account of
# it their second event (the center then follows up: 回访, then closes)
_ON_SITE = text("""
    WITH moved AS (
        UPDATE cases c SET status = 'resolved', version = c.version + 1
        FROM unnest(CAST(:ids AS bigint[]), CAST(:notes AS text[])) AS r(id, note)
        WHERE c.id = r.id AND c.status = 'registered'
        RETURNING c.id, r.note
    )
    INSERT INTO case_event (case_id, actor, action, from_status, to_status, note)
    SELECT id, :actor, 'on_site', 'registered', 'resolved', note FROM moved
""")


def _too_grave(severity: str) -> InvalidInput:
    return InvalidInput(
        f"「{SEVERITY_NAMES.get(severity, severity)}」事件须由综治中心处置，不能就地化解；"
        "请去掉就地化解情况后上报。",
        f"A {severity} matter is for the center to handle, not to settle on the spot: send it "
        "without on_site_resolution.",
        field="on_site_resolution",
    )


# each new case's number in its channel (来源编号, migration 0036), where the report gave one
_SOURCE_REFS = text("""
    UPDATE cases c SET source_ref = r.ref
    FROM unnest(CAST(:ids AS bigint[]), CAST(:refs AS text[])) AS r(id, ref)
    WHERE c.id = r.id
""")


def accept_reports(
    session: Session,
    scope: Scope,
    user_id: int,
    items: Sequence[BatchItem],
    cipher: PiiCipher,
    *,
    source_ip: str | None = None,
    batch: bool = False,
    brief: bool = False,
) -> list[BatchResult]:
    """Take in ``items`` (set-based; see the module docstring).  Results in item order; errors
    are per item.  Each created case is audited (``case.create``, from ``source_ip``).
    ``brief``: each case as a :class:`CaseBrief`, not whole."""
    results: dict[int, BatchResult] = {}
    first_of_key: dict[UUID, _Work] = {}
    repeats: list[_Work] = []  # a key seen earlier in the same batch
    work: list[_Work] = []
    now = datetime.now(UTC)  # the device times are judged against it (``clock_suspect``)
    severities: dict[str, str] | None = None  # category → default severity, when needed
    for item in items:
        if item.error is not None or item.report is None or item.key is None:
            error = item.error or InvalidInput("缺少上报内容。", "Missing report.")
            results[item.index] = BatchResult(item.index, "rejected", error.status, error=error)
            continue
        w = _Work(item, item.report, item.key, cipher.fingerprint(item.content))
        if item.key in first_of_key:
            repeats.append(w)
            continue
        first_of_key[item.key] = w
        try:
            if w.report.region is None:
                lon, lat = w.report.lon, w.report.lat
                assert lon is not None and lat is not None  # (the API asks for one or the other)
                w.lon, w.lat = device_point(session, lon, lat, w.report.datum)
        except WanggeError as e:
            results[item.index] = BatchResult(item.index, "rejected", e.status, error=e)
            continue
        w.flags = flags_for(w.report.accuracy_m, w.report.reported_at, now)
        if w.report.on_site_resolution:
            if severities is None:  # (the categories' own, once a call, for those reports only)
                rows = session.execute(text("SELECT code, default_severity::text FROM category"))
                severities = {code: severity for code, severity in rows}
            severity = w.report.severity or severities.get(w.report.category)
            if severity not in (None, *ON_SITE_SEVERITIES):
                error = _too_grave(severity)
                results[item.index] = BatchResult(item.index, "rejected", error.status, error=error)
                continue
        work.append(w)
    named = [w for w in work if w.report.region is not None]
    if named:  # (a desk's reports filed by their region: rare, a statement more for them)
        for w, level in _unknown_regions(session, named):
            error = _region_error(w.report.region or "", level)
            results[w.item.index] = BatchResult(w.item.index, "rejected", error.status, error=error)
        work = [w for w in work if w.item.index not in results]
        named = [w for w in work if w.report.region is not None]
    pointed = [w for w in work if w.report.region is None]

    replays: list[_Work] = []
    one_call = not any(w.report.parties for w in pointed)  # registered in the insert's call
    if pointed:
        _insert(session, scope, user_id, pointed, source_ip, batch, one_call, brief)
    if named:
        _insert_named(session, scope, user_id, named, source_ip, batch)
    missing = [w for w in work if w.case_id is None]
    if missing:
        _diagnose(session, scope, user_id, missing, results, replays)
    created = [w for w in work if w.case_id is not None]
    unregistered = [w for w in created if w.report.region is not None or not one_call]
    if unregistered:
        register_new_cases(
            session,
            unregistered[0].report.reporter or "",
            [(w.case_id, w.method or "unassigned") for w in unregistered if w.case_id is not None],
            _parties(unregistered, cipher),
        )
    refs = [w for w in created if w.report.source_ref]
    if refs:  # (a desk's 12345 work order …: a statement more, for those reports only)
        session.execute(
            _SOURCE_REFS,
            {"ids": [w.case_id for w in refs], "refs": [w.report.source_ref for w in refs]},
        )
        for w in refs:
            if w.doc is not None:
                w.doc["source_ref"] = w.report.source_ref
    settled = [w for w in created if w.report.on_site_resolution]
    if settled:  # 就地化解 (a statement more, for those reports only)
        session.execute(
            _ON_SITE,
            {
                "ids": [w.case_id for w in settled],
                "notes": [w.report.on_site_resolution for w in settled],
                "actor": settled[0].report.reporter or "",
            },
        )
        for w in settled:
            if w.doc is not None:
                w.doc["status"] = "resolved"
            if w.brief is not None:
                w.brief = replace(w.brief, status="resolved")
    session.flush()

    views: dict[str, CaseView | CaseBrief]
    if brief:
        views = {w.code: w.brief for w in created if w.code and w.brief is not None}
    else:
        views = {w.code: case_view(w.doc, cipher) for w in created if w.code and w.doc is not None}
    codes = [w.code for w in created + replays if w.code and w.code not in views]
    if codes and brief:
        sql = _BRIEFS.format(in_scope=scope.case_condition("c"))
        views |= {r.code: CaseBrief.of(*r) for r in session.execute(text(sql), {"codes": codes})}
    elif codes:
        views |= {v.code: v for v in get_cases(session, scope, codes, cipher)}
    for w in created:
        results[w.item.index] = BatchResult(w.item.index, "created", 201, case=views[w.code or ""])
    for w in replays:
        view = views.get(w.code or "")
        if view is None:  # the key's case is no longer visible to the caller
            results[w.item.index] = _rejected(w, _key_reused())
        else:
            results[w.item.index] = BatchResult(w.item.index, "replayed", 200, case=view)
    for w in repeats:
        first = first_of_key[w.key]
        done = results[first.item.index]
        if w.fingerprint != first.fingerprint:
            results[w.item.index] = _rejected(w, _key_reused())
        elif done.case is not None:
            results[w.item.index] = BatchResult(w.item.index, "replayed", 200, case=done.case)
        else:
            results[w.item.index] = BatchResult(
                w.item.index, done.status, done.http_status, error=done.error
            )
    return [results[i.index] for i in items]


def _diagnose(
    session: Session,
    scope: Scope,
    user_id: int,
    missing: list[_Work],
    results: dict[int, BatchResult],
    replays: list[_Work],
) -> None:
    """Judge the items the insert skipped: in flight, replay, key reused, bad category, point
    outside the coverage (with the swap hint) or outside the caller's area."""
    rows = session.execute(
        _PRECHECK,
        {
            "user": user_id,
            "idx": [w.item.index for w in missing],
            "lock": [_lock_id(user_id, w.key) for w in missing],
            "key": [w.key for w in missing],
            "category": [w.report.category for w in missing],
            "lon": [w.lon for w in missing],
            "lat": [w.lat for w in missing],
        },
    ).all()
    by_index = {w.item.index: w for w in missing}
    outside: list[_Work] = []
    catalogue = None
    for row in rows:
        w = by_index[row.idx]
        try:
            if not row.locked:
                raise _in_flight()
            if row.existing is not None:
                if bytes(row.fingerprint or b"") != w.fingerprint:
                    raise _key_reused()
                w.code = row.existing
                replays.append(w)
                continue
            if row.category_kind != w.report.kind.value:
                catalogue = catalogue or list_categories(session)
                raise _category_error(catalogue, w.report)
            if not row.inside and w.lon is not None and w.lat is not None:
                check_location(session, w.lon, w.lat)  # raises unless within 20 km
            outside.append(w)
        except WanggeError as e:
            results[w.item.index] = _rejected(w, e)
    if not outside:
        return
    # Outside the caller's area — unless the key's case was committed by a parallel retry after
    # this statement's snapshot but before its lock (now held): look again with a fresh snapshot.
    known = {
        row.idempotency_key: row
        for row in session.execute(_KNOWN_KEYS, {"user": user_id, "keys": [w.key for w in outside]})
    }
    for w in outside:
        found = known.get(w.key)
        if found is None:
            results[w.item.index] = _rejected(w, _outside(scope, w.report.region is not None))
        elif bytes(found.request_fingerprint or b"") != w.fingerprint:
            results[w.item.index] = _rejected(w, _key_reused())
        else:
            w.code = found.code
            replays.append(w)


def _rejected(w: _Work, error: WanggeError) -> BatchResult:
    return BatchResult(w.item.index, "rejected", error.status, error=error)


def _category_error(catalogue: list, report: NewReport) -> InvalidInput:
    kind = report.kind.value
    known = {c.code: c for c in catalogue}
    category = known.get(report.category)
    if category is None:
        valid = ", ".join(c.code for c in catalogue if c.kind == kind)
        return InvalidInput(
            f"未知的案件类别 {report.category!r}。{KIND_NAMES[kind][0]}的有效类别：{valid}",
            f"Unknown category {report.category!r}. Valid {KIND_NAMES[kind][1]} categories: "
            f"{valid}",
            field="category",
        )
    return InvalidInput(
        f"类别 {category.code}（{category.name_zh}）属于{KIND_NAMES[category.kind][0]}，"
        f"与 kind={kind} 不符。",
        f"Category {category.code} ({category.name_en}) is a {category.kind}, not a {kind}.",
        field="category",
    )


def _params(
    scope: Scope, user_id: int, work: list[_Work], source_ip: str | None, batch: bool
) -> dict:
    """What both inserts take (a point's and a region's): the caller, their area, the items'
    keys and contents."""
    reports = [w.report for w in work]
    return {
        "scope_column": scope.case_column(),
        "scope_code": scope.region_code,
        "scope_grids": None if scope.grid_codes is None else sorted(scope.grid_codes),
        "user": user_id,
        "actor": reports[0].reporter,
        "source_ip": audit_ip(source_ip),
        "batch": batch,
        "idx": [w.item.index for w in work],
        "lock": [_lock_id(user_id, w.key) for w in work],
        "kind": [r.kind.value for r in reports],
        "category": [r.category for r in reports],
        "severity": [r.severity.value if r.severity else None for r in reports],
        "description": [r.description for r in reports],
        "reported_at": [r.reported_at for r in reports],
        "key": [w.key for w in work],
        "fingerprint": [w.fingerprint for w in work],
        "flags": [json.dumps(w.flags) for w in work],
        "parties": [len(r.parties) for r in reports],
        "source": [r.source for r in reports],
    }


def _insert(
    session: Session,
    scope: Scope,
    user_id: int,
    work: list[_Work],
    source_ip: str | None,
    batch: bool,
    register: bool,
    brief: bool = False,
) -> None:
    """Insert every insertable item's case in one statement (see ``_INSERT_CASES``); with
    ``register``, register them in the same call (``_ACCEPT_CASES``, or ``_ACCEPT_BRIEF`` for a
    ``brief`` answer)."""
    reports = [w.report for w in work]
    params = _params(scope, user_id, work, source_ip, batch) | {
        "max_outside_m": MAX_OUTSIDE_M,
        "datum": [r.datum for r in reports],
        "received_lon": [r.lon for r in reports],
        "received_lat": [r.lat for r in reports],
        "lon": [w.lon for w in work],
        "lat": [w.lat for w in work],
        "accuracy_m": [r.accuracy_m for r in reports],
    }
    by_key = {w.key: w for w in work}
    # the arrays in the binary format (gis.db.execute_arrays): a 500-report batch's cost
    # 23 ms more to send as text
    sql = (_ACCEPT_BRIEF if brief else _ACCEPT_CASES) if register else _INSERT_CASES
    for row in execute_arrays(session, sql, params):
        w = by_key[row.key]
        w.case_id, w.code, w.method = row.case_id, row.case_code, row.method
        if register and brief:
            w.brief = CaseBrief.of(
                row.case_code, row.status, row.grid_code, row.deadline, row.public_token
            )
        elif register:
            w.doc = row.doc


#: the levels of region a report may be filed by when its point is not known: a 村（社区）, or
#: at least its 乡镇（街道） (whose center takes it)
NAMED_LEVELS = ("village", "township")
LEVEL_NAMES_ZH = {"province": "省", "city": "市", "district": "区（县）"}


def region_not_for_grid_workers() -> InvalidInput:
    """A grid worker's report has its point: the phone's fix, or a tap on the map."""
    return InvalidInput(
        "网格员上报须带位置：请定位，或在地图上点选事发地点（按村（社区）登记只供综治中心使用）。",
        "A grid worker's report needs its point: locate the phone or tap the place on the map "
        "(filing by village is for a center's desk).",
        field="region",
    )


def _unknown_regions(session: Session, named: list[_Work]) -> list[tuple[_Work, str | None]]:
    """The reports filed by region (``NewReport.region``) whose code is no region's (level
    None), or a region too large to file a case by (a district's, a city's), with its level."""
    codes = sorted({w.report.region for w in named if w.report.region})
    levels: dict[str, str] = dict(
        session.execute(
            text("SELECT code, level::text FROM region WHERE code = ANY(CAST(:codes AS text[]))"),
            {"codes": codes},
        ).all()
    )
    found = [(w, levels.get(w.report.region or "")) for w in named]
    return [(w, level) for w, level in found if level not in NAMED_LEVELS]


def _region_error(code: str, level: str | None) -> InvalidInput:
    if level is None:
        return InvalidInput(
            f"没有代码为 {code} 的村（社区）或乡镇（街道）：请用「地名查找」选择。",
            f"No village or township has the code {code}: choose one with the place search.",
            field="region",
        )
    return InvalidInput(
        f"{code} 是{LEVEL_NAMES_ZH.get(level, level)}的代码：具体位置不详的案件须按村（社区）或乡镇"
        "（街道）登记，请选择其中之一。",
        f"{code} is a {level}'s code: a case whose point is not known is filed by its village or "
        "township; choose one of them.",
        field="region",
    )


# A desk's reports filed by their region (no point): checked as the point's are (key lock, key
# taken, category, the caller's area), given the region's chain and its center
# (``wangge_village_chain``: the lowest center on the way up), with no grid (method ``region``)
# and the deadlines of the category; audited.  Registered after, with their parties
# (``register_new_cases``): no duplicate link by place, the repeat warning by resident only.
_INSERT_NAMED = text("""
    WITH i AS MATERIALIZED (
        SELECT * FROM unnest(CAST(:idx AS int[]), CAST(:lock AS bigint[]),
                             CAST(:kind AS text[]), CAST(:category AS text[]),
                             CAST(:severity AS text[]), CAST(:description AS text[]),
                             CAST(:region AS text[]), CAST(:reported_at AS timestamptz[]),
                             CAST(:key AS uuid[]), CAST(:fingerprint AS bytea[]),
                             CAST(:flags AS text[]), CAST(:parties AS int[]),
                             CAST(:source AS text[]))
        AS i(idx, lock, kind, category, severity, description, region, reported_at, key,
             fingerprint, flags, parties, source)
    ), r AS MATERIALIZED (
        SELECT i.*, k.kind AS category_kind, sv.severity AS case_severity,
               coalesce(dr.work_hours, k.deadline_hours) AS h
        FROM i
        JOIN category k ON k.code = i.category AND k.kind::text = i.kind
        CROSS JOIN LATERAL (SELECT CAST(coalesce(i.severity, k.default_severity::text)
                                        AS case_severity) AS severity) sv
        LEFT JOIN deadline_rule dr ON dr.category = k.code AND dr.severity = sv.severity
    ), dl AS MATERIALIZED (
        SELECT d.h, wangge_work_at(clk.now + 0.8 * d.h) AS remind_at,
               wangge_work_at(clk.now + d.h) AS deadline,
               wangge_work_at(clk.now + 2 * d.h) AS notice_at
        FROM (SELECT DISTINCT h FROM r) d CROSS JOIN (SELECT wangge_work_clock(now()) AS now) clk
    ), a AS MATERIALIZED (
        SELECT r.*, ch.village_code, ch.township_code, ch.district_code, ch.city_code,
               ch.center_id
        FROM r
        JOIN region g ON g.code = r.region
        CROSS JOIN LATERAL wangge_village_chain(g.id) ch
        LEFT JOIN LATERAL (SELECT true AS taken FROM cases c
                           WHERE c.reporter_id = :user AND c.idempotency_key = r.key
                           LIMIT 1) k ON true
        WHERE pg_try_advisory_xact_lock(r.lock) AND k.taken IS NULL
          AND CAST(:scope_grids AS text[]) IS NULL  -- (a grid worker's area is grids)
          AND wangge_scope_has(ch.city_code, ch.district_code, ch.township_code,
                               ch.village_code, :scope_column, :scope_code)
    ), ins AS (
        INSERT INTO cases (code, kind, category, severity, description, datum, reported_at,
                           received_at, village_code, township_code, district_code, city_code,
                           center_id, assign_method, status, reporter_id, idempotency_key,
                           request_fingerprint, flags, allowed_hours, remind_at, deadline,
                           notice_at, source)
        SELECT wangge_case_code(now(), a.district_code), a.category_kind, a.category,
               a.case_severity, a.description, 'wgs84', coalesce(a.reported_at, now()), now(),
               a.village_code, a.township_code, a.district_code, a.city_code, a.center_id,
               'region', 'registered', :user, a.key, a.fingerprint, CAST(a.flags AS jsonb), a.h,
               dl.remind_at, dl.deadline, dl.notice_at, CAST(a.source AS case_source)
        FROM a JOIN dl ON dl.h = a.h
        ORDER BY a.idx
        ON CONFLICT ON CONSTRAINT cases_reporter_key DO NOTHING
        RETURNING id, code, idempotency_key, assign_method
    ), audit AS (
        INSERT INTO audit_log (user_id, username, action, object, success, source_ip, detail)
        SELECT :user, :actor, 'case.create', 'case:' || ins.code, true,
               CAST(:source_ip AS inet),
               jsonb_build_object('parties', i.parties, 'batch', CAST(:batch AS boolean),
                                  'region', i.region)
        FROM ins JOIN i ON i.key = ins.idempotency_key
    )
    SELECT id AS case_id, code AS case_code, idempotency_key AS key,
           assign_method::text AS method
    FROM ins
""")


def _insert_named(
    session: Session,
    scope: Scope,
    user_id: int,
    work: list[_Work],
    source_ip: str | None,
    batch: bool,
) -> None:
    """Insert the cases of the reports filed by their region (``_INSERT_NAMED``)."""
    params = _params(scope, user_id, work, source_ip, batch)
    rows = session.execute(_INSERT_NAMED, params | {"region": [w.report.region for w in work]})
    by_key = {w.key: w for w in work}
    for row in rows:
        w = by_key[row.key]
        w.case_id, w.code, w.method = row.case_id, row.case_code, row.method


def _parties(created: list[_Work], cipher: PiiCipher) -> list[NewParty]:
    """The new cases' parties, encrypted and bound to their case."""
    out = []
    for w in created:
        assert w.case_id is not None
        for p in w.report.parties:
            blobs = {
                column: None if value is None else cipher.encrypt(value, f"{w.case_id}:{column}")
                for column, value in (("name", p.name), ("phone", p.phone), ("id_card", p.id_card))
            }
            out.append(
                NewParty(
                    w.case_id,
                    p.role,
                    blobs["name"],
                    blobs["phone"],
                    blobs["id_card"],
                    cipher.phone_index(p.phone) if p.phone else None,
                )
            )
    return out
