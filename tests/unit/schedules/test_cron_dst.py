"""Cron across daylight-saving changes (SPEC §5), in Europe and America, daily and hourly.

2026 transitions: Europe/Berlin 29 Mar 02:00 -> 03:00 (01:00Z) and 25 Oct 03:00 -> 02:00
(01:00Z); America/New_York 8 Mar 02:00 -> 03:00 (07:00Z) and 1 Nov 02:00 -> 01:00 (06:00Z).
Expectations are UTC instants, plus the wall clock with its offset where it helps.
"""

from __future__ import annotations

import datetime as dt

from orkest.schedules import Cron

UTC = dt.UTC
BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def instants(expr: str, zone: str, count: int, after: dt.datetime) -> list[dt.datetime]:
    return [moment.astimezone(UTC) for moment in Cron(expr, zone).next_runs(count, after)]


def walls(expr: str, zone: str, count: int, after: dt.datetime) -> list[str]:
    return [moment.isoformat() for moment in Cron(expr, zone).next_runs(count, after)]


# -- daily schedules inside the changed hour: once, always --------------------------------------

def test_daily_in_the_spring_gap_fires_at_the_jump_berlin() -> None:
    assert instants("30 2 * * *", BERLIN, 4, utc(2026, 3, 27)) == [
        utc(2026, 3, 27, 1, 30), utc(2026, 3, 28, 1, 30),
        utc(2026, 3, 29, 1, 0),  # 03:00 CEST, the first instant after the jump
        utc(2026, 3, 30, 0, 30)]
    assert walls("30 2 * * *", BERLIN, 2, utc(2026, 3, 28, 12)) == [
        "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"]


def test_daily_in_the_repeated_hour_fires_once_berlin() -> None:
    assert instants("30 2 * * *", BERLIN, 3, utc(2026, 10, 24)) == [
        utc(2026, 10, 24, 0, 30),
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST, the first occurrence only
        utc(2026, 10, 26, 1, 30)]
    # Asked from inside the repeated hour (02:45 CEST), 02:30 CET does not fire again.
    assert instants("30 2 * * *", BERLIN, 1, utc(2026, 10, 25, 0, 45)) == [utc(2026, 10, 26, 1, 30)]


def test_daily_in_the_spring_gap_fires_at_the_jump_new_york() -> None:
    assert instants("30 2 * * *", NEW_YORK, 3, utc(2026, 3, 7)) == [
        utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 30)]
    assert walls("30 2 * * *", NEW_YORK, 1, utc(2026, 3, 8)) == ["2026-03-08T03:00:00-04:00"]


def test_daily_in_the_repeated_hour_fires_once_new_york() -> None:
    assert instants("30 1 * * *", NEW_YORK, 3, utc(2026, 10, 31)) == [
        utc(2026, 10, 31, 5, 30),
        utc(2026, 11, 1, 5, 30),  # 01:30 EDT; 01:30 EST (06:30Z) does not fire
        utc(2026, 11, 2, 6, 30)]
    assert walls("30 1 * * *", NEW_YORK, 1, utc(2026, 11, 1)) == ["2026-11-01T01:30:00-04:00"]


def test_fixed_hour_list_fires_once_per_local_time() -> None:
    assert instants("30 1,2 * * *", BERLIN, 3, utc(2026, 10, 24, 12)) == [
        utc(2026, 10, 24, 23, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 0, 30)]


def test_skipped_minutes_of_a_fixed_hour_collapse_into_one_firing() -> None:
    assert instants("* 2 * * *", BERLIN, 2, utc(2026, 3, 29)) == [
        utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 0)]


# -- hourly schedules follow the real clock --------------------------------------------------

def test_hourly_skips_the_missing_hour_berlin() -> None:
    assert walls("30 * * * *", BERLIN, 3, utc(2026, 3, 28, 23, 45)) == [
        "2026-03-29T01:30:00+01:00", "2026-03-29T03:30:00+02:00", "2026-03-29T04:30:00+02:00"]
    assert instants("30 * * * *", BERLIN, 3, utc(2026, 3, 28, 23, 45)) == [
        utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 2, 30)]


def test_hourly_fires_in_both_passes_of_the_repeated_hour_berlin() -> None:
    assert walls("30 * * * *", BERLIN, 3, utc(2026, 10, 24, 23, 45)) == [
        "2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00", "2026-10-25T03:30:00+01:00"]
    assert instants("30 * * * *", BERLIN, 3, utc(2026, 10, 24, 23, 45)) == [
        utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 2, 30)]


def test_hourly_asked_from_inside_the_repeated_hour() -> None:
    for after in (utc(2026, 10, 25, 0, 45), utc(2026, 10, 25, 0, 59), utc(2026, 10, 25, 1)):
        assert instants("30 * * * *", BERLIN, 2, after) == [
            utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 2, 30)]


def test_hourly_new_york_both_transitions() -> None:
    assert walls("30 * * * *", NEW_YORK, 3, utc(2026, 3, 8, 5, 45)) == [
        "2026-03-08T01:30:00-05:00", "2026-03-08T03:30:00-04:00", "2026-03-08T04:30:00-04:00"]
    assert instants("30 * * * *", NEW_YORK, 3, utc(2026, 11, 1, 4, 45)) == [
        utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 7, 30)]
    assert walls("30 * * * *", NEW_YORK, 2, utc(2026, 11, 1, 4, 45)) == [
        "2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00"]


def test_quarter_hourly_across_the_gap_fires_once_at_three() -> None:
    assert walls("*/15 * * * *", BERLIN, 3, utc(2026, 3, 29, 0, 40)) == [
        "2026-03-29T01:45:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T03:15:00+02:00"]
    assert instants("*/15 * * * *", BERLIN, 3, utc(2026, 3, 29, 0, 40)) == [
        utc(2026, 3, 29, 0, 45), utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 1, 15)]


def test_quarter_hourly_across_the_repeated_hour_is_in_real_time_order() -> None:
    assert instants("*/15 * * * *", BERLIN, 4, utc(2026, 10, 25, 0, 40)) == [
        utc(2026, 10, 25, 0, 45),  # 02:45 CEST
        utc(2026, 10, 25, 1, 0),   # 02:00 CET
        utc(2026, 10, 25, 1, 15),  # 02:15 CET
        utc(2026, 10, 25, 1, 30)]


def test_stepped_hour_skips_a_slot_in_the_gap() -> None:
    # 02:00 does not exist and */2 follows the real clock: 00:00, then 04:00 CEST.
    assert instants("0 */2 * * *", BERLIN, 2, utc(2026, 3, 28, 23)) == [
        utc(2026, 3, 29, 2), utc(2026, 3, 29, 4)]


def test_slots_between_across_the_repeated_hour() -> None:
    cron = Cron("30 * * * *", BERLIN)
    slots = cron.slots_between(utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 3))
    assert [s.astimezone(UTC) for s in slots] == [
        utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 2, 30)]


def test_results_strictly_increase_through_a_whole_year() -> None:
    for expr in ("*/20 * * * *", "30 2 * * *", "0 1-3 * * *"):
        for zone in (BERLIN, NEW_YORK):
            stamps = [m.timestamp() for m in Cron(expr, zone).next_runs(400, utc(2026, 3, 1))]
            assert stamps == sorted(set(stamps)), (expr, zone)
