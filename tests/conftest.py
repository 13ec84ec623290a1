"""Test fixtures: a real PostGIS, a throwaway database, one rolled-back transaction per test.

The suite starts (or reuses) the embedded cluster under ``<checkout>/.wangge`` and creates a
database ``wangge_test_<random>`` that it migrates, fills with the small demo city, and drops at
the end.  Set ``WANGGE_TEST_ADMIN_URL`` (a URL with the right to create databases) to use another
PostgreSQL server instead.  Each test runs inside a transaction that is rolled back: services flush
and routes commit, which releases a SAVEPOINT, never the outer transaction.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from sqlalchemy import Engine, make_url
from sqlalchemy.orm import Session

from api.app import create_app
from api.deps import get_session
from gis.db import make_engine, migrate, session_scope
from gis.embedded import EmbeddedCluster
from gis.settings import Settings
from importers.demo import DemoCity, generate_demo_city
from importers.demo_load import load_demo_city

ROOT = Path(__file__).resolve().parent.parent
DEMO_SEED = 7


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def cluster() -> Iterator[EmbeddedCluster]:
    """The checkout's embedded cluster, started for the session if it was not running."""
    cluster = EmbeddedCluster(ROOT / ".wangge")
    was_running = cluster.is_running()
    cluster.start()
    yield cluster
    if not was_running:
        cluster.stop()


@pytest.fixture(scope="session")
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated throwaway database, dropped at the end of the session."""
    name = f"wangge_test_{uuid.uuid4().hex[:10]}"
    admin = os.environ.get("WANGGE_TEST_ADMIN_URL")
    if admin:
        with psycopg.connect(_libpq(admin), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    else:
        cluster: EmbeddedCluster = request.getfixturevalue("cluster")
        cluster.create_database(name)
        url = cluster.url(name)
    migrate(url)
    yield url
    if admin:
        with psycopg.connect(_libpq(admin), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    else:
        request.getfixturevalue("cluster").drop_database(name)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def demo_city(engine: Engine) -> DemoCity:
    """The small demo city, committed once into the throwaway database."""
    city = generate_demo_city(seed=DEMO_SEED, size="small")
    with session_scope(engine) as session:
        load_demo_city(session, city)
    return city


@pytest.fixture
def db(engine: Engine, demo_city: DemoCity) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test."""
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
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / ".wangge")


@pytest.fixture
def client(settings: Settings, db: Session) -> Iterator[TestClient]:
    """The app on the test database; every request shares the test's rolled-back session."""
    app = create_app(settings)
    app.dependency_overrides[get_session] = lambda: db
    with TestClient(app) as client:
        yield client
