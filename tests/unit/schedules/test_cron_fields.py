"""Cron field parsing and day rules, in UTC: every expected time is written by hand."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest

from orkest.schedules import Cron

UTC = dt.UTC


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def runs(expr: str, count: int, after: dt.datetime) -> list[dt.datetime]:
    return [moment.astimezone(UTC) for moment in Cron(expr).next_runs(count, after)]


def test_ranges_with_steps_and_lists() -> None:
    assert runs("10-40/15 * * * *", 4, utc(2026, 1, 1)) == [
        utc(2026, 1, 1, 0, 10), utc(2026, 1, 1, 0, 25), utc(2026, 1, 1, 0, 40),
        utc(2026, 1, 1, 1, 10)]
    assert runs("5,35 */6 * * *", 5, utc(2026, 1, 1)) == [
        utc(2026, 1, 1, 0, 5), utc(2026, 1, 1, 0, 35), utc(2026, 1, 1, 6, 5),
        utc(2026, 1, 1, 6, 35), utc(2026, 1, 1, 12, 5)]
    assert runs("0 22/1 * * *", 3, utc(2026, 1, 1)) == [  # a/n runs from a to the field's end
        utc(2026, 1, 1, 22), utc(2026, 1, 1, 23), utc(2026, 1, 2, 22)]


def test_weekday_and_month_names_any_case() -> None:
    # 2026-01-02 is a Friday; the next weekdays are Monday 5th and Tuesday 6th.
    assert runs("0 9 * * MON-FRI", 3, utc(2026, 1, 2, 10)) == [
        utc(2026, 1, 5, 9), utc(2026, 1, 6, 9), utc(2026, 1, 7, 9)]
    assert runs("0 0 1 jan,Jul *", 3, utc(2026, 1, 1)) == [
        utc(2026, 7, 1), utc(2027, 1, 1), utc(2027, 7, 1)]
    assert runs("0 0 * * fri-sun", 3, utc(2026, 1, 1)) == [  # Fri 2, Sat 3, Sun 4
        utc(2026, 1, 2), utc(2026, 1, 3), utc(2026, 1, 4)]


def test_zero_and_seven_are_both_sunday() -> None:
    assert Cron("0 0 * * 7") == Cron("0 0 * * 0") == Cron("0 0 * * SUN")
    assert runs("0 0 * * 7", 2, utc(2026, 1, 1)) == [utc(2026, 1, 4), utc(2026, 1, 11)]


@pytest.mark.parametrize(("alias", "after", "expected"), [
    ("@yearly", utc(2026, 1, 1), [utc(2027, 1, 1), utc(2028, 1, 1)]),
    ("@annually", utc(2026, 1, 1), [utc(2027, 1, 1), utc(2028, 1, 1)]),
    ("@monthly", utc(2026, 1, 15), [utc(2026, 2, 1), utc(2026, 3, 1)]),
    ("@weekly", utc(2026, 1, 1), [utc(2026, 1, 4), utc(2026, 1, 11)]),
    ("@daily", utc(2026, 1, 1), [utc(2026, 1, 2), utc(2026, 1, 3)]),
    ("@midnight", utc(2026, 1, 1), [utc(2026, 1, 2), utc(2026, 1, 3)]),
    ("@HOURLY", utc(2026, 1, 1), [utc(2026, 1, 1, 1), utc(2026, 1, 1, 2)]),
])
def test_aliases(alias: str, after: dt.datetime, expected: list[dt.datetime]) -> None:
    assert runs(alias, 2, after) == expected


def test_day_of_month_or_day_of_week_when_both_are_restricted() -> None:
    # Fridays (2nd, 9th, 16th) and the 13th (a Tuesday in January 2026).
    assert runs("0 0 13 * FRI", 4, utc(2026, 1, 1)) == [
        utc(2026, 1, 2), utc(2026, 1, 9), utc(2026, 1, 13), utc(2026, 1, 16)]


def test_a_stepped_day_field_counts_as_restricted() -> None:
    # Odd days or Mondays: 11th, Monday 12th, 13th (Vixie cron would AND these).
    assert runs("0 0 */2 * MON", 3, utc(2026, 1, 10)) == [
        utc(2026, 1, 11), utc(2026, 1, 12), utc(2026, 1, 13)]


def test_full_range_day_field_is_not_restricted() -> None:
    # 1-31 allows every day, so only the weekday limits: AND, not OR.
    assert runs("0 0 1-31 * MON", 2, utc(2026, 1, 1)) == [utc(2026, 1, 5), utc(2026, 1, 12)]


def test_leap_day() -> None:
    assert runs("0 0 29 2 *", 2, utc(2026, 1, 1)) == [utc(2028, 2, 29), utc(2032, 2, 29)]


def test_thirty_first_only_in_long_months() -> None:
    assert runs("0 0 31 * *", 8, utc(2026, 1, 1)) == [
        utc(2026, 1, 31), utc(2026, 3, 31), utc(2026, 5, 31), utc(2026, 7, 31),
        utc(2026, 8, 31), utc(2026, 10, 31), utc(2026, 12, 31), utc(2027, 1, 31)]


def test_year_end_rollover() -> None:
    assert runs("59 23 31 12 *", 2, utc(2026, 12, 31, 23, 59)) == [
        utc(2027, 12, 31, 23, 59), utc(2028, 12, 31, 23, 59)]


def test_after_is_strict_naive_means_utc_and_other_zones_convert() -> None:
    assert runs("0 2 * * *", 1, utc(2026, 1, 1, 2)) == [utc(2026, 1, 2, 2)]
    assert runs("0 2 * * *", 1, dt.datetime(2026, 1, 1, 1, 59)) == [utc(2026, 1, 1, 2)]
    berlin_three = dt.datetime(2026, 1, 1, 3, tzinfo=ZoneInfo("Europe/Berlin"))  # 02:00Z
    assert runs("0 2 * * *", 1, berlin_three) == [utc(2026, 1, 2, 2)]
    assert runs("0 2 * * *", 1, utc(2026, 1, 1, 1, 59, 59, 999999)) == [utc(2026, 1, 1, 2)]


def test_results_are_in_the_schedule_zone() -> None:
    [first] = Cron("0 2 * * *", "Europe/Berlin").next_runs(1, utc(2026, 1, 1))
    assert first.isoformat() == "2026-01-01T02:00:00+01:00"
    assert first.tzinfo == ZoneInfo("Europe/Berlin")


def test_default_after_is_now_and_counts() -> None:
    before = dt.datetime.now(UTC)
    [first] = Cron("* * * * *").next_runs(1)
    assert before < first <= before + dt.timedelta(minutes=1)
    assert Cron("* * * * *").next_runs(0) == []
    with pytest.raises(ValueError, match="count"):
        Cron("* * * * *").next_runs(-1)


def test_slots_between_is_half_open() -> None:
    cron = Cron("0 */6 * * *")
    assert cron.slots_between(utc(2026, 1, 1), utc(2026, 1, 2)) == [
        utc(2026, 1, 1), utc(2026, 1, 1, 6), utc(2026, 1, 1, 12), utc(2026, 1, 1, 18)]
    assert cron.slots_between(utc(2026, 1, 1, 1), utc(2026, 1, 1, 6)) == []


def test_question_mark_means_any_day() -> None:
    assert Cron("0 12 ? * MON") == Cron("0 12 * * MON")


def test_sparse_schedules_are_computed_field_by_field() -> None:
    started = time.perf_counter()
    yearly = runs("0 0 1 1 *", 20, utc(2026, 1, 1))
    leap_mondays = runs("0 0 29 2 MON", 20, utc(2026, 1, 1))
    elapsed = time.perf_counter() - started
    assert yearly[0] == utc(2027, 1, 1) and yearly[-1] == utc(2046, 1, 1)
    assert leap_mondays[:2] == [utc(2026, 2, 2), utc(2026, 2, 9)]  # OR: Mondays of February
    assert elapsed < 0.05
