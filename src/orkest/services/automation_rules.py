"""Defining automations: checked when created, so that a typo fails now and not at 3 a.m.

    create_automation(store, "etl-failures", deployment="etl/nightly",
                      states=("FAILED", "CRASHED"), running_longer_than=3600,
                      notify="webhook-notification/ops")

An automation watches the runs of one deployment (`deployment`: FLOW/NAME or its id) or of
every deployment and ad-hoc run of a flow (`flow_name`). It fires when such a run ends in
one of `states` (final state types), and/or when one stays RUNNING longer than
`running_longer_than` seconds; it then sends the notification block `notify`
("TYPE/NAME") a message rendered from `message` (a Jinja template; see
orkest.config.notifications for its names) or the default one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any

from orkest._internal.ids import new_id
from orkest.config.values import check_name
from orkest.core.config_records import Automation
from orkest.core.records import FlowRun
from orkest.core.states import TERMINAL_TYPES, StateType
from orkest.errors import BlockError, ObjectNotFound

DEFAULT_STATES = ("FAILED", "CRASHED")
DEFAULT_NOTIFY = "webhook-notification/ops"
ENDING_STATES = tuple(sorted(str(t) for t in TERMINAL_TYPES))
# A message template renders to at most this many characters for its check.
MAX_MESSAGE_CHARS = 100_000


def create_automation(store: Any, name: str, *, deployment: str | None = None,
                      flow_name: str | None = None,
                      states: Iterable[str] | None = DEFAULT_STATES,
                      running_longer_than: float | None = None,
                      notify: str = DEFAULT_NOTIFY, message: str | None = None,
                      enabled: bool = True, now: float | None = None) -> Automation:
    """Check and save a new automation; errors name the argument at fault.

    ObjectNotFound for an unknown deployment or block; ValueError (BlockError for a block
    type that cannot notify) for anything else.
    """
    check_name("automation", name)
    deployment_id, flow = _check_target(store, deployment, flow_name)
    wanted = check_states(states)
    threshold = check_threshold(running_longer_than)
    if not wanted and threshold is None:
        raise ValueError("Nothing to watch: give states (e.g. FAILED, CRASHED) and/or "
                         "running_longer_than (seconds)")
    block_type, block_name = check_notify(store, notify)
    check_message(message)
    automation = Automation(
        id=new_id(), name=name, block_type=block_type, block_name=block_name,
        created_ts=time.time() if now is None else now, deployment_id=deployment_id,
        flow_name=flow, states=wanted, running_longer_than=threshold, message=message,
        enabled=bool(enabled))
    return store.save_automation(automation)  # type: ignore[no-any-return]


def _check_target(store: Any, deployment: str | None,
                  flow_name: str | None) -> tuple[str | None, str | None]:
    if deployment is not None and flow_name is not None:
        raise ValueError(f"Give deployment ({deployment!r}) or flow_name ({flow_name!r}), "
                         "not both: a deployment names its flow already")
    if deployment is not None:
        if not isinstance(deployment, str) or not deployment.strip():
            raise ValueError(f"deployment must be FLOW/NAME or an id, not {deployment!r}")
        try:
            found = store.read_deployment(deployment)
        except ObjectNotFound as exc:
            raise ObjectNotFound(f"deployment: {exc}") from None
        return found.id, None
    if flow_name is not None:
        if not isinstance(flow_name, str) or not flow_name.strip():
            raise ValueError(f"flow_name must be a flow's name, not {flow_name!r}")
        return None, flow_name
    raise ValueError("An automation watches the runs of a deployment or of a flow: give "
                     "deployment (FLOW/NAME) or flow_name")


def check_states(states: Iterable[str] | None) -> list[str]:
    """Final state type names, upper-cased and without repeats; ValueError names the bad."""
    if states is None:
        return []
    if isinstance(states, str):
        states = [states]
    wanted: list[str] = []
    bad: list[str] = []
    for state in states:
        text = str(state.value if isinstance(state, StateType) else state).strip().upper()
        if text not in ENDING_STATES:
            bad.append(repr(state))
        elif text not in wanted:
            wanted.append(text)
    if bad:
        hint = (" (for runs that run too long use running_longer_than)"
                if any("RUNNING" in b.upper() for b in bad) else "")
        raise ValueError(f"states: {', '.join(bad)} not a final state; use "
                         f"{', '.join(ENDING_STATES)}{hint}")
    return wanted


def check_threshold(seconds: Any) -> float | None:
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ValueError(f"running_longer_than must be a number of seconds, not {seconds!r}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"running_longer_than must be more than 0 seconds, not {seconds!r}")
    return float(seconds)


def parse_block_ref(notify: Any) -> tuple[str, str]:
    """"TYPE/NAME" -> (type, name); ValueError saying the form otherwise."""
    if not isinstance(notify, str) or notify.count("/") != 1 or not all(
            part.strip() for part in notify.split("/")):
        raise ValueError(f"notify must name a block as TYPE/NAME (e.g. "
                         f"webhook-notification/ops; see `orkest block ls`), not {notify!r}")
    block_type, name = notify.split("/")
    return block_type, name


def check_notify(store: Any, notify: Any) -> tuple[str, str]:
    """The block must exist, and be a notification block when its type is known here."""
    block_type, name = parse_block_ref(notify)
    try:
        store.read_block(block_type, name)
    except ObjectNotFound:
        raise ObjectNotFound(
            f"notify: no block {block_type}/{name}: save one first, e.g. "
            f"WebhookNotification(url='https://...').save({name!r}) (see `orkest block "
            "ls`)") from None
    known = _notification_types()
    if known is not None:
        registered, notification_types = known
        cls = registered.get(block_type)
        if cls is not None and cls not in notification_types:
            usable = ", ".join(sorted(t for t, c in registered.items()
                                      if c in notification_types)) or "none"
            raise BlockError(f"notify: {block_type}/{name} is a {cls.__name__}, which "
                             f"cannot send notifications (notification types: {usable})")
    return block_type, name


def _notification_types() -> tuple[dict[str, type], set[type]] | None:
    """(every registered block type, those that can send), or None before blocks exist."""
    try:
        import orkest.config  # noqa: F401 - registers the shipped block classes
        from orkest.config.blocks import registered_types
        from orkest.config.notifications import NotificationBlock
    except ImportError:  # pragma: no cover - blocks not installed in this build
        return None
    registered = registered_types()
    return registered, {c for c in registered.values() if issubclass(c, NotificationBlock)}


def check_message(message: Any) -> None:
    """Render the template against a sample run now: a typo is a ValueError naming it."""
    if message is None:
        return
    if not isinstance(message, str) or not message.strip():
        raise ValueError(f"message must be a non-empty template, not {message!r}")
    if len(message) > MAX_MESSAGE_CHARS:
        raise ValueError(f"message has {len(message)} characters; at most "
                         f"{MAX_MESSAGE_CHARS}")
    from orkest.config.notifications import render_run_message

    now = time.time()
    sample = FlowRun(id="00000000-0000-0000-0000-000000000000", flow_name="sample-flow",
                     name="sample-run", state_type=StateType.FAILED, state_name="Failed",
                     state_ts=now, created_ts=now, state_message="sample failure",
                     start_ts=now, end_ts=now)
    try:
        render_run_message(sample, None, message)
    except Exception as exc:  # noqa: BLE001 - any template problem is the user's to fix
        raise ValueError(f"message: the template does not render: {exc}") from None


def find_automation(store: Any, ref: str) -> Automation:
    """By id, unique id prefix (4+ characters) or unique name; ObjectNotFound otherwise."""
    every = store.list_automations()
    exact = [a for a in every if a.id == ref]
    if exact:
        return exact[0]
    for matches in ([a for a in every if a.name == ref],
                    [a for a in every if len(ref) >= 4 and a.id.startswith(ref)]):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ObjectNotFound(f"{ref!r} matches {len(matches)} automations: use its id "
                                 "(see `orkest automation ls`)")
    raise ObjectNotFound(f"No automation {ref!r} (see `orkest automation ls`)")


def set_enabled(store: Any, ref: str, enabled: bool, *,
                now: float | None = None) -> Automation:
    """Switch it on or off. Switched on, its cursor moves to now: runs that ended while it
    was off are not notified, except those of the last minute (the service's slack)."""
    found = find_automation(store, ref)
    if enabled and not found.enabled:
        found.last_checked_ts = time.time() if now is None else now
    found.enabled = bool(enabled)
    return store.save_automation(found)  # type: ignore[no-any-return]


def describe(automation: Automation, deployment_name: str | None = None) -> str:
    """"When a run of deployment etl/nightly ends FAILED or CRASHED, or runs longer than
    600 s: send webhook-notification/ops"."""
    if automation.deployment_id is not None:
        target = f"deployment {deployment_name or automation.deployment_id}"
    else:
        target = f"flow {automation.flow_name}"
    conditions = []
    if automation.states:
        conditions.append("ends " + " or ".join(automation.states))
    if automation.running_longer_than is not None:
        conditions.append(f"runs longer than {automation.running_longer_than:g} s")
    return (f"When a run of {target} {', or '.join(conditions)}: send "
            f"{automation.block_type}/{automation.block_name}")


def deployment_names(store: Any, automations: Iterable[Automation]) -> dict[str, str]:
    """deployment id -> FLOW/NAME, for showing automations (a deleted one: its id)."""
    names: dict[str, str] = {}
    for automation in automations:
        ref = automation.deployment_id
        if ref is None or ref in names:
            continue
        try:
            names[ref] = store.read_deployment(ref).full_name
        except ObjectNotFound:
            names[ref] = f"{ref} (deleted)"
    return names
