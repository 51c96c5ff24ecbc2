"""Quick campaigns: config objects built in code, without a TOML file.

``eis-pipeline fit FILES`` (one sample of loose files) and ``eis-pipeline run DIR`` (the
samples :mod:`eis_pipeline.folder` infers from folders) are campaigns like a config run:
the same stages and the same results writer as ``eis-pipeline run CONFIG`` (DESIGN.md
section 7: one results layout). Both are built by :func:`quick_campaign` from
:class:`QuickSample` values; ``eis-pipeline init DIR`` writes the same objects as TOML
(:meth:`eis_pipeline.folder.FolderPlan.to_toml`), which parses back into them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eis_pipeline.config.schema import (
    CampaignConfig,
    FitDefaults,
    Geometry,
    SampleConfig,
    TemperatureSource,
)

__all__ = ["QuickSample", "campaign_from_files", "quick_campaign"]

#: a temperature each file may carry (importer attribute), none required
FROM_THE_FILES = TemperatureSource("metadata", required=False)


@dataclass(frozen=True)
class QuickSample:
    """One sample of a quick campaign.

    ``temperature`` and ``geometry`` are optional: the default takes each file's own
    temperature when it has one (none required: no Arrhenius fit without), and the geometry
    from the file headers when they agree (none required: no conductivity without). A folder
    run gives both and requires them (``geometry_required``, ``temperature.required``).
    """

    name: str
    paths: Sequence[str | Path]
    temperature: TemperatureSource = FROM_THE_FILES
    geometry: Geometry | None = None
    #: where the geometry came from, recorded with the results
    geometry_source: str = "file header"
    geometry_required: bool = False
    synthesis: Mapping[str, float | str | bool] = field(default_factory=dict)


def quick_campaign(samples: Sequence[QuickSample], settings: FitDefaults, *, name: str,
                   output: str | Path, base_dir: str | Path | None = None,
                   description: str = "", plots: bool = False) -> CampaignConfig:
    """The campaign of ``samples``, every sample analysed with ``settings``; each sample's
    files in the order given, a file given twice once. ``output`` and relative paths are
    taken relative to ``base_dir`` (default: the current directory)."""
    base = Path(base_dir or Path.cwd()).resolve()
    configs = []
    for s in samples:
        paths = tuple(dict.fromkeys((base / p).resolve() for p in s.paths))
        configs.append(SampleConfig(
            name=s.name, files=tuple(str(p) for p in s.paths), paths=paths,
            temperature=s.temperature, geometry=s.geometry, settings=settings,
            synthesis=dict(s.synthesis), geometry_source=s.geometry_source,
            geometry_required=s.geometry_required))
    return CampaignConfig(name=name, path=None, base_dir=base,
                          output=(base / output).resolve(), defaults=settings,
                          samples=tuple(configs), description=description, plots=plots)


def campaign_from_files(paths: Sequence[str | Path], settings: FitDefaults, *,
                        geometry: Geometry | None = None, name: str = "fit",
                        output: str | Path = "fit.h5") -> CampaignConfig:
    """One sample called ``name`` holding ``paths`` (``eis-pipeline fit``).

    ``geometry`` None takes it from the files' headers when they all give the same one
    (:func:`eis_pipeline.pipeline.analyse_sample`), else leaves conductivity out (not a
    failure: a quick fit needs no geometry).
    """
    sample = QuickSample(name, paths, geometry=geometry,
                         geometry_source="command line" if geometry else "file header")
    return quick_campaign([sample], settings, name=name, output=output,
                          description=f"eis-pipeline fit of {len(set(map(str, paths)))} "
                          "file(s)")
