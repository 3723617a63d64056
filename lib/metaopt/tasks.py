r"""Learning across tasks: a distribution of quadratics, a trajectory-summed meta-loss, baselines.

A *task* is a one-parameter quadratic with its own curvature and start,

.. math:: L(\theta) = c\,(\theta - \theta^*)^2, \qquad \nabla_t = 2c\,(\theta_t - \theta^*),

so :math:`c = 1` is the book's worked example and the second derivative is
:math:`L'' = 2c`. The linear-RNN optimizer runs on it unchanged,

.. math::
    h_t = \phi_1 \nabla_t + \phi_2 h_{t-1}, \qquad g_t = \phi_3 h_t, \qquad
    \theta_{t+1} = \theta_t + g_t, \qquad h_{-1} = 0,

and is judged, as in Andrychowicz et al. (2016), by the loss summed over its
trajectory,

.. math:: M(\phi) = \sum_{t=1}^{T} w_t\, L(\theta_t) \qquad (w_t = 1 \text{ by default}),

whose gradient :func:`trajectory_meta_gradient` computes by reverse mode
(backpropagation through time), batched over tasks. With :math:`c = 1` and
:math:`w = (0, \dots, 0, 1)` it is the book's meta-loss :math:`L(\theta_T)`.

The baselines are the hand-designed inner optimizers SGD, heavy-ball momentum
and Adam (:func:`run_sgd`, :func:`run_momentum`, :func:`run_adam`), whose step
sizes :func:`tune_step_size` picks by grid search on the training tasks;
:func:`meta_train_tasks` trains :math:`\phi` on the same tasks with Adam as the
meta-optimizer.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from .core import DivergenceError, Trajectory, _as_float_array, _check_steps
from .meta_optimizers import _stepper, adam
from .train import _meta_train_loop

__all__ = [
    "QuadraticTasks",
    "sample_tasks",
    "make_tasks",
    "unroll_tasks",
    "inner_losses",
    "trajectory_meta_loss",
    "trajectory_meta_gradient",
    "run_learned",
    "run_sgd",
    "run_momentum",
    "run_adam",
    "summed_loss",
    "tune_step_size",
    "TaskTraining",
    "meta_train_tasks",
    "stability_limit",
]


class QuadraticTasks(NamedTuple):
    """A batch of quadratic tasks :math:`L(\\theta) = c(\\theta - \\theta^*)^2` started at :math:`\\theta_0`.

    Attributes
    ----------
    curvature : ndarray, shape (n,)
        :math:`c > 0` of each task (the loss's second derivative is :math:`2c`).
    theta_star : ndarray, shape (n,)
        The minimizer :math:`\\theta^*` of each task.
    theta0 : ndarray, shape (n,)
        The starting point :math:`\\theta_0` of each task.
    """

    curvature: np.ndarray
    theta_star: np.ndarray
    theta0: np.ndarray


def _check_range(name, bounds, positive=False):
    try:
        lo, hi = (float(v) for v in bounds)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair (low, high) of numbers, got {bounds!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
        raise ValueError(f"{name} must be a finite range with low <= high, got {bounds!r}")
    if positive and lo <= 0:
        raise ValueError(f"{name} must be positive, got {bounds!r}")
    return lo, hi


def _check_count(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def make_tasks(curvature, theta_star, theta0) -> QuadraticTasks:
    """Tasks from given values, broadcast to one common 1-D shape (scalars give one task); curvature must be positive."""
    c = _as_float_array("curvature", curvature)
    ts = _as_float_array("theta_star", theta_star)
    t0 = _as_float_array("theta0", theta0)
    try:
        shape = np.broadcast_shapes(c.shape, ts.shape, t0.shape)
    except ValueError:
        raise ValueError(
            f"curvature {c.shape}, theta_star {ts.shape} and theta0 {t0.shape} do not broadcast together"
        ) from None
    if np.any(c <= 0):
        raise ValueError(f"curvature must be positive, got {curvature!r}")
    if len(shape) > 1:
        raise ValueError(f"tasks are a 1-D batch: curvature, theta_star and theta0 broadcast to shape {shape}")
    return QuadraticTasks(*(np.array(np.broadcast_to(a, shape), ndmin=1) for a in (c, ts, t0)))


def sample_tasks(n, seed, curvature=(0.5, 2.0), theta_star=(-10.0, 10.0), theta0=(-10.0, 10.0)) -> QuadraticTasks:
    """``n`` random tasks from a seeded generator.

    The curvature :math:`c` is log-uniform on ``curvature`` (so 0.5 and 2 are
    equally far from 1), :math:`\\theta^*` and :math:`\\theta_0` uniform on their ranges,
    all independent. The same ``seed`` gives the same tasks.
    """
    n = _check_count("n", n)
    c_lo, c_hi = _check_range("curvature", curvature, positive=True)
    s_lo, s_hi = _check_range("theta_star", theta_star)
    o_lo, o_hi = _check_range("theta0", theta0)
    rng = np.random.default_rng(seed)
    c = np.exp(rng.uniform(np.log(c_lo), np.log(c_hi), n))
    return QuadraticTasks(c, rng.uniform(s_lo, s_hi, n), rng.uniform(o_lo, o_hi, n))


def _check_tasks(tasks) -> QuadraticTasks:
    if not isinstance(tasks, QuadraticTasks):
        raise TypeError(f"tasks must be a QuadraticTasks (see sample_tasks, make_tasks), got {type(tasks).__name__}")
    if any(np.ndim(a) != 1 for a in tasks) or not (len(tasks.curvature) == len(tasks.theta_star) == len(tasks.theta0)):
        raise ValueError("tasks must hold three 1-D arrays of equal length (use make_tasks)")
    return tasks


def _phi_and_tasks(phi, tasks, steps):
    """Validate; broadcast phi (..., 3) against the task axis; return arrays with a common batch shape."""
    steps = _check_steps(steps)
    tasks = _check_tasks(tasks)
    phi = _as_float_array("phi", phi)
    if phi.ndim == 0 or phi.shape[-1] != 3:
        raise ValueError(f"phi must hold (phi1, phi2, phi3) on its last axis, got shape {phi.shape}")
    try:
        batch = np.broadcast_shapes(phi.shape[:-1], tasks.curvature.shape)
    except ValueError:
        raise ValueError(
            f"phi (batch shape {phi.shape[:-1]}) and the tasks (shape {tasks.curvature.shape}) do not broadcast"
        ) from None
    phi = np.broadcast_to(phi, batch + (3,))
    c, ts, t0 = (np.broadcast_to(a, batch) for a in tasks)
    return phi[..., 0], phi[..., 1], phi[..., 2], c, ts, t0, steps, batch


def _raise_if_diverged(theta, what="the inner loop"):
    finite = np.isfinite(theta).reshape(theta.shape[0], -1).all(axis=1)
    if not finite.all():
        t = int(np.argmin(finite))
        raise DivergenceError(
            f"{what} diverged: theta_{t} left the finite floating-point range at step t={t - 1}; "
            "this optimizer is unstable on some task (too large a step for its curvature)"
        )


# ---------------------------------------------------------------------------
# the learned optimizer on tasks: forward and reverse mode
# ---------------------------------------------------------------------------


def _forward(phi1, phi2, phi3, c, theta_star, theta0, steps, batch):
    """The inner loop with curvature; time on axis 0."""
    theta = np.empty((steps + 1,) + batch)
    grad = np.empty((steps,) + batch)
    h = np.empty((steps,) + batch)
    g = np.empty((steps,) + batch)
    theta[0] = theta0
    h_prev = np.zeros(batch)  # h_{-1} = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            grad[t] = 2.0 * c * (theta[t] - theta_star)  # ∇_t = 2c(θ_t − θ*)
            h[t] = phi1 * grad[t] + phi2 * h_prev  # h_t = φ1 ∇_t + φ2 h_{t−1}
            g[t] = phi3 * h[t]  # g_t = φ3 h_t
            theta[t + 1] = theta[t] + g[t]  # θ_{t+1} = θ_t + g_t
            h_prev = h[t]
    _raise_if_diverged(theta)
    return theta, grad, h, g


def _check_weights(weights, steps):
    if weights is None:
        return np.ones(steps)
    w = _as_float_array("weights", weights)
    if w.shape != (steps,):
        raise ValueError(f"weights must hold one weight w_t per step t = 1..T ({steps}), got shape {w.shape}")
    return w


def _check_truncation(truncation, steps):
    if truncation is None:
        return steps
    k = _check_count("truncation", truncation, minimum=1)
    if k > steps:
        raise ValueError(f"truncation must be between 1 and steps={steps}, got {k}")
    return k


def unroll_tasks(phi, tasks, steps) -> Trajectory:
    """Run the linear-RNN optimizer ``phi`` (..., 3) on every task for ``steps`` steps.

    Returns a :class:`~metaopt.Trajectory` with time last: ``theta`` (..., T+1) and
    ``grad``, ``h``, ``g`` (..., T). ``phi`` broadcasts against the task axis.
    Raises :class:`~metaopt.DivergenceError` naming the step if theta overflows.
    """
    theta, grad, h, g = _forward(*_phi_and_tasks(phi, tasks, steps))
    return Trajectory(*(np.moveaxis(a, 0, -1) for a in (theta, grad, h, g)))


def inner_losses(theta, tasks) -> np.ndarray:
    """:math:`L(\\theta_t) = c(\\theta_t - \\theta^*)^2` for a trajectory ``theta`` (n, T+1) on ``tasks``."""
    tasks = _check_tasks(tasks)
    theta = np.asarray(theta, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        losses = tasks.curvature[:, None] * (theta - tasks.theta_star[:, None]) ** 2
    if not np.all(np.isfinite(losses)):
        raise DivergenceError("a loss L(theta_t) overflowed: the inner optimizer diverged on some task")
    return losses


def _summed(theta, c, theta_star, w):
    """Σ_{t=1}^{T} w_t c (θ_t − θ*)², theta with time on axis 0."""
    with np.errstate(over="ignore", invalid="ignore"):
        per_step = c * (theta[1:] - theta_star) ** 2
        total = np.tensordot(w, per_step, axes=(0, 0))
    if not np.all(np.isfinite(total)):
        raise DivergenceError("the trajectory-summed meta-loss overflowed: some L(theta_t) is past ~1.8e308")
    return total


def trajectory_meta_loss(phi, tasks, steps, weights=None):
    """The trajectory-summed meta-loss :math:`\\sum_{t=1}^T w_t L(\\theta_t)` per task (forward only).

    Returns an array of the batch shape (``phi``'s leading axes broadcast with the tasks).
    """
    phi1, phi2, phi3, c, ts, t0, steps, batch = _phi_and_tasks(phi, tasks, steps)
    w = _check_weights(weights, steps)
    theta, *_ = _forward(phi1, phi2, phi3, c, ts, t0, steps, batch)
    return _summed(theta, c, ts, w)


def trajectory_meta_gradient(phi, tasks, steps, weights=None, truncation=None):
    """Trajectory-summed meta-loss and its gradient with respect to phi, by reverse mode.

    The backward sweep undoes the forward lines of :func:`unroll_tasks` in
    reverse order (the comments repeat them); each loss term
    :math:`w_t L(\\theta_t)` enters the adjoint of :math:`\\theta_t` as the sweep
    passes it.

    ``truncation = k`` stops the sweep after the last ``k`` steps
    (truncated backpropagation through time): everything computed before step
    :math:`T - k` (that is, :math:`\\theta_{T-k}` and :math:`h_{T-k-1}`) is
    treated as a constant, so loss terms with :math:`t \\le T - k` contribute
    nothing. ``k = T`` (the default) is the full gradient.

    Examples
    --------
    The book's meta-loss is the case c = 1 with only the last loss counting:

    >>> loss, grad = trajectory_meta_gradient((0.1, 0.5, -1.0), make_tasks(1.0, 5.0, 10.0), 2, weights=[0, 1])
    >>> [round(float(g), 9) for g in grad[0]]
    [-113.4, -5.4, 11.34]

    Returns
    -------
    loss : ndarray, shape batch
        :math:`\\sum_{t=1}^T w_t L(\\theta_t)` per task.
    grad : ndarray, shape batch + (3,)
        Its gradient :math:`(\\partial/\\partial\\phi_1, \\partial/\\partial\\phi_2, \\partial/\\partial\\phi_3)`.
    """
    phi1, phi2, phi3, c, ts, t0, steps, batch = _phi_and_tasks(phi, tasks, steps)
    w = _check_weights(weights, steps)
    k = _check_truncation(truncation, steps) if steps else 0
    theta, grad, h, _ = _forward(phi1, phi2, phi3, c, ts, t0, steps, batch)
    loss = _summed(theta, c, ts, w)
    phi_bar = [np.zeros(batch) for _ in range(3)]
    theta_bar = np.zeros(batch)  # adjoint of θ_{t+1}, from the losses at t+1..T
    h_bar_next = np.zeros(batch)  # adjoint of h_t arriving from h_{t+1}
    with np.errstate(over="ignore", invalid="ignore"):
        for t in reversed(range(steps - k, steps)):
            # M = Σ w_t c (θ_t − θ*)²: the loss at step t+1 adds to θ̄_{t+1}
            theta_bar = theta_bar + w[t] * 2.0 * c * (theta[t + 1] - ts)
            # θ_{t+1} = θ_t + g_t
            g_bar = theta_bar
            # g_t = φ3 h_t
            phi_bar[2] = phi_bar[2] + g_bar * h[t]
            h_bar = h_bar_next + phi3 * g_bar
            # h_t = φ1 ∇_t + φ2 h_{t−1}
            phi_bar[0] = phi_bar[0] + h_bar * grad[t]
            phi_bar[1] = phi_bar[1] + h_bar * (h[t - 1] if t > 0 else 0.0)  # h_{−1} = 0
            grad_bar = phi1 * h_bar
            h_bar_next = phi2 * h_bar
            # ∇_t = 2c(θ_t − θ*), and θ_t also passes straight into θ_{t+1}
            theta_bar = theta_bar + 2.0 * c * grad_bar
            if not all(np.all(np.isfinite(x)) for x in (theta_bar, h_bar_next, *phi_bar)):
                raise DivergenceError(
                    f"the meta-gradient overflowed in backpropagation through time at step t={t} "
                    f"(counting back from t={steps - 1}); use fewer steps or a more stable phi"
                )
    return loss, np.stack(phi_bar, axis=-1)


# ---------------------------------------------------------------------------
# hand-designed inner optimizers (baselines)
# ---------------------------------------------------------------------------


def _check_lr(lr, name="lr"):
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"{name} must be a finite positive step size, got {lr!r}")
    return float(lr)


def _check_beta(beta, name):
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not (0 <= beta < 1):
        raise ValueError(f"{name} must be a number in [0, 1), got {beta!r}")
    return float(beta)


def run_learned(phi, tasks, steps) -> np.ndarray:
    """:math:`\\theta_0, \\dots, \\theta_T` of the linear-RNN optimizer ``phi`` (3,) on each task: shape (n, T+1)."""
    return unroll_tasks(phi, tasks, steps).theta


def run_sgd(tasks, steps, lr) -> np.ndarray:
    """Gradient descent :math:`\\theta_{t+1} = \\theta_t - \\alpha \\nabla_t` on each task: theta, shape (n, T+1)."""
    return run_momentum(tasks, steps, lr, beta=0.0)


def run_momentum(tasks, steps, lr, beta=0.9) -> np.ndarray:
    """Heavy-ball momentum (Polyak 1964): :math:`v_t = \\beta v_{t-1} + \\nabla_t`, :math:`\\theta_{t+1} = \\theta_t - \\alpha v_t`, :math:`v_{-1} = 0`.

    This is the linear RNN with :math:`\\phi = (1, \\beta, -\\alpha)`. Returns theta, shape (n, T+1).
    """
    tasks, steps, lr, beta = _check_tasks(tasks), _check_steps(steps), _check_lr(lr), _check_beta(beta, "beta")
    c, ts, t0 = tasks
    theta = np.empty((steps + 1,) + c.shape)
    theta[0] = t0
    v = np.zeros(c.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            v = beta * v + 2.0 * c * (theta[t] - ts)
            theta[t + 1] = theta[t] - lr * v
    _raise_if_diverged(theta, "momentum" if beta else "SGD")
    return theta.T.copy()


def run_adam(tasks, steps, lr, beta1=0.9, beta2=0.999, eps=1e-8) -> np.ndarray:
    """Adam (Kingma and Ba 2015) with bias correction on each task; theta, shape (n, T+1).

    :math:`m_t = \\beta_1 m_{t-1} + (1-\\beta_1)\\nabla_t`, :math:`v_t = \\beta_2 v_{t-1} + (1-\\beta_2)\\nabla_t^2`,
    :math:`\\theta_{t+1} = \\theta_t - \\alpha\\, \\hat m_t / (\\sqrt{\\hat v_t} + \\epsilon)` with
    :math:`\\hat m_t = m_t / (1 - \\beta_1^{t+1})`, :math:`\\hat v_t = v_t / (1 - \\beta_2^{t+1})`, :math:`m_{-1} = v_{-1} = 0`.
    """
    tasks, steps, lr = _check_tasks(tasks), _check_steps(steps), _check_lr(lr)
    beta1, beta2 = _check_beta(beta1, "beta1"), _check_beta(beta2, "beta2")
    eps = _check_lr(eps, "eps")
    c, ts, t0 = tasks
    theta = np.empty((steps + 1,) + c.shape)
    theta[0] = t0
    m = np.zeros(c.shape)
    v = np.zeros(c.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            grad = 2.0 * c * (theta[t] - ts)
            m = beta1 * m + (1 - beta1) * grad
            v = beta2 * v + (1 - beta2) * grad**2
            m_hat = m / (1 - beta1 ** (t + 1))
            v_hat = v / (1 - beta2 ** (t + 1))
            theta[t + 1] = theta[t] - lr * m_hat / (np.sqrt(v_hat) + eps)
    _raise_if_diverged(theta, "Adam")
    return theta.T.copy()


def summed_loss(theta, tasks, weights=None) -> np.ndarray:
    """:math:`\\sum_{t=1}^T w_t L(\\theta_t)` per task for a trajectory ``theta`` (n, T+1), from any optimizer."""
    losses = inner_losses(theta, tasks)[:, 1:]
    w = _check_weights(weights, losses.shape[1])
    return losses @ w


def tune_step_size(run, tasks, steps, grid, **options):
    """Grid search: the step size in ``grid`` with the lowest mean trajectory-summed loss on ``tasks``.

    ``run`` is :func:`run_sgd`, :func:`run_momentum` or :func:`run_adam` (``options``
    are passed on). A step size whose run overflows counts as infinitely bad.

    Returns
    -------
    best : float
        The best step size.
    scores : ndarray, shape (len(grid),)
        Mean trajectory-summed loss for each step size (``inf`` where it diverged).
    """
    grid = [_check_lr(float(a), "grid entries") for a in np.atleast_1d(np.asarray(grid, dtype=float))]
    scores = []
    for lr in grid:
        try:
            scores.append(float(np.mean(summed_loss(run(tasks, steps, lr, **options), tasks))))
        except DivergenceError:
            scores.append(np.inf)
    scores = np.array(scores)
    if not np.isfinite(scores).any():
        raise DivergenceError("every step size in the grid diverged on the tasks")
    return grid[int(np.argmin(scores))], scores


# ---------------------------------------------------------------------------
# meta-training across tasks, with Adam as the meta-optimizer
# ---------------------------------------------------------------------------


class TaskTraining(NamedTuple):
    """The record of :func:`meta_train_tasks`; iteration k = 0 is the starting phi.

    Attributes
    ----------
    phi : ndarray, shape (iterations + 1, 3)
    loss : ndarray, shape (iterations + 1,)
        Mean trajectory-summed meta-loss over the training tasks at each :math:`\\phi^{(k)}`.
    grad : ndarray, shape (iterations + 1, 3)
        Its gradient at each :math:`\\phi^{(k)}`.
    """

    phi: np.ndarray
    loss: np.ndarray
    grad: np.ndarray


def meta_train_tasks(phi, tasks, steps, iterations, lr=0.01, weights=None, beta1=0.9, beta2=0.999, eps=1e-8):
    """Meta-train phi on the mean trajectory-summed meta-loss over ``tasks``, with Adam as the meta-optimizer.

    Each iteration computes the exact mean meta-gradient over all tasks
    (:func:`trajectory_meta_gradient`, full batch, so the run is deterministic) and
    takes one Adam step on :math:`\\phi` with meta step size ``lr``:
    :math:`m \\leftarrow \\beta_1 m + (1-\\beta_1) G`, :math:`v \\leftarrow \\beta_2 v + (1-\\beta_2) G^2`,
    :math:`\\phi \\leftarrow \\phi - \\mathrm{lr}\\, \\hat m / (\\sqrt{\\hat v} + \\epsilon)`.
    Adam's per-coordinate normalization keeps the steps bounded even when
    the meta-gradient is huge (a long horizon near the edge of stability).

    Raises :class:`~metaopt.DivergenceError` naming the iteration if the inner loop or
    its meta-gradient overflows.
    """
    iterations = _check_count("iterations", iterations, minimum=0)
    lr = _check_lr(lr)
    beta1, beta2 = _check_beta(beta1, "beta1"), _check_beta(beta2, "beta2")
    eps = _check_lr(eps, "eps")
    current = _as_float_array("phi", phi)
    if current.shape != (3,):
        raise ValueError(f"phi must be one optimizer (phi1, phi2, phi3), got shape {current.shape}")

    def gradient(phi):
        loss, grad = trajectory_meta_gradient(phi, tasks, steps, weights)
        return float(np.mean(loss)), grad.reshape(-1, 3).mean(axis=0)  # mean over the tasks

    phis, losses, grads = _meta_train_loop(
        current, iterations, gradient, _stepper(adam(lr, beta1, beta2, eps), current), context=f" (lr={lr})"
    )
    return TaskTraining(phis, losses, grads)


def stability_limit(phi) -> float:
    """The largest curvature :math:`c` on which the linear optimizer ``phi`` still converges.

    With :math:`e_t = \\theta_t - \\theta^*`, the inner loop is heavy-ball momentum
    :math:`e_{t+1} = e_t + \\phi_2 (e_t - e_{t-1}) - 2c\\alpha\\, e_t` with step
    :math:`\\alpha = -\\phi_1\\phi_3` and momentum :math:`\\beta = \\phi_2`; for
    :math:`\\alpha > 0` and :math:`0 \\le \\beta < 1` it converges exactly when
    :math:`0 < 2c\\alpha < 2(1 + \\beta)`, i.e. :math:`c < (1 + \\beta)/\\alpha`.
    """
    p = _as_float_array("phi", phi)
    if p.shape != (3,):
        raise ValueError(f"phi must be one optimizer (phi1, phi2, phi3), got shape {p.shape}")
    alpha, beta = -p[0] * p[2], p[1]
    if not (alpha > 0 and 0 <= beta < 1):
        raise ValueError(
            f"stability_limit needs a positive step -phi1*phi3 and momentum 0 <= phi2 < 1, got phi={phi!r}"
        )
    return float((1 + beta) / alpha)
