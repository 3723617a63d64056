r"""The worked example in closed form, with sympy.

The inner loop is unrolled symbolically: every :math:`\theta_t` becomes a
polynomial in the optimizer parameters :math:`\phi_1, \phi_2, \phi_3`, and the
meta-loss :math:`L(\theta_T) = (\theta_T - \theta^*)^2` is differentiated
exactly. Rational inputs give exact rational results.

Numbers are taken exactly: integers, :class:`fractions.Fraction` and sympy
rationals as they are; a Python float by its shortest decimal form
(``0.1`` means 1/10, the number a reader typed), so the document's
:math:`\phi_{old} = (0.1, 0.5, -1.0)` gives exact fractions. ``theta0`` and
``theta_star`` may also be sympy symbols, for fully symbolic results.

The polynomials are built with sympy's sparse polynomial arithmetic
(:func:`sympy.polys.rings.ring`: a polynomial is a dict from exponents to
exact coefficients) rather than ``expand`` on a growing expression tree, and
turned into expressions once, at the end. This keeps long horizons tractable:
the exact meta-gradient for T = 40 takes well under a second (the book's
appendix "Performance" has the measurements).
"""

from __future__ import annotations

import functools
import numbers
from fractions import Fraction
from typing import NamedTuple

import sympy as sp
from sympy.core.add import _addsort
from sympy.core.mul import _mulsort
from sympy.polys.constructor import construct_domain
from sympy.polys.rings import PolyElement, ring
from numpy import bool_ as np_bool

from . import validate
from .document import PHI_OLD, STEPS, THETA0, THETA_STAR
from .sweep import MetaGradient, Trajectory

__all__ = [
    "phi1", "phi2", "phi3", "PHI", "eta", "StepSizes", "Interval",
    "exact", "exact_phi", "unroll", "meta_gradient", "loss_along", "step_sizes", "helpful_intervals",
    "MAX_STEPS",
]

#: The optimizer parameters as sympy symbols.
phi1, phi2, phi3 = PHI = sp.symbols("phi1 phi2 phi3", real=True)
#: The meta step size, as a symbol.
eta = sp.Symbol("eta", positive=True)


def exact(value, *, name: str = "value") -> sp.Expr:
    """``value`` as an exact sympy number (or symbol); floats by their shortest decimal form."""
    validate.instance("name", name, str)
    if isinstance(value, sp.Basic):
        if not isinstance(value, sp.Expr):  # sympy's true, a relation, a set: not a number
            raise TypeError(f"{name} must be a real number or a sympy expression, got {value!r}")
        if value.is_number and value.is_real is False and value.is_finite is not False:
            raise TypeError(f"{name} must be real, got the complex number {value}")
        if value.is_number and not value.is_finite:
            raise ValueError(f"{name} must be finite, got {value}")
        if isinstance(value, sp.Float):  # a decimal, taken as the fraction it shows
            return sp.Rational(str(value))
        return value
    if isinstance(value, (bool, np_bool)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if isinstance(value, numbers.Integral):
        return sp.Integer(int(value))
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    if isinstance(value, numbers.Real):
        value = float(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{name} must be finite, got {value!r}")
        return sp.Rational(repr(value))
    raise TypeError(f"{name} must be a real number or a sympy expression, got {value!r}")


def exact_phi(phi, *, name: str = "phi") -> list:
    """One optimizer ``phi`` as 3 exact sympy numbers (each entry as :func:`exact` takes it)."""
    validate.instance("name", name, str)
    if isinstance(phi, (str, bytes)) or phi is None:
        raise TypeError(f"{name} must be a sequence of 3 numbers, got {phi!r}")
    try:
        values = list(phi)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of 3 numbers, got {phi!r}") from None
    if len(values) != 3:
        raise ValueError(f"{name} must hold 3 parameters (phi1, phi2, phi3), got {len(values)}: {phi!r}")
    return [exact(v, name=f"{name}[{i}]") for i, v in enumerate(values)]


#: The longest horizon the exact closed form is built for: its size grows like T^4 (about 1 s at
#: T = 50, 15 s at T = 100 on 2 cores; T = 200 would take minutes).
MAX_STEPS = 100
_TOO_LONG = ("the exact closed form grows like T^4 (about 15 s at T = 100); "
             "for longer horizons use the numeric metaopt.meta_gradient")


def _unroll_polys(steps, theta0, theta_star):
    """θ_0..θ_T, ∇, h, g as sparse polynomials in (phi1, phi2, phi3), and θ* likewise."""
    steps = validate.count("steps", steps, maximum=MAX_STEPS, why=_TOO_LONG)
    theta0 = exact(theta0, name="theta0")
    theta_star = exact(theta_star, name="theta_star")
    # exact coefficients: integers, rationals, or polynomials in any symbols theta0, theta_star hold
    domain, (theta0, theta_star) = construct_domain([theta0, theta_star])
    _, f1, f2, f3 = ring(PHI, domain)  # the generators φ1, φ2, φ3 as polynomials
    theta = [f1.ring.ground_new(theta0)]
    star = f1.ring.ground_new(theta_star)
    h_prev = f1.ring.zero  # h_{-1} = 0
    grads, hs, gs = [], [], []
    for t in range(steps):
        grad = 2 * (theta[t] - star)  # ∇_t = 2(θ_t − θ*)
        h = f1 * grad + f2 * h_prev  # h_t = φ1 ∇_t + φ2 h_{t−1}
        g = f3 * h  # g_t = φ3 h_t
        theta.append(theta[t] + g)  # θ_{t+1} = θ_t + g_t
        grads.append(grad)
        hs.append(h)
        gs.append(g)
        h_prev = h
    return theta, grads, hs, gs, star


@functools.lru_cache(maxsize=1 << 16)
def _monomial(exponents) -> tuple:
    """The factors of φ1^i φ2^j φ3^k, in sympy's order for the arguments of a product."""
    powers = [x if e == 1 else sp.Pow(x, e) for x, e in zip(PHI, exponents) if e]
    _mulsort(powers)
    return tuple(powers)


def _as_expr(poly: PolyElement) -> sp.Expr:
    """``poly.as_expr()``, the same expression, built about ten times faster for exact numbers.

    sympy's own conversion re-derives each term's assumptions (``phi1`` is real, ...)
    through ``Mul`` and ``Add``; with integer or rational coefficients the canonical
    form is known in advance: each term is (coefficient, powers of φ1, φ2, φ3) in sympy's
    sort order, and the sum is the terms in sympy's sort order. The tests check that the
    result is identical to ``poly.as_expr()``.
    """
    domain = poly.ring.domain
    if not (domain.is_ZZ or domain.is_QQ):
        return poly.as_expr()
    terms = []
    for exponents, coeff in poly.terms():
        coeff = domain.to_sympy(coeff)
        powers = _monomial(exponents)
        factors = powers if coeff == 1 else (coeff,) + powers
        if not factors:
            terms.append(sp.S.One)
        elif len(factors) == 1:
            terms.append(factors[0])
        else:
            terms.append(sp.Mul._from_args(factors, True))
    if not terms:
        return sp.S.Zero
    if len(terms) == 1:
        return terms[0]
    _addsort(terms)
    return sp.Add._from_args(tuple(terms), True)


def unroll(*, theta0=THETA0, theta_star=THETA_STAR, steps=STEPS) -> Trajectory:
    """The inner loop with symbolic phi: a :class:`~metaopt.Trajectory` of sympy expressions.

    ``theta`` holds :math:`\\theta_0, \\dots, \\theta_T`, each an expanded polynomial in
    ``phi1, phi2, phi3``; ``grad``, ``h`` and ``g`` likewise for :math:`t = 0, \\dots, T-1`.
    """
    theta, grads, hs, gs, _ = _unroll_polys(steps, theta0, theta_star)
    as_exprs = lambda polys: tuple(_as_expr(p) for p in polys)  # noqa: E731
    return Trajectory(as_exprs(theta), as_exprs(grads), as_exprs(hs), as_exprs(gs))


def meta_gradient(*, theta0=THETA0, theta_star=THETA_STAR, steps=STEPS) -> MetaGradient:
    """The meta-loss :math:`L(\\phi) = (\\theta_T - \\theta^*)^2` and its three partial derivatives.

    Returns
    -------
    MetaGradient
        ``loss``, the meta-loss as an expanded polynomial in ``phi1, phi2, phi3``, and
        ``grad``, a tuple of 3 sympy expressions,
        :math:`(\\partial L/\\partial\\phi_1, \\partial L/\\partial\\phi_2, \\partial L/\\partial\\phi_3)`.

    Examples
    --------
    >>> L, dL = meta_gradient(theta0=10, theta_star=5, steps=2)
    >>> L.subs({phi1: sp.Rational(1, 10), phi2: sp.Rational(1, 2), phi3: -1})
    729/100
    """
    theta, _, _, _, star = _unroll_polys(steps, theta0, theta_star)
    error = theta[-1] - star
    loss = error**2
    dloss = tuple(_as_expr(loss.diff(x)) for x in loss.ring.gens)
    return MetaGradient(_as_expr(loss), dloss)


def loss_along(phi=PHI_OLD, *, direction, theta0=THETA0, theta_star=THETA_STAR, steps=STEPS) -> sp.Poly:
    """The meta-loss on the ray :math:`\\phi - \\eta\\, d`, as a polynomial in :data:`eta`.

    ``direction`` is :math:`d`, for example a meta-gradient; ``eta`` is the meta step size.
    """
    phi = exact_phi(phi)
    d = exact_phi(direction, name="direction")
    L, _ = meta_gradient(theta0=theta0, theta_star=theta_star, steps=steps)
    ray = {p: p0 - eta * di for p, p0, di in zip(PHI, phi, d)}
    return sp.Poly(L.xreplace(ray), eta)


class StepSizes(NamedTuple):
    """What a meta step size along :math:`-d` does, in this order everywhere in the library.

    Attributes
    ----------
    eta_max
        Every :math:`0 < \\eta < \\eta_{max}` lowers the meta-loss.
    eta_best
        The step size where the meta-loss along the ray is lowest first.
    """

    eta_max: object
    eta_best: object


def step_sizes(phi=PHI_OLD, *, direction, theta0=THETA0, theta_star=THETA_STAR, steps=STEPS) -> StepSizes:
    """Which meta step sizes along :math:`-d` lower the meta-loss, found exactly.

    Returns
    -------
    StepSizes
        ``(eta_max, eta_best)``:

    eta_max : sympy number or ``sympy.oo``
        The meta-loss is lower than at :math:`\\eta = 0` for every :math:`0 < \\eta < \\eta_{max}`;
        ``0`` if no small step lowers it (:math:`-d` is not a descent direction).
    eta_best : sympy number or None
        The first minimum of the meta-loss along the ray: the smallest
        :math:`\\eta > 0` where :math:`dL/d\\eta = 0`, where an exact line search
        started at :math:`\\eta = 0` stops; None if :math:`-d` is not a descent direction.

    Both are exact real algebraic numbers (roots of polynomials with rational
    coefficients); use ``float(...)`` or ``.evalf()`` for decimals.
    """
    p = loss_along(phi, direction=direction, theta0=theta0, theta_star=theta_star, steps=steps)
    q = sp.Poly(sp.cancel((p - p.eval(0)).as_expr() / eta), eta)  # q(η) = (L(η) − L(0)) / η
    if q.is_zero:
        return StepSizes(sp.oo, None)
    # q(0) = dL/dη at η = 0; if it is 0, the first non-zero coefficient decides
    lowest = next(c for c in reversed(q.all_coeffs()) if c != 0)
    if lowest > 0:  # the meta-loss rises for small η: not a descent direction
        return StepSizes(sp.Integer(0), None)
    positive = [r for r in sp.real_roots(q) if r > 0]
    eta_max = min(positive) if positive else sp.oo
    eta_best = min(r for r in sp.real_roots(p.diff(eta)) if r > 0)  # exists: L falls, then is bounded below
    return StepSizes(eta_max, eta_best)


class Interval(NamedTuple):
    """An open interval ``(low, high)`` of meta step sizes; ``high`` may be ``sympy.oo``."""

    low: object
    high: object


def _rational_between(low, high) -> sp.Rational:
    """A rational strictly between two real algebraic numbers low < high: the exact value of the
    midpoint of their decimal approximations, with more digits until it lies between them."""
    for digits in (60, 300, 1500):
        inside = sp.Rational((low.evalf(digits) + high.evalf(digits)) / 2)  # the binary value, exactly
        try:
            if bool(low < inside) and bool(inside < high):
                return inside
        except TypeError:  # sympy could not decide the comparison at this precision
            pass
    raise ValueError("phi and direction give a meta-loss polynomial whose roots sympy cannot separate "
                     f"(they agree to {digits} digits); use a direction of moderate size")


def helpful_intervals(phi=PHI_OLD, *, direction, theta0=THETA0, theta_star=THETA_STAR, steps=STEPS) -> list:
    """Every interval of :math:`\\eta > 0` where the step :math:`\\phi - \\eta d` lowers the meta-loss, exactly.

    The meta-loss along the ray is a polynomial :math:`p(\\eta)` (:func:`loss_along`); the
    step helps where :math:`p(\\eta) < p(0)`. The ends of the intervals are the positive
    real roots of :math:`p(\\eta) - p(0)`, exact real algebraic numbers; between two
    consecutive roots the sign is read off at a rational point. The first interval
    starts at 0 exactly when :math:`-d` is a descent direction (then it is
    ``(0, eta_max)`` of :func:`step_sizes`); an interval further out is a large step that
    happens to land lower, not a descent direction.

    Returns
    -------
    list of Interval
        In increasing order; empty if no step size along :math:`-d` lowers the meta-loss.

    >>> [tuple(round(float(x), 6) for x in i) for i in helpful_intervals(direction=(15, 8, -10))]
    [(0.111835, 0.128165)]
    """
    p = loss_along(phi, direction=direction, theta0=theta0, theta_star=theta_star, steps=steps)
    q = sp.Poly((p - p.eval(0)).as_expr(), eta)  # q(η) = L(η) − L(0)
    if q.is_zero:
        return []
    # as CRootOf (isolating intervals, never radicals): signs and order are decided exactly
    # (real_roots lists them in increasing order, with multiplicity: keep each once, in order)
    ends = [sp.Integer(0)] + list(dict.fromkeys(r for r in sp.real_roots(q, radicals=False) if r > 0))
    intervals = []
    for low, high in zip(ends, ends[1:] + [sp.oo]):
        # a rational point strictly inside (evaluating q at an algebraic one, such as low + 1,
        # takes sympy's expression domain: about 0.5 s a point instead of microseconds)
        inside = _rational_between(low, low + 2 if high is sp.oo else high)
        if q.eval(inside) < 0:
            intervals.append(Interval(low, high))
    return intervals
