"""Logging in and out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy.orm import Session

from api.deps import (
    SESSION_COOKIE,
    Authenticated,
    CipherDep,
    SessionDep,
    SettingsDep,
    client_ip,
    may_open,
    request_lang,
    session_in_force,
)
from api.schemas import (
    LoginIn,
    MeOut,
    OtpCodeIn,
    OtpOffIn,
    OtpRecoveryOut,
    OtpSetupIn,
    OtpSetupOut,
    OwnPasswordIn,
    OwnSessionOut,
    TokenOut,
)
from gis import auth, users
from gis.errors import AccountLocked, InvalidInput, NotAuthenticated, TooManyAttempts
from gis.permissions import ROLE_PERMISSIONS
from gis.settings import Settings
from maps.nav import home_page
from maps.pages import qr_svg, same_site_path

router = APIRouter(prefix="/api/auth", tags=["auth 登录"])


@router.post("/login", response_model=TokenOut)
def login(
    body: LoginIn,
    session: SessionDep,
    settings: SettingsDep,
    cipher: CipherDep,
    request: Request,
    response: Response,
) -> TokenOut:
    """Log in: a bearer token for the API, and the same as an HttpOnly cookie for the maps.  An
    account with 动态口令 on needs ``otp`` too (without it: 401, ``otp_required``).  A login to
    another account ends the session whose cookie the browser still held (a logout in the audit
    log): on a shared desk, switching accounts leaves no earlier one in force.  (A login refused
    ends nothing; the same account's again keeps it, as a second device would.)"""
    try:
        token, principal, recovery_left = auth.login(
            session,
            body.username,
            body.password,
            settings,
            client_ip(request),
            request.headers.get("user-agent"),
            body.otp,
            cipher,
        )
    except (NotAuthenticated, AccountLocked, TooManyAttempts):
        session.commit()  # keep the failure count and the audit entry
        raise
    _end_replaced(request, session, settings, principal)
    session.commit()
    lifetime = int(auth.session_hours(principal.role, settings) * 3600)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=lifetime,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    must_change = principal.password_change_required
    first = principal.account_first
    return TokenOut(
        access_token=token,
        expires_in=lifetime,
        home="/account" if first else home_page(principal.can),
        next=_next_page(request, body.next, principal.can),
        password_change_required=must_change,
        otp_setup_required=principal.otp_setup_required,
        otp_recovery_left=recovery_left,
    )


def _end_replaced(
    request: Request, session: Session, settings: Settings, new: auth.Principal
) -> None:
    """End the session of the cookie that ``new``'s login replaces, if it is still in force and
    another account's."""
    replaced = session_in_force(session, request.cookies.get(SESSION_COOKIE), settings)
    if replaced is not None and replaced.user_id != new.user_id:
        auth.logout(session, replaced, client_ip(request))


#: the longest ``next`` a login goes on to
NEXT_MAX = 2000


def _next_page(request: Request, asked: str | None, can: Callable[[str], bool]) -> str | None:
    """The page a login goes on to: ``asked`` if it is a page of this site that the user's role
    may open, else None (their first page)."""
    if not asked or len(asked) > NEXT_MAX:  # (never fails the login itself)
        return None
    target = same_site_path(asked)  # (another site's address: not a page of ours)
    if target is None:
        return None
    return target if may_open(request.app.state.pages, target, can) else None


#: what a logout tells the browser to forget (the HTTP cache of the app's origin)
CLEAR_ON_LOGOUT = '"cache"'


@router.post("/logout", status_code=204)
def logout(
    session: SessionDep,
    caller: Authenticated,
    request: Request,
    keep_offline: Annotated[
        bool,
        Query(
            description="the phone page's logout: the browser is not told to clear its cache "
            "(a browser may count the service worker's store, which opens the page without "
            "signal, as cache)"
        ),
    ] = False,
) -> Response:
    """Log out: the token stops working at once, and the browser lets go of what it kept of
    the app (``Clear-Site-Data: "cache"``): a case's photos, which a browser keeps a day for the
    phone's lists, are then not there for the next person at a shared desk.  (Not "storage": the
    phone keeps the reports it has not sent yet there.)  The phone page forgets what it kept
    itself, and asks ``keep_offline``."""
    auth.logout(session, caller, client_ip(request))
    session.commit()
    clear = {} if keep_offline else {"Clear-Site-Data": CLEAR_ON_LOGOUT}
    response = Response(status_code=204, headers=clear)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/password", status_code=204)
def change_password(
    body: OwnPasswordIn,
    session: SessionDep,
    settings: SettingsDep,
    caller: Authenticated,
    request: Request,
) -> Response:
    """Change your own password (修改密码): the current one, then the new one (held to the
    password policy).  Your other sessions end; this one stays.  A wrong current password
    counts as a failed login."""
    try:
        users.change_own_password(
            session, caller, body.current_password, body.new_password, settings, client_ip(request)
        )
    except (InvalidInput, AccountLocked):
        session.commit()  # keep the failure count and the audit entry (a policy refusal: none)
        raise
    session.commit()
    return Response(status_code=204)


@router.get("/me", response_model=MeOut)
def me(caller: Authenticated, settings: SettingsDep, session: SessionDep) -> MeOut:
    """Who you are logged in as, where, what you may do, and when your password expires."""
    return MeOut(
        username=caller.username,
        display_name=caller.display_name,
        role=caller.role.value,
        role_name=caller.role_name,
        region_code=caller.scope.region_code,
        region_name=caller.scope.region_name,
        permissions=sorted(ROLE_PERMISSIONS[caller.role]),
        password_change_required=caller.password_change_required,
        password_expires_at=auth.password_expires_at(caller.password_changed_at, settings),
        otp_enabled=caller.otp_enabled,
        otp_setup_required=caller.otp_setup_required,
        otp_recovery_left=recovery.left
        if caller.otp_enabled and (recovery := users.recovery_codes_of(session, caller.user_id))
        else None,
    )


@router.post("/otp/setup", response_model=OtpSetupOut)
def otp_setup(
    body: OtpSetupIn,
    session: SessionDep,
    settings: SettingsDep,
    cipher: CipherDep,
    caller: Authenticated,
    request: Request,
) -> OtpSetupOut:
    """开启动态口令, first step: your password, then a new secret for your authenticator app
    (its QR code, and the secret to type in by hand).  Nothing changes until a code of it is
    confirmed (``POST /api/auth/otp/enable``).  A wrong password counts as a failed login."""
    try:
        secret, uri = users.otp_setup(
            session, caller, body.password, cipher, settings, client_ip(request)
        )
    except (InvalidInput, AccountLocked):
        session.commit()  # keep the failure count and the audit entry
        raise
    session.commit()
    return OtpSetupOut(secret=secret, uri=uri, qr_svg=qr_svg(uri))


@router.post("/otp/enable", response_model=OtpRecoveryOut)
def otp_enable(
    body: OtpCodeIn, session: SessionDep, cipher: CipherDep, caller: Authenticated, request: Request
) -> OtpRecoveryOut:
    """开启动态口令, second step: a code the app shows now.  From then on a login asks for one;
    your other sessions end.  The answer holds ten 备用验证码, each good for one login without
    the phone: shown this once."""
    codes = users.otp_enable(session, caller, body.code, cipher, client_ip(request))
    session.commit()
    return OtpRecoveryOut(recovery_codes=codes)


@router.post("/otp/recovery-codes", response_model=OtpRecoveryOut)
def otp_recovery_codes(
    body: OtpOffIn,
    session: SessionDep,
    settings: SettingsDep,
    cipher: CipherDep,
    caller: Authenticated,
    request: Request,
) -> OtpRecoveryOut:
    """重新生成备用验证码: your password and a code now (the app's, or a recovery code); ten new
    recovery codes, shown this once, and the old ones stop working (409 without 动态口令)."""
    try:
        codes = users.otp_new_recovery_codes(
            session, caller, body.password, body.code, cipher, settings, client_ip(request)
        )
    except (InvalidInput, AccountLocked):
        session.commit()  # keep the failure count and the audit entry
        raise
    session.commit()
    return OtpRecoveryOut(recovery_codes=codes)


@router.post("/otp/disable", status_code=204)
def otp_disable(
    body: OtpOffIn,
    session: SessionDep,
    settings: SettingsDep,
    cipher: CipherDep,
    caller: Authenticated,
    request: Request,
) -> Response:
    """关闭动态口令: your password and a code now (409 where your role must use one)."""
    try:
        users.otp_disable(
            session, caller, body.password, body.code, cipher, settings, client_ip(request)
        )
    except (InvalidInput, AccountLocked):
        session.commit()  # keep the failure count and the audit entry
        raise
    session.commit()
    return Response(status_code=204)


@router.get("/sessions", response_model=list[OwnSessionOut])
def own_sessions(
    session: SessionDep, settings: SettingsDep, caller: Authenticated, request: Request
) -> list[OwnSessionOut]:
    """Your sessions still in force (我的登录), the most recently used first: the wall screen,
    the office computer, the phone … ``current`` is this one."""
    lang = request_lang(request)
    return [OwnSessionOut.of(s, lang) for s in auth.own_sessions(session, caller, settings)]


@router.delete(
    "/sessions/{session_id}",
    status_code=204,
    responses={404: {"description": "no such session of yours in force"}},
)
def end_own_session(
    session_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    session: SessionDep,
    caller: Authenticated,
    request: Request,
) -> Response:
    """End one of your sessions (退出该登录): a screen or a phone left logged in elsewhere stops
    working at once.  Audited (``session.end``)."""
    auth.end_own_session(session, caller, session_id, client_ip(request))
    session.commit()
    return Response(status_code=204)
