"""Campaign configuration: a TOML file -> frozen dataclasses, units converted once.

A campaign config names the samples of a series, the files of each, how to find each
spectrum's temperature, the pellet geometry and the synthesis parameters::

    [campaign]
    name = "NaCB11H12 milling series"
    output = "results/milling.h5"          # relative to this file's folder

    [defaults]                              # every key may be overridden per sample
    circuit = "bulk-gb-electrode-inductance"
    f_min_hz = 1.0
    f_max_hz = 7e6
    weighting = "modulus"
    arrhenius_form = "sigma_T"

    [[samples]]
    name = "mill045"
    files = ["mill045min/*.mpt"]           # globs relative to this file's folder
    temperature = {from = "filename", pattern = "(?P<celsius>-?\\d+)C"}
    thickness_mm = 0.64
    thickness_stderr_mm = 0.01
    diameter_mm = 10.02
    diameter_stderr_mm = 0.01
    [samples.synthesis]
    milling_time_min = 45
    milling_speed_rpm = 500

Units: keys carry their unit and are converted exactly once, here. Geometry is stored in
**cm / cm² / g** (the units of the physics API, ``conductivity(fits, thickness_cm=...)``),
temperatures in **K**, frequencies in **Hz**. Synthesis values are descriptive metadata and
are kept as written, with their unit-suffixed names (``milling_time_min``), because they label
trend axes rather than enter formulas.

Errors: every problem raises :class:`~eis_pipeline.exceptions.ConfigError` naming the file,
the line (found by scanning the TOML text: tomllib reports no positions), the key, what was
expected and, for unknown keys or choices, the valid ones with the closest match suggested.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eis_pipeline.conventions import ROOM_TEMPERATURE_K, ZERO_CELSIUS_K
from eis_pipeline.exceptions import ConfigError
from eis_pipeline.physics.geometry import Geometry
from eis_pipeline.vocabulary import (
    ARRHENIUS_BREAKPOINTS,
    ARRHENIUS_FORMS,
    AUTO_CIRCUIT,
    PLOT_FORMATS,
    TEMPERATURE_LAWS,
    TEMPERATURE_SOURCES,
    WEIGHTINGS,
    ArrheniusBreakpoints,
    PlotFormat,
    TemperatureLaw,
    TemperatureSourceKind,
    Weighting,
)

__all__ = [
    "ARRHENIUS_BREAKPOINTS",
    "ARRHENIUS_FORMS",
    "AUTO_CIRCUIT",
    "DEFAULT_CIRCUIT",
    "PLOT_FORMATS",
    "SYNTHESIS_KEYS",
    "TEMPERATURE_LAWS",
    "TEMPERATURE_SOURCES",
    "WEIGHTINGS",
    "CampaignConfig",
    "FitDefaults",
    "Geometry",
    "SampleConfig",
    "TemperatureSource",
]

DEFAULT_CIRCUIT = AUTO_CIRCUIT

CAMPAIGN_KEYS = {"name": str, "description": str, "output": str, "plots": bool,
                  "plot_format": str}
DEFAULT_KEYS = ("circuit", "f_min_hz", "f_max_hz", "weighting", "arrhenius_form",
                 "arrhenius_breakpoints", "arrhenius_breakpoint_celsius", "arrhenius_weighting",
                 "reference_temperature_celsius", "drt", "format", "series_fit", "chain")
#: ``arrhenius_weighting``: "fit_stderr" (by each σ's fit error) or "none" (the literature's
#: usual unweighted line).
ARRHENIUS_WEIGHTINGS = ("fit_stderr", "none")
#: ``series_fit``: "none", or "global" (fit_temperature_series over each sample's spectra).
SERIES_FITS = ("none", "global")
#: ``chain``: "none", or "temperature" (a sample's spectra fitted together, each also warm-
#: started from its fitted neighbour in temperature: fit_spectra(..., chain="temperature")).
CHAINS = ("none", "temperature")
#: the geometry in a config's units (mm, cm², cm⁻¹, mg): a pellet's thickness with its
#: diameter or area, or a conductivity cell's constant; in [defaults] and per sample
GEOMETRY_KEYS = ("thickness_mm", "thickness_stderr_mm", "diameter_mm", "diameter_stderr_mm",
                  "area_cm2", "area_stderr_cm2", "cell_constant_per_cm",
                  "cell_constant_stderr_per_cm", "mass_mg", "theoretical_density_g_cm3")
SAMPLE_KEYS = ("name", "files", "temperature", "synthesis", *GEOMETRY_KEYS, *DEFAULT_KEYS)
#: Known synthesis keys and their types; other keys are allowed (free metadata).
SYNTHESIS_KEYS: dict[str, type] = {
    "milling_time_min": float, "milling_speed_rpm": float, "ball_to_powder_ratio": float,
    "ball_diameter_mm": float, "jar_material": str, "ball_material": str,
    "annealing_temperature_celsius": float, "annealing_time_min": float,
    "pressing_pressure_mpa": float, "atmosphere": str, "precursors": str,
}
#: names the campaign summary gives its own columns and coordinates (physics.campaign and
#: pipeline.campaign_node): a synthesis key of that name would clash with them
RESERVED_SYNTHESIS_KEYS = ("name", "sample", "component", "sigma_25C", "sigma_25C_stderr",
                           "sigma_25C_extrapolated", "activation_energy",
                           "activation_energy_stderr", "n_spectra", "n_converged",
                           "n_kk_failed")
#: largest geometry values accepted, in each key's unit: a 1 m pellet is already absurd, and
#: larger numbers (1e308) overflow the physics
GEOMETRY_LIMITS = {"thickness_mm": 1e3, "thickness_stderr_mm": 1e3, "diameter_mm": 1e3,
                   "diameter_stderr_mm": 1e3, "area_cm2": 1e4, "area_stderr_cm2": 1e4,
                   "cell_constant_per_cm": 1e6, "cell_constant_stderr_per_cm": 1e6,
                   "mass_mg": 1e6, "theoretical_density_g_cm3": 100.0}


# --------------------------------------------------------------------------- dataclasses

@dataclass(frozen=True)
class FitDefaults:
    """Analysis settings, campaign-wide in ``[defaults]``, overridable per sample.

    Attributes
    ----------
    circuit : str
        Preset name or impedance.py circuit string.
    f_min_hz, f_max_hz : float or None
        Frequency window kept for fitting (None: no limit).
    weighting : str
        One of :data:`WEIGHTINGS`.
    arrhenius_form : {"sigma_T", "sigma", "vtf"}
        ``"sigma_T"`` (σT = σ₀ exp(-E_a/kT)) or ``"sigma"``, PHYSICS.md section 6; ``"vtf"``
        the Vogel-Tammann-Fulcher law σ = A T^(-1/2) exp(-B/(k(T - T₀))) of glassy and polymer
        electrolytes (docs/series.md; no breakpoint, no global series fit).
    arrhenius_breakpoints : {"auto", 0, 1}
        Phase transitions: 0 fits one line, 1 always two segments, "auto" two segments only
        when an information criterion prefers them (PHYSICS.md section 6).
    arrhenius_breakpoint_K : float or None
        A known transition temperature: split the Arrhenius fit there instead of searching.
    drt : bool
        Compute each spectrum's distribution of relaxation times (stored under ``drt``).
    format : str or None
        Importer name; None sniffs each file's format from its content.
    arrhenius_weighting : {"fit_stderr", "none"}
        Weight the Arrhenius line by each σ's fit error, or not (most papers do not).
    reference_temperature_K : float
        Where ``sigma_ref`` is reported besides σ(25 °C) (config key
        ``reference_temperature_celsius``).
    series_fit : {"none", "global"}
        "global" also fits each sample's temperature series as one Arrhenius-constrained
        model (:func:`eis_pipeline.fit_temperature_series`), stored under ``series_fit``.
    chain : {"none", "temperature"}
        "temperature" fits all of a sample's spectra in one batch and refits each from its
        fitted neighbour in temperature, keeping the lower cost
        (:mod:`eis_pipeline.fitting.chain`); the fits record ``chain``.
    """

    circuit: str = DEFAULT_CIRCUIT
    f_min_hz: float | None = None
    f_max_hz: float | None = None
    weighting: Weighting = "modulus"
    arrhenius_form: TemperatureLaw = "sigma_T"
    arrhenius_breakpoints: ArrheniusBreakpoints = "auto"
    arrhenius_breakpoint_K: float | None = None
    drt: bool = True
    format: str | None = None
    arrhenius_weighting: str = "fit_stderr"
    reference_temperature_K: float = ROOM_TEMPERATURE_K
    series_fit: str = "none"
    chain: str = "none"


@dataclass(frozen=True)
class TemperatureSource:
    """Where each spectrum's temperature comes from.

    ``kind`` is ``"filename"`` (regular expression ``pattern`` with a named group
    ``celsius`` or ``kelvin``), ``"column"`` (the spectrum's ``temperature`` variable),
    ``"table"`` (``table_K``: file name -> K) or ``"metadata"`` (an importer-provided
    attribute). ``required``: a spectrum left without a temperature is a recorded failure
    (a campaign's Arrhenius fit needs it); False for quick fits of loose files.
    """

    kind: TemperatureSourceKind
    pattern: str | None = None
    table_K: Mapping[str, float] = field(default_factory=dict)
    required: bool = True

    def from_file(self, path: str | Path) -> float | None:
        """Temperature in K known from the config for ``path``; None for ``column`` and
        ``metadata`` (the pipeline reads those from the spectra).

        Raises
        ------
        ConfigError
            If the file name does not match the pattern or the table has no entry.
        """
        path = Path(path)
        if self.kind == "filename" and self.pattern is not None:
            match = re.search(self.pattern, path.name)
            if match is None:
                raise ConfigError(f"file name {path.name!r} does not match the temperature "
                                  f"pattern {self.pattern!r}; fix the pattern or rename the "
                                  "file", key="temperature.pattern")
            unit = "celsius" if match.groupdict().get("celsius") is not None else "kelvin"
            text = match.group(unit) or ""
            try:
                value = float(text.replace(",", "."))
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise ConfigError(f"the temperature pattern {self.pattern!r} takes {text!r} "
                                  f"from {path.name!r} as the {unit} group, which is not a "
                                  r"number; match digits, e.g. (?P<celsius>-?\d+)",
                                  key="temperature.pattern")
            return value + ZERO_CELSIUS_K if unit == "celsius" else value
        if self.kind == "table":
            for key in (path.as_posix(), path.name):
                if key in self.table_K:
                    return self.table_K[key]
            raise ConfigError(f"no temperature for {path.name!r} in the temperature table; "
                              f"entries: {', '.join(sorted(self.table_K))}",
                              key="temperature")
        return None


#: longest sample name: it names a results group and plot files (a file name has 255 bytes)
MAX_SAMPLE_NAME = 100
#: group names the results file uses itself
RESERVED_SAMPLE_NAMES = ("campaign", "failures")
_UNSAFE_NAME_CHARS = re.compile(r'[/\\<>:"|?*\x00-\x1f\x7f]')


def sample_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a sample (a results group and plot files), or None.

    Refused: ``/``, ``\\``, the characters Windows reserves (``<>:"|?*``) and control
    characters; a leading dot (``.``, ``..``, hidden files); leading or trailing spaces;
    more than :data:`MAX_SAMPLE_NAME` characters; ``campaign`` and ``failures``.
    """
    bad = _UNSAFE_NAME_CHARS.search(name)
    if bad:
        return (f"contains {bad.group()!r}; use letters, digits, spaces and _ - . + "
                "(no path separators, control characters or <>:\"|?*)")
    if not name.strip():
        return "is empty"
    if name.startswith("."):
        return "starts with '.'; it would name a hidden file or a parent folder"
    if name != name.strip():
        return "starts or ends with a space"
    if len(name) > MAX_SAMPLE_NAME:
        return (f"has {len(name)} characters, more than {MAX_SAMPLE_NAME}; it names plot "
                "files. Put long descriptions in [samples.synthesis]")
    if name in RESERVED_SAMPLE_NAMES:
        return "names a group of the results file itself ('campaign', 'failures')"
    return None


@dataclass(frozen=True)
class SampleConfig:
    """One sample (pellet) of the campaign.

    ``files`` are the glob patterns as written; ``paths`` the resolved files (sorted,
    absolute, deterministic).
    """

    name: str
    files: tuple[str, ...]
    paths: tuple[Path, ...]
    temperature: TemperatureSource
    #: None: from the files' headers when they all carry the same one
    geometry: Geometry | None
    settings: FitDefaults
    synthesis: Mapping[str, float | str | bool] = field(default_factory=dict)
    #: where the geometry came from ("config", "command line", "samples.csv", ...; "file
    #: header" when ``geometry`` is None), recorded with the results
    geometry_source: str = "config"
    #: a sample left without a geometry is a recorded failure (a campaign needs σ); False
    #: for quick fits of loose files, whose conductivity is only shown when known
    geometry_required: bool = True

    def __post_init__(self) -> None:
        # also for configs built in code (folder runs): a name is a group and file names
        problem = sample_name_problem(self.name)
        if problem is not None:
            raise ConfigError(f"sample name {self.name[:60]!r}"
                              f"{'...' if len(self.name) > 60 else ''} {problem}", key="name")

    def to_attrs(self) -> dict[str, float | str | bool]:
        """Flat attributes for the sample's results group (DESIGN.md section 7): geometry in
        cm/cm²/g (unknown values left out), ``relative_density``, the synthesis keys as
        written and ``temperature_source``."""
        attrs: dict[str, float | str | bool] = ({} if self.geometry is None
                                                else dict(self.geometry.to_attrs()))
        attrs.update(self.synthesis)
        attrs["temperature_source"] = self.temperature.kind
        return attrs

    def file_temperatures_K(self) -> dict[Path, float | None]:
        """Temperature in K for each file when the config fixes it (filename, table)."""
        return {p: self.temperature.from_file(p) for p in self.paths}


@dataclass(frozen=True)
class CampaignConfig:
    """A whole campaign: name, output, defaults and samples."""

    name: str
    path: Path | None
    base_dir: Path
    output: Path
    defaults: FitDefaults
    samples: tuple[SampleConfig, ...]
    description: str = ""
    plots: bool = True
    plot_format: PlotFormat = "png"

    def sample(self, name: str) -> SampleConfig:
        """The sample called ``name``."""
        for s in self.samples:
            if s.name == name:
                return s
        raise KeyError(f"no sample {name!r}; samples: {', '.join(s.name for s in self.samples)}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (paths relative to the config's folder where possible)."""

        def rel(p: Path) -> str:
            try:
                return p.relative_to(self.base_dir).as_posix()
            except ValueError:
                return p.as_posix()

        samples = []
        for s in self.samples:
            d = asdict(s)
            d["paths"] = [rel(p) for p in s.paths]
            d["temperature"]["table_K"] = dict(s.temperature.table_K)
            d["synthesis"] = dict(s.synthesis)
            d["geometry"] = None if s.geometry is None else s.geometry.to_attrs()
            samples.append(d)
        return {
            "name": self.name, "description": self.description,
            "config_path": None if self.path is None else self.path.as_posix(),
            "output": rel(self.output), "plots": self.plots, "plot_format": self.plot_format,
            "defaults": asdict(self.defaults), "samples": samples,
            "units": {"geometry": "cm, cm2, g", "temperature": "K", "frequency": "Hz"},
        }

    def to_json(self) -> str:
        """The config as deterministic JSON (sorted keys), stored in the results file."""
        return json.dumps(self.to_dict(), sort_keys=True, default=str)


