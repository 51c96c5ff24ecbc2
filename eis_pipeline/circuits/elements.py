"""The element table: parameters, units, kinds, bounds, and vectorised Z with analytic dZ/dp.

Every formula follows impedance.py 1.7 (``impedance/models/circuits/elements.py``) in
parameterisation, parameter order and branch, so a circuit string means the same thing in both
packages; PHYSICS.md section 2 lists the physics. Derivatives are written out by hand and
checked against finite differences in the tests.

Calling convention: parameters arrive as a sequence of ``(B, 1)`` arrays (one per parameter,
natural units), frequencies as a :class:`~eis_pipeline.circuits.grid.FrequencyGrid` of shape
``(F,)`` or ``(B, F)``. Results broadcast to ``(B, F)``; a derivative may be returned in any
shape that broadcasts to it (``dZ/dR = 1`` for a resistor is the scalar 1), or as a pair
``(base, coef)`` meaning ``base * coef``: several derivatives of one element often share a
full-size base (dZ/dQ = -Z/Q and dZ/dn = -Z ln(jω) share Z), and the evaluator then
multiplies the chain factor into the base once and writes ``scaled_base * coef`` straight
into the Jacobian (:func:`derivative` materialises either form).

An element may also give its admittance Y = 1/Z directly (``y`` and ``y_neg_grad``): a branch
of a parallel block is summed as an admittance, and for R, C, L and CPE the admittance is
cheaper and better conditioned than 1/Z. Admittance gradients are returned *negated*, -dY/dp:
the parallel rule dZ/dp = -Z² dY/dp then needs the factor +Z², and the minus sign, which would
cost a pass over every (batch, frequency) array, folds into each element's coefficients.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from eis_pipeline.circuits.grid import FrequencyGrid

__all__ = [
    "ELEMENTS",
    "ElementType",
    "ParamKind",
    "ParamSpec",
    "circuit_elements",
    "derivative",
]

Array = npt.NDArray[Any]
Params = Sequence[Array] | Array  # a (k, B, 1) array unpacks into k (B, 1) columns
Value = Callable[[Params, FrequencyGrid], Array]
Gradient = Callable[[Params, FrequencyGrid], tuple[Array, tuple[Any, ...]]]
ParamKind = Literal["positive", "exponent", "real"]

_HALF_PI_J = 0.5j * np.pi
_INF = float(np.inf)


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter of an element.

    ``kind`` tells the fitter how to treat it: ``"positive"`` is fitted in log space,
    ``"exponent"`` lies in (0, 1], ``"real"`` is unconstrained. ``lower``/``upper`` are the
    natural default bounds (open at 0 for positive parameters).
    """

    symbol: str
    unit: str
    kind: ParamKind
    description: str
    lower: float = 0.0
    upper: float = _INF


@dataclass(frozen=True, slots=True)
class ElementType:
    """An element kind: metadata and its vectorised impedance, admittance and gradients."""

    symbol: str
    description: str
    formula: str
    params: tuple[ParamSpec, ...]
    z: Value
    z_grad: Gradient
    y: Value | None = None
    y_neg_grad: Gradient | None = None
    frequency_dependent: bool = True

    @property
    def n_params(self) -> int:
        return len(self.params)

    def param_names(self, name: str) -> tuple[str, ...]:
        """impedance.py's parameter names for an element called ``name``: R1, CPE1_0, CPE1_1."""
        if self.n_params == 1:
            return (name,)
        return tuple(f"{name}_{i}" for i in range(self.n_params))

    def admittance(self, p: Params, g: FrequencyGrid) -> Array:
        """Y = 1/Z, from the element's own formula when it has one."""
        if self.y is not None:
            return self.y(p, g)
        return 1.0 / self.z(p, g)

    def admittance_neg_grad(self, p: Params,
                            g: FrequencyGrid) -> tuple[Array, tuple[Any, ...]]:
        """Y and -dY/dp (note the sign); by default from dZ/dp: -dY/dp = Y² dZ/dp."""
        if self.y_neg_grad is not None:
            return self.y_neg_grad(p, g)
        z, dz = self.z_grad(p, g)
        y = 1.0 / z
        y2 = y * y
        grads: list[Any] = []
        base: Any = None
        scaled: Any = None
        for d in dz:
            if type(d) is tuple:  # keep (base, coef) pairs, scaling each shared base once
                if d[0] is not base:
                    base = d[0]
                    scaled = y2 * base
                grads.append((scaled, d[1]))
            else:
                grads.append(y2 * d)
        return y, tuple(grads)


_OHM = "ohm"
_SECOND = "s"


def _positive(symbol: str, unit: str, description: str) -> ParamSpec:
    return ParamSpec(symbol, unit, "positive", description)


def _exponent(symbol: str, description: str) -> ParamSpec:
    return ParamSpec(symbol, "", "exponent", description, 0.0, 1.0)


# ------------------------------------------------------------------------------- R, C, L

def derivative(d: Any) -> Any:
    """A derivative as returned by an element, materialised (``base * coef`` for a pair)."""
    return d[0] * d[1] if type(d) is tuple else d


def _r_z(p: Params, g: FrequencyGrid) -> Array:
    return p[0] + 0j


def _r_z_grad(p: Params, g: FrequencyGrid) -> tuple[Array, tuple[Any, ...]]:
    return p[0] + 0j, (1.0,)


def _r_y(p: Params, g: FrequencyGrid) -> Array:
    return 1.0 / p[0]


def _r_y_neg_grad(p: Params, g: FrequencyGrid) -> tuple[Array, tuple[Any, ...]]:
    y = 1.0 / p[0]
    return y, (y * y,)


def _c_z(p: Params, g: FrequencyGrid) -> Array:
    return 1.0 / (g.jomega * p[0])


def _c_z_grad(p: Params, g: FrequencyGrid) -> tuple[Array, tuple[Any, ...]]:
    z = 1.0 / (g.jomega * p[0])
    return z, ((z, -1.0 / p[0]),)


def _c_y(p: Params, g: FrequencyGrid) -> Array:
    return g.jomega * p[0]


def _c_y_neg_grad(p: Params, g: FrequencyGrid) -> tuple[Array, tuple[Any, ...]]:
    return g.jomega * p[0], (g.neg_jomega,)


def _l_z(p: Params, g: FrequencyGrid) -> Array:
    return g.jomega * p[0]


def _l_z_grad(p: Params, g: FrequencyGrid) -> tuple[Array, tuple[Any, ...]]:
    return g.jomega * p[0], (g.jomega,)


def _l_y(p: Params, g: FrequencyGrid) -> Array:
    return 1.0 / (g.jomega * p[0])


def _l_y_neg_grad(p: Params, g: FrequencyGrid) -> tuple[Array, tuple[Any, ...]]:
    y = 1.0 / (g.jomega * p[0])
    return y, ((y, 1.0 / p[0]),)


# ------------------------------------------------------------------------------- CPE, La
# (jω)^n = ω^n e^{jπn/2}: one real exp per point plus one complex exp per spectrum.

def _omega_pow(n: Array, log_omega: Array) -> Array:
    """ω^n (or ω^-n with -ln ω), exponentiated in place to save an allocation."""
    out = n * log_omega
    return np.exp(out, out=out)


def _cpe_z(p: Params, g: FrequencyGrid) -> Array:
    q, n = p
    return _omega_pow(n, g.neg_log_omega) * (np.exp(-_HALF_PI_J * n) / q)


def _cpe_z_grad(p: Params, g: FrequencyGrid) -> tuple[Array, tuple[Any, ...]]:
    q, n = p
    z = _omega_pow(n, g.neg_log_omega) * (np.exp(-_HALF_PI_J * n) / q)
    return z, ((z, -1.0 / q), (z, g.neg_log_jomega))


def _cpe_y(p: Params, g: FrequencyGrid) -> Array:
    q, n = p
    return _omega_pow(n, g.log_omega) * (np.exp(_HALF_PI_J * n) * q)


def _cpe_y_neg_grad(p: Params, g: FrequencyGrid) -> tuple[Array, tuple[Any, ...]]:
    q, n = p
    y = _omega_pow(n, g.log_omega) * (np.exp(_HALF_PI_J * n) * q)
    return y, ((y, -1.0 / q), (y, g.neg_log_jomega))


def _la_z(p: Params, g: FrequencyGrid) -> Array:
    # impedance.py's La is (L jω)^α (its docstring says L (jω)^α; the code is what runs).
    l_, a = p
    return np.exp(a * (g.log_omega + np.log(l_))) * np.exp(_HALF_PI_J * a)


def _la_z_grad(p: Params, g: FrequencyGrid) -> tuple[Array, tuple[Any, ...]]:
    l_, a = p
    log_l = np.log(l_)
    z = np.exp(a * (g.log_omega + log_l)) * np.exp(_HALF_PI_J * a)
    return z, ((z, a / l_), (z, g.log_jomega + log_l))


# ------------------------------------------------------------------------------- Warburgs

# Taylor coefficients in x² of brackets that cancel at small |x| (x = √(jωτ) or b):
# sech²x - tanh(x)/x = -2x²/3 + 8x⁴/15 - 34x⁶/105;  coth(b)/b - csch²b = 2/3 - 4b²/45 + 4b⁴/315
_WS_SERIES = (0.0, -2.0 / 3.0, 8.0 / 15.0, -34.0 / 105.0)
_TLMQ_SERIES = (2.0 / 3.0, -4.0 / 45.0, 4.0 / 315.0)
_SERIES_BELOW = 1e-2  # |x| below which the series (truncation ~|x|^6) beats the closed form


def _small_x_series(x: Array, closed: Array, coefficients: tuple[float, ...]) -> Array:
    """``closed`` with the entries where |x| < 1e-2 replaced by the series in x²."""
    small = np.abs(x) < _SERIES_BELOW
    if not small.any():
        return closed
    x2 = x * x
    series = np.zeros_like(x2)
    for c in reversed(coefficients):
        series = series * x2 + c
    return np.where(small, series, closed)


def _w_z(p: Params, g: FrequencyGrid) -> Array:
    return g.warburg * p[0]


def _w_z_grad(p: Params, g: FrequencyGrid) -> tuple[Array, tuple[Any, ...]]:
    return g.warburg * p[0], (g.warburg,)


def _wo_z(p: Params, g: FrequencyGrid) -> Array:
    r, tau = p
    x = g.sqrt_jomega * np.sqrt(tau)
    return r / (x * np.tanh(x))


def _wo_z_grad(p: Params, g: FrequencyGrid) -> tuple[Array, tuple[Any, ...]]:
    # Z = R coth(x)/x, x = √(jωτ), dx/dτ = x/(2τ):
    # dZ/dτ = -R (csch²x + coth(x)/x) / (2τ), with csch² = coth² - 1 (no sinh overflow).
    r, tau = p
    x = g.sqrt_jomega * np.sqrt(tau)
    coth = 1.0 / np.tanh(x)
    z = r * coth / x
    dtau = (r * (coth * coth - 1.0) + z) * (-0.5 / tau)
    return z, ((z, 1.0 / r), dtau)


def _ws_z(p: Params, g: FrequencyGrid) -> Array:
    r, tau = p
    x = g.sqrt_jomega * np.sqrt(tau)
    return r * np.tanh(x) / x


def _ws_z_grad(p: Params, g: FrequencyGrid) -> tuple[Array, tuple[Any, ...]]:
    # Z = R tanh(x)/x: dZ/dτ = R (sech²x - tanh(x)/x) / (2τ), sech² = 1 - tanh². The
    # bracket cancels to -2x²/3 at low frequency: a series takes over there.
    r, tau = p
    x = g.sqrt_jomega * np.sqrt(tau)
    t = np.tanh(x)
    z = r * t / x
    bracket = _small_x_series(x, 1.0 - t * t - t / x, _WS_SERIES)
    return z, ((z, 1.0 / r), bracket * (0.5 * r / tau))


# ------------------------------------------------------------------------------- Gerischer, K, Zarc

def _g_z(p: Params, g: FrequencyGrid) -> Array:
    r, t = p
    return r / np.sqrt(1.0 + g.jomega * t)


def _g_z_grad(p: Params, g: FrequencyGrid) -> tuple[Array, tuple[Any, ...]]:
    # Z = R (1 + jωt)^(-1/2): dZ/dt = -Z jω / (2 (1 + jωt)).
    r, t = p
    w2 = 1.0 + g.jomega * t
    z = r / np.sqrt(w2)
    return z, ((z, 1.0 / r), z * g.jomega / w2 * -0.5)


def _gs_z(p: Params, g: FrequencyGrid) -> Array:
    r, t, phi = p
    w = np.sqrt(1.0 + g.jomega * t)
    return r / (w * np.tanh(phi * w))


def _gs_z_grad(p: Params, g: FrequencyGrid) -> tuple[Array, tuple[Any, ...]]:
    # Z = R coth(φw)/w, w = √(1 + jωt):
    # dZ/dφ = -R csch²(φw); dZ/dt = -jω (Z + R φ csch²(φw)) / (2 w²).
    r, t, phi = p
    w2 = 1.0 + g.jomega * t
    w = np.sqrt(w2)
    coth = 1.0 / np.tanh(phi * w)
    z = r * coth / w
    r_csch2 = r * (coth * coth - 1.0)
    return z, (z / r, (z + phi * r_csch2) * g.jomega / w2 * -0.5, -r_csch2)


def _k_z(p: Params, g: FrequencyGrid) -> Array:
    r, tau = p
    return r / (1.0 + g.jomega * tau)


def _k_z_grad(p: Params, g: FrequencyGrid) -> tuple[Array, tuple[Any, ...]]:
    r, tau = p
    inv = 1.0 / (1.0 + g.jomega * tau)
    z = r * inv
    return z, (inv, -(z * g.jomega * inv))


def _zarc_z(p: Params, g: FrequencyGrid) -> Array:
    r, tau, gamma = p
    u = np.exp(gamma * (g.log_omega + np.log(tau))) * np.exp(_HALF_PI_J * gamma)
    return r / (1.0 + u)


def _zarc_z_grad(p: Params, g: FrequencyGrid) -> tuple[Array, tuple[Any, ...]]:
    # u = (jωτ)^γ, Z = R/(1+u): dZ/dτ = -Z γ v / τ, dZ/dγ = -Z v ln(jωτ), v = u/(1+u).
    r, tau, gamma = p
    log_tau = np.log(tau)
    u = np.exp(gamma * (g.log_omega + log_tau)) * np.exp(_HALF_PI_J * gamma)
    inv = 1.0 / (1.0 + u)
    z = r * inv
    zv = z * u * inv
    return z, (inv, (zv, -gamma / tau), (zv, -(g.log_jomega + log_tau)))


def _tlmq_z(p: Params, g: FrequencyGrid) -> Array:
    r, q, gamma = p
    b = np.sqrt(r * q * g.jpow(gamma))
    return r / (b * np.tanh(b))


def _tlmq_z_grad(p: Params, g: FrequencyGrid) -> tuple[Array, tuple[Any, ...]]:
    # Y_s = Q (jω)^γ, b = √(R Y_s), Z = (R/b) coth b. With s = R csch²b:
    # dZ/dR = (Z - s)/(2R), dZ/dQ = -(Z + s)/(2Q), dZ/dγ = -(Z + s) ln(jω)/2.
    r, q, gamma = p
    b = np.sqrt(r * q * g.jpow(gamma))
    coth = 1.0 / np.tanh(b)
    z = r * coth / b
    csch2 = coth * coth - 1.0
    zps = z + r * csch2
    # dZ/dR = (coth(b)/b - csch²b)/2, which cancels to 1/3 at small b: series there.
    d_r = _small_x_series(b, coth / b - csch2, _TLMQ_SERIES) * 0.5
    return z, (d_r, zps * (-0.5 / q), zps * g.log_jomega * -0.5)


# ------------------------------------------------------------------------------- the table

ELEMENTS: dict[str, ElementType] = {e.symbol: e for e in (
    ElementType("R", "resistor", "Z = R",
                (_positive("R", _OHM, "resistance"),),
                _r_z, _r_z_grad, _r_y, _r_y_neg_grad, frequency_dependent=False),
    ElementType("C", "capacitor", "Z = 1 / (jωC)",
                (_positive("C", "F", "capacitance"),),
                _c_z, _c_z_grad, _c_y, _c_y_neg_grad),
    ElementType("L", "inductor", "Z = jωL",
                (_positive("L", "H", "inductance"),),
                _l_z, _l_z_grad, _l_y, _l_y_neg_grad),
    ElementType("CPE", "constant phase element", "Z = 1 / (Q (jω)^n)",
                (_positive("Q", "F s^(n-1)", "CPE coefficient"),
                 _exponent("n", "CPE exponent (1 = ideal capacitor)")),
                _cpe_z, _cpe_z_grad, _cpe_y, _cpe_y_neg_grad),
    ElementType("W", "semi-infinite Warburg", "Z = A_W (1 - j) / √ω",
                (_positive("A_W", "ohm s^-1/2", "Warburg coefficient"),),
                _w_z, _w_z_grad),
    ElementType("Wo", "finite-space (open, reflective) Warburg", "Z = R coth(√(jωτ)) / √(jωτ)",
                (_positive("R", _OHM, "diffusion resistance"),
                 _positive("tau", _SECOND, "diffusion time constant L²/D")),
                _wo_z, _wo_z_grad),
    ElementType("Ws", "finite-length (short, transmissive) Warburg",
                "Z = R tanh(√(jωτ)) / √(jωτ)",
                (_positive("R", _OHM, "diffusion resistance"),
                 _positive("tau", _SECOND, "diffusion time constant L²/D")),
                _ws_z, _ws_z_grad),
    ElementType("La", "modified inductance (BioLogic)", "Z = (L jω)^α",
                (_positive("L", "ohm^(1/α) s", "inductance-like coefficient (H when α = 1)"),
                 _exponent("alpha", "exponent (1 = ideal inductor)")),
                _la_z, _la_z_grad),
    ElementType("G", "Gerischer", "Z = R / √(1 + jωt)",
                (_positive("R", _OHM, "Gerischer resistance"),
                 _positive("t", _SECOND, "Gerischer time constant")),
                _g_z, _g_z_grad),
    ElementType("Gs", "finite-length Gerischer", "Z = R / (√(1 + jωt) tanh(φ √(1 + jωt)))",
                (_positive("R", _OHM, "Gerischer resistance"),
                 _positive("t", _SECOND, "Gerischer time constant"),
                 _positive("phi", "", "finite-length factor")),
                _gs_z, _gs_z_grad),
    ElementType("K", "RC element of the Lin-KK test", "Z = R / (1 + jωτ)",
                (ParamSpec("R", _OHM, "real", "resistance (signed in Lin-KK)", -_INF, _INF),
                 _positive("tau", _SECOND, "time constant")),
                _k_z, _k_z_grad),
    ElementType("Zarc", "R‖CPE written with a time constant (Cole-Cole)",
                "Z = R / (1 + (jωτ)^γ)",
                (_positive("R", _OHM, "resistance"),
                 _positive("tau", _SECOND, "time constant"),
                 _exponent("gamma", "dispersion exponent")),
                _zarc_z, _zarc_z_grad),
    ElementType("TLMQ", "simplified transmission line with a CPE (Landesfeind 2016)",
                "Z = √(R Z_s) coth(√(R / Z_s)), Z_s = 1 / (Q (jω)^γ)",
                (_positive("R", _OHM, "ionic resistance"),
                 _positive("Q", "F s^(γ-1)", "CPE coefficient"),
                 _exponent("gamma", "CPE exponent")),
                _tlmq_z, _tlmq_z_grad),
)}


def circuit_elements() -> list[dict[str, Any]]:
    """The element table as plain data, for listings (``eis-pipeline circuits``).

    Returns
    -------
    list of dict
        One per element: ``name``, ``description``, ``formula`` and ``parameters`` (list of
        dicts with ``index``, ``suffix``, ``symbol``, ``unit``, ``kind``, ``lower``,
        ``upper``, ``description``). ``index`` is the impedance.py index (``CPE1_0`` -> 0),
        None for one-parameter elements; ``suffix`` is what follows the element's name in the
        parameter name (``"_0"``, or ``""``).

    Examples
    --------
    >>> [e["name"] for e in circuit_elements()][:4]
    ['R', 'C', 'L', 'CPE']
    """
    out: list[dict[str, Any]] = []
    for e in ELEMENTS.values():
        params = [
            {"index": None if e.n_params == 1 else i,
             "suffix": "" if e.n_params == 1 else f"_{i}", "symbol": s.symbol, "unit": s.unit,
             "kind": s.kind, "lower": s.lower, "upper": s.upper, "description": s.description}
            for i, s in enumerate(e.params)
        ]
        out.append({"name": e.symbol, "description": e.description, "formula": e.formula,
                    "parameters": params})
    return out
