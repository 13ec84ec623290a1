"""Importing the roster: grid workers and user accounts from CSV/XLSX (demo city's codes)."""

from __future__ import annotations

import csv
import stat
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import InvalidInput
from gis.passwords import check_password_policy, verify_password
from importers.core import said
from importers.roster import (
    RosterOptions,
    import_workers,
    initial_password,
    normalise_phone,
    role_of,
)
from tests.conftest import grid_team

VILLAGE = "990102001001"
OTHER_VILLAGE = "990102001002"
HEADER = ["姓名", "手机号码", "岗位", "所属社区", "网格编码", "工号", "用户名"]
GOOD = [
    # a new grid worker for two grids, without a worker code, with an account
    ["林小梅", "139-0000-1111", "专职网格员", VILLAGE, f"{VILLAGE}005；{VILLAGE}006", "", "lin_xm"],
    # an existing worker (by code): new phone, one more grid
    ["何海", "+86 139 0752 2967", "网格员", "", f"{VILLAGE}001、{VILLAGE}002", "W99010200100101",
     ""],
    # a township operator with an account
    ["赵敏", "", "综治中心工作人员", "990102001", "", "", "zhao_min"],
]  # fmt: skip
BAD = [
    ["王五", "12345", "网格员", VILLAGE, f"{VILLAGE}003", "", ""],  # not a mobile number
    ["钱六", "13700000001", "网格员", VILLAGE, "990102001001999", "", ""],  # unknown grid
    ["孙七", "13700000002", "网格员", VILLAGE, f"{OTHER_VILLAGE}001", "", ""],  # other village
    ["周八", "13700000003", "保安", VILLAGE, f"{VILLAGE}004", "", ""],  # unknown role
    ["", "13700000004", "网格员", VILLAGE, f"{VILLAGE}005", "", ""],  # no name
    ["吴九", "139 0000 1111", "网格员", VILLAGE, f"{VILLAGE}006", "", ""],  # phone of row 2
    ["郑十", "", "管理员", "", "", "", "boss"],  # administrators are never imported
    ["冯一", "", "指挥中心", "990102", "", "", ""],  # a non-worker without a user name
    ["陈二", "13700000005", "网格员", "990102001", f"{VILLAGE}004", "", ""],  # not a village
]


def _write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)
    return path


def _worker(db: Session, code: str) -> tuple[str, str, str, list[str]] | None:
    row = db.execute(
        text("""
        SELECT w.name, w.phone, r.code, array_agg(g.grid_code ORDER BY g.grid_code)
        FROM worker w JOIN region r ON r.id = w.region_id
        LEFT JOIN worker_grid g ON g.worker_id = w.id WHERE w.code = :c
        GROUP BY w.name, w.phone, r.code
    """),
        {"c": code},
    ).one_or_none()
    return None if row is None else (row[0], row[1], row[2], list(row[3]))


def test_phones_roles_and_initial_passwords() -> None:
    assert normalise_phone("139-0752-2966") == "13907522966"
    assert normalise_phone("+86 139 0752 2966") == "13907522966"
    assert normalise_phone("13907522966.0") == "13907522966"
    # typed with a Chinese input method in full-width mode; a long dash; 86 without the +
    assert normalise_phone("１３９０７５２２９６６") == "13907522966"
    assert normalise_phone("（＋８６）139—0752—2966") == "13907522966"
    assert normalise_phone("8613907522966") == "13907522966"
    assert normalise_phone("12345") is None
    assert normalise_phone("12907522966") is None  # no mobile number starts 12
    assert normalise_phone("0752-1234567") is None  # a landline is no grid worker's phone
    assert role_of("专职网格员", False) == "grid_worker"
    assert role_of(" operator ", False) == "operator"
    assert role_of("", True) == "grid_worker"
    assert role_of("", False) is None
    assert role_of("保安", True) is None
    for _ in range(20):
        check_password_policy("someone", initial_password())


def test_roster_dry_run_commit_and_rerun(db: Session, tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "花名册.csv", GOOD + BAD)
    before = _worker(db, "W99010200100101")

    dry = import_workers(db, path, RosterOptions())
    assert not dry.committed
    assert _worker(db, "W99010200100101") == before  # nothing written
    assert db.execute(text("SELECT count(*) FROM app_user WHERE username = 'lin_xm'")).scalar() == 0
    assert sorted(dry.created) == ["user:lin_xm", "user:zhao_min", f"worker:W{VILLAGE}07"]
    assert dry.updated == ["worker:W99010200100101"]
    reasons = [i.reason for i in dry.rejected]
    assert len(reasons) == len(BAD), reasons
    for line, needle in [(5, "不是有效的大陆手机号"), (6, "不存在"), (7, "不属于"),
                         (8, "无法识别"), (9, "缺少姓名"), (10, "与第 2 行重复"),
                         (11, "系统管理员"), (12, "用户名"), (13, "不是")]:  # fmt: skip
        assert any(r.startswith(f"第 {line} 行") and needle in r for r in reasons), (line, reasons)
    assert any("--passwords" in w for w in dry.warnings)

    with pytest.raises(InvalidInput, match="--passwords"):
        import_workers(db, path, RosterOptions(commit=True))

    out = tmp_path / "passwords.csv"
    done = import_workers(db, path, RosterOptions(commit=True, passwords=out))
    assert done.committed
    assert _worker(db, f"W{VILLAGE}07") == ("林小梅", "13900001111", VILLAGE,
                                           [f"{VILLAGE}005", f"{VILLAGE}006"])  # fmt: skip
    assert _worker(db, "W99010200100101") == ("何海", "13907522967", VILLAGE,
                                             [f"{VILLAGE}001", f"{VILLAGE}002"])  # fmt: skip
    # a newcomer to a grid whose team has a chief is a manager there (one chief a grid)
    parts = db.execute(
        text("""SELECT w.code, g.grid_code, g.role FROM worker_grid g
                JOIN worker w ON w.id = g.worker_id
                WHERE g.grid_code = ANY(:g) AND g.role <> 'supervisor'  -- (the demo's)
                ORDER BY 2, 3, 1"""),
        {"g": [f"{VILLAGE}00{i}" for i in (1, 2, 5)]},
    ).all()
    assert [(c, r) for _, c, r in parts] == [
        (f"{VILLAGE}001", "chief"), (f"{VILLAGE}002", "chief"), (f"{VILLAGE}002", "manager"),
        (f"{VILLAGE}005", "chief"), (f"{VILLAGE}005", "manager"),
    ], parts  # fmt: skip
    users = {
        r.username: r
        for r in db.execute(
            text("""
            SELECT u.username, u.role::text AS role, r.code AS region, w.code AS worker,
                   u.display_name, u.password_hash
            FROM app_user u JOIN region r ON r.id = u.region_id
            LEFT JOIN worker w ON w.id = u.worker_id
            WHERE u.username IN ('lin_xm', 'zhao_min')
        """)
        )
    }
    assert (users["lin_xm"].role, users["lin_xm"].region, users["lin_xm"].worker) == (
        "grid_worker",
        VILLAGE,
        f"W{VILLAGE}07",
    )
    assert (users["zhao_min"].role, users["zhao_min"].region, users["zhao_min"].worker) == (
        "operator",
        "990102001",
        None,
    )
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    lines = out.read_text(encoding="utf-8-sig").splitlines()[1:]
    passwords = dict(line.split(",", 1) for line in lines)
    assert set(passwords) == {"lin_xm", "zhao_min"}
    assert verify_password(users["lin_xm"].password_hash, passwords["lin_xm"])
    assert (
        db.execute(
            text(
                "SELECT count(*) FROM audit_log "
                "WHERE object = 'user:lin_xm' AND action = 'user.add'"
            )
        ).scalar_one()
        == 1
    )

    again = import_workers(db, path, RosterOptions(commit=True, passwords=tmp_path / "p2.csv"))
    assert again.created == [] and again.updated == []
    assert len(again.unchanged) == 4
    assert not (tmp_path / "p2.csv").exists()  # no new account, no password file
    hash_after = db.execute(
        text("SELECT password_hash FROM app_user WHERE username = 'lin_xm'")
    ).scalar_one()
    assert hash_after == users["lin_xm"].password_hash  # a re-run never resets a password


def test_xlsx_roster_with_english_headers_and_strict(db: Session, tmp_path: Path) -> None:
    path = tmp_path / "roster.xlsx"
    pd.DataFrame(
        {
            "Name": ["Li Lei", "Han Meimei"],
            "Mobile": ["13911112222", "139"],
            "Role": ["grid_worker", "grid_worker"],
            "Grids": [f"{VILLAGE}003", f"{VILLAGE}004"],
            "Code": ["WX-0001", "WX-0002"],
        }
    ).to_excel(path, index=False)
    with pytest.raises(InvalidInput, match="--strict"):
        import_workers(db, path, RosterOptions(commit=True, strict=True))
    assert _worker(db, "WX-0001") is None
    report = import_workers(db, path, RosterOptions(commit=True))
    assert report.created == ["worker:WX-0001"] and len(report.rejected) == 1
    assert _worker(db, "WX-0001") == ("Li Lei", "13911112222", VILLAGE, [f"{VILLAGE}003"])
    assert report.mapping["phone"] == "Mobile"


def test_roster_without_a_name_column_lists_the_fields(db: Session, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("人员,电话\n张三,13900000000\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="人员, 电话"):
        import_workers(db, path, RosterOptions())


def test_a_roster_saved_by_excel_in_gbk_is_read(db: Session, tmp_path: Path) -> None:
    """A roster saved as CSV by Excel on a Chinese Windows is GBK: its header gives it away."""
    path = tmp_path / "花名册.csv"
    roster = f"姓名,手机号码,岗位,所属社区,网格\n林小梅,13900001111,网格员,{VILLAGE},{VILLAGE}005\n"
    path.write_bytes(roster.encode("gbk"))
    report = import_workers(db, path, RosterOptions())
    assert len(report.created) == 1, report.summary()
    assert any("GBK（GB18030）" in w for w in report.warnings)


def test_rejected_rows_are_listed_in_the_files_order(db: Session, tmp_path: Path) -> None:
    """A row is rejected by the first check it fails, and the checks go over the file one after
    another (the cells, then the places): the summary and the JSON list the rows by their lines
    (they came 3, 5, 6, 4)."""
    import json

    path = tmp_path / "r.csv"
    path.write_text(
        "姓名,手机号,角色,所属社区,负责网格,工号\n"
        f"张三,13900001111,网格员,{VILLAGE},{VILLAGE}001,W1\n"
        f"李四,12345,网格员,{VILLAGE},{VILLAGE}002,W2\n"
        f"王五,13900002222,网格员,{VILLAGE},{VILLAGE}099,W3\n"
        f"赵六,13900003333,网格员,{VILLAGE},{VILLAGE}003,W1\n"
        f",13900004444,网格员,{VILLAGE},{VILLAGE}004,W5\n",
        encoding="utf-8",
    )
    report = import_workers(db, path, RosterOptions())
    lines = [line for line in report.summary().splitlines() if line.startswith("  - ")]
    assert [line.split("第 ")[1][0] for line in lines] == ["3", "4", "5", "6"], lines
    listed = json.loads(report.to_json())["rejected"]
    assert [i["code"] for i in listed] == ["李四", "王五", "赵六", "W5"]


def test_a_rosters_user_names_are_the_accounts_whatever_their_case(
    db: Session, tmp_path: Path
) -> None:
    """Logins ignore letter case, so does a roster: Township_Operator is the account
    township_operator (updated, spelt as it is), ADMIN the administrator (never changed), and
    Lin_XM beside lin_xm in one file is the same name twice."""
    rows = [
        ["新名字", "", "综治中心工作人员", "990102001", "", "", "Township_Operator"],
        ["管理员", "", "指挥中心", "990100", "", "", "ADMIN"],
        ["林小梅", "", "综治中心工作人员", "990102001", "", "", "lin_xm"],
        ["林小梅", "", "综治中心工作人员", "990102001", "", "", "Lin_XM"],
    ]
    report = import_workers(db, _write_csv(tmp_path / "r.csv", rows), RosterOptions())
    assert report.updated == ["user:township_operator"], report
    assert report.created == ["user:lin_xm"], report
    reasons = [i.reason for i in report.rejected]
    assert any("第 3 行" in r and "系统管理员" in r for r in reasons), reasons
    assert any("第 5 行" in r and "用户名 Lin_XM 与第 4 行重复" in r for r in reasons), reasons


def test_an_existing_administrator_is_never_changed(db: Session, tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "r.csv", [["管理员", "", "指挥中心", "990100", "", "", "admin"]])
    report = import_workers(db, path, RosterOptions(commit=True))
    assert report.updated == [] and "系统管理员" in report.rejected[0].reason
    role = db.execute(text("SELECT role::text FROM app_user WHERE username = 'admin'")).scalar()
    assert role == "admin"


def test_a_roster_under_a_title_with_its_own_names_for_the_fields(
    db: Session, tmp_path: Path
) -> None:
    """A roster as offices keep it: a title and a note above the header, required fields marked
    with *, 联系方式 for the phone, 所属村（社区）, 网格编号.  The header is found and a rejected
    row is named by its row in the spreadsheet (it was refused: the title was taken for the
    header)."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["城中区专职网格员花名册"])
    sheet.append(["（带 * 为必填项）"])
    sheet.append(["序号", "*姓名", "联系方式", "*岗位", "所属村（社区）", "网格编号", "工号"])
    sheet.append([1, "林小梅", 13900001111, "专职网格员", VILLAGE, f"{VILLAGE}005", "WT-01"])
    sheet.append([2, "王五", "12345", "网格员", VILLAGE, f"{VILLAGE}003", "WT-02"])
    sheet.append([3, "赵六", "1.39E+10", "网格员", VILLAGE, f"{VILLAGE}004", "WT-03"])
    path = tmp_path / "花名册.xlsx"
    book.save(path)
    report = import_workers(db, path, RosterOptions(commit=True))
    assert report.mapping["name"] == "*姓名" and report.mapping["phone"] == "联系方式"
    assert report.mapping["region"] == "所属村（社区）" and report.mapping["grids"] == "网格编号"
    assert report.created == ["worker:WT-01"]
    assert [i.reason.split("：")[0] for i in report.rejected] == ["第 5 行", "第 6 行"]
    assert "科学计数法" in report.rejected[1].reason  # Excel's 1.39E+10: the number is lost
    assert any("表头在第 3 行" in w for w in report.warnings)
    assert _worker(db, "WT-01") == ("林小梅", "13900001111", VILLAGE, [f"{VILLAGE}005"])


def _parts(db: Session, grid: str) -> dict[str, str]:
    return grid_team(db, grid, by="name")


def test_a_roster_gives_each_worker_their_part_in_the_team(db: Session, tmp_path: Path) -> None:
    """网格分工 (一主任三大员): a 网格分工 column, or a 岗位 that names a part (网格长, 网格信息员),
    sets it for the row's grids; a row naming a grid's chief makes the one who was a manager.
    A second chief of the same grid in the file, and a part nobody uses, reject their rows."""
    first, second = f"{VILLAGE}001", f"{VILLAGE}002"
    team = _parts(db, first)  # the demo's: a chief, and the community's supervisor
    (was,) = [name for name, part in team.items() if part == "chief"]
    (overseer,) = [name for name, part in team.items() if part == "supervisor"]
    path = tmp_path / "分工.csv"
    path.write_text(
        "姓名,手机号码,岗位,网格分工,网格编码\n"
        f"林小梅,13900001111,专职网格员,网格长,{first}\n"
        f"何小海,13900002222,网格信息员,,{first}\n"
        f"赵大勇,13900003333,网格员,监督员,{first}\n"
        f"钱七,13900004444,网格员,网格长,{first}\n"  # a second chief of the grid
        f"孙八,13900005555,网格员,班长,{second}\n",  # no such part
        encoding="utf-8",
    )
    report = import_workers(db, path, RosterOptions(commit=True))
    assert report.mapping["part"] == "网格分工"
    assert len(report.created) == 3, report.summary()
    reasons = [i.reason for i in report.rejected]
    assert reasons[0].startswith("第 5 行") and "网格长重复：第 2 行" in reasons[0], reasons
    assert reasons[1].startswith("第 6 行") and "网格分工 '班长' 无法识别" in reasons[1], reasons
    assert _parts(db, first) == {
        "林小梅": "chief",
        was: "manager",
        "何小海": "informant",
        "赵大勇": "supervisor",
        overseer: "supervisor",
    }
    # the same file again changes nothing; a part left empty keeps the one they have
    again = import_workers(db, path, RosterOptions(commit=True))
    assert again.created == [] and again.updated == [], again.summary()
    path.write_text(
        f"姓名,手机号码,岗位,网格编码\n赵大勇,13900003333,网格员,{first}\n", encoding="utf-8"
    )
    import_workers(db, path, RosterOptions(commit=True))
    assert _parts(db, first)["赵大勇"] == "supervisor"


def test_regions_and_grids_named_instead_of_coded(db: Session, tmp_path: Path) -> None:
    """Rosters kept by hand name the village and the grid (兴沙社区, 兴沙社区第6网格, or 第5网格
    under its village): each is read as its code.  A name two regions share rejects the row
    and lists them; a name nothing has is an unknown region.  (Each was rejected as "区划
    兴沙社区 不存在".)"""
    names = {code: name for code, name in db.execute(text("SELECT code, name FROM region"))}
    sql = "SELECT code, name FROM grid WHERE valid_to IS NULL"
    grid = {code: name for code, name in db.execute(text(sql))}
    village, township = names[VILLAGE], names[VILLAGE[:9]]
    fifth = grid[f"{VILLAGE}005"].removeprefix(village)  # 第5网格
    path = tmp_path / "花名册.csv"
    path.write_text(
        "姓名,手机号码,岗位,所属社区,网格,用户名\n"
        f"林小梅,13900001111,网格员,{village},{fifth},\n"
        f"何小海,13900002222,网格员,,{grid[f'{VILLAGE}006']},\n"
        f"赵敏,,综治中心工作人员,{township},,zhao_by_name\n"
        f"周九,,综治中心工作人员,{VILLAGE[:9]}000,,zhou_padded\n"  # the national 12 digits
        "钱七,13900003333,网格员,没有这个社区,第3网格,\n",
        encoding="utf-8",
    )
    report = import_workers(db, path, RosterOptions(commit=True, passwords=tmp_path / "pw.csv"))
    assert len(report.created) == 4, report.summary()
    assert any("按名称找到了编码" in w for w in report.warnings)
    workers = dict(
        db.execute(
            text("""SELECT w.name, array_agg(g.grid_code ORDER BY g.grid_code)
                    FROM worker w JOIN worker_grid g ON g.worker_id = w.id
                    WHERE w.name IN ('林小梅', '何小海') GROUP BY w.name""")
        ).all()
    )
    assert workers == {"林小梅": [f"{VILLAGE}005"], "何小海": [f"{VILLAGE}006"]}
    regions = dict(
        db.execute(
            text("""SELECT u.username, r.code FROM app_user u JOIN region r ON r.id = u.region_id
                    WHERE u.username IN ('zhao_by_name', 'zhou_padded')""")
        ).all()
    )
    assert regions == {"zhao_by_name": VILLAGE[:9], "zhou_padded": VILLAGE[:9]}
    assert [said(i.reason, "en") for i in report.rejected] == [
        "line 6: unknown region 没有这个社区"
    ]
    assert said(report.rejected[0].reason).endswith("：区划 没有这个社区 不存在")

    db.execute(
        text("UPDATE region SET name = :n WHERE code = :c"), {"n": village, "c": OTHER_VILLAGE}
    )
    path.write_text(
        f"姓名,手机号码,岗位,所属社区,网格\n孙八,13900004444,网格员,{village},第7网格\n",
        encoding="utf-8",
    )
    shared = import_workers(db, path, RosterOptions()).rejected
    assert len(shared) == 1
    assert f"有 2 个：{VILLAGE}（{township}）、{OTHER_VILLAGE}" in shared[0].reason
    # in English with English punctuation (it had 、 and full-width brackets)
    assert f"2 regions are named {village} ({VILLAGE} in {township}, {OTHER_VILLAGE} in " in (
        said(shared[0].reason, "en")
    )


@pytest.mark.parametrize(
    ("word", "role"),
    [("网格员（专职）", "grid_worker"), ("网格长", "grid_worker"), ("社区网格员", "grid_worker"),
     ("人民调解员", "operator"), ("值班员", "operator"), ("综治中心主任", "commander"),
     ("ＧＲＩＤ_ＷＯＲＫＥＲ", "grid_worker"), ("保安", None)],
)  # fmt: skip
def test_roles_in_the_words_rosters_use(word: str, role: str | None) -> None:
    got = role_of(word, has_grids=False)
    assert (got.value if got else None) == role
