"""Build fits datasets (docs/contracts.md schema) from true parameters and a covariance.

The physics is tested without the fitter: these datasets carry exactly the parameters and
covariance a test chooses, so every expected number is known in closed form.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

BULK_GB_ELECTRODE = "p(R1,CPE1)-p(R2,CPE2)-CPE3"
BULK_GB_ELECTRODE_ROLES = {"bulk": {"resistance": "R1", "cpe": "CPE1"},
                           "grain_boundary": {"resistance": "R2", "cpe": "CPE2"},
                           "electrode": {"cpe": "CPE3"}}
INTERCEPT_GB_ELECTRODE = "L0-R1-p(R2,CPE2)-CPE3"
INTERCEPT_ROLES = {"bulk": {"resistance": "R1"},
                   "grain_boundary": {"resistance": "R2", "cpe": "CPE2"},
                   "electrode": {"cpe": "CPE3"}, "inductance": {"inductor": "L0"}}


def make_fits(
    circuit: str,
    values: Mapping[str, Sequence[float] | float],
    *,
    stderr: Mapping[str, Sequence[float] | float] | None = None,
    correlation: np.ndarray | None = None,
    covariance: np.ndarray | None = None,
    roles: Mapping[str, Any] | None = None,
    preset: str = "",
    bulk_from_intercept: bool = False,
    temperature: Sequence[float] | None = None,
    converged: Sequence[bool] | None = None,
    fixed: Sequence[str] = (),
    attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """A fits dataset with ``values[name]`` per spectrum and a chosen covariance.

    ``covariance`` (S, P, P) or (P, P) wins; otherwise it is built from ``stderr`` and an
    optional ``correlation`` matrix (P, P), parameters in the order of ``values``.
    """
    names = list(values)
    cols = [np.atleast_1d(np.asarray(values[n], dtype=float)) for n in names]
    n_spec = max(c.size for c in cols)
    value = np.stack([np.broadcast_to(c, (n_spec,)) for c in cols], axis=1)
    n_par = len(names)
    if covariance is None:
        sd = np.zeros((n_spec, n_par))
        for j, name in enumerate(names):
            if stderr and name in stderr:
                sd[:, j] = np.broadcast_to(np.asarray(stderr[name], dtype=float), (n_spec,))
        corr = np.eye(n_par) if correlation is None else np.asarray(correlation, dtype=float)
        cov = sd[:, :, None] * sd[:, None, :] * corr
    else:
        cov = np.broadcast_to(np.asarray(covariance, dtype=float), (n_spec, n_par, n_par)).copy()
    sd = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr_out = cov / (sd[:, :, None] * sd[:, None, :])
    conv = np.ones(n_spec, bool) if converged is None else np.asarray(converged, bool)
    temp = np.full(n_spec, np.nan) if temperature is None else np.asarray(temperature, float)
    ds = xr.Dataset(
        {
            "param_units": ("param", ["" for _ in names]),
            "value": (("spectrum", "param"), value),
            "stderr": (("spectrum", "param"), sd),
            "covariance": (("spectrum", "param", "param_j"), cov),
            "correlation": (("spectrum", "param", "param_j"), corr_out),
            "fixed": ("param", [n in fixed for n in names]),
            "status": ("spectrum", np.where(conv, 0, 2)),
            "converged": ("spectrum", conv),
            "message": ("spectrum", ["ok" if c else "iteration limit" for c in conv]),
        },
        coords={
            "spectrum": np.arange(n_spec),
            "param": names,
            "param_j": names,
            "source": ("spectrum", [f"synthetic_{i}.txt" for i in range(n_spec)]),
            "sweep": ("spectrum", np.zeros(n_spec, int)),
            "temperature": ("spectrum", temp, {"units": "K"}),
        },
        attrs={"circuit": circuit, "preset": preset,
               "roles": json.dumps(dict(roles or {})),
               "bulk_from_intercept": int(bulk_from_intercept), "weighting": "modulus"},
    )
    if attrs:
        ds.attrs.update(attrs)
    return ds
