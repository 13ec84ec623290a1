"""The daily roll-up (每日一汇总): a spreadsheet and a printable page for a region and a day.

Sheets/sections: the day (cases received that day, per child region), the last 30 days (the same
figures), the safety index (平安指数) of the 30 days ending with the day, per child region, the
day's early warnings (高频线索: the cases received that day that the same place or the same
resident had raised again and again, :mod:`gis.repeats`), the grid workers and the silent ones
(网格员履职, :func:`gis.workers.activity`), and the clock's supervision of the day (reminders,
supervision letters, notices issued that day for the region's cases).  Figures and
definitions as in :mod:`gis.stats` and :mod:`gis.safety`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from html import escape
from io import BytesIO
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.cases import KIND_NAMES, SOURCE_NAMES
from gis.english import one_said_once
from gis.errors import InvalidInput
from gis.repeats import REPEAT_DAYS, REPEAT_M
from gis.safety import SafetyIndex, safety_index
from gis.scope import Scope
from gis.stats import LEVEL_COLUMN, TREND_WEEKS, Figures, Stats, Week, stats, weekly
from gis.workers import ACTIVE_DAYS, Activity, activity
from gis.workflow import STATE_NAMES, STATE_NAMES_EN, not_merged_sql, open_sql, unplaced_sql
from gis.worktime import SHANGHAI


@dataclass(frozen=True)
class Column:
    """A column of the roll-up: its header in Chinese and English, its value, and whether it is
    a rate (0–1, shown as per cent; the others are counts, hours, scores)."""

    zh: str
    en: str
    get: Callable[[Figures], object]
    rate: bool = False
    #: the English header on a page, where ``en``'s long words (Satisfaction, Resolution …) made
    #: the region table 1,140 px wide on a desk's 1,024 px screen; ``en`` is its ``title``.
    #: (Chinese breaks between any two words; workbooks and the command line say ``en``.)
    short_en: str | None = None
    #: decimals shown (a column of hours or scores: 4.40 under 4.41, not 4.4)
    digits: int | None = None

    def header(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh

    def header_cell(self, lang: str) -> str:
        """The header as a page's table cell shows it (HTML; a short English one explained)."""
        if lang == "en" and self.short_en:
            return f'<abbr title="{escape(self.en, quote=True)}">{escape(self.short_en)}</abbr>'
        return header_html(self.header(lang))

    def show(self, value: object) -> str:
        """``value`` as a page shows it: a rate as per cent, nothing as a dash."""
        if value is None:
            return "—"
        if self.rate:
            return f"{float(value):.1%}"  # type: ignore[arg-type]
        if self.digits is not None:
            return f"{float(value):.{self.digits}f}"  # type: ignore[arg-type]
        return str(value)


def _rate(zh: str, en: str, key: str, short_en: str) -> Column:
    """A column of one of the figures' rates (``Figures.rates[key]``)."""
    return Column(zh, en, lambda f: f.rates[key], rate=True, short_en=short_en)


COLUMNS = [
    Column("受理案件", "Cases received", lambda f: f.cases, short_en="Cases"),
    Column("已办结", "Resolved", lambda f: f.resolved),
    Column("已结案", "Closed", lambda f: f.closed),
    Column("按期办结", "Resolved on time", lambda f: f.on_time, short_en="On time"),
    _rate("办结率", "Resolution rate", "resolution_rate", "Resolved %"),
    _rate("按期结案率", "On-time rate", "on_time_rate", "On-time %"),
    _rate("延期率", "Extension rate", "extension_rate", "Extended %"),
    _rate("返工率", "Rework rate", "rework_rate", "Rework %"),
    Column(
        "平均办理时长（工作小时）",
        "Mean handling time (working hours)",
        # (0: every case resolved within hours off the working clock, e.g. on a Sunday)
        lambda f: round(f.handling_hours, 1) if f.handling_hours is not None else None,
        short_en="Mean hours",
        digits=1,
    ),
    Column("评价数", "Ratings", lambda f: f.rated),
    Column(
        "平均评分",
        "Mean score",
        lambda f: round(float(f.score), 2) if f.score is not None else None,
        short_en="Score",
        digits=2,
    ),
    _rate("满意率", "Satisfaction rate", "satisfaction_rate", "Satisfied %"),
    Column("就地化解", "Settled on the spot", lambda f: f.on_site, short_en="On the spot"),
    _rate("就地化解率", "Settled-on-the-spot rate", "on_site_rate", "On the spot %"),
]
#: the words of the reports' longer Chinese headers: squeezed into a narrow column (a desk's
#: 1,024 px, a tablet's), a header breaks between them (受理/案件), never inside one (受理案/件):
#: REPORT_CSS keeps every word whole, brackets aside.  (English breaks between its words.)
HEADER_WORDS = {
    "".join(words): words
    for words in (
        ("区划", "代码"),
        ("受理", "案件"),
        ("按期", "办结"),
        ("按期", "结案率"),
        ("平均", "评分"),
        ("就地", "化解"),
        ("就地", "化解率"),
        ("矛盾", "纠纷"),
        ("安全", "隐患"),
        ("未上报", "占比"),
        ("当日", "巡查", "网格"),
        ("巡查", "覆盖率"),
        ("平安", "指数"),
        ("主要", "扣分"),
        ("案件", "编号"),
        ("受理", "时间"),
    )
}


def scrolled_table(css: str, head: str, body: str) -> str:
    """A table of a roll-up page (``head``: its header row's cells): on a screen too narrow for
    it, it scrolls sideways inside the page, and is in the tab order for the keys to scroll it."""
    return f'<table tabindex="0" class="{css}"><tr>{head}</tr>{body}</table>'


def header_html(label: str) -> str:
    """A report table's header as HTML: escaped, a line break allowed between its words only
    (``HEADER_WORDS``)."""
    return "<wbr>".join(escape(word) for word in HEADER_WORDS.get(label, (label,)))


STAGE_NAMES = {
    "remind": "提醒函",
    "supervise": "督办函",
    "notify": "通报",
    "remind_verify": "核查提醒",
}
STAGE_NAMES_EN = {
    "remind": "Reminders",
    "supervise": "Supervision notices",
    "notify": "Circulated notices",
    "remind_verify": "Reminders to verify",
}
#: the safety index's columns, Chinese and English
SAFETY_HEADERS = {
    "zh": ("区划代码", "区划", "平安指数", "等级", "较上周", "主要扣分"),
    "en": ("Region code", "Region", "Index", "Band", "vs last week", "Main deduction"),
}
#: the other words of the roll-up, Chinese first and English second
WORDS = {
    "zh": {
        "total": "{name}（合计）",
        "title": "{name} 每日一汇总",
        "code": "区划代码",
        "region": "区划",
        "day": "当日",
        "month": "近30天",
        "supervision": "当日督办",
        "count": "件数",
        "stage": "{name}：{n} 件",
        "by_status": "按状态",
        "by_kind": "按类型",
        "by_category": "按类别",
        "by_source": "按来源",
        "sources": "案件来源：{list}",
        "source_item": "{name} {n} 件",
        "period": "{start} 至 {end}",
        "heading": "{name} 每日一汇总 · {sheet}（{period}）",
        "note": "（按受理时间统计；比率定义：按期结案率 = 按期办结 ÷ 已办结，"
        "延期率 = 延期案件 ÷ 受理案件，返工率 = 重启案件 ÷ 已结案，"
        "就地化解率 = 网格员就地化解 ÷ 受理案件；并入他案的案件不重复统计）",
        "date": "{day:%Y年%m月%d日}",
        "sheet_day": "{day:%m月%d日}",
        "sheet_supervision": "督办",
        "safety": "平安指数（近30天）",
        "safety_status": "（已于 {at:%Y-%m-%d %H:%M} 发布）",
        "safety_provisional": "（尚未发布，按现有数据计算）",
        "warnings": "当日高频线索预警",
        "sheet_warnings": "高频线索",
        "warnings_note": "（当日受理、同一地点或同一当事人反复反映的案件；不含个人信息）",
        "warnings_more": "共 {total} 件，列出预警最多的 {n} 件。",
        "warnings_none": "当日无高频线索。",
        "unplaced": "位置待查明：{n} 件在办案件按村（社区）登记、尚无坐标，不在地图和热力图上"
        "（其中 {old} 件已超过 {days} 天）；请网格员到现场补充位置。",
        "warning_headers": "案件编号|类别|村/社区|受理时间|预警",
        "repeat_place": "同一地点（{m} 米内）{days} 天 {n} 件",
        "repeat_resident": "同一当事人 {days} 天 {n} 件",
        "warning_joiner": "；",
        "workers": f"网格员履职（近{ACTIVE_DAYS}天）",
        "sheet_workers": "网格员履职",
        "workers_note": f"（本网格近{ACTIVE_DAYS}天无网格员上报的，计为未上报；有账号而近"
        f"{ACTIVE_DAYS}天无巡查打卡的，计为未巡查；当日有巡查打卡的网格，计为当日巡查网格）",
        "worker_headers": "区划代码|区划|网格员|未上报|未上报占比|有账号|未巡查|网格|当日巡查网格|"
        "巡查覆盖率",
        "trend": f"近{TREND_WEEKS}周趋势",
        "trend_note": "（每周七天，截至当日；近几周受理的案件多在办理中，办结率自然较低）",
        "trend_headers": "周|受理案件|矛盾纠纷|安全隐患|已办结|办结率|按期结案率|满意率",
        "week": "{start:%m-%d}至{end:%m-%d}",
        "disputes": "矛盾纠纷",
        "hazards": "安全隐患",
        "chart": "近{weeks}周每周受理案件：{counts}",
    },
    "en": {
        "total": "{name} (total)",
        "title": "{name} daily roll-up",
        "code": "Region code",
        "region": "Region",
        "day": "The day",
        "month": "Last 30 days",
        "supervision": "Supervision of the day",
        "count": "Count",
        "stage": "{name}: {n}",
        "by_status": "By status",
        "by_kind": "By kind",
        "by_category": "By category",
        "by_source": "By source",
        "sources": "Where the cases came from: {list}",
        "source_item": "{name} {n}",
        "period": "{start} to {end}",
        "heading": "{name} daily roll-up · {sheet} ({period})",
        "note": " (by the time cases were received; on-time rate = resolved on time ÷ "
        "resolved, extension rate = extended cases ÷ cases received, rework rate = reopened "
        "cases ÷ closed cases, settled-on-the-spot rate = settled on the spot ÷ cases received; "
        "a case merged into another is not counted again)",
        "date": "{day:%Y-%m-%d}",
        "sheet_day": "{day:%m-%d}",
        "sheet_supervision": "Supervision",
        "safety": "Safety index (last 30 days)",
        "safety_status": " (published {at:%Y-%m-%d %H:%M})",
        "safety_provisional": " (not published yet: computed from the data as it stands)",
        "warnings": "Repeat warnings of the day",
        "sheet_warnings": "Repeat warnings",
        "warnings_note": " (cases received that day that the same place or the same resident "
        "raised again and again; no personal data)",
        "warnings_more": "{total} cases; the {n} with the most are listed.",
        "warnings_none": "No repeat warnings that day.",
        "unplaced": "Place not known yet: {n} open cases filed by their village without "
        "coordinates, not on the maps or the heat map ({old} of them for more than {days} "
        "days); grid workers give their places on the spot.",
        "warning_headers": "Case code|Category|Village|Received|Warning",
        "repeat_place": "same place (within {m} m): {n} cases in {days} days",
        "repeat_resident": "same resident: {n} cases in {days} days",
        "warning_joiner": "; ",
        "workers": f"Grid workers (last {ACTIVE_DAYS} days)",
        "sheet_workers": "Grid workers",
        "workers_note": f" (silent: no grid worker's report in their grids in {ACTIVE_DAYS} days; "
        f"not on patrol: an account and no check-in in {ACTIVE_DAYS} days; grids walked: a "
        "check-in made there on the day)",
        "worker_headers": "Region code|Region|Grid workers|Silent|Share silent|With an account|"
        "Not on patrol|Grids|Grids walked|Share walked",
        "trend": f"Last {TREND_WEEKS} weeks",
        "trend_note": " (weeks of seven days ending with the day; most cases of the latest weeks "
        "are still being handled, so fewer are resolved)",
        "trend_headers": "Week|Cases received|Disputes|Hazards|Resolved|Resolution rate|"
        "On-time rate|Satisfaction rate",
        "week": "{start:%m-%d} to {end:%m-%d}",
        "disputes": "Disputes",
        "hazards": "Hazards",
        "chart": "Cases received in each of the last {weeks} weeks: {counts}",
    },
}


#: the most early warnings a roll-up lists (the most repeated first; the total is said)
WARNINGS_MAX = 100


@dataclass(frozen=True)
class RepeatWarning:
    """A case of the day with a repeat warning (高频线索): how many cases its place and its
    resident have had in :data:`REPEAT_DAYS` days (None: no warning of that kind)."""

    code: str
    category: str
    village: str | None
    received_at: datetime
    place: int | None
    resident: int | None

    def text(self, lang: str = "zh") -> str:
        """The warnings in words, in ``lang``."""
        w = _words(lang)
        parts = [
            w[key].format(m=REPEAT_M, days=REPEAT_DAYS, n=n)
            for key, n in (("repeat_place", self.place), ("repeat_resident", self.resident))
            if n
        ]
        return w["warning_joiner"].join(parts)


@dataclass(frozen=True)
class Daily:
    """The day's figures, the last 30 days' and the clock's supervision of the day."""

    day: date
    today: Stats
    month: Stats
    supervision: dict[str, int]
    #: the safety index of the 30 days ending with the day (平安指数, :mod:`gis.safety`)
    safety: SafetyIndex
    #: the categories' names by code, Chinese and English (the workbook's 按类别 row)
    category_names: dict[str, tuple[str, str]]
    #: the day's cases with a repeat warning, the most repeated first (at most
    #: :data:`WARNINGS_MAX`), and how many there were
    warnings: tuple[RepeatWarning, ...]
    warnings_total: int
    #: 位置待查明: the open cases received by the end of the day that still have no point (filed
    #: by their village: not on the maps or the heat map) as the roll-up is made, and how many
    #: of them were received more than UNPLACED_DAYS days before
    unplaced: tuple[int, int]
    #: the grid workers of the region and of each child region, and the silent ones, over the
    #: 30 days ending with the day (网格员履职, :func:`gis.workers.activity`)
    workers: tuple[Activity, ...]
    #: the last TREND_WEEKS weeks ending with the day, the oldest first (近12周趋势)
    trend: tuple[Week, ...]


@dataclass(frozen=True)
class DailyReport(Daily):
    """The roll-up and the two files it was written to."""

    xlsx: Path
    html: Path


def _words(lang: str) -> dict[str, str]:
    return WORDS["en" if lang == "en" else "zh"]


def _sources(s: Stats, lang: str) -> list[tuple[str, int]]:
    """The cases by source (案件来源), named in ``lang``, in the order of ``SOURCE_NAMES``."""
    column = 1 if lang == "en" else 0
    counts = s.by_source
    return [(names[column], counts[k]) for k, names in SOURCE_NAMES.items() if k in counts]


def _breakdowns(d: Daily, s: Stats, lang: str) -> list[tuple[str, list[str]]]:
    """The cases by status (in the order of the closed loop), kind and category (most first),
    and source, each as "name: count" in ``lang``: the words a reader knows, not the codes."""
    en = lang == "en"
    w = _words(lang)
    states = STATE_NAMES_EN if en else STATE_NAMES
    by_status = [(states[k], s.by_status[k]) for k in states if k in s.by_status]
    by_status += [(k, n) for k, n in s.by_status.items() if k not in states]
    by_kind = [(KIND_NAMES.get(k, (k, k))[1 if en else 0], n) for k, n in s.by_kind.items()]
    by_category = [
        (d.category_names.get(k, (k, k))[1 if en else 0], n) for k, n in s.by_category.items()
    ]
    rows = (
        ("by_status", by_status),
        ("by_kind", sorted(by_kind, key=lambda kn: -kn[1])),
        ("by_category", sorted(by_category, key=lambda kn: -kn[1])),
        ("by_source", _sources(s, lang)),
    )
    return [(w[key], [f"{name}: {n}" for name, n in counts]) for key, counts in rows]


def _rows(s: Stats, lang: str = "zh") -> list[tuple[str, str, Figures]]:
    total = _words(lang)["total"].format(name=s.region_name)
    return [(s.region, total, s.total)] + [
        (code, name, f) for code, (name, f) in s.children.items()
    ]


def _safety_rows(s: SafetyIndex, lang: str) -> list[tuple[str, str, float, str, str, str]]:
    """The region's index (first), then its child regions' by rank."""
    total = _words(lang)["total"].format(name=s.region.name)
    return [
        (e.code, total if e is s.region else e.name, e.score, e.band_name(lang),
         e.change_text(), e.main_text(lang))
        for e in [s.region, *s.children]
    ]  # fmt: skip


_WorkerRow = tuple[str, str, int, int, float | None, int, int, int, int, float | None]


def _worker_rows(d: Daily, lang: str) -> list[_WorkerRow]:
    """The region's grid workers (first, as its total) and each child region's: code, name,
    workers, silent, the share silent, those with an account, those of them not on patrol; the
    grids, those walked on the day, their share."""
    total = _words(lang)["total"]
    return [
        (a.code, total.format(name=a.name) if i == 0 else a.name, a.workers, a.silent,
         a.silent / a.workers if a.workers else None, a.accounts, a.unpatrolled,
         a.grids, a.walked, a.walked / a.grids if a.grids else None)
        for i, a in enumerate(d.workers)
    ]  # fmt: skip


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _safety_status(s: SafetyIndex, lang: str) -> str:
    w = _words(lang)
    if s.published_at is None:
        return w["safety_provisional"]
    return w["safety_status"].format(at=s.published_at.astimezone(SHANGHAI))


def daily(session: Session, scope: Scope, region: str | None, day: date) -> Daily:
    """The roll-up of ``day`` (Asia/Shanghai) for ``region`` (default: the caller's)."""
    start = datetime.combine(day, time(0), SHANGHAI)
    end = start + timedelta(days=1)
    today = stats(session, scope, region, start, end)
    month = stats(session, scope, today.region, end - timedelta(days=30), end)
    supervision = {
        r.action: r.n
        for r in session.execute(
            text(f"""
            SELECT e.action, count(*) AS n FROM case_event e JOIN cases c ON c.id = e.case_id
            WHERE e.action IN ('remind', 'supervise', 'notify', 'remind_verify')
              AND e.at >= :start
              AND e.at < :end AND c.{LEVEL_COLUMN[today.level]} = :region
              AND {scope.case_condition("c")}
            GROUP BY e.action
        """),
            {"start": start, "end": end, "region": today.region},
        )
    }
    categories = {
        r.code: (r.name_zh, r.name_en)
        for r in session.execute(text("SELECT code, name_zh, name_en FROM category"))
    }
    safety = safety_index(session, scope, today.region, day)
    warnings, total = _warnings(session, scope, LEVEL_COLUMN[today.level], today.region, start, end)
    unplaced = _unplaced(session, scope, LEVEL_COLUMN[today.level], today.region, end)
    workers = tuple(activity(session, scope, today.region, end))
    trend = tuple(weekly(session, scope, today.region, end))
    return Daily(
        day, today, month, supervision, safety, categories, warnings, total, unplaced, workers,
        trend,
    )  # fmt: skip


#: a case filed by its village whose point is still not given this many days on is said apart
UNPLACED_DAYS = 3


def _unplaced(
    session: Session, scope: Scope, column: str, region: str, end: datetime
) -> tuple[int, int]:
    """The open cases of ``region`` (its level's ``column``) received before ``end`` that have
    no point (位置待查明), and those of them received UNPLACED_DAYS days or more before."""
    n, old = session.execute(
        text(f"""
        SELECT count(*), count(*) FILTER (WHERE c.received_at < :old)
        FROM cases c
        WHERE c.{column} = :region AND {unplaced_sql("c")} AND c.received_at < :end
          AND {open_sql("c")} AND {scope.case_condition("c")}
    """),
        {"region": region, "end": end, "old": end - timedelta(days=UNPLACED_DAYS)},
    ).one()
    return int(n), int(old)


_TrendRow = tuple[str, int, int, int, int, float | None, float | None, float | None]


def _trend_rows(d: Daily, lang: str) -> list[_TrendRow]:
    """Each week of the trend, the oldest first: its days (Beijing time), the cases received,
    of them disputes and hazards, those resolved, and the three rates."""
    w = _words(lang)
    return [
        (w["week"].format(start=k.start.astimezone(SHANGHAI),
                          end=(k.end - timedelta(days=1)).astimezone(SHANGHAI)),
         k.cases, k.disputes, k.hazards, k.resolved, k.rates["resolution_rate"],
         k.rates["on_time_rate"], k.rates["satisfaction_rate"])
        for k in d.trend
    ]  # fmt: skip


def _trend_chart(d: Daily, lang: str) -> str:
    """The cases received week by week as bars (disputes below, hazards above), an inline SVG
    that prints as it shows; its title says the figures for those who cannot see it."""
    if not d.trend:
        return ""
    w = _words(lang)
    bar, gap, height, top, foot = 36, 10, 120, 16, 18
    most = max(k.cases for k in d.trend) or 1
    width = len(d.trend) * (bar + gap)
    parts = []
    for i, k in enumerate(d.trend):
        x = i * (bar + gap) + gap // 2
        low = round(height * k.disputes / most)
        high = round(height * k.hazards / most)
        base = top + height
        parts.append(
            f'<rect x="{x}" y="{base - low}" width="{bar}" height="{low}" fill="#2e6da4"/>'
            f'<rect x="{x}" y="{base - low - high}" width="{bar}" height="{high}" '
            f'fill="#d4813a"/>'
            f'<text x="{x + bar / 2}" y="{base - low - high - 3}" text-anchor="middle">'
            f"{k.cases}</text>"
            f'<text x="{x + bar / 2}" y="{base + 13}" text-anchor="middle">'
            f"{(k.end - timedelta(days=1)).astimezone(SHANGHAI):%m-%d}</text>"
        )
    label = w["chart"].format(weeks=len(d.trend), counts=", ".join(str(k.cases) for k in d.trend))
    legend = (
        f'<span class="wg-key" style="background:#2e6da4"></span>{escape(w["disputes"])} '
        f'<span class="wg-key" style="background:#d4813a"></span>{escape(w["hazards"])}'
    )
    return (
        f'<svg class="wg-trend-chart" role="img" width="{width}" '
        f'height="{top + height + foot}" viewBox="0 0 {width} {top + height + foot}" '
        f'font-size="11"><title>{escape(label)}</title>{"".join(parts)}</svg>'
        f'<p class="wg-legend">{legend}</p>'
    )


def _warnings(
    session: Session, scope: Scope, column: str, region: str, start: datetime, end: datetime
) -> tuple[tuple[RepeatWarning, ...], int]:
    """The cases received in [start, end) in ``region`` (its level's ``column``) that carry a
    repeat warning, the most repeated first, and how many there were.  A case merged into
    another (并案) is left out: its matter is the other case's (as in the roll-up)."""
    rows = session.execute(
        text(f"""
        SELECT c.code, c.category, v.name AS village, c.received_at,
               CAST(c.flags ->> 'repeat_place' AS int) AS place,
               CAST(c.flags ->> 'repeat_resident' AS int) AS resident,
               count(*) OVER () AS total
        FROM cases c LEFT JOIN region v ON v.code = c.village_code
        WHERE c.{column} = :region AND c.received_at >= :start AND c.received_at < :end
          AND c.flags ?| ARRAY['repeat_place', 'repeat_resident'] AND {scope.case_condition("c")}
          AND {not_merged_sql("c")}
        ORDER BY greatest(CAST(c.flags ->> 'repeat_place' AS int),
                          CAST(c.flags ->> 'repeat_resident' AS int)) DESC,
                 c.received_at, c.code
        LIMIT :limit
    """),
        {"region": region, "start": start, "end": end, "limit": WARNINGS_MAX},
    ).all()
    found = tuple(
        RepeatWarning(r.code, r.category, r.village, r.received_at, r.place, r.resident)
        for r in rows
    )
    return found, rows[0].total if rows else 0


def _unplaced_words(d: Daily, lang: str) -> str:
    """The roll-up's line on the open cases without a point, in ``lang``."""
    n, old = d.unplaced
    said = _words(lang)["unplaced"].format(n=n, old=old, days=UNPLACED_DAYS)
    return one_said_once(said) if lang == "en" else said


def workbook_bytes(wb: Any) -> bytes:
    """``wb`` (an openpyxl workbook) as the bytes of its file, every cell's text as text.

    openpyxl takes any text that begins with ``=`` for a formula.  No workbook of this app
    holds one, but a resident's words, a grid's name or an imported row may begin so, and as a
    formula they would run in the reader's spreadsheet (``=HYPERLINK(…)`` sending a cell's
    contents away, ``=cmd|…`` in old Excel): such cells are written as the text they are."""
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def column_width(text: str) -> int:
    """A text's width in a spreadsheet's columns: a wide (CJK) character counts two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def daily_name(d: Daily, lang: str = "zh") -> str:
    """The files' name without suffix: ``每日汇总-<region>-<yyyymmdd>`` (``daily-…`` in
    English)."""
    return f"{'daily' if lang == 'en' else '每日汇总'}-{d.today.region}-{d.day:%Y%m%d}"


def daily_xlsx(d: Daily, lang: str = "zh") -> bytes:
    """The roll-up as a workbook: the day, the last 30 days, the day's supervision; headers in
    ``lang`` (``zh`` or ``en``)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    w = _words(lang)
    wb = Workbook()
    sheets = ((w["sheet_day"].format(day=d.day), d.today), (w["month"], d.month))
    for i, (title, s) in enumerate(sheets):
        ws = wb.active if i == 0 else wb.create_sheet()
        assert ws is not None
        ws.title = title
        period = w["period"].format(
            start=f"{s.start:%Y-%m-%d}", end=f"{s.end - timedelta(days=1):%Y-%m-%d}"
        )
        ws.append([w["heading"].format(name=s.region_name, sheet=title, period=period)])
        ws["A1"].font = Font(bold=True, size=14)
        ws.append([w["code"], w["region"]] + [c.header(lang) for c in COLUMNS])
        for code, name, f in _rows(s, lang):
            ws.append([code, name] + [c.get(f) for c in COLUMNS])
            for number, c in enumerate(COLUMNS, start=3):
                if c.rate:
                    ws.cell(ws.max_row, number).number_format = "0.0%"
                elif c.digits:
                    ws.cell(ws.max_row, number).number_format = "0." + "0" * c.digits
        ws.append([])
        for label, items in _breakdowns(d, s, lang):
            ws.append([label, *items])
        # readable as it opens: the headers and the regions stay in view, the columns are
        # wide enough for their headers (Chinese characters count double)
        ws.freeze_panes = "C3"
        for number, header in enumerate(
            [w["code"], w["region"], *[c.header(lang) for c in COLUMNS]], start=1
        ):
            ws.column_dimensions[get_column_letter(number)].width = max(
                10, column_width(header) + 2
            )
        ws.column_dimensions["B"].width = max(18, ws.column_dimensions["B"].width)
    ws = wb.create_sheet(w["trend"])
    ws.append([w["trend"] + w["trend_note"]])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(w["trend_headers"].split("|"))
    for week in _trend_rows(d, lang):
        ws.append(list(week))
        for column in (6, 7, 8):
            ws.cell(ws.max_row, column).number_format = "0.0%"
    for letter, width in zip("ABCDEFGH", (18, 10, 10, 10, 10, 10, 12, 10), strict=True):
        ws.column_dimensions[letter].width = max(width, column_width(ws[f"{letter}2"].value) + 2)
    ws = wb.create_sheet(w["safety"][:31])  # (a sheet's name: at most 31 characters)
    ws.append([w["safety"] + _safety_status(d.safety, lang)])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(list(SAFETY_HEADERS["en" if lang == "en" else "zh"]))
    for row in _safety_rows(d.safety, lang):
        ws.append(list(row))
        ws.cell(ws.max_row, 3).number_format = "0.0"  # as the page shows it
    # (its names and deductions were cut at the default width, its headers scrolled away)
    ws.freeze_panes = "C3"
    for letter, width in zip("ABCDEF", (14, 22, 10, 10, 12, 24), strict=True):
        ws.column_dimensions[letter].width = max(width, column_width(ws[f"{letter}2"].value) + 2)
    ws = wb.create_sheet(w["sheet_warnings"])
    ws.append([w["warnings"] + w["warnings_note"]])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(w["warning_headers"].split("|"))
    names = 1 if lang == "en" else 0
    for x in d.warnings:
        ws.append([
            x.code, d.category_names.get(x.category, (x.category,) * 2)[names], x.village or "",
            f"{x.received_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}", x.text(lang),
        ])  # fmt: skip
    if not d.warnings:  # as the page says it: an empty table read as a sheet left unfilled
        ws.append([w["warnings_none"]])
    if d.warnings_total > len(d.warnings):
        ws.append([w["warnings_more"].format(total=d.warnings_total, n=len(d.warnings))])
    if d.unplaced[0]:
        ws.append([_unplaced_words(d, lang)])
    for letter, width in zip("ABCDE", (24, 16, 16, 18, 48), strict=True):
        ws.column_dimensions[letter].width = width
    ws = wb.create_sheet(w["sheet_workers"])
    ws.append([w["workers"] + w["workers_note"]])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(w["worker_headers"].split("|"))
    for worker in _worker_rows(d, lang):
        ws.append(list(worker))
        ws.cell(ws.max_row, 5).number_format = "0.0%"
        ws.cell(ws.max_row, 10).number_format = "0.0%"
    for letter, width in zip("ABCDEFGHIJ", (14, 22, 10, 10, 12, 10, 10, 10, 14, 12), strict=True):
        ws.column_dimensions[letter].width = width
    ws = wb.create_sheet(w["sheet_supervision"])
    ws.append([w["supervision"], w["count"]])
    for action, name in (STAGE_NAMES_EN if lang == "en" else STAGE_NAMES).items():
        ws.append([name, d.supervision.get(action, 0)])
    return workbook_bytes(wb)


#: the printable reports' common style (the daily roll-up, 统计排名): plain tables, figures to
#: the right, the menu left off paper; on a screen, a table wider than the page (a phone's)
#: scrolls sideways inside it
REPORT_CSS = """
body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; margin: 2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }
th, td { border: 1px solid #999; padding: 4px 8px; text-align: right; }
/* a Chinese word stays whole in a narrow column (受理案件, not 受理案/件; 示例市（合计） breaks
   at its bracket): a table then too wide for the screen scrolls inside the page (below) */
th, .wg-regions td:nth-child(2), .wg-ranking td:nth-child(3) { word-break: keep-all; }
h2 small { font-weight: normal; font-size: 13px; color: #666; }
/* (each table in the tab order, tabindex="0": the arrow keys scroll it) */
@media screen { table { display: block; overflow-x: auto; max-width: 100%; } }
/* a desk's 1,024 px screen (a small laptop, a tablet turned): a region's 17 columns whole, not
   the last one or two behind a sideways scroll — in English too (Column.short_en), and with a
   village's 12-digit code */
@media screen and (max-width: 1100px) { body { margin: 1em; } th, td { padding: 4px; }
  table { font-size: 12px; } }
@media print { body { margin: 0; } .wg-noprint { display: none; }
  table { font-size: 11px; } th, td { padding: 2px 3px; } }
/* on paper across the page, as wide statistical tables are filed: a region's 17 columns fit */
@page { size: A4 landscape; margin: 12mm; }
@media (max-width: 640px) { body { margin: 1em; }
  th, td { white-space: nowrap; }
  /* on a phone (a leader's): the region's name stays in sight while its figures scroll by, and
     its code (for the desk's files) gives way */
  .wg-regions th:first-child, .wg-regions td:first-child,
  .wg-ranking th:nth-child(2), .wg-ranking td:nth-child(2) { display: none; }
  .wg-regions th:nth-child(2), .wg-regions td:nth-child(2),
  .wg-ranking th:nth-child(3), .wg-ranking td:nth-child(3) {
    position: sticky; left: 0; background: #fff; box-shadow: 1px 0 0 #999; } }"""


def daily_html(
    d: Daily,
    *,
    head: str = "",
    top: str = "",
    region_href: Callable[[str], str] | None = None,
    lang: str = "zh",
    case_href: Callable[[str], str] | None = None,
) -> str:
    """The roll-up as a printable page (no outside resources).  For the web page: ``head`` goes
    into ``<head>`` (stylesheets), ``top`` above the title (the menu, the day's links),
    ``region_href`` makes each child region's name a link and ``case_href`` each warned case's
    code (HTML-escaped here).  In ``lang`` (``zh`` or ``en``; region names stay as they are)."""
    w = _words(lang)

    def name_cell(code: str, name: str) -> str:
        if region_href is None or code == d.today.region:
            return escape(name)
        return f'<a href="{escape(region_href(code), quote=True)}">{escape(name)}</a>'

    def table(s: Stats) -> str:
        head_row = "".join(f"<th>{c.header_cell(lang)}</th>" for c in COLUMNS)
        body = "".join(
            f"<tr><td>{escape(code)}</td><td>{name_cell(code, name)}</td>"
            + "".join(f"<td>{escape(c.show(c.get(f)))}</td>" for c in COLUMNS)
            + "</tr>"
            for code, name, f in _rows(s, lang)
        )
        sources = w["sources"].format(
            list=" · ".join(w["source_item"].format(name=n, n=k) for n, k in _sources(s, lang))
            or "—"
        )
        return (
            scrolled_table(
                "wg-regions",
                f"<th>{header_html(w['code'])}</th><th>{header_html(w['region'])}</th>{head_row}",
                body,
            )
            + f'<p class="wg-sources">{escape(sources)}</p>'
        )

    stages = "".join(
        f"<li>{w['stage'].format(name=name, n=d.supervision.get(action, 0))}</li>"
        for action, name in (STAGE_NAMES_EN if lang == "en" else STAGE_NAMES).items()
    )
    title = escape(w["title"].format(name=d.today.region_name))
    headers = SAFETY_HEADERS["en" if lang == "en" else "zh"]
    safety_head = "".join(f"<th>{header_html(h)}</th>" for h in headers)
    safety_body = "".join(
        f"<tr><td>{escape(code)}</td><td>{name_cell(code, name)}</td><td>{score:.1f}</td>"
        f"<td>{escape(band)}</td><td>{escape(change)}</td><td>{escape(main)}</td></tr>"
        for code, name, score, band, change, main in _safety_rows(d.safety, lang)
    )
    safety_table = scrolled_table("wg-regions", safety_head, safety_body)

    def case_cell(code: str) -> str:
        if case_href is None:
            return escape(code)
        return f'<a href="{escape(case_href(code), quote=True)}">{escape(code)}</a>'

    names = 1 if lang == "en" else 0
    warning_rows = "".join(
        f"<tr><td>{case_cell(x.code)}</td>"
        f"<td>{escape(d.category_names.get(x.category, (x.category,) * 2)[names])}</td>"
        f"<td>{escape(x.village or '—')}</td>"
        f"<td>{x.received_at.astimezone(SHANGHAI):%H:%M}</td><td>{escape(x.text(lang))}</td></tr>"
        for x in d.warnings
    )
    worker_head = "".join(f"<th>{header_html(h)}</th>" for h in w["worker_headers"].split("|"))
    worker_body = "".join(
        f"<tr><td>{escape(code)}</td><td>{name_cell(code, name)}</td><td>{workers}</td>"
        f"<td>{silent}</td><td>{_share(share)}</td>"
        f"<td>{accounts}</td><td>{unpatrolled}</td>"
        f"<td>{grids}</td><td>{walked}</td><td>{_share(walked_share)}</td></tr>"
        for (
            code,
            name,
            workers,
            silent,
            share,
            accounts,
            unpatrolled,
            grids,
            walked,
            walked_share,
        ) in _worker_rows(d, lang)
    )
    workers_table = scrolled_table("wg-regions", worker_head, worker_body)
    trend_head = "".join(f"<th>{header_html(h)}</th>" for h in w["trend_headers"].split("|"))
    trend_body = "".join(
        f"<tr><td>{escape(week)}</td><td>{cases}</td><td>{disputes}</td><td>{hazards}</td>"
        f"<td>{resolved}</td><td>{_share(resolution)}</td><td>{_share(on_time)}</td>"
        f"<td>{_share(satisfaction)}</td></tr>"
        for week, cases, disputes, hazards, resolved, resolution, on_time, satisfaction in (
            _trend_rows(d, lang)
        )
    )
    trend = _trend_chart(d, lang) + scrolled_table("wg-trend", trend_head, trend_body)
    warning_head = "".join(f"<th>{header_html(h)}</th>" for h in w["warning_headers"].split("|"))
    warnings = (
        scrolled_table("wg-warnings-table", warning_head, warning_rows)
        + (
            f"<p>{escape(w['warnings_more'].format(total=d.warnings_total, n=len(d.warnings)))}</p>"
            if d.warnings_total > len(d.warnings)
            else ""
        )
        if d.warnings
        else f"<p>{escape(w['warnings_none'])}</p>"
    )
    unplaced = f'<p id="unplaced">{escape(_unplaced_words(d, lang))}</p>' if d.unplaced[0] else ""
    return f"""<!DOCTYPE html>
<html lang="{"en" if lang == "en" else "zh-CN"}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} {d.day:%Y-%m-%d}</title>
<style>
{REPORT_CSS}
th:nth-child(-n+2), td:nth-child(-n+2) {{ text-align: left; }}
.wg-warnings-table td {{ text-align: left; }}
.wg-trend th:nth-child(2), .wg-trend td:nth-child(2) {{ text-align: right; }}
.wg-trend-chart {{ max-width: 100%; height: auto; }}
.wg-trend-chart text {{ fill: #333; }}
.wg-legend {{ font-size: 12px; color: #444; margin: 0; }}
.wg-key {{ display: inline-block; width: 10px; height: 10px; margin: 0 2px 0 8px; }}
</style>{head}</head>
<body>
{top}
<main>
<h1>{title}</h1>
<p>{w["date"].format(day=d.day)}{w["note"]}</p>
<h2>{w["day"]}</h2>{table(d.today)}
<h2>{w["month"]}</h2>{table(d.month)}
<h2 id="trend">{w["trend"]}<small>{escape(w["trend_note"])}</small></h2>{trend}
<h2>{escape(w["safety"] + _safety_status(d.safety, lang))}</h2>{safety_table}
<h2 id="warnings">{w["warnings"]}<small>{escape(w["warnings_note"])}</small></h2>{
        warnings + unplaced
    }
<h2 id="workers">{w["workers"]}<small>{escape(w["workers_note"])}</small></h2>{workers_table}
<h2>{w["supervision"]}</h2><ul>{stages}</ul>
</main>
</body></html>
"""


def write_report(out_dir: Path, name: str, workbook: bytes, page: str) -> tuple[Path, Path]:
    """Write ``<name>.xlsx`` and ``<name>.html`` into ``out_dir`` (made if missing); the two
    paths.  A folder that cannot be written is a clear error naming ``--out``."""
    xlsx, html = out_dir / f"{name}.xlsx", out_dir / f"{name}.html"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        xlsx.write_bytes(workbook)
        html.write_text(page, encoding="utf-8")
    except OSError as e:
        raise InvalidInput(
            f"无法把报表写入 {out_dir}：{e.strerror}。请用 --out 换一个可写的目录。",
            f"Cannot write the report in {out_dir}: {e.strerror}. Give a writable --out.",
            field="out",
        ) from None
    return xlsx, html


def daily_report(
    session: Session, scope: Scope, region: str | None, day: date, out_dir: Path, lang: str = "zh"
) -> DailyReport:
    """Write ``每日汇总-<region>-<day>.xlsx`` and ``.html`` into ``out_dir``, in ``lang``."""
    d = daily(session, scope, region, day)
    xlsx, html = write_report(
        out_dir, daily_name(d, lang), daily_xlsx(d, lang), daily_html(d, lang=lang)
    )
    return DailyReport(
        day, d.today, d.month, d.supervision, d.safety, d.category_names, d.warnings,
        d.warnings_total, d.unplaced, d.workers, d.trend, xlsx, html,
    )  # fmt: skip
