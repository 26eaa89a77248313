"""Shared CLI plumbing: turn PatmatchError into a clear message and an exit code."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from patmatch.errors import PatmatchError

F = TypeVar("F", bound=Callable[..., Any])


def cli_errors(fn: F) -> F:
    """Decorate a command: errors print ``错误：<message>`` (no traceback) and exit with
    the error's exit code. The message itself is the engine's (it names what was expected
    and what arrived, with the field names an operator types)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PatmatchError as exc:
            typer.echo(f"错误：{exc.message}", err=True)
            for key, value in exc.details.items():
                typer.echo(f"  {key}: {value}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("已中断：没有提交任何更改", err=True)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def echo_err(message: str) -> None:
    print(message, file=sys.stderr)


def progress_bar(total: int, desc: str, *, unit: str = "条", force: bool | None = None) -> Any:
    """A bar on stderr with rate and ETA, only when stderr is a terminal (cron, CI and pipes
    stay quiet): ``with progress_bar(n, "标引") as bar: bar(k)`` (``patmatch.progress``)."""
    from patmatch.progress import ProgressBar

    return ProgressBar(total, desc, unit=unit, force=force)
