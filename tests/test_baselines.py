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
        with pytest.raises(TypeError, match="unexpected keyword argument 'beta[12]'"):
            bl.run_adam(tasks, steps=3, lr=0.1, **{old: 0.5})


def test_run_optimizer_is_what_the_runners_call():
    tasks = tk.sample_tasks(5, seed=13)
    momentum = bl.run_optimizer(mo.momentum(0.05, beta=0.7), tasks=tasks, steps=11, name="momentum")
    for j in range(5):
        expected = plain_momentum(tasks.curvature[j], tasks.theta_star[j], tasks.theta0[j], 11, 0.05, 0.7)
        np.testing.assert_allclose(momentum[j], expected, rtol=1e-12)
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
    with pytest.raises(TypeError, match="positional argument"):
        bl.run_sgd(tasks, 3, 0.1)
    with pytest.raises(TypeError, match="positional argument"):
        bl.run_momentum(tasks, 3, 0.1)
    with pytest.raises(TypeError, match="positional argument"):
        bl.run_adam(tasks, 3, 0.1)
    with pytest.raises(TypeError, match="positional argument"):
        bl.run_learned((0.1, 0.5, -1.0), tasks, 3)
    theta = bl.run_sgd(tasks, steps=3, lr=0.1)
    with pytest.raises(TypeError, match="positional argument"):
        bl.summed_loss(theta, tasks)
    with pytest.raises(TypeError, match="positional argument"):
        bl.tune_step_size(bl.run_sgd, tasks, 3, [0.1])


# --- tune: a grid over several hyperparameters -------------------------------------------------


def brute_mean_summed_loss(plain, tasks, steps, **hyperparameters):
    """Mean over the tasks of sum_{t=1}^T c (theta_t - theta*)^2, by plain Python loops; inf if it overflowed."""
    total = 0.0
    for c, ts, t0 in zip(*(map(float, a) for a in tasks)):
        for x in plain(c, ts, t0, steps, **hyperparameters)[1:]:
            d = x - ts
            total += c * d * d
    return total / len(tasks.curvature) if np.isfinite(total) else np.inf


def brute_grid_search(plain, tasks, steps, grid):
    """Every combination of the grid in row-major order, the first strict minimum kept."""
    names = list(grid)
    shape = tuple(len(grid[n]) for n in names)
    scores = np.empty(shape)
    best_index, best_score = None, np.inf
    for index in np.ndindex(*shape):
        point = {n: float(grid[n][i]) for n, i in zip(names, index)}
        scores[index] = brute_mean_summed_loss(plain, tasks, steps, **point)
        if scores[index] < best_score:
            best_index, best_score = index, scores[index]
    return best_index, best_score, scores


def assert_same_search(found, grid, brute):
    best_index, best_score, scores = brute
    names = list(grid)
    assert found.best == {n: float(grid[n][i]) for n, i in zip(names, best_index)}
    assert found.score == pytest.approx(best_score, rel=1e-10)
    assert found.scores.shape == scores.shape
    np.testing.assert_array_equal(np.isinf(found.scores), np.isinf(scores))
    finite = np.isfinite(scores)
    np.testing.assert_allclose(found.scores[finite], scores[finite], rtol=1e-10)
    assert list(found.grid) == names
    for n in names:
        np.testing.assert_array_equal(found.grid[n], np.asarray(grid[n], dtype=float))
    assert found.at_edge == {n: len(grid[n]) > 1 and i in (0, len(grid[n]) - 1) for n, i in zip(names, best_index)}


def test_tune_matches_a_brute_force_search_over_lr_and_beta():
    tasks = tk.sample_tasks(12, seed=21, curvature=(0.5, 2.0))
    grid = {"lr": [0.05, 0.1, 0.2, 0.3, 0.4, 0.6, 1e3], "beta": [0.0, 0.05, 0.1, 0.2, 0.4, 0.8]}
    brute = brute_grid_search(lambda *a, lr, beta: plain_momentum(*a, lr=lr, beta=beta), tasks, 60, grid)
    found = bl.tune(bl.run_momentum, tasks=tasks, steps=60, grid=grid)
    assert_same_search(found, grid, brute)
    assert isinstance(found, bl.GridSearch) and found._fields == ("best", "score", "scores", "grid", "at_edge")
    # this grid brackets the optimum: inside on both axes, and not next to the diverging lr = 1000
    i, j = brute[0]
    assert 0 < i < len(grid["lr"]) - 2 and 0 < j < len(grid["beta"]) - 1
    assert found.at_edge == {"lr": False, "beta": False}
    assert np.isinf(found.scores[-1]).all() and np.isfinite(found.scores[:-1]).all()


def test_tune_matches_a_brute_force_search_for_adam():
    tasks = tk.sample_tasks(10, seed=22, curvature=(0.5, 2.0))
    grid = {"lr": np.geomspace(0.3, 30, 7), "b1": [0.0, 0.2, 0.4, 0.6, 0.8]}
    brute = brute_grid_search(lambda *a, lr, b1: plain_adam(*a, lr=lr, b1=b1), tasks, 20, grid)
    assert_same_search(bl.tune(bl.run_adam, tasks=tasks, steps=20, grid=grid), grid, brute)


def test_tune_reports_a_grid_edge():
    """A grid of steps that are all too small: the best is its largest step, and tune says so."""
    tasks = tk.sample_tasks(8, seed=23, curvature=(0.5, 2.0))
    grid = {"lr": [0.005, 0.01, 0.02], "beta": [0.0, 0.1, 0.2]}
    brute = brute_grid_search(lambda *a, lr, beta: plain_momentum(*a, lr=lr, beta=beta), tasks, 10, grid)
    found = bl.tune(bl.run_momentum, tasks=tasks, steps=10, grid=grid)
    assert_same_search(found, grid, brute)
    assert brute[0][0] == len(grid["lr"]) - 1  # the brute force also ends at the last lr
    assert found.at_edge["lr"] and found.best["lr"] == 0.02
    wider = bl.tune(bl.run_momentum, tasks=tasks, steps=10, grid={"lr": [0.02, 0.2, 0.3], "beta": grid["beta"]})
    assert wider.score < found.score  # the edge was real: a larger step is better
    # at the low edge, and an axis of one value (held fixed, never at an edge)
    low = bl.tune(bl.run_sgd, tasks=tasks, steps=10, grid={"lr": [0.4, 0.8, 1.2]})
    assert low.best == {"lr": 0.4} and low.at_edge == {"lr": True}
    fixed = bl.tune(bl.run_momentum, tasks=tasks, steps=10, grid={"lr": [0.1, 0.3, 0.6], "beta": [0.5]})
    assert fixed.at_edge["beta"] is False and fixed.scores.shape == (3, 1)


def test_tune_step_size_is_tune_over_the_learning_rate():
    tasks = tk.sample_tasks(9, seed=24)
    grid = np.geomspace(0.05, 1.0, 8)
    one = bl.tune_step_size(bl.run_momentum, tasks=tasks, steps=12, grid=grid, beta=0.3)
    # the fixed option reaches every run: the brute-force search over plain momentum with beta = 0.3
    brute = brute_grid_search(lambda *a, lr: plain_momentum(*a, lr=lr, beta=0.3), tasks, 12, {"lr": grid})
    assert one.best == grid[brute[0][0]]
    np.testing.assert_allclose(one.scores, brute[2], rtol=1e-10)
    # a plain sequence is a grid of learning rates
    plain = bl.tune(bl.run_sgd, tasks=tasks, steps=12, grid=grid)
    assert plain.best == {"lr": bl.tune_step_size(bl.run_sgd, tasks=tasks, steps=12, grid=grid).best}


def test_tune_checks_its_grid():
    tasks = tk.sample_tasks(3, seed=0)
    for grid, exc, match in (
        ({}, ValueError, "grid"),
        ({"lr": []}, ValueError, r"grid\['lr'\]"),
        ({"lr": [[0.1, 0.2]]}, ValueError, r"grid\['lr'\]"),
        ({"lr": [float("nan")]}, ValueError, r"grid\['lr'\]"),
        ({"lr": ["a"]}, TypeError, r"grid\['lr'\]"),
        ({"lr": None}, TypeError, r"grid\['lr'\]"),
        ({1: [0.1]}, TypeError, "grid"),
        ({"steps": [3]}, ValueError, "steps"),
        ({"lr": [0.1], "beta": [0.5, 1.0]}, ValueError, "beta"),  # the runner's own check, naming beta
        ([], ValueError, "grid"),
        (0.1, ValueError, "grid"),
        ("lr", TypeError, "grid"),
    ):
        with pytest.raises(exc, match=match):
            bl.tune(bl.run_momentum, tasks=tasks, steps=3, grid=grid)
    with pytest.raises(TypeError, match="betta"):
        bl.tune(bl.run_momentum, tasks=tasks, steps=3, grid={"lr": [0.1], "betta": [0.5]})
    with pytest.raises(DivergenceError, match="every point of the grid"):
        bl.tune(bl.run_momentum, tasks=tasks, steps=400, grid={"lr": [1e3, 1e4], "beta": [0.0, 0.5]})
    with pytest.raises(TypeError, match="positional argument"):
        bl.tune(bl.run_sgd, tasks, 3, [0.1])
