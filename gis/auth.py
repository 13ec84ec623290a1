"""Authentication: logins, bearer sessions, lockout, and the caller (:class:`Principal`).

Tokens are 256-bit random strings handed to the client once; the database keeps only their
SHA-256.  A session ends when revoked (logout), at its absolute expiry, or after it has been idle
longer than the idle timeout.  After ``login_max_failures`` wrong passwords in a row the account
is locked for ``lockout_minutes``.  Times are taken from the clock, not from the transaction.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis import audit, totp
from gis.errors import (
    AccountLocked,
    NotAuthenticated,
    NotFound,
    OtpRequired,
    TooManyAttempts,
    WrongOtp,
)
from gis.passwords import burn_verification_time, verify_password
from gis.permissions import ROLE_NAMES, Role, allows
from gis.scope import Scope, bind_scope
from gis.settings import Settings

if TYPE_CHECKING:
    from gis.pii import PiiCipher

_TOUCH_EVERY = timedelta(seconds=60)  # how stale last_seen_at may get before it is rewritten


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    user_id: int
    username: str
    display_name: str | None
    role: Role
    scope: Scope
    session_id: int | None = None
    #: a password set by someone else: only changing it (and logging out) is allowed
    must_change_password: bool = False
    #: logged in with a password older than ``password_max_days``: the same until it changes
    password_expired: bool = False
    #: when the password was last set (its expiry: :func:`password_expires_at`)
    password_changed_at: datetime | None = None
    #: 动态口令 is on for the account
    otp_enabled: bool = False
    #: its role must log in with 动态口令 (``Settings.otp_roles``) and it has none yet: only
    #: setting it up (and changing the password, logging out) is allowed
    otp_setup_required: bool = False

    @property
    def password_change_required(self) -> bool:
        """Only changing the password (and logging out) is allowed for now."""
        return self.must_change_password or self.password_expired

    @property
    def account_first(self) -> bool:
        """Only 我的账号 (the password, 动态口令) and logging out are allowed for now."""
        return self.password_change_required or self.otp_setup_required

    def can(self, permission: str) -> bool:
        return allows(self.role, permission)

    @property
    def role_name(self) -> str:
        return ROLE_NAMES[self.role]


def _now() -> datetime:
    return datetime.now(UTC)


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


_USER_COLUMNS = """
    u.id AS user_id, u.username, u.display_name, u.role::text AS role, u.disabled,
    u.password_hash, u.failed_logins, u.locked_until, u.worker_id, u.must_change_password,
    u.password_changed_at, u.totp_secret, u.totp_last_step,
    r.id AS region_id, r.code AS region_code, r.level::text AS level, r.name AS region_name
"""
_USER_BY_NAME = text(f"""
    SELECT {_USER_COLUMNS} FROM app_user u LEFT JOIN region r ON r.id = u.region_id
    WHERE u.username = :username
""")
# Also sets the caller's row-level-security scope for this transaction in the same round trip
# (the value of Scope.setting; if the session turns out to be over, the request fails anyway).
_SESSION_BY_TOKEN = text(f"""
    SELECT s.id AS session_id, s.expires_at, s.last_seen_at, s.revoked_at, s.password_expired,
           {_USER_COLUMNS},
           set_config('wangge.scope',
                      CASE WHEN u.role = 'admin' AND u.region_id IS NULL THEN '*'
                           ELSE coalesce(r.code, '') END,
                      true) AS scope_setting
    FROM auth_session s JOIN app_user u ON u.id = s.user_id
    LEFT JOIN region r ON r.id = u.region_id
    WHERE s.token_hash = :token_hash
""")
_WORKER_GRIDS = text("SELECT grid_code FROM worker_grid WHERE worker_id = :worker_id")


def _principal(
    session: Session, row: dict, settings: Settings, session_id: int | None = None
) -> Principal:
    role = Role(row["role"])
    grid_codes = None
    if role is Role.grid_worker:
        grid_codes = (
            frozenset(session.execute(_WORKER_GRIDS, {"worker_id": row["worker_id"]}).scalars())
            if row["worker_id"]
            else frozenset()
        )
    scope = (
        Scope.everything()
        if role is Role.admin and row["region_id"] is None
        else Scope(
            row["region_id"], row["region_code"], row["level"], row["region_name"], grid_codes
        )
    )
    return Principal(
        row["user_id"],
        row["username"],
        row["display_name"],
        role,
        scope,
        session_id,
        bool(row["must_change_password"]),
        bool(row.get("password_expired")),
        row["password_changed_at"],
        row["totp_secret"] is not None,
        row["totp_secret"] is None and settings.otp_required(role.value),
    )


def totp_context(user_id: int) -> str:
    """What an account's 动态口令 secret is encrypted with (it opens for that account only)."""
    return f"totp:{user_id}"


def recovery_context(user_id: int) -> str:
    """What an account's 备用验证码 are hashed with (a code of one account is none of another's)."""
    return f"totp-recovery:{user_id}"


# a recovery code's digest taken out of the account's unused ones: how many are left after it,
# or no row when it was not among them (the row's lock: two logins cannot both use one code)
_USE_RECOVERY_CODE = text("""
    UPDATE app_user SET totp_recovery = array_remove(totp_recovery, CAST(:digest AS bytea))
    WHERE id = :id AND CAST(:digest AS bytea) = ANY(totp_recovery)
    RETURNING cardinality(totp_recovery)
""")


def password_expires_at(changed_at: datetime | None, settings: Settings) -> datetime | None:
    """When a password set at ``changed_at`` must be changed (``password_max_days``; 等保's
    定期更换), or None when passwords do not expire."""
    if not settings.password_max_days or changed_at is None:
        return None
    return changed_at + timedelta(days=settings.password_max_days)


#: the most of a browser's User-Agent kept with its session
USER_AGENT_MAX = 300
# (pattern, Chinese, English): the first that matches names the device, then the browser or app
_DEVICES = (
    (re.compile(r"iPad|Tablet"), "平板", "tablet"),
    (re.compile(r"Mobile|Android|iPhone|HarmonyOS"), "手机", "phone"),
)
_BROWSERS = (
    (re.compile(r"MicroMessenger"), "微信", "WeChat"),
    (re.compile(r"DingTalk"), "钉钉", "DingTalk"),
    (re.compile(r"Edg/|Edge/"), "Edge", "Edge"),
    (re.compile(r"Firefox/"), "Firefox", "Firefox"),
    (re.compile(r"Chrom(e|ium)/"), "Chrome", "Chrome"),
    (re.compile(r"Safari/"), "Safari", "Safari"),
)


def device_name(user_agent: str | None, lang: str = "zh") -> str:
    """What a session's browser says it runs on, as a person names it: 手机 · 微信, 电脑 ·
    Chrome (``lang`` en: phone · WeChat …); — when it said nothing."""
    if not user_agent:
        return "—"
    en = lang == "en"
    kind = next(
        (e if en else z for p, z, e in _DEVICES if p.search(user_agent)),
        "computer" if en else "电脑",
    )
    browser = next((e if en else z for p, z, e in _BROWSERS if p.search(user_agent)), None)
    return f"{kind} · {browser}" if browser else kind


def session_hours(role: Role, settings: Settings) -> float:
    """How long a session of ``role`` lasts at most: ``command_session_hours`` for a command
    center account (read-only; its wall screen runs day and night), else ``session_hours``."""
    return settings.command_session_hours if role is Role.commander else settings.session_hours


def issue_token(
    session: Session,
    user_id: int,
    settings: Settings,
    source_ip: str | None = None,
    hours: float | None = None,
    user_agent: str | None = None,
    password_expired: bool = False,
) -> str:
    """Open a session for ``user_id`` and return its bearer token (shown once, stored hashed).
    It lasts ``hours`` (:func:`session_hours`), by default ``settings.session_hours``;
    ``user_agent`` (the browser's, cut to :data:`USER_AGENT_MAX`) names it in 我的登录;
    ``password_expired``: it may only change the password until it does."""
    token = secrets.token_urlsafe(32)
    now = _now()
    session.execute(
        text("""
        INSERT INTO auth_session (token_hash, user_id, created_at, last_seen_at, expires_at,
                                  source_ip, user_agent, password_expired)
        VALUES (:token_hash, :user_id, :now, :now, :expires_at, CAST(:ip AS inet), :agent,
                :expired)
    """),
        {
            "token_hash": _token_hash(token),
            "user_id": user_id,
            "now": now,
            "expires_at": now + timedelta(hours=hours or settings.session_hours),
            "ip": audit.audit_ip(source_ip),
            "agent": (user_agent or "")[:USER_AGENT_MAX] or None,
            "expired": password_expired,
        },
    )
    return token


# an account's sessions that ended (logged out or ended, else expired) before :before (the one
# just opened is its last use now: the idle list and 最近使用 lose nothing)
_FORGET_ENDED_SESSIONS = text("""
    DELETE FROM auth_session
    WHERE user_id = :user AND least(revoked_at, expires_at) < :before  -- (NULLs skipped)
""")


def login(
    session: Session,
    username: str,
    password: str,
    settings: Settings,
    source_ip: str | None = None,
    user_agent: str | None = None,
    otp: str | None = None,
    cipher: PiiCipher | None = None,
) -> tuple[str, Principal, int | None]:
    """Check the password and open a session.  Every attempt is audited.

    Returns the token, who it is, and how many 备用验证码 are left when one was given as the
    code (else None).  The account's sessions that ended over ``session_keep_days`` ago are
    forgotten.  Raises :class:`NotAuthenticated` (wrong name or password — the same
    message for both) or :class:`AccountLocked`.  The caller commits in every case, so failures
    are counted.
    """
    row = check_credentials(
        session, username, password, settings, source_ip, otp=otp, cipher=cipher
    )
    hours = session_hours(Role(row["role"]), settings)
    expires = password_expires_at(row["password_changed_at"], settings)
    # (a session opened before the password expired goes on until it ends)
    row["password_expired"] = expires is not None and expires <= _now()
    token = issue_token(
        session, row["user_id"], settings, source_ip, hours, user_agent, row["password_expired"]
    )
    if settings.session_keep_days:
        session.execute(
            _FORGET_ENDED_SESSIONS,
            {"user": row["user_id"], "before": _now() - timedelta(days=settings.session_keep_days)},
        )
    left = row.get("recovery_left")
    audit.record(
        session,
        "login",
        success=True,
        user_id=row["user_id"],
        username=row["username"],
        source_ip=source_ip,
        detail={"otp": "recovery", "recovery_left": left} if left is not None else None,
    )
    return token, _principal(session, row, settings), left


def stored_name(session: Session, username: str) -> str:
    """The account ``username`` names, as it is stored: user names are matched regardless of
    letters' case (a phone keyboard types Grid_worker for grid_worker) — the account spelt so,
    else the only one spelt so in other letters' case (accounts made before migration 0088 may
    share one: then only the exact spelling), else the name as given."""
    found = (
        session.execute(
            text("""SELECT username FROM app_user WHERE lower(username) = lower(:u)
                    ORDER BY username = :u DESC LIMIT 2"""),
            {"u": username},
        )
        .scalars()
        .all()
    )
    return found[0] if len(found) == 1 or (found and found[0] == username) else username


def check_credentials(
    session: Session,
    username: str,
    password: str,
    settings: Settings,
    source_ip: str | None = None,
    action: str = "login",
    otp: str | None = None,
    cipher: PiiCipher | None = None,
    otp_checked: bool | None = None,
) -> dict[str, Any]:
    """The account's row if ``password`` is its password; else the failure is counted (five in a
    row lock the account), audited as ``action`` and raised as in :func:`login`.

    At a login (``action`` ``login``, or wherever ``otp_checked``) of an account with 动态口令
    on, ``otp`` must be its code now (decrypted with ``cipher``): missing, :class:`OtpRequired`
    before the password is looked at (not a failure: nothing was tried); then the password and
    the code are judged together — a wrong one of either, or a code used already, is one
    :class:`WrongOtp` that does not say which (a failure like a wrong password): whoever has
    guessed a password learns nothing of it without the phone.  Instead of the app's code, one
    of the account's 备用验证码 (:func:`gis.totp.recovery_form`), used up by it (never with a
    wrong password): the row then says so (``otp`` ``recovery``, ``recovery_left``).  The
    failures are reset
    only when both pass, so that a known password does not open unlimited tries at the code."""
    # as a phone keyboard types it: a space after it, or full-width letters (ｇｒｉｄ) from a
    # Chinese input method in full-width mode; a user name has neither (a password is as typed)
    username = unicodedata.normalize("NFKC", username).strip()
    now = _now()
    if action == "login":
        _refuse_busy_address(session, username, settings, source_ip, now)
    # the account whatever the letters' case (the trail keeps the name as typed)
    found = {"username": stored_name(session, username)}
    row = session.execute(_USER_BY_NAME, found).mappings().one_or_none()

    def fail(reason: str) -> None:
        audit.record(
            session,
            action,
            success=False,
            username=username,
            source_ip=source_ip,
            user_id=row["user_id"] if row else None,
            detail={"reason": reason},
        )

    if row is None or row["disabled"]:
        burn_verification_time(password)
        fail("unknown_user" if row is None else "disabled")
        raise NotAuthenticated("用户名或密码错误。", "Wrong user name or password.")
    if row["locked_until"] is not None and row["locked_until"] > now:
        fail("locked")
        minutes = max(1, int((row["locked_until"] - now).total_seconds() // 60) + 1)
        raise AccountLocked(
            f"账户因多次密码错误已被锁定，请 {minutes} 分钟后再试。",
            f"The account is locked after repeated wrong passwords; try again in {minutes} min.",
        )

    second: dict[str, Any] = {}  # how the second factor was given, if it was asked for

    def count_failure(
        reason: str, message: tuple[str, str], error: type[NotAuthenticated] = NotAuthenticated
    ) -> NoReturn:
        failures = row["failed_logins"] + 1
        locked = failures >= settings.login_max_failures
        session.execute(
            text(
                "UPDATE app_user SET failed_logins = :failures, locked_until = :until "
                "WHERE id = :id"
            ),
            {
                "failures": 0 if locked else failures,
                "id": row["user_id"],
                "until": now + timedelta(minutes=settings.lockout_minutes) if locked else None,
            },
        )
        fail("locked_now" if locked else reason)
        if locked:
            raise AccountLocked(
                f"密码连续错误 {failures} 次，账户已锁定 {settings.lockout_minutes:g} 分钟。",
                f"{failures} wrong passwords in a row: the account is locked for "
                f"{settings.lockout_minutes:g} minutes.",
            )
        raise error(*message)

    two_factors = (action == "login" if otp_checked is None else otp_checked) and row[
        "totp_secret"
    ] is not None
    if two_factors and not otp:  # (before the password: whether it was right is not told)
        burn_verification_time(password)
        fail("otp_required")
        raise OtpRequired(
            "此账户已开启动态口令：请输入身份验证器中的 6 位数字，与密码一起核对。",
            "This account uses a one-time code: enter the 6 digits of your authenticator app, "
            "checked together with the password.",
        )
    recovery = totp.recovery_form(otp) if two_factors and otp else None
    # with 动态口令, a wrong password and a wrong code get the same answer (by the code's form)
    wrong_second = (
        (
            "密码或备用验证码不正确，或该备用验证码已用过：请重新输入密码和一个未用过的备用验证码。",
            "Wrong password or recovery code, or a recovery code used already: enter the "
            "password again with a recovery code not used yet.",
        )
        if recovery is not None
        else (
            "密码或动态口令不正确，或该动态口令已用过：请重新输入密码和身份验证器中当前显示的 6 位"
            "数字（手机不在身边时，可输入一个 12 位备用验证码）。",
            "Wrong password or one-time code, or a code used already: enter the password again "
            "with the 6 digits your authenticator app shows now (without the phone: one of your "
            "12-digit recovery codes).",
        )
    )
    if not verify_password(row["password_hash"], password):
        if two_factors:
            count_failure("wrong_password", wrong_second, WrongOtp)
        count_failure("wrong_password", ("用户名或密码错误。", "Wrong user name or password."))
    if two_factors and otp:
        if cipher is None:
            raise RuntimeError("a login of an account with 动态口令 needs the cipher")
        if recovery is not None:  # a 备用验证码: used up by the statement that finds it
            left = session.execute(
                _USE_RECOVERY_CODE,
                {
                    "id": row["user_id"],
                    "digest": cipher.digest(recovery_context(row["user_id"]), recovery),
                },
            ).scalar()
            if left is None:
                count_failure("wrong_otp", wrong_second, WrongOtp)
            second = {"otp": "recovery", "recovery_left": int(left)}
        else:
            secret = cipher.decrypt(row["totp_secret"], totp_context(row["user_id"]))
            step = totp.verify(secret, otp, row["totp_last_step"])
            if not step:
                count_failure("wrong_otp", wrong_second, WrongOtp)
            session.execute(
                text("UPDATE app_user SET totp_last_step = :step WHERE id = :id"),
                {"step": step, "id": row["user_id"]},
            )
            second = {"otp": "app"}
    if row["failed_logins"] or row["locked_until"]:
        session.execute(
            text("UPDATE app_user SET failed_logins = 0, locked_until = NULL WHERE id = :id"),
            {"id": row["user_id"]},
        )
    return dict(row) | second


#: the failed logins whose password was checked (a locked account's, or an address's refused
#: ones, were not: they tell the caller nothing and do not count again)
CHECKED_FAILURES = ("wrong_password", "locked_now", "unknown_user", "disabled", "wrong_otp")
# the address's checked failures, newest first, from the ``skip``-th on (migration 0075's index)
_ADDRESS_FAILURES = text("""
    SELECT at FROM audit_log
    WHERE action = 'login' AND NOT success AND source_ip = CAST(:ip AS inet) AND at > :since
      AND detail->>'reason' = ANY(:reasons)
    ORDER BY at DESC OFFSET :skip LIMIT 1
""")


def _refuse_busy_address(
    session: Session, username: str, settings: Settings, source_ip: str | None, now: datetime
) -> None:
    """Raise :class:`TooManyAttempts` when ``login_address_max_failures`` wrong passwords (or
    unknown names) came from ``source_ip`` in the last ``login_address_window_minutes``, over
    every account: one account's lockout does not stop a password tried against many names.
    The refusal is audited (``address_limited``), checks no password and does not count."""
    limit = settings.login_address_max_failures
    ip = audit.audit_ip(source_ip)
    if not limit or ip is None:
        return
    window = timedelta(minutes=settings.login_address_window_minutes)
    params = {"ip": ip, "since": now - window, "reasons": list(CHECKED_FAILURES), "skip": limit - 1}
    oldest = session.execute(_ADDRESS_FAILURES, params).scalar_one_or_none()
    if oldest is None:
        return
    wait_s = max(1, int((oldest + window - now).total_seconds()) + 1)
    minutes = -(-wait_s // 60)
    window_min = f"{settings.login_address_window_minutes:g}"
    audit.record(
        session,
        "login",
        success=False,
        username=username,
        source_ip=source_ip,
        detail={"reason": "address_limited"},
    )
    raise TooManyAttempts(
        f"此网络地址 {window_min} 分钟内登录失败已达 {limit} 次，暂停登录，请 {minutes} 分钟后"
        "再试。如单位多人共用同一网络出口，请联系系统管理员。",
        f"{limit} failed logins from this network address in {window_min} minutes: logins from "
        f"it are paused; try again in {minutes} min. If many people share this address, ask "
        "the administrator.",
        retry_after=wait_s,
    )


def authenticate(
    session: Session, token: str, settings: Settings, *, touch: bool = True
) -> Principal:
    """The caller behind ``token``; refreshes the idle clock at most once a minute, unless the
    request is a page's own check in the background (``touch`` False: a page left open on an
    unattended desk must not keep its session alive)."""
    row = (
        session.execute(_SESSION_BY_TOKEN, {"token_hash": _token_hash(token)})
        .mappings()
        .one_or_none()
    )
    now = _now()
    expired = NotAuthenticated("登录已失效，请重新登录。", "Your session has ended; log in again.")
    if row is None or row["revoked_at"] is not None or row["disabled"]:
        raise expired
    if row["expires_at"] <= now:
        raise expired
    if row["last_seen_at"] + timedelta(minutes=settings.session_idle_minutes) <= now:
        raise NotAuthenticated(
            "长时间未操作，登录已超时，请重新登录。", "Idle too long; log in again."
        )
    principal = _principal(session, dict(row), settings, row["session_id"])
    if touch and now - row["last_seen_at"] > _TOUCH_EVERY:
        session.execute(
            text("UPDATE auth_session SET last_seen_at = :now WHERE id = :id"),
            {"now": now, "id": row["session_id"]},
        )
        session.commit()  # the idle clock must advance even when the request only reads
        bind_scope(session, principal.scope)
    else:
        if row["scope_setting"] != principal.scope.setting:  # the SQL and Scope must agree
            raise RuntimeError("scope mismatch between the session lookup and Scope.setting")
        bind_scope(session, principal.scope, applied=True)
    return principal


@dataclass(frozen=True, slots=True)
class OwnSession:
    """One of a user's sessions still in force (我的登录): a browser or a phone logged in."""

    id: int
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    source_ip: str | None
    user_agent: str | None  # the browser's, as it logged in (:func:`device_name`)
    current: bool  # the session of the request that asks


_OWN_SESSIONS = text("""
    SELECT id, created_at, last_seen_at, expires_at, host(source_ip) AS source_ip, user_agent
    FROM auth_session
    WHERE user_id = :user AND revoked_at IS NULL AND expires_at > :now
      AND last_seen_at > :idle_since
    ORDER BY last_seen_at DESC, id DESC
""")


def own_sessions(session: Session, principal: Principal, settings: Settings) -> list[OwnSession]:
    """The caller's sessions still in force (not ended, expired or idle too long), the most
    recently used first: a wall screen's, the office's, a phone's."""
    return sessions_of(session, principal.user_id, settings, current=principal.session_id)


def sessions_of(
    session: Session, user_id: int, settings: Settings, current: int | None = None
) -> list[OwnSession]:
    """A user's sessions still in force, the most recently used first; ``current``: the
    session of the request, if it is one of them."""
    now = _now()
    rows = session.execute(
        _OWN_SESSIONS,
        {
            "user": user_id,
            "now": now,
            "idle_since": now - timedelta(minutes=settings.session_idle_minutes),
        },
    )
    return [
        OwnSession(
            r.id,
            r.created_at,
            r.last_seen_at,
            r.expires_at,
            r.source_ip,
            r.user_agent,
            current=r.id == current,
        )
        for r in rows
    ]


def end_own_session(
    session: Session, principal: Principal, session_id: int, source_ip: str | None = None
) -> None:
    """End one of the caller's own sessions (a screen or phone left logged in elsewhere); audited
    as ``session.end``.  Another user's session, or one already ended, is a 404."""
    ended = session.execute(
        text("""
        UPDATE auth_session SET revoked_at = :now
        WHERE id = :id AND user_id = :user AND revoked_at IS NULL RETURNING id
    """),
        {"now": _now(), "id": session_id, "user": principal.user_id},
    ).first()
    if ended is None:
        raise NotFound(
            f"没有编号为 {session_id} 的有效登录。", f"No session {session_id} of yours in force."
        )
    audit.record(
        session,
        "session.end",
        success=True,
        user_id=principal.user_id,
        username=principal.username,
        source_ip=source_ip,
        detail={"session": session_id, "own": session_id == principal.session_id},
    )


def logout(session: Session, principal: Principal, source_ip: str | None = None) -> None:
    """Revoke the caller's session."""
    session.execute(
        text("UPDATE auth_session SET revoked_at = :now WHERE id = :id AND revoked_at IS NULL"),
        {"now": _now(), "id": principal.session_id},
    )
    audit.record(
        session,
        "logout",
        success=True,
        user_id=principal.user_id,
        username=principal.username,
        source_ip=source_ip,
    )
