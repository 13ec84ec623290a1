"""数据导出: the layout as GIS files for the city's GIS team — the importers' reverse.

A GIS desk keeps working in its own tools (QGIS, ArcGIS): it takes wangge's regions, grids and
centers out, edits or checks them there, and brings them back with ``wangge import``.  So the
files carry the field names the importers look for first, and a file exported and imported again
changes nothing (a test does exactly that).

* **regions**: 编码, 名称, 级别 (市, 区县, 乡镇街道, 村社区), 上级代码; multipolygons.
* **grids**: 网格编码, 网格名称, 所属社区 (the village's code), 社区名称, 户数, 人口, and those
  of the current layout 网格员 and 网格员编号 (each grid's workers, by name and code, joined by
  "、"), 网格分工 (each one's part in the team, in the same order: 网格长、网格监督员 …) and
  网格长 (the chief's name), 版本 and 启用时间 (when this version began); multipolygons.
  ``as_of`` gives the layout valid at that moment instead of the current one (the grids'
  history is kept).
* **centers**: 名称, 区划代码, 电话, 地址, 坐标系 (wgs84); points.

A region narrows any layer to what lies in it; the caller's jurisdiction always does.  The
format comes from the file's suffix: GeoPackage (``.gpkg``), GeoJSON (``.geojson``), KML
(``.kml``), Shapefile (``.shp``, GBK with its ``.cpg`` as Chinese GIS software expects; the
field names fit DBF's 10 bytes), or a zipped Shapefile (``.zip``).  Coordinates are WGS 84 unless
``crs`` asks for another: CGCS2000 (EPSG:4490), a Gauss–Krüger zone (EPSG:4547 …), Web Mercator.
"""

from __future__ import annotations

import tempfile
import time
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pyproj import CRS
from pyproj.exceptions import CRSError
from sqlalchemy import text
from sqlalchemy.orm import Session

import geopandas as gpd
import pyogrio
import shapely
from pyogrio.errors import DataSourceError

from gis.errors import InvalidInput, NotFound
from gis.roles import GRID_ROLES
from gis.scope import Scope

LAYERS = ("regions", "grids", "centers")
#: a file's suffix → (GDAL driver, what it is called)
FORMATS = {
    ".gpkg": ("GPKG", "GeoPackage"),
    ".geojson": ("GeoJSON", "GeoJSON"),
    ".kml": ("KML", "KML"),
    ".shp": ("ESRI Shapefile", "Shapefile"),
    ".zip": ("ESRI Shapefile", "Shapefile (zip)"),
}
#: a level as the regions' file says it (words the regions importer reads back)
LEVEL_WORDS = {"city": "市", "district": "区县", "township": "乡镇街道", "village": "村社区"}

_REGIONS = """
    SELECT r.code AS "编码", r.name AS "名称", r.level::text AS level,
           p.code AS "上级代码", ST_AsBinary(r.geom) AS wkb
    FROM region r LEFT JOIN region p ON p.id = r.parent_id
    WHERE {in_scope} AND {in_region}
    ORDER BY r.code
"""
# a worker_grid role as the files name it (GRID_ROLES's Chinese words)
_PART = "CASE CAST(wg.role AS text) {} ELSE CAST(wg.role AS text) END".format(
    " ".join(f"WHEN '{role}' THEN '{zh}'" for role, (zh, _) in GRID_ROLES.items())
)
_GRIDS = """
    SELECT g.code AS "网格编码", g.name AS "网格名称", r.code AS "所属社区", r.name AS "社区名称",
           g.households AS "户数", g.population AS "人口",
           CASE WHEN g.valid_to IS NULL THEN w.names END AS "网格员",
           CASE WHEN g.valid_to IS NULL THEN w.codes END AS "网格员编号",
           CASE WHEN g.valid_to IS NULL THEN w.parts END AS "网格分工",
           CASE WHEN g.valid_to IS NULL THEN w.chief END AS "网格长",
           g.version AS "版本",
           to_char(g.valid_from AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS "启用时间",
           ST_AsBinary(g.geom) AS wkb
    FROM grid g JOIN region r ON r.id = g.village_id
    LEFT JOIN LATERAL (
        SELECT string_agg(k.name, '、' ORDER BY k.code) AS names,
               string_agg(k.code, '、' ORDER BY k.code) AS codes,
               string_agg(PART, '、' ORDER BY k.code) AS parts,
               min(k.name) FILTER (WHERE wg.role = 'chief') AS chief
        FROM worker_grid wg JOIN worker k ON k.id = wg.worker_id
        WHERE wg.grid_code = g.code) w ON true
    WHERE {when} AND {in_scope} AND {in_region}
    ORDER BY g.code
""".replace("PART", _PART)
_CENTERS = """
    SELECT c.name AS "名称", r.code AS "区划代码", c.phone AS "电话", c.address AS "地址",
           'wgs84' AS "坐标系", ST_AsBinary(c.geom) AS wkb
    FROM center c JOIN region r ON r.id = c.region_id
    WHERE {in_scope} AND {in_region}
    ORDER BY r.code
"""


@dataclass(frozen=True)
class ExportReport:
    layer: str
    path: Path
    features: int
    crs: str
    format: str
    seconds: float

    def summary(self, lang: str = "zh") -> str:
        names = {"regions": "行政区划", "grids": "网格", "centers": "综治中心"}
        if lang == "en":
            return (
                f"Exported {self.features:,} {self.layer} to {self.path} ({self.format}, "
                f"{self.crs}) in {self.seconds:.1f} s."
            )
        return (
            f"已导出 {self.features:,} 个{names[self.layer]}到 {self.path}（{self.format}，"
            f"{self.crs}），用时 {self.seconds:.1f} 秒。"
        )


def _unknown(what: str, value: str, known: tuple[str, ...] | list[str], field: str) -> InvalidInput:
    return InvalidInput(
        f"未知的{what} {value!r}；可用：{'、'.join(known)}。",
        f"Unknown {field} {value!r}; use one of: {', '.join(known)}.",
        field=field,
    )


def target_crs(crs: str | None) -> CRS:
    """``crs`` (``EPSG:4547``, ``4547``; default WGS 84) or a 422 that says what is wanted."""
    if not crs:
        return CRS.from_epsg(4326)
    try:
        found = CRS.from_user_input(f"EPSG:{crs}" if crs.isdigit() else crs)
    except CRSError:
        raise InvalidInput(
            f"无法识别坐标系 {crs!r}：请写 EPSG 编号，如 EPSG:4490（CGCS2000）、EPSG:4547"
            "（CGCS2000 3度带 114°E）。",
            f"Unknown CRS {crs!r}: give an EPSG code, e.g. EPSG:4490 (CGCS2000) or EPSG:4547 "
            "(CGCS2000 3-degree zone, 114°E).",
            field="crs",
        ) from None
    if not (found.is_geographic or found.is_projected):
        raise InvalidInput(
            f"{crs!r} 不是平面或地理坐标系。",
            f"{crs!r} is neither a geographic nor a projected CRS.",
            field="crs",
        )
    return found


def layer_frame(
    session: Session,
    scope: Scope,
    layer: str,
    region: str | None = None,
    as_of: datetime | None = None,
) -> gpd.GeoDataFrame:
    """The features of ``layer`` in ``scope`` (and in ``region``), in WGS 84."""
    if layer not in LAYERS:
        raise _unknown("图层", layer, LAYERS, "layer")
    params: dict[str, Any] = {}
    in_region = "true"
    if region is not None:
        rid = session.execute(
            text(f"SELECT id FROM region r WHERE code = :c AND {scope.region_condition('r')}"),
            {"c": region},
        ).scalar()
        if rid is None:
            raise NotFound(
                "没有找到该区划（或不在您的管辖范围内）。",
                "No such region (or not in your jurisdiction).",
            )
        params["rid"] = rid
        in_region = "CAST(:rid AS integer) = ANY(r.path)"
    if layer == "regions":
        sql = _REGIONS
    elif layer == "grids":
        sql = _GRIDS
    else:
        sql = _CENTERS
    when = "g.valid_to IS NULL"
    if as_of is not None:
        if layer != "grids":
            raise InvalidInput(
                "只有网格保留历史版本：as_of 只用于导出网格。",
                "Only grids keep their history: as_of is for grids.",
                field="as_of",
            )
        when = "g.valid_from <= :at AND (g.valid_to IS NULL OR g.valid_to > :at)"
        params["at"] = as_of
    rows = session.execute(
        text(sql.format(in_scope=scope.region_condition("r"), in_region=in_region, when=when)),
        params,
    ).mappings()
    records = [dict(r) for r in rows]
    geoms = shapely.from_wkb([bytes(r.pop("wkb")) for r in records]) if records else []
    if layer == "regions":
        for r in records:
            r["级别"] = LEVEL_WORDS[r.pop("level")]
    columns = {
        "regions": ["编码", "名称", "级别", "上级代码"],
        "grids": ["网格编码", "网格名称", "所属社区", "社区名称", "户数", "人口", "网格员",
                  "网格员编号", "网格分工", "网格长", "版本", "启用时间"],
        "centers": ["名称", "区划代码", "电话", "地址", "坐标系"],
    }[layer]  # fmt: skip
    return gpd.GeoDataFrame(records, columns=columns, geometry=list(geoms), crs="EPSG:4326")


def _not_a_folder(path: Path) -> None:
    if path.is_dir():
        raise InvalidInput(
            f"{path} 是一个目录，请给出文件名（如 grids.gpkg）。",
            f"{path} is a folder; give a file name (e.g. grids.gpkg).",
            field="path",
        )


def _driver(path: Path) -> tuple[str, str]:
    _not_a_folder(path)  # (before its name is read as a format: "未知的文件格式 'p'")
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        raise _unknown("文件格式", path.suffix or path.name, list(FORMATS), "format")
    return found


def _write(frame: gpd.GeoDataFrame, path: Path, driver: str, points: bool) -> None:
    """Write ``frame`` as ``driver`` (a Shapefile in GBK, with its .cpg)."""
    _not_a_folder(path)
    options: dict[str, Any] = {}
    if driver == "ESRI Shapefile":
        options["encoding"] = "GBK"
    elif path.exists():
        path.unlink()  # (GPKG and KML would add a layer to the file there)
    if frame.empty:  # (an empty frame has no geometry type to create its layer with)
        kind = "Point" if points else "MultiPolygon"
        pyogrio.write_dataframe(frame, path, driver=driver, geometry_type=kind, **options)
        return
    pyogrio.write_dataframe(frame, path, driver=driver, **options)


def export_layer(
    session: Session,
    scope: Scope,
    layer: str,
    path: Path,
    *,
    region: str | None = None,
    crs: str | None = None,
    as_of: datetime | None = None,
) -> ExportReport:
    """Write ``layer`` to ``path`` (its suffix says the format); see the module docstring."""
    started = time.perf_counter()
    driver, name = _driver(path)
    target = target_crs(crs)
    frame = layer_frame(session, scope, layer, region, as_of)
    if target.to_epsg() != 4326:
        frame = frame.to_crs(target)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".zip":
            with tempfile.TemporaryDirectory() as tmp:
                shp = Path(tmp) / f"{path.stem}.shp"
                _write(frame, shp, driver, layer == "centers")
                with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
                    for part in sorted(Path(tmp).iterdir()):
                        z.write(part, part.name)
        else:
            _write(frame, path, driver, layer == "centers")
    except (OSError, DataSourceError) as e:  # (GDAL's: a file it could not create)
        reason = getattr(e, "strerror", None) or e
        raise InvalidInput(
            f"无法写入 {path}：{reason}。请换一个可写的位置。",
            f"Cannot write {path}: {reason}. Choose a writable place.",
            field="path",
        ) from None
    epsg = target.to_epsg()
    return ExportReport(
        layer,
        path,
        len(frame),
        f"EPSG:{epsg}" if epsg else target.name,
        name,
        time.perf_counter() - started,
    )
