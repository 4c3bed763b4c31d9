"""Records of the configuration store: variables, secrets (never their values), blocks and
automations. Plain data that stores save; encryption happens in the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class VariableRecord:
    name: str
    value: Any
    created_ts: float
    updated_ts: float


@dataclass(slots=True)
class SecretInfo:
    """What may be shown of a secret: its name and when it changed, never its value."""

    name: str
    created_ts: float
    updated_ts: float
    key_id: str


@dataclass(slots=True)
class BlockRecord:
    """A saved block: its plain fields as JSON; its secret fields only when loaded for use
    (`secrets`), otherwise just their names (`secret_fields`)."""

    block_type: str
    name: str
    data: dict[str, Any]
    secret_fields: list[str]
    schema_version: str
    created_ts: float
    updated_ts: float
    secrets: dict[str, str] | None = None


@dataclass(slots=True)
class Automation:
    """"When a run of <deployment or flow> ends in <states>, or stays RUNNING longer than
    <seconds>, send <notification block> with <message template>"."""

    id: str
    name: str
    block_type: str
    block_name: str
    created_ts: float
    deployment_id: str | None = None
    flow_name: str | None = None
    states: list[str] = field(default_factory=lambda: ["FAILED", "CRASHED"])
    running_longer_than: float | None = None
    message: str | None = None
    enabled: bool = True
    # The service's cursor: runs that ended before this were already considered.
    last_checked_ts: float | None = None


@dataclass(slots=True)
class AutomationFiring:
    """One notification an automation sent (or tried to) about one run: each
    (automation_id, flow_run_id, kind) exists once, so it is sent once."""

    automation_id: str
    flow_run_id: str
    # What happened to the run: "<STATE>:<run_count>" for an ending (a run retried and
    # failing again fires again), "RUNNING_LONG:<run_count>" for a run running too long.
    kind: str
    ts: float
