"""Putting the demo city back as it was loaded: ``wangge demo reset``.

A trial or a training day leaves the demo city full of what was tried: cases reported and moved
through the loop, grids redrawn, accounts changed, photos uploaded.  Reset deletes the database
and loads the demo again, as ``make run`` does on a fresh machine — after checking that what it
deletes *is* the demo: every region code of province 99 (which does not exist, so a real city's
codes never are), the one top region 示例市.  A database holding anything else (a city's own
boundaries imported beside or instead of the demo's) is refused and left as it is.

Only a database of the embedded cluster is reset (``DROP DATABASE … WITH (FORCE)``: a running
server's connections are ended and its users must log in again).  The residents' personal-data
key (``pii.key``) is kept: the new demo's parties are encrypted with it.  The photo files that
no row names any more are removed from the photo folder.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.db import make_engine, prepare_database, session_scope
from gis.embedded import DATABASE, EmbeddedCluster
from gis.errors import InvalidInput
from gis.photo_files import check_folder
from gis.pii import load_cipher
from gis.settings import Settings
from importers.demo import CITY_CODE, CITY_NAME, generate_demo_city
from importers.demo_load import LoadReport, load_demo_city

#: the demo's codes: province 99, which does not exist
DEMO_PREFIX = CITY_CODE[:2]


@dataclass(frozen=True)
class DemoContents:
    """What a reset would delete."""

    database: str
    cases: int
    users: int
    edits: int
    photos: int

    def describe(self, lang: str = "zh") -> str:
        if lang == "en":
            return (
                f"database {self.database}: the demo city with {self.cases:,} cases, "
                f"{self.users} accounts, {self.edits} grid edit sets and {self.photos} photos"
            )
        return (
            f"数据库 {self.database}：示例市，{self.cases:,} 件案件、{self.users} 个账号、"
            f"{self.edits} 个网格调整方案、{self.photos} 张照片"
        )


def embedded_database(settings: Settings) -> tuple[EmbeddedCluster, str]:
    """The embedded cluster and the name of the database ``settings`` point at, which must be
    one of that cluster's (running)."""
    cluster = EmbeddedCluster(settings.data_dir)
    if not cluster.is_running():
        raise InvalidInput(
            f"嵌入式数据库（{cluster.data_dir}）没有运行：请先运行 `wangge db start`。",
            f"The embedded database ({cluster.data_dir}) is not running: run `wangge db start` "
            "first.",
        )
    if not settings.database_url:
        return cluster, DATABASE
    name = settings.database_url.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
    if settings.database_url != cluster.url(name):
        raise InvalidInput(
            "已设置 DATABASE_URL 指向外部数据库：示例数据只在嵌入式数据库中重置，"
            "外部数据库请由其管理员删除重建后运行 `wangge up`。",
            "DATABASE_URL points at an external database: the demo is reset in the embedded "
            "database only; have its administrator drop and create it, then run `wangge up`.",
        )
    return cluster, name


def demo_contents(session: Session, database: str) -> DemoContents | None:
    """What the database holds, if it is the demo city (or empty); None if it holds anything
    else: a region not of province 99, or a top region other than 示例市 (or, not yet migrated,
    any table)."""
    if session.execute(text("SELECT to_regclass('public.region') IS NULL")).scalar_one():
        tables = session.execute(
            text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                 "AND tablename <> 'spatial_ref_sys'")
        ).scalar_one()  # fmt: skip
        return None if tables else DemoContents(database, 0, 0, 0, 0)
    foreign, tops = session.execute(
        text("""
        SELECT (SELECT count(*) FROM region WHERE left(code, 2) <> :prefix),
               (SELECT array_agg(code || ' ' || name ORDER BY code) FROM region
                WHERE parent_id IS NULL)
    """),
        {"prefix": DEMO_PREFIX},
    ).one()
    if foreign or (tops is not None and tops != [f"{CITY_CODE} {CITY_NAME}"]):
        return None
    cases, users, edits, photos = session.execute(
        text("""
        SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM app_user),
               (SELECT count(*) FROM grid_edit),
               (SELECT count(*) FROM case_photo) + (SELECT count(*) FROM patrol_photo)
    """)
    ).one()
    return DemoContents(database, int(cases), int(users), int(edits), int(photos))


def _not_the_demo(database: str) -> InvalidInput:
    return InvalidInput(
        f"数据库 {database} 中不只是示例市（有不属于示例市的行政区划），不能重置：重置会删除全部"
        "数据。未做任何更改。",
        f"Database {database} holds more than the demo city (regions that are not the demo's): "
        "a reset would delete everything in it. Nothing was changed.",
    )


def inspect_demo(settings: Settings) -> DemoContents:
    """What ``wangge demo reset`` would delete; raises if it would refuse."""
    cluster, name = embedded_database(settings)
    engine = make_engine(cluster.url(name))
    try:
        with session_scope(engine) as session:
            found = demo_contents(session, name)
    finally:
        engine.dispose()
    if found is None:
        raise _not_the_demo(name)
    return found


def reset_demo(settings: Settings, *, seed: int = 2026, size: str = "city") -> LoadReport:
    """Delete the demo database and load the demo city (``seed``, ``size``) into it anew; then
    remove the photo files no row names.  Refuses (nothing changed) unless the database holds
    the demo city only (:func:`demo_contents`)."""
    cluster, name = embedded_database(settings)
    inspect_demo(settings)
    # (checked again under the drop's own connection would not help: the check and the drop
    # are a moment apart either way, and only an import of another city could come between)
    cluster.drop_database(name)
    cluster.create_database(name)
    url = prepare_database(
        settings.model_copy(
            update={
                "database_url": cluster.url(name),
                "app_db_password": settings.app_db_password or cluster.app_password(),
            }
        )
    )
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            report = load_demo_city(
                session, generate_demo_city(seed=seed, size=size), load_cipher(settings)
            )
        with session_scope(engine) as session:
            check_folder(session, settings.photos_path, prune=True, grace_hours=0)
    finally:
        engine.dispose()
    return report
