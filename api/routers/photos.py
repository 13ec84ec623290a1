"""Case photos: attach (multipart), list, and serve — only with the case."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Path, Request, UploadFile
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from api.deps import (
    CaseReader,
    Patroller,
    PatrolReader,
    Reporter,
    SessionDep,
    SettingsDep,
    audit_caller,
)
from api.schemas import CASE_CODE_PATTERN, PatrolPhotoOut, PhotoOut
from gis import photos
from gis.patrols import photo_links as patrol_links

router = APIRouter(prefix="/api", tags=["photos 照片"])
CaseCode = Annotated[str, Path(pattern=CASE_CODE_PATTERN, description="case code 案件编码")]


async def read_uploads(
    files: list[UploadFile], limit: int = photos.MAX_PER_CASE
) -> list[tuple[str, bytes]]:
    """(name, bytes) of each upload, refusing more than ``limit`` (per case, or per check-in)
    before reading them and any file over the size limit while reading (never more than the
    limit + 1 byte)."""
    if len(files) > limit:
        raise photos.too_many(len(files), limit=limit)
    out = []
    for f in files:
        data = await f.read(photos.MAX_BYTES + 1)
        out.append((f.filename or "", data))
    return out


@router.post("/cases/{code}/photos", response_model=list[PhotoOut], status_code=201)
async def add_photos(
    code: CaseCode,
    session: SessionDep,
    settings: SettingsDep,
    caller: Reporter,
    request: Request,
    files: Annotated[
        list[UploadFile], File(alias="photos", description="JPEG/PNG/WebP, ≤ 10 MB each, ≤ 6")
    ],
) -> list[PhotoOut]:
    """Attach photos to a case (after the report, e.g. once a phone is back online).  The same
    photo sent again is not stored twice.  GPS and other EXIF data are removed.  Photos new to
    the case are a step of its history (``photo_added``, 补充现场照片, with how many), but the
    reporter's own in the case's first 24 hours: those are the report's."""
    uploads = await read_uploads(files)

    def work() -> list[photos.PhotoView]:
        stored = photos.add_photos(session, code, uploads, settings.photos_path, caller.username)
        audit_caller(session, request, caller, "photo.add", f"case:{code}", {"n": len(uploads)})
        session.commit()
        return stored

    return [PhotoOut.of(p) for p in await run_in_threadpool(work)]


@router.get("/cases/{code}/photos", response_model=list[PhotoOut])
def list_photos(code: CaseCode, session: SessionDep, caller: CaseReader) -> list[PhotoOut]:
    """The photos of a case in your jurisdiction."""
    return [PhotoOut.of(p) for p in photos.photos_of(session, code)]


@router.get("/photos/{photo_id}", response_class=FileResponse)
def get_photo(
    photo_id: int, session: SessionDep, settings: SettingsDep, caller: CaseReader
) -> FileResponse:
    """A photo (EXIF/GPS stripped), only if its case is in your jurisdiction."""
    path, content_type = photos.photo_file(session, photo_id, settings.photos_path, thumb=False)
    return _file(path, content_type)


@router.get("/photos/{photo_id}/thumb", response_class=FileResponse)
def get_thumbnail(
    photo_id: int, session: SessionDep, settings: SettingsDep, caller: CaseReader
) -> FileResponse:
    """A photo's thumbnail (longest side 320 px, JPEG), for lists."""
    path, content_type = photos.photo_file(session, photo_id, settings.photos_path, thumb=True)
    return _file(path, content_type)


@router.post("/patrols/{patrol_id}/photos", response_model=list[PatrolPhotoOut], status_code=201)
async def add_patrol_photos(
    patrol_id: Annotated[int, Path(ge=1, description="the check-in's id (from its answer)")],
    session: SessionDep,
    settings: SettingsDep,
    caller: Patroller,
    request: Request,
    files: Annotated[
        list[UploadFile],
        File(alias="photos", description=f"JPEG/PNG/WebP, ≤ 10 MB each, ≤ {photos.MAX_PER_PATROL}"),
    ],
) -> list[PatrolPhotoOut]:
    """巡查照片: attach photos of what you saw to one of your own check-ins (after it was sent,
    e.g. once the phone is back online).  The same photo sent again is not stored twice; GPS
    and other EXIF data are removed."""
    uploads = await read_uploads(files, photos.MAX_PER_PATROL)

    def work() -> list[photos.PhotoView]:
        stored = photos.add_patrol_photos(
            session, patrol_id, caller.user_id, uploads, settings.photos_path, caller.username
        )
        audit_caller(session, request, caller, "photo.add", f"patrol:{patrol_id}",
                     {"n": len(uploads)})  # fmt: skip
        session.commit()
        return stored

    stored = await run_in_threadpool(work)
    return [PatrolPhotoOut(**link) for link in patrol_links([p.id for p in stored])]


@router.get("/patrol-photos/{photo_id}", response_class=FileResponse)
def get_patrol_photo(
    photo_id: int, session: SessionDep, settings: SettingsDep, caller: PatrolReader
) -> FileResponse:
    """A check-in's photo (EXIF/GPS stripped), only if the check-in is in your jurisdiction."""
    path, content_type = photos.photo_file(
        session, photo_id, settings.photos_path, thumb=False, owner="patrol"
    )
    return _file(path, content_type)


@router.get("/patrol-photos/{photo_id}/thumb", response_class=FileResponse)
def get_patrol_thumbnail(
    photo_id: int, session: SessionDep, settings: SettingsDep, caller: PatrolReader
) -> FileResponse:
    """A check-in's photo's thumbnail (longest side 320 px, JPEG)."""
    path, content_type = photos.photo_file(
        session, photo_id, settings.photos_path, thumb=True, owner="patrol"
    )
    return _file(path, content_type)


def _file(path, content_type: str) -> FileResponse:  # type: ignore[no-untyped-def]
    if not path.exists():
        raise photos.missing_file()
    return FileResponse(
        path, media_type=content_type, headers={"Cache-Control": "private, max-age=86400"}
    )
