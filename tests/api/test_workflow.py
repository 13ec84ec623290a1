"""The closed loop: transitions, departments, working-time deadlines, the clock, ratings."""

from __future__ import annotations

import math
import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from html import unescape

import chinese_calendar
import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from api.schemas import ReportCreate
from gis.errors import Conflict
from gis.intake import submit_report
from gis.pii import PiiCipher
from gis.scope import Scope, bind_scope
from gis.settings import Settings
from gis.supervision import tick
from gis.workflow import MOVES, STATE_NAMES, ActionRequest, Actor, act, queue
from gis.worktime import SHANGHAI, add_work_hours, work_hours_between
from importers.demo import DemoCity
from tests.conftest import HANDLING_MISMATCH, STATE_COUNT_MISMATCH, app_with, report_body

Headers = Callable[[str], dict[str, str]]


@pytest.fixture
def point(demo_city: DemoCity) -> tuple[float, float]:
    """A point inside a grid of village 990102001001 (township 990102001)."""
    grid = next(g for g in demo_city.grids if g.code.startswith("990102001001"))
    p = grid.geom.representative_point()
    return p.x, p.y


def _report(client: TestClient, headers: dict, point: tuple, **extra: object) -> dict:
    r = client.post("/api/reports", headers=headers, json=report_body(*point, **extra))
    assert r.status_code == 201, r.text
    return r.json()


def _act(client: TestClient, headers: dict, code: str, action: str, **body: object) -> dict:
    r = client.post(f"/api/cases/{code}/actions", headers=headers, json={"action": action} | body)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_dispute_goes_round_the_whole_loop_with_a_department(
    anon_client: TestClient, login_as: Headers, point: tuple
) -> None:
    op = login_as("township_operator")
    case = _report(anon_client, op, point)
    code = case["code"]
    detail = anon_client.get(f"/api/cases/{code}", headers=op).json()
    assert detail["status"] == "registered" and detail["version"] == 1
    assert [e["action"] for e in detail["events"]] == ["register"]
    assert "accept" in detail["allowed_actions"]
    assert detail["allowed_hours"] == 8  # neighbour dispute, minor: one working day

    _act(anon_client, op, code, "accept", note="已受理")
    d = _act(anon_client, op, code, "dispatch")  # default department for neighbour: 司法所
    assert d["status"] == "dispatched"
    (dispatch,) = d["dispatches"]
    assert dispatch["kind"] == "judicial" and "司法所" in dispatch["department"]
    url = f"/api/cases/{code}/dispatches/{dispatch['id']}"
    pending = anon_client.get(f"/cases/{code}", headers=op).text
    r = anon_client.post(url, headers=op, json={"response": "accepted"})
    assert r.json()["status"] == "dispatched"
    # the case page offers the department's next answers: accepted, it is not accepted again
    # (the API refuses that answer), and its buttons stand apart
    answers = re.compile(r'<button type="button" class="wg-respond"[^>]*data-response="(\w+)"')
    assert answers.findall(pending) == ["accepted", "done", "cannot"]
    page = anon_client.get(f"/cases/{code}", headers=op).text
    assert answers.findall(page) == ["done", "cannot"]
    assert "</button> <button" in page
    assert anon_client.post(url, headers=op, json={"response": "accepted"}).status_code == 409
    r = anon_client.post(url, headers=op, json={"response": "done", "note": "调解成功"})
    assert r.json()["status"] == "resolved"  # every department done → resolved
    page = anon_client.get(f"/cases/{code}?lang=en", headers=op).text
    assert "Every department has finished" in page and "各部门已全部办结" not in page
    assert "调解成功" in page  # what people wrote stays as written
    again = anon_client.post(url, headers=op, json={"response": "done"})
    assert again.status_code == 409

    _act(anon_client, op, code, "verify", resolved=True, note="电话回访，群众满意")
    closed = _act(anon_client, op, code, "close")
    assert closed["status"] == "closed"
    actions = [e["action"] for e in closed["events"]]
    assert actions == [
        "register", "accept", "dispatch", "department_response", "department_response",
        "resolve", "verify", "close",
    ]  # fmt: skip
    assert closed["version"] == 6  # a department's answer is not a move of the case
    assert all(e["actor"] for e in closed["events"])
    # Who acted, by the name the desk knows them by, with their account beside it
    name = anon_client.get("/api/auth/me", headers=op).json()["display_name"]
    assert name and {e["actor_name"] for e in closed["events"]} == {name}
    page = anon_client.get(f"/cases/{code}", headers=op).text
    assert f"{name} <small class=wg-username>township_operator</small>" in page


def test_the_case_page_names_whom_to_call_in_its_grid(
    anon_client: TestClient, login_as: Headers, point: tuple, app_db: Session
) -> None:
    """The desk sends the grid's own worker to look: the case page names the grid workers
    (网格员) of the case's grid, each phone a link to call."""
    op = login_as("township_operator")
    case = _report(anon_client, op, point)
    workers = app_db.execute(
        text("""SELECT w.name, w.phone FROM worker_grid wg JOIN worker w ON w.id = wg.worker_id
                WHERE wg.grid_code = :g ORDER BY w.code"""),
        {"g": case["grid_code"]},
    ).all()
    assert workers  # (the demo city gives every grid its worker)
    page = anon_client.get(f"/cases/{case['code']}", headers=op).text
    row = re.search(r'<td id="case-workers">(.*?)</td>', page)
    assert row is not None
    for name, phone in workers:
        assert f'{name} <a href="tel:{phone}">{phone}</a>' in row.group(1)
    assert f'<a href="/maps/grid/{case["grid_code"]}">' in page  # the grid's own map
    grid_name = case["location"]["grid"]["name"]  # by its name, then its code
    code = case["grid_code"]  # … whose code opens the grid's record (网格档案)
    assert f'{grid_name}</a>（<a href="/grids/{code}" id="case-grid-record">{code}</a>）' in page
    english = anon_client.get(f"/cases/{case['code']}?lang=en", headers=op).text
    assert "<th>Grid workers</th>" in english


def test_a_handling_note_goes_into_the_history_not_onto_the_tracking_page(
    anon_client: TestClient, login_as: Headers, point: tuple
) -> None:
    """办理记录: the desk writes down a call made or a visit agreed; the case does not move, its
    history shows the note with who wrote it, and the resident's tracking page leaves it out."""
    op = login_as("township_operator")
    case = _report(anon_client, op, point)
    code, token = case["code"], case["tracking_url"].rsplit("/", 1)[1]
    before = anon_client.get(f"/api/cases/{code}", headers=op).json()
    url = f"/api/cases/{code}/notes"
    r = anon_client.post(url, headers=op, json={"note": "  已电话联系王女士，约定周三上门  "})
    assert r.status_code == 201, r.text
    after = r.json()
    assert (after["status"], after["version"]) == (before["status"], before["version"])
    last = after["events"][-1]
    assert (last["action"], last["note"], last["actor"]) == (
        "note", "已电话联系王女士，约定周三上门", "township_operator"
    )  # fmt: skip
    page = anon_client.get(f"/cases/{code}", headers=op).text
    assert "<b>办理记录</b>" in page and "约定周三上门" in page and 'id="note-form"' in page
    tracking = anon_client.get(f"/t/{token}").text
    assert "办理记录" not in tracking and "王女士" not in tracking
    for body in ({"note": "   "}, {"note": "x" * 2001}, {"note": "a\x00b"}, {}):
        assert anon_client.post(url, headers=op, json=body).status_code == 422, body
    commander = login_as("city_commander")
    assert anon_client.post(url, headers=commander, json={"note": "看看"}).status_code == 403
    assert 'id="note-form"' not in anon_client.get(f"/cases/{code}", headers=commander).text
    other = login_as("township_operator_b")
    assert anon_client.post(url, headers=other, json={"note": "越权"}).status_code == 404
    # the grid worker of the community, back from the spot (who does not handle cases)
    worker = login_as("grid_worker")
    assert 'id="note-form"' in anon_client.get(f"/cases/{code}", headers=worker).text
    r = anon_client.post(url, headers=worker, json={"note": "现场核查：楼道杂物已清理"})
    assert r.status_code == 201, r.text
    assert r.json()["events"][-1]["actor"] == "grid_worker"
    assert r.json()["status"] == before["status"]
    # sent again from the phone's queue (its answer lost): the same note, not written twice …
    again = anon_client.post(url, headers=worker, json={"note": "现场核查：楼道杂物已清理"})
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["events"] == r.json()["events"]
    # … but the same words from someone else, or once something else was written, are new
    desk_too = anon_client.post(url, headers=op, json={"note": "现场核查：楼道杂物已清理"})
    assert desk_too.status_code == 201 and "Idempotent-Replayed" not in desk_too.headers
    later = anon_client.post(url, headers=worker, json={"note": "现场核查：楼道杂物已清理"})
    assert later.status_code == 201
    assert len(later.json()["events"]) == len(r.json()["events"]) + 2


def test_a_hazard_handled_by_the_center_itself_and_escalated(
    anon_client: TestClient, login_as: Headers, point: tuple
) -> None:
    op = login_as("township_operator")
    case = _report(anon_client, op, point, kind="hazard", category="fire")
    code = case["code"]
    detail = anon_client.get(f"/api/cases/{code}", headers=op).json()
    assert detail["allowed_hours"] == 4  # fire: four working hours
    _act(anon_client, op, code, "accept")
    before_up = _act(anon_client, op, code, "start")
    # the village station's case: its desk handles it, the township above approves extensions
    # and suspensions (the village's desk is not offered them: they were refused)
    village = login_as("village_operator")
    own = anon_client.get(f"/api/cases/{code}", headers=village).json()
    assert {"extend", "suspend"} <= set(own["allowed_actions"])
    assert own["your_actions"] == [
        a for a in own["allowed_actions"] if a not in ("extend", "suspend")
    ]
    page = anon_client.get(f"/cases/{code}", headers=village).text
    assert 'data-action="resolve"' in page and 'data-action="extend"' not in page
    above = anon_client.get(f"/api/cases/{code}", headers=op).json()
    assert above["your_actions"] == above["allowed_actions"]
    up = _act(anon_client, op, code, "escalate", note="需街道统一协调")
    assert up["status"] == "escalated"
    assert up["events"][-1]["data"]["to_region"] == "990102001"  # the township's center
    # the village's own desk is no longer responsible …
    r = anon_client.post(f"/api/cases/{code}/actions", headers=village, json={"action": "accept"})
    assert r.status_code == 403
    # … and is told so before it tries: no action of its own, its case page no buttons (each
    # was refused) but whose the case is now
    seen = anon_client.get(f"/api/cases/{code}", headers=village).json()
    assert "accept" in seen["allowed_actions"] and seen["your_actions"] == []
    page = anon_client.get(f"/cases/{code}", headers=village).text
    assert 'class="wg-action"' not in page
    assert f"本案目前由{up['responsible_center']}负责，您可以查看，不能办理" in page
    # the township's own now: every move the state allows
    mine = anon_client.get(f"/api/cases/{code}", headers=op).json()
    assert mine["your_actions"] == mine["allowed_actions"]  # (escalated: none an approval)
    page = anon_client.get(f"/cases/{code}", headers=op).text
    assert 'class="wg-action" data-action="accept"' in page
    # a command center's role reads only: no action is its own
    watcher = anon_client.get(f"/api/cases/{code}", headers=login_as("city_commander")).json()
    assert watcher["allowed_actions"] and watcher["your_actions"] == []
    # the township sends it back: down to the village it came from, not further up
    back = _act(anon_client, op, code, "return", note="请村里先行处置")
    assert back["status"] == "returned"
    assert back["events"][-1]["data"]["to_region"] == "990102001001"
    assert back["responsible_center"] == before_up["responsible_center"]
    up = _act(anon_client, op, code, "escalate", note="村里无法处置")
    assert up["events"][-1]["data"]["to_region"] == "990102001"
    # … the township is
    _act(anon_client, op, code, "accept")
    _act(anon_client, op, code, "start")
    _act(anon_client, op, code, "resolve", note="已整改")
    _act(anon_client, op, code, "verify", resolved=True)
    assert _act(anon_client, op, code, "close")["status"] == "closed"


def test_every_illegal_move_is_409_naming_the_state_and_the_allowed_actions(
    anon_client: TestClient, login_as: Headers, point: tuple
) -> None:
    op = login_as("township_operator")
    code = _report(anon_client, op, point)["code"]
    for action, move in MOVES.items():
        if "registered" in move.sources:
            continue
        r = anon_client.post(
            f"/api/cases/{code}/actions", headers=op, json={"action": action, "note": "理由"}
        )
        assert r.status_code == 409, (action, r.text)
        body = r.json()
        assert body["current_status"] == "registered"
        assert set(body["allowed_actions"]) == {
            a for a, m in MOVES.items() if "registered" in m.sources
        }
        assert "已登记" in body["detail"]
    bad = anon_client.post(f"/api/cases/{code}/actions", headers=op, json={"action": "fold"})
    assert bad.status_code == 422
    no_reason = anon_client.post(
        f"/api/cases/{code}/actions", headers=op, json={"action": "return"}
    )
    assert no_reason.status_code == 422 and "理由" in no_reason.json()["detail"]
    stale = anon_client.post(
        f"/api/cases/{code}/actions", headers=op, json={"action": "accept", "version": 99}
    )
    assert stale.status_code == 409 and stale.json()["current_version"] == 1


@pytest.mark.parametrize("state", sorted(STATE_NAMES))
def test_every_action_not_allowed_from_a_state_is_409(
    anon_client: TestClient, login_as: Headers, point: tuple, app_db: Session, state: str
) -> None:
    op = login_as("township_operator")
    code = _report(anon_client, op, point)["code"]
    app_db.execute(
        text("UPDATE cases SET status = :s, status_before_pause = 'accepted' WHERE code = :c"),
        {"s": state, "c": code},
    )
    app_db.commit()  # (to the test's savepoint)
    for action, move in MOVES.items():
        if state in move.sources:
            continue
        r = anon_client.post(
            f"/api/cases/{code}/actions", headers=op, json={"action": action, "note": "理由"}
        )
        assert r.status_code == 409, (state, action, r.text)
        assert r.json()["current_status"] == state
        assert r.json()["allowed_actions"] == [a for a, m in MOVES.items() if state in m.sources]


def test_roles_and_jurisdiction(anon_client: TestClient, login_as: Headers, point: tuple) -> None:
    op = login_as("township_operator")
    code = _report(anon_client, op, point)["code"]
    for user, expected in (
        ("grid_worker", 403),  # reports, does not handle
        ("city_commander", 403),  # watches
        ("township_operator_b", 404),  # another township: the case does not exist for them
    ):
        r = anon_client.post(
            f"/api/cases/{code}/actions", headers=login_as(user), json={"action": "accept"}
        )
        assert r.status_code == expected, (user, r.text)
    _act(anon_client, op, code, "accept")
    # extending needs the center above the responsible one: the village desk may not
    r = anon_client.post(
        f"/api/cases/{code}/actions",
        headers=login_as("village_operator"),
        json={"action": "extend", "note": "需要鉴定", "extra_hours": 16},
    )
    assert r.status_code == 403
    before = anon_client.get(f"/api/cases/{code}", headers=op).json()["deadline"]
    after = _act(anon_client, op, code, "extend", note="需要鉴定", extra_hours=16)
    assert after["deadline"] > before and after["allowed_hours"] == 24


def test_a_new_deadline_without_offset_is_beijing_time(
    anon_client: TestClient, login_as: Headers, point: tuple, app_db: Session
) -> None:
    """A desk's form sends the new deadline as a local time ("2026-12-10T16:00"): the deadline
    is then 16:00 in Beijing, not 16:00 UTC (midnight past in Beijing)."""
    op = login_as("township_operator")
    code = _report(anon_client, op, point)["code"]
    _act(anon_client, op, code, "accept")
    before = datetime.fromisoformat(
        anon_client.get(f"/api/cases/{code}", headers=op).json()["deadline"]
    )
    wanted = add_work_hours(app_db, before, 20)  # within working hours, on a working day
    local = wanted.astimezone(SHANGHAI).replace(tzinfo=None).isoformat()
    after = _act(anon_client, op, code, "extend", note="需要鉴定", new_deadline=local)
    assert datetime.fromisoformat(after["deadline"]) == wanted
    later = add_work_hours(app_db, wanted, 4)
    again = _act(anon_client, op, code, "extend", note="再延", new_deadline=later.isoformat())
    assert datetime.fromisoformat(again["deadline"]) == later  # with an offset: as it says


def test_an_extension_goes_at_most_a_year_and_never_past_the_calendar(
    anon_client: TestClient, login_as: Headers, point: tuple, app_db: Session
) -> None:
    """延期 by a new deadline years away (a typo: 2099 for 2026) was taken as it came — up to
    the working calendar's last day; past it the working hours between were NULL and the
    desk got a 500.  One extension adds at most 2,000 working hours, whichever way it is
    asked, and the refusal says how far this case's deadline may go; a case imported open
    without a deadline has none to extend."""
    op = login_as("township_operator")
    code = _report(anon_client, op, point)["code"]
    _act(anon_client, op, code, "accept")
    before = anon_client.get(f"/api/cases/{code}", headers=op).json()["deadline"]
    limit = add_work_hours(app_db, datetime.fromisoformat(before), 2000).astimezone(SHANGHAI)
    for asked in (
        {"new_deadline": "2099-01-01T10:00:00+08:00"},  # past the calendar
        {"new_deadline": (limit + timedelta(days=7)).isoformat()},  # within it, too far
        {"extra_hours": 2001},
        {"new_deadline": "2026-01-05T10:00:00+08:00"},  # before the deadline it has
    ):
        r = anon_client.post(
            f"/api/cases/{code}/actions",
            headers=op,
            json={"action": "extend", "note": "需要鉴定"} | asked,
        )
        assert r.status_code == 422, (asked, r.text)
        field = next(iter(asked))
        assert r.json()["errors"][0]["field"] == field, r.text
        if field == "new_deadline" and not asked[field].startswith("2026-01"):
            assert r.json()["detail"] == (
                "一次延期最多增加 2000 个工作小时（约一年），"
                f"本案最晚可延至 {limit:%Y-%m-%d %H:%M}。"
            )
    assert anon_client.get(f"/api/cases/{code}", headers=op).json()["deadline"] == before
    after = _act(anon_client, op, code, "extend", note="需要鉴定", new_deadline=limit.isoformat())
    assert datetime.fromisoformat(after["deadline"]) == limit
    app_db.execute(
        text(
            "UPDATE cases SET deadline = NULL, remind_at = NULL, notice_at = NULL WHERE code = :c"
        ),
        {"c": code},
    )
    app_db.commit()  # (to the test's savepoint)
    r = anon_client.post(
        f"/api/cases/{code}/actions",
        headers=op,
        json={"action": "extend", "note": "需要鉴定", "extra_hours": 8},
    )
    assert r.status_code == 422 and r.json()["detail"] == "本案没有办理时限，无需延期。", r.text


def test_an_extension_that_leaves_the_case_overdue_is_refused(
    anon_client: TestClient, login_as: Headers, point: tuple, app_db: Session
) -> None:
    """A case overdue by days given 8 hours more stayed overdue (and was escalated at once):
    the desk meant to give time.  Refused, saying how many working hours would do."""
    op = login_as("township_operator")
    code = _report(anon_client, op, point)["code"]
    _act(anon_client, op, code, "accept")
    due, now, behind = app_db.execute(
        text("""UPDATE cases SET deadline = now() - interval '5 days' WHERE code = :c
                RETURNING deadline, now(), wangge_work_hours(deadline, now())"""),
        {"c": code},
    ).one()
    app_db.commit()  # (to the test's savepoint)
    assert behind > 8
    shown = add_work_hours(app_db, due, 8).astimezone(SHANGHAI)
    more = math.ceil(behind * 10 - 1e-9) / 10
    for asked, field in (
        ({"extra_hours": 8}, "extra_hours"),
        ({"new_deadline": shown.isoformat()}, "new_deadline"),
    ):
        r = anon_client.post(
            f"/api/cases/{code}/actions", headers=op,
            json={"action": "extend", "note": "需要鉴定"} | asked,
        )  # fmt: skip
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == field, r.text
        assert r.json()["detail"] == (
            f"延期后的期限 {shown:%Y-%m-%d %H:%M} 早于现在，本案仍会超期：请增加多于 {more:g} 个"
            "工作小时，或给出晚于现在的新期限。"
        ), r.text
    after = _act(anon_client, op, code, "extend", note="需要鉴定", extra_hours=more + 0.1)
    assert datetime.fromisoformat(after["deadline"]) > now


def test_transfer_and_return(anon_client: TestClient, login_as: Headers, point: tuple) -> None:
    op = login_as("township_operator")
    code = _report(anon_client, op, point)["code"]
    r = anon_client.post(
        f"/api/cases/{code}/actions",
        headers=op,
        json={"action": "transfer", "note": "属邻村", "to_region": "990102001"},
    )
    assert r.status_code == 422  # a village's case goes to another village, not up
    sibling = _act(anon_client, op, code, "transfer", note="属邻村", to_region="990102001002")
    assert sibling["status"] == "transferred"
    assert sibling["responsible_center"] and "990102001002" not in sibling["responsible_center"]
    back = _act(anon_client, op, code, "return", note="不属本村")
    assert back["status"] == "returned"
    assert back["events"][-1]["data"]["to_region"] == "990102001"


def test_two_operators_at_once_one_wins(
    app_engine: Engine, cipher: PiiCipher, point: tuple, committed_cases_removed: None
) -> None:
    # two sessions must both see the case: it is reported and committed (removed after the
    # module), not taken from the demo city, whose registered cases other modules may move on
    scope = Scope(region_id=None)
    with Session(app_engine) as session:
        bind_scope(session, scope)
        user_id = session.execute(
            text("SELECT id FROM app_user WHERE username = 'township_operator'")
        ).scalar_one()
        report = ReportCreate.model_validate(report_body(*point))
        code = submit_report(
            session,
            scope,
            user_id,
            uuid.uuid4(),
            report.to_domain("township_operator", "operator"),
            report.content(),
            cipher,
        ).case.code
        session.commit()
    with Session(app_engine) as first, Session(app_engine) as second:
        bind_scope(first, scope)
        bind_scope(second, scope)
        act(first, Actor("op1", scope, True), code, ActionRequest("accept", version=None))
        outcome: dict[str, object] = {}

        def other() -> None:
            try:
                act(second, Actor("op2", scope, True), code, ActionRequest("accept"))
                second.commit()
                outcome["second"] = "won"
            except Conflict as e:
                second.rollback()
                outcome["second"] = e

        thread = threading.Thread(target=other)
        thread.start()
        time.sleep(0.5)  # the second waits on the first's row lock
        first.commit()
        thread.join(10)
    assert isinstance(outcome["second"], Conflict)
    assert outcome["second"].status == 409


# -- working time ---------------------------------------------------------------------------


def test_deadlines_follow_the_official_calendar(app_db: Session) -> None:
    # National Day 2026: 1–7 October off; Saturday 10 October is a make-up working day.
    assert not chinese_calendar.is_workday(datetime(2026, 10, 5).date())
    assert chinese_calendar.is_workday(datetime(2026, 10, 10).date())
    start = datetime(2026, 9, 30, 17, 0, tzinfo=SHANGHAI)
    assert add_work_hours(app_db, start, 1) == datetime(2026, 9, 30, 18, 0, tzinfo=SHANGHAI)
    # 1 h on the 30th, then the holiday, then 8 h on Thu 8th and Fri 9th, then Saturday the 10th
    assert add_work_hours(app_db, start, 2) == datetime(2026, 10, 8, 9, 30, tzinfo=SHANGHAI)
    assert add_work_hours(app_db, start, 24) == datetime(2026, 10, 10, 17, 0, tzinfo=SHANGHAI)
    end = datetime(2026, 10, 10, 17, 0, tzinfo=SHANGHAI)
    assert work_hours_between(app_db, start, end) == pytest.approx(24)
    # four working hours from Friday 16:00: two on Friday, then Monday morning (lunch excluded)
    friday = datetime(2026, 11, 20, 16, 0, tzinfo=SHANGHAI)
    assert add_work_hours(app_db, friday, 4) == datetime(2026, 11, 23, 10, 30, tzinfo=SHANGHAI)
    assert add_work_hours(app_db, datetime(2026, 11, 23, 11, 0, tzinfo=SHANGHAI), 2) == datetime(
        2026, 11, 23, 14, 30, tzinfo=SHANGHAI
    )
    # a deadline ending exactly at a day's end is that evening, not the next morning
    assert add_work_hours(app_db, datetime(2026, 11, 23, 8, 0, tzinfo=SHANGHAI), 8) == datetime(
        2026, 11, 23, 18, 0, tzinfo=SHANGHAI
    )
    source = app_db.execute(
        text("SELECT source FROM work_calendar WHERE day = '2026-10-10'")
    ).scalar_one()
    assert source == "chinese_calendar"


def test_the_case_page_tells_the_clock(
    anon_client: TestClient, login_as: Headers, point: tuple, app_db: Session
) -> None:
    """Beside its deadline, the case page says what the in-tray says: the working hours left,
    or 已超期 in red; nothing once the clock stops (suspended, settled)."""
    op = login_as("township_operator") | {"Accept": "text/html"}
    code = _report(anon_client, op, point)["code"]

    def deadline(lang: str = "zh") -> str:
        page = anon_client.get(f"/cases/{code}?lang={lang}", headers=op).text
        return page.split('<td id="case-deadline">')[1].split("</td>")[0]

    assert re.search(r" 剩 \d+\.\d 工作小时（工作时间 8\.0 小时", deadline()), deadline()
    assert re.search(r" \d+\.\d working hours left \(8\.0 working hours", deadline("en"))
    app_db.execute(
        text("UPDATE cases SET deadline = now() - interval '1 minute' WHERE code = :c"),
        {"c": code},
    )
    app_db.commit()  # (to the test's savepoint)
    assert ' <span class="wg-overdue">已超期</span>（' in deadline()
    assert ' <span class="wg-overdue">overdue</span> (' in deadline("en")
    _act(anon_client, op, code, "accept")
    _act(anon_client, op, code, "suspend", note="当事人外出务工，待其返乡")
    assert "已超期" not in deadline() and "剩" not in deadline() and "办结" not in deadline()
    # settled: when, and whether by the deadline (the roll-up's 按期办结)
    _act(anon_client, op, code, "resume")
    _act(anon_client, op, code, "start")
    _act(anon_client, op, code, "resolve", note="双方达成谅解")
    assert re.search(r' · <span class="wg-overdue">[-\d]+ \d\d:\d\d 办结，超期</span>（',
                     deadline()), deadline()  # fmt: skip
    assert ", late</span> (" in deadline("en")
    app_db.execute(
        text("UPDATE cases SET deadline = now() + interval '1 day' WHERE code = :c"), {"c": code}
    )
    app_db.commit()
    assert re.search(r" · [-\d]+ \d\d:\d\d 办结，按期（", deadline()), deadline()


def test_suspension_pauses_the_clock(
    anon_client: TestClient, login_as: Headers, point: tuple, db: Session, app_db: Session
) -> None:
    op = login_as("township_operator")
    code = _report(anon_client, op, point)["code"]
    _act(anon_client, op, code, "accept")
    suspended = _act(anon_client, op, code, "suspend", note="当事人外出务工，待其返乡")
    assert suspended["status"] == "suspended"
    # the suspension began three calendar days ago (the clock is the database's: move it back)
    app_db.execute(
        text("UPDATE cases SET paused_at = now() - interval '3 days' WHERE code = :c"), {"c": code}
    )
    app_db.commit()  # (to the test's savepoint)
    before = app_db.execute(
        text("""SELECT deadline, wangge_work_hours(now() - interval '3 days', now()) AS paused
                FROM cases WHERE code = :c"""),
        {"c": code},
    ).one()
    resumed = _act(anon_client, op, code, "resume")
    assert resumed["status"] == "accepted"  # back where it was
    moved = work_hours_between(app_db, before.deadline, datetime.fromisoformat(resumed["deadline"]))
    assert moved == pytest.approx(before.paused, abs=1e-6) and moved > 0
    # suspended cases are not chased by the clock
    assert "resume" not in resumed["allowed_actions"]


# -- the clock ------------------------------------------------------------------------------


def test_the_clock_reminds_supervises_escalates_and_notifies_once(
    anon_client: TestClient, login_as: Headers, point: tuple, app_db: Session
) -> None:
    op = login_as("township_operator")
    code = _report(anon_client, op, point, kind="hazard", category="fire")["code"]
    row = app_db.execute(
        text("SELECT id, remind_at, deadline, notice_at, center_id FROM cases WHERE code = :c"),
        {"c": code},
    ).one()
    bind_scope(app_db, Scope.everything())

    def stages() -> list[str]:
        return list(
            app_db.execute(
                text(
                    "SELECT action FROM case_event WHERE case_id = :i AND actor = '系统时钟' "
                    "ORDER BY id"
                ),
                {"i": row.id},
            ).scalars()
        )

    tick(app_db, row.remind_at)
    assert stages() == ["remind"]
    tick(app_db, row.remind_at)  # again: nothing new
    assert stages() == ["remind"]
    tick(app_db, row.deadline)
    assert stages() == ["remind", "supervise"]
    after = app_db.execute(
        text("SELECT status, center_id FROM cases WHERE id = :i"), {"i": row.id}
    ).one()
    assert after.status == "escalated" and after.center_id != row.center_id
    # the center above may send the case back down to the center that let the time pass
    act(
        app_db,
        Actor("township_op", Scope.everything(), True),
        code,
        ActionRequest("return", note="请按期办理"),
    )
    back = app_db.execute(
        text("SELECT status, center_id FROM cases WHERE id = :i"), {"i": row.id}
    ).one()
    assert back.status == "returned" and back.center_id == row.center_id
    tick(app_db, row.notice_at)
    tick(app_db, row.notice_at)
    assert stages() == ["remind", "supervise", "notify"]
    app_db.commit()  # (to the test's savepoint: each request's end rolls back to it)
    letter = anon_client.get(f"/cases/{code}/letters/supervision", headers=op)
    assert letter.status_code == 200 and "督办函" in letter.text and code in letter.text
    # the state the letter was about, and the case's state now (by their names, not codes)
    assert '<td id="status-then">已登记</td>' in letter.text
    assert '<td id="status-now">已退回</td>' in letter.text
    english = anon_client.get(f"/cases/{code}/letters/supervision?lang=en", headers=op).text
    assert "<h1>Supervision notice</h1>" in english
    assert '<td id="status-then">Registered</td>' in english
    assert '<td id="status-now">Returned</td>' in english
    # 通报 goes to the district's center, not to the public: not called a "public notice"
    notice = anon_client.get(f"/cases/{code}/letters/notice?lang=en", headers=op).text
    assert "<h1>Circulated notice</h1>" in notice and "Public" not in notice


def test_a_late_tick_records_each_stage_with_its_own_states(
    anon_client: TestClient, login_as: Headers, point: tuple, app_db: Session
) -> None:
    """The clock down for days (or history imported open): the reminder, the supervision letter
    and the notice come due in one tick.  Only the letter escalates: the reminder is recorded
    before it (status unchanged), the notice after it (already escalated)."""
    op = login_as("township_operator")
    code = _report(anon_client, op, point, kind="hazard", category="fire")["code"]
    row = app_db.execute(
        text("SELECT id, notice_at, center_id, status FROM cases WHERE code = :c"), {"c": code}
    ).one()
    bind_scope(app_db, Scope.everything())
    report = tick(app_db, row.notice_at)
    assert (report.reminders, report.supervisions, report.notices) >= (1, 1, 1)
    events = app_db.execute(
        text("""SELECT action, from_status, to_status, data FROM case_event
                WHERE case_id = :i AND actor = '系统时钟' ORDER BY id"""),
        {"i": row.id},
    ).all()
    before = row.status
    assert [(e.action, e.from_status, e.to_status) for e in events] == [
        ("remind", before, before),
        ("supervise", before, "escalated"),
        ("notify", "escalated", "escalated"),
    ]
    remind, supervise, notify = (e.data for e in events)
    assert supervise["from_center"] == row.center_id and supervise["to_center"] != row.center_id
    assert "to_center" not in remind and "to_center" not in notify
    assert "district_center" in notify
    # the clock's own words on the case page: in Chinese as stored, in English when asked
    app_db.commit()  # (to the test's savepoint: each request's end rolls back to it)
    zh = anon_client.get(f"/cases/{code}", headers=op).text
    assert "系统时钟" in zh and "提醒函：办理时限已过 80%" in zh
    en = anon_client.get(f"/cases/{code}?lang=en", headers=op).text
    assert "System clock" in en and "系统时钟" not in en and "提醒函" not in en
    assert "Reminder: 80 % of the time allowed has passed" in en
    # the demo's history in words too: 示例数据 / Demo data (it said "demo")
    demo = app_db.execute(
        text("""SELECT c.code FROM cases c JOIN case_event e ON e.case_id = c.id
                WHERE e.actor = 'demo' AND c.township_code = '990102001'
                ORDER BY c.id LIMIT 1""")
    ).scalar_one()
    zh = anon_client.get(f"/cases/{demo}?lang=zh", headers=op)
    assert zh.status_code == 200 and "</b> 示例数据" in zh.text and "</b> demo" not in zh.text
    assert "</b> Demo data" in anon_client.get(f"/cases/{demo}?lang=en", headers=op).text
    # each letter is addressed to the center responsible when it was issued: the reminder and
    # the supervision letter to the one that let the time pass, the notice to the one above
    # that holds the case since
    names = dict(
        app_db.execute(
            text("SELECT id, name FROM center WHERE id IN (:a, :b)"),
            {"a": row.center_id, "b": supervise["to_center"]},
        ).all()
    )
    below, above = names[row.center_id], names[supervise["to_center"]]
    for stage, to in (("reminder", below), ("supervision", below), ("notice", above)):
        letter = anon_client.get(f"/cases/{code}/letters/{stage}?lang=zh", headers=op).text
        assert f'<p id="addressee">{to}：</p>' in letter, stage
    # … and names the deadline it was about, even once an extension has moved it
    was = app_db.execute(text("SELECT deadline FROM cases WHERE id = :i"), {"i": row.id}).scalar()
    app_db.execute(
        text("UPDATE cases SET deadline = deadline + interval '3 days' WHERE id = :i"),
        {"i": row.id},
    )
    app_db.commit()
    letter = anon_client.get(f"/cases/{code}/letters/supervision?lang=zh", headers=op).text
    assert f"<td>{was.astimezone(SHANGHAI):%Y-%m-%d %H:%M}</td>" in letter


def test_two_ticks_at_once_escalate_each_overdue_case_exactly_once(
    engine: Engine, app_engine: Engine, demo_city: DemoCity
) -> None:
    """1,000 overdue cases (received in 2019, so no other case is due at the clock's time)."""
    now = datetime(2020, 1, 2, 10, 0, tzinfo=SHANGHAI)
    with Session(engine) as owner:
        bind_scope(owner, Scope.everything())
        ids = (
            owner.execute(
                text("""
            INSERT INTO cases (code, kind, category, severity, description, received_lon,
                               received_lat, geom, reported_at, received_at, grid_id,
                               grid_code, village_code, township_code, district_code, city_code,
                               center_id, assign_method, status, allowed_hours, remind_at,
                               deadline, notice_at)
            SELECT 'RACE' || lpad(g::text, 8, '0'), 'dispute', 'neighbour', 'minor', '并发督办测试',
                   ST_X(gr.p), ST_Y(gr.p), gr.p, t, t, gr.id, gr.code, r.code, p.code, '990102',
                   '990100', c.id, 'covers', 'accepted', 8, t + interval '1 day',
                   t + interval '2 days', t + interval '3 days'
            FROM generate_series(1, 1000) g
            CROSS JOIN (SELECT timestamptz '2019-12-01 10:00+08' AS t) x
            CROSS JOIN (SELECT id, code, ST_PointOnSurface(geom) AS p FROM grid
                        WHERE code LIKE '990102001001%' AND valid_to IS NULL
                        ORDER BY code LIMIT 1) gr
            JOIN center c ON c.region_id = (SELECT id FROM region WHERE code = '990102001001')
            JOIN region r ON r.code = '990102001001' JOIN region p ON p.code = '990102001'
            RETURNING id
        """)
            )
            .scalars()
            .all()
        )
        owner.commit()
    assert len(ids) == 1000
    barrier = threading.Barrier(2)

    def run() -> object:
        with Session(app_engine) as s:
            bind_scope(s, Scope.everything())
            barrier.wait()
            report = tick(s, now)
            s.commit()
            return report

    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda _: run(), range(2)))
    assert sum(r.escalations for r in reports) == 1000  # type: ignore[attr-defined]
    with Session(engine) as owner:
        bind_scope(owner, Scope.everything())
        counts = owner.execute(
            text("""
            SELECT count(*) FILTER (WHERE action = 'supervise') AS supervise,
                   count(*) FILTER (WHERE action = 'supervise' AND to_status = 'escalated') AS up,
                   count(*) FILTER (WHERE action = 'remind') AS remind,
                   count(*) FILTER (WHERE action = 'notify') AS notify
            FROM case_event WHERE case_id = ANY(:ids)
        """),
            {"ids": ids},
        ).one()
        assert tuple(counts) == (1000, 1000, 1000, 1000)
        escalated = owner.execute(
            text(
                "SELECT count(*) FROM cases WHERE id = ANY(:ids) AND status = 'escalated' "
                "AND township_code = '990102001' AND version = 2"
            ),
            {"ids": ids},
        ).scalar_one()
        assert escalated == 1000


# -- queue and ratings ----------------------------------------------------------------------


def test_the_queue_puts_the_most_urgent_first(
    anon_client: TestClient, login_as: Headers, point: tuple, app_db: Session
) -> None:
    op = login_as("township_operator")
    reported = _report(anon_client, op, point, kind="hazard", category="gas")
    late, grid = reported["code"], reported["grid_code"]
    _report(anon_client, op, point)
    app_db.execute(
        text("UPDATE cases SET deadline = now() - interval '1 hour' WHERE code = :c"), {"c": late}
    )
    app_db.commit()  # (to the test's savepoint: each request ends with a rollback to it)
    village = anon_client.get("/api/queue", headers=login_as("village_operator")).json()
    assert late in {i["code"] for i in village["items"]}  # the village station's own queue
    mine = anon_client.get("/api/queue", headers=op).json()  # the township center's own
    assert late not in {i["code"] for i in mine["items"]}
    q = anon_client.get("/api/queue?below=true", headers=op).json()  # … and its stations'
    assert q["counts"]["registered"] >= 2
    assert q["items"][0]["overdue"]  # overdue first
    query = f"below=1&overdue=true&category=gas&grid={grid}&limit=500"
    only_late = anon_client.get(f"/api/queue?{query}", headers=op).json()
    assert {i["code"] for i in only_late["items"]} >= {late}
    assert all(i["overdue"] for i in only_late["items"])
    assert anon_client.get("/api/queue?status=nonsense", headers=op).status_code == 422
    assert anon_client.get("/api/queue", headers=login_as("grid_worker")).status_code == 403


def test_the_in_trays_counts_follow_cases_as_they_come_move_and_go(db: Session) -> None:
    def kept_right() -> bool:
        return db.execute(text(STATE_COUNT_MISMATCH)).scalar_one() == 0

    assert kept_right()
    other = db.execute(text("SELECT max(id) FROM center")).scalar_one()
    db.execute(
        text("""
        INSERT INTO cases (code, kind, category, severity, description, datum, received_lon,
                           received_lat, geom, reported_at, grid_code, village_code,
                           township_code, district_code, city_code, center_id, assign_method,
                           status)
        SELECT 'SC' || c.id, c.kind, c.category, c.severity, c.description, c.datum,
               c.received_lon, c.received_lat, c.geom, c.reported_at, c.grid_code,
               c.village_code, c.township_code, c.district_code, c.city_code, c.center_id,
               c.assign_method, c.status
        FROM cases c ORDER BY c.id LIMIT 300
    """)
    )
    assert kept_right()
    some = "id IN (SELECT id FROM cases WHERE code LIKE 'SC%' ORDER BY id {order} LIMIT {n})"
    for change, which in [
        ("status = 'closed'", some.format(order="", n=60)),  # a state
        ("center_id = :other", some.format(order="DESC", n=40)),  # a center
        ("center_id = NULL, status = 'escalated'", some.format(order="DESC", n=5)),  # none
        ("township_code = NULL, village_code = NULL", some.format(order="", n=10)),  # a place
        ("deadline = now(), flags = '{}'", "code LIKE 'SC%'"),  # nothing counted
    ]:
        db.execute(text(f"UPDATE cases SET {change} WHERE {which}"), {"other": other})
        assert kept_right(), change
    # two cases that trade center, state and place in one statement change no count; one that
    # takes the other's moves one
    pick = "SELECT min(id) FROM cases WHERE code LIKE 'SC%' AND center_id {} :other AND id > :x"
    a = db.execute(text(pick.format("<>")), {"other": other, "x": 0}).scalar_one()
    b = db.execute(text(pick.format("=")), {"other": other, "x": 0}).scalar_one()
    db.execute(text("UPDATE cases SET status = 'accepted' WHERE id = :a"), {"a": a})
    trade = """
        UPDATE cases c SET center_id = o.center_id, status = o.status, city_code = o.city_code,
                           district_code = o.district_code, township_code = o.township_code,
                           village_code = o.village_code
        FROM cases o WHERE (c.id, o.id) IN ((:a, :b), (:b, :a)) {both}
    """
    before = db.execute(text("SELECT sum(n), count(*) FROM case_state_count")).one()
    db.execute(text(trade.format(both="")), {"a": a, "b": b})
    assert db.execute(text("SELECT sum(n), count(*) FROM case_state_count")).one() == before
    db.execute(text(trade.format(both="AND c.id = :a")), {"a": a, "b": b})
    assert kept_right()
    db.execute(text(f"DELETE FROM cases WHERE {some.format(order='', n=25)}"))
    assert kept_right()
    # counted again from the cases (``wangge db recount``), they are the same
    db.execute(text("UPDATE case_state_count SET n = n + 1"))
    assert not kept_right()
    db.execute(text("SELECT wangge_state_count_rebuild()"))
    assert kept_right()


def test_the_in_tray_of_every_center_below_counts_and_orders_its_cases(db: Session) -> None:
    """The city's desk with every center below: its counts come from their roll-up, its list
    of open cases from the index of their deadlines; both as if read from every case."""
    city = db.execute(
        text("SELECT id, code, name FROM region WHERE level = 'city' ORDER BY code LIMIT 1")
    ).one()
    scope = Scope(region_id=city.id, region_code=city.code, level="city", region_name=city.name)
    # without a deadline; overdue; several due at one time, each severity (ties of the index)
    open_ = "SELECT id FROM cases WHERE status IN ('registered', 'accepted', 'in_progress')"
    db.execute(text(f"UPDATE cases SET deadline = NULL WHERE id IN ({open_} LIMIT 4)"))
    db.execute(
        text(f"UPDATE cases SET deadline = date_trunc('hour', now()) - interval '3 hours' "
             f"WHERE id IN ({open_} ORDER BY id DESC LIMIT 8)")
    )  # fmt: skip
    db.execute(
        text(f"UPDATE cases SET deadline = date_trunc('hour', now()) + interval '2 days' "
             f"WHERE id IN ({open_} ORDER BY id DESC LIMIT 8 OFFSET 8)")
    )  # fmt: skip
    mine = (
        f"c.city_code = '{city.code}' AND c.center_id IN (SELECT ce.id FROM center ce "
        f"JOIN region r ON r.id = ce.region_id WHERE {city.id} = ANY(r.path))"
    )
    counted = {
        s: n
        for s, n in db.execute(
            text(f"SELECT c.status, count(*) FROM cases c WHERE {mine} GROUP BY 1")
        ).all()
    }
    settled = "('resolved', 'verified', 'closed', 'suspended')"
    expected = (
        db.execute(
            text(f"""
        SELECT c.code FROM cases c WHERE {mine} AND c.status NOT IN {settled}
        ORDER BY coalesce(c.deadline < now(), false) DESC, c.deadline NULLS LAST,
                 array_position(ARRAY['critical', 'major', 'normal', 'minor'], c.severity::text),
                 c.code
    """)
        )
        .scalars()
        .all()
    )
    assert len(expected) > 20 and len(set(counted)) > 4
    q = queue(db, scope, below=True, limit=len(expected) + 10)
    assert q.counts == counted
    assert q.total == len(expected) == sum(n for s, n in counted.items() if s not in settled)
    assert [i.code for i in q.items] == expected
    assert [i.code for i in queue(db, scope, below=True, limit=7, offset=5).items] == (
        expected[5:12]
    )
    late, unplaced = db.execute(
        text(f"""
        SELECT count(*) FILTER (WHERE c.status = 'resolved' AND c.verify_due < now()),
               count(*) FILTER (WHERE c.status NOT IN {settled} AND c.geom IS NULL)
        FROM cases c WHERE {mine}
    """)
    ).one()
    assert (q.verify_late, q.unplaced) == (late, unplaced)
    # a state's chip: its cases, as many as its count says
    closed = queue(db, scope, below=True, statuses=["closed"], limit=5)
    assert closed.total == counted["closed"] and len(closed.items) == 5


def test_an_empty_in_tray_says_how_much_waits_at_the_centers_below(
    anon_client: TestClient, login_as: Headers, app_db: Session
) -> None:
    """A city's desk handles what is escalated to it: its own list is often empty while its
    districts' and townships' centers work. The empty page says how many cases are open there
    and links to them (含下级中心), instead of a bare 没有符合条件的案件."""
    bind_scope(app_db, Scope.everything())
    city = app_db.execute(
        text("SELECT c.id, r.id AS region FROM center c JOIN region r ON r.id = c.region_id "
             "WHERE r.level = 'city' ORDER BY r.code LIMIT 1")
    ).one()  # fmt: skip
    district_center = app_db.execute(
        text("SELECT c.id FROM center c JOIN region r ON r.id = c.region_id "
             "WHERE r.parent_id = :city ORDER BY r.code LIMIT 1"),
        {"city": city.region},
    ).scalar_one()  # fmt: skip
    settled = "('resolved', 'verified', 'closed', 'suspended')"
    # the city center's own open cases, if any, handed down: its own list is empty
    app_db.execute(
        text(f"UPDATE cases SET center_id = :d WHERE center_id = :c AND status NOT IN {settled}"),
        {"c": city.id, "d": district_center},
    )
    app_db.commit()  # (to the test's savepoint)
    below = app_db.execute(
        text(f"""SELECT count(*) FROM cases c WHERE c.status NOT IN {settled}
                 AND c.center_id IN (SELECT ce.id FROM center ce JOIN region r
                                     ON r.id = ce.region_id WHERE :city = ANY(r.path))"""),
        {"city": city.region},
    ).scalar_one()
    assert below > 0
    op = login_as("city_operator")
    api = anon_client.get("/api/queue", headers=op).json()
    assert (api["total"], api["below_open"]) == (0, below)
    assert anon_client.get("/api/queue?below=true", headers=op).json()["below_open"] is None
    html = {"Accept": "text/html"}
    page = anon_client.get("/queue", headers=op | html).text
    assert '共 <b id="queue-total">0</b> 件。' in page
    assert (
        f'本中心没有符合条件的案件；<a id="queue-below" href="/queue?below=true">'
        f"下级中心在办 {below} 件</a>（含下级中心）。" in page
    )
    # narrowed by a filter, the count of all open cases below would not answer it: not said
    late = anon_client.get("/queue?overdue=true", headers=op | html).text
    assert "没有符合条件的案件。" in late and "queue-below" not in late
    # the centers below listed: their cases, no hint
    listed = anon_client.get("/queue?below=true", headers=op | html).text
    assert f'<b id="queue-total">{below}</b>' in listed and "queue-below" not in listed
    en = anon_client.get("/queue?lang=en", headers=op | html).text
    assert f"the centers below have {below} open</a>" in en


def test_the_queue_counts_one_case_in_the_singular(
    anon_client: TestClient, login_as: Headers
) -> None:
    """Narrowed to one case, the English in-tray says "1 case, showing 1–1", not "1 cases"."""
    html = {"Accept": "text/html"}
    for user in ("village_operator", "township_operator", "district_operator"):
        op = login_as(user)
        items = anon_client.get("/api/queue?limit=500", headers=op).json()["items"]
        pairs = [(i["grid_code"], i["category"]) for i in items if i["grid_code"]]
        alone = [p for p in pairs if pairs.count(p) == 1]
        if alone and len(items) > 1:
            break
    assert alone and len(items) > 1, "no in-tray of the demo with one case of a grid and kind"
    grid, category = alone[0]
    one = f"/queue?grid={grid}&category={category}"
    en = anon_client.get(one + "&lang=en", headers=op | html).text
    assert '<b id="queue-total">1</b> case, showing' in en
    zh = anon_client.get(one + "&lang=zh", headers=op | html).text
    assert '共 <b id="queue-total">1</b> 件，第' in zh
    from io import BytesIO

    from openpyxl import load_workbook

    xlsx = anon_client.get(one.replace("/queue", "/queue.xlsx") + "&lang=en", headers=op)
    sheet = load_workbook(BytesIO(xlsx.content)).active
    assert sheet is not None and str(sheet["A1"].value).endswith(", 1 case)")
    en = anon_client.get("/queue?lang=en", headers=op | html).text
    assert f'<b id="queue-total">{len(items)}</b> cases, showing' in en


def test_the_queue_marks_repeats_and_possible_duplicates(
    anon_client: TestClient, login_as: Headers, point: tuple
) -> None:
    """A desk triaging its in-tray sees at a glance which cases the same place or resident
    raised again and again (高频), and which may duplicate one nearby (疑似重复, to confirm).
    (Other tests of this module commit cases nearby: the first report may find one of them.)"""
    op = login_as("village_operator")
    phone = f"139{uuid.uuid4().int % 10**8:08d}"  # (a resident of this test alone)
    party = [{"role": "applicant", "phone": phone}]
    reported = [
        _report(anon_client, op, point, category="medical", parties=party) for _ in range(3)
    ]
    codes, grid = [r["code"] for r in reported], reported[0]["grid_code"]
    mine = f"grid={grid}&category=medical"  # (the in-tray's other cases aside)
    listed = anon_client.get(f"/api/queue?{mine}&limit=50", headers=op).json()["items"]
    items = {i["code"]: i for i in listed}
    assert items[codes[2]]["repeat"]  # the same resident a third time in 30 days
    assert items[codes[1]]["duplicate"] and items[codes[2]]["duplicate"]
    page = anon_client.get(f"/queue?{mine}", headers=op | {"Accept": "text/html"}).text
    for item in listed:  # the page marks what the API says, and nothing else
        cell = re.search(rf'<a href="/cases/{item["code"]}">{item["code"]}</a>(.*?)</td>', page)
        assert cell is not None
        assert (">高频</span>" in cell.group(1)) == item["repeat"]
        assert (">疑似重复</span>" in cell.group(1)) == item["duplicate"]
    # 只看预警: those, and only those
    only = anon_client.get(f"/api/queue?{mine}&flagged=true&limit=50", headers=op).json()
    assert {codes[1], codes[2]} <= {i["code"] for i in only["items"]}
    assert all(i["repeat"] or i["duplicate"] for i in only["items"])
    html = {"Accept": "text/html"}
    flagged_page = anon_client.get(f"/queue?{mine}&flagged=true", headers=op | html).text
    assert f'href="/cases/{codes[2]}"' in flagged_page
    assert re.search(r'class="wg-chip on" href="[^"]*">只看预警', flagged_page)
    # settled by the desk, it is no longer a question
    for other in reported[2]["possible_duplicates"]:
        r = anon_client.post(
            f"/api/cases/{codes[2]}/duplicates/{other['code']}",
            headers=op,
            json={"decision": "unlink"},
        )
        assert r.status_code == 200, r.text
    after = anon_client.get(f"/api/queue?{mine}&limit=500", headers=op).json()["items"]
    assert [i["duplicate"] for i in after if i["code"] == codes[2]] == [False]


def test_a_duplicate_is_merged_into_the_case_that_carries_it(
    anon_client: TestClient,
    login_as: Headers,
    demo_city: DemoCity,
    app_db: Session,
    engine: Engine,
) -> None:
    """并案: two reports of one leaking gas pipe.  The desk closes the second into the first,
    which carries the matter from then on: the second is closed as merged, its departments still
    to answer are withdrawn, the first's history says which case joined it, and the resident of
    the second follows the first from their own tracking page (and rates it there)."""
    grid = next(g for g in demo_city.grids if g.code.startswith("990102001002"))
    spot = grid.geom.representative_point()
    place = (spot.x, spot.y)  # (a village of its own: the module's other cases are elsewhere)
    op = login_as("township_operator")
    first = _report(anon_client, op, place, kind="hazard", category="gas")
    second = _report(anon_client, op, place, kind="hazard", category="gas")
    a, b = first["code"], second["code"]
    assert a in {d["code"] for d in second["possible_duplicates"]}
    _act(anon_client, op, b, "accept")
    _act(anon_client, op, b, "dispatch")  # a department is still to answer

    url = f"/api/cases/{b}/actions"
    for body, words in (
        ({}, "into"),
        ({"into": b}, "自己"),
        ({"into": "CASE-NONE"}, "CASE-NONE"),
    ):
        r = anon_client.post(url, headers=op, json={"action": "merge"} | body)
        assert r.status_code == 422 and words in r.json()["detail"], r.text
    with engine.connect() as conn:  # (a case of another township: as if it did not exist)
        elsewhere = conn.execute(
            text("SELECT code FROM cases WHERE township_code <> '990102001' LIMIT 1")
        ).scalar_one()
    r = anon_client.post(url, headers=op, json={"action": "merge", "into": elsewhere})
    assert r.status_code == 422 and elsewhere in r.json()["detail"]
    carrier_page = anon_client.get(f"/cases/{a}", headers=op).text  # (the other way round)
    assert f'class="wg-merge-here" data-other="{b}"' in carrier_page

    def on_the_map() -> int:  # the command map's count for the grid (a roll-up)
        r = anon_client.get("/api/grid-counts?days=30", headers=op)
        return int(r.json()["grids"][first["grid_code"]][0])

    assert second["grid_code"] == first["grid_code"]
    before = on_the_map()
    merged = _act(anon_client, op, b, "merge", into=a, note="同一处燃气管道泄漏")
    assert (merged["status"], merged["merged_into"]) == ("closed", a)
    assert on_the_map() == before - 1  # one matter, counted once (migration 0054)
    last = merged["events"][-1]
    assert (last["action"], last["data"]["into"], last["note"]) == (
        "merge",
        a,
        "同一处燃气管道泄漏",
    )
    assert [d["status"] for d in merged["dispatches"]] == ["withdrawn"]
    assert {d["code"]: d["status"] for d in merged["possible_duplicates"]}[a] == "confirmed"
    carrier = anon_client.get(f"/api/cases/{a}", headers=op).json()
    assert carrier["merged_from"] == [b] and carrier["status"] == "registered"
    mine = anon_client.get("/api/cases?mine=true&limit=50", headers=op).json()["features"]
    merged_into = {f["properties"]["code"]: f["properties"]["merged_into"] for f in mine}
    assert merged_into[b] == a and merged_into[a] is None  # (the reporter's phone says why)
    assert (carrier["events"][-1]["action"], carrier["events"][-1]["data"]) == (
        "merged_from",
        {"from": b},
    )
    # the desk's pages say it both ways, each linking to the other
    page = anon_client.get(f"/cases/{b}", headers=op).text
    assert f'已并入案件 <a href="/cases/{a}">{a}</a>' in page and "已结案（并案）" in page
    assert f'class="wg-duplicate" data-other="{a}"' not in page  # (undone by reopening)
    carrier_page = anon_client.get(f"/cases/{a}", headers=op).text
    assert f'并入本案的案件：<a href="/cases/{b}">{b}</a>' in carrier_page
    assert f'data-other="{b}"' not in carrier_page.split('id="duplicates"')[1].split("</table>")[0]
    assert not re.search(r"class=\"wg-merge(-here)?\"", page)  # (merged: nothing to merge)
    # the resident of the second report follows the first, and rates it there
    token_a = first["tracking_url"].rsplit("/", 1)[1]
    token_b = second["tracking_url"].rsplit("/", 1)[1]
    track = anon_client.get(f"/t/{token_b}").text
    assert "已并案" in track and f'href="/t/{token_a}"' in track and 'id="rating"' not in track
    english = anon_client.get(f"/t/{token_b}?lang=en").text
    assert "merged into case" in english and f'href="/t/{token_a}?lang=en"' in english
    anon_client.cookies.clear()
    r = anon_client.post(f"/api/track/{token_b}/rating", json={"score": 5, "resolved": True})
    assert r.status_code == 409 and a in r.json()["detail"]
    # no chains: nothing merges into a merged case, and a case others joined stays the carrier
    r = anon_client.post(f"/api/cases/{a}/actions", headers=op, json={"action": "merge", "into": b})
    assert r.status_code == 422 and f"已并入案件 {a}" in r.json()["detail"]
    third = _report(anon_client, op, place, kind="hazard", category="gas")["code"]
    r = anon_client.post(
        f"/api/cases/{a}/actions", headers=op, json={"action": "merge", "into": third}
    )
    assert r.status_code == 409 and b in r.json()["detail"]
    # reopened, the second is its own matter again
    reopened = _act(anon_client, op, b, "reopen", note="并案有误，另行处理")
    assert reopened["merged_into"] is None and reopened["status"] == "reopened"
    assert on_the_map() == before + 1  # (the third report, too)
    assert anon_client.get(f"/api/cases/{a}", headers=op).json()["merged_from"] == []
    page = anon_client.get(f"/cases/{b}", headers=op).text
    assert f'class="wg-merge" data-into="{a}"' in page  # and may be merged again
    actions = (
        app_db.execute(
            text("SELECT action FROM audit_log WHERE object = :o ORDER BY id"), {"o": f"case:{b}"}
        )
        .scalars()
        .all()
    )
    assert "case.merge" in actions


def test_no_merge_chains_even_across_jurisdictions(
    anon_client: TestClient, login_as: Headers, demo_city: DemoCity
) -> None:
    """The township merged a report of another village into a case of this village; the
    village's desk, which does not see that report, still cannot merge its case away in turn
    (the report's tracking page would follow a closed case), and is not told its code.  Nor
    can it merge into a case the township merged into another village's."""

    def spot(village: str) -> tuple[float, float]:
        grid = next(g for g in demo_city.grids if g.code.startswith(village))
        p = grid.geom.representative_point()
        return p.x, p.y

    township, village = login_as("township_operator"), login_as("village_operator")
    here, there = spot("990102001001"), spot("990102001002")
    carrier = _report(anon_client, township, here, kind="hazard", category="traffic_safety")
    other = _report(anon_client, township, there, kind="hazard", category="traffic_safety")
    third = _report(anon_client, township, here, kind="hazard", category="traffic_safety")
    hidden = anon_client.get(f"/api/cases/{other['code']}", headers=village)
    assert hidden.status_code == 404  # (not the village's)
    _act(anon_client, township, other["code"], "merge", into=carrier["code"])
    r = anon_client.post(
        f"/api/cases/{carrier['code']}/actions",
        headers=village,
        json={"action": "merge", "into": third["code"]},
    )
    assert r.status_code == 409, r.text
    assert "已有案件并入本案" in r.json()["detail"] and other["code"] not in r.json()["detail"]
    # nor into a case of the village merged into one of another village
    yonder = _report(anon_client, township, there, kind="hazard", category="traffic_safety")
    _act(anon_client, township, third["code"], "merge", into=yonder["code"])
    fourth = _report(anon_client, township, here, kind="hazard", category="traffic_safety")
    r = anon_client.post(
        f"/api/cases/{fourth['code']}/actions",
        headers=village,
        json={"action": "merge", "into": third["code"]},
    )
    assert r.status_code == 422 and "已并入其他案件" in r.json()["detail"], r.text


def _queue_rows(html: str) -> list[tuple[str, str, bool]]:
    """(code, state name, overdue) of each row of the queue page."""
    rows = []
    for row in re.finditer(
        r"<tr( class=wg-overdue-row)?><td>(?:<input [^>]*> )?<a href=\"/cases/(\w+)\">.*?</tr>",
        html,
    ):
        cells = re.findall(r"<td>(.*?)</td>", row.group(0))
        rows.append((row.group(2), cells[3], bool(row.group(1))))
    return rows


def test_the_queue_page_is_the_desks_in_tray(
    anon_client: TestClient, login_as: Headers, point: tuple, app_db: Session
) -> None:
    op = login_as("township_operator")
    late = _report(anon_client, op, point)["code"]
    app_db.execute(
        text("UPDATE cases SET deadline = now() - interval '1 hour' WHERE code = :c"), {"c": late}
    )
    app_db.commit()  # (to the test's savepoint)
    html = {"Accept": "text/html"}
    page = anon_client.get("/queue?below=true", headers=op | html)
    assert page.status_code == 200, page.text
    api = anon_client.get("/api/queue?below=true&limit=50", headers=op).json()
    assert f"待办案件 · {api['center']}" in page.text
    assert f'<b id="queue-total">{api["total"]}</b>' in page.text
    rows = _queue_rows(page.text)
    assert [code for code, _, _ in rows] == [i["code"] for i in api["items"]]  # same order
    assert [late for _, _, late in rows] == [i["overdue"] for i in api["items"]]
    # where each came from (案件来源), by its name
    from gis.cases import SOURCE_NAMES

    first = api["items"][0]
    row = re.search(rf'<a href="/cases/{first["code"]}">.*?</tr>', page.text)
    assert row is not None and f"<td>{SOURCE_NAMES[first['source']][0]}</td>" in row.group(0)
    # its grid by name, the code on hover
    name = app_db.execute(
        text("SELECT name FROM grid WHERE code = :g AND valid_to IS NULL"),
        {"g": first["grid_code"]},
    ).scalar_one()
    assert first["grid_name"] == name
    assert f'<td title="{first["grid_code"]}">{name}</td>' in row.group(0)
    # one-click filters keep the others; the counts per state link to their state
    assert 'href="/queue?overdue=true&amp;below=true"' in page.text
    assert (
        f'href="/queue?status=registered&amp;below=true">已登记 {api["counts"]["registered"]}'
        in (page.text)
    )
    only_late = _queue_rows(anon_client.get("/queue?below=true&overdue=true", headers=op).text)
    assert only_late and all(is_late for _, _, is_late in only_late)
    registered = _queue_rows(
        anon_client.get("/queue?below=true&status=registered", headers=op).text
    )
    assert registered and {name for _, name, _ in registered} == {"已登记"}
    assert (late, "已登记", True) in registered
    # 批量受理 / 批量派遣: a box on each case that may be accepted or dispatched now, saying
    # which, and on no other
    for code, name, _ in rows:
        box = re.search(rf'class="wg-pick" value="{code}" data-actions="([a-z ]+)"', page.text)
        expected = {
            "accept" if name in ("已登记", "已转办", "已上报", "已退回", "已重启") else "",
            "dispatch" if name in ("已受理", "已重启") else "",
        } - {""}
        assert (set(box.group(1).split()) if box else set()) == expected, (code, name)
    assert 'id="accept-picked"' in page.text and 'id="dispatch-picked"' in page.text
    # pages of 50, the next one where the API's next one is
    if api["total"] > 50:
        second = anon_client.get("/queue?below=true&offset=50", headers=op).text
        more = anon_client.get("/api/queue?below=true&limit=50&offset=50", headers=op).json()
        assert [c for c, _, _ in _queue_rows(second)] == [i["code"] for i in more["items"]]
    assert 'href="/queue?below=true&amp;offset=50">下一页' in page.text or api["total"] <= 50
    # a case page offers the way back; others than the desk may not open it
    assert '<a href="/queue">待办案件</a>' in anon_client.get(f"/cases/{late}", headers=op).text
    refused = anon_client.get("/queue", headers=login_as("grid_worker") | html)
    assert refused.status_code == 403 and "无权访问" in refused.text
    assert '<a href="/m/">返回首页</a>' in refused.text  # the grid worker's own first page
    refused = anon_client.get("/queue", headers=login_as("district_planner") | html)
    assert refused.status_code == 403 and '<a href="/">返回首页</a>' in refused.text
    bad = anon_client.get("/queue?status=nonsense", headers=op | html)
    assert bad.status_code == 422 and "未知的状态" in bad.text
    # in English: the same rows, in the same order, the page's words in English
    english = anon_client.get("/queue?below=true&lang=en", headers=op | html).text
    assert f"Case queue · {api['center']}" in english and "Overdue only" in english
    assert [c for c, _, _ in _queue_rows(english)] == [i["code"] for i in api["items"]]
    assert f'status=registered&amp;below=true">Registered {api["counts"]["registered"]}' in english
    assert 'href="/queue?below=true&amp;lang=zh"' in english  # back to Chinese, same filters
    # times of this year without the year; of another year with it
    received = app_db.execute(
        text("SELECT received_at AT TIME ZONE 'Asia/Shanghai' FROM cases WHERE code = :c"),
        {"c": late},
    ).scalar_one()
    app_db.execute(
        text("UPDATE cases SET deadline = '2001-06-10 10:00+08' WHERE code = :c"), {"c": late}
    )
    app_db.commit()
    page = anon_client.get("/queue?below=true&overdue=true", headers=op | html).text
    row = page[page.index(f">{late}</a>") :].split("</tr>")[0]
    assert f"<td>{received:%m-%d %H:%M}</td>" in row and "2001-06-10 10:00" in row, row
    assert ">Find a case</a>" in english and "<th>Kind · category</th>" in english
    user = re.search(r'<span class="wg-user">(.*?)</span>', english)
    assert user is not None
    names = api["center"] + user.group(1) + "".join(i["grid_name"] or "" for i in api["items"])
    for run in re.findall(r"[\u4e00-\u9fff]+", english.replace(">中文<", "><")):
        assert run in names, run  # only names (the center's, the user's, grids') stay Chinese


def test_a_case_is_found_by_code_source_id_or_phone(
    anon_client: TestClient, login_as: Headers, point: tuple, app_db: Session
) -> None:
    """案件查询: a resident calls with a code, an old system's id or a phone number."""
    op, html = login_as("township_operator"), {"Accept": "text/html"}
    phone = "13987654321"
    party = {"role": "applicant", "name": "孙查询", "phone": phone}
    first_case = _report(anon_client, op, point, parties=[party])
    first = first_case["code"]
    second = _report(anon_client, op, point, parties=[party])["code"]
    app_db.execute(
        text("UPDATE cases SET source_id = 'OLD-2024-0815' WHERE code = :c"), {"c": second}
    )
    app_db.commit()  # (to the test's savepoint)

    def find(q: str, who: dict = op) -> Response:
        return anon_client.get("/find", params={"q": q}, headers=who | html, follow_redirects=False)

    # one case by its code or its old id: straight to its page
    # … or a link pasted whole: the resident's tracking link, the case page's address
    for q, code in (
        (first, first),
        (f"  {first} ", first),
        ("OLD-2024-0815", second),
        (first_case["tracking_url"], first),
        (f"https://wangge.example.cn/cases/{second}?tab=events", second),
        ("".join(chr(ord(c) + 0xFEE0) for c in first), first),  # full-width: ９９０１…
        ("ＯＬＤ－２０２４－０８１５", second),
    ):
        r = find(q)
        assert r.status_code == 303 and r.headers["location"] == f"/cases/{code}", q
    # a phone: the list, both cases, and the lookup is in the audit trail
    listed = find(phone)
    assert listed.status_code == 200 and '<b id="find-total">2</b>' in listed.text
    assert f'href="/cases/{first}"' in listed.text and "当事人电话" in listed.text
    grid = first_case["location"]["grid"]  # each case's grid by its name, the code on hover
    assert f'<td title="{grid["code"]}">{grid["name"]}</td>' in listed.text
    trail = app_db.execute(
        text("SELECT detail FROM audit_log WHERE action = 'pii.lookup' ORDER BY id DESC LIMIT 1")
    ).scalar_one()
    assert trail == {"via": "find"}
    # a code's first 12 digits: the county's cases of that day
    day = find(first[:12])
    assert f'href="/cases/{first}"' in day.text and f'href="/cases/{second}"' in day.text
    wide = find("".join(chr(ord(c) + 0xFEE0) for c in first[:12])).text  # (full-width)
    assert f'href="/cases/{first}"' in wide and f'href="/cases/{second}"' in wide
    assert "编号开头" in day.text
    assert "没有与" in find(first[:12] + "9" * 8).text  # nothing after the last possible code
    # without the right to personal data, the phone is not looked up, and the page says so
    commander = find(phone, login_as("city_commander"))
    assert commander.status_code == 200 and "需要查看个人信息的权限" in commander.text
    assert "find-total" not in commander.text and "没有与" in commander.text
    assert find(first, login_as("city_commander")).status_code == 303  # a code it may see
    # another jurisdiction does not find it, by code or by phone
    other = login_as("township_operator_b")
    assert "没有与" in find(first, other).text and "没有与" in find(phone, other).text
    # the empty form, a search box on the in-tray, the menu entry
    empty = find("")
    assert empty.status_code == 200 and 'action="/find"' in empty.text
    assert "<table" not in empty.text
    assert 'action="/find"' in anon_client.get("/queue", headers=op | html).text
    for page in ("/queue", f"/cases/{first}"):  # the menu, on the in-tray and on a case page
        assert '<a href="/find">案件查询</a>' in anon_client.get(page, headers=op | html).text
    too_long = find("1" * 201)
    assert too_long.status_code == 422 and "<html" in too_long.text
    # in English (asked once, then kept): the list, how each case matched, the note
    english = anon_client.get("/find", params={"q": phone, "lang": "en"}, headers=op | html)
    assert '<b id="find-total">2</b> found' in english.text and "party's phone" in english.text
    by_day = find(first[:12]).text
    assert '<html lang="en">' in by_day and "start of the code" in by_day
    assert "needs the right to see personal data" in find(phone, login_as("city_commander")).text


def test_a_case_is_found_by_words_of_its_description(
    anon_client: TestClient, login_as: Headers, point: tuple
) -> None:
    """案件查询 by words: a caller remembers what happened, not the code."""
    op, html = login_as("township_operator"), {"Accept": "text/html"}
    said = "东门菜市场燃气罐 LEAK，约50%摊位受影响_请速查"
    code = _report(anon_client, op, point, description=said)["code"]
    other = _report(anon_client, op, point, description="东门菜市场门口占道经营")["code"]

    def find(q: str, who: dict = op) -> str:
        r = anon_client.get("/find", params={"q": q}, headers=who | html, follow_redirects=False)
        assert r.status_code == 200, (q, r.status_code)  # words: a list, never a jump
        return r.text

    # every word, in any order, upper or lower case; the words marked in an excerpt
    for q in ("燃气罐", "leak 燃气罐", "东门菜市场\u3000Leak", "50%摊位", "受影响_请"):
        page = find(q)
        assert '<b id="find-total">1</b>' in page and f'href="/cases/{code}"' in page, q
        assert f'href="/cases/{other}"' not in page and ">描述</td>" in page, q
    assert "<mark>燃气罐</mark>" in find("燃气罐") and "<mark>LEAK</mark>" in find("leak")
    both = find("东门菜市场")
    assert '<b id="find-total">2</b>' in both and f'href="/cases/{other}"' in both
    # a word of the category's name (邻里纠纷) finds its cases whatever their words, and says
    # so; with a word of the description, only the cases that hold both
    by_name = find("邻里")
    first = by_name.split('<tr><td><a href="/cases/')[1]  # (the newest first)
    assert first.startswith(f'{other}"') and "<td>类别</td>" in first.split("</tr>")[0]
    assert find("邻里 燃气罐").count('<tr><td><a href="/cases/') == 1
    assert "<td>类别</td>" in find("邻里 燃气罐") and "<td>描述</td>" in find("燃气罐")
    assert "没有与" in find("消防 燃气罐")  # (a fire hazard's name: not this dispute's)
    # LIKE's wildcards are taken as they are written; a single character is too little
    for q in ("%%", "_%", "\\%", "菜"):
        assert "没有与" in find(q), q
    assert "至少需要 2 个字" in find("菜") and "至少需要" not in find("%%")
    # another jurisdiction's operator does not find it; in English the column is named
    assert "没有与" in find("燃气罐", login_as("township_operator_b"))
    english = anon_client.get("/find", params={"q": "燃气罐", "lang": "en"}, headers=op | html)
    assert ">description</td>" in english.text and "<th>Description</th>" in english.text


def test_a_number_that_names_a_case_is_looked_for_in_descriptions_only_when_asked(
    anon_client: TestClient, login_as: Headers, point: tuple, app_db: Session
) -> None:
    """案件查询 with a number: its case at once.  The descriptions, which have no index (a
    second or more over a city's million cases), are read for it only when no code, id, work
    order or phone matched it, or when asked; the page offers that."""
    op, html = login_as("township_operator"), {"Accept": "text/html"}
    named = _report(anon_client, op, point)["code"]
    app_db.execute(text("UPDATE cases SET source_id = 'SYN-0042' WHERE code = :c"), {"c": named})
    app_db.commit()  # (to the test's savepoint)
    mentions = _report(anon_client, op, point, description="与 SYN-0042 同一地点再次发生纠纷")
    only_text = _report(anon_client, op, point, description="参见工单 A-17 的处理情况")

    def find(who: dict = op, **params: str) -> Response:
        return anon_client.get("/find", params=params, headers=who | html, follow_redirects=False)

    # the id: its case, though another case's description mentions it
    r = find(q="SYN-0042")
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{named}"
    # asked for: both, each with how it matched
    both = find(q="SYN-0042", descriptions="true").text
    assert '<b id="find-total">2</b>' in both and 'id="find-descriptions"' not in both
    assert f'href="/cases/{named}"' in both and f'href="/cases/{mentions["code"]}"' in both
    assert ">原系统编号</td>" in both and ">描述</td>" in both
    # a number that names no case is looked for in the descriptions straight away
    r = find(q="A-17")
    assert r.status_code == 200 and '<b id="find-total">1</b>' in r.text
    assert f'href="/cases/{only_text["code"]}"' in r.text and "<mark>A-17</mark>" in r.text
    # a list found by number (the code's beginning: the county's cases of the day) links to
    # the search of the descriptions
    day = find(q=named[:12]).text
    assert all(f'href="/cases/{c}"' in day for c in (named, mentions["code"], only_text["code"]))
    assert "只列出编号相符的案件" in day and ">编号开头</td>" in day
    link = re.search(r'id="find-descriptions" href="([^"]+)"', day)
    assert link is not None and unescape(link.group(1)) == (
        f"/find?q={named[:12]}&descriptions=true"
    )
    english = find(q=named[:12], lang="en").text
    assert "Only the cases whose numbers match are listed" in english
    # words with no digit are always looked for in the descriptions
    words = find(q="同一地点").text
    assert '<b id="find-total">1</b>' in words and f'href="/cases/{mentions["code"]}"' in words


def test_a_poor_rating_reopens_the_case_once(
    anon_client: TestClient, login_as: Headers, point: tuple, app_db: Session
) -> None:
    op = login_as("township_operator")
    case = _report(anon_client, op, point)
    code, token = case["code"], case["tracking_url"].rsplit("/", 1)[1]
    rating = f"/api/track/{token}/rating"
    early = anon_client.post(rating, json={"score": 5, "resolved": True})
    assert early.status_code == 409  # not resolved yet
    for action in ("accept", "start", "resolve"):
        _act(anon_client, op, code, action)
    # whether it is solved is the resident's own answer: never taken as yes when left out
    unsaid = anon_client.post(rating, json={"score": 5}, headers={"Accept-Language": "zh-CN"})
    assert unsaid.status_code == 422, unsaid.text
    assert unsaid.json()["detail"] == "resolved（问题是否已解决）缺少必填字段"
    page = anon_client.get(f"/t/{token}")
    assert 'id="rating"' in page.text and "评价" in page.text  # the form on the tracking page
    english = anon_client.get(f"/t/{token}?lang=en").text
    assert "Rate the handling" in english and "Resolved" in english  # form, state and step
    r = anon_client.post(
        rating,
        json={"score": 2, "resolved": True, "comment": "处理太慢"},
        headers={"Accept-Language": "en-US,en;q=0.9"},
    )
    assert r.status_code == 200 and r.json()["reopened"]
    assert r.json()["message"] == "Thank you; the case is being handled again."
    detail = anon_client.get(f"/api/cases/{code}", headers=op).json()
    assert detail["status"] == "reopened" and detail["round"] == 2
    assert [e["action"] for e in detail["events"]][-2:] == ["rate", "reopen"]
    again = {"score": 5, "resolved": True}
    assert anon_client.post(rating, json=again).status_code == 409  # one rating per case
    assert anon_client.post(rating, json={"score": 9, "resolved": True}).status_code == 422
    # the case carries its rating and how it went, for the roll-ups (migration 0062)
    bind_scope(app_db, Scope.everything())
    kept = app_db.execute(
        text("""SELECT c.score, c.reworked, c.extended, c.on_site,
                       c.first_resolved_at = (SELECT min(e.at) FROM case_event e
                                              WHERE e.case_id = c.id AND e.action = 'resolve')
                FROM cases c WHERE c.code = :c"""),
        {"c": code},
    ).one()
    assert tuple(kept) == (2, True, False, False, True)
    assert app_db.execute(text(HANDLING_MISMATCH)).scalar_one() == 0


def test_the_server_runs_the_clock(settings, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The scheduler started with the app ticks every ``clock_interval_s`` (the tick itself is
    tested above; here it only counts, so the shared test database is left alone)."""
    import gis.supervision
    from api.app import create_app
    from gis.supervision import TickReport

    calls: list[object] = []

    def counting_tick(session, now=None):  # type: ignore[no-untyped-def]
        calls.append(session.info.get("wangge_scope"))
        return TickReport(0, 0, 0, 0)

    monkeypatch.setattr(gis.supervision, "tick", counting_tick)
    app = create_app(settings.model_copy(update={"clock_interval_s": 0.05}))
    with TestClient(app):
        deadline = time.monotonic() + 10
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(calls) >= 3
    assert all(scope == Scope.everything() for scope in calls)  # the clock sees every case


def test_the_queue_goes_to_excel_as_the_page_shows_it(
    anon_client: TestClient, login_as: Headers, point: tuple, app_db: Session
) -> None:
    """导出 Excel: the page's cases, every page of them, in its order, filters kept; case codes as
    text (Excel would show a 20-digit number as 9.9E+19), times as dates in Beijing time; the
    export is audited; in English with ``lang=en``."""
    from io import BytesIO

    from openpyxl import load_workbook

    op = login_as("township_operator")
    late = _report(anon_client, op, point)["code"]
    app_db.execute(
        text("UPDATE cases SET deadline = now() - interval '1 hour' WHERE code = :c"), {"c": late}
    )
    app_db.commit()  # (to the test's savepoint)
    page = anon_client.get("/queue?below=true&overdue=true", headers=op).text
    link = re.search(r'<a id="queue-export" href="([^"]+)">导出 Excel</a>', page)
    assert link is not None and link.group(1) == "/queue.xlsx?overdue=true&amp;below=true"
    r = anon_client.get("/queue.xlsx?overdue=true&below=true", headers=op)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert (
        "filename*=UTF-8''%E5%BE%85%E5%8A%9E%E6%A1%88%E4%BB%B6-"
        in (r.headers["content-disposition"])
    )  # 待办案件-<center>-<day>.xlsx
    ws = load_workbook(BytesIO(r.content)).active
    assert ws is not None
    rows = list(ws.iter_rows(values_only=True))
    api = anon_client.get("/api/queue?below=true&overdue=true&limit=500", headers=op).json()
    assert str(rows[0][0]).startswith(f"待办案件 · {api['center']}")
    assert f"共 {api['total']} 件" in str(rows[0][0])
    assert rows[1][:5] == ("案件编号", "类型", "类别", "严重程度", "状态")
    codes = [i["code"] for i in api["items"]]  # (the API's first 500)
    assert len(rows) - 2 == api["total"] and [row[0] for row in rows[2:][: len(codes)]] == codes
    assert rows[1][6:11] == ("网格编码", "网格名称", "村（社区）", "负责中心", "登记时间")
    assert rows[1][-1] == "描述"
    assert all(isinstance(row[0], str) and row[12] == "是" for row in rows[2:])  # all overdue
    mine = next(row for row in rows[2:] if row[0] == late)
    received, deadline, grid, grid_name, village, center, description = app_db.execute(
        text("""SELECT c.received_at AT TIME ZONE 'Asia/Shanghai',
                       c.deadline AT TIME ZONE 'Asia/Shanghai', g.code, g.name, v.name, ce.name,
                       c.description
                FROM cases c JOIN region v ON v.code = c.village_code
                JOIN grid g ON g.id = c.grid_id
                JOIN center ce ON ce.id = c.center_id WHERE c.code = :c"""),
        {"c": late},
    ).one()
    # where (the grid by code and by name), who, what
    assert mine[6:10] + mine[-1:] == (grid, grid_name, village, center, description)
    # a description with a control character in it (an imported one, say) does not fail the
    # export: the character goes, as the file format wants
    from gis.workflow import QueueDetail, queue
    from maps.exports import queue_xlsx

    q = queue(app_db, Scope.everything(), limit=1)
    odd = {q.items[0].code: QueueDetail("村", "中心", "楼道\x08堆物\x1f")}
    sheet = load_workbook(BytesIO(queue_xlsx(q, title="t", details=odd))).active
    assert sheet is not None and sheet.cell(3, 16).value == "楼道堆物"
    # words that begin with "=" (a resident's, an imported row's) stay words: as a formula they
    # would run in the reader's Excel
    import zipfile

    said = '=HYPERLINK("http://x.example/?"&A1,"点此查看")'
    odd = {q.items[0].code: QueueDetail("=村", "中心", said)}
    book = queue_xlsx(q, title="t", details=odd)
    sheet = load_workbook(BytesIO(book)).active
    assert sheet is not None
    assert (sheet.cell(3, 16).value, sheet.cell(3, 16).data_type) == (said, "s")
    assert sheet.cell(3, 9).value == "=村"
    with zipfile.ZipFile(BytesIO(book)) as z:
        assert "<f>" not in z.read("xl/worksheets/sheet1.xml").decode()
    assert abs((mine[10] - received).total_seconds()) < 1  # Beijing time, as dates
    assert abs((mine[11] - deadline).total_seconds()) < 1
    assert ws["A3"].number_format == "@" and ws.freeze_panes == "B3"
    entry = app_db.execute(
        text("""SELECT username, object, detail FROM audit_log WHERE action = 'case.export'
                ORDER BY id DESC LIMIT 1""")
    ).one()
    assert entry.username == "township_operator" and entry.object == f"queue:{api['center']}"
    assert entry.detail == {"overdue": True, "below": True, "cases": api["total"]}
    english = anon_client.get("/queue.xlsx?overdue=true&below=true&lang=en", headers=op)
    rows = list(load_workbook(BytesIO(english.content)).active.iter_rows(values_only=True))
    assert str(rows[0][0]).startswith("Case queue · ") and rows[1][0] == "Case"
    assert "filename*=UTF-8''queue-" in english.headers["content-disposition"]
    assert 'href="/queue.xlsx?below=true&amp;lang=en">Export to Excel' in (
        anon_client.get("/queue?below=true&lang=en", headers=op).text
    )
    refused = anon_client.get("/queue.xlsx", headers=login_as("grid_worker"))
    assert refused.status_code == 403
    # more than one export holds: a page that says what to do (the link is followed, not
    # downloaded, so that the browser shows it)
    import api.routers.maps as pages

    held, pages.EXPORT_MAX = pages.EXPORT_MAX, 0
    try:
        html = op | {"Accept": "text/html"}
        big = anon_client.get("/queue.xlsx?below=true&lang=zh", headers=html)
    finally:
        pages.EXPORT_MAX = held
    assert big.status_code == 422 and "缩小范围" in big.text
    assert big.headers["content-type"].startswith("text/html")


def _roster_verify(client: TestClient, desk: dict[str, str]) -> tuple[int, int]:
    """待核查 of the demo grid worker (W99010200100101) on the desk's roster of workers, and how
    many of them are late (超期)."""
    page = client.get("/workers?lang=zh", headers=desk).text
    row = re.search(r"<small>W99010200100101[ ·][^<]*</small>.*?</tr>", page)
    assert row is not None
    n = re.search(r"<small>待核查 (\d+)(?:<span[^>]*>（超期 (\d+)）</span>)?</small>", row.group(0))
    return (int(n.group(1)), int(n.group(2) or 0)) if n else (0, 0)


def test_the_grid_worker_verifies_a_resolved_case_of_their_grid_on_the_spot(
    anon_client: TestClient, login_as: Headers, demo_city: DemoCity
) -> None:
    """现场核查: the grid worker looks whether it was put right — yes: verified, for the desk
    to close; no: reopened for another round, with what was found.  Their own grids only, and
    only a resolved case."""
    mine = next(g for g in demo_city.grids if g.code == "990102001001001")
    other = next(g for g in demo_city.grids if g.code.startswith("990102001001") and g != mine)
    op, worker = login_as("township_operator"), login_as("grid_worker")

    def resolved_in(grid) -> str:  # type: ignore[no-untyped-def]
        p = grid.geom.representative_point()
        code = _report(anon_client, op, (p.x, p.y))["code"]
        for action in ("accept", "start", "resolve"):
            _act(anon_client, op, code, action, note="已整改" if action == "resolve" else None)
        return code

    def to_verify() -> int:
        return _roster_verify(anon_client, op)[0]

    waiting = to_verify()
    code = resolved_in(mine)
    assert to_verify() == waiting + 1
    from io import BytesIO

    from openpyxl import load_workbook

    sheet = load_workbook(BytesIO(anon_client.get("/workers.xlsx", headers=op).content)).active
    assert sheet is not None
    headers, *rows = list(sheet.iter_rows(min_row=2, values_only=True))
    row = next(r for r in rows if r[headers.index("工号")] == "W99010200100101")
    assert row[headers.index("网格内待核查")] == waiting + 1
    page = anon_client.get(f"/cases/{code}", headers=worker).text
    assert 'id="verify-form"' in page and "已整改到位" in page and "未整改到位，重新办理" in page
    assert "Put right" in anon_client.get(f"/cases/{code}?lang=en", headers=worker).text
    assert 'id="verify-form"' not in anon_client.get(f"/cases/{code}?lang=zh", headers=op).text
    verify = f"/api/cases/{code}/verify"
    r = anon_client.post(verify, headers=worker, json={"resolved": False})
    assert r.status_code == 422 and "现场情况" in r.json()["detail"], r.text
    r = anon_client.post(verify, headers=worker, json={"resolved": True, "version": 1})
    assert r.status_code == 409 and r.json()["current_version"] > 1  # stale
    r = anon_client.post(verify, headers=worker, json={"resolved": True, "note": "现场已清理"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "verified"
    last = r.json()["events"][-1]
    assert (last["action"], last["actor"], last["note"]) == ("verify", "grid_worker", "现场已清理")
    # sent again (its answer lost on a weak signal): the same answer, the case not moved again
    again = anon_client.post(verify, headers=worker, json={"resolved": True, "note": "现场已清理"})
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["events"] == r.json()["events"]
    # … but another finding is not the same verification: the case is no longer resolved
    r = anon_client.post(verify, headers=worker, json={"resolved": True})
    assert r.status_code == 409 and "无需再核查" in r.json()["detail"], r.text
    # the desk closes it: from its queue's verified ones (结案所选), or from the case
    queue = anon_client.get("/queue?below=true&status=verified", headers=op).text
    assert re.search(rf'class="wg-pick" value="{code}" data-actions="close"', queue)
    assert 'id="close-picked"' in queue and "结案所选" in queue
    assert _act(anon_client, op, code, "close")["status"] == "closed"
    assert to_verify() == waiting

    # not put right: reopened, with a new round and deadline
    code = resolved_in(mine)
    r = anon_client.post(
        f"/api/cases/{code}/verify",
        headers=worker,
        json={"resolved": False, "note": "楼道杂物仍未清理"},
    )
    assert r.status_code == 200 and r.json()["status"] == "reopened" and r.json()["round"] == 2
    # … and, reopened, it is not to be verified until it is resolved again (the phone is told
    # so, not which moves the desk may make)
    r = anon_client.post(f"/api/cases/{code}/verify", headers=worker, json={"resolved": True})
    assert r.status_code == 409 and "办结后才能现场核查" in r.json()["detail"], r.text
    assert r.json()["current_status"] == "reopened"
    # the desk may too (as its verify action); another grid's case is not the worker's
    code = resolved_in(other)
    assert 'id="verify-form"' not in anon_client.get(f"/cases/{code}", headers=worker).text
    r = anon_client.post(f"/api/cases/{code}/verify", headers=worker, json={"resolved": True})
    assert r.status_code == 403 and "本人所负责网格" in r.json()["detail"], r.text
    r = anon_client.post(f"/api/cases/{code}/verify", headers=op, json={"resolved": True})
    assert r.status_code == 200 and r.json()["status"] == "verified"
    # a role that only reads may not
    r = anon_client.post(
        f"/api/cases/{code}/verify", headers=login_as("city_commander"), json={"resolved": True}
    )
    assert r.status_code == 403


def test_a_verification_of_an_earlier_round_is_refused_not_taken_for_the_new_one(
    anon_client: TestClient, login_as: Headers, demo_city: DemoCity
) -> None:
    """A phone verifies offline the case it listed (version v); before it is sent the desk
    reopens, handles and resolves it again.  Sent with v, the verification is refused (409,
    saying why) rather than judging a round the worker has not seen; sent again after a lost
    answer, a taken one is still its replay."""
    mine = next(g for g in demo_city.grids if g.code == "990102001001001")
    p = mine.geom.representative_point()
    op, worker = login_as("township_operator"), login_as("grid_worker")
    code = _report(anon_client, op, (p.x, p.y))["code"]
    for action in ("accept", "start", "resolve"):
        _act(anon_client, op, code, action)
    listed = anon_client.get(
        "/api/cases?status=to_verify&grid=990102001001001&limit=200", headers=worker
    ).json()
    (seen,) = [f["properties"] for f in listed["features"] if f["properties"]["code"] == code]
    assert seen["status"] == "resolved" and seen["version"] == 4
    # the desk: called the resident, not put right; another round, resolved again
    _act(anon_client, op, code, "verify", resolved=False, note="居民反映仍未处理")
    for action in ("accept", "start", "resolve"):
        after = _act(anon_client, op, code, action)
    assert after["status"] == "resolved" and after["round"] == 2
    verify = f"/api/cases/{code}/verify"
    said = {"resolved": True, "note": "现场已清理", "version": seen["version"]}
    r = anon_client.post(verify, headers=worker, json=said)
    assert r.status_code == 409, r.text
    assert "核查未提交" in r.json()["detail"] and "已办结" in r.json()["detail"]
    assert r.json()["current_version"] == after["version"]
    assert anon_client.get(f"/api/cases/{code}", headers=op).json()["status"] == "resolved"
    en = anon_client.post(verify, headers=worker | {"Accept-Language": "en"}, json=said)
    assert en.status_code == 409 and "earlier round" in en.json()["detail"]
    # the list read again: the new round verified, and its answer lost, sent again
    said["version"] = after["version"]
    r = anon_client.post(verify, headers=worker, json=said)
    assert r.status_code == 200 and r.json()["status"] == "verified", r.text
    again = anon_client.post(verify, headers=worker, json=said)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"


def test_the_verification_period_is_the_deployments(
    settings: Settings,
    login_as: Headers,
    demo_city: DemoCity,
    app_db: Session,
    database_url: str,
) -> None:
    """WANGGE_VERIFY_WORK_DAYS (核查期限, 3 by default): the server's connections tell the
    database, whose trigger sets a case's ``verify_due`` that many working days after its
    resolution; the case page says the rule."""
    from gis.db import make_engine

    engine = make_engine(database_url, pool_size=1, verify_hours=40.0)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW wangge.verify_hours")).scalar_one() == "40.0"
    finally:
        engine.dispose()
    op = login_as("township_operator")
    p = next(g for g in demo_city.grids if g.code == "990102001001001").geom.representative_point()
    with app_with(settings, app_db, verify_work_days=5) as client:
        code = _report(client, op, (p.x, p.y))["code"]
        _act(client, op, code, "accept")
        _act(client, op, code, "start")
        # (the test's session is not one of the app's pooled connections: told as they are)
        app_db.execute(text("SET LOCAL wangge.verify_hours = '40'"))
        _act(client, op, code, "resolve", note="已调解")
        bind_scope(app_db, Scope.everything())
        hours = app_db.execute(
            text("SELECT wangge_work_hours(first_resolved_at, verify_due) FROM cases "
                 "WHERE code = :c"),
            {"c": code},
        ).scalar_one()  # fmt: skip
        assert hours == 40.0  # 5 working days
        page = client.get(f"/cases/{code}?lang=zh", headers=op).text
        assert "（办结后 5 个工作日内回访或现场核查）" in page


def test_a_resolved_case_nobody_verifies_is_reminded_once_a_round(
    anon_client: TestClient, login_as: Headers, demo_city: DemoCity, app_db: Session
) -> None:
    """核查提醒: a resolved case is to be verified (回访, 现场核查) within 3 working days of its
    resolution; the clock reminds its center once when that passes, and once again for each new
    round.  The desk's queue, the case page, the roster and the phone's list tell what is due."""
    from gis.supervision import VERIFY_NOTE
    from gis.workflow import VERIFY_WITHIN_HOURS

    op = login_as("township_operator")
    # in the grid of the demo's grid worker (W99010200100101)
    p = next(g for g in demo_city.grids if g.code == "990102001001001").geom.representative_point()
    code = _report(anon_client, op, (p.x, p.y))["code"]
    for action in ("accept", "start", "resolve"):
        _act(anon_client, op, code, action, note="已调解" if action == "resolve" else None)
    bind_scope(app_db, Scope.everything())

    def late_on_roster() -> int:
        return _roster_verify(anon_client, op)[1]

    row = app_db.execute(
        text(
            "SELECT id, verify_due, first_resolved_at, round, "
            "wangge_work_hours(first_resolved_at, verify_due) AS hours "
            "FROM cases WHERE code = :c"
        ),
        {"c": code},
    ).one()
    assert row.verify_due is not None and row.hours == VERIFY_WITHIN_HOURS  # 3 working days
    detail = anon_client.get(f"/api/cases/{code}", headers=op).json()
    assert detail["verify_due"] is not None
    page = anon_client.get(f"/cases/{code}?lang=zh", headers=op).text
    assert re.search(r'<td id="verify-due">[-0-9]+ [0-9:]+（办结后 3 个工作日内', page)

    def reminders() -> list[tuple]:
        return [
            tuple(r)
            for r in app_db.execute(
                text(
                    "SELECT action, note, data ->> 'round', from_status, to_status FROM case_event "
                    "WHERE case_id = :i AND actor = '系统时钟' ORDER BY id"
                ),
                {"i": row.id},
            )
        ]

    before = app_db.execute(text("SELECT version FROM cases WHERE id = :i"), {"i": row.id})
    version = before.scalar_one()
    tick(app_db, row.verify_due - (row.verify_due - row.first_resolved_at) / 2)
    assert reminders() == []  # not yet
    report = tick(app_db, row.verify_due)
    assert report.verifications >= 1 and "核查提醒" in report.summary()
    expected = ("remind_verify", VERIFY_NOTE[0], "1", None, None)
    assert reminders() == [expected]
    tick(app_db, row.verify_due)  # again: nothing new
    assert reminders() == [expected]
    from gis.report import daily

    # the day's roll-up counts it with the letters
    day = daily(app_db, Scope.everything(), "990102001", row.verify_due.astimezone(SHANGHAI).date())
    assert day.supervision.get("remind_verify", 0) >= 1
    after = app_db.execute(text("SELECT status, version FROM cases WHERE id = :i"), {"i": row.id})
    assert tuple(after.one()) == ("resolved", version)  # the reminder moves nothing
    app_db.commit()  # (to the test's savepoint)

    # now past it (the request's clock is the transaction's): late on every desk's view
    late = late_on_roster()
    app_db.execute(
        text("UPDATE cases SET verify_due = now() - interval '1 hour' WHERE id = :i"),
        {"i": row.id},
    )
    app_db.commit()
    assert late_on_roster() == late + 1
    queue = anon_client.get("/queue?lang=zh&below=true&status=resolved&overdue=true", headers=op)
    assert re.search(rf"{code}.*?核查 [-0-9]+ [0-9:]+ 核查超期</span>", queue.text)
    # (the chip that lists them, on here; off, all open cases again)
    chip = re.search(r'<a class="wg-chip on" href="([^"]*)">核查超期 (\d+)</a>', queue.text)
    assert chip is not None and int(chip.group(2)) >= 1, queue.text
    assert "status=" not in unescape(chip.group(1))
    elsewhere = anon_client.get("/queue?lang=zh&below=true", headers=op).text
    chip_off = r'<a class="wg-chip" href="[^"]*status=resolved[^"]*">核查超期 \d+</a>'
    assert re.search(chip_off, elsewhere)
    from io import BytesIO

    from openpyxl import load_workbook

    book = anon_client.get(
        "/queue.xlsx?lang=zh&below=true&status=resolved&overdue=true", headers=op
    )
    sheet = load_workbook(BytesIO(book.content)).active
    assert sheet is not None
    head, *cells = list(sheet.iter_rows(min_row=2, values_only=True))
    line = next(r for r in cells if r[0] == code)
    assert line[head.index("是否超期")] == "是" and line[head.index("核查期限")] is not None
    items = anon_client.get("/api/queue?below=true&status=resolved", headers=op).json()["items"]
    mine = next(i for i in items if i["code"] == code)
    assert mine["overdue"] is True and mine["verify_due"] is not None
    page = anon_client.get(f"/cases/{code}?lang=zh", headers=op).text
    assert re.search(r'<td id="verify-due">[-0-9]+ [0-9:]+ <span class="wg-overdue">已超期', page)
    assert "核查提醒" in page and VERIFY_NOTE[0] in page
    english = anon_client.get(f"/cases/{code}?lang=en", headers=op).text
    assert "Reminder to verify" in english and VERIFY_NOTE[1] in english
    assert re.search(r'<td id="verify-due">[^<]+<span class="wg-overdue">overdue</span>', english)
    fc = anon_client.get(
        "/api/cases?status=resolved&grid=990102001001001&limit=200", headers=op
    ).json()
    props = next(f["properties"] for f in fc["features"] if f["properties"]["code"] == code)
    assert props["verify_due"].endswith("+08:00")

    # not put right at the follow-up: a new round; resolved again, a new due time and reminder
    _act(anon_client, op, code, "verify", resolved=False, note="仍有噪音")
    for action in ("accept", "start", "resolve"):
        _act(anon_client, op, code, action, note="再次调解" if action == "resolve" else None)
    again = app_db.execute(
        text("SELECT verify_due, round FROM cases WHERE id = :i"), {"i": row.id}
    ).one()
    assert again.round == 2
    assert again.verify_due > app_db.execute(text("SELECT now()")).scalar_one()
    tick(app_db, again.verify_due)
    assert reminders() == [expected, ("remind_verify", VERIFY_NOTE[0], "2", None, None)]
    # verified: nothing more is due of it
    _act(anon_client, op, code, "verify", resolved=True)
    tick(app_db, again.verify_due + (again.verify_due - row.first_resolved_at))
    assert len(reminders()) == 2
    assert late_on_roster() == late

    # what the phone asks for (status=to_verify): the resolved cases waiting for a verification;
    # not one imported resolved (another system's history has no due time: nobody's to verify)
    code = _report(anon_client, op, (p.x, p.y))["code"]
    for action in ("accept", "start", "resolve"):
        _act(anon_client, op, code, action, note="已调解" if action == "resolve" else None)

    def waiting() -> list[str]:
        fc = anon_client.get(
            "/api/cases?status=open&status=to_verify&grid=990102001001001&limit=500",
            headers=login_as("grid_worker"),
        ).json()
        return [f["properties"]["code"] for f in fc["features"]]

    assert code in waiting()
    app_db.execute(text("UPDATE cases SET verify_due = NULL WHERE code = :c"), {"c": code})
    app_db.commit()
    assert code not in waiting()
    r = anon_client.get("/api/cases?status=to_check", headers=op)
    assert r.status_code == 422 and "to_verify" in r.json()["detail"]
