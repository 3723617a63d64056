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

import threading
from itertools import chain
from math import isfinite

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
    "MAX_STEPS",
    "MAX_WORK",
    "TRACE_MAX_STEPS",
]

#: The longest inner loop these functions run in one call: about 2 s for one phi on floats
#: (about 0.2 us a step), about 40 s for a batch (about 4 us of numpy calls a step).
MAX_STEPS = 10**7
#: The most optimizer-steps (steps x batch size) a batch call runs: about 40 s forward only (about
#: 4 ns each); the meta-gradient (about 18 ns each) keeps 2 values a step and meets the memory limit first.
MAX_WORK = 10**10
#: The longest horizon :func:`backprop_trace` lists (one dict of 9 numbers per step, about 20 us each).
TRACE_MAX_STEPS = 10**5
_TOO_LONG = "about 0.2 us a step for one phi on floats, 4 us a step for a batch (10**7 steps: seconds to a minute)"


# ---------------------------------------------------------------------------
# input checks (the library's one policy, metaopt.validate): a clear error, never a silent nan
# ---------------------------------------------------------------------------


def _plain_floats(phi, theta0, theta_star, steps):
    """One optimizer given as plain finite Python floats: ``(phi1, phi2, phi3)``, else None.

    This is the fast path's whole input check, a few type tests (a microsecond's worth
    of numpy calls would be most of the cost of a short horizon): ``phi`` a tuple or
    list of three floats or a float64 array of shape (3,), ``theta0`` and ``theta_star``
    floats, ``steps`` an int >= 0, all finite. Anything else (None, ints, numpy scalars,
    nan, a batch) returns None and goes through :func:`_check_inputs`, so every bad
    input still gets its named error there.
    """
    if (type(steps) is not int or not 0 <= steps <= MAX_STEPS or type(theta0) is not float
            or type(theta_star) is not float):
        return None
    kind = type(phi)
    if kind is tuple or kind is list:
        if len(phi) != 3:
            return None
        phi1, phi2, phi3 = phi
        if type(phi1) is not float or type(phi2) is not float or type(phi3) is not float:
            return None
    elif kind is np.ndarray and phi.shape == (3,) and phi.dtype == np.float64:
        phi1, phi2, phi3 = phi.tolist()
    else:
        return None
    if isfinite(phi1) and isfinite(phi2) and isfinite(phi3) and isfinite(theta0) and isfinite(theta_star):
        return phi1, phi2, phi3
    return None


def _check_inputs(phi, theta0, theta_star, steps, keeps=0, max_steps=MAX_STEPS):
    """Validate and convert; return (phi1, phi2, phi3, theta0, theta_star, steps, batch_shape).

    One optimizer comes back as Python floats; a batch as flat contiguous arrays of
    ``prod(batch_shape)`` values each (the caller reshapes the results). ``keeps`` is how many
    values per step and per optimizer the caller stores (refused up front past 1 GiB).
    """
    steps = validate.count("steps", steps, maximum=max_steps, why=_TOO_LONG)
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
    n = int(np.prod(batch, dtype=np.int64))
    validate.memory(keeps * steps * max(n, 1), f"{keeps} values per step per phi (steps={steps}, a batch of {n} phi)")
    if batch == ():  # one optimizer: plain Python floats
        return (*(float(v) for v in phi), float(theta0), float(theta_star), steps, batch)
    validate.work(MAX_WORK, "each phi's step costs about 4 ns forward in a batch (10**10: about 40 s)",
                  steps=steps, batch=n)
    phi = np.broadcast_to(phi, batch + (3,))
    columns = (phi[..., 0], phi[..., 1], phi[..., 2], theta0, theta_star)
    return (*(np.ascontiguousarray(np.broadcast_to(v, batch)).reshape(-1) for v in columns), steps, batch)


def _first_bad_step(values) -> int | None:
    """Index of the first entry of ``values`` (a sequence over time) with any non-finite value, or None."""
    finite = np.isfinite(np.asarray(values)).reshape(len(values), -1).all(axis=1)
    if finite.all():
        return None
    return int(np.argmin(finite))


def _trajectory(theta0, phi3, h):
    """θ_0 .. θ_T from the stored h: θ_{t+1} = θ_t + φ3 h_t, time on axis 0.

    A running sum adds in order, one step after another, so these are the loop's own
    values, bit for bit (the tests check it): the forward pass need not store theta.
    """
    theta0 = np.asarray(theta0, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        g = np.multiply(phi3, h).reshape((len(h),) + theta0.shape)  # g_t = φ3 h_t
        return np.cumsum(np.concatenate([theta0[None], g]), axis=0)


def _diverged(theta_T, steps, theta0, phi3, h):
    """Raise DivergenceError, naming the step, if the inner loop left the floating-point range."""
    # Once theta is inf or nan it stays so (and an overflowing grad, h or g makes the next
    # theta inf or nan), so a finite theta_T means every value of the loop is finite.
    if np.all(np.isfinite(theta_T)):
        return
    _raise_diverged(_first_bad_step(_trajectory(theta0, phi3, h)), steps)


def _raise_diverged(bad, steps):
    """The DivergenceError of an inner loop whose θ_bad is the first value that is not finite."""
    raise DivergenceError(
        f"the inner loop diverged: theta_{bad} left the finite floating-point range "
        f"at step t={bad - 1} (of t=0..{steps - 1}; |theta| grew past ~1.8e308); this phi makes the "
        "inner loop unstable, use fewer steps or a phi closer to a stable one"
    )


# ---------------------------------------------------------------------------
# one optimizer: the inner loop and backpropagation through time on Python floats
# ---------------------------------------------------------------------------
# These two functions are the book's (chapter 3 shows _backward): each line is one line
# of the worked example. Plain float arithmetic costs tens of nanoseconds where a numpy
# call costs about a microsecond, so one optimizer runs here, on floats. A float that
# overflows becomes inf without a warning; the callers check the results.


def _forward(phi1, phi2, phi3, theta0, theta_star, steps):
    """Run the inner loop on floats; return θ_T and the lists grad and h (T values each).

    Only what the backward pass reads is kept: the other θ_t and g_t are each one
    multiplication or addition away (:func:`unroll` recomputes them).
    """
    grad, h = [], []
    theta_t, h_t = theta0, 0.0  # h_{-1} = 0
    for _ in range(steps):
        grad_t = 2.0 * (theta_t - theta_star)  # ∇_t = 2(θ_t − θ*)
        h_t = phi1 * grad_t + phi2 * h_t  # h_t = φ1 ∇_t + φ2 h_{t−1}
        g_t = phi3 * h_t  # g_t = φ3 h_t
        theta_t = theta_t + g_t  # θ_{t+1} = θ_t + g_t
        grad.append(grad_t)
        h.append(h_t)
    return theta_t, grad, h


def _final(phi1, phi2, phi3, theta0, theta_star, steps):
    """θ_T alone, by the lines of :func:`_forward` without keeping anything: memory does not grow with T."""
    theta_t, h_t = theta0, 0.0
    for _ in range(steps):
        grad_t = 2.0 * (theta_t - theta_star)
        h_t = phi1 * grad_t + phi2 * h_t
        g_t = phi3 * h_t
        theta_t = theta_t + g_t
    return theta_t


def _final_checked(phi1, phi2, phi3, theta0, theta_star, steps):
    """Raise the DivergenceError of :func:`_diverged`, naming the step, for an inner loop run by
    :func:`_final`: the same lines again, stopping at the first θ that is not finite."""
    theta_t, h_t = theta0, 0.0
    for t in range(steps):
        grad_t = 2.0 * (theta_t - theta_star)
        h_t = phi1 * grad_t + phi2 * h_t
        theta_t = theta_t + phi3 * h_t
        if not isfinite(theta_t):
            _raise_diverged(t + 1, steps)
    raise AssertionError("the inner loop was finite the second time")  # pragma: no cover


def _backward(phi1, phi2, phi3, theta_star, theta_T, grad, h):
    """Reverse sweep over the unrolled inner loop. Returns (dL/dφ1, dL/dφ2, dL/dφ3).

    Notation: ``x_bar`` is the adjoint dL/dx of an intermediate x. Each block
    undoes one forward line, in reverse order; the forward line is repeated
    in the comment above it. The loop visits t = T−1, ..., 0, reading ∇_t, h_t
    and h_{t−1} from the forward pass's lists.
    """
    phi1_bar = phi2_bar = phi3_bar = 0.0
    # L = (θ_T − θ*)²
    theta_bar = 2.0 * (theta_T - theta_star)
    h_bar_next = 0.0  # dL/dh_t arriving from h_{t+1} (none after the last step)
    # h_{t−1} for t = T−1, ..., 0 (h_{−1} = 0)
    h_before = chain(reversed(h[:-1]), [0.0])
    for grad_t, h_t, h_prev in zip(reversed(grad), reversed(h), h_before):
        # θ_{t+1} = θ_t + g_t
        g_bar = theta_bar  # and θ_bar passes through to θ_t unchanged
        # g_t = φ3 h_t
        phi3_bar = phi3_bar + g_bar * h_t
        h_bar = h_bar_next + phi3 * g_bar
        # h_t = φ1 ∇_t + φ2 h_{t−1}
        phi1_bar = phi1_bar + h_bar * grad_t
        grad_bar = phi1 * h_bar
        phi2_bar = phi2_bar + h_bar * h_prev
        h_bar_next = phi2 * h_bar
        # ∇_t = 2(θ_t − θ*)
        theta_bar = theta_bar + 2.0 * grad_bar
    return phi1_bar, phi2_bar, phi3_bar


# ---------------------------------------------------------------------------
# a batch: the same lines on arrays, written in place
# ---------------------------------------------------------------------------


_WORKSPACE = threading.local()
_WORKSPACE_LIMIT = 2**23  # values (64 MiB): larger requests get fresh memory, which is then freed


def _workspace(size):
    """A float64 array of ``size`` values, reused by this thread from one call to the next.

    A batch's forward pass stores 2 T n values. Fresh memory of that size comes from the
    operating system one page at a time, and on these machines the page faults cost more
    than the arithmetic: for 4096 phi at T = 100 (6.6 MB), the forward pass took about
    3.6 ms in fresh memory and 1.1 ms in reused memory. Memory that stays with the thread
    is touched once. Up to 64 MiB is kept, per thread, until the thread ends.
    """
    if size > _WORKSPACE_LIMIT:
        return np.empty(size)
    buffer = getattr(_WORKSPACE, "buffer", None)
    if buffer is None or buffer.size < size:
        buffer = _WORKSPACE.buffer = np.empty(size)
    return buffer[:size]


# Every value is a flat array over the batch; a sequence over time is one preallocated
# array with time on axis 0, and every operation writes into existing memory (numpy's out
# argument, passed positionally), so a step allocates nothing. Each line does the same
# floating-point operations, in the same order, as the float code above: the tests check
# that both give the same bits.


def _forward_batch(phi1, phi2, phi3, theta0, theta_star, steps, scratch=False):
    """The inner loop for a batch: θ_T (n,) and the arrays grad (T, n) and h (T, n).

    ``scratch=True`` writes grad and h into this thread's reused workspace (:func:`_workspace`):
    for callers that do not hand them out, since the next call overwrites them.
    """
    n = phi1.shape[0]
    store = _workspace(2 * steps * n) if scratch else np.empty(2 * steps * n)
    grad, h = store.reshape(2, steps, n)
    theta = np.array(theta0, dtype=float)  # θ_t, updated in place
    h_prev, g = np.zeros(n), np.empty(n)  # h_{-1} = 0
    multiply, add = np.multiply, np.add
    with np.errstate(over="ignore", invalid="ignore"):
        for grad_t, h_t in zip(grad, h):  # rows of grad and h: step t writes its ∇_t and h_t there
            np.subtract(theta, theta_star, grad_t)  # ∇_t = 2(θ_t − θ*)
            add(grad_t, grad_t, grad_t)  # x + x is 2x exactly, as the float code's 2.0 * x
            multiply(phi1, grad_t, h_t)  # h_t = φ1 ∇_t + φ2 h_{t−1}
            multiply(phi2, h_prev, g)
            add(h_t, g, h_t)
            multiply(phi3, h_t, g)  # g_t = φ3 h_t
            add(theta, g, theta)  # θ_{t+1} = θ_t + g_t
            h_prev = h_t
    return theta, grad, h


def _final_batch(phi1, phi2, phi3, theta0, theta_star, steps, check=False):
    """θ_T (n,) of a batch, by the lines of :func:`_forward_batch` without keeping anything.

    ``check=True`` runs the same lines again, stopping at the first step whose θ is not
    finite, to raise the DivergenceError of :func:`_diverged` that names it.
    """
    n = phi1.shape[0]
    theta = np.array(theta0, dtype=float)
    grad_t, h_t, g = np.empty(n), np.zeros(n), np.empty(n)  # h_{-1} = 0
    multiply, add = np.multiply, np.add
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            np.subtract(theta, theta_star, grad_t)
            add(grad_t, grad_t, grad_t)
            multiply(phi2, h_t, g)  # φ2 h_{t−1}, read before h_t overwrites it
            multiply(phi1, grad_t, h_t)
            add(h_t, g, h_t)
            multiply(phi3, h_t, g)
            add(theta, g, theta)
            if check and not np.isfinite(theta).all():
                _raise_diverged(t + 1, steps)
    return theta


def _backward_batch(phi1, phi2, phi3, theta_star, theta_T, grad, h, keep=False):
    """The reverse sweep for a batch: (dL/dφ1, dL/dφ2, dL/dφ3), arrays of shape (n,).

    ``keep=True`` also returns the adjoints of every step (for :func:`backprop_trace` and for
    naming the step where the sweep overflowed): a dict of arrays with time on axis 0,
    ``theta_bar`` (T+1, n) and ``h_bar`` and the running sums ``phi1_bar``.. (T, n), row t
    holding the value after step t was undone.
    """
    steps, n = grad.shape
    # without keep, θ_{t+1}'s and θ_t's adjoints take turns in 2 rows and every step reuses one h_bar row
    theta_bar = np.empty((steps + 1, n) if keep else (2, n))
    h_bar = np.empty((steps, n) if keep else (1, n))
    sums = [np.zeros((steps, n)) for _ in range(3)] if keep else []
    phi1_bar, phi2_bar, phi3_bar = np.zeros(n), np.zeros(n), np.zeros(n)
    h_bar_next, product = np.zeros(n), np.empty(n)
    # row views made once: numpy makes a new view object at every a[t]
    theta_rows, h_bar_rows, grads, hs = list(theta_bar), list(h_bar), list(grad), list(h)
    h_before = [np.zeros(n)] + hs[:-1]  # h_{t−1} for each t, with h_{−1} = 0
    multiply, add = np.multiply, np.add
    with np.errstate(over="ignore", invalid="ignore"):
        # L = (θ_T − θ*)²
        last = theta_rows[steps if keep else steps % 2]
        np.subtract(theta_T, theta_star, last)
        add(last, last, last)  # 2(θ_T − θ*)
        for t in range(steps - 1, -1, -1):
            if keep:
                theta_next, theta_here, h_bar_t = theta_rows[t + 1], theta_rows[t], h_bar_rows[t]
            else:
                theta_next, theta_here, h_bar_t = theta_rows[(t + 1) % 2], theta_rows[t % 2], h_bar_rows[0]
            grad_t, h_t, h_prev = grads[t], hs[t], h_before[t]
            # θ_{t+1} = θ_t + g_t;  g_bar = θ_bar_{t+1}, passed through to θ_t
            g_bar = theta_next
            # g_t = φ3 h_t
            multiply(g_bar, h_t, product)
            add(phi3_bar, product, phi3_bar)
            multiply(phi3, g_bar, product)
            add(h_bar_next, product, h_bar_t)
            # h_t = φ1 ∇_t + φ2 h_{t−1}
            multiply(h_bar_t, grad_t, product)
            add(phi1_bar, product, phi1_bar)
            multiply(phi1, h_bar_t, product)  # grad_bar
            multiply(h_bar_t, h_prev, h_bar_next)
            add(phi2_bar, h_bar_next, phi2_bar)
            multiply(phi2, h_bar_t, h_bar_next)
            # ∇_t = 2(θ_t − θ*)
            add(product, product, product)  # 2 grad_bar, exactly
            add(g_bar, product, theta_here)
            if keep:
                sums[0][t], sums[1][t], sums[2][t] = phi1_bar, phi2_bar, phi3_bar
    phi_bars = (phi1_bar, phi2_bar, phi3_bar)
    if keep:
        return phi_bars, dict(theta_bar=theta_bar, h_bar=h_bar, phi1_bar=sums[0],
                              phi2_bar=sums[1], phi3_bar=sums[2])
    return phi_bars


def _backward_overflowed(phi2, adjoints, steps):
    """Raise DivergenceError naming the first step (counting back from T − 1) after which an
    adjoint of the sweep (``adjoints``, from ``_backward_batch(..., keep=True)``) is not finite."""
    with np.errstate(over="ignore", invalid="ignore"):
        h_bar_next = phi2 * adjoints["h_bar"]  # what step t hands to step t − 1
    finite = np.isfinite(adjoints["theta_bar"][:-1]) & np.isfinite(h_bar_next)
    for name in ("phi1_bar", "phi2_bar", "phi3_bar"):
        finite &= np.isfinite(adjoints[name])
    t = int(np.flatnonzero(~finite.all(axis=1))[-1])
    raise DivergenceError(
        "the meta-gradient overflowed in backpropagation through time: "
        f"the adjoints left the finite floating-point range at step t={t} of "
        f"{steps} (counting back from t={steps - 1}); use fewer steps or a "
        "more stable phi"
    )


# ---------------------------------------------------------------------------
# the public functions
# ---------------------------------------------------------------------------


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
    phi1, phi2, phi3, theta0, theta_star, steps, batch = _check_inputs(phi, theta0, theta_star, steps, keeps=8)
    run = _forward if batch == () else _forward_batch
    theta_T, grad, h = run(phi1, phi2, phi3, theta0, theta_star, steps)
    _diverged(theta_T, steps, theta0, phi3, h)
    theta = _trajectory(theta0, phi3, h)
    with np.errstate(over="ignore", invalid="ignore"):
        g = np.multiply(phi3, h)  # g_t = φ3 h_t, the same multiplication as in the loop
    # time last, in the batch's shape
    theta, grad, h, g = (np.moveaxis(np.asarray(v, dtype=float).reshape((len(v),) + batch), 0, -1)
                         for v in (theta, grad, h, g))
    return Trajectory(theta, grad, h, g)


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
    plain = _plain_floats(phi, theta0, theta_star, steps)
    if plain is not None:  # the fast path: one optimizer, already plain floats
        phi1, phi2, phi3 = plain
        theta_T, grad, h = _forward(phi1, phi2, phi3, theta0, theta_star, steps)
        error = theta_T - theta_star
        loss = error * error  # not **: a float's ** raises OverflowError
        dphi = _backward(phi1, phi2, phi3, theta_star, theta_T, grad, h)
        # One test for all four: a sum with an inf or nan in it is not finite (a sum of finite
        # values that overflows only sends the call down the full path, which finds it fine).
        if isfinite(loss + dphi[0] + dphi[1] + dphi[2]):
            return tuple.__new__(MetaGradient, (loss, np.array(dphi)))  # a NamedTuple without its __new__'s cost
        # Something overflowed: the full path below names the step.
    phi1, phi2, phi3, theta0, theta_star, steps, batch = _check_inputs(phi, theta0, theta_star, steps, keeps=2)
    if batch == ():
        theta_T, grad, h = _forward(phi1, phi2, phi3, theta0, theta_star, steps)
        _diverged(theta_T, steps, theta0, phi3, h)
        loss = _meta_loss(theta_T, theta_star, steps)
        dphi = np.array(_backward(phi1, phi2, phi3, theta_star, theta_T, grad, h))
        if not np.all(np.isfinite(dphi)):
            one = (np.array([v]) for v in (phi1, phi2, phi3, theta0, theta_star))
            _batch_meta_gradient(*one, steps)  # raises, naming the step
            raise DivergenceError("the meta-gradient overflowed in backpropagation through time")
        return MetaGradient(loss, dphi)
    loss, dphi = _batch_meta_gradient(phi1, phi2, phi3, theta0, theta_star, steps)
    return MetaGradient(loss.reshape(batch), dphi.reshape(batch + (3,)))


def _batch_meta_gradient(phi1, phi2, phi3, theta0, theta_star, steps):
    """(loss (n,), grad (n, 3)) of a flat batch; DivergenceError naming the step on overflow."""
    theta_T, grad, h = _forward_batch(phi1, phi2, phi3, theta0, theta_star, steps, scratch=True)
    _diverged(theta_T, steps, theta0, phi3, h)
    loss = _meta_loss(theta_T, theta_star, steps)
    dphi = np.stack(_backward_batch(phi1, phi2, phi3, theta_star, theta_T, grad, h), axis=-1)
    if not np.all(np.isfinite(dphi)):
        _, adjoints = _backward_batch(phi1, phi2, phi3, theta_star, theta_T, grad, h, keep=True)
        _backward_overflowed(phi2, adjoints, steps)
    return loss, dphi


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
    Values are Python floats for one ``phi``, else arrays of the batch shape.
    """
    phi1, phi2, phi3, theta0, theta_star, steps, batch = _check_inputs(
        phi, theta0, theta_star, steps, keeps=16, max_steps=TRACE_MAX_STEPS)
    flat = [np.atleast_1d(np.asarray(v, dtype=float)) for v in (phi1, phi2, phi3, theta0, theta_star)]
    theta_T, grad, h = _forward_batch(*flat, steps)
    phi1, phi2, phi3, theta0, theta_star = flat
    _diverged(theta_T, steps, theta0, phi3, h)
    _meta_loss(theta_T, theta_star, steps)
    dphi, adj = _backward_batch(phi1, phi2, phi3, theta_star, theta_T, grad, h, keep=True)
    if not np.all(np.isfinite(np.stack(dphi))):
        _backward_overflowed(phi2, adj, steps)

    def value(x):
        return float(x[0]) if batch == () else x.reshape(batch)

    rows = []
    zero = np.zeros_like(phi1)
    for t in range(steps - 1, -1, -1):  # the products below are the sweep's own multiplications
        g_bar, h_bar = adj["theta_bar"][t + 1], adj["h_bar"][t]
        rows.append(dict(
            t=t, theta_next_bar=value(g_bar), g_bar=value(g_bar), h_bar=value(h_bar),
            grad_bar=value(phi1 * h_bar), theta_bar=value(adj["theta_bar"][t]),
            dphi1=value(h_bar * grad[t]), dphi2=value(h_bar * (h[t - 1] if t > 0 else zero)),
            dphi3=value(g_bar * h[t]),
        ))
    return rows


def meta_loss(phi=PHI_OLD, *, theta0=THETA0, theta_star=THETA_STAR, steps=STEPS):
    """The meta-loss :math:`L(\\theta_T) = (\\theta_T - \\theta^*)^2` alone (the forward pass only).

    Nothing of the inner loop is kept but its current θ and h, so memory does not grow with T
    (a batch of n phi holds a few arrays of n values); θ_T has the same bits as in :func:`unroll`.
    """
    phi1, phi2, phi3, theta0, theta_star, steps, batch = _check_inputs(phi, theta0, theta_star, steps)
    if batch == ():
        theta_T = _final(phi1, phi2, phi3, theta0, theta_star, steps)
        if not isfinite(theta_T):
            _final_checked(phi1, phi2, phi3, theta0, theta_star, steps)
        return _meta_loss(theta_T, theta_star, steps)
    theta_T = _final_batch(phi1, phi2, phi3, theta0, theta_star, steps)
    if not np.isfinite(theta_T).all():
        _final_batch(phi1, phi2, phi3, theta0, theta_star, steps, check=True)
    return _meta_loss(theta_T, theta_star, steps).reshape(batch)


def finite_difference(phi=PHI_OLD, *, theta0=THETA0, theta_star=THETA_STAR, steps=STEPS, eps=1e-6):
    """Central finite differences of the meta-loss, :math:`(L(\\phi + \\epsilon e_i) - L(\\phi - \\epsilon e_i)) / 2\\epsilon`.

    A check on :func:`meta_gradient`, not a replacement: it costs six forward
    passes and carries a truncation error of order :math:`\\epsilon^2` plus a
    rounding error of order :math:`10^{-16} L / \\epsilon`. Shapes as for :func:`meta_gradient`.
    """
    phi1, phi2, phi3, *_, batch = _check_inputs(phi, theta0, theta_star, steps)  # errors as meta_gradient
    phi = np.stack([phi1, phi2, phi3], axis=-1).reshape(batch + (3,))
    eps = validate.difference_step("eps", eps, phi)  # refuses a step below its precision floor
    columns = []
    for i in range(3):
        e = np.zeros(3)
        e[i] = eps
        plus = meta_loss(phi + e, theta0=theta0, theta_star=theta_star, steps=steps)
        minus = meta_loss(phi - e, theta0=theta0, theta_star=theta_star, steps=steps)
        columns.append((np.asarray(plus) - np.asarray(minus)) / (2 * eps))
    return np.stack(columns, axis=-1)
