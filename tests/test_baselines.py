"""metaopt.baselines, the hand-designed optimizers of chapter 8, against independent methods.

* SGD, momentum and Adam against plain Python loops (Adam transcribed from Kingma & Ba's
  Algorithm 1, independently of metaopt.meta_optimizers);
* run_learned and summed_loss against a plain loop of the linear RNN;
* tune_step_size against a brute-force minimum.
"""

import numpy as np
import pytest

from metaopt import DivergenceError
from metaopt import baselines as bl
from metaopt import meta_optimizers as mo
from metaopt import tasks as tk


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
        (bl.run_sgd, lambda *a: plain_momentum(*a, beta=0.0), {}),
        (bl.run_momentum, lambda *a: plain_momentum(*a, beta=0.7), {"beta": 0.7}),
        (bl.run_adam, plain_adam, {}),
    ):
        theta = run(tasks, steps=13, lr=0.05, **kw)
        assert theta.shape == (15, 14)
        for j in range(15):
            expected = plain(tasks.curvature[j], tasks.theta_star[j], tasks.theta0[j], 13, 0.05)
            np.testing.assert_allclose(theta[j], expected, rtol=1e-12, atol=1e-12)


def test_learned_runner_and_losses_match_plain_loop():
    tasks = tk.sample_tasks(5, seed=2)
    phi = (0.3, 0.2, -0.8)
    theta = bl.run_learned(phi, tasks=tasks, steps=6)
    for j in range(5):
        c, ts, t0 = tasks.curvature[j], tasks.theta_star[j], tasks.theta0[j]
        x, h, xs = t0, 0.0, [t0]
        for _ in range(6):
            h = phi[0] * 2 * c * (x - ts) + phi[1] * h
            x = x + phi[2] * h
            xs.append(x)
        np.testing.assert_allclose(theta[j], xs, rtol=1e-13)
        summed = sum(c * (v - ts) ** 2 for v in xs[1:])
        assert bl.summed_loss(theta, tasks=tasks)[j] == pytest.approx(summed, rel=1e-12)


def test_tune_step_size_picks_the_brute_force_minimum():
    tasks = tk.sample_tasks(30, seed=5)
    grid = np.geomspace(0.01, 2.0, 15)
    best, scores = bl.tune_step_size(bl.run_sgd, tasks=tasks, steps=10, grid=grid)
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
    best, scores = bl.tune_step_size(bl.run_sgd, tasks=tasks, steps=400, grid=[0.1, 1e3])
    assert best == 0.1 and scores[1] == np.inf


def test_adam_decay_rates_are_b1_b2():
    """run_adam's b1, b2, eps (formerly beta1, beta2) against the plain transcription with other values."""
    tasks = tk.sample_tasks(6, seed=12)
    theta = bl.run_adam(tasks, steps=9, lr=0.1, b1=0.5, b2=0.9, eps=1e-4)
    for j in range(6):
        expected = plain_adam(tasks.curvature[j], tasks.theta_star[j], tasks.theta0[j], 9, 0.1, b1=0.5, b2=0.9, eps=1e-4)
        np.testing.assert_allclose(theta[j], expected, rtol=1e-12, atol=1e-12)
    for old in ("beta1", "beta2"):
        with pytest.raises(TypeError):
            bl.run_adam(tasks, steps=3, lr=0.1, **{old: 0.5})


def test_run_optimizer_is_what_the_runners_call():
    tasks = tk.sample_tasks(5, seed=13)
    np.testing.assert_array_equal(
        bl.run_optimizer(mo.momentum(0.05, beta=0.7), tasks=tasks, steps=11, name="momentum"),
        bl.run_momentum(tasks, steps=11, lr=0.05, beta=0.7),
    )
    theta = bl.run_optimizer(mo.sgd(0.05), tasks=tasks, steps=11)
    for j in range(5):
        expected = plain_momentum(tasks.curvature[j], tasks.theta_star[j], tasks.theta0[j], 11, 0.05, 0.0)
        np.testing.assert_allclose(theta[j], expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(TypeError, match="optimizer"):
        bl.run_optimizer("sgd", tasks=tasks, steps=3)
    steep = tk.make_tasks(curvature=100.0, theta_star=0.0, theta0=1.0)
    with pytest.raises(DivergenceError, match=r"my optimizer diverged: theta_\d+ .* step t=\d+"):
        bl.run_optimizer(mo.sgd(1.0), tasks=steep, steps=500, name="my optimizer")


def test_summed_loss_with_weights():
    tasks = tk.make_tasks(curvature=[1.0, 2.0], theta_star=[5.0, -1.0], theta0=[10.0, 0.0])
    theta = np.array([[10.0, 9.0, 7.7], [0.0, 1.0, -1.0]])
    # losses at t = 1, 2: (16, 7.29) and (8, 0); weights (0.5, 2): 8 + 14.58 and 4 + 0
    np.testing.assert_allclose(bl.summed_loss(theta, tasks=tasks, weights=[0.5, 2.0]), [22.58, 4.0], rtol=1e-14)
    np.testing.assert_allclose(bl.summed_loss(theta, tasks=tasks), [23.29, 8.0], rtol=1e-14)
    with pytest.raises(ValueError, match="weights"):
        bl.summed_loss(theta, tasks=tasks, weights=[1.0])


def test_tuning_is_a_named_pair():
    tasks = tk.sample_tasks(4, seed=1, curvature=(1.0, 1.5))
    tuning = bl.tune_step_size(bl.run_sgd, tasks=tasks, steps=20, grid=[0.1, 0.2])
    assert isinstance(tuning, bl.Tuning) and tuning._fields == ("best", "scores")
    assert tuning.best in (0.1, 0.2) and tuning.scores.shape == (2,)
    with pytest.raises(DivergenceError, match="every learning rate"):
        bl.tune_step_size(bl.run_sgd, tasks=tasks, steps=400, grid=[1e3, 1e4])
    with pytest.raises(ValueError, match="grid"):
        bl.tune_step_size(bl.run_sgd, tasks=tasks, steps=20, grid=[])


def test_bad_input_names_the_argument():
    tasks = tk.sample_tasks(3, seed=0)
    with pytest.raises(ValueError, match="lr"):
        bl.run_sgd(tasks, steps=3, lr=-0.1)
    with pytest.raises(ValueError, match="beta"):
        bl.run_momentum(tasks, steps=3, lr=0.1, beta=1.0)
    with pytest.raises(TypeError, match="tasks"):
        bl.run_sgd((1.0, 2.0, 3.0), steps=3, lr=0.1)
    with pytest.raises(ValueError, match="phi"):
        bl.run_learned((0.1, 0.5), tasks=tasks, steps=3)


def test_divergence_raises_naming_the_step():
    steep = tk.make_tasks(curvature=100.0, theta_star=0.0, theta0=1.0)
    with pytest.raises(DivergenceError, match=r"step t=\d+"):
        bl.run_sgd(steep, steps=500, lr=1.0)


def test_old_positional_calls_raise_type_error():
    tasks = tk.sample_tasks(3, seed=0)
    with pytest.raises(TypeError):
        bl.run_sgd(tasks, 3, 0.1)
    with pytest.raises(TypeError):
        bl.run_momentum(tasks, 3, 0.1)
    with pytest.raises(TypeError):
        bl.run_adam(tasks, 3, 0.1)
    with pytest.raises(TypeError):
        bl.run_learned((0.1, 0.5, -1.0), tasks, 3)
    theta = bl.run_sgd(tasks, steps=3, lr=0.1)
    with pytest.raises(TypeError):
        bl.summed_loss(theta, tasks)
    with pytest.raises(TypeError):
        bl.tune_step_size(bl.run_sgd, tasks, 3, [0.1])
