"""Parsing the five fields of a cron expression into sets of allowed values.

Kept apart from the iteration (cron.py) and the words (cron_describe.py): each error message
names the expression, the field, its text and what is allowed, because a cron string usually
comes from a YAML file or a command line where the user has nothing else to go by.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass

from orkest.errors import InvalidSchedule

ALIASES = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
_WEEKDAYS = {"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}

# (name, lowest, highest, names allowed in the field)
_SPECS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 7, _WEEKDAYS),
)
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # at most, February leaps


@dataclass(frozen=True)
class CronField:
    """One parsed field: its text and the sorted values it allows."""

    name: str
    text: str
    values: tuple[int, ...]
    low: int
    high: int

    @property
    def restricted(self) -> bool:
        """False when the field allows every value of its range (`*`, `0-59`, `0-7`...)."""
        return len(self.values) < self.high - self.low + 1


@dataclass(frozen=True)
class CronFields:
    """A parsed expression: the five fields plus the flag the daylight-saving rule needs."""

    minute: CronField
    hour: CronField
    day_of_month: CronField
    month: CronField
    day_of_week: CronField
    # Whether the hour field is `*` or stepped: such a schedule keeps firing every real hour
    # through a repeated (fall-back) hour instead of once (SPEC §5).
    hour_repeats: bool


def expand_alias(expr: str) -> str:
    """The five-field form of an @alias; other text is returned normalised."""
    text = " ".join(expr.split())
    if text.startswith("@"):
        key = text.lower()
        if key in ALIASES:
            return ALIASES[key]
        if key == "@once":
            raise InvalidSchedule(f"Invalid cron {expr!r}: '@once' means a single run, not a "
                                  "recurring schedule")
        raise InvalidSchedule(f"Invalid cron {expr!r}: unknown alias {text!r}; use one of "
                              f"{', '.join(ALIASES)}")
    return text


def parse(expr: str) -> CronFields:
    """Parse a cron expression or @alias; raise InvalidSchedule naming what is wrong."""
    if not isinstance(expr, str):
        raise InvalidSchedule(f"Invalid cron {expr!r}: expected a string such as '0 2 * * *'")
    parts = expand_alias(expr).split()
    if len(parts) != 5:
        raise InvalidSchedule(
            f"Invalid cron {expr!r}: expected 5 fields (minute hour day-of-month month "
            f"day-of-week), got {len(parts)}")
    fields = [_parse_field(expr, text, *spec) for text, spec in zip(parts, _SPECS, strict=True)]
    hour_text = parts[1]
    repeats = any(item.startswith("*") or "/" in item for item in hour_text.split(","))
    parsed = CronFields(*fields, hour_repeats=repeats)
    _check_reachable(expr, parsed)
    return parsed


def _parse_field(expr: str, text: str, name: str, low: int, high: int,
                 names: dict[str, int]) -> CronField:
    if name in ("day-of-month", "day-of-week") and text == "?":
        text = "*"  # Quartz and AWS write '?' for "any" in the day fields
    values: set[int] = set()
    for item in text.split(","):
        values.update(_parse_item(expr, text, item, name, low, high, names))
    if name == "day-of-week" and 7 in values:
        values.discard(7)
        values.add(0)  # 0 and 7 are both Sunday
        high = 6
    elif name == "day-of-week":
        high = 6
    return CronField(name, text, tuple(sorted(values)), low, high)


def _parse_item(expr: str, text: str, item: str, name: str, low: int, high: int,
                names: dict[str, int]) -> range:
    where = f"Invalid cron {expr!r}: {name} field {text!r}"
    allowed = f"{low}-{high}" + (f" or {_name_range(names)}" if names else "")
    if not item:
        raise InvalidSchedule(f"{where} has an empty list item")
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit():
            raise InvalidSchedule(f"{where}: step {step_text!r} is not a whole number")
        step = int(step_text)
        if step < 1:
            raise InvalidSchedule(f"{where}: step {step} must be at least 1")
    if base == "*":
        return range(low, high + 1, step)
    first_text, dash, last_text = base.partition("-")
    first = _value(where, first_text == text, first_text, low, high, names, allowed)
    if not dash:
        return range(first, (high if slash else first) + 1, step)
    last = _value(where, False, last_text, low, high, names, allowed)
    if name == "day-of-week" and last == 0 and first > 0:
        last = 7  # FRI-SUN: Sunday ends the week too
    if last < first:
        raise InvalidSchedule(f"{where}: range {base!r} runs backwards (allowed {allowed})")
    return range(first, last + 1, step)


def _value(where: str, whole: bool, token: str, low: int, high: int, names: dict[str, int],
           allowed: str) -> int:
    """One number or name; `whole` when it is the entire field (a shorter message reads)."""
    if token.isdigit():
        number = int(token)
        if not low <= number <= high:
            subject = "" if whole else f": {token!r}"
            raise InvalidSchedule(f"{where}{subject} is out of range {low}-{high}")
        return number
    if token.upper() in names:
        return names[token.upper()]
    if "#" in token or token.lstrip("0123456789").upper() in ("L", "W", "LW"):
        raise InvalidSchedule(f"{where}: {token!r} (Quartz 'nth weekday' or 'last day' "
                              f"syntax) is not supported (allowed {allowed})")
    kind = "name" if token.isalpha() else "value"
    raise InvalidSchedule(f"{where}: unknown {kind} {token!r} (allowed {allowed})")


def _name_range(names: dict[str, int]) -> str:
    ordered = sorted(names, key=names.__getitem__)
    return f"{ordered[0]}-{ordered[-1]}"


def _check_reachable(expr: str, fields: CronFields) -> None:
    """Refuse a day-of-month that no allowed month has (`0 0 31 2 *` would never fire)."""
    if fields.day_of_week.restricted:
        return  # the day-of-week alone already makes it fire (classic either-or rule)
    first_day = fields.day_of_month.values[0]
    if any(first_day <= _DAYS_IN_MONTH[month - 1] for month in fields.month.values):
        return
    months = ", ".join(calendar.month_name[m] for m in fields.month.values)
    raise InvalidSchedule(
        f"Invalid cron {expr!r}: day-of-month field {fields.day_of_month.text!r} never occurs "
        f"in month field {fields.month.text!r} ({months}), so it would never fire")
