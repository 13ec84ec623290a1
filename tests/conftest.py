"""Test fixtures: a real PostGIS, a throwaway database, one rolled-back transaction per test.

The suite starts (or reuses) the embedded cluster under ``<checkout>/.wangge`` and creates a
database ``wangge_test_<random>`` that it migrates, fills with the small demo city (and its demo
users), and drops at the end.  Set ``WANGGE_TEST_ADMIN_URL`` (a URL with the right to create
databases and roles) to use another PostgreSQL server instead.

Two kinds of session, each inside a transaction rolled back after the test — services flush and
routes commit, which releases a SAVEPOINT, never the outer transaction:

* ``db``: the owner (superuser: row-level security does not apply) for spatial-core tests;
* ``app_db``: the app role ``wangge_app``, as the API uses it, under row-level security.

``client`` is the app on ``app_db`` logged in as the demo ``admin``; ``login_as(name)`` gives
the headers of any demo user; ``anon_client`` sends no credentials.
"""

from __future__ import annotations

import base64
import fcntl
import os
import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session

from shapely.geometry.base import BaseGeometry

from api.app import create_app
from api.deps import get_session
from gis.auth import issue_token
from gis.db import enable_app_login, libpq_url, make_engine, migrate, session_scope
from gis.embedded import APP_ROLE, EmbeddedCluster, create_database_sql
from gis.pii import PiiCipher
from gis.scope import Scope, bind_scope
from gis.settings import Settings
from importers.demo import DemoCity, generate_demo_city
from importers.demo_load import load_demo_city

ROOT = Path(__file__).resolve().parent.parent
DEMO_SEED = 7


@pytest.fixture(scope="session")
def cluster() -> Iterator[EmbeddedCluster]:
    """The checkout's embedded cluster, started for the session if it was not running.

    Test runs in one checkout may overlap (each has its own database).  Each holds a shared
    lock on ``.wangge/tests.lock`` while it runs; a run that started the cluster leaves a mark,
    and the cluster is stopped by the last run to finish (the one that then gets the lock to
    itself), never under another run's feet."""
    cluster = EmbeddedCluster(ROOT / ".wangge")
    cluster.data_dir.mkdir(parents=True, exist_ok=True)
    started_mark = cluster.data_dir / "tests.started"
    with open(cluster.data_dir / "tests.lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the only run: start it if need be
        except BlockingIOError:
            pass  # another run is here: it started the cluster, or is starting it
        else:
            if cluster.is_running():
                started_mark.unlink(missing_ok=True)  # started outside the tests: left running
            else:
                started_mark.touch()
                cluster.start()
        fcntl.flock(lock, fcntl.LOCK_SH)  # (waits while another run starts the cluster)
        cluster.start()  # running by now: only checks (and creates the database if missing)
        yield cluster
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the last run out
        except BlockingIOError:
            return  # another run still uses the cluster: the last one stops it
        if started_mark.exists():
            cluster.stop()
            started_mark.unlink()


@pytest.fixture(scope="session")
def app_password(request: pytest.FixtureRequest) -> str:
    """The password of ``wangge_app`` (the cluster's, or a fresh one on another server)."""
    if os.environ.get("WANGGE_TEST_ADMIN_URL"):
        return secrets.token_urlsafe(18)
    return request.getfixturevalue("cluster").app_password()


@pytest.fixture(scope="session")
def database_url(request: pytest.FixtureRequest, app_password: str) -> Iterator[str]:
    """A migrated throwaway database (owner URL), dropped at the end of the session."""
    name = f"wangge_test_{uuid.uuid4().hex[:10]}"
    admin = os.environ.get("WANGGE_TEST_ADMIN_URL")
    if admin:
        with psycopg.connect(libpq_url(admin), autocommit=True) as conn:
            conn.execute(create_database_sql(name))
        url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    else:
        cluster: EmbeddedCluster = request.getfixturevalue("cluster")
        cluster.create_database(name)
        url = cluster.url(name)
    migrate(url)
    enable_app_login(url, app_password)
    yield url
    if admin:
        with psycopg.connect(libpq_url(admin), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    else:
        request.getfixturevalue("cluster").drop_database(name)


@pytest.fixture(scope="session")
def app_url(database_url: str, app_password: str) -> str:
    return (
        make_url(database_url)
        .set(username=APP_ROLE, password=app_password)
        .render_as_string(hide_password=False)
    )


@pytest.fixture(scope="session")
def pii_key() -> bytes:
    return secrets.token_bytes(32)


@pytest.fixture(scope="session")
def cipher(pii_key: bytes) -> PiiCipher:
    return PiiCipher(pii_key)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def app_engine(app_url: str) -> Iterator[Engine]:
    engine = make_engine(app_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def demo_city(engine: Engine, cipher: PiiCipher) -> DemoCity:
    """The small demo city with its demo users, committed once into the throwaway database."""
    city = generate_demo_city(seed=DEMO_SEED, size="small")
    with session_scope(engine) as session:
        load_demo_city(session, city, cipher)
    return city


def _rolled_back(engine: Engine) -> Iterator[Session]:
    connection = engine.connect()
    transaction = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()


@pytest.fixture
def db(engine: Engine, demo_city: DemoCity) -> Iterator[Session]:
    """An owner session (no row-level security) in a transaction rolled back after the test."""
    yield from _rolled_back(engine)


@pytest.fixture
def app_db(app_engine: Engine, demo_city: DemoCity) -> Iterator[Session]:
    """An app-role session (row-level security applies) rolled back after the test."""
    yield from _rolled_back(app_engine)


# the tables that point at a case, and through which column (read from the catalogue, so a new
# table of case details is covered without a change here)
_CASE_REFERENCES = """
    SELECT c.conrelid::regclass::text, quote_ident(a.attname)
    FROM pg_constraint c
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
    WHERE c.contype = 'f' AND c.confrelid = 'cases'::regclass
"""
_ROLLUP_TRIGGERS = text("""
    SELECT quote_ident(tgname) FROM pg_trigger
    WHERE tgrelid = CAST(:table AS regclass) AND NOT tgisinternal AND tgname LIKE '%rollup%'
""")


@pytest.fixture(scope="module")
def committed_cases_removed(engine: Engine, demo_city: DemoCity) -> Iterator[None]:
    """For a module whose tests must commit (a live server, parallel clients): afterwards, the
    cases it created are deleted with every row that points at them, so later tests find the
    demo city as it was loaded (200 committed reports at one place would raise repeat warnings
    on every later report there)."""
    with engine.connect() as conn:
        before = conn.execute(text("SELECT coalesce(max(id), 0) FROM cases")).scalar_one()
    yield
    with engine.begin() as conn:
        for table, column in conn.execute(text(_CASE_REFERENCES)).all():
            # the event log and the like refuse deletes (append-only triggers): in this
            # transaction only, and only on the tables of case details, not on cases (whose
            # triggers keep the roll-ups), and not the roll-ups' own (a merge link deleted puts
            # its case back in them, before the case is taken out: migration 0054)
            conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            for trigger in conn.execute(_ROLLUP_TRIGGERS, {"table": table}).scalars():
                conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}"))
            conn.execute(text(f"DELETE FROM {table} WHERE {column} > :before"), {"before": before})
            conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        conn.execute(text("DELETE FROM cases WHERE id > :before"), {"before": before})


@pytest.fixture(scope="session")
def base_settings(
    database_url: str, app_password: str, pii_key: bytes, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return Settings(
        database_url=database_url,
        app_db_password=app_password,
        pii_key=base64.b64encode(pii_key).decode(),
        data_dir=tmp_path_factory.mktemp("data") / ".wangge",
        clock_interval_s=0,  # tests run the clock themselves, at the times they choose
    )


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return base_settings


@pytest.fixture(scope="session")
def tokens(engine: Engine, demo_city: DemoCity, base_settings: Settings) -> dict[str, str]:
    """A committed session token for every demo user (no password hashing per test)."""
    with session_scope(engine) as session:
        users = session.execute(text("SELECT id, username FROM app_user")).all()
        return {name: issue_token(session, uid, base_settings) for uid, name in users}


@pytest.fixture
def login_as(tokens: dict[str, str]) -> Callable[[str], dict[str, str]]:
    """``headers=login_as("township_operator")``."""
    return lambda username: {"Authorization": f"Bearer {tokens[username]}"}


def grid_worker_point(engine: Engine) -> tuple[float, float]:
    """A point inside the first of the demo grid worker's own grids."""
    with engine.connect() as conn:
        lon, lat = conn.execute(
            text("""
            SELECT ST_X(p), ST_Y(p) FROM (
                SELECT ST_PointOnSurface(g.geom) AS p FROM app_user u
                JOIN worker_grid wg ON wg.worker_id = u.worker_id
                JOIN grid g ON g.code = wg.grid_code AND g.valid_to IS NULL
                WHERE u.username = 'grid_worker' ORDER BY g.code LIMIT 1) s
        """)
        ).one()
    return float(lon), float(lat)


def report_body(lon: float, lat: float, datum: str = "wgs84", **extra: object) -> dict:
    """A valid report at (lon, lat) in ``datum``; ``extra`` overrides top-level fields."""
    body: dict = {
        "kind": "dispute",
        "category": "neighbour",
        "description": "楼上楼下因噪音发生争执",
        "location": {"lon": lon, "lat": lat, "datum": datum},
        # a few minutes ago on the device (a time weeks off is flagged: ``clock_suspect``)
        "reported_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(timespec="seconds"),
    }
    body.update(extra)
    return body


def a_gap_between_grids(session: Session) -> tuple[float, float]:
    """Retire the widest current grid of the demo's first street, leaving a gap in its village's
    coverage (as a river bank or farmland leaves one); the gap's inmost point, more than 50 m
    from any grid: a report there is filed by the village (method region)."""
    code, lon, lat = session.execute(
        text("""SELECT g.code, ST_X(m.center), ST_Y(m.center)
                FROM grid g CROSS JOIN LATERAL ST_MaximumInscribedCircle(g.geom) m
                WHERE g.valid_to IS NULL AND g.code LIKE '990102001%'
                ORDER BY m.radius DESC LIMIT 1""")
    ).one()
    session.execute(
        text("UPDATE grid SET valid_to = now() WHERE code = :c AND valid_to IS NULL"), {"c": code}
    )
    return float(lon), float(lat)


def take_grids_from(app_db: Session, username: str) -> None:
    """Account ``username``'s worker answers for no grid (rolled back with the test)."""
    from gis.scope import Scope, bind_scope

    bind_scope(app_db, Scope.everything())
    app_db.execute(
        text("DELETE FROM worker_grid WHERE worker_id = "
             "(SELECT worker_id FROM app_user WHERE username = :u)"),
        {"u": username},
    )  # fmt: skip
    app_db.commit()  # (to the test's savepoint)


class WanggeClient(TestClient):
    """A test client that gives every report a fresh Idempotency-Key unless the test sets one
    (the idempotency tests do)."""

    def request(self, method, url, **kwargs):  # type: ignore[no-untyped-def, override]
        if method.upper() == "POST" and str(url).rstrip("/").endswith("/api/reports"):
            headers = dict(kwargs.get("headers") or {})
            if not any(k.lower() == "idempotency-key" for k in headers):
                headers["Idempotency-Key"] = str(uuid.uuid4())
            kwargs["headers"] = headers
        return super().request(method, url, **kwargs)


def app_with(
    settings: Settings, app_db: Session, *, address: str = "testclient", **changes: object
) -> TestClient:
    """A client of the app built with ``settings`` (and ``changes`` to them) on the test
    database, sharing the test's rolled-back app-role session.  ``address``: the client's
    network address as the app sees it (the test client's own is none)."""
    app = create_app(settings.model_copy(update=changes) if changes else settings)

    def shared_session() -> Iterator[Session]:
        try:
            yield app_db
        finally:
            app_db.rollback()  # like closing a request's session: back to the last savepoint

    app.dependency_overrides[get_session] = shared_session
    return WanggeClient(app, client=(address, 50000))


@pytest.fixture
def anon_client(settings: Settings, app_db: Session) -> Iterator[TestClient]:
    """The app on the test database, sharing the test's rolled-back app-role session."""
    with app_with(settings, app_db) as client:
        yield client


@pytest.fixture
def client(anon_client: TestClient, tokens: dict[str, str]) -> TestClient:
    """``anon_client`` logged in as the demo admin (the whole deployment)."""
    anon_client.headers["Authorization"] = f"Bearer {tokens['admin']}"
    return anon_client


def put_case(session: Session, point: BaseGeometry, status: str = "registered",
             received: datetime | None = None) -> str:  # fmt: skip
    """A case at ``point`` located through the spine (as intake does), in ``status``."""
    bind_scope(session, Scope.everything())
    code = "E" + uuid.uuid4().hex[:12].upper()
    session.execute(
        text("""
        INSERT INTO cases (code, kind, category, severity, description, datum, received_lon,
                           received_lat, geom, reported_at, received_at, grid_id, grid_code,
                           village_code, township_code, district_code, city_code, center_id,
                           assign_method, assign_distance_m, status, allowed_hours, deadline,
                           closed_at)
        SELECT :code, 'dispute', 'neighbour', 'minor', '调整测试', 'wgs84', :lon, :lat, x.p, x.t,
               x.t, a.grid_id, a.grid_code, a.village_code, a.township_code, a.district_code,
               a.city_code, a.center_id, a.method, a.distance_m, CAST(:status AS varchar), 8,
               wangge_work_add(x.t, 8), CASE WHEN CAST(:status AS varchar) = 'closed' THEN x.t END
        FROM (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS p,
                     coalesce(CAST(:t AS timestamptz), now()) AS t) x,
             wangge_assign(x.p) a
    """),
        {"code": code, "lon": point.x, "lat": point.y, "status": status, "t": received},
    )
    session.commit()
    return code


#: the cases whose handling kept on the case (migration 0062: first_resolved_at, extended,
#: reworked, on_site, score) differs from what their events and rating say; 0 when all agree
HANDLING_MISMATCH = """
    SELECT count(*) FROM cases c
    LEFT JOIN (SELECT case_id, min(at) FILTER (WHERE to_status = 'resolved') AS first_resolved_at,
                      bool_or(action = 'extend') AS extended,
                      bool_or(to_status = 'reopened') AS reworked,
                      bool_or(action = 'on_site') AS on_site
               FROM case_event GROUP BY case_id) e ON e.case_id = c.id
    LEFT JOIN case_rating r ON r.case_id = c.id
    WHERE c.first_resolved_at IS DISTINCT FROM e.first_resolved_at
       OR c.extended <> coalesce(e.extended, false) OR c.reworked <> coalesce(e.reworked, false)
       OR c.on_site <> coalesce(e.on_site, false) OR c.score IS DISTINCT FROM r.score
"""


#: the in-tray's counts per state as kept (migration 0083) against those counted from the
#: cases: 0 when all agree
STATE_COUNT_MISMATCH = """
    WITH fresh AS (
        SELECT coalesce(center_id, 0), status, coalesce(city_code, ''),
               coalesce(district_code, ''), coalesce(township_code, ''),
               coalesce(village_code, ''), count(*) FROM cases GROUP BY 1, 2, 3, 4, 5, 6),
    kept AS (SELECT center_id, status, city_code, district_code, township_code, village_code, n
             FROM case_state_count WHERE n <> 0)
    SELECT (SELECT count(*) FROM (TABLE fresh EXCEPT TABLE kept) a)
         + (SELECT count(*) FROM (TABLE kept EXCEPT TABLE fresh) b)
"""


def grid_team(session: Session, grid: str, by: str = "code") -> dict[str, str]:
    """Grid ``grid``'s workers (by their ``code`` or ``name``), each with their part in its
    team (worker_grid.role)."""
    key = {"code": "w.code", "name": "w.name"}[by]
    return dict(
        session.execute(
            text(f"""SELECT {key}, wg.role FROM worker_grid wg JOIN worker w ON w.id = wg.worker_id
                     WHERE wg.grid_code = :g"""),
            {"g": grid},
        ).all()
    )


def village_workers(session: Session, village: str) -> list[str]:
    """The codes of village ``village``'s grid workers, in order."""
    return list(
        session.execute(
            text("""SELECT w.code FROM worker w JOIN region v ON v.id = w.region_id
                    WHERE v.code = :v ORDER BY w.code"""),
            {"v": village},
        ).scalars()
    )


#: the id of the element :data:`HOSTILE` opens: found in a page, a name was read as markup
INJECTED = "wg-injected"
#: a name that closes whatever holds it (an attribute, a title, a script) and opens an element
HOSTILE = f"\"'></title></script><b id={INJECTED}>x</b>"
#: the names that come from files and forms (imports, rosters, the users page)
NAMED = (
    ("region", "name"),
    ("grid", "name"),
    ("center", "name"),
    ("department", "name"),
    ("worker", "name"),
    ("app_user", "display_name"),
)


@contextmanager
def named_with_markup(engine: Engine) -> Iterator[None]:
    """Every region's, grid's, center's, department's, worker's and user's name ends in
    :data:`HOSTILE` inside the block (committed, for the app's own sessions to read; taken off
    after)."""
    try:
        with engine.begin() as conn:
            for table, column in NAMED:
                conn.execute(text(f"UPDATE {table} SET {column} = {column} || :h"), {"h": HOSTILE})
        yield
    finally:
        with engine.begin() as conn:
            for table, column in NAMED:
                conn.execute(
                    text(f"""UPDATE {table} SET {column} = left({column}, -length(:h))
                             WHERE right({column}, length(:h)) = :h"""),
                    {"h": HOSTILE},
                )
