"""metaopt.lstm (chapter 10), each piece against an independent method.

* the LSTM cell and the coordinatewise network against plain numpy (and a loop over coordinates);
* the exact meta-gradient through the unroll against central finite differences of a numpy
  unroll, and the first-order one (``stop_gradient`` on the optimizee gradient) against finite
  differences of the surrogate in which the gradients are frozen inputs;
* the preprocessing, RMSprop, NAG and the linear RNN against their formulas;
* the stored parameters (``make train``): the first epochs re-run reproduce the stored log,
  and the trained optimizers beat their own initializations on held-out functions;
* the baselines' grids: the chosen values are inside them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

lstm = pytest.importorskip("metaopt.lstm")

from metaopt import meta_optimizers as mo  # noqa: E402

import reference as ref  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
STORED = ROOT / "train" / "lstm_params.npz"
LOG = ROOT / "train" / "lstm_log.json"


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def numpy_cell(W, b, x, h, c):
    """The LSTM equations, written out: gates i, f, g, o in that order, forget bias +1."""
    z = np.concatenate([x, h], axis=-1) @ W + b
    H = h.shape[-1]
    i, f, g, o = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
    c_new = sigmoid(f + 1.0) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c_new), c_new


def numpy_net(p, x, state):
    """The two-layer network on one batch of rows x (rows, 1)."""
    h1, c1, h2, c2 = state
    h1, c1 = numpy_cell(p["W1"], p["b1"], x, h1, c1)
    h2, c2 = numpy_cell(p["W2"], p["b2"], h1, h2, c2)
    return (h2 @ p["Wo"] + p["bo"])[:, 0], (h1, c1, h2, c2)


def numpy_unpack(flat):
    H = lstm.HIDDEN
    return ref.unpack_flat(flat, [("W1", (1 + H, 4 * H)), ("b1", (4 * H,)), ("W2", (2 * H, 4 * H)), ("b2", (4 * H,)),
                                  ("Wo", (H, 1)), ("bo", (1,))])


def numpy_meta_loss(flat, tasks, steps, frozen=None):
    """Batch mean of sum_t f(theta_t), coordinate by coordinate in a Python loop.

    ``frozen`` (steps, n, d): use these gradients as the inputs instead of recomputing them.
    Returns the loss and the gradients seen.
    """
    p = numpy_unpack(flat)
    n, d = tasks.theta0.shape
    H = lstm.HIDDEN
    states = [[tuple(np.zeros((1, H)) for _ in range(4)) for _ in range(d)] for _ in range(n)]
    theta = tasks.theta0.copy()
    total, seen = 0.0, []
    for t in range(steps):
        grad = 2.0 * np.einsum("nij,ni->nj", tasks.W, np.einsum("nij,nj->ni", tasks.W, theta) - tasks.y)
        seen.append(grad)
        if frozen is not None:
            grad = frozen[t]
        update = np.empty_like(theta)
        for a in range(n):
            for j in range(d):
                out, states[a][j] = numpy_net(p, np.array([[grad[a, j]]]), states[a][j])
                update[a, j] = out[0]
        theta = theta + update
        total += np.sum((np.einsum("nij,nj->ni", tasks.W, theta) - tasks.y) ** 2) / n
    return total, np.array(seen)


@pytest.fixture(scope="module")
def tiny():
    """Two 3-D functions, and LSTM parameters that move theta noticeably."""
    tasks = lstm._draw(np.random.default_rng(5), 2, 3)
    params = lstm.lstm_init(3)
    params[-1 - lstm.HIDDEN:-1] *= 10.0  # larger output weights: updates of about 0.1
    return tasks, params


def test_cell_matches_numpy():
    rng = np.random.default_rng(0)
    H = 5
    W, b = rng.normal(size=(1 + H, 4 * H)), rng.normal(size=4 * H)
    x, h, c = rng.normal(size=(7, 1)), rng.normal(size=(7, H)), rng.normal(size=(7, H))
    got = lstm.cell(W, b, x, h, c)
    want = numpy_cell(W, b, x, h, c)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), w, rtol=1e-13, atol=1e-15)


def test_coordinatewise_is_a_loop_over_coordinates():
    rng = np.random.default_rng(1)
    flat = lstm.lstm_init(1)
    n, d, H = 3, lstm.DIM, lstm.HIDDEN
    grads = [rng.normal(size=(n, d)) for _ in range(3)]
    state = lstm.zero_state(n)
    loops = [[tuple(np.zeros((1, H)) for _ in range(4)) for _ in range(d)] for _ in range(n)]
    p = numpy_unpack(flat)
    for grad in grads:  # three steps: the states must be carried per coordinate
        update, state = lstm.lstm_net(flat, grad, state)
        for a in range(n):
            for j in range(d):
                out, loops[a][j] = numpy_net(p, np.array([[grad[a, j]]]), loops[a][j])
                assert abs(float(update[a, j]) - out[0]) < 1e-13


def test_exact_meta_gradient_against_finite_differences(tiny):
    tasks, params = tiny
    loss, grad = lstm.lstm_meta_gradient(params, tasks=tasks, steps=3, first_order=False)
    want_loss, _ = numpy_meta_loss(params, tasks, 3)
    assert loss == pytest.approx(want_loss, rel=1e-12)
    rng = np.random.default_rng(2)
    eps = 1e-5
    directions = [rng.normal(size=params.size) for _ in range(3)] + [np.eye(params.size)[k] for k in (0, 2000, -1)]
    for u in directions:
        fd = (numpy_meta_loss(params + eps * u, tasks, 3)[0] - numpy_meta_loss(params - eps * u, tasks, 3)[0]) / (2 * eps)
        assert grad @ u == pytest.approx(fd, rel=1e-6, abs=1e-9)


def test_first_order_meta_gradient_is_the_frozen_surrogate(tiny):
    tasks, params = tiny
    _, grad = lstm.lstm_meta_gradient(params, tasks=tasks, steps=3, first_order=True)
    _, exact = lstm.lstm_meta_gradient(params, tasks=tasks, steps=3, first_order=False)
    _, frozen = numpy_meta_loss(params, tasks, 3)  # the gradients along the true trajectory
    rng = np.random.default_rng(3)
    eps = 1e-5
    for u in [rng.normal(size=params.size) for _ in range(3)]:
        fd = (numpy_meta_loss(params + eps * u, tasks, 3, frozen)[0]
              - numpy_meta_loss(params - eps * u, tasks, 3, frozen)[0]) / (2 * eps)
        assert grad @ u == pytest.approx(fd, rel=1e-6, abs=1e-9)
    assert np.linalg.norm(grad - exact) > 1e-3 * np.linalg.norm(exact)  # the two really differ here


def test_log_and_sign_is_the_appendix_formula():
    p = 10.0
    values = [0.0, 1e-300, -1e-6, np.exp(-p), -np.exp(-p) * 0.999, 0.3, -2.0, 1e8]
    want = [(np.log(abs(v)) / p, np.sign(v)) if abs(v) >= np.exp(-p) else (-1.0, np.exp(p) * v) for v in values]
    np.testing.assert_allclose(lstm.log_and_sign(values), np.array(want), rtol=1e-14, atol=0)
    assert lstm.log_and_sign(np.ones((4, 3))).shape == (4, 3, 2)


def test_rmsprop_and_nag_are_their_formulas():
    rng = np.random.default_rng(4)
    grads = rng.normal(size=(5, 3))
    for opt, formula in [
        (lstm.rmsprop(0.1), "rms"), (lstm.nag(0.1, beta=0.9), "nag"),
    ]:
        state, acc = opt.init(np.zeros(3)), np.zeros(3)
        for g in grads:
            upd, state = opt.update(g, state)
            if formula == "rms":
                acc = 0.9 * acc + 0.1 * g * g
                want = -0.1 * g / (np.sqrt(acc) + 1e-8)
            else:
                acc = 0.9 * acc + g
                want = -0.1 * (g + 0.9 * acc)
            np.testing.assert_allclose(upd, want, rtol=1e-14)


def test_linear_rnn_is_heavy_ball_momentum():
    tasks = lstm.sample_quadratics(4, seed=9)
    phi = (0.8, 0.6, -0.02)
    losses = lstm.run_rnn(phi, tasks=tasks, steps=30)
    theta, v = tasks.theta0.copy(), np.zeros_like(tasks.theta0)
    lr, beta = -phi[0] * phi[2], phi[1]
    for t in range(30):
        g = 2.0 * np.einsum("nij,ni->nj", tasks.W, np.einsum("nij,nj->ni", tasks.W, theta) - tasks.y)
        v = beta * v + g
        theta = theta - lr * v
        f = np.sum((np.einsum("nij,nj->ni", tasks.W, theta) - tasks.y) ** 2, axis=-1)
        np.testing.assert_allclose(losses[:, t + 1], f, rtol=1e-10)


def _replay(tasks, steps, update):
    """The losses of T steps of ``update(g, state) -> (step, state)`` on each function, in plain numpy."""
    theta, state, losses = tasks.theta0.copy(), None, []
    for t in range(steps + 1):
        r = np.einsum("nij,nj->ni", tasks.W, theta) - tasks.y
        losses.append(np.sum(r * r, axis=-1))
        if t < steps:
            g = 2.0 * np.einsum("nij,ni->nj", tasks.W, r)
            step, state = update(g, state, t + 1)
            theta = theta + step
    return np.stack(losses, axis=1)


def test_baselines_match_their_update_rules_written_here():
    """Each baseline's losses, all T + 1 of them, against its update rule written out in numpy
    (the reference code's and optax's conventions), not against the library's optimizers."""
    tasks = lstm.sample_quadratics(3, seed=8)
    lr, beta, rho, b1, b2, eps = 0.05, 0.9, 0.9, 0.9, 0.999, 1e-8

    def sgd(g, state, k):
        return -lr * g, None

    def rmsprop(g, v, k):
        v = (0 if v is None else rho * v) + (1 - rho) * g * g
        return -lr * g / (np.sqrt(v) + eps), v

    def nag(g, velocity, k):
        velocity = (0 if velocity is None else beta * velocity) + g
        return -lr * (g + beta * velocity), velocity

    def adam(g, state, k):
        m, v = (0, 0) if state is None else state
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        return -lr * (m / (1 - b1**k)) / (np.sqrt(v / (1 - b2**k)) + eps), (m, v)

    for run, rule, options in ((lstm.run_sgd, sgd, {}), (lstm.run_rmsprop, rmsprop, {}),
                               (lstm.run_nag, nag, dict(beta=beta)), (lstm.run_adam, adam, {})):
        np.testing.assert_allclose(run(tasks, steps=6, lr=lr, **options), _replay(tasks, 6, rule), rtol=1e-12,
                                   err_msg=run.__name__)


def test_tuned_values_are_inside_their_grids():
    tasks = lstm.sample_quadratics(128, seed=2)  # the chapter's tuning functions
    grid = lstm.LR_GRID
    for run in (lstm.run_sgd, lstm.run_rmsprop, lstm.run_adam):
        best = lstm.tune(run, tasks=tasks, grid=grid)
        assert grid[0] < best.lr < grid[-1], run.__name__
    best = lstm.tune(lstm.run_nag, tasks=tasks, grid=grid, betas=lstm.NAG_BETAS)
    assert grid[0] < best.lr < grid[-1]
    assert lstm.NAG_BETAS[0] < best.beta < lstm.NAG_BETAS[-1]


@pytest.fixture(scope="module")
def stored():
    if not STORED.exists():
        pytest.fail("train/lstm_params.npz is missing: run make train")
    return dict(np.load(STORED)), json.loads(LOG.read_text())


def test_stored_optimizers_beat_their_initializations(stored):
    params, log = stored
    held_out = lstm.sample_quadratics(200, seed=3)
    init_lstm = lstm.run_lstm(lstm.lstm_init(log["config"]["init_seed"]), tasks=held_out)
    trained_lstm = lstm.run_lstm(params["lstm"], tasks=held_out)
    assert np.mean(trained_lstm[:, 1:].sum(1)) < np.mean(init_lstm[:, 1:].sum(1))
    init_rnn = lstm.run_rnn(log["config"]["rnn_init"], tasks=held_out)
    trained_rnn = lstm.run_rnn(params["rnn"], tasks=held_out)
    assert np.mean(trained_rnn[:, 1:].sum(1)) < np.mean(init_rnn[:, 1:].sum(1))


#: Relative tolerance between this machine and the one that ran make train: float64 XLA code may
#: differ in the last bits between processors, and ten Adam steps amplify that only a little.
RTOL = 1e-8


def test_the_first_epochs_reproduce_the_stored_log(stored):
    _, log = stored
    config = log["config"]
    validation = lstm.sample_quadratics(config["validation_n"], seed=config["validation_seed"])
    common = dict(tasks=validation, iterations=2, steps=config["steps"], truncation=config["truncation"],
                  lr=config["meta_lr"], seed=config["train_seed"], n=config["batch"])
    for name, start, fn in [("rnn", np.array(config["rnn_init"]), lstm.meta_train_rnn),
                            ("lstm", lstm.lstm_init(config["init_seed"]), lstm.meta_train_lstm)]:
        run = fn(start, **common)
        k = len(run.first_losses)
        assert k == 2 * config["steps"] // config["truncation"]
        np.testing.assert_allclose(run.first_losses, log[name]["first_losses"][:k], rtol=RTOL, err_msg=name)
        np.testing.assert_allclose(run.train_loss, log[name]["train_loss"][:2], rtol=RTOL, err_msg=name)
