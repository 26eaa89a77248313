"""Shared plumbing for the frozen configuration dataclasses (foundation layer).

Every config's ``from_dict`` refuses unknown keys, so a typo in a saved manifest or a
config file never silently becomes the default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from patmatch.errors import ConfigError, PatmatchError


def checked_fields(
    cls: type, data: Mapping[str, Any] | None, what: str,
    *, error: type[PatmatchError] = ConfigError,
) -> dict[str, Any]:
    """``data`` as a dict, after checking that every key is a field of dataclass ``cls``.

    ``what`` names the keys in the message, e.g. "tokenizer config keys".
    """
    d = dict(data or {})
    known = sorted(f.name for f in fields(cls))
    unknown = sorted(set(d) - set(known))
    if unknown:
        raise error(f"unknown {what} {unknown}; expected some of {known}",
                    details={"unknown": unknown})
    return d
