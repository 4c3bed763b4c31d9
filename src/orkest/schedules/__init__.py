"""When deployments run: cron, interval and RRULE schedules with time zones (SPEC §5).

Pure definitions (layer 1): each schedule lists its firing times (`next_runs`,
`slots_between`), says itself in words (`describe`) and stores as a dict (`to_dict`,
`Schedule.from_dict`). The scheduler service decides what to do with the times.
Daylight saving follows classic cron; the rules are in `_zones.py` and docs/schedules.md.
"""

from orkest.schedules.base import Schedule
from orkest.schedules.cron import Cron
from orkest.schedules.interval import Interval
from orkest.schedules.parse import schedule_from
from orkest.schedules.rrule import RRule

__all__ = ["Cron", "Interval", "RRule", "Schedule", "schedule_from"]
