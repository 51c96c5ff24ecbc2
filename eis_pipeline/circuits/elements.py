"""The element table: parameters, units, kinds and bounds of every element, and its formula.

The formulas themselves (Z and analytic dZ/dp at one frequency) live once, in
:mod:`eis_pipeline.circuits.element_kernels`; ``ElementType.kernel`` names the function.
Parameterisation, parameter order and branch follow impedance.py 1.7
(``impedance/models/circuits/elements.py``), so a circuit string means the same thing in both
packages; PHYSICS.md section 2 lists the physics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "ELEMENTS",
    "ElementType",
    "ParamKind",
    "ParamSpec",
    "circuit_elements",
]

ParamKind = Literal["positive", "exponent", "real"]

_INF = float("inf")


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
    """An element kind: metadata, and the name of its formula in
    :mod:`~eis_pipeline.circuits.element_kernels`."""

    symbol: str
    description: str
    formula: str
    params: tuple[ParamSpec, ...]
    kernel: str
    frequency_dependent: bool = True

    @property
    def n_params(self) -> int:
        return len(self.params)

    def param_names(self, name: str) -> tuple[str, ...]:
        """impedance.py's parameter names for an element called ``name``: R1, CPE1_0, CPE1_1."""
        if self.n_params == 1:
            return (name,)
        return tuple(f"{name}_{i}" for i in range(self.n_params))


_OHM = "ohm"
_SECOND = "s"


def _positive(symbol: str, unit: str, description: str) -> ParamSpec:
    return ParamSpec(symbol, unit, "positive", description)


def _exponent(symbol: str, description: str) -> ParamSpec:
    return ParamSpec(symbol, "", "exponent", description, 0.0, 1.0)


# ------------------------------------------------------------------------------- the table

ELEMENTS: dict[str, ElementType] = {e.symbol: e for e in (
    ElementType("R", "resistor", "Z = R",
                (_positive("R", _OHM, "resistance"),),
                "resistor", frequency_dependent=False),
    ElementType("C", "capacitor", "Z = 1 / (jωC)",
                (_positive("C", "F", "capacitance"),),
                "capacitor"),
    ElementType("L", "inductor", "Z = jωL",
                (_positive("L", "H", "inductance"),),
                "inductor"),
    ElementType("CPE", "constant phase element", "Z = 1 / (Q (jω)^n)",
                (_positive("Q", "F s^(n-1)", "CPE coefficient"),
                 _exponent("n", "CPE exponent (1 = ideal capacitor)")),
                "cpe"),
    ElementType("W", "semi-infinite Warburg", "Z = A_W (1 - j) / √ω",
                (_positive("A_W", "ohm s^-1/2", "Warburg coefficient"),),
                "warburg"),
    ElementType("Wo", "finite-space (open, reflective) Warburg", "Z = R coth(√(jωτ)) / √(jωτ)",
                (_positive("R", _OHM, "diffusion resistance"),
                 _positive("tau", _SECOND, "diffusion time constant L²/D")),
                "warburg_open"),
    ElementType("Ws", "finite-length (short, transmissive) Warburg",
                "Z = R tanh(√(jωτ)) / √(jωτ)",
                (_positive("R", _OHM, "diffusion resistance"),
                 _positive("tau", _SECOND, "diffusion time constant L²/D")),
                "warburg_short"),
    ElementType("La", "modified inductance (BioLogic)", "Z = (L jω)^α",
                (_positive("L", "ohm^(1/α) s", "inductance-like coefficient (H when α = 1)"),
                 _exponent("alpha", "exponent (1 = ideal inductor)")),
                "modified_inductor"),
    ElementType("G", "Gerischer", "Z = R / √(1 + jωt)",
                (_positive("R", _OHM, "Gerischer resistance"),
                 _positive("t", _SECOND, "Gerischer time constant")),
                "gerischer"),
    ElementType("Gs", "finite-length Gerischer", "Z = R / (√(1 + jωt) tanh(φ √(1 + jωt)))",
                (_positive("R", _OHM, "Gerischer resistance"),
                 _positive("t", _SECOND, "Gerischer time constant"),
                 _positive("phi", "", "finite-length factor")),
                "gerischer_finite"),
    ElementType("K", "RC element of the Lin-KK test", "Z = R / (1 + jωτ)",
                (ParamSpec("R", _OHM, "real", "resistance (signed in Lin-KK)", -_INF, _INF),
                 _positive("tau", _SECOND, "time constant")),
                "kk_element"),
    ElementType("Zarc", "R‖CPE written with a time constant (Cole-Cole)",
                "Z = R / (1 + (jωτ)^γ)",
                (_positive("R", _OHM, "resistance"),
                 _positive("tau", _SECOND, "time constant"),
                 _exponent("gamma", "dispersion exponent")),
                "zarc"),
    ElementType("TLMQ", "simplified transmission line with a CPE (Landesfeind 2016)",
                "Z = √(R Z_s) coth(√(R / Z_s)), Z_s = 1 / (Q (jω)^γ)",
                (_positive("R", _OHM, "ionic resistance"),
                 _positive("Q", "F s^(γ-1)", "CPE coefficient"),
                 _exponent("gamma", "CPE exponent")),
                "tlm_cpe"),
    ElementType("T", "macrohomogeneous porous electrode (Paasch, Micka & Gersdorf 1993)",
                "Z = A coth(β)/β + B / (β sinh β), β = √(a + jωb)",
                (_positive("A", "ohm", "d (ρ₁² + ρ₂²) / (ρ₁ + ρ₂)"),
                 _positive("B", "ohm", "2 d ρ₁ ρ₂ / (ρ₁ + ρ₂)"),
                 _positive("a", "", "k d² / K"),
                 _positive("b", _SECOND, "d² / K")),
                "paasch"),
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
