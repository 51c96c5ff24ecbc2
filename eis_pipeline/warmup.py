"""Compile the numba kernels once for this machine, so the first real command is quick.

numba compiles a kernel on its first call and keeps the machine code on disk (``cache=True``):
next to the source (``__pycache__``) when that folder is writable (an editable install, a
user's own environment), else in numba's per-user cache folder (``NUMBA_CACHE_DIR`` or
``~/.cache/numba``); the generated circuit evaluators go to
:func:`eis_pipeline.circuits.codegen.cache_dir`. Without this step the first ``eis-pipeline
fit`` after installing pays for all of it (about a minute and a half of CPU, measured in
bench/RESULTS.md, "Cold start").

:func:`compile_kernels` calls what the commands call, on a small synthetic campaign: a
campaign run with the defaults (model selection over every candidate circuit,
Kramers-Kronig, DRT), then one fit of each preset circuit (each circuit structure has its own
small evaluator). ``make install`` runs it (``eis-pipeline compile``); running it again only
loads the cached code.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["compile_kernels"]

_CONFIG = """
[campaign]
name = "warm-up"
output = "results.h5"
plots = false

[[samples]]
name = "pellet"
files = ["data/*.mpt"]
temperature = {from = "filename", pattern = "_(?P<celsius>-?\\\\d+)C\\\\.mpt$"}
thickness_mm = 1.0
diameter_mm = 10.0
"""


def compile_kernels(echo: Callable[[str], object] = lambda _: None) -> float:
    """Compile (or load from the cache) every kernel ``fit`` and ``run`` use; the seconds it
    took. ``echo`` receives one line per step."""
    from eis_pipeline.circuits import PRESETS
    from eis_pipeline.fitting.batch import fit_spectra
    from eis_pipeline.io.registry import read_spectra
    from eis_pipeline.pipeline import run
    from eis_pipeline.testing.simulate import (
        ArrheniusLaw,
        PelletModel,
        add_proportional_noise,
        log_frequencies,
    )
    from eis_pipeline.testing.writers import write_mpt

    start = time.perf_counter()
    model = PelletModel(0.1, 1.0, bulk=ArrheniusLaw.from_sigma_at(2e-6, 0.38),
                        grain_boundary=ArrheniusLaw.from_sigma_at(5e-7, 0.45))
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="eis_pipeline-warmup-") as tmp:
        folder = Path(tmp)
        (folder / "data").mkdir()
        for celsius in (25, 60):
            f = log_frequencies(7e6, 0.1, 10)
            z = add_proportional_noise(model.impedance(f, celsius + 273.15), 0.005, rng)
            write_mpt(folder / "data" / f"pellet_{celsius}C.mpt", f, z)
        (folder / "campaign.toml").write_text(_CONFIG, encoding="utf-8")
        echo("a campaign run with the defaults (model selection, Kramers-Kronig, DRT)")
        run(folder / "campaign.toml", write=False, progress=False, plots=False)
        spectra = read_spectra(folder / "data" / "pellet_25C.mpt")
        for name in PRESETS:
            echo(f"preset {name}")
            fit_spectra(spectra, circuit=name)
    return time.perf_counter() - start
