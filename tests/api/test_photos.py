"""Photos (sniffed, EXIF/GPS stripped, thumbnails, jurisdiction), the receipt page and its QR."""

from __future__ import annotations

import io
import re
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import text
from sqlalchemy.orm import Session

from importers.demo import DemoCity
from maps.pages import qr_png
from tests.conftest import report_body


@pytest.fixture
def grid_point(demo_city: DemoCity) -> tuple[float, float]:
    grid = next(g for g in demo_city.grids if g.code.startswith("990102001"))
    p = grid.geom.representative_point()
    return p.x, p.y


def jpeg_with_gps(colour: str = "red", size: tuple[int, int] = (640, 480)) -> bytes:
    """A JPEG carrying EXIF: camera, owner and a GPS position (what a phone writes)."""
    image = Image.new("RGB", size, colour)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x013B] = "张三"  # Artist
    exif[0x0112] = 6  # Orientation: rotate 90° to display
    gps = {1: "N", 2: (22.0, 57.0, 40.2), 3: "E", 4: (113.0, 56.0, 22.4)}
    exif[0x8825] = gps  # GPSInfo
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825), "fixture must carry GPS"
    return data


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (100, 50), (0, 128, 0, 200)).save(out, "PNG")
    return out.getvalue()


def _case(client: TestClient, point: tuple[float, float], headers: dict) -> str:
    r = client.post("/api/reports", json=report_body(*point), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["code"]


def test_photo_is_stored_without_exif_or_gps_and_has_a_thumbnail(
    anon_client: TestClient, login_as, grid_point
) -> None:  # type: ignore[no-untyped-def]
    headers = login_as("township_operator")
    code = _case(anon_client, grid_point, headers)
    original = jpeg_with_gps()
    r = anon_client.post(
        f"/api/cases/{code}/photos",
        files=[("photos", ("现场.jpg", original, "image/jpeg"))],
        headers=headers,
    )
    assert r.status_code == 201, r.text
    (photo,) = r.json()
    assert photo["content_type"] == "image/jpeg"
    assert (photo["width"], photo["height"]) == (480, 640)  # turned upright by its orientation
    served = anon_client.get(photo["url"], headers=headers)
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    import hashlib

    assert hashlib.sha256(served.content).hexdigest() == photo["sha256"]  # the checksum holds
    image = Image.open(io.BytesIO(served.content))
    exif = image.getexif()
    assert not exif.get_ifd(0x8825) and 0x010F not in exif and 0x013B not in exif
    assert b"PhoneMaker" not in served.content and "张三".encode() not in served.content
    assert "exif" not in image.info
    thumb = anon_client.get(photo["thumb_url"], headers=headers)
    assert thumb.status_code == 200
    assert max(Image.open(io.BytesIO(thumb.content)).size) <= 320
    case = anon_client.get(f"/api/cases/{code}", headers=headers).json()
    assert [p["id"] for p in case["photos"]] == [photo["id"]]
    listed = anon_client.get("/api/cases?mine=true&limit=5", headers=headers).json()
    feature = next(f for f in listed["features"] if f["properties"]["code"] == code)
    assert feature["properties"]["photo_count"] == 1
    assert feature["properties"]["thumb_url"] == photo["thumb_url"]


def test_a_report_whose_json_comes_as_a_file_part_is_taken_with_its_photo(
    anon_client: TestClient, login_as, grid_point
) -> None:  # type: ignore[no-untyped-def]
    """A multipart report whose ``report`` part is sent as a file (``report.json``, as some
    phone libraries send JSON parts) is read like the field; a part that is empty or not JSON,
    or photos sent as text, are refused naming the part, in words."""
    import json
    import uuid

    headers = login_as("grid_worker")
    body = json.dumps(report_body(*grid_point)).encode()

    def send(*parts: tuple) -> httpx.Response:
        key = {"Idempotency-Key": str(uuid.uuid4())}
        return anon_client.post("/api/reports", files=list(parts), headers=headers | key)

    photo = ("photos", ("现场.png", png_bytes(), "image/png"))
    r = send(("report", ("report.json", body, "application/json")), photo)
    assert r.status_code == 201, r.text
    assert len(r.json()["photos"]) == 1
    code = r.json()["code"]
    for part, said in [
        (("report", (None, "")), "report（上报内容）缺少必填字段"),
        (("report", ("report.json", b"{", "application/json")),
         "report（上报内容）不是有效的 JSON（第 1 行第 1 列附近有误）"),
        (("report", (None, '{"kind": ')), "report（上报内容）不是有效的 JSON（第 1 行"),
    ]:  # fmt: skip
        r = send(part, photo)
        assert r.status_code == 422 and r.json()["detail"].startswith(said), r.text
    # photos as text (a data: URL): refused, not a case without them
    r = send(("report", (None, body.decode())), ("photos", (None, "data:image/png;base64,iVBO")))
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("photos（照片）应为上传的文件，不是文本"), r.text
    r = anon_client.post(  # the same where photos are added to a case
        f"/api/cases/{code}/photos", files=[("photos", (None, "现场照片"))], headers=headers
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("photos.0（照片）应为上传的文件，不是文本"), r.text


def test_type_is_sniffed_from_content_not_name(
    anon_client: TestClient, login_as, grid_point
) -> None:  # type: ignore[no-untyped-def]
    headers = login_as("township_operator")
    code = _case(anon_client, grid_point, headers)
    r = anon_client.post(
        f"/api/cases/{code}/photos",
        files=[("photos", ("looks-like.jpg", png_bytes(), "image/jpeg"))],
        headers=headers,
    )
    assert r.status_code == 201 and r.json()[0]["content_type"] == "image/png"
    r = anon_client.post(
        f"/api/cases/{code}/photos",
        files=[("photos", ("photo.jpg", b"%PDF-1.4 not an image", "image/jpeg"))],
        headers=headers,
    )
    assert r.status_code == 422 and "JPEG" in r.json()["detail"]


def test_limits_and_retries(anon_client: TestClient, login_as, grid_point) -> None:  # type: ignore[no-untyped-def]
    headers = login_as("township_operator")
    code = _case(anon_client, grid_point, headers)
    big = b"\xff\xd8\xff" + b"0" * (10 * 1024 * 1024)
    r = anon_client.post(
        f"/api/cases/{code}/photos",
        files=[("photos", ("big.jpg", big, "image/jpeg"))],
        headers=headers,
    )
    assert r.status_code == 422 and "10 MB" in r.json()["detail"]
    colours = ["red", "green", "blue", "white", "black", "yellow", "purple"]
    photos = [("photos", (f"{c}.jpg", jpeg_with_gps(c, (64, 64)), "image/jpeg")) for c in colours]
    r = anon_client.post(f"/api/cases/{code}/photos", files=photos, headers=headers)
    assert r.status_code == 422 and "6" in r.json()["detail"]
    assert anon_client.get(f"/api/cases/{code}/photos", headers=headers).json() == []
    first = anon_client.post(f"/api/cases/{code}/photos", files=photos[:3], headers=headers)
    again = anon_client.post(f"/api/cases/{code}/photos", files=photos[:3], headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and len(first.json()) == 3  # a retry stores nothing new
    r = anon_client.post(f"/api/cases/{code}/photos", files=photos[3:], headers=headers)
    assert r.status_code == 422  # 3 + 4 > 6: nothing of this call is stored
    assert len(anon_client.get(f"/api/cases/{code}/photos", headers=headers).json()) == 3


def test_a_grid_worker_adds_photos_to_a_case_afterwards(
    anon_client: TestClient, login_as, grid_point
) -> None:  # type: ignore[no-untyped-def]
    """补充现场照片: back on the spot (整改后, 复核), the grid worker adds photos to a case of
    their grid from its page, up to the case's six; each photo says who added it and when."""
    desk = login_as("township_operator")
    code = _case(anon_client, grid_point, desk)
    r = anon_client.post(
        f"/api/cases/{code}/photos", files=[("photos", ("登记.png", png_bytes(), "image/png"))],
        headers=desk,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    worker = login_as("grid_worker")
    page = anon_client.get(f"/cases/{code}", headers=worker).text
    assert 'id="photo-form"' in page and "还可添加 5 张" in page
    r = anon_client.post(
        f"/api/cases/{code}/photos",
        files=[("photos", ("整改后.jpg", jpeg_with_gps("green"), "image/jpeg"))],
        headers=worker,
    )
    assert r.status_code == 201, r.text
    assert [p["uploaded_by"] for p in r.json()] == ["township_operator", "grid_worker"]
    assert all(p["uploaded_at"] for p in r.json())
    case = anon_client.get(f"/api/cases/{code}", headers=worker).json()
    assert [p["uploaded_by"] for p in case["photos"]] == ["township_operator", "grid_worker"]
    assert case["photos"][1]["uploaded_at"] == r.json()[1]["uploaded_at"]
    page = anon_client.get(f"/cases/{code}", headers=worker).text
    credits = re.findall(r"<figcaption>([^<]*)</figcaption>", page)
    assert [c.split(" · ")[0] for c in credits] == ["示例·街道综治中心", "示例·网格员"], credits
    assert "还可添加 4 张" in page
    # a role that may only look has no form; a case with six has it shut
    assert (
        'id="photo-form"'
        not in anon_client.get(f"/cases/{code}", headers=login_as("city_commander")).text
    )
    more = [
        ("photos", (f"{c}.jpg", jpeg_with_gps(c, (64, 64)), "image/jpeg"))
        for c in ("red", "blue", "white", "black")
    ]
    assert (
        anon_client.post(f"/api/cases/{code}/photos", files=more, headers=worker).status_code == 201
    )
    page = anon_client.get(f"/cases/{code}?lang=en", headers=worker).text
    assert "0 more may be added" in page
    assert re.search(r'<button type="submit" disabled>Upload the photos</button>', page)
    # the history: the desk's own photo went with its report; the grid worker's are added
    events = [
        (e["action"], e["actor"], e["data"])
        for e in anon_client.get(f"/api/cases/{code}", headers=worker).json()["events"]
        if e["action"] == "photo_added"
    ]
    assert events == [
        ("photo_added", "grid_worker", {"n": 1}), ("photo_added", "grid_worker", {"n": 4})
    ], events  # fmt: skip
    assert "<b>Photos added</b> 示例·网格员 <small class=wg-username>grid_worker</small>" in page
    assert '<span class=wg-note>4 photos</span> <a href="#photos">See the photos</a>' in page
    assert page.count('<a href="#photos">See the photos</a>') == 2 and 'id="photos"' in page
    page = anon_client.get(f"/cases/{code}?lang=zh", headers=worker).text
    assert "<b>补充现场照片</b>" in page and "<span class=wg-note>1 张</span>" in page


def test_photos_the_reporter_adds_days_later_are_in_the_history(  # type: ignore[no-untyped-def]
    anon_client: TestClient, app_db, login_as, grid_point
) -> None:
    """The reporter's photos of the first hours are the report's (a phone sends them one by one
    after it, maybe hours later); after that they are added, like anyone else's, and the public
    tracking page says so too (without the photos)."""
    from sqlalchemy import text

    from gis.photos import REPORT_PHOTOS_HOURS

    desk = login_as("township_operator")
    code = _case(anon_client, grid_point, desk)

    def upload(colour: str) -> None:
        files = [("photos", (f"{colour}.jpg", jpeg_with_gps(colour, (64, 64)), "image/jpeg"))]
        r = anon_client.post(f"/api/cases/{code}/photos", files=files, headers=desk)
        assert r.status_code == 201, r.text

    def added() -> list:
        case = anon_client.get(f"/api/cases/{code}", headers=desk).json()
        return [e["data"]["n"] for e in case["events"] if e["action"] == "photo_added"]

    upload("red")
    assert added() == []
    app_db.execute(
        text("UPDATE cases SET received_at = now() - make_interval(hours => :h) WHERE code = :c"),
        {"h": REPORT_PHOTOS_HOURS + 1, "c": code},
    )
    upload("blue")
    upload("blue")  # (sent again: the same photo, stored once, and added once)
    assert added() == [1]
    token = anon_client.get(f"/api/cases/{code}", headers=desk).json()["tracking_url"]
    assert "补充现场照片" in anon_client.get(token).text


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` × ``height`` pixels (its data holds one row)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * (width + 1))) + chunk(b"IEND", b"")
    )  # fmt: skip


@pytest.mark.parametrize("side", [9_000, 60_000])  # above our limit; far above Pillow's own
def test_a_decompression_bomb_is_refused_for_its_size(  # type: ignore[no-untyped-def]
    anon_client: TestClient, login_as, grid_point, side: int
) -> None:
    """Far above Pillow's own limit it was 'not a JPEG, PNG or WebP image'."""
    headers = login_as("township_operator")
    code = _case(anon_client, grid_point, headers)
    r = anon_client.post(
        f"/api/cases/{code}/photos",
        files=[("photos", ("bomb.png", _png_claiming(side, side), "image/png"))],
        headers=headers,
    )
    assert r.status_code == 422 and "像素过多" in r.json()["detail"], r.text


def test_photos_in_the_same_call_as_the_report(
    anon_client: TestClient, login_as, grid_point
) -> None:  # type: ignore[no-untyped-def]
    import json
    import uuid

    headers = login_as("township_operator") | {"Idempotency-Key": str(uuid.uuid4())}
    body = json.dumps(report_body(*grid_point))
    files = [
        ("photos", ("a.jpg", jpeg_with_gps(), "image/jpeg")),
        ("photos", ("b.png", png_bytes(), "image/png")),
    ]
    r = anon_client.post("/api/reports", data={"report": body}, files=files, headers=headers)
    assert r.status_code == 201, r.text
    assert len(r.json()["photos"]) == 2
    again = anon_client.post("/api/reports", data={"report": body}, files=files, headers=headers)
    assert again.status_code == 200 and again.json()["code"] == r.json()["code"]
    assert len(again.json()["photos"]) == 2
    bad = anon_client.post(
        "/api/reports",
        data={"report": body},
        files=[("photos", ("x.jpg", b"nope", "image/jpeg"))],
        headers=login_as("township_operator") | {"Idempotency-Key": str(uuid.uuid4())},
    )
    assert bad.status_code == 422  # and no case was created for it
    no_report = anon_client.post(
        "/api/reports",
        files=files,
        headers=login_as("township_operator") | {"Idempotency-Key": str(uuid.uuid4())},
    )
    assert no_report.status_code == 422 and "report" in no_report.json()["detail"]


def test_a_full_disk_refuses_the_photos_clearly_and_keeps_nothing_half_done(
    anon_client: TestClient, login_as, grid_point, settings, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """The photo store's disk is full: 507 saying so (not a bare 500), no half-written file
    left to fill it further, no photo recorded — and a report sent with its photos is not
    taken either, so the phone sends it again, under the same key, once there is room."""
    import errno
    import json
    import os
    import uuid

    import gis.photos

    real_fsync = os.fsync

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    headers = login_as("township_operator")
    code = _case(anon_client, grid_point, headers)
    monkeypatch.setattr(gis.photos.os, "fsync", disk_full)
    files = [("photos", ("现场.jpg", jpeg_with_gps("teal"), "image/jpeg"))]
    r = anon_client.post(f"/api/cases/{code}/photos", files=files, headers=headers)
    assert r.status_code == 507, r.text
    assert r.json()["code"] == "storage_full" and "存储空间已满" in r.json()["detail"]
    assert anon_client.get(f"/api/cases/{code}/photos", headers=headers).json() == []
    left = [p.name for p in settings.photos_path.rglob("*") if p.is_file()]
    assert not [n for n in left if n.startswith(".upload-")], left
    keyed = headers | {"Idempotency-Key": str(uuid.uuid4()), "Accept-Language": "en"}
    body = {"report": json.dumps(report_body(*grid_point, description="满盘时上报"))}
    r = anon_client.post("/api/reports", data=body, files=files, headers=keyed)
    assert r.status_code == 507 and "storage is full" in r.json()["detail"]
    monkeypatch.setattr(gis.photos.os, "fsync", real_fsync)  # room made
    r = anon_client.post("/api/reports", data=body, files=files, headers=keyed)
    assert r.status_code == 201, r.text  # (created now: the first try kept nothing)
    assert len(r.json()["photos"]) == 1


def test_photos_are_served_only_within_jurisdiction(
    anon_client: TestClient, login_as, grid_point
) -> None:  # type: ignore[no-untyped-def]
    headers = login_as("township_operator")
    code = _case(anon_client, grid_point, headers)
    (photo,) = anon_client.post(
        f"/api/cases/{code}/photos",
        files=[("photos", ("a.jpg", jpeg_with_gps(), "image/jpeg"))],
        headers=headers,
    ).json()
    other = login_as("township_operator_b")
    for url in (photo["url"], photo["thumb_url"], f"/api/cases/{code}/photos"):
        r = anon_client.get(url, headers=other)
        assert r.status_code == 404 or r.json() == [], url
    assert anon_client.get(photo["url"], headers=login_as("city_commander")).status_code == 200
    assert anon_client.get(photo["url"]).status_code == 401


def test_receipt_page_and_qr_code(anon_client: TestClient, login_as, grid_point) -> None:  # type: ignore[no-untyped-def]
    headers = login_as("township_operator")
    r = anon_client.post("/api/reports", json=report_body(*grid_point), headers=headers)
    case = r.json()
    assert case["receipt_url"] == f"/cases/{case['code']}/receipt"
    page = anon_client.get(case["receipt_url"], headers=headers)
    assert page.status_code == 200
    html = page.text
    assert "案件受理回执" in html and case["code"] in html and "<svg" in html
    assert "http://testserver" + case["tracking_url"] in html  # absolute: a phone must reach it
    assert case["location"]["center"]["name"] in html
    # the center's phone a tap away (and whole: not broken at its hyphen)
    phone = case["location"]["center"]["phone"]
    assert phone and f'<a href="tel:{phone}">{phone}</a>' in html
    assert not re.search(r"src=\"https?://", html)  # nothing from elsewhere
    svg = anon_client.get(case["qr_url"], headers=headers)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    png = anon_client.get(case["qr_url"].replace(".svg", ".png"), headers=headers)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    # segno's encoding is deterministic: the served code is the one for the absolute tracking URL
    assert png.content == qr_png("http://testserver" + case["tracking_url"])
    assert (
        anon_client.get(case["receipt_url"], headers=login_as("township_operator_b")).status_code
        == 404
    )
    english = anon_client.get(case["receipt_url"] + "?lang=en", headers=headers).text
    assert '<html lang="en">' in english and "Case receipt" in english
    assert "Print receipt" in english
    # the category in English; the center's name is a name, and stays as it is
    assert "Dispute · Neighbour" in english and case["location"]["center"]["name"] in english
    assert 'href="?lang=zh"' in english and "<svg" in english


def test_the_photo_folder_is_checked_against_the_database_and_its_unnamed_files_pruned(
    db, engine, grid_point, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """``wangge db photos``: the files the rows name and are missing (a restore without the
    folder) are found and their cases named; the files no row names (a failed upload's, a
    killed writer's temporary one) are removed when older than the grace period, never a file
    a row names (several rows may share one), never a young one, never one a storing
    transaction in flight is about to name."""
    import os
    import threading
    import time

    from shapely.geometry import Point

    from gis.photo_files import check_folder
    from gis.photos import FOLDER_LOCK, add_photos
    from gis.scope import Scope, bind_scope
    from tests.conftest import put_case

    folder = tmp_path / "photos"
    first, second = put_case(db, Point(grid_point)), put_case(db, Point(grid_point))
    add_photos(db, first, [("a.jpg", jpeg_with_gps("navy"))], folder, "tester")
    _, own = add_photos(
        db, second, [("a.jpg", jpeg_with_gps("navy")), ("b.png", png_bytes())], folder, "tester"
    )
    stored = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert len(stored) == 4  # two pictures and their thumbnails, one pair for both cases
    thumb = next(n for n in stored if n.startswith(own.sha256[:2]) and "thumb" in n)
    (folder / thumb).unlink()  # (copied back without it)
    hours_ago = time.time() - 3 * 3600

    def leftover(name: str, *, old: bool = True) -> Path:
        path = folder / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"x" * 100)
        if old:
            os.utime(path, (hours_ago, hours_ago))
        return path

    failed = leftover("0f/0f" + "1" * 62 + ".jpg")  # a rolled-back upload's picture
    killed = leftover(f"{stored[0][:2]}/.upload-k1ll3d")  # a killed writer's temporary file
    young = leftover("0f/0f" + "2" * 62 + ".jpg", old=False)  # an upload still in flight
    note = folder / "说明.txt"  # the folder's own: not the store's
    note.write_text("照片目录")
    os.utime(note, (hours_ago, hours_ago))

    found = check_folder(db, folder)
    assert (found.named, found.present, found.missing) == (4, 3, 1)
    assert found.altered == 0  # (not read without verify)
    assert [(m.label, m.file_name) for m in found.examples] == [(second, thumb)]
    assert "照片 #" in found.examples[0].describe() and second in found.examples[0].describe("en")
    assert (found.unnamed, found.unnamed_bytes, found.young) == (3, 300, 1)
    assert (found.removable, found.removed) == (2, 0)
    assert failed.exists() and killed.exists()  # (a check removes nothing)

    # a storing transaction in flight names the failed upload's file again (the same photo
    # sent again): the removal waits for it, asks again, and keeps the file
    other = Session(engine)
    bind_scope(other, Scope.everything())
    other.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": FOLDER_LOCK})
    case_id = other.execute(text("SELECT id FROM cases ORDER BY id LIMIT 1")).scalar_one()
    row = other.execute(
        text("""INSERT INTO case_photo (case_id, sha256, upload_sha256, content_type, bytes,
                                        width, height, file_name, thumb_name, uploaded_by)
                VALUES (:case, :sha, :sha, 'image/jpeg', 100, 1, 1, :file, :file, 'tester')
                RETURNING id"""),
        {"case": case_id, "sha": "0f" + "1" * 62, "file": failed.relative_to(folder).as_posix()},
    ).scalar_one()
    result: list = []
    pruning = threading.Thread(target=lambda: result.append(check_folder(db, folder, prune=True)))
    pruning.start()
    try:
        waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        for _ in range(200):
            with engine.connect() as conn:
                if conn.execute(text(waiting)).scalar_one():
                    break
            time.sleep(0.05)
        else:
            raise AssertionError("the removal did not wait for the storing transaction")
        other.commit()
        pruning.join(30)
        (pruned,) = result
        assert (pruned.removed, pruned.freed) == (1, 100)  # the killed writer's only
        assert failed.exists() and not killed.exists() and young.exists() and note.exists()
        assert all((folder / n).exists() for n in stored if n != thumb)
        again = check_folder(db, folder, prune=True, grace_hours=0)
        assert (again.removed, again.unnamed, again.missing) == (1, 1, 1)  # the young one now
        assert not young.exists() and failed.exists()
        # a picture changed on the disk (its content no longer its checksum): --verify finds it
        # (the row named the failed upload's made-up file: that one differs already)
        picture = next(n for n in stored if n.startswith(own.sha256[:2]) and "thumb" not in n)
        assert check_folder(db, folder, verify=True).altered == 1
        (folder / picture).write_bytes((folder / picture).read_bytes() + b"\0")
        altered = check_folder(db, folder, verify=True)
        assert altered.altered == 2 and second in [m.label for m in altered.altered_examples]
    finally:
        pruning.join(30)
        other.rollback()
        other.execute(text("DELETE FROM case_photo WHERE id = :id"), {"id": row})
        other.commit()
        other.close()
