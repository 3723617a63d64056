r"""The worked example in an autodiff library: JAX computes the meta-gradient (Part III, chapter 9).

The inner loop is written once, as a plain JAX function of :math:`\phi`, line by line as in the book:

.. math::
    \nabla_t = 2c\,(\theta_t - \theta^*), \qquad
    h_t = \phi_1 \nabla_t + \phi_2 h_{t-1}, \qquad
    g_t = \phi_3 h_t, \qquad
    \theta_{t+1} = \theta_t + g_t, \qquad h_{-1} = 0,

with the meta-loss :math:`\mathcal{L}(\phi) = \sum_{t=1}^{T} w_t\, c\,(\theta_t - \theta^*)^2`
(``weights=None``: the final loss :math:`c\,(\theta_T - \theta^*)^2` alone, the document's).
Everything else is JAX's:

* :func:`meta_loss` runs the loop with ``jax.lax.scan`` (one traced step, however long the
  horizon); :func:`meta_loss_unrolled` is the same loop as a Python ``for`` loop, which JAX
  traces into seven operations per step (short horizons, and the program chapter 9 prints);
* :func:`meta_gradient` is ``jax.value_and_grad`` (reverse mode), :func:`meta_gradient_forward`
  ``jax.jacfwd`` (forward mode), :func:`hessian` ``jax.hessian``; each is compiled with
  ``jax.jit`` and mapped over a batch of :math:`\phi` with ``jax.vmap``, and returns numpy values;
* ``first_order=True`` puts ``jax.lax.stop_gradient`` on the optimizee's gradient
  :math:`\nabla_t`: its value is unchanged, but JAX treats it as a constant input,
  :math:`\partial\nabla_t/\partial\phi = 0`: exactly how Andrychowicz et al. (2016) avoid the
  optimizee's second derivatives (:func:`metaopt.first_order.meta_gradient_first_order`);
* ``truncation=k`` puts ``stop_gradient`` on everything before the last k steps (truncated BPTT,
  :func:`metaopt.horizon.truncated_meta_gradient`);
* :func:`gradient_program` lists the program ``jax.grad`` runs (its jaxpr), each line with its value.

**Float64.** Importing this module turns on JAX's 64-bit mode
(``jax.config.update("jax_enable_x64", True)``), for the whole Python process: JAX's default
is float32, which differs from the library's float64 values (and from the exact ones) in
the 7th or 8th significant digit. Computations follow the dtype of ``phi``: pass a float32
``phi`` to compute in float32 on purpose.

The arguments follow the library's policy (:mod:`metaopt.validate`): ``phi`` is the only
positional argument, of shape ``(..., 3)`` (leading axes a batch), everything else is
keyword-only; ``theta0``, ``theta_star`` and ``curvature`` broadcast against the batch shape.
Inside ``jax.grad``, ``jax.vmap`` or ``jax.jit``, :func:`meta_loss` and
:func:`meta_loss_unrolled` receive JAX's tracers, which are not checked (JAX checks their
shapes); ``phi`` may then also be a tuple of three scalars.

This module needs JAX (``pip install "metaopt[jax]"``); no other module of :mod:`metaopt` imports it.
"""

from __future__ import annotations

try:  # Part III needs JAX; metaopt itself needs only numpy and sympy
    import jax
except ImportError as err:
    raise ImportError('metaopt.autodiff needs JAX: pip install "metaopt[jax]"') from err

from functools import partial
from typing import NamedTuple

import jax.extend
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import validate
from .document import CURVATURE
from .sweep import MetaGradient
from .validate import DivergenceError

# JAX computes in float32 unless told otherwise; the book compares with exact values.
jax.config.update("jax_enable_x64", True)

__all__ = [
    "MAX_STEPS",
    "UNROLLED_MAX_STEPS",
    "PROGRAM_MAX_STEPS",
    "MetaGradient",
    "Equation",
    "meta_loss",
    "meta_loss_unrolled",
    "meta_gradient",
    "meta_gradient_forward",
    "hessian",
    "gradient_program",
]


# ---------------------------------------------------------------------------
# inputs: concrete values are checked by the library's policy; JAX's tracers pass through
# ---------------------------------------------------------------------------


#: The longest inner loop of the scanned functions (about 3-8 us a step: 10**6 is seconds).
MAX_STEPS = 10**6
#: The longest loop :func:`meta_loss_unrolled` writes out step by step for JAX to trace.
UNROLLED_MAX_STEPS = 10**4
#: The longest program :func:`gradient_program` prints.
PROGRAM_MAX_STEPS = 1000
_PER_STEP = "about 3-8 us a step in jax.lax.scan (10**6 steps: seconds)"


def _traced(value) -> bool:
    return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(value))


def _dtype(phi):
    """float32 if phi is float32 (numpy or JAX), else float64."""
    leaves = jax.tree_util.tree_leaves(phi)
    dtypes = {getattr(leaf, "dtype", None) for leaf in leaves}
    return jnp.float32 if dtypes == {np.dtype(np.float32)} else jnp.float64


def _phi(phi):
    """(phi1, phi2, phi3, dtype): the three columns of phi, of the batch shape."""
    dtype = _dtype(phi)
    if _traced(phi):
        if isinstance(phi, (tuple, list)) and len(phi) == 3:  # three traced scalars
            return (*phi, dtype)
        phi = jnp.asarray(phi)
        if phi.ndim == 0 or phi.shape[-1] != 3:
            raise ValueError(f"phi must hold the 3 optimizer parameters along its last axis, got shape {phi.shape}")
    else:
        phi = jnp.asarray(validate.phi(phi), dtype=dtype)
    return phi[..., 0], phi[..., 1], phi[..., 2], dtype


def _real(name, value, dtype):
    """A checked real number or array; a scalar as a Python float (JAX folds it into the program as a constant)."""
    if _traced(value):
        return value
    arr = validate.real_array(name, value)
    return float(arr) if arr.ndim == 0 else jnp.asarray(arr, dtype=dtype)


def _positive(name, value, dtype):
    if not _traced(value) and np.any(validate.real_array(name, value) <= 0):
        raise ValueError(f"{name} must be positive, got {value!r}")
    return _real(name, value, dtype)


def _weights(weights, steps, dtype):
    if weights is None:  # the final loss only: the document's meta-loss
        return None
    w = weights if _traced(weights) else validate.real_array("weights", weights)
    if w.shape != (steps,):
        raise ValueError(f"weights must hold one weight w_t per step t = 1..T (steps={steps}), got shape {w.shape}")
    return jnp.asarray(w, dtype=dtype)


def _flag(name, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _truncation(truncation, steps):
    if truncation is None:
        return steps
    k = validate.count("truncation", truncation, minimum=1)
    if k > steps:
        raise ValueError(f"truncation must be between 1 and steps={steps}, got {k}")
    return k


# ---------------------------------------------------------------------------
# the worked example as a JAX function of phi
# ---------------------------------------------------------------------------


def _trajectory(phi1, phi2, phi3, theta0, theta_star, c, *, steps, first_order, truncation):
    """θ_1 .. θ_T (time on axis 0) and θ_T, by lax.scan; the first T − truncation steps held constant."""

    def step(carry, _):
        theta, h_prev = carry
        grad = 2.0 * c * (theta - theta_star)  # ∇_t = 2c(θ_t − θ*)
        if first_order:  # ∇_t is an input: its value flows forward, no derivative flows back
            grad = lax.stop_gradient(grad)
        h = phi1 * grad + phi2 * h_prev  # h_t = φ1 ∇_t + φ2 h_{t−1}
        g = phi3 * h  # g_t = φ3 h_t
        theta = theta + g  # θ_{t+1} = θ_t + g_t
        return (theta, h), theta

    batch = jnp.broadcast_shapes(*(jnp.shape(v) for v in (phi1, theta0, theta_star, c)))
    dtype = jnp.result_type(phi1)
    carry = (jnp.broadcast_to(theta0, batch).astype(dtype), jnp.zeros(batch, dtype))  # θ_0, h_{−1} = 0
    k = truncation
    if k < steps:  # truncated BPTT: the steps before the last k, and all they computed, held constant
        carry, early = lax.stop_gradient(lax.scan(step, carry, None, length=steps - k))
    if k == 0:  # no step at all: the loss is at θ_0
        return jnp.zeros((0,) + batch, dtype), carry[0]
    (theta_T, _), thetas = lax.scan(step, carry, None, length=k)  # θ_1 .. θ_T, time on axis 0
    if k < steps:
        thetas = jnp.concatenate([early, thetas])
    return thetas, theta_T


def meta_loss(
    phi, *, theta0, theta_star, steps, curvature=CURVATURE, weights=None, first_order=False, truncation=None
):
    r"""The meta-loss as a JAX function of ``phi``: differentiate it with ``jax.grad``, map it with ``jax.vmap``.

    The inner loop is one step function run ``steps`` times by ``jax.lax.scan``, so the
    program JAX traces and compiles has the same size for any horizon.

    Parameters
    ----------
    phi : array_like, shape (..., 3)
        :math:`(\phi_1, \phi_2, \phi_3)`; leading axes are a batch (the loss is then of the batch shape).
    theta0, theta_star, curvature : float or array_like, broadcasting with phi's batch shape
    steps : int
        :math:`T \ge 0`.
    weights : array_like, shape (T,), optional
        :math:`w_1, \dots, w_T`; None is the final loss only.
    first_order : bool
        ``stop_gradient`` on :math:`\nabla_t`: the same value, but its derivative with respect to
        :math:`\phi` is taken as zero (the paper's first-order approximation).
    truncation : int, optional
        Differentiate through the last ``truncation`` steps only (1..T): everything computed
        before them is held constant (``stop_gradient``). None is all T.

    Returns
    -------
    jax.Array
        The meta-loss, of the batch shape; its dtype is phi's (float64 unless phi is float32).

    >>> round(float(meta_loss((0.1, 0.5, -1.0), theta0=10.0, theta_star=5.0, steps=2)), 12)
    7.29
    >>> f = partial(meta_loss, theta0=10.0, theta_star=5.0, steps=2)
    >>> [round(float(g), 9) for g in jax.grad(f)(jnp.array([0.1, 0.5, -1.0]))]
    [-113.4, -5.4, 11.34]
    """
    steps = validate.count("steps", steps, maximum=MAX_STEPS, why=_PER_STEP)
    phi1, phi2, phi3, dtype = _phi(phi)
    theta0 = _real("theta0", theta0, dtype)
    theta_star = _real("theta_star", theta_star, dtype)
    c = _positive("curvature", curvature, dtype)
    w = _weights(weights, steps, dtype)
    first_order = _flag("first_order", first_order)
    k = _truncation(truncation, steps)
    thetas, theta_T = _trajectory(phi1, phi2, phi3, theta0, theta_star, c,
                                  steps=steps, first_order=first_order, truncation=k)
    if w is None:  # the document's meta-loss: the final loss c (θ_T − θ*)²
        return _times(c, (theta_T - theta_star) ** 2)
    return jnp.tensordot(w, _times(c, (thetas - theta_star) ** 2), axes=(0, 0))  # Σ_t w_t c (θ_t − θ*)²


def _times(c, x):
    """c x; the document's c = 1 as a number needs no multiplication (and the traced program has none)."""
    return x if isinstance(c, float) and c == 1.0 else c * x


def meta_loss_unrolled(phi, *, theta0, theta_star, steps, curvature=CURVATURE, first_order=False):
    r"""The final meta-loss :math:`c(\theta_T - \theta^*)^2`, with the inner loop as a Python ``for`` loop.

    JAX traces the loop into seven operations per step (the four equations; with
    :math:`\theta_0` given, :math:`\nabla_0` is a number, not an operation), so the program
    grows with ``steps``. It reads like the book's equations, and ``jax.make_jaxpr`` prints it
    (:func:`gradient_program`); :func:`meta_loss` is the same loop for long horizons.

    >>> round(float(meta_loss_unrolled((0.1, 0.5, -1.0), theta0=10.0, theta_star=5.0, steps=2)), 12)
    7.29
    """
    steps = validate.count("steps", steps, maximum=UNROLLED_MAX_STEPS, why="the loop is traced one step at a time, about 0.1 ms a step, and compiled whole")
    phi1, phi2, phi3, dtype = _phi(phi)
    theta = _real("theta0", theta0, dtype)
    theta_star = _real("theta_star", theta_star, dtype)
    c = _positive("curvature", curvature, dtype)
    first_order = _flag("first_order", first_order)
    # the inner loop (chapter 9 shows the lines from here)
    h = 0.0  # h_{−1} = 0
    for _ in range(steps):
        grad = 2.0 * c * (theta - theta_star)  # ∇_t = 2c(θ_t − θ*)
        if first_order:  # the paper's approximation, ∂∇_t/∂φ = 0
            grad = lax.stop_gradient(grad)
        h = phi1 * grad + phi2 * h  # h_t = φ1 ∇_t + φ2 h_{t−1}
        g = phi3 * h  # g_t = φ3 h_t
        theta = theta + g  # θ_{t+1} = θ_t + g_t
    loss = _times(c, (theta - theta_star) ** 2)  # L(θ_T) = c (θ_T − θ*)²
    # (to here)
    return loss if steps else jnp.broadcast_to(jnp.asarray(loss, dtype), jnp.shape(phi1))


# ---------------------------------------------------------------------------
# the derivatives: compiled once per shape and horizon, mapped over the batch
# ---------------------------------------------------------------------------


class _Problem(NamedTuple):
    phi: np.ndarray  # (n, 3): the batch, flattened
    theta0: np.ndarray  # (n,)
    theta_star: np.ndarray
    curvature: np.ndarray
    batch: tuple
    dtype: object


def _problem(phi, theta0, theta_star, curvature) -> _Problem:
    dtype = _dtype(phi)
    phi, theta0, theta_star, curvature, batch = validate.problem(
        phi, theta0=theta0, theta_star=theta_star, curvature=curvature
    )
    flat = lambda v, shape: np.broadcast_to(v, batch + shape).reshape((-1,) + shape).astype(dtype)  # noqa: E731
    return _Problem(flat(phi, (3,)), flat(theta0, ()), flat(theta_star, ()), flat(curvature, ()), batch, dtype)


@partial(jax.jit, static_argnames=("steps", "first_order", "truncation", "mode"))
def _derivatives(phi, theta0, theta_star, curvature, weights, *, steps, first_order, truncation, mode):
    """vmap over the flattened batch of (loss, derivative): mode "reverse", "forward" or "hessian"."""

    def loss(p, t0, ts, c):
        return meta_loss(p, theta0=t0, theta_star=ts, steps=steps, curvature=c, weights=weights,
                         first_order=first_order, truncation=truncation)

    if mode == "reverse":
        one = jax.value_and_grad(loss)  # one forward pass, one backward pass: all 3 components
    elif mode == "forward":
        one = lambda *a: (loss(*a), jax.jacfwd(loss)(*a))  # noqa: E731  (one tangent per component)
    else:
        one = lambda *a: (loss(*a), jax.hessian(loss)(*a))  # noqa: E731  (forward over reverse)
    return jax.vmap(one)(phi, theta0, theta_star, curvature)


def _run(phi, theta0, theta_star, steps, curvature, weights, first_order, truncation, mode):
    steps = validate.count("steps", steps, maximum=MAX_STEPS, why=_PER_STEP)
    p = _problem(phi, theta0, theta_star, curvature)
    w = _weights(weights, steps, p.dtype)
    first_order = _flag("first_order", first_order)
    k = None if truncation is None else _truncation(truncation, steps)
    loss, d = _derivatives(p.phi, p.theta0, p.theta_star, p.curvature, w, steps=steps,
                           first_order=first_order, truncation=k, mode=mode)
    loss, d = np.asarray(loss), np.asarray(d)
    if not (np.all(np.isfinite(loss)) and np.all(np.isfinite(d))):
        _diverged(p, steps)
    loss = loss.reshape(p.batch)
    d = d.reshape(p.batch + d.shape[1:])
    return (float(loss) if p.batch == () else loss), d


def _diverged(p: _Problem, steps):
    """Raise DivergenceError naming the first step where some theta left the floating-point range."""
    with np.errstate(all="ignore"):  # the overflow is what is being located: no RuntimeWarning for it
        thetas, _ = _trajectory(*(jnp.asarray(p.phi[:, i]) for i in range(3)), p.theta0, p.theta_star,
                                p.curvature, steps=steps, first_order=False, truncation=steps)
    thetas = np.concatenate([np.asarray(p.theta0)[None], np.asarray(thetas)])
    finite = np.isfinite(thetas).reshape(steps + 1, -1).all(axis=1)
    if finite.all():
        where = "the meta-loss or its derivatives overflowed although the inner loop stayed finite"
    else:
        bad = int(np.argmin(finite))
        where = f"the inner loop diverged: theta_{bad} left the finite floating-point range at step t={bad - 1}"
    raise DivergenceError(
        f"{where} (of t=0..{steps - 1}); this phi makes the inner loop unstable: use fewer steps or a more stable phi"
    )


def meta_gradient(
    phi, *, theta0, theta_star, steps, curvature=CURVATURE, weights=None, first_order=False, truncation=None
) -> MetaGradient:
    r"""The meta-loss and its gradient by JAX's reverse mode: ``jax.value_and_grad`` of :func:`meta_loss`.

    One forward pass and one backward pass give all three components. Compiled with
    ``jax.jit`` (once per horizon, batch size and switch) and mapped over the batch
    with ``jax.vmap``. Arguments as for :func:`meta_loss`.

    Returns
    -------
    MetaGradient
        ``(loss, grad)``: a Python float and a numpy array of shape (3,) for one phi;
        numpy arrays of the batch shape and ``batch + (3,)`` otherwise.

    Raises
    ------
    TypeError, ValueError
        For bad input; the message names the argument.
    DivergenceError
        If the inner loop overflows; the message names the step.

    >>> loss, grad = meta_gradient((0.1, 0.5, -1.0), theta0=10.0, theta_star=5.0, steps=2)
    >>> round(loss, 12), grad.round(9).tolist()
    (7.29, [-113.4, -5.4, 11.34])
    """
    return MetaGradient(*_run(phi, theta0, theta_star, steps, curvature, weights, first_order, truncation, "reverse"))


def meta_gradient_forward(
    phi, *, theta0, theta_star, steps, curvature=CURVATURE, weights=None, first_order=False, truncation=None
) -> MetaGradient:
    r"""The same meta-gradient by forward mode: ``jax.jacfwd``, one tangent (``jax.jvp``) per component of phi.

    Forward mode carries :math:`\partial x/\partial\phi_i` along with every value :math:`x`, for one
    :math:`i` per pass: three passes for three parameters, each about as costly as the forward
    pass. Arguments and results as for :func:`meta_gradient`.

    >>> meta_gradient_forward((0.1, 0.5, -1.0), theta0=10.0, theta_star=5.0, steps=2).grad.round(9).tolist()
    [-113.4, -5.4, 11.34]
    """
    return MetaGradient(*_run(phi, theta0, theta_star, steps, curvature, weights, first_order, truncation, "forward"))


def hessian(phi, *, theta0, theta_star, steps, curvature=CURVATURE, weights=None) -> np.ndarray:
    r"""The Hessian :math:`\partial^2\mathcal{L}/\partial\phi_i\partial\phi_j`: ``jax.hessian`` of :func:`meta_loss`.

    ``jax.hessian`` is forward mode over reverse mode (``jacfwd(jacrev(f))``). Returns a numpy
    array of shape ``batch + (3, 3)``; arguments as for :func:`meta_loss`.

    >>> hessian((0.1, 0.5, -1.0), theta0=10.0, theta_star=5.0, steps=2).round(6).tolist()[0]
    [1098.0, -12.0, 3.6]
    """
    return _run(phi, theta0, theta_star, steps, curvature, weights, False, None, "hessian")[1]


# ---------------------------------------------------------------------------
# the program jax.grad runs
# ---------------------------------------------------------------------------


class Equation(NamedTuple):
    """One line of a jaxpr, as ``jax.make_jaxpr`` prints it, and the value it computes."""

    text: str
    value: float


def gradient_program(phi, *, theta0, theta_star, steps, first_order=False) -> list[Equation]:
    r"""The program ``jax.grad`` builds for :func:`meta_loss_unrolled`, line by line, with each line's value at ``phi``.

    ``jax.make_jaxpr(jax.grad(f))`` records the operations JAX runs: the forward pass, then
    the backward pass (the reverse sweep). ``phi`` is passed as three scalars, so the program
    has no lines for taking apart an array. Each line is evaluated here, in order, by the
    primitive it names. Returns one :class:`Equation` per line. ``first_order`` as for
    :func:`meta_loss_unrolled`.

    >>> program = gradient_program((0.1, 0.5, -1.0), theta0=10.0, theta_star=5.0, steps=2)
    >>> program[0].text, program[-1].value
    ('d:f64[] = mul a 10.0:f64[]', -113.4)
    """
    steps = validate.count("steps", steps, maximum=PROGRAM_MAX_STEPS, why="about 20 printed lines and 4 ms a step")
    phi = tuple(float(v) for v in validate.one_phi(phi))
    theta0, theta_star = validate.real("theta0", theta0), validate.real("theta_star", theta_star)
    first_order = _flag("first_order", first_order)
    f = partial(meta_loss_unrolled, theta0=theta0, theta_star=theta_star, steps=steps, first_order=first_order)
    closed = jax.make_jaxpr(jax.grad(f))(phi)
    values = {}

    def read(var):
        return var.val if isinstance(var, jax.extend.core.Literal) else values[var]

    for var, value in zip(closed.jaxpr.invars, phi):
        values[var] = np.float64(value)
    for var, value in zip(closed.jaxpr.constvars, closed.consts):
        values[var] = value
    # the printed program, one line per equation between "let" and "in", with its own variable names
    printed = closed.pretty_print(use_color=False).splitlines()  # no colour codes, as in a terminal
    body = printed[[line.strip().endswith("let") for line in printed].index(True) + 1:]
    body = body[:len(closed.jaxpr.eqns)]
    assert not body[-1].lstrip().startswith("in ") and len(body) == len(closed.jaxpr.eqns), printed
    lines = []
    for eqn, text in zip(closed.jaxpr.eqns, body):
        out = eqn.primitive.bind(*(read(v) for v in eqn.invars), **eqn.params)
        out = out if eqn.primitive.multiple_results else [out]
        for var, value in zip(eqn.outvars, out):
            values[var] = value
        lines.append(Equation(text.strip(), float(out[0])))
        if not np.isfinite(lines[-1].value):
            raise DivergenceError(f"gradient_program: line {len(lines)} ({lines[-1].text}) left the floating-point "
                                  f"range; this phi, theta0 or theta_star is too large for float64")
    return lines
