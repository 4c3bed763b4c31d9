"""Recurrence rules in words, for the common shapes; anything else is quoted as written.

A rule that uses parts this module does not phrase (BYSETPOS, BYDAY=1MO, BYWEEKNO...) is
described as "By the rule ...": a faithful quote beats a wrong sentence.
"""

from __future__ import annotations

import datetime as dt

from orkest.schedules._words import clock, count_of, join, months_phrase, ordinal, weekdays

_DAYS = {"SU": 0, "MO": 1, "TU": 2, "WE": 3, "TH": 4, "FR": 5, "SA": 6}
_PHRASED = {"FREQ", "INTERVAL", "BYDAY", "BYHOUR", "BYMINUTE", "BYSECOND", "BYMONTHDAY",
            "BYMONTH", "COUNT", "UNTIL", "WKST"}
_UNIT = {"YEARLY": "year", "MONTHLY": "month", "WEEKLY": "week", "DAILY": "day",
         "HOURLY": "hour", "MINUTELY": "minute", "SECONDLY": "second"}
_MAX_TIMES = 6


def describe(parts: dict[str, str], start: dt.datetime) -> str:
    """'At 09:00, on Monday and Wednesday', 'Every 2 hours', or 'By the rule FREQ=...'."""
    try:
        text = _phrase(parts, start)
    except (ValueError, KeyError):  # a value this module does not phrase (1MO, -1...)
        text = None
    if text is None:
        return "By the rule " + ";".join(f"{k}={v}" for k, v in parts.items())
    if "COUNT" in parts:
        text += f", {parts['COUNT']} times"
    if "UNTIL" in parts:
        text += f", until {parts['UNTIL'][:4]}-{parts['UNTIL'][4:6]}-{parts['UNTIL'][6:8]}"
    return text


def _ints(parts: dict[str, str], key: str) -> list[int] | None:
    return [int(v) for v in parts[key].split(",")] if key in parts else None


def _phrase(parts: dict[str, str], start: dt.datetime) -> str | None:
    if set(parts) - _PHRASED or _ints(parts, "BYSECOND") not in (None, [0]):
        return None
    freq, n = parts["FREQ"], int(parts.get("INTERVAL", "1"))
    if freq == "SECONDLY" and len(parts.keys() - {"FREQ", "INTERVAL", "COUNT", "UNTIL"}) == 0:
        return "Every " + count_of(n, "second")
    if freq == "SECONDLY":
        return None
    days = [_DAYS[d] for d in parts["BYDAY"].split(",")] if "BYDAY" in parts else None
    hours = _ints(parts, "BYHOUR")
    minutes = _ints(parts, "BYMINUTE") or [start.minute]
    if freq == "MINUTELY":
        if parts.keys() - {"FREQ", "INTERVAL", "COUNT", "UNTIL", "WKST"}:
            return None
        return "Every " + count_of(n, "minute")
    if freq == "HOURLY":
        if hours is not None or len(minutes) != 1:
            return None
        m = minutes[0]
        time = (f"Every {count_of(n, 'hour')}" if m == 0 else
                f"At minute {m} past every {ordinal(n) + ' ' if n > 1 else ''}hour")
        return time + _days(parts, days, None, start, freq, 1, at_clock=False)
    times = [clock(h, m) for h in (hours or [start.hour]) for m in minutes]
    if len(times) > _MAX_TIMES:
        return None
    return "At " + join(times) + _days(parts, days, _ints(parts, "BYMONTHDAY"), start, freq, n,
                                       at_clock=True)


def _days(parts: dict[str, str], days: list[int] | None, monthdays: list[int] | None,
          start: dt.datetime, freq: str, n: int, at_clock: bool) -> str:
    months = _ints(parts, "BYMONTH")
    if monthdays is None and days is None:
        if freq == "WEEKLY":
            days = [start.isoweekday() % 7]
        elif freq == "MONTHLY":
            monthdays = [start.day]
        elif freq == "YEARLY" and months is None:
            return f" on {start.strftime('%B')} {start.day}" + _every(freq, n)
    if monthdays is not None and (days is not None or min(monthdays) < 1):
        raise ValueError("BYMONTHDAY with BYDAY (both must hold) or from the month's end")
    text = ""
    if monthdays is not None:
        noun = "day" if len(monthdays) == 1 else "days"
        text += f" on {noun} {join([str(d) for d in monthdays])} of the month"
    if days is not None:
        text += ", " + weekdays(days)
    if months is not None:
        text += f", in {months_phrase(months)}"
    if not text and at_clock and freq == "DAILY" and n == 1:
        return ", every day"
    return text + _every(freq, n)


def _every(freq: str, n: int) -> str:
    if n == 1 or freq in ("HOURLY", "MINUTELY"):
        return ""
    return f", every {count_of(n, _UNIT[freq])}"
