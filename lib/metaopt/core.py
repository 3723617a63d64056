r"""The worked example in numbers: the inner loop and its meta-gradient.

The optimizee is the quadratic

.. math:: L(\theta) = (\theta - \theta^*)^2, \qquad \nabla_t = 2(\theta_t - \theta^*),

and the optimizer is a linear RNN with parameters :math:`\phi = (\phi_1, \phi_2, \phi_3)`:

.. math::
    h_t = \phi_1 \nabla_t + \phi_2 h_{t-1}, \qquad
    g_t = \phi_3 h_t, \qquad
    \theta_{t+1} = \theta_t + g_t, \qquad h_{-1} = 0.

:func:`unroll` runs this inner loop for ``steps`` steps. :func:`meta_gradient`
returns the meta-loss :math:`L(\theta_T)` and its gradient
:math:`\partial L(\theta_T) / \partial \phi`, computed by reverse mode
(backpropagation through time): the forward pass of :func:`unroll`, then one
sweep backwards over the same steps, each forward line undone by its local
chain rule.

Every function takes ``phi`` of shape ``(..., 3)``: a batch of optimizers is
run at once, vectorized over the leading axes (never a Python loop over the
batch). ``theta0`` and ``theta_star`` may be scalars or arrays that broadcast
against the batch shape; they and ``steps`` are keyword-only.

This is chapter 3's code, kept short for the reader. The general sweep of
:mod:`metaopt.sweep` (curvature, loss weights, truncation, first order) is what
the later chapters call; the tests check that the two agree bit for bit.
"""

from __future__ import annotations

import numpy as np

from . import validate
from .document import PHI_OLD, STEPS, THETA0, THETA_STAR
from .sweep import MetaGradient, Trajectory
from .validate import DivergenceError

__all__ = [
    "DivergenceError",
    "Trajectory",
    "MetaGradient",
    "unroll",
    "meta_gradient",
    "meta_loss",
    "finite_difference",
    "backprop_trace",
]


# ---------------------------------------------------------------------------
# input checks (the library's one policy, metaopt.validate): a clear error, never a silent nan
# ---------------------------------------------------------------------------


def _check_inputs(phi, theta0, theta_star, steps):
    """Validate and convert; return (phi1, phi2, phi3, theta0, theta_star, steps, batch_shape)."""
    steps = validate.count("steps", steps)
    phi = validate.phi(phi)
    theta0 = validate.real_array("theta0", theta0)
    theta_star = validate.real_array("theta_star", theta_star)
    try:
        batch = np.broadcast_shapes(phi.shape[:-1], theta0.shape, theta_star.shape)
    except ValueError:
        raise ValueError(
            f"phi (batch shape {phi.shape[:-1]}), theta0 (shape {theta0.shape}) and "
            f"theta_star (shape {theta_star.shape}) do not broadcast together"
        ) from None
    if batch == ():  # one optimizer: plain Python floats, the fast path
        return (*(float(v) for v in phi), float(theta0), float(theta_star), steps, batch)
    # a batch: one contiguous array of shape `batch` per value (faster than strided views)
    phi = np.broadcast_to(phi, batch + (3,))
    columns = (phi[..., 0], phi[..., 1], phi[..., 2], theta0, theta_star)
    return (*(np.ascontiguousarray(np.broadcast_to(v, batch)) for v in columns), steps, batch)


def _first_bad_step(values) -> int | None:
    """Index of the first entry of ``values`` (a list over time) with any non-finite value, or None."""
    finite = np.isfinite(np.asarray(values)).reshape(len(values), -1).all(axis=1)
    if finite.all():
        return None
    return int(np.argmin(finite))


# ---------------------------------------------------------------------------
# forward: the inner loop
# ---------------------------------------------------------------------------
# The same code runs one optimizer or a batch: every value below is a Python
# float when phi is a single vector (the fast path: plain float arithmetic
# costs a fraction of a numpy call), or an array over the batch otherwise.
# Sequences over time are lists, indexed by t.


def _forward(phi1, phi2, phi3, theta0, theta_star, steps):
    """Run the inner loop; return the lists theta (T+1 values), grad and h (T values each).

    g_t is not kept: it is one multiplication away from h_t, and not storing it saves a
    quarter of the memory a long horizon of a large batch needs (:func:`unroll` recomputes it).
    """
    theta, grad, h = [theta0], [], []
    h_prev = 0.0  # h_{-1} = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            grad.append(2.0 * (theta[t] - theta_star))  # ∇_t = 2(θ_t − θ*)
            h.append(phi1 * grad[t] + phi2 * h_prev)  # h_t = φ1 ∇_t + φ2 h_{t−1}
            g = phi3 * h[t]  # g_t = φ3 h_t
            theta.append(theta[t] + g)  # θ_{t+1} = θ_t + g_t
            h_prev = h[t]
    # Once theta is inf or nan it stays so (and an overflowing grad, h or g makes the next
    # theta inf or nan), so a finite theta_T means every value of the loop is finite.
    if not np.all(np.isfinite(theta[steps])):
        bad = _first_bad_step(theta)
        raise DivergenceError(
            f"the inner loop diverged: theta_{bad} left the finite floating-point range "
            f"at step t={bad - 1} (of t=0..{steps - 1}; |theta| grew past ~1.8e308); this phi makes the "
            "inner loop unstable, use fewer steps or a phi closer to a stable one"
        )
    return theta, grad, h


def _as_time_last(values, batch):
    """A list over time of floats or batch arrays -> one array of shape batch + (len(values),)."""
    array = np.array(values, dtype=float).reshape((len(values),) + batch)
    return np.moveaxis(array, 0, -1)


def unroll(phi=PHI_OLD, *, theta0=THETA0, theta_star=THETA_STAR, steps=STEPS) -> Trajectory:
    """Run the inner loop: ``steps`` updates of theta by the linear-RNN optimizer.

    Parameters
    ----------
    phi : array_like, shape (..., 3)
        Optimizer parameters :math:`(\\phi_1, \\phi_2, \\phi_3)`; leading axes are a batch.
    theta0 : float or array_like
        Initial parameter :math:`\\theta_0` of the optimizee.
    theta_star : float or array_like
        Minimizer :math:`\\theta^*` of the optimizee :math:`(\\theta - \\theta^*)^2`.
    steps : int
        Number of inner steps :math:`T \\ge 0`.

    Returns
    -------
    Trajectory
        ``theta`` (..., T+1), ``grad``, ``h``, ``g`` (..., T), time last.

    Raises
    ------
    TypeError, ValueError
        For bad input; the message names the argument.
    DivergenceError
        If theta overflows; the message names the step.

    Examples
    --------
    >>> traj = unroll((0.1, 0.5, -1.0), theta0=10.0, theta_star=5.0, steps=2)
    >>> traj.theta.tolist()
    [10.0, 9.0, 7.7]
    """
    phi1, phi2, phi3, theta0, theta_star, steps, batch = _check_inputs(phi, theta0, theta_star, steps)
    theta, grad, h = (_as_time_last(v, batch) for v in _forward(phi1, phi2, phi3, theta0, theta_star, steps))
    g = np.asarray(phi3)[..., None] * h  # g_t = φ3 h_t, the same multiplication as in the loop
    return Trajectory(theta, grad, h, g)


# ---------------------------------------------------------------------------
# reverse mode: backpropagation through time
# ---------------------------------------------------------------------------


def _backward(phi1, phi2, phi3, theta_star, theta, grad, h, check=False, record=None):
    """Reverse sweep over the unrolled inner loop. Returns (dL/dφ1, dL/dφ2, dL/dφ3).

    Notation: ``x_bar`` is the adjoint dL/dx of an intermediate x. Each block
    undoes one forward line, in reverse order; the forward line is repeated
    in the comment above it. ``record``, if a list, receives one dict of
    adjoints per step, in the order visited (for the book's tables).
    """
    steps = len(grad)
    phi1_bar = phi2_bar = phi3_bar = 0.0
    # L = (θ_T − θ*)²
    theta_bar = 2.0 * (theta[steps] - theta_star)
    h_bar_next = 0.0  # dL/dh_t arriving from h_{t+1} (none after the last step)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in reversed(range(steps)):
            # θ_{t+1} = θ_t + g_t
            g_bar = theta_bar  # and θ_bar passes through to θ_t unchanged
            # g_t = φ3 h_t
            phi3_bar = phi3_bar + g_bar * h[t]
            h_bar = h_bar_next + phi3 * g_bar
            # h_t = φ1 ∇_t + φ2 h_{t−1}
            phi1_bar = phi1_bar + h_bar * grad[t]
            grad_bar = phi1 * h_bar
            h_prev = h[t - 1] if t > 0 else 0.0  # h_{−1} = 0
            phi2_bar = phi2_bar + h_bar * h_prev
            h_bar_next = phi2 * h_bar
            if record is not None:  # this step's adjoints and shares of dL/dφ
                record.append(dict(
                    t=t, theta_next_bar=theta_bar, g_bar=g_bar, h_bar=h_bar, grad_bar=grad_bar,
                    theta_bar=theta_bar + 2.0 * grad_bar,
                    dphi1=h_bar * grad[t], dphi2=h_bar * h_prev, dphi3=g_bar * h[t],
                ))
            # ∇_t = 2(θ_t − θ*)
            theta_bar = theta_bar + 2.0 * grad_bar
            if check and not all(
                np.all(np.isfinite(x)) for x in (theta_bar, h_bar_next, phi1_bar, phi2_bar, phi3_bar)
            ):
                raise DivergenceError(
                    "the meta-gradient overflowed in backpropagation through time: "
                    f"the adjoints left the finite floating-point range at step t={t} of "
                    f"{steps} (counting back from t={steps - 1}); use fewer steps or a "
                    "more stable phi"
                )
    return phi1_bar, phi2_bar, phi3_bar


def meta_gradient(phi=PHI_OLD, *, theta0=THETA0, theta_star=THETA_STAR, steps=STEPS):
    """Meta-loss :math:`L(\\theta_T)` and its gradient with respect to phi, by reverse mode.

    The forward pass is :func:`unroll`; the backward pass sweeps the same steps
    in reverse (backpropagation through time), costing a small constant times
    the forward pass. Neither finite differences nor sympy are used here; the
    tests check this function against both.

    Parameters
    ----------
    phi, theta0, theta_star, steps
        As for :func:`unroll`.

    Returns
    -------
    MetaGradient
        ``loss``, :math:`L(\\theta_T) = (\\theta_T - \\theta^*)^2` (a Python float when
        unbatched, else shape (...)), and ``grad``, shape (..., 3),
        :math:`(\\partial L/\\partial\\phi_1, \\partial L/\\partial\\phi_2, \\partial L/\\partial\\phi_3)`.

    Raises
    ------
    DivergenceError
        If the inner loop, the meta-loss or the backward pass overflows; the message names the step.

    Examples
    --------
    >>> loss, grad = meta_gradient((0.1, 0.5, -1.0), theta0=10.0, theta_star=5.0, steps=2)
    >>> round(loss, 12)
    7.29
    """
    phi1, phi2, phi3, theta0, theta_star, steps, batch = _check_inputs(phi, theta0, theta_star, steps)
    theta, grad, h = _forward(phi1, phi2, phi3, theta0, theta_star, steps)
    loss = _meta_loss(theta[steps], theta_star, steps)
    dphi = _stack_last(_backward(phi1, phi2, phi3, theta_star, theta, grad, h), batch)
    if not np.all(np.isfinite(dphi)):
        _backward(phi1, phi2, phi3, theta_star, theta, grad, h, check=True)  # raises, naming the step
        raise DivergenceError("the meta-gradient overflowed in backpropagation through time")
    return MetaGradient(loss, dphi)


def _stack_last(components, batch):
    """(x1, x2, x3), floats or batch arrays -> one array of shape batch + (3,)."""
    return np.stack([np.broadcast_to(x, batch) for x in components], axis=-1)


def _meta_loss(theta_T, theta_star, steps):
    """L(θ_T) = (θ_T − θ*)², refusing to overflow silently; a float or a batch array."""
    with np.errstate(over="ignore", invalid="ignore"):
        error = theta_T - theta_star
        loss = error * error  # not **: a Python float would raise OverflowError
    if not np.all(np.isfinite(loss)):
        raise DivergenceError(
            f"the meta-loss (theta_{steps} - theta_star)^2 overflowed after the last step "
            f"t={steps - 1}: theta_{steps} is finite but its squared distance to theta_star "
            "is past ~1.8e308; use fewer steps or a more stable phi"
        )
    return loss


def backprop_trace(phi=PHI_OLD, *, theta0=THETA0, theta_star=THETA_STAR, steps=STEPS):
    """The adjoints of one backward pass, step by step, as :func:`meta_gradient` computes them.

    Returns a list with one dict per step, from :math:`t = T-1` down to 0, with keys
    ``t``, ``theta_next_bar`` (:math:`\\bar\\theta_{t+1}`), ``g_bar``, ``h_bar``, ``grad_bar``,
    ``theta_bar`` (:math:`\\bar\\theta_t`) and ``dphi1``, ``dphi2``, ``dphi3``: this step's
    contributions to :math:`\\partial L/\\partial\\phi`, which sum to the meta-gradient.
    """
    phi1, phi2, phi3, theta0, theta_star, steps, batch = _check_inputs(phi, theta0, theta_star, steps)
    theta, grad, h = _forward(phi1, phi2, phi3, theta0, theta_star, steps)
    rows = []
    _backward(phi1, phi2, phi3, theta_star, theta, grad, h, record=rows)
    return rows


def meta_loss(phi=PHI_OLD, *, theta0=THETA0, theta_star=THETA_STAR, steps=STEPS):
    """The meta-loss :math:`L(\\theta_T) = (\\theta_T - \\theta^*)^2` alone (the forward pass only)."""
    phi1, phi2, phi3, theta0, theta_star, steps, batch = _check_inputs(phi, theta0, theta_star, steps)
    theta, *_ = _forward(phi1, phi2, phi3, theta0, theta_star, steps)
    return _meta_loss(theta[steps], theta_star, steps)


def finite_difference(phi=PHI_OLD, *, theta0=THETA0, theta_star=THETA_STAR, steps=STEPS, eps=1e-6):
    """Central finite differences of the meta-loss, :math:`(L(\\phi + \\epsilon e_i) - L(\\phi - \\epsilon e_i)) / 2\\epsilon`.

    A check on :func:`meta_gradient`, not a replacement: it costs six forward
    passes and carries a truncation error of order :math:`\\epsilon^2` plus a
    rounding error of order :math:`10^{-16} L / \\epsilon`. Shapes as for :func:`meta_gradient`.
    """
    phi1, phi2, phi3, *_ = _check_inputs(phi, theta0, theta_star, steps)  # errors as meta_gradient
    phi = np.stack([phi1, phi2, phi3], axis=-1)
    eps = validate.positive("eps", eps)
    columns = []
    for i in range(3):
        e = np.zeros(3)
        e[i] = eps
        plus = meta_loss(phi + e, theta0=theta0, theta_star=theta_star, steps=steps)
        minus = meta_loss(phi - e, theta0=theta0, theta_star=theta_star, steps=steps)
        columns.append((np.asarray(plus) - np.asarray(minus)) / (2 * eps))
    return np.stack(columns, axis=-1)
