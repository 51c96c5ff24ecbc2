"""The physical constants are defined once (eis_pipeline.conventions) and everyone uses them."""

from __future__ import annotations

import importlib

from eis_pipeline import conventions
from eis_pipeline.physics import roles
from eis_pipeline.report import figures
from eis_pipeline.testing import simulate

# physics/__init__ re-exports the *function* arrhenius under the module's name
arrhenius = importlib.import_module("eis_pipeline.physics.arrhenius")


def test_values_are_codata_2018_as_in_physics_md() -> None:
    # PHYSICS.md sections 4 and 6, CODATA 2018 (k_B exact, ε0 = 8.8541878128e-12 F/m).
    assert conventions.BOLTZMANN_EV_PER_K == 8.617333262e-5
    assert conventions.VACUUM_PERMITTIVITY_F_PER_CM == 8.8541878128e-14
    assert conventions.ROOM_TEMPERATURE_K == 298.15
    assert conventions.ZERO_CELSIUS_K == 273.15


def test_aliases_are_the_same_objects() -> None:
    assert arrhenius.BOLTZMANN_EV_PER_K is conventions.BOLTZMANN_EV_PER_K
    assert simulate.BOLTZMANN_EV_K is conventions.BOLTZMANN_EV_PER_K
    assert figures.BOLTZMANN_EV_K is conventions.BOLTZMANN_EV_PER_K
    assert roles.EPSILON_0_F_PER_CM is conventions.VACUUM_PERMITTIVITY_F_PER_CM
    assert simulate.VACUUM_PERMITTIVITY_F_CM is conventions.VACUUM_PERMITTIVITY_F_PER_CM
    assert arrhenius.ROOM_TEMPERATURE_K is simulate.ROOM_TEMPERATURE_K
