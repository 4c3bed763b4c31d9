"""The flow file format (SPEC §3) as pydantic models: the one source of its JSON Schema.

The models check each field's shape (types, allowed keys, patterns, ranges). Rules that
span fields or tasks (exactly one of shell/python, depends_on naming real tasks, cycles,
templates, python targets) live in `checks.py`, which knows the precise field paths.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from orkest.dag.trigger_rules import TriggerRule

TASK_ID_PATTERN = r"^[A-Za-z0-9_.-]+$"
FLOW_NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,250}$"
PARAMETER_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
PYTHON_TARGET_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:" \
                        r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
CRON_ALIASES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight",
                "@hourly")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?#-]+$")

ParameterType = Literal["string", "integer", "number", "boolean", "array", "object"]
Retries = Annotated[int, Field(strict=True, ge=0, description="Retries after a failure.")]
Seconds = Annotated[float, Field(strict=True, ge=0)]
PositiveSeconds = Annotated[float, Field(strict=True, gt=0)]

_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "array": (list,), "object": (dict,),
}


def fits_type(value: Any, type_name: str) -> bool:
    """Whether a value read from the file is of a declared parameter type (bool is not a
    number here, although Python says it is an int)."""
    if isinstance(value, bool) and type_name != "boolean":
        return False
    return isinstance(value, _PYTHON_TYPES[type_name])


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ParameterSpec(_Model):
    """A run parameter: its type, allowed values, default (absent: the run must give it)."""

    type: ParameterType = Field(description="The value's JSON type.")
    enum: list[Any] | None = Field(None, min_length=1, description="The only allowed values.")
    default: Any = Field(None, description="Used when a run does not give the parameter; "
                                           "without one the parameter is required.")
    description: str | None = None

    @property
    def has_default(self) -> bool:
        return "default" in self.model_fields_set

    @field_validator("enum")
    @classmethod
    def _enum_fits_type(cls, value: list[Any] | None, info: ValidationInfo) -> Any:
        kind = info.data.get("type")
        if value is not None and kind is not None:
            wrong = [v for v in value if not fits_type(v, kind)]
            if wrong:
                hint = " (quote them to make them strings)" if kind == "string" else ""
                raise ValueError(f"enum values must be of type {kind}; not: "
                                 f"{', '.join(repr(v) for v in wrong)}{hint}")
        return value

    @field_validator("default")
    @classmethod
    def _default_fits(cls, value: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("type")
        if value is None or kind is None:
            return value  # null: an optional parameter without a value
        if not fits_type(value, kind):
            hint = " (quote it to make it a string)" if kind == "string" else ""
            raise ValueError(f"default {value!r} is not of type {kind}{hint}")
        enum = info.data.get("enum")
        if enum is not None and value not in enum:
            raise ValueError(f"default {value!r} is not one of the enum values")
        return value


class ScheduleSpec(_Model):
    """When deployments run the flow. Kept with the flow; `orkest run` ignores it."""

    cron: str | None = Field(None, description="Five cron fields or an @-alias (@daily).")
    interval_seconds: PositiveSeconds | None = Field(None, description="Every N seconds.")
    rrule: str | None = Field(None, description="An RFC 5545 recurrence rule (FREQ=...).")
    timezone: str = Field("UTC", description="IANA time zone for cron and rrule.")

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={
        "oneOf": [{"required": ["cron"]}, {"required": ["interval_seconds"]},
                  {"required": ["rrule"]}]})

    @field_validator("cron")
    @classmethod
    def _cron_shape(cls, value: str | None) -> str | None:
        if value is None:
            return value
        text = value.strip()
        if text.startswith("@"):
            if text.lower() not in CRON_ALIASES:
                raise ValueError(f"unknown cron alias {text!r}; use one of: "
                                 f"{', '.join(CRON_ALIASES)}")
            return text
        fields = text.split()
        if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
            raise ValueError(f"{value!r} is not a cron expression: give five fields "
                             "(minute hour day month weekday) or an alias such as @daily")
        return text

    @field_validator("rrule")
    @classmethod
    def _rrule_shape(cls, value: str | None) -> str | None:
        if value is not None and "FREQ=" not in value.upper():
            raise ValueError(f"{value!r} is not a recurrence rule (it needs FREQ=...)")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value.upper() == "UTC":
            return value
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as "
                             "Europe/Berlin)") from None
        return value


class TaskOptionsSpec(_Model):
    """Options every task has; under `defaults:` they apply to tasks that do not set them."""

    retries: Retries | None = None
    retry_delay_seconds: Seconds | None = Field(None, description="Wait between attempts.")
    timeout_seconds: PositiveSeconds | None = Field(None, description="Fail an attempt "
                                                                      "that runs longer.")
    trigger_rule: TriggerRule | None = Field(None, description="When the task runs, given "
                                                               "how its upstream tasks ended.")


class TaskSpec(TaskOptionsSpec):
    """One task: a shell command or a Python function, and what it depends on."""

    id: str = Field(pattern=TASK_ID_PATTERN, description="Unique within the flow.")
    description: str | None = None
    shell: str | None = Field(None, min_length=1, description="A command for bash -c "
                                                              "(templated).")
    python: str | None = Field(None, pattern=PYTHON_TARGET_PATTERN,
                               description="module:function, imported from the flow "
                                           "file's folder.")
    with_: dict[str, Any] | None = Field(None, alias="with", description="Keyword "
                                         "arguments of the python function (templated).")
    env: dict[str, str] | None = Field(None, description="Extra environment variables of "
                                                         "the shell command (templated).")
    cwd: str | None = Field(None, description="Working folder of the shell command, "
                                              "relative to the flow file's folder.")
    depends_on: list[str] = Field(default_factory=list, description="Ids of upstream tasks.")

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={
        "oneOf": [
            {"required": ["shell"], "not": {"anyOf": [{"required": ["python"]},
                                                      {"required": ["with"]}]}},
            {"required": ["python"], "not": {"anyOf": [{"required": ["env"]},
                                                       {"required": ["cwd"]}]}},
        ]})

    @field_validator("env", mode="before")
    @classmethod
    def _numbers_as_text(cls, value: Any) -> Any:
        """`PORT: 8080` in YAML is a number; an environment variable is text anyway."""
        if isinstance(value, dict):
            return {k: str(v) if isinstance(v, int | float) and not isinstance(v, bool)
                    else v for k, v in value.items()}
        return value


class FlowSpec(_Model):
    """A whole flow file."""

    schema_: str | None = Field(None, alias="$schema", description="Ignored; lets editors "
                                "find this schema.")
    name: str = Field(pattern=FLOW_NAME_PATTERN, description="The flow's name.")
    description: str | None = None
    parameters: dict[str, ParameterSpec] = Field(
        default_factory=dict, description="Run parameters, by name.",
        json_schema_extra={"propertyNames": {"pattern": PARAMETER_NAME_PATTERN}})
    schedule: ScheduleSpec | None = None
    defaults: TaskOptionsSpec = Field(default_factory=TaskOptionsSpec)
    tags: list[str] = Field(default_factory=list)
    tasks: list[TaskSpec] = Field(min_length=1)

    model_config = ConfigDict(extra="forbid", frozen=True, title="orkest flow file")


MODELS_BY_DEPTH: dict[tuple[str | None, int], type[BaseModel]] = {
    (None, 1): FlowSpec, ("tasks", 3): TaskSpec, ("parameters", 3): ParameterSpec,
    ("schedule", 2): ScheduleSpec, ("defaults", 2): TaskOptionsSpec,
}


def allowed_keys(model: type[BaseModel]) -> list[str]:
    """The keys a flow file may use for `model` (aliases, as written in files)."""
    return [info.alias or name for name, info in model.model_fields.items()]


def flow_json_schema() -> dict[str, Any]:
    """The JSON Schema of flow files, as shipped in flow.schema.json."""
    schema = FlowSpec.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def schema_text() -> str:
    """flow.schema.json as shipped: the schema as sorted, indented JSON and a newline."""
    import json

    return json.dumps(flow_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # regenerate: python -m orkest.declarative.spec
    from pathlib import Path

    from orkest.declarative import SCHEMA_FILE

    Path(__file__).with_name(SCHEMA_FILE).write_text(schema_text(), encoding="utf-8")
