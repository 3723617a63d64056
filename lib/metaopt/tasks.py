r"""Learning across tasks: a distribution of quadratics, the trajectory-summed meta-loss, meta-training on it.

A *task* is a one-parameter quadratic with its own curvature and start,

.. math:: L(\theta) = c\,(\theta - \theta^*)^2, \qquad \nabla_t = 2c\,(\theta_t - \theta^*),

so :math:`c = 1` is the book's worked example and the second derivative is
:math:`L'' = 2c`. The linear-RNN optimizer runs on it unchanged,

.. math::
    h_t = \phi_1 \nabla_t + \phi_2 h_{t-1}, \qquad g_t = \phi_3 h_t, \qquad
    \theta_{t+1} = \theta_t + g_t, \qquad h_{-1} = 0,

and is judged, as in Andrychowicz et al. (2016), by the loss summed over its
trajectory,

.. math:: \mathcal{L}(\phi) = \sum_{t=1}^{T} w_t\, L(\theta_t) \qquad (w_t = 1 \text{ by default}),

whose gradient :func:`trajectory_meta_gradient` computes by reverse mode
(backpropagation through time), batched over tasks. With :math:`c = 1` and
:math:`w = (0, \dots, 0, 1)` it is the book's meta-loss :math:`L(\theta_T)`.

:func:`meta_train_tasks` trains :math:`\phi` on tasks with Adam as the
meta-optimizer. The hand-designed optimizers it is compared with, and their
tuning, are in :mod:`metaopt.baselines`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import sweep, validate
from .meta_optimizers import ADAM_B1, ADAM_B2, ADAM_EPS, adam, apply
from .sweep import MetaGradient, Trajectory
from .train import check_work, meta_train_loop
from .validate import DivergenceError

__all__ = [
    "QuadraticTasks",
    "make_tasks",
    "sample_tasks",
    "check_tasks",
    "unroll_tasks",
    "inner_losses",
    "trajectory_meta_loss",
    "trajectory_meta_gradient",
    "TaskTraining",
    "meta_train_tasks",
    "stability_limit",
    "MAX_WORK",
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
    if isinstance(bounds, (str, bytes)) or np.ndim(bounds) != 1 or len(bounds) != 2:
        raise TypeError(f"{name} must be a pair (low, high) of numbers, got {bounds!r}")
    lo, hi = (validate.real(name, v) for v in bounds)
    if lo > hi:
        raise ValueError(f"{name} must be a range with low <= high, got {bounds!r}")
    if positive and lo <= 0:
        raise ValueError(f"{name} must be positive, got {bounds!r}")
    return lo, hi


def make_tasks(*, curvature, theta_star, theta0) -> QuadraticTasks:
    """Tasks from given values, broadcast to one common 1-D shape (scalars give one task); curvature must be positive."""
    c = validate.real_array("curvature", curvature)
    ts = validate.real_array("theta_star", theta_star)
    t0 = validate.real_array("theta0", theta0)
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


def sample_tasks(n, *, seed, curvature=(0.5, 2.0), theta_star=(-10.0, 10.0), theta0=(-10.0, 10.0)) -> QuadraticTasks:
    """``n`` random tasks from a seeded generator.

    The curvature :math:`c` is log-uniform on ``curvature`` (so 0.5 and 2 are
    equally far from 1), :math:`\\theta^*` and :math:`\\theta_0` uniform on their ranges,
    all independent. The same ``seed`` gives the same tasks.
    """
    n = validate.count("n", n, minimum=1)
    validate.memory(3 * n, f"3 numbers per task (n={n})")
    seed = validate.seed("seed", seed)
    c_lo, c_hi = _check_range("curvature", curvature, positive=True)
    s_lo, s_hi = _check_range("theta_star", theta_star)
    o_lo, o_hi = _check_range("theta0", theta0)
    rng = np.random.default_rng(seed)
    c = np.exp(rng.uniform(np.log(c_lo), np.log(c_hi), n))
    return QuadraticTasks(c, rng.uniform(s_lo, s_hi, n), rng.uniform(o_lo, o_hi, n))


def check_tasks(tasks) -> QuadraticTasks:
    """``tasks`` if it is a well-formed :class:`QuadraticTasks`: TypeError or ValueError otherwise."""
    validate.instance("tasks", tasks, QuadraticTasks, " (see sample_tasks, make_tasks)")
    arrays = [validate.real_array(f"tasks.{name}", value) for name, value in zip(("curvature", "theta_star", "theta0"), tasks)]
    if any(a.ndim != 1 for a in arrays) or not len(arrays[0]) == len(arrays[1]) == len(arrays[2]) >= 1:
        raise ValueError("tasks must hold three non-empty 1-D arrays of equal length (use make_tasks)")
    if np.any(arrays[0] <= 0):
        raise ValueError(f"tasks.curvature must be positive, got {tasks.curvature!r}")
    return QuadraticTasks(*arrays)


def _on_tasks(tasks):
    """The sweep's problem arguments for ``tasks``."""
    tasks = check_tasks(tasks)
    return dict(theta0=tasks.theta0, theta_star=tasks.theta_star, curvature=tasks.curvature)


def _summed_weights(weights, steps):
    """None means w_t = 1 for every step: the trajectory-summed loss."""
    steps = validate.count("steps", steps)
    return np.ones(steps) if weights is None else weights


def unroll_tasks(phi, *, tasks, steps) -> Trajectory:
    """Run the linear-RNN optimizer ``phi`` (..., 3) on every task for ``steps`` steps.

    Returns a :class:`~metaopt.Trajectory` with time last: ``theta`` (..., T+1) and
    ``grad``, ``h``, ``g`` (..., T). ``phi`` broadcasts against the task axis.
    Raises :class:`~metaopt.DivergenceError` naming the step if theta overflows.
    """
    return sweep.unroll(phi, steps=steps, **_on_tasks(tasks))


def inner_losses(theta, *, tasks) -> np.ndarray:
    """:math:`L(\\theta_t) = c(\\theta_t - \\theta^*)^2` for a trajectory ``theta`` (n, T+1) on ``tasks``."""
    tasks = check_tasks(tasks)
    theta = validate.real_array("theta", theta)
    if theta.ndim != 2 or theta.shape[0] != len(tasks.curvature):
        raise ValueError(f"theta must have shape (tasks, T+1) = ({len(tasks.curvature)}, T+1), got {theta.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        losses = tasks.curvature[:, None] * (theta - tasks.theta_star[:, None]) ** 2
    if not np.all(np.isfinite(losses)):
        raise DivergenceError("a loss L(theta_t) overflowed: the inner optimizer diverged on some task")
    return losses


def trajectory_meta_loss(phi, *, tasks, steps, weights=None):
    """The trajectory-summed meta-loss :math:`\\sum_{t=1}^T w_t L(\\theta_t)` per task (forward only).

    ``weights=None`` is :math:`w_t = 1`. Returns an array of the batch shape
    (``phi``'s leading axes broadcast with the tasks).
    """
    return sweep.meta_loss(phi, steps=steps, weights=_summed_weights(weights, steps), **_on_tasks(tasks))


def trajectory_meta_gradient(phi, *, tasks, steps, weights=None, truncation=None) -> MetaGradient:
    """Trajectory-summed meta-loss and its gradient with respect to phi, by reverse mode.

    The general sweep of :mod:`metaopt.sweep` with each task's curvature and
    ``weights`` (None: :math:`w_t = 1`). ``truncation = k`` stops the sweep after the
    last ``k`` steps (truncated backpropagation through time).

    Examples
    --------
    The book's meta-loss is the case c = 1 with only the last loss counting:

    >>> tasks = make_tasks(curvature=1.0, theta_star=5.0, theta0=10.0)
    >>> loss, grad = trajectory_meta_gradient((0.1, 0.5, -1.0), tasks=tasks, steps=2, weights=[0, 1])
    >>> [round(float(g), 9) for g in grad[0]]
    [-113.4, -5.4, 11.34]

    Returns
    -------
    MetaGradient
        ``loss`` (batch shape), :math:`\\sum_{t=1}^T w_t L(\\theta_t)` per task, and ``grad``
        (batch shape + (3,)), its gradient.
    """
    return sweep.meta_gradient(
        phi, steps=steps, weights=_summed_weights(weights, steps), truncation=truncation, **_on_tasks(tasks)
    )


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


#: The most inner steps, iterations x steps, of one :func:`meta_train_tasks` call (about 40 us a
#: step for 20 tasks, forward and backward, plus 0.3 ms an iteration: 10**6 is under a minute).
MAX_WORK = 10**6


def meta_train_tasks(
    phi, *, tasks, steps, iterations, eta=0.01, weights=None, b1=ADAM_B1, b2=ADAM_B2, eps=ADAM_EPS
) -> TaskTraining:
    """Meta-train phi on the mean trajectory-summed meta-loss over ``tasks``, with Adam as the meta-optimizer.

    Each iteration computes the exact mean meta-gradient over all tasks
    (:func:`trajectory_meta_gradient`, full batch, so the run is deterministic) and
    takes one Adam step on :math:`\\phi` with meta step size ``eta``
    (:func:`metaopt.meta_optimizers.adam` with ``b1``, ``b2``, ``eps``).
    Adam's per-coordinate normalization keeps the steps bounded even when
    the meta-gradient is huge (a long horizon near the edge of stability).

    Raises :class:`~metaopt.DivergenceError` naming the iteration if the inner loop or
    its meta-gradient overflows.
    """
    current = validate.one_phi(phi)
    check_work(iterations=iterations, steps=steps, limit=MAX_WORK,
               per="about 40 us a step for 20 tasks, forward and backward, plus 0.3 ms an iteration")
    eta = validate.positive("eta", eta)
    optimizer = adam(eta, b1=b1, b2=b2, eps=eps)

    def gradient(phi):
        loss, grad = trajectory_meta_gradient(phi, tasks=tasks, steps=steps, weights=weights)
        return float(np.mean(loss)), grad.reshape(-1, 3).mean(axis=0)  # mean over the tasks

    record = meta_train_loop(
        current, gradient=gradient, step=apply(optimizer, params=current), iterations=iterations,
        context=f" (eta={eta})",
    )
    return TaskTraining(*record)


@validate.finite_results
def stability_limit(phi) -> float:
    """The largest curvature :math:`c` on which the linear optimizer ``phi`` still converges.

    With :math:`e_t = \\theta_t - \\theta^*`, the inner loop is heavy-ball momentum
    :math:`e_{t+1} = e_t + \\phi_2 (e_t - e_{t-1}) - 2c\\alpha\\, e_t` with step
    :math:`\\alpha = -\\phi_1\\phi_3` and momentum :math:`\\beta = \\phi_2`; for
    :math:`\\alpha > 0` and :math:`0 \\le \\beta < 1` it converges exactly when
    :math:`0 < 2c\\alpha < 2(1 + \\beta)`, i.e. :math:`c < (1 + \\beta)/\\alpha`.
    """
    p = validate.one_phi(phi)
    alpha, beta = -p[0] * p[2], p[1]
    if not (alpha > 0 and 0 <= beta < 1):
        raise ValueError(
            f"stability_limit needs a positive step -phi1*phi3 and momentum 0 <= phi2 < 1, got phi={phi!r}"
        )
    return float((1 + beta) / alpha)
