"""Variables (JSON values) and secrets (encrypted strings), by name."""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any

from orkest._internal import masking
from orkest.errors import ConfigurationError, ObjectNotFound

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,199}$")
_MISSING: Any = object()


def check_name(kind: str, name: object) -> str:
    """Names start with a letter or _, then letters, digits, _ . - (at most 200)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"Invalid {kind} name {name!r}: use letters, digits, '_', '.' and "
                         "'-', starting with a letter or '_' (at most 200 characters)")
    return name


def env_name(name: str) -> str:
    """ORKEST_SECRET_<NAME>: upper case, every other character as '_'."""
    return "ORKEST_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def config_store(store: Any = None) -> Any:
    if store is None:
        from orkest.store import open_store

        store = open_store()
    if not hasattr(store, "set_variable"):
        raise ConfigurationError(
            f"{store!r} cannot hold variables and secrets: set ORKEST_DATABASE_URL to a "
            "SQLite or PostgreSQL database (the default is ~/.orkest/orkest.db), or "
            "ORKEST_API_URL to a server")
    return store


class Variable:
    """A named JSON value shared by flows, templates (`{{ var.name }}`) and people."""

    @staticmethod
    def set(name: str, value: Any, *, store: Any = None) -> None:
        check_name("variable", name)
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"Variable {name!r}: the value must be JSON (str, number, bool, "
                             f"None, list, dict): {exc}") from None
        config_store(store).set_variable(name, value, time.time())

    @staticmethod
    def get(name: str, default: Any = None, *, store: Any = None) -> Any:
        check_name("variable", name)
        try:
            return config_store(store).read_variable(name).value
        except ObjectNotFound:
            return default

    @staticmethod
    def delete(name: str, *, store: Any = None) -> None:
        config_store(store).delete_variable(check_name("variable", name))


class Secret:
    """A named secret string: `Secret(name).get()` inside a flow; never shown in plaintext."""

    def __init__(self, name: str) -> None:
        self.name = check_name("secret", name)

    @staticmethod
    def set(name: str, value: str, *, store: Any = None) -> None:
        check_name("secret", name)
        if not isinstance(value, str):
            raise ValueError(f"Secret {name!r}: the value must be a string, not "
                             f"{type(value).__name__}")
        masking.register(value)
        config_store(store).set_secret(name, value, time.time())

    def get(self, *, store: Any = None) -> str:
        """The value (ORKEST_SECRET_<NAME> wins over the store); masked from now on.

        SecretNotFound names the secret and how to set it.
        """
        value = os.environ.get(env_name(self.name))
        if value is None:
            value = config_store(store).read_secret_value(self.name)
        masking.register(value)
        return value

    def __repr__(self) -> str:
        return f"Secret({self.name!r})"
