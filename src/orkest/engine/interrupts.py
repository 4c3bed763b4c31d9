"""Interrupting user code that runs too long or is cancelled.

One watchdog thread keeps a heap of deadlines. When one passes (or a cancel arrives) the
exception is delivered to the thread running the user code:
- the main thread gets a signal (SIGUSR2), so even `time.sleep` or a lock wait is cut short;
- another thread gets an asynchronous exception, raised at its next Python instruction
  (a thread blocked inside C code is interrupted only when it returns to Python: this is
  why the process runner, which can kill its child, is the one to use for hard stops).
An interrupt is delivered only while the target is still inside the guarded block.
"""

from __future__ import annotations

import ctypes
import heapq
import itertools
import signal
import threading
import time
from collections.abc import Callable

_INTERRUPT_SIGNAL = signal.SIGUSR2
_counter = itertools.count()
_open: dict[int, Guard] = {}  # thread ident -> innermost open guard
_pending_main: BaseException | None = None
_handler_installed = False
_MAIN_THREAD_ID = threading.main_thread().ident


class Guard:
    """A block of user code that may be interrupted; use as a context manager.

    Each guard has its own lock (a shared one was contended by every pool thread):
    leaving the block and delivering an interrupt exclude each other, so an interrupt
    never lands after the block is left.
    """

    __slots__ = ("thread_id", "fired", "previous", "is_main", "closed", "lock")

    def __init__(self) -> None:
        self.thread_id = threading.get_ident()
        self.fired: BaseException | None = None
        self.previous: Guard | None = None
        self.is_main = self.thread_id == _MAIN_THREAD_ID
        self.closed = False
        self.lock = threading.Lock()

    def __enter__(self) -> Guard:
        if self.is_main:
            _install_handler()
        self.previous = _open.get(self.thread_id)
        _open[self.thread_id] = self
        return self

    def __exit__(self, *exc: object) -> None:
        global _pending_main
        with self.lock:
            self.closed = True
            if self.previous is None:
                _open.pop(self.thread_id, None)
            else:
                _open[self.thread_id] = self.previous
            if self.fired is not None:
                # Cancel a delivery that has not been raised yet, so it cannot land in
                # engine code after the user's function returned.
                if self.is_main:
                    _pending_main = None
                else:
                    _set_async_exc(self.thread_id, None)


def interrupt(guard: Guard, exc: BaseException) -> bool:
    """Deliver `exc` into the guarded block if it is still open; True if delivered."""
    global _pending_main
    with guard.lock:
        if guard.closed or guard.fired is not None or _open.get(guard.thread_id) is not guard:
            return False
        guard.fired = exc
        if guard.is_main and _handler_installed:
            _pending_main = exc
            signal.pthread_kill(guard.thread_id, _INTERRUPT_SIGNAL)
        else:
            _set_async_exc(guard.thread_id, exc)
    return True


def _set_async_exc(thread_id: int, exc: BaseException | None) -> None:
    # Async exceptions are raised by type; the guard keeps the instance for the message.
    target = ctypes.py_object(type(exc)) if exc is not None else None
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), target)


def _on_signal(signum: int, frame: object) -> None:
    global _pending_main
    exc, _pending_main = _pending_main, None
    if exc is not None:
        raise exc


def _install_handler() -> None:
    global _handler_installed
    if _handler_installed:
        return
    if signal.getsignal(_INTERRUPT_SIGNAL) in (signal.SIG_DFL, None):
        signal.signal(_INTERRUPT_SIGNAL, _on_signal)
        _handler_installed = True


class Watchdog:
    """One thread for every deadline in the process."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None

    def call_at(self, deadline: float, action: Callable[[], None]) -> Callable[[], None]:
        """Run `action` at monotonic time `deadline` unless the returned cancel is called."""
        entry_id = next(_counter)
        cancelled = False

        def guarded() -> None:
            if not cancelled:
                action()

        def cancel() -> None:
            nonlocal cancelled
            cancelled = True

        with self._cv:
            heapq.heappush(self._heap, (deadline, entry_id, guarded))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="orkest-watchdog",
                                                daemon=True)
                self._thread.start()
            self._cv.notify()
        return cancel

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._heap:
                    self._cv.wait()
                deadline, _, action = self._heap[0]
                delay = deadline - time.monotonic()
                if delay > 0:
                    self._cv.wait(delay)
                    continue
                heapq.heappop(self._heap)
            try:
                action()
            except Exception:  # noqa: S110 - a failed interrupt must not kill the watchdog
                pass


watchdog = Watchdog()
