"""Historical cases from a CSV with Chinese headers, in GCJ-02 — located like locate_point."""

from __future__ import annotations

import re
import warnings
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

import shapely

from gis.datum import wgs84_to_gcj02
from gis.db import make_engine
from gis.edits import relocate_open_cases
from gis.errors import Conflict, InvalidInput
from gis.locate import locate_point
from gis.pii import PiiCipher
from gis.scope import Scope, bind_scope
from gis.settings import Settings
from gis.stats import stats
from gis.worktime import SHANGHAI
from importers import bulk
from importers.cases import (
    SWAPPED_REASON,
    TEMP_BUFFERS,
    CaseOptions,
    _more_temp_buffers,
    _read_points,
    fast_times,
    import_cases,
    match_category,
)
from importers.core import Both, said
from importers.demo import DemoCity
from importers.demo_users import DEMO_PASSWORD
from tests.api.test_command import ROLLUP_MISMATCH
from tests.api.test_edits import _EXCLUSIVE, _waits_for
from tests.conftest import HANDLING_MISMATCH, STATE_COUNT_MISMATCH, app_with

HEADER = "编号,上报时间,经度,纬度,坐标系,类型,类别,描述\n"


def _points(demo_city: DemoCity) -> list[tuple[float, float]]:
    """Inner points, and points on shared edges and vertices of the first grids."""
    out = []
    for g in demo_city.grids[:40]:
        p = g.geom.representative_point()
        out.append((p.x, p.y))
        ring = shapely.get_exterior_ring(shapely.get_geometry(g.geom, 0))
        coords = shapely.get_coordinates(ring)
        out.append(tuple(coords[0]))  # a vertex
        mid = (coords[0] + coords[1]) / 2  # the middle of an edge
        out.append((float(mid[0]), float(mid[1])))
    return out


def _csv(path: Path, points: list[tuple[float, float]], start: int = 1) -> None:
    lines = [HEADER]
    kinds = [("矛盾纠纷", "邻里纠纷"), ("纠纷", "劳资"), ("安全隐患", "消防安全隐患"),
             ("hazard", "gas"), ("dispute", "奇怪的事")]  # fmt: skip
    for i, (lon, lat) in enumerate(points):
        # every other row from a phone map (GCJ-02); the others exact, on edges and vertices
        datum = "GCJ02" if i % 2 else "WGS84"
        glon, glat = wgs84_to_gcj02(lon, lat) if i % 2 else (lon, lat)
        kind, category = kinds[i % len(kinds)]
        when = "2026/3/5 9:30" if i % 2 else "2026-03-05T09:30:00+08:00"
        lines.append(
            f"H{start + i:06d},{when},{float(glon)!r},{float(glat)!r},{datum},{kind},{category},"
            f'"历史案件 {i}，含逗号"\n'
        )
    lines.append(f"H{start + 900000},2026-03-05,NaN,23.0,GCJ02,纠纷,邻里,坐标坏了\n")
    lines.append(f"H{start + 900001},昨天下午,113.9,22.9,GCJ02,纠纷,邻里,时间坏了\n")
    path.write_text("".join(lines), encoding="utf-8")


def _farthest(db: Session, ids: str, lon: float, lat: float) -> float:
    """How far, in metres, the farthest of the cases whose source id is LIKE ``ids`` lies from
    (lon, lat)."""
    return float(
        db.execute(
            text("""SELECT max(ST_Distance(geom::geography,
                                           ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography))
                    FROM cases WHERE source_id LIKE :ids"""),
            {"x": lon, "y": lat, "ids": ids},
        ).scalar_one()
    )


def test_coordinates_are_read_as_numbers_and_as_text_when_a_cell_is_not_one() -> None:
    """Clean coordinates are read as floats at once (three times faster than text converted);
    a word or an empty cell in them reads the file as text, and only that row is bad."""
    clean = "编号,经度,纬度\nA,113.25,23.5\nB,-0.5,1e1\n".encode()
    read = _read_points(clean, ["经度", "纬度"], ("经度", "纬度"))
    assert str(read["经度"].dtype) == "float64" and read["纬度"].tolist() == [23.5, 10.0]
    for bad in ("东经113", "", "NaN"):
        data = f"编号,经度,纬度\nA,113.25,23.5\nB,{bad},23\n".encode()
        read = _read_points(data, ["经度", "纬度"], ("经度", "纬度"))
        lon = pd.to_numeric(read["经度"], errors="coerce").to_numpy(dtype=float)
        assert lon[0] == 113.25 and np.isnan(lon[1])


def test_match_category_by_code_or_name() -> None:
    catalogue = [("neighbour", "dispute", "邻里纠纷", "Neighbour"),
                 ("labour_wage", "dispute", "劳资纠纷（欠薪）", "Labour and wage arrears"),
                 ("fire", "hazard", "消防安全隐患", "Fire safety"),
                 ("dispute_other", "dispute", "其他矛盾纠纷", "Other dispute")]  # fmt: skip
    assert match_category(catalogue, "矛盾纠纷", "邻里") == ("dispute", "neighbour", True)
    assert match_category(catalogue, "纠纷", "邻里纠纷") == ("dispute", "neighbour", True)
    assert match_category(catalogue, "dispute", "neighbour") == ("dispute", "neighbour", True)
    assert match_category(catalogue, None, "劳资") == ("dispute", "labour_wage", True)
    assert match_category(catalogue, "隐患", "Fire safety") == ("hazard", "fire", True)
    assert match_category(catalogue, "纠纷", "外星人") == ("dispute", "dispute_other", False)


@pytest.mark.parametrize(
    ("kind", "category", "code"),
    [("矛盾纠纷/邻里纠纷", "", "neighbour"),  # kind and category in one cell
     ("", "安全隐患-消防", "fire"), ("矛盾纠纷－劳资", None, "labour_wage"),
     ("", "欠薪", "labour_wage"), ("", "拖欠农民工工资", "labour_wage"),  # a ledger's words
     ("矛盾纠纷", "婚恋纠纷", "marriage_family"), ("", "医疗纠纷", "medical"),
     ("", "电动车飞线充电", "fire"), ("安全隐患", "楼道堆物", "fire"), ("隐患", "内涝", "flood"),
     ("", "群租房", "rental_housing"), ("", "民间借贷", "contract_debt"),
     ("安全隐患", "道路积水", "hazard_other"),  # 道路 (traffic) or 积水 (flood): not guessed
     ("", "A-17", "dispute_other")],
)  # fmt: skip
def test_categories_in_the_words_ledgers_use(
    db: Session, kind: str, category: str | None, code: str
) -> None:
    catalogue = [tuple(r) for r in db.execute(
        text("SELECT code, kind::text, name_zh, name_en FROM category"))]  # fmt: skip
    got = match_category(catalogue, kind, category)  # type: ignore[arg-type]
    assert got[1] == code and got[2] == (not code.endswith("_other"))


def test_empty_and_missing_kind_or_category_cells_are_matched_alike(
    db: Session, demo_city: DemoCity, tmp_path: Path
) -> None:
    """An unquoted empty cell (NULL to COPY) and a quoted one ('') are the same empty value:
    matched the same way, warned about once."""
    p = demo_city.grids[0].geom.representative_point()
    rows = [
        ("E1", "", "邻里纠纷"),
        ("E2", '""', "邻里纠纷"),
        ("E3", "隐患", ""),
        ("E4", "隐患", '""'),
    ]
    lines = [HEADER] + [
        f"{sid},2026-03-05 09:30,{p.x!r},{p.y!r},WGS84,{kind},{category},空格\n"
        for sid, kind, category in rows
    ]
    path = tmp_path / "空值.csv"
    path.write_text("".join(lines), encoding="utf-8")
    done = import_cases(db, path, CaseOptions(commit=True))
    assert sorted(done.created) == ["E1", "E2", "E3", "E4"] and not done.rejected
    got = db.execute(
        text("SELECT source_id, kind, category FROM cases WHERE source_id LIKE 'E_' ORDER BY 1")
    ).all()
    assert [tuple(r) for r in got] == [
        ("E1", "dispute", "neighbour"),
        ("E2", "dispute", "neighbour"),
        ("E3", "hazard", "hazard_other"),
        ("E4", "hazard", "hazard_other"),
    ]
    unmatched = [w for w in done.warnings if "类别未能识别" in w]
    assert len(unmatched) == 1 and "hazard_other" in unmatched[0]


def test_a_fresh_session_imports_with_a_bigger_temp_table_cache(
    database_url: str, demo_city: DemoCity, tmp_path: Path
) -> None:
    """PostgreSQL sizes a session's cache for temporary tables at its first one: a fresh session
    gets TEMP_BUFFERS for the import; one that had a temporary table keeps its own cache, and
    the import goes through all the same."""
    p = demo_city.grids[0].geom.representative_point()
    path = tmp_path / "缓存.csv"
    path.write_text(f"{HEADER}T1,2026-03-05 09:30,{p.x!r},{p.y!r},WGS84,纠纷,邻里,缓存\n")
    engine = make_engine(database_url, pool_size=1)  # one connection, opened here
    try:
        with Session(engine) as session, session.begin():
            default = session.execute(text("SHOW temp_buffers")).scalar_one()
            _more_temp_buffers(session)
            assert session.execute(text("SHOW temp_buffers")).scalar_one() == TEMP_BUFFERS
        with Session(engine) as session:  # the same connection, now with its cache in use
            session.execute(text("CREATE TEMP TABLE earlier AS SELECT 1 AS x"))
            session.commit()
            assert import_cases(session, path, CaseOptions()).created == ["T1"]  # a dry run
            session.rollback()
            _more_temp_buffers(session)  # refused by PostgreSQL; the transaction lives on
            assert session.execute(text("SHOW temp_buffers")).scalar_one() == default
            session.rollback()
    finally:
        engine.dispose()


def test_cases_import_locates_like_locate_point_and_is_idempotent(
    db: Session, demo_city: DemoCity, tmp_path: Path
) -> None:
    points = _points(demo_city)
    path = tmp_path / "历史案件.csv"
    _csv(path, points)
    before = db.execute(text("SELECT count(*) FROM cases")).scalar_one()
    dry = import_cases(db, path, CaseOptions())
    assert len(dry.created) == len(points) and not dry.committed
    assert {i.reason.split("：")[1][:4] for i in dry.rejected} == {"坐标无效", "上报时间"}
    assert any("奇怪的事" in w for w in dry.warnings)  # filed under "other", never dropped
    assert db.execute(text("SELECT count(*) FROM cases")).scalar_one() == before
    done = import_cases(db, path, CaseOptions(commit=True))
    assert len(done.created) == len(points) and done.committed
    assert set(done.stages) >= {"COPY file", "insert cases"}
    rows = db.execute(
        text("""SELECT source_id, grid_code, category, ST_X(geom) AS lon, ST_Y(geom) AS lat,
                       datum, reported_at,
                       (SELECT count(*) FROM case_event e WHERE e.case_id = c.id) AS events,
                       -- the land of the demo's split grid was its version before's then
                       (SELECT o.code FROM grid o
                        WHERE o.valid_to IS NOT NULL AND ST_Covers(o.geom, c.geom)
                          AND c.received_at >= o.valid_from
                          AND c.received_at < o.valid_to) AS then_code
                FROM cases c WHERE source_id LIKE 'H%' ORDER BY source_id""")
    ).all()
    assert len(rows) == len(points)
    for row, (lon, lat) in zip(rows, points, strict=True):
        assert abs(row.lon - lon) < 1e-5 and abs(row.lat - lat) < 1e-5  # back to WGS 84
        expected = locate_point(db, row.lon, row.lat)  # the same rules on the same point
        got = row.then_code or (expected.grid.code if expected.grid else None)
        assert row.grid_code == got, (row.source_id, lon, lat)
        assert row.events == 1
    categories = {r.source_id: r.category for r in rows}
    assert categories["H000001"] == "neighbour" and categories["H000005"] == "dispute_other"
    assert rows[0].reported_at.isoformat().startswith("2026-03-05T01:30")  # 09:30 in Shanghai
    assert rows[1].reported_at == rows[0].reported_at  # "2026/3/5 9:30" read as Shanghai time
    again = import_cases(db, path, CaseOptions(commit=True))
    assert again.created == [] and len(again.unchanged) == len(points)


def test_cases_are_located_in_the_grid_of_their_own_time(
    db: Session, demo_city: DemoCity, tmp_path: Path
) -> None:
    grid = demo_city.grids[0]
    p = grid.geom.representative_point()
    # this grid only exists since 2026-06-01; a case of March 2026 predates it
    db.execute(
        text("UPDATE grid SET valid_from = '2026-06-01' WHERE code = :c AND valid_to IS NULL"),
        {"c": grid.code},
    )
    path = tmp_path / "old.csv"
    glon, glat = wgs84_to_gcj02(p.x, p.y)
    path.write_text(
        HEADER
        + f"OLD1,2026-03-05 09:00,{float(glon)},{float(glat)},gcj02,纠纷,邻里,早于网格\n"
        + f"NEW1,2026-07-05 09:00,{float(glon)},{float(glat)},gcj02,纠纷,邻里,晚于网格\n",
        encoding="utf-8",
    )
    import_cases(db, path, CaseOptions(commit=True))
    got = dict(
        db.execute(
            text("SELECT source_id, grid_code FROM cases WHERE source_id IN ('OLD1', 'NEW1')")
        ).all()
    )
    assert got["NEW1"] == grid.code and got["OLD1"] != grid.code


def test_an_open_case_of_a_retired_grid_is_moved_to_the_current_layout(
    db: Session, demo_city: DemoCity, tmp_path: Path
) -> None:
    """A case is located in the grid of its own time; one still open is then on the layout as
    it stands, as a planner's commit moves the open cases (a ``regrid`` event says so): no open
    case is left on a grid that no longer exists, where no worker sees it."""
    grid = demo_city.grids[0]
    p = grid.geom.representative_point()
    retired = "9" * 15  # the same ground under another code until 2026-06-01
    db.execute(
        text("""INSERT INTO grid (code, version, name, village_id, geom, valid_from, valid_to)
                SELECT :old, 1, '旧网格', village_id, geom, '2020-01-01', '2026-06-01'
                FROM grid WHERE code = :c AND valid_to IS NULL"""),
        {"old": retired, "c": grid.code},
    )
    db.execute(
        text("UPDATE grid SET valid_from = '2026-06-01' WHERE code = :c AND valid_to IS NULL"),
        {"c": grid.code},
    )
    path = tmp_path / "open.csv"
    path.write_text(
        "编号,上报时间,经度,纬度,类型,类别,状态\n"
        + f"OPEN1,2026-03-05 09:30,{p.x!r},{p.y!r},纠纷,邻里,处置中\n"
        + f"DONE1,2026-03-05 09:30,{p.x!r},{p.y!r},纠纷,邻里,已结案\n"
        + f"OPEN2,2026-07-05 09:30,{p.x!r},{p.y!r},纠纷,邻里,已受理\n",
        encoding="utf-8",
    )
    dry = import_cases(db, path, CaseOptions())
    assert any("1 件未结案件" in w and retired in w for w in dry.warnings), dry.warnings
    done = import_cases(db, path, CaseOptions(commit=True))
    (moved,) = [w for w in done.warnings if "1 open case moved" in w]
    assert retired in moved
    got = {
        r.source_id: r
        for r in db.execute(
            text("""SELECT c.source_id, c.grid_code, g.valid_to IS NULL AS current,
                           (SELECT string_agg(e.actor || ' ' || e.note, '; ') FROM case_event e
                            WHERE e.case_id = c.id AND e.action = 'regrid') AS regrid
                    FROM cases c JOIN grid g ON g.id = c.grid_id
                    WHERE c.source_id IN ('OPEN1', 'DONE1', 'OPEN2')""")
        )
    }
    assert (got["OPEN1"].grid_code, got["OPEN1"].current) == (grid.code, True)
    assert got["OPEN1"].regrid == f"import 网格调整：{retired} → {grid.code}"
    assert (got["DONE1"].grid_code, got["DONE1"].current) == (retired, False)  # history
    assert (got["OPEN2"].grid_code, got["OPEN2"].regrid) == (grid.code, None)


def test_a_committing_import_is_located_before_a_layout_commit_or_after_it(
    db: Session, demo_city: DemoCity, engine: Engine, tmp_path: Path
) -> None:
    """As a report does (migration 0041): the import takes the layout lock shared before it
    locates, so a planner's commit under way is waited for (and one that starts later waits for
    the import), and the commit's moving of open cases never misses the import's.  A dry run
    writes nothing and waits for nobody."""
    path = tmp_path / "wait.csv"
    _csv(path, _points(demo_city)[:3])
    waited, dry = _waits_for(engine, _EXCLUSIVE, lambda: import_cases(db, path, CaseOptions()))
    assert not waited and dry.created and not dry.committed
    waited, done = _waits_for(
        engine, _EXCLUSIVE, lambda: import_cases(db, path, CaseOptions(commit=True))
    )
    assert waited and len(done.created) == 3


# each spelling of a time a file may use, the instant it names (UTC), and whether pandas reads
# it (fast_times) or PostgreSQL (wangge_read_time)
TIMES = [
    ("2026-03-05 09:30:00", "2026-03-05 01:30:00", True),  # the usual
    ("2026-3-5 9:30:00", "2026-03-05 01:30:00", True),  # unpadded
    ("2026/03/05 09:30", "2026-03-05 01:30:00", True),
    ("2026/3/5 9:30", "2026-03-05 01:30:00", True),
    ("2026-03-05", "2026-03-04 16:00:00", True),  # midnight in Shanghai (the "-05" is no offset)
    ("2026/03/05 23:59:59", "2026-03-05 15:59:59", True),
    ("2026-03-05T09:30:00+08:00", "2026-03-05 01:30:00", True),  # with an offset
    ("2026-03-05T01:30:00Z", "2026-03-05 01:30:00", True),
    ("2026-03-05 09:30:00+0800", "2026-03-05 01:30:00", True),
    ("2026-03-05T09:30:00", "2026-03-05 01:30:00", True),
    ("1992-01-01 00:00:00", "1991-12-31 16:00:00", True),  # UTC+8 all year from 1992
    ("2300-01-01 08:00:00", "2300-01-01 00:00:00", True),  # past pandas' old nanosecond range
    ("1991-12-31 23:59:59", "1991-12-31 15:59:59", True),  # (ledger_times: time-zone rules)
    ("1990-07-01 10:00:00", "1990-07-01 01:00:00", True),  # summer time (UTC+9) that year
    ("1990-07-01T10:00:00+08:00", "1990-07-01 02:00:00", True),  # its offset says otherwise
    ("2026-03-05 09:30-08", "2026-03-05 17:30:00", False),  # a short offset
    (" 2026-03-05 09:30:00 ", "2026-03-05 01:30:00", True),  # blanks around
    ("2026-03-05 09:30:00.250", "2026-03-05 01:30:00.250", False),  # a fraction of a second
    ("2026-03-05 24:00:00", "2026-03-05 16:00:00", True),  # midnight at the end of the day
    ("2026-02-30 10:00:00", None, False),  # no such day: the row is rejected, not the file
    ("2026-03-05 25:00", None, False),
    ("2026-03-05 09:60", None, False),
    ("2026-03-05-08", None, False),  # an offset needs a time
    # as ledgers spell them (ledger_times)
    ("2026年3月5日 9:30", "2026-03-05 01:30:00", True),
    ("2026年3月5日9时30分", "2026-03-05 01:30:00", True),
    ("2026年03月05日 09时30分15秒", "2026-03-05 01:30:15", True),
    ("2026年3月5日", "2026-03-04 16:00:00", True),
    ("2026.3.5 14:30", "2026-03-05 06:30:00", True),
    ("2026/3/5 下午2:30", "2026-03-05 06:30:00", True),
    ("2026年3月5日 晚上9点", "2026-03-05 13:00:00", True),
    ("2026年3月5日 上午9点", "2026-03-05 01:00:00", True),
    ("2026-03-05 9：30", "2026-03-05 01:30:00", True),  # a full-width colon
    ("20260305", "2026-03-04 16:00:00", True),  # a system's export
    ("20260305093000", "2026-03-05 01:30:00", True),
    ("20260305 0930", "2026-03-05 01:30:00", True),
    ("46086.5", "2026-03-05 04:00:00", True),  # Excel's day count (a date cell saved as a number)
    ("1772674200", "2026-03-05 01:30:00", True),  # Unix seconds
    ("1772674200000", "2026-03-05 01:30:00", True),  # Unix milliseconds
    ("2026年13月5日", None, False),
    ("2026年2月30日", None, False),
    ("12345", None, False),  # a number that is no time: too early for Excel's days
    ("昨天下午", None, False),
]


def test_times_read_by_pandas_or_postgresql_name_the_same_instant(
    db: Session, demo_city: DemoCity, tmp_path: Path
) -> None:
    """Whichever side reads a time, the case gets the instant it names: with its offset if it
    has one, else as a time in Shanghai; a time that names none rejects its row only."""
    fast = fast_times(pd.Series([t for t, _, _ in TIMES]))
    by_pandas = [bool(at != np.iinfo(np.int64).max) for at in fast]
    assert by_pandas == [f for _, _, f in TIMES]
    lon, lat = _points(demo_city)[0]
    path = tmp_path / "times.csv"
    path.write_text(
        HEADER
        + "".join(f'T{i:03d},"{t}",{lon!r},{lat!r},WGS84,纠纷,邻里,\n' for i, (t, _, _) in
                  enumerate(TIMES)),
        encoding="utf-8",
    )  # fmt: skip
    report = import_cases(db, path, CaseOptions(commit=True))
    unreadable = {f"T{i:03d}" for i, (_, utc, _) in enumerate(TIMES) if utc is None}
    # read right, and then refused as not received yet (2300: past pandas' nanosecond range)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    future = {f"T{i:03d}" for i, (_, utc, _) in enumerate(TIMES) if utc and utc > now}
    assert future
    assert {r.code for r in report.rejected} == unreadable | future
    assert all(
        ("上报时间在未来" if r.code in future else "上报时间无法识别") in r.reason
        for r in report.rejected
    )
    got = dict(
        db.execute(
            text("""SELECT source_id, to_char(reported_at AT TIME ZONE 'UTC',
                                              'YYYY-MM-DD HH24:MI:SS.MS')
                    FROM cases WHERE source_id LIKE 'T%'""")
        ).all()
    )
    for i, (spelled, utc, _) in enumerate(TIMES):
        if utc is not None and f"T{i:03d}" not in future:
            assert got[f"T{i:03d}"] == utc + ("" if "." in utc else ".000"), spelled


def test_where_each_case_came_from_is_read_in_the_usual_words(
    db: Session, demo_city: DemoCity, tmp_path: Path
) -> None:
    """The 来源 column, as city systems spell it; a word it cannot read is imported as 其他
    (other) with a warning, never dropped.  A file without the column: all ``other``."""
    p = demo_city.grids[0].geom.representative_point()
    rows = [
        ("S1", "12345热线"), ("S2", "群众来访"), ("S3", "网格员"), ("S4", "110分流"),
        ("S5", "信访"), ("S6", "微信"), ("S7", "路人甲"), ("S8", ""), ("S9", " Hotline "),
    ]  # fmt: skip
    lines = ["编号,上报时间,经度,纬度,类型,类别,来源\n"] + [
        f"{sid},2026-03-05 09:30,{p.x!r},{p.y!r},纠纷,邻里,{channel}\n" for sid, channel in rows
    ]
    path = tmp_path / "来源.csv"
    path.write_text("".join(lines), encoding="utf-8")
    done = import_cases(db, path, CaseOptions(commit=True))
    assert done.mapping["channel"] == "来源" and len(done.created) == 9
    sql = "SELECT source_id, source::text FROM cases WHERE source_id LIKE 'S_'"
    got = {sid: source for sid, source in db.execute(text(sql))}
    assert got == {
        "S1": "hotline", "S2": "walk_in", "S3": "grid_worker", "S4": "police_diversion",
        "S5": "petition", "S6": "online", "S7": "other", "S8": "other", "S9": "hotline",
    }  # fmt: skip
    (unknown,) = [w for w in done.warnings if "来源" in w]
    assert "路人甲" in unknown and "其他" in unknown
    assert done.sources == {
        "hotline": 2, "walk_in": 1, "grid_worker": 1, "police_diversion": 1, "petition": 1,
        "online": 1, "other": 2,
    }  # fmt: skip
    assert "案件来源：网格员上报 1 件，群众来访 1 件，12345热线 2 件" in done.summary()
    assert "sources: grid worker: 1, walk-in: 1, 12345 hotline: 2" in done.summary("en")
    plain = tmp_path / "无来源.csv"
    plain.write_text(HEADER + f"T1,2026-03-05 09:30,{p.x!r},{p.y!r},WGS84,纠纷,邻里,无\n")
    assert import_cases(db, plain, CaseOptions(commit=True)).created == ["T1"]
    stored = db.execute(text("SELECT source::text FROM cases WHERE source_id = 'T1'")).scalar()
    assert stored == "other"


@pytest.mark.parametrize("bulk_path", [False, True])
def test_a_work_order_number_is_kept_as_given_or_left_out_with_a_warning(
    db: Session,
    demo_city: DemoCity,
    tmp_path: Path,
    bulk_path: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The 工单号 column (来源编号): trimmed; blank is none; one that is not a number (too long,
    a control character) is left out with a warning, and its case imported all the same."""
    p = demo_city.grids[0].geom.representative_point()
    rows = [("W1", " GD20260305001 "), ("W2", ""), ("W3", "9" * 65), ("W4", '"GD\t7"')]
    lines = ["编号,上报时间,经度,纬度,类型,类别,来源,工单号\n"] + [
        f"{sid},2026-03-05 09:30,{p.x!r},{p.y!r},纠纷,邻里,12345热线,{ref}\n" for sid, ref in rows
    ]
    path = tmp_path / "工单.csv"
    path.write_text("".join(lines), encoding="utf-8")
    monkeypatch.setattr(bulk, "MIN_SHARE", 0)  # (the demo's cases outnumber these)
    done = import_cases(db, path, CaseOptions(commit=True, bulk=bulk_path))
    assert not any("未按 --bulk" in w for w in done.warnings)
    assert done.mapping["source_ref"] == "工单号" and len(done.created) == 4
    sql = "SELECT source_id, source_ref FROM cases WHERE source_id LIKE 'W_'"
    got = dict(db.execute(text(sql)).all())
    assert got == {"W1": "GD20260305001", "W2": None, "W3": None, "W4": None}
    (left_out,) = [w for w in done.warnings if "来源编号" in w]
    assert left_out.startswith("2 行的来源编号")


def test_statuses_are_read_in_their_words_and_an_unknown_one_is_closed_with_a_warning(
    db: Session, demo_city: DemoCity, tmp_path: Path
) -> None:
    p = demo_city.grids[0].geom.representative_point()
    rows = [("Z1", "处置中"), ("Z2", "已结案"), ("Z3", "resolved"), ("Z4", "待定"), ("Z5", "")]
    lines = ["编号,上报时间,经度,纬度,类型,类别,状态\n"] + [
        f"{sid},2026-03-05 09:30,{p.x!r},{p.y!r},纠纷,邻里,{status}\n" for sid, status in rows
    ]
    path = tmp_path / "状态.csv"
    path.write_text("".join(lines), encoding="utf-8")
    done = import_cases(db, path, CaseOptions(commit=True))
    sql = "SELECT source_id, status FROM cases WHERE source_id LIKE 'Z_'"
    got = {sid: status for sid, status in db.execute(text(sql))}
    assert got == {
        "Z1": "in_progress", "Z2": "closed", "Z3": "resolved", "Z4": "closed", "Z5": "closed"
    }  # fmt: skip
    (unknown,) = [w for w in done.warnings if "状态" in w]
    assert "待定" in unknown and "已结案" in unknown


def test_settled_on_the_spot_is_read_from_its_column(
    db: Session, demo_city: DemoCity, tmp_path: Path
) -> None:
    """就地化解: a ledger's 是否就地化解 column gives a settled case its on_site event (the
    roll-up's 就地化解率 counts it); said of a case still open, it is not, with a warning."""
    from datetime import datetime

    from gis.scope import Scope
    from gis.stats import stats

    p = demo_city.grids[0].geom.representative_point()
    rows = [("S1", "已结案", "是"), ("S2", "已结案", "否"), ("S3", "处置中", "是"),
            ("S4", "已办结", " 就地化解 "), ("S5", "已结案", "")]  # fmt: skip
    lines = ["编号,上报时间,经度,纬度,类型,类别,状态,是否就地化解\n"] + [
        f"{sid},2018-03-05 09:30,{p.x!r},{p.y!r},纠纷,邻里,{status},{said}\n"
        for sid, status, said in rows
    ]
    path = tmp_path / "化解台账.csv"
    path.write_text("".join(lines), encoding="utf-8")
    done = import_cases(db, path, CaseOptions(commit=True))
    assert done.mapping["on_site"] == "是否就地化解" and len(done.created) == 5
    on_site = db.execute(
        text("""SELECT c.source_id, e.from_status, e.to_status, e.at = c.received_at
                FROM case_event e JOIN cases c ON c.id = e.case_id
                WHERE e.action = 'on_site' AND c.source_id LIKE 'S_' ORDER BY 1""")
    ).all()
    assert on_site == [("S1", "registered", "resolved", True),
                       ("S4", "registered", "resolved", True)]  # fmt: skip
    assert any(w.startswith("2 件记为网格员就地化解") for w in done.warnings)
    assert any(w.startswith("1 行写明就地化解") for w in done.warnings)
    # what the roll-ups read is kept on each case: S4's import event (to resolved at its
    # receipt) written by the import itself, the on_site events by their trigger
    kept = db.execute(
        text("""SELECT source_id, first_resolved_at = received_at, on_site FROM cases
                WHERE source_id LIKE 'S_' ORDER BY 1""")
    ).all()
    assert kept == [("S1", True, True), ("S2", None, False), ("S3", None, False),
                    ("S4", True, True), ("S5", None, False)]  # fmt: skip
    assert db.execute(text(HANDLING_MISMATCH)).scalar_one() == 0
    day = datetime(2018, 3, 5, tzinfo=SHANGHAI)
    township = demo_city.grids[0].village_code[:9]
    figures = stats(db, Scope.everything(), township, day, day.replace(day=6)).total
    assert (figures.cases, figures.on_site) == (5, 2)


def test_a_gbk_csv_is_read_when_its_header_says_so(
    db: Session, demo_city: DemoCity, tmp_path: Path
) -> None:
    """Excel and WPS on a Chinese Windows save "CSV" in GBK.  Its Chinese field names, read as
    GB 18030, give it away: read so, and said in the report.  A file that is not UTF-8 and whose
    header names no field (another encoding: nothing comes out readable) still asks for its
    encoding, never imported garbled."""
    path = tmp_path / "gbk.csv"
    lon, lat = _points(demo_city)[0]
    path.write_bytes(
        (HEADER + f"G1,2026-03-05 09:00,{lon},{lat},wgs84,纠纷,邻里,国标编码\n").encode("gbk")
    )
    read = import_cases(db, path, CaseOptions())
    assert read.created == ["G1"]
    assert any("GBK（GB18030）" in w for w in read.warnings)
    stored = import_cases(db, path, CaseOptions(commit=True))
    assert stored.created == ["G1"] and not any("GBK" in w for w in stored.problems)
    description = db.execute(text("SELECT description FROM cases WHERE source_id = 'G1'"))
    assert description.scalar_one() == "国标编码"
    named = import_cases(db, path, CaseOptions(encoding="GBK"))  # (as before: no guess to tell)
    assert named.unchanged == ["G1"] and not any("GB18030" in w for w in named.warnings)
    big5 = tmp_path / "big5.csv"
    traditional = "編號,上報時間,經度,緯度,坐標系,類型,類別,描述\n"  # (in Big5)
    big5.write_bytes(
        (traditional + "B1,2026-03-05 09:00,113.9,22.5,wgs84,糾紛,鄰里,繁體\n").encode("big5")
    )
    from gis.errors import InvalidInput

    with pytest.raises(InvalidInput) as e:
        import_cases(db, big5, CaseOptions())
    assert "--encoding GBK" in str(e.value)


def test_imported_deadlines_equal_wangge_work_add(
    db: Session, demo_city: DemoCity, tmp_path: Path
) -> None:
    """The importer computes deadlines set-based; they must be wangge_work_add's to the second,
    at window edges, at midnight, over holidays (2026-09-25, 10-01…10-07) and a make-up Saturday
    (10-10), for every allowance from 4 to 160 working hours."""
    p = demo_city.grids[0].geom.representative_point()
    categories = [("hazard", "fire"), ("dispute", "neighbour"), ("hazard", "rental_housing"),
                  ("dispute", "property_mgmt"), ("dispute", "labour_wage")]  # fmt: skip
    moments = [f"2026-09-{d:02d}" for d in range(23, 31)]
    moments = [f"{day} {h:02d}:{m:02d}:00" for day in moments + [f"2026-10-{d:02d}" for d in
               range(1, 14)] for h in range(24) for m in (0, 30)]  # fmt: skip
    moments += ["2026-09-28 08:29:59", "2026-09-28 12:00:01", "2026-09-28 13:29:59.5",
                "2026-09-28 17:59:59", "2026-09-30 18:00:00.000001", "2026-10-10 08:30:00+08:00",
                "2026-10-09 23:59:59", "2026-09-28 09:30:00Z"]  # fmt: skip
    lines = [HEADER]
    for i, at in enumerate(moments):
        kind, category = categories[i % len(categories)]
        lines.append(f"DL{i:05d},{at},{p.x!r},{p.y!r},WGS84,{kind},{category},期限\n")
    path = tmp_path / "期限.csv"
    path.write_text("".join(lines), encoding="utf-8")
    done = import_cases(db, path, CaseOptions(commit=True))
    assert len(done.created) == len(moments) and not done.rejected
    row = db.execute(
        text("""SELECT count(*) AS n,
                       count(*) FILTER (WHERE deadline IS DISTINCT FROM
                                        wangge_work_add(received_at, allowed_hours)) AS wrong,
                       count(DISTINCT allowed_hours) AS allowances,
                       count(*) FILTER (WHERE (deadline AT TIME ZONE 'Asia/Shanghai')::time
                                        = '18:00') AS at_day_end
                FROM cases WHERE source_id LIKE 'DL%'""")
    ).one()
    assert row.n == len(moments) and row.allowances == 5
    assert row.at_day_end > 0  # a deadline that ends exactly at 18:00 is among them
    assert row.wrong == 0


_IMPORTED = """SELECT source_id, kind, category, severity, grid_code, village_code, township_code,
                      center_id, assign_method, status, reported_at, deadline, closed_at,
                      left(code, 12) AS county_day
               FROM cases WHERE source_id LIKE 'H%' ORDER BY source_id"""


def _index_definitions(db: Session) -> set[str]:
    """The case tables' indexes and constraints, as PostgreSQL prints them."""
    return set(
        db.execute(
            text("""SELECT indexdef FROM pg_indexes WHERE tablename = ANY(:t)
                    UNION ALL
                    SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
                    WHERE conrelid = ANY(CAST(:t AS regclass[]))"""),
            {"t": list(bulk.TABLES)},
        ).scalars()
    )


def _files(db: Session) -> dict[str, int]:
    """Each case table's file (its relfilenode)."""
    return dict(
        db.execute(
            text("""SELECT t, pg_relation_filenode(CAST(t AS regclass))
                    FROM unnest(CAST(:t AS text[])) t"""),
            {"t": list(bulk.TABLES)},
        ).all()
    )


@pytest.mark.parametrize("rewrite", [False, True], ids=["in-place", "rewritten"])
def test_bulk_import_writes_the_same_cases_and_rebuilds_indexes_and_rollups(
    db: Session,
    demo_city: DemoCity,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    rewrite: bool,
) -> None:
    monkeypatch.setattr(bulk, "MIN_SHARE", 0)  # the demo's cases outnumber the file's
    # and a rewrite into new files would not pay off either; ``rewritten`` forces it
    monkeypatch.setattr(bulk, "REWRITE_SHARE", 1e6 if rewrite else 0)
    minimal = db.execute(text("SELECT current_setting('wal_level') = 'minimal'")).scalar_one()
    path = tmp_path / "bulk.csv"
    _csv(path, _points(demo_city))
    indexes = _index_definitions(db)
    assert len(indexes) > 15
    before = db.execute(text("SELECT count(*) FROM cases")).scalar_one()
    dry = import_cases(db, path, CaseOptions(bulk=True))  # a dry run changes nothing
    assert dry.created and not dry.committed
    assert db.execute(text("SELECT count(*) FROM cases")).scalar_one() == before
    assert _index_definitions(db) == indexes

    normal = db.begin_nested()
    import_cases(db, path, CaseOptions(commit=True))
    expected = db.execute(text(_IMPORTED)).all()
    normal.rollback()
    files = _files(db)
    done = import_cases(db, path, CaseOptions(commit=True, bulk=True))
    assert "rebuild indexes, keys + roll-ups (bulk)" in done.stages
    # the tables the insert adds to are in new files (then written without WAL) only if asked
    moved = {t for t, f in _files(db).items() if f != files[t]}
    assert moved >= ({"cases", "case_event"} if rewrite and minimal else set())
    assert "cases" not in moved or rewrite
    assert not db.execute(text("SELECT bool_or(indisclustered) FROM pg_index")).scalar_one()
    assert db.execute(text(_IMPORTED)).all() == expected
    assert len(expected) == len(done.created) > 100
    assert _index_definitions(db) == indexes  # every index back, from its own definition
    assert db.execute(text(ROLLUP_MISMATCH)).scalar_one() == 0  # counted again, exactly
    assert db.execute(text(STATE_COUNT_MISMATCH)).scalar_one() == 0  # counted as inserted
    assert db.execute(text(HANDLING_MISMATCH)).scalar_one() == 0
    # ids and code numbers drawn as one block, in the cases' time order, the sequences past it
    numbers = db.execute(
        text("""SELECT count(*) AS n,
                       count(*) FILTER (WHERE id - first_id <> rn - 1) AS ids_off,
                       count(*) FILTER (WHERE number - first_number <> rn - 1) AS codes_off,
                       count(*) FILTER (WHERE code <> wangge_case_code_of(received_at,
                                                                          district_code, number))
                           AS misspelt,
                       count(DISTINCT public_token) AS tokens,
                       count(*) FILTER (WHERE public_token !~ '^[0-9a-f]{32}$') AS odd_tokens,
                       max(id) < nextval('cases_id_seq') AS ids_ahead,
                       max(number) < nextval('case_code_seq') AS codes_ahead
                FROM (SELECT id, code, received_at, district_code, public_token,
                             CAST(substr(code, 13) AS bigint) AS number,
                             row_number() OVER (ORDER BY received_at, source_id) AS rn,
                             min(id) OVER () AS first_id,
                             min(CAST(substr(code, 13) AS bigint)) OVER () AS first_number
                      FROM cases WHERE source_id LIKE 'H%') c""")
    ).one()
    assert numbers.n == len(expected) == numbers.tokens
    assert numbers.ids_off == numbers.codes_off == numbers.misspelt == numbers.odd_tokens == 0
    assert numbers.ids_ahead and numbers.codes_ahead

    # the roll-up trigger is on again: the next insert is counted as usual
    db.execute(
        text("""INSERT INTO cases (code, kind, category, severity, description, datum,
                                   received_lon, received_lat, geom, reported_at, received_at,
                                   grid_code, village_code, township_code, district_code,
                                   city_code, assign_method)
                SELECT 'BULK' || c.id, c.kind, c.category, c.severity, c.description, c.datum,
                       c.received_lon, c.received_lat, c.geom, c.reported_at,
                       c.received_at - interval '3 days', c.grid_code, c.village_code,
                       c.township_code, c.district_code, c.city_code, c.assign_method
                FROM cases c WHERE c.source_id LIKE 'H%'""")
    )
    assert db.execute(text(ROLLUP_MISMATCH)).scalar_one() == 0
    assert db.execute(text(STATE_COUNT_MISMATCH)).scalar_one() == 0
    again = import_cases(db, path, CaseOptions(commit=True, bulk=True))
    assert again.created == [] and len(again.unchanged) == len(expected)
    assert again.assigned == {} and "分派方式" not in again.summary("zh")
    # nothing new: nothing to rebuild, and the report says why
    assert "rebuild indexes, keys + roll-ups (bulk)" not in again.stages
    assert any("--bulk not used: 0 new" in w for w in again.warnings)


def test_bulk_import_of_a_few_cases_into_many_takes_the_normal_path(
    db: Session,
    engine: Engine,
    demo_city: DemoCity,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bulk, "LOCK_TIMEOUT", "200ms")  # a lock attempt would fail the test
    path = tmp_path / "few.csv"
    _csv(path, _points(demo_city)[:20])
    stored = db.execute(text("SELECT count(*) FROM cases")).scalar_one()
    assert stored * bulk.MIN_SHARE > 20  # few: bulk would not pay off
    normal = db.begin_nested()
    import_cases(db, path, CaseOptions(commit=True))
    expected = db.execute(text(_IMPORTED)).all()
    normal.rollback()
    with engine.connect() as other:  # reports and maps go on: the tables are not locked
        other.execute(text("SELECT 1 FROM cases LIMIT 1"))
        done = import_cases(db, path, CaseOptions(commit=True, bulk=True))
        other.rollback()
    assert "rebuild indexes, keys + roll-ups (bulk)" not in done.stages
    assert db.execute(text(_IMPORTED)).all() == expected and len(expected) == 20
    assert any(f"案件表已有 {stored:,} 件" in w and "--bulk not used" in w for w in done.warnings)
    # the summary counts the created cases by how they were assigned, by name
    assert sum(done.assigned.values()) == 20
    assert f"落在网格内 {done.assigned['covers']} 件" in done.summary("zh")
    assert f"inside a grid: {done.assigned['covers']}" in done.summary("en")


def test_bulk_import_refuses_at_once_when_the_tables_are_in_use(
    db: Session,
    engine: Engine,
    demo_city: DemoCity,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bulk, "LOCK_TIMEOUT", "200ms")
    monkeypatch.setattr(bulk, "MIN_SHARE", 0)
    path = tmp_path / "busy.csv"
    _csv(path, _points(demo_city)[:3])
    with engine.connect() as other:  # somebody's open transaction has read the cases
        other.execute(text("SELECT 1 FROM cases LIMIT 1"))
        with pytest.raises(Conflict, match="--bulk") as refused:
            import_cases(db, path, CaseOptions(commit=True, bulk=True))
        other.rollback()
        # or a planner's edit in progress: the grids the cases refer to must hold still
        other.execute(text("UPDATE grid SET name = name WHERE id = (SELECT min(id) FROM grid)"))
        with pytest.raises(Conflict, match="--bulk"):
            import_cases(db, path, CaseOptions(commit=True, bulk=True))
        other.rollback()
    assert "without --bulk" in refused.value.localized("en")
    imported = text("SELECT count(*) FROM cases WHERE source_id LIKE 'H%'")
    assert db.execute(imported).scalar_one() == 0
    assert import_cases(db, path, CaseOptions(commit=True)).created  # the normal path still works


def test_a_file_of_cases_with_a_header_and_no_rows_says_so(db: Session, tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_text(HEADER, encoding="utf-8")  # was a traceback: a reduction over no rows
    with pytest.raises(InvalidInput, match="只有表头，没有数据行"):
        import_cases(db, path, CaseOptions())


@pytest.mark.parametrize(
    ("name", "content", "encoding", "field", "words"),
    [
        ("empty.csv", b"", None, "file", "没有任何数据行"),
        ("bom.csv", b"\xef\xbb\xbf", None, "file", "没有任何数据行"),
        ("damaged.xlsx", b"PK\x03\x04 not really a zip", None, "file", "不是有效的 Excel 文件"),
        ("random.xlsx", bytes(range(256)) * 8, None, "file", "不是有效的 Excel 文件"),
        ("cases.csv", HEADER.encode(), "no-such-encoding", "encoding", "不认识的编码"),
        ("cases.csv", "编号\n甲\n".encode(), "ascii", "encoding", "无法按 ascii 读取"),
    ],
)
def test_a_file_that_cannot_be_read_says_why(
    db: Session, tmp_path: Path, name: str, content: bytes, encoding: str | None, field: str,
    words: str,
) -> None:  # fmt: skip
    """Each was a traceback (pandas' EmptyDataError, 'zip', LookupError, UnicodeDecodeError)."""
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidInput, match=words) as e:
        import_cases(db, path, CaseOptions(encoding=encoding))
    assert e.value.extra["field"] == field


def test_a_quote_left_open_is_refused_with_its_line_not_swallowing_rows(
    db: Session, demo_city: DemoCity, tmp_path: Path
) -> None:
    """A description opening a double quote it never closes made the rows after it its text:
    2 cases "read" of 6, and nothing said.  Now the file is refused with the line of the cell
    and how many rows it took (the workers' roster alike); a cell taking the rest of the file,
    past the csv module's 128 KB, was a traceback.  A quoted cell over lines is still read."""
    from importers.roster import RosterOptions, import_workers

    (lon, lat) = _points(demo_city)[0]
    rows = [f"Q{i},2026-01-0{i} 10:00,{lon},{lat},WGS84,纠纷,邻里,描述{i}\n" for i in range(1, 7)]
    rows[1] = rows[1].replace("描述2", '"邻居说：""太吵了')
    path = tmp_path / "cases.csv"
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    opened = r"^第 3 行有一个以英文双引号开头的单元格没有闭合：其后 4 行"
    for bulk_path in (False, True):
        with pytest.raises(InvalidInput, match=opened):
            import_cases(db, path, CaseOptions(commit=True, bulk=bulk_path))
    assert not db.execute(text("SELECT count(*) FROM cases WHERE source_id LIKE 'Q_'")).scalar()
    path.write_text(HEADER + rows[0] + rows[1][:-1] + "x" * 140_000 + "\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"^第 3 行.*其后的全部内容"):
        import_cases(db, path, CaseOptions())
    roster = tmp_path / "workers.csv"
    roster.write_text(
        "姓名,手机号码,岗位,所属社区,网格编码\n"
        '张三,13800000001,网格员,990102001001,"990102001001001\n'
        "李四,13800000002,网格员,990102001001,990102001001002\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidInput, match=r"^第 2 行.*其后 1 行"):
        import_workers(db, roster, RosterOptions())
    path.write_text(HEADER + rows[0].replace("描述1", '"两行\n的描述"'), encoding="utf-8")
    assert len(import_cases(db, path, CaseOptions()).created) == 1
    with pytest.raises(InvalidInput, match="是一个文件夹，不是文件") as e:  # (a traceback)
        import_cases(db, tmp_path, CaseOptions())
    assert e.value.extra["field"] == "file"


def test_a_datum_option_that_names_none_is_refused_before_the_rows(
    db: Session, tmp_path: Path
) -> None:
    """Each row was rejected as 'unknown datum' (a million rejections for one typo); 'GCJ-02' or
    '高德' are the words people use for gcj02."""
    path = tmp_path / "cases.csv"
    path.write_text(HEADER + "A1,2026-01-01 10:00,113.95,22.95,,,,\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="--datum 'mars' 无法识别"):
        import_cases(db, path, CaseOptions(datum="mars"))
    for word in ("GCJ-02", "高德"):
        assert not import_cases(db, path, CaseOptions(datum=word)).rejected


def test_points_whose_datum_nobody_gave_are_imported_with_a_warning_first(
    db: Session, demo_city: DemoCity, tmp_path: Path
) -> None:
    """No 坐标系 column and no ``--datum``: the points are taken as WGS 84, and the report's
    first warning says so — coordinates from Amap, Tencent or Baidu would land hundreds of
    metres off, in other grids, and a dry run is where that must show.  A column or the option
    says it: no warning."""
    from importers.core import DATUM_UNDECLARED

    lon, lat = _points(demo_city)[0]
    bare = tmp_path / "bare.csv"
    bare.write_text(
        "编号,上报时间,经度,纬度,类型,类别,描述\n"
        f"D1,2026-03-05 09:00,{lon},{lat},纠纷,邻里,无坐标系列\n",
        encoding="utf-8",
    )
    unsaid = import_cases(db, bare, CaseOptions())
    assert unsaid.created == ["D1"] and unsaid.warnings[0] == DATUM_UNDECLARED
    assert "坐标系未说明" in unsaid.summary()
    assert DATUM_UNDECLARED not in import_cases(db, bare, CaseOptions(datum="wgs84")).warnings
    column = tmp_path / "column.csv"
    column.write_text(
        HEADER + f"D2,2026-03-05 09:00,{lon},{lat},wgs84,纠纷,邻里,有坐标系列\n", encoding="utf-8"
    )
    assert DATUM_UNDECLARED not in import_cases(db, column, CaseOptions()).warnings


def test_a_case_reported_in_the_future_or_on_an_empty_date_is_rejected_and_nan_says_nothing(
    db: Session, demo_city: DemoCity, tmp_path: Path
) -> None:
    """A time in the future, or an empty date a spreadsheet or database wrote as a time
    (1899-12-30, 1900-01-01, 1970-01-01), rejects its row and says why; a case of 1985 is
    imported.  NaN and ∞ print nothing on the terminal."""
    lon, lat = _points(demo_city)[0]
    path = tmp_path / "cases.csv"
    path.write_text(
        HEADER
        + f"F1,2026-03-05 09:30,{lon},{lat},WGS84,纠纷,邻里,昨天\n"
        + f"F2,2999-03-05 09:30,{lon},{lat},WGS84,纠纷,邻里,时钟错了\n"
        + "F3,2026-03-05 09:30,inf,NaN,GCJ02,纠纷,邻里,坐标坏了\n"
        + f"F4,1899-12-30,{lon},{lat},WGS84,纠纷,邻里,Excel 的空日期\n"
        + f"F5,1900-01-01 00:00:00,{lon},{lat},WGS84,纠纷,邻里,空日期\n"
        + f"F6,1970-01-01T00:00:00Z,{lon},{lat},WGS84,纠纷,邻里,Unix 的 0\n"
        + f"F7,1985-06-01 10:00,{lon},{lat},WGS84,纠纷,邻里,老档案\n"
        + f"F8,2026-03-05 09:30,{lat},{lon},WGS84,纠纷,邻里,经纬度填反\n",
        encoding="utf-8",
    )
    with warnings.catch_warnings():  # numpy's, over the NaN and ∞, were printed to the user
        warnings.simplefilter("error", RuntimeWarning)
        report = import_cases(db, path, CaseOptions())
    assert sorted(report.created) == ["F1", "F7"]
    empty = "上报时间早于 1980 年，多为空日期"
    assert [(i.code, said(i.reason).split("（")[0]) for i in report.rejected] == [
        ("F2", "第 3 行：上报时间在未来"),
        ("F3", "第 4 行：坐标无效"),
        ("F4", f"第 5 行：{empty}"),
        ("F5", f"第 6 行：{empty}"),
        ("F6", f"第 7 行：{empty}"),
        (
            "F8",
            f"第 9 行：{SWAPPED_REASON.zh}",
        ),
    ]
    # a rejected point names its cells as the file has them
    assert said(report.rejected[1].reason).endswith("（经度 'inf'，纬度 'NaN'）")
    assert said(report.rejected[1].reason, "en") == (
        "line 4: bad coordinates (lon 'inf', lat 'NaN')"
    )
    assert said(report.rejected[-2].reason, "en").endswith(
        "reported before 1980: usually an empty date"
    )
    # the case of 1985 is older than the city's grids: filed with its region's center, and said
    assert report.assigned == {"covers": 1, "region": 1}
    first = db.execute(text("SELECT min(valid_from) FROM grid")).scalar_one()
    since = f"{first.astimezone(SHANGHAI):%Y-%m-%d}"
    older = f"1 件案件上报时其所在位置没有网格（网格最早自 {since} 起划定）"
    assert any(w.startswith(older) for w in report.warnings), report.warnings
    assert "所在区划的中心 1 件" in report.summary("zh")


def test_a_ledger_as_an_office_keeps_it(db: Session, demo_city: DemoCity, tmp_path: Path) -> None:
    """A workbook as a township hands it over: a sheet of instructions first; then the ledger,
    with its title and the unit that filled it in above the header, its own names for the
    fields (units in brackets), dates as ledgers write them (a date cell, 年月日 with 下午, a
    day count), blank rows, a subtotal and a total.  The sheet and the header are found, every
    case is read, what was left out is said, and a rejected row is named by its row in the
    spreadsheet.  Such a file was refused: the instructions, or the title, were taken for the
    header ("cannot tell which field is the source_id … Unnamed: 1, Unnamed: 2")."""
    import openpyxl

    (lon, lat), (lon2, lat2) = _points(demo_city)[0], _points(demo_city)[3]
    book = openpyxl.Workbook()
    instructions = book.active
    assert instructions is not None
    instructions.title = "填表说明"
    instructions.append(["1. 编号、发生时间、经度、纬度为必填项。"])
    instructions.append(["2. 坐标请用 WGS84。"])
    sheet = book.create_sheet("排查台账")
    sheet.append(["示例市城中区2026年矛盾纠纷排查化解台账"])
    sheet.merge_cells("A1:G1")
    sheet.append(["填报单位：城中区综治中心", None, None, None, "填报日期：2026年3月31日"])
    sheet.append(["事件编号", "发生时间", "经度(°)", "纬度（°）", "大类", "小类", "事件描述"])
    sheet.append(["L001", datetime(2026, 3, 5, 9, 30), lon, lat, "矛盾纠纷", "邻里纠纷", "漏水"])
    sheet.append(["L002", "2026年3月5日 下午2:30", lon2, lat2, "安全隐患", "消防", "堆物"])
    sheet.append([None] * 7)
    sheet.append(["L003", "2026.3.5", "东经一百一十三度", lat, "矛盾纠纷", "劳资", "欠薪"])
    sheet.append(["小计", "3 件"])
    sheet.append(["L004", 46086.5, lon, lat, "矛盾纠纷", "邻里纠纷", "吵闹"])
    sheet.append([None] * 7)
    sheet.append(["合 计", "4 件"])
    path = tmp_path / "台账.xlsx"
    book.save(path)

    report = import_cases(db, path, CaseOptions(commit=True))
    assert report.mapping["source_id"] == "事件编号"
    assert report.mapping["reported_at"] == "发生时间"
    assert (report.mapping["lon"], report.mapping["lat"]) == ("经度(°)", "纬度（°）")
    assert (report.mapping["kind"], report.mapping["category"]) == ("大类", "小类")
    assert sorted(report.created) == ["L001", "L002", "L004"] and report.rows == 4
    assert [(i.code, i.reason.split("：")[0]) for i in report.rejected] == [("L003", "第 7 行")]
    assert any("读取工作表“排查台账”" in w for w in report.warnings)
    assert any("表头在第 3 行，其上 2 行" in w for w in report.warnings)
    assert any("合计/小计行 2 行未导入" in w for w in report.warnings)
    got = dict(
        db.execute(
            text("""SELECT source_id, to_char(reported_at AT TIME ZONE 'UTC',
                                              'YYYY-MM-DD HH24:MI')
                    FROM cases WHERE source_id LIKE 'L00_'""")
        ).all()
    )
    assert got == {"L001": "2026-03-05 01:30", "L002": "2026-03-05 06:30",
                   "L004": "2026-03-05 04:00"}  # fmt: skip
    category = db.execute(text("SELECT category FROM cases WHERE source_id = 'L002'")).scalar()
    assert category == "fire"


def test_blank_short_and_too_wide_rows_of_a_csv(
    db: Session, demo_city: DemoCity, tmp_path: Path
) -> None:
    """Blank lines (in the middle, at the end), a row of empty cells, a row short of its last
    cells and one with empty cells past the header are read; a row with more filled cells than
    the header names is rejected and says why (an unquoted comma), never cut short.  Each was
    a traceback (COPY: "missing data for column", "extra data after last expected column").
    Lines are the file's, a quoted cell over two lines included."""
    (lon, lat) = _points(demo_city)[0]
    path = tmp_path / "cases.csv"
    path.write_text(
        HEADER  # line 1
        + f"B1,2026-03-05 09:30,{lon},{lat},WGS84,纠纷,邻里,好的\n"  # 2
        + "\n"  # 3
        + f"B2,2026-03-05 09:30,{lon},{lat},WGS84,纠纷,邻里,楼上漏水,楼下不满\n"  # 4: too wide
        + f"B3,2026-03-05 09:30,{lon},{lat},WGS84,纠纷\n"  # 5: short
        + f"B4,2026-03-05 09:30,{lon},{lat},WGS84,纠纷,邻里,多了空列,,\n"  # 6
        + ",,,,,,,\n"  # 7
        + f'B5,2026-03-05 09:30,{lon},{lat},WGS84,纠纷,邻里,"两行\n的描述"\n'  # 8–9
        + "B6,2026-03-05 09:30,abc,23,WGS84,纠纷,邻里,坏坐标\n"  # 10
        + "\n\n",
        encoding="utf-8",
    )
    report = import_cases(db, path, CaseOptions(commit=True))
    assert sorted(report.created) == ["B1", "B3", "B4", "B5"] and report.rows == 6
    assert [(i.code, i.reason.split("：")[0]) for i in report.rejected] == [
        ("B2", "第 4 行"),
        ("B6", "第 10 行"),
    ]
    assert "有 9 列，表头只有 8 列" in report.rejected[0].reason
    sql = "SELECT source_id, description FROM cases WHERE source_id LIKE 'B_'"
    stored = {source_id: description for source_id, description in db.execute(text(sql))}
    assert stored == {"B1": "好的", "B3": "", "B4": "多了空列", "B5": "两行\n的描述"}


def test_fields_of_other_names_are_named_with_options(
    db: Session, demo_city: DemoCity, tmp_path: Path
) -> None:
    """A file whose fields have names of its own: the refusal names the options that exist
    (it named --source_id-field, --lon-field …, which do not), and --code-field with
    --field ROLE=COLUMN (the role in English or by its usual Chinese name) imports it."""
    (lon, lat) = _points(demo_city)[0]
    path = tmp_path / "cases.csv"
    path.write_text(
        f"案卷号,时刻,X坐标,Y坐标,摘要\nK1,2026-03-05 09:30,{lon},{lat},邻里吵闹\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidInput) as e:
        import_cases(db, path, CaseOptions())
    message = str(e.value)
    assert "--code-field" in message and "--field reported_at=" in message
    assert "--field lon=" in message and "-field lat=" in message
    assert "--source_id-field" not in message and "--lon-field" not in message
    fields = ["上报时间=时刻", "lon=X坐标", " 纬度 = Y坐标", "描述=摘要"]
    report = import_cases(db, path, CaseOptions(source_field="案卷号", fields=fields))
    assert report.created == ["K1"] and report.mapping["description"] == "摘要"
    for bad, words in (("时刻", "--field '时刻' 无法识别"), ("时辰=时刻", "可用的字段用途"),
                       ("lon=经度", "文件中没有字段 '经度'（--field lon=经度）")):  # fmt: skip
        with pytest.raises(InvalidInput, match=words):
            import_cases(db, path, CaseOptions(source_field="案卷号", fields=[bad]))


def _dms(value: float, positive: str, negative: str) -> str:
    """``value`` in degrees, minutes and seconds (to 1 mm), as a GPS device writes it."""
    hemisphere = positive if value >= 0 else negative
    value = abs(value)
    d = int(value)
    m = int((value - d) * 60)
    s = (value - d - m / 60) * 3600
    return f"{hemisphere}{d}°{m}′{s:.5f}″"


def test_coordinates_in_degrees_minutes_and_seconds(
    db: Session, demo_city: DemoCity, tmp_path: Path
) -> None:
    """Ledgers copied from a GPS device write 东经113°56′12.5″: read to the millimetre, in the
    grid locate_point names (each row was rejected as bad coordinates)."""
    from importers.core import degrees

    spelled = pd.Series(["113°56′12.5″", "113度56分12.5秒", "E113°56'12.5\"", "113°56.20833′",
                         "西经73°59′", "22°70′", "一百一十三度"])  # fmt: skip
    got = degrees(spelled)
    assert np.allclose(got[:4], 113.9368056, atol=1e-6) and got[4] == -(73 + 59 / 60)
    assert np.isnan(got[5:]).all()  # 70 minutes; no number
    # typed with a Chinese input method in full-width mode (each was rejected)
    typed = ["１１３．９３６８０５６", "Ｅ１１３°５６′１２．５″", "－７３．５"]
    full_width = degrees(pd.Series(typed))
    assert np.allclose(full_width, [113.9368056, 113.9368056, -73.5], atol=1e-6)
    points = _points(demo_city)[:9]
    path = tmp_path / "cases.csv"
    path.write_text(
        "编号,上报时间,经度,纬度\n"
        + "".join(
            f"D{i},2026-03-05 09:30,{_dms(x, '东经', '西经')},{_dms(y, '北纬', '南纬')}\n"
            for i, (x, y) in enumerate(points)
        ),
        encoding="utf-8",
    )
    report = import_cases(db, path, CaseOptions(commit=True))
    assert len(report.created) == len(points) and not report.rejected
    for i, (x, y) in enumerate(points):
        row = db.execute(
            text("""SELECT grid_code, ST_X(geom) AS lon, ST_Y(geom) AS lat,
                           ST_Distance(geom::geography,
                                       ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography) AS far
                    FROM cases WHERE source_id = :id"""),
            {"x": x, "y": y, "id": f"D{i}"},
        ).one()
        assert row.far < 0.005
        expected = locate_point(db, row.lon, row.lat)  # (an edge point: the side it came to)
        assert row.grid_code == (expected.grid.code if expected.grid else None)


def test_ids_that_excel_wrote_in_scientific_format_are_refused(
    db: Session, demo_city: DemoCity, tmp_path: Path
) -> None:
    """Long ids saved from Excel as 1.23457E+17 can no longer be told apart: the import refuses
    and says how to mend the file (all but the first row of each were dropped as repeats)."""
    (lon, lat) = _points(demo_city)[0]
    path = tmp_path / "cases.csv"
    path.write_text(
        "编号,上报时间,经度,纬度\n"
        + f"1.23457E+17,2026-03-05 09:30,{lon},{lat}\n"
        + f"1.23457E+17,2026-03-05 10:30,{lon},{lat}\n"
        + f"1.23458E+17,2026-03-05 11:30,{lon},{lat}\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidInput, match=r"科学计数法（如 1\.23457E\+17），1 个编号") as e:
        import_cases(db, path, CaseOptions(commit=True))
    assert "设为“文本”" in str(e.value) and e.value.extra["field"] == "source_id"
    count = "SELECT count(*) FROM cases WHERE source_id LIKE '1.2345%'"
    assert db.execute(text(count)).scalar() == 0


@pytest.mark.parametrize(
    ("last", "left_out"),
    [("合 计,3,,,,,,", "合计/小计行 1 行"), ("Total,3,,,,,,", "合计/小计行 1 行"), ("", None)],
)
def test_a_plain_csv_with_a_total_row_leaves_it_out(
    db: Session, demo_city: DemoCity, tmp_path: Path, last: str, left_out: str | None
) -> None:
    """A CSV with nothing quoted goes to COPY as it is, unless a line is a total: then it is
    read row by row like any other file, and the total is left out, not rejected."""
    (lon, lat) = _points(demo_city)[0]
    path = tmp_path / "cases.csv"
    rows = "".join(f"P{i},2026-03-05 09:30,{lon},{lat},WGS84,纠纷,邻里,无\n" for i in range(3))
    path.write_text(HEADER + rows + (last + "\n" if last else ""), encoding="utf-8")
    report = import_cases(db, path, CaseOptions())
    assert len(report.created) == 3 and not report.rejected
    assert any(left_out in w for w in report.warnings) if left_out else not report.warnings


def test_a_csv_with_a_nul_character_is_refused_with_its_line(db: Session, tmp_path: Path) -> None:
    """It was a database error (COPY: invalid byte sequence 0x00), shown as a traceback."""
    path = tmp_path / "cases.csv"
    path.write_bytes((HEADER + "N1,2026-03-05 09:30,113.9,23.0,,,,\n").encode() + b"N2,\x00\n")
    with pytest.raises(InvalidInput, match="第 3 行含有空字符") as e:
        import_cases(db, path, CaseOptions())
    assert e.value.extra["field"] == "file"


def test_a_worksheet_is_named_after_a_bang(
    db: Session, demo_city: DemoCity, tmp_path: Path
) -> None:
    """FILE.xlsx!SHEET reads that worksheet; a sheet the workbook does not have is refused with
    the names of those it has."""
    import openpyxl

    (lon, lat) = _points(demo_city)[0]
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "2025年"
    first.append(["编号", "上报时间", "经度", "纬度"])
    first.append(["Y2025", "2025-03-05 09:30", lon, lat])
    second = book.create_sheet("2026年")
    second.append(["编号", "上报时间", "经度", "纬度"])
    second.append(["Y2026", "2026-03-05 09:30", lon, lat])
    path = tmp_path / "台账.xlsx"
    book.save(path)
    assert import_cases(db, path, CaseOptions()).created == ["Y2025"]
    assert import_cases(db, Path(f"{path}!2026年"), CaseOptions()).created == ["Y2026"]
    with pytest.raises(InvalidInput, match="没有工作表 '2027年'：有 2025年、2026年"):
        import_cases(db, Path(f"{path}!2027年"), CaseOptions())


def test_formulas_saved_without_their_results_are_named(
    db: Session, demo_city: DemoCity, tmp_path: Path
) -> None:
    """A workbook written by a program keeps a formula (=87.6+0.01) without its result, which
    Excel shows and a reader finds empty: a row was rejected for 坐标无效（经度 空） while the
    office saw the number.  The cells are named, with what to do; the same workbook once saved
    by Excel (the results kept; a formula giving an empty text, t="str") is read as it shows."""
    import openpyxl

    (lon, lat) = _points(demo_city)[0]
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "台账"
    sheet.append(["编号", "上报时间", "经度", "纬度", "备注"])
    sheet.append(["X1", "2026-03-05 09:30", f"={lon}+0", f"={lat}+0", '=IF(A2="","",A2)'])
    path = tmp_path / "程序导出.xlsx"
    book.save(path)
    with pytest.raises(InvalidInput) as refused:
        import_cases(db, path, CaseOptions())
    assert str(refused.value).startswith(
        "程序导出.xlsx 的工作表“台账”中有公式没有保存计算结果（C2、D2、E2），导入读到的是空值。"
    ), refused.value
    assert refused.value.extra == {"field": "file"}

    # as Excel saves it: each formula with its result (an empty text is t="str" <v></v>)
    member = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    xml = parts[member].decode()
    for ref, value in (("C2", lon), ("D2", lat)):
        xml = re.sub(
            rf'(<c r="{ref}"[^>]*>\s*<f>[^<]*</f>)\s*<v\s*/>', rf"\g<1><v>{value}</v>", xml
        )
    xml = re.sub(
        r'<c r="E2"([^>]*)>(\s*<f>[^<]*</f>)\s*<v\s*/>', r'<c r="E2"\1 t="str">\2<v></v>', xml
    )
    parts[member] = xml.encode()
    saved = tmp_path / "已保存.xlsx"
    with zipfile.ZipFile(saved, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    report = import_cases(db, saved, CaseOptions())
    assert report.created == ["X1"] and not report.rejected, report


def test_each_row_s_datum_in_the_words_ledgers_use(
    db: Session, demo_city: DemoCity, tmp_path: Path
) -> None:
    """坐标系 as ledgers write it (百度坐标, 高德地图, CGCS2000国家大地坐标系, 天地图,
    ＷＧＳ８４): each row converted by its own datum, back to within 0.5 m (百度坐标 and the
    like were rejected as an unknown datum)."""
    from gis.datum import wgs84_to_bd09

    (lon, lat) = _points(demo_city)[0]
    spelled = {
        "百度坐标": wgs84_to_bd09(lon, lat),
        "高德地图": wgs84_to_gcj02(lon, lat),
        "CGCS2000国家大地坐标系": (lon, lat),
        "天地图": (lon, lat),
        "ＷＧＳ８４": (lon, lat),
    }
    path = tmp_path / "cases.csv"
    path.write_text(
        "编号,上报时间,经度,纬度,坐标系\n"
        + "".join(
            f"G{i},2026-03-05 09:30,{float(x)!r},{float(y)!r},{word}\n"
            for i, (word, (x, y)) in enumerate(spelled.items())
        ),
        encoding="utf-8",
    )
    report = import_cases(db, path, CaseOptions(commit=True))
    assert len(report.created) == len(spelled) and not report.rejected
    assert _farthest(db, "G_", lon, lat) < 0.5


def test_which_csv_goes_to_copy_as_it_is() -> None:
    """COPY takes a regular file as it is (quoted commas included: a million such rows were
    read row by row, 11 s); anything a Sheet would mend or whose records are not lines is not."""
    from importers.cases import _plain_csv

    head = b"a,b,c\n"
    assert _plain_csv(head + b"1,2,3\n4,5,6", 3)
    assert _plain_csv(head + b'1,"x, y",3\n4,"say ""hi"", ok",6\n', 3)
    assert _plain_csv(head + b'"TOTALLY",2,3\n"x",2,3\n"",2,3\n"012345678901",2,3\n', 3)
    assert _plain_csv(b"a,b,c\r\n1,2,3\r\n", 3) and _plain_csv(head + b'1,"2\r",3\n', 3)
    for body in (b"1,2,3\n\n4,5,6\n", b"1,2\n", b"1,2,3,4\n", b',2,3\n', b'1,"open,3\n',
                 b'1,"two\nlines",3\n', "合计,2,3\n".encode(), b"total,2,3\n",
                 '"合 计",2,3\n'.encode(), b'"Total",2,3\n', b"1,2,3\r\n4,5,6\n",
                 b"1,2\r,3\n"):  # fmt: skip
        assert not _plain_csv(head + body, 3), body


#: Chinese characters, and the English words of the report's messages
_HAN = re.compile(r"[\u4e00-\u9fff]")
_ENGLISH = re.compile(r"\b(?:line|bad|unreadable|category|cases|recognised|taken|grid)\b")


def test_a_summary_says_each_row_and_warning_in_its_own_language(
    db: Session, demo_city: DemoCity, tmp_path: Path
) -> None:
    """The human summary in Chinese or English (issue 6): each rejected row and each warning in
    that language only — they said both, in one line (第 3 行：坐标无效，经纬度是否填反了？ bad
    coordinates: …) — and the JSON report keeps both together and gives each apart."""
    import json

    (lon, lat) = _points(demo_city)[0]
    path = tmp_path / "ledger.csv"
    path.write_text(
        "ID,reported_at,lon,lat,kind,category,description\n"
        f"L1,2026-03-05 09:30,{lon},{lat},dispute,neighbours,noise\n"
        f"L2,2026-03-05 09:30,{lat},{lon},dispute,neighbours,swapped\n"
        f"L3,someday,{lon},{lat},hazard,fire,no time\n"
        f"L4,2026-03-05 09:30,{lon},{lat},hazard,something else,unknown category\n"
        f"L5,2026-03-05 09:30,{lon},{lat},dispute,neighbours,twice\n"
        f"L5,2026-03-05 09:30,{lon},{lat},dispute,neighbours,twice\n",
        encoding="utf-8",
    )
    report = import_cases(db, path, CaseOptions())
    assert [i.code for i in report.rejected] == ["L2", "L3"] and len(report.warnings) == 4
    zh, en = report.summary("zh").splitlines(), report.summary("en").splitlines()
    listed = [line for line in zh if line.startswith(("  - ", "  ! "))]
    assert len(listed) == 6 and not [x for x in listed if _ENGLISH.search(x)], listed
    assert "  - 拒绝 L2：第 3 行：坐标无效，经纬度是否填反了？" in "\n".join(zh)
    listed = [line for line in en if line.startswith(("  - ", "  ! "))]
    assert len(listed) == 6 and not [x for x in listed if _HAN.search(x)], listed
    assert "  - rejected L3: line 4: unreadable time" in "\n".join(en)
    # the stages' times in words (the JSON keeps its keys: "COPY file", "insert cases" …)
    (stages_zh,) = [line for line in zh if line.startswith("  各阶段用时：")]
    assert "写入案件" in stages_zh and not re.search("[A-Za-z]{2,}", stages_zh), stages_zh
    (stages_en,) = [line for line in en if line.startswith("  stages: ")]
    assert "writing the cases" in stages_en and not _HAN.search(stages_en), stages_en
    assert not _HAN.search(en[0]) and not _HAN.search(" ".join(en[1:4])), en[:4]
    out = json.loads(report.to_json())
    first = out["rejected"][0]
    assert first["reason"] == f"{first['reason_zh']} ({first['reason_en'].split(': ', 1)[1]})"
    assert first["reason_en"].startswith("line 3: bad coordinates: longitude and latitude")
    assert len(out["warnings_zh"]) == len(out["warnings_en"]) == len(out["warnings"]) == 4
    assert not [w for w in out["warnings_en"] if _HAN.search(w)], out["warnings_en"]


def test_a_summary_of_one_row_says_one_row(
    db: Session, demo_city: DemoCity, tmp_path: Path
) -> None:
    """ "1 row", "1 new", "1 problem" in English — it said "1 rows"."""
    (lon, lat) = _points(demo_city)[0]
    path = tmp_path / "one.csv"
    path.write_text(
        "ID,reported_at,lon,lat,kind,category,description\n"
        f"O1,2026-03-05 09:30,{lon},{lat},dispute,something else,unknown category\n",
        encoding="utf-8",
    )
    en = import_cases(db, path, CaseOptions()).summary("en").splitlines()
    assert re.search(r": 1 row\b", en[0]), en[0]
    assert "1 rows" not in "\n".join(en) and "1 new" in en[1], en[:2]


def test_the_progress_line_names_the_stage_just_done(
    db: Session, demo_city: DemoCity, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long import's progress line names each stage as it ends, in words and in the summary's
    language (已完成：写入案件 / done: writing the cases): it gave the stage's key (insert
    cases) once the stage was over, which read as the one under way."""
    import io

    import importers.cases as cases_module
    from importers.core import Progress

    out = io.StringIO()

    class Shown(Progress):  # (shown from the start: a small file takes less than a second)
        def __init__(self, label: Both, total: int, stream: object = None) -> None:
            super().__init__(label, total, out)
            self.started -= 2

    monkeypatch.setattr(cases_module, "Progress", Shown)
    (lon, lat) = _points(demo_city)[0]
    path = tmp_path / "ledger.csv"
    path.write_text(
        f"ID,reported_at,lon,lat,kind,category,description\nP1,2026-03-05 09:30,{lon},{lat},"
        "dispute,neighbours,noise\n",
        encoding="utf-8",
    )
    for lang, line_end in (
        ("zh_CN.UTF-8", "  已完成：写入案件"),
        ("en_US.UTF-8", "  done: writing the cases"),
    ):
        monkeypatch.setenv("LANG", lang)
        out.seek(0)
        out.truncate()
        import_cases(db, path, CaseOptions())
        assert [x for x in out.getvalue().split("\r") if x.endswith(line_end)], out.getvalue()


def test_longitude_and_latitude_in_one_column(
    db: Session, demo_city: DemoCity, tmp_path: Path
) -> None:
    """经纬度 in one cell, as many ledgers keep it: comma (quoted), space or full-width comma
    between, latitude first or in degrees and minutes; an empty cell is that row's bad
    coordinates (the file was refused: no 经度 and 纬度 fields)."""
    (lon, lat) = _points(demo_city)[0]
    path = tmp_path / "cases.csv"
    path.write_text(
        "编号,上报时间,经纬度\n"
        f'Q1,2026-03-05 09:30,"{lon},{lat}"\n'
        f"Q2,2026-03-05 09:30,{lon} {lat}\n"
        f"Q3,2026-03-05 09:30,{lat}，{lon}\n"
        "Q4,2026-03-05 09:30,\n",
        encoding="utf-8",
    )
    report = import_cases(db, path, CaseOptions(commit=True))
    assert report.mapping["lonlat"] == "经纬度" and "lon" not in report.mapping
    assert sorted(report.created) == ["Q1", "Q2", "Q3"]
    assert [(i.code, said(i.reason), said(i.reason, "en")) for i in report.rejected] == [
        ("Q4", "第 5 行：坐标无效（经纬度 空）", "line 5: bad coordinates (lon,lat empty)")
    ]
    assert _farthest(db, "Q_", lon, lat) < 0.01


def test_line_ends_of_both_kinds_a_lone_return_and_an_id_too_long(
    db: Session, demo_city: DemoCity, tmp_path: Path
) -> None:
    """Found by a fuzzer of messy ledgers, each a traceback: line ends of both kinds in one file
    (COPY: "unquoted carriage return"), a lone carriage return (csv: "new-line character seen
    in unquoted field"; it ends a line, as old Macs wrote them), and an id longer than the 64
    characters a case keeps (a database error at the insert).  Lines are counted as the file's."""
    (lon, lat) = _points(demo_city)[0]
    row = f"2026-03-05 09:30,{lon},{lat},WGS84,纠纷,邻里"
    path = tmp_path / "cases.csv"
    text_ = (HEADER + f"R1,{row},第一行\r\nR2,{row},旧式\r换行\n" + "R" * 65 + f",{row},太长\n"
             + f"R3,{row},多,一列\n")  # fmt: skip
    path.write_bytes(text_.encode())
    report = import_cases(db, path, CaseOptions(commit=True))
    assert sorted(report.created) == ["R1", "R2"]
    lines = [i.reason.split("：")[0] for i in report.rejected]
    assert lines == ["第 6 行", "第 4 行", "第 5 行"]  # too wide; 换行 alone; the long id
    assert "编号超过 64 个字符" in report.rejected[2].reason
    stored = db.execute(text("SELECT description FROM cases WHERE source_id = 'R2'")).scalar()
    assert stored == "旧式"


def test_a_ledgers_parties_are_imported_encrypted_and_found_by_phone(
    db: Session, demo_city: DemoCity, tmp_path: Path, cipher: PiiCipher
) -> None:
    """当事人, 联系电话, 身份证号 of an old system's ledger: each new case's party, stored
    encrypted as a report's (its phone also as the blind index that finds a resident's cases
    and counts 高频线索).  A phone or ID number that is not one is left out with its line; the
    case and the rest of its party stay; a row with no party cells gets none.  No key: refused."""
    from gis.parties import parties_of

    p = demo_city.grids[0].geom.representative_point()
    rows = [
        ("P1", "王小红", "139-1234-5678", "11010519491231002X"),
        ("P2", "李四", "12345", ""),  # not a phone
        ("P3", "", "", "110105194912310021"),  # a wrong check character
        ("P4", "", "", ""),
    ]
    lines = ["编号,上报时间,经度,纬度,类型,类别,描述,当事人,联系电话,身份证号\n"] + [
        f"{sid},2026-03-05 09:30,{p.x!r},{p.y!r},纠纷,邻里,漏水,{name},{phone},{id_card}\n"
        for sid, name, phone, id_card in rows
    ]
    path = tmp_path / "台账.csv"
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(InvalidInput, match="密钥"):
        import_cases(db, path, CaseOptions(commit=True))
    done = import_cases(db, path, CaseOptions(commit=True, cipher=lambda: cipher))
    assert sorted(done.created) == ["P1", "P2", "P3", "P4"] and done.parties == 2
    assert done.mapping["party_name"] == "当事人" and done.mapping["party_phone"] == "联系电话"
    assert "当事人：2 人（加密保存，显示时打码）" in done.summary()
    warned = " ".join(done.warnings)
    assert "1 行的电话号码格式不正确" in warned and "第 3 行" in warned
    assert "1 行的身份证号不正确" in warned and "第 4 行" in warned
    assert "left out, the cases imported: line 3" in " ".join(w.en for w in done.warnings)
    ids = dict(db.execute(text("SELECT source_id, id FROM cases WHERE source_id LIKE 'P_'")).all())
    first = parties_of(db, ids["P1"], cipher, unmask=True)
    assert [(x.role, x.name, x.phone, x.id_card) for x in first] == [
        ("party", "王小红", "13912345678", "11010519491231002X")
    ]
    assert [(x.name, x.phone) for x in parties_of(db, ids["P2"], cipher, unmask=True)] == [
        ("李四", None)
    ]
    assert parties_of(db, ids["P3"], cipher) == [] and parties_of(db, ids["P4"], cipher) == []
    found = db.execute(
        text("SELECT c.source_id FROM case_party p JOIN cases c ON c.id = p.case_id "
             "WHERE p.phone_index = :i"),
        {"i": cipher.phone_index("13912345678")},
    ).scalars().all()  # fmt: skip
    assert found == ["P1"]
    again = import_cases(db, path, CaseOptions(commit=True, cipher=lambda: cipher))
    assert again.parties == 0 and sorted(again.unchanged) == ["P1", "P2", "P3", "P4"]


_NAMED = """
    SELECT source_id, assign_method::text, grid_code, village_code, township_code, center_id,
           geom IS NULL AS no_point, received_lon IS NULL AND received_lat IS NULL AS no_received
    FROM cases WHERE source_id LIKE 'TZ-%' ORDER BY source_id
"""


@pytest.mark.parametrize("bulk_path", [False, True])
def test_an_old_ledgers_rows_without_coordinates_are_filed_by_their_village(
    db: Session,
    demo_city: DemoCity,
    tmp_path: Path,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    bulk_path: bool,
) -> None:
    """A ledger (台账) without coordinates names each case's village (村/社区) — by code, by
    name (a committee's title after it too), with the township where two villages share a
    name — or its township alone.  Such a case has no point: it is assigned to that region (no
    grid, method ``region``, the lowest center above), counted in the figures by region, and
    passed by on the heat map and by a redraw.  A name found nowhere, or twice without a
    township, and a row with neither coordinates nor a place, are rejected and said why; a row
    with coordinates is located by them."""
    monkeypatch.setattr(bulk, "MIN_SHARE", 0)
    villages = db.execute(
        text("""SELECT v.code, v.name, t.code AS township, t.name AS township_name,
                       (SELECT c.id FROM center c WHERE c.region_id = v.id) AS center
                FROM region v JOIN region t ON t.id = v.parent_id
                WHERE v.level = 'village' AND t.level = 'township'
                  AND EXISTS (SELECT 1 FROM center c WHERE c.region_id = v.id)
                ORDER BY t.code DESC, v.code LIMIT 40""")
    ).all()
    a = villages[0]
    b = next(v for v in villages if v.township != a.township)
    c = next(v for v in villages if v.township == a.township and v.code != a.code)
    # two villages of one name (in two townships), as happens
    db.execute(text("UPDATE region SET name = :n WHERE code = :c"), {"n": a.name, "c": b.code})
    town_center = db.execute(
        text("""SELECT ce.id FROM center ce JOIN region r ON r.id = ce.region_id
                WHERE r.code = :t"""),
        {"t": a.township},
    ).scalar()
    (lon, lat) = _points(demo_city)[0]
    base = re.sub("(社区|村)$", "", c.name)
    rows = [
        ("TZ-1", f"{lon:.7f}", f"{lat:.7f}", a.name, "", "已结案"),  # a point: by it
        ("TZ-2", "", "", a.name, a.township_name, "处置中"),
        ("TZ-3", "", "", b.code, "", "已结案"),
        ("TZ-4", "", "", f"{c.name}居委会", "", "已结案"),
        ("TZ-5", "", "", "", a.township_name, "已结案"),
        ("TZ-6", "", "", a.name, "", "已结案"),  # two of that name
        ("TZ-7", "", "", "无此村", "", "已结案"),
        ("TZ-8", "", "", "", "", "已结案"),
        # as ledgers write them: without 社区, or with 村 for a community (where the name as
        # written is none)
        ("TZ-9", "", "", base, "", "已结案"),
        ("TZ-10", "", "", base + ("社区" if c.name.endswith("村") else "村"), "", "已结案"),
    ]
    path = tmp_path / "台账.csv"
    path.write_text(
        "编号,上报时间,经度,纬度,所属村居,乡镇（街道）,类型,类别,描述,状态\n"
        + "".join(
            f"{i},2026-11-02 09:{k:02d},{x},{y},{v},{t},矛盾纠纷,邻里纠纷,旧台账,{s}\n"
            for k, (i, x, y, v, t, s) in enumerate(rows)
        ),
        encoding="utf-8",
    )
    heat = db.execute(text("SELECT sum(n) FROM case_heat")).scalar_one()
    report = import_cases(db, path, CaseOptions(commit=True, bulk=bulk_path))
    assert report.mapping["village"] == "所属村居" and report.mapping["township"] == "乡镇（街道）"
    why = {i.code: i.reason for i in report.rejected}
    assert set(why) == {"TZ-6", "TZ-7", "TZ-8"}, why
    assert sorted(report.created) == sorted(["TZ-1", "TZ-2", "TZ-3", "TZ-4", "TZ-5", "TZ-9",
                                             "TZ-10"])  # fmt: skip
    assert "有 2 个同名村（社区）" in why["TZ-6"] and "乡镇（街道）" in why["TZ-6"]
    assert "找不到对应的区划" in why["TZ-7"] and "'无此村'" in why["TZ-7"]
    assert "没有坐标，也没有村（社区）" in why["TZ-8"]
    assert any("6 件案件没有坐标，按村（社区）名称登记" in w for w in report.warnings)
    got = {r.source_id: r for r in db.execute(text(_NAMED))}
    assert got["TZ-1"].assign_method == "covers" and not got["TZ-1"].no_point
    assert got["TZ-1"].grid_code is not None
    for source_id, village, center in (("TZ-2", a, a.center), ("TZ-3", b, b.center),
                                       ("TZ-4", c, c.center), ("TZ-9", c, c.center),
                                       ("TZ-10", c, c.center)):  # fmt: skip
        r = got[source_id]
        assert (r.assign_method, r.grid_code, r.no_point, r.no_received) == (
            "region",
            None,
            True,
            True,
        ), r
        assert (r.village_code, r.township_code, r.center_id) == (
            village.code,
            village.township,
            center,
        ), r
    five = got["TZ-5"]
    assert (five.village_code, five.township_code, five.no_point) == (None, a.township, True)
    assert five.center_id == town_center
    # on no map: the heat roll-up has only the case with a point; the roll-ups are exact
    assert db.execute(text("SELECT sum(n) FROM case_heat")).scalar_one() == heat + 1
    assert db.execute(text(ROLLUP_MISMATCH)).scalar_one() == 0
    assert db.execute(text(STATE_COUNT_MISMATCH)).scalar_one() == 0
    # in the figures of its township
    bind_scope(db, Scope.everything())
    figures = stats(
        db, Scope.everything(), a.township, datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 11, 3, tzinfo=UTC),
    )  # fmt: skip
    assert figures.total.cases >= 3 and figures.children[a.code][1].cases >= 1
    # a redraw of its village moves cases by their points: this one stays where it was filed
    relocate_open_cases(db, [], [a.code], "test")
    assert db.execute(text(_NAMED)).all() == sorted(got.values())
    # a second import of the file adds nothing
    again = import_cases(db, path, CaseOptions(commit=True))
    assert again.created == [] and sorted(again.unchanged) == sorted(report.created)
    if bulk_path:  # (the tables stay locked until the test's transaction ends: no app here)
        return
    # the desk reads it: the API (no point), its page (no map) and the lists
    db.commit()  # (into the test's transaction: each request then rolls back to here)
    with app_with(settings, db) as client:
        token = client.post(
            "/api/auth/login", json={"username": "city_operator", "password": DEMO_PASSWORD}
        ).json()["access_token"]
        me = {"Authorization": f"Bearer {token}"}
        code = db.execute(text("SELECT code FROM cases WHERE source_id = 'TZ-2'")).scalar_one()
        case = client.get(f"/api/cases/{code}", headers=me).json()
        assert (case["lon"], case["received"]["lon"], case["location"]["method"]) == (
            None,
            None,
            "region",
        )
        assert case["location"]["village"]["code"] == a.code
        page = client.get(f"/cases/{code}", headers=me | {"Accept": "text/html"})
        assert page.status_code == 200 and 'id="case-no-point"' in page.text
        assert 'id="case-map"' not in page.text
        # its history says who took it in, in words: 数据导入 (it said "import")
        assert "</b> 数据导入" in page.text and "</b> import" not in page.text
        page = client.get(f"/cases/{code}?lang=en", headers=me | {"Accept": "text/html"})
        assert "</b> Data import" in page.text
        listed = client.get(f"/api/cases?region={a.code}&limit=1000", headers=me)
        assert listed.status_code == 200, listed.text
        feature = next(f for f in listed.json()["features"] if f["properties"]["code"] == code)
        assert feature["geometry"] is None  # (GeoJSON's feature without a place)
        for url in (
            "/find?q=旧台账",
            "/queue",
            "/queue.xlsx",
            "/reports/daily",
            f"/cases/{code}/receipt",
        ):
            assert client.get(url, headers=me | {"Accept": "text/html"}).status_code == 200, url


def test_a_ledger_with_no_coordinate_columns_at_all(db: Session, tmp_path: Path) -> None:
    """A ledger of village names only (no 经度, 纬度 or 经纬度 column): nothing asks for them, each
    row is filed by its village, and the report says no coordinate was read."""
    village, name = db.execute(
        text("SELECT code, name FROM region WHERE level = 'village' ORDER BY code LIMIT 1")
    ).one()
    path = tmp_path / "村居台账.csv"
    path.write_text(
        "编号,登记日期,所属村居,类型,类别,描述\n"
        f"CJ-1,2026-10-08,{name},矛盾纠纷,邻里纠纷,噪音\n"
        f"CJ-2,2026-10-09,{village},安全隐患,消防,堆物\n"
        "CJ-3,2026-10-10,,矛盾纠纷,邻里纠纷,无村居\n",
        encoding="utf-8",
    )
    report = import_cases(db, path, CaseOptions(commit=True))
    assert "no coordinates" in report.crs and "lon" not in report.mapping
    assert sorted(report.created) == ["CJ-1", "CJ-2"]
    assert [i.code for i in report.rejected] == ["CJ-3"]
    assert said(report.rejected[0].reason, "en").endswith("no coordinates and no village")
    assert "没有坐标，也没有村（社区）" in report.rejected[0].reason
    got = db.execute(
        text("""SELECT village_code, geom IS NULL, assign_method::text FROM cases
                WHERE source_id LIKE 'CJ-%' ORDER BY source_id""")
    ).all()
    assert got == [(village, True, "region")] * 2
