"""The daily roll-up (每日一汇总): a spreadsheet and a printable page for a region and a day.

Sheets/sections: the day (cases received that day, per child region), the last 30 days (the same
figures), and the clock's supervision of the day (reminders, supervision letters, notices issued
that day for the region's cases).  Figures and definitions as in :mod:`gis.stats`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from html import escape
from io import BytesIO
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.scope import Scope
from gis.stats import LEVEL_COLUMN, Figures, Stats, stats
from gis.worktime import SHANGHAI

COLUMNS = [  # (header, value of Figures)
    ("受理案件", lambda f: f.cases),
    ("已办结", lambda f: f.resolved),
    ("已结案", lambda f: f.closed),
    ("按期办结", lambda f: f.on_time),
    ("办结率", lambda f: f.rates["resolution_rate"]),
    ("按期结案率", lambda f: f.rates["on_time_rate"]),
    ("延期率", lambda f: f.rates["extension_rate"]),
    ("返工率", lambda f: f.rates["rework_rate"]),
    (
        "平均办理时长（工作小时）",
        lambda f: round(f.handling_hours, 1) if f.handling_hours else None,
    ),
    ("评价数", lambda f: f.rated),
    ("平均评分", lambda f: round(float(f.score), 2) if f.score is not None else None),
    ("满意率", lambda f: f.rates["satisfaction_rate"]),
]
#: the columns that are rates (0–1, shown as per cent); the others are counts, hours, scores
RATES = frozenset({"办结率", "按期结案率", "延期率", "返工率", "满意率"})
STAGE_NAMES = {"remind": "提醒函", "supervise": "督办函", "notify": "通报"}


@dataclass(frozen=True)
class Daily:
    """The day's figures, the last 30 days' and the clock's supervision of the day."""

    day: date
    today: Stats
    month: Stats
    supervision: dict[str, int]


@dataclass(frozen=True)
class DailyReport(Daily):
    """The roll-up and the two files it was written to."""

    xlsx: Path
    html: Path


def _rows(s: Stats) -> list[tuple[str, str, Figures]]:
    return [(s.region, f"{s.region_name}（合计）", s.total)] + [
        (code, name, f) for code, (name, f) in s.children.items()
    ]


def _fmt(header: str, value: object) -> str:
    if value is None:
        return "—"
    if header in RATES:
        return f"{float(value):.1%}"  # type: ignore[arg-type]
    return str(value)


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
            WHERE e.action IN ('remind', 'supervise', 'notify') AND e.at >= :start
              AND e.at < :end AND c.{LEVEL_COLUMN[today.level]} = :region
              AND {scope.case_condition("c")}
            GROUP BY e.action
        """),
            {"start": start, "end": end, "region": today.region},
        )
    }
    return Daily(day, today, month, supervision)


def daily_name(d: Daily) -> str:
    """The files' name without suffix: ``每日汇总-<region>-<yyyymmdd>``."""
    return f"每日汇总-{d.today.region}-{d.day:%Y%m%d}"


def daily_xlsx(d: Daily) -> bytes:
    """The roll-up as a workbook: the day, the last 30 days, the day's supervision."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    sheets = ((f"{d.day:%m月%d日}", d.today), ("近30天", d.month))
    for i, (title, s) in enumerate(sheets):
        ws = wb.active if i == 0 else wb.create_sheet()
        assert ws is not None
        ws.title = title
        ws.append(
            [
                f"{s.region_name} 每日一汇总 · {title}（{s.start:%Y-%m-%d} 至 "
                f"{s.end - timedelta(days=1):%Y-%m-%d}）"
            ]
        )
        ws["A1"].font = Font(bold=True, size=14)
        ws.append(["区划代码", "区划"] + [h for h, _ in COLUMNS])
        for code, name, f in _rows(s):
            ws.append([code, name] + [get(f) for _, get in COLUMNS])
            for column, (header, _) in enumerate(COLUMNS, start=3):
                if header in RATES:
                    ws.cell(ws.max_row, column).number_format = "0.0%"
        ws.append([])
        ws.append(["按状态"] + [f"{k}: {v}" for k, v in sorted(s.by_status.items())])
        ws.append(["按类型"] + [f"{k}: {v}" for k, v in sorted(s.by_kind.items())])
        ws.append(["按类别"] + [f"{k}: {v}" for k, v in sorted(s.by_category.items())])
    ws = wb.create_sheet("督办")
    ws.append(["当日督办", "件数"])
    for action, name in STAGE_NAMES.items():
        ws.append([name, d.supervision.get(action, 0)])
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def daily_html(
    d: Daily, *, head: str = "", top: str = "", region_href: Callable[[str], str] | None = None
) -> str:
    """The roll-up as a printable page (no outside resources).  For the web page: ``head`` goes
    into ``<head>`` (stylesheets), ``top`` above the title (the menu, the day's links), and
    ``region_href`` makes each child region's name a link (HTML-escaped here)."""

    def name_cell(code: str, name: str) -> str:
        if region_href is None or code == d.today.region:
            return escape(name)
        return f'<a href="{escape(region_href(code), quote=True)}">{escape(name)}</a>'

    def table(s: Stats) -> str:
        head_row = "".join(f"<th>{escape(h)}</th>" for h, _ in COLUMNS)
        body = "".join(
            f"<tr><td>{escape(code)}</td><td>{name_cell(code, name)}</td>"
            + "".join(f"<td>{escape(_fmt(h, get(f)))}</td>" for h, get in COLUMNS)
            + "</tr>"
            for code, name, f in _rows(s)
        )
        return f"<table><tr><th>区划代码</th><th>区划</th>{head_row}</tr>{body}</table>"

    stages = "".join(
        f"<li>{name}：{d.supervision.get(action, 0)} 件</li>"
        for action, name in STAGE_NAMES.items()
    )
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(d.today.region_name)} 每日一汇总 {d.day:%Y-%m-%d}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 13px; }}
th, td {{ border: 1px solid #999; padding: 4px 8px; text-align: right; }}
th:nth-child(-n+2), td:nth-child(-n+2) {{ text-align: left; }}
@media print {{ body {{ margin: 0; }} .wg-noprint {{ display: none; }} }}
</style>{head}</head>
<body>
{top}
<h1>{escape(d.today.region_name)} 每日一汇总</h1>
<p>{d.day:%Y年%m月%d日}（按受理时间统计；比率定义：按期结案率 = 按期办结 ÷ 已办结，
延期率 = 延期案件 ÷ 受理案件，返工率 = 重启案件 ÷ 已结案）</p>
<h2>当日</h2>{table(d.today)}
<h2>近30天</h2>{table(d.month)}
<h2>当日督办</h2><ul>{stages}</ul>
</body></html>
"""


def daily_report(
    session: Session, scope: Scope, region: str | None, day: date, out_dir: Path
) -> DailyReport:
    """Write ``每日汇总-<region>-<day>.xlsx`` and ``.html`` into ``out_dir``."""
    d = daily(session, scope, region, day)
    out_dir.mkdir(parents=True, exist_ok=True)
    xlsx = out_dir / f"{daily_name(d)}.xlsx"
    xlsx.write_bytes(daily_xlsx(d))
    html = out_dir / f"{daily_name(d)}.html"
    html.write_text(daily_html(d), encoding="utf-8")
    return DailyReport(day, d.today, d.month, d.supervision, xlsx, html)
