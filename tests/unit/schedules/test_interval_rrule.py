"""Interval (real-time spacing) and RRule (local wall clock) schedules, with hand-written times."""

from __future__ import annotations

import datetime as dt
import time

from orkest.schedules import Interval, RRule

UTC = dt.UTC
BERLIN = "Europe/Berlin"


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def instants(schedule: Interval | RRule, count: int, after: dt.datetime) -> list[dt.datetime]:
    return [moment.astimezone(UTC) for moment in schedule.next_runs(count, after)]


# -- Interval ----------------------------------------------------------------------------------

def test_interval_from_the_default_anchor() -> None:
    assert instants(Interval(dt.timedelta(hours=1)), 2, utc(2026, 3, 1, 10, 20)) == [
        utc(2026, 3, 1, 11), utc(2026, 3, 1, 12)]
    assert Interval(90).every == dt.timedelta(seconds=90)
    assert Interval(1.5).every == dt.timedelta(seconds=1, microseconds=500000)


def test_interval_aligns_to_its_anchor_in_both_directions() -> None:
    quarter = Interval(900, anchor=utc(2026, 1, 1, 0, 5))
    assert instants(quarter, 3, utc(2026, 1, 1, 10)) == [
        utc(2026, 1, 1, 10, 5), utc(2026, 1, 1, 10, 20), utc(2026, 1, 1, 10, 35)]
    later_anchor = Interval(3600, anchor=utc(2030, 1, 1, 0, 30))
    assert instants(later_anchor, 1, utc(2026, 1, 1)) == [utc(2026, 1, 1, 0, 30)]


def test_a_naive_anchor_is_read_in_the_schedule_zone() -> None:
    daily = Interval(dt.timedelta(days=1), anchor=dt.datetime(2026, 1, 1, 6),
                     timezone="America/New_York")
    assert daily.anchor.isoformat() == "2026-01-01T06:00:00-05:00"
    assert instants(daily, 1, utc(2026, 1, 5)) == [utc(2026, 1, 5, 11)]


def test_interval_keeps_real_spacing_across_daylight_saving() -> None:
    # Default anchor 2020-01-01 00:00 CET = 2019-12-31 23:00Z: every 24 real hours at 23:00Z.
    daily = Interval(dt.timedelta(hours=24), timezone=BERLIN)
    assert [m.isoformat() for m in daily.next_runs(2, utc(2026, 10, 24))] == [
        "2026-10-25T01:00:00+02:00", "2026-10-26T00:00:00+01:00"]
    hourly = Interval(3600, timezone=BERLIN)
    assert [m.isoformat() for m in hourly.next_runs(3, utc(2026, 3, 29, 0, 30))] == [
        "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00", "2026-03-29T05:00:00+02:00"]
    assert instants(hourly, 3, utc(2026, 3, 29, 0, 30)) == [
        utc(2026, 3, 29, 1), utc(2026, 3, 29, 2), utc(2026, 3, 29, 3)]


def test_interval_slots_between() -> None:
    every_ten = Interval(dt.timedelta(minutes=10))
    assert every_ten.slots_between(utc(2026, 1, 1, 0, 10), utc(2026, 1, 1, 0, 40)) == [
        utc(2026, 1, 1, 0, 10), utc(2026, 1, 1, 0, 20), utc(2026, 1, 1, 0, 30)]


# -- RRule -------------------------------------------------------------------------------------

MON_WED_NINE = "FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=9;BYMINUTE=0"


def test_rrule_keeps_local_time_across_spring_forward() -> None:
    rule = RRule(MON_WED_NINE, BERLIN)
    assert [m.isoformat() for m in rule.next_runs(4, utc(2026, 3, 20))] == [
        "2026-03-23T09:00:00+01:00", "2026-03-25T09:00:00+01:00",
        "2026-03-30T09:00:00+02:00", "2026-04-01T09:00:00+02:00"]
    assert instants(rule, 4, utc(2026, 3, 20)) == [
        utc(2026, 3, 23, 8), utc(2026, 3, 25, 8), utc(2026, 3, 30, 7), utc(2026, 4, 1, 7)]


def test_rrule_keeps_local_time_across_fall_back() -> None:
    assert instants(RRule(MON_WED_NINE, BERLIN), 3, utc(2026, 10, 20)) == [
        utc(2026, 10, 21, 7), utc(2026, 10, 26, 8), utc(2026, 10, 28, 8)]


def test_rrule_gap_and_repeated_hour_follow_the_cron_rule() -> None:
    rule = RRule("FREQ=DAILY;BYHOUR=2;BYMINUTE=30", BERLIN)
    assert instants(rule, 2, utc(2026, 3, 28, 12)) == [
        utc(2026, 3, 29, 1, 0),   # 03:00 CEST, first instant after the jump
        utc(2026, 3, 30, 0, 30)]
    assert instants(rule, 2, utc(2026, 10, 24, 12)) == [
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST only
        utc(2026, 10, 26, 1, 30)]


def test_rrule_with_dtstart_and_count_ends() -> None:
    rule = RRule("DTSTART:20260105T080000\nRRULE:FREQ=DAILY;COUNT=3")
    assert rule.next_runs(5, utc(2026, 1, 1)) == [
        utc(2026, 1, 5, 8), utc(2026, 1, 6, 8), utc(2026, 1, 7, 8)]
    assert rule.next_runs(5, utc(2026, 2, 1)) == []


def test_rrule_dtstart_with_tzid_and_utc_until() -> None:
    rule = RRule("DTSTART;TZID=America/New_York:20260105T090000 RRULE:FREQ=DAILY",
                 "America/New_York")
    assert instants(rule, 2, utc(2026, 1, 1)) == [utc(2026, 1, 5, 14), utc(2026, 1, 6, 14)]
    until = RRule("FREQ=DAILY;BYHOUR=9;BYMINUTE=0;UNTIL=20260103T235959Z")
    assert until.next_runs(5, utc(2026, 1, 1)) == [
        utc(2026, 1, 1, 9), utc(2026, 1, 2, 9), utc(2026, 1, 3, 9)]


def test_rrule_prefix_is_optional() -> None:
    assert RRule("RRULE:FREQ=DAILY") == RRule("FREQ=DAILY")


def test_frequent_rrule_far_from_its_start_is_fast() -> None:
    started = time.perf_counter()
    every_five = RRule("FREQ=MINUTELY;INTERVAL=5").next_runs(3, utc(2026, 6, 1, 0, 2))
    elapsed = time.perf_counter() - started
    assert every_five == [utc(2026, 6, 1, 0, 5), utc(2026, 6, 1, 0, 10), utc(2026, 6, 1, 0, 15)]
    assert elapsed < 0.05
