"""The general sweep (metaopt.sweep) against chapter 3's short one (metaopt.core) and against exact references.

* With curvature 1, the final loss, no truncation and all second derivatives,
  the general sweep is chapter 3's ``core.meta_gradient``, bit for bit.
* Curvature: L_c(phi) = c * L_1(c*phi1, phi2, phi3) (the gradient the optimizer sees is
  scaled by c, and so is the loss), checked against the exact Fraction reference.
* Weights: sum_t w_t L(theta_t) against the exact reference run to each horizon t.
* Truncation and first order: against exact central differences (Fractions, eps = 1e-40)
  of the surrogate each one is the exact gradient of, written out here.
None of the expected values comes from metaopt.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import reference as ref
from metaopt import DivergenceError, core, sweep

CASES = ref.random_cases(60, seed=11, max_steps=12)


def scale(phi, theta0, theta_star, steps):
    return ref.float_scale(ref.forward(phi, theta0, theta_star, steps))


@pytest.mark.parametrize("phi, theta0, theta_star, steps", CASES)
def test_equals_core_bit_for_bit(phi, theta0, theta_star, steps):
    problem = dict(theta0=theta0, theta_star=theta_star, steps=steps)
    loss, grad = sweep.meta_gradient(phi, **problem)
    core_loss, core_grad = core.meta_gradient(phi, **problem)
    assert loss == core_loss
    assert grad.tolist() == core_grad.tolist()
    for got, expected in zip(sweep.unroll(phi, **problem), core.unroll(phi, **problem)):
        assert got.tolist() == expected.tolist()
    assert sweep.meta_loss(phi, **problem) == core.meta_loss(phi, **problem)


def test_equals_core_on_a_batch_bit_for_bit():
    rng = np.random.default_rng(3)
    phi = rng.uniform([-1, -0.9, -1], [1, 0.9, 1], size=(4, 5, 3))
    theta0 = rng.uniform(-10, 10, size=(4, 5))
    loss, grad = sweep.meta_gradient(phi, theta0=theta0, theta_star=2.0, steps=7)
    core_loss, core_grad = core.meta_gradient(phi, theta0=theta0, theta_star=2.0, steps=7)
    assert np.array_equal(loss, core_loss) and np.array_equal(grad, core_grad)


@pytest.mark.parametrize("phi, theta0, theta_star, steps", CASES[:30])
@pytest.mark.parametrize("c", [0.25, 1.5])
def test_curvature_against_the_exact_reference(phi, theta0, theta_star, steps, c):
    c_exact = ref.frac(c)
    scaled = (ref.frac(phi[0]) * c_exact, ref.frac(phi[1]), ref.frac(phi[2]))
    ex = ref.forward(scaled, theta0, theta_star, steps)
    expected_loss = c_exact * ex.loss
    expected_grad = (c_exact * c_exact * ex.dloss[0], c_exact * ex.dloss[1], c_exact * ex.dloss[2])
    loss, grad = sweep.meta_gradient(phi, theta0=theta0, theta_star=theta_star, steps=steps, curvature=c)
    atol = 1e-12 * ref.float_scale(ex) * 4
    ref.assert_close_exact(loss, [expected_loss], rel=1e-12, atol=atol, what="loss")
    ref.assert_close_exact(grad, expected_grad, rel=1e-12, atol=atol, what="grad")


@pytest.mark.parametrize("phi, theta0, theta_star, steps", [c for c in CASES if c[3] >= 1][:30])
def test_weights_against_the_exact_reference(phi, theta0, theta_star, steps):
    rng = np.random.default_rng(steps)
    weights = rng.uniform(0.0, 2.0, size=steps)
    runs = [ref.forward(phi, theta0, theta_star, t) for t in range(1, steps + 1)]
    w = [ref.frac(x) for x in weights]
    expected_loss = sum(wt * r.loss for wt, r in zip(w, runs))
    expected_grad = [sum(wt * r.dloss[i] for wt, r in zip(w, runs)) for i in range(3)]
    loss, grad = sweep.meta_gradient(phi, theta0=theta0, theta_star=theta_star, steps=steps, weights=weights)
    atol = 1e-12 * max(ref.float_scale(r) for r in runs) * 2 * steps
    ref.assert_close_exact(loss, [expected_loss], rel=1e-12, atol=atol, what="loss")
    ref.assert_close_exact(grad, expected_grad, rel=1e-12, atol=atol, what="grad")


# --- surrogates, exactly: the function each switch differentiates exactly ----------------------

EPS = Fraction(1, 10**40)


def exact_run(phi, theta, h, ts, steps, c, frozen_grads=None):
    """theta after ``steps`` steps from (theta, h) in Fractions; gradients recomputed, or taken from frozen_grads."""
    p1, p2, p3 = phi
    for t in range(steps):
        grad = 2 * c * (theta - ts) if frozen_grads is None else frozen_grads[t]
        h = p1 * grad + p2 * h
        theta = theta + p3 * h
    return theta


def central(fun, phi):
    out = []
    for i in range(3):
        plus, minus = list(phi), list(phi)
        plus[i] += EPS
        minus[i] -= EPS
        out.append((fun(plus) - fun(minus)) / (2 * EPS))
    return out


TRUNCATED = [(phi, t0, ts, T, k) for (phi, t0, ts, T) in CASES if T >= 2 for k in (1, T - 1)][:24]


@pytest.mark.parametrize("phi, theta0, theta_star, steps, k", TRUNCATED)
def test_truncation_against_a_restarted_loop(phi, theta0, theta_star, steps, k):
    """Truncated BPTT through the last k steps is the exact gradient of the loop restarted at
    step T - k from the (frozen) theta_{T-k} and h_{T-k-1}."""
    c = Fraction(3, 4)
    exact_phi = [ref.frac(v) for v in phi]
    ts = ref.frac(theta_star)
    # the frozen state: run T - k steps exactly at phi
    theta, h = ref.frac(theta0), Fraction(0)
    for _ in range(steps - k):
        h = exact_phi[0] * 2 * c * (theta - ts) + exact_phi[1] * h
        theta = theta + exact_phi[2] * h

    def restarted(p):
        return c * (exact_run(p, theta, h, ts, k, c) - ts) ** 2

    expected = central(restarted, exact_phi)
    _, grad = sweep.meta_gradient(phi, theta0=theta0, theta_star=theta_star, steps=steps, curvature=0.75, truncation=k)
    big = max(abs(float(theta)), abs(float(theta0)), abs(theta_star), 1.0) ** 2
    ref.assert_close_exact(grad, expected, rel=1e-9, atol=1e-9 * big * steps, what="truncated grad")


@pytest.mark.parametrize("phi, theta0, theta_star, steps", [c for c in CASES if c[3] >= 1][:24])
def test_first_order_against_the_frozen_gradient_surrogate(phi, theta0, theta_star, steps):
    """first_order=True is the exact gradient of the loss with the optimizee gradients frozen at their values."""
    c = Fraction(5, 4)
    exact_phi = [ref.frac(v) for v in phi]
    t0, ts = ref.frac(theta0), ref.frac(theta_star)
    grads, theta, h = [], t0, Fraction(0)
    for _ in range(steps):
        grads.append(2 * c * (theta - ts))
        h = exact_phi[0] * grads[-1] + exact_phi[1] * h
        theta = theta + exact_phi[2] * h
    weights = [Fraction(1)] * steps

    def frozen(p):  # the trajectory-summed loss, every gradient input frozen
        total, th, hh = Fraction(0), t0, Fraction(0)
        for t in range(steps):
            hh = p[0] * grads[t] + p[1] * hh
            th = th + p[2] * hh
            total += weights[t] * c * (th - ts) ** 2
        return total

    expected = central(frozen, exact_phi)
    _, grad = sweep.meta_gradient(
        phi, theta0=theta0, theta_star=theta_star, steps=steps, curvature=1.25, weights=np.ones(steps), first_order=True
    )
    big = max([abs(float(g)) for g in grads] + [1.0]) ** 2
    ref.assert_close_exact(grad, expected, rel=1e-9, atol=1e-9 * big * steps, what="first-order grad")


def test_switches_change_the_gradient():
    """Each switch really changes the result (so the checks above cannot pass by ignoring it)."""
    problem = dict(theta0=10.0, theta_star=5.0, steps=4)
    full = sweep.meta_gradient((0.1, 0.5, -1.0), **problem).grad
    for options in (dict(truncation=2), dict(first_order=True), dict(curvature=2.0), dict(weights=[1, 1, 1, 1])):
        assert not np.allclose(sweep.meta_gradient((0.1, 0.5, -1.0), **problem, **options).grad, full), options


@pytest.mark.parametrize("curvature", [1.0, 2.5])
def test_divergence_names_the_first_step_that_overflowed(curvature):
    """The step in the message is the first theta that is not finite, found here by a plain float loop
    (the sweep keeps nothing when it need not, so it finds the step as it goes)."""
    import math

    from metaopt import sweep

    phi1, phi2, phi3 = 3.0, 0.5, -1.0
    theta, h, first = 10.0, 0.0, None
    for t in range(3000):
        h = phi1 * 2.0 * curvature * (theta - 5.0) + phi2 * h
        theta = theta + phi3 * h
        if not math.isfinite(theta):
            first = t + 1
            break
    message = rf"^the inner loop diverged: theta_{first} left the finite floating-point range at step t={first - 1} "
    for call in (lambda: sweep.meta_loss((phi1, phi2, phi3), theta0=10.0, theta_star=5.0, steps=3000, curvature=curvature),
                 lambda: sweep.meta_gradient((phi1, phi2, phi3), theta0=10.0, theta_star=5.0, steps=3000,
                                             curvature=curvature, truncation=5),
                 lambda: sweep.unroll((phi1, phi2, phi3), theta0=10.0, theta_star=5.0, steps=3000, curvature=curvature)):
        with pytest.raises(DivergenceError, match=message):
            call()


def test_the_sweep_states_what_it_would_keep():
    """3 values per kept step per phi: a batch of 1000 kept for 10^5 steps is 3 x 10^8 values, refused
    up front; truncation keeps k steps, so the same batch and horizon with k = 10 runs."""
    phi = np.tile((0.1, 0.5, -1.0), (1000, 1))
    with pytest.raises(ValueError, match=r"^this call would keep 300000000 values \(2\.24 GiB\): 3 values per kept step"):
        sweep.unroll(phi, theta0=10.0, theta_star=5.0, steps=10**5)
    loss, grad = sweep.meta_gradient(phi[:2], theta0=10.0, theta_star=5.0, steps=10**4, truncation=10)
    assert grad.shape == (2, 3) and np.all(np.isfinite(grad))


def test_the_sweep_refuses_an_overflowing_backward_pass():
    """phi1 = 0: theta never moves (the forward pass is finite), but h's adjoint grows like
    phi2^(T - t) = 10^(T - t) backwards (tests/test_errors.py derives it): the sweep names the step."""
    phi = (0.0, 10.0, 1.0)
    assert sweep.meta_loss(phi, theta0=10.0, theta_star=5.0, steps=400) == 25.0
    with pytest.raises(DivergenceError, match=r"^the meta-gradient overflowed in backpropagation through time: .* "
                                              r"at step t=(8\d|9\d) \(counting back from t=399\)"):
        sweep.meta_gradient(phi, theta0=10.0, theta_star=5.0, steps=400)
