r"""Meta-optimizers: what moves :math:`\phi` in the outer loop, in the style of optax.

A meta-optimizer is a pair of pure functions held in a NamedTuple,
``init(params) -> state`` and ``update(grads, state) -> (updates, state)``;
the new parameters are ``params + updates``. The state is explicit data.

* :func:`sgd` is the document's meta-update :math:`\phi \leftarrow \phi - \eta\, \nabla_\phi L`.
* :func:`adam` is Adam (Kingma & Ba 2015), the meta-optimizer of Andrychowicz et al. (2016):

  .. math::
     m_k = \beta_1 m_{k-1} + (1 - \beta_1) g_k, \quad
     v_k = \beta_2 v_{k-1} + (1 - \beta_2) g_k^2, \quad
     \Delta\phi = -\eta\, \frac{m_k / (1 - \beta_1^k)}{\sqrt{v_k / (1 - \beta_2^k)} + \epsilon}.

:func:`meta_train_with` runs the outer loop with any meta-optimizer and any
meta-gradient function (exact, or the first-order approximation of
:mod:`metaopt.first_order`).
"""

from __future__ import annotations

import numbers
from typing import Callable, NamedTuple

import numpy as np

from .core import PHI_OLD, STEPS, THETA0, THETA_STAR, DivergenceError, _as_float_array, meta_gradient
from .train import MetaTraining, _meta_train_loop

__all__ = ["MetaOptimizer", "SgdState", "AdamState", "sgd", "adam", "meta_train_with"]


class MetaOptimizer(NamedTuple):
    """``init(params) -> state`` and ``update(grads, state) -> (updates, state)``."""

    init: Callable
    update: Callable


class SgdState(NamedTuple):
    """Plain gradient descent keeps no state but the iteration count."""

    count: int


class AdamState(NamedTuple):
    """Adam's state: the iteration count k and the two moving averages."""

    count: int
    m: np.ndarray  # first moment, the moving average of g
    v: np.ndarray  # second moment, the moving average of g**2


def _positive(name, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite positive number, got {value!r}")
    return value


def _decay(name, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not 0 <= value < 1:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return value


def sgd(eta: float) -> MetaOptimizer:
    r"""Gradient descent with step size ``eta``: updates :math:`-\eta\, g`."""
    eta = _positive("eta", eta)

    def init(params):
        return SgdState(count=0)

    def update(grads, state):
        return -eta * np.asarray(grads, dtype=float), SgdState(state.count + 1)

    return MetaOptimizer(init, update)


def adam(eta: float = 0.001, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> MetaOptimizer:
    r"""Adam with step size ``eta``, decay rates ``b1``, ``b2`` and ``eps`` (the paper's defaults).

    Each coordinate's step is about ``eta`` in size whatever the scale of its
    gradient: Adam divides the averaged gradient by its averaged magnitude.
    """
    eta = _positive("eta", eta)
    b1, b2 = _decay("b1", b1), _decay("b2", b2)
    eps = _positive("eps", eps)

    def init(params):
        zeros = np.zeros_like(np.asarray(params, dtype=float))
        return AdamState(count=0, m=zeros, v=zeros)

    def update(grads, state):
        g = np.asarray(grads, dtype=float)
        k = state.count + 1
        m = b1 * state.m + (1.0 - b1) * g  # m_k = β1 m_{k−1} + (1 − β1) g_k
        v = b2 * state.v + (1.0 - b2) * g * g  # v_k = β2 v_{k−1} + (1 − β2) g_k²
        m_hat = m / (1.0 - b1**k)  # bias corrections: both averages start at 0
        v_hat = v / (1.0 - b2**k)
        return -eta * m_hat / (np.sqrt(v_hat) + eps), AdamState(k, m, v)

    return MetaOptimizer(init, update)


def meta_train_with(
    optimizer: MetaOptimizer,
    phi=PHI_OLD,
    iterations: int = 100,
    theta0=THETA0,
    theta_star=THETA_STAR,
    steps=STEPS,
    gradient: Callable = meta_gradient,
) -> MetaTraining:
    r"""Meta-train :math:`\phi` for ``iterations`` updates by ``optimizer``.

    ``gradient(phi, theta0, theta_star, steps) -> (loss, grad)`` supplies the
    meta-gradient: :func:`metaopt.meta_gradient` (exact, the default) or
    :func:`metaopt.first_order.meta_gradient_first_order`. The record's ``loss``
    is always the true meta-loss; its ``grad`` is what the optimizer was given.

    With ``optimizer=sgd(eta)`` this is :func:`metaopt.meta_train`.

    Raises
    ------
    DivergenceError
        When the inner loop, the meta-gradient or the update overflows; the message names the iteration.
    """
    if not isinstance(optimizer, MetaOptimizer):
        raise TypeError(f"optimizer must be a MetaOptimizer (e.g. sgd(eta) or adam(eta)), got {optimizer!r}")
    phis, losses, grads = _meta_train_loop(
        phi, iterations,
        gradient=lambda current: gradient(current, theta0, theta_star, steps),
        step=_stepper(optimizer, phi),
    )
    return MetaTraining(phis, losses, grads)


def _stepper(optimizer: MetaOptimizer, phi):
    """``step(phi, grad) -> new phi`` applying ``optimizer`` from its initial state at ``phi``.

    Raises DivergenceError if an update takes phi out of the finite range.
    """
    state = optimizer.init(_as_float_array("phi", phi))

    def step(current, grad):
        nonlocal state
        with np.errstate(over="ignore", invalid="ignore"):  # checked below, not warned about
            updates, state = optimizer.update(grad, state)
            new = current + updates
        if not np.all(np.isfinite(new)):
            raise DivergenceError("the update of phi overflowed")
        return new

    return step

