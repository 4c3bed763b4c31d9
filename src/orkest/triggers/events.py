"""Event: run a deployment when an event of a name (and payload) is emitted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orkest.errors import InvalidTrigger
from orkest.triggers.base import Trigger, require_text

_MISSING = object()


class Event(Trigger):
    """When `orkest event emit NAME` or `POST /api/events` gives an event called `name`
    whose payload has every key of `match` with that value (`"a.b"` reaches into nested
    objects). Templates get the payload as `{{ event.payload }}`."""

    type_name = "event"

    def __init__(self, name: str, match: Mapping[str, Any] | None = None,
                 parameters: Mapping[str, Any] | None = None) -> None:
        super().__init__(parameters)
        self.name = require_text(name, self.type_name, "name")
        if match is not None and not isinstance(match, Mapping):
            raise InvalidTrigger(f"Trigger 'event' field 'match' must be a dict of payload "
                                 f"key -> value, not {match!r}")
        bad = [key for key in (match or {}) if not isinstance(key, str) or not key]
        if bad:
            raise InvalidTrigger(f"Trigger 'event' field 'match' has the key {bad[0]!r}; "
                                 "keys are payload field names")
        self.match = dict(match or {})

    def fields(self) -> dict[str, Any]:
        return {"name": self.name, "match": dict(self.match) or None}

    def matches(self, name: str, payload: Any) -> bool:
        if name != self.name:
            return False
        return all(_lookup(payload, key) == value for key, value in self.match.items())

    def describe(self) -> str:
        if not self.match:
            return f"When the event {self.name} is emitted"
        shown = ", ".join(f"{key}={value!r}" for key, value in self.match.items())
        return f"When the event {self.name} is emitted with {shown}"


def _lookup(payload: Any, key: str) -> Any:
    """payload[key], or along a dotted path ("order.status") when there is no such key."""
    if not isinstance(payload, Mapping):
        return _MISSING
    if key in payload:
        return payload[key]
    value: Any = payload
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value
