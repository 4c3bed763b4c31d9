"""Turning a Jinja failure into a `TemplateError` a DAG author can act on.

Jinja says `'dict object' has no attribute 'tabel'`; the author needs to read
`Template 'sql' of task 'load': 'params' has no attribute 'tabel'; did you mean 'table'?
(in "SELECT * FROM {{ params.tabel }}")`. The object's name is found in the template's
syntax tree, the suggestions in the context; only mapping keys are looked up, so building
the message never calls user code or steps around the sandbox.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Mapping
from typing import Any

from jinja2 import exceptions as jinja_errors
from jinja2 import nodes

from orkest.errors import TemplateError
from orkest.templating.compiling import environment

_EXCERPT_CHARS = 120
_SHOWN_KEYS = 10
_UNDEFINED_NAME = re.compile(r"^'(?P<name>.+)' is undefined$")
_MISSING_KEY = re.compile(r" has no (?P<kind>attribute|element) (?P<key>.+)$")


def template_error(exc: Exception, source: str, context: Mapping[str, Any], *, name: str,
                   task_id: str | None) -> TemplateError:
    """The TemplateError for `exc`, raised while compiling or rendering `source`."""
    where = f"Template {name!r}" + (f" of task {task_id!r}" if task_id is not None else "")
    line = _template_line(exc)
    if isinstance(exc, jinja_errors.TemplateSyntaxError):
        problem = f"syntax error on line {exc.lineno}: {exc.message or exc}"
        line = exc.lineno
    elif isinstance(exc, jinja_errors.SecurityError):
        problem = (f"{str(exc).rstrip('.')}; templates run in a sandbox and this is "
                   f"not allowed")
    elif isinstance(exc, jinja_errors.UndefinedError):
        problem = _undefined(str(exc), source, context)
    else:
        problem = f"{type(exc).__name__}: {exc}"
    return TemplateError(f"{where}: {problem} {_excerpt(source, line)}")


def _undefined(message: str, source: str, context: Mapping[str, Any]) -> str:
    """`'foo' is undefined` or `'params' has no attribute 'x'`, with a suggestion."""
    undefined = _UNDEFINED_NAME.match(message)
    if undefined:
        return message + _suggestion(undefined["name"], [k for k in context if isinstance(k, str)])
    missing = _MISSING_KEY.search(message)
    if not missing:
        return message
    try:
        key = ast.literal_eval(missing["key"])
    except (ValueError, SyntaxError):
        return message
    path = _owner_path(source, key)
    if path is None:
        return message
    text = f"{_path_text(path)!r} has no {missing['kind']} {key!r}"
    owner = _lookup(context, path)
    if isinstance(owner, Mapping):
        keys = [str(k) for k in owner]
        hint = _suggestion(str(key), keys)
        if not hint:
            shown = ", ".join(keys[:_SHOWN_KEYS]) + (", ..." if len(keys) > _SHOWN_KEYS else "")
            hint = f" (its keys: {shown})" if keys else " (it is empty)"
        text += hint
    return text


def _suggestion(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _owner_path(source: str, key: Any) -> tuple[Any, ...] | None:
    """The one `a.b` / `a['b']` path whose `.key` or `[key]` the template reads, if unique."""
    tree = environment().parse(source)
    found = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr) and node.attr == key:
            found.add(_path(node.node))
        elif (isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const)
              and node.arg.value == key):
            found.add(_path(node.node))
    return found.pop() if len(found) == 1 else None


def _path(node: nodes.Node) -> tuple[Any, ...] | None:
    """('params', 'a', 0) for `params.a[0]`; None for anything that is not a plain path."""
    if isinstance(node, nodes.Name):
        return (node.name,)
    if isinstance(node, nodes.Getattr):
        base = _path(node.node)
        return None if base is None else (*base, node.attr)
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        base = _path(node.node)
        return None if base is None else (*base, node.arg.value)
    return None


def _path_text(path: tuple[Any, ...]) -> str:
    text = str(path[0])
    for step in path[1:]:
        text += f".{step}" if isinstance(step, str) and step.isidentifier() else f"[{step!r}]"
    return text


def _lookup(context: Mapping[str, Any], path: tuple[Any, ...]) -> Any:
    """The value at `path` following mapping keys only, or None."""
    value: Any = context
    for step in path:
        if not isinstance(value, Mapping) or step not in value:
            return None
        value = value[step]
    return value


def _template_line(exc: BaseException) -> int | None:
    """The template line Jinja put into the traceback of a render-time error."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _excerpt(source: str, line: int | None) -> str:
    """The failing line of a multi-line template, else the whole template, shortened."""
    lines = source.splitlines()
    if len(lines) > 1 and line is not None and 1 <= line <= len(lines):
        label, text = f"line {line}:", lines[line - 1].strip()
    else:
        label, text = "in", " ".join(source.split())
    if len(text) > _EXCERPT_CHARS:
        text = text[:_EXCERPT_CHARS - 3] + "..."
    return f'({label} "{text}")'
