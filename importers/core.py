"""The importer core: read what a city's GIS team hands over, check it, and say what it would do.

Every import (``wangge import regions|grids|centers FILE``) goes the same way:

1. **read** anything GDAL reads (Shapefile with its ``.cpg`` or ``--encoding GBK``, GeoPackage,
   GeoJSON, TopoJSON, KML, File Geodatabase) or CSV/XLSX with a WKT column or lon/lat columns
   (a :class:`Sheet`: its header found below a ledger's title, blank and total rows left out);
2. **coordinates**: the file's CRS is honoured and reprojected to WGS 84; with none declared the
   import refuses and guesses from the coordinate ranges (degrees, Gauss–Krüger 3° zones with or
   without the zone prefix, Web Mercator), unless ``--crs`` is given;
3. **fields**: the usual Chinese and English names for code, name, level and parent are
   recognised (the mapping chosen is printed); ``--code-field`` etc. and ``--field ROLE=COLUMN``
   override; none found → an error listing the fields the file has and the options to use;
4. **geometry**: invalid geometries are repaired (make-valid, polygonal parts only) and listed with
   the reason; empty or degenerate ones are rejected and listed — nothing invalid is ever stored;
5. **write** in one transaction, upserting by code (a second run changes nothing); a dry run (the
   default) writes nothing and reports what it would create, update, repair and reject.

The report (:class:`ImportReport`) is JSON for ``--report`` and a summary in Chinese or English.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
import re
import sys
import time
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from gis.cases import SOURCE_NAMES
from gis.datum import datum_named
from gis.english import one_said_once
from gis.errors import InvalidInput
from gis.geo import area_m2

WGS84 = "EPSG:4326"
TABULAR = {".csv", ".txt", ".xlsx", ".xls"}
#: the widest a region or grid may be, in degrees of longitude and latitude: all of mainland
#: China spans about 62° and 36°.  (A polygon round the whole world has no geodesic area, and
#: was rejected as degenerate.)
MAX_SPAN_DEG = (90.0, 60.0)

#: candidate column names (compared as :func:`field_key` spells them: case, spaces, full-width
#: letters, a leading "*" and a unit in brackets at the end make no difference)
FIELD_CANDIDATES: dict[str, tuple[str, ...]] = {
    "code": (
        "编码",
        "代码",
        "行政区代码",
        "区划代码",
        "行政区划代码",
        "网格编码",
        "网格代码",
        "XZQDM",
        "CODE",
        "ADCODE",
        "GB",
        "QHDM",
        "ID",
    ),
    "name": ("名称", "行政区名称", "区划名称", "网格名称", "XZQMC", "NAME", "MC", "QHMC"),
    "level": ("级别", "层级", "行政级别", "LEVEL", "JB"),
    "parent": (
        "所属",
        "所属区划",
        "所属区划代码",
        "上级代码",
        "上级编码",
        "所属社区",
        "所属村",
        "所属村居",
        "PARENT",
        "PARENT_CODE",
        "PARENTCODE",
        "SJDM",
    ),
    "households": ("户数", "HOUSEHOLDS", "HS"),
    "population": ("人口", "人数", "POPULATION", "RK"),
    "phone": ("电话", "联系电话", "PHONE", "TEL"),
    "address": ("地址", "ADDRESS", "DZ"),
    "region": (
        "区划代码",
        "所在区划",
        "所属区划代码",
        "所属区划",
        "区划",
        "区划名称",
        "所属乡镇",
        "所属街道",
        "所属社区",
        "所在社区",
        "REGION",
        "REGION_CODE",
    ),
    "lon": ("经度", "LON", "LNG", "LONGITUDE", "X"),
    "lat": ("纬度", "LAT", "LATITUDE", "Y"),
    "lonlat": ("经纬度", "坐标", "经纬度坐标", "位置坐标", "GPS坐标", "LNGLAT", "LONLAT"),
    "wkt": ("WKT", "GEOMETRY", "几何", "GEOM", "SHAPE"),
    "datum": ("坐标系", "DATUM"),
}


class Both(str):
    """Words of a report in Chinese and in English.  As a string (the JSON report's ``reason``
    and ``warnings``, a caller with no language) it is both, ``zh (en)``, or ``text`` where
    clients know another spelling; a summary says one of them (:func:`said`), and the JSON
    report carries each beside it (``reason_zh``, ``reason_en``; ``warnings_zh``,
    ``warnings_en``) for the import page."""

    zh: str
    en: str
    row: int | None  # the file's line the words are about (:meth:`line`), if one

    def __new__(cls, zh: str, en: str, text: str | None = None, row: int | None = None) -> Both:
        en = one_said_once(en)  # (filled with counts: 1 case, not 1 cases)
        self = super().__new__(cls, text if text is not None else f"{zh} ({en})")
        self.zh, self.en, self.row = zh, en, row
        return self

    def __reduce__(self) -> tuple[Any, ...]:  # (copied by dataclasses.asdict, pickled)
        return (Both, (self.zh, self.en, str(self), self.row))

    def line(self, n: int | str) -> Both:
        """The same words about row ``n`` of the file: 第 n 行：… / line n: …"""
        row = int(n) if str(n).isdigit() else None
        return Both(f"第 {n} 行：{self.zh}", f"line {n}: {self.en}", f"第 {n} 行：{self}", row)

    def said_of(self, what: str) -> Both:
        """The words, then what they are about: 无法修复：… / cannot repair: …"""
        return Both(f"{self.zh}：{what}", f"{self.en}: {what}")


def env_lang() -> str:
    """The command line's language: ``en`` where ``LANG`` is English, else ``zh``."""
    return "en" if os.environ.get("LANG", "").lower().startswith("en") else "zh"


def said(words: str, lang: str = "zh") -> str:
    """``words`` in ``lang`` (zh or en), if it has both (:class:`Both`); else as it is."""
    if isinstance(words, Both):
        return words.en if lang == "en" else words.zh
    return words


@dataclass
class Issue:
    """A row or a place the report talks about."""

    kind: str  # repaired | rejected | overlap | gap | outside_parent | unlinked | …
    code: str | None
    reason: str
    lon: float | None = None
    lat: float | None = None
    area_m2: float | None = None


#: how a case was assigned (gis.locate), in words: (Chinese, English), the summary's and the
#: import page's
ASSIGN_WORDS = {
    "covers": ("落在网格内", "inside a grid"),
    "nearest": ("就近网格", "to the nearest grid"),
    "region": ("所在区划的中心", "to its region's center"),
    "unassigned": ("未分派", "unassigned"),
}
#: a case import's timed stages in words: the JSON report's ``stages`` keeps the keys (a
#: program's, and the benchmark's), the summary and the progress line say the words
STAGE_WORDS = {
    "read + datums (numpy)": Both("读取文件、换算坐标", "reading the file, converting datums"),
    "COPY file": Both("写入暂存表", "copying the file in"),
    "COPY points (binary, numpy)": Both("写入坐标", "copying the points in"),
    "categories (distinct values)": Both("识别类型与类别", "matching kinds and categories"),
    "stage + validate (SQL)": Both("校验各行", "checking the rows"),
    "locate (in memory + wangge_assign_at for the rest)": Both(
        "定位到网格", "locating each case in its grid"
    ),
    "insert cases": Both("写入案件", "writing the cases"),
    "events": Both("写入办理记录", "writing their histories"),
    "rebuild indexes, keys + roll-ups (bulk)": Both(
        "重建索引、约束与统计（--bulk）", "rebuilding indexes, keys and roll-ups (--bulk)"
    ),
}
#: what the report says of each row or place it lists (Issue.kind), in the summary's words
ISSUE_KINDS = {
    "rejected": Both("拒绝", "rejected"),
    "repaired": Both("已修复", "repaired"),
    "overlap": Both("重叠", "overlap"),
    "gap": Both("空隙", "gap"),
    "outside_parent": Both("超出上级", "outside its parent"),
    "unlinked": Both("未关联上级", "no parent"),
}


@dataclass
class ImportReport:
    what: str
    file: str
    rows: int = 0
    crs: str | None = None
    crs_source: str = ""  # file | --crs
    mapping: dict[str, str] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    repaired: list[Issue] = field(default_factory=list)
    rejected: list[Issue] = field(default_factory=list)
    problems: list[Issue] = field(default_factory=list)  # overlaps, gaps, children outside
    linked: dict[str, str] = field(default_factory=dict)  # code → rule that found its parent
    assigned: dict[str, int] = field(default_factory=dict)  # cases: assignment method → count
    sources: dict[str, int] = field(default_factory=dict)  # cases: source (案件来源) → count
    warnings: list[str] = field(default_factory=list)
    committed: bool = False
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)  # seconds per stage (bulk imports)
    parties: int = 0  # cases: parties (当事人) stored, encrypted, with the new cases

    def rejected_in_file_order(self) -> list[Issue]:
        """The rejected rows in the order of their lines in the file (checked in several passes,
        they are found out of it); those of no line (a geometry's, by its code) after them."""
        return sorted(self.rejected, key=lambda i: (_row(i) is None, _row(i) or 0))

    def to_json(self) -> str:
        out = asdict(self)
        listed = {"repaired": self.repaired, "problems": self.problems}
        listed["rejected"] = self.rejected_in_file_order()
        for key, issues in listed.items():  # each reason in each language too
            out[key] = [asdict(issue) for issue in issues]
            for row, issue in zip(out[key], issues, strict=True):
                row["reason_zh"], row["reason_en"] = said(issue.reason), said(issue.reason, "en")
        if self.crs:
            out["crs_zh"], out["crs_en"] = said(self.crs), said(self.crs, "en")
        out["warnings_zh"] = [said(w) for w in self.warnings]
        out["warnings_en"] = [said(w, "en") for w in self.warnings]
        return json.dumps(out, ensure_ascii=False, indent=2, default=str)

    def summary(self, lang: str = "zh") -> str:
        verb_zh = "已写入" if self.committed else "试运行（未写入，加 --commit 写入）"
        verb_en = "written" if self.committed else "dry run (nothing written; --commit writes)"
        mapping = ", ".join(f"{k}←{v}" for k, v in self.mapping.items())
        rules: dict[str, int] = {}
        for rule in self.linked.values():
            rules[rule] = rules.get(rule, 0) + 1
        if lang == "en":
            lines = [
                f"{said(self.what, lang)} from {self.file}: {self.rows} rows"
                + (f", CRS {said(self.crs, 'en')} ({self.crs_source})" if self.crs else "")
                + f"; fields {mapping}",
                f"  {verb_en}: {len(self.created)} new, {len(self.updated)} updated, "
                f"{len(self.unchanged)} unchanged, {len(self.repaired)} repaired, "
                f"{len(self.rejected)} rejected, {len(self.problems)} problems",
            ]
            lines = [one_said_once(line) for line in lines]  # (1 row, 1 problem)
            if rules:
                lines.append(
                    "  parents by " + ", ".join(f"{said(k, lang)}: {v}" for k, v in rules.items())
                )
            if self.assigned:
                lines.append(
                    "  assigned: "
                    + ", ".join(
                        f"{ASSIGN_WORDS[k][1] if k in ASSIGN_WORDS else k}: {v:,}"
                        for k, v in sorted(self.assigned.items())
                    )
                )
        else:
            source_zh = "文件声明" if self.crs_source == "file" else "--crs 指定"
            lines = [
                f"{said(self.what)}：{self.file}，共 {self.rows} 行"
                + (f"，坐标系 {said(self.crs)}（{source_zh}）" if self.crs else "")
                + f"；字段 {mapping}",
                f"  {verb_zh}：新增 {len(self.created)}，更新 {len(self.updated)}，"
                f"未变 {len(self.unchanged)}，修复 {len(self.repaired)}，"
                f"拒绝 {len(self.rejected)}，"
                f"问题 {len(self.problems)}",
            ]
            if rules:
                lines.append(
                    "  上级关联：" + "，".join(f"{said(k)} {v} 个" for k, v in rules.items())
                )
            if self.assigned:
                methods = [
                    f"{ASSIGN_WORDS[k][0] if k in ASSIGN_WORDS else k} {v:,} 件"
                    for k, v in sorted(self.assigned.items())
                ]
                lines.append("  分派方式：" + "，".join(methods))
        if self.sources:  # in the order of SOURCE_NAMES, named in the summary's language
            en = lang == "en"
            counts = [
                f"{names[1]}: {n:,}" if en else f"{names[0]} {n:,} 件"
                for k, names in SOURCE_NAMES.items()
                if (n := self.sources.get(k))
            ]
            lines.append(("  sources: " if en else "  案件来源：") + ("，", ", ")[en].join(counts))
        if self.parties:
            lines.append(
                f"  parties: {self.parties:,} (encrypted; shown masked)"
                if lang == "en"
                else f"  当事人：{self.parties:,} 人（加密保存，显示时打码）"
            )
        issues = self.rejected_in_file_order() + self.repaired + self.problems
        for issue in issues[:SUMMARY_ROWS]:
            where = f" @ {issue.lon:.5f},{issue.lat:.5f}" if issue.lon is not None else ""
            area = f" {issue.area_m2:,.0f} m²" if issue.area_m2 else ""
            kind = said(ISSUE_KINDS.get(issue.kind, issue.kind), lang)
            code = f" {issue.code}" if issue.code else ""
            colon = ": " if lang == "en" else "："
            lines.append(f"  - {kind}{code}{colon}{said(issue.reason, lang)}{where}{area}")
        lines += _more(len(issues), lang)
        lines += [f"  ! {said(w, lang)}" for w in self.warnings[:SUMMARY_ROWS]]
        lines += _more(len(self.warnings), lang)
        if self.stages:
            lines.append(
                ("  stages: " if lang == "en" else "  各阶段用时：")
                + ("; " if lang == "en" else "；").join(
                    f"{said(STAGE_WORDS.get(k, k), lang)} {v:.2f}{' s' if lang == 'en' else ' 秒'}"
                    for k, v in self.stages.items()
                )
            )
        return "\n".join(lines)


def _row(issue: Issue) -> int | None:
    return issue.reason.row if isinstance(issue.reason, Both) else None


#: the rows (rejected, repaired, problems) and the warnings a summary lists, each
SUMMARY_ROWS = 20


def _more(listed: int, lang: str) -> list[str]:
    """The line after a summary's list cut at :data:`SUMMARY_ROWS`: how many were left out."""
    more = listed - SUMMARY_ROWS
    if more <= 0:
        return []
    if lang == "en":
        return [f"  … and {more:,} more, not listed here (all of them in the --report JSON)"]
    return [f"  … 另有 {more:,} 条未列出（--report 写出的 JSON 报告中有全部）"]


class Progress:
    """A progress line on stderr (rows done, rows/s, the current stage), shown only once the
    work has taken more than a second; updated in place on a terminal.  In English where
    ``LANG`` is (as the command's summary), else in Chinese."""

    def __init__(self, label: Both, total: int, stream: Any = None) -> None:
        self.en = env_lang() == "en"
        self.label = label.en if self.en else label.zh
        self.total, self.started = total, time.perf_counter()
        self.stream = stream if stream is not None else sys.stderr
        self.shown = False

    def update(self, done: int, stage: str = "") -> None:
        """``stage``: a key of :data:`STAGE_WORDS` (said in the line's language) or words."""
        stage = said(STAGE_WORDS.get(stage, stage), "en" if self.en else "zh")
        elapsed = time.perf_counter() - self.started
        if elapsed < 1.0:
            return
        self.shown = True
        rate = done / elapsed if elapsed else 0.0
        bar = "#" * int(20 * done / self.total) if self.total else ""
        counts = (
            f"{done:,}/{self.total:,} rows, {rate:,.0f} rows/s"
            if self.en
            else f"{done:,}/{self.total:,} 行，{rate:,.0f} 行/秒"
        )
        self.stream.write(f"\r{self.label} [{bar:<20}] {counts}" + (f"  {stage}" if stage else ""))
        self.stream.flush()

    def done(self) -> None:
        if self.shown:
            self.update(self.total)
            self.stream.write("\n")


# --- reading ------------------------------------------------------------------------------


# --- ledgers as offices keep them ---------------------------------------------------------

#: how far down a spreadsheet its header may be: above it a ledger has its title (…排查台账),
#: the unit that filled it in and the date
HEADER_SEARCH_ROWS = 10
#: a row whose first filled cell is one of these is a total (合计 3 件), not a record
TOTAL_WORDS = frozenset({"合计", "总计", "小计", "共计", "累计", "TOTAL", "SUBTOTAL"})
_UNIT = re.compile(r"\([^()]*\)$|\[[^\[\]]*\]$|【[^【】]*】$")


def regions_named(session: Session, names: Iterable[str]) -> dict[str, list[tuple[str, str, str]]]:
    """The regions each of ``names`` names: (code, level, its parent's name), by code."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    for code, name, level, parent in session.execute(
        text("""SELECT r.code, r.name, r.level::text, coalesce(up.name, '')
                FROM region r LEFT JOIN region up ON up.id = r.parent_id
                WHERE r.name = ANY(CAST(:names AS text[])) ORDER BY r.code"""),
        {"names": sorted(set(names))},
    ):
        out.setdefault(name, []).append((code, level, parent))
    return out


def short_code(code: str) -> str:
    """A region code in this scheme's lengths (city and district 6 digits, township 9, village
    12) from the national statistical code, which pads every level to 12 digits with zeros:
    880102000000 → 880102 (a district), 880102001000 → 880102001 (a township); a village's
    880102001001 and anything not 12 or 9 digits stay as they are."""
    if code.isdigit() and len(code) == 12 and code.endswith("000"):
        code = code[:9]
    if code.isdigit() and len(code) == 9 and code.endswith("000"):
        code = code[:6]
    return code


def field_key(name: object) -> str:
    """A column name as it is compared with the usual names: full-width letters and brackets as
    ASCII (NFKC), no spaces, no required-mark ``*``, no unit or note in brackets at the end
    (``经度(°)``, ``上报时间（必填）``, ``*姓名``), upper case."""
    key = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(name))).lstrip("*")
    return _UNIT.sub("", key).upper() or key.upper()


def header_row(rows: list[list[str]], candidates: Iterable[str]) -> int:
    """Which of the first rows is the header: the first with the most cells that are usual field
    names, if that is at least two and more than the first row has (a title or the line of the
    unit that filled the ledger in names no field); else the first row."""
    known = {field_key(c) for c in candidates}
    scores = [
        sum(1 for v in row if v and field_key(v) in known) for row in rows[:HEADER_SEARCH_ROWS]
    ]
    best = max(scores, default=0)
    return scores.index(best) if best >= 2 and best > scores[0] else 0


def total_row(row: list[str]) -> bool:
    """Whether a row is a total (合计 …), not a record: its first filled cell says so."""
    first = next((v for v in row if v.strip()), "")
    return re.sub(r"\s+", "", first).upper() in TOTAL_WORDS


#: what a CSV that is not UTF-8 is read as when its header says so: Excel and WPS on a Chinese
#: Windows save "CSV" in GBK, of which GB 18030 is the superset
GUESSED_ENCODING = "gb18030"


def decode_csv(
    data: bytes, encoding: str | None, candidates: Iterable[str]
) -> tuple[str, str | None]:
    """A CSV's text, and the encoding it was guessed to be in (None: ``encoding`` as given, or
    UTF-8 with or without BOM).

    Without ``encoding``, a file that is not UTF-8 is read as :data:`GUESSED_ENCODING` when its
    header, so read, names at least two usual fields (``candidates``: 编号, 经度 …).  GB 18030
    decodes almost any bytes, so a file that merely decodes proves nothing; Chinese field names
    coming out of it do (bytes of another encoding make none).  Otherwise the
    :class:`UnicodeDecodeError` stands, and the caller asks for the encoding."""
    if encoding:
        return data.decode(encoding), None
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as not_utf8:
        try:
            text = data.decode(GUESSED_ENCODING)
        except UnicodeDecodeError:
            raise not_utf8 from None
        first = "\n".join(text.split("\n", HEADER_SEARCH_ROWS)[:HEADER_SEARCH_ROWS])
        known = {field_key(c) for c in candidates}
        named = max(
            (sum(1 for v in cells if v and field_key(v) in known) for _, cells in csv_rows(first)),
            default=0,
        )
        if named < 2:
            raise
        return text, GUESSED_ENCODING


def guessed_note(encoding: str) -> Both:
    """The report's warning that a file was read in an encoding its header gave away."""
    return Both(
        f"文件不是 UTF-8 编码：按表头判断为 GBK（{encoding.upper()}），已按此读取；如有乱码请指定"
        "编码",
        f"not UTF-8: read as GBK ({encoding.upper()}), as its header shows; if any text looks "
        "garbled, give the encoding",
    )


def title_note(rows: int) -> Both:
    """The report's warning that the ``rows`` lines above a header were left out."""
    return Both(
        f"表头在第 {rows + 1} 行，其上 {rows} 行（标题、填报单位等）未导入",
        f"the header is on line {rows + 1}; the lines above it (titles, the unit's name) "
        "were left out",
    )


@dataclass
class Sheet:
    """A CSV or a spreadsheet as its rows of text: the header found (:func:`header_row`), and
    its records, each as wide as the header, with the line of the file it is on.  Left out and
    said so (:meth:`notes`): the rows above the header, blank rows and totals; a row with more
    filled cells than the header has names is rejected (:attr:`rejected`), never cut short."""

    header: list[str]
    rows: list[list[str]]
    lines: list[int]
    title_rows: int = 0
    blank: int = 0
    totals: int = 0
    rejected: list[tuple[int, str, int]] = field(default_factory=list)  # (line, first cell, width)
    worksheet: str | None = None  # a workbook's sheet read when it was not the first
    guessed_encoding: str | None = None  # a CSV read in the encoding its header gave away

    @classmethod
    def of(cls, rows: Iterable[tuple[int, list[str]]], candidates: Iterable[str]) -> Sheet:
        """From ``(line, cells)`` pairs in the file's order."""
        it = iter(rows)
        head = [r for _, r in zip(range(HEADER_SEARCH_ROWS), it, strict=False)]
        at = header_row([cells for _, cells in head], candidates)
        if not head:
            return cls([], [], [])
        line0, names = head[at]
        header = header_names(names)
        sheet = cls(header, [], [], title_rows=line0 - 1)
        width = len(header)
        for line, cells in itertools.chain(head[at + 1 :], it):  # (not a list: a million rows)
            if swallowed := swallowed_lines(cells, width):
                raise unclosed_quote(line, swallowed)
            cells = [v.strip() if isinstance(v, str) else "" for v in cells]
            if not any(cells):
                sheet.blank += 1
            elif total_row(cells):
                sheet.totals += 1
            elif len(cells) > width and any(cells[width:]):
                sheet.rejected.append((line, cells[0], len(cells)))
            else:
                sheet.rows.append((cells + [""] * width)[:width])
                sheet.lines.append(line)
        return sheet

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=self.header, dtype=str)

    def csv_bytes(self) -> bytes:
        """Header and records as UTF-8 CSV (what ``COPY … FORMAT csv, HEADER`` reads)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.header)
        # a lone \r (an old Mac's line break) as \n: quoted then, where COPY refuses a bare \r
        writer.writerows([[v.replace("\r\n", "\n").replace("\r", "\n") for v in row]
                          for row in self.rows])  # fmt: skip
        return out.getvalue().encode("utf-8")

    def notes(self) -> list[str]:
        """The report's warnings about the rows left out (none for a plain table)."""
        out: list[str] = [guessed_note(self.guessed_encoding)] if self.guessed_encoding else []
        if self.worksheet:
            out.append(
                Both(
                    f"读取工作表“{self.worksheet}”：前面的工作表没有可识别的表头",
                    f"read the sheet {self.worksheet!r}: the sheets before it have no header",
                )
            )
        if self.title_rows:
            out.append(title_note(self.title_rows))
        if self.totals:  # (blank rows hold nothing to tell of)
            out.append(
                Both(f"合计/小计行 {self.totals} 行未导入", f"{self.totals} total rows left out")
            )
        return out

    def rejections(self) -> list[Issue]:
        return [
            Issue(
                "rejected",
                first or None,
                Both(
                    f"有 {n} 列，表头只有 {len(self.header)} 列——内容里的英文逗号须用英文双引号"
                    "括起，或在 Excel/WPS 中另存为 XLSX",
                    f"{n} cells, and the header has {len(self.header)}: quote commas inside a "
                    "cell, or save the file as XLSX",
                ).line(line),
            )
            for line, first, n in self.rejected
        ]


def header_names(cells: list[str]) -> list[str]:
    """The header's names: an empty one as pandas names it (``Unnamed: 3``), a repeated one with
    ``.1``, ``.2`` … after it."""
    names: list[str] = []
    for i, v in enumerate(cells):
        name = v.strip() if isinstance(v, str) and v.strip() else f"Unnamed: {i}"
        base, k = name, 0
        while name in names:
            k += 1
            name = f"{base}.{k}"
        names.append(name)
    return names


def csv_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """The records of a CSV text with the line each starts on (a quoted cell may span lines).
    A cell past the csv module's limit (128 KB) is refused as a quote left open."""
    reader = csv.reader(io.StringIO(text, newline=""))  # (a lone \r inside a cell is data)
    line = 1
    try:
        for cells in reader:
            yield line, cells
            line = reader.line_num + 1
    except csv.Error:  # ('field larger than field limit': the rest of the file in one cell)
        raise unclosed_quote(line, None) from None


def swallowed_lines(cells: list[str], width: int) -> int:
    """How many lines inside the cells of a record (a quoted cell may span lines) are records
    themselves, as wide as the header's ``width`` (at least 3): a quote left open makes the
    rows after it the text of its cell, and the csv module says nothing of it."""
    if width < 3 or not any("\n" in v or "\r" in v for v in cells):
        return 0
    inner = [part for v in cells for part in v.splitlines()[1:]]
    return sum(len(row) >= width for row in csv.reader(inner))


def unclosed_quote(line: int, swallowed: int | None) -> InvalidInput:
    """The refusal of a CSV whose cell on ``line`` opens a quote and never closes it, taking
    ``swallowed`` rows after it (None: all the rest of the file) as its text."""
    rows = f"其后 {swallowed} 行" if swallowed else "其后的全部内容"
    after = f"the {swallowed} rows after it" if swallowed else "all the rest of the file"
    return InvalidInput(
        f"第 {line} 行有一个以英文双引号开头的单元格没有闭合：{rows}会被当成它的文字，不会作为"
        "记录导入，因此未导入任何内容。请在该单元格末尾补上英文双引号（单元格内的引号要写成两个："
        '""），或在 Excel/WPS 中另存为 XLSX 后再导入。',
        f"A cell on line {line} opens a double quote that is never closed: {after} would be "
        "read as its text, not as records, so nothing was imported. Close the quote at the "
        'cell\'s end (a quote inside a cell is written twice: ""), or save the file as XLSX and '
        "import that.",
        field="file",
    )


def excel_sheet(path: Path, candidates: Iterable[str], name: str | None = None) -> Sheet:
    """The worksheet ``name`` (``FILE.xlsx!台账``), else the workbook's first with a header
    (:func:`header_row`: two usual field names in a row), else its first, as a :class:`Sheet`
    (row numbers as Excel shows them).  A ledger often opens with a sheet of instructions
    (填表说明) and keeps its records in the next."""
    candidates = list(candidates)
    known = {field_key(c) for c in candidates}
    frames = read_excel(path)
    if name is not None and name not in frames:
        listed = "、".join(map(str, frames))
        raise InvalidInput(
            f"{path.name} 中没有工作表 {name!r}：有 {listed}。",
            f"{path.name} has no sheet {name!r}: it has {', '.join(map(str, frames))}.",
            field="file",
        )
    chosen = (
        name
        if name is not None
        else next(
            (
                name
                for name, frame in frames.items()
                if any(
                    sum(1 for v in row if isinstance(v, str) and field_key(v) in known) >= 2
                    for row in frame.head(HEADER_SEARCH_ROWS).itertuples(index=False, name=None)
                )
            ),
            next(iter(frames), None),
        )
    )
    if chosen is not None:
        _refuse_uncomputed_formulas(path, str(chosen))
    frame = frames[chosen] if chosen is not None else pd.DataFrame()
    rows = (
        (i + 1, ["" if v is None or v != v else str(v) for v in values])
        for i, values in enumerate(frame.itertuples(index=False, name=None))
    )
    sheet = Sheet.of(rows, candidates)
    if chosen is not None and chosen != next(iter(frames)):
        sheet.worksheet = str(chosen)
    return sheet


def read_sheet(
    path: Path, encoding: str | None, candidates: Iterable[str], part: str | None = None
) -> Sheet:
    """A CSV (in ``encoding``, default UTF-8 with or without BOM) or XLSX (its worksheet
    ``part``, if named) as a :class:`Sheet`."""
    if path.suffix.lower() in (".xlsx", ".xls"):
        return excel_sheet(path, candidates, part)
    candidates = list(candidates)
    text, guessed = decode_csv(path.read_bytes(), encoding, candidates)
    sheet = Sheet.of(csv_rows(text), candidates)
    sheet.guessed_encoding = guessed
    return sheet


def sheet_notes(table: pd.DataFrame, report: ImportReport) -> list[int] | None:
    """What :func:`read_table` left out of a CSV/XLSX, told in ``report``; the line of each of
    the table's rows in the file (None for a GDAL file: its features have no lines)."""
    sheet = table.attrs.get("sheet")
    if sheet is None:
        return None
    report.warnings.extend(sheet.notes())
    report.rejected.extend(sheet.rejections())
    return list(sheet.lines)


def read_table(
    path: Path, encoding: str | None = None, candidates: Iterable[str] | None = None
) -> gpd.GeoDataFrame | pd.DataFrame:
    """The file as a (Geo)DataFrame: GDAL formats through pyogrio, CSV/XLSX as a :class:`Sheet`
    (its header found among the usual field names ``candidates``, default every name of
    :data:`FIELD_CANDIDATES`; what it left out in ``attrs["sheet"]``)."""
    path, part = split_part(path)
    check_file(path)
    suffix = path.suffix.lower()
    if candidates is None:
        candidates = [c for names in FIELD_CANDIDATES.values() for c in names]
    try:
        if suffix in (".csv", ".txt", ".xlsx", ".xls"):
            sheet = read_sheet(path, encoding, candidates, part)
            table = sheet.frame()
            table.attrs["sheet"] = sheet
        else:
            table = _read_gdal(path, encoding, part)
    except InvalidInput:
        raise
    except UnicodeDecodeError as e:
        what = ("Excel 导出的 CSV", "CSVs exported by Excel are") if suffix in TABULAR else (
            "旧版 DBF", "old DBFs are")  # fmt: skip
        raise InvalidInput(
            f"无法按 {encoding or 'UTF-8'} 读取 {path.name}：{what[0]} 常为 GBK，"
            "请加 --encoding GBK。",
            f"Cannot read {path.name} as {encoding or 'UTF-8'}; {what[1]} often GBK: pass "
            "--encoding GBK.",
            field="encoding",
        ) from e
    except pd.errors.EmptyDataError:
        table = pd.DataFrame()
    except Exception as e:  # GDAL's many ways to say "not a file I can read"
        raise unreadable(path, e) from e
    if len(table) == 0:
        raise nothing_in(path)
    return table


#: what GDAL and zipfile say of a file that is none of the formats they read
_NOT_A_FORMAT = (
    "not recognized as being in a supported file format",
    "not a zip file",
    "file is not a database",  # (SQLite's, under a .gpkg that is not one)
)
#: what GDAL says of a file of a format it knows that is cut short or damaged (a download that
#: did not finish, an archive copied in part, a file edited by hand)
_DAMAGED = (
    "failed to read geojson data",
    "failed to read topojson data",
    "error parsing kml",
    "no element found",
    "unterminated",
    "unexpected end",
    "not well-formed",
    "syntax error",
    "premature end",
    "malformed",  # (SQLite's: a GeoPackage cut short)
)
_AT_LINE = re.compile(r"line (\d+),? (?:character|column) (\d+)", re.I)
# the server's own folders in what a reader said (/tmp/wangge-import-…/in/, /vsizip/…)
_FOLDERS = re.compile(r"(?<![^\s'\"(])/[^\s'\"]*/(?=[^/\s'\"]+)")


def check_file(path: Path) -> None:
    """Refuse a path that is not there, or a folder (but a File Geodatabase, which is one)."""
    if not path.exists():
        raise InvalidInput(f"找不到文件 {path}。", f"No such file: {path}.", field="file")
    if path.is_dir() and path.suffix.lower() != ".gdb":
        raise InvalidInput(
            f"{path} 是一个文件夹，不是文件：请给出要导入的文件。",
            f"{path} is a folder, not a file: name the file to import.",
            field="file",
        )


def unreadable(path: Path, error: Exception) -> InvalidInput:
    """The 422 for a file that cannot be read: what the reader said, without the server's own
    paths; for a file of no known format, which formats are (GDAL's own advice, to name a
    driver, is for a programmer)."""
    said = _FOLDERS.sub("", str(error))
    if path.suffix.lower() == ".zip" and isinstance(error, zipfile.BadZipFile):
        return InvalidInput(
            f"无法读取 {path.name}：不是有效的 zip 压缩包，或压缩包不完整（可能没有下载或复制"
            "完整）。请重新压缩或重新获取该文件后再导入。",
            f"Cannot read {path.name}: not a valid zip archive, or one cut short (perhaps not "
            "downloaded or copied in full). Zip or fetch it again, then import it.",
            field="file",
        )
    if any(words in said.lower() for words in _NOT_A_FORMAT):
        return InvalidInput(
            f"无法读取 {path.name}：不是可识别的文件格式。边界、网格和综治中心请用 GeoPackage"
            "（.gpkg）、GeoJSON、KML、GML，或把 Shapefile 连同 .dbf、.shx、.prj 压缩成 zip；"
            "网格员和历史案件请用 CSV 或 XLSX。",
            f"Cannot read {path.name}: not a format it knows. Boundaries, grids and centers: "
            "GeoPackage (.gpkg), GeoJSON, KML, GML, or a Shapefile zipped with its .dbf, .shx "
            "and .prj; grid workers and historical cases: CSV or XLSX.",
            field="file",
        )
    if any(words in said.lower() for words in _DAMAGED):
        at = _AT_LINE.search(said)
        near = (
            (f"（第 {at[1]} 行第 {at[2]} 个字符附近）", f" (near line {at[1]}, character {at[2]})")
            if at
            else ("", "")
        )
        return InvalidInput(
            f"无法读取 {path.name}：文件内容有误或不完整{near[0]}，可能没有下载或复制完整。"
            f"请重新导出或重新获取该文件后再导入。（读取程序的原话：{said}）",
            f"Cannot read {path.name}: its content is damaged or cut short{near[1]}, perhaps "
            f"not downloaded or copied in full. Export or fetch the file again, then import it. "
            f"(The reader said: {said})",
            field="file",
        )
    return InvalidInput(
        f"无法读取 {path.name}：{said}", f"Cannot read {path.name}: {said}", field="file"
    )


#: the datums' names, for the messages about one that is not known
DATUM_HINT = Both(
    "可用 wgs84、cgcs2000、gcj02（高德、腾讯）、bd09（百度）",
    "known: wgs84, cgcs2000, gcj02 (Amap, Tencent), bd09 (Baidu)",
)


#: the warning of points whose datum nobody gave (no datum column, no ``--datum``)
DATUM_UNDECLARED = Both(
    "坐标系未说明（文件中没有“坐标系”列，也未加 --datum）：已按 WGS 84（GPS、天地图）处理。"
    "坐标若来自高德、腾讯地图（GCJ-02）或百度地图（BD-09），位置会偏差数百米、落入别的网格，"
    "请加 --datum gcj02 或 bd09 再导入",
    "no datum given, by a column or --datum: taken as WGS 84 — coordinates from Amap or Tencent "
    "(GCJ-02) or Baidu (BD-09) would land hundreds of metres off, in other grids; say --datum",
)


def datum_option(value: str | None) -> str:
    """The datum ``--datum`` names (:func:`gis.datum.datum_named`; default WGS 84), or a
    refusal before any row is read: a wrong one would have rejected every row."""
    if value is None:
        return "wgs84"
    datum = datum_named(value)
    if datum is None:
        raise InvalidInput(
            f"--datum {value!r} 无法识别：{DATUM_HINT.zh}。",
            f"--datum {value!r} is not a datum: use wgs84, cgcs2000, gcj02 (Amap, Tencent) or "
            "bd09 (Baidu).",
            field="datum",
        )
    return datum


def nothing_in(path: Path) -> InvalidInput:
    """The refusal of a file with no rows or features."""
    return InvalidInput(
        f"{path.name} 中没有任何数据行或要素：没有可导入的内容（是否选错了文件或图层？）。",
        f"{path.name} holds no rows or features: nothing to import (the wrong file or layer?).",
        field="file",
    )


def read_excel(path: Path) -> dict[str, pd.DataFrame]:
    """A workbook's sheets by name, every cell as text and no row taken for a header; a file
    that is not one (or a damaged one) is refused with a message (pandas' own, e.g. 'zip', says
    nothing to a user)."""
    try:
        return pd.read_excel(path, dtype=str, header=None, sheet_name=None)
    except Exception as e:
        raise InvalidInput(
            f"无法读取 {path.name}：不是有效的 Excel 文件，或文件已损坏。请在 Excel 或 WPS 中打开后"
            "另存为 .xlsx 再试，或另存为 CSV。",
            f"Cannot read {path.name}: not a valid Excel file, or a damaged one. Open it in Excel "
            "or WPS and save it again as .xlsx, or as CSV.",
            field="file",
        ) from e


#: a formula cell without the value it computes (``<c r="C2"><f>B2*2</f><v /></c>``): Excel and
#: WPS save both, a program writing a workbook (openpyxl, a system's export) often the formula
#: only, and a reader then finds the cell empty.  (A formula's text has no raw "<": it is
#: written &lt;.  One that computed an empty text, =IF(A2="","",A2), is saved t="str" <v></v>.)
_UNCOMPUTED = re.compile(
    rb'<c r="([A-Z]{1,3}[0-9]+)"([^>]*)>\s*<f(?:\s[^>]*)?(?:/>|>[^<]*</f>)\s*'
    rb"(?:<v\s*/>|<v>\s*</v>)?\s*</c>"
)
_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


def uncomputed_formulas(path: Path, sheet: str, most: int = 5) -> list[str]:
    """The first ``most`` cells of worksheet ``sheet`` of the workbook at ``path`` that hold a
    formula without its computed value (``C2``); [] for a workbook saved by Excel or WPS, and
    for anything that is not an .xlsx."""
    try:
        with zipfile.ZipFile(path) as z:
            book = ElementTree.fromstring(z.read("xl/workbook.xml"))
            rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
            rel = next(
                (s.get(f"{_NS_REL}id") for s in book.iter(f"{_NS_MAIN}sheet")
                 if s.get("name") == sheet),
                None,
            )  # fmt: skip
            target = next((r.get("Target") for r in rels if r.get("Id") == rel), None)
            if not target:
                return []
            member = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            data = z.read(member)
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, OSError):
        return []
    if b"<f" not in data:
        return []
    cells = []
    for found in _UNCOMPUTED.finditer(data):
        if b't="str"' in found[2]:  # a text computed, maybe empty
            continue
        cells.append(found[1].decode())
        if len(cells) == most:
            break
    return cells


def _refuse_uncomputed_formulas(path: Path, sheet: str) -> None:
    cells = uncomputed_formulas(path, sheet)
    if not cells:
        return
    listed = "、".join(cells) + ("等" if len(cells) == 5 else "")
    raise InvalidInput(
        f"{path.name} 的工作表“{sheet}”中有公式没有保存计算结果（{listed}），导入读到的是空值。"
        "请在 Excel 或 WPS 中打开此文件并保存一次（会算出并保存结果），或把这些列复制后“选择性"
        "粘贴为数值”，再导入。",
        f"Sheet {sheet!r} of {path.name} has formulas saved without their results "
        f"({', '.join(cells)}{' …' if len(cells) == 5 else ''}): an import reads them as empty. "
        "Open the file in Excel or WPS and save it once (which computes and keeps the results), "
        "or paste those columns as values, then import it.",
        field="file",
    )


def split_part(path: Path) -> tuple[Path, str | None]:
    """``FILE!PART``: a file and the part of it to read (a zip archive's member, a layer)."""
    head, bang, part = str(path).rpartition("!")
    if bang and part and not path.exists() and Path(head).exists():
        return Path(head), part
    return path, None


#: the GIS files a zip archive is searched for (a Shapefile by its .shp; a File Geodatabase is
#: a folder ending in .gdb)
ZIPPED_GIS = (".shp", ".gpkg", ".geojson", ".json", ".topojson", ".kml", ".gml", ".tab", ".mif")


def _member_name(info: zipfile.ZipInfo) -> str:
    """A zip member's name as its maker wrote it.  An archive made on a Chinese Windows (its
    Explorer, older WinRAR or 7-Zip) stores names in GBK without the UTF-8 flag; Python and
    GDAL both read those as CP437 (``╟°╗«.shp`` for 区划.shp).  Such a name is read as UTF-8
    (some Linux and macOS tools leave the flag out too) or else as GB 18030 (a superset of
    GBK), whichever its bytes are."""
    if info.flag_bits & 0x800 or info.filename.isascii():
        return info.filename
    raw = info.filename.encode("cp437")
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            pass
    return info.filename


def _zip_source(path: Path, part: str | None) -> tuple[str, str | None]:
    """What GDAL opens in a zip archive (``/vsizip/…``), and the layer still to choose: the GIS
    file ``part`` names, else the archive's only one (at any depth: 成果/矢量/区划.shp), else
    a refusal that lists them."""
    with zipfile.ZipFile(path) as archive:
        stored = {_member_name(info): info.filename for info in archive.infolist()}
    members = list(stored)
    found = {m for m in members if m.lower().endswith(ZIPPED_GIS) and not m.endswith("/")}
    found |= {m[: m.lower().index(".gdb/") + 4] for m in members if ".gdb/" in m.lower()}
    datasets = sorted(found)

    def source(name: str) -> str:  # the path GDAL knows the member by
        if name in stored:
            return f"/vsizip/{path}/{stored[name]}"
        # a .gdb folder: the same leading parts of one of its files' stored name ("/" is never
        # part of a GBK character)
        inside = stored[next(m for m in members if m.startswith(name + "/"))]
        return f"/vsizip/{path}/{'/'.join(inside.split('/')[: name.count('/') + 1])}"

    if part is not None and part.rstrip("/") in datasets:
        return source(part.rstrip("/")), None
    if len(datasets) == 1:
        return source(datasets[0]), part
    if not datasets:
        raise InvalidInput(
            f"压缩包 {path.name} 中没有 GIS 数据文件（.shp、.gpkg、.geojson、.kml、.gdb 等）。",
            f"The archive {path.name} holds no GIS file (.shp, .gpkg, .geojson, .kml, .gdb …).",
            field="file",
        )
    listed = "、".join(datasets[:20])
    raise InvalidInput(
        f"压缩包 {path.name} 中有 {len(datasets)} 个数据文件：{listed}。请在文件名后用 ! 指定"
        f"其一，如 {path.name}!{datasets[0]}",
        f"The archive {path.name} holds {len(datasets)} GIS files: {', '.join(datasets[:20])}. "
        f"Name one after a !, e.g. {path.name}!{datasets[0]}",
        field="file",
    )


#: the files a Shapefile cannot be read without, besides its .shp
_SHAPEFILE_PARTS = {
    ".shx": ("索引", "index"),
    ".dbf": ("属性表，含编码、名称等字段", "attribute table: the codes, names …"),
}


def _refuse_shapefile_without_parts(path: Path, source: str) -> None:
    """A Shapefile is several files: without its .shx GDAL said "Unable to open ok.shx …
    SHAPE_RESTORE_SHX"; without its .dbf it read geometries with no field at all, and the
    refusal listed none ("文件中的字段：。")."""
    if source.startswith("/vsizip/"):
        with zipfile.ZipFile(path) as archive:
            names = {info.filename.lower() for info in archive.infolist()}
        stem = source.removeprefix(f"/vsizip/{path}/")[:-4]
    else:
        names = {p.name.lower() for p in path.parent.iterdir()}
        stem = path.name[:-4]
    missing = [s for s in _SHAPEFILE_PARTS if (stem + s).lower() not in names]
    if not missing:
        return
    shown = PurePosixPath(stem).name
    zh = "、".join(f"{shown}{s}（{_SHAPEFILE_PARTS[s][0]}）" for s in missing)
    en = ", ".join(f"{shown}{s} ({_SHAPEFILE_PARTS[s][1]})" for s in missing)
    raise InvalidInput(
        f"Shapefile 由几个同名文件组成，{path.name} 缺少 {zh}。请把 .shp、.shx、.dbf、.prj"
        "（以及 .cpg，如有）放在一起，或一起压缩成 zip 后导入。",
        f"A Shapefile is several files of one name: {path.name} lacks {en}. Keep the .shp, "
        ".shx, .dbf and .prj (and the .cpg, if any) together, or zip them together, and import "
        "that.",
        field="file",
    )


def _read_gdal(path: Path, encoding: str | None, part: str | None = None) -> gpd.GeoDataFrame:
    """Through GDAL, geometry by geometry: one that GEOS cannot even build (an unclosed ring) is
    fixed where possible and noted in ``attrs["parse_repairs"]`` instead of failing the file.
    A zip archive is read from its GIS file (:func:`_zip_source`); a file of several layers
    (a GeoPackage, a File Geodatabase, a KML's folders) only from the one ``part`` names: which
    one is meant is not guessed."""
    import warnings

    import pyogrio
    from pyogrio.raw import read

    source, layer = _zip_source(path, part) if path.suffix.lower() == ".zip" else (str(path), part)
    if source.lower().endswith(".shp"):
        _refuse_shapefile_without_parts(path, source)
    layers = [str(name) for name, _ in pyogrio.list_layers(source)]
    if not layers:  # an empty KML, a folder without a Shapefile …
        raise InvalidInput(
            f"{path.name} 中没有可读的图层（要素类）：请给出含有图层的文件（如 .shp、.gpkg、"
            ".geojson）。",
            f"{path.name} holds no layer GDAL can read: give a file with a layer (.shp, .gpkg, "
            ".geojson …).",
            field="file",
        )
    if (layer is None and len(layers) > 1) or (layer is not None and layer not in layers):
        listed = "、".join(layers[:30])
        name = str(path.name) + (f"!{part}" if part and layer is None else "")
        raise InvalidInput(
            (f"{name} 中没有图层 {layer!r}" if layer else f"{name} 有 {len(layers)} 个图层")
            + f"：{listed}。请在文件名后用 ! 指定要导入的图层，如 {name}!{layers[0]}",
            (f"{name} has no layer {layer!r}" if layer else f"{name} has {len(layers)} layers")
            + f": {', '.join(layers[:30])}. Name the one to import after a !, e.g. "
            f"{name}!{layers[0]}",
            field="file",
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # GDAL's "non closed ring detected"
        meta, _, wkb, fields = read(source, layer=layer, encoding=encoding)
    columns = {str(name): values for name, values in zip(meta["fields"], fields, strict=True)}
    frame = pd.DataFrame(columns)
    repairs: dict[int, str] = {}
    if wkb is None:
        geoms = np.full(len(frame), None, dtype=object)
    else:
        geoms = shapely.from_wkb(wkb, on_invalid="ignore")
        broken = [i for i, (g, raw) in enumerate(zip(geoms, wkb, strict=True)) if g is None and raw]
        if broken:
            fixed = shapely.from_wkb(wkb[broken], on_invalid="fix")
            for i, g in zip(broken, fixed, strict=True):
                geoms[i] = g
                repairs[i] = (
                    Both("环未闭合，已闭合", "unclosed ring closed") if g is not None else ""
                )
    gdf = gpd.GeoDataFrame(frame, geometry=list(geoms), crs=meta.get("crs"))
    gdf.attrs["parse_repairs"] = {i: r for i, r in repairs.items() if r}
    return gdf


@contextmanager
def import_transaction(session: Session, report: ImportReport, commit: bool) -> Iterator[None]:
    """An import's writes, in a savepoint: kept with ``commit``, else rolled back (a dry run
    leaves nothing behind); rolled back on any error, so a failure changes nothing."""
    savepoint = session.begin_nested()
    try:
        yield
    except Exception:
        savepoint.rollback()
        raise
    if commit:
        savepoint.commit()
        report.committed = True
    else:
        savepoint.rollback()


def refuse_if_strict(report: ImportReport, strict: bool) -> None:
    """``--strict``: any problem or rejected row stops the import before it writes."""
    if strict and (report.problems or report.rejected):
        raise InvalidInput(
            f"--strict：发现 {len(report.problems)} 个问题、{len(report.rejected)} 行被拒绝，"
            "未写入。\n" + report.summary("zh"),
            f"--strict: {len(report.problems)} problems and {len(report.rejected)} rejected rows; "
            "nothing written.",
            field="strict",
        )


def pick_fields(
    columns: Iterable[str],
    wanted: Iterable[str],
    overrides: dict[str, str | None],
    candidates: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, str]:
    """Map wanted roles (code, name, …) to the file's columns: overrides first, then the usual
    names (``candidates``, default :data:`FIELD_CANDIDATES`).  Roles not found are left out
    (the caller decides which are required)."""
    candidates = FIELD_CANDIDATES if candidates is None else candidates
    cols = [c for c in columns if c != "geometry"]
    norm: dict[str, str] = {}
    for c in cols:
        norm.setdefault(field_key(c), c)
    mapping: dict[str, str] = {}
    for role in wanted:
        chosen = overrides.get(role)
        if chosen:
            if chosen not in cols:
                option = (
                    f"{ROLE_OPTIONS[role]} {chosen}"
                    if role in ROLE_OPTIONS
                    else f"--field {role}={chosen}"
                )
                raise InvalidInput(
                    f"文件中没有字段 {chosen!r}（{option}）；现有字段：{', '.join(cols)}。",
                    f"The file has no field {chosen!r} ({option}); it has: {', '.join(cols)}.",
                    field=f"{role}_field",
                )
            mapping[role] = chosen
            continue
        for candidate in candidates.get(role, ()):
            key = field_key(candidate)
            if key in norm and norm[key] not in mapping.values():
                mapping[role] = norm[key]
                break
    return mapping


#: the roles that have an option of their own (any role can be named with ``--field``); a
#: case's own id (``source_id``) is its code
ROLE_OPTIONS = {
    "code": "--code-field",
    "name": "--name-field",
    "parent": "--parent-field",
    "source_id": "--code-field",
}


def field_options(
    given: Iterable[str] | None,
    candidates: dict[str, tuple[str, ...]],
    overrides: dict[str, str | None],
) -> dict[str, str | None]:
    """``overrides`` with the columns named by ``--field ROLE=COLUMN`` (repeatable).  The role
    is named as the report names it (``lon``, ``reported_at``) or by any usual column name of it
    (``经度``, ``上报时间``): ``--field 经度=X坐标``."""
    out = dict(overrides)
    for pair in given or ():
        role_name, sep, column = pair.partition("=")
        role = role_name.strip()
        if role not in candidates:
            key = field_key(role)
            role = next((r for r, names in candidates.items() if key in map(field_key, names)), "")
        if not sep or not column.strip() or not role:
            roles = "、".join(f"{r}（{names[0]}）" for r, names in candidates.items())
            raise InvalidInput(
                f"--field {pair!r} 无法识别：请写成 --field 字段用途=文件中的列名，如 "
                f"--field 经度=X坐标。可用的字段用途：{roles}。",
                f"--field {pair!r}: write it as --field ROLE=COLUMN, e.g. --field lon=X. "
                f"Roles: {', '.join(candidates)}.",
                field="field",
            )
        out[role] = column.strip()
    return out


def require_fields(
    mapping: dict[str, str],
    roles: Iterable[str],
    columns: Iterable[str],
    candidates: dict[str, tuple[str, ...]] | None = None,
) -> None:
    """Refuse, naming the fields the file has and the options that name a column (a role's own,
    :data:`ROLE_OPTIONS`, else ``--field ROLE=…``), unless every one of ``roles`` was found.
    The Chinese message names a role by its usual name too (the first of ``candidates``,
    default :data:`FIELD_CANDIDATES`)."""
    candidates = FIELD_CANDIDATES if candidates is None else candidates
    missing = [r for r in roles if r not in mapping]
    if missing:
        named = [f"{candidates[r][0]}（{r}）" if candidates.get(r) else r for r in missing]
        names = [c for c in columns if c != "geometry"]
        cols = ", ".join(names)
        flags = " ".join(
            f"{ROLE_OPTIONS[r]} …" if r in ROLE_OPTIONS else f"--field {r}=…" for r in missing
        )
        garbled = any(ch and all("\x80" <= c <= "\xff" for c in ch) for ch in names)
        hint_zh = "字段名像是乱码：旧版 DBF 常为 GBK 编码，请加 --encoding GBK。" if garbled else ""
        hint_en = (
            " The names look garbled: old DBFs are often GBK; pass --encoding GBK."
            if (garbled)
            else ""
        )
        raise InvalidInput(
            f"认不出{'、'.join(named)}字段；文件中的字段：{cols}。请用 {flags} 指定。{hint_zh}",
            f"Could not tell which field is the {', '.join(missing)}; the file has: {cols}. "
            f"Name it with {flags}.{hint_en}",
            field="fields",
        )


# --- coordinates --------------------------------------------------------------------------


#: an angle as people write it: 113°56′12.5″, 113°56'12.5", 113度56分12.5秒, 113°56.21′,
#: 113.9368°, with a hemisphere before or after it (东经, 北纬, E, N; 西经, 南纬, W, S: negative)
_DMS = re.compile(
    r"^\s*(?P<h1>东经|西经|北纬|南纬|[EWNSewns])?\s*(?P<d>\d+(?:\.\d+)?)\s*(?:°|º|度)?\s*"
    r"(?:(?P<m>\d+(?:\.\d+)?)\s*(?:′|'|’|分))?\s*(?:(?P<s>\d+(?:\.\d+)?)\s*(?:″|\"|”|''|秒))?"
    r"\s*(?P<h2>东经|西经|北纬|南纬|[EWNSewns])?\s*$"
)


#: a number as Excel writes it in its scientific format (1.39E+10): past the first digits, the
#: number is lost when the sheet is saved as CSV
SCIENTIFIC = re.compile(r"^\s*\d(?:\.\d+)?[Ee]\+\d+\s*$")
#: what to do about it
SCIENTIFIC_FIX = (
    "请在 Excel 或 WPS 中把该列设为“文本”，补回原来的数字后重新导出（或直接导入原 XLSX 文件）。",
    "Format the column as text in Excel or WPS, restore the numbers and export again (or "
    "import the original XLSX).",
)


#: full-width forms (Ｕ+FF01–FF5E) as their ASCII letters: a Chinese input method left in
#: full-width mode types １１３．９４３６ and ２３°０′４１″Ｎ
HALF_WIDTH = {0xFF01 + i: 0x21 + i for i in range(0x5E)} | {0x3000: 0x20}


def degrees(values: pd.Series) -> np.ndarray:
    """Decimal degrees of a column of coordinates: numbers as they are (also typed in full-width
    digits); text in degrees, minutes and seconds (:data:`_DMS`) converted; anything else NaN
    (rejected by the caller)."""
    out = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, copy=True)
    todo = np.flatnonzero(np.isnan(out) & values.notna().to_numpy())
    if not len(todo):
        return out
    typed = values.iloc[todo].astype(str).str.translate(HALF_WIDTH)
    plain = pd.to_numeric(typed, errors="coerce").to_numpy(dtype=float)
    parts = typed.str.extract(_DMS)
    d = pd.to_numeric(parts["d"], errors="coerce")
    m = pd.to_numeric(parts["m"], errors="coerce").fillna(0)
    sec = pd.to_numeric(parts["s"], errors="coerce").fillna(0)
    hemisphere = parts["h1"].fillna(parts["h2"]).fillna("").str.upper()
    sign = np.where(hemisphere.isin(["W", "S", "西经", "南纬"]), -1.0, 1.0)
    value = (d + m / 60 + sec / 3600).where((m < 60) & (sec < 60)).to_numpy(dtype=float)
    out[todo] = np.where(np.isnan(plain), sign * value, plain)
    return out


#: between the two numbers of a point in one cell: 113.9435,23.0113 · 113.9435 23.0113 · （，；）
_PAIR = re.compile(r"\s*[,，;；]\s*|\s+")


def lon_lat(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude from one column holding both (经纬度 ``113.9435,23.0113``, in
    degrees or :func:`degrees`' other spellings).  In China a longitude (73–135°) is always the
    larger: a cell written latitude first (``23.0113,113.9435``) is read the right way round."""
    text = values.fillna("").astype(str).str.strip().str.strip("()（）[]")
    parts = text.str.split(_PAIR, n=1, expand=True, regex=True)
    if parts.shape[1] < 2:
        nan = np.full(len(values), np.nan)
        return nan, nan.copy()
    a, b = degrees(parts[0]), degrees(parts[1].fillna(""))
    swapped = np.abs(a) < np.abs(b)
    return np.where(swapped, b, a), np.where(swapped, a, b)


def guess_crs(bounds: tuple[float, float, float, float], near_lon: float | None) -> str:
    """What the coordinate ranges look like, as a suggestion for ``--crs``."""
    minx, miny, maxx, maxy = bounds
    if minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90:
        return "EPSG:4490"  # degrees: CGCS2000 (≈ WGS 84)
    if minx >= 2.5e7 and maxx < 4.6e7 and 1e6 <= miny <= 6.5e6:
        zone = int(minx // 1e6)  # 3° zone prefix in the easting: zone 38 → 114°E
        return f"EPSG:{4513 + zone - 25}"
    if minx >= 7e6 and maxx <= 1.7e7 and 1.5e6 <= miny <= 8e6:
        return "EPSG:3857"
    if minx >= 1e5 and maxx <= 9e5 and 1e6 <= miny <= 6.5e6:
        cm = 3 * round((near_lon if near_lon is not None else 114.0) / 3)
        return f"EPSG:{4534 + (cm - 75) // 3}"  # CGCS2000 3° GK CM 75°E … 135°E, no prefix
    return ""


def _describe_guess(code: str) -> tuple[str, str]:
    n = int(code.split(":")[1]) if code else 0
    if n == 4490:
        return "经纬度（度）", "degrees of longitude/latitude"
    if 4513 <= n <= 4533:
        cm = 75 + 3 * (n - 4513)
        return f"带带号的高斯-克吕格 3 度带坐标（米，中央经线 {cm}°E）", (
            f"metres in a Gauss–Krüger 3° zone with zone prefix (central meridian {cm}°E)"
        )
    if 4534 <= n <= 4554:
        cm = 75 + 3 * (n - 4534)
        return f"高斯-克吕格 3 度带坐标（米，约在 {cm}°E 附近）", (
            f"metres in a Gauss–Krüger zone near {cm}°E"
        )
    if n == 3857:
        return "Web 墨卡托（米）", "Web Mercator metres"
    return "", ""


def to_wgs84_frame(
    gdf: gpd.GeoDataFrame, crs: str | None, report: ImportReport, near_lon: float | None
) -> gpd.GeoDataFrame:
    """Reproject to WGS 84, honouring the file's CRS; refuse (with a guess) when there is none."""
    if crs:
        try:
            gdf = gdf.set_crs(crs, allow_override=True)
        except Exception as e:
            raise InvalidInput(
                f"无法识别坐标系 {crs}：{e}", f"Unknown CRS {crs}: {e}", field="crs"
            ) from e
        report.crs_source = "--crs"
    elif gdf.crs is None:
        finite = gdf.geometry[~gdf.geometry.is_empty & gdf.geometry.notna()]
        bounds = tuple(finite.total_bounds) if len(finite) else (math.nan,) * 4
        guess = guess_crs(bounds, near_lon) if not any(map(math.isnan, bounds)) else ""  # type: ignore[arg-type]
        zh, en = _describe_guess(guess)
        hint_zh = f"坐标值看起来是{zh}；是否应加 --crs {guess}？" if guess else "请用 --crs 指定。"
        hint_en = f"values look like {en}; pass --crs {guess}?" if guess else "pass --crs."
        raise InvalidInput(
            "文件没有声明坐标系（如 Shapefile 缺少 .prj；TopoJSON、带 WKT 列的表格本身不带"
            f"坐标系）。{hint_zh}",
            "The file declares no coordinate system (e.g. a Shapefile without .prj; a TopoJSON "
            f"or a table with a WKT column carries none); {hint_en}",
            field="crs",
            guess=guess,
        )
    else:
        report.crs_source = "file"
    report.crs = gdf.crs.to_string() if gdf.crs is not None else None
    _refuse_degrees_in_metres(gdf, report)
    out = gdf.to_crs(WGS84)
    off = _off_the_globe(out)
    if off.sum() > 0.5 * max(1, (~out.geometry.is_empty & out.geometry.notna()).sum()):
        # most rows fall off the globe as degrees: the CRS is wrong, not the rows (a GeoJSON
        # is WGS 84 by definition, and a wrong .prj says what it says).  A few such rows are
        # rejected each on its own (clean_polygons, the point importers).
        before = _finite_bounds(gdf[off])
        guess = guess_crs(before, near_lon) if before is not None else ""
        zh, en = _describe_guess(guess)
        x0, y0, x1, y1 = before or (math.nan,) * 4
        if not guess and -90 <= x0 <= x1 <= 90 and -180 <= y0 <= y1 <= 180:
            zh, en = (
                "纬度在前、经度在后（经纬度填反了）",
                "latitude first, then longitude (swapped)",
            )
            guess = "swapped"
        source_zh = "文件声明的" if report.crs_source == "file" else "--crs 指定的"
        source_en = "the file declares" if report.crs_source == "file" else "--crs gives"
        raise InvalidInput(
            f"坐标值与{source_zh}坐标系 {report.crs} 不符：{off.sum()} 行（共 {len(out)} 行）"
            "换算成经纬度后超出范围。"
            + (
                f"坐标值看起来是{zh}，请交换经度、纬度两列。"
                if guess == "swapped"
                else f"坐标值看起来是{zh}；是否应加 --crs {guess}？"
                if guess
                else "请用 --crs 指定。"
            ),
            f"The coordinates do not fit the CRS {source_en} ({report.crs}): {off.sum()} of "
            f"{len(out)} rows fall off the globe as degrees. "
            + (
                f"They look like {en}: exchange the longitude and latitude columns."
                if guess == "swapped"
                else f"They look like {en}; pass --crs {guess}?"
                if guess
                else "Pass --crs."
            ),
            field="crs",
            guess=guess,
        )
    return out


def _refuse_degrees_in_metres(gdf: gpd.GeoDataFrame, report: ImportReport) -> None:
    """Refuse degrees under a projected CRS: as metres they all land within a few hundred
    metres of where the projection starts (for Web Mercator, (0°, 0°) in the Gulf of Guinea; for
    a Gauss–Krüger zone, hundreds of kilometres off it), and were then rejected row by row as
    'no area' or 'no village found', which says nothing of the cause."""
    if gdf.crs is None or not gdf.crs.is_projected:
        return
    bounds = _finite_bounds(gdf)
    # (China's longitudes and latitudes: a local grid in metres is not taken for degrees)
    if bounds is None or not (
        73 <= bounds[0] <= bounds[2] <= 136 and 3 <= bounds[1] <= bounds[3] <= 54
    ):
        return
    source_zh = "文件声明的" if report.crs_source == "file" else "--crs 指定的"
    source_en = "the file declares" if report.crs_source == "file" else "--crs gives"
    raise InvalidInput(
        f"坐标值看起来是经纬度（度），而{source_zh}坐标系 {report.crs} 以米为单位：按米换算，"
        "整个文件都落在几百米之内。是否应加 --crs EPSG:4490？",
        f"The coordinates look like degrees of longitude/latitude, but the CRS {source_en} "
        f"({report.crs}) is in metres: read as metres, the whole file fits in a few hundred "
        "metres. Pass --crs EPSG:4490?",
        field="crs",
        guess="EPSG:4490",
    )


def _off_the_globe(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """Rows with a finite coordinate outside longitude -180…180 or latitude -90…90."""
    out = np.zeros(len(gdf), dtype=bool)
    xy, rows = shapely.get_coordinates(gdf.geometry.to_numpy(), return_index=True)
    finite = np.isfinite(xy).all(axis=1)
    bad = finite & ((np.abs(xy[:, 0]) > 180) | (np.abs(xy[:, 1]) > 90))
    out[np.unique(rows[bad])] = True
    return out


def _finite_bounds(gdf: gpd.GeoDataFrame) -> tuple[float, float, float, float] | None:
    """The bounds of the finite coordinates (a row with NaN or ∞ is rejected on its own)."""
    xy = shapely.get_coordinates(gdf.geometry.to_numpy())
    xy = xy[np.isfinite(xy).all(axis=1)]
    if not len(xy):
        return None
    (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def geometries_from_table(
    df: pd.DataFrame, mapping: dict[str, str], points: bool
) -> gpd.GeoDataFrame:
    """CSV/XLSX: a WKT column, or (points) lon/lat columns; declared as WGS 84 unless --crs."""
    failures: dict[int, str] = {}
    if "wkt" in mapping:
        raw = df[mapping["wkt"]].fillna("").astype(str).to_numpy()
        geoms = shapely.from_wkt(raw, on_invalid="ignore")
        failures = {
            i: Both("WKT 无法解析", "unreadable WKT").said_of(repr(text.strip()[:40]))
            for i, (g, text) in enumerate(zip(geoms, raw, strict=True))
            if g is None and text.strip()
        }
    elif points and (("lon" in mapping and "lat" in mapping) or "lonlat" in mapping):
        if "lon" in mapping and "lat" in mapping:
            lon, lat = degrees(df[mapping["lon"]]), degrees(df[mapping["lat"]])
        else:  # both in one column: 经纬度 113.9435,23.0113
            lon, lat = lon_lat(df[mapping["lonlat"]])
        geoms = shapely.points(lon, lat)
        geoms[np.isnan(lon) | np.isnan(lat)] = None
    else:
        what = "WKT 列或经度、纬度列" if points else "WKT 列"
        raise InvalidInput(
            f"表格文件需要{what}（现有字段：{', '.join(df.columns)}）。",
            f"A table needs a {'WKT column or lon/lat columns' if points else 'WKT column'} "
            f"(it has: {', '.join(df.columns)}).",
            field="fields",
        )
    gdf = gpd.GeoDataFrame(df, geometry=list(geoms), crs=None)
    gdf.attrs["parse_failures"] = failures
    return gdf


# --- geometry quality ---------------------------------------------------------------------


def clean_polygons(
    geoms: np.ndarray,
    codes: list[str],
    report: ImportReport,
    min_area_m2: float = 1.0,
    parse_repairs: dict[int, str] | None = None,
    parse_failures: dict[int, str] | None = None,
) -> list[BaseGeometry | None]:
    """Repair what can be repaired (polygonal parts only, never a GeometryCollection), reject
    empty and degenerate geometries; every one listed in the report.  None = rejected."""
    out: list[BaseGeometry | None] = []
    progress = Progress(Both("几何检查", "geometry check"), len(codes))
    for i, (geom, code) in enumerate(zip(geoms, codes, strict=True)):
        if i % 1000 == 0:
            progress.update(i)
        if parse_repairs and i in parse_repairs and geom is not None and not geom.is_empty:
            p = geom.representative_point()
            report.repaired.append(Issue("repaired", code, parse_repairs[i], p.x, p.y))
        if geom is None or geom.is_empty:
            reason = (parse_failures or {}).get(i, Both("空几何", "empty geometry"))
            report.rejected.append(Issue("rejected", code, reason))
            out.append(None)
            continue
        xy = shapely.get_coordinates(geom)
        if not np.isfinite(xy).all():
            report.rejected.append(
                Issue("rejected", code, Both("坐标含非数值或无穷大", "NaN or infinite coordinates"))
            )
            out.append(None)
            continue
        if (np.abs(xy[:, 0]) > 180).any() or (np.abs(xy[:, 1]) > 90).any():
            report.rejected.append(
                Issue("rejected", code, Both("坐标超出经纬度范围", "coordinates off the globe"))
            )
            out.append(None)
            continue
        geom = shapely.force_2d(geom)  # heights (Z) have no place in a boundary
        fixed = geom
        if not geom.is_valid:
            reason = shapely.is_valid_reason(geom)
            fixed = polygonal(shapely.make_valid(geom))
            c = geom.representative_point() if not geom.is_empty else None
            if fixed is None or fixed.is_empty:
                report.rejected.append(
                    Issue(
                        "rejected",
                        code,
                        Both("无法修复", "cannot repair").said_of(reason),
                        c.x if c else None,
                        c.y if c else None,
                    )
                )
                out.append(None)
                continue
            report.repaired.append(
                Issue(
                    "repaired",
                    code,
                    Both("已修复", "repaired").said_of(reason),
                    c.x if c else None,
                    c.y if c else None,
                )
            )
        else:
            fixed = polygonal(fixed)
            if fixed is None:
                report.rejected.append(Issue("rejected", code, Both("不是面", "not a polygon")))
                out.append(None)
                continue
        west, south, east, north = fixed.bounds
        if east - west > MAX_SPAN_DEG[0] or north - south > MAX_SPAN_DEG[1]:
            p = fixed.representative_point()
            report.rejected.append(
                Issue(
                    "rejected",
                    code,
                    Both(
                        f"范围过大（经度跨 {east - west:.0f}°、纬度跨 {north - south:.0f}°），不像"
                        "一个行政区划或网格，请核对坐标",
                        f"too large to be a region or grid ({east - west:.0f}° of longitude, "
                        f"{north - south:.0f}° of latitude)",
                    ),
                    p.x,
                    p.y,
                )
            )
            out.append(None)
            continue
        if area_m2(fixed) < min_area_m2:
            p = fixed.representative_point()
            report.rejected.append(
                Issue(
                    "rejected", code, Both("退化（面积几乎为零）", "degenerate (no area)"), p.x, p.y
                )
            )
            out.append(None)
            continue
        out.append(fixed)
    progress.done()
    return out


def polygonal(geom: BaseGeometry | None) -> BaseGeometry | None:
    """The polygonal parts of ``geom`` as a MultiPolygon (None if there are none)."""
    if geom is None or geom.is_empty:
        return None
    parts = [
        g
        for g in shapely.get_parts(geom)
        if g.geom_type in ("Polygon", "MultiPolygon") and not g.is_empty
    ]
    polys = [p for g in parts for p in shapely.get_parts(g)]
    if not polys:
        return None
    return shapely.MultiPolygon(polys)
