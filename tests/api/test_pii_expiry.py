"""Residents' personal data erased when its retention period is over (``wangge pii expire``)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from shapely.geometry import Point

from gis.errors import InvalidInput
from gis.pii import PiiCipher
from gis.pii_expiry import expire
from gis.settings import Settings
from importers.demo import DemoCity
from tests.conftest import app_with, put_case


def _name(db: Session, cipher: PiiCipher, code: str, role: str, name: str, phone: str) -> None:
    case_id = db.execute(text("SELECT id FROM cases WHERE code = :c"), {"c": code}).scalar_one()
    db.execute(
        text("""INSERT INTO case_party (case_id, role, name_enc, phone_enc, id_card_enc,
                                        phone_index)
                VALUES (:case, :role, :name, :phone, :id_card, :index)"""),
        {
            "case": case_id,
            "role": role,
            "name": cipher.encrypt(name, f"{case_id}:name"),
            "phone": cipher.encrypt(phone, f"{case_id}:phone"),
            "id_card": cipher.encrypt("11010519491231002X", f"{case_id}:id_card"),
            "index": cipher.phone_index(phone),
        },
    )


def _years_ago(now: datetime, years: int) -> datetime:
    return now.replace(year=now.year - years)


def test_the_parties_of_cases_closed_longer_than_the_retention_period_are_erased(
    db: Session,
    cipher: PiiCipher,
    settings: Settings,
    demo_city: DemoCity,
    tokens: dict[str, str],
) -> None:
    """个人信息到期删除: the parties of a case closed four years ago lose their names, phones, ID
    numbers and phone index (a dry run first counts them, writing nothing); those of a case
    closed two years ago, and of one never closed however old, stay.  The party keeps its role,
    the case page says the data was erased (and offers no unmasking), a search by the erased
    phone finds nothing, and the erasure is in the audit log.  Again: nothing more to do."""
    grid = next(g for g in demo_city.grids if g.code.startswith("990102001"))
    spot = grid.geom.representative_point()
    now = db.execute(text("SELECT now()")).scalar_one()
    old = put_case(db, spot, "closed", received=_years_ago(now, 4))
    recent = put_case(db, spot, "closed", received=_years_ago(now, 2))
    unclosed = put_case(db, Point(spot.x, spot.y), "resolved", received=_years_ago(now, 5))
    for code, phone in ((old, "13900001111"), (recent, "13900002222"), (unclosed, "13900003333")):
        _name(db, cipher, code, "applicant", "王小红", phone)
        _name(db, cipher, code, "witness", "李大明", "137" + phone[3:])
        said = f"王小红（{phone}）反映楼上漏水"  # (her number typed into the text too)
        retold = text("UPDATE cases SET description = :d WHERE code = :c")
        db.execute(retold, {"d": said, "c": code})
    db.commit()  # (to the test's savepoint)

    def described(code: str) -> str:
        return str(
            db.execute(text("SELECT description FROM cases WHERE code = :c"), {"c": code}).scalar()
        )

    def stored(code: str) -> list[tuple]:
        return [
            tuple(r)
            for r in db.execute(
                text("""SELECT p.role, p.name_enc IS NULL, p.phone_enc IS NULL,
                               p.id_card_enc IS NULL, p.phone_index IS NULL,
                               p.erased_at IS NOT NULL
                        FROM case_party p JOIN cases c ON c.id = p.case_id
                        WHERE c.code = :c ORDER BY p.id"""),
                {"c": code},
            )
        ]

    kept = [("applicant", False, False, False, False, False), ("witness",) + (False,) * 5]
    counted = expire(db, 3)
    assert (counted.cases, counted.parties, counted.idle, counted.erased) == (1, 2, 1, False)
    assert counted.descriptions == 1 and "其中 1 件的描述含电话" in counted.summary()
    assert "结案满 3 年" in counted.summary() and "1 件案件未结案" in counted.summary()
    assert "2 parties would be erased" in counted.summary("en")
    assert stored(old) == kept  # (a dry run writes nothing)

    done = expire(db, 3, commit=True, actor="cli:test")
    assert (done.cases, done.parties, done.idle, done.erased) == (1, 2, 1, True)
    assert stored(old) == [("applicant",) + (True,) * 5, ("witness",) + (True,) * 5]
    assert stored(recent) == kept and stored(unclosed) == kept
    assert described(old) == "王小红（139****1111）反映楼上漏水"  # stored so from now on
    assert described(recent) == "王小红（13900002222）反映楼上漏水"  # (shown masked)
    trail = db.execute(
        text("""SELECT username, object, detail FROM audit_log WHERE action = 'pii.erase'
                ORDER BY id DESC LIMIT 1""")
    ).one()
    assert trail.username == "cli:test" and trail.object == "case_party"
    assert (trail.detail["years"], trail.detail["parties"], trail.detail["cases"]) == (3, 2, 1)
    assert trail.detail["descriptions"] == 1
    assert expire(db, 3, commit=True).parties == 0  # nothing more
    with pytest.raises(InvalidInput, match="1–100"):
        expire(db, 0)
    db.commit()

    operator = {"Authorization": f"Bearer {tokens['district_operator']}"}
    with app_with(settings, db) as client:
        parties = client.get(f"/api/cases/{old}/parties?unmask=true", headers=operator).json()
        assert [(p["role"], p["name"], p["phone"], p["id_card"]) for p in parties] == [
            ("applicant", None, None, None),
            ("witness", None, None, None),
        ]
        assert all(p["erased_at"] for p in parties)
        page = client.get(f"/cases/{old}", headers=operator).text
        assert "个人信息已按保存期限删除（20" in page and 'id="unmask"' not in page
        english = client.get(f"/cases/{old}?lang=en", headers=operator).text
        assert "personal data erased, its retention period over (20" in english
        kept_page = client.get(f"/cases/{recent}?lang=zh", headers=operator).text
        assert 'id="unmask"' in kept_page and "保存期限删除（20" not in kept_page
        found = client.get("/api/cases?party_phone=13900001111", headers=operator).json()
        assert found["features"] == []
        still = client.get("/api/cases?party_phone=13900002222", headers=operator).json()
        assert [f["properties"]["code"] for f in still["features"]] == [recent]


#: what people type, and what every answer shows of it
TYPED = {
    "王某（13812345678）反映": "王某（138****5678）反映",
    "电话138-1234-5678或 +86 139 1234 5678": "电话138****5678或 +86 139****5678",
    "8613812345678、１３８１２３４５６７８": "86138****5678、１３８****５６７８",
    "身份证11010519491231002X，44190019800101123x": (
        "身份证1101**********002X，4419**********123x"
    ),
    # not a person's: a case's code, an amount, a landline, a date
    "案件99010226120600022004，150123456789元": "案件99010226120600022004，150123456789元",
    "0769-22345678，2026-12-05 13:45": "0769-22345678，2026-12-05 13:45",
}


def test_numbers_typed_into_a_description_are_masked_in_python_and_sql_alike(
    db: Session, demo_city: DemoCity
) -> None:
    """The phone and ID-card numbers in free text are masked as the parties' are, by Python
    (case pages, the API, the queue's workbook, /find) and by SQL (the reporter's own list) in
    exactly the same way; a case code, an amount, a landline or a date is left as it is."""
    from gis.pii import mask_text, mask_text_sql
    from gis.workflow import queue_details

    for typed, shown in TYPED.items():
        assert mask_text(typed) == shown
        in_sql = db.execute(text(f"SELECT {mask_text_sql('CAST(:t AS text)')}"), {"t": typed})
        assert in_sql.scalar_one() == shown, typed
    grid = next(g for g in demo_city.grids if g.code.startswith("990102001"))
    code = put_case(db, grid.geom.representative_point())
    db.execute(
        text("UPDATE cases SET description = :d WHERE code = :c"),
        {"d": "王某（13812345678）反映", "c": code},
    )
    assert queue_details(db, [code])[code].description == "王某（138****5678）反映"


def test_a_phone_looked_for_in_descriptions_needs_the_right_to_personal_data(
    db: Session, settings: Settings, demo_city: DemoCity, tokens: dict[str, str]
) -> None:
    """案件查询 for a phone or ID number typed into a description: it would tell whose cases
    mention that resident, so a commander's search leaves the descriptions out (and says so);
    an operator's finds the case, masked in the excerpt, and is audited as a look-up."""
    grid = next(g for g in demo_city.grids if g.code.startswith("990102001"))
    code = put_case(db, grid.geom.representative_point())
    db.execute(
        text("UPDATE cases SET description = :d WHERE code = :c"),
        {"d": "邻居（13911112222）反映楼道堆物", "c": code},
    )
    db.commit()
    html = {"Accept": "text/html"}
    commander = {"Authorization": f"Bearer {tokens['city_commander']}"} | html
    operator = {"Authorization": f"Bearer {tokens['district_operator']}"} | html
    with app_with(settings, db) as client:
        seen = client.get("/find", params={"q": "13911112222"}, headers=commander).text
        assert code not in seen and "需要查看个人信息的权限" in seen
        # (with other words: those alone are looked for, which says nothing of the number)
        mixed = client.get("/find", params={"q": "楼道 13911112222"}, headers=commander).text
        assert "需要查看个人信息的权限" in mixed and "13911112222" not in mixed.split("<table")[-1]
        words = client.get("/find", params={"q": "楼道堆物", "lang": "zh"}, headers=commander)
        assert code in words.text and "13911112222" not in words.text  # (words: found, masked)
        found = client.get("/find", params={"q": "13911112222", "lang": "zh"}, headers=operator)
        listed = found.text.split("<table")[-1]  # (the query itself is echoed above)
        assert code in listed and "139****2222" in listed and "13911112222" not in listed
    trail = db.execute(
        text("""SELECT username, detail FROM audit_log WHERE action = 'pii.lookup'
                ORDER BY id DESC LIMIT 1""")
    ).one()
    assert trail.username == "district_operator" and trail.detail == {"via": "find"}
