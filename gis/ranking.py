"""统计排名: a region's roll-up over a month, a quarter, a year or any period, with its child
regions ranked by one figure (月度、季度、年度考核).

The figures and their definitions are the roll-up's (:mod:`gis.stats`: cases counted by the time
they were received), the columns the daily roll-up's (:data:`gis.report.COLUMNS`).  A figure
ranks the better value first: resolved, on time, satisfied and settled on the spot high;
extended, reworked and hours of handling low; and the counts most first.  Equal values as shown
(a rate to 0.1 %) share a place (1, 2, 2, 4).  Every child region is listed, those without a
value for the figure (no case resolved, none rated) last and without a place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from html import escape
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import InvalidInput
from gis.report import (
    COLUMNS,
    REPORT_CSS,
    Column,
    column_width,
    header_html,
    scrolled_table,
    workbook_bytes,
    write_report,
)
from gis.scope import Scope
from gis.stats import Figures, Stats, stats
from gis.worktime import SHANGHAI


@dataclass(frozen=True)
class RankBy:
    """A figure to rank by: its key (``?rank=``), its column and whether more is better."""

    key: str
    column: Column
    more_is_better: bool


def _by(key: str, header: str, more_is_better: bool = True) -> RankBy:
    return RankBy(key, next(c for c in COLUMNS if c.zh == header), more_is_better)


#: the figures a ranking may go by, in the order of the columns
RANKS: dict[str, RankBy] = {
    r.key: r
    for r in (
        _by("cases", "受理案件"),
        _by("resolved", "已办结"),
        _by("closed", "已结案"),
        _by("on_time", "按期办结"),
        _by("resolution_rate", "办结率"),
        _by("on_time_rate", "按期结案率"),
        _by("extension_rate", "延期率", more_is_better=False),
        _by("rework_rate", "返工率", more_is_better=False),
        _by("handling_hours", "平均办理时长（工作小时）", more_is_better=False),
        _by("rated", "评价数"),
        _by("score", "平均评分"),
        _by("satisfaction_rate", "满意率"),
        _by("on_site", "就地化解"),
        _by("on_site_rate", "就地化解率"),
    )
}
#: the default: the first figure of an assessment (按期结案率)
DEFAULT_RANK = "on_time_rate"


@dataclass(frozen=True)
class RankedRow:
    place: int | None  # None: no value for the figure
    code: str
    name: str
    figures: Figures


@dataclass(frozen=True)
class Ranking:
    stats: Stats
    by: RankBy
    rows: tuple[RankedRow, ...]  # the child regions, the first place first
    #: the categories' names by code, Chinese and English
    category_names: dict[str, tuple[str, str]]

    @property
    def first_day(self) -> date:
        return self.stats.start.astimezone(SHANGHAI).date()

    @property
    def last_day(self) -> date:
        return (self.stats.end.astimezone(SHANGHAI) - timedelta(days=1)).date()


def rank_by(key: str | None) -> RankBy:
    """The figure ``key`` (default :data:`DEFAULT_RANK`); an unknown one is a 422 naming those
    there are."""
    found = RANKS.get(key or DEFAULT_RANK)
    if found is None:
        raise InvalidInput(
            f"未知的排名指标 {key!r}；可用：{'、'.join(RANKS)}。",
            f"Unknown figure to rank by {key!r}; use one of: {', '.join(RANKS)}.",
            field="rank",
        )
    return found


def _places(rows: list[tuple[str, str, Figures]], by: RankBy) -> list[RankedRow]:
    """``rows`` in rank order with their places (ties share one; no value: last, no place)."""

    def value(f: Figures) -> float | None:  # as shown (a rate to 0.1 %): equal shown, equal place
        v: Any = by.column.get(f)
        if v is None:
            return None
        return float(by.column.show(v).rstrip("%")) if by.column.rate else float(v)

    valued = [(value(f), code, name, f) for code, name, f in rows]
    ranked = sorted(
        (r for r in valued if r[0] is not None),
        key=lambda r: (-r[0] if by.more_is_better else r[0], r[1]),  # type: ignore[operator]
    )
    out: list[RankedRow] = []
    for i, (v, code, name, f) in enumerate(ranked):
        tied = bool(out) and value(out[-1].figures) == v
        out.append(RankedRow(out[-1].place if tied else i + 1, code, name, f))
    out += [RankedRow(None, code, name, f) for v, code, name, f in valued if v is None]
    return out


_NO_CASES = Figures(0, 0, 0, 0, 0, 0, None, 0, None, 0)


def ranking(
    session: Session, scope: Scope, region: str | None, first: date, last: date, by: RankBy
) -> Ranking:
    """The roll-up of ``region`` (default: the caller's) for the days ``first`` to ``last``
    (Asia/Shanghai, both included), its child regions ranked ``by`` a figure."""
    if last < first:
        raise InvalidInput(
            f"结束日期 {last} 早于开始日期 {first}，请调换或重新选择。",
            f"The last day {last} is before the first {first}; swap them or choose again.",
            field="end",
        )
    s = stats(
        session,
        scope,
        region,
        datetime.combine(first, time(0), SHANGHAI),
        datetime.combine(last + timedelta(days=1), time(0), SHANGHAI),
    )
    # every child region in the jurisdiction, those without a case too (a ranking names them all)
    children = {
        code: (name, s.children[code][1] if code in s.children else _NO_CASES)
        for code, name in session.execute(
            text(f"""
            SELECT r.code, r.name FROM region r JOIN region p ON p.id = r.parent_id
            WHERE p.code = :code AND {scope.region_condition("r")}
        """),
            {"code": s.region},
        ).all()
    }
    for code, (name, f) in s.children.items():  # (a child of another layout, say)
        children.setdefault(code, (name, f))
    rows = [(code, name, f) for code, (name, f) in sorted(children.items())]
    categories = {
        r.code: (r.name_zh, r.name_en)
        for r in session.execute(text("SELECT code, name_zh, name_en FROM category"))
    }
    return Ranking(s, by, tuple(_places(rows, by)), categories)


def presets(today: date) -> list[tuple[str, str, date, date]]:
    """The periods a leader asks for, as (Chinese, English, first day, last day): this month,
    last month, this quarter, this year and last year so far as they have gone, the last 30
    days."""
    month = today.replace(day=1)
    last_month_end = month - timedelta(days=1)
    quarter = today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
    year = today.replace(month=1, day=1)
    return [
        ("本月", "This month", month, today),
        ("上月", "Last month", last_month_end.replace(day=1), last_month_end),
        ("本季度", "This quarter", quarter, today),
        ("本年度", "This year", year, today),
        ("上一年度", "Last year", year.replace(year=year.year - 1), year - timedelta(days=1)),
        ("近30天", "Last 30 days", today - timedelta(days=29), today),
    ]


WORDS = {
    "zh": {
        "title": "{name} 统计排名",
        "period": "{first:%Y年%m月%d日} 至 {last:%Y年%m月%d日}",
        "note": "（按受理时间统计，口径同每日汇总：按期结案率 = 按期办结 ÷ 已办结，"
        "延期率 = 延期案件 ÷ 受理案件，返工率 = 重启案件 ÷ 已结案，"
        "就地化解率 = 网格员就地化解 ÷ 受理案件；并入他案的案件不重复统计）",
        "ranked": "下级区划排名 · {figure}{order}",
        "better_high": "（高者在前）",
        "better_low": "（低者在前）",
        "place": "名次",
        "code": "区划代码",
        "region": "区划",
        "total": "{name}（合计）",
        "no_children": "该区划没有下级区划。",
        "unranked": "“—”：该项无数据（如无已办结或无评价的案件），不参加排名。",
        "categories": "按类别",
        "category": "类别",
        "count": "受理案件",
        "share": "占比",
        "no_cases": "该时段没有受理案件。",
        "from": "开始日期",
        "to": "结束日期",
        "by": "排名指标",
        "go": "查询",
        "header_link": "点击列名可按该项排名",
        "sheet": "排名",
        "name": "统计排名",
    },
    "en": {
        "title": "{name} period figures and ranking",
        "period": "{first:%Y-%m-%d} to {last:%Y-%m-%d}",
        "note": " (counted by the time a case was received, as in the daily roll-up: on-time "
        "rate = resolved on time ÷ resolved, extension rate = extended ÷ cases, rework rate = "
        "reopened ÷ closed, settled-on-the-spot rate = settled on the spot ÷ cases; a case merged "
        "into another is counted once)",
        "ranked": "Child regions ranked by {figure}{order}",
        "better_high": " (highest first)",
        "better_low": " (lowest first)",
        "place": "Place",
        "code": "Region code",
        "region": "Region",
        "total": "{name} (total)",
        "no_children": "This region has no child regions.",
        "unranked": "“—”: no value (no case resolved, or none rated); not ranked.",
        "categories": "By category",
        "category": "Category",
        "count": "Cases received",
        "share": "Share",
        "no_cases": "No case was received in the period.",
        "from": "First day",
        "to": "Last day",
        "by": "Rank by",
        "go": "Show",
        "header_link": "click a column's name to rank by it",
        "sheet": "Ranking",
        "name": "ranking",
    },
}


def _words(lang: str) -> dict[str, str]:
    return WORDS["en" if lang == "en" else "zh"]


def _categories(r: Ranking, lang: str) -> list[tuple[str, int, float]]:
    """The region's cases by category, most first: name in ``lang``, count, share."""
    total = r.stats.total.cases
    names = 1 if lang == "en" else 0
    return sorted(
        (
            (r.category_names.get(k, (k, k))[names], n, n / total if total else 0.0)
            for k, n in r.stats.by_category.items()
        ),
        key=lambda c: (-c[1], c[0]),
    )


def ranking_name(r: Ranking, lang: str = "zh") -> str:
    """The workbook's name without suffix: ``统计排名-<region>-<first>-<last>``."""
    return f"{_words(lang)['name']}-{r.stats.region}-{r.first_day:%Y%m%d}-{r.last_day:%Y%m%d}"


def ranking_html(
    r: Ranking,
    *,
    head: str = "",
    top: str = "",
    href: Any = None,
    lang: str = "zh",
) -> str:
    """The ranking as a printable page.  ``href(region=…, rank=…)`` gives a link to another
    ranking of the same period (a child region's, or by another figure); ``top`` goes above the
    title (the menu, the periods and the form)."""
    w = _words(lang)
    s = r.stats

    def header(key: str | None, c: Column) -> str:
        label = c.header_cell(lang)
        if key is None or href is None:
            return f"<th>{label}</th>"
        mine = ' class="wg-rank-by" aria-sort="{}"'.format(
            "descending" if r.by.more_is_better else "ascending"
        )
        link = escape(href(region=s.region, rank=key), quote=True)
        return f'<th{mine if key == r.by.key else ""}><a href="{link}">{label}</a></th>'

    keys = {id(b.column): k for k, b in RANKS.items()}
    heads = "".join(header(keys.get(id(c)), c) for c in COLUMNS)

    def cells(f: Figures) -> str:
        return "".join(
            f"<td{' class=wg-rank-by' if c is r.by.column else ''}>{escape(c.show(c.get(f)))}</td>"
            for c in COLUMNS
        )

    def name_cell(code: str, name: str) -> str:
        if href is None:
            return escape(name)
        link = escape(href(region=code, rank=r.by.key), quote=True)
        return f'<a href="{link}">{escape(name)}</a>'

    total = w["total"].format(name=s.region_name)
    body = f"<tr><td></td><td>{escape(s.region)}</td><td>{escape(total)}</td>{cells(s.total)}</tr>"
    body += "".join(
        f'<tr data-code="{escape(row.code)}"><td>{row.place if row.place else "—"}</td>'
        f"<td>{escape(row.code)}</td><td>{name_cell(row.code, row.name)}</td>"
        f"{cells(row.figures)}</tr>"
        for row in r.rows
    )
    order = w["better_high" if r.by.more_is_better else "better_low"]
    table = scrolled_table(
        "wg-ranking",
        f"<th>{header_html(w['place'])}</th><th>{header_html(w['code'])}</th>"
        f"<th>{header_html(w['region'])}</th>{heads}",
        body,
    )
    notes = [w["unranked"]] if any(row.place is None for row in r.rows) else []
    if not r.rows:
        notes.append(w["no_children"])
    categories = _categories(r, lang)
    category_table = (
        scrolled_table(
            "wg-categories",
            f"<th>{header_html(w['category'])}</th><th>{header_html(w['count'])}</th>"
            f"<th>{header_html(w['share'])}</th>",
            "".join(
                f"<tr><td>{escape(name)}</td><td>{n}</td><td>{share:.1%}</td></tr>"
                for name, n, share in categories
            ),
        )
        if categories
        else f"<p>{escape(w['no_cases'])}</p>"
    )
    title = escape(w["title"].format(name=s.region_name))
    period = escape(w["period"].format(first=r.first_day, last=r.last_day))
    figure = escape(w["ranked"].format(figure=r.by.column.header(lang), order=order))
    return f"""<!DOCTYPE html>
<html lang="{"en" if lang == "en" else "zh-CN"}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} {r.first_day:%Y-%m-%d}–{r.last_day:%Y-%m-%d}</title>
<style>
{REPORT_CSS}
.wg-ranking td:nth-child(2), .wg-ranking td:nth-child(3), .wg-ranking th:nth-child(2),
.wg-ranking th:nth-child(3), .wg-categories td:first-child, .wg-categories th:first-child
  {{ text-align: left; }}
.wg-days a[aria-current] {{ font-weight: bold; text-decoration: none; color: inherit; }}
.wg-ranking th a {{ color: inherit; }}
.wg-rank-by {{ background: #fff3d6; font-weight: bold; }}
.wg-ranking tr:nth-child(2) td {{ background: #f2f2f2; }}
.wg-hint {{ font-weight: normal; font-size: 13px; color: #666; }}
</style>{head}</head>
<body>
{top}
<main>
<h1>{title}</h1>
<p>{period}{escape(w["note"])}</p>
<h2 id="ranking">{figure}<small class="wg-noprint"> · {escape(w["header_link"])}</small></h2>
{table}
{"".join(f'<p class="wg-hint">{escape(n)}</p>' for n in notes)}
<h2 id="categories">{w["categories"]}</h2>{category_table}
</main>
</body></html>
"""


def ranking_xlsx(r: Ranking, lang: str = "zh") -> bytes:
    """The ranking as a workbook: the ranked table, then the cases by category."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    w = _words(lang)
    s = r.stats
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = w["sheet"]
    order = w["better_high" if r.by.more_is_better else "better_low"]
    period = w["period"].format(first=r.first_day, last=r.last_day)
    ws.append([f"{w['title'].format(name=s.region_name)} · {period}"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([w["ranked"].format(figure=r.by.column.header(lang), order=order)])
    headers = [w["place"], w["code"], w["region"], *[c.header(lang) for c in COLUMNS]]
    ws.append(headers)
    rows: list[tuple[int | None, str, str, Figures]] = [
        (None, s.region, w["total"].format(name=s.region_name), s.total)
    ]
    rows += [(row.place, row.code, row.name, row.figures) for row in r.rows]
    for place, code, name, f in rows:
        ws.append([place, code, name, *[c.get(f) for c in COLUMNS]])
        for number, c in enumerate(COLUMNS, start=4):
            if c.rate:
                ws.cell(ws.max_row, number).number_format = "0.0%"
    ws.freeze_panes = "D4"
    for number, header in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(number)].width = max(8, column_width(header) + 2)
    ws.column_dimensions["B"].width = 14
    ws.column_dimensions["C"].width = 20
    ws = wb.create_sheet(w["categories"])
    ws.append([w["category"], w["count"], w["share"]])
    for name, n, share in _categories(r, lang):
        ws.append([name, n, share])
        ws.cell(ws.max_row, 3).number_format = "0.0%"
    ws.column_dimensions["A"].width = 24
    return workbook_bytes(wb)


def ranking_report(
    session: Session,
    scope: Scope,
    region: str | None,
    first: date,
    last: date,
    by: RankBy,
    out_dir: Path,
    lang: str = "zh",
) -> tuple[Ranking, Path, Path]:
    """Write ``统计排名-<region>-<first>-<last>.xlsx`` and ``.html`` into ``out_dir``, in
    ``lang``; the ranking and the two files."""
    r = ranking(session, scope, region, first, last, by)
    name = ranking_name(r, lang)
    xlsx, html = write_report(out_dir, name, ranking_xlsx(r, lang), ranking_html(r, lang=lang))
    return r, xlsx, html
