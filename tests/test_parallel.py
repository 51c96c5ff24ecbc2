import os
import time
from pathlib import Path

import pytest

from eis_pipeline.parallel import run_tasks


def square(x: int) -> int:
    return x * x


def test_serial_and_processes_agree():
    items = list(range(23))
    serial = sorted(run_tasks(square, items, progress=False))
    parallel = sorted(run_tasks(square, items, jobs=2, progress=False))
    assert serial == parallel == [(i, i * i) for i in items]


def test_dask_local_cluster_agrees():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        result = sorted(run_tasks(square, list(range(9)), scheduler=client, progress=False))
    assert result == [(i, i * i) for i in range(9)]


def test_jobs_must_be_positive():
    with pytest.raises(ValueError, match="jobs"):
        list(run_tasks(square, [1], jobs=0))


_PREPARED: list[int] = []


def _mark() -> None:
    _PREPARED.append(os.getpid())


def _seen(_: int) -> tuple[int, list[int]]:
    return os.getpid(), list(_PREPARED)


@pytest.mark.skipif(os.name != "posix", reason="workers are forked on POSIX only")
def test_prepare_runs_once_in_the_parent_and_forked_workers_inherit_it():
    _PREPARED.clear()
    out = [r for _, r in run_tasks(_seen, range(6), jobs=2, progress=False, prepare=_mark)]
    assert [os.getpid()] == _PREPARED
    assert all(pid != os.getpid() and seen == [os.getpid()] for pid, seen in out)
    _PREPARED.clear()
    assert [r for _, r in run_tasks(_seen, range(3), progress=False, prepare=_mark)] \
        == [(os.getpid(), [])] * 3   # serial: the first task loads what it needs


def _started(marker: str) -> str:
    Path(marker).touch()
    return marker


def test_workers_get_their_next_tasks_before_the_caller_handles_a_result(tmp_path):
    """A slow consumer (the pipeline writing a sample) does not hold back the workers: the
    task after those first in flight (2 per worker) starts while the first result is being
    handled."""
    markers = [str(tmp_path / f"task{i}") for i in range(8)]
    results = run_tasks(_started, markers, jobs=2, progress=False)
    next(results)
    deadline = time.monotonic() + 30.0
    while not Path(markers[4]).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Path(markers[4]).exists()
    assert len(list(results)) == 7
