"""Request dependencies: session, settings, language, the caller and what they may do.

Every route that touches data declares its permission with :func:`require`; the dependency
authenticates the caller (bearer token, or the session cookie of the map pages), checks the
permission against :mod:`gis.permissions`, and binds the caller's jurisdiction to the session so
row-level security follows it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import date, datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BeforeValidator
from sqlalchemy.orm import Session

from api.headers import content_security_policy, inline_scripts
from api.schemas import a_day, a_storable_time, a_time
from gis import audit, auth
from gis.errors import (
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    OtpSetupRequired,
    PasswordChangeRequired,
    WanggeError,
)
from gis.permissions import PERMISSIONS, ROLE_NAMES, ROLE_NAMES_EN
from gis.pii import PiiCipher
from gis.scope import bind_scope
from gis.settings import Settings
from maps.nav import home_page

SESSION_COOKIE = "wangge_session"


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session per request.  Routes that write call ``session.commit()``; services only flush.

    The cheap dependencies are ``async``: FastAPI runs a sync dependency in its thread pool, and
    each hop there costs more than these functions do (opening a session does no I/O; closing one
    after a commit does none either)."""
    session = request.app.state.sessionmaker()
    try:
        yield session
    finally:
        session.close()


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_cipher(request: Request) -> PiiCipher:
    return request.app.state.cipher


#: what each API route takes in its query string, by the route's id (filled as the routes are
#: first called; APIRoute is not hashable, and the route is kept to tell a reused id)
_TAKES: dict[int, tuple[APIRoute, frozenset[str]]] = {}


def query_names(dependant: Dependant) -> frozenset[str]:
    """The query parameters a route takes: its own and its dependencies'."""
    names: set[str] = set()
    todo = [dependant]
    while todo:
        d = todo.pop()
        names.update(f.alias for f in d.query_params)
        todo.extend(d.dependencies)
    return frozenset(names)


async def known_query(request: Request) -> None:
    """An API route refuses a query parameter it does not take (422, naming those it takes).

    FastAPI passes over parameters a route does not declare: a misspelt filter (``catgory=``)
    would be dropped and the answer, unfiltered, taken for a filtered one.  Pages (``?lang=`` and
    the like) are left alone.  A NUL (``%00``) in the address is refused here, on pages too:
    no code, name or search holds one, and the database cannot take it (but in ``next``, where a
    login goes on to: it goes home instead, :func:`may_open`)."""
    if "\x00" in request.scope["path"] or b"%00" in request.scope.get("query_string", b""):
        _refuse_nul(request)
    if not request.scope.get("query_string") or not request.url.path.startswith("/api/"):
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _TAKES.get(id(route))
    if known is None or known[0] is not route:
        known = _TAKES[id(route)] = (route, query_names(route.dependant))
    takes = known[1]
    unknown = sorted(set(request.query_params) - takes)
    if unknown:
        names, valid = ", ".join(unknown), ", ".join(sorted(takes)) or "—"
        raise InvalidInput(
            f"本接口没有查询参数 {names}（可用：{valid}）。请检查拼写。",
            f"This endpoint takes no query parameter {names} (it takes: {valid}). Check the "
            "spelling.",
            field=unknown[0],
        )


def _refuse_nul(request: Request) -> None:
    """422 naming the path or query parameter that holds a NUL (``next`` excepted)."""
    named = next(
        (k for k, v in (*request.path_params.items(), *request.query_params.multi_items())
         if "\x00" in str(v) and k != "next"),
        None,
    )  # fmt: skip
    if named is None and "\x00" not in request.scope["path"]:
        return
    zh, en = (f"参数 {named} ", f"The parameter {named}") if named else ("地址", "The address")
    raise InvalidInput(
        f"{zh}含有空字符（%00）：请检查链接。",
        f"{en} holds a NUL character (%00): check the link.",
        field=named or "path",
    )


#: the cookie that keeps the language a user chose on a page (``?lang=``) for the next pages
LANG_COOKIE = "wangge_lang"


def request_lang(request: Request) -> str:
    """``en`` or ``zh``: the language the user chose on a page (:data:`LANG_COOKIE`), else
    ``en`` when the browser prefers English (Accept-Language), else ``zh``."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in ("zh", "en"):
        return chosen
    header = request.headers.get("accept-language", "")
    first = header.split(",")[0].strip().lower()
    return "en" if first.startswith("en") else "zh"


def names_en(session: Session, request: Request) -> dict[str, str] | None:
    """The categories' English names by code when the caller asked for English
    (:func:`request_lang`), else None: what the API's case replies name categories with."""
    from gis.cases import category_names_en

    return category_names_en(session) if request_lang(request) == "en" else None


def page_lang(request: Request, asked: str | None) -> str:
    """A page's language: ``asked`` (its ``?lang=``), else :func:`request_lang`."""
    return asked or request_lang(request)


def page_response(html: str, asked: str | None) -> HTMLResponse:
    """A page; the language ``asked`` for (``?lang=``) is remembered for the next pages, the
    login page and the pages after it included."""
    response = HTMLResponse(html)
    if asked:
        response.set_cookie(LANG_COOKIE, asked, max_age=365 * 86400, samesite="lax")
    return response


def map_page_response(request: Request, html: str, asked: str | None) -> HTMLResponse:
    """A page that writes its own scripts inline (a map folium drew): :func:`page_response`,
    with a Content-Security-Policy that lets exactly those scripts run (api.headers)."""
    response = page_response(html, asked)
    with_inline_scripts(request, response, html)
    return response


def with_inline_scripts(request: Request, response: HTMLResponse, html: str) -> None:
    """Let ``html``'s own inline scripts run in ``response`` (it is ``html``), by hash, and no
    others: rendered here from the app's templates, never from a request."""
    base = request.app.state.settings.base_map()
    policy = content_security_policy(base, inline_scripts(html))
    response.headers["content-security-policy"] = policy


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def bearer_token(request: Request) -> str | None:
    """The token from ``Authorization: Bearer …``, else from the map pages' session cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(SESSION_COOKIE)


#: a day (YYYY-MM-DD, or YYYYMMDD) as a query parameter's type
QueryDay = Annotated[date, BeforeValidator(a_day)]
#: where a page of a list starts (``offset``): beyond any list's length, and a number the
#: database can take (2**63 was refused by it as "a value it cannot keep", naming no parameter)
QueryOffset = Annotated[int, Query(ge=0, le=1_000_000_000)]
#: a time (ISO 8601) as a query parameter's type
QueryTime = Annotated[datetime, BeforeValidator(a_time), AfterValidator(a_storable_time)]

SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
CipherDep = Annotated[PiiCipher, Depends(get_cipher)]


def current_principal(
    request: Request, session: SessionDep, settings: SettingsDep
) -> auth.Principal:
    """The authenticated caller (401 without a valid session)."""
    token = bearer_token(request)
    if not token:
        raise NotAuthenticated("请先登录。", "Please log in.")
    principal = auth.authenticate(session, token, settings, touch=not background(request))
    # an error page's way back (api.errors): the caller's own first page, not a page they may
    # not open (a grid worker's is the phone page)
    request.state.home = home_page(principal.can)
    return principal


def session_in_force(
    session: Session, token: str | None, settings: Settings
) -> auth.Principal | None:
    """Whose session ``token`` is, if it is still in force — without counting as activity (the
    login page of a browser still logged in, a login over another account's); None if there is
    none or it has ended."""
    if not token:
        return None
    try:
        return auth.authenticate(session, token, settings, touch=False)
    except WanggeError:
        return None


#: the header of a page's own periodic check (the in-tray's): not the user's doing, so it does
#: not count as activity against the idle timeout
BACKGROUND_HEADER = "X-Wangge-Background"


def background(request: Request) -> bool:
    """Whether ``request`` is a page's own periodic check rather than the user's doing."""
    return request.headers.get(BACKGROUND_HEADER) == "1"


def _check_permission(principal: auth.Principal, permission: str) -> None:
    if principal.must_change_password:
        raise PasswordChangeRequired(
            "您的密码由管理员设置，请先在“我的账号”（/account）修改密码。",
            "Your password was set by an administrator: change it first at My account (/account).",
        )
    if principal.password_expired:
        raise PasswordChangeRequired(
            "您的密码已到期（须定期更换），请先在“我的账号”（/account）修改密码。",
            "Your password has expired (it must be changed regularly): change it first at My "
            "account (/account).",
        )
    if principal.otp_setup_required:
        raise OtpSetupRequired(
            "您的角色须使用动态口令登录，请先在“我的账号”（/account）开启动态口令。",
            "Your role logs in with a one-time code: set it up first at My account (/account).",
        )
    demand(principal, permission)


def demand(principal: auth.Principal, permission: str) -> None:
    """That ``principal`` holds ``permission`` too (a route's option that needs more than the
    route does: ``unmask`` needs pii:read), else 403: the role and the act in words (not the
    permission's code, jargon to a grid worker), the code in the answer for a program."""
    if principal.can(permission):
        return
    zh, en = PERMISSIONS[permission]
    raise Forbidden(
        f"您的角色（{ROLE_NAMES[principal.role]}）无权{zh}。如工作需要，请联系系统管理员。",
        f"Your role ({ROLE_NAMES_EN[principal.role]}) may not {en}. If your work needs it, "
        "ask your administrator.",
        permission=permission,
    )


def require(permission: str) -> Callable[..., Awaitable[auth.Principal]]:
    """A dependency: the caller, who must hold ``permission``; binds their scope to the session."""

    async def dependency(
        session: SessionDep,
        principal: Annotated[auth.Principal, Depends(current_principal)],
    ) -> auth.Principal:
        _check_permission(principal, permission)
        bind_scope(session, principal.scope)
        return principal

    dependency.permission = permission  # type: ignore[attr-defined]  # read by the route audit
    return dependency


class DeferredCaller:
    """A caller whose session token is checked by the route itself, in the worker thread that
    does the route's database work (:func:`require_later`)."""

    __slots__ = ("permission", "settings", "token")

    def __init__(self, token: str, permission: str, settings: Settings) -> None:
        self.token, self.permission, self.settings = token, permission, settings

    def authenticate(self, session: Session) -> auth.Principal:
        """The caller (401 without a valid session, 403 without the permission), with their
        scope bound to ``session``.  Call it first, before reading the request's content."""
        principal = auth.authenticate(session, self.token, self.settings)
        _check_permission(principal, self.permission)
        bind_scope(session, principal.scope)
        return principal


def require_later(permission: str) -> Callable[..., Awaitable[DeferredCaller]]:
    """Like :func:`require`, for a hot route that does all its database work in one worker
    thread: a request without a token is refused here (401), and the route authenticates the
    token in its own thread and session (:meth:`DeferredCaller.authenticate`).  ``require``'s
    lookup runs in a thread of its own, and the route's work in another: with one hop and no
    dependency machinery around it, ``POST /api/reports`` serves 12–19 % more reports a second
    under load (``bench/intake.py``)."""

    async def dependency(request: Request) -> DeferredCaller:
        token = bearer_token(request)
        if not token:
            raise NotAuthenticated("请先登录。", "Please log in.")
        return DeferredCaller(token, permission, request.app.state.settings)

    dependency.permission = permission  # type: ignore[attr-defined]  # read by the route audit
    return dependency


def route_permission(route: APIRoute) -> str | None:
    """The permission ``route`` declares (through :func:`require` or :func:`require_later`),
    ``"authenticated"`` for one any logged-in user may call, None for a public one."""
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        permission = getattr(dep.call, "permission", None)
        if permission is not None:
            return str(permission)
        if dep.call is current_principal:
            return "authenticated"
        stack.extend(dep.dependencies)
    return None


def may_open(pages: Iterable[APIRoute], target: str, can: Callable[[str], bool]) -> bool:
    """Whether a user holding ``can`` may open the page at ``target`` (a same-site path; its
    query is not looked at), one of ``pages`` (the app's ``GET`` routes): the permission its
    route declares.  Which rows it shows (the caller's jurisdiction) is the page's own check.
    No such page: False."""
    path = urlsplit(target).path
    for route in pages:
        if route.path_regex.match(path):
            permission = route_permission(route)
            return permission in (None, "authenticated") or can(permission)
    return False


# The callers routes ask for, by the permission they need (gis.permissions has the table).
Authenticated = Annotated[auth.Principal, Depends(current_principal)]
MapViewer = Annotated[auth.Principal, Depends(require("map:view"))]
BoundaryReader = Annotated[auth.Principal, Depends(require("boundary:read"))]
Planner = Annotated[auth.Principal, Depends(require("boundary:edit"))]
Locator = Annotated[auth.Principal, Depends(require("locate"))]
CategoryReader = Annotated[auth.Principal, Depends(require("category:read"))]
CaseReader = Annotated[auth.Principal, Depends(require("case:read"))]
Reporter = Annotated[auth.Principal, Depends(require("case:report"))]
LateReporter = Annotated[DeferredCaller, Depends(require_later("case:report"))]
Triager = Annotated[auth.Principal, Depends(require("case:triage"))]
Handler = Annotated[auth.Principal, Depends(require("case:handle"))]
Noter = Annotated[auth.Principal, Depends(require("case:note"))]
Verifier = Annotated[auth.Principal, Depends(require("case:verify"))]
Patroller = Annotated[auth.Principal, Depends(require("patrol:record"))]
PatrolReader = Annotated[auth.Principal, Depends(require("patrol:read"))]
AuditReader = Annotated[auth.Principal, Depends(require("audit:read"))]
UserManager = Annotated[auth.Principal, Depends(require("user:manage"))]
DataImporter = Annotated[auth.Principal, Depends(require("data:import"))]


def audit_caller(
    session: Session,
    request: Request,
    caller: auth.Principal,
    action: str,
    object: str,
    detail: dict | None = None,
) -> None:
    """Record a successful act of the caller (in the request's transaction)."""
    audit.record(
        session,
        action,
        success=True,
        user_id=caller.user_id,
        username=caller.username,
        object=object,
        source_ip=client_ip(request),
        detail=detail,
    )


def audit_phone_lookup(
    session: Session, request: Request, caller: auth.Principal, detail: dict | None = None
) -> None:
    """Record a search of cases by a party's phone (``pii.lookup``), committed at once: the
    answer has been computed, and the trail must hold even if sending it fails."""
    audit_caller(session, request, caller, "pii.lookup", "case_party:phone", detail)
    session.commit()
