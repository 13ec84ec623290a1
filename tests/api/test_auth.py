"""Logins, sessions, passwords, personal data and the audit trail."""

from __future__ import annotations

import html
import io
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import get_args
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from api.deps import SESSION_COOKIE
from api.schemas import DispatchResponseIn, DuplicateDecisionIn
from gis.auth import _token_hash, check_credentials, device_name
from gis.embedded import find_bindir
from gis.errors import InvalidInput, NotAuthenticated
from gis.passwords import check_password_policy, hash_password
from gis.permissions import Role
from gis.pii import mask_id_card, mask_name, mask_phone, validate_id_card
from gis.settings import Settings
from gis.users import add_user
from gis.workflow import MOVES
from importers.demo import DemoCity
from importers.demo_users import DEMO_PASSWORD
from maps.pages import AUDIT_ACTIONS, AUDIT_ACTIONS_EN, audit_detail
from tests.conftest import app_with, report_body

# word boundaries on both sides: folium's random hex element ids may hold 11 digits in a row
MOBILE = re.compile(r"(?<![0-9A-Za-z_.])1[3-9][0-9]{9}(?![0-9A-Za-z_])")
ID_CARD = re.compile(r"(?<![\dA-Za-z.])\d{17}[\dX](?![\dA-Za-z])")


def login(client: TestClient, username: str, password: str = DEMO_PASSWORD):  # type: ignore[no-untyped-def]
    return client.post("/api/auth/login", json={"username": username, "password": password})


# -- login, logout, sessions -----------------------------------------------------------------


def test_login_returns_a_bearer_token_and_a_cookie(anon_client: TestClient) -> None:
    r = login(anon_client, "township_operator")
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer" and len(body["access_token"]) >= 40
    assert r.cookies.get(SESSION_COOKIE) == body["access_token"]
    assert "httponly" in r.headers["set-cookie"].lower()
    assert "samesite=strict" in r.headers["set-cookie"].lower()
    me = anon_client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.json()["role"] == "operator" and me.json()["region_name"]


def test_a_user_name_typed_on_a_phone_keyboard(anon_client: TestClient) -> None:
    """A space after the name (a keyboard's suggestion) or full-width letters (a Chinese input
    method in full-width mode) is the same user name; the password is as typed."""
    for typed in ("grid_worker ", "ｇｒｉｄ＿ｗｏｒｋｅｒ"):
        r = anon_client.post("/api/auth/login", json={"username": typed, "password": DEMO_PASSWORD})
        assert r.status_code == 200, typed
    # a phone keyboard capitalises the first letter: the same account, named as it is spelt
    r = anon_client.post(
        "/api/auth/login", json={"username": "Grid_Worker", "password": DEMO_PASSWORD}
    )
    assert r.status_code == 200, r.text
    me = anon_client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"}
    )
    assert me.json()["username"] == "grid_worker", me.text
    # … and the login page asks the keyboard not to (nor to correct the name's spelling)
    field = re.search(r'<input name="username"[^>]*>', anon_client.get("/login").text)
    assert field and 'autocapitalize="none"' in field[0] and 'spellcheck="false"' in field[0]
    wide = "".join(chr(ord(c) + 0xFEE0) for c in DEMO_PASSWORD)
    assert (
        anon_client.post(
            "/api/auth/login", json={"username": "grid_worker", "password": wide}
        ).status_code
        == 401
    )


def test_accounts_that_differ_only_in_case_keep_their_spelling(
    db: Session, settings: Settings
) -> None:
    """Two accounts made before names were matched regardless of case (t_twin and T_TWIN): each
    is reached by its exact spelling; a third spelling is neither (it would be a guess).  (A
    database holding such accounts got migration 0088's index without UNIQUE; one that did
    not refuses a second, even two made at the same moment.)"""
    uid = add_user(db, "t_twin", Role.operator, "Twin#Lower2026", region_code="990102")
    twin = text("""INSERT INTO app_user (username, role, region_id, password_hash)
                   SELECT 'T_TWIN', role, region_id, :hash FROM app_user WHERE id = :id""")
    twin_of = {"hash": hash_password("Twin#Upper2026"), "id": uid}
    with pytest.raises(IntegrityError, match="app_user_username_lower"), db.begin_nested():
        db.execute(twin, twin_of)
    db.execute(  # as 0088 left a database that had such accounts (rolled back with the test)
        text("""DROP INDEX app_user_username_lower;
                CREATE INDEX app_user_username_lower ON app_user (lower(username))""")
    )
    db.execute(twin, twin_of)
    for typed, password in (("t_twin", "Twin#Lower2026"), ("T_TWIN", "Twin#Upper2026")):
        assert check_credentials(db, typed, password, settings)["username"] == typed
        with pytest.raises(NotAuthenticated):  # the other account's password
            check_credentials(db, typed.swapcase(), password, settings)
    with pytest.raises(NotAuthenticated):
        check_credentials(db, "T_twin", "Twin#Lower2026", settings)


def test_login_says_where_each_user_starts(anon_client: TestClient) -> None:
    """A grid worker starts on the phone page, everyone else on the map; the login page without
    ``next`` follows that, with ``next`` goes back where the user was sent from."""
    users = ("grid_worker", "township_operator", "city_commander", "district_planner", "admin")
    homes = {u: login(anon_client, u).json()["home"] for u in users}
    assert homes == {
        "grid_worker": "/m/",
        "township_operator": "/",
        "city_commander": "/",
        "district_planner": "/",
        "admin": "/",
    }
    assert 'data-next=""' in anon_client.get("/login").text
    assert 'data-next="/maps/command"' in anon_client.get("/login?next=/maps/command").text


def test_a_login_goes_on_to_the_page_asked_for_only_if_the_user_may_open_it(
    anon_client: TestClient,
) -> None:
    """``next`` (where the login page was sent from) is followed when the user's role may open
    that page, else the user starts on their own first page: a planner sent to the in-tray's
    address (a bookmark, a colleague's link) does not land on a refusal."""

    def goes(user: str, asked: str) -> str | None:
        body = {"username": user, "password": DEMO_PASSWORD, "next": asked}
        r = anon_client.post("/api/auth/login", json=body)
        assert r.status_code == 200, r.text
        return r.json()["next"]

    assert goes("township_operator", "/queue?status=overdue") == "/queue?status=overdue"
    assert goes("district_planner", "/queue") is None  # the in-tray is the desks'
    assert goes("district_planner", "/maps/planner?village=x") == "/maps/planner?village=x"
    assert goes("township_operator", "/users") is None
    assert goes("admin", "/users") == "/users"
    assert goes("grid_worker", "/m/") == "/m/"
    assert goes("grid_worker", "/audit") is None
    assert goes("city_commander", "/cases/ANY-CODE") == "/cases/ANY-CODE"  # (its own 404)
    assert goes("admin", "/no-such-page") is None
    assert goes("grid_worker", "/docs") == "/docs"  # the API's documentation: anyone's
    assert goes("admin", "/find?q=" + "纠" * 3000) is None  # too long to follow: logged in
    for elsewhere in ("//evil.example/", "https://evil.example/", "/\t/evil.example"):
        assert goes("admin", elsewhere) is None, elsewhere
    assert login(anon_client, "admin").json()["next"] is None  # none asked for


def test_a_refusal_says_in_words_what_the_role_may_not_do(anon_client: TestClient) -> None:
    """A 403 for a missing permission names the role and the act in the user's language (not a
    permission's code, jargon to a grid worker); the code is in the answer for a program."""
    token = login(anon_client, "district_planner").json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    r = anon_client.get("/api/queue", headers=headers)
    assert r.status_code == 403
    assert r.json()["detail"] == (
        "您的角色（网格规划员）无权办理案件（受理、分派、办结等）。如工作需要，请联系系统管理员。"
    )
    assert r.json()["permission"] == "case:handle"
    r = anon_client.get("/api/queue", headers=headers | {"Accept-Language": "en"})
    assert r.json()["detail"].startswith("Your role (grid planner) may not handle cases")
    page = anon_client.get("/queue", headers=headers | {"Accept": "text/html"})
    assert page.status_code == 403 and "无权办理案件" in page.text
    assert "case:handle" not in page.text


def test_wrong_password_and_unknown_user_get_the_same_answer(anon_client: TestClient) -> None:
    a = login(anon_client, "township_operator", "Not-The-Password1")
    b = login(anon_client, "nobody_here", "Not-The-Password1")
    assert a.status_code == b.status_code == 401
    assert a.json()["detail"] == b.json()["detail"] == "用户名或密码错误。"


def test_logout_revokes_the_token(anon_client: TestClient) -> None:
    token = login(anon_client, "city_commander").json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert anon_client.get("/api/cases?limit=1", headers=headers).status_code == 200
    out = anon_client.post("/api/auth/logout", headers=headers)
    assert out.status_code == 204
    assert out.headers["clear-site-data"] == '"cache"'  # (the photos a browser kept, gone)
    r = anon_client.get("/api/cases?limit=1", headers=headers)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    # the phone page's: its offline store is not put at risk (some browsers count it as cache)
    token = login(anon_client, "grid_worker").json()["access_token"]
    out = anon_client.post(
        "/api/auth/logout?keep_offline=true", headers={"Authorization": f"Bearer {token}"}
    )
    assert out.status_code == 204 and "clear-site-data" not in out.headers


def test_the_pages_logout_form_ends_the_session(anon_client: TestClient, app_db: Session) -> None:
    """The 退出登录 of the plain pages (queue, case, daily report …) posts a form to /logout:
    the session ends, its cookie goes, and the browser lands on the login page."""
    token = login(anon_client, "city_operator").json()["access_token"]
    assert anon_client.cookies.get(SESSION_COOKIE) == token
    assert anon_client.get("/queue").status_code == 200  # by the cookie
    # a form on another site posting here ends nothing
    forged = anon_client.post(
        "/logout", headers={"Sec-Fetch-Site": "cross-site"}, follow_redirects=False
    )
    assert forged.status_code == 303 and "set-cookie" not in forged.headers
    assert "clear-site-data" not in forged.headers
    assert anon_client.get("/api/auth/me").status_code == 200
    r = anon_client.post(
        "/logout", headers={"Sec-Fetch-Site": "same-origin"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert r.headers["clear-site-data"] == '"cache"'
    assert f'{SESSION_COOKIE}=""' in r.headers["set-cookie"]  # deleted
    assert anon_client.cookies.get(SESSION_COOKIE) is None
    gone = anon_client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert gone.status_code == 401
    audited = app_db.execute(
        text("SELECT username FROM audit_log WHERE action = 'logout' ORDER BY id DESC LIMIT 1")
    ).scalar_one()
    assert audited == "city_operator"
    # pressed again (the page was open in two tabs), or with a session long expired: the login
    # page all the same, never an error
    for cookie in (token, "not-a-session", None):
        anon_client.cookies.clear()
        if cookie:
            anon_client.cookies.set(SESSION_COOKIE, cookie)
        again = anon_client.post("/logout", follow_redirects=False)
        assert again.status_code == 303 and again.headers["location"] == "/login"


def test_the_login_page_says_whose_session_this_browser_holds(anon_client: TestClient) -> None:
    """On a shared desk, the login page of a browser still logged in says as whom, with the way
    in and that a login switches accounts; anonymous, or with an ended session, only the form."""
    assert 'class="wg-signed-in"' not in anon_client.get("/login").text
    login(anon_client, "township_operator")
    page = anon_client.get("/login").text
    said = re.search(r'<p class="wg-signed-in" role="status">(.*?)</p>', page)
    assert said, page
    assert said.group(1).startswith("此浏览器已登录：")
    assert '<a href="/">进入系统</a>' in said.group(1)
    assert "在下方登录即换成另一账号" in said.group(1)
    english = anon_client.get("/login?lang=en").text
    assert "This browser is logged in as" in english and '<a href="/">Go in</a>' in english
    login(anon_client, "grid_worker")  # (a grid worker goes in to the phone page)
    assert '<a href="/m/">进入系统</a>' in anon_client.get("/login?lang=zh").text
    anon_client.post("/logout", follow_redirects=False)
    assert 'class="wg-signed-in"' not in anon_client.get("/login").text
    anon_client.cookies.set(SESSION_COOKIE, "not-a-session")
    assert 'class="wg-signed-in"' not in anon_client.get("/login").text


def test_a_login_over_another_ends_the_session_it_replaces(
    anon_client: TestClient, app_db: Session
) -> None:
    """Switching accounts in one browser (a shared desk) ends the session whose cookie the new
    login replaces — audited as its logout — where it stayed in force for its idle half hour.  A
    login refused ends nothing, nor the same account's again, nor a bearer client's (no
    cookie)."""
    first = login(anon_client, "township_operator").json()["access_token"]
    mine = {"Authorization": f"Bearer {first}"}
    assert login(anon_client, "city_operator", "wrong").status_code == 401
    assert anon_client.get("/api/auth/me", headers=mine).status_code == 200  # (refused: kept)
    second = login(anon_client, "city_operator").json()["access_token"]
    assert anon_client.get("/api/auth/me", headers=mine).status_code == 401  # ended
    theirs = {"Authorization": f"Bearer {second}"}
    assert anon_client.get("/api/auth/me", headers=theirs).json()["username"] == "city_operator"
    ended = app_db.execute(
        text("SELECT username FROM audit_log WHERE action = 'logout' ORDER BY id DESC LIMIT 1")
    ).scalar_one()
    assert ended == "township_operator"
    login(anon_client, "city_operator")  # the same account again (a second tab): kept
    assert anon_client.get("/api/auth/me", headers=theirs).status_code == 200
    anon_client.cookies.clear()  # a program with its own token logs in again: nothing ends
    third = login(anon_client, "township_operator").json()["access_token"]
    assert anon_client.get("/api/auth/me", headers=theirs).status_code == 200
    assert third != second


def test_five_failures_lock_the_account(settings: Settings, app_db: Session) -> None:
    with app_with(settings, app_db, lockout_minutes=0.02) as client:
        for _ in range(4):
            assert login(client, "village_operator", "Wrong-Password-1").status_code == 401
        fifth = login(client, "village_operator", "Wrong-Password-1")
        assert fifth.status_code == 423 and "锁定" in fifth.json()["detail"]
        locked = login(client, "village_operator")  # even the right password is refused now
        assert locked.status_code == 423
        time.sleep(1.3)  # 0.02 min
        assert login(client, "village_operator").status_code == 200


def test_many_wrong_passwords_from_one_address_pause_its_logins(
    settings: Settings, app_db: Session
) -> None:
    """A password tried against many names stays under each account's lockout: the failures of
    one address, over all accounts and unknown names, pause that address's logins (429 with
    Retry-After) until the oldest is a window old.  Other addresses log in meanwhile; refused
    attempts check no password and do not count, nor do a locked account's refusals."""
    busy, other = "203.0.113.7", "198.51.100.20"
    app_db.execute(  # earlier failures of the address: one outside the window, one in it
        text("""INSERT INTO audit_log (at, username, action, success, source_ip, detail)
                SELECT clock_timestamp() - make_interval(mins => m), 'x', 'login', false,
                       CAST(:ip AS inet), jsonb_build_object('reason', r)
                FROM (VALUES (12, 'wrong_password'), (9, 'wrong_password'), (1, 'locked'))
                     AS t (m, r)"""),
        {"ip": busy},
    )
    limits = {"login_address_max_failures": 4, "login_address_window_minutes": 10}
    with (
        app_with(settings, app_db, address=busy, **limits) as attacker,
        app_with(settings, app_db, address=other, **limits) as office,
    ):
        assert login(attacker, "township_operator", "Spray-Password-1").status_code == 401
        assert login(attacker, "nobody_here", "Spray-Password-1").status_code == 401
        assert login(attacker, "village_operator", "Spray-Password-1").status_code == 401
        refused = login(attacker, "city_operator")  # the right password: not even checked
        assert refused.status_code == 429 and refused.json()["code"] == "too_many_attempts"
        assert "此网络地址 10 分钟内登录失败已达 4 次" in refused.json()["detail"]
        assert re.search("请 [12] 分钟后再试", refused.json()["detail"])
        # the oldest counted failure (9 minutes ago) is 10 minutes old in a minute
        assert 55 <= int(refused.headers["retry-after"]) <= 62
        english = attacker.post(
            "/api/auth/login",
            json={"username": "city_operator", "password": DEMO_PASSWORD},
            headers={"Accept-Language": "en"},
        )
        assert english.status_code == 429 and "network address" in english.json()["detail"]
        assert login(office, "city_operator").status_code == 200  # another address is not held
    reasons = app_db.execute(
        text("""SELECT detail->>'reason' FROM audit_log
                WHERE action = 'login' AND source_ip = CAST(:ip AS inet) AND username <> 'x'
                ORDER BY id"""),
        {"ip": busy},
    ).scalars()
    assert (
        list(reasons)
        == ["wrong_password", "unknown_user", "wrong_password"] + ["address_limited"] * 2
    )
    # 9 minutes old is out of a window of 8.9: three failures count, not the refusals
    limits["login_address_window_minutes"] = 8.9
    with app_with(settings, app_db, address=busy, **limits) as attacker:
        assert login(attacker, "city_operator").status_code == 200
        assert login(attacker, "township_operator", "Spray-Password-1").status_code == 401
        assert login(attacker, "township_operator").status_code == 429
    with app_with(settings, app_db, address=busy, login_address_max_failures=0) as client:
        assert login(client, "city_operator").status_code == 200  # 0: off


def test_sessions_expire(settings: Settings, app_db: Session) -> None:
    with app_with(settings, app_db, session_hours=0.0003) as client:  # ~1 s
        token = login(client, "city_operator").json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/auth/me", headers=headers).status_code == 200
        time.sleep(1.3)
        assert client.get("/api/auth/me", headers=headers).status_code == 401


def test_sessions_that_ended_long_ago_are_forgotten_at_the_next_login(
    settings: Settings, app_db: Session
) -> None:
    """WANGGE_SESSION_KEEP_DAYS: a login deletes the account's sessions that ended (logged out,
    else expired) over that many days ago; recent and running ones, and other accounts', stay.
    0 keeps them all."""
    sessions = """INSERT INTO auth_session (token_hash, user_id, created_at, last_seen_at,
                                            expires_at, revoked_at, user_agent)
        SELECT sha256(convert_to(random()::text, 'UTF8')), u.id,
               now() - make_interval(days => s.age),
               now() - make_interval(days => s.age), now() - make_interval(days => s.ends),
               now() - make_interval(days => s.revoked), 'purge-test'
        FROM app_user u, (VALUES (300, 299, NULL), (200, 100, 190), (30, 29, NULL),
                                 (2, -1, 1), (1, -1, NULL)) AS s(age, ends, revoked)
        WHERE u.username IN ('city_operator', 'township_operator')"""
    app_db.execute(text(sessions))
    # (the test's own sessions: earlier tests may have left others)
    ages = text("""SELECT u.username, array_agg(round(extract(epoch FROM now() - s.created_at)
                                                      / 86400)::int ORDER BY s.created_at)
                   FROM auth_session s JOIN app_user u ON u.id = s.user_id
                   WHERE s.user_agent = 'purge-test' GROUP BY 1 ORDER BY 1""")
    everything = [("city_operator", [300, 200, 30, 2, 1]),
                  ("township_operator", [300, 200, 30, 2, 1])]  # fmt: skip
    with app_with(settings, app_db, session_keep_days=0) as client:
        assert login(client, "city_operator").status_code == 200
        assert app_db.execute(ages).all() == everything
    with app_with(settings, app_db, session_keep_days=180) as client:
        assert login(client, "city_operator").status_code == 200
        # gone: ended 299 days ago, and revoked 190 days ago (though it ran until 100 days ago)
        assert app_db.execute(ages).all() == [("city_operator", [30, 2, 1]), everything[1]]


def test_a_command_centers_wall_screen_stays_logged_in_for_days(
    settings: Settings, app_db: Session
) -> None:
    """A 指挥中心 account (read-only) is what a wall screen (大屏) is logged in as: its session
    lasts ``command_session_hours`` (a week by default), not ``session_hours``, so the screen
    does not fall to the login page twice a day.  Every other role keeps ``session_hours``."""
    assert Settings().command_session_hours == 168
    with app_with(settings, app_db, session_hours=0.0003, command_session_hours=2) as client:
        screen = login(client, "city_commander")
        assert screen.status_code == 200 and screen.json()["expires_in"] == 7200
        assert "Max-Age=7200" in screen.headers["set-cookie"]
        client.cookies.clear()  # (the desk's own computer: a login over the screen's ends it)
        desk = login(client, "city_operator")
        assert desk.json()["expires_in"] == 1  # (0.0003 h)
        stored = app_db.execute(
            text("""SELECT u.username, round(extract(epoch FROM s.expires_at - s.created_at))
                    FROM auth_session s JOIN app_user u ON u.id = s.user_id
                    ORDER BY s.id DESC LIMIT 2""")
        ).all()
        assert sorted(map(tuple, stored)) == [("city_commander", 7200), ("city_operator", 1)]
        time.sleep(1.3)
        for r, alive in ((screen, 200), (desk, 401)):
            token = r.json()["access_token"]
            me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == alive, me.text


#: a wall screen's browser (Chromium on Linux), and a phone's WeChat
WALL_SCREEN = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
PHONE_WECHAT = (
    "Mozilla/5.0 (Linux; Android 13; V2219A) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/111.0 Mobile Safari/537.36 MicroMessenger/8.0.44 NetType/4G Language/zh_CN"
)


def test_a_sessions_device_is_named_as_a_person_names_it() -> None:
    iphone = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
    )
    edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0 Safari/537.36 Edg/120.0"
    assert device_name(WALL_SCREEN) == "电脑 · Chrome"
    assert device_name(PHONE_WECHAT) == "手机 · 微信"
    assert device_name(PHONE_WECHAT, "en") == "phone · WeChat"
    assert device_name(iphone) == "手机 · Safari"
    assert device_name(edge, "en") == "computer · Edge"
    assert device_name("curl/8.4.0") == "电脑"
    assert device_name(None) == device_name("") == "—"


def test_a_user_sees_where_they_are_logged_in_and_ends_a_session_elsewhere(
    anon_client: TestClient, app_db: Session
) -> None:
    """我的登录: the wall screen and the office are both logged in as the command center's
    account; from the office, the account page lists both (this one marked) and ends the
    screen's, which stops working at once.  Another user's session is not one's to end."""

    def login_from(agent: str) -> str:
        r = anon_client.post(
            "/api/auth/login",
            json={"username": "city_commander", "password": DEMO_PASSWORD},
            headers={"User-Agent": agent},
        )
        return str(r.json()["access_token"])

    screen = login_from(WALL_SCREEN)
    office = login_from(PHONE_WECHAT)
    anon_client.cookies.clear()  # (another user's computer: a login over this one's would end it)
    other = login(anon_client, "city_operator").json()["access_token"]
    headers = {"Authorization": f"Bearer {office}"}
    listed = anon_client.get("/api/auth/sessions", headers=headers)
    assert listed.status_code == 200, listed.text
    mine = listed.json()
    assert len(mine) >= 2 and sum(s["current"] for s in mine) == 1
    ids = {s["id"] for s in mine}
    screen_id, office_id, other_id = (
        app_db.execute(text("SELECT id FROM auth_session WHERE token_hash = :h"), {"h": h}).scalar()
        for h in (_token_hash(screen), _token_hash(office), _token_hash(other))
    )
    assert {screen_id, office_id} <= ids and other_id not in ids
    assert next(s for s in mine if s["current"])["id"] == office_id
    devices = {s["id"]: s["device"] for s in mine}
    assert (devices[screen_id], devices[office_id]) == ("电脑 · Chrome", "手机 · 微信")
    page = anon_client.get("/account?lang=zh", headers=headers).text
    assert "我的登录" in page and "本设备" in page
    assert f'class="wg-end-session" data-session="{screen_id}"' in page
    assert f'data-session="{office_id}">' in page  # (its row; no button: it is this one)

    r = anon_client.delete(f"/api/auth/sessions/{other_id}", headers=headers)
    assert r.status_code == 404 and "有效登录" in r.json()["detail"]
    assert anon_client.delete(f"/api/auth/sessions/{screen_id}", headers=headers).status_code == 204
    assert (
        anon_client.get("/api/auth/me", headers={"Authorization": f"Bearer {screen}"}).status_code
        == 401
    )
    assert anon_client.get("/api/auth/me", headers=headers).status_code == 200
    assert (
        anon_client.get("/api/auth/me", headers={"Authorization": f"Bearer {other}"}).status_code
        == 200
    )
    again = anon_client.delete(f"/api/auth/sessions/{screen_id}", headers=headers)
    assert again.status_code == 404
    assert screen_id not in {
        s["id"] for s in anon_client.get("/api/auth/sessions", headers=headers).json()
    }
    detail = app_db.execute(
        text("""SELECT username, detail FROM audit_log WHERE action = 'session.end'
                ORDER BY id DESC LIMIT 1""")
    ).one()
    assert tuple(detail) == ("city_commander", {"session": screen_id, "own": False})
    other_login = login(anon_client, "city_commander").json()["access_token"]
    assert other_login and "End it" in anon_client.get("/account?lang=en", headers=headers).text


def test_idle_sessions_time_out(settings: Settings, app_db: Session) -> None:
    with app_with(settings, app_db, session_idle_minutes=0.015) as client:  # ~0.9 s
        token = login(client, "city_operator").json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/auth/me", headers=headers).status_code == 200
        time.sleep(1.2)
        r = client.get("/api/auth/me", headers=headers)
        assert r.status_code == 401 and "未操作" in r.json()["detail"]


def test_a_pages_own_checks_keep_no_session_alive(anon_client: TestClient, app_db: Session) -> None:
    """The in-tray checks its list every minute by itself (``X-Wangge-Background: 1``): that is
    not the operator's doing, so a desk left open still times out when nobody uses it; what
    the operator does moves the idle clock as before."""
    token = login(anon_client, "township_operator").json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    mine = {"id": app_db.execute(text("SELECT max(id) FROM auth_session")).scalar_one()}
    ago = text("UPDATE auth_session SET last_seen_at = now() - interval '10 min' WHERE id = :id")
    idle = text("SELECT now() - last_seen_at > interval '9 min' FROM auth_session WHERE id = :id")
    app_db.execute(ago, mine)
    app_db.commit()  # (to the test's savepoint)
    background = headers | {"X-Wangge-Background": "1"}
    assert anon_client.get("/api/queue?limit=1", headers=background).status_code == 200
    assert app_db.execute(idle, mine).scalar_one()  # still idle for 10 minutes
    assert anon_client.get("/api/queue?limit=1", headers=headers).status_code == 200
    assert not app_db.execute(idle, mine).scalar_one()  # the operator's own request


def test_the_cookie_opens_the_map(anon_client: TestClient) -> None:
    assert login(anon_client, "district_operator").status_code == 200  # the client keeps the cookie
    r = anon_client.get("/", headers={"Accept": "text/html"})
    assert r.status_code == 200 and "城中区" in r.text


def test_default_idle_timeout_is_30_minutes() -> None:
    assert Settings().session_idle_minutes == 30
    assert Settings().login_max_failures == 5 and Settings().lockout_minutes == 10


@pytest.mark.parametrize(
    "password",
    [
        "short1A!",
        "alllowercaseletters",
        "Password@123",
        "Admin@123456",
        "Qwer@1234",
        "wangge_ops_Pw1!",
    ],
)
def test_weak_passwords_are_refused(password: str) -> None:
    with pytest.raises(InvalidInput):
        check_password_policy("wangge_ops", password)


def test_a_strong_password_passes() -> None:
    check_password_policy("someone", "Lanterns-over-7-bridges")


# -- personal data ---------------------------------------------------------------------------


def test_masks() -> None:
    assert mask_name("李小明") == "李*明" and mask_name("李明") == "李*"
    assert mask_name("欧阳小明") == "欧**明"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_id_card("44190019900101123X") == "4419**********123X"


def test_id_card_check_character() -> None:
    assert validate_id_card("11010519491231002x") == "11010519491231002X"
    with pytest.raises(InvalidInput, match="校验位"):
        validate_id_card("110105194912310021")


def resident_names(city: DemoCity) -> set[str]:
    """Residents' names — less those a grid worker (staff, shown by name) happens to share."""
    workers = {w.name for w in city.workers}
    return {p[1] for c in city.cases for p in c.parties} - workers


PARTIES = [
    {
        "role": "applicant",
        "name": "王小红",
        "phone": "13912345678",
        "id_card": "11010519491231002X",
    },
    {"role": "respondent", "name": "赵大力", "phone": "+86 137 0000 1111"},
]


def _report_with_parties(client: TestClient, headers: dict, lon: float, lat: float) -> str:
    r = client.post(
        "/api/reports",
        headers=headers,
        json={
            "kind": "dispute",
            "category": "neighbour",
            # (numbers typed into the text too: masked in every answer, as the parties')
            "description": "两户漏水纠纷，王小红（139 1234 5678，身份证11010519491231002X）反映",
            "location": {"lon": lon, "lat": lat, "datum": "wgs84"},
            "reported_at": "2026-11-20T09:30:00+08:00",
            "parties": PARTIES,
        },
    )
    assert r.status_code == 201, r.text
    parties = r.json()["parties"]
    assert parties[0] == {
        "role": "applicant",
        "role_name": "申请人",
        "name": "王*红",
        "phone": "139****5678",
        "id_card": "1101**********002X",
        "masked": True,
        "erased_at": None,
    }
    assert parties[1]["phone"] == "137****1111"
    return str(r.json()["code"])


@pytest.fixture
def point_a(demo_city: DemoCity) -> tuple[float, float]:
    """A point in township_operator's street (the first district's first street)."""
    grid = next(g for g in demo_city.grids if g.code.startswith("990102001"))
    p = grid.geom.representative_point()
    return p.x, p.y


def test_bad_party_data_is_422(client: TestClient, point_a: tuple) -> None:
    body = {
        "kind": "dispute",
        "category": "neighbour",
        "description": "x",
        "location": {"lon": point_a[0], "lat": point_a[1], "datum": "wgs84"},
        "reported_at": "2026-11-20T09:30:00+08:00",
    }
    for party, words in (
        ({"phone": "12345"}, "电话"),
        ({"id_card": "110105194912310021"}, "校验"),
        ({"role": "party"}, "姓名"),
    ):
        r = client.post("/api/reports", json=body | {"parties": [party]})
        assert r.status_code == 422 and words in r.json()["detail"], r.text


def test_unmasked_view_needs_pii_read_and_is_audited(
    anon_client: TestClient, login_as: Callable, point_a: tuple, app_db: Session
) -> None:
    operator = login_as("township_operator")
    code = _report_with_parties(anon_client, operator, *point_a)
    masked = anon_client.get(f"/api/cases/{code}/parties", headers=operator).json()
    assert masked[0]["name"] == "王*红" and masked[0]["masked"] is True
    # the commander may read the case but not unmask
    r = anon_client.get(
        f"/api/cases/{code}/parties?unmask=true", headers=login_as("city_commander")
    )
    assert r.status_code == 403
    plain = anon_client.get(f"/api/cases/{code}/parties?unmask=true", headers=operator).json()
    assert plain[0] == {
        "role": "applicant",
        "role_name": "申请人",
        "name": "王小红",
        "phone": "13912345678",
        "id_card": "11010519491231002X",
        "masked": False,
        "erased_at": None,
    }
    assert plain[1]["phone"] == "13700001111"  # normalised
    page = anon_client.get(f"/cases/{code}", headers=operator).text
    assert "<tr><td>申请人</td><td>王*红</td>" in page  # the role in Chinese, the name masked
    english = anon_client.get(f"/cases/{code}?lang=en", headers=operator).text
    assert "<tr><td>Applicant</td><td>王*红</td>" in english  # a name stays as written
    assert "data-roles=" in english and "&quot;applicant&quot;: &quot;Applicant&quot;" in english
    row = app_db.execute(
        text("SELECT username, success FROM audit_log WHERE action = 'pii.view' AND object = :o"),
        {"o": f"case:{code}"},
    ).one()
    assert tuple(row) == ("township_operator", True)
    # the description's numbers: masked in the case, and as typed in the unmasked case (pii:read,
    # audited as a view of the case's personal data)
    described = anon_client.get(f"/api/cases/{code}", headers=operator).json()["description"]
    assert "139****5678" in described and "1101**********002X" in described
    assert 'id="unmask"' in page and "（139****5678，" in page
    refused = anon_client.get(f"/api/cases/{code}?unmask=true", headers=login_as("city_commander"))
    assert refused.status_code == 403
    whole = anon_client.get(f"/api/cases/{code}?unmask=true", headers=operator).json()
    assert "139 1234 5678" in whole["description"] and "11010519491231002X" in whole["description"]
    assert whole["parties"][0]["name"] == "王小红" and whole["parties"][0]["masked"] is False
    views = (
        app_db.execute(
            text("""SELECT detail FROM audit_log WHERE action = 'pii.view' AND object = :o
                ORDER BY id"""),
            {"o": f"case:{code}"},
        )
        .scalars()
        .all()
    )
    assert views[-1] == {"parties": 2, "description": True}
    # and in a note of the case's history (a desk's call): masked, unmasked the same way
    noted = anon_client.post(
        f"/api/cases/{code}/notes", headers=operator, json={"note": "已电话联系 13700001111"}
    )
    assert noted.status_code == 201, noted.text
    notes = [e["note"] for e in noted.json()["events"] if e["action"] == "note"]
    assert notes == ["已电话联系 137****1111"]
    page = anon_client.get(f"/cases/{code}", headers=operator).text
    assert "已电话联系 137****1111</span>" in page and "data-unmask-event=" in page
    whole = anon_client.get(f"/api/cases/{code}?unmask=true", headers=operator).json()
    notes = [e["note"] for e in whole["events"] if e["action"] == "note"]
    assert notes == ["已电话联系 13700001111"]


def _plain_report(client: TestClient, headers: dict, lon: float, lat: float) -> dict:
    """A hazard reported without naming anyone."""
    body = report_body(lon, lat, kind="hazard", category="fire", description="楼道堆放杂物")
    r = client.post("/api/reports", headers=headers, json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_a_desk_names_a_person_to_a_case_later(
    anon_client: TestClient, login_as: Callable, point_a: tuple, app_db: Session
) -> None:
    """补充当事人: stored encrypted and shown masked like a report's own; the history says a
    party was added and in which role, never who; the resident's tracking page does not show
    it; the phone joins the repeat warning by resident; refusals are 4xx with the reason."""
    operator = login_as("township_operator")
    case = _plain_report(anon_client, operator, *point_a)
    code, token = case["code"], case["tracking_url"].rsplit("/", 1)[1]
    url = f"/api/cases/{code}/parties"
    version = anon_client.get(f"/api/cases/{code}", headers=operator).json()["version"]
    r = anon_client.post(
        url, headers=operator, json={"role": "applicant", "name": "赵大明", "phone": "13811112222"}
    )
    assert r.status_code == 201, r.text
    assert r.json() == [
        {
            "role": "applicant",
            "role_name": "申请人",
            "name": "赵*明",
            "phone": "138****2222",
            "id_card": None,
            "masked": True,
            "erased_at": None,
        }
    ]
    plain = anon_client.get(f"{url}?unmask=true", headers=operator).json()
    assert (plain[0]["name"], plain[0]["phone"]) == ("赵大明", "13811112222")
    detail = anon_client.get(f"/api/cases/{code}", headers=operator).json()
    added = detail["events"][-1]
    assert (added["action"], added["note"], added["data"]) == (
        "party_added", "申请人", {"role": "applicant"}
    )  # fmt: skip
    assert "赵" not in str(detail["events"]) and "1381111" not in str(detail["events"])
    assert detail["version"] == version  # not a move of the case
    page = anon_client.get(f"/cases/{code}", headers=operator).text
    assert "<b>补充当事人</b>" in page and 'id="party-form"' in page
    english = anon_client.get(f"/cases/{code}?lang=en", headers=operator).text
    assert "<b>Party added</b>" in english and "wg-note>Applicant<" in english
    anon_client.cookies.clear()  # (the English page is remembered for the next answers)
    tracking = anon_client.get(f"/t/{token}").text
    assert "补充当事人" not in tracking and "申请人" not in tracking
    audit = app_db.execute(
        text("SELECT detail FROM audit_log WHERE action = 'case.party_add' AND object = :o"),
        {"o": f"case:{code}"},
    ).scalar_one()
    assert audit == {"role": "applicant"}

    # the same phone in two more cases within 30 days: the third is a repeat (高频线索)
    for _ in range(2):
        other = _plain_report(anon_client, operator, *point_a)["code"]
        r = anon_client.post(
            f"/api/cases/{other}/parties", headers=operator, json={"phone": "138 1111 2222"}
        )
        assert r.status_code == 201, r.text
    flags = anon_client.get(f"/api/cases/{other}", headers=operator).json()["flags"]
    assert flags.get("repeat_resident") == 3

    # each refusal names the field at fault, for a client that marks the input (phone, not body)
    for body, words, field in (
        ({"phone": "12345"}, "phone（电话）格式不正确", "phone"),
        ({"id_card": "110105194912310021"}, "id_card（身份证号）校验位不正确", "id_card"),
        ({"role": "applicant"}, "至少需要姓名", "body"),
        ({"role": "judge", "name": "某"}, "role（", "role"),
    ):
        r = anon_client.post(url, headers=operator, json=body)
        assert r.status_code == 422 and r.json()["detail"].startswith(words), r.text
        assert r.json()["errors"][0]["field"] == field, r.text
    # a role that may not handle cases; a center with no say over this one; a case elsewhere
    assert (
        anon_client.post(url, headers=login_as("city_commander"), json={"name": "某"}).status_code
        == 403
    )
    assert (
        anon_client.post(url, headers=login_as("grid_worker"), json={"name": "某"}).status_code
        == 403
    )
    assert (
        anon_client.post(
            url, headers=login_as("township_operator_b"), json={"name": "某"}
        ).status_code
        == 404
    )
    missing = "/api/cases/99010226120599999999/parties"
    assert anon_client.post(missing, headers=operator, json={"name": "某"}).status_code == 404
    names = [{"name": f"某{i}"} for i in range(19)]
    for party in names:
        assert anon_client.post(url, headers=operator, json=party).status_code == 201
    r = anon_client.post(url, headers=operator, json={"name": "多一位"})
    assert r.status_code == 422 and "最多 20 名" in r.json()["detail"]


def test_lookup_by_phone_uses_the_blind_index(
    anon_client: TestClient, login_as: Callable, point_a: tuple, app_db: Session
) -> None:
    operator = login_as("township_operator")
    code = _report_with_parties(anon_client, operator, *point_a)
    lookups = text(
        "SELECT count(*) FROM audit_log WHERE action = 'pii.lookup'"
        " AND username = 'township_operator'"
    )
    before = app_db.execute(lookups).scalar()  # (a browser test's lookups are committed)
    fc = anon_client.get("/api/cases?party_phone=139-1234-5678", headers=operator).json()
    assert [f["id"] for f in fc["features"]] == [code]
    # the same number typed in full-width digits (a Chinese input method's full-width mode)
    wide = anon_client.get("/api/cases?party_phone=１３９１２３４５６７８", headers=operator).json()
    assert [f["id"] for f in wide["features"]] == [code]
    none = anon_client.get("/api/cases?party_phone=13912345679", headers=operator).json()
    assert none["features"] == []
    assert (
        anon_client.get(
            "/api/cases?party_phone=13912345678", headers=login_as("district_planner")
        ).status_code
        == 403
    )
    assert app_db.execute(lookups).scalar() == before + 3


@pytest.mark.parametrize(
    "username", ["city_commander", "district_planner", "grid_worker", "township_operator", "admin"]
)
def test_no_response_carries_unmasked_personal_data(
    username: str,
    anon_client: TestClient,
    login_as: Callable,
    point_a: tuple,
    demo_city: DemoCity,
) -> None:
    code = _report_with_parties(anon_client, login_as("township_operator"), *point_a)
    headers = login_as(username)
    demo_case = next(c for c in demo_city.cases if c.parties)
    paths = [
        "/api/cases?limit=50000",
        "/api/cases?mine=true",
        f"/api/cases/{code}",
        f"/api/cases/{code}/parties",
        "/api/grids",
        "/api/centers",
        "/api/regions",
        "/api/categories",
        "/api/auth/me",
        "/",
    ]
    plain = {"王小红", "赵大力"} | resident_names(demo_city)
    for path in paths:
        r = anon_client.get(path, headers=headers)
        assert r.status_code in (200, 404), path
        assert not MOBILE.search(r.text), f"{username} {path}: a phone number"
        assert not ID_CARD.search(r.text), f"{username} {path}: an ID-card number"
        named = [n for n in plain if f'"{n}"' in r.text]  # whole JSON strings only
        assert not named, f"{username} {path}: a resident's name"
    assert f'"{demo_case.parties[0][1]}"' not in r.text
    # the pages that show the description (they also show staff phones, for calling the grid
    # worker or the center: the resident's numbers are looked for)
    for path in (f"/cases/{code}", f"/cases/{code}/receipt", "/find?q=漏水&descriptions=true"):
        page = anon_client.get(path, headers=headers)
        if page.status_code == 200:
            for number in ("13912345678", "139 1234 5678", "11010519491231002X"):
                assert number not in page.text, f"{username} {path}: {number}"
        if username == "township_operator" and "receipt" not in path:  # (found and read)
            assert "139****5678" in page.text, path


def test_pg_dump_holds_no_personal_data_in_plain_text(
    database_url: str, demo_city: DemoCity, tmp_path: Path
) -> None:
    from sqlalchemy import make_url

    url = make_url(database_url)
    out = tmp_path / "dump.sql"
    result = subprocess.run(
        [
            str(find_bindir() / "pg_dump"),
            "-h",
            str(url.host),
            "-p",
            str(url.port),
            "-U",
            str(url.username),
            "-d",
            str(url.database),
            "-f",
            str(out),
        ],
        env={"PGPASSWORD": str(url.password), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    dump = out.read_text(encoding="utf-8")
    assert "COPY public.case_party" in dump
    parties = [p for c in demo_city.cases for p in c.parties]
    assert len(parties) > 100
    names = resident_names(demo_city)
    for _, name, phone, id_card in parties:
        assert phone not in dump and id_card not in dump
        if name in names:
            assert f"\t{name}\t" not in dump and f"'{name}'" not in dump


# -- audit -----------------------------------------------------------------------------------


def test_logins_writes_and_failures_are_audited(
    anon_client: TestClient, login_as: Callable, point_a: tuple, app_db: Session
) -> None:
    login(anon_client, "village_operator", "Wrong-Password-1")
    login(anon_client, "village_operator")
    code = _report_with_parties(anon_client, login_as("township_operator"), *point_a)
    rows = app_db.execute(
        text("SELECT action, success, username, object FROM audit_log ORDER BY id DESC LIMIT 3")
    ).all()
    assert [tuple(r) for r in rows] == [
        ("case.create", True, "township_operator", f"case:{code}"),
        ("login", True, "village_operator", None),
        ("login", False, "village_operator", None),
    ]
    # every action the code records has a name on the admin's page, in both languages (the
    # writes: case.create, in migrations' SQL; photo.add, by the photos' route; the closed
    # loop's moves, the departments' answers and the duplicate decisions, by their routes)
    recorded = {"login", "logout", "pii.view", "pii.lookup", "audit.read", "case.create"}
    recorded |= {"photo.add", "user.add", "user.update", "user.passwd", "user.disable"}
    recorded |= {"user.enable", "user.unlock", "case.export", "case.party_add", "data.import"}
    recorded |= {"user.logout", "session.end", "user.session_end", "pii.erase", "audit.export"}
    recorded |= {
        "user.otp",
        "user.otp_enable",
        "user.otp_disable",
        "user.otp_reset",
        "user.otp_recovery",
    }
    recorded |= {"case.note", "case.locate", "workers.export", "grids.export", "grid.workers"}
    recorded |= {f"grid.edit.{a}" for a in ("open", "commit", "discard")}
    recorded |= {f"case.{a}" for a in MOVES}
    recorded |= {
        f"dispatch.{a}" for a in get_args(DispatchResponseIn.model_fields["response"].annotation)
    }
    recorded |= {
        f"duplicate.{a}" for a in get_args(DuplicateDecisionIn.model_fields["decision"].annotation)
    }
    assert recorded <= set(AUDIT_ACTIONS) and recorded <= set(AUDIT_ACTIONS_EN)
    assert "case.accept" in recorded and "dispatch.cannot" in recorded
    page = anon_client.get("/audit?action=case.create", headers=login_as("admin")).text
    assert "登记案件" in page


def test_an_entrys_detail_is_said_in_words() -> None:
    """Recorded codes (a role, a team's parts, how it was done) in words; a user name is a
    name, even one that is also a role's code; a change as before → after."""
    assert audit_detail({"username": "admin", "role": "admin", "via": "web"}) == (
        "用户：admin；角色：系统管理员；途径：网页"
    )
    assert audit_detail({"changed": {"role": ["operator", "planner"]}}, "en") == (
        "changed: (role: center operator → grid planner)"
    )
    assert audit_detail({"roles": {"W1": "chief"}, "n": 2, "batch": False}) == (
        "现分工：（W1：网格长）；张数：2；离线批量上报：否"
    )


def test_the_trail_is_found_by_source_address_and_exported_to_excel(
    settings: Settings, app_db: Session, login_as: Callable
) -> None:
    """An inquiry into a burst of failed logins: the trail of one address or network, each
    failure's reason in words, and the same entries in a workbook (audited).  What an entry
    holds is anyone's text (a failed login's user name is what was typed): a cell beginning
    with = stays text, never a formula."""
    from openpyxl import load_workbook

    with app_with(settings, app_db, address="203.0.113.7") as outside:
        assert login(outside, '=HYPERLINK("http://x.example")', "Spray-1").status_code == 401
        assert login(outside, "village_operator", "Spray-Password-1").status_code == 401
    with app_with(settings, app_db, address="198.51.100.20") as office:
        assert login(office, "village_operator").status_code == 200
    with app_with(settings, app_db) as client:
        admin = login_as("admin")
        found = client.get("/api/audit?address=203.0.113.0/24", headers=admin).json()
        assert [(e["username"], e["detail"]["reason"]) for e in found["entries"]] == [
            ("village_operator", "wrong_password"),
            ('=HYPERLINK("http://x.example")', "unknown_user"),
        ]
        assert {e["source_ip"] for e in found["entries"]} == {"203.0.113.7"}
        one = client.get("/api/audit?address=198.51.100.20", headers=admin).json()
        assert [e["success"] for e in one["entries"]] == [True]
        bad = client.get("/api/audit?address=203.0.113.300", headers=admin)
        assert bad.status_code == 422 and "来源地址不是有效的 IP 地址或网段" in bad.json()["detail"]
        page = client.get("/audit?address=203.0.113.0/24&success=false", headers=admin).text
        assert "密码错误 (wrong_password)" in page and "无此用户 (unknown_user)" in page
        assert 'name="address" value="203.0.113.0/24"' in page
        link = re.search(r'<a href="([^"]+)" id="audit-export">导出 Excel</a>', page)
        assert link and "address=203.0.113.0%2F24" in link.group(1)
        r = client.get(html.unescape(link.group(1)), headers=admin)
        assert r.status_code == 200 and "审计日志" in unquote(r.headers["content-disposition"])
        ws = load_workbook(io.BytesIO(r.content)).active
        assert ws is not None
        rows = list(ws.iter_rows(min_row=2, values_only=True))
        assert rows[0] == ("时间", "用户", "操作", "操作代码", "对象", "结果", "来源地址", "详情")
        assert [(r[1], r[2], r[5], r[6], r[7]) for r in rows[1:]] == [
            ("village_operator", "登录", "失败", "203.0.113.7", "密码错误 (wrong_password)"),
            ('=HYPERLINK("http://x.example")', "登录", "失败", "203.0.113.7",
             "无此用户 (unknown_user)"),
        ]  # fmt: skip
        assert ws.cell(4, 2).data_type == "s"  # text, not a formula
        assert ws.auto_filter.ref == "A2:H4" and ws.freeze_panes == "B3"
        assert "共 2 条" in str(ws.cell(1, 1).value)
        english = client.get(f"{html.unescape(link.group(1))}&lang=en", headers=admin)
        ws = load_workbook(io.BytesIO(english.content)).active
        assert ws is not None and ws.cell(3, 8).value == "wrong password (wrong_password)"
        exported = client.get("/api/audit?action=audit.export&limit=1", headers=admin).json()
        assert exported["entries"][0]["detail"] == {
            "address": "203.0.113.0/24",
            "success": False,
            "entries": 2,
        }


def test_the_app_role_cannot_change_the_audit_log(app_db: Session) -> None:
    for statement in (
        "UPDATE audit_log SET success = NOT success",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ):
        with pytest.raises(DBAPIError, match="permission denied"), app_db.begin_nested():
            app_db.execute(text(statement))


def test_even_the_owner_cannot_change_the_audit_log(db: Session) -> None:
    db.execute(text("INSERT INTO audit_log (action, success) VALUES ('test', true)"))
    with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
        db.execute(text("UPDATE audit_log SET success = false"))


def test_the_admin_reads_the_audit_trail_and_the_reading_is_recorded(
    anon_client: TestClient, login_as: Callable
) -> None:
    admin = login_as("admin")
    assert login(anon_client, "township_operator", "Not-The-Password1").status_code == 401
    assert login(anon_client, "Township_Operator", "Not-The-Password2").status_code == 401
    r = anon_client.get("/api/audit?action=login&success=false", headers=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] >= 2 and body["entries"][0]["username"] == "Township_Operator"
    stamps = [e["at"] for e in body["entries"]]
    assert stamps == sorted(stamps, reverse=True)  # newest first
    # reading the trail is itself in the trail, with the filters used
    read = anon_client.get("/api/audit?action=audit.read&limit=1", headers=admin).json()
    assert read["entries"][0]["username"] == "admin"
    assert read["entries"][0]["detail"] == {"action": "login", "success": False}
    # a user's entries whatever the case the name was typed in (and asked for)
    typed = anon_client.get("/api/audit?action=login&username=TOWNSHIP_op", headers=admin).json()
    assert [e["username"] for e in typed["entries"][:2]] == [
        "Township_Operator", "township_operator"
    ], typed  # fmt: skip
    assert all(e["action"] == "login" and not e["success"] for e in body["entries"])
    # the page, as its filter form sends it (empty fields mean "any")
    form = "username=township&action=login&object=&success=false&start=&end="
    page = anon_client.get(f"/audit?{form}", headers=admin)
    assert page.status_code == 200 and 'id="audit-total"' in page.text
    cells = re.findall(
        r"<tr class=wg-overdue-row><td><span class=\"wg-day\">[^<]+</span> [^<]+</td>"
        r"<td>([^<]+)</td>",
        page.text,
    )
    assert cells and set(cells) == {"township_operator", "Township_Operator"}  # failures, marked
    assert '<option value="false" selected>失败</option>' in page.text  # the form keeps them
    english = anon_client.get(f"/audit?{form}&lang=en", headers=admin).text
    assert '<html lang="en">' in english and "<h1>Audit log</h1>" in english
    assert '<option value="false" selected>failed</option>' in english
    assert '<input type="hidden" name="lang" value="en">' in english  # filtering stays English
    # the admin's alone; a day that is not one is refused
    assert anon_client.get("/api/audit", headers=login_as("city_operator")).status_code == 403
    assert anon_client.get("/audit", headers=login_as("city_commander")).status_code == 403
    bad = anon_client.get("/api/audit?start=2026-02-30", headers=admin)
    assert bad.status_code == 422 and "start" in bad.json()["detail"]
