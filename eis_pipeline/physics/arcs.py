"""Read a fits dataset into per-role resistances and capacitances with their gradients.

The physics never needs the raw parameter table again after this module: it gets, for each
role (bulk, grain boundary, electrode), the resistance and effective capacitance per spectrum
together with their gradients with respect to *all* fitted parameters, so any derived quantity
(total resistance, brick-layer conductivity...) gets its uncertainty from the full covariance,
correlations included (delta method, see :mod:`eis_pipeline.physics.capacitance`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from eis_pipeline.circuits.roles import Roles
from eis_pipeline.exceptions import CircuitError
from eis_pipeline.physics.capacitance import apex_frequency, effective_capacitance
from eis_pipeline.physics.roles import (
    Arc,
    CircuitLayout,
    assign_roles_by_capacitance,
    check_declared_roles,
    parse_layout,
)
from eis_pipeline.vocabulary import RoleSource

__all__ = ["FitArrays", "RoleQuantities", "read_fit_arrays", "role_quantities"]

FloatArray = NDArray[np.float64]


@dataclass
class FitArrays:
    """Parameter values (S, P) and covariance (S, P, P); failed fits are all-NaN rows."""

    names: tuple[str, ...]
    values: FloatArray
    covariance: FloatArray
    ok: NDArray[np.bool_]

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise CircuitError(
                f"the fits dataset has no parameter {name!r} (named by the circuit or its "
                f"roles); parameters are {list(self.names)}") from None

    def column(self, name: str) -> FloatArray:
        return self.values[:, self.index(name)]

    def unit_gradient(self, name: str) -> FloatArray:
        g = np.zeros(self.values.shape)
        g[:, self.index(name)] = 1.0
        return g


def read_fit_arrays(fits: xr.Dataset) -> FitArrays:
    """Copy values and covariance out of ``fits``; fixed parameters get zero covariance.

    A spectrum whose fit did not converge, or has a NaN value, gets NaN everywhere so that
    everything derived from it is NaN (never an exception).
    """
    missing = [v for v in ("value", "covariance") if v not in fits]
    if missing:
        raise CircuitError(f"not a fits dataset (docs/contracts.md): missing {missing}")
    names = tuple(str(p) for p in fits["param"].values)
    # transposed as Variables (a DataArray's transpose rebuilds its coordinates)
    values = np.array(fits.variables["value"].transpose("spectrum", "param").values,
                      dtype=np.float64)
    cov = np.array(fits.variables["covariance"].transpose("spectrum", "param", "param_j").values,
                   dtype=np.float64)
    if "fixed" in fits:
        fixed = np.asarray(fits.variables["fixed"].values, dtype=bool)
        cov[:, fixed, :] = 0.0
        cov[:, :, fixed] = 0.0
    ok = np.all(np.isfinite(values), axis=1)
    if "converged" in fits:
        ok &= np.asarray(fits.variables["converged"].values, dtype=bool)
    values[~ok] = np.nan
    cov[~ok] = np.nan
    return FitArrays(names, values, cov, ok)


@dataclass
class RoleQuantities:
    """One role's resistance and effective capacitance per spectrum, with gradients (S, P)."""

    resistance: FloatArray
    resistance_gradient: FloatArray
    capacitance: FloatArray
    capacitance_gradient: FloatArray
    apex_frequency: FloatArray
    resistance_element: NDArray[np.str_]
    capacitance_element: NDArray[np.str_]

    @classmethod
    def missing(cls, n_spectra: int, n_params: int) -> RoleQuantities:
        nan = np.full(n_spectra, np.nan)
        zeros = np.zeros((n_spectra, n_params))
        empty = np.full(n_spectra, "", dtype="<U32")
        return cls(nan, zeros, nan.copy(), zeros.copy(), nan.copy(), empty, empty.copy())

    @property
    def present(self) -> NDArray[np.bool_]:
        """The role exists in the circuit for this spectrum (may still be NaN from a failed fit)."""
        return np.char.str_len(self.resistance_element) > 0


def _capacitive(fa: FitArrays, element: str, kind: str,
                resistance: FloatArray, r_gradient: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Effective capacitance of ``element`` seen through ``resistance`` (Hsu–Mansfeld/Brug)."""
    if kind == "capacitor":
        return fa.column(element), fa.unit_gradient(element)
    q_name, n_name = f"{element}_0", f"{element}_1"
    c = effective_capacitance(resistance, fa.column(q_name), fa.column(n_name))
    with np.errstate(invalid="ignore"):   # an undetermined parameter: NaN gradient, said so
        grad = (c.d_resistance[:, None] * r_gradient
                + c.d_q[:, None] * fa.unit_gradient(q_name)
                + c.d_n[:, None] * fa.unit_gradient(n_name))
    return c.value, grad


def _arc(fa: FitArrays, arc: Arc) -> RoleQuantities:
    r = fa.column(arc.resistance)
    rg = fa.unit_gradient(arc.resistance)
    c, cg = _capacitive(fa, arc.capacitive, arc.kind, r, rg)
    if arc.kind == "capacitor":
        f = apex_frequency(r, c, np.ones_like(c))
    else:
        f = apex_frequency(r, fa.column(f"{arc.capacitive}_0"), fa.column(f"{arc.capacitive}_1"))
    n = r.shape[0]
    return RoleQuantities(r, rg, c, cg, f, np.full(n, arc.resistance, dtype="<U32"),
                          np.full(n, arc.capacitive, dtype="<U32"))


def _series_electrode(fa: FitArrays, layout: CircuitLayout, element: str,
                      kind: str) -> RoleQuantities:
    """Blocking-electrode CPE in series with the sample: Brug with R_s = Σ R (section 3)."""
    n_spec, n_par = fa.values.shape
    r_s = np.zeros(n_spec)
    r_s_grad = np.zeros((n_spec, n_par))
    for name in layout.resistances:
        r_s = r_s + fa.column(name)
        r_s_grad = r_s_grad + fa.unit_gradient(name)
    c, cg = _capacitive(fa, element, kind, r_s, r_s_grad)
    out = RoleQuantities.missing(n_spec, n_par)
    out.capacitance, out.capacitance_gradient = c, cg
    out.capacitance_element = np.full(n_spec, element, dtype="<U32")
    return out


def _select(arcs: list[RoleQuantities], index: NDArray[np.int64],
            n_params: int) -> RoleQuantities:
    """Per-spectrum pick ``arcs[index[s]]`` (index -1 -> missing)."""
    out = RoleQuantities.missing(index.shape[0], n_params)
    for k, arc in enumerate(arcs):  # loop over arcs (a handful), not over spectra
        m = index == k
        for name in ("resistance", "capacitance", "apex_frequency",
                     "resistance_element", "capacitance_element"):
            getattr(out, name)[m] = getattr(arc, name)[m]
        out.resistance_gradient[m] = arc.resistance_gradient[m]
        out.capacitance_gradient[m] = arc.capacitance_gradient[m]
    return out


@dataclass
class SpectrumRoles:
    """Resolved roles for every spectrum, plus the evidence and flags."""

    bulk: RoleQuantities
    grain_boundary: RoleQuantities
    electrode: RoleQuantities
    bulk_from_intercept: NDArray[np.bool_]
    flags: NDArray[np.str_]
    ambiguous: NDArray[np.bool_]
    source: RoleSource
    arcs: list[RoleQuantities]  # every R‖CPE / R‖C arc of the circuit: the evidence
    arc_labels: list[str]


def _labels(layout: CircuitLayout) -> list[str]:
    return [f"p({a.resistance},{a.capacitive})" for a in layout.arcs]  # ASCII, circuit notation


def _declared(fa: FitArrays, layout: CircuitLayout, declared: Roles, source: RoleSource,
              cell_constant: float, from_intercept: bool) -> SpectrumRoles:
    n_spec, n_par = fa.values.shape
    arcs = [_arc(fa, a) for a in layout.arcs]
    resolved: dict[str, RoleQuantities] = {}
    for role in ("bulk", "grain_boundary", "electrode"):
        elements = declared.get(role)
        if not elements:
            resolved[role] = RoleQuantities.missing(n_spec, n_par)
            continue
        named = list(elements.values())
        k = next((layout.find_arc(e) for e in named if layout.find_arc(e) >= 0), -1)
        if k >= 0:
            resolved[role] = arcs[k]
        elif "resistance" in elements:  # a series resistance: the high-frequency intercept
            r = RoleQuantities.missing(n_spec, n_par)
            r.resistance = fa.column(elements["resistance"])
            r.resistance_gradient = fa.unit_gradient(elements["resistance"])
            r.resistance_element = np.full(n_spec, elements["resistance"], dtype="<U32")
            resolved[role] = r
        else:
            kind = "cpe" if "cpe" in elements else "capacitor"
            if kind not in elements:
                raise CircuitError(f"roles: {role} names {elements}; expected a 'resistance', "
                                   "'cpe' or 'capacitor' element")
            resolved[role] = _series_electrode(fa, layout, elements[kind], kind)
    specific = {role: q.capacitance * cell_constant for role, q in resolved.items()
                if np.char.str_len(q.capacitance_element).any()}
    flags, bad = check_declared_roles(specific, n_spec)
    return SpectrumRoles(resolved["bulk"], resolved["grain_boundary"], resolved["electrode"],
                 np.full(n_spec, from_intercept), flags, bad, source, arcs,
                 _labels(layout))


def _by_capacitance(fa: FitArrays, layout: CircuitLayout, cell_constant: float) -> SpectrumRoles:
    n_spec, n_par = fa.values.shape
    arcs = [_arc(fa, a) for a in layout.arcs]
    specific = (np.stack([a.capacitance for a in arcs], axis=1) * cell_constant if arcs
                else np.empty((n_spec, 0)))
    has_series = bool(layout.series_capacitive)
    assigned = assign_roles_by_capacitance(specific, has_series_electrode=has_series)
    bulk = _select(arcs, assigned.bulk, n_par)
    gb = _select(arcs, assigned.grain_boundary, n_par)
    if has_series:
        element, kind = layout.series_capacitive[0]
        electrode = _series_electrode(fa, layout, element, kind)
    else:
        electrode = _select(arcs, assigned.electrode_arc, n_par)
    flags = assigned.flags
    # No bulk arc but one series resistance: that is the high-frequency intercept (bulk above
    # the measured range), used as the bulk resistance and marked as such.
    intercept = (assigned.bulk < 0) & fa.ok
    if len(layout.series_resistances) == 1 and intercept.any():
        name = layout.series_resistances[0]
        bulk.resistance = np.where(intercept, fa.column(name), bulk.resistance)
        bulk.resistance_gradient = np.where(intercept[:, None], fa.unit_gradient(name),
                                            bulk.resistance_gradient)
        bulk.resistance_element = np.where(intercept, name, bulk.resistance_element)
    else:
        intercept = np.zeros(n_spec, dtype=bool)
    return SpectrumRoles(bulk, gb, electrode, intercept, flags, assigned.ambiguous,
                         "capacitance", arcs, _labels(layout))


def role_quantities(fits: xr.Dataset, fa: FitArrays, cell_constant_per_cm: float) -> SpectrumRoles:
    """Resolve roles for every spectrum: the fits dataset's recorded roles (a preset's
    declared ones, or for a custom circuit those the fitter read from its structure), else
    from the capacitances."""
    circuit = str(fits.attrs.get("circuit", ""))
    if not circuit:
        raise CircuitError("the fits dataset has no 'circuit' attribute (docs/contracts.md)")
    layout = parse_layout(circuit)
    declared = Roles.of(fits)
    if declared:
        # fit_spectra records roles with the preset's name, or without one when it read them
        # from a custom circuit's structure (fitting.model.resolve_circuit)
        source: RoleSource = "declared" if fits.attrs.get("preset") else "structure"
        return _declared(fa, layout, declared, source, cell_constant_per_cm,
                         bool(int(fits.attrs.get("bulk_from_intercept", 0))))
    return _by_capacitance(fa, layout, cell_constant_per_cm)
