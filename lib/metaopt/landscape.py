r"""The shape of the meta-loss around a point: its Hessian, and what it says about the meta step size.

Near :math:`\phi`, the meta-loss along a step :math:`-\eta\, d` is, to second order,

.. math:: L(\phi - \eta d) \approx L(\phi) - \eta\, d^\top \nabla L + \tfrac12 \eta^2\, d^\top H d,

with :math:`H = \nabla^2_\phi L` the Hessian. Along the gradient (:math:`d = \nabla L`)
this quadratic model is lowest at :math:`\eta = \|\nabla L\|^2 / \nabla L^\top H \nabla L`
and is back at :math:`L(\phi)` at twice that (:func:`quadratic_step_sizes`).
Near a minimum, gradient descent with a fixed :math:`\eta` is stable only if
:math:`\eta < 2/\lambda_{max}(H)` (:func:`sharpness`).

The Hessian is exact: sympy differentiates the meta-loss polynomial of
:func:`metaopt.symbolic.meta_gradient` twice.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

from . import symbolic
from .core import PHI_OLD, STEPS, THETA0, THETA_STAR, _as_float_array, meta_loss

__all__ = ["hessian_symbolic", "hessian", "hessian_exact", "sharpness", "quadratic_step_sizes", "loss_slice"]


@lru_cache(maxsize=16)
def _hessian_cached(steps, theta0, theta_star):
    L, _ = symbolic.meta_gradient(steps, theta0, theta_star)
    H = sp.hessian(L, symbolic.PHI)
    return H, sp.lambdify(symbolic.PHI, H, modules="numpy")


def hessian_symbolic(steps=STEPS, theta0=THETA0, theta_star=THETA_STAR) -> sp.Matrix:
    r"""The Hessian :math:`\partial^2 L / \partial\phi_i \partial\phi_j` as a 3×3 sympy matrix of polynomials in :math:`\phi`."""
    return _hessian_cached(steps, symbolic.exact(theta0, "theta0"), symbolic.exact(theta_star, "theta_star"))[0]


def hessian_exact(phi=PHI_OLD, steps=STEPS, theta0=THETA0, theta_star=THETA_STAR) -> sp.Matrix:
    r"""The Hessian at ``phi`` in exact rational arithmetic (floats taken by their decimal form, like :mod:`metaopt.symbolic`)."""
    H = hessian_symbolic(steps, theta0, theta_star)
    values = symbolic._exact_phi(phi)
    return H.xreplace(dict(zip(symbolic.PHI, values)))


def hessian(phi=PHI_OLD, steps=STEPS, theta0=THETA0, theta_star=THETA_STAR) -> np.ndarray:
    r"""The Hessian at ``phi`` (shape (..., 3)) as floats, shape (..., 3, 3); evaluates the sympy polynomials."""
    phi = _as_float_array("phi", phi)
    if phi.ndim == 0 or phi.shape[-1] != 3:
        raise ValueError(f"phi must have 3 entries on its last axis, got shape {phi.shape}")
    _, f = _hessian_cached(steps, symbolic.exact(theta0, "theta0"), symbolic.exact(theta_star, "theta_star"))
    batch = phi.shape[:-1]
    entries = f(phi[..., 0], phi[..., 1], phi[..., 2])  # nested lists; constants stay scalars
    H = np.empty(batch + (3, 3))
    for i in range(3):
        for j in range(3):
            H[..., i, j] = entries[i][j]
    return H


def sharpness(phi=PHI_OLD, steps=STEPS, theta0=THETA0, theta_star=THETA_STAR):
    r""":math:`\lambda_{max}(H)`, the largest eigenvalue of the Hessian at ``phi``; a float or an array of the batch shape."""
    lam = np.linalg.eigvalsh(hessian(phi, steps, theta0, theta_star))[..., -1]
    return float(lam) if lam.ndim == 0 else lam


def quadratic_step_sizes(grad, H):
    r"""What the quadratic model says about steps :math:`-\eta\,g` along ``grad``:
    ``(eta_best, eta_max)`` with :math:`\eta_{best} = g^\top g / g^\top H g` and :math:`\eta_{max} = 2\eta_{best}`.

    Returns ``(inf, inf)`` if the curvature :math:`g^\top H g` along ``grad`` is not positive.
    """
    g = _as_float_array("grad", grad)
    H = _as_float_array("H", H)
    if g.shape != (3,) or H.shape != (3, 3):
        raise ValueError(f"grad must have shape (3,) and H (3, 3), got {g.shape} and {H.shape}")
    curvature = float(g @ H @ g)
    if curvature <= 0:
        return float("inf"), float("inf")
    best = float(g @ g) / curvature
    return best, 2.0 * best


def loss_slice(center, i, j, u, v, steps=STEPS, theta0=THETA0, theta_star=THETA_STAR) -> np.ndarray:
    r"""The meta-loss on a plane through ``center``: :math:`\phi_i` takes the values ``u`` (columns),
    :math:`\phi_j` the values ``v`` (rows), the third parameter stays at its value in ``center``.

    Returns an array of shape ``(len(v), len(u))``.
    """
    center = _as_float_array("center", center)
    if center.shape != (3,):
        raise ValueError(f"center must be one phi of 3 entries, got shape {center.shape}")
    if {i, j} - {0, 1, 2} or i == j:
        raise ValueError(f"i and j must be two different parameter indices in 0, 1, 2, got {i}, {j}")
    U, V = np.meshgrid(_as_float_array("u", u).ravel(), _as_float_array("v", v).ravel())
    phi = np.broadcast_to(center, U.shape + (3,)).copy()
    phi[..., i] = U
    phi[..., j] = V
    return meta_loss(phi, theta0, theta_star, steps)
