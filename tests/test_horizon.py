"""metaopt.horizon against independent methods.

* the rate of chapter 7, dynamics.spectral_radius with a curvature, against numpy eigenvalues of the
  2x2 matrix and the growth of long runs;
* meta_gradient_norms against exact central finite differences (tests/reference.py, Fractions);
* truncated_meta_gradient: k = T is the full gradient; other k against a sympy derivation
  with a held-constant copy of phi for the steps before T - k;
* closed_form_size against a plain sympy expansion of the loop; bptt_tape evaluated step by
  step against the exact forward-mode reference, and its cost linear in T;
* ES: on a quadratic test function the antithetic estimate is exactly (1/N) sum eps eps^T grad F,
  and within a few standard errors of grad F; on the meta-loss it converges to the gradient of the
  Gaussian-smoothed meta-loss, which is checked against a sympy Gaussian-moment closed form, and to
  the true gradient as sigma -> 0. All randomness seeded.
"""

from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

import metaopt
import reference as ref
from metaopt import dynamics, horizon

PHI_CASES = [tuple(np.random.default_rng(s).uniform([-1, -1.2, -1.5], [1, 1.2, 1.5])) for s in range(12)]


@pytest.mark.parametrize("phi", PHI_CASES)
def test_spectral_radius_against_eigenvalues_and_long_runs(phi):
    c = 0.7
    a, b = phi[0] * phi[2], phi[1]
    M = np.array([[1 + 2 * a * c, b], [2 * a * c, b]])
    rho = dynamics.spectral_radius(phi, curvature=c)
    assert rho == pytest.approx(np.abs(np.linalg.eigvals(M)).max(), rel=1e-12)
    # the error of a long run grows or shrinks like rho^t (plain loop, no metaopt)
    e, u, steps = 1.0, 0.0, 400
    size = []
    for _ in range(steps):
        e, u = (1 + 2 * a * c) * e + b * u, 2 * a * c * e + b * u
        size.append(max(abs(e), abs(u)))
    checked = rho > 1e-3 and 1e-280 < size[-1] < 1e280
    if checked:
        rate = (size[-1] / size[-101]) ** (1 / 100)
        assert rate == pytest.approx(rho, rel=0.05)


def test_spectral_radius_is_vectorized():
    phis = np.array(PHI_CASES)
    np.testing.assert_allclose(dynamics.spectral_radius(phis), [dynamics.spectral_radius(p) for p in PHI_CASES])


@pytest.mark.parametrize("phi", [(0.1, 0.5, -1.0), (0.1, 1.5, -1.0), (0.3, 0.2, -0.7)])
def test_gradient_norms_against_exact_finite_differences(phi):
    horizons = [1, 2, 3, 5, 8, 12]
    norms = horizon.meta_gradient_norms(phi, horizons=horizons, theta0=10.0, theta_star=5.0)
    for T, got in zip(horizons, norms):
        fd = ref.fd_gradient(phi, 10.0, 5.0, T, eps=Fraction(1, 10**8))
        want = float(sum(v * v for v in fd)) ** 0.5
        assert got == pytest.approx(want, rel=1e-8)


def sympy_truncated_final(phi, t0, ts, steps, k):
    p, q = sp.symbols("p1:4"), sp.symbols("q1:4")
    theta, h = sp.Rational(str(t0)), sp.Integer(0)
    ts = sp.Rational(str(ts))
    for t in range(steps):
        a1, a2, a3 = q if t < steps - k else p
        h = a1 * 2 * (theta - ts) + a2 * h
        theta = theta + a3 * h
    L = (theta - ts) ** 2
    values = {s: sp.Rational(str(v)) for s, v in zip(p + q, tuple(phi) * 2)}
    return [float(sp.diff(L, s).subs(values)) for s in p]


@pytest.mark.parametrize("steps,k", [(2, 1), (3, 1), (3, 2), (5, 2), (6, 4), (4, 4)])
def test_truncated_meta_gradient_against_sympy(steps, k):
    phi = (0.15, 0.45, -0.9)
    _, grad = horizon.truncated_meta_gradient(phi, truncation=k, theta0=7.5, theta_star=-1.25, steps=steps)
    np.testing.assert_allclose(grad, sympy_truncated_final(phi, 7.5, -1.25, steps, k), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("steps", [1, 2, 5, 11])
def test_truncated_with_k_equal_T_is_meta_gradient(steps):
    rng = np.random.default_rng(steps)
    phi = rng.uniform(-1, 1, (4, 3))
    loss, grad = horizon.truncated_meta_gradient(phi, truncation=steps, theta0=3.0, theta_star=-2.0, steps=steps)
    ref_loss, ref_grad = metaopt.meta_gradient(phi, theta0=3.0, theta_star=-2.0, steps=steps)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-13)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-12 * np.abs(ref_grad).max())


@pytest.mark.parametrize("steps", [1, 2, 3, 4])
def test_closed_form_size_against_plain_expansion(steps):
    p1, p2, p3 = sp.symbols("x y z")
    theta, h = sp.Integer(10), sp.Integer(0)
    for _ in range(steps):
        h = p1 * 2 * (theta - 5) + p2 * h
        theta = sp.expand(theta + p3 * h)
    L = sp.expand((theta - 5) ** 2)
    size = horizon.closed_form_size(steps=steps)
    assert size.degree == sp.Poly(L, p1, p2, p3).total_degree() == 4 * steps
    # count the non-zero coefficients by hand: a zero derivative (dL/dphi2 at T = 1) has no terms
    def nonzero(expr):
        return sum(1 for _, coeff in sp.Poly(expr, p1, p2, p3).terms() if coeff != 0)

    assert size.loss_terms == nonzero(L)
    assert size.gradient_terms == sum(nonzero(sp.diff(L, s)) for s in (p1, p2, p3))


@pytest.mark.parametrize("case", range(10))
def test_bptt_tape_evaluates_to_the_exact_gradient(case):
    phi, t0, ts, steps = ref.random_cases(10, seed=77, max_steps=6)[case]
    if steps == 0:
        steps = 3
    tape = horizon.bptt_tape(steps=steps)
    values = dict(zip(metaopt.symbolic.PHI, (sp.Rational(ref.frac(v).numerator, ref.frac(v).denominator) for v in phi)))
    values[sp.Symbol("theta_0")] = sp.Rational(ref.frac(t0).numerator, ref.frac(t0).denominator)
    values[sp.Symbol("theta_star")] = sp.Rational(ref.frac(ts).numerator, ref.frac(ts).denominator)
    for name, expr in tape:
        values[name] = expr.xreplace(values)
    exact = ref.forward(phi, t0, ts, steps).dloss
    got = [values[sp.Symbol(f"dL_dphi{i}")] for i in (1, 2, 3)]
    assert [Fraction(int(g.p), int(g.q)) for g in got] == list(exact)


def test_bptt_tape_cost_is_linear_in_T():
    ops = [sum(int(sp.count_ops(e)) for _, e in horizon.bptt_tape(steps=T)) for T in range(2, 9)]
    assert len(set(np.diff(ops))) == 1 and np.diff(ops)[0] > 0


# --- evolution strategies ------------------------------------------------------------------


def test_es_on_a_quadratic_is_exactly_the_sample_second_moment_times_the_gradient():
    rng = np.random.default_rng(123)
    A = rng.normal(size=(3, 3))
    A = A @ A.T + np.eye(3)
    b = rng.normal(size=3)
    f = lambda x: 0.5 * np.einsum("...i,ij,...j->...", x, A, x) + x @ b  # noqa: E731
    phi = np.array([0.3, -0.2, 0.5])
    grad_f = A @ phi + b
    for sigma in (1e-3, 0.5):  # for a quadratic the antithetic difference is exact at any sigma
        est = horizon.es_gradient(f, phi=phi, sigma=sigma, pairs=5000, seed=9)
        eps = np.random.default_rng(9).standard_normal((5000, 3))  # the draws documented by es_gradient
        np.testing.assert_allclose(est.grad, (eps.T @ eps / 5000) @ grad_f, rtol=1e-8)
        # statistically: within 5 standard errors of the true gradient (Cov = |g|^2 I + g g^T)
        se = np.sqrt((grad_f @ grad_f + grad_f**2) / 5000)
        assert np.all(np.abs(est.grad - grad_f) < 5 * se)
        np.testing.assert_allclose(est.stderr, se, rtol=0.1)


def gaussian_smoothed_sympy(phi, sigma, steps):
    """L_sigma(phi) and its gradient in closed form: expand L(phi + sigma eps), replace eps^k by E[eps^k]."""
    L, _ = metaopt.symbolic.meta_gradient(steps=steps)
    e = sp.symbols("e1:4")
    s = sp.Rational(str(sigma))
    point = [sp.Rational(str(v)) for v in phi]
    shifted = sp.Poly(L.xreplace({p: x + s * ei for p, x, ei in zip(metaopt.symbolic.PHI, sp.symbols("u1:4"), e)}), *e)
    moment = lambda k: 0 if k % 2 else sp.factorial2(k - 1)  # noqa: E731
    smooth = sum(coeff * moment(m[0]) * moment(m[1]) * moment(m[2]) for m, coeff in shifted.terms())
    u = sp.symbols("u1:4")
    at = dict(zip(u, point))
    return float(smooth.xreplace(at)), [float(sp.diff(smooth, ui).xreplace(at)) for ui in u]


@pytest.mark.parametrize("steps,sigma", [(1, 0.3), (2, 0.1), (2, 0.3), (3, 0.2)])
def test_smoothed_meta_loss_matches_gaussian_moments(steps, sigma):
    phi = (0.1, 0.5, -1.0)
    loss, grad = gaussian_smoothed_sympy(phi, sigma, steps)
    assert horizon.smoothed_meta_loss(phi, sigma=sigma, steps=steps) == pytest.approx(loss, rel=1e-10)
    np.testing.assert_allclose(horizon.smoothed_meta_gradient(phi, sigma=sigma, steps=steps), grad, rtol=1e-9, atol=1e-9)


def test_es_converges_to_the_smoothed_gradient_not_the_true_one():
    phi, sigma = (0.1, 0.5, -1.0), 0.3
    _, smooth = gaussian_smoothed_sympy(phi, sigma, 2)
    est = horizon.es_meta_gradient(phi, sigma=sigma, pairs=200_000, seed=5, steps=2)
    assert np.all(np.abs(est.grad - smooth) < 5 * est.stderr)
    true = metaopt.meta_gradient(phi)[1]
    assert np.any(np.abs(est.grad - true) > 10 * est.stderr)  # at sigma = 0.3 the two differ clearly


def test_es_and_smoothing_approach_the_true_gradient_as_sigma_shrinks():
    phi = (0.1, 0.5, -1.0)
    true = np.array([-113.4, -5.4, 11.34])  # the true meta-gradient at phi_old, by hand (chapter 3)
    errors = [np.abs(horizon.smoothed_meta_gradient(phi, sigma=s) - true).max() for s in (1e-1, 1e-2, 1e-3)]
    assert 50 < errors[0] / errors[1] < 200 and 50 < errors[1] / errors[2] < 200  # O(sigma^2)
    est = horizon.es_meta_gradient(phi, sigma=1e-3, pairs=100_000, seed=6)
    assert np.all(np.abs(est.grad - true) < 5 * est.stderr)


def test_es_bad_input():
    with pytest.raises(ValueError, match="sigma"):
        horizon.es_meta_gradient(sigma=0.0)
    with pytest.raises(ValueError, match="pairs"):
        horizon.es_meta_gradient(pairs=1)
    with pytest.raises(ValueError, match="phi"):
        horizon.es_gradient(lambda x: x.sum(-1), phi=np.zeros((2, 3)), sigma=0.1, pairs=10, seed=0)


def test_quadrature_order_beyond_T_plus_1_changes_nothing():
    # T + 1 nodes are exact for the polynomial meta-loss, so more nodes agree to rounding; fewer do not
    phi, sigma = (0.2, 0.6, -0.8), 0.2
    exact = horizon.smoothed_meta_gradient(phi, sigma=sigma, steps=4)
    np.testing.assert_allclose(horizon.smoothed_meta_gradient(phi, sigma=sigma, steps=4, order=9), exact, rtol=1e-10)
    assert not np.allclose(horizon.smoothed_meta_gradient(phi, sigma=sigma, steps=4, order=2), exact, rtol=1e-6)
    with pytest.raises(ValueError, match="order"):
        horizon.smoothed_meta_loss(phi, sigma=sigma, steps=4, order=0)


def test_gradient_norms_refuse_to_overflow():
    with pytest.raises(metaopt.DivergenceError, match=r"overflowed after the last step t=2999"):
        horizon.meta_gradient_norms((0.1, 1.5, -1.0), horizons=[5, 3000])
    with pytest.raises(TypeError, match="horizons"):
        horizon.meta_gradient_norms((0.1, 0.5, -1.0), horizons=[2.5])


def test_spectral_radius_lives_in_dynamics_only():
    """One spectral radius in the library: chapter 7 uses dynamics.spectral_radius (with curvature)."""
    assert not hasattr(horizon, "spectral_radius")
    # c = 0.7 at phi_old: alpha = 0.1, so M = [[1 - 0.14, 0.5], [-0.14, 0.5]]; trace 1.36, det 0.86 * 0.5 + 0.5 * 0.14 = 0.5
    # the discriminant 1.36^2 - 4 * 0.5 < 0: a complex pair of modulus sqrt(det) = sqrt(0.5)
    assert dynamics.spectral_radius((0.1, 0.5, -1.0), curvature=0.7) == pytest.approx(0.5**0.5, rel=1e-14)


def test_truncation_is_required_and_keyword_only():
    with pytest.raises(TypeError, match="required keyword-only argument: 'truncation'"):
        horizon.truncated_meta_gradient((0.1, 0.5, -1.0))
    with pytest.raises(TypeError, match="positional argument"):
        horizon.truncated_meta_gradient((0.1, 0.5, -1.0), 1)
    with pytest.raises(ValueError, match="truncation"):
        horizon.truncated_meta_gradient((0.1, 0.5, -1.0), truncation=3, steps=2)
    with pytest.raises(ValueError, match="truncation"):
        horizon.truncated_meta_gradient((0.1, 0.5, -1.0), truncation=0, steps=2)
    with pytest.raises(TypeError, match="truncation"):
        horizon.truncated_meta_gradient((0.1, 0.5, -1.0), truncation=1.5, steps=2)


def test_old_positional_calls_raise_type_error():
    with pytest.raises(TypeError, match="positional argument"):
        horizon.meta_gradient_norms((0.1, 0.5, -1.0), [1, 2])
    with pytest.raises(TypeError, match="positional argument"):
        horizon.closed_form_size(2)
    with pytest.raises(TypeError, match="positional argument"):
        horizon.bptt_tape(2)
    with pytest.raises(TypeError, match="positional argument"):
        horizon.es_gradient(lambda x: x.sum(-1), np.zeros(3), 0.1, 10, 0)
    with pytest.raises(TypeError, match="positional argument"):
        horizon.smoothed_meta_loss((0.1, 0.5, -1.0), 0.1)
