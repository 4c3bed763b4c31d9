"""Trigger rules: when a DAG task runs, given how its upstream tasks ended (Airflow's).

Upstream outcomes are counted in three kinds: success (COMPLETED), failed (FAILED,
CRASHED, CANCELLED, and SKIPPED named UpstreamFailed, which is Airflow's
upstream_failed) and skipped (any other SKIPPED). A rule looks at the counts and answers
RUN, SKIP, UPSTREAM_FAILED, or None for "not yet". Rules wait for every upstream task,
except the ONE_* rules, which fire as soon as their condition holds, and ALWAYS, which
does not wait at all; a task without upstream tasks runs whatever its rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TriggerRule(StrEnum):
    ALL_SUCCESS = "all_success"
    ALL_FAILED = "all_failed"
    ALL_DONE = "all_done"
    ALL_SKIPPED = "all_skipped"
    ONE_SUCCESS = "one_success"
    ONE_FAILED = "one_failed"
    ONE_DONE = "one_done"
    NONE_FAILED = "none_failed"
    NONE_FAILED_MIN_ONE_SUCCESS = "none_failed_min_one_success"
    NONE_SKIPPED = "none_skipped"
    ALWAYS = "always"

    @classmethod
    def parse(cls, value: TriggerRule | str) -> TriggerRule:
        """A rule from an enum member or its name in any case; a clear error otherwise."""
        if isinstance(value, TriggerRule):
            return value
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                pass
        names = ", ".join(r.value for r in cls)
        raise ValueError(f"unknown trigger_rule {value!r}; use one of: {names}")


class Decision(StrEnum):
    RUN = "run"
    SKIP = "skip"
    UPSTREAM_FAILED = "upstream_failed"


@dataclass(slots=True)
class UpstreamCounts:
    total: int
    success: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def done(self) -> int:
        return self.success + self.failed + self.skipped


def decide(rule: TriggerRule, c: UpstreamCounts) -> Decision | None:
    """What a task with `rule` does now, given its upstream counts; None: wait."""
    if c.total == 0 or rule is TriggerRule.ALWAYS:
        return Decision.RUN
    all_done = c.done >= c.total
    if rule is TriggerRule.ONE_SUCCESS:
        if c.success:
            return Decision.RUN
        if not all_done:
            return None
        return Decision.SKIP if c.skipped == c.total else Decision.UPSTREAM_FAILED
    if rule is TriggerRule.ONE_FAILED:
        if c.failed:
            return Decision.RUN
        return Decision.SKIP if all_done else None
    if rule is TriggerRule.ONE_DONE:
        if c.success or c.failed:
            return Decision.RUN
        return Decision.SKIP if all_done else None
    if not all_done:
        return None
    if rule is TriggerRule.ALL_SUCCESS:
        if c.failed:
            return Decision.UPSTREAM_FAILED
        return Decision.SKIP if c.skipped else Decision.RUN
    if rule is TriggerRule.ALL_FAILED:
        return Decision.RUN if c.failed == c.total else Decision.SKIP
    if rule is TriggerRule.ALL_DONE:
        return Decision.RUN
    if rule is TriggerRule.ALL_SKIPPED:
        return Decision.RUN if c.skipped == c.total else Decision.SKIP
    if rule is TriggerRule.NONE_FAILED:
        return Decision.UPSTREAM_FAILED if c.failed else Decision.RUN
    if rule is TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS:
        if c.failed:
            return Decision.UPSTREAM_FAILED
        return Decision.RUN if c.success else Decision.SKIP
    if rule is TriggerRule.NONE_SKIPPED:
        return Decision.SKIP if c.skipped else Decision.RUN
    raise AssertionError(f"unhandled trigger rule {rule}")
