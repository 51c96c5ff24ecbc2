"""eis_pipeline: impedance spectroscopy of solid-electrolyte pellets, from raw exports to results.

>>> import eis_pipeline as eis
>>> spectra = eis.read_spectra("pellet_25C.mpt")                      # doctest: +SKIP
>>> fits = eis.fit_spectra(spectra, circuit="bulk-gb-electrode")      # doctest: +SKIP
>>> cond = eis.conductivity(fits, thickness_cm=0.1, diameter_cm=1.0)  # doctest: +SKIP

The public names load lazily, so ``import eis_pipeline`` stays light (no scipy, matplotlib or
impedance.py until they are used).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from eis_pipeline.exceptions import (
    CircuitError,
    ConfigError,
    ConvergenceWarning,
    DataQualityWarning,
    EisError,
    EisWarning,
    FitError,
    FormatError,
    GeometryError,
    NotFittedError,
    ParseError,
    SpectrumError,
    UnknownFormatError,
)

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "list_formats": "eis_pipeline.io.registry",
    "read_spectra": "eis_pipeline.io.registry",
    "read_table": "eis_pipeline.io.table",
    "make_spectrum": "eis_pipeline.conventions",
    "validate_spectrum": "eis_pipeline.conventions",
    "CircuitModel": "eis_pipeline.fitting.model",
    "fit_spectra": "eis_pipeline.fitting.batch",
    "conductivity": "eis_pipeline.physics.conductivity",
    "arrhenius": "eis_pipeline.physics.arrhenius",
    "fit_temperature_series": "eis_pipeline.physics.series_fit",
    "conductivity_spectra": "eis_pipeline.physics.dielectric",
    "kramers_kronig": "eis_pipeline.validation.kramers_kronig",
    "drt": "eis_pipeline.validation.drt",
    "run": "eis_pipeline.pipeline",
}

__all__ = [
    "CircuitError",
    "CircuitModel",
    "ConfigError",
    "ConvergenceWarning",
    "DataQualityWarning",
    "EisError",
    "EisWarning",
    "FitError",
    "FormatError",
    "GeometryError",
    "NotFittedError",
    "ParseError",
    "SpectrumError",
    "UnknownFormatError",
    "__version__",
    "arrhenius",
    "conductivity",
    "conductivity_spectra",
    "drt",
    "fit_spectra",
    "fit_temperature_series",
    "kramers_kronig",
    "list_formats",
    "make_spectrum",
    "read_spectra",
    "read_table",
    "run",
    "validate_spectrum",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'eis_pipeline' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from eis_pipeline.conventions import make_spectrum, validate_spectrum
    from eis_pipeline.fitting.batch import fit_spectra
    from eis_pipeline.fitting.model import CircuitModel
    from eis_pipeline.io.registry import list_formats, read_spectra
    from eis_pipeline.io.table import read_table
    from eis_pipeline.physics.arrhenius import arrhenius
    from eis_pipeline.physics.conductivity import conductivity
    from eis_pipeline.pipeline import run
    from eis_pipeline.validation.drt import drt
    from eis_pipeline.validation.kramers_kronig import kramers_kronig
