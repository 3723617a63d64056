r"""The paper's optimizer: a coordinatewise LSTM meta-trained on random quadratics (Part III, chapter 10).

The quadratic experiment of Andrychowicz et al. (2016), in JAX, as their reference code
(``deepmind/learning-to-learn``) runs it:

* **the optimizees** (:func:`sample_quadratics`): :math:`f(\theta) = \lVert W\theta - y\rVert^2`,
  :math:`\theta \in \mathbb{R}^{10}`, with :math:`W` (10×10) and :math:`y` drawn uniformly on
  :math:`[0, 1)` and :math:`\theta_0 \sim \mathcal{N}(0, 0.01^2)` (``problems.quadratic``; the
  paper's text says "IID Gaussian"); gradient :math:`\nabla f = 2W^\top(W\theta - y)`;
* **the optimizer** (:func:`lstm_init`, :func:`run_lstm`): a two-layer LSTM with 20 units per
  layer and a linear output, applied *coordinatewise*: one set of weights shared by the 10
  coordinates of every function, each coordinate with its own hidden and cell states. It reads
  the coordinate's gradient and writes the coordinate's update :math:`g_t`,
  :math:`\theta_{t+1} = \theta_t + g_t` (output scale 1, no preprocessing, as the code does for
  quadratics). Its parameters are one flat float vector ``params`` (:data:`LSTM_SIZE` numbers);
* **the book's linear RNN** (:func:`run_rnn`): :math:`h_t = \phi_1\nabla_t + \phi_2 h_{t-1}`,
  :math:`g_t = \phi_3 h_t`, coordinatewise too: heavy-ball momentum with learning rate
  :math:`-\phi_1\phi_3` and :math:`\beta = \phi_2`;
* **meta-training** (:func:`meta_train_lstm`, :func:`meta_train_rnn`): truncated BPTT, each epoch
  a fresh batch of functions optimized for ``steps`` = 100 steps in unrolls of ``truncation`` = 20;
  :math:`\theta` and the optimizer's state are carried from one unroll to the next (as constants:
  no gradient flows across an unroll's start), each unroll's meta-loss is the batch mean of
  :math:`\sum_t f(\theta_t)` over its 20 steps, its gradient moves the parameters by one step of
  :func:`metaopt.meta_optimizers.adam` (the book's one Adam, on the flat vector). The optimizee
  gradient enters through ``jax.lax.stop_gradient`` (``first_order=True``): the paper's "second
  derivatives dropped". Every ``VALIDATE_EVERY`` epochs the optimizer is run on a fixed
  validation batch and the best parameters are kept (the paper's early stopping);
* **the baselines** (:func:`run_sgd`, :func:`run_rmsprop`, :func:`run_adam`, :func:`run_nag`), numpy,
  each an optax-style transformation applied with :func:`metaopt.meta_optimizers.apply`, and
  :func:`tune`, a grid search scored by the mean summed loss :math:`\sum_{t=1}^{T} f(\theta_t)`;
* **the appendix's preprocessing** (:func:`log_and_sign`), implemented and checked, not used for
  the quadratics (neither does the reference code).

The building blocks that :mod:`metaopt.digits` (chapter 11) reuses are plain names outside
``__all__``: :func:`layout`, :func:`layout_size`, :func:`unpack`, :func:`init_params`, :func:`cell`,
:func:`zero_state`, :func:`lstm_net`, :func:`traced_log_and_sign` (traced by JAX, so they check no
input) and :func:`truncated_bptt` (the meta-training loop for any family of optimizees).

Everything is float64 (``jax_enable_x64``, turned on at import, as :mod:`metaopt.autodiff` does).
This module needs JAX (``pip install "metaopt[jax]"``).
"""

from __future__ import annotations

try:  # Part III needs JAX; metaopt itself needs only numpy and sympy
    import jax
except ImportError as err:
    raise ImportError('metaopt.lstm needs JAX: pip install "metaopt[jax]"') from err

from functools import partial
from typing import Callable, NamedTuple

import jax.numpy as jnp
import numpy as np
from jax import lax

from . import validate
from .meta_optimizers import ADAM_B1, ADAM_B2, ADAM_EPS, Optimizer, adam, apply, sgd
from .validate import DivergenceError

jax.config.update("jax_enable_x64", True)

__all__ = [
    "MAX_STEPS", "MAX_WORK", "DIM", "HIDDEN", "STEPS", "TRUNCATION", "BATCH", "META_LR", "P", "RMSPROP_DECAY", "VALIDATE_EVERY",
    "LR_GRID", "NAG_BETAS",
    "LSTM_SIZE", "Quadratics", "MetaRun", "Tuning",
    "sample_quadratics", "log_and_sign", "lstm_init", "run_lstm", "run_rnn", "lstm_meta_gradient",
    "meta_train_lstm", "meta_train_rnn", "rmsprop", "nag", "run_sgd", "run_rmsprop", "run_adam", "run_nag",
    "tune",
]

DIM = 10  #: coordinates of θ
HIDDEN = 20  #: units in each of the two LSTM layers
#: The most steps a run of an optimizer takes in one call, over all points of a grid (about 30 us a step).
MAX_STEPS = 10**6
#: The most steps of unroll and gradient in JAX one call runs, iterations x steps (about 0.3 ms a step).
MAX_WORK = 10**6
STEPS = 100  #: the optimization horizon (steps of θ)
TRUNCATION = 20  #: steps per truncated unroll
BATCH = 128  #: functions per meta-training batch
META_LR = 0.001  #: Adam's learning rate for the optimizer's parameters (the reference code's)
P = 10.0  #: the paper's preprocessing constant p
RMSPROP_DECAY = 0.9  #: RMSprop's decay rate (its usual default)
VALIDATE_EVERY = 10  #: epochs between two validation runs
THETA0_STD = 0.01  #: standard deviation of θ₀ (the reference code's)
#: The baselines' learning-rate grid: 10^-4 … 10^0 in quarter decades (17 values), the same for every baseline.
LR_GRID = tuple(float(10.0 ** (k / 4)) for k in range(-16, 1))
#: NAG's momentum grid, searched with every learning rate.
NAG_BETAS = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)
FORGET_BIAS = 1.0  #: added to the forget gate's pre-activation (Sonnet's LSTM default)



def layout(inputs: int) -> tuple:
    """The layout of the flat parameter vector of an LSTM reading ``inputs`` numbers per coordinate: (name, shape)."""
    return (
        ("W1", (inputs + HIDDEN, 4 * HIDDEN)), ("b1", (4 * HIDDEN,)),
        ("W2", (2 * HIDDEN, 4 * HIDDEN)), ("b2", (4 * HIDDEN,)),
        ("Wo", (HIDDEN, 1)), ("bo", (1,)),
    )


def layout_size(shapes) -> int:
    """Numbers in a flat parameter vector of this layout."""
    return sum(int(np.prod(s)) for _, s in shapes)


_LAYOUT = layout(1)  # this chapter's LSTM reads the raw gradient: one input
LSTM_SIZE = layout_size(_LAYOUT)  #: numbers in the LSTM's flat parameter vector


class Quadratics(NamedTuple):
    """A batch of n functions :math:`\\lVert W\\theta - y\\rVert^2` and their starting points."""

    W: np.ndarray  # (n, d, d)
    y: np.ndarray  # (n, d)
    theta0: np.ndarray  # (n, d)


class MetaRun(NamedTuple):
    """A meta-training run: the best parameters by validation, and its log."""

    params: np.ndarray  # the parameters with the lowest validation loss (the initial ones included)
    final: np.ndarray  # the parameters after the last meta-step
    train_loss: np.ndarray  # per epoch: the batch mean of the summed loss over the horizon
    first_losses: np.ndarray  # the meta-loss of each unroll of the first epochs (one per Adam step)
    validation_epochs: np.ndarray  # the epochs after which the validation batch was run (0: before training)
    validation_loss: np.ndarray  # its mean summed loss there
    best_epoch: int


class Tuning(NamedTuple):
    """A grid search: the best learning rate (and β), and the score of every grid point (inf: diverged)."""

    lr: float
    beta: float | None
    scores: np.ndarray  # (len(grid),) or (len(grid), len(betas))


# ---------------------------------------------------------------------------
# the optimizees
# ---------------------------------------------------------------------------


def _draw(rng: np.random.Generator, n: int, dim: int = DIM) -> Quadratics:
    W = rng.uniform(0.0, 1.0, size=(n, dim, dim))
    y = rng.uniform(0.0, 1.0, size=(n, dim))
    theta0 = rng.normal(0.0, THETA0_STD, size=(n, dim))
    return Quadratics(W, y, theta0)


def sample_quadratics(n: int, *, seed: int) -> Quadratics:
    """``n`` random functions of the reference code's distribution, reproducibly from ``seed``.

    >>> q = sample_quadratics(3, seed=0)
    >>> q.W.shape, q.y.shape, q.theta0.shape
    ((3, 10, 10), (3, 10), (3, 10))
    """
    n = validate.count("n", n, minimum=1)
    validate.memory(120 * n, f"about 120 values per function (n={n})")
    return _draw(np.random.default_rng(validate.seed("seed", seed)), n)


def _steps(steps):
    return validate.count("steps", steps, maximum=MAX_STEPS, why="about 30 us a step (10**6 steps: about 30 s)")


def _check_tasks(tasks) -> Quadratics:
    return validate.instance("tasks", tasks, Quadratics, " (from sample_quadratics)")


def _loss(W, y, theta):
    r = jnp.einsum("nij,nj->ni", W, theta) - y
    return jnp.sum(r * r, axis=-1)


def _grad(W, y, theta):
    return 2.0 * jnp.einsum("nij,ni->nj", W, jnp.einsum("nij,nj->ni", W, theta) - y)  # 2Wᵀ(Wθ − y)


# ---------------------------------------------------------------------------
# the appendix's preprocessing
# ---------------------------------------------------------------------------


def log_and_sign(grads):
    r"""The appendix's preprocessing of each gradient coordinate :math:`\nabla` into two inputs, p = 10:

    .. math::
        \nabla \mapsto \begin{cases} \left(\frac{\log|\nabla|}{p},\ \operatorname{sgn}\nabla\right)
        & |\nabla| \ge e^{-p} \\ (-1,\ e^{p}\nabla) & \text{otherwise.} \end{cases}

    The first input carries the magnitude on a log scale, the second the sign (for tiny
    gradients, the gradient itself, scaled up). Returns shape ``grads.shape + (2,)``.

    >>> log_and_sign([1.0, -np.e ** 20, 0.0]).tolist()
    [[0.0, 1.0], [2.0, -1.0], [-1.0, 0.0]]
    """
    g = validate.real_array("grads", grads)
    if g.ndim == 0:
        raise ValueError("grads must be an array of gradient coordinates, got a single number")
    return np.asarray(traced_log_and_sign(jnp.asarray(g)))


def traced_log_and_sign(g):
    big = jnp.abs(g) >= jnp.exp(-P)  # e^(−p), a number (not an array of size p)
    safe = jnp.where(big, jnp.abs(g), 1.0)
    first = jnp.where(big, jnp.log(safe) / P, -1.0)
    second = jnp.where(big, jnp.sign(g), jnp.exp(P) * g)
    return jnp.stack([first, second], axis=-1)


# ---------------------------------------------------------------------------
# the two learned optimizers, coordinatewise
# ---------------------------------------------------------------------------


def unpack(flat, shapes=_LAYOUT):
    """The flat parameter vector as named arrays (``shapes`` from :func:`layout`)."""
    out, k = {}, 0
    for name, shape in shapes:
        size = int(np.prod(shape))
        out[name] = flat[k:k + size].reshape(shape)
        k += size
    return out


def cell(W, b, x, h, c):
    """One LSTM cell: gates i, f, g, o from [x, h]; c' = σ(f + 1) c + σ(i) tanh(g); h' = σ(o) tanh(c')."""
    z = jnp.concatenate([x, h], axis=-1) @ W + b
    i, f, g, o = jnp.split(z, 4, axis=-1)
    c = jax.nn.sigmoid(f + FORGET_BIAS) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    return jax.nn.sigmoid(o) * jnp.tanh(c), c


def zero_state(n: int, dim: int = DIM):
    zeros = jnp.zeros((n * dim, HIDDEN))
    return (zeros, zeros, zeros, zeros)  # h1, c1, h2, c2: one row per coordinate


def lstm_net(flat, grad, state):
    """The coordinatewise LSTM: every coordinate of every function is one row of one batch."""
    p = unpack(flat)
    n, d = grad.shape
    x = grad.reshape(n * d, 1)
    h1, c1, h2, c2 = state
    h1, c1 = cell(p["W1"], p["b1"], x, h1, c1)
    h2, c2 = cell(p["W2"], p["b2"], h1, h2, c2)
    update = (h2 @ p["Wo"] + p["bo"]).reshape(n, d)  # linear output, scale 1
    return update, (h1, c1, h2, c2)


def _rnn_state(n: int, dim: int = DIM):
    return jnp.zeros((n, dim))


def _rnn_net(phi, grad, h):
    """The book's linear RNN, coordinatewise: h = φ1∇ + φ2h, g = φ3h."""
    h = phi[0] * grad + phi[1] * h
    return phi[2] * h, h


_NETS = {"lstm": (lstm_net, zero_state), "rnn": (_rnn_net, _rnn_state)}


@partial(jax.jit, static_argnames=("net", "steps", "first_order"))
def _unroll(params, theta, state, W, y, *, net, steps, first_order):
    """``steps`` steps from (θ, state): the losses f(θ_1) … f(θ_steps), shape (steps, n), and the final carry."""
    step_fn = _NETS[net][0]

    def body(carry, _):
        theta, state = carry
        grad = _grad(W, y, theta)
        if first_order:
            grad = lax.stop_gradient(grad)  # ∂∇/∂params = 0: second derivatives dropped
        update, state = step_fn(params, grad, state)
        theta = theta + update
        return (theta, state), _loss(W, y, theta)

    (theta, state), losses = lax.scan(body, (theta, state), None, length=steps)
    return losses, (theta, state)


def _meta_loss(params, theta, state, W, y, *, net, steps, first_order):
    losses, carry = _unroll(params, theta, state, W, y, net=net, steps=steps, first_order=first_order)
    return jnp.mean(jnp.sum(losses, axis=0)), carry


_meta_value_and_grad = jax.jit(
    jax.value_and_grad(_meta_loss, has_aux=True), static_argnames=("net", "steps", "first_order")
)


def _run(net, params, tasks, steps):
    n, d = tasks.theta0.shape
    losses, _ = _unroll(jnp.asarray(params), jnp.asarray(tasks.theta0), _NETS[net][1](n, d),
                        jnp.asarray(tasks.W), jnp.asarray(tasks.y), net=net, steps=steps, first_order=True)
    first = _loss(jnp.asarray(tasks.W), jnp.asarray(tasks.y), jnp.asarray(tasks.theta0))
    out = np.concatenate([np.asarray(first)[:, None], np.asarray(losses).T], axis=1)
    finite = np.isfinite(out).all(axis=0)
    if not finite.all():
        raise DivergenceError(f"the loss left the floating-point range at step {int(np.argmin(finite))}")
    return out


def _check_params(params) -> np.ndarray:
    flat = validate.real_array("params", params)
    if flat.shape != (LSTM_SIZE,):
        raise ValueError(f"params must be the LSTM's {LSTM_SIZE} parameters (lstm_init), got shape {flat.shape}")
    return flat


def lstm_init(seed: int) -> np.ndarray:
    """The LSTM's initial parameters, a flat vector of :data:`LSTM_SIZE` numbers, from ``seed``.

    The weights of each layer are Gaussian with variance 1/fan-in, the biases 0 (the forget gate
    gets +1 in the cell), the output weights Gaussian with standard deviation 0.01.

    >>> lstm_init(0).shape == (LSTM_SIZE,)
    True
    """
    return init_params(validate.seed("seed", seed), _LAYOUT)


def init_params(seed: int, shapes) -> np.ndarray:
    """:func:`lstm_init`'s initialization for any :func:`layout`."""
    rng = np.random.default_rng(seed)
    parts = []
    for name, shape in shapes:
        if name.startswith("b"):
            parts.append(np.zeros(shape))
        elif name == "Wo":
            parts.append(rng.normal(0.0, 0.01, size=shape))
        else:
            parts.append(rng.normal(0.0, 1.0 / np.sqrt(shape[0]), size=shape))
    return np.concatenate([p.ravel() for p in parts])


def run_lstm(params, *, tasks, steps: int = STEPS) -> np.ndarray:
    """The losses :math:`f(\\theta_0), \\dots, f(\\theta_T)` of the LSTM optimizer ``params`` on each function: (n, T+1)."""
    params, tasks = _check_params(params), _check_tasks(tasks)
    return _run("lstm", params, tasks, _steps(steps))


def run_rnn(phi, *, tasks, steps: int = STEPS) -> np.ndarray:
    """The losses of the linear-RNN optimizer ``phi`` = (φ1, φ2, φ3), applied coordinatewise: (n, T+1)."""
    phi, tasks = validate.one_phi(phi), _check_tasks(tasks)
    return _run("rnn", phi, tasks, _steps(steps))


def lstm_meta_gradient(params, *, tasks, steps: int, first_order: bool = True):
    """(meta-loss, its gradient in ``params``) of one unroll of ``steps`` steps from θ₀ and zero states.

    The meta-loss is the batch mean of :math:`\\sum_{t=1}^{T} f(\\theta_t)`. ``first_order=False``
    differentiates through the optimizee gradient too (the exact meta-gradient).
    """
    params, tasks = _check_params(params), _check_tasks(tasks)
    steps = validate.count("steps", steps, minimum=1, maximum=MAX_WORK,
                           why="one unroll and its gradient in JAX, about 0.3 ms a step (10**6: minutes)")
    first_order = validate.instance("first_order", first_order, bool)
    n, d = tasks.theta0.shape
    (loss, _), grad = _meta_value_and_grad(
        jnp.asarray(params), jnp.asarray(tasks.theta0), zero_state(n, d), jnp.asarray(tasks.W),
        jnp.asarray(tasks.y), net="lstm", steps=steps, first_order=first_order)
    return float(loss), np.asarray(grad)


# ---------------------------------------------------------------------------
# meta-training by truncated BPTT
# ---------------------------------------------------------------------------


def truncated_bptt(start, *, iterations, unrolls, lr, seed, draw, unroll, validation, keep=5):
    """The meta-training loop, for any family of optimizees: Adam on truncated unrolls, early stopping.

    ``draw(rng)`` returns an epoch's first carry (its optimizees, θ₀ and the optimizer's state);
    ``unroll(flat, carry, k)`` returns unroll k's (meta-loss, next carry, meta-gradient);
    ``validation(flat)`` the validation batch's mean summed loss.
    """
    rng = np.random.default_rng(seed)
    flat = np.array(start, dtype=float)
    step = apply(adam(lr), params=flat)
    best, best_loss, best_epoch = flat.copy(), validation(flat), 0
    train_loss, first_losses, val_epochs, val_loss = [], [], [0], [best_loss]
    for epoch in range(1, iterations + 1):
        carry, total = draw(rng), 0.0
        for k in range(unrolls):
            loss, carry, grad = unroll(flat, carry, k)
            loss = float(loss)
            if not np.isfinite(loss):
                raise DivergenceError(f"the meta-loss overflowed at epoch {epoch}")
            try:
                flat = step(flat, np.asarray(grad))
            except DivergenceError as exc:
                raise DivergenceError(f"{exc} at epoch {epoch}") from None
            total += loss
            if epoch <= keep:
                first_losses.append(loss)
        train_loss.append(total)
        if epoch % VALIDATE_EVERY == 0 or epoch == iterations:
            val = validation(flat)
            val_epochs.append(epoch)
            val_loss.append(val)
            if val < best_loss:
                best, best_loss, best_epoch = flat.copy(), val, epoch
    return MetaRun(best, flat, np.array(train_loss), np.array(first_losses), np.array(val_epochs),
                   np.array(val_loss), best_epoch)


def _meta_train(net, start, *, tasks, iterations, steps, truncation, lr, seed, n, dim=DIM):
    if truncation > steps:
        raise ValueError(f"truncation must be between 1 and steps={steps}, got {truncation}")
    if steps % truncation:
        raise ValueError(f"steps ({steps}) must be a multiple of truncation ({truncation})")

    def draw(rng):
        batch = _draw(rng, n, dim)
        return jnp.asarray(batch.W), jnp.asarray(batch.y), jnp.asarray(batch.theta0), _NETS[net][1](n, dim)

    def unroll(flat, carry, _):
        W, y, theta, state = carry
        (loss, (theta, state)), grad = _meta_value_and_grad(
            jnp.asarray(flat), theta, state, W, y, net=net, steps=truncation, first_order=True)
        return loss, (W, y, theta, state), grad

    def validation(flat):
        return float(np.mean(np.sum(_run(net, flat, tasks, steps)[:, 1:], axis=1)))

    return truncated_bptt(start, iterations=iterations, unrolls=steps // truncation, lr=lr, seed=seed,
                           draw=draw, unroll=unroll, validation=validation)


def _train_args(tasks, iterations, steps, truncation, lr, seed, n):
    iterations, steps = validate.count("iterations", iterations), validate.count("steps", steps, minimum=1)
    validate.work(MAX_WORK, "each epoch unrolls `steps` steps and their gradient in JAX, about 0.3 ms a step "
                  "(the book trains 300 x 100)", iterations=iterations, steps=steps)
    n = validate.count("n", n, minimum=1)
    validate.memory(120 * n, f"about 120 values per function of the batch (n={n})")
    return dict(tasks=_check_tasks(tasks), iterations=iterations, steps=steps,
                truncation=validate.count("truncation", truncation, minimum=1),
                lr=validate.positive("lr", lr), seed=validate.seed("seed", seed), n=n)


def meta_train_lstm(params, *, tasks, iterations: int, steps: int = STEPS, truncation: int = TRUNCATION,
                    lr: float = META_LR, seed: int = 0, n: int = BATCH) -> MetaRun:
    """Meta-train the LSTM from ``params`` for ``iterations`` epochs (``steps // truncation`` Adam steps each).

    Each epoch draws ``n`` fresh functions from a generator seeded once by ``seed``; ``tasks`` is
    the validation batch that picks the returned parameters.
    """
    return _meta_train("lstm", _check_params(params), **_train_args(tasks, iterations, steps, truncation, lr, seed, n))


def meta_train_rnn(phi, *, tasks, iterations: int, steps: int = STEPS, truncation: int = TRUNCATION,
                   lr: float = META_LR, seed: int = 0, n: int = BATCH) -> MetaRun:
    """Meta-train the linear RNN's ``phi`` exactly as :func:`meta_train_lstm` trains the LSTM."""
    return _meta_train("rnn", validate.one_phi(phi), **_train_args(tasks, iterations, steps, truncation, lr, seed, n))


# ---------------------------------------------------------------------------
# the baselines, in numpy
# ---------------------------------------------------------------------------


class _RmsState(NamedTuple):
    count: int
    v: np.ndarray


class _NagState(NamedTuple):
    count: int
    velocity: np.ndarray


def rmsprop(lr: float, *, eps: float = ADAM_EPS) -> Optimizer:
    r"""RMSprop: :math:`v_k = \rho v_{k-1} + (1-\rho) g_k^2`, update :math:`-\mathrm{lr}\, g_k / (\sqrt{v_k} + \epsilon)`, :math:`\rho = 0.9`."""
    lr, eps = validate.positive("lr", lr), validate.positive("eps", eps)

    def init(params):
        return _RmsState(0, np.zeros_like(np.asarray(params, dtype=float)))

    def update(grads, state):
        g = np.asarray(grads, dtype=float)
        v = RMSPROP_DECAY * state.v + (1.0 - RMSPROP_DECAY) * g * g
        return -lr * g / (np.sqrt(v) + eps), _RmsState(state.count + 1, v)

    return Optimizer(init, update)


def nag(lr: float, *, beta: float = 0.9) -> Optimizer:
    r"""Nesterov's accelerated gradient (Sutskever et al. 2013), written with the gradient at :math:`\theta_t`:

    :math:`v_k = \beta v_{k-1} + g_k`, update :math:`-\mathrm{lr}\,(g_k + \beta v_k)` (optax's ``nesterov``).
    """
    lr, beta = validate.positive("lr", lr), validate.unit_interval("beta", beta)

    def init(params):
        return _NagState(0, np.zeros_like(np.asarray(params, dtype=float)))

    def update(grads, state):
        g = np.asarray(grads, dtype=float)
        velocity = beta * state.velocity + g
        return -lr * (g + beta * velocity), _NagState(state.count + 1, velocity)

    return Optimizer(init, update)


def _run_optimizer(optimizer, tasks, steps):
    theta = np.array(tasks.theta0, dtype=float)
    step = apply(optimizer, params=theta)
    losses = np.empty((theta.shape[0], steps + 1))
    with np.errstate(over="ignore", invalid="ignore"):
        r = np.einsum("nij,nj->ni", tasks.W, theta) - tasks.y  # the residual W θ_t − y: the loss, then the gradient
        losses[:, 0] = np.sum(r ** 2, axis=-1)
        for t in range(steps):
            theta = step(theta, 2.0 * np.einsum("nij,ni->nj", tasks.W, r))  # raises DivergenceError on overflow
            r = np.einsum("nij,nj->ni", tasks.W, theta) - tasks.y
            losses[:, t + 1] = np.sum(r ** 2, axis=-1)
    if not np.all(np.isfinite(losses)):
        raise DivergenceError("the loss overflowed")
    return losses


def run_sgd(tasks, *, steps: int = STEPS, lr: float) -> np.ndarray:
    """Losses of gradient descent with learning rate ``lr`` on each function: (n, T+1)."""
    return _run_optimizer(sgd(lr), _check_tasks(tasks), _steps(steps))


def run_rmsprop(tasks, *, steps: int = STEPS, lr: float) -> np.ndarray:
    """Losses of :func:`rmsprop` with learning rate ``lr``: (n, T+1)."""
    return _run_optimizer(rmsprop(lr), _check_tasks(tasks), _steps(steps))


def run_adam(tasks, *, steps: int = STEPS, lr: float) -> np.ndarray:
    """Losses of :func:`metaopt.meta_optimizers.adam` (default b1, b2, eps) with learning rate ``lr``: (n, T+1)."""
    return _run_optimizer(adam(lr, b1=ADAM_B1, b2=ADAM_B2, eps=ADAM_EPS), _check_tasks(tasks),
                          _steps(steps))


def run_nag(tasks, *, steps: int = STEPS, lr: float, beta: float = 0.9) -> np.ndarray:
    """Losses of :func:`nag` with learning rate ``lr`` and momentum ``beta``: (n, T+1)."""
    return _run_optimizer(nag(lr, beta=beta), _check_tasks(tasks), _steps(steps))


def tune(run: Callable, *, tasks, steps: int = STEPS, grid, betas=None) -> Tuning:
    """The grid point with the lowest mean summed loss of ``run(tasks, steps=, lr=[, beta=])``.

    ``grid`` is the learning rates; ``betas``, if given, the momenta, searched in every
    combination. A run that overflows scores inf. ``run`` is any baseline of this module or of
    :mod:`metaopt.digits` (it checks its own ``tasks``, before the first grid point is scored).
    """
    run = validate.callable_("run", run)
    steps = _steps(steps)
    grid = validate.vector("grid", grid)
    if grid.size == 0 or np.any(grid <= 0):
        raise ValueError(f"grid must hold positive learning rates, got {grid.tolist()}")
    if betas is not None:
        betas = validate.vector("betas", betas)
        if betas.size == 0 or np.any(betas < 0) or np.any(betas >= 1):
            raise ValueError(f"betas must hold momenta in [0, 1), got {betas.tolist()}")
    scores = np.full((len(grid),) if betas is None else (len(grid), len(betas)), np.inf)
    validate.work(MAX_STEPS, "one run per grid point, about 30 us a step (10**6: about 30 s)",
                  steps=steps, **{"grid points": scores.size})
    if not isinstance(tasks, tuple):  # the runs' own check names tasks; here before anything is run
        raise TypeError(f"tasks must be a batch of tasks (lstm.sample_quadratics or digits.sample_tasks), "
                        f"got {type(tasks).__name__}")
    for index in np.ndindex(scores.shape):
        options = dict(lr=float(grid[index[0]]))
        if betas is not None:
            options["beta"] = float(betas[index[1]])
        try:
            scores[index] = float(np.mean(np.sum(run(tasks, steps=steps, **options)[:, 1:], axis=1)))
        except DivergenceError:
            pass
    best = np.unravel_index(int(np.argmin(scores)), scores.shape)
    return Tuning(float(grid[best[0]]), None if betas is None else float(betas[best[1]]), scores)
