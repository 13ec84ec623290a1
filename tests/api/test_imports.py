"""数据导入 from the web: ``POST /api/imports`` runs ``wangge import`` as its own process.

That process connects as the database owner and commits on its own, outside the test's
rolled-back transaction: what a test writes through it is removed afterwards."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from gis.passwords import verify_password
from tests.importers.test_import_boundaries import _city

Headers = Callable[[str], dict[str, str]]


@pytest.fixture
def removed_afterwards(engine: Engine) -> Iterator[None]:
    """Whatever the imports commit, taken out again (city 880100, account web_import_test).
    First among a test's fixtures, so that it runs after their transactions have ended."""
    yield
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM region WHERE code LIKE '88%'"))
        conn.execute(
            text("""DELETE FROM auth_session WHERE user_id IN
                    (SELECT id FROM app_user WHERE username = 'web_import_test')""")
        )
        conn.execute(text("DELETE FROM app_user WHERE username = 'web_import_test'"))


def _zipped_city(tmp_path) -> bytes:  # type: ignore[no-untyped-def]
    """City 880100 as a government hands it over: a GBK Shapefile in EPSG:4547, zipped."""
    folder = tmp_path / "shp"
    folder.mkdir()
    _city().to_crs("EPSG:4547").to_file(folder / "区划.shp", encoding="GBK", engine="pyogrio")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for f in sorted(folder.iterdir()):
            z.write(f, f"成果/{f.name}")
    return out.getvalue()


def _post(client: TestClient, who: dict, what: str, name: str, data: bytes, **form: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/imports", headers=who, data={"what": what, **form}, files={"file": (name, data)}
    )


def test_a_zipped_shapefile_checked_then_written_from_the_web(  # type: ignore[no-untyped-def]
    removed_afterwards: None,
    anon_client: TestClient,
    login_as: Headers,
    db: Session,
    app_db: Session,
    tmp_path,
) -> None:
    """The administrator's dry run lists what would be created and writes nothing; the same
    file with ``commit`` writes it; both are in the audit log."""
    admin = login_as("admin")
    data = _zipped_city(tmp_path)
    dry = _post(anon_client, admin, "regions", "区划成果.zip", data)
    assert dry.status_code == 200, dry.text
    report = dry.json()["report"]
    assert report["file"] == "区划成果.zip" and report["crs"] == "EPSG:4547"
    assert len(report["created"]) == 8 and not report["committed"]
    assert dry.json()["passwords"] is None
    count = "SELECT count(*) FROM region WHERE code LIKE '88%'"
    assert db.execute(text(count)).scalar_one() == 0
    done = _post(anon_client, admin, "regions", "区划成果.zip", data, commit="true")
    assert done.status_code == 200 and done.json()["report"]["committed"]
    assert db.execute(text(count)).scalar_one() == 8  # (committed by the import's own process)
    again = _post(anon_client, admin, "regions", "区划成果.zip", data)  # idempotent
    assert len(again.json()["report"]["unchanged"]) == 8
    trail = (
        app_db.execute(
            text("""SELECT detail FROM audit_log WHERE action = 'data.import' AND username = 'admin'
                ORDER BY id""")
        )
        .scalars()
        .all()
    )
    assert [(d["committed"], d["created"]) for d in trail] == [(False, 8), (True, 8), (False, 0)]


def test_a_roster_shows_its_new_accounts_passwords_once(
    removed_afterwards: None, anon_client: TestClient, login_as: Headers, db: Session
) -> None:
    admin = login_as("admin")
    roster = (
        "姓名,手机号,角色,所属区划,用户名\n"
        "网页导入,13900139002,综治中心工作人员,990102001,web_import_test\n"
    )
    dry = _post(anon_client, admin, "workers", "名册.csv", roster.encode())
    assert dry.status_code == 200 and dry.json()["passwords"] is None
    (warning,) = dry.json()["report"]["warnings"]  # in the page's words, not the command's
    assert "写入后本页显示其初始密码" in warning and "--passwords" not in warning
    done = _post(anon_client, admin, "workers", "名册.csv", roster.encode(), commit="true")
    assert done.status_code == 200, done.text
    (shown,) = done.json()["passwords"]
    assert shown["username"] == "web_import_test" and len(shown["password"]) >= 12
    stored = db.execute(
        text("SELECT password_hash FROM app_user WHERE username = 'web_import_test'")
    ).scalar_one()
    assert verify_password(stored, shown["password"])


def test_what_the_importer_refuses_is_a_422_in_its_words(
    anon_client: TestClient, login_as: Headers
) -> None:
    admin = login_as("admin")
    two = io.BytesIO()
    with zipfile.ZipFile(two, "w") as z:
        z.writestr("a.geojson", '{"type": "FeatureCollection", "features": []}')
        z.writestr("b.geojson", '{"type": "FeatureCollection", "features": []}')
    r = _post(anon_client, admin, "regions", "两个.zip", two.getvalue())
    assert r.status_code == 422
    assert (
        "有 2 个数据文件" in r.json()["detail"] and "图层/工作表/压缩包内文件" in r.json()["detail"]
    )
    english = anon_client.post(
        "/api/imports",
        headers=admin | {"Accept-Language": "en"},
        data={"what": "regions"},
        files={"file": ("两个.zip", two.getvalue())},
    )
    assert "holds 2 GIS files" in english.json()["detail"]
    assert _post(anon_client, admin, "regions", "empty.geojson", b"").status_code == 422
    # a file named as the import's own report is read as the file it is
    named = _post(anon_client, admin, "regions", "report.json", b'{"type": "Feature"}')
    assert named.status_code == 422 and "认不出编码" in named.json()["detail"]
    assert "更多选项" in named.json()["detail"]  # where this page takes --code-field
    # and --encoding, which the command's words name (this page has no command line)
    r = _post(anon_client, admin, "workers", "workers.csv", b"x,y\n" + bytes(range(0x80, 0x100)))
    assert r.status_code == 422 and "“更多选项”的“编码”中填写" in r.json()["detail"], r.text
    city = _city().rename(columns={"行政区代码": "区划编号", "名称": "区划叫法"})
    columns = {"code_field": "区划编号", "name_field": "区划叫法"}
    named = _post(anon_client, admin, "regions", "c.geojson", city.to_json().encode(), **columns)
    assert named.status_code == 200 and len(named.json()["report"]["created"]) == 8
    sly = _post(anon_client, admin, "regions", "c.geojson", city.to_json().encode(),
                code_field="--commit")  # fmt: skip
    assert sly.status_code == 422 and "--commit" in sly.json()["detail"]  # a column, not a flag
    bad = _post(anon_client, admin, "regions", "a.geojson", b"{}", encoding="GBK; rm -rf /")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "encoding"
    assert _post(anon_client, admin, "places", "a.csv", b"x").status_code == 422
    # a file of no known format (a photo, a Word file): the formats that are, and nothing of
    # the server's own folders; a broken zip: that it is one (an upload cut short)
    r = _post(anon_client, admin, "grids", "网格.zip", b"PK\x03\x04broken")
    assert r.status_code == 422 and r.json()["detail"].startswith(
        "无法读取 网格.zip：不是有效的 zip 压缩包，或压缩包不完整"
    ), r.text
    unknown = [("网格.gpkg", b"SQLite format 3\x00" + bytes(200)), ("网格.docx", bytes(range(256)))]
    for name, data in unknown:
        r = _post(anon_client, admin, "grids", name, data)
        assert r.status_code == 422, r.text
        detail = r.json()["detail"]
        assert f"无法读取 {name}：不是可识别的文件格式" in detail and "GeoPackage" in detail
        assert "/tmp" not in detail and "DRIVER" not in detail


def test_columns_the_importer_cannot_tell_are_named_on_the_page(  # type: ignore[no-untyped-def]
    anon_client: TestClient, login_as: Headers, demo_city
) -> None:
    """A case file whose coordinates are in X坐标/Y坐标: the dry run says which roles it could not
    find and where on this page to name them (字段对应); named there, one a line, it is read."""
    admin = login_as("admin")
    rows = ["编号,上报时间,X坐标,Y坐标,类型,类别,描述"]
    for i, g in enumerate(demo_city.grids[:3]):
        p = g.geom.representative_point()
        rows.append(f"WEB{i},2025-03-0{i + 1} 09:00,{p.x},{p.y},矛盾纠纷,邻里纠纷,楼上漏水")
    data = ("\n".join(rows) + "\n").encode()
    unknown = _post(anon_client, admin, "cases", "历史案件.csv", data)
    assert unknown.status_code == 422
    said = unknown.json()["detail"]
    assert "X坐标" in said and "“字段对应”" in said  # the columns found, and where to name them
    named = _post(
        anon_client, admin, "cases", "历史案件.csv", data, fields="经度=X坐标\r\n纬度 = Y坐标\n"
    )
    assert named.status_code == 200, named.text
    assert len(named.json()["report"]["created"]) == 3 and not named.json()["report"]["committed"]
    for bad in ("经度", "经度=", "=X坐标"):
        r = _post(anon_client, admin, "cases", "历史案件.csv", data, fields=bad)
        assert r.status_code == 422 and "角色=列名" in r.json()["detail"], r.text
    wrong = _post(anon_client, admin, "cases", "历史案件.csv", data, fields="高度=X坐标")
    assert wrong.status_code == 422 and "高度" in wrong.json()["detail"]
    # a first load of many (--bulk): for cases only
    mapped = {"fields": "经度=X坐标\n纬度=Y坐标"}
    bulk = _post(anon_client, admin, "cases", "历史案件.csv", data, bulk="true", **mapped)
    assert bulk.status_code == 200 and len(bulk.json()["report"]["created"]) == 3
    regions = _post(anon_client, admin, "regions", "c.csv", data, bulk="true")
    assert regions.status_code == 422 and "只用于历史案件" in regions.json()["detail"]
    # a ledger's parties: the import, a process of its own, encrypts them with the server's key
    named_rows = [rows[0] + ",当事人,联系电话"] + [f"{r},王小红,13912345678" for r in rows[1:]]
    people = ("\n".join(named_rows) + "\n").encode()
    parties = _post(anon_client, admin, "cases", "历史案件.csv", people, **mapped)
    assert parties.status_code == 200, parties.text
    assert parties.json()["report"]["parties"] == 3


def test_only_an_administrator_of_the_whole_deployment_imports(
    anon_client: TestClient, login_as: Headers
) -> None:
    for who in ("district_planner", "city_operator"):
        assert _post(anon_client, login_as(who), "regions", "a.csv", b"x").status_code == 403
    page = anon_client.get("/imports", headers=login_as("admin") | {"Accept": "text/html"})
    assert page.status_code == 200 and "数据导入" in page.text and 'id="import-form"' in page.text


def test_the_page_learns_how_far_a_running_import_has_come(
    anon_client: TestClient, login_as: Headers, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """While an import runs, ``GET /api/imports/progress`` says for how long and how far (from
    the importer's progress line on its stderr, as it comes: the line is rewritten in place);
    afterwards, that none runs.  The process's words still come back whole."""
    import sys
    import threading
    import time

    from api.routers.imports import PROGRESS, _watched

    admin = login_as("admin")
    assert anon_client.get("/api/imports/progress", headers=admin).json() == {"running": False}
    # each line waits until the test has seen the one before (a file the test makes), then
    # at least 0.6 s: the test never misses a line, however slow the machine is that minute
    seen_25, seen_50 = tmp_path / "seen-25", tmp_path / "seen-50"
    script = (
        "import os, sys, time\n"
        "for done, after in ((250000, sys.argv[1]), (500000, sys.argv[2])):\n"
        "    said = '行，9 行/秒' if done < 500000 else 'rows, 9 rows/s'  # (LANG=en: English)\n"
        "    sys.stderr.write(f'\\r导入案件 [##] {done:,}/1,000,000 {said}  locate')\n"
        "    sys.stderr.flush()\n"
        "    time.sleep(0.6)\n"
        "    for _ in range(200):\n"
        "        if os.path.exists(after):\n"
        "            break\n"
        "        time.sleep(0.05)\n"
        "sys.stderr.write('\\n出错：第 3 行没有坐标\\n')\n"
        "sys.exit(1)\n"
    )
    out: dict[str, object] = {}
    PROGRESS.begin()
    try:
        runner = threading.Thread(
            target=lambda: out.update(
                done=_watched(
                    [sys.executable, "-c", script, str(seen_25), str(seen_50)], {}, tmp_path
                )
            )
        )
        runner.start()
        seen = []
        while runner.is_alive():
            seen.append(anon_client.get("/api/imports/progress", headers=admin).json())
            if seen[-1].get("percent") in (25, 50):
                (seen_25 if seen[-1]["percent"] == 25 else seen_50).touch()
            time.sleep(0.1)
        runner.join()
    finally:
        PROGRESS.end()
    assert all(p["running"] for p in seen)
    assert {p["percent"] for p in seen} >= {25, 50}  # each line as it came
    assert seen[-1]["rows_done"] == 500_000 and seen[-1]["rows"] == 1_000_000
    assert seen[-1]["elapsed_s"] >= 1.0
    code, said = out["done"]  # type: ignore[misc]
    assert code == 1 and "出错：第 3 行没有坐标" in said and "250,000/1,000,000" in said
    assert anon_client.get("/api/imports/progress", headers=admin).json() == {"running": False}


def test_a_planner_downloads_the_grids_and_regions_as_gis_files(  # type: ignore[no-untyped-def]
    anon_client: TestClient, login_as: Headers, app_db: Session, tmp_path
) -> None:
    """数据导出 from the web: the planner's jurisdiction (or a region of it) as a GeoPackage or a
    zipped Shapefile, audited; another jurisdiction is a 404, a desk without the right a 403."""
    import geopandas as gpd

    planner = login_as("district_planner")
    r = anon_client.get("/exports/grids.gpkg?region=990102001", headers=planner)
    assert r.status_code == 200, r.text
    assert "grids-990102001.gpkg" in r.headers["content-disposition"]
    (tmp_path / "grids.gpkg").write_bytes(r.content)
    grids = gpd.read_file(tmp_path / "grids.gpkg")
    assert len(grids) > 10 and grids["网格编码"].str.startswith("990102001").all()
    r = anon_client.get("/exports/regions.zip?crs=EPSG:4547", headers=planner)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert {n.rsplit(".", 1)[1] for n in names} >= {"shp", "dbf", "shx", "prj", "cpg"}
    (tmp_path / "regions.zip").write_bytes(r.content)
    regions = gpd.read_file(f"zip://{tmp_path / 'regions.zip'}", encoding="GBK")
    assert set(regions["编码"].str[:6]) == {"990102"}  # the district only (the planner's)
    assert regions.crs.to_epsg() == 4547
    audited = (
        app_db.execute(
            text("SELECT object FROM audit_log WHERE action = 'boundary.export' ORDER BY id")
        )
        .scalars()
        .all()
    )
    assert audited[-2:] == ["grids:990102001", "regions:*"]
    # the planner's page offers them
    page = anon_client.get("/maps/planner", headers=planner | {"Accept": "text/html"}).text
    assert 'href="/exports/grids.gpkg"' in page and 'href="/exports/regions.zip"' in page
    english = anon_client.get("/maps/planner?lang=en", headers=planner).text
    line = re.search(r'<p class="wg-exports" id="exports">(.*?)</p>', english)
    assert line is not None and not re.search(r"[\u3000-\u9fff\uff00-\uffef]", line.group(1))
    anon_client.get("/maps/planner?lang=zh", headers=planner)  # (the language cookie back)
    assert anon_client.get("/exports/grids.gpkg?region=990103", headers=planner).status_code == 404
    assert (
        anon_client.get("/exports/grids.gpkg", headers=login_as("township_operator")).status_code
        == 403
    )
    bad = anon_client.get("/exports/grids.gpkg?crs=EPSG:1", headers=planner)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "crs"
    for wrong, field, said in [
        ("grids.txt", "fmt", "gpkg、geojson、kml、zip"),
        ("towns.gpkg", "layer", "regions、grids、centers"),
        # a Shapefile asked for by its own suffix: the refusal gives the address that works
        ("grids.shp.zip", "fmt", "/exports/grids.zip"),
        ("centers.shp", "fmt", "/exports/centers.zip"),
    ]:
        r = anon_client.get(f"/exports/{wrong}", headers=planner)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
        assert said in r.json()["detail"], r.text
