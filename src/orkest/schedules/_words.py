"""Small English helpers shared by the describe() methods."""

from __future__ import annotations

from collections.abc import Sequence

MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")
# Index 0 is Sunday, as in cron; 7 is folded to 0 before it gets here.
WEEKDAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def join(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def clock(hour: int, minute: int) -> str:
    """'09:30'."""
    return f"{hour:02d}:{minute:02d}"


def count_of(n: int | float, unit: str) -> str:
    """'hour' for 1, '2 hours' otherwise; used after 'Every'."""
    if n == 1:
        return unit
    text = f"{n:g}" if isinstance(n, float) else str(n)
    return f"{text} {unit}s"


def is_run(values: Sequence[int]) -> bool:
    """A contiguous run of at least three values (read 'a through b')."""
    return len(values) >= 3 and tuple(values) == tuple(range(values[0], values[-1] + 1))


def weekdays(values: Sequence[int]) -> str:
    """Monday first, Sunday last: 'Monday through Friday', 'on Saturday and Sunday'."""
    ordered = sorted(set(values), key=lambda d: (d - 1) % 7)
    if is_run([(d - 1) % 7 for d in ordered]):
        return f"{WEEKDAY_NAMES[ordered[0]]} through {WEEKDAY_NAMES[ordered[-1]]}"
    return "on " + join([WEEKDAY_NAMES[d] for d in ordered])


def months_phrase(values: Sequence[int]) -> str:
    """'January through March', 'January and July' (months numbered from 1)."""
    ordered = sorted(set(values))
    if is_run(ordered):
        return f"{MONTH_NAMES[ordered[0] - 1]} through {MONTH_NAMES[ordered[-1] - 1]}"
    return join([MONTH_NAMES[v - 1] for v in ordered])
