"""Starting points from the data alone.

For a circuit with roles (a preset's, or read from its structure: fitting/structure.py) the
features of a pellet spectrum map onto the circuit directly (PHYSICS.md sections 1-3):

- series resistance and stray inductance: ``R_s + jωL + A (jω)^-n`` fitted to the top six
  points (linear for fixed n; n on a grid);
- blocking electrode: the low-frequency spike beyond the trough of ``-Z''``; the phase of
  ``Z - R_total`` at the lowest frequency gives ``n``, its modulus ``Q``;
- arcs: after removing the electrode and series terms, apices of ``-Z''`` give the time
  constants (``ω_apex = (R Q)^(-1/n)``), the low-frequency real part gives the total arc
  resistance, and the valley between two apices splits it into bulk and grain boundary.

Arcs can overlap or lie partly outside the window, so several alternative starts are built per
spectrum (:data:`N_STARTS`) and solved in the same batch; the fitter keeps the best. Parameters
without a role get generic values from the spectrum's scale (|Z| and the mid frequency).

The feature search is one kernel (:mod:`eis_pipeline.fitting._start_kernels`), compiled by
numba or run as the same source in plain Python (:func:`eis_pipeline._jit.pure`); the
generic values and the τ search (:func:`grid_start`) are numpy over all spectra at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from eis_pipeline import _jit
from eis_pipeline.fitting import compiled_lm
from eis_pipeline.fitting.memo import Recent
from eis_pipeline.fitting.structure import SeriesTerms

__all__ = ["N_STARTS", "generic_guess", "initial_guesses", "positive_normal_lstsq",
           "spectral_features"]

Array = NDArray[np.float64]

#: Alternative starting points per spectrum (the feature kernel builds this many).
N_STARTS = 4
#: Arc exponent assumed at the start.
ARC_N = 0.9


def _take(a: Array, idx: NDArray[np.intp]) -> Array:
    """``a[i, idx[i]]`` for every row i (plain fancy indexing: cheaper than take_along_axis)."""
    return a[np.arange(idx.shape[0]), idx]


def _median_rows(a: Array) -> Array:
    """``np.median(a, axis=1)`` for finite rows, without its per-call overhead."""
    a = np.sort(a, axis=1)
    n = a.shape[1]
    return np.asarray((a[:, (n - 1) // 2] + a[:, n // 2]) / 2.0)


def spectral_features(frequency: Array, impedance: NDArray[np.complex128]) -> dict[str, Any]:
    """Scale and shape features of NaN-padded spectra sorted by nothing in particular.

    Parameters
    ----------
    frequency : ndarray (S, N)
        Hz; padded entries NaN.
    impedance : ndarray of complex (S, N)
        Ohm; padded entries NaN.

    Returns
    -------
    dict of ndarray
        ``omega`` and ``z`` sorted by decreasing frequency (padding last), ``n_valid``,
        ``omega_max``, ``omega_min``, ``omega_mid`` (geometric mean), ``z_scale`` (median |Z|).
    """
    f = np.asarray(frequency, dtype=np.float64)
    z = np.asarray(impedance, dtype=np.complex128)
    if not (f.shape[1] < 2 or (f[:, :-1] > f[:, 1:]).all()):
        # (already in decreasing order, as most analysers record, when the test passes)
        order = np.argsort(-np.where(np.isfinite(f), f, -np.inf), axis=1, kind="stable")
        f = np.take_along_axis(f, order, axis=1)
        z = np.take_along_axis(z, order, axis=1)
    valid = np.isfinite(f) & np.isfinite(z)
    n_valid = valid.sum(axis=1)
    omega = 2 * np.pi * f
    last = np.maximum(n_valid - 1, 0)
    omega_max = omega[:, 0]
    omega_min = _take(omega, last)
    return {
        "omega": omega, "z": z, "valid": valid, "n_valid": n_valid.astype(np.float64),
        "omega_max": omega_max, "omega_min": omega_min,
        "omega_mid": np.sqrt(omega_max * omega_min),
        "z_scale": (_median_rows(np.abs(z)) if valid.all()
                    else np.nanmedian(np.where(valid, np.abs(z), np.nan), axis=1)),
    }


def generic_guess(names: Sequence[str], feat: Mapping[str, Any]) -> Array:
    """Order-of-magnitude values for any parameter from its name and the spectrum's scale.

    Returns an array (S, P).
    """
    zs = feat["z_scale"]
    w = feat["omega_mid"]
    parsed = [_element(n) for n in names]
    n_r = max(1, sum(1 for kind, _ in parsed if kind == "R"))
    out = np.empty((zs.size, len(names)))
    q_cpe = None
    for j, (kind, suffix) in enumerate(parsed):
        if kind == "R":
            v = zs / n_r
        elif kind == "C":
            v = 1.0 / (zs * w)
        elif kind == "L":
            v = 1e-3 * zs / feat["omega_max"]
        elif kind == "CPE" and suffix == "1":
            v = ARC_N
        elif kind == "CPE":
            if q_cpe is None:   # the same for every CPE
                q_cpe = 1.0 / (zs * w**ARC_N)
            v = q_cpe
        elif kind == "W":
            v = zs * np.sqrt(w)
        elif kind in ("Wo", "Ws"):
            v = zs if suffix == "0" else 1.0 / w
        else:
            v = np.ones_like(zs)
        out[:, j] = v
    return out


@lru_cache(maxsize=1024)
def _element(name: str) -> tuple[str, str]:
    """``"CPE1_0" -> ("CPE", "0")``, ``"R1" -> ("R", "")``."""
    base, _, suffix = name.partition("_")
    letters = base.rstrip("0123456789")
    return letters, suffix


def initial_guesses(
    frequency: Array,
    impedance: NDArray[np.complex128],
    names: Sequence[str],
    roles: Mapping[str, Mapping[str, str]] | None = None,
    bulk_from_intercept: bool = False,
) -> Array:
    """Alternative starting points, shape (S, N_STARTS, P), for NaN-padded spectra (S, N).

    Parameters
    ----------
    frequency, impedance : ndarray (S, N)
        Padded with NaN.
    names : sequence of str
        The circuit's parameter names.
    roles : mapping, optional
        Role -> element mapping of a preset (docs/contracts.md); without it only generic
        values are used (varied in time constant across the starts).
    bulk_from_intercept : bool
        The bulk resistance is a series resistance read at the high-frequency intercept.
    """
    feat = spectral_features(frequency, impedance)
    if roles:
        return _from_roles(feat, names, roles, bulk_from_intercept)
    index = {n: i for i, n in enumerate(names)}
    out = np.repeat(generic_guess(names, feat)[:, None, :], N_STARTS, axis=1)
    # generic: vary every time constant by decades across the starts
    for k, factor in enumerate((1.0, 1e-2, 1e2, 1e-4)[:N_STARTS]):
        for name, j in index.items():
            kind, suffix = _element(name)
            if kind == "C" or (kind == "CPE" and suffix == "0"):
                out[:, k, j] *= factor
    return out


def _from_roles(feat: Mapping[str, Any], names: Sequence[str],
                roles: Mapping[str, Mapping[str, str]], bulk_from_intercept: bool) -> Array:
    """:func:`initial_guesses` for roles: each role's element from its spectral feature
    (:func:`eis_pipeline.fitting._start_kernels.role_starts`); parameters without a role
    get :func:`generic_guess` values."""
    plan = _plan(tuple(names), tuple((r, tuple(e.items())) for r, e in roles.items()),
                 bulk_from_intercept)
    z = feat["z"]
    out: Array = _kernels().role_starts(
        feat["omega"], np.ascontiguousarray(z.real), np.ascontiguousarray(z.imag),
        feat["n_valid"].astype(np.int64), len(names), plan.inductance,
        plan.series_resistance, plan.extra_resistance, plan.electrode, plan.arcs,
        plan.n_arcs, HF_EXPONENTS, ARC_N)
    if plan.generic:
        out[:, :, plan.generic] = generic_guess(names, feat)[:, None, plan.generic]
        return out
    # Every parameter has a role and there are two arcs: the τ search (grid_start) also
    # gives a start. The feature kernel sees the apices of -Z''; where two arcs overlap (a
    # decade apart) it sees one and guesses the other's place, while the search fits every
    # placement of both. (One arc: the kernel's starts do as well, in fewer evaluations on
    # the demo spectra. Arcs of different kinds: the engine adds the search itself.)
    terms = _plan_terms(tuple(names), plan) if plan.n_arcs == 2 else None
    if terms is not None and len({a[2] for a in terms.arcs}) == 1:
        grid = grid_start(feat["omega"] / (2 * np.pi), feat["z"], names, terms)
        if grid is not None:
            grid = np.where(np.isfinite(grid), grid, out[:, 0])
            out = np.concatenate([grid[:, None], out], axis=1)
    return out


def _plan_terms(names: tuple[str, ...], plan: _Plan) -> SeriesTerms | None:
    """The circuit's series terms (structure.SeriesTerms) read back from a plan whose roles
    cover every parameter; None without an arc."""
    arcs = []
    for r, q, _, cap in plan.arcs[:plan.n_arcs].tolist():
        if r < 0:
            return None
        arcs.append((names[r], names[q].rsplit("_", 1)[0], "CPE") if q >= 0
                    else (names[r], names[cap], "C"))
    if not arcs:
        return None
    resistors = tuple(names[c] for c in (plan.series_resistance, plan.extra_resistance)
                      if c >= 0)
    inductors = (names[plan.inductance],) if plan.inductance >= 0 else ()
    q, _, cap = plan.electrode.tolist()
    electrodes = ((names[q].rsplit("_", 1)[0], "CPE"),) if q >= 0 else (
        ((names[cap], "C"),) if cap >= 0 else ())
    return SeriesTerms(tuple(arcs), resistors, inductors, electrodes)


#: Exponents tried by the high-frequency fit (``_start_kernels.high_frequency``).
HF_EXPONENTS = np.linspace(0.5, 1.0, 11)
HF_EXPONENTS.flags.writeable = False


def _kernels() -> Any:
    """The start kernels, compiled (numba) or, when that is off or fails to load, their
    pure-Python twin: the same source either way."""
    if compiled_lm.ENABLED:
        kernels = compiled_lm.load_kernels("_start_kernels")
        if kernels is not None:
            return kernels
    return _jit.pure("eis_pipeline.fitting._start_kernels")


@dataclass(frozen=True)
class _Plan:
    """The roles as the column indices the start kernel writes (-1: absent)."""

    inductance: int
    series_resistance: int         # the bulk read at the high-frequency intercept
    extra_resistance: int          # a series resistance beside the arcs
    electrode: NDArray[np.int64]   # (Q, n, capacitor)
    arcs: NDArray[np.int64]        # rows (R, Q, n, capacitor), bulk first
    n_arcs: int
    generic: list[int]             # columns no role covers


RolesKey = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]


@lru_cache(maxsize=256)
def _plan(names: tuple[str, ...], roles: RolesKey, bulk_from_intercept: bool) -> _Plan:
    """Where each role's elements sit in ``names`` (cached per circuit)."""
    index = {n: i for i, n in enumerate(names)}
    by_role = {role: dict(elements) for role, elements in roles}

    def col(name: str | None) -> int:
        return index.get(name, -1) if name is not None else -1

    bulk = by_role.get("bulk", {})
    elec = by_role.get("electrode", {})
    series = bulk_from_intercept and bulk.get("resistance") in index
    cpe = elec.get("cpe")
    electrode = ([col(f"{cpe}_0"), col(f"{cpe}_1"), -1] if cpe is not None
                 else [-1, -1, col(elec.get("capacitor"))])
    arcs = []
    for name in ("bulk", "grain_boundary"):
        role = by_role.get(name, {})
        if (role.get("resistance") in index
                and (role.get("cpe") or role.get("capacitor")) is not None
                and not (name == "bulk" and series)):
            q = role.get("cpe")
            has_q = q is not None and f"{q}_0" in index
            arcs.append([index[role["resistance"]], col(f"{q}_0") if has_q else -1,
                         col(f"{q}_1") if has_q else -1, col(role.get("capacitor"))])
    n_arcs = len(arcs)
    arcs += [[-1, -1, -1, -1]] * (2 - n_arcs)
    inductance = col(by_role.get("inductance", {}).get("inductor"))
    series_col = index[bulk["resistance"]] if series else -1
    extra = col(by_role.get("series", {}).get("resistance"))
    written = {inductance, series_col, extra, *electrode, *(c for a in arcs for c in a)}
    return _Plan(inductance, series_col, extra, np.array(electrode, dtype=np.int64),
                 np.array(arcs, dtype=np.int64), n_arcs,
                 [j for j in range(len(names)) if j not in written])


#: Time constants tried per arc by :func:`grid_start`: one per decade, from a decade above
#: the top frequency to a decade below the lowest.
GRID_PER_DECADE = 1.0
#: Exponents assumed by :func:`grid_start` for arc CPEs and for an electrode CPE.
GRID_ARC_N = 0.9
GRID_ELECTRODE_N = 0.85


def _arc_orders(kinds: tuple[str, ...]) -> list[tuple[int, ...]]:
    """Distinct assignments of the arcs (their kinds) to increasing time constants: every
    ordering of arcs of different kinds, one per set of alike arcs."""
    from itertools import permutations

    seen: dict[tuple[str, ...], tuple[int, ...]] = {}
    for perm in permutations(range(len(kinds))):
        seen.setdefault(tuple(kinds[i] for i in perm), perm)
    return list(seen.values())


def _coth_over(root: NDArray[np.complex128], inverse: bool) -> NDArray[np.complex128]:
    """``coth(r) / r`` (``tanh(r) / r`` with ``inverse``) for Re r >= 0, without the
    overflow of cosh and sinh at large r: tanh r = (1 - e^-2r) / (1 + e^-2r)."""
    e = np.exp(-2.0 * root)
    t = (1.0 - e) / (1.0 + e)
    return np.asarray(t / root if inverse else 1.0 / (t * root))


def _power(x: Any, n: Any) -> NDArray[np.complex128]:
    """``x ** n``; for ``x = jy`` with y ≥ 0 (every x = jωτ) as ``y^n e^(jnπ/2)``, a real
    power and one phase per exponent: numpy's complex power costs ~4x as much (the same
    values to the last bit or two)."""
    x = np.asarray(x)
    if np.iscomplexobj(x) and not x.real.any() and (x.imag >= 0).all():
        return np.asarray(x.imag ** n * np.exp(0.5j * np.pi * np.asarray(n)))
    return np.asarray(x ** n)


def unit_response(kind: str, x: Any, n: Any = GRID_ARC_N) -> NDArray[np.complex128]:
    """Impedance per unit amplitude of a term placed on a grid of time constants at
    ``x = jωτ`` (:func:`grid_start`, the arc moves of :mod:`~eis_pipeline.fitting.
    arc_restarts`): an arc (R‖CPE with exponent ``n``, default :data:`GRID_ARC_N`; R‖C), a
    finite Warburg (``Wo``: coth √x / √x, ``Ws``: tanh √x / √x), a transmission line with a
    CPE (``TLMQ``, Z = R x^(-γ/2) coth x^(γ/2) with x^γ = R / Z_s, γ = ``n``) or a Gerischer
    (``G``: 1 / √(1 + x)); every one is R times this for a fixed τ (and exponent)."""
    if kind == "CPE":
        return np.asarray(1.0 / (1.0 + _power(x, n)))
    if kind == "C":
        return np.asarray(1.0 / (1.0 + x))
    if kind in ("Wo", "Ws"):
        return _coth_over(np.sqrt(x), inverse=kind == "Ws")
    if kind == "TLMQ":
        return _coth_over(_power(x, n / 2.0), inverse=False)
    if kind == "G":
        return np.asarray(1.0 / np.sqrt(1.0 + x))
    raise ValueError(f"no τ-grid response for {kind!r}")


#: τ-grid unit responses of recent fits (:func:`_grid_responses`), by kind and grid.
_RESPONSES: Recent[NDArray[np.complex128]] = Recent(16)


def _grid_responses(kind: str, w: Array, tau: Array) -> NDArray[np.complex128]:
    """``unit_response(kind, jωτ)`` (S, G, N) for ω (S, N) and τ (S, G). Where every
    spectrum has the same ω and τ rows (one frequency grid: τ is placed relative to the
    window), one row (1, G, N) computed once and kept across calls (a campaign's batches
    on one grid), broadcasting over the spectra: elementwise, the same values."""
    if not ((w == w[:1]).all() and (tau == tau[:1]).all()):
        return unit_response(kind, 1j * w[:, None, :] * tau[:, :, None])
    def row() -> NDArray[np.complex128]:
        h = unit_response(kind, 1j * w[:1, None, :] * tau[:1, :, None])
        h.flags.writeable = False   # shared by every later call on this grid
        return h

    return _RESPONSES.get((kind, GRID_ARC_N, w.shape[1], w[0].tobytes() + tau[0].tobytes()),
                          row)


def grid_start(frequency: Array, impedance: NDArray[np.complex128], names: Sequence[str],
               terms: Any) -> Array | None:
    """One start (S, P) for a circuit of series terms (structure.SeriesTerms), from a search
    over the arcs' time constants.

    For fixed time constants and exponents the model ``R_s + jωL + A (jω)^-n_e +
    Σ R_k / (1 + (jωτ_k)^n_k)`` is linear in (R_s, L, A, R_k): every assignment of the
    arcs to a grid of τ (one per decade over the window ± a decade, arcs in increasing τ)
    is solved by modulus-weighted linear least squares, and the best one with all
    coefficients positive gives the start (CPE ``Q = τⁿ / R``, PHYSICS.md section 3; C =
    τ / R). So the data's arcs are mapped onto the circuit's by time constant, whatever the
    elements are called or the order they are written in. None where no assignment is
    feasible or the circuit has more than three arcs (four terms: three arcs and a
    diffusion element; C(G, 4) placements per assignment, still one Gram matrix).
    """
    from itertools import combinations

    # diffusion elements are placed on the τ grid like arcs: (name, name, kind)
    arcs = [*terms.arcs, *((d, d, kind) for d, kind in getattr(terms, "diffusion", ()))]
    warburgs = getattr(terms, "warburgs", ())
    k = len(arcs)
    # three arcs and a diffusion element too: without this start the Warburg of such a
    # circuit starts nowhere near the data's tail (random three arcs + Wo: 1.9x the optimum)
    if k > 3 + bool(getattr(terms, "diffusion", ())) or k == 0:
        return None
    f = np.asarray(frequency, dtype=np.float64)
    z = np.asarray(impedance, dtype=np.complex128)
    valid = np.isfinite(f) & np.isfinite(z)
    w = 2 * np.pi * np.where(valid, f, 1.0)
    s = f.shape[0]
    inv = np.where(valid, 1.0 / np.where(valid, np.abs(z), 1.0), 0.0)
    y = np.concatenate([np.where(valid, z.real, 0.0) * inv,
                        np.where(valid, z.imag, 0.0) * inv], axis=1)     # (S, 2N)

    def col(h: Any) -> Array:
        """Weighted real and imaginary parts of a basis function (S, N) or (S, G, N)."""
        wt = inv if h.ndim == 2 else inv[:, None, :]
        return np.concatenate([h.real * wt, h.imag * wt], axis=-1)

    fixed: list[Array] = []
    if terms.resistors:
        fixed.append(col(np.ones_like(z)))
    if terms.inductors:
        fixed.append(col(1j * w))
    if terms.electrodes:
        n_e = GRID_ELECTRODE_N if terms.electrodes[0][1] == "CPE" else 1.0
        fixed.append(col((1j * w) ** -n_e))
    if warburgs:   # semi-infinite Warburg: A_W (1 - j) / √ω, linear in A_W
        fixed.append(col((1.0 - 1j) / np.sqrt(w)))
    w_top = np.nanmax(np.where(valid, w, np.nan), axis=1)
    w_low = np.nanmin(np.where(valid, w, np.nan), axis=1)
    decades = np.log10(w_top / w_low) + 2.0
    g = int(np.ceil(np.nanmax(decades) * GRID_PER_DECADE)) + 1
    # τ grid per spectrum: (S, G), relative to its own window
    tau = (0.1 / w_top)[:, None] * 10.0 ** (np.arange(g)[None, :] / GRID_PER_DECADE)
    basis = {kind: col(_grid_responses(kind, w, tau))
             for kind in dict.fromkeys(a[2] for a in arcs)}                  # (S, G, 2N)
    orders = _arc_orders(tuple(a[2] for a in arcs))
    combos = np.array(list(combinations(range(g), k)), dtype=np.intp)        # (C, k)
    best_cost = np.full(s, np.inf)
    best_coef = np.zeros((s, len(fixed) + k))
    best_tau = np.zeros((s, k))
    n_fixed = len(fixed)
    fx = np.stack(fixed, axis=-1) if fixed else np.zeros((s, y.shape[1], 0))   # (S, 2N, c)
    soft = list(range(int(bool(terms.resistors)) + int(bool(terms.inductors))))
    # every model's normal equations are entries of one Gram matrix of all basis columns
    # (the fixed terms, then each kind's G arcs): no pass over the points per placement
    kinds = list(basis)
    every = np.concatenate([np.moveaxis(fx, 2, 1), *(basis[kd] for kd in kinds)], axis=1)
    gram = np.einsum("sim,sjm->sij", every, every)                            # (S, T, T)
    every_y = np.einsum("sim,sm->si", every, y)
    yy = np.einsum("sm,sm->s", y, y)
    for order in orders:
        # arc order[j] takes the j-th smallest τ of the combination
        idx = np.concatenate([np.broadcast_to(np.arange(n_fixed), (combos.shape[0], n_fixed)),
                              np.stack([n_fixed + g * kinds.index(arcs[order[j]][2])
                                        + combos[:, j] for j in range(k)], axis=1)],
                             axis=1)                                          # (C, c)
        c_i, coef_i, i = _best_normal(gram[:, idx[:, :, None], idx[:, None, :]],
                                      every_y[:, idx], yy, soft)
        better = c_i < best_cost
        if better.any():
            best_cost = np.where(better, c_i, best_cost)
            tau_i = tau[np.arange(s)[:, None], combos[i]]                    # (S, k)
            perm = np.empty(k, dtype=np.intp)
            perm[list(order)] = np.arange(k)
            coef_i[:, n_fixed:] = coef_i[:, n_fixed + perm]   # arcs back to circuit order
            best_coef[better] = coef_i[better]
            best_tau[better] = tau_i[better][:, perm]   # back to circuit order of the arcs
    # the grid is a decade coarse: move each arc's τ by thirds, then ninths, of a decade
    # while that lowers the linear misfit (arcs a decade apart are otherwise placed off
    # by up to a factor 3, and the fitter starts on the wrong side of a saddle)
    shifts = np.array([-2.0, -1.0, 1.0, 2.0])
    found = np.isfinite(best_cost)   # (spectra without a feasible placement have no τ)

    def arc_col(a: int, t: Array) -> Array:
        """Arc ``a``'s weighted column at time constants ``t`` (S,) or (S, M)."""
        wt = w if t.ndim == 1 else w[:, None, :]
        tt = t[:, None] if t.ndim == 1 else t[:, :, None]
        return col(unit_response(arcs[a][2], 1j * wt * tt))

    # each arc alone, then all arcs together (j = k): arcs a decade apart whose τ both lie
    # between the decade grid's points are placed half a decade off together, and moving
    # either alone toward its place crosses the other's, a rise in the misfit
    moves = range(k + 1) if k > 1 else range(k)
    # the models of every shift in one buffer: the fixed columns written once; each arc's
    # column at its current τ is kept (a moved arc's is its column at the winning shift, the
    # same product τ·factor), so only the moved arcs' columns are computed
    x = np.empty((s, shifts.size, y.shape[1], n_fixed + k))
    x[..., :n_fixed] = fx[:, None]
    current = [arc_col(a, best_tau[:, a]) for a in range(k)]                 # (S, 2N) each
    rows = np.arange(s)
    for step in (1.0 / 3.0, 1.0 / 9.0):
        for j in moves:
            factor = 10.0 ** (step * shifts)[None, :]
            for a in range(k):
                x[..., n_fixed + a] = (arc_col(a, best_tau[:, a, None] * factor)
                                       if j in (a, k) else current[a][:, None])
            c_i, coef_i, i = _best_linear(x, y, soft)
            better = (c_i < best_cost) & found
            if better.any():
                best_cost = np.where(better, c_i, best_cost)
                best_coef[better] = coef_i[better]
                moved = slice(None) if j == k else slice(j, j + 1)
                best_tau[better, moved] *= factor[0, i][better, None]
                for a in (range(k) if j == k else (j,)):
                    current[a][better] = x[rows, i, :, n_fixed + a][better]
    if not np.isfinite(best_cost).any():
        return None
    index = {n: i for i, n in enumerate(names)}
    out = np.full((s, len(names)), np.nan)
    z_scale = (_median_rows(np.abs(z)) if valid.all()   # (np.nanmedian's overhead)
               else np.nanmedian(np.where(valid, np.abs(z), np.nan), axis=1))
    j = 0
    if terms.resistors:
        r_s = np.maximum(best_coef[:, j], 1e-3 * z_scale)
        for r in terms.resistors:
            out[:, index[r]] = r_s / len(terms.resistors)
        j += 1
    if terms.inductors:
        l_s = np.maximum(best_coef[:, j], 1e-4 * z_scale / w_top)
        for ind in terms.inductors:
            out[:, index[ind]] = l_s / len(terms.inductors)
        j += 1
    if terms.electrodes:
        for e, kind in terms.electrodes:
            q = len(terms.electrodes) / best_coef[:, j]
            if kind == "CPE":
                out[:, index[f"{e}_0"]], out[:, index[f"{e}_1"]] = q, GRID_ELECTRODE_N
            else:
                out[:, index[e]] = q
        j += 1
    if warburgs:
        for wb in warburgs:
            out[:, index[wb]] = best_coef[:, j] / len(warburgs)
        j += 1
    for a_i, (r, cap, kind) in enumerate(arcs):
        rk = best_coef[:, n_fixed + a_i]
        t = best_tau[:, a_i]
        if kind in ("Wo", "Ws", "G"):   # (R, τ) or Gerischer (R, t)
            out[:, index[f"{r}_0"]], out[:, index[f"{r}_1"]] = rk, t
            continue
        if kind == "TLMQ":   # (R, Q, γ): R/Z_s = (jωτ)^γ, so Q = τ^γ / R
            out[:, index[f"{r}_0"]] = rk
            out[:, index[f"{r}_1"]] = t**GRID_ARC_N / rk
            out[:, index[f"{r}_2"]] = GRID_ARC_N
            continue
        out[:, index[r]] = rk
        if kind == "CPE":
            out[:, index[f"{cap}_0"]] = t**GRID_ARC_N / rk
            out[:, index[f"{cap}_1"]] = GRID_ARC_N
        else:
            out[:, index[cap]] = t / rk
    # spectra without a feasible assignment: NaN, replaced by the caller
    out[~np.isfinite(best_cost)] = np.nan
    return out


def _best_linear(x: Array, y: Array, soft: list[int]
                 ) -> tuple[Array, Array, NDArray[np.intp]]:
    """The best of M linear models per spectrum: ``x`` (S, M, 2N, c) columns, ``y`` (S, 2N).

    Every coefficient must be positive. The ``soft`` columns (a series R, an L) are also
    tried left out (coefficient 0): one the data barely show can take a negative value that
    absorbs the grid's misplaced τ and n (a "negative inductance" fit of two arcs off the
    grid). Returns the cost (inf where nothing is feasible), coefficients (S, c) and the
    index of the model (S,)."""
    a, b = _normal_equations(x, y)
    return _best_normal(a, b, np.einsum("sm,sm->s", y, y), soft)


def _normal_equations(x: Array, y: Array) -> tuple[Array, Array]:
    """XᵀX (S, M, c, c) and Xᵀy (S, M, c) of :func:`_best_linear`'s models: the numbers of
    ``einsum("scmi,scmj->scij")`` and ``einsum("scmi,sm->sci")``.

    For c > 1 einsum's inner loop runs over the c columns and takes the 2N points one after
    the other (each product rounded, then added): here the same sums in the same order with
    the S M models as the inner loop, ~3x faster (tests/fitting/test_grid_start_sums.py).
    For c = 1 einsum sums along the points in SIMD blocks: it is kept."""
    if x.shape[3] == 1:
        return np.einsum("scmi,scmj->scij", x, x), np.einsum("scmi,sm->sci", x, y)
    xt = np.ascontiguousarray(np.moveaxis(x, (2, 3), (0, 1)))              # (2N, c, S, M)
    return (np.einsum("mibc,mjbc->bcij", xt, xt),
            np.einsum("mibc,mb->bci", xt, np.ascontiguousarray(y.T)))


def _best_normal(a: Array, b: Array, yy: Array, soft: list[int]
                 ) -> tuple[Array, Array, NDArray[np.intp]]:
    """:func:`_best_linear` from the normal equations: ``a`` (S, M, c, c) = XᵀX, ``b``
    (S, M, c) = Xᵀy, ``yy`` (S,) = yᵀy (:func:`positive_normal_lstsq` for each model, then
    the best model of each spectrum)."""
    cost, coef = positive_normal_lstsq(a, b, yy[:, None], soft)
    i = cost.argmin(axis=1)
    rows = np.arange(a.shape[0])
    return cost[rows, i], coef[rows, i], i


@lru_cache(maxsize=64)
def _variants(soft: tuple[int, ...], c: int) -> NDArray[np.bool_]:
    """(2^len(soft), c) the columns kept by each variant of :func:`positive_normal_lstsq`:
    every subset of the soft columns left out, the full model first (ties keep it)."""
    keep = np.ones((1 << len(soft), c), dtype=np.bool_)
    for mask in range(1, 1 << len(soft)):
        keep[mask, [j for bit, j in enumerate(soft) if mask >> bit & 1]] = False
    keep.flags.writeable = False
    return keep


def positive_normal_lstsq(a: Array, b: Array, yy: Array, soft: Sequence[int] = ()
                          ) -> tuple[Array, Array]:
    """Least squares with every coefficient positive, from the normal equations of any
    batch of problems: ``a`` (..., c, c) = XᵀX, ``b`` (..., c) = Xᵀy, ``yy`` = yᵀy
    (broadcast against the batch shape ``...``).

    Each problem is solved unconstrained; a solution with a coefficient ≤ 0 is infeasible
    (cost inf), no active-set search (the callers try many models and keep the best
    feasible one). The ``soft`` columns are also tried left out, every subset of them
    (coefficient 0); the best feasible variant is kept. The normal equations are Jacobi
    scaled (unit diagonal) before a ridge of 1e-12: the columns differ by many orders of
    magnitude (an inductance's ωL/|Z| near an L-C resonance against an electrode's), and a
    ridge relative to the unscaled trace (the largest column's norm²) shrank every other
    coefficient to nothing (random circuits, seed 246: every R of the τ-grid start 4e-4 Ω).
    The cost is ``yy - 2 bᵀx + xᵀAx``, no pass over the data per problem. One loop over
    the problems (:func:`~eis_pipeline.fitting._start_kernels.positive_normal_solve`,
    compiled): a batch of small systems through numpy cost a dozen calls' overhead each.
    Returns the cost (...) (inf where no variant is feasible) and the coefficients
    (..., c) (zero there)."""
    c = a.shape[-1]
    shape = a.shape[:-2]
    if b.shape[:-1] != shape or np.shape(yy) != shape:
        shape = np.broadcast_shapes(shape, b.shape[:-1], np.shape(yy))
        a = np.broadcast_to(a, (*shape, c, c))
        b = np.broadcast_to(b, (*shape, c))
        yy = np.broadcast_to(yy, shape)
    cost, coef = _kernels().positive_normal_solve(
        np.ascontiguousarray(a, dtype=np.float64).reshape(-1, c, c),
        np.ascontiguousarray(b, dtype=np.float64).reshape(-1, c),
        np.ascontiguousarray(yy, dtype=np.float64).reshape(-1), _variants(tuple(soft), c))
    return cost.reshape(shape), coef.reshape(*shape, c)
