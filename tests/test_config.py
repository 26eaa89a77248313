"""Every frozen config refuses unknown keys with a message naming them and the known ones."""

from __future__ import annotations

import pytest

from indexing.build.build_config import BuildConfig
from indexing.encoders.encoder import EncoderConfig
from indexing.index.filters import Filters
from indexing.text.tokenizer import TokenizerConfig
from matcher.config import FusionConfig
from patmatch.errors import ConfigError, InputError


@pytest.mark.parametrize("cls", [BuildConfig, EncoderConfig, TokenizerConfig, FusionConfig])
def test_unknown_key_is_refused_and_named(cls: type) -> None:
    with pytest.raises(ConfigError) as info:
        cls.from_dict({"no_such_key": 1})
    assert "no_such_key" in info.value.message
    assert "expected some of" in info.value.message
    assert info.value.details == {"unknown": ["no_such_key"]}


@pytest.mark.parametrize("cls", [BuildConfig, EncoderConfig, TokenizerConfig, FusionConfig])
def test_round_trip(cls: type) -> None:
    cfg = cls()
    assert cls.from_dict(cfg.to_dict()) == cfg


def test_bad_filter_field_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown filter field"):
        Filters.from_dict({"chain": "nev"})
