"""Importing boundaries the way governments deliver them (fixtures generated per test)."""

from __future__ import annotations

import itertools
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

import geopandas as gpd
import shapely
from shapely.geometry import Point, box

import importers.boundaries as boundaries
from gis.errors import InvalidInput
from gis.geo import area_m2
from importers.boundaries import Options, import_centers, import_grids, import_regions
from tests.conftest import put_case

# A second, made-up city (880100) far from the demo city's codes, near 114°E / 23°N.
X0, Y0 = 114.30, 23.30


def _city(missing_district: bool = False) -> gpd.GeoDataFrame:
    """City 880100: one district (or none), two townships, four villages; exact tiling."""
    rows = [("880100", "示例二市", box(X0, Y0, X0 + 0.2, Y0 + 0.1))]
    district = "880100" if missing_district else "880102"
    if not missing_district:
        rows.append(("880102", "新区", box(X0, Y0, X0 + 0.2, Y0 + 0.1)))
    for t in range(2):
        tcode = f"{district[:4]}0{'2' if not missing_district else '1'}00{t + 1}"
        tx = X0 + 0.1 * t
        rows.append((tcode, f"第{t + 1}街道", box(tx, Y0, tx + 0.1, Y0 + 0.1)))
        for v in range(2):
            rows.append(
                (f"{tcode}00{v + 1}", f"第{t + 1}街道{v + 1}社区",
                 box(tx, Y0 + 0.05 * v, tx + 0.1, Y0 + 0.05 * (v + 1)))
            )  # fmt: skip
    return gpd.GeoDataFrame(
        {"行政区代码": [r[0] for r in rows], "名称": [r[1] for r in rows]},
        geometry=[r[2] for r in rows],
        crs="EPSG:4326",
    )


def _count(db: Session, prefix: str = "88") -> int:
    return db.execute(
        text("SELECT count(*) FROM region WHERE code LIKE :p || '%'"), {"p": prefix}
    ).scalar_one()


def test_gbk_shapefile_in_gauss_kruger_with_chinese_fields(db: Session, tmp_path: Path) -> None:
    path = tmp_path / "区划.shp"
    _city().to_crs("EPSG:4547").to_file(path, encoding="GBK", engine="pyogrio")
    (tmp_path / "区划.cpg").unlink(missing_ok=True)  # an old DBF: no code page file
    dry = import_regions(db, path, Options(encoding="GBK"))
    assert dry.mapping == {"code": "行政区代码", "name": "名称"}
    assert "4547" in (dry.crs or "") and dry.crs_source == "file"
    assert len(dry.created) == 8 and not dry.committed
    assert _count(db) == 0  # the dry run wrote nothing
    done = import_regions(db, path, Options(encoding="GBK", commit=True))
    assert done.committed and len(done.created) == 8 and done.problems == []
    assert done.linked["880102001001"].startswith("code-prefix")
    name, level, parent = db.execute(
        text("""SELECT r.name, r.level::text, p.code FROM region r JOIN region p
                ON p.id = r.parent_id WHERE r.code = '880102001001'""")
    ).one()
    assert (name, level, parent) == ("第1街道1社区", "village", "880102001")
    # within a metre of where it was drawn, after the round trip through the Gauss–Krüger zone
    x = db.execute(text("SELECT ST_XMin(geom) FROM region WHERE code = '880102002'")).scalar_one()
    assert abs(x - (X0 + 0.1)) < 1e-5
    again = import_regions(db, path, Options(encoding="GBK", commit=True))
    assert len(again.unchanged) == 8 and again.created == again.updated == []
    assert db.execute(text("SELECT count(*) FROM region WHERE NOT ST_IsValid(geom)")).scalar() == 0


def test_without_the_code_page_and_encoding_it_says_what_to_do(db: Session, tmp_path: Path) -> None:
    path = tmp_path / "区划.shp"
    _city().to_crs("EPSG:4547").to_file(path, encoding="GBK", engine="pyogrio")
    (tmp_path / "区划.cpg").unlink(missing_ok=True)
    with pytest.raises(InvalidInput) as e:  # GDAL falls back to Latin-1: garbled field names
        import_regions(db, path, Options())
    assert "--encoding GBK" in str(e.value)


def test_no_crs_is_refused_with_a_guess(db: Session, tmp_path: Path) -> None:
    path = tmp_path / "noprj.shp"
    _city().to_crs("EPSG:4547").to_file(path, encoding="GBK", engine="pyogrio")
    (tmp_path / "noprj.prj").unlink()
    with pytest.raises(InvalidInput) as e:
        import_regions(db, path, Options(encoding="GBK"))
    assert "--crs EPSG:4547" in str(e.value) and "114°E" in str(e.value)
    assert e.value.extra["guess"] == "EPSG:4547"
    ok = import_regions(db, path, Options(encoding="GBK", crs="EPSG:4547"))
    assert len(ok.created) == 8 and ok.crs_source == "--crs"


def test_geojson_with_a_bow_tie_an_empty_geometry_and_an_unclosed_ring(
    db: Session, tmp_path: Path
) -> None:
    def feature(code: str, name: str, geometry: dict | None) -> dict:
        return {"type": "Feature", "properties": {"CODE": code, "NAME": name},
                "geometry": geometry}  # fmt: skip

    x, y = X0, Y0
    square = [[x, y], [x + 0.1, y], [x + 0.1, y + 0.1], [x, y + 0.1], [x, y]]
    bow_tie = [[x + 0.2, y], [x + 0.3, y + 0.1], [x + 0.3, y], [x + 0.2, y + 0.1], [x + 0.2, y]]
    unclosed = [[x + 0.4, y], [x + 0.5, y], [x + 0.5, y + 0.1], [x + 0.4, y + 0.1]]
    fc = {
        "type": "FeatureCollection",
        "features": [
            feature("880100", "示例二市", {"type": "Polygon", "coordinates": [
                [[x, y], [x + 0.6, y], [x + 0.6, y + 0.1], [x, y + 0.1], [x, y]]]}),
            feature("880102", "好区", {"type": "Polygon", "coordinates": [square]}),
            feature("880103", "蝴蝶区", {"type": "Polygon", "coordinates": [bow_tie]}),
            feature("880104", "空区", None),
            feature("880105", "未闭合区", {"type": "Polygon", "coordinates": [unclosed]}),
        ],
    }  # fmt: skip
    path = tmp_path / "regions.geojson"
    path.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    report = import_regions(db, path, Options(commit=True))
    assert report.mapping == {"code": "CODE", "name": "NAME"}
    assert [i.code for i in report.rejected] == ["880104"]
    repaired = {i.code: i.reason for i in report.repaired}
    assert set(repaired) == {"880103", "880105"}
    assert "Self-intersection" in repaired["880103"] and "unclosed" in repaired["880105"]
    kinds = dict(
        db.execute(
            text("SELECT code, GeometryType(geom) FROM region WHERE code IN ('880103', '880105')")
        ).all()
    )
    assert kinds == {"880103": "MULTIPOLYGON", "880105": "MULTIPOLYGON"}  # never a collection
    assert db.execute(text("SELECT count(*) FROM region WHERE NOT ST_IsValid(geom)")).scalar() == 0
    # the city has a gap (nothing between 0.3 and 0.4, nor after 0.5): reported with its area
    gaps = [p for p in report.problems if p.kind == "gap"]
    assert gaps and all(p.area_m2 and p.area_m2 > 1e6 and p.lon for p in gaps)


def test_a_city_without_districts_links_townships_to_the_city(db: Session, tmp_path: Path) -> None:
    path = tmp_path / "city.gpkg"
    _city(missing_district=True).to_file(path, engine="pyogrio")
    report = import_regions(db, path, Options(commit=True))
    assert len(report.created) == 7 and report.problems == []
    parent = db.execute(
        text(
            "SELECT p.code FROM region r JOIN region p ON p.id = r.parent_id "
            "WHERE r.code = '880101001'"
        )
    ).scalar_one()
    assert parent == "880100"
    assert report.linked["880101001"].startswith("code-prefix")


def test_overlaps_and_children_outside_are_reported_and_strict_refuses(
    db: Session, tmp_path: Path
) -> None:
    gdf = _city()
    # the second township grows into the first and out of the district
    i = gdf.index[gdf["行政区代码"] == "880102002"][0]
    gdf.loc[i, "geometry"] = box(X0 + 0.09, Y0, X0 + 0.22, Y0 + 0.1)
    path = tmp_path / "bad.geojson"
    gdf.to_file(path, engine="pyogrio")
    report = import_regions(db, path, Options())
    kinds = {p.kind for p in report.problems}
    assert {"overlap", "outside_parent"} <= kinds
    overlap = next(p for p in report.problems if p.kind == "overlap")
    assert overlap.code == "880102001/880102002" and overlap.area_m2 and overlap.area_m2 > 1e5
    with pytest.raises(InvalidInput):
        import_regions(db, path, Options(commit=True, strict=True))
    assert _count(db) == 0


def test_unknown_fields_are_listed_and_overrides_work(db: Session, tmp_path: Path) -> None:
    gdf = _city().rename(columns={"行政区代码": "BM", "名称": "MINGZI"})
    path = tmp_path / "odd.geojson"
    gdf.to_file(path, engine="pyogrio")
    with pytest.raises(InvalidInput) as e:
        import_regions(db, path, Options())
    assert "BM" in str(e.value) and "MINGZI" in str(e.value) and "--code-field" in str(e.value)
    ok = import_regions(db, path, Options(code_field="BM", name_field="MINGZI"))
    assert len(ok.created) == 8


def test_a_failed_write_leaves_the_database_as_it_was(
    db: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "city.geojson"
    _city().to_file(path, engine="pyogrio")
    # the third level's insert fails after the first two were written
    monkeypatch.setattr(boundaries, "LEVELS", ("city", "district", "no_such_level"))
    with pytest.raises(Exception):  # noqa: B017 - whatever the database says
        import_regions(db, path, Options(commit=True))
    assert _count(db) == 0


def test_centers_from_a_csv_in_gcj02(db: Session, tmp_path: Path) -> None:
    from gis.datum import wgs84_to_gcj02

    path = tmp_path / "city.geojson"
    _city().to_file(path, engine="pyogrio")
    import_regions(db, path, Options(commit=True))
    lon, lat = wgs84_to_gcj02(X0 + 0.05, Y0 + 0.05)
    csv = tmp_path / "centers.csv"
    csv.write_text(
        "名称,区划代码,经度,纬度,电话\n"
        f"第1街道综治中心,880102001,{float(lon)},{float(lat)},0755-1234567\n"
        f"无此区划中心,880199001,{float(lon)},{float(lat)},\n",
        encoding="utf-8",
    )
    report = import_centers(db, csv, Options(datum="gcj02", commit=True))
    assert report.created == ["880102001"] and [i.code for i in report.rejected] == ["880199001"]
    x, y, departments = db.execute(
        text("""SELECT ST_X(c.geom), ST_Y(c.geom),
                       (SELECT count(*) FROM department d WHERE d.center_id = c.id)
                FROM center c JOIN region r ON r.id = c.region_id WHERE r.code = '880102001'""")
    ).one()
    assert abs(x - (X0 + 0.05)) < 1e-5 and abs(y - (Y0 + 0.05)) < 1e-5  # back to WGS 84
    assert departments > 5  # a township center gets its stationed departments
    again = import_centers(db, csv, Options(datum="gcj02", commit=True))
    assert again.unchanged == ["880102001"]
    assert shapely.Point(x, y).within(box(X0, Y0, X0 + 0.1, Y0 + 0.1))
    from importers.core import DATUM_UNDECLARED

    assert DATUM_UNDECLARED not in report.warnings  # (--datum said it)
    unsaid = import_centers(db, csv, Options())  # (the table's lon/lat, no datum: said first)
    assert unsaid.warnings[0] == DATUM_UNDECLARED


def test_centers_datums_in_the_words_people_use(db: Session, tmp_path: Path) -> None:
    """'GCJ02' or '高德' in the datum column or --datum was 'unknown datum' (only 'gcj02' was
    known); a --datum that names none is refused before any row, instead of every row."""
    from gis.datum import wgs84_to_gcj02

    path = tmp_path / "city.geojson"
    _city().to_file(path, engine="pyogrio")
    import_regions(db, path, Options(commit=True))
    lon, lat = (float(v) for v in wgs84_to_gcj02(X0 + 0.05, Y0 + 0.05))
    csv = tmp_path / "centers.csv"
    csv.write_text(
        "名称,区划代码,经度,纬度,坐标系\n"
        f"第1街道综治中心,880102001,{lon},{lat},高德\n"
        f"第2街道综治中心,880102002,{lon + 0.1},{lat}, GCJ-02\n"
        f"新区综治中心,880102,{lon},{lat},mars\n",
        encoding="utf-8",
    )
    report = import_centers(db, csv, Options(commit=True))
    assert sorted(report.created) == ["880102001", "880102002"]
    assert [(i.code, "'mars'" in i.reason) for i in report.rejected] == [("880102", True)]
    x = db.execute(
        text("""SELECT ST_X(c.geom) FROM center c JOIN region r ON r.id = c.region_id
                WHERE r.code = '880102001'""")
    ).scalar_one()
    assert abs(x - (X0 + 0.05)) < 1e-5  # converted from GCJ-02
    plain = tmp_path / "plain.csv"
    plain.write_text(f"名称,区划代码,经度,纬度\n新区中心,880102,{lon},{lat}\n", encoding="utf-8")
    assert import_centers(db, plain, Options(datum="GCJ02")).created == ["880102"]
    with pytest.raises(InvalidInput, match="--datum 'mars' 无法识别") as e:
        import_centers(db, plain, Options(datum="mars"))
    assert e.value.extra["field"] == "datum"


def _grids(village: str = "880102001001", n: int = 4) -> gpd.GeoDataFrame:
    """``n`` grids tiling the village's box (the first village of _city())."""
    w = 0.1 / n
    return gpd.GeoDataFrame(
        {
            "网格编码": [f"{village}{k + 1:03d}" for k in range(n)],
            "网格名称": [f"第{k + 1}网格" for k in range(n)],
            "户数": [str(100 + k) for k in range(n)],
        },
        geometry=[box(X0 + w * k, Y0, X0 + w * (k + 1), Y0 + 0.05) for k in range(n)],
        crs="EPSG:4326",
    )


def test_grids_are_linked_to_villages_and_keep_their_history(db: Session, tmp_path: Path) -> None:
    city = tmp_path / "city.geojson"
    _city().to_file(city, engine="pyogrio")
    import_regions(db, city, Options(commit=True))
    path = tmp_path / "grids.gpkg"
    _grids().to_file(path, engine="pyogrio")
    first = import_grids(db, path, Options(commit=True))
    assert first.mapping == {"code": "网格编码", "name": "网格名称", "households": "户数"}
    assert len(first.created) == 4 and first.problems == [] and first.rejected == []
    assert set(first.linked.values()) == {"code-prefix 编码前缀"}
    assert import_grids(db, path, Options(commit=True)).unchanged == first.created
    # open cases in grid 2 by the line about to move, in grid 1, and a closed one in grid 2
    crossing = put_case(db, Point(X0 + 0.0275, Y0 + 0.025))
    staying = put_case(db, Point(X0 + 0.01, Y0 + 0.025))
    closed = put_case(db, Point(X0 + 0.028, Y0 + 0.025), "closed")
    # the planners moved the line between grids 1 and 2, and renamed grid 4
    moved = _grids()
    moved.loc[0, "geometry"] = box(X0, Y0, X0 + 0.03, Y0 + 0.05)
    moved.loc[1, "geometry"] = box(X0 + 0.03, Y0, X0 + 0.05, Y0 + 0.05)
    moved.loc[3, "网格名称"] = "第四网格"
    moved.to_file(path, engine="pyogrio")
    dry = import_grids(db, path, Options())
    assert sorted(dry.updated) == ["880102001001001", "880102001001002", "880102001001004"]
    versions = db.execute(
        text("SELECT code, count(*) FROM grid WHERE code LIKE '880102001001%' GROUP BY code")
    ).all()
    assert {c: n for c, n in versions} == {g: 1 for g in first.created}  # the dry run wrote nothing
    assert any("2 件未结案件改按新版本网格分派，其中 1 件换了网格" in w for w in dry.warnings)
    again = import_grids(db, path, Options(commit=True))
    assert any(
        "2 open cases moved to the new grid versions; 1 of them" in w for w in again.warnings
    )
    history = db.execute(
        text("""SELECT code, version, valid_to IS NULL AS current, name FROM grid
                WHERE code LIKE '880102001001%' ORDER BY code, version""")
    ).all()
    assert [(h.code[-3:], h.version, h.current) for h in history] == [
        ("001", 1, False), ("001", 2, True), ("002", 1, False), ("002", 2, True),
        ("003", 1, True), ("004", 1, True),
    ]  # fmt: skip
    assert history[-1].name == "第四网格"  # renamed in place: same cell, same version
    # the open cases are on the current versions, the one across the line in grid 1 now, with
    # a regrid event; the closed case keeps the version it was handled under
    cases = {
        r.code: r
        for r in db.execute(
            text("""SELECT c.code, c.grid_code, g.version, g.valid_to IS NULL AS current,
                           (SELECT string_agg(e.actor || ' ' || e.note, '; ') FROM case_event e
                            WHERE e.case_id = c.id AND e.action = 'regrid') AS regrid
                    FROM cases c JOIN grid g ON g.id = c.grid_id
                    WHERE c.code IN (:a, :b, :c)"""),
            {"a": crossing, "b": staying, "c": closed},
        )
    }
    assert (cases[crossing].grid_code, cases[crossing].current) == ("880102001001001", True)
    assert cases[crossing].regrid == "import 网格调整：880102001001002 → 880102001001001"
    assert (cases[staying].grid_code, cases[staying].version, cases[staying].current) == (
        "880102001001001", 2, True,
    )  # fmt: skip
    assert cases[staying].regrid is None  # same grid, same center: no event to read
    assert (cases[closed].grid_code, cases[closed].version) == ("880102001001002", 1)


def test_grids_outside_their_village_overlapping_or_unplaceable(
    db: Session, tmp_path: Path
) -> None:
    city = tmp_path / "city.geojson"
    _city().to_file(city, engine="pyogrio")
    import_regions(db, city, Options(commit=True))
    bad = _grids()
    bad.loc[1, "geometry"] = box(X0 + 0.02, Y0, X0 + 0.05, Y0 + 0.07)  # overlaps 1, sticks out
    far = gpd.GeoDataFrame(
        {"网格编码": ["990000000000001"], "网格名称": ["远处"], "户数": ["1"]},
        geometry=[box(X0 + 5, Y0 + 5, X0 + 5.01, Y0 + 5.01)],
        crs="EPSG:4326",
    )
    path = tmp_path / "bad.geojson"
    gpd.GeoDataFrame(pd.concat([bad, far], ignore_index=True), crs="EPSG:4326").to_file(
        path, engine="pyogrio"
    )
    report = import_grids(db, path, Options())
    kinds = {p.kind for p in report.problems}
    assert {"overlap", "outside_parent"} <= kinds
    assert [i.code for i in report.rejected] == ["990000000000001"]
    with pytest.raises(InvalidInput):
        import_grids(db, path, Options(strict=True, commit=True))


# --- what a fuzzed set of hand-made files found (each was a traceback, or a silent wrong row) ---


def test_metres_in_a_file_declared_as_degrees_are_refused_with_a_guess(
    db: Session, tmp_path: Path
) -> None:
    """A GeoJSON is WGS 84 by definition: a city's Gauss–Krüger metres exported as GeoJSON (or a
    Shapefile with a wrong .prj) would have been stored at longitude 38,500,000."""
    path = tmp_path / "metres.geojson"
    metres = _city().to_crs("EPSG:4526").set_crs("EPSG:4326", allow_override=True)
    metres.to_file(path, engine="pyogrio")
    with pytest.raises(InvalidInput) as e:
        import_regions(db, path, Options())
    assert "EPSG:4526" in str(e.value) and "8 行（共 8 行）" in str(e.value)
    assert e.value.extra["guess"] == "EPSG:4526"
    assert len(import_regions(db, path, Options(crs="EPSG:4526")).created) == 8
    assert _count(db) == 0


def test_degrees_in_a_file_declared_as_metres_are_refused_with_a_guess(
    db: Session, tmp_path: Path
) -> None:
    """The reverse: degrees under a Gauss–Krüger .prj (or --crs EPSG:3857) landed as metres
    within a few hundred metres of the projection's origin, and every row was rejected as 'no
    area' or 'no village found', which said nothing of the cause."""
    path = tmp_path / "区划.gpkg"
    _city().set_crs("EPSG:4547", allow_override=True).to_file(path, engine="pyogrio")
    with pytest.raises(InvalidInput, match="看起来是经纬度") as e:
        import_regions(db, path, Options())
    assert e.value.extra["guess"] == "EPSG:4490" and "EPSG:4547" in str(e.value)
    with pytest.raises(InvalidInput, match="--crs 指定的坐标系 EPSG:3857"):
        import_regions(db, path, Options(crs="EPSG:3857"))
    assert len(import_regions(db, path, Options(crs="EPSG:4490")).created) == 8
    # a local grid in metres near its own origin is not taken for degrees
    local = _city().set_crs("EPSG:4326", allow_override=True)
    local.geometry = local.geometry.translate(-X0, -Y0).scale(1000, 1000, origin=(0, 0))
    local.set_crs("EPSG:3857", allow_override=True).to_file(tmp_path / "local.gpkg")
    assert len(import_regions(db, tmp_path / "local.gpkg", Options()).created) == 8


def test_rows_off_the_globe_infinite_or_with_heights_are_judged_one_by_one(
    db: Session, tmp_path: Path
) -> None:
    path = tmp_path / "mixed.geojson"
    rows = [
        ("880100", box(X0, Y0, X0 + 0.2, Y0 + 0.1)),  # good
        ("880102", shapely.Polygon([(X0, Y0, 5), (X0 + 0.2, Y0, 5), (X0 + 0.2, Y0 + 0.1, 7)])),
        ("880103", box(X0 + 300, Y0, X0 + 300.2, Y0 + 0.1)),  # one row off the globe
        ("880104", shapely.Polygon([(float("inf"), Y0), (X0, Y0), (X0, Y0 + 0.1)])),
        ("880105", box(-180, -90, 180, 90)),  # the world (its geodesic area is 0)
    ]
    features = [
        {"type": "Feature", "properties": {"code": c, "name": c}, "geometry": g.__geo_interface__}
        for c, g in rows
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    report = import_regions(db, path, Options(commit=True))
    assert report.created == ["880100", "880102"]
    assert {i.code: i.reason[:6] for i in report.rejected} == {
        "880103": "坐标超出经纬",
        "880104": "坐标含非数值",
        "880105": "范围过大（经",
    }
    dims = db.execute(text("SELECT ST_NDims(geom) FROM region WHERE code = '880102'")).scalar()
    assert dims == 2  # the heights are dropped, the outline kept


def test_a_wkt_column_draws_regions_and_grids_from_a_table(db: Session, tmp_path: Path) -> None:
    """``WKT`` was found for centers only: a table of regions or grids with one was refused for
    lacking it.  A cell that is not WKT is named as such, not as an empty geometry."""
    path = tmp_path / "区划.csv"
    city = _city()
    table = pd.DataFrame(
        {"编码": city["行政区代码"], "名称": city["名称"], "WKT": city.to_wkt().geometry}
    )
    table.loc[len(table)] = ["880102009", "坏行", "POLYGON((nonsense))"]
    table.to_csv(path, index=False)
    report = import_regions(db, path, Options())
    assert len(report.created) == 8
    assert [(i.code, i.reason.zh, i.reason.en) for i in report.rejected] == [  # type: ignore[attr-defined]
        (
            "880102009",
            "WKT 无法解析：'POLYGON((nonsense))'",
            "unreadable WKT: 'POLYGON((nonsense))'",
        )
    ]


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("empty.geojson", '{"type": "FeatureCollection", "features": []}', "没有任何数据行或要素"),
        ("empty.kml", '<?xml version="1.0"?><kml><Document></Document></kml>', "没有可读的图层"),
        ("empty.csv", "", "没有任何数据行或要素"),
        ("header.csv", "编码,名称,WKT\n", "没有任何数据行或要素"),
    ],
)
def test_a_file_with_nothing_in_it_says_so(
    db: Session, tmp_path: Path, name: str, content: str, said: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InvalidInput, match=said):
        import_regions(db, path, Options())


def test_centers_with_swapped_or_impossible_coordinates_are_rejected_or_refused(
    db: Session, tmp_path: Path
) -> None:
    import_regions(db, _write(_city(), tmp_path / "city.geojson"), Options(commit=True))
    one = tmp_path / "one.csv"
    one.write_text(
        "名称,区划代码,经度,纬度\n"
        f"第1街道综治中心,880102001,{X0 + 0.05},{Y0 + 0.05}\n"
        f"第2街道综治中心,880102002,{Y0 + 0.05},{X0 + 0.15}\n"
        "新区综治中心,880102,inf,inf\n",
        encoding="utf-8",
    )
    report = import_centers(db, one, Options())
    assert report.created == ["880102001"]
    reasons = {i.code: i.reason for i in report.rejected}
    assert "经纬度是否填反了" in reasons["880102002"] and "坐标无效" in reasons["880102"]
    every = tmp_path / "every.csv"
    every.write_text(
        f"名称,区划代码,经度,纬度\n第2街道综治中心,880102002,{Y0 + 0.05},{X0 + 0.15}\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidInput, match="请交换经度、纬度两列"):
        import_centers(db, every, Options())


def _write(gdf: gpd.GeoDataFrame, path: Path) -> Path:
    gdf.to_file(path, engine="pyogrio")
    return path


# --- polygons GEOS throws on ---

_THROWS = Path(__file__).parent.parent / "data" / "union_throws.json"


def _throwing_polygons() -> tuple[shapely.Polygon, list[shapely.Polygon]]:
    """An outline and 25 valid polygons in it whose union GEOS throws on (shapely's 3.14 too:
    'Ring edge missing'): areas a fuzzed planner session left, tests/data/union_throws.json."""
    data = json.loads(_THROWS.read_text())
    parts = [shapely.from_wkb(w) for w in data["declared"]]
    assert all(p.is_valid for p in parts)
    with pytest.raises(shapely.errors.GEOSException, match="TopologyException"):
        shapely.union_all(parts)
    return shapely.from_wkb(data["village"]), parts


def test_grids_whose_union_geos_throws_on_are_checked_not_a_traceback(
    db: Session, tmp_path: Path
) -> None:
    """The gap check unions a village's grids: on these it was a traceback, and the planner
    learnt nothing of what was wrong with the file."""
    outline, parts = _throwing_polygons()
    village = db.execute(
        text("""UPDATE region SET geom = ST_GeomFromWKB(:w, 4326)
                WHERE id = (SELECT min(id) FROM region WHERE level = 'village')
                RETURNING code"""),
        {"w": shapely.to_wkb(outline)},
    ).scalar_one()
    path = _write(
        gpd.GeoDataFrame(
            {"网格编码": [f"{village}{k + 101}" for k in range(len(parts))]},
            geometry=parts,
            crs="EPSG:4326",
        ),
        tmp_path / "grids.geojson",
    )
    report = import_grids(db, path, Options())
    assert len(report.created) == len(parts) and report.rejected == []
    kinds = [p.kind for p in report.problems]
    assert kinds.count("overlap") > 20 and "gap" in kinds  # (drawn over each other, and holes)
    # the gaps are the outline less the grids: within a square metre of the exact figure
    gaps = sum(p.area_m2 or 0 for p in report.problems if p.kind == "gap")
    exact = area_m2(outline.difference(shapely.union_all(parts, grid_size=1e-9)))
    assert gaps <= exact + 1 and gaps > 0.9 * exact  # (pieces under the tolerance left out)


def test_regions_whose_union_geos_throws_on_are_checked_not_a_traceback(
    db: Session, tmp_path: Path
) -> None:
    outline, parts = _throwing_polygons()
    path = _write(
        gpd.GeoDataFrame(
            {
                "行政区代码": ["880102001"] + [f"880102001{k + 1:03d}" for k in range(len(parts))],
                "名称": ["某街道"] + [f"第{k + 1}社区" for k in range(len(parts))],
            },
            geometry=[outline, *parts],
            crs="EPSG:4326",
        ),
        tmp_path / "regions.geojson",
    )
    report = import_regions(db, path, Options())
    assert len(report.created) == 1 + len(parts) and report.rejected == []
    kinds = [p.kind for p in report.problems]
    assert kinds.count("overlap") > 20 and "gap" in kinds


def test_a_damaged_spreadsheet_is_named_as_such(db: Session, tmp_path: Path) -> None:
    path = tmp_path / "网格.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")  # pandas said only 'zip'
    with pytest.raises(InvalidInput, match="不是有效的 Excel 文件，或文件已损坏"):
        import_grids(db, path, Options())


def _files_cut_short(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """A file of each kind as a download that did not finish or a copy that left parts out,
    and the start of what the import says of it."""
    grid = gpd.GeoDataFrame(
        {"code": ["990102001001001"], "name": ["一网格"]},
        geometry=[box(87.6, 43.8, 87.61, 43.81)], crs=4326,
    )  # fmt: skip
    grid.to_file(tmp_path / "网格.shp", encoding="UTF-8")
    grid.to_file(tmp_path / "网格.gpkg")
    files: dict[str, tuple[Path, str]] = {}
    for name, parts in (("无dbf", (".shp", ".shx", ".prj")), ("无shx", (".shp", ".dbf", ".prj"))):
        with zipfile.ZipFile(tmp_path / f"{name}.zip", "w") as z:
            for suffix in parts:
                z.write(tmp_path / f"网格{suffix}", f"成果/网格{suffix}")
        missing = "网格.dbf（属性表" if name == "无dbf" else "网格.shx（索引）"
        files[name] = (
            tmp_path / f"{name}.zip",
            f"Shapefile 由几个同名文件组成，{name}.zip 缺少 {missing}",
        )
    with zipfile.ZipFile(tmp_path / "全.zip", "w") as z:
        for suffix in (".shp", ".shx", ".dbf", ".prj"):
            z.write(tmp_path / f"网格{suffix}", f"网格{suffix}")
    whole = (tmp_path / "全.zip").read_bytes()
    (tmp_path / "半.zip").write_bytes(whole[: len(whole) * 2 // 3])
    files["半zip"] = (tmp_path / "半.zip", "无法读取 半.zip：不是有效的 zip 压缩包，或压缩包不完整")
    whole = (tmp_path / "网格.gpkg").read_bytes()
    (tmp_path / "半.gpkg").write_bytes(whole[: len(whole) // 2])
    files["半gpkg"] = (tmp_path / "半.gpkg", "无法读取 半.gpkg：文件内容有误或不完整，可能没有")
    text_ = grid.to_json()
    (tmp_path / "半.geojson").write_text(text_[:60], encoding="utf-8")
    files["半geojson"] = (
        tmp_path / "半.geojson", "无法读取 半.geojson：文件内容有误或不完整（第 1 行第 "
    )  # fmt: skip
    return files


@pytest.mark.parametrize("kind", ["无dbf", "无shx", "半zip", "半gpkg", "半geojson"])
def test_a_file_cut_short_or_missing_parts_is_named_as_such(
    db: Session, tmp_path: Path, kind: str
) -> None:
    """GDAL's words were passed on as they came ("Unable to open ok.shx … Set
    SHAPE_RESTORE_SHX", "Failed to read GeoJSON data"), a Shapefile without its .dbf was read
    as geometries without fields ("文件中的字段：。"), a zip cut short was "not a format it
    knows".  Each now says what is wrong with the file and what to do."""
    path, said = _files_cut_short(tmp_path)[kind]
    with pytest.raises(InvalidInput) as refused:
        import_grids(db, path, Options())
    assert str(refused.value).startswith(said), refused.value
    assert refused.value.extra == {"field": "file"}


def test_shapes_are_compared_without_geos_throwing(db: Session) -> None:
    """A re-import compares each grid, region or center with the stored one in SQL.  PostGIS's
    ST_Equals threw on a valid pair (tests/data/equals_throws.json); ``wangge_equals``
    (migration 0043) answers for it, and as ST_Equals does elsewhere."""
    pair = json.loads((Path(__file__).parent.parent / "data" / "equals_throws.json").read_text())
    same = db.execute(
        text("""SELECT wangge_equals(ST_GeomFromText(:a), ST_GeomFromText(:b)),
                       wangge_equals(ST_GeomFromText(:b), ST_GeomFromText(:b)),
                       wangge_equals(ST_GeomFromText(:b), ST_Normalize(ST_GeomFromText(:b))),
                       wangge_equals('POINT(1 2)', 'POINT(1 2)'),
                       wangge_equals('POINT(1 2)', 'POINT(1 3)')"""),
        {"a": pair["item"], "b": pair["grid"]},
    ).one()
    assert tuple(same) == (False, True, True, True, False)


def test_field_names_compare_without_units_marks_or_full_width_letters() -> None:
    from importers.core import field_key, header_row

    assert field_key(" 经度(°) ") == field_key("经度（度）") == field_key("经 度") == "经度"
    assert field_key("*姓名") == field_key("＊姓名") == "姓名"
    assert field_key("上报时间【必填】") == "上报时间" and field_key("ＬＯＮ") == "LON"
    assert field_key("(备注)") == "(备注)"  # a name that is all brackets stays itself
    rows = [["某某台账"], ["填报单位：某中心", "", "日期"], ["编码", "名称"], ["1", "甲"]]
    assert header_row(rows, ["编码", "名称"]) == 2
    assert header_row([["编码", "名称"], ["编码", "名称"]], ["编码", "名称"]) == 0
    assert header_row([["标题"], ["编码", "x"]], ["编码", "名称"]) == 0  # one name is no header


def test_a_zip_archive_and_a_file_of_several_layers(db: Session, tmp_path: Path) -> None:
    """A Shapefile handed over zipped, in the folders of a survey's deliverables (成果/矢量/…),
    is read from the archive (it was "not recognized as being in a supported file format");
    an archive of two, or a GeoPackage of two layers, is refused with their names until one is
    named after a ! (a GeoPackage's first layer was read, whichever it was)."""
    import zipfile

    city = _city()
    folder = tmp_path / "shp"
    folder.mkdir()
    city.to_file(folder / "区划.shp", engine="pyogrio", encoding="GBK")  # (with its .cpg)
    city.iloc[:1].to_file(folder / "市界.shp", engine="pyogrio", encoding="GBK")
    one, two = tmp_path / "成果.zip", tmp_path / "两个.zip"
    with zipfile.ZipFile(one, "w") as a, zipfile.ZipFile(two, "w") as b:
        for f in sorted(folder.iterdir()):
            if f.stem == "区划":
                a.write(f, f"成果/矢量/{f.name}")
            b.write(f, f"矢量/{f.name}")
    assert len(import_regions(db, one, Options()).created) == 8
    with pytest.raises(InvalidInput, match=r"有 2 个数据文件：矢量/区划\.shp、矢量/市界\.shp") as e:
        import_regions(db, two, Options())
    assert "两个.zip!矢量/区划.shp" in str(e.value)
    assert len(import_regions(db, Path(f"{two}!矢量/市界.shp"), Options()).created) == 1

    package = tmp_path / "成果.gpkg"
    city.to_file(package, layer="行政区划", engine="pyogrio")
    city.iloc[:1].to_file(package, layer="市界", engine="pyogrio")
    with pytest.raises(InvalidInput, match="有 2 个图层：行政区划、市界。请在文件名后用 !"):
        import_regions(db, package, Options())
    with pytest.raises(InvalidInput, match="没有图层 '网格'"):
        import_regions(db, Path(f"{package}!网格"), Options())
    assert len(import_regions(db, Path(f"{package}!行政区划"), Options()).created) == 8


def test_a_zip_made_on_chinese_windows(
    db: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows' own 压缩 (and older WinRAR, 7-Zip) store member names in GBK without the UTF-8
    flag.  They were listed as CP437 (╩╕┴┐/╟°╗«.shp for 矢量/区划.shp) and could not be named
    after a ! in Chinese; a name whose bytes are UTF-8 without the flag is read as UTF-8."""
    import zipfile

    folder = tmp_path / "shp"
    folder.mkdir()
    _city().to_file(folder / "区划.shp", engine="pyogrio", encoding="GBK")
    _city().iloc[:1].to_file(folder / "市界.shp", engine="pyogrio", encoding="GBK")

    def unflagged(encoding: str):  # type: ignore[no-untyped-def]
        def encode(self: zipfile.ZipInfo) -> tuple[bytes, int]:
            return self.filename.encode(encoding), self.flag_bits & ~0x800

        return encode

    archives = {"gbk": tmp_path / "两个.zip", "utf-8": tmp_path / "单个.zip"}
    for encoding, archive in archives.items():
        monkeypatch.setattr(zipfile.ZipInfo, "_encodeFilenameFlags", unflagged(encoding))
        with zipfile.ZipFile(archive, "w") as z:
            for f in sorted(folder.iterdir()):
                if encoding == "gbk" or f.stem == "区划":
                    z.write(f, f"矢量/{f.name}")
        monkeypatch.undo()
        assert "矢量/区划.shp" not in zipfile.ZipFile(archive).namelist()  # stored unflagged

    with pytest.raises(InvalidInput, match=r"有 2 个数据文件：矢量/区划\.shp、矢量/市界\.shp") as e:
        import_regions(db, archives["gbk"], Options())
    assert "两个.zip!矢量/区划.shp" in str(e.value)
    assert len(import_regions(db, Path(f"{archives['gbk']}!矢量/市界.shp"), Options()).created) == 1
    assert len(import_regions(db, archives["utf-8"], Options()).created) == 8


def test_national_twelve_digit_codes_padded_with_zeros(db: Session, tmp_path: Path) -> None:
    """The national statistical codes pad every level to 12 digits (880102000000 a district,
    880102001000 a township): read at their level, linked by prefix as usual.  Every region was
    taken for a village, and all overlapped one another."""
    city = _city()
    city["行政区代码"] = [c.ljust(12, "0") for c in city["行政区代码"]]
    path = tmp_path / "统计用区划代码.geojson"
    city.to_file(path, engine="pyogrio")
    report = import_regions(db, path, Options(commit=True))
    assert len(report.created) == 8 and not report.problems and not report.rejected
    assert any("12 位补零" in w and "880100000000 → 880100" in w for w in report.warnings)
    levels = dict(
        db.execute(
            text("""SELECT r.code, r.level::text || ' < ' || coalesce(p.code, '-')
                    FROM region r LEFT JOIN region p ON p.id = r.parent_id
                    WHERE r.code LIKE '88%'""")
        ).all()
    )
    assert levels == {
        "880100": "city < -",
        "880102": "district < 880100",
        "880102001": "township < 880102",
        "880102002": "township < 880102",
        "880102001001": "village < 880102001",
        "880102001002": "village < 880102001",
        "880102002001": "village < 880102002",
        "880102002002": "village < 880102002",
    }


@pytest.mark.parametrize(
    ("word", "level"),
    [("市级", "city"), ("地级市", "city"), ("县级", "district"), ("市辖区", "district"),
     ("自治县", "district"), ("街道办事处", "township"), ("乡镇/街道", "township"),
     ("民族乡", "township"), ("村（社区）", "village"), ("社区居委会", "village"),
     ("村民委员会", "village"), ("行政村", "village"), ("Ｖｉｌｌａｇｅ", "village")],
)  # fmt: skip
def test_level_words_as_ledgers_write_them(word: str, level: str) -> None:
    assert boundaries._level_of("990102001", word) == level


def test_centers_of_regions_given_by_name(db: Session, tmp_path: Path) -> None:
    """所属区划 第1街道 (a name) is read as its code; a name two regions share is rejected with
    their codes; a name nothing has is an unknown region (each was 'unknown region')."""
    path = tmp_path / "city.geojson"
    city = _city()
    city.loc[city["行政区代码"] == "880102002002", "名称"] = "第1街道2社区"  # a shared name
    city.to_file(path, engine="pyogrio")
    import_regions(db, path, Options(commit=True))
    p = f"{X0 + 0.05},{Y0 + 0.05}"
    csv = tmp_path / "centers.csv"
    csv.write_text(
        "名称,所属区划,经度,纬度\n"
        f"第1街道综治中心,第1街道,{p}\n"
        f"社区工作站,第1街道2社区,{p}\n"
        f"不知所属,没有这个街道,{p}\n",
        encoding="utf-8",
    )
    report = import_centers(db, csv, Options(commit=True))
    assert report.created == ["880102001"]
    reasons = [i.reason for i in report.rejected]
    assert "区划名称有 2 个：880102001002（第1街道）、880102002002（第2街道）" in reasons[0]
    assert (reasons[1].zh, reasons[1].en) == ("区划不存在", "unknown region")  # type: ignore[attr-defined]


def test_centers_with_longitude_and_latitude_in_one_column(db: Session, tmp_path: Path) -> None:
    path = tmp_path / "city.geojson"
    _city().to_file(path, engine="pyogrio")
    import_regions(db, path, Options(commit=True))
    csv = tmp_path / "centers.csv"
    csv.write_text(
        f'名称,区划代码,经纬度\n第1街道综治中心,880102001,"{X0 + 0.05}, {Y0 + 0.05}"\n',
        encoding="utf-8",
    )
    report = import_centers(db, csv, Options(commit=True))
    assert report.created == ["880102001"]
    x, y = db.execute(
        text("""SELECT ST_X(c.geom), ST_Y(c.geom) FROM center c JOIN region r
                ON r.id = c.region_id WHERE r.code = '880102001'""")
    ).one()
    assert abs(x - (X0 + 0.05)) < 1e-9 and abs(y - (Y0 + 0.05)) < 1e-9


def test_a_file_of_some_grids_is_checked_against_the_village_s_other_grids(
    db: Session, tmp_path: Path
) -> None:
    """The layout as it will be: a grid of the file overlapping a stored grid it does not name
    is reported (it was not: only the file's grids were compared), and a file of one grid of a
    village does not report the rest of the village as a gap (it did)."""
    one = "990102001001002"
    geom, inside = db.execute(
        text("""SELECT ST_AsBinary(geom), ST_AsBinary(ST_PointOnSurface(geom)) FROM grid
                WHERE code = '990102001001001' AND valid_to IS NULL"""),
    ).one()
    stored, name, households, population = db.execute(
        text(f"SELECT ST_AsBinary(geom), name, households, population FROM grid "
             f"WHERE code = '{one}' AND valid_to IS NULL")
    ).one()  # fmt: skip
    p = shapely.from_wkb(bytes(inside))
    assert shapely.from_wkb(bytes(geom)).contains(p.buffer(0.0005))
    path = tmp_path / "grids.geojson"
    gpd.GeoDataFrame(
        {
            "网格编码": [one, "990102001001099"],
            "网格名称": [name, "新网格"],
            "户数": [households, 300],
            "人口": [population, 900],
        },
        geometry=[shapely.from_wkb(bytes(stored)), p.buffer(0.0005)],
        crs="EPSG:4326",
    ).to_file(path, engine="pyogrio")
    report = import_grids(db, path, Options())
    assert report.unchanged == [one] and report.created == ["990102001001099"], report.summary()
    problems = [(i.kind, i.code) for i in report.problems]
    assert problems == [("overlap", "990102001001099/990102001001001")], report.summary()


def _topojson(frame: gpd.GeoDataFrame, quantization: int = 100_000) -> dict:
    """``frame`` (polygons) as a TopoJSON topology the way mapshaper writes one: quantized,
    delta-encoded arcs under a transform (one arc a ring: nothing shared)."""
    minx, miny, maxx, maxy = frame.total_bounds
    sx, sy = (maxx - minx) / (quantization - 1), (maxy - miny) / (quantization - 1)
    arcs, geometries = [], []
    for code, name, geom in zip(frame["行政区代码"], frame["名称"], frame.geometry, strict=True):
        q = [(round((x - minx) / sx), round((y - miny) / sy)) for x, y in geom.exterior.coords]
        arcs.append([list(q[0])] + [[b[0] - a[0], b[1] - a[1]] for a, b in itertools.pairwise(q)])
        geometries.append(
            {"type": "Polygon", "arcs": [[len(arcs) - 1]],
             "properties": {"行政区代码": code, "名称": name}}
        )  # fmt: skip
    return {
        "type": "Topology",
        "transform": {"scale": [sx, sy], "translate": [minx, miny]},
        "objects": {"区划": {"type": "GeometryCollection", "geometries": geometries}},
        "arcs": arcs,
    }


@pytest.mark.parametrize("kind", ["gdb", "topojson"])
def test_a_file_geodatabase_and_a_topojson_import_like_any_other(
    db: Session, tmp_path: Path, kind: str
) -> None:
    """Two of the formats a city's GIS team hands over besides Shapefiles: an Esri File
    Geodatabase (a folder, read by GDAL's OpenFileGDB) and a TopoJSON (mapshaper's, quantized).
    TopoJSON declares no CRS: refused with the guess (lon/lat: EPSG:4490), taken with --crs."""
    city = _city()
    if kind == "gdb":
        path = tmp_path / "city.gdb"
        city.to_file(path, driver="OpenFileGDB", layer="区划", engine="pyogrio")
        crs = None
    else:
        path = tmp_path / "city.topojson"
        path.write_text(json.dumps(_topojson(city), ensure_ascii=False), encoding="utf-8")
        with pytest.raises(InvalidInput) as refused:
            import_regions(db, path, Options())
        assert refused.value.extra["guess"] == "EPSG:4490" and "TopoJSON" in str(refused.value)
        crs = "EPSG:4326"
    done = import_regions(db, path, Options(crs=crs, commit=True))
    assert len(done.created) == 8 and done.problems == [] and done.rejected == [], done.summary()
    assert done.mapping == {"code": "行政区代码", "name": "名称"}
    x, y = db.execute(
        text("SELECT ST_XMax(geom), ST_YMax(geom) FROM region WHERE code = '880102002002'")
    ).one()
    assert abs(x - (X0 + 0.2)) < 1e-6 and abs(y - (Y0 + 0.1)) < 1e-6  # (within 0.1 m)


def test_the_progress_line_speaks_the_summarys_language(monkeypatch: pytest.MonkeyPatch) -> None:
    """The progress line of a long import, as the summary after it: English where LANG is."""
    import io

    from importers.core import Both, Progress

    bar = "[" + "#" * 10 + " " * 10 + "]"
    for lang, said, stage in (("zh_CN.UTF-8", f"几何检查 {bar} 5/10 行，", "  写入案件"),
                              ("en_US.UTF-8", f"geometry check {bar} 5/10 rows, ",
                               "  writing the cases")):  # fmt: skip
        monkeypatch.setenv("LANG", lang)
        out = io.StringIO()
        progress = Progress(Both("几何检查", "geometry check"), 10, out)
        progress.started -= 2  # (shown once it has taken more than a second)
        progress.update(5)
        assert out.getvalue().startswith("\r" + said), out.getvalue()
        progress.update(6, "insert cases")  # a stage of a bulk import, by its key
        assert out.getvalue().endswith(stage), out.getvalue()


def test_a_summary_says_how_many_problems_it_did_not_list() -> None:
    """The summary lists 20 rows and 20 warnings; it said nothing of the rest (a headline of
    问题 63 over twenty lines)."""
    from importers.core import Both, ImportReport, Issue

    report = ImportReport(Both("网格", "grids"), "grids.gpkg")
    report.problems = [Issue("gap", f"99010200100{i}", Both("空隙", "gap"), 114.0, 23.0, 150.0)
                       for i in range(25)]  # fmt: skip
    report.warnings = [Both("注意", "note")] * 21
    zh, en = report.summary("zh").splitlines(), report.summary("en").splitlines()
    assert sum(line.startswith("  - 空隙 990102001") for line in zh) == 20
    assert sum(line.startswith("  - gap 990102001") for line in en) == 20
    assert zh.count("  ! 注意") == 20 and en.count("  ! note") == 20
    assert "  … 另有 5 条未列出（--report 写出的 JSON 报告中有全部）" in zh
    assert "  … 另有 1 条未列出（--report 写出的 JSON 报告中有全部）" in zh
    assert "  … and 5 more, not listed here (all of them in the --report JSON)" in en
    report.problems = report.problems[:20]
    report.warnings = report.warnings[:20]
    assert not any("另有" in line for line in report.summary("zh").splitlines())
