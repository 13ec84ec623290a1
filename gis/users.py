"""User accounts: create, change password, disable.  Used by ``wangge user …`` and the demo."""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis import audit
from gis.errors import Conflict, InvalidInput, NotFound
from gis.passwords import check_password_policy, hash_password
from gis.permissions import Role

_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{2,64}$")


def add_user(
    session: Session,
    username: str,
    role: Role,
    password: str,
    *,
    region_code: str | None = None,
    worker_code: str | None = None,
    display_name: str | None = None,
    actor: str = "cli",
) -> int:
    """Create a user; returns its id.  Non-admins need a region; a grid worker may be linked to a
    worker record (their grids), and then defaults to that worker's village."""
    if not _USERNAME.match(username):
        raise InvalidInput(
            "用户名只能包含字母、数字、下划线、点和连字符，2–64 个字符。",
            "User names use letters, digits, _ . - only, 2–64 characters.",
            field="username",
        )
    check_password_policy(username, password)
    worker_id = None
    if worker_code:
        worker = session.execute(
            text(
                "SELECT w.id, r.code FROM worker w LEFT JOIN region r ON r.id = w.region_id "
                "WHERE w.code = :code"
            ),
            {"code": worker_code},
        ).one_or_none()
        if worker is None:
            raise NotFound(f"没有编码为 {worker_code} 的网格员。", f"No worker {worker_code}.")
        worker_id, region_code = worker[0], region_code or worker[1]
    region_id = None
    if region_code:
        region_id = session.execute(
            text("SELECT id FROM region WHERE code = :code"), {"code": region_code}
        ).scalar()
        if region_id is None:
            raise NotFound(f"没有编码为 {region_code} 的行政区划。", f"No region {region_code}.")
    elif role is not Role.admin:
        raise InvalidInput(
            "除系统管理员外，用户必须属于一个行政区划（--region CODE）。",
            "Every user but an admin belongs to a region (--region CODE).",
            field="region",
        )
    if session.execute(text("SELECT 1 FROM app_user WHERE username = :u"), {"u": username}).first():
        raise Conflict(f"用户名 {username} 已存在。", f"User {username} already exists.")
    user_id = session.execute(
        text("""
        INSERT INTO app_user (username, display_name, role, region_id, worker_id, password_hash)
        VALUES (:username, :display_name, CAST(:role AS user_role), :region_id, :worker_id, :hash)
        RETURNING id
    """),
        {
            "username": username,
            "display_name": display_name,
            "role": role.value,
            "region_id": region_id,
            "worker_id": worker_id,
            "hash": hash_password(password),
        },
    ).scalar_one()
    audit.record(
        session,
        "user.add",
        success=True,
        username=actor,
        object=f"user:{username}",
        detail={"role": role.value, "region": region_code},
    )
    return int(user_id)


def set_password(session: Session, username: str, password: str, actor: str = "cli") -> None:
    """Change a password (policy checked) and end the user's sessions."""
    check_password_policy(username, password)
    user_id = session.execute(
        text("""
        UPDATE app_user SET password_hash = :hash, password_changed_at = clock_timestamp(),
                            failed_logins = 0, locked_until = NULL
        WHERE username = :username RETURNING id
    """),
        {"hash": hash_password(password), "username": username},
    ).scalar()
    if user_id is None:
        raise NotFound(f"没有用户 {username}。", f"No user {username}.")
    end_sessions(session, user_id)
    audit.record(session, "user.passwd", success=True, username=actor, object=f"user:{username}")


def disable_user(session: Session, username: str, actor: str = "cli") -> None:
    """Disable an account and end its sessions (the row stays, for the audit trail)."""
    user_id = session.execute(
        text("UPDATE app_user SET disabled = true WHERE username = :username RETURNING id"),
        {"username": username},
    ).scalar()
    if user_id is None:
        raise NotFound(f"没有用户 {username}。", f"No user {username}.")
    end_sessions(session, user_id)
    audit.record(session, "user.disable", success=True, username=actor, object=f"user:{username}")


def end_sessions(session: Session, user_id: int) -> None:
    """Revoke every open session of a user (their role, jurisdiction or password changed)."""
    session.execute(
        text(
            "UPDATE auth_session SET revoked_at = clock_timestamp() "
            "WHERE user_id = :id AND revoked_at IS NULL"
        ),
        {"id": user_id},
    )
