"""``patmatch serve``: the HTTP API (``patmatch keys`` is in ``api/cli/keys.py``)."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.common import cli_errors


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


@cli_errors
def serve(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes (each loads the "
                                                     "bundle and follows publishes)")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    access_log: Annotated[bool, typer.Option(help="log every request")] = False,
    http: Annotated[str, typer.Option(help="HTTP parser: auto (httptools when installed, "
                                           "else h11), httptools, h11")] = "auto",
    loop: Annotated[str, typer.Option(help="event loop: asyncio (default: a busy uvloop "
                                           "worker accepts new connections one per loop "
                                           "pass, seconds each under load), uvloop, auto "
                                           "(uvloop when installed)")] = "asyncio",
    standby: Annotated[bool, typer.Option(help="with --workers 2 or more: keep one more worker "
                                               "loaded but idle, to take over a dead worker's "
                                               "socket at once (costs one worker's memory)")] = True,
) -> None:
    """Serve the HTTP API (docs at /docs, OpenAPI at /openapi.json)."""
    import uvicorn

    from patmatch.errors import InputError

    if http not in ("auto", "httptools", "h11") or loop not in ("auto", "uvloop", "asyncio"):
        raise InputError(f"expected --http auto|httptools|h11 and --loop auto|uvloop|asyncio; "
                         f"got --http {http} --loop {loop}")
    typer.echo(f"patmatch API on http://{host}:{port} ({workers} worker(s)); "
               "create a key first: patmatch keys create NAME --role operator", err=True)
    opts = dict(factory=True, host=host, port=port, log_level=log_level, access_log=access_log,
                timeout_graceful_shutdown=30, http=http, loop=loop)
    if workers <= 1:
        uvicorn.run("api.main:create_app", **opts)
        return
    from api.cli.workers import run_workers

    run_workers(uvicorn.Config("api.main:create_app", workers=workers, **opts), standby=standby)
