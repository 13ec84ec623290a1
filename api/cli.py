"""The ``wangge`` command."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

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
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")

F = TypeVar("F", bound=Callable[..., Any])


def _lang() -> str:
    return "en" if os.environ.get("LANG", "").lower().startswith("en") else "zh"


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
    """启动嵌入式 PostGIS（首次运行时创建于 ./.wangge/）— start the embedded cluster."""
    cluster = _cluster(get_settings())
    cluster.start()
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


@app.command("migrate")
@reports_errors
def migrate_cmd() -> None:
    """执行数据库迁移（创建 PostGIS 扩展和全部表）— apply the migrations."""
    from gis.db import migrate, resolve_database_url

    migrate(resolve_database_url(get_settings()))
    typer.echo("数据库迁移已完成。")


@demo_app.command("load")
@reports_errors
def demo_load(
    seed: Annotated[int, typer.Option(help="random seed: same seed, same city")] = 2026,
    size: Annotated[str, typer.Option(help="small | city")] = "city",
) -> None:
    """向空数据库载入虚构的示例市 — load the demo city into an empty database."""
    from gis.db import make_engine, resolve_database_url, session_scope
    from importers.demo import SIZES, generate_demo_city
    from importers.demo_load import load_demo_city

    if size not in SIZES:
        typer.secho(f"--size 只能是 {' | '.join(SIZES)}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    engine = make_engine(resolve_database_url(get_settings()))
    with session_scope(engine) as session:
        report = load_demo_city(session, generate_demo_city(seed=seed, size=size))
    typer.echo(report.summary())


@app.command("serve")
@reports_errors
def serve(
    host: Annotated[str | None, typer.Option(help="default: WANGGE_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default: WANGGE_PORT")] = None,
) -> None:
    """启动 Web 服务与 API（数据库须已运行并迁移）— serve the app and API."""
    import uvicorn

    from api.app import create_app
    from gis.db import check_database, make_engine, resolve_database_url

    settings = get_settings()
    check_database(make_engine(resolve_database_url(settings)))
    host, port = host or settings.host, port or settings.port
    typer.echo(f"网格 wangge：http://{host}:{port}/ （API 文档 http://{host}:{port}/docs）")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


@app.command("up")
@reports_errors
def up(
    host: Annotated[str | None, typer.Option(help="default: WANGGE_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default: WANGGE_PORT")] = None,
) -> None:
    """一键启动：数据库、迁移、（空库时）示例市、Web 服务 — start everything."""
    from gis.db import is_empty, make_engine, migrate, resolve_database_url, session_scope

    settings = get_settings()
    if not settings.database_url:
        db_start()
    url = resolve_database_url(settings)
    migrate(url)
    with session_scope(make_engine(url)) as session:
        empty = is_empty(session)
    if empty:
        typer.echo("数据库为空，正在载入示例市……")
        demo_load(seed=2026, size="city")
    serve(host=host, port=port)


def main() -> None:  # pragma: no cover - console entry point
    app()
