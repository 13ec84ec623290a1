"""The roll-up on a hand-made set of cases with known answers (March 2018: nothing else there)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.db import HANDLED_LATER
from gis.report import daily_report
from gis.scope import Scope, bind_scope
from gis.worktime import SHANGHAI, clock_sql
from importers.demo import DemoCity
from tests.conftest import HANDLING_MISMATCH, report_body

Headers = Callable[[str], dict[str, str]]

# Monday 5 March 2018, 09:00 Shanghai; eight working hours later is Tuesday 09:00.
MON = "2018-03-05 09:00+08"
CASES = {  # code: (kind, status, resolved at, extended, reopened, rating, village)
    "STATS0000001": ("dispute", "closed", "2018-03-05 11:00+08", False, False, 5, "990102001001"),
    "STATS0000002": ("dispute", "closed", "2018-03-07 09:00+08", True, True, 2, "990102001001"),
    "STATS0000003": ("dispute", "in_progress", None, True, False, None, "990102001002"),
    "STATS0000004": ("hazard", "registered", None, False, False, None, "990102001002"),
}
#: where each came from (案件来源)
SOURCES = {
    "STATS0000001": "hotline",
    "STATS0000002": "walk_in",
    "STATS0000003": "hotline",
    "STATS0000004": "grid_worker",
}


@pytest.fixture
def hand_made(app_db: Session, demo_city: DemoCity) -> None:
    bind_scope(app_db, Scope.everything())
    for code, (kind, status, resolved, extended, reopened, rating, village) in CASES.items():
        category = "neighbour" if kind == "dispute" else "fire"
        case_id = app_db.execute(
            text("""
            INSERT INTO cases (code, kind, category, severity, description, received_lon,
                               received_lat, geom, reported_at, received_at, grid_code,
                               village_code, township_code, district_code, city_code,
                               assign_method, status, allowed_hours, deadline, closed_at,
                               source)
            SELECT :code, CAST(:kind AS case_kind), :category, 'minor', '统计测试',
                   ST_X(p), ST_Y(p), p, t, t, g.code, CAST(:village AS varchar), '990102001',
                   '990102',
                   '990100', 'covers', :status, 8, wangge_work_add(t, 8),
                   CAST(:closed_at AS timestamptz), CAST(:source AS case_source)
            FROM (SELECT code, ST_PointOnSurface(geom) AS p FROM grid
                  WHERE code LIKE CAST(:village AS varchar) || '%' ORDER BY code LIMIT 1) g,
                 (SELECT CAST(:mon AS timestamptz) AS t) x
            RETURNING id
        """),
            {
                "code": code,
                "kind": kind,
                "category": category,
                "status": status,
                "resolved": resolved,
                "village": village,
                "mon": MON,
                "closed_at": resolved if status == "closed" else None,
                "source": SOURCES[code],
            },
        ).scalar_one()
        events = [("register", None, "registered", MON)]
        if extended:
            events.append(("extend", "accepted", "accepted", "2018-03-05 10:00+08"))
        if resolved:
            events.append(("resolve", "in_progress", "resolved", resolved))
        if reopened:
            events.append(("reopen", "closed", "reopened", "2018-03-08 09:00+08"))
            events.append(("resolve", "in_progress", "resolved", "2018-03-09 09:00+08"))
        for action, before, after, at in events:
            app_db.execute(
                text("""INSERT INTO case_event (case_id, at, actor, action, from_status,
                                               to_status)
                        VALUES (:id, CAST(:at AS timestamptz), 'test', :a, :f, :t)"""),
                {"id": case_id, "at": at, "a": action, "f": before, "t": after},
            )
        if rating:
            app_db.execute(
                text("INSERT INTO case_rating (case_id, score, resolved) VALUES (:id, :s, true)"),
                {"id": case_id, "s": rating},
            )
    app_db.commit()  # to the test's savepoint


def test_the_joined_working_clock_equals_wangge_work_clock(db: Session) -> None:
    """The statistics (and the case import's deadlines) join the calendar for the working clock
    instead of calling ``wangge_work_clock`` per row: the same hours at every quarter of an hour
    over a week with a holiday and a make-up working day, at each window's edges, at midnight,
    and NULL outside the calendar."""
    join, clock = clock_sql("t.at", "wc")
    rows = db.execute(
        text(f"""
        WITH t AS (
            SELECT at FROM generate_series(CAST('2024-09-13 00:00+08' AS timestamptz),
                                           CAST('2024-09-19 23:59+08' AS timestamptz),
                                           interval '15 minutes') AS at
            UNION ALL
            SELECT CAST(x AS timestamptz) FROM unnest(ARRAY[
                '2024-09-14 08:29:59.999+08', '2024-09-18 12:00+08', '2024-09-18 13:29:59+08',
                '2024-09-18 18:00:00.001+08', '2024-09-18 23:59:59.999999+08',
                '1899-12-31 12:00+08']) x)
        SELECT count(*) AS n,
               count(*) FILTER (WHERE {clock} IS DISTINCT FROM wangge_work_clock(t.at)
                                  AND NOT abs(({clock}) - wangge_work_clock(t.at)) < 1e-9)
                   AS different,
               count(*) FILTER (WHERE {clock} IS NULL) AS outside
        FROM t {join}
    """)
    ).one()
    assert rows.n > 600 and rows.different == 0 and rows.outside == 1


def test_stats_on_known_cases(
    anon_client: TestClient, login_as: Headers, hand_made: None, app_db: Session
) -> None:
    # each case carries what its events and rating say (migration 0062), which the roll-up reads
    assert app_db.execute(text(HANDLING_MISMATCH)).scalar_one() == 0
    op = login_as("township_operator")
    query = "/api/stats?region=990102001&start=2018-03-01&end=2018-03-31"
    r = anon_client.get(query, headers=op)
    assert r.status_code == 200, r.text
    s = r.json()
    f = s["figures"]
    assert (f["cases"], f["resolved"], f["closed"], f["on_time"]) == (4, 2, 2, 1)
    assert (f["extended"], f["reworked"], f["rated"], f["satisfied"]) == (2, 1, 2, 1)
    assert f["resolution_rate"] == 0.5 and f["on_time_rate"] == 0.5
    assert f["extension_rate"] == 0.5 and f["rework_rate"] == 0.5
    assert f["score"] == 3.5 and f["satisfaction_rate"] == 0.5
    # working hours to the first resolution: 2 h (Monday 09–11) and 16 h (Monday → Wednesday 09)
    assert f["handling_hours"] == 9.0
    assert s["by_status"] == {"closed": 2, "in_progress": 1, "registered": 1}
    assert s["by_kind"] == {"dispute": 3, "hazard": 1}
    assert s["by_source"] == {"hotline": 2, "walk_in": 1, "grid_worker": 1}
    children = {c["code"]: c["figures"] for c in s["children"]}
    assert children["990102001001"]["cases"] == 2 and children["990102001002"]["cases"] == 2
    assert children["990102001001"]["on_time_rate"] == 0.5
    # every figure is traceable to its cases
    for figure, expected in (
        ("on_time", ["STATS0000001"]),
        ("reworked", ["STATS0000002"]),
        ("extended", ["STATS0000002", "STATS0000003"]),
    ):
        traced = anon_client.get(f"{query}&trace={figure}", headers=op)
        assert traced.json() == expected, figure
    assert anon_client.get(f"{query}&trace=nonsense", headers=op).status_code == 422
    # another township's desk does not see this township
    other = anon_client.get(query, headers=login_as("township_operator_b"))
    assert other.status_code == 404
    bad = anon_client.get("/api/stats?region=990102001&start=2018-03-31&end=2018-03-01", headers=op)
    assert bad.status_code == 422


@pytest.mark.parametrize(
    "query",
    [
        "start=2001-01-01&end=2001-01-31",  # a city's whole days: from the figures kept per day
        "region=990102001001&start=2001-01-01&end=2001-01-31",  # a village's: case by case
        "end=2000-01-01",  # (the 30 days before it)
    ],
)
def test_a_period_without_cases_has_figures_of_nought(
    anon_client: TestClient, login_as: Headers, query: str
) -> None:
    """No case received in the period: every count 0, the averages and rates none (the total of
    no rows is a row of nulls, and the answer's counts were refused: a 500)."""
    r = anon_client.get(f"/api/stats?{query}", headers=login_as("city_operator"))
    assert r.status_code == 200, r.text
    f = r.json()["figures"]
    assert {k: f[k] for k in ("cases", "resolved", "closed", "rated", "on_site")} == dict.fromkeys(
        ("cases", "resolved", "closed", "rated", "on_site"), 0
    )
    assert f["handling_hours"] is None and f["score"] is None and f["resolution_rate"] is None


def test_a_merged_case_is_counted_once_by_the_case_that_carries_it(
    anon_client: TestClient, login_as: Headers, hand_made: None, app_db: Session
) -> None:
    """并案: a second report of case 3's matter, merged into it (closed at once), is not a
    second case resolved on time: the roll-up counts the matter once.  Reopened, it counts."""
    merged = app_db.execute(
        text("""
        INSERT INTO cases (code, kind, category, severity, description, received_lon,
                           received_lat, geom, reported_at, received_at, grid_code, village_code,
                           township_code, district_code, city_code, assign_method, status,
                           allowed_hours, deadline, closed_at, source)
        SELECT 'STATS0000005', kind, category, severity, description, received_lon,
               received_lat, geom, reported_at, received_at + interval '1 hour', grid_code,
               village_code, township_code, district_code, city_code, assign_method, 'closed',
               allowed_hours, deadline, received_at + interval '2 hours', source
        FROM cases WHERE code = 'STATS0000003'
        RETURNING id
    """)
    ).scalar_one()
    app_db.execute(
        text("""
        INSERT INTO case_link (case_id, other_case_id, kind, status)
        SELECT :id, id, 'merged_into', 'confirmed' FROM cases WHERE code = 'STATS0000003'
    """),
        {"id": merged},
    )
    app_db.commit()  # (to the test's savepoint)
    op = login_as("township_operator")
    query = "/api/stats?region=990102001&start=2018-03-01&end=2018-03-31"
    f = anon_client.get(query, headers=op).json()["figures"]
    assert (f["cases"], f["resolved"], f["closed"], f["on_time"]) == (4, 2, 2, 1)
    traced = anon_client.get(f"{query}&trace=cases", headers=op).json()
    assert len(traced) == 4 and "STATS0000005" not in traced
    app_db.execute(
        text("UPDATE case_link SET status = 'unlinked' WHERE case_id = :id"), {"id": merged}
    )
    app_db.commit()
    f = anon_client.get(query, headers=op).json()["figures"]
    assert (f["cases"], f["resolved"], f["closed"], f["on_time"]) == (5, 3, 3, 2)


def test_daily_report_writes_a_spreadsheet_and_a_page(
    app_db: Session, hand_made: None, tmp_path: Path
) -> None:
    from datetime import date

    report = daily_report(app_db, Scope.everything(), "990102001", date(2018, 3, 5), tmp_path)
    assert report.today.total.cases == 4
    wb = load_workbook(report.xlsx)
    assert wb.sheetnames == [
        "03月05日", "近30天", "近12周趋势", "平安指数（近30天）", "高频线索", "网格员履职", "督办"
    ]  # fmt: skip
    rows = list(wb["03月05日"].iter_rows(values_only=True))
    assert rows[1][:3] == ("区划代码", "区划", "受理案件")
    assert rows[2][0] == "990102001" and rows[2][2] == 4
    # the breakdowns in words, not codes: states in the order of the loop, the rest most first
    rows_named = {r[0]: [v for v in r[1:] if v] for r in rows if r and r[0]}
    assert rows_named["按状态"] == ["已登记: 1", "处置中: 1", "已结案: 2"]
    assert rows_named["按类型"] == ["矛盾纠纷: 3", "安全隐患: 1"]
    assert rows_named["按类别"] and not any(
        re.search(r"[a-z_]{3}", item) for item in rows_named["按类别"]
    )
    # it opens readable: headers and regions stay in view, columns as wide as their headers
    sheet = wb["03月05日"]
    assert sheet.freeze_panes == "C3"
    assert sheet.column_dimensions["K"].width >= 24  # 平均办理时长（工作小时）
    page = report.html.read_text(encoding="utf-8")
    assert "每日一汇总" in page and "按期结案率" in page and "http" not in page
    # the trend: twelve weeks ending with the day, the oldest first; the hand-made cases all in
    # the last one (27 February to 5 March), with the roll-up's own figures
    trend = list(wb["近12周趋势"].iter_rows(values_only=True))
    assert trend[1] == ("周", "受理案件", "矛盾纠纷", "安全隐患", "已办结", "办结率",
                        "按期结案率", "满意率")  # fmt: skip
    assert trend[2][0] == "12-12至12-18" and len(trend) == 2 + 12
    assert trend[-1] == ("02-27至03-05", 4, 3, 1, 2, 0.5, 0.5, 0.5)
    assert all(r[1:5] == (0, 0, 0, 0) and r[5] is None for r in trend[2:-1])
    assert "<td>02-27至03-05</td><td>4</td><td>3</td><td>1</td><td>2</td>" in page
    assert "<title>近12周每周受理案件：0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4</title>" in page


def test_the_trend_as_json_for_a_command_screen(
    anon_client: TestClient, login_as: Headers, hand_made: None
) -> None:
    op = login_as("township_operator")
    r = anon_client.get("/api/stats/weekly?region=990102001&end=2018-03-05", headers=op)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["region"] == "990102001" and len(body["weeks"]) == 12
    last = body["weeks"][-1]
    assert last["start"].startswith("2018-02-27T00:00:00+08:00")
    assert last["end"].startswith("2018-03-06T00:00:00+08:00")
    assert (last["cases"], last["disputes"], last["hazards"], last["resolved"]) == (4, 3, 1, 2)
    assert (last["on_time_rate"], last["satisfaction_rate"]) == (0.5, 0.5)
    assert all(w["cases"] == 0 and w["resolution_rate"] is None for w in body["weeks"][:-1])
    four = anon_client.get("/api/stats/weekly?region=990102001&end=2018-03-05&weeks=4", headers=op)
    assert [w["cases"] for w in four.json()["weeks"]] == [0, 0, 0, 4]
    for bad in ("weeks=0", "weeks=157", "end=1899-12-31", "end=9999-01-01", "end=2018-02-30"):
        assert anon_client.get(f"/api/stats/weekly?{bad}", headers=op).status_code == 422, bad
    other = anon_client.get(
        "/api/stats/weekly?region=990102001", headers=login_as("township_operator_b")
    )
    assert other.status_code == 404


def test_the_trend_adds_up_to_the_roll_up(app_db: Session) -> None:
    """Week by week, the trend counts what the roll-up counts over the same days (the demo's
    cases: every state, ratings, the clock's letters)."""
    from gis.stats import stats, weekly

    end = datetime.now(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    scope = Scope.everything()
    bind_scope(app_db, scope)
    weeks = weekly(app_db, scope, "990102", end)
    assert len(weeks) == 12 and weeks[-1].end == end and weeks[0].start == end - timedelta(84)
    assert sum(w.cases for w in weeks) > 0
    # a case received at a week's first instant (a ledger's date without a time) is in that
    # week, as in the roll-up of its days; and at the first instant of the first week
    for at in (weeks[-1].start, weeks[0].start):
        app_db.execute(
            text("""UPDATE cases SET received_at = :at WHERE id = (
                        SELECT id FROM cases WHERE district_code = '990102' AND received_at < :at
                        ORDER BY id LIMIT 1)"""),
            {"at": at},
        )
    weeks = weekly(app_db, scope, "990102", end)
    for week in (weeks[0], weeks[-2], weeks[-1]):
        f = stats(app_db, scope, "990102", week.start, week.end).total
        by_kind = stats(app_db, scope, "990102", week.start, week.end).by_kind
        assert (week.cases, week.resolved, week.on_time, week.rated, week.satisfied) == (
            f.cases, f.resolved, f.on_time, f.rated, f.satisfied
        )  # fmt: skip
        assert (week.disputes, week.hazards) == (
            by_kind.get("dispute", 0),
            by_kind.get("hazard", 0),
        )
        assert week.rates["on_time_rate"] == f.rates["on_time_rate"]


def test_daily_roll_up_page_and_spreadsheet(
    anon_client: TestClient, login_as: Headers, hand_made: None
) -> None:
    op = login_as("township_operator")
    day = "/reports/daily?region=990102001&date=2018-03-05"
    page = anon_client.get(day, headers=op)
    assert page.status_code == 200, page.text
    assert "每日一汇总" in page.text and "2018年03月05日" in page.text
    total = re.search(r"<tr><td>990102001</td><td>[^<]*（合计）</td><td>(\d+)</td>", page.text)
    assert total is not None and total.group(1) == "4"
    # each village opens its own roll-up; the days around it and the spreadsheet are linked
    village = 'href="/reports/daily?region=990102001001&amp;date=2018-03-05"'
    assert village in page.text
    assert 'href="/reports/daily?region=990102001&amp;date=2018-03-04">前一天' in page.text
    assert 'href="/reports/daily?region=990102001&amp;date=2018-03-06">后一天' in page.text
    assert 'href="/reports/daily.xlsx?region=990102001&amp;date=2018-03-05">下载 Excel' in page.text
    assert 'href="/reports/period?region=990102001">本月统计排名' in page.text
    drilled = anon_client.get("/reports/daily?region=990102001001&date=2018-03-05", headers=op)
    assert re.search(r"<td>990102001001</td><td>[^<]*（合计）</td><td>2</td>", drilled.text)
    # where the cases came from, in the order of the channels
    assert "案件来源：网格员上报 1 件 · 群众来访 1 件 · 12345热线 2 件" in page.text
    # rates as per cent, hours as hours (9.0, not 900.0 %)
    assert "<td>50.0%</td>" in page.text and "<td>9.0</td>" in page.text
    xlsx = anon_client.get(day.replace("daily?", "daily.xlsx?"), headers=op)
    assert xlsx.status_code == 200 and "每日汇总-990102001-20180305.xlsx" in unquote(
        xlsx.headers["content-disposition"]
    )
    wb = load_workbook(BytesIO(xlsx.content))
    assert wb.sheetnames == [
        "03月05日", "近30天", "近12周趋势", "平安指数（近30天）", "高频线索", "网格员履职", "督办"
    ]  # fmt: skip
    rows = list(wb["03月05日"].iter_rows())
    assert rows[2][0].value == "990102001" and rows[2][2].value == 4
    workers = list(wb["网格员履职"].iter_rows(values_only=True))
    assert workers[1][-5:] == ("有账号", "未巡查", "网格", "当日巡查网格", "巡查覆盖率")
    assert workers[2][0] == "990102001" and all(isinstance(v, int) for v in workers[2][5:9])
    assert rows[2][6].number_format == "0.0%"  # 办结率
    header = [c.value for c in rows[1]]
    hours, score = header.index("平均办理时长（工作小时）"), header.index("平均评分")
    assert (rows[2][hours].number_format, rows[2][score].number_format) == ("0.0", "0.00")
    # the safety sheet readable as it opens, as the others; no warnings said, not left blank
    safety = wb["平安指数（近30天）"]
    assert safety.freeze_panes == "C3" and safety["C3"].number_format == "0.0"
    assert safety.column_dimensions["B"].width >= 22 and safety.column_dimensions["F"].width >= 24
    assert list(wb["高频线索"].iter_rows(values_only=True))[2][0] == "当日无高频线索。"
    # not another township's; not a day to come; yesterday by default
    other = anon_client.get(day, headers=login_as("township_operator_b"))
    assert other.status_code == 404
    assert anon_client.get("/reports/daily?date=2999-01-01", headers=op).status_code == 422
    yesterday = datetime.now(SHANGHAI).date() - timedelta(days=1)
    default = anon_client.get("/reports/daily", headers=op)
    assert default.status_code == 200 and f"{yesterday:%Y年%m月%d日}" in default.text
    # in English (the second locale): the page and, from its link, the spreadsheet
    english = anon_client.get(day + "&lang=en", headers=op)
    assert '<html lang="en">' in english.text and "daily roll-up" in english.text
    assert re.search(r"<td>990102001</td><td>[^<]* \(total\)</td><td>4</td>", english.text)
    assert "<th>On-time rate</th>" in english.text and ">Previous day</a>" in english.text
    assert "Supervision notices: 0" in english.text
    assert "Where the cases came from: grid worker 1 · walk-in 1 · 12345 hotline 2" in english.text
    link = 'href="/reports/daily.xlsx?region=990102001&amp;date=2018-03-05&amp;lang=en"'
    assert link in english.text
    wb = load_workbook(
        BytesIO(
            anon_client.get(day.replace("daily?", "daily.xlsx?") + "&lang=en", headers=op).content
        )
    )
    assert wb.sheetnames == [
        "03-05", "Last 30 days", "Last 12 weeks", "Safety index (last 30 days)",
        "Repeat warnings", "Grid workers", "Supervision",
    ]  # fmt: skip
    assert "<td>02-27 to 03-05</td><td>4</td>" in english.text
    assert list(wb["03-05"].iter_rows(values_only=True))[1][:3] == (
        "Region code",
        "Region",
        "Cases received",
    )
    by_source = [r for r in wb["03-05"].iter_rows(values_only=True) if r[0] == "By source"]
    assert by_source[0][1:4] == ("grid worker: 1", "walk-in: 1", "12345 hotline: 2")
    by_status = [r for r in wb["03-05"].iter_rows(values_only=True) if r[0] == "By status"]
    assert by_status[0][1:4] == ("Registered: 1", "In progress: 1", "Closed: 2")


def _ranked(html: str) -> list[tuple[str, str]]:
    """(place, region code) of each ranked row of a 统计排名 page, in order."""
    return re.findall(r'<tr data-code="(\d+)"><td>([^<]*)</td>', html)


def test_period_ranking_page_and_spreadsheet(
    anon_client: TestClient, login_as: Headers, hand_made: None, db: Session
) -> None:
    """统计排名: a month's figures of a township and its villages, ranked by one figure, the
    same as /api/stats; every village listed, those with no value last without a place."""
    op = login_as("township_operator")
    month = "/reports/period?region=990102001&start=2018-03-01&end=2018-03-31"
    page = anon_client.get(month, headers=op)
    assert page.status_code == 200, page.text
    assert "统计排名" in page.text and "2018年03月01日 至 2018年03月31日" in page.text
    total = re.search(r"<td>990102001</td><td>[^<]*（合计）</td><td>(\d+)</td>", page.text)
    assert total is not None and total.group(1) == "4"
    villages = db.execute(
        text("SELECT count(*) FROM region r JOIN region p ON p.id = r.parent_id "
             "WHERE p.code = '990102001'")
    ).scalar_one()  # fmt: skip
    ranked = [(place, code) for code, place in _ranked(page.text)]
    assert len(ranked) == villages > 2
    # by the on-time rate (the default): the first village 50 %, the second none resolved
    assert "下级区划排名 · 按期结案率（高者在前）" in page.text
    assert ranked[0] == ("1", "990102001001") and ("—", "990102001002") in ranked
    assert all(place == "—" for place, _ in ranked[1:])
    assert "不参加排名" in page.text
    # by cases received: the two villages tie first, the others (none) share the third place
    by_cases = _ranked(anon_client.get(month + "&rank=cases", headers=op).text)
    assert [(c, p) for c, p in by_cases[:2]] == [("990102001001", "1"), ("990102001002", "1")]
    assert {p for _, p in by_cases[2:]} == {"3"}
    # lower is better for the rework rate; a column's name ranks by it, a village opens its own
    rework = anon_client.get(month + "&rank=rework_rate", headers=op).text
    assert "返工率（低者在前）" in rework
    assert 'class="wg-rank-by" aria-sort="ascending"' in rework
    link = "/reports/period?region=990102001&amp;start=2018-03-01&amp;end=2018-03-31"
    assert f'href="{link}&amp;rank=satisfaction_rate"' in page.text
    assert f'href="{link.replace("990102001&", "990102001001&")}&amp;rank=on_time_rate"' in (
        page.text
    )
    assert f'href="{link.replace("period?", "period.xlsx?")}&amp;rank=on_time_rate">下载 Excel' in (
        page.text
    )
    # the figures are the roll-up's
    api = anon_client.get(
        "/api/stats?region=990102001&start=2018-03-01&end=2018-03-31", headers=op
    ).json()
    first = api["children"][0]["figures"]
    row = re.search(r'<tr data-code="990102001001">(.*?)</tr>', page.text)
    assert row is not None and f"<td>{first['cases']}</td>" in row.group(1)
    assert f"{first['on_time_rate']:.1%}</td>" in row.group(1)
    # the workbook: the same order
    xlsx = anon_client.get(month.replace("period?", "period.xlsx?") + "&rank=cases", headers=op)
    assert xlsx.status_code == 200 and "统计排名-990102001-20180301-20180331.xlsx" in unquote(
        xlsx.headers["content-disposition"]
    )
    wb = load_workbook(BytesIO(xlsx.content))
    assert wb.sheetnames == ["排名", "按类别"]
    rows = list(wb["排名"].iter_rows(values_only=True))
    assert rows[2][:4] == ("名次", "区划代码", "区划", "受理案件")
    assert rows[3][1] == "990102001" and rows[3][3] == 4  # the total
    assert [(r[1], str(r[0])) for r in rows[4:]] == [(c, p) for c, p in by_cases]
    categories = list(wb["按类别"].iter_rows(values_only=True))
    assert categories[1:] == [("邻里纠纷", 3, 0.75), ("消防安全隐患", 1, 0.25)]
    # in English
    english = anon_client.get(month + "&lang=en", headers=op).text
    assert '<html lang="en">' in english and "Child regions ranked by On-time rate" in english
    assert ">This quarter</a>" in english
    # bad asks: a clear 422 or 404
    bad = anon_client.get(month + "&rank=speed", headers=op)
    assert bad.status_code == 422 and "on_time_rate" in bad.json()["detail"]
    swapped = "/reports/period?region=990102001&start=2018-03-31&end=2018-03-01"
    r = anon_client.get(swapped, headers=op | {"Accept": "application/json"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "end"
    assert anon_client.get("/reports/period?end=2999-01-01", headers=op).status_code == 422
    assert anon_client.get(month, headers=login_as("township_operator_b")).status_code == 404
    # this month by default, marked among the periods
    today = datetime.now(SHANGHAI).date()
    default = anon_client.get("/reports/period?lang=zh", headers=op).text  # (after English)
    assert f"{today.replace(day=1):%Y年%m月%d日} 至 {today:%Y年%m月%d日}" in default
    assert 'aria-current="true">本月</a>' in default
    # the form sent with its dates cleared: the defaults, not a 422
    cleared = anon_client.get("/reports/period?region=990102001&start=&end=&rank=", headers=op)
    assert cleared.status_code == 200 and f"{today:%Y年%m月%d日}" in cleared.text
    bad_day = anon_client.get("/reports/period?start=2026-02-30", headers=op)
    assert bad_day.status_code == 422 and bad_day.json()["errors"][0]["field"] == "start"


def test_a_ranking_shares_places_as_shown_and_puts_no_value_last() -> None:
    """Equal as shown (a rate to 0.1 %) is an equal place (1, 2, 2, 4); no value: last."""
    from gis.ranking import RANKS, _places
    from gis.stats import Figures

    def f(cases: int, resolved: int, on_time: int) -> Figures:
        return Figures(cases, resolved, resolved, on_time, 0, 0, None, 0, None, 0)

    rows = [
        ("4", "D", f(1000, 1000, 901)),  # 90.1 %
        ("1", "A", f(10, 10, 10)),  # 100 %
        ("5", "E", f(3, 0, 0)),  # none resolved: no rate
        ("2", "B", f(1000, 1000, 950)),  # 95.0 %
        ("3", "C", f(10000, 10000, 9502)),  # 95.02 %: shown 95.0 %, level with B
    ]
    ranked = [(r.place, r.code) for r in _places(rows, RANKS["on_time_rate"])]
    assert ranked == [(1, "1"), (2, "2"), (2, "3"), (4, "4"), (None, "5")]
    fewest_extended = _places(rows, RANKS["extension_rate"])  # 0 % everywhere, E too
    assert [r.place for r in fewest_extended] == [1, 1, 1, 1, 1]


def test_the_daily_roll_up_warns_of_the_days_repeats(
    anon_client: TestClient, login_as: Headers, hand_made: None, app_db: Session
) -> None:
    """每日一汇总 and early warning: the day's cases that the same place or the same resident
    raised again and again (高频线索), the most repeated first, each linked to its case; no
    personal data; in the workbook too, and in English."""
    flags = {"STATS0000002": '{"repeat_place": 3}',
             "STATS0000004": '{"repeat_place": 4, "repeat_resident": 5}'}  # fmt: skip
    for code, flag in flags.items():
        app_db.execute(
            text("UPDATE cases SET flags = CAST(:f AS jsonb) WHERE code = :c"),
            {"f": flag, "c": code},
        )
    app_db.commit()  # to the test's savepoint (each request rolls back to the last one)
    op = login_as("township_operator")
    day = "/reports/daily?region=990102001&date=2018-03-05"
    page = anon_client.get(day, headers=op).text
    warned = page[page.index('id="warnings"') :]
    assert warned.index("STATS0000004") < warned.index("STATS0000002")  # the most first
    assert 'href="/cases/STATS0000004">STATS0000004</a>' in warned
    assert "同一地点（50 米内）30 天 4 件；同一当事人 30 天 5 件" in warned
    assert "STATS0000001" not in warned and "STATS0000003" not in warned
    assert "当日无高频线索" not in page
    # a day without them says so
    calm = anon_client.get(day.replace("03-05", "03-06"), headers=op).text
    assert "当日无高频线索。" in calm
    wb = load_workbook(
        BytesIO(anon_client.get(day.replace("daily?", "daily.xlsx?"), headers=op).content)
    )
    rows = list(wb["高频线索"].iter_rows(values_only=True))
    assert rows[1] == ("案件编号", "类别", "村/社区", "受理时间", "预警")
    assert [r[0] for r in rows[2:]] == ["STATS0000004", "STATS0000002"]
    assert rows[2][1] == "消防安全隐患" and rows[2][3] == "2018-03-05 09:00"
    english = anon_client.get(day + "&lang=en", headers=op).text
    assert "Repeat warnings of the day" in english
    assert "same place (within 50 m): 4 cases in 30 days; same resident: 5 cases in 30 days" in (
        english
    )
    assert 'href="/cases/STATS0000004?lang=en"' in english
    # merged into another case (并案), a report is that case's matter: no warning of its own
    app_db.execute(
        text("""
        INSERT INTO case_link (case_id, other_case_id, kind, status)
        SELECT m.id, o.id, 'merged_into', 'confirmed' FROM cases m, cases o
        WHERE m.code = 'STATS0000002' AND o.code = 'STATS0000004'
    """)
    )
    app_db.commit()
    warned = anon_client.get(day, headers=op).text.split('id="warnings"')[1]
    assert "STATS0000004" in warned and "STATS0000002" not in warned
    assert 'id="unplaced"' not in warned  # (every case has its point)
    # 位置待查明: an open case filed by its village, no point yet — not on the maps: said, and
    # said apart once it has waited more than three days
    app_db.execute(
        text("""UPDATE cases SET geom = NULL, received_lon = NULL, received_lat = NULL,
                       assign_method = 'region', grid_id = NULL, grid_code = NULL
                WHERE code = 'STATS0000004'""")
    )
    app_db.commit()
    chinese = day + "&lang=zh"  # (the English page asked for above is remembered)
    said = anon_client.get(chinese, headers=op).text
    assert "位置待查明：1 件在办案件按村（社区）登记、尚无坐标" in said
    assert "（其中 0 件已超过 3 天）" in said
    later = anon_client.get(chinese.replace("03-05", "03-09"), headers=op).text
    assert "（其中 1 件已超过 3 天）" in later
    xlsx = anon_client.get(chinese.replace("daily?", "daily.xlsx?"), headers=op).content
    last = list(load_workbook(BytesIO(xlsx))["高频线索"].iter_rows(values_only=True))[-1]
    assert str(last[0]).startswith("位置待查明：1 件")
    english = anon_client.get(day + "&lang=en", headers=op).text
    assert "Place not known yet: 1 open case filed by their village" in english
    before = anon_client.get(chinese.replace("03-05", "03-04"), headers=op).text
    assert 'id="unplaced"' not in before  # (received after that day)


def test_the_roll_up_shows_rates_as_per_cent_and_the_rest_as_they_are() -> None:
    from gis.report import COLUMNS

    c = {column.zh: column for column in COLUMNS}
    assert c["办结率"].show(0.5) == "50.0%" and c["满意率"].show(1.0) == "100.0%"
    assert c["平均办理时长（工作小时）"].show(0.6) == "0.6"  # not "60.0%"
    assert c["平均评分"].show(1.0) == "1.00" and c["受理案件"].show(0) == "0"
    # a column's figures to the same decimals (4.40 above 4.41, not 4.4; 13.0 hours, not 13)
    assert c["平均评分"].show(4.4) == "4.40" and c["平均办理时长（工作小时）"].show(13) == "13.0"
    assert c["办结率"].show(None) == "—"
    # the mean handling time of cases resolved within hours off the working clock (received
    # and resolved on a Sunday) is 0 working hours, not "no figure"
    from gis.stats import Figures

    sunday = Figures(3, 3, 0, 3, 0, 0, 0.0, 0, None, 0)
    hours = c["平均办理时长（工作小时）"]
    assert hours.show(hours.get(sunday)) == "0.0"
    none_resolved = Figures(3, 0, 0, 0, 0, 0, None, 0, None, 0)
    assert hours.show(hours.get(none_resolved)) == "—"


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/stats?end=9999-12-31", "end"),
        ("/api/stats?start=0001-01-01&end=2026-01-01", "start"),
        ("/api/audit?end=9999-12-31", "end"),
        ("/audit?start=0001-01-01", "start"),
        ("/api/grids?as_of=9999-12-31", "as_of"),
        ("/api/grids?as_of=9999-12-31T23:59:00", "as_of"),
        ("/maps/command?as_of=0001-01-01", "as_of"),
        ("/reports/daily?date=0001-01-01", "date"),
        ("/reports/daily.xlsx?date=0001-01-01", "date"),
        ("/reports/period?start=0001-01-01", "start"),
        ("/reports/period.xlsx?end=9999-12-31", "end"),
    ],
)
def test_a_day_at_the_calendar_s_ends_is_a_clear_422(
    anon_client: TestClient, login_as: Headers, url: str, field: str
) -> None:
    """Python's dates stop at 0001-01-01 and 9999-12-31: a day there, with the day after or
    before it that these pages count, answered 500.  Now: which field, and the days allowed."""
    r = anon_client.get(url, headers=login_as("admin"))
    assert r.status_code == 422, (url, r.status_code)
    assert r.json()["errors"][0]["field"] == field
    assert "1900-01-01" in r.json()["detail"] and "9998-12-31" in r.json()["detail"]


def _roster(html: str) -> list[tuple[str, str, int]]:
    """(worker code, village, reports in 30 days) of each row of the roster page."""
    rows = []
    for row in re.finditer(r"<tr><td>.*?</tr>", html):
        cells = re.findall(r"<td>(.*?)</td>", row.group(0))
        code = re.search(r"<small>(\w+)(?: · [^<]*)?</small>", cells[0])
        assert code is not None
        rows.append((code.group(1), cells[2], int(cells[5])))
    return rows


def test_the_roster_of_grid_workers_says_who_has_not_been_heard_from(
    anon_client: TestClient, login_as: Headers, app_db: Session, demo_city: DemoCity
) -> None:
    """网格员名册: a region's workers with their grids and phones, the grid workers' reports in
    their grids over 30 days, the silent ones marked and counted (and first on asking); another
    township's workers never."""
    op = login_as("township_operator")
    html = {"Accept": "text/html"}
    bind_scope(app_db, Scope.everything())
    expected = app_db.execute(
        text("""SELECT count(*) FROM worker w JOIN region v ON v.id = w.region_id
                WHERE v.code LIKE '990102001%'""")
    ).scalar_one()
    page = anon_client.get("/workers", headers=op | html).text
    assert "网格员 · " in page and f'<b id="workers-total">{expected}</b>' in page
    told = re.search(r'<b id="workers-silent">(\d+)</b>', page)
    assert told is not None
    rows = _roster(page)
    assert len(rows) == min(expected, 100)
    assert sum(1 for _, _, n in rows if n == 0) <= int(told.group(1))
    assert all("未上报" in r.group(0) for r in re.finditer(r"<tr><td>.*?</tr>", page)
               if int(re.findall(r"<td>(.*?)</td>", r.group(0))[5]) == 0)  # fmt: skip
    # each with their part in their grids' teams: the demo's chiefs, and a community's
    # supervisor over all its grids
    assert "W99010200100101 · 网格长</small>" in page
    assert re.search(r"W99010200100190 · 网格监督员</small>", page)
    # a grid worker's report in a silent worker's grid: heard from
    worker, grid = app_db.execute(
        text("""SELECT w.code, g.grid_code FROM worker w JOIN worker_grid g ON g.worker_id = w.id
                JOIN region v ON v.id = w.region_id WHERE v.code LIKE '990102001%'
                ORDER BY w.code LIMIT 1""")
    ).one()
    before = {code: n for code, _, n in rows}[worker]
    demo_grid = next(g for g in demo_city.grids if g.code == grid)
    name = app_db.execute(
        text("SELECT name FROM grid WHERE code = :g AND valid_to IS NULL"), {"g": grid}
    ).scalar_one()
    # each grid by its name, opening its map, the code on hover
    assert f'<a href="/maps/grid/{grid}" title="{grid}">{name}</a>' in page
    point = demo_grid.geom.representative_point()
    r = anon_client.post(
        "/api/reports", headers=login_as("grid_worker"), json=report_body(point.x, point.y)
    )
    assert r.status_code == 201 and r.json()["grid_code"] == grid, r.text
    again = {code: n for code, _, n in _roster(anon_client.get("/workers", headers=op).text)}
    assert again[worker] == before + 1

    def settled(page: str) -> int:
        """The worker's reports settled on the spot (就地化解), the row's last column."""
        row = re.search(rf"<small>{worker}[ ·][^<]*</small>.*?</tr>", page)
        assert row is not None
        return int(re.findall(r"<td>(\d+)</td>", row.group(0))[-1])

    settled_before = settled(anon_client.get("/workers", headers=op).text)
    on_site = report_body(point.x, point.y, on_site_resolution="现场劝解，双方和好")
    r = anon_client.post("/api/reports", headers=login_as("grid_worker"), json=on_site)
    assert r.status_code == 201, r.text
    third = anon_client.get("/workers", headers=op).text
    assert settled(third) == settled_before + 1
    assert {code: n for code, _, n in _roster(third)}[worker] == before + 2
    # the daily roll-up's 网格员履职: the township's workers (its total), each village's
    today = datetime.now(SHANGHAI).date()
    daily = anon_client.get(f"/reports/daily?date={today}", headers=op | html).text
    section = daily[daily.index('id="workers"') :]
    cells = re.findall(
        r"<tr><td>(\d+)</td><td>(?:<a [^>]*>)?[^<]*(?:</a>)?</td><td>(\d+)</td><td>(\d+)</td>",
        section,
    )
    (top, *villages) = [(code, int(n), int(quiet)) for code, n, quiet in cells]
    assert top[0] == "990102001" and top[1] == expected
    assert sum(n for _, n, _ in villages) == expected and top[2] == sum(q for *_, q in villages)
    assert all(code.startswith("990102001") and q <= n for code, n, q in villages)
    # … and those not on patrol: of the workers with an account (the demo's grid worker, with
    # weeks of check-ins), none today; on a day before any check-in, that one
    accounts = app_db.execute(
        text("""SELECT count(DISTINCT w.id) FROM worker w JOIN region v ON v.id = w.region_id
                JOIN app_user u ON u.worker_id = w.id WHERE v.code LIKE '990102001%'""")
    ).scalar_one()
    assert accounts >= 1

    def on_patrol(day: object) -> tuple[int, int, int, int]:
        """The township's row: with an account, not on patrol, grids, grids walked that day."""
        page = anon_client.get(f"/reports/daily?date={day}", headers=op | html).text
        row = re.search(r'id="workers".*?<tr><td>990102001</td>(.*?)</tr>', page, re.S)
        assert row is not None
        cells = re.findall(r"<td>([^<]*)</td>", row.group(1))[-8:]
        return int(cells[3]), int(cells[4]), int(cells[5]), int(cells[6])

    grids = app_db.execute(
        text("SELECT count(*) FROM grid WHERE code LIKE '990102001%' AND valid_to IS NULL")
    ).scalar_one()
    assert "未巡查" in section and on_patrol(today) == (accounts, accounts - 1, grids, 0)
    assert on_patrol(today - timedelta(days=90)) == (accounts, accounts, grids, 0)
    # the grids walked on a day of the demo's patrols: those with a check-in made there that day
    walked_day, walked = app_db.execute(
        text("""SELECT CAST(checked_at AT TIME ZONE 'Asia/Shanghai' AS date) AS day,
                       count(DISTINCT grid_code)
                FROM patrol WHERE grid_code LIKE '990102001%' GROUP BY 1 ORDER BY 1 DESC LIMIT 1""")
    ).one()
    assert walked >= 1 and on_patrol(walked_day)[2:] == (grids, walked)
    # the least heard-from first; one village; another township's region: not yours
    least = _roster(anon_client.get("/workers?least=true", headers=op | html).text)
    assert [n for _, _, n in least] == sorted(n for _, _, n in least)
    village = _roster(anon_client.get("/workers?region=990102001001", headers=op | html).text)
    assert village and all(code.startswith("W990102001001") for code, _, _ in village)
    assert anon_client.get("/workers?region=990103001", headers=op | html).status_code == 404
    other = anon_client.get("/workers", headers=login_as("township_operator_b") | html).text
    assert worker not in other
    english = anon_client.get("/workers?lang=en", headers=op | html).text
    assert "Grid workers · " in english and "Reports (30 days)" in english
    assert "Settled on the spot (30 days)" in english
    # the same list as a workbook: every row, codes and phones as text; audited
    anon_client.cookies.clear()  # (the English page is remembered)
    assert 'href="/workers.xlsx?lang=zh"' in anon_client.get("/workers", headers=op | html).text
    xlsx = anon_client.get("/workers.xlsx?least=true", headers=op)
    assert xlsx.status_code == 200, xlsx.text
    assert re.search(r"网格员-.+-\d{8}\.xlsx$", unquote(xlsx.headers["content-disposition"]))
    sheet = load_workbook(BytesIO(xlsx.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][:3] == ("网格员", "工号", "电话")
    assert len(rows) - 2 == expected  # every worker, not a page of them
    first = _roster(anon_client.get("/workers?least=true", headers=op | html).text)[0]
    assert rows[2][1] == first[0]  # in the page's order
    assert sheet.cell(3, 3).number_format == "@"
    parts = {r[1]: r[13] for r in rows[2:]}  # each worker's part in their grids' teams
    assert parts["W99010200100101"] == "网格长" and parts["W99010200100190"] == "网格监督员"
    # in English, lists joined with commas (a worker's grids' names had 、)
    en = load_workbook(BytesIO(anon_client.get("/workers.xlsx?lang=en", headers=op).content))
    assert en.active is not None
    many = [r[5] for r in list(en.active.iter_rows(values_only=True))[2:] if r[4] and " " in r[4]]
    assert many and all("、" not in names and ", " in names for names in many), many[:3]
    audited = app_db.execute(
        text("SELECT detail FROM audit_log WHERE action = 'workers.export' ORDER BY id DESC")
    ).first()
    assert audited is not None and audited[0]["workers"] == len(rows) - 2


def test_a_bulk_writer_keeps_the_cases_handling_itself(db: Session) -> None:
    """The demo's load and the importers write events by the thousand: under HANDLED_LATER the
    row triggers pass them by, and ``wangge_case_handled_refresh`` counts the cases again from
    their events and ratings, a set at a time (migration 0064)."""
    case_id = db.execute(
        text("""SELECT id FROM cases WHERE status = 'registered' AND first_resolved_at IS NULL
                ORDER BY id LIMIT 1""")
    ).scalar_one()
    db.execute(text(HANDLED_LATER))
    db.execute(
        text("""INSERT INTO case_event (case_id, at, actor, action, from_status, to_status)
                VALUES (:id, '2018-03-05 10:00+08', 'test', 'resolve', 'in_progress',
                        'resolved'),
                       (:id, '2018-03-05 09:00+08', 'test', 'extend', 'accepted', 'accepted')"""),
        {"id": case_id},
    )
    kept = "SELECT first_resolved_at IS NULL, extended FROM cases WHERE id = :id"
    assert tuple(db.execute(text(kept), {"id": case_id}).one()) == (True, False)
    assert db.execute(text(HANDLING_MISMATCH)).scalar_one() == 1  # (until the writer fills it)
    refreshed = db.execute(
        text("SELECT wangge_case_handled_refresh(ARRAY[CAST(:id AS bigint)])"), {"id": case_id}
    ).scalar_one()
    assert refreshed == 1
    assert tuple(db.execute(text(kept), {"id": case_id}).one()) == (False, True)
    assert db.execute(text(HANDLING_MISMATCH)).scalar_one() == 0


def test_the_figures_kept_per_day_are_those_of_the_cases_at_every_moment(db: Session) -> None:
    """The roll-up reads the figures kept per day and place (``case_figure_day``, migration
    0084) where no change marked them since, and counts the marked ones from their cases: the
    same figures (and trend) as counted from every case, before the clock counted the marks
    again, after it, and after cases changed in every way a figure reads."""
    from gis import figures
    from gis.stats import stats, weekly

    bind_scope(db, Scope.everything())
    every = Scope.everything()
    end = datetime.now(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    end += timedelta(days=1)
    periods = [(end - timedelta(days=30), end), (end - timedelta(days=400), end)]
    township, village = db.execute(
        text("SELECT township_code, village_code FROM cases WHERE village_code IS NOT NULL "
             "GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1")
    ).one()  # fmt: skip
    district = township[:6]

    def read() -> list[object]:
        out: list[object] = [weekly(db, every, None, end), weekly(db, every, township, end)]
        for region in (None, district, township, village):
            out += [stats(db, every, region, a, b) for a, b in periods]
        return out

    def from_the_cases() -> list[object]:
        figures.mark_all(db)  # every pair marked: each figure counted from its cases
        return read()

    truth = from_the_cases()
    assert truth[2].total.cases > 100  # (the city's last 400 days)
    assert figures.refresh_all(db) > 10
    assert db.execute(text("SELECT count(*) FROM case_figure_dirty")).scalar_one() == 0
    assert read() == truth  # all kept
    # cases change: closed, extended, rated, merged, moved to another township, a copy added
    # and one deleted; the pairs they touched are marked, the others kept
    recent = "SELECT id FROM cases WHERE received_at >= now() - interval '20 days'"
    db.execute(
        text(f"UPDATE cases SET status = 'closed', closed_at = now() "
             f"WHERE id IN ({recent} AND status <> 'closed' ORDER BY id LIMIT 15)")
    )  # fmt: skip
    db.execute(
        text(f"UPDATE cases SET deadline = deadline + interval '5 days', extended = true "
             f"WHERE id IN ({recent} ORDER BY id DESC LIMIT 10)")
    )  # fmt: skip
    db.execute(text(f"UPDATE cases SET score = 2 WHERE id IN ({recent} ORDER BY id LIMIT 12)"))
    a, b = db.execute(text(f"{recent} AND township_code = :t ORDER BY id LIMIT 2"), {"t": township})
    db.execute(
        text("INSERT INTO case_link (case_id, other_case_id, kind, status) "
             "VALUES (:a, :b, 'merged_into', 'confirmed')"), {"a": a[0], "b": b[0]}
    )  # fmt: skip
    other = db.execute(
        text("SELECT code FROM region WHERE level = 'township' AND code <> :t LIMIT 1"),
        {"t": township},
    ).scalar_one()
    db.execute(
        text(f"UPDATE cases SET township_code = :o WHERE id IN ({recent} AND township_code = :t "
             f"ORDER BY id DESC LIMIT 3)"), {"o": other, "t": township}
    )  # fmt: skip
    copied = (
        db.execute(
            text(f"""INSERT INTO cases (code, kind, category, severity, description, datum, geom,
                                    reported_at, received_at, grid_code, village_code,
                                    township_code, district_code, city_code, assign_method,
                                    status, deadline, first_resolved_at, score)
                 SELECT 'FG' || c.id, c.kind, c.category, c.severity, c.description, c.datum,
                        c.geom, c.reported_at, c.received_at - interval '2 days', c.grid_code,
                        c.village_code, c.township_code, c.district_code, c.city_code,
                        c.assign_method, 'resolved', c.deadline, c.received_at, 4
                 FROM cases c WHERE c.id IN ({recent} ORDER BY id LIMIT 6)
                 RETURNING id""")
        )
        .scalars()
        .all()
    )
    db.execute(text("DELETE FROM cases WHERE id = :i"), {"i": copied[0]})
    marks = db.execute(text("SELECT count(DISTINCT (day, township_code)) FROM case_figure_dirty"))
    assert 0 < marks.scalar_one() < 40
    mixed = read()  # the marked pairs from their cases, the rest kept
    assert mixed != truth
    assert mixed == from_the_cases()
    figures.refresh_all(db)
    assert read() == mixed  # all kept again
    db.execute(text("UPDATE cases SET score = 1 WHERE id = :i"), {"i": copied[2]})  # one pair
    mixed = read()
    assert mixed == from_the_cases()
