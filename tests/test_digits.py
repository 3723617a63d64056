"""metaopt.digits (chapter 11), each piece against an independent method.

* the data: the split is a partition of scikit-learn's 1,797 images, the same on every call;
* the network's loss and gradient against plain numpy with a hand-written backward pass
  (sigmoid and ReLU);
* the LSTM run end to end against a numpy re-implementation (numpy gradients, the appendix's
  preprocessing from its formula, the LSTM equations written out);
* the exact meta-gradient against central finite differences of that numpy run, and the
  first-order one against finite differences of the surrogate in which the gradients are frozen;
* the baselines against numpy SGD and Adam on the same minibatches;
* the stored parameters (``make train``): the first epochs re-run reproduce the stored log, and
  the trained LSTM beats its own initialization on networks trained on held-out images.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

digits = pytest.importorskip("metaopt.digits")

from sklearn.datasets import load_digits  # noqa: E402

from metaopt import lstm  # noqa: E402

import reference as ref  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
STORED = ROOT / "train" / "digits_params.npz"
LOG = ROOT / "train" / "digits_log.json"
H = lstm.HIDDEN


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def numpy_mlp(theta, X, y, activation):
    """Mean cross-entropy of the 64-20-10 network and its gradient, by a hand-written backward pass."""
    sizes = [(64, 20), (20,), (20, 10), (10,)]
    parts, k = [], 0
    for s in sizes:
        m = int(np.prod(s))
        parts.append(theta[k:k + m].reshape(s))
        k += m
    assert k == theta.size
    W1, b1, W2, b2 = parts
    pre = X @ W1 + b1
    h = sigmoid(pre) if activation == "sigmoid" else np.maximum(pre, 0.0)
    z = h @ W2 + b2
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    B = len(y)
    loss = -np.mean(np.log(p[np.arange(B), y]))
    dz = p.copy()
    dz[np.arange(B), y] -= 1.0
    dz /= B
    dh = dz @ W2.T
    dpre = dh * (h * (1 - h) if activation == "sigmoid" else (pre > 0))
    grad = np.concatenate([(X.T @ dpre).ravel(), dpre.sum(0), (h.T @ dz).ravel(), dz.sum(0)])
    return loss, grad


def numpy_cell(W, b, x, h, c):
    z = np.concatenate([x, h], axis=-1) @ W + b
    i, f, g, o = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
    c = sigmoid(f + 1.0) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c), c


def numpy_preprocess(g, p=10.0):
    """The appendix's formula, coordinate by coordinate."""
    out = np.empty(g.shape + (2,))
    for j, v in enumerate(g):
        out[j] = (np.log(abs(v)) / p, np.sign(v)) if abs(v) >= np.exp(-p) else (-1.0, np.exp(p) * v)
    return out


def numpy_unpack_lstm(flat):
    return ref.unpack_flat(flat, [("W1", (2 + H, 4 * H)), ("b1", (4 * H,)), ("W2", (2 * H, 4 * H)), ("b2", (4 * H,)),
                                  ("Wo", (H, 1)), ("bo", (1,))])


def numpy_run(flat, tasks, steps, frozen=None):
    """One network (task 0): the losses f_0 … f_steps, and the gradients the optimizer saw.

    ``frozen``: feed these gradients to the LSTM instead of the network's own.
    """
    data = load_digits()
    order = np.random.default_rng(digits.SPLIT_SEED).permutation(len(data.target))
    keep = order[:-digits.TEST_SIZE] if tasks.split == "train" else order[-digits.TEST_SIZE:]
    X, Y = data.data[keep] / 16.0, data.target[keep]
    p = numpy_unpack_lstm(flat)
    theta = tasks.theta0[0].copy()
    state = [np.zeros((theta.size, H)) for _ in range(4)]
    loss, grad = numpy_mlp(theta, X[tasks.batches[0, 0]], Y[tasks.batches[0, 0]], tasks.activation)
    losses, seen = [loss], [grad]
    for t in range(1, steps + 1):
        g = frozen[t - 1] if frozen is not None else grad
        x = numpy_preprocess(g)
        state[0], state[1] = numpy_cell(p["W1"], p["b1"], x, state[0], state[1])
        state[2], state[3] = numpy_cell(p["W2"], p["b2"], state[0], state[2], state[3])
        theta = theta + digits.SCALE * (state[2] @ p["Wo"] + p["bo"])[:, 0]
        loss, grad = numpy_mlp(theta, X[tasks.batches[0, t]], Y[tasks.batches[0, t]], tasks.activation)
        losses.append(loss)
        seen.append(grad)
    return np.array(losses), seen


@pytest.fixture(scope="module")
def tiny():
    """One network, 3 steps, and LSTM parameters whose updates move it noticeably."""
    tasks = digits.sample_tasks(1, seed=7, steps=3)
    params = lstm.init_params(11, digits._LSTM_LAYOUT)
    params[-1 - H:-1] *= 30.0  # larger output weights
    return tasks, params


def test_the_split_partitions_the_images():
    train, test = digits.load("train"), digits.load("test")
    data = load_digits()
    assert len(train.labels) + len(test.labels) == len(data.target) == 1797 and len(test.labels) == digits.TEST_SIZE
    rows = {tuple(r) for r in data.data / 16.0}
    seen = [tuple(r) for r in np.concatenate([train.images, test.images])]
    assert set(seen) == rows  # every image somewhere
    assert sorted(np.concatenate([train.labels, test.labels]).tolist()) == sorted(data.target.tolist())
    assert digits.load("test").images is test.images  # one split, cached, not redrawn
    assert not test.images.flags.writeable


@pytest.mark.parametrize("activation", digits.ACTIVATIONS)
def test_network_loss_and_gradient_match_numpy(activation):
    rng = np.random.default_rng(3)
    theta = rng.normal(0.0, 0.3, size=(2, digits.MLP_SIZE))
    index = rng.integers(0, 1297, size=(2, digits.MINIBATCH))
    train = digits.load("train")
    loss, grad = digits._value_and_grad(theta, index, train.images, train.labels, activation)
    for row in range(2):
        want_loss, want_grad = numpy_mlp(theta[row], train.images[index[row]], train.labels[index[row]], activation)
        np.testing.assert_allclose(float(loss[row]), want_loss, rtol=1e-12)
        np.testing.assert_allclose(np.asarray(grad[row]), want_grad, rtol=1e-9, atol=1e-14)
    full = digits.mlp_loss(theta[0], split="test", activation=activation)
    np.testing.assert_allclose(full, numpy_mlp(theta[0], *digits.load("test"), activation)[0], rtol=1e-12)


def test_start_gradients_match_numpy():
    tasks = digits.sample_tasks(2, seed=13, steps=1, split="test", activation="relu")
    test = digits.load("test")
    got = digits.start_gradients(tasks)
    for row in range(2):
        index = tasks.batches[row, 0]
        want = numpy_mlp(tasks.theta0[row], test.images[index], test.labels[index], "relu")[1]
        np.testing.assert_allclose(got[row], want, rtol=1e-9, atol=1e-14)


def test_run_lstm_matches_numpy(tiny):
    tasks, params = tiny
    got = digits.run_lstm(params, tasks=tasks, steps=3)[0]
    want, _ = numpy_run(params, tasks, 3)
    np.testing.assert_allclose(got, want, rtol=1e-10)
    assert abs(want[-1] - want[0]) > 1e-3  # the parameters do move the network


def test_exact_meta_gradient_against_finite_differences(tiny):
    tasks, params = tiny
    loss, grad = digits.lstm_meta_gradient(params, tasks=tasks, steps=3, first_order=False)
    np.testing.assert_allclose(loss, numpy_run(params, tasks, 3)[0][1:].sum(), rtol=1e-10)
    rng, eps = np.random.default_rng(0), 1e-5
    for _ in range(3):
        v = rng.normal(size=params.size)
        fd = (numpy_run(params + eps * v, tasks, 3)[0][1:].sum()
              - numpy_run(params - eps * v, tasks, 3)[0][1:].sum()) / (2 * eps)
        np.testing.assert_allclose(grad @ v, fd, rtol=1e-5)


def test_first_order_meta_gradient_is_the_frozen_surrogate(tiny):
    tasks, params = tiny
    _, grad = digits.lstm_meta_gradient(params, tasks=tasks, steps=3, first_order=True)
    _, exact = digits.lstm_meta_gradient(params, tasks=tasks, steps=3, first_order=False)
    _, seen = numpy_run(params, tasks, 3)
    rng, eps = np.random.default_rng(1), 1e-5
    for _ in range(3):
        v = rng.normal(size=params.size)
        fd = (numpy_run(params + eps * v, tasks, 3, frozen=seen)[0][1:].sum()
              - numpy_run(params - eps * v, tasks, 3, frozen=seen)[0][1:].sum()) / (2 * eps)
        np.testing.assert_allclose(grad @ v, fd, rtol=1e-5)
    assert not np.allclose(grad, exact)  # dropping the second derivatives changes something here


def test_quadratic_lstm_reads_the_raw_gradient():
    """Chapter 10's LSTM on a network: raw gradient in (one input), scale 1 out, as on the quadratics."""
    tasks = digits.sample_tasks(1, seed=4, steps=2)
    params = lstm.lstm_init(5)
    got = digits.run_quadratic_lstm(params, tasks=tasks, steps=2)[0]
    train = digits.load("train")
    p = lstm.unpack(params)
    theta = tasks.theta0[0].copy()
    state = [np.zeros((theta.size, H)) for _ in range(4)]
    loss, grad = numpy_mlp(theta, train.images[tasks.batches[0, 0]], train.labels[tasks.batches[0, 0]], "sigmoid")
    want = [loss]
    for t in (1, 2):
        state[0], state[1] = numpy_cell(np.asarray(p["W1"]), np.asarray(p["b1"]), grad[:, None], state[0], state[1])
        state[2], state[3] = numpy_cell(np.asarray(p["W2"]), np.asarray(p["b2"]), state[0], state[2], state[3])
        theta = theta + (state[2] @ np.asarray(p["Wo"]) + np.asarray(p["bo"]))[:, 0]
        loss, grad = numpy_mlp(theta, train.images[tasks.batches[0, t]], train.labels[tasks.batches[0, t]], "sigmoid")
        want.append(loss)
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_baselines_match_numpy_sgd_and_adam():
    tasks = digits.sample_tasks(2, seed=8, steps=4, split="test", activation="relu")
    test = digits.load("test")
    sgd_got = digits.run_sgd(tasks, steps=4, lr=0.7)
    adam_got = digits.run_adam(tasks, steps=4, lr=0.02)
    for row in range(2):
        theta_s = theta_a = tasks.theta0[row].copy()
        m = v = np.zeros_like(theta_a)
        sgd_want, adam_want = [], []
        for t in range(5):
            X, Y = test.images[tasks.batches[row, t]], test.labels[tasks.batches[row, t]]
            ls, gs = numpy_mlp(theta_s, X, Y, "relu")
            la, ga = numpy_mlp(theta_a, X, Y, "relu")
            sgd_want.append(ls)
            adam_want.append(la)
            theta_s = theta_s - 0.7 * gs
            m, v = 0.9 * m + 0.1 * ga, 0.999 * v + 0.001 * ga * ga
            theta_a = theta_a - 0.02 * (m / (1 - 0.9 ** (t + 1))) / (np.sqrt(v / (1 - 0.999 ** (t + 1))) + 1e-8)
        np.testing.assert_allclose(sgd_got[row], sgd_want, rtol=1e-10)
        np.testing.assert_allclose(adam_got[row], adam_want, rtol=1e-10)


def test_every_optimizer_sees_the_same_minibatches():
    tasks = digits.sample_tasks(3, seed=9, steps=3)
    first = {run(tasks, steps=3, lr=0.1)[:, 0].tobytes() for run in (digits.run_sgd, digits.run_adam, digits.run_rmsprop)}
    first.add(digits.run_lstm(digits.lstm_init(0), tasks=tasks, steps=3)[:, 0].tobytes())
    assert len(first) == 1  # f_0(theta_0): the same network on the same batch


def test_errors_name_the_argument():
    tasks = digits.sample_tasks(1, seed=0, steps=2)
    with pytest.raises(ValueError, match="steps must be at most the 2 steps"):
        digits.run_adam(tasks, steps=3, lr=0.1)
    with pytest.raises(ValueError, match="params must be the 5141 parameters of this chapter's LSTM"):
        digits.run_lstm(lstm.lstm_init(0), tasks=tasks, steps=2)
    with pytest.raises(ValueError, match="split must be one of 'train', 'test', got 'validation'"):
        digits.load("validation")
    with pytest.raises(TypeError, match="activation must be one of 'sigmoid', 'relu', got 1 "):
        digits.sample_tasks(1, seed=0, activation=1)
    with pytest.raises(TypeError, match="tasks must be a DigitTasks"):
        digits.run_sgd(lstm.sample_quadratics(1, seed=0), lr=0.1)
    with pytest.raises(ValueError, match=r"steps \(4\) must be a multiple of truncation \(3\)"):
        digits.meta_train(digits.lstm_init(0), tasks=digits.sample_tasks(1, seed=0, steps=4), iterations=1, steps=4,
                          truncation=3)


def test_a_diverging_baseline_names_the_step():
    tasks = digits.sample_tasks(1, seed=0, steps=50)
    with pytest.raises(lstm.DivergenceError, match="the loss overflowed at step 1"):
        digits.run_sgd(tasks, steps=50, lr=1e308)  # sigmoid and a stable softmax keep lr = 1e300 finite


@pytest.fixture(scope="module")
def stored():
    return dict(np.load(STORED)), json.loads(LOG.read_text())


def test_the_first_epochs_reproduce_the_stored_log(stored):
    _, log = stored
    config = log["config"]
    validation = digits.sample_tasks(config["validation_n"], seed=config["validation_seed"], steps=config["steps"])
    run = digits.meta_train(digits.lstm_init(config["init_seed"]), tasks=validation, iterations=2,
                            steps=config["steps"], truncation=config["truncation"], lr=config["meta_lr"],
                            seed=config["train_seed"], n=config["batch"])
    k = len(run.first_losses)
    assert k == 2 * config["steps"] // config["truncation"]
    np.testing.assert_allclose(run.first_losses, log["lstm"]["first_losses"][:k], rtol=1e-9)
    np.testing.assert_allclose(run.train_loss, log["lstm"]["train_loss"][:2], rtol=1e-9)
    assert config["scale"] == digits.SCALE and config["meta_lr"] == digits.META_LR


def test_stored_lstm_beats_its_initialization_on_held_out_images(stored):
    params, log = stored
    held_out = digits.sample_tasks(4, seed=12, split="test")
    trained = digits.run_lstm(params["lstm"], tasks=held_out)[:, 1:].sum(axis=1)
    initial = digits.run_lstm(digits.lstm_init(log["config"]["init_seed"]), tasks=held_out)[:, 1:].sum(axis=1)
    assert np.all(trained < 0.5 * initial)
