"""Importing boundaries: regions (city … village), grids and centers.

Hierarchy: each row is linked to its parent by **code prefix** where codes follow the 12-digit
scheme (village → its township, district or city), else by the **parent field**, else by the
**largest overlap** with a region one level up or more — the report says which rule linked each
row.  Missing levels are normal (townships directly under a city).  Checks, with their location
and area: siblings overlapping by more than ``tolerance_m2``, gaps inside a parent, children
sticking out of their parent; ``strict`` makes any of them fatal.

Grids keep their history: a grid whose boundary changed gets a new version (the old one is closed
with ``valid_to``), so cases keep pointing at the cell they were located in.
"""

from __future__ import annotations

import math
import re
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

from gis.datum import datum_named, to_wgs84
from gis.edits import LAYOUT_LOCK, relocate_open_cases, significant
from gis.geo import area_m2, difference, intersection, union
from importers.core import (
    DATUM_HINT,
    DATUM_UNDECLARED,
    FIELD_CANDIDATES,
    Both,
    ImportReport,
    Issue,
    clean_polygons,
    datum_option,
    field_options,
    geometries_from_table,
    import_transaction,
    pick_fields,
    read_table,
    refuse_if_strict,
    regions_named,
    require_fields,
    sheet_notes,
    short_code,
    to_wgs84_frame,
)

#: the rules that link a row to its parent (the report's ``linked``, spelled as clients know)
_BY_PREFIX = Both("编码前缀", "code prefix", "code-prefix 编码前缀")
_BY_FIELD = Both("上级字段", "parent field", "parent-field 上级字段")
_BY_OVERLAP = Both("空间叠加", "largest overlap", "overlap 空间叠加")
_TOP = Both("顶级", "top", "top 顶级")  # (no level above it in the file or the database)

LEVELS = ("city", "district", "township", "village")
RANK = {level: i for i, level in enumerate(LEVELS)}
CODE_LENGTH = {"city": 6, "district": 6, "township": 9, "village": 12}
LEVEL_WORDS = {
    "city": ("市", "地级市", "CITY", "地市", "地级", "自治州", "盟"),
    "district": ("区", "县", "县级市", "旗", "DISTRICT", "COUNTY", "区县", "县区", "市辖区",
                 "自治县", "自治旗"),
    "township": ("街道", "乡", "镇", "乡镇", "苏木", "TOWNSHIP", "STREET", "TOWN", "镇街",
                 "街道办", "街道办事处", "民族乡", "乡镇街道"),
    "village": ("村", "社区", "居委会", "村委会", "嘎查", "VILLAGE", "COMMUNITY", "村居", "行政村",
                "村社区", "社区居委会", "村民委员会", "居民委员会"),
}  # fmt: skip
#: a level word's spellings: 市级, 村（社区）, 乡镇/街道
_LEVEL_NOISE = re.compile(r"级$|[/、()]")


@dataclass
class Options:
    commit: bool = False
    encoding: str | None = None
    crs: str | None = None
    datum: str | None = None
    code_field: str | None = None
    name_field: str | None = None
    parent_field: str | None = None
    level: str | None = None
    strict: bool = False
    tolerance_m2: float = 100.0
    fields: list[str] | None = None  # --field ROLE=COLUMN (core.field_options)


def _code(value: Any) -> str:
    """A code as digits: '990102', 990102.0 and ' 990102 ' all give '990102'."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    s = str(value).strip()
    if s.endswith(".0") and s[:-2].isdigit():
        s = s[:-2]
    return s


def region_code(value: Any) -> str:
    """A region's code in this scheme's lengths (:func:`_code`, then :func:`short_code`)."""
    return short_code(_code(value))


def _level_of(code: str, word: str | None) -> str | None:
    if word:
        w = _LEVEL_NOISE.sub("", unicodedata.normalize("NFKC", str(word)).strip().upper())
        for level, words in LEVEL_WORDS.items():
            if w == level.upper() or w in words:
                return level
    return {12: "village", 9: "township"}.get(len(code)) or (
        ("city" if code.endswith("00") else "district") if len(code) == 6 else None
    )


def _ancestor_codes(code: str, level: str) -> list[str]:
    """Codes an ancestor would have under the 12-digit scheme, nearest first."""
    out = []
    if RANK[level] > RANK["township"]:
        out.append(code[:9])
    if RANK[level] > RANK["district"]:
        out.append(code[:6])
    if RANK[level] > RANK["city"]:
        out.append(code[:4] + "00")
    return [c for c in out if c != code]


def _near_lon(session: Session) -> float | None:
    return session.execute(
        text("SELECT ST_X(ST_Centroid(ST_Collect(geom))) FROM region WHERE parent_id IS NULL")
    ).scalar()


def _frame(
    path: Path,
    opts: Options,
    session: Session,
    report: ImportReport,
    roles: list[str],
    points: bool = False,
) -> tuple[gpd.GeoDataFrame, dict[str, str]]:
    table = read_table(path, opts.encoding)
    sheet_notes(table, report)  # (a CSV/XLSX: the rows it left out, and why)
    overrides = field_options(
        opts.fields,
        FIELD_CANDIDATES,
        {"code": opts.code_field, "name": opts.name_field, "parent": opts.parent_field},
    )
    mapping = pick_fields(table.columns, roles, overrides)
    if not isinstance(table, gpd.GeoDataFrame):
        # the geometry's own columns: a WKT column (any import), lon/lat (points)
        shape_roles = [r for r in ("wkt", "lon", "lat", "lonlat") if r not in mapping]
        taken = set(mapping.values())
        found = pick_fields(
            [c for c in table.columns if c not in taken],
            shape_roles,
            {r: overrides.get(r) for r in shape_roles},
        )
        table = geometries_from_table(table, mapping | found, points)
        if opts.crs is None:
            table = table.set_crs("EPSG:4326")
    report.rows = len(table) + len(report.rejected)  # (rows a Sheet rejected: too wide)
    repairs = table.attrs.get("parse_repairs", {})
    failures = table.attrs.get("parse_failures", {})
    gdf = to_wgs84_frame(table, opts.crs, report, _near_lon(session))
    gdf.attrs["parse_repairs"], gdf.attrs["parse_failures"] = repairs, failures
    return gdf, mapping


# --- regions ------------------------------------------------------------------------------


@dataclass
class _Row:
    code: str
    name: str
    level: str
    geom: BaseGeometry
    parent_field: str | None
    parent: str | None = None


def import_regions(session: Session, path: Path, opts: Options) -> ImportReport:
    """Regions (city, district, township, village) from ``path``; see the module docstring."""
    started = time.perf_counter()
    report = ImportReport(Both("行政区划", "regions", "regions 行政区划"), path.name)
    gdf, mapping = _frame(path, opts, session, report, ["code", "name", "level", "parent"])
    require_fields(mapping, ["code", "name"], gdf.columns)
    report.mapping = mapping
    raw = [_code(v) for v in gdf[mapping["code"]]]
    codes = [short_code(c) for c in raw]
    padded = [(r, c) for r, c in zip(raw, codes, strict=True) if r != c]
    if padded:
        r, c = padded[0]
        report.warnings.append(
            Both(
                f"{len(padded)} 个 12 位补零的统计用区划代码已按级别缩短（如 {r} → {c}）",
                f"{len(padded)} zero-padded 12-digit codes shortened to their level, "
                f"e.g. {r} → {c}",
            )
        )
    geoms = clean_polygons(
        gdf.geometry.to_numpy(),
        codes,
        report,
        parse_repairs=gdf.attrs.get("parse_repairs"),
        parse_failures=gdf.attrs.get("parse_failures"),
    )
    rows: list[_Row] = []
    seen: set[str] = set()
    for i, (code, geom) in enumerate(zip(codes, geoms, strict=True)):
        if geom is None:
            continue
        word = gdf[mapping["level"]].iloc[i] if "level" in mapping else None
        level = opts.level or _level_of(code, word)
        name = str(gdf[mapping["name"]].iloc[i] or "").strip()
        reason = None
        if not code.isdigit() or level is None or len(code) != CODE_LENGTH[level]:
            reason = Both(
                f"编码须为数字：市、区县 6 位，乡镇街道 9 位，村社区 12 位（收到 {code!r}）",
                f"codes are digits: 6 (city, district), 9 (township), 12 (village); got {code!r}",
            )
        elif not name:
            reason = Both("缺少名称", "missing name")
        elif code in seen:
            reason = Both("文件中编码重复", "duplicate code in the file")
        if reason:
            p = geom.representative_point()
            report.rejected.append(Issue("rejected", code or None, reason, p.x, p.y))
            continue
        seen.add(code)
        parent = region_code(gdf[mapping["parent"]].iloc[i]) if "parent" in mapping else None
        rows.append(_Row(code, name, str(level), geom, parent or None))
    stored = _stored_regions(session)
    _link_parents(rows, report, stored)
    _check_hierarchy(rows, report, opts.tolerance_m2, stored)
    refuse_if_strict(report, opts.strict)
    _write_regions(session, rows, report, opts.commit)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


#: a stored region: its level, geometry and parent's code
_Stored = tuple[str, BaseGeometry, str | None]


def _stored_regions(session: Session) -> dict[str, _Stored]:
    """Every stored region by code: (level, geometry, parent code)."""
    rows = session.execute(
        text("""SELECT r.code, r.level::text, ST_AsBinary(r.geom), p.code
                FROM region r LEFT JOIN region p ON p.id = r.parent_id""")
    ).all()
    return {c: (lv, shapely.from_wkb(bytes(g)), parent) for c, lv, g, parent in rows}


def _link_parents(rows: list[_Row], report: ImportReport, stored: dict[str, _Stored]) -> None:
    known = {c: (lv, g) for c, (lv, g, _) in stored.items()}
    known.update({r.code: (r.level, r.geom) for r in rows})
    higher = [(c, lv, g) for c, (lv, g) in known.items()]
    tree = STRtree([g for _, _, g in higher])
    for r in rows:
        rank = RANK[r.level]
        for candidate in _ancestor_codes(r.code, r.level):
            if candidate in known and RANK[known[candidate][0]] < rank:
                r.parent, rule = candidate, _BY_PREFIX
                break
        else:
            if (
                r.parent_field
                and r.parent_field in known
                and (RANK[known[r.parent_field][0]] < rank)
            ):
                r.parent, rule = r.parent_field, _BY_FIELD
            else:
                best, best_area = None, 0.0
                for j in tree.query(r.geom, predicate="intersects"):
                    code, level, geom = higher[int(j)]
                    if RANK[level] >= rank:
                        continue
                    overlap = intersection(r.geom, geom).area
                    # the nearest level up wins among equally good containers
                    if overlap > best_area * 1.000001 or (
                        best is not None
                        and abs(overlap - best_area) <= 1e-12
                        and RANK[level] > RANK[known[best][0]]
                    ):
                        best, best_area = code, overlap
                if best is not None and best_area > 0.5 * r.geom.area:
                    r.parent, rule = best, _BY_OVERLAP
                else:
                    r.parent, rule = None, _TOP
                    if rank > 0 and any(RANK[lv] < rank for _, lv, _ in higher):
                        p = r.geom.representative_point()
                        report.problems.append(
                            Issue(
                                "unlinked",
                                r.code,
                                Both("找不到上级区划", "no parent found"),
                                p.x,
                                p.y,
                            )
                        )
        report.linked[r.code] = rule


def _worth_reporting(piece: BaseGeometry, tolerance_m2: float) -> float | None:
    """The area in m² of an overlap, a gap or a part sticking out, if it is a problem: larger
    than ``tolerance_m2`` and wider than the planner's tolerance somewhere
    (:data:`gis.edits.TOLERANCE_M`, as an edit set is validated).  A thinner piece is the
    precision of the drawing: two boundaries that follow one line with vertices of their own
    leave slivers a few centimetres wide, whose area, measured on the ellipsoid or in metres,
    can be hundreds of m² along a few kilometres (every layout the system exports had them)."""
    if piece.is_empty or piece.area == 0:
        return None
    area = area_m2(piece)
    return round(area, 1) if area > tolerance_m2 and significant(piece) else None


def _check_hierarchy(
    rows: list[_Row], report: ImportReport, tolerance_m2: float, stored: dict[str, _Stored]
) -> None:
    """Overlaps, gaps and parts sticking out, in the hierarchy as it will be: the file's regions
    with the stored ones it does not name (a file of one district: its townships beside the
    city's other districts, not alone in the city)."""
    known = {c: (lv, g) for c, (lv, g, _) in stored.items()}
    known.update({r.code: (r.level, r.geom) for r in rows})
    in_file = {r.code for r in rows}
    children: dict[str | None, list[_Row]] = {}
    for r in rows:
        children.setdefault(r.parent, []).append(r)
    stored_children: dict[str | None, list[tuple[str, BaseGeometry]]] = {}
    for c, (_, g, p) in stored.items():
        if c not in in_file:
            stored_children.setdefault(p, []).append((c, g))
    for parent, kids in children.items():
        others = stored_children.get(parent, [])
        # siblings overlapping: the file's with each other and with the stored ones
        geoms = [k.geom for k in kids] + [g for _, g in others]
        names = [k.code for k in kids] + [c for c, _ in others]
        tree = STRtree(geoms)
        for i, k in enumerate(kids):
            for j in tree.query(k.geom, predicate="intersects"):
                if int(j) <= i:
                    continue
                inter = intersection(k.geom, geoms[int(j)])
                a = _worth_reporting(inter, tolerance_m2)
                if a is not None:
                    p = inter.representative_point()
                    report.problems.append(
                        Issue(
                            "overlap",
                            f"{k.code}/{names[int(j)]}",
                            Both("同级区划重叠", "siblings overlap"),
                            p.x,
                            p.y,
                            a,
                        )
                    )
        if parent is None or parent not in known:
            continue
        pgeom = known[parent][1]
        for k in kids:  # children sticking out
            out = difference(k.geom, pgeom)
            a = _worth_reporting(out, tolerance_m2)
            if a is not None:
                p = out.representative_point()
                report.problems.append(
                    Issue(
                        "outside_parent",
                        k.code,
                        Both(f"超出上级 {parent} 范围", f"sticks out of its parent {parent}"),
                        p.x,
                        p.y,
                        a,
                    )
                )
        gap = difference(pgeom, union(geoms))
        for part in shapely.get_parts(gap):  # gaps inside the parent
            a = _worth_reporting(part, tolerance_m2)
            if a is not None:
                p = part.representative_point()
                report.problems.append(
                    Issue(
                        "gap",
                        parent,
                        Both("上级范围内有未被下级覆盖的空隙", "gap inside the parent"),
                        p.x,
                        p.y,
                        a,
                    )
                )


def _write_regions(session: Session, rows: list[_Row], report: ImportReport, commit: bool) -> None:
    with import_transaction(session, report, commit):
        session.execute(
            text("""CREATE TEMP TABLE import_region (code text, name text, level region_level,
                    parent_code text, geom geometry) ON COMMIT DROP""")
        )
        if rows:
            session.execute(
                text("""INSERT INTO import_region
                        VALUES (:code, :name, CAST(:level AS region_level), :parent,
                                ST_SetSRID(ST_GeomFromWKB(:wkb), 4326))"""),
                [
                    {
                        "code": r.code,
                        "name": r.name,
                        "level": r.level,
                        "parent": r.parent,
                        "wkb": shapely.to_wkb(r.geom),
                    }
                    for r in rows
                ],
            )
        for code, state in session.execute(
            text("""
            SELECT i.code, CASE WHEN r.id IS NULL THEN 'created'
                   WHEN r.name = i.name AND r.level = i.level
                        AND p.code IS NOT DISTINCT FROM i.parent_code
                        AND wangge_equals(r.geom, ST_Multi(i.geom)) THEN 'unchanged'
                   ELSE 'updated' END
            FROM import_region i LEFT JOIN region r ON r.code = i.code
            LEFT JOIN region p ON p.id = r.parent_id ORDER BY i.code
        """)
        ):
            getattr(report, state).append(code)
        for level in LEVELS:  # parents before children
            session.execute(
                text("""
                INSERT INTO region (code, name, level, parent_id, geom)
                SELECT i.code, i.name, i.level, p.id, ST_Multi(i.geom)
                FROM import_region i LEFT JOIN region p ON p.code = i.parent_code
                WHERE i.level = CAST(:level AS region_level)
                ORDER BY i.code
                ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level,
                    parent_id = excluded.parent_id, geom = excluded.geom
                WHERE (region.name, region.level, region.parent_id)
                      IS DISTINCT FROM (excluded.name, excluded.level, excluded.parent_id)
                   OR NOT wangge_equals(region.geom, excluded.geom)
            """),
                {"level": level},
            )
        session.execute(text("DROP TABLE import_region"))


# --- centers ------------------------------------------------------------------------------


def import_centers(session: Session, path: Path, opts: Options) -> ImportReport:
    """Centers (one per region): name, region code, point (with ``--datum`` or a datum column),
    phone, address.  Upsert by region."""
    started = time.perf_counter()
    report = ImportReport(Both("综治中心", "centers", "centers 综治中心"), path.name)
    roles = ["name", "region", "code", "phone", "address", "lon", "lat", "datum", "wkt"]
    gdf, mapping = _frame(path, opts, session, report, roles, points=True)
    if "region" not in mapping and "code" in mapping:
        mapping["region"] = mapping.pop("code")
    require_fields(mapping, ["name", "region"], gdf.columns)
    report.mapping = mapping
    default = datum_option(opts.datum)
    if opts.datum is None and "datum" not in mapping and "lon" in mapping:
        report.warnings.insert(0, DATUM_UNDECLARED)  # (a table's lon/lat: no CRS says it)
    items: list[dict[str, Any]] = []
    for i in range(len(gdf)):
        region = region_code(gdf[mapping["region"]].iloc[i])
        geom = gdf.geometry.iloc[i]
        if geom is None or geom.is_empty or geom.geom_type != "Point":
            report.rejected.append(Issue("rejected", region, Both("缺少点位", "no point")))
            continue
        given = gdf[mapping["datum"]].iloc[i] if "datum" in mapping else None
        datum = datum_named(str(given)) if given else default
        if datum is None:
            report.rejected.append(
                Issue(
                    "rejected",
                    region,
                    Both(
                        f"坐标系无法识别：{str(given)!r}（{DATUM_HINT.zh}）",
                        f"unknown datum {str(given)!r} ({DATUM_HINT.en})",
                    ),
                )
            )
            continue
        lon, lat = to_wgs84(geom.x, geom.y, datum)
        if not (
            math.isfinite(lon) and math.isfinite(lat) and abs(lon) <= 180 and abs(lat) <= 90
        ) or (lon == 0 and lat == 0):
            swapped = abs(geom.y) <= 180 and abs(geom.x) <= 90 < abs(geom.y)
            hint = (
                ("（经纬度是否填反了？）", " (longitude and latitude swapped?)")
                if swapped
                else ("", "")
            )
            report.rejected.append(
                Issue(
                    "rejected",
                    region,
                    Both(
                        f"坐标无效：{geom.x:.6g}, {geom.y:.6g}{hint[0]}",
                        f"bad coordinates: {geom.x:.6g}, {geom.y:.6g}{hint[1]}",
                    ),
                )
            )
            continue
        items.append(
            {
                "region": region,
                "name": str(gdf[mapping["name"]].iloc[i]).strip(),
                "lon": float(lon),
                "lat": float(lat),
                "phone": _text(gdf, mapping, "phone", i),
                "address": _text(gdf, mapping, "address", i),
            }
        )
    # a region given by its name (南洲街道), as a list kept by hand gives it
    named = regions_named(session, [it["region"] for it in items if not it["region"].isdigit()])
    for it in list(items):
        found = named.get(it["region"], [])
        if len(found) == 1:
            it["region"] = found[0][0]
        elif found:
            listed = "、".join(f"{code}（{parent}）" for code, _, parent in found)
            report.rejected.append(
                Issue("rejected", it["region"],
                      Both(f"区划名称有 {len(found)} 个：{listed}，请写区划代码",
                           f"{len(found)} regions have this name ("
                           + ", ".join(f"{code} in {parent}" for code, _, parent in found)
                           + "): write its code"),
                      it["lon"], it["lat"])
            )  # fmt: skip
            items.remove(it)
    with import_transaction(session, report, opts.commit):
        known = set(
            session.execute(
                text("SELECT code FROM region WHERE code = ANY(CAST(:c AS varchar[]))"),
                {"c": [it["region"] for it in items]},
            ).scalars()
        )
        for it in list(items):
            if it["region"] not in known:
                report.rejected.append(
                    Issue(
                        "rejected",
                        it["region"],
                        Both("区划不存在", "unknown region"),
                        it["lon"],
                        it["lat"],
                    )
                )
                items.remove(it)
        for it in items:
            state = session.execute(
                text("""
                WITH r AS (SELECT id FROM region WHERE code = :region),
                old AS (SELECT c.* FROM center c JOIN r ON c.region_id = r.id),
                up AS (
                    INSERT INTO center (name, region_id, geom, phone, address)
                    SELECT :name, r.id, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :phone,
                           :address FROM r
                    ON CONFLICT (region_id) DO UPDATE SET name = excluded.name,
                        geom = excluded.geom, phone = excluded.phone, address = excluded.address
                    WHERE (center.name, center.phone, center.address)
                          IS DISTINCT FROM (excluded.name, excluded.phone, excluded.address)
                       OR NOT wangge_equals(center.geom, excluded.geom)
                    RETURNING 1)
                SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM old) THEN 'created'
                            WHEN EXISTS (SELECT 1 FROM up) THEN 'updated'
                            ELSE 'unchanged' END
            """),
                it,
            ).scalar_one()
            getattr(report, state).append(it["region"])
    report.seconds = round(time.perf_counter() - started, 3)
    return report


# --- grids --------------------------------------------------------------------------------

#: new grids of a first import are taken as valid since this moment unless ``--valid-from``
DEFAULT_VALID_FROM = "2000-01-01 00:00+08"


def import_grids(session: Session, path: Path, opts: Options) -> ImportReport:
    """Grid cells (15-digit codes) with their village, households and population.  A grid whose
    boundary changed gets a new version (the current one is closed, never overwritten); one whose
    attributes changed is updated in place; an identical one is left alone."""
    started = time.perf_counter()
    report = ImportReport(Both("网格", "grids", "grids 网格"), path.name)
    roles = ["code", "name", "parent", "households", "population"]
    gdf, mapping = _frame(path, opts, session, report, roles)
    require_fields(mapping, ["code"], gdf.columns)
    report.mapping = mapping
    codes = [_code(v) for v in gdf[mapping["code"]]]
    geoms = clean_polygons(
        gdf.geometry.to_numpy(),
        codes,
        report,
        parse_repairs=gdf.attrs.get("parse_repairs"),
        parse_failures=gdf.attrs.get("parse_failures"),
    )
    villages = {
        c: shapely.from_wkb(bytes(g))
        for c, g in session.execute(
            text("SELECT code, ST_AsBinary(geom) FROM region WHERE level = 'village'")
        )
    }
    vcodes = list(villages)
    tree = STRtree([villages[c] for c in vcodes]) if vcodes else None
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, (code, geom) in enumerate(zip(codes, geoms, strict=True)):
        if geom is None:
            continue
        p = geom.representative_point()
        if not (code.isdigit() and len(code) == 15) or code in seen:
            why = (
                Both("文件中编码重复", "duplicate code in the file")
                if code in seen
                else Both(
                    f"网格编码须为 15 位数字（收到 {code!r}）",
                    f"grid codes are 15 digits; got {code!r}",
                )
            )
            report.rejected.append(Issue("rejected", code or None, why, p.x, p.y))
            continue
        parent = region_code(gdf[mapping["parent"]].iloc[i]) if "parent" in mapping else ""
        if code[:12] in villages:
            village, rule = code[:12], _BY_PREFIX
        elif parent in villages:
            village, rule = parent, _BY_FIELD
        else:
            best, best_area = None, 0.0
            for j in tree.query(geom, predicate="intersects") if tree is not None else ():
                overlap = intersection(geom, villages[vcodes[int(j)]]).area
                if overlap > best_area:
                    best, best_area = vcodes[int(j)], overlap
            if best is None or best_area <= 0.5 * geom.area:
                report.rejected.append(
                    Issue(
                        "rejected", code, Both("找不到所属村（社区）", "no village found"), p.x, p.y
                    )
                )
                continue
            village, rule = best, _BY_OVERLAP
        seen.add(code)
        report.linked[code] = rule
        rows.append(
            {
                "code": code,
                "name": _text(gdf, mapping, "name", i) or code,
                "village": village,
                "wkb": shapely.to_wkb(geom),
                "geom": geom,
                "households": _int(gdf, mapping, "households", i),
                "population": _int(gdf, mapping, "population", i),
            }
        )
    _check_grids(session, rows, villages, report, opts.tolerance_m2)
    refuse_if_strict(report, opts.strict)
    _write_grids(session, rows, report, opts.commit)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _int(gdf: gpd.GeoDataFrame, mapping: dict[str, str], role: str, i: int) -> int | None:
    value = _text(gdf, mapping, role, i)
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None


def _check_grids(
    session: Session,
    rows: list[dict[str, Any]],
    villages: dict[str, BaseGeometry],
    report: ImportReport,
    tolerance_m2: float,
) -> None:
    """Overlaps, gaps and grids sticking out of their village, in the layout as it will be: the
    file's grids with the current ones of their villages that it does not name (a file of one
    new grid is checked against its neighbours, and does not leave the rest of the village as
    a gap)."""
    if not rows:
        return
    in_file = {r["code"] for r in rows}
    others = [
        (code, village, shapely.from_wkb(bytes(g)))
        for code, village, g in session.execute(
            text("""SELECT g.code, v.code, ST_AsBinary(g.geom)
                    FROM grid g JOIN region v ON v.id = g.village_id
                    WHERE g.valid_to IS NULL AND v.code = ANY(CAST(:villages AS text[]))
                    ORDER BY g.code"""),
            {"villages": sorted({r["village"] for r in rows})},
        )
        if code not in in_file
    ]
    geoms = [r["geom"] for r in rows] + [g for _, _, g in others]
    names = [r["code"] for r in rows] + [c for c, _, _ in others]
    tree = STRtree(geoms)
    for i, r in enumerate(rows):
        for j in tree.query(r["geom"], predicate="intersects"):
            if int(j) <= i:
                continue
            inter = intersection(r["geom"], geoms[int(j)])
            a = _worth_reporting(inter, tolerance_m2)
            if a is not None:
                p = inter.representative_point()
                report.problems.append(
                    Issue("overlap", f"{r['code']}/{names[int(j)]}",
                          Both("网格重叠", "grids overlap"), p.x, p.y, a)
                )  # fmt: skip
        out = difference(r["geom"], villages[r["village"]])
        a = _worth_reporting(out, tolerance_m2)
        if a is not None:
            p = out.representative_point()
            report.problems.append(
                Issue(
                    "outside_parent",
                    r["code"],
                    Both(
                        f"超出所属村（社区）{r['village']}",
                        f"sticks out of its village {r['village']}",
                    ),
                    p.x,
                    p.y,
                    a,
                )
            )
    by_village: dict[str, list[BaseGeometry]] = {}
    for r in rows:
        by_village.setdefault(r["village"], []).append(r["geom"])
    for _, village, g in others:
        by_village[village].append(g)
    for village, parts in by_village.items():
        gap = difference(villages[village], union(parts))
        for part in shapely.get_parts(gap):
            a = _worth_reporting(part, tolerance_m2)
            if a is not None:
                p = part.representative_point()
                report.problems.append(
                    Issue(
                        "gap",
                        village,
                        Both("村（社区）内有未划入网格的空隙", "gap not covered by grids"),
                        p.x,
                        p.y,
                        a,
                    )
                )


def _write_grids(
    session: Session, rows: list[dict[str, Any]], report: ImportReport, commit: bool
) -> None:
    with import_transaction(session, report, commit):
        # the layout to itself, as a planner's commit takes it: reports being located are
        # waited for (and moved below with the rest), new ones wait for this transaction
        session.execute(text(f"SELECT pg_advisory_xact_lock{LAYOUT_LOCK}"))
        session.execute(
            text("""CREATE TEMP TABLE import_grid (code text, name text, village text,
                    geom geometry, households int, population int) ON COMMIT DROP""")
        )
        if rows:
            session.execute(
                text("""INSERT INTO import_grid VALUES (:code, :name, :village,
                        ST_Multi(ST_SetSRID(ST_GeomFromWKB(:wkb), 4326)), :households,
                        :population)"""),
                [{k: v for k, v in r.items() if k != "geom"} for r in rows],
            )
        states = session.execute(
            text("""
            SELECT i.code, CASE
                WHEN g.id IS NULL THEN 'created'
                WHEN NOT wangge_equals(g.geom, i.geom) THEN 'redrawn'
                WHEN (g.name, v.code, g.households, g.population)
                     IS DISTINCT FROM (i.name, i.village, i.households, i.population)
                     THEN 'updated'
                ELSE 'unchanged' END AS state
            FROM import_grid i
            LEFT JOIN grid g ON g.code = i.code AND g.valid_to IS NULL
            LEFT JOIN region v ON v.id = g.village_id
            ORDER BY i.code
        """)
        ).all()
        for code, state in states:
            getattr(report, "updated" if state == "redrawn" else state).append(code)
        redrawn = [c for c, s in states if s == "redrawn"]
        if redrawn:
            report.warnings.append(
                Both(
                    f"{len(redrawn)} 个网格边界有变化：旧版本保留为历史（valid_to），新版本自现在"
                    "起生效。",
                    f"{len(redrawn)} grids redrawn: the old versions kept as history (valid_to), "
                    "the new ones in force from now.",
                )
            )
        closed: dict[str, int] = dict(  # redrawn grids: the current version becomes history first …
            session.execute(
                text("""
                UPDATE grid g SET valid_to = now()
                FROM import_grid i
                WHERE g.code = i.code AND g.valid_to IS NULL AND NOT wangge_equals(g.geom, i.geom)
                RETURNING g.code, g.version
            """)
            ).all()
        )
        session.execute(  # … then the new versions and the new grids
            text("""
            INSERT INTO grid (code, version, name, village_id, geom, households, population,
                              valid_from)
            SELECT i.code, coalesce(c.version + 1, 1), i.name, v.id, i.geom, i.households,
                   i.population,
                   CASE WHEN c.code IS NULL THEN CAST(:valid_from AS timestamptz) ELSE now() END
            FROM import_grid i JOIN region v ON v.code = i.village
            LEFT JOIN unnest(CAST(:codes AS text[]), CAST(:versions AS int[])) AS c(code, version)
                   ON c.code = i.code
            WHERE c.code IS NOT NULL
               OR NOT EXISTS (SELECT 1 FROM grid g WHERE g.code = i.code AND g.valid_to IS NULL)
            ORDER BY i.code
        """),
            {
                "valid_from": DEFAULT_VALID_FROM,
                "codes": list(closed),
                "versions": list(closed.values()),
            },
        )
        session.execute(
            text("""
            UPDATE grid g SET name = i.name, village_id = v.id, households = i.households,
                   population = i.population
            FROM import_grid i JOIN region v ON v.code = i.village
            WHERE g.code = i.code AND g.valid_to IS NULL AND wangge_equals(g.geom, i.geom)
              AND (g.name, g.village_id, g.households, g.population)
                  IS DISTINCT FROM (i.name, v.id, i.households, i.population)
        """)
        )
        _reassign_open_cases(session, report)
        session.execute(text("DROP TABLE import_grid"))


def _reassign_open_cases(session: Session, report: ImportReport) -> None:
    """The open cases of the grids the import created or changed, and the uncovered ones of
    their villages, located again on the new layout as a planner's commit moves them (a
    ``regrid`` event for each case whose grid or center changed): a grid redrawn by a re-import
    left its open cases on the closed version."""
    changed = sorted(set(report.created) | set(report.updated))
    if not changed:
        return
    villages = (
        session.execute(
            text("SELECT DISTINCT village FROM import_grid WHERE code = ANY(:c) ORDER BY 1"),
            {"c": changed},
        )
        .scalars()
        .all()
    )
    moved = relocate_open_cases(session, changed, list(villages), "import")
    if moved.updated:
        report.warnings.append(
            Both(
                f"{moved.updated:,} 件未结案件改按新版本网格分派，其中 {moved.events:,} 件换了网格"
                "或责任中心（各记一条“网格调整”事件）",
                f"{moved.updated:,} open cases moved to the new grid versions; {moved.events:,} "
                "of them changed grid or center, a regrid event each",
            )
        )


IMPORTS = {"regions": import_regions, "grids": import_grids, "centers": import_centers}


def _text(gdf: gpd.GeoDataFrame, mapping: dict[str, str], role: str, i: int) -> str | None:
    if role not in mapping:
        return None
    value = gdf[mapping[role]].iloc[i]
    if value is None or (isinstance(value, float) and value != value):
        return None
    return str(value).strip() or None
