"""Deployments: register a flow to run without a person, and create its runs.

A deployment names where the flow's code is (its entrypoint), with which parameters, on
which schedules and triggers, in which work pool. Runs of a deployment are created
SCHEDULED with the time they are due; a worker of the pool claims and runs them.
`deploy()` is what `Flow.deploy()`, `orkest deploy` and the YAML `schedule:` block use.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from orkest._internal.ids import friendly_name, new_id
from orkest.core.deployments import DEFAULT_POOL, Deployment, WorkPool
from orkest.core.params import to_jsonable
from orkest.core.records import FlowRun
from orkest.core.states import StateType
from orkest.errors import ConfigurationError, DeploymentError, ObjectNotFound
from orkest.schedules import Schedule, schedule_from

# The key of a run that fills a schedule slot: the same slot gives the same key everywhere
# (scheduler, backfill, a second scheduler), so the store creates it once.
_SLOT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def slot_key(deployment_id: str, slot: dt.datetime) -> str:
    return f"{deployment_id}@{slot.astimezone(dt.UTC).strftime(_SLOT_FORMAT)}"


def orchestration_store(store: Any = None) -> Any:
    """The configured store, checked to hold deployments (the memory store cannot)."""
    if store is None:
        from orkest.store import open_store

        store = open_store()
    if not hasattr(store, "save_deployment"):
        raise ConfigurationError(
            f"{store!r} cannot hold deployments: set ORKEST_DATABASE_URL to a SQLite or "
            "PostgreSQL database (the default is ~/.orkest/orkest.db), or ORKEST_API_URL "
            "to a server")
    return store


# -- the code behind a deployment --------------------------------------------------------

def source_path(entrypoint: str) -> Path | None:
    """The file an entrypoint loads (file.py:name, module:name or a flow file)."""
    location = entrypoint.rpartition(":")[0] if ":" in entrypoint else entrypoint
    if len(location) == 1:  # a Windows drive letter, not a location
        location = entrypoint
    if location.endswith((".py", ".yaml", ".yml", ".json")) or "/" in location:
        return Path(location)
    try:
        spec = importlib.util.find_spec(location)
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec is not None and spec.origin else None


def code_hash(entrypoint: str) -> str | None:
    """A short hash of the entrypoint's source file; None when there is no such file."""
    path = source_path(entrypoint)
    if path is None or not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


# -- building and saving -----------------------------------------------------------------

def build_deployment(flow: Any, name: str, *, entrypoint: str | None = None,
                     schedules: Any = (), triggers: Any = (),
                     parameters: Mapping[str, Any] | None = None,
                     work_pool: str = DEFAULT_POOL, concurrency_limit: int | None = None,
                     catchup: bool = False, tags: Iterable[str] = (),
                     description: str | None = None, priority: int = 0,
                     grace_seconds: float | None = None, paused: bool = False,
                     now: float | None = None) -> Deployment:
    """A Deployment of `flow`, every argument checked (DeploymentError names the bad one)."""
    if not isinstance(name, str) or not name.strip() or "/" in name:
        raise DeploymentError(f"Deployment name {name!r} must be a non-empty string "
                              "without '/' (the full name is FLOW_NAME/NAME)")
    if not isinstance(work_pool, str) or not work_pool.strip():
        raise DeploymentError(f"work_pool must be a non-empty name, not {work_pool!r}")
    if concurrency_limit is not None and (isinstance(concurrency_limit, bool) or
                                          not isinstance(concurrency_limit, int) or
                                          concurrency_limit < 1):
        raise DeploymentError(f"concurrency_limit must be a positive integer or None, not "
                              f"{concurrency_limit!r}")
    if isinstance(tags, str):
        raise DeploymentError(f"tags must be a list of strings, not the string {tags!r}")
    entrypoint = entrypoint or _entrypoint_of(flow)
    if entrypoint is None:
        raise DeploymentError(
            f"Flow {flow.name!r} has no importable entrypoint (defined in a function, a "
            "notebook or the interpreter?): define it at module level in a .py file, or "
            "pass entrypoint='path/file.py:flow_function'")
    schema = flow.parameters.json_schema()
    params = check_parameters(schema, dict(parameters or {}), flow.name, partial=True)
    now = time.time() if now is None else now
    return Deployment(
        id=new_id(), flow_name=flow.name, name=name.strip(), entrypoint=entrypoint,
        created_ts=now, updated_ts=now, parameters=params, parameter_schema=schema,
        schedules=[schedule_from(s).to_dict() for s in _as_list(schedules)],
        triggers=[_trigger_dict(t) for t in _as_list(triggers)],
        work_pool=work_pool.strip(), concurrency_limit=concurrency_limit,
        catchup=bool(catchup), tags=[str(t) for t in tags], paused=paused,
        description=description if description is not None else flow.options.description,
        priority=int(priority), retries=int(flow.options.retries),
        grace_seconds=60.0 if grace_seconds is None else float(grace_seconds),
        code_hash=code_hash(entrypoint),
    )


def save(store: Any, deployment: Deployment, *, now: float | None = None) -> Deployment:
    """Store it (creating its work pool when new); scheduled runs that its new schedules
    no longer produce are dropped."""
    store = orchestration_store(store)
    now = time.time() if now is None else now
    try:
        store.read_work_pool(deployment.work_pool)
    except ObjectNotFound:
        store.save_work_pool(WorkPool(deployment.work_pool, created_ts=now))
    saved = store.save_deployment(deployment)
    store.delete_scheduled_runs(saved.id, keep=future_slot_keys(saved, now))
    return saved


def deploy(flow: Any, name: str, **options: Any) -> Deployment:
    """Flow.deploy(): build and save (see build_deployment for the options)."""
    store = options.pop("store", None)
    return save(store, build_deployment(flow, name, **options))


def future_slot_keys(deployment: Deployment, now: float, horizon: float = 86400.0,
                     cap: int = 10_000) -> set[str]:
    """The keys of the slots the deployment's schedules give in the next `horizon` s."""
    start = dt.datetime.fromtimestamp(now, dt.UTC)
    end = start + dt.timedelta(seconds=horizon)
    keys: set[str] = set()
    for schedule in schedules_of(deployment):
        for slot in schedule.slots_between(start, end)[:cap]:
            keys.add(slot_key(deployment.id, slot))
    return keys


def schedules_of(deployment: Deployment) -> list[Schedule]:
    return [Schedule.from_dict(s) for s in deployment.schedules]


# -- runs of a deployment ----------------------------------------------------------------

def check_parameters(schema: Mapping[str, Any] | None, params: dict[str, Any], flow_name: str,
                     *, partial: bool = False) -> dict[str, Any]:
    """Parameters as JSON, with unknown names (and, unless partial, missing required ones)
    refused by name. Types are checked when the run starts, by the flow itself."""
    params = to_jsonable(params)
    if schema is None:
        return params
    known = set(schema.get("properties", {}))
    unknown = sorted(set(params) - known)
    if unknown:
        raise DeploymentError(f"Flow {flow_name!r} has no parameter "
                              f"{', '.join(repr(u) for u in unknown)} (it takes: "
                              f"{', '.join(sorted(known)) or 'none'})")
    if not partial:
        missing = [n for n in schema.get("required", []) if n not in params]
        if missing:
            raise DeploymentError(f"Flow {flow_name!r} needs parameter "
                                  f"{', '.join(repr(m) for m in missing)}: give it with "
                                  "--param NAME=VALUE or in the deployment's parameters")
    return params


def new_run(deployment: Deployment, *, parameters: Mapping[str, Any] | None = None,
            scheduled_ts: float, now: float, idempotency_key: str | None = None,
            logical_ts: float | None = None, event_id: str | None = None,
            state_name: str = "Scheduled", message: str | None = None) -> FlowRun:
    """A SCHEDULED run of the deployment, due at `scheduled_ts` (not stored yet)."""
    params = {**deployment.parameters, **dict(parameters or {})}
    params = check_parameters(deployment.parameter_schema, params, deployment.flow_name)
    return FlowRun(
        id=new_id(), flow_name=deployment.flow_name, name=friendly_name(),
        state_type=StateType.SCHEDULED, state_name=state_name, state_ts=now,
        created_ts=now, state_message=message, parameters=params,
        tags=list(deployment.tags), retries=deployment.retries,
        deployment_id=deployment.id, entrypoint=deployment.entrypoint,
        logical_ts=logical_ts if logical_ts is not None else scheduled_ts,
        work_pool=deployment.work_pool, priority=deployment.priority,
        scheduled_ts=scheduled_ts, idempotency_key=idempotency_key, event_id=event_id,
    )


def run_deployment(store: Any, ref: str, parameters: Mapping[str, Any] | None = None, *,
                   scheduled_ts: float | None = None, event_id: str | None = None,
                   idempotency_key: str | None = None, message: str | None = None,
                   now: float | None = None) -> FlowRun:
    """Create a run of deployment `ref` (name or id), due now unless told; the stored run.

    A paused deployment still runs when asked by hand (pausing stops schedule and triggers).
    """
    store = orchestration_store(store)
    deployment = store.read_deployment(ref)
    now = time.time() if now is None else now
    run = new_run(deployment, parameters=parameters,
                  scheduled_ts=now if scheduled_ts is None else scheduled_ts, now=now,
                  idempotency_key=idempotency_key, event_id=event_id,
                  message=message or "Run requested")
    created = store.create_flow_runs([run])
    if not created:  # the idempotency key existed: the run asked for is there already
        raise DeploymentError(f"A run with idempotency key {idempotency_key!r} exists "
                              "already")
    return created[0]


# -- helpers -----------------------------------------------------------------------------

def _entrypoint_of(flow: Any) -> str | None:
    given = getattr(flow, "entrypoint", None)
    if given:
        return str(given)
    from orkest.engine.flow_run import default_entrypoint

    return default_entrypoint(flow)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _trigger_dict(trigger: Any) -> dict[str, Any]:
    to_dict = getattr(trigger, "to_dict", None)
    if callable(to_dict):
        return dict(to_dict())
    if isinstance(trigger, Mapping):
        from orkest.triggers import trigger_from

        return trigger_from(trigger).to_dict()
    raise DeploymentError(f"Not a trigger: {trigger!r} (use orkest.triggers.FileArrival, "
                          "Webhook, DbChange, FlowRunFinished or Event)")
