"""metaopt.tasks against independent methods.

* the trajectory-summed meta-gradient (reverse mode) against an exact forward-mode
  loop in Fractions written here (independent of metaopt), against central finite
  differences, and against metaopt.meta_gradient for c = 1 with only the last loss;
* truncation: k = T is the full gradient, other k against a sympy derivation in which
  the steps before T - k use a separate, held-constant copy of phi;
* stability_limit against long runs;
* meta_train_tasks: Adam steps replayed by a plain loop from the same gradients.

The baselines (metaopt.baselines) are tested in test_baselines.py.
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
    loss, grad = tk.trajectory_meta_gradient(phi, tasks=tk.make_tasks(curvature=c, theta_star=ts, theta0=t0), steps=steps, weights=w)
    exact_loss, exact_grad = exact_summed(phi, c, ts, t0, steps, w)
    scale = float(max(abs(exact_loss), 1)) * 1e-10
    assert abs(loss[0] - float(exact_loss)) <= 1e-10 * abs(float(exact_loss)) + 1e-12
    for got, want in zip(grad[0], exact_grad):
        assert abs(got - float(want)) <= 1e-9 * abs(float(want)) + scale


def test_summed_gradient_batched_over_tasks_and_finite_differences():
    tasks = tk.sample_tasks(50, seed=7, curvature=(0.2, 3.0))
    phi = np.array([0.3, 0.4, -0.9])
    loss, grad = tk.trajectory_meta_gradient(phi, tasks=tasks, steps=12)
    assert loss.shape == (50,) and grad.shape == (50, 3)
    eps = 1e-6
    for i in range(3):
        e = np.zeros(3)
        e[i] = eps
        fd = (tk.trajectory_meta_loss(phi + e, tasks=tasks, steps=12) - tk.trajectory_meta_loss(phi - e, tasks=tasks, steps=12)) / (2 * eps)
        np.testing.assert_allclose(grad[:, i], fd, rtol=1e-5, atol=1e-6 * np.abs(loss).max())
    # each task on its own gives the same row
    for j in (0, 17, 49):
        one = tk.make_tasks(curvature=tasks.curvature[j], theta_star=tasks.theta_star[j], theta0=tasks.theta0[j])
        np.testing.assert_allclose(tk.trajectory_meta_gradient(phi, tasks=one, steps=12)[1][0], grad[j], rtol=1e-13)


@pytest.mark.parametrize("steps", [1, 2, 3, 7])
def test_last_loss_with_unit_curvature_is_metaopt_meta_gradient(steps):
    rng = np.random.default_rng(steps)
    phi = rng.uniform(-1, 1, (6, 3))
    t0, ts = rng.uniform(-10, 10, 6), rng.uniform(-10, 10, 6)
    w = np.zeros(steps)
    w[-1] = 1.0
    loss, grad = tk.trajectory_meta_gradient(phi, tasks=tk.make_tasks(curvature=1.0, theta_star=ts, theta0=t0), steps=steps, weights=w)
    ref_loss, ref_grad = metaopt.meta_gradient(phi, theta0=t0, theta_star=ts, steps=steps)
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
    _, grad = tk.trajectory_meta_gradient(phi, tasks=tk.make_tasks(curvature=c, theta_star=ts, theta0=t0), steps=steps, weights=w, truncation=k)
    np.testing.assert_allclose(grad[0], sympy_truncated(phi, c, ts, t0, steps, k, w), rtol=1e-9, atol=1e-9)


def test_truncation_k_equals_T_is_the_full_gradient():
    """truncation = T is the untruncated gradient: the exact forward-mode one, task by task."""
    tasks = tk.sample_tasks(6, seed=3)
    grad = tk.trajectory_meta_gradient((0.2, 0.3, -1.1), tasks=tasks, steps=9, truncation=9)[1]
    for j in range(6):
        _, exact = exact_summed((0.2, 0.3, -1.1), tasks.curvature[j], tasks.theta_star[j], tasks.theta0[j], 9, [1.0] * 9)
        np.testing.assert_allclose(grad[j], [float(v) for v in exact], rtol=1e-10)


def test_stability_limit_against_long_runs():
    rng = np.random.default_rng(9)
    for _ in range(20):
        alpha, beta = rng.uniform(0.05, 1.0), rng.uniform(0.0, 0.9)
        phi = (1.0, beta, -alpha)
        limit = tk.stability_limit(phi)
        below = tk.make_tasks(curvature=0.97 * limit, theta_star=0.0, theta0=1.0)
        above = tk.make_tasks(curvature=1.03 * limit, theta_star=0.0, theta0=1.0)
        assert abs(tk.unroll_tasks(phi, tasks=below, steps=3000).theta[0, -1]) < 1e-3
        try:
            assert abs(tk.unroll_tasks(phi, tasks=above, steps=3000).theta[0, -1]) > 1e3
        except DivergenceError:
            pass  # grew past the floating-point range: diverged, as predicted


def test_meta_train_tasks_replays_adam_by_hand():
    tasks = tk.sample_tasks(16, seed=4)
    run = tk.meta_train_tasks((0.1, 0.5, -1.0), tasks=tasks, steps=8, iterations=30, eta=0.02)
    phi, m, v = np.array([0.1, 0.5, -1.0]), np.zeros(3), np.zeros(3)
    for k in range(30):
        # the gradient from finite differences of the mean meta-loss (not the library's reverse mode)
        g = np.array([
            (tk.trajectory_meta_loss(phi + e, tasks=tasks, steps=8).mean()
         - tk.trajectory_meta_loss(phi - e, tasks=tasks, steps=8).mean()) / 2e-6
            for e in np.eye(3) * 1e-6
        ])
        np.testing.assert_allclose(run.grad[k], g, rtol=1e-5, atol=1e-6)
        m = 0.9 * m + 0.1 * run.grad[k]
        v = 0.999 * v + 0.001 * run.grad[k] ** 2
        phi = phi - 0.02 * (m / (1 - 0.9 ** (k + 1))) / (np.sqrt(v / (1 - 0.999 ** (k + 1))) + 1e-8)
        np.testing.assert_allclose(run.phi[k + 1], phi, rtol=1e-12)
    assert run.loss[-1] < run.loss[0]


def test_meta_train_tasks_decay_rates_are_b1_b2():
    """b1, b2, eps (formerly beta1, beta2) reach Adam: replay 10 steps with b1 = 0.5, b2 = 0.9, eps = 1e-3."""
    tasks = tk.sample_tasks(8, seed=6)
    run = tk.meta_train_tasks((0.1, 0.5, -1.0), tasks=tasks, steps=5, iterations=10, eta=0.01, b1=0.5, b2=0.9, eps=1e-3)
    assert isinstance(run, tk.TaskTraining)
    assert run.phi.shape == (11, 3) and run.loss.shape == (11,) and run.grad.shape == (11, 3)
    phi, m, v = np.array([0.1, 0.5, -1.0]), np.zeros(3), np.zeros(3)
    for k in range(10):
        m = 0.5 * m + 0.5 * run.grad[k]
        v = 0.9 * v + 0.1 * run.grad[k] ** 2
        phi = phi - 0.01 * (m / (1 - 0.5 ** (k + 1))) / (np.sqrt(v / (1 - 0.9 ** (k + 1))) + 1e-3)
        np.testing.assert_allclose(run.phi[k + 1], phi, rtol=1e-12)
    for old in ("lr", "beta1", "beta2"):
        with pytest.raises(TypeError, match="unexpected keyword argument '(lr|beta[12])'"):
            tk.meta_train_tasks((0.1, 0.5, -1.0), tasks=tasks, steps=5, iterations=1, **{old: 0.5})


def test_old_positional_calls_raise_type_error():
    tasks = tk.sample_tasks(3, seed=0)
    with pytest.raises(TypeError, match="positional argument"):
        tk.make_tasks(1.0, 0.0, 1.0)
    with pytest.raises(TypeError, match="positional argument"):
        tk.sample_tasks(3, 0)
    with pytest.raises(TypeError, match="positional argument"):
        tk.unroll_tasks((0.1, 0.5, -1.0), tasks, 3)
    with pytest.raises(TypeError, match="positional argument"):
        tk.trajectory_meta_gradient((0.1, 0.5, -1.0), tasks, 3)
    with pytest.raises(TypeError, match="positional argument"):
        tk.trajectory_meta_loss((0.1, 0.5, -1.0), tasks, 3)
    with pytest.raises(TypeError, match="positional argument"):
        tk.meta_train_tasks((0.1, 0.5, -1.0), tasks, 3, 5)
    with pytest.raises(TypeError, match="positional argument"):
        tk.inner_losses(np.zeros((3, 2)), tasks)


def test_inner_losses_by_hand():
    tasks = tk.make_tasks(curvature=[1.0, 2.0], theta_star=[5.0, -1.0], theta0=[10.0, 0.0])
    theta = np.array([[10.0, 9.0, 7.7], [0.0, 1.0, -1.0]])
    # c (theta - theta*)^2: 1 * (25, 16, 7.29) and 2 * (1, 4, 0)
    np.testing.assert_allclose(tk.inner_losses(theta, tasks=tasks), [[25.0, 16.0, 7.29], [2.0, 8.0, 0.0]], rtol=1e-14)
    with pytest.raises(ValueError, match="theta"):
        tk.inner_losses(np.zeros((3, 2)), tasks=tasks)


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
        tk.make_tasks(curvature=-1.0, theta_star=0.0, theta0=1.0)
    with pytest.raises(TypeError, match="tasks"):
        tk.trajectory_meta_gradient((0.1, 0.5, -1.0), tasks=(1.0, 2.0, 3.0), steps=3)
    with pytest.raises(ValueError, match="weights"):
        tk.trajectory_meta_gradient((0.1, 0.5, -1.0), tasks=tasks, steps=3, weights=[1, 2])
    with pytest.raises(ValueError, match="truncation"):
        tk.trajectory_meta_gradient((0.1, 0.5, -1.0), tasks=tasks, steps=3, truncation=4)
    with pytest.raises(ValueError, match="phi"):
        tk.trajectory_meta_gradient((0.1, 0.5), tasks=tasks, steps=3)
    with pytest.raises(TypeError, match="n must"):
        tk.sample_tasks(2.5, seed=0)


def test_divergence_raises_naming_the_step():
    steep = tk.make_tasks(curvature=100.0, theta_star=0.0, theta0=1.0)
    with pytest.raises(DivergenceError, match=r"step t=\d+"):
        tk.unroll_tasks((1.0, 0.0, -1.0), tasks=steep, steps=500)


# ---------------------------------------------------------------------------
# what mutation testing (make mutate) found untested: the edges of the input checks
# ---------------------------------------------------------------------------


def test_sample_tasks_ranges_at_their_edges():
    """A range may be a single value (low == high); low > high is refused; a curvature range must be
    positive, 0 included in the refusal; one task is a batch too."""
    one = tk.sample_tasks(1, seed=0, curvature=(2.0, 2.0), theta_star=(1.0, 1.0), theta0=(-3.0, -3.0))
    assert one.curvature.tolist() == [2.0] and one.theta_star.tolist() == [1.0] and one.theta0.tolist() == [-3.0]
    with pytest.raises(ValueError, match=r"^theta_star must be a range with low <= high, got \(2\.0, 1\.0\)$"):
        tk.sample_tasks(3, seed=0, theta_star=(2.0, 1.0))
    with pytest.raises(ValueError, match=r"^curvature must be positive, got \(0\.0, 1\.0\)$"):
        tk.sample_tasks(3, seed=0, curvature=(0.0, 1.0))
    with pytest.raises(ValueError, match=r"^this call would keep 3000000000 values \(22\.4 GiB\): 3 numbers per task"):
        tk.sample_tasks(10**9, seed=0)


def test_make_tasks_refuses_what_is_not_a_batch_of_tasks():
    with pytest.raises(ValueError, match=r"^curvature must be positive, got \[1\.0, 0\.0\]$"):
        tk.make_tasks(curvature=[1.0, 0.0], theta_star=5.0, theta0=10.0)
    with pytest.raises(ValueError, match=r"^curvature \(2,\), theta_star \(3,\) and theta0 \(\) do not broadcast"):
        tk.make_tasks(curvature=[1.0, 2.0], theta_star=[1.0, 2.0, 3.0], theta0=10.0)
    with pytest.raises(ValueError, match=r"^tasks are a 1-D batch: .* broadcast to shape \(2, 2\)$"):
        tk.make_tasks(curvature=np.ones((2, 2)), theta_star=5.0, theta0=10.0)
    assert tk.make_tasks(curvature=np.ones((2,)), theta_star=[[5.0]][0], theta0=10.0).theta0.shape == (2,)


def test_hand_built_tasks_are_checked_like_made_ones():
    """check_tasks, on a QuadraticTasks built by hand: a curvature of 0, and arrays of unequal length
    (the first one longer too), are refused; the arrays come back as floats."""
    Q = tk.QuadraticTasks
    with pytest.raises(ValueError, match=r"^tasks\.curvature must be positive"):
        tk.check_tasks(Q(np.array([1.0, 0.0]), np.array([5.0, 5.0]), np.array([1.0, 1.0])))
    for lengths in ((2, 1, 1), (1, 2, 1), (1, 1, 2), (0, 0, 0)):
        with pytest.raises(ValueError, match=r"^tasks must hold three non-empty 1-D arrays of equal length"):
            tk.check_tasks(Q(*(np.ones(n) for n in lengths)))
    checked = tk.check_tasks(Q([1, 2], [5, 5], [0, 1]))
    assert all(a.dtype == float for a in checked)


def test_inner_losses_refuse_to_overflow():
    tasks = tk.make_tasks(curvature=[1.0, 2.0], theta_star=0.0, theta0=1.0)
    with pytest.raises(DivergenceError, match=r"^a loss L\(theta_t\) overflowed"):
        tk.inner_losses(np.array([[1.0, 1e200], [1.0, 2.0]]), tasks=tasks)


def test_meta_train_tasks_states_its_work_limit():
    """iterations x steps past tasks.MAX_WORK is refused at once, though each count alone is allowed."""
    tasks = tk.sample_tasks(2, seed=0)
    with pytest.raises(ValueError, match=rf"^iterations × steps must be <= {tk.MAX_WORK}: .*; got 10000 × 1000 = 10000000$"):
        tk.meta_train_tasks((0.1, 0.5, -1.0), tasks=tasks, steps=1000, iterations=10_000)


@pytest.mark.parametrize("phi, ok", [
    ((0.1, 0.0, -1.0), True), ((0.1, 0.999, -1.0), True),  # momentum 0 and just below 1: converging
    ((0.1, 1.0, -1.0), False), ((0.1, -0.01, -1.0), False),  # momentum 1 or negative
    ((0.0, 0.5, -1.0), False), ((-0.1, 0.5, -1.0), False), ((0.1, 0.5, 1.0), False),  # a step of 0 or negative
])
def test_stability_limit_holds_where_it_is_derived(phi, ok):
    """c < (1 + beta) / alpha is derived for alpha = -phi1 phi3 > 0 and 0 <= beta < 1 only."""
    if ok:
        alpha, beta = -phi[0] * phi[2], phi[1]
        assert tk.stability_limit(phi) == pytest.approx((1 + beta) / alpha, rel=1e-15)
    else:
        with pytest.raises(ValueError, match=r"^stability_limit needs a positive step -phi1\*phi3 and momentum 0 <= phi2 < 1"):
            tk.stability_limit(phi)


def test_sweep_states_its_work_limit():
    """steps x batch past sweep.MAX_WORK is refused at once (a batch of 10^5 at 10^6 steps would run for hours)."""
    from metaopt import sweep

    with pytest.raises(ValueError, match=rf"^steps × batch must be <= {sweep.MAX_WORK}: .*; got 1000000 × 100000 = "):
        sweep.meta_loss((0.1, 0.5, -1.0), theta0=np.zeros(10**5), theta_star=5.0, steps=10**6)
