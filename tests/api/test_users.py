"""User accounts from the web (用户管理): the administrator's list, additions and changes."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

import gis.users
from gis import totp
from gis.passwords import check_password_policy
from gis.permissions import Role
from gis.settings import Settings
from gis.users import add_user
from importers.demo import DemoCity
from importers.demo_users import DEMO_PASSWORD
from tests.conftest import app_with, take_grids_from

Headers = Callable[[str], dict[str, str]]
NEW_PASSWORD = "Lantern-river-4812"


def _login(client: TestClient, username: str, password: str = DEMO_PASSWORD) -> int:
    r = client.post("/api/auth/login", json={"username": username, "password": password})
    return r.status_code


def _token(client: TestClient, username: str, password: str) -> dict[str, str]:
    r = client.post("/api/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _trail(db: Session, username: str) -> list[tuple]:
    return [
        tuple(r)
        for r in db.execute(
            text("""SELECT action, username, detail->>'via' FROM audit_log
                    WHERE object = :o ORDER BY id"""),
            {"o": f"user:{username}"},
        )
    ]


def test_the_admin_lists_adds_and_hands_over_an_account(
    anon_client: TestClient,
    login_as: Headers,
    app_db: Session,
    demo_city: DemoCity,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = login_as("admin")
    listed = anon_client.get("/api/users", headers=admin)
    assert listed.status_code == 200
    names = [u["username"] for u in listed.json()]
    assert {"admin", "grid_worker", "township_operator_b"} <= set(names)
    assert not any("password_hash" in u for u in listed.json())
    operators = anon_client.get("/api/users", params={"role": "operator"}, headers=admin).json()
    assert {u["role"] for u in operators} == {"operator"} and len(operators) >= 5
    english = anon_client.get(
        "/api/users", params={"q": "village_op"}, headers=admin | {"Accept-Language": "en"}
    ).json()
    assert [u["role_name"] for u in english] == ["center operator"]
    # a grid worker's account from their worker record: their village, a random password once
    worker = demo_city.workers[5]
    r = anon_client.post(
        "/api/users",
        headers=admin,
        json={"username": "wang.wu", "role": "grid_worker", "worker": worker.code,
              "display_name": "王五"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["region_code"] == worker.village_code and body["worker_code"] == worker.code
    password = body["initial_password"]
    check_password_policy("wang.wu", password)  # it passes the policy it is held to
    assert _login(anon_client, "wang.wu", password) == 200
    again = anon_client.get("/api/users/wang.wu", headers=admin).json()
    assert again["initial_password"] is None and again["last_seen_at"] is not None
    assert _trail(app_db, "wang.wu") == [("user.add", "admin", "web")]
    # the trail's page says what the entry records in words (it showed the JSON as recorded)
    page = anon_client.get("/audit?object=user:wang.wu", headers=admin).text
    assert f"途径：网页；角色：网格员；区划：{worker.village_code}" in page, page
    english = anon_client.get("/audit?object=user:wang.wu&lang=en", headers=admin).text
    assert f"via: web page; role: grid worker; region: {worker.village_code}" in english
    anon_client.cookies.clear()  # (the English page is remembered for the next answers)
    # what is refused, with the reason: a weak password, a name taken, server-owned fields
    weak = anon_client.post(
        "/api/users", headers=admin,
        json={"username": "zhao", "role": "operator", "region": "990102", "password": "123456"},
    )  # fmt: skip
    assert weak.status_code == 422 and "密码" in weak.json()["detail"]
    taken = anon_client.post("/api/users", headers=admin, json={"username": "wang.wu",
                                                                "role": "planner",
                                                                "region": "990102"})  # fmt: skip
    assert taken.status_code == 409 and "已存在" in taken.json()["detail"]
    # logins ignore letter case (a phone keyboard types Wang.wu): a name differing only in
    # case would be the same account at the login, so it is refused, naming the one it meets
    twin = anon_client.post(
        "/api/users", headers=admin,
        json={"username": "Wang.Wu", "role": "planner", "region": "990102"},
    )  # fmt: skip
    assert twin.status_code == 409, twin.text
    assert twin.json()["detail"].startswith("用户名 Wang.Wu 与已有账号 wang.wu 只差字母大小写")
    # … and two added at the same moment, each checked before the other was written: the
    # database's index refuses the second (409 in words, was a 500), whatever the case
    checked = gis.users.check_new_user
    monkeypatch.setattr(
        gis.users, "check_new_user", lambda s, _, *a, **k: checked(s, "race.free", *a, **k)
    )
    for name in ("wang.wu", "WANG.WU"):
        raced = anon_client.post(
            "/api/users", headers=admin, json={"username": name, "role": "planner",
                                               "region": "990102"}
        )  # fmt: skip
        assert raced.status_code == 409, raced.text
        assert (
            raced.json()["detail"] == "该用户名刚被另一项操作同时使用，本次未保存，请换一个用户名。"
        )
    monkeypatch.undo()
    for extra in ({"disabled": False}, {"password_hash": "x"}, {"username": "a b"}):
        bad = {"username": "qian", "role": "operator", "region": "990102"} | extra
        assert anon_client.post("/api/users", headers=admin, json=bad).status_code == 422, extra
    nowhere = anon_client.post(
        "/api/users", headers=admin, json={"username": "sun", "role": "operator",
                                           "region": "990999"}
    )  # fmt: skip
    assert nowhere.status_code == 422 and "990999" in nowhere.json()["detail"]
    # no region: the page's field is named (and the command line's option, for the CLI)
    placeless = anon_client.post(
        "/api/users", headers=admin, json={"username": "sun", "role": "operator"}
    )
    assert placeless.status_code == 422, placeless.text
    assert placeless.json()["errors"][0]["field"] == "region"
    assert "请给出其区划代码（region" in placeless.json()["detail"]
    # only administrators manage accounts
    for who in ("city_operator", "city_commander", "grid_worker"):
        assert anon_client.get("/api/users", headers=login_as(who)).status_code == 403


def test_reset_disable_enable_unlock(
    anon_client: TestClient, login_as: Headers, app_db: Session
) -> None:
    admin = login_as("admin")
    old = _token(anon_client, "village_operator", DEMO_PASSWORD)
    # a password given: the old sessions end, the new one works, the old one no more
    r = anon_client.post(
        "/api/users/village_operator/password", headers=admin, json={"password": NEW_PASSWORD}
    )
    assert r.status_code == 200 and r.json()["initial_password"] is None
    assert anon_client.get("/api/auth/me", headers=old).status_code == 401
    assert _login(anon_client, "village_operator") == 401
    assert _login(anon_client, "village_operator", NEW_PASSWORD) == 200
    # or a random one, shown once
    random = anon_client.post("/api/users/village_operator/password", headers=admin).json()
    assert _login(anon_client, "village_operator", random["initial_password"]) == 200
    # locked after five failures: unlocked by the admin, at once
    for _ in range(5):
        _login(anon_client, "district_planner", "Wrong-Password-1")
    assert _login(anon_client, "district_planner") == 423
    listed = anon_client.get("/api/users", params={"q": "district_planner"}, headers=admin)
    assert listed.json()[0]["locked_until"] is not None
    unlocked = anon_client.post("/api/users/district_planner/unlock", headers=admin).json()
    assert unlocked["locked_until"] is None and unlocked["failed_logins"] == 0
    assert _login(anon_client, "district_planner") == 200
    # disabled: no login, no session; enabled again: the same password works
    planner = _token(anon_client, "district_planner", DEMO_PASSWORD)
    off = anon_client.post("/api/users/district_planner/disable", headers=admin)
    assert off.status_code == 200 and off.json()["disabled"] is True
    assert anon_client.get("/api/auth/me", headers=planner).status_code == 401
    assert _login(anon_client, "district_planner") != 200
    assert anon_client.post("/api/users/district_planner/enable", headers=admin).status_code == 200
    assert _login(anon_client, "district_planner") == 200
    # nobody disables themselves; an unknown account is not found
    me = anon_client.post("/api/users/admin/disable", headers=admin)
    assert me.status_code == 409 and "自己" in me.json()["detail"]
    assert anon_client.post("/api/users/nobody/unlock", headers=admin).status_code == 404
    assert [(a, who) for a, who, via in _trail(app_db, "district_planner") if via] == [
        ("user.unlock", "admin"), ("user.disable", "admin"), ("user.enable", "admin")]  # fmt: skip


def test_the_admin_logs_an_account_out_everywhere_without_disabling_it(
    anon_client: TestClient, login_as: Headers, app_db: Session
) -> None:
    """强制下线: a grid worker's phone is lost — the admin ends every session of the account
    (the phone's and the office's), and the worker logs in again with the same password.
    Never one's own; an unknown account is not found."""
    admin = login_as("admin")
    phone = _token(anon_client, "grid_worker", DEMO_PASSWORD)
    office = _token(anon_client, "grid_worker", DEMO_PASSWORD)
    page = anon_client.get("/users?lang=zh", headers=admin).text
    assert 'data-act="logout" data-user="grid_worker"' in page and "强制下线" in page
    assert 'data-act="logout" data-user="admin"' not in page
    r = anon_client.post("/api/users/grid_worker/logout", headers=admin)
    assert r.status_code == 200 and r.json()["disabled"] is False, r.text
    for token in (phone, office):
        assert anon_client.get("/api/auth/me", headers=token).status_code == 401
    assert _login(anon_client, "grid_worker") == 200
    me = anon_client.post("/api/users/admin/logout", headers=admin)
    assert me.status_code == 409 and "我的登录" in me.json()["detail"]
    assert anon_client.post("/api/users/nobody/logout", headers=admin).status_code == 404
    ended = app_db.execute(
        text("""SELECT detail FROM audit_log WHERE action = 'user.logout'
                AND object = 'user:grid_worker' ORDER BY id DESC LIMIT 1""")
    ).scalar_one()
    assert ended["via"] == "web" and ended["sessions"] >= 2


def test_the_admin_ends_one_session_of_an_account_and_leaves_the_others(
    anon_client: TestClient, login_as: Headers, app_db: Session
) -> None:
    """登录设备: a grid worker's phone is lost, the office computer is not — the admin lists
    the account's sessions (device, address, when), ends the phone's alone, and the office
    goes on.  Never one's own here; another account's session, or one ended, is not found; a
    district administrator sees only accounts of the district, and no administrator's."""
    admin = login_as("admin")
    android = "Mozilla/5.0 (Linux; Android 13; V2227A) AppleWebKit/537.36 Chrome/116 Mobile"
    phone_r = anon_client.post(
        "/api/auth/login",
        json={"username": "grid_worker", "password": DEMO_PASSWORD},
        headers={"User-Agent": android},
    )
    phone = {"Authorization": f"Bearer {phone_r.json()['access_token']}"}
    office = _token(anon_client, "grid_worker", DEMO_PASSWORD)
    english = anon_client.get(
        "/api/users/grid_worker/sessions", headers=admin | {"Accept-Language": "en"}
    ).json()
    assert english[1]["device"].startswith("phone")
    page = anon_client.get("/users?lang=zh", headers=admin).text
    assert 'data-act="sessions" data-user="grid_worker"' in page and "登录设备" in page
    assert 'data-act="sessions" data-user="admin"' not in page
    assert 'id="user-sessions"' in page
    listed = anon_client.get("/api/users/grid_worker/sessions", headers=admin)
    assert listed.status_code == 200, listed.text
    sessions = listed.json()
    assert len(sessions) >= 2 and not any(s["current"] for s in sessions)
    newest, second = sessions[0], sessions[1]  # the office's, then the phone's
    assert second["device"].startswith("手机") and second["user_agent"] == android
    assert newest["last_seen_at"] >= second["last_seen_at"]
    r = anon_client.delete(f"/api/users/grid_worker/sessions/{second['id']}", headers=admin)
    assert r.status_code == 204, r.text
    assert anon_client.get("/api/auth/me", headers=phone).status_code == 401
    assert anon_client.get("/api/auth/me", headers=office).status_code == 200
    listed = anon_client.get("/api/users/grid_worker/sessions", headers=admin)
    left = [s["id"] for s in listed.json()]
    assert second["id"] not in left and newest["id"] in left
    again = anon_client.delete(f"/api/users/grid_worker/sessions/{second['id']}", headers=admin)
    assert again.status_code == 404 and "没有编号为" in again.json()["detail"]
    # another account's session through this one's name: not found, and it goes on
    theirs = anon_client.delete(
        f"/api/users/village_operator/sessions/{newest['id']}", headers=admin
    )
    assert theirs.status_code == 404
    assert anon_client.get("/api/auth/me", headers=office).status_code == 200
    own = anon_client.get("/api/auth/sessions", headers=admin).json()[0]["id"]
    mine = anon_client.delete(f"/api/users/admin/sessions/{own}", headers=admin)
    assert mine.status_code == 409 and "我的登录" in mine.json()["detail"]
    assert anon_client.get("/api/users/nobody/sessions", headers=admin).status_code == 404
    ended = app_db.execute(
        text("""SELECT username, detail FROM audit_log WHERE action = 'user.session_end'
                AND object = 'user:grid_worker' ORDER BY id DESC LIMIT 1""")
    ).one()
    assert ended.username == "admin" and ended.detail == {"via": "web", "session": second["id"]}
    # a district's administrator: the district's accounts only, and no administrator
    add_user(app_db, "district_admin", Role.admin, NEW_PASSWORD, region_code="990102")
    app_db.commit()  # (to the test's savepoint)
    district = _token(anon_client, "district_admin", NEW_PASSWORD)
    assert anon_client.get("/api/users/grid_worker/sessions", headers=district).status_code == 200
    away = anon_client.get("/api/users/township_operator_b/sessions", headers=district)
    assert away.status_code == 404
    assert anon_client.get("/api/users/admin/sessions", headers=district).status_code == 404
    operator = anon_client.get("/api/users/grid_worker/sessions", headers=login_as("city_operator"))
    assert operator.status_code == 403


def test_the_admin_moves_an_account_to_another_place_and_role(
    anon_client: TestClient, login_as: Headers, app_db: Session, demo_city: DemoCity
) -> None:
    """A grid worker becomes a township's desk operator: new role and region, old sessions
    ended; a field not given stays as it was."""
    admin = login_as("admin")
    session = _token(anon_client, "grid_worker", DEMO_PASSWORD)
    same = anon_client.patch(
        "/api/users/grid_worker", headers=admin, json={"display_name": "张网格"}
    )
    assert same.status_code == 200 and same.json()["display_name"] == "张网格"
    assert anon_client.get("/api/auth/me", headers=session).status_code == 200  # still in
    moved = anon_client.patch(
        "/api/users/grid_worker",
        headers=admin,
        json={"role": "operator", "region": "990102001", "worker": ""},
    )
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert (body["role"], body["region_code"], body["worker_code"]) == (
        "operator", "990102001", None)  # fmt: skip
    assert body["display_name"] == "张网格"
    assert anon_client.get("/api/auth/me", headers=session).status_code == 401
    me = _token(anon_client, "grid_worker", DEMO_PASSWORD)
    assert anon_client.get("/api/queue", headers=me).status_code == 200  # a desk's in-tray now
    change = app_db.execute(
        text("""SELECT detail->'changed' FROM audit_log WHERE action = 'user.update'
                AND object = 'user:grid_worker' ORDER BY id DESC LIMIT 1""")
    ).scalar_one()
    assert change["role"] == ["grid_worker", "operator"] and "display_name" not in change
    # a worker record given alone: the account follows the worker to their village
    worker = next(w for w in demo_city.workers if w.village_code.startswith("990103"))
    back = anon_client.patch(
        "/api/users/grid_worker", headers=admin, json={"role": "grid_worker", "worker": worker.code}
    ).json()
    assert (back["region_code"], back["worker_code"]) == (worker.village_code, worker.code)
    # refused: one's own role, a region that is not there, unknown fields
    own = anon_client.patch("/api/users/admin", headers=admin, json={"role": "operator"})
    assert own.status_code == 409 and "自己" in own.json()["detail"]
    assert (
        anon_client.patch(
            "/api/users/grid_worker", headers=admin, json={"region": "990999"}
        ).status_code
        == 422
    )
    assert (
        anon_client.patch(
            "/api/users/grid_worker", headers=admin, json={"disabled": True}
        ).status_code
        == 422
    )
    nothing = anon_client.patch("/api/users/grid_worker", headers=admin, json={})
    assert nothing.status_code == 200


def test_a_district_admin_manages_only_their_district(
    anon_client: TestClient, login_as: Headers, app_db: Session, demo_city: DemoCity
) -> None:
    """An administrator with a region: the accounts under it, and no administrators."""
    district = "990102"
    add_user(app_db, "district_admin", Role.admin, NEW_PASSWORD, region_code=district)
    app_db.commit()  # (to the test's savepoint)
    mine = _token(anon_client, "district_admin", NEW_PASSWORD)
    names = {u["username"] for u in anon_client.get("/api/users", headers=mine).json()}
    regions = {u["region_code"] for u in anon_client.get("/api/users", headers=mine).json()}
    assert "district_operator" in names and "township_operator" in names
    assert not names & {"admin", "city_operator", "township_operator_b"}
    assert all(r.startswith(district) for r in regions)
    # another district's accounts are "not found", to read or to change
    for path in ("/api/users/township_operator_b", "/api/users/city_operator"):
        assert anon_client.get(path, headers=mine).status_code == 404
    for action in ("password", "disable", "enable", "unlock"):
        r = anon_client.post(f"/api/users/township_operator_b/{action}", headers=mine)
        assert r.status_code == 404, action
    r = anon_client.patch("/api/users/township_operator_b", headers=mine, json={"role": "planner"})
    assert r.status_code == 404
    # nor moved out of the district, nor made an administrator
    away = anon_client.patch(
        "/api/users/township_operator", headers=mine, json={"region": "990103"}
    )
    assert away.status_code == 422 and "管辖范围" in away.json()["detail"]
    up = anon_client.patch("/api/users/township_operator", headers=mine, json={"role": "admin"})
    assert up.status_code == 403
    # a new account: in the district by default, not outside it, and no administrator
    added = anon_client.post(
        "/api/users", headers=mine, json={"username": "li.si", "role": "operator"}
    )
    assert added.status_code == 201 and added.json()["region_code"] == district
    outside = anon_client.post(
        "/api/users", headers=mine, json={"username": "li.er", "role": "operator",
                                          "region": "990101"}
    )  # fmt: skip
    assert outside.status_code == 422 and "管辖范围" in outside.json()["detail"]
    other = next(w for w in demo_city.workers if not w.village_code.startswith(district))
    stranger = anon_client.post(
        "/api/users", headers=mine, json={"username": "li.yi", "role": "grid_worker",
                                          "worker": other.code}
    )  # fmt: skip
    assert stranger.status_code == 422
    boss = anon_client.post("/api/users", headers=mine, json={"username": "li.da", "role": "admin"})
    assert boss.status_code == 403
    # the whole deployment's administrator is the one who resets a district administrator
    assert anon_client.post("/api/users/district_admin/password", headers=mine).status_code == 403
    page = anon_client.get("/users", headers=mine | {"Accept": "text/html"})
    assert 'value="admin"' not in page.text  # no administrator to give in the form
    reset = anon_client.post("/api/users/district_admin/password", headers=login_as("admin"))
    assert reset.status_code == 200


def test_the_users_page(anon_client: TestClient, login_as: Headers) -> None:
    admin, html = login_as("admin"), {"Accept": "text/html"}
    page = anon_client.get("/users", headers=admin | html)
    assert page.status_code == 200 and "<h1>用户管理</h1>" in page.text
    assert 'data-user="township_operator"' in page.text and "users.js" in page.text
    assert 'data-act="disable" data-user="admin"' not in page.text  # not one's own
    assert '<option value="admin">系统管理员</option>' in page.text
    narrowed = anon_client.get("/users", params={"role": "grid_worker"}, headers=admin | html)
    assert '<b id="user-total">1</b>' in narrowed.text
    assert '<option value="grid_worker" selected>' in narrowed.text
    # the filter form as a browser sends it: its empty fields mean "any"
    everyone = anon_client.get("/users?q=&role=&region=", headers=admin | html)
    assert everyone.status_code == 200 and 'data-user="grid_worker"' in everyone.text
    wrong = anon_client.get("/users", params={"role": "mayor"}, headers=admin | html)
    assert wrong.status_code == 422
    # the menu: administrators find it; others neither see it nor open it
    assert '<a href="/users">用户管理</a>' in anon_client.get("/audit", headers=admin | html).text
    operator = login_as("city_operator")
    assert "/users" not in anon_client.get("/queue", headers=operator | html).text
    assert anon_client.get("/users", headers=operator | html).status_code == 403
    english = anon_client.get("/users", params={"lang": "en"}, headers=admin | html)
    assert '<html lang="en">' in english.text and "<h1>Users</h1>" in english.text
    assert "center operator" in english.text and "用户管理" not in english.text


def test_a_grid_worker_with_no_grid_is_marked_in_the_list(
    anon_client: TestClient, login_as: Headers, app_db: Session
) -> None:
    """A grid worker who answers for no grid (no worker record, or a worker with none) may
    report nothing: the list marks them 未配网格, and ``grids`` says how many they have."""
    admin, html = login_as("admin"), {"Accept": "text/html"}

    def grids() -> dict[str, int | None]:
        listed = anon_client.get("/api/users", headers=admin).json()
        return {u["username"]: u["grids"] for u in listed}

    before = grids()
    assert before["grid_worker"] and before["grid_worker"] > 0
    assert before["township_operator"] is None  # (not a grid worker's account)
    row = re.search(
        r'<tr data-user="grid_worker".*?</tr>', anon_client.get("/users", headers=admin | html).text
    )
    assert row is not None and "未配网格" not in row.group(0)
    take_grids_from(app_db, "grid_worker")
    assert grids()["grid_worker"] == 0
    page = anon_client.get("/users", headers=admin | html).text
    row = re.search(r'<tr data-user="grid_worker".*?</tr>', page)
    assert row is not None and "未配网格" in row.group(0)
    assert "未配网格" not in page.replace(row.group(0), "")  # (the others: not grid workers)


def test_a_user_changes_their_own_password(
    anon_client: TestClient, login_as: Headers, app_db: Session
) -> None:
    """我的账号: every role may change its own password, knowing the current one."""
    here = _token(anon_client, "township_operator", DEMO_PASSWORD)
    elsewhere = _token(anon_client, "township_operator", DEMO_PASSWORD)

    def change(current: str, new: str, who: dict = here) -> object:
        return anon_client.post(
            "/api/auth/password",
            headers=who,
            json={"current_password": current, "new_password": new},
        )

    wrong = change("Not-the-password-1", NEW_PASSWORD)
    assert wrong.status_code == 422 and "当前密码不正确" in wrong.json()["detail"]
    weak = change(DEMO_PASSWORD, "township_operator2026!")
    assert weak.status_code == 422 and "用户名" in weak.json()["detail"]
    assert change(DEMO_PASSWORD, DEMO_PASSWORD).status_code == 422
    assert change(DEMO_PASSWORD, NEW_PASSWORD).status_code == 204
    # this session stays, the other one ends; the new password logs in, the old one not
    assert anon_client.get("/api/auth/me", headers=here).status_code == 200
    assert anon_client.get("/api/auth/me", headers=elsewhere).status_code == 401
    assert _login(anon_client, "township_operator") == 401
    assert _login(anon_client, "township_operator", NEW_PASSWORD) == 200
    trail = _trail(app_db, "township_operator")
    assert ("user.passwd", "township_operator", "self") in trail
    failed = app_db.execute(
        text("""SELECT count(*) FROM audit_log WHERE action = 'user.passwd' AND NOT success
                AND username = 'township_operator'""")
    ).scalar_one()
    assert failed == 1  # the wrong current password, counted as a failed login
    # wrong current passwords lock the account like wrong logins do
    grid = _token(anon_client, "grid_worker", DEMO_PASSWORD)
    answers = [change("Not-the-password-1", NEW_PASSWORD, grid).status_code for _ in range(5)]
    assert answers[-1] == 423 and _login(anon_client, "grid_worker") == 423
    anon_client.cookies.clear()  # (the logins above left their session cookie)
    nobody = {"current_password": DEMO_PASSWORD, "new_password": NEW_PASSWORD}
    assert anon_client.post("/api/auth/password", json=nobody).status_code == 401


def test_an_expired_password_must_be_changed_at_login(
    settings: Settings, app_db: Session, login_as: Headers
) -> None:
    """等保's 定期更换: a login with a password older than ``password_max_days`` opens a session
    that may only change it (the API: 403 saying so; the pages: to 我的账号), and changing it
    frees that session.  A session opened before goes on (a wall screen, a phone on its
    round).  The account page gives the expiry and warns of it in its last two weeks; the
    administrator's list shows the accounts whose password has expired."""
    html = {"Accept": "text/html"}
    with app_with(settings, app_db) as client:
        before = _token(client, "village_operator", DEMO_PASSWORD)
        page = client.get("/account", headers=before | html).text
        assert "密码有效期至" in page and 'id="password-soon"' not in page  # 90 days ahead
        assert client.get("/api/auth/me", headers=before).json()["password_expires_at"]
    with app_with(settings, app_db, password_max_days=1e-6) as client:  # (0.09 s)
        r = client.post(
            "/api/auth/login", json={"username": "village_operator", "password": DEMO_PASSWORD}
        )
        assert r.status_code == 200
        assert r.json()["password_change_required"] is True and r.json()["home"] == "/account"
        expired = {"Authorization": f"Bearer {r.json()['access_token']}"}
        me = client.get("/api/auth/me", headers=expired).json()
        assert me["password_change_required"] is True
        refused = client.get("/api/queue", headers=expired)
        assert refused.status_code == 403 and refused.json()["code"] == "password_change_required"
        assert "密码已到期" in refused.json()["detail"]
        assert client.get("/api/queue", headers=before).status_code == 200  # opened before
        to_account = client.get("/queue", headers=expired | html, follow_redirects=False)
        assert to_account.status_code == 303 and to_account.headers["location"] == "/account"
        page = client.get("/account", headers=expired | html).text
        assert 'id="password-first"' in page and "您的密码已到期" in page
        assert 'href="/queue"' not in page  # no menu until it is changed
        change = {"current_password": DEMO_PASSWORD, "new_password": NEW_PASSWORD}
        assert client.post("/api/auth/password", headers=expired, json=change).status_code == 204
        assert client.get("/api/queue", headers=expired).status_code == 200
        assert client.get("/api/queue", headers=before).status_code == 401  # the others ended
        users = client.get("/users", headers=login_as("admin") | html).text
        assert "密码已到期，登录时须修改" in users
    with app_with(settings, app_db, password_max_days=10) as client:
        page = client.get("/account", headers=expired | html).text
        assert 'id="password-soon"' in page and "还剩不到 10 天" in page
        phone = client.get("/m/", headers=login_as("grid_worker") | html).text  # said there too
        assert 'id="password-soon"' in phone and '<a href="/account">请及时修改</a>' in phone
    with app_with(settings, app_db) as client:
        phone = client.get("/m/", headers=login_as("grid_worker") | html).text
        assert 'id="password-soon"' not in phone  # (90 days ahead)
    with app_with(settings, app_db, password_max_days=0) as client:  # 0: they never expire
        page = client.get("/account", headers=expired | html).text
        assert "密码有效期至" not in page
        assert client.get("/api/auth/me", headers=expired).json()["password_expires_at"] is None
        r = client.post(
            "/api/auth/login", json={"username": "city_operator", "password": DEMO_PASSWORD}
        )
        assert r.json()["password_change_required"] is False


def test_the_accounts_unused_for_long_are_found(anon_client: TestClient, login_as: Headers) -> None:
    """用户管理's 久未使用 (等保: 多余的、过期的账户): the enabled accounts unused for so many days
    (the demo's are new: none), the choice kept by the form; a number of days or nothing."""
    admin = login_as("admin")
    assert anon_client.get("/api/users?idle=90", headers=admin).json() == []
    assert len(anon_client.get("/api/users?idle=", headers=admin).json()) > 5  # (the form's any)
    page = anon_client.get("/users?idle=90", headers=admin | {"Accept": "text/html"}).text
    assert '<option value="90" selected>90 天以上未使用</option>' in page
    assert 'id="user-total">0</b>' in page
    assert anon_client.get("/api/users?idle=often", headers=admin).status_code == 422


def test_the_account_page(anon_client: TestClient, login_as: Headers) -> None:
    html = {"Accept": "text/html"}
    page = anon_client.get("/account", headers=login_as("grid_worker") | html)
    assert page.status_code == 200 and "<h1>我的账号</h1>" in page.text
    assert "grid_worker" in page.text and "网格员" in page.text and "account.js" in page.text
    assert 'name="current_password"' in page.text
    # every page's menu leads to it, for every role
    for who, where in (("city_commander", "/find"), ("admin", "/users")):
        assert 'href="/account"' in anon_client.get(where, headers=login_as(who) | html).text
    english = anon_client.get("/account", params={"lang": "en"}, headers=login_as("admin") | html)
    assert "<h1>My account</h1>" in english.text and "administrator" in english.text
    assert "whole deployment" in english.text
    worker = {"lang": "en"}
    english = anon_client.get("/account", params=worker, headers=login_as("grid_worker") | html)
    assert re.search(r"<dd>[^<（]+ \(\d{6,12}\)</dd>", english.text)  # its own brackets
    assert anon_client.get("/account", headers=html, follow_redirects=False).status_code in (
        303, 401)  # fmt: skip


def test_a_password_set_by_an_administrator_is_changed_before_anything_else(
    anon_client: TestClient, login_as: Headers
) -> None:
    """等保: an initial or reset password is its user's to replace at the first login."""
    admin, html = login_as("admin"), {"Accept": "text/html"}
    added = anon_client.post(
        "/api/users", headers=admin,
        json={"username": "zhou.qi", "role": "operator", "region": "990102001"},
    ).json()  # fmt: skip
    assert added["must_change_password"] is True
    login = anon_client.post(
        "/api/auth/login", json={"username": "zhou.qi", "password": added["initial_password"]}
    ).json()
    assert login["password_change_required"] is True and login["home"] == "/account"
    me = {"Authorization": f"Bearer {login['access_token']}"}
    refused = anon_client.get("/api/queue", headers=me)
    assert refused.status_code == 403 and refused.json()["code"] == "password_change_required"
    assert "/account" in refused.json()["detail"]
    page = anon_client.get("/queue", headers=me | html, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/account"
    account = anon_client.get("/account", headers=me | html)
    assert 'id="password-first"' in account.text and 'href="/queue"' not in account.text
    assert anon_client.get("/api/auth/me", headers=me).status_code == 200
    changed = anon_client.post(
        "/api/auth/password",
        headers=me,
        json={"current_password": added["initial_password"], "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 204
    assert anon_client.get("/api/queue", headers=me).status_code == 200
    listed = anon_client.get("/api/users/zhou.qi", headers=admin).json()
    assert listed["must_change_password"] is False
    # a reset by the administrator asks for it again; the command line's and the demo's do not
    anon_client.post("/api/users/zhou.qi/password", headers=admin)
    assert anon_client.get("/api/users/zhou.qi", headers=admin).json()["must_change_password"]
    demo = anon_client.get("/api/users/township_operator", headers=admin).json()
    assert demo["must_change_password"] is False


def test_totp_codes_are_rfc_6238s() -> None:
    """The codes of RFC 6238's appendix B (SHA-1, the last six of its eight digits), a step
    either side taken, a step used once, and nothing but six digits."""
    secret = base64.b32encode(b"12345678901234567890").decode()
    for at, code in ((59, "287082"), (1111111109, "081804"), (1234567890, "005924")):
        assert totp.code_at(secret, totp.step_of(at)) == code
        assert totp.verify(secret, code, at=at) == totp.step_of(at)
        assert totp.verify(secret, code, at=at + 30) == totp.step_of(at)  # a phone 30 s slow
        assert not totp.verify(secret, code, at=at + 90)
        assert not totp.verify(secret, code, last_step=totp.step_of(at), at=at)  # used once
    assert totp.verify(secret, "287 082", at=59) and totp.verify(secret, "２８７０８２", at=59)
    assert not totp.verify(secret, "٢٨٧٠٨٢", at=59)  # (other scripts' digits are not six ASCII)
    assert not totp.verify(secret, "28708", at=59) and not totp.verify(secret, "", at=59)
    assert totp.otpauth_uri(secret, "zhang").startswith(
        "otpauth://totp/%E7%BD%91%E6%A0%BC%20wangge%3Azhang?secret=GEZDGNBVGY3TQOJQ"
    )


def _code(secret: str, ahead: int = 0) -> str:
    return totp.code_at(secret, totp.step_of() + ahead)


def _wrong(secret: str) -> str:
    """A code that is none of the steps taken now."""
    taken = {_code(secret, k) for k in (-1, 0, 1, 2)}
    return next(c for c in ("000000", "111111", "222222", "333333", "444444") if c not in taken)


def test_a_one_time_code_guards_the_login(
    settings: Settings, app_db: Session, login_as: Headers
) -> None:
    """动态口令: set up on 我的账号 (the password, then a code of the new secret), then asked for
    at every login with the password: missing, a 401 saying so before the password is looked at
    (not a failure, and the same for a wrong password); a wrong password or a wrong code, or one
    used already, one answer that does not say which, a failure that counts toward the lockout;
    both right, the session.  The secret is stored encrypted.  Turning it off takes the
    password and a code; an administrator resets it (a lost phone), which ends the account's
    sessions."""
    with app_with(settings, app_db) as client:
        me = _token(client, "township_operator", DEMO_PASSWORD)
        elsewhere = _token(client, "township_operator", DEMO_PASSWORD)

        def post(path: str, body: dict, who: dict = me):  # type: ignore[no-untyped-def]
            return client.post(f"/api/auth/otp/{path}", headers=who, json=body)

        wrong = post("setup", {"password": "Not-the-password-1"})
        assert wrong.status_code == 422 and "密码不正确" in wrong.json()["detail"]
        assert post("enable", {"code": "123456"}).status_code == 409  # nothing set up
        setup = post("setup", {"password": DEMO_PASSWORD})
        assert setup.status_code == 200, setup.text
        secret = setup.json()["secret"]
        assert setup.json()["uri"].endswith("&algorithm=SHA1&digits=6&period=30")
        assert setup.json()["qr_svg"].startswith("<svg")
        assert client.get("/api/auth/me", headers=me).json()["otp_enabled"] is False
        bad = post("enable", {"code": _wrong(secret)})
        assert bad.status_code == 422 and "动态口令不正确" in bad.json()["detail"]
        assert post("enable", {"code": _code(secret)}).status_code == 200
        assert client.get("/api/auth/me", headers=me).json()["otp_enabled"] is True
        assert client.get("/api/auth/me", headers=elsewhere).status_code == 401  # ended
        stored = app_db.execute(
            text("SELECT totp_secret, totp_pending FROM app_user WHERE username = :u"),
            {"u": "township_operator"},
        ).one()
        assert stored[1] is None and secret.encode() not in bytes(stored[0])

        def log_in(otp: str | None = None):  # type: ignore[no-untyped-def]
            body = {"username": "township_operator", "password": DEMO_PASSWORD}
            return client.post("/api/auth/login", json=body | ({"otp": otp} if otp else {}))

        asked = log_in()
        assert asked.status_code == 401 and asked.json()["code"] == "otp_required"
        assert "动态口令" in asked.json()["detail"]
        failures = "SELECT failed_logins FROM app_user WHERE username = 'township_operator'"
        assert app_db.execute(text(failures)).scalar_one() == 0  # (nothing was tried)
        # a wrong password is asked for its code all the same: it is not told apart
        guessed = client.post(
            "/api/auth/login",
            json={"username": "township_operator", "password": "Guessed-password-1"},
        )
        assert (guessed.status_code, guessed.json()) == (asked.status_code, asked.json())
        assert app_db.execute(text(failures)).scalar_one() == 0
        # the step after the last one used (enabling used this one's)
        used = _code(secret, 1)
        assert log_in(used).status_code == 200
        replayed = log_in(used)  # the same code again: refused, and counted
        assert replayed.status_code == 401 and "已用过" in replayed.json()["detail"]
        assert app_db.execute(text(failures)).scalar_one() == 1
        # a wrong password with the right code: the same answer as a wrong code, counted too
        right_code = client.post(
            "/api/auth/login",
            json={
                "username": "township_operator",
                "password": "Guessed-password-1",
                "otp": _code(secret, 2),
            },
        )
        assert (right_code.status_code, right_code.json()) == (401, replayed.json())
        assert app_db.execute(text(failures)).scalar_one() == 2
        # the known password does not open unlimited tries at the code: five lock the account
        answers = [log_in(_wrong(secret)).status_code for _ in range(3)]
        assert answers[-1] == 423 and log_in(_code(secret, 1)).status_code == 423
        reasons = app_db.execute(
            text("""SELECT detail->>'reason' FROM audit_log WHERE action = 'login'
                    AND username = 'township_operator' AND NOT success ORDER BY id""")
        ).scalars()
        assert list(reasons) == ["otp_required"] * 2 + ["wrong_otp", "wrong_password"] + [
            "wrong_otp"
        ] * 2 + ["locked_now", "locked"]
        client.post("/api/users/township_operator/unlock", headers=login_as("admin"))
        # turning it off takes the password and a code now
        off = {"password": DEMO_PASSWORD, "code": _wrong(secret)}
        assert post("disable", off).status_code == 422
        assert post("disable", off | {"code": used}).status_code == 422  # used already
        # (each wrong code counted, as at a login: the password opens no unlimited tries here)
        assert app_db.execute(text(failures)).scalar_one() == 2
        wrong_code = post("disable", off)
        assert wrong_code.json()["errors"][0]["field"] == "code"
        # an administrator resets it (a lost phone): its sessions end, the password alone logs in
        page = client.get("/users", headers=login_as("admin") | {"Accept": "text/html"}).text
        assert 'data-act="otp/reset" data-user="township_operator"' in page
        # never one's own (an administrator's second factor is not reset on their word)
        boss = login_as("admin")
        key = post("setup", {"password": DEMO_PASSWORD}, boss).json()["secret"]
        assert post("enable", {"code": _code(key)}, boss).status_code == 200
        own = client.post("/api/users/admin/otp/reset", headers=boss)
        assert own.status_code == 409 and "不能重置自己的动态口令" in own.json()["detail"]
        reset = client.post("/api/users/township_operator/otp/reset", headers=login_as("admin"))
        assert reset.status_code == 200 and reset.json()["otp_enabled"] is False
        assert client.get("/api/auth/me", headers=me).status_code == 401
        assert log_in().status_code == 200
        actions = app_db.execute(
            text("""SELECT action FROM audit_log WHERE object = 'user:township_operator'
                    AND action LIKE 'user.otp%' ORDER BY id""")
        ).scalars()
        assert list(actions) == ["user.otp_enable", "user.otp_reset"]


def test_recovery_codes_log_in_once_each_without_the_phone(
    settings: Settings, app_db: Session, login_as: Headers
) -> None:
    """备用验证码: ten come with 动态口令, shown once, stored as keyed digests.  Each logs in
    once in the code's place (spaces, dashes or full-width digits as typed); a used or unknown
    one is a failed login.  The login says how many are left and 我的账号 warns when few are;
    a new set (the password and a code) ends the old one, and a reset ends them all."""
    with app_with(settings, app_db) as client:
        me = _token(client, "township_operator", DEMO_PASSWORD)
        secret = client.post(
            "/api/auth/otp/setup", headers=me, json={"password": DEMO_PASSWORD}
        ).json()["secret"]
        enabled = client.post("/api/auth/otp/enable", headers=me, json={"code": _code(secret)})
        codes = enabled.json()["recovery_codes"]
        assert len(codes) == len(set(codes)) == totp.RECOVERY_COUNT
        assert all(re.fullmatch(r"\d{4}-\d{4}-\d{4}", c) for c in codes), codes
        stored = app_db.execute(
            text("SELECT totp_recovery FROM app_user WHERE username = 'township_operator'")
        ).scalar_one()
        digits = [c.replace("-", "") for c in codes]
        assert len(stored) == 10 and not any(d.encode() in bytes(b) for b in stored for d in digits)
        assert client.get("/api/auth/me", headers=me).json()["otp_recovery_left"] == 10

        def log_in(otp: str):  # type: ignore[no-untyped-def]
            body = {"username": "township_operator", "password": DEMO_PASSWORD, "otp": otp}
            return client.post("/api/auth/login", json=body)

        first = log_in(codes[0])
        assert first.status_code == 200 and first.json()["otp_recovery_left"] == 9
        assert log_in(_code(secret, 1)).json()["otp_recovery_left"] is None  # the app's code
        # as a phone types it: spaces for dashes, full-width digits
        spaced = log_in(
            " ".join(codes[1].split("-")).translate({c: c + 0xFEE0 for c in range(48, 58)})
        )
        assert spaced.status_code == 200 and spaced.json()["otp_recovery_left"] == 8
        used = log_in(codes[0])
        assert used.status_code == 401 and "备用验证码已用过" in used.json()["detail"]
        assert log_in("1234-5678-9012").status_code == 401  # (one in 10^12 to be a code)
        failures = "SELECT failed_logins FROM app_user WHERE username = 'township_operator'"
        assert app_db.execute(text(failures)).scalar_one() == 2  # each a failure that counts
        # with a wrong password, an unused code: the same answer, and the code is not used up
        guessed = client.post(
            "/api/auth/login",
            json={"username": "township_operator", "password": "Guessed-1", "otp": codes[2]},
        )
        assert (guessed.status_code, guessed.json()) == (401, used.json())
        assert app_db.execute(text(failures)).scalar_one() == 3
        detail = app_db.execute(
            text("""SELECT detail FROM audit_log WHERE action = 'login' AND success
                    AND username = 'township_operator' ORDER BY id DESC LIMIT 1""")
        ).scalar_one()
        assert detail == {"otp": "recovery", "recovery_left": 8}
        # a recovery code of one account is none of another's
        other = login_as("admin")
        key = client.post(
            "/api/auth/otp/setup", headers=other, json={"password": DEMO_PASSWORD}
        ).json()["secret"]
        theirs = client.post("/api/auth/otp/enable", headers=other, json={"code": _code(key)})
        assert log_in(theirs.json()["recovery_codes"][0]).status_code == 401
        # 我的账号: how many are left; the login's own notice; few left: a new set asked for
        html = {"Accept": "text/html"}
        page = client.get("/account", headers=me | html).text
        assert "备用验证码：剩余 8 个" in page and 'id="otp-recovery-low"' not in page
        assert (
            "您刚用备用验证码登录，还剩 8 个"
            in client.get("/account?via=recovery", headers=me | html).text
        )
        for code in codes[2:7]:
            assert log_in(code).status_code == 200
        assert "备用验证码只剩 3 个，请重新生成" in client.get("/account", headers=me | html).text
        # a new set: the password and a code (here a recovery code, which goes with the old set)
        renew = {"password": DEMO_PASSWORD, "code": codes[7]}
        wrong = client.post(
            "/api/auth/otp/recovery-codes", headers=me, json=renew | {"password": "Not-it-2026"}
        )
        # (a wrong password with a code: not told from a wrong code, as at a login)
        assert wrong.status_code == 422 and "密码或备用验证码不正确" in wrong.json()["detail"]
        fresh = client.post("/api/auth/otp/recovery-codes", headers=me, json=renew)
        assert fresh.status_code == 200, fresh.text
        new = fresh.json()["recovery_codes"]
        assert len(new) == 10 and not set(new) & set(codes)
        assert log_in(codes[8]).status_code == 401  # the old set ended
        assert log_in(new[0]).json()["otp_recovery_left"] == 9
        # turning it off takes a recovery code too; without 动态口令 there is no set to renew
        off = {"password": DEMO_PASSWORD, "code": new[1]}
        assert client.post("/api/auth/otp/disable", headers=me, json=off).status_code == 204
        assert client.get("/api/auth/me", headers=me).json()["otp_recovery_left"] is None
        none = client.post("/api/auth/otp/recovery-codes", headers=me, json=off)
        assert none.status_code == 409
        stored = app_db.execute(
            text("SELECT totp_recovery FROM app_user WHERE username = 'township_operator'")
        ).scalar_one()
        assert stored is None
        actions = app_db.execute(
            text("""SELECT action FROM audit_log WHERE object = 'user:township_operator'
                    AND action LIKE 'user.otp_%' ORDER BY id""")
        ).scalars()
        assert list(actions) == ["user.otp_enable", "user.otp_recovery", "user.otp_disable"]


def test_a_role_may_be_made_to_log_in_with_a_one_time_code(
    settings: Settings, app_db: Session
) -> None:
    """WANGGE_OTP_ROLES: an account of such a role without 动态口令 logs in, and may only set it
    up (403 elsewhere; the pages lead to 我的账号); once set up it works as before, and it
    cannot be turned off.  Other roles are not asked."""
    html = {"Accept": "text/html"}
    with app_with(settings, app_db, otp_roles="operator,planner") as client:
        r = client.post(
            "/api/auth/login", json={"username": "village_operator", "password": DEMO_PASSWORD}
        )
        assert r.status_code == 200 and r.json()["otp_setup_required"] is True
        assert r.json()["home"] == "/account"
        me = {"Authorization": f"Bearer {r.json()['access_token']}"}
        refused = client.get("/api/queue", headers=me)
        assert refused.status_code == 403 and refused.json()["code"] == "otp_setup_required"
        assert client.get("/queue", headers=me | html, follow_redirects=False).status_code == 303
        page = client.get("/account", headers=me | html).text
        assert "您的角色须使用动态口令登录" in page and 'id="otp-setup"' in page
        secret = client.post(
            "/api/auth/otp/setup", headers=me, json={"password": DEMO_PASSWORD}
        ).json()["secret"]
        assert client.post(
            "/api/auth/otp/enable", headers=me, json={"code": _code(secret)}
        ).status_code == 200  # fmt: skip
        assert client.get("/api/queue", headers=me).status_code == 200
        page = client.get("/account", headers=me | html).text
        assert "不能关闭" in page and 'id="otp-off"' not in page
        off = {"password": DEMO_PASSWORD, "code": _code(secret, 1)}
        assert client.post("/api/auth/otp/disable", headers=me, json=off).status_code == 409
        grid = client.post(
            "/api/auth/login", json={"username": "grid_worker", "password": DEMO_PASSWORD}
        )
        assert grid.json()["otp_setup_required"] is False and grid.json()["home"] == "/m/"
    with pytest.raises(ValueError, match="unknown role"):
        Settings(otp_roles="operator,chief")
