r"""The inner loop as heavy-ball momentum and as a 2×2 linear dynamical system.

Eliminating the hidden state from the linear RNN (:math:`g_t = \phi_3 h_t`,
:math:`h_t = \phi_1\nabla_t + \phi_2 h_{t-1}`) gives

.. math:: g_t = -\alpha\,\nabla_t + \beta\, g_{t-1}, \qquad
          \alpha = -\phi_1\phi_3, \quad \beta = \phi_2,

gradient descent with step size :math:`\alpha` and heavy-ball momentum :math:`\beta`
(Polyak 1964). On the optimizee :math:`(\theta - \theta^*)^2`, with the error
:math:`e_t = \theta_t - \theta^*` and :math:`\nabla_t = 2 e_t`, the state
:math:`z_t = (e_t, g_{t-1})` evolves linearly,

.. math:: z_{t+1} = M z_t, \qquad
          M = \begin{pmatrix} 1 - 2\alpha & \beta \\ -2\alpha & \beta \end{pmatrix},
          \qquad z_0 = (\theta_0 - \theta^*, 0),

so the inner loop converges for every start exactly when the spectral radius
:math:`\rho(M)` is below 1. The eigenvalues solve
:math:`\lambda^2 - (1 - 2\alpha + \beta)\lambda + \beta = 0`.

Every function takes ``phi`` of shape ``(..., 3)`` (a batch), like :mod:`metaopt.core`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import validate
from .document import CURVATURE, THETA0, THETA_STAR
from .validate import DivergenceError

__all__ = [
    "HEAVY_BALL_MAX_STEPS",
    "Momentum",
    "momentum_params",
    "phi_from_momentum",
    "heavy_ball",
    "transition_matrix",
    "eigenvalues",
    "spectral_radius",
    "convergence_map",
    "zero_loss_phi2",
    "zero_loss_beta",
    "balance",
    "critical_beta",
]


class Momentum(NamedTuple):
    """An optimizer as heavy-ball momentum: step size ``alpha`` and momentum ``beta``, in this order."""

    alpha: object
    beta: object


#: The longest run :func:`heavy_ball` takes (about 10 us a step: 10**6 is about 10 s).
HEAVY_BALL_MAX_STEPS = 10**6


@validate.finite_results
def momentum_params(phi) -> Momentum:
    r"""Step size and momentum of the RNN optimizer: :math:`\alpha = -\phi_1\phi_3`, :math:`\beta = \phi_2`.

    Returns ``Momentum(alpha, beta)``, floats for one ``phi`` or arrays of the batch shape.

    >>> momentum_params((0.1, 0.5, -1.0))
    Momentum(alpha=0.1, beta=0.5)
    """
    phi = validate.phi(phi)
    alpha = -phi[..., 0] * phi[..., 2] + 0.0  # + 0.0 turns -0.0 into 0.0
    beta = phi[..., 1]
    if alpha.ndim == 0:
        return Momentum(float(alpha), float(beta))
    return Momentum(alpha, beta)


@validate.finite_results
def phi_from_momentum(alpha, *, beta, phi3=-1.0) -> np.ndarray:
    r"""One :math:`\phi` with step size ``alpha`` and momentum ``beta``: :math:`(-\alpha/\phi_3, \beta, \phi_3)`.

    Any non-zero ``phi3`` gives the same optimizer; the default -1 is the document's.
    """
    alpha = validate.real_array("alpha", alpha)
    beta = validate.real_array("beta", beta)
    phi3 = validate.real_array("phi3", phi3)
    if np.any(phi3 == 0):
        raise ValueError("phi3 must be non-zero: with phi3 = 0 the optimizer never moves")
    alpha, beta, phi3 = np.broadcast_arrays(alpha, beta, phi3)
    return np.stack([-alpha / phi3, beta, phi3], axis=-1)


def heavy_ball(alpha, *, beta, theta0=THETA0, theta_star=THETA_STAR, steps=2, curvature=CURVATURE) -> np.ndarray:
    r"""Gradient descent with heavy-ball momentum on :math:`(\theta - \theta^*)^2`, written as Polyak writes it.

    .. math:: \theta_{t+1} = \theta_t - \alpha\,\nabla_t + \beta\,(\theta_t - \theta_{t-1}),
              \qquad \theta_{-1} = \theta_0, \qquad \nabla_t = 2c\,(\theta_t - \theta^*) .

    No hidden state and no :math:`\phi`: a second, independent route to the
    trajectory that :func:`metaopt.unroll` computes with the RNN.

    Returns
    -------
    ndarray, shape (..., steps + 1)
        :math:`\theta_0, \dots, \theta_T`.
    """
    steps = validate.count("steps", steps, maximum=HEAVY_BALL_MAX_STEPS,
                           why="about 10 us a step, and the whole trajectory is kept")
    alpha, beta, theta0, theta_star, c = np.broadcast_arrays(
        *(validate.real_array(n, v) for n, v in
          (("alpha", alpha), ("beta", beta), ("theta0", theta0), ("theta_star", theta_star),
           ("curvature", curvature)))
    )
    if np.any(c <= 0):
        raise ValueError(f"curvature must be positive, got {curvature!r}")
    validate.memory(2 * (steps + 1) * max(c.size, 1), f"the trajectory, twice (steps={steps}, a batch of {c.size})")
    thetas = [theta0.astype(float)]
    previous = theta0.astype(float)  # θ_{−1} = θ_0: no previous step to continue
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            current = thetas[-1]
            grad = 2.0 * c * (current - theta_star)  # ∇_t = 2c(θ_t − θ*)
            thetas.append(current - alpha * grad + beta * (current - previous))
            previous = current
            if not np.all(np.isfinite(thetas[-1])):
                raise DivergenceError(
                    f"heavy-ball iteration diverged: theta_{t + 1} left the finite range at step t={t}"
                )
    return np.stack(thetas, axis=-1)


@validate.finite_results
def transition_matrix(phi, *, curvature=CURVATURE) -> np.ndarray:
    r"""The matrix :math:`M(\phi)` with :math:`(e_{t+1}, g_t) = M\,(e_t, g_{t-1})`, shape (..., 2, 2).

    .. math:: M = \begin{pmatrix} 1 + 2c\phi_1\phi_3 & \phi_2 \\ 2c\phi_1\phi_3 & \phi_2 \end{pmatrix}

    on the optimizee :math:`c(\theta - \theta^*)^2` (``curvature`` :math:`c`, 1 for the document's).

    >>> transition_matrix((0.1, 0.5, -1.0)).tolist()
    [[0.8, 0.5], [-0.2, 0.5]]
    """
    phi = validate.phi(phi)
    c = validate.real_array("curvature", curvature)
    if np.any(c <= 0):
        raise ValueError(f"curvature must be positive, got {curvature!r}")
    a = c * phi[..., 0] * phi[..., 2]  # cφ1φ3 = −cα
    b = phi[..., 1] * np.ones_like(a)
    # e_{t+1} = e_t + g_t = (1 + 2a) e_t + b g_{t−1};  g_t = φ1φ3 ∇_t + b g_{t−1} = 2a e_t + b g_{t−1}
    return np.stack([np.stack([1.0 + 2.0 * a, b], -1), np.stack([2.0 * a, b], -1)], -2)


@validate.finite_results
def eigenvalues(phi, *, curvature=CURVATURE) -> np.ndarray:
    r"""The two eigenvalues of :math:`M(\phi)`, complex, shape (..., 2), larger modulus first.

    Roots of :math:`\lambda^2 - (1 - 2c\alpha + \beta)\lambda + \beta`, by the quadratic formula;
    ``curvature`` :math:`c` is that of the optimizee :math:`c(\theta - \theta^*)^2` (chapter 8),
    1 for the book's example.
    """
    alpha, beta = (np.asarray(v, dtype=float) for v in momentum_params(phi))
    c = validate.real_array("curvature", curvature)
    if np.any(c <= 0):
        raise ValueError(f"curvature must be positive, got {curvature!r}")
    trace = 1.0 - 2.0 * c * alpha + beta
    beta = beta * np.ones_like(trace)
    root = np.sqrt((trace * trace - 4.0 * beta).astype(complex))
    lam = np.stack([(trace + root) / 2.0, (trace - root) / 2.0], axis=-1)
    order = np.argsort(-np.abs(lam), axis=-1, kind="stable")
    return np.take_along_axis(lam, order, axis=-1)


@validate.finite_results
def spectral_radius(phi, *, curvature=CURVATURE):
    r""":math:`\rho(M(\phi))`, the largest eigenvalue modulus: the inner loop's error shrinks
    like :math:`\rho^t`, and converges from every start if and only if :math:`\rho < 1`.

    ``curvature`` as in :func:`eigenvalues`. A float for one ``phi``, else an array of the batch shape.

    >>> round(spectral_radius((0.1, 0.5, -1.0)), 6)   # phi_old: complex pair of modulus sqrt(1/2)
    0.707107
    """
    rho = np.abs(eigenvalues(phi, curvature=curvature))[..., 0]
    return float(rho) if rho.ndim == 0 else rho


@validate.finite_results
def convergence_map(alphas, *, betas):
    r"""Spectral radius on a grid of step sizes ``alphas`` (columns) and momenta ``betas`` (rows).

    Returns an array of shape ``(len(betas), len(alphas))``, ready for ``imshow``/``contour``.
    """
    alphas = validate.vector("alphas", alphas)
    betas = validate.vector("betas", betas)
    A, B = np.meshgrid(alphas, betas)
    return spectral_radius(phi_from_momentum(A, beta=B))


@validate.finite_results
def zero_loss_phi2(phi1, *, phi3):
    r"""The :math:`\phi_2` that makes the two-step meta-loss exactly zero, given :math:`\phi_1, \phi_3`.

    .. math:: \phi_2 = -\frac{(1 + 2\phi_1\phi_3)^2}{2\phi_1\phi_3}, \qquad \phi_1\phi_3 \ne 0,

    from :math:`\theta_2 - \theta^* = \big((1 + 2\phi_1\phi_3)^2 + 2\phi_1\phi_2\phi_3\big)(\theta_0 - \theta^*)`.
    """
    phi1 = validate.real_array("phi1", phi1)
    phi3 = validate.real_array("phi3", phi3)
    a = phi1 * phi3
    if np.any(a == 0):
        raise ValueError("phi1 * phi3 must be non-zero: with no step size no phi2 reaches theta*")
    phi2 = -((1.0 + 2.0 * a) ** 2) / (2.0 * a)
    return float(phi2) if phi2.ndim == 0 else phi2


@validate.finite_results
def zero_loss_beta(alpha):
    r"""The momentum that makes the two-step meta-loss zero for step size ``alpha``: :math:`\beta = (1 - 2\alpha)^2 / 2\alpha`."""
    alpha = validate.real_array("alpha", alpha)
    if np.any(alpha == 0):
        raise ValueError("alpha must be non-zero")
    beta = (1.0 - 2.0 * alpha) ** 2 / (2.0 * alpha)
    return float(beta) if beta.ndim == 0 else beta


@validate.finite_results
def critical_beta(alpha):
    r"""The momentum where the two eigenvalues of :math:`M` meet: :math:`\beta = (1 - \sqrt{2\alpha})^2`, for :math:`0 \le \alpha \le 2`.

    Above this curve the eigenvalues are a complex pair with :math:`|\lambda| = \sqrt\beta`
    (the error spirals in, overshooting); below it they are real.
    """
    alpha = validate.real_array("alpha", alpha)
    if np.any(alpha < 0) or np.any(alpha > 2):
        raise ValueError("alpha must be in [0, 2] for the critical-damping curve inside |beta| <= 1")
    beta = (1.0 - np.sqrt(2.0 * alpha)) ** 2
    return float(beta) if beta.ndim == 0 else beta


@validate.finite_results
def balance(phi):
    r""":math:`\phi_1^2 - \phi_3^2`, which meta-gradient flow leaves unchanged.

    Because the loss depends on :math:`\phi_1, \phi_3` only through :math:`\phi_1\phi_3`,
    :math:`\phi_1\,\partial L/\partial\phi_1 = \phi_3\,\partial L/\partial\phi_3`, so
    :math:`\tfrac{d}{ds}(\phi_1^2 - \phi_3^2) = 0` along :math:`\dot\phi = -\nabla_\phi L`;
    a gradient step of size :math:`\eta` changes it by :math:`\eta^2 (g_1^2 - g_3^2)` only.
    """
    phi = validate.phi(phi)
    value = phi[..., 0] ** 2 - phi[..., 2] ** 2
    return float(value) if value.ndim == 0 else value
