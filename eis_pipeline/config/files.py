"""A campaign of one sample made from a list of files, without a TOML file.

``eis-pipeline fit FILES`` is a quick campaign: the same stages and the same results writer
as ``eis-pipeline run``, over a config built here. Each file's temperature comes from the
file itself (an importer-provided value or a temperature column), and the geometry, when
not given, from the file headers that carry one (DESIGN.md section 7: one results layout).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eis_pipeline.config.schema import (
    CampaignConfig,
    FitDefaults,
    Geometry,
    SampleConfig,
    TemperatureSource,
)

__all__ = ["campaign_from_files", "geometry_from_headers"]


def campaign_from_files(paths: Sequence[str | Path], settings: FitDefaults, *,
                        geometry: Geometry | None = None, name: str = "fit",
                        output: str | Path = "fit.h5") -> CampaignConfig:
    """One sample called ``name`` holding ``paths`` (in the order given, duplicates once).

    ``geometry`` None takes it from the files' headers when they all give the same one
    (:func:`eis_pipeline.pipeline.analyse_sample`), else leaves conductivity out.
    """
    resolved = tuple(dict.fromkeys(Path(p).resolve() for p in paths))
    sample = SampleConfig(name=name, files=tuple(str(p) for p in paths), paths=resolved,
                          temperature=TemperatureSource("metadata", required=False),
                          geometry=geometry,
                          settings=settings)
    return CampaignConfig(name=name, path=None, base_dir=Path.cwd(),
                          output=Path(output).resolve(), defaults=settings, samples=(sample,),
                          description=f"eis-pipeline fit of {len(resolved)} file(s)",
                          plots=False)


def geometry_from_headers(headers: Sequence[Mapping[str, Any]]) -> Geometry | None:
    """The pellet geometry the files' headers give (``thickness_cm`` with ``diameter_cm`` or
    ``area_cm2`` attributes, e.g. Novocontrol exports) when every header gives the same one;
    None when any lacks it or they disagree."""
    found = {(h.get("thickness_cm"), h.get("diameter_cm"), h.get("area_cm2")) for h in headers}
    if len(found) != 1:
        return None
    thickness_cm, diameter_cm, area_cm2 = found.pop()
    if thickness_cm is None:
        return None
    if diameter_cm is not None:
        return Geometry.from_mm(10.0 * float(thickness_cm), diameter_mm=10.0 * float(diameter_cm))
    if area_cm2 is not None:
        return Geometry.from_mm(10.0 * float(thickness_cm), area_cm2=float(area_cm2))
    return None
