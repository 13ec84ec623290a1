"""网格台账: a region's current grids, one row each, with the figures a leader asks of a grid."""

from __future__ import annotations

import re
from collections.abc import Callable
from io import BytesIO
from urllib.parse import unquote

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.ledger import HOUSEHOLDS_MAX, children, grid_record, ledger
from gis.scope import Scope, bind_scope
from gis.settings import Settings
from maps.ledger import grid_record_page, ledger_page
from tests.conftest import app_with, grid_team, report_body, village_workers

Headers = Callable[[str], dict[str, str]]
HTML = {"Accept": "text/html"}
TOWNSHIP = "990102001"


def _rows(page: str) -> list[list[str]]:
    """The cells of each row of the ledger (tags inside a cell kept)."""
    body = page[page.index('id="ledger"') :]
    return [
        re.findall(r"<td>(.*?)</td>", row)
        for row in re.findall(r"<tr>(<td>.*?)</tr>", body)
        if "colspan" not in row
    ]


def _code(cells: list[str]) -> str:
    found = re.search(r"<small>(\d{15})</small>", cells[0])
    assert found is not None, cells[0]
    return found.group(1)


def _open(cell: str) -> int:
    """The open cases of a ledger row's cell (a link to the in-tray for a desk)."""
    return int(re.sub(r"<[^>]+>", " ", cell).split()[0])


def _number(html: str, id_: str) -> int:
    found = re.search(rf'<b id="{id_}">([\d,]+)</b>', html)
    assert found is not None, id_
    return int(found.group(1).replace(",", ""))


def test_the_ledger_lists_a_township_s_grids_with_their_size_workers_and_cases(
    anon_client: TestClient, login_as: Headers, app_db: Session
) -> None:
    op = login_as("township_operator")
    bind_scope(app_db, Scope.everything())
    grids, households = app_db.execute(
        text("""SELECT count(*), sum(households) FROM grid
                WHERE code LIKE :t || '%' AND valid_to IS NULL"""),
        {"t": TOWNSHIP},
    ).one()
    page = anon_client.get("/grids", headers=op | HTML).text
    assert "网格台账 · " in page and _number(page, "ledger-total") == grids
    assert f"{households:,} 户" in page
    # the township's villages, each with its counts, adding up to the township's
    below = re.search(r'id="ledger-below">(.*?)</table>', page, re.S)
    assert below is not None
    villages = [
        re.findall(r"<td>(.*?)</td>", row)
        for row in re.findall(r"<tr>(<td>.*?)</tr>", below.group(1))
    ]
    assert len(villages) > 1 and all(f"region={TOWNSHIP}" in v[0] for v in villages)
    assert sum(int(v[1].replace(",", "")) for v in villages) == grids
    assert sum(int(v[2].replace(",", "")) for v in villages) == households
    open_here = app_db.execute(
        text("""SELECT count(*) FROM cases WHERE grid_code LIKE :t || '%'
                  AND status NOT IN ('resolved', 'verified', 'closed', 'suspended')"""),
        {"t": TOWNSHIP},
    ).scalar_one()
    assert sum(int(v[6].replace(",", "")) for v in villages) == open_here
    rows = _rows(page)
    assert len(rows) == min(grids, 100)
    codes = [_code(r) for r in rows]
    assert all(c.startswith(TOWNSHIP) for c in codes) and codes == sorted(codes)
    # each grid's open cases and workers as stored
    open_by_grid = dict(
        app_db.execute(
            text("""SELECT grid_code, count(*) FROM cases
                    WHERE grid_code = ANY(:g)
                      AND status NOT IN ('resolved', 'verified', 'closed', 'suspended')
                    GROUP BY 1"""),
            {"g": codes},
        ).all()
    )
    assert [_open(r[6]) for r in rows] == [open_by_grid.get(c, 0) for c in codes]
    first_workers = app_db.execute(
        text("""SELECT w.name FROM worker_grid wg JOIN worker w ON w.id = wg.worker_id
                WHERE wg.grid_code = :g ORDER BY w.code"""),
        {"g": codes[0]},
    ).scalars()
    assert all(name in rows[0][5] for name in first_workers)
    # the days patrolled (the township desk may read check-ins): the demo grid worker's grid
    patrolled = app_db.execute(
        text("""SELECT count(DISTINCT CAST(checked_at AT TIME ZONE 'Asia/Shanghai' AS date))
                FROM patrol WHERE grid_code = :g AND checked_at >= now() - interval '30 days'"""),
        {"g": codes[0]},
    ).scalar_one()
    assert patrolled > 0 and "近30天巡查天数" in page and int(rows[0][8]) == patrolled
    # a grid worker's report: one more open and one more recent case in its grid
    grid_point = app_db.execute(
        text("""SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid
                WHERE code = :g AND valid_to IS NULL) s"""),
        {"g": codes[0]},
    ).one()
    r = anon_client.post(
        "/api/reports", headers=login_as("grid_worker"), json=report_body(*grid_point)
    )
    assert r.status_code == 201 and r.json()["grid_code"] == codes[0], r.text
    again = _rows(anon_client.get("/grids", headers=op | HTML).text)[0]
    assert _open(again[6]) == _open(rows[0][6]) + 1
    assert int(again[7]) == int(rows[0][7]) + 1
    # the most open cases first
    busiest = _rows(anon_client.get("/grids?order=open", headers=op | HTML).text)
    counts = [_open(r[6]) for r in busiest]
    assert counts == sorted(counts, reverse=True) and counts[0] >= _open(again[6])
    # a desk's count opens those cases in its in-tray (its centers and those below)
    first = _code(busiest[0])
    link = f'<a href="/queue?grid={first}&amp;below=true">{counts[0]}</a>'
    assert link in busiest[0][6]
    queue = anon_client.get(f"/queue?grid={first}&below=true", headers=op | HTML).text
    assert _number(queue, "queue-total") == counts[0]
    # a grid without a grid worker: marked, counted, and found by the chip
    bare = codes[1]
    app_db.execute(text("DELETE FROM worker_grid WHERE grid_code = :g"), {"g": bare})
    app_db.commit()
    page = anon_client.get("/grids", headers=op | HTML).text
    assert _number(page, "ledger-unstaffed") == 1
    row = next(r for r in _rows(page) if _code(r) == bare)
    assert "未配网格员" in row[5]
    only = anon_client.get("/grids?unstaffed=true", headers=op | HTML).text
    assert [_code(r) for r in _rows(only)] == [bare] and _number(only, "ledger-matching") == 1
    assert _number(only, "ledger-total") == grids  # (the region's counts stay)


def test_the_ledger_finds_by_code_or_name_keeps_to_the_caller_s_region_and_pages(
    anon_client: TestClient, login_as: Headers, app_db: Session
) -> None:
    op = login_as("township_operator")
    bind_scope(app_db, Scope.everything())
    code, name = app_db.execute(
        text("""SELECT code, name FROM grid WHERE code LIKE :t || '%' AND valid_to IS NULL
                AND name ~ '[0-9]' ORDER BY code DESC LIMIT 1"""),
        {"t": TOWNSHIP},
    ).one()
    by_code = _rows(anon_client.get(f"/grids?q={code}", headers=op | HTML).text)
    assert [_code(r) for r in by_code] == [code]
    # words of the name, full-width digits as a Chinese keyboard may type them
    wide = name.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    by_name = _rows(anon_client.get("/grids", params={"q": wide}, headers=op | HTML).text)
    assert code in [_code(r) for r in by_name]
    assert all(name in r[0] for r in by_name)
    # a village of the township; another township: not yours; another desk sees none of these
    village = _rows(anon_client.get(f"/grids?region={code[:12]}", headers=op | HTML).text)
    assert village and all(_code(r).startswith(code[:12]) for r in village)
    assert anon_client.get("/grids?region=990103001", headers=op | HTML).status_code == 404
    other = anon_client.get("/grids", headers=login_as("township_operator_b") | HTML).text
    assert code not in other
    # a page past the end: no rows, the counts still
    far = anon_client.get("/grids?offset=100000", headers=op | HTML).text
    assert _rows(far) == [] and _number(far, "ledger-total") > 0
    assert _number(far, "ledger-matching") == _number(far, "ledger-total")
    # nothing found: the region's counts still
    none = anon_client.get("/grids?q=没有这个网格", headers=op | HTML).text
    assert _rows(none) == [] and "没有符合条件的网格" in none
    assert _number(none, "ledger-total") == _number(far, "ledger-total")
    # an order it does not know: a 422 naming it
    bad = anon_client.get("/grids?order=size", headers=op)
    assert bad.status_code == 422 and "order" in bad.text
    # a planner's villages open the grid planner; a desk's do not
    assert "/maps/planner?village=" not in anon_client.get("/grids", headers=op | HTML).text
    planner = anon_client.get("/grids", headers=login_as("district_planner") | HTML).text
    assert f'<a href="/maps/planner?village={code[:12]}"' in planner
    english = anon_client.get("/grids?lang=en", headers=op | HTML).text
    assert "Grid ledger · " in english and "Households" in english and "Open cases" in english
    assert not re.search("[、，；：（）。]", english)  # (names of places aside, English)
    anon_client.cookies.clear()  # (the English page is remembered)


def test_the_ledger_goes_to_excel_every_row_in_the_page_s_order_and_audited(
    anon_client: TestClient, login_as: Headers, app_db: Session
) -> None:
    op = login_as("township_operator")
    page = anon_client.get("/grids?order=households", headers=op | HTML).text
    assert 'href="/grids.xlsx?order=households&amp;lang=zh"' in page
    xlsx = anon_client.get("/grids.xlsx?order=households", headers=op)
    assert xlsx.status_code == 200, xlsx.text
    assert re.search(r"网格台账-.+-\d{8}\.xlsx$", unquote(xlsx.headers["content-disposition"]))
    sheet = load_workbook(BytesIO(xlsx.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][:3] == ("网格编码", "网格名称", "所属村（社区）")
    assert len(rows) - 2 == _number(page, "ledger-total")  # every grid, not a page of them
    assert [r[0] for r in rows[2:102]] == [_code(r) for r in _rows(page)]
    sizes = [r[5] for r in rows[2:]]
    assert sizes == sorted(sizes, reverse=True)
    assert sheet.cell(3, 1).number_format == "@"
    bind_scope(app_db, Scope.everything())
    audited = app_db.execute(
        text("SELECT detail FROM audit_log WHERE action = 'grids.export' ORDER BY id DESC")
    ).first()
    assert audited is not None and audited[0]["grids"] == len(rows) - 2


def test_a_grid_of_many_households_is_marked(db: Session) -> None:
    """户数偏多: over HOUSEHOLDS_MAX households, marked on its row and counted; the chip lists
    those alone.  (The app role cannot change a grid outside a planner's edit: the owner's
    session here.)"""
    code = db.execute(
        text("""SELECT code FROM grid WHERE code LIKE :t || '%' AND valid_to IS NULL
                  AND households <= :most ORDER BY code LIMIT 1"""),
        {"t": TOWNSHIP, "most": HOUSEHOLDS_MAX},
    ).scalar_one()
    scope = Scope(region_id=None)
    before = ledger(db, scope, large=True)  # (the demo's grids grown past the size)
    assert all(g.households and g.households > HOUSEHOLDS_MAX for g in before.grids)
    db.execute(
        text("UPDATE grid SET households = :n WHERE code = :g AND valid_to IS NULL"),
        {"n": HOUSEHOLDS_MAX + 300, "g": code},
    )
    found = ledger(db, scope, large=True)
    assert found.large == before.large + 1 and found.matching == found.large
    assert code in [g.code for g in found.grids] and found.total > found.large
    assert all(g.large for g in found.grids)
    html = ledger_page(found, region="示例", user="u", links=[], filters={"large": True}, offset=0)
    assert "户数偏多" in html and f"{HOUSEHOLDS_MAX + 300:,}" in html
    assert 'class="wg-chip on" id="chip-large"' in html
    everyone = ledger(db, scope, order="households", limit=1)
    assert everyone.grids[0].code == code
    # the whole deployment's regions below it: the top ones (the demo's city)
    (city,) = children(db, scope)
    assert city.code == "990100" and city.grids == everyone.total and city.large == found.large
    village = db.execute(text("SELECT id FROM region WHERE code = :c"), {"c": code[:12]})
    in_village = Scope(village.scalar_one(), region_code=code[:12], level="village")
    assert children(db, in_village) == []  # (none below a village)


SPLIT = "990102001004001"  # the demo's split grid (importers/demo_load.py)


def test_a_deployment_sets_its_own_rule_for_many_households(
    settings: Settings, app_db: Session, login_as: Headers
) -> None:
    """WANGGE_GRID_HOUSEHOLDS_MAX: the ledger, its chip, its regions below and a grid's record
    go by the deployment's rule (here 300, as many cities draw their grids) instead of 500."""
    client = app_with(settings, app_db, grid_households_max=300)
    op = login_as("township_operator") | HTML
    bind_scope(app_db, Scope.everything())
    over, grid = app_db.execute(
        text("""SELECT count(*), max(code) FILTER (WHERE households BETWEEN 301 AND 500)
                FROM grid WHERE code LIKE :t || '%' AND valid_to IS NULL AND households > 300"""),
        {"t": TOWNSHIP},
    ).one()
    assert over > 0 and grid is not None
    page = client.get("/grids?large=true", headers=op).text
    assert _number(page, "ledger-large") == over == _number(page, "ledger-matching")
    assert "户数多于 300" in page and "户数多于 500" not in page
    record = client.get(f"/grids/{grid}", headers=op).text
    assert "户数偏多" in record.split('id="grid-now"')[1].split("</table>")[0]
    # the default rule does not mark it
    usual = app_with(settings, app_db).get(f"/grids/{grid}", headers=op).text
    assert "户数偏多" not in usual.split('id="grid-now"')[1].split("</table>")[0]


def _new_part(session: Session) -> str:
    """The grid the demo's split made of part of SPLIT's land."""
    bind_scope(session, Scope.everything())
    return session.execute(
        text("""SELECT n.code FROM grid n JOIN grid o ON o.id = ANY(n.lineage)
                WHERE o.code = :g AND n.code <> :g"""),
        {"g": SPLIT},
    ).scalar_one()


def test_a_grid_s_record_shows_its_versions_and_keeps_the_cases_of_each(
    anon_client: TestClient, login_as: Headers, app_db: Session
) -> None:
    """网格档案: the demo's grid split 120 days ago — now and before, drawn together, each
    version with its edit set, the grid its land went to or came from, and its own cases."""
    op = login_as("township_operator")
    new_part = _new_part(app_db)
    stored = app_db.execute(
        text("""SELECT g.version, g.valid_to IS NULL, count(c.id),
                       bool_and(c.received_at >= g.valid_from
                                AND (g.valid_to IS NULL OR c.received_at < g.valid_to))
                FROM grid g LEFT JOIN cases c ON c.grid_id = g.id
                WHERE g.code = :g GROUP BY 1, 2 ORDER BY 1 DESC"""),
        {"g": SPLIT},
    ).all()
    assert [(v, now) for v, now, _, _ in stored] == [(2, True), (1, False)]
    assert all(ok is not False for *_, ok in stored)  # each case with the version of its time
    page = anon_client.get(f"/grids/{SPLIT}", headers=op | HTML)
    assert page.status_code == 200, page.text
    html = page.text
    assert "网格档案 · " in html and 'id="grid-now"' in html
    versions = re.findall(r"<tr(?: class=\"wg-rec-current\")?><td>v(\d+)</td>(.*?)</tr>", html)
    assert [int(v) for v, _ in versions] == [2, 1]
    now, before = (re.findall(r"<td>(.*?)</td>", cells) for _, cells in versions)
    # who drew it: the planner by name, the account after it (as a case's trail names people)
    planner = "示例·区网格规划员 <small class=wg-username>district_planner</small>"
    assert "拆分" in now[6] and planner in now[6] and now[1] == "现行"
    assert new_part in before[8] and "初始划定" in before[6]  # its land went to the new grid
    assert [int(now[-1]), int(before[-1])] == [n for _, _, n, _ in stored]
    # drawn: the outline in force, the one before, and the new grid beside them
    for kind in ("wg-rec-now", "wg-rec-old", "wg-rec-related"):
        assert html.count(f'<path class="{kind}"') == 1, kind
    assert re.search(r'<svg id="grid-outlines" viewBox="-?[\d.]+ -?[\d.]+ [\d.]+ [\d.]+"', html)
    # the new grid: its land came from the version before; the ledger links each to its record
    new = anon_client.get(f"/grids/{new_part}", headers=op | HTML).text
    assert f'<a href="/grids/{SPLIT}">{SPLIT}</a> v1' in new
    ledger_html = anon_client.get(f"/grids?q={SPLIT}", headers=op | HTML).text
    assert f'<a href="/grids/{SPLIT}">v2</a>' in ledger_html
    # not yours: another desk's; not a grid code: a 422
    other = anon_client.get(f"/grids/{SPLIT}", headers=login_as("township_operator_b") | HTML)
    assert other.status_code == 404
    assert anon_client.get("/grids/12345", headers=op).status_code == 422
    # the planner's start lists the edit set, its grids opening their records
    start = anon_client.get("/maps/planner", headers=login_as("district_planner") | HTML).text
    recent = re.search(r'<section id="recent-edits">(.*?)</section>', start, re.S)
    assert recent is not None and "拆分" in recent.group(1) and f"（{planner}）" in recent.group(1)
    assert f'新增 <a href="/grids/{new_part}">' in recent.group(1)
    assert f'调整 <a href="/grids/{SPLIT}">' in recent.group(1)
    english = anon_client.get(f"/grids/{SPLIT}?lang=en", headers=op | HTML).text
    assert "Grid record · " in english and "Versions" in english and "as first loaded" in english
    anon_client.cookies.clear()


def test_a_retired_grid_s_record_shows_its_versions(db: Session) -> None:
    """A grid no longer in force (merged away, say) still has its record: said retired, with
    its versions; no figures of now."""
    new_part = _new_part(db)
    db.execute(
        text("UPDATE grid SET valid_to = now() WHERE code = :g AND valid_to IS NULL"),
        {"g": new_part},
    )
    record = grid_record(db, Scope(region_id=None), new_part)
    assert record is not None and record.now is None and len(record.versions) == 1
    html = grid_record_page(record, user="u", links=[])
    assert 'id="grid-retired"' in html and 'id="grid-now"' not in html
    assert "现行边界" not in html and "历史版本" in html  # (the drawing's key: none in force)
    assert "/maps/grid/" not in html  # (no map of a grid not in force)
    assert f'href="/grids?region={new_part[:12]}"' in html  # (its village's ledger)
    assert grid_record(db, Scope(region_id=None), "990102001004999") is None


def test_a_record_names_a_grid_of_another_jurisdiction_without_a_link(db: Session) -> None:
    """Land that came from a grid another desk keeps: the record names that grid, but does not
    link it (its record would answer 404 to this desk); a desk that sees both gets the link."""
    mine = db.execute(
        text("""SELECT code FROM grid WHERE code LIKE '990102001%' AND valid_to IS NULL
                ORDER BY code LIMIT 1""")
    ).scalar_one()
    theirs, theirs_id = db.execute(
        text("""SELECT code, id FROM grid WHERE code NOT LIKE '990102001%' AND valid_to IS NULL
                ORDER BY code LIMIT 1""")
    ).one()
    db.execute(
        text("""UPDATE grid SET lineage = lineage || CAST(:id AS integer)
                WHERE code = :g AND valid_to IS NULL"""),
        {"id": theirs_id, "g": mine},
    )
    township = db.execute(text("SELECT id, code, name FROM region WHERE code = '990102001'")).one()
    desk = Scope(township.id, township.code, "township", township.name)
    record = grid_record(db, desk, mine)
    assert record is not None and record.reachable == frozenset()
    html = grid_record_page(record, user="u", links=[])
    assert f'<span class="wg-elsewhere" title="不在您的管辖范围内">{theirs}</span> v1' in html
    assert f'href="/grids/{theirs}"' not in html
    city = grid_record(db, Scope(region_id=None), mine)
    assert city is not None and city.reachable == {theirs}
    assert f'<a href="/grids/{theirs}">{theirs}</a> v1' in grid_record_page(
        city, user="u", links=[]
    )


def test_a_planner_staffs_a_grid_and_the_ledger_follows(
    anon_client: TestClient, login_as: Headers, app_db: Session
) -> None:
    """网格员配备: the grid workers a planner ticks become the grid's, in place of those it had;
    audited with both lists; an empty list leaves the grid without one (the ledger marks it).
    Workers and grids outside the planner's area, and unknown codes, are refused with a 422 or
    404 that says so; a desk may not do it."""
    planner = login_as("district_planner")
    bind_scope(app_db, Scope.everything())
    grid = "990102001004002"
    had = sorted(grid_team(app_db, grid))
    others = [w for w in village_workers(app_db, grid[:12]) if w not in had][:2]
    page = anon_client.get(f"/grids/{grid}", headers=planner | HTML).text
    ticked = re.findall(r'name="worker" value="(\w+)" checked', page)
    assert ticked == had and 'id="grid-staffing"' in page and "staffing.js" in page
    desk = anon_client.get(f"/grids/{grid}", headers=login_as("township_operator") | HTML).text
    assert 'id="grid-staffing"' not in desk
    r = anon_client.put(f"/api/grids/{grid}/workers", headers=planner, json={"workers": others})
    assert r.status_code == 200, r.text
    # newcomers: the first the chief of a team without one, the next a manager
    assert r.json() == {
        "code": grid, "before": had, "after": others,
        "roles": {others[0]: "chief", others[1]: "manager"},
    }  # fmt: skip
    again = anon_client.get(f"/grids/{grid}", headers=planner | HTML).text
    assert re.findall(r'name="worker" value="(\w+)" checked', again) == others
    audited = app_db.execute(
        text("""SELECT object, detail FROM audit_log WHERE action = 'grid.workers'
                ORDER BY id DESC LIMIT 1""")
    ).one()
    assert audited.object == f"grid:{grid}" and audited.detail["before"] == had
    # the parts (一主任三大员): named ones are set, the others kept; one chief a grid
    parts = {others[1]: "chief", others[0]: "supervisor"}
    r = anon_client.put(
        f"/api/grids/{grid}/workers", headers=planner, json={"workers": others, "roles": parts}
    )
    assert r.status_code == 200 and r.json()["roles"] == parts, r.text
    r = anon_client.put(f"/api/grids/{grid}/workers", headers=planner, json={"workers": others[1:]})
    assert r.json()["roles"] == {others[1]: "chief"}
    r = anon_client.put(f"/api/grids/{grid}/workers", headers=planner, json={"workers": others})
    assert r.json()["roles"] == {others[1]: "chief", others[0]: "manager"}
    record = anon_client.get(f"/grids/{grid}", headers=planner | HTML).text
    now = record.split('id="grid-now"')[1].split("</table>")[0]
    names = dict(
        app_db.execute(
            text("SELECT code, name FROM worker WHERE code = ANY(:c)"), {"c": others}
        ).all()
    )
    assert f"{names[others[1]]}（网格长）" in now and f"{names[others[0]]}（网格管理员）" in now
    assert now.index(names[others[1]]) < now.index(names[others[0]])  # the chief first
    assert re.search(
        rf'data-worker="{others[0]}"[^>]*>.*?<option value="manager" selected>', record
    )
    for roles, said in (
        ({others[0]: "chief", others[1]: "chief"}, "只设一名网格长"),
        ({others[0]: "boss"}, "没有这种分工：boss"),
        ({"W_ELSEWHERE": "chief"}, "W_ELSEWHERE 不在所配网格员"),
    ):
        r = anon_client.put(
            f"/api/grids/{grid}/workers", headers=planner, json={"workers": others, "roles": roles}
        )
        assert r.status_code == 422 and said in r.json()["detail"], r.text
    xlsx = anon_client.get(f"/grids.xlsx?q={grid}", headers=planner)
    sheet = load_workbook(BytesIO(xlsx.content)).active
    assert sheet is not None and sheet.cell(3, 1).value == grid
    team = f"{names[others[1]]}（网格长）、{names[others[0]]}（网格管理员）"
    assert sheet.cell(3, 9).value == team
    assert sheet.cell(3, 10).value == f"{others[1]} {others[0]}"
    # workers but no chief (未设网格长): marked on the row and the record, counted, a chip
    parts = {others[0]: "manager", others[1]: "informant"}
    r = anon_client.put(
        f"/api/grids/{grid}/workers", headers=planner, json={"workers": others, "roles": parts}
    )
    assert r.status_code == 200 and r.json()["roles"] == parts, r.text
    op = login_as("township_operator")
    listed = anon_client.get("/grids?chiefless=true", headers=op | HTML).text
    assert [_code(r) for r in _rows(listed)] == [grid] and _number(listed, "ledger-chiefless") == 1
    assert 'class="wg-chip on" id="chip-chiefless"' in listed
    assert "未设网格长" in _rows(listed)[0][5]
    record = anon_client.get(f"/grids/{grid}", headers=op | HTML).text
    assert "未设网格长" in record.split('id="grid-now"')[1].split("</table>")[0]
    # nobody: the grid is unstaffed, and the ledger says so
    r = anon_client.put(f"/api/grids/{grid}/workers", headers=planner, json={"workers": []})
    assert r.status_code == 200 and r.json()["after"] == []
    op = login_as("township_operator")
    only = anon_client.get("/grids?unstaffed=true", headers=op | HTML).text
    assert grid in [_code(r) for r in _rows(only)]
    # refusals
    far = app_db.execute(
        text("""SELECT w.code FROM worker w JOIN region v ON v.id = w.region_id
                WHERE v.code NOT LIKE '990102%' ORDER BY w.code LIMIT 1""")
    ).scalar_one()
    for workers in (["W_NOBODY"], [far]):
        r = anon_client.put(
            f"/api/grids/{grid}/workers", headers=planner, json={"workers": workers}
        )
        assert r.status_code == 422 and workers[0] in r.json()["detail"], r.text
    other_grid = app_db.execute(
        text("SELECT code FROM grid WHERE code NOT LIKE '990102%' AND valid_to IS NULL LIMIT 1")
    ).scalar_one()
    r = anon_client.put(f"/api/grids/{other_grid}/workers", headers=planner, json={"workers": []})
    assert r.status_code == 404
    too_many = {"workers": [f"W{i:03d}" for i in range(13)]}
    assert (
        anon_client.put(f"/api/grids/{grid}/workers", headers=planner, json=too_many).status_code
        == 422
    )
    r = anon_client.put(f"/api/grids/{grid}/workers", headers=op, json={"workers": []})
    assert r.status_code == 403
    # (in the words of what was refused: a desk staffing a grid read 无权调整网格边界)
    assert r.json()["detail"].startswith("您的角色（综治中心工作人员）无权调整网格边界、配置网格员")
