"""Hand a circuit and its parameters to impedance.py (imported only when used)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from eis_pipeline.circuits.compiled import compile_circuit
from eis_pipeline.exceptions import CircuitError

if TYPE_CHECKING:
    from eis_pipeline.circuits.compiled import CompiledCircuit
    from eis_pipeline.circuits.presets import Preset

__all__ = ["to_impedance_py"]


def to_impedance_py(circuit: str | Preset | CompiledCircuit, params: Any) -> Any:
    """An ``impedance.models.circuits.CustomCircuit`` with the same circuit and parameters.

    Parameters
    ----------
    circuit
        Circuit string, preset name, :class:`Preset` or compiled circuit.
    params
        Natural parameter values: a sequence in ``param_names`` order, or a mapping
        name -> value covering every parameter.

    Returns
    -------
    impedance.models.circuits.CustomCircuit
        ``initial_guess`` and ``parameters_`` both set, so ``.predict(f)`` works without a
        fit and ``.fit`` starts from ``params``.

    Examples
    --------
    >>> model = to_impedance_py("R0-p(R1,C1)", [10.0, 100.0, 1e-6])  # doctest: +SKIP
    >>> model.predict([1.0, 1e6])                                    # doctest: +SKIP
    """
    from impedance.models.circuits import CustomCircuit


    compiled = compile_circuit(circuit)
    if isinstance(params, Mapping):
        missing = [n for n in compiled.param_names if n not in params]
        if missing:
            raise CircuitError(f"parameters missing for {', '.join(missing)}",
                               compiled.circuit)
        values = [float(params[n]) for n in compiled.param_names]
    else:
        values = [float(v) for v in np.asarray(params, dtype=np.float64).ravel()]
        if len(values) != compiled.n_params:
            raise CircuitError(f"{len(values)} parameter values given; {compiled.circuit} "
                               f"needs {compiled.n_params} ({', '.join(compiled.param_names)})",
                               compiled.circuit)
    model = CustomCircuit(circuit=compiled.circuit, initial_guess=values)
    model.parameters_ = np.array(values)
    return model
