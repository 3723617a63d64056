r"""The outer loop: meta-gradient descent on the optimizer parameters phi.

One meta-update is the document's

.. math:: \phi_{new} = \phi_{old} - \eta\, \nabla_\phi L(\theta_T),

and :func:`meta_train` repeats it, each time with the exact meta-gradient
from :func:`metaopt.meta_gradient`. :func:`meta_train_loop` is the outer loop
itself, shared by every meta-trainer of the library (chapters 6 and 8 plug in
other meta-optimizers and other meta-losses).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from . import validate
from .core import meta_gradient
from .document import ETA, PHI_OLD, STEPS, THETA0, THETA_STAR
from .validate import DivergenceError

__all__ = ["MetaTraining", "meta_step", "meta_train", "meta_train_loop", "MAX_ITERATIONS", "MAX_WORK"]


def meta_step(phi, *, grad, eta=ETA) -> np.ndarray:
    """One meta-update :math:`\\phi - \\eta\\, g`, for any meta-gradient ``grad`` (true or assumed)."""
    phi = validate.phi(phi)
    grad = validate.phi(grad, name="grad")
    eta = validate.positive("eta", eta)
    with np.errstate(over="ignore", invalid="ignore"):
        new = phi - eta * grad
    if not np.all(np.isfinite(new)):
        raise DivergenceError(f"the meta-update phi - eta * grad overflowed (eta={eta})")
    return new


class MetaTraining(NamedTuple):
    """The record of a meta-training run; iteration k = 0 is the starting phi.

    Attributes
    ----------
    phi : ndarray, shape (iterations + 1, ..., 3)
        :math:`\\phi^{(0)}, \\dots, \\phi^{(K)}`.
    loss : ndarray, shape (iterations + 1, ...)
        The meta-loss at each :math:`\\phi^{(k)}`.
    grad : ndarray, shape (iterations + 1, ..., 3)
        The meta-gradient at each :math:`\\phi^{(k)}`.
    """

    phi: np.ndarray
    loss: np.ndarray
    grad: np.ndarray


def meta_train(phi=PHI_OLD, *, eta=ETA, iterations=100, theta0=THETA0, theta_star=THETA_STAR, steps=STEPS):
    """Meta-train the optimizer: ``iterations`` meta-updates :math:`\\phi \\leftarrow \\phi - \\eta\\, \\nabla_\\phi L`.

    Each update uses the exact meta-gradient of the ``steps``-step inner loop
    started at ``theta0`` on :math:`(\\theta - \\theta^*)^2`. ``phi`` may be a batch
    (..., 3): each row is trained independently, all at once.

    Raises
    ------
    DivergenceError
        If meta-training blows up (eta too large): the message names the iteration.
    TypeError, ValueError
        For bad input.
    """
    eta = validate.positive("eta", eta)
    check_work(iterations=iterations, steps=steps)
    check_problem(phi, theta0=theta0, theta_star=theta_star)
    return meta_train_loop(
        phi,
        gradient=lambda current: meta_gradient(current, theta0=theta0, theta_star=theta_star, steps=steps),
        step=lambda current, grad: meta_step(current, grad=grad, eta=eta),
        iterations=iterations,
        context=f" with eta={eta}", advice=". A smaller meta step size eta keeps it stable.",
    )


#: The most iterations of meta-training in one call (the record keeps 7 numbers per phi per iteration).
MAX_ITERATIONS = 10**6
#: The most inner steps, iterations x steps, a meta-training call runs on the book's problem
#: (about 0.4 us a step plus 20 us an iteration for one phi: 10**7 is seconds to a minute).
MAX_WORK = 10**7


def check_problem(phi, *, theta0, theta_star):
    """Refuse a theta0 or theta_star that would add batch axes to ``phi``: meta-training updates phi,
    so the meta-gradient must have phi's shape (a batch of problems needs a batch of phi)."""
    phi = validate.phi(phi)
    for name, value in (("theta0", theta0), ("theta_star", theta_star)):
        shape = validate.real_array(name, value).shape
        try:
            batch = np.broadcast_shapes(phi.shape[:-1], shape)
        except ValueError:
            batch = None
        if batch != phi.shape[:-1]:
            raise ValueError(f"{name} (shape {shape}) must broadcast to phi's batch shape {phi.shape[:-1]}: each phi is "
                             f"trained on its own problem, so give phi a batch axis for each {name}")


def check_work(*, iterations, steps, limit=MAX_WORK, per="about 0.4 us a step plus 20 us an iteration for one phi"):
    """Refuse up front a meta-training run of more than ``limit`` inner steps in all (iterations x steps)."""
    iterations = validate.count("iterations", iterations, maximum=MAX_ITERATIONS, why=_ITERATIONS)
    steps = validate.count("steps", steps)
    validate.work(limit, f"each iteration runs the {steps}-step inner loop and its meta-gradient ({per})",
                  iterations=iterations, steps=steps)


_ITERATIONS = "the record keeps 7 numbers per phi per iteration, and each iteration costs at least ~20 us"


def meta_train_loop(
    phi, *, gradient: Callable, step: Callable, iterations: int, context: str = "", advice: str = ""
) -> MetaTraining:
    """The outer loop every meta-trainer of the library runs: ``iterations`` times, ``gradient`` then ``step``.

    ``gradient(phi) -> (loss, grad)``; ``step(phi, grad) -> new phi``, raising
    DivergenceError if the update overflows. Returns a :class:`MetaTraining`,
    iteration 0 being the start. A DivergenceError from either is raised again
    naming the iteration, with ``context`` after the iteration and ``advice`` at the end.
    """
    iterations = validate.count("iterations", iterations, maximum=MAX_ITERATIONS, why=_ITERATIONS)
    gradient = validate.callable_("gradient", gradient)
    step = validate.callable_("step", step)
    context = validate.instance("context", context, str)
    advice = validate.instance("advice", advice, str)
    current = validate.phi(phi)
    validate.memory(7 * (iterations + 1) * max(current.size // 3, 1),
                    f"7 numbers per phi per iteration (iterations={iterations}, {current.size // 3} phi)")
    phis, losses, grads = [], [], []
    for k in range(int(iterations) + 1):
        try:
            loss, grad = gradient(current)
        except DivergenceError as exc:
            raise DivergenceError(f"meta-training diverged at iteration {k}{context}: {exc}{advice}") from exc
        phis.append(current)
        losses.append(loss)
        grads.append(grad)
        if k < iterations:
            try:
                current = step(current, grad)
            except DivergenceError as exc:
                raise DivergenceError(
                    f"meta-training diverged at iteration {k + 1}{context}: {exc}{advice}"
                ) from exc
    return MetaTraining(np.array(phis), np.array(losses), np.array(grads))
