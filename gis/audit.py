"""The audit trail (等保 2.0): who did what, to what, from where, and whether it worked.

``audit_log`` is append-only: a trigger refuses UPDATE, DELETE and TRUNCATE, and the app role is
granted only INSERT and SELECT.  An entry is written in the caller's transaction, so it commits
with the act it records; failures that roll back (a wrong password) are committed by the caller
on purpose.
"""

from __future__ import annotations

import json
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
