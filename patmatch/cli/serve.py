"""``patmatch serve`` (the HTTP API) and ``patmatch keys`` (API key administration)."""

from __future__ import annotations

from typing import Annotated

import typer

from patmatch.cli._common import cli_errors

keys_app = typer.Typer(help="Create, list and revoke API keys (only their hash is stored).",
                       no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")


@cli_errors
def serve(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes (each loads the "
                                                     "bundle and follows publishes)")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    access_log: Annotated[bool, typer.Option(help="log every request")] = False,
) -> None:
    """Serve the HTTP API (docs at /docs, OpenAPI at /openapi.json)."""
    import uvicorn

    typer.echo(f"patmatch API on http://{host}:{port} ({workers} worker(s)); "
               "create a key first: patmatch keys create NAME --role operator", err=True)
    if workers <= 1:
        uvicorn.run("api.main:create_app", factory=True, host=host, port=port,
                    log_level=log_level, access_log=access_log, timeout_graceful_shutdown=30)
        return
    _run_workers(uvicorn.Config("api.main:create_app", factory=True, host=host, port=port,
                                workers=workers, log_level=log_level, access_log=access_log,
                                timeout_graceful_shutdown=30))


def _run_workers(config: "uvicorn.Config") -> None:  # noqa: F821 - lazy import
    """uvicorn's multi-worker mode, but with a listening socket created with
    ``proto=IPPROTO_TCP``.

    uvicorn binds ``socket.socket(family)`` (proto 0); the workers rebuild it with proto 0,
    and asyncio only sets TCP_NODELAY on sockets whose proto is IPPROTO_TCP. Without
    TCP_NODELAY, Nagle + delayed ACK add ~40 ms to every response (measured: p50 56 ms
    with 2 workers vs 15 ms with 1, same bundle; benchmarks/results/2026-11-24-vm.md).
    """
    import socket

    from uvicorn.supervisors import Multiprocess

    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((config.host, config.port))
    sock.set_inheritable(True)
    try:
        Multiprocess(config, sockets=[sock]).run()
    except KeyboardInterrupt:
        pass


def _store():
    from api.db import ApiDB, api_db_path
    from api.security import KeyStore
    from patmatch.settings import get_settings

    return KeyStore(ApiDB(api_db_path(get_settings().home)))


def _check_chains(chains: tuple[str, ...]) -> None:
    """A typo in a chain id would silently scope a centre to nothing: refuse it."""
    if not chains:
        return
    from labeling_spec import load_taxonomy
    from patmatch.errors import InputError

    known = {c.id for c in load_taxonomy().chains}
    unknown = [c for c in chains if c not in known]
    if unknown:
        raise InputError(f"unknown chain id(s) {', '.join(unknown)}; expected some of "
                         f"{', '.join(sorted(known))}", details={"unknown": unknown})


@keys_app.command("create")
@cli_errors
def keys_create(
    name: Annotated[str, typer.Argument(help="who holds the key, e.g. 常州新能源汽车运营中心")],
    role: Annotated[str, typer.Option(help="operator | analyst | centre | broker")],
    centre: Annotated[str | None, typer.Option(help="centre id (role centre): its demands "
                                                    "are recorded as owned by it")] = None,
    chain: Annotated[list[str] | None, typer.Option(help="assigned chain id; repeat for "
                                                         "several (centre, optional broker)")] = None,
) -> None:
    """Create a key and print it ONCE: it cannot be shown again."""
    _check_chains(tuple(chain or ()))
    key, info = _store().create(name, role, centre=centre, chains=tuple(chain or ()))
    typer.echo(key)
    typer.echo(f"key id {info.key_id}: {info.role} '{info.name}'"
               + (f", centre {info.centre}" if info.centre else "")
               + (f", chains {','.join(info.chains)}" if info.chains else "")
               + " (store the key now; only its hash is kept)", err=True)


@keys_app.command("list")
@cli_errors
def keys_list(
    all_: Annotated[bool, typer.Option("--all", help="include revoked keys")] = False,
) -> None:
    """List keys (ids, roles, scopes; never the keys)."""
    rows = _store().list(include_revoked=all_)
    if not rows:
        typer.echo("no keys", err=True)
        return
    typer.echo(f"{'key_id':<10}{'role':<10}{'centre':<14}{'chains':<28}{'created':<25}"
               f"{'revoked':<10}name")
    for k in rows:
        typer.echo(f"{k.key_id:<10}{k.role:<10}{(k.centre or '-'):<14}"
                   f"{(','.join(k.chains) or '-'):<28}{k.created_at[:19]:<25}"
                   f"{('yes' if k.revoked_at else 'no'):<10}{k.name}")


@keys_app.command("revoke")
@cli_errors
def keys_revoke(key_id: Annotated[str, typer.Argument(help="the key id shown by keys list")]
                ) -> None:
    """Revoke a key (running servers stop accepting it within seconds)."""
    info = _store().revoke(key_id)
    typer.echo(f"revoked {info.key_id} ({info.role} '{info.name}')")
