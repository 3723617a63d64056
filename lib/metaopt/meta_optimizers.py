r"""Meta-optimizers: what moves :math:`\phi` in the outer loop, in the style of optax.

A meta-optimizer is a pair of pure functions held in a NamedTuple,
``init(params) -> state`` and ``update(grads, state) -> (updates, state)``;
the new parameters are ``params + updates``. The state is explicit data.

* :func:`sgd` is the document's meta-update :math:`\phi \leftarrow \phi - \eta\, \nabla_\phi L`
  (its learning rate ``lr`` is then the meta step size :math:`\eta`).
* :func:`momentum` is heavy-ball momentum.
* :func:`adam` is Adam (Kingma & Ba 2015), the meta-optimizer of Andrychowicz et al. (2016):

  .. math::
     m_k = \beta_1 m_{k-1} + (1 - \beta_1) g_k, \quad
     v_k = \beta_2 v_{k-1} + (1 - \beta_2) g_k^2, \quad
     \Delta\phi = -\eta\, \frac{m_k / (1 - \beta_1^k)}{\sqrt{v_k / (1 - \beta_2^k)} + \epsilon}.

:func:`meta_train_with` runs the outer loop with any meta-optimizer and any
meta-gradient function (exact, or the first-order approximation of
:mod:`metaopt.first_order`). The same transformations move :math:`\theta` in
chapter 8's baselines (:mod:`metaopt.baselines`): one Adam for both levels.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from . import validate
from .core import meta_gradient
from .document import PHI_OLD, STEPS, THETA0, THETA_STAR
from .train import MetaTraining, check_problem, check_work, meta_train_loop
from .validate import DivergenceError

__all__ = [
    "ADAM_B1", "ADAM_B2", "ADAM_EPS",
    "Optimizer", "SgdState", "MomentumState", "AdamState",
    "sgd", "momentum", "adam", "apply", "meta_train_with",
]

#: Adam's defaults (Kingma & Ba 2015), which Andrychowicz et al. (2016) use too; defined once here.
ADAM_B1 = 0.9
ADAM_B2 = 0.999
ADAM_EPS = 1e-8


class Optimizer(NamedTuple):
    """``init(params) -> state`` and ``update(grads, state) -> (updates, state)``; new params are ``params + updates``."""

    init: Callable
    update: Callable


class SgdState(NamedTuple):
    """Plain gradient descent keeps no state but the iteration count."""

    count: int


class MomentumState(NamedTuple):
    """Heavy-ball momentum's state: the iteration count and the velocity v (the running sum of gradients)."""

    count: int
    velocity: np.ndarray


class AdamState(NamedTuple):
    """Adam's state: the iteration count k and the two moving averages."""

    count: int
    m: np.ndarray  # first moment, the moving average of g
    v: np.ndarray  # second moment, the moving average of g**2


def sgd(lr: float) -> Optimizer:
    r"""Gradient descent with learning rate ``lr``: updates :math:`-\mathrm{lr}\, g`."""
    lr = validate.positive("lr", lr)

    def init(params):
        return SgdState(count=0)

    def update(grads, state):
        return -lr * np.asarray(grads, dtype=float), SgdState(state.count + 1)

    return Optimizer(init, update)


def momentum(lr: float, *, beta: float) -> Optimizer:
    r"""Heavy-ball momentum (Polyak 1964): :math:`v_k = \beta v_{k-1} + g_k`, update :math:`-\mathrm{lr}\, v_k`, :math:`v_0 = 0`.

    On a gradient :math:`g = \nabla_t` this is the book's linear RNN with
    :math:`\phi = (1, \beta, -\mathrm{lr})`.
    """
    lr = validate.positive("lr", lr)
    beta = validate.unit_interval("beta", beta)

    def init(params):
        return MomentumState(count=0, velocity=np.zeros_like(np.asarray(params, dtype=float)))

    def update(grads, state):
        velocity = beta * state.velocity + np.asarray(grads, dtype=float)  # v_k = β v_{k−1} + g_k
        return -lr * velocity, MomentumState(state.count + 1, velocity)

    return Optimizer(init, update)


def adam(lr: float = 0.001, *, b1: float = ADAM_B1, b2: float = ADAM_B2, eps: float = ADAM_EPS) -> Optimizer:
    r"""Adam with learning rate ``lr``, decay rates ``b1``, ``b2`` and ``eps`` (the paper's defaults).

    Each coordinate's step is about ``lr`` in size whatever the scale of its
    gradient: Adam divides the averaged gradient by its averaged magnitude.
    """
    lr = validate.positive("lr", lr)
    b1, b2 = validate.unit_interval("b1", b1), validate.unit_interval("b2", b2)
    eps = validate.positive("eps", eps)

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
        return -lr * m_hat / (np.sqrt(v_hat) + eps), AdamState(k, m, v)

    return Optimizer(init, update)


def apply(optimizer: Optimizer, *, params):
    """``step(params, grads) -> new params``: ``optimizer`` from its initial state at ``params``, one update per call.

    The state is kept between calls. Raises :class:`~metaopt.DivergenceError` if an
    update takes the parameters out of the finite floating-point range.
    """
    optimizer = validate.instance("optimizer", optimizer, Optimizer, " (e.g. sgd(lr) or adam(lr))")
    state = optimizer.init(validate.real_array("params", params))

    def step(current, grads):
        nonlocal state
        with np.errstate(over="ignore", invalid="ignore"):  # checked below, not warned about
            updates, state = optimizer.update(grads, state)
            new = current + updates
        if not np.all(np.isfinite(new)):
            raise DivergenceError("the update of the parameters overflowed")
        return new

    return step


def meta_train_with(
    phi=PHI_OLD,
    *,
    optimizer: Optimizer,
    iterations: int = 100,
    theta0=THETA0,
    theta_star=THETA_STAR,
    steps=STEPS,
    gradient: Callable = meta_gradient,
) -> MetaTraining:
    r"""Meta-train :math:`\phi` for ``iterations`` updates by ``optimizer``.

    ``gradient(phi, *, theta0, theta_star, steps) -> (loss, grad)`` supplies the
    meta-gradient: :func:`metaopt.meta_gradient` (exact, the default) or
    :func:`metaopt.first_order.meta_gradient_first_order`. The record's ``loss``
    is always the true meta-loss; its ``grad`` is what the optimizer was given.

    With ``optimizer=sgd(eta)`` this is :func:`metaopt.meta_train`.

    Raises
    ------
    DivergenceError
        When the inner loop, the meta-gradient or the update overflows; the message names the iteration.
    """
    optimizer = validate.instance("optimizer", optimizer, Optimizer, " (e.g. sgd(lr) or adam(lr))")
    gradient = validate.callable_("gradient", gradient)
    check_work(iterations=iterations, steps=steps)
    check_problem(phi, theta0=theta0, theta_star=theta_star)
    return meta_train_loop(
        phi,
        gradient=lambda current: gradient(current, theta0=theta0, theta_star=theta_star, steps=steps),
        step=apply(optimizer, params=validate.phi(phi)),
        iterations=iterations,
    )
