"""Cron schedules: five classic fields read in a time zone, with cron's daylight-saving rule.

Next times are found field by field (jump to the next allowed month, then day, hour, minute)
so that a yearly schedule costs a few dozen steps, not half a million minutes. The local
wall-clock times found are mapped to instants in `_zones.resolve_local`; see SPEC §5.
"""

from __future__ import annotations

import bisect
import collections
import datetime as dt
from collections.abc import Iterator
from typing import Any

from orkest.schedules import cron_describe, cron_fields
from orkest.schedules._zones import local_wall, resolve_local, zone_suffix
from orkest.schedules.base import Schedule, check_keys

_MINUTE = dt.timedelta(minutes=1)
_HOUR = dt.timedelta(hours=1)
_DAY = dt.timedelta(days=1)
# How far back to look when a repeated hour is near: wider than any clock change (at most 2h).
_FOLD_REACH = dt.timedelta(hours=3)
# A valid expression fires at least every 8 years (Feb 29 around 2100); stop well after.
_HORIZON_YEARS = 50


class Cron(Schedule):
    """A cron expression (`"0 2 * * *"`, `"*/15 9-17 * * MON-FRI"`, `"@daily"`) in a time zone.

    When day-of-month and day-of-week are both restricted, a day matches if either does
    (classic cron). A field is restricted when it does not allow its whole range.

    Daylight saving, as classic cron: with a fixed hour field, a time skipped by a jump
    forward fires once at the first instant after the jump, and a repeated time fires once,
    at its first occurrence. With a `*` or stepped hour field the schedule follows the real
    clock: it fires at every real hour that matches, so it skips the missing hour and fires
    in both passes of the repeated one.
    """

    dict_key = "cron"

    def __init__(self, expr: str, timezone: str = "UTC") -> None:
        self._fields = cron_fields.parse(expr)
        self._expr = " ".join(expr.split())
        super().__init__(timezone)
        f = self._fields
        self._months, self._hours, self._minutes = (f.month.values, f.hour.values,
                                                    f.minute.values)
        self._month_set, self._hour_set, self._minute_set = (
            frozenset(self._months), frozenset(self._hours), frozenset(self._minutes))
        self._doms = frozenset(f.day_of_month.values)
        self._dows = frozenset(f.day_of_week.values)
        self._either_day = f.day_of_month.restricted and f.day_of_week.restricted

    @property
    def expr(self) -> str:
        """The expression as given (whitespace normalised; aliases kept)."""
        return self._expr

    def describe(self) -> str:
        return cron_describe.describe(self._fields) + zone_suffix(self.timezone)

    def to_dict(self) -> dict[str, Any]:
        return {"cron": self._expr, "timezone": self.timezone}

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Cron:
        check_keys("cron", data, {"cron", "timezone"})
        return cls(data["cron"], data.get("timezone") or "UTC")

    def _key(self) -> tuple[Any, ...]:
        f = self._fields
        return (f.minute.values, f.hour.values, f.day_of_month.values, f.month.values,
                f.day_of_week.values, self._either_day, f.hour_repeats, self.timezone)

    def __repr__(self) -> str:
        return f"Cron({self._expr!r}, timezone={self.timezone!r})"

    # -- iteration ---------------------------------------------------------------------------

    def _instants_after(self, after: dt.datetime) -> Iterator[dt.datetime]:
        zone, repeats = self._zone, self._fields.hour_repeats
        local = local_wall(after, zone).replace(second=0, microsecond=0)
        if repeats and self._near_fall_back(after):
            # Local times just before `after`'s wall clock may come round again after it.
            local -= _FOLD_REACH
        pending: collections.deque[dt.datetime] = collections.deque()  # second occurrences
        last = after
        while (found := self._next_local(local)) is not None:
            first, second, skipped = resolve_local(found, zone)
            if skipped and repeats:
                # A schedule that follows every real hour skips the hour that never happens.
                local = found + _MINUTE
                continue
            while pending and pending[0] < first:
                moment = pending.popleft()
                if moment > last:
                    yield moment
                    last = moment
            if first > last:  # also drops the repeats of a collapsed spring-forward gap
                yield first
                last = first
            if second is not None and repeats:
                pending.append(second)
            local = found + _MINUTE
        yield from (moment for moment in pending if moment > last)

    def _near_fall_back(self, after: dt.datetime) -> bool:
        zone = self._zone
        offsets = {(after + k * _FOLD_REACH).astimezone(zone).utcoffset() for k in (-1, 0, 1)}
        return len(offsets) > 1

    def _next_local(self, t: dt.datetime) -> dt.datetime | None:
        """The first matching naive local time at or after `t` (a whole minute)."""
        limit = min(t.year + _HORIZON_YEARS, dt.MAXYEAR - 1)
        months, hours, minutes = self._months, self._hours, self._minutes
        while t.year <= limit:
            if t.month not in self._month_set:
                i = bisect.bisect_left(months, t.month)
                t = (dt.datetime(t.year, months[i], 1) if i < len(months)
                     else dt.datetime(t.year + 1, months[0], 1))
            elif not self._day_matches(t):
                t = dt.datetime(t.year, t.month, t.day) + _DAY
            elif t.hour not in self._hour_set:
                i = bisect.bisect_left(hours, t.hour)
                t = (t.replace(hour=hours[i], minute=0) if i < len(hours)
                     else dt.datetime(t.year, t.month, t.day) + _DAY)
            elif t.minute not in self._minute_set:
                i = bisect.bisect_left(minutes, t.minute)
                t = (t.replace(minute=minutes[i]) if i < len(minutes)
                     else t.replace(minute=0) + _HOUR)
            else:
                return t
        return None

    def _day_matches(self, t: dt.datetime) -> bool:
        dom_ok = t.day in self._doms
        dow_ok = t.isoweekday() % 7 in self._dows  # cron counts Sunday as 0
        return (dom_ok or dow_ok) if self._either_day else (dom_ok and dow_ok)
