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
    """Decorate a command: errors print ``error: <message>`` (no traceback) and exit."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PatmatchError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            for key, value in exc.details.items():
                typer.echo(f"  {key}: {value}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("interrupted: nothing was committed", err=True)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def echo_err(message: str) -> None:
    print(message, file=sys.stderr)


class progress_bar:  # noqa: N801 - used as a context manager like open()
    """A tqdm bar on stderr with rate and ETA, only when stderr is a terminal (cron, CI
    and pipes stay quiet); ``with progress_bar(n, "标引") as update: update(k)``."""

    def __init__(self, total: int, desc: str, *, unit: str = "条",
                 force: bool | None = None) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.show = sys.stderr.isatty() if force is None else force
        self._bar: Any = None

    def __enter__(self) -> Callable[[int], None]:
        if self.show and self.total > 0:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, desc=self.desc, unit=self.unit, file=sys.stderr,
                             bar_format="{desc} {bar:20} {n_fmt}/{total_fmt} "
                                        "[{elapsed}<{remaining}, {rate_fmt}]")
        return self.update

    def update(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()
