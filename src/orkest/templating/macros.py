"""The `macros` namespace templates use, with Airflow's names so DAGs port unchanged."""

from __future__ import annotations

import datetime as _dt

_DS_FORMAT = "%Y-%m-%d"


class Macros:
    """Helpers reachable as `{{ macros.ds_add(ds, 7) }}`; stateless, so one instance serves all.

    The sandbox allows reading these attributes and calling these functions; it still
    forbids underscore attributes, so `macros.datetime.__subclasses__` stays out of reach.
    """

    __slots__ = ()

    datetime = _dt.datetime
    timedelta = _dt.timedelta

    @staticmethod
    def ds_add(ds: str, days: int) -> str:
        """`ds` (YYYY-MM-DD) moved by `days` (negative goes back), as YYYY-MM-DD."""
        moved = _dt.datetime.strptime(str(ds), _DS_FORMAT) + _dt.timedelta(days=int(days))
        return moved.strftime(_DS_FORMAT)

    @staticmethod
    def ds_format(ds: str, input_format: str, output_format: str) -> str:
        """`ds` parsed with `input_format` and written with `output_format` (strftime codes)."""
        return _dt.datetime.strptime(str(ds), input_format).strftime(output_format)

    def __repr__(self) -> str:
        return "<orkest macros: ds_add, ds_format, datetime, timedelta>"


_MACROS = Macros()


def build_macros() -> Macros:
    """The object to put into a template context as `macros`."""
    return _MACROS
