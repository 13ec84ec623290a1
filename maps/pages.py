"""Plain HTML pages around the maps (login, case pages, lists).  Local assets only; Chinese first,
English as the second locale (``lang``)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from html import escape
from urllib.parse import quote

from gis.cases import KIND_NAMES, SEVERITY_NAMES, SHANGHAI, SOURCE_NAMES, SYSTEM_ACTOR_WORDS
from gis.english import one_said_once
from gis.parties import PARTY_ROLES, PARTY_ROLES_EN
from gis.permissions import ROLE_NAMES, ROLE_NAMES_EN
from gis.photos import MAX_PER_CASE
from gis.plausibility import LOW_ACCURACY_M
from gis.repeats import DUPLICATE_HOURS, DUPLICATE_M, REPEAT_DAYS, REPEAT_M, Peers
from gis.roles import GRID_ROLES
from gis.settings import BaseMapSpec
from gis.workflow import EVENT_NAMES_EN, MAX_EXTENSION_HOURS, MOVES
from maps.assets import asset_url
from maps.phone import PHOTO_KEEP_BYTES, PHOTO_MAX_PX, PHOTO_QUALITY


def same_site_path(target: str | None) -> str | None:
    """``target`` if it is a path of this site, else None (no open redirects).  A browser drops
    tabs and line breaks from a URL before it reads it, so ``/<tab>/evil.example`` would go to
    ``//evil.example``, another site: they are dropped here first, and any other control
    character refuses the path."""
    path = re.sub(r"[\t\n\r]", "", target or "")
    if (
        not path.startswith("/")
        or path.startswith("//")
        or "\\" in path
        or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in path)
    ):
        return None
    return path


def safe_next(target: str | None) -> str:
    """Only same-site paths may follow a login: ``target`` if it is one, else ``/``."""
    return same_site_path(target) or "/"


LOGIN_TEXT = {
    "zh": {
        "login": "登录",
        "system": "综治中心网格化管理系统",
        "username": "用户名",
        "password": "密码",
        "otp": "动态口令（身份验证器中的 6 位数字；手机不在身边时，输入一个 12 位备用验证码）",
        "other": "English",
        "signed_in": "此浏览器已登录：{user}。",
        "go_in": "进入系统",
        "switch": "；在下方登录即换成另一账号。",
    },
    "en": {
        "login": "Log in",
        "system": "Grid management for social-governance centers",
        "username": "User name",
        "password": "Password",
        "otp": "One-time code (the 6 digits of your authenticator app; without the phone, "
        "one of your 12-digit recovery codes)",
        "other": "中文",
        "signed_in": "This browser is logged in as {user}.",
        "go_in": "Go in",
        "switch": ", or log in below to switch accounts.",
    },
}


def login_page(
    next_url: str | None = None,
    title: str = "网格 wangge",
    lang: str = "zh",
    signed_in: tuple[str, str] | None = None,
) -> str:
    """The login form.  It posts JSON to ``/api/auth/login`` and then goes to ``next_url``, or
    without one to the user's first page (the answer's ``home``).  In ``lang`` (``zh``/``en``),
    with a switch to the other language that keeps ``next_url``.  ``signed_in``: the user this
    browser is logged in as (as the pages name them) and their first page — said above the
    form, with the way in: on a shared desk, whose session it is, and that a login replaces
    it."""
    lang = "en" if lang == "en" else "zh"
    w = LOGIN_TEXT[lang]
    already = ""
    if signed_in is not None:
        who, home = signed_in
        already = (
            f'<p class="wg-signed-in" role="status">{escape(w["signed_in"].format(user=who))} '
            f'<a href="{escape(home, quote=True)}">{w["go_in"]}</a>{w["switch"]}</p>'
        )
    target = "" if next_url is None else escape(safe_next(next_url), quote=True)
    other = "zh" if lang == "en" else "en"
    switch = f"/login?lang={other}" + (
        "" if next_url is None else "&amp;next=" + escape(quote(safe_next(next_url), safe="/"))
    )
    return f"""<!DOCTYPE html>
<html lang="{"en" if lang == "en" else "zh-CN"}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{w["login"]} · {escape(title)}</title>
<link rel="icon" type="image/svg+xml" href="{asset_url("favicon.svg")}">
<link rel="stylesheet" href="{asset_url("wangge.css")}">
</head>
<body class="wg-login">
<main>
<form id="login" class="wg-login-box" data-next="{target}">
  <p class="wg-lang"><a href="{switch}" hreflang="{other}" lang="{other}">{w["other"]}</a></p>
  <h1>{escape(title)}</h1>
  <p class="wg-sub">{w["system"]}</p>
  {already}
  <label>{w["username"]} <input name="username" autocomplete="username" required autofocus
    autocapitalize="none" spellcheck="false"></label>
  <label>{w["password"]}
    <input name="password" type="password" autocomplete="current-password" required>
  </label>
  <label id="otp-field" hidden>{w["otp"]}
    <input name="otp" inputmode="numeric" autocomplete="one-time-code" maxlength="16">
  </label>
  <button type="submit">{w["login"]}</button>
  <p id="error" class="wg-error" role="alert"></p>
</form>
</main>
<script src="{asset_url("login.js")}"></script>
</body>
</html>
"""


def planner_index_page(  # type: ignore[no-untyped-def]
    region_name: str,
    user: str,
    villages,
    links: list[tuple[str, str]],
    lang: str = "zh",
    overview=None,
    edits=(),
    unfinished=(),
) -> str:
    """The planner's start: the villages (communities) of their area, by township, each a link
    to its grid editor (grids are redrawn village by village) — on a map of them all
    (``overview``, :class:`gis.boundaries.Overview`) and in a list; above them the last edit
    sets committed there (``edits``, :class:`gis.ledger.CommittedEdit`), each grid a link to its
    record, and above those the planner's own sets not yet committed (``unfinished``,
    :class:`gis.edits.OpenEdit`), each a link to its village's page, which takes it up.
    ``villages``: :class:`gis.boundaries.VillageEntry` in order.  In ``lang`` (``zh`` or
    ``en``)."""
    t = _tr(lang)
    groups: dict[str | None, list] = {}
    for v in villages:
        groups.setdefault(v.parent_code, []).append(v)
    picture = _overview_svg(overview, groups, t) if overview is not None else ""
    sections = "".join(
        f"<section><h2>{escape(vs[0].parent_name or region_name)}"
        f"<small>{t(f'（{len(vs)} 个村/社区）', f' ({len(vs)} villages)')}</small></h2>"
        '<ul class="wg-villages">'
        + "".join(
            f'<li><a href="/maps/planner?village={escape(v.code)}">{escape(v.name)}</a>'
            f"<small>{escape(v.code)} · {t(f'{v.grids} 个网格', f'{v.grids} grids')}</small></li>"
            for v in vs
        )
        + "</ul></section>"
        for vs in groups.values()
    )
    title = t("网格调整 · ", "Grid edits · ") + region_name
    empty = t("<p>您的管辖范围内没有村（社区）。</p>", "<p>No village in your jurisdiction.</p>")
    return f"""{_case_page_head(title, lang=lang)}
<body class="wg-track wg-index">
<main>
  {language_switch(lang, "/maps/planner")}{nav_line(links, user, lang)}
  <h1>{escape(title)}</h1>
  <p>{
        t(
            "网格按村（社区）调整：请选择要调整的村（社区）。",
            "Grids are edited village by village: choose the village (community) to edit.",
        )
    }</p>
  {export_links(lang)}
  {_unfinished_edits(unfinished, lang)}
  {_recent_edits(edits, lang)}
  {picture}
  {sections or empty}
</main>
</body>
</html>
"""


def _unfinished_edits(edits, lang: str) -> str:  # type: ignore[no-untyped-def]
    """未提交的调整方案: the planner's own open sets, each a link to the page that takes it up."""
    if not edits:
        return ""
    t = _tr(lang)
    items = "".join(
        f'<li><a href="/maps/planner?village={escape(e.village_code)}&amp;edit={e.id}">'
        f"{escape(e.title or t('（无标题）', '(untitled)'))}</a> "
        f"<small>#{e.id} · {escape(e.village_name)} · "
        f"{t(f'{e.operations} 项操作', f'{e.operations} operations')} · "
        f"{t('最后修改', 'last changed')} {e.updated_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"
        "</small></li>"
        for e in edits
    )
    heading = t("未提交的调整方案", "Your edit sets not yet committed")
    return f'<section id="unfinished-edits"><h2>{heading}</h2><ul>{items}</ul></section>'


def _recent_edits(edits, lang: str) -> str:  # type: ignore[no-untyped-def]
    """近期调整: the last committed edit sets, each with its grids linked to their records."""
    if not edits:
        return ""
    t = _tr(lang)

    def grids(codes: list[str], zh: str, en: str) -> str:
        if not codes:
            return ""
        linked = t("、", ", ").join(f'<a href="/grids/{escape(c)}">{escape(c)}</a>' for c in codes)
        return f"{t(zh, en)} {linked}"

    untitled = t("（无标题）", "(untitled)")
    items = "".join(
        f"<li><b>{e.at.astimezone(SHANGHAI):%Y-%m-%d}</b> {escape(e.title or untitled)}"
        f" <span class=wg-edit-by>{t('（', '(')}{person(e.by_name, e.by)}{t('）', ')')}</span> "
        + t("；", "; ").join(
            part
            for part in (
                grids(e.added, "新增", "added"),
                grids(e.changed, "调整", "changed"),
                grids(e.retired, "停用", "retired"),
            )
            if part
        )
        + "</li>"
        for e in edits
    )
    heading = t("近期调整（已提交）", "Recent edits (committed)")
    return f'<section id="recent-edits"><h2>{heading}</h2><ul>{items}</ul></section>'


#: the GIS layers a planner takes out, and the formats offered (``/exports/{layer}.{format}``)
EXPORT_LAYERS = (("grids", "网格", "Grids"), ("regions", "行政区划", "Regions"),
                 ("centers", "综治中心", "Centers"))  # fmt: skip
EXPORT_FORMATS = (("gpkg", "GeoPackage"), ("zip", "Shapefile"), ("geojson", "GeoJSON"))


def export_links(lang: str = "zh") -> str:
    """数据导出: a line of links to the jurisdiction's layers as GIS files."""
    t = _tr(lang)
    items = " · ".join(
        f"{t(zh, en)}{t('（', ' (')}"
        + t("、", ", ").join(f'<a href="/exports/{layer}.{fmt}" download>{name}</a>'
                            for fmt, name in EXPORT_FORMATS)
        + t("）", ")")
        for layer, zh, en in EXPORT_LAYERS
    )  # fmt: skip
    note = t(
        "WGS 84 坐标，字段名与导入一致：在 GIS 软件中修改后可用数据导入原样导回。",
        "WGS 84; the importer's field names, so that a file edited in GIS software imports back.",
    )
    return (
        f'<p class="wg-exports" id="exports">{t("导出 GIS 数据：", "Export GIS data: ")}{items}'
        + (f"<br><small>{note}</small></p>")
    )


def _overview_svg(overview, groups: dict, t) -> str:  # type: ignore[no-untyped-def]
    """The villages as one SVG picture, each shape a link to its editor, coloured by township.
    Longitudes are narrowed by the cosine of the latitude, so that the area keeps its shape."""
    from math import cos, radians

    o = overview
    k = cos(radians((o.south + o.north) / 2))
    shapes, labels = [], []
    size = (o.north - o.south) / 28  # the townships' names: a 28th of the picture's height
    for i, vs in enumerate(groups.values()):
        inside = [o.points[v.code] for v in vs if v.code in o.points]
        if inside and vs[0].parent_name:  # at the middle of its villages' inner points
            x = sum(p[0] for p in inside) / len(inside) * k
            y = -sum(p[1] for p in inside) / len(inside)
            labels.append(
                f'<text x="{x:.6f}" y="{y:.6f}" font-size="{size:.6f}" '
                f'stroke-width="{size / 5:.6f}">'
                f"{escape(vs[0].parent_name)}</text>"
            )
        for v in vs:
            d = o.paths.get(v.code)
            if not d:
                continue
            tip = t(
                f"{v.name}（{v.code}，{v.grids} 个网格）", f"{v.name} ({v.code}, {v.grids} grids)"
            )
            shapes.append(
                f'<a href="/maps/planner?village={escape(v.code)}"><path class="wg-t{i % 8}" '
                f'd="{escape(d)}"><title>{escape(tip)}</title></path></a>'
            )
    label = t(
        "村（社区）分布图：点击进入该村（社区）的网格调整",
        "Map of the villages: click one to edit its grids",
    )
    box = f"{o.west * k:.6f} {-o.north:.6f} {(o.east - o.west) * k:.6f} {o.north - o.south:.6f}"
    return (
        # (links inside: not role="img", which would hide them from screen readers)
        f'<figure class="wg-overview"><svg viewBox="{box}" aria-label="{escape(label)}">'
        f'<g transform="scale({k:.6f},1)">{"".join(shapes)}</g>{"".join(labels)}</svg>'
        f"<figcaption>{escape(label)}</figcaption></figure>"
    )


def nav_line(links: list[tuple[str, str]], user: str, lang: str = "zh") -> str:
    """The line of links to the other pages, with the user and their 退出登录 (a form posted to
    ``/logout``: it works without script), at the top of a plain page (needs ``wangge.css``)."""
    # (spaces between the links: the only places an English line of them may break)
    items = " ".join(f'<a href="{escape(path)}">{escape(label)}</a>' for label, path in links)
    out = _tr(lang)("退出登录", "Log out")
    return (  # (the form after the line: a <form> would end the <p> it stood in)
        f'<p class="wg-nav">{items}<span class="wg-who"><span class="wg-user">{escape(user)}'
        f'</span><button type="submit" form="wg-logout" class="wg-logout">{out}</button></span>'
        "</p>"
        '<form id="wg-logout" method="post" action="/logout" hidden></form>'
    )


QUEUE_PAGE_SIZE = 50


def person(name: str | None, account: str) -> str:
    """HTML: a person by name with their account after it, small (a desk knows its colleagues
    by name, the account tells two of the same name apart); the account alone when the name is
    not known (an account since deleted) or is the account."""
    if name and name != account:
        return f"{escape(name)} <small class=wg-username>{escape(account)}</small>"
    return escape(account)


def _tr(lang: str) -> Callable[[str, str], str]:
    """``t(zh, en)``: the words of a page in its language (Chinese first, English second)."""
    if lang == "en":
        return lambda zh, en: one_said_once(en)  # (1 village, 1 grid: not 1 grids)
    return lambda zh, en: zh


def _pager(
    offset: int,
    count: int,
    total: int,
    size: int,
    href: Callable[[int], str],
    lang: str = "zh",
) -> tuple[str, str]:
    """A paged list's "rows a–b" and its previous / next links; ``href(offset)`` is the address
    of the page starting there (already escaped)."""
    t = _tr(lang)
    links = []
    if offset > 0:
        links.append(f'<a href="{href(max(offset - size, 0))}">{t("上一页", "Previous")}</a>')
    if offset + count < total:
        links.append(f'<a href="{href(offset + size)}">{t("下一页", "Next")}</a>')
    return (f"{offset + 1}–{offset + count}" if count else "0"), " ".join(links)


def _filtered(path: str, filters: Mapping[str, object], change: Mapping[str, object]) -> str:
    """``path`` with a list page's ``filters``, ``change`` applied (None, False or "" drops
    one; True is ``true``), escaped for HTML."""
    from urllib.parse import urlencode

    merged = {k: v for k, v in {**filters, **change}.items() if v not in (None, False, "")}
    query = urlencode({k: "true" if v is True else v for k, v in merged.items()})
    return escape(path + (f"?{query}" if query else ""), quote=True)


def _grid_cell(code: str | None, name: str | None, lang: str, unplaced: bool = False) -> str:
    """A list's grid cell: the grid by its name, its code on hover (the code alone for a grid
    without a name; "outside the grids" for none; "place not known" for a case filed by its
    village, ``unplaced``)."""
    if unplaced:
        return f'<td class="wg-unplaced">{_tr(lang)("位置待查明", "place not known yet")}</td>'
    if not code:
        return f"<td>{_tr(lang)('未落入网格', 'outside the grids')}</td>"
    if not name:
        return f"<td>{escape(code)}</td>"
    return f'<td title="{escape(code)}">{escape(name)}</td>'


def _kind_and_category(kind: str, name_zh: str, lang: str, name_en: str | None) -> str:
    """Kind and category: 矛盾纠纷 · 邻里纠纷, or in English Dispute · Neighbour."""
    if lang == "en":
        return f"{RESIDENT_TEXT['en'][kind]} · {name_en or name_zh}"
    return f"{KIND_NAMES[kind][0]} · {name_zh}"


def language_switch(lang: str, href: str = "") -> str:
    """The link to this page in the other language (``href``: the page's query, if any, with
    ``lang`` to be added)."""
    other = "zh" if lang == "en" else "en"
    joiner = "&amp;" if "?" in href else "?"
    return (
        f'<a class="wg-lang" href="{href}{joiner}lang={other}" hreflang="{other}" '
        f'lang="{other}">{"中文" if lang == "en" else "English"}</a>'
    )


def queue_page(  # type: ignore[no-untyped-def]
    q,
    *,
    user: str,
    links: list[tuple[str, str]],
    filters: Mapping[str, object],
    offset: int,
    lang: str = "zh",
    category_names: Mapping[str, str] | None = None,
    can_handle: bool = False,
) -> str:
    """The center desk's in-tray (待办案件): its cases, most urgent first, with counts per state
    and one-click filters; each case opens its page.  ``q``: :class:`gis.workflow.Queue`;
    ``filters``: the query parameters in force (status, overdue, due_within_hours, below,
    flagged, category, grid, unplaced).  A desk that handles cases (``can_handle``) ticks cases and
    accepts or dispatches them at once (批量受理, 批量派遣 to each category's department;
    ``queue.js``: each through its own action).  In
    ``lang`` (``category_names``: the categories' English names by code)."""

    from gis.workflow import OPEN_STATES, STATE_NAMES, STATE_NAMES_EN

    t = _tr(lang)
    state_names = STATE_NAMES_EN if lang == "en" else STATE_NAMES
    severities = SEVERITY_NAMES_EN if lang == "en" else SEVERITY_NAMES

    def link(path: str, **change: object) -> str:
        """``path`` with the page's filters, ``change`` applied (None drops one), for HTML."""
        return _filtered(path, filters, change)

    def href(**change: object) -> str:
        """This page with ``change`` applied to the filters; back to page 1."""
        return link("/queue", **change)

    def chip(label: str, target: str, on: bool) -> str:
        return f'<a class="wg-chip{" on" if on else ""}" href="{target}">{escape(label)}</a>'

    status = filters.get("status")
    open_total = sum(n for s, n in q.counts.items() if s in OPEN_STATES)
    states = [
        chip(t("全部在办 ", "All open ") + str(open_total), href(status=None), status is None)
    ]
    states += [
        chip(f"{state_names[s]} {q.counts[s]}", href(status=s), status == s)
        for s in STATE_NAMES
        if q.counts.get(s)
    ]
    if q.verify_late:  # the resolved ones past their 3 working days: to follow up (回访) now
        late_verify = status == "resolved" and bool(filters.get("overdue"))
        states.append(
            chip(
                t(f"核查超期 {q.verify_late}", f"Verification overdue {q.verify_late}"),
                href(status=None, overdue=None)
                if late_verify
                else href(status="resolved", overdue=True),
                late_verify,
            )
        )
    toggles = [
        chip(
            t("只看超期", "Overdue only"),
            href(overdue=not filters.get("overdue")),
            bool(filters.get("overdue")),
        ),
        chip(
            t("24 小时内到期", "Due within 24 hours"),
            href(due_within_hours=None if filters.get("due_within_hours") else 24),
            bool(filters.get("due_within_hours")),
        ),
        chip(
            t("含下级中心", "Centers below too"),
            href(below=not filters.get("below")),
            bool(filters.get("below")),
        ),
        chip(
            t("只看预警（高频、疑似重复）", "Warnings only (repeats, duplicates?)"),
            href(flagged=not filters.get("flagged")),
            bool(filters.get("flagged")),
        ),
        # (the cases filed by their village, to be given their point once someone knows it)
        chip(
            t("位置待查明", "Place not known yet") + (f" {q.unplaced}" if q.unplaced else ""),
            href(unplaced=not filters.get("unplaced")),
            bool(filters.get("unplaced")),
        ),
    ]

    this_year = datetime.now(SHANGHAI).year

    def when(t) -> str:  # type: ignore[no-untyped-def]
        """Month, day and time; the year too when it is not this one (a case from last June)."""
        if not t:
            return "—"
        local = t.astimezone(SHANGHAI)
        return f"{local:%m-%d %H:%M}" if local.year == this_year else f"{local:%Y-%m-%d %H:%M}"

    def due(item) -> str:  # type: ignore[no-untyped-def]
        if item.verify_due is not None:  # resolved: the verification's due time
            verify = t("核查 ", "verify by ") + when(item.verify_due)
            if item.overdue:
                late = t(" 核查超期", " overdue")
                return f'<span class="wg-overdue wg-verify-late">{verify}{late}</span>'
            return verify
        if item.deadline is None:
            return "—"
        if item.overdue:
            late = t(" 已超期", " overdue")
            return f'<span class="wg-overdue">{when(item.deadline)}{late}</span>'
        if item.status not in OPEN_STATES:  # settled or paused: no time runs out
            return when(item.deadline)
        left = item.work_hours_left
        return when(item.deadline) + (
            "<small>" + t(f"剩 {left:.0f} 工作小时", f"{left:.0f} working hours left") + "</small>"
            if left
            else ""
        )

    names = category_names or {}

    # 批量受理 / 批量派遣: the moves a desk makes on many cases at once
    bulk_moves = (
        ("accept", t("受理所选", "Accept the selected")),
        ("dispatch", t("派遣所选（各按类别的默认部门）", "Dispatch the selected (each to its "
                       "category's department)")),
        # (回访 done, by the desk or on the spot by the grid worker: 已回访 → 结案)
        ("close", t("结案所选", "Close the selected")),
    ) if can_handle else ()  # fmt: skip

    def moves_of(item) -> list[str]:  # type: ignore[no-untyped-def]
        return [a for a, _ in bulk_moves if item.status in MOVES[a].sources]

    def pick(item) -> str:  # type: ignore[no-untyped-def]
        """A box to tick, on the cases that one of the bulk moves may be made on now."""
        moves = moves_of(item)
        if not moves:
            return ""
        label = t(f"选择 {item.code}", f"Select {item.code}")
        return (
            f'<input type="checkbox" class="wg-pick" value="{escape(item.code)}" '
            f'data-actions="{" ".join(moves)}" aria-label="{escape(label)}"> '
        )

    rows = "".join(
        f"<tr{' class=wg-overdue-row' if i.overdue else ''}>"
        f'<td>{pick(i)}<a href="/cases/{escape(i.code)}">{escape(i.code)}</a>'
        f"{_flag_marks(i, lang)}</td>"
        f"<td>{escape(_kind_and_category(i.kind, i.category_name, lang, names.get(i.category)))}"
        "</td>"
        f"<td>{escape(severities.get(i.severity, i.severity))}</td>"
        f"<td>{escape(state_names.get(i.status, i.status))}</td>"
        f"<td>{escape(SOURCE_NAMES[i.source][1 if lang == 'en' else 0])}</td>"
        f"{_grid_cell(i.grid_code, i.grid_name, lang, i.unplaced)}"
        f"<td>{when(i.received_at)}</td><td>{due(i)}</td></tr>"
        for i in q.items
    )
    shown, pages = _pager(
        offset, len(q.items), q.total, QUEUE_PAGE_SIZE, lambda at: href(offset=at or None), lang
    )
    title = t("待办案件 · ", "Case queue · ") + (q.center or t("全部中心", "all centers"))
    total = f'<b id="queue-total">{q.total}</b>'
    total_line = (
        t(
            f"共 {total} 件，第 {shown} 件；超期优先，其次按办理时限、严重程度。",
            f"{total} case{'s' if q.total > 1 else ''}, showing {shown}; overdue first, then by "
            "deadline and severity.",
        )
        if q.total
        else t(f"共 {total} 件。", f"{total} cases.")
    )
    if q.total:  # the same cases, every page of them, as a workbook
        export = link("/queue.xlsx", lang="en" if lang == "en" else None)
        total_line += (
            f' <a id="queue-export" href="{export}">' + t("导出 Excel", "Export to Excel") + "</a>"
        )
    empty = t("没有符合条件的案件。", "No case matches.")
    if q.below_open and not q.items and not any(filters.values()):
        # (a city's desk, all open: its work is that of the centers below)
        below_link = f'<a id="queue-below" href="{href(below=True)}">'
        empty = (
            t("本中心没有符合条件的案件；", "No case of this center matches; ")
            + below_link
            + t(f"下级中心在办 {q.below_open} 件", f"the centers below have {q.below_open} open")
            + "</a>"
            + t("（含下级中心）。", " (centers below too).")
        )
    bulk = (
        '<p class="wg-bulk" id="bulk"><label><input type="checkbox" id="pick-all"> '
        + t("全选", "Select all")
        + "</label> "
        + "".join(
            f'<button type="button" class="wg-bulk-move" id="{action}-picked" '
            f'data-action="{action}" disabled>{label} <span class="wg-picked"></span></button> '
            for action, label in bulk_moves
        )
        + '<span id="bulk-result" role="status"></span></p>'
        if any(moves_of(i) for i in q.items)
        else ""
    )
    # the same list from the API, for queue.js to see whether it has changed meanwhile
    poll_url = link("/api/queue", limit=1)
    changed = t("刷新列表", "Show it again")
    return f"""{_case_page_head(title, lang=lang)}
<body class="wg-track wg-index wg-queue">
<main data-poll="{poll_url}" data-total="{q.total}">
  {language_switch(lang, href())}{nav_line(links, user, lang)}
  <h1>{escape(title)}</h1>
  {find_form(lang=lang)}
  <p class="wg-chips">{"".join(states)}</p>
  <p class="wg-chips">{"".join(toggles)}</p>
  <p class="wg-changed" id="queue-changed" role="status" hidden><span></span>
    <a href="{href(offset=offset or None)}">{changed}</a></p>
  <p>{total_line}</p>
  {bulk}
  <table tabindex="0" class="wg-list wg-queue-table wg-open-queue">
    <thead><tr><th>{t("案件编号", "Case")}</th><th>{t("类型 · 类别", "Kind · category")}</th>
      <th>{t("严重程度", "Severity")}</th><th>{t("状态", "Status")}</th>
      <th>{t("来源", "Source")}</th><th>{t("网格", "Grid")}</th>
      <th>{t("登记时间", "Registered")}</th><th>{t("办理时限", "Deadline")}</th></tr></thead>
    <tbody>{rows or f'<tr><td colspan="8" class="wg-empty">{empty}</td></tr>'}</tbody>
  </table>
  <p class="wg-pages">{pages}</p>
</main>
<script src="{asset_url("session.js")}"></script>
<script src="{asset_url("queue.js")}"></script>
</body>
</html>
"""


def _marked(excerpt: str, terms: list[str]) -> str:
    """``excerpt`` as HTML, each of ``terms`` in it marked (upper or lower case alike)."""
    if not terms:
        return escape(excerpt)
    pattern = re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)
    out, at = [], 0
    for m in pattern.finditer(excerpt):
        out += [escape(excerpt[at : m.start()]), f"<mark>{escape(m.group())}</mark>"]
        at = m.end()
    return "".join(out) + escape(excerpt[at:])


def find_form(words: str = "", *, autofocus: bool = False, lang: str = "zh") -> str:
    """The search box for a case (案件查询): by code, source id, a party's phone or words."""
    t = _tr(lang)
    hidden = '<input type="hidden" name="lang" value="en">' if lang == "en" else ""
    hint = t("案件编号、原系统编号、当事人电话或描述中的字词", "code, former id, phone or words")
    return f"""<form class="wg-filters wg-find" method="get" action="/find" role="search">
    <label>{t("案件查询", "Find a case")}
      <input name="q" value="{escape(words, quote=True)}" size="34" maxlength="200"
      required{" autofocus" if autofocus else ""}
      placeholder="{hint}">
    </label>{hidden}
    <button type="submit">{t("查询", "Find")}</button>
  </form>"""


def _flag_marks(item, lang: str) -> str:  # type: ignore[no-untyped-def]
    """The in-tray's marks of a case (its ``repeat`` and ``duplicate``): 高频, 疑似重复."""
    t = _tr(lang)
    flag_words = (
        ("repeat", t("高频", "repeat"), t("高频线索：同一地点或同一当事人反复反映",
                                          "Repeat warning: the same place or resident again")),
        ("duplicate", t("疑似重复", "duplicate?"), t("可能与附近案件重复，待确认",
                                                   "Possibly a duplicate of a case nearby")),
    )  # fmt: skip
    return "".join(
        f' <span class="wg-flag wg-flag-{key}" title="{title}">{word}</span>'
        for key, word, title in flag_words
        if getattr(item, key)
    )


def find_page(  # type: ignore[no-untyped-def]
    words: str,
    found,
    *,
    user: str,
    links: list[tuple[str, str]],
    note: str = "",
    lang: str = "zh",
    category_names: Mapping[str, str] | None = None,
) -> str:
    """The answer to a search for cases (``found``: :class:`gis.cases.Found`), or the empty
    form; ``note`` says what the search could not do (a phone without the right to look).  In
    ``lang`` (``category_names``: the categories' English names by Chinese name)."""
    from urllib.parse import urlencode

    from gis.cases import FIND_LIMIT, FIND_PREFIX_MIN, text_terms
    from gis.workflow import STATE_NAMES, STATE_NAMES_EN

    t = _tr(lang)
    state_names = STATE_NAMES_EN if lang == "en" else STATE_NAMES
    how = {"code": t("案件编号", "case code"), "prefix": t("编号开头", "start of the code"),
           "source": t("原系统编号", "former system's id"), "token": t("跟踪链接", "tracking link"),
           "ref": t("来源编号（工单号）", "channel's number (work order)"),
           "phone": t("当事人电话", "party's phone"), "text": t("描述", "description"),
           "category": t("类别", "category")}  # fmt: skip
    en = (category_names or {}).get  # by Chinese name
    terms = text_terms(words)
    rows = "".join(
        f'<tr><td><a href="/cases/{escape(c.code)}">{escape(c.code)}</a>{_flag_marks(c, lang)}'
        "</td>"
        f"<td>{escape(_kind_and_category(c.kind, c.category_name, lang, en(c.category_name)))}"
        "</td>"
        f"<td>{escape(state_names.get(c.status, c.status))}</td>"
        f"{_grid_cell(c.grid_code, c.grid_name, lang)}"
        f"<td>{c.received_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}</td>"
        f"<td>{escape(c.source_id or '—')}</td><td>{how[c.matched]}</td>"
        f'<td class="wg-excerpt">{_marked(c.description, terms)}</td></tr>'
        for c in (found.cases if found else [])
    )
    if found is None:
        answer = t(
            "<p>输入完整的案件编号、历史案件在原系统中的编号、12345 工单号等来源编号、"
            "群众手中的案件跟踪链接，或当事人的电话号码"
            f"（需有查看个人信息的权限）；编号的前 {FIND_PREFIX_MIN} 位或更多位"
            "（区县代码与日期）可查出该区县当天的案件。也可输入描述中的字词或类别名称，"
            "多个字词用空格隔开（如“燃气 泄漏”），查出同时含有这些字词的案件。</p>",
            "<p>Enter a whole case code, the id a historical case had in its former system, its "
            "number in the channel it came from (a 12345 work order), the tracking link a "
            "resident holds, or a party's phone number (with the right to see "
            f"personal data); the first {FIND_PREFIX_MIN} or more digits of a code (county code "
            "and date) find that county's cases of the day. Words of the description or of a "
            "category's name find the cases that hold them all (separate them with spaces: gas "
            "leak).</p>",
        )
    elif not found.total:
        answer = t(
            f"<p>您的管辖范围内没有与“{escape(words)}”相符的案件。请核对编号或输入更多位，"
            "或换用描述中的其他字词。</p>",
            f"<p>No case in your jurisdiction matches “{escape(words)}”. Check the code or "
            "enter more of it, or try other words of the description.</p>",
        )
    else:
        more = (
            t(f"，显示最新的 {FIND_LIMIT} 件", f"; the newest {FIND_LIMIT} shown")
            if found.total > len(found.cases)
            else ""
        )
        found_line = t(
            f'找到 <b id="find-total">{found.total}</b> 件{more}，最新在前。',
            f'<b id="find-total">{found.total}</b> found{more}, newest first.',
        )
        if found.descriptions_skipped:
            also = escape("/find?" + urlencode({"q": words, "descriptions": "true"}), quote=True)
            found_line += t(
                f' 只列出编号相符的案件；<a id="find-descriptions" href="{also}">'
                f"也查找描述中提到“{escape(words)}”的案件</a>",
                f' Only the cases whose numbers match are listed; <a id="find-descriptions" '
                f'href="{also}">also find the cases whose description mentions '
                f"“{escape(words)}”</a>.",
            )
        answer = f"""<p>{found_line}</p>
  <table tabindex="0" class="wg-list wg-queue-table" id="found">
    <thead><tr><th>{t("案件编号", "Case")}</th><th>{t("类型 · 类别", "Kind · category")}</th>
      <th>{t("状态", "Status")}</th><th>{t("网格", "Grid")}</th>
      <th>{t("登记时间", "Registered")}</th><th>{t("原系统编号", "Former id")}</th>
      <th>{t("匹配", "Matched by")}</th><th>{t("描述", "Description")}</th></tr></thead>
    <tbody>{rows}</tbody>
  </table>"""
    here = escape("/find" + (f"?{urlencode({'q': words})}" if words else ""), quote=True)
    head = _case_page_head(t("案件查询", "Find a case") + " · 网格 wangge", noindex=True, lang=lang)
    return f"""{head}
<body class="wg-track wg-index wg-queue">
<main>
  {language_switch(lang, here)}{nav_line(links, user, lang)}
  <h1>{t("案件查询", "Find a case")}</h1>
  {find_form(words, autofocus=True, lang=lang)}
  {f'<p class="wg-error" role="status">{escape(note)}</p>' if note else ""}
  {answer}
</main>
</body>
</html>
"""


WORKERS_PAGE_SIZE = 100


def workers_page(  # type: ignore[no-untyped-def]
    roster,
    *,
    region: str,
    user: str,
    links: list[tuple[str, str]],
    filters: Mapping[str, object],
    offset: int,
    lang: str = "zh",
) -> str:
    """网格员名册: the grid workers of ``region`` (its name) — village, grids, phone, account,
    the grid workers' reports in their grids over the last 30 days and the last one, the open
    cases of their grids, the reports settled on the spot; those not heard from in 30 days
    marked.  ``roster``:
    :class:`gis.workers.Roster`; ``filters``: the query in force (``region``, ``least``)."""

    from gis.roles import role_name
    from gis.workers import ACTIVE_DAYS

    t = _tr(lang)
    this_year = datetime.now(SHANGHAI).year

    def href(path: str = "/workers", **change: object) -> str:
        return _filtered(path, filters, change)

    def when(at) -> str:  # type: ignore[no-untyped-def]
        if at is None:
            return t("无", "none")
        local = at.astimezone(SHANGHAI)
        return f"{local:%m-%d %H:%M}" if local.year == this_year else f"{local:%Y-%m-%d}"

    def grid_link(code: str, name: str) -> str:  # by its name, the code on hover
        title = f' title="{escape(code)}"' if name != code else ""
        return f'<a href="/maps/grid/{escape(code)}"{title}>{escape(name)}</a>'

    silent = f' <span class="wg-flag wg-flag-repeat">{t("未上报", "silent")}</span>'
    # (only a worker with an account can check in: one without is not flagged for it)
    no_patrol = f' <span class="wg-flag wg-flag-repeat">{t("未巡查", "no patrol")}</span>'

    def patrols_link(w) -> str:  # type: ignore[no-untyped-def]
        """Days on patrol, linked to their patrol map, the last check-in below (for a worker
        without an account, who cannot check in, and never did: a dash, not "0 days")."""
        if not w.username and w.last_patrol is None:
            return f'<span title="{t("无账号，不能打卡", "no account: cannot check in")}">—</span>'
        label = t(f"{w.patrol_days} 天", f"{w.patrol_days} d")
        below = [when(w.last_patrol)] if w.last_patrol else []
        if w.walked_m >= 100:  # 巡查里程, where the phone kept the routes
            km = w.walked_m / 1000
            below.insert(0, t(f"轨迹 {km:.1f} 公里", f"route {km:.1f} km"))
        last = f"<small>{' · '.join(below)}</small>" if below else ""
        return f'<a href="/workers/{quote(w.code, safe="")}/patrols">{label}</a>{last}'

    def verify_late(w) -> str:  # type: ignore[no-untyped-def]
        """Of those to verify, the ones past their 3 working days."""
        if not w.verify_late:
            return ""
        late = t(f"（超期 {w.verify_late}）", f" ({w.verify_late} overdue)")
        return f'<span class="wg-overdue">{late}</span>'

    rows = "".join(
        "<tr>"
        f"<td>{escape(w.name)}{'' if w.reported else silent}"
        f"{no_patrol if w.username and not w.patrol_days else ''}"
        f"<small>{escape(w.code)}"
        f"{''.join(' · ' + role_name(r, lang) for r in w.roles)}</small></td>"
        + "<td>"
        + (f'<a href="tel:{escape(w.phone, quote=True)}">{escape(w.phone)}</a>' if w.phone else "—")
        + "</td>"
        f"<td>{escape(w.village or '—')}</td>"
        f"<td>{' '.join(map(grid_link, w.grids, w.grid_names or w.grids)) or '—'}</td>"
        f"<td>{escape(w.username or '—')}</td>"
        f"<td>{w.reported}</td><td>{when(w.last_report)}</td><td>{w.open_in_grids}"
        + (
            f"<small>{t('待核查', 'to verify')} {w.to_verify}{verify_late(w)}</small>"
            if w.to_verify
            else ""
        )
        + "</td>"
        f"<td>{w.settled}</td><td>{patrols_link(w)}</td></tr>"
        for w in roster.workers
    )
    shown, pages = _pager(
        offset,
        len(roster.workers),
        roster.total,
        WORKERS_PAGE_SIZE,
        lambda at: href(offset=at or None),
        lang,
    )
    least = bool(filters.get("least"))
    chip = (
        f'<a class="wg-chip{" on" if least else ""}" href="{href(least=not least)}">'
        + t("上报最少的在前", "Least reports first")
        + "</a>"
        + f' <a id="workers-export" href="{href("/workers.xlsx", lang=lang)}">'
        + t("导出 Excel", "Export to Excel")
        + "</a>"
    )
    summary = t(
        f'共 <b id="workers-total">{roster.total}</b> 名网格员，第 {shown} 名；'
        f'近 {ACTIVE_DAYS} 天本网格无网格员上报的 <b id="workers-silent">{roster.silent}</b> 名。'
        "上报按网格统计（共用手机、历史导入的上报同样计入）；巡查按本人账号的打卡天数统计，"
        "有账号而近 30 天未打卡的标为「未巡查」。",
        f'<b id="workers-total">{roster.total}</b> grid workers, showing {shown}; '
        f'<b id="workers-silent">{roster.silent}</b> with no grid worker\'s report in their '
        f"grids in the last {ACTIVE_DAYS} days. Reports count by grid (from a shared phone or "
        "imported history alike); patrols by the days their own account checked in, and those "
        f'with an account and no check-in in {ACTIVE_DAYS} days are marked "no patrol".',
    )
    here = href()
    head = _case_page_head(t("网格员", "Grid workers") + " · 网格 wangge", noindex=True, lang=lang)
    return f"""{head}
<body class="wg-track wg-index wg-queue">
<main>
  {language_switch(lang, here)}{nav_line(links, user, lang)}
  <h1>{t("网格员", "Grid workers")} · {escape(region)}</h1>
  <p class="wg-chips">{chip}</p>
  <p>{summary}</p>
  <table tabindex="0" class="wg-list wg-queue-table" id="workers">
    <thead><tr><th>{t("网格员", "Worker")}</th><th>{t("电话", "Phone")}</th>
      <th>{t("所属村（社区）", "Village")}</th><th>{t("负责网格", "Grids")}</th>
      <th>{t("账号", "Account")}</th>
      <th>{t(f"近{ACTIVE_DAYS}天上报", f"Reports ({ACTIVE_DAYS} days)")}</th>
      <th>{t("最近上报", "Last report")}</th><th>{t("网格内未办结", "Open in grids")}</th>
      <th>{t(f"近{ACTIVE_DAYS}天就地化解", f"Settled on the spot ({ACTIVE_DAYS} days)")}</th>
      <th>{t(f"近{ACTIVE_DAYS}天巡查", f"On patrol ({ACTIVE_DAYS} days)")}</th>
    </tr></thead>
    <tbody>{rows or f'<tr><td colspan="10">{t("没有网格员。", "None.")}</td></tr>'}</tbody>
  </table>
  <p class="wg-pages">{pages}</p>
</main>
</body>
</html>
"""


AUDIT_PAGE_SIZE = 100
#: the most entries one export of the trail holds (about 20 s to write; a longer period is
#: exported in parts, by its dates)
AUDIT_EXPORT_MAX = 200_000
#: actions of the trail in words (others are shown as recorded)
AUDIT_ACTIONS = {
    "login": "登录",
    "logout": "退出",
    "session.end": "结束登录",
    "pii.view": "查看个人信息",
    "pii.lookup": "按电话查找",
    "pii.erase": "个人信息到期删除",
    "audit.read": "查看审计日志",
    "user.add": "新建用户",
    "user.update": "更新用户",
    "user.passwd": "重设密码",
    "user.disable": "停用用户",
    "user.enable": "启用用户",
    "user.unlock": "解除锁定",
    "user.logout": "强制下线",
    "user.session_end": "结束用户的一处登录",
    "case.create": "登记案件",
    "photo.add": "上传照片",
    "case.party_add": "补充当事人",
    "case.note": "添加办理记录",
    "case.locate": "补充案件位置",
    "workers.export": "导出网格员名册",
    "grids.export": "导出网格台账",
    "grid.workers": "调整网格员配备",
    "case.export": "导出案件",
    "dispatch.accepted": "部门接收派遣",
    "dispatch.done": "部门反馈办结",
    "dispatch.cannot": "部门反馈无法办理",
    "duplicate.confirm": "确认重复案件",
    "duplicate.unlink": "解除重复关联",
    "data.import": "数据导入",
    "boundary.export": "导出 GIS 数据",
    "grid.edit.open": "新建网格调整",
    "grid.edit.commit": "提交网格调整",
    "grid.edit.discard": "放弃网格调整",
    "audit.export": "导出审计日志",
    "user.otp": "动态口令操作核对",
    "user.otp_enable": "开启动态口令",
    "user.otp_disable": "关闭动态口令",
    "user.otp_reset": "重置动态口令",
    "user.otp_recovery": "重新生成备用验证码",
} | {f"case.{action}": f"案件{move.name_zh}" for action, move in MOVES.items()}
AUDIT_ACTIONS_EN = {
    "login": "Log in",
    "logout": "Log out",
    "session.end": "Session ended",
    "pii.view": "Personal data seen",
    "pii.lookup": "Looked up by phone",
    "pii.erase": "Personal data erased (retention over)",
    "audit.read": "Audit log read",
    "user.add": "User added",
    "user.update": "User updated",
    "user.passwd": "Password reset",
    "user.disable": "User disabled",
    "user.enable": "User enabled",
    "user.unlock": "User unlocked",
    "user.logout": "User logged out",
    "user.session_end": "A user's session ended",
    "case.create": "Case registered",
    "photo.add": "Photos added",
    "case.party_add": "Party added",
    "case.note": "Handling note added",
    "case.locate": "Case point given",
    "workers.export": "Grid workers exported",
    "grids.export": "Grid ledger exported",
    "grid.workers": "Grid workers assigned",
    "case.export": "Cases exported",
    "dispatch.accepted": "Department accepted a dispatch",
    "dispatch.done": "Department reported done",
    "dispatch.cannot": "Department cannot handle",
    "duplicate.confirm": "Duplicate confirmed",
    "duplicate.unlink": "Duplicate unlinked",
    "data.import": "Data imported",
    "boundary.export": "GIS data exported",
    "grid.edit.open": "Grid edit opened",
    "grid.edit.commit": "Grid edit committed",
    "grid.edit.discard": "Grid edit discarded",
    "audit.export": "Audit log exported",
    "user.otp": "One-time code: credentials checked",
    "user.otp_enable": "One-time code turned on",
    "user.otp_recovery": "New recovery codes made",
    "user.otp_disable": "One-time code turned off",
    "user.otp_reset": "One-time code reset",
} | {f"case.{action}": f"Case: {EVENT_NAMES_EN[action]}" for action in MOVES}
#: why a login (or a password check) failed, in words: (Chinese, English) by the entry's reason
AUDIT_REASONS = {
    "wrong_password": ("密码错误", "wrong password"),
    "unknown_user": ("无此用户", "no such user"),
    "disabled": ("账户已停用", "account disabled"),
    "locked": ("账户锁定中，未核对密码", "account locked: password not checked"),
    "locked_now": ("密码错误，账户被锁定", "wrong password: account locked"),
    "otp_required": (
        "待输入动态口令（密码未核对）",
        "one-time code asked for (the password not checked yet)",
    ),
    "wrong_otp": ("动态口令错误或已用过", "wrong or used one-time code"),
    "address_limited": (
        "该地址登录失败过多，已暂停，未核对密码",
        "too many failures from the address: paused, password not checked",
    ),
}


#: what an entry's detail records, by its key: (Chinese, English); a key not here is shown as
#: recorded (the filters of an export or a reading of the trail are the pages' own)
AUDIT_KEYS = {
    "via": ("途径", "via"),
    "role": ("角色", "role"),
    "region": ("区划", "region"),
    "changed": ("修改", "changed"),  # {field: [before, after]}
    "display_name": ("姓名", "name"),
    "region_code": ("区划", "region"),
    "worker_code": ("网格员编号", "worker code"),
    "session": ("会话", "session"),
    "sessions": ("结束的会话", "sessions ended"),
    "own": ("本人当前会话", "own session"),
    "idle_days": ("闲置天数", "idle days"),
    "otp": ("动态口令", "one-time code"),
    "recovery_left": ("剩余备用验证码", "recovery codes left"),
    "batch": ("离线批量上报", "offline batch"),
    "parties": ("当事人", "parties"),
    "description": ("描述", "description"),
    "descriptions": ("描述", "descriptions"),
    "patrols": ("巡查打卡", "patrol check-ins"),
    "n": ("张数", "count"),
    "other": ("另一案件", "other case"),
    "dispatch": ("派单", "dispatch"),
    "grids": ("网格", "grids"),
    "cases_reassigned": ("改派案件", "cases reassigned"),
    "before": ("原网格员", "workers before"),
    "after": ("现网格员", "workers after"),
    "roles_before": ("原分工", "parts before"),
    "roles": ("现分工", "parts after"),
    "cases": ("案件", "cases"),
    "entries": ("条目", "entries"),
    "years": ("保存年限", "years kept"),
    "closed_before": ("结案早于", "closed before"),
    "what": ("导入内容", "what"),
    "file": ("文件", "file"),
    "commit": ("写入", "commit"),
    "committed": ("已写入", "committed"),
    "created": ("新增", "created"),
    "updated": ("更新", "updated"),
    "rejected": ("拒绝", "rejected"),
    "passwords_shown": ("显示初始密码", "initial passwords shown"),
    "error": ("错误", "error"),
    "format": ("格式", "format"),
    "crs": ("坐标系", "CRS"),
    "features": ("要素", "features"),
    "username": ("用户", "user"),
    "action": ("操作", "action"),
    "object": ("对象", "object"),
    "success": ("成功", "success"),
    "address": ("地址", "address"),
    "start": ("开始", "start"),
    "end": ("结束", "end"),
    "status": ("状态", "status"),
    "category": ("类别", "category"),
    "grid": ("网格", "grid"),
}
#: recorded words that have words of their own: (Chinese, English) — for the keys that record
#: such words (a user name "admin" in a filter is not the role)
AUDIT_CODED = frozenset({"via", "role", "otp", "roles", "roles_before"})
AUDIT_VALUES = (
    {
        "web": ("网页", "web page"),
        "self": ("本人", "themself"),
        "cli": ("命令行", "command line"),
        "recovery": ("备用验证码", "a recovery code"),
    }
    | {str(role): (zh, ROLE_NAMES_EN[role]) for role, zh in ROLE_NAMES.items()}
    | {role: (zh, PARTY_ROLES_EN[role].lower()) for role, zh in PARTY_ROLES.items()}
    | GRID_ROLES  # a grid worker's part in a team (网格长 …)
)


def _audit_value(value: object, lang: str, coded: bool = False) -> str:
    """``value`` in words; ``coded``: a recorded word (a role …) said as :data:`AUDIT_VALUES`
    says it (a mapping's values too: a team's parts)."""
    en = lang == "en"
    if isinstance(value, bool):
        return ("yes" if value else "no") if en else ("是" if value else "否")
    if value is None:
        return "—"
    if isinstance(value, str):
        words = AUDIT_VALUES.get(value) if coded else None
        return value if words is None else words[1 if en else 0]
    if isinstance(value, list | tuple):
        return ("[" + ", ".join(_audit_value(v, lang, coded) for v in value) + "]") if en else (
            "［" + "、".join(_audit_value(v, lang, coded) for v in value) + "］"
        )  # fmt: skip
    if isinstance(value, Mapping):
        pairs = _audit_pairs(value, lang, values_coded=coded)
        return f"({pairs})" if en else f"（{pairs}）"
    return str(value)


def _audit_pairs(
    detail: Mapping[str, object], lang: str, changes: bool = False, values_coded: bool = False
) -> str:
    """``key：value；…``; ``changes``: each value a [before, after] pair, said before → after;
    ``values_coded``: every value a recorded word (a team's parts by worker code)."""
    en = lang == "en"
    said = []
    for key, value in detail.items():
        label = AUDIT_KEYS.get(key)
        name = key if label is None else label[1 if en else 0]
        coded = values_coded or key in AUDIT_CODED
        if changes and isinstance(value, list) and len(value) == 2:
            shown = " → ".join(_audit_value(v, lang, coded) for v in value)
        elif key == "changed" and isinstance(value, Mapping):
            shown = f"({_audit_pairs(value, lang, True)})" if en else (
                f"（{_audit_pairs(value, lang, True)}）"
            )  # fmt: skip
        else:
            shown = _audit_value(value, lang, coded)
        said.append(f"{name}{': ' if en else '：'}{shown}")
    return ("; " if en else "；").join(said)


def audit_detail(detail: Mapping[str, object], lang: str = "zh") -> str:
    """An entry's detail as the trail shows it: a failure's reason in words (the recorded
    word after it), the rest in words too, each key named (角色：网格员；区划：990102) — a key
    or a value it has no words for as recorded.  (The API gives the detail as recorded.)"""
    reason = detail.get("reason")
    words = AUDIT_REASONS.get(reason) if isinstance(reason, str) else None
    rest = {k: v for k, v in detail.items() if k != "reason"} if words else detail
    shown = f"{words[1 if lang == 'en' else 0]} ({reason})" if words else ""
    if rest:
        shown += (" " if shown else "") + _audit_pairs(rest, lang)
    return shown


def audit_page(  # type: ignore[no-untyped-def]
    total: int,
    entries,
    *,
    user: str,
    links: list[tuple[str, str]],
    filters: Mapping[str, object],
    offset: int,
    lang: str = "zh",
) -> str:
    """The audit trail for the admin (审计日志): a filter form and the entries, newest first.
    ``entries``: :class:`gis.audit.Entry`; ``filters``: the query parameters in force.  In
    ``lang`` (``zh`` or ``en``; the entries' own words are shown as recorded)."""
    from urllib.parse import urlencode

    t = _tr(lang)
    actions = AUDIT_ACTIONS_EN if lang == "en" else AUDIT_ACTIONS

    def value(name: str) -> str:
        v = filters.get(name)
        return "" if v is None else escape(str(v), quote=True)

    def selected(v: object) -> str:
        return " selected" if filters.get("success") is v else ""

    ok, failed = t("成功", "success"), t("失败", "failed")
    rows = "".join(
        f"<tr{' class=wg-overdue-row' if not e.success else ''}>"
        # (on a phone the day above the time, not 2026-/12-07/21:01:59 down the cell)
        f'<td><span class="wg-day">{e.at.astimezone(SHANGHAI):%Y-%m-%d}</span> '
        f"{e.at.astimezone(SHANGHAI):%H:%M:%S}</td>"
        f"<td>{escape(e.username or '—')}</td>"
        f"<td>{escape(actions.get(e.action, e.action))}<small>{escape(e.action)}</small></td>"
        f"<td>{escape(e.object or '')}</td><td>{ok if e.success else failed}</td>"
        f"<td>{escape(e.source_ip or '')}</td>"
        f"<td><small>{escape(audit_detail(e.detail, lang))}</small></td></tr>"
        for e in entries
    )

    def kept() -> dict[str, object]:
        found = {k: v for k, v in filters.items() if v is not None}
        return {
            k: ("true" if v is True else "false" if v is False else v) for k, v in found.items()
        }

    def page_at(at: int) -> str:
        return escape("/audit?" + urlencode(kept() | ({"offset": at} if at else {})), quote=True)

    shown, pages = _pager(offset, len(entries), total, AUDIT_PAGE_SIZE, page_at, lang)
    here = page_at(offset)
    workbook = escape("/audit.xlsx?" + urlencode(kept() | ({"lang": "en"} if lang == "en" else {})),
                      quote=True)  # fmt: skip
    total_b = f'<b id="audit-total">{total}</b>'
    summary = t(
        f"共 {total_b} 条，第 {shown} 条，最新在前。查看本页也会记入日志。"
        f'<a href="{workbook}" id="audit-export">导出 Excel</a>（全部 {total} 条，'
        f"至多 {AUDIT_EXPORT_MAX:,} 条）",
        f"{total_b} entries, showing {shown}, newest first. Reading this page is recorded too. "
        f'<a href="{workbook}" id="audit-export">Export to Excel</a> (all {total}, at most '
        f"{AUDIT_EXPORT_MAX:,})",
    )
    hidden = '<input type="hidden" name="lang" value="en">' if lang == "en" else ""
    empty = t("没有符合条件的记录。", "No entry matches.")
    head = _case_page_head(t("审计日志", "Audit log") + " · 网格 wangge", noindex=True, lang=lang)
    return f"""{head}
<body class="wg-track wg-index wg-queue">
<main>
  {language_switch(lang, here)}{nav_line(links, user, lang)}
  <h1>{t("审计日志", "Audit log")}</h1>
  <form class="wg-filters" method="get" action="/audit">
    <label>{t("用户", "User")} <input name="username" value="{value("username")}" size="12"></label>
    <label>{t("操作", "Action")} <input name="action" value="{value("action")}" size="12"
      placeholder="{t("如 pii、login", "e.g. pii, login")}"></label>
    <label>{t("对象", "Object")} <input name="object" value="{value("object")}" size="18"
      placeholder="{t("如 case:9901", "e.g. case:9901")}"></label>
    <label>{t("来源地址", "Source address")} <input name="address" value="{value("address")}"
      size="16" placeholder="{t("如 203.0.113.0/24", "e.g. 203.0.113.0/24")}"></label>
    <label>{t("结果", "Result")} <select name="success">
      <option value=""{selected(None)}>{t("全部", "all")}</option>
      <option value="true"{selected(True)}>{ok}</option>
      <option value="false"{selected(False)}>{failed}</option></select></label>
    <label>{t("自", "From")} <input type="date" name="start" value="{value("start")}"></label>
    <label>{t("至", "To")} <input type="date" name="end" value="{value("end")}"></label>{hidden}
    <button type="submit">{t("查询", "Find")}</button>
  </form>
  <p>{summary}</p>
  <table tabindex="0" class="wg-list wg-queue-table" id="audit">
    <thead><tr><th>{t("时间", "Time")}</th><th>{t("用户", "User")}</th>
      <th>{t("操作", "Action")}</th><th>{t("对象", "Object")}</th><th>{t("结果", "Result")}</th>
      <th>{t("来源地址", "Source address")}</th><th>{t("详情", "Detail")}</th></tr></thead>
    <tbody>{rows or f'<tr><td colspan="7">{empty}</td></tr>'}</tbody>
  </table>
  <p class="wg-pages">{pages}</p>
</main>
</body>
</html>
"""


#: an error page's heading by status: (Chinese, English)
ERROR_TITLES = {
    400: ("请求有误", "Bad request"),
    401: ("请先登录", "Please log in"),
    403: ("无权访问", "Not allowed"),
    404: ("没有找到", "Not found"),
    405: ("不支持的操作", "Not supported"),
    409: ("操作冲突", "Conflict"),
    422: ("请求有误", "Invalid request"),
    500: ("系统内部错误", "Internal error"),
    503: ("暂时无法服务", "Temporarily unavailable"),
    507: ("存储空间不足", "Insufficient storage"),
}


def error_page(status: int, message: str, *, lang: str = "zh", home: str | None = "/") -> str:
    """What a browser shows for a page that cannot be served: the reason, and the way back to
    ``home``, the user's first page (None: no link, a resident's page)."""
    zh, en = ERROR_TITLES.get(status, ("出错了", "Something went wrong"))
    title, back = (en, "Back to the first page") if lang == "en" else (zh, "返回首页")
    link = f'<p><a href="{escape(home, quote=True)}">{back}</a></p>' if home else ""
    return f"""{_case_page_head(f"{title} · 网格 wangge", noindex=True, lang=lang)}
<body class="wg-track wg-error-page">
<main>
  <h1>{escape(title)} <small>{status}</small></h1>
  <p id="error-message">{escape(message)}</p>
  {link}
</main>
</body>
</html>
"""


def _case_page_head(title: str, *, noindex: bool = False, lang: str = "zh") -> str:
    """Doctype and head of the small case pages (tracking, receipt): local assets only."""
    robots = '<meta name="robots" content="noindex">\n' if noindex else ""
    return f"""<!DOCTYPE html>
<html lang="{"en" if lang == "en" else "zh-CN"}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{robots}<title>{escape(title)}</title>
<link rel="icon" type="image/svg+xml" href="{asset_url("favicon.svg")}">
<link rel="stylesheet" href="{asset_url("wangge.css")}">
</head>"""


#: the words of the resident's pages (tracking, receipt), Chinese first, English second
RESIDENT_TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "dispute": "矛盾纠纷",
        "hazard": "安全隐患",
        "progress": "案件进度",
        "progress_title": "案件进度查询",
        "code": "案件编号",
        "status": "当前状态：",
        "received": "登记时间：",
        "deadline": "办理时限：",
        "steps": "办理过程",
        "private": "本页不显示个人信息和具体位置。如有疑问请联系所属综治中心。",
        "rate": "评价办理结果",
        "points": "{n} 分",
        "solved": "问题是否已经解决？",
        "score_q": "评分（5 分最满意）",
        "yes": "已解决",
        "no": "未解决",
        "comment": "意见（可选）",
        "send_rating": "提交评价",
        "receipt": "受理回执",
        "receipt_title": "案件受理回执",
        "kind": "类型",
        "received_at": "登记时间",
        "source": "受理渠道",
        "where": "所在地",
        "outside": "（未落入网格）",
        "handler": "承办单位",
        "phone": "（电话 {phone}）",
        "unassigned": "待分派",
        "due": "办理时限",
        "before": "{deadline} 前",
        "scan": "微信或手机相机扫码，随时查看办理进度",
        "keep": "请妥善保管本回执。进度页不显示个人信息和具体位置。",
        "print": "打印回执",
        "other": "English",
    },
    "en": {
        "dispute": "Dispute",
        "hazard": "Safety hazard",
        "progress": "Case progress",
        "progress_title": "Case progress",
        "code": "Case number",
        "status": "Status: ",
        "received": "Registered: ",
        "deadline": "To be handled by: ",
        "steps": "Steps taken",
        "private": "This page shows no personal data and no exact location. For questions, "
        "contact the responsible governance center.",
        "rate": "Rate the handling",
        "points": "{n}",  # the legend says what they are ("1 points" was wrong)
        "solved": "Is the problem solved?",
        "score_q": "Score (5 is the best)",
        "yes": "Solved",
        "no": "Not solved",
        "comment": "Comments (optional)",
        "send_rating": "Send rating",
        "receipt": "Receipt",
        "receipt_title": "Case receipt",
        "kind": "Kind",
        "received_at": "Registered",
        "source": "Received through",
        "where": "Place",
        "outside": "(outside the grids)",
        "handler": "Handling center",
        "phone": " (tel. {phone})",
        "unassigned": "To be assigned",
        "due": "To be handled by",
        "before": "{deadline}",
        "scan": "Scan with WeChat or the phone's camera to follow the case",
        "keep": "Please keep this receipt. The progress page shows no personal data and no exact "
        "location.",
        "print": "Print receipt",
        "other": "中文",
    },
}


def _words(lang: str) -> dict[str, str]:
    return RESIDENT_TEXT["en" if lang == "en" else "zh"]


def _switch(lang: str) -> str:
    """The link to the same page in the other language, not printed."""
    return f'<p class="wg-noprint">{language_switch(lang)}</p>'


def _rating_form(lang: str = "zh") -> str:
    """The resident's rating: a score and whether the problem is solved, each chosen — none
    given beforehand (a 5 and 已解决 ticked in advance were sent by a tap on 提交评价, and the
    satisfaction rate the leaders read, and the safety index, counted them)."""
    w = _words(lang)
    stars = "".join(
        f'<label><input type="radio" name="score" value="{n}"{" required" if n == 5 else ""}> '
        f"{w['points'].format(n=n)}</label> "
        for n in range(5, 0, -1)
    )
    return f"""<form id="rating">
  <h2>{w["rate"]}</h2>
  <fieldset class="wg-scores"><legend>{w["score_q"]}</legend>{stars}</fieldset>
  <fieldset class="wg-scores wg-solved"><legend>{w["solved"]}</legend>
    <label><input type="radio" name="resolved" value="true" required> {w["yes"]}</label>
    <label><input type="radio" name="resolved" value="false"> {w["no"]}</label></fieldset>
  <p><label>{w["comment"]}<br>
     <textarea name="comment" rows="3" maxlength="500"></textarea></label></p>
  <p><button type="submit">{w["send_rating"]}</button></p>
  <p id="rating-result" role="status"></p>
</form>"""


def _center_line(name: str, phone: str | None, w: Mapping[str, str]) -> str:
    """The center handling a case, for a resident: its name and its phone, a tap away (one
    word: 0999-8315569 is not broken at its hyphen)."""
    if not phone:
        return escape(name)
    tel = f'<a href="tel:{escape(phone, quote=True)}">{escape(phone)}</a>'
    return escape(name) + w["phone"].format(phone=tel)


def tracking_page(case, lang: str = "zh") -> str:  # type: ignore[no-untyped-def]
    """The public case page a resident opens from the QR code: status and steps only.  In
    ``lang`` (``zh``, or ``en``: ``case`` read with the same language)."""
    w = _words(lang)
    colon = ": " if lang == "en" else "："
    steps = "".join(
        f"<li><time>{at:%Y-%m-%d %H:%M}</time> {escape(action)}"
        f"{colon + escape(status) if status else ''}</li>"
        for at, action, status in case.steps
    )
    deadline = f"<p>{w['deadline']}{case.deadline:%Y-%m-%d %H:%M}</p>" if case.deadline else ""
    merged = ""
    if case.merged_into:  # 并案: where to follow the matter now
        other, other_status, token = case.merged_into
        href = f"/t/{escape(token)}" + ("?lang=en" if lang == "en" else "")
        merged = (
            '<p class="wg-merged" id="merged-into">'
            + (
                f"This report was merged into case <b>{escape(other)}</b> (the same matter), "
                f"which is handled for both: now {escape(other_status)}. "
                f'<a href="{href}">Follow case {escape(other)}</a>'
                if lang == "en"
                else f"本案与案件 <b>{escape(other)}</b> 为同一事件，已并入该案一并办理，"
                f"该案当前状态：{escape(other_status)}。"
                f'<a href="{href}">查看案件 {escape(other)} 的办理进度</a>'
            )
            + "</p>"
        )
        deadline = ""
    handler = (
        f'<p id="handler">{w["handler"]}{colon}'
        f"{_center_line(case.center_name, case.center_phone, w)}</p>"
        if case.center_name
        else ""
    )
    return f"""{_case_page_head(f"{w['progress']} · {case.code}", noindex=True, lang=lang)}
<body class="wg-track">
<main>
  {_switch(lang)}
  <h1>{w["progress_title"]}</h1>
  <p class="wg-code">{w["code"]} <b>{escape(case.code)}</b></p>
  <p>{escape(w[case.kind])} · {escape(case.category_name)} · {escape(case.place)}</p>
  <p class="wg-status">{w["status"]}<b>{escape(case.status)}</b></p>
  {merged}
  <p>{w["received"]}{case.received_at:%Y-%m-%d %H:%M}</p>
  {deadline}{handler}
  <h2>{w["steps"]}</h2>
  <ol class="wg-steps">{steps}</ol>
  {_rating_form(lang) if case.rateable else ""}
  <p class="wg-note">{w["private"]}</p>
</main>
<script src="{asset_url("track.js")}"></script>
</body>
</html>
"""


def qr_svg(url: str, scale: int = 4) -> str:
    """The QR code for ``url`` as inline SVG (segno; no external service)."""
    import io

    import segno

    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=scale, xmldecl=False, svgns=True)
    return out.getvalue().decode()


def qr_png(url: str, scale: int = 8) -> bytes:
    import io

    import segno

    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="png", scale=scale)
    return out.getvalue()


def source_line(case, lang: str = "zh") -> str:  # type: ignore[no-untyped-def]
    """Where ``case`` came from, with its number there: ``12345热线（工单号 GD2026…）``."""
    name = SOURCE_NAMES[case.source][1 if lang == "en" else 0]
    if not case.source_ref:
        return name
    if lang == "en":
        label = "work order" if case.source == "hotline" else "no."
        return f"{name} ({label} {case.source_ref})"
    return f"{name}（{'工单号' if case.source == 'hotline' else '编号'} {case.source_ref}）"


def receipt_page(  # type: ignore[no-untyped-def]
    case, tracking_url: str, lang: str = "zh", category_name: str | None = None
) -> str:
    """The printable receipt (回执) for a case: code, what, where (village), who handles it, by
    when, and the QR code of the public tracking page.  No personal data.  In ``lang``
    (``category_name``: the category's name in it; place and center names stay as they are)."""
    w = _words(lang)
    loc = case.location
    place = (
        " ".join(r.name for r in (loc.district, loc.township, loc.village) if r is not None)
        or w["outside"]
    )
    center = loc.center
    center_line = _center_line(center.name, center.phone, w) if center else w["unassigned"]
    deadline = (
        w["before"].format(deadline=f"{case.deadline:%Y-%m-%d %H:%M}") if case.deadline else "—"
    )
    category = category_name or case.category_name
    return f"""{_case_page_head(f"{w['receipt']} · {case.code}", lang=lang)}
<body class="wg-track wg-receipt">
<main>
  {_switch(lang)}
  <h1>{w["receipt_title"]}</h1>
  <table class="wg-receipt-table">
    <tr><th>{w["code"]}</th><td><b id="case-code">{escape(case.code)}</b></td></tr>
    <tr><th>{w["kind"]}</th><td>{escape(w[case.kind])} · {escape(category)}</td></tr>
    <tr><th>{w["received_at"]}</th><td>{case.received_at:%Y-%m-%d %H:%M}</td></tr>
    <tr><th>{w["source"]}</th><td id="case-source">{escape(source_line(case, lang))}</td></tr>
    <tr><th>{w["where"]}</th><td>{escape(place)}</td></tr>
    <tr><th>{w["handler"]}</th><td>{center_line}</td></tr>
    <tr><th>{w["due"]}</th><td>{deadline}</td></tr>
  </table>
  <figure class="wg-qr">
    {qr_svg(tracking_url)}
    <figcaption>{w["scan"]}<br><small>{escape(tracking_url)}</small>
    </figcaption>
  </figure>
  <p class="wg-note">{w["keep"]}</p>
  <p class="wg-noprint"><button type="button" id="print">{w["print"]}</button></p>
</main>
<script src="{asset_url("receipt.js")}"></script>
</body>
</html>
"""


LETTERS = {  # stage → (title, what it says)
    "reminder": ("提醒函", "该案件办理时限已过 80%，请抓紧办理，按期办结。"),
    "supervision": (
        "督办函",
        "该案件已到办理期限仍未办结，现予督办，并已自动上报上级综治中心。请于收到本函后"
        "立即说明情况、落实办理。",
    ),
    "notice": ("通报", "该案件超过办理时限一倍仍未办结，现予通报，抄送区综治中心。"),
}
LETTERS_EN = {
    "reminder": (
        "Reminder",
        "80 % of the time allowed for this case has passed: please finish it by its deadline.",
    ),
    "supervision": (
        "Supervision notice",
        "This case is past its deadline and not resolved: it is now supervised and has been "
        "reported to the center above. Please explain the situation and act on it as soon as "
        "you receive this notice.",
    ),
    "notice": (
        "Circulated notice",
        "This case is past twice the time allowed and still not resolved: it is hereby "
        "notified, with a copy to the district's center.",
    ),
}


def letter_page(  # type: ignore[no-untyped-def]
    case,
    stage: str,
    event,
    tracking_url: str,
    lang: str = "zh",
    category_name: str | None = None,
    *,
    addressee: str | None = None,
) -> str:
    """A printable supervision document (两函一通报) for one case: which letter, when the clock
    issued it, to which center (``addressee``: :func:`gis.supervision.addressee`), the case's
    code, deadline and the tracking QR.  In ``lang`` (``category_name``: the category's English
    name)."""
    from gis.workflow import STATE_NAMES, STATE_NAMES_EN

    t = _tr(lang)
    title, body = (LETTERS_EN if lang == "en" else LETTERS)[stage]
    # the deadline the letter was about (letters issued before their events kept it: the
    # case's own, which an extension may have moved since)
    due = event.data.get("deadline") if isinstance(event.data, dict) else None
    due_at = datetime.fromisoformat(due) if due else case.deadline
    deadline = f"{due_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}" if due_at else "—"
    issued = f"{event.at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"
    names = STATE_NAMES_EN if lang == "en" else STATE_NAMES
    # the state the letter was about (before a supervision letter's own escalation), and the
    # case's state now where it has moved on since: a letter printed later is still of its day
    then = event.from_status or case.status
    status = f"""<tr><th>{t("发函时状态", "Status when issued")}</th>
      <td id="status-then">{escape(names.get(then, then))}</td></tr>"""
    if case.status != then:
        status += f"""
    <tr><th>{t("当前状态", "Status now")}</th>
      <td id="status-now">{escape(names.get(case.status, case.status))}</td></tr>"""
    kind = _kind_and_category(case.kind, case.category_name, lang, category_name)
    to = escape(addressee) if addressee else t("承办单位", "To the responsible center")
    return f"""{_case_page_head(f"{title} · {case.code}", lang=lang)}
<body class="wg-track wg-receipt wg-letter">
<main>
  {language_switch(lang)}
  <h1>{title}</h1>
  <p id="addressee">{to}{t("：", ":")}</p>
  <p>{body}</p>
  <table class="wg-receipt-table">
    <tr><th>{t("案件编号", "Case")}</th><td><b id="case-code">{escape(case.code)}</b></td></tr>
    <tr><th>{t("类型", "Kind")}</th><td>{escape(kind)}</td></tr>
    <tr><th>{t("登记时间", "Registered")}</th><td>{case.received_at:%Y-%m-%d %H:%M}</td></tr>
    <tr><th>{t("办理时限", "Deadline")}</th><td>{deadline}</td></tr>
    {status}
    <tr><th>{t("发出时间", "Issued")}</th>
      <td>{issued}{t("（系统督办时钟）", " (by the supervision clock)")}</td></tr>
  </table>
  <figure class="wg-qr">
    {qr_svg(tracking_url)}
    <figcaption>{t("扫码查看办理进度", "Scan to follow the case")}<br>
      <small>{escape(tracking_url)}</small></figcaption>
  </figure>
  <p class="wg-noprint"><button type="button" id="print">{t("打印", "Print")}</button></p>
</main>
<script src="{asset_url("receipt.js")}"></script>
</body>
</html>
"""


SEVERITY_NAMES_EN = {"minor": "minor", "normal": "normal", "major": "major", "critical": "critical"}
DISPATCH_NAMES = {
    "pending": "待接收",
    "accepted": "已接收",
    "done": "已办结",
    "cannot": "无法办理",
    "withdrawn": "已撤回",
}
DISPATCH_NAMES_EN = {
    "pending": "waiting",
    "accepted": "accepted",
    "done": "done",
    "cannot": "cannot handle",
    "withdrawn": "withdrawn",
}


DUPLICATE_NAMES = {"suggested": "待确认", "confirmed": "已确认重复", "unlinked": "已解除"}
DUPLICATE_NAMES_EN = {"suggested": "to confirm", "confirmed": "confirmed", "unlinked": "unlinked"}
DUPLICATES_SHOWN = 30  # on the case page; the API lists them all


def _system_words_en() -> dict[str, str]:
    """What the system itself writes into a case's history (who acted, the note), in English:
    for the English case page.  What people wrote stays as they wrote it."""
    from gis.cases import IMPORT_NOTE
    from gis.supervision import CLOCK_ACTOR, STAGE_NOTES, VERIFY_NOTE, VERIFY_NOTE_3_DAYS
    from gis.workflow import (
        DEPARTMENTS_DONE,
        DEPARTMENTS_FAILED,
        REOPENED_NOTE,
        RESIDENT_ACTOR,
    )

    notes = [IMPORT_NOTE, REOPENED_NOTE, DEPARTMENTS_DONE, DEPARTMENTS_FAILED]
    notes += [*STAGE_NOTES.values(), VERIFY_NOTE, VERIFY_NOTE_3_DAYS]
    # (a party added later: the history's note is their role)
    roles = {PARTY_ROLES[r]: PARTY_ROLES_EN[r] for r in PARTY_ROLES}
    actors = {k: en for k, (_, en) in SYSTEM_ACTOR_WORDS.items()}
    return {CLOCK_ACTOR: "System clock", RESIDENT_ACTOR: "Resident"} | actors | dict(notes) | roles


def _regrid_note_en(data: dict) -> str:
    """A planner's commit's note on a moved case (migration 0015 writes it in Chinese)."""
    note = f"Grid changed: {data.get('from_grid') or 'none'} → {data.get('to_grid') or 'none'}"
    if data.get("from_center") != data.get("to_center"):
        note += "; the responsible center changed"
    return note


def case_page(  # type: ignore[no-untyped-def]
    case,
    wf,
    *,
    can_handle: bool,
    can_unmask: bool,
    can_triage: bool = False,
    base: BaseMapSpec | None = None,
    links: list[tuple[str, str]] | None = None,
    user: str = "",
    lang: str = "zh",
    category_name: str | None = None,
    workers: list[tuple[str, str | None]] | None = None,
    can_note: bool = False,
    duplicate_states: Mapping[str, str] | None = None,
    duplicate_points: Mapping[str, tuple[float, float]] | None = None,
    can_add_photos: bool = False,
    can_verify: bool = False,
    verify_days: float = 3,
    repeats: Peers | None = None,
) -> str:
    """The operator's case page: where, what, the grid's ``workers`` (name, phone: whom to call
    to look on the spot), the timeline, documents, photos, parties (masked; unmasking is a
    separate, audited request) and the actions allowed now; above, the menu of the pages
    ``links`` (and the ``user``); ``duplicate_states``: the status of each possible duplicate
    the reader may see (one still open may be merged into this case from here), and
    ``duplicate_points`` the point of each (drawn on the case's map);
    ``can_add_photos``: the reader may add photos (a grid worker back on the spot);
    ``can_verify``: the reader is the grid worker who follows this resolved case up on the spot
    (现场核查); ``verify_days``: the working days a resolution is to be verified in (the
    deployment's ``verify_work_days``); ``repeats``: the other cases behind its repeat warnings
    by place and by resident (:func:`gis.repeats.repeat_peers`), listed under each.  The map of
    the spot over the tiles of ``base`` (none: no base map), the spot and the grids shifted into
    their datum.  In ``lang`` (``zh``, or ``en`` with the category's ``category_name`` in
    English); names, descriptions and notes stay as they were written."""
    from gis.workflow import (
        ACTION_NAMES_EN,
        EVENT_NAMES,
        EVENT_NAMES_EN,
        MOVES,
        STATE_NAMES,
        STATE_NAMES_EN,
    )

    en = lang == "en"
    t = _tr(lang)

    events_named = EVENT_NAMES_EN if en else EVENT_NAMES
    states = STATE_NAMES_EN if en else STATE_NAMES
    dispatch_names = DISPATCH_NAMES_EN if en else DISPATCH_NAMES
    duplicate_names = DUPLICATE_NAMES_EN if en else DUPLICATE_NAMES
    loc = case.location
    place = " ".join(
        r.name for r in (loc.district, loc.township, loc.village) if r is not None
    ) or t("（未落入网格）", "(outside the grids)")
    grid = loc.grid.code if loc.grid else "—"
    # a case without coordinates: where it is, by its village's name alone — an old ledger's,
    # or a desk's whose caller could not say where
    imported = any(e.action == "import" for e in wf.events)
    no_point = '<p class="wg-note" id="case-no-point">' + (t(
        "无坐标：历史台账按村（社区）名称登记，不在地图上显示。",
        "No coordinates: an old ledger's case filed by its village's name; not on the map.",
    ) if imported else t(
        "无坐标：受理时具体位置不详，按所在村（社区）登记，不在地图、热力图上显示；"
        "查明地点后补充位置（中心在本页，网格员在手机上报页现场补充）。",
        "No coordinates: no one could say where when it was registered, so it is filed by its "
        "village; not on the map or the heat map. Give its point once known (the center here, "
        "a grid worker on the phone page, at the place).",
    )) + "</p>"  # fmt: skip
    # 补充位置: the desk gives it its point once someone knows it — a tap on the map of its
    # village (outlined), or coordinates as a map app gave them (case.js)
    region = (loc.village or loc.township) if case.lon is None and can_handle else None
    if region is not None:
        # (none chosen beforehand: 高德's coordinates read as GPS's land 300–500 m off)
        datums = (
            f'<option value="">{t("坐标来自哪个地图？", "From which map?")}</option>'
            + "".join(
                f'<option value="{d}">{escape(n)}</option>'
                for d, n in (
                    ("wgs84", t("GPS / 天地图（WGS84）", "GPS / Tianditu (WGS84)")),
                    ("gcj02", t("高德、腾讯地图（GCJ-02）", "Amap, Tencent (GCJ-02)")),
                    ("bd09", t("百度地图（BD-09）", "Baidu (BD-09)")),
                )
            )
        )
        no_point += f"""
  <section id="case-locate" class="wg-noprint" data-region="{escape(region.code)}"
    data-bad="{t("请输入“经度,纬度”两个数。", "Type two numbers: longitude,latitude.")}"
    data-datum="{t("请选择坐标来自哪个地图（高德、腾讯、百度的坐标与 GPS 相差数百米）。",
                   "Choose which map the coordinates are from (Amap's, Tencent's and Baidu's "
                   "lie hundreds of metres from GPS's).")}">
  <h2>{t("补充位置", "Give its point")}</h2>
  <p>{t(f"查明事发地点后，在{escape(region.name)}的地图上点选（虚线为各网格，标有名称），"
        "或输入地图软件给出的坐标，再确认。不在本村（社区）的，可先查找地名。",
        f"Once the place is known, tap it on the map of {escape(region.name)} (its grids "
        "dashed, with their names), or type the coordinates a map app gave, then confirm. "
        "Somewhere else: find the place first.")}</p>
  <p class="wg-places wg-locate-row"><input type="search" id="locate-place" autocomplete="off"
    placeholder="{t("地名查找：村（社区）、网格名称或代码",
                    "Find a place: village, grid name or code")}"
    aria-label="{t("地名查找", "Find a place")}"
    data-none="{t("没有找到：请换个说法，或输入村/社区、网格代码",
                  "Nothing found: try other words, or a village or grid code")}"
    data-offline="{t("没有网络，暂时不能查找地名", "No network: places cannot be searched now")}">
  </p>
  <ul id="locate-place-list" class="wg-place-list" hidden></ul>
  <div id="locate-map" style="height: 300px"></div>
  <p class="wg-locate-row"><input id="locate-coords" autocomplete="off" inputmode="decimal"
    placeholder="{t("经度,纬度（可粘贴）", "longitude,latitude (paste)")}"
    aria-label="{t("坐标", "Coordinates")}">
    <select id="locate-datum" aria-label="{t("坐标系", "Datum")}">{datums}</select>
    <button type="button" id="locate-typed">{t("按坐标定位", "Put it there")}</button></p>
  <p><input id="locate-note" maxlength="2000" autocomplete="off"
    placeholder="{t("如何得知（可不填，如：网格员现场查看）",
                    "How it became known (optional: a grid worker looked, …)")}"
    aria-label="{t("说明", "Note")}">
    <button type="button" id="locate-save" disabled>{t("确认位置", "Confirm the point")}
    </button></p>
  <p id="locate-where" class="wg-note"></p>
  <p id="locate-error" class="wg-error" role="alert"></p>
  </section>"""  # fmt: skip
    # the grid by its name, opening its map, and by its code, opening its record (its versions,
    # should a redraw have come since the case)
    grid_html = (
        f'<a href="/maps/grid/{escape(grid)}">{escape(loc.grid.name or grid)}</a>'
        + t("（", " (")
        + f'<a href="/grids/{escape(grid)}" id="case-grid-record">{escape(grid)}</a>'
        + t("）", ")")
        if loc.grid
        else escape(grid)
    )

    def when(t) -> str:  # type: ignore[no-untyped-def]
        return f"{t.astimezone(SHANGHAI):%Y-%m-%d %H:%M}" if t else "—"

    system = _system_words_en() if en else {k: zh for k, (zh, _) in SYSTEM_ACTOR_WORDS.items()}

    def note_of(e) -> str:  # type: ignore[no-untyped-def]
        if en and e.action == "regrid" and isinstance(e.data, dict):
            return _regrid_note_en(e.data)
        if e.action == "photo_added" and isinstance(e.data, dict) and "n" in e.data:
            n = int(e.data["n"])
            return t(f"{n} 张", f"{n} photo" + ("" if n == 1 else "s"))
        return system.get(e.note, e.note)

    def who(e) -> str:  # type: ignore[no-untyped-def]
        """Who acted: the person's name with their account (a desk knows its colleagues by name,
        the account tells two of the same name apart), or the system's own words."""
        actor = e.actor or ""
        if e.actor_name and e.actor_name != actor:
            return person(e.actor_name, actor)
        return escape(system.get(actor, actor))

    def merge_link(e) -> str:  # type: ignore[no-untyped-def]
        """并案: the other case of a merge, linked (the case joined, or the one that joined)."""
        other = e.data.get("into") or e.data.get("from") if isinstance(e.data, dict) else None
        if e.action not in ("merge", "merged_from") or not other:
            return ""
        words = t("并入", "into") if e.action == "merge" else t("来自", "from")
        link = f'<a href="/cases/{escape(other)}">{escape(other)}</a>'
        return f' <span class="wg-merge-link">{words} {link}</span>'

    def unmasked_by(kind: str, i: int, item) -> str:  # type: ignore[no-untyped-def]
        """Where case.js puts a note as written when it is unmasked: the ``i``-th event's or
        dispatch's of the case's API answer (only those with numbers masked in them)."""
        return f' data-unmask-{kind}="{i}"' if item.note_masked else ""

    events = "".join(
        f"<li><time>{when(e.at)}</time> <b>{escape(events_named.get(e.action, e.action))}</b>"
        f" {who(e)}"
        + (f" → {escape(states.get(e.to_status, e.to_status))}" if e.to_status else "")
        # (the system's own notes repeat the step's Chinese name: not shown again)
        + (
            f"<br><span class=wg-note{unmasked_by('event', i, e)}>{escape(note_of(e))}</span>"
            if e.note and e.note != EVENT_NAMES.get(e.action) and e.action != "merged_from"
            else ""
        )
        + (
            f' <a href="{escape(e.data["letter"])}">{t("查看文书", "View the document")}</a>'
            if isinstance(e.data, dict) and e.data.get("letter")
            else ""
        )
        + merge_link(e)
        + (
            f' <a href="#photos">{t("查看照片", "See the photos")}</a>'
            if e.action == "photo_added"
            else ""
        )
        + "</li>"
        for i, e in enumerate(wf.events)
    )
    answers = (
        ("accepted", t("接收", "Accept")),
        ("done", t("办结", "Done")),
        ("cannot", t("无法办理", "Cannot handle")),
    )
    dispatches = "".join(
        f"<tr><td>{escape(d.department)}</td><td>{escape(dispatch_names.get(d.status, d.status))}"
        f"</td><td{unmasked_by('dispatch', i, d)}>{escape(d.note or '')}</td><td>"
        + (
            " ".join(  # (an accepted one is not accepted again: the answer is refused)
                f'<button type="button" class="wg-respond" data-dispatch="{d.id}" '
                f'data-response="{r}">{label}</button>'
                for r, label in answers
                if not (r == "accepted" == d.status)
            )
            if wf.in_charge and d.status in ("pending", "accepted")
            else ""
        )
        + "</td></tr>"
        for i, d in enumerate(wf.dispatches)
    )

    # a party whose data was erased, its retention period over (gis.pii_expiry)
    erased_words = t(
        "个人信息已按保存期限删除（{day}）",
        "personal data erased, its retention period over ({day})",
    )

    def party_row(p) -> str:  # type: ignore[no-untyped-def]
        role = escape(PARTY_ROLES_EN.get(p.role, p.role) if en else p.role_name)
        if p.erased_at:
            said = erased_words.format(day=f"{p.erased_at.astimezone(SHANGHAI):%Y-%m-%d}")
            return f'<tr class="wg-muted"><td>{role}</td><td colspan="3">{said}</td></tr>'
        return (
            f"<tr><td>{role}</td><td>{escape(p.name or '')}</td>"
            f"<td>{escape(p.phone or '')}</td><td>{escape(p.id_card or '')}</td></tr>"
        )

    parties = "".join(party_row(p) for p in case.parties)

    def photo_credit(p) -> str:  # type: ignore[no-untyped-def]
        """Who added the photo and when (with the report, or after it)."""
        said = [escape(x) for x in (p.uploader or p.uploaded_by,) if x]
        if p.uploaded_at:
            said.append(when(p.uploaded_at))
        return f"<figcaption>{' · '.join(said)}</figcaption>" if said else ""

    photos = "".join(
        f'<figure><a href="/api/photos/{p.id}"><img src="/api/photos/{p.id}/thumb" '
        f'alt="{t("现场照片", "Photo")}" width="160"></a>{photo_credit(p)}</figure>'
        for p in case.photos
    )
    # 补充现场照片: more of the spot after the report (整改后, 复核), up to the case's limit
    room = max(MAX_PER_CASE - len(case.photos), 0)
    shut = "" if room else " disabled"
    add_photos = (
        f"""
  <form id="photo-form" class="wg-photo-form" novalidate data-max-px="{PHOTO_MAX_PX}"
    data-keep-bytes="{PHOTO_KEEP_BYTES}" data-quality="{PHOTO_QUALITY}">
    <input type="file" name="photos" accept="image/jpeg,image/png,image/webp" multiple
      aria-label="{t("选择照片", "Choose photos")}"{shut}>
    <button type="submit"{shut}>{t("上传照片", "Upload the photos")}</button>
    <small>{
            t(
                f"每件案件最多 {MAX_PER_CASE} 张，还可添加 {room} 张；照片中的位置等信息会被去除。",
                f"At most {MAX_PER_CASE} photos a case, {room} more may be added; the "
                "position and other EXIF data are removed.",
            )
        }</small>
  </form>
  <p id="photo-error" class="wg-error" role="alert" data-room="{room}" data-empty="{
            t("请先选择照片。", "Choose a photo first.")
        }" data-too-many="{t(f"最多还可添加 {room} 张。", f"At most {room} more may be added.")}"
    data-sending="{t("正在上传……", "Uploading …")}"
    data-sending-one="{t("正在上传第 {i} 张，共 {n} 张……", "Uploading {i} of {n} …")}"
    data-partly="{
            t(
                "已上传 {n} 张，还有 {left} 张未上传（再点“上传照片”继续）：",
                "{n} uploaded, {left} not yet (Upload again for the rest): ",
            )
        }"></p>"""
        if can_add_photos
        else ""
    )
    # 现场核查: the grid worker of the case's grid says whether it was put right
    verify_form = f"""
  <form id="verify-form" class="wg-verify-form" novalidate>
    <p>{
        t(
            "本案已办结。请到现场核查：是否整改到位、问题是否解决。",
            "This case is resolved. Go and look on the spot: is it put right, is the problem "
            "solved?",
        )
    }</p>
    <textarea name="note" rows="2" maxlength="2000" aria-label="{t("现场情况", "What you found")}"
      placeholder="{
        t(
            "现场情况：如 楼道杂物已清理，消防通道畅通",
            "What you found: the stairwell is cleared, the fire exit is free …",
        )
    }"></textarea>
    <button type="submit" value="true">{t("已整改到位", "Put right")}</button>
    <button type="submit" value="false">{
        t("未整改到位，重新办理", "Not put right: handle it again")
    }</button>
  </form>
  <p id="verify-error" class="wg-error" role="alert" data-empty="{
        t("未整改到位的，请写明现场情况。", "Not put right: say what you found first.")
    }"></p>"""
    # a case another center is responsible for: the desk reads it, and is told whose it is
    # (its buttons were all refused: 该案件目前由其他综治中心负责)
    others = t(
        f"<p>本案目前由{escape(wf.center or '其他综治中心')}负责，您可以查看，不能办理。</p>",
        f"<p>{escape(wf.center or 'Another center')} is responsible for this case now: you may "
        "read it, not act on it.</p>",
    )
    actions = (
        "".join(
            f'<button type="button" class="wg-action" data-action="{a}">'
            f"{escape(ACTION_NAMES_EN[a] if en else MOVES[a].name_zh)}</button>"
            for a in wf.your_actions
        )
        or (others if wf.allowed_actions and not wf.in_charge else "")
        if can_handle
        else verify_form
        if can_verify
        else t("<p>您的角色只能查看。</p>", "<p>Your role may only look.</p>")
    )
    letters = "".join(
        f'<li><a href="{escape(e.data["letter"])}">{escape(events_named[e.action])}'
        f"{t('（', ' (')}{when(e.at)}{t('）', ')')}</a></li>"
        for e in wf.events
        if isinstance(e.data, dict) and e.data.get("letter")
    )
    unmask = (
        '<button type="button" id="unmask">'
        + t("查看完整信息（将记录审计）", "Show in full (recorded in the audit log)")
        + "</button>"
        # (no party, or all erased, and no number masked in the description or a note:
        # nothing to show, and nothing to audit)
        if can_unmask
        and (
            case.description_masked
            or any(not p.erased_at for p in case.parties)
            or any(x.note_masked for x in (*wf.events, *wf.dispatches))
        )
        else ""
    )
    workers_row = (
        f'<tr><th>{t("网格员", "Grid workers")}</th><td id="case-workers">'
        + t("；", "; ").join(
            escape(name)
            + (f' <a href="tel:{escape(phone, quote=True)}">{escape(phone)}</a>' if phone else "")
            for name, phone in workers
        )
        + "</td></tr>\n    "
        if workers
        else ""
    )
    # 办理记录: what the desk did or learnt, without moving the case
    note_form = (
        f"""
  <form id="note-form" class="wg-note-form" novalidate>
    <textarea name="note" rows="2" maxlength="2000" aria-label="{t("办理记录", "Handling note")}"
      placeholder="{
            t(
                "办理记录：如 已电话联系当事人，约定周三上门",
                "A note: called the resident, visit agreed for Wednesday …",
            )
        }"></textarea>
    <button type="submit">{t("添加办理记录", "Add the note")}</button>
  </form>
  <p id="note-error" class="wg-error" role="alert" data-empty="{
            t("请填写办理记录。", "Write the note first.")
        }"></p>"""
        if can_note
        else ""
    )
    # 补充当事人: the desk names a person the report did not (the same rules as the report's)
    role_names = PARTY_ROLES_EN if en else PARTY_ROLES
    add_party = (
        f"""
  <form id="party-form" class="wg-party-form" novalidate>
    <select name="role" aria-label="{t("身份", "Role")}">{
            "".join(
                f'<option value="{r}">{escape(role_names[r])}</option>'
                for r in ("applicant", "respondent", "party", "reporter", "witness")
            )
        }</select>
    <input name="name" maxlength="50" autocomplete="off" placeholder="{t("姓名", "Name")}"
      aria-label="{t("姓名", "Name")}">
    <input name="phone" type="tel" maxlength="20" autocomplete="off"
      placeholder="{t("电话", "Phone")}" aria-label="{t("电话", "Phone")}">
    <input name="id_card" maxlength="18" autocomplete="off"
      placeholder="{t("身份证号（可不填）", "ID-card number (optional)")}"
      aria-label="{t("身份证号", "ID-card number")}">
    <button type="submit">{t("补充当事人", "Add a person")}</button>
  </form>
  <p id="party-error" class="wg-error" role="alert"
    data-empty="{
            t("请填写姓名、电话或身份证号。", "Give a name, a phone or an ID-card number.")
        }"></p>"""
        if can_handle
        else ""
    )
    status = states.get(case.status, case.status)

    def case_links(codes) -> str:  # type: ignore[no-untyped-def]
        return t("、", ", ").join(f'<a href="/cases/{escape(c)}">{escape(c)}</a>' for c in codes)

    merged_row = ""
    if wf.merged_into:
        status += t("（并案）", " (merged)")
        merged_row = (
            f'<tr><th>{t("并案", "Merged")}</th><td id="case-merged">'
            + t(
                f"已并入案件 {case_links([wf.merged_into])}，由该案一并办理",
                f"Merged into case {case_links([wf.merged_into])}, which carries it",
            )
            + "</td></tr>\n    "
        )
    elif wf.merged_from:
        merged_row = (
            f'<tr><th>{t("并案", "Merged")}</th><td id="case-merged">'
            + t(
                f"并入本案的案件：{case_links(wf.merged_from)}",
                f"Cases merged into this one: {case_links(wf.merged_from)}",
            )
            + "</td></tr>\n    "
        )
    # the clock, as the in-tray tells it: past the deadline, or the working hours left
    clock = ""
    if wf.overdue:
        clock = f' <span class="wg-overdue">{t("已超期", "overdue")}</span>'
    elif wf.work_hours_left is not None:
        left = wf.work_hours_left
        clock = t(f" 剩 {left:.1f} 工作小时", f" {left:.1f} working hours left")
    elif wf.settled_at is not None and wf.settled_on_time is not None and not wf.merged_into:
        settled = when(wf.settled_at)
        if wf.settled_on_time:
            clock = t(f" · {settled} 办结，按期", f" · settled {settled}, on time")
        else:
            late = t(f"{settled} 办结，超期", f"settled {settled}, late")
            clock = f' · <span class="wg-overdue">{late}</span>'
    verify_row = ""
    if wf.verify_due is not None:  # resolved: to be verified (回访, 现场核查) by then
        late = f' <span class="wg-overdue">{t("已超期", "overdue")}</span>'
        due = when(wf.verify_due) + (late if wf.verify_overdue else "")
        verify_row = (
            f'<tr><th>{t("核查期限", "Verify by")}</th><td id="verify-due">{due}'
            + t(f"（办结后 {verify_days:g} 个工作日内回访或现场核查）",
                f" (a follow-up or a check on the spot within {verify_days:g} working days of "
                "the resolution)")
            + "</td></tr>\n    "
        )  # fmt: skip
    tiles = (
        f' data-tiles="{escape(base.url)}" data-subdomains="{escape(base.subdomains)}"'
        f' data-datum="{escape(base.datum)}" data-attribution="{escape(base.attribution or "")}"'
        if base is not None and base.url
        else ""
    )
    flags = case.flags or {}

    def peers(key: str) -> str:
        """The cases behind the repeat warning ``key`` the reader may see, and how many not."""
        if key not in ("repeat_place", "repeat_resident") or repeats is None:
            return ""
        by_place = key == "repeat_place"
        shown = repeats.place if by_place else repeats.resident
        seen = repeats.place_seen if by_place else repeats.resident_seen
        items = [
            f'<li><a href="/cases/{escape(p.code)}">{escape(p.code)}</a> '
            + escape(
                f"{t(KIND_NAMES[p.kind][0], RESIDENT_TEXT['en'][p.kind])} · "
                f"{p.category_en if en else p.category_zh} · "
                f"{states.get(p.status, p.status)} · {when(p.received_at)}"
            )
            + ("" if p.distance_m is None else f" · {p.distance_m:.0f} {t('米', 'm')}")
            + "</li>"
            for p in shown
        ]
        if seen > len(shown):
            items.append(
                '<li class="wg-unseen">'
                + t(
                    f"……共 {seen} 件，列出最近 {len(shown)} 件",
                    f"… {seen} in all, the latest {len(shown)} listed",
                )
                + "</li>"
            )
        # (the count: the case itself among them, as it was when it came in)
        unseen = int(flags.get(key) or 0) - 1 - seen
        if unseen > 0:
            items.append(
                '<li class="wg-unseen">'
                + t(
                    f"另有 {unseen} 件不在本账号查看范围内或已并案",
                    f"{unseen} more outside this account's view, or merged",
                )
                + "</li>"
            )
        return f'<ul class="wg-peers">{"".join(items)}</ul>' if items else ""

    # on the case's map: the place's other cases, within the circle of its repeat warning
    # (50 m), and its possible duplicates (100 m), each a tap away
    drawn = [
        {
            "code": p.code,
            "lon": p.lon,
            "lat": p.lat,
            "kind": "repeat",
            "label": f"{p.code} {p.category_en if en else p.category_zh} · "
            f"{states.get(p.status, p.status)} · {when(p.received_at)}",
        }
        for p in (repeats.place if repeats else [])
        if p.lon is not None
    ]
    for other, state, metres in case.duplicates:
        if other in (duplicate_points or {}) and other not in {d["code"] for d in drawn}:
            lon_, lat_ = (duplicate_points or {})[other]
            drawn.append(
                {
                    "code": other,
                    "lon": lon_,
                    "lat": lat_,
                    "kind": "duplicate",
                    "label": f"{other} {t('疑似重复', 'possible duplicate')} · "
                    f"{duplicate_names.get(state, state)}"
                    + ("" if metres is None else f" · {metres:.0f} {t('米', 'm')}"),
                }
            )
    peer_points = f' data-peers="{escape(json.dumps(drawn, ensure_ascii=False))}"' if drawn else ""
    own_grid = f' data-grid="{escape(loc.grid.code)}"' if loc.grid else ""
    grid_label = (loc.grid.name or loc.grid.code) if loc.grid else ""
    # its key: the grids' part said once they are drawn (case.js; none without a network)
    case_map = (
        f'<div id="case-map"{own_grid}{peer_points} style="height: 260px"></div>'
        '<p class="wg-map-key">'
        + t(
            f"红点为事发位置，圆圈为其 {REPEAT_M} 米范围（高频线索按此计）",
            f"The red dot marks the spot; the circle, {REPEAT_M} m around it (what a repeat "
            "warning counts)",
        )
        + (
            '<span id="case-map-own" hidden>'
            + t(
                f"；蓝色阴影为所属网格“{escape(grid_label)}”",
                f"; shaded blue, its grid “{escape(grid_label)}”",
            )
            + "</span>"
            if grid_label
            else ""
        )
        + '<span id="case-map-grids" hidden>'
        + t(
            "；虚线为网格边界，指向或轻点网格可见其名称",
            "; dashed, the grids' bounds (point at or tap one for its name)",
        )
        + "</span>"
        + t("。", ".")
        + "</p>"
    )
    warnings = "".join(
        f"<li>{escape(text)}{peers(key)}</li>"
        for key, text in (
            (
                "repeat_place",
                t(
                    f"高频线索：{REPEAT_M} 米内 {REPEAT_DAYS} 天已有 "
                    f"{flags.get('repeat_place')} 件案件",
                    f"Repeat warning: {flags.get('repeat_place')} cases within {REPEAT_M} m "
                    f"in {REPEAT_DAYS} days",
                ),
            ),
            (
                "repeat_resident",
                t(
                    f"高频线索：同一当事人 {REPEAT_DAYS} 天内 "
                    f"{flags.get('repeat_resident')} 件案件",
                    f"Repeat warning: the same resident in {flags.get('repeat_resident')} cases "
                    f"in {REPEAT_DAYS} days",
                ),
            ),
            (
                "low_accuracy",
                t(
                    f"定位精度低于 {LOW_ACCURACY_M} 米，位置请核实",
                    f"Position less accurate than {LOW_ACCURACY_M} m: check the place",
                ),
            ),
            (
                "clock_suspect",
                t(
                    f"设备上报时间（{when(case.reported_at)}）与接收时间（{when(case.received_at)}）"
                    "相差过大，设备时钟可能有误，发生时间请核实",
                    f"The device's time ({when(case.reported_at)}) is far from the time received "
                    f"({when(case.received_at)}): its clock may be wrong, check when it happened",
                ),
            ),
        )
        if flags.get(key)
    )
    can_merge = "merge" in wf.your_actions and not wf.merged_from
    # the other way: a duplicate still open merged into this case (which must not be merged)
    states_of_others = duplicate_states or {}
    can_take = can_handle and wf.merged_into is None
    choices = (
        ("confirm", t("确认重复", "Confirm duplicate")),
        ("unlink", t("不是重复，解除", "Not a duplicate: unlink")),
    )
    duplicates = "".join(
        f'<tr><td><a href="/cases/{escape(other)}">{escape(other)}</a></td>'
        f"<td>{'—' if metres is None else f'{metres:.0f} ' + t('米', 'm')}</td>"
        f"<td>{escape(duplicate_names.get(state, state))}</td><td>"
        + (
            "".join(
                f'<button type="button" class="wg-duplicate" data-other="{escape(other)}" '
                f'data-decision="{decision}">{label}</button>'
                for decision, label in choices
                if (decision, state) not in (("confirm", "confirmed"), ("unlink", "unlinked"))
            )
            # (merged into it, or it into this one: undone by reopening the merged case)
            if can_triage and other != wf.merged_into and other not in wf.merged_from
            else ""
        )
        + (
            f'<button type="button" class="wg-merge" data-into="{escape(other)}" data-confirm="'
            + escape(
                t(
                    f"将本案并入案件 {other} 一并办理，本案随即结案。确定吗？",
                    f"Merge this case into case {other}, which will carry it? This case is "
                    "closed at once.",
                ),
                quote=True,
            )
            + f'">{t("并入该案", "Merge into it")}</button>'
            if can_merge and state != "unlinked"
            else ""
        )
        + (
            f'<button type="button" class="wg-merge-here" data-other="{escape(other)}" '
            'data-confirm="'
            + escape(
                t(
                    f"将案件 {other} 并入本案一并办理，该案随即结案。确定吗？",
                    f"Merge case {other} into this one, which will carry it? That case is "
                    "closed at once.",
                ),
                quote=True,
            )
            + f'">{t("并入本案", "Merge it into this one")}</button>'
            if can_take
            and state != "unlinked"
            and states_of_others.get(other) in MOVES["merge"].sources
            else ""
        )
        + "</td></tr>"
        for other, state, metres in sorted(  # those to settle first, then the nearest
            case.duplicates, key=lambda d: (d[1] != "suggested", d[2] is None, d[2] or 0.0)
        )[:DUPLICATES_SHOWN]
    )
    if len(case.duplicates) > DUPLICATES_SHOWN:
        more = len(case.duplicates) - DUPLICATES_SHOWN
        duplicates += (
            '<tr><td colspan="4">'
            + t(
                f"另有 {more} 件未列出（同一地点的大量上报）",
                f"{more} more not listed (many reports at the same place)",
            )
            + "</td></tr>"
        )
    duplicates_section = (
        f"""<h2>{t("疑似重复", "Possible duplicates")}</h2>
  <p>{
            t(
                f"同类案件，相距 {DUPLICATE_M} 米、{DUPLICATE_HOURS} 小时以内："
                "请确认是否为同一事件。同一事件可将本案并入该案一并办理（并案），不会删除任何案件。",
                f"Cases of the same category within {DUPLICATE_M} m and {DUPLICATE_HOURS} hours: "
                "confirm whether they are the same event. The same event: merge this case into "
                "the other, which carries both (no case is deleted).",
            )
        }</p>
  <table class="wg-list" id="duplicates">{duplicates}</table>"""
        if duplicates
        else ""
    )
    kind = t(KIND_NAMES[case.kind][0], RESIDENT_TEXT["en"][case.kind])
    severity = (SEVERITY_NAMES_EN if en else SEVERITY_NAMES).get(case.severity, case.severity)
    category = (category_name or case.category_name) if en else case.category_name
    what = f"{kind} · {category}" + t(f"（{severity}）", f" ({severity})")
    switch = language_switch(lang)
    # the roles' names for case.js when it shows the parties unmasked (the API names them in
    # Chinese)
    roles = f" data-roles='{escape(json.dumps(PARTY_ROLES_EN))}'" if en else ""
    roles += f' data-erased="{erased_words}"'  # (case.js, for those it unmasks)

    menu = [(t("综治网格地图", "Grid map"), "/")] if links is None else links
    return f"""{_case_page_head(t("案件 ", "Case ") + case.code, lang=lang)}
<body class="wg-case" data-code="{escape(case.code)}" data-version="{wf.version}"
      data-lon="{"" if case.lon is None else case.lon}" data-lat="{
        "" if case.lat is None else case.lat
    }"{tiles}>
<link rel="stylesheet" href="{asset_url("leaflet_css")}">
<main>
  {switch}{nav_line(menu, user, lang)}
  <h1>{t("案件", "Case")} <span id="case-code">{escape(case.code)}</span>
      <span class="wg-status" id="case-status">{escape(status)}</span></h1>
  <table class="wg-receipt-table">
    <tr><th>{t("类型", "Kind")}</th><td>{escape(what)}</td></tr>
    <tr><th>{t("描述", "Description")}</th><td id="case-description">{
        escape(case.description)
    }</td></tr>
    <tr><th>{t("来源", "Source")}</th><td id="case-source">{
        escape(source_line(case, lang))
    }</td></tr>
    <tr><th>{t("位置", "Place")}</th><td>{escape(place)} · {t("网格", "grid")} {grid_html}</td></tr>
    {merged_row}{workers_row}<tr><th>{t("负责中心", "Responsible center")}</th><td>{
        escape(wf.center or "—")
    }</td></tr>
    <tr><th>{t("登记时间", "Registered")}</th><td>{when(case.received_at)}</td></tr>
    <tr><th>{t("办理时限", "Deadline")}</th><td id="case-deadline">{when(case.deadline)}{clock}{
        t(
            f"（工作时间 {wf.allowed_hours or '—'} 小时；提醒 {when(wf.remind_at)}）",
            f" ({wf.allowed_hours or '—'} working hours; reminder {when(wf.remind_at)})",
        )
    }</td></tr>
    {verify_row}</table>
  {f'<ul class="wg-warnings" id="warnings">{warnings}</ul>' if warnings else ""}
  {no_point if case.lon is None else case_map}
  {duplicates_section}
  <p class="wg-noprint"><button type="button" id="case-print">{
        t("打印案件办理单", "Print the case sheet")
    }</button></p>
  <h2 class="wg-noprint">{t("可执行操作", "Actions")}</h2>
  <div id="actions">{actions}</div>
  <form id="action-form" hidden>
    <p id="action-title"></p>
    <label>{t("说明／理由", "Note / reason")} <textarea name="note" rows="2"></textarea></label>
    <label data-for="dispatch">{
        t(
            "部门（留空用类别默认部门；多个用逗号分隔，如 police,judicial）",
            "Departments (empty: the category's own; several separated by commas, e.g. "
            "police,judicial)",
        )
    }
      <input name="departments"></label>
    <label data-for="transfer">{t("目标区划代码", "Code of the target region")}
      <input name="to_region"></label>
    <label data-for="extend">{
        t(
            f"延长工作小时（一次最多 {MAX_EXTENSION_HOURS:.0f}）",
            f"Working hours to add (at most {MAX_EXTENSION_HOURS:.0f} at once)",
        )
    }
      <input name="extra_hours" type="number" min="1" max="{MAX_EXTENSION_HOURS:.0f}"></label>
    <label data-for="merge">{t("并入的案件编号", "Code of the case to merge into")}
      <input name="into" autocomplete="off"></label>
    <span data-for="verify" class="wg-verify-choice" role="group"
      aria-label="{t("回访结果", "What the resident said")}"><label><input name="resolved"
      type="radio" value="true"> {t("群众认可已解决", "The resident confirms it is solved")}</label>
      <label><input name="resolved" type="radio" value="false">
      {t("群众反映未解决（重启）", "The resident says it is not solved (reopens it)")}</label>
    </span>
    <button type="submit">{t("确定", "OK")}</button>
    <button type="button" id="action-cancel">{t("取消", "Cancel")}</button>
  </form>
  <p id="action-error" class="wg-error" role="alert"></p>
  <h2>{t("部门派遣", "Department dispatch")}</h2>
  <table class="wg-list">{
        dispatches or t("<tr><td>尚未派遣</td></tr>", "<tr><td>Not dispatched yet</td></tr>")
    }</table>
  <h2>{t("办理过程", "Steps taken")}</h2>
  <ol class="wg-timeline">{events}</ol>{note_form}
  <h2>{t("文书", "Documents")}</h2>
  <ul><li><a href="/cases/{escape(case.code)}/receipt">{t("受理回执", "Receipt")}</a></li>{
        letters
    }</ul>
  <h2 id="photos">{t("现场照片", "Photos")}</h2>
  <div class="wg-photos">{photos or t("无", "None")}</div>{add_photos}
  <h2>{t("当事人", "Parties")}</h2>
  <table class="wg-list" id="parties"{roles}>{
        parties or t("<tr><td>无</td></tr>", "<tr><td>None</td></tr>")
    }</table>
  {unmask}{add_party}
</main>
<script src="{asset_url("leaflet")}"></script>
<script src="{asset_url("wangge.js")}"></script>
<script src="{asset_url("places.js")}"></script>
<script src="{asset_url("session.js")}"></script>
<script src="{asset_url("case.js")}"></script>
</body>
</html>
"""
