"""User accounts from the web (用户管理): for those holding ``user:manage`` (administrators).

The accounts of the administrator's jurisdiction: listed, added, a password reset (given, or
random and shown once), disabled, enabled again, unlocked.  ``gis.users`` holds the rules and
writes the audit trail; an account outside the jurisdiction is "not found".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from api.deps import (
    Authenticated,
    SessionDep,
    SettingsDep,
    UserManager,
    client_ip,
    page_lang,
    page_response,
    request_lang,
)
from api.routers.maps import PageLang, _user
from api.schemas import PasswordIn, UserCreate, UserOut, UserSessionOut, UserUpdate
from gis import auth, users
from gis.auth import Principal
from gis.passwords import initial_password
from gis.permissions import ROLE_NAMES, ROLE_NAMES_EN, Role
from maps.nav import home_page, page_links
from maps.users import account_page, users_page

router = APIRouter(tags=["users 用户管理"])

UserPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{2,64}$", description="user name")]
Words = Annotated[str | None, Query(max_length=64, description="in the user name or name")]
RoleQuery = Annotated[  # (a filter form sends "all" as an empty value)
    str | None,
    Query(pattern=f"^({'|'.join(r.value for r in Role)})?$", description="only this role"),
]
RegionQuery = Annotated[
    str | None, Query(pattern=r"^([0-9]{6,12})?$", description="in this region or under it")
]
IdleQuery = Annotated[  # (the form's "all": an empty value)
    str | None,
    Query(
        pattern=r"^([0-9]{1,4})?$",
        description="only enabled accounts unused for this many days (多余的、过期的账户)",
    ),
]


def _admin(caller: Principal, request: Request) -> users.Admin:
    return users.Admin(caller.user_id, caller.username, caller.scope, client_ip(request))


def _out(account: users.Account, lang: str, password: str | None = None) -> UserOut:
    names = ROLE_NAMES_EN if lang == "en" else ROLE_NAMES
    return UserOut(
        **{k: getattr(account, k) for k in users.Account.__dataclass_fields__},
        role_name=names[account.role],
        initial_password=password,
    )


def _accounts(
    session: Session,
    caller: Principal,
    q: str | None,
    role: str | None,
    region: str | None,
    idle: str | None,
) -> list[users.Account]:
    """The accounts the list's filters (as the API and the page take them) find."""
    return users.list_accounts(
        session,
        caller.scope,
        words=q,
        role=Role(role) if role else None,
        region_code=region,
        idle_days=int(idle) if idle else None,
    )


def _roles(caller: Principal) -> list[Role]:
    """The roles ``caller`` may give: all, but administrator only deployment-wide."""
    return [r for r in Role if r is not Role.admin or caller.scope.is_everything]


@router.get("/api/users", response_model=list[UserOut])
def list_users(
    session: SessionDep,
    caller: UserManager,
    request: Request,
    q: Words = None,
    role: RoleQuery = None,
    region: RegionQuery = None,
    idle: IdleQuery = None,
) -> list[UserOut]:
    """The accounts of your jurisdiction, by region and user name (at most 500); ``idle``: only
    those enabled and unused for that many days."""
    found = _accounts(session, caller, q, role, region, idle)
    lang = request_lang(request)
    return [_out(a, lang) for a in found]


@router.post("/api/users", response_model=UserOut, status_code=201)
def add_user(
    session: SessionDep, caller: UserManager, request: Request, body: UserCreate
) -> UserOut:
    """Add an account in your jurisdiction (its region: yours unless given).  Without a
    password, a random one is set and returned once, in ``initial_password``."""
    password = body.password or initial_password()
    region = body.region
    if region is None and body.worker is None and body.role is not Role.admin:
        region = caller.scope.region_code
    users.add_user(
        session,
        body.username,
        body.role,
        password,
        region_code=region,
        worker_code=body.worker,
        display_name=body.display_name or None,
        by=_admin(caller, request),
    )
    account = users.get_account(session, caller.scope, body.username)
    session.commit()
    return _out(account, request_lang(request), None if body.password else password)


@router.get("/api/users/{username}", response_model=UserOut)
def get_user(
    session: SessionDep, caller: UserManager, request: Request, username: UserPath
) -> UserOut:
    """One account of your jurisdiction."""
    return _out(users.get_account(session, caller.scope, username), request_lang(request))


@router.patch("/api/users/{username}", response_model=UserOut)
def update_user(
    session: SessionDep,
    caller: UserManager,
    request: Request,
    username: UserPath,
    body: UserUpdate,
) -> UserOut:
    """Change an account's name, role, region or worker record (the fields given).  A new role
    or region ends its sessions; a worker record without a region moves it to the worker's
    village."""
    users.update_user(
        session,
        username,
        _admin(caller, request),
        display_name=body.display_name,
        role=body.role,
        region_code=body.region,
        worker_code=body.worker,
    )
    account = users.get_account(session, caller.scope, username)
    session.commit()
    return _out(account, request_lang(request))


@router.post("/api/users/{username}/password", response_model=UserOut)
def reset_password(
    session: SessionDep,
    caller: UserManager,
    request: Request,
    username: UserPath,
    body: PasswordIn | None = None,
) -> UserOut:
    """Set a new password (given, or random and returned once in ``initial_password``); the
    account is unlocked and its sessions end."""
    given = body.password if body else None
    password = given or initial_password()
    users.set_password(session, username, password, by=_admin(caller, request))
    account = users.get_account(session, caller.scope, username)
    session.commit()
    return _out(account, request_lang(request), None if given else password)


def _change(
    session: SessionDep,
    caller: Principal,
    request: Request,
    username: str,
    change: Callable[..., None],
) -> UserOut:
    change(session, username, by=_admin(caller, request))
    account = users.get_account(session, caller.scope, username)
    session.commit()
    return _out(account, request_lang(request))


@router.post("/api/users/{username}/disable", response_model=UserOut)
def disable_user(
    session: SessionDep, caller: UserManager, request: Request, username: UserPath
) -> UserOut:
    """Disable an account (never your own); its sessions end.  The account and its trail stay."""
    return _change(session, caller, request, username, users.disable_user)


@router.post("/api/users/{username}/logout", response_model=UserOut)
def log_out_user(
    session: SessionDep, caller: UserManager, request: Request, username: UserPath
) -> UserOut:
    """强制下线: end every session of an account (a lost phone, a wall screen somewhere it
    should not be) without disabling it; its user logs in again.  Never your own."""
    return _change(session, caller, request, username, users.log_out_user)


@router.get("/api/users/{username}/sessions", response_model=list[UserSessionOut])
def user_sessions(
    session: SessionDep,
    settings: SettingsDep,
    caller: UserManager,
    request: Request,
    username: UserPath,
) -> list[UserSessionOut]:
    """登录设备: where an account is logged in (its sessions in force, the most recently used
    first: device, address, when), to end one of them and leave the others."""
    found = users.user_sessions(session, _admin(caller, request), username, settings)
    lang = request_lang(request)
    return [UserSessionOut.of(s, lang) for s in found]


@router.delete(
    "/api/users/{username}/sessions/{session_id}",
    status_code=204,
    responses={404: {"description": "no such session of the account in force"}},
)
def end_user_session(
    session: SessionDep,
    caller: UserManager,
    request: Request,
    username: UserPath,
    session_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
) -> Response:
    """End one session of an account (the phone that was lost): that device must log in again,
    the account's other sessions go on.  Never your own here.  Audited (``user.session_end``)."""
    users.end_user_session(session, _admin(caller, request), username, session_id)
    session.commit()
    return Response(status_code=204)


@router.post("/api/users/{username}/enable", response_model=UserOut)
def enable_user(
    session: SessionDep, caller: UserManager, request: Request, username: UserPath
) -> UserOut:
    """Let a disabled account log in again."""
    return _change(session, caller, request, username, users.enable_user)


@router.post("/api/users/{username}/unlock", response_model=UserOut)
def unlock_user(
    session: SessionDep, caller: UserManager, request: Request, username: UserPath
) -> UserOut:
    """End the lock after failed logins."""
    return _change(session, caller, request, username, users.unlock_user)


@router.post("/api/users/{username}/otp/reset", response_model=UserOut)
def reset_user_otp(
    session: SessionDep, caller: UserManager, request: Request, username: UserPath
) -> UserOut:
    """重置动态口令: turn an account's one-time code off (its phone lost or changed); its
    sessions end, and it logs in with the password alone until it sets one up again (at once,
    where its role must use one)."""
    return _change(session, caller, request, username, users.reset_otp)


@router.get("/users", response_class=HTMLResponse)
def users_list_page(
    session: SessionDep,
    caller: UserManager,
    request: Request,
    q: Words = None,
    role: RoleQuery = None,
    region: RegionQuery = None,
    idle: IdleQuery = None,
    lang: PageLang = None,
    *,
    settings: SettingsDep,
) -> HTMLResponse:
    """The accounts of your jurisdiction as a page (用户管理), with a filter form, a form to add
    one and a button for each change.  In Chinese, or in English."""
    found = _accounts(session, caller, q, role, region, idle)
    language = page_lang(request, lang)
    filters = {"q": q or "", "role": role or "", "region": region or "", "idle": idle or ""}
    page = users_page(
        found,
        me=caller.username,
        user=_user(caller, language),
        links=page_links(caller.can, "/users", language),
        filters=filters,
        roles=_roles(caller),
        lang=language,
        password_max_days=settings.password_max_days,
    )
    return page_response(page, lang)


@router.get("/account", response_class=HTMLResponse)
def account(
    caller: Authenticated,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    lang: PageLang = None,
) -> HTMLResponse:
    """Your own account (我的账号): who you are logged in as, the form to change your
    password, 动态口令 and its 备用验证码 (``?via=recovery``: the login used one, said at the top
    of it), and where you are logged in (each session but this one can be ended here).  In
    Chinese, or in English."""
    language = page_lang(request, lang)
    scope = caller.scope
    region = None
    if scope.region_code:  # the brackets of each language
        region = (
            f"{scope.region_name} ({scope.region_code})"
            if language == "en"
            else f"{scope.region_name}（{scope.region_code}）"
        )
    page = account_page(
        username=caller.username,
        display_name=caller.display_name,
        role=caller.role,
        region=region,
        user=_user(caller, language),
        links=[] if caller.account_first else page_links(caller.can, "/account", language),
        must_change=caller.must_change_password,
        expired=caller.password_expired,
        otp_enabled=caller.otp_enabled,
        otp_locked=settings.otp_required(caller.role.value),
        recovery=users.recovery_codes_of(session, caller.user_id) if caller.otp_enabled else None,
        via_recovery=request.query_params.get("via") == "recovery",
        expires_at=auth.password_expires_at(caller.password_changed_at, settings),
        home=home_page(caller.can),
        lang=language,
        sessions=auth.own_sessions(session, caller, settings),
    )
    return page_response(page, lang)
