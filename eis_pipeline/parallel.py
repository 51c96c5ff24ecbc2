"""Run independent tasks serially, in local processes, or on a dask.distributed cluster.

The pipeline cuts a campaign into tasks (one per input file) and consumes results as they
arrive, so memory holds only the tasks in flight. Results come back with their index, and the
caller sorts or places them: serial, process and dask runs give identical output.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, TypeVar

#: prctl option: the signal a process gets when its parent dies (linux/prctl.h)
_PR_SET_PDEATHSIG = 1

T = TypeVar("T")
R = TypeVar("R")


def _progress(total: int, desc: str, enabled: bool | None) -> Any:
    from tqdm.auto import tqdm

    # tqdm's disable=None means "only on a terminal", which is what progress=None asks for.
    disable = None if enabled is None else not enabled
    return tqdm(total=total, desc=desc, unit="file", disable=disable, leave=False,
                dynamic_ncols=True)


def run_tasks(
    func: Callable[[T], R],
    items: Sequence[T],
    *,
    jobs: int = 1,
    scheduler: str | None = None,
    progress: bool | None = None,
    desc: str = "",
    prepare: Callable[[], object] | None = None,
) -> Iterator[tuple[int, R]]:
    """Yield ``(index, func(items[index]))`` as tasks finish.

    Parameters
    ----------
    func : callable
        A picklable, module-level function. It should catch its own expected errors and
        return them as values: an exception escaping it stops the run.
    items : sequence
        Task inputs.
    jobs : int
        Local worker processes; 1 runs in this process.
    scheduler : str, optional
        Address of a dask.distributed scheduler (``tcp://host:8786``), or a
        ``distributed.Client`` object; overrides ``jobs``.
    progress : bool or None
        Show a progress bar: True always, False never, None only on a terminal.
    desc : str
        Label of the progress bar.
    prepare : callable, optional
        Loads what every process's first task would load (modules, caches). Local workers
        forked from this process: called here once before they start, so that they inherit
        it instead of each paying for it; spawned workers: called in each. Not called for a
        serial run (its first task loads what it needs) or on a dask cluster.

    Examples
    --------
    >>> sorted(run_tasks(abs, [-1, -2, 3]))
    [(0, 1), (1, 2), (2, 3)]
    """
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    bar = _progress(len(items), desc, progress)
    try:
        if scheduler is not None:
            source = _dask(func, items, scheduler)
        elif jobs == 1 or len(items) <= 1:
            source = ((i, func(item)) for i, item in enumerate(items))
        else:
            source = _processes(func, items, jobs, prepare)
        for pair in source:
            bar.update(1)
            yield pair
    finally:
        bar.close()


def _processes(func: Callable[[T], R], items: Sequence[T], jobs: int,
               prepare: Callable[[], object] | None = None) -> Iterator[tuple[int, R]]:
    # Keep at most 2 tasks per worker in flight (and the results being handed out):
    # results stream out instead of piling up.
    fork = os.name == "posix"
    if fork and prepare is not None:
        prepare()
    context = multiprocessing.get_context("fork" if fork else "spawn")
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context,
                               initializer=_worker_start,
                               initargs=(os.getpid(), None if fork else prepare))
    try:
        pending: dict[Future[R], int] = {}
        queue = iter(enumerate(items))
        for i, item in queue:
            pending[pool.submit(func, item)] = i
            if len(pending) >= 2 * jobs:
                break
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            finished = [(pending.pop(fut), fut) for fut in done]
            # refill before handing results out: the caller's work on each (the pipeline
            # writes a sample) must not hold back the workers' next tasks
            for nxt in itertools.islice(queue, len(finished)):
                pending[pool.submit(func, nxt[1])] = nxt[0]
            for i, fut in finished:
                yield i, fut.result()
    except BaseException:
        # interrupted (Ctrl-C, SIGTERM, an error, the consumer stopped): stop the workers
        # now instead of waiting for the tasks in flight
        _terminate(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _terminate(pool: ProcessPoolExecutor) -> None:
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()


def _worker_start(parent: int, prepare: Callable[[], object] | None = None) -> None:
    """In each worker: die with the parent, even when it is killed with SIGKILL (otherwise
    the workers of a killed run stay alive, blocked on their task queue); then ``prepare``."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)   # not the parent's handler (fork)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:   # the parent died before prctl took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True,
                     name="eis-parent-watch").start()
    if prepare is not None:
        prepare()


def _watch_parent(parent: int) -> None:
    # where prctl is not available (macOS): notice re-parenting within a second
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _dask(func: Callable[[T], R], items: Sequence[T], scheduler: Any) -> Iterator[tuple[int, R]]:
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise RuntimeError("--scheduler needs dask.distributed: "
                           "pip install 'eis-pipeline[dask]'") from exc
    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        futures = client.map(func, list(items), pure=False)
        index = {fut.key: i for i, fut in enumerate(futures)}
        for fut in as_completed(futures):
            yield index[fut.key], fut.result()
            fut.release()
    finally:
        if client is not scheduler:
            client.close()
