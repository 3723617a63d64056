r"""Hand-designed inner optimizers on the tasks of :mod:`metaopt.tasks`, and their tuning.

Chapter 8 compares the meta-trained linear RNN with gradient descent, heavy-ball
momentum and Adam, each run on every task of a :class:`~metaopt.tasks.QuadraticTasks`
batch for ``steps`` steps. The optimizers are the optax-style transformations of
:mod:`metaopt.meta_optimizers`, applied to :math:`\theta` instead of :math:`\phi`
(one Adam in the library, for both levels):

* :func:`run_sgd`: :math:`\theta_{t+1} = \theta_t - \mathrm{lr}\,\nabla_t`;
* :func:`run_momentum`: :math:`v_t = \beta v_{t-1} + \nabla_t`, :math:`\theta_{t+1} = \theta_t - \mathrm{lr}\, v_t`
  (the linear RNN with :math:`\phi = (1, \beta, -\mathrm{lr})`);
* :func:`run_adam`: Adam with bias correction.

:func:`tune_step_size` picks a learning rate from a grid by the mean
trajectory-summed loss on the training tasks.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from . import validate
from .meta_optimizers import ADAM_B1, ADAM_B2, ADAM_EPS, Optimizer, adam, apply, momentum, sgd
from .tasks import check_tasks, inner_losses, unroll_tasks
from .validate import DivergenceError

__all__ = ["run_learned", "run_optimizer", "run_sgd", "run_momentum", "run_adam", "summed_loss", "Tuning", "tune_step_size"]


def run_learned(phi, *, tasks, steps) -> np.ndarray:
    """:math:`\\theta_0, \\dots, \\theta_T` of the linear-RNN optimizer ``phi`` (3,) on each task: shape (n, T+1)."""
    return unroll_tasks(validate.one_phi(phi), tasks=tasks, steps=steps).theta


def run_optimizer(optimizer, *, tasks, steps, name="the optimizer") -> np.ndarray:
    """Run an optax-style ``optimizer`` on every task's :math:`\\theta` for ``steps`` steps: theta, shape (n, T+1).

    Each step feeds the optimizee gradients :math:`\\nabla_t = 2c(\\theta_t - \\theta^*)` of all
    tasks to ``optimizer.update`` at once (the transformations act elementwise).
    Raises :class:`~metaopt.DivergenceError` naming ``name`` and the step if theta overflows.
    """
    optimizer = validate.instance("optimizer", optimizer, Optimizer, " (e.g. sgd(lr) or adam(lr))")
    c, ts, t0 = check_tasks(tasks)
    steps = validate.count("steps", steps)
    name = validate.instance("name", name, str)
    theta = np.empty((steps + 1,) + c.shape)
    theta[0] = t0
    step = apply(optimizer, params=theta[0])
    for t in range(steps):
        with np.errstate(over="ignore", invalid="ignore"):
            grad = 2.0 * c * (theta[t] - ts)  # ∇_t = 2c(θ_t − θ*)
        try:
            theta[t + 1] = step(theta[t], grad)
        except DivergenceError:
            raise DivergenceError(
                f"{name} diverged: theta_{t + 1} left the finite floating-point range at step t={t}; "
                "it is unstable on some task (too large a step for its curvature)"
            ) from None
    return theta.T.copy()


def run_sgd(tasks, *, steps, lr) -> np.ndarray:
    """Gradient descent :math:`\\theta_{t+1} = \\theta_t - \\mathrm{lr}\\, \\nabla_t` on each task: theta, shape (n, T+1)."""
    return run_optimizer(sgd(lr), tasks=tasks, steps=steps, name="SGD")


def run_momentum(tasks, *, steps, lr, beta=0.9) -> np.ndarray:
    """Heavy-ball momentum (Polyak 1964): :math:`v_t = \\beta v_{t-1} + \\nabla_t`, :math:`\\theta_{t+1} = \\theta_t - \\mathrm{lr}\\, v_t`, :math:`v_{-1} = 0`.

    This is the linear RNN with :math:`\\phi = (1, \\beta, -\\mathrm{lr})`. Returns theta, shape (n, T+1).
    """
    return run_optimizer(momentum(lr, beta=beta), tasks=tasks, steps=steps, name="momentum")


def run_adam(tasks, *, steps, lr, b1=ADAM_B1, b2=ADAM_B2, eps=ADAM_EPS) -> np.ndarray:
    """Adam (Kingma and Ba 2015) with bias correction on each task (:func:`metaopt.meta_optimizers.adam`); theta, shape (n, T+1)."""
    return run_optimizer(adam(lr, b1=b1, b2=b2, eps=eps), tasks=tasks, steps=steps, name="Adam")


def summed_loss(theta, *, tasks, weights=None) -> np.ndarray:
    """:math:`\\sum_{t=1}^T w_t L(\\theta_t)` per task for a trajectory ``theta`` (n, T+1), from any optimizer; None: :math:`w_t = 1`."""
    losses = inner_losses(theta, tasks=tasks)[:, 1:]
    if weights is None:
        weights = np.ones(losses.shape[1])
    w = validate.real_array("weights", weights)
    if w.shape != (losses.shape[1],):
        raise ValueError(f"weights must hold one weight w_t per step t = 1..T ({losses.shape[1]}), got shape {w.shape}")
    return losses @ w


class Tuning(NamedTuple):
    """The result of :func:`tune_step_size`: the best learning rate, and the score of every grid point."""

    best: float
    scores: np.ndarray


def tune_step_size(run: Callable, *, tasks, steps, grid, **options) -> Tuning:
    """Grid search: the learning rate in ``grid`` with the lowest mean trajectory-summed loss on ``tasks``.

    ``run`` is :func:`run_sgd`, :func:`run_momentum` or :func:`run_adam` (``options``
    are passed on). A learning rate whose run overflows counts as infinitely bad.

    Returns
    -------
    Tuning
        ``best``, the best learning rate, and ``scores`` (len(grid),), the mean
        trajectory-summed loss for each (``inf`` where it diverged).
    """
    run = validate.callable_("run", run)
    check_tasks(tasks)
    steps = validate.count("steps", steps)
    grid = validate.real_array("grid", grid)
    if grid.ndim != 1 or grid.size == 0:
        raise ValueError(f"grid must be a non-empty 1-D sequence of learning rates, got shape {grid.shape}")
    grid = [validate.positive("grid entries", float(a)) for a in grid]
    scores = []
    for lr in grid:
        try:
            scores.append(float(np.mean(summed_loss(run(tasks, steps=steps, lr=lr, **options), tasks=tasks))))
        except DivergenceError:
            scores.append(np.inf)
    scores = np.array(scores)
    if not np.isfinite(scores).any():
        raise DivergenceError("every learning rate in the grid diverged on the tasks")
    return Tuning(grid[int(np.argmin(scores))], scores)
