"""The audit trail (等保 2.0): who did what, to what, from where, and whether it worked.

``audit_log`` is append-only: a trigger refuses UPDATE, DELETE and TRUNCATE, and the app role is
granted only INSERT and SELECT.  An entry is written in the caller's transaction, so it commits
with the act it records; failures that roll back (a wrong password) are committed by the caller
on purpose.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

_INSERT = text("""
    INSERT INTO audit_log (user_id, username, action, object, success, source_ip, detail)
    VALUES (:user_id, :username, :action, :object, :success, CAST(:source_ip AS inet),
            CAST(:detail AS jsonb))
""")


def record(
    session: Session,
    action: str,
    *,
    success: bool,
    user_id: int | None = None,
    username: str | None = None,
    object: str | None = None,
    source_ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one audit entry (flushes with the session's transaction)."""
    session.execute(
        _INSERT,
        {
            "user_id": user_id,
            "username": username,
            "action": action,
            "object": object,
            "success": success,
            "source_ip": audit_ip(source_ip),
            "detail": json.dumps(detail or {}, ensure_ascii=False),
        },
    )


def audit_ip(value: str | None) -> str | None:
    """Test clients report 'testclient'; only real addresses go into the inet column."""
    import ipaddress

    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    at: datetime
    username: str | None
    action: str
    object: str | None
    success: bool
    source_ip: str | None
    detail: dict[str, Any]


def entries(
    session: Session,
    *,
    username: str | None = None,
    action: str | None = None,
    object: str | None = None,
    success: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[Entry]]:
    """The trail, newest first: (how many match, the page asked for).  ``action`` and
    ``object`` match from their start (``pii`` finds ``pii.view`` and ``pii.lookup``;
    ``case:9901…`` one case); ``until`` is excluded."""
    where = ["true"]
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    for column, value in (("username", username), ("action", action), ("object", object)):
        if value:
            where.append(f"starts_with({column}, :{column})")
            params[column] = value
    if success is not None:
        where.append("success = :success")
        params["success"] = success
    if since is not None:
        where.append("at >= :since")
        params["since"] = since
    if until is not None:
        where.append("at < :until")
        params["until"] = until
    cond = " AND ".join(where)
    total = session.execute(
        text(f"SELECT count(*) FROM audit_log WHERE {cond}"), params
    ).scalar_one()
    rows = session.execute(
        text(f"""
        SELECT id, at, username, action, object, success, host(source_ip) AS source_ip, detail
        FROM audit_log WHERE {cond} ORDER BY at DESC, id DESC LIMIT :limit OFFSET :offset
    """),
        params,
    ).all()
    return int(total), [Entry(*row) for row in rows]
