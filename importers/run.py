"""One entry for every import: what to read, from which file, with which options.

``wangge import WHAT FILE`` and the web's 数据导入 (``POST /api/imports``) both call
:func:`run_import`, so a file reads the same whichever way it comes in.  The caller owns the
session (the database owner's: regions, centers and accounts are outside the app role's rights)
and commits it; a dry run leaves nothing behind (:func:`importers.core.import_transaction`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from gis.errors import InvalidInput
from gis.pii import load_cipher
from gis.settings import get_settings
from importers.boundaries import IMPORTS, Options
from importers.cases import CaseOptions, import_cases
from importers.core import ImportReport
from importers.roster import RosterOptions, import_workers

#: what can be imported, as the command and the web name it
WHATS = ("regions", "grids", "centers", "workers", "cases")
#: the same, as the web page names them
WHAT_NAMES = {
    "regions": ("行政区划", "regions"),
    "grids": ("网格", "grids"),
    "centers": ("综治中心", "centers"),
    "workers": ("网格员与用户", "workers and users"),
    "cases": ("历史案件", "historical cases"),
}
LEVELS = ("city", "district", "township", "village")


@dataclass
class ImportRequest:
    """An import as asked for: ``wangge import``'s options, by the same names."""

    what: str
    commit: bool = False
    encoding: str | None = None
    crs: str | None = None
    datum: str | None = None
    code_field: str | None = None
    name_field: str | None = None
    parent_field: str | None = None
    fields: list[str] | None = None
    level: str | None = None
    strict: bool = False
    bulk: bool = False
    tolerance_m2: float = 100.0
    passwords: Path | None = None  # workers: where new accounts' initial passwords go


def check_request(req: ImportRequest) -> None:
    """Refuse options that do not go together, before any file is read."""
    if req.what not in WHATS:
        raise InvalidInput(
            f"只能导入 {' | '.join(WHATS)}（收到 {req.what!r}）",
            f"Only {' | '.join(WHATS)} can be imported (not {req.what!r}).",
            field="what",
        )
    if req.bulk and req.what != "cases":
        raise InvalidInput(
            f"--bulk 只用于历史案件（cases），不用于 {req.what}",
            f"--bulk is for historical cases only, not {req.what}.",
            field="bulk",
        )
    if req.level is not None and req.level not in LEVELS:
        raise InvalidInput(
            f"--level 只能是 {'|'.join(LEVELS)}",
            f"--level must be one of {'|'.join(LEVELS)}.",
            field="level",
        )


def run_import(session: Session, path: Path, req: ImportRequest) -> ImportReport:
    """Read ``path`` (``FILE!PART`` names a layer, sheet or archive member) as ``req`` asks."""
    check_request(req)
    if req.what == "workers":
        return import_workers(
            session,
            path,
            RosterOptions(
                commit=req.commit,
                encoding=req.encoding,
                strict=req.strict,
                passwords=req.passwords,
                code_field=req.code_field,
                name_field=req.name_field,
                fields=req.fields,
            ),
        )
    if req.what == "cases":
        return import_cases(
            session,
            path,
            CaseOptions(
                commit=req.commit,
                encoding=req.encoding,
                datum=req.datum,
                source_field=req.code_field,
                bulk=req.bulk,
                fields=req.fields,
                # (the key only for a file with parties: a dry run of others needs none)
                cipher=lambda: load_cipher(get_settings(), session),
            ),
        )
    opts = Options(
        commit=req.commit, encoding=req.encoding, crs=req.crs, datum=req.datum,
        code_field=req.code_field, name_field=req.name_field, parent_field=req.parent_field,
        level=req.level, strict=req.strict, tolerance_m2=req.tolerance_m2, fields=req.fields,
    )  # fmt: skip
    return IMPORTS[req.what](session, path, opts)
