"""metaopt.tasks against independent methods.

* the trajectory-summed meta-gradient (reverse mode) against an exact forward-mode
  loop in Fractions written here (independent of metaopt), against central finite
  differences, and against metaopt.meta_gradient for c = 1 with only the last loss;
* truncation: k = T is the full gradient, other k against a sympy derivation in which
  the steps before T - k use a separate, held-constant copy of phi;
* the baselines (SGD, momentum, Adam) against plain Python loops;
* tune_step_size against a brute-force minimum; stability_limit against long runs;
* meta_train_tasks: Adam steps replayed by a plain loop from the same gradients.
"""

from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

import metaopt
from metaopt import DivergenceError
from metaopt import tasks as tk


def exact_summed(phi, c, theta_star, theta0, steps, weights):
    """Exact Σ w_t c(θ_t − θ*)² and its φ-gradient by forward mode, in Fractions."""
    p1, p2, p3 = (Fraction(float(v)) for v in phi)
    c, ts, theta = Fraction(float(c)), Fraction(float(theta_star)), Fraction(float(theta0))
    w = [Fraction(float(v)) for v in weights]
    zero = Fraction(0)
    dtheta = [zero] * 3
    h, dh = zero, [zero] * 3
    total, dtotal = zero, [zero] * 3
    for t in range(steps):
        grad = 2 * c * (theta - ts)
        dgrad = [2 * c * d for d in dtheta]
        h_new = p1 * grad + p2 * h
        dh_new = [p1 * dgrad[i] + p2 * dh[i] for i in range(3)]
        dh_new[0] += grad
        dh_new[1] += h
        g = p3 * h_new
        dg = [p3 * dh_new[i] for i in range(3)]
        dg[2] += h_new
        theta = theta + g
        dtheta = [dtheta[i] + dg[i] for i in range(3)]
        h, dh = h_new, dh_new
        err = theta - ts
        total += w[t] * c * err * err
        dtotal = [dtotal[i] + w[t] * 2 * c * err * dtheta[i] for i in range(3)]
    return total, dtotal


def random_problem(rng, steps):
    phi = (rng.uniform(-1, 1), rng.uniform(-0.9, 0.9), rng.uniform(-1, 1))
    return phi, rng.uniform(0.1, 3.0), rng.uniform(-10, 10), rng.uniform(-10, 10), rng.uniform(0, 2, steps)


@pytest.mark.parametrize("case", range(40))
def test_summed_gradient_matches_exact_forward_mode(case):
    rng = np.random.default_rng(1000 + case)
    steps = int(rng.integers(1, 9))
    phi, c, ts, t0, w = random_problem(rng, steps)
    loss, grad = tk.trajectory_meta_gradient(phi, tk.make_tasks(c, ts, t0), steps, weights=w)
    exact_loss, exact_grad = exact_summed(phi, c, ts, t0, steps, w)
    scale = float(max(abs(exact_loss), 1)) * 1e-10
    assert abs(loss[0] - float(exact_loss)) <= 1e-10 * abs(float(exact_loss)) + 1e-12
    for got, want in zip(grad[0], exact_grad):
        assert abs(got - float(want)) <= 1e-9 * abs(float(want)) + scale


def test_summed_gradient_batched_over_tasks_and_finite_differences():
    tasks = tk.sample_tasks(50, seed=7, curvature=(0.2, 3.0))
    phi = np.array([0.3, 0.4, -0.9])
    loss, grad = tk.trajectory_meta_gradient(phi, tasks, 12)
    assert loss.shape == (50,) and grad.shape == (50, 3)
    eps = 1e-6
    for i in range(3):
        e = np.zeros(3)
        e[i] = eps
        fd = (tk.trajectory_meta_loss(phi + e, tasks, 12) - tk.trajectory_meta_loss(phi - e, tasks, 12)) / (2 * eps)
        np.testing.assert_allclose(grad[:, i], fd, rtol=1e-5, atol=1e-6 * np.abs(loss).max())
    # each task on its own gives the same row
    for j in (0, 17, 49):
        one = tk.make_tasks(tasks.curvature[j], tasks.theta_star[j], tasks.theta0[j])
        np.testing.assert_allclose(tk.trajectory_meta_gradient(phi, one, 12)[1][0], grad[j], rtol=1e-13)


@pytest.mark.parametrize("steps", [1, 2, 3, 7])
def test_last_loss_with_unit_curvature_is_metaopt_meta_gradient(steps):
    rng = np.random.default_rng(steps)
    phi = rng.uniform(-1, 1, (6, 3))
    t0, ts = rng.uniform(-10, 10, 6), rng.uniform(-10, 10, 6)
    w = np.zeros(steps)
    w[-1] = 1.0
    loss, grad = tk.trajectory_meta_gradient(phi, tk.make_tasks(1.0, ts, t0), steps, weights=w)
    ref_loss, ref_grad = metaopt.meta_gradient(phi, t0, ts, steps)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-10 * np.abs(ref_grad).max())


def sympy_truncated(phi, c, ts, t0, steps, k, w):
    """d/dphi of the summed loss, with phi in steps t < T - k replaced by a constant copy psi = phi."""
    p = sp.symbols("p1:4")
    q = sp.symbols("q1:4")  # held constant: the same values, but not differentiated
    theta, h, total = sp.nsimplify(t0, rational=True), sp.Integer(0), sp.Integer(0)
    c, ts = sp.nsimplify(c, rational=True), sp.nsimplify(ts, rational=True)
    for t in range(steps):
        a1, a2, a3 = q if t < steps - k else p
        grad = 2 * c * (theta - ts)
        h = a1 * grad + a2 * h
        theta = theta + a3 * h
        total += sp.nsimplify(w[t], rational=True) * c * (theta - ts) ** 2
    values = {s: sp.nsimplify(v, rational=True) for s, v in zip(p + q, tuple(phi) * 2)}
    return [float(sp.diff(total, s).subs(values)) for s in p]


@pytest.mark.parametrize("case", range(8))
def test_truncated_gradient_matches_sympy_derivation(case):
    rng = np.random.default_rng(50 + case)
    steps = int(rng.integers(2, 6))
    k = int(rng.integers(1, steps + 1))
    phi = tuple(round(float(v), 3) for v in (rng.uniform(0, 0.5), rng.uniform(0, 0.8), rng.uniform(-1, -0.2)))
    c, ts, t0 = round(float(rng.uniform(0.5, 2)), 3), round(float(rng.uniform(-5, 5)), 3), round(float(rng.uniform(-5, 5)), 3)
    w = [round(float(v), 3) for v in rng.uniform(0, 1, steps)]
    _, grad = tk.trajectory_meta_gradient(phi, tk.make_tasks(c, ts, t0), steps, weights=w, truncation=k)
    np.testing.assert_allclose(grad[0], sympy_truncated(phi, c, ts, t0, steps, k, w), rtol=1e-9, atol=1e-9)


def test_truncation_k_equals_T_is_the_full_gradient():
    tasks = tk.sample_tasks(20, seed=3)
    full = tk.trajectory_meta_gradient((0.2, 0.3, -1.1), tasks, 9)[1]
    np.testing.assert_array_equal(tk.trajectory_meta_gradient((0.2, 0.3, -1.1), tasks, 9, truncation=9)[1], full)


# --- baselines against plain loops -------------------------------------------------------


def plain_momentum(c, ts, t0, steps, lr, beta):
    theta, v, out = t0, 0.0, [t0]
    for _ in range(steps):
        v = beta * v + 2 * c * (theta - ts)
        theta = theta - lr * v
        out.append(theta)
    return out


def plain_adam(c, ts, t0, steps, lr, b1=0.9, b2=0.999, eps=1e-8):
    theta, m, v, out = t0, 0.0, 0.0, [t0]
    for t in range(1, steps + 1):
        g = 2 * c * (theta - ts)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        theta = theta - lr * (m / (1 - b1**t)) / ((v / (1 - b2**t)) ** 0.5 + eps)
        out.append(theta)
    return out


def test_baselines_match_plain_loops():
    tasks = tk.sample_tasks(15, seed=11, curvature=(0.1, 5.0))
    for run, plain, kw in (
        (tk.run_sgd, lambda *a: plain_momentum(*a, beta=0.0), {}),
        (tk.run_momentum, lambda *a: plain_momentum(*a, beta=0.7), {"beta": 0.7}),
        (tk.run_adam, plain_adam, {}),
    ):
        theta = run(tasks, 13, 0.05, **kw)
        assert theta.shape == (15, 14)
        for j in range(15):
            expected = plain(tasks.curvature[j], tasks.theta_star[j], tasks.theta0[j], 13, 0.05)
            np.testing.assert_allclose(theta[j], expected, rtol=1e-12, atol=1e-12)


def test_learned_runner_and_losses_match_plain_loop():
    tasks = tk.sample_tasks(5, seed=2)
    phi = (0.3, 0.2, -0.8)
    theta = tk.run_learned(phi, tasks, 6)
    for j in range(5):
        c, ts, t0 = tasks.curvature[j], tasks.theta_star[j], tasks.theta0[j]
        x, h, xs = t0, 0.0, [t0]
        for _ in range(6):
            h = phi[0] * 2 * c * (x - ts) + phi[1] * h
            x = x + phi[2] * h
            xs.append(x)
        np.testing.assert_allclose(theta[j], xs, rtol=1e-13)
        summed = sum(c * (v - ts) ** 2 for v in xs[1:])
        assert tk.summed_loss(theta, tasks)[j] == pytest.approx(summed, rel=1e-12)


def test_tune_step_size_picks_the_brute_force_minimum():
    tasks = tk.sample_tasks(30, seed=5)
    grid = np.geomspace(0.01, 2.0, 15)
    best, scores = tk.tune_step_size(tk.run_sgd, tasks, 10, grid)
    brute = []
    for lr in grid:
        total = 0.0
        for j in range(30):
            xs = plain_momentum(tasks.curvature[j], tasks.theta_star[j], tasks.theta0[j], 10, lr, 0.0)
            total += sum(tasks.curvature[j] * (x - tasks.theta_star[j]) ** 2 for x in xs[1:])
        brute.append(total / 30 if np.isfinite(total) else np.inf)
    assert best == grid[int(np.argmin(brute))]
    finite = np.isfinite(brute)
    np.testing.assert_allclose(scores[finite], np.array(brute)[finite], rtol=1e-10)


def test_tune_step_size_counts_divergence_as_infinitely_bad():
    tasks = tk.sample_tasks(4, seed=1, curvature=(1.0, 1.5))
    best, scores = tk.tune_step_size(tk.run_sgd, tasks, 400, [0.1, 1e3])
    assert best == 0.1 and scores[1] == np.inf


def test_stability_limit_against_long_runs():
    rng = np.random.default_rng(9)
    for _ in range(20):
        alpha, beta = rng.uniform(0.05, 1.0), rng.uniform(0.0, 0.9)
        phi = (1.0, beta, -alpha)
        limit = tk.stability_limit(phi)
        below = tk.make_tasks(0.97 * limit, 0.0, 1.0)
        above = tk.make_tasks(1.03 * limit, 0.0, 1.0)
        assert abs(tk.run_learned(phi, below, 3000)[0, -1]) < 1e-3
        try:
            assert abs(tk.run_learned(phi, above, 3000)[0, -1]) > 1e3
        except DivergenceError:
            pass  # grew past the floating-point range: diverged, as predicted


def test_meta_train_tasks_replays_adam_by_hand():
    tasks = tk.sample_tasks(16, seed=4)
    run = tk.meta_train_tasks((0.1, 0.5, -1.0), tasks, 8, iterations=30, lr=0.02)
    phi, m, v = np.array([0.1, 0.5, -1.0]), np.zeros(3), np.zeros(3)
    for k in range(30):
        # the gradient from finite differences of the mean meta-loss (not the library's reverse mode)
        g = np.array([
            (tk.trajectory_meta_loss(phi + e, tasks, 8).mean() - tk.trajectory_meta_loss(phi - e, tasks, 8).mean()) / 2e-6
            for e in np.eye(3) * 1e-6
        ])
        np.testing.assert_allclose(run.grad[k], g, rtol=1e-5, atol=1e-6)
        m = 0.9 * m + 0.1 * run.grad[k]
        v = 0.999 * v + 0.001 * run.grad[k] ** 2
        phi = phi - 0.02 * (m / (1 - 0.9 ** (k + 1))) / (np.sqrt(v / (1 - 0.999 ** (k + 1))) + 1e-8)
        np.testing.assert_allclose(run.phi[k + 1], phi, rtol=1e-12)
    assert run.loss[-1] < run.loss[0]


def test_sample_tasks_is_seeded_and_in_range():
    a, b = tk.sample_tasks(100, seed=3), tk.sample_tasks(100, seed=3)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert np.all((a.curvature >= 0.5) & (a.curvature <= 2.0))
    assert np.all(np.abs(a.theta_star) <= 10) and np.all(np.abs(a.theta0) <= 10)
    assert not np.array_equal(tk.sample_tasks(100, seed=4).curvature, a.curvature)


def test_bad_input_names_the_argument():
    tasks = tk.sample_tasks(3, seed=0)
    with pytest.raises(ValueError, match="curvature"):
        tk.make_tasks(-1.0, 0.0, 1.0)
    with pytest.raises(TypeError, match="tasks"):
        tk.trajectory_meta_gradient((0.1, 0.5, -1.0), (1.0, 2.0, 3.0), 3)
    with pytest.raises(ValueError, match="weights"):
        tk.trajectory_meta_gradient((0.1, 0.5, -1.0), tasks, 3, weights=[1, 2])
    with pytest.raises(ValueError, match="truncation"):
        tk.trajectory_meta_gradient((0.1, 0.5, -1.0), tasks, 3, truncation=4)
    with pytest.raises(ValueError, match="lr"):
        tk.run_sgd(tasks, 3, -0.1)
    with pytest.raises(ValueError, match="beta"):
        tk.run_momentum(tasks, 3, 0.1, beta=1.0)
    with pytest.raises(ValueError, match="phi"):
        tk.trajectory_meta_gradient((0.1, 0.5), tasks, 3)
    with pytest.raises(TypeError, match="n must"):
        tk.sample_tasks(2.5, seed=0)


def test_divergence_raises_naming_the_step():
    steep = tk.make_tasks(100.0, 0.0, 1.0)
    with pytest.raises(DivergenceError, match=r"step t=\d+"):
        tk.run_sgd(steep, 500, 1.0)
    with pytest.raises(DivergenceError, match=r"step t=\d+"):
        tk.unroll_tasks((1.0, 0.0, -1.0), steep, 500)
