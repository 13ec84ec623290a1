"""Importing historical cases (CSV/XLSX with Chinese headers), vectorised end to end.

Stages (each timed in the report): the file goes to the database as it is (``COPY … CSV``, the
server parses it); the coordinates are read once more by pandas and converted to WGS 84 per datum
with numpy (GCJ-02, BD-09), checked, and sent back as one binary ``COPY`` built from a numpy record
array, with the times pandas can read (:func:`fast_times`; SQL reads the others); kinds and
categories are matched once per *distinct* value; the grid that covers each point at the case's own
time is found in memory, for all points at once (:mod:`importers.covers`: a point on or next to a
grid's edge is left to SQL), and ``wangge_assign_at`` locates the rest (edge and vertex points go
to the lowest code, as ``locate_point`` does; else nearest within 50 m, else the smallest region)
— the same rules, never a Python loop over rows — then one ``INSERT … SELECT``
writes the cases, skipping source ids already there (re-importing the same file adds nothing),
followed by their import events. With ``bulk`` (a first load) the case tables are locked, and their
indexes, keys and map roll-ups are rebuilt once after the insert (:mod:`importers.bulk`).
"""

from __future__ import annotations

import io
import re
import secrets
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
import psycopg
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from gis.cases import IMPORT_ACTOR, IMPORT_NOTE, SOURCE_NAMES
from gis.datum import datum_named, to_wgs84
from gis.db import HANDLED_LATER
from gis.edits import LAYOUT_LOCK, relocate_open_cases
from gis.errors import InvalidInput
from gis.parties import NAME_MAX as PARTY_NAME_MAX
from gis.pii import PiiCipher, validate_id_card, validate_phone
from gis.scope import Scope, bind_scope
from gis.workflow import STATE_NAMES, open_sql
from gis.worktime import DAY_HOURS, SHANGHAI, WINDOWS, clock_sql, hhmm
from importers.bulk import (
    declined,
    lock_case_tables,
    pays_off,
    rebuilt_after,
    rewrite_pays_off,
    stored_cases,
)
from importers.core import (
    DATUM_UNDECLARED,
    HEADER_SEARCH_ROWS,
    SCIENTIFIC,
    SCIENTIFIC_FIX,
    STAGE_WORDS,
    TOTAL_WORDS,
    Both,
    ImportReport,
    Issue,
    Progress,
    Sheet,
    check_file,
    csv_rows,
    datum_option,
    decode_csv,
    degrees,
    excel_sheet,
    field_options,
    guessed_note,
    header_names,
    header_row,
    import_transaction,
    lon_lat,
    nothing_in,
    pick_fields,
    require_fields,
    split_part,
    title_note,
    total_row,
)
from importers.covers import NEVER, PG_EPOCH_US, covering_grids, load_grids

CASE_FIELDS: dict[str, tuple[str, ...]] = {
    "source_id": ("编号", "案件编号", "事件编号", "事项编号", "案件号", "ID", "源编号", "SOURCE_ID",
                  "CASE_ID", "CASE_NO"),
    "reported_at": ("上报时间", "登记时间", "时间", "上报日期", "登记日期", "发现时间", "发生时间",
                    "事发时间", "受理时间", "报告时间", "创建时间", "日期", "REPORTED_AT", "TIME",
                    "DATE"),
    "lon": ("经度", "经度坐标", "GPS经度", "东经", "LON", "LNG", "LONGITUDE"),
    "lat": ("纬度", "纬度坐标", "GPS纬度", "北纬", "LAT", "LATITUDE"),
    # both in one cell: 113.9435,23.0113 (core.lon_lat)
    "lonlat": ("经纬度", "坐标", "经纬度坐标", "位置坐标", "GPS坐标", "GPS", "LNGLAT", "LONLAT",
               "LNG_LAT", "LON_LAT", "COORDINATES"),
    "datum": ("坐标系", "坐标系统", "DATUM"),
    # where a row without coordinates is (an old ledger's 台账): its village or community, by
    # code or name, and the township to tell two villages of one name apart
    "village": ("村（社区）", "村(社区)", "村/社区", "村社区", "村居", "所属村居", "所属村（社区）",
                "所属村(社区)", "所属社区", "所属村", "社区", "村", "VILLAGE", "COMMUNITY"),
    "township": ("乡镇（街道）", "乡镇(街道)", "乡镇/街道", "乡镇街道", "所属乡镇（街道）",
                 "所属乡镇", "所属街道", "乡镇", "街道", "TOWNSHIP", "STREET"),
    "kind": ("类型", "案件类型", "大类", "案件大类", "KIND", "TYPE"),
    "category": ("类别", "案件类别", "事件类别", "问题类别", "问题类型", "纠纷类型", "隐患类型",
                 "小类", "案件小类", "CATEGORY"),
    "description": ("描述", "内容", "案件描述", "事件描述", "问题描述", "情况描述", "简要情况",
                    "基本情况", "事件内容", "事由", "DESCRIPTION"),
    "status": ("状态", "案件状态", "办理状态", "处置状态", "STATUS"),
    "severity": ("严重程度", "等级", "紧急程度", "SEVERITY"),
    "channel": ("来源", "案件来源", "来源渠道", "渠道", "CHANNEL", "ORIGIN"),
    # its number in that channel (来源编号): a 12345 work order, a 110 incident …
    "source_ref": ("来源编号", "工单号", "工单编号", "SOURCE_REF", "WORK_ORDER", "ORDER_NO"),
    # 就地化解: settled on the spot by the grid worker (是/否)
    "on_site": ("是否就地化解", "就地化解", "是否现场化解", "现场化解", "ON_SITE"),
    # the resident the case is about (当事人, one a row): stored encrypted, as a report's parties
    "party_name": ("当事人", "当事人姓名", "反映人", "反映人姓名", "群众姓名", "PARTY",
                   "PARTY_NAME"),
    "party_phone": ("当事人电话", "当事人联系电话", "当事人手机", "反映人电话", "反映人联系电话",
                    "联系电话", "PARTY_PHONE"),
    "party_id_card": ("当事人身份证号", "身份证号", "身份证号码", "公民身份号码", "证件号码",
                      "PARTY_ID_CARD"),
}  # fmt: skip
#: the columns of a party (当事人): each optional
PARTY_FIELDS = ("party_name", "party_phone", "party_id_card")
#: a 就地化解 cell that says yes (compared trimmed and in lower case); anything else is no
ON_SITE_YES = ("是", "就地化解", "已就地化解", "现场化解", "已现场化解", "y", "yes", "true", "1",
               "√", "✓")  # fmt: skip
#: the note of the 就地化解 event of an imported case
ON_SITE_NOTE = "导入的历史案件：网格员就地化解"
#: where a case came from (案件来源, ``gis.cases.SOURCE_NAMES``): its code, its names and the
#: other usual spellings
_MORE_SOURCE_WORDS = {
    "grid_worker": ("网格员", "网格上报", "网格巡查", "巡查发现"),
    "walk_in": ("来访", "走访", "窗口登记", "现场登记", "walk in"),
    "hotline": ("12345", "热线", "市长热线", "政务服务热线", "hotline 12345"),
    "police_diversion": ("110", "110分流", "警情分流", "非警务警情", "110 diversion"),
    "petition": ("来信", "信访件"),
    "online": ("网上", "网络", "网络平台", "微信", "小程序", "app"),
    "other": ("其它",),
}
SOURCE_WORDS = {
    code: (code, zh, en, *_MORE_SOURCE_WORDS.get(code, ()))
    for code, (zh, en) in SOURCE_NAMES.items()
}
KIND_WORDS = {
    "dispute": ("矛盾纠纷", "纠纷", "矛盾", "dispute", "disputes"),
    "hazard": ("安全隐患", "隐患", "hazard", "hazards"),
}
STATUS_WORDS = {code: (code, name) for code, name in STATE_NAMES.items()} | {
    "closed": ("closed", "已结案", "结案", "办结归档"),
    "resolved": ("resolved", "已办结", "办结"),
}
#: the spellings of a time that pandas reads (exactly these; any other is left to
#: ``wangge_read_time``, migration 0028, which also reads fractions of a second, blanks around,
#: "24:00" …).  Most files use one of them.  Those with ``%z`` carry their offset from UTC;
#: the others are local times in Shanghai
_FAST_TIMES = ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M",
               "%Y-%m-%d", "%Y/%m/%d", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z",
               "%Y-%m-%dT%H:%M:%S")  # fmt: skip
#: China has kept UTC+8 all year since 1992 (summer time 1986–1991): from then on a local time
#: is UTC 8 hours later, and pandas needs no time-zone rules to say so
_FIXED_UTC8_FROM = pd.Timestamp("1992-01-01")
# times go to PostgreSQL as binary ``timestamptz`` (microseconds since 2000-01-01 UTC,
# ``importers.covers.PG_EPOCH_US``); its largest value, ``'infinity'`` (``NEVER``), here means
# "read this row's time in SQL"


STAGES = 8  # timed stages of an import (for the progress line)
#: a case received after this was not received yet (a day of clock skew allowed): rejected
_FUTURE = "now() + interval '1 day'"
#: a case received before this is an empty date read as a time (Excel's day 0, 1899-12-30 or
#: 1900-01-01, or Unix's 1970-01-01), not a case of a city's records: rejected
_EARLIEST = "1980-01-01"
_PAST = f"timestamptz '{_EARLIEST} 00:00:00+08'"
#: the longest source id a case keeps (``cases.source_id``, migration 0012)
_ID_LENGTH = 64
#: a row whose latitude is past 90 and whose longitude would be one: rejected with the hint
SWAPPED_REASON = Both(
    "坐标无效，经纬度是否填反了？", "bad coordinates: longitude and latitude swapped?"
)
#: why a row's coordinates were not taken, by the key the vectorised check gives each row
_COORDS_WHY = {
    "datum": Both("坐标系无法识别", "unknown datum"),
    "swapped": SWAPPED_REASON,
    "bad": Both("坐标无效", "bad coordinates"),
    "absent": Both("没有坐标，也没有村（社区）或乡镇（街道）", "no coordinates and no village"),
}
#: a staged case that is rejected: bad coordinates (or none, and no village named), or a bad
#: time, no id or one too long
_REJECTED = f"""NOT kept OR at IS NULL OR at > {_FUTURE} OR at < {_PAST} OR source_id IS NULL
                OR source_id = '' OR length(source_id) > {_ID_LENGTH}"""
#: memory for each sort and hash of the import's transaction: the roll-up trigger aggregates and
#: sorts three heat cells per case, which at the server's 32 MB spill to disk from ~100,000 rows
WORK_MEM = "512MB"
#: the session's cache for the import's temporary tables.  At PostgreSQL's 8 MB the locate join,
#: which visits the staged points grid by grid, reads their pages from the kernel again and
#: again: a million points took 13.6 s that way and 5.7 s with 1 GB (taken only as used)
TEMP_BUFFERS = "1GB"


@dataclass
class CaseOptions:
    commit: bool = False
    encoding: str | None = None
    datum: str | None = None
    source_field: str | None = None
    bulk: bool = False  # a first load: tables locked; indexes, keys, roll-ups rebuilt once after
    fields: list[str] | None = None  # --field ROLE=COLUMN (core.field_options)
    #: the personal-data cipher, asked for only when the file has party columns (当事人)
    cipher: Callable[[], PiiCipher] | None = None


def _norm(s: str) -> str:
    s = re.sub(r"[（(].*?[)）]", "", str(s)).strip().lower()
    for suffix in ("安全隐患", "隐患", "矛盾纠纷", "纠纷", "类"):
        if s.endswith(suffix) and len(s) > len(suffix):
            s = s[: -len(suffix)]
    return s.replace(" ", "")


def _word_map(words: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {w.lower(): code for code, ws in words.items() for w in ws}


#: between a kind and a category written in one cell: 矛盾纠纷/邻里纠纷, 安全隐患-消防
_KIND_SPLIT = re.compile(r"\s*[/／\-－—>＞·:：|]\s*")
#: words in a ledger's category that name one of ours (when its name does not): a category is
#: matched by them only if no other category of the kind has one of its words in the cell
CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "marriage_family": ("婚姻", "家庭", "婚恋", "恋爱", "离婚", "赡养", "抚养", "继承", "家暴",
                        "夫妻", "婆媳"),
    "neighbour": ("邻里", "邻居", "噪音", "噪声", "漏水", "相邻", "采光", "养犬"),
    "housing_homestead": ("宅基地", "房屋买卖", "房产", "建房"),
    "land_forest": ("山林", "林地", "土地", "耕地", "承包地"),
    "labour_wage": ("劳资", "欠薪", "工资", "讨薪", "劳动", "工伤", "农民工", "劳务"),
    "property_mgmt": ("物业", "业委会", "停车"),
    "consumer": ("消费", "退款", "购物", "商品质量", "预付卡"),
    "medical": ("医患", "医疗", "医闹", "医院"),
    "traffic_accident": ("交通事故", "车祸", "碰撞", "刮擦"),
    "land_requisition": ("征地", "拆迁", "征收", "补偿安置"),
    "contract_debt": ("合同", "债务", "借贷", "欠款", "借款"),
    "fire": ("消防", "火灾", "电动车", "飞线", "充电", "电线", "堆物", "堆放"),
    "public_order": ("治安", "打架", "斗殴", "盗窃", "赌博", "涉黄", "可疑"),
    "building_safety": ("房屋安全", "危房", "裂缝", "倒塌", "违建", "违法建筑"),
    "gas": ("燃气", "煤气", "液化气", "天然气"),
    "traffic_safety": ("交通安全", "井盖", "路面", "道路"),
    "flood": ("防汛", "内涝", "积水", "水浸", "山洪", "台风"),
    "rental_housing": ("出租屋", "出租房", "群租"),
    "small_venues": ("三小", "小作坊", "小档口", "小场所", "小餐饮", "小娱乐"),
    "food_safety": ("食品", "过期"),
}  # fmt: skip


def match_category(
    catalogue: list[tuple[str, str, str, str]], raw_kind: str | None, raw_category: str | None
) -> tuple[str, str, bool]:
    """(kind, category code, matched?) for a kind and category given as codes or names, in
    Chinese or English.  Unmatched → the kind's "other" category (matched False)."""
    kinds = _word_map(KIND_WORDS)
    raw_kind, raw = str(raw_kind or "").strip(), str(raw_category or "").strip()
    for cell in (raw_kind, raw):  # 矛盾纠纷/邻里纠纷 in one cell: the kind, then the category
        first, rest = (*_KIND_SPLIT.split(cell, maxsplit=1), "")[:2]
        if rest and kinds.get(first.strip().lower()) and (cell == raw or not raw):
            raw_kind, raw = first.strip(), rest.strip()
            break
    kind = kinds.get(raw_kind.lower()) or (raw_kind if raw_kind in ("dispute", "hazard") else None)
    candidates = [c for c in catalogue if kind is None or c[1] == kind]
    found = None
    if raw:
        for test in (
            lambda c: raw.lower() == c[0],
            lambda c: raw == c[2] or raw.lower() == c[3].lower(),
            lambda c: _norm(raw) in (_norm(c[2]), _norm(c[3])),
        ):
            hits = [c for c in candidates if test(c)]
            if len(hits) == 1:
                found = hits[0]
                break
        if found is None and _norm(raw):
            hits = [c for c in candidates if _norm(raw) in _norm(c[2]) or _norm(c[2]) in _norm(raw)]
            if len(hits) == 1:
                found = hits[0]
        if found is None:  # the words ledgers use for it: 欠薪, 噪音, 飞线充电, 内涝 …
            hits = [c for c in candidates if any(w in raw for w in CATEGORY_WORDS.get(c[0], ()))]
            if len(hits) == 1:
                found = hits[0]
    if found is not None:
        return found[1], found[0], True
    kind = kind or "dispute"
    return kind, f"{kind}_other", False


def import_cases(session: Session, path: Path, opts: CaseOptions) -> ImportReport:
    """Historical cases from ``path`` (see the module docstring).  Dry run unless ``commit``."""
    started = time.perf_counter()
    stages: dict[str, float] = {}
    mark = [time.perf_counter()]

    progress: list[Progress] = []
    bulk = [opts.bulk]  # asked for, and still worth it (bulk.pays_off)

    def stage(name: str) -> None:
        now = time.perf_counter()
        stages[name] = round(now - mark[0], 3)
        mark[0] = now
        if progress:  # the stages run over all rows at once: the line moves stage by stage
            total = STAGES + bulk[0]
            words = STAGE_WORDS[name]  # (the stage just done: the next one has begun)
            done = Both(f"已完成：{words.zh}", f"done: {words.en}")
            progress[0].update(int(progress[0].total * len(stages) / total), done)

    report = ImportReport(Both("历史案件", "cases", "cases 历史案件"), path.name)
    default = datum_option(opts.datum)  # (refused before a million rows are read)
    read = _as_csv(path, opts.encoding)
    csv_bytes, header = read.data, read.header
    overrides = field_options(opts.fields, CASE_FIELDS, {"source_id": opts.source_field})
    import importers.core as core

    saved = dict(core.FIELD_CANDIDATES)
    core.FIELD_CANDIDATES.update(CASE_FIELDS)
    try:
        mapping = pick_fields(header, list(CASE_FIELDS), overrides)
    finally:
        core.FIELD_CANDIDATES.clear()
        core.FIELD_CANDIDATES.update(saved)
    pair = "lonlat" in mapping and not ("lon" in mapping and "lat" in mapping)
    if pair:  # both in one column (经纬度 113.9435,23.0113): read from it, whatever else was found
        mapping.pop("lon", None), mapping.pop("lat", None)
    else:
        mapping.pop("lonlat", None)
    # an old ledger may have no coordinates at all: its rows are then placed by their village
    placed = "village" in mapping or "township" in mapping
    has_points = pair or "lon" in mapping or "lat" in mapping or not placed
    require_fields(
        mapping,
        ["source_id", "reported_at", *((["lonlat"] if pair else ["lon", "lat"]) if has_points
                                        else [])],
        header, CASE_FIELDS,
    )  # fmt: skip
    report.mapping = mapping
    report.crs, report.crs_source = "EPSG:4326", "file"  # (longitude and latitude in degrees)
    if not has_points:  # (a ledger of village names: no coordinate was read)
        report.crs = Both("无坐标列，按村（社区）登记", "no coordinates: filed by village")

    # coordinates: numpy, per datum
    usecols = [mapping[k] for k in ("lon", "lat", "lonlat", "datum", "reported_at") if k in mapping]
    numbers = () if pair or not has_points else (mapping["lon"], mapping["lat"])
    num = _read_points(csv_bytes, usecols, numbers)
    n = len(num)
    if n == 0:
        raise InvalidInput(
            f"{path.name} 只有表头，没有数据行：没有可导入的案件。",
            f"{path.name} has a header and no rows: no cases to import.",
            field="file",
        )
    read.tell(report)
    report.rows = n + len(report.rejected)  # (rows wider than the header: rejected already)
    progress.append(Progress(Both("导入案件", "importing cases"), n))
    if pair:
        lon, lat = lon_lat(num[mapping["lonlat"]])
    elif has_points:
        lon, lat = degrees(num[mapping["lon"]]), degrees(num[mapping["lat"]])
    else:
        lon, lat = np.full(n, np.nan), np.full(n, np.nan)
    if "datum" in mapping:  # a few spellings in a million rows: each looked up once
        codes, spellings = pd.factorize(num[mapping["datum"]])
        found = [datum_named(v) or ("?" if v.strip() else default) for v in spellings]
        datums = np.array(found, dtype=object)[codes]
    else:
        datums = np.full(n, default, dtype=object)
        if opts.datum is None and has_points:  # (first: the line a dry run must not hide)
            report.warnings.insert(0, DATUM_UNDECLARED)
    x, y = np.full(n, np.nan), np.full(n, np.nan)
    for d in ("wgs84", "cgcs2000", "gcj02", "bd09"):
        m = datums == d
        if m.any():
            x[m], y[m] = to_wgs84(lon[m], lat[m], d)
    bad = (
        ~np.isfinite(x)
        | ~np.isfinite(y)
        | (np.abs(x) > 180)
        | (np.abs(y) > 90)
        | ((x == 0) & (y == 0))
    )
    # a latitude past 90 with a longitude that would be one: written the wrong way round
    swapped = (np.abs(lat) > 90) & (np.abs(lat) <= 180) & (np.abs(lon) <= 90)
    reasons = np.where(datums == "?", "datum", np.where(swapped, "swapped", "bad"))
    coordinates = [
        num[mapping[k]] for k in (("lonlat",) if pair else ("lon", "lat")) if k in mapping
    ]
    # no coordinates at all (every cell of them empty): placed by the village, if it is named
    # (only a file with such a column asks; numbers read as floats have no empty cell)
    absent = np.full(n, placed, dtype=bool)
    for c in coordinates if placed else ():
        if pd.api.types.is_numeric_dtype(c):
            absent &= c.isna().to_numpy()
        else:
            absent &= (c.isna() | (c.str.strip() == "")).to_numpy(dtype=bool, na_value=True)
    if placed:
        reasons = np.where(absent, "absent", reasons)

    def as_written(i: int) -> Both:
        """The row's coordinate cells as the file has them, for its rejection."""
        cells = [c.iloc[i] for c in coordinates]
        shown = [None if pd.isna(v) or not str(v).strip() else repr(str(v)) for v in cells]
        names = [("经纬度", "lon,lat")] if pair else [("经度", "lon"), ("纬度", "lat")]
        named = list(zip(names, shown, strict=False))
        return Both(
            "，".join(f"{zh} {v or '空'}" for (zh, _), v in named),
            ", ".join(f"{en} {v or 'empty'}" for (_, en), v in named),
        )

    at_us = fast_times(num[mapping["reported_at"]])
    stage("read + datums (numpy)")

    catalogue = [
        tuple(r)
        for r in session.execute(
            text("SELECT code, kind::text, name_zh, name_en FROM category")
        ).all()
    ]
    bind_scope(session, Scope.everything())
    with import_transaction(session, report, opts.commit):
        session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
        session.execute(text(HANDLED_LATER))  # (the import writes the cases' handling itself)
        _more_temp_buffers(session)
        stored = stored_cases(session) if opts.bulk else 0
        if opts.bulk and not pays_off(stored, n):  # the file's rows are the most it can add
            bulk[0] = False
            report.warnings.append(declined(stored, n))
        if bulk[0]:  # before any work: refuse at once if the tables are in use
            lock_case_tables(session)
        if opts.commit:  # located on the layout before a planner's commit or after it, as a
            # report is (migration 0041): never on the old one, with the commit moving only the
            # open cases it can see
            session.execute(text(f"SELECT pg_advisory_xact_lock_shared{LAYOUT_LOCK}"))
        cols = ", ".join(f'"c{i}" text' for i in range(len(header)))
        session.execute(text(f"CREATE TEMP TABLE import_raw (n bigserial, {cols}) ON COMMIT DROP"))
        raw_conn = cast(psycopg.Connection, session.connection().connection.dbapi_connection)
        with raw_conn.cursor() as cur:
            names = ", ".join(f'"c{i}"' for i in range(len(header)))
            with cur.copy(
                f"COPY import_raw ({names}) FROM STDIN WITH (FORMAT csv, HEADER true)"
            ) as copy:
                copy.write(csv_bytes)
            stage("COPY file")
            session.execute(
                text("""CREATE TEMP TABLE import_pt (n int8, lon float8, lat float8, ok boolean,
                        raw_lon float8, raw_lat float8, datum text, at timestamptz, tok bytea,
                        absent boolean) ON COMMIT DROP""")
            )
            # one binary COPY row per case, built as a numpy record array (no Python loop):
            # the field count, then (length, value) per field, big-endian
            rec = np.empty(
                n,
                dtype=[("fields", ">i2"), ("l1", ">i4"), ("n", ">i8"), ("l2", ">i4"),
                       ("x", ">f8"), ("l3", ">i4"), ("y", ">f8"), ("l4", ">i4"), ("ok", "u1"),
                       ("l5", ">i4"), ("rx", ">f8"), ("l6", ">i4"), ("ry", ">f8"),
                       ("l7", ">i4"), ("d", "S8"), ("l8", ">i4"), ("at", ">i8"),
                       ("l9", ">i4"), ("tok", "V16"), ("l10", ">i4"), ("absent", "u1")],
            )  # fmt: skip
            rec["fields"] = 10
            for length in ("l1", "l2", "l3", "l5", "l6", "l7", "l8"):
                rec[length] = 8
            rec["l4"] = rec["l10"] = 1
            rec["l9"] = 16
            rec["absent"] = absent
            rec["n"] = np.arange(1, n + 1)
            rec["x"], rec["y"] = np.nan_to_num(x), np.nan_to_num(y)
            rec["rx"], rec["ry"] = np.nan_to_num(lon), np.nan_to_num(lat)
            rec["ok"] = ~bad
            rec["d"] = np.char.ljust(datums.astype("S8"), 8)
            rec["at"] = at_us
            # each case's public token (``cases.public_token``): 16 random bytes, spelled in hex
            # by the insert.  The column's default (``gen_random_uuid``) took ~3 s a million
            rec["tok"] = np.frombuffer(secrets.token_bytes(16 * n), dtype="V16")
            with cur.copy("COPY import_pt FROM STDIN WITH (FORMAT binary)") as copy:
                copy.write(b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8 + rec.tobytes() + b"\xff\xff")
        stage("COPY points (binary, numpy)")
        col = {k: f'"c{header.index(v)}"' for k, v in mapping.items()}
        # an empty cell and a missing one mean the same here; as '' both join by equality (a
        # hash join: IS NOT DISTINCT FROM compared every row with every pair, 2.2 s a million)
        cell = {
            k: f"coalesce({col[k]}, '')" if k in col else "''"
            for k in ("kind", "category", "status", "channel")
        }
        pairs = session.execute(
            text(f"SELECT DISTINCT {cell['kind']}, {cell['category']} FROM import_raw")
        ).all()
        matches = [(k, c, *match_category(catalogue, k, c)) for k, c in pairs]  # type: ignore[arg-type]
        for k, c, _, code, ok in matches:
            if not ok:
                report.warnings.append(
                    Both(
                        f"类别未能识别，归入“其他”：类型 {k!r}，类别 {c!r} → {code}",
                        f"category not recognised, filed under {code}: kind {k!r}, category {c!r}",
                    )
                )
        session.execute(
            text("""CREATE TEMP TABLE import_cat (raw_kind text, raw_category text, kind text,
                    category text) ON COMMIT DROP""")
        )
        if matches:
            session.execute(
                text("INSERT INTO import_cat VALUES (:rk, :rc, :k, :c)"),
                [{"rk": k, "rc": c, "k": kind, "c": code} for k, c, kind, code, _ in matches],
            )
        stage("categories (distinct values)")
        _lookup_words(
            session, report, cell["status"], STATUS_WORDS, "closed", "import_status",
            Both("状态 {!r} 无法识别，按已结案导入", "unknown status {!r}: imported as closed"),
        )  # fmt: skip
        # where each came from: the file's own words, else not recorded (other; without the
        # column, no scan of the rows for it and no join)
        _lookup_words(
            session, report, cell["channel"] if "channel" in col else None, SOURCE_WORDS,
            "other", "import_channel",
            Both("来源 {!r} 无法识别，按“其他”导入", "unknown source {!r}: imported as other"),
        )  # fmt: skip
        channel_value, channel_join = (
            ("CAST(coalesce(ch.code, 'other') AS case_source)",
             f"LEFT JOIN import_channel ch ON ch.raw = {cell['channel']}")
            if "channel" in col
            else ("CAST('other' AS case_source)", "")
        )  # fmt: skip
        # a number in the channel: as given, trimmed; one that is not a number (longer than 64
        # characters, or with control characters) is left out, with a warning — the case stays
        ref_value = "CAST(NULL AS varchar)"
        if "source_ref" in col:
            ref = f"btrim({col['source_ref']})"
            unfit = f"(length({ref}) > 64 OR {ref} ~ '[[:cntrl:]]')"
            ref_value = f"CASE WHEN {ref} <> '' AND NOT {unfit} THEN {ref} END"
            dropped = session.execute(
                text(f"SELECT count(*) FROM import_raw WHERE {unfit}")
            ).scalar_one()
            if dropped:
                report.warnings.append(
                    Both(
                        f"{dropped} 行的来源编号超过 64 个字符或含控制字符，案件已导入但未记该编号",
                        f"{dropped} source numbers longer than 64 characters or with control "
                        "characters were left out; their cases were imported",
                    )
                )
        # the staged cases: parsed times, points, categories; rejected rows listed.  A row
        # without coordinates that names its village (or township) is ``named``: it has no point
        village = f"btrim({col['village']})" if "village" in col else "''"
        township = f"btrim({col['township']})" if "township" in col else "''"
        session.execute(
            text(f"""
            CREATE TEMP TABLE import_case ON COMMIT DROP AS
            SELECT *, ok OR named AS kept FROM (
            SELECT r.n, trim({col["source_id"]}) AS source_id,
                   CASE WHEN p.at <> 'infinity' THEN p.at  -- read by pandas (fast_times)
                        ELSE wangge_read_time({col["reported_at"]}) END AS at,
                   p.lon, p.lat, p.ok,
                   p.absent AND (coalesce({village}, '') <> ''
                                 OR coalesce({township}, '') <> '') AS named,
                   coalesce({village}, '') AS village, coalesce({township}, '') AS township,
                   CASE WHEN p.ok THEN ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326) END AS pt,
                   CASE WHEN p.ok THEN p.raw_lon END AS raw_lon,
                   CASE WHEN p.ok THEN p.raw_lat END AS raw_lat,
                   CASE WHEN p.ok THEN rtrim(p.datum) ELSE 'wgs84' END AS datum, p.tok,
                   c.kind, c.category,
                   coalesce({col.get("description", "NULL")}, '') AS description,
                   coalesce(st.code, 'closed') AS status,
                   {channel_value} AS source, {ref_value} AS source_ref
            FROM import_raw r JOIN import_pt p ON p.n = r.n
            LEFT JOIN import_cat c ON c.raw_kind = {cell["kind"]}
                 AND c.raw_category = {cell["category"]}
            LEFT JOIN import_status st ON st.raw = {cell["status"]}
            {channel_join}) staged
        """)
        )
        rejected = session.execute(
            text(f"""SELECT n, left(source_id, {_ID_LENGTH}) AS source_id,
                            CASE WHEN NOT kept THEN 'coords'
                                 WHEN at IS NULL THEN 'time'
                                 WHEN at > {_FUTURE} THEN 'future'
                                 WHEN at < {_PAST} THEN 'past'
                                 WHEN length(source_id) > {_ID_LENGTH} THEN 'long'
                                 ELSE 'id' END AS why, lon, lat, named
                     FROM import_case
                     WHERE {_REJECTED}
                     ORDER BY n""")
        ).all()
        for r in rejected:
            if r.why == "coords":
                why = _COORDS_WHY[str(reasons[r.n - 1])]
                if coordinates:
                    cells = as_written(r.n - 1)
                    why = Both(f"{why.zh}（{cells.zh}）", f"{why.en} ({cells.en})")
            else:
                why = {
                    "time": Both("上报时间无法识别", "unreadable time"),
                    "future": Both("上报时间在未来", "reported in the future"),
                    "past": Both(
                        f"上报时间早于 {_EARLIEST[:4]} 年，多为空日期（如 1899-12-30、1900-01-01、"
                        "1970-01-01）",
                        f"reported before {_EARLIEST[:4]}: usually an empty date",
                    ),
                    "id": Both("缺少编号", "missing source id"),
                    "long": Both(
                        f"编号超过 {_ID_LENGTH} 个字符：是否选错了编号列？",
                        f"source id longer than {_ID_LENGTH} characters: the wrong column?",
                    ),
                }[r.why]
            where = (r.lon, r.lat) if r.why != "coords" and not r.named else (None, None)
            report.rejected.append(Issue("rejected", r.source_id, why.line(read.line(r.n)), *where))
        if rejected:  # (a scan of every row)
            session.execute(text(f"DELETE FROM import_case WHERE {_REJECTED}"))
        dupes = session.execute(
            text("""SELECT source_id, count(*) FROM import_case GROUP BY 1 HAVING count(*) > 1
                    ORDER BY 1""")
        ).all()
        lost = [source_id for source_id, _ in dupes if SCIENTIFIC.match(source_id)]
        if lost:  # Excel kept six digits of each: the rows can no longer be told apart
            raise InvalidInput(
                f"编号列被 Excel 写成了科学计数法（如 {lost[0]}），{len(lost)} 个编号已无法区分，"
                f"未导入任何案件。{SCIENTIFIC_FIX[0]}",
                f"The id column was written by Excel in scientific format (e.g. {lost[0]}): "
                f"{len(lost)} ids can no longer be told apart; nothing was imported. "
                f"{SCIENTIFIC_FIX[1]}",
                field="source_id",
            )
        for source_id, k in dupes:
            report.warnings.append(
                Both(
                    f"编号 {source_id} 在文件中出现 {k} 次，只导入第一行",
                    f"id {source_id} is in the file {k} times: only its first row is imported",
                )
            )
        if dupes:  # a self-join over every row: only when some id is there twice
            session.execute(
                text("""DELETE FROM import_case a USING import_case b
                        WHERE a.source_id = b.source_id AND a.n > b.n""")
            )
        if placed:
            _place_named(session, report, read)
        stage("stage + validate (SQL)")
        _locate(session, raw_conn, np.where(bad, np.nan, x), np.where(bad, np.nan, y), at_us)
        if placed:  # (after the points: import_loc is made by _locate)
            _locate_named(session)
        stage("locate (in memory + wangge_assign_at for the rest)")
        known = (
            session.execute(
                text("""SELECT i.source_id FROM import_case i
                        JOIN cases c ON c.source_id = i.source_id ORDER BY 1""")
            )
            .scalars()
            .all()
        )
        report.unchanged = list(known)
        rewrite = False
        if bulk[0]:  # the tables are locked; a file of cases stored already needs no rebuild
            new = session.execute(text("SELECT count(*) FROM import_case")).scalar_one()
            new -= len(known)
            if not pays_off(stored, new):
                bulk[0] = False
                report.warnings.append(declined(stored, new))
            rewrite = bulk[0] and rewrite_pays_off(session, stored, new)
        with rebuilt_after(session, rewrite) if bulk[0] else nullcontext():
            if bulk[0]:
                block = _reserve(session)
                session.execute(text(_insert_sql(True)), block)
                _close_blocks(session, block)
            else:
                session.execute(text(_insert_sql(False)))
            stage("insert cases")
            session.execute(
                text("""
                INSERT INTO case_event (case_id, at, actor, action, from_status, to_status, note,
                                        data)
                SELECT n.id, n.received_at, :actor, 'import', NULL, n.status, :note,
                       jsonb_build_object('file', CAST(:file AS text), 'source_id', n.source_id)
                FROM import_new n ORDER BY n.id
            """),
                {"file": path.name, "note": IMPORT_NOTE[0], "actor": IMPORT_ACTOR},
            )
            if "on_site" in col:
                _on_site_events(session, col["on_site"], path.name, report)
            if any(k in col for k in PARTY_FIELDS):
                _parties(session, raw_conn, col, opts, read, report)
            stage("events")
        if bulk[0]:
            stage("rebuild indexes, keys + roll-ups (bulk)")
        _open_cases_to_current_layout(session, report)
        report.created = list(
            session.execute(text("SELECT source_id FROM import_new ORDER BY id")).scalars()
        )
        methods: dict[str, int] = {}
        sources: dict[str, int] = {}
        for method, source, k in session.execute(  # of the cases created (not the known ones)
            text("SELECT assign_method::text, source::text, count(*) FROM import_new GROUP BY 1, 2")
        ):
            methods[method] = methods.get(method, 0) + k
            sources[source] = sources.get(source, 0) + k
        named = (
            session.execute(
                text(
                    "SELECT count(*) FROM import_new n JOIN cases c ON c.id = n.id "
                    "WHERE c.geom IS NULL"
                )
            ).scalar_one()
            if placed
            else 0
        )
        if named:
            report.warnings.append(
                Both(
                    f"{named} 件案件没有坐标，按村（社区）名称登记：计入各项统计，不在地图、热力图"
                    "上显示",
                    f"{named} cases without coordinates, filed by their village's name: counted in "
                    "every figure, on no map",
                )
            )
        if methods.get("region"):  # (history older than the grids, or a place without any)
            first = session.execute(text("SELECT min(valid_from) FROM grid")).scalar_one()
            since = f"{first.astimezone(SHANGHAI):%Y-%m-%d}" if first else None
            report.warnings.append(
                Both(
                    f"{methods['region']} 件案件上报时其所在位置没有网格"
                    + (f"（网格最早自 {since} 起划定）" if since else "")
                    + "：按所在区划分派到其综治中心，不属于任何网格",
                    f"{methods['region']} cases with no grid where they happened at the time"
                    + (f" (the first grids date from {since})" if since else "")
                    + ": assigned to their region's center, on no grid",
                )
            )
        if methods.get("unassigned"):
            report.warnings.append(
                Both(
                    f"{methods['unassigned']} 件案件在覆盖范围之外，已导入但未分派",
                    f"{methods['unassigned']} cases outside coverage: imported, not assigned",
                )
            )
        report.assigned = methods
        report.sources = sources
        session.execute(
            text("""DROP TABLE import_raw, import_pt, import_cat, import_status, import_channel,
                    import_case, import_cover, import_loc, import_chain, import_new""")
        )
        if placed:
            session.execute(text("DROP TABLE import_place"))
    progress[0].done()
    report.seconds = round(time.perf_counter() - started, 3)
    report.stages = stages
    return report


# the new open cases whose grid of their time is retired, and those no grid covered then (the
# layout may cover them now): their grids' codes and villages
_STALE_OPEN = text(f"""
    SELECT coalesce(array_agg(DISTINCT c.grid_code)
                    FILTER (WHERE g.valid_to IS NOT NULL), '{{}}'),
           coalesce(array_agg(DISTINCT c.village_code)
                    FILTER (WHERE c.assign_method <> 'covers' AND c.village_code IS NOT NULL),
                    '{{}}')
    FROM import_new n JOIN cases c ON c.id = n.id LEFT JOIN grid g ON g.id = c.grid_id
    WHERE {open_sql("n")}
""")


def _open_cases_to_current_layout(session: Session, report: ImportReport) -> None:
    """Move the new cases still open onto the layout as it stands, as a planner's commit moves
    the open cases (a ``regrid`` event each): each was located in the grid of its own time, and
    an open case left on a retired grid is in no worker's list.  Settled ones keep the grid they
    were handled in."""
    codes, villages = session.execute(_STALE_OPEN).one()
    if not codes and not villages:
        return
    moved = relocate_open_cases(session, list(codes), list(villages), "import")
    if not moved.updated:
        return
    n, events, more = moved.updated, moved.events, len(codes) > 5
    zh = f"（停用的网格 {'、'.join(codes[:5])}{'等' if more else ''}）" if codes else ""
    en = f" from retired grids {', '.join(codes[:5])}{' …' if more else ''}" if codes else ""
    report.warnings.append(
        Both(
            f"{n:,} 件未结案件改按现行网格分派{zh}，其中 {events:,} 件换了网格或责任中心（各记"
            "一条“网格调整”事件）",
            f"{n:,} open case{'s' if n != 1 else ''} moved to the current grids{en}; "
            f"{events:,} of them changed grid or center, a regrid event each",
        )
    )


def _lookup_words(
    session: Session,
    report: ImportReport,
    cell: str | None,
    words: dict[str, tuple[str, ...]],
    default: str,
    table: str,
    unknown: Both,
) -> None:
    """The temporary table ``table`` (raw, code): each distinct value of the column ``cell`` (SQL
    over ``import_raw``) and the code its words name, else ``default`` — a value it cannot read
    is warned about with ``unknown`` (formatted with it).  ``cell`` None: no such column, an empty
    table and no scan."""
    known = _word_map(words)
    values = (
        session.execute(text(f"SELECT DISTINCT {cell} FROM import_raw")).scalars().all()
        if cell is not None
        else []
    )
    codes = {v: known.get(str(v or "").strip().lower(), default) for v in values}
    report.warnings += [
        Both(unknown.zh.format(v), unknown.en.format(v))
        for v in codes
        if v and str(v).strip().lower() not in known
    ]
    session.execute(text(f"CREATE TEMP TABLE {table} (raw text, code text) ON COMMIT DROP"))
    if codes:
        session.execute(
            text(f"INSERT INTO {table} VALUES (:r, :c)"),
            [{"r": r, "c": c} for r, c in codes.items()],
        )


def _read_points(data: bytes, usecols: list[str], numbers: tuple[str, ...]) -> pd.DataFrame:
    """The columns ``usecols`` of the CSV ``data``, as text but ``numbers`` as floats.  A million
    coordinates read as text and converted after took 3 s; read as floats, 1 s.  A file with
    anything else in them (a word, an empty cell) is read as text, and converted by the caller
    (``pd.to_numeric(errors="coerce")``: a bad value is that row's, rejected in staging)."""
    dtypes: dict[str, type] = {c: str for c in usecols} | {c: float for c in numbers}
    try:
        return pd.read_csv(io.BytesIO(data), usecols=usecols, dtype=dtypes, keep_default_na=False)
    except ValueError:
        return pd.read_csv(io.BytesIO(data), usecols=usecols, dtype=str, keep_default_na=False)


def fast_times(raw: pd.Series) -> np.ndarray:
    """The times of ``raw`` as PostgreSQL's binary ``timestamptz``, where they are spelled in
    one of :data:`_FAST_TIMES` (a local time only from 1992 on); ``'infinity'`` for the rest,
    which ``wangge_read_time`` reads in the staging statement.  Reading a million times there
    takes about 6 s; here about 0.2 s, for a file in one of these spellings.  A spelling is
    tried on the rows still unread only if some of the first of them have it (a million rows
    of another spelling cost pandas a second to refuse)."""
    out = np.full(len(raw), NEVER, dtype=np.int64)
    todo = np.arange(len(raw))
    for spelling in _FAST_TIMES:
        if not len(todo):
            break
        offset = spelling.endswith("%z")

        def read(rows: np.ndarray, spelling: str = spelling, offset: bool = offset) -> pd.Series:
            return pd.to_datetime(raw.iloc[rows], format=spelling, errors="coerce", utc=offset)

        if read(todo[:200]).isna().all():
            continue
        at = read(todo)
        if offset:  # an instant: UTC as it is
            ok = at.notna().to_numpy()
            utc = at[ok].dt.tz_localize(None).to_numpy()
        else:  # a local time in Shanghai
            ok = (at >= _FIXED_UTC8_FROM).to_numpy()  # NaT (not this spelling) compares False
            utc = at[ok].to_numpy() - np.timedelta64(8, "h")
        out[todo[ok]] = utc.astype("datetime64[us]").astype(np.int64) - PG_EPOCH_US
        todo = todo[~ok]
    if len(todo):
        out[todo] = ledger_times(raw.iloc[todo])
    return out


#: a date as ledgers write it: 2025年3月6日, 2025.3.6, 2025/3/6, 2025-03-06, then perhaps a time:
#: 14:20, 14：20:05, 14时20分, 2点, 下午2:20 (上午/下午/晚上/中午/凌晨/早上)
_LEDGER_TIME = re.compile(
    r"^\s*(?P<y>\d{4})\s*[年./-]\s*(?P<mo>\d{1,2})\s*[月./-]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:[\sT]*(?P<ap>上午|下午|晚上|中午|凌晨|早上)?\s*(?P<h>\d{1,2})\s*(?:[:：时点]\s*"
    r"(?P<mi>\d{1,2})?\s*分?\s*(?:[:：]?\s*(?P<s>\d{1,2})\s*秒?)?)?)?\s*$"
)
#: a system's export: 20250306, 20250306 1420, 20250306142005
_COMPACT_TIME = re.compile(
    r"^\s*(?P<y>(?:19|20)\d{2})(?P<mo>\d{2})(?P<d>\d{2})"
    r"(?:\s*(?P<h>\d{2}):?(?P<mi>\d{2})(?::?(?P<s>\d{2}))?)?\s*$"
)
#: a number: Excel's day count (a date cell saved as a number, 1980–2099), or Unix seconds or
#: milliseconds (10 or 13 digits)
_NUMBER_TIME = re.compile(r"^\s*(?:(?P<excel>\d{5}(?:\.\d+)?)|(?P<unix>\d{10}|\d{13}))\s*$")
_EXCEL_DAYS = (29221.0, 73051.0)  # 1980-01-01, 2099-12-31
_EXCEL_DAY0 = np.datetime64("1899-12-30")


def ledger_times(raw: pd.Series) -> np.ndarray:
    """The times pandas' spellings (:data:`_FAST_TIMES`) missed, where a ledger spells them in
    one of the usual other ways (:data:`_LEDGER_TIME`, :data:`_COMPACT_TIME`, a number:
    :data:`_NUMBER_TIME`), as binary ``timestamptz`` (local times in Shanghai, with its summer
    time of 1986–1991); ``'infinity'`` (:data:`NEVER`) for the rest, left to SQL."""
    out = np.full(len(raw), NEVER, dtype=np.int64)
    text = raw.fillna("").astype(str)
    for pattern in (_LEDGER_TIME, _COMPACT_TIME):
        parts = text.str.extract(pattern)
        hit = parts["y"].notna().to_numpy() & (out == NEVER)
        if not hit.any():
            continue
        p = parts[hit]
        hour = pd.to_numeric(p["h"], errors="coerce").fillna(0)
        minute = pd.to_numeric(p["mi"], errors="coerce").fillna(0)
        second = pd.to_numeric(p["s"], errors="coerce").fillna(0)
        if "ap" in p:
            later = p["ap"].isin(["下午", "晚上"]) & (hour < 12) | (p["ap"] == "中午") & (hour < 6)
            hour = hour.where(~later, hour + 12)
        # pandas would carry 25:00 into the next day: only 24:00 (the day's end) may
        real = (minute < 60) & (second < 60) & ((hour < 24) | (hour == 24) & (minute + second == 0))
        local = pd.to_datetime(
            pd.DataFrame(
                {
                    "year": pd.to_numeric(p["y"]),
                    "month": pd.to_numeric(p["mo"]),
                    "day": pd.to_numeric(p["d"]),
                    "hour": hour,
                    "minute": minute,
                    "second": second,
                }
            ),
            errors="coerce",
        ).where(real)
        out[np.flatnonzero(hit)] = _shanghai_to_pg(local)
    numbers = text.str.extract(_NUMBER_TIME)
    excel = pd.to_numeric(numbers["excel"], errors="coerce").to_numpy()
    days = (excel >= _EXCEL_DAYS[0]) & (excel <= _EXCEL_DAYS[1]) & (out == NEVER)
    if days.any():  # a local date and time, counted in days (and their fractions) from day 0
        us = np.round(excel[days] * 86_400e6).astype(np.int64)
        local = pd.Series(_EXCEL_DAY0.astype("datetime64[us]") + us.astype("timedelta64[us]"))
        out[np.flatnonzero(days)] = _shanghai_to_pg(local)
    unix = numbers["unix"].to_numpy(dtype=object)
    instants = pd.notna(unix) & (out == NEVER)
    if instants.any():  # an instant: seconds (10 digits) or milliseconds (13) since 1970, UTC
        value = np.array([int(v) for v in unix[instants]], dtype=np.int64)
        us = np.where(value >= 10**12, value * 1000, value * 1_000_000)
        out[np.flatnonzero(instants)] = us - PG_EPOCH_US
    return out


def _shanghai_to_pg(local: pd.Series) -> np.ndarray:
    """Local times in Shanghai (NaT: none) as binary ``timestamptz``, NaT as :data:`NEVER`."""
    utc = pd.Series(local).dt.tz_localize("Asia/Shanghai", ambiguous="NaT", nonexistent="NaT")
    utc = utc.dt.tz_convert("UTC").dt.tz_localize(None)
    ok = utc.notna().to_numpy()
    out = np.full(len(utc), NEVER, dtype=np.int64)
    out[ok] = utc[ok].to_numpy().astype("datetime64[us]").astype(np.int64) - PG_EPOCH_US
    return out


@dataclass
class _Csv:
    """A file of cases as what ``COPY … (FORMAT csv, HEADER)`` and pandas read alike: UTF-8,
    the header first, every record as wide as the header."""

    data: bytes
    header: list[str]
    title_rows: int = 0  # lines above the header, left out (a ledger's title, unit, date)
    sheet: Sheet | None = None  # when the records themselves needed mending (Sheet)
    guessed_encoding: str | None = None  # not UTF-8: read as its header showed (decode_csv)

    def line(self, n: int) -> int:
        """The line of the file that record ``n`` (from 1) came from."""
        return self.sheet.lines[n - 1] if self.sheet else self.title_rows + 1 + n

    def tell(self, report: ImportReport) -> None:
        """What was left out, in ``report``: rows above the header, blank and total rows, rows
        wider than the header (rejected); the encoding guessed."""
        if self.guessed_encoding:
            report.warnings.append(guessed_note(self.guessed_encoding))
        if self.sheet:
            report.warnings.extend(self.sheet.notes())
            report.rejected.extend(self.sheet.rejections())
        elif self.title_rows:
            report.warnings.append(title_note(self.title_rows))


#: every usual name of a case's fields: the header is the row with the most of them
_CASE_NAMES = [name for names in CASE_FIELDS.values() for name in names]
#: the first characters of the Chinese total words (合计, 小计 …) and the ASCII ones
_TOTAL_STARTS = [w.encode()[:3] for w in TOTAL_WORDS if not w.isascii()]
_TOTAL_ASCII = [w.encode() for w in TOTAL_WORDS if w.isascii()]


def _plain_csv(body: bytes, width: int) -> bool:
    """Whether ``body`` (a CSV's header and records) is read alike by COPY and pandas as it is,
    and holds nothing that :class:`Sheet` leaves out or rejects: as many commas on every line as
    between the header's ``width`` names (none blank, short or long), none opening with an
    empty cell, no total, no cell of two lines.  Commas inside quoted cells (a description with
    a comma, as Excel writes it) are not counted: what lies between an odd and an even quote is
    inside one.  Over the bytes with numpy: about 0.25 s a million rows, 0.6 s with quoted
    cells (reading them as a :class:`Sheet` took 11 s; searching for each mark 0.7 s)."""
    a = np.frombuffer(body, dtype=np.uint8)
    ends = np.flatnonzero(a == ord("\n"))
    at = np.flatnonzero(a == ord(","))
    quotes = np.flatnonzero(a == ord('"'))
    cr = np.flatnonzero(a == ord("\r"))
    crlf = np.count_nonzero(a[np.minimum(cr + 1, len(a) - 1)] == ord("\n"))
    if 0 < crlf < len(ends):
        return False  # line ends of both kinds: COPY takes the first line's for all
    cr = cr[a[np.minimum(cr + 1, len(a) - 1)] != ord("\n")]  # not ending a line: COPY refuses
    if len(quotes):  # ("" inside a quoted cell is two quotes: the parity holds)
        if len(quotes) % 2:
            return False  # a quote left open: let the csv module say what it makes of it
        if (np.searchsorted(quotes, ends) % 2).any():
            return False  # a cell of two lines: records are not lines (the report's numbers)
        at = at[np.searchsorted(quotes, at) % 2 == 0]
        cr = cr[np.searchsorted(quotes, cr) % 2 == 0]
    if len(cr):  # (a lone \r in a cell: written out again, as a line break inside quotes)
        return False
    starts = np.concatenate(([0], ends + 1))
    starts = starts[starts < len(a)]
    commas = np.diff(np.append(np.searchsorted(at, starts), len(at)))
    if not (commas == width - 1).all():
        return False
    head = a[np.minimum(starts[:, None] + np.arange(10), len(a) - 1)]  # each line's first bytes
    if width > 1 and (head[:, 0] == ord(",")).any():
        return False
    quoted = np.flatnonzero(head[:, 0] == ord('"'))  # ("合计",…: read from after the quote,
    head = head[:, :-1]  # its closing quote read as the cell's end)
    if len(quoted):
        head[quoted] = a[np.minimum(starts[quoted, None] + np.arange(1, 10), len(a) - 1)]
        close = head[quoted] == ord('"')
        closed_in = close.any(axis=1)
        head[quoted[closed_in], close[closed_in].argmax(axis=1)] = ord(",")
    upper = np.where((head >= ord("a")) & (head <= ord("z")), head - 32, head)
    for word in _TOTAL_ASCII:
        n = len(word)
        closed = np.isin(head[:, n], (ord(","), ord("\r"), ord("\n"))) if n < 9 else True
        if ((upper[:, :n] == np.frombuffer(word, np.uint8)).all(axis=1) & closed).any():
            return False
    chinese = np.flatnonzero(np.isin(head[:, 0], [w[0] for w in _TOTAL_STARTS]))
    for start in _TOTAL_STARTS:  # (a line opening with 合, 小 …: its first cell read)
        opening = (head[chinese, :3] == np.frombuffer(start, np.uint8)).all(axis=1)
        for line in chinese[opening]:
            cell = body[starts[line] : starts[line] + 64].split(b",")[0]
            if total_row([cell.decode("utf-8", "ignore").strip('"')]):
                return False
    return True


def _as_csv(path: Path, encoding: str | None) -> _Csv:
    """The file as UTF-8 CSV for COPY and pandas (a spreadsheet converted), its header found
    below any title rows.  A plain CSV is passed on as it is (a million rows are only counted):
    only one with quoted cells, blank or short or long rows or totals is read row by row."""
    path, part = split_part(path)  # (FILE.xlsx!台账: that worksheet)
    check_file(path)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xls"):
        sheet = excel_sheet(path, _CASE_NAMES, part)
        if not sheet.header:  # (a header alone is told as such below)
            raise nothing_in(path)
        return _Csv(sheet.csv_bytes(), sheet.header, sheet.title_rows, sheet)
    if suffix not in (".csv", ".txt"):
        raise InvalidInput(
            "历史案件请用 CSV 或 XLSX 文件。", "Historical cases come as CSV or XLSX.", field="file"
        )
    data = path.read_bytes()
    guessed = None
    if encoding and encoding.lower().replace("-", "") not in ("utf8", "utf8sig"):
        try:
            data = data.decode(encoding).encode("utf-8")
        except LookupError as e:
            raise InvalidInput(
                f"不认识的编码 {encoding!r}；常用的有 UTF-8、GBK、GB18030。",
                f"Unknown encoding {encoding!r}; common ones are UTF-8, GBK and GB18030.",
                field="encoding",
            ) from e
        except UnicodeDecodeError as e:
            raise InvalidInput(
                f"无法按 {encoding} 读取 {path.name}（第 {e.start} 字节起）；请核对 --encoding。",
                f"Cannot read {path.name} as {encoding} (from byte {e.start}); check --encoding.",
                field="encoding",
            ) from e
    else:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as e:
            try:  # (GBK from Excel or WPS, when the header's field names say so)
                text, guessed = decode_csv(data, None, _CASE_NAMES)
            except UnicodeDecodeError:
                raise InvalidInput(
                    "文件不是 UTF-8 编码；Excel 导出的 CSV 常为 GBK，请加 --encoding GBK。",
                    "The file is not UTF-8; CSVs exported by Excel are often GBK: pass "
                    "--encoding GBK.",
                    field="encoding",
                ) from e
            data = text.encode("utf-8")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise InvalidInput(
            f"{path.name} 第 {line} 行含有空字符（NUL）：这不是文本 CSV，或文件已损坏。请在 "
            "Excel/WPS 中打开后另存为 CSV（UTF-8）或 XLSX。",
            f"{path.name} holds a NUL character on line {line}: not a text CSV, or a damaged "
            "one. Open it in Excel or WPS and save it again as CSV (UTF-8) or XLSX.",
            field="file",
        )
    # the header: among the first lines (a title above it holds no quoted line break)
    cuts = [0]  # where each of the first lines starts
    while len(cuts) <= HEADER_SEARCH_ROWS and (end := data.find(b"\n", cuts[-1])) >= 0:
        cuts.append(end + 1)
    first = data[: cuts[-1]] if len(cuts) > HEADER_SEARCH_ROWS else data  # (a short file: all)
    head = [cells for _, cells in csv_rows(first.decode("utf-8", "replace"))]
    if not head:
        raise nothing_in(path)
    at = header_row(head, _CASE_NAMES)
    body, header = data[cuts[at] :], header_names(head[at])
    if _plain_csv(body, len(header)):
        return _Csv(body, header, at, guessed_encoding=guessed)
    sheet = Sheet.of(csv_rows(data.decode("utf-8")), _CASE_NAMES)
    return _Csv(sheet.csv_bytes(), sheet.header, sheet.title_rows, sheet, guessed)


def _more_temp_buffers(session: Session) -> None:
    """:data:`TEMP_BUFFERS` for this transaction, if the session has not used a temporary table
    yet (PostgreSQL sizes that cache at the first one; a command-line import always starts
    fresh).  Otherwise the import goes on with the cache the session has."""
    try:
        with session.begin_nested():
            session.execute(text(f"SET LOCAL temp_buffers = '{TEMP_BUFFERS}'"))
    except DBAPIError as e:
        if not isinstance(e.orig, psycopg.errors.InvalidParameterValue):
            raise


def _locate(
    session: Session, raw_conn: psycopg.Connection, x: np.ndarray, y: np.ndarray, at: np.ndarray
) -> None:
    """``import_loc``: every staged case's owner, by the rules of ``locate_point`` at its time.

    The grid that covers each point is found in memory (:mod:`importers.covers`) and sent back
    in one binary ``COPY`` (``import_cover``: every row with coordinates, its grid or NULL);
    ``wangge_assign_at`` locates the rest in SQL (points on or next to a grid's edge, outside
    every grid, or whose time SQL read): nearest within 50 m, else the smallest region.  ``x``,
    ``y``, ``at`` are the file's rows as staged (row ``n`` at ``n - 1``; NaN: rejected).  Rows
    dropped from ``import_case`` since may keep a row here: the insert joins the two.
    """
    finite = np.isfinite(x) & np.isfinite(y)
    owner = np.zeros(len(x), dtype=np.int64)
    if finite.any():
        bounds = (
            float(x[finite].min()),
            float(y[finite].min()),
            float(x[finite].max()),
            float(y[finite].max()),
        )
        owner = covering_grids(x, y, at, load_grids(session, bounds))
    # binary COPY rows: (n, grid) where decided, (n, NULL) where left to SQL — a NULL is a length
    # of -1 and no value
    decided = np.flatnonzero(owner)
    rec = np.empty(
        len(decided),
        dtype=[("fields", ">i2"), ("l1", ">i4"), ("n", ">i8"), ("l2", ">i4"), ("g", ">i4")],
    )
    rec["fields"], rec["l1"], rec["l2"] = 2, 8, 4
    rec["n"], rec["g"] = decided + 1, owner[decided]
    left = np.flatnonzero(finite & (owner == 0))
    nul = np.empty(len(left), dtype=[("fields", ">i2"), ("l1", ">i4"), ("n", ">i8"), ("l2", ">i4")])
    nul["fields"], nul["l1"], nul["l2"] = 2, 8, -1
    nul["n"] = left + 1
    session.execute(text("CREATE TEMP TABLE import_cover (n int8, grid_id int) ON COMMIT DROP"))
    with (
        raw_conn.cursor() as cur,
        cur.copy("COPY import_cover FROM STDIN WITH (FORMAT binary)") as copy,
    ):
        copy.write(
            b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8 + rec.tobytes() + nul.tobytes() + b"\xff\xff"
        )
    session.execute(text("ANALYZE import_case"))  # temp tables: the planner needs their sizes
    session.execute(
        text("""
        CREATE TEMP TABLE import_loc ON COMMIT DROP AS
        SELECT c.n, g.id AS grid_id, CAST(g.code AS varchar) AS grid_code,
               g.village_id, CAST('covers' AS assign_method) AS method,
               CAST(0 AS float8) AS distance_m, CAST(NULL AS varchar) AS village_code,
               CAST(NULL AS varchar) AS township_code, CAST(NULL AS varchar) AS district_code,
               CAST(NULL AS varchar) AS city_code, CAST(NULL AS int) AS center_id
        FROM import_cover c JOIN grid g ON g.id = c.grid_id
    """)
    )
    session.execute(
        text("""
        INSERT INTO import_loc
        SELECT i.n, a.grid_id, a.grid_code, g.village_id, a.method, a.distance_m,
               a.village_code, a.township_code, a.district_code, a.city_code, a.center_id
        FROM import_cover c JOIN import_case i ON i.n = c.n
        CROSS JOIN LATERAL wangge_assign_at(i.pt, i.at) a
        LEFT JOIN grid g ON g.id = a.grid_id
        WHERE c.grid_id IS NULL
    """)
    )
    # the chain of every village that owns a case (codes by level, the lowest center on it)
    session.execute(
        text("""
        CREATE TEMP TABLE import_chain ON COMMIT DROP AS
        SELECT v.village_id, ch.*
        FROM (SELECT DISTINCT village_id FROM import_loc WHERE village_id IS NOT NULL) v,
             wangge_village_chain(v.village_id) ch
    """)
    )
    session.execute(text("ANALYZE import_loc"))  # temp tables: the planner needs their sizes
    session.execute(text("ANALYZE import_chain"))


# a name as a ledger writes it and as the region table has it: NFKC (full-width letters and
# brackets), and without the committee's title (南洲社区居委会 → 南洲社区, 石碣村委会 → 石碣村)
_NAME_KEY = (
    "regexp_replace(normalize(btrim({}), NFKC), '(居民委员会|居委会|民委员会|委员会|委会)$', '')"
)
# the same without what says which kind of place it is (兴沙社区 → 兴沙, 石碣村 → 石碣, 南洲街道 →
# 南洲): a ledger that writes 兴沙 for 兴沙社区, or 兴沙村 for a community.  Only where the name
# as written matches nothing, and only a key of two characters or more
_LOOSE_KEY = f"regexp_replace({_NAME_KEY}, '(社区|村|嘎查|街道|镇|乡|苏木)$', '')"


def _named_as(column: str, cell: str, loose: bool) -> str:
    """SQL: the region name ``column`` is the one written in ``cell`` (strictly, or loosely)."""
    if not loose:
        return f"{_NAME_KEY.format(column)} = {_NAME_KEY.format(cell)}"
    key = _LOOSE_KEY.format(cell)
    return f"{_LOOSE_KEY.format(column)} = {key} AND char_length({key}) >= 2"


def _place_sql(loose: bool) -> str:
    """SQL: the regions a place of the file (``p.village``, ``p.township``) names: its code (a
    village's, a township's …), else a village of that name — under the township (or district)
    named beside it, if one is — else, with the village cell empty, the township named."""
    return f"""CASE
        WHEN p.village ~ '^[0-9]{{6,12}}$' THEN {"false" if loose else "r.code = p.village"}
        WHEN p.village <> '' THEN r.level = 'village'
             AND {_named_as("r.name_key", "p.village", loose)}
             AND (p.township = '' OR EXISTS (
                  SELECT 1 FROM region t WHERE t.id = ANY(r.path) AND t.id <> r.id
                    AND (t.code = p.township OR {_named_as("t.name_key", "p.township", True)})))
        WHEN p.township ~ '^[0-9]{{6,12}}$' THEN {"false" if loose else "r.code = p.township"}
        ELSE r.level = 'township' AND {_named_as("r.name_key", "p.township", loose)} END"""


# each place of the file once, with the regions it names: as written if any, else loosely
_PLACES = f"""
    CREATE TEMP TABLE import_place ON COMMIT DROP AS
    WITH p AS MATERIALIZED (SELECT DISTINCT village, township FROM import_case WHERE named),
    strict AS (
        SELECT p.village, p.township, array_agg(r.id ORDER BY r.code) AS regions
        FROM p JOIN region r ON {_place_sql(False)}
        GROUP BY p.village, p.township
    ),
    loose AS (
        SELECT p.village, p.township, array_agg(r.id ORDER BY r.code) AS regions
        FROM p JOIN region r ON {_place_sql(True)}
        WHERE NOT EXISTS (SELECT 1 FROM strict s
                          WHERE s.village = p.village AND s.township = p.township)
        GROUP BY p.village, p.township
    )
    SELECT p.village, p.township, coalesce(s.regions, l.regions) AS regions
    FROM p LEFT JOIN strict s USING (village, township) LEFT JOIN loose l USING (village, township)
"""


def _place_named(session: Session, report: ImportReport, read: _Csv) -> None:
    """The rows without coordinates that name their place: each place found once (``import_place``);
    a row whose place is no region, or more than one (two villages of one name: add the
    township column, or give the code), is rejected and listed."""
    session.execute(text(_PLACES))
    unplaced = session.execute(
        text("""SELECT i.n, left(i.source_id, 64) AS source_id, i.village, i.township,
                       cardinality(p.regions) AS found
                FROM import_case i JOIN import_place p USING (village, township)
                WHERE i.named AND coalesce(cardinality(p.regions), 0) <> 1
                ORDER BY i.n""")
    ).all()
    for r in unplaced:
        place = "，".join(
            f"{label} {value!r}"
            for label, value in (("村（社区）", r.village), ("乡镇（街道）", r.township))
            if value
        )
        place_en = ", ".join(
            f"{label} {value!r}"
            for label, value in (("village", r.village), ("township", r.township))
            if value
        )
        why = (
            Both(
                f"没有坐标，按 {place} 找不到对应的区划：请核对名称，或填写 12 位区划代码",
                f"no coordinates, and no region of that name ({place_en})",
            )
            if not r.found
            else Both(
                f"没有坐标，{place} 有 {r.found} 个同名村（社区）：请加“乡镇（街道）”列，或填写 "
                "12 位区划代码",
                f"no coordinates, and {r.found} villages named so ({place_en}): add a township "
                "column, or give the 12-digit region code",
            )
        )
        report.rejected.append(Issue("rejected", r.source_id, why.line(read.line(r.n))))
    if unplaced:
        session.execute(
            text("""DELETE FROM import_case i USING import_place p
                    WHERE i.named AND i.village = p.village AND i.township = p.township
                      AND coalesce(cardinality(p.regions), 0) <> 1""")
        )


def _locate_named(session: Session) -> None:
    """``import_loc`` rows for the cases named by place: no grid, no point (method ``region``),
    the codes of the named region and those above it, and the lowest center on the way up
    (``wangge_village_chain``, which reads any region's path, not only a village's)."""
    session.execute(
        text("""
        INSERT INTO import_loc
        SELECT i.n, NULL, NULL, NULL, CAST('region' AS assign_method), NULL, ch.village_code,
               ch.township_code, ch.district_code, ch.city_code, ch.center_id
        FROM import_case i JOIN import_place p USING (village, township)
        JOIN (SELECT r.region, c.* FROM (SELECT DISTINCT regions[1] AS region FROM import_place
                                         WHERE cardinality(regions) = 1) r,
                   wangge_village_chain(r.region) c) ch ON ch.region = p.regions[1]
        WHERE i.named
    """)
    )


def _deadline_sql(at: str, hours: str) -> tuple[str, str]:
    """``wangge_work_add(at, hours)`` for a whole table at once: (joins, expression).

    The function costs two PL/pgSQL calls with a query each, per row: 200,000 deadlines take
    3.2 s that way and 0.7 s here.  Here the calendar is joined twice by equality (a hash and a
    merge join, no per-row lookups): the start's day gives the working clock, and the deadline's
    working day is found from the clock itself, since every working day adds
    :data:`~gis.worktime.DAY_HOURS` hours, so that working days start exactly at multiples of it.
    The same arithmetic as the functions of migration 0011, with the windows of
    :data:`~gis.worktime.WINDOWS` (``test_imported_deadlines_equal_wangge_work_add`` compares
    them at the awkward moments).
    """
    (am_start, am_end), (pm_start, _) = WINDOWS  # hours since midnight
    am, pm = f"time '{hhmm(am_start)}'", f"time '{hhmm(pm_start)}'"
    join_from, clock_from = clock_sql(at, "wd_from")
    day = DAY_HOURS
    joins = f"""
    {join_from}
    CROSS JOIN LATERAL (SELECT {clock_from} + {hours} AS due) wd_clock
    LEFT JOIN work_calendar wd_to
           ON wd_to.workday AND wd_to.cum_hours = {day} * (ceil(wd_clock.due / {day}) - 1)"""
    rest = "(wd_clock.due - wd_to.cum_hours)"
    morning = am_end - am_start
    expression = f"""(wd_to.day + CASE WHEN {rest} <= {morning}
                                  THEN {am} + {rest} * interval '1 hour'
                                  ELSE {pm} + ({rest} - {morning}) * interval '1 hour' END)
                     AT TIME ZONE 'Asia/Shanghai'"""
    return joins, expression


# each new case's party (当事人) as the file has it, if any
_PARTY_CELLS = """
    SELECT n.id, r.n, {name} AS name, {phone} AS phone, {id_card} AS id_card
    FROM import_new n JOIN import_case i ON i.source_id = n.source_id JOIN import_raw r ON r.n = i.n
    WHERE coalesce({name}, {phone}, {id_card}) IS NOT NULL
    ORDER BY n.id
"""


def _parties(
    session: Session,
    raw_conn: psycopg.Connection,
    col: dict[str, str],
    opts: CaseOptions,
    read: _Csv,
    report: ImportReport,
) -> None:
    """Each new case's party (当事人), encrypted as a report's (``gis.pii``): its name, phone (as
    a blind index too, for finding a resident's cases and for 高频线索) and ID-card number.  A
    phone or ID-card number that is not one is left out, with a warning naming its line; the
    case and the rest of its party stay."""
    if opts.cipher is None:
        raise InvalidInput(
            "文件含当事人信息，但没有个人信息密钥，无法加密保存。",
            "The file has parties' personal data, and no personal-data key to encrypt it with.",
            field="file",
        )
    cell = {
        k: f"nullif(btrim({col[k]}), '')" if k in col else "CAST(NULL AS text)"
        for k in PARTY_FIELDS
    }
    rows = session.execute(
        text(
            _PARTY_CELLS.format(
                name=cell["party_name"], phone=cell["party_phone"], id_card=cell["party_id_card"]
            )
        )
    ).all()
    if not rows:
        return
    cipher = opts.cipher()
    bad: dict[str, list[int]] = {"phone": [], "id_card": [], "name": []}
    stored = 0
    with (
        raw_conn.cursor() as cur,
        cur.copy(
            "COPY case_party (case_id, role, name_enc, phone_enc, id_card_enc, phone_index) "
            "FROM STDIN"
        ) as copy,
    ):
        for case_id, n, name, phone, id_card in rows:
            if name is not None and (len(name) > PARTY_NAME_MAX or not name.isprintable()):
                bad["name"].append(read.line(n))
                name = None
            if phone is not None:
                try:
                    phone = validate_phone(phone)
                except InvalidInput:
                    bad["phone"].append(read.line(n))
                    phone = None
            if id_card is not None:
                try:
                    id_card = validate_id_card(id_card)
                except InvalidInput:
                    bad["id_card"].append(read.line(n))
                    id_card = None
            if name is None and phone is None and id_card is None:
                continue
            aad = f"{case_id}:"  # (as the intake's: the case's id and the column)
            copy.write_row((
                case_id, "party",
                *(None if v is None else cipher.encrypt(v, aad + k)
                  for v, k in ((name, "name"), (phone, "phone"), (id_card, "id_card"))),
                cipher.phone_index(phone) if phone else None,
            ))  # fmt: skip
            stored += 1
    report.parties = stored
    said = {
        "phone": ("电话号码格式不正确", "phone numbers that are not one"),
        "id_card": ("身份证号不正确（位数或校验位）", "ID-card numbers that are not one"),
        "name": (
            f"当事人姓名超过 {PARTY_NAME_MAX} 字或含控制字符",
            "names too long or unprintable",
        ),
    }
    for what, lines in bad.items():
        if lines:
            more = "…" if len(lines) > 10 else ""
            shown = [str(line) for line in lines[:10]]
            report.warnings.append(
                Both(
                    f"{len(lines)} 行的{said[what][0]}，未保存该项（案件照常导入）："
                    f"第 {'、'.join(shown)}{more} 行",
                    f"{len(lines)} {said[what][1]} left out, the cases imported: "
                    f"line{'s' if len(lines) > 1 else ''} {', '.join(shown)}{more}",
                )
            )


def _on_site_events(session: Session, column: str, file: str, report: ImportReport) -> None:
    """就地化解: an ``on_site`` event (registered → resolved, at its receipt, as the intake writes
    one) for each created case whose 就地化解 cell says yes and that is settled; one that says
    yes but is still open is counted as not settled on the spot, with a warning."""
    yes = f"lower(btrim(coalesce(r.{column}, ''))) = ANY(CAST(:yes AS text[]))"
    settled = "n.status IN ('resolved', 'verified', 'closed')"
    found = session.execute(
        text(f"""
        WITH said AS (
            SELECT n.id, n.received_at, {settled} AS settled
            FROM import_new n JOIN import_case i ON i.source_id = n.source_id
            JOIN import_raw r ON r.n = i.n
            WHERE {yes}
        ), events AS (
            INSERT INTO case_event (case_id, at, actor, action, from_status, to_status, note,
                                    data)
            SELECT id, received_at, :actor, 'on_site', 'registered', 'resolved', :note,
                   jsonb_build_object('file', CAST(:file AS text))
            FROM said WHERE settled ORDER BY id
        ), handled AS (  -- what the event says, on the case (migration 0062; HANDLED_LATER)
            UPDATE cases c SET on_site = true,
                               first_resolved_at = least(c.first_resolved_at, s.received_at)
            FROM said s WHERE c.id = s.id AND s.settled
        )
        SELECT count(*) FILTER (WHERE settled), count(*) FILTER (WHERE NOT settled) FROM said
    """),
        {"yes": list(ON_SITE_YES), "note": ON_SITE_NOTE, "file": file, "actor": IMPORT_ACTOR},
    ).one()
    on_site, open_ = found
    if on_site:
        report.warnings.append(
            Both(
                f"{on_site} 件记为网格员就地化解（计入就地化解率）",
                f"{on_site} cases recorded as settled on the spot by the grid worker",
            )
        )
    if open_:
        report.warnings.append(
            Both(
                f"{open_} 行写明就地化解，但案件尚未办结，未计为就地化解",
                f"{open_} rows say settled on the spot but their case is still open: not counted "
                "as such",
            )
        )


# the created cases are kept in ``import_new`` for their events and the report: a scan of a
# narrow temporary table, instead of a million ids sent to Python and back to find them again.
# ``{id}``, ``{code}``: see :func:`_insert_sql`
_INSERT = """
    CREATE TEMP TABLE import_new ON COMMIT DROP AS
    WITH inserted AS (
    INSERT INTO cases ({id_column}code, kind, category, severity, description, datum, received_lon,
                       received_lat, geom, accuracy_m, reported_at, received_at, grid_id,
                       grid_code, village_code, township_code, district_code, city_code,
                       center_id, assign_method, assign_distance_m, status, source_id,
                       allowed_hours, deadline, closed_at, public_token, source,
                       source_ref, first_resolved_at)
    SELECT {id}{code}, CAST(i.kind AS case_kind), i.category,
           k.default_severity, i.description, i.datum, i.raw_lon, i.raw_lat, i.pt, NULL, i.at,
           i.at,
           l.grid_id, l.grid_code, coalesce(ch.village_code, l.village_code),
           coalesce(ch.township_code, l.township_code), coalesce(ch.district_code, l.district_code),
           coalesce(ch.city_code, l.city_code), coalesce(ch.center_id, l.center_id), l.method,
           l.distance_m, i.status, i.source_id,
           k.deadline_hours, {deadline},
           CASE WHEN i.status = 'closed' THEN i.at END, encode(i.tok, 'hex'), i.source,
           i.source_ref,
           -- its ``import`` event's (registered → its status, at its receipt): the trigger
           -- that reads the events passes those by (migration 0062)
           CASE WHEN i.status = 'resolved' THEN i.at END
    FROM import_case i
    JOIN import_loc l ON l.n = i.n
    LEFT JOIN import_chain ch ON ch.village_id = l.village_id
    JOIN category k ON k.code = i.category
    {deadline_joins}
    -- known source ids are skipped (an anti-join: ON CONFLICT's speculative inserts cost 3×;
    -- a concurrent import of the same rows still fails on the unique index and rolls back)
    WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE c.source_id = i.source_id)
    {window}
    -- in time order: the time-keyed indexes (received_at, the jurisdictions' recent cases) then
    -- grow at one end instead of at random places (200k rows: 26.7 s → 22.6 s), and the codes'
    -- sequence numbers follow the cases' own times
    ORDER BY i.at, i.n
    RETURNING id, source_id, received_at, status, assign_method, source)
    SELECT * FROM inserted
"""
_JOINS, _DEADLINE = _deadline_sql("i.at", "k.deadline_hours")
_INSERT = _INSERT.replace("{deadline_joins}", _JOINS).replace("{deadline}", _DEADLINE)
_DISTRICT = "coalesce(ch.district_code, l.district_code)"


def _insert_sql(numbered: bool) -> str:
    """The insert of the new cases.  ``numbered``: ids and code numbers come from the blocks that
    start at ``:id0`` and ``:code0``, in the cases' time order (:func:`_reserve`); otherwise
    from their sequences, a case at a time (``wangge_case_code``)."""
    if not numbered:
        return (
            _INSERT.replace("{id_column}", "")
            .replace("{id}", "")
            .replace("{code}", f"wangge_case_code(i.at, {_DISTRICT})")
            .replace("{window}", "")
        )
    return (
        _INSERT.replace("{id_column}", "id, ")
        .replace("{id}", "CAST(:id0 AS bigint) + row_number() OVER w - 1, ")
        .replace(
            "{code}",
            f"wangge_case_code_of(i.at, {_DISTRICT}, CAST(:code0 AS bigint) + row_number() "
            "OVER w - 1)",
        )
        .replace("{window}", "WINDOW w AS (ORDER BY i.at, i.n)")
    )


def _reserve(session: Session) -> dict[str, int]:
    """The first id and code number of a bulk import's block (:func:`_insert_sql`).

    The import holds ``cases`` exclusively (:func:`importers.bulk.lock_case_tables`), and both
    sequences are drawn from by inserts into it: until it commits, nobody else takes a number,
    and :func:`_close_blocks` moves both sequences past the block.  (The one exception, the
    demo loader, takes its case ids before its insert, and only into an empty database: loaded
    at the same moment as a bulk import, an id of both would fail the demo's insert on the
    primary key, which rolls it back.)  Drawing a million numbers one by one (and a PL/pgSQL
    call for each code) took about 3 s."""
    id0, code0 = session.execute(
        text("SELECT nextval('cases_id_seq'), nextval('case_code_seq')")
    ).one()
    return {"id0": int(id0), "code0": int(code0)}


def _close_blocks(session: Session, block: dict[str, int]) -> None:
    """Move the sequences past the numbers the import used."""
    session.execute(
        text("""SELECT setval('cases_id_seq', max(id)),
                       setval('case_code_seq', :code0 + count(*) - 1)
                FROM import_new HAVING count(*) > 0"""),
        block,
    )
