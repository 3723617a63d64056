r"""The one general inner loop and its one reverse-mode sweep (backpropagation through time).

Every chapter's meta-gradient is a call of :func:`meta_gradient` here, except
chapter 3's: :mod:`metaopt.core` keeps its own short forward/backward pair for
the reader, and the tests check that this sweep reproduces it bit for bit.

The optimizee is a quadratic with curvature :math:`c`,

.. math:: L(\theta) = c\,(\theta - \theta^*)^2, \qquad \nabla_t = 2c\,(\theta_t - \theta^*),

(:math:`c = 1` is the document's :math:`(\theta - 5)^2`), the optimizer the linear RNN

.. math::
    h_t = \phi_1 \nabla_t + \phi_2 h_{t-1}, \qquad g_t = \phi_3 h_t, \qquad
    \theta_{t+1} = \theta_t + g_t, \qquad h_{-1} = 0,

and the meta-loss a weighted sum of the losses along the trajectory,

.. math:: \mathcal{L}(\phi) = \sum_{t=1}^{T} w_t\, L(\theta_t).

``weights=None`` means :math:`w = (0, \dots, 0, 1)`: the final loss
:math:`L(\theta_T)`, the document's meta-loss. Two switches change the backward
sweep only:

* ``truncation = k`` stops it after the last :math:`k` steps (truncated BPTT):
  :math:`\theta_{T-k}` and :math:`h_{T-k-1}` are treated as constants;
* ``first_order=True`` treats the optimizee gradients :math:`\nabla_t` as inputs
  (:math:`\partial\nabla_t/\partial\phi = 0`), as Andrychowicz et al. (2016) do:
  the sweep does not go back through :math:`\nabla_t = 2c(\theta_t - \theta^*)`.

Every function takes ``phi`` of shape ``(..., 3)``; ``theta0``, ``theta_star``
and ``curvature`` broadcast against its batch shape.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import validate
from .validate import DivergenceError

__all__ = ["Trajectory", "MetaGradient", "unroll", "meta_loss", "meta_gradient", "MAX_STEPS", "MAX_WORK"]


class Trajectory(NamedTuple):
    """The values of one run of the inner loop; time is the last axis, leading axes are the batch.

    Attributes
    ----------
    theta : ndarray, shape (..., steps + 1)
        :math:`\\theta_0, \\dots, \\theta_T`.
    grad : ndarray, shape (..., steps)
        :math:`\\nabla_0, \\dots, \\nabla_{T-1}`, the optimizee gradients fed to the RNN.
    h : ndarray, shape (..., steps)
        :math:`h_0, \\dots, h_{T-1}`, the hidden states.
    g : ndarray, shape (..., steps)
        :math:`g_0, \\dots, g_{T-1}`, the updates added to theta.
    """

    theta: np.ndarray
    grad: np.ndarray
    h: np.ndarray
    g: np.ndarray


class MetaGradient(NamedTuple):
    """A meta-loss and its gradient with respect to phi, in this order everywhere in the library.

    Attributes
    ----------
    loss : float or ndarray, shape (...)
        The meta-loss; a Python float for one optimizer.
    grad : ndarray, shape (..., 3)
        :math:`(\\partial/\\partial\\phi_1, \\partial/\\partial\\phi_2, \\partial/\\partial\\phi_3)` of the meta-loss.
    """

    loss: object
    grad: object


class _Problem(NamedTuple):
    phi1: np.ndarray
    phi2: np.ndarray
    phi3: np.ndarray
    theta0: np.ndarray
    theta_star: np.ndarray
    curvature: np.ndarray
    steps: int
    batch: tuple


#: The longest inner loop in one call: about 10 us of numpy calls a step forward, 40 us with the
#: backward sweep (10**6 steps: up to a minute).
MAX_STEPS = 10**6
#: The most optimizer-steps (steps x batch size) in one call: about 10 ns each forward, 60 ns with the
#: backward sweep (10**9: up to a minute).
MAX_WORK = 10**9


def _problem(phi, theta0, theta_star, steps, curvature) -> _Problem:
    steps = validate.count("steps", steps, maximum=MAX_STEPS,
                           why="about 10 us a step forward and 40 us with the backward sweep (10**6 steps: up to a minute)")
    phi, theta0, theta_star, curvature, batch = validate.problem(
        phi, theta0=theta0, theta_star=theta_star, curvature=curvature
    )
    validate.work(MAX_WORK, "each phi's step costs about 10 ns forward and 60 ns with the backward sweep in a batch (10**9: up to a minute)",
                  steps=steps, batch=int(np.prod(batch, dtype=np.int64)))
    phi = np.broadcast_to(phi, batch + (3,))
    columns = (phi[..., 0], phi[..., 1], phi[..., 2], theta0, theta_star, curvature)
    return _Problem(*(np.broadcast_to(v, batch) for v in columns), steps, batch)


def _weights(weights, steps) -> np.ndarray | None:
    if weights is None:  # the final loss only: the document's meta-loss L(θ_T)
        return None
    w = validate.real_array("weights", weights)
    if w.shape != (steps,):
        raise ValueError(f"weights must hold one weight w_t per step t = 1..T (steps={steps}), got shape {w.shape}")
    return w


class _Kept(NamedTuple):
    """What the forward pass keeps of its last k steps (t = T−k .. T−1), time on axis 0."""

    theta: np.ndarray  # θ_{T−k} .. θ_T, (k+1, ...)
    grad: np.ndarray  # ∇_{T−k} .. ∇_{T−1}, (k, ...)
    h: np.ndarray  # h_{T−k} .. h_{T−1}, (k, ...)
    h_before: np.ndarray  # h_{T−k−1} (h_{−1} = 0 when k = T)
    loss: object  # the meta-loss Σ w_t c (θ_t − θ*)², or c (θ_T − θ*)² without weights


def _forward(p: _Problem, keep: int, w=None) -> _Kept:
    """The inner loop, keeping only its last ``keep`` steps (memory grows with ``keep``, not with T).

    The meta-loss is summed along the way, in order t = 1..T, so no step need be kept for it.
    Raises DivergenceError naming the step if theta or the loss leaves the floating-point range.
    """
    validate.memory(3 * keep * max(int(np.prod(p.batch, dtype=np.int64)), 1),
                    f"3 values per kept step per phi (steps={p.steps}, keeping the last {keep}: all, or the truncation)")
    start = p.steps - keep
    theta = np.empty((keep + 1,) + p.batch)
    grad = np.empty((keep,) + p.batch)
    h = np.empty((keep,) + p.batch)
    theta_t = np.array(p.theta0, dtype=float)
    h_prev = np.zeros(p.batch)  # h_{-1} = 0
    h_before = h_prev
    loss = 0.0
    c = p.curvature
    bad = None
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(p.steps):
            if t == start:
                theta[0], h_before = theta_t, h_prev
            grad_t = 2.0 * c * (theta_t - p.theta_star)  # ∇_t = 2c(θ_t − θ*)
            h_t = p.phi1 * grad_t + p.phi2 * h_prev  # h_t = φ1 ∇_t + φ2 h_{t−1}
            g = p.phi3 * h_t  # g_t = φ3 h_t
            theta_t = theta_t + g  # θ_{t+1} = θ_t + g_t
            if t >= start:
                i = t - start
                grad[i], h[i], theta[i + 1] = grad_t, h_t, theta_t
            h_prev = h_t
            if w is not None and w[t]:
                error = theta_t - p.theta_star
                loss = loss + w[t] * (c * (error * error))
            if bad is None and not np.isfinite(theta_t).all():
                bad = t + 1
                break
        if keep == 0:  # nothing was kept in the loop: row 0 is theta_T, h_before h_{T-1}
            theta[0], h_before = theta_t, h_prev
        if bad is None and w is None:
            error = theta_t - p.theta_star
            loss = c * (error * error)
    if bad is not None:
        raise DivergenceError(
            f"the inner loop diverged: theta_{bad} left the finite floating-point range at step "
            f"t={bad - 1} (of t=0..{p.steps - 1}); this phi is unstable on this optimizee "
            "(too large a step for its curvature): use fewer steps or a more stable phi"
        )
    if not np.all(np.isfinite(loss)):
        raise DivergenceError(
            "the meta-loss overflowed: some loss L(theta_t) along the trajectory is past ~1.8e308 "
            "although theta_t is finite; use fewer steps or a more stable phi"
        )
    loss = np.asarray(loss, dtype=float) * np.ones(p.batch)  # the batch's shape even when no weight is nonzero
    return _Kept(theta, grad, h, h_before, float(loss) if loss.ndim == 0 else loss)


def unroll(phi, *, theta0, theta_star, steps, curvature=1.0) -> Trajectory:
    """Run the inner loop on :math:`c(\\theta - \\theta^*)^2`; a :class:`Trajectory`, time last.

    Raises :class:`~metaopt.DivergenceError` naming the step if theta overflows.

    >>> unroll((0.1, 0.5, -1.0), theta0=10.0, theta_star=5.0, steps=2).theta.tolist()
    [10.0, 9.0, 7.7]
    """
    p = _problem(phi, theta0, theta_star, steps, curvature)
    kept = _forward(p, keep=p.steps)
    g = p.phi3 * kept.h
    return Trajectory(*(np.moveaxis(a, 0, -1) for a in (kept.theta, kept.grad, kept.h, g)))


def meta_loss(phi, *, theta0, theta_star, steps, curvature=1.0, weights=None):
    """The meta-loss :math:`\\sum_t w_t L(\\theta_t)` alone (the forward pass only, keeping no step)."""
    p = _problem(phi, theta0, theta_star, steps, curvature)
    w = _weights(weights, p.steps)
    return _forward(p, keep=0, w=w).loss


def meta_gradient(
    phi, *, theta0, theta_star, steps, curvature=1.0, weights=None, truncation=None, first_order=False
) -> MetaGradient:
    """The meta-loss and its gradient with respect to phi, by one reverse sweep over the inner loop.

    Each block of the sweep undoes one forward line of :func:`unroll`, in reverse
    order; the forward line is repeated in the comment above it. ``x_bar`` is the
    adjoint :math:`\\partial\\mathcal{L}/\\partial x`.

    Parameters
    ----------
    phi : array_like, shape (..., 3)
    theta0, theta_star, curvature : float or array_like, broadcasting with phi's batch shape
    steps : int
        :math:`T \\ge 0`.
    weights : array_like, shape (T,), optional
        :math:`w_1, \\dots, w_T`; None is the final loss only.
    truncation : int, optional
        Back-propagate through the last ``truncation`` steps only (1..T); None is all T.
    first_order : bool
        Treat the optimizee gradients as inputs (drop the second derivatives).

    Returns
    -------
    MetaGradient
        ``(loss, grad)``: a float and shape (3,) for one phi, arrays of the batch shape otherwise.

    >>> meta_gradient((0.1, 0.5, -1.0), theta0=10.0, theta_star=5.0, steps=2).grad.round(9).tolist()
    [-113.4, -5.4, 11.34]
    """
    p = _problem(phi, theta0, theta_star, steps, curvature)
    w = _weights(weights, p.steps)
    if truncation is None:
        k = p.steps
    else:
        k = validate.count("truncation", truncation, minimum=1)
        if k > p.steps:
            raise ValueError(f"truncation must be between 1 and steps={p.steps}, got {k}")
    if not isinstance(first_order, (bool, np.bool_)):
        raise TypeError(f"first_order must be True or False, got {first_order!r}")
    kept = _forward(p, keep=k, w=w)  # only the k steps the sweep reads are kept
    theta, grad, h, loss = kept.theta, kept.grad, kept.h, kept.loss
    start = p.steps - k  # row i of the kept arrays is step t = start + i
    c = p.curvature
    phi1_bar = phi2_bar = phi3_bar = np.zeros(p.batch)
    theta_bar = np.zeros(p.batch)  # adjoint of θ_{t+1}, from the losses at t+1..T
    h_bar_next = np.zeros(p.batch)  # adjoint of h_t arriving from h_{t+1}
    with np.errstate(over="ignore", invalid="ignore"):
        for t in reversed(range(p.steps - k, p.steps)):
            # 𝓛 = Σ w_t c (θ_t − θ*)²: the loss at step t+1 adds to θ̄_{t+1}
            w_t = (1.0 if t == p.steps - 1 else 0.0) if w is None else w[t]
            i = t - start
            if w_t:
                theta_bar = theta_bar + w_t * 2.0 * c * (theta[i + 1] - p.theta_star)
            # θ_{t+1} = θ_t + g_t
            g_bar = theta_bar  # and θ̄ passes through to θ_t unchanged
            # g_t = φ3 h_t
            phi3_bar = phi3_bar + g_bar * h[i]
            h_bar = h_bar_next + p.phi3 * g_bar
            # h_t = φ1 ∇_t + φ2 h_{t−1}
            phi1_bar = phi1_bar + h_bar * grad[i]
            phi2_bar = phi2_bar + h_bar * (h[i - 1] if i > 0 else kept.h_before)  # h_{−1} = 0
            grad_bar = p.phi1 * h_bar
            h_bar_next = p.phi2 * h_bar
            # ∇_t = 2c(θ_t − θ*); first order: ∇_t is an input, nothing flows back through it
            if not first_order:
                theta_bar = theta_bar + 2.0 * c * grad_bar
            if not all(np.all(np.isfinite(x)) for x in (theta_bar, h_bar_next, phi1_bar, phi2_bar, phi3_bar)):
                raise DivergenceError(
                    "the meta-gradient overflowed in backpropagation through time: the adjoints left "
                    f"the finite floating-point range at step t={t} (counting back from t={p.steps - 1}); "
                    "use fewer steps or a more stable phi"
                )
    return MetaGradient(loss, np.stack([phi1_bar, phi2_bar, phi3_bar], axis=-1))
