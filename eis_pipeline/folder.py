"""Campaigns from folders: what ``eis-pipeline run DIR`` and ``eis-pipeline init DIR`` infer.

A folder run is a quick campaign (:func:`eis_pipeline.config.files.quick_campaign`, as
``eis-pipeline fit FILES``) of what this module infers. :func:`plan_folders`
looks at the folders and decides, printing its reasons (:meth:`FolderPlan.describe`):

- **Samples.** Each subfolder of ``DIR`` holding impedance files (at any depth) is a sample
  named after the subfolder; files directly in ``DIR`` form a sample named after ``DIR``.
  A file is an impedance file when an importer recognises its content; every other file with
  a data-like suffix is listed as skipped, with the detector's reason (never silently).
- **Temperatures**, in this order of evidence: the file name, then its folder names
  (:func:`temperature_from_name`); else a ``temperature`` column in the file; else a
  temperature in the file's header (``temperature_K`` attribute).
- **Geometry**, in this order: the command-line values; the sample's row of a ``samples.csv``
  sidecar in ``DIR`` (columns ``sample``, ``thickness_mm``, ``diameter_mm`` or ``area_cm2``,
  optional ``*_stderr_*``, ``mass_mg``, ``theoretical_density_g_cm3``; any other column is a
  synthesis parameter); the header of the sample's first file (e.g. Novocontrol's
  ``Diameter[mm]``/``Thickness[mm]``).

:meth:`FolderPlan.config` is that campaign; :meth:`FolderPlan.to_toml` writes it as a
commented config that parses back into the same objects, so that ``run DIR`` and ``run
CONFIG`` (with the config from ``init DIR``) are the same run.
"""

from __future__ import annotations

import csv
import glob
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eis_pipeline.config import CampaignConfig
from eis_pipeline.config.files import QuickSample, quick_campaign
from eis_pipeline.config.schema import (
    DEFAULT_CIRCUIT,
    GEOMETRY_KEYS,
    GEOMETRY_LIMITS,
    FitDefaults,
    TemperatureSource,
    TemperatureSourceKind,
)
from eis_pipeline.conventions import ZERO_CELSIUS_K
from eis_pipeline.exceptions import ConfigError, EisError, GeometryError
from eis_pipeline.io.registry import detect_format, importers, read_spectra
from eis_pipeline.physics.geometry import Geometry
from eis_pipeline.physics.plausibility import TEMPERATURE_RANGE_K, implausible_temperature

__all__ = [
    "TEMPERATURE_RANGE_K",
    "FolderPlan",
    "SamplePlan",
    "plan_folders",
    "temperature_from_name",
]

SIDECAR = "samples.csv"
ROOM_TEMPERATURE_C = 25.0

# Linear-time patterns (no nested quantifiers). A number may not continue a word or another
# number (``mill045min``, ``10kHz`` are not temperatures); a minus sign counts only at the
# start or after a separator (``LPS_-20C`` is -20 °C, ``LPS-20C`` is +20 °C).
_NUMBER = r"(?<![A-Za-z0-9.,])(-?\d+(?:[.,p]\d+)?)"
_WITH_UNIT = re.compile(_NUMBER + r"\s?(°\s?C|degC|deg|oC|C|K)(?![A-Za-z])", re.IGNORECASE)
_T_PREFIX = re.compile(r"(?<![A-Za-z0-9])T[_=]?(-?\d+(?:[.,p]\d+)?)(?:\s?(°C|degC|C|K))?"
                       r"(?![A-Za-z0-9])")
_ROOM = re.compile(r"(?<![A-Za-z0-9])RT(?![A-Za-z0-9])")


def _to_kelvin(number: str, unit: str) -> float:
    value = float(number.replace(",", ".").replace("p", "."))
    return value if unit.upper() == "K" else value + ZERO_CELSIUS_K


def temperature_from_name(name: str) -> tuple[float | None, str]:
    """Temperature (K) written in a file or folder name, and how it was read.

    Recognised: ``25C``, ``-20C``, ``25°C``, ``25degC``, ``25 oC``, ``140deg`` (°C),
    ``298K``, ``25p5C`` or ``25,5C`` (25.5 °C), ``T25`` / ``T_25`` / ``T=25`` (°C unless
    followed by K) and ``RT`` (taken as 25 °C). A name holding two different temperatures is
    ambiguous and gives None with the reason.

    Examples
    --------
    >>> temperature_from_name("LLZO_-20degC_01")
    (253.14999999999998, "'-20degC'")
    >>> temperature_from_name("pellet_mill045min")[0] is None
    True
    """
    found: list[tuple[float, str]] = []
    for match in _WITH_UNIT.finditer(name):
        found.append((_to_kelvin(match.group(1), match.group(2)), match.group(0)))
    if not found:
        for match in _T_PREFIX.finditer(name):
            found.append((_to_kelvin(match.group(1), match.group(2) or "C"), match.group(0)))
    if not found and _ROOM.search(name):
        found.append((ROOM_TEMPERATURE_C + ZERO_CELSIUS_K, "'RT' (room temperature, taken "
                                                           "as 25 °C)"))
    values = {round(k, 6) for k, _ in found}
    if len(values) > 1:
        return None, f"ambiguous: {', '.join(repr(t) for _, t in found)}"
    if not found:
        return None, "no temperature in the name"
    kelvin, text = found[0]
    return kelvin, text if text.startswith("'") else repr(text)


@dataclass
class FilePlan:
    path: Path
    importer: str
    temperature_K: float | None
    temperature_reason: str


@dataclass
class SamplePlan:
    name: str
    folder: Path
    files: list[FilePlan]
    temperature_kind: TemperatureSourceKind  # "table", "column" or "metadata"
    geometry: dict[str, float]
    geometry_source: str
    synthesis: dict[str, float | str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass
class FolderPlan:
    """What a folder run will do; :meth:`describe` says it, :meth:`to_toml` writes it."""

    name: str
    samples: list[SamplePlan]
    skipped: list[tuple[Path, str]]
    base_dir: Path
    output: str

    def describe(self) -> str:
        """The inference, per sample and file, for the console."""
        out = [f"inferred campaign {self.name!r} ({len(self.samples)} sample(s)):"]
        for s in self.samples:
            geo = ", ".join(f"{k} = {v:g}" for k, v in s.geometry.items()) or "none"
            out.append(f"  sample {s.name!r} ({s.folder}): geometry {geo} [{s.geometry_source}]")
            for k, v in s.synthesis.items():
                out.append(f"    synthesis {k} = {v}")
            for f in s.files:
                t = ("from the file (" + s.temperature_kind + ")" if f.temperature_K is None
                     else f"{f.temperature_K - ZERO_CELSIUS_K:.6g} °C")
                out.append(f"    {f.path.name}: {f.importer}, T = {t} <- {f.temperature_reason}")
            out.extend(f"    warning: {w}" for w in s.warnings)
        for path, reason in self.skipped:
            out.append(f"  skipped {path}: {reason}")
        return "\n".join(out)

    def config(self) -> CampaignConfig:
        """The campaign the folder run runs (:func:`~eis_pipeline.config.files.
        quick_campaign`, as ``eis-pipeline fit``), each sample saying where its geometry
        came from; :meth:`to_toml` writes it as a config that parses back into it."""
        samples = []
        for s in self.samples:
            temperature = (TemperatureSource("table", table_K={
                f.path.name: f.temperature_K for f in s.files  # type: ignore[misc]
            }) if s.temperature_kind == "table" else TemperatureSource(s.temperature_kind))
            samples.append(QuickSample(
                s.name, [f.path for f in s.files], temperature=temperature,
                geometry=Geometry.from_mm(**s.geometry), geometry_source=s.geometry_source,
                geometry_required=True, synthesis=s.synthesis))
        return quick_campaign(samples, FitDefaults(circuit=DEFAULT_CIRCUIT), name=self.name,
                              output=self.output, base_dir=self.base_dir, plots=True)

    def to_toml(self, config_dir: Path | None = None) -> str:
        """:meth:`config` as a campaign config, commented (where each value came from);
        paths relative to ``config_dir`` (default: :attr:`base_dir`), the folder the config
        will be saved in."""
        where = (config_dir or self.base_dir).resolve()
        cfg = self.config()

        def rel(p: Path) -> str:
            return Path(os.path.relpath(p.resolve(), where)).as_posix()

        q = json.dumps  # a JSON string is a valid TOML basic string
        lines = ["# Campaign config written by `eis-pipeline init`: edit and keep it.",
                 "# Paths are relative to this file's folder. Every inferred value says where",
                 "# it came from; check geometry and temperatures before trusting results.",
                 "", "[campaign]", f"name = {q(cfg.name)}", f"output = {q(rel(cfg.output))}",
                 "", "[defaults]",
                 '# "auto" picks the preset per spectrum by information criterion;',
                 "# `eis-pipeline circuits` lists presets.",
                 f"circuit = {q(cfg.defaults.circuit)}"]
        for plan, s in zip(self.samples, cfg.samples, strict=True):
            importer = {f.path.resolve(): f.importer for f in plan.files}
            lines += ["", "[[samples]]", f"name = {q(s.name)}",
                      f"# {len(s.paths)} file(s) in {rel(plan.folder)}", "files = ["]
            lines += [f"    {q(glob.escape(rel(p)))},  # {importer[p]}" for p in s.paths]
            lines.append("]")
            lines += _temperature_toml(s.temperature)
            lines.append(f"# geometry: {s.geometry_source}")
            if s.geometry is not None:
                lines += [f"{k} = {_num(v)}" for k, v in s.geometry.config_keys().items()
                          if v or "stderr" not in k]
            lines += [f"# warning: {w}" for w in plan.warnings]
            if s.synthesis:
                lines.append("[samples.synthesis]")
                lines += [f"{k} = {_num(v) if isinstance(v, float) else q(v)}"
                          for k, v in s.synthesis.items()]
        return "\n".join(lines) + "\n"


def _temperature_toml(source: TemperatureSource) -> list[str]:
    """A sample's ``temperature`` key: a table in °C when every value reads back exactly,
    else in K."""
    if source.kind != "table":
        return [f"# temperatures read from each file ({source.kind})",
                f"temperature = {{from = {json.dumps(source.kind)}}}"]
    celsius = {k: _num(v - ZERO_CELSIUS_K) for k, v in source.table_K.items()}
    exact = all(float(c) + ZERO_CELSIUS_K == source.table_K[k] for k, c in celsius.items())
    unit, values = ("celsius", celsius) if exact else (
        "kelvin", {k: _num(v) for k, v in source.table_K.items()})
    return ["# temperatures read from the file and folder names",
            f"temperature = {{from = \"table\", {unit} = {{"
            + ", ".join(f"{json.dumps(k)} = {v}" for k, v in values.items()) + "}}"]


def _num(value: float) -> str:
    """A number as TOML: 12 significant digits when they read back exactly (298 K is
    24.85 °C, not 24.850000000000023), else every digit."""
    short = repr(float(f"{float(value):.12g}"))
    return short if float(short) == float(value) else repr(float(value))


#: samples.csv columns that are geometry: the config's keys
_GEOMETRY_COLUMNS = GEOMETRY_KEYS


def read_sidecar(path: Path) -> dict[str, dict[str, float | str]]:
    """Rows of a ``samples.csv`` by sample name: geometry and synthesis values.

    Raises
    ------
    ConfigError
        Naming the file and line when the sample column is missing, a name repeats or a
        geometry value is not a positive number.
    """
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields = [f.strip() for f in reader.fieldnames or []]
        key = next((f for f in fields if f.lower() in ("sample", "name")), None)
        if key is None:
            raise ConfigError(f"needs a 'sample' column naming each sample's folder, found "
                              f"columns {fields}", path, 1)
        rows: dict[str, dict[str, float | str]] = {}
        for lineno, raw in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
            name = row.pop(key)
            if not name:
                continue  # a blank line
            if name in rows:
                raise ConfigError(f"sample {name!r} appears twice", path, lineno)
            values: dict[str, float | str] = {}
            for col, text in row.items():
                if not text:
                    continue
                try:
                    number = float(text.replace(",", "."))
                except ValueError:
                    number = math.nan
                if col in _GEOMETRY_COLUMNS:
                    if not (number > 0 or ("stderr" in col and number == 0)):
                        raise ConfigError(f"{col} of {name!r} must be a positive number, got "
                                          f"{text!r}", path, lineno)
                    values[col] = number
                else:
                    values[col] = number if math.isfinite(number) else text
            rows[name] = values
    return rows


def _candidate_files(folder: Path, recursive: bool) -> list[Path]:

    suffixes = {s for imp in importers().values() for s in imp.suffixes}
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if p.is_file() and p.suffix.lower() in suffixes
                  and p.name != SIDECAR and not p.name.startswith("."))


def _file_temperature(path: Path, root: Path) -> tuple[float | None, str]:
    kelvin, reason = temperature_from_name(path.stem)
    if kelvin is not None:
        return kelvin, f"file name {reason}"
    first_reason = reason
    for parent in path.parents:
        if parent == root.parent or parent == parent.parent:
            break
        kelvin, reason = temperature_from_name(parent.name)
        if kelvin is not None:
            return kelvin, f"folder name {parent.name!r}: {reason}"
    return None, first_reason


def _from_file(path: Path) -> tuple[TemperatureSourceKind | None, dict[str, float]]:
    """(temperature kind the file supports, header geometry in mm) from reading it."""

    ds = read_spectra(path)[0]
    kind: TemperatureSourceKind | None = "column" if "temperature" in ds else (
        "metadata" if "temperature_K" in ds.attrs else None)
    geometry = Geometry.from_attrs(ds.attrs)
    return kind, {} if geometry is None else geometry.config_keys()


def _plan_sample(name: str, folder: Path, files: list[Path], flags: Mapping[str, float],
                 sidecar: Mapping[str, float | str] | None) -> SamplePlan:
    plans = []
    for p in files:
        kelvin, reason = _file_temperature(p, folder)
        plans.append(FilePlan(p, detect_format(p).name, kelvin, reason))
    warnings = [f"{f.path.name}: {w}" for f in plans if f.temperature_K is not None
                for w in [implausible_temperature(f.temperature_K)] if w]
    header_kind: TemperatureSourceKind | None = None
    header_geometry: dict[str, float] = {}
    named = [f for f in plans if f.temperature_K is not None]
    if len(named) < len(plans) or not (flags or sidecar):
        header_kind, header_geometry = _from_file(plans[0].path)
    kind: TemperatureSourceKind
    if len(named) == len(plans):
        kind = "table"
        seen = [f.path.name for f in plans]
        twice = sorted({n for n in seen if seen.count(n) > 1})
        if twice:
            raise ConfigError(f"sample {name!r}: files named {twice} sit in several folders; "
                              "a temperature table needs unique file names: rename them")
    elif header_kind is not None:
        kind = header_kind
        for f in plans:
            f.temperature_K = None
            f.temperature_reason = ("temperature in the file" if kind == "column"
                                    else "file header")
    else:
        missing = ", ".join(f.path.name for f in plans if f.temperature_K is None)
        raise ConfigError(f"sample {name!r}: no temperature for {missing}: neither the file or "
                          "folder names (e.g. 25C, 298K, T25) nor the files carry one. Rename "
                          "the files, or write a config with `eis-pipeline init` and give a "
                          "temperature table")
    synthesis = {k: v for k, v in (sidecar or {}).items() if k not in _GEOMETRY_COLUMNS}
    sidecar_geometry = {k: float(v) for k, v in (sidecar or {}).items()
                        if k in _GEOMETRY_COLUMNS}
    if flags:
        geometry, source = dict(flags), "command line"
    elif sidecar_geometry:
        geometry, source = sidecar_geometry, SIDECAR
    elif header_geometry:
        geometry, source = header_geometry, f"header of {plans[0].path.name}"
    else:
        raise ConfigError(f"sample {name!r}: no pellet geometry: pass --thickness-mm and "
                          f"--diameter-mm (or --area-cm2, or --cell-constant-per-cm), or add "
                          f"a row for it to {SIDECAR} in {folder.parent} (columns sample, "
                          "thickness_mm, diameter_mm)")
    if "area_cm2" in geometry and "diameter_mm" in geometry:
        geometry.pop("area_cm2")  # the diameter is the measured value; the area follows
    for key, value in geometry.items():
        if value > GEOMETRY_LIMITS[key]:
            raise ConfigError(f"sample {name!r}: {key} = {value:g} from {source} is not a "
                              f"pellet's; expected at most {GEOMETRY_LIMITS[key]:g} (check "
                              "the unit in the key's name)")
    try:
        Geometry.from_mm(**geometry)
    except GeometryError as exc:
        raise ConfigError(f"sample {name!r}: the geometry from {source} is incomplete: "
                          f"{exc}") from None
    return SamplePlan(name, folder, plans, kind, geometry, source, synthesis, warnings)


def plan_folders(folders: Sequence[str | Path], *, geometry: Mapping[str, float] | None = None,
                 output: str | None = None, base_dir: str | Path | None = None) -> FolderPlan:
    """Infer a campaign from measurement folders (see the module docstring).

    Parameters
    ----------
    folders : sequence of path
        Folders holding one subfolder per sample (or the sample's files themselves).
    geometry : mapping, optional
        Geometry for every sample in the config's keys (``{"thickness_mm": 0.8,
        "diameter_mm": 10}``, or ``area_cm2``, or ``{"cell_constant_per_cm": 1.0}``);
        overrides ``samples.csv`` and file headers.
    output : str, optional
        Results file, relative to ``base_dir`` (default ``<name>_results.h5``).
    base_dir : path, optional
        The folder the config is relative to (default: the current directory).

    Raises
    ------
    ConfigError
        When a sample has no temperature or no geometry, or nothing is found.
    """

    flags = dict(geometry or {})
    if flags:
        try:
            Geometry.from_mm(**flags)
        except (GeometryError, TypeError) as exc:
            raise ConfigError(f"the geometry given for every sample, {flags}, is not one: "
                              f"{exc}") from None
    samples: list[SamplePlan] = []
    skipped: list[tuple[Path, str]] = []
    names: set[str] = set()

    def recognised(paths: list[Path]) -> list[Path]:
        keep = []
        for p in paths:
            try:
                detect_format(p)
            except EisError as exc:
                skipped.append((p, str(exc).removeprefix(f"{p}: ")))
            else:
                keep.append(p)
        return keep

    roots = [Path(f).resolve() for f in folders]
    for root in roots:
        if not root.is_dir():
            raise ConfigError(f"{root} is not a folder")
        sidecar_path = root / SIDECAR
        sidecar = read_sidecar(sidecar_path) if sidecar_path.is_file() else {}
        groups = [(root.name, root, recognised(_candidate_files(root, recursive=False)))]
        groups += [(d.name, d, recognised(_candidate_files(d, recursive=True)))
                   for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".")]
        for name, folder, files in groups:
            if not files:
                continue
            unique = name if name not in names else f"{root.name}_{name}"
            names.add(unique)
            samples.append(_plan_sample(unique, folder, files, flags, sidecar.get(name)))
        unknown = sorted(set(sidecar) - {g[0] for g in groups if g[2]})
        if unknown:
            raise ConfigError(f"rows {unknown} name no sample folder with impedance files in "
                              f"{root}", sidecar_path)
    if not samples:
        raise ConfigError(f"no impedance files found in {', '.join(map(str, roots))}")
    name = roots[0].name if len(roots) == 1 else "campaign"
    return FolderPlan(name, samples, skipped, Path(base_dir or Path.cwd()).resolve(),
                      output or f"{name}_results.h5")
