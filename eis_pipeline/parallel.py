"""Run independent tasks serially, in local processes, or on a dask.distributed cluster.

The pipeline cuts a campaign into tasks (one per input file) and consumes results as they
arrive, so memory holds only the tasks in flight. Results come back with their index, and the
caller sorts or places them: serial, process and dask runs give identical output.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, TypeVar

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
            source = _processes(func, items, jobs)
        for pair in source:
            bar.update(1)
            yield pair
    finally:
        bar.close()


def _processes(func: Callable[[T], R], items: Sequence[T], jobs: int) -> Iterator[tuple[int, R]]:
    # Keep at most 2 tasks per worker in flight: results stream out instead of piling up.
    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        pending: dict[Future[R], int] = {}
        queue = iter(enumerate(items))
        for i, item in queue:
            pending[pool.submit(func, item)] = i
            if len(pending) >= 2 * jobs:
                break
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield pending.pop(fut), fut.result()
                nxt = next(queue, None)
                if nxt is not None:
                    pending[pool.submit(func, nxt[1])] = nxt[0]


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
