"""Option sets shared by several commands (``run``, ``run DIR``, ``init``, ``fit``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

#: (config key = option name with dashes, help text)
GEOMETRY_FLAGS = (
    ("thickness_mm", "Pellet thickness in mm (with --diameter-mm or --area-cm2)."),
    ("diameter_mm", "Electrode diameter in mm (the area is π d²/4)."),
    ("area_cm2", "Electrode area in cm², instead of the diameter."),
    ("cell_constant_per_cm", "Cell constant L/A in cm⁻¹ of a conductivity cell, instead of "
                             "the pellet's dimensions (σ = κ / R)."),
)


def check_geometry_flags(given: dict[str, float]) -> dict[str, float]:
    """``given`` (config keys) when it is a whole geometry or empty, else a usage error."""
    if not given:
        return given
    if "cell_constant_per_cm" in given:
        if len(given) > 1:
            raise click.UsageError("--cell-constant-per-cm replaces the pellet's dimensions; "
                                   "give it alone")
        return given
    if "thickness_mm" not in given:
        raise click.UsageError("--diameter-mm/--area-cm2 need --thickness-mm")
    if ("diameter_mm" in given) == ("area_cm2" in given):
        raise click.UsageError("--thickness-mm needs exactly one of --diameter-mm and "
                               "--area-cm2")
    return given


def geometry_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--thickness-mm``, ``--diameter-mm``, ``--area-cm2``, ``--cell-constant-per-cm``,
    handed to the command as one argument ``geometry``: a dict of config keys (the names
    of a config, samples.csv and :meth:`Geometry.from_mm`), empty when none was given,
    checked to be a whole geometry."""
    @functools.wraps(command)
    def with_geometry(*args: Any, **kwargs: Any) -> Any:
        given = {key: kwargs.pop(key) for key, _ in GEOMETRY_FLAGS}
        kwargs["geometry"] = check_geometry_flags({k: v for k, v in given.items()
                                                   if v is not None})
        return command(*args, **kwargs)

    for key, text in reversed(GEOMETRY_FLAGS):
        with_geometry = click.option(
            "--" + key.replace("_", "-"), key, type=click.FloatRange(min=0, min_open=True),
            default=None, help=text)(with_geometry)
    return with_geometry
