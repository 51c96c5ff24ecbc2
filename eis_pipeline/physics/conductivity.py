"""From a fits dataset and pellet geometry to resistances, conductivities and capacitances.

:func:`conductivity` is a pure function ``fits -> Dataset(spectrum, component)``. Uncertainties
come from the fit covariance through the delta method (analytic gradients, correlations such
as R_b–R_gb included) and from the geometry, added in quadrature (PHYSICS.md section 5).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from eis_pipeline.exceptions import GeometryError
from eis_pipeline.physics.arcs import (
    RoleQuantities,
    SpectrumRoles,
    read_fit_arrays,
    role_quantities,
)
from eis_pipeline.physics.capacitance import delta_method_stderr
from eis_pipeline.physics.geometry import Geometry, conductivity_from_resistance, resolve_geometry
from eis_pipeline.physics.plausibility import TEMPERATURE_RANGE_K
from eis_pipeline.physics.roles import EPSILON_0_F_PER_CM, append_flag

__all__ = ["COMPONENTS", "conductivity"]

COMPONENTS = ("bulk", "grain_boundary", "total")

FloatArray = NDArray[np.float64]


def _total(bulk: RoleQuantities, gb: RoleQuantities) -> tuple[FloatArray, FloatArray,
                                                                NDArray[np.bool_]]:
    """R_total = R_b + R_gb, or R_b alone when the circuit has no grain-boundary arc (sec. 5)."""
    has_gb = gb.present
    r = bulk.resistance + np.where(has_gb, gb.resistance, 0.0)
    grad = bulk.resistance_gradient + np.where(has_gb[:, None], gb.resistance_gradient, 0.0)
    return r, grad, has_gb


def _relative(value: FloatArray, stderr: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(stderr / np.abs(value))


def _brick_layer(roles: SpectrumRoles, cov: FloatArray, geometry: Geometry) -> tuple[FloatArray,
                                                                             FloatArray]:
    """σ_gb,sp = (L/A)(1/R_gb)(C_b/C_gb) with its stderr (PHYSICS.md section 5)."""
    b, g = roles.bulk, roles.grain_boundary
    with np.errstate(divide="ignore", invalid="ignore"):
        value = geometry.cell_constant_per_cm / g.resistance * b.capacitance / g.capacitance
        log_grad = (-g.resistance_gradient / g.resistance[:, None]
                    + b.capacitance_gradient / b.capacitance[:, None]
                    - g.capacitance_gradient / g.capacitance[:, None])
    rel_fit = delta_method_stderr(log_grad, cov)
    rel_geo2 = geometry.relative_variance  # only L/A enters
    return value, np.abs(value) * np.sqrt(rel_fit**2 + rel_geo2)


def _implausible_temperatures(fits: xr.Dataset, n: int) -> NDArray[np.bool_]:
    """True where a spectrum's temperature is known and outside the plausible range."""
    if "temperature" not in fits.coords and "temperature" not in fits:
        return np.zeros(n, dtype=bool)
    kelvin = np.asarray(fits.variables["temperature"].values, dtype=float)
    low, high = TEMPERATURE_RANGE_K
    return np.asarray(np.isfinite(kelvin) & ((kelvin < low) | (kelvin > high)))


def conductivity(
    fits: xr.Dataset,
    *,
    thickness_cm: float | None = None,
    diameter_cm: float | None = None,
    area_cm2: float | None = None,
    cell_constant_per_cm: float | None = None,
    thickness_stderr_cm: float = 0.0,
    diameter_stderr_cm: float = 0.0,
    area_stderr_cm2: float = 0.0,
    cell_constant_stderr_per_cm: float = 0.0,
    mass_g: float | None = None,
    theoretical_density_g_cm3: float | None = None,
    geometry: Geometry | None = None,
) -> xr.Dataset:
    """Resistances, conductivities and capacitances of bulk, grain boundary and total.

    Parameters
    ----------
    fits : xarray.Dataset
        Output of ``fit_spectra`` (schema in docs/contracts.md). Never modified.
    thickness_cm, diameter_cm, area_cm2 : float, optional
        Pellet thickness L and electrode diameter d (``A = π d²/4``) or area A.
    cell_constant_per_cm : float, optional
        A conductivity cell's constant κ = L/A (cm⁻¹), instead of the pellet's dimensions:
        σ = κ / R. When no geometry is passed, it is read from ``fits.attrs``
        (``thickness_cm`` with ``diameter_cm``/``area_cm2``, or ``cell_constant_per_cm``).
    thickness_stderr_cm, diameter_stderr_cm, area_stderr_cm2, cell_constant_stderr_per_cm
        Standard errors of the geometry (a micrometer gives ±0.001 cm on L).
    mass_g, theoretical_density_g_cm3 : float, optional
        Pellet mass and crystallographic density, for the relative density.
    geometry : Geometry, optional
        All of the above as one value (:class:`eis_pipeline.physics.geometry.Geometry`,
        e.g. ``Geometry.from_mm(0.8, diameter_mm=10)``), instead of the separate arguments.

    Returns
    -------
    xarray.Dataset
        Dims ``(spectrum, component)``, component in ``bulk``, ``grain_boundary``, ``total``
        (attrs: the geometry used, ``thickness_cm``, ``area_cm2``, ``diameter_cm`` when
        given, ``cell_constant_per_cm``, each with ``_stderr``):
        ``resistance``, ``conductivity`` (each with ``_stderr``; ``conductivity_fit_stderr``
        leaves the geometry out, which is what an Arrhenius slope should be weighted with),
        ``capacitance`` (effective, with ``_stderr``), ``specific_capacitance`` (C·L/A),
        ``apex_frequency``, the role's ``resistance_element``/``capacitance_element``;
        per spectrum: ``relative_permittivity`` (bulk), ``grain_boundary_specific_conductivity``
        (brick layer), ``electrode_capacitance``, ``bulk_source``, ``role_flags``,
        ``role_ambiguous``, ``converged``, ``temperature_implausible`` (outside -150…1000 °C);
        ``relative_density`` when mass and density are given.
        Failed fits give NaN rows.

    Raises
    ------
    GeometryError
        Geometry missing or non-positive.
    CircuitError
        The fits' circuit or roles cannot be read.

    Examples
    --------
    >>> cond = conductivity(fits, thickness_cm=0.1, diameter_cm=1.0)   # doctest: +SKIP
    >>> cond.conductivity.sel(component="total")                        # doctest: +SKIP
    """
    separate = (thickness_cm, diameter_cm, area_cm2, cell_constant_per_cm, mass_g,
                theoretical_density_g_cm3)
    if geometry is not None and any(v is not None for v in separate):
        raise GeometryError("give the geometry either as geometry=Geometry(...) or as separate "
                            "arguments (thickness_cm=..., ...), not both")
    if geometry is None:
        geometry = resolve_geometry(fits.attrs, thickness_cm=thickness_cm,
                                    diameter_cm=diameter_cm, area_cm2=area_cm2,
                                    cell_constant_per_cm=cell_constant_per_cm,
                                    thickness_stderr_cm=thickness_stderr_cm,
                                    diameter_stderr_cm=diameter_stderr_cm,
                                    area_stderr_cm2=area_stderr_cm2,
                                    cell_constant_stderr_per_cm=cell_constant_stderr_per_cm)
        if (mass_g is None) != (theoretical_density_g_cm3 is None):
            raise GeometryError("relative density needs both mass_g and "
                                f"theoretical_density_g_cm3; got mass_g={mass_g!r}, "
                                f"theoretical_density_g_cm3={theoretical_density_g_cm3!r}")
        if mass_g is not None:
            if not geometry.is_pellet:
                raise GeometryError("relative density needs the pellet's thickness and area, "
                                    "not a cell constant")
            geometry = replace(geometry, mass_g=mass_g,
                               theoretical_density_g_cm3=theoretical_density_g_cm3)
    fa = read_fit_arrays(fits)
    cov = fa.covariance
    kappa = geometry.cell_constant_per_cm
    roles = role_quantities(fits, fa, kappa)
    bulk, gb = roles.bulk, roles.grain_boundary

    r_total, r_total_grad, has_gb = _total(bulk, gb)
    resistance = np.stack([bulk.resistance, gb.resistance, r_total], axis=1)
    r_grads = np.stack([bulk.resistance_gradient, gb.resistance_gradient, r_total_grad], axis=1)
    resistance_stderr = delta_method_stderr(r_grads, cov[:, None])

    # σ = κ/R = L/(R A) (section 5): relative errors of R and κ (L, A) add in quadrature.
    sigma = conductivity_from_resistance(resistance, kappa)
    rel_fit = _relative(resistance, resistance_stderr)
    sigma_fit_stderr = sigma * rel_fit
    sigma_stderr = sigma * np.sqrt(rel_fit**2 + geometry.relative_variance)

    nan = np.full(fa.values.shape[0], np.nan)
    capacitance = np.stack([bulk.capacitance, gb.capacitance, nan], axis=1)
    zero_grad = np.zeros_like(bulk.capacitance_gradient)
    c_grads = np.stack([bulk.capacitance_gradient, gb.capacitance_gradient, zero_grad], axis=1)
    capacitance_stderr = np.where(np.isfinite(capacitance),
                                  delta_method_stderr(c_grads, cov[:, None]), np.nan)
    apex = np.stack([bulk.apex_frequency, gb.apex_frequency, nan], axis=1)
    electrode_stderr = delta_method_stderr(roles.electrode.capacitance_gradient, cov)
    brick, brick_stderr = _brick_layer(roles, cov, geometry)

    empty = np.full(nan.shape, "", dtype="<U32")
    res_el = np.stack([bulk.resistance_element, gb.resistance_element,
                       np.where(has_gb, np.char.add(np.char.add(bulk.resistance_element, "+"),
                                                    gb.resistance_element),
                                bulk.resistance_element)], axis=1)
    cap_el = np.stack([bulk.capacitance_element, gb.capacitance_element, empty], axis=1)
    flags = roles.flags
    flags = append_flag(flags, ~has_gb & bulk.present, "no grain-boundary arc: total = bulk")
    flags = append_flag(flags, ~fa.ok, "fit failed (not converged or NaN): no values")
    bulk_source = np.where(roles.bulk_from_intercept, "high_frequency_intercept",
                           np.where(bulk.present, "arc", ""))

    n_spec = nan.shape[0]
    arc_stack = {name: (np.stack([getattr(a, name) for a in roles.arcs], axis=1) if roles.arcs
                        else np.empty((n_spec, 0)))
                 for name in ("resistance", "capacitance", "apex_frequency")}
    ds = _assemble(fits, geometry, roles, locals_={
        "resistance": resistance, "resistance_stderr": resistance_stderr, "conductivity": sigma,
        "conductivity_stderr": sigma_stderr, "conductivity_fit_stderr": sigma_fit_stderr,
        "capacitance": capacitance, "capacitance_stderr": capacitance_stderr,
        "specific_capacitance": capacitance * kappa, "apex_frequency": apex,
        "resistance_element": res_el, "capacitance_element": cap_el,
        "relative_permittivity": bulk.capacitance * kappa / EPSILON_0_F_PER_CM,
        "grain_boundary_specific_conductivity": brick,
        "grain_boundary_specific_conductivity_stderr": brick_stderr,
        "electrode_capacitance": roles.electrode.capacitance,
        "electrode_capacitance_stderr": electrode_stderr,
        "bulk_source": bulk_source, "role_flags": flags, "role_ambiguous": roles.ambiguous,
        "converged": fa.ok,
        "temperature_implausible": _implausible_temperatures(fits, n_spec),
        "arc_resistance": arc_stack["resistance"],
        "arc_capacitance": arc_stack["capacitance"],
        "arc_specific_capacitance": arc_stack["capacitance"] * kappa,
        "arc_relative_permittivity": arc_stack["capacitance"] * kappa / EPSILON_0_F_PER_CM,
        "arc_apex_frequency": arc_stack["apex_frequency"]})
    rho = geometry.relative_density
    if rho is not None:
        ds["relative_density"] = ((), rho, {"units": "1", "long_name": "m / (A L ρ_theoretical)"})
        ds["relative_density_stderr"] = ((), geometry.relative_density_stderr, {"units": "1"})
    return ds


_META: dict[str, tuple[str, str]] = {
    "resistance": ("ohm", "resistance (total = bulk + grain boundary)"),
    "resistance_stderr": ("ohm", "standard error from the fit covariance"),
    "conductivity": ("S/cm", "σ = L / (R A)"),
    "conductivity_stderr": ("S/cm", "standard error: fit covariance and geometry"),
    "conductivity_fit_stderr": ("S/cm", "standard error from the fit covariance only"),
    "capacitance": ("F", "effective capacitance (Hsu–Mansfeld)"),
    "capacitance_stderr": ("F", "standard error from the fit covariance"),
    "specific_capacitance": ("F/cm", "C · L / A, compared with the Irvine–Sinclair–West table"),
    "apex_frequency": ("Hz", "arc apex frequency (R Q)^(-1/n) / 2π"),
    "resistance_element": ("", "circuit element(s) giving the resistance"),
    "capacitance_element": ("", "circuit element giving the capacitance"),
    "relative_permittivity": ("1", "bulk relative permittivity C_b L / (ε0 A)"),
    "grain_boundary_specific_conductivity": ("S/cm", "brick layer: (L/A)(1/R_gb)(C_b/C_gb)"),
    "grain_boundary_specific_conductivity_stderr": ("S/cm", "standard error"),
    "electrode_capacitance": ("F", "electrode capacitance (Brug, or Hsu–Mansfeld for an arc)"),
    "electrode_capacitance_stderr": ("F", "standard error from the fit covariance"),
    "bulk_source": ("", "'arc' or 'high_frequency_intercept' (bulk above the measured range)"),
    "role_flags": ("", "doubts about the role assignment; empty when none"),
    "role_ambiguous": ("", "role assignment is ambiguous or implausible"),
    "converged": ("", "the fit converged (else every value is NaN)"),
    "temperature_implausible": ("", "temperature outside the plausible range "
                                    "(physics.plausibility.TEMPERATURE_RANGE_K)"),
    "arc_resistance": ("ohm", "resistance of each R‖CPE arc of the circuit"),
    "arc_capacitance": ("F", "effective capacitance of each arc (Hsu–Mansfeld)"),
    "arc_specific_capacitance": ("F/cm", "C · L / A of each arc: the role evidence"),
    "arc_relative_permittivity": ("1", "C L / (ε0 A) of each arc, as if it were bulk"),
    "arc_apex_frequency": ("Hz", "apex frequency of each arc"),
}


def _assemble(fits: xr.Dataset, geometry: Geometry, roles: SpectrumRoles,
              locals_: dict[str, NDArray[np.generic]]) -> xr.Dataset:
    coords: dict[str, object] = {"spectrum": fits["spectrum"].values,
                                 "component": list(COMPONENTS), "arc": roles.arc_labels}
    for name in ("source", "sweep", "temperature"):
        if name in fits.coords:
            var = fits.variables[name]   # (a DataArray per lookup costs more)
            coords[name] = ("spectrum", var.values, dict(var.attrs))
    if "temperature" in coords and isinstance(coords["temperature"], tuple):
        coords["temperature"][2].setdefault("units", "K")
    data = {}
    for name, values in locals_.items():
        dims = ("spectrum",) if np.ndim(values) == 1 else (
            ("spectrum", "arc") if name.startswith("arc_") else ("spectrum", "component"))
        units, long_name = _META[name]
        data[name] = (dims, values, {"units": units, "long_name": long_name}
                      if units else {"long_name": long_name})
    ds = xr.Dataset(data, coords=coords)
    if roles.bulk_from_intercept.any():
        note = ("bulk resistance is the high-frequency intercept (bulk arc above the measured "
                "range); it includes lead resistance and has no capacitance")
        for name in ("resistance", "conductivity"):
            ds[name].attrs["bulk_source"] = note
    ds.attrs.update(geometry.to_attrs())
    ds.attrs.pop("relative_density", None)   # a variable of its own
    ds.attrs.update({
        "circuit": str(fits.attrs.get("circuit", "")),
        "preset": str(fits.attrs.get("preset", "")),
        "role_source": roles.source,
        "bulk_from_intercept": int(roles.bulk_from_intercept.any()),
        "uncertainty": "delta method on the fit covariance; geometry added in quadrature",
    })
    return ds
