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

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path as FilePath
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from api.deps import DataImporter, SessionDep, SettingsDep, client_ip, page_lang, page_response
from api.routers.maps import PageLang, _user
from api.schemas import ImportOut, InitialPassword
from gis import audit
from gis.auth import Principal
from gis.errors import Conflict, Forbidden, InvalidInput, WanggeError
from gis.settings import Settings
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


def _message(stderr: str) -> str:
    """What ``wangge import`` said on failing, without its progress line (rows/s)."""
    lines = (part for line in stderr.split("\n") for part in line.split("\r")[-1:])
    return "\n".join(x for x in lines if x.strip() and "行/秒" not in x).strip()


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
    with path.open("wb") as out:
        while chunk := upload.file.read(1024 * 1024):
            written += len(chunk)
            if written > limit:
                raise TooLarge(
                    f"文件超过 {MAX_UPLOAD_MB} MB：更大的文件请在服务器上用 wangge import 导入。",
                    f"The file is over {MAX_UPLOAD_MB} MB: import larger ones on the server with "
                    "wangge import.",
                    field="file",
                )
            out.write(chunk)
    if not written:
        raise InvalidInput("上传的文件是空的。", "The uploaded file is empty.", field="file")
    return path


def _run(
    settings: Settings, args: list[str], folder: FilePath, lang: str
) -> tuple[dict, list[InitialPassword]]:
    """``wangge import ARGS`` as its own process, as the database owner: its report, and the
    initial passwords of the accounts it created (workers)."""
    report, passwords = folder / "report.json", folder / "passwords.csv"
    env = os.environ | {"WANGGE_DATA_DIR": str(settings.data_dir), "PYTHONIOENCODING": "utf-8"}
    env["LANG"] = "en_US.UTF-8" if lang == "en" else "zh_CN.UTF-8"
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    if settings.pii_key:  # (else the key file under the data folder)
        env["WANGGE_PII_KEY"] = settings.pii_key
    command = [sys.executable, "-c", "from api.cli import main; main()", "import", *args]
    command += ["--report", str(report), "--passwords", str(passwords)]
    try:
        done = subprocess.run(  # (its words in UTF-8 whatever the server's locale)
            command, env=env, cwd=folder, capture_output=True, timeout=TIMEOUT_S,
            encoding="utf-8", errors="replace",
        )  # fmt: skip
    except subprocess.TimeoutExpired as e:
        raise Conflict(
            f"导入超过 {TIMEOUT_S // 60} 分钟未完成，已停止，未写入任何数据。请在服务器上用 "
            "wangge import 导入这个文件。",
            f"The import took over {TIMEOUT_S // 60} minutes and was stopped; nothing was "
            "written. Import this file on the server with wangge import.",
        ) from e
    if done.returncode != 0 or not report.exists():
        said = _message(done.stderr)
        if done.returncode in (1, 2) and said and "Traceback" not in said:
            if "!" in said:  # (the command's FILE!PART: the page has a field for it)
                said += (
                    " On this page, put that name in “Layer, sheet or file in the archive”."
                    if lang == "en"
                    else "在本页请把该名称填入“图层/工作表/压缩包内文件”。"
                )
            if "--code-field" in said:  # (and these under “More options”)
                said += (
                    " On this page: the columns under “More options”."
                    if lang == "en"
                    else "在本页请在“更多选项”中填写对应的字段名。"
                )
            raise InvalidInput(said, said, field="file")  # the importer's own words
        raise RuntimeError(f"wangge import failed ({done.returncode}): {said[-2000:]}")
    created = []
    if passwords.exists():
        with passwords.open(encoding="utf-8-sig", newline="") as f:  # (a header line first)
            rows = list(csv.reader(f))[1:]
            created = [InitialPassword(username=u, password=p) for u, p in rows]
    found = json.loads(report.read_text(encoding="utf-8"))
    found["warnings"] = [  # (the command's words for where passwords go: here, this page)
        w.replace(
            "初始密码写入 --passwords 指定的文件", "写入后本页显示其初始密码（只显示一次）"
        ).replace("passwords go to --passwords FILE", "written, their passwords show here once")
        for w in found.get("warnings") or []
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
    code_field: Column = None,
    name_field: Column = None,
    parent_field: Column = None,
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
        for name, value in (
            ("--encoding", encoding), ("--crs", crs), ("--datum", datum),
            ("--code-field", code_field), ("--name-field", name_field),
            ("--parent-field", parent_field),
        ):  # fmt: skip
            if value:
                args.append(f"{name}={value}")  # (one word: a value is never an option)
        report, passwords = _run(settings, args, folder, lang)
    except WanggeError as e:
        _audit(session, caller, request, {"what": what, "commit": commit, "error": e.message})
        raise
    finally:
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
