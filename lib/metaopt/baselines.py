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

:func:`tune` searches a grid over any of a runner's hyperparameters (the learning
rate and, say, momentum's :math:`\beta` or Adam's :math:`\beta_1`), scoring every
combination by the mean trajectory-summed loss on the training tasks;
:func:`tune_step_size` is its one-dimensional case, a grid of learning rates.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Callable, NamedTuple

import numpy as np

from . import validate
from .meta_optimizers import ADAM_B1, ADAM_B2, ADAM_EPS, Optimizer, adam, apply, momentum, sgd
from .tasks import check_tasks, inner_losses, unroll_tasks
from .validate import DivergenceError

__all__ = ["run_learned", "run_optimizer", "run_sgd", "run_momentum", "run_adam", "summed_loss", "GridSearch", "tune", "Tuning",
           "tune_step_size", "MAX_STEPS"]


#: The most optimizer steps a baseline takes in one call, over all points of a grid (about 15 s).
MAX_STEPS = 10**6
_PER_STEP = "about 15 us a step for a baseline optimizer (10**6 steps: about 15 s)"


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
    steps = validate.count("steps", steps, maximum=MAX_STEPS, why=_PER_STEP)
    name = validate.instance("name", name, str)
    validate.memory((steps + 1) * 2 * max(c.size, 1), f"theta at every step, twice (steps={steps}, on {c.size} tasks)")
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


@validate.finite_results
def summed_loss(theta, *, tasks, weights=None) -> np.ndarray:
    """:math:`\\sum_{t=1}^T w_t L(\\theta_t)` per task for a trajectory ``theta`` (n, T+1), from any optimizer; None: :math:`w_t = 1`."""
    losses = inner_losses(theta, tasks=tasks)[:, 1:]
    if weights is None:
        weights = np.ones(losses.shape[1])
    w = validate.real_array("weights", weights)
    if w.shape != (losses.shape[1],):
        raise ValueError(f"weights must hold one weight w_t per step t = 1..T ({losses.shape[1]}), got shape {w.shape}")
    return losses @ w


class GridSearch(NamedTuple):
    """The result of :func:`tune`: the best point of the grid, its score, and the score of every point.

    Attributes
    ----------
    best : dict
        The chosen value of each hyperparameter, ``{name: float}``, in the order of ``grid``.
    score : float
        Its mean trajectory-summed loss on the tasks (the lowest in ``scores``).
    scores : ndarray
        The mean trajectory-summed loss at every point of the grid, shape
        ``(len(grid[name1]), len(grid[name2]), ...)``, ``inf`` where the run diverged.
    grid : dict
        The values searched, ``{name: ndarray}``; axis ``i`` of ``scores`` is the ``i``-th name.
    at_edge : dict
        ``{name: bool}``: whether the chosen value is the first or the last of its grid
        (then the best value may lie outside the grid: widen it). A hyperparameter given
        one value is held fixed, not searched, and is never at an edge.
    """

    best: dict
    score: float
    scores: np.ndarray
    grid: dict
    at_edge: dict


def _check_grid(grid) -> dict:
    """``{name: 1-D float array}``; a plain sequence is a grid of learning rates, ``{"lr": grid}``."""
    if not isinstance(grid, Mapping):
        values = validate.real_array("grid", grid)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(
                "grid must be a dict {name: values} or a non-empty 1-D sequence of learning rates, "
                f"got shape {values.shape}"
            )
        grid = {"lr": values}
    if not grid:
        raise ValueError("grid must name at least one hyperparameter, got an empty dict")
    checked = {}
    for name, values in grid.items():
        if not isinstance(name, str):
            raise TypeError(f"grid keys must be the runner's keyword names (str), got {name!r} ({type(name).__name__})")
        if name in ("tasks", "steps"):
            raise ValueError(f"grid cannot search {name!r}: it is the problem, given to tune itself")
        values = validate.real_array(f"grid[{name!r}]", values)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"grid[{name!r}] must be a non-empty 1-D sequence of values, got shape {values.shape}")
        checked[name] = values
    return checked


def tune(run: Callable, *, tasks, steps, grid) -> GridSearch:
    """Grid search: the combination of hyperparameters with the lowest mean trajectory-summed loss on ``tasks``.

    ``run`` is :func:`run_sgd`, :func:`run_momentum` or :func:`run_adam` (or any
    function ``run(tasks, steps=..., **hyperparameters)`` returning theta (n, T+1)).
    ``grid`` maps each of its keyword arguments to the values to try, e.g.
    ``{"lr": [...], "beta": [...]}``; every combination (the Cartesian product) is run
    once on all ``tasks`` and scored by the mean over the tasks of
    :math:`\\sum_{t=1}^{T} L(\\theta_t)` (:func:`summed_loss`). A run that overflows
    counts as infinitely bad; ties go to the first combination in grid order.
    A plain sequence ``grid`` is a grid of learning rates, ``{"lr": grid}``.

    Examples
    --------
    >>> from metaopt.tasks import make_tasks
    >>> tasks = make_tasks(curvature=1.0, theta_star=0.0, theta0=1.0)
    >>> found = tune(run_momentum, tasks=tasks, steps=3, grid={"lr": [0.25, 0.5, 1.0], "beta": [0.0, 0.5]})
    >>> found.best, found.scores.shape, found.at_edge
    ({'lr': 0.5, 'beta': 0.0}, (3, 2), {'lr': False, 'beta': True})

    (:math:`\\alpha = 1/(2c)` without momentum solves the task in one step; the grid of
    :math:`\\beta` cannot go below 0, so that edge is real.)

    Returns
    -------
    GridSearch
        ``best``, ``score``, ``scores`` (shaped like the grid), ``grid`` and ``at_edge``.

    Raises :class:`~metaopt.DivergenceError` if the run diverges at every point of the grid;
    a value the runner rejects raises its ValueError or TypeError, naming the hyperparameter.
    """
    run = validate.callable_("run", run)
    check_tasks(tasks)
    steps = validate.count("steps", steps, maximum=MAX_STEPS, why=_PER_STEP)
    grid = _check_grid(grid)
    names = list(grid)
    validate.work(MAX_STEPS, "one run per grid point, about 15 us a step (10**6: about 15 s)",
                  steps=steps, **{"grid points": int(np.prod([len(v) for v in grid.values()]))})
    scores = np.empty(tuple(len(v) for v in grid.values()))
    for index in itertools.product(*(range(len(v)) for v in grid.values())):
        point = {name: float(grid[name][i]) for name, i in zip(names, index)}
        try:
            scores[index] = float(np.mean(summed_loss(run(tasks, steps=steps, **point), tasks=tasks)))
        except DivergenceError:
            scores[index] = np.inf
        except (TypeError, ValueError) as error:  # the runner refused this point: say which point of the grid
            raise type(error)(f"grid point {point}: {error}") from None
    if not np.isfinite(scores).any():
        raise DivergenceError(f"every point of the grid over {', '.join(names)} diverged on the tasks")
    best_index = np.unravel_index(int(np.argmin(scores)), scores.shape)
    best = {name: float(grid[name][i]) for name, i in zip(names, best_index)}
    at_edge = {name: len(grid[name]) > 1 and int(i) in (0, len(grid[name]) - 1) for name, i in zip(names, best_index)}
    return GridSearch(best, float(scores[best_index]), scores, grid, at_edge)


class Tuning(NamedTuple):
    """The result of :func:`tune_step_size`: the best learning rate, and the score of every grid point."""

    best: float
    scores: np.ndarray


def tune_step_size(run: Callable, *, tasks, steps, grid, **options) -> Tuning:
    """Grid search: the learning rate in ``grid`` with the lowest mean trajectory-summed loss on ``tasks``.

    ``run`` is :func:`run_sgd`, :func:`run_momentum` or :func:`run_adam` (``options``
    are passed on). A learning rate whose run overflows counts as infinitely bad.
    This is :func:`tune` over the learning rate alone, with ``options`` held fixed.

    Returns
    -------
    Tuning
        ``best``, the best learning rate, and ``scores`` (len(grid),), the mean
        trajectory-summed loss for each (``inf`` where it diverged).
    """
    grid = validate.real_array("grid", grid)
    if grid.ndim != 1 or grid.size == 0:
        raise ValueError(f"grid must be a non-empty 1-D sequence of learning rates, got shape {grid.shape}")
    for a in grid:
        validate.positive("grid entries", float(a))
    fixed = {name: [value] for name, value in options.items()}
    try:
        found = tune(run, tasks=tasks, steps=steps, grid={"lr": grid, **fixed})
    except DivergenceError:
        raise DivergenceError("every learning rate in the grid diverged on the tasks") from None
    return Tuning(found.best["lr"], found.scores.reshape(len(grid)))
