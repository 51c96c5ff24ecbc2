"""A wall-clock limit on a block of code, for the per-file time limit of a campaign run.

SIGALRM interrupts Python code (a parser stuck in a loop, a plugin waiting on I/O, a sleep)
with :class:`~eis_pipeline.exceptions.TimeLimitError`. Compiled code (numba kernels, LAPACK)
is interrupted when it returns to Python: the limit then fires late, never silently. Only
the main thread of a process can receive signals: in a thread (a dask worker) and where
SIGALRM does not exist (Windows) the block runs without a limit.
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


@contextlib.contextmanager
def time_limit(seconds: float | None, message: str) -> Iterator[None]:
    """Raise ``TimeLimitError(message)`` if the block runs longer than ``seconds``.

    ``None`` or ``0`` means no limit. Limits nest: an inner block gets at most what is left
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

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left:
            left = outer_left - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3))

