"""Lists as spreadsheets, for the desks that pass them on in Excel or WPS (导出).

A workbook rather than CSV: Excel on a Chinese Windows reads a CSV as GBK unless it starts with a
byte-order mark, and turns a 20-digit case code into ``9.90102E+19`` whatever the encoding.  Here
codes are text cells, times are real dates (sortable, filterable) in Beijing time, and the header
row stays in view.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from io import BytesIO

from gis.audit import Entry
from gis.cases import KIND_NAMES, SOURCE_NAMES
from gis.ledger import RECENT_DAYS, Ledger
from gis.report import column_width, workbook_bytes
from gis.roles import role_name
from gis.workers import ACTIVE_DAYS, Roster
from gis.workflow import STATE_NAMES, STATE_NAMES_EN, Queue, QueueDetail
from gis.worktime import SHANGHAI
from maps.pages import (
    AUDIT_ACTIONS,
    AUDIT_ACTIONS_EN,
    SEVERITY_NAMES,
    SEVERITY_NAMES_EN,
    audit_detail,
)

#: the most cases one export holds (a center's in-tray is far smaller; a larger list is narrowed
#: with the queue's filters first)
EXPORT_MAX = 20_000

QUEUE_HEADERS = {
    "zh": ("案件编号", "类型", "类别", "严重程度", "状态", "来源", "网格编码", "网格名称",
           "村（社区）", "负责中心", "登记时间", "办理时限", "是否超期", "剩余工作小时", "核查期限",
           "描述"),
    "en": ("Case", "Kind", "Category", "Severity", "Status", "Source", "Grid", "Grid name",
           "Village", "Center", "Registered", "Deadline", "Overdue", "Working hours left",
           "Verify by", "Description"),
}  # fmt: skip
#: each column's width (a CJK character counts two)
_WIDTHS = (22, 10, 16, 10, 10, 12, 17, 22, 14, 20, 17, 17, 8, 12, 17, 60)
#: the columns of times (核查期限: a resolved case's; its 是否超期 then says whether it is past)
_TIMES = (11, 12, 15)


def _cell(text: str | None) -> str | None:
    """``text`` as a worksheet takes it: control characters (from an imported description, say)
    are refused by the file format, so they go (else one case would fail the whole export)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("", text) if text else text


def _local(t: datetime | None) -> datetime | None:
    """Beijing time without a zone (a spreadsheet's cells have none)."""
    return t.astimezone(SHANGHAI).replace(tzinfo=None) if t else None


#: the row of a workbook's first item, below its title and headers (counted as they are
#: appended: ``ws.max_row`` looks at every cell, and made an export of n rows take n² steps —
#: 2,260 grid workers took 1.5 s, most of it there)
FIRST_ROW = 3


def _workbook(sheet: str, title: str, headers: tuple[str, ...]):  # type: ignore[no-untyped-def]
    """A workbook of one sheet named ``sheet``: ``title`` in bold above the bold ``headers``
    (the items follow from :data:`FIRST_ROW`)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = sheet
    ws.append([title])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(list(headers))
    for cell in ws[2]:
        cell.font = Font(bold=True)
    return wb, ws


def _finished(wb, ws, headers: tuple[str, ...], widths: tuple[int, ...]) -> bytes:  # type: ignore[no-untyped-def]
    """The workbook as bytes, readable as it opens: columns as wide as their headers (or
    ``widths``), the title, headers and first column in view, a filter on the headers."""
    from openpyxl.utils import get_column_letter

    for number, (header, width) in enumerate(zip(headers, widths, strict=True), start=1):
        ws.column_dimensions[get_column_letter(number)].width = max(width, column_width(header) + 2)
    ws.freeze_panes = "B3"
    ws.auto_filter.ref = f"A2:{get_column_letter(len(headers))}{max(ws.max_row, 2)}"
    return workbook_bytes(wb)


def queue_name(center: str | None, day: datetime, lang: str = "zh") -> str:
    """The file's name: ``待办案件-<center>-<yyyymmdd>.xlsx`` (``queue-…`` in English)."""
    who = center or ("all centers" if lang == "en" else "全部中心")
    return f"{'queue' if lang == 'en' else '待办案件'}-{who}-{day:%Y%m%d}.xlsx"


def queue_xlsx(
    q: Queue,
    *,
    title: str,
    details: Mapping[str, QueueDetail] | None = None,
    lang: str = "zh",
    category_names: Mapping[str, str] | None = None,
) -> bytes:
    """The queue ``q`` as a workbook: ``title`` (what was asked, as the page says it) above the
    cases in the page's order, one row each, with their ``details`` (place, center, what
    happened; :func:`gis.workflow.queue_details`).  Words in ``lang`` (``category_names``: the
    categories' English names by code)."""
    en = lang == "en"
    states = STATE_NAMES_EN if en else STATE_NAMES
    severities = SEVERITY_NAMES_EN if en else SEVERITY_NAMES
    names = category_names or {}
    headers = QUEUE_HEADERS["en" if en else "zh"]
    wb, ws = _workbook("queue" if en else "待办案件", title, headers)
    yes, no = ("yes", "no") if en else ("是", "否")
    for row, i in enumerate(q.items, start=FIRST_ROW):
        more = (details or {}).get(i.code)
        ws.append(
            [
                i.code,
                KIND_NAMES[i.kind][1 if en else 0],
                (names.get(i.category) or i.category_name) if en else i.category_name,
                severities.get(i.severity, i.severity),
                states.get(i.status, i.status),
                SOURCE_NAMES[i.source][1 if en else 0],
                i.grid_code or ("outside the grids" if en else "未落入网格"),
                _cell(i.grid_name),  # (names stay Chinese: they are the places' own)
                _cell(more.village) if more else None,
                _cell(more.center) if more else None,
                _local(i.received_at),
                _local(i.deadline),
                (yes if i.overdue else no) if i.deadline else "",
                round(i.work_hours_left, 1) if i.work_hours_left is not None else None,
                _local(i.verify_due),
                _cell(more.description) if more else None,
            ]
        )
        for column in _TIMES:
            ws.cell(row, column).number_format = "yyyy-mm-dd hh:mm"
        ws.cell(row, 1).number_format = "@"  # text: all 20 digits, never 9.9E+19
    return _finished(wb, ws, headers, _WIDTHS)


ROSTER_HEADERS = {
    "zh": ("网格员", "工号", "电话", "所属村（社区）", "负责网格", "网格名称", "账号",
           f"近{ACTIVE_DAYS}天上报", "最近上报", "网格内未办结", f"近{ACTIVE_DAYS}天就地化解",
           f"近{ACTIVE_DAYS}天巡查天数", "最近巡查", "网格分工",
           f"近{ACTIVE_DAYS}天巡查里程（公里）", "网格内待核查", "其中核查超期"),
    "en": ("Worker", "Code", "Phone", "Village", "Grids", "Grid names", "Account",
           f"Reports ({ACTIVE_DAYS} days)", "Last report", "Open in grids",
           f"Settled on the spot ({ACTIVE_DAYS} days)", f"Days on patrol ({ACTIVE_DAYS} days)",
           "Last patrol", "Part in the team", f"Route walked ({ACTIVE_DAYS} days, km)",
           "To verify in grids", "Of those, overdue"),
}  # fmt: skip
_ROSTER_WIDTHS = (10, 18, 14, 14, 34, 40, 14, 10, 17, 10, 12, 12, 17, 14, 12, 10, 10)


def roster_name(region: str, day: datetime, lang: str = "zh") -> str:
    """The file's name: ``网格员-<region>-<yyyymmdd>.xlsx`` (``grid-workers-…`` in English)."""
    return f"{'grid-workers' if lang == 'en' else '网格员'}-{region}-{day:%Y%m%d}.xlsx"


def roster_xlsx(roster: Roster, *, title: str, lang: str = "zh") -> bytes:
    """The grid workers ``roster`` as a workbook: ``title`` above them, one row each, in the
    page's order; codes and phones as text, the last report a Beijing-time date."""
    headers = ROSTER_HEADERS["en" if lang == "en" else "zh"]
    wb, ws = _workbook("grid workers" if lang == "en" else "网格员", title, headers)
    for row, w in enumerate(roster.workers, start=FIRST_ROW):
        ws.append([
            _cell(w.name), w.code, w.phone, _cell(w.village), " ".join(w.grids),
            _cell("、".join(w.grid_names)), w.username, w.reported, _local(w.last_report),
            w.open_in_grids, w.settled, w.patrol_days, _local(w.last_patrol),
            ("、" if lang != "en" else ", ").join(role_name(r, lang) for r in w.roles),
            round(w.walked_m / 1000, 2), w.to_verify, w.verify_late,
        ])  # fmt: skip
        for column in (2, 3, 5):  # (text: a phone's or a code's leading zeros and digits kept)
            ws.cell(row, column).number_format = "@"
        ws.cell(row, 9).number_format = "yyyy-mm-dd hh:mm"
        ws.cell(row, 13).number_format = "yyyy-mm-dd hh:mm"
    return _finished(wb, ws, headers, _ROSTER_WIDTHS)


LEDGER_HEADERS = {
    "zh": ("网格编码", "网格名称", "所属村（社区）", "村（社区）编码", "乡镇（街道）", "户数",
           "人口", "面积（平方公里）", "网格员", "网格员工号", "在办案件", "其中超期",
           f"近{RECENT_DAYS}天案件", f"近{RECENT_DAYS}天巡查天数", "现行版本", "划定时间"),
    "en": ("Grid", "Grid name", "Village", "Village code", "Township", "Households", "People",
           "Area (km²)", "Grid workers", "Worker codes", "Open cases", "Overdue",
           f"Cases ({RECENT_DAYS} days)", f"Days patrolled ({RECENT_DAYS} days)", "Version",
           "Drawn on"),
}  # fmt: skip
_LEDGER_WIDTHS = (17, 22, 14, 14, 14, 8, 8, 10, 20, 30, 8, 8, 10, 10, 8, 17)


def ledger_name(region: str, day: datetime, lang: str = "zh") -> str:
    """The file's name: ``网格台账-<region>-<yyyymmdd>.xlsx`` (``grid-ledger-…`` in English)."""
    return f"{'grid-ledger' if lang == 'en' else '网格台账'}-{region}-{day:%Y%m%d}.xlsx"


def ledger_xlsx(ledger: Ledger, *, title: str, lang: str = "zh") -> bytes:
    """The grids of ``ledger`` as a workbook: ``title`` above them, one row each, in the page's
    order; codes as text, the area to the hectare, the time drawn a Beijing-time date (the days
    patrolled empty where the caller may not read check-ins)."""
    headers = LEDGER_HEADERS["en" if lang == "en" else "zh"]
    wb, ws = _workbook("grid ledger" if lang == "en" else "网格台账", title, headers)
    for row, g in enumerate(ledger.grids, start=FIRST_ROW):
        ws.append([
            g.code, _cell(g.name), _cell(g.village), g.village_code, _cell(g.township),
            g.households, g.population, round(g.area_km2, 2),
            _cell(", ".join(f"{name} ({role_name(role, 'en')})" for _, name, role in g.workers)
                  if lang == "en"
                  else "、".join(f"{name}（{role_name(role)}）" for _, name, role in g.workers)),
            " ".join(code for code, _, _ in g.workers), g.open_cases, g.overdue, g.recent,
            g.patrol_days, g.version, _local(g.valid_from),
        ])  # fmt: skip
        for column in (1, 4, 10):  # (text: all the digits of a code)
            ws.cell(row, column).number_format = "@"
        ws.cell(row, 16).number_format = "yyyy-mm-dd hh:mm"
    return _finished(wb, ws, headers, _LEDGER_WIDTHS)


AUDIT_HEADERS = {
    "zh": ("时间", "用户", "操作", "操作代码", "对象", "结果", "来源地址", "详情"),
    "en": ("Time", "User", "Action", "Action code", "Object", "Result", "Source address",
           "Detail"),
}  # fmt: skip
_AUDIT_WIDTHS = (20, 18, 20, 20, 30, 8, 16, 60)


def audit_name(day: datetime, lang: str = "zh") -> str:
    """The file's name: ``审计日志-<yyyymmdd>.xlsx`` (``audit-log-…`` in English)."""
    return f"{'audit-log' if lang == 'en' else '审计日志'}-{day:%Y%m%d}.xlsx"


def audit_xlsx(entries: Iterable[Entry], *, title: str, lang: str = "zh") -> bytes:
    """The audit trail's ``entries`` (newest first) as a workbook: ``title``
    above them, one row each, times in Beijing time, a failure's reason in words.

    Written as it goes (openpyxl's write-only mode: 200,000 entries in a few seconds, without
    holding them all).  What an entry holds may be anyone's text (a failed login's user name is
    what was typed): a cell beginning with ``=`` stays text, never a formula
    (:func:`gis.report.workbook_bytes` does the same for the other workbooks)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    en = lang == "en"
    actions = AUDIT_ACTIONS_EN if en else AUDIT_ACTIONS
    ok, failed = ("success", "failed") if en else ("成功", "失败")
    headers = AUDIT_HEADERS["en" if en else "zh"]
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("audit log" if en else "审计日志")
    for number, (header, width) in enumerate(zip(headers, _AUDIT_WIDTHS, strict=True), start=1):
        ws.column_dimensions[get_column_letter(number)].width = max(width, column_width(header) + 2)
    ws.freeze_panes = "B3"

    def styled(value: object, font: Font | None = None, number_format: str | None = None):  # type: ignore[no-untyped-def]
        cell = WriteOnlyCell(ws, value=value)
        if cell.data_type == "f":
            cell.data_type = "s"
        if font is not None:
            cell.font = font
        if number_format is not None:
            cell.number_format = number_format
        return cell

    def text(value: str | None) -> object:
        value = _cell(value)
        return styled(value) if value and value.startswith("=") else value

    ws.append([styled(title, Font(bold=True, size=14))])
    bold = Font(bold=True)
    ws.append([styled(h, bold) for h in headers])
    rows = 2  # (the last one written)
    for e in entries:
        rows += 1
        ws.append([
            styled(_local(e.at), number_format="yyyy-mm-dd hh:mm:ss"), text(e.username),
            actions.get(e.action, e.action), text(e.action), text(e.object),
            ok if e.success else failed, e.source_ip, text(audit_detail(e.detail, lang)),
        ])  # fmt: skip
    ws.auto_filter.ref = f"A2:{get_column_letter(len(headers))}{rows}"  # (written at the end)
    out = BytesIO()
    wb.save(out)
    return out.getvalue()
