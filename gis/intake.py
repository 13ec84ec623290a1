"""Exactly-once intake: single reports and offline batches under client idempotency keys.

A device gives every report a UUID (``Idempotency-Key``) and may send it as often as it likes:

* first time — the case is created;
* again with the same content — the original case comes back (*replayed*), never a duplicate;
* again with different content — refused (the key belongs to another report);
* again while the first is still being processed — 409, try later.

The uniqueness of (reporter, key) is a database constraint; a transaction-scoped advisory lock
on the pair makes a parallel retry fail fast with 409 instead of waiting; the content is compared
by a keyed fingerprint (:meth:`PiiCipher.fingerprint`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gis.cases import CaseView, NewReport, Provenance, create_report, get_case
from gis.errors import Conflict, InvalidInput, WanggeError
from gis.pii import PiiCipher
from gis.scope import Scope

MAX_BATCH = 500
BatchStatus = Literal["created", "replayed", "conflict", "rejected"]


@dataclass(frozen=True)
class Submission:
    case: CaseView
    replayed: bool


@dataclass(frozen=True)
class BatchItem:
    """One item of an offline batch: its report (None if it failed validation) and key."""

    index: int
    key: UUID | None
    report: NewReport | None
    content: bytes = b""  # canonical content, for the fingerprint
    error: WanggeError | None = None


@dataclass(frozen=True)
class BatchResult:
    index: int
    status: BatchStatus
    http_status: int
    case: CaseView | None = None
    error: WanggeError | None = None


def _lock_id(user_id: int, key: UUID) -> int:
    digest = hashlib.sha256(f"{user_id}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def submit_report(
    session: Session,
    scope: Scope,
    user_id: int,
    key: UUID,
    report: NewReport,
    content: bytes,
    cipher: PiiCipher,
) -> Submission:
    """Create the case for ``report`` once per (user, key); replay it afterwards."""
    if not session.execute(
        text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": _lock_id(user_id, key)}
    ).scalar():
        raise Conflict(
            "同一 Idempotency-Key 的上报正在处理中，请稍后重试。",
            "A report with this Idempotency-Key is being processed; retry shortly.",
        )
    fingerprint = cipher.fingerprint(content)
    existing = session.execute(
        text(
            "SELECT code, request_fingerprint FROM cases "
            "WHERE reporter_id = :user AND idempotency_key = :key"
        ),
        {"user": user_id, "key": key},
    ).one_or_none()
    if existing is not None:
        if bytes(existing.request_fingerprint or b"") != fingerprint:
            raise _key_reused()
        return Submission(get_case(session, scope, existing.code, cipher), replayed=True)
    try:
        with session.begin_nested():
            case = create_report(
                session, scope, report, cipher, Provenance(user_id, key, fingerprint)
            )
    except IntegrityError as e:  # the key's case exists but is no longer visible to the caller
        if "cases_reporter_key" not in str(e.orig):
            raise
        raise _key_reused() from e
    return Submission(case, replayed=False)


def _key_reused() -> InvalidInput:
    return InvalidInput(
        "该 Idempotency-Key 已用于另一份内容不同的上报；新的上报请使用新的 UUID。",
        "This Idempotency-Key was used for a different report; use a new UUID for a new report.",
        field="Idempotency-Key",
    )


def submit_batch(
    session: Session, scope: Scope, user_id: int, items: Iterable[BatchItem], cipher: PiiCipher
) -> list[BatchResult]:
    """Judge each item on its own (one savepoint each): one bad item never fails the rest."""
    results = []
    for item in items:
        if item.error is not None or item.report is None or item.key is None:
            error = item.error or InvalidInput("缺少上报内容。", "Missing report.")
            results.append(BatchResult(item.index, "rejected", error.status, error=error))
            continue
        try:
            with session.begin_nested():
                done = submit_report(
                    session, scope, user_id, item.key, item.report, item.content, cipher
                )
        except WanggeError as e:
            if isinstance(e, Conflict) or e.extra.get("field") == "Idempotency-Key":
                results.append(BatchResult(item.index, "conflict", 409, error=e))
            else:
                results.append(BatchResult(item.index, "rejected", e.status, error=e))
        else:
            if done.replayed:
                results.append(BatchResult(item.index, "replayed", 200, case=done.case))
            else:
                results.append(BatchResult(item.index, "created", 201, case=done.case))
    return results
