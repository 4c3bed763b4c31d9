"""Run logs: `get_run_logger()`, and `print()` captured under `log_prints`."""

from __future__ import annotations

import builtins
import logging
import sys
import time
from typing import Any

from orkest._internal import masking
from orkest.core.records import LogLine
from orkest.engine.context import flow_run_var, task_run_var
from orkest.errors import MissingContext

RUN_LOGGER = "orkest.run"
_original_print = builtins.print


class RunLogHandler(logging.Handler):
    """Stores records that carry a run (added by the adapter below)."""

    def emit(self, record: logging.LogRecord) -> None:
        sink = getattr(record, "orkest_sink", None)
        if sink is None:
            return
        try:
            message = record.getMessage()
            if record.exc_text:  # formatted (and masked) by _MaskSecrets
                message += "\n" + record.exc_text
            elif record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
        except Exception:  # noqa: BLE001 - a bad format string must not fail the task
            message = str(record.msg)
        sink.log(LogLine(record.orkest_flow_run_id, record.orkest_task_run_id,  # type: ignore[attr-defined]
                         record.created, record.levelno, record.name, message,
                         getattr(record, "orkest_source", "logger")))


class _MaskSecrets(logging.Filter):
    """Registered secrets out of a run log record before any handler sees it (ours, and a
    user's console or file handler reached by propagation)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if masking.active():
            try:
                record.msg, record.args = masking.mask(record.getMessage()), None
            except Exception:  # noqa: BLE001, S110 - a bad format string: RunLogHandler copes
                pass
            if record.exc_info and not record.exc_text:
                record.exc_text = masking.mask(
                    logging.Formatter().formatException(record.exc_info))
        return True


_mask_filter = _MaskSecrets()


def _setup() -> logging.Logger:
    logger = logging.getLogger(RUN_LOGGER)
    if not any(isinstance(h, RunLogHandler) for h in logger.handlers):
        logger.addHandler(RunLogHandler())
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
    return logger


_loggers: dict[str, logging.Logger] = {}


def _logger(kind: str) -> logging.Logger:
    """The task or flow run logger; looked up once (getLogger takes logging's global lock,
    which every DAG task would otherwise take twice)."""
    logger = _loggers.get(kind)
    if logger is None:
        _setup()
        logger = _loggers[kind] = logging.getLogger(f"{RUN_LOGGER}.{kind}")
        logger.addFilter(_mask_filter)  # filters apply where a record is made, not above
    return logger


class RunLogger(logging.LoggerAdapter):
    """Adds the run's ids to every record, without clobbering the caller's `extra`."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        kwargs["extra"] = {**self.extra, **(kwargs.get("extra") or {})}  # type: ignore[dict-item]
        return msg, kwargs


def get_run_logger() -> logging.LoggerAdapter:
    """A logger whose records are stored with the current task run or flow run."""
    task_ctx = task_run_var.get()
    if task_ctx is not None:
        run = task_ctx.task_run
        return RunLogger(_logger("task"), {
            "orkest_sink": task_ctx.sink, "orkest_flow_run_id": run.flow_run_id,
            "orkest_task_run_id": run.id})
    flow_ctx = flow_run_var.get()
    if flow_ctx is not None:
        return RunLogger(_logger("flow"), {
            "orkest_sink": flow_ctx.sink, "orkest_flow_run_id": flow_ctx.flow_run.id,
            "orkest_task_run_id": None})
    raise MissingContext(
        "get_run_logger() needs a running flow or task: call it inside a @flow or @task"
    )


def _capturing_print(*args: Any, sep: str | None = " ", end: str | None = "\n",
                     file: Any = None, flush: bool = False) -> None:
    if file is None or file is sys.stdout:
        text = None
        task_ctx = task_run_var.get()
        if task_ctx is not None:
            if task_ctx.log_prints:
                run = task_ctx.task_run
                text = (sep or " ").join(map(str, args))
                task_ctx.sink.log(LogLine(run.flow_run_id, run.id, time.time(), logging.INFO,
                                          "print", text, "print"))
        else:
            flow_ctx = flow_run_var.get()
            if flow_ctx is not None and flow_ctx.log_prints:
                text = (sep or " ").join(map(str, args))
                flow_ctx.sink.log(LogLine(flow_ctx.flow_run.id, None, time.time(),
                                          logging.INFO, "print", text, "print"))
        if text is not None and masking.active():  # the echo is run output too
            _original_print(masking.mask(text), end=end, file=file, flush=flush)
            return
    _original_print(*args, sep=sep, end=end, file=file, flush=flush)


def enable_print_capture() -> None:
    """Route print() through the capture once; it costs one context lookup elsewhere."""
    if builtins.print is not _capturing_print:
        builtins.print = _capturing_print
