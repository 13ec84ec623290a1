"""Where the data lives when ``WANGGE_DATA_DIR`` is not set: the nearest ``.wangge/`` up."""

from __future__ import annotations

from pathlib import Path

import pytest

from gis.settings import Settings, find_data_dir


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
