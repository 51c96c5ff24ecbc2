"""Campaign configuration: the schema (:mod:`.schema`, frozen dataclasses in the physics
API's units) and its TOML reader (:mod:`.toml`). The format is documented in docs/config.md
and in :mod:`eis_pipeline.config.schema`."""

from eis_pipeline.config.schema import (
    ARRHENIUS_BREAKPOINTS,
    ARRHENIUS_FORMS,
    AUTO_CIRCUIT,
    DEFAULT_CIRCUIT,
    PLOT_FORMATS,
    SYNTHESIS_KEYS,
    TEMPERATURE_SOURCES,
    WEIGHTINGS,
    CampaignConfig,
    FitDefaults,
    Geometry,
    SampleConfig,
    TemperatureSource,
)
from eis_pipeline.config.toml import load_config, parse_config

__all__ = [
    "ARRHENIUS_BREAKPOINTS",
    "ARRHENIUS_FORMS",
    "AUTO_CIRCUIT",
    "DEFAULT_CIRCUIT",
    "PLOT_FORMATS",
    "SYNTHESIS_KEYS",
    "TEMPERATURE_SOURCES",
    "WEIGHTINGS",
    "CampaignConfig",
    "FitDefaults",
    "Geometry",
    "SampleConfig",
    "TemperatureSource",
    "load_config",
    "parse_config",
]
