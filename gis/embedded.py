"""The embedded PostGIS cluster: a project-local PostgreSQL under ``<data_dir>/pgdata``.

Used when ``DATABASE_URL`` is unset.  The cluster is created with the machine's own PostgreSQL
binaries (``pg_config --bindir`` or ``/usr/lib/postgresql/*/bin``) and PostGIS extension files.

* initdb and postgres refuse to run as root.  When we are root the server runs as the OS user
  ``postgres``; that user is given search (``x``) permission — nothing more — on every directory
  above the data directory that it cannot already traverse (an ACL entry via ``setfacl``, or
  ``chmod o+x`` where the file system has no ACLs).  All else under ``.wangge/`` stays root's.
* The server listens on a Unix socket inside ``.wangge/run`` and on 127.0.0.1 at a port chosen
  free when it starts (never assumed to be 5432).  Two checkouts on one machine therefore never
  collide: each has its own data directory, socket directory and port.
* The superuser ``wangge`` has a random password kept in ``.wangge/cluster.json`` (mode 0600).
* The server's log is in ``.wangge/log/postgres-<weekday>.log`` (a week of it at most; each file
  is emptied when its weekday comes round again); ``postgres.log`` there is pg_ctl's, with what
  the server said before its log collector started (a port in use, a bad setting).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from gis.errors import ClusterError

if TYPE_CHECKING:
    from psycopg import sql

SUPERUSER = "wangge"
APP_ROLE = "wangge_app"  # created by migration 0002; the app connects as this role
DATABASE = "wangge"
#: the server's log files under ``<data_dir>/log``: one per weekday (%a), kept for a week
SERVER_LOG_PATTERN = "postgres-%a.log"
OWNER_WHEN_ROOT = "postgres"
#: how text is ordered in wangge's databases: by bytes.  For UTF-8 that is the order of code
#: points, the same order as ``C.UTF-8`` (character classes, upper and lower case stay
#: ``C.UTF-8``'s: :data:`CTYPE`).  PostgreSQL compares "C" strings with ``memcmp`` and sorts
#: them with abbreviated keys, but any other locale, ``C.UTF-8`` too, through ``strcoll``: a
#: btree over a million codes builds in about 0.6 of the time, and every index on a code or a
#: token is searched and kept faster (``bench/import_cases.py``).
COLLATE = "C"
CTYPE = "C.UTF-8"
_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes; leave room for "/.s.PGSQL.NNNNN"


def create_database_sql(name: str) -> sql.Composed:
    """``CREATE DATABASE name`` ordering text by :data:`COLLATE`, whatever the cluster's default
    (a cluster made before it was chosen, or one not made here)."""
    from psycopg import sql

    return sql.SQL(
        "CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE {} LC_CTYPE {}"
    ).format(sql.Identifier(name), sql.Literal(COLLATE), sql.Literal(CTYPE))


def find_bindir() -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres`` (newest version first)."""
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    versions.sort(key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    candidates += [Path(p) for p in reversed(versions)]
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    raise ClusterError(
        "找不到 PostgreSQL 服务器程序（initdb/pg_ctl）。请安装 postgresql-15 与 "
        "postgresql-15-postgis-3（make run 会自动安装），或设置 DATABASE_URL 指向现有的 PostGIS。",
        "PostgreSQL server binaries (initdb/pg_ctl) not found. Install postgresql-15 and "
        "postgresql-15-postgis-3 (make run does), or set DATABASE_URL to an existing PostGIS.",
    )


@dataclass(frozen=True)
class _Owner:
    name: str
    uid: int
    gid: int
    home: str


def _owner() -> _Owner | None:
    """The OS user the server runs as when that is not us (we are root), else None."""
    if os.geteuid() != 0:
        return None
    try:
        pw = pwd.getpwnam(OWNER_WHEN_ROOT)
    except KeyError as e:
        raise ClusterError(
            f"以 root 运行时需要系统用户 {OWNER_WHEN_ROOT}（由 postgresql 软件包创建）。",
            f"Running as root needs the OS user {OWNER_WHEN_ROOT} (created by the postgresql "
            "package).",
        ) from e
    return _Owner(pw.pw_name, pw.pw_uid, pw.pw_gid, pw.pw_dir)


def bind_error(host: str, port: int) -> OSError | None:
    """What stops a server listening on ``host``:``port`` now (None: nothing), bound as servers
    bind (``SO_REUSEADDR``, as PostgreSQL and uvicorn do): the connections a server ended at its
    stop stay on the port a while (an app's idle pooled ones until the app next uses them, then
    a minute more), which does not stop it listening there again."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as e:
        return e
    return None


def _port_is_free(port: int) -> bool:
    """Whether the cluster can listen on ``port`` again (:func:`bind_error`).  Judged otherwise,
    a restart moved to another port, and a running app, which knows the database by its
    address, could not reach it until restarted too."""
    return bind_error("127.0.0.1", port) is None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedCluster:
    """A PostgreSQL cluster living in ``data_dir`` (normally ``<checkout>/.wangge``)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.pgdata = self.data_dir / "pgdata"
        self.state_file = self.data_dir / "cluster.json"
        self.log_dir = self.data_dir / "log"
        self.log_file = self.log_dir / "postgres.log"  # pg_ctl's: start-up and shutdown
        self._owner = _owner()

    # -- state ---------------------------------------------------------------------------------
    @property
    def socket_dir(self) -> Path:
        """``.wangge/run``, or a short per-checkout path in /tmp when that would be too long."""
        preferred = self.data_dir / "run"
        if len(str(preferred)) <= _MAX_SOCKET_PATH - 16:
            return preferred
        digest = hashlib.sha1(str(self.data_dir).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"wangge-{digest}"

    def _state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return {}

    def _save_state(self, state: dict) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(state, f, indent=2)
        tmp.replace(self.state_file)

    @property
    def initialized(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def pid(self) -> int | None:
        """The postmaster's pid if it is running, else None."""
        try:
            first = (self.pgdata / "postmaster.pid").read_text().splitlines()[0]
            pid = int(first)
        except (FileNotFoundError, IndexError, ValueError, PermissionError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, owned by someone else
        return pid

    def is_running(self) -> bool:
        return self.pid() is not None

    @property
    def port(self) -> int | None:
        port = self._state().get("port")
        return int(port) if port else None

    def url(self, database: str = DATABASE, *, app: bool = False) -> str:
        """SQLAlchemy URL (psycopg 3) of ``database`` on this cluster, over TCP on 127.0.0.1.

        ``app``: as the application role ``wangge_app`` instead of the superuser.
        """
        state = self._state()
        if not state.get("port"):
            raise ClusterError(
                "嵌入式数据库尚未启动过：请先运行 `wangge db start`。",
                "The embedded database has never been started: run `wangge db start` first.",
            )
        user, password = (APP_ROLE, self.app_password()) if app else (SUPERUSER, state["password"])
        return (
            f"postgresql+psycopg://{user}:{quote(password, safe='')}"
            f"@127.0.0.1:{state['port']}/{database}"
        )

    def app_password(self) -> str:
        """The password of ``wangge_app`` on this cluster (generated once, kept with the state)."""
        state = self._state()
        if not state.get("app_password"):
            state["app_password"] = secrets.token_urlsafe(24)
            self._save_state(state)
        return str(state["app_password"])

    # -- running commands ----------------------------------------------------------------------
    def _run(self, args: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL program as the cluster's owner (``postgres`` when we are root)."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LC_ALL": "C.UTF-8",
            "LANG": "C.UTF-8",
        }
        kwargs: dict = {}
        if self._owner is not None:
            env["HOME"] = self._owner.home
            kwargs = {"user": self._owner.uid, "group": self._owner.gid, "extra_groups": []}
        result = subprocess.run(
            args, capture_output=True, text=True, cwd="/", env=env, check=False, **kwargs
        )
        if check and result.returncode != 0:
            raise ClusterError(
                f"{Path(args[0]).name} 失败：{result.stderr.strip() or result.stdout.strip()}",
                f"{Path(args[0]).name} failed: {result.stderr.strip() or result.stdout.strip()}",
            )
        return result

    def _chown(self, path: Path) -> None:
        if self._owner is not None:
            os.chown(path, self._owner.uid, self._owner.gid)

    def _grant_traversal(self) -> None:
        """Let the owner reach ``data_dir`` wherever the checkout lives (search permission only)."""
        if self._owner is None:
            return
        path = Path("/")
        for part in self.data_dir.parts[1:]:
            path = path / part
            if self._run(["test", "-x", str(path)], check=False).returncode == 0:
                continue
            acl = (
                subprocess.run(
                    ["setfacl", "-m", f"u:{self._owner.name}:x", str(path)], capture_output=True
                )
                if shutil.which("setfacl")
                else None
            )
            if acl is None or acl.returncode != 0:
                os.chmod(path, os.stat(path).st_mode | 0o001)

    # -- lifecycle -----------------------------------------------------------------------------
    def init(self) -> None:
        """Create the cluster (initdb) if it does not exist yet."""
        if self.initialized:
            return
        bindir = find_bindir()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o711)
        self._grant_traversal()
        for d in (self.pgdata, self.log_dir):
            d.mkdir(exist_ok=True)
            self._chown(d)
        os.chmod(self.pgdata, 0o700)
        password = secrets.token_urlsafe(24)
        pwfile = self.log_dir / ".initdb-pw"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password + "\n")
        self._chown(pwfile)
        try:
            self._run(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    f"--locale={CTYPE}",
                    f"--lc-collate={COLLATE}",
                    "--data-checksums",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        with open(self.pgdata / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# wangge: port, socket and logging are rewritten at every start\n"
                "include_if_exists = 'wangge.conf'\n"
            )
        self._save_state({"password": password, "port": None, "bindir": str(bindir)})

    def _write_runtime_conf(self, port: int) -> None:
        conf = self.pgdata / "wangge.conf"
        conf.write_text(
            f"port = {port}\n"
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{self.socket_dir}'\n"
            "unix_socket_permissions = 0700\n"
            "fsync = on\n"
            "synchronous_commit = on\n"
            "jit = off\n"
            "shared_buffers = '256MB'\n"
            "work_mem = '32MB'\n"
            "maintenance_work_mem = '256MB'\n"
            # one server, no standby and no WAL archive (backups are pg_dump's): the WAL need
            # only carry crash recovery.  Then an index built in the transaction that created
            # it is written once, to its file, not also to the WAL: a bulk import of a million
            # cases rebuilds some twenty (bench/import_cases.py, that stage: 38.9 s with
            # 'replica', 29.9 and 32.5 s with 'minimal', the same evening)
            "wal_level = minimal\n"
            "max_wal_senders = 0\n"
            "max_connections = 100\n"
            # the server's log, one file per weekday, emptied when its day comes round again:
            # at most a week of it is kept (a long-lived cluster never fills the disk with it)
            "logging_collector = on\n"
            f"log_directory = '{self.log_dir}'\n"
            f"log_filename = '{SERVER_LOG_PATTERN}'\n"
            "log_truncate_on_rotation = on\n"
            "log_rotation_age = '1d'\n"
            "log_rotation_size = 0\n"
            "log_file_mode = 0600\n"
            "log_min_duration_statement = 2000\n"
            "timezone = 'UTC'\n"
        )
        self._chown(conf)

    def _choose_port(self) -> int:
        port = self.port
        if port and _port_is_free(port):
            return port
        return _free_port()

    def start(self, timeout_s: int = 60) -> None:
        """Start the server (creating the cluster first if needed) and the ``wangge`` database."""
        self.init()
        if not self.is_running():
            self._grant_traversal()  # the checkout may have moved since initdb
            (self.pgdata / "postmaster.pid").unlink(missing_ok=True)  # stale after a crash
            port = self._choose_port()
            self._write_runtime_conf(port)
            self.socket_dir.mkdir(parents=True, exist_ok=True)
            self._chown(self.socket_dir)
            os.chmod(self.socket_dir, 0o700)
            state = self._state()
            state["port"] = port
            self._save_state(state)
            bindir = Path(state.get("bindir") or find_bindir())
            result = self._run(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(self.pgdata),
                    "-l",
                    str(self.log_file),
                    "-w",
                    "-t",
                    str(timeout_s),
                    "start",
                ],
                check=False,
            )
            if result.returncode != 0:
                raise ClusterError(
                    f"嵌入式 PostgreSQL 启动失败，日志 {self.log_file} 末尾：\n{self._log_tail()}",
                    f"The embedded PostgreSQL did not start; end of {self.log_file}:\n"
                    f"{self._log_tail()}",
                )
        self.create_database(DATABASE)

    def stop(self) -> bool:
        """Stop the server cleanly (fast shutdown rolls back open sessions).  True if it ran."""
        if not self.is_running():
            return False
        bindir = Path(self._state().get("bindir") or find_bindir())
        self._run([str(bindir / "pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"])
        return True

    def server_logs(self) -> list[Path]:
        """The server's log files (see :data:`SERVER_LOG_PATTERN`), newest last."""
        return sorted(self.log_dir.glob("postgres-*.log"), key=lambda p: p.stat().st_mtime)

    def _log_tail(self, lines: int = 20) -> str:
        """The end of pg_ctl's log, and of the server's newest (written before it stopped)."""
        tails = []
        for path in [self.log_file, *self.server_logs()[-1:]]:
            with contextlib.suppress(FileNotFoundError):
                text = path.read_text(errors="replace").splitlines()[-lines:]
                if text:
                    tails.append(f"[{path.name}]\n" + "\n".join(text))
        return "\n".join(tails) or "(no log)"

    # -- databases -----------------------------------------------------------------------------
    def _admin_connect(self):  # type: ignore[no-untyped-def]
        import psycopg

        state = self._state()
        deadline = time.monotonic() + 15
        while True:
            try:
                return psycopg.connect(
                    host="127.0.0.1",
                    port=state["port"],
                    user=SUPERUSER,
                    password=state["password"],
                    dbname="postgres",
                    autocommit=True,
                )
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def create_database(self, name: str) -> bool:
        """Create database ``name`` if missing.  True if it was created."""
        with self._admin_connect() as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if exists:
                return False
            conn.execute(create_database_sql(name))
            return True

    def drop_database(self, name: str) -> None:
        from psycopg import sql

        with self._admin_connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def status(self) -> dict:
        """A summary for ``wangge db status``."""
        running = self.is_running()
        info = {
            "data_dir": str(self.data_dir),
            "initialized": self.initialized,
            "running": running,
            "pid": self.pid(),
            "port": self.port,
            "socket_dir": str(self.socket_dir),
            "logs": [str(p) for p in self.server_logs()[-1:]] + [str(self.log_file)],
        }
        if running:
            with contextlib.suppress(Exception), self._admin_connect() as conn:
                row = conn.execute(
                    "SELECT version(), (SELECT default_version FROM pg_available_extensions "
                    "WHERE name = 'postgis')"
                ).fetchone()
                info["server"] = row[0].split(",")[0] if row else None
                info["postgis_available"] = row[1] if row else None
        return info
