"""Bad schedules fail with InvalidSchedule naming the field, the value and what is allowed."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from orkest.errors import InvalidSchedule, OrkestError
from orkest.schedules import Cron, Interval, RRule, Schedule, schedule_from


@pytest.mark.parametrize(("expr", "message"), [
    ("61 * * * *", "Invalid cron '61 * * * *': minute field '61' is out of range 0-59"),
    ("0 24 * * *", "Invalid cron '0 24 * * *': hour field '24' is out of range 0-23"),
    ("0 0 0 * *", "Invalid cron '0 0 0 * *': day-of-month field '0' is out of range 1-31"),
    ("0 0 * 13 *", "Invalid cron '0 0 * 13 *': month field '13' is out of range 1-12"),
    ("0 0 * * 8", "Invalid cron '0 0 * * 8': day-of-week field '8' is out of range 0-7"),
    ("5,61 * * * *", "Invalid cron '5,61 * * * *': minute field '5,61': '61' is out of range 0-59"),
    ("0 2 * *", "Invalid cron '0 2 * *': expected 5 fields (minute hour day-of-month month "
                "day-of-week), got 4"),
    ("0 2 * * * *", "Invalid cron '0 2 * * * *': expected 5 fields (minute hour day-of-month "
                    "month day-of-week), got 6"),
    ("*/0 * * * *", "Invalid cron '*/0 * * * *': minute field '*/0': step 0 must be at least 1"),
    ("*/x * * * *", "Invalid cron '*/x * * * *': minute field '*/x': step 'x' is not a whole "
                    "number"),
    ("0 0 * * FUN", "Invalid cron '0 0 * * FUN': day-of-week field 'FUN': unknown name 'FUN' "
                    "(allowed 0-7 or SUN-SAT)"),
    ("0 0 * FOO *", "Invalid cron '0 0 * FOO *': month field 'FOO': unknown name 'FOO' "
                    "(allowed 1-12 or JAN-DEC)"),
    ("0 5-1 * * *", "Invalid cron '0 5-1 * * *': hour field '5-1': range '5-1' runs backwards "
                    "(allowed 0-23)"),
    ("1,,2 * * * *", "Invalid cron '1,,2 * * * *': minute field '1,,2' has an empty list item"),
    ("@reboot", "Invalid cron '@reboot': unknown alias '@reboot'; use one of @yearly, "
                "@annually, @monthly, @weekly, @daily, @midnight, @hourly"),
    ("@once", "Invalid cron '@once': '@once' means a single run, not a recurring schedule"),
    ("0 0 31 2 *", "Invalid cron '0 0 31 2 *': day-of-month field '31' never occurs in month "
                   "field '2' (February), so it would never fire"),
    ("0 0 L * *", "Invalid cron '0 0 L * *': day-of-month field 'L': 'L' (Quartz 'nth weekday' "
                  "or 'last day' syntax) is not supported (allowed 1-31)"),
])
def test_bad_cron(expr: str, message: str) -> None:
    with pytest.raises(InvalidSchedule, match=f"^{re.escape(message)}$"):
        Cron(expr)


def test_invalid_schedule_is_an_orkest_error_and_a_value_error() -> None:
    with pytest.raises(OrkestError):
        Cron("61 * * * *")
    with pytest.raises(ValueError):
        Cron("61 * * * *")


@pytest.mark.parametrize(("zone", "message"), [
    ("Europe/Berln", "Unknown time zone 'Europe/Berln'; did you mean 'Europe/Berlin'?"),
    ("america/new_york", "Unknown time zone 'america/new_york'; did you mean "
                         "'America/New_York'?"),
    ("Mars/Olympus", "Unknown time zone 'Mars/Olympus': give an IANA name such as "
                     "'Europe/Berlin' or 'UTC'"),
])
def test_unknown_time_zone(zone: str, message: str) -> None:
    for make in (lambda: Cron("0 0 * * *", zone), lambda: Interval(60, timezone=zone),
                 lambda: RRule("FREQ=DAILY", zone)):
        with pytest.raises(InvalidSchedule, match=f"^{re.escape(message)}$"):
            make()


@pytest.mark.parametrize(("every", "message"), [
    (0, "Invalid interval 0: every must be greater than 0"),
    (-5, "Invalid interval -5: every must be greater than 0"),
    (dt.timedelta(0), "Invalid interval datetime.timedelta(0): every must be greater than 0"),
    (dt.timedelta(seconds=-1), "Invalid interval datetime.timedelta(days=-1, seconds=86399): "
                               "every must be greater than 0"),
    ("1h", "Invalid interval '1h': every must be a timedelta or a number of seconds"),
])
def test_bad_interval(every: Any, message: str) -> None:
    with pytest.raises(InvalidSchedule, match=f"^{re.escape(message)}$"):
        Interval(every)


@pytest.mark.parametrize(("rule", "message"), [
    ("FREQ=SOMETIMES", "Invalid rrule 'FREQ=SOMETIMES': FREQ must be one of YEARLY, MONTHLY, "
                       "WEEKLY, DAILY, HOURLY, MINUTELY, SECONDLY (got 'SOMETIMES')"),
    ("FREQ=DAILY;BYHOUR=25", "Invalid rrule 'FREQ=DAILY;BYHOUR=25': hour must be in 0..23"),
    ("FREQ=DAILY;FOO=1", "Invalid rrule 'FREQ=DAILY;FOO=1': unknown parameter 'FOO'"),
    ("FREQ=DAILY;INTERVAL=0", "Invalid rrule 'FREQ=DAILY;INTERVAL=0': INTERVAL must be a whole "
                              "number of at least 1 (got '0')"),
    ("FREQ=DAILY;BYHOUR", "Invalid rrule 'FREQ=DAILY;BYHOUR': part 'BYHOUR' is not NAME=VALUE"),
    ("FREQ=DAILY\nEXDATE:20260101T000000", "Invalid rrule 'FREQ=DAILY\\nEXDATE:20260101T000000'"
     ": line 'EXDATE:20260101T000000' is not supported; give one RRULE and optionally a "
     "DTSTART line"),
])
def test_bad_rrule(rule: str, message: str) -> None:
    with pytest.raises(InvalidSchedule, match=f"^{re.escape(message)}$"):
        RRule(rule)


@pytest.mark.parametrize(("data", "message"), [
    ({"cron": "0 * * * *", "interval_seconds": 5}, "give exactly one of 'cron', "
     "'interval_seconds', 'rrule' (found 'cron' and 'interval_seconds')"),
    ({}, "(found none of them)"),
    ({"cron": "0 * * * *", "tz": "UTC"}, "unknown key(s) 'tz'; allowed: 'cron', 'timezone'"),
    ({"interval_seconds": 60, "anchor": "yesterday"}, "Invalid interval anchor 'yesterday'"),
])
def test_bad_dict(data: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidSchedule, match=re.escape(message)):
        Schedule.from_dict(data)


def test_schedule_from_rejects_other_things() -> None:
    with pytest.raises(InvalidSchedule, match=r"^Invalid schedule 42: give a cron string"):
        schedule_from(42)
    with pytest.raises(InvalidSchedule, match="minute field '99'"):
        schedule_from("99 * * * *")
