"""Backups: ``wangge db backup`` and ``wangge db restore``.

A backup is ``pg_dump``'s custom format of the whole database (every table, function, policy
and grant; ``pg_restore --list FILE`` shows what is in it), written next to its final name and
renamed there only when complete: a backup that failed half-way never looks like a good one.

A restore goes into an *empty* database only — the embedded cluster's own, created if missing,
or ``DATABASE_URL``'s — in one transaction (``--single-transaction``): a failure leaves it empty.
It never overwrites: to go back to a backup, stop the server, rename or drop the database, and
restore.  The app role ``wangge_app`` is a cluster's, not a database's: it is created first if
the cluster has none.  The migrations then bring an older backup up to the running version; one
made by a newer wangge (a migration this one lacks) is refused before anything is written.

The photos' files (``WANGGE_PHOTO_DIR``, default ``<data_dir>/photos``) are not in the database
and not in its backup: the command says where they are when the database has any.

The personal data of the parties is encrypted with the key in ``<data_dir>/pii.key`` (or
``WANGGE_PII_KEY``), which is *not* in the backup, by design: keep the key apart from the
backups.  After a restore the key is tried on a stored party, and the command says so when it
does not fit (the server would refuse to start with it).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import make_url

from gis.db import libpq_url
from gis.embedded import APP_ROLE, find_bindir
from gis.errors import Conflict, DatabaseNotReady, InvalidInput
from gis.worktime import SHANGHAI

#: what the summary counts
COUNTED = ("region", "grid", "center", "worker", "app_user", "cases", "case_event", "case_photo")


@dataclass
class Summary:
    """What a backup holds or a restore brought back."""

    path: Path
    size: int
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def default_path(data_dir: str | Path) -> Path:
    """``<data_dir>/backups/wangge-YYYYmmdd-HHMMSS.dump`` (Asia/Shanghai)."""
    return file_in(Path(data_dir) / "backups")


def file_in(folder: Path) -> Path:
    """A new backup's file in ``folder``: ``wangge-YYYYmmdd-HHMMSS.dump`` (Asia/Shanghai), the
    names :func:`prune` knows."""
    stamp = datetime.now(SHANGHAI).strftime("%Y%m%d-%H%M%S")
    return folder / f"wangge-{stamp}.dump"


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest ``wangge-*.dump`` in ``folder`` (by the time in their
    names, which :func:`default_path` writes); returns those deleted.  Other files stay."""
    if keep < 1:
        raise InvalidInput(
            "--keep 至少为 1（最新的备份总要留着）。",
            "--keep must be at least 1 (the newest backup always stays).",
            field="keep",
        )
    made = sorted(folder.glob("wangge-[0-9]*-[0-9]*.dump"), key=lambda p: p.name, reverse=True)
    old = made[keep:]
    for path in old:
        path.unlink()
    return old


def _run(tool: str, args: list[str], url: str | None = None) -> str:
    """Run ``pg_dump``/``pg_restore`` of the newest PostgreSQL here on the database of ``url``;
    its stderr on failure.  The password goes in the environment, not on the command line
    (where ``ps`` shows it to every user of the machine)."""
    env = dict(os.environ)
    if url is not None:
        parsed = make_url(url)
        if parsed.password is not None:
            env["PGPASSWORD"] = str(parsed.password)
        bare = parsed.set(drivername="postgresql", password=None)
        args = [*args, f"--dbname={bare.render_as_string(hide_password=False)}"]
    done = subprocess.run(
        [str(find_bindir() / tool), *args], capture_output=True, text=True, check=False, env=env
    )
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip() or f"exit {done.returncode}")[-2000:]
        raise DatabaseNotReady(f"{tool} 失败：{last}", f"{tool} failed: {last}")
    return done.stdout


def _counts(conn: psycopg.Connection) -> dict[str, int]:
    found: dict[str, int] = {}
    for table in COUNTED:
        if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is not None:  # type: ignore[index]
            q = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            found[table] = int(conn.execute(q).fetchone()[0])  # type: ignore[index]
    return found


def backup(owner_url: str, path: Path) -> Summary:
    """Write the whole database to ``path`` (which must not exist yet)."""
    if path.exists():
        raise InvalidInput(
            f"{path} 已存在：备份不覆盖已有文件，请换一个文件名。",
            f"{path} exists: a backup never overwrites a file; choose another name.",
            field="path",
        )
    part = path.with_name(path.name + ".part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        part.unlink(missing_ok=True)
        # readable by its owner only from the first byte (password hashes, the parties' ciphertext)
        os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as e:
        raise InvalidInput(
            f"无法在 {path.parent} 写入备份：{e.strerror}。请换一个可写的位置。",
            f"Cannot write a backup in {path.parent}: {e.strerror}. Choose a writable place.",
            field="path",
        ) from None
    try:
        _run("pg_dump", ["--format=custom", f"--file={part}"], owner_url)
        part.rename(path)
    finally:
        part.unlink(missing_ok=True)
    with psycopg.connect(libpq_url(owner_url)) as conn:
        counts = _counts(conn)
    return Summary(path, path.stat().st_size, counts)


def _has_tables(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        """SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
             AND n.nspname NOT LIKE 'pg_toast%%' AND c.relname <> 'spatial_ref_sys'
           ORDER BY 1 LIMIT 5"""
    ).fetchall()
    return [r[0] for r in rows]


def backup_version(path: Path) -> str | None:
    """The migration the backed-up database was at (its ``alembic_version``), if it had one."""
    data = _run("pg_restore", ["--data-only", "--table=alembic_version", "--file=-", str(path)])
    lines = data.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("COPY ") and "alembic_version" in line and i + 1 < len(lines):
            return None if lines[i + 1] == "\\." else lines[i + 1].strip()
    return None


def _known_version(path: Path) -> None:
    """Refuse a backup made by a newer wangge (the migrations here could not carry it on)."""
    from alembic.script import ScriptDirectory

    from gis.db import MIGRATIONS_DIR

    version = backup_version(path)
    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    known = {s.revision for s in scripts.walk_revisions()}
    if version is not None and version not in known:
        head = scripts.get_current_head()
        raise Conflict(
            f"{path} 来自更新版本的 wangge（迁移 {version}，本版本最新为 {head}）：请先升级 "
            "wangge，再恢复。",
            f"{path} comes from a newer wangge (migration {version}; this version ends at "
            f"{head}): upgrade wangge first, then restore.",
            field="path",
        )


def restore(owner_url: str, path: Path) -> Summary:
    """Bring the backup ``path`` back into the (empty) database of ``owner_url``.  The caller
    migrates after (:func:`gis.db.prepare_database`)."""
    if path.is_dir():
        made = sorted(path.glob("wangge-[0-9]*-[0-9]*.dump"))
        example = made[-1] if made else path / "wangge-20261203-020000.dump"
        raise InvalidInput(
            f"{path} 是一个目录：请给出其中的备份文件（如 {example}）。",
            f"{path} is a folder: name the backup file in it (such as {example}).",
            field="path",
        )
    if not path.is_file():
        raise InvalidInput(f"找不到备份文件 {path}。", f"No backup file at {path}.", field="path")
    try:
        _run("pg_restore", ["--list", str(path)])
    except DatabaseNotReady:
        raise InvalidInput(
            f"{path} 不是 wangge db backup 生成的备份（pg_dump 自定义格式）。",
            f"{path} is not a backup made by wangge db backup (pg_dump's custom format).",
            field="path",
        ) from None
    _known_version(path)
    with psycopg.connect(libpq_url(owner_url), autocommit=True) as conn:
        tables = _has_tables(conn)
        if tables:
            name = make_url(owner_url).database
            raise Conflict(
                f"数据库 {name} 不是空的（已有表 {', '.join(tables)} …）：恢复只写入空数据库，"
                "不覆盖现有数据。请先停止服务，把现有数据库改名或删除（或先备份它），再恢复。",
                f"The database {name} is not empty (it has {', '.join(tables)} …): a restore only "
                "goes into an empty database and never overwrites. Stop the server, rename or "
                "drop the database (or back it up first), then restore.",
                field="path",
            )
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone()
        if not exists:  # (as migration 0002 makes it; `wangge migrate` sets its password)
            conn.execute(
                sql.SQL(
                    "CREATE ROLE {} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS"
                ).format(sql.Identifier(APP_ROLE))
            )
    _run(
        "pg_restore",
        [
            "--single-transaction",
            "--exit-on-error",
            "--no-owner",  # the restoring owner's, as the migrations' would be
            "--no-comments",  # (the extensions' comments are their owner's to write)
            str(path),
        ],
        owner_url,
    )
    with psycopg.connect(libpq_url(owner_url)) as conn:
        counts = _counts(conn)
    return Summary(path, path.stat().st_size, counts)
