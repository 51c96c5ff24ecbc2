"""One BLAS thread for a timed block, as a campaign's tasks run (``tasks.process_task``): CPU
time then counts one core, and on a loaded machine BLAS threads would only contend."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any


def one_blas_thread() -> AbstractContextManager[Any]:
    """threadpoolctl's limit of one thread, or nothing where threadpoolctl is missing."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return nullcontext()
    return threadpool_limits(1)
