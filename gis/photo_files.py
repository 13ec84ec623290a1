"""The photo folder against the database: ``wangge db photos``.

The photos' files live in a folder (``WANGGE_PHOTO_DIR``, default ``<data_dir>/photos``), not in
the database, and a backup of the database does not hold them (:mod:`gis.backup`).  Three
things can go wrong with them, and this module finds each:

* **a file the database names is not in the folder** — a restore, or a move to another machine,
  without the folder copied.  Such a photo answers 410 (:func:`gis.photos.missing_file`); the
  check names the cases it belongs to, so the administrator knows what to copy back.
* **a file in the folder that no row names** — the photos of a request that failed after they
  were written (its transaction rolled back: the phone sends them again, under the same name if
  they are the same), or a temporary ``.upload-…`` file of a server that was killed while
  writing.  They are never served and only take room.  ``--prune`` removes those older than a
  grace period (an hour by default).
* **a picture whose content is no longer what was stored** (changed or damaged on the disk):
  a picture's name is the SHA-256 of its content, and ``--verify`` reads each one against it.
  A photo is evidence of what a grid worker saw; one that differs is named with its case.

Files are content-addressed (``ab/abcdef….jpg``, one file for every row with the same picture),
so a file is unnamed only when *no* photo of any case or check-in names it, as picture or as
thumbnail.  The folder and the names are both read in order and compared as they go, so the
check holds neither in memory whole.

Removing is safe while the server runs: a transaction that stores photos holds
:data:`gis.photos.FOLDER_LOCK` shared from before its first file until its commit, and each batch
of removals takes it whole and asks the database again about the batch's files first.  Storing
waits for at most one batch.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.photos import FOLDER_LOCK

#: files younger than this are left alone by default, whatever the database says
GRACE_HOURS = 1.0
#: how many files one removal batch asks the database about again (and holds storing for)
BATCH = 1000
#: how many missing files the check names
EXAMPLES = 10

# every name the photo rows give, once, in byte order (the folder is read in the same order)
_NAMES = text("""
    SELECT name FROM (
        SELECT file_name AS name FROM case_photo
        UNION ALL SELECT thumb_name FROM case_photo
        UNION ALL SELECT file_name FROM patrol_photo
        UNION ALL SELECT thumb_name FROM patrol_photo
    ) n
    GROUP BY name ORDER BY name COLLATE "C"
""")
# which of these names a row gives (asked again, under the lock, before removing)
_NAMED = text("""
    SELECT file_name FROM case_photo WHERE file_name = ANY(:names)
    UNION SELECT thumb_name FROM case_photo WHERE thumb_name = ANY(:names)
    UNION SELECT file_name FROM patrol_photo WHERE file_name = ANY(:names)
    UNION SELECT thumb_name FROM patrol_photo WHERE thumb_name = ANY(:names)
""")
# whose photos these missing files are: the case's code, or the check-in's worker and time
_WHOSE = text("""
    SELECT p.id, 'case' AS owner, c.code AS label,
           CASE WHEN p.file_name = ANY(:names) THEN p.file_name ELSE p.thumb_name END AS name
    FROM case_photo p JOIN cases c ON c.id = p.case_id
    WHERE p.file_name = ANY(:names) OR p.thumb_name = ANY(:names)
    UNION ALL
    SELECT p.id, 'patrol', coalesce(w.code, u.username) || ' '
               || to_char(t.checked_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI'),
           CASE WHEN p.file_name = ANY(:names) THEN p.file_name ELSE p.thumb_name END
    FROM patrol_photo p JOIN patrol t ON t.id = p.patrol_id
    JOIN app_user u ON u.id = t.user_id LEFT JOIN worker w ON w.id = t.worker_id
    WHERE p.file_name = ANY(:names) OR p.thumb_name = ANY(:names)
    ORDER BY 2, 3, 1
    LIMIT :limit
""")


@dataclass(frozen=True)
class MissingPhoto:
    """A photo whose file (or thumbnail) is not in the folder."""

    photo_id: int
    owner: str  # case | patrol
    label: str  # the case's code, or the check-in's worker (or account) and time
    file_name: str  # the picture's or the thumbnail's, whichever is missing

    def describe(self, lang: str = "zh") -> str:
        if self.owner == "case":
            return (
                f"案件 {self.label} 的照片 #{self.photo_id}（{self.file_name}）"
                if lang == "zh"
                else f"photo #{self.photo_id} of case {self.label} ({self.file_name})"
            )
        return (
            f"巡查 {self.label} 的照片 #{self.photo_id}（{self.file_name}）"
            if lang == "zh"
            else f"photo #{self.photo_id} of the check-in {self.label} ({self.file_name})"
        )


@dataclass
class FolderCheck:
    """What :func:`check_folder` found (and removed)."""

    directory: Path
    named: int = 0  # files the rows name (pictures and thumbnails)
    present: int = 0  # of those, found in the folder
    missing: int = 0  # of those, not found
    examples: list[MissingPhoto] = field(default_factory=list)
    unnamed: int = 0  # files in the folder no row names
    unnamed_bytes: int = 0
    young: int = 0  # of those, younger than the grace period: left alone
    altered: int = 0  # pictures whose content is not their checksum (with ``verify``)
    altered_examples: list[MissingPhoto] = field(default_factory=list)
    removed: int = 0
    freed: int = 0  # bytes

    @property
    def removable(self) -> int:
        return self.unnamed - self.young


def _entries(directory: Path) -> Iterator[tuple[str, os.stat_result]]:
    """The regular files in the folder's sub-folders (where photos are stored: ``ab/…``), as
    ``ab/name``, in byte order.  Files directly in the folder are not the store's, and are left
    alone (a note an administrator put there)."""

    def listing(path: str, suffix: str = "") -> list[os.DirEntry[str]]:
        try:
            with os.scandir(path) as it:
                return sorted(it, key=lambda e: e.name + suffix)
        except (FileNotFoundError, NotADirectoryError):
            return []

    # a sub-folder "ab" sorts as "ab/" does, so that its files come where their names belong
    for entry in listing(str(directory), "/"):
        if entry.is_dir(follow_symlinks=False):
            for inner in listing(entry.path):
                if inner.is_file(follow_symlinks=False):
                    yield f"{entry.name}/{inner.name}", inner.stat(follow_symlinks=False)


def check_folder(
    session: Session,
    directory: Path,
    *,
    prune: bool = False,
    grace_hours: float = GRACE_HOURS,
    verify: bool = False,
) -> FolderCheck:
    """Compare the photo folder with the photo rows; with ``prune``, remove the files no row
    names that are older than ``grace_hours``; with ``verify``, read every picture and check its
    content against the checksum its name is (a file changed on the disk: evidence no longer
    as taken).  Call with a session that sees every photo (the owner's, or
    :meth:`gis.scope.Scope.everything`)."""
    found = FolderCheck(directory)
    cutoff = time.time() - grace_hours * 3600
    names = iter(session.execute(_NAMES, execution_options={"yield_per": 10_000}).scalars())
    missing: list[str] = []  # the first few, to say whose they are
    unnamed: list[tuple[str, int]] = []  # the old ones, with their size

    def gone(name: str) -> None:
        found.named += 1
        found.missing += 1
        if len(missing) < EXAMPLES:
            missing.append(name)

    name = next(names, None)
    for rel, stat in _entries(directory):
        while name is not None and name < rel:
            gone(name)
            name = next(names, None)
        if name == rel:
            found.named += 1
            found.present += 1
            name = next(names, None)
            continue
        found.unnamed += 1
        found.unnamed_bytes += stat.st_size
        if stat.st_mtime >= cutoff:
            found.young += 1
        else:
            unnamed.append((rel, stat.st_size))
    while name is not None:
        gone(name)
        name = next(names, None)
    if missing:
        found.examples = [
            MissingPhoto(r.id, r.owner, r.label, r.name)
            for r in session.execute(_WHOSE, {"names": missing, "limit": EXAMPLES})
        ]
    if verify:  # (a pass of its own: the names' cursor is not held open while reading)
        _verify(session, directory, found)
    if prune:
        for start in range(0, len(unnamed), BATCH):
            _remove(session, directory, unnamed[start : start + BATCH], found)
    return found


def _verify(session: Session, directory: Path, found: FolderCheck) -> None:
    """Read every stored picture against its checksum; count those a row names that differ."""
    differ = [rel for rel, _ in _entries(directory) if not _as_named(directory, rel)]
    named: list[str] = []
    for start in range(0, len(differ), BATCH):
        batch = differ[start : start + BATCH]
        named += session.execute(_NAMED, {"names": batch}).scalars().all()
    found.altered = len(named)
    if named:
        found.altered_examples = [
            MissingPhoto(r.id, r.owner, r.label, r.name)
            for r in session.execute(_WHOSE, {"names": sorted(named)[:EXAMPLES], "limit": EXAMPLES})
        ]


def _as_named(directory: Path, rel: str) -> bool:
    """Whether a stored picture's content is still the SHA-256 its name gives (``ab/<sha256>.jpg``;
    a thumbnail's name is its picture's, and is not checked)."""
    stem = rel.rpartition("/")[2].partition(".")
    if stem[2] not in ("jpg", "png", "webp") or len(stem[0]) != 64:
        return True
    digest = hashlib.sha256()
    with open(directory / rel, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest() == stem[0]


def _remove(
    session: Session, directory: Path, batch: list[tuple[str, int]], found: FolderCheck
) -> None:
    """Remove the files of ``batch`` that no row names, asked again under the folder's lock."""
    session.execute(text("SELECT pg_advisory_lock(:k)"), {"k": FOLDER_LOCK})
    try:
        named = set(session.execute(_NAMED, {"names": [n for n, _ in batch]}).scalars())
        for rel, size in batch:
            if rel in named:  # stored again since the folder was read
                continue
            try:
                os.unlink(directory / rel)
            except FileNotFoundError:
                continue
            found.removed += 1
            found.freed += size
    finally:
        session.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": FOLDER_LOCK})
