"""The spatial model (SQLAlchemy 2 + GeoAlchemy2).  Storage SRID 4326 (WGS 84), GIST everywhere.

The schema itself is created by the alembic migrations in ``migrations/``; these classes mirror it
for queries.  Geometry columns hold WGS 84 lon/lat; metres come from ``::geography``.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA, ENUM, INET, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from geoalchemy2 import Geometry, WKBElement

from gis import WGS84


class Base(DeclarativeBase):
    pass


class RegionLevel(enum.StrEnum):
    """Administrative levels, top down.  The enum order is the hierarchy order."""

    city = "city"
    district = "district"
    township = "township"
    village = "village"


class CaseKind(enum.StrEnum):
    dispute = "dispute"  # 矛盾纠纷
    hazard = "hazard"  # 安全隐患


class Severity(enum.StrEnum):
    minor = "minor"  # 轻微
    normal = "normal"  # 一般
    major = "major"  # 较大
    critical = "critical"  # 重大


class CaseSource(enum.StrEnum):
    """Where a case came from (案件来源; names in ``gis.cases.SOURCE_NAMES``)."""

    grid_worker = "grid_worker"  # 网格员上报
    walk_in = "walk_in"  # 群众来访
    hotline = "hotline"  # 12345热线
    police_diversion = "police_diversion"  # 110非警务警情分流
    petition = "petition"  # 信访
    online = "online"  # 网上反映
    other = "other"  # 其他


class AssignMethod(enum.StrEnum):
    """How a point got its owner (see :mod:`gis.locate`)."""

    covers = "covers"
    nearest = "nearest"
    region = "region"
    unassigned = "unassigned"


#: Case states of the closed loop (研交办督结评).  Transitions arrive with the workflow.
CASE_STATUSES = (
    "registered",
    "accepted",
    "dispatched",
    "in_progress",
    "resolved",
    "verified",
    "closed",
    "returned",
    "transferred",
    "escalated",
    "suspended",
    "reopened",
)
OPEN_STATUSES = tuple(s for s in CASE_STATUSES if s != "closed")

DATUMS = ("wgs84", "cgcs2000", "gcj02", "bd09")

_level = ENUM(RegionLevel, name="region_level", create_type=False)
_kind = ENUM(CaseKind, name="case_kind", create_type=False)
_severity = ENUM(Severity, name="case_severity", create_type=False)
_method = ENUM(AssignMethod, name="assign_method", create_type=False)


class Region(Base):
    """A city, district, township/street or village/community.

    ``code`` is the national statistical code: 6 digits for city and district (GB/T 2260),
    9 for a township, 12 for a village.  ``parent`` may skip a level (townships directly under a
    city that has no districts).
    """

    __tablename__ = "region"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(Text)
    level: Mapped[RegionLevel] = mapped_column(_level)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=WGS84, spatial_index=False)
    )
    #: ids of the ancestors, top down, itself last (kept by a trigger): jurisdiction tests
    path: Mapped[list[int]] = mapped_column(ARRAY(Integer))

    parent: Mapped[Region | None] = relationship(remote_side=[id])


class Grid(Base):
    """One version of a grid cell (网格).  ``code`` = village code + 3-digit sequence.

    A redraw closes a version (``valid_to``) and opens another; the current layout is the set of
    rows with ``valid_to IS NULL``.
    """

    __tablename__ = "grid"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(15))
    version: Mapped[int] = mapped_column(Integer, default=1)
    name: Mapped[str] = mapped_column(Text)
    village_id: Mapped[int] = mapped_column(ForeignKey("region.id"))
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=WGS84, spatial_index=False)
    )
    households: Mapped[int | None] = mapped_column(Integer)
    population: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    edit_id: Mapped[int | None] = mapped_column(Integer)  # the edit set that made this version
    lineage: Mapped[list[int]] = mapped_column(ARRAY(Integer), default=list)
    #: its area on the ellipsoid, m² (migration 0060: generated from ``geom``)
    area_m2: Mapped[float] = mapped_column(
        Float, Computed("ST_Area(CAST(geom AS geography))", persisted=True)
    )

    village: Mapped[Region] = relationship()


class Center(Base):
    """A governance center (综治中心) or village service station; serves one region."""

    __tablename__ = "center"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), unique=True)
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=WGS84, spatial_index=False))
    phone: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)

    region: Mapped[Region] = relationship()


class Worker(Base):
    """A grid worker (网格员)."""

    __tablename__ = "worker"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))


class WorkerGrid(Base):
    """Which grids a worker is responsible for, by grid code (stable across redraws)."""

    __tablename__ = "worker_grid"

    worker_id: Mapped[int] = mapped_column(
        ForeignKey("worker.id", ondelete="CASCADE"), primary_key=True
    )
    grid_code: Mapped[str] = mapped_column(String(15), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), default="chief")


class Category(Base):
    """A case category: what kind of dispute or hazard."""

    __tablename__ = "category"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[CaseKind] = mapped_column(_kind)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    default_severity: Mapped[Severity] = mapped_column(_severity)


class Case(Base):
    """A report once accepted: one code (一案一码), where it is, whose it is, where it stands."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[CaseKind] = mapped_column(_kind)
    category: Mapped[str] = mapped_column(ForeignKey("category.code"))
    severity: Mapped[Severity] = mapped_column(_severity)
    description: Mapped[str] = mapped_column(Text)
    datum: Mapped[str] = mapped_column(String(10))
    # the point: none for an old ledger's case that names its village instead (migration 0080)
    received_lon: Mapped[float | None] = mapped_column(Float)
    received_lat: Mapped[float | None] = mapped_column(Float)
    geom: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=WGS84, spatial_index=False)
    )
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"))
    grid_code: Mapped[str | None] = mapped_column(String(15))
    village_code: Mapped[str | None] = mapped_column(String(12))
    township_code: Mapped[str | None] = mapped_column(String(12))
    district_code: Mapped[str | None] = mapped_column(String(12))
    city_code: Mapped[str | None] = mapped_column(String(12))
    center_id: Mapped[int | None] = mapped_column(ForeignKey("center.id"))
    assign_method: Mapped[AssignMethod] = mapped_column(_method)
    assign_distance_m: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="registered")
    source: Mapped[CaseSource] = mapped_column(
        ENUM(CaseSource, name="case_source", create_type=False), server_default="other"
    )


class CaseEvent(Base):
    """One step in a case's history.  Append-only: the database refuses UPDATE and DELETE."""

    __tablename__ = "case_event"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class AppUser(Base):
    """A login.  Non-admins belong to a region; grid workers may be linked to a worker."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(ENUM(name="user_role", create_type=False))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("worker.id"))
    password_hash: Mapped[str] = mapped_column(Text)  # argon2id
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    password_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuthSession(Base):
    """A bearer session; only the token's SHA-256 is stored."""

    __tablename__ = "auth_session"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(BYTEA, unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source_ip: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(Text)  # the browser's, as it logged in


class AuditEntry(Base):
    """One line of the append-only audit trail."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(64))
    object: Mapped[str | None] = mapped_column(Text)
    success: Mapped[bool] = mapped_column(Boolean)
    source_ip: Mapped[str | None] = mapped_column(INET)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class CasePhoto(Base):
    """A photo of a case: a stored file with EXIF/GPS stripped (see gis.photos)."""

    __tablename__ = "case_photo"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    upload_sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(20))
    bytes: Mapped[int]
    width: Mapped[int]
    height: Mapped[int]
    file_name: Mapped[str] = mapped_column(String(80))
    thumb_name: Mapped[str] = mapped_column(String(80))
    uploaded_by: Mapped[str | None] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CaseParty(Base):
    """A resident party to a case; personal data as AES-GCM ciphertext (see gis.pii)."""

    __tablename__ = "case_party"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    role: Mapped[str] = mapped_column(String(16))
    name_enc: Mapped[bytes | None] = mapped_column(BYTEA)
    phone_enc: Mapped[bytes | None] = mapped_column(BYTEA)
    id_card_enc: Mapped[bytes | None] = mapped_column(BYTEA)
    phone_index: Mapped[bytes | None] = mapped_column(BYTEA)  # HMAC blind index
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
