"""Planner edits (网格调整): edit sets of split, merge, redraw, create, retire, recode, assign.

An edit set is a draft over the current layout.  Each operation loads the *working layout* of one
village (its current grids, overlaid with the edit set's draft rows in ``grid_edit_item``),
changes it with shapely (the split itself is PostGIS's ``ST_Split``) and stores the grids it
touched.  New edges snap to the village's other grids and boundary within :data:`TOLERANCE_M`, so
no slivers appear.

* :func:`validate` checks the working layout of every village the edit set touches, as a whole:
  grids inside their village, no overlaps, no gaps (unless declared uncovered), codes unique with
  the village's prefix.  A problem the current layout already has is not the edit set's doing
  and is left out; a problem the edit set *adds* blocks the commit (land declared uncovered is
  reported without blocking).  The check is the SQL function ``wangge_edit_findings``; each
  overlap it finds is computed again by shapely, whose newer GEOS drops the ones PostGIS's
  GEOS 3.11 invents (:func:`_real_overlaps`).
* :func:`commit` locks the versions the edit set was drawn on (409 naming the grids someone else
  changed meanwhile), validates again, closes the changed versions (``valid_to``) and opens new
  ones, moves worker links, and re-assigns the open cases of the changed area through the locate
  spine (``wangge_edit_regrid``: a GiST join, ``wangge_assign`` for uncovered points) in one
  statement (``wangge_edit_reassign``) that also writes a ``regrid`` case event for each case
  whose grid or center changed.  Closed cases keep the version they were handled under.
* :func:`preview` runs the same writes inside a savepoint and rolls them back: what it reports is
  exactly what the commit would do.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from gis import geo
from gis.errors import Conflict, Forbidden, InvalidInput, NotFound
from gis.geo import area_m2
from gis.roles import check_roles, role_name
from gis.scope import Scope
from gis.worktime import SHANGHAI

#: snapping and validation tolerance, metres
TOLERANCE_M = 1.0
#: the tolerance in degrees (of latitude: the smaller of the two, so never more than a metre)
TOL_DEG = TOLERANCE_M / 110574.0
OPERATIONS = ("split", "merge", "redraw", "create", "retire", "recode", "assign")
OP_NAMES = {
    "split": "拆分",
    "merge": "合并",
    "redraw": "重绘",
    "create": "新建",
    "retire": "撤销",
    "recode": "改编码/改名",
    "assign": "配置网格员",
}
OP_NAMES_EN = {
    "split": "Split",
    "merge": "Merge",
    "redraw": "Redraw",
    "create": "New grid",
    "retire": "Retire",
    "recode": "Rename / new code",
    "assign": "Grid workers",
}
#: what an operation did, in Chinese and in English
Said = tuple[str, str]


@dataclass(frozen=True)
class Actor:
    """Who edits: their username, jurisdiction, and whether they administer everything."""

    username: str
    scope: Scope
    is_admin: bool = False


# ---------------------------------------------------------------------------------------------
# geometry helpers


def polygonal(geom: BaseGeometry | None) -> BaseGeometry | None:
    """The polygonal part of ``geom``, made valid, as a MultiPolygon (None when nothing is left)."""
    if geom is None or geom.is_empty:
        return None
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    polys = [
        p
        for part in shapely.get_parts(geom)
        if part.geom_type in ("Polygon", "MultiPolygon")
        for p in shapely.get_parts(part)
        if not p.is_empty
    ]
    return shapely.MultiPolygon(polys) if polys else None


def union_of(geoms: list[BaseGeometry]) -> BaseGeometry:
    """The union of polygonal ``geoms``, checked.

    GEOS' cascaded union (shapely 2, GEOS 3.14) went wrong on the 38 grids of a village a fuzzed
    planner session had redrawn: valid, but without 2,600 m² of one grid — and a new grid
    drawn there with ``clip`` was put on top of two others (18,455 m² held twice); with one grid
    more it returned an invalid union (nested shells), and on a fuzzed edit set's declared gaps
    it threw ('Ring edge missing').  So the union must come, be valid and hold
    every input (what an input has outside it no wider than the tolerance); else it is taken
    again with snap-rounding to :data:`gis.geo.SNAP_GRID_DEG`, robust by construction."""
    return geo.union(
        geoms,
        lambda whole: (
            not any(significant(polygonal(rest)) for rest in shapely.difference(geoms, whole))
        ),
    )


def significant(geom: BaseGeometry | None) -> bool:
    """Whether a polygonal piece is wider than the tolerance anywhere (thinner ones are noise)."""
    return geom is not None and not geom.is_empty and not geom.buffer(-TOL_DEG / 2).is_empty


def _pieces(geom: BaseGeometry | None) -> list[BaseGeometry]:
    """The significant polygons of ``geom``."""
    g = polygonal(geom)
    return [p for p in shapely.get_parts(g) if significant(p)] if g is not None else []


#: the advisory lock on the grid layout: a commit (and a grid import) takes it exclusive, the
#: intake shared before it locates a report (migration 0041), so that a report is located on the
#: layout before a commit or after it, never on the old one and left there by the commit; the
#: deadline clock takes it shared too (its bulk update of cases could deadlock with a commit's)
LAYOUT_LOCK = (74111, 0)

#: the most vertices one drawn geometry may have (a village's outline has a few thousand)
MAX_VERTICES = 20_000
#: vertices of a drawn geometry closer than this (degrees, about 1 cm) are taken as one: far
#: below the tolerance, and a ring of thousands of vertices a hair apart took GEOS minutes and
#: gigabytes to make valid once snapped (a fuzzed 5,000-vertex zigzag: 15 GB, the server stuck)
DENSE_DEG = 1e-7


#: how deep each kind's coordinates nest above its positions, and the fewest positions of the
#: innermost list (a ring's closing position repeats its first, which shapely adds if missing)
_NESTING = {"LineString": (1, 2), "MultiLineString": (2, 2), "Polygon": (2, 3),
            "MultiPolygon": (3, 3)}  # fmt: skip


def _brief(value: Any) -> str:
    text_ = json.dumps(value, ensure_ascii=False, default=str)
    return text_ if len(text_) <= 40 else text_[:37] + "…"


def _check_structure(value: Any, field_name: str, kinds: tuple[str, ...]) -> None:
    """Refuse malformed GeoJSON with a message that names the place and the fault (shapely's own
    errors are Python's: 'list index out of range', 'inhomogeneous shape after 1 dimensions')."""

    def refuse(zh: str, en: str) -> InvalidInput:
        return InvalidInput(zh, en, field=field_name)

    wanted_zh, wanted_en = " 或 ".join(kinds), " or ".join(kinds)
    if not isinstance(value, dict):
        raise refuse(
            f"{field_name} 应为 GeoJSON 几何对象（{wanted_zh}，含 type 与 coordinates），"
            f"收到 {_brief(value)}",
            f"{field_name} must be a GeoJSON geometry object ({wanted_en}, with type and "
            f"coordinates); got {_brief(value)}",
        )
    kind = value.get("type")
    if kind not in kinds:
        raise refuse(
            f"{field_name} 应为 {wanted_zh}，收到 {_brief(kind)}",
            f"{field_name} must be a {wanted_en}; got {_brief(kind)}",
        )
    if "coordinates" not in value:
        raise refuse(f"{field_name} 缺少 coordinates", f"{field_name} has no coordinates")
    depth, fewest = _NESTING[kind]

    def walk(node: Any, level: int, where: str) -> None:
        if level == 0:  # a position
            if (
                not isinstance(node, list | tuple)
                or len(node) not in (2, 3)
                or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in node)
            ):
                raise refuse(
                    f"{where} 应为坐标 [经度, 纬度]，收到 {_brief(node)}",
                    f"{where} must be a position [lon, lat]; got {_brief(node)}",
                )
            return
        if not isinstance(node, list | tuple):
            raise refuse(
                f"{where} 应为数组，收到 {_brief(node)}",
                f"{where} must be an array; got {_brief(node)}",
            )
        for k, child in enumerate(node):
            walk(child, level - 1, f"{where}[{k}]")
        if level == 1 and node:  # a line or a ring
            closed = len(node) > 1 and node[0] == node[-1]
            if len(node) - closed < fewest:
                shape_zh, shape_en = ("这条线", "line") if fewest == 2 else ("这个环", "ring")
                raise refuse(
                    f"{where} {shape_zh}只有 {len(node) - closed} 个点（不计闭合点），"
                    f"至少需要 {fewest} 个",
                    f"{where}: this {shape_en} has {len(node) - closed} points (not counting "
                    f"the closing one); it needs at least {fewest}",
                )
        if not node and level < depth and where.count("[") > 0:
            raise refuse(
                f"{where} 是空的：删去它，或给出它的坐标",
                f"{where} is empty: remove it or give its coordinates",
            )

    walk(value["coordinates"], depth, f"{field_name}.coordinates")


def _lon_lat(x: Any, y: Any) -> bool:
    """Whether the arrays ``x``, ``y`` are all longitudes and latitudes."""
    return bool(((x >= -180) & (x <= 180)).all() and ((y >= -90) & (y <= 90)).all())


def parse_geometry(value: Any, field_name: str, kinds: tuple[str, ...]) -> BaseGeometry:
    """A GeoJSON geometry (or Feature) in WGS 84 lon/lat, of one of ``kinds``."""
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    _check_structure(value, field_name, kinds)
    try:
        geom = shape(value)
    except Exception as exc:  # shapely raises several types for malformed GeoJSON
        raise InvalidInput(
            f"{field_name} 不是有效的 GeoJSON 几何：{exc}",
            f"{field_name} is not a valid GeoJSON geometry: {exc}",
            field=field_name,
        ) from None
    if geom.geom_type not in kinds:
        raise InvalidInput(
            f"{field_name} 应为 {' 或 '.join(kinds)}，收到 {geom.geom_type}",
            f"{field_name} must be a {' or '.join(kinds)}; got {geom.geom_type}",
            field=field_name,
        )
    geom = shapely.force_2d(geom)  # a height (GeoJSON's third number: a GPS's, KML's) is dropped
    coords = shapely.get_coordinates(geom)
    if (
        geom.is_empty
        or not all(math.isfinite(c) for c in coords.ravel())
        or not _lon_lat(coords[:, 0], coords[:, 1])
    ):
        swapped = not geom.is_empty and _lon_lat(coords[:, 1], coords[:, 0])
        metres = not geom.is_empty and bool((abs(coords) > 1000).any())
        zh, en = (
            ("：是否把经度和纬度填反了？GeoJSON 中经度在前",
             "; did you swap longitude and latitude? GeoJSON puts longitude first")
            if swapped
            else ("：这些坐标像是米（投影坐标系），请在 GIS 软件中另存为 EPSG:4326 再提交",
                  "; these look like metres (a projected CRS): save it as EPSG:4326 first")
            if metres
            else ("", "")
        )  # fmt: skip
        raise InvalidInput(
            f"{field_name} 的坐标须为 WGS 84 经纬度（经度 -180…180，纬度 -90…90）且不能为空{zh}",
            f"{field_name} must have WGS 84 lon/lat coordinates (-180…180, -90…90) and not be "
            f"empty{en}",
            field=field_name,
        )
    if len(coords) > MAX_VERTICES:
        raise InvalidInput(
            f"{field_name} 有 {len(coords):,} 个顶点，超过 {MAX_VERTICES:,} 个：请简化后再提交。",
            f"{field_name} has {len(coords):,} vertices, more than {MAX_VERTICES:,}: simplify it "
            "and send it again.",
            field=field_name,
        )
    no_area = InvalidInput(
        f"{field_name} 没有面积（各点重合或在一条线上）：请重新画一个面。",
        f"{field_name} has no area (its points coincide or lie on one line): draw an area.",
        field=field_name,
    )
    try:
        geom = shapely.remove_repeated_points(geom, tolerance=DENSE_DEG)
    except shapely.errors.GEOSException:  # a ring of fewer than three points once thinned
        raise no_area from None
    if geom.geom_type in ("Polygon", "MultiPolygon") and not geom.is_valid:
        # a ring that crosses itself (a bow-tie), or an unclosed one: repaired as an import
        # repairs it (its polygonal parts), so that no later overlay meets an invalid shape
        repaired = polygonal(geom)
        if repaired is None:
            raise no_area
        geom = repaired
    return geom


def _wkb(geom: BaseGeometry | None) -> bytes | None:
    return None if geom is None else shapely.to_wkb(geom, include_srid=False)


def _geom(wkb: bytes | memoryview | None) -> BaseGeometry | None:
    return None if wkb is None else shapely.from_wkb(bytes(wkb))


# ---------------------------------------------------------------------------------------------
# the working layout of one village


@dataclass
class Item:
    """One grid of the working layout: a current grid, or the edit set's draft of it."""

    code: str
    name: str
    village_id: int
    geom: Any  # a shapely (Multi)Polygon; None: retired
    households: int | None = None
    population: int | None = None
    from_id: int | None = None
    from_version: int | None = None
    workers: list[str] | None = None
    lineage: set[int] = field(default_factory=set)
    item_id: int | None = None
    dirty: bool = False
    # with ``workers``: the worker links the list was drawn from, by the current grid code
    # they were read on; at the commit, changes made to those links since are kept
    seen: dict[str, list[str]] | None = None
    # with ``workers``: the parts it gives some of them in the team (GRID_ROLES), by code
    roles: dict[str, str] | None = None

    @property
    def live(self) -> bool:
        return self.geom is not None

    def touch(self) -> Item:
        self.dirty = True
        return self


@dataclass
class Village:
    id: int
    code: str
    name: str
    geom: BaseGeometry


@dataclass
class Layout:
    """The working layout of one village within one edit set."""

    edit_id: int
    village: Village
    items: list[Item]
    declared: list[BaseGeometry] = field(default_factory=list)
    _next_code: int | None = None

    def live(self, *, but: Item | None = None) -> list[Item]:
        return [i for i in self.items if i.live and i is not but]

    def find(self, code: str) -> Item:
        for item in self.items:
            if item.live and item.code == code:
                return item
        raise NotFound(
            f"村（社区）{self.village.name} 的当前方案中没有网格 {code}。",
            f"No grid {code} in the working layout of {self.village.code}.",
            field="grid",
        )

    def snap(self, geom: BaseGeometry, *, but: Item | None = None) -> BaseGeometry | None:
        """``geom`` (polygonal) with its vertices moved onto the other grids' and the village's
        edges and vertices within the tolerance, made valid again (moving vertices can make a
        ring cross itself); None when nothing with an area is left."""
        reference = shapely.union_all(
            [i.geom.boundary for i in self.live(but=but)] + [self.village.geom.boundary]
        )
        return polygonal(shapely.snap(geom, reference, TOL_DEG))

    def new_code(self, session: Session) -> str:
        """The next unused code of the village (never a code used by any version or draft)."""
        if self._next_code is None:
            used = session.execute(
                text("""
                SELECT coalesce(max(right(code, 3)::int), 0) FROM (
                    SELECT code FROM grid WHERE left(code, 12) = :v
                    UNION ALL SELECT code FROM grid_edit_item WHERE left(code, 12) = :v
                ) s WHERE code ~ '^[0-9]{15}$'
            """),
                {"v": self.village.code},
            ).scalar_one()
            self._next_code = int(used)
        self._next_code += 1
        if self._next_code > 999:
            raise InvalidInput(
                f"村（社区）{self.village.code} 的网格编码已用尽（001–999），请指定编码。",
                f"Village {self.village.code} has no free grid code left (001–999); give one.",
                field="codes",
            )
        return f"{self.village.code}{self._next_code:03d}"

    def default_name(self, code: str) -> str:
        return f"{self.village.name}第{int(code[-3:])}网格"

    def add(self, item: Item) -> Item:
        self.items.append(item.touch())
        return item

    def retire(self, item: Item) -> None:
        item.geom = None
        item.touch()

    def declare_uncovered(self, geom: BaseGeometry) -> None:
        self.declared.append(geom)

    def neighbours(
        self, piece: BaseGeometry, *, but: Item | None = None
    ) -> list[tuple[float, Item]]:
        """Live grids sharing an edge with ``piece``, longest shared edge first."""
        found = []
        zone = piece.boundary.buffer(TOL_DEG)
        for other in self.live(but=but):
            if not other.geom.intersects(zone):
                continue
            shared = other.geom.boundary.intersection(zone).length
            if shared > 3 * TOL_DEG:
                found.append((shared, other))
        return sorted(found, key=lambda t: (-t[0], t[1].code))


_ITEM_COLUMNS = """id, code, from_id, from_version, name, village_id, ST_AsBinary(geom) AS wkb,
                   households, population, workers, lineage, workers_seen, roles"""


def _load(session: Session, edit_id: int, village_id: int) -> Layout:
    v = session.execute(
        text("SELECT id, code, name, ST_AsBinary(geom) AS wkb FROM region WHERE id = :v"),
        {"v": village_id},
    ).one()
    village = Village(v.id, v.code, v.name, _geom(v.wkb))  # type: ignore[arg-type]
    items = [
        Item(
            r.code,
            r.name,
            r.village_id,
            _geom(r.wkb),
            r.households,
            r.population,
            r.from_id,
            r.from_version,
            list(r.workers) if r.workers is not None else None,
            set(r.lineage),
            r.id,
            seen=r.workers_seen,
            roles=r.roles,
        )
        for r in session.execute(
            text(f"""SELECT {_ITEM_COLUMNS} FROM grid_edit_item
                     WHERE edit_id = :e AND village_id = :v ORDER BY id"""),
            {"e": edit_id, "v": village_id},
        )
    ]
    drafted = [i.from_id for i in items if i.from_id is not None]
    items += [
        Item(
            r.code, r.name, r.village_id, _geom(r.wkb), r.households, r.population, r.id, r.version
        )
        for r in session.execute(
            text("""
            SELECT id, code, version, name, village_id, ST_AsBinary(geom) AS wkb, households,
                   population
            FROM grid WHERE village_id = :v AND valid_to IS NULL AND id <> ALL(:drafted)
            ORDER BY code
        """),
            {"v": village_id, "drafted": drafted},
        )
    ]
    return Layout(edit_id, village, items)


def _save(session: Session, layout: Layout) -> list[str]:
    """Store the grids an operation touched; the codes touched."""
    touched = []
    for item in layout.items:
        if not item.dirty:
            continue
        touched.append(item.code)
        if item.from_id is None and item.geom is None:  # a new grid retired again: never existed
            if item.item_id is not None:
                session.execute(
                    text("DELETE FROM grid_edit_item WHERE id = :id"), {"id": item.item_id}
                )
            continue
        params = {
            "e": layout.edit_id,
            "code": item.code,
            "from_id": item.from_id,
            "from_version": item.from_version,
            "name": item.name,
            "village_id": item.village_id,
            "wkb": _wkb(polygonal(item.geom)),
            "households": item.households,
            "population": item.population,
            "workers": item.workers,
            "seen": None if item.seen is None else json.dumps(item.seen),
            "roles": None if item.roles is None else json.dumps(item.roles),
            "lineage": sorted(item.lineage),
            "id": item.item_id,
        }
        geom_sql = "ST_Multi(ST_SetSRID(ST_GeomFromWKB(CAST(:wkb AS bytea)), 4326))"
        if item.item_id is None:
            item.item_id = session.execute(
                text(f"""
                INSERT INTO grid_edit_item (edit_id, code, from_id, from_version, name,
                    village_id, geom, households, population, workers, lineage, workers_seen,
                    roles)
                VALUES (:e, :code, :from_id, :from_version, :name, :village_id, {geom_sql},
                        :households, :population, :workers, :lineage, CAST(:seen AS jsonb),
                        CAST(:roles AS jsonb))
                RETURNING id
            """),
                params,
            ).scalar_one()
        else:
            session.execute(
                text(f"""
                UPDATE grid_edit_item SET code = :code, name = :name, geom = {geom_sql},
                    households = :households, population = :population, workers = :workers,
                    lineage = :lineage, workers_seen = CAST(:seen AS jsonb),
                    roles = CAST(:roles AS jsonb)
                WHERE id = :id
            """),
                params,
            )
        item.dirty = False
    for gap in layout.declared:
        session.execute(
            text("""INSERT INTO grid_edit_gap (edit_id, village_id, geom)
                    VALUES (:e, :v, ST_Multi(ST_SetSRID(ST_GeomFromWKB(:wkb), 4326)))"""),
            {"e": layout.edit_id, "v": layout.village.id, "wkb": _wkb(polygonal(gap))},
        )
    layout.declared.clear()
    return touched


# ---------------------------------------------------------------------------------------------
# edit sets


def create_edit(session: Session, actor: Actor, title: str = "") -> dict[str, Any]:
    """Open an edit set in the actor's jurisdiction."""
    row = session.execute(
        text("""INSERT INTO grid_edit (title, created_by, region_id)
                VALUES (:title, :by, :region) RETURNING id, status, created_at"""),
        {"title": title, "by": actor.username, "region": actor.scope.region_id},
    ).one()
    return {"id": row.id, "status": row.status, "title": title, "created_at": row.created_at}


def _in_jurisdiction(actor: Actor) -> str:
    """SQL: edit set ``e`` (its region ``r`` left-joined) lies in the actor's jurisdiction (one
    without a region is the whole deployment's: its administrators' only).  Takes
    ``:everything`` (``actor.scope.is_everything``)."""
    return (
        "(e.region_id IS NULL AND :everything"
        f" OR e.region_id IS NOT NULL AND {actor.scope.region_condition('r')})"
    )


# SQL: edit set ``e`` has work in village ``:village`` (its draft holds grids of it)
_WORK_IN_VILLAGE = """EXISTS (SELECT 1 FROM grid_edit_item i JOIN region v ON v.id = i.village_id
                   WHERE i.edit_id = e.id AND v.code = :village)"""


def _edit(session: Session, actor: Actor, edit_id: int, *, write: bool) -> Any:
    """The edit set (locked when writing); 404 outside the actor's jurisdiction."""
    row = session.execute(
        text(f"""
        SELECT e.id, e.title, e.created_by, e.status, e.created_at, e.updated_at, e.closed_at,
               e.result, r.code AS region_code
        FROM grid_edit e LEFT JOIN region r ON r.id = e.region_id
        WHERE e.id = :id AND {_in_jurisdiction(actor)}
        {"FOR UPDATE OF e" if write else ""}
    """),
        {"id": edit_id, "everything": actor.scope.is_everything},
    ).one_or_none()
    if row is None:
        raise NotFound(
            f"没有编号为 {edit_id} 的调整方案，或不在您的管辖范围内。",
            f"No edit set {edit_id} in your jurisdiction.",
        )
    if write:
        if row.status != "open":
            state = "已提交" if row.status == "committed" else "已放弃"
            raise Conflict(
                f"调整方案 {edit_id} {state}，不能再修改；请新建方案。",
                f"Edit set {edit_id} is {row.status}; open a new one.",
                current_status=row.status,
            )
        if row.created_by != actor.username and not actor.is_admin:
            raise Forbidden(
                f"调整方案 {edit_id} 由 {row.created_by} 创建，只有创建者可以修改或提交。",
                f"Edit set {edit_id} belongs to {row.created_by}; only they can change it.",
            )
    return row


def get_edit(session: Session, actor: Actor, edit_id: int) -> dict[str, Any]:
    """An edit set with its operations and the codes of the grids it touches."""
    row = _edit(session, actor, edit_id, write=False)
    ops = [
        {
            "seq": r.seq,
            "op": r.op,
            "op_name": OP_NAMES.get(r.op, r.op),
            "op_name_en": OP_NAMES_EN.get(r.op, r.op),
            "at": r.at,
            "body": r.body,
            "summary": r.summary,
        }
        for r in session.execute(
            text(
                "SELECT seq, op, body, summary, at FROM grid_edit_op WHERE edit_id = :e "
                "ORDER BY seq"
            ),
            {"e": edit_id},
        )
    ]
    return {
        "id": row.id,
        "title": row.title,
        "created_by": row.created_by,
        "status": row.status,
        "region_code": row.region_code,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "closed_at": row.closed_at,
        "result": row.result,
        "operations": ops,
    }


def open_edit_of(
    session: Session, actor: Actor, village: str, edit_id: int | None = None
) -> dict[str, Any] | None:
    """The actor's own open edit set with work in village ``village`` (its draft holds grids of
    it) — set ``edit_id`` if it is one, else the newest — with its operations as
    :func:`add_operation` answered them: the planner's page takes it up again when opened anew
    (a reload, a closed tab, a crash, a login after the session ended), where the set was out of
    reach before, open on the server for nobody.  None if there is none."""
    row = session.execute(
        text(f"""
        SELECT e.id FROM grid_edit e LEFT JOIN region r ON r.id = e.region_id
        WHERE e.status = 'open' AND e.created_by = :me AND {_in_jurisdiction(actor)}
          AND {_WORK_IN_VILLAGE}
        ORDER BY e.id = :edit DESC, e.updated_at DESC, e.id DESC LIMIT 1
    """),
        {
            "me": actor.username,
            "everything": actor.scope.is_everything,
            "village": village,
            "edit": edit_id,
        },
    ).one_or_none()
    if row is None:
        return None
    ops = session.execute(
        text("SELECT seq, op, summary FROM grid_edit_op WHERE edit_id = :e ORDER BY seq"),
        {"e": row.id},
    )
    return {
        "id": row.id,
        "operations": [
            {
                "seq": r.seq,
                "op": r.op,
                "op_name": OP_NAMES.get(r.op, r.op),
                "op_name_en": OP_NAMES_EN.get(r.op, r.op),
                "grids": r.summary.get("grids", []),
                "message": r.summary.get("message", ""),
                "message_en": r.summary.get("message_en"),
            }
            for r in ops
        ],
    }


def others_open_in(session: Session, actor: Actor, village: str) -> list[dict[str, Any]]:
    """Other planners' open edit sets with work in village ``village``, the last changed first:
    the planner's page says so before the work starts (the sets are checked against the layout
    again at each commit, and the later of two that touch the same grid is refused, 409).
    Each: id, who, how many operations, last changed (ISO 8601)."""
    rows = session.execute(
        text(f"""
        SELECT e.id, e.created_by, u.display_name, e.updated_at,
               (SELECT count(*) FROM grid_edit_op o WHERE o.edit_id = e.id) AS operations
        FROM grid_edit e LEFT JOIN region r ON r.id = e.region_id
        LEFT JOIN app_user u ON u.username = e.created_by
        WHERE e.status = 'open' AND e.created_by <> :me AND {_in_jurisdiction(actor)}
          AND {_WORK_IN_VILLAGE}
        ORDER BY e.updated_at DESC, e.id DESC LIMIT 10
    """),
        {"me": actor.username, "everything": actor.scope.is_everything, "village": village},
    ).all()
    return [
        {
            "id": r.id,
            "by": r.created_by,
            "by_name": r.display_name,
            "operations": r.operations,
            "at": r.updated_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
        }
        for r in rows
    ]


@dataclass(frozen=True)
class OpenEdit:
    """An edit set of the planner's own not yet committed, and the village it has work in."""

    id: int
    title: str
    village_code: str
    village_name: str
    operations: int
    updated_at: datetime


def open_edits_of(session: Session, actor: Actor, limit: int = 50) -> list[OpenEdit]:
    """The actor's own open edit sets with work in a village, the last changed first: the
    planner's start page lists them (未提交的调整方案), each leading to its village's page, which
    takes it up (:func:`open_edit_of`, by its id)."""
    rows = session.execute(
        text(f"""
        SELECT e.id, e.title, v.code, v.name, e.updated_at,
               (SELECT count(*) FROM grid_edit_op o WHERE o.edit_id = e.id) AS operations
        FROM grid_edit e LEFT JOIN region r ON r.id = e.region_id
        CROSS JOIN LATERAL (SELECT v.code, v.name FROM grid_edit_item i
                            JOIN region v ON v.id = i.village_id
                            WHERE i.edit_id = e.id ORDER BY v.code LIMIT 1) v
        WHERE e.status = 'open' AND e.created_by = :me AND {_in_jurisdiction(actor)}
        ORDER BY e.updated_at DESC, e.id DESC LIMIT :limit
    """),
        {"me": actor.username, "everything": actor.scope.is_everything, "limit": limit},
    ).all()
    return [OpenEdit(r.id, r.title, r.code, r.name, r.operations, r.updated_at) for r in rows]


def list_edits(session: Session, actor: Actor, status: str | None = "open") -> list[dict]:
    """Edit sets in the actor's jurisdiction (newest first)."""
    rows = session.execute(
        text(f"""
        SELECT e.id, e.title, e.created_by, e.status, e.created_at, e.updated_at,
               (SELECT count(*) FROM grid_edit_op o WHERE o.edit_id = e.id) AS operations
        FROM grid_edit e LEFT JOIN region r ON r.id = e.region_id
        WHERE {_in_jurisdiction(actor)}
          AND (CAST(:status AS text) IS NULL OR e.status = :status)
        ORDER BY e.id DESC LIMIT 200
    """),
        {"everything": actor.scope.is_everything, "status": status},
    ).mappings()
    return [dict(r) for r in rows]


def discard(session: Session, actor: Actor, edit_id: int) -> dict[str, Any]:
    """Give the edit set up: nothing of it is applied; its draft is dropped."""
    _edit(session, actor, edit_id, write=True)
    session.execute(text("DELETE FROM grid_edit_item WHERE edit_id = :e"), {"e": edit_id})
    session.execute(text("DELETE FROM grid_edit_gap WHERE edit_id = :e"), {"e": edit_id})
    session.execute(
        text("""UPDATE grid_edit SET status = 'discarded', closed_at = clock_timestamp(),
                updated_at = clock_timestamp() WHERE id = :e"""),
        {"e": edit_id},
    )
    return {"id": edit_id, "status": "discarded"}


def _village_of_code(session: Session, actor: Actor, edit_id: int, code: str) -> int:
    """The village of a grid code of the working layout, checked against the jurisdiction."""
    row = session.execute(
        text(f"""
        SELECT v.id, {actor.scope.region_condition("v")} AS mine FROM (
            SELECT village_id FROM grid_edit_item WHERE edit_id = :e AND code = :code
            UNION ALL
            SELECT village_id FROM grid WHERE code = :code AND valid_to IS NULL
        ) s JOIN region v ON v.id = s.village_id LIMIT 1
    """),
        {"e": edit_id, "code": code},
    ).one_or_none()
    if row is None or not row.mine:
        raise NotFound(
            f"没有编码为 {code} 的当前网格，或不在您的管辖范围内。",
            f"No current grid {code} in your jurisdiction.",
            field="grid",
        )
    return int(row.id)


def _village_of_area(
    session: Session, actor: Actor, geom: BaseGeometry, village_code: str | None
) -> int:
    """The village a drawn area lies in (the one it overlaps most), in the jurisdiction."""
    row = session.execute(
        text(f"""
        SELECT v.id FROM region v,
             LATERAL (SELECT ST_SetSRID(ST_GeomFromWKB(:wkb), 4326) AS drawn) d,
             -- an overlay, not ST_Intersects: GEOS 3.11's relate graph can throw on edges a
             -- hair's breadth apart (migration 0038)
             LATERAL (SELECT ST_Area(ST_Intersection(v.geom, d.drawn)) AS shared) x
        WHERE v.level = 'village' AND {actor.scope.region_condition("v")}
          AND (CAST(:code AS text) IS NULL OR v.code = :code)
          AND v.geom && d.drawn AND x.shared > 0
        ORDER BY x.shared DESC, v.code
        LIMIT 1
    """),
        {"code": village_code, "wkb": _wkb(geom)},
    ).scalar()
    if row is None:
        raise InvalidInput(
            "所画区域不在您管辖范围内的任何村（社区）里：网格必须位于一个村（社区）之内。",
            "The drawn area lies in no village of your jurisdiction: a grid must lie inside a "
            "village.",
            field="geometry",
        )
    return int(row)


def add_operation(
    session: Session, actor: Actor, edit_id: int, op: str, body: dict[str, Any]
) -> dict[str, Any]:
    """Apply one operation to the edit set's draft; what it did (grids touched, a message)."""
    _edit(session, actor, edit_id, write=True)
    if op not in OPERATIONS:
        raise InvalidInput(
            f"未知操作 {op!r}，可选：{'、'.join(OPERATIONS)}",
            f"Unknown operation {op!r}; expected one of {', '.join(OPERATIONS)}",
            field="op",
        )
    if op == "create":
        geom = parse_geometry(body.get("geometry"), "geometry", ("Polygon", "MultiPolygon"))
        village_id = _village_of_area(session, actor, geom, body.get("village"))
    else:
        codes = body.get("grids") if op == "merge" else [body.get("grid")]
        if not codes or not all(isinstance(c, str) for c in codes):
            raise InvalidInput(
                "请指定网格编码（merge 用 grids 列表，其余用 grid）",
                "Name the grid (grid), or the grids to merge (grids)",
                field="grids" if op == "merge" else "grid",
            )
        villages = {_village_of_code(session, actor, edit_id, str(c)) for c in codes}
        if len(villages) > 1:
            raise InvalidInput(
                "只能合并同一村（社区）的网格。",
                "Only grids of the same village can be merged.",
                field="grids",
            )
        village_id = villages.pop()
    layout = _load(session, edit_id, village_id)
    try:
        message, message_en = _APPLY[op](session, layout, body)
    except shapely.errors.GEOSException as e:  # nothing is saved: the edit set is as it was
        raise InvalidInput(
            f"「{OP_NAMES[op]}」操作的几何运算失败（{e}）：该处边界可能有极窄的缝隙或几乎重合的边。"
            "请换一种方式完成，例如先重绘相邻网格，或指定接收的网格后重试。",
            f'The operation "{OP_NAMES_EN[op]}" failed in its geometry ({e}): the edges there may '
            "have a hair-thin gap or nearly coincide. Do it another way, e.g. redraw a "
            "neighbour first, or name the grid that takes the land.",
            field="op",
        ) from e
    touched = _save(session, layout)
    seq = session.execute(
        text("""
        INSERT INTO grid_edit_op (edit_id, seq, op, body, summary)
        SELECT :e, coalesce(max(seq), 0) + 1, :op, CAST(:body AS jsonb), CAST(:summary AS jsonb)
        FROM grid_edit_op WHERE edit_id = :e
        RETURNING seq
    """),
        {
            "e": edit_id,
            "op": op,
            "body": json.dumps(body, ensure_ascii=False),
            "summary": json.dumps(
                {"grids": touched, "message": message, "message_en": message_en},
                ensure_ascii=False,
            ),
        },
    ).scalar_one()
    session.execute(
        text("UPDATE grid_edit SET updated_at = clock_timestamp() WHERE id = :e"), {"e": edit_id}
    )
    return {
        "seq": seq,
        "op": op,
        "op_name": OP_NAMES[op],
        "op_name_en": OP_NAMES_EN[op],
        "grids": touched,
        "message": message,
        "message_en": message_en,
    }


# ---------------------------------------------------------------------------------------------
# operations: each changes the layout and says what it did


def _codes_for(session: Session, layout: Layout, body: dict, n: int) -> list[str]:
    given = list(body.get("codes") or [])
    return [given[i] if i < len(given) else layout.new_code(session) for i in range(n)]


def _names_for(layout: Layout, body: dict, codes: list[str]) -> list[str]:
    given = list(body.get("names") or [])
    return [given[i] if i < len(given) else layout.default_name(c) for i, c in enumerate(codes)]


def _split(session: Session, layout: Layout, body: dict) -> Said:
    item = layout.find(body["grid"])
    if body.get("line") is not None:
        line = parse_geometry(body["line"], "line", ("LineString", "MultiLineString"))
        line = shapely.snap(line, item.geom.boundary, TOL_DEG)
        rows = session.execute(
            text("""
            SELECT ST_AsBinary(d.geom) FROM ST_Dump(ST_Split(
                ST_SetSRID(ST_GeomFromWKB(:g), 4326), ST_SetSRID(ST_GeomFromWKB(:l), 4326))) d
        """),
            {"g": _wkb(item.geom), "l": _wkb(line)},
        ).scalars()
        # each face clipped to the grid: GEOS 3.11's ST_Split also returned a face outside it
        # (118.8 m² in a hole of the grid, where a neighbour lies), which became a grid on top of
        # the neighbour
        raw = [
            g
            for r in rows
            if (face := _geom(r)) is not None
            and (g := polygonal(face.intersection(item.geom))) is not None
        ]
        # GEOS (ST_Split, shapely's split alike) can drop a face where the line runs a hair's
        # breadth from a vertex: a split of a 15,000 m² grid lost 530 m² to no grid at all.
        # What the pieces miss of the grid is put back, as pieces of its own (or slivers below)
        missing = polygonal(item.geom.difference(union_of(raw))) if raw else None
        raw += list(shapely.get_parts(missing)) if missing is not None else []
        parts = [p for p in raw if significant(p)]
        if len(parts) < 2:
            raise InvalidInput(
                f"分割线没有把网格 {item.code} 分成两块以上：请从网格外的一侧画到另一侧。",
                f"The line does not cut grid {item.code} in two or more parts: draw it from "
                "outside the grid on one side to outside on the other.",
                field="line",
            )
        for sliver in (p for p in raw if not significant(p)):  # back to the part it touches
            k = max(range(len(parts)), key=lambda j: parts[j].distance(sliver) == 0)
            parts[k] = parts[k].union(sliver)
        parts.sort(key=lambda p: -p.area)
        keeper, others = parts[0], parts[1:]
    elif body.get("parts"):
        others = []
        rest = item.geom
        for k, raw_part in enumerate(body["parts"]):
            drawn = parse_geometry(raw_part, f"parts.{k}", ("Polygon", "MultiPolygon"))
            snapped = layout.snap(drawn, but=item)
            part = None if snapped is None else polygonal(snapped.intersection(rest))
            if not significant(part):
                raise InvalidInput(
                    f"第 {k + 1} 块与网格 {item.code} 剩余部分没有重叠"
                    f"（或窄于 {TOLERANCE_M:g} 米）",
                    f"Part {k + 1} does not overlap what is left of grid {item.code} (or is "
                    f"thinner than {TOLERANCE_M:g} m)",
                    field=f"parts.{k}",
                )
            others.append(part)
            rest = rest.difference(part)
        keeper = rest if significant(rest) else others.pop(0).union(rest)
        if not others:
            raise InvalidInput(
                "所画部分覆盖了整个网格：拆分至少要得到两块。",
                "The parts cover the whole grid: a split needs at least two parts.",
                field="parts",
            )
    else:
        raise InvalidInput(
            "拆分需要分割线（line）或新画出的各部分（parts）",
            "A split needs a line or the drawn parts",
            field="line",
        )
    codes = _codes_for(session, layout, body, len(others))
    names = _names_for(layout, body, codes)
    lineage = item.lineage | ({item.from_id} if item.from_id else set())
    households = list(body.get("households") or [])
    for k, (part, code, name) in enumerate(zip(others, codes, names, strict=True)):
        layout.add(
            Item(
                code,
                name,
                layout.village.id,
                part,
                households=households[k + 1] if k + 1 < len(households) else None,
                lineage=set(lineage),
            )
        )
    item.geom = keeper
    item.households = households[0] if households else None
    item.population = None
    item.touch()
    return (
        f"网格 {item.code} 拆分为 {1 + len(others)} 块：{item.code}、{'、'.join(codes)}",
        f"Grid {item.code} split into {1 + len(others)}: {item.code}, {', '.join(codes)}",
    )


def _current_workers(session: Session, codes: list[str]) -> dict[str, list[str]]:
    rows = session.execute(
        text("""SELECT wg.grid_code, w.code FROM worker_grid wg JOIN worker w ON w.id = wg.worker_id
                WHERE wg.grid_code = ANY(:codes) ORDER BY w.code"""),
        {"codes": codes},
    )
    found: dict[str, list[str]] = {c: [] for c in codes}
    for grid_code, worker in rows:
        found[grid_code].append(worker)
    return found


def _workers_of(session: Session, item: Item) -> list[str]:
    if item.workers is not None:
        return item.workers
    return sorted({w for ws in _seen_of(session, item).values() for w in ws})


def _seen_of(session: Session, item: Item) -> dict[str, list[str]]:
    """The worker links an explicit list for ``item`` is drawn from: those it was drawn from
    before, or the grid's own links now."""
    if item.workers is not None:
        return dict(item.seen or {})
    if item.from_id is None:
        return {}
    # the workers are linked by the code the grid has now (a draft may have re-coded it)
    code = session.execute(
        text("SELECT code FROM grid WHERE id = :id"), {"id": item.from_id}
    ).scalar_one()
    return _current_workers(session, [code])


def _merge(session: Session, layout: Layout, body: dict) -> Said:
    codes = list(dict.fromkeys(body["grids"]))
    if len(codes) < 2:
        raise InvalidInput(
            "合并至少需要两个不同的网格", "A merge needs two or more distinct grids", field="grids"
        )
    items = [layout.find(c) for c in codes]
    # adjacency: the grids must form one connected group sharing edges
    group, rest = [items[0]], items[1:]
    while rest:
        joined = [
            r for r in rest if any(r in [n for _, n in layout.neighbours(g.geom)] for g in group)
        ]
        if not joined:
            raise InvalidInput(
                f"网格 {'、'.join(r.code for r in rest)} 与其余网格不相邻，不能合并。",
                (
                    f"Grid {rest[0].code} does not"
                    if len(rest) == 1
                    else f"Grids {', '.join(r.code for r in rest)} do not"
                )
                + " share an edge with the others; only adjacent grids can be merged.",
                field="grids",
            )
        group += joined
        rest = [r for r in rest if r not in joined]
    survivor_code = body.get("code") or codes[0]
    if survivor_code not in codes:
        raise InvalidInput(
            f"保留的编码 {survivor_code} 须是被合并网格之一",
            f"The code kept ({survivor_code}) must be one of the merged grids",
            field="code",
        )
    survivor = next(i for i in items if i.code == survivor_code)
    workers = sorted({w for i in items for w in _workers_of(session, i)})
    seen = {k: v for i in items for k, v in _seen_of(session, i).items()}
    union = union_of([i.geom for i in items])
    for other in items:
        if other is survivor:
            continue
        survivor.lineage |= other.lineage | ({other.from_id} if other.from_id else set())
        layout.retire(other)
    survivor.geom = polygonal(union)
    if body.get("name"):
        survivor.name = body["name"]
    hh = [i.households for i in items]
    pop = [i.population for i in items]
    survivor.households = sum(hh) if None not in hh else None  # type: ignore[arg-type]
    survivor.population = sum(pop) if None not in pop else None  # type: ignore[arg-type]
    survivor.workers = workers
    survivor.seen = seen
    parts: dict[str, str] = {}  # the parts the set gave, the survivor's first (its chief stays)
    for i in sorted(items, key=lambda i: i is not survivor):
        for w, role in (i.roles or {}).items():
            chief_taken = role == "chief" and "chief" in parts.values()
            parts.setdefault(w, "manager" if chief_taken else role)
    survivor.roles = parts or None
    survivor.touch()
    others = [c for c in codes if c != survivor_code]
    return (
        f"网格 {'、'.join(others)} 并入 {survivor_code}",
        f"Grid{'s' if len(others) > 1 else ''} {', '.join(others)} merged into {survivor_code}",
    )


def _give(layout: Layout, piece: BaseGeometry, item: Item, release_to: str) -> str | None:
    """Hand a piece of land released by ``item`` to the neighbour sharing the longest edge with
    it; the neighbour's code (None: declared uncovered)."""
    near = layout.neighbours(piece, but=item) if release_to == "neighbours" else []
    if not near:
        if release_to == "neighbours":
            raise InvalidInput(
                f"网格 {item.code} 让出的区域没有相邻网格可以接收：请声明为未覆盖"
                "（release_to: uncovered）或改画。",
                f"The land grid {item.code} gives up has no neighbouring grid to take it: "
                'declare it uncovered (release_to: "uncovered") or redraw.',
                field="release_to",
            )
        layout.declare_uncovered(piece)
        return None
    _, neighbour = near[0]
    neighbour.geom = polygonal(neighbour.geom.union(piece))
    neighbour.lineage |= {item.from_id} if item.from_id else set()
    neighbour.touch()
    return neighbour.code


def _redraw(session: Session, layout: Layout, body: dict) -> Said:
    item = layout.find(body["grid"])
    release_to = body.get("release_to") or "neighbours"
    drawn = parse_geometry(body.get("geometry"), "geometry", ("Polygon", "MultiPolygon"))
    new = polygonal(layout.snap(drawn, but=item))
    old = item.geom
    trimmed = 0.0
    if body.get("clip", True) and new is not None:
        # a grid lies in its village: what the drawing puts beyond it is cut off (and said), as
        # a new grid is clipped; without, it is an "outside" finding that blocks the commit
        village = layout.village.geom
        beyond = polygonal(new.difference(village))
        trimmed = area_m2(beyond) if significant(beyond) else 0.0
        new = polygonal(new.intersection(village))
        old = polygonal(old.intersection(village)) or old  # what stuck out is not given away
    if not significant(new):
        raise InvalidInput(
            f"新边界太窄或为空（窄于 {TOLERANCE_M:g} 米）",
            f"The new boundary is empty or thinner than {TOLERANCE_M:g} m",
            field="geometry",
        )
    changed = []
    for other in layout.live(but=item):  # land taken from neighbours
        if not other.geom.intersects(new):
            continue
        left = polygonal(other.geom.difference(new))
        if not significant(other.geom.difference(left) if left is not None else other.geom):
            continue  # only touches it (or overlaps by less than the tolerance)
        if not significant(left):
            raise InvalidInput(
                f"新边界覆盖了整个网格 {other.code}：要并入它请用合并（merge）。",
                f"The new boundary covers all of grid {other.code}: use merge to absorb it.",
                field="geometry",
            )
        other.geom = left
        other.lineage |= {item.from_id} if item.from_id else set()
        other.touch()
        changed.append(other.code)
    given: list[str | None] = []
    for piece in _pieces(old.difference(new)):  # land given up
        given.append(_give(layout, piece, item, release_to))
    item.geom = new
    item.touch()
    parts = [(f"网格 {item.code} 边界已重绘", f"Grid {item.code} redrawn")]
    if changed:
        near = sorted(set(changed))
        parts.append((f"相邻网格 {'、'.join(near)} 让出土地", f"land taken from {', '.join(near)}"))
    if given:
        zh = sorted({to or "未覆盖" for to in given})
        en = sorted({to or "uncovered" for to in given})
        parts.append((f"让出的土地归入 {'、'.join(zh)}", f"land given up went to {', '.join(en)}"))
    if trimmed:
        parts.append(
            (
                f"超出村（社区）边界的 {trimmed:,.0f} 平方米已裁去",
                f"{trimmed:,.0f} m² beyond the village boundary cut off",
            )
        )
    return "；".join(z for z, _ in parts), "; ".join(e for _, e in parts)


def _create(session: Session, layout: Layout, body: dict) -> Said:
    drawn = parse_geometry(body.get("geometry"), "geometry", ("Polygon", "MultiPolygon"))
    geom = polygonal(layout.snap(drawn))
    if body.get("clip", True) and geom is not None:
        covered = union_of([i.geom for i in layout.live()])
        geom = polygonal(geom.intersection(layout.village.geom).difference(covered))
    if not significant(geom):
        raise InvalidInput(
            "所画区域内没有未划入网格的土地（新网格只能建在未覆盖的区域）。",
            "The drawn area holds no land outside existing grids (a new grid goes on uncovered "
            "land).",
            field="geometry",
        )
    code = body.get("code") or layout.new_code(session)
    name = body.get("name") or layout.default_name(code)
    layout.add(
        Item(
            code,
            name,
            layout.village.id,
            geom,
            body.get("households"),
            body.get("population"),
            workers=body.get("workers"),
            seen=None if body.get("workers") is None else {},  # (a new grid: nothing read)
            roles=_roles_of(body),
        )
    )
    area = area_m2(geom)
    return (
        f"新建网格 {code}（{name}），{area:,.0f} 平方米",
        f"New grid {code} ({name}), {area:,.0f} m²",
    )


def _voronoi_shares(layout: Layout, item: Item, near: list[Item]) -> dict[int, BaseGeometry]:
    """Split ``item``'s land among ``near``: each point goes to the nearest neighbour's edge."""
    if len(near) == 1:
        return {0: item.geom}
    points, owners = [], []
    zone = item.geom.boundary.buffer(TOL_DEG)
    step = max(item.geom.length / 400, TOL_DEG * 5)
    for k, n in enumerate(near):
        shared = n.geom.boundary.intersection(zone)
        dense = shapely.segmentize(shared, step)
        for x, y in shapely.get_coordinates(dense):
            points.append(shapely.Point(x, y))
            owners.append(k)
    # points closer than the tolerance taken as one: GEOS' diagram of points a hair apart came
    # out with cells over each other (2.97 times the area they covered; one neighbour took all
    # the land)
    cells: BaseGeometry = shapely.GeometryCollection()
    for tolerance in (TOL_DEG, 0.0):  # GEOS may throw on one ('side location conflict', fuzzed)
        try:
            cells = shapely.voronoi_polygons(
                shapely.MultiPoint(points), extend_to=item.geom.envelope, tolerance=tolerance
            )
            break
        except shapely.errors.GEOSException:
            continue
    tree = shapely.STRtree(points)
    shares: dict[int, list[BaseGeometry]] = {}
    for raw_cell in shapely.get_parts(cells):
        # GEOS may return a cell that crosses itself where the points are nearly in line (seen
        # on a retired grid's edges): made valid first, or the union below fails; one GEOS
        # cannot even check is left out (its land: see below).  (Not clip_by_rect first: on such
        # a cell it returned the whole box, and one neighbour took all the land.)
        try:
            cell = polygonal(raw_cell)
        except shapely.errors.GEOSException:
            continue
        if cell is None:
            continue
        hits = tree.query(cell, predicate="contains")  # its own point(s)
        if len(hits):
            shares.setdefault(owners[int(hits[0])], []).append(cell)
    # the shares made disjoint: each, from the smallest up, less what the smaller ones hold.
    # GEOS once drew a cell 9.2 times the grid's bounding box: the neighbour it went to took all
    # the land, and another its own share too.  Such a share is the whole grid, so it comes last
    # and keeps only what the others do not hold.
    whole = {
        k: g
        for k, cells_k in shares.items()
        if (g := polygonal(union_of(cells_k).intersection(item.geom))) is not None
    }
    out: dict[int, BaseGeometry] = {}
    held: BaseGeometry | None = None
    for k in sorted(whole, key=lambda k: (whole[k].area, k)):
        g = whole[k] if held is None else polygonal(whole[k].difference(held))
        if g is not None and significant(g):
            out[k] = g
            held = g if held is None else held.union(g)
    if not out:  # (GEOS could not draw the diagram at all)
        raise InvalidInput(
            f"无法自动把网格 {item.code} 的区域分给相邻网格：请指定接收的网格（to: 网格编码）。",
            f"Grid {item.code}'s land could not be shared among its neighbours automatically: "
            "name the grid that takes it (to: a grid code).",
            field="to",
        )
    # what no share holds (a cell left out above, or a hair between cells) goes to the share it
    # borders most: the retired grid's land is handed out whole
    left = polygonal(item.geom.difference(union_of(list(out.values()))))
    for piece in shapely.get_parts(left) if left is not None else []:
        k = max(out, key=lambda k: out[k].boundary.intersection(piece.boundary).length)
        out[k] = polygonal(out[k].union(piece)) or out[k]
    return out


def _retire(session: Session, layout: Layout, body: dict) -> Said:
    item = layout.find(body["grid"])
    to = body.get("to") or "neighbours"
    if to == "uncovered":
        layout.declare_uncovered(item.geom)
        layout.retire(item)
        return (
            f"网格 {item.code} 撤销，其区域声明为未覆盖",
            f"Grid {item.code} retired; its land declared uncovered",
        )
    if to == "neighbours":
        near = [n for _, n in layout.neighbours(item.geom, but=item)]
    else:
        near = [layout.find(to)]
        if near[0] not in [n for _, n in layout.neighbours(item.geom, but=item)]:
            raise InvalidInput(
                f"网格 {to} 与 {item.code} 不相邻，不能接收它的区域。",
                f"Grid {to} does not share an edge with {item.code}.",
                field="to",
            )
    if not near:
        raise InvalidInput(
            f"网格 {item.code} 没有相邻网格：请把其区域声明为未覆盖（to: uncovered）。",
            f'Grid {item.code} has no neighbour: declare its land uncovered (to: "uncovered").',
            field="to",
        )
    shares = _voronoi_shares(layout, item, near)
    for k, part in shares.items():
        n = near[k]
        n.geom = polygonal(n.geom.union(part))
        n.lineage |= {item.from_id} if item.from_id else set()
        n.touch()
    layout.retire(item)
    heirs = [near[k].code for k in sorted(shares)]
    return (
        f"网格 {item.code} 撤销，区域并入 {'、'.join(heirs)}",
        f"Grid {item.code} retired; its land went to {', '.join(heirs)}",
    )


def _recode(session: Session, layout: Layout, body: dict) -> Said:
    item = layout.find(body["grid"])
    said: list[Said] = []
    if body.get("code") and body["code"] != item.code:
        said.append((f"编码 {item.code} → {body['code']}", f"code {item.code} → {body['code']}"))
        item.code = body["code"]
    if body.get("name") and body["name"] != item.name:
        said.append((f"名称改为 {body['name']}", f"renamed {body['name']}"))
        item.name = body["name"]
    for key, label in (("households", "户数"), ("population", "人口")):
        if body.get(key) is not None:
            setattr(item, key, body[key])
            said.append((f"{label} {body[key]}", f"{key} {body[key]}"))
    if not said:
        raise InvalidInput(
            "改编码/改名需要新的 code、name、households 或 population",
            "A recode needs a new code, name, households or population",
            field="code",
        )
    item.touch()
    return (
        f"网格 {body['grid']}：{'，'.join(z for z, _ in said)}",
        f"Grid {body['grid']}: {', '.join(e for _, e in said)}",
    )


def _assign(session: Session, layout: Layout, body: dict) -> Said:
    item = layout.find(body["grid"])
    wanted = list(dict.fromkeys(body.get("workers") or []))
    known: dict[str, str] = dict(
        session.execute(  # (by name and code in what the set says: the planner knows names)
            text("SELECT code, name FROM worker WHERE code = ANY(:codes)"), {"codes": wanted}
        ).all()
    )
    missing = [w for w in wanted if w not in known]
    if missing:
        raise InvalidInput(
            f"没有这些网格员：{'、'.join(missing)}",
            f"No such worker{'s' if len(missing) > 1 else ''}: {', '.join(missing)}",
            field="workers",
        )
    roles = _roles_of(body)
    item.seen = _seen_of(session, item)
    item.workers = wanted
    item.roles = roles
    item.touch()
    parts = roles or {}
    return (
        f"网格 {item.code} 的网格员："
        + ("、".join(f"{known[w]} {w}" + (f"（{role_name(parts[w])}）" if w in parts else "")
                    for w in wanted) or "（无）"),
        f"Workers of grid {item.code}: "
        + (", ".join(f"{known[w]} {w}" + (f" ({role_name(parts[w], 'en')})" if w in parts else "")
                     for w in wanted) or "(none)"),
    )  # fmt: skip


def _roles_of(body: dict) -> dict[str, str] | None:
    """The parts an operation gives its ``workers`` (``roles``), checked (422); None if none."""
    roles = body.get("roles")
    if not roles:
        return None
    check_roles(list(dict.fromkeys(body.get("workers") or [])), roles)
    return dict(roles)


_APPLY = {
    "split": _split,
    "merge": _merge,
    "redraw": _redraw,
    "create": _create,
    "retire": _retire,
    "recode": _recode,
    "assign": _assign,
}


# ---------------------------------------------------------------------------------------------
# validation: the whole coverage of every village the edit set touches, by the SQL function
# wangge_edit_findings (migration 0015: planned once per connection)

FINDINGS = {
    "outside": ("网格超出所属村（社区）边界", "grid sticks out of its village"),
    "overlap": ("网格之间重叠", "grids overlap"),
    "gap": ("村（社区）内出现未划入网格的空隙", "land in the village left outside every grid"),
    "declared_gap": ("声明为未覆盖的区域", "land declared uncovered"),
    "sliver": ("网格过窄或为空", "grid is empty or thinner than the tolerance"),
    "code_format": (
        "网格编码须为 15 位数字，且以所属村（社区）的 12 位编码开头",
        "grid code must be 15 digits starting with its village's 12-digit code",
    ),
    "code_taken": ("网格编码重复", "grid code already in use"),
    "households_missing": ("网格未填户数", "grid has no households"),
    "workers_missing": ("网格没有网格员", "grid has no grid worker"),
}


#: how many of the blocking findings a refused commit names (all are in its ``findings``)
SAID_FINDINGS = 3


def validate(session: Session, actor: Actor, edit_id: int) -> dict[str, Any]:
    """The findings of the edit set's working layout; ``ok`` when none blocks the commit."""
    _edit(session, actor, edit_id, write=False)
    return _validate(session, edit_id)


# the two grids of each overlap found, as the edit set's working layout has them: drafted, or
# current and not drafted over
_PAIR_GEOMS = text("""
    SELECT i.code, ST_AsBinary(i.geom) AS wkb FROM grid_edit_item i
    WHERE i.edit_id = :e AND i.geom IS NOT NULL AND i.code = ANY(:codes)
    UNION ALL
    SELECT g.code, ST_AsBinary(g.geom) FROM grid g
    WHERE g.valid_to IS NULL AND g.code = ANY(:codes)
      AND NOT EXISTS (SELECT 1 FROM grid_edit_item i WHERE i.edit_id = :e AND i.from_id = g.id)
""")


def _real_overlaps(session: Session, edit_id: int, rows: list[dict[str, Any]]) -> list[dict]:
    """``rows`` without the overlaps that are not there.

    PostGIS here runs on GEOS 3.11, whose overlay can go wrong on grids redrawn and split over
    and over: two grids touching along a hair's-breadth edge were given one grid's whole
    bounding box as their intersection (12,804 m²), and the false overlap blocked the commit.
    Each overlap found is computed again by shapely (its own, newer GEOS, which gives 10⁻¹⁰ m²
    for that pair): one whose intersection has no part wider than the tolerance is dropped.  A
    real overlap is never dropped (a non-empty intersection keeps it)."""
    pairs = [r for r in rows if r["kind"] == "overlap" and len(r["grids"]) == 2]
    if not pairs:
        return rows
    codes = sorted({c for r in pairs for c in r["grids"]})
    geoms: dict[str, list[BaseGeometry]] = {}
    for code, wkb in session.execute(_PAIR_GEOMS, {"e": edit_id, "codes": codes}):
        geoms.setdefault(code, []).append(shapely.from_wkb(bytes(wkb)))
    false: set[tuple[str, ...]] = set()
    for pair in {tuple(r["grids"]) for r in pairs}:  # (a pair's overlap may come in pieces)
        a, b = (geoms.get(c, []) for c in pair)
        if len(a) != 1 or len(b) != 1:
            continue  # a code drawn twice (reported as such): the finding stands
        try:
            shared = polygonal(shapely.intersection(a[0], b[0]))
        except shapely.errors.GEOSException:
            continue  # shapely cannot say either: the finding stands
        if not significant(shared):
            false.add(pair)
    return [r for r in rows if r["kind"] != "overlap" or tuple(r["grids"]) not in false]


def _findings(session: Session, edit_id: int) -> list[dict[str, Any]]:
    """The rows of ``wangge_edit_findings``; when GEOS 3.11 throws in it (a union of a fuzzed
    edit set's declared gaps: 'found non-noded intersection'), those of its snap-rounded twin
    (migration 0040), which does not."""
    params = {"e": edit_id, "tol": TOL_DEG}
    try:
        with session.begin_nested():
            found = session.execute(text("SELECT * FROM wangge_edit_findings(:e, :tol)"), params)
            return [dict(r) for r in found.mappings()]
    except DBAPIError as e:
        if "GEOS" not in str(e.orig):
            raise
    found = session.execute(text("SELECT * FROM wangge_edit_findings_snapped(:e, :tol)"), params)
    return [dict(r) for r in found.mappings()]


def _validate(session: Session, edit_id: int) -> dict[str, Any]:
    findings = []
    rows = _findings(session, edit_id)
    for r in _real_overlaps(session, edit_id, rows):
        zh, en = FINDINGS[r["kind"]]
        where = "、".join(r["grids"]) or f"村（社区）{r['village']}"
        findings.append(
            {
                "kind": r["kind"],
                "blocking": r["blocking"],
                "grids": list(r["grids"]),
                "village": r["village"],
                "area_m2": round(float(r["area_m2"]), 1),
                "lon": round(r["lon"], 7),
                "lat": round(r["lat"], 7),
                "message": f"{zh}：{where}，{float(r['area_m2']):,.0f} 平方米",
                "message_en": f"{en}: {', '.join(r['grids']) or r['village']}, "
                f"{float(r['area_m2']):,.0f} m²",
                "geometry": r["geometry"],
            }
        )
    findings += _households_missing(session, edit_id)
    findings += _workers_missing(session, edit_id)
    blocking = sum(f["blocking"] for f in findings)
    return {"ok": blocking == 0, "blocking": blocking, "findings": findings}


# the set's grids that came from grids with households and have none now (a split's parts): the
# planner gives them with 名称与户数 (a recode), or the ledger's households-a-grid goes blank
_HOUSEHOLDS_MISSING = text("""
    SELECT i.code, v.code AS village, src.households AS had, ST_X(pt.p) AS lon, ST_Y(pt.p) AS lat,
           ST_AsGeoJSON(pt.p, 7)::json AS geometry
    FROM grid_edit_item i JOIN region v ON v.id = i.village_id
    CROSS JOIN LATERAL (SELECT sum(g.households) AS households FROM grid g
                        WHERE g.id = ANY(i.lineage || i.from_id)) src
    CROSS JOIN LATERAL (SELECT ST_PointOnSurface(i.geom) AS p) pt
    WHERE i.edit_id = :e AND i.geom IS NOT NULL AND i.households IS NULL
      AND src.households IS NOT NULL
    ORDER BY i.code
""")


def _households_missing(session: Session, edit_id: int) -> list[dict[str, Any]]:
    """A warning (not blocking) for each grid of the set without households that came from
    grids with some; its geometry a point inside the grid (the whole grid would cover it on the
    planner's map, and take the clicks that select it)."""
    zh, en = FINDINGS["households_missing"]
    return [
        _warning(
            "households_missing",
            r,
            f"{zh}：{r.code}（所出网格共 {r.had} 户），请用“名称与户数”填写",
            f"{en}: {r.code} (the grids it came from had {r.had}); give them with Name and "
            "households",
        )
        for r in session.execute(_HOUSEHOLDS_MISSING, {"e": edit_id})
    ]


def _warning(kind: str, r: Any, message: str, message_en: str) -> dict[str, Any]:
    """A finding that does not block the commit, about the grid of row ``r`` (its code, village
    and a point inside it: the whole grid would cover it on the planner's map, and take the
    clicks that select it)."""
    return {
        "kind": kind,
        "blocking": False,
        "grids": [r.code],
        "village": r.village,
        "area_m2": 0.0,
        "lon": round(r.lon, 7),
        "lat": round(r.lat, 7),
        "message": message,
        "message_en": message_en,
        "geometry": r.geometry,
    }


# each grid of the set left with no grid worker, where the grids it came from had some (a
# split's new part: a grid's workers stay with its code; a grid given nobody), or drawn on land no
# grid had.  Its workers after the commit (_apply): those assigned to it, else its own grid's
# (they follow the code)
_WORKERS_MISSING = text("""
    SELECT i.code, v.code AS village, src.n AS had, ST_X(pt.p) AS lon, ST_Y(pt.p) AS lat,
           ST_AsGeoJSON(pt.p, 7)::json AS geometry
    FROM grid_edit_item i JOIN region v ON v.id = i.village_id
    CROSS JOIN LATERAL (SELECT count(DISTINCT wg.worker_id) AS n FROM grid g
                        JOIN worker_grid wg ON wg.grid_code = g.code
                        WHERE g.id = ANY(i.lineage || i.from_id)) src
    CROSS JOIN LATERAL (SELECT ST_PointOnSurface(i.geom) AS p) pt
    WHERE i.edit_id = :e AND i.geom IS NOT NULL
      AND (src.n > 0 OR (i.from_id IS NULL AND cardinality(i.lineage) = 0))
      AND CASE WHEN i.workers IS NOT NULL THEN cardinality(i.workers) = 0
               WHEN i.from_id IS NOT NULL THEN NOT EXISTS (
                   SELECT 1 FROM grid g JOIN worker_grid wg ON wg.grid_code = g.code
                   WHERE g.id = i.from_id)
               ELSE true END
    ORDER BY i.code
""")


def _workers_missing(session: Session, edit_id: int) -> list[dict[str, Any]]:
    """A warning (not blocking) for each grid of the set that would have no grid worker, its
    grids before having some, or new: reports there would reach no 网格员 and no phone would
    list it."""
    zh, en = FINDINGS["workers_missing"]
    return [
        _warning(
            "workers_missing",
            r,
            f"{zh}：{r.code}{f'（所出网格有 {r.had} 名）' if r.had else '（新划定）'}，"
            "请用“配置网格员”指定",
            f"{en}: {r.code} "
            f"{f'(the grids it came from had {r.had})' if r.had else '(newly drawn)'}; give "
            "them with Grid workers",
        )
        for r in session.execute(_WORKERS_MISSING, {"e": edit_id})
    ]


# ---------------------------------------------------------------------------------------------
# applying: shared by the preview (in a savepoint, rolled back) and the commit

_ITEM_STATES = """
SELECT i.id, i.code, i.from_id, g.code AS from_code, g.version AS from_version,
       g.valid_to IS NULL AS still_current, i.name, g.name AS old_name, v.code AS village,
       i.geom IS NULL AS retired,
       i.geom IS NOT NULL AND g.id IS NOT NULL AND i.geom = g.geom AS same_geom,
       -- a shape that is not the same vertex for vertex: compared by shapely (_states)
       CASE WHEN i.geom IS NOT NULL AND g.id IS NOT NULL AND NOT i.geom = g.geom
            THEN ST_AsBinary(i.geom) END AS new_wkb,
       CASE WHEN i.geom IS NOT NULL AND g.id IS NOT NULL AND NOT i.geom = g.geom
            THEN ST_AsBinary(g.geom) END AS old_wkb,
       CASE WHEN :areas AND i.geom IS NOT NULL THEN ST_Area(i.geom::geography) END AS area_m2,
       CASE WHEN :areas AND g.id IS NOT NULL THEN ST_Area(g.geom::geography) END AS old_area_m2,
       i.households, g.households AS old_households, i.population, g.population AS old_population,
       i.workers, i.workers_seen, i.roles
FROM grid_edit_item i LEFT JOIN grid g ON g.id = i.from_id JOIN region v ON v.id = i.village_id
WHERE i.edit_id = :e ORDER BY i.code, i.id
"""


@dataclass
class _State:
    rows: list[dict[str, Any]]

    def changes(self, r: dict[str, Any]) -> list[str]:
        if r["from_id"] is None or r["retired"]:
            return []
        said = [] if r["same_geom"] else ["geometry"]
        said += ["code"] if r["code"] != r["from_code"] else []
        said += [k for k in ("name", "households", "population") if r[k] != r[f"old_{k}"]]
        return said

    def state(self, r: dict[str, Any]) -> str:
        if r["from_id"] is None:
            return "added"
        if r["retired"]:
            return "retired"
        return "changed" if self.changes(r) else "unchanged"

    def ids(self, *states: str) -> list[int]:
        return [r["id"] for r in self.rows if self.state(r) in states]

    def closed(self) -> list[int]:
        return [r["from_id"] for r in self.rows if self.state(r) in ("changed", "retired")]


def _states(session: Session, edit_id: int, *, areas: bool = False) -> _State:
    """The drafted grids, each with what it was drawn on (and, with ``areas``, both areas).
    Whether a drafted shape is the one it was drawn on is decided here, by :func:`geo.equal`:
    PostGIS's ``ST_Equals`` threw on a valid pair, and the commit was a 500."""
    rows = []
    for r in session.execute(text(_ITEM_STATES), {"e": edit_id, "areas": areas}).mappings():
        row = dict(r)
        new_wkb, old_wkb = row.pop("new_wkb"), row.pop("old_wkb")
        if new_wkb is not None:
            row["same_geom"] = geo.equal(shapely.from_wkb(new_wkb), shapely.from_wkb(old_wkb))
        rows.append(row)
    return _State(rows)


def _staffing(session: Session, st: _State) -> dict[int, tuple[list[str], dict[str, str]]]:
    """The worker list each explicitly staffed grid gets at the commit, with each worker's
    part in the team, by item id.  The edit set's list is applied as a change to the links it
    was drawn from: a worker it added is added, one it took away is taken away, and a change
    made since on those links (a planner staffing a grid from its record) is kept, not undone.
    An item stored before ``workers_seen`` existed replaces the list as it is.  A worker keeps
    the part they had in the grids the list was drawn from; a team merged from two grids keeps
    the chief of the grid that goes on (the others become managers), and a newcomer is the
    chief of a team without one, else a manager.  A part the set gave (``roles`` of its
    ``assign`` or ``create``) comes before all that: a chief it names is the team's chief."""
    rows = [r for r in st.rows if r["workers"] is not None and not r["retired"]]
    codes = sorted(
        {c for r in rows for c in (r["code"], r["from_code"], *(r["workers_seen"] or {})) if c}
    )
    links: dict[str, dict[str, str]] = {c: {} for c in codes}
    for grid_code, worker, role in session.execute(
        text("""SELECT wg.grid_code, w.code, wg.role FROM worker_grid wg
                JOIN worker w ON w.id = wg.worker_id
                WHERE wg.grid_code = ANY(:codes) ORDER BY w.code"""),
        {"codes": codes},
    ):
        links[grid_code][worker] = role
    staffed = {}
    for r in rows:
        drawn: list[str] = list(r["workers"])
        sources = [c for c in (r["from_code"], r["code"], *(r["workers_seen"] or {})) if c]
        had = {w: role for c in reversed(sources) for w, role in links[c].items()}
        if r["workers_seen"] is not None:
            base = {w for ws in r["workers_seen"].values() for w in ws}
            now = sorted({w for c in r["workers_seen"] for w in links[c]})
            drawn = [w for w in drawn if w in now or w not in base]
            drawn += [w for w in now if w not in base and w not in drawn]
        chiefs = [w for w in drawn if had.get(w) == "chief"]
        own = [w for w in chiefs if links.get(r["from_code"] or "", {}).get(w) == "chief"]
        team = {w: had.get(w, "") for w in drawn}
        for w in chiefs:
            if w != (own or chiefs)[0]:
                team[w] = "manager"
        given = {w: role for w, role in (r.get("roles") or {}).items() if w in team}
        team |= given  # the parts the set gave; a chief it names replaces the one there was
        if "chief" in given.values():
            team |= {w: "manager" for w in team if team[w] == "chief" and given.get(w) != "chief"}
        for w in sorted(drawn):
            if not team[w]:
                team[w] = "manager" if "chief" in team.values() else "chief"
        staffed[r["id"]] = (drawn, team)
    return staffed


def _apply(session: Session, edit_id: int, st: _State) -> dict[str, Any]:
    """Write the edit set into the grid table and worker links (the caller commits or rolls
    back); the time the new versions start."""
    closed = st.closed()
    # one moment for both ends; the old versions close before the new ones go in (the insert
    # reads the count of closed rows first), as a code has one current version at a time
    rows = session.execute(
        text("""
        WITH t AS MATERIALIZED (SELECT clock_timestamp() AS now),
        closing AS (UPDATE grid SET valid_to = t.now FROM t
                    WHERE id = ANY(:closed) AND valid_to IS NULL RETURNING 1),
        created AS (
            INSERT INTO grid (code, version, name, village_id, geom, households, population,
                              valid_from, edit_id, lineage)
            SELECT i.code,
                   coalesce((SELECT max(g.version) FROM grid g WHERE g.code = i.code), 0) + 1,
                   i.name, i.village_id, i.geom, i.households, i.population, t.now, :e,
                   ARRAY(SELECT DISTINCT x FROM unnest(i.lineage || i.from_id) x
                         WHERE x IS NOT NULL ORDER BY x)
            FROM grid_edit_item i, t
            WHERE i.id = ANY(:ids) AND (SELECT count(*) FROM closing) >= 0
            RETURNING id, code, version
        )
        SELECT t.now, c.id, c.code, c.version FROM t LEFT JOIN created c ON true
    """),
        {"closed": closed, "e": edit_id, "ids": st.ids("added", "changed")},
    ).all()
    now = rows[0].now
    created = [(r.id, r.code, r.version) for r in rows if r.id is not None]
    # worker links follow the code: retired grids lose theirs, re-coded ones move, explicit
    # assignments replace the grid's list (worked out first, while every link is still there)
    staffed = _staffing(session, st)
    retired = [r["from_code"] for r in st.rows if st.state(r) == "retired"]
    if retired:
        session.execute(
            text("DELETE FROM worker_grid WHERE grid_code = ANY(:codes)"), {"codes": retired}
        )
    moves = [
        (r["from_code"], r["code"])
        for r in st.rows
        if st.state(r) == "changed" and r["code"] != r["from_code"] and r["workers"] is None
    ]
    if moves:
        session.execute(
            text("""UPDATE worker_grid wg SET grid_code = m.new
                    FROM unnest(CAST(:old AS text[]), CAST(:new AS text[])) AS m(old, new)
                    WHERE wg.grid_code = m.old"""),
            {"old": [m[0] for m in moves], "new": [m[1] for m in moves]},
        )
    for r in st.rows:
        if r["id"] not in staffed:
            continue
        workers, roles = staffed[r["id"]]
        session.execute(
            text("DELETE FROM worker_grid WHERE grid_code = ANY(:codes)"),
            {"codes": [r["code"], r["from_code"]]},
        )
        session.execute(
            text("""INSERT INTO worker_grid (worker_id, grid_code, role)
                    SELECT w.id, :code, CAST(:roles AS jsonb) ->> w.code
                    FROM worker w WHERE w.code = ANY(:workers)"""),
            {"code": r["code"], "workers": workers, "roles": json.dumps(roles)},
        )
    return {"now": now, "closed": closed, "created": created}


# where the open cases of the changed grids go: wangge_edit_regrid (migration 0015: planned once
# per connection), which also says whether each new owner lies in the planner's jurisdiction
_REGRID = """SELECT * FROM wangge_edit_regrid(CAST(:codes AS text[]), CAST(:villages AS text[]),
                                           :scope_column, :scope_code)"""
_REASSIGN_PREVIEW = f"""
SELECT m.code, m.status, m.old_grid, m.grid_code AS new_grid, oc.name AS old_center,
       nc.name AS new_center, m.method::text AS method, m.in_scope
FROM ({_REGRID}) m
LEFT JOIN center oc ON oc.id = m.old_center LEFT JOIN center nc ON nc.id = m.center_id
WHERE m.old_grid IS DISTINCT FROM m.grid_code OR m.old_center IS DISTINCT FROM m.center_id
ORDER BY m.code
"""
# the commit's re-assignment: wangge_edit_reassign (migration 0015) moves the cases, writes
# their events and closes the edit set with its result, completed with the counts
_REASSIGN_WRITE = """SELECT * FROM wangge_edit_reassign(
    :e, CAST(:codes AS text[]), CAST(:villages AS text[]), :scope_column, :scope_code, :actor,
    :now, CAST(:result AS jsonb))"""


_RELOCATE = text("""SELECT * FROM wangge_edit_reassign(
    NULL, CAST(:codes AS text[]), CAST(:villages AS text[]), NULL, NULL, :actor, now(), '{}')""")


def relocate_open_cases(session: Session, codes: list[str], villages: list[str], actor: str) -> Any:
    """The open cases of the grids ``codes`` and the uncovered ones of ``villages``, located
    again on the layout as it stands, outside any edit set: as a commit moves them (a ``regrid``
    event for each whose grid or center changes).  The counts: updated, events, kept."""
    return session.execute(_RELOCATE, {"codes": codes, "villages": villages, "actor": actor}).one()


def _reassign_params(st: _State, actor: Actor, edit_id: int, now: Any) -> dict[str, Any]:
    codes = sorted(
        {r["from_code"] for r in st.rows if st.state(r) in ("changed", "retired")}
        | {r["code"] for r in st.rows if st.state(r) in ("added", "changed")}
    )
    villages = sorted({r["village"] for r in st.rows})
    return {
        "codes": codes,
        "villages": villages,
        "scope_column": actor.scope.case_column(),
        "scope_code": actor.scope.region_code,
        "actor": actor.username,
        "e": edit_id,
        "now": now,
    }


# ---------------------------------------------------------------------------------------------
# preview and commit

PREVIEW_CASES = 500


def preview(session: Session, actor: Actor, edit_id: int) -> dict[str, Any]:
    """What committing now would do: findings; grids added / retired / changed (areas,
    households); open cases whose grid or center would change; workers whose grids change."""
    _edit(session, actor, edit_id, write=False)
    validation = _validate(session, edit_id)
    st = _states(session, edit_id, areas=True)
    grids = [
        {
            "code": r["code"],
            "state": st.state(r),
            "changes": st.changes(r),
            "from_code": r["from_code"],
            "from_version": r["from_version"],
            "name": r["name"],
            "village": r["village"],
            "area_m2": None if r["area_m2"] is None else round(r["area_m2"], 1),
            "old_area_m2": None if r["old_area_m2"] is None else round(r["old_area_m2"], 1),
            "households": r["households"],
            "old_households": r["old_households"],
        }
        for r in st.rows
    ]
    before = _worker_links(session, st)
    with session.begin_nested() as savepoint:
        applied = _apply(session, edit_id, st)
        moved = [
            dict(r)
            for r in session.execute(
                text(_REASSIGN_PREVIEW),
                _reassign_params(st, actor, edit_id, applied["now"]),
            ).mappings()
        ]
        after = _worker_links(session, st, before)
        savepoint.rollback()
    workers = [
        {
            "code": w,
            "name": before[w]["name"],
            "before": before[w]["grids"],
            "after": after.get(w, {"grids": []})["grids"],
        }
        for w in sorted(before)
        if before[w]["grids"] != after.get(w, {"grids": []})["grids"]
    ]
    mine = [m for m in moved if m["in_scope"]]
    counts: dict[str, int] = {}
    for r in grids:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    hh_moved = [
        g for g in grids if g["state"] != "unchanged" and g["households"] != g["old_households"]
    ]
    return {
        "id": edit_id,
        "validation": validation,
        "grids": grids,
        "counts": counts,
        "cases": {
            "count": len(mine),
            "grid_changed": sum(m["old_grid"] != m["new_grid"] for m in mine),
            "center_changed": sum(m["old_center"] != m["new_center"] for m in mine),
            "list": mine[:PREVIEW_CASES],
            # their new owner is outside your jurisdiction: they keep their assignment
            "outside_jurisdiction": [m for m in moved if not m["in_scope"]][:PREVIEW_CASES],
        },
        "workers": workers,
        "households": {
            "grids": [
                {"code": g["code"], "before": g["old_households"], "after": g["households"]}
                for g in hh_moved
            ],
        },
    }


def _worker_links(
    session: Session, st: _State, known: dict[str, dict] | None = None
) -> dict[str, dict]:
    """Workers linked to any grid the edit set touches (or in ``known``), with all their grids."""
    codes = sorted({c for r in st.rows for c in (r["code"], r["from_code"]) if c})
    wanted = sorted({w for r in st.rows for w in (r["workers"] or [])} | set(known or {}))
    rows = session.execute(
        text("""
        SELECT w.code, w.name, array_agg(wg.grid_code ORDER BY wg.grid_code)
                                 FILTER (WHERE wg.grid_code IS NOT NULL) AS grids
        FROM worker w LEFT JOIN worker_grid wg ON wg.worker_id = w.id
        WHERE w.code = ANY(:wanted)
           OR w.id IN (SELECT worker_id FROM worker_grid WHERE grid_code = ANY(:codes))
        GROUP BY w.code, w.name
    """),
        {"codes": codes, "wanted": wanted},
    )
    return {r.code: {"name": r.name, "grids": list(r.grids or [])} for r in rows}


def commit(session: Session, actor: Actor, edit_id: int) -> dict[str, Any]:
    """Apply the edit set in the caller's transaction: 409 if any grid it was drawn on changed
    since, 422 with the findings if validation blocks."""
    _edit(session, actor, edit_id, write=True)
    # the layout to itself against reports being located (migration 0041): those under way are
    # waited for, and moved below with the rest; new ones wait until this transaction ends
    session.execute(text(f"SELECT pg_advisory_xact_lock{LAYOUT_LOCK}"))
    # one committer per village at a time (the later statements see the other's result), then
    # the grids the set was drawn on, locked (the village locks come first: the scan asks for
    # them before its first row): how many have been superseded since.  A row another commit
    # superseded while this one waited is re-read in its latest version by the row lock.  The
    # lock is FOR NO KEY UPDATE, the one the closing UPDATE takes (it sets valid_to, no key):
    # FOR UPDATE also waited for every foreign-key check on those grids (KEY SHARE: another
    # planner's draft, a report assigned there), which deadlocked a commit with a draft that
    # had locked the same grids in another order (found by a race of planners and operators).
    superseded = session.execute(
        text("""
        WITH locked AS MATERIALIZED (
            SELECT count(pg_advisory_xact_lock(74110, v)) AS n FROM (
                SELECT DISTINCT village_id AS v FROM grid_edit_item WHERE edit_id = :e
                ORDER BY 1) x)
        SELECT count(*) FILTER (WHERE valid_to IS NOT NULL) FROM (
            SELECT valid_to FROM grid
            WHERE id IN (SELECT from_id FROM grid_edit_item WHERE edit_id = :e)
              AND (SELECT n FROM locked) >= 0
            ORDER BY id FOR NO KEY UPDATE) g
    """),
        {"e": edit_id},
    ).scalar_one()
    if superseded:
        stale = (
            session.execute(
                text("""
            SELECT i.code, g.code AS drawn_code, g.version AS drawn_version,
                   n.version AS now_version, e.created_by AS changed_by, g.valid_to AS changed_at
            FROM grid_edit_item i JOIN grid g ON g.id = i.from_id
            LEFT JOIN grid n ON n.code = g.code AND n.valid_to IS NULL
            LEFT JOIN grid_edit e ON e.id = coalesce(n.edit_id, (
                SELECT h.edit_id FROM grid h WHERE h.lineage @> ARRAY[g.id] LIMIT 1))
            WHERE i.edit_id = :e AND g.valid_to IS NOT NULL
            ORDER BY g.code
        """),
                {"e": edit_id},
            )
            .mappings()
            .all()
        )
        codes = "、".join(r["drawn_code"] for r in stale)
        raise Conflict(
            f"网格 {codes} 在本方案起草后已被他人修改（{stale[0]['changed_by'] or '其他方案'}），"
            "不能提交：请放弃本方案，在最新边界上重新调整。",
            f"Grid{'s' if len(stale) > 1 else ''} "
            f"{', '.join(r['drawn_code'] for r in stale)} changed since this edit set was drawn; "
            "discard it and redo the edit on the current layout.",
            conflicts=[
                {
                    "code": r["drawn_code"],
                    "drawn_version": r["drawn_version"],
                    "current_version": r["now_version"],
                    "changed_by": r["changed_by"],
                    "changed_at": r["changed_at"].isoformat() if r["changed_at"] else None,
                }
                for r in stale
            ],
        )
    st = _states(session, edit_id)
    if not st.rows:
        raise InvalidInput(
            "调整方案还没有任何改动，无需提交。", "The edit set changes nothing yet.", field="id"
        )
    validation = _validate(session, edit_id)
    if not validation["ok"]:
        n = validation["blocking"]
        said = [f for f in validation["findings"] if f["blocking"]][:SAID_FINDINGS]
        rest = ("（其余见校验结果）", " (more in the validation)") if n > len(said) else ("", "")
        raise InvalidInput(
            f"方案有 {n} 处问题需要先解决：{'；'.join(f['message'] for f in said)}{rest[0]}",
            f"The edit set has {n} blocking finding{'s' if n > 1 else ''}: "
            f"{'; '.join(f['message_en'] for f in said)}{rest[1]}",
            field="id",
            findings=validation["findings"],
        )
    applied = _apply(session, edit_id, st)
    result: dict[str, Any] = {
        "id": edit_id,
        "status": "committed",
        "at": applied["now"].isoformat(),
        "grids": {
            state: [r["code"] for r in st.rows if st.state(r) == state]
            for state in ("added", "changed", "retired")
        },
        "versions": [{"code": c, "version": v} for _, c, v in applied["created"]],
        "warnings": [f["message"] for f in validation["findings"]],
    }
    counts = session.execute(
        text(_REASSIGN_WRITE),
        _reassign_params(st, actor, edit_id, applied["now"])
        | {"result": json.dumps(result, ensure_ascii=False)},
    ).one()
    result["cases_reassigned"] = int(counts.updated)
    result["case_events"] = int(counts.events)
    result["cases_outside_jurisdiction"] = int(counts.kept)
    return result


def draft_geojson(session: Session, actor: Actor, edit_id: int) -> str:
    """The working layout of every village the edit set touches, each grid with its state (and
    the workers the set gives it, where it does)."""
    _edit(session, actor, edit_id, write=False)
    st = _states(session, edit_id)
    states = {r["id"]: st.state(r) for r in st.rows}
    rows = session.execute(
        text("""
        WITH items AS (SELECT * FROM grid_edit_item WHERE edit_id = :e)
        SELECT i.id, i.code, i.name, ST_AsGeoJSON(coalesce(i.geom, g.geom), 7)::json AS geometry,
               i.workers, i.roles, i.households, i.population
        FROM items i LEFT JOIN grid g ON g.id = i.from_id
        UNION ALL
        SELECT NULL, g.code, g.name, ST_AsGeoJSON(g.geom, 7)::json, NULL, NULL, g.households,
               g.population
        FROM grid g
        WHERE g.valid_to IS NULL AND g.village_id IN (SELECT village_id FROM items)
          AND NOT EXISTS (SELECT 1 FROM items i WHERE i.from_id = g.id)
        ORDER BY 2
    """),
        {"e": edit_id},
    ).mappings()
    features = [
        {
            "type": "Feature",
            "id": r["code"],
            "geometry": r["geometry"],
            "properties": {
                "code": r["code"],
                "name": r["name"],
                "state": states.get(r["id"], "untouched") if r["id"] else "untouched",
                "households": r["households"],
                "population": r["population"],
                # the workers the set gives it (assign, create: their codes) and their parts,
                # if it does (``workers`` of the current grids are names: another word)
                **(
                    {"assigned": list(r["workers"]), "assigned_roles": r["roles"] or {}}
                    if r["workers"] is not None
                    else {}
                ),
            },
        }
        for r in rows
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
