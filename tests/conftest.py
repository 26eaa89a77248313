"""Shared fixtures: an isolated data home per test, and the third-party data folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from patmatch.settings import Settings, get_settings, shared_data_dir


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh PATMATCH_HOME for one test; settings cache cleared before and after."""
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("PATMATCH_HOME", str(h))
    get_settings.cache_clear()
    yield h
    get_settings.cache_clear()


@pytest.fixture()
def settings(home: Path) -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (or PATMATCH_SHARED_DATA); skip with a clear message when absent."""
    path = shared_data_dir()
    if path is None:
        pytest.skip("../shared/data not found (set PATMATCH_SHARED_DATA): real-data test skipped")
    return path
