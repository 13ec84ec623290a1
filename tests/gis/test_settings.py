"""Where the data lives when ``WANGGE_DATA_DIR`` is not set: the nearest ``.wangge/`` up; and
the ``.env`` read with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gis.settings import Settings, find_data_dir, find_env_file


def test_the_nearest_wangge_folder_from_here_up_is_the_data_dir(tmp_path: Path) -> None:
    (tmp_path / ".wangge").mkdir()
    (tmp_path / "a" / ".wangge").mkdir(parents=True)
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "x").mkdir()
    assert find_data_dir(tmp_path / "a" / "b" / "c") == tmp_path / "a" / ".wangge"
    assert find_data_dir(tmp_path / "a") == tmp_path / "a" / ".wangge"
    assert find_data_dir(tmp_path / "x") == tmp_path / ".wangge"
    # a file of that name is not a data folder
    (tmp_path / "x" / "y").mkdir()
    (tmp_path / "x" / "y" / ".wangge").write_text("")
    assert find_data_dir(tmp_path / "x" / "y") == tmp_path / ".wangge"


def test_without_one_up_the_tree_it_is_made_here(tmp_path: Path) -> None:
    assert not any((folder / ".wangge").exists() for folder in tmp_path.parents)
    assert find_data_dir(tmp_path / "new") == tmp_path / "new" / ".wangge"


def test_settings_use_it_unless_told(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".wangge").mkdir()
    (tmp_path / "maps").mkdir()
    monkeypatch.chdir(tmp_path / "maps")
    monkeypatch.delenv("WANGGE_DATA_DIR", raising=False)
    assert Settings(_env_file=None).data_dir == tmp_path / ".wangge"  # type: ignore[call-arg]
    monkeypatch.setenv("WANGGE_DATA_DIR", str(tmp_path / "elsewhere"))
    assert Settings(_env_file=None).data_dir == tmp_path / "elsewhere"  # type: ignore[call-arg]


def test_the_env_file_is_the_working_directorys_else_the_one_beside_the_data(
    tmp_path: Path,
) -> None:
    (tmp_path / "home" / "checkout" / ".wangge").mkdir(parents=True)
    (tmp_path / "home" / "checkout" / "maps").mkdir()
    (tmp_path / "home" / "elsewhere").mkdir()
    (tmp_path / "home" / ".env").write_text("DATABASE_URL=postgresql://someone/else\n")
    checkout = tmp_path / "home" / "checkout"
    # no .env in the checkout yet: the path beside its data folder (read once it exists)
    assert find_env_file(checkout / "maps") == checkout / ".env"
    (checkout / ".env").write_text("")
    assert find_env_file(checkout / "maps") == checkout / ".env"
    assert find_env_file(checkout) == checkout / ".env"
    (checkout / "maps" / ".env").write_text("")
    assert find_env_file(checkout / "maps") == checkout / "maps" / ".env"
    # a .env higher up with no .wangge/ beside it is somebody else's: never read
    elsewhere = tmp_path / "home" / "elsewhere"
    assert find_env_file(elsewhere) == elsewhere / ".env"


def test_settings_from_a_sub_folder_read_the_checkouts_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".wangge").mkdir()
    (tmp_path / "maps").mkdir()
    (tmp_path / ".env").write_text(
        "WANGGE_PUBLIC_URL=https://wangge.example.gov.cn\nWANGGE_SESSION_IDLE_MINUTES=15\n"
    )
    for name in ("WANGGE_PUBLIC_URL", "WANGGE_SESSION_IDLE_MINUTES", "WANGGE_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path / "maps")
    settings = Settings()
    assert settings.public_url == "https://wangge.example.gov.cn"
    assert settings.session_idle_minutes == 15
    assert settings.data_dir == tmp_path / ".wangge"
    # the environment still wins over the file, and a caller may still name no file at all
    monkeypatch.setenv("WANGGE_SESSION_IDLE_MINUTES", "45")
    assert Settings().session_idle_minutes == 45
    assert Settings(_env_file=None).public_url is None  # type: ignore[call-arg]
