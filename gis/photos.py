"""Case photos: sniffed, cleaned, stored, served only with their case.

* Up to :data:`MAX_PER_CASE` per case, each at most :data:`MAX_BYTES` as uploaded.
* The type comes from the content (Pillow reads the magic bytes), never from the file name or the
  declared content type: JPEG, PNG and WebP are accepted.
* What is stored and served is re-encoded from the pixels, after turning the image upright by its
  EXIF orientation: no EXIF (so no GPS position, device or owner), no XMP, no text chunks.
* Files are content-addressed under the photo directory (``ab/abcdef….jpg``) with a thumbnail
  (longest side :data:`THUMB_PX`) for lists; the row keeps both checksums.
* The same photo sent again for the same case (a retry from a phone) returns the stored one.
* ``case_photo`` is under row-level security: a photo is visible exactly when its case is.
* Photos added to a case later (补充现场照片: a return visit, the desk's own) are an event of its
  history, with how many; the reporter's own photos of the first day are the report's
  (:data:`REPORT_PHOTOS_HOURS`), and are not.
* A patrol check-in's photos (巡查照片, ``patrol_photo``: what the worker saw) are kept the same
  way, at most :data:`MAX_PER_PATROL`, added only by the worker who checked in, visible exactly
  when the check-in is.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import InvalidInput, NotFound, StorageFull, WanggeError
from gis.worktime import SHANGHAI

log = logging.getLogger(__name__)

MAX_PER_CASE = 6
MAX_PER_PATROL = 3  # (what a worker saw on the round: a few pictures, not an album)
MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 60_000_000  # a 10 MB file claiming more is a decompression bomb
THUMB_PX = 320
#: for how long after a case is registered its reporter's photos count as the report's own: a
#: phone sends them one by one after the report, and with one bar of signal (or offline) they
#: may follow it by hours.  Others' photos, and the reporter's after that, are added to it
#: (:data:`PHOTO_ADDED`, an event of its history).
REPORT_PHOTOS_HOURS = 24
#: the event of a case's history that says photos were added to it, and how many
PHOTO_ADDED = "photo_added"
FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}


@dataclass(frozen=True, slots=True)
class PhotoView:
    id: int
    content_type: str
    bytes: int
    width: int
    height: int
    sha256: str
    #: who added it (account) and when, and their name (:func:`photos_of` only: a report's own
    #: photos and those added after it, on the spot or from the desk)
    uploaded_by: str | None = None
    uploaded_at: datetime | None = None
    uploader: str | None = None


@dataclass(frozen=True, slots=True)
class CleanPhoto:
    """A photo ready to store: re-encoded without metadata, and its thumbnail."""

    data: bytes
    thumb: bytes
    content_type: str
    extension: str
    width: int
    height: int
    upload_sha256: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def too_many(new: int, stored: int = 0, limit: int = MAX_PER_CASE) -> InvalidInput:
    if limit == MAX_PER_CASE:
        zh, en = f"每件案件最多 {limit} 张照片", f"At most {limit} photos per case"
    else:
        zh, en = f"每次巡查打卡最多 {limit} 张照片", f"At most {limit} photos per check-in"
    return InvalidInput(
        f"{zh}；已有 {stored} 张，本次新增 {new} 张。",
        f"{en}; it has {stored}, this adds {new}.",
        field="photos",
    )


def missing_file() -> WanggeError:
    """The row exists but the file is gone (a restore without the photo directory)."""
    error = WanggeError(
        "照片文件缺失，请联系系统管理员从备份恢复照片目录。",
        "The photo's file is missing; ask the administrator to restore the photo directory.",
    )
    error.status = 410
    return error


def _bad(zh: str, en: str, name: str) -> InvalidInput:
    return InvalidInput(f"照片 {name}：{zh}", f"Photo {name}: {en}", field="photos")


def clean_photo(upload: bytes, name: str = "") -> CleanPhoto:
    """Check one uploaded photo and re-encode it without metadata (InvalidInput if it is not an
    acceptable JPEG/PNG/WebP)."""
    if not upload:
        raise _bad("文件为空。", "the file is empty.", name)
    if len(upload) > MAX_BYTES:
        raise _bad(
            f"文件大小 {len(upload) / 1048576:.1f} MB，超过 {MAX_BYTES // 1048576} MB 上限；"
            "请压缩后重新上传。",
            f"{len(upload) / 1048576:.1f} MB exceeds the {MAX_BYTES // 1048576} MB limit; "
            "compress it and upload again.",
            name,
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(upload), formats=list(FORMATS))
            if image.width * image.height > MAX_PIXELS:
                raise Image.DecompressionBombError(name)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _bad(  # (Pillow's own check stops one far above the limit before we see its size)
            f"像素过多（上限 {MAX_PIXELS / 1e4:.0f} 万像素）；请缩小后重新上传。",
            f"too many pixels (at most {MAX_PIXELS / 1e6:.0f} megapixels); shrink it and upload "
            "again.",
            name,
        ) from None
    except UnidentifiedImageError:
        raise _bad(
            "不是可识别的 JPEG、PNG 或 WebP 图片（按文件内容判断，与文件名无关）。",
            "not a JPEG, PNG or WebP image (judged by its content, not its name).",
            name,
        ) from None
    except (OSError, ValueError, SyntaxError):
        raise _bad("图片已损坏或不完整。", "the image is damaged or truncated.", name) from None
    fmt = str(image.format)
    content_type, extension = FORMATS[fmt]
    upright = ImageOps.exif_transpose(image) or image
    data = _encode(upright, fmt)
    thumb_image = upright.copy()
    thumb_image.thumbnail((THUMB_PX, THUMB_PX))
    return CleanPhoto(
        data=data,
        thumb=_encode(thumb_image, "JPEG"),
        content_type=content_type,
        extension=extension,
        width=upright.width,
        height=upright.height,
        upload_sha256=hashlib.sha256(upload).hexdigest(),
    )


def _encode(image: Image.Image, fmt: str) -> bytes:
    """Pixels only: Pillow writes EXIF, XMP or text chunks only when asked to, and we never ask."""
    out = io.BytesIO()
    if fmt == "JPEG":
        rgb = image if image.mode in ("RGB", "L") else image.convert("RGB")
        rgb.save(out, "JPEG", quality=88, optimize=True)
    elif fmt == "PNG":
        image.save(out, "PNG", optimize=True)
    else:
        image.save(out, "WEBP", quality=88)
    return out.getvalue()


def _write(directory: Path, name: str, data: bytes) -> None:
    """Write atomically (temp file + rename); content-addressed, so an existing file is kept.
    A file that cannot be written (the disk full) leaves nothing behind, not even part of it,
    and is a :class:`StorageFull` (507): the request's transaction is rolled back whole, and a
    phone keeps the photo to send again."""
    path = directory / name
    if path.exists():
        return
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        log.error("photo store %s: %s", directory, e)
        full = e.errno in (errno.ENOSPC, errno.EDQUOT)
        raise StorageFull(
            ("服务器存储空间已满" if full else "服务器无法保存照片文件")
            + "，本次照片未保存（其他内容也未保存）；请稍后重试，并请通知系统管理员。",
            ("The server's storage is full" if full else "The server cannot write photo files")
            + ": the photos were not saved (nor anything else of this request). Please retry "
            "later, and tell your administrator.",
        ) from e


#: the advisory lock (one bigint key, 'wgph') between storing photos and removing the photo
#: folder's unnamed files (:mod:`gis.photo_files`): each storing transaction holds it shared
#: from before its first file until its commit, and the removal takes it whole for each batch —
#: so a file it judges unnamed is not one a transaction in flight has written, or found stored
#: and is about to name.
FOLDER_LOCK = 0x77677068
_CASE_ID = text("SELECT id FROM cases WHERE code = :code")
#: where the photos of a case and of a patrol check-in are kept: (table, owner column)
_TABLES = {"case": ("case_photo", "case_id"), "patrol": ("patrol_photo", "patrol_id")}


def _store(
    session: Session,
    owner: str,
    owner_id: int,
    photos: list[tuple[str, bytes]],
    directory: Path,
    uploaded_by: str,
    limit: int,
) -> int:
    """Check every photo, then store those not stored yet for ``owner`` (``case`` or
    ``patrol``) ``owner_id``: at most ``limit`` in all.  Returns how many were new."""
    table, column = _TABLES[owner]
    cleaned = [clean_photo(data, name or f"#{i + 1}") for i, (name, data) in enumerate(photos)]
    lock = 0x70686F74 if owner == "case" else 0x70617472  # 'phot', 'patr'
    session.execute(
        text("SELECT pg_advisory_xact_lock_shared(:folder), pg_advisory_xact_lock(:k, :id)"),
        {"folder": FOLDER_LOCK, "k": lock, "id": owner_id},
    )
    stored = {
        row.upload_sha256
        for row in session.execute(
            text(f"SELECT upload_sha256 FROM {table} WHERE {column} = :id"), {"id": owner_id}
        )
    }
    new = [c for c in cleaned if c.upload_sha256 not in stored]
    new = list({c.upload_sha256: c for c in new}.values())  # the same file twice in one call
    if len(stored) + len(new) > limit:
        raise too_many(len(new), len(stored), limit)
    for c in new:
        digest = c.sha256
        file_name = f"{digest[:2]}/{digest}.{c.extension}"
        thumb_name = f"{digest[:2]}/{digest}.thumb.jpg"
        _write(directory, file_name, c.data)
        _write(directory, thumb_name, c.thumb)
        session.execute(
            text(f"""
            INSERT INTO {table} ({column}, sha256, upload_sha256, content_type, bytes, width,
                                 height, file_name, thumb_name, uploaded_by)
            VALUES (:owner, :sha256, :upload, :type, :bytes, :width, :height, :file, :thumb,
                    :by)
        """),
            {
                "owner": owner_id,
                "sha256": digest,
                "upload": c.upload_sha256,
                "type": c.content_type,
                "bytes": len(c.data),
                "width": c.width,
                "height": c.height,
                "file": file_name,
                "thumb": thumb_name,
                "by": uploaded_by,
            },
        )
    return len(new)


# 补充现场照片, in the case's history (its status unchanged), unless the photos are the
# reporter's own of the report's first hours
_PHOTO_EVENT = text(f"""
    INSERT INTO case_event (case_id, actor, action, from_status, to_status, note, data)
    SELECT c.id, :actor, '{PHOTO_ADDED}', c.status, c.status, :note, jsonb_build_object('n', :n)
    FROM cases c
    WHERE c.id = :case
      AND NOT coalesce(c.reporter_id = (SELECT id FROM app_user WHERE username = :actor)
                       AND c.received_at > now() - make_interval(hours => {REPORT_PHOTOS_HOURS}),
                       false)
""")


def add_photos(
    session: Session,
    case_code: str,
    photos: list[tuple[str, bytes]],
    directory: Path,
    uploaded_by: str,
    *,
    with_report: bool = False,
) -> list[PhotoView]:
    """Attach ``photos`` ((name, bytes) pairs) to the case (which must be visible to the caller).

    All or nothing: every photo is checked before any is stored.  Those new to the case are an
    event of its history (:data:`PHOTO_ADDED`), unless they came ``with_report`` (in the
    report's own request) or are its reporter's of its first hours.  Returns the case's
    photos."""
    case_id = session.execute(_CASE_ID, {"code": case_code}).scalar()
    if case_id is None:
        raise NotFound(
            "没有找到该案件（或不在您的管辖范围内）。",
            "No such case (or not in your jurisdiction).",
        )
    new = _store(session, "case", case_id, photos, directory, uploaded_by, MAX_PER_CASE)
    if new and not with_report:
        event = {"case": case_id, "actor": uploaded_by, "note": f"{new} 张", "n": new}
        session.execute(_PHOTO_EVENT, event)
    return photos_of(session, case_code)


def add_patrol_photos(
    session: Session,
    patrol_id: int,
    user_id: int,
    photos: list[tuple[str, bytes]],
    directory: Path,
    uploaded_by: str,
) -> list[PhotoView]:
    """Attach ``photos`` to check-in ``patrol_id``, which must be the caller's own (a worker
    shows what they saw; nobody adds to another's check-in).  As :func:`add_photos`, at most
    :data:`MAX_PER_PATROL`.  Returns the check-in's photos."""
    found = session.execute(
        text("SELECT id FROM patrol WHERE id = :id AND user_id = :user"),
        {"id": patrol_id, "user": user_id},
    ).scalar()
    if found is None:
        raise NotFound("没有找到您的这次巡查打卡。", "No such check-in of yours.")
    _store(session, "patrol", patrol_id, photos, directory, uploaded_by, MAX_PER_PATROL)
    return patrol_photos(session, [patrol_id]).get(patrol_id, [])


def patrol_photos(session: Session, patrol_ids: list[int]) -> dict[int, list[PhotoView]]:
    """The photos of the check-ins ``patrol_ids`` that the caller may see, by check-in."""
    out: dict[int, list[PhotoView]] = {}
    for row in session.execute(
        text("""SELECT patrol_id, id, content_type, bytes, width, height, sha256
                FROM patrol_photo WHERE patrol_id = ANY(CAST(:ids AS bigint[]))
                ORDER BY patrol_id, id"""),
        {"ids": patrol_ids},
    ):
        out.setdefault(row[0], []).append(PhotoView(*row[1:]))
    return out


def photos_of(session: Session, case_code: str) -> list[PhotoView]:
    """The photos of a case visible to the caller (none if the case is not)."""
    rows = session.execute(
        text("""
        SELECT p.id, p.content_type, p.bytes, p.width, p.height, p.sha256, p.uploaded_by,
               p.uploaded_at, u.display_name
        FROM case_photo p JOIN cases c ON c.id = p.case_id
        LEFT JOIN app_user u ON u.username = p.uploaded_by
        WHERE c.code = :code ORDER BY p.id
    """),
        {"code": case_code},
    ).all()
    # (its time as the case document gives it: Beijing time)
    return [
        PhotoView(r.id, r.content_type, r.bytes, r.width, r.height, r.sha256, r.uploaded_by,
                  r.uploaded_at.astimezone(SHANGHAI), r.display_name)
        for r in rows
    ]  # fmt: skip


def photo_file(
    session: Session, photo_id: int, directory: Path, *, thumb: bool, owner: str = "case"
) -> tuple[Path, str]:
    """The stored file of a photo the caller may see (its case, or its check-in for ``owner``
    ``patrol``, is visible), and its type."""
    table = _TABLES[owner][0]
    row = session.execute(
        text(f"SELECT content_type, file_name, thumb_name FROM {table} WHERE id = :id"),
        {"id": photo_id},
    ).one_or_none()
    if row is None:
        raise NotFound(
            "没有找到该照片（或不在您的管辖范围内）。",
            "No such photo (or not in your jurisdiction).",
        )
    if thumb:
        return directory / row.thumb_name, "image/jpeg"
    return directory / row.file_name, row.content_type
