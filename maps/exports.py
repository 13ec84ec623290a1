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
from gis.report import column_width
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


def _local(t: datetime | None) -> datetime | None:
    """Beijing time without a zone (a spreadsheet's cells have none)."""
    return t.astimezone(SHANGHAI).replace(tzinfo=None) if t else None


class _Sheet:
    """A workbook of one sheet named ``sheet``, written as it goes (openpyxl's write-only mode:
    about three times as fast as a workbook held cell by cell, which took 1.2 s for a township's
    4,500 open cases): ``title`` in bold above the bold ``headers``, then a row per
    :meth:`append`; columns as wide as their headers (or ``widths``), the title, headers and first
    column in view, a filter on the headers.  ``formats``: a number format by column (1 is the
    first): ``@`` keeps a code's or a phone's digits as text, a date format shows a time.

    What a row holds may be anyone's text (a description, a grid's name, an imported row): a
    control character, which the file format refuses, goes (one case would otherwise fail the
    whole export); a text beginning with ``=`` stays text, never a formula that would run in the
    reader's spreadsheet (:func:`gis.report.workbook_bytes` does the same for the other
    workbooks)."""

    def __init__(
        self,
        sheet: str,
        title: str,
        headers: tuple[str, ...],
        widths: tuple[int, ...],
        formats: Mapping[int, str] | None = None,
    ) -> None:
        from openpyxl import Workbook
        from openpyxl.styles import Font
        from openpyxl.utils import get_column_letter

        self._wb = Workbook(write_only=True)
        self._ws = self._wb.create_sheet(sheet)
        for number, (header, width) in enumerate(zip(headers, widths, strict=True), start=1):
            letter = get_column_letter(number)
            self._ws.column_dimensions[letter].width = max(width, column_width(header) + 2)
        self._ws.freeze_panes = "B3"
        self._last = get_column_letter(len(headers))
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        self._illegal = ILLEGAL_CHARACTERS_RE
        #: each column's number format, or None
        self._by_column = [(formats or {}).get(n) for n in range(1, len(headers) + 1)]
        # (the title names the filters: what was typed into them, too)
        self._ws.append([self._styled(self._illegal.sub("", title), Font(bold=True, size=14))])
        bold = Font(bold=True)
        self._ws.append([self._styled(h, bold) for h in headers])
        self._rows = 2  # (the last one written)

    def _styled(self, value: object, font: object = None, number_format: str | None = None):  # type: ignore[no-untyped-def]
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(self._ws, value=value)
        if cell.data_type == "f":
            cell.data_type = "s"
        if font is not None:
            cell.font = font
        if number_format is not None:
            cell.number_format = number_format
        return cell

    def append(self, values: Iterable[object]) -> None:
        row: list[object] = []
        for value, form in zip(values, self._by_column, strict=True):
            if isinstance(value, str):
                value = self._illegal.sub("", value)
                if value.startswith("="):
                    row.append(self._styled(value, number_format=form))
                    continue
            row.append(value if form is None else self._styled(value, number_format=form))
        self._ws.append(row)
        self._rows += 1

    def finished(self) -> bytes:
        """The workbook as the bytes of its file."""
        self._ws.auto_filter.ref = f"A2:{self._last}{self._rows}"  # (written at the end)
        out = BytesIO()
        self._wb.save(out)
        return out.getvalue()


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
    # (text: all 20 digits of a code, never 9.9E+19)
    formats = {1: "@"} | dict.fromkeys(_TIMES, "yyyy-mm-dd hh:mm")
    sheet = _Sheet("queue" if en else "待办案件", title, headers, _WIDTHS, formats)
    yes, no = ("yes", "no") if en else ("是", "否")
    for i in q.items:
        more = (details or {}).get(i.code)
        sheet.append(
            [
                i.code,
                KIND_NAMES[i.kind][1 if en else 0],
                (names.get(i.category) or i.category_name) if en else i.category_name,
                severities.get(i.severity, i.severity),
                states.get(i.status, i.status),
                SOURCE_NAMES[i.source][1 if en else 0],
                i.grid_code or ("outside the grids" if en else "未落入网格"),
                i.grid_name,  # (names stay Chinese: they are the places' own)
                more.village if more else None,
                more.center if more else None,
                _local(i.received_at),
                _local(i.deadline),
                (yes if i.overdue else no) if i.deadline else "",
                round(i.work_hours_left, 1) if i.work_hours_left is not None else None,
                _local(i.verify_due),
                more.description if more else None,
            ]
        )
    return sheet.finished()


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
    # (text: a phone's or a code's leading zeros and digits kept)
    formats = dict.fromkeys((2, 3, 5), "@") | dict.fromkeys((9, 13), "yyyy-mm-dd hh:mm")
    sheet = _Sheet("grid workers" if lang == "en" else "网格员", title, headers,
                   _ROSTER_WIDTHS, formats)  # fmt: skip
    for w in roster.workers:
        sheet.append([
            w.name, w.code, w.phone, w.village, " ".join(w.grids),
            ("、" if lang != "en" else ", ").join(w.grid_names),
            w.username, w.reported, _local(w.last_report), w.open_in_grids, w.settled,
            w.patrol_days, _local(w.last_patrol),
            ("、" if lang != "en" else ", ").join(role_name(r, lang) for r in w.roles),
            round(w.walked_m / 1000, 2), w.to_verify, w.verify_late,
        ])  # fmt: skip
    return sheet.finished()


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
    # (text: all the digits of a code)
    formats = dict.fromkeys((1, 4, 10), "@") | {16: "yyyy-mm-dd hh:mm"}
    sheet = _Sheet("grid ledger" if lang == "en" else "网格台账", title, headers,
                   _LEDGER_WIDTHS, formats)  # fmt: skip
    for g in ledger.grids:
        sheet.append([
            g.code, g.name, g.village, g.village_code, g.township, g.households, g.population,
            round(g.area_km2, 2),
            ", ".join(f"{name} ({role_name(role, 'en')})" for _, name, role in g.workers)
            if lang == "en"
            else "、".join(f"{name}（{role_name(role)}）" for _, name, role in g.workers),
            " ".join(code for code, _, _ in g.workers), g.open_cases, g.overdue, g.recent,
            g.patrol_days, g.version, _local(g.valid_from),
        ])  # fmt: skip
    return sheet.finished()


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

    Written as it goes (:class:`_Sheet`: 200,000 entries in a few seconds, without holding them
    all).  What an entry holds may be anyone's text (a failed login's user name is what was
    typed): a cell beginning with ``=`` stays text, never a formula."""
    en = lang == "en"
    actions = AUDIT_ACTIONS_EN if en else AUDIT_ACTIONS
    ok, failed = ("success", "failed") if en else ("成功", "失败")
    headers = AUDIT_HEADERS["en" if en else "zh"]
    sheet = _Sheet("audit log" if en else "审计日志", title, headers, _AUDIT_WIDTHS,
                   {1: "yyyy-mm-dd hh:mm:ss"})  # fmt: skip
    for e in entries:
        sheet.append([
            _local(e.at), e.username, actions.get(e.action, e.action), e.action, e.object,
            ok if e.success else failed, e.source_ip, audit_detail(e.detail, lang),
        ])  # fmt: skip
    return sheet.finished()
