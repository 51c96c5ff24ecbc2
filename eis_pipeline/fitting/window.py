"""The frequency window and point mask of a fit, applied to NaN-padded (spectrum, point) arrays.

Shared by :class:`eis_pipeline.fitting.model.CircuitModel` (one spectrum) and
:func:`eis_pipeline.fitting.batch.fit_spectra` (many), so both keep the same points.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from eis_pipeline.exceptions import FitError

__all__ = ["point_window"]


def point_window(frequency: NDArray[np.float64], impedance: NDArray[np.complex128],
                 lengths: NDArray[np.int64], f_min_hz: float | None, f_max_hz: float | None,
                 mask: Any = None) -> tuple[NDArray[np.float64], NDArray[np.complex128],
                                            NDArray[np.int64]]:
    """Keep the points inside ``[f_min_hz, f_max_hz]`` and where ``mask`` is True.

    ``frequency``/``impedance`` (S, N) are NaN-padded with ``lengths`` points per row;
    ``mask`` is None, one boolean array (N_i,) for every spectrum, or a sequence of such
    arrays, one per spectrum. The kept points are packed at the start of each row (their
    order kept), the rest NaN. Raises :class:`FitError` for a mask of the wrong length.
    """
    s, n = frequency.shape
    if f_min_hz is None and f_max_hz is None and mask is None:
        return frequency, impedance, lengths
    filled = np.arange(n)[None, :] < lengths[:, None]
    keep = filled.copy()
    with np.errstate(invalid="ignore"):
        if f_min_hz is not None:
            keep &= frequency >= float(f_min_hz)
        if f_max_hz is not None:
            keep &= frequency <= float(f_max_hz)
    if mask is not None:
        one = isinstance(mask, np.ndarray) and mask.ndim == 1 and mask.dtype == bool
        masks = [mask] * s if one else list(mask)
        if len(masks) != s:
            raise FitError(f"mask: {len(masks)} masks for {s} spectra; give one boolean "
                           "array per spectrum, or one for all")
        for i, m in enumerate(masks):   # copying flags, not fitting: cheap per spectrum
            if lengths[i] == 0:   # an unusable spectrum: nothing to mask
                continue
            m = np.asarray(m, dtype=bool)
            if m.shape != (int(lengths[i]),):
                raise FitError(f"mask for spectrum {i} has shape {m.shape}; expected one "
                               f"boolean per point ({int(lengths[i])},)")
            keep[i, :lengths[i]] &= m
    order = np.argsort(~keep, axis=1, kind="stable")   # kept points first, order kept
    f = np.take_along_axis(np.where(keep, frequency, np.nan), order, axis=1)
    z = np.take_along_axis(np.where(keep, impedance, np.nan + 0j), order, axis=1)
    return f, z, keep.sum(axis=1).astype(np.int64)
