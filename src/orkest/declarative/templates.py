"""What a flow file's templates refer to, found without rendering them.

Rendering happens at run time, but a typo in `{{ tasks.extrct.result }}` or
`{{ params.datset }}` should fail when the file is loaded, naming the field. The
templating environment parses and compiles the template (so unknown filters fail here
too); we walk its syntax tree for `tasks.<id>` / `tasks['<id>']` and
`params.<name>` / `params['<name>']`. Dynamic uses (`tasks[name]`, loops over `tasks`)
cannot be checked here and are left to run time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class TemplateRefs:
    """References in one template; `error` is set when it does not even parse."""

    tasks: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)
    bare_tasks: list[str] = field(default_factory=list)  # tasks.x without .result
    bad_attrs: list[tuple[str, str]] = field(default_factory=list)  # tasks.x.<not result>
    error: str | None = None


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text or "{#" in text


def strings_in(value: Any, path: tuple[str | int, ...] = ()
               ) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(sub-path, string) for every string inside a nested value (a `with:` argument)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings_in(item, (*path, index))


def find_refs(text: str) -> TemplateRefs:
    """The task and parameter names `text` uses; a syntax error is reported, not raised."""
    import jinja2
    from jinja2 import nodes

    from orkest.templating.compiling import environment

    refs = TemplateRefs()
    env = environment()  # the environment runs render with: same filters, same syntax
    try:
        tree = env.parse(text)
        env.compile(tree)  # unknown filters and tests fail here, not at parse time
    except jinja2.TemplateSyntaxError as exc:
        where = f" (template line {exc.lineno})" if "\n" in text.strip() else ""
        refs.error = f"template syntax error{where}: {exc.message}"
        return refs
    called = {id(call.node) for call in tree.find_all(nodes.Call)}
    task_nodes: dict[int, str] = {}
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name = _static_key(node)
        base = node.node
        if name is None or not isinstance(base, nodes.Name):
            continue
        if base.name == "tasks":
            refs.tasks.append(name)
            task_nodes[id(node)] = name
        elif base.name == "params" and id(node) not in called:
            refs.params.append(name)
    used: set[int] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        task_id = task_nodes.get(id(node.node))
        if task_id is None:
            continue
        used.add(id(node.node))
        attr = _static_key(node)
        if attr != "result":
            refs.bad_attrs.append((task_id, attr or "[...]"))
    refs.bare_tasks = [name for key, name in task_nodes.items() if key not in used]
    return refs


def _static_key(node: Any) -> str | None:
    """`x.name` -> "name"; `x['name']` -> "name"; anything computed -> None."""
    from jinja2 import nodes

    if isinstance(node, nodes.Getattr):
        return node.attr
    if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        return node.arg.value
    return None
