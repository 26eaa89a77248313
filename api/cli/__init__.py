"""The ``patmatch`` command. Each area registers its commands from its own module.

Command modules import only typer at module level; heavy libraries are imported inside
the command functions so that ``patmatch --help`` stays well under a second.
"""

from __future__ import annotations

import typer

from api.cli import (bench, data, db, encoder, index, jobs, keys, labels, match, push,
                     report, serve, transfers)

app = typer.Typer(
    name="patmatch",
    help="Patent supply-demand matching: ingest, label, build, publish, match, serve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

@app.callback()
def _root() -> None:
    """Patent supply-demand matching: ingest, label, build, publish, match, serve."""


@app.command("version")
def version() -> None:
    """Print the patmatch version."""
    from patmatch import __version__

    typer.echo(__version__)


for _module in (data, labels, encoder, index, match, serve, keys, report, bench, transfers,
                push, jobs, db):
    _module.register(app)


def main() -> None:
    app()
