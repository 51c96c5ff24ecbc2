"""A second look at the fit of a circuit of arcs: is it doubtful, and which starts may beat it.

The data-driven starts put the data's arcs on the circuit's arcs by time constant. Where that
mapping is ambiguous the best start can still stop in a local minimum; on random pellet-like
circuits (tests/fitting/random_circuits.py) the minima left are of three kinds:

- arcs of different kinds on each other's features: the R‖CPE takes the ideal (R‖C) arc with
  its exponent driven to 1 and the R‖C is left fitting the other arc badly;
- an arc collapsed onto a neighbour (time constants within :data:`COLLAPSE_RATIO`) or shrunk
  to nothing, while another arc broadens (small n) to cover two of the data's features;
- a parameter stopped on a bound (an exponent at 1 included, though n = 1 is an ordinary
  result: it is also what a CPE does when it is on the wrong feature).

:func:`doubtful` recognises these at a fitted point; :func:`assignment_starts` exchanges the
fitted arcs between the circuit's arcs of different kinds, and :func:`relocation_start`
moves the weakest arc to where the residuals say a feature is left unexplained. The engine
solves them and keeps what is better. Diffusion elements in the series (finite Warburgs,
TLMQ, Gerischer: R times a function of jωτ) are arcs of their own kind here, so a Warburg
sitting on an arc's feature is exchanged with the arc or moved like one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import permutations
from typing import Any

import numpy as np
from numpy.typing import NDArray

from eis_pipeline.fitting.bounds import on_bounds
from eis_pipeline.fitting.initial import positive_normal_lstsq, unit_response

__all__ = ["COLLAPSE_RATIO", "ELECTRODE_GRID", "ArcTable", "arc_table", "assignment_starts",
           "doubtful", "misplaced", "outside_window", "relocation_starts", "spare_arc",
           "split_start", "watched", "weakest_arc"]

Array = NDArray[np.float64]

#: Two arcs whose time constants are closer than this factor (half a decade) describe one
#: feature of the data between them: the fit is doubtful.
COLLAPSE_RATIO = 10.0 ** 0.5
#: An arc whose τ is beyond the window ``1/ω_max ... 1/ω_min`` by more than this factor (a
#: decade) is not determined by the data.
OUTSIDE_WINDOW = 10.0
#: Exponent given to a CPE that takes over an ideal capacitor's arc, or is moved, and to an
#: electrode CPE whose exponent is reset.
MOVED_N = 0.9
ELECTRODE_N = 0.85
#: The second exponent given to a CPE that takes over an ideal capacitor's arc
#: (:func:`assignment_starts`): nearly ideal itself, off the bound n = 1.
NEAR_IDEAL_N = 0.98
#: A second reset exponent for the electrode: an arc moved beside it can take part of the
#: low-frequency feature, leaving the electrode broader than a blocking one alone (random
#: circuits, seed 16: the optimum's electrode n is 0.28 there, 0.83 before the move).
BROAD_ELECTRODE_N = 0.6
#: Electrode exponents scanned with each place of a moved arc (the other arcs as fitted).
ELECTRODE_GRID = tuple(np.round(np.arange(0.5, 1.0001, 0.05), 2).tolist())


#: Diffusion elements whose second parameter is their time constant itself (structure.
#: DIFFUSION_KINDS; a TLMQ's (R, Q, γ) is read like an R‖CPE arc: τ = (R Q)^(1/γ)).
TAU_KINDS = frozenset({"Wo", "Ws", "G"})


@dataclass(frozen=True)
class ArcTable:
    """Natural-parameter indices of each arc of a circuit: R, Q (or C), n (-1 for a C).

    A diffusion element in the series (finite Warburg Wo/Ws, Gerischer G, TLMQ) is an
    "arc" too, of its own kind: R its amplitude, q its τ (for a TLMQ its Q, n its γ). Each
    is R times a function of jωτ, so it is placed on a grid of τ and exchanged with arcs
    like one (a Ws ends resistive, like an arc: a fit can put it on an arc's feature and
    the arc on the Ws's, bench families)."""

    r: tuple[int, ...]
    q: tuple[int, ...]
    n: tuple[int, ...]
    kinds: tuple[str, ...]
    resistors: tuple[int, ...] = ()
    inductors: tuple[int, ...] = ()
    electrodes: tuple[tuple[int, int], ...] = ()   # (Q or C, n or -1)
    warburgs: tuple[int, ...] = ()                 # semi-infinite Warburgs' A_W

    @cached_property
    def tau_param(self) -> NDArray[np.bool_]:
        """True for each arc whose q is its time constant (:data:`TAU_KINDS`)."""
        return np.array([k in TAU_KINDS for k in self.kinds], dtype=bool)

    @cached_property
    def index(self) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]:
        """R, Q and n indices as arrays (n: a capacitor's points at its Q; see has_n)."""
        n = np.array([i if i >= 0 else q for i, q in zip(self.n, self.q, strict=True)],
                     dtype=np.intp)
        return np.array(self.r, dtype=np.intp), np.array(self.q, dtype=np.intp), n

    @cached_property
    def has_n(self) -> NDArray[np.bool_]:
        """True for each arc with an exponent (a CPE)."""
        return np.array([i >= 0 for i in self.n], dtype=bool)

    @property
    def ambiguous(self) -> bool:
        """More than two arcs, or arcs of different kinds: ordering the data's arcs by time
        constant does not say which circuit arc takes which."""
        return len(self.kinds) > 2 or len(set(self.kinds)) > 1


def arc_table(terms: Any, names: Sequence[str]) -> ArcTable | None:
    """The arcs and diffusion elements of :func:`~eis_pipeline.fitting.structure.
    series_terms` as indices (arcs first, then the diffusion elements, each in circuit
    order); None for a circuit of another shape."""
    if terms is None or not (terms.arcs or terms.diffusion):
        return None
    index = {n: i for i, n in enumerate(names)}
    r, q, n, kinds = [], [], [], []
    for res, cap, kind in terms.arcs:
        r.append(index[res])
        if kind == "CPE":
            q.append(index[f"{cap}_0"])
            n.append(index[f"{cap}_1"])
        else:
            q.append(index[cap])
            n.append(-1)
        kinds.append(kind)
    for name, kind in terms.diffusion:
        r.append(index[f"{name}_0"])
        q.append(index[f"{name}_1"])
        n.append(index[f"{name}_2"] if kind == "TLMQ" else -1)
        kinds.append(kind)
    electrodes = tuple((index[f"{e}_0"], index[f"{e}_1"]) if kind == "CPE" else (index[e], -1)
                       for e, kind in terms.electrodes)
    return ArcTable(tuple(r), tuple(q), tuple(n), tuple(kinds),
                    tuple(index[x] for x in terms.resistors),
                    tuple(index[x] for x in terms.inductors), electrodes,
                    tuple(index[x] for x in terms.warburgs))


def _exponents(params: Array, table: ArcTable) -> Array:
    """(S, K) arc exponents (1 for a capacitor)."""
    return np.where(table.has_n, params[:, table.index[2]], 1.0)


def arc_taus(params: Array, table: ArcTable) -> Array:
    """(S, K) time constants ``τ = (R Q)^(1/n)`` (PHYSICS.md section 3; ``R C`` for a C;
    a Warburg's or Gerischer's own τ)."""
    r, q, _ = table.index
    with np.errstate(all="ignore"):
        tau = np.asarray((params[:, r] * params[:, q]) ** (1.0 / _exponents(params, table)))
    if table.tau_param.any():
        tau[:, table.tau_param] = params[:, q[table.tau_param]]
    return tau


def watched(space: Any, table: ArcTable | None) -> NDArray[np.bool_]:
    """(Pf,) free parameters whose stop on a bound makes a fit doubtful: exponents (n = 1
    included) and arc resistances. A stray inductance or series resistance on its floor
    only says the data show none."""
    arc_r = set(table.r) if table is not None else set()
    return np.array([space.kinds[i] == "exponent" or i in arc_r for i in space.free],
                    dtype=bool)


def doubtful(params: Array, u: Array, lo: Array, hi: Array, table: ArcTable | None,
             watch: NDArray[np.bool_], frequency: Array, free: NDArray[np.intp]
             ) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Fits that may sit in a local minimum, two reasons (S,) each.

    ``pinned``: a ``watch``-ed free parameter (natural indices ``free``) on a bound
    (internal ``u`` against ``lo``/``hi``), the signature of a start trapped away from the
    optimum, which a second start can fall into too. ``loose``: two arcs collapsed (time
    constants within :data:`COLLAPSE_RATIO`), or an arc whose time constant lies more than
    :data:`OUTSIDE_WINDOW` beyond the measured frequencies (``frequency`` (S, N) Hz,
    NaN-padded): the data do not pin such an arc, and its parameters can settle anywhere
    along a valley, one of several; its exponent or resistance on a bound is then no sign
    of a trap and does not count as pinned.
    """
    on_lo, on_hi = on_bounds(u, lo, hi)
    on = (on_lo | on_hi) & watch
    loose = np.zeros(u.shape[0], dtype=bool)
    if table is not None:
        tau = arc_taus(params, table)
        outside = outside_window(tau, frequency)
        with np.errstate(invalid="ignore"):
            tau = np.sort(tau, axis=1)
            close = tau[:, 1:] < COLLAPSE_RATIO * tau[:, :-1]
        loose = np.asarray(outside.any(axis=1) | close.any(axis=1)
                           | ~np.isfinite(tau).all(axis=1))
        where = {int(i): j for j, i in enumerate(free)}
        for a in range(len(table.kinds)):
            for i in (table.r[a], table.n[a]):
                if i in where:
                    on[:, where[i]] &= ~outside[:, a]
    return np.asarray(on.any(axis=1)), np.asarray(loose)


def outside_window(tau: Array, frequency: Array) -> NDArray[np.bool_]:
    """(S, K): arcs whose time constant ``tau`` (S, K) lies more than
    :data:`OUTSIDE_WINDOW` beyond the measured frequencies (``frequency`` (S, N) Hz,
    NaN-padded)."""
    if np.isfinite(frequency).all():   # no padding: the plain reductions are cheaper
        w_min, w_max = 2 * np.pi * frequency.min(axis=1), 2 * np.pi * frequency.max(axis=1)
    else:
        w_min = 2 * np.pi * np.nanmin(frequency, axis=1)
        w_max = 2 * np.pi * np.nanmax(frequency, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray((tau < 1.0 / (OUTSIDE_WINDOW * w_max[:, None]))
                          | (tau > OUTSIDE_WINDOW / w_min[:, None]))


def _set_arc(p: Array, table: ArcTable, j: int, r: Array, tau: Array, n: Array) -> None:
    """Arc ``j`` of every row of ``p`` (S, P) to resistance ``r`` and time constant ``tau``
    (exponent ``n`` when it is a CPE or a TLMQ)."""
    p[:, table.r[j]] = r
    if table.tau_param[j]:
        p[:, table.q[j]] = tau
    elif table.n[j] >= 0:
        p[:, table.n[j]] = n
        p[:, table.q[j]] = tau ** n / r
    else:
        p[:, table.q[j]] = tau / r


def assignment_starts(params: Array, table: ArcTable) -> Array:
    """(S, m, P): the fitted arcs (R, τ, n) given to the circuit's arcs in every other
    distinct assignment of their kinds (m = 0 when all arcs are of one kind).

    A CPE given an ideal arc (a capacitor's, n = 1) starts at :data:`MOVED_N`, and in a
    second start at :data:`NEAR_IDEAL_N`: the capacitor may have been on a broad feature
    it fitted badly (the trap the exchange is for), or on a truly ideal arc that the CPE
    fits as well while the capacitor takes the other (random circuits, seed 368: from n
    0.9 the broadened CPE pushed the capacitor beyond the window, 1.1x the optimum)."""
    k = len(table.kinds)
    tau = arc_taus(params, table)
    n = _exponents(params, table)
    seen = {table.kinds}
    out = []
    for perm in permutations(range(k)):
        kinds = tuple(table.kinds[perm.index(j)] for j in range(k))   # kind given to arc j
        if kinds in seen:
            continue
        seen.add(kinds)
        ideal = n >= 1.0
        ideal_to_cpe = any(bool(ideal[:, source].any()) and table.has_n[target]
                           for target, source in enumerate(perm))
        for fresh_n in (MOVED_N, NEAR_IDEAL_N) if ideal_to_cpe else (MOVED_N,):
            p = params.copy()
            for target, source in enumerate(perm):
                _set_arc(p, table, target, params[:, table.r[source]], tau[:, source],
                         np.where(ideal[:, source], fresh_n, n[:, source]))
            out.append(p)
    if not out:
        return np.empty((params.shape[0], 0, params.shape[1]))
    return np.stack(out, axis=1)


def weakest_arc(params: Array, table: ArcTable) -> NDArray[np.intp]:
    """(S,) index of the arc to move: of the two arcs closest in τ, the one with the smaller
    resistance (a collapsed or crowded arc, the one the data least need where it is)."""
    tau = arc_taus(params, table)
    res = params[:, list(table.r)]
    by_tau = np.argsort(np.where(np.isfinite(tau), tau, np.inf), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        lt = np.log(np.take_along_axis(tau, by_tau, axis=1))
        gap = np.where(np.isfinite(np.diff(lt, axis=1)), np.diff(lt, axis=1), 0.0)
    g = np.argmin(gap, axis=1)
    rows = np.arange(params.shape[0])
    a, b = by_tau[rows, g], by_tau[rows, g + 1]
    return np.asarray(np.where(res[rows, a] <= res[rows, b], a, b))


#: An arc whose resistance is below this fraction of all arcs' is a spare: the fit keeps it
#: only because the circuit has it, so where it sits (or how broad it is) decides little of
#: the cost, and a better place for it (often beside the electrode) is not reached by the
#: solver from there (random circuits, seeds 16, 126: a 2 % arc broadened to n < 0.5).
SPARE_FRACTION = 0.05


def spare_arc(params: Array, table: ArcTable, frequency: Array) -> NDArray[np.intp]:
    """(S,) index of the arc the data need least: one whose τ is beyond the window
    (:data:`OUTSIDE_WINDOW`, an arc parked where it does nothing), else the arc of least
    resistance. Not the crowded one of :func:`weakest_arc` when an arc shrunk to nothing
    sits at an end of the window, far from the others."""
    tau = arc_taus(params, table)
    outside = outside_window(tau, frequency) | ~np.isfinite(tau)
    res = params[:, list(table.r)]
    least = np.argmin(np.where(np.isfinite(res), res, np.inf), axis=1)
    return np.asarray(np.where(outside.any(axis=1), np.argmax(outside, axis=1), least))


def misplaced(params: Array, table: ArcTable, frequency: Array) -> NDArray[np.bool_]:
    """(S,) fits with an arc that may have a better place: two arcs collapsed (time
    constants within :data:`COLLAPSE_RATIO`), or an arc whose resistance is below
    :data:`SPARE_FRACTION` of the arcs' total; every arc inside the window (an arc beyond
    it says the data show fewer arcs than the circuit has: no place is better, and on the
    demo spectra such a search cost ~900 evaluations for 0.2 % of the cost)."""
    res = params[:, list(table.r)]
    tau = arc_taus(params, table)
    inside = ~outside_window(tau, frequency).any(axis=1) & np.isfinite(tau).all(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = np.sort(tau, axis=1)
        close = (tau[:, 1:] < COLLAPSE_RATIO * tau[:, :-1]).any(axis=1)
        spare = res.min(axis=1) < SPARE_FRACTION * res.sum(axis=1)
    return np.asarray((close | spare) & inside & np.isfinite(res).all(axis=1))


#: A split puts the two halves of the broadest arc this factor either side of its τ.
SPLIT_FACTOR = 10.0 ** 0.5


def split_start(params: Array, table: ArcTable) -> Array:
    """(S, P): the broadest other arc (smallest n) split in two: it and the weakest arc
    (:func:`weakest_arc`) each take half its resistance, at ``τ / SPLIT_FACTOR`` and
    ``τ · SPLIT_FACTOR``, with ``n = MOVED_N`` (a broad arc covering two of the data's)."""
    weakest = weakest_arc(params, table)
    n = _exponents(params, table)
    n[np.arange(n.shape[0]), weakest] = np.inf
    broad = np.argmin(n, axis=1)
    tau = arc_taus(params, table)
    out = params.copy()
    for b in range(len(table.kinds)):
        for w in range(len(table.kinds)):
            sel = (broad == b) & (weakest == w)
            if w == b or not sel.any():
                continue
            part = out[sel]
            half = params[sel, table.r[b]] / 2
            t = tau[sel, b]
            k = int(sel.sum())
            _set_arc(part, table, b, half, t / SPLIT_FACTOR, np.full(k, MOVED_N))
            _set_arc(part, table, w, half, t * SPLIT_FACTOR, np.full(k, MOVED_N))
            out[sel] = part
    return out


def _response_kind(table: ArcTable, j: int) -> str:
    """The :func:`~eis_pipeline.fitting.initial.unit_response` of arc ``j`` with its fitted
    exponent (an R‖C as an R‖CPE with n = 1)."""
    kind = table.kinds[j]
    return "CPE" if kind == "C" else kind


def _score_places(static: Array, moved: Array, pos: NDArray[np.intp], y: Array,
                  soft: list[int]) -> tuple[Array, Array]:
    """Weighted linear least squares of ``y`` (S, 2N) at every place G of the moved column:
    ``static`` (S, 2N, c) holds the columns that do not move (column ``pos[s]`` zero),
    ``moved`` (S, G, 2N) the moved one, put at column ``pos[s]``. Returns the cost (S, G),
    inf where an amplitude is not positive (the ``soft`` columns are also tried left out,
    amplitude 0), and the amplitudes (S, G, c). The normal equations are assembled from
    the static columns' Gram matrix (once) and the moved column's products with them and
    solved by :func:`~eis_pipeline.fitting.initial.positive_normal_lstsq`: no pass over
    the points per place and column."""
    s, g = moved.shape[:2]
    rows = np.arange(s)
    a_full = np.repeat(np.einsum("smi,smj->sij", static, static)[:, None], g, axis=1)
    cross = np.einsum("sgm,smi->sgi", moved, static)                   # (S, G, c)
    a_full[rows, :, pos, :] = cross
    a_full[rows, :, :, pos] = cross
    a_full[rows, :, pos, pos] = np.einsum("sgm,sgm->sg", moved, moved)
    b_full = np.repeat(np.einsum("smi,sm->si", static, y)[:, None], g, axis=1)
    b_full[rows, :, pos] = np.einsum("sgm,sm->sg", moved, y)
    return positive_normal_lstsq(a_full, b_full, np.einsum("sm,sm->s", y, y)[:, None], soft)


def relocation_starts(params: Array, table: ArcTable, frequency: Array,
                      impedance: NDArray[np.complex128], inv_wr: Array, inv_wi: Array,
                      n_best: int, fresh_exponents: bool = False,
                      arc: int | NDArray[np.intp] | None = None,
                      electrode_n: float | Sequence[float] = ELECTRODE_N,
                      fresh_electrode: bool | None = None,
                      scan_broadest: bool = False) -> Array:
    """(S, n_best, P): arc ``arc`` (one index, or one per row; default: the weakest,
    :func:`weakest_arc`) moved to the
    ``n_best`` best places of a grid of time constants.

    Every time constant and exponent but the moved arc's stays as fitted; then the model is
    linear in the amplitudes (series R, L, the electrode's 1/Q, a semi-infinite Warburg's
    A_W, each arc's or diffusion element's R: its ``unit_response``), so each place
    of the grid (a third of a decade apart, from a decade above the top frequency to a
    decade below the lowest) is scored by weighted linear least squares (``inv_wr``,
    ``inv_wi`` as the fit's) and the best places with all amplitudes positive are returned
    with their amplitudes: a feature the fit left unexplained is found even where the
    other arcs must give up part of their resistance to it. With ``fresh_exponents`` every
    exponent is reset (arcs :data:`MOVED_N`, electrode ``electrode_n``) first: where
    broadened arcs or electrode cover the missing feature, the fitted ones hide it.
    ``fresh_electrode`` (default: as ``fresh_exponents``) resets the electrode's alone;
    ``electrode_n`` may then be several exponents, each place scored with each and the
    best kept (a fitted electrode too sharp or too broad beside a parked arc has no place
    for the moved arc at any single exponent a few hundredths off the data's).
    ``scan_broadest`` scans those exponents for the broadest arc that is not moved instead
    (circuits without an electrode CPE: a finite-space Warburg pulled onto a broadened
    arc's low-frequency side, the arc broadened to cover the Warburg's feature).
    """
    s = frequency.shape[0]
    valid = np.isfinite(frequency) & np.isfinite(impedance)
    w = 2 * np.pi * np.where(valid, frequency, 1.0)                       # (S, N)
    y = np.concatenate([np.where(valid, impedance.real, 0.0) * inv_wr,
                        np.where(valid, impedance.imag, 0.0) * inv_wi], axis=1)

    def col(h: Any) -> Array:   # (S, N) or (S, G, N) -> weighted real and imaginary rows
        wr, wi = (inv_wr, inv_wi) if np.ndim(h) == 2 else (inv_wr[:, None], inv_wi[:, None])
        return np.concatenate([h.real * wr, h.imag * wi], axis=-1)

    tau = arc_taus(params, table)
    n_fit = _exponents(params, table)
    if fresh_electrode is None:
        fresh_electrode = fresh_exponents
    e_grid = np.atleast_1d(np.asarray(electrode_n, dtype=np.float64))
    if fresh_exponents or fresh_electrode:
        params = params.copy()
        for j, i in enumerate(table.n):
            if i >= 0 and fresh_exponents:
                _set_arc(params, table, j, params[:, table.r[j]], tau[:, j],
                         np.full(params.shape[0], MOVED_N))
        for _, ne in table.electrodes:
            if ne >= 0 and fresh_electrode:
                params[:, ne] = e_grid[0]
        n_fit = _exponents(params, table)
    if not (fresh_electrode or scan_broadest):
        e_grid = e_grid[:1]
    weakest = (weakest_arc(params, table) if arc is None
               else np.broadcast_to(np.asarray(arc, dtype=np.intp), (params.shape[0],)))
    def fixed_columns(n_e: float | None) -> list[Array]:
        """Series R, L, electrodes (exponent ``n_e``, None: as in params), W."""
        fixed = []
        if table.resistors:
            fixed.append(col(np.ones_like(w) + 0j))
        if table.inductors:
            fixed.append(col(1j * w))
        for _, ne in table.electrodes:
            e = (params[:, ne][:, None] if n_e is None else n_e) if ne >= 0 else 1.0
            fixed.append(col((1j * w) ** -e))
        if table.warburgs:   # semi-infinite Warburg: A_W (1 - j) / √ω
            fixed.append(col((1.0 - 1j) / np.sqrt(w)))
        return fixed

    k = len(table.kinds)
    arcs = [col(unit_response(_response_kind(table, j), 1j * w * tau[:, j, None],
                              n_fit[:, j, None])) for j in range(k)]
    w_top = np.nanmax(np.where(valid, w, np.nan), axis=1)
    w_low = np.nanmin(np.where(valid, w, np.nan), axis=1)
    g = int(np.ceil(3 * (np.log10(np.nanmax(w_top / w_low)) + 2))) + 1
    grid = (0.1 / w_top)[:, None] * 10.0 ** (np.arange(g)[None, :] / 3.0)   # (S, G)
    moved_n = np.where(np.asarray(table.n)[weakest] >= 0, MOVED_N, 1.0)
    x_grid = 1j * w[:, None, :] * grid[:, :, None]
    response = [_response_kind(table, j) for j in range(k)]
    moved = None
    for kind in dict.fromkeys(response[j] for j in weakest.tolist()):
        mine_kind = np.array([response[j] == kind for j in weakest.tolist()])
        m_k = col(unit_response(kind, x_grid, moved_n[:, None, None]))
        moved = m_k if moved is None else np.where(mine_kind[:, None, None], m_k, moved)
    assert moved is not None
    rows = np.arange(s)
    # the moved arc's column is zero among the static ones and comes from ``moved``
    arc_cols = [np.where((weakest == j)[:, None], 0.0, arcs[j]) for j in range(k)]
    # a series R or L the data barely show sits on its floor and solves to a negative
    # amplitude here: each is also tried left out (amplitude 0, kept at its fitted value)
    soft = list(range(int(bool(table.resistors)) + int(bool(table.inductors))))
    cost = np.full((s, g), np.inf)
    coef = np.zeros((s, g, len(fixed_columns(None)) + k))
    chosen_e = np.full((s, g), e_grid[0])
    n_fixed = len(fixed_columns(None))
    broad = np.full(s, -1)
    if scan_broadest:
        n_cmp = np.where(table.has_n, n_fit, np.inf)
        n_cmp[rows, weakest] = np.inf
        broad = np.where(np.isfinite(n_cmp.min(axis=1)), np.argmin(n_cmp, axis=1), -1)
    for n_e in e_grid if e_grid.size > 1 else (None,):
        cols_e = arc_cols
        if scan_broadest and n_e is not None:
            cols_e = [np.where((broad == j)[:, None],
                               col(unit_response(_response_kind(table, j),
                                                 1j * w * tau[:, j, None], n_e)), arc_cols[j])
                      if table.has_n[j] else arc_cols[j] for j in range(k)]
        static = np.stack(fixed_columns(None if scan_broadest else n_e) + cols_e,
                          axis=-1)                                         # (S, 2N, c)
        cost_e, coef_e = _score_places(static, moved, n_fixed + weakest, y, soft)
        better = cost_e < cost
        cost = np.where(better, cost_e, cost)
        coef = np.where(better[..., None], coef_e, coef)
        if n_e is not None:
            chosen_e = np.where(better, n_e, chosen_e)
    # the best places of distinct valleys of the cost along the grid first: the few best
    # places overall are neighbours in the valley the arc sits in (random circuits, seed
    # 187: the three best places of a spare arc were its own valley, the optimum's place
    # a local minimum of the grid two decades away)
    edge = np.full((s, 1), np.inf)
    left, right = np.concatenate([edge, cost[:, :-1]], 1), np.concatenate([cost[:, 1:], edge], 1)
    valley = np.isfinite(cost) & (cost <= left) & (cost <= right)
    pick = np.lexsort((cost, ~valley), axis=1)[:, :n_best]              # (S, n_best)
    out = np.repeat(params[:, None, :], n_best, axis=1)
    for t in range(n_best):
        c = coef[rows, pick[:, t]]                                       # (S, c)
        ok = np.isfinite(cost[rows, pick[:, t]])
        p = out[:, t]
        i = 0
        if table.resistors:   # (amplitude 0: left out, kept as fitted)
            for r in table.resistors:
                p[:, r] = np.where(ok & (c[:, i] > 0), c[:, i] / len(table.resistors), p[:, r])
            i += 1
        if table.inductors:
            for ind in table.inductors:
                p[:, ind] = np.where(ok & (c[:, i] > 0), c[:, i] / len(table.inductors),
                                     p[:, ind])
            i += 1
        for q, ne in table.electrodes:
            p[:, q] = np.where(ok, 1.0 / np.where(ok, c[:, i], 1.0), p[:, q])
            if ne >= 0 and e_grid.size > 1 and not scan_broadest:
                p[:, ne] = np.where(ok, chosen_e[rows, pick[:, t]], p[:, ne])
            i += 1
        if table.warburgs:
            for wb in table.warburgs:
                p[:, wb] = np.where(ok, c[:, i] / len(table.warburgs), p[:, wb])
            i += 1
        for j in range(k):
            mine = weakest == j
            t_j = np.where(mine, grid[rows, pick[:, t]], tau[:, j])
            n_j = np.where(mine, MOVED_N, n_fit[:, j])
            if scan_broadest:
                n_j = np.where((broad == j) & ok, chosen_e[rows, pick[:, t]], n_j)
            r_j = np.where(ok, c[:, i + j], params[:, table.r[j]])
            part = p.copy()
            _set_arc(part, table, j, r_j, t_j, n_j)
            p[ok] = part[ok]
        out[:, t] = p
    return out
