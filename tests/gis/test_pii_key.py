"""The personal-data key must read the parties already stored, or nothing starts."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.app import create_app
from gis.errors import DatabaseNotReady
from gis.pii import load_cipher
from gis.settings import Settings


def _with(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update=changes)


def test_the_right_key_reads_the_stored_parties(settings: Settings, app_db: Session) -> None:
    cipher = load_cipher(settings, app_db)  # as the app role: row-level security applies
    app_db.execute(text("SELECT set_config('wangge.scope', '*', true)"))
    row = app_db.execute(
        text("SELECT case_id, phone_enc FROM case_party WHERE phone_enc IS NOT NULL LIMIT 1")
    ).one()
    assert cipher.decrypt(row.phone_enc, f"{row.case_id}:phone").startswith("1")


def test_another_key_refuses_to_start_and_says_why(settings: Settings, app_db: Session) -> None:
    other = _with(settings, pii_key=base64.b64encode(secrets.token_bytes(32)).decode())
    with pytest.raises(DatabaseNotReady, match="不符") as refused:
        load_cipher(other, app_db)
    assert "WANGGE_PII_KEY" in refused.value.localized("en")
    with pytest.raises(DatabaseNotReady, match="不符"), TestClient(create_app(other)):
        pass  # the app does not start


@pytest.mark.parametrize("key", ["abc", base64.b64encode(b"sixteen bytes!!!").decode(), "中文"])
def test_a_key_that_is_not_one_refuses_to_start_and_says_what_one_is(
    settings: Settings, app_db: Session, key: str
) -> None:
    """Not base64, or not 32 bytes: refused in the operator's words, with how to make one."""
    with pytest.raises(DatabaseNotReady, match="32 字节") as refused:
        load_cipher(_with(settings, pii_key=key), app_db)
    assert "openssl rand -base64 32" in refused.value.localized("en")


def test_no_key_is_made_where_the_database_holds_personal_data(
    settings: Settings, app_db: Session, tmp_path: Path
) -> None:
    """Started from another directory: no pii.key there, the parties in the database."""
    elsewhere = _with(settings, pii_key=None, data_dir=tmp_path / ".wangge")
    with pytest.raises(DatabaseNotReady, match="不存在"):
        load_cipher(elsewhere, app_db)
    assert not (tmp_path / ".wangge" / "pii.key").exists()
    (tmp_path / ".wangge").mkdir()  # a key file of another deployment
    (tmp_path / ".wangge" / "pii.key").write_text(
        base64.b64encode(secrets.token_bytes(32)).decode()
    )
    with pytest.raises(DatabaseNotReady, match="不符"):
        load_cipher(elsewhere, app_db)


def test_a_database_without_parties_gets_a_new_key_file(
    settings: Settings, db: Session, tmp_path: Path
) -> None:
    db.execute(text("DELETE FROM case_party"))  # rolled back after the test
    fresh = _with(settings, pii_key=None, data_dir=tmp_path / ".wangge")
    cipher = load_cipher(fresh, db)
    assert (tmp_path / ".wangge" / "pii.key").stat().st_mode & 0o777 == 0o600
    assert load_cipher(fresh, db).decrypt(cipher.encrypt("李明", "1:name"), "1:name") == "李明"
    assert db.execute(text("SELECT current_setting('wangge.scope', true)")).scalar() in ("", None)


def test_a_database_not_migrated_yet_has_no_parties_to_check(
    settings: Settings, db: Session, tmp_path: Path
) -> None:
    db.execute(text("SET LOCAL search_path = pg_catalog"))  # no case_party table in sight
    fresh = _with(settings, pii_key=None, data_dir=tmp_path / ".wangge")
    assert load_cipher(fresh, db).decrypt(load_cipher(fresh).encrypt("x", "1:name"), "1:name")
    assert (tmp_path / ".wangge" / "pii.key").exists()
