"""Engines, sessions, migrations and the start-up safety checks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from gis.embedded import EmbeddedCluster
from gis.errors import DatabaseNotReady
from gis.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_DURABLE_SYNC_COMMIT = {"on", "local", "remote_write", "remote_apply"}


def resolve_database_url(settings: Settings) -> str:
    """``DATABASE_URL`` if set, else the embedded cluster's URL (which must be running)."""
    if settings.database_url:
        return settings.database_url
    cluster = EmbeddedCluster(settings.data_dir)
    if not cluster.is_running():
        raise DatabaseNotReady(
            f"嵌入式数据库（{cluster.data_dir}）没有运行："
            "请运行 `wangge db start`（或 `make run`），"
            "或设置 DATABASE_URL 指向现有的 PostGIS。",
            f"The embedded database ({cluster.data_dir}) is not running: run `wangge db start` "
            "(or `make run`), or set DATABASE_URL to an existing PostGIS.",
        )
    return cluster.url()


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (psycopg 3).  Sessions use UTC; display converts to Asia/Shanghai."""
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        connect_args={"options": "-c timezone=UTC"},
    )


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on error (CLI use)."""
    session = make_sessionmaker(engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def check_database(engine: Engine) -> dict[str, str]:
    """Refuse to run on a database that would lose or misplace data.

    Checks that PostGIS is installed in the database and that ``fsync`` and
    ``synchronous_commit`` are on.  Returns what it found; raises :class:`DatabaseNotReady`.
    """
    try:
        with engine.connect() as conn:
            postgis = conn.execute(
                text("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
            ).scalar()
            fsync = conn.execute(text("SHOW fsync")).scalar()
            sync_commit = conn.execute(text("SHOW synchronous_commit")).scalar()
    except Exception as e:  # connection refused, bad password, unknown database …
        raise DatabaseNotReady(
            f"无法连接数据库：{e.__class__.__name__}: {str(e).strip().splitlines()[0]}",
            f"Cannot connect to the database: {e.__class__.__name__}: "
            f"{str(e).strip().splitlines()[0]}",
        ) from e
    if not postgis:
        raise DatabaseNotReady(
            "数据库中没有 PostGIS 扩展：请运行 `wangge migrate`（第一个迁移会创建它；"
            "服务器需安装 postgresql-15-postgis-3）。",
            "PostGIS is not installed in the database: run `wangge migrate` (the first migration "
            "creates it; the server needs postgresql-15-postgis-3).",
        )
    if fsync != "on":
        raise DatabaseNotReady(
            "数据库 fsync 已关闭，断电会丢失已受理的案件：请在 postgresql.conf 中设置 fsync = on。",
            "The database runs with fsync off; a power cut would lose accepted cases: "
            "set fsync = on in postgresql.conf.",
        )
    if sync_commit not in _DURABLE_SYNC_COMMIT:
        raise DatabaseNotReady(
            f"数据库 synchronous_commit = {sync_commit}，已确认的案件可能丢失："
            "请设置 synchronous_commit = on。",
            f"The database runs with synchronous_commit = {sync_commit}; acknowledged cases could "
            "be lost: set synchronous_commit = on.",
        )
    return {"postgis": str(postgis), "fsync": fsync, "synchronous_commit": sync_commit}


def _alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Apply the alembic migrations up to ``revision``."""
    from alembic import command

    command.upgrade(_alembic_config(url), revision)


def migrate_connection(conn: Connection, revision: str = "head") -> None:
    """Apply migrations on an existing connection (inside the caller's transaction)."""
    from alembic import command

    cfg = _alembic_config(str(conn.engine.url.render_as_string(hide_password=False)))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


def is_empty(session: Session) -> bool:
    """True when no region has been loaded yet."""
    return not session.execute(text("SELECT EXISTS (SELECT 1 FROM region)")).scalar()
