"""Jinja templating of operator fields and flow-file values, in a sandbox.

Templates are user text rendered with run data (`{{ ds }}`, `{{ params.x }}`, XComs), so
they run in Jinja's immutable sandbox with strict undefined names: a typo fails the task
with a `TemplateError` naming the template and task instead of rendering an empty string.
Every template also sees `var`, the configuration store's variables (`{{ var.name }}`,
templating/variables.py), read when a template names one.

    render(template, context, name=..., task_id=...)            -> str
    render_native(template, context, name=..., task_id=...)     -> the value of `{{ expr }}`
    render_structure(value, context, name=..., native=False)    -> dicts/lists rendered deeply
    build_macros()                                              -> the `macros` namespace
"""

from orkest.templating.macros import Macros, build_macros
from orkest.templating.rendering import render, render_native, render_structure

__all__ = ["Macros", "build_macros", "render", "render_native", "render_structure"]
