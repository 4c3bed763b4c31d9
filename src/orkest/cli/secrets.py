"""`orkest secret set|ls|rm|rotate-key`: encrypted secrets, never printed.

`set` reads the value from a hidden prompt (asked twice) at a terminal, else from stdin
(`vault read ... | orkest secret set db-password`), so it stays out of shell history;
`--value` exists for scripts that accept that. Listings show `***` and when a secret last
changed. `rotate-key` re-encrypts every value with a new key (docs/configuration.md).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from orkest.cli.output import EXIT_FAILED, EXIT_USAGE, exit_with

MASK = "***"


@click.group("secret")
def secret_group() -> None:
    """Set, list and remove encrypted secrets, and rotate their key (values never shown)."""


def _store() -> Any:
    from orkest.config.values import config_store

    return config_store()


def _name(name: str) -> str:
    from orkest.config.values import check_name

    try:
        return check_name("secret", name)
    except ValueError as exc:
        exit_with(str(exc), EXIT_USAGE)


def read_value(name: str) -> str:
    """The value from a hidden prompt at a terminal, else all of stdin (one final newline
    dropped, as `echo` and here-strings add it)."""
    if sys.stdin.isatty():
        return click.prompt(f"Value of secret {name!r}", hide_input=True,
                            confirmation_prompt=True, prompt_suffix=": ")
    text = sys.stdin.read()
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


@secret_group.command("set")
@click.argument("name")
@click.option("--value", metavar="VALUE",
              help="The value itself. Visible in shell history and to `ps`: prefer the "
                   "prompt, or stdin (`... | orkest secret set NAME`).")
def set_command(name: str, value: str | None) -> None:
    """Set a secret, encrypted at rest; the value comes from a hidden prompt or stdin."""
    from orkest.cli.output import console, plain
    from orkest.config.values import Secret

    name = _name(name)
    if value is None:
        value = read_value(name)
    if not value:
        exit_with(f"Secret {name!r}: the value is empty; nothing was stored", EXIT_USAGE)
    Secret.set(name, value, store=_store())
    console().print(plain(f"Secret {name!r} set (encrypted; shown as {MASK})"))


@secret_group.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON records instead of a table.")
def ls_command(as_json: bool) -> None:
    """List secrets: name, `***` and when each last changed (never a value)."""
    from rich.table import Table

    from orkest.cli.output import console, fmt_time, jsonable, plain, print_json

    found = _store().list_secrets()
    if as_json:
        print_json([{**jsonable(info), "value": MASK} for info in found])
        return
    if not found:
        console().print("No secrets. Set one with `orkest secret set NAME`.")
        return
    table = Table(title="Secrets", title_justify="left")
    for column in ("Name", "Value", "Last changed", "Key"):
        table.add_column(column)
    for info in found:
        table.add_row(plain(info.name), MASK, fmt_time(info.updated_ts), plain(info.key_id))
    console().print(table)


@secret_group.command("rm")
@click.argument("name")
def rm_command(name: str) -> None:
    """Remove a secret."""
    from orkest.cli.output import console, plain
    from orkest.errors import ObjectNotFound

    name = _name(name)
    try:
        _store().delete_secret(name)
    except ObjectNotFound:
        exit_with(f"No secret {name!r} (see `orkest secret ls`)", EXIT_FAILED)
    console().print(plain(f"Secret {name!r} removed"))


NEW_KEY_HINT = ('python -c "import base64, os; '
                'print(base64.urlsafe_b64encode(os.urandom(32)).decode())"')


@secret_group.command("rotate-key")
@click.option("--new-key", metavar="KEY",
              help="The new key (32 bytes, urlsafe-base64) when the current one comes from "
                   "ORKEST_SECRET_KEY; with the key file, a fresh key is made for you.")
def rotate_key_command(new_key: str | None) -> None:
    """Re-encrypt every secret and block secret field with a new key, in one transaction."""
    from orkest import settings
    from orkest.cli.output import console
    from orkest.errors import SecretKeyError
    from orkest.store import crypto

    store = _store()
    remote = settings.current().api_url is not None
    from_env = bool(os.environ.get(crypto.KEY_ENV))
    raw = None
    if new_key is not None:
        try:
            raw = crypto.decode_key(new_key, "--new-key")
        except SecretKeyError as exc:
            exit_with(f"{exc} Make one with: {NEW_KEY_HINT}", EXIT_USAGE)
    if not remote and from_env and raw is None:
        exit_with(f"The key comes from {crypto.KEY_ENV}: give the new one with "
                  f"`orkest secret rotate-key --new-key KEY` (make one with: {NEW_KEY_HINT}), "
                  f"then set {crypto.KEY_ENV} to it where orkest runs", EXIT_USAGE)
    if not remote and not from_env and raw is not None:
        exit_with(f"--new-key is for a key given in {crypto.KEY_ENV}; the key file "
                  f"{crypto.key_path()} is rotated with a fresh random key: run "
                  "`orkest secret rotate-key` without --new-key", EXIT_USAGE)
    out = console()
    if not remote and not from_env and finish_interrupted_rotation(store):
        out.print(f"Finished an interrupted rotation: {crypto.NEW_KEY_FILE} became "
                  f"{crypto.KEY_FILE}.")
    count = store.rotate_secret_key(raw)
    new_id = _new_key_id(store, raw, remote)
    out.print(f"Re-encrypted {count} value(s) with the new key {new_id}.")
    if raw is not None:
        out.print(f"Now set {crypto.KEY_ENV}=<the --new-key value> wherever orkest runs "
                  "(server, workers, flows): the old key no longer reads them.")


def _new_key_id(store: Any, raw: bytes | None, remote: bool) -> str:
    from orkest.store import crypto

    if raw is not None:
        return crypto.key_id(raw)
    if not remote:
        return crypto.current_key(create=False, home=getattr(store, "key_home", None)).id
    ids = {info.key_id for info in store.list_secrets()}
    return ids.pop() if len(ids) == 1 else "(the server's new key)"


def finish_interrupted_rotation(store: Any) -> bool:
    """Promote a leftover secret.key.new the stored values use (see
    SqlConfig.finish_interrupted_rotation); False for stores that hold no key file."""
    finish = getattr(store, "finish_interrupted_rotation", None)
    return bool(finish()) if callable(finish) else False
