"""``patmatch keys create|list|revoke``: API key administration (only the hash is stored).

What it prints is for the operator, in Simplified Chinese: roles and chains by their
Chinese names (the chain id in parentheses, as ``--chain`` accepts it)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from api.cli.common import cli_errors

keys_app = typer.Typer(help="Create, list and revoke API keys (only their hash is stored).",
                       no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")


def _store():
    from api.db import open_api_db
    from api.security import KeyStore
    from patmatch.settings import get_settings

    return KeyStore(open_api_db(get_settings()))


def _check_chains(chains: tuple[str, ...]) -> tuple[str, ...]:
    """Chain ids from ids or Chinese names (动力电池与新型储能); a typo would silently scope
    a centre to nothing: refuse it, naming the accepted values."""
    if not chains:
        return ()
    from labeling_spec import load_taxonomy
    from patmatch.errors import InputError, NotFoundError

    try:
        return load_taxonomy().resolve_many(list(chains))
    except NotFoundError as exc:
        raise InputError(exc.message, details=exc.details) from None


def _describe(info: Any) -> str:
    """A key's holder and scope in Chinese: 运营中心「name」，中心 c，产业链 名称（id）、..."""
    from api.ui.messages import ROLE_ZH

    text = f"{ROLE_ZH.get(info.role, info.role)}「{info.name}」"
    if info.centre:
        text += f"，中心 {info.centre}"
    if info.chains:
        from labeling_spec import load_taxonomy

        taxonomy = load_taxonomy()
        text += "，产业链 " + "、".join(f"{taxonomy.name_of(c)}（{c}）" for c in info.chains)
    return text


@keys_app.command("create")
@cli_errors
def keys_create(
    name: Annotated[str, typer.Argument(help="who holds the key, e.g. 常州新能源汽车运营中心")],
    role: Annotated[str, typer.Option(help="operator | analyst | centre | broker")],
    centre: Annotated[str | None, typer.Option(help="centre id (role centre): its demands "
                                                    "are recorded as owned by it")] = None,
    chain: Annotated[list[str] | None, typer.Option(help="assigned chain id or Chinese name; repeat for "
                                                         "several (centre, optional broker)")] = None,
) -> None:
    """Create a key and print it ONCE: it cannot be shown again."""
    chains = _check_chains(tuple(chain or ()))
    key, info = _store().create(name, role, centre=centre, chains=chains)
    typer.echo(key)
    typer.echo(f"已创建密钥 {info.key_id}：{_describe(info)}"
               "（请立即保存密钥：只保存其哈希，无法再次显示）", err=True)


@keys_app.command("list")
@cli_errors
def keys_list(
    all_: Annotated[bool, typer.Option("--all", help="include revoked keys")] = False,
) -> None:
    """List keys (ids, roles, scopes; never the keys)."""
    rows = _store().list(include_revoked=all_)
    if not rows:
        typer.echo("没有密钥", err=True)
        return
    for k in rows:
        state = f"已吊销（{k.revoked_at[:19]}）" if k.revoked_at else "有效"
        typer.echo(f"{k.key_id}  {state}  创建于 {k.created_at[:19]}  {_describe(k)}")


@keys_app.command("revoke")
@cli_errors
def keys_revoke(key_id: Annotated[str, typer.Argument(help="the key id shown by keys list")]
                ) -> None:
    """Revoke a key (running servers stop accepting it within seconds)."""
    info = _store().revoke(key_id)
    typer.echo(f"已吊销密钥 {info.key_id}（{_describe(info)}）")
