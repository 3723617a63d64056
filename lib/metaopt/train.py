r"""The outer loop: meta-gradient descent on the optimizer parameters phi.

One meta-update is the document's

.. math:: \phi_{new} = \phi_{old} - \eta\, \nabla_\phi L(\theta_T),

and :func:`meta_train` repeats it, each time with the exact meta-gradient
from :func:`metaopt.meta_gradient`.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from .core import PHI_OLD, STEPS, THETA0, THETA_STAR, DivergenceError, _as_float_array, meta_gradient

__all__ = ["ETA", "ETA_TRAIN", "ASSUMED_GRADIENT", "MetaTraining", "meta_step", "meta_train"]

#: The document's meta step size.
ETA = 0.01
#: A meta step size that works for meta-training from phi_old: below the exact
#: largest step that lowers the meta-loss along the true meta-gradient
#: (symbolic.step_sizes, about 0.0035), and small enough for every later
#: iteration (the tests check both).
ETA_TRAIN = 0.001
#: The meta-gradient the document assumes "as if an autodiff library had computed it".
ASSUMED_GRADIENT = (15.0, 8.0, -10.0)


def _check_eta(eta) -> float:
    if isinstance(eta, bool) or not isinstance(eta, numbers.Real):
        raise TypeError(f"eta must be a real number (the meta step size), got {eta!r}")
    eta = float(eta)
    if not np.isfinite(eta) or eta <= 0:
        raise ValueError(f"eta must be a finite positive step size, got {eta!r}")
    return eta


def meta_step(phi, grad, eta=ETA) -> np.ndarray:
    """One meta-update :math:`\\phi - \\eta\\, g`, for any meta-gradient ``grad`` (true or assumed)."""
    phi = _as_float_array("phi", phi)
    grad = _as_float_array("grad", grad)
    if phi.shape[-1:] != (3,) or grad.shape[-1:] != (3,):
        raise ValueError(f"phi and grad must have 3 entries on their last axis, got {phi.shape} and {grad.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        new = phi - _check_eta(eta) * grad
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


def meta_train(phi=PHI_OLD, eta=ETA, iterations=100, theta0=THETA0, theta_star=THETA_STAR, steps=STEPS):
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
    eta = _check_eta(eta)
    phis, losses, grads = _meta_train_loop(
        phi, iterations,
        gradient=lambda current: meta_gradient(current, theta0, theta_star, steps),
        step=lambda current, grad: meta_step(current, grad, eta),
        context=f" with eta={eta}", advice=". A smaller meta step size eta keeps it stable.",
    )
    return MetaTraining(phis, losses, grads)


def _meta_train_loop(phi, iterations, gradient, step, context="", advice=""):
    """The outer loop shared by every meta-trainer: ``iterations`` times, ``gradient`` then ``step``.

    ``gradient(phi) -> (loss, grad)``; ``step(phi, grad) -> new phi``, raising
    DivergenceError if the update overflows. Returns the arrays (phis, losses,
    grads), iteration 0 being the start. A DivergenceError from either is raised
    again naming the iteration, with ``context`` after the iteration and ``advice`` at the end.
    """
    if isinstance(iterations, bool) or not isinstance(iterations, numbers.Integral):
        raise TypeError(f"iterations must be an integer, got {iterations!r}")
    if iterations < 0:
        raise ValueError(f"iterations must be >= 0, got {iterations}")
    current = _as_float_array("phi", phi)
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
    return np.array(phis), np.array(losses), np.array(grads)
