"""The meta-gradient three ways, against an exact reference.

* the library's reverse mode (``metaopt.meta_gradient``, BPTT in float64),
* the library's closed form (``metaopt.symbolic.meta_gradient``, sympy),
* the library's ``finite_difference``,

are each compared with ``reference.forward``: an independent scalar loop in
exact rational arithmetic carrying forward-mode derivatives, and with exact
central finite differences of that loop. 200 random cases of
(phi, theta0, theta_star, steps) with steps cycling through 0..8.
"""

import math
from fractions import Fraction
from functools import lru_cache

import numpy as np
import pytest
import sympy as sp

import metaopt
import reference as ref
from metaopt import symbolic

N_CASES = 200
CASES = ref.random_cases(N_CASES, seed=20240601)
IDS = [f"case{k}-T{c[3]}" for k, c in enumerate(CASES)]

REL = 1e-9  # float64 vs exact
ATOL_FACTOR = 1e-12  # times ref.float_scale: absolute rounding allowance (see reference.float_scale)
FD_REL = 1e-6  # finite differences: truncation + rounding
FD_ATOL_FACTOR = 1e-6

T0, TS = sp.symbols("theta_0 theta_star")
GENS = (*symbolic.PHI, T0, TS)


def test_cases_cover_all_horizons():
    assert sorted({c[3] for c in CASES}) == list(range(9))
    assert sum(c[3] == 0 for c in CASES) >= 20
    assert sum(c[3] == 1 for c in CASES) >= 20


def _terms(expr):
    """Integer-coefficient terms of expr as a polynomial in phi1, phi2, phi3, theta_0, theta_star."""
    poly = sp.Poly(expr, *GENS)
    assert poly.domain == sp.ZZ, poly.domain  # with symbolic theta0, theta*, coefficients are integers
    return [(tuple(int(e) for e in monom), int(coeff)) for monom, coeff in poly.terms()]


def _evaluate(terms, values):
    """Exact value of a polynomial given by _terms at Fraction values.

    Done in integers over a common denominator Q (value_i = n_i / Q), for speed:
    sum_k c_k prod n_i^e_ik Q^(D - deg_k) / Q^D, with D the largest total degree.
    """
    q = 1
    for v in values:
        q = q * v.denominator // math.gcd(q, v.denominator)
    nums = [int(v * q) for v in values]
    degree = max(sum(m) for m, _ in terms)
    max_e = [max(m[i] for m, _ in terms) for i in range(len(values))]
    powers = []
    for n, e in zip(nums, max_e):
        p = [1]
        for _ in range(e):
            p.append(p[-1] * n)
        powers.append(p)
    q_pow = [1]
    for _ in range(degree):
        q_pow.append(q_pow[-1] * q)
    total = 0
    for monom, coeff in terms:
        term = coeff * q_pow[degree - sum(monom)]
        for p, e in zip(powers, monom):
            if e:
                term *= p[e]
        total += term
    return Fraction(total, q_pow[degree])


@lru_cache(maxsize=None)
def symbolic_gradient(steps):
    """sympy's closed-form meta-loss and gradient with symbolic theta0 and theta*, as term lists."""
    L, dL = symbolic.meta_gradient(theta0=T0, theta_star=TS, steps=steps)
    return _terms(L), tuple(_terms(d) for d in dL)


@lru_cache(maxsize=None)
def symbolic_trajectory(steps):
    traj = symbolic.unroll(theta0=T0, theta_star=TS, steps=steps)
    return {name: [_terms(e) for e in getattr(traj, name)] for name in ("theta", "grad", "h", "g")}


def _call(func, case):
    """func(phi, theta0=..., theta_star=..., steps=...) for one (phi, theta0, theta_star, steps) case."""
    phi, theta0, theta_star, steps = case
    return func(phi, theta0=theta0, theta_star=theta_star, steps=steps)


def _exact_values(case):
    phi, theta0, theta_star, _ = case
    return [ref.frac(v) for v in phi] + [ref.frac(theta0), ref.frac(theta_star)]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_reverse_mode_matches_exact_forward_mode(case):
    ex = ref.forward(*case)
    atol = ATOL_FACTOR * ref.float_scale(ex)
    loss, grad = _call(metaopt.meta_gradient, case)
    assert type(loss) is float
    assert grad.shape == (3,) and grad.dtype == np.float64
    ref.assert_close_exact(loss, ex.loss, REL, atol, "loss")
    ref.assert_close_exact(grad, ex.dloss, REL, atol, "grad")
    ref.assert_close_exact(_call(metaopt.meta_loss, case), ex.loss, REL, atol, "meta_loss")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_sympy_closed_form_equals_exact_forward_mode(case):
    ex = ref.forward(*case)
    L_terms, dL_terms = symbolic_gradient(case[3])
    values = _exact_values(case)
    assert _evaluate(L_terms, values) == ex.loss
    assert tuple(_evaluate(t, values) for t in dL_terms) == ex.dloss


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_exact_finite_differences_agree(case):
    """Exact central differences of the Fraction loop vs forward mode and vs the library's reverse mode."""
    ex = ref.forward(*case)
    fd = ref.fd_gradient(*case)
    scale = ref.float_scale(ex)
    ref.assert_close_exact([float(v) for v in fd], ex.dloss, FD_REL, FD_ATOL_FACTOR * scale, "fd vs forward")
    _, grad = _call(metaopt.meta_gradient, case)
    ref.assert_close_exact(grad, fd, FD_REL, FD_ATOL_FACTOR * scale, "reverse vs fd")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_library_finite_difference_agrees_with_reverse_mode(case):
    ex = ref.forward(*case)
    fd = _call(metaopt.finite_difference, case)
    assert fd.shape == (3,)
    _, grad = _call(metaopt.meta_gradient, case)
    scale = ref.float_scale(ex)
    np.testing.assert_allclose(fd, grad, rtol=FD_REL, atol=FD_ATOL_FACTOR * scale)
    ref.assert_close_exact(fd, ex.dloss, FD_REL, FD_ATOL_FACTOR * scale, "finite_difference vs exact")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_unroll_matches_exact_loop(case):
    ex = ref.forward(*case)
    steps = case[3]
    traj = _call(metaopt.unroll, case)
    assert traj.theta.shape == (steps + 1,)
    assert traj.grad.shape == traj.h.shape == traj.g.shape == (steps,)
    big = ref.float_scale(ex) ** 0.5
    for name in ("theta", "grad", "h", "g"):
        ref.assert_close_exact(getattr(traj, name), getattr(ex, name), REL, 1e-13 * big, name)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_symbolic_unroll_equals_exact_loop(case):
    ex = ref.forward(*case)
    polys = symbolic_trajectory(case[3])
    values = _exact_values(case)
    for name in ("theta", "grad", "h", "g"):
        assert [_evaluate(t, values) for t in polys[name]] == getattr(ex, name), name


@pytest.mark.parametrize("case", CASES[:12], ids=IDS[:12])
def test_symbolic_with_concrete_fraction_thetas(case):
    """theta0 / theta* given as Fractions (not symbols): still exact, and theta_T matches the loop."""
    phi, theta0, theta_star, steps = case
    t0, ts = ref.frac(theta0), ref.frac(theta_star)
    ex = ref.forward(phi, t0, ts, steps)
    at = {p: sp.Rational(v.numerator, v.denominator) for p, v in zip(symbolic.PHI, map(ref.frac, phi))}
    traj = symbolic.unroll(theta0=t0, theta_star=ts, steps=steps)
    theta_T = sp.sympify(traj.theta[-1]).xreplace(at)
    assert theta_T == sp.Rational(ex.theta[-1].numerator, ex.theta[-1].denominator)
    L, dL = symbolic.meta_gradient(theta0=t0, theta_star=ts, steps=steps)
    to_frac = lambda r: Fraction(int(r.p), int(r.q))  # noqa: E731
    assert to_frac(sp.sympify(L).xreplace(at)) == ex.loss
    assert tuple(to_frac(sp.sympify(d).xreplace(at)) for d in dL) == ex.dloss


# ---------------------------------------------------------------------------
# the two shortest horizons, by hand
# ---------------------------------------------------------------------------

ZERO_STEP_CASES = [c for c in CASES if c[3] == 0][:20]
ONE_STEP_CASES = [c for c in CASES if c[3] == 1][:20]


@pytest.mark.parametrize("case", ZERO_STEP_CASES)
def test_zero_steps(case):
    """T = 0: theta_T = theta_0, so L = (theta0 - theta*)^2 and the gradient is exactly zero."""
    phi, theta0, theta_star, _ = case
    loss, grad = metaopt.meta_gradient(phi, theta0=theta0, theta_star=theta_star, steps=0)
    expected = (Fraction(theta0) - Fraction(theta_star)) ** 2
    ref.assert_close_exact(loss, expected, 1e-15, 0, "loss")
    assert np.array_equal(grad, np.zeros(3))
    traj = metaopt.unroll(phi, theta0=theta0, theta_star=theta_star, steps=0)
    assert traj.theta.tolist() == [theta0]
    assert traj.grad.shape == traj.h.shape == traj.g.shape == (0,)
    assert np.array_equal(metaopt.finite_difference(phi, theta0=theta0, theta_star=theta_star, steps=0), np.zeros(3))


@pytest.mark.parametrize("case", ONE_STEP_CASES)
def test_one_step_closed_form_by_hand(case):
    """T = 1: theta_1 - theta* = e0 (1 + 2 phi1 phi3), so L = e0^2 (1 + 2a)^2 with a = phi1 phi3:
    dL/dphi1 = 4 e0^2 (1 + 2a) phi3, dL/dphi2 = 0, dL/dphi3 = 4 e0^2 (1 + 2a) phi1."""
    phi, theta0, theta_star, _ = case
    p1, p2, p3 = (Fraction(v) for v in phi)
    e0 = Fraction(theta0) - Fraction(theta_star)
    a = p1 * p3
    expected_loss = e0**2 * (1 + 2 * a) ** 2
    expected_grad = (4 * e0**2 * (1 + 2 * a) * p3, Fraction(0), 4 * e0**2 * (1 + 2 * a) * p1)
    loss, grad = metaopt.meta_gradient(phi, theta0=theta0, theta_star=theta_star, steps=1)
    atol = 1e-13 * float(e0**2 + 1)
    ref.assert_close_exact(loss, expected_loss, REL, atol, "loss")
    ref.assert_close_exact(grad, expected_grad, REL, atol, "grad")
    assert grad[1] == 0.0  # h_{-1} = 0: phi2 has no effect on one step


def test_gradient_is_not_trivially_zero():
    """Guard against a degenerate random sample: most cases with T >= 1 have a sizeable gradient."""
    sizeable = [c for c in CASES if c[3] >= 1 and np.max(np.abs(_call(metaopt.meta_gradient, c).grad)) > 1e-3]
    assert len(sizeable) > 0.8 * sum(c[3] >= 1 for c in CASES)
