"""Killing a campaign run: no orphan workers, the previous results intact, no temporary files
left once a run has been back, and --resume completing what was cut off."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from eis_pipeline.io.atomic import is_temp
from eis_pipeline.io.hdf5 import read_results
from eis_pipeline.pipeline import run

psutil = pytest.importorskip("psutil")

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")


def _config(tmp: Path) -> Path:
    lines = ['[campaign]\nname = "k"\noutput = "out/r.h5"\nplots = true\n',
             '[defaults]\ncircuit = "bulk-gb-electrode"\ndrt = false\n']
    for name in ("mill045", "mill120"):
        folder = tmp / name
        folder.mkdir()
        for src in sorted((ROOT / "sample_data" / f"{name}min").glob("*.mpt")):
            (folder / src.name).write_bytes(src.read_bytes())
        lines.append(f'[[samples]]\nname = "{name}"\nfiles = ["{name}/*.mpt"]\n'
                     'temperature = {from = "filename", pattern = "_(?P<celsius>-?\\\\d+)C"}\n'
                     "thickness_mm = 0.64\ndiameter_mm = 10\n")
    config = tmp / "c.toml"
    config.write_text("\n".join(lines))
    return config


def _values(tree):
    return {f"{s}/{g}": tree[s][g].ds[v].values for s in ("mill045", "mill120")
            for g, v in (("fit", "value"), ("conductivity", "conductivity"))}


@pytest.mark.parametrize("sig", [signal.SIGKILL,
                                 pytest.param(signal.SIGTERM, marks=pytest.mark.slow)],
                         ids=["SIGKILL", "SIGTERM"])
def test_killed_parallel_run_leaves_no_workers_and_resume_completes(tmp_path, sig):
    config = _config(tmp_path)
    out = tmp_path / "out" / "r.h5"
    clean = run(config, progress=False, plots="summary")
    before = out.read_bytes()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "eis_pipeline.cli.main", "run", str(config), "--jobs", "2",
         "--plots", "all", "--no-progress"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 60
    workers: list = []
    while time.monotonic() < deadline and proc.poll() is None:
        workers = parent.children(recursive=True)
        if len(workers) >= 2:
            break
        time.sleep(0.05)
    assert len(workers) >= 2, "the workers never started"
    time.sleep(0.5)                                 # in the middle of fitting
    proc.send_signal(sig)
    proc.wait(timeout=30)
    _, alive = psutil.wait_procs(workers, timeout=5)
    assert not alive, f"orphan workers after {sig.name}: {alive}"
    assert out.read_bytes() == before               # the previous results untouched
    if sig == signal.SIGTERM:                       # cleaned up on the way out
        assert proc.returncode == 128 + signal.SIGTERM
        assert not [p for p in tmp_path.rglob("*") if is_temp(p)]
    again = run(config, progress=False, plots="summary", resume=True)
    assert not [p for p in tmp_path.rglob("*") if is_temp(p)]
    for key, value in _values(clean).items():
        np.testing.assert_allclose(_values(again)[key], value, rtol=1e-9, err_msg=key)
    assert read_results(out)["failures"].ds.sizes["failure"] == 0
