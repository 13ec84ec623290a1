"""The ``wangge`` command, through typer's runner (same process, explicit environment)."""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from api.cli import app
from gis.db import make_engine
from gis.embedded import EmbeddedCluster
from gis.settings import get_settings
from tests.api.test_command import ROLLUP_MISMATCH
from tests.conftest import HANDLING_MISMATCH, STATE_COUNT_MISMATCH


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Iterator:  # type: ignore[type-arg]
    """Invoke ``wangge`` with environment variables; settings are re-read each time."""
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None, input: str | None = None):  # type: ignore[no-untyped-def]
        for key in ("DATABASE_URL", "WANGGE_DATABASE_URL", "WANGGE_DATA_DIR"):
            monkeypatch.delenv(key, raising=False)
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        return runner.invoke(app, list(args), input=input)

    yield invoke
    get_settings.cache_clear()


def test_db_url_prints_database_url_for_psycopg(run) -> None:  # type: ignore[no-untyped-def]
    result = run("db", "url", env={"DATABASE_URL": "postgresql://u:p@db.example:5432/w"})
    assert result.exit_code == 0
    assert result.output.strip() == "postgresql+psycopg://u:p@db.example:5432/w"


def test_db_status_and_url_of_the_embedded_cluster(run, cluster: EmbeddedCluster) -> None:  # type: ignore[no-untyped-def]
    env = {"WANGGE_DATA_DIR": str(cluster.data_dir)}
    status = run("db", "status", env=env)
    assert status.exit_code == 0
    info = json.loads(status.output)
    assert info["running"] is True and info["port"] == cluster.port
    url = run("db", "url", env=env)
    assert url.output.strip() == cluster.url()


def test_a_sub_folder_of_the_checkout_uses_the_checkout_cluster(  # type: ignore[no-untyped-def]
    run, cluster: EmbeddedCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(cluster.data_dir.parent / "maps")
    status = run("db", "status")  # no WANGGE_DATA_DIR: the nearest .wangge/ up
    assert status.exit_code == 0, status.output
    info = json.loads(status.output)
    assert info["data_dir"] == str(cluster.data_dir)
    assert info["running"] is True and info["port"] == cluster.port
    started = run("db", "start")  # already running: started again, nothing new created
    assert started.exit_code == 0, started.output
    assert "新建" not in started.output and str(cluster.pgdata) in started.output


def test_migrate_is_idempotent(run, database_url: str) -> None:  # type: ignore[no-untyped-def]
    result = run("migrate", env={"DATABASE_URL": database_url})
    assert result.exit_code == 0, result.output
    assert "迁移已完成" in result.output


def test_demo_load_refuses_unknown_size(run, database_url: str) -> None:  # type: ignore[no-untyped-def]
    result = run("demo", "load", "--size", "huge", env={"DATABASE_URL": database_url})
    assert result.exit_code == 2 and "city | small" in result.output


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("user", "idle", "--days", "99999999999"), "--days"),  # (PostgreSQL: no such interval)
        (("serve", "--port", "99999"), "--port"),  # (bind(): port must be 0-65535)
        (("demo", "load", "--seed", "-1"), "--seed"),  # (numpy: a non-negative seed)
    ],
)
def test_a_number_out_of_its_range_is_refused_as_a_usage_error(  # type: ignore[no-untyped-def]
    run, database_url: str, args: tuple[str, ...], option: str
) -> None:
    """Each was a traceback."""
    result = run(*args, env={"DATABASE_URL": database_url})
    assert result.exit_code == 2 and option in result.output, result.output
    assert "Traceback" not in result.output


def test_a_usage_error_is_said_in_chinese_unless_english_is_asked_for(run) -> None:  # type: ignore[no-untyped-def]
    """Click's words in its box (api.usage), in the command's language."""
    said = run("report", "daily", env={"LANG": "zh_CN.UTF-8"})
    assert said.exit_code == 2 and "缺少选项 --region。" in said.output, said.output
    assert (
        "查看帮助：'" in said.output
        and "report daily --help'" in said.output
        and "─ 错误 ─" in said.output
    )
    said = run("report", "daily", env={"LANG": "en_US.UTF-8"})
    assert said.exit_code == 2 and "Missing option '--region'." in said.output
    assert "─ Error ─" in said.output
    assert "缺少" not in said.output and "查看帮助" not in said.output


def test_demo_load_refuses_a_database_with_data(run, database_url: str, demo_city) -> None:  # type: ignore[no-untyped-def]
    result = run("demo", "load", "--size", "small", env={"DATABASE_URL": database_url})
    assert result.exit_code == 1
    assert "示例数据只能载入空数据库" in result.output
    assert "Traceback" not in result.output


def test_serve_needs_the_app_role_password_for_an_existing_database(run) -> None:  # type: ignore[no-untyped-def]
    result = run("serve", env={"DATABASE_URL": "postgresql://nobody:x@127.0.0.1:1/none"})
    assert result.exit_code == 1 and "WANGGE_APP_DB_PASSWORD" in result.output


def test_serve_refuses_an_unreachable_database(run) -> None:  # type: ignore[no-untyped-def]
    result = run(
        "serve",
        env={
            "DATABASE_URL": "postgresql://nobody:x@127.0.0.1:1/none",
            "WANGGE_APP_DB_PASSWORD": "x",
        },
    )
    assert result.exit_code == 1 and "无法连接数据库" in result.output


def test_serve_says_when_its_port_is_taken(run, database_url: str, app_password: str) -> None:  # type: ignore[no-untyped-def]
    """A second ``make run`` (or another program on the port) is told so, with what to do,
    before anything announces an address that is not its own."""
    import socket

    env = {"DATABASE_URL": database_url, "WANGGE_APP_DB_PASSWORD": app_password}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", "--host", "127.0.0.1", "--port", str(port), env=env)
    assert result.exit_code == 1, result.output
    assert f"端口 {port} 已被占用" in result.output and "--port" in result.output
    assert "http://127.0.0.1:" + str(port) + "/ （API" not in result.output  # not announced
    result = run("serve", "--host", "192.0.2.1", "--port", "8000", env=env)  # not this machine's
    assert result.exit_code == 1 and "无法在 192.0.2.1:8000 启动" in result.output


def test_serve_names_no_server_software(  # type: ignore[no-untyped-def]
    run, base_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app answers without ``Server: uvicorn`` (which software answers, and so which of its
    flaws to try, is what a scanner looks for first)."""
    import socket

    import uvicorn

    started: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: started.update(options))
    env = {
        "DATABASE_URL": base_settings.database_url,
        "WANGGE_APP_DB_PASSWORD": base_settings.app_db_password,
        "WANGGE_PII_KEY": base_settings.pii_key,
    }
    with socket.socket() as probe:  # a port free now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run("serve", "--host", "127.0.0.1", "--port", str(port), env=env)
    assert result.exit_code == 0, result.output
    assert started["server_header"] is False and started["port"] == port


def test_user_add_passwd_disable_enable_unlock(run, database_url: str, engine, demo_city) -> None:  # type: ignore[no-untyped-def]
    """Accounts made on the command line (committed to the test database, then disabled)."""
    from sqlalchemy import text

    env = {"DATABASE_URL": database_url}
    password = "Ferry-boats-at-dawn-7\n"
    added = run(
        "user",
        "add",
        "cli_operator",
        "--role",
        "operator",
        "--region",
        "990102",
        "--password-stdin",
        env=env,
        input=password,
    )
    assert added.exit_code == 0, added.output
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT u.role::text, r.code, u.password_hash FROM app_user u "
                "JOIN region r ON r.id = u.region_id WHERE username = 'cli_operator'"
            )
        ).one()
    assert row[0] == "operator" and row[1] == "990102" and row[2].startswith("$argon2id$")

    weak = run("user", "passwd", "cli_operator", "--password-stdin", env=env, input="password123\n")
    assert weak.exit_code == 1 and "密码不符合要求" in weak.output

    disabled = run("user", "disable", "cli_operator", env=env)
    assert disabled.exit_code == 0
    with engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT disabled FROM app_user WHERE username = 'cli_operator'")
            ).scalar()
            is True
        )
        actions = (
            conn.execute(
                text("SELECT action FROM audit_log WHERE object = 'user:cli_operator' ORDER BY id")
            )
            .scalars()
            .all()
        )
    assert actions == ["user.add", "user.disable"]
    # enabled again, and unlocked (after five wrong passwords it would be locked)
    assert run("user", "enable", "cli_operator", env=env).exit_code == 0
    assert run("user", "unlock", "cli_operator", env=env).exit_code == 0
    # typed in other letters' case, as a login takes it: the account, named as it is stored
    out = run("user", "unlock", "CLI_Operator", env=env)
    assert out.exit_code == 0 and "用户 cli_operator 已解除锁定" in out.output, out.output
    out = run("user", "logout", "cli_operator", env=env)  # 强制下线 (no session now: none ended)
    assert out.exit_code == 0 and "所有登录已失效" in out.output
    missing = run("user", "unlock", "nobody_at_all", env=env)
    assert missing.exit_code == 1 and "nobody_at_all" in missing.output
    # a grid worker's account with no grid yet is made, and said to be unable to report
    lone = run("user", "add", "cli_gw", "--role", "grid_worker", "--region", "990102001001",
               "--password-stdin", env=env, input=password)  # fmt: skip
    assert lone.exit_code == 0 and "还没有负责的网格" in lone.output, lone.output
    with engine.connect() as conn:
        worker = conn.execute(
            text("SELECT w.code FROM worker w JOIN worker_grid g ON g.worker_id = w.id "
                 "WHERE NOT EXISTS (SELECT 1 FROM app_user u WHERE u.worker_id = w.id) "
                 "ORDER BY w.code LIMIT 1")
        ).scalar_one()  # fmt: skip
    linked = run("user", "add", "cli_gw2", "--role", "grid_worker", "--worker", worker,
                 "--password-stdin", env=env, input=password)  # fmt: skip
    assert linked.exit_code == 0 and "还没有负责的网格" not in linked.output, linked.output
    with engine.begin() as conn:  # (later tests count the grid workers with an account)
        conn.execute(text("DELETE FROM app_user WHERE username IN ('cli_gw', 'cli_gw2')"))
    # what is wrong besides the password is said before it is asked for (typed twice, for
    # nothing): no such account, a region that is not there, a name taken
    for args, said in (
        (("user", "passwd", "nobody_at_all"), "没有用户 nobody_at_all"),
        (("user", "add", "cli_x", "--role", "operator", "--region", "123"), "没有编码为 123"),
        (("user", "add", "cli_operator", "--role", "operator", "--region", "990102"), "已存在"),
    ):
        early = run(*args, env=env, input="")
        assert early.exit_code == 1 and said in early.output, early.output
        assert "密码" not in early.output  # (no prompt)
    with engine.connect() as conn:
        state = conn.execute(
            text("SELECT disabled, failed_logins FROM app_user WHERE username = 'cli_operator'")
        ).one()
        last = conn.execute(
            text("""SELECT action, username FROM audit_log WHERE object = 'user:cli_operator'
                    ORDER BY id DESC LIMIT 2""")
        ).all()
    assert tuple(state) == (False, 0)
    assert [a for a, _ in last] == ["user.logout", "user.unlock"] and last[0][1] != "web"
    assert run("user", "otp-reset", "cli_operator", env=env).exit_code == 0  # (none to reset)

    # 久未使用: accounts unused for long are listed, and disabled on request, never an admin
    admin = run("user", "add", "cli_admin", "--role", "admin", "--password-stdin", env=env,
                input=password)  # fmt: skip
    assert admin.exit_code == 0, admin.output
    with engine.begin() as conn:
        conn.execute(
            text("""UPDATE app_user SET created_at = now() - interval '200 days'
                    WHERE username IN ('cli_operator', 'cli_admin')""")
        )
    try:
        listed = run("user", "idle", "--days", "180", env=env)
        assert listed.exit_code == 0, listed.output
        names = [line.split("\t")[0] for line in listed.output.splitlines() if "\t" in line]
        assert names == ["cli_admin", "cli_operator"]  # (the demo's accounts are new)
        assert run("user", "idle", "--days", "365", env=env).output.startswith("365 天以上")
        done = run("user", "idle", "--days", "180", "--disable", env=env)
        assert done.exit_code == 0 and "已停用 cli_operator" in done.output
        assert "未停用（系统管理员，请另行处理）cli_admin" in done.output
        with engine.connect() as conn:
            states = dict(
                conn.execute(
                    text("""SELECT username, disabled FROM app_user
                            WHERE username IN ('cli_operator', 'cli_admin')""")
                ).all()
            )
            detail = conn.execute(
                text("""SELECT detail FROM audit_log WHERE object = 'user:cli_operator'
                        ORDER BY id DESC LIMIT 1""")
            ).scalar_one()
        assert states == {"cli_operator": True, "cli_admin": False}
        assert detail == {"idle_days": 180}
    finally:
        with engine.begin() as conn:  # (later tests count the administrators)
            conn.execute(text("DELETE FROM app_user WHERE username = 'cli_admin'"))


def test_user_add_refuses_bad_requests(run, database_url: str) -> None:  # type: ignore[no-untyped-def]
    env = {"DATABASE_URL": database_url}
    for args, words in (
        (["--role", "operator"], "--region"),
        (["--role", "mayor", "--region", "990102"], "--role"),
        (["--role", "operator", "--region", "123456789"], "123456789"),
        # as long as the web form allows, no longer (it took 500 characters)
        (["--role", "operator", "--region", "990102", "--display-name", "名" * 65], "至多 64"),
    ):
        result = run(
            "user",
            "add",
            "someone_new",
            *args,
            "--password-stdin",
            env=env,
            input="Ferry-boats-at-dawn-7\n",
        )
        assert result.exit_code != 0 and words in result.output, result.output


def test_report_daily_writes_both_files(run, database_url: str, demo_city, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"DATABASE_URL": database_url}
    result = run(
        "report", "daily", "--region", "990102", "--date", "2026-11-20", "--out", str(tmp_path),
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "城中区" in result.output
    assert {p.suffix for p in tmp_path.iterdir()} == {".xlsx", ".html"}
    # 每日一上报: the district's and each township's, in one go
    each = tmp_path / "each"
    result = run(
        "report", "daily", "--region", "990102", "--date", "2026-11-20", "--out", str(each),
        "--children", env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    townships = sorted(t.code for t in demo_city.regions if t.code.startswith("990102")
                       and t.level == "township")  # fmt: skip
    assert townships and result.output.count("已写出") == 1 + len(townships)
    assert sorted(p.name for p in each.glob("*.xlsx")) == sorted(
        f"每日汇总-{code}-20261120.xlsx" for code in ["990102", *townships]
    )
    bad = run("report", "daily", "--region", "990102", "--date", "20.11.2026", env=env)
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
    # in English: asked for, or the shell's language
    english = tmp_path / "en"
    for asked in (("--lang", "en"), ()):
        result = run(
            "report", "daily", "--region", "990102", "--date", "2026-11-20",
            "--out", str(english), *asked, env=env | {"LANG": "en_GB.UTF-8" if not asked else "C"},
        )  # fmt: skip
        assert result.exit_code == 0 and "received" in result.output, result.output
    page = (english / "daily-990102-20261120.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in page and "每日" not in page
    assert sorted(p.name for p in english.iterdir()) == [
        "daily-990102-20261120.html", "daily-990102-20261120.xlsx"]  # fmt: skip
    wrong = run("report", "daily", "--region", "990102", "--date", "2026-11-20", "--lang", "fr")
    assert wrong.exit_code == 2 and "zh" in wrong.output
    unknown = run("report", "daily", "--region", "123456", "--date", "2026-11-20", env=env)
    assert unknown.exit_code == 1 and "Traceback" not in unknown.output
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    nowhere = run(
        "report", "daily", "--region", "990102", "--date", "2026-11-20",
        "--out", str(a_file / "reports"), env=env,
    )  # fmt: skip
    assert nowhere.exit_code == 1 and "Traceback" not in nowhere.output
    assert "Not a directory" in nowhere.output or "无法把报表写入" in nowhere.output
    # --out names the folder of the two files: a file's name (日报.xlsx, an existing file) is
    # refused, not made a folder of that name
    for named in (tmp_path / "日报.xlsx", a_file):
        refused = run(
            "report", "daily", "--region", "990102", "--date", "2026-11-20",
            "--out", str(named), env=env | {"LANG": "zh_CN.UTF-8"},
        )  # fmt: skip
        assert refused.exit_code == 2 and "--out 是文件夹" in refused.output, refused.output
    assert not (tmp_path / "日报.xlsx").exists() and a_file.is_file()
    # a day still to come is refused (it wrote an empty report); without --date: yesterday
    future = run("report", "daily", "--region", "990102", "--date", "2099-01-01", env=env)
    assert future.exit_code == 1 and ("还没有到" in future.output or "not come" in future.output)
    assert not list(tmp_path.glob("*2099*"))
    latest = tmp_path / "latest"
    done = run("report", "daily", "--region", "990102", "--out", str(latest), env=env)
    assert done.exit_code == 0, done.output
    from gis.worktime import report_day

    assert len(list(latest.glob(f"*{report_day(None):%Y%m%d}.xlsx"))) == 1


def test_report_period_writes_the_ranking(run, database_url: str, demo_city, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """统计排名 from the command line (for a monthly cron): last month by default."""
    from datetime import datetime, timedelta

    from gis.worktime import SHANGHAI

    env = {"DATABASE_URL": database_url}
    result = run("report", "period", "--region", "990102", "--out", str(tmp_path), env=env)
    assert result.exit_code == 0, result.output
    last = datetime.now(SHANGHAI).date().replace(day=1) - timedelta(days=1)
    name = f"统计排名-990102-{last.replace(day=1):%Y%m%d}-{last:%Y%m%d}"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{name}.html", f"{name}.xlsx"]
    assert "城中区" in result.output and "按期结案率第一" in result.output
    page = (tmp_path / f"{name}.html").read_text(encoding="utf-8")
    townships = [t.code for t in demo_city.regions if t.code.startswith("990102")
                 and t.level == "township"]  # fmt: skip
    assert all(f'<tr data-code="{code}">' in page for code in townships)
    result = run(
        "report", "period", "--region", "990102", "--start", "2026-06-01", "--end", "2026-06-30",
        "--rank", "cases", "--lang", "en", "--out", str(tmp_path), env=env,
    )  # fmt: skip
    assert result.exit_code == 0 and "first by Cases received" in result.output, result.output
    assert (tmp_path / "ranking-990102-20260601-20260630.xlsx").exists()
    for args, words in (
        (("--rank", "speed"), "on_time_rate"),
        (("--start", "1.6.2026"), "--start"),
        (("--start", "2026-06-30", "--end", "2026-06-01"), "2026-06-01"),
    ):
        bad = run("report", "period", "--region", "990102", *args, env=env)
        assert bad.exit_code in (1, 2) and words in bad.output, bad.output
        assert "Traceback" not in bad.output


def test_export_writes_a_gis_file_that_imports_back(
    run, database_url: str, demo_city, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    env = {"DATABASE_URL": database_url}
    path = tmp_path / "grids.zip"
    result = run(
        "export", "grids", str(path), "--region", "990102001", "--crs", "EPSG:4547", env=env
    )  # fmt: skip
    assert result.exit_code == 0 and "已导出" in result.output and "EPSG:4547" in result.output
    back = run("import", "grids", str(path), env=env)  # a dry run
    assert back.exit_code == 0, back.output
    assert "新增 0，更新 0" in back.output, back.output  # unchanged, all of them
    for args in (("grids", str(tmp_path / "a.txt")), ("towns", str(tmp_path / "a.gpkg")),
                 ("grids", str(tmp_path / "a.gpkg"), "--as-of", "yesterday")):  # fmt: skip
        bad = run("export", *args, env=env)
        assert bad.exit_code in (1, 2) and "Traceback" not in bad.output, bad.output


def test_import_dry_run_prints_a_summary_and_writes_the_report(  # type: ignore[no-untyped-def]
    run, database_url: str, demo_city, tmp_path
) -> None:
    import json

    import geopandas as gpd
    from shapely.geometry import box

    path = tmp_path / "区划.geojson"
    gpd.GeoDataFrame(
        {"XZQDM": ["880100"], "XZQMC": ["示例二市"]},
        geometry=[box(114.3, 23.3, 114.5, 23.4)],
        crs="EPSG:4326",
    ).to_file(path, engine="pyogrio")
    env = {"DATABASE_URL": database_url}
    out = tmp_path / "report.json"
    result = run("import", "regions", str(path), "--report", str(out), env=env)
    assert result.exit_code == 0, result.output
    assert "试运行" in result.output and "新增 1" in result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["created"] == ["880100"] and report["committed"] is False
    assert report["mapping"] == {"code": "XZQDM", "name": "XZQMC"}
    assert run("import", "parcels", str(path), env=env).exit_code == 2
    bulk = run("import", "regions", str(path), "--bulk", env=env)
    assert bulk.exit_code == 2 and "--bulk 只用于历史案件" in bulk.output
    # a report that cannot be written is said before the import, not as a traceback after its
    # commit; one that fails at the end is said after the summary of what was done
    nowhere = run(
        "import", "regions", str(path), "--commit", "--report", str(tmp_path / "no" / "r.json"),
        env=env,
    )  # fmt: skip
    assert nowhere.exit_code == 2 and "不存在或不可写" in nowhere.output
    assert "Traceback" not in nowhere.output and "新增" not in nowhere.output
    folder = run("import", "regions", str(path), "--report", str(tmp_path), env=env)
    assert folder.exit_code == 2 and "是一个目录" in folder.output
    late = run("import", "regions", str(path), "--report", "/proc/wangge-report.json", env=env)
    assert late.exit_code == 1 and "新增 1" in late.output
    assert "导入已完成（见上），但无法写入报告 /proc/wangge-report.json" in late.output
    missing = run("import", "regions", str(tmp_path / "nope.shp"), env=env)
    assert missing.exit_code == 1 and "找不到文件" in missing.output


def test_import_names_a_file_s_own_fields_with_field_options(  # type: ignore[no-untyped-def]
    run, database_url: str, demo_city, tmp_path
) -> None:
    """--field ROLE=COLUMN, repeated, for any import; the refusal names options that exist."""
    lon, lat = demo_city.grids[0].geom.representative_point().coords[0]
    path = tmp_path / "案件.csv"
    path.write_text(f"案卷号,时刻,X坐标,Y坐标\nK1,2026年3月5日 9:30,{lon},{lat}\n", "utf-8")
    env = {"DATABASE_URL": database_url}
    refused = run("import", "cases", str(path), env=env)
    assert refused.exit_code == 1 and "--field lon=…" in refused.output
    fields = ["--field", "上报时间=时刻", "--field", "lon=X坐标", "--field", "lat=Y坐标"]
    done = run("import", "cases", str(path), "--code-field", "案卷号", *fields, env=env)
    assert done.exit_code == 0, done.output
    assert "新增 1" in done.output and "reported_at←时刻" in done.output


def test_import_workers_needs_a_password_file_to_create_accounts(  # type: ignore[no-untyped-def]
    run, database_url: str, demo_city, tmp_path
) -> None:
    path = tmp_path / "花名册.csv"
    path.write_text(
        "姓名,手机,岗位,所属区划,用户名\n周工,,综治中心工作人员,990102001,zhou_cli\n",
        encoding="utf-8",
    )
    env = {"DATABASE_URL": database_url}
    dry = run("import", "workers", str(path), env=env)
    assert dry.exit_code == 0 and "新增 1" in dry.output and "--passwords" in dry.output
    refused = run("import", "workers", str(path), "--commit", env=env)
    assert refused.exit_code == 1 and "--passwords" in refused.output
    assert "Traceback" not in refused.output


def test_db_backup_and_restore_into_an_empty_database_only(  # type: ignore[no-untyped-def]
    run, cluster: EmbeddedCluster, database_url: str, demo_city, pii_key: bytes, tmp_path
) -> None:
    """A backup of the whole database, restored into an empty one: the same rows, migrated,
    and the personal-data key tried on them.  Never over data, never over a file."""
    import base64
    import secrets
    import uuid

    import psycopg

    from gis.db import libpq_url as libpq

    def counts(url: str) -> tuple[int, ...]:
        with psycopg.connect(libpq(url)) as conn:
            tables = ("cases", "case_event", "case_party", "grid", "app_user", "region")
            return tuple(
                conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
                for t in tables
            )

    dump = tmp_path / "备份" / "wangge.dump"
    data_dir = str(tmp_path / "data")
    key = base64.b64encode(pii_key).decode()
    made = run("db", "backup", str(dump), env={"DATABASE_URL": database_url})
    assert made.exit_code == 0, made.output
    assert "案件 " in made.output and "密钥不在备份中" in made.output
    assert dump.stat().st_mode & 0o777 == 0o600  # password hashes, ciphertext
    again = run("db", "backup", str(dump), env={"DATABASE_URL": database_url})
    assert again.exit_code == 1 and "不覆盖" in again.output
    # a folder: a new wangge-<time>.dump in it (was "exists"), which --keep prunes beside
    folder = dump.parent
    into = run("db", "backup", str(folder), "--keep", "5", env={"DATABASE_URL": database_url})
    assert into.exit_code == 0, into.output
    (inside,) = folder.glob("wangge-*.dump")
    assert str(inside) in into.output
    # nowhere to write: said, not a traceback
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    nowhere = run("db", "backup", str(blocked / "x.dump"), env={"DATABASE_URL": database_url})
    assert nowhere.exit_code == 1 and "无法在" in nowhere.output, nowhere.output
    not_a_backup = tmp_path / "x.dump"
    not_a_backup.write_bytes(b"PGDMP but not really")
    name = f"wangge_test_restore_{uuid.uuid4().hex[:8]}"
    cluster.create_database(name)
    target = cluster.url(name)
    env = {"DATABASE_URL": target, "WANGGE_PII_KEY": key, "WANGGE_DATA_DIR": data_dir}
    try:
        bad = run("db", "restore", str(not_a_backup), env=env)
        assert bad.exit_code == 1 and "不是 wangge db backup 生成的备份" in bad.output
        a_folder = run("db", "restore", str(folder), env=env)
        assert a_folder.exit_code == 1 and f"是一个目录：请给出其中的备份文件（如 {inside}）" in (
            a_folder.output
        )
        done = run("db", "restore", str(dump), env=env)
        assert done.exit_code == 0, done.output
        assert "已从" in done.output and "密钥" not in done.output  # the key reads the parties
        assert counts(target) == counts(database_url) and counts(target)[2] > 0
        with psycopg.connect(libpq(target)) as conn:
            versions = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        with psycopg.connect(libpq(database_url)) as conn:
            assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == versions
        over = run("db", "restore", str(dump), env=env)  # never over data
        assert over.exit_code == 1 and "不是空的" in over.output
        assert counts(target) == counts(database_url)
        cluster.drop_database(name)
        cluster.create_database(name)
        other = base64.b64encode(secrets.token_bytes(32)).decode()
        wrong = run("db", "restore", str(dump), env={**env, "WANGGE_PII_KEY": other})
        assert wrong.exit_code == 0, wrong.output  # restored; the server would refuse the key
        assert "个人信息密钥" in wrong.output and "不符" in wrong.output
        assert "照片目录" not in wrong.output  # (no photos: nothing to say of them)
        # photos whose files were not copied with the backup: the restore names their case
        with psycopg.connect(libpq(target)) as conn:
            conn.execute("SELECT set_config('wangge.scope', '*', false)")
            code = conn.execute(
                """INSERT INTO case_photo (case_id, sha256, upload_sha256, content_type, bytes,
                                           width, height, file_name, thumb_name, uploaded_by)
                   SELECT id, repeat('a', 64), repeat('a', 64), 'image/jpeg', 1, 1, 1,
                          'aa/a.jpg', 'aa/a.thumb.jpg', 'cli' FROM cases ORDER BY id LIMIT 1
                   RETURNING (SELECT code FROM cases c WHERE c.id = case_id)"""
            ).fetchone()[0]  # type: ignore[index]
        with_photos = tmp_path / "photos.dump"
        assert run("db", "backup", str(with_photos), env=env).exit_code == 0
        cluster.drop_database(name)
        cluster.create_database(name)
        photos = run("db", "restore", str(with_photos), env=env)
        assert photos.exit_code == 0, photos.output
        assert "照片目录" in photos.output and "缺失 2 个" in photos.output
        assert f"案件 {code} 的照片" in photos.output, photos.output
        # a backup of a newer wangge (a migration this one lacks) is refused before anything
        with psycopg.connect(libpq(target)) as conn:
            conn.execute("UPDATE alembic_version SET version_num = '9999'")
        newer = tmp_path / "newer.dump"
        assert run("db", "backup", str(newer), env=env).exit_code == 0
        cluster.drop_database(name)
        cluster.create_database(name)
        refused = run("db", "restore", str(newer), env=env)
        assert refused.exit_code == 1 and "更新版本" in refused.output
        with psycopg.connect(libpq(target)) as conn:
            assert conn.execute("SELECT to_regclass('cases')").fetchone() == (None,)
    finally:
        cluster.drop_database(name)


def test_db_backup_keeps_only_the_newest_when_asked(run, database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """For a nightly cron: --keep N leaves the N newest backups of wangge's naming, and nothing
    else is touched; --keep 0 is refused before anything is written."""
    folder = tmp_path / "backups"
    folder.mkdir()
    for name in ("wangge-20200101-000000.dump", "wangge-20210101-000000.dump", "notes.txt"):
        (folder / name).write_text("x")
    env = {"DATABASE_URL": database_url}
    later = folder / "wangge-20230101-000000.dump"
    refused = run("db", "backup", str(later), "--keep", "0", env=env)
    assert refused.exit_code == 1 and "--keep" in refused.output
    assert not later.exists()
    newest = folder / "wangge-20220101-000000.dump"
    done = run("db", "backup", str(newest), "--keep", "2", env=env)
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in folder.iterdir()) == [
        "notes.txt",
        "wangge-20210101-000000.dump",
        "wangge-20220101-000000.dump",
    ]
    assert "wangge-20200101-000000.dump" in done.output


@pytest.fixture
def forgotten_day(engine: Engine, demo_city: object) -> Iterator[date]:
    """The second day of the system's data (the demo's first case or grid), its published rows
    removed afterwards (the command line commits)."""
    from gis.safety import first_day

    with Session(engine) as session:
        first = first_day(session)
    assert first is not None
    day = first + timedelta(days=1)
    with engine.begin() as conn:
        assert not conn.execute(
            text("SELECT count(*) FROM safety_index WHERE day <= :d"), {"d": day}
        ).scalar_one()
    yield day
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM safety_index WHERE day <= :d"), {"d": day})


def test_command_line_publishes_missing_days(run, database_url: str, forgotten_day: date) -> None:  # type: ignore[no-untyped-def]
    env = {"DATABASE_URL": database_url}
    day, before = forgotten_day, forgotten_day - timedelta(days=1)
    first = run("safety", "publish", "--date", str(day), "--days", "2", env=env)
    assert first.exit_code == 0, first.output
    assert f"{before}：已发布" in first.output and f"{day}：已发布" in first.output
    again = run("safety", "publish", "--date", str(day), env=env)
    assert again.exit_code == 0 and "此前已发布，未改变" in again.output
    # the days before the system's first data have no index: skipped, or refused alone
    # (published days never change: a mistyped year would stand for good)
    earlier = before - timedelta(days=1)
    wide = run("safety", "publish", "--date", str(day), "--days", "30", env=env)
    assert wide.exit_code == 0, wide.output
    assert f"至 {earlier} 早于本系统最早的数据，跳过" in wide.output
    assert f"{earlier}：" not in wide.output and f"{before}：此前已发布" in wide.output
    alone = run("safety", "publish", "--date", str(earlier), env=env)
    assert alone.exit_code == 1 and "早于本系统最早的数据" in alone.output
    future = run("safety", "publish", "--date", "2999-01-01", env=env)
    assert future.exit_code != 0 and "还没有到" in future.output
    garbled = run("safety", "publish", "--date", "30.6.2017", env=env)
    assert garbled.exit_code == 2 and "--date 须为 YYYY-MM-DD" in garbled.output


def test_db_recount_counts_the_roll_ups_and_the_handling_again(  # type: ignore[no-untyped-def]
    run, database_url: str, engine: Engine, demo_city
) -> None:
    """A repair by hand that passed the triggers by (here: a case's handling, a roll-up cell and
    the in-tray's counts changed behind their backs) is put right by ``wangge db recount``."""
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE cases SET extended = NOT extended WHERE id = (SELECT min(id) FROM cases)")
        )
        conn.execute(
            text("""UPDATE case_grid_day SET n = n + 5
                    WHERE (grid_code, day) = (SELECT grid_code, day FROM case_grid_day
                                              ORDER BY grid_code, day LIMIT 1)""")
        )
        conn.execute(text("UPDATE case_state_count SET n = n - 1 WHERE status = 'closed'"))
        assert conn.execute(text(HANDLING_MISMATCH)).scalar_one() == 1
        assert conn.execute(text(STATE_COUNT_MISMATCH)).scalar_one() > 0
    result = run("db", "recount", env={"DATABASE_URL": database_url})
    assert result.exit_code == 0, result.output
    assert "1 件案件的办理情况已更正" in result.output
    with engine.connect() as conn:
        assert conn.execute(text(HANDLING_MISMATCH)).scalar_one() == 0
        assert conn.execute(text(ROLLUP_MISMATCH)).scalar_one() == 0
        assert conn.execute(text(STATE_COUNT_MISMATCH)).scalar_one() == 0


def test_db_photos_names_the_missing_files_and_prunes_the_unnamed(  # type: ignore[no-untyped-def]
    run, database_url: str, engine: Engine, demo_city, tmp_path
) -> None:
    """After a restore that forgot the photo folder, ``wangge db photos`` says which cases'
    photos are missing (exit 1, for a cron's mail); ``--prune`` removes the old files no row
    names, and nothing else."""
    import os
    import time

    folder = tmp_path / "photos"
    digest = "ab" + "c" * 62
    picture, thumb = f"ab/{digest}.jpg", f"ab/{digest}.thumb.jpg"
    (folder / "ab").mkdir(parents=True)
    (folder / picture).write_bytes(b"j" * 1000)  # (its thumbnail was not copied)
    unnamed = folder / "cd" / ("cd" + "e" * 62 + ".jpg")
    unnamed.parent.mkdir()
    unnamed.write_bytes(b"u" * 2_000_000)
    os.utime(unnamed, (time.time() - 7200, time.time() - 7200))
    with engine.begin() as conn:
        conn.execute(text("SELECT set_config('wangge.scope', '*', true)"))
        case_id, code = conn.execute(text("SELECT id, code FROM cases ORDER BY id LIMIT 1")).one()
        row = conn.execute(
            text("""INSERT INTO case_photo (case_id, sha256, upload_sha256, content_type, bytes,
                                            width, height, file_name, thumb_name, uploaded_by)
                    VALUES (:case, :sha, :sha, 'image/jpeg', 1000, 1, 1, :file, :thumb, 'cli')
                    RETURNING id"""),
            {"case": case_id, "sha": digest, "file": picture, "thumb": thumb},
        ).scalar_one()
    env = {"DATABASE_URL": database_url, "WANGGE_PHOTO_DIR": str(folder)}
    try:
        checked = run("db", "photos", env=env)
        assert checked.exit_code == 1, checked.output
        assert "目录中有 1 个，缺失 1 个" in checked.output
        assert f"案件 {code} 的照片 #{row}（{thumb}）" in checked.output
        assert "无记录的文件 1 个（2.0 MB）" in checked.output and "--prune" in checked.output
        assert unnamed.exists()
        pruned = run("db", "photos", "--prune", env=env)
        assert pruned.exit_code == 1 and "已删除无记录的文件 1 个，释放 2.0 MB" in pruned.output
        assert not unnamed.exists() and (folder / picture).exists()
        (folder / thumb).write_bytes(b"t" * 10)  # copied back
        whole = run("db", "photos", env=env)
        assert whole.exit_code == 0, whole.output
        assert "目录中有 2 个，缺失 0 个；目录中无记录的文件 0 个" in whole.output
        (folder / picture).write_bytes(b"k" * 1000)  # (not its checksum: ab… is made up)
        verified = run("db", "photos", "--verify", env=env)
        assert verified.exit_code == 1 and "内容与校验值不符的照片 1 张" in verified.output
        assert f"案件 {code} 的照片 #{row}（{picture}）" in verified.output
        refused = run("db", "photos", "--older-than", "-1", env=env)
        assert refused.exit_code != 0 and "--older-than" in refused.output
    finally:
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('wangge.scope', '*', true)"))
            conn.execute(text("DELETE FROM case_photo WHERE id = :id"), {"id": row})


def test_pii_expire_counts_first_and_erases_with_commit(  # type: ignore[no-untyped-def]
    run, database_url: str, engine: Engine, demo_city
) -> None:
    """``wangge pii expire --years N``: a dry run says what would go, ``--commit`` erases and
    audits (the demo's cases are all of this year: nothing to erase); the period is checked."""
    env = {"DATABASE_URL": database_url}
    counted = run("pii", "expire", "--years", "3", env=env)
    assert counted.exit_code == 0, counted.output
    assert "结案满 3 年" in counted.output and "加 --commit 执行" in counted.output
    assert "would be erased" in counted.output
    done = run("pii", "expire", "--years", "3", "--commit", env=env)
    assert done.exit_code == 0 and "人的姓名、电话、身份证号已删除" in done.output, done.output
    with engine.connect() as conn:
        detail = conn.execute(
            text("SELECT detail FROM audit_log WHERE action = 'pii.erase' ORDER BY id DESC")
        ).scalar()
    assert detail["years"] == 3 and detail["parties"] == 0
    assert run("pii", "expire", "--years", "0", env=env).exit_code != 0
    assert run("pii", "expire", env=env).exit_code != 0  # (no period: no default)


def test_demo_reset_puts_the_demo_back_and_touches_nothing_else(  # type: ignore[no-untyped-def]
    run, cluster: EmbeddedCluster, tmp_path: Path
) -> None:
    """After a trial or a training day, ``wangge demo reset --yes`` deletes the demo database
    and loads the demo again (the photo files no row names removed); without ``--yes`` it says
    what it would delete; a database holding more than the demo is refused and left whole."""
    name = f"wangge_reset_{uuid.uuid4().hex[:8]}"
    cluster.create_database(name)
    photos = tmp_path / "photos"
    env = {
        "DATABASE_URL": cluster.url(name),
        "WANGGE_DATA_DIR": str(cluster.data_dir),
        "WANGGE_APP_DB_PASSWORD": cluster.app_password(),
        "WANGGE_PII_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "WANGGE_PHOTO_DIR": str(photos),
    }
    engine = make_engine(cluster.url(name))
    counts = (
        "SELECT (SELECT count(*) FROM region), (SELECT count(*) FROM cases), "
        "(SELECT count(*) FROM case_party), (SELECT count(*) FROM app_user), "
        "(SELECT count(*) FROM grid_edit)"
    )
    try:
        loaded = run("demo", "reset", "--yes", "--size", "small", env=env)  # (empty: loads)
        assert loaded.exit_code == 0, loaded.output
        assert "示例市已载入" in loaded.output
        with engine.begin() as conn:
            as_loaded = conn.execute(text(counts)).one()
            assert as_loaded[1] > 100
            # a day of trials: cases rewritten, an account renamed, an edit set opened, a photo
            conn.execute(text("UPDATE cases SET description = '培训用' WHERE id % 7 = 0"))
            conn.execute(text("UPDATE app_user SET display_name = '改过' WHERE username = 'admin'"))
            conn.execute(text(
                "INSERT INTO grid_edit (title, created_by) VALUES ('试用', 'district_planner')"
            ))  # fmt: skip
        stray = photos / "ab" / ("ab" + "0" * 62 + ".jpg")
        stray.parent.mkdir(parents=True)
        stray.write_bytes(b"\xff\xd8 a photo of the trial")
        os.utime(stray, (time.time() - 7200, time.time() - 7200))
        said = run("demo", "reset", "--size", "small", env=env)
        assert said.exit_code == 1
        assert f"将删除数据库 {name}：示例市" in said.output and "确认请加 --yes" in said.output
        with engine.connect() as conn:  # (not yet)
            edits = conn.execute(text("SELECT count(*) FROM grid_edit")).scalar_one()
            assert edits == as_loaded[4] + 1
        reset = run("demo", "reset", "--yes", "--size", "small", env=env)
        assert reset.exit_code == 0, reset.output
        engine.dispose()  # (its connections were ended by the drop)
        with engine.begin() as conn:
            assert conn.execute(text(counts)).one() == as_loaded
            assert not conn.execute(
                text("SELECT count(*) FROM cases WHERE description = '培训用'")
            ).scalar_one()
            assert (
                conn.execute(
                    text("SELECT display_name FROM app_user WHERE username = 'admin'")
                ).scalar_one()
                != "改过"
            )
            # another city's regions beside the demo's: not the demo any more
            conn.execute(text("UPDATE region SET name = '某市' WHERE parent_id IS NULL"))
        assert not stray.exists()
        refused = run("demo", "reset", "--yes", "--size", "small", env=env)
        assert refused.exit_code == 1
        assert (
            f"数据库 {name} 中不只是示例市" in refused.output and "未做任何更改" in refused.output
        )
        with engine.connect() as conn:
            assert conn.execute(text(counts)).one() == as_loaded
        # an external database (not one of the cluster's) is never reset
        outside = run(
            "demo", "reset", "--yes", env=env | {"DATABASE_URL": "postgresql://u:p@db.example/w"}
        )
        assert outside.exit_code == 1 and "外部数据库" in outside.output
        english = run("demo", "reset", "--size", "small", env=env | {"LANG": "en_US.UTF-8"})
        assert english.exit_code == 1
        assert f"Database {name} holds more than the demo city" in english.output
    finally:
        engine.dispose()
        cluster.drop_database(name)


@pytest.mark.parametrize(
    "command",
    [(), ("db",), ("demo",), ("user",), ("report",), ("safety",), ("pii",), ("db", "photos"),
     ("pii", "expire"), ("demo", "reset"), ("import",)],
)  # fmt: skip
def test_the_help_reads_whole_at_80_columns(run, command: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    """At a terminal's 80 columns no line of the help is cut with "…" (a Chinese run too long to
    wrap: import's line in ``wangge --help``, four commands in their groups' lists), and a
    long paragraph is not broken into stubs where the docstring's lines ended ("without the",
    then a line of its own)."""
    result = run(*command, "--help", env={"COLUMNS": "80", "TERMINAL_WIDTH": "80"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    # (rich's cut: "…" straight after a character; the help's own "CSV/XLSX …" has a space)
    cut = [line for line in lines if re.search(r"\S…", line)]
    assert cut == [], cut
    words = [line.strip(" │") for line in lines if line.strip(" │")]
    stubs = [w for w in words if len(w) < 25 and w[:1].islower() and w.endswith(("the", "(PIPL:"))]
    assert stubs == [], stubs
