"""A wall-clock limit on a block of code, for the per-file time limit of a campaign run.

SIGALRM interrupts Python code (a parser stuck in a loop, a plugin waiting on I/O, a sleep)
with :class:`~eis_pipeline.exceptions.TimeLimitError`. Compiled code (numba kernels, LAPACK)
is interrupted when it returns to Python: the limit then fires late, never silently. Only
the main thread of a process can receive signals: in a thread (a dask worker) and where
SIGALRM does not exist (Windows) the block runs without a limit.

Compiling numba kernels is not counted: with an empty cache (no ``eis-pipeline compile``
after installing) the first file of a run compiles for a minute or more of CPU, and on a busy
machine that alone could exceed the limit and fail a good file. The timer is paused from the
start to the end of every compilation (numba's ``numba:compile`` event); loading compiled code
from the cache is quick and not an event.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

from eis_pipeline.exceptions import TimeLimitError

__all__ = ["TIME_LIMIT_S", "time_limit"]

#: default per-file time limit (s) of a run, for reading and for fitting and checking each:
#: a file of the demo takes well under 5 s; a file that takes minutes is stuck (a parser
#: loop, a plugin waiting on a network drive), and the rest of the campaign should go on
TIME_LIMIT_S = 300.0


class _CompilePause:
    """Pauses the running timer while numba compiles; counts the seconds paused so nested
    limits restore the outer timer without them. Compilations nest (a kernel compiles the
    functions it calls): only the outermost one pauses and resumes."""

    def __init__(self) -> None:
        self.depth = 0
        self.left = 0.0
        self.started = 0.0
        self.paused_s = 0.0

    def on_start(self, event: object) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        self.depth += 1
        if self.depth == 1:
            self.started = time.monotonic()
            self.left, _ = signal.setitimer(signal.ITIMER_REAL, 0)

    def on_end(self, event: object) -> None:
        if threading.current_thread() is not threading.main_thread() or not self.depth:
            return
        self.depth -= 1
        if self.depth == 0:
            self.paused_s += time.monotonic() - self.started
            if self.left:
                signal.setitimer(signal.ITIMER_REAL, self.left)


_pause = _CompilePause()
_listening = False


def _listen_to_compilation() -> None:
    """Register :data:`_pause` with numba once (numba is imported by the fitting code anyway;
    without numba there is nothing to compile)."""
    global _listening
    if _listening:
        return
    _listening = True
    try:
        from numba.core import event
    except ImportError:
        return

    class Listener(event.Listener):
        def on_start(self, ev: event.Event) -> None:
            _pause.on_start(ev)

        def on_end(self, ev: event.Event) -> None:
            _pause.on_end(ev)

    event.register("numba:compile", Listener())


@contextlib.contextmanager
def time_limit(seconds: float | None, message: str) -> Iterator[None]:
    """Raise ``TimeLimitError(message)`` if the block runs longer than ``seconds``.

    ``None`` or ``0`` means no limit; numba compilation inside the block is not counted.
    Limits nest: an inner block gets at most what is left
    of the outer one's, and the outer one's timer is restored when it ends.
    """
    if (not seconds or not hasattr(signal, "setitimer")
            or threading.current_thread() is not threading.main_thread()):
        yield
        return
    outer_left, _ = signal.getitimer(signal.ITIMER_REAL)
    if outer_left and outer_left < seconds:   # the outer limit comes first: leave it alone
        yield
        return

    def alarm(signum: int, frame: Any) -> None:
        raise TimeLimitError(message)

    _listen_to_compilation()
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    started, paused_before = time.monotonic(), _pause.paused_s
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left:
            elapsed = time.monotonic() - started - (_pause.paused_s - paused_before)
            left = outer_left - elapsed
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3))

