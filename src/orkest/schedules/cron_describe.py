"""Cron expressions in words: the common shapes read naturally, the rest field by field.

Works from the parsed value sets, not the text, so `1-5`, `MON-FRI` and `1,2,3,4,5` all read
"Monday through Friday".
"""

from __future__ import annotations

from orkest.schedules._words import (
    MONTH_NAMES,
    clock,
    count_of,
    is_run,
    join,
    months_phrase,
    ordinal,
    weekdays,
)
from orkest.schedules.cron_fields import CronField, CronFields

_LISTED_TIMES = 4  # up to this many hours with one minute are listed as clock times


def describe(f: CronFields) -> str:
    """'At 02:00, every day', 'Every 15 minutes', 'At 09:30, Monday through Friday'..."""
    time, at_clock = _time_phrase(f.minute, f.hour)
    return time + _day_phrase(f, at_clock)


# -- shapes of a value set -------------------------------------------------------------------

def _step(field: CronField) -> int | None:
    """n when the field is exactly `*/n` (n > 1)."""
    values = field.values
    if len(values) < 2 or values[0] != field.low:
        return None
    n = values[1] - values[0]
    return n if n > 1 and values == tuple(range(field.low, field.high + 1, n)) else None


def _numbers(values: tuple[int, ...], unit: str) -> str:
    """'5', '10 through 40', 'every 5th minute from 10 through 40', '0 and 30'."""
    if is_run(values):
        return f"{values[0]} through {values[-1]}"
    if (n := _spacing(values)) is not None:
        return f"every {ordinal(n)} {unit} from {values[0]} through {values[-1]}"
    return join([str(v) for v in values])


def _spacing(values: tuple[int, ...]) -> int | None:
    """n when three or more values are evenly spaced n apart (`6-22/2`)."""
    if len(values) < 3:
        return None
    gaps = {b - a for a, b in zip(values, values[1:], strict=False)}
    return gaps.pop() if len(gaps) == 1 else None


# -- time of day ----------------------------------------------------------------------------

def _time_phrase(minute: CronField, hour: CronField) -> tuple[str, bool]:
    """The time part, and whether it names clock times (then a daily schedule adds 'every day')."""
    minutes, hours = minute.values, hour.values
    if len(minutes) == 1:
        m = minutes[0]
        if len(hours) <= _LISTED_TIMES:
            return "At " + join([clock(h, m) for h in hours]), True
        if not hour.restricted:
            return ("Every hour" if m == 0 else f"At minute {m} past every hour"), False
        if (n := _step(hour)) is not None:
            return (f"Every {n} hours" if m == 0 else
                    f"At minute {m} past every {ordinal(n)} hour"), False
        span = f"from {clock(hours[0], m)} through {clock(hours[-1], m)}"
        if is_run(hours):
            return f"Every hour {span}", False
        if (n := _spacing(hours)) is not None:
            return (f"Every {n} hours {span}" if m == 0 else
                    f"At minute {m} past every {ordinal(n)} hour {span}"), False
        return f"At minute {m} past hours {join([str(h) for h in hours])}", False
    if not minute.restricted:
        lead = "Every minute"
    elif (n := _step(minute)) is not None:
        lead = f"Every {count_of(n, 'minute')}"
    else:
        shape = _numbers(minutes, "minute")
        word = "At every" if shape.startswith("every") else "At minutes"
        lead = f"{word} {shape.removeprefix('every ')}"
        if not hour.restricted:
            return lead + " past every hour", False
        lead += " past the hour"
    return lead + _hour_window(hour), False


def _hour_window(hour: CronField) -> str:
    """', between 09:00 and 17:59' and the like, for schedules that fire within hours."""
    hours = hour.values
    if not hour.restricted:
        return ""
    if len(hours) == 1 or is_run(hours):
        return f", between {clock(hours[0], 0)} and {clock(hours[-1], 59)}"
    if (n := _step(hour)) is not None:
        return f", during every {ordinal(n)} hour"
    return f", during hours {_numbers(hours, 'hour')}"


# -- days and months ------------------------------------------------------------------------

def _day_phrase(f: CronFields, at_clock: bool) -> str:
    dom, dow, month = f.day_of_month, f.day_of_week, f.month
    months = months_phrase(month.values)
    if dom.restricted and not dow.restricted and month.restricted and len(dom.values) == 1 \
            and len(month.values) == 1:
        return f" on {MONTH_NAMES[month.values[0] - 1]} {dom.values[0]}"
    parts = []
    if dom.restricted:
        days = dom.values
        of = f"of {months}" if month.restricted and not dow.restricted else "of the month"
        if (n := _step(dom)) is not None:
            parts.append(f" on every {ordinal(n)} day {of}")
        else:
            noun = "day" if len(days) == 1 else "days"
            parts.append(f" on {noun} {_numbers(days, 'day')} {of}")
    if dow.restricted:
        words = weekdays(dow.values)
        parts.append((" or " if parts else ", ") + words)
    if not parts:
        if not month.restricted:
            return ", every day" if at_clock else ""
        return (", every day" if at_clock else ",") + f" in {months}"
    if month.restricted and dow.restricted:
        parts.append(f", only in {months}")
    return "".join(parts)
