"""Who may do what, and where: the role × endpoint matrix, jurisdiction, mass assignment.

The demo users (importers.demo_users) cover every role and level.  "A" is township_operator's
street in the first district; "B" is township_operator_b's township in another district.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

import gis.scope
from api.app import ROUTERS, create_app
from api.deps import route_permission
from gis.settings import Settings
from importers.demo import DemoCity

USERS = [
    "admin",
    "city_commander",
    "city_operator",
    "district_operator",
    "district_planner",
    "township_operator",
    "township_operator_b",
    "village_operator",
    "grid_worker",
]
ROLE_OF = {
    "admin": "admin",
    "city_commander": "commander",
    "city_operator": "operator",
    "district_operator": "operator",
    "district_planner": "planner",
    "township_operator": "operator",
    "township_operator_b": "operator",
    "village_operator": "operator",
    "grid_worker": "grid_worker",
}


@dataclass(frozen=True)
class Sample:
    """Data inside one user's jurisdiction: a point where they may act, a case they may read."""

    lon: float
    lat: float
    case_code: str
    region_code: str | None


@pytest.fixture(scope="module")
def samples(engine: Engine, demo_city: DemoCity) -> dict[str, Sample]:
    out = {}
    with engine.connect() as conn:
        for username in USERS:
            row = conn.execute(
                text("""
                WITH u AS (SELECT u.*, r.path AS rpath FROM app_user u
                           LEFT JOIN region r ON r.id = u.region_id WHERE u.username = :name),
                g AS (
                    SELECT g.code, ST_PointOnSurface(g.geom) AS p FROM grid g
                    JOIN region v ON v.id = g.village_id, u
                    WHERE g.valid_to IS NULL
                      AND (u.rpath IS NULL OR u.region_id = ANY(v.path))
                      AND (u.worker_id IS NULL OR g.code IN (
                          SELECT grid_code FROM worker_grid WHERE worker_id = u.worker_id))
                    ORDER BY g.code LIMIT 1)
                SELECT ST_X(g.p), ST_Y(g.p),
                       (SELECT c.code FROM cases c WHERE c.grid_code = g.code ORDER BY c.code
                        LIMIT 1),
                       (SELECT r.code FROM region r, u WHERE r.id = u.region_id)
                FROM g
            """),
                {"name": username},
            ).one()
            out[username] = Sample(*row)
    return out


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    permission: str | None  # None: any logged-in user
    ok: int = 200


def calls_for(s: Sample) -> list[Call]:
    import math

    report = "/api/reports"
    bbox = f"{s.lon - 0.01},{s.lat - 0.01},{s.lon + 0.01},{s.lat + 0.01}"
    tx = int((s.lon + 180) / 360 * 4096)
    ty = int((1 - math.asinh(math.tan(math.radians(s.lat))) / math.pi) / 2 * 4096)
    return [
        Call("GET", f"/api/locate?lon={s.lon}&lat={s.lat}", "locate"),
        Call("POST", report, "case:report", 201),
        Call("POST", "/api/reports/batch", "case:report"),
        Call("POST", "/api/patrols", "patrol:record", 201),
        Call("POST", "/api/patrols/batch", "patrol:record"),
        Call("GET", "/api/patrols", "patrol:read"),
        Call("GET", "/workers/W0/patrols", "patrol:read", 404),
        Call("POST", "/api/patrols/999999999/photos", "patrol:record", 404),
        Call("GET", "/api/patrol-photos/0", "patrol:read", 404),
        Call("GET", "/api/patrol-photos/0/thumb", "patrol:read", 404),
        Call("POST", f"/api/cases/{s.case_code}/duplicates/WG00000000000000", "case:triage", 404),
        Call("GET", "/api/cases?limit=5", "case:read"),
        Call("GET", "/api/cases?party_phone=13800138000", "pii:read"),
        Call("GET", f"/api/cases/{s.case_code}", "case:read"),
        Call("GET", f"/api/cases/{s.case_code}/parties", "case:read"),
        Call("GET", f"/api/cases/{s.case_code}/parties?unmask=true", "pii:read"),
        Call("GET", "/api/categories", "category:read"),
        Call(
            "GET",
            f"/api/grids?bbox={s.lon - 0.01},{s.lat - 0.01},{s.lon + 0.01},{s.lat + 0.01}",
            "boundary:read",
        ),
        Call("GET", "/api/regions?level=village", "boundary:read"),
        Call("GET", "/api/centers", "boundary:read"),
        Call("GET", "/api/places?q=社区", "boundary:read"),
        Call("GET", "/api/auth/me", None),
        Call("GET", "/docs", None),  # the API described to those logged in only
        Call("GET", "/openapi.json", None),
        Call("GET", "/", "map:view"),
        Call("GET", "/m/", "case:report"),
        Call("POST", f"/api/cases/{s.case_code}/photos", "case:report", 201),
        Call("GET", f"/api/cases/{s.case_code}/photos", "case:read"),
        Call("GET", "/api/photos/0", "case:read", 404),
        Call("GET", "/api/photos/0/thumb", "case:read", 404),
        Call("GET", f"/cases/{s.case_code}/receipt", "case:read"),
        Call("GET", f"/api/cases/{s.case_code}/qr.svg", "case:read"),
        Call("GET", f"/api/cases/{s.case_code}/qr.png", "case:read"),
        # a stale version: refused after the permission and jurisdiction checks
        Call("POST", f"/api/cases/{s.case_code}/actions", "case:handle", 409),
        Call("POST", f"/api/cases/{s.case_code}/parties", "case:handle", 201),
        Call("POST", f"/api/cases/{s.case_code}/notes", "case:note", 201),
        # (it has its point: refused after the permission and jurisdiction checks)
        Call("POST", f"/api/cases/{s.case_code}/location", "case:note", 409),
        # (not resolved: refused after the permission and jurisdiction checks)
        Call("POST", f"/api/cases/{s.case_code}/verify", "case:verify", 409),
        Call("GET", "/workers", "case:read"),
        Call("GET", "/workers.xlsx", "case:read"),
        Call("GET", "/grids", "case:read"),
        Call("GET", "/grids.xlsx", "case:read"),
        Call("GET", "/grids/000000000000000", "case:read", 404),
        Call("PUT", "/api/grids/000000000000000/workers", "boundary:edit", 404),
        Call("POST", f"/api/cases/{s.case_code}/dispatches/999999999", "case:handle", 409),
        Call("GET", "/api/queue", "case:handle"),
        Call("GET", f"/cases/{s.case_code}/letters/supervision", "case:read", 404),
        Call("GET", f"/cases/{s.case_code}", "case:read"),
        Call("GET", "/api/stats", "case:read"),
        Call("GET", "/api/stats/weekly", "case:read"),
        Call("GET", "/api/safety-index", "case:read"),
        Call("GET", "/maps/safety", "case:read"),
        Call("GET", f"/api/heat?bbox={bbox}&zoom=12", "case:read"),
        Call("GET", f"/api/grid-counts?bbox={bbox}", "case:read"),
        Call("GET", f"/api/hotspots?bbox={bbox}", "case:read"),
        Call("GET", "/api/centers/load", "case:read"),
        Call("GET", "/api/live", "case:read"),
        Call("GET", "/api/grids/000000000000000/summary", "case:read", 404),
        Call("GET", f"/tiles/grids/12/{tx}/{ty}.mvt", "case:read"),
        Call("GET", "/maps/command", "map:view"),
        Call("GET", "/queue", "case:handle"),
        Call("GET", "/queue.xlsx", "case:handle"),
        Call("GET", "/find?q=1", "case:read"),
        Call("GET", "/api/audit", "audit:read"),
        Call("GET", "/audit", "audit:read"),
        Call("GET", "/audit.xlsx", "audit:read"),
        Call("GET", "/reports/daily", "case:read"),
        Call("GET", "/reports/daily.xlsx", "case:read"),
        Call("GET", "/reports/period", "case:read"),
        Call("GET", "/reports/period.xlsx", "case:read"),
        Call("GET", "/maps/grid/000000000000000", "map:view", 404),
        Call("GET", "/api/grids/000000000000000/history", "boundary:read", 404),
        Call("GET", "/maps/planner?village=000000000000", "boundary:edit", 404),
        Call("GET", "/maps/planner", "boundary:edit"),  # the villages to pick from
        Call("POST", "/api/edits", "boundary:edit", 201),
        Call("GET", "/api/edits", "boundary:edit"),
        Call("GET", "/api/edits/999999", "boundary:edit", 404),
        Call("POST", "/api/edits/999999/operations", "boundary:edit", 404),
        Call("GET", "/api/edits/999999/validation", "boundary:edit", 404),
        Call("GET", "/api/edits/999999/preview", "boundary:edit", 404),
        Call("GET", "/api/edits/999999/draft", "boundary:edit", 404),
        Call("POST", "/api/edits/999999/commit", "boundary:edit", 404),
        Call("POST", "/api/edits/999999/discard", "boundary:edit", 404),
        Call("GET", "/api/users", "user:manage"),
        Call("POST", "/api/users", "user:manage", 422),  # (an empty form)
        Call("GET", "/api/users/nobody", "user:manage", 404),
        Call("PATCH", "/api/users/nobody", "user:manage", 404),
        Call("POST", "/api/users/nobody/password", "user:manage", 404),
        Call("POST", "/api/users/nobody/disable", "user:manage", 404),
        Call("POST", "/api/users/nobody/enable", "user:manage", 404),
        Call("POST", "/api/users/nobody/unlock", "user:manage", 404),
        Call("POST", "/api/users/nobody/otp/reset", "user:manage", 404),
        Call("POST", "/api/users/nobody/logout", "user:manage", 404),
        Call("GET", "/api/users/nobody/sessions", "user:manage", 404),
        Call("DELETE", "/api/users/nobody/sessions/1", "user:manage", 404),
        Call("GET", "/users", "user:manage"),
        Call("POST", "/api/imports", "data:import", 422),  # (an empty form)
        Call("GET", "/imports", "data:import"),
        Call("GET", "/api/imports/progress", "data:import"),
        Call("GET", "/imports/template/cases.xlsx", "data:import"),
        Call("GET", "/exports/centers.geojson", "boundary:edit"),
        Call("GET", "/account", None),
        # (the body's current password is wrong: refused after the login check)
        Call("POST", "/api/auth/password", None, 422),
        # (动态口令: a wrong password; nothing being set up; nothing to turn off)
        Call("POST", "/api/auth/otp/setup", None, 422),
        Call("POST", "/api/auth/otp/enable", None, 409),
        Call("POST", "/api/auth/otp/disable", None, 409),
        Call("POST", "/api/auth/otp/recovery-codes", None, 409),
        Call("GET", "/api/auth/sessions", None),
        Call("DELETE", "/api/auth/sessions/999999999", None, 404),  # (none of theirs)
    ]


ROUTES_IN_MATRIX = {
    ("GET", "/api/locate"),
    ("POST", "/api/reports"),
    ("POST", "/api/patrols"),
    ("POST", "/api/patrols/batch"),
    ("GET", "/api/patrols"),
    ("GET", "/workers/{code}/patrols"),
    ("POST", "/api/patrols/{patrol_id}/photos"),
    ("GET", "/api/patrol-photos/{photo_id}"),
    ("GET", "/api/patrol-photos/{photo_id}/thumb"),
    ("GET", "/api/cases"),
    ("GET", "/api/cases/{code}"),
    ("GET", "/api/cases/{code}/parties"),
    ("GET", "/api/categories"),
    ("GET", "/api/grids"),
    ("GET", "/api/regions"),
    ("GET", "/api/centers"),
    ("GET", "/api/places"),
    ("GET", "/api/auth/me"),
    ("GET", "/docs"),
    ("GET", "/openapi.json"),
    ("GET", "/"),
    ("POST", "/api/auth/logout"),  # test_logout_needs_a_session
    ("POST", "/api/reports/batch"),
    ("POST", "/api/cases/{code}/duplicates/{other}"),
    ("GET", "/m/"),
    ("POST", "/api/cases/{code}/photos"),
    ("GET", "/api/cases/{code}/photos"),
    ("GET", "/api/photos/{photo_id}"),
    ("GET", "/api/photos/{photo_id}/thumb"),
    ("GET", "/cases/{code}/receipt"),
    ("GET", "/api/cases/{code}/qr.{fmt}"),
    ("POST", "/api/cases/{code}/actions"),
    ("POST", "/api/cases/{code}/parties"),
    ("POST", "/api/cases/{code}/notes"),
    ("POST", "/api/cases/{code}/location"),
    ("POST", "/api/cases/{code}/verify"),
    ("GET", "/workers"),
    ("GET", "/workers.xlsx"),
    ("GET", "/grids"),
    ("GET", "/grids.xlsx"),
    ("GET", "/grids/{code}"),
    ("PUT", "/api/grids/{code}/workers"),
    ("POST", "/api/cases/{code}/dispatches/{dispatch_id}"),
    ("GET", "/api/queue"),
    ("GET", "/cases/{code}/letters/{stage}"),
    ("GET", "/cases/{code}"),
    ("GET", "/api/stats"),
    ("GET", "/api/stats/weekly"),
    ("GET", "/api/safety-index"),
    ("GET", "/maps/safety"),
    ("GET", "/api/heat"),
    ("GET", "/api/grid-counts"),
    ("GET", "/api/hotspots"),
    ("GET", "/api/centers/load"),
    ("GET", "/api/live"),
    ("GET", "/api/grids/{code}/summary"),
    ("GET", "/tiles/{layer}/{z}/{x}/{y}.mvt"),
    ("GET", "/maps/command"),
    ("GET", "/queue"),
    ("GET", "/queue.xlsx"),
    ("GET", "/find"),
    ("GET", "/api/audit"),
    ("GET", "/audit"),
    ("GET", "/audit.xlsx"),
    ("GET", "/reports/daily"),
    ("GET", "/reports/daily.xlsx"),
    ("GET", "/reports/period"),
    ("GET", "/reports/period.xlsx"),
    ("GET", "/maps/grid/{code}"),
    ("GET", "/api/grids/{code}/history"),
    ("GET", "/maps/planner"),
    ("POST", "/api/edits"),
    ("GET", "/api/edits"),
    ("GET", "/api/edits/{edit_id}"),
    ("POST", "/api/edits/{edit_id}/operations"),
    ("GET", "/api/edits/{edit_id}/validation"),
    ("GET", "/api/edits/{edit_id}/preview"),
    ("GET", "/api/edits/{edit_id}/draft"),
    ("POST", "/api/edits/{edit_id}/commit"),
    ("POST", "/api/edits/{edit_id}/discard"),
    ("GET", "/api/users"),
    ("POST", "/api/users"),
    ("GET", "/api/users/{username}"),
    ("PATCH", "/api/users/{username}"),
    ("POST", "/api/users/{username}/password"),
    ("POST", "/api/users/{username}/disable"),
    ("POST", "/api/users/{username}/enable"),
    ("POST", "/api/users/{username}/unlock"),
    ("POST", "/api/users/{username}/otp/reset"),
    ("POST", "/api/users/{username}/logout"),
    ("GET", "/api/users/{username}/sessions"),
    ("DELETE", "/api/users/{username}/sessions/{session_id}"),
    ("GET", "/users"),
    ("POST", "/api/imports"),
    ("GET", "/imports"),
    ("GET", "/api/imports/progress"),
    ("GET", "/imports/template/{what}.xlsx"),
    ("GET", "/exports/{layer}.{fmt}"),
    ("GET", "/account"),
    ("POST", "/api/auth/password"),
    ("POST", "/api/auth/otp/setup"),
    ("POST", "/api/auth/otp/enable"),
    ("POST", "/api/auth/otp/disable"),
    ("POST", "/api/auth/otp/recovery-codes"),
    ("GET", "/api/auth/sessions"),
    ("DELETE", "/api/auth/sessions/{session_id}"),
}
PUBLIC = {
    ("GET", "/t/{token}"),  # the resident's tracking page: no personal data, no exact place
    ("POST", "/api/track/{token}/rating"),  # the resident's rating: the token is the key
    ("POST", "/api/auth/login"),
    ("GET", "/api/health"),
    ("GET", "/m/sw.js"),  # the phone page's service worker: code only, no data
    ("GET", "/login"),
    ("POST", "/logout"),  # the pages' logout form: ends the session of its own cookie, if any
}


def test_every_route_declares_what_it_needs_and_is_in_the_matrix(settings: Settings) -> None:
    app = create_app(settings)
    seen = set()
    routes = [r for router in ROUTERS for r in router.routes] + list(app.routes)
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        for method in route.methods:
            key = (method, route.path)
            seen.add(key)
            if key in PUBLIC:
                continue
            assert route_permission(route), f"{method} {route.path} declares no permission"
            assert key in ROUTES_IN_MATRIX, f"{method} {route.path} is missing from the matrix"
    assert seen >= ROUTES_IN_MATRIX


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, "PNG")
    return out.getvalue()


_PNG = _png()


def _body(s: Sample) -> dict:
    return {
        "kind": "hazard",
        "category": "fire",
        "description": "矩阵测试：楼道堆物",
        "location": {"lon": s.lon, "lat": s.lat, "datum": "wgs84"},
        "reported_at": "2026-11-20T09:30:00+08:00",
    }


def _patrol(s: Sample) -> dict:
    return {
        "location": {"lon": s.lon, "lat": s.lat, "datum": "wgs84"},
        "checked_at": "2026-11-20T09:30:00+08:00",
    }


@pytest.mark.parametrize("username", USERS)
def test_role_endpoint_matrix(
    username: str, anon_client: TestClient, login_as: Callable, samples: dict[str, Sample]
) -> None:
    from gis.permissions import Role, allows

    role = Role(ROLE_OF[username])
    headers = login_as(username)
    for call in calls_for(samples[username]):
        kwargs: dict = {"headers": headers | {"Accept": "application/json"}}
        if call.path == "/api/reports/batch":
            kwargs["json"] = {
                "reports": [_body(samples[username]) | {"idempotency_key": str(uuid.uuid4())}]
            }
        elif call.path == "/api/patrols" and call.method == "POST":
            kwargs["json"] = _patrol(samples[username])
            kwargs["headers"] = kwargs["headers"] | {"Idempotency-Key": str(uuid.uuid4())}
        elif call.path == "/api/patrols/batch":
            kwargs["json"] = {
                "patrols": [_patrol(samples[username]) | {"idempotency_key": str(uuid.uuid4())}]
            }
        elif "/duplicates/" in call.path:
            kwargs["json"] = {"decision": "confirm"}
        elif call.path.endswith("/parties") and call.method == "POST":
            kwargs["json"] = {"role": "witness", "name": "矩阵"}
        elif call.path.endswith("/workers") and call.method == "PUT":
            kwargs["json"] = {"workers": []}
        elif call.path.endswith("/notes"):
            kwargs["json"] = {"note": "权限矩阵"}
        elif call.path.endswith("/location"):
            kwargs["json"] = {"location": _body(samples[username])["location"]}
        elif call.path.endswith("/verify"):
            kwargs["json"] = {"resolved": True}
        elif call.path.endswith("/actions"):
            kwargs["json"] = {"action": "accept", "version": 999_999}
        elif "/dispatches/" in call.path:
            kwargs["json"] = {"response": "accepted"}
        elif call.path == "/api/edits":
            kwargs["json"] = {"title": "权限矩阵"}
        elif call.path.endswith("/operations"):
            kwargs["json"] = {"op": "recode", "grid": "000000000000000", "name": "矩阵"}
        elif call.path.startswith("/api/edits/"):
            kwargs["json"] = None
        elif call.path.startswith("/api/users"):
            kwargs["json"] = {}
        elif call.path == "/api/auth/password":
            kwargs["json"] = {"current_password": "x", "new_password": "Not-used-2026"}
        elif call.path.startswith("/api/auth/otp/"):
            kwargs["json"] = {"password": "x", "code": "123456"}
            if call.path.endswith("/setup"):
                kwargs["json"] = {"password": "x"}
            elif call.path.endswith("/enable"):
                kwargs["json"] = {"code": "123456"}
        elif call.path.endswith("/photos") and call.method == "POST":
            kwargs["files"] = [("photos", ("a.png", _PNG, "image/png"))]
        elif call.method == "POST":
            kwargs["json"] = _body(samples[username])
        r = anon_client.request(call.method, call.path, **kwargs)
        allowed = call.permission is None or allows(role, call.permission)
        expected = call.ok if allowed else 403
        assert r.status_code == expected, f"{username} {call.method} {call.path}: {r.text[:200]}"
        anon = anon_client.request(
            call.method,
            call.path,
            json=kwargs.get("json"),
            files=kwargs.get("files"),
            headers={"Accept": "application/json"},
        )
        assert anon.status_code == 401, f"anonymous {call.method} {call.path}"


def test_logout_needs_a_session(anon_client: TestClient) -> None:
    assert anon_client.post("/api/auth/logout").status_code == 401


def test_map_page_sends_browsers_to_login(anon_client: TestClient) -> None:
    r = anon_client.get("/", headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2F"
    page = anon_client.get("/login?next=%2F")
    assert page.status_code == 200 and "登录" in page.text
    assert anon_client.get("/login?next=//evil.example").text.count('data-next="/"') == 1
    # a browser drops tabs and line breaks from a URL: /<tab>/evil.example is //evil.example
    for sly in ("/%09/evil.example", "/%0a/evil.example", "/%0D%0A/evil.example", "/%00x"):
        page = anon_client.get(f"/login?next={sly}").text
        assert page.count('data-next="/"') == 1, sly
    assert 'data-next="/queue?a=1"' in anon_client.get("/login?next=%2Fqueue%3Fa%3D1").text


def test_grid_worker_reports_only_in_own_grids(
    anon_client: TestClient, login_as: Callable, samples: dict[str, Sample]
) -> None:
    other = samples["village_operator"]  # same village, but (in general) not the worker's grid
    mine = samples["grid_worker"]
    ok = anon_client.post("/api/reports", json=_body(mine), headers=login_as("grid_worker"))
    assert ok.status_code == 201
    if (other.lon, other.lat) != (mine.lon, mine.lat):
        r = anon_client.post("/api/reports", json=_body(other), headers=login_as("grid_worker"))
        assert r.status_code == 403 and "负责的网格" in r.json()["detail"]


# -- cross-jurisdiction ----------------------------------------------------------------------


@dataclass
class Township:
    code: str
    name: str
    secrets: set[str]  # strings that must never reach another township's operator
    points: list[tuple[float, float]]
    case_codes: list[str]
    bboxes: list[str]


@pytest.fixture(scope="module")
def township_b(engine: Engine, samples: dict[str, Sample]) -> Township:
    code = samples["township_operator_b"].region_code
    assert code is not None
    with engine.connect() as conn:
        name = conn.execute(text("SELECT name FROM region WHERE code = :c"), {"c": code}).scalar()
        regions = conn.execute(
            text("""
            SELECT r.code, r.name FROM region r JOIN region t ON t.id = ANY(r.path)
            WHERE t.code = :c"""),
            {"c": code},
        ).all()
        grids = conn.execute(
            text("""
            SELECT g.code, ST_X(ST_PointOnSurface(g.geom)), ST_Y(ST_PointOnSurface(g.geom)),
                   ST_XMin(g.geom), ST_YMin(g.geom), ST_XMax(g.geom), ST_YMax(g.geom)
            FROM grid g JOIN region v ON v.id = g.village_id JOIN region t ON t.id = ANY(v.path)
            WHERE t.code = :c ORDER BY g.code"""),
            {"c": code},
        ).all()
        cases = (
            conn.execute(
                text("SELECT code FROM cases WHERE township_code = :c ORDER BY code"), {"c": code}
            )
            .scalars()
            .all()
        )
        centers = (
            conn.execute(
                text("""
            SELECT ce.name FROM center ce JOIN region r ON r.id = ce.region_id
            JOIN region t ON t.id = ANY(r.path) WHERE t.code = :c"""),
                {"c": code},
            )
            .scalars()
            .all()
        )
    secrets = {c for c, _ in regions} | {n for _, n in regions} | {g[0] for g in grids}
    secrets |= set(cases) | set(centers)
    bboxes = [f"{g[3]},{g[4]},{g[5]},{g[6]}" for g in grids]
    return Township(code, str(name), secrets, [(g[1], g[2]) for g in grids], list(cases), bboxes)


def _attempts(b: Township) -> list[tuple[str, str, dict | None]]:
    """≥ 200 reads and writes aimed at B: by id, by bbox and by filter parameters."""
    out: list[tuple[str, str, dict | None]] = []
    for code in b.case_codes[:70]:
        out.append(("GET", f"/api/cases/{code}", None))
        out.append(("GET", f"/api/cases/{code}/parties", None))
    for code in b.case_codes[:20]:
        out.append(("GET", f"/api/cases/{code}/parties?unmask=true", None))
        out.append(("POST", f"/api/cases/{code}/parties", {"name": "越权测试"}))
        out.append(("POST", f"/api/cases/{code}/notes", {"note": "越权测试"}))
        lon, lat = b.points[0]
        where = {"location": {"lon": lon, "lat": lat, "datum": "wgs84"}}
        out.append(("POST", f"/api/cases/{code}/location", where))
        out.append(("POST", f"/api/cases/{code}/verify", {"resolved": True}))
    for bbox in b.bboxes[:25]:
        out.append(("GET", f"/api/cases?bbox={bbox}&limit=50000", None))
        out.append(("GET", f"/api/cases?bbox={bbox}&since=2000-01-01T00:00:00", None))
        out.append(("GET", f"/api/grids?bbox={bbox}", None))
    for bbox in b.bboxes[:8]:
        out.append(("GET", f"/api/regions?bbox={bbox}", None))
        out.append(("GET", f"/api/centers?bbox={bbox}", None))
    for lon, lat in b.points[:20]:
        out.append(("GET", f"/api/locate?lon={lon}&lat={lat}", None))
        out.append(
            (
                "POST",
                "/api/reports",
                {
                    "kind": "dispute",
                    "category": "neighbour",
                    "description": "越权测试",
                    "location": {"lon": lon, "lat": lat, "datum": "wgs84"},
                    "reported_at": "2026-11-20T09:30:00+08:00",
                },
            )
        )
    # 地名查找 by B's own names (its villages, their centers) and by its code
    for words in [*sorted(s for s in b.secrets if not s.isdigit())[:12], b.code, b.code[:6]]:
        out.append(("GET", f"/api/places?q={quote(words)}&limit=50", None))
    out += [
        ("GET", "/api/cases?since=2000-01-01T00:00:00%2B08:00&limit=50000", None),
        ("GET", "/api/regions", None),
        ("GET", "/api/regions?level=village", None),
        ("GET", "/api/centers?level=township", None),
        ("GET", "/api/grids", None),
        ("GET", "/", None),
    ]
    return out


def _assert_refused(client: TestClient, headers: dict, b: Township, only_cases: bool) -> int:
    count = 0
    for method, path, body in _attempts(b):
        if only_cases and not path.startswith(("/api/cases", "/api/reports")):
            continue
        r = client.request(method, path, json=body, headers=headers)
        count += 1
        assert r.status_code in (200, 403, 404), f"{method} {path}: {r.status_code}"
        if method == "POST" and path.startswith("/api/reports"):
            assert r.status_code == 403, f"{path} accepted a report in B"
        if "/api/cases/" in path:
            assert r.status_code == 404, f"{path} revealed a case of B"
        leaked = [s for s in b.secrets if s in r.text]
        assert not leaked, f"{method} {path} leaked {leaked[:3]}"
    return count


def test_operator_of_township_a_never_sees_township_b(
    anon_client: TestClient, login_as: Callable, township_b: Township, app_db: Session
) -> None:
    before = _count_cases(app_db, township_b.code)
    attempts = _assert_refused(anon_client, login_as("township_operator"), township_b, False)
    assert attempts >= 200
    assert _count_cases(app_db, township_b.code) == before  # nothing was written into B


def test_row_level_security_alone_still_refuses(
    anon_client: TestClient,
    login_as: Callable,
    township_b: Township,
    monkeypatch: pytest.MonkeyPatch,
    app_db: Session,
) -> None:
    """With the query layer's filter switched off, PostgreSQL still hides B's cases and parties
    and refuses reports written into B.  (Grids, regions and centers are not under RLS.)"""
    monkeypatch.setattr(gis.scope, "APP_FILTER", False)
    before = _count_cases(app_db, township_b.code)
    attempts = _assert_refused(anon_client, login_as("township_operator"), township_b, True)
    assert attempts >= 200
    assert _count_cases(app_db, township_b.code) == before


def _count_cases(session: Session, township: str) -> int:
    session.execute(text("SELECT set_config('wangge.scope', '*', true)"))
    return int(
        session.execute(
            text("SELECT count(*) FROM cases WHERE township_code = :t"), {"t": township}
        ).scalar_one()
    )


def test_rls_hides_cases_from_a_connection_without_scope(app_db: Session) -> None:
    """The app role with no scope set sees no case, event or party at all (fail closed)."""
    app_db.execute(text("SELECT set_config('wangge.scope', '', true)"))
    for table in ("cases", "case_event", "case_party"):
        assert app_db.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0


def test_app_role_cannot_bypass_rls(app_db: Session) -> None:
    row = app_db.execute(
        text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
    ).one()
    assert tuple(row) == (False, False)
    owners = app_db.execute(
        text(
            "SELECT count(*) FROM pg_tables "
            "WHERE schemaname = 'public' AND tableowner = current_user"
        )
    ).scalar()
    assert owners == 0


# -- mass assignment -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field",
    [
        {"status": "closed"},
        {"grid_code": "990102001001001"},
        {"code": "WG00000000000001"},
        {"assign_method": "covers"},
        {"center_id": 1},
        {"village_code": "990102001001"},
        {"received_at": "2026-01-01T00:00:00+08:00"},
        {"id": 1},
    ],
)
def test_server_owned_fields_are_refused(
    client: TestClient, samples: dict[str, Sample], field: dict, app_db: Session
) -> None:
    before = _count_all(app_db)
    r = client.post("/api/reports", json=_body(samples["admin"]) | field)
    assert r.status_code == 422
    assert next(iter(field)) in [e["field"] for e in r.json()["errors"]]
    assert _count_all(app_db) == before


def _count_all(session: Session) -> int:
    session.execute(text("SELECT set_config('wangge.scope', '*', true)"))
    return int(session.execute(text("SELECT count(*) FROM cases")).scalar_one())


def test_every_answer_carries_the_security_headers(client: TestClient) -> None:
    """A page, an API answer, an error and a static file: each says what a browser may load
    for it (only the app itself, images also from the base map), that no site may frame it,
    that its type is not to be guessed, and how much of its address to pass on."""
    for url in ("/?lang=zh", "/api/categories", "/api/cases/x", "/static/wangge/wangge.css"):
        r = client.get(url)
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "connect-src 'self'" in csp, url
        assert "frame-ancestors 'none'" in csp and r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        # kept by no browser (a shared computer), but the app's own files, kept for good
        assert (r.headers["cache-control"] == "no-store") != url.startswith("/static/"), url
    assert (
        "img-src 'self' data: blob:;"
        in client.get("/api/categories").headers["content-security-policy"]
    )  # no base map: no image from anywhere else


def test_no_inline_script_runs_but_those_a_map_page_wrote_itself(client: TestClient) -> None:
    """Scripts come from the app's files; inline ones run only on the pages that write their
    own (folium's maps, the API documentation), each named by its hash, and no others: markup
    that slipped into a case page runs nothing, not even an ``onerror``."""
    from api.headers import inline_scripts, script_hash

    def script_src(r: httpx.Response) -> list[str]:
        policy = r.headers["content-security-policy"].split("; ")
        return next(d for d in policy if d.startswith("script-src ")).split()[1:]

    for url in ("/login?lang=zh", "/queue?lang=zh", "/api/categories", "/static/wangge/case.js"):
        assert script_src(client.get(url)) == ["'self'"], url
    for url in ("/?lang=zh", "/maps/command?lang=zh", "/docs"):
        page = client.get(url)
        scripts = inline_scripts(page.text)
        assert scripts, url  # folium's map, Swagger UI's start
        assert script_src(page) == ["'self'", *dict.fromkeys(map(script_hash, scripts))], url
    # the hash as browsers take it (the example of the CSP specification)
    assert script_hash("alert('Hello, world.');") == (
        "'sha256-qznLcsROx4GACP2dm0UCKCzCG+HiZ1guq6ZZDob/Tng='"
    )
    assert inline_scripts(
        '<script src="/a.js"></script><script>one()</script><script type="application/json">'
        '{"a": 1}</script>\n<SCRIPT defer>two()</SCRIPT >'
    ) == ["one()", "two()"]


def test_a_body_larger_than_its_route_takes_is_refused_before_it_is_read(
    anon_client: TestClient, client: TestClient
) -> None:
    """Anyone may send a body to the login: one of gigabytes would have been held in memory.
    A body over its route's limit is refused (413) by its declared length, or, sent in chunks,
    once past it — in the caller's language; routes that take files take more."""
    from api.limits import DEFAULT_BYTES, MB, limit_for

    too_much = b" " * (DEFAULT_BYTES + 1)
    r = anon_client.post("/api/auth/login", content=too_much, headers={"Content-Type": "x/y"})
    assert r.status_code == 413 and r.json()["code"] == "too_large"
    assert "最多 16 MB" in r.json()["detail"]

    def chunks():  # (no Content-Length: counted as it comes)
        for _ in range(17):
            yield b" " * MB

    r = client.post(
        "/api/edits",
        content=chunks(),
        headers={"Content-Type": "application/json", "Accept-Language": "en"},
    )
    assert r.status_code == 413 and "at most 16 MB" in r.json()["detail"], r.text
    assert limit_for("/api/reports") > 6 * 10 * MB  # a report with its six photos
    assert limit_for("/api/imports") > 100 * MB  # (the import's own limit says so first)
    # a body FastAPI cannot parse (nested too deeply) is a 400 in the caller's words
    r = client.post(
        "/api/edits",
        content=b"[" * 100_000 + b"]" * 100_000,
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400 and "无法解析" in r.json()["detail"]


def test_the_security_policy_lets_the_base_map_tiles_in() -> None:
    from api.headers import content_security_policy, tile_sources
    from gis.settings import BaseMapSpec

    tianditu = Settings(tile_preset="tianditu", tianditu_key="k").base_map()
    assert tile_sources(tianditu) == [f"https://t{i}.tianditu.gov.cn" for i in range(8)]
    osm = Settings(tile_preset="osm").base_map()
    assert "img-src 'self' data: blob: https://tile.openstreetmap.org;" in (
        content_security_policy(osm)
    )
    own = BaseMapSpec("http://10.1.2.3:8080/tiles/{z}/{x}/{y}.png")
    assert tile_sources(own) == ["http://10.1.2.3:8080"]
    assert tile_sources(BaseMapSpec("/static/tiles/{z}/{x}/{y}.png")) == []  # the app's own
    assert tile_sources(BaseMapSpec(None)) == []


def test_the_server_log_holds_no_phone_typed_into_a_search(settings: Settings) -> None:
    """uvicorn's access log writes each request's address with its query: a party's phone typed
    into 案件查询, the case list's ``party_phone`` and a login's way back to such a search are
    written without their values (the database keeps phones encrypted)."""
    import logging

    from api.logs import PrivateQueryFilter

    create_app(settings)
    access = logging.getLogger("uvicorn.access")
    assert any(isinstance(f, PrivateQueryFilter) for f in access.filters)
    lines = []
    for target in (
        "/find?q=13800138000&descriptions=true",
        "/api/cases?status=open&party_phone=13800138000",
        "/login?next=%2Ffind%3Fq%3D13800138000",
        "/queue?status=overdue",
    ):
        record = logging.LogRecord(
            "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
            ("10.0.0.7:50000", "GET", target, "1.1", 200), None,
        )  # fmt: skip
        assert access.filter(record)
        lines.append(record.getMessage())
    assert lines == [
        '10.0.0.7:50000 - "GET /find?q=*&descriptions=true HTTP/1.1" 200',
        '10.0.0.7:50000 - "GET /api/cases?status=open&party_phone=* HTTP/1.1" 200',
        '10.0.0.7:50000 - "GET /login?next=* HTTP/1.1" 200',
        '10.0.0.7:50000 - "GET /queue?status=overdue HTTP/1.1" 200',
    ]
    assert "13800138000" not in "".join(lines)
