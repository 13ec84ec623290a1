"""Engines, sessions, migrations and the start-up safety checks."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from time import monotonic
from types import ModuleType
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc, make_url, text
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from gis.embedded import APP_ROLE, EmbeddedCluster
from gis.errors import DatabaseNotReady
from gis.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def earlier_migration(name: str) -> ModuleType:
    """An earlier migration's module, by its file name under ``migrations/versions`` (a name
    that starts with a digit cannot be imported plainly): for a migration that builds on the
    SQL text of one before it."""
    spec = importlib.util.spec_from_file_location(
        f"wangge_migration_{name[:4]}", MIGRATIONS_DIR / "versions" / name
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_DURABLE_SYNC_COMMIT = {"on", "local", "remote_write", "remote_apply"}


def resolve_database_url(settings: Settings) -> str:
    """The owner's connection: ``DATABASE_URL`` if set, else the embedded cluster's superuser.

    Used for migrations, the command line and importers — never for serving requests.
    """
    if settings.database_url:
        return settings.database_url
    return _running_cluster(settings).url()


def resolve_app_database_url(settings: Settings) -> str:
    """The application's connection, as ``wangge_app`` (no table owner, no BYPASSRLS)."""
    if not settings.database_url:
        return _running_cluster(settings).url(app=True)
    if not settings.app_db_password:
        raise DatabaseNotReady(
            "使用外部数据库时须设置 WANGGE_APP_DB_PASSWORD（应用角色 wangge_app 的密码），"
            "并运行 `wangge migrate` 使其生效。",
            "With an existing database, set WANGGE_APP_DB_PASSWORD (the password of the app role "
            "wangge_app) and run `wangge migrate` to apply it.",
        )
    return (
        make_url(settings.database_url)
        .set(username=APP_ROLE, password=settings.app_db_password)
        .render_as_string(hide_password=False)
    )


def app_role_password(settings: Settings) -> str | None:
    """The password ``wangge migrate`` gives ``wangge_app`` (None: leave the role as it is)."""
    if settings.database_url:
        return settings.app_db_password
    return EmbeddedCluster(settings.data_dir).app_password()


def libpq_url(url: str) -> str:
    """``url`` (SQLAlchemy's ``postgresql+psycopg://…``) as libpq and psycopg take it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def enable_app_login(owner_url: str, password: str) -> None:
    """Let ``wangge_app`` log in with ``password`` (the role itself comes from migration 0002)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(libpq_url(owner_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(
                sql.Identifier(APP_ROLE), sql.Literal(password)
            )
        )


def prepare_database(settings: Settings) -> str:
    """Migrate to head and enable the app role's login.  Returns the owner's URL."""
    url = resolve_database_url(settings)
    migrate(url)
    sync_working_calendar(url)
    password = app_role_password(settings)
    if password:
        enable_app_login(url, password)
    return url


def sync_working_calendar(url: str) -> int:
    """Bring the working-day calendar up to the installed ``chinese_calendar`` (a newer library
    knows next year's holidays); returns the days changed."""
    from gis.figures import mark_all
    from gis.worktime import sync_calendar

    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            changed = sync_calendar(session)
            if changed:  # the handling hours count working time: every day's figures again
                mark_all(session)
            return changed
    finally:
        engine.dispose()


def _running_cluster(settings: Settings) -> EmbeddedCluster:
    cluster = EmbeddedCluster(settings.data_dir)
    if not cluster.is_running():
        raise DatabaseNotReady(
            f"嵌入式数据库（{cluster.data_dir}）没有运行："
            "请运行 `wangge db start`（或 `make run`），"
            "或设置 DATABASE_URL 指向现有的 PostGIS。",
            f"The embedded database ({cluster.data_dir}) is not running: run `wangge db start` "
            "(or `make run`), or set DATABASE_URL to an existing PostGIS.",
        )
    return cluster


# A pooled connection used less than this long ago is handed out without a ping (see make_engine).
PING_AFTER_IDLE_S = 5.0
#: how long to wait for the database to answer a new connection
CONNECT_TIMEOUT_S = 10


def make_engine(
    url: str, pool_size: int = 20, pool_timeout: float = 30, verify_hours: float | None = None
) -> Engine:
    """An engine for ``url`` (psycopg 3).  Sessions use UTC; display converts to Asia/Shanghai.

    The pool keeps ``pool_size`` connections and opens none beyond them.  Overflow connections
    (SQLAlchemy's default: 10 more, closed when given back while the pool is full) were opened
    and closed all through a load: the benchmark's 32 clients made ~1,000 PostgreSQL sessions in
    10 s, each paying a login and a cold plan cache.  A caller finding all in use waits up to
    ``pool_timeout`` seconds, then gets ``sqlalchemy.exc.TimeoutError`` (the API answers 503).

    A connection taken from the pool is pinged first when it has been idle for
    ``PING_AFTER_IDLE_S`` or more, and replaced if the ping fails (the database restarted, a
    firewall dropped it).  SQLAlchemy's ``pool_pre_ping`` pings at every checkout: one more round
    trip per request, for connections that served a request milliseconds ago.  A connection
    broken within the last seconds still fails its next statement, and SQLAlchemy then
    discards the whole pool.

    ``verify_hours``: the working hours a resolved case is to be verified in
    (``Settings.verify_work_days``), for the trigger that sets its ``verify_due`` (unset: its
    own default, 24).
    """
    options = "-c timezone=UTC"
    if verify_hours is not None:
        options += f" -c wangge.verify_hours={float(verify_hours)!r}"
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=pool_timeout,
        # a database host that does not answer (not one that refuses): the request fails
        # (503) after 10 s, not after the system's TCP timeout of minutes
        connect_args={"options": options, "connect_timeout": CONNECT_TIMEOUT_S},
        # a failed statement's message (an error's traceback in the server's log) leaves out
        # its parameters: they carry residents' words and numbers (a description, a phone)
        hide_parameters=True,
    )
    dialect = engine.dialect

    def checked_in(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = monotonic()

    def checkout(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is not None and monotonic() - idle_since < PING_AFTER_IDLE_S:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as e:
            raise exc.DisconnectionError(f"stale pooled connection: {e}") from e

    event.listen(engine, "checkin", checked_in)
    event.listen(engine, "checkout", checkout)
    return engine


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
            unreachable=True,
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


def check_app_role(engine: Engine) -> None:
    """Refuse to serve as a role that would slip past row-level security."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT current_user, rolsuper OR rolbypassrls FROM pg_roles "
                "WHERE rolname = current_user"
            )
        ).one()
    if row[1]:
        raise DatabaseNotReady(
            f"应用以角色 {row[0]} 连接数据库，它可以绕过行级安全：应用必须以 wangge_app 连接。",
            f"The app connects as {row[0]}, which bypasses row-level security: it must connect "
            "as wangge_app.",
        )


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


#: for a transaction that writes events or ratings by the thousand (the demo's load, an import):
#: the triggers that keep each case's handling (migration 0062) pass its rows by, and the writer
#: fills the columns itself, a set at a time (``wangge_case_handled_refresh``, migration 0064)
HANDLED_LATER = "SET LOCAL wangge.handled_later = 'on'"
#: … and back to the triggers, for what the transaction writes after its refresh
HANDLED_NOW = "SET LOCAL wangge.handled_later = 'off'"


def is_empty(session: Session) -> bool:
    """True when no region has been loaded yet."""
    return not session.execute(text("SELECT EXISTS (SELECT 1 FROM region)")).scalar()


def like_containing(words: str) -> str:
    """A LIKE pattern for text that holds ``words`` as written: their ``%``, ``_`` and
    backslashes escaped (LIKE's default escape is the backslash)."""
    return "%" + re.sub(r"([%_\\])", r"\\\1", words) + "%"


# a ``:name`` bind as ``text()`` reads it (not the second colon of a ``::`` cast)
_BIND = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def execute_arrays(session: Session, statement: str, params: dict[str, Any]) -> CursorResult[Any]:
    """Run ``statement`` (binds written ``:name``, as for ``text()``) with its list parameters
    sent as arrays in PostgreSQL's binary format, the others as usual.

    psycopg sends a list in the text format unless told otherwise, spelling its elements one by
    one in Python (escaping each ``bytea``) for the server to parse again: a statement taking
    the 17 arrays of a 500-report batch, and doing nothing else, took 28.8 ms a round trip that
    way and 5.7 ms in binary."""

    def placeholder(m: re.Match[str]) -> str:
        name = m.group(1)
        return f"%({name})b" if isinstance(params[name], list) else f"%({name})s"

    sql = _BIND.sub(placeholder, statement.replace("%", "%%"))
    return session.connection().exec_driver_sql(sql, params)
