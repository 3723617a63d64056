r"""The first-order meta-gradient: backpropagation that treats the optimizee gradients as inputs.

Andrychowicz et al. (2016) avoid second derivatives by assuming
:math:`\partial \nabla_t / \partial \phi = 0`: the gradients :math:`\nabla_t` fed
to the optimizer are treated as constants, so the backward pass does not go
back through :math:`\nabla_t = 2(\theta_t - \theta^*)`. In the backward sweep
of :func:`metaopt.meta_gradient` this deletes one term,

.. math:: \bar\theta_t = \bar\theta_{t+1} + 2\bar\nabla_t
          \quad\longrightarrow\quad
          \bar\theta_t = \bar\theta_{t+1},

so :math:`\bar\theta_t = 2(\theta_T - \theta^*)` at every step. The result is the
exact gradient of the *surrogate* :func:`frozen_loss`, the meta-loss with the
gradient inputs held at their current values.
"""

from __future__ import annotations

import numpy as np

from .core import (
    PHI_OLD,
    STEPS,
    THETA0,
    THETA_STAR,
    DivergenceError,
    _as_float_array,
    _check_inputs,
    _forward,
    _meta_loss,
)

__all__ = ["meta_gradient_first_order", "frozen_loss"]


def meta_gradient_first_order(phi=PHI_OLD, theta0=THETA0, theta_star=THETA_STAR, steps=STEPS):
    r"""The meta-loss and its first-order meta-gradient (:math:`\partial\nabla_t/\partial\phi` taken as 0).

    Same arguments, shapes and errors as :func:`metaopt.meta_gradient`; the
    loss is the true meta-loss, only the gradient is approximate.

    >>> loss, grad = meta_gradient_first_order((0.1, 0.5, -1.0), 10.0, 5.0, 2)
    >>> [round(float(g), 6) for g in grad]
    [-124.2, -5.4, 12.42]
    """
    phi1, phi2, phi3, theta0, theta_star, steps, batch = _check_inputs(phi, theta0, theta_star, steps)
    theta, grad, h = _forward(phi1, phi2, phi3, theta0, theta_star, steps)  # lists over t
    loss = np.asarray(_meta_loss(theta[steps], theta_star, steps))
    phi1_bar = np.zeros(batch)
    phi2_bar = np.zeros(batch)
    phi3_bar = np.zeros(batch)
    # L = (θ_T − θ*)²
    theta_bar = 2.0 * (theta[steps] - theta_star)
    h_bar_next = np.zeros(batch)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in reversed(range(steps)):
            # θ_{t+1} = θ_t + g_t
            g_bar = theta_bar
            # g_t = φ3 h_t
            phi3_bar = phi3_bar + g_bar * h[t]
            h_bar = h_bar_next + phi3 * g_bar
            # h_t = φ1 ∇_t + φ2 h_{t−1}, with ∇_t a constant input: no adjoint flows into ∇_t
            phi1_bar = phi1_bar + h_bar * grad[t]
            h_prev = h[t - 1] if t > 0 else 0.0  # h_{−1} = 0
            phi2_bar = phi2_bar + h_bar * h_prev
            h_bar_next = phi2 * h_bar
            # θ_bar passes through θ_{t+1} = θ_t + g_t unchanged; ∇_t = 2(θ_t − θ*) is not differentiated
    dphi = np.stack([phi1_bar, phi2_bar, phi3_bar], axis=-1)
    if not np.all(np.isfinite(dphi)):
        raise DivergenceError("the first-order meta-gradient overflowed in the backward pass; use fewer steps")
    return (float(loss) if loss.ndim == 0 else loss), dphi


def frozen_loss(phi, grads, theta0=THETA0, theta_star=THETA_STAR):
    r"""The meta-loss with the optimizee gradients fixed to ``grads`` instead of recomputed from theta.

    .. math:: h_t = \phi_1 \nabla_t + \phi_2 h_{t-1}, \quad
              \theta_T = \theta_0 + \sum_t \phi_3 h_t, \quad
              L_{frozen}(\phi) = (\theta_T - \theta^*)^2 .

    At ``grads = unroll(phi).grad`` it equals the meta-loss; its gradient with
    respect to ``phi`` (the ``grads`` held fixed) is the first-order meta-gradient.

    Parameters
    ----------
    phi : array_like, shape (..., 3)
    grads : array_like, shape (..., T)
        :math:`\nabla_0, \dots, \nabla_{T-1}`, time last.
    """
    phi = _as_float_array("phi", phi)
    if phi.ndim == 0 or phi.shape[-1] != 3:
        raise ValueError(f"phi must have 3 entries on its last axis, got shape {phi.shape}")
    grads = _as_float_array("grads", grads)
    if grads.ndim == 0:
        raise ValueError("grads must be a sequence of gradients, time last")
    theta = np.asarray(_as_float_array("theta0", theta0), dtype=float) + 0.0 * phi[..., 0]
    theta_star = _as_float_array("theta_star", theta_star)
    h = 0.0
    for t in range(grads.shape[-1]):
        h = phi[..., 0] * grads[..., t] + phi[..., 1] * h
        theta = theta + phi[..., 2] * h
    loss = (theta - theta_star) ** 2
    return float(loss) if np.ndim(loss) == 0 else loss
