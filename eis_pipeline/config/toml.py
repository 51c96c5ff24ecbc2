"""Reading a campaign config: TOML text -> :class:`~eis_pipeline.config.schema.CampaignConfig`.

tomllib reports no positions, so :class:`_Source` scans the text for the line of each key;
every problem raises :class:`~eis_pipeline.exceptions.ConfigError` naming the file, that
line, the key, what was expected and, for unknown keys or choices, the valid ones with the
closest match suggested. Units are converted here, once (docs/config.md).
"""

from __future__ import annotations

import difflib
import glob
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar, cast

from eis_pipeline.circuits import compile_circuit
from eis_pipeline.config.schema import (
    ARRHENIUS_BREAKPOINTS,
    ARRHENIUS_WEIGHTINGS,
    AUTO_CIRCUIT,
    CAMPAIGN_KEYS,
    CHAINS,
    DEFAULT_KEYS,
    GEOMETRY_KEYS,
    GEOMETRY_LIMITS,
    PLOT_FORMATS,
    RESERVED_SYNTHESIS_KEYS,
    SAMPLE_KEYS,
    SERIES_FITS,
    SYNTHESIS_KEYS,
    TEMPERATURE_LAWS,
    TEMPERATURE_SOURCES,
    WEIGHTINGS,
    CampaignConfig,
    FitDefaults,
    Geometry,
    SampleConfig,
    TemperatureSource,
    sample_name_problem,
)
from eis_pipeline.conventions import ZERO_CELSIUS_K
from eis_pipeline.exceptions import CircuitError, ConfigError
from eis_pipeline.io.registry import importers

__all__ = ["load_config", "parse_config"]

_Name = TypeVar("_Name", bound=str)


# --------------------------------------------------------------------------- locating keys

class _Source:
    """The TOML text, to find the line of a key for error messages."""

    _SAMPLES_HEADER = re.compile(r"^\s*\[\[\s*samples\s*\]\]")
    _TABLE_HEADER = re.compile(r"^\s*\[")

    def __init__(self, text: str, path: Path | None) -> None:
        self.lines = text.splitlines()
        self.path = path
        self.sample_starts = [i for i, line in enumerate(self.lines)
                              if self._SAMPLES_HEADER.match(line)]

    def _section(self, section: str | int | None) -> tuple[int, int]:
        """0-based [start, end) line range of ``[section]`` or of the n-th ``[[samples]]``."""
        n = len(self.lines)
        if isinstance(section, int):
            if section >= len(self.sample_starts):
                return 0, n
            start = self.sample_starts[section]
            later = [s for s in self.sample_starts if s > start]
            return start, later[0] if later else n
        if section is None:
            first = next((i for i, line in enumerate(self.lines)
                          if self._TABLE_HEADER.match(line)), n)
            return 0, first
        header = re.compile(rf"^\s*\[\s*{re.escape(section)}\s*\]")
        for i, line in enumerate(self.lines):
            if header.match(line):
                end = next((j for j in range(i + 1, n) if self._TABLE_HEADER.match(self.lines[j])),
                           n)
                return i, end
        return 0, n

    def line_of(self, key: str, section: str | int | None = None) -> int | None:
        """1-based line where ``key`` is assigned (or its table starts) in ``section``."""
        start, end = self._section(section)
        assign = re.compile(rf"(^|[\s{{,.])[\"']?{re.escape(key)}[\"']?\s*=")
        table = re.compile(rf"^\s*\[+[^\]]*\b{re.escape(key)}\s*\]")
        for i in range(start, end):
            text = self.lines[i].split("#", 1)[0] if "#" in self.lines[i] else self.lines[i]
            if assign.search(text) or table.match(text):
                return i + 1
        return start + 1 if start < len(self.lines) and section is not None else None

    def error(self, message: str, key: str, section: str | int | None = None,
              *, lookup: str | None = None) -> ConfigError:
        """A ConfigError at the line of ``lookup`` (default: last part of ``key``)."""
        name = lookup or re.split(r"[.\]]", key)[-1] or key
        return ConfigError(message, self.path, self.line_of(name, section), key)


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}valid: {', '.join(choices)}"


# --------------------------------------------------------------------------- parsing

class _Parser:
    def __init__(self, text: str, path: Path | None, base_dir: Path, resolve: bool) -> None:
        self.src = _Source(text, path)
        self.path = path
        self.base_dir = base_dir
        self.resolve = resolve
        try:
            self.data = tomllib.loads(text)
        except RecursionError:
            raise ConfigError("not valid TOML for a campaign: arrays or tables nested too "
                              "deeply", path) from None
        except tomllib.TOMLDecodeError as exc:
            m = re.search(r"line (\d+)", str(exc))
            raise ConfigError(f"not valid TOML: {exc}", path,
                              int(m.group(1)) if m else None) from None

    # -- small typed getters -------------------------------------------------------------
    def _check_keys(self, table: Mapping[str, Any], allowed: Sequence[str], where: str,
                    section: str | int | None, prefix: str) -> None:
        for key in table:
            if key not in allowed:
                raise self.src.error(f"unknown key {key!r} in {where}; "
                                     f"{_suggest(key, allowed)}", f"{prefix}{key}", section,
                                     lookup=key)

    def _number(self, value: Any, key: str, section: str | int | None, *,
                positive: bool = True, allow_zero: bool = False) -> float:
        name = key.rsplit(".", 1)[-1]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.src.error(f"{name} must be a number, got {value!r}", key, section)
        v = float(value)
        if not math.isfinite(v) or (positive and (v < 0 or (v == 0 and not allow_zero))):
            need = "a finite number" if not positive else (
                "a non-negative number" if allow_zero else "a positive number")
            raise self.src.error(f"{name} must be {need}, got {value!r}", key, section)
        return v

    def _choice(self, value: Any, choices: Sequence[_Name], key: str,
                section: str | int | None) -> _Name:
        name = key.rsplit(".", 1)[-1]
        if not isinstance(value, str) or value not in choices:
            raise self.src.error(f"{name} = {value!r} is not a valid choice; "
                                 f"{_suggest(str(value), choices)}", key, section)
        return cast(_Name, value)

    def _string(self, value: Any, key: str, section: str | int | None) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.src.error(f"{key.rsplit('.', 1)[-1]} must be a non-empty string, got "
                                 f"{value!r}", key, section)
        return value

    # -- sections ------------------------------------------------------------------------
    def settings(self, table: Mapping[str, Any], base: FitDefaults, section: str | int,
                 prefix: str) -> FitDefaults:
        values = asdict(base)
        for key in DEFAULT_KEYS:
            if key not in table:
                continue
            value, full = table[key], f"{prefix}{key}"
            if key == "circuit":
                values["circuit"] = self._circuit(value, full, section)
            elif key in ("f_min_hz", "f_max_hz"):
                values[key] = self._number(value, full, section)
            elif key == "weighting":
                values[key] = self._choice(value, WEIGHTINGS, full, section)
            elif key == "arrhenius_form":
                values[key] = self._choice(value, TEMPERATURE_LAWS, full, section)
            elif key == "arrhenius_breakpoints":
                if isinstance(value, bool) or value not in ARRHENIUS_BREAKPOINTS:
                    raise self.src.error(f"arrhenius_breakpoints = {value!r} is not valid; "
                                         'use "auto", 0 (one line) or 1 (two segments)',
                                         full, section)
                values[key] = value
            elif key == "arrhenius_breakpoint_celsius":
                celsius = self._number(value, full, section, positive=False)
                values["arrhenius_breakpoint_K"] = celsius + ZERO_CELSIUS_K
            elif key == "drt":
                if not isinstance(value, bool):
                    raise self.src.error(f"drt must be true or false, got {value!r}", full,
                                         section)
                values[key] = value
            elif key == "format":
                values[key] = self._format(value, full, section)
            elif key == "series_fit":
                values[key] = self._choice(value, SERIES_FITS, full, section)
            elif key == "chain":
                values[key] = self._choice(value, CHAINS, full, section)
            elif key == "arrhenius_weighting":
                values[key] = self._choice(value, ARRHENIUS_WEIGHTINGS, full, section)
            elif key == "reference_temperature_celsius":
                celsius = self._number(value, full, section, positive=False)
                if celsius <= -ZERO_CELSIUS_K:
                    raise self.src.error(f"{full} = {celsius:g} °C is below absolute zero",
                                         full, section)
                values["reference_temperature_K"] = celsius + ZERO_CELSIUS_K
        out = FitDefaults(**values)
        if out.arrhenius_form == "vtf" and (out.arrhenius_breakpoint_K is not None
                                            or out.series_fit == "global"):
            what = ("arrhenius_breakpoint_celsius" if out.arrhenius_breakpoint_K is not None
                    else 'series_fit = "global"')
            raise self.src.error(f'arrhenius_form = "vtf" cannot be used with {what}: a VTF law '
                                 "has no breakpoint and the global series fit is Arrhenius "
                                 'only; use arrhenius_form = "sigma_T" or "sigma" for it',
                                 f"{prefix}arrhenius_form", section)
        if (out.f_min_hz is not None and out.f_max_hz is not None
                and out.f_min_hz >= out.f_max_hz):
            raise self.src.error(f"f_min_hz ({out.f_min_hz:g}) must be below f_max_hz "
                                 f"({out.f_max_hz:g})", f"{prefix}f_min_hz", section)
        return out

    def _circuit(self, value: Any, key: str, section: str | int) -> str:
        circuit = self._string(value, key, section)
        if circuit == AUTO_CIRCUIT:
            return circuit

        try:
            compile_circuit(circuit)
        except CircuitError as exc:
            raise self.src.error(f"invalid circuit {circuit!r}: {exc}", key, section) from None
        return circuit

    def _format(self, value: Any, key: str, section: str | int) -> str:
        name = self._string(value, key, section)

        known = sorted(importers())
        if name not in known:
            raise self.src.error(f"unknown format {name!r}; {_suggest(name, known)} "
                                 "(`eis-pipeline formats` lists them)", key, section)
        return name

    def geometry_values(self, table: Mapping[str, Any], section: str | int,
                        prefix: str) -> dict[str, float]:
        """The geometry keys of ``table`` ([defaults] or a sample), each checked."""
        out = {}
        for key in GEOMETRY_KEYS:
            if key not in table:
                continue
            value = self._number(table[key], prefix + key, section,
                                 allow_zero="stderr" in key)
            if value > GEOMETRY_LIMITS[key]:
                raise self.src.error(f"{key} = {table[key]!r} is not a pellet's; expected at "
                                     f"most {GEOMETRY_LIMITS[key]:g} (check the unit in the "
                                     "key's name)", prefix + key, section)
            out[key] = value
        return out

    def geometry(self, defaults: Mapping[str, float], s: Mapping[str, Any], i: int,
                 prefix: str) -> Geometry | None:
        """The sample's geometry: its own keys, the rest from [defaults] (a group given by the
        sample replaces the same group of the defaults, see :func:`merge_geometry`); None
        when neither gives one (then the files' headers are used)."""
        values = merge_geometry(defaults, self.geometry_values(s, i, prefix))
        if not values:
            return None
        cell = "cell_constant_per_cm" in values
        pellet = [k for k in ("thickness_mm", "diameter_mm", "area_cm2") if k in values]
        if cell and pellet:
            raise self.src.error(f"give the pellet's thickness_mm with diameter_mm or area_cm2, "
                                 f"or its cell_constant_per_cm, not both (found "
                                 f"cell_constant_per_cm and {', '.join(pellet)})",
                                 prefix + "cell_constant_per_cm", i, lookup="name")
        if not cell:
            if "thickness_mm" not in values:
                raise self.src.error("missing thickness_mm (pellet thickness in mm), or give "
                                     "cell_constant_per_cm for a conductivity cell",
                                     prefix + "thickness_mm", i, lookup="name")
            diameter, area = values.get("diameter_mm"), values.get("area_cm2")
            if diameter is not None and area is not None:
                key, section = ((prefix + "diameter_mm", i) if "diameter_mm" in s
                                else ("defaults.diameter_mm", "defaults"))
                raise self.src.error("give exactly one of diameter_mm and area_cm2, found both "
                                     "(with [defaults])", key, section)
            if diameter is None and area is None:
                raise self.src.error("give exactly one of diameter_mm and area_cm2, found "
                                     "neither", prefix + "name", i, lookup="name")
        return Geometry.from_mm(
            values.get("thickness_mm"), diameter_mm=values.get("diameter_mm"),
            area_cm2=values.get("area_cm2"),
            cell_constant_per_cm=values.get("cell_constant_per_cm"),
            thickness_stderr_mm=values.get("thickness_stderr_mm", 0.0),
            diameter_stderr_mm=values.get("diameter_stderr_mm", 0.0),
            area_stderr_cm2=values.get("area_stderr_cm2", 0.0),
            cell_constant_stderr_per_cm=values.get("cell_constant_stderr_per_cm", 0.0),
            mass_mg=values.get("mass_mg"),
            theoretical_density_g_cm3=values.get("theoretical_density_g_cm3"))

    def temperature(self, value: Any, i: int, prefix: str) -> TemperatureSource:
        key = prefix + "temperature"
        if value is None:
            raise self.src.error('missing temperature (e.g. temperature = {from = "filename", '
                                 'pattern = "(?P<celsius>-?\\\\d+)C"})', key, i, lookup="name")
        if not isinstance(value, Mapping):
            raise self.src.error(f"temperature must be a table with a 'from' key, got "
                                 f"{value!r}", key, i)
        kind = self._choice(value.get("from"), TEMPERATURE_SOURCES, key + ".from", i)
        allowed = {"filename": ("from", "pattern"), "column": ("from",),
                   "table": ("from", "celsius", "kelvin"), "metadata": ("from",)}[kind]
        self._check_keys(value, allowed, f"temperature (from = {kind!r})", i, key + ".")
        if kind == "filename":
            pattern = self._string(value.get("pattern"), key + ".pattern", i)
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise self.src.error(f"pattern {pattern!r} is not a regular expression: {exc}",
                                     key + ".pattern", i) from None
            if not {"celsius", "kelvin"} & set(compiled.groupindex):
                raise self.src.error(f"pattern {pattern!r} needs a named group (?P<celsius>...)"
                                     " or (?P<kelvin>...)", key + ".pattern", i)
            return TemperatureSource("filename", pattern=pattern)
        if kind == "table":
            units = [u for u in ("celsius", "kelvin") if u in value]
            if len(units) != 1 or not isinstance(value[units[0]], Mapping):
                raise self.src.error("a temperature table needs exactly one of celsius = "
                                     '{"file" = 25, ...} or kelvin = {...}', key, i)
            offset = ZERO_CELSIUS_K if units[0] == "celsius" else 0.0
            table = {str(name): self._number(v, f"{key}.{units[0]}.{name}", i,
                                             positive=units[0] == "kelvin") + offset
                     for name, v in value[units[0]].items()}
            return TemperatureSource("table", table_K=table)
        return TemperatureSource(kind)

    def synthesis(self, value: Any, i: int, prefix: str) -> dict[str, float | str | bool]:
        key = prefix + "synthesis"
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.src.error("synthesis must be a table ([samples.synthesis])", key, i)
        out: dict[str, float | str | bool] = {}
        for name, v in value.items():
            if name in RESERVED_SYNTHESIS_KEYS:
                raise self.src.error(f"synthesis key {name!r} is a column of the campaign "
                                     "summary; rename it (e.g. with its unit: "
                                     f"{name}_measured)", f"{key}.{name}", i, lookup=name)
            want = SYNTHESIS_KEYS.get(name)
            if want is float:
                out[name] = self._number(v, f"{key}.{name}", i, positive=False)
            elif want is str:
                out[name] = self._string(v, f"{key}.{name}", i)
            elif isinstance(v, bool | int | float | str):
                out[name] = float(v) if isinstance(v, int) and not isinstance(v, bool) else v
            else:
                raise self.src.error(f"synthesis value {name} must be a number, string or "
                                     f"boolean, got {v!r}", f"{key}.{name}", i)
        return out

    def files(self, value: Any, i: int, prefix: str) -> tuple[tuple[str, ...], tuple[Path, ...]]:
        key = prefix + "files"
        patterns = [value] if isinstance(value, str) else value
        if (not isinstance(patterns, list) or not patterns
                or not all(isinstance(p, str) and p for p in patterns)):
            raise self.src.error(f"files must be a glob or a list of globs, got {value!r}",
                                 key, i)
        found: dict[Path, None] = {}      # insertion-ordered set: linear in the files
        if self.resolve:
            for pattern in patterns:
                full = pattern if Path(pattern).is_absolute() else str(self.base_dir / pattern)
                matches = sorted(Path(m).resolve() for m in glob.glob(full, recursive=True)
                                 if Path(m).is_file())
                if not matches:
                    raise self.src.error(f"{pattern!r} matches no file (relative to "
                                         f"{self.base_dir})", key, i)
                found.update(dict.fromkeys(matches))
        return tuple(patterns), tuple(found)

    def sample(self, s: Any, i: int, defaults: FitDefaults,
               default_geometry: Mapping[str, float]) -> SampleConfig:
        if not isinstance(s, Mapping):
            raise ConfigError("each [[samples]] entry must be a table", self.path, None,
                              f"samples[{i}]")
        prefix = f"samples[{i}]."
        self._check_keys(s, SAMPLE_KEYS, f"[[samples]] #{i + 1}", i, prefix)
        if "name" not in s:
            raise self.src.error("missing name", prefix + "name", i, lookup="samples")
        name = self._string(s["name"], prefix + "name", i)
        problem = sample_name_problem(name)
        if problem is not None:
            shown = repr(name[:60]) + ("..." if len(name) > 60 else "")
            raise self.src.error(f"sample name {shown} {problem} (it names a group of the "
                                 "results file and its plot files)", prefix + "name", i)
        if "files" not in s:
            raise self.src.error("missing files (globs relative to the config file)",
                                 prefix + "files", i, lookup="name")
        patterns, paths = self.files(s["files"], i, prefix)
        temperature = self.temperature(s.get("temperature"), i, prefix)
        if self.resolve and temperature.kind in ("filename", "table"):
            for p in paths:
                try:
                    temperature.from_file(p)
                except ConfigError as exc:
                    raise self.src.error(f"sample {name!r}: {exc.reason}",
                                         prefix + "temperature", i) from None
        return SampleConfig(
            name=name, files=patterns, paths=paths, temperature=temperature,
            geometry=self.geometry(default_geometry, s, i, prefix),
            settings=self.settings(s, defaults, i, prefix),
            synthesis=self.synthesis(s.get("synthesis"), i, prefix),
        )

    def campaign(self) -> CampaignConfig:
        top = self.data
        self._check_keys(top, ("campaign", "defaults", "samples"), "the top level", None, "")
        camp = top.get("campaign", {})
        if not isinstance(camp, Mapping):
            raise self.src.error("campaign must be a table", "campaign")
        self._check_keys(camp, list(CAMPAIGN_KEYS), "[campaign]", "campaign", "campaign.")
        for key, typ in CAMPAIGN_KEYS.items():
            if key in camp and not isinstance(camp[key], typ):
                raise self.src.error(f"{key} must be a {typ.__name__}, got {camp[key]!r}",
                                     f"campaign.{key}", "campaign")
        name = camp.get("name") or (self.path.stem if self.path else "campaign")
        plot_format = camp.get("plot_format", "png")
        self._choice(plot_format, PLOT_FORMATS, "campaign.plot_format", "campaign")
        output = Path(camp.get("output", f"results/{name.replace(' ', '_')}.h5"))
        if not output.is_absolute():
            output = (self.base_dir / output).resolve()
        dtable = top.get("defaults", {})
        if not isinstance(dtable, Mapping):
            raise self.src.error("defaults must be a table", "defaults")
        self._check_keys(dtable, (*DEFAULT_KEYS, *GEOMETRY_KEYS), "[defaults]", "defaults",
                         "defaults.")
        defaults = self.settings(dtable, FitDefaults(), "defaults", "defaults.")
        default_geometry = self.geometry_values(dtable, "defaults", "defaults.")
        raw = top.get("samples")
        if not isinstance(raw, list) or not raw:
            raise ConfigError("no samples: add at least one [[samples]] table", self.path,
                              None, "samples")
        samples = tuple(self.sample(s, i, defaults, default_geometry)
                        for i, s in enumerate(raw))
        seen: dict[str, int] = {}
        owner: dict[Path, str] = {}
        for i, s in enumerate(samples):
            if s.name in seen:
                raise self.src.error(f"duplicate sample name {s.name!r} (also sample "
                                     f"#{seen[s.name] + 1})", f"samples[{i}].name", i)
            seen[s.name] = i
            for p in s.paths:
                if p in owner:
                    raise self.src.error(f"{p.name} is matched by samples {owner[p]!r} and "
                                         f"{s.name!r}; each file belongs to one sample",
                                         f"samples[{i}].files", i)
                owner[p] = s.name
        return CampaignConfig(name=str(name), path=self.path, base_dir=self.base_dir,
                              output=output, defaults=defaults, samples=samples,
                              description=str(camp.get("description", "")),
                              plots=bool(camp.get("plots", True)), plot_format=plot_format)


#: keys that give one measured quantity together: a sample giving one of a group replaces
#: that whole group of [defaults] (its diameter replaces a default area, and so on)
_GEOMETRY_GROUPS = (("thickness_mm", "thickness_stderr_mm"),
                    ("diameter_mm", "diameter_stderr_mm", "area_cm2", "area_stderr_cm2"),
                    ("cell_constant_per_cm", "cell_constant_stderr_per_cm"),
                    ("mass_mg",), ("theoretical_density_g_cm3",))


def merge_geometry(defaults: Mapping[str, float],
                   sample: Mapping[str, float]) -> dict[str, float]:
    """A sample's geometry keys over those of [defaults]: a group the sample gives (thickness,
    electrode size, cell constant) replaces the defaults' group, and a cell constant and a
    pellet's dimensions replace each other.

    Examples
    --------
    >>> merge_geometry({"diameter_mm": 10.0, "thickness_mm": 1.0}, {"thickness_mm": 0.8})
    {'diameter_mm': 10.0, 'thickness_mm': 0.8}
    >>> merge_geometry({"diameter_mm": 10.0}, {"cell_constant_per_cm": 1.0})
    {'cell_constant_per_cm': 1.0}
    """
    out = dict(defaults)
    pellet = _GEOMETRY_GROUPS[0] + _GEOMETRY_GROUPS[1]
    for group in _GEOMETRY_GROUPS:
        if any(k in sample for k in group):
            replaced = set(group)
            if group == _GEOMETRY_GROUPS[2]:
                replaced.update(pellet)
            elif set(group) <= set(pellet):
                replaced.update(_GEOMETRY_GROUPS[2])
            out = {k: v for k, v in out.items() if k not in replaced}
    out.update(sample)
    return out


def parse_config(text: str, *, path: str | Path | None = None,
                 base_dir: str | Path | None = None, resolve: bool = True) -> CampaignConfig:
    """Parse campaign TOML ``text``.

    Parameters
    ----------
    text : str
        TOML source.
    path : path, optional
        The file it came from (for error messages).
    base_dir : path, optional
        Folder that file globs and the output are relative to (default: ``path``'s folder,
        else the current directory).
    resolve : bool
        Resolve file globs now (a glob matching nothing is an error); False skips the
        file system (``paths`` stay empty).

    Raises
    ------
    ConfigError
        Naming the file, line and key.
    """
    p = None if path is None else Path(path)
    base = Path(base_dir) if base_dir is not None else (p.parent if p is not None else Path())
    return _Parser(text, p, base.resolve(), resolve).campaign()


def load_config(path: str | Path, *, resolve: bool = True) -> CampaignConfig:
    """Load a campaign config file (see the module docstring for the schema).

    Examples
    --------
    >>> cfg = load_config("configs/example.toml")          # doctest: +SKIP
    >>> cfg.samples[0].geometry.thickness_cm                # doctest: +SKIP
    0.082
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("config file not found", path) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError("config must be UTF-8 text (TOML)", path, line) from None
    return parse_config(text, path=path, resolve=resolve)
