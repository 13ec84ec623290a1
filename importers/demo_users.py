"""Demo accounts: one per role and level, so a newcomer can log in and see the difference.

All share :data:`DEMO_PASSWORD` (documented in README).  They exist only in a database the demo
city was loaded into — never in a real deployment's data.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.permissions import Role
from gis.users import add_user

DEMO_PASSWORD = "Wangge#Demo2026"


def _first(session: Session, level: str, under: str | None = None, skip: int = 0) -> str:
    return str(
        session.execute(
            text("""
        SELECT r.code FROM region r LEFT JOIN region p ON p.id = r.parent_id
        WHERE r.level = CAST(:level AS region_level)
          AND (CAST(:under AS text) IS NULL OR p.code = :under)
        ORDER BY r.code OFFSET :skip LIMIT 1
    """),
            {"level": level, "under": under, "skip": skip},
        ).scalar_one()
    )


def add_demo_users(session: Session) -> list[str]:
    """Create the demo accounts; returns their user names."""
    city = _first(session, "city")
    district = _first(session, "district", city)
    other_district = _first(session, "district", city, skip=1)
    township = _first(session, "township", district)
    other_township = _first(session, "township", other_district)
    village = _first(session, "village", township)
    worker = session.execute(
        text(
            "SELECT w.code FROM worker w JOIN region r ON r.id = w.region_id "
            "WHERE r.code = :village ORDER BY w.code LIMIT 1"
        ),
        {"village": village},
    ).scalar_one()
    accounts = [
        ("admin", Role.admin, None, None, "系统管理员"),
        ("city_commander", Role.commander, city, None, "市指挥中心"),
        ("city_operator", Role.operator, city, None, "市综治中心"),
        ("district_operator", Role.operator, district, None, "区综治中心"),
        ("district_planner", Role.planner, district, None, "区网格规划员"),
        ("township_operator", Role.operator, township, None, "街道综治中心"),
        ("township_operator_b", Role.operator, other_township, None, "另一区的街道综治中心"),
        ("village_operator", Role.operator, village, None, "社区综治服务站"),
        ("grid_worker", Role.grid_worker, None, worker, "网格员"),
    ]
    for username, role, region, worker_code, display in accounts:
        add_user(
            session,
            username,
            role,
            DEMO_PASSWORD,
            region_code=region,
            worker_code=worker_code,
            display_name=f"示例·{display}",
            actor="demo",
        )
    return [a[0] for a in accounts]


def ensure_demo_users(session: Session) -> bool:
    """Give a demo-city database from before accounts existed its demo users.

    True if it created them; False if there are users already or the data is not the demo's.
    """
    if session.execute(text("SELECT EXISTS (SELECT 1 FROM app_user)")).scalar():
        return False
    top = session.execute(
        text("SELECT name FROM region WHERE parent_id IS NULL ORDER BY code LIMIT 1")
    ).scalar()
    if top != "示例市":
        return False
    add_demo_users(session)
    return True
