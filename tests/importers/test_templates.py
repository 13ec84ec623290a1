"""Templates to fill in (填表模板): a copy filled in with the examples its own instructions give
imports cleanly, every column mapped, as the page promises."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from gis.settings import Settings
from importers.run import ImportRequest, run_import
from importers.templates import COLUMNS, TEMPLATE_NAMES, template_xlsx


@pytest.mark.parametrize("what", list(TEMPLATE_NAMES))
def test_a_template_filled_in_with_its_examples_imports_cleanly(
    db: Session, tmp_path: Path, what: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("importers.run.get_settings", lambda: settings)  # (the parties' key)
    wb = load_workbook(BytesIO(template_xlsx(db, what)))
    sheet, notes = wb.worksheets
    assert sheet.title == TEMPLATE_NAMES[what][0] and notes.title == "填表说明"
    headers = [c.value for c in sheet[1]]
    assert headers == [c.head() for c in COLUMNS[what]]
    assert all(v is None for row in sheet.iter_rows(min_row=2, values_only=True) for v in row)
    assert all(h.startswith("*") == c.required for h, c in zip(headers, COLUMNS[what], strict=True))
    # the instructions: a row a column, its example last; codes typed in stay text
    described = list(notes.iter_rows(min_row=3, values_only=True))
    assert [r[0] for r in described] == [c.header for c in COLUMNS[what]]
    assert all(r[1] in ("是", "否") and r[2] for r in described)
    codes = [i for i, c in enumerate(COLUMNS[what], start=1) if c.text]
    assert codes and all(sheet.cell(2, i).number_format == "@" for i in codes)
    # filled in with the examples (this deployment's codes and a point in one of its grids)
    for number, row in enumerate(described, start=1):
        sheet.cell(2, number).value = row[3] or None
    path = tmp_path / f"{what}.xlsx"
    wb.save(path)
    report = run_import(db, path, ImportRequest(what))
    assert report.rejected == [] and not report.committed
    assert len(report.created) + len(report.updated) + len(report.unchanged) == 1, report
    given = {c.header for c, row in zip(COLUMNS[what], described, strict=True) if row[3]}
    assert given <= {h.lstrip("*") for h in report.mapping.values()}, report.mapping
    if what == "cases":
        assert report.assigned == {"covers": 1}  # (the example point is inside a grid)
        assert report.parties == 1 and not report.warnings, report.warnings


def test_the_import_page_links_the_templates(anon_client: TestClient, login_as) -> None:  # type: ignore[no-untyped-def]
    admin = login_as("admin")
    page = anon_client.get("/imports", headers=admin | {"Accept": "text/html"}).text
    for what in TEMPLATE_NAMES:
        assert f'href="/imports/template/{what}.xlsx"' in page
    r = anon_client.get("/imports/template/cases.xlsx", headers=admin)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "filename*=UTF-8''%E5%AF%BC%E5%85%A5" in r.headers["content-disposition"]  # 导入模板
    english = anon_client.get("/imports/template/workers.xlsx?lang=en", headers=admin)
    wb = load_workbook(BytesIO(english.content))
    assert wb.sheetnames == ["workers and users", "Instructions"]
    assert [c.value for c in wb.active[1]][:2] == ["*姓名", "*手机号码"]  # (the file's words)
    assert anon_client.get("/imports/template/grids.xlsx", headers=admin).status_code == 422
    refused = anon_client.get("/imports/template/cases.xlsx", headers=login_as("city_operator"))
    assert refused.status_code == 403
