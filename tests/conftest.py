"""Shared fixtures: a seeded random generator and the real exports in ../shared/formats/."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

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
