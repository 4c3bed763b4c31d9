"""The one exception tree of orkest.

    OrkestError                      every error orkest raises on purpose
    ├── ConfigurationError           a setting, path or ORKEST_HOME cannot be used
    ├── StoreError                   the run store cannot be read or written
    │   ├── ObjectNotFound           no flow run / task run with that id
    │   └── StoreUnavailable         cannot be reached now (server down, 5xx): retried
    ├── InvalidStateTransition       the state machine rejected a transition
    ├── ParameterValidationError     a flow's parameters do not fit its signature
    ├── SerializationError           a result could not be persisted or read back
    ├── TargetNotFound               `orkest run` cannot find the file or the flow in it
    ├── CycleError                   a task graph has a cycle
    ├── DagDefinitionError           a DAG or operator is defined wrongly (duplicate id, ...)
    ├── FlowFileError                a YAML/JSON flow file is invalid (file, field path, line)
    │   └── FlowFileCycleError       ... because its depends_on form a cycle (also a CycleError)
    ├── TemplateError                a template cannot be rendered (template, task, name)
    ├── InvalidSchedule              a cron/interval/RRULE or time zone is malformed
    ├── UserCodeError                base of failures raised inside user code wrappers
    │   ├── TaskTimeoutError         a task or flow ran past its timeout (also a TimeoutError)
    │   │   └── SensorTimeout        a sensor's condition did not hold within its timeout
    │   └── CommandFailed            a shell command exited non-zero (exit code, stderr tail)
    ├── UpstreamTaskFailed           a task could not start because an input failed
    ├── FailedRun                    `.result()` of a run that ended FAILED/CRASHED/...
    ├── MissingContext               an API that needs a running flow/task was called outside one
    ├── NotificationError            a notification could not be delivered (names the target)
    └── TaskSkipped                  raised by task code to end its run SKIPPED (not a failure)

Control flow is not an error: pause, cancel and termination derive from BaseException
(`OrkestSignal`) so that a user's `except Exception` cannot swallow them.
"""

from __future__ import annotations


class OrkestError(Exception):
    """Root of every error orkest raises on purpose."""


class ConfigurationError(OrkestError):
    """A setting, path or ORKEST_HOME cannot be used as given."""


class StoreError(OrkestError):
    """The run store cannot be read or written."""


class StoreUnavailable(StoreError):  # noqa: N818 - reads as a state, like ObjectNotFound
    """The store cannot be reached now (API server down, refused, timed out, 5xx).

    The recorder keeps such batches and retries them with backoff; any other StoreError is
    a real failure.
    """


class ObjectNotFound(StoreError):
    """No object with the given id exists in the store."""


class InvalidStateTransition(OrkestError):
    """The state machine rejected a transition (e.g. COMPLETED -> RUNNING)."""


class ParameterValidationError(OrkestError, ValueError):
    """A flow's parameters do not fit its signature; raised before any task runs."""

    def __init__(self, flow_name: str, problems: list[tuple[str, str]]) -> None:
        self.flow_name = flow_name
        self.problems = problems
        detail = "; ".join(f"parameter {name!r}: {msg}" for name, msg in problems)
        super().__init__(f"Flow {flow_name!r} got invalid parameters: {detail}")


class SerializationError(OrkestError):
    """A result could not be persisted or read back."""


class TargetNotFound(OrkestError):
    """`orkest run` cannot find the file, or the flow/DAG named in it."""


class CycleError(OrkestError):
    """A task graph has a cycle; the message names the tasks in it."""


class DagDefinitionError(OrkestError, ValueError):
    """A DAG or operator is defined wrongly: duplicate task id, unknown id, reused task..."""


class FlowFileError(OrkestError, ValueError):
    """A declarative (YAML/JSON) flow file is invalid.

    The message names the file, the field path (`tasks[1].depends_on[0]`), the line when
    the parser knows it, and what is wrong; the parts are kept as attributes too.
    """

    def __init__(self, message: str, *, path: str | None = None, field: str | None = None,
                 line: int | None = None, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.field = field
        self.line = line
        self.problems = problems if problems is not None else [message]


class FlowFileCycleError(FlowFileError, CycleError):
    """A flow file whose depends_on edges form a cycle (caught as either error)."""


class TemplateError(OrkestError, ValueError):
    """A Jinja template could not be rendered; the message names the template and task."""


class UserCodeError(OrkestError):
    """Base of errors that orkest raises on behalf of user code."""


class TaskTimeoutError(UserCodeError, TimeoutError):
    """A task or flow ran past its `timeout_seconds`."""


class SensorTimeout(TaskTimeoutError):
    """A sensor's condition did not become true within the sensor's own timeout."""


class CommandFailed(UserCodeError):
    """A shell command exited with a non-zero code; the message has its last stderr lines."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def __reduce__(self) -> tuple:  # keep exit_code when it travels from a child process
        return (type(self), (str(self), self.exit_code))


class UpstreamTaskFailed(OrkestError):
    """A task could not start because a future it depends on did not complete."""


class FailedRun(OrkestError):
    """`.result()` of a run that did not complete and has no exception of its own to raise."""


class MissingContext(OrkestError):
    """An API that needs a running flow or task was called outside one."""


class TaskSkipped(OrkestError):
    """Raise inside a task or operator to end its run SKIPPED instead of FAILED."""


class DeploymentError(OrkestError, ValueError):
    """A deployment cannot be registered or run as asked (names the field at fault)."""


class InvalidTrigger(DeploymentError):
    """A trigger's definition is wrong (a watch path that does not exist, a bad state...)."""


class SourceChanged(OrkestError):
    """A deployment's code is not where it was, or not what it was (moved, deleted)."""


class SecretKeyError(ConfigurationError):
    """The secret key is missing, malformed, or not the one a value was encrypted with."""


class SecretNotFound(ObjectNotFound):
    """No secret of that name: the message says how to set one."""


class BlockError(OrkestError, ValueError):
    """A block cannot be saved or loaded as asked (unknown type, changed schema...)."""


class NotificationError(OrkestError):
    """One delivery attempt of a notification failed; the message names the target."""


class InvalidSchedule(OrkestError, ValueError):
    """A cron, interval, RRULE or time zone cannot be used; the message names field and value."""


class OrkestSignal(BaseException):  # noqa: N818 - a signal, not an error
    """Control flow that user code must not catch with `except Exception`."""


class CancelledRun(OrkestSignal):
    """Raised inside a run that is being cancelled."""


class PausedRun(OrkestSignal):
    """Reserved: raised to unwind a paused run when it must leave the process."""


class TerminationSignal(OrkestSignal):
    """The process received SIGTERM; the run is recorded as CRASHED."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"process received signal {signum}")
