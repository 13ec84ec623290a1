"""API round trips against the small demo city, including the 422s."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from html import unescape
from typing import Annotated, Any
from uuid import uuid4

import pytest
from fastapi import Depends
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic_core import PydanticCustomError
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from api.app import ROUTERS, create_app
from api.deps import get_session, query_names
from api.media import XLSX
from api.schemas import ErrorOut, _no_control_characters
from gis.settings import Settings
from importers.demo import DemoCity
from importers.demo_users import DEMO_DAY_CASES
from tests.conftest import report_body


@pytest.fixture
def inside(demo_city: DemoCity) -> tuple[float, float]:
    """A point well inside the first grid of the demo city."""
    p = demo_city.grids[0].geom.representative_point()
    return p.x, p.y


def report(lon: float, lat: float, **extra: object) -> dict:
    return report_body(lon, lat, **extra)


# -- locate --------------------------------------------------------------------------------------


def test_locate_returns_the_chain(client: TestClient, demo_city: DemoCity, inside: tuple) -> None:
    r = client.get("/api/locate", params={"lon": inside[0], "lat": inside[1]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["method"] == "covers"
    assert body["grid"]["code"] == demo_city.grids[0].code
    assert body["village"]["code"] == demo_city.grids[0].village_code
    assert body["township"]["code"] == demo_city.grids[0].village_code[:9]
    assert body["district"]["level"] == "district"
    assert body["city"]["name"] == "示例市"
    assert body["center"]["level"] == "village"


def test_locate_takes_a_point_picked_off_amap_or_baidu(
    client: TestClient, demo_city: DemoCity, inside: tuple
) -> None:
    """A point read off Amap (GCJ-02) or Baidu (BD-09) is hundreds of metres from its WGS 84
    place: with its ``datum`` it is located where it is, as a report's point would be."""
    from gis.datum import wgs84_to_bd09, wgs84_to_gcj02

    truth = client.get("/api/locate", params={"lon": inside[0], "lat": inside[1]}).json()
    for datum, shift in (("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)):
        x, y = shift(inside[0], inside[1])
        said = {"lon": float(x), "lat": float(y), "datum": datum}
        assert client.get("/api/locate", params=said).json() == truth, datum
    r = client.get("/api/locate", params={"lon": 113.9, "lat": 23, "datum": "gcj-02"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "datum"


def test_locate_outside_everything_is_unassigned(client: TestClient) -> None:
    body = client.get("/api/locate", params={"lon": 10, "lat": 10}).json()
    assert body["method"] == "unassigned" and body["grid"] is None and body["center"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lon": "NaN", "lat": 23}, "lon"),
        ({"lon": 113.9, "lat": "inf"}, "lat"),
        ({"lon": 181, "lat": 23}, "lon"),
        ({"lon": 113.9, "lat": -91}, "lat"),
        ({"lon": "东经", "lat": 23}, "lon"),
        ({"lat": 23}, "lon"),
    ],
)
def test_locate_rejects_bad_coordinates(client: TestClient, params: dict, field: str) -> None:
    r = client.get("/api/locate", params=params)
    assert r.status_code == 422
    body = r.json()
    assert body["errors"][0]["field"] == field
    assert body["detail"].startswith(field)
    assert "经度" in body["detail"] or "纬度" in body["detail"]


def test_a_refused_long_value_is_quoted_by_its_start(client: TestClient) -> None:
    """A note pasted from a long document, refused as too long, is quoted by its first 60
    characters, not repeated whole in the message."""
    code = client.get("/api/cases", params={"limit": 1}).json()["features"][0]["properties"]["code"]
    r = client.post(f"/api/cases/{code}/notes", json={"note": "长" * 2001})
    assert r.status_code == 422
    assert r.json()["detail"].endswith("，收到 " + "长" * 60 + "…")


def test_a_refused_blank_value_is_said_to_be_blank(client: TestClient) -> None:
    """A note of spaces only is refused as empty, and the message says what came (spaces
    echoed after 收到 cannot be seen)."""
    code = client.get("/api/cases", params={"limit": 1}).json()["features"][0]["properties"]["code"]
    r = client.post(f"/api/cases/{code}/notes", json={"note": " \u3000\t"})
    assert r.status_code == 422
    assert r.json()["detail"] == "note（说明）不能为空，收到的只有空白字符"
    r = client.post(
        f"/api/cases/{code}/notes", json={"note": "  "}, headers={"Accept-Language": "en"}
    )
    assert r.json()["detail"] == "note must not be empty; got only blanks"


@pytest.mark.parametrize(
    ("url", "zh", "en"),
    [
        ("/queue?grid=abc", "grid（网格编码）应为 15 位数字，收到 abc",
         "grid must be 15 digits; got abc"),
        ("/grids?region=99010", "region（区划）应为 6、9 或 12 位数字，收到 99010",
         "region must be 6, 9 or 12 digits; got 99010"),
        ("/queue?due_within_hours=-1", "due_within_hours（时限内小时数）必须大于 0，收到 -1",
         "due_within_hours must be > 0; got -1"),
    ],
)  # fmt: skip
def test_a_page_filter_refused_says_what_it_wants(
    client: TestClient, url: str, zh: str, en: str
) -> None:
    """A filter edited by hand in a page's address: what the field is and what it must be
    ("应为 15 位数字", not "格式不正确"), on the page and from the API alike."""
    for lang, words in (("zh", zh), ("en", en)):
        page = client.get(f"{url}&lang={lang}", headers={"Accept": "text/html"})
        assert page.status_code == 422 and words in unescape(page.text), page.text[-600:]
    if url.startswith("/queue"):  # (the in-tray's API takes the same filters)
        api = client.get("/api" + url, headers={"Accept-Language": "zh"})
        assert api.status_code == 422 and zh in api.json()["detail"], api.text


def test_errors_speak_english_on_request(client: TestClient) -> None:
    r = client.get("/api/locate", params={"lon": 200, "lat": 23}, headers={"Accept-Language": "en"})
    assert r.status_code == 422
    assert r.json()["detail"] == "lon must be ≤ 180; got 200"


def test_a_nul_in_the_address_is_refused_by_name(client: TestClient) -> None:
    """A NUL (%00) in a search, a filter or a path went to the database, which refused it as
    "a value"; now the address is refused, naming the parameter (pages and API alike)."""
    r = client.get("/api/users?q=a%00b")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "q", r.text
    assert r.json()["detail"] == "参数 q 含有空字符（%00）：请检查链接。"
    page = {"Accept": "text/html", "Accept-Language": "en"}
    r = client.get("/workers/a%00b/patrols", headers=page)
    assert r.status_code == 422 and "The parameter code holds a NUL character (%00)" in r.text
    assert client.get("/find?q=%E7%BA%A0%E7%BA%B7%2500", headers={"Accept": "text/html"}).is_success


@pytest.mark.parametrize("url", ["/api/queue", "/api/audit", "/queue", "/workers", "/grids"])
def test_an_offset_past_any_list_is_refused_by_name(
    client: TestClient, login_as: Callable, url: str
) -> None:
    """offset=9223372036854775808 (2**63) went to the database, which refused it as "a value
    it cannot keep" (数据库无法保存请求中的某个值), naming nothing; now the parameter is named."""
    admin = login_as("admin") | {"Accept": "application/json"}
    r = client.get(url, params={"offset": 2**63}, headers=admin)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "offset", r.text
    assert r.json()["detail"].startswith("offset（起始位置）"), r.text


#: wrongly typed values the schemas' messages did not cover: each came out as pydantic's English
#: glued to the field's name ('versionInput should be a valid integer')
WRONG_TYPES = [
    ("/api/reports", {"parties": [{"name": ["李明"]}]}, "parties.0.name 必须是文本（字符串）"),
    ("/api/reports", {"parties": [{"id_card": "x"}]}, "parties.0.id_card（身份证号）应为 18 位"),
    (
        "/api/reports",
        {"parties": [{"id_card": "110105194912310021"}]},
        "parties.0.id_card（身份证号）校验位不正确",
    ),
    (
        "/api/reports",
        {"parties": [{"name": "某", "phone": "12345"}]},
        "parties.0.phone（电话）格式不正确",
    ),
    ("/api/reports", {"reported_at": None}, "reported_at（上报时间）应为 ISO 8601 时间"),
    ("/api/reports", {"location": []}, "location（位置）应为 JSON 对象"),
    ("/api/reports/batch", {"reports": []}, "reports（上报）太少（至少 1 项）"),
    ("/api/auth/login", {"username": 7, "password": "x"}, "username（用户名）必须是文本（字符串）"),
    ("/api/cases/x/actions", {"version": 1.5}, "version（版本号）必须是整数（不能有小数）"),
    ("/api/cases/x/actions", {"version": []}, "version（版本号）必须是整数"),
    ("/api/cases/x/actions", {"version": 1e308}, "version（版本号）必须是整数，且不能这么大"),
    # a number or a list of them: named as the field, not as pydantic's member of the union
    ("/api/edits/1/operations", {"households": 1e308}, "households（户数）必须是整数，且不能"),
]


#: remarks that took a NUL to the database (which cannot keep one): a 422 that blamed "a value"
WRONG_TYPES += [
    ("/api/edits", {"title": "调整\x00"}, "title 不能包含控制字符"),
    ("/api/edits/1/operations", {"op": "recode", "name": "\x00"}, "name 不能包含控制字符"),
    ("/api/cases/x/actions", {"action": "accept", "note": "\x00"}, "note（说明）不能包含控制字符"),
    ("/api/cases/x/dispatches/1", {"response": "done", "note": "\x00"},
     "note（说明）不能包含控制字符"),
    ("/api/track/x/rating", {"score": 5, "resolved": True, "comment": "好\x00"},
     "comment 不能包含控制字符"),
]  # fmt: skip


@pytest.mark.parametrize(("url", "fields", "message"), WRONG_TYPES)
def test_a_wrongly_typed_field_is_named_in_chinese_and_in_english(
    client: TestClient, url: str, fields: dict, message: str
) -> None:
    for lang in ("zh", "en"):
        r = client.post(url, json=fields, headers={"Accept-Language": lang})
        assert r.status_code == 422, r.text
        found = [e["message"] for e in r.json()["errors"] if e["field"].startswith(tuple(fields))]
        assert found, r.text
        if lang == "zh":
            assert any(m.startswith(message) for m in found), found
        # nothing of pydantic's own wording is left, in either language
        assert not any("Input should" in m or "should have" in m for m in found), found


def test_a_partys_wrong_number_names_its_field(client: TestClient) -> None:
    """A party's phone or ID number that fails its check is refused on that field
    (parties.1.phone), for a client that marks the input; it was refused on the party."""
    parties = [
        {"name": "某甲"},
        {"name": "某乙", "phone": "12345", "id_card": "110105194912310021"},
    ]
    r = client.post("/api/reports", json={"parties": parties})
    assert r.status_code == 422, r.text
    fields = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert fields["parties.1.phone"].startswith("parties.1.phone（电话）格式不正确"), fields
    assert fields["parties.1.id_card"].startswith("parties.1.id_card（身份证号）校验位"), fields
    assert "parties.1" not in fields and "parties.0" not in fields, fields


def test_parties_given_as_null_are_none(client: TestClient, app_db: Session) -> None:
    lon, lat = app_db.execute(
        text("""SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid
                WHERE valid_to IS NULL ORDER BY code LIMIT 1) s""")
    ).one()
    r = client.post("/api/reports", json=report_body(lon, lat, parties=None))
    assert r.status_code == 201, r.text
    assert r.json()["parties"] == []


def test_a_browser_gets_errors_as_pages_and_the_api_as_json(client: TestClient) -> None:
    page = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    # no such address: a page in Chinese (English on request), the same status
    r = client.get("/command", headers=page)
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "没有这个地址：/command" in r.text and 'href="/"' in r.text
    r = client.get("/command", headers=page | {"Accept-Language": "en"})
    assert r.status_code == 404 and "Nothing at /command." in r.text and 'lang="en"' in r.text
    # a domain error and a validation error on a page
    r = client.get("/maps/grid/000000000000000", headers=page)
    assert r.status_code == 404 and "没有编码为 000000000000000 的现行网格" in r.text
    r = client.get("/maps/command?region=abc", headers=page)
    assert r.status_code == 422 and "<h1>请求有误" in r.text and "abc" in r.text
    # the API keeps JSON, in the caller's language, with its headers
    r = client.get("/api/nothing-here", headers=page)
    assert r.status_code == 404 and r.json() == {
        "detail": "没有这个地址：/api/nothing-here，请检查链接。"
    }
    r = client.delete("/api/health", headers={"Accept-Language": "en"})
    assert r.status_code == 405 and r.headers["allow"] == "GET"
    assert r.json() == {"detail": "/api/health does not take DELETE requests."}
    assert client.get("/maps/grid/000000000000000").json()["code"] == "not_found"


# -- reports -------------------------------------------------------------------------------------


def test_report_is_stored_with_code_and_chain(
    client: TestClient, app_db: Session, demo_city: DemoCity, inside: tuple
) -> None:
    r = client.post("/api/reports", json=report(*inside))
    assert r.status_code == 201, r.text
    body = r.json()
    assert re.fullmatch(r"\d{6}\d{6}\d{8,}", body["code"])  # county + date + sequence
    assert body["code"].startswith(body["location"]["district"]["code"][:6])
    assert body["status"] == "registered"
    assert body["grid_code"] == demo_city.grids[0].code
    assert body["location"]["method"] == "covers"
    assert body["location"]["center"]["name"].endswith("综治服务站")
    assert body["severity"] == "minor"  # the category's default
    assert body["received_at"].endswith("+08:00")

    again = client.get(f"/api/cases/{body['code']}")
    assert again.status_code == 200
    detail = again.json()  # the case as reported, plus its workflow (events, version, …)
    assert {k: v for k, v in detail.items() if k in body} == body
    assert [e["action"] for e in detail["events"]] == ["register"] and detail["version"] == 1
    event = app_db.execute(
        text(
            "SELECT e.action, e.to_status FROM case_event e JOIN cases c ON c.id = e.case_id "
            "WHERE c.code = :code"
        ),
        {"code": body["code"]},
    ).one()
    assert tuple(event) == ("register", "registered")


def test_report_keeps_device_time_and_severity(client: TestClient, inside: tuple) -> None:
    body = report(
        *inside,
        kind="hazard",
        category="fire",
        severity="critical",
        reported_at="2026-11-20T08:15:00+08:00",
    )
    body["location"]["accuracy_m"] = 12.5
    r = client.post("/api/reports", json=body)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["severity"] == "critical" and out["kind"] == "hazard"
    assert out["reported_at"].startswith("2026-11-20T08:15:00")
    assert out["flags"] == {} and out["deadline"] and out["tracking_url"].startswith("/t/")


def test_report_near_but_outside_the_city_is_kept_unassigned(
    client: TestClient, demo_city: DemoCity
) -> None:
    _, south, east, north = demo_city.regions[0].geom.bounds
    r = client.post("/api/reports", json=report(east + 0.05, (south + north) / 2))  # ~5 km out
    assert r.status_code == 201, r.text
    assert r.json()["location"]["method"] == "unassigned"


@pytest.mark.parametrize(
    ("location", "field", "words"),
    [
        ({"lon": 200, "lat": 23, "datum": "wgs84"}, "location.lon", "180"),
        ({"lon": 113.9, "lat": 95, "datum": "wgs84"}, "location.lat", "90"),
        ({"lon": None, "lat": 23, "datum": "wgs84"}, "location.lon", "数字"),
        ({"lon": 113.9, "lat": 23}, "location.datum", "缺少"),
        ({"lon": 113.9, "lat": 23, "datum": "mars"}, "location.datum", "gcj02"),
        ({"lon": 113.9, "lat": 23, "datum": "wgs84", "accuracy_m": -1}, "location.accuracy_m", "0"),
    ],
)
def test_report_rejects_bad_locations(
    client: TestClient, inside: tuple, location: dict, field: str, words: str
) -> None:
    r = client.post("/api/reports", json=report(*inside, location=location))
    assert r.status_code == 422, r.text
    body = r.json()
    assert field in [e["field"] for e in body["errors"]]
    assert words in body["detail"]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"kind": "complaint"}, "kind", "dispute"),
        ({"description": "   "}, "description", "不能为空"),
        ({"category": "no_such"}, "category", "neighbour"),
        ({"category": "fire"}, "category", "安全隐患"),
        ({"reported_at": "yesterday"}, "reported_at", "ISO 8601"),
        ({"reported_at": "2026-11-20T09:30:00"}, "reported_at", "reported_at"),
        ({"colour": "red"}, "colour", ""),
    ],
)
def test_report_rejects_bad_input(
    client: TestClient, inside: tuple, change: dict, field: str, words: str
) -> None:
    body = report(*inside)
    body.update(change)
    r = client.post("/api/reports", json=body)
    assert r.status_code == 422, r.text
    body = r.json()
    assert field in [e["field"] for e in body["errors"]]
    assert words in body["detail"]


def test_report_without_reported_at_is_422(client: TestClient, inside: tuple) -> None:
    body = report(*inside)
    del body["reported_at"]
    r = client.post("/api/reports", json=body)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reported_at"


def test_report_rejects_nan_in_raw_json(client: TestClient, inside: tuple) -> None:
    raw = (
        '{"kind": "dispute", "category": "neighbour", "description": "x", '
        '"reported_at": "2026-11-20T09:30:00+08:00", '
        f'"location": {{"lon": NaN, "lat": {inside[1]}, "datum": "wgs84"}}}}'
    )
    r = client.post("/api/reports", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "location.lon"
    assert "NaN" in r.json()["detail"]


def test_report_rejects_control_characters(client: TestClient, inside: tuple) -> None:
    r = client.post("/api/reports", json=report(*inside, description="楼道\x00堆物"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "description" and "控制字符" in r.json()["detail"]


def test_only_tab_and_line_breaks_pass_among_control_characters() -> None:
    for c in map(chr, [*range(32), 0x7F, 0x85, 0x3000]):
        text = f"楼道{c}堆物"
        if c in "\t\n\r" or ord(c) >= 32:
            assert _no_control_characters(text) == text
        else:
            with pytest.raises(PydanticCustomError):
                _no_control_characters(text)


def test_report_rejects_a_body_that_is_a_list(client: TestClient) -> None:
    r = client.post("/api/reports", json=[1, 2])
    assert r.status_code == 422 and r.json()["detail"] == "请求体应为 JSON 对象"


def test_malformed_case_code_is_422(client: TestClient) -> None:
    r = client.get("/api/cases/WG%00x")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "code"


def test_report_rejects_a_body_that_is_not_json(client: TestClient) -> None:
    r = client.post("/api/reports", content="lon=1", headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert "JSON" in r.json()["detail"]


def test_unknown_case_is_404(client: TestClient) -> None:
    r = client.get("/api/cases/WG00000000000000")
    assert r.status_code == 404 and "没有找到该案件" in r.json()["detail"]


# -- lists ---------------------------------------------------------------------------------------


def test_grids_in_bbox(client: TestClient, demo_city: DemoCity) -> None:
    west, south, east, north = demo_city.grids[0].geom.bounds
    r = client.get("/api/grids", params={"bbox": f"{west},{south},{east},{north}"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/geo+json")
    fc = r.json()
    assert fc["type"] == "FeatureCollection"
    codes = {f["properties"]["code"] for f in fc["features"]}
    assert demo_city.grids[0].code in codes and len(codes) < len(demo_city.grids)
    feature = next(f for f in fc["features"] if f["id"] == demo_city.grids[0].code)
    assert feature["geometry"]["type"] == "MultiPolygon"
    assert feature["properties"]["workers"]
    assert len(client.get("/api/grids").json()["features"]) == len(demo_city.grids)


@pytest.mark.parametrize("bbox", ["1,2,3", "a,b,c,d", "114,23,113,24", "0,0,200,1", "nan,1,2,3"])
def test_bad_bbox_is_422_naming_bbox(client: TestClient, bbox: str) -> None:
    r = client.get("/api/grids", params={"bbox": bbox})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "bbox" and "bbox" in r.json()["detail"]


def test_regions_by_level(client: TestClient, demo_city: DemoCity) -> None:
    fc = client.get("/api/regions", params={"level": "district"}).json()
    assert {f["properties"]["level"] for f in fc["features"]} == {"district"}
    assert len(fc["features"]) == sum(r.level == "district" for r in demo_city.regions)
    assert all(f["properties"]["parent_code"] == "990100" for f in fc["features"])
    assert len(client.get("/api/regions").json()["features"]) == len(demo_city.regions)
    bad = client.get("/api/regions", params={"level": "province"})
    assert bad.status_code == 422 and "level" in bad.json()["detail"]


def test_places_by_name_and_code_best_first(
    client: TestClient, login_as: Callable[[str], dict[str, str]], demo_city: DemoCity
) -> None:
    """地名查找: a desk types part of a name (or the start of a code) and gets regions and grids
    to show on its map, the place named exactly first, each with its extent and outline."""
    village = next(r for r in demo_city.regions if r.level == "village")
    township = next(r for r in demo_city.regions if r.code == village.parent_code)
    grids = [g for g in demo_city.grids if g.village_code == village.code]
    places = client.get("/api/places", params={"q": village.name}).json()["places"]
    first = places[0]
    assert (first["kind"], first["code"], first["kind_name"]) == (
        "village",
        village.code,
        "村/社区",
    )
    assert first["context"].startswith(township.name)  # the regions above, nearest first
    west, south, east, north = first["bbox"]
    assert (west, south, east, north) == pytest.approx(village.geom.bounds, abs=1e-6)
    assert first["outline"]["type"] in ("Polygon", "MultiPolygon")
    # its grids follow (their names contain the village's), each inside its extent
    found = {p["code"] for p in places if p["kind"] == "grid"}
    assert found and found <= {g.code for g in grids}
    # part of a name; the start of a code, in the words of the page's language
    part = client.get("/api/places", params={"q": township.name[:2], "limit": 50}).json()
    assert township.code in {p["code"] for p in part["places"]}
    english = client.get(
        "/api/places", params={"q": grids[0].code}, headers={"Accept-Language": "en"}
    ).json()["places"]
    assert [(p["code"], p["kind_name"]) for p in english] == [(grids[0].code, "grid")]
    # a code typed in full-width digits (a Chinese input method's full-width mode)
    wide = "".join(chr(ord(c) + 0xFEE0) for c in grids[0].code)
    typed = client.get("/api/places", params={"q": wide}).json()["places"]
    assert [p["code"] for p in typed] == [grids[0].code]
    # wildcards are letters; a search finds nothing outside the caller's jurisdiction
    assert client.get("/api/places", params={"q": "%"}).json()["places"] == []
    assert client.get("/api/places", params={"q": "_"}).json()["places"] == []
    mine = login_as("township_operator")
    me = client.get("/api/auth/me", headers=mine).json()
    other = next(
        r for r in demo_city.regions if r.level == "village" and r.parent_code != me["region_code"]
    )
    own = client.get("/api/places", params={"q": other.name}, headers=mine).json()["places"]
    assert other.code not in {p["code"] for p in own}
    assert client.get("/api/places", params={"q": other.name}).json()["places"]  # (the admin)
    # what cannot be searched says so
    for q in ("", "   ", "字" * 41):
        r = client.get("/api/places", params={"q": q})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "q", r.text
    assert client.get("/api/places").status_code == 422


def test_places_match_however_digits_and_letters_were_typed(
    db: Session, demo_city: DemoCity
) -> None:
    """A list typed in a Chinese input method's full-width mode (东坪社区第２网格, ＡＢ村) is found
    by what a desk types (第2网格, ab村), and the other way round; the name shown stays as it was
    written.  The key is PostgreSQL's own (a generated column): a renamed grid's follows."""
    from gis.boundaries import find_places
    from gis.scope import Scope

    grid = demo_city.grids[0]
    village = next(r for r in demo_city.regions if r.level == "village")
    rename = "UPDATE {} SET name = :n WHERE code = :c"
    db.execute(text(rename.format("grid")), {"n": "测试社区第１２网格", "c": grid.code})
    db.execute(text(rename.format("region")), {"n": "ＡＢ测试村", "c": village.code})
    everything = Scope.everything()
    found = find_places(db, everything, "测试社区第12网格")
    assert [(p.code, p.name) for p in found] == [(grid.code, "测试社区第１２网格")]
    assert [p.code for p in find_places(db, everything, "ab测试")] == [village.code]
    db.execute(text(rename.format("grid")), {"n": "测试社区第12网格", "c": grid.code})
    assert [p.code for p in find_places(db, everything, "第１２网格")] == [grid.code]
    assert find_places(db, everything, "测试社区第１２网格")[0].name == "测试社区第12网格"


def test_centers(client: TestClient, demo_city: DemoCity) -> None:
    fc = client.get("/api/centers").json()
    assert len(fc["features"]) == len(demo_city.centers)
    levels = {f["properties"]["level_name"] for f in fc["features"]}
    assert levels == {"市", "区/县", "乡镇/街道", "村/社区"}
    english = client.get("/api/centers", headers={"Accept-Language": "en"}).json()
    assert {f["properties"]["level_name"] for f in english["features"]} == {
        "city",
        "district",
        "township",
        "village/community",
    }
    upper = client.get("/api/centers", params=[("level", "city"), ("level", "township")]).json()
    assert {f["properties"]["level"] for f in upper["features"]} == {"city", "township"}
    assert len(upper["features"]) == sum(r.level in ("city", "township") for r in demo_city.regions)
    assert client.get("/api/centers", params={"level": "galaxy"}).status_code == 422


def test_cases_by_bbox_and_since(client: TestClient, demo_city: DemoCity, inside: tuple) -> None:
    created = client.post("/api/reports", json=report(*inside)).json()
    lon, lat = inside
    fc = client.get(
        "/api/cases", params={"bbox": f"{lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}"}
    ).json()
    assert fc["features"][0]["id"] == created["code"]  # newest first
    props = fc["features"][0]["properties"]
    assert {"code", "grid_code", "kind", "category", "status"} <= props.keys()
    recent = client.get("/api/cases", params={"since": created["received_at"]}).json()
    assert [f["id"] for f in recent["features"]] == [created["code"]]
    everything = client.get("/api/cases", params={"limit": 50000}).json()
    codes = {f["id"] for f in everything["features"]}
    assert created["code"] in codes and len(codes) >= len(demo_city.cases) + 1
    assert client.get("/api/cases", params={"since": "soon"}).status_code == 422


def test_cases_filtered_by_kind_category_status_grid_and_region(
    client: TestClient, engine: Engine, demo_city: DemoCity
) -> None:
    """Each filter of the case list, alone and together, gives exactly the stored cases it
    names (read back as the owner, past the API); a misspelt one is a 422 that says the valid
    values, never an empty list that looks like a quiet month."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("""
            SELECT code, kind::text AS kind, category, status, grid_code, township_code,
                   deadline < now() AS late
            FROM cases
        """)
        ).all()
    assert len(rows) == len(demo_city.cases) + len(DEMO_DAY_CASES)  # (the day's, at load)

    def listed(**params: object) -> set[str]:
        r = client.get("/api/cases", params={"limit": 50000, **params})
        assert r.status_code == 200, r.text
        return {f["id"] for f in r.json()["features"]}

    def stored(keep: Callable[[Any], bool]) -> set[str]:
        found = {r.code for r in rows if keep(r)}
        assert found, "the demo city holds cases of every filter here"
        return found

    category = Counter(r.category for r in rows).most_common(1)[0][0]
    grid = Counter(r.grid_code for r in rows if r.grid_code).most_common(1)[0][0]
    township = Counter(r.township_code for r in rows).most_common(1)[0][0]
    is_open = {"registered", "accepted", "dispatched", "in_progress", "returned", "transferred",
               "escalated", "reopened"}  # fmt: skip
    assert listed() == {r.code for r in rows}
    assert listed(kind="dispute") == stored(lambda r: r.kind == "dispute")
    assert listed(category=category) == stored(lambda r: r.category == category)
    assert listed(status="closed") == stored(lambda r: r.status == "closed")
    assert listed(status=["escalated", "resolved"]) == stored(
        lambda r: r.status in ("escalated", "resolved")
    )
    assert listed(status="open") == stored(lambda r: r.status in is_open)
    assert listed(overdue="true") == stored(lambda r: r.status in is_open and r.late)
    assert listed(overdue="false") == stored(lambda r: not (r.status in is_open and r.late))
    assert listed(grid=grid) == stored(lambda r: r.grid_code == grid)
    other = Counter(r.grid_code for r in rows if r.grid_code).most_common(2)[1][0]
    assert listed(grid=[grid, other]) == stored(lambda r: r.grid_code in (grid, other))
    assert listed(region=township) == stored(lambda r: r.township_code == township)
    assert listed(region=township, kind="hazard", status="open") == stored(
        lambda r: r.township_code == township and r.kind == "hazard" and r.status in is_open
    )

    misspelt = client.get("/api/cases", params={"category": "fires"})
    assert misspelt.status_code == 422 and "fire" in misspelt.json()["detail"]
    assert misspelt.json()["errors"][0]["field"] == "category"
    unknown = client.get("/api/cases", params={"status": "done"})
    assert unknown.status_code == 422 and "open" in unknown.json()["detail"]
    late = client.get("/api/cases", params={"status": "overdue"})  # the maps' word for it
    assert late.status_code == 422 and "overdue=true" in late.json()["detail"]
    assert client.get("/api/cases", params={"kind": "crime"}).status_code == 422
    assert client.get("/api/cases", params={"grid": "12345"}).status_code == 422
    bad_grid = client.get("/api/cases", params={"grid": [grid, "12345"]})
    assert bad_grid.status_code == 422 and "'12345'" in bad_grid.json()["detail"]
    assert client.get("/api/cases", params={"region": "999999999999"}).status_code == 404
    # the maps' and the queue's category filters are checked the same way
    bbox = ",".join(str(v) for v in demo_city.grids[0].geom.bounds)
    heat = client.get("/api/heat", params={"bbox": bbox, "zoom": 14, "category": "fires"})
    assert heat.status_code == 422 and "fire" in heat.json()["detail"]
    queue = client.get("/api/queue", params={"category": "fires"})
    assert queue.status_code == 422 and "fire" in queue.json()["detail"]
    assert client.get("/api/queue", params={"status": "open"}).status_code == 200


def test_a_query_parameter_an_api_route_does_not_take_is_a_422_naming_those_it_does(
    client: TestClient, settings
) -> None:  # type: ignore[no-untyped-def]
    """A misspelt filter is refused, not dropped: dropped, the unfiltered answer would pass for
    a filtered one.  Pages keep taking what they like (``?lang=`` …)."""
    r = client.get("/api/cases", params={"catgory": "fire", "limit": 5})
    assert r.status_code == 422, r.text
    assert "catgory" in r.json()["detail"] and "category" in r.json()["detail"]
    assert r.json()["errors"][0]["field"] == "catgory"
    english = client.get("/api/cases?catgory=fire", headers={"Accept-Language": "en"})
    assert "takes no query parameter catgory" in english.json()["detail"]
    # a dependency's own parameters count (the queue's caller; /api/heat's bbox and zoom)
    assert client.get("/api/cases", params={"limit": 5, "mine": "true"}).status_code == 200
    assert client.get("/api/categories?x=1").status_code == 422
    assert client.get("/api/categories").status_code == 200
    assert client.get("/login?next=/queue&utm_source=sms").status_code == 200
    # what a route takes is what its OpenAPI says it takes, route by route
    spec = create_app(settings).openapi()["paths"]
    checked = 0
    for route in (route for router in ROUTERS for route in router.routes):
        if not isinstance(route, APIRoute) or not route.path.startswith("/api/"):
            continue
        for method in route.methods - {"HEAD"}:
            documented = {
                p["name"]
                for p in spec[route.path][method.lower()].get("parameters", [])
                if p["in"] == "query"
            }
            assert query_names(route.dependant) == documented, (method, route.path)
            checked += 1
    assert checked > 40


def test_categories(client: TestClient) -> None:
    cats = client.get("/api/categories").json()
    names = {c["name_zh"] for c in cats}
    assert {"邻里纠纷", "消防安全隐患", "劳资纠纷（欠薪）", "三小场所隐患"} <= names
    assert {c["kind"] for c in cats} == {"dispute", "hazard"}
    fire = next(c for c in cats if c["code"] == "fire")
    assert fire["deadline_hours"] == 4 and fire["default_severity"] == "major"


def test_a_fault_of_the_app_is_said_in_words_with_a_number_to_quote(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug (an exception no handler expects) answers 500 in the user's language, as JSON or
    as a page, with a number that the server's log repeats; never kept by a browser."""
    app = create_app(settings)

    @app.get("/api/broken")
    @app.get("/broken")
    def broken() -> None:
        raise RuntimeError("a bug")

    client = TestClient(app, raise_server_exceptions=False)
    r = client.get("/api/broken")
    assert r.status_code == 500 and r.json()["code"] == "internal_error"
    number = re.search(r"错误编号 ([0-9a-f]{8})", r.json()["detail"])
    assert number and r.headers["cache-control"] == "no-store"
    assert f"unexpected error {number.group(1)}: RuntimeError('a bug')" in caplog.text
    en = client.get("/api/broken", headers={"Accept-Language": "en"}).json()["detail"]
    assert en.startswith("An internal error: this was not completed (error number ")
    page = client.get("/broken", headers={"Accept": "text/html"})  # a page: a page
    assert page.status_code == 500 and "<h1>系统内部错误 <small>500</small></h1>" in page.text
    assert "错误编号" in page.text and page.headers["cache-control"] == "no-store"


def test_openapi_and_health(client: TestClient) -> None:
    # described to those logged in only (a security review flags an API described to anyone)
    anonymous = {"Authorization": ""}
    assert client.get("/openapi.json", headers=anonymous).status_code == 401
    page = client.get("/docs", headers=anonymous | {"Accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fdocs"
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert not re.search(r"""(?:src|href|url)\s*[=:]\s*["'](?:https?:)?//""", docs.text), (
        "docs use a CDN"
    )
    for asset in re.findall(r"""(?:src|href)\s*=\s*["'](/static/[^"']+)["']""", docs.text):
        assert client.get(asset).status_code == 200, asset
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/api/locate",
        "/api/reports",
        "/api/grids",
        "/api/regions",
        "/api/centers",
        "/api/cases",
    } <= paths.keys()
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["fsync"] == "on"


def test_a_value_the_database_refuses_is_a_4xx_not_a_500(settings, app_db: Session) -> None:  # type: ignore[no-untyped-def]
    """The second wall behind the validators: a DataError from PostgreSQL becomes a 422."""
    app = create_app(settings)
    app.dependency_overrides[get_session] = lambda: app_db

    @app.get("/api/_refused")
    def refused(session: Annotated[Session, Depends(get_session)]) -> None:
        with session.begin_nested():
            session.execute(text("SELECT CAST('a' || chr(1) AS int)"))  # raises DataError

    with TestClient(app) as c:
        r = c.get("/api/_refused")
    assert r.status_code == 422 and r.json()["code"] == "unstorable_value"


def test_the_api_document_describes_the_errors_it_sends(client: TestClient) -> None:
    """Clients are generated from the API document: it gives every error the one body the API
    sends (``ErrorOut``: ``detail`` a sentence, ``errors`` by field), not FastAPI's own 422
    shape; the errors a route does not list are its ``4XX`` and ``5XX``.  A 405 names every
    method of the path, and workbooks are documented as workbooks."""
    spec = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    error = {"$ref": "#/components/schemas/ErrorOut"}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert {"4XX", "5XX"} <= responses.keys(), (method, path)
            for status, response in responses.items():
                if status[0] in "45":
                    assert response["content"]["application/json"]["schema"] == error, (
                        method,
                        path,
                        status,
                    )
    sent = [
        client.get("/api/cases?catgory=fire"),  # a query parameter it does not take
        client.post("/api/reports", json={"kind": "x"}, headers={"Idempotency-Key": "k"}),
        client.post("/api/reports", json={"kind": "x"}, headers={"Idempotency-Key": str(uuid4())}),
        client.get("/api/cases/99010299999999999999"),
        client.put("/api/users"),
        client.get("/api/cases", headers={"Authorization": ""}),  # not logged in
    ]
    assert [r.status_code for r in sent] == [422, 400, 422, 404, 405, 401]
    for r in sent:
        body = ErrorOut.model_validate(r.json())
        assert set(r.json()) <= set(ErrorOut.model_fields), r.json()
        assert body.detail
    assert ErrorOut.model_validate(sent[2].json()).errors is not None
    assert sent[4].headers["allow"] == "GET, POST"  # two routes, one path
    assert client.delete("/api/users/grid_worker").headers["allow"] == "GET, PATCH"
    workbook = spec["paths"]["/queue.xlsx"]["get"]["responses"]["200"]["content"]
    assert list(workbook) == [XLSX]


def test_a_day_in_a_query_is_a_day_not_a_number_of_seconds(client: TestClient) -> None:
    """A number alone is not taken for seconds since 1970 (pydantic would: ``end=0`` was the
    first of January 1970 and ``since=20261201`` the 23rd of August); a day written without its
    dashes (20261101), as Chinese forms do, is that day."""
    r = client.get("/api/stats", params={"end": "0"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "end"
    assert "应为日期（如 2026-11-21）" in r.json()["detail"]
    compact = client.get("/api/stats", params={"start": "20261001", "end": "20261031"})
    dashed = client.get("/api/stats", params={"start": "2026-10-01", "end": "2026-10-31"})
    assert compact.status_code == 200 and compact.json() == dashed.json()
    r = client.get("/api/cases", params={"since": "20261201"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "since"
    assert "应为 ISO 8601 时间" in r.json()["detail"]
    assert client.get("/api/cases", params={"since": "2026-12-01T00:00:00+08:00"}).is_success
    assert client.get("/api/safety-index", params={"date": "1733443200"}).status_code == 422
    # nor in a report's body: the device's time is ISO 8601 with its offset
    lon, lat = 113.95, 22.98
    for number in (1733443200, "1733443200"):
        body = report_body(lon, lat) | {"reported_at": number}
        r = client.post("/api/reports", json=body, headers={"Idempotency-Key": str(uuid4())})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reported_at", r.text
        assert "应为 ISO 8601 时间" in r.json()["detail"]
