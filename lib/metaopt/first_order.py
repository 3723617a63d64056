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

from . import sweep, validate
from .document import PHI_OLD, STEPS, THETA0, THETA_STAR
from .sweep import MetaGradient

__all__ = ["meta_gradient_first_order", "frozen_loss"]


def meta_gradient_first_order(phi=PHI_OLD, *, theta0=THETA0, theta_star=THETA_STAR, steps=STEPS) -> MetaGradient:
    r"""The meta-loss and its first-order meta-gradient (:math:`\partial\nabla_t/\partial\phi` taken as 0).

    Same arguments, shapes and errors as :func:`metaopt.meta_gradient`; the
    loss is the true meta-loss, only the gradient is approximate. It is the
    general sweep of :mod:`metaopt.sweep` with ``first_order=True``.

    >>> loss, grad = meta_gradient_first_order((0.1, 0.5, -1.0), theta0=10.0, theta_star=5.0, steps=2)
    >>> [round(float(g), 6) for g in grad]
    [-124.2, -5.4, 12.42]
    """
    return sweep.meta_gradient(phi, theta0=theta0, theta_star=theta_star, steps=steps, first_order=True)


@validate.finite_results
def frozen_loss(phi, *, grads, theta0=THETA0, theta_star=THETA_STAR):
    r"""The meta-loss with the optimizee gradients fixed to ``grads`` instead of recomputed from theta.

    .. math:: h_t = \phi_1 \nabla_t + \phi_2 h_{t-1}, \quad
              \theta_T = \theta_0 + \sum_t \phi_3 h_t, \quad
              L_{frozen}(\phi) = (\theta_T - \theta^*)^2 .

    At ``grads = unroll(phi).grad`` it equals the meta-loss; its gradient with
    respect to ``phi`` (the ``grads`` held fixed) is the first-order meta-gradient.
    This is a different function from the meta-loss (the surrogate the
    first-order gradient is exact for), so it has a loop of its own.

    Parameters
    ----------
    phi : array_like, shape (..., 3)
    grads : array_like, shape (..., T)
        :math:`\nabla_0, \dots, \nabla_{T-1}`, time last.
    """
    phi = validate.phi(phi)
    grads = validate.real_array("grads", grads)
    if grads.ndim == 0:
        raise ValueError("grads must be a sequence of gradients, time last, got a single number")
    theta = validate.real_array("theta0", theta0) + 0.0 * phi[..., 0]
    theta_star = validate.real_array("theta_star", theta_star)
    h = 0.0
    for t in range(grads.shape[-1]):
        h = phi[..., 0] * grads[..., t] + phi[..., 1] * h
        theta = theta + phi[..., 2] * h
    loss = (theta - theta_star) ** 2
    return float(loss) if np.ndim(loss) == 0 else loss
