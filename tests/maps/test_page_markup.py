"""Every page's markup holds together: each id once, and every reference to an id (a label's
``for``, ``aria-labelledby``/``-describedby``/``-controls``, a control's ``form`` and ``list``,
an in-page ``#link``) finds it; every field a person fills in has a label (or an aria-label),
every button a name, every image its alt; in Chinese and in English.

A second element with the same id is never an error the browser shows: a label then ticks the
wrong box, a script fills the wrong cell, a screen reader names a field by another's label. A
page's markup is only looked at here as served (what a script adds later is its own tests')."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Callable, Iterator
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gis.parties import NAME_MAX as PARTY_NAME_MAX
from gis.scope import Scope, bind_scope
from gis.supervision import tick
from importers.demo import DemoCity
from tests.conftest import HOSTILE, INJECTED, named_with_markup, report_body

Headers = Callable[[str], dict[str, str]]

#: attributes that name other elements by id (space-separated lists for aria-*)
REFERENCES = ("for", "form", "list", "aria-labelledby", "aria-describedby", "aria-controls")


class _Markup(HTMLParser):
    """The ids a page declares and the ids it refers to (outside ``<template>``: a template's
    content is copied by its script, which gives the copies their ids)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: Counter[str] = Counter()
        self.refs: list[tuple[str, str, str]] = []  # (tag, attribute, id)
        self.lang: str | None = None
        self._template = 0
        # what a screen reader would call each control: (tag, id, named otherwise), the ids
        # that a <label for> names, the <label>s open, and the buttons open with their text
        self.controls: list[tuple[str, str, bool]] = []
        self.label_for: set[str] = set()
        self._labels = 0
        self._buttons: list[list[str]] = []  # [text, named otherwise]
        self.unnamed: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "template":
            self._template += 1
        if self._template:
            return
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.lang = a.get("lang")
        if "id" in a:
            self.ids[a["id"]] += 1
        for name in REFERENCES:
            if name in a and not (name == "for" and tag == "output"):
                for ref in a[name].split():
                    self.refs.append((tag, name, ref))
        href = a.get("href", "")
        if tag == "a" and href.startswith("#") and len(href) > 1:
            self.refs.append((tag, "href", href[1:]))
        named = any(a.get(k, "").strip() for k in ("aria-label", "aria-labelledby", "title"))
        if tag == "label":
            self._labels += 1
            if "for" in a:
                self.label_for.add(a["for"])
        elif tag in ("input", "select", "textarea") and a.get("type") not in _NOT_FIELDS:
            self.controls.append((tag, a.get("id", ""), named or self._labels > 0))
        elif tag == "img" and "alt" not in a:
            self.unnamed.append(f"<img src={a.get('src', '')!r}> has no alt")
        elif tag == "button":
            self._buttons.append(["", "x" if named else ""])

    def handle_data(self, data: str) -> None:
        for b in self._buttons:
            b[0] += data

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "template":
            self._template -= 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "template":
            self._template -= 1
        if self._template:
            return
        if tag == "label":
            self._labels = max(0, self._labels - 1)
        elif tag == "button" and self._buttons:
            text, named = self._buttons.pop()
            if not text.strip() and not named:
                self.unnamed.append("a <button> with neither text nor aria-label")


#: inputs that are not fields a person fills in (a button's words are its name)
_NOT_FIELDS = ("hidden", "submit", "button", "reset", "image")


def problems(html: str) -> list[str]:
    """What does not hold together in ``html`` (empty when all is well)."""
    page = _Markup()
    page.feed(html)
    out = [f'id "{i}" is on {n} elements' for i, n in sorted(page.ids.items()) if n > 1]
    out += [
        f'<{tag} {name}="{ref}">: no element has that id'
        for tag, name, ref in page.refs
        if ref not in page.ids
    ]
    if not page.lang:
        out.append("<html> names no lang")
    out += [
        f"<{tag}{f' id={i!r}' if i else ''}> has no label"
        for tag, i, named in page.controls
        if not named and i not in page.label_for
    ]
    return out + page.unnamed


def test_the_checker_sees_what_it_looks_for() -> None:
    bad = (
        '<html><body><p id="a"></p><p id="a"></p><label for="b">x</label>'
        '<input aria-describedby="a c"><a href="#d">d</a><template><i id="a"></i></template>'
        '<select id="s"></select><button> </button><img src="x.png">'
        "</body></html>"
    )
    assert problems(bad) == [
        'id "a" is on 2 elements',
        '<label for="b">: no element has that id',
        '<input aria-describedby="c">: no element has that id',
        '<a href="d">: no element has that id',
        "<html> names no lang",
        "<input> has no label",
        "<select id='s'> has no label",
        "a <button> with neither text nor aria-label",
        "<img src='x.png'> has no alt",
    ]
    good = (
        '<html lang="zh-CN"><label for="x">x</label><input id="x"><label>名称 <input></label>'
        '<select aria-label="区划"></select><input type="hidden"><button title="关闭"></button>'
        '<button>查询</button><img src="x.png" alt=""></html>'
    )
    assert problems(good) == []


@pytest.fixture
def case(anon_client: TestClient, login_as: Headers, demo_city: DemoCity, app_db: Session) -> dict:
    """A township's new case (reported by its desk), with a reminder letter issued."""
    grid = next(g for g in demo_city.grids if g.code.startswith("990102001001"))
    p = grid.geom.representative_point()
    r = anon_client.post(
        "/api/reports", headers=login_as("township_operator"), json=report_body(p.x, p.y)
    )
    assert r.status_code == 201, r.text
    body = r.json()
    remind_at = app_db.execute(
        text("SELECT remind_at FROM cases WHERE code = :c"), {"c": body["code"]}
    ).scalar_one()
    bind_scope(app_db, Scope.everything())
    tick(app_db, remind_at)
    app_db.commit()  # (to the test's savepoint)
    worker = app_db.execute(
        text(
            "SELECT w.code FROM worker_grid wg JOIN worker w ON w.id = wg.worker_id "
            "WHERE wg.grid_code = :g ORDER BY w.code LIMIT 1"
        ),
        {"g": body["grid_code"]},
    ).scalar_one()
    return body | {"token": body["tracking_url"].rsplit("/", 1)[1], "worker": worker}


PAGES = [
    (None, "/login"),
    (None, "/t/{token}"),
    ("admin", "/"),
    ("admin", "/users"),
    ("admin", "/audit"),
    ("admin", "/imports"),
    ("admin", "/account"),
    ("city_commander", "/maps/command"),
    ("city_operator", "/maps/safety"),
    ("city_operator", "/find"),
    ("city_operator", "/queue"),
    ("city_operator", "/reports/daily"),
    ("city_operator", "/reports/period"),
    ("city_operator", "/workers"),
    ("city_operator", "/grids"),
    ("township_operator", "/queue"),
    ("township_operator", "/cases/{code}"),
    ("township_operator", "/cases/{code}/receipt"),
    ("township_operator", "/cases/{code}/letters/reminder"),
    ("township_operator", "/grids/{grid_code}"),
    ("township_operator", "/maps/grid/{grid_code}"),
    ("township_operator", "/workers/{worker}/patrols"),
    ("township_operator", "/m/"),
    ("grid_worker", "/m/"),
    ("grid_worker", "/cases/{code}"),
    ("district_planner", "/maps/planner"),
    ("district_planner", "/grids/{grid_code}"),
]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_holds_together(
    anon_client: TestClient, login_as: Headers, case: dict, lang: str
) -> None:
    found = {}
    for user, template in PAGES:
        path = template.format(**case)
        page = anon_client.get(
            f"{path}?lang={lang}",
            headers=(login_as(user) if user else {}) | {"Accept": "text/html"},
        )
        assert page.status_code == 200, (user, path, page.text[:300])
        wrong = problems(page.text)
        if wrong:
            found[f"{user} {path}"] = wrong
    assert found == {}


class _Injected(HTMLParser):
    """Whether a page holds an element of id :data:`INJECTED` (a name read as markup)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if ("id", INJECTED) in attrs:
            self.found.append(tag)


@pytest.fixture
def hostile_names(engine: Engine, case: dict) -> Iterator[None]:
    """Every name ends in :data:`HOSTILE` for the test (after ``case`` is made)."""
    with named_with_markup(engine):
        yield


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.usefixtures("hostile_names")
def test_names_from_files_are_text_on_every_page(
    anon_client: TestClient, login_as: Headers, case: dict, demo_city: DemoCity, lang: str
) -> None:
    """The names of regions, grids, centers, departments, workers and users come from files
    and forms (an import, a roster): on every page they are text, whatever they hold — a name
    that closes a tag and opens another never becomes the page's markup (in a map page's title,
    folium once wrote it as it was, and the page's own script hashes allowed what it held).
    So is what a report, a party's name, a move's reason and a handling note hold."""
    grid = next(g for g in demo_city.grids if g.code.startswith("990102001001"))
    p = grid.geom.representative_point()
    desk = login_as("township_operator")
    party = {"role": "applicant", "name": HOSTILE[:PARTY_NAME_MAX], "phone": "13800138000"}
    r = anon_client.post(
        "/api/reports",
        headers=desk,
        json=report_body(p.x, p.y, description=HOSTILE, parties=[party]),
    )
    assert r.status_code == 201, r.text
    code, token = r.json()["code"], r.json()["tracking_url"].rsplit("/", 1)[1]
    r = anon_client.post(
        f"/api/cases/{code}/actions", headers=desk, json={"action": "accept", "note": HOSTILE}
    )
    assert r.status_code == 200, r.text
    r = anon_client.post(f"/api/cases/{code}/notes", headers=desk, json={"note": HOSTILE})
    assert r.status_code == 201, r.text
    hostile = [
        ("township_operator", f"/cases/{code}"),
        ("township_operator", f"/cases/{code}/receipt"),
        ("township_operator", "/find?q=wg-injected"),
        (None, f"/t/{token}"),
    ]
    found = {}
    for user, template in PAGES + hostile:
        path = template.format(**case)
        page = anon_client.get(
            path,
            params={"lang": lang},
            headers=(login_as(user) if user else {}) | {"Accept": "text/html"},
        )
        assert page.status_code == 200, (user, path, page.text[:300])
        assert HOSTILE in html.unescape(page.text) or path == "/login", path  # (named there)
        parser = _Injected()
        parser.feed(page.text)
        if parser.found:
            found[f"{user} {path}"] = parser.found
    assert found == {}
