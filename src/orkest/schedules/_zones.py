"""Time zones: resolving names, and turning local wall-clock times into real instants.

Every schedule computes *local* wall-clock times and maps them to instants here, so the
daylight-saving rules of SPEC §5 live in one place:

- a local time inside a jump forward (a gap) does not exist: it maps to the first valid instant
  after the jump (several skipped times therefore collapse into that one instant);
- a local time inside a fall-back hour exists twice: the first occurrence is the one that
  counts; the second is returned separately for the callers that fire on both.

A cron schedule whose hour field is `*` or stepped follows the real clock instead: it skips
the missing times and fires in both passes of the repeated hour (cron.py decides that).

Instants are kept as UTC datetimes internally: Python compares two datetimes that share a
tzinfo by wall clock alone, which would put 02:30 CEST and 02:30 CET at the same moment.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import zoneinfo
from typing import NamedTuple

from orkest.errors import InvalidSchedule

UTC = dt.UTC
_SECOND = dt.timedelta(seconds=1)


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def resolve_zone(name: object) -> zoneinfo.ZoneInfo:
    """Return the zone called `name`, or raise InvalidSchedule with a close suggestion."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidSchedule(f"Invalid time zone {name!r}: give an IANA name such as "
                              "'Europe/Berlin' or 'UTC'")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        pass
    message = f"Unknown time zone {name!r}"
    by_lower = {zone.lower(): zone for zone in _known_zones()}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.75)
    if close:
        message += f"; did you mean {by_lower[close[0]]!r}?"
    else:
        message += ": give an IANA name such as 'Europe/Berlin' or 'UTC'"
    raise InvalidSchedule(message)


def as_utc(moment: dt.datetime) -> dt.datetime:
    """An aware UTC datetime; a naive one is taken as UTC (the documented convention)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def local_wall(instant: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """The naive wall-clock time that `instant` shows in `zone`."""
    return instant.astimezone(zone).replace(tzinfo=None, fold=0)


class Resolved(NamedTuple):
    """Where a local wall-clock time falls in real time."""

    first: dt.datetime  # the instant that counts (UTC); after the jump for a skipped time
    second: dt.datetime | None  # the second occurrence of a repeated time, else None
    skipped: bool  # the local time does not exist (it lies in a jump forward)


def resolve_local(local: dt.datetime, zone: dt.tzinfo) -> Resolved:
    """Map a naive local time to its instants (see `Resolved`)."""
    first = local.replace(tzinfo=zone, fold=0)
    second = local.replace(tzinfo=zone, fold=1)
    before, after = first.utcoffset(), second.utcoffset()
    if before == after or before is None or after is None:
        return Resolved(first.astimezone(UTC), None, False)
    if before > after:  # fold: fold=0 is the earlier (pre-transition) occurrence
        return Resolved(first.astimezone(UTC), second.astimezone(UTC), False)
    # Gap: fold=1 reads the time with the later offset (an instant before the jump) and
    # fold=0 with the earlier one (an instant after it); the jump lies between them.
    jump = _transition_between(second.astimezone(UTC), first.astimezone(UTC), zone)
    return Resolved(jump, None, True)


def _transition_between(low: dt.datetime, high: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """The first instant in (low, high] whose UTC offset differs from low's (binary search)."""
    offset = low.astimezone(zone).utcoffset()
    lo, hi = 0, int((high - low) / _SECOND)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if (low + mid * _SECOND).astimezone(zone).utcoffset() == offset:
            lo = mid
        else:
            hi = mid
    return low + hi * _SECOND


def zone_suffix(name: str) -> str:
    """' (Europe/Berlin)' for describe(); nothing for UTC, the default."""
    return "" if name == "UTC" else f" ({name})"
