"""A campaign of one sample made from a list of files, without a TOML file.

``eis-pipeline fit FILES`` is a quick campaign: the same stages and the same results writer
as ``eis-pipeline run``, over a config built here. Each file's temperature comes from the
file itself (an importer-provided value or a temperature column), and the geometry, when
not given, from the file headers that carry one (DESIGN.md section 7: one results layout).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from eis_pipeline.config.schema import (
    CampaignConfig,
    FitDefaults,
    Geometry,
    SampleConfig,
    TemperatureSource,
)

__all__ = ["campaign_from_files"]


def campaign_from_files(paths: Sequence[str | Path], settings: FitDefaults, *,
                        geometry: Geometry | None = None, name: str = "fit",
                        output: str | Path = "fit.h5") -> CampaignConfig:
    """One sample called ``name`` holding ``paths`` (in the order given, duplicates once).

    ``geometry`` None takes it from the files' headers when they all give the same one
    (:func:`eis_pipeline.pipeline.analyse_sample`), else leaves conductivity out (not a
    failure: a quick fit needs no geometry).
    """
    resolved = tuple(dict.fromkeys(Path(p).resolve() for p in paths))
    sample = SampleConfig(name=name, files=tuple(str(p) for p in paths), paths=resolved,
                          temperature=TemperatureSource("metadata", required=False),
                          geometry=geometry, settings=settings,
                          geometry_source="command line" if geometry else "file header",
                          geometry_required=False)
    return CampaignConfig(name=name, path=None, base_dir=Path.cwd(),
                          output=Path(output).resolve(), defaults=settings, samples=(sample,),
                          description=f"eis-pipeline fit of {len(resolved)} file(s)",
                          plots=False)
