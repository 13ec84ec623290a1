"""数据导入 from the web: a file uploaded, read as a dry run, then written when confirmed.

A GIS desk gets what ``wangge import`` does without a server shell.  The serving process never
connects as the database owner (:func:`gis.db.resolve_database_url`): each import runs as its own
``wangge import`` process, with the uploaded file in a private temporary folder and ``--report``
for its findings, and the page shows them.  A dry run writes nothing; the same file sent again
with ``commit`` writes it, all in one transaction.  One import at a time per server; only an
administrator of the whole deployment may import (boundaries and accounts are not one
jurisdiction's).  Every import is in the audit log.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path as FilePath
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from api.deps import (
    DataImporter,
    Planner,
    QueryTime,
    SessionDep,
    SettingsDep,
    audit_caller,
    client_ip,
    page_lang,
    page_response,
)
from api.media import XLSX, XLSX_RESPONSES
from api.routers.maps import PageLang, _user
from api.schemas import ImportOut, InitialPassword
from gis import audit
from gis.auth import Principal
from gis.errors import Conflict, Forbidden, InvalidInput, StorageFull, WanggeError
from gis.settings import Settings
from gis.worktime import SHANGHAI
from importers.export import LAYERS, export_layer
from importers.templates import template_name, template_xlsx
from maps.imports import imports_page
from maps.nav import page_links

router = APIRouter(tags=["imports 数据导入"])

#: the largest file a browser may send (a zipped city of Shapefiles is a few MB; half a million
#: historical cases about 50 MB)
MAX_UPLOAD_MB = 100
#: how long one import may take before it is stopped (and rolled back)
TIMEOUT_S = 600
_BUSY = threading.Lock()  # one import at a time: they write the same tables
_WORD = r"^[A-Za-z0-9][A-Za-z0-9:_.\-]{0,39}$"  # an encoding, a CRS, a datum's name

What = Annotated[
    Literal["regions", "grids", "centers", "workers", "cases"],
    Form(description="regions | grids | centers | workers | cases"),
]
Word = Annotated[str | None, Form(pattern=_WORD)]
Column = Annotated[  # a column's name as the file has it (编码, XZQDM …)
    str | None, Form(max_length=64, pattern=r"^[^\x00-\x1f]+$", description="a column's name")
]


class TooLarge(WanggeError):
    status = 413
    code = "too_large"


#: the rate on an importer's progress line (importers.core.Progress), in either language
_RATE = re.compile(r" (?:行/秒|rows/s)")


def _message(stderr: str) -> str:
    """What ``wangge import`` said on failing, without its progress line (rows/s)."""
    lines = (part for line in stderr.split("\n") for part in line.split("\r")[-1:])
    return "\n".join(x for x in lines if x.strip() and not _RATE.search(x)).strip()


def _file_name(name: str | None) -> str:
    """The uploaded file's own name, safe to keep on disk (its suffix says how to read it)."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[\x00-\x1f!]", "_", base).strip(" .")[:120]
    return base or "upload"


def _save(upload: UploadFile, folder: FilePath) -> FilePath:
    """The upload, copied into ``folder`` (made here); too large a file is refused (413)."""
    folder.mkdir()
    path = folder / _file_name(upload.filename)
    limit = MAX_UPLOAD_MB * 1024 * 1024
    written = 0
    try:
        with path.open("wb") as out:
            while chunk := upload.file.read(1024 * 1024):
                written += len(chunk)
                if written > limit:
                    raise TooLarge(
                        f"文件超过 {MAX_UPLOAD_MB} MB：更大的文件请在服务器上用 wangge import "
                        "导入。",
                        f"The file is over {MAX_UPLOAD_MB} MB: import larger ones on the server "
                        "with wangge import.",
                        field="file",
                    )
                out.write(chunk)
    except OSError as e:  # (the folder is removed by the caller, with what was written)
        raise StorageFull(
            "服务器临时空间不足，无法接收该文件，未导入任何内容；请通知系统管理员。",
            "The server has no room to take the file: nothing was imported. Tell your "
            "administrator.",
            field="file",
        ) from e
    if not written:
        raise InvalidInput("上传的文件是空的。", "The uploaded file is empty.", field="file")
    return path


class ImportProgress:
    """How far the running import has come, from its progress line (``importers.core.Progress``
    on its stderr: ``… 333,333/1,000,000 行，… 行/秒  stage``, or ``rows, … rows/s`` where the
    server's ``LANG`` is English), for the page to show while it
    waits.  One import at a time (``_BUSY``), so one of these."""

    _LINE = re.compile(r"([\d,]+)/([\d,]+) (?:行|rows)")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started: float | None = None
        self.done = self.total = 0

    def begin(self) -> None:
        with self.lock:
            self.started, self.done, self.total = time.monotonic(), 0, 0

    def end(self) -> None:
        with self.lock:
            self.started = None

    def read(self, line: str) -> None:
        """Take one progress line (the last count on it wins)."""
        found = self._LINE.findall(line)
        if found:
            done, total = found[-1]
            with self.lock:
                self.done, self.total = int(done.replace(",", "")), int(total.replace(",", ""))

    def as_json(self) -> dict[str, object]:
        with self.lock:
            if self.started is None:
                return {"running": False}
            share = self.done / self.total if self.total else None
            return {
                "running": True,
                "elapsed_s": round(time.monotonic() - self.started, 1),
                "rows_done": self.done,
                "rows": self.total or None,
                "percent": round(100 * share) if share is not None else None,
            }


PROGRESS = ImportProgress()


def _watched(command: list[str], env: dict[str, str], folder: FilePath) -> tuple[int, str]:
    """Run ``command``; its progress lines go to :data:`PROGRESS` as they come.  Its return code
    and stderr (decoded as UTF-8 whatever the server's locale); stopped after ``TIMEOUT_S``
    (409: nothing was written, the import's transaction dies with it)."""
    proc = subprocess.Popen(
        command, env=env, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    said: list[str] = []

    def pump_err() -> None:  # the progress line is rewritten in place (\r): read as it comes
        decode = codecs.getincrementaldecoder("utf-8")(errors="replace")
        assert proc.stderr is not None
        pending = ""
        while chunk := os.read(proc.stderr.fileno(), 4096):
            text = decode.decode(chunk)
            said.append(text)
            *lines, pending = re.split(r"[\r\n]", pending + text)
            for line in [*lines, pending]:  # (the last one is written whole, then rewritten)
                PROGRESS.read(line)
        said.append(decode.decode(b"", final=True))

    def drain_out() -> None:  # (the human summary: the report file has it all)
        assert proc.stdout is not None
        while proc.stdout.read(65536):
            pass

    readers = [threading.Thread(target=f, daemon=True) for f in (pump_err, drain_out)]
    for reader in readers:
        reader.start()
    try:
        returncode = proc.wait(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        proc.kill()
        proc.wait()
        raise Conflict(
            f"导入超过 {TIMEOUT_S // 60} 分钟未完成，已停止，未写入任何数据。请在服务器上用 "
            "wangge import 导入这个文件。",
            f"The import took over {TIMEOUT_S // 60} minutes and was stopped; nothing was "
            "written. Import this file on the server with wangge import.",
        ) from e
    finally:
        for reader in readers:
            reader.join(timeout=5)
    return returncode, "".join(said)


def _run(
    settings: Settings, args: list[str], folder: FilePath, lang: str
) -> tuple[dict, list[InitialPassword]]:
    """``wangge import ARGS`` as its own process, as the database owner: its report, and the
    initial passwords of the accounts it created (workers)."""
    report, passwords = folder / "report.json", folder / "passwords.csv"
    env = os.environ | {"WANGGE_DATA_DIR": str(settings.data_dir), "PYTHONIOENCODING": "utf-8"}
    # its stderr is what the page shows when it fails: not the libraries' warnings (GDAL's, with
    # the server's folders in them), which the command line prints to its operator
    env["PYTHONWARNINGS"] = "ignore"
    env["LANG"] = "en_US.UTF-8" if lang == "en" else "zh_CN.UTF-8"
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    if settings.pii_key:  # (else the key file under the data folder)
        env["WANGGE_PII_KEY"] = settings.pii_key
    command = [sys.executable, "-c", "from api.cli import main; main()", "import", *args]
    command += ["--report", str(report), "--passwords", str(passwords)]
    returncode, stderr = _watched(command, env, folder)
    if returncode != 0 or not report.exists():
        said = _message(stderr)
        if returncode in (1, 2) and said and "Traceback" not in said:
            for named, zh, en in _PAGE_OPTIONS:  # where this page takes what the words name
                if named.search(said):
                    said += en if lang == "en" else zh
            raise InvalidInput(said, said, field="file")  # the importer's own words
        raise RuntimeError(f"wangge import failed ({returncode}): {said[-2000:]}")
    created = []
    if passwords.exists():
        with passwords.open(encoding="utf-8-sig", newline="") as f:  # (a header line first)
            rows = list(csv.reader(f))[1:]
            created = [InitialPassword(username=u, password=p) for u, p in rows]
    found = json.loads(report.read_text(encoding="utf-8"))
    for key in ("warnings", "warnings_zh", "warnings_en"):  # (the command's words for where
        found[key] = [  # passwords go: here, this page)
            w.replace(
                "初始密码写入 --passwords 指定的文件", "写入后本页显示其初始密码（只显示一次）"
            ).replace("passwords go to --passwords FILE", "written, their passwords show here once")
            for w in found.get(key) or []
        ]
    return found, created


@router.post("/api/imports", response_model=ImportOut)
def import_file(
    session: SessionDep,
    settings: SettingsDep,
    caller: DataImporter,
    request: Request,
    what: What,
    file: Annotated[UploadFile, File(description="zipped Shapefile, GeoPackage, GeoJSON, CSV …")],
    commit: Annotated[bool, Form(description="write (default: a dry run)")] = False,
    part: Annotated[
        str | None,
        Form(max_length=200, pattern=r"^[^\x00-\x1f]+$", description="layer, sheet or member"),
    ] = None,
    encoding: Word = None,
    crs: Word = None,
    datum: Word = None,
    strict: Annotated[bool, Form(description="any problem is fatal")] = False,
    bulk: Annotated[
        bool,
        Form(
            description="cases, first loads: the case tables locked for the import and their "
            "indexes and map roll-ups rebuilt once after (--bulk; reports wait meanwhile)"
        ),
    ] = False,
    code_field: Column = None,
    name_field: Column = None,
    parent_field: Column = None,
    fields: Annotated[
        str | None,
        Form(
            max_length=2000,
            description="which column holds what: ROLE=COLUMN, one a line (--field), e.g. "
            "经度=X坐标",
        ),
    ] = None,
) -> ImportOut:
    """数据导入: the file read as ``wangge import WHAT FILE`` reads it — a dry run that writes
    nothing, or with ``commit`` written in one transaction.  The reply is the import's report
    (created, updated, repaired, rejected, problems, warnings) and, for new accounts of a
    roster, their initial passwords (shown this once).  Administrators of the whole deployment
    only; one import at a time."""
    if not caller.scope.is_everything:
        raise Forbidden(
            "数据导入会改动全系统的区划、网格与账号，只有全系统的管理员可以使用。",
            "An import changes the whole deployment's boundaries and accounts: only an "
            "administrator of the whole deployment may run one.",
        )
    lang = page_lang(request, None)
    mappings = field_mappings(fields)
    if bulk and what != "cases":
        raise InvalidInput(
            "“首次导入大量历史案件”只用于历史案件，请取消勾选后再导入。",
            "“A first load of many historical cases” is for cases only: untick it.",
            field="bulk",
        )
    if not _BUSY.acquire(blocking=False):
        raise Conflict(
            "另一项导入正在进行，请稍后再试。", "Another import is running; try again shortly."
        )
    folder = FilePath(tempfile.mkdtemp(prefix="wangge-import-"))
    try:
        path = _save(file, folder / "in")  # (beside it: the report and the passwords)
        args = [what, f"{path}!{part}" if part else str(path)]
        args += ["--commit"] if commit else []
        args += ["--strict"] if strict else []
        args += ["--bulk"] if bulk else []
        for name, value in (
            ("--encoding", encoding), ("--crs", crs), ("--datum", datum),
            ("--code-field", code_field), ("--name-field", name_field),
            ("--parent-field", parent_field),
        ):  # fmt: skip
            if value:
                args.append(f"{name}={value}")  # (one word: a value is never an option)
        args += [f"--field={m}" for m in mappings]
        PROGRESS.begin()
        report, passwords = _run(settings, args, folder, lang)
    except WanggeError as e:
        _audit(session, caller, request, {"what": what, "commit": commit, "error": e.message})
        raise
    finally:
        PROGRESS.end()
        shutil.rmtree(folder, ignore_errors=True)
        _BUSY.release()
    counts = {k: len(report.get(k) or []) for k in ("created", "updated", "rejected")}
    _audit(
        session,
        caller,
        request,
        {"what": what, "file": report.get("file"), "committed": bool(report.get("committed"))}
        | counts
        | ({"passwords_shown": len(passwords)} if passwords else {}),
    )
    return ImportOut(report=report, passwords=passwords or None)


def field_mappings(text: str | None) -> list[str]:
    """The form's 字段对应 as ``--field`` values: ``ROLE=COLUMN``, one a line (or separated by
    semicolons), blank lines skipped; a line without both sides of its ``=`` is refused with its
    text.  Which roles there are is the importer's to say (it lists them)."""
    found = []
    for line in re.split(r"[\r\n;；]+", text or ""):
        line = line.strip()
        if not line:
            continue
        role, sep, column = (part.strip() for part in line.replace("＝", "=").partition("="))
        if not (sep and role and column) or re.search(r"[\x00-\x1f]", line):
            raise InvalidInput(
                f"字段对应的每一行应为“角色=列名”，如 经度=X坐标（收到 {line!r}）。",
                f"Each line of the column mapping is ROLE=COLUMN, e.g. 经度=X坐标 (not {line!r}).",
                field="fields",
            )
        found.append(f"{role}={column}")
    return found


def _audit(session: Session, caller: Principal, request: Request, detail: dict) -> None:
    """The import in the audit log (a failed one with its message), committed at once."""
    audit.record(
        session,
        "data.import",
        success="error" not in detail,
        user_id=caller.user_id,
        username=caller.username,
        source_ip=client_ip(request),
        detail=detail,
    )
    session.commit()


@router.get("/api/imports/progress")
def import_progress(caller: DataImporter) -> dict[str, object]:
    """How far the running import has come (the page shows it while it waits): ``running``, and
    while it runs ``elapsed_s``, ``rows_done`` of ``rows`` and ``percent`` (null until the
    importer has counted the rows; a large file's import reports its stages as it goes)."""
    return PROGRESS.as_json()


@router.get(
    "/imports/template/{what}.xlsx",
    response_class=Response,
    responses=XLSX_RESPONSES,
)
def import_template(
    session: SessionDep,
    caller: DataImporter,
    request: Request,
    what: Literal["cases", "workers", "centers"],
    lang: PageLang = None,
) -> Response:
    """填表模板: a workbook of the columns the importer knows for ``what`` (historical cases,
    grid workers and users, centers), with 填表说明 and an example row of this deployment's
    (its codes, a point inside one of its grids).  A filled-in copy imports without a field
    mapping."""
    from urllib.parse import quote

    language = page_lang(request, lang)
    body = template_xlsx(session, what, language)
    return Response(
        body,
        media_type=XLSX,
        headers={
            "Content-Disposition": "attachment; filename*=UTF-8''"
            + quote(template_name(what, language))
        },
    )


@router.get("/imports", response_class=HTMLResponse)
def imports(caller: DataImporter, request: Request, lang: PageLang = None) -> HTMLResponse:
    """数据导入 as a page: choose what and the file, read it (a dry run), then confirm to write
    it.  In Chinese, or in English."""
    language = page_lang(request, lang)
    page = imports_page(
        user=_user(caller, language),
        links=page_links(caller.can, "/imports", language),
        whole=caller.scope.is_everything,
        lang=language,
    )
    return page_response(page, lang)


#: what the command's words name (an option, FILE!PART), and where this page takes it instead
_PAGE_OPTIONS = tuple(
    (re.compile(named, re.DOTALL), zh, en)
    for named, zh, en in (
        ("!", "在本页请把该名称填入“图层/工作表/压缩包内文件”。",
         " On this page, put that name in “Layer, sheet or file in the archive”."),
        ("--code-field", "在本页请在“更多选项”中填写对应的字段名。",
         " On this page: the columns under “More options”."),
        (r"\A(?!.*--code-field).*--field",  # (not with --code-field: that one says it all)
         "在本页请在“更多选项”的“字段对应”中填写，每行一条，如 经度=X坐标。",
         " On this page: “Column mapping” under “More options”, one a line (lon=X)."),
        ("--encoding", "在本页请在“更多选项”的“编码”中填写（如 GBK）。",
         " On this page: “Encoding” under “More options” (e.g. GBK)."),
        ("--crs", "在本页请在“更多选项”的“坐标系（文件未声明时）”中填写。",
         " On this page: “CRS (when the file has none)” under “More options”."),
        ("--datum", "在本页请在“更多选项”的“点坐标的坐标系”中选择。",
         " On this page: “Datum of points” under “More options”."),
    )
)  # fmt: skip

#: a GIS file's format as a download names it → its suffix and media type
EXPORT_TYPES = {
    "gpkg": ("application/geopackage+sqlite3", ".gpkg"),
    "geojson": ("application/geo+json", ".geojson"),
    "kml": ("application/vnd.google-earth.kml+xml", ".kml"),
    "zip": ("application/zip", ".zip"),
}


def _export_refused(layer: str, fmt: str) -> InvalidInput | None:
    """Why ``/exports/{layer}.{fmt}`` names no download, in words that give the right address
    (``grids.shp.zip`` and ``grids.shp``: a Shapefile comes zipped, as ``grids.zip``)."""
    stem, _, inner = layer.partition(".")
    shapefile = fmt == "shp" or (fmt == "zip" and inner == "shp")
    if stem in LAYERS and shapefile:
        return InvalidInput(
            f"Shapefile 以压缩包下载：/exports/{stem}.zip（内含 .shp、.dbf、.shx、.prj、.cpg）。",
            f"A Shapefile downloads zipped: /exports/{stem}.zip (with its .shp, .dbf, .shx, "
            ".prj and .cpg).",
            field="fmt",
        )
    if layer not in LAYERS:
        return InvalidInput(
            f"没有图层 {layer}；可导出：{'、'.join(LAYERS)}（如 /exports/grids.gpkg）。",
            f"No layer {layer}; export one of {', '.join(LAYERS)} (e.g. /exports/grids.gpkg).",
            field="layer",
        )
    if fmt not in EXPORT_TYPES:
        return InvalidInput(
            f"不支持的格式 .{fmt}；可用：{'、'.join(EXPORT_TYPES)}（zip 为 Shapefile）。",
            f"No format .{fmt}; use one of {', '.join(EXPORT_TYPES)} (zip: a Shapefile).",
            field="fmt",
        )
    return None


@router.get(
    "/exports/{layer}.{fmt}",
    response_class=Response,
    responses={200: {"content": {t: {} for t, _ in EXPORT_TYPES.values()}}},
)
def export_gis(
    session: SessionDep,
    caller: Planner,
    request: Request,
    layer: Annotated[str, Path(json_schema_extra={"enum": list(LAYERS)})],
    fmt: Annotated[str, Path(json_schema_extra={"enum": list(EXPORT_TYPES)})],
    region: Annotated[
        str | None, Query(pattern=r"^[0-9]{6,12}$", description="only what lies in this region")
    ] = None,
    crs: Annotated[
        str | None,
        Query(pattern=_WORD, description="e.g. EPSG:4490, EPSG:4547 (default: WGS 84)"),
    ] = None,
    as_of: Annotated[
        QueryTime | None, Query(description="grids: the layout valid then (default: current)")
    ] = None,
) -> Response:
    """数据导出: regions, grids or centers of your jurisdiction (or one region of it) as a GIS
    file — GeoPackage, GeoJSON, KML or a zipped Shapefile (GBK) — with the field names the
    importer reads, so that the file imports back unchanged (``wangge export``).  Audited."""
    from urllib.parse import quote

    refused = _export_refused(layer, fmt)
    if refused is not None:
        raise refused
    media, suffix = EXPORT_TYPES[fmt]
    when = as_of.replace(tzinfo=SHANGHAI) if as_of and as_of.tzinfo is None else as_of
    with tempfile.TemporaryDirectory(prefix="wangge-export-") as tmp:
        name = f"{layer}-{region or (caller.scope.region_code or 'all')}{suffix}"
        path = FilePath(tmp) / name
        done = export_layer(session, caller.scope, layer, path, region=region, crs=crs, as_of=when)
        body = path.read_bytes()
    audit_caller(
        session, request, caller, "boundary.export", f"{layer}:{region or '*'}",
        {"format": fmt, "crs": done.crs, "features": done.features},
    )  # fmt: skip
    session.commit()
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": "attachment; filename*=UTF-8''" + quote(name)},
    )
