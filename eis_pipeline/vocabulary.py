"""The shared vocabulary: every named choice of the tool, defined once.

Config validation, the fitting and physics API and the CLI's ``click.Choice`` options all
take their names from here, so a choice is spelled (and ordered) the same everywhere. Each
choice is a ``Literal`` type for annotations plus the tuple of its values (``typing.get_args``
of the type, so the two cannot drift apart).
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "ARRHENIUS_BREAKPOINTS",
    "ARRHENIUS_FORMS",
    "AUTO_CIRCUIT",
    "PLOT_FORMATS",
    "ROLE_SOURCES",
    "TEMPERATURE_LAWS",
    "TEMPERATURE_SOURCES",
    "WEIGHTINGS",
    "ArrheniusBreakpoints",
    "ArrheniusForm",
    "PlotFormat",
    "RoleSource",
    "TemperatureLaw",
    "TemperatureSourceKind",
    "Weighting",
    "is_auto_circuit",
]

#: Residual weighting of a least-squares fit (PHYSICS.md section 3): ``"modulus"`` divides by
#: |Z| (the default: every decade counts alike), ``"proportional"`` by the real and imaginary
#: parts separately, ``"unit"`` weighs nothing.
Weighting = Literal["modulus", "proportional", "unit"]
WEIGHTINGS: tuple[Weighting, ...] = get_args(Weighting)

#: Arrhenius forms (PHYSICS.md section 6): ``"sigma_T"`` fits ln(σT), ``"sigma"`` fits ln σ.
ArrheniusForm = Literal["sigma_T", "sigma"]
ARRHENIUS_FORMS: tuple[ArrheniusForm, ...] = get_args(ArrheniusForm)
#: The campaign's ``arrhenius_form``: an Arrhenius form, or the Vogel-Tammann-Fulcher law of
#: glassy and polymer electrolytes (docs/series.md; the per-spectrum route only).
TemperatureLaw = Literal["sigma_T", "sigma", "vtf"]
TEMPERATURE_LAWS: tuple[TemperatureLaw, ...] = get_args(TemperatureLaw)

#: Phase transitions in an Arrhenius fit: 0 one line, 1 two segments, "auto" two segments
#: only when an information criterion prefers them.
ArrheniusBreakpoints = Literal["auto", 0, 1]
ARRHENIUS_BREAKPOINTS: tuple[ArrheniusBreakpoints, ...] = get_args(ArrheniusBreakpoints)

#: Where a spectrum's temperature comes from (docs/config.md).
TemperatureSourceKind = Literal["filename", "column", "table", "metadata"]
TEMPERATURE_SOURCES: tuple[TemperatureSourceKind, ...] = get_args(TemperatureSourceKind)

#: Figure file formats.
PlotFormat = Literal["png", "pdf", "svg"]
PLOT_FORMATS: tuple[PlotFormat, ...] = get_args(PlotFormat)

#: Where the physics stage's arc roles came from (the ``role_source`` attribute of the
#: conductivity dataset): ``"declared"`` by a preset, ``"structure"`` read from a custom
#: circuit's structure by the fitter (eis_pipeline.fitting.structure.circuit_roles: one arc,
#: or R‖CPE arcs in time-constant order), ``"capacitance"`` assigned per spectrum from the
#: fitted capacitances (PHYSICS.md section 4) when neither names the arcs.
RoleSource = Literal["declared", "structure", "capacitance"]
ROLE_SOURCES: tuple[RoleSource, ...] = get_args(RoleSource)

#: The circuit name that chooses a preset per spectrum by information criterion
#: (eis_pipeline.fitting.selection) instead of fitting one circuit.
AUTO_CIRCUIT = "auto"


def is_auto_circuit(circuit: object) -> bool:
    """True when ``circuit`` asks for per-spectrum selection (``"auto"``, any case/spaces)."""
    return isinstance(circuit, str) and circuit.strip().lower() == AUTO_CIRCUIT
