"""数据导出: the layout out as GIS files, and back in unchanged — also through a projection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

import geopandas as gpd
import pyogrio
import shapely

from gis.errors import InvalidInput, NotFound
from gis.roles import role_name
from gis.scope import Scope
from importers.export import export_layer
from importers.run import ImportRequest, run_import

TOWNSHIP = "990102001"  # the first street of the demo city
DISTRICT = "990102"


@pytest.mark.parametrize(
    ("suffix", "crs"),
    [(".gpkg", None), (".zip", "EPSG:4547"), (".shp", "EPSG:4490"), (".geojson", None)],
)
@pytest.mark.parametrize(("layer", "region"), [("grids", TOWNSHIP), ("regions", DISTRICT),
                                               ("centers", DISTRICT)])  # fmt: skip
def test_what_is_exported_imports_back_unchanged(
    db: Session, tmp_path: Path, layer: str, region: str, suffix: str, crs: str | None
) -> None:
    """The importer finds every field it needs, and nothing changes: not even after a trip
    through a Gauss–Krüger zone (EPSG:4547), which moves every coordinate by ~1e-12°."""
    path = tmp_path / f"{layer}{suffix}"
    done = export_layer(db, Scope.everything(), layer, path, region=region, crs=crs)
    assert done.features > 10 and path.exists()
    assert done.crs == (crs or "EPSG:4326")
    back = run_import(db, path, ImportRequest(what=layer))
    assert (len(back.created), len(back.updated), len(back.rejected)) == (0, 0, 0), back.summary()
    assert len(back.unchanged) == done.features
    # nor any overlap, gap or sticking out: the layout tiles as stored (--strict takes it back)
    assert [(p.kind, p.code, p.area_m2) for p in back.problems] == []
    wanted = {"grids": {"code", "name", "parent", "households", "population"},
              "regions": {"code", "name", "level", "parent"},
              "centers": {"name", "region", "phone", "address"}}[layer]  # fmt: skip
    assert wanted <= set(back.mapping), back.mapping


def test_a_grid_moved_by_metres_is_still_redrawn(db: Session, tmp_path: Path) -> None:
    """The tolerance is a tenth of a millimetre: a vertex a few metres away is a new version."""
    path = tmp_path / "grids.gpkg"
    export_layer(db, Scope.everything(), "grids", path, region=TOWNSHIP, crs="EPSG:4547")
    frame = gpd.read_file(path)
    moved = frame.loc[0, "网格编码"]
    frame.loc[0, "geometry"] = shapely.affinity.translate(frame.geometry.iloc[0], xoff=5)
    frame.loc[1, "geometry"] = shapely.affinity.translate(frame.geometry.iloc[1], xoff=1e-6)
    pyogrio.write_dataframe(frame, path, driver="GPKG")
    back = run_import(db, path, ImportRequest(what="grids"))
    assert back.updated == [moved] and not back.created


def test_grids_carry_their_workers_and_their_history(db: Session, tmp_path: Path) -> None:
    path = tmp_path / "grids.geojson"
    export_layer(db, Scope.everything(), "grids", path, region=TOWNSHIP)
    frame = gpd.read_file(path)
    expected = db.execute(
        text("""SELECT g.code, string_agg(w.code, '、' ORDER BY w.code)
                FROM grid g JOIN region v ON v.id = g.village_id
                JOIN region t ON t.id = v.parent_id AND t.code = :t
                LEFT JOIN worker_grid wg ON wg.grid_code = g.code
                LEFT JOIN worker w ON w.id = wg.worker_id
                WHERE g.valid_to IS NULL GROUP BY g.code"""),
        {"t": TOWNSHIP},
    ).all()
    got = dict(zip(frame["网格编码"], frame["网格员编号"], strict=True))
    assert {code: got[code] for code, _ in expected} == dict(expected)
    # each worker's part in the team, in the order of their codes, and the chief by name
    teams = db.execute(
        text("""SELECT wg.grid_code, w.code, w.name, wg.role FROM worker_grid wg
                JOIN worker w ON w.id = wg.worker_id WHERE wg.grid_code = ANY(:g)
                ORDER BY wg.grid_code, w.code"""),
        {"g": list(frame["网格编码"])},
    ).all()
    assert {r.role for r in teams} >= {"chief", "supervisor"}  # (the demo's teams)
    parts = dict(zip(frame["网格编码"], frame["网格分工"], strict=True))
    chiefs = dict(zip(frame["网格编码"], frame["网格长"], strict=True))
    for grid in {r.grid_code for r in teams}:
        team = [r for r in teams if r.grid_code == grid]
        assert parts[grid] == "、".join(role_name(r.role) for r in team)
        chief = [r.name for r in team if r.role == "chief"]
        assert (chiefs[grid] if isinstance(chiefs[grid], str) else None) == (
            chief[0] if chief else None
        )
    assert set(frame.columns) >= {
        "网格名称",
        "所属社区",
        "社区名称",
        "户数",
        "人口",
        "版本",
        "启用时间",
        "网格分工",
        "网格长",
    }
    # a grid redrawn later: the layout of before has its first version, without workers
    code = frame["网格编码"].iloc[0]
    db.execute(text("UPDATE grid SET valid_to = now() WHERE code = :c AND valid_to IS NULL"),
               {"c": code})  # fmt: skip
    db.execute(
        text("""INSERT INTO grid (code, version, name, village_id, geom, households, population,
                                  valid_from)
                SELECT code, version + 1, name, village_id,
                       ST_Multi(ST_Buffer(geom, -0.00001)), households, population, now()
                FROM grid WHERE code = :c AND version = 1"""),
        {"c": code},
    )
    before = tmp_path / "before.gpkg"
    when = datetime.now(UTC) - timedelta(days=1)
    export_layer(db, Scope.everything(), "grids", before, region=TOWNSHIP, as_of=when)
    old = gpd.read_file(before).set_index("网格编码")
    assert old.loc[code, "版本"] == 1 and pd.isna(old.loc[code, "网格员"])
    current = tmp_path / "current.gpkg"
    export_layer(db, Scope.everything(), "grids", current, region=TOWNSHIP)
    assert gpd.read_file(current).set_index("网格编码").loc[code, "版本"] == 2


def test_export_refuses_what_it_cannot_do(db: Session, tmp_path: Path) -> None:
    everything = Scope.everything()
    for call, field in (
        (lambda: export_layer(db, everything, "towns", tmp_path / "a.gpkg"), "layer"),
        (lambda: export_layer(db, everything, "grids", tmp_path / "a.txt"), "format"),
        (lambda: export_layer(db, everything, "grids", tmp_path / "a.gpkg", crs="EPSG:1"), "crs"),
        (
            lambda: export_layer(
                db, everything, "regions", tmp_path / "a.gpkg", as_of=datetime.now(UTC)
            ),
            "as_of",
        ),
    ):
        with pytest.raises(InvalidInput) as e:
            call()
        assert e.value.extra["field"] == field
    with pytest.raises(NotFound):
        export_layer(db, everything, "grids", tmp_path / "a.gpkg", region="123456")
    # a folder, with or without a dot in its name: said so (not "unknown format 'p'")
    for folder in (tmp_path, tmp_path / "out.gpkg"):
        folder.mkdir(exist_ok=True)
        with pytest.raises(InvalidInput, match="是一个目录") as e:
            export_layer(db, everything, "grids", folder)
        assert e.value.extra["field"] == "path"
    # a place it cannot write: the folder a file (OSError), or GDAL refusing the file (its own
    # error, which was a traceback)
    (tmp_path / "taken").write_text("")
    for place in (tmp_path / "taken" / "a.gpkg", Path("/proc/wangge-export.gpkg")):
        with pytest.raises(InvalidInput, match="无法写入") as e:
            export_layer(db, everything, "regions", place)
        assert e.value.extra["field"] == "path"


def test_wangge_equals_within_a_tenth_of_a_millimetre(db: Session) -> None:
    shape = (
        "ST_Multi(ST_GeomFromText("
        "'POLYGON((113.9 23.0, 113.91 23.0, 113.91 23.01, 113.9 23.0))', 4326))"
    )
    close, far, metres = db.execute(
        text(f"""SELECT wangge_equals({shape}, ST_Translate({shape}, 1e-12, -1e-12)),
                        wangge_equals({shape}, ST_Translate({shape}, 1e-8, 0)),
                        wangge_equals({shape}, ST_Translate({shape}, 5e-5, 0))""")
    ).one()
    assert (close, far, metres) == (True, False, False)
