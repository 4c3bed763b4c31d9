"""The Trigger base class: what every kind of event trigger offers its callers.

A trigger is a pure definition (layer 1): it checks its fields when made, stores as a dict
(`to_dict`, `trigger_from`), and says whether an event (a name and a JSON payload) is one
it answers (`matches`). Watching files, polling databases and creating runs are the
trigger service's work (orkest.services.triggers).
"""

from __future__ import annotations

import abc
import inspect
from collections.abc import Mapping
from typing import Any, ClassVar

from orkest.errors import InvalidTrigger

# type name in to_dict() -> trigger class, filled as the kinds are defined.
_KINDS: dict[str, type[Trigger]] = {}


class Trigger(abc.ABC):
    """Runs a deployment when a matching event happens, with templated parameters.

    `parameters` are parameter templates: strings may use Jinja with the event, e.g.
    `{"path": "{{ event.path }}"}` or `{"rows": "{{ event.body.rows }}"}`; a string that is
    exactly one `{{ expression }}` gives the value itself (a number, a list), not its text.
    """

    # The value of "type" in to_dict() ("file_arrival", "webhook", ...).
    type_name: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.type_name:
            _KINDS[cls.type_name] = cls

    def __init__(self, parameters: Mapping[str, Any] | None = None) -> None:
        self.parameters = check_parameter_templates(parameters, self.type_name)

    # -- what subclasses provide ------------------------------------------------------------

    @abc.abstractmethod
    def fields(self) -> dict[str, Any]:
        """The definition's own fields, JSON-able, as the constructor takes them."""

    @abc.abstractmethod
    def matches(self, name: str, payload: Any) -> bool:
        """Whether the event `name` with `payload` is one this trigger answers."""

    @abc.abstractmethod
    def describe(self) -> str:
        """The trigger in plain English ("When a file matching *.csv arrives in /data")."""

    # -- shared behaviour ------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form that `trigger_from` reads back (stored with deployments)."""
        return {"type": self.type_name, **self.fields(), "parameters": dict(self.parameters)}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Trigger):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self.type_name, repr(sorted(self.fields().items()))))

    def __repr__(self) -> str:
        shown = ", ".join(f"{key}={value!r}" for key, value in self.fields().items())
        if self.parameters:
            shown += f", parameters={self.parameters!r}"
        return f"{type(self).__name__}({shown})"


def trigger_from(value: Trigger | Mapping[str, Any]) -> Trigger:
    """A trigger from itself or from its `to_dict()` form; InvalidTrigger names the field."""
    if isinstance(value, Trigger):
        return value
    if not isinstance(value, Mapping):
        raise InvalidTrigger(f"Not a trigger: {value!r} (use FileArrival, Webhook, DbChange, "
                             "FlowRunFinished or Event, or a dict with a 'type')")
    data = dict(value)
    kind = data.pop("type", None)
    cls = _KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise InvalidTrigger(f"Trigger field 'type' is {kind!r}; choose from "
                             f"{', '.join(sorted(_KINDS))}")
    accepted = set(inspect.signature(cls).parameters)
    unknown = sorted(set(data) - accepted)
    if unknown:
        raise InvalidTrigger(f"Trigger {kind!r} has no field {unknown[0]!r} (it takes: "
                             f"{', '.join(sorted(accepted))})")
    try:
        return cls(**data)
    except TypeError as exc:  # a required field is missing
        raise InvalidTrigger(f"Trigger {kind!r}: {exc}") from exc


def check_parameter_templates(parameters: Mapping[str, Any] | None,
                              kind: str) -> dict[str, Any]:
    """Parameters as a plain dict with string keys (their templates render per event)."""
    if parameters is None:
        return {}
    if not isinstance(parameters, Mapping):
        raise InvalidTrigger(f"Trigger {kind!r} field 'parameters' must be a dict of "
                             f"parameter name -> value or template, not {parameters!r}")
    bad = [key for key in parameters if not isinstance(key, str) or not key]
    if bad:
        raise InvalidTrigger(f"Trigger {kind!r} field 'parameters' has the key {bad[0]!r}; "
                             "parameter names are non-empty strings")
    return dict(parameters)


def require_text(value: Any, kind: str, field: str) -> str:
    """A non-empty string field, stripped; InvalidTrigger naming the field otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidTrigger(f"Trigger {kind!r} field {field!r} must be a non-empty string, "
                             f"not {value!r}")
    return value.strip()


def require_flag(value: Any, kind: str, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidTrigger(f"Trigger {kind!r} field {field!r} must be true or false, not "
                             f"{value!r}")
    return value
