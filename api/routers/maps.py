"""Map pages (HTML built by ``maps``) and the login page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from html import escape
from typing import Annotated, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from api.deps import (
    SESSION_COOKIE,
    AuditReader,
    CaseReader,
    CipherDep,
    Handler,
    MapViewer,
    PatrolReader,
    Planner,
    QueryDay,
    QueryOffset,
    Reporter,
    SessionDep,
    SettingsDep,
    audit_caller,
    audit_phone_lookup,
    bearer_token,
    client_ip,
    map_page_response,
    page_lang,
    page_response,
    session_in_force,
)
from api.media import XLSX, XLSX_RESPONSES
from api.routers.audit import DAY_OR_EMPTY, AuditFilters, form_day, read_trail
from api.routers.auth import CLEAR_ON_LOGOUT
from api.routers.edits import actor_of
from api.schemas import CASE_CODE_PATTERN
from gis import (
    auth,
    boundaries,
    cases,
    edits,
    ledger,
    mapdata,
    patrols,
    ranking,
    report,
    safety,
    supervision,
    workers,
    workflow,
)
from gis.auth import Principal
from gis.english import one_said_once
from gis.errors import InvalidInput, NotFound
from gis.ledger import LedgerOrder
from gis.permissions import ROLE_NAMES_EN
from gis.pii import validate_phone
from gis.repeats import repeat_peers
from gis.report import Daily
from gis.scope import Scope
from gis.settings import Settings
from gis.worktime import SHANGHAI, report_day
from maps.assets import asset_url
from maps.city import build_city_map, render_page
from maps.command import CommandOptions, build_command_map
from maps.exports import (
    EXPORT_MAX,
    audit_name,
    audit_xlsx,
    ledger_name,
    ledger_xlsx,
    queue_name,
    queue_xlsx,
    roster_name,
    roster_xlsx,
)
from maps.ledger import LEDGER_PAGE_SIZE, grid_record_page, ledger_page
from maps.nav import home_page, page_links
from maps.pages import (
    AUDIT_EXPORT_MAX,
    AUDIT_PAGE_SIZE,
    LETTERS,
    QUEUE_PAGE_SIZE,
    WORKERS_PAGE_SIZE,
    audit_page,
    case_page,
    find_page,
    language_switch,
    letter_page,
    login_page,
    nav_line,
    planner_index_page,
    qr_png,
    qr_svg,
    queue_page,
    receipt_page,
    tracking_page,
    workers_page,
)
from maps.patrols import build_patrol_map
from maps.phone import SERVICE_WORKER_URL, phone_page, service_worker
from maps.planner import PlannerOptions, build_planner_map
from maps.safety import build_safety_map

router = APIRouter(tags=["maps 地图"])


#: ``?lang=`` of the pages that speak both languages (else the browser's Accept-Language)
PageLang = Annotated[
    Literal["zh", "en"] | None,
    Query(description="页面语言 the page's language (default: the browser's)"),
]


RegionOptional = Annotated[
    str | None, Query(pattern=r"^[0-9]{6,12}$", description="region code (default: yours)")
]
DayOptional = Annotated[
    QueryDay | None,
    Query(alias="date", description="YYYY-MM-DD, Asia/Shanghai (default: yesterday)"),
]


@router.get("/", response_class=HTMLResponse)
def city_map(
    session: SessionDep,
    settings: SettingsDep,
    caller: MapViewer,
    request: Request,
    lang: PageLang = None,
) -> HTMLResponse:
    """The overview map of your jurisdiction: outlines, grids, centers and a heatmap of cases.
    In Chinese, or in English."""
    language = page_lang(request, lang)
    extent = boundaries.scope_extent(session, caller.scope)
    name = boundaries.scope_name(session, caller.scope) or "网格 wangge"
    m = build_city_map(
        title=f"{name} · " + ("Grid map" if language == "en" else "综治网格地图"),
        subtitle=_demo_subtitle(session, language),
        bounds=(extent.west, extent.south, extent.east, extent.north) if extent else None,
        base=settings.base_map(),
        user=_user(caller, language),
        links=_map_links(caller, "/", language, request),
        lang=language,
    )
    return map_page_response(request, render_page(m, language), lang)


def _map_links(caller: Principal, here: str, lang: str, request: Request) -> list[tuple[str, str]]:
    """A map page's menu, and the switch to the same map (same region, village, moment) in the
    other language (last)."""
    other = "zh" if lang == "en" else "en"
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "lang"])
    href = f"{request.url.path}?{query + '&' if query else ''}lang={other}"
    return [*page_links(caller.can, here, lang), ("中文" if lang == "en" else "English", href)]


def _user(caller: Principal, lang: str = "zh") -> str:
    """The logged-in user as the pages show them: name（role）, or name (role) in English."""
    name = caller.display_name or caller.username
    if lang == "en":
        return f"{name} ({ROLE_NAMES_EN[caller.role]})"
    return f"{name}（{caller.role_name}）"


def _categories(session: Session, lang: str = "zh") -> list[tuple[str, str, str]]:
    return [
        (c.code, c.name_en if lang == "en" else c.name_zh, c.kind)
        for c in cases.list_categories(session)
    ]


@router.get("/maps/command", response_class=HTMLResponse)
def command_map(
    session: SessionDep,
    settings: SettingsDep,
    caller: MapViewer,
    request: Request,
    region: Annotated[
        str | None, Query(pattern=r"^[0-9]{6,12}$", description="region code 区划代码")
    ] = None,
    as_of: Annotated[
        str | None,
        Query(description="draw the grid layout of a past date (or ISO time) 历史网格划分"),
    ] = None,
    lang: PageLang = None,
) -> HTMLResponse:
    """The command view of a region you may see (default: your whole jurisdiction): outlines,
    grid choropleth, heatmap with filters and a 30-day slider, hotspots, centers' load, overdue
    cases and a live layer of new reports — 指挥中心地图.  ``as_of`` draws a past grid layout."""
    if as_of:
        boundaries.as_of_moment(as_of)  # 422 for a malformed moment
    scope = boundaries.narrow_scope(session, caller.scope, region)
    extent = boundaries.scope_extent(session, scope)
    name = boundaries.scope_name(session, scope) or "网格 wangge"
    base = settings.base_map()
    language = page_lang(request, lang)
    if language == "en":
        title = f"{name} · Command center" + (f" (grids as of {as_of})" if as_of else "")
    else:
        title = f"{name} · 指挥中心" + (f"（{as_of} 的网格划分）" if as_of else "")
    m = build_command_map(
        title=title,
        subtitle=_demo_subtitle(session, language),
        bounds=(extent.west, extent.south, extent.east, extent.north) if extent else None,
        options=CommandOptions(
            region=region,
            categories=_categories(session, language),
            tile_datum=base.datum,
            as_of=as_of,
            lang=language,
            patrols=caller.can("patrol:read"),
            trend=True,
        ),
        base=base,
        user=_user(caller, language),
        links=_map_links(caller, "/maps/command", language, request),
    )
    return map_page_response(request, render_page(m, language), lang)


@router.get("/maps/safety", response_class=HTMLResponse)
def safety_map(
    session: SessionDep,
    settings: SettingsDep,
    caller: CaseReader,
    request: Request,
    region: RegionOptional = None,
    day: DayOptional = None,
    lang: PageLang = None,
) -> HTMLResponse:
    """平安指数地图: the safety index of a region you may see (default: yours) for the 30 days
    ending with ``date`` (default: yesterday) — its child regions coloured by band and ranked,
    each with its main deduction and the change from a week before; a click goes one level
    down.  In Chinese, or in English."""
    index = safety.safety_index(session, caller.scope, region, report_day(day))
    code = index.region.code
    language = page_lang(request, lang)
    suffix = "&lang=en" if language == "en" else ""
    base = settings.base_map()
    m = build_safety_map(
        index=index,
        outlines=safety.outlines(session, [code, *(c.code for c in index.children)]),
        href=lambda r: f"/maps/safety?region={r}{suffix}",
        up=safety.parent_code(session, caller.scope, code),
        base=base,
        subtitle=_demo_subtitle(session, language),
        user=_user(caller, language),
        links=_map_links(caller, "/maps/safety", language, request),
        lang=language,
    )
    return map_page_response(request, render_page(m, language), lang)


@router.get("/maps/grid/{code}", response_class=HTMLResponse)
def grid_map(
    code: Annotated[str, Path(pattern=r"^[0-9]{15}$", description="grid code 网格编码")],
    session: SessionDep,
    settings: SettingsDep,
    caller: MapViewer,
    request: Request,
    lang: PageLang = None,
) -> HTMLResponse:
    """One grid and its surroundings, for the grid worker and the operator — 网格地图."""
    grid = boundaries.grid_extent(session, caller.scope, code)
    if grid is None:
        raise NotFound(
            f"没有编码为 {code} 的现行网格，或不在您的管辖范围内。",
            f"No current grid {code} in your jurisdiction.",
        )
    name, (west, south, east, north) = grid
    pad_x, pad_y = (east - west) * 0.6, (north - south) * 0.6
    base = settings.base_map()
    language = page_lang(request, lang)
    # its record (网格档案: size, workers, versions) first, for those who may read it
    record = (
        [("Grid record" if language == "en" else "网格档案", f"/grids/{code}")]
        if caller.can("case:read")
        else []
    )
    m = build_command_map(
        title=f"{name} ({code})" if language == "en" else f"{name}（{code}）",
        subtitle=_demo_subtitle(session, language),
        bounds=(west - pad_x, south - pad_y, east + pad_x, north + pad_y),
        options=CommandOptions(
            categories=_categories(session, language),
            tile_datum=base.datum,
            focus_grid=code,
            grid_min_zoom=10,
            case_min_zoom=13,
            lang=language,
            patrols=caller.can("patrol:read"),
        ),
        base=base,
        user=_user(caller, language),
        links=record + _map_links(caller, "", language, request),
    )
    return map_page_response(request, render_page(m, language), lang)


@router.get("/maps/planner", response_class=HTMLResponse)
def planner_map(
    session: SessionDep,
    settings: SettingsDep,
    caller: Planner,
    request: Request,
    village: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9]{12}$",
            description="village code 村（社区）代码; without it, the villages to pick from",
        ),
    ] = None,
    edit: Annotated[
        int | None,
        Query(
            ge=1,
            le=2**31 - 1,
            description="your edit set not yet committed to take up (default: your newest one "
            "with work in the village)",
        ),
    ] = None,
    lang: PageLang = None,
) -> Response:
    """The planner's map of one village: its grids, the Draw tools, the edit set's operations,
    findings and preview on the map, commit or discard — 网格调整.  Without ``village``: the
    villages of the planner's area to choose from (a village's planner goes straight to it).
    The planner's own edit set not yet committed with work in the village is taken up (``edit``,
    else the newest).  In Chinese, or in English."""
    language = page_lang(request, lang)
    if village is None:
        if caller.scope.level == "village":
            return RedirectResponse(
                f"/maps/planner?village={caller.scope.region_code}", status_code=303
            )
        name = boundaries.scope_name(session, caller.scope) or "网格 wangge"
        return page_response(
            planner_index_page(
                name,
                _user(caller, language),
                boundaries.villages(session, caller.scope),
                page_links(caller.can, "/maps/planner", language),
                language,
                boundaries.village_overview(session, caller.scope),
                ledger.recent_edits(session, caller.scope),
                edits.open_edits_of(session, actor_of(caller)),
            ),
            lang,
        )
    scope = boundaries.narrow_scope(session, caller.scope, village)
    if scope.level != "village":
        raise InvalidInput(
            f"{village} 不是村（社区）：网格调整按村（社区）进行。",
            f"{village} is not a village: grids are edited village by village.",
            field="village",
        )
    extent = boundaries.scope_extent(session, scope)
    assert extent is not None  # the village exists (narrow_scope found it)
    pad_x, pad_y = (extent.east - extent.west) * 0.15, (extent.north - extent.south) * 0.15
    en = language == "en"
    others = ("Another village", "/maps/planner") if en else ("选择其他村（社区）", "/maps/planner")
    export = (
        "Export its grids (GeoPackage)" if en else "导出本村网格（GeoPackage）",
        f"/exports/grids.gpkg?region={village}",
    )
    m = build_planner_map(
        title=f"{scope.region_name} · " + ("grid edits" if en else "网格调整"),
        subtitle=_demo_subtitle(session, language),
        bounds=(extent.west - pad_x, extent.south - pad_y, extent.east + pad_x,
                extent.north + pad_y),
        options=PlannerOptions(
            village=village, village_name=str(scope.region_name), lang=language,
            workers=tuple(
                {"code": w.code, "name": w.name, "grids": w.grids}
                for w in ledger.village_workers(session, caller.scope, village)
            ),
            open_edit=edits.open_edit_of(session, actor_of(caller), village, edit),
            others=tuple(edits.others_open_in(session, actor_of(caller), village)),
        ),
        base=settings.base_map(),
        user=_user(caller, language),
        links=[others, export, *_map_links(caller, "/maps/planner", language, request)],
    )  # fmt: skip
    return map_page_response(request, render_page(m, language), lang)


def _demo_subtitle(session: Session, lang: str = "zh") -> str:
    """Says that the data are the demo's, on a demo deployment."""
    if boundaries.scope_name(session, Scope.everything()) != "示例市":
        return ""
    return "Demo data (a fictional city)" if lang == "en" else "示例数据（虚构城市）"


@router.get("/t/{token}", response_class=HTMLResponse)
def tracking(
    token: Annotated[str, Path(max_length=64, description="public tracking token (32 hex)")],
    session: SessionDep,
    request: Request,
    lang: PageLang = None,
) -> HTMLResponse:
    """The public case-tracking page (anonymous): status and steps, no personal data.  A
    malformed token is a link with no case behind it (404, the resident's wording), not a 422.
    In Chinese, or in English for ``?lang=en`` or a browser that prefers English."""
    language = page_lang(request, lang)
    return page_response(tracking_page(cases.public_case(session, token, language), language), lang)


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    next: str | None = None,
    lang: PageLang = None,
) -> HTMLResponse:
    """The login page (anonymous).  Without ``next``, the user goes to their first page (the
    login answer's ``home``).  A browser still logged in is told as whom, with the way in."""
    language = page_lang(request, lang)
    caller = session_in_force(session, bearer_token(request), settings)
    signed_in = None if caller is None else (_user(caller, language), home_page(caller.can))
    return page_response(login_page(next, lang=language, signed_in=signed_in), lang)


@router.post("/logout", include_in_schema=False)
def logout_form(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The pages' 退出登录 (a form, no script needed): the session ends as with
    ``POST /api/auth/logout``, its cookie goes, and the browser goes to the login page.  A
    session already over (expired, revoked) goes there too: the user wanted out, and is out.
    A form posted from another site ends nothing (the browser says so in ``Sec-Fetch-Site``,
    whatever proxy stands in front).  The browser lets go of what it kept of the app, as after
    the API's logout (``CLEAR_ON_LOGOUT``)."""
    if request.headers.get("sec-fetch-site") in ("cross-site", "same-site"):
        return RedirectResponse("/login", status_code=303)
    caller = session_in_force(session, request.cookies.get(SESSION_COOKIE), settings)
    if caller is not None:
        auth.logout(session, caller, client_ip(request))
        session.commit()
    response = RedirectResponse(
        "/login", status_code=303, headers={"Clear-Site-Data": CLEAR_ON_LOGOUT}
    )
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


CaseCode = Annotated[str, Path(pattern=CASE_CODE_PATTERN, description="case code 案件编码")]


def tracking_url(request: Request, settings: Settings, token: str) -> str:
    """The absolute address of a case's public page, as a resident's phone must reach it."""
    base = (settings.public_url or str(request.base_url)).rstrip("/")
    return f"{base}/t/{token}"


@router.get("/cases/{code}/receipt", response_class=HTMLResponse)
def receipt(
    code: CaseCode,
    session: SessionDep,
    settings: SettingsDep,
    cipher: CipherDep,
    caller: CaseReader,
    request: Request,
    lang: PageLang = None,
) -> HTMLResponse:
    """The printable receipt for the resident (回执): case code, handling center, deadline and the
    QR code of the public tracking page.  No personal data.  In Chinese, or in English for
    ``?lang=en`` or a browser that prefers English."""
    case = cases.get_case(session, caller.scope, code, cipher)
    language = page_lang(request, lang)
    category = _categories_en(session, language).get(case.category)
    url = tracking_url(request, settings, case.public_token)
    return page_response(receipt_page(case, url, language, category), lang)


def _categories_en(session: Session, lang: str) -> dict[str, str]:
    """For a page in English, the categories' English names by code and by Chinese name (empty
    for a page in Chinese: the cases carry their Chinese names)."""
    if lang != "en":
        return {}
    return {k: c.name_en for c in cases.list_categories(session) for k in (c.code, c.name_zh)}


@router.get("/cases/{code}", response_class=HTMLResponse)
def case_view(
    code: CaseCode,
    session: SessionDep,
    settings: SettingsDep,
    cipher: CipherDep,
    caller: CaseReader,
    request: Request,
    lang: PageLang = None,
) -> HTMLResponse:
    """The operator's case page (案件详情): the spot on a map, the timeline of events, documents,
    photos, parties (masked) and the actions allowed now.  In Chinese, or in English for
    ``?lang=en``, a browser that prefers English or English chosen on another page."""
    case = cases.get_case(session, caller.scope, code, cipher)
    wf = workflow.workflow_view(session, caller.scope, code, handles=caller.can("case:handle"))
    language = page_lang(request, lang)
    # the possible duplicates the reader may see: their states, and their points for the map
    linked = cases.case_states(session, caller.scope, [other for other, _, _ in case.duplicates])
    return page_response(
        case_page(
            case,
            wf,
            can_handle=caller.can("case:handle"),
            can_unmask=caller.can("pii:read"),
            can_triage=caller.can("case:triage"),
            can_note=caller.can("case:note"),
            can_add_photos=caller.can("case:report"),
            can_verify=caller.can("case:verify")
            and case.status == "resolved"
            and workflow.in_own_grids(
                caller.scope, case.location.grid.code if case.location.grid else None
            ),
            base=settings.base_map(),
            links=page_links(caller.can, "", language),
            user=_user(caller, language),
            lang=language,
            category_name=_categories_en(session, language).get(case.category),
            workers=mapdata.grid_workers(session, case.location.grid.code)
            if case.location.grid
            else [],
            duplicate_states={other: state for other, (state, _) in linked.items()},
            duplicate_points={other: at for other, (_, at) in linked.items() if at is not None},
            verify_days=settings.verify_work_days,
            repeats=repeat_peers(
                session,
                caller.scope,
                case.code,
                place=bool((case.flags or {}).get("repeat_place")),
                resident=bool((case.flags or {}).get("repeat_resident")),
            ),
        ),
        lang,
    )


@router.get("/cases/{code}/letters/{stage}", response_class=HTMLResponse)
def supervision_letter(
    code: CaseCode,
    stage: Annotated[
        Literal["reminder", "supervision", "notice"],
        Path(description="reminder 提醒函 | supervision 督办函 | notice 通报"),
    ],
    session: SessionDep,
    settings: SettingsDep,
    cipher: CipherDep,
    caller: CaseReader,
    request: Request,
    lang: PageLang = None,
) -> HTMLResponse:
    """A printable supervision document the deadline clock issued for the case (latest round).
    In Chinese, or in English."""
    case = cases.get_case(session, caller.scope, code, cipher)
    event = next(
        (
            e
            for e in reversed(workflow.workflow_view(session, caller.scope, code).events)
            if e.data.get("stage") == stage
        ),
        None,
    )
    if event is None:
        raise NotFound(
            f"该案件尚未发出{LETTERS[stage][0]}。", f"No {stage} letter was issued for this case."
        )
    url = tracking_url(request, settings, case.public_token)
    language = page_lang(request, lang)
    category = _categories_en(session, language).get(case.category)
    addressee = supervision.addressee(session, stage, event.data, case.location.center)
    return page_response(
        letter_page(case, stage, event, url, language, category, addressee=addressee), lang
    )


_QR = {"svg": (qr_svg, "image/svg+xml"), "png": (qr_png, "image/png")}


@router.get("/api/cases/{code}/qr.{fmt}", response_class=Response)
def case_qr(
    code: CaseCode,
    fmt: Annotated[Literal["svg", "png"], Path(description="svg | png")],
    session: SessionDep,
    settings: SettingsDep,
    cipher: CipherDep,
    caller: CaseReader,
    request: Request,
) -> Response:
    """The QR code (SVG or PNG) pointing to the case's public tracking page."""
    case = cases.get_case(session, caller.scope, code, cipher)
    make, media_type = _QR[fmt]
    return Response(make(tracking_url(request, settings, case.public_token)), media_type=media_type)


class QueuePageFilters:
    """The queue page's filters, shared by its export (the same cases, all of them)."""

    def __init__(
        self,
        status: Annotated[
            str | None, Query(description="one state (default: every open one)")
        ] = None,
        overdue: bool = False,
        due_within_hours: Annotated[float | None, Query(gt=0, le=24 * 365)] = None,
        below: Annotated[bool, Query(description="also the centers under yours")] = False,
        flagged: Annotated[
            bool, Query(description="only those with a repeat warning or a possible duplicate")
        ] = False,
        category: Annotated[str | None, Query(max_length=32)] = None,
        grid: Annotated[str | None, Query(pattern=r"^[0-9]{15}$")] = None,
        unplaced: Annotated[
            bool, Query(description="only those without a point (位置待查明)")
        ] = False,
    ) -> None:
        self.status, self.overdue, self.due_within_hours = status, overdue, due_within_hours
        self.below, self.flagged, self.category, self.grid = below, flagged, category, grid
        self.unplaced = unplaced

    def queue(
        self, session: Session, caller: Principal, limit: int, offset: int = 0
    ) -> workflow.Queue:
        """The caller's queue with these filters: ``limit`` cases from ``offset``."""
        if self.category:
            cases.check_category(session, self.category)
        return workflow.queue(
            session,
            caller.scope,
            statuses=[self.status] if self.status else [],
            category=self.category,
            grid=self.grid,
            overdue=True if self.overdue else None,
            due_within_hours=self.due_within_hours,
            below=self.below,
            flagged=self.flagged,
            unplaced=self.unplaced,
            limit=limit,
            offset=offset,
        )

    def as_query(self) -> dict[str, object]:
        """The filters as the page's links carry them."""
        return {
            "status": self.status,
            "overdue": self.overdue,
            "due_within_hours": self.due_within_hours and f"{self.due_within_hours:g}",
            "below": self.below,
            "flagged": self.flagged,
            "category": self.category,
            "grid": self.grid,
            "unplaced": self.unplaced,
        }


@router.get("/queue", response_class=HTMLResponse)
def queue(
    session: SessionDep,
    caller: Handler,
    request: Request,
    filters: Annotated[QueuePageFilters, Depends()],
    offset: QueryOffset = 0,
    lang: PageLang = None,
) -> HTMLResponse:
    """The center desk's in-tray — 待办案件: its cases, most urgent first (``GET /api/queue``
    as a page), with counts per state and one-click filters, and the list as a spreadsheet
    (``/queue.xlsx``).  In Chinese, or in English."""
    q = filters.queue(session, caller, QUEUE_PAGE_SIZE, offset)
    language = page_lang(request, lang)
    return page_response(
        queue_page(
            q,
            user=_user(caller, language),
            links=page_links(caller.can, "/queue", language),
            filters=filters.as_query(),
            offset=offset,
            lang=language,
            category_names=_categories_en(session, language),
            can_handle=caller.can("case:handle"),
        ),
        lang,
    )


@router.get("/queue.xlsx", response_class=Response, responses=XLSX_RESPONSES)
def queue_export(
    session: SessionDep,
    caller: Handler,
    request: Request,
    filters: Annotated[QueuePageFilters, Depends()],
    lang: PageLang = None,
) -> Response:
    """待办案件导出: the queue page's cases (the same filters, every page of them, in the same
    order) as an Excel workbook, headers in Chinese or English.  At most
    :data:`~maps.exports.EXPORT_MAX` cases (more: 422, narrow the filters).  Each export is in
    the audit log (``case.export``)."""
    q = filters.queue(session, caller, EXPORT_MAX)
    if q.total > EXPORT_MAX:
        raise InvalidInput(
            f"符合条件的案件有 {q.total:,} 件，一次最多导出 {EXPORT_MAX:,} 件。请用状态、超期等"
            "条件缩小范围后再导出。",
            f"{q.total:,} cases match, and one export holds at most {EXPORT_MAX:,}. Narrow the "
            "list with the status or overdue filters, then export again.",
        )
    language = page_lang(request, lang)
    now = datetime.now(SHANGHAI)
    if language == "en":
        center = q.center or "all centers"
        title = one_said_once(
            f"Case queue · {center} (exported {now:%Y-%m-%d %H:%M}, {q.total} cases)"
        )
    else:
        center = q.center or "全部中心"
        title = f"待办案件 · {center}（导出于 {now:%Y-%m-%d %H:%M}，共 {q.total} 件）"
    body = queue_xlsx(
        q,
        title=title,
        details=workflow.queue_details(session, [i.code for i in q.items]),
        lang=language,
        category_names=_categories_en(session, language),
    )
    audit_caller(
        session,
        request,
        caller,
        "case.export",
        f"queue:{q.center or '*'}",
        {k: v for k, v in filters.as_query().items() if v} | {"cases": q.total},
    )
    session.commit()
    return _workbook_response(body, queue_name(q.center, now, language))


@router.get("/workers", response_class=HTMLResponse)
def workers_view(
    session: SessionDep,
    caller: CaseReader,
    request: Request,
    region: RegionOptional = None,
    least: Annotated[bool, Query(description="the fewest reports first")] = False,
    offset: QueryOffset = 0,
    lang: PageLang = None,
) -> HTMLResponse:
    """网格员名册: the grid workers of your region (or of one ``region`` in it), each with their
    village, grids, phone and account, the grid workers' reports in their grids over the last
    30 days and the last one, and the open cases of their grids; those not heard from marked,
    and counted.  In Chinese, or in English."""
    scope = boundaries.narrow_scope(session, caller.scope, region)
    found = workers.roster(
        session, scope, least_first=least, limit=WORKERS_PAGE_SIZE, offset=offset
    )
    language = page_lang(request, lang)
    name = scope.region_name or ("all regions" if language == "en" else "全部区划")
    return page_response(
        workers_page(
            found,
            region=name,
            user=_user(caller, language),
            links=page_links(caller.can, "/workers", language),
            filters={"region": region, "least": least},
            offset=offset,
            lang=language,
        ),
        lang,
    )


@router.get("/workers/{code}/patrols", response_class=HTMLResponse)
def worker_patrols_map(
    code: Annotated[str, Path(max_length=20, description="grid worker code 网格员编号")],
    session: SessionDep,
    settings: SettingsDep,
    caller: PatrolReader,
    request: Request,
    day: Annotated[
        QueryDay | None, Query(description="the day (Beijing time); default: today")
    ] = None,
    lang: PageLang = None,
) -> HTMLResponse:
    """巡查轨迹: where a grid worker of your region checked in on patrol on a ``day``, in time
    order, over their grids; the days before and after a click away.  A grid worker sees their
    own."""
    worker = patrols.patrol_worker(session, caller.scope, code)
    if worker is None or (caller.role == "grid_worker" and caller.user_id not in worker.user_ids):
        raise patrols.unknown_worker(code)
    today = datetime.now(SHANGHAI).date()
    shown = min(day or today, today)
    since, until = patrols.day_bounds(shown)
    found = patrols.list_patrols(
        session, caller.scope, since=since, until=until, worker_id=worker.id
    )
    language = page_lang(request, lang)
    en = language == "en"
    here = f"/workers/{quote(code)}/patrols"
    try:
        before = shown - timedelta(days=1)
    except OverflowError:
        raise patrols.day_out_of_range(shown) from None
    links = [(("← Day before" if en else "← 前一天"), f"{here}?day={before}")]
    if shown < today:
        links.append(
            (("Day after →" if en else "后一天 →"), f"{here}?day={shown + timedelta(days=1)}")
        )
    links.append((("Grid workers" if en else "网格员名册"), "/workers"))
    links += _map_links(caller, "", language, request)[-1:]  # (the other language)
    village = f" · {worker.village}" if worker.village else ""
    m = build_patrol_map(
        title=(
            f"Patrol · {worker.name} ({code}){village} · {shown:%Y-%m-%d}"
            if en
            else f"巡查轨迹 · {worker.name}（{code}）{village} · {shown:%Y-%m-%d}"
        ),
        subtitle=_demo_subtitle(session, language),
        features=patrols.patrols_geojson(found),
        grids=worker.grids,
        bounds=worker.bounds,
        base=settings.base_map(),
        user=_user(caller, language),
        links=links,
        lang=language,
    )
    return map_page_response(request, render_page(m, language), lang)


@router.get("/workers.xlsx", response_class=Response, responses=XLSX_RESPONSES)
def workers_export(
    session: SessionDep,
    caller: CaseReader,
    request: Request,
    region: RegionOptional = None,
    least: Annotated[bool, Query(description="the fewest reports first")] = False,
    lang: PageLang = None,
) -> Response:
    """网格员名册导出: the roster page's workers (the same region and order, every page of them)
    as an Excel workbook, headers in Chinese or English.  Audited (``workers.export``: names
    and phones leave the system)."""
    scope = boundaries.narrow_scope(session, caller.scope, region)
    found = workers.roster(session, scope, least_first=least, limit=EXPORT_MAX)
    export = _RegionExport(session, request, caller, scope, region, page_lang(request, lang))
    export.check(found.total, "该区划有 {n} 名网格员，一次最多导出 {most} 名。",
                 "{n} grid workers here")  # fmt: skip
    title = export.title("网格员", "Grid workers", f"共 {found.total} 名", str(found.total))
    body = roster_xlsx(found, title=title, lang=export.lang)
    return export.done(body, roster_name, "workers.export", {"workers": found.total})


LedgerOrderQuery = Annotated[
    LedgerOrder,
    Query(
        description="code: by village and code; open: most open cases first; households: most "
        "households first; recent: most cases of the last 30 days first"
    ),
]
LedgerSearch = Annotated[
    str | None, Query(max_length=40, description="a grid code's first digits, or words of its name")
]


class LedgerFilters:
    """The ledger page's filters, shared by its export (the same grids, all of them)."""

    def __init__(
        self,
        settings: SettingsDep,
        region: RegionOptional = None,
        order: LedgerOrderQuery = "code",
        unstaffed: Annotated[bool, Query(description="only grids without a grid worker")] = False,
        large: Annotated[
            bool,
            Query(
                description="only grids of more households than the deployment's rule "
                "(WANGGE_GRID_HOUSEHOLDS_MAX, 500 unless set)"
            ),
        ] = False,
        q: LedgerSearch = None,
        chiefless: Annotated[
            bool, Query(description="only grids with grid workers but no chief (未设网格长)")
        ] = False,
    ) -> None:
        self.region, self.order, self.unstaffed, self.large, self.q = (
            region, order, unstaffed, large, q
        )  # fmt: skip
        self.chiefless = chiefless
        self.households_max = settings.grid_households_max

    def ledger(
        self, session: Session, caller: Principal, limit: int, offset: int = 0
    ) -> tuple[Scope, ledger.Ledger]:
        """The caller's region (or the one asked for in it) and its grids with these filters."""
        scope = boundaries.narrow_scope(session, caller.scope, self.region)
        found = ledger.ledger(
            session, scope, order=self.order, unstaffed=self.unstaffed, large=self.large,
            chiefless=self.chiefless,
            search=self.q, patrols=caller.can("patrol:read"), limit=limit, offset=offset,
            households_max=self.households_max,
        )  # fmt: skip
        return scope, found

    def as_query(self) -> dict[str, object]:
        """The filters as the page's links carry them."""
        return {
            "region": self.region,
            "order": None if self.order == "code" else self.order,
            "unstaffed": self.unstaffed,
            "chiefless": self.chiefless,
            "large": self.large,
            "q": self.q,
        }


@router.get("/grids", response_class=HTMLResponse)
def grids_ledger(
    session: SessionDep,
    caller: CaseReader,
    request: Request,
    filters: Annotated[LedgerFilters, Depends()],
    offset: QueryOffset = 0,
    lang: PageLang = None,
) -> HTMLResponse:
    """网格台账: the current grids of your region (or of one ``region`` in it), each with its
    village, households, people, area, grid workers, open and recent cases (and days patrolled,
    for those who may read check-ins); those without a worker or of many households marked, and
    counted.  In Chinese, or in English."""
    scope, found = filters.ledger(session, caller, LEDGER_PAGE_SIZE, offset)
    language = page_lang(request, lang)
    name = scope.region_name or ("all regions" if language == "en" else "全部区划")
    return page_response(
        ledger_page(
            found,
            region=name,
            user=_user(caller, language),
            links=page_links(caller.can, "/grids", language),
            filters=filters.as_query(),
            offset=offset,
            patrols=caller.can("patrol:read"),
            planner=caller.can("boundary:edit"),
            below=ledger.children(session, scope, filters.households_max),
            queue=caller.can("case:handle"),
            lang=language,
        ),
        lang,
    )


@router.get("/grids/{code}", response_class=HTMLResponse)
def grid_record(
    code: Annotated[str, Path(pattern=r"^[0-9]{15}$", description="grid code 网格编码")],
    session: SessionDep,
    caller: CaseReader,
    request: Request,
    settings: SettingsDep,
    lang: PageLang = None,
) -> HTMLResponse:
    """网格档案: a grid of your region as it is now (village, size, workers with their phones,
    open and recent cases) and its history: every version with its time in force, size, edit
    set, the grids its land came from or went to and its cases, and their outlines drawn
    together.  A retired grid shows its versions.  In Chinese, or in English."""
    record = ledger.grid_record(
        session, caller.scope, code, patrols=caller.can("patrol:read"),
        households_max=settings.grid_households_max,
    )  # fmt: skip
    if record is None:
        raise NotFound(
            f"没有编码为 {code} 的网格（任何版本），或不在您的管辖范围内。",
            f"No grid {code} (any version) in your jurisdiction.",
        )
    language = page_lang(request, lang)
    planner = caller.can("boundary:edit")
    return page_response(
        grid_record_page(
            record,
            user=_user(caller, language),
            links=page_links(caller.can, "", language),
            planner=planner,
            choices=ledger.worker_choices(session, caller.scope, code) if planner else (),
            queue=caller.can("case:handle"),
            lang=language,
        ),
        lang,
    )


@router.get("/grids.xlsx", response_class=Response, responses=XLSX_RESPONSES)
def grids_ledger_export(
    session: SessionDep,
    caller: CaseReader,
    request: Request,
    filters: Annotated[LedgerFilters, Depends()],
    lang: PageLang = None,
) -> Response:
    """网格台账导出: the ledger page's grids (the same region, filters and order, every page of
    them) as an Excel workbook, headers in Chinese or English.  Audited (``grids.export``: the
    grid workers' names leave the system)."""
    scope, found = filters.ledger(session, caller, EXPORT_MAX)
    region = filters.region
    export = _RegionExport(session, request, caller, scope, region, page_lang(request, lang))
    export.check(found.matching, "符合条件的网格有 {n} 个，一次最多导出 {most} 个。",
                 "{n} grids match")  # fmt: skip
    n = found.matching
    title = export.title("网格台账", "Grid ledger", f"共 {n} 个网格", f"{n} grids")
    body = ledger_xlsx(found, title=title, lang=export.lang)
    return export.done(body, ledger_name, "grids.export", {"grids": n})


@dataclass
class _RegionExport:
    """What the exports of a region's list share: the cap, the title, the audit entry (a list
    of people's names leaves the system) and the file."""

    session: Session
    request: Request
    caller: Principal
    scope: Scope
    region: str | None
    lang: str
    now: datetime = field(default_factory=lambda: datetime.now(SHANGHAI))

    @property
    def name(self) -> str:
        return self.scope.region_name or ("all regions" if self.lang == "en" else "全部区划")

    def check(self, count: int, zh: str, en: str) -> None:
        """Refuse (422) a list of more than EXPORT_MAX rows: ``zh``/``en`` say how many
        (``{n}``; ``{most}``: the cap)."""
        if count > EXPORT_MAX:
            raise InvalidInput(
                zh.format(n=f"{count:,}", most=f"{EXPORT_MAX:,}") + "请选一个下级区划。",
                en.format(n=f"{count:,}")
                + f", and one export holds at most {EXPORT_MAX:,}. Choose a region below.",
                field="region",
            )

    def title(self, zh: str, en: str, count_zh: str, count_en: str) -> str:
        """The sheet's title: what, of which region, when, how many."""
        if self.lang == "en":
            count_en = one_said_once(count_en)  # (1 grid)
            return f"{en} · {self.name} (exported {self.now:%Y-%m-%d %H:%M}, {count_en})"
        return f"{zh} · {self.name}（导出于 {self.now:%Y-%m-%d %H:%M}，{count_zh}）"

    def done(
        self,
        body: bytes,
        file_name: Callable[[str, datetime, str], str],
        action: str,
        detail: dict[str, int],
    ) -> Response:
        """Audit the export as ``action`` and send the workbook."""
        where = f"region:{self.region or self.scope.region_code or '*'}"
        audit_caller(self.session, self.request, self.caller, action, where, detail)
        self.session.commit()
        return _workbook_response(body, file_name(self.name, self.now, self.lang))


def _workbook_response(body: bytes, name: str) -> Response:
    """An Excel workbook to download as ``name``."""
    return Response(
        body,
        media_type=XLSX,
        headers={"Content-Disposition": "attachment; filename*=UTF-8''" + quote(name)},
    )


@router.get("/find", response_class=HTMLResponse, response_model=None)
def find(
    session: SessionDep,
    caller: CaseReader,
    cipher: CipherDep,
    request: Request,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="case code (or its first 12+ digits), source id, the number in its "
            "channel (12345 work order), tracking link, phone, or words of the description "
            "(all of them, separated by spaces)",
        ),
    ] = None,
    descriptions: Annotated[
        bool,
        Query(
            description="also list the cases whose description mentions a number that a case "
            "code, id, work order or phone matched (read otherwise only when none did)"
        ),
    ] = False,
    lang: PageLang = None,
) -> Response:
    """Find a case (案件查询) in your jurisdiction by its code, the id it had in the system it
    was imported from, its number in its channel (a 12345 work order), its tracking link, a
    party's phone (with pii:read; audited) or words of its description.  One case by code, id,
    number or link: its page at once (303); else the list.  A number that one of these matched
    is not looked for in the descriptions (a second or more over a city's million cases) unless
    ``descriptions`` is set."""
    words = (q or "").strip()
    language = page_lang(request, lang)
    found, note, phone_index = None, "", None
    if words:
        try:
            phone = validate_phone(words, field="q")
        except InvalidInput:
            phone = None
        if phone is not None and caller.can("pii:read"):
            phone_index = cipher.phone_index(phone)
        elif phone is not None:
            note = (
                "Finding by a party's phone needs the right to see personal data; "
                "searched by codes only."
                if language == "en"
                else "按当事人电话查询需要查看个人信息的权限，已只按编号查询。"
            )
        # a phone or ID number looked for in the descriptions is a look-up of a resident too
        numbers = cases.searches_numbers(words)
        if numbers and not caller.can("pii:read") and not note:
            note = (
                "Looking for a phone or ID number in the descriptions needs the right to see "
                "personal data; searched by codes only."
                if language == "en"
                else "在描述中查找电话或身份证号需要查看个人信息的权限，已只按编号查询。"
            )
        found = cases.find_cases(
            session, caller.scope, words, phone_index, descriptions, caller.can("pii:read")
        )
        if phone_index is not None or (numbers and caller.can("pii:read")):
            audit_phone_lookup(session, request, caller, {"via": "find"})
        if found.total == 1 and found.cases[0].matched in ("code", "source", "ref", "token"):
            return RedirectResponse(f"/cases/{quote(found.cases[0].code)}", status_code=303)
        if not found.total and not note and not cases.text_terms(words):
            note = (
                f"Words of a description are looked for from {cases.FIND_TEXT_MIN} characters."
                if language == "en"
                else f"按描述查询至少需要 {cases.FIND_TEXT_MIN} 个字。"
            )
    page = find_page(
        words,
        found,
        user=_user(caller, language),
        links=page_links(caller.can, "/find", language),
        note=note,
        lang=language,
        category_names=_categories_en(session, language),
    )
    return page_response(page, lang)


def _daily(session: Session, caller: Principal, region: str | None, day: date | None) -> Daily:
    return report.daily(session, caller.scope, region, report_day(day))


@router.get("/reports/daily", response_class=HTMLResponse)
def daily_page(
    session: SessionDep,
    caller: CaseReader,
    request: Request,
    region: RegionOptional = None,
    day: DayOptional = None,
    lang: PageLang = None,
) -> HTMLResponse:
    """The daily roll-up (每日一汇总) of a region you may see, as a page: the day and the last 30
    days per child region (each a link to its own roll-up), the day's supervision; the day
    before and after, and the spreadsheet.  In Chinese, or in English."""
    d = _daily(session, caller, region, day)
    code = d.today.region
    language = page_lang(request, lang)
    en = language == "en"

    def at(r: str, on: date) -> str:
        return f"/reports/daily?region={r}&date={on:%Y-%m-%d}"

    days = [("Previous day" if en else "前一天", d.day - timedelta(days=1))]
    if d.day < datetime.now(SHANGHAI).date():
        days.append(("Next day" if en else "后一天", d.day + timedelta(days=1)))
    links = " ".join(f'<a href="{escape(at(code, on))}">{label}</a>' for label, on in days)
    xlsx = f"/reports/daily.xlsx?region={code}&date={d.day:%Y-%m-%d}" + ("&lang=en" if en else "")
    switch = language_switch(language, escape(at(code, d.day)))
    menu = nav_line(
        page_links(caller.can, "/reports/daily", language), _user(caller, language), language
    )
    download = "Download Excel" if en else "下载 Excel"
    ranking_link = f"/reports/period?region={code}" + ("&lang=en" if en else "")
    ranked = "This month's ranking" if en else "本月统计排名"
    top = f"""<header class="wg-noprint">{switch}{menu}
<p class="wg-days">{links} <a href="{escape(xlsx)}">{download}</a>
<a href="{escape(ranking_link)}">{ranked}</a></p></header>"""
    return page_response(
        report.daily_html(
            d,
            head=f'<link rel="icon" type="image/svg+xml" href="{asset_url("favicon.svg")}">'
            f'<link rel="stylesheet" href="{asset_url("wangge.css")}">',
            top=top,
            region_href=lambda child: at(child, d.day),
            lang=language,
            case_href=lambda case: f"/cases/{case}" + ("?lang=en" if en else ""),
        ),
        lang,
    )


@router.get("/reports/daily.xlsx", response_class=Response, responses=XLSX_RESPONSES)
def daily_xlsx(
    session: SessionDep,
    caller: CaseReader,
    request: Request,
    region: RegionOptional = None,
    day: DayOptional = None,
    lang: PageLang = None,
) -> Response:
    """The daily roll-up as a spreadsheet (the same figures as the page; headers in Chinese, or
    in English)."""
    d = _daily(session, caller, region, day)
    language = page_lang(request, lang)
    return _workbook_response(
        report.daily_xlsx(d, language), f"{report.daily_name(d, language)}.xlsx"
    )


class RankingQuery:
    """统计排名's asks, shared by the page and its workbook.  A form's field left empty (a date
    cleared) means its default, as for the audit trail's filters."""

    def __init__(
        self,
        region: Annotated[
            str | None,
            Query(pattern=r"^([0-9]{6,12})?$", description="region code (default: yours)"),
        ] = None,
        start: Annotated[
            str | None,
            Query(
                pattern=DAY_OR_EMPTY,
                description="first day, YYYY-MM-DD (default: the month's first)",
            ),
        ] = None,
        end: Annotated[
            str | None,
            Query(pattern=DAY_OR_EMPTY, description="last day, included (default: today)"),
        ] = None,
        rank: Annotated[
            str | None,
            Query(
                max_length=40,
                description=f"the figure to rank by: {', '.join(ranking.RANKS)} "
                "(default: on_time_rate)",
            ),
        ] = None,
    ) -> None:
        self.region = region or None
        self.by = ranking.rank_by(rank or None)
        self.last = report_day(form_day(end, "end"), "end") if end else None
        self.first = report_day(form_day(start, "start"), "start") if start else None

    def ranking(self, session: Session, caller: Principal) -> ranking.Ranking:
        last = self.last or datetime.now(SHANGHAI).date()
        first = self.first or last.replace(day=1)
        return ranking.ranking(session, caller.scope, self.region, first, last, self.by)


@router.get("/reports/period", response_class=HTMLResponse)
def ranking_page(
    session: SessionDep,
    caller: CaseReader,
    request: Request,
    q: Annotated[RankingQuery, Depends()],
    lang: PageLang = None,
) -> HTMLResponse:
    """统计排名: the roll-up of a region you may see over a period (this month by default; a
    month, quarter or year a click away), its child regions ranked by one figure (按期结案率 by
    default; a column's name ranks by that one), each a link to its own ranking.  In Chinese, or
    in English."""
    r = q.ranking(session, caller)
    language = page_lang(request, lang)
    en = language == "en"

    def at(region: str, rank: str, first: date = r.first_day, last: date = r.last_day) -> str:
        return f"/reports/period?region={region}&start={first:%Y-%m-%d}&end={last:%Y-%m-%d}" + (
            f"&rank={rank}"
        )

    code = r.stats.region
    periods = " ".join(
        f'<a href="{escape(at(code, r.by.key, first, last))}"'
        + (' aria-current="true"' if (first, last) == (r.first_day, r.last_day) else "")
        + f">{escape(label_en if en else label)}</a>"
        for label, label_en, first, last in ranking.presets(datetime.now(SHANGHAI).date())
    )
    w = ranking.WORDS["en" if en else "zh"]
    options = "".join(
        f'<option value="{key}"{" selected" if key == r.by.key else ""}>'
        f"{escape(b.column.header(language))}</option>"
        for key, b in ranking.RANKS.items()
    )
    xlsx = at(code, r.by.key) + ("&lang=en" if en else "")
    xlsx = xlsx.replace("/reports/period?", "/reports/period.xlsx?", 1)
    form = f"""<form class="wg-period" method="get" action="/reports/period">
<input type="hidden" name="region" value="{escape(code)}">
<label>{w["from"]} <input type="date" name="start" value="{r.first_day:%Y-%m-%d}"></label>
<label>{w["to"]} <input type="date" name="end" value="{r.last_day:%Y-%m-%d}"></label>
<label>{w["by"]} <select name="rank">{options}</select></label>
<button type="submit">{w["go"]}</button></form>"""
    switch = language_switch(language, escape(at(code, r.by.key)))
    menu = nav_line(
        page_links(caller.can, "/reports/period", language), _user(caller, language), language
    )
    download = "Download Excel" if en else "下载 Excel"
    top = f"""<header class="wg-noprint">{switch}{menu}
<p class="wg-days">{periods} <a href="{escape(xlsx)}">{download}</a></p>{form}</header>"""
    return page_response(
        ranking.ranking_html(
            r,
            head=f'<link rel="icon" type="image/svg+xml" href="{asset_url("favicon.svg")}">'
            f'<link rel="stylesheet" href="{asset_url("wangge.css")}">',
            top=top,
            href=lambda region, rank: at(region, rank) + ("&lang=en" if en else ""),
            lang=language,
        ),
        lang,
    )


@router.get("/reports/period.xlsx", response_class=Response, responses=XLSX_RESPONSES)
def ranking_xlsx(
    session: SessionDep,
    caller: CaseReader,
    request: Request,
    q: Annotated[RankingQuery, Depends()],
    lang: PageLang = None,
) -> Response:
    """统计排名 as a spreadsheet: the same figures and order as the page."""
    r = q.ranking(session, caller)
    language = page_lang(request, lang)
    return _workbook_response(
        ranking.ranking_xlsx(r, language), f"{ranking.ranking_name(r, language)}.xlsx"
    )


@router.get("/audit", response_class=HTMLResponse)
def audit_log_page(
    session: SessionDep,
    caller: AuditReader,
    request: Request,
    filters: Annotated[AuditFilters, Depends()],
    lang: PageLang = None,
) -> HTMLResponse:
    """The audit trail as a page (审计日志), with a filter form; reading it is recorded.  In
    Chinese, or in English."""
    total, found = read_trail(session, caller, request, filters, AUDIT_PAGE_SIZE)
    language = page_lang(request, lang)
    return page_response(
        audit_page(
            total,
            found,
            user=_user(caller, language),
            links=page_links(caller.can, "/audit", language),
            filters=filters.as_dict(),
            offset=filters.offset,
            lang=language,
        ),
        lang,
    )


@router.get("/audit.xlsx", response_class=Response, responses=XLSX_RESPONSES)
def audit_export(
    session: SessionDep,
    caller: AuditReader,
    request: Request,
    filters: Annotated[AuditFilters, Depends()],
    lang: PageLang = None,
) -> Response:
    """审计日志导出: the audit page's entries (the same filters, every page of them, newest
    first) as an Excel workbook, for an inspection (等保测评) or an inquiry.  At most
    :data:`~maps.pages.AUDIT_EXPORT_MAX` entries (more: 422, a shorter period).  The export
    is itself in the trail (``audit.export``)."""
    trail = filters.trail().as_of_now(session)  # the entries counted are those written
    total = trail.count(session)
    if total > AUDIT_EXPORT_MAX:
        raise InvalidInput(
            f"符合条件的审计记录有 {total:,} 条，一次最多导出 {AUDIT_EXPORT_MAX:,} 条。请缩短"
            "日期范围（如按月分次导出），或按用户、操作筛选后再导出。",
            f"{total:,} entries match, and one export holds at most {AUDIT_EXPORT_MAX:,}. "
            "Export a shorter period (a month at a time, say), or filter by user or action.",
        )
    language = page_lang(request, lang)
    now = datetime.now(SHANGHAI)
    asked = {k: v for k, v in filters.as_dict().items() if v is not None}
    said = [f"{k}={v}" for k, v in asked.items()]
    if language == "en":
        title = f"Audit log (exported {now:%Y-%m-%d %H:%M}, {total} entries"
        title += "".join(f", {x}" for x in said) + ")"
    else:
        title = f"审计日志（导出于 {now:%Y-%m-%d %H:%M}，共 {total} 条"
        title += "".join(f"，{x}" for x in said) + "）"
    body = audit_xlsx(trail.entries(session, AUDIT_EXPORT_MAX), title=title, lang=language)
    audit_caller(session, request, caller, "audit.export", "audit_log", asked | {"entries": total})
    session.commit()
    return _workbook_response(body, audit_name(now, language))


@router.get(SERVICE_WORKER_URL, include_in_schema=False)
def phone_service_worker() -> Response:
    """The phone page's service worker: it keeps the page and its files, so that the page opens
    without a network.  Public (it holds no data); never cached by the browser as a file, so a
    new version is found at the next visit."""
    return Response(
        service_worker(),
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache"},
    )


@router.get("/m/", response_class=HTMLResponse)
def phone(
    session: SessionDep,
    settings: SettingsDep,
    caller: Reporter,
    request: Request,
    lang: PageLang = None,
) -> HTMLResponse:
    """The grid worker's phone page: my grids, my position, the report form (with photos), my
    reports, and an offline queue sent when the connection returns.  In Chinese, or in English
    for ``?lang=en`` or a browser that prefers English."""
    extent = boundaries.scope_extent(session, caller.scope)
    grids = sorted(caller.scope.grid_codes) if caller.scope.grid_codes is not None else None
    names = boundaries.grid_names(session, grids) if grids else None
    language = page_lang(request, lang)
    return page_response(
        phone_page(
            _user(caller, language),
            grids,
            (extent.west, extent.south, extent.east, extent.north) if extent else None,
            page_links(caller.can, "/m/", language),
            language,
            account=caller.username,
            desk=caller.role != "grid_worker",
            base=settings.base_map(),
            patrol=caller.role == "grid_worker" and caller.can("patrol:record"),
            grid_names=names,
            verify=bool(grids) and caller.can("case:verify"),
            password_expires=auth.password_expires_at(caller.password_changed_at, settings),
            note=bool(grids) and caller.can("case:note"),
        ),
        lang,
    )
