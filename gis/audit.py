"""The audit trail (等保 2.0): who did what, to what, from where, and whether it worked.

``audit_log`` is append-only: a trigger refuses UPDATE, DELETE and TRUNCATE, and the app role is
granted only INSERT and SELECT.  An entry is written in the caller's transaction, so it commits
with the act it records; failures that roll back (a wrong password) are committed by the caller
on purpose.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
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


@dataclass(frozen=True, slots=True)
class Trail:
    """Which entries of the trail: ``action`` and ``object`` match from their start (``pii``
    finds ``pii.view`` and ``pii.lookup``; ``case:9901…`` one case); ``until`` is excluded;
    ``address`` is a network address or a network (``203.0.113.7``, ``203.0.113.0/24``: the
    entries from inside it)."""

    username: str | None = None
    action: str | None = None
    object: str | None = None
    success: bool | None = None
    since: datetime | None = None
    until: datetime | None = None
    address: str | None = None
    #: the newest entry (by id) it holds: :meth:`as_of_now`
    upto: int | None = None

    def as_of_now(self, session: Session) -> Trail:
        """The same trail without the entries written after now (while it is being read)."""
        newest = session.execute(text("SELECT max(id) FROM audit_log")).scalar_one()
        return replace(self, upto=newest or 0)

    def _where(self) -> tuple[str, dict[str, Any]]:
        where = ["true"]
        params: dict[str, Any] = {}
        # a user name whatever the letters' case, as a login takes it (Grid_Worker …)
        for column, compared in (("username", "lower(username)"), ("action", "action"),
                                 ("object", "object")):  # fmt: skip
            if value := getattr(self, column):
                where.append(f"starts_with({compared}, :{column})")
                params[column] = value.lower() if column == "username" else value
        if self.address:
            where.append("source_ip <<= CAST(:address AS inet)")
            params["address"] = self.address
        for condition, name in (("success = :success", "success"), ("at >= :since", "since"),
                                ("at < :until", "until"), ("id <= :upto", "upto")):  # fmt: skip
            if getattr(self, name) is not None:
                where.append(condition)
                params[name] = getattr(self, name)
        return " AND ".join(where), params

    def count(self, session: Session) -> int:
        cond, params = self._where()
        return int(
            session.execute(
                text(f"SELECT count(*) FROM audit_log WHERE {cond}"), params
            ).scalar_one()
        )

    def entries(self, session: Session, limit: int, offset: int = 0) -> Iterator[Entry]:
        """The entries, newest first, as they are read (a thousand at a time)."""
        cond, params = self._where()
        rows = session.execute(
            text(f"""
            SELECT id, at, username, action, object, success, host(source_ip) AS source_ip,
                   detail
            FROM audit_log WHERE {cond} ORDER BY at DESC, id DESC LIMIT :limit OFFSET :offset
        """),
            params | {"limit": limit, "offset": offset},
            execution_options={"yield_per": 1000},
        )
        return (Entry(*row) for row in rows)


def entries(
    session: Session, trail: Trail, limit: int = 100, offset: int = 0
) -> tuple[int, list[Entry]]:
    """A page of the ``trail``, newest first, and how many entries it has in all."""
    return trail.count(session), list(trail.entries(session, limit, offset))
