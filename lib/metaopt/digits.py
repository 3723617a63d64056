r"""Beyond quadratics: the paper's MNIST experiment on scikit-learn's handwritten digits (Part III, chapter 11).

Andrychowicz et al. (2016) meta-train their LSTM on a small neural network classifying MNIST.
MNIST would have to be downloaded; the 8×8 digits that ship inside scikit-learn
(``sklearn.datasets.load_digits``: 1,797 images, 64 pixels, 10 classes) are the same problem at
a size a 2-core machine can meta-train on in minutes. Everything else follows the reference code
(``deepmind/learning-to-learn``, ``problems.mnist`` and ``util.get_config("mnist")``):

* **the optimizee** (:func:`sample_tasks`): a multilayer perceptron with one hidden layer of
  :data:`HIDDEN_UNITS` = 20 sigmoid units and a softmax output, its cross-entropy loss on a
  minibatch of :data:`MINIBATCH` = 128 images drawn at random (with replacement) for every
  step; weights and biases start :math:`\mathcal{N}(0, 0.01^2)`. A *task* is one network: its
  starting weights and its sequence of minibatches. Its parameters are one flat vector of
  :data:`MLP_SIZE` numbers, and each of them is one coordinate for the optimizer;
* **the split** (:func:`load`): a fixed permutation (seed :data:`SPLIT_SEED`) leaves
  :data:`TEST_SIZE` images out; meta-training and tuning draw minibatches from the others,
  ``split="test"`` draws them from the held-out images (as the reference code's evaluation does
  with MNIST's test set);
* **the optimizer** (:func:`lstm_init`, :func:`run_lstm`): chapter 10's coordinatewise
  two-layer LSTM, now reading the appendix's preprocessed gradient
  (:func:`metaopt.lstm.log_and_sign`, two inputs per coordinate) and writing
  :data:`SCALE` × its linear output, as the reference code does for MNIST;
  :func:`run_quadratic_lstm` runs chapter 10's LSTM (raw gradient, scale 1) unchanged on these
  networks;
* **meta-training** (:func:`meta_train`): chapter 10's truncated BPTT, second derivatives dropped,
  one network per epoch (the reference code's batch), Adam, early stopping on a validation batch;
* **the baselines** (:func:`run_sgd`, :func:`run_rmsprop`, :func:`run_adam`, :func:`run_nag`):
  chapter 10's optimizers on the same minibatches, tuned with :func:`metaopt.lstm.tune`.

Every run of every optimizer on a task sees the same minibatches: step :math:`t` uses batch
:math:`t` for both the loss :math:`f_t(\theta_t)` it reports and the gradient it steps with. A run
returns the losses :math:`f_0(\theta_0), \dots, f_T(\theta_T)`, shape (n, T+1).

This module needs JAX and scikit-learn (``pip install "metaopt[digits]"``).
"""

from __future__ import annotations

try:  # Part III needs JAX; this chapter also needs scikit-learn's bundled data
    import jax
    from sklearn.datasets import load_digits
except ImportError as err:
    raise ImportError('metaopt.digits needs JAX and scikit-learn: pip install "metaopt[digits]"') from err

from functools import lru_cache, partial
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from jax import lax

from . import lstm, validate
from .lstm import MetaRun, nag, rmsprop
from .meta_optimizers import ADAM_B1, ADAM_B2, ADAM_EPS, adam, apply, sgd
from .validate import DivergenceError

__all__ = [
    "MAX_WORK", "PIXELS", "CLASSES", "HIDDEN_UNITS", "MLP_SIZE", "MINIBATCH", "STEPS", "TRUNCATION", "SCALE", "META_LR",
    "INIT_STD", "TEST_SIZE", "SPLIT_SEED", "LR_GRID", "NAG_BETAS", "ACTIVATIONS", "SPLITS", "LSTM_SIZE",
    "Digits", "DigitTasks",
    "load", "sample_tasks", "start_gradients", "mlp_loss", "lstm_init", "run_lstm", "run_quadratic_lstm", "lstm_meta_gradient",
    "meta_train", "run_sgd", "run_rmsprop", "run_adam", "run_nag",
]

PIXELS = 64  #: inputs of the network: an 8×8 image, gray levels 0 … 16 scaled to [0, 1]
CLASSES = 10  #: outputs: the digits 0 … 9
HIDDEN_UNITS = 20  #: the hidden layer (the paper's MNIST network: one layer of 20 units)
MLP_SIZE = PIXELS * HIDDEN_UNITS + HIDDEN_UNITS + HIDDEN_UNITS * CLASSES + CLASSES  #: the network's parameters
MINIBATCH = 128  #: images per step
#: The most network-steps (iterations x steps x n) one meta-training call runs: about 13 ms each
#: on the book's machines, so 10**5 is about 20 minutes (the book's training is 200 x 100 x 1).
MAX_WORK = 10**5
STEPS = 100  #: the optimization horizon
TRUNCATION = 20  #: steps per truncated unroll
SCALE = 0.01  #: the LSTM's output scale (the reference code's for MNIST)
META_LR = 0.01  #: Adam's learning rate for the LSTM's parameters (the reference code's is 0.001)
INIT_STD = 0.01  #: standard deviation of the network's starting weights and biases
TEST_SIZE = 500  #: images held out of meta-training and tuning
SPLIT_SEED = 0  #: the seed of the permutation that splits the images
#: The baselines' learning-rate grid: 10^-3 … 10^1 in quarter decades (17 values).
LR_GRID = tuple(float(10.0 ** (k / 4)) for k in range(-12, 5))
#: NAG's momentum grid, searched with every learning rate.
NAG_BETAS = (0.0, 0.5, 0.9, 0.95, 0.99)
ACTIVATIONS = ("sigmoid", "relu")  #: the hidden layer's activation (the paper's network is sigmoid)
SPLITS = ("train", "test")  #: where a task's minibatches come from

_MLP_LAYOUT = (("W1", (PIXELS, HIDDEN_UNITS)), ("b1", (HIDDEN_UNITS,)),
               ("W2", (HIDDEN_UNITS, CLASSES)), ("b2", (CLASSES,)))
_LSTM_LAYOUT = lstm.layout(2)  # two inputs per coordinate: the preprocessed gradient
LSTM_SIZE = lstm.layout_size(_LSTM_LAYOUT)  #: numbers in this chapter's LSTM's flat parameter vector


class Digits(NamedTuple):
    """One split of the digits: images (m, 64) in [0, 1] and their labels (m,)."""

    images: np.ndarray
    labels: np.ndarray


class DigitTasks(NamedTuple):
    """A batch of n networks to train: starting weights (n, MLP_SIZE) and minibatch indices (n, T+1, 128)."""

    theta0: np.ndarray
    batches: np.ndarray
    split: str
    activation: str


# ---------------------------------------------------------------------------
# the data and the optimizees
# ---------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _split(split: str) -> Digits:
    data = load_digits()  # ships inside scikit-learn: nothing is downloaded
    order = np.random.default_rng(SPLIT_SEED).permutation(len(data.target))
    keep = order[-TEST_SIZE:] if split == "test" else order[:-TEST_SIZE]
    images, labels = data.data[keep] / 16.0, data.target[keep].astype(np.int64)
    images.flags.writeable = labels.flags.writeable = False
    return Digits(images, labels)


def load(split: str = "train") -> Digits:
    """The images and labels of one split (``"train"``: 1,297 images, ``"test"``: the 500 held out).

    >>> d = load("test")
    >>> d.images.shape, d.labels.shape, float(d.images.max())
    ((500, 64), (500,), 1.0)
    """
    return _split(validate.choice("split", split, SPLITS))


def _draw(rng: np.random.Generator, n: int, steps: int, split: str, activation: str) -> DigitTasks:
    theta0 = rng.normal(0.0, INIT_STD, size=(n, MLP_SIZE))
    batches = rng.integers(0, len(_split(split).labels), size=(n, steps + 1, MINIBATCH))
    return DigitTasks(theta0, batches, split, activation)


def sample_tasks(n: int, *, seed: int, steps: int = STEPS, split: str = "train",
                 activation: str = "sigmoid") -> DigitTasks:
    """``n`` networks to train for ``steps`` steps, reproducibly from ``seed``.

    >>> t = sample_tasks(2, seed=0, steps=5)
    >>> t.theta0.shape, t.batches.shape
    ((2, 1510), (2, 6, 128))
    """
    n, steps = validate.count("n", n, minimum=1), validate.count("steps", steps, minimum=1)
    validate.memory(n * (MLP_SIZE + MINIBATCH * (steps + 1)),
                    f"each network's start and its minibatches' indices (n={n}, steps={steps})")
    split, activation = validate.choice("split", split, SPLITS), validate.choice("activation", activation, ACTIVATIONS)
    return _draw(np.random.default_rng(validate.seed("seed", seed)), n, steps, split, activation)


def _check_tasks(tasks, steps) -> tuple[DigitTasks, int]:
    tasks = validate.instance("tasks", tasks, DigitTasks, " (from digits.sample_tasks)")
    steps = validate.count("steps", steps)
    if steps > tasks.batches.shape[1] - 1:
        raise ValueError(f"steps must be at most the {tasks.batches.shape[1] - 1} steps the tasks have minibatches for, "
                         f"got {steps}")
    return tasks, steps


def _unpack_mlp(theta):
    out, k = [], 0
    for _, shape in _MLP_LAYOUT:
        size = int(np.prod(shape))
        out.append(theta[k:k + size].reshape(shape))
        k += size
    return out


def _mlp_loss(theta, images, labels, activation):
    W1, b1, W2, b2 = _unpack_mlp(theta)
    hidden = images @ W1 + b1
    hidden = jax.nn.sigmoid(hidden) if activation == "sigmoid" else jax.nn.relu(hidden)
    log_p = jax.nn.log_softmax(hidden @ W2 + b2)
    return -jnp.mean(jnp.take_along_axis(log_p, labels[:, None], axis=1))  # mean cross-entropy


_jit_mlp_loss = jax.jit(_mlp_loss, static_argnames=("activation",))

# one network per row: losses (n,) and gradients (n, MLP_SIZE) at θ (n, MLP_SIZE) on minibatches (n, 128, 64)
_batched_value_and_grad = jax.vmap(jax.value_and_grad(_mlp_loss), in_axes=(0, 0, 0, None))


@partial(jax.jit, static_argnames=("activation",))
def _value_and_grad(theta, index, images, labels, activation):
    """Losses and gradients of n networks θ (n, MLP_SIZE) on their minibatches ``index`` (n, 128)."""
    return _batched_value_and_grad(theta, images[index], labels[index], activation)


def start_gradients(tasks) -> np.ndarray:
    """Each network's gradient :math:`\nabla f_0(\theta_0)` on its first minibatch, the first input any optimizer reads: (n, MLP_SIZE)."""
    tasks, _ = _check_tasks(tasks, 0)
    data = _split(tasks.split)
    _, grad = _value_and_grad(tasks.theta0, tasks.batches[:, 0], data.images, data.labels, tasks.activation)
    return np.asarray(grad)


def mlp_loss(theta, *, split: str = "train", activation: str = "sigmoid") -> float:
    """The mean cross-entropy of the network ``theta`` (MLP_SIZE numbers) on every image of ``split``.

    >>> round(mlp_loss(np.zeros(MLP_SIZE)), 4)  # ten equal outputs: log 10
    2.3026
    """
    theta = validate.real_array("theta", theta)
    if theta.shape != (MLP_SIZE,):
        raise ValueError(f"theta must be the network's {MLP_SIZE} parameters, got shape {theta.shape}")
    data = load(split)
    activation = validate.choice("activation", activation, ACTIVATIONS)
    with np.errstate(over="ignore", invalid="ignore"):
        loss = float(_jit_mlp_loss(theta, data.images, data.labels, activation))
    if not np.isfinite(loss):
        raise DivergenceError("the network's loss overflowed")
    return loss


# ---------------------------------------------------------------------------
# the learned optimizers, on the networks
# ---------------------------------------------------------------------------


def _digits_net(flat, grad, state):
    """This chapter's LSTM: log-and-sign inputs, SCALE × the linear output."""
    p = lstm.unpack(flat, _LSTM_LAYOUT)
    n, d = grad.shape
    x = lstm.traced_log_and_sign(grad.reshape(n * d))  # (n·d, 2)
    h1, c1, h2, c2 = state
    h1, c1 = lstm.cell(p["W1"], p["b1"], x, h1, c1)
    h2, c2 = lstm.cell(p["W2"], p["b2"], h1, h2, c2)
    return SCALE * (h2 @ p["Wo"] + p["bo"]).reshape(n, d), (h1, c1, h2, c2)


_NETS = {"digits": _digits_net, "quadratics": lstm.lstm_net}


@partial(jax.jit, static_argnames=("net", "activation", "first_order"))
def _unroll(params, carry, batches, images, labels, *, net, activation, first_order):
    """One step per minibatch of ``batches`` (steps, n, 128) from ``carry`` = (θ, state, ∇f(θ)): losses (steps, n)."""
    step_fn = _NETS[net]

    def body(carry, index):
        theta, state, grad = carry
        update, state = step_fn(params, grad, state)
        theta = theta + update
        loss, grad = _batched_value_and_grad(theta, images[index], labels[index], activation)
        if first_order:
            grad = lax.stop_gradient(grad)  # ∂∇/∂params = 0: second derivatives dropped
        return (theta, state, grad), loss

    carry, losses = lax.scan(body, carry, batches)
    return losses, carry


def _meta_loss(params, carry, batches, images, labels, *, net, activation, first_order):
    losses, carry = _unroll(params, carry, batches, images, labels, net=net, activation=activation,
                            first_order=first_order)
    return jnp.mean(jnp.sum(losses, axis=0)), carry


_meta_value_and_grad = jax.jit(jax.value_and_grad(_meta_loss, has_aux=True),
                               static_argnames=("net", "activation", "first_order"))


def _start(tasks):
    """The data on device, the batches step-major (T+1, n, 128), f_0(θ_0) and the first carry."""
    data = _split(tasks.split)
    images, labels = jnp.asarray(data.images), jnp.asarray(data.labels)
    batches = jnp.asarray(np.swapaxes(tasks.batches, 0, 1))
    theta = jnp.asarray(tasks.theta0)
    loss, grad = _value_and_grad(theta, batches[0], images, labels, tasks.activation)
    state = lstm.zero_state(*theta.shape)
    return images, labels, batches, loss, (theta, state, grad)


def _run(net, params, tasks, steps):
    images, labels, batches, first, carry = _start(tasks)
    with np.errstate(over="ignore", invalid="ignore"):
        losses, _ = _unroll(jnp.asarray(params), carry, batches[1:steps + 1], images, labels, net=net,
                            activation=tasks.activation, first_order=True)
        out = np.concatenate([np.asarray(first)[:, None], np.asarray(losses).T], axis=1)
    if not np.all(np.isfinite(out)):
        raise DivergenceError(f"the loss overflowed at step {int(np.argmin(np.all(np.isfinite(out), axis=0)))}")
    return out


def _check_params(params, size=LSTM_SIZE, what="this chapter's LSTM (digits.lstm_init)") -> np.ndarray:
    flat = validate.real_array("params", params)
    if flat.shape != (size,):
        raise ValueError(f"params must be the {size} parameters of {what}, got shape {flat.shape}")
    return flat


def lstm_init(seed: int) -> np.ndarray:
    """This chapter's LSTM's initial parameters (two inputs per coordinate), initialized as :func:`metaopt.lstm.lstm_init`.

    >>> lstm_init(0).shape == (LSTM_SIZE,)
    True
    """
    return lstm.init_params(validate.seed("seed", seed), _LSTM_LAYOUT)


def run_lstm(params, *, tasks, steps: int = STEPS) -> np.ndarray:
    """The losses :math:`f_t(\\theta_t)`, t = 0 … ``steps``, of this chapter's LSTM ``params`` on each network: (n, T+1)."""
    params = _check_params(params)
    tasks, steps = _check_tasks(tasks, steps)
    return _run("digits", params, tasks, steps)


def run_quadratic_lstm(params, *, tasks, steps: int = STEPS) -> np.ndarray:
    """The losses of chapter 10's LSTM (:func:`metaopt.lstm.lstm_init`'s shape: raw gradient in, scale 1) on each network."""
    params = _check_params(params, lstm.LSTM_SIZE, "chapter 10's LSTM (lstm.lstm_init)")
    tasks, steps = _check_tasks(tasks, steps)
    return _run("quadratics", params, tasks, steps)


def lstm_meta_gradient(params, *, tasks, steps: int, first_order: bool = True):
    """(meta-loss, its gradient in ``params``) of one unroll of ``steps`` steps from θ₀ and zero states.

    The meta-loss is the batch mean of :math:`\\sum_{t=1}^{T} f_t(\\theta_t)`; ``first_order=False``
    differentiates through the network's gradient too.
    """
    params = _check_params(params)
    tasks, steps = _check_tasks(tasks, steps)
    first_order = validate.instance("first_order", first_order, bool)
    images, labels, batches, _, carry = _start(tasks)
    (loss, _), grad = _meta_value_and_grad(jnp.asarray(params), carry, batches[1:steps + 1], images, labels,
                                           net="digits", activation=tasks.activation, first_order=first_order)
    return float(loss), np.asarray(grad)


def meta_train(params, *, tasks, iterations: int, steps: int = STEPS, truncation: int = TRUNCATION,
               lr: float = META_LR, seed: int = 0, n: int = 1) -> MetaRun:
    """Meta-train this chapter's LSTM from ``params`` for ``iterations`` epochs, as chapter 10 does.

    Each epoch draws ``n`` fresh networks (and their minibatches, from the training split) from a
    generator seeded once by ``seed`` and trains them for ``steps`` steps in unrolls of
    ``truncation``; ``tasks`` is the validation batch that picks the returned parameters.
    """
    params = _check_params(params)
    tasks = validate.instance("tasks", tasks, DigitTasks, " (from digits.sample_tasks)")
    iterations = validate.count("iterations", iterations)
    steps, truncation = validate.count("steps", steps, minimum=1), validate.count("truncation", truncation, minimum=1)
    lr, seed, n = validate.positive("lr", lr), validate.seed("seed", seed), validate.count("n", n, minimum=1)
    validate.work(MAX_WORK, "one network-step costs about 13 ms here (10**5: about 20 minutes)",
                  iterations=iterations, steps=steps, n=n)
    tasks, _ = _check_tasks(tasks, steps)
    if truncation > steps:
        raise ValueError(f"truncation must be between 1 and steps={steps}, got {truncation}")
    if steps % truncation:
        raise ValueError(f"steps ({steps}) must be a multiple of truncation ({truncation})")
    data = _split("train")
    images, labels = jnp.asarray(data.images), jnp.asarray(data.labels)

    def draw(rng):
        _, _, batches, _, carry = _start(_draw(rng, n, steps, "train", tasks.activation))
        return batches, carry

    def unroll(flat, epoch_carry, k):
        batches, carry = epoch_carry
        (loss, carry), grad = _meta_value_and_grad(
            jnp.asarray(flat), carry, batches[1 + k * truncation:1 + (k + 1) * truncation], images, labels,
            net="digits", activation=tasks.activation, first_order=True)
        return loss, (batches, carry), grad

    def validation(flat):
        return float(np.mean(np.sum(_run("digits", flat, tasks, steps)[:, 1:], axis=1)))

    return lstm.truncated_bptt(params, iterations=iterations, unrolls=steps // truncation, lr=lr, seed=seed,
                                draw=draw, unroll=unroll, validation=validation)


# ---------------------------------------------------------------------------
# the baselines, on the same minibatches
# ---------------------------------------------------------------------------


def _run_optimizer(optimizer, tasks, steps):
    data = _split(tasks.split)
    images, labels = jnp.asarray(data.images), jnp.asarray(data.labels)
    theta = np.array(tasks.theta0, dtype=float)
    step = apply(optimizer, params=theta)
    losses = np.empty((theta.shape[0], steps + 1))
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps + 1):
            loss, grad = _value_and_grad(theta, tasks.batches[:, t], images, labels, tasks.activation)
            losses[:, t] = np.asarray(loss)
            if not np.all(np.isfinite(losses[:, t])):
                raise DivergenceError(f"the loss overflowed at step {t}")
            if t < steps:
                theta = step(theta, np.asarray(grad))  # raises DivergenceError on overflow
    return losses


def run_sgd(tasks, *, steps: int = STEPS, lr: float) -> np.ndarray:
    """Losses of gradient descent with learning rate ``lr`` on each network: (n, T+1)."""
    lr = validate.positive("lr", lr)
    return _run_optimizer(sgd(lr), *_check_tasks(tasks, steps))


def run_rmsprop(tasks, *, steps: int = STEPS, lr: float) -> np.ndarray:
    """Losses of :func:`metaopt.lstm.rmsprop` with learning rate ``lr``: (n, T+1)."""
    lr = validate.positive("lr", lr)
    return _run_optimizer(rmsprop(lr), *_check_tasks(tasks, steps))


def run_adam(tasks, *, steps: int = STEPS, lr: float) -> np.ndarray:
    """Losses of :func:`metaopt.meta_optimizers.adam` (default b1, b2, eps) with learning rate ``lr``: (n, T+1)."""
    lr = validate.positive("lr", lr)
    return _run_optimizer(adam(lr, b1=ADAM_B1, b2=ADAM_B2, eps=ADAM_EPS), *_check_tasks(tasks, steps))


def run_nag(tasks, *, steps: int = STEPS, lr: float, beta: float = 0.9) -> np.ndarray:
    """Losses of :func:`metaopt.lstm.nag` with learning rate ``lr`` and momentum ``beta``: (n, T+1)."""
    lr, beta = validate.positive("lr", lr), validate.unit_interval("beta", beta)
    return _run_optimizer(nag(lr, beta=beta), *_check_tasks(tasks, steps))
