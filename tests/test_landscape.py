"""metaopt.landscape: the exact Hessian of the meta-loss, checked against finite
differences of the reverse-mode meta-gradient and of the exact Fraction gradient."""

from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

import metaopt
import reference as ref
from metaopt import landscape

CASES = [c for c in ref.random_cases(18, seed=90, max_steps=5) if c[3] > 0]


@pytest.mark.parametrize("case", CASES)
def test_hessian_matches_finite_differences_of_meta_gradient(case):
    phi, theta0, theta_star, steps = case
    H = landscape.hessian(phi, steps=steps, theta0=theta0, theta_star=theta_star)
    eps = 1e-5
    columns = []
    for j in range(3):
        e = np.zeros(3)
        e[j] = eps
        plus = metaopt.meta_gradient(np.add(phi, e), theta0=theta0, theta_star=theta_star, steps=steps)[1]
        minus = metaopt.meta_gradient(np.subtract(phi, e), theta0=theta0, theta_star=theta_star, steps=steps)[1]
        columns.append((plus - minus) / (2 * eps))
    fd = np.stack(columns, axis=-1)
    scale = ref.float_scale(ref.forward(phi, theta0, theta_star, steps))
    np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-7 * scale)


@pytest.mark.parametrize("case", CASES[:8])
def test_hessian_matches_exact_fraction_differences(case):
    """Central differences of the exact forward-mode gradient, in Fractions: truncation error only."""
    phi, theta0, theta_star, steps = case
    # the symbolic Hessian reads floats by their decimal form; give the reference the same numbers
    base = [Fraction(repr(float(v))) for v in phi]
    t0, ts = Fraction(repr(theta0)), Fraction(repr(theta_star))
    eps = Fraction(1, 10**8)
    H_exact = landscape.hessian_exact(phi, steps=steps, theta0=theta0, theta_star=theta_star)
    for j in range(3):
        plus, minus = list(base), list(base)
        plus[j] += eps
        minus[j] -= eps
        dplus = ref.forward(plus, t0, ts, steps).dloss
        dminus = ref.forward(minus, t0, ts, steps).dloss
        for i in range(3):
            fd = (dplus[i] - dminus[i]) / (2 * eps)
            exact = Fraction(int(sp.numer(H_exact[i, j])), int(sp.denom(H_exact[i, j])))
            assert abs(fd - exact) <= Fraction(1, 10**6) * (1 + abs(exact)), (i, j, float(fd), float(exact))


def test_hessian_at_phi_old_is_rational_and_matches_floats():
    H = landscape.hessian_exact()
    assert all(isinstance(v, sp.Rational) for v in H)
    assert H == H.T
    np.testing.assert_allclose(landscape.hessian(), np.array(H, dtype=float), rtol=1e-13)
    # one entry by hand: L = 25 r^2 with r = (1 + 2a)^2 + 2 a phi2, a = phi1 phi3;
    # d2L/dphi2^2 = 50 (2 phi1 phi3)^2 = 50 * 0.04 = 2
    assert H[1, 1] == 2


def test_hessian_batched():
    rng = np.random.default_rng(91)
    phi = rng.uniform(-1, 1, (4, 5, 3))
    H = landscape.hessian(phi)
    assert H.shape == (4, 5, 3, 3)
    np.testing.assert_allclose(H[2, 3], landscape.hessian(phi[2, 3]), rtol=1e-14)
    s = landscape.sharpness(phi)
    assert s.shape == (4, 5)
    assert s[1, 4] == pytest.approx(np.max(np.linalg.eigvals(landscape.hessian(phi[1, 4])).real), rel=1e-10)


def test_quadratic_step_sizes_minimize_the_model():
    rng = np.random.default_rng(92)
    A = rng.normal(size=(3, 3))
    H = A @ A.T + 0.1 * np.eye(3)
    g = rng.normal(size=3)
    sizes = landscape.quadratic_step_sizes(g, hessian=H)
    assert sizes._fields == ("eta_max", "eta_best")  # the order of symbolic.step_sizes
    largest, best = sizes
    assert (sizes.eta_max, sizes.eta_best) == (largest, best)
    model = lambda eta: -eta * g @ g + 0.5 * eta**2 * g @ H @ g  # noqa: E731
    etas = np.linspace(0, 2 * largest, 2001)
    assert etas[np.argmin([model(e) for e in etas])] == pytest.approx(best, rel=2e-3)
    assert model(largest) == pytest.approx(0.0, abs=1e-12 * (g @ g) * largest)
    for flat in (-H, np.zeros((3, 3))):  # no minimum along g: no step size, and no inf returned for one
        with pytest.raises(ValueError, match=r"^the curvature g\^T H g = -?[\d.e+-]+ of hessian along grad is not positive"):
            landscape.quadratic_step_sizes(g, hessian=flat)
    with pytest.raises(ValueError, match="along grad is not positive"):
        landscape.quadratic_step_sizes(np.zeros(3), hessian=H)


def test_quadratic_step_sizes_old_positional_call_raises():
    """The order of the result changed (it was (eta_best, eta_max)); the old positional call raises TypeError."""
    with pytest.raises(TypeError, match="positional argument"):
        landscape.quadratic_step_sizes(np.ones(3), np.eye(3))
    # g = (1, 1, 1), H = I: eta_best = g.g / g.H.g = 1, eta_max = 2
    assert landscape.quadratic_step_sizes(np.ones(3), hessian=np.eye(3)) == (2.0, 1.0)


def test_old_positional_problem_raises():
    """hessian(phi, steps, theta0, theta_star) was positional; now only phi is."""
    with pytest.raises(TypeError, match="positional argument"):
        landscape.hessian(metaopt.PHI_OLD, 2, 10.0, 5.0)
    with pytest.raises(TypeError, match="positional argument"):
        landscape.hessian_symbolic(2)
    with pytest.raises(TypeError, match="positional argument"):
        landscape.loss_slice(np.array(metaopt.PHI_OLD), 0, 2, [0.1], [-1.0])


def test_zero_loss_minimum_has_rank_one_hessian():
    """On the zero-loss surface H = 2 grad(r) grad(r)^T (r = theta_T - theta*): one non-zero eigenvalue."""
    a = -0.25
    phi = (0.25, -(1 + 2 * a) ** 2 / (2 * a), -1.0)
    lam = np.linalg.eigvalsh(landscape.hessian(phi))
    assert abs(lam[0]) < 1e-9 * lam[-1] and abs(lam[1]) < 1e-9 * lam[-1]
    # By hand: theta_2 - theta* = e0 r with e0 = 5 and r = (1 + 2a)^2 + 2 a phi2, a = phi1 phi3, so at a
    # zero of r, H = 2 e0^2 grad(r) grad(r)^T and its one eigenvalue is 2 e0^2 |grad r|^2, where
    # grad r = (2(1+2a) 2 phi3 + 2 phi2 phi3, 2a, 2(1+2a) 2 phi1 + 2 phi1 phi2) = (-3, -1/2, 3/4) here.
    p1, p2, p3 = (Fraction(v) for v in phi)
    a = p1 * p3
    assert (1 + 2 * a) ** 2 + 2 * a * p2 == 0  # phi is on the zero-loss surface
    grad_r = (4 * (1 + 2 * a) * p3 + 2 * p2 * p3, 2 * a, 4 * (1 + 2 * a) * p1 + 2 * p1 * p2)
    by_hand = 2 * 25 * sum(g * g for g in grad_r)
    assert by_hand == Fraction(3925, 8)  # 490.625
    assert landscape.sharpness(phi) == pytest.approx(float(by_hand), rel=1e-12)


def test_loss_slice_matches_fraction_loss():
    center = np.array(metaopt.PHI_OLD)
    u = np.array([0.05, 0.1, 0.3])
    v = np.array([-1.2, -0.8])
    grid = landscape.loss_slice(center, i=0, j=2, u=u, v=v)
    assert grid.shape == (2, 3)
    for r, p3 in enumerate(v):
        for c, p1 in enumerate(u):
            assert grid[r, c] == pytest.approx(float(ref.loss((p1, 0.5, p3), 10.0, 5.0, 2)), rel=1e-12)
    with pytest.raises(ValueError, match="indices"):
        landscape.loss_slice(center, i=0, j=0, u=u, v=v)
