"""The adjoints of backpropagation through time, one by one, and the paths that compute them.

* Every value ``backprop_trace`` reports is a derivative of the meta-loss: dL/dθ_t, dL/dh_t,
  dL/d∇_t, dL/dg_t, and each step's share of dL/dφ. Each is checked against an exact
  derivative found without any sweep: perturb that one intermediate by ±1 in exact rational
  arithmetic and take the central difference. The meta-loss is quadratic in any one such
  perturbation (every later value is linear in it), so the central difference is the
  derivative exactly, with no truncation error.
* ``meta_gradient`` has a fast path for plain floats and the full path for everything else;
  a batch runs the same lines on arrays, in a workspace reused from call to call. All of
  them give the same bits, and a later call never changes what an earlier one returned.
"""

from fractions import Fraction

import numpy as np
import pytest

import metaopt
from metaopt import dynamics
from reference import frac


def exact_loss(phi, theta0, theta_star, steps, *, what=None, at=None, delta=0):
    """L(θ_T) in exact arithmetic, with ``delta`` added to one intermediate: ``what`` at step ``at``.

    ``what``: "theta" (θ_at, before step ``at`` reads it; at = T is θ_T), "grad", "h", "g"
    (∇, h, g of step ``at``), or "phi1".."phi3" (that parameter, in step ``at`` only).
    """
    phi1, phi2, phi3 = (frac(p) for p in phi)
    theta, star, h = frac(theta0), frac(theta_star), Fraction(0)

    def bump(name, t, value):
        return value + delta if (what, at) == (name, t) else value

    for t in range(steps):
        theta = bump("theta", t, theta)
        grad = bump("grad", t, 2 * (theta - star))
        h = bump("h", t, bump("phi1", t, phi1) * grad + bump("phi2", t, phi2) * h)
        g = bump("g", t, bump("phi3", t, phi3) * h)
        theta = theta + g
    theta = bump("theta", steps, theta)
    return (theta - star) ** 2


def exact_derivative(problem, what, at):
    plus = exact_loss(**problem, what=what, at=at, delta=1)
    minus = exact_loss(**problem, what=what, at=at, delta=-1)
    return (plus - minus) / 2


def random_problem(seed):
    rng = np.random.default_rng(seed)
    while True:  # a phi whose inner loop does not blow up over a few steps
        phi = (rng.uniform(-1, 1), rng.uniform(-0.9, 0.9), rng.uniform(-1.5, 1.5))
        if dynamics.spectral_radius(phi) < 1.2:
            break
    return dict(phi=phi, theta0=float(rng.normal(0, 10)), theta_star=float(rng.normal(0, 3)),
                steps=int(rng.integers(1, 9)))


# each key of a row of backprop_trace, and the intermediate whose perturbation it is the derivative for
ADJOINTS = {
    "theta_next_bar": ("theta", 1),  # θ_{t+1}: step t + 1
    "g_bar": ("g", 0),
    "h_bar": ("h", 0),
    "grad_bar": ("grad", 0),
    "theta_bar": ("theta", 0),
    "dphi1": ("phi1", 0),
    "dphi2": ("phi2", 0),
    "dphi3": ("phi3", 0),
}


@pytest.mark.parametrize("seed", range(12))
def test_every_adjoint_is_an_exact_derivative(seed):
    problem = random_problem(seed)
    rows = metaopt.backprop_trace(problem["phi"], theta0=problem["theta0"],
                                  theta_star=problem["theta_star"], steps=problem["steps"])
    assert [row["t"] for row in rows] == list(range(problem["steps"] - 1, -1, -1))
    scale = float(exact_loss(**problem)) + 1.0
    for row in rows:
        for key, (what, shift) in ADJOINTS.items():
            expected = float(exact_derivative(problem, what, row["t"] + shift))
            assert type(row[key]) is float
            assert abs(row[key] - expected) <= 1e-11 * (abs(expected) + scale), (seed, row["t"], key)


@pytest.mark.parametrize("seed", range(6))
def test_trace_of_a_batch_is_the_trace_of_each_row(seed):
    problems = [random_problem(100 * seed + k) for k in range(4)]
    steps = problems[0]["steps"]
    phi = np.array([p["phi"] for p in problems])
    theta0 = np.array([p["theta0"] for p in problems])
    rows = metaopt.backprop_trace(phi.reshape(2, 2, 3), theta0=theta0.reshape(2, 2), theta_star=1.5, steps=steps)
    for k in range(4):
        one = metaopt.backprop_trace(tuple(phi[k]), theta0=float(theta0[k]), theta_star=1.5, steps=steps)
        for batch_row, row in zip(rows, one):
            for key in ADJOINTS:
                assert batch_row[key].shape == (2, 2)
                assert batch_row[key].reshape(-1)[k] == row[key], (k, key)


@pytest.mark.parametrize("seed", range(10))
def test_fast_path_full_path_and_batch_give_the_same_bits(seed):
    """Plain floats take the fast path; numpy scalars, ints and lists take the full checks;
    a batch of one runs the array code. The same numbers in every case."""
    p = random_problem(seed)
    phi, theta0, theta_star, steps = p["phi"], p["theta0"], p["theta_star"], 3 * p["steps"]
    fast = metaopt.meta_gradient(phi, theta0=theta0, theta_star=theta_star, steps=steps)
    assert type(fast.loss) is float
    variants = [
        metaopt.meta_gradient(list(phi), theta0=theta0, theta_star=theta_star, steps=steps),
        metaopt.meta_gradient(np.array(phi), theta0=theta0, theta_star=theta_star, steps=steps),
        metaopt.meta_gradient(phi, theta0=np.float64(theta0), theta_star=theta_star, steps=steps),
        metaopt.meta_gradient(phi, theta0=theta0, theta_star=np.array(theta_star), steps=np.int64(steps)),
    ]
    for other in variants:
        assert other.loss == fast.loss and np.array_equal(other.grad, fast.grad)
    batch = metaopt.meta_gradient(np.array([phi]), theta0=theta0, theta_star=theta_star, steps=steps)
    assert batch.loss.shape == (1,) and batch.loss[0] == fast.loss
    assert np.array_equal(batch.grad[0], fast.grad)
    # and both agree with the exact meta-gradient
    exact = [float(exact_derivative(dict(p, steps=steps), f"phi{i}", t)) for i in (1, 2, 3) for t in range(steps)]
    total = [sum(exact[i * steps:(i + 1) * steps]) for i in range(3)]
    np.testing.assert_allclose(fast.grad, total, rtol=1e-9, atol=1e-9 * (1 + fast.loss))


def test_ints_are_accepted_through_the_full_path():
    fast = metaopt.meta_gradient((0.1, 0.5, -1.0), theta0=10.0, theta_star=5.0, steps=2)
    ints = metaopt.meta_gradient((0.1, 0.5, -1), theta0=10, theta_star=5, steps=2)
    assert ints.loss == fast.loss and np.array_equal(ints.grad, fast.grad)


def test_reused_workspace_never_changes_an_earlier_result():
    rng = np.random.default_rng(7)
    phis = np.column_stack([rng.uniform(0, 0.3, 50), rng.uniform(-0.5, 0.5, 50), rng.uniform(-1, 0, 50)])
    traj = metaopt.unroll(phis, theta0=10.0, theta_star=5.0, steps=30)
    kept = {name: getattr(traj, name).copy() for name in ("theta", "grad", "h", "g")}
    first = metaopt.meta_gradient(phis, theta0=10.0, theta_star=5.0, steps=30)
    first_grad = first.grad.copy()
    # larger, smaller and other-shaped batches through the same workspace
    for n, steps in ((200, 50), (3, 7), (50, 30)):
        other = metaopt.meta_gradient(np.resize(phis[::-1], (n, 3)), theta0=2.0, theta_star=-1.0, steps=steps)
        assert np.all(np.isfinite(other.grad))
        metaopt.meta_loss(np.resize(phis, (n, 3)), theta0=3.0, theta_star=0.0, steps=steps)
    for name, value in kept.items():
        assert np.array_equal(getattr(traj, name), value), name
    assert np.array_equal(first.grad, first_grad)
    again = metaopt.meta_gradient(phis, theta0=10.0, theta_star=5.0, steps=30)
    assert np.array_equal(again.grad, first_grad)
    for k in (0, 17, 49):
        one = metaopt.meta_gradient(tuple(phis[k]), theta0=10.0, theta_star=5.0, steps=30)
        assert np.array_equal(one.grad, first_grad[k]) and one.loss == first.loss[k]
