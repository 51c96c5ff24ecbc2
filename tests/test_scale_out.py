"""Scale-out gives the serial results: every dataset of the HDF5 file, bit for bit."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from bench.bench_pipeline import _campaign
from eis_pipeline.pipeline import run


def _datasets(path: Path) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as h5:
        h5.visititems(lambda name, obj: out.__setitem__(name, obj[()])
                      if isinstance(obj, h5py.Dataset) else None)
    return out


def _assert_same_files(expected: Path, other: Path) -> None:
    want, got = _datasets(expected), _datasets(other)
    assert sorted(got) == sorted(want)
    for name, value in want.items():
        np.testing.assert_array_equal(got[name], value, err_msg=name)


@pytest.mark.slow
def test_jobs_and_a_two_process_dask_cluster_write_the_serial_file(tmp_path):
    distributed = pytest.importorskip("distributed")
    config = _campaign(tmp_path / "campaign", 12)
    serial, jobs2, dask = (tmp_path / f"{name}.h5" for name in ("serial", "jobs2", "dask"))
    run(config, output=serial, progress=False, plots=False)
    run(config, output=jobs2, jobs=2, progress=False, plots=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        run(config, output=dask, scheduler=client, progress=False, plots=False)
    _assert_same_files(serial, jobs2)
    _assert_same_files(serial, dask)


_HEAVY = ("dask", "matplotlib", "scipy.signal", "scipy.stats")


def _modules_a_task_imports(item):
    import sys

    from eis_pipeline.pipeline import process_item

    before = set(sys.modules)
    process_item(item)
    return sorted(m for m in set(sys.modules) - before if m.split(".")[0] in _HEAVY
                  or m.startswith(_HEAVY))


def test_workers_import_nothing_heavy_on_their_first_task(tmp_path):
    """A worker's first task loads no big module of its own (dask.array through xarray's
    first Variable, scipy.signal, matplotlib): what it needs was loaded in the parent before
    the workers forked (tasks.prepare_process), or is not needed."""
    from eis_pipeline.config import load_config
    from eis_pipeline.parallel import run_tasks
    from eis_pipeline.tasks import plan_tasks, prepare_process

    config = load_config(_campaign(tmp_path / "campaign", 4, per_sample=2))
    tasks, _ = plan_tasks(config, workers=2)
    assert len(tasks) == 2
    found = dict(run_tasks(_modules_a_task_imports, tasks, jobs=2, progress=False,
                           prepare=prepare_process))
    assert found == {0: [], 1: []}
