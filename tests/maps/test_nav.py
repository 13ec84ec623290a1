"""The pages menu every page shows: each role is offered the pages it may open, and nothing else."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api.app import ROUTERS
from gis.permissions import Role, allows
from maps.nav import PAGES, page_links

Headers = Callable[[str], dict[str, str]]


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (
            Role.grid_worker,
            [
                "/maps/command",
                "/find",
                "/reports/daily",
                "/reports/period",
                "/maps/safety",
                "/workers",
                "/grids",
                "/m/",
                "/account",
            ],
        ),
        (
            Role.operator,
            [
                "/maps/command",
                "/queue",
                "/find",
                "/reports/daily",
                "/reports/period",
                "/maps/safety",
                "/workers",
                "/grids",
                "/m/",
                "/account",
            ],
        ),
        (
            Role.commander,
            [
                "/maps/command",
                "/find",
                "/reports/daily",
                "/reports/period",
                "/maps/safety",
                "/workers",
                "/grids",
                "/account",
            ],
        ),
        (
            Role.planner,
            [
                "/maps/command",
                "/find",
                "/reports/daily",
                "/reports/period",
                "/maps/safety",
                "/workers",
                "/grids",
                "/maps/planner",
                "/account",
            ],
        ),
        (
            Role.admin,
            [
                "/maps/command",
                "/queue",
                "/find",
                "/reports/daily",
                "/reports/period",
                "/maps/safety",
                "/workers",
                "/grids",
                "/maps/planner",
                "/m/",
                "/users",
                "/audit",
                "/imports",
                "/account",
            ],
        ),
    ],
)
def test_each_role_is_offered_the_pages_it_may_open(role: Role, expected: list[str]) -> None:
    links = page_links(lambda permission: allows(role, permission), "/")
    assert [path for _, path in links] == expected  # the page one is on is not offered


def test_the_menu_asks_for_what_each_page_needs() -> None:
    """A page's permission in the menu is the one its route declares (no link to a 403)."""
    needs = {}
    for route in (r for router in ROUTERS for r in router.routes):
        if isinstance(route, APIRoute) and "GET" in route.methods:
            for dep in route.dependant.dependencies:
                if hasattr(dep.call, "permission"):
                    needs[route.path] = dep.call.permission
    for _, path, permission in PAGES:
        assert needs[path] == permission, path


def _links(html: str) -> list[str]:
    """The pages a map's menu offers (not its switch to the other language, checked below)."""
    found = re.search(r"\+ (\[\[.*?\]\])\.map", html)
    paths = [path for _, path in json.loads(found.group(1))] if found else []
    assert not found or re.search(r"[?&]lang=(en|zh)$", paths[-1])  # the switch comes last
    return paths[:-1]


def test_pages_show_the_menu_of_the_user(anon_client: TestClient, login_as: Headers) -> None:
    html = {"Accept": "text/html"}
    commander = anon_client.get("/", headers=login_as("city_commander") | html)
    assert commander.status_code == 200 and _links(commander.text) == [
        "/maps/command",
        "/find",
        "/reports/daily",
        "/reports/period",
        "/maps/safety",
        "/workers",
        "/grids",
        "/account",
    ]
    planner = anon_client.get("/maps/command", headers=login_as("district_planner") | html)
    assert _links(planner.text) == [
        "/",
        "/find",
        "/reports/daily",
        "/reports/period",
        "/maps/safety",
        "/workers",
        "/grids",
        "/maps/planner",
        "/account",
    ]
    phone = anon_client.get("/m/", headers=login_as("grid_worker") | html)
    nav = re.search(r'<nav class="m-nav">(.*?)</nav>', phone.text)
    assert nav is not None
    # a grid worker's reports are their own; a desk says where each case came from
    assert 'name="source"' not in phone.text
    desk = anon_client.get("/m/", headers=login_as("township_operator") | html)
    assert '<select name="source" required>' in desk.text and "12345热线" in desk.text
    assert re.findall(r'href="([^"]+)"', nav.group(1)) == [
        "/",
        "/maps/command",
        "/find",
        "/reports/daily",
        "/reports/period",
        "/maps/safety",
        "/workers",
        "/grids",
        "/account",
    ]


HAN = re.compile(r"[\u4e00-\u9fff]")


def test_the_phone_page_speaks_english_as_the_second_locale(
    anon_client: TestClient, login_as: Headers
) -> None:
    """Chinese first; English for ``?lang=en`` or a browser that prefers it: the page, its menu,
    what its script writes (config) and the state names, with a switch to the other language."""
    headers = login_as("grid_worker") | {"Accept": "text/html"}
    chinese = anon_client.get("/m/", headers=headers | {"Accept-Language": "zh-CN,zh;q=0.9"})
    assert chinese.status_code == 200 and '<html lang="zh-CN">' in chinese.text
    assert "提交上报" in chinese.text and 'href="?lang=en"' in chinese.text

    for english in (
        anon_client.get("/m/?lang=en", headers=headers | {"Accept-Language": "zh-CN"}),
        anon_client.get("/m/", headers=headers | {"Accept-Language": "en-GB,en;q=0.8"}),
    ):
        page = english.text
        assert english.status_code == 200 and '<html lang="en">' in page
        config = json.loads(re.search(r'<script id="config"[^>]*>(.*?)</script>', page).group(1))
        assert config["lang"] == "en" and config["states"]["registered"] == "Registered"
        assert not any(HAN.search(v) for v in config["text"].values())
        # the page's own words are English: Chinese is left only in the user's name and the
        # link back to Chinese
        body = page.split("<body>", 1)[1].split('<script id="config"', 1)[0]
        user = re.search(r'<span class="m-user">(.*?)</span>', body).group(1)
        words = body.replace(user, "").replace(">中文<", "><")
        assert not HAN.search(words), HAN.findall(words)
        assert "Submit report" in page and ">Find a case</a>" in page
        assert 'href="?lang=zh"' in page

    # the same words in both languages, and no other
    from maps.phone import TEXT

    for part in ("html", "js"):
        assert TEXT["zh"][part].keys() == TEXT["en"][part].keys()
    wrong = anon_client.get("/m/?lang=fr", headers=headers)
    assert wrong.status_code == 422


def test_a_language_chosen_on_a_page_is_kept_for_the_next_pages(
    anon_client: TestClient, login_as: Headers
) -> None:
    """``?lang=`` on any bilingual page is remembered (cookie): the login page in English leads
    to the phone page in English, whatever the browser prefers, until Chinese is chosen again."""
    chinese_browser = {"Accept": "text/html", "Accept-Language": "zh-CN,zh;q=0.9"}
    login = anon_client.get("/login?lang=en&next=/m/", headers=chinese_browser)
    assert login.status_code == 200 and '<html lang="en">' in login.text
    assert ">Log in</button>" in login.text and 'data-next="/m/"' in login.text
    assert 'href="/login?lang=zh&amp;next=/m/"' in login.text  # the switch keeps where to go
    assert "wangge_lang=en" in login.headers["set-cookie"]
    worker = login_as("grid_worker") | chinese_browser
    assert '<html lang="en">' in anon_client.get("/m/", headers=worker).text
    # an API error follows the chosen language too
    missing = anon_client.get("/api/cases/NO-SUCH-CODE", headers=worker)
    assert missing.status_code in (404, 422) and not HAN.search(missing.json()["detail"])
    assert '<html lang="zh-CN">' in anon_client.get("/m/?lang=zh", headers=worker).text
    assert '<html lang="zh-CN">' in anon_client.get("/m/", headers=worker).text
    plain = anon_client.get("/login", headers=chinese_browser).text
    assert ">登录</button>" in plain and 'href="/login?lang=en"' in plain


def test_the_map_pages_speak_english_as_the_second_locale(
    anon_client: TestClient, login_as: Headers
) -> None:
    """The overview, command and grid maps in English: the page, its layers and controls, the
    words the command script writes, and the menu with its switch back to Chinese."""
    headers = login_as("city_commander") | {"Accept": "text/html"}
    city = anon_client.get("/?lang=en", headers=headers).text
    assert city.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert '"Grid code"' in city and '"Governance centers"' in city and '"Log out"' in city
    assert f'[{json.dumps("中文")}, "/?lang=zh"]' in city and '["Find a case", "/find"]' in city
    command = anon_client.get("/maps/command", headers=headers).text  # English kept (cookie)
    assert '<html lang="en">' in command and "示例市 · Command center" in command
    assert '"layer_heat": "Case heat"' in command and '"registered": "Registered"' in command
    assert '"Full screen"' in command
    chinese = anon_client.get("/maps/command?lang=zh", headers=headers).text
    assert '<html lang="zh-CN">' in chinese and f'"layer_heat": {json.dumps("案件热力")}' in chinese
    assert '["English", "/maps/command?lang=en"]' in chinese
    # the switch keeps what the map shows (here its region)
    region = anon_client.get("/maps/command?region=990102&lang=en", headers=headers).text
    assert '"/maps/command?region=990102\\u0026lang=zh"]' in region  # (& as tojson writes it)


def test_the_planner_speaks_english_as_the_second_locale(
    anon_client: TestClient, login_as: Headers
) -> None:
    headers = login_as("district_planner") | {"Accept": "text/html"}
    index = anon_client.get("/maps/planner?lang=en", headers=headers).text
    assert '<html lang="en">' in index and "Grid edits · " in index
    assert "choose the village (community) to edit" in index and " grids</small>" in index
    village = re.search(r'href="/maps/planner\?village=(\d{12})"', index)
    assert village is not None
    page = anon_client.get(f"/maps/planner?village={village.group(1)}", headers=headers).text
    assert (
        '<html lang="en">' in page and '"commit": "Commit"' in page and '"Another village"' in page
    )
    from maps.planner import PLANNER_TEXT

    assert PLANNER_TEXT["zh"].keys() == PLANNER_TEXT["en"].keys()


def test_the_phone_page_service_worker_keeps_what_the_page_loads(
    anon_client: TestClient, login_as: Headers
) -> None:
    """``/m/sw.js`` is public (code, no data), read again at every visit, and keeps exactly the
    local files the phone page loads, under a version that changes with them."""
    worker = anon_client.get("/m/sw.js")
    assert worker.status_code == 200
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["cache-control"] == "no-cache"
    head = worker.text.split("\n", 3)
    assert head[0] == '"use strict";'
    assert re.fullmatch(r'var VERSION = "[0-9a-f]{16}";', head[1])
    kept = json.loads(re.fullmatch(r"var ASSETS = (.*);", head[2]).group(1))
    page = anon_client.get("/m/", headers=login_as("grid_worker") | {"Accept": "text/html"})
    loaded = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert sorted(kept) == sorted(loaded)
    for url in kept:
        assert anon_client.get(url).status_code == 200, url
    config = json.loads(re.search(r'<script id="config"[^>]*>(.*?)</script>', page.text).group(1))
    assert config["service_worker"] == "/m/sw.js"


@pytest.mark.parametrize(
    ("username", "path"),
    [
        ("city_operator", "/queue"),
        ("city_operator", "/find"),
        ("city_operator", "/reports/daily"),
        ("city_operator", "/reports/period"),
        ("city_operator", "/account"),
        ("district_planner", "/maps/planner"),
        ("admin", "/users"),
        ("admin", "/audit"),
    ],
)
def test_every_plain_page_has_a_logout(
    anon_client: TestClient, login_as: Headers, username: str, path: str
) -> None:
    """A center's computer is shared: wherever an operator is, 退出登录 is on the page (the
    maps have theirs in the title box, the phone page in its header)."""
    for lang, words in (("zh", "退出登录"), ("en", "Log out")):
        page = anon_client.get(f"{path}?lang={lang}", headers=login_as(username))
        assert page.status_code == 200, page.text
        assert f'form="wg-logout" class="wg-logout">{words}</button>' in page.text
        assert '<form id="wg-logout" method="post" action="/logout" hidden></form>' in page.text
