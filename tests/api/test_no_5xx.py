"""Bad input gets a 4xx that says what was wrong, never a 5xx: every operation of the OpenAPI
document, called by the demo admin with malformed path values, query values and bodies."""

from __future__ import annotations

import io
import json
import math
import uuid

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.conftest import report_body

#: malformed values for path and query parameters
BAD_VALUES = ["x", "0", "-1", "99999999999999999999", "1e309", "NaN", "'; --", "中文", "", "[1]"]
#: query values that look almost right
NEAR_MISSES = ["2026-13-45", "1,2,3", "0,0,0,0", "-180,-90,180,90", "true", "a\x00b"]
#: a control character, which a workbook refuses (an export's title names its filters)
NEAR_MISSES += ["a\x04b"]
#: days at the ends of Python's calendar: a day after or before them does not exist
NEAR_MISSES += ["0001-01-01", "9999-12-31"]
_FIELDS = ["kind", "category", "location", "geometry", "op", "grid", "grids", "name", "code"]
_FIELDS += ["status", "to", "note", "decision", "reports", "title", "parts", "reason", "rating"]
#: malformed JSON bodies: not JSON, not an object, and objects of the usual fields, wrongly typed
BAD_BODIES = ["{bad", "[]", "null", "{}"] + [
    json.dumps(dict.fromkeys(_FIELDS, v)) for v in ("x", 1e308, [], {})
]
#: operations that end the caller's session (the rest of the test needs it): logging out, and
#: ending one of one's sessions by its id (a small number, as some of the values above are)
SKIPPED = ("/api/auth/logout", "/api/auth/sessions/{session_id}")
#: the only operation that may answer 401 (a wrong password): any other 401 means the caller's
#: session ended, and every later call would answer 401 too, testing nothing
LOGIN = "/api/auth/login"


def test_no_operation_answers_malformed_input_with_a_5xx(
    client: TestClient, app_db: Session
) -> None:
    lon, lat = app_db.execute(
        text("""SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid
                WHERE valid_to IS NULL ORDER BY code LIMIT 1) s""")
    ).one()
    created = client.post("/api/reports", json=report_body(lon, lat))
    assert created.status_code == 201, created.text
    # and a case of an old ledger, filed by its village's name without coordinates (migration
    # 0080): every operation on a case is called with it too
    named = client.post("/api/reports", json=report_body(lon, lat)).json()["code"]
    filed = app_db.execute(
        text("""UPDATE cases SET geom = NULL, received_lon = NULL, received_lat = NULL,
                       assign_method = 'region', assign_distance_m = NULL, grid_id = NULL,
                       grid_code = NULL
                WHERE code = :code"""),
        {"code": named},
    )
    assert getattr(filed, "rowcount", 0) == 1
    # a photo of the case and an edit set of the layout, for the operations on them
    photo = client.post(
        f"/api/cases/{created.json()['code']}/photos",
        files=[("photos", ("现场.png", _png(), "image/png"))],
    )
    assert photo.status_code == 201, photo.text
    edit = client.post("/api/edits", json={"title": "测试方案"})
    assert edit.status_code == 201, edit.text
    app_db.commit()  # (each request rolls back to here)
    real = [
        created.json()["code"],
        named,
        app_db.execute(text("SELECT code FROM grid WHERE valid_to IS NULL LIMIT 1")).scalar_one(),
        app_db.execute(text("SELECT code FROM region WHERE level = 'township' LIMIT 1")).scalar(),
        app_db.execute(text("SELECT min(id)::text FROM center")).scalar(),
    ]
    # a parameter's own real values by its name, the first of which is called with malformed
    # queries and bodies too (an unnamed one: the values above, the new case's code first):
    # past the 404, into what the operation does with a user, a photo, an edit, a tile …
    x, y = _tile(lon, lat, 14)
    own = {
        "other": [named],
        "username": ["grid_worker"],
        "photo_id": [str(photo.json()[0]["id"])],
        "edit_id": [str(edit.json()["id"])],
        "patrol_id": [str(app_db.execute(text("SELECT min(id) FROM patrol")).scalar() or 1)],
        "token": [created.json()["tracking_url"].rstrip("/").rsplit("/", 1)[-1]],
        "stage": ["reminder", "supervision", "notice"],
        "fmt": ["png", "svg", "geojson", "gpkg"],
        "layer": ["grids", "cases", "regions"],
        "what": ["cases", "workers", "centers"],
        "z": ["14"],
        "x": [str(x)],
        "y": [str(y)],
    }
    spec = client.get("/openapi.json").json()
    answers = 0
    failures = []
    for path, operations in spec["paths"].items():
        if path in SKIPPED:
            continue
        for method, operation in operations.items():
            parameters = operation.get("parameters", [])
            in_path = [p["name"] for p in parameters if p["in"] == "path"]
            in_query = [p["name"] for p in parameters if p["in"] == "query"]
            # every path parameter malformed alike, then each with its real values in turn
            values = [dict.fromkeys(in_path, v) for v in BAD_VALUES] if in_path else [{}]
            known = [own.get(name, [v for v in real if v]) for name in in_path]
            for k in range(max(map(len, known), default=0)):
                pairs = zip(in_path, known, strict=True)
                values.append({n: v[min(k, len(v) - 1)] for n, v in pairs})
            for i, value in enumerate(values):
                url = path
                for name in in_path:
                    url = url.replace("{" + name + "}", value[name] or "x")
                calls: list[tuple[dict[str, str], str | None]] = [({}, None)]
                # each malformed query value with no body, each malformed body with no query:
                # with a malformed path value ("x") and with the first real ones
                if not in_path or value == values[0] or i == len(BAD_VALUES):
                    calls += [({q: v}, None) for q in in_query for v in BAD_VALUES + NEAR_MISSES]
                    if "requestBody" in operation:
                        calls += [({}, body) for body in BAD_BODIES]
                for query, body in calls:
                    try:  # the test client raises what the app did not handle
                        status: int | str = client.request(
                            method.upper(),
                            url,
                            params=query,
                            content=body,
                            headers={
                                "Content-Type": "application/json",
                                "Idempotency-Key": str(uuid.uuid4()),
                            },
                        ).status_code
                    except Exception as e:
                        status = repr(e)
                    answers += 1
                    if not isinstance(status, int) or status >= 500:
                        failures.append((method.upper(), url, query, body, status))
                    elif status == 401 and path != LOGIN:
                        failures.append((method.upper(), url, query, body, "session ended"))
    assert answers > 500  # the document was walked
    assert failures == []


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (0, 128, 0)).save(out, "PNG")
    return out.getvalue()


def _tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The web-mercator tile at zoom ``z`` that holds the point."""
    n = 2**z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)
