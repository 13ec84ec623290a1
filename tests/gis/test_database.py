"""The embedded cluster and the start-up safety checks."""

from __future__ import annotations

import asyncio
import os
import re
import stat
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from gis import db as db_module
from gis.db import check_database, execute_arrays, make_engine
from gis.embedded import COLLATE, CTYPE, EmbeddedCluster
from gis.errors import ClusterError, DatabaseNotReady
from importers.demo import DemoCity


def test_embedded_cluster_listens_on_loopback_and_its_own_socket(cluster: EmbeddedCluster) -> None:
    status = cluster.status()
    assert status["running"] and status["port"]
    assert status["postgis_available"]
    assert (cluster.socket_dir / f".s.PGSQL.{status['port']}").exists()
    assert cluster.url().startswith("postgresql+psycopg://wangge:")
    assert stat.S_IMODE(os.stat(cluster.state_file).st_mode) == 0o600  # holds the password


def test_second_checkout_gets_its_own_cluster(cluster: EmbeddedCluster, tmp_path: Path) -> None:
    """Two checkouts do not collide, even in a directory other users cannot enter."""
    private = tmp_path / "other checkout"
    private.mkdir(mode=0o700)
    other = EmbeddedCluster(private / ".wangge")
    try:
        other.start()
        assert other.port != cluster.port
        with psycopg.connect(other.url().replace("+psycopg", "")) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("wangge",)
            conn.execute("CREATE TABLE kept (x int)")
            conn.execute("INSERT INTO kept VALUES (42)")
            conn.commit()
            # the server logs through its collector into one file per weekday, emptied when
            # the weekday comes round again: a week of log at most
            conn.execute("DO $$ BEGIN RAISE LOG 'wangge log probe'; END $$")
            logfile = Path(conn.execute("SELECT pg_current_logfile()").fetchone()[0])
            settings = dict(conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN ('log_truncate_on_rotation',"
                " 'log_rotation_age', 'log_rotation_size')").fetchall())  # fmt: skip
        assert logfile.parent == other.log_dir
        assert re.fullmatch(r"postgres-(Mon|Tue|Wed|Thu|Fri|Sat|Sun)\.log", logfile.name)
        assert settings == {
            "log_truncate_on_rotation": "on",
            "log_rotation_age": "1440",
            "log_rotation_size": "0",
        }
        assert other.status()["logs"][0] == str(logfile)
        # a running app's idle pooled connection: the server ends it as it stops, and its
        # side then waits on the port for the app to close it (FIN_WAIT_2), which an idle
        # pool does not do until it next uses it
        held = psycopg.connect(other.url().replace("+psycopg", ""))
        port = other.port
        assert other.stop() and not other.is_running()
        assert "wangge log probe" in logfile.read_text()
        other.start()  # data persists across restarts
        # on the same port: the app, which knows the database by its address, reconnects
        assert other.port == port
        held.close()
        with psycopg.connect(other.url().replace("+psycopg", "")) as conn:
            assert conn.execute("SELECT x FROM kept").fetchone() == (42,)
    finally:
        other.stop()


def test_an_index_built_in_its_own_transaction_skips_the_wal(cluster: EmbeddedCluster) -> None:
    """The embedded cluster keeps the least WAL (no standby, no archive): an index built in the
    transaction that made it is written to its file and synced, not copied into the WAL too —
    what a bulk import's rebuild of the case indexes gains.  Crash safety stays (fsync on)."""
    import uuid

    table = f"wal_probe_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(cluster.url().replace("+psycopg", ""), autocommit=True) as conn:
        assert conn.execute("SHOW wal_level").fetchone() == ("minimal",)
        assert conn.execute("SHOW fsync").fetchone() == ("on",)
        try:
            conn.execute(f"CREATE TABLE {table} AS SELECT g AS n FROM generate_series(1, 400000) g")
            # its rows' hint bits set now: with data checksums, setting them logs the pages
            conn.execute(f"VACUUM {table}")
            with conn.transaction():
                before = conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()
                conn.execute(f"CREATE INDEX ON {table} (n)")
            size, wal = conn.execute(
                f"SELECT pg_relation_size('{table}_n_idx'),"
                " pg_current_wal_insert_lsn() - CAST(%s AS pg_lsn)",
                before,
            ).fetchone()
            assert size > 8 * 2**20  # (above wal_skip_threshold: smaller ones go to the WAL)
            assert wal < size / 10, (wal, size)
        finally:
            conn.execute(f"DROP TABLE IF EXISTS {table}")


def test_a_cluster_that_cannot_start_says_why(tmp_path: Path) -> None:
    """A bad setting stops the server before its log collector starts: the error quotes it."""
    other = EmbeddedCluster(tmp_path / ".wangge")
    other.init()
    with open(other.pgdata / "postgresql.auto.conf", "a") as conf:
        conf.write("shared_buffers = 'plenty'\n")
    with pytest.raises(ClusterError, match="shared_buffers") as failed:
        other.start(timeout_s=20)
    assert "[postgres.log]" in str(failed.value)
    assert not other.is_running()


def test_check_database_accepts_the_test_database(db: Session) -> None:
    found = check_database(db.get_bind().engine)  # type: ignore[union-attr]
    assert found["fsync"] == "on" and found["postgis"]


def test_text_is_ordered_by_code_point_and_compared_by_bytes(db: Session) -> None:
    """The databases wangge makes order text in "C" (PostgreSQL's fast path for codes and
    tokens: ``memcmp``, abbreviated keys), and keep ``C.UTF-8``'s character classes."""
    collate, ctype = db.execute(
        text("SELECT datcollate, datctype FROM pg_database WHERE datname = current_database()")
    ).one()
    assert (collate, ctype) == (COLLATE, CTYPE) == ("C", "C.UTF-8")
    names = ["网格", "Zhang", "邻里", "a", "Ärger", "张", "110105"]
    ordered = db.execute(
        text("SELECT array_agg(n ORDER BY n) FROM unnest(CAST(:n AS text[])) n"), {"n": names}
    ).scalar_one()
    assert ordered == sorted(names)  # Python orders str by code point
    assert db.execute(text("SELECT upper('ärger'), 'é' ~ '^[[:alpha:]]$'")).one() == ("ÄRGER", True)


def test_case_sources_are_the_same_in_the_database_the_model_and_the_names(db: Session) -> None:
    from gis.cases import SOURCE_NAMES
    from gis.models import CaseSource

    stored = db.execute(text("SELECT enum_range(NULL::case_source)::text[]")).scalar()
    assert stored == list(SOURCE_NAMES) == [s.value for s in CaseSource]


def test_check_database_refuses_synchronous_commit_off(database_url: str) -> None:
    engine = make_engine(database_url)
    engine.pool.dispose()
    unsafe = engine.execution_options()
    from sqlalchemy import create_engine

    unsafe = create_engine(database_url, connect_args={"options": "-c synchronous_commit=off"})
    with pytest.raises(DatabaseNotReady, match="synchronous_commit"):
        check_database(unsafe)
    unsafe.dispose()


def test_check_database_refuses_a_database_without_postgis(cluster: EmbeddedCluster) -> None:
    cluster.create_database("wangge_test_no_postgis")
    try:
        engine = make_engine(cluster.url("wangge_test_no_postgis"))
        with pytest.raises(DatabaseNotReady, match="PostGIS"):
            check_database(engine)
        engine.dispose()
    finally:
        cluster.drop_database("wangge_test_no_postgis")


def test_check_database_reports_an_unreachable_server() -> None:
    engine = make_engine("postgresql+psycopg://nobody:x@127.0.0.1:1/none")
    with pytest.raises(DatabaseNotReady, match="无法连接"):
        check_database(engine)


def test_case_events_are_append_only(db: Session) -> None:
    event_id = db.execute(text("SELECT id FROM case_event LIMIT 1")).scalar()
    with pytest.raises(Exception, match="append-only"), db.begin_nested():
        db.execute(text("UPDATE case_event SET note = 'x' WHERE id = :id"), {"id": event_id})
    with pytest.raises(Exception, match="append-only"), db.begin_nested():
        db.execute(text("DELETE FROM case_event WHERE id = :id"), {"id": event_id})


def test_a_grid_has_one_chief_and_known_parts(db: Session) -> None:
    """一主任三大员 (migration 0059): a part is one of the four; a second chief is refused when
    the transaction commits (deferred, so a team may be re-dealt in any order), here at once;
    the API answers such a refusal with a 409, not a 500."""
    grid, chief = db.execute(
        text("SELECT grid_code, worker_id FROM worker_grid WHERE role = 'chief' LIMIT 1")
    ).one()
    other = db.execute(
        text("SELECT id FROM worker WHERE id <> :w ORDER BY id LIMIT 1"), {"w": chief}
    ).scalar_one()
    add = text("INSERT INTO worker_grid (worker_id, grid_code, role) VALUES (:w, :g, :r)")
    with pytest.raises(Exception, match="worker_grid_role"), db.begin_nested():
        db.execute(add, {"w": other, "g": grid, "r": "boss"})
    with db.begin_nested():  # handed over: the new chief first, the old one after
        db.execute(add, {"w": other, "g": grid, "r": "chief"})
        db.execute(
            text("UPDATE worker_grid SET role = 'manager' WHERE worker_id = :w AND grid_code = :g"),
            {"w": chief, "g": grid},
        )
        db.execute(text("SET CONSTRAINTS worker_grid_one_chief IMMEDIATE"))
    db.execute(text("SET CONSTRAINTS worker_grid_one_chief DEFERRED"))
    with pytest.raises(IntegrityError, match="worker_grid_one_chief") as raised, db.begin_nested():
        db.execute(text("SET CONSTRAINTS worker_grid_one_chief IMMEDIATE"))
        db.execute(
            text("UPDATE worker_grid SET role = 'chief' WHERE worker_id = :w AND grid_code = :g"),
            {"w": chief, "g": grid},
        )
    # two changes to a team racing each other meet this at their commit: a 409 that says so
    from starlette.requests import Request

    from api.errors import _conflict_at_commit

    for lang, words in (("zh-CN", "一个网格只设一名网格长"), ("en", "a grid has one chief")):
        asked = Request({"type": "http", "headers": [(b"accept-language", lang.encode())],
                         "query_string": b"", "path": "/api/grids/x/workers"})  # fmt: skip
        answer = asyncio.run(_conflict_at_commit(asked, raised.value))
        assert answer.status_code == 409 and words in answer.body.decode()


def test_models_mirror_the_migrated_schema(db: Session) -> None:
    """Every column the ORM classes declare exists in the database the migrations build."""
    from gis.models import Base

    rows = db.execute(
        text(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public'"
        )
    ).all()
    columns = {(r[0], r[1]) for r in rows}
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            assert (table.name, column.name) in columns, f"{table.name}.{column.name}"


def test_sql_that_reads_open_cases_names_the_workflow_s_settled_statuses(db: Session) -> None:
    """The partial indexes of open cases and the redraw's re-assignment list the statuses that
    end or pause a case in SQL: they must be the workflow's, or a case would be skipped or an
    index never used."""
    from gis.workflow import SETTLED_OR_PAUSED

    sources = dict(
        db.execute(
            text("""SELECT indexname, indexdef FROM pg_indexes
                    WHERE tablename = 'cases' AND indexdef LIKE '%WHERE%status%'
                    UNION ALL
                    SELECT proname, prosrc FROM pg_proc WHERE proname = 'wangge_edit_regrid'""")
        ).all()
    )
    assert {"cases_open_grid", "cases_open_uncovered", "wangge_edit_regrid"} <= set(sources)
    settled_list = re.compile(r"status\)?(?:::text)? (?:NOT IN \(|<> ALL \(\(?ARRAY\[)([^\])]*)")
    for name, source in sources.items():
        listed = settled_list.search(source)
        assert listed, (name, source)
        assert set(re.findall(r"'(\w+)'", listed.group(1))) == set(SETTLED_OR_PAUSED), name


def test_open_cases_are_read_through_the_partial_indexes_by_any_plan(db: Session) -> None:
    """``open_sql`` is the partial indexes' own predicate: even a prepared statement's generic
    plan (the one a pooled connection settles on) can read a center's open cases through
    ``cases_open_center`` (with a parameter in the predicate it could not).

    Which of the possible plans is cheapest depends on the statistics of the moment (a run in
    CI once read ``cases_center`` and filtered): the competing index and the sequential scan
    are taken out of the choice, in this rolled-back transaction."""
    from gis.workflow import open_sql

    db.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
    db.execute(text("SET LOCAL enable_seqscan = off"))
    db.execute(text("DROP INDEX cases_center"))
    db.execute(
        text(f"""PREPARE open_of_center(integer) AS
                 SELECT count(*) FROM cases c WHERE c.center_id = $1 AND {open_sql("c")}""")
    )
    try:
        plan = "\n".join(db.execute(text("EXPLAIN EXECUTE open_of_center(1)")).scalars())
    finally:
        db.execute(text("DEALLOCATE open_of_center"))
    assert "cases_open_center" in plan, plan


def test_migration_0045_moves_open_cases_off_closed_grid_versions(
    db: Session, demo_city: DemoCity
) -> None:
    """Cases that a commit left on a grid version it closed (before migration 0041) go onto the
    layout as it stands if still open, with a regrid event; settled ones stay (their history)."""
    from gis.db import earlier_migration

    repair = earlier_migration("0045_stale_open_cases_repaired.py")
    grid = demo_city.grids[0]
    retired = "9" * 15  # the same ground under another code, closed by a commit
    db.execute(
        text("""INSERT INTO grid (code, version, name, village_id, geom, valid_from, valid_to)
                SELECT :old, 1, '旧网格', village_id, geom, valid_from - interval '1 year',
                       valid_from
                FROM grid WHERE code = :c AND valid_to IS NULL"""),
        {"old": retired, "c": grid.code},
    )
    db.execute(text(repair.SCOPE))
    ids = (
        db.execute(
            text("SELECT id FROM cases WHERE grid_code = :c ORDER BY id LIMIT 2"), {"c": grid.code}
        )
        .scalars()
        .all()
    )
    assert len(ids) == 2
    for case_id, status in zip(ids, ("in_progress", "closed"), strict=True):
        db.execute(
            text("""UPDATE cases SET status = :s, grid_code = CAST(:old AS varchar),
                        grid_id = (SELECT id FROM grid WHERE code = :old)
                    WHERE id = :id"""),
            {"s": status, "old": retired, "id": case_id},
        )
    assert db.execute(text(repair.REPAIR)).one().updated == 1
    got = db.execute(
        text("""SELECT c.grid_code, g.valid_to IS NULL AS current,
                       (SELECT string_agg(e.actor || ' ' || e.note, '; ') FROM case_event e
                        WHERE e.case_id = c.id AND e.action = 'regrid') AS regrid
                FROM cases c JOIN grid g ON g.id = c.grid_id
                WHERE c.id = ANY(:ids) ORDER BY c.id"""),
        {"ids": list(ids)},
    ).all()
    assert [tuple(r) for r in got] == [
        (grid.code, True, f"系统升级 网格调整：{retired} → {grid.code}"),
        (retired, False, None),
    ]
    assert db.execute(text(repair.REPAIR)).one().updated == 0  # nothing left to move


def _dropped_then_used(url: str, monkeypatch: pytest.MonkeyPatch, idle_s: float) -> None:
    """A pooled connection is killed by the server; the next checkout runs a statement."""
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_S", idle_s)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with make_engine(url).connect() as killer:
            assert killer.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
        with engine.connect() as conn:  # the pooled (dead) connection is checked out again
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    finally:
        engine.dispose()


def test_an_idle_pooled_connection_is_pinged_and_replaced_when_dead(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _dropped_then_used(database_url, monkeypatch, idle_s=0.0)


def test_a_just_used_pooled_connection_is_not_pinged(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trade-off of pinging only idle connections: one broken seconds after its last use
    fails its next statement (and SQLAlchemy then discards the pool)."""
    with pytest.raises(OperationalError):
        _dropped_then_used(database_url, monkeypatch, idle_s=3600.0)


def test_a_failed_statement_s_message_leaves_out_its_parameters(database_url: str) -> None:
    """An error's message, which the server's log prints with its traceback, names the
    statement but not what was sent with it (a description, a phone)."""
    engine = make_engine(database_url)
    try:
        with pytest.raises(Exception) as failed, engine.connect() as conn:
            conn.execute(text("SELECT length(:said) / 0"), {"said": "王某 13812345678"})
        assert "division by zero" in str(failed.value) and "SELECT length" in str(failed.value)
        assert "13812345678" not in str(failed.value)
    finally:
        engine.dispose()


def test_execute_arrays_sends_lists_in_binary_and_reads_binds_as_text_does(db: Session) -> None:
    """``:name`` binds (not a ``::`` cast, not a time's minutes), a literal ``%``, and lists
    that arrive whole: bytes with every byte value, NULLs, an empty list."""
    every_byte = bytes(range(256))
    row = execute_arrays(
        db,
        """SELECT CAST(:blobs AS bytea[]) AS blobs, :n::int + 1 AS n, '50%' AS pct,
                  time '08:30' AS at, CAST(:none AS text[]) AS none, CAST(:ids AS int[]) AS ids""",
        {"blobs": [every_byte, None, b""], "n": 1, "none": [None, "李"], "ids": []},
    ).one()
    assert row.blobs == [every_byte, None, b""]
    assert (row.n, row.pct, str(row.at), row.none, row.ids) == (
        2,
        "50%",
        "08:30:00",
        [None, "李"],
        [],
    )


def test_a_reports_case_code_is_spelt_as_a_bulk_imports(db: Session) -> None:
    """一案一码: ``wangge_case_code`` (a report's, PL/pgSQL: planned once per connection) and
    ``wangge_case_code_of`` (the bulk import's, inlined) spell a code alike — the county, the
    day in Beijing (after 16:00 UTC, the next day), the number in eight digits or more."""
    db.execute(text("SELECT setval('case_code_seq', 99999998)"))
    for at, district in [
        ("2026-12-06 15:59:59+00", "990102"),
        ("2026-12-06 16:00:00+00", "990102001"),
        ("2026-12-06 16:00:00+00", None),
        ("2026-01-01 00:00:00+08", "440305"),
    ]:
        made, same = db.execute(
            text("""SELECT c, wangge_case_code_of(CAST(:at AS timestamptz), :d,
                                                   currval('case_code_seq'))
                    FROM wangge_case_code(CAST(:at AS timestamptz), :d) AS c"""),
            {"at": at, "d": district},
        ).one()
        assert made == same, (at, district)
    assert made == "440305260101100000002"  # (the fourth: 99999998 + 4, nine digits)
