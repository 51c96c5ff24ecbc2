"""The per-file time limit: what it counts and what it does not (numba compilation)."""

import signal
import time

import pytest

from eis_pipeline.exceptions import TimeLimitError
from eis_pipeline.timelimit import time_limit

numba_event = pytest.importorskip("numba.core.event")
pytestmark = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="no SIGALRM here")


def busy(seconds):
    """Python work the alarm can interrupt (a sleep would be interrupted as well)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_a_block_over_its_limit_raises():
    with pytest.raises(TimeLimitError, match="too slow"), time_limit(0.2, "too slow"):
        busy(2.0)


def test_compilation_is_not_counted():
    # a compilation twice as long as the whole limit, then a little work: no error
    with time_limit(0.5, "too slow"):
        with numba_event.trigger_event("numba:compile"):
            busy(1.0)
        busy(0.1)


def test_the_limit_goes_on_after_a_compilation():
    with pytest.raises(TimeLimitError), time_limit(0.5, "too slow"):
        with numba_event.trigger_event("numba:compile"):
            busy(0.3)
        busy(2.0)


def test_nested_compilations_resume_once_at_the_outermost_end():
    with time_limit(0.5, "too slow"), numba_event.trigger_event("numba:compile"):
        with numba_event.trigger_event("numba:compile"):
            busy(0.2)
        busy(0.8)       # still inside the outer compilation: not counted


def test_an_outer_limit_is_restored_without_the_compilation_time():
    with time_limit(1.5, "outer"):
        with time_limit(0.5, "inner"), numba_event.trigger_event("numba:compile"):
            busy(1.2)
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert left > 1.0   # only the inner block's own (near-zero) work was taken off
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0
