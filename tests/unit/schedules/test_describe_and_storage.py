"""describe() sentences, to_dict/from_dict round trips, schedule_from, equality and repr."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from typing import Any

import pytest

from orkest.schedules import Cron, Interval, RRule, Schedule, schedule_from

UTC = dt.UTC


@pytest.mark.parametrize(("expr", "words"), [
    ("0 2 * * *", "At 02:00, every day"),
    ("*/15 * * * *", "Every 15 minutes"),
    ("30 9 * * 1-5", "At 09:30, Monday through Friday"),
    ("30 9 * * MON-FRI", "At 09:30, Monday through Friday"),
    ("5 * * * *", "At minute 5 past every hour"),
    ("0 0 1 * *", "At 00:00 on day 1 of the month"),
    ("0 */2 * * *", "Every 2 hours"),
    ("@hourly", "Every hour"),
    ("@weekly", "At 00:00, on Sunday"),
    ("@yearly", "At 00:00 on January 1"),
    ("* * * * *", "Every minute"),
    ("0 9,17 * * *", "At 09:00 and 17:00, every day"),
    ("*/10 9-17 * * MON-FRI", "Every 10 minutes, between 09:00 and 17:59, Monday through Friday"),
    ("0 0 13 * 5", "At 00:00 on day 13 of the month or on Friday"),
    ("10-40/5 * * * *", "At every 5th minute from 10 through 40 past every hour"),
    ("0 0 * * SAT,SUN", "At 00:00, on Saturday and Sunday"),
    ("0 12 * JAN,JUL *", "At 12:00, every day in January and July"),
    ("0 0 1,15 * *", "At 00:00 on days 1 and 15 of the month"),
    ("0 6-22/2 * * *", "Every 2 hours from 06:00 through 22:00"),
    ("0 1,4,9,13,20 * * *", "At minute 0 past hours 1, 4, 9, 13 and 20"),
])
def test_cron_describe(expr: str, words: str) -> None:
    assert Cron(expr).describe() == words


def test_zone_is_named_unless_utc() -> None:
    assert Cron("0 2 * * *", "Europe/Berlin").describe() == "At 02:00, every day (Europe/Berlin)"
    assert Interval(86400, timezone="Europe/Berlin").describe() == "Every day (Europe/Berlin)"


@pytest.mark.parametrize(("schedule", "words"), [
    (Interval(dt.timedelta(minutes=15)), "Every 15 minutes"),
    (Interval(7200), "Every 2 hours"),
    (Interval(3600), "Every hour"),
    (Interval(90), "Every 90 seconds"),
    (Interval(1.5), "Every 1.5 seconds"),
    (Interval(dt.timedelta(weeks=2)), "Every 2 weeks"),
    (Interval(86400, anchor=dt.datetime(2026, 1, 1, 6)), "Every day, aligned to 2026-01-01 06:00"),
    (RRule("FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=9;BYMINUTE=0", "Europe/Berlin"),
     "At 09:00, on Monday and Wednesday (Europe/Berlin)"),
    (RRule("FREQ=HOURLY;INTERVAL=2"), "Every 2 hours"),
    (RRule("FREQ=DAILY;BYHOUR=6;BYMINUTE=30;COUNT=5"), "At 06:30, every day, 5 times"),
    (RRule("FREQ=MONTHLY;BYDAY=1MO"), "By the rule FREQ=MONTHLY;BYDAY=1MO"),
])
def test_interval_and_rrule_describe(schedule: Schedule, words: str) -> None:
    assert schedule.describe() == words


@pytest.mark.parametrize(("schedule", "stored"), [
    (Cron("0 2 * * *", "Europe/Berlin"), {"cron": "0 2 * * *", "timezone": "Europe/Berlin"}),
    (Cron("@daily"), {"cron": "@daily", "timezone": "UTC"}),
    (Interval(3600), {"interval_seconds": 3600, "anchor": "2020-01-01T00:00:00+00:00",
                      "timezone": "UTC"}),
    (Interval(1.5, timezone="Europe/Berlin"),
     {"interval_seconds": 1.5, "anchor": "2020-01-01T00:00:00+01:00",
      "timezone": "Europe/Berlin"}),
    (RRule("FREQ=DAILY;BYHOUR=9", "America/New_York"),
     {"rrule": "FREQ=DAILY;BYHOUR=9", "timezone": "America/New_York"}),
])
def test_to_dict_round_trips_through_json(schedule: Schedule, stored: dict[str, Any]) -> None:
    assert schedule.to_dict() == stored
    back = Schedule.from_dict(json.loads(json.dumps(schedule.to_dict())))
    assert back == schedule and type(back) is type(schedule)
    after = dt.datetime(2026, 5, 1)
    assert back.next_runs(3, after) == schedule.next_runs(3, after)


def test_from_dict_takes_yaml_blocks() -> None:
    assert Schedule.from_dict({"interval_seconds": 60}) == Interval(60)
    assert Schedule.from_dict({"cron": "0 2 * * *", "timezone": None}) == Cron("0 2 * * *")
    assert Schedule.from_dict({"rrule": "FREQ=DAILY", "cron": None}) == RRule("FREQ=DAILY")


class _SpecLike:
    """Stands in for a pydantic model such as the YAML loader's ScheduleSpec."""

    def model_dump(self, exclude_none: bool = False) -> dict[str, Any]:
        return {"cron": "0 2 * * *", "timezone": "Europe/Berlin"}


def test_schedule_from_accepts_what_users_write() -> None:
    cron = Cron("0 2 * * *")
    assert schedule_from(cron) is cron
    assert schedule_from("0 2 * * *") == cron
    assert schedule_from("@daily") == Cron("0 0 * * *")
    assert schedule_from(dt.timedelta(hours=1)) == Interval(3600)
    assert schedule_from({"cron": "0 2 * * *", "timezone": "Europe/Berlin"}) == \
        Cron("0 2 * * *", "Europe/Berlin")
    assert schedule_from({"interval_seconds": 300}) == Interval(300)
    assert schedule_from("FREQ=DAILY;BYHOUR=9") == RRule("FREQ=DAILY;BYHOUR=9")
    assert schedule_from(_SpecLike()) == Cron("0 2 * * *", "Europe/Berlin")


def test_equality_means_same_firings() -> None:
    assert Cron("@daily") == Cron("0  0 * * *") == Cron("0 0 1-31 * 0-7")
    assert Cron("0 2 * * *") != Cron("0 2 * * *", "Europe/Berlin")
    assert Cron("0 * * * *") != Cron("0 0-23 * * *")  # they differ around daylight saving
    assert Interval(3600) == Interval(dt.timedelta(hours=1), anchor=dt.datetime(2026, 1, 1, 5))
    assert Interval(3600) != Interval(3600, anchor=dt.datetime(2026, 1, 1, 5, 30))
    assert Cron("0 * * * *") != Interval(3600)
    assert len({Cron("@daily"), Cron("0 0 * * *"), Interval(60), Interval(60.0)}) == 2


def test_repr() -> None:
    assert repr(Cron("0 2 * * *", "Europe/Berlin")) == \
        "Cron('0 2 * * *', timezone='Europe/Berlin')"
    assert repr(Interval(3600)) == ("Interval(datetime.timedelta(seconds=3600), "
                                    "anchor='2020-01-01T00:00:00+00:00', timezone='UTC')")
    assert repr(RRule("FREQ=DAILY")) == "RRule('FREQ=DAILY', timezone='UTC')"


def test_schedule_is_abstract() -> None:
    with pytest.raises(TypeError):
        Schedule()  # type: ignore[abstract]
    assert all(isinstance(s, Schedule) for s in (Cron("@daily"), Interval(1), RRule("FREQ=DAILY")))


def test_import_orkest_does_not_load_schedules() -> None:
    code = ("import sys, orkest\n"
            "assert 'orkest.schedules' not in sys.modules\n"
            "assert 'dateutil' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)
