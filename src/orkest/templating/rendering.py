"""render, render_native and render_structure: the three ways callers render templates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orkest.templating.compiling import compile_native, compile_text
from orkest.templating.failures import template_error


def is_template(text: str) -> bool:
    """Whether `text` has Jinja markup; other strings are returned as they are, for free."""
    return "{{" in text or "{%" in text or "{#" in text


def render(template: str, context: Mapping[str, Any], *, name: str,
           task_id: str | None = None) -> str:
    """`template` rendered with `context` as a string; failures raise TemplateError."""
    _require_str(template, name, task_id)
    if not is_template(template):
        return template
    try:
        return compile_text(template).render(context)
    except Exception as exc:
        raise template_error(exc, template, context, name=name, task_id=task_id) from exc


def render_native(template: str, context: Mapping[str, Any], *, name: str,
                  task_id: str | None = None) -> Any:
    """The Python value of a template that is exactly one `{{ expr }}`; else like `render`.

    `"{{ params.rows }}"` gives the list itself, not its repr, so operators can be fed
    lists, numbers and dicts; `"n={{ n }}"` is still a string.
    """
    _require_str(template, name, task_id)
    if not is_template(template):
        return template
    try:
        return compile_native(template)(context)
    except Exception as exc:
        raise template_error(exc, template, context, name=name, task_id=task_id) from exc


def render_structure(value: Any, context: Mapping[str, Any], *, name: str,
                     task_id: str | None = None, native: bool = False) -> Any:
    """Every string inside `value` rendered; dict keys are kept as they are.

    Errors name the place: `op_kwargs.path`, `with.rows[0]`. Tuples stay tuples (named
    tuples keep their type); values that are not str, dict, list or tuple are returned
    unchanged.
    """
    if isinstance(value, str):
        renderer = render_native if native else render
        return renderer(value, context, name=name, task_id=task_id)
    if isinstance(value, dict):
        return {key: render_structure(item, context, name=_key_name(name, key),
                                      task_id=task_id, native=native)
                for key, item in value.items()}
    if isinstance(value, list | tuple):
        items = [render_structure(item, context, name=f"{name}[{index}]", task_id=task_id,
                                  native=native)
                 for index, item in enumerate(value)]
        if isinstance(value, list):
            return items
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    return value


def _key_name(name: str, key: Any) -> str:
    return f"{name}.{key}" if isinstance(key, str) else f"{name}[{key!r}]"


def _require_str(template: Any, name: str, task_id: str | None) -> None:
    if not isinstance(template, str):
        task = f" of task {task_id!r}" if task_id is not None else ""
        raise TypeError(f"Template {name!r}{task}: expected a str, got "
                        f"{type(template).__name__}")
