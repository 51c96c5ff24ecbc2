"""Shared fixtures: a seeded random generator and the real exports in ../shared/formats/."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

# Property tests draw the same examples on every run of `make test` (a CI gate must not fail
# at random); `make fuzz` explores new ones (HYPOTHESIS_PROFILE=explore).
settings.register_profile("default", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

SHARED_FORMATS = Path(__file__).resolve().parents[1].parent / "shared" / "formats"


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator: every random test is reproducible."""
    return np.random.default_rng(20261121)


@pytest.fixture(scope="session")
def shared_formats() -> Path:
    """``../shared/formats/``; tests using it skip when it is absent (fresh clone alone)."""
    if not SHARED_FORMATS.is_dir():
        pytest.skip(f"real instrument exports not found at {SHARED_FORMATS} "
                    "(they live beside the project, in ../shared/formats/)")
    return SHARED_FORMATS
