"""Interval schedules: every N seconds, aligned to an anchor, in real (UTC) time.

The arithmetic is done on instants, not on wall clocks, so a daylight-saving change never
stretches or shrinks an interval: `Interval(timedelta(hours=24))` anchored at midnight in
Berlin fires at 01:00 local after the clocks go back. Use `Cron` for "same local time".
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import Any

from orkest.errors import InvalidSchedule
from orkest.schedules._words import count_of
from orkest.schedules._zones import UTC, resolve_local, zone_suffix
from orkest.schedules.base import Schedule, check_keys

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_DEFAULT_ANCHOR = dt.datetime(2020, 1, 1)  # local midnight in the schedule's zone
_UNITS = (("week", dt.timedelta(weeks=1)), ("day", dt.timedelta(days=1)),
          ("hour", dt.timedelta(hours=1)), ("minute", dt.timedelta(minutes=1)),
          ("second", dt.timedelta(seconds=1)))


class Interval(Schedule):
    """Fires at anchor + k * every for every whole k (the anchor aligns, it does not start).

    `every` is a timedelta or a number of seconds. `anchor` defaults to 2020-01-01 00:00 in
    the schedule's zone; a naive anchor is read in that zone.
    """

    dict_key = "interval_seconds"

    def __init__(self, every: dt.timedelta | float, anchor: dt.datetime | None = None,
                 timezone: str = "UTC") -> None:
        super().__init__(timezone)
        self._every = _as_timedelta(every)
        self._default_anchor = anchor is None
        if anchor is not None and not isinstance(anchor, dt.datetime):
            raise InvalidSchedule(f"Invalid interval anchor {anchor!r}: expected a datetime")
        local = _DEFAULT_ANCHOR if anchor is None else anchor
        if local.tzinfo is None or local.utcoffset() is None:
            self._anchor = resolve_local(local, self._zone).first
        else:
            self._anchor = local.astimezone(UTC)
        # A stored schedule spells its anchor out; the default one still goes unsaid.
        if not self._default_anchor:
            default = resolve_local(_DEFAULT_ANCHOR, self._zone).first
            self._default_anchor = self._anchor == default

    @property
    def every(self) -> dt.timedelta:
        """The spacing between firings, in real time."""
        return self._every

    @property
    def anchor(self) -> dt.datetime:
        """One firing instant that all others are aligned to, in the schedule's zone."""
        return self._anchor.astimezone(self._zone)

    def _instants_after(self, after: dt.datetime) -> Iterator[dt.datetime]:
        k = (after - self._anchor) // self._every + 1
        try:
            moment = self._anchor + k * self._every
            while True:
                yield moment
                moment += self._every
        except OverflowError:  # past year 9999: nothing more to give
            return

    def describe(self) -> str:
        text = "Every " + _spacing(self._every)
        if not self._default_anchor:
            text += ", aligned to " + self.anchor.strftime("%Y-%m-%d %H:%M:%S").removesuffix(":00")
        return text + zone_suffix(self.timezone)

    def to_dict(self) -> dict[str, Any]:
        seconds = self._every.total_seconds()
        return {"interval_seconds": int(seconds) if seconds.is_integer() else seconds,
                "anchor": self.anchor.isoformat(), "timezone": self.timezone}

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Interval:
        check_keys("interval", data, {"interval_seconds", "anchor", "timezone"})
        anchor = data.get("anchor")
        if isinstance(anchor, str):
            try:
                anchor = dt.datetime.fromisoformat(anchor)
            except ValueError as exc:
                raise InvalidSchedule(f"Invalid interval anchor {anchor!r}: {exc}") from None
        return cls(data["interval_seconds"], anchor, data.get("timezone") or "UTC")

    def _key(self) -> tuple[Any, ...]:
        # Anchors a whole number of intervals apart give the same firings.
        return (self._every, (self._anchor - _EPOCH) % self._every, self.timezone)

    def __repr__(self) -> str:
        return (f"Interval({self._every!r}, anchor={self.anchor.isoformat()!r}, "
                f"timezone={self.timezone!r})")


def _as_timedelta(every: object) -> dt.timedelta:
    if isinstance(every, dt.timedelta):
        spacing = every
    elif isinstance(every, int | float) and not isinstance(every, bool):
        if not math.isfinite(every):
            raise InvalidSchedule(f"Invalid interval {every!r}: every must be a finite number "
                                  "of seconds greater than 0")
        try:
            spacing = dt.timedelta(seconds=every)
        except OverflowError:
            raise InvalidSchedule(f"Invalid interval {every!r}: too large") from None
    else:
        raise InvalidSchedule(f"Invalid interval {every!r}: every must be a timedelta or a "
                              "number of seconds")
    if spacing <= dt.timedelta(0):
        raise InvalidSchedule(f"Invalid interval {every!r}: every must be greater than 0")
    return spacing


def _spacing(every: dt.timedelta) -> str:
    """'15 minutes', 'hour', '90 minutes', '1.5 seconds'."""
    for unit, size in _UNITS:
        if every % size == dt.timedelta(0):
            return count_of(every // size, unit)
    return count_of(every.total_seconds(), "second")
