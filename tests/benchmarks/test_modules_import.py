"""Every module under benchmarks/ imports (nothing is run): a moved or renamed helper
breaks this test instead of a study nobody ran for a month."""

from __future__ import annotations

import importlib
import pkgutil

import benchmarks
import pytest

MODULES = sorted(m.name for m in pkgutil.walk_packages(benchmarks.__path__, "benchmarks."))


def test_the_benchmark_modules_are_found() -> None:
    assert len(MODULES) >= 20 and "benchmarks.report" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_benchmark_module_imports(name: str) -> None:
    importlib.import_module(name)
