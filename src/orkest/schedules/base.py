"""The Schedule base class: what every kind of schedule offers its callers.

A subclass only says how to list its firing instants after a moment (`_instants_after`,
in increasing order, as UTC datetimes); listing, windows, equality and storage are shared.
"""

from __future__ import annotations

import abc
import datetime as dt
import itertools
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from orkest.errors import InvalidSchedule
from orkest.schedules._words import join
from orkest.schedules._zones import UTC, as_utc, resolve_zone

_MICROSECOND = dt.timedelta(microseconds=1)
# dict_key -> schedule class, filled as the kinds are defined (the package imports them all).
_KINDS: dict[str, type[Schedule]] = {}


class Schedule(abc.ABC):
    """When a deployment runs: a rule that lists time-zone-aware firing times."""

    # The key that marks this kind in to_dict() ("cron", "interval_seconds", "rrule").
    dict_key: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.dict_key:
            _KINDS[cls.dict_key] = cls

    def __init__(self, timezone: str = "UTC") -> None:
        self._zone = resolve_zone(timezone)
        self._timezone = timezone

    @property
    def timezone(self) -> str:
        """The IANA name of the zone the schedule is read in (and its results are given in)."""
        return self._timezone

    # -- what subclasses provide ------------------------------------------------------------

    @abc.abstractmethod
    def _instants_after(self, after: dt.datetime) -> Iterator[dt.datetime]:
        """Firing instants strictly after `after` (UTC), increasing, as UTC datetimes."""

    @abc.abstractmethod
    def describe(self) -> str:
        """The schedule in plain English, e.g. 'At 02:00, every day'."""

    @abc.abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form that `Schedule.from_dict` reads back (stored with deployments)."""

    @abc.abstractmethod
    def _key(self) -> tuple[Any, ...]:
        """What makes two schedules of this kind fire at the same instants."""

    @classmethod
    @abc.abstractmethod
    def _from_fields(cls, data: dict[str, Any]) -> Schedule:
        """Build from a dict whose kind key is this class's `dict_key`."""

    # -- shared behaviour ------------------------------------------------------------------

    def next_runs(self, count: int, after: dt.datetime | None = None) -> list[dt.datetime]:
        """The next `count` firing times strictly after `after` (default: now).

        A naive `after` is taken as UTC. Results are aware datetimes in the schedule's zone;
        a schedule that ends (an RRULE with COUNT or UNTIL) may return fewer.
        """
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"count must be a non-negative integer, not {count!r}")
        start = dt.datetime.now(UTC) if after is None else as_utc(after)
        return [moment.astimezone(self._zone)
                for moment in itertools.islice(self._instants_after(start), count)]

    def slots_between(self, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
        """Every firing time in [start, end): the slots a catchup or backfill must create."""
        low, high = as_utc(start), as_utc(end)
        slots = []
        for moment in self._instants_after(low - _MICROSECOND):
            if moment >= high:
                break
            slots.append(moment.astimezone(self._zone))
        return slots

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Schedule:
        """Read back what `to_dict()` wrote, or a YAML `schedule:` block of the same shape."""
        if not isinstance(data, Mapping):
            raise InvalidSchedule(f"Invalid schedule {data!r}: expected a mapping")
        given = {key: value for key, value in data.items() if value is not None}  # None: absent
        kinds = [key for key in _KINDS if key in given]
        if len(kinds) != 1:
            allowed = ", ".join(repr(key) for key in _KINDS)
            found = join([repr(key) for key in kinds]) if kinds else "none of them"
            raise InvalidSchedule(f"Invalid schedule {given!r}: give exactly one of "
                                  f"{allowed} (found {found})")
        kind = _KINDS[kinds[0]]
        return kind._from_fields(given)  # noqa: SLF001 - the base dispatches to its kinds

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return type(self) is type(other) and \
            self._key() == other._key()  # noqa: SLF001 - same class

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))


def check_keys(kind: str, data: dict[str, Any], allowed: set[str]) -> None:
    """Reject keys a schedule dict does not know, so that a typo is not silently ignored."""
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidSchedule(f"Invalid {kind} schedule {data!r}: unknown key(s) "
                              f"{', '.join(map(repr, unknown))}; allowed: "
                              f"{', '.join(map(repr, sorted(allowed)))}")
