"""Fixtures of the fitting tests."""

from __future__ import annotations

import pytest

from eis_pipeline.fitting import compiled_lm


@pytest.fixture(params=["compiled", "numpy"])
def both_solvers(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the numba-compiled paths (when numba is installed) and with numpy
    alone: a one-grid batch takes the compiled solver when it can, so without this the
    batched numpy solver would go untested wherever numba is installed."""
    if request.param == "compiled" and not compiled_lm.ENABLED:
        pytest.skip("numba is not installed")
    monkeypatch.setattr(compiled_lm, "ENABLED", request.param == "compiled")
    return str(request.param)
