r"""Long horizons: how the meta-gradient behaves as the number of inner steps T grows.

* the rate :math:`\rho` at which the inner loop's error :math:`\theta_t - \theta^*` shrinks
  (:math:`\rho < 1`) or grows (:math:`\rho > 1`) per step is chapter 5's
  :func:`metaopt.dynamics.spectral_radius`;
* :func:`meta_gradient_norms` -- :math:`\|\nabla_\phi L(\theta_T)\|` for many horizons T at once;
* :func:`truncated_meta_gradient` -- truncated backpropagation through time, the
  sweep stopped after the last k steps;
* :func:`closed_form_size` and :func:`bptt_tape` -- what the sympy closed form and
  reverse mode cost as T grows, counted deterministically (no timings);
* :func:`es_gradient`, :func:`es_meta_gradient` -- the antithetic evolution-strategies
  estimate of a gradient from loss values alone;
* :func:`smoothed_meta_loss`, :func:`smoothed_meta_gradient` -- the Gaussian-smoothed
  meta-loss :math:`L_\sigma(\phi) = \mathbb{E}_{\epsilon \sim N(0, I)} L(\phi + \sigma\epsilon)`
  that ES actually estimates the gradient of, computed exactly by Gauss-Hermite
  quadrature (the meta-loss is a polynomial in :math:`\phi`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import sympy as sp

from . import core, sweep, symbolic, validate
from .core import meta_gradient, meta_loss
from .document import PHI_OLD, STEPS, THETA0, THETA_STAR
from .sweep import MetaGradient

__all__ = [
    "meta_gradient_norms",
    "truncated_meta_gradient",
    "ClosedFormSize",
    "closed_form_size",
    "bptt_tape",
    "TAPE_MAX_STEPS",
    "MAX_ORDER",
    "ESEstimate",
    "es_gradient",
    "es_meta_gradient",
    "smoothed_meta_loss",
    "smoothed_meta_gradient",
]


def meta_gradient_norms(phi, *, horizons, theta0=THETA0, theta_star=THETA_STAR):
    """:math:`\\|\\nabla_\\phi L(\\theta_T)\\|` (Euclidean norm) for every T in ``horizons``.

    Each entry is one reverse-mode meta-gradient (:func:`metaopt.meta_gradient`).
    Returns an array of shape ``(len(horizons),) + batch``. A horizon whose
    meta-gradient overflows raises :class:`~metaopt.DivergenceError` naming the step.
    """
    if isinstance(horizons, (str, bytes)) or horizons is None or np.ndim(horizons) != 1:
        raise TypeError(f"horizons must be a sequence of integer horizons T, got {horizons!r}")
    horizons = [validate.count("horizons", T) for T in list(horizons)]
    validate.work(core.MAX_STEPS, "one meta-gradient per horizon, about 0.4 us a step",
                  **{"the sum of horizons": sum(horizons)})
    phi = validate.phi(phi)
    return np.array([
        np.linalg.norm(meta_gradient(phi, theta0=theta0, theta_star=theta_star, steps=T).grad, axis=-1)
        for T in horizons
    ])


def truncated_meta_gradient(
    phi=PHI_OLD, *, truncation, theta0=THETA0, theta_star=THETA_STAR, steps=STEPS
) -> MetaGradient:
    """Truncated backpropagation through time: the meta-gradient of :math:`L(\\theta_T)` through the last k steps only.

    The backward sweep stops after ``truncation`` = k steps: :math:`\\theta_{T-k}` and
    :math:`h_{T-k-1}` are treated as constants, as if the inner loop had started
    there. k = T gives the full meta-gradient; smaller k costs less memory (only
    k steps are kept) and is biased. Returns a :class:`~metaopt.MetaGradient` like
    :func:`metaopt.meta_gradient`; it is the general sweep of :mod:`metaopt.sweep`
    with ``truncation=k`` (which must be 1..T, so T >= 1).
    """
    truncation = validate.count("truncation", truncation, minimum=1)  # required here: None is not "all steps"
    return sweep.meta_gradient(phi, theta0=theta0, theta_star=theta_star, steps=steps, truncation=truncation)


# ---------------------------------------------------------------------------
# the cost of the closed form against reverse mode, counted
# ---------------------------------------------------------------------------


class ClosedFormSize(NamedTuple):
    """The size of the sympy closed form for one horizon T (see :func:`closed_form_size`)."""

    steps: int
    degree: int
    loss_terms: int
    gradient_terms: int
    gradient_operations: int


def closed_form_size(*, steps, theta0=THETA0, theta_star=THETA_STAR) -> ClosedFormSize:
    """How big the expanded closed form of the meta-loss and its gradient is, for T = ``steps``.

    ``degree`` is the total degree of :math:`L(\\theta_T)` as a polynomial in phi,
    ``loss_terms`` and ``gradient_terms`` count the monomials of :math:`L` and of its
    three partial derivatives together, and ``gradient_operations`` is
    ``sympy.count_ops`` of the three expanded derivatives: the arithmetic operations
    needed to evaluate them as written.
    """
    steps = validate.count("steps", steps)
    L, dL = symbolic.meta_gradient(theta0=theta0, theta_star=theta_star, steps=steps)
    poly = sp.Poly(L, *symbolic.PHI)
    # as_dict(), not terms(): sympy lists a zero polynomial as one term (the constant 0); it has none
    terms = sum(len(sp.Poly(d, *symbolic.PHI).as_dict()) for d in dL)
    operations = sum(int(sp.count_ops(d)) for d in dL)
    return ClosedFormSize(steps, int(poly.total_degree()), len(poly.as_dict()), terms, operations)


#: The longest horizon :func:`bptt_tape` writes out (about 10 s and 200,000 expressions).
TAPE_MAX_STEPS = 10_000


def bptt_tape(*, steps):
    """Reverse mode written out as a straight-line program (a tape) for T = ``steps``.

    Returns a list of ``(name, expression)`` assignments in sympy: the forward
    pass, then the backward sweep of :func:`metaopt.meta_gradient`, each
    intermediate a fresh symbol. Evaluated in order with numbers for
    ``phi1, phi2, phi3, theta_0, theta_star``, the last three assignments are
    :math:`\\partial L/\\partial\\phi_{1,2,3}`. ``sum(sp.count_ops(e) for _, e in tape)``
    is the number of arithmetic operations reverse mode performs.
    """
    steps = validate.count("steps", steps, maximum=TAPE_MAX_STEPS,
                           why="the tape holds about 20 sympy expressions per step (about 1 s per 1000 steps)")
    p1, p2, p3 = symbolic.PHI
    t0, ts = sp.symbols("theta_0 theta_star")
    tape = []

    def put(name, expr):
        symbol = sp.Symbol(name)
        tape.append((symbol, expr))
        return symbol

    theta, grad, h = [t0], [], []
    h_prev = sp.Integer(0)  # h_{-1} = 0; sympy drops the terms it multiplies
    for t in range(steps):
        grad.append(put(f"nabla_{t}", 2 * (theta[t] - ts)))  # ∇_t = 2(θ_t − θ*)
        h.append(put(f"h_{t}", p1 * grad[t] + p2 * h_prev))  # h_t = φ1 ∇_t + φ2 h_{t−1}
        g = put(f"g_{t}", p3 * h[t])  # g_t = φ3 h_t
        theta.append(put(f"theta_{t + 1}", theta[t] + g))  # θ_{t+1} = θ_t + g_t
        h_prev = h[t]
    error = put("e_T", theta[steps] - ts)
    put("L", error**2)
    theta_bar = put(f"thetabar_{steps}", 2 * error)  # θ̄_T
    bars = [sp.Integer(0)] * 3  # running sums of dL/dφ1, dL/dφ2, dL/dφ3
    h_bar_next = sp.Integer(0)
    for t in reversed(range(steps)):
        # ḡ_t = θ̄_{t+1}: no operation, the same value is reused
        bars[2] = put(f"phi3bar_{t}", bars[2] + theta_bar * h[t])
        h_bar = put(f"hbar_{t}", p3 * theta_bar + p2 * h_bar_next)
        bars[0] = put(f"phi1bar_{t}", bars[0] + h_bar * grad[t])
        if t > 0:  # at t = 0, h_{-1} = 0 adds nothing to dL/dφ2, and θ̄_0 is not needed
            bars[1] = put(f"phi2bar_{t}", bars[1] + h_bar * h[t - 1])
            theta_bar = put(f"thetabar_{t}", theta_bar + 2 * p1 * h_bar)  # θ̄_t = θ̄_{t+1} + 2 φ1 h̄_t
        h_bar_next = h_bar
    for i, bar in enumerate(bars, start=1):
        tape.append((sp.Symbol(f"dL_dphi{i}"), bar))
    return tape


# ---------------------------------------------------------------------------
# evolution strategies and the Gaussian-smoothed meta-loss
# ---------------------------------------------------------------------------


class ESEstimate(NamedTuple):
    """An antithetic ES gradient estimate and its standard error.

    Attributes
    ----------
    grad : ndarray, shape (3,)
        The estimate :math:`\\hat g`.
    stderr : ndarray, shape (3,)
        The standard error of each component, from the spread of the ``pairs`` samples.
    """

    grad: np.ndarray
    stderr: np.ndarray


@validate.finite_results
def es_gradient(func, *, phi, sigma, pairs, seed) -> ESEstimate:
    """Antithetic evolution-strategies estimate of the gradient of ``func`` at ``phi`` (3,).

    .. math::
        \\hat g = \\frac{1}{N} \\sum_{i=1}^{N} \\frac{f(\\phi + \\sigma\\epsilon_i) - f(\\phi - \\sigma\\epsilon_i)}{2\\sigma}\\, \\epsilon_i,
        \\qquad \\epsilon_i \\sim N(0, I_3),

    with :math:`N` = ``pairs`` directions drawn from ``numpy.random.default_rng(seed)``
    (``standard_normal((N, 3))``). ``func`` maps an array of points (N, 3) to
    their losses (N,). Only loss values are used, no derivatives.
    :math:`\\hat g` is an unbiased estimate of the gradient of the smoothed loss
    :math:`f_\\sigma(\\phi) = \\mathbb{E}\\, f(\\phi + \\sigma\\epsilon)`, not of :math:`f` itself.
    """
    func = validate.callable_("func", func)
    phi = validate.one_phi(phi)
    sigma = validate.difference_step("sigma", sigma, phi)  # refuses a scale below its precision floor
    pairs = validate.count("pairs", pairs, minimum=2)
    validate.memory(12 * pairs, f"about 12 values per pair (pairs={pairs})")
    seed = validate.seed("seed", seed)
    eps = np.random.default_rng(seed).standard_normal((pairs, 3))
    plus = np.asarray(func(phi + sigma * eps), dtype=float)
    minus = np.asarray(func(phi - sigma * eps), dtype=float)
    samples = ((plus - minus) / (2.0 * sigma))[:, None] * eps
    return ESEstimate(samples.mean(axis=0), samples.std(axis=0, ddof=1) / np.sqrt(pairs))


def es_meta_gradient(phi=PHI_OLD, *, sigma=0.01, pairs=1000, seed=0, theta0=THETA0, theta_star=THETA_STAR, steps=STEPS):
    """:func:`es_gradient` of the book's meta-loss :math:`L(\\theta_T)` (inner loops only, no backward pass)."""
    validate.real_array("theta0", theta0), validate.real_array("theta_star", theta_star)
    validate.count("steps", steps)
    return es_gradient(
        lambda points: meta_loss(points, theta0=theta0, theta_star=theta_star, steps=steps),
        phi=phi, sigma=sigma, pairs=pairs, seed=seed,
    )


#: The most Gauss-Hermite nodes per axis the smoothed meta-loss uses: 64**3 = 262,144 inner loops.
MAX_ORDER = 64


def _gauss_hermite(steps, order):
    """Nodes (K, 3) and weights (K,) of the product Gauss-Hermite rule for E over N(0, I_3)."""
    if order is None:
        n = steps + 1
        if n > MAX_ORDER:
            raise ValueError(
                f"order must be given for steps > {MAX_ORDER - 1}: the exact rule needs order = steps + 1 = {n} "
                f"nodes per axis, {n}**3 inner loops, and at most {MAX_ORDER} are used; pass order=... "
                f"(<= {MAX_ORDER}: exact for degrees up to 2 order - 1 in each phi_i)")
    else:
        n = validate.count("order", order, minimum=1, maximum=MAX_ORDER,
                           why=f"the rule runs order**3 inner loops ({MAX_ORDER}**3 = {MAX_ORDER**3})")
    x, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / np.sqrt(2.0 * np.pi)
    grid = np.stack(np.meshgrid(x, x, x, indexing="ij"), axis=-1).reshape(-1, 3)
    weight = (w[:, None, None] * w[None, :, None] * w[None, None, :]).ravel()
    return grid, weight


def smoothed_meta_loss(phi=PHI_OLD, *, sigma=0.1, theta0=THETA0, theta_star=THETA_STAR, steps=STEPS, order=None):
    """The Gaussian-smoothed meta-loss :math:`L_\\sigma(\\phi) = \\mathbb{E}\\, L(\\theta_T)(\\phi + \\sigma\\epsilon)`, :math:`\\epsilon \\sim N(0, I_3)`.

    Computed by the product Gauss-Hermite rule with ``order`` = T + 1 nodes per
    axis (the default), which is exact for the meta-loss: a polynomial of degree
    at most 2T in each :math:`\\phi_i`. ``phi`` (..., 3) may be a batch. At most
    :data:`MAX_ORDER` nodes per axis are used; past T = 63 ``order`` must be given.
    """
    phi = validate.phi(phi)
    sigma = validate.positive("sigma", sigma)
    steps = validate.count("steps", steps)
    nodes, weights = _gauss_hermite(steps, order)
    points = phi[..., None, :] + sigma * nodes
    return np.tensordot(meta_loss(points, theta0=theta0, theta_star=theta_star, steps=steps), weights, axes=(-1, 0))


def smoothed_meta_gradient(phi=PHI_OLD, *, sigma=0.1, theta0=THETA0, theta_star=THETA_STAR, steps=STEPS, order=None):
    """:math:`\\nabla_\\phi L_\\sigma(\\phi) = \\mathbb{E}\\, \\nabla_\\phi L(\\phi + \\sigma\\epsilon)`, exactly, by the same quadrature.

    The expectation of the reverse-mode meta-gradient over the Gaussian: what
    the ES estimate converges to as the number of pairs grows.
    """
    phi = validate.phi(phi)
    sigma = validate.positive("sigma", sigma)
    steps = validate.count("steps", steps)
    nodes, weights = _gauss_hermite(steps, order)
    points = phi[..., None, :] + sigma * nodes
    _, grads = meta_gradient(points, theta0=theta0, theta_star=theta_star, steps=steps)
    return np.einsum("...kj,k->...j", grads, weights)
