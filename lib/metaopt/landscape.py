r"""The shape of the meta-loss around a point: its Hessian, and what it says about the meta step size.

Near :math:`\phi`, the meta-loss along a step :math:`-\eta\, d` is, to second order,

.. math:: L(\phi - \eta d) \approx L(\phi) - \eta\, d^\top \nabla L + \tfrac12 \eta^2\, d^\top H d,

with :math:`H = \nabla^2_\phi L` the Hessian. Along the gradient (:math:`d = \nabla L`)
this quadratic model is lowest at :math:`\eta = \|\nabla L\|^2 / \nabla L^\top H \nabla L`
and is back at :math:`L(\phi)` at twice that (:func:`quadratic_step_sizes`, which returns them
as :class:`~metaopt.symbolic.StepSizes` ``(eta_max, eta_best)``, the order of :func:`metaopt.symbolic.step_sizes`).
Near a minimum, gradient descent with a fixed :math:`\eta` is stable only if
:math:`\eta < 2/\lambda_{max}(H)` (:func:`sharpness`).

The Hessian is exact: sympy differentiates the meta-loss polynomial of
:func:`metaopt.symbolic.meta_gradient` twice.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

from . import symbolic, validate
from .core import meta_loss
from .document import PHI_OLD, STEPS, THETA0, THETA_STAR
from .symbolic import StepSizes

__all__ = ["hessian_symbolic", "hessian", "hessian_exact", "sharpness", "quadratic_step_sizes", "loss_slice",
           "HESSIAN_MAX_STEPS"]


@lru_cache(maxsize=16)
def _hessian_cached(steps, theta0, theta_star):
    L, _ = symbolic.meta_gradient(theta0=theta0, theta_star=theta_star, steps=steps)
    H = sp.hessian(L, symbolic.PHI)
    return H, sp.lambdify(symbolic.PHI, H, modules="numpy")


#: The longest horizon the Hessian's polynomials are built for (about 15 s at T = 16; past T = 30
#: the expanded polynomials are too deep for Python to compile at all).
HESSIAN_MAX_STEPS = 20


def _hessian(theta0, theta_star, steps):
    steps = validate.count("steps", steps, maximum=HESSIAN_MAX_STEPS,
                           why="the Hessian's polynomials take about 15 s to build at T = 16 and cannot be "
                               "compiled past T = 30")
    return _hessian_cached(steps, symbolic.exact(theta0, name="theta0"), symbolic.exact(theta_star, name="theta_star"))


def hessian_symbolic(*, theta0=THETA0, theta_star=THETA_STAR, steps=STEPS) -> sp.Matrix:
    r"""The Hessian :math:`\partial^2 L / \partial\phi_i \partial\phi_j` as a 3×3 sympy matrix of polynomials in :math:`\phi`."""
    return _hessian(theta0, theta_star, steps)[0]


def hessian_exact(phi=PHI_OLD, *, theta0=THETA0, theta_star=THETA_STAR, steps=STEPS) -> sp.Matrix:
    r"""The Hessian at ``phi`` in exact rational arithmetic (floats taken by their decimal form, like :mod:`metaopt.symbolic`)."""
    values = symbolic.exact_phi(phi)
    H = hessian_symbolic(theta0=theta0, theta_star=theta_star, steps=steps)
    return H.xreplace(dict(zip(symbolic.PHI, values)))


@validate.finite_results
def hessian(phi=PHI_OLD, *, theta0=THETA0, theta_star=THETA_STAR, steps=STEPS) -> np.ndarray:
    r"""The Hessian at ``phi`` (shape (..., 3)) as floats, shape (..., 3, 3); evaluates the sympy polynomials."""
    phi = validate.phi(phi)
    _, f = _hessian(theta0, theta_star, steps)
    batch = phi.shape[:-1]
    entries = f(phi[..., 0], phi[..., 1], phi[..., 2])  # nested lists; constants stay scalars
    H = np.empty(batch + (3, 3))
    for i in range(3):
        for j in range(3):
            H[..., i, j] = entries[i][j]
    return H


@validate.finite_results
def sharpness(phi=PHI_OLD, *, theta0=THETA0, theta_star=THETA_STAR, steps=STEPS):
    r""":math:`\lambda_{max}(H)`, the largest eigenvalue of the Hessian at ``phi``; a float or an array of the batch shape."""
    lam = np.linalg.eigvalsh(hessian(phi, theta0=theta0, theta_star=theta_star, steps=steps))[..., -1]
    return float(lam) if lam.ndim == 0 else lam


def quadratic_step_sizes(grad, *, hessian) -> StepSizes:
    r"""What the quadratic model says about steps :math:`-\eta\,g` along ``grad``, with the Hessian ``hessian`` :math:`H`:
    ``StepSizes(eta_max, eta_best)`` with :math:`\eta_{best} = g^\top g / g^\top H g` and :math:`\eta_{max} = 2\eta_{best}`.

    If the curvature :math:`g^\top H g` along ``grad`` is not positive (``grad`` zero, or ``hessian``
    not positive along it), the model has no minimum along ``grad`` and there is no such step
    size: ValueError, naming both.
    """
    g = validate.one_phi(grad, name="grad")
    H = validate.real_array("hessian", hessian)
    if H.shape != (3, 3):
        raise ValueError(f"hessian must have shape (3, 3), got {H.shape}")
    with np.errstate(all="ignore"):
        curvature, length = float(g @ H @ g), float(g @ g)
        best = length / curvature if curvature > 0 else 0.0
    if not (np.isfinite(curvature) and np.isfinite(length) and np.isfinite(2.0 * best)):
        raise validate.DivergenceError("quadratic_step_sizes: g^T H g or g^T g left the floating-point range "
                                       "(grad or hessian too large or too small for float64)")
    if curvature <= 0:
        raise ValueError(f"the curvature g^T H g = {curvature:.3g} of hessian along grad is not positive: the "
                         "quadratic model has no minimum along grad, so no largest or best step size")
    return StepSizes(2.0 * best, best)


def loss_slice(center, *, i, j, u, v, theta0=THETA0, theta_star=THETA_STAR, steps=STEPS) -> np.ndarray:
    r"""The meta-loss on a plane through ``center``: :math:`\phi_i` takes the values ``u`` (columns),
    :math:`\phi_j` the values ``v`` (rows), the third parameter stays at its value in ``center``.

    Returns an array of shape ``(len(v), len(u))``.
    """
    center = validate.one_phi(center, name="center")
    i, j = validate.count("i", i), validate.count("j", j)
    if {i, j} - {0, 1, 2} or i == j:
        raise ValueError(f"i and j must be two different parameter indices in 0, 1, 2, got i={i}, j={j}")
    u, v = validate.vector("u", u), validate.vector("v", v)
    validate.memory(5 * u.size * v.size, f"5 values per grid point (a grid of v x u = {v.size} x {u.size} points)")
    U, V = np.meshgrid(u, v)
    phi = np.broadcast_to(center, U.shape + (3,)).copy()
    phi[..., i] = U
    phi[..., j] = V
    return meta_loss(phi, theta0=theta0, theta_star=theta_star, steps=steps)
