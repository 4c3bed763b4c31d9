"""FlowRunFinished: run a deployment when a run of another flow ends in given states."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from orkest.core.states import TERMINAL_TYPES, StateType
from orkest.errors import InvalidTrigger
from orkest.triggers.base import Trigger, require_text

FLOW_RUN_PREFIX = "flow-run/"


def flow_run_event_name(flow_name: str, state_type: str) -> str:
    """The event a finished run gives: "flow-run/<flow>/<STATE TYPE>"."""
    return f"{FLOW_RUN_PREFIX}{flow_name}/{state_type}"


class FlowRunFinished(Trigger):
    """When a run of the flow `flow` ends in one of `states` (state types, e.g.
    ("COMPLETED",) or ("FAILED", "CRASHED")). Templates get `{{ event.flow_run_id }}`,
    `{{ event.state }}` and `{{ event.payload }}`."""

    type_name = "flow_run_finished"

    def __init__(self, flow: str, states: Iterable[str] = ("COMPLETED",),
                 parameters: Mapping[str, Any] | None = None) -> None:
        super().__init__(parameters)
        self.flow = require_text(getattr(flow, "name", flow), self.type_name, "flow")
        if isinstance(states, str):
            states = [states]
        try:
            listed = list(states)
        except TypeError:
            raise InvalidTrigger(f"Trigger 'flow_run_finished' field 'states' must be a list "
                                 f"of state types, not {states!r}") from None
        if not listed:
            raise InvalidTrigger("Trigger 'flow_run_finished' field 'states' is empty: name "
                                 "at least one final state type, e.g. COMPLETED")
        terminal = sorted(t.value for t in TERMINAL_TYPES)
        checked: list[str] = []
        for state in listed:
            name = state.value if isinstance(state, StateType) else state
            name = name.strip().upper() if isinstance(name, str) else name
            if name not in terminal:
                raise InvalidTrigger(f"Trigger 'flow_run_finished' field 'states' has "
                                     f"{state!r}, which is not a final state type; choose "
                                     f"from {', '.join(terminal)}")
            if name not in checked:
                checked.append(name)
        self.states = tuple(checked)

    @property
    def event_names(self) -> list[str]:
        return [flow_run_event_name(self.flow, state) for state in self.states]

    def fields(self) -> dict[str, Any]:
        return {"flow": self.flow, "states": list(self.states)}

    def matches(self, name: str, payload: Any) -> bool:
        return name in self.event_names

    def describe(self) -> str:
        return f"When a run of {self.flow} ends {' or '.join(self.states)}"
