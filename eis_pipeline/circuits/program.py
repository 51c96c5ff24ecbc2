"""The evaluation plan of a circuit: a flat list of operations built once at compile time.

Each node of the AST becomes one operation in post-order (children before parents), writing
its result into a numbered slot. Each node knows whether its parent wants its impedance Z (a
series sum) or its admittance Y = 1/Z (a branch of a parallel block), so R‖CPE is evaluated
as Z = 1/(1/R + Q (jω)^n) without ever forming the CPE's impedance.

Jacobian (PHYSICS.md section 2): an element's parameters enter Z only through that element,
so dZ/dp = (dZ/dX_leaf) · dX_leaf/dp, where X is the leaf's Z or Y. The chain factor
dZ/dX_leaf is a product of one local factor per block on the path to the root:

- series block seen as Z: dZ/dZ_i = 1;          seen as Y = 1/ΣZ_i: dY/dZ_i = -Y²
- parallel block seen as Y: dY/dY_i = 1;        seen as Z = 1/ΣY_i: dZ/dY_i = -Z²

(-Z² · dY_i/dZ_i = Z²/Z_i², the textbook parallel rule.) Anything read as an admittance
carries its gradient negated, -dY/dp (see :mod:`~eis_pipeline.circuits.elements`), so both
inverting factors become +value² and no pass is spent on a sign: a series block read as Y
turns its children's dZ/dp into -dY/dp = Y² dZ/dp, a parallel block read as Z turns its
children's -dY/dp into dZ/dp = Z² (-dY/dp). Only blocks that invert have a factor; it is
one array per block, shared by all its leaves. Every operation works on whole
(batch, frequency) arrays: the Python loop runs over the few nodes of the circuit only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from eis_pipeline.circuits.elements import ELEMENTS, Gradient, Value
from eis_pipeline.circuits.grammar import Element, Node, Parallel
from eis_pipeline.circuits.grid import FrequencyGrid

__all__ = ["Program"]

Array = npt.NDArray[Any]

# Operations are plain tuples (fastest to unpack in the hot loop):
# leaf:  (slot, start, stop, value_fn, grad_fn, factor_slot)
# block: (slot, children, invert, in_place, factor_slot)
# factor_slot: the nearest ancestor block that inverts, -1 when there is none.
_LeafOp = tuple[int, int, int, Value, Gradient, int]
_BlockOp = tuple[int, tuple[int, ...], bool, bool, int]


class Program:
    """Post-order operations evaluating a circuit's Z and, optionally, dZ/dp.

    Parameters
    ----------
    ast
        The parsed circuit.
    """

    def __init__(self, ast: Node) -> None:
        self.leaves: list[_LeafOp] = []
        self.blocks: list[_BlockOp] = []
        # True for a leaf op, False for a block op, in execution (post-)order, with index.
        self.order: list[tuple[bool, int]] = []
        self.n_slots = 0
        self.n_params = 0
        self.root, _ = self._build(ast, admittance=False, factor=-1)
        # Inverting blocks parents-first, to combine chain factors top-down.
        self.inverting = [(b[0], b[4]) for b in reversed(self.blocks) if b[2]]
        # The execution order with each operation's tuple itself (no index lookups in the
        # hot loop), and the chain factors that actually combine with a parent's.
        self.steps: list[tuple[bool, Any]] = [
            (is_leaf, self.leaves[i] if is_leaf else self.blocks[i])
            for is_leaf, i in self.order]
        self.chained = [(slot, parent) for slot, parent in self.inverting if parent >= 0]

    def _build(self, node: Node, admittance: bool, factor: int) -> tuple[int, bool]:
        """Append ``node``'s operations; return its slot and whether it depends on ω."""
        if isinstance(node, Element):
            element = ELEMENTS[node.kind]
            start = self.n_params
            self.n_params += element.n_params
            slot = self._new_slot()
            value_fn: Value = element.z
            grad_fn: Gradient = element.z_grad
            if admittance:
                # The element's own admittance formulas when it has them (no wrapper call).
                value_fn = element.y or element.admittance
                grad_fn = element.y_neg_grad or element.admittance_neg_grad
            self.order.append((True, len(self.leaves)))
            self.leaves.append((slot, start, self.n_params, value_fn, grad_fn, factor))
            return slot, element.frequency_dependent
        parallel = isinstance(node, Parallel)
        invert = parallel != admittance  # the parent wants the other one of Z and Y
        slot = self._new_slot()  # reserved now so children know their factor slot
        child_factor = slot if invert else factor
        children = [self._build(child, parallel, child_factor) for child in node.children]
        # Sum a frequency-dependent child first: the first sum is then a fresh full-size
        # complex array and the remaining children can be added into it in place.
        children.sort(key=lambda c: not c[1])
        dependent = children[0][1]
        self.order.append((False, len(self.blocks)))
        self.blocks.append((slot, tuple(c[0] for c in children), invert, dependent, factor))
        return slot, dependent

    def _new_slot(self) -> int:
        self.n_slots += 1
        return self.n_slots - 1

    def value(self, cols: Array, g: FrequencyGrid) -> Array:
        """Z (or a broadcastable shape of it) for parameter columns ``cols`` (P, B, 1)."""
        vals: list[Any] = [None] * self.n_slots
        params = _params(cols)
        for is_leaf, op in self.steps:
            if is_leaf:
                slot, start, stop, value_fn, _, _ = op
                vals[slot] = value_fn(params[start:stop], g)
            else:
                slot, children, invert, in_place, _ = op
                vals[slot] = _block_value(vals, children, invert, in_place)
        return vals[self.root]

    def value_and_grad(self, cols: Array, g: FrequencyGrid, out: Array) -> Array:
        """Z, writing dZ/dp into ``out`` of shape (P, B, F)."""
        vals: list[Any] = [None] * self.n_slots
        grads: list[Any] = [None] * self.n_slots
        params = _params(cols)
        for is_leaf, op in self.steps:
            if is_leaf:
                slot, start, stop, _, grad_fn, _ = op
                vals[slot], grads[slot] = grad_fn(params[start:stop], g)
            else:
                slot, children, invert, in_place, _ = op
                value = _block_value(vals, children, invert, in_place)
                vals[slot] = value
                if invert:
                    grads[slot] = value * value  # the chain factor (signs: module docstring)
        # Chain factors, parents first: a block's total factor is its own times its
        # nearest inverting ancestor's total.
        for slot, parent in self.chained:
            grads[slot] = grads[slot] * grads[parent]
        for slot, start, _, _, _, factor_slot in self.leaves:
            factor = grads[factor_slot] if factor_slot >= 0 else None
            base: Any = None
            scaled: Any = None
            for k, d in enumerate(grads[slot], start):
                if type(d) is tuple:  # (base, coef): scale the shared base once per leaf
                    if factor is None:
                        np.multiply(d[0], d[1], out=out[k])
                        continue
                    if d[0] is not base:
                        base = d[0]
                        scaled = factor * base
                    np.multiply(scaled, d[1], out=out[k])
                elif factor is None:
                    out[k] = d
                else:
                    np.multiply(factor, d, out=out[k])
        return vals[self.root]


def _params(cols: Array) -> Any:
    """The parameters as elements take them: columns (P, B, 1), or, for a single parameter
    vector (B = 1), a tuple of numpy float64 scalars.

    Scalar arithmetic (1/R, e^{jπn/2} Q, ...) costs a tenth of the same operation on a
    (1, 1) array, and a fit of one spectrum does little else besides its few full-length
    operations. numpy scalars rather than Python floats keep array semantics (1/0 = inf
    with a warning, not ZeroDivisionError). Elements then return (F,) arrays, which
    broadcast wherever (1, F) ones did.
    """
    if cols.shape[1] == 1:
        return tuple(cols[:, 0, 0])
    return cols


def _block_value(vals: list[Any], children: tuple[int, ...], invert: bool,
                 in_place: bool) -> Array:
    total = vals[children[0]] + vals[children[1]]
    for c in children[2:]:
        if in_place:
            total += vals[c]  # total is a fresh full-size complex array
        else:
            total = total + vals[c]
    return 1.0 / total if invert else total
