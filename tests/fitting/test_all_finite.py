"""The solver's bitwise finiteness test agrees with np.isfinite, compiled and pure."""

from __future__ import annotations

import numpy as np
import pytest

from eis_pipeline import _jit
from eis_pipeline.fitting import compiled_lm


def _kernel_modules() -> list[object]:
    mods: list[object] = [_jit.pure("eis_pipeline.fitting._lm_kernels")]
    if compiled_lm.ENABLED:
        mods.append(compiled_lm._kernels())
    return mods


@pytest.mark.parametrize("odd", [np.inf, -np.inf, np.nan, -np.nan, 1.7e308, -0.0, 5e-324,
                                 -2.2e-308, 0.0])
def test_all_finite_matches_isfinite(odd: float) -> None:
    a = np.random.default_rng(0).standard_normal((138, 9))
    a[70, 4] = odd
    for mod in _kernel_modules():
        assert bool(mod._all_finite(a)) == bool(np.isfinite(a).all())   # type: ignore[attr-defined]
        assert bool(mod._all_finite(a[:1].copy() * 0 + 1.0))   # type: ignore[attr-defined]
