"""The one sandboxed Jinja environment, and compiled templates cached by their source.

A DAG renders the same few templates for every task run and every retry; compiling is
~100x the cost of rendering, so compiled forms are kept in bounded LRU caches keyed on the
source string (the environment never changes, so the source is the whole key).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import StrictUndefined, Undefined, nodes
from jinja2.environment import Template, TemplateExpression
from jinja2.sandbox import ImmutableSandboxedEnvironment

CACHE_SIZE = 1024

Renderer = Callable[[Mapping[str, Any]], Any]


class _StrictUndefined(StrictUndefined):
    """StrictUndefined that also refuses `repr`, so `{{ [typo] }}` fails like `{{ typo }}`.

    Jinja prints a list through repr(), and StrictUndefined's repr is "Undefined": the
    command would run with `[Undefined]` in it instead of failing.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return self.__str__()  # raises UndefinedError with Jinja's message


@functools.cache
def environment() -> ImmutableSandboxedEnvironment:
    """Immutable sandbox (no attribute tricks, no mutating context values), strict names;
    `var` (the configuration store's variables) is there for every template."""
    from orkest.templating.variables import VARIABLES

    env = ImmutableSandboxedEnvironment(undefined=_StrictUndefined, autoescape=False,
                                        keep_trailing_newline=True)
    env.globals["var"] = VARIABLES
    return env


@functools.lru_cache(maxsize=CACHE_SIZE)
def compile_text(source: str) -> Template:
    """`source` compiled as a template that renders to a string."""
    return environment().from_string(source)


@functools.lru_cache(maxsize=CACHE_SIZE)
def compile_native(source: str) -> Renderer:
    """A function of the context: the native value if `source` is one `{{ expr }}`, else text."""
    env = environment()
    expr = _single_expression(env.parse(source))
    if expr is None:
        return compile_text(source).render
    # What env.compile_expression builds, from the node we already parsed.
    body = nodes.Template([nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)],
                          lineno=1)
    expression = TemplateExpression(env.from_string(body), undefined_to_none=False)
    deep = isinstance(expr, _LITERALS) or any(True for _ in expr.find_all(_LITERALS))

    def evaluate(context: Mapping[str, Any]) -> Any:
        value = expression(context)
        _require_defined(value, deep)
        return value

    return evaluate


_LITERALS = (nodes.List, nodes.Tuple, nodes.Dict)


def _single_expression(tree: nodes.Template) -> nodes.Expr | None:
    """The expression of a template that is `{{ expr }}` with only whitespace around it."""
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
        return None
    parts = [node for node in tree.body[0].nodes
             if not (isinstance(node, nodes.TemplateData) and not node.data.strip())]
    if len(parts) != 1 or isinstance(parts[0], nodes.TemplateData):
        return None
    return parts[0]


def _require_defined(value: Any, deep: bool) -> None:
    """Raise Jinja's UndefinedError for an undefined result, as rendering it would.

    An expression's value is not printed, so a bare `{{ missing }}` would otherwise return
    an Undefined object. Containers are searched only when the expression builds one
    literally (`[a, b]`): values taken from the context cannot hold Undefined, and
    walking a large list on every render would be wasted work.
    """
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises here with its own message
    elif deep and isinstance(value, list | tuple):
        for item in value:
            _require_defined(item, deep)
    elif deep and isinstance(value, dict):
        for item in value.values():
            _require_defined(item, deep)
