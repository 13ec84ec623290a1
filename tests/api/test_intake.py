"""Field intake: datums, plausibility, exactly-once under retries, offline batches, tracking."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from api.app import create_app
from gis.datum import wgs84_to_bd09, wgs84_to_gcj02
from gis.pii import PiiCipher
from gis.repeats import DUPLICATE_LINKS, PEERS_SHOWN
from gis.scope import Scope, bind_scope
from gis.settings import Settings
from gis.worktime import SHANGHAI
from importers.demo import DemoCity
from tests.conftest import (
    a_gap_between_grids,
    grid_worker_point,
    put_case,
    report_body,
    take_grids_from,
)


@pytest.fixture
def grid_point(demo_city: DemoCity) -> tuple[float, float, str]:
    """A WGS 84 point deep inside a grid of the first street (township_operator's)."""
    grid = next(g for g in demo_city.grids if g.code.startswith("990102001"))
    p = grid.geom.representative_point()
    return p.x, p.y, grid.code


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    import math

    return math.hypot(
        (lon2 - lon1) * 111_320 * math.cos(math.radians(lat1)), (lat2 - lat1) * 110_574
    )


# -- datums ----------------------------------------------------------------------------------


@pytest.mark.parametrize("datum", ["gcj02", "bd09"])
def test_phone_sdk_datums_are_converted_before_locating(
    client: TestClient, grid_point: tuple, datum: str
) -> None:
    lon, lat, grid = grid_point
    shifted = (wgs84_to_gcj02 if datum == "gcj02" else wgs84_to_bd09)(lon, lat)
    r = client.post("/api/reports", json=report_body(float(shifted[0]), float(shifted[1]), datum))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["grid_code"] == grid  # the right grid, not the one ~500 m away
    assert _metres(lon, lat, body["lon"], body["lat"]) < 0.5
    assert body["received"] == {"lon": float(shifted[0]), "lat": float(shifted[1]), "datum": datum}
    assert _metres(lon, lat, *shifted) > 100  # the trap is real


# -- plausibility ----------------------------------------------------------------------------


def test_zero_zero_is_refused(client: TestClient) -> None:
    r = client.post("/api/reports", json=report_body(0.0, 0.0))
    assert r.status_code == 422 and "(0, 0)" in r.json()["detail"]
    assert r.json()["errors"][0]["field"] == "location"


def test_far_outside_the_coverage_is_refused(client: TestClient, demo_city: DemoCity) -> None:
    _, south, east, north = demo_city.regions[0].geom.bounds
    r = client.post("/api/reports", json=report_body(east + 0.5, (south + north) / 2))
    assert r.status_code == 422 and "20 公里" in r.json()["detail"]


def test_swapped_longitude_and_latitude_get_a_hint(client: TestClient, grid_point: tuple) -> None:
    lon, lat, _ = grid_point
    r = client.post("/api/reports", json=report_body(lat, lon))
    assert r.status_code == 422
    assert "填反" in r.json()["detail"] and r.json()["errors"][0]["field"] == "location.lat"
    en = client.post(
        "/api/reports",
        json=report_body(lat, lon),
        headers={"Accept-Language": "en", "Idempotency-Key": str(uuid.uuid4())},
    )
    assert "swap longitude and latitude" in en.json()["detail"]


def test_poor_accuracy_is_accepted_and_flagged(client: TestClient, grid_point: tuple) -> None:
    body = report_body(grid_point[0], grid_point[1])
    body["location"]["accuracy_m"] = 350
    r = client.post("/api/reports", json=body)
    assert r.status_code == 201 and r.json()["flags"] == {"low_accuracy": True}


@pytest.mark.parametrize(
    ("device_time", "flagged"),
    [
        (timedelta(minutes=-5), False),  # just now
        (timedelta(days=-6), False),  # kept offline for most of a week
        (timedelta(minutes=8), False),  # a phone a few minutes fast
        (timedelta(hours=3), True),  # a clock running ahead
        (timedelta(days=-45), True),  # older than any draft a phone keeps
        (None, True),  # a phone whose clock restarted at 1970-01-01 after a flat battery
    ],
)
def test_a_device_time_far_from_now_is_accepted_and_flagged(
    client: TestClient, grid_point: tuple, device_time: timedelta | None, flagged: bool
) -> None:
    """The report is what the grid worker saw, whatever the phone's clock says: it is taken in,
    and the operator is asked to check when it happened."""
    at = (
        datetime(1970, 1, 1, 8, 0, tzinfo=UTC)
        if device_time is None
        else datetime.now(UTC) + device_time
    )
    body = report_body(*grid_point[:2], reported_at=at.isoformat())
    r = client.post("/api/reports", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["flags"] == ({"clock_suspect": True} if flagged else {})
    page = client.get(f"/cases/{r.json()['code']}").text
    assert ("设备时钟可能有误" in page) is flagged
    if device_time is None:
        assert "1970-01-01 16:00" in page  # the device's time, in Beijing time


@pytest.mark.parametrize(
    "device_time",
    ["9999-12-31T23:00:00-05:00", "9999-12-31T23:59:59+00:00", "0001-01-01T00:30:00+08:00"],
)
def test_a_device_time_no_calendar_can_show_is_refused_by_name(
    client: TestClient, grid_point: tuple, device_time: str
) -> None:
    """A time that is year 10000 (or year 0) in UTC or in Beijing: the database stored it and
    the answer could not be written — a 500 after the case was written (the transaction
    rolled back, and every retry the same).  Refused on the field instead, saying to check
    the clock; in a batch, that item only."""
    body = report_body(*grid_point[:2], reported_at=device_time)
    r = client.post("/api/reports", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "reported_at", r.text
    assert "超出可处理的时间范围（公元 1–9999 年）：请检查设备时钟" in r.json()["detail"]
    good = report_body(*grid_point[:2]) | {"idempotency_key": str(uuid.uuid4())}
    batch = {"reports": [body | {"idempotency_key": str(uuid.uuid4())}, good]}
    r = client.post("/api/reports/batch", json=batch)
    assert r.status_code == 200, r.text
    assert [i["status"] for i in r.json()["results"]] == ["rejected", "created"], r.text


def test_my_reports_carry_the_start_of_each_description(
    client: TestClient, grid_point: tuple
) -> None:
    """The phone's "my reports": several reports of one category are told apart by their
    words.  A map's list of cases goes without them."""
    words = "村口路灯损坏，夜间行人看不清路面，已有老人摔倒。" * 4
    r = client.post("/api/reports", json=report_body(*grid_point[:2], description=words))
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    mine = client.get("/api/cases?mine=true&limit=5").json()["features"]
    (props,) = [f["properties"] for f in mine if f["properties"]["code"] == code]
    assert props["description"] == words[:40] and len(words) > 40
    listed = client.get("/api/cases?limit=5").json()["features"]
    assert listed and all("description" not in f["properties"] for f in listed)


# -- exactly once ----------------------------------------------------------------------------


def test_idempotency_key_is_required(client: TestClient, grid_point: tuple) -> None:
    body = report_body(grid_point[0], grid_point[1])
    for headers in ({"Idempotency-Key": "not-a-uuid"}, {"Idempotency-Key": ""}):
        r = client.post("/api/reports", json=body, headers=headers)
        assert r.status_code == 400 and "Idempotency-Key" in r.json()["detail"]
    # without the header at all (the test client adds one unless told otherwise)
    r = TestClient.request(client, "POST", "/api/reports", json=body)
    assert r.status_code == 400


def test_the_session_is_checked_before_the_key_and_the_report(
    anon_client: TestClient, login_as: Callable, grid_point: tuple
) -> None:
    """``POST /api/reports`` checks the caller in its own worker thread; the order stays that of
    every route: 401, then 403, then 400 (key), then 415/422 (content)."""
    bad_body = report_body(grid_point[0], grid_point[1], kind="flood")
    post = TestClient.request  # no Idempotency-Key added
    for headers in ({}, {"Authorization": "Bearer not-a-session"}):
        r = post(anon_client, "POST", "/api/reports", json=bad_body, headers=headers)
        assert r.status_code == 401, r.text
    commander = login_as("city_commander")  # may read cases, may not report them
    r = post(anon_client, "POST", "/api/reports", json=bad_body, headers=commander)
    assert r.status_code == 403 and r.json()["permission"] == "case:report"
    worker = login_as("grid_worker")
    r = post(anon_client, "POST", "/api/reports", json=bad_body, headers=worker)
    assert r.status_code == 400 and "Idempotency-Key" in r.json()["detail"]
    keyed = worker | {"Idempotency-Key": str(uuid.uuid4())}
    r = post(anon_client, "POST", "/api/reports", content=b"kind=x", headers=keyed)
    assert r.status_code == 422  # no content type: read as JSON, and it is not
    r = post(
        anon_client,
        "POST",
        "/api/reports",
        content=b"kind=x",
        headers=keyed | {"Content-Type": "text/plain"},
    )
    assert r.status_code == 415 and "application/json" in r.json()["detail"]
    r = post(anon_client, "POST", "/api/reports", json=bad_body, headers=keyed)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "kind"


def test_a_busy_database_answers_503_and_the_pool_recovers(
    settings: Settings, tokens: dict[str, str], grid_point: tuple
) -> None:
    """All connections in use for the pool's whole timeout: 503 with Retry-After, not a 500
    after 30 s; and the pool opens no connection beyond its size."""
    app = create_app(settings.model_copy(update={"db_pool_size": 1, "db_pool_timeout_s": 0.2}))
    body = report_body(grid_point[0], grid_point[1])
    headers = {"Authorization": f"Bearer {tokens['grid_worker']}"}
    with TestClient(app) as c:
        with app.state.engine.connect():  # the pool's only connection, held
            r = c.post("/api/reports", json=body, headers=headers | {"Idempotency-Key": "x"})
            assert r.status_code == 503 and r.headers["Retry-After"] == "5"
            assert r.json()["code"] == "busy" and "未保存" in r.json()["detail"]
            assert app.state.engine.pool.checkedout() == 1
        r = c.get("/api/categories", headers=headers)
        assert r.status_code == 200


def test_a_database_out_of_reach_answers_503_and_the_app_recovers(
    settings: Settings, tokens: dict[str, str], engine: Engine
) -> None:
    """The database restarted under the app (its connection cut), or cannot be reached at all:
    503 with Retry-After and a sentence that says so — JSON for the API, a page for a browser —
    not a bare 500; and once it is back, the next request is served."""
    from gis.db import make_engine, make_sessionmaker

    app = create_app(settings.model_copy(update={"db_pool_size": 1}))
    headers = {"Authorization": f"Bearer {tokens['city_operator']}"}
    with TestClient(app) as c:
        assert c.get("/api/categories", headers=headers).status_code == 200
        with app.state.engine.connect() as conn:  # the pool's one connection, given back
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with engine.connect() as owner:  # as a restart would: the connection is cut
            assert owner.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
        r = c.get("/api/categories", headers=headers)
        assert r.status_code == 503 and r.headers["Retry-After"] == "10", r.text
        assert r.json()["code"] == "database_unavailable"
        assert "暂时无法连接数据库" in r.json()["detail"]
        assert c.get("/api/categories", headers=headers).status_code == 200  # a new connection
        # nothing answers at all (the database stopped): the API and a page say so
        served, engine_served = app.state.sessionmaker, app.state.engine
        nowhere = make_engine("postgresql+psycopg://nobody:x@127.0.0.1:1/none")
        app.state.sessionmaker, app.state.engine = make_sessionmaker(nowhere), nowhere
        try:
            health = c.get("/api/health")  # (anyone may ask: no host or port in the answer)
            assert health.status_code == 503 and "暂时无法连接数据库" in health.json()["detail"]
            assert "127.0.0.1" not in health.text and "port" not in health.text
            r = c.post(
                "/api/reports/batch",
                json={"reports": []},
                headers=headers | {"Accept-Language": "en"},
            )
            assert r.status_code == 503 and r.json()["code"] == "database_unavailable"
            assert "cannot be reached" in r.json()["detail"]
            assert "with the same Idempotency-Key is never registered twice" in r.json()["detail"]
            page = c.get("/queue?lang=zh", headers=headers | {"Accept": "text/html"})
            assert page.status_code == 503 and page.headers["Retry-After"] == "10"
            assert "text/html" in page.headers["content-type"]
            assert "暂时无法服务" in page.text and "暂时无法连接数据库" in page.text
            # the API's word for a retry is not a desk's, nor a resident's on the tracking page
            assert "Idempotency-Key" not in page.text and "{key}" not in page.text
            assert "请稍后重试。如持续出现" in page.text
            track = "/t/" + "0123456789abcdef" * 2 + "?lang=zh"
            resident = c.get(track, headers={"Accept": "text/html"})
            assert resident.status_code == 503 and "Idempotency-Key" not in resident.text
        finally:
            app.state.sessionmaker, app.state.engine = served, engine_served
        assert c.get("/api/categories", headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("error", "code", "words"),
    [
        ("DiskFull", "database_resources", "数据库资源不足"),
        ("TooManyConnections", "database_resources", "数据库资源不足"),
        ("QueryCanceled", "timeout", "用时过长"),
        ("AdminShutdown", "database_unavailable", "暂时无法连接数据库"),
    ],
)
def test_what_the_database_cannot_do_just_now_is_a_503_that_says_why(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, error: str, code: str, words: str
) -> None:
    """Its disk full, out of connections, a query stopped by ``statement_timeout``, a restart:
    503 with Retry-After and the reason, not a bare 500."""
    import psycopg
    from sqlalchemy.exc import OperationalError

    import gis.cases

    def refused(session: Session) -> None:
        raise OperationalError("SELECT …", {}, getattr(psycopg.errors, error)("said"))

    monkeypatch.setattr(gis.cases, "list_categories", refused)
    r = client.get("/api/categories")
    assert r.status_code == 503 and int(r.headers["Retry-After"]) > 0, r.text
    assert r.json()["code"] == code and words in r.json()["detail"]
    assert "{key}" not in r.json()["detail"]


def test_a_retry_replays_and_another_report_under_the_key_is_refused(
    client: TestClient, grid_point: tuple, app_db: Session
) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = report_body(grid_point[0], grid_point[1])
    first = client.post("/api/reports", json=body, headers=key)
    again = client.post("/api/reports", json=body, headers=key)
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["code"] == first.json()["code"]
    other = client.post("/api/reports", json=body | {"description": "另一件事"}, headers=key)
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["detail"]
    n = app_db.execute(
        text("SELECT count(*) FROM cases WHERE idempotency_key = :k"), {"k": key["Idempotency-Key"]}
    ).scalar()
    assert n == 1


@pytest.fixture(scope="module")
def live_server(
    base_settings: Settings, demo_city: DemoCity, committed_cases_removed: None
) -> Iterator[str]:
    """The app served by uvicorn in a process of its own, as deployed: the test's 50 client
    threads and the server do not take turns at one interpreter's lock (in a thread of the
    test's process, the 10,000 requests of the race took 74 s)."""
    import os
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = os.environ | {
        "WANGGE_DATABASE_URL": str(base_settings.database_url),
        "WANGGE_APP_DB_PASSWORD": str(base_settings.app_db_password),
        "WANGGE_PII_KEY": str(base_settings.pii_key),
        "WANGGE_DATA_DIR": str(base_settings.data_dir),
        "WANGGE_CLOCK_INTERVAL_S": "0",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
         # uvicorn closes a connection idle for 5 s; a client reusing it at that moment gets
         # a reset the test is not about
         "--timeout-keep-alive", "60"],
        env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, "the test server did not start"
            assert time.monotonic() < deadline, "the test server did not answer in 60 s"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_parallel_retries_create_exactly_one_case(
    live_server: str, tokens: dict[str, str], grid_point: tuple, engine: Engine
) -> None:
    """50 parallel submissions of one key, 200 rounds: one case per key, never a 5xx.  Each of
    the 50 senders keeps its own connection (the standard library's client: httpx spent about
    4 ms of CPU on each of the 10,000 requests, more than the server did)."""
    import http.client
    import json
    from urllib.parse import urlsplit

    url = urlsplit(live_server)
    head = {"Authorization": f"Bearer {tokens['township_operator']}",
            "Content-Type": "application/json"}  # fmt: skip
    body = json.dumps(report_body(grid_point[0], grid_point[1], description="并发重试测试"))
    keys = [str(uuid.uuid4()) for _ in range(200)]
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    mine = threading.local()

    def send(key: str) -> int:
        # a phone whose connection drops sends again with the same key: so does the test
        for attempt in range(3):
            if getattr(mine, "conn", None) is None:
                mine.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
            try:
                mine.conn.request("POST", "/api/reports", body, head | {"Idempotency-Key": key})
                answer = mine.conn.getresponse()
                answer.read()
                return answer.status
            except (OSError, http.client.HTTPException):
                mine.conn.close()
                mine.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    with ThreadPoolExecutor(max_workers=50) as pool:
        for key in keys:
            for code in pool.map(send, [key] * 50):
                with lock:
                    statuses[code] = statuses.get(code, 0) + 1
    assert set(statuses) <= {200, 201, 409}, statuses
    assert statuses[201] == len(keys)
    with engine.connect() as conn:
        counts = conn.execute(
            text(
                "SELECT idempotency_key::text, count(*) FROM cases "
                "WHERE idempotency_key::text = ANY(:keys) GROUP BY 1"
            ),
            {"keys": keys},
        ).all()
    assert len(counts) == len(keys) and all(n == 1 for _, n in counts)


# -- offline batches -------------------------------------------------------------------------


def test_batch_of_500_judges_each_item_and_replays_cleanly(
    anon_client: TestClient, login_as: Callable, demo_city: DemoCity, app_db: Session
) -> None:
    headers = login_as("township_operator")
    grids = [g for g in demo_city.grids if g.code.startswith("990102001")]
    points = [g.geom.representative_point() for g in grids]

    def item(i: int, key: str | None = None) -> dict:
        p = points[i % len(points)]
        return report_body(p.x, p.y, description=f"离线上报 {i}") | {
            "idempotency_key": key or str(uuid.uuid4())
        }

    earlier = [item(i) for i in range(20)]  # sent before, one by one
    for it in earlier:
        r = anon_client.post(
            "/api/reports",
            headers=headers | {"Idempotency-Key": it["idempotency_key"]},
            json={k: v for k, v in it.items() if k != "idempotency_key"},
        )
        assert r.status_code == 201
    fresh = [item(100 + i) for i in range(475)]
    bad = [
        item(1, "not-a-uuid"),
        item(2) | {"category": "no_such"},
        item(3) | {"location": {"lon": 0, "lat": 0, "datum": "wgs84"}},
        {"kind": "dispute"},
        item(4) | {"status": "closed"},
    ]
    batch = {"reports": fresh[:200] + earlier + bad + fresh[200:]}

    def count() -> int:
        app_db.execute(text("SELECT set_config('wangge.scope', '*', true)"))
        return int(app_db.execute(text("SELECT count(*) FROM cases")).scalar_one())

    before = count()
    r = anon_client.post("/api/reports/batch", headers=headers, json=batch)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["created"], out["replayed"], out["conflict"], out["rejected"]) == (475, 20, 0, 5)
    assert count() == before + 475
    rejected = [x for x in out["results"] if x["status"] == "rejected"]
    assert [x["index"] for x in rejected] == list(range(220, 225))
    assert all(x["http_status"] == 422 and x["detail"] for x in rejected)
    first_codes = {x["index"]: x["case"]["code"] for x in out["results"] if x["case"]}
    for _ in range(3):  # the device did not hear back and sends everything again
        again = anon_client.post("/api/reports/batch", headers=headers, json=batch).json()
        assert (again["created"], again["replayed"], again["rejected"]) == (0, 495, 5)
        assert {x["index"]: x["case"]["code"] for x in again["results"] if x["case"]} == first_codes
    assert count() == before + 475


def test_a_phone_asks_for_the_short_answer_and_gets_each_case_brief(
    anon_client: TestClient, login_as: Callable[[str], dict[str, str]], engine: Engine
) -> None:
    """``Prefer: return=minimal`` (what the phone sends when it syncs its queue): each case comes
    back as its code, state, grid, deadline and tracking link — the same as the whole case says
    them — whether created (with parties or without, settled on the spot or not), replayed or
    sent twice in one batch; rejected items as always; and the answer says it was shortened."""
    worker = login_as("grid_worker")
    lon, lat = grid_worker_point(engine)
    earlier = str(uuid.uuid4())
    body = report_body(lon, lat, description="先前在线上报")
    r = anon_client.post("/api/reports", headers=worker | {"Idempotency-Key": earlier}, json=body)
    assert r.status_code == 201, r.text

    def item(**extra: object) -> dict:
        return report_body(lon, lat, **extra) | {"idempotency_key": str(uuid.uuid4())}

    plain = [
        item(description="楼道堆放杂物"),
        item(on_site_resolution="经劝说已当场清理"),
        body | {"idempotency_key": earlier},  # sent before, online
        item(category="no_such"),
    ]
    plain.append(plain[0])  # the same report twice in one batch
    with_parties = [  # (registered in a second call: another way to the brief)
        item(parties=[{"role": "applicant", "name": "钱多多", "phone": "13911112222"}]),
        item(description="另一件"),
    ]
    brief_fields = {"code", "status", "grid_code", "deadline", "tracking_url"}
    for batch in (plain, with_parties):
        for prefer in ("return=minimal", 'respond-async, RETURN="minimal"; x=y'):
            short = anon_client.post(
                "/api/reports/batch",
                headers=worker | {"Prefer": prefer},
                json={"reports": batch},
            )
            assert short.status_code == 200, short.text
            assert short.headers["preference-applied"] == "return=minimal"
            assert "Prefer" in short.headers["vary"].split(", ")
            whole = anon_client.post("/api/reports/batch", headers=worker, json={"reports": batch})
            assert "preference-applied" not in whole.headers
            assert len(short.content) * 2 < len(whole.content)
            for s, w in zip(short.json()["results"], whole.json()["results"], strict=True):
                assert s["index"] == w["index"]  # (the first time created, then replayed)
                if w["case"] is None:
                    assert s["case"] is None and s["detail"] == w["detail"]
                    assert s["http_status"] == w["http_status"] == 422
                    continue
                assert set(s["case"]) == brief_fields
                assert s["case"] == {k: w["case"][k] for k in brief_fields}
    first = anon_client.post(
        "/api/reports/batch", headers=worker | {"Prefer": "return=minimal"}, json={"reports": plain}
    ).json()["results"]
    assert [x["status"] for x in first] == [
        "replayed",
        "replayed",
        "replayed",
        "rejected",
        "replayed",
    ]
    assert [x["case"]["status"] for x in first if x["case"]] == [
        "registered", "resolved", "registered", "registered"
    ]  # fmt: skip
    assert first[4]["case"] == first[0]["case"]
    assert first[0]["case"]["deadline"].endswith("+08:00")  # in Beijing time, as the whole case
    # asked for anything else (or nothing): the whole case
    for prefer in ("return=representation", "minimal", "handling=lenient"):
        r = anon_client.post(
            "/api/reports/batch", headers=worker | {"Prefer": prefer}, json={"reports": plain[:1]}
        )
        assert "preference-applied" not in r.headers
        assert "location" in r.json()["results"][0]["case"]


def test_a_matter_settled_on_the_spot_is_registered_resolved_for_the_center_to_follow_up(
    anon_client: TestClient,
    login_as: Callable[[str], dict[str, str]],
    engine: Engine,
    app_db: Session,
) -> None:
    """就地化解: the grid worker calmed a quarrel between neighbours there and then.  The report
    says how; the case is registered resolved (the center follows up, 回访, and closes), and
    the resident sees the step on the tracking page.  Graver matters are the center's."""
    worker = login_as("grid_worker")
    lon, lat = grid_worker_point(engine)
    how = "经现场调解，双方同意晚十点后不再装修"
    key = str(uuid.uuid4())
    body = report_body(lon, lat, on_site_resolution=f"  {how} ")
    r = anon_client.post("/api/reports", headers=worker | {"Idempotency-Key": key}, json=body)
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["status"] == "resolved"
    again = anon_client.post("/api/reports", headers=worker | {"Idempotency-Key": key}, json=body)
    assert again.status_code == 200 and again.json()["code"] == case["code"]
    other = body | {"on_site_resolution": None}  # (not the same report under the key)
    r = anon_client.post("/api/reports", headers=worker | {"Idempotency-Key": key}, json=other)
    assert r.status_code == 422
    op = login_as("township_operator")
    detail = anon_client.get(f"/api/cases/{case['code']}", headers=op).json()
    assert detail["verify_due"] is not None  # (resolved: to be verified, as any resolved case)
    steps = [(e["action"], e["to_status"], e["note"], e["actor"]) for e in detail["events"]]
    assert steps == [
        ("register", "registered", steps[0][2], "grid_worker"),
        ("on_site", "resolved", how, "grid_worker"),
    ]
    assert detail["allowed_actions"][0] == "verify" and detail["version"] == 2
    # the case carries it for the roll-ups' 就地化解率 and the roster (migration 0062)
    bind_scope(app_db, Scope.everything())
    kept = app_db.execute(
        text("SELECT on_site, first_resolved_at IS NOT NULL FROM cases WHERE code = :c"),
        {"c": case["code"]},
    ).one()
    assert tuple(kept) == (True, True)
    token = case["tracking_url"].rsplit("/", 1)[1]
    tracking = anon_client.get(f"/t/{token}").text
    assert "就地化解" in tracking and how not in tracking  # (what was done may name people)
    page = anon_client.get(f"/cases/{case['code']}", headers=op).text
    assert "<b>就地化解</b>" in page and how in page
    # blank: the center's as usual; graver matters (by category or said) are refused, clearly
    blank = anon_client.post(
        "/api/reports", headers=worker, json=report_body(lon, lat, on_site_resolution=" ")
    )
    assert blank.status_code == 201 and blank.json()["status"] == "registered"
    for extra in (
        {"kind": "hazard", "category": "gas"},  # 较大 by default
        {"severity": "critical"},
    ):
        r = anon_client.post(
            "/api/reports",
            headers=worker,
            json=report_body(lon, lat, on_site_resolution=how, **extra),
        )
        assert r.status_code == 422, r.text
        assert "不能就地化解" in r.json()["detail"]
        assert r.json()["errors"][0]["field"] == "on_site_resolution"
    # offline, in a batch: each item on its own
    items = [
        report_body(lon, lat, on_site_resolution=how) | {"idempotency_key": str(uuid.uuid4())},
        report_body(lon, lat, on_site_resolution=how, category="fire", kind="hazard")
        | {"idempotency_key": str(uuid.uuid4())},
        report_body(lon, lat) | {"idempotency_key": str(uuid.uuid4())},
    ]
    out = anon_client.post("/api/reports/batch", headers=worker, json={"reports": items}).json()
    assert [x["status"] for x in out["results"]] == ["created", "rejected", "created"]
    assert [x["case"]["status"] for x in out["results"] if x["case"]] == ["resolved", "registered"]
    assert "不能就地化解" in out["results"][1]["detail"]
    # the roll-up counts them (就地化解, and its rate), each traceable to its case
    today = datetime.now(UTC).astimezone(SHANGHAI).date()
    query = f"/api/stats?region=990102001&start={today}&end={today + timedelta(days=1)}"
    figures = anon_client.get(query, headers=op).json()["figures"]
    traced = anon_client.get(f"{query}&trace=on_site", headers=op).json()
    assert case["code"] in traced and out["results"][0]["case"]["code"] in traced
    assert figures["on_site"] == len(traced) >= 2
    assert figures["on_site_rate"] == round(figures["on_site"] / figures["cases"], 4)


def test_batch_conflict_is_per_item(client: TestClient, grid_point: tuple) -> None:
    key = str(uuid.uuid4())
    one = report_body(grid_point[0], grid_point[1]) | {"idempotency_key": key}
    other = one | {"description": "同一个键，不同的内容"}
    out = client.post("/api/reports/batch", json={"reports": [one, other]}).json()
    assert [x["status"] for x in out["results"]] == ["created", "conflict"]
    assert out["results"][1]["http_status"] == 409


def test_batch_limit(client: TestClient, grid_point: tuple) -> None:
    item = report_body(grid_point[0], grid_point[1])
    r = client.post("/api/reports/batch", json={"reports": [item] * 501})
    assert r.status_code == 422 and "500" in r.json()["detail"]


def test_half_an_emoji_is_taken_as_a_replacement_character(
    client: TestClient, grid_point: tuple
) -> None:
    """A description cut in the middle of an emoji (an unpaired UTF-16 surrogate, escaped in the
    JSON as clients write it): the report is taken in with the rest of its words and U+FFFD (�)
    in the lost half's place — alone, in a multipart report and in a batch, whose answer could
    not be written (a 500 after its other reports were stored, and again at every sync).  A
    whole emoji, escaped as a pair, stays as it was."""
    import json

    cut = "楼道堆放杂物 \ud83d"  # (the first half of 😀)
    whole = "楼道堆放杂物 \U0001f600"
    json_type = {"Content-Type": "application/json"}

    def report(description: str) -> dict:
        return report_body(grid_point[0], grid_point[1], description=description)

    r = client.post(
        "/api/reports",
        content=json.dumps(report(cut)),  # (ASCII: the half escaped, "\\ud83d")
        headers=json_type | {"Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 201, r.text
    assert r.json()["description"] == "楼道堆放杂物 \ufffd"
    r = client.post(
        "/api/reports",
        files={"report": (None, json.dumps(report(cut)))},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 201, r.text
    assert r.json()["description"] == "楼道堆放杂物 \ufffd"
    items = [report(d) | {"idempotency_key": str(uuid.uuid4())} for d in ("一", cut, whole)]
    r = client.post("/api/reports/batch", content=json.dumps({"reports": items}), headers=json_type)
    assert r.status_code == 200, r.text
    said = r.json()
    assert said["created"] == 3, said
    described = [x["case"]["description"] for x in said["results"]]
    assert described == ["一", "楼道堆放杂物 \ufffd", "楼道堆放杂物 😀"]
    # a refusal that quotes such a text (here a field not accepted) is written, not a 500
    r = client.post(
        "/api/reports/batch",
        content=json.dumps({"reports": [items[0] | {"remark": cut}]}),
        headers=json_type,
    )
    assert r.status_code == 200 and r.json()["rejected"] == 1, r.text
    assert "remark" in r.json()["results"][0]["detail"]


def test_a_body_that_is_not_json_is_refused_saying_where(
    client: TestClient, grid_point: tuple
) -> None:
    """Not JSON: the refusal names the body and the character where reading failed (it named a
    field "1"); an empty body is said to be empty."""
    json_type = {"Content-Type": "application/json"}
    r = client.post("/api/reports/batch", content=b'{"reports": [', headers=json_type)
    assert r.status_code == 422
    (error,) = r.json()["errors"]
    assert error["field"] == "body" and "第 14 个字符" in error["message"], error
    r = client.post("/api/reports/batch", content=b"", headers=json_type)
    assert r.status_code == 422 and r.json()["detail"] == "请求体为空：请发送 JSON 对象"
    r = client.post(
        "/api/reports",
        content=b'{"kind": ',
        headers=json_type | {"Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body", r.text


# -- tracking --------------------------------------------------------------------------------


def test_public_tracking_page_shows_progress_but_nothing_personal(
    client: TestClient, anon_client: TestClient, grid_point: tuple
) -> None:
    body = report_body(
        grid_point[0],
        grid_point[1],
        parties=[{"role": "applicant", "name": "钱多多", "phone": "13911112222"}],
    )
    created = client.post("/api/reports", json=body).json()
    anon_client.headers.pop("Authorization", None)
    page = anon_client.get(created["tracking_url"])
    assert page.status_code == 200
    assert created["code"] in page.text and "已登记" in page.text and "上报登记" in page.text
    assert "钱多多" not in page.text and "13911112222" not in page.text
    lon_digits = f"{grid_point[0]:.4f}"
    assert lon_digits not in page.text and not re.search(r"\d{3}\.\d{4,}", page.text)
    # whom to ask: the center handling it, and its phone (an office's), a tap away
    center = created["location"]["center"]
    assert (
        center["phone"]
        and (
            f'<p id="handler">承办单位：{center["name"]}（电话 '
            f'<a href="tel:{center["phone"]}">{center["phone"]}</a>）</p>'
        )
        in page.text
    )
    assert anon_client.get("/t/" + "0" * 32).status_code == 404
    mistyped = anon_client.get("/t/nope", headers={"Accept": "text/html"})
    assert mistyped.status_code == 404 and "请核对二维码或链接" in mistyped.text
    assert 'href="/"' not in mistyped.text  # a resident has no home in the app to go back to
    # English, the second locale: asked for (?lang=en) or the browser's; the page's own words
    # are English, and Chinese remains only in names (the place) and the switch back
    english = anon_client.get(created["tracking_url"], headers={"Accept-Language": "en-US"})
    assert english.text == anon_client.get(created["tracking_url"] + "?lang=en").text
    assert '<html lang="en">' in english.text and "Reported and registered" in english.text
    assert "Registered" in english.text and 'href="?lang=zh"' in english.text
    words = english.text.replace(">中文<", "><")
    for name in re.findall(r"[\u4e00-\u9fff]+", words):
        assert (
            name
            in created["location"]["village"]["name"]
            + created["location"]["township"]["name"]
            + center["name"]
        ), name
    assert f"Handling center: {center['name']} (tel. " in english.text
    lost = anon_client.get("/t/nope", headers={"Accept": "text/html", "Accept-Language": "en"})
    assert lost.status_code == 404 and "check the link" in lost.text


# -- same place, same trouble ----------------------------------------------------------------


def _offset(lon: float, lat: float, east_m: float) -> tuple[float, float]:
    import math

    return lon + east_m / (111_320 * math.cos(math.radians(lat))), lat


def test_a_nearby_report_of_the_same_kind_is_linked_not_merged(
    anon_client: TestClient, login_as: Callable, grid_point: tuple
) -> None:
    operator = login_as("township_operator")
    lon, lat, _ = grid_point
    first = anon_client.post(
        "/api/reports",
        headers=operator,
        json=report_body(lon, lat, kind="hazard", category="gas", description="燃气管道漏气"),
    ).json()
    near = _offset(lon, lat, 40)
    second = anon_client.post(
        "/api/reports",
        headers=operator,
        json=report_body(*near, kind="hazard", category="gas", description="闻到燃气味"),
    ).json()
    other_kind = anon_client.post(
        "/api/reports",
        headers=operator,
        json=report_body(*near, kind="hazard", category="fire", description="楼道堆物"),
    ).json()
    assert second["code"] != first["code"]  # both kept
    links = second["possible_duplicates"]
    assert [(d["code"], d["status"]) for d in links] == [(first["code"], "suggested")]
    assert 30 < links[0]["distance_m"] < 50
    assert other_kind["possible_duplicates"] == []
    seen_from_first = anon_client.get(f"/api/cases/{first['code']}", headers=operator).json()
    assert [d["code"] for d in seen_from_first["possible_duplicates"]] == [second["code"]]

    path = f"/api/cases/{second['code']}/duplicates/{first['code']}"
    assert (
        anon_client.post(
            path, headers=login_as("city_commander"), json={"decision": "confirm"}
        ).status_code
        == 403
    )
    confirmed = anon_client.post(path, headers=operator, json={"decision": "confirm"})
    assert confirmed.json()["possible_duplicates"][0]["status"] == "confirmed"
    unlinked = anon_client.post(path, headers=operator, json={"decision": "unlink"})
    assert unlinked.json()["possible_duplicates"][0]["status"] == "unlinked"
    assert anon_client.post(path, headers=operator, json={"decision": "merge"}).status_code == 422


def test_a_hot_spot_links_a_report_to_its_nearest_and_the_first_not_to_all(
    anon_client: TestClient, login_as: Callable, grid_point: tuple
) -> None:
    """Where many report one incident, a new report is linked to its ten nearest possible
    duplicates and to the first report, not to every one before it (migration 0044): the links
    grew with the square of the reports, and the time to take one in with their number."""
    operator = login_as("township_operator")
    lon, lat, _ = grid_point

    def gas(east_m: float) -> dict:
        return report_body(*_offset(lon, lat, east_m), kind="hazard", category="gas")

    # the first report is the farthest (90 m west), then twelve at 5, 10 … 60 m west
    earlier = [gas(-90)] + [gas(-5 * k) for k in range(1, 13)]
    batch = [r | {"idempotency_key": str(uuid.uuid4())} for r in earlier]
    out = anon_client.post("/api/reports/batch", headers=operator, json={"reports": batch})
    assert out.json()["created"] == 13, out.text
    codes = [r["case"]["code"] for r in out.json()["results"]]
    last = anon_client.post("/api/reports", headers=operator, json=gas(0))
    assert last.status_code == 201, last.text
    linked = {d["code"]: d["distance_m"] for d in last.json()["possible_duplicates"]}
    # the ten nearest (5 … 50 m) and the first (90 m); not those at 55 and 60 m
    assert DUPLICATE_LINKS == 10 and len(linked) == DUPLICATE_LINKS + 1
    assert set(linked) == {codes[0], *codes[1:11]}
    assert 85 < linked[codes[0]] < 95
    # in one call as well: the last of the batch (60 m) to its ten nearest of the twelve before
    # it; the first, 30 m away, is one of them
    in_batch = anon_client.get(f"/api/cases/{codes[12]}", headers=operator).json()
    own = {d["code"] for d in in_batch["possible_duplicates"]} - {last.json()["code"]}
    assert own == {codes[0], *codes[3:12]}
    # the first report gathers them all: each later one is linked to it
    first = anon_client.get(f"/api/cases/{codes[0]}", headers=operator).json()
    assert {d["code"] for d in first["possible_duplicates"]} == {*codes[1:], last.json()["code"]}


def test_the_cases_around_a_point_are_found_to_the_metre_in_every_direction(
    app_db: Session, grid_point: tuple
) -> None:
    """The lookups of the cases around a point (duplicates, the repeat warning: migration 0086)
    read the box of their circle from the cases' spatial index, a box cut to the latitude
    (``wangge_near_box``): a case 99.5 m away is found whichever way it lies, one at 100.5 m
    is not — and the app role may ask, though row-level security keeps it from the cases."""
    from shapely.geometry import Point

    from tests.conftest import put_case

    lon, lat, _ = grid_point
    placed = {}
    for bearing in range(0, 360, 15):
        for metres in (49.5, 50.5, 99.5, 100.5):
            x, y = app_db.execute(
                text("""SELECT ST_X(q), ST_Y(q) FROM (SELECT ST_Project(
                            ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :m,
                            radians(:b))::geometry AS q) s"""),
                {"lon": lon, "lat": lat, "m": metres, "b": bearing},
            ).one()
            placed[put_case(app_db, Point(x, y))] = (bearing, metres)
    found = app_db.execute(
        text("""SELECT c.code, n.d FROM wangge_cases_near(
                    ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 100, now() - interval '1 hour',
                    'infinity', NULL) n
                JOIN cases c ON c.id = n.id"""),
        {"lon": lon, "lat": lat},
    ).all()
    mine = {placed[code]: d for code, d in found if code in placed}
    assert sorted(mine) == [(b, m) for b in range(0, 360, 15) for m in (49.5, 50.5, 99.5)]
    assert all(abs(d - m) < 0.01 for (_, m), d in mine.items())
    # the repeat warning's count at 50 m: the cases a plain scan finds (those placed and any
    # of the demo's there)
    counted, scanned = app_db.execute(
        text("""SELECT (wangge_repeat_place(ARRAY[p], ARRAY[false], 50, 0.001,
                                            interval '30 days'))[1],
                       (SELECT count(*) FROM cases c WHERE c.grid_code IS NOT NULL
                          AND c.received_at >= now() - interval '30 days'
                          AND ST_DWithin(c.geom::geography, p::geography, 50))
                FROM ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) p"""),
        {"lon": lon, "lat": lat},
    ).one()
    assert counted == scanned >= 24


def test_the_reply_to_a_report_is_the_case_as_read_again(
    anon_client: TestClient, login_as: Callable, grid_point: tuple
) -> None:
    """The reply is built from the document the intake's call returns (migration 0023), or from
    a read-back when the report has parties: either way, the case as ``GET`` shows it."""
    operator = login_as("township_operator")
    lon, lat, _ = grid_point
    body = report_body(lon, lat, kind="hazard", category="gas", description="燃气管道漏气")
    near = report_body(*_offset(lon, lat, 30), kind="hazard", category="gas")
    near["location"]["accuracy_m"] = 350  # flagged
    key = {"Idempotency-Key": str(uuid.uuid4())}
    party = {"parties": [{"role": "reporter", "name": "王五", "phone": "13800138000"}]}
    replies = []
    for headers, report, status in (
        (operator, body, 201),
        (operator | key, near, 201),  # a possible duplicate of the first
        (operator, body | party, 201),
        (operator | key, near, 200),  # a replay
    ):
        reply = anon_client.post("/api/reports", headers=headers, json=report)
        assert reply.status_code == status, reply.text
        again = anon_client.get(f"/api/cases/{reply.json()['code']}", headers=operator).json()
        assert reply.json() == {k: again[k] for k in reply.json()}
        replies.append(reply.json())
    assert replies[1]["possible_duplicates"][0]["code"] == replies[0]["code"]
    assert replies[1]["flags"] and replies[2]["parties"]


def _repeat_place_count(db: Session, at: tuple[float, float]) -> int:
    """The committed cases a repeat warning at ``at`` counts: within 50 m, 30 days."""
    return db.execute(
        text("""
        SELECT count(*) FROM cases
        WHERE received_at >= now() - interval '30 days'
          AND ST_DWithin(geom::geography,
                         ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, 50)
    """),
        {"lon": at[0], "lat": at[1]},
    ).scalar_one()


def _across_a_village_boundary(demo_city: DemoCity) -> tuple[tuple, tuple]:
    """A point in the village operator's village (990102001001) and one in a neighbouring
    village of the same street, each about 15 m from their shared boundary."""
    from shapely.geometry import LineString, Point

    villages = {r.code: r.geom for r in demo_city.regions if r.level == "village"}
    mine = villages["990102001001"]
    other = next(
        g
        for code, g in sorted(villages.items())
        if code != "990102001001"
        and code.startswith("990102001")
        and mine.boundary.intersection(g.boundary).length > 0.002
    )
    shared = mine.boundary.intersection(other.boundary)
    lines = [p for p in getattr(shared, "geoms", [shared]) if isinstance(p, LineString)]
    mid = max(lines, key=lambda line: line.length).interpolate(0.5, normalized=True)
    circle = Point(mid.x, mid.y).buffer(0.00018)
    here = circle.intersection(mine).representative_point()
    there = circle.intersection(other).representative_point()
    return (here.x, here.y), (there.x, there.y)


def test_duplicates_and_repeats_are_found_beyond_what_the_reporter_may_see(
    anon_client: TestClient, login_as: Callable, db: Session, demo_city: DemoCity
) -> None:
    """Two reports of one gas leak on the road between two villages: the village operator who
    sees only their own village still gets the new case linked to the neighbour's, and the
    street (township) that sees both is shown the link.  Repeat warnings count every case."""
    here, there = _across_a_village_boundary(demo_city)
    assert _metres(*here, *there) < 45
    street, village = login_as("township_operator"), login_as("village_operator")
    resident = {"role": "applicant", "name": "吴某某", "phone": "13700007777"}

    def report(headers: dict, at: tuple, **extra: object) -> dict:
        r = anon_client.post("/api/reports", headers=headers, json=report_body(*at, **extra))
        assert r.status_code == 201, r.text
        return r.json()

    before = _repeat_place_count(db, here)
    leak = {"kind": "hazard", "category": "gas", "description": "路边燃气管道漏气"}
    first = report(street, there, **leak)
    second = report(village, here, **leak)
    assert first["grid_code"][:12] != "990102001001" == second["grid_code"][:12]
    # the village operator may not see the neighbour's case: no link listed to them …
    assert second["possible_duplicates"] == []
    assert anon_client.get(f"/api/cases/{first['code']}", headers=village).status_code == 404
    # … but the link is there, for the street that sees both
    seen = anon_client.get(f"/api/cases/{second['code']}", headers=street).json()
    assert [d["code"] for d in seen["possible_duplicates"]] == [first["code"]]

    fire = report(village, here, kind="hazard", category="fire", description="楼道堆物")
    assert fire["flags"]["repeat_place"] == before + 3  # the leak's two reports and itself

    wage = {"kind": "dispute", "category": "labour_wage", "parties": [resident]}
    for _ in range(2):
        report(street, there, description="工地欠薪", **wage)
    third = report(village, here, description="同一工地欠薪", **wage)
    assert third["flags"]["repeat_resident"] == 3


def test_reports_where_the_grids_leave_a_gap_are_linked_and_warned(
    client: TestClient, app_db: Session
) -> None:
    """A village's grids need not cover all of it (a river bank, farmland, a hillside): a
    report there is filed by its village (method region), with its point.  Reports from one
    spot of such a gap are still linked as possible duplicates, and the third is warned as a
    repeat by place (migration 0086: the lookups went through the grids and never saw them)."""
    lon, lat = a_gap_between_grids(app_db)
    made = []
    for k in range(3):
        body = report_body(*_offset(lon, lat, 5 * k), kind="hazard", category="flood")
        r = client.post("/api/reports", json=body | {"description": f"河堤渗水 {k}"})
        assert r.status_code == 201, r.text
        made.append(r.json())
    assert [m["location"]["method"] for m in made] == ["region"] * 3
    assert [d["code"] for d in made[1]["possible_duplicates"]] == [made[0]["code"]]
    assert made[2]["flags"]["repeat_place"] == 3


def test_repeat_warnings_by_place_and_by_resident(client: TestClient, grid_point: tuple) -> None:
    lon, lat, _ = grid_point
    flags = [
        client.post(
            "/api/reports", json=report_body(*_offset(lon, lat, 10 * i), category="neighbour")
        ).json()["flags"]
        for i in range(3)
    ]
    assert flags[2]["repeat_place"] >= 3
    resident = {"role": "applicant", "name": "孙某某", "phone": "13700009999"}
    got = []
    for i in range(3):  # far apart: only the resident repeats
        body = report_body(
            *_offset(lon, lat, -300 - 120 * i),
            category="labour_wage",
            kind="dispute",
            parties=[resident],
        )
        got.append(client.post("/api/reports", json=body).json()["flags"])
    assert "repeat_resident" not in got[1] and got[2]["repeat_resident"] == 3


def test_repeat_warnings_count_a_merged_report_once(
    client: TestClient, grid_point: tuple, app_db: Session, cipher: PiiCipher
) -> None:
    """Two reports of one matter merged into one (并案) count once towards a repeat warning,
    by place and by resident (migration 0055); unlinked again, both count."""
    lon, lat, _ = grid_point
    resident = {"role": "applicant", "name": "钱某某", "phone": "13700005555"}

    def report(east_m: float) -> dict:
        body = report_body(
            *_offset(lon, lat, -900 + east_m), category="property_mgmt", parties=[resident]
        )
        r = client.post("/api/reports", json=body)
        assert r.status_code == 201, r.text
        return r.json()

    first, second = report(0), report(10)
    link = text("""
        INSERT INTO case_link (case_id, other_case_id, kind, status)
        SELECT m.id, o.id, 'merged_into', 'confirmed' FROM cases m, cases o
        WHERE m.code = :merged AND o.code = :into
        ON CONFLICT (case_id, other_case_id, kind) DO UPDATE SET status = excluded.status
    """)
    app_db.execute(link, {"merged": second["code"], "into": first["code"]})
    app_db.commit()  # (to the test's savepoint)
    third = report(20)  # the second matter here: the first, and itself
    assert "repeat_resident" not in third["flags"]
    since = datetime.now(UTC) - timedelta(days=30)
    by_phone = text("SELECT wangge_resident_repeats(:index, :since)")
    index = cipher.phone_index(resident["phone"])
    assert app_db.execute(by_phone, {"index": index, "since": since}).scalar_one() == 2
    app_db.execute(
        text("""UPDATE case_link SET status = 'unlinked'
                WHERE case_id = (SELECT id FROM cases WHERE code = :c)"""),
        {"c": second["code"]},
    )
    app_db.commit()
    fourth = report(30)  # four reports, four matters: the second counts again
    assert fourth["flags"]["repeat_resident"] == 4
    assert app_db.execute(by_phone, {"index": index, "since": since}).scalar_one() == 4
    # by place, whatever else lies nearby: the fourth counts two more than the third (the
    # second and itself), not one
    assert fourth["flags"]["repeat_place"] - third["flags"].get("repeat_place", 2) == 2


def _peers_listed(page: str) -> tuple[list[str], str]:
    """The codes listed under a case page's repeat warning by place, and the warnings' text."""
    block = re.search(r'<ul class="wg-warnings" id="warnings">(.*?)</ul>(?!</li>)', page, re.S)
    assert block is not None
    peers = re.search(r'<ul class="wg-peers">(.*?)</ul>', block.group(1), re.S)
    return (re.findall(r'<a href="/cases/(\w+)">', peers.group(1)) if peers else []), block.group(1)


def test_a_repeat_warning_lists_the_cases_it_counted(
    client: TestClient,
    app_db: Session,
    login_as: Callable,
    grid_point: tuple,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """高频线索 said "3 cases within 50 m in 30 days" and no more: the desk could not tell which.
    Now the page lists them under it (newest first, with their kind, state, time and distance),
    those the reader may see; those it may not, or merged into another since, are counted."""
    from shapely import Point

    lon, lat, _ = grid_point
    # (a case of another township at the place: a layout of its time, or a neighbour's)
    elsewhere = put_case(app_db, Point(*_offset(lon, lat, -15)))
    app_db.execute(
        text("""UPDATE cases SET township_code = '990102002', village_code = '990102002001'
                WHERE code = :c"""),
        {"c": elsewhere},
    )
    app_db.commit()
    made = [
        client.post(
            "/api/reports", json=report_body(*_offset(lon, lat, 10 * i), category=category)
        ).json()
        for i, category in enumerate(("neighbour", "property_mgmt", "neighbour"))
    ]
    last = made[2]
    counted = last["flags"]["repeat_place"]
    assert counted >= 4  # the other township's case, the three, and whatever lay there already
    listed, warnings = _peers_listed(client.get(f"/cases/{last['code']}").text)
    assert last["code"] not in listed and len(listed) == min(counted - 1, PEERS_SHOWN)
    # (received in this test's transaction, all at one time: then the later first)
    assert listed[:3] == [made[1]["code"], made[0]["code"], elsewhere]
    assert "矛盾纠纷 · 物业纠纷 · 已登记 · " in warnings and "· 10 米</li>" in warnings
    assert ("列出最近" in warnings) == (counted - 1 > PEERS_SHOWN)  # (the races' leave a pile)
    monkeypatch.setattr("gis.repeats.PEERS_SHOWN", 2)  # (a place of many: the latest listed)
    listed, warnings = _peers_listed(client.get(f"/cases/{last['code']}").text)
    assert listed == [made[1]["code"], made[0]["code"]]
    assert f"……共 {counted - 1} 件，列出最近 2 件" in warnings and "另有" not in warnings
    monkeypatch.undo()
    english = client.get(f"/cases/{last['code']}?lang=en").text
    assert "Dispute · Property management · Registered · " in _peers_listed(english)[1]
    # the lists mark them as the in-tray does (the phone's 我的网格待办): 高频, 疑似重复
    listing = client.get("/api/cases", params={"grid": grid_point[2], "limit": 10}).json()
    marks = {
        f["properties"]["code"]: (f["properties"]["repeat"], f["properties"]["possible_duplicate"])
        for f in listing["features"]
    }
    for case in made:  # (the first: the other township's, of the same category, is near)
        assert marks[case["code"]] == (
            bool(case["flags"].get("repeat_place")),
            bool(case["possible_duplicates"]),
        )
    assert marks[last["code"]] == (True, True)
    # … and 案件查询's (the county and day a code begins with: the day's cases, newest first)
    found = client.get("/find", params={"q": last["code"][:12], "lang": "zh"}).text
    row = re.search(rf'<tr><td><a href="/cases/{last["code"]}">.*?</tr>', found, re.S)
    assert row is not None and "wg-flag-repeat" in row.group(0), found[-2000:]
    assert "wg-flag-duplicate" in row.group(0)
    # the township's desk does not see the other township's case: counted, not listed
    township = login_as("township_operator")
    listed, warnings = _peers_listed(
        client.get(f"/cases/{last['code']}?lang=zh", headers=township).text
    )
    assert elsewhere not in listed and made[0]["code"] in listed
    assert "另有 1 件不在本账号查看范围内或已并案" in warnings
    # merged into another since: no longer listed (nor counted by a new warning)
    app_db.execute(
        text("""INSERT INTO case_link (case_id, other_case_id, kind, status)
                SELECT m.id, o.id, 'merged_into', 'confirmed' FROM cases m, cases o
                WHERE m.code = :merged AND o.code = :into"""),
        {"merged": made[0]["code"], "into": made[1]["code"]},
    )
    app_db.commit()
    listed, _ = _peers_listed(client.get(f"/cases/{last['code']}?lang=zh").text)
    assert made[0]["code"] not in listed and made[1]["code"] in listed
    # no warning, no list
    first = client.get(f"/cases/{made[0]['code']}?lang=zh").text
    assert ('class="wg-peers"' in first) == bool(made[0]["flags"].get("repeat_place"))
    # by resident: the same phone's other cases, wherever they were
    resident = {"role": "applicant", "name": "钱多多", "phone": "13911119876"}
    theirs = [
        client.post(
            "/api/reports",
            json=report_body(*_offset(lon, lat, -600 - 300 * i), category=category,
                             parties=[resident]),
        ).json()
        for i, category in enumerate(("neighbour", "marriage_family", "labour_wage"))
    ]  # fmt: skip
    assert theirs[2]["flags"]["repeat_resident"] == 3
    page = client.get(f"/cases/{theirs[2]['code']}?lang=zh").text
    listed_by_phone = re.search(r'同一当事人[^<]*<ul class="wg-peers">(.*?)</ul>', page, re.S)
    assert listed_by_phone is not None
    codes = re.findall(r'<a href="/cases/(\w+)">', listed_by_phone.group(1))
    assert codes == [theirs[1]["code"], theirs[0]["code"]]


def test_the_case_page_shows_its_warnings(client: TestClient, grid_point: tuple) -> None:
    lon, lat, _ = grid_point
    made = []
    for i in range(3):
        body = report_body(*_offset(lon, lat, 10 * i), category="neighbour")
        body["location"]["accuracy_m"] = 500 if i == 2 else 10
        made.append(client.post("/api/reports", json=body).json())
    last = made[2]
    assert last["flags"]["low_accuracy"] and last["flags"]["repeat_place"] >= 3
    page = client.get(f"/cases/{last['code']}", headers={"Accept": "text/html"}).text
    warnings = re.search(r'<ul class="wg-warnings" id="warnings">(.*?)</ul>(?!</li>)', page, re.S)
    assert warnings is not None
    assert f"50 米内 30 天已有 {last['flags']['repeat_place']} 件案件" in warnings.group(1)
    assert "定位精度低于 200 米" in warnings.group(1)
    # … and its possible duplicates (the same category within 100 m), for the desk to settle
    assert {d["code"] for d in last["possible_duplicates"]} >= {made[0]["code"], made[1]["code"]}
    assert 'class="wg-duplicate"' in page and 'data-decision="confirm"' in page
    first = client.get(f"/cases/{made[0]['code']}", headers={"Accept": "text/html"}).text
    assert ('id="warnings"' in first) == bool(made[0]["flags"])  # a warning only with a flag
    # in English (the second locale): the page's own words, the warnings, the actions, the
    # category; Chinese is left only in what people wrote and named (description, places,
    # center), and in the switch back
    english = client.get(f"/cases/{last['code']}?lang=en", headers={"Accept": "text/html"}).text
    assert '<html lang="en">' in english and "Possible duplicates" in english
    assert f"Repeat warning: {last['flags']['repeat_place']} cases within 50 m" in english
    assert "Position less accurate than 200 m" in english and ">Accept</button>" in english
    assert "Dispute · Neighbour (minor)" in english and ">Confirm duplicate</button>" in english
    loc = last["location"]
    written = [last["description"], loc["center"]["name"]] + [
        loc[level]["name"]
        for level in ("district", "township", "village", "grid")
        if loc.get(level)
    ]
    user = re.search(r'<span class="wg-user">(.*?) \(administrator\)</span>', english)
    assert user is not None  # the user's own name, and the role in English
    workers = re.search(r'<td id="case-workers">(.*?)</td>', english)  # (people's names)
    written += [workers.group(1)] if workers else []
    for run in re.findall(r"[\u4e00-\u9fff]+", english.replace(">中文<", "><")):
        assert any(run in w for w in [*written, user.group(1)]), run


def test_the_case_page_offers_to_unmask_only_parties_it_has(
    client: TestClient, grid_point: tuple
) -> None:
    """查看完整信息 (recorded in the audit log) only where there is someone to show in full."""
    lon, lat, _ = grid_point
    party = {"role": "applicant", "name": "周某某", "phone": "13700001234"}
    with_party = client.post("/api/reports", json=report_body(lon, lat, parties=[party])).json()
    without = client.post("/api/reports", json=report_body(*_offset(lon, lat, 400))).json()
    html = {"Accept": "text/html"}
    page = client.get(f"/cases/{with_party['code']}", headers=html).text
    assert 'id="unmask"' in page and "周*某" in page
    assert 'id="unmask"' not in client.get(f"/cases/{without['code']}", headers=html).text


def test_repeat_warnings_see_the_other_reports_of_a_batch(
    client: TestClient, grid_point: tuple
) -> None:
    lon, lat, _ = grid_point
    resident = {"role": "applicant", "name": "周某某", "phone": "13700008888"}
    items = [
        report_body(
            *_offset(lon, lat, -300 - 120 * i),
            category="labour_wage",
            kind="dispute",
            parties=[resident],
        )
        | {"idempotency_key": str(uuid.uuid4())}
        for i in range(3)
    ]
    out = client.post("/api/reports/batch", json={"reports": items}).json()
    flags = [item["case"]["flags"] for item in out["results"]]
    # three cases of one resident arriving together: each is one of three within 30 days
    assert [f.get("repeat_resident") for f in flags] == [3, 3, 3]


def test_a_batch_counts_each_report_once_for_a_repeat_place(
    client: TestClient, db: Session, grid_point: tuple
) -> None:
    """Counted for a place: the cases already there and the batch's new reports, each itself —
    not a replay in the same batch (its case is one of those already there)."""
    lon, lat, _ = grid_point
    here = _offset(lon, lat, 450)
    before = _repeat_place_count(db, here)
    first = report_body(*here, kind="hazard", category="fire") | {
        "idempotency_key": str(uuid.uuid4())
    }
    assert client.post("/api/reports/batch", json={"reports": [first]}).json()["created"] == 1
    items = [first] + [
        report_body(*here, kind="hazard", category="gas") | {"idempotency_key": str(uuid.uuid4())}
        for _ in range(2)
    ]
    out = client.post("/api/reports/batch", json={"reports": items}).json()
    assert [r["status"] for r in out["results"]] == ["replayed", "created", "created"]
    assert [r["case"]["flags"]["repeat_place"] for r in out["results"][1:]] == [before + 3] * 2


@pytest.mark.parametrize("with_parties", [False, True])
def test_batch_deadlines_and_first_events_per_report(
    client: TestClient, app_db: Session, grid_point: tuple, with_parties: bool
) -> None:
    """Each case's hours allowed (the rule for its category × severity, else the category's
    default) and its three deadlines, computed once per allowance for a batch, equal
    ``wangge_work_add`` from its own receipt; each has its one registration event — whether the
    batch is registered in the insert's call (no parties) or after it (parties)."""
    lon, lat, _ = grid_point
    kinds = {"neighbour": "dispute", "consumer": "dispute", "fire": "hazard", "gas": "hazard"}
    items = [
        report_body(*_offset(lon, lat, 700 + 40 * i), kind=kind, category=category)
        | ({"severity": severity} if severity else {})
        | ({"parties": [{"role": "applicant", "name": "吴某"}]} if with_parties and i == 3 else {})
        | {"idempotency_key": str(uuid.uuid4())}
        for i, ((category, kind), severity) in enumerate(
            (c, s) for c in kinds.items() for s in (None, "minor", "major", "critical")
        )
    ]
    out = client.post("/api/reports/batch", json={"reports": items}).json()
    assert out["created"] == len(items), out
    codes = [r["case"]["code"] for r in out["results"]]
    app_db.execute(text("SELECT set_config('wangge.scope', '*', true)"))
    rows = app_db.execute(
        text("""
        SELECT c.code, c.allowed_hours,
               coalesce(r.work_hours, k.deadline_hours) AS expected_hours,
               c.remind_at = wangge_work_add(c.received_at, 0.8 * c.allowed_hours) AS remind_ok,
               c.deadline = wangge_work_add(c.received_at, c.allowed_hours) AS deadline_ok,
               c.notice_at = wangge_work_add(c.received_at, 2 * c.allowed_hours) AS notice_ok,
               (SELECT count(*) FROM case_event e
                WHERE e.case_id = c.id AND e.action = 'register') AS events,
               (SELECT count(*) FROM case_party p WHERE p.case_id = c.id) AS parties
        FROM cases c JOIN category k ON k.code = c.category
        LEFT JOIN deadline_rule r ON r.category = c.category AND r.severity = c.severity
        WHERE c.code = ANY(:codes) ORDER BY c.code
    """),
        {"codes": codes},
    ).all()
    assert len(rows) == len(items)
    assert len({row.allowed_hours for row in rows}) > 3  # several allowances in one batch
    for row in rows:
        assert row.allowed_hours == row.expected_hours, row
        assert row.remind_ok and row.deadline_ok and row.notice_ok, row
        assert row.events == 1, row
    assert sum(row.parties for row in rows) == (1 if with_parties else 0)


def _plan_nodes(node: dict) -> Iterator[dict]:
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


@pytest.mark.parametrize("statement", ["_PRECHECK", "_KNOWN_KEYS"])
def test_a_key_is_looked_up_by_user_and_key(db: Session, statement: str) -> None:
    """With years of history imported, few cases have a reporter, and the planner takes
    ``reporter_id = user`` for about one row for most users.  A key's case must still be found by
    user *and* key, not by reading every case of the user (a grid worker may have thousands)."""
    import gis.intake

    db.execute(text("ANALYZE cases"))
    user = 2_000_000_000  # not among the statistics' most common reporters: one of many
    estimate = db.execute(
        text("EXPLAIN (FORMAT JSON) SELECT 1 FROM cases WHERE reporter_id = :user"), {"user": user}
    ).scalar_one()[0]["Plan"]["Plan Rows"]
    assert estimate <= 5  # what makes the planner misjudge
    key = str(uuid.uuid4())
    params = {"user": user, "keys": [key], "idx": [0], "lock": [1], "key": [key],
              "category": ["fire"], "lon": [113.9], "lat": [22.6]}  # fmt: skip
    query = getattr(gis.intake, statement).text
    plan = db.execute(text(f"EXPLAIN (FORMAT JSON) {query}"), params).scalar_one()
    scans = [n for n in _plan_nodes(plan[0]["Plan"]) if n.get("Relation Name") == "cases"]
    assert scans
    for scan in scans:
        assert "idempotency_key" in scan.get("Index Cond", ""), scan


# -- where a case came from (案件来源) --------------------------------------------------------


@pytest.fixture
def worker_point(engine: Engine) -> tuple[float, float]:
    return grid_worker_point(engine)


def test_a_desk_says_where_each_case_came_from(
    anon_client: TestClient, login_as: Callable, grid_point: tuple
) -> None:
    """A center's desk registers calls from the 12345 hotline, residents at the desk …: each
    case keeps its channel, in the reply, the case, the lists and the case page."""
    desk = login_as("township_operator")
    r = anon_client.post(
        "/api/reports", json=report_body(*grid_point[:2], source="hotline"), headers=desk
    )
    assert r.status_code == 201, r.text
    case = r.json()
    assert (case["source"], case["source_name"]) == ("hotline", "12345热线")
    assert anon_client.get(f"/api/cases/{case['code']}", headers=desk).json()["source"] == "hotline"
    listed = anon_client.get("/api/cases?limit=20", headers=desk).json()["features"]
    (props,) = [f["properties"] for f in listed if f["properties"]["code"] == case["code"]]
    assert props["source"] == "hotline"
    hotline = anon_client.get("/api/cases?source=hotline&limit=50", headers=desk).json()
    assert case["code"] in [f["properties"]["code"] for f in hotline["features"]]
    assert {f["properties"]["source"] for f in hotline["features"]} == {"hotline"}
    walk_ins = anon_client.get("/api/cases?source=walk_in&limit=50", headers=desk).json()
    assert case["code"] not in [f["properties"]["code"] for f in walk_ins["features"]]
    bad = anon_client.get("/api/cases?source=wechat", headers=desk)
    assert bad.status_code == 422 and "hotline" in bad.json()["detail"]
    page = anon_client.get(f"/cases/{case['code']}", headers=desk | {"Accept": "text/html"})
    assert '<td id="case-source">12345热线</td>' in page.text
    english = anon_client.get(
        f"/cases/{case['code']}?lang=en", headers=desk | {"Accept": "text/html"}
    )
    assert '<td id="case-source">12345 hotline</td>' in english.text
    receipt = anon_client.get(f"/cases/{case['code']}/receipt?lang=zh", headers=desk)
    assert '<th>受理渠道</th><td id="case-source">12345热线</td>' in receipt.text
    # a batch from the desk: each item its own channel
    items = [
        report_body(*grid_point[:2], source=s, idempotency_key=str(uuid.uuid4()))
        for s in ("walk_in", "police_diversion", "petition", "online")
    ]
    out = anon_client.post("/api/reports/batch", json={"reports": items}, headers=desk).json()
    assert [x["case"]["source"] for x in out["results"]] == [
        "walk_in",
        "police_diversion",
        "petition",
        "online",
    ]


def test_a_report_that_does_not_say_where_it_came_from(
    anon_client: TestClient, login_as: Callable, grid_point: tuple, worker_point: tuple
) -> None:
    """A grid worker's report is the grid worker's own; a desk's that does not say is
    ``other`` (其他), never guessed."""
    worker = anon_client.post(
        "/api/reports", json=report_body(*worker_point), headers=login_as("grid_worker")
    )
    assert worker.status_code == 201, worker.text
    assert (worker.json()["source"], worker.json()["source_name"]) == ("grid_worker", "网格员上报")
    desk = anon_client.post(
        "/api/reports", json=report_body(*grid_point[:2]), headers=login_as("township_operator")
    )
    assert (desk.json()["source"], desk.json()["source_name"]) == ("other", "其他")


def test_an_unknown_source_is_refused_with_the_valid_ones(
    client: TestClient, grid_point: tuple
) -> None:
    r = client.post("/api/reports", json=report_body(*grid_point[:2], source="wechat"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "source"
    detail = r.json()["detail"]
    assert detail.startswith("source（案件来源）取值无效，可选：'grid_worker'、'walk_in'、")
    assert "'online'、'other'，收到 wechat" in detail
    batch = client.post(
        "/api/reports/batch",
        json={
            "reports": [
                report_body(*grid_point[:2], source="wechat", idempotency_key=str(uuid.uuid4()))
            ]
        },
    ).json()
    assert batch["rejected"] == 1 and "hotline" in batch["results"][0]["detail"]


def test_a_retry_without_a_source_is_still_the_same_report(
    client: TestClient, grid_point: tuple
) -> None:
    """A report that names no source has the content it had before sources existed: a phone
    that queued it then and retries it now gets its case back, not a refusal."""
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = report_body(*grid_point[:2])
    first = client.post("/api/reports", json=body, headers=key)
    again = client.post("/api/reports", json=body, headers=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["code"] == first.json()["code"]
    other = client.post("/api/reports", json=body | {"source": "hotline"}, headers=key)
    assert other.status_code == 422  # the same key for another report


def test_a_desk_writes_down_the_work_order_and_finds_the_case_by_it(
    anon_client: TestClient, login_as: Callable, grid_point: tuple
) -> None:
    """A 12345 call is registered with its work order's number (来源编号): it is stored trimmed,
    shown on the case and its receipt, and finds the case; a retry with another number under the
    same key is another report."""
    desk = login_as("township_operator")
    order = f"GD{uuid.uuid4().hex[:12].upper()}"
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = report_body(*grid_point[:2], source="hotline", source_ref=f"  {order} ")
    r = anon_client.post("/api/reports", json=body, headers=desk | key)
    assert r.status_code == 201, r.text
    case = r.json()
    assert (case["source"], case["source_ref"]) == ("hotline", order)
    assert anon_client.get(f"/api/cases/{case['code']}", headers=desk).json()["source_ref"] == order
    again = anon_client.post("/api/reports", json=body, headers=desk | key)
    assert again.status_code == 200 and again.json()["source_ref"] == order
    other = anon_client.post(
        "/api/reports", json=body | {"source_ref": order + "X"}, headers=desk | key
    )
    assert other.status_code == 422
    page = anon_client.get(f"/cases/{case['code']}", headers=desk).text
    assert f"12345热线（工单号 {order}）" in page
    receipt = anon_client.get(f"/cases/{case['code']}/receipt", headers=desk).text
    assert f"12345热线（工单号 {order}）" in receipt
    found = anon_client.get(f"/find?q={order}", headers=desk, follow_redirects=False)
    assert found.status_code in (302, 303, 307) and found.headers["location"].endswith(
        f"/cases/{case['code']}"
    )
    # blank is none; too long, or with a control character, is refused by name
    blank = anon_client.post(
        "/api/reports", json=report_body(*grid_point[:2], source_ref="   "), headers=desk
    )
    assert blank.status_code == 201 and blank.json()["source_ref"] is None
    for bad in ("9" * 65, "GD\n1"):
        refused = anon_client.post(
            "/api/reports", json=report_body(*grid_point[:2], source_ref=bad), headers=desk
        )
        assert refused.status_code == 422 and "来源编号" in refused.json()["detail"], bad
    # in a batch, each item its own number
    batch = anon_client.post(
        "/api/reports/batch",
        json={"reports": [
            report_body(*grid_point[:2], source="hotline", source_ref=f"{order}-{i}",
                        idempotency_key=str(uuid.uuid4()))
            for i in range(3)
        ] + [report_body(*grid_point[:2], idempotency_key=str(uuid.uuid4()))]},
        headers=desk,
    ).json()  # fmt: skip
    refs = [item["case"]["source_ref"] for item in batch["results"]]
    assert batch["created"] == 4 and refs == [f"{order}-0", f"{order}-1", f"{order}-2", None]


# -- a desk's report with no point: filed by its village ------------------------------------


def _named(region: str, **extra: object) -> dict:
    body = report_body(0, 0, **extra)
    del body["location"]
    return body | {"region": region}


def test_a_desk_files_a_report_by_its_village_when_no_one_knows_the_point(
    anon_client: TestClient, login_as: Callable, app_db: Session, grid_point: tuple
) -> None:
    """A resident at the desk, or a caller, who cannot show the place on a map: the desk files
    the case by its 村（社区） (``region``), never at a guessed point.  The village's chain and
    center take it, on no grid and no map; replays, parties, repeat warnings, the audit and
    the case page work as for any report; refused, each with what to do instead: an unknown
    or too large region, one outside the desk's area, a point and a region together, neither,
    and a grid worker (whose reports have their point)."""
    desk = login_as("township_operator")
    village = "990102001001"  # 兴沙社区, 南洲街道 (the desk's street)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    phone = f"139{uuid.uuid4().int % 10**8:08d}"
    party = [{"role": "applicant", "name": "陈某", "phone": phone}]
    body = _named(village, source="walk_in", parties=party)
    r = anon_client.post("/api/reports", json=body, headers=desk | key)
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["source"] == "walk_in" and case["status"] == "registered"
    assert case["grid_code"] is None and case["deadline"] and case["tracking_url"]
    where = case["location"]
    assert where["method"] == "region" and where["grid"] is None
    assert where["village"]["code"] == village and where["township"]["code"] == "990102001"
    assert where["center"] is not None
    assert case["received"] == {"lon": None, "lat": None, "datum": None}
    # the same key and content: the same case; another report under it: refused
    again = anon_client.post("/api/reports", json=body, headers=desk | key)
    assert again.status_code == 200 and again.json()["code"] == case["code"]
    other = anon_client.post(
        "/api/reports", json=body | {"region": "990102001002"}, headers=desk | key
    )
    assert other.status_code == 422
    # stored as an old ledger's named case is: no point, method region; its first event,
    # its party, its audit entry (which says it was filed by region)
    app_db.commit()
    bind_scope(app_db, Scope.everything())
    row = app_db.execute(
        text("""SELECT c.geom IS NULL AS no_point, c.assign_method::text AS method,
                       c.village_code, c.grid_id,
                       (SELECT count(*) FROM case_event e WHERE e.case_id = c.id
                        AND e.action = 'register') AS registered,
                       (SELECT count(*) FROM case_party p WHERE p.case_id = c.id) AS parties
                FROM cases c WHERE c.code = :code"""),
        {"code": case["code"]},
    ).one()
    assert tuple(row) == (True, "region", village, None, 1, 1)
    detail = app_db.execute(
        text("SELECT detail FROM audit_log WHERE action = 'case.create' AND object = :o"),
        {"o": f"case:{case['code']}"},
    ).scalar_one()
    assert detail["region"] == village and detail["parties"] == 1
    page = anon_client.get(f"/cases/{case['code']}", headers=desk | {"Accept": "text/html"})
    assert page.status_code == 200 and 'id="case-no-point"' in page.text
    assert "受理时具体位置不详，按所在村（社区）登记" in page.text  # (not an old ledger's)
    # in the in-tray of its center (the village's station, under the desk's street): its place
    # not known yet, not "outside the grids"
    filters = "below=true&status=registered&category=neighbour"  # (as reported: fewer to read)
    tray = anon_client.get(f"/api/queue?{filters}&limit=500", headers=desk).json()["items"]
    (at,) = [n for n, i in enumerate(tray) if i["code"] == case["code"]]
    assert tray[at]["unplaced"] is True and tray[at]["grid_code"] is None
    queue_page = anon_client.get(  # (the page of 50 it is on, in the same order)
        f"/queue?{filters}&offset={at // 50 * 50}", headers=desk | {"Accept": "text/html"}
    ).text
    row = queue_page[queue_page.index(f">{case['code']}</a>") :].split("</tr>")[0]
    assert "位置待查明" in row
    # … and among the in-tray's cases whose place is not known yet (its chip), with no other
    only = anon_client.get(f"/api/queue?{filters}&unplaced=true&limit=500", headers=desk).json()
    assert case["code"] in {i["code"] for i in only["items"]}
    assert only["items"] and all(i["unplaced"] for i in only["items"])
    fewer = anon_client.get("/api/queue?below=true&unplaced=true", headers=desk).json()["total"]
    everything = anon_client.get("/api/queue?below=true", headers=desk).json()
    assert 1 <= fewer < everything["total"] and everything["unplaced"] == fewer
    html = desk | {"Accept": "text/html"}
    chip = anon_client.get(f"/queue?{filters}&unplaced=true", headers=html)
    on = re.search(r'<a class="wg-chip on" href="/queue\?[^"]*">位置待查明 (\d+)</a>', chip.text)
    assert on and int(on.group(1)) == fewer  # (how many wait for their point)
    # round the loop like any case: accepted, sent to its department, done, followed up, closed
    url = f"/api/cases/{case['code']}/actions"
    for action in ("accept", "dispatch"):
        moved = anon_client.post(url, headers=desk, json={"action": action})
        assert moved.status_code == 200, moved.text
    (dispatch,) = moved.json()["dispatches"]
    done = anon_client.post(
        f"/api/cases/{case['code']}/dispatches/{dispatch['id']}",
        headers=desk,
        json={"response": "done", "note": "已调解"},
    )
    assert done.json()["status"] == "resolved"
    for action, extra in (("verify", {"resolved": True}), ("close", {})):
        moved = anon_client.post(url, headers=desk, json={"action": action} | extra)
        assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "closed"
    # the same resident twice more, by village: the third is flagged (高频线索)
    third = None
    for _ in range(2):
        third = anon_client.post(
            "/api/reports", json=_named(village, source="walk_in", parties=party), headers=desk
        )
        assert third.status_code == 201, third.text
    assert third is not None and third.json()["flags"].get("repeat_resident") == 3
    # a batch from the desk's queue: named and located items side by side, each judged alone
    items = [
        _named("990102001003", source="hotline"),  # 和城社区
        report_body(*grid_point[:2], source="hotline"),
        _named("990102001"),  # the street itself: its center's
        _named("999999999999"),  # no such region
        _named("990102"),  # a district: too large
        _named("990102002001"),  # another street's village: not the desk's
        report_body(*grid_point[:2]) | {"region": village},  # both
        {k: v for k, v in report_body(0, 0).items() if k != "location"},  # neither
    ]
    for item in items:
        item["idempotency_key"] = str(uuid.uuid4())
    out = anon_client.post("/api/reports/batch", json={"reports": items}, headers=desk).json()
    got = [(x["status"], x["http_status"]) for x in out["results"]]
    assert (
        got
        == [("created", 201)] * 3
        + [("rejected", 422)] * 2
        + [("rejected", 403)]
        + [("rejected", 422)] * 2
    ), out
    results = out["results"]
    assert results[0]["case"]["location"]["village"]["code"] == "990102001003"
    assert results[1]["case"]["location"]["method"] == "covers"
    assert results[2]["case"]["location"]["village"] is None
    assert results[2]["case"]["location"]["township"]["code"] == "990102001"
    assert "没有代码为 999999999999 的村（社区）或乡镇（街道）" in results[3]["detail"]
    assert "区（县）的代码" in results[4]["detail"]
    assert "该村（社区）不在您的管辖范围内" in results[5]["detail"]
    assert "只能给一个" in results[6]["detail"]
    assert "缺少位置" in results[7]["detail"]
    # a brief answer (a phone's queue) for a named case too
    brief = anon_client.post(
        "/api/reports/batch",
        json={"reports": [_named(village, idempotency_key=str(uuid.uuid4()))]},
        headers=desk | {"Prefer": "return=minimal"},
    ).json()
    assert brief["created"] == 1 and brief["results"][0]["case"]["grid_code"] is None
    # in English
    english = anon_client.post(
        "/api/reports",
        json=_named("999999999999"),
        headers=desk | {"Accept-Language": "en"},
    )
    assert english.status_code == 422 and "No village or township" in english.json()["detail"]
    # a grid worker's report has its point
    worker = login_as("grid_worker")
    refused = anon_client.post("/api/reports", json=_named(village), headers=worker)
    assert refused.status_code == 422 and "网格员上报须带位置" in refused.json()["detail"]
    queued = anon_client.post(
        "/api/reports/batch",
        json={"reports": [_named(village, idempotency_key=str(uuid.uuid4()))]},
        headers=worker,
    ).json()
    assert queued["rejected"] == 1 and "网格员上报须带位置" in queued["results"][0]["detail"]


def test_a_case_filed_by_its_village_gets_its_point_once_known(
    anon_client: TestClient, login_as: Callable, app_db: Session, demo_city: DemoCity
) -> None:
    """补充位置: a grid worker went to look, or the caller rang back — the desk gives the case
    its point (in the datum it came in), in the desk's area.  The case then has its grid, is on
    the map and in the grid's figures, linked to its possible duplicates, keeps its center, and
    its history says so — and which village it turned out to be in, when not the one named.
    Once only; by the desk, not a grid worker; a stale version refused."""
    desk = login_as("township_operator")
    village, other = "990102001001", "990102002001"  # (the other: another street's)
    # (the village's last grid, a spot off its usual one: where other tests leave no cases)
    inside = [g for g in demo_city.grids if g.code.startswith(village)][-1]
    elsewhere = next(g for g in demo_city.grids if g.code.startswith(other))
    spot = inside.geom.buffer(-0.0004).representative_point()
    # reported at the spot before and after it: its possible duplicates once it has its point
    before_it = anon_client.post(
        "/api/reports", json=report_body(spot.x, spot.y), headers=desk
    ).json()["code"]
    code = anon_client.post("/api/reports", json=_named(village), headers=desk).json()["code"]
    after_it = anon_client.post(
        "/api/reports", json=report_body(spot.x + 0.0002, spot.y), headers=desk
    ).json()["code"]
    case = anon_client.get(f"/api/cases/{code}", headers=desk).json()
    assert case["possible_duplicates"] == []
    center, url = case["location"]["center"], f"/api/cases/{code}/location"

    def where(grid: object, datum: str = "wgs84") -> dict:
        p = spot if grid is inside else grid.geom.representative_point()  # type: ignore[attr-defined]
        lon, lat = wgs84_to_gcj02(p.x, p.y) if datum == "gcj02" else (p.x, p.y)
        return {"lon": float(lon), "lat": float(lat), "datum": datum}

    wrong = anon_client.post(url, headers=desk, json={"location": where(elsewhere)})
    assert wrong.status_code == 403 and "不在您的管辖范围内" in wrong.json()["detail"], wrong.text
    assert (
        anon_client.post(
            url, headers=login_as("grid_worker"), json={"location": where(inside)}
        ).status_code
        == 403
    )
    stale = anon_client.post(
        url, headers=desk, json={"location": where(inside), "version": case["version"] + 5}
    )
    assert stale.status_code == 409
    app_db.commit()
    bind_scope(app_db, Scope.everything())
    counted = text("""SELECT coalesce(sum(n), 0) FROM case_grid_day
                      WHERE grid_code = :g AND day = (now() AT TIME ZONE 'Asia/Shanghai')::date""")
    before = app_db.execute(counted, {"g": inside.code}).scalar_one()
    given = where(inside, "gcj02")
    r = anon_client.post(url, headers=desk, json={"location": given, "note": "网格员现场查看"})
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["grid_code"] == inside.code and done["location"]["method"] == "covers"
    assert done["location"]["center"] == center  # (its center keeps it)
    assert done["received"] == {"lon": given["lon"], "lat": given["lat"], "datum": "gcj02"}
    p = spot
    assert abs(done["lon"] - p.x) < 1e-5 and abs(done["lat"] - p.y) < 1e-5  # in WGS 84
    assert done["version"] == case["version"] + 1
    last = done["events"][-1]
    assert (last["action"], last["note"]) == ("locate", "网格员现场查看")
    linked = {d["code"] for d in done["possible_duplicates"]}
    assert {before_it, after_it} <= linked, done["possible_duplicates"]
    assert done["flags"].get("repeat_place", 0) >= 3  # the two and itself, within 50 m
    app_db.commit()
    bind_scope(app_db, Scope.everything())
    assert app_db.execute(counted, {"g": inside.code}).scalar_one() == before + 1
    listed = anon_client.get(f"/api/cases?grid={inside.code}&limit=500", headers=desk).json()
    (feature,) = [f for f in listed["features"] if f["properties"]["code"] == code]
    assert feature["geometry"]["type"] == "Point"
    page = anon_client.get(f"/cases/{code}", headers=desk | {"Accept": "text/html"}).text
    assert 'id="case-no-point"' not in page and 'id="case-map"' in page and "补充位置" in page
    audited = app_db.execute(
        text("SELECT count(*) FROM audit_log WHERE action = 'case.locate' AND object = :o"),
        {"o": f"case:{code}"},
    ).scalar_one()
    assert audited == 1
    again = anon_client.post(url, headers=desk, json={"location": where(inside)})
    assert again.status_code == 409 and "已有位置" in again.json()["detail"]
    # named under one village, found in the next one: the point decides, the history says so;
    # not yet accepted, the case goes to that village's center, as a report made there would
    next_door = [g for g in demo_city.grids if g.code.startswith("990102001002")][-1]
    near = next_door.geom.buffer(-0.0004).representative_point()
    their_center = anon_client.post(
        "/api/reports", json=report_body(near.x, near.y), headers=desk
    ).json()["location"]["center"]
    assert their_center != center
    misnamed = anon_client.post("/api/reports", json=_named(village), headers=desk).json()
    found = anon_client.post(
        f"/api/cases/{misnamed['code']}/location", headers=desk, json={"location": where(next_door)}
    )
    assert found.status_code == 200, found.text
    there = found.json()
    assert there["location"]["village"]["code"] == "990102001002"
    assert there["grid_code"] == next_door.code
    assert there["location"]["center"] == their_center
    assert there["deadline"] == misnamed["deadline"]  # (its deadlines stay)
    named_as = misnamed["location"]["village"]["name"]
    said = there["events"][-1]["note"]
    assert f"原按{named_as}登记，实际位于" in said and f"改由{their_center['name']}受理" in said
    # … once taken up, its center keeps it (a transfer moves it)
    taken = anon_client.post("/api/reports", json=_named(village), headers=desk).json()
    accepted = anon_client.post(
        f"/api/cases/{taken['code']}/actions", headers=desk, json={"action": "accept"}
    )
    assert accepted.status_code == 200, accepted.text
    kept = anon_client.post(
        f"/api/cases/{taken['code']}/location", headers=desk, json={"location": where(next_door)}
    ).json()
    assert kept["location"]["center"] == taken["location"]["center"]
    assert "改由" not in kept["events"][-1]["note"]
    # the resident's tracking page shows no exact location: not this event either
    token = done["tracking_url"].rstrip("/").rsplit("/", 1)[-1]
    tracking = anon_client.get(f"/t/{token}", headers={"Accept": "text/html"}).text
    assert "补充位置" not in tracking and "网格员现场查看" not in tracking


def test_a_grid_worker_finds_the_place_of_a_case_filed_by_their_village(
    anon_client: TestClient, login_as: Callable, demo_city: DemoCity
) -> None:
    """待查明位置: the phone lists the open cases of the worker's village that have no point;
    standing at the place, the worker gives it — in one of their own grids only (another
    grid's is for the desk, or for that grid's worker).  Sent again from the phone's queue
    (its answer lost on a weak signal), the same point is a replay: answered as before, nothing
    added; another point, or the same from someone else, is refused."""
    desk, worker = login_as("township_operator"), login_as("grid_worker")
    code = anon_client.post(
        "/api/reports", json=_named("990102001001", source="hotline"), headers=desk
    ).json()["code"]
    listed = anon_client.get("/api/cases?status=open&unplaced=true&limit=200", headers=worker)
    features = {f["properties"]["code"]: f for f in listed.json()["features"]}
    assert code in features and features[code]["geometry"] is None
    assert all(f["geometry"] is None for f in features.values())
    own = next(g for g in demo_city.grids if g.code == "990102001001001")  # (the worker's)
    not_own = next(g for g in demo_city.grids if g.code == "990102001001002")

    def at(grid: object) -> dict:
        p = grid.geom.buffer(-0.0003).representative_point()  # type: ignore[attr-defined]
        return {"location": {"lon": p.x, "lat": p.y, "datum": "wgs84", "accuracy_m": 6}}

    url = f"/api/cases/{code}/location"
    refused = anon_client.post(url, headers=worker, json=at(not_own))
    assert refused.status_code == 403 and "不在您负责的网格内" in refused.json()["detail"]
    done = anon_client.post(url, headers=worker, json=at(own) | {"note": "现场查看"})
    assert done.status_code == 200, done.text
    assert "Idempotent-Replayed" not in done.headers
    assert done.json()["grid_code"] == own.code
    assert done.json()["events"][-1]["actor"] == "grid_worker"
    replayed = anon_client.post(url, headers=worker, json=at(own) | {"note": "现场查看"})
    assert replayed.status_code == 200, replayed.text
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json()["events"] == done.json()["events"]
    assert replayed.json()["version"] == done.json()["version"]
    moved = at(own)
    moved["location"]["lon"] += 0.0001
    assert anon_client.post(url, headers=worker, json=moved).status_code == 409
    assert anon_client.post(url, headers=desk, json=at(own)).status_code == 409
    unplaced = anon_client.get("/api/cases?status=open&unplaced=true&limit=200", headers=worker)
    assert code not in {f["properties"]["code"] for f in unplaced.json()["features"]}
    placed = anon_client.get(f"/api/cases?unplaced=false&grid={own.code}&limit=500", headers=desk)
    assert code in {f["properties"]["code"] for f in placed.json()["features"]}
    # a command center reads the case but may not give it its point: told what it may not do
    watcher = anon_client.post(url, headers=login_as("city_commander"), json=at(own))
    assert watcher.status_code == 403 and "补充案件位置" in watcher.json()["detail"]


def test_a_grid_worker_with_no_grid_yet_is_told_so_not_that_the_place_is_outside(
    anon_client: TestClient, login_as: Callable[[str], dict[str, str]], app_db: Session,
    engine: Engine,
) -> None:  # fmt: skip
    """A grid worker's account before the center assigns them grids: every report would be
    refused as outside their grids, wherever they stand.  The phone page says so above the map,
    and a report (single or in a batch) is refused with the reason and who to ask."""
    from gis.intake import NO_GRIDS

    lon, lat = grid_worker_point(engine)
    worker = login_as("grid_worker")
    take_grids_from(app_db, "grid_worker")
    r = anon_client.post("/api/reports", headers=worker, json=report_body(lon, lat))
    assert r.status_code == 403 and r.json()["detail"] == NO_GRIDS[0]
    item = report_body(lon, lat) | {"idempotency_key": str(uuid.uuid4())}
    batch = anon_client.post("/api/reports/batch", headers=worker, json={"reports": [item]})
    assert batch.status_code == 200
    (result,) = batch.json()["results"]
    assert result["status"] == "rejected" and result["http_status"] == 403, result
    assert result["detail"] == NO_GRIDS[0]
    page = anon_client.get("/m/", headers=worker | {"Accept": "text/html"})
    assert page.status_code == 200 and 'id="no-grids"' in page.text and NO_GRIDS[0] in page.text
    english = anon_client.get("/m/?lang=en", headers=worker | {"Accept": "text/html"}).text
    assert NO_GRIDS[1].replace("'", "&#x27;") in english
    # with a grid again: neither
    app_db.execute(
        text("INSERT INTO worker_grid (worker_id, grid_code) "
             "SELECT u.worker_id, g.code FROM app_user u, grid g "
             "WHERE u.username = 'grid_worker' AND g.valid_to IS NULL "
             "AND ST_Covers(g.geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326))"),
        {"x": lon, "y": lat},
    )  # fmt: skip
    app_db.commit()
    assert 'id="no-grids"' not in anon_client.get("/m/?lang=zh", headers=worker).text
    again = anon_client.post("/api/reports", headers=worker, json=report_body(lon, lat))
    assert again.status_code == 201, again.text
