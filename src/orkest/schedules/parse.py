"""`schedule_from`: one door for every way a user writes a schedule.

DAG(schedule=...), YAML `schedule:` blocks, the CLI's --cron and stored deployments all come
through here, so they accept the same things and fail with the same messages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from orkest.errors import InvalidSchedule
from orkest.schedules.base import Schedule
from orkest.schedules.cron import Cron
from orkest.schedules.interval import Interval
from orkest.schedules.rrule import RRule

_RRULE_STARTS = ("FREQ=", "RRULE:", "DTSTART")


def schedule_from(value: object) -> Schedule:
    """A Schedule from a Schedule, a cron string or @alias, an RRULE string, a timedelta,
    or a dict such as {"cron": "0 2 * * *", "timezone": "Europe/Berlin"}."""
    if isinstance(value, Schedule):
        return value
    if isinstance(value, str):
        if value.strip().upper().startswith(_RRULE_STARTS):
            return RRule(value)
        return Cron(value)
    if isinstance(value, dt.timedelta):
        return Interval(value)
    if isinstance(value, Mapping):
        return Schedule.from_dict(value)
    dump = getattr(value, "model_dump", None)  # a pydantic model such as the YAML ScheduleSpec
    if callable(dump):
        data: Any = dump(exclude_none=True)
        if isinstance(data, Mapping):
            return Schedule.from_dict(data)
    raise InvalidSchedule(
        f"Invalid schedule {value!r}: give a cron string ('0 2 * * *' or '@daily'), an RRULE "
        "('FREQ=DAILY;BYHOUR=9'), a timedelta, a dict such as {'cron': ..., 'timezone': ...} "
        "or a Cron/Interval/RRule object")
