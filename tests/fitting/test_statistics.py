"""Covariance and information criteria against independent computations."""

from __future__ import annotations

import numpy as np
from scipy.optimize import curve_fit

from eis_pipeline.fitting.statistics import fit_statistics


def test_covariance_matches_scipy_curve_fit(rng):
    t = np.linspace(0, 2, 30)
    y = 3.0 * np.exp(-1.7 * t) + rng.normal(0, 0.02, t.size)

    def model(t, a, k):
        return a * np.exp(-k * t)

    popt, pcov = curve_fit(model, t, y, p0=[1, 1])
    a, k = popt
    r = (model(t, a, k) - y)[None, :]
    # internal coordinates u = (ln a, k): d model / d u = (a e, -a t e)
    e = np.exp(-k * t)
    jac = np.stack([a * e, -a * t * e], axis=-1)[None]
    st = fit_statistics(r, jac, np.array([[a, 1.0]]), np.arange(2), 2, np.array([t.size]))
    np.testing.assert_allclose(st.covariance[0], pcov, rtol=1e-5)
    np.testing.assert_allclose(st.stderr[0], np.sqrt(np.diag(pcov)), rtol=1e-5)
    np.testing.assert_allclose(np.diag(st.correlation[0]), 1.0)
    chi2 = float(np.sum(r**2))
    np.testing.assert_allclose(st.chi_square[0], chi2, rtol=1e-12)
    np.testing.assert_allclose(st.reduced_chi_square[0], chi2 / (t.size - 2), rtol=1e-12)
    np.testing.assert_allclose(st.aic[0], t.size * np.log(chi2 / t.size) + 4)
    np.testing.assert_allclose(st.bic[0], t.size * np.log(chi2 / t.size) + 2 * np.log(t.size))


def test_fixed_parameters_and_unidentifiable_directions():
    rng = np.random.default_rng(0)
    r = rng.normal(0, 0.1, (1, 20))
    # two identical columns: their sum is determined, each alone is not
    col = rng.normal(size=20)
    jac = np.stack([col, col, rng.normal(size=20)], axis=-1)[None]
    st = fit_statistics(r, jac, np.ones((1, 3)), np.array([0, 2, 3]), 4, np.array([20]))
    cov = st.covariance[0]
    assert np.isnan(cov[0, 0]) and np.isnan(cov[2, 2])
    assert np.isfinite(cov[3, 3]) and cov[3, 3] > 0
    assert st.stderr[0, 1] == 0.0 and np.all(cov[1] == 0.0)
    assert np.isnan(st.correlation[0, 1, 3])


def test_one_fit_path_equals_the_batched_one(rng):
    """A single fit takes the 1-D path; the same fit in a batch of three the batched one."""
    m, pf = 40, 4
    jac = rng.standard_normal((3, m, pf))
    jac[1, :, 3] = jac[1, :, 2] * 2.0          # an unidentifiable direction
    jac[2, 0, 0] = np.nan                      # a non-finite Jacobian
    res = rng.normal(0, 0.1, (3, m))
    der = np.exp(rng.normal(0, 1, (3, pf)))
    free = np.array([0, 2, 3, 4])
    n_obs = np.full(3, m)
    batch = fit_statistics(res, jac, der, free, 5, n_obs)
    for i in range(3):
        one = fit_statistics(res[i:i + 1], jac[i:i + 1], der[i:i + 1], free, 5, n_obs[i:i + 1])
        for name in ("chi_square", "reduced_chi_square", "aic", "bic", "covariance",
                     "stderr", "correlation"):
            np.testing.assert_allclose(getattr(one, name), getattr(batch, name)[i:i + 1],
                                       rtol=1e-10, atol=1e-300, err_msg=name)
        assert one.dof[0] == batch.dof[i] and one.n_observations[0] == m
