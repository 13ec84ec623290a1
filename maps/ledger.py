"""网格台账: the page of a region's current grids (:mod:`gis.ledger`), in Chinese or English."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from urllib.parse import quote

from gis.ledger import (
    RECENT_DAYS,
    ChildSummary,
    GridRecord,
    Ledger,
    WorkerChoice,
)
from gis.roles import GRID_ROLES, role_name
from gis.worktime import SHANGHAI
from maps.assets import asset_url
from maps.pages import (
    _case_page_head,
    _filtered,
    _pager,
    _tr,
    language_switch,
    nav_line,
    person,
)

LEDGER_PAGE_SIZE = 100
#: the orders offered, as the chips say them
ORDERS: dict[str, tuple[str, str]] = {
    "code": ("按村（社区）", "By village"),
    "open": ("在办最多", "Most open cases"),
    "households": ("户数最多", "Most households"),
    "recent": (f"近{RECENT_DAYS}天案件最多", f"Most cases ({RECENT_DAYS} days)"),
}


def ledger_page(
    found: Ledger,
    *,
    region: str,
    user: str,
    links: list[tuple[str, str]],
    filters: Mapping[str, object],
    offset: int,
    patrols: bool = False,
    planner: bool = False,
    below: Sequence[ChildSummary] = (),
    queue: bool = False,
    lang: str = "zh",
) -> str:
    """网格台账 of ``region`` (its name): ``found``, one row a grid, the region's counts above,
    and those of each region ``below`` it (each a link to its own ledger);
    ``filters``: the query in force (``region``, ``order``, ``unstaffed``, ``large``, ``q``);
    ``patrols``: with the days patrolled (for those who may read check-ins); ``planner``: each
    village a link to redraw its grids (for those who may); ``queue``: each grid's open cases a
    link to them in the in-tray (for those who handle cases)."""
    t = _tr(lang)
    most = found.households_max  # the rule for many households
    en = lang == "en"

    def href(path: str = "/grids", **change: object) -> str:
        return _filtered(path, filters, change)

    def workers(g) -> str:  # type: ignore[no-untyped-def]
        if not g.workers:
            return f'<span class="wg-flag wg-flag-repeat">{t("未配网格员", "no worker")}</span>'
        chiefless = (
            f' <span class="wg-flag wg-flag-repeat">{t("未设网格长", "no chief")}</span>'
            if g.chiefless
            else ""
        )
        return (
            t("、", ", ").join(
                f'<span title="{escape(code, quote=True)} · {role_name(role, lang)}">'
                f"{escape(name)}</span>"
                for code, name, role in g.workers
            )
            + chiefless
        )

    def households(g) -> str:  # type: ignore[no-untyped-def]
        if g.households is None:
            return "—"
        flag = (
            ' <span class="wg-flag wg-flag-repeat" title="'
            + t(f"多于 {most} 户", f"over {most} households")
            + f'">{t("户数偏多", "large")}</span>'
            if g.large
            else ""
        )
        return f"{g.households:,}{flag}"

    def village(g) -> str:  # type: ignore[no-untyped-def]
        if not planner:
            return escape(g.village)
        there = f"/maps/planner?village={quote(g.village_code, safe='')}"
        hint = t("在网格调整中打开本村（社区）", "Open the village in the grid planner")
        return f'<a href="{there}" title="{hint}">{escape(g.village)}</a>'

    def open_cases(g) -> str:  # type: ignore[no-untyped-def]
        count = _open_link(g.code, g.open_cases) if queue else str(g.open_cases)
        if not g.overdue:
            return count
        late = t(f"其中超期 {g.overdue}", f"{g.overdue} overdue")
        return f'{count} <span class="wg-overdue">{late}</span>'

    rows = "".join(
        "<tr>"
        f'<td><a href="/maps/grid/{quote(g.code, safe="")}">{escape(g.name or g.code)}</a>'
        f"<small>{escape(g.code)}</small></td>"
        f"<td>{village(g)}<small>{escape(g.township or '')}</small></td>"
        f"<td>{households(g)}</td>"
        f"<td>{'—' if g.population is None else f'{g.population:,}'}</td>"
        f"<td>{g.area_km2:.2f}</td>"
        f"<td>{workers(g)}</td>"
        f"<td>{open_cases(g)}</td>"
        f"<td>{g.recent}</td>"
        + (f"<td>{g.patrol_days or 0}</td>" if patrols else "")
        + f'<td><a href="/grids/{quote(g.code, safe="")}">v{g.version}</a>'
        f"<small>{g.valid_from.astimezone(SHANGHAI):%Y-%m-%d}</small></td>"
        "</tr>"
        for g in found.grids
    )
    shown, pages = _pager(
        offset,
        len(found.grids),
        found.matching,
        LEDGER_PAGE_SIZE,
        lambda at: href(offset=at or None),
        lang,
    )
    order = str(filters.get("order") or "code")
    chips = " ".join(
        f'<a class="wg-chip{" on" if key == order else ""}" '
        f'href="{href(order=None if key == "code" else key, offset=None)}">'
        f"{words[1] if en else words[0]}</a>"
        for key, words in ORDERS.items()
    )
    marks = []
    for key, zh, english, n in (
        ("unstaffed", "未配网格员", "No worker", found.unstaffed),
        ("chiefless", "未设网格长", "No chief", found.chiefless),
        ("large", f"户数多于 {most}", f"Over {most} households", found.large),
    ):
        on = bool(filters.get(key))
        there = _filtered("/grids", filters, {key: not on, "offset": None})
        marks.append(  # (the chip's id is not the count's: ledger-… is the count in the text)
            f'<a class="wg-chip{" on" if on else ""}" id="chip-{key}" href="{there}">'
            f"{t(zh, english)} {n}</a>"
        )
    search = escape(str(filters.get("q") or ""), quote=True)
    hidden = "".join(
        f'<input type="hidden" name="{k}" value="{escape(str(v), quote=True)}">'
        for k, v in filters.items()
        if k not in ("q", "offset") and v not in (None, False, "")
    )
    form = (
        f'<form class="wg-filters wg-find" method="get" action="/grids" role="search">'
        f'<label>{t("查找网格", "Find a grid")} <input name="q" value="{search}" size="24" '
        f'maxlength="40" placeholder="{t("网格编码或名称", "grid code or name")}"></label>'
        f'{hidden} <button type="submit">{t("查询", "Find")}</button></form>'
    )
    export = (
        f'<a id="ledger-export" href="{href("/grids.xlsx", lang=lang, offset=None)}">'
        + t("导出 Excel", "Export to Excel")
        + "</a>"
    )
    per_grid = found.households / found.total if found.total else 0
    summary = t(
        f'共 <b id="ledger-total">{found.total:,}</b> 个网格，'
        f"{found.households:,} 户、{found.population:,} 人，{found.area_km2:,.1f} 平方公里，"
        f"平均每格 {per_grid:,.0f} 户；"
        f'未配网格员 <b id="ledger-unstaffed">{found.unstaffed}</b> 个，'
        f'有网格员而未设网格长 <b id="ledger-chiefless">{found.chiefless}</b> 个，'
        f'户数多于 {most} 的 <b id="ledger-large">{found.large}</b> 个。'
        f'符合条件 <b id="ledger-matching">{found.matching:,}</b> 个，第 {shown} 个。',
        f'<b id="ledger-total">{found.total:,}</b> grids, {found.households:,} households, '
        f"{found.population:,} people, {found.area_km2:,.1f} km², {per_grid:,.0f} households "
        f'a grid on average; <b id="ledger-unstaffed">{found.unstaffed}</b> without a grid '
        f'worker, <b id="ledger-chiefless">{found.chiefless}</b> with grid workers but no '
        f'chief, <b id="ledger-large">{found.large}</b> of over {most} households. '
        f'<b id="ledger-matching">{found.matching:,}</b> match, showing {shown}.',
    )
    by_region = ""
    many = t(f"户数多于 {most}", f"Over {most} households")
    if below:
        cells = "".join(
            f'<tr><td><a href="{_filtered("/grids", filters, {"region": c.code, "offset": None})}">'
            f"{escape(c.name)}</a><small>{escape(c.code)}</small></td>"
            f"<td>{c.grids:,}</td><td>{c.households:,}</td><td>{c.population:,}</td>"
            f"<td>{c.unstaffed}</td><td>{c.large}</td><td>{c.open_cases:,}</td></tr>"
            for c in below
        )
        by_region = f"""<h2>{t("各下级区划", "By region")}</h2>
  <table tabindex="0" class="wg-list wg-queue-table" id="ledger-below">
    <thead><tr><th>{t("下级区划", "Region")}</th><th>{t("网格", "Grids")}</th>
      <th>{t("户数", "Households")}</th><th>{t("人口", "People")}</th>
      <th>{t("未配网格员", "No worker")}</th><th>{many}</th>
      <th>{t("在办案件", "Open cases")}</th></tr></thead>
    <tbody>{cells}</tbody>
  </table>"""
    columns = 10 if patrols else 9
    none = f'<tr><td colspan="{columns}">{t("没有符合条件的网格。", "None.")}</td></tr>'
    here = href()
    head = _case_page_head(t("网格台账", "Grid ledger") + " · 网格 wangge", noindex=True, lang=lang)
    patrol_head = (
        f"<th>{t(f'近{RECENT_DAYS}天巡查天数', f'Days patrolled ({RECENT_DAYS} days)')}</th>"
        if patrols
        else ""
    )
    return f"""{head}
<body class="wg-track wg-index wg-queue">
<main>
  {language_switch(lang, here)}{nav_line(links, user, lang)}
  <h1>{t("网格台账", "Grid ledger")} · {escape(region)}</h1>
  {form}
  <p class="wg-chips">{chips}</p>
  <p class="wg-chips">{" ".join(marks)} {export}</p>
  <p>{summary}</p>
  {by_region}
  {f"<h2>{t('网格', 'Grids')}</h2>" if below else ""}
  <table tabindex="0" class="wg-list wg-queue-table" id="ledger">
    <thead><tr><th>{t("网格", "Grid")}</th><th>{t("所属村（社区）", "Village")}</th>
      <th>{t("户数", "Households")}</th><th>{t("人口", "People")}</th>
      <th>{t("面积（km²）", "Area (km²)")}</th><th>{t("网格员", "Grid workers")}</th>
      <th>{t("在办案件", "Open cases")}</th>
      <th>{t(f"近{RECENT_DAYS}天案件", f"Cases ({RECENT_DAYS} days)")}</th>{patrol_head}
      <th>{t("现行版本", "Drawn")}</th>
    </tr></thead>
    <tbody>{rows or none}</tbody>
  </table>
  <p class="wg-pages">{pages}</p>
</main>
</body>
</html>
"""


def grid_record_page(
    record: GridRecord,
    *,
    user: str,
    links: list[tuple[str, str]],
    planner: bool = False,
    choices: Sequence[WorkerChoice] = (),
    queue: bool = False,
    lang: str = "zh",
) -> str:
    """网格档案: the grid as it is now (if it still is), its outline and those of its earlier
    versions and of the grids its land came from or went to, and each version's time, size,
    edit set and cases.  ``choices``: the grid workers a planner may give it (网格员配备)."""
    t = _tr(lang)
    versions = record.versions
    last = versions[-1]
    now = record.now
    title = f"{last.name}（{record.code}）" if lang != "en" else f"{last.name} ({record.code})"

    def day(at) -> str:  # type: ignore[no-untyped-def]
        return "—" if at is None else f"{at.astimezone(SHANGHAI):%Y-%m-%d}"

    elsewhere = t("不在您的管辖范围内", "not in your jurisdiction")

    def grids(pairs: list[tuple[str, int]]) -> str:
        return (
            t("、", ", ").join(
                (
                    f'<a href="/grids/{quote(code, safe="")}">{escape(code)}</a>'
                    if code in record.reachable
                    else f'<span class="wg-elsewhere" title="{elsewhere}">{escape(code)}</span>'
                )
                + f" v{v}"
                for code, v in pairs
            )
            or "—"
        )

    def size(n: int | None) -> str:
        return "—" if n is None else f"{n:,}"

    facts = ""
    if now is not None:
        workers = (
            t("、", ", ").join(
                escape(name)
                + t(f"（{role_name(role, lang)}）", f" ({role_name(role, lang)})")
                + (
                    f' <a href="tel:{escape(record.phones[code], quote=True)}">'
                    f"{escape(record.phones[code])}</a>"
                    if code in record.phones
                    else ""
                )
                for code, name, role in now.workers
            )
            or f'<span class="wg-flag wg-flag-repeat">{t("未配网格员", "no worker")}</span>'
        )
        if now.chiefless:
            workers += f' <span class="wg-flag wg-flag-repeat">{t("未设网格长", "no chief")}</span>'
        late = (
            f' <span class="wg-overdue">{t(f"其中超期 {now.overdue}", f"{now.overdue} overdue")}'
            "</span>"
            if now.overdue
            else ""
        )
        large = (
            f' <span class="wg-flag wg-flag-repeat">{t("户数偏多", "large")}</span>'
            if now.large
            else ""
        )
        opened = _open_link(record.code, now.open_cases) if queue else str(now.open_cases)
        patrol = (
            f"<tr><th>{t(f'近{RECENT_DAYS}天巡查', f'Patrolled ({RECENT_DAYS} days)')}</th>"
            f"<td>{t(f'{now.patrol_days} 天', f'{now.patrol_days} days')}</td></tr>"
            if now.patrol_days is not None
            else ""
        )
        facts = f"""<table class="wg-list" id="grid-now">
    <tr><th>{t("所属村（社区）", "Village")}</th>
      <td>{escape(now.village)} · {escape(now.township or "")}</td></tr>
    <tr><th>{t("户数 / 人口", "Households / people")}</th>
      <td>{size(now.households)}{large} / {size(now.population)}</td></tr>
    <tr><th>{t("面积", "Area")}</th><td>{now.area_km2:.3f} km²</td></tr>
    <tr><th>{t("网格员", "Grid workers")}</th><td>{workers}</td></tr>
    <tr><th>{t("在办案件", "Open cases")}</th><td>{opened}{late}</td></tr>
    <tr><th>{t(f"近{RECENT_DAYS}天案件", f"Cases ({RECENT_DAYS} days)")}</th>
      <td>{now.recent}</td></tr>{patrol}
  </table>"""
    else:
        facts = (
            '<p class="wg-error" id="grid-retired">'
            + t(
                f"该网格已于 {day(last.valid_to)} 停用，以下为其历史版本。",
                f"This grid was retired on {day(last.valid_to)}; its versions follow.",
            )
            + "</p>"
        )
    x, y, w, h = record.view_box
    paths = "".join(
        f'<path class="wg-rec-related" d="{escape(v.svg, quote=True)}">'
        f"<title>{escape(v.name)} {escape(v.code)} v{v.version}</title></path>"
        for v in record.related
    ) + "".join(
        f'<path class="{"wg-rec-now" if v.current else "wg-rec-old"}" '
        f'd="{escape(v.svg, quote=True)}"><title>v{v.version} '
        f"{day(v.valid_from)} – {day(v.valid_to) if v.valid_to else t('今', 'now')}</title></path>"
        for v in versions
    )
    related_key = t("相关网格（来自或划给）", "grids its land came from or went to")
    now_key = (  # (a retired grid has none in force)
        f'<span class="wg-key wg-key-now"></span>{t("现行边界", "in force")} '
        if any(v.current for v in versions)
        else ""
    )
    drawing = f"""<figure class="wg-rec-map">
    <svg id="grid-outlines" viewBox="{x:.1f} {y:.1f} {w:.1f} {h:.1f}"
      preserveAspectRatio="xMidYMid meet" role="img"
      aria-label="{t("网格各版本边界", "the grid's outlines, version by version")}">{paths}</svg>
    <figcaption>{now_key}<span class="wg-key wg-key-old"></span>{t("历史版本", "earlier versions")}
      <span class="wg-key wg-key-related"></span>{related_key}</figcaption>
  </figure>"""
    first_loaded = t("初始划定（导入）", "as first loaded")

    def drawn_by(v) -> str:  # type: ignore[no-untyped-def]
        if not v.edited_by:
            return ""
        return f"<br><span class=wg-edit-by>{person(v.edited_by_name, v.edited_by)}</span>"

    rows = "".join(
        ('<tr class="wg-rec-current">' if v.current else "<tr>")
        + f"<td>v{v.version}</td><td>{day(v.valid_from)}</td>"
        f"<td>{day(v.valid_to) if v.valid_to else t('现行', 'in force')}</td>"
        f"<td>{escape(v.name)}</td><td>{v.area_km2:.3f}</td><td>{size(v.households)}</td>"
        f"<td>{size(v.population)}</td>"
        f"<td>{escape(v.edit_title) if v.edit_title else first_loaded}"
        f"{drawn_by(v)}</td>"
        f"<td>{grids(v.derived_from)}</td><td>{grids(v.taken_over_by)}</td>"
        f"<td>{v.cases:,}</td></tr>"
        for v in reversed(versions)
    )
    actions = [
        (t("网格地图", "Grid map"), f"/maps/grid/{quote(record.code, safe='')}"),
        (t("网格台账", "Grid ledger"), f"/grids?q={quote(record.code, safe='')}"),
    ]
    if planner and now is not None:
        there = f"/maps/planner?village={quote(record.code[:12], safe='')}"
        actions.append((t("调整网格", "Redraw"), there))
    if now is None:  # (no map of it, nor a row in the ledger: its village's ledger)
        village = f"/grids?region={quote(record.code[:12], safe='')}"
        actions = [(t("本村（社区）网格台账", "The village's grid ledger"), village)]
    action_links = " ".join(f'<a href="{escape(h, quote=True)}">{escape(label)}</a>'
                            for label, h in actions)  # fmt: skip
    here = f"/grids/{quote(record.code, safe='')}"
    head = _case_page_head(t("网格档案", "Grid record") + " · " + title, noindex=True, lang=lang)
    return f"""{head}
<body class="wg-track wg-index wg-queue">
<main>
  {language_switch(lang, here)}{nav_line(links, user, lang)}
  <h1>{t("网格档案", "Grid record")} · {escape(title)}</h1>
  <p class="wg-chips">{action_links}</p>
  {facts}
  {_staffing(record.code, choices, lang) if planner and now is not None else ""}
  {drawing}
  <h2>{t("版本沿革", "Versions")}</h2>
  <p>{
        t(
            "网格调整不改写历史：每次调整新建一个版本，调整前受理的案件仍属原版本。",
            "A redraw never rewrites history: each makes a new version, and the cases received "
            "before it stay with the version of their time.",
        )
    }</p>
  <table tabindex="0" class="wg-list wg-queue-table" id="grid-versions">
    <thead><tr><th>{t("版本", "Version")}</th><th>{t("启用", "From")}</th>
      <th>{t("停用", "To")}</th><th>{t("名称", "Name")}</th>
      <th>{t("面积（km²）", "Area (km²)")}</th>
      <th>{t("户数", "Households")}</th><th>{t("人口", "People")}</th>
      <th>{t("调整批次", "Edit set")}</th><th>{t("土地来自", "Land from")}</th>
      <th>{t("划给", "Land to")}</th><th>{t("期间案件", "Cases")}</th></tr></thead>
    <tbody>{rows}</tbody>
  </table>
</main>
</body>
</html>
"""


def _open_link(code: str, n: int) -> str:
    """A grid's open cases, a link to them in the in-tray (the centers below included)."""
    return f'<a href="/queue?grid={quote(code, safe="")}&amp;below=true">{n}</a>' if n else "0"


def _staffing(code: str, choices: Sequence[WorkerChoice], lang: str) -> str:
    """网格员配备: the village's grid workers (and the grid's own), ticked if they are the grid's;
    saved by staffing.js."""
    t = _tr(lang)

    def item(w: WorkerChoice) -> str:
        now = t(f"负责 {w.grids} 个网格", f"{w.grids} grids now")
        code = escape(w.code, quote=True)
        roles = "".join(
            f'<option value="{r}"{" selected" if r == w.role else ""}>{role_name(r, lang)}</option>'
            for r in GRID_ROLES
        )
        return (
            f'<li><label><input type="checkbox" name="worker" value="{code}"'
            f"{' checked' if w.assigned else ''}> {escape(w.name)} "
            f"<small>{escape(w.code)} · {now}</small></label> "
            f'<select name="role" data-worker="{code}" aria-label="{t("分工", "Part")}"'
            f"{'' if w.assigned else ' disabled'}>"
            f'<option value="">{t("（自动）", "(automatic)")}</option>{roles}</select></li>'
        )

    items = "".join(map(item, choices)) or (
        f"<li>{t('本村（社区）没有网格员。', 'No grid worker in this village.')}</li>"
    )
    confirm = t(
        "不勾选任何网格员，本网格将没有网格员（网格台账标为「未配网格员」）。确定吗？",
        "With nobody ticked the grid will have no grid worker (the ledger marks it). Go on?",
    )
    return f"""<section id="grid-staffing" data-grid="{escape(code, quote=True)}"
    data-confirm-empty="{escape(confirm, quote=True)}"
    data-saved="{escape(t("已保存。", "Saved."), quote=True)}">
    <h2>{t("网格员配备", "Grid workers")}</h2>
    <p>{
        t(
            "勾选本网格的网格员（本村（社区）的网格员，以及本网格现有的），并选定分工"
            "（一主任三大员：网格长一名，网格管理员、信息员、监督员若干；不选则原分工不变，"
            "新配的网格员在没有网格长时任网格长，否则任网格管理员）。保存后网格员名册、"
            "网格台账和地图即时更新；每次调整记入审计日志。",
            "Tick the grid's workers (this village's, and those it has now) and choose each "
            "one's part (one grid chief; managers, informants and supervisors; left automatic, "
            "a worker keeps their part, and a newcomer is the chief of a team without one, else "
            "a manager). Once saved, the roster, the ledger and the maps follow at once, and "
            "the audit log records it.",
        )
    }</p>
    <ul class="wg-staff">{items}</ul>
    <button type="button" id="staffing-save">{t("保存", "Save")}</button>
    <span id="staffing-result" role="status"></span>
  </section>
  <script src="{asset_url("session.js")}" defer></script>
  <script src="{asset_url("staffing.js")}" defer></script>"""
