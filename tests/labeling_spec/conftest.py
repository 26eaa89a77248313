"""Every labeling_spec test runs with an empty data home, so a classifier trained by a
user in ~/.patmatch never changes what the tests see."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(home: Path) -> Path:
    return home
