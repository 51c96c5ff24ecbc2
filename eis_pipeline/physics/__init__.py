"""From fitted arcs to physics: roles, capacitances, conductivity, Arrhenius, campaigns.

>>> from eis_pipeline.physics import arrhenius, conductivity   # doctest: +SKIP

Modules: :mod:`~eis_pipeline.physics.capacitance` (Hsu–Mansfeld/Brug, delta method),
:mod:`~eis_pipeline.physics.roles` (which arc is which), :mod:`~eis_pipeline.physics.arcs`
(fits dataset -> per-role quantities), :mod:`~eis_pipeline.physics.geometry`,
:mod:`~eis_pipeline.physics.conductivity`, :mod:`~eis_pipeline.physics.arrhenius`,
:mod:`~eis_pipeline.physics.campaign`. Formulas cite sections of PHYSICS.md.
"""

from __future__ import annotations

from eis_pipeline.physics.arrhenius import arrhenius, arrhenius_by_component
from eis_pipeline.physics.campaign import CampaignSample, campaign_trends, summarise_campaign
from eis_pipeline.physics.capacitance import apex_frequency, effective_capacitance
from eis_pipeline.physics.conductivity import conductivity

__all__ = [
    "CampaignSample",
    "apex_frequency",
    "arrhenius",
    "arrhenius_by_component",
    "campaign_trends",
    "conductivity",
    "effective_capacitance",
    "summarise_campaign",
]
