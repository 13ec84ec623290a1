"""The safety index (平安指数) on hand-made cases with known answers (March 2018: nothing else
there), published and provisional, through the API, the map page and the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from io import BytesIO

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis import safety
from gis.errors import InvalidInput
from gis.scope import Scope, bind_scope
from gis.worktime import SHANGHAI
from importers.demo import DemoCity
from maps.city import render_page
from maps.safety import build_safety_map

Headers = Callable[[str], dict[str, str]]

TOWNSHIP, VILLAGE, QUIET = "990102001", "990102001001", "990102001002"
DAY = "2018-03-30"  # the window: 1 to 30 March 2018
URL = f"/api/safety-index?region={TOWNSHIP}&date={DAY}"
# code: (severity, received, deadline, resolved at, repeat warning, rating) — all in VILLAGE
CASES = {
    # resolved before its deadline, rated 5
    "SAFE00000001": ("minor", "03-05 09:00", "03-06 09:00", "03-05 15:00", False, 5),
    # resolved a day late, rated 2, a repeat place
    "SAFE00000002": ("normal", "03-06 09:00", "03-07 09:00", "03-08 09:00", True, 2),
    # still open past its deadline
    "SAFE00000003": ("major", "03-10 09:00", "03-12 09:00", None, False, None),
    # due only after the window: not counted as due
    "SAFE00000004": ("critical", "03-29 09:00", "04-03 09:00", None, False, None),
}


def at(when: str) -> str:
    return f"2018-{when}+08"


@pytest.fixture
def hand_made(app_db: Session, demo_city: DemoCity) -> None:
    bind_scope(app_db, Scope.everything())
    for code, (severity, received, deadline, resolved, repeat, rating) in CASES.items():
        case_id = app_db.execute(
            text("""
            INSERT INTO cases (code, kind, category, severity, description, received_lon,
                               received_lat, geom, reported_at, received_at, grid_code,
                               village_code, township_code, district_code, city_code,
                               assign_method, status, deadline, closed_at, flags)
            SELECT :code, 'hazard', 'fire', CAST(:severity AS case_severity), '平安指数测试',
                   ST_X(p), ST_Y(p), p, t, t, g.code, :village, :township, '990102', '990100',
                   'covers', :status, CAST(:deadline AS timestamptz),
                   CAST(:resolved AS timestamptz), CAST(:flags AS jsonb)
            FROM (SELECT code, ST_PointOnSurface(geom) AS p FROM grid
                  WHERE code LIKE :village || '%' AND valid_to IS NULL ORDER BY code LIMIT 1) g,
                 (SELECT CAST(:received AS timestamptz) AS t) x
            RETURNING id
        """),
            {
                "code": code, "severity": severity, "received": at(received),
                "deadline": at(deadline), "resolved": at(resolved) if resolved else None,
                "status": "closed" if resolved else "in_progress", "village": VILLAGE,
                "township": TOWNSHIP, "flags": '{"repeat_place": 3}' if repeat else "{}",
            },
        ).scalar_one()  # fmt: skip
        if resolved:
            app_db.execute(
                text("""INSERT INTO case_event (case_id, at, actor, action, from_status,
                                               to_status)
                        VALUES (:id, CAST(:at AS timestamptz), 'test', 'resolve', 'in_progress',
                                'resolved')"""),
                {"id": case_id, "at": at(resolved)},
            )
        if rating:
            app_db.execute(
                text("INSERT INTO case_rating (case_id, score, resolved) VALUES (:id, :s, true)"),
                {"id": case_id, "s": rating},
            )
    app_db.commit()  # to the test's savepoint


def population(session: Session, code: str) -> int:
    return int(
        session.execute(
            text("""SELECT sum(g.population) FROM grid g JOIN region v ON v.id = g.village_id
                    JOIN region r ON r.id = ANY(v.path)
                    WHERE r.code = :c AND g.valid_to IS NULL"""),
            {"c": code},
        ).scalar_one()
    )


def expected(people: int) -> dict[str, float]:
    """The deductions of the four cases, worked out by hand from the rules."""
    per_10k = 10_000 / people
    return {
        # weighted 0.5 + 1 + 2 + 4 = 7.5 cases; 0.5 points each per 10,000 residents
        "incidence": round(min(40, 7.5 * per_10k * 0.5), 1),
        # one critical case: 5 points per 10,000 residents
        "serious": round(min(20, 1 * per_10k * 5), 1),
        # three due, two of them not resolved by their deadline
        "overdue": round(20 * 2 / 3, 1),
        # one of four with a repeat warning
        "repeats": 5.0,
        # one of two ratings below 4
        "dissatisfied": 5.0,
    }


def test_index_of_known_cases(
    anon_client: TestClient, login_as: Headers, hand_made: None, app_db: Session
) -> None:
    op = login_as("township_operator")
    r = anon_client.get(URL, headers=op)
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["day"] == DAY and not s["published"] and s["published_at"] is None
    assert s["start"].startswith("2018-03-01T00:00:00+08") or s["start"] == "2018-02-28T16:00:00Z"
    village = {c["code"]: c for c in s["children"]}[VILLAGE]
    f = village["figures"]
    assert (f["cases"], f["minor"], f["normal"], f["major"], f["critical"]) == (4, 1, 1, 1, 1)
    assert (f["due"], f["overdue"], f["repeats"], f["rated"], f["dissatisfied"]) == (3, 2, 1, 2, 1)
    assert f["population"] == population(app_db, VILLAGE)
    points = expected(f["population"])
    assert village["deductions"] == points
    assert village["score"] == round(100 - sum(points.values()), 1)
    assert village["band"] == safety.band(village["score"]).key
    # the township counts the same cases over all its residents
    own = s["region"]
    assert own["code"] == TOWNSHIP and own["figures"]["cases"] == 4
    assert own["deductions"] == expected(population(app_db, TOWNSHIP))
    # a village without cases: 100, safe, ranked first; the ranking runs safest first
    quiet = {c["code"]: c for c in s["children"]}[QUIET]
    assert quiet["score"] == 100 and quiet["band"] == "safe" and quiet["band_name"] == "平安"
    assert quiet["rank"] == 1 and s["children"][-1]["code"] == VILLAGE
    scores = [c["score"] for c in s["children"]]
    assert scores == sorted(scores, reverse=True)
    # the change from a week before: on 23 March the open case was already late, and the
    # critical case had not come
    week = {c["code"]: c for c in anon_client.get(
        f"/api/safety-index?region={TOWNSHIP}&date=2018-03-23", headers=op
    ).json()["children"]}[VILLAGE]  # fmt: skip
    assert village["week_before"] == week["score"]
    assert village["change"] == round(village["score"] - week["score"], 1)
    assert week["figures"]["critical"] == 0 and week["figures"]["overdue"] == 2
    # how it is counted comes with it, in Chinese and English
    assert [p["key"] for p in s["parts"]] == list(safety.PART)
    assert sum(p["cap"] for p in s["parts"]) == 100
    assert [b["name"] for b in s["bands"]] == ["平安", "基本平安", "需关注", "不平安"]


def test_index_refuses_what_it_cannot_answer(
    anon_client: TestClient, login_as: Headers, hand_made: None
) -> None:
    op = login_as("township_operator")
    # another township's desk does not see this township
    assert anon_client.get(URL, headers=login_as("township_operator_b")).status_code == 404
    future = anon_client.get(f"/api/safety-index?region={TOWNSHIP}&date=2999-01-01", headers=op)
    assert future.status_code == 422 and "还没有到" in future.json()["detail"]
    bad = anon_client.get(f"/api/safety-index?region={TOWNSHIP}&date=30.3.2018", headers=op)
    assert bad.status_code == 422
    assert anon_client.get(URL).status_code == 401


def test_published_index_does_not_move(
    anon_client: TestClient, login_as: Headers, hand_made: None, app_db: Session
) -> None:
    op = login_as("township_operator")
    before = anon_client.get(URL, headers=op).json()
    bind_scope(app_db, Scope.everything())
    regions = app_db.execute(text("SELECT count(*) FROM region")).scalar_one()
    assert safety.publish(app_db, date(2018, 3, 30)) == regions
    assert safety.publish(app_db, date(2018, 3, 30)) == 0  # once only
    app_db.commit()
    published = anon_client.get(URL, headers=op).json()
    assert published["published"] and published["published_at"]
    assert published["region"] == before["region"] and published["children"] == before["children"]
    # a late case (offline sync, an import) with a time in the window does not move it
    app_db.execute(
        text("""INSERT INTO cases (code, kind, category, severity, description, received_lon,
                                   received_lat, geom, reported_at, received_at, village_code,
                                   township_code, district_code, city_code, assign_method)
                SELECT 'SAFE00000009', 'hazard', 'fire', 'critical', '迟到的案件', 113.7, 22.9,
                       ST_SetSRID(ST_MakePoint(113.7, 22.9), 4326), t, t, :v, :t, '990102',
                       '990100', 'covers'
                FROM (SELECT CAST('2018-03-20 09:00+08' AS timestamptz) AS t) x"""),
        {"v": QUIET, "t": TOWNSHIP},
    )
    app_db.commit()
    again = anon_client.get(URL, headers=op).json()

    def kept(s: dict) -> list[tuple]:  # (the week before is not published: it is computed)
        return [(c["code"], c["score"], c["deductions"], c["figures"]) for c in s["children"]]

    assert kept(again) == kept(before)
    # … while the computed index would count it
    computed = {e.code: e for e in safety.compute(app_db, date(2018, 3, 30))}
    assert computed[QUIET].figures.critical == 1 and computed[QUIET].score < 100
    # a day not over yet is not published
    with pytest.raises(InvalidInput):
        safety.publish(app_db, datetime.now(SHANGHAI).date())
    # the clock publishes the day before its own
    assert safety.publish_due(app_db, datetime(2018, 3, 31, 10, tzinfo=SHANGHAI)) == 0
    assert safety.publish_due(app_db, datetime(2018, 3, 30, 0, 5, tzinfo=SHANGHAI)) == regions


def test_no_index_is_published_for_a_day_before_the_system_s_first_data(
    app_db: Session, hand_made: None
) -> None:
    """Published days never change: a mistyped year (1926 for 2026) would stand for good, every
    region at 100 for want of a case. A day before the first case received or grid drawn is
    refused, and the clock of a deployment's first day publishes nothing."""
    bind_scope(app_db, Scope.everything())
    first = safety.first_day(app_db)
    assert (
        first
        == app_db.execute(
            text(
                "SELECT least((SELECT min(received_at) FROM cases), "
                "(SELECT min(valid_from) FROM grid))"
            )
        )
        .scalar_one()
        .astimezone(SHANGHAI)
        .date()
    )
    before = first - timedelta(days=1)
    with pytest.raises(InvalidInput, match="早于本系统最早的数据"):
        safety.publish(app_db, before)
    assert not app_db.execute(
        text("SELECT count(*) FROM safety_index WHERE day <= :d"), {"d": before}
    ).scalar_one()
    at = datetime.combine(first, time(0, 5), tzinfo=SHANGHAI)  # (the first day's clock)
    assert safety.publish_due(app_db, at) == 0
    regions = app_db.execute(text("SELECT count(*) FROM region")).scalar_one()
    assert safety.publish_due(app_db, at + timedelta(days=1)) == regions  # (the first day's)


def test_unknown_population_is_said_not_guessed(db: Session) -> None:
    bind_scope(db, Scope.everything())
    db.execute(
        text("""UPDATE grid SET population = NULL
                WHERE village_id = (SELECT id FROM region WHERE code = :v)"""),
        {"v": VILLAGE},
    )
    index = safety.safety_index(db, Scope.everything(), VILLAGE, datetime.now(SHANGHAI).date())
    own = index.region
    assert own.figures.population is None and own.figures.grids_counted == 0
    assert own.deductions["incidence"] == own.deductions["serious"] == 0
    # the township still counts the residents it knows of
    township = safety.safety_index(db, Scope.everything(), TOWNSHIP, index.day).region
    assert township.figures.population == population(db, TOWNSHIP)
    assert township.figures.grids_counted < township.figures.grids
    html = render_page(
        build_safety_map(index=index, outlines={}, href=lambda r: f"/maps/safety?region={r}")
    )
    assert "人口未知：未计发案与重大案件扣分" in html


def test_safety_map_page(anon_client: TestClient, login_as: Headers, hand_made: None) -> None:
    op = login_as("township_operator")
    page = anon_client.get(f"/maps/safety?region={TOWNSHIP}&date={DAY}", headers=op)
    assert page.status_code == 200, page.text
    html = page.text
    assert "平安指数" in html and "尚未发布" in html and "近30天：2018-03-01 至 2018-03-30" in html
    # each village in the ranking opens its own map; the days around it and the level above
    assert f"/maps/safety?region={VILLAGE}&amp;date={DAY}" in html
    assert f"/maps/safety?region={TOWNSHIP}&amp;date=2018-03-29" in html
    assert "办理超期" in html and "计分办法" in html
    assert "<li>办理超期（最多 20 分）：期限已到" in html  # how each deduction is counted
    assert json.dumps("示例数据（虚构城市）") in html  # as on the other maps of the demo (in JS)
    # what the township's own index is made of
    assert "案件 4 件（重大 1）" in html and "期限已到 3 件，未按期办结 2 件" in html
    assert "高频线索 1 件 · 评价 2 件，不满意 1 件" in html
    # the level above: for a desk that may see it, not for the township's own desk
    assert "上一级" not in html
    district = anon_client.get(
        f"/maps/safety?region={TOWNSHIP}&date={DAY}", headers=login_as("district_operator")
    )
    assert f'/maps/safety?region=990102&amp;date={DAY}">上一级' in district.text
    assert "cdn" not in html.lower() and "unpkg" not in html
    # the menu leads here
    assert 'href="/maps/safety"' in anon_client.get("/reports/daily", headers=op).text
    english = anon_client.get(f"/maps/safety?region={TOWNSHIP}&date={DAY}&lang=en", headers=op)
    assert '<html lang="en">' in english.text and "Safety index" in english.text
    assert "Not published yet" in english.text and "Overdue" in english.text
    assert "<li>Overdue (at most 20): share of the cases due" in english.text  # (no '：')
    assert f"/maps/safety?region={VILLAGE}&amp;lang=en&amp;date={DAY}" in english.text


def test_daily_roll_up_carries_the_index(
    anon_client: TestClient, login_as: Headers, hand_made: None
) -> None:
    op = login_as("township_operator")
    s = anon_client.get(URL, headers=op).json()
    village = {c["code"]: c for c in s["children"]}[VILLAGE]
    page = anon_client.get(f"/reports/daily?region={TOWNSHIP}&date={DAY}", headers=op).text
    assert "<h2>平安指数（近30天）（尚未发布，按现有数据计算）</h2>" in page
    row = (
        f'<tr><td>{VILLAGE}</td><td><a href="/reports/daily?region={VILLAGE}&amp;date={DAY}">'
        f"{village['name']}</a></td><td>{village['score']:.1f}</td>"
        f"<td>{village['band_name']}</td>"
    )
    assert row in page
    xlsx = anon_client.get(f"/reports/daily.xlsx?region={TOWNSHIP}&date={DAY}", headers=op)
    sheet = load_workbook(BytesIO(xlsx.content))["平安指数（近30天）"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1] == ("区划代码", "区划", "平安指数", "等级", "较上周", "主要扣分")
    assert rows[2][0] == TOWNSHIP and rows[2][2] == s["region"]["score"]
    assert {r[0]: r[2] for r in rows[3:]}[VILLAGE] == village["score"]
