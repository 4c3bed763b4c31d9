"""Flow parameters: bind a call to the signature, validate and coerce with pydantic.

The pydantic model is built on first use and kept, so `import orkest` stays light and a
flow with no annotated parameters never loads pydantic at all.
"""

from __future__ import annotations

import datetime as dt
import enum
import inspect
from typing import Any

from orkest.errors import ParameterValidationError

_VAR_KINDS = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


class ParameterModel:
    """Validation and coercion of one flow's parameters."""

    def __init__(self, flow_name: str, signature: inspect.Signature) -> None:
        self.flow_name = flow_name
        self.signature = signature
        self._adapter: Any = None
        self.needs_validation = any(
            p.annotation is not inspect.Parameter.empty and p.kind not in _VAR_KINDS
            for p in signature.parameters.values()
        )

    def bind(self, args: tuple, kwargs: dict) -> dict[str, Any]:
        """Parameters by name, defaults applied; a bad call names what is wrong."""
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise ParameterValidationError(self.flow_name, [(_culprit(str(exc)), str(exc))]) \
                from None
        bound.apply_defaults()
        return dict(bound.arguments)

    def call_args(self, params: dict[str, Any]) -> tuple[tuple, dict[str, Any]]:
        """Positional and keyword arguments that call the function with `params`."""
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for name, param in self.signature.parameters.items():
            if name not in params:
                continue
            if param.kind is inspect.Parameter.POSITIONAL_ONLY:
                args.append(params[name])
            elif param.kind is inspect.Parameter.VAR_POSITIONAL:
                args.extend(params[name])
            elif param.kind is inspect.Parameter.VAR_KEYWORD:
                kwargs.update(params[name])
            else:
                kwargs[name] = params[name]
        return tuple(args), kwargs

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        if not self.needs_validation:
            return params
        from pydantic import ValidationError

        adapter = self._adapter or self._build()
        try:
            validated = adapter.validate_python(params)
        except ValidationError as exc:
            problems = [
                (str(err["loc"][0]) if err["loc"] else "?",
                 f"{err['msg']} (got {_short(err.get('input'))})")
                for err in exc.errors()
            ]
            raise ParameterValidationError(self.flow_name, problems) from None
        return {name: getattr(validated, f"p_{name}") for name in params}

    def json_schema(self) -> dict[str, Any]:
        """JSON Schema of the parameters (the UI's Run form, `deployment inspect`).

        A parameter whose type has no JSON form (an arbitrary class) is left untyped.
        """
        names = [n for n, p in self.signature.parameters.items() if p.kind not in _VAR_KINDS]
        required = [n for n in names
                    if self.signature.parameters[n].default is inspect.Parameter.empty]
        try:
            adapter = self._adapter or self._build()
            schema = adapter.json_schema(by_alias=True)
        except Exception:  # noqa: BLE001 - pydantic cannot describe every annotation
            schema = {"type": "object",
                      "properties": {n: {"title": n.replace("_", " ").title()}
                                     for n in names}}
        schema["title"] = self.flow_name
        schema["required"] = required
        properties = schema.get("properties", {})
        for name in names:
            default = self.signature.parameters[name].default
            if default is not inspect.Parameter.empty and name in properties:
                properties[name]["default"] = to_jsonable(default)
        return schema

    def _build(self) -> Any:
        from pydantic import ConfigDict, Field, TypeAdapter, create_model

        fields: dict[str, Any] = {}
        for name, param in self.signature.parameters.items():
            if param.kind in _VAR_KINDS:
                annotation: Any = tuple if param.kind is inspect.Parameter.VAR_POSITIONAL \
                    else dict
            else:
                annotation = Any if param.annotation is inspect.Parameter.empty \
                    else param.annotation
            default = ... if param.default is inspect.Parameter.empty else param.default
            # Prefixed field + alias: a parameter called "json" or "schema" must not
            # shadow BaseModel attributes.
            fields[f"p_{name}"] = (annotation, Field(default, alias=name))
        model = create_model(  # type: ignore[call-overload]
            f"{self.flow_name}_parameters",
            __config__=ConfigDict(arbitrary_types_allowed=True),
            **fields,
        )
        self._adapter = TypeAdapter(model)
        return self._adapter


def _culprit(message: str) -> str:
    if "'" in message:
        return message.split("'")[1]
    return "?"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def to_jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON-ready copy of a parameter value; unknown types become their repr."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if depth > 8:
        return _short(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v, depth + 1) for v in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value, depth + 1)
    if hasattr(value, "__fspath__") or type(value).__name__ == "UUID":  # paths, uuids
        return str(value)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return to_jsonable(dump(mode="json"), depth + 1)
    return _short(value)


_PLAIN = frozenset({type(None), bool, int, float})


def summarize(value: Any, depth: int = 0) -> Any:
    """A cheap, bounded description of a task input for the run record (hot path)."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is str:
        return value if len(value) <= 200 else value[:197] + "..."
    run = getattr(value, "task_run", None)
    if run is not None and hasattr(run, "dynamic_key"):
        return {"__task_run__": run.id}
    if isinstance(value, list | tuple | set | frozenset):
        if depth >= 2 or len(value) > 20:
            return f"<{type(value).__name__} of {len(value)}>"
        return [summarize(v, depth + 1) for v in value]
    if isinstance(value, dict):
        if depth >= 2 or len(value) > 20:
            return f"<dict of {len(value)}>"
        return {str(k): summarize(v, depth + 1) for k, v in value.items()}
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return f"<{type(value).__name__}>"
