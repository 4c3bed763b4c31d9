"""RFC 5545 recurrence rules, evaluated by python-dateutil in local wall-clock time.

dateutil lists naive local times; each is mapped to an instant with the same gap and fold rule
as cron (a skipped time fires at the first instant after the jump, a repeated one at its first
occurrence), so "every Monday at 09:00 in Berlin" stays at 09:00 through both clock changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from dateutil.rrule import rrule, rrulestr

from orkest.errors import InvalidSchedule
from orkest.schedules import rrule_describe
from orkest.schedules._zones import UTC, local_wall, resolve_local, resolve_zone, zone_suffix
from orkest.schedules.base import Schedule, check_keys

_DEFAULT_START = dt.datetime(2020, 1, 1)  # local midnight in the schedule's zone
_FREQS = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY")
# A rule without COUNT repeats with a fixed period at these frequencies, so its start can be
# moved forward by whole periods: dateutil always iterates from DTSTART, which for a minutely
# rule started in 2020 would mean millions of steps.
_PERIODS = {"WEEKLY": dt.timedelta(weeks=1), "DAILY": dt.timedelta(days=1),
            "HOURLY": dt.timedelta(hours=1), "MINUTELY": dt.timedelta(minutes=1),
            "SECONDLY": dt.timedelta(seconds=1)}


class RRule(Schedule):
    """An RRULE (`"FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=9;BYMINUTE=0"`), optionally after a DTSTART line.

    Without DTSTART the rule starts at 2020-01-01 00:00 in the schedule's zone, which also
    supplies the defaults RFC 5545 takes from the start (time of day, weekday, day of month).
    A rule with COUNT or UNTIL ends; `next_runs` then returns fewer times.
    """

    dict_key = "rrule"

    def __init__(self, rule: str, timezone: str = "UTC") -> None:
        super().__init__(timezone)
        if not isinstance(rule, str) or not rule.strip():
            raise InvalidSchedule(f"Invalid rrule {rule!r}: expected text such as "
                                  "'FREQ=DAILY;BYHOUR=9'")
        # One part per line; blanks also separate, so "DTSTART:... RRULE:..." fits on one line.
        self._rule = "\n".join(rule.split())
        self._start, body = _split(self._rule, self._zone)
        self._parts = _parts(self._rule, body)
        freq = self._parts.get("FREQ")
        if freq not in _FREQS:
            raise InvalidSchedule(f"Invalid rrule {self._rule!r}: FREQ must be one of "
                                  f"{', '.join(_FREQS)} (got {freq!r})")
        interval = self._parts.get("INTERVAL", "1")
        if not interval.isdigit() or int(interval) < 1:
            raise InvalidSchedule(f"Invalid rrule {self._rule!r}: INTERVAL must be a whole "
                                  f"number of at least 1 (got {interval!r})")
        body = ";".join(f"{key}={_local_until(value, self._zone) if key == 'UNTIL' else value}"
                        for key, value in self._parts.items())
        try:
            self._rrule: rrule = rrulestr("RRULE:" + body, dtstart=self._start)
        except (ValueError, TypeError) as exc:
            raise InvalidSchedule(f"Invalid rrule {self._rule!r}: {exc}") from None
        period = _PERIODS.get(freq)
        self._period = None if period is None or "COUNT" in self._parts else period * int(interval)

    @property
    def rule(self) -> str:
        """The rule text as given (lines stripped)."""
        return self._rule

    def _instants_after(self, after: dt.datetime) -> Iterator[dt.datetime]:
        wall = local_wall(after, self._zone)
        rule = self._rrule
        if self._period is not None and wall - self._start > 2 * self._period:
            # Start one whole period or more before `wall`: same occurrences, fewer steps.
            periods = (wall - self._start) // self._period - 1
            rule = rule.replace(dtstart=self._start + periods * self._period)
        last = after
        # A local time before `wall` can only map to an instant before `after`: repeated
        # times fire at their first occurrence, so no look-back is needed.
        for local in rule.xafter(wall, inc=True):
            first = resolve_local(local, self._zone).first
            if first > last:
                yield first
                last = first

    def describe(self) -> str:
        return rrule_describe.describe(self._parts, self._start) + zone_suffix(self.timezone)

    def to_dict(self) -> dict[str, Any]:
        return {"rrule": self._rule, "timezone": self.timezone}

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> RRule:
        check_keys("rrule", data, {"rrule", "timezone"})
        return cls(data["rrule"], data.get("timezone") or "UTC")

    def _key(self) -> tuple[Any, ...]:
        return (self._start, tuple(sorted(self._parts.items())), self.timezone)

    def __repr__(self) -> str:
        return f"RRule({self._rule!r}, timezone={self.timezone!r})"


def _split(rule: str, zone: dt.tzinfo) -> tuple[dt.datetime, str]:
    """(naive local start, the RRULE's FREQ=... text) from one or two lines."""
    start = _DEFAULT_START
    bodies = []
    for line in rule.splitlines():
        name = line.split(":", 1)[0].split(";", 1)[0].upper() if ":" in line else ""
        if name == "DTSTART":
            start = _parse_start(rule, line, zone)
        elif name == "RRULE":
            bodies.append(line.split(":", 1)[1])
        elif name:
            raise InvalidSchedule(f"Invalid rrule {rule!r}: line {line!r} is not supported; "
                                  "give one RRULE and optionally a DTSTART line")
        else:
            bodies.append(line)
    if len(bodies) != 1:
        raise InvalidSchedule(f"Invalid rrule {rule!r}: expected exactly one rule line "
                              f"(FREQ=...), got {len(bodies)}")
    return start, bodies[0]


def _parts(rule: str, body: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for item in body.strip().strip(";").split(";"):
        key, eq, value = item.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise InvalidSchedule(f"Invalid rrule {rule!r}: part {item!r} is not NAME=VALUE")
        key = key.strip().upper()
        if key in parts:
            raise InvalidSchedule(f"Invalid rrule {rule!r}: {key} is given twice")
        parts[key] = value.strip().upper()
    return parts


def _parse_start(rule: str, line: str, zone: dt.tzinfo) -> dt.datetime:
    """DTSTART[;TZID=Zone]:YYYYMMDD[THHMMSS[Z]] (or ISO 8601) as naive local time."""
    head, value = line.split(":", 1)
    params = dict(p.partition("=")[::2] for p in head.split(";")[1:])
    value = value.strip()
    try:
        if value.upper().endswith("Z"):
            moment = dt.datetime.strptime(value[:-1], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
        elif len(value) == 8 and value.isdigit():
            moment = dt.datetime.strptime(value, "%Y%m%d")
        elif "T" in value and "-" not in value and ":" not in value:
            moment = dt.datetime.strptime(value, "%Y%m%dT%H%M%S")
        else:
            moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidSchedule(f"Invalid rrule {rule!r}: DTSTART value {value!r} is not a "
                              "date-time such as 20260105T090000") from None
    if moment.tzinfo is None and "TZID" in params:
        moment = moment.replace(tzinfo=resolve_zone(params["TZID"]))
    if moment.tzinfo is not None:
        moment = local_wall(moment, zone)
    return moment


def _local_until(value: str, zone: dt.tzinfo) -> str:
    """An UNTIL given in UTC (`...Z`), as local wall time: the rule is evaluated locally."""
    if not value.endswith("Z"):
        return value
    try:
        moment = dt.datetime.strptime(value[:-1], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return value  # dateutil names the problem
    return local_wall(moment, zone).strftime("%Y%m%dT%H%M%S")
