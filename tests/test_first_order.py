"""metaopt.first_order: the meta-gradient with the optimizee gradients frozen, checked
against sympy (the gradients as symbols, substituted after differentiating) and against
finite differences of a plain Fraction loop whose gradient inputs are held fixed."""

from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

import metaopt
import reference as ref
from metaopt import first_order


def sympy_first_order(phi, grads, theta0, theta_star):
    """Differentiate L with the gradients as free symbols n_t, then substitute them."""
    p = sp.symbols("p1 p2 p3")
    n = sp.symbols(f"n0:{len(grads)}") if grads else ()
    theta, h = sp.Integer(0) + sp.Rational(Fraction(theta0)), sp.Integer(0)
    for t in range(len(grads)):
        h = p[0] * n[t] + p[1] * h
        theta = theta + p[2] * h
    L = (theta - sp.Rational(Fraction(theta_star))) ** 2
    at = dict(zip(p, (sp.Rational(Fraction(v)) for v in phi)))
    at.update({s: sp.Rational(v) for s, v in zip(n, grads)})
    return [L.diff(q).subs(at) for q in p]


def frozen_loss_plain(phi, grads, theta0, theta_star):
    p1, p2, p3 = phi
    theta, h = Fraction(theta0), Fraction(0)
    for grad in grads:
        h = p1 * grad + p2 * h
        theta = theta + p3 * h
    return (theta - Fraction(theta_star)) ** 2


@pytest.mark.parametrize("case", ref.random_cases(40, seed=80, max_steps=6))
def test_first_order_matches_sympy_with_frozen_gradients(case):
    phi, theta0, theta_star, steps = case
    exact = ref.forward(phi, theta0, theta_star, steps)
    expected = sympy_first_order(phi, exact.grad, theta0, theta_star)
    loss, grad = first_order.meta_gradient_first_order(phi, theta0=theta0, theta_star=theta_star, steps=steps)
    scale = ref.float_scale(exact)
    ref.assert_close_exact(grad, [Fraction(int(e.p), int(e.q)) for e in expected], rel=1e-9,
                           atol=1e-12 * scale, what="first-order")
    ref.assert_close_exact(loss, exact.loss, rel=1e-9, atol=1e-12 * scale, what="loss")


@pytest.mark.parametrize("case", ref.random_cases(30, seed=81, max_steps=6))
def test_first_order_matches_finite_differences_of_the_frozen_loss(case):
    phi, theta0, theta_star, steps = case
    grads = ref.forward(phi, theta0, theta_star, steps).grad  # exact, then held fixed
    base = [ref.frac(v) for v in phi]
    eps = Fraction(1, 10**7)
    fd = []
    for i in range(3):
        plus, minus = list(base), list(base)
        plus[i] += eps
        minus[i] -= eps
        fd.append((frozen_loss_plain(plus, grads, ref.frac(theta0), ref.frac(theta_star))
                   - frozen_loss_plain(minus, grads, ref.frac(theta0), ref.frac(theta_star))) / (2 * eps))
    _, grad = first_order.meta_gradient_first_order(phi, theta0=theta0, theta_star=theta_star, steps=steps)
    scale = ref.float_scale(ref.forward(phi, theta0, theta_star, steps))
    ref.assert_close_exact(grad, fd, rel=1e-8, atol=1e-10 * scale, what="fd of frozen loss")


@pytest.mark.parametrize("case", ref.random_cases(20, seed=82, max_steps=5))
def test_frozen_loss_is_the_plain_loop_and_the_meta_loss(case):
    phi, theta0, theta_star, steps = case
    rng = np.random.default_rng(abs(hash(case)) % 2**32)
    grads = rng.uniform(-5, 5, steps)
    expected = frozen_loss_plain([ref.frac(v) for v in phi], [ref.frac(g) for g in grads],
                                 ref.frac(theta0), ref.frac(theta_star))
    got = first_order.frozen_loss(phi, grads=grads, theta0=theta0, theta_star=theta_star)
    assert got == pytest.approx(float(expected), rel=1e-9, abs=1e-9)
    traj = metaopt.unroll(phi, theta0=theta0, theta_star=theta_star, steps=steps)
    assert first_order.frozen_loss(phi, grads=traj.grad, theta0=theta0, theta_star=theta_star) == pytest.approx(
        metaopt.meta_loss(phi, theta0=theta0, theta_star=theta_star, steps=steps), rel=1e-9, abs=1e-9)


def test_one_step_is_exact():
    """With T = 1 the only gradient is nabla_0 = 2(theta_0 - theta*), which phi cannot change."""
    rng = np.random.default_rng(83)
    phi = rng.uniform(-1, 1, (20, 3))
    _, fo = first_order.meta_gradient_first_order(phi, theta0=4.0, theta_star=-2.0, steps=1)
    _, exact = metaopt.meta_gradient(phi, theta0=4.0, theta_star=-2.0, steps=1)
    np.testing.assert_allclose(fo, exact, rtol=1e-13, atol=1e-13)


def test_differs_from_exact_at_phi_old():
    """A check that can fail: the approximation is not the exact gradient for T = 2."""
    _, fo = first_order.meta_gradient_first_order(metaopt.PHI_OLD, theta0=10.0, theta_star=5.0, steps=2)
    _, exact = metaopt.meta_gradient(metaopt.PHI_OLD, theta0=10.0, theta_star=5.0, steps=2)
    # by hand: theta_bar stays 5.4; h_bar_1 = -5.4, h_bar_0 = -8.1; dphi1 = -5.4*8 - 8.1*10
    np.testing.assert_allclose(fo, [-124.2, -5.4, 12.42], rtol=1e-12)
    assert not np.allclose(fo, exact)


@pytest.mark.parametrize("case", ref.random_cases(20, seed=84))
def test_symmetry_holds_for_first_order(case):
    phi, theta0, theta_star, steps = case
    _, g = first_order.meta_gradient_first_order(phi, theta0=theta0, theta_star=theta_star, steps=steps)
    scale = ref.float_scale(ref.forward(phi, theta0, theta_star, steps))
    assert phi[0] * g[0] == pytest.approx(phi[2] * g[2], rel=1e-9, abs=1e-11 * scale)


def test_errors():
    with pytest.raises(ValueError, match="phi"):
        first_order.meta_gradient_first_order((1.0, 2.0))
    with pytest.raises(metaopt.DivergenceError, match=r"^the inner loop diverged: theta_\d+ left the finite"):
        first_order.meta_gradient_first_order((3.0, 0.9, -3.0), theta0=10.0, theta_star=5.0, steps=1000)
    with pytest.raises(ValueError, match="grads"):
        first_order.frozen_loss((0.1, 0.5, -1.0), grads=3.0)
