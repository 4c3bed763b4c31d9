"""Declared parameters as a flow signature, so runs validate and coerce them.

The engine checks a flow's parameters against its signature with pydantic; here each
declared parameter becomes an annotated keyword-only parameter. Coercion is pydantic's
lax mode ("5" -> 5 for an integer) plus two rules for values that arrive from the command
line: a number given for a string parameter becomes its text (`--param day=20240101`),
and a boolean is never taken as a number.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

from orkest.declarative.spec import ParameterSpec

_BASE_TYPES: dict[str, Any] = {
    "string": str, "integer": int, "number": float | int, "boolean": bool, "array": list,
    "object": dict,
}


def _number_as_text(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    return value


def _one_of(allowed: list[Any]) -> Any:
    def check(value: Any) -> Any:
        if value not in allowed:
            raise ValueError(f"must be one of: {', '.join(repr(v) for v in allowed)}")
        return value

    return check


def annotation_for(spec: ParameterSpec) -> Any:
    """The type a run's value of this parameter is validated (and coerced) against."""
    annotation: Any = _BASE_TYPES[spec.type]
    if spec.type == "string":
        annotation = Annotated[annotation, BeforeValidator(_number_as_text)]
    elif spec.type in ("integer", "number"):
        annotation = Annotated[annotation, BeforeValidator(_no_bool)]
    if spec.enum is not None:
        annotation = Annotated[annotation, AfterValidator(_one_of(spec.enum))]
    if spec.has_default and spec.default is None:
        annotation = annotation | None
    return annotation


def parameter_signature(parameters: Mapping[str, ParameterSpec]) -> inspect.Signature:
    """Keyword-only parameters in file order; those without a default are required."""
    return inspect.Signature([
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY,
                          default=spec.default if spec.has_default else inspect.Parameter.empty,
                          annotation=annotation_for(spec))
        for name, spec in parameters.items()
    ])
