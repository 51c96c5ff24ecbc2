"""A circuit's fit must not depend on element names, their order or the notation (issue 12)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eis_pipeline.exceptions import ConvergenceWarning
from eis_pipeline.fitting import CircuitModel
from eis_pipeline.fitting.model import resolve_circuit
from tests.fitting.random_circuits import (
    TAILS,
    DrawnRandom,
    F,
    brute_force_cost,
    random_case,
    simulate,
)

PRESET = "p(R1,CPE1)-p(R2,CPE2)-CPE3"
SPELLINGS = [PRESET, "p(R0,CPE0)-p(R1,CPE1)-CPE2", "p(R1,CPE1)-p(R3,CPE3)-CPE2",
             "CPE3-p(R2,CPE2)-p(CPE1,R1)", "(RQ)(RQ)Q", "bulk-gb-electrode"]
TRUE = {"R1": 800.0, "CPE1_0": 2e-10, "CPE1_1": 0.93, "R2": 3000.0, "CPE2_0": 5e-8,
        "CPE2_1": 0.8, "CPE3_0": 3e-6, "CPE3_1": 0.88}
NOVOCONTROL = Path(__file__).parents[2] / ".." / "shared" / "formats" / "novocontrol"


def _arcs(model: CircuitModel) -> list[tuple[float, float]]:
    """(R, τ) of each R‖CPE arc in circuit order."""
    out = []
    for node in re.findall(r"p\((\w+),(\w+)\)", resolve_circuit(model.circuit).compiled.circuit):
        r = next(n for n in node if n.startswith("R"))
        q = next(n for n in node if n.startswith("CPE"))
        p = model.params_
        out.append((p[r], (p[r] * p[f"{q}_0"]) ** (1 / p[f"{q}_1"])))
    return out


def _check_same_optimum(f: np.ndarray, z: np.ndarray) -> None:
    """Every spelling is solved in one canonical form: identical numbers, not close ones."""
    models = [CircuitModel(c).fit(f, z) for c in SPELLINGS]
    costs = np.array([m.result_.cost for m in models])
    np.testing.assert_array_equal(costs, costs[0])
    ref = _arcs(models[0])
    assert ref[0][1] < ref[1][1]   # smaller τ first
    for m in models[1:]:
        np.testing.assert_array_equal(_arcs(m), ref)
        assert m.result_.nfev == models[0].result_.nfev


def _single_arc_spellings() -> list[str]:
    """Every way of writing p(R1,CPE1)-CPE2: names, term order, branch order, CDC."""
    out = []
    for a, e in ((1, 2), (0, 1), (5, 3)):
        for branch in (f"R{a},CPE{a}", f"CPE{a},R{a}"):
            arc, spike = f"p({branch})", f"CPE{e}"
            out += [f"{arc}-{spike}", f"{spike}-{arc}"]
    return [*out, "(RQ)Q", "Q(RQ)", "(QR)Q", "single-arc-electrode"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_single_arc_spellings_on_two_arc_spectra_are_identical(seed):
    """A one-arc circuit on a two-arc spectrum has a flat valley of near-optimal points; a
    spelling-dependent order of operations stopped spellings 0.15-0.35 % apart there."""
    z = simulate(PRESET, TRUE, np.random.default_rng(seed), noise=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fits = [CircuitModel(c).fit(F, z) for c in _single_arc_spellings()]
    ref = fits[0].result_
    for c, m in zip(_single_arc_spellings(), fits, strict=True):
        assert m.result_.cost == ref.cost, c
        r = next(n for n in m.params_ if n.startswith("R"))
        assert m.params_[r] == fits[0].params_["R1"], c


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_spellings_of_a_preset_reach_one_optimum_synthetic(seed):
    rng = np.random.default_rng(seed)
    z = simulate(PRESET, TRUE, rng, noise=0.01)
    _check_same_optimum(F, z)


def test_spellings_of_a_preset_reach_one_optimum_real_pellet():
    path = NOVOCONTROL / "Example2a.txt"
    if not path.exists():
        pytest.skip("../shared/formats/novocontrol/Example2a.txt not present")
    import eis_pipeline as eis

    ds = eis.read_spectra(path)[0]
    _check_same_optimum(ds["frequency"].values, ds["impedance"].values)


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(perm=st.permutations(range(6)), order=st.permutations(range(3)),
       swap=st.lists(st.booleans(), min_size=2, max_size=2), seed=st.integers(0, 10))
def test_random_renaming_and_reordering(perm, order, swap, seed):
    """Any renaming (indices), term order and branch order of the preset: one optimum."""
    a, b, e = perm[:3]
    arcs = [[f"R{a}", f"CPE{a}"], [f"R{b}", f"CPE{b}"]]
    for arc, flip in zip(arcs, swap, strict=True):
        if flip:
            arc.reverse()
    terms = [f"p({','.join(arcs[0])})", f"p({','.join(arcs[1])})", f"CPE{e}"]
    circuit = "-".join(terms[i] for i in order)
    z = simulate(PRESET, TRUE, np.random.default_rng(seed), noise=0.01)
    ref = CircuitModel(PRESET).fit(F, z)
    m = CircuitModel(circuit).fit(F, z)
    assert m.result_.cost == ref.result_.cost   # one canonical fit: identical, not close
    # the arc written first carries the smaller τ, as the preset's bulk arc does
    np.testing.assert_array_equal(_arcs(m), _arcs(ref))
    assert _arcs(m)[0][1] < _arcs(m)[1][1]
    # and the fits dataset records the roles of the same elements
    rec = resolve_circuit(circuit).roles
    first = next(i for i in order if i < 2)   # the arc written first
    assert rec["bulk"]["resistance"] == f"R{(a, b)[first]}"
    assert rec["electrode"] == {"cpe": f"CPE{e}"}


def _at_optimum(circuit: str, true: dict[str, float], rng: np.random.Generator,
                n_brute: int) -> str | None:
    """None when one fit reaches the ``n_brute``-start brute force's cost (+ 0.1 %), else
    a line saying by how much it misses."""
    z = simulate(circuit, true, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = CircuitModel(circuit).fit(F, z).result_.cost
    best = brute_force_cost(circuit, z, true, rng, n_brute)
    return None if ours <= best * (1 + 1e-3) else f"{circuit} {ours / best:.4g}x"


def _optimum_rate(n_examples: int, n_brute: int) -> tuple[float, list[str]]:
    """Share of hypothesis-generated circuits at the brute-force optimum: one to three arcs
    (R‖CPE or R‖C), optional series R and L, and an electrode CPE, a Warburg (Wo, Ws) or no
    tail, with random indices and term order. The rate is over the whole set, so the
    examples are collected and judged together rather than one by one."""
    misses: list[str] = []
    seen = [0]

    @settings(max_examples=n_examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data(), n_arcs=st.integers(1, 3), tail=st.sampled_from(TAILS),
           noise_seed=st.integers(0, 2**32 - 1))
    def case(data: st.DataObject, n_arcs: int, tail: str, noise_seed: int) -> None:
        circuit, true = random_case(DrawnRandom(data.draw), n_arcs, tail=tail)
        seen[0] += 1
        miss = _at_optimum(circuit, true, np.random.default_rng(noise_seed), n_brute)
        if miss is not None:
            misses.append(miss)

    case()
    return 1 - len(misses) / seen[0], misses


def test_random_circuits_reach_the_brute_force_optimum_quick():
    """A few hypothesis circuits of every shape, each against a 20-start brute force. At
    most one miss: hypothesis biases its draws with constants of the loaded modules, so the
    examples change with the code and with the tests run before, and at a true rate near 99 %
    a miss in 12 examples happens now and then (two in 0.5 % of draws)."""
    rate, misses = _optimum_rate(12, 20)
    assert rate >= 11 / 12, "misses:\n" + "\n".join(misses)


@pytest.mark.slow
def test_random_circuits_reach_the_brute_force_optimum():
    """Issue 12: >= 99 % of random circuits at the 50-start brute-force optimum, the circuits
    drawn by hypothesis (their examples change with the code: see the quick test). The same
    generator driven by numpy seeds (``random_case(rng, 2 + seed % 2)``, two or three arcs,
    scripts/optimum_rate.py) measured 992 of seeds 0-999 (docs/fitting.md);
    bench/bench_families.py measures each shape alone."""
    rate, misses = _optimum_rate(200, 50)
    assert rate >= 0.99, f"{rate:.1%} at the optimum; misses:\n" + "\n".join(misses)
