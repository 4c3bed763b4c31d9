"""`{{ var.name }}` in every template: variables of the configuration store, read lazily.

Templating sits below the configuration store (orkest.config), so it reads a variable
through the "variable" hook that `orkest/__init__.py` registers. Nothing is read until a
template names a variable, and each read asks the store again, so a template always sees
the value set last. A missing variable is Jinja's strict undefined carrying the store's
message (its name and how to set it): rendering it raises, while `| default(...)` and
`is defined` work as they do for any other name.

Values are the variables' JSON values. Objects and arrays render as JSON text (so
`echo '{{ var.cfg }}' | jq .` works) and stay dicts and lists for `var.cfg.key` and for
native rendering; strings render as they are.
"""

from __future__ import annotations

import json
from typing import Any

from orkest._internal import hooks
from orkest.errors import ObjectNotFound

HOOK = "variable"


class JsonDict(dict[str, Any]):
    """A variable's object: a dict that renders as JSON text."""

    __slots__ = ()

    def __str__(self) -> str:
        return json.dumps(self)


class JsonList(list[Any]):
    """A variable's array: a list that renders as JSON text."""

    __slots__ = ()

    def __str__(self) -> str:
        return json.dumps(self)


def as_rendered(value: Any) -> Any:
    """`value` with every object and array inside it rendering as JSON text."""
    if isinstance(value, dict):
        return JsonDict((key, as_rendered(item)) for key, item in value.items())
    if isinstance(value, list):
        return JsonList(as_rendered(item) for item in value)
    return value


class Variables:
    """The `var` of templates: `var.name` and `var["name-with-dashes"]`.

    It has no attributes of its own, so every variable name is free; the sandbox keeps
    names starting with "_" out of `var._x` (use `var["_x"]`).
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)  # copy, pickle and friends probe dunders
        return lookup(name)

    def __getitem__(self, name: str) -> Any:
        return lookup(name)

    def __repr__(self) -> str:
        return "<orkest variables: {{ var.name }} or {{ var['name'] }}>"


def lookup(name: Any) -> Any:
    """The variable's value, or a strict undefined that says why when it is used."""
    from orkest.templating.compiling import environment

    try:
        value = hooks.call(HOOK, name)
    except (ObjectNotFound, ValueError) as exc:
        return environment().undefined(hint=str(exc), name=str(name))
    return as_rendered(value)


VARIABLES = Variables()
