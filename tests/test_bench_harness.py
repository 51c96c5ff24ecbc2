"""The benchmark harness keeps the sections it did not re-run."""

from __future__ import annotations

from bench.__main__ import merge_sections


def test_merge_replaces_only_the_rerun_sections() -> None:
    previous = ("# Benchmark results\n\n- date: then\n\n## Fitting\n\nold fit\n\n"
                "### detail\n\nkept with its section\n\n## Reading\n\nold read\n")
    merged = merge_sections(previous, ["## Reading\n\nnew read", "## Extra\n\nextra"])
    assert merged.index("## Fitting") < merged.index("## Reading") < merged.index("## Extra")
    assert "old fit" in merged and "### detail\n\nkept with its section" in merged
    assert "new read" in merged and "old read" not in merged
    assert "- date: then" in merged and "- re-run " in merged and ": Reading, Extra" in merged


def test_floor_kernel_matches_the_compiled_circuit() -> None:
    # The floor kernel is hand-written; it must compute the same Z and Jacobian as the
    # project's compiled pellet circuit, or its timing would measure some other arithmetic.
    import numpy as np

    from bench.floor_kernel import PARAMS, evaluate, omega_grid
    from eis_pipeline.circuits import compile_circuit

    omega = omega_grid()
    z, jac = evaluate(omega, PARAMS)
    ref_z, ref_jac = compile_circuit("p(R1,CPE1)-p(R2,CPE2)-CPE3").impedance_and_jacobian(
        PARAMS[None, :], omega / (2 * np.pi))
    np.testing.assert_allclose(z, np.ravel(ref_z), rtol=1e-12)
    np.testing.assert_allclose(jac, np.reshape(ref_jac, jac.shape), rtol=1e-10, atol=0)
