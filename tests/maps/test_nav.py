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
        (Role.grid_worker, ["/maps/command", "/find", "/reports/daily", "/m/"]),
        (Role.operator, ["/maps/command", "/queue", "/find", "/reports/daily", "/m/"]),
        (Role.commander, ["/maps/command", "/find", "/reports/daily"]),
        (Role.planner, ["/maps/command", "/find", "/reports/daily", "/maps/planner"]),
        (
            Role.admin,
            [
                "/maps/command",
                "/queue",
                "/find",
                "/reports/daily",
                "/maps/planner",
                "/m/",
                "/audit",
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
    found = re.search(r"\+ (\[\[.*?\]\])\.map", html)
    return [path for _, path in json.loads(found.group(1))] if found else []


def test_pages_show_the_menu_of_the_user(anon_client: TestClient, login_as: Headers) -> None:
    html = {"Accept": "text/html"}
    commander = anon_client.get("/", headers=login_as("city_commander") | html)
    assert commander.status_code == 200 and _links(commander.text) == [
        "/maps/command",
        "/find",
        "/reports/daily",
    ]
    planner = anon_client.get("/maps/command", headers=login_as("district_planner") | html)
    assert _links(planner.text) == ["/", "/find", "/reports/daily", "/maps/planner"]
    phone = anon_client.get("/m/", headers=login_as("grid_worker") | html)
    nav = re.search(r'<nav class="m-nav">(.*?)</nav>', phone.text)
    assert nav is not None
    assert re.findall(r'href="([^"]+)"', nav.group(1)) == [
        "/",
        "/maps/command",
        "/find",
        "/reports/daily",
    ]
