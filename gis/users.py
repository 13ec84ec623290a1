"""User accounts: list, create, change password, disable, enable, unlock.

Used by ``wangge user …`` (the database owner, every account), the roster import, the demo and
the web's user management (用户管理, ``user:manage``).  From the web an administrator (an
:class:`Admin`) acts only on accounts in their jurisdiction — others are "not found", as cases
are; only a deployment-wide administrator adds administrators or acts on one; nobody disables
their own account.  Every change is in the audit trail, with who did it and from where.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis import audit, totp
from gis.auth import (
    OwnSession,
    Principal,
    check_credentials,
    recovery_context,
    sessions_of,
    totp_context,
)
from gis.db import like_containing
from gis.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound, WrongOtp
from gis.passwords import check_password_policy, hash_password
from gis.permissions import Role
from gis.pii import PiiCipher
from gis.scope import Scope
from gis.settings import Settings

_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{2,64}$")
#: at most this many accounts in one list (narrow it with words, a role or a region)
LIST_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Admin:
    """Who manages accounts from the web: their account, jurisdiction and address."""

    user_id: int
    username: str
    scope: Scope
    source_ip: str | None = None


@dataclass(frozen=True, slots=True)
class Account:
    """One user account as the administrator sees it (never its password hash)."""

    username: str
    display_name: str | None
    role: Role
    region_code: str | None
    region_name: str | None
    worker_code: str | None
    disabled: bool
    locked_until: datetime | None
    failed_logins: int
    created_at: datetime
    password_changed_at: datetime
    last_seen_at: datetime | None
    must_change_password: bool
    otp_enabled: bool
    #: a grid worker's: how many grids they answer for (0: none yet, so they may report
    #: nothing); None for the other roles
    grids: int | None = None


_ACCOUNTS = """
    SELECT u.username, u.display_name, CAST(u.role AS text) AS role, r.code AS region_code,
           r.name AS region_name, w.code AS worker_code, u.disabled,
           CASE WHEN u.locked_until > now() THEN u.locked_until END AS locked_until,
           u.failed_logins, u.created_at, u.password_changed_at,
           (SELECT max(s.last_seen_at) FROM auth_session s WHERE s.user_id = u.id) AS last_seen_at,
           u.must_change_password, u.totp_secret IS NOT NULL AS otp_enabled,
           CASE WHEN u.role = 'grid_worker' THEN (SELECT count(*) FROM worker_grid g
                                                  WHERE g.worker_id = u.worker_id) END AS grids
    FROM app_user u LEFT JOIN region r ON r.id = u.region_id
    LEFT JOIN worker w ON w.id = u.worker_id
"""


def _in_scope(scope: Scope) -> str:
    """SQL: account ``u`` (its region ``r``) lies in ``scope``; the deployment's administrators
    (no region) only in the whole deployment's.  Not the app-level filter of cases: accounts
    have no second wall of row-level security, so this check is always made."""
    return "true" if scope.is_everything else f"({int(scope.region_id or 0)} = ANY(r.path))"


def _account(row: object) -> Account:
    values = dict(row._mapping)  # type: ignore[attr-defined]
    values["role"] = Role(values["role"])
    return Account(**values)


def list_accounts(
    session: Session,
    scope: Scope,
    *,
    words: str | None = None,
    role: Role | None = None,
    region_code: str | None = None,
    idle_days: int | None = None,
    limit: int = LIST_LIMIT,
) -> list[Account]:
    """The accounts in ``scope``, by region then user name: those whose user name or name holds
    ``words``, of ``role``, in ``region_code`` or under it, and — ``idle_days`` — still enabled
    but unused for that many days (no request of any session since, or none since the account
    was made: 等保's 多余的、过期的账户); at most ``limit``."""
    where, params = [_in_scope(scope)], dict[str, object](limit=limit)
    if words:
        where.append("(u.username ILIKE :words OR u.display_name ILIKE :words)")
        params["words"] = like_containing(words.strip())
    if role is not None:
        where.append("u.role = CAST(:role AS user_role)")
        params["role"] = role.value
    if region_code:
        where.append("(SELECT id FROM region WHERE code = :region) = ANY(r.path)")
        params["region"] = region_code
    if idle_days:
        where.append(f"NOT u.disabled AND {_LAST_USE} < now() - make_interval(days => :idle)")
        params["idle"] = idle_days
    rows = session.execute(
        text(f"{_ACCOUNTS} WHERE {' AND '.join(where)} ORDER BY r.code NULLS FIRST, u.username "
             "LIMIT :limit"),
        params,
    ).all()  # fmt: skip
    return [_account(r) for r in rows]


# an account's last use: its sessions' last request, else when it was made
_LAST_USE = """coalesce((SELECT max(s.last_seen_at) FROM auth_session s WHERE s.user_id = u.id),
                         u.created_at)"""


def disable_idle(session: Session, days: int, actor: str = "cli") -> tuple[list[str], list[str]]:
    """Disable the accounts unused for ``days`` (:func:`list_accounts`' ``idle_days``), each
    audited as ``user.disable`` with the days; administrators are listed, never disabled (the
    last one would lock everybody out of 用户管理).  Returns (disabled, administrators left)."""
    idle = list_accounts(session, Scope.everything(), idle_days=days, limit=1_000_000)
    done, kept = [], []
    for account in idle:
        if account.role is Role.admin:
            kept.append(account.username)
            continue
        user_id = _user_id(session, account.username)
        session.execute(text("UPDATE app_user SET disabled = true WHERE id = :id"), {"id": user_id})
        end_sessions(session, user_id)
        _audit(session, None, actor, "user.disable", account.username, {"idle_days": days})
        done.append(account.username)
    return done, kept


def get_account(session: Session, scope: Scope, username: str) -> Account:
    """One account in ``scope`` (404 if there is none, or it is outside)."""
    row = session.execute(
        text(f"{_ACCOUNTS} WHERE u.username = :username AND {_in_scope(scope)}"),
        {"username": username},
    ).one_or_none()
    if row is None:
        raise NotFound(f"您的管辖范围内没有用户 {username}。", f"No user {username} in your area.")
    return _account(row)


def _may_act_on(by: Admin, account: Account, what: tuple[str, str]) -> None:
    """Refuse (403) what only a deployment-wide administrator may do to an administrator."""
    if account.role is Role.admin and not by.scope.is_everything:
        raise Forbidden(
            f"只有全系统的管理员才能{what[0]}管理员账号 {account.username}。",
            f"Only a deployment-wide administrator may {what[1]} the administrator "
            f"{account.username}.",
        )


def _audit(session: Session, by: Admin | None, actor: str, action: str, username: str,
           detail: dict | None = None) -> None:  # fmt: skip
    audit.record(
        session,
        action,
        success=True,
        user_id=by.user_id if by else None,
        username=by.username if by else actor,
        object=f"user:{username}",
        source_ip=by.source_ip if by else None,
        detail=({"via": "web"} if by else {}) | (detail or {}),
    )


#: the longest display name (the API's schema, api.schemas, uses the same)
DISPLAY_NAME_MAX = 64


def check_new_user(
    session: Session,
    username: str,
    role: Role,
    *,
    region_code: str | None = None,
    worker_code: str | None = None,
    display_name: str | None = None,
    by: Admin | None = None,
) -> tuple[int | None, int | None, str | None]:
    """What :func:`add_user` checks before the password: may ``by`` add it, the name's form and
    that it is free, the worker and the region (a grid worker's default: the worker's village).
    Returns the worker's id, the region's id and code.  (The command line checks these before
    asking for a password.)"""
    if by is not None and role is Role.admin and not by.scope.is_everything:
        raise Forbidden(
            "只有全系统的管理员才能新建管理员账号。",
            "Only a deployment-wide administrator may add administrators.",
        )
    if not _USERNAME.match(username):
        raise InvalidInput(
            "用户名只能包含字母、数字、下划线、点和连字符，2–64 个字符。",
            "User names use letters, digits, _ . - only, 2–64 characters.",
            field="username",
        )
    if display_name is not None and len(display_name.strip()) > DISPLAY_NAME_MAX:
        raise InvalidInput(  # (the API's schema says so too: the command line did not)
            f"显示名称至多 {DISPLAY_NAME_MAX} 个字符。",
            f"A display name has at most {DISPLAY_NAME_MAX} characters.",
            field="display_name",
        )
    worker_id = None
    if worker_code:
        worker_id, worker_region = _worker(session, by, worker_code)
        region_code = region_code or worker_region
    region_id = None
    if region_code:
        region_id = _region_id(session, by, region_code)
    elif role is not Role.admin:
        raise InvalidInput(
            "除系统管理员外，用户必须属于一个行政区划：请给出其区划代码（region；命令行为 "
            "--region）。",
            "Every user but an admin belongs to a region: give its code (region; on the command "
            "line, --region).",
            field="region",
        )
    taken = session.execute(
        text("SELECT username FROM app_user WHERE lower(username) = lower(:u) LIMIT 1"),
        {"u": username},
    ).scalar()
    if taken == username:
        raise Conflict(f"用户名 {username} 已存在。", f"User {username} already exists.")
    if taken is not None:  # logins match names regardless of case: this one would be that one
        raise Conflict(
            f"用户名 {username} 与已有账号 {taken} 只差字母大小写（登录时不区分大小写），"
            "请另取一个。",
            f"User name {username} differs from the existing {taken} only in letter case (logins "
            "ignore case): choose another.",
        )
    return worker_id, region_id, region_code


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
    by: Admin | None = None,
    must_change: bool | None = None,
) -> int:
    """Create a user; returns its id.  Non-admins need a region; a grid worker may be linked to a
    worker record (their grids), and then defaults to that worker's village.  ``by``: an
    administrator on the web, who adds accounts in their jurisdiction only (and administrators
    only if deployment-wide).  The user must change the password at the first login when
    ``must_change`` (by default: when an administrator on the web set it)."""
    worker_id, region_id, region_code = check_new_user(
        session, username, role, region_code=region_code, worker_code=worker_code,
        display_name=display_name, by=by,
    )  # fmt: skip
    check_password_policy(username, password)
    user_id = session.execute(
        text("""
        INSERT INTO app_user (username, display_name, role, region_id, worker_id, password_hash,
                              must_change_password)
        VALUES (:username, :display_name, CAST(:role AS user_role), :region_id, :worker_id, :hash,
                :must_change)
        RETURNING id
    """),
        {
            "username": username,
            "display_name": display_name,
            "role": role.value,
            "region_id": region_id,
            "worker_id": worker_id,
            "hash": hash_password(password),
            "must_change": by is not None if must_change is None else must_change,
        },
    ).scalar_one()
    _audit(session, by, actor, "user.add", username, {"role": role.value, "region": region_code})
    return int(user_id)


def _no_such_user(username: str) -> NotFound:
    return NotFound(f"没有用户 {username}。", f"No user {username}.")


def require_user(session: Session, username: str) -> None:
    """404 unless account ``username`` exists (the command line asks before a new password)."""
    if not session.execute(
        text("SELECT 1 FROM app_user WHERE username = :u"), {"u": username}
    ).first():
        raise _no_such_user(username)


def set_password(
    session: Session, username: str, password: str, actor: str = "cli", by: Admin | None = None
) -> None:
    """Change a password (policy checked), unlock the account and end the user's sessions.
    One set by an administrator on the web (``by``) must be changed at the next login."""
    if by is not None:
        _may_act_on(
            by, get_account(session, by.scope, username), ("重设密码", "reset the password of")
        )
    check_password_policy(username, password)
    user_id = session.execute(
        text("""
        UPDATE app_user SET password_hash = :hash, password_changed_at = clock_timestamp(),
                            failed_logins = 0, locked_until = NULL, must_change_password = :web
        WHERE username = :username RETURNING id
    """),
        {"hash": hash_password(password), "username": username, "web": by is not None},
    ).scalar()
    if user_id is None:
        raise _no_such_user(username)
    end_sessions(session, user_id)
    _audit(session, by, actor, "user.passwd", username)


def change_own_password(
    session: Session,
    caller: Principal,
    current: str,
    new: str,
    settings: Settings,
    source_ip: str | None = None,
) -> None:
    """A user changes their own password: the current one checked (a wrong one counts as a
    failed login), the new one held to the policy; their other sessions end, this one stays."""
    try:
        check_credentials(session, caller.username, current, settings, source_ip, "user.passwd")
    except NotAuthenticated:
        raise InvalidInput(
            "当前密码不正确。", "The current password is wrong.", field="current_password"
        ) from None
    if new == current:
        raise InvalidInput(
            "新密码不能与当前密码相同。",
            "The new password must differ from the current one.",
            field="new_password",
        )
    check_password_policy(caller.username, new)
    session.execute(
        text("""UPDATE app_user SET password_hash = :hash, password_changed_at = clock_timestamp(),
                       must_change_password = false
                WHERE id = :id"""),
        {"hash": hash_password(new), "id": caller.user_id},
    )
    end_sessions(session, caller.user_id, keep=caller.session_id)
    if caller.session_id is not None:  # (a session opened with the password expired: free now)
        session.execute(
            text("UPDATE auth_session SET password_expired = false WHERE id = :id"),
            {"id": caller.session_id},
        )
    me = Admin(caller.user_id, caller.username, caller.scope, source_ip)
    _audit(session, me, "", "user.passwd", caller.username, {"via": "self"})


def disable_user(
    session: Session, username: str, actor: str = "cli", by: Admin | None = None
) -> None:
    """Disable an account and end its sessions (the row stays, for the audit trail)."""
    if by is not None:
        _may_act_on(by, get_account(session, by.scope, username), ("停用", "disable"))
        if username == by.username:
            raise Conflict(
                "不能停用自己的账号（请另一位管理员操作）。",
                "You cannot disable your own account (ask another administrator).",
            )
    user_id = session.execute(
        text("UPDATE app_user SET disabled = true WHERE username = :username RETURNING id"),
        {"username": username},
    ).scalar()
    if user_id is None:
        raise _no_such_user(username)
    end_sessions(session, user_id)
    _audit(session, by, actor, "user.disable", username)


def log_out_user(
    session: Session, username: str, actor: str = "cli", by: Admin | None = None
) -> None:
    """强制下线: end every session of an account (a phone lost, a wall screen left logged in
    somewhere it should not be), without disabling it: its user logs in again.  Never one's own
    (a user ends their own sessions elsewhere on 我的账号).  Audited as ``user.logout``, with the
    number of sessions ended."""
    if by is not None:
        _may_act_on(by, get_account(session, by.scope, username), ("强制下线", "log out"))
        if username == by.username:
            raise Conflict(
                "不能对自己的账号强制下线；请在「我的账号」的我的登录中退出其他登录。",
                "You cannot log yourself out here: end your other sessions under My account.",
            )
    ended = end_sessions(session, _user_id(session, username))
    _audit(session, by, actor, "user.logout", username, {"sessions": ended})


def user_sessions(
    session: Session, by: Admin, username: str, settings: Settings
) -> list[OwnSession]:
    """登录设备: where an account of the administrator's area is logged in (its sessions in
    force, the most recently used first), to end one of them (a lost phone) and leave the
    others.  An administrator's only for a deployment-wide administrator."""
    _may_act_on(by, get_account(session, by.scope, username), ("查看", "see the sessions of"))
    return sessions_of(session, _user_id(session, username), settings)


def end_user_session(session: Session, by: Admin, username: str, session_id: int) -> None:
    """End one session of an account (the phone that was lost, the screen somewhere it should
    not be); its other sessions go on.  Never one's own here (我的账号 does that).  Audited as
    ``user.session_end``.  A session that is not the account's, or not in force, is a 404."""
    _may_act_on(by, get_account(session, by.scope, username), ("结束", "end a session of"))
    if username == by.username:
        raise Conflict(
            "自己的登录请在「我的账号」的我的登录中退出。",
            "End your own sessions under My account.",
        )
    ended = session.execute(
        text("""
        UPDATE auth_session SET revoked_at = clock_timestamp()
        WHERE id = :id AND user_id = :user AND revoked_at IS NULL
          AND expires_at > clock_timestamp()
        RETURNING id
    """),
        {"id": session_id, "user": _user_id(session, username)},
    ).first()
    if ended is None:
        raise NotFound(
            f"用户 {username} 没有编号为 {session_id} 的有效登录（可能已结束或过期）。",
            f"{username} has no session {session_id} in force (it may have ended or expired).",
        )
    _audit(session, by, by.username, "user.session_end", username, {"session": session_id})


def _user_id(session: Session, username: str) -> int:
    user_id = session.execute(
        text("SELECT id FROM app_user WHERE username = :username"), {"username": username}
    ).scalar()
    if user_id is None:
        raise _no_such_user(username)
    return int(user_id)


def enable_user(
    session: Session, username: str, actor: str = "cli", by: Admin | None = None
) -> None:
    """Let a disabled account log in again (with the password it had)."""
    _set_state(session, username, actor, by, "enable", "disabled = false")


def unlock_user(
    session: Session, username: str, actor: str = "cli", by: Admin | None = None
) -> None:
    """End the lock of an account after failed logins (it may try again at once)."""
    _set_state(session, username, actor, by, "unlock", "failed_logins = 0, locked_until = NULL")


def _set_state(
    session: Session, username: str, actor: str, by: Admin | None, action: str, assignments: str
) -> None:
    if by is not None:
        what = {"enable": ("启用", "enable"), "unlock": ("解锁", "unlock")}[action]
        _may_act_on(by, get_account(session, by.scope, username), what)
    found = session.execute(
        text(f"UPDATE app_user SET {assignments} WHERE username = :u RETURNING id"),
        {"u": username},
    ).scalar()
    if found is None:
        raise _no_such_user(username)
    _audit(session, by, actor, f"user.{action}", username)


def _not_found(by: Admin | None, what: tuple[str, str], code: str, field: str) -> Exception:
    """A region or worker record that is not there: for an administrator on the web, a wrong
    field of a form (422, "in your area"); on the command line, 404."""
    return (InvalidInput if by else NotFound)(
        f"{'您的管辖范围内' if by else ''}没有编码为 {code} 的{what[0]}。",
        f"No {what[1]} {code}" + (" in your area." if by else "."),
        field=field,
    )


def _region_id(session: Session, by: Admin | None, code: str) -> int:
    """The id of region ``code`` (in ``by``'s jurisdiction)."""
    region_id = session.execute(
        text(f"SELECT r.id FROM region r WHERE r.code = :code AND {_in_scope(_scope(by))}"),
        {"code": code},
    ).scalar()
    if region_id is None:
        raise _not_found(by, ("行政区划", "region"), code, "region")
    return int(region_id)


def _worker(session: Session, by: Admin | None, code: str) -> tuple[int, str | None]:
    """The id and village of worker record ``code`` (in ``by``'s jurisdiction)."""
    worker = session.execute(
        text(
            "SELECT w.id, r.code FROM worker w LEFT JOIN region r ON r.id = w.region_id "
            f"WHERE w.code = :code AND {_in_scope(_scope(by))}"
        ),
        {"code": code},
    ).one_or_none()
    if worker is None:
        raise _not_found(by, ("网格员", "worker"), code, "worker")
    return int(worker[0]), worker[1]


def _scope(by: Admin | None) -> Scope:
    return by.scope if by else Scope.everything()


def update_user(
    session: Session,
    username: str,
    by: Admin,
    *,
    display_name: str | None = None,
    role: Role | None = None,
    region_code: str | None = None,
    worker_code: str | None = None,
) -> dict[str, list[object]]:
    """Change an account's name, role, region or worker record (those given; ``worker_code``
    "" unlinks it).  A worker record given without a region moves the account to the worker's
    village.  A new role or region ends the account's sessions (they were opened under the old
    one).  Returns what changed, ``{field: [before, after]}`` (also in the audit trail)."""
    account = get_account(session, by.scope, username)
    _may_act_on(by, account, ("修改", "change"))
    if role is not None and role is not account.role:
        if username == by.username:
            raise Conflict(
                "不能修改自己的角色（请另一位管理员操作）。",
                "You cannot change your own role (ask another administrator).",
                field="role",
            )
        if role is Role.admin and not by.scope.is_everything:
            raise Forbidden(
                "只有全系统的管理员才能授予管理员角色。",
                "Only a deployment-wide administrator may make an administrator.",
            )
    worker_id: int | None = None
    if worker_code:
        worker_id, worker_region = _worker(session, by, worker_code)
        region_code = region_code or worker_region
    after: dict[str, Any] = {
        "display_name": account.display_name if display_name is None else display_name or None,
        "role": role or account.role,
        "region_code": region_code or account.region_code,
        "worker_code": account.worker_code if worker_code is None else worker_code or None,
    }
    if after["role"] is not Role.admin and after["region_code"] is None:
        raise InvalidInput(
            "除系统管理员外，用户必须属于一个行政区划。",
            "Every user but an administrator belongs to a region.",
            field="region",
        )
    before = {k: getattr(account, k) for k in after}
    changed = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if not changed:
        return {}
    params: dict[str, object] = {
        "username": username,
        "display_name": after["display_name"],
        "role": Role(after["role"]).value,
        "region_id": _region_id(session, by, str(after["region_code"])) if region_code else None,
        "keep_region": not region_code,
        "worker_id": worker_id,
        "keep_worker": worker_code is None,
    }
    user_id = session.execute(
        text("""
        UPDATE app_user SET display_name = :display_name, role = CAST(:role AS user_role),
            region_id = CASE WHEN :keep_region THEN region_id ELSE :region_id END,
            worker_id = CASE WHEN :keep_worker THEN worker_id ELSE :worker_id END
        WHERE username = :username RETURNING id
    """),
        params,
    ).scalar_one()
    if "role" in changed or "region_code" in changed:
        end_sessions(session, user_id)
    detail = {
        k: [str(v) if isinstance(v, Role) else v for v in pair] for k, pair in changed.items()
    }
    _audit(session, by, "", "user.update", username, {"changed": detail})
    return detail  # type: ignore[return-value]


def end_sessions(session: Session, user_id: int, keep: int | None = None) -> int:
    """Revoke every open session of a user (their role, jurisdiction or password changed), but
    ``keep`` (the one in which they changed their own password); how many it ended."""
    ended = session.execute(
        text(
            "UPDATE auth_session SET revoked_at = clock_timestamp() "
            "WHERE user_id = :id AND revoked_at IS NULL AND id IS DISTINCT FROM :keep "
            "AND expires_at > clock_timestamp()"
        ),
        {"id": user_id, "keep": keep},
    )
    return int(getattr(ended, "rowcount", 0) or 0)


# ---------- 动态口令 (TOTP): set up, confirm and turn off by the user; reset by an administrator


def otp_setup(
    session: Session,
    caller: Principal,
    password: str,
    cipher: PiiCipher,
    settings: Settings,
    source_ip: str | None = None,
) -> tuple[str, str]:
    """Begin 动态口令 for the caller (the password checked first, a wrong one counted as a failed
    login): a new secret, kept aside until :func:`otp_enable` confirms a code of it.  Returns
    (the secret, for an app's manual entry; the ``otpauth://`` address for its QR code)."""
    if caller.otp_enabled:
        raise Conflict(
            "动态口令已开启。如需换一部手机，请先关闭（或请管理员重置），再重新开启。",
            "The one-time code is on already. To move it to another phone, turn it off first (or "
            "ask an administrator to reset it), then set it up again.",
        )
    _recheck(session, caller, password, settings, source_ip, "user.otp")
    secret = totp.new_secret()
    session.execute(
        text("UPDATE app_user SET totp_pending = :blob WHERE id = :id"),
        {"blob": cipher.encrypt(secret, totp_context(caller.user_id)), "id": caller.user_id},
    )
    return secret, totp.otpauth_uri(secret, caller.username)


def otp_enable(
    session: Session, caller: Principal, code: str, cipher: PiiCipher, source_ip: str | None = None
) -> list[str]:
    """Confirm the secret :func:`otp_setup` gave with a code of it: from now on a login asks
    for one.  The other sessions of the account end (they were opened without it).  Returns
    the account's first 备用验证码 (:func:`_new_recovery_codes`), to be shown this once."""
    blob = session.execute(
        text("SELECT totp_pending FROM app_user WHERE id = :id"), {"id": caller.user_id}
    ).scalar()
    if blob is None:
        raise Conflict(
            "没有待确认的动态口令，请先点“开启动态口令”。",
            "No one-time code is being set up: start with Set up first.",
        )
    step = totp.verify(cipher.decrypt(blob, totp_context(caller.user_id)), code)
    if not step:
        raise InvalidInput(
            "动态口令不正确：请输入身份验证器中当前显示的 6 位数字（手机时间须准确）。",
            "Wrong code: enter the 6 digits your authenticator app shows now (the phone's clock "
            "must be right).",
            field="code",
        )
    session.execute(
        text("""UPDATE app_user SET totp_secret = totp_pending, totp_pending = NULL,
                       totp_last_step = :step, totp_enabled_at = clock_timestamp()
                WHERE id = :id"""),
        {"step": step, "id": caller.user_id},
    )
    codes = _new_recovery_codes(session, caller.user_id, cipher)
    end_sessions(session, caller.user_id, keep=caller.session_id)
    me = Admin(caller.user_id, caller.username, caller.scope, source_ip)
    _audit(session, me, "", "user.otp_enable", caller.username, {"via": "self"})
    return codes


def otp_new_recovery_codes(
    session: Session,
    caller: Principal,
    password: str,
    code: str,
    cipher: PiiCipher,
    settings: Settings,
    source_ip: str | None = None,
) -> list[str]:
    """A new set of 备用验证码 for the caller (all used, or written down where others saw them):
    the password and a code now (the app's, or one of the old set, which then ends with the
    rest), each checked as at a login.  The old set no longer works."""
    if not caller.otp_enabled:
        raise Conflict(
            "动态口令未开启：开启时会同时生成备用验证码。",
            "The one-time code is not on: recovery codes come with setting it up.",
        )
    _recheck(session, caller, password, settings, source_ip, "user.otp", code, cipher)
    codes = _new_recovery_codes(session, caller.user_id, cipher)
    me = Admin(caller.user_id, caller.username, caller.scope, source_ip)
    _audit(session, me, "", "user.otp_recovery", caller.username, {"via": "self"})
    return codes


@dataclass(frozen=True)
class RecoveryCodes:
    """What an account's 备用验证码 are now: how many are unused, and when the set was made."""

    left: int
    made_at: datetime | None


def recovery_codes_of(session: Session, user_id: int) -> RecoveryCodes | None:
    """The account's 备用验证码, or None when its 动态口令 is off."""
    row = session.execute(
        text("""SELECT coalesce(cardinality(totp_recovery), 0), totp_recovery_at FROM app_user
                WHERE id = :id AND totp_secret IS NOT NULL"""),
        {"id": user_id},
    ).one_or_none()
    return None if row is None else RecoveryCodes(int(row[0]), row[1])


def _new_recovery_codes(session: Session, user_id: int, cipher: PiiCipher) -> list[str]:
    """Replace the account's 备用验证码 by a new set (:func:`gis.totp.new_recovery_codes`): their
    keyed digests are stored; the codes are returned, and never again."""
    codes = totp.new_recovery_codes()
    context = recovery_context(user_id)
    digests = [cipher.digest(context, totp.recovery_form(c) or "") for c in codes]
    session.execute(
        text("""UPDATE app_user SET totp_recovery = :digests,
                       totp_recovery_at = clock_timestamp()
                WHERE id = :id"""),
        {"digests": digests, "id": user_id},
    )
    return codes


def otp_disable(
    session: Session,
    caller: Principal,
    password: str,
    code: str,
    cipher: PiiCipher,
    settings: Settings,
    source_ip: str | None = None,
) -> None:
    """Turn the caller's 动态口令 off: the password and a code now, each checked as at a login (a
    wrong one counted as a failed login: a known password opens no unlimited tries at the
    code here either).  Refused (409) where the role must use it."""
    if settings.otp_required(caller.role.value):
        raise Conflict(
            "您的角色须使用动态口令登录，不能关闭。换手机请请管理员重置后重新开启。",
            "Your role logs in with a one-time code: it cannot be turned off. To move it to "
            "another phone, ask an administrator to reset it, then set it up again.",
        )
    if not caller.otp_enabled:
        raise Conflict("动态口令未开启。", "The one-time code is not on.")
    _recheck(session, caller, password, settings, source_ip, "user.otp", code, cipher)
    _clear_otp(session, caller.user_id)
    me = Admin(caller.user_id, caller.username, caller.scope, source_ip)
    _audit(session, me, "", "user.otp_disable", caller.username, {"via": "self"})


def reset_otp(session: Session, username: str, actor: str = "cli", by: Admin | None = None) -> None:
    """An administrator turns an account's 动态口令 off (a lost or changed phone): its sessions
    end, and it logs in with the password alone until it sets one up again (at once, where its
    role must use one)."""
    if by is not None:
        _may_act_on(
            by, get_account(session, by.scope, username), ("重置动态口令", "reset the code of")
        )
        if username == by.username:  # (the second factor of the one acting: not on their word)
            raise Conflict(
                "不能重置自己的动态口令：请在“我的账号”用密码和动态口令关闭，或请另一位管理员操作。",
                "You cannot reset your own one-time code: turn it off on My account with your "
                "password and a code, or ask another administrator.",
            )
    user_id = _user_id(session, username)
    _clear_otp(session, user_id)
    end_sessions(session, user_id)
    _audit(session, by, actor, "user.otp_reset", username)


def _clear_otp(session: Session, user_id: int) -> None:
    session.execute(
        text("""UPDATE app_user SET totp_secret = NULL, totp_pending = NULL,
                       totp_last_step = NULL, totp_enabled_at = NULL, totp_recovery = NULL,
                       totp_recovery_at = NULL
                WHERE id = :id"""),
        {"id": user_id},
    )


def _recheck(
    session: Session,
    caller: Principal,
    password: str,
    settings: Settings,
    source_ip: str | None,
    action: str,
    code: str | None = None,
    cipher: PiiCipher | None = None,
) -> Any:
    """The caller's row if ``password`` is theirs, and with ``code`` if that is their 动态口令's
    code now; otherwise a 422, counted as a failed login: on ``password`` when no code was
    asked for, else on ``code`` whichever was wrong (as at a login, a wrong password is not
    told from a wrong code)."""
    try:
        return check_credentials(
            session, caller.username, password, settings, source_ip, action,
            otp=code, cipher=cipher, otp_checked=code is not None,
        )  # fmt: skip
    except WrongOtp as e:
        raise InvalidInput(e.message, e.message_en, field="code") from None
    except NotAuthenticated:
        raise InvalidInput("密码不正确。", "The password is wrong.", field="password") from None
