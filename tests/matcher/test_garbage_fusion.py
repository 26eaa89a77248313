"""Garbage fusion settings are a ConfigError (400), never a bare ValueError (500)."""

from __future__ import annotations

import math

import pytest

from matcher.config import FusionConfig
from patmatch.errors import ConfigError


@pytest.mark.parametrize("w", [(math.nan, 1.0), (math.inf, 1.0), (1.0, -math.inf),
                               (-1.0, 1.0), (0.0, 0.0), (math.nan, math.nan)])
def test_non_finite_or_negative_weights(w: tuple[float, float]) -> None:
    with pytest.raises(ConfigError, match="weights"):
        FusionConfig(weights=w)
