"""巡查打卡: patrol check-ins — exactly once under the phone's key, located, kept in the worker's
own jurisdiction, listed for the desks, counted on the roster, drawn on the patrol map."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gis.cases import SHANGHAI
from gis.datum import gcj02_to_wgs84, wgs84_to_gcj02
from tests.conftest import grid_worker_point
from tests.maps.test_browser import _free_port, _serving

GRID_WORKER = "W99010200100101"  # the demo grid worker's roster code


def _recently(minutes: float = 2, days: int = 0) -> datetime:
    """``minutes`` (and ``days``) ago, but on that day in Beijing even just after its midnight:
    the tests look for today's check-ins on today's pages, and a suite that reaches them at
    00:01 Beijing time (16:01 UTC) made its "2 minutes ago" yesterday's."""
    now = datetime.now(SHANGHAI) - timedelta(days=days)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return max(now - timedelta(minutes=minutes), midnight).astimezone(UTC)


def _body(lon: float, lat: float, datum: str = "wgs84", **extra: object) -> dict:
    body: dict = {
        "location": {"lon": lon, "lat": lat, "datum": datum, "accuracy_m": 10},
        "checked_at": _recently().isoformat(timespec="seconds"),
        "note": "沿街商铺消防通道畅通",
    }
    body.update(extra)
    return body


@pytest.fixture
def point(engine: Engine) -> tuple[float, float]:
    return grid_worker_point(engine)


@pytest.fixture
def worker(anon_client: TestClient, login_as: Callable) -> TestClient:
    anon_client.headers.update(login_as("grid_worker"))
    return anon_client


def _check_in(client: TestClient, body: dict, key: str | None = None) -> httpx.Response:
    headers = {} if key == "" else {"Idempotency-Key": key or str(uuid.uuid4())}
    return client.post("/api/patrols", json=body, headers=headers)


def test_a_check_in_is_located_and_a_retry_replays_it(worker: TestClient, point: tuple) -> None:
    key, body = str(uuid.uuid4()), _body(*point)
    first = _check_in(worker, body, key)
    assert first.status_code == 201, first.text
    p = first.json()
    assert p["worker_code"] == GRID_WORKER and p["username"] == "grid_worker"
    assert p["grid_code"] == "990102001001001" and p["own_grid"] is True
    assert p["assign_method"] == "covers" and p["village_code"] == "990102001001"
    assert p["note"] == "沿街商铺消防通道畅通" and p["flags"] == {}
    again = _check_in(worker, body, key)  # the answer was lost: sent again
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == p["id"]
    other = _check_in(worker, dict(body, note="另一次"), key)
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["detail"]
    missing = _check_in(worker, _body(*point), "")
    assert missing.status_code == 400 and "Idempotency-Key" in missing.json()["detail"]
    blank = _check_in(worker, _body(*point, note="  "))  # a blank note is none
    assert blank.status_code == 201 and blank.json()["note"] is None


def test_the_phone_datum_is_converted_before_locating(worker: TestClient, point: tuple) -> None:
    shifted = wgs84_to_gcj02(*point)
    r = _check_in(worker, _body(float(shifted[0]), float(shifted[1]), "gcj02"))
    assert r.status_code == 201, r.text
    back = gcj02_to_wgs84(*shifted)
    assert r.json()["lon"] == pytest.approx(float(back[0]), abs=1e-9)
    assert r.json()["lat"] == pytest.approx(float(back[1]), abs=1e-9)
    assert r.json()["grid_code"] == "990102001001001"


def _track(
    lon: float, lat: float, n: int = 3, step_s: int = 60, step: float = 0.0001
) -> list[list[float]]:
    """``n`` points walked north-east from (lon, lat), ``step`` degrees apart each way (0.0001:
    ~15 m), ending 3 minutes ago."""
    end = datetime.now(UTC).timestamp() - 180
    return [[lon + i * step, lat + i * step, end - (n - 1 - i) * step_s] for i in range(n)]


def test_a_check_in_carries_the_way_walked_to_it(
    worker: TestClient, point: tuple, app_db: Session
) -> None:
    """巡查轨迹: the points the phone kept since the last check-in come with the next one,
    converted from the phone's datum like the check-in; listed with it, with their length."""
    lon, lat = point
    r = _check_in(worker, _body(lon, lat, track=_track(lon, lat)))
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["track"] == [
        [round(lon + i * 0.0001, 6), round(lat + i * 0.0001, 6)] for i in range(3)
    ]
    assert 25 < p["track_m"] < 35  # two steps of ~14.6 m at this latitude
    stored = app_db.execute(
        text("SELECT ST_NPoints(track), ST_M(ST_EndPoint(track)) FROM patrol WHERE id = :i"),
        {"i": p["id"]},
    ).one()
    assert stored[0] == 3 and stored[1] == pytest.approx(_track(lon, lat)[-1][2], abs=5)
    day = datetime.now(SHANGHAI).date().isoformat()
    listed = worker.get(f"/api/patrols?day={day}").json()["features"]
    mine = next(f for f in listed if f["properties"]["id"] == p["id"])
    assert mine["properties"]["track"] == p["track"]
    # a phone that gives GCJ-02: each point converted, as the check-in is
    shifted = [[*map(float, wgs84_to_gcj02(x, y)), t] for x, y, t in _track(lon, lat)]
    gx, gy = map(float, wgs84_to_gcj02(lon, lat))
    r = _check_in(worker, _body(gx, gy, "gcj02", track=shifted))
    assert r.status_code == 201, r.text
    assert r.json()["track"][0] == pytest.approx([lon, lat], abs=2e-6)
    # without a track: as before
    assert _check_in(worker, _body(lon, lat)).json()["track"] is None


def test_the_way_walked_counts_patrol_speed_only(
    worker: TestClient, point: tuple, login_as: Callable
) -> None:
    """巡查里程: a stretch faster than an e-bike (25 km/h) is a ride, or the position jumping for
    a fix and back: kept in the line as the phone sent it, not counted as walked."""
    lon, lat = point
    end = datetime.now(UTC).timestamp() - 60
    step = 0.0001  # ~14.6 m north-east
    ride = [  # a step walked, 2 km by car in two minutes, a step walked
        [lon, lat, end - 300],
        [lon + step, lat + step, end - 240],
        [lon + step + 0.02, lat + step, end - 120],
        [lon + 2 * step + 0.02, lat + 2 * step, end - 60],
    ]
    jump = [  # a step walked, then the position 500 m off for one fix and back
        [lon, lat, end - 120],
        [lon + step, lat + step, end - 60],
        [lon + step + 0.005, lat + step, end - 55],
        [lon + 2 * step, lat + 2 * step, end],
    ]
    for track, walked, fast in ((ride, 2, [1]), (jump, 1, [1, 2])):
        r = _check_in(worker, _body(lon, lat, track=track))
        assert r.status_code == 201, r.text
        assert len(r.json()["track"]) == 4  # the line whole
        assert 14 * walked < r.json()["track_m"] < 15.5 * walked, (walked, r.json()["track_m"])
        assert r.json()["track_fast"] == fast  # (the stretches left out, for the map)
    # at a walk or an e-bike's pace, all of it counts: 2 km in 5 minutes (24 km/h)
    pedalled = [[lon, lat, end - 300], [lon + 0.02, lat, end]]
    r = _check_in(worker, _body(lon, lat, track=pedalled))
    assert 1900 < r.json()["track_m"] < 2100, r.json()["track_m"]
    assert r.json()["track_fast"] == []
    assert _check_in(worker, _body(lon, lat)).json()["track_fast"] is None  # (no track)
    # the desk's patrol map of the day draws the stretches left out apart, and says so
    page = worker.get(f"/workers/{GRID_WORKER}/patrols", headers=login_as("township_operator"))
    assert page.status_code == 200 and '"track_fast": [1, 2]' in page.text
    assert json.dumps("快于每小时 25 公里")[1:-1] in page.text  # (as the page's script has it)


@pytest.mark.parametrize(
    ("track", "words"),
    [
        ("one", "2 至"),
        ("backwards", "时间先后"),
        ("yesterday", "小时内"),
        ("nowhere", "无效坐标"),
    ],
)
def test_a_track_that_cannot_be_is_refused_with_the_reason(
    worker: TestClient, point: tuple, track: str, words: str
) -> None:
    lon, lat = point
    points = _track(lon, lat)
    bad = {
        "one": points[:1],
        "backwards": points[::-1],
        "yesterday": [[x, y, t - 86400] for x, y, t in points],
        "nowhere": [[x + 400, y, t] for x, y, t in points],
    }[track]
    r = _check_in(worker, _body(lon, lat, track=bad))
    assert r.status_code == 422 and words in r.text, r.text


@pytest.mark.parametrize(
    ("lon", "lat", "words"),
    [(0, 0, "(0, 0)"), (100.0, 40.0, "20 公里"), ("swap", None, "填反")],
)
def test_implausible_positions_are_refused_with_the_reason(
    worker: TestClient, point: tuple, lon: object, lat: object, words: str
) -> None:
    if lon == "swap":
        lon, lat = point[1], point[0]
    r = _check_in(worker, _body(lon, lat))
    assert r.status_code == 422 and words in r.text, r.text


def test_a_check_in_outside_ones_grids_is_kept_and_marked(
    worker: TestClient, app_db: Session
) -> None:
    lon, lat = app_db.execute(
        text("""SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid
                WHERE valid_to IS NULL AND code = '990102001002001') s""")
    ).one()
    r = _check_in(worker, _body(lon, lat))
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["grid_code"] == "990102001002001" and p["own_grid"] is False
    assert p["village_code"] == "990102001001"  # the worker's own village keeps it


def test_a_check_in_time_no_calendar_can_show_is_refused_by_name(
    worker: TestClient, point: tuple
) -> None:
    """checked_at 9999-12-31T23:00-05:00 (year 10000 in UTC) was refused as "a value the
    database cannot keep"; 9999-12-31T23:59Z was kept, a year 10000 in Beijing."""
    for at in ("9999-12-31T23:00:00-05:00", "9999-12-31T23:59:59+00:00"):
        r = _check_in(worker, _body(*point) | {"checked_at": at})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "checked_at", r.text
        assert "请检查设备时钟" in r.json()["detail"]


def test_a_check_in_kept_from_a_clock_years_ahead_is_not_the_last_patrol(
    worker: TestClient, point: tuple, app_db: Session, login_as: Callable
) -> None:
    """A check-in dated 9999-12-31T23:59Z was kept before such times were refused: the roster,
    its workbook and the grid's popup showed it as the last patrol, in Beijing time — year
    10000, and each answered 500.  A time more than a day ahead is not the last patrol, nor a
    day on patrol (the roster's, the popup's, the ledger's)."""
    r = _check_in(worker, _body(*point))
    assert r.status_code == 201, r.text
    desk = login_as("township_operator")
    grid = r.json()["grid_code"]

    def days() -> tuple[str, int, str]:  # the roster's, the popup's and the ledger's
        page = worker.get("/workers?region=990102001001", headers=desk).text
        row = page.split(f"<small>{GRID_WORKER} · 网格长</small>")[1].split("</tr>")[0]
        ledger = worker.get("/grids?region=990102001001", headers=desk).text
        return (
            row.split(f'href="/workers/{GRID_WORKER}/patrols">')[1].split("<")[0],
            worker.get(f"/api/grids/{grid}/summary", headers=desk).json()["patrol"]["days"],
            ledger.split(f"/maps/grid/{grid}")[1].split("</tr>")[0],
        )

    before = days()
    app_db.execute(
        text("""INSERT INTO patrol (user_id, worker_id, idempotency_key, fingerprint, checked_at,
                    datum, received_lon, received_lat, geom, accuracy_m, flags, grid_code,
                    assign_method, own_grid, note, village_code, township_code, district_code,
                    city_code)
                SELECT user_id, worker_id, gen_random_uuid(), fingerprint,
                       '9999-12-31T23:59:59Z', datum, received_lon, received_lat, geom,
                       accuracy_m, flags, grid_code, assign_method, own_grid, note, village_code,
                       township_code, district_code, city_code
                FROM patrol WHERE id = :id"""),
        {"id": r.json()["id"]},
    )
    app_db.commit()  # (to the test's savepoint)
    assert days() == before
    for url in ("/workers?region=990102001001", "/workers.xlsx?region=990102001001",
                "/grids.xlsx?region=990102001001"):  # fmt: skip
        page = worker.get(url, headers=desk)
        assert page.status_code == 200, (url, page.text[:300])
    page = worker.get("/workers?region=990102001001", headers=desk).text
    row = page.split(f"<small>{GRID_WORKER} · 网格长</small>")[1].split("</tr>")[0]
    assert "9999" not in row and "10000" not in row, row
    summary = worker.get(f"/api/grids/{grid}/summary", headers=desk)
    assert summary.status_code == 200, summary.text
    assert not summary.json()["patrol"]["last"].startswith(("9999", "10000")), summary.json()


def test_only_those_who_patrol_check_in(
    anon_client: TestClient, login_as: Callable, point: tuple
) -> None:
    anon_client.headers.update(login_as("township_operator"))
    r = _check_in(anon_client, _body(*point))
    assert r.status_code == 403 and r.json()["permission"] == "patrol:record"


def test_a_batch_judges_each_item_and_replays_cleanly(
    worker: TestClient, point: tuple, app_db: Session
) -> None:
    items = [
        dict(_body(*point, note=f"第{i}次"), idempotency_key=str(uuid.uuid4())) for i in range(8)
    ]
    items.append(items[0])  # the same check-in twice in one batch
    items.append(dict(items[1], note="另一次"))  # its key, other content
    items.append(dict(_body(0, 0), idempotency_key=str(uuid.uuid4())))
    items.append(_body(*point))  # no key
    items.append({"idempotency_key": str(uuid.uuid4()), "checked_at": "昨天"})
    r = worker.post("/api/patrols/batch", json={"patrols": items})
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["created"], out["replayed"], out["conflict"], out["rejected"]) == (8, 1, 1, 3)
    statuses = [x["status"] for x in out["results"]]
    assert statuses == ["created"] * 8 + [
        "replayed",
        "conflict",
        "rejected",
        "rejected",
        "rejected",
    ]
    assert out["results"][8]["patrol"]["id"] == out["results"][0]["patrol"]["id"]
    assert "定位没有成功" in out["results"][10]["detail"]
    ids = [x["patrol"]["id"] for x in out["results"][:8]]
    for _ in range(3):  # the phone never heard back: the same batch again, and again
        again = worker.post("/api/patrols/batch", json={"patrols": items[:8]}).json()
        assert again["replayed"] == 8 and [x["patrol"]["id"] for x in again["results"]] == ids
    count = app_db.execute(
        text("SELECT count(*) FROM patrol WHERE id = ANY(:ids)"), {"ids": ids}
    ).scalar_one()
    assert count == 8
    too_many = worker.post("/api/patrols/batch", json={"patrols": [items[0]] * 501})
    assert too_many.status_code == 422


def test_the_desks_see_their_workers_check_ins_and_no_one_elses(
    anon_client: TestClient, login_as: Callable, point: tuple
) -> None:
    anon_client.headers.update(login_as("grid_worker"))
    made = _check_in(anon_client, _body(*point, note="巡查可见性")).json()
    today = datetime.now(SHANGHAI).date()  # (the day of a check-in is Beijing's)

    def listed(user: str, query: str) -> httpx.Response:
        anon_client.headers.update(login_as(user))
        return anon_client.get(f"/api/patrols?{query}")

    mine = listed("grid_worker", "")
    assert mine.status_code == 200 and mine.headers["content-type"].startswith(
        "application/geo+json"
    )
    feature = next(f for f in mine.json()["features"] if f["properties"]["id"] == made["id"])
    assert feature["geometry"]["type"] == "Point"
    assert feature["properties"]["grid_code"] == "990102001001001"
    township = listed("township_operator", f"worker={GRID_WORKER}&days=2&day={today}")
    assert made["id"] in [f["properties"]["id"] for f in township.json()["features"]]
    by_grid = listed("township_operator", "grid=990102001001001")
    assert made["id"] in [f["properties"]["id"] for f in by_grid.json()["features"]]
    other = listed("township_operator_b", "")  # the next township's desk
    assert made["id"] not in [f["properties"]["id"] for f in other.json()["features"]]
    unknown = listed("township_operator_b", f"worker={GRID_WORKER}")
    assert unknown.status_code == 404 and GRID_WORKER in unknown.json()["detail"]
    assert listed("township_operator", "days=32").status_code == 422
    assert listed("township_operator", "day=9999-12-31").status_code == 422


def test_numbers_typed_into_a_check_ins_note_are_masked_unless_unmasked(
    anon_client: TestClient, login_as: Callable, point: tuple, app_db: Session
) -> None:
    """巡查情况 "出租屋房东 13911112222": the number masked in every answer, as a case's
    description; ``unmask=true`` gives it as written to pii:read, audited; others get 403."""
    anon_client.headers.update(login_as("grid_worker"))
    note = "出租屋房东 13911112222 已提醒消防"
    made = _check_in(anon_client, _body(*point, note=note))
    assert made.status_code == 201 and made.json()["note"] == "出租屋房东 139****2222 已提醒消防"
    anon_client.headers.update(login_as("township_operator"))
    listed = anon_client.get(f"/api/patrols?worker={GRID_WORKER}").json()["features"]
    mine = next(f for f in listed if f["properties"]["id"] == made.json()["id"])
    assert mine["properties"]["note"] == "出租屋房东 139****2222 已提醒消防"
    whole = anon_client.get(f"/api/patrols?worker={GRID_WORKER}&unmask=true").json()
    written = next(f for f in whole["features"] if f["properties"]["id"] == made.json()["id"])
    assert written["properties"]["note"] == note
    trail = app_db.execute(
        text("""SELECT username, object FROM audit_log WHERE action = 'pii.view'
                ORDER BY id DESC LIMIT 1""")
    ).one()
    assert tuple(trail) == ("township_operator", "patrol")
    anon_client.headers.update(login_as("grid_worker"))
    assert anon_client.get("/api/patrols?unmask=true").status_code == 403


def test_the_command_map_colours_grids_by_days_with_a_check_in(
    db: Session, anon_client: TestClient, login_as: Callable, point: tuple
) -> None:
    grid = "990102001001001"

    def counted(user: str, query: str) -> dict:
        r = anon_client.get(f"/api/grid-counts?{query}", headers=login_as(user))
        assert r.status_code == 200, r.text
        return r.json()

    def stored(days: int) -> int:  # the same count, straight from the table
        return db.execute(
            text("""SELECT count(DISTINCT CAST(checked_at AT TIME ZONE 'Asia/Shanghai' AS date))
                    FROM patrol WHERE grid_code = :g AND checked_at
                    >= date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai')
                       AT TIME ZONE 'Asia/Shanghai' - make_interval(days => :d - 1)"""),
            {"g": grid, "d": days},
        ).scalar_one()

    before = counted("township_operator", "days=30&patrols=true")
    assert before["days"] == 30 and before["breaks"]["patrol"] == [8, 15, 23, 30]
    assert before["patrol_days"].get(grid, 0) == stored(30) > 0  # the demo's weeks of patrols
    assert set(before["patrol_days"]) <= set(before["grids"])
    assert "patrol_days" not in counted("township_operator", "days=30")  # asked for only
    today = datetime.now(SHANGHAI).date().isoformat()
    # (a check-in of today that another test committed makes today counted already)
    new_day = 0 if stored(1) else 1
    assert (grid in counted("township_operator", f"day={today}&patrols=true")["patrol_days"]) == (
        not new_day
    )
    for note in ("上午", "下午"):  # two check-ins today: one day more, not two
        anon_client.headers.update(login_as("grid_worker"))
        now = datetime.now(UTC).isoformat(timespec="seconds")  # (today's, even at midnight)
        r = _check_in(anon_client, _body(*point, note=note, checked_at=now))
        assert r.status_code == 201, r.text
    today = datetime.now(SHANGHAI).date().isoformat()
    after = counted("township_operator", "days=30&patrols=true")
    assert after["patrol_days"][grid] == before["patrol_days"].get(grid, 0) + new_day
    one_day = counted("township_operator", f"day={today}&patrols=true")
    assert one_day["patrol_days"][grid] == 1 and one_day["breaks"]["patrol"] == [1]
    other = counted("township_operator_b", "days=30&patrols=true")  # the next township's desk
    assert grid not in other["patrol_days"]
    # the grid's popup: its patrol days and last check-in, its worker's code for the patrol map
    summary = anon_client.get(
        f"/api/grids/{grid}/summary", headers=login_as("township_operator")
    ).json()
    assert summary["patrol"]["days"] == after["patrol_days"][grid]
    assert summary["patrol"]["of_days"] == 30 and summary["patrol"]["last"].startswith(today)
    assert GRID_WORKER in [w["code"] for w in summary["workers"]]


def test_row_level_security_hides_other_townships_check_ins(
    app_db: Session, point: tuple, anon_client: TestClient, login_as: Callable
) -> None:
    anon_client.headers.update(login_as("grid_worker"))
    made = _check_in(anon_client, _body(*point)).json()
    app_db.execute(text("SELECT set_config('wangge.scope', '990103001', true)"))
    seen = app_db.execute(
        text("SELECT count(*) FROM patrol WHERE id = :id"), {"id": made["id"]}
    ).scalar_one()
    assert seen == 0  # the database itself refuses, whatever the query says


def test_the_roster_counts_days_on_patrol_and_links_the_patrol_map(
    anon_client: TestClient, login_as: Callable, point: tuple
) -> None:
    anon_client.headers.update(login_as("grid_worker"))
    for days_ago in (0, 0, 3):
        at = _recently(minutes=1, days=days_ago)
        body = _body(*point, checked_at=at.isoformat(timespec="seconds"), note="名册巡查")
        assert _check_in(anon_client, body).status_code == 201
    walked = _check_in(anon_client, _body(*point, track=_track(*point, n=10, step=0.0005)))
    assert walked.status_code == 201 and walked.json()["track_m"] > 600  # 巡查里程
    anon_client.headers.update(login_as("township_operator"))
    page = anon_client.get("/workers?region=990102001001")
    assert page.status_code == 200
    row = page.text.split(f"<small>{GRID_WORKER} · 网格长</small>")[1].split("</tr>")[0]
    assert f'href="/workers/{GRID_WORKER}/patrols"' in row
    days = int(row.split(f'href="/workers/{GRID_WORKER}/patrols">')[1].split(" 天")[0])
    assert days >= 2  # (other tests may have checked in today too)
    km = float(row.split("<small>轨迹 ")[1].split(" 公里")[0])  # the routes their check-ins carried
    assert km >= 0.6
    # a worker without an account cannot check in: a dash, not "0 天"
    other = page.text.split("<small>W99010200100102 · 网格长</small>")[1].split("</tr>")[0]
    assert other.endswith('<td><span title="无账号，不能打卡">—</span></td>'), other
    sheet = anon_client.get("/workers.xlsx?region=990102001001")
    assert sheet.status_code == 200
    from io import BytesIO

    from openpyxl import load_workbook

    ws = load_workbook(BytesIO(sheet.content)).active
    headers = [c.value for c in ws[2]]
    assert "近30天巡查天数" in headers and "最近巡查" in headers
    code_at, days_at = headers.index("工号"), headers.index("近30天巡查天数")
    row_of = next(r for r in ws.iter_rows(min_row=3, values_only=True) if r[code_at] == GRID_WORKER)
    assert row_of[days_at] == days
    assert row_of[headers.index("近30天巡查里程（公里）")] == pytest.approx(km, abs=0.06)
    # the grids by code and by name, as the page shows them
    names_at = headers.index("网格名称")
    assert headers[names_at - 1] == "负责网格" and "社区第1网格" in row_of[names_at]


def test_the_patrol_map_shows_a_workers_day(
    anon_client: TestClient, login_as: Callable, point: tuple
) -> None:
    anon_client.headers.update(login_as("grid_worker"))
    assert _check_in(anon_client, _body(*point, note="地图上的一次巡查")).status_code == 201
    anon_client.headers.update(login_as("township_operator"))
    page = anon_client.get(f"/workers/{GRID_WORKER}/patrols")
    assert page.status_code == 200
    note = json.dumps("地图上的一次巡查")[1:-1]  # (as the page's script carries it)
    assert "巡查轨迹" in page.text and note in page.text
    assert "990102001001001" in page.text  # their grid, drawn bold
    today = datetime.now(SHANGHAI).date()
    day_link = f"/workers/{GRID_WORKER}/patrols?day={{}}"
    assert day_link.format(today - timedelta(days=1)) in page.text  # the day before …
    assert day_link.format(today + timedelta(days=1)) not in page.text  # … and none after today
    earlier = anon_client.get(f"/workers/{GRID_WORKER}/patrols?day=2026-01-01")
    assert earlier.status_code == 200 and day_link.format("2026-01-02") in earlier.text
    assert note not in earlier.text
    assert anon_client.get(f"/workers/{GRID_WORKER}/patrols?day=0001-01-01").status_code == 422
    anon_client.headers.update(login_as("township_operator_b"))
    assert anon_client.get(f"/workers/{GRID_WORKER}/patrols").status_code == 404


def test_parallel_retries_record_exactly_one_check_in(
    base_settings: object, tokens: dict[str, str], engine: Engine, point: tuple
) -> None:
    """20 parallel sends of one key, 30 rounds, through a live server: one check-in a key, and
    never a 5xx (the later ones wait for the first, then replay it)."""
    keys = [str(uuid.uuid4()) for _ in range(30)]
    body = _body(*point, note="并发打卡")
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    headers = {"Authorization": f"Bearer {tokens['grid_worker']}"}
    with (
        _serving(base_settings, _free_port()) as url,  # type: ignore[arg-type]
        httpx.Client(base_url=url, headers=headers, timeout=30) as http,
        ThreadPoolExecutor(max_workers=20) as pool,
    ):

        def send(key: str) -> int:
            return http.post(
                "/api/patrols", json=body, headers={"Idempotency-Key": key}
            ).status_code

        for key in keys:
            for code in pool.map(send, [key] * 20):
                with lock:
                    statuses[code] = statuses.get(code, 0) + 1
    assert set(statuses) <= {200, 201}, statuses
    assert statuses[201] == len(keys)
    with engine.begin() as conn:
        counts = conn.execute(
            text("SELECT count(*) FROM patrol WHERE idempotency_key::text = ANY(:keys)"),
            {"keys": keys},
        ).scalar_one()
        conn.execute(
            text("DELETE FROM patrol WHERE idempotency_key::text = ANY(:keys)"), {"keys": keys}
        )
    assert counts == len(keys)


def test_the_demo_grid_worker_has_weeks_of_patrols_each_in_its_own_grid(db: Session) -> None:
    days, disagree, routed, odd_routes, speed = db.execute(
        text("""
        SELECT count(DISTINCT (p.checked_at AT TIME ZONE 'Asia/Shanghai')::date),
               count(*) FILTER (WHERE a.grid_code IS DISTINCT FROM p.grid_code),
               count(p.track),
               -- each route ends at its check-in, at its time, inside its grid, in time order
               count(*) FILTER (WHERE NOT ST_Equals(ST_Force2D(ST_EndPoint(p.track)), p.geom)
                                OR ST_M(ST_EndPoint(p.track)) <> date_part('epoch', p.checked_at)
                                OR NOT ST_Covers(g.geom, ST_Force2D(p.track))
                                OR ST_M(ST_StartPoint(p.track)) >= ST_M(ST_EndPoint(p.track))),
               max(p.track_m / (ST_M(ST_EndPoint(p.track)) - ST_M(ST_StartPoint(p.track))))
        FROM patrol p JOIN app_user u ON u.id = p.user_id
        JOIN grid g ON g.code = p.grid_code AND g.valid_to IS NULL
        CROSS JOIN LATERAL wangge_assign(p.geom) a
        WHERE u.username = 'grid_worker' AND p.fingerprint = '\\x00'
    """)
    ).one()
    assert days >= 20 and disagree == 0
    assert routed > 40 and odd_routes == 0 and speed < 1.8  # (walking: under 6.5 km/h)


def test_a_check_in_carries_photos_of_what_was_seen(  # type: ignore[no-untyped-def]
    worker: TestClient, point: tuple, login_as: Callable
) -> None:
    """巡查照片: the worker adds photos to their own check-in (after it was sent); they are
    cleaned like a case's, listed with the check-in, and served to whoever may see it."""
    import io

    from PIL import Image

    from tests.api.test_photos import jpeg_with_gps, png_bytes

    created = _check_in(worker, _body(*point))
    assert created.status_code == 201 and created.json()["photos"] == []
    patrol_id = created.json()["id"]
    url = f"/api/patrols/{patrol_id}/photos"
    r = worker.post(url, files=[("photos", ("消防通道.jpg", jpeg_with_gps(), "image/jpeg"))])
    assert r.status_code == 201, r.text
    (photo,) = r.json()
    served = worker.get(photo["url"])
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert not Image.open(io.BytesIO(served.content)).getexif().get_ifd(0x8825)  # no GPS
    assert b"PhoneMaker" not in served.content
    assert max(Image.open(io.BytesIO(worker.get(photo["thumb_url"]).content)).size) <= 320
    # sent again after a lost answer: still one; more than three in all: refused, saying so
    again = worker.post(url, files=[("photos", ("消防通道.jpg", jpeg_with_gps(), "image/jpeg"))])
    assert [p["id"] for p in again.json()] == [photo["id"]]
    three = [("photos", (f"{c}.jpg", jpeg_with_gps(c), "image/jpeg")) for c in
             ("blue", "green", "yellow")]  # fmt: skip
    too_many = worker.post(url, files=three)
    assert too_many.status_code == 422 and "最多 3 张" in too_many.json()["detail"]
    assert (
        worker.post(url, files=[("photos", ("a.png", png_bytes(), "image/png"))]).status_code == 201
    )
    # listed with the check-in, for the phone and for the desk
    listed = worker.get("/api/patrols?mine=true").json()["features"]
    mine = next(f for f in listed if f["properties"]["id"] == patrol_id)
    shown = [p["id"] for p in mine["properties"]["photos"]]
    assert len(shown) == 2 and shown[0] == photo["id"]
    desk = login_as("township_operator")
    assert worker.get(photo["url"], headers=desk).status_code == 200
    assert worker.get(photo["url"], headers=login_as("township_operator_b")).status_code == 404
    # nobody adds to another's check-in (an administrator may check in, but not on theirs)
    admin = worker.post(url, files=[("photos", ("a.png", png_bytes(), "image/png"))],
                        headers=login_as("admin"))  # fmt: skip
    assert admin.status_code == 404
    assert worker.post(url, files=[("photos", ("a.png", png_bytes(), "image/png"))],
                       headers=desk).status_code == 403  # fmt: skip
    assert (
        worker.post(
            "/api/patrols/999999999/photos", files=[("photos", ("a.png", png_bytes(), "image/png"))]
        ).status_code
        == 404
    )


def test_a_grid_redrawn_on_the_day_is_one_grid_of_that_day(db: Session) -> None:
    """网格员履职's grids of a day are those valid on it, each code once: the demo's grid
    990102001004001 was split 120 days before the demo was loaded (its second version and a new
    grid) and is one grid of that day, not two — its village has that day the grids of after
    the split."""
    from gis.scope import Scope
    from gis.workers import activity

    def grids(day: date) -> dict[str, int]:
        end = datetime.combine(day + timedelta(days=1), time(), SHANGHAI)
        return {a.code: a.grids for a in activity(db, Scope.everything(), "990102001", end)}

    split_at = db.execute(
        text("SELECT valid_to FROM grid WHERE code = '990102001004001' AND valid_to IS NOT NULL")
    ).scalar_one()  # (the demo's split: one version before it)
    day = split_at.astimezone(SHANGHAI).date()
    before, split, after = grids(day - timedelta(days=1)), grids(day), grids(day + timedelta(1))
    assert split == after and after["990102001004"] == before["990102001004"] + 1
