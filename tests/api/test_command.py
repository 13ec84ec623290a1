"""The command map's data: roll-ups kept exact, heat/grid counts/hotspots/centers/live/tiles
answered for the view and only within the caller's jurisdiction."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis import boundaries, mapdata
from gis.cases import SOURCE_NAMES
from gis.mapdata import Period, mercator, quantile_breaks, res_for_zoom, unmercator
from gis.scope import Scope
from gis.workflow import not_merged_sql
from tests.conftest import a_gap_between_grids, report_body

Headers = Callable[[str], dict[str, str]]
TOWNSHIP_A = "990102001"
ALL_TIME = "days=3660"

ROLLUP_MISMATCH = """
    WITH fresh AS (
        SELECT cell.res, cell.cx, cell.cy, coalesce(c.township_code, '') AS township_code,
               (c.received_at AT TIME ZONE 'Asia/Shanghai')::date AS day, c.kind, c.category,
               count(*)::integer AS n
        FROM cases c, wangge_heat_cells(c.geom) cell WHERE {not_merged}
        GROUP BY 1, 2, 3, 4, 5, 6, 7),
    kept AS (SELECT res, cx, cy, township_code, day, kind, category, n FROM case_heat
             WHERE n <> 0)
    SELECT (SELECT count(*) FROM (TABLE fresh EXCEPT TABLE kept) a)
         + (SELECT count(*) FROM (TABLE kept EXCEPT TABLE fresh) b)
         + (SELECT count(*) FROM (
               (SELECT grid_code, (received_at AT TIME ZONE 'Asia/Shanghai')::date, kind,
                       category, count(*)::integer FROM cases c
                WHERE grid_code IS NOT NULL AND {not_merged}
                GROUP BY 1, 2, 3, 4)
               EXCEPT (SELECT grid_code, day, kind, category, n FROM case_grid_day WHERE n <> 0)
           ) c)
""".format(not_merged=not_merged_sql("c"))  # (a matter counted once: migration 0054)


def _city_bbox(db: Session) -> str:
    e = boundaries.scope_extent(db, Scope.everything())
    assert e is not None
    return f"{e.west},{e.south},{e.east},{e.north}"


def _township_b(db: Session) -> str:
    return str(
        db.execute(
            text("SELECT r.code FROM app_user u JOIN region r ON r.id = u.region_id "
                 "WHERE u.username = 'township_operator_b'")
        ).scalar_one()
    )  # fmt: skip


def _count(db: Session, where: str, **params: object) -> int:
    return int(db.execute(text(f"SELECT count(*) FROM cases c WHERE {where}"), params).scalar_one())


def test_mercator_cells_and_breaks() -> None:
    x, y = mercator(113.9, 23.0)
    lon, lat = unmercator(x, y)
    assert abs(lon - 113.9) < 1e-9 and abs(lat - 23.0) < 1e-9
    assert [res_for_zoom(z) for z in (8, 10, 11, 13, 14, 18)] == [2, 2, 1, 1, 0, 0]
    assert quantile_breaks([0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55]) == [1, 3, 8, 21, 55]
    assert quantile_breaks([0, 0]) == []
    assert quantile_breaks(list(range(1, 101))) == [20, 40, 60, 80, 100]
    # most grids with a case or two, a hotspot's hundreds: still five classes (the quantiles of
    # every value gave 1, 2 and 3–160), the hotspot not lumped with a grid of three
    skewed = [1] * 60 + [2] * 20 + [3] * 8 + [4, 5, 6, 7, 9, 12, 30, 80, 141, 160]
    assert quantile_breaks(skewed) == [1, 2, 3, 9, 160]
    assert quantile_breaks([1, 1, 1]) == [1] and quantile_breaks([0.5, 2.5]) == [0.5, 2.5]
    from datetime import date

    p = Period.of(30, today=date(2026, 11, 21))
    assert (p.first, p.last) == (date(2026, 10, 23), date(2026, 11, 21))


def test_rollups_follow_inserts_updates_and_deletes(db: Session) -> None:
    assert db.execute(text(ROLLUP_MISMATCH)).scalar_one() == 0
    # a bulk insert of copies, a move of some cases, a change of category, a delete
    db.execute(
        text("""
        INSERT INTO cases (code, kind, category, severity, description, datum, received_lon,
                           received_lat, geom, reported_at, received_at, grid_code, village_code,
                           township_code, district_code, city_code, assign_method)
        SELECT 'RU' || c.id, c.kind, c.category, c.severity, c.description, c.datum,
               c.received_lon, c.received_lat, c.geom, c.reported_at,
               c.received_at - interval '1 day', c.grid_code, c.village_code, c.township_code,
               c.district_code, c.city_code, c.assign_method
        FROM cases c ORDER BY c.id LIMIT 300
    """)
    )
    db.execute(
        text("""
        UPDATE cases SET geom = ST_Translate(geom, 0.004, 0.0)
        WHERE id IN (SELECT id FROM cases WHERE code LIKE 'RU%' ORDER BY id LIMIT 50)
    """)
    )
    db.execute(
        text("""
        UPDATE cases SET category = 'fire', kind = 'hazard'
        WHERE id IN (SELECT id FROM cases WHERE code LIKE 'RU%' ORDER BY id DESC LIMIT 40)
    """)
    )
    db.execute(text("UPDATE cases SET status = 'accepted' WHERE code LIKE 'RU%'"))  # no change
    db.execute(
        text("DELETE FROM cases WHERE id IN (SELECT id FROM cases WHERE code LIKE 'RU%' LIMIT 20)")
    )
    assert db.execute(text(ROLLUP_MISMATCH)).scalar_one() == 0
    # the trigger compares old and new rows as multisets (migration 0037): two cases that swap
    # places and grids change nothing counted; a case moved onto another's very point (and
    # day, kind …) counts twice there
    pair = text("SELECT id FROM cases WHERE code LIKE 'RU%' AND grid_code IS NOT NULL "
                "ORDER BY id LIMIT 2 OFFSET :skip")  # fmt: skip
    a, b = db.execute(pair, {"skip": 100}).scalars()
    swap = """
        UPDATE cases c SET geom = o.geom, grid_code = o.grid_code, village_code = o.village_code,
                           township_code = o.township_code, district_code = o.district_code,
                           city_code = o.city_code, received_at = o.received_at, kind = o.kind,
                           category = o.category
        FROM cases o WHERE (c.id, o.id) IN ((:a, :b), (:b, :a)) {both}
    """
    heat = text("SELECT sum(n), count(*) FROM case_heat")
    before = db.execute(heat).one()
    db.execute(text(swap.format(both="")), {"a": a, "b": b})
    assert db.execute(heat).one() == before
    assert db.execute(text(ROLLUP_MISMATCH)).scalar_one() == 0
    c, d = db.execute(pair, {"skip": 150}).scalars()
    db.execute(text(swap.format(both="AND c.id = :a")), {"a": c, "b": d})  # c onto d
    assert db.execute(text(ROLLUP_MISMATCH)).scalar_one() == 0


def test_rollups_count_a_merged_case_once(db: Session) -> None:
    """并案 (migration 0054): a case merged into another leaves both roll-ups while the merge is
    in force, and comes back when it ends (reopened: unlinked; or the link deleted), wherever
    it has moved meanwhile; a rebuild counts the same."""
    cases = text("SELECT id FROM cases WHERE grid_code IS NOT NULL ORDER BY id LIMIT 6")
    ids = db.execute(cases).scalars().all()
    merged, carriers = ids[:3], ids[3:]
    totals = text("SELECT (SELECT sum(n) FROM case_heat), (SELECT sum(n) FROM case_grid_day)")
    heat0, grids0 = db.execute(totals).one()
    link = text("""
        INSERT INTO case_link (case_id, other_case_id, kind, status)
        SELECT a, b, 'merged_into', 'confirmed'
        FROM unnest(CAST(:a AS bigint[]), CAST(:b AS bigint[])) AS l(a, b)
        ON CONFLICT (case_id, other_case_id, kind) DO UPDATE SET status = 'confirmed'
    """)
    db.execute(link, {"a": merged, "b": carriers})
    assert db.execute(totals).one() == (heat0 - 3, grids0 - 3)
    assert db.execute(text(ROLLUP_MISMATCH)).scalar_one() == 0
    # possible duplicates change nothing; a merged case that moves is still not counted
    db.execute(
        text("""INSERT INTO case_link (case_id, other_case_id, distance_m)
                VALUES (:a, :b, 12.0) ON CONFLICT DO NOTHING"""),
        {"a": carriers[0], "b": carriers[1]},
    )
    db.execute(
        text("""UPDATE cases SET geom = ST_Translate(geom, 0.01, 0.0),
                                 received_at = received_at - interval '3 days'
                WHERE id = ANY(:ids)"""),
        {"ids": [merged[0], carriers[0]]},
    )
    assert db.execute(totals).one() == (heat0 - 3, grids0 - 3)
    assert db.execute(text(ROLLUP_MISMATCH)).scalar_one() == 0
    # reopened (unlinked) and merged again (the same link, confirmed once more)
    unlink = text("UPDATE case_link SET status = 'unlinked' WHERE case_id = :id")
    db.execute(unlink, {"id": merged[1]})
    assert db.execute(totals).one() == (heat0 - 2, grids0 - 2)
    db.execute(link, {"a": [merged[1]], "b": [carriers[1]]})
    assert db.execute(totals).one() == (heat0 - 3, grids0 - 3)
    # the link deleted, then the case: out once, not twice
    db.execute(text("DELETE FROM case_link WHERE case_id = :id"), {"id": merged[2]})
    assert db.execute(totals).one() == (heat0 - 2, grids0 - 2)
    assert db.execute(text(ROLLUP_MISMATCH)).scalar_one() == 0
    db.execute(text("SELECT wangge_rollup_rebuild()"))
    assert db.execute(totals).one() == (heat0 - 2, grids0 - 2)
    assert db.execute(text(ROLLUP_MISMATCH)).scalar_one() == 0


def test_heat_from_rollups_matches_the_cases_and_the_jurisdiction(
    db: Session, anon_client: TestClient, login_as: Headers
) -> None:
    bbox = _city_bbox(db)
    city = anon_client.get(f"/api/heat?bbox={bbox}&zoom=10&{ALL_TIME}", headers=login_as("admin"))
    assert city.status_code == 200, city.text
    body = city.json()
    assert body["source"] == "rollup" and body["cell_m"] == 1600
    assert body["total"] == _count(db, "true")
    # the 1.6 km cells are sums of the 400 m ones the roll-up keeps (migration 0030): each cell
    # holds the cases that fall in it
    cases_per_cell = dict(
        db.execute(
            text("""SELECT floor(ST_X(m) / 1600)::integer || ',' || floor(ST_Y(m) / 1600)::integer,
                           count(*) FROM cases, ST_Transform(geom, 3857) AS m GROUP BY 1""")
        ).all()
    )
    bins = {}
    for lat, lon, n in body["bins"]:
        x, y = mercator(lon, lat)
        bins[f"{math.floor(x / 1600)},{math.floor(y / 1600)}"] = n
    assert bins == cases_per_cell
    assert db.execute(text("SELECT count(*) FROM case_heat WHERE res <> 1")).scalar_one() == 0
    assert all(len(b) == 3 for b in body["bins"])

    a = anon_client.get(
        f"/api/heat?bbox={bbox}&zoom=14&{ALL_TIME}&kind=dispute",
        headers=login_as("township_operator"),
    ).json()
    assert a["source"] == "raw" and a["cell_m"] == 100  # street zoom: the roll-up stops at 400 m
    assert a["total"] == _count(db, "township_code = :t AND kind = 'dispute'", t=TOWNSHIP_A)
    b = anon_client.get(
        f"/api/heat?bbox={bbox}&zoom=12&{ALL_TIME}", headers=login_as("township_operator_b")
    ).json()
    assert b["total"] == _count(db, "township_code = :t", t=_township_b(db))
    a_cells = {(x[0], x[1]) for x in a["bins"]}
    assert a_cells and b["total"] > 0
    # a village desk gets raw bins of its village only; the status filter is computed raw too
    v = anon_client.get(
        f"/api/heat?bbox={bbox}&zoom=12&{ALL_TIME}", headers=login_as("village_operator")
    ).json()
    assert v["source"] == "raw" and v["total"] == _count(db, "village_code = '990102001001'")
    open_ = anon_client.get(
        f"/api/heat?bbox={bbox}&zoom=12&{ALL_TIME}&status=open",
        headers=login_as("township_operator"),
    ).json()
    assert open_["source"] == "raw"
    assert open_["total"] == _count(
        db,
        "township_code = :t AND status NOT IN ('resolved', 'verified', 'closed', 'suspended')",
        t=TOWNSHIP_A,
    )
    # the time slider: one day
    day = db.execute(
        text("""SELECT (received_at AT TIME ZONE 'Asia/Shanghai')::date FROM cases
                WHERE township_code = :t ORDER BY received_at DESC LIMIT 1"""),
        {"t": TOWNSHIP_A},
    ).scalar_one()
    one = anon_client.get(
        f"/api/heat?bbox={bbox}&zoom=12&day={day}", headers=login_as("township_operator")
    ).json()
    assert one["total"] == _count(
        db,
        "township_code = :t AND (received_at AT TIME ZONE 'Asia/Shanghai')::date = :d",
        t=TOWNSHIP_A,
        d=day,
    )
    # a street view (z15) across the border of two townships: the city desk counts the cases
    # of both, each township desk its own (binned raw, within the policy: migration 0026)
    x, y = db.execute(
        text("""SELECT ST_X(p), ST_Y(p) FROM (
                    SELECT ST_ClosestPoint(a.geom, b.geom) AS p FROM region a, region b
                    WHERE a.code = :a AND b.code = :b) s"""),
        {"a": TOWNSHIP_A, "b": _township_b(db)},
    ).one()
    street = f"{x - 0.01},{y - 0.006},{x + 0.01},{y + 0.006}"
    in_view = "ST_Intersects(geom, ST_MakeEnvelope(:w, :s, :e, :n, 4326))"
    box = {"w": x - 0.01, "s": y - 0.006, "e": x + 0.01, "n": y + 0.006}
    seen = {}
    for who, where in (
        ("city_operator", "true"),
        ("township_operator", "township_code = :t"),
        ("township_operator_b", "township_code = :tb"),
    ):
        heat = anon_client.get(
            f"/api/heat?bbox={street}&zoom=15&{ALL_TIME}", headers=login_as(who)
        ).json()
        assert heat["source"] == "raw" and heat["cell_m"] == 100
        expected = _count(db, f"{in_view} AND {where}", t=TOWNSHIP_A, tb=_township_b(db), **box)
        assert heat["total"] == expected, who
        seen[who] = expected
    assert seen["township_operator"] and seen["township_operator_b"]
    assert seen["city_operator"] >= seen["township_operator"] + seen["township_operator_b"]
    assert db.execute(text("SELECT count(*) FROM case_heat WHERE res = 0")).scalar_one() == 0
    # another township named explicitly: not found, not empty
    r = anon_client.get(
        f"/api/heat?bbox={bbox}&zoom=12&region={_township_b(db)}",
        headers=login_as("township_operator"),
    )
    assert r.status_code == 404
    for bad in (
        "bbox=1,2,3&zoom=12",
        "bbox=&zoom=12",  # empty: refused like a malformed one, not a 500
        f"bbox={bbox}&zoom=40",
        f"bbox={bbox}&zoom=12&status=x",
    ):
        r = anon_client.get(f"/api/heat?{bad}", headers=login_as("admin"))
        assert r.status_code == 422, (bad, r.text)


def test_grid_counts_for_the_choropleth(
    db: Session, anon_client: TestClient, login_as: Headers
) -> None:
    r = anon_client.get(f"/api/grid-counts?{ALL_TIME}", headers=login_as("township_operator"))
    assert r.status_code == 200, r.text
    body = r.json()
    expected = dict(
        db.execute(
            text("""SELECT g.code, count(c.id) FROM grid g
                    LEFT JOIN cases c ON c.grid_code = g.code
                    WHERE g.valid_to IS NULL AND g.code LIKE :t || '%' GROUP BY g.code"""),
            {"t": TOWNSHIP_A},
        ).all()
    )
    assert {k: v[0] for k, v in body["grids"].items()} == expected
    assert body["breaks"]["count"] == sorted(body["breaks"]["count"])
    assert all(v[1] is None or v[1] >= 0 for v in body["grids"].values())
    other = anon_client.get(f"/api/grid-counts?{ALL_TIME}", headers=login_as("township_operator_b"))
    assert not set(other.json()["grids"]) & set(expected)


def test_hotspots_find_a_cluster_with_its_dominant_category(
    app_db: Session, anon_client: TestClient, login_as: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    op = login_as("township_operator")
    grid = anon_client.get("/api/grids/990102001001001/summary", headers=op).json()
    assert grid["code"] == "990102001001001"
    point = app_db.execute(
        text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid "
             "WHERE code = '990102001001001' AND valid_to IS NULL) s")
    ).one()  # fmt: skip
    lon, lat = point
    for i in range(7):  # seven reports within ~20 m: a hotspot of 消防 (fire)
        body = report_body(lon + i * 0.00003, lat, category="fire", kind="hazard")
        assert anon_client.post("/api/reports", json=body, headers=op).status_code == 201
    bbox = f"{lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}"
    r = anon_client.get(f"/api/hotspots?bbox={bbox}&days=1&eps_m=50&min_cases=5", headers=op)
    assert r.status_code == 200, r.text
    clusters = r.json()["clusters"]
    top = clusters[0]
    assert top["n"] >= 7 and top["category"] == "fire" and top["category_name"]
    assert abs(top["lon"] - (lon + 0.0001)) < 0.001 and abs(top["lat"] - lat) < 0.001
    assert top["radius_m"] < 60
    other = anon_client.get(
        f"/api/hotspots?bbox={bbox}&days=1&eps_m=50&min_cases=5",
        headers=login_as("township_operator_b"),
    )
    assert other.json()["clusters"] == []
    # the city's desk sees it too; a view larger than a street's (the planner may start from the
    # jurisdiction or the period instead of the box: migration 0026) finds the same
    city = anon_client.get(
        f"/api/hotspots?bbox={bbox}&days=1&eps_m=50&min_cases=5", headers=login_as("city_operator")
    ).json()["clusters"]
    assert city and city[0]["n"] == top["n"]
    wide = f"{lon - 0.05},{lat - 0.05},{lon + 0.05},{lat + 0.05}"
    for who, found in (("township_operator", True), ("township_operator_b", False)):
        w = anon_client.get(
            f"/api/hotspots?bbox={wide}&days=1&eps_m=50&min_cases=5", headers=login_as(who)
        ).json()["clusters"]
        assert (w[0]["n"], w[0]["category"]) == (top["n"], "fire") if found else w == [], who
    # more cases in view than DBSCAN is given: counted (up to one more), not clustered
    monkeypatch.setattr(mapdata, "MAX_POINTS", 3)
    many = anon_client.get(f"/api/hotspots?bbox={bbox}&days=1", headers=op).json()
    assert many == {"too_many": True, "points": 4, "clusters": []}
    bad = anon_client.get(f"/api/hotspots?bbox={bbox}&eps_m=1", headers=op)
    assert bad.status_code == 422
    empty = anon_client.get("/api/hotspots?bbox=", headers=op)
    assert empty.status_code == 422 and "bbox" in empty.json()["detail"], empty.text


def test_live_layer_sees_new_reports_in_its_jurisdiction_only(
    app_db: Session, anon_client: TestClient, login_as: Headers
) -> None:
    op, other = login_as("township_operator"), login_as("township_operator_b")
    start = anon_client.get("/api/live", headers=op).json()
    start_b = anon_client.get("/api/live", headers=other).json()
    assert start["features"] == []
    lon, lat = app_db.execute(
        text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid "
             "WHERE code = '990102001001002' AND valid_to IS NULL) s")
    ).one()  # fmt: skip
    created = anon_client.post("/api/reports", json=report_body(lon, lat), headers=op).json()
    seen = anon_client.get(f"/api/live?after={start['cursor']}", headers=op).json()
    codes = [f["properties"]["code"] for f in seen["features"]]
    assert created["code"] in codes and seen["cursor"] > start["cursor"]
    props = seen["features"][-1]["properties"]
    assert {"code", "grid_code", "kind", "category", "status"} <= set(props)
    unseen = anon_client.get(f"/api/live?after={start_b['cursor']}", headers=other).json()
    assert created["code"] not in [f["properties"]["code"] for f in unseen["features"]]


def test_centers_load_and_grid_summary(
    db: Session, anon_client: TestClient, login_as: Headers
) -> None:
    r = anon_client.get("/api/centers/load", headers=login_as("township_operator"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    features = r.json()["features"]
    assert features and all(f["properties"]["region_code"].startswith(TOWNSHIP_A)
                            for f in features)  # fmt: skip
    for f in features[:5]:
        expected = db.execute(
            text("""SELECT count(*) FROM cases c JOIN center ce ON ce.id = c.center_id
                    JOIN region r ON r.id = ce.region_id WHERE r.code = :code
                    AND c.status NOT IN ('resolved', 'verified', 'closed', 'suspended')"""),
            {"code": f["properties"]["region_code"]},
        ).scalar_one()
        assert f["properties"]["open"] == expected
        assert 0 <= f["properties"]["overdue"] <= expected
    summary = anon_client.get(
        "/api/grids/990102001001001/summary", headers=login_as("township_operator")
    ).json()
    assert summary["workers"] and summary["households"] is not None
    assert summary["workers"][0]["role"] == "chief"
    assert summary["workers"][0]["role_name"] == "网格长"
    assert summary["open"] >= len(summary["open_cases"])
    hidden = anon_client.get(
        "/api/grids/990102001001001/summary", headers=login_as("township_operator_b")
    )
    assert hidden.status_code == 404


def test_vector_tiles_of_grids_and_cases(
    db: Session, anon_client: TestClient, login_as: Headers
) -> None:
    import math

    lon, lat = db.execute(
        text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid "
             "WHERE code = '990102001001001' AND valid_to IS NULL) s")
    ).one()  # fmt: skip

    def tile_of(z: int) -> tuple[int, int]:
        n = 2**z
        x = int((lon + 180) / 360 * n)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
        return x, y

    op = login_as("township_operator")
    for layer, z in (("grids", 12), ("grids", 15), ("cases", 10), ("cases", 14)):
        x, y = tile_of(z)
        r = anon_client.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt?days=3660", headers=op)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
        assert layer.encode() in r.content, (layer, z)
    x, y = tile_of(15)
    mine = anon_client.get(f"/tiles/grids/15/{x}/{y}.mvt", headers=op).content
    theirs = anon_client.get(
        f"/tiles/grids/15/{x}/{y}.mvt", headers=login_as("township_operator_b")
    ).content
    assert b"990102001001001" in mine and b"990102001001001" not in theirs
    assert anon_client.get("/tiles/grids/3/9/1.mvt", headers=op).status_code == 422
    assert anon_client.get("/tiles/roads/3/1/1.mvt", headers=op).status_code == 422
    assert anon_client.get(f"/tiles/grids/15/{x}/{y}.mvt").status_code == 401


def _features(tile: bytes) -> dict[str, list[dict[int, int]]]:
    """A vector tile's features by layer, each as {its tags' key index: value index} (the
    protocol buffer read by hand: no MVT library is installed)."""

    def varint(b: bytes, i: int) -> tuple[int, int]:
        n = shift = 0
        while True:
            n |= (b[i] & 0x7F) << shift
            shift += 7
            i += 1
            if b[i - 1] < 0x80:
                return n, i

    def fields(b: bytes) -> list[tuple[int, int | bytes]]:
        out: list[tuple[int, int | bytes]] = []
        i = 0
        while i < len(b):
            key, i = varint(b, i)
            wire = key & 7
            if wire == 0:
                value, i = varint(b, i)
                out.append((key >> 3, value))
            elif wire == 2:
                size, i = varint(b, i)
                out.append((key >> 3, b[i : i + size]))
                i += size
            else:  # (fixed 32/64-bit values: only in a layer's value table, skipped here)
                i += 4 if wire == 5 else 8
        return out

    layers: dict[str, list[dict[int, int]]] = {}
    for number, layer in fields(tile):
        assert number == 3 and isinstance(layer, bytes)
        parts = fields(layer)
        name = next(v for n, v in parts if n == 1)
        assert isinstance(name, bytes)
        found = layers.setdefault(name.decode(), [])
        for n, feature in parts:
            if n == 2 and isinstance(feature, bytes):
                tags = next((v for k, v in fields(feature) if k == 2), b"")
                assert isinstance(tags, bytes)
                packed = []
                i = 0
                while i < len(tags):
                    value, i = varint(tags, i)
                    packed.append(value)
                found.append(dict(zip(packed[::2], packed[1::2], strict=True)))
    return layers


def test_a_case_is_one_point_on_a_tile_across_its_grid_s_redraw(
    db: Session, anon_client: TestClient, login_as: Headers
) -> None:
    """The demo's grid 990102001004001 was redrawn 120 days before the demo was loaded (version
    2, same code): a tile over it for a period spanning the redraw holds each of its cases
    once, not once for each version of the grid it found."""
    lon, lat = db.execute(
        text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid "
             "WHERE code = '990102001004001' AND valid_to IS NULL) s")
    ).one()  # fmt: skip
    n = 2**14
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    redrawn = db.execute(
        text("SELECT valid_to FROM grid WHERE code = '990102001004001' AND valid_to IS NOT NULL")
    ).scalar_one()
    days = (datetime.now(UTC) - redrawn).days + 30
    r = anon_client.get(f"/tiles/cases/14/{x}/{y}.mvt?days={days}", headers=login_as("admin"))
    assert r.status_code == 200, r.text
    features = _features(r.content)["cases"]
    codes = [f[0] for f in features]  # (code is the first tag: the value's index is the case)
    assert len(codes) > 20 and len(set(codes)) == len(codes)


def test_a_case_where_the_grids_leave_a_gap_is_on_the_street_tiles(
    app_db: Session, anon_client: TestClient, login_as: Headers
) -> None:
    """A report from where a village's grids leave a gap is filed by the village (method region)
    with its point: it is drawn on the case tiles at street zoom (z ≥ 12), as in the lists and
    the heat.  (Those tiles found their cases through the grids under them: it was not.)"""
    lon, lat = a_gap_between_grids(app_db)
    op = login_as("township_operator")
    r = anon_client.post(
        "/api/reports", json=report_body(lon, lat, kind="hazard", category="flood"), headers=op
    )
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["location"]["method"] == "region" and case["grid_code"] is None
    for z in (12, 14, 16):
        n = 2**z
        x = int((lon + 180) / 360 * n)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
        tile = anon_client.get(f"/tiles/cases/{z}/{x}/{y}.mvt?days=1", headers=op)
        assert tile.status_code == 200, tile.text
        assert case["code"].encode() in tile.content, z


def test_the_api_names_categories_in_the_language_asked_for(
    app_db: Session, anon_client: TestClient, login_as: Headers
) -> None:
    """Accept-Language: en gets the categories' (and sources') English names in every JSON
    reply that names them; Chinese stays the default.  (They were Chinese whatever was asked.)"""
    zh, en = app_db.execute(text("SELECT name_zh, name_en FROM category WHERE code = 'fire'")).one()
    assert zh != en
    op = login_as("township_operator")
    op_en = op | {"Accept-Language": "en"}
    lon, lat = app_db.execute(
        text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid "
             "WHERE code = '990102001001001' AND valid_to IS NULL) s")
    ).one()  # fmt: skip
    start = anon_client.get("/api/live", headers=op).json()["cursor"]
    created = []
    for i in range(5):  # five within ~12 m: a hotspot too
        body = report_body(lon + i * 0.00003, lat, category="fire", kind="hazard")
        r = anon_client.post("/api/reports", json=body, headers=op_en if i else op)
        assert r.status_code == 201, r.text
        created.append(r.json())
    source_zh, source_en = SOURCE_NAMES[created[0]["source"]]
    assert (created[0]["category_name"], created[0]["source_name"]) == (zh, source_zh)
    assert (created[1]["category_name"], created[1]["source_name"]) == (en, source_en)
    code = created[0]["code"]
    bbox = f"{lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}"
    for headers, name in ((op, zh), (op_en, en)):
        case = anon_client.get(f"/api/cases/{code}", headers=headers).json()
        assert case["category_name"] == name, headers
        listed = anon_client.get(f"/api/cases?bbox={bbox}", headers=headers).json()
        fires = [f["properties"] for f in listed["features"] if f["properties"]["code"] == code]
        assert [p["category_name"] for p in fires] == [name]
        live = anon_client.get(f"/api/live?after={start}", headers=headers).json()
        mine = {c["code"] for c in created}  # (live repeats any case of the last 30 s)
        assert {f["properties"]["category_name"] for f in live["features"] if f["id"] in mine} == {
            name
        }
        spots = anon_client.get(
            f"/api/hotspots?bbox={bbox}&days=1&eps_m=50&min_cases=5", headers=headers
        ).json()["clusters"]
        assert spots[0]["category_name"] == name
        grid = anon_client.get("/api/grids/990102001001001/summary", headers=headers).json()
        assert name in {c["category_name"] for c in grid["open_cases"]}
        queue = anon_client.get("/api/queue?category=fire&below=true", headers=headers).json()
        assert {i["category_name"] for i in queue["items"]} == {name}
    batch = anon_client.post(
        "/api/reports/batch",
        json={"reports": [report_body(lon, lat, category="fire", kind="hazard",
                                      idempotency_key=str(uuid.uuid4()))]},
        headers=op_en,
    ).json()  # fmt: skip
    assert batch["results"][0]["case"]["category_name"] == en, batch
