"""metaopt.symbolic: exact closed forms with sympy, checked against hand-typed
formulas, the independent Fraction loop and the numeric library."""

from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

import metaopt
import reference as ref
from metaopt import symbolic
from metaopt.symbolic import phi1, phi2, phi3

DOC_AT = {phi1: sp.Rational(1, 10), phi2: sp.Rational(1, 2), phi3: sp.Integer(-1)}
# The true meta-gradient at the document's values, derived by hand in test_document.py.
TRUE_GRAD = (sp.Rational(-567, 5), sp.Rational(-27, 5), sp.Rational(567, 50))


def test_symbols():
    assert symbolic.PHI == (phi1, phi2, phi3)
    assert [str(s) for s in symbolic.PHI] == ["phi1", "phi2", "phi3"]
    assert isinstance(symbolic.eta, sp.Symbol)


@pytest.mark.parametrize(
    "value, expected",
    [
        (0.1, sp.Rational(1, 10)),
        (0.5, sp.Rational(1, 2)),
        (-1.0, sp.Integer(-1)),
        (1.1, sp.Rational(11, 10)),
        (0.001, sp.Rational(1, 1000)),
        (3, sp.Integer(3)),
        (np.int64(7), sp.Integer(7)),
        (np.float64(0.1), sp.Rational(1, 10)),
        (Fraction(2, 3), sp.Rational(2, 3)),
        (sp.Rational(5, 7), sp.Rational(5, 7)),
    ],
)
def test_exact(value, expected):
    got = symbolic.exact(value)
    assert got == expected
    assert isinstance(got, sp.Rational)


def test_exact_keeps_symbols():
    x = sp.Symbol("x")
    assert symbolic.exact(x) is x


@pytest.mark.parametrize(
    "value, exc",
    [
        (float("nan"), ValueError),
        (float("inf"), ValueError),
        (sp.oo, ValueError),
        (True, TypeError),
        ("0.1", TypeError),
        (None, TypeError),
        (1j, TypeError),
    ],
)
def test_exact_rejects(value, exc):
    with pytest.raises(exc, match="theta0"):
        symbolic.exact(value, name="theta0")


def test_meta_gradient_at_document_values_is_exact():
    L, dL = symbolic.meta_gradient(steps=2, theta0=10.0, theta_star=5.0)
    assert L.subs(DOC_AT) == sp.Rational(729, 100)
    got = tuple(d.subs(DOC_AT) for d in dL)
    assert got == TRUE_GRAD
    for x in (L.subs(DOC_AT),) + got:
        assert isinstance(x, sp.Rational), type(x)
    # defaults are the document's
    L2, dL2 = symbolic.meta_gradient()
    assert sp.expand(L2 - L) == 0 and all(sp.expand(a - b) == 0 for a, b in zip(dL, dL2))


def test_meta_gradient_is_the_derivative_of_L():
    """dL really is (dL/dphi1, dL/dphi2, dL/dphi3) of the returned L (sympy's own diff as referee)."""
    for steps in (1, 2, 3):
        L, dL = symbolic.meta_gradient(steps=steps, theta0=3, theta_star=-2)
        for p, d in zip(symbolic.PHI, dL):
            assert sp.expand(sp.diff(L, p) - d) == 0


def test_two_step_theta_factorizes_symbolically():
    t0, ts = sp.symbols("theta_0 theta_star", real=True)
    traj = symbolic.unroll(steps=2, theta0=t0, theta_star=ts)
    # hand-typed (see test_document): theta_2 - theta* = (theta0 - theta*) [(1 + 2 phi1 phi3)^2 + 2 phi1 phi2 phi3]
    by_hand = (t0 - ts) * ((1 + 2 * phi1 * phi3) ** 2 + 2 * phi1 * phi2 * phi3)
    assert sp.simplify(traj.theta[2] - ts - by_hand) == 0
    # the intermediate values, by hand
    assert sp.simplify(traj.grad[0] - 2 * (t0 - ts)) == 0
    assert sp.simplify(traj.h[0] - 2 * phi1 * (t0 - ts)) == 0
    assert sp.simplify(traj.theta[1] - (t0 + 2 * phi1 * phi3 * (t0 - ts))) == 0
    assert sp.simplify(traj.h[1] - (phi1 * traj.grad[1] + phi2 * traj.h[0])) == 0
    assert sp.simplify(traj.g[1] - phi3 * traj.h[1]) == 0
    # and the meta-loss with symbolic thetas is its square
    L, _ = symbolic.meta_gradient(steps=2, theta0=t0, theta_star=ts)
    assert sp.simplify(L - by_hand**2) == 0


def test_symbolic_unroll_at_document_values():
    traj = symbolic.unroll(steps=2, theta0=10, theta_star=5)
    assert [sp.sympify(x).subs(DOC_AT) for x in traj.theta] == [10, 9, sp.Rational(77, 10)]
    assert [sp.sympify(x).subs(DOC_AT) for x in traj.grad] == [10, 8]
    assert [sp.sympify(x).subs(DOC_AT) for x in traj.h] == [1, sp.Rational(13, 10)]
    assert [sp.sympify(x).subs(DOC_AT) for x in traj.g] == [-1, sp.Rational(-13, 10)]


def test_symbolic_zero_steps():
    traj = symbolic.unroll(steps=0, theta0=10, theta_star=5)
    assert traj.theta == (10,) and traj.grad == traj.h == traj.g == ()
    L, dL = symbolic.meta_gradient(steps=0, theta0=10, theta_star=5)
    assert L == 25 and dL == (0, 0, 0)


@pytest.mark.parametrize("steps, exc", [(-1, ValueError), (2.0, TypeError), (True, TypeError), ("2", TypeError)])
def test_symbolic_bad_steps(steps, exc):
    with pytest.raises(exc, match="steps"):
        symbolic.unroll(steps=steps)
    with pytest.raises(exc, match="steps"):
        symbolic.meta_gradient(steps=steps)


def test_symbolic_bad_thetas():
    with pytest.raises(ValueError, match="theta0"):
        symbolic.unroll(steps=2, theta0=float("nan"), theta_star=5)
    with pytest.raises(ValueError, match="theta_star"):
        symbolic.meta_gradient(steps=2, theta0=10, theta_star=float("inf"))


# ---------------------------------------------------------------------------
# loss along a ray, step sizes
# ---------------------------------------------------------------------------


def test_loss_along_at_zero_is_the_meta_loss():
    p = symbolic.loss_along(direction=TRUE_GRAD)
    assert isinstance(p, sp.Poly)
    assert p.eval(0) == sp.Rational(729, 100)
    # theta_2 - theta* is a polynomial of degree 4 in phi, so of degree 4 in eta on a ray; L has degree 8
    assert p.degree() == 8


@pytest.mark.parametrize("direction", [TRUE_GRAD, (15, 8, -10), ("1/3", "-2/7", "5/11")], ids=["true", "assumed", "odd"])
def test_loss_along_matches_reference_loop(direction):
    d = [Fraction(str(v)) for v in direction]
    p = symbolic.loss_along(direction=[sp.Rational(str(v)) for v in direction])
    phi = [Fraction("0.1"), Fraction("0.5"), Fraction(-1)]
    for eta in (Fraction(0), Fraction(1, 1000), Fraction(1, 100), Fraction(-3, 7), Fraction(2)):
        expected = ref.loss([pi - eta * di for pi, di in zip(phi, d)], 10, 5, 2)
        got = p.eval(sp.Rational(eta.numerator, eta.denominator))
        assert got == sp.Rational(expected.numerator, expected.denominator)


def test_loss_along_bad_direction():
    with pytest.raises(ValueError, match="direction"):
        symbolic.loss_along(direction=(1, 2))
    with pytest.raises(ValueError, match="phi"):
        symbolic.loss_along((0.1, 0.5), direction=TRUE_GRAD)


def test_loss_along_at_another_phi():
    """phi is the subject: the ray starts there (the reference loop at phi = (1/5, 1/4, -1/2))."""
    phi = ("0.2", "0.25", "-0.5")
    d = (Fraction(1, 3), Fraction(-2, 7), Fraction(5, 11))
    p = symbolic.loss_along([sp.Rational(v) for v in phi], direction=[sp.Rational(v.numerator, v.denominator) for v in d])
    for eta in (Fraction(0), Fraction(1, 100), Fraction(3, 2)):
        expected = ref.loss([Fraction(pi) - eta * di for pi, di in zip(phi, d)], 10, 5, 2)
        assert p.eval(sp.Rational(eta.numerator, eta.denominator)) == sp.Rational(expected.numerator, expected.denominator)


def test_old_positional_calls_raise_type_error():
    """The subject is the only positional argument: the old positional calls now raise TypeError."""
    with pytest.raises(TypeError, match="positional argument"):
        symbolic.meta_gradient(2, 10, 5)  # old (steps, theta0, theta_star)
    with pytest.raises(TypeError, match="positional argument"):
        symbolic.unroll(2, 10, 5)
    with pytest.raises(TypeError, match="required keyword-only argument: 'direction'"):
        symbolic.loss_along(TRUE_GRAD)  # old loss_along(direction): direction is now keyword-only
    with pytest.raises(TypeError, match="required keyword-only argument: 'direction'"):
        symbolic.step_sizes(TRUE_GRAD)
    with pytest.raises(TypeError, match="positional argument"):
        symbolic.exact(0.1, "theta0")  # name is keyword-only


def test_exact_phi():
    assert symbolic.exact_phi((0.1, 0.5, -1.0)) == [sp.Rational(1, 10), sp.Rational(1, 2), sp.Integer(-1)]
    with pytest.raises(ValueError, match="direction"):
        symbolic.exact_phi((1, 2), name="direction")
    with pytest.raises(TypeError, match="phi"):
        symbolic.exact_phi("abc")
    with pytest.raises(TypeError, match="phi"):
        symbolic.exact_phi(None)
    with pytest.raises(ValueError, match=r"phi\[1\]"):
        symbolic.exact_phi((0.1, float("nan"), -1.0))


def _numeric_loss_at(eta, direction=TRUE_GRAD):
    phi = np.array(metaopt.PHI_OLD) - float(eta) * np.array([float(d) for d in direction])
    return metaopt.meta_loss(phi, theta0=10.0, theta_star=5.0, steps=2)


def test_step_sizes_true_gradient():
    sizes = symbolic.step_sizes(direction=TRUE_GRAD)
    assert isinstance(sizes, symbolic.StepSizes) and sizes._fields == ("eta_max", "eta_best")
    eta_max, eta_best = sizes
    assert (sizes.eta_max, sizes.eta_best) == (eta_max, eta_best)
    eta_max_f, eta_best_f = float(eta_max), float(eta_best)
    L0 = 7.29
    # the numeric library, independently of sympy: just below eta_max the loss is lower,
    # just above it is higher
    assert _numeric_loss_at(0.99 * eta_max_f) < L0
    assert _numeric_loss_at(1.01 * eta_max_f) > L0
    for frac in (0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99):
        assert _numeric_loss_at(frac * eta_max_f) < L0, frac
    # eta_best: inside (0, eta_max), a local minimum along the ray
    assert 0 < eta_best_f < eta_max_f
    here = _numeric_loss_at(eta_best_f)
    assert here <= _numeric_loss_at(eta_best_f - 1e-6)
    assert here <= _numeric_loss_at(eta_best_f + 1e-6)
    assert here < L0
    # the first minimum: the loss decreases all the way from 0 to eta_best
    grid = np.linspace(0, eta_best_f, 50)
    losses = [_numeric_loss_at(e) for e in grid]
    assert all(b < a for a, b in zip(losses, losses[1:]))
    # the document's eta overshoots, ETA_TRAIN is safe
    assert metaopt.ETA_TRAIN < eta_max_f < metaopt.ETA
    # exactness: sympy algebraic numbers, eta_max a root of L(eta) - L(0)
    p = symbolic.loss_along(direction=TRUE_GRAD)
    assert abs(sp.N(p.as_expr().subs(symbolic.eta, eta_max) - sp.Rational(729, 100), 50)) < sp.Float("1e-40")
    assert abs(sp.N(p.diff(symbolic.eta).as_expr().subs(symbolic.eta, eta_best), 50)) < sp.Float("1e-40")


def test_step_sizes_true_gradient_given_as_floats():
    """The document's decimal gradient as floats is read exactly, giving the same answer."""
    assert symbolic.step_sizes(direction=(-113.4, -5.4, 11.34)) == symbolic.step_sizes(direction=TRUE_GRAD)


def test_step_sizes_assumed_gradient_is_not_descent():
    eta_max, eta_best = symbolic.step_sizes(direction=metaopt.ASSUMED_GRADIENT)
    assert eta_max == 0 and eta_best is None
    # numerically: any small step along -assumed raises the loss
    for eta in (1e-6, 1e-4, 1e-2):
        assert _numeric_loss_at(eta, metaopt.ASSUMED_GRADIENT) > 7.29


def test_step_sizes_zero_direction():
    eta_max, eta_best = symbolic.step_sizes(direction=(0, 0, 0))
    assert eta_max == sp.oo and eta_best is None


def test_exact_phi_says_it_wants_a_sequence():
    """A string (three characters), None and a number are not a sequence of 3 numbers: the message
    says so, naming phi (found untested by make mutate: deleting these raises changed only the message)."""
    for bad in ("abc", None, 5.0, b"abc"):
        with pytest.raises(TypeError, match=r"^phi must be a sequence of 3 numbers, got "):
            symbolic.exact_phi(bad)


def test_symbols_carry_their_assumptions():
    """phi1..phi3 are real and eta is positive: the meta-loss is a real number, |eta| is eta."""
    assert all(p.is_real for p in symbolic.PHI) and symbolic.eta.is_positive
    L, dL = symbolic.meta_gradient(steps=2)
    assert sp.im(L) == 0 and all(sp.im(d) == 0 for d in dL)
    assert sp.Abs(symbolic.eta) == symbolic.eta and sp.sqrt(symbolic.eta**2) == symbolic.eta


def _ray_loss(phi, direction, eta):
    """The meta-loss at phi - eta d by the independent Fraction loop of tests/reference.py."""
    point = [Fraction(str(p)) - Fraction(str(eta)) * Fraction(str(d)) for p, d in zip(phi, direction)]
    return ref.loss(point, 10, 5, 2, number=Fraction)


def test_step_sizes_when_the_first_derivative_is_zero_and_the_second_decides():
    """A direction orthogonal to the true gradient: dL/deta = 0 at eta = 0, so the first non-zero
    coefficient of L(eta) - L(0) decides. At the document's phi the curvature along (1, -21, 0)
    is positive: no step lowers the loss. At phi = (-1, -1, 1/2) along (2, 0, 1) it is negative:
    by hand, the loop gives theta_2 - 5 = 5 (16 eta^4 - 4 eta^2 + 1), so L(eta) = 25 (16 eta^4 - 4 eta^2 + 1)^2,
    lower than L(0) = 25 exactly for 0 < eta < 1/2, lowest first at eta = 1/(2 sqrt 2)."""
    grad = TRUE_GRAD
    assert sum(g * d for g, d in zip(grad, (1, -21, 0))) == 0
    assert symbolic.step_sizes(direction=(1, -21, 0)) == (0, None)
    for eta in ("1e-3", "1e-2", "0.1"):
        assert _ray_loss((0.1, 0.5, -1), (1, -21, 0), eta) > Fraction(729, 100)

    phi, d = (-1, -1, sp.Rational(1, 2)), (2, 0, 1)
    for eta in (Fraction(1, 7), Fraction(1, 2), Fraction(3, 5), Fraction(2)):
        assert _ray_loss((-1, -1, "0.5"), d, eta) == 25 * (16 * eta**4 - 4 * eta**2 + 1) ** 2
    eta_max, eta_best = symbolic.step_sizes(phi, direction=d)
    assert eta_max == sp.Rational(1, 2) and sp.simplify(eta_best - 1 / (2 * sp.sqrt(2))) == 0
    assert symbolic.helpful_intervals(phi, direction=d) == [(0, sp.Rational(1, 2))]


@pytest.mark.parametrize("slope", [sp.Rational(1, 2), sp.Integer(1), sp.Rational(1, 10**6), sp.Integer(3)])
def test_step_sizes_of_an_ascent_direction_shallow_or_steep(slope):
    """d = -s g / |g|^2 climbs with slope dL/deta = s at eta = 0 (a slope of 1/2 or 1 too,
    not only a steep one): no small step lowers the loss, eta_max = 0."""
    norm2 = sum(g * g for g in TRUE_GRAD)
    d = [-slope * g / norm2 for g in TRUE_GRAD]
    assert -sum(g * di for g, di in zip(TRUE_GRAD, d)) == slope
    assert symbolic.step_sizes(direction=d) == (0, None)
    assert _ray_loss((0.1, 0.5, -1), d, Fraction(1, 10**9)) > Fraction(729, 100)


@pytest.mark.parametrize("low, high", [(sp.Integer(1), 1 + sp.Rational(1, 10**70)),
                                       (1 - sp.Rational(1, 10**70), sp.Integer(1)),
                                       (sp.sqrt(2), sp.sqrt(2) + sp.Rational(1, 10**100)),
                                       (sp.Integer(0), sp.Rational(1, 10**90))])
def test_a_rational_strictly_between_two_close_numbers(low, high):
    """Where 60 digits cannot tell the ends apart, the midpoint of the decimals is an end itself:
    it must be refused, and more digits taken."""
    from metaopt.symbolic import _rational_between
    inside = _rational_between(low, high)
    assert isinstance(inside, sp.Rational) and bool(low < inside) and bool(inside < high)
