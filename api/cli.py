"""The ``wangge`` command."""

from __future__ import annotations

import functools
import inspect
import json
import os
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from api.usage import install as install_usage_words
from gis.english import one_said_once
from gis.errors import WanggeError
from gis.settings import Settings, get_settings

app = typer.Typer(
    help="网格 wangge — 综治中心网格化管理系统",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(
    help="嵌入式 PostGIS 数据库 (the embedded PostGIS cluster)", no_args_is_help=True
)
demo_app = typer.Typer(help="示例数据 (the demo city)", no_args_is_help=True)
user_app = typer.Typer(help="用户账号 (user accounts)", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(user_app, name="user")

F = TypeVar("F", bound=Callable[..., Any])


def _lang() -> str:
    from importers.core import env_lang  # (the importers' progress line says the same)

    return env_lang()


install_usage_words(lambda: _lang() != "en")  # Click's usage errors in Chinese (api.usage)


def reports_errors(fn: F) -> F:
    """Print a :class:`WanggeError` as a message (no traceback) and exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except WanggeError as e:
            typer.secho(e.localized(_lang()), fg=typer.colors.RED, err=True)
            raise typer.Exit(1) from e

    return wrapper  # type: ignore[return-value]


def _cluster(settings: Settings):  # type: ignore[no-untyped-def]
    from gis.embedded import EmbeddedCluster

    if settings.database_url:
        typer.secho("已设置 DATABASE_URL：使用外部数据库，不管理嵌入式集群。", err=True)
        raise typer.Exit(0)
    return EmbeddedCluster(settings.data_dir)


@db_app.command("start")
@reports_errors
def db_start() -> None:
    """启动嵌入式 PostGIS（当前目录或上级最近的 .wangge/；都没有时在当前目录创建）— start the
    embedded cluster (the nearest .wangge/ from here up; none: a new one here)."""
    cluster = _cluster(get_settings())
    new = not cluster.initialized
    cluster.start()
    if new:
        typer.echo(
            f"在 {cluster.data_dir} 新建了空的嵌入式集群（当前目录及其上级目录都没有 .wangge/；"
            "要用已有的集群，请在其目录下运行或设置 WANGGE_DATA_DIR）— created a new, empty "
            f"cluster in {cluster.data_dir}: no .wangge/ here or above (run from the checkout "
            "that has one, or set WANGGE_DATA_DIR)."
        )
    typer.echo(f"嵌入式 PostGIS 已运行：127.0.0.1:{cluster.port}（数据目录 {cluster.pgdata}）")


@db_app.command("stop")
@reports_errors
def db_stop() -> None:
    """停止嵌入式 PostGIS — stop the embedded cluster cleanly."""
    stopped = _cluster(get_settings()).stop()
    typer.echo("嵌入式 PostGIS 已停止。" if stopped else "嵌入式 PostGIS 没有运行。")


@db_app.command("status")
@reports_errors
def db_status() -> None:
    """嵌入式 PostGIS 状态 — whether it runs, where, on which port."""
    typer.echo(json.dumps(_cluster(get_settings()).status(), ensure_ascii=False, indent=2))


@db_app.command("url")
@reports_errors
def db_url() -> None:
    """打印数据库连接 URL — DATABASE_URL if set, else the embedded cluster's."""
    settings = get_settings()
    if settings.database_url:
        typer.echo(settings.database_url)
        return
    typer.echo(_cluster(settings).url())


def _summary_line(counts: dict[str, int]) -> str:
    names = {
        "region": "行政区划",
        "grid": "网格",
        "center": "综治中心",
        "worker": "网格员",
        "app_user": "账号",
        "cases": "案件",
        "case_event": "案件记录",
        "case_photo": "照片",
    }
    return "，".join(f"{names.get(t, t)} {n:,}" for t, n in counts.items())


@db_app.command("backup")
@reports_errors
def db_backup(
    path: Annotated[
        str | None,
        typer.Argument(
            help="the file to write, or a folder to write wangge-<time>.dump in (default: "
            "<data_dir>/backups/wangge-<time>.dump)"
        ),
    ] = None,
    keep: Annotated[
        int | None,
        typer.Option(help="then keep only the N newest wangge-<time>.dump beside it (for cron)"),
    ] = None,
) -> None:
    """备份整个数据库到一个文件（pg_dump 自定义格式，不含个人信息密钥）— back the whole database
    up to a file (pg_dump's custom format; the personal-data key is not in it)."""
    from pathlib import Path

    from gis import backup
    from gis.db import resolve_database_url

    settings = get_settings()
    target = Path(path) if path else backup.default_path(settings.data_dir)
    if target.is_dir():  # a folder for backups: a new file in it (and --keep prunes there)
        target = backup.file_in(target)
    if keep is not None and keep < 1:  # (refused before the backup, not after)
        backup.prune(target.parent, keep)
    done = backup.backup(resolve_database_url(settings), target)
    typer.echo(
        f"已备份到 {done.path}（{done.size / 1e6:.1f} MB）：{_summary_line(done.counts)}。\n"
        "当事人信息以密钥加密，密钥不在备份中：请把 pii.key（或 WANGGE_PII_KEY）另行妥善保存，"
        "恢复时需要它 — the personal-data key is not in the backup: keep pii.key (or "
        "WANGGE_PII_KEY) safe elsewhere; a restore needs it."
    )
    if keep is not None:
        for gone in backup.prune(target.parent, keep):
            typer.echo(f"已删除旧备份 {gone} — deleted the older backup {gone}")
    if done.counts.get("case_photo"):
        typer.echo(
            f"照片文件在 {settings.photos_path}，不在数据库备份中：请一并复制 — the photos' "
            f"files are in {settings.photos_path}, not in the database backup: copy them too."
        )


@db_app.command("recount")
@reports_errors
def db_recount() -> None:
    """重算由触发器维护的汇总（手工修复数据后使用）
    — count the roll-ups and each case's handling again from the cases.

    地图热力与网格日计数、待办各状态计数、按日统计指标、每件案件的办理情况；期间案件表暂停写入。
    The map's roll-ups, the in-tray's counts per state, the daily figures and each case's
    handling, after a repair by hand; the case tables wait meanwhile."""
    from gis.scope import Scope, bind_scope
    from importers.bulk import recount

    with _owner_session() as session:
        bind_scope(session, Scope.everything())
        corrected = recount(session)
    typer.echo(
        one_said_once(
            f"已重算地图汇总（热力、网格日计数）、待办各状态计数与统计指标；"
            f"{corrected} 件案件的办理情况已更正。 — the map roll-ups, the in-tray's counts and "
            f"the roll-up's figures were counted again; the handling of {corrected} cases was "
            "corrected."
        )
    )


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _photo_folder_lines(found: Any, pruned: bool) -> tuple[list[str], bool]:
    """What ``db photos`` (and a restore) says of :class:`gis.photo_files.FolderCheck`, and
    whether files are missing."""
    lines = [
        f"照片目录 {found.directory}：数据库记录的照片文件（含缩略图）{found.named:,} 个，"
        f"目录中有 {found.present:,} 个，缺失 {found.missing:,} 个；目录中无记录的文件 "
        f"{found.unnamed:,} 个（{_mb(found.unnamed_bytes)}）— the photo folder {found.directory}: "
        f"{found.named:,} files named by the database (pictures and thumbnails), "
        f"{found.present:,} there, {found.missing:,} missing; {found.unnamed:,} files no row "
        f"names ({_mb(found.unnamed_bytes)})."
    ]
    if found.missing:
        lines.append(
            "缺失文件的照片（打开时显示「照片文件缺失」），例如 — photos whose files are missing "
            "(they answer 410), for example:"
        )
        lines += [f"  {m.describe('zh')} — {m.describe('en')}" for m in found.examples]
        lines.append(
            f"请把原来的照片目录（备份时的 WANGGE_PHOTO_DIR）复制到 {found.directory} 后再检查 — "
            f"copy the original photo folder (WANGGE_PHOTO_DIR where the backup was made) to "
            f"{found.directory}, then check again."
        )
    if found.altered:
        lines.append(
            f"内容与校验值不符的照片 {found.altered:,} 张（文件在存储中被改动或损坏），例如 — "
            f"{found.altered:,} photos whose content no longer matches their checksum "
            "(changed or damaged on the disk), for example:"
        )
        lines += [f"  {m.describe('zh')} — {m.describe('en')}" for m in found.altered_examples]
        lines.append(
            "请从备份恢复这些文件 — restore these files from a backup of the photo folder."
        )
    if pruned:
        lines.append(
            f"已删除无记录的文件 {found.removed:,} 个，释放 {_mb(found.freed)}；"
            f"{found.unnamed - found.removed:,} 个保留（较新或已有记录）— removed "
            f"{found.removed:,} unnamed files, {_mb(found.freed)} freed; "
            f"{found.unnamed - found.removed:,} kept (recent, or named since)."
        )
    elif found.removable:
        lines.append(
            f"其中 {found.removable:,} 个已超过保留时间，可加 --prune 删除 — "
            f"{found.removable:,} of them are past the grace period: --prune removes them."
        )
    return [one_said_once(line) for line in lines], bool(found.missing or found.altered)


@db_app.command("photos")
@reports_errors
def db_photos(
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="remove the files no photo row names (a failed upload's, a killed writer's "
            "temporary ones), if older than --older-than",
        ),
    ] = False,
    older_than: Annotated[
        float,
        typer.Option(help="hours: files younger than this are never removed", min=0),
    ] = 1.0,  # (gis.photo_files.GRACE_HOURS)
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="also read every picture and check it against its checksum (slow: reads all)",
        ),
    ] = False,
) -> None:
    """核对照片目录与数据库（运行中可用）
    — check the photo folder against the database.

    缺失的照片文件（恢复后未复制目录）、无记录的文件（上传失败遗留），--prune 删除后者，
    --verify 逐张核对校验值 — files the database names that are missing (a restore without the
    folder), files no row names (left by failed uploads); --prune removes the latter; --verify
    checks each picture against its checksum.  Exit 1 when files are missing or altered."""
    from gis.photo_files import check_folder
    from gis.scope import Scope, bind_scope

    settings = get_settings()
    with _owner_session() as session:
        bind_scope(session, Scope.everything())
        found = check_folder(
            session, settings.photos_path, prune=prune, grace_hours=older_than, verify=verify
        )
    lines, missing = _photo_folder_lines(found, prune)
    typer.echo("\n".join(lines))
    if missing:
        raise typer.Exit(1)


@db_app.command("restore")
@reports_errors
def db_restore(
    path: Annotated[str, typer.Argument(help="a file written by wangge db backup")],
) -> None:
    """把备份恢复到空数据库（不覆盖现有数据），然后迁移到当前版本 — restore a backup into an
    empty database (never over data), then migrate it to this version."""
    from pathlib import Path

    from sqlalchemy.orm import Session

    from gis import backup
    from gis.db import make_engine, prepare_database, resolve_database_url
    from gis.embedded import DATABASE, EmbeddedCluster
    from gis.errors import DatabaseNotReady
    from gis.photo_files import check_folder
    from gis.pii import load_cipher
    from gis.scope import Scope, bind_scope

    settings = get_settings()
    url = resolve_database_url(settings)  # (the embedded cluster must be running)
    if not settings.database_url:
        EmbeddedCluster(settings.data_dir).create_database(DATABASE)
    done = backup.restore(url, Path(path))
    prepare_database(settings)
    typer.echo(f"已从 {done.path} 恢复并迁移到当前版本：{_summary_line(done.counts)}。")
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            try:
                load_cipher(settings, session)
            except DatabaseNotReady as e:
                typer.secho(e.localized(_lang()), fg=typer.colors.YELLOW, err=True)
            session.rollback()
            bind_scope(session, Scope.everything())
            found = check_folder(session, settings.photos_path)
    finally:
        engine.dispose()
    if found.named:  # the photos' files are not in the backup: are they here?
        lines, missing = _photo_folder_lines(found, pruned=False)
        typer.secho("\n".join(lines), fg=typer.colors.YELLOW if missing else None)


@app.command("migrate")
@reports_errors
def migrate_cmd() -> None:
    """执行数据库迁移（创建 PostGIS 扩展和全部表）— apply the migrations."""
    from gis.db import prepare_database

    prepare_database(get_settings())
    typer.echo("数据库迁移已完成。")


@demo_app.command("load")
@reports_errors
def demo_load(
    seed: Annotated[int, typer.Option(min=0, help="random seed: same seed, same city")] = 2026,
    size: Annotated[str, typer.Option(help="small | city")] = "city",
) -> None:
    """向空数据库载入虚构的示例市 — load the demo city into an empty database."""
    from gis.db import make_engine, resolve_database_url, session_scope
    from importers.demo import SIZES, generate_demo_city
    from importers.demo_load import load_demo_city

    if size not in SIZES:
        typer.secho(f"--size 只能是 {' | '.join(SIZES)}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    from gis.pii import load_cipher

    settings = get_settings()
    engine = make_engine(resolve_database_url(settings))
    with session_scope(engine) as session:
        city = generate_demo_city(seed=seed, size=size)
        report = load_demo_city(session, city, load_cipher(settings))
    typer.echo(report.summary(_lang()))


@demo_app.command("reset")
@reports_errors
def demo_reset(
    yes: Annotated[
        bool, typer.Option("--yes", help="delete and load again (default: say what)")
    ] = False,
    seed: Annotated[int, typer.Option(min=0, help="random seed: same seed, same city")] = 2026,
    size: Annotated[str, typer.Option(help="small | city")] = "city",
) -> None:
    """把示例市恢复到刚载入时（只用于示例数据）
    — put the demo city back as loaded (the demo's database only).

    删除示例数据库中的全部数据后重新载入 — deletes everything in the demo database, then loads
    the demo city again."""
    from importers.demo import SIZES
    from importers.demo_reset import inspect_demo, reset_demo

    if size not in SIZES:
        typer.secho(f"--size 只能是 {' | '.join(SIZES)}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    settings = get_settings()
    found = inspect_demo(settings)
    if not yes:
        typer.echo(
            f"将删除{found.describe()}，然后重新载入示例市。确认请加 --yes。"
            if _lang() == "zh"
            else f"Would delete {found.describe('en')}, then load the demo city again. "
            "Add --yes to do it."
        )
        raise typer.Exit(1)
    report = reset_demo(settings, seed=seed, size=size)
    typer.echo(report.summary(_lang()))


@app.command("serve")
@reports_errors
def serve(
    host: Annotated[str | None, typer.Option(help="default: WANGGE_HOST")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="default: WANGGE_PORT")] = None,
) -> None:
    """启动 Web 服务与 API（数据库须已运行并迁移）— serve the app and API."""
    import uvicorn
    from sqlalchemy.orm import Session

    from api.app import create_app
    from gis.db import check_app_role, check_database, make_engine, resolve_app_database_url
    from gis.pii import load_cipher

    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    engine = make_engine(resolve_app_database_url(settings))
    check_database(engine)
    check_app_role(engine)
    _check_address(host, port)
    with Session(engine) as session:  # the personal data's key, as the app checks it at start
        load_cipher(settings, session)
    engine.dispose()
    typer.echo(f"网格 wangge：http://{host}:{port}/ （API 文档 http://{host}:{port}/docs）")
    # (no "Server: uvicorn" header: which server answers is nobody else's business)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", server_header=False)


def _check_address(host: str, port: int) -> None:
    """That the app can listen on ``host``:``port`` (bound as uvicorn binds it), else a message
    that says what to do — not the server's own English error after the line that announces
    the address (a second ``make run``, or another program on the port)."""
    import errno

    from gis.embedded import bind_error

    e = bind_error(host, port)
    if e is None:
        return
    if e.errno == errno.EADDRINUSE:
        raise WanggeError(
            f"端口 {port} 已被占用，无法在 {host}:{port} 启动（wangge 可能已在运行："
            f"http://{host}:{port}/）。请先停止占用该端口的程序，或用 --port（环境变量 "
            "WANGGE_PORT）换一个端口。",
            f"Port {port} is in use: cannot serve on {host}:{port} (wangge may be running "
            f"already: http://{host}:{port}/). Stop the program that holds it, or choose "
            "another port with --port (WANGGE_PORT).",
        ) from e
    raise WanggeError(
        f"无法在 {host}:{port} 启动：{e.strerror or e}。请检查 --host（环境变量 WANGGE_HOST）"
        "是否为本机的地址。",
        f"Cannot serve on {host}:{port}: {e.strerror or e}. Check that --host (WANGGE_HOST) "
        "is an address of this machine.",
    ) from e


@app.command("up")
@reports_errors
def up(
    host: Annotated[str | None, typer.Option(help="default: WANGGE_HOST")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="default: WANGGE_PORT")] = None,
) -> None:
    """一键启动：数据库、迁移、（空库时）示例市、Web 服务 — start everything."""
    from gis.db import is_empty, make_engine, prepare_database, session_scope

    settings = get_settings()
    if not settings.database_url:
        db_start()
    url = prepare_database(settings)
    with session_scope(make_engine(url)) as session:
        empty = is_empty(session)
    if empty:
        typer.echo("数据库为空，正在载入示例市……")
        demo_load(seed=2026, size="city")
    else:
        _ensure_someone_can_log_in(url)
    serve(host=host, port=port)


def _ensure_someone_can_log_in(owner_url: str) -> None:
    """A database from before accounts existed: give the demo city its demo users, or say how
    to create the first account."""
    from sqlalchemy import text

    from gis.db import make_engine, session_scope
    from importers.demo_users import ensure_demo_users

    with session_scope(make_engine(owner_url)) as session:
        if ensure_demo_users(session):
            typer.echo("已为示例市创建示例账号（见 README）。")
            return
        if session.execute(text("SELECT EXISTS (SELECT 1 FROM app_user)")).scalar():
            return
    typer.secho(
        "数据库中还没有用户：请先创建管理员，例如\n"
        "  wangge user add admin --role admin --password-stdin",
        fg=typer.colors.YELLOW,
        err=True,
    )


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        import sys

        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("密码 (password)", hide_input=True, confirmation_prompt=True))


def _owner_session():  # type: ignore[no-untyped-def]
    from gis.db import make_engine, resolve_database_url, session_scope

    return session_scope(make_engine(resolve_database_url(get_settings())))


def _actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in this environment
        return "cli"


@user_app.command("add")
@reports_errors
def user_add(
    name: Annotated[str, typer.Argument(help="user name (letters, digits, _ . -)")],
    role: Annotated[str, typer.Option(help="grid_worker | operator | commander | planner | admin")],
    region: Annotated[str | None, typer.Option(help="region code; admins may omit it")] = None,
    worker: Annotated[str | None, typer.Option(help="grid workers: their worker code")] = None,
    display_name: Annotated[str | None, typer.Option(help="name shown in the app")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read it from stdin")
    ] = False,
) -> None:
    """新建用户 — add a user (the password is read from stdin or asked for, never an argument)."""
    from gis.permissions import Role

    try:
        role_value = Role(role)
    except ValueError:
        typer.secho(
            f"--role 只能是 {' | '.join(r.value for r in Role)}", fg=typer.colors.RED, err=True
        )
        raise typer.Exit(2) from None
    from gis.scope import Scope
    from gis.users import add_user, check_new_user, get_account

    with _owner_session() as session:  # (before the password is asked for)
        check_new_user(
            session, name, role_value, region_code=region, worker_code=worker,
            display_name=display_name,
        )  # fmt: skip
    password = _read_password(password_stdin)
    with _owner_session() as session:
        add_user(
            session,
            name,
            role_value,
            password,
            region_code=region,
            worker_code=worker,
            display_name=display_name,
            actor=_actor(),
        )
        grids = get_account(session, Scope.everything(), name).grids
    typer.echo(f"用户 {name} 已创建（{role_value.value}{'，' + region if region else ''}）。")
    if grids == 0:  # (made first, linked later: said, not refused)
        typer.secho(
            "注意：该网格员账号还没有负责的网格（未用 --worker 关联网格员档案，或档案中没有网格），"
            "上报会被拒绝；请在网格档案的「网格员配备」中为其配置网格。 (This grid worker's "
            "account has no grid yet — no --worker, or a worker with none — so their reports "
            "are refused until a grid's page assigns them some.)",
            fg=typer.colors.YELLOW,
        )


@user_app.command("passwd")
@reports_errors
def user_passwd(
    name: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read it from stdin")
    ] = False,
) -> None:
    """修改密码（并使该用户的所有会话失效）— change a password, ending the user's sessions."""
    from gis.auth import stored_name
    from gis.users import require_user, set_password

    with _owner_session() as session:  # (before the password is asked for)
        name = stored_name(session, name)
        require_user(session, name)
    password = _read_password(password_stdin)
    with _owner_session() as session:
        set_password(session, name, password, actor=_actor())
    typer.echo(f"用户 {name} 的密码已修改，原有登录已失效。")


def _change_user(name: str, change: str, done: str) -> None:
    import gis.users
    from gis.auth import stored_name

    with _owner_session() as session:
        name = stored_name(session, name)
        getattr(gis.users, f"{change}_user")(session, name, actor=_actor())
    typer.echo(f"用户 {name} {done}。")


@user_app.command("disable")
@reports_errors
def user_disable(name: str) -> None:
    """停用用户（并使其所有会话失效）— disable a user and end their sessions."""
    _change_user(name, "disable", "已停用")


@user_app.command("logout")
@reports_errors
def user_logout(name: str) -> None:
    """强制下线：使该用户在所有设备上的登录立即失效（账号不停用）— end every session of a user."""
    _change_user(name, "log_out", "的所有登录已失效")


@user_app.command("enable")
@reports_errors
def user_enable(name: str) -> None:
    """重新启用已停用的用户 — let a disabled user log in again."""
    _change_user(name, "enable", "已启用")


@user_app.command("unlock")
@reports_errors
def user_unlock(name: str) -> None:
    """解除登录失败造成的锁定 — end the lock after failed logins."""
    _change_user(name, "unlock", "已解除锁定")


@user_app.command("idle")
@reports_errors
def user_idle(
    days: Annotated[
        int, typer.Option(min=1, max=9999, help="unused for at least this many days")
    ] = 180,
    disable: Annotated[
        bool, typer.Option("--disable", help="disable them (administrators are only listed)")
    ] = False,
) -> None:
    """久未使用的账号（等保：及时停用多余、过期账户）：列出，或加 --disable 停用
    — accounts unused for DAYS days: listed, or disabled with --disable."""
    import gis.users
    from gis.scope import Scope

    with _owner_session() as session:
        if disable:
            done, kept = gis.users.disable_idle(session, days, actor=_actor())
            for name in done:
                typer.echo(f"已停用 {name}")
            for name in kept:
                typer.echo(f"未停用（系统管理员，请另行处理）{name}")
            typer.echo(
                f"{days} 天以上未使用：停用 {len(done)} 个账号，管理员 {len(kept)} 个未停用。"
            )
            return
        idle = gis.users.list_accounts(session, Scope.everything(), idle_days=days, limit=1_000_000)
        for a in idle:
            last = a.last_seen_at or a.created_at
            typer.echo(f"{a.username}\t{a.role.value}\t{a.region_code or '-'}\t{last:%Y-%m-%d}")
        typer.echo(f"{days} 天以上未使用的账号 {len(idle)} 个（加 --disable 停用）。")


@user_app.command("otp-reset")
@reports_errors
def user_otp_reset(name: str) -> None:
    """重置动态口令（手机丢失或更换）：关闭并使其所有会话失效 — turn a user's one-time code off."""
    import gis.users
    from gis.auth import stored_name

    with _owner_session() as session:
        name = stored_name(session, name)
        gis.users.reset_otp(session, name, actor=_actor())
    typer.echo(f"用户 {name} 的动态口令已重置，可凭密码登录后重新开启。")


@app.command("tick")
@reports_errors
def tick_cmd() -> None:
    """运行一次督办时钟（提醒函、督办函与自动上报、通报、核查提醒），可由 cron 调用
    — run the deadline clock once (safe to run twice or concurrently)."""
    from gis.figures import refresh
    from gis.safety import publish_due
    from gis.scope import Scope, bind_scope
    from gis.supervision import tick

    with _owner_session() as session:
        bind_scope(session, Scope.everything())
        report = tick(session)
    typer.echo(report.summary())
    with _owner_session() as session:  # on its own: a failure here keeps the letters sent
        bind_scope(session, Scope.everything())
        published = publish_due(session)
    if published:
        typer.echo(f"已发布昨日平安指数：{published} 个区划。")
    with _owner_session() as session:
        bind_scope(session, Scope.everything())
        refresh(session)


@app.command("import")
@reports_errors
def import_cmd(
    what: Annotated[str, typer.Argument(help="regions | grids | centers | workers | cases")],
    file: Annotated[str, typer.Argument(help="Shapefile, GeoPackage, GeoJSON, KML, CSV/XLSX …")],
    commit: Annotated[bool, typer.Option("--commit", help="write (default: a dry run)")] = False,
    encoding: Annotated[str | None, typer.Option(help="e.g. GBK for old DBFs")] = None,
    crs: Annotated[str | None, typer.Option(help="e.g. EPSG:4547 when the file has none")] = None,
    datum: Annotated[
        str | None,
        typer.Option(help="points: wgs84|cgcs2000|gcj02|bd09 (also GCJ-02, 高德, 百度 …)"),
    ] = None,
    code_field: Annotated[str | None, typer.Option("--code-field")] = None,
    name_field: Annotated[str | None, typer.Option("--name-field")] = None,
    parent_field: Annotated[str | None, typer.Option("--parent-field")] = None,
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            help="ROLE=COLUMN, repeatable: which column holds what, e.g. --field 经度=X坐标 "
            "--field reported_at=发生时间 (roles as the report names them, or their usual "
            "Chinese names)",
        ),
    ] = None,
    level: Annotated[str | None, typer.Option(help="city|district|township|village")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="any problem is fatal")] = False,
    bulk: Annotated[
        bool,
        typer.Option(
            "--bulk",
            help="cases, first loads: lock the case tables for the import and rebuild their "
            "indexes and map roll-ups once after (faster; reports and maps wait meanwhile). "
            "A file adding under a quarter of the stored cases is imported the normal way",
        ),
    ] = False,
    tolerance_m2: Annotated[float, typer.Option(help="overlap/gap tolerance, m²")] = 100.0,
    report: Annotated[str | None, typer.Option("--report", help="write the JSON report")] = None,
    passwords: Annotated[
        str | None,
        typer.Option("--passwords", help="workers: CSV for new accounts' initial passwords (0600)"),
    ] = None,
) -> None:
    """导入区划、网格、中心、网格员或历史案件（默认试运行，加 --commit 写入）
    — import boundaries, rosters or case history (a dry run unless --commit; idempotent)."""
    from pathlib import Path

    from gis.errors import InvalidInput
    from importers.run import ImportRequest, check_request, run_import

    req = ImportRequest(
        what=what, commit=commit, encoding=encoding, crs=crs, datum=datum,
        code_field=code_field, name_field=name_field, parent_field=parent_field, fields=field,
        level=level, strict=strict, bulk=bulk, tolerance_m2=tolerance_m2,
        passwords=Path(passwords) if passwords else None,
    )  # fmt: skip
    try:
        check_request(req)
        if report:  # (before the import, not after a commit: a folder that is not there)
            _writable(Path(report), "--report")
    except InvalidInput as e:  # the command line itself: a usage error
        typer.secho(e.localized(_lang()), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from e
    with _owner_session() as session:
        result = run_import(session, Path(file), req)
    typer.echo(result.summary(_lang()))
    if report:
        try:
            Path(report).write_text(result.to_json(), encoding="utf-8")
        except OSError as e:
            typer.secho(
                f"导入已完成（见上），但无法写入报告 {report}：{e.strerror or e}。"
                if _lang() == "zh"
                else f"The import is done (above), but the report could not be written to "
                f"{report}: {e.strerror or e}.",
                fg=typer.colors.RED,
                err=True,
            )
            raise typer.Exit(1) from e


def _writable(path: Path, option: str) -> None:
    """A usage error unless a file ``path`` can be written: its folder there and writable, and
    it no folder itself."""
    from gis.errors import InvalidInput

    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK):
        reason = "是一个目录" if path.is_dir() else f"所在目录 {folder} 不存在或不可写"
        reason_en = (
            "is a folder" if path.is_dir() else f"its folder {folder} is missing or not writable"
        )
        raise InvalidInput(
            f"{option} {path} {reason}，请换一个可写的位置。",
            f"{option} {path}: {reason_en}; choose a writable place.",
            field=option,
        )


@app.command("export")
@reports_errors
def export_cmd(
    what: Annotated[str, typer.Argument(help="regions | grids | centers")],
    file: Annotated[
        str, typer.Argument(help="the file to write: .gpkg, .geojson, .kml, .shp or .zip (shp)")
    ],
    region: Annotated[
        str | None, typer.Option(help="only what lies in this region 区划代码 (default: all)")
    ] = None,
    crs: Annotated[
        str | None, typer.Option(help="e.g. EPSG:4490 or EPSG:4547 (default: WGS 84)")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="grids: the layout valid then, YYYY-MM-DD[THH:MM]"),
    ] = None,
) -> None:
    """导出区划、网格或综治中心为 GIS 文件（可原样导回）
    — write regions, grids or centers as a GIS file that imports back unchanged."""
    from datetime import datetime
    from pathlib import Path

    from gis.scope import Scope, bind_scope
    from gis.worktime import SHANGHAI
    from importers.export import export_layer

    at = None
    if as_of:
        try:
            at = datetime.fromisoformat(as_of)
        except ValueError:
            typer.secho(
                f"--as-of 须为 YYYY-MM-DD 或 YYYY-MM-DDTHH:MM，收到 {as_of!r} (--as-of must be "
                "YYYY-MM-DD or YYYY-MM-DDTHH:MM)",
                fg=typer.colors.RED,
                err=True,
            )
            raise typer.Exit(2) from None
        if at.tzinfo is None:
            at = at.replace(tzinfo=SHANGHAI)
    with _owner_session() as session:
        bind_scope(session, Scope.everything())
        done = export_layer(
            session, Scope.everything(), what, Path(file), region=region, crs=crs, as_of=at
        )
    typer.echo(done.summary(_lang()))


def _date_option(value: str, option: str = "--date") -> date:
    """``option``'s day, or a clear error and exit status 2."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        typer.secho(
            f"{option} 须为 YYYY-MM-DD，收到 {value!r} ({option} must be YYYY-MM-DD)",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(2) from None


#: what a file's name ends in, not a folder's: ``--out 日报.xlsx`` made a folder of that name
_FILE_SUFFIXES = (".xlsx", ".xls", ".html", ".htm", ".csv", ".pdf")


def _out_dir(out: str) -> Path:
    """``--out``, the folder the report's two files (xlsx and html) go to, or a clear error
    and exit status 2 when it names a file."""
    path = Path(out)
    if (path.exists() and not path.is_dir()) or (
        not path.exists() and path.suffix.lower() in _FILE_SUFFIXES
    ):
        typer.secho(
            f"--out 是文件夹（写出 xlsx 与 html 两个文件，文件名含区划与日期），收到文件名 "
            f"{out!r}：请给出文件夹，如 --out 报表 (--out is a folder for the two files, "
            "xlsx and html, named by region and date; give a folder, e.g. --out reports)",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(2)
    return path


def _report_language(lang: str | None) -> str:
    """``--lang`` (default: from LANG, else Chinese), or a clear error and exit status 2."""
    language = (lang or _lang()).lower()
    if language not in ("zh", "en"):
        typer.secho(
            f"--lang 须为 zh 或 en，收到 {lang!r} (--lang must be zh or en)",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(2)
    return language


report_app = typer.Typer(help="报表 — reports", no_args_is_help=True)
app.add_typer(report_app, name="report")


@report_app.command("daily")
@reports_errors
def report_daily(
    region: Annotated[str, typer.Option("--region", help="region code 区划代码")],
    date_: Annotated[
        str | None,
        typer.Option("--date", help="YYYY-MM-DD (Asia/Shanghai; default: yesterday)"),
    ] = None,
    out: Annotated[
        str, typer.Option(help="output folder (its two files are named by region and day)")
    ] = ".",
    lang: Annotated[
        str | None,
        typer.Option(help="zh | en: the files' language (default: from LANG, else Chinese)"),
    ] = None,
    children: Annotated[
        bool,
        typer.Option(
            "--children",
            help="each child region's roll-up too (每日一上报: a district's for each township)",
        ),
    ] = False,
) -> None:
    """写出每日一汇总（xlsx 与可打印的 HTML）— the daily roll-up as a spreadsheet and a page."""

    from sqlalchemy import text

    from gis.report import daily_report
    from gis.scope import Scope, bind_scope

    language = _report_language(lang)
    out_dir = _out_dir(out)
    from gis.worktime import report_day

    day = report_day(_date_option(date_) if date_ else None)  # (not a day still to come)
    with _owner_session() as session:
        bind_scope(session, Scope.everything())
        reports = [daily_report(session, Scope.everything(), region, day, out_dir, language)]
        if children:  # (every child region, whether it had cases that day or not)
            child_codes = session.execute(
                text("""SELECT c.code FROM region c JOIN region p ON p.id = c.parent_id
                        WHERE p.code = :code ORDER BY c.code"""),
                {"code": reports[0].today.region},
            ).scalars()
            reports += [
                daily_report(session, Scope.everything(), code, day, out_dir, language)
                for code in list(child_codes)
            ]
    for report in reports:
        total = report.today.total
        typer.echo(
            f"{report.today.region_name} {day}: {total.cases} received, {total.resolved} "
            f"resolved. Written: {report.xlsx} and {report.html}"
            if language == "en"
            else f"{report.today.region_name} {day}：受理 {total.cases} 件，"
            f"办结 {total.resolved} 件。已写出 {report.xlsx} 和 {report.html}"
        )


@report_app.command("period")
@reports_errors
def report_period(
    region: Annotated[str, typer.Option("--region", help="region code 区划代码")],
    start: Annotated[
        str | None,
        typer.Option(help="first day, YYYY-MM-DD (default: last month's first; for cron)"),
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="last day, included (default: last month's last)")
    ] = None,
    rank: Annotated[
        str, typer.Option(help="the figure to rank the child regions by (on_time_rate, …)")
    ] = "on_time_rate",
    out: Annotated[
        str, typer.Option(help="output folder (its two files are named by region and day)")
    ] = ".",
    lang: Annotated[
        str | None,
        typer.Option(help="zh | en: the files' language (default: from LANG, else Chinese)"),
    ] = None,
) -> None:
    """写出统计排名（xlsx 与可打印的 HTML；默认上月，用于月度考核通报）— a period's figures with
    the child regions ranked, as a spreadsheet and a page (last month by default)."""
    from datetime import datetime, timedelta

    from gis.ranking import rank_by, ranking_report
    from gis.scope import Scope, bind_scope
    from gis.worktime import SHANGHAI, report_day

    language = _report_language(lang)
    out_dir = _out_dir(out)
    by = rank_by(rank)
    last_month_end = datetime.now(SHANGHAI).date().replace(day=1) - timedelta(days=1)
    last = report_day(_date_option(end, "--end"), "end") if end else last_month_end
    first = report_day(_date_option(start, "--start"), "start") if start else last.replace(day=1)
    with _owner_session() as session:
        bind_scope(session, Scope.everything())
        r, xlsx, html = ranking_report(
            session, Scope.everything(), region, first, last, by, out_dir, language
        )
    total, top = r.stats.total, [row.name for row in r.rows if row.place == 1]
    figure = r.by.column.header(language)
    typer.echo(
        f"{r.stats.region_name} {first} to {last}: {total.cases} received; first by {figure}: "
        f"{', '.join(top) or '—'}. Written: {xlsx} and {html}"
        if language == "en"
        else f"{r.stats.region_name} {first} 至 {last}：受理 {total.cases} 件；{figure}第一："
        f"{'、'.join(top) or '—'}。已写出 {xlsx} 和 {html}"
    )


safety_app = typer.Typer(help="平安指数 — the safety index", no_args_is_help=True)
app.add_typer(safety_app, name="safety")


@safety_app.command("publish")
@reports_errors
def safety_publish(
    date_: Annotated[
        str | None, typer.Option("--date", help="YYYY-MM-DD, the last day (default: yesterday)")
    ] = None,
    days: Annotated[int, typer.Option(help="this many days up to --date", min=1, max=366)] = 1,
) -> None:
    """发布平安指数（已发布的日期不变），用于补发 — publish the safety index of a day, or of the
    days up to it (a day published already stays as it was)."""
    from datetime import timedelta

    from gis.safety import first_day, publish
    from gis.scope import Scope, bind_scope
    from gis.worktime import report_day

    last = report_day(_date_option(date_) if date_ else None)
    with _owner_session() as session:
        first = first_day(session)
    start = last - timedelta(days=days - 1)
    if first is not None and start < first <= last:  # (the days before it have no index)
        typer.echo(
            f"{start} 至 {first - timedelta(days=1)} 早于本系统最早的数据，跳过 "
            f"(before the system's first data: skipped)"
        )
        start = first
    for back in range((last - start).days, -1, -1):
        day = last - timedelta(days=back)
        with _owner_session() as session:
            bind_scope(session, Scope.everything())
            n = publish(session, day)
        typer.echo(
            f"{day}：已发布 {n} 个区划 ({n} regions published)"
            if n
            else f"{day}：此前已发布，未改变 (published before; unchanged)"
        )


pii_app = typer.Typer(
    help="当事人个人信息 — residents' personal data (the parties to cases)", no_args_is_help=True
)
app.add_typer(pii_app, name="pii")


@pii_app.command("expire")
@reports_errors
def pii_expire(
    years: Annotated[
        int,
        typer.Option(
            help="the retention period: cases closed longer ago than this lose their parties' "
            "names, phones and ID numbers (as the deployment's rules say)",
            min=1,
            max=100,
        ),
    ],
    commit: Annotated[
        bool, typer.Option("--commit", help="erase (without it: count what would be erased)")
    ] = False,
) -> None:
    """删除结案满 N 年的案件当事人的个人信息（默认只统计）
    — erase the personal data of parties to cases closed N years ago (a dry run by default).

    姓名、电话、身份证号（个人信息保护法：到期删除）；加 --commit 执行，记入审计日志 — the
    names, phones and ID numbers of the parties to cases closed more than N years ago (PIPL:
    erase when the retention period is over); --commit erases, audited.  For a nightly cron."""
    from gis.pii_expiry import expire
    from gis.scope import Scope, bind_scope

    with _owner_session() as session:
        bind_scope(session, Scope.everything())
        found = expire(session, years, commit=commit, actor=_actor())
    typer.echo(f"{found.summary('zh')}\n{found.summary('en')}")


def _reflowed(doc: str) -> str:
    """A command's help as its docstring, each paragraph after the first one line: Typer keeps
    a docstring's line breaks there, and a line wrapped at 100 characters in the source broke
    again at the terminal's width, leaving a stub of a line.  (The first paragraph's breaks stay:
    in the lists of commands, the Chinese line and its English each start a line.)  Lines join
    with a space, but none between Chinese characters."""
    from gis.report import column_width  # (2 for a wide character: Chinese, full-width)

    first, *rest = doc.split("\n\n")
    joined = []
    for paragraph in rest:
        text = ""
        for line in paragraph.splitlines():
            line = line.strip()
            wide = bool(text) and column_width(text[-1]) == 2
            space = (
                ""
                if not text
                or (wide and (column_width(line[:1]) == 2 or text[-1] in "，。；：、）"))
                else " "
            )
            text += space + line
        joined.append(text)
    return "\n\n".join([first, *joined])


for _app in [app, *(group.typer_instance for group in app.registered_groups)]:
    for _command in _app.registered_commands if _app is not None else []:
        if _command.help is None and _command.callback is not None:
            _command.help = _reflowed(inspect.getdoc(_command.callback) or "")


def main() -> None:  # pragma: no cover - console entry point
    app()
