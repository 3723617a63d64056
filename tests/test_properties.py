"""Property-based tests (hypothesis) of the library, on cases nobody chose by hand.

For random phi, theta0, theta_star and horizons of 0 to 50 steps:

* reverse mode (``meta_gradient``, BPTT in float64) agrees with the exact
  forward-mode Fraction loop of ``reference.py`` and with exact central finite
  differences of the exact loss; the library's float ``finite_difference``
  agrees too, within its own (much larger) error;
* sympy's closed form (``symbolic.meta_gradient``), evaluated exactly, equals
  the Fraction loop: exactly, for horizons up to 12 on random cases, and at
  T = 50 on fixed cases (see ``test_closed_form_at_fifty_steps`` for why);
* a batch gives bit for bit what a Python loop over its rows gives;
* the symmetry identity phi1 dL/dphi1 = phi3 dL/dphi3 holds, exactly in
  rational arithmetic and to rounding in floats;
* on well-conditioned cases the floats are within 1e-12 relative of the
  exact rational values;
* divergence is never silent: any phi, any horizon, either finite results or
  ``DivergenceError``, never nan, inf or a RuntimeWarning.

Hypothesis runs derandomized (the same examples every run, so CI is
reproducible) with a small number of examples per property, to keep
``make test`` within its time budget.
"""

import math
import warnings
from fractions import Fraction
from functools import lru_cache

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

import metaopt
import reference as ref
from metaopt import DivergenceError, symbolic

# Applied to each test below (not loaded as the global profile, which would change other files' tests).
PROFILE = settings(
    derandomize=True,  # reproducible: the examples depend only on the test, not on a seed or a database
    database=None,
    deadline=None,  # timings on shared 2-core machines are noise, not a property
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)

MAX_STEPS = 50
U = 2.0**-53  # unit roundoff of float64

finite = dict(allow_nan=False, allow_infinity=False)
phi1s = st.floats(-1.0, 1.0, **finite)
phi2s = st.floats(-0.9, 0.9, **finite)
phi3s = st.floats(-1.0, 1.0, **finite)
phis = st.tuples(phi1s, phi2s, phi3s)
thetas = st.floats(-10.0, 10.0, **finite)
steps_ = st.integers(0, MAX_STEPS)


def rounding_allowance(ex: ref.Exact, steps: int) -> float:
    """An absolute allowance for the rounding error of the float gradient.

    Every adjoint and every share of dL/dphi is a product of two values bounded by
    the largest intermediate (``ref.float_scale`` is its square) times at most a
    factor growing with the horizon; each of the ~10 T operations adds a relative
    error of at most U. 1e4 U (T + 1)^2 float_scale is generous for that and still
    far too tight for a wrong formula (a wrong term is of the order of float_scale).
    """
    return 1e4 * U * (steps + 1) ** 2 * ref.float_scale(ex)


def assert_close(got, exact, atol, what):
    ref.assert_close_exact(got, exact, rel=1e-9, atol=atol, what=what)


# --- the exact reference: its fast dyadic arithmetic is Fraction arithmetic ------------------


@settings(PROFILE, max_examples=15)
@given(phi=phis, theta0=thetas, theta_star=thetas, steps=steps_)
def test_reference_dyadic_loop_equals_fraction_loop(phi, theta0, theta_star, steps):
    """tests/reference.py runs its loop in Dyadic numbers (no gcds); the same loop in Fractions agrees exactly."""
    fast, slow = ref.forward(phi, theta0, theta_star, steps), ref.forward(phi, theta0, theta_star, steps, number=Fraction)
    assert fast == slow
    assert ref.loss(phi, theta0, theta_star, steps) == ref.loss(phi, theta0, theta_star, steps, number=Fraction) == slow.loss


def test_reference_dyadic_numbers():
    """Dyadic.of is exact for floats and ints and refuses what is not m * 2^e; the arithmetic on hand-picked values."""
    assert ref.Dyadic.of(0.1).fraction() == Fraction(0.1)  # the float 0.1, exactly
    assert ref.Dyadic.of(-3).fraction() == -3 and ref.Dyadic.of(2.0**-1074).fraction() == Fraction(1, 2**1074)
    assert ref.Dyadic.of("0.1") is None and ref.Dyadic.of(Fraction(1, 3)) is None
    a, b = ref.Dyadic.of(0.75), ref.Dyadic.of(-2.5)  # 3/4 and -5/2
    assert (a + b).fraction() == Fraction(-7, 4) and (a - b).fraction() == Fraction(13, 4)
    assert (a * b).fraction() == Fraction(-15, 8) and (2 * a - 1).fraction() == Fraction(1, 2)
    ex = ref.forward((0.1, 0.5, -1.0), 10, 5, 2)  # the document's case, in both arithmetics
    assert ex == ref.forward((0.1, 0.5, -1.0), 10, 5, 2, number=Fraction)


# --- reverse mode = exact closed form (Fraction loop) = finite differences ----------------


@PROFILE
@given(phi=phis, theta0=thetas, theta_star=thetas, steps=steps_)
def test_reverse_mode_equals_exact_and_exact_finite_differences(phi, theta0, theta_star, steps):
    ex = ref.forward(phi, theta0, theta_star, steps)
    loss, grad = metaopt.meta_gradient(phi, theta0=theta0, theta_star=theta_star, steps=steps)
    atol = rounding_allowance(ex, steps)
    assert_close(loss, ex.loss, atol, "loss")
    assert_close(grad, ex.dloss, atol, "grad")
    # exact central differences with a tiny step: no rounding at all, truncation O(eps^2)
    fd = ref.fd_gradient(phi, theta0, theta_star, steps, eps=Fraction(1, 2**40))
    for i in range(3):
        err = abs(fd[i] - ex.dloss[i])
        assert err <= Fraction(1, 10**9) * (abs(ex.dloss[i]) + Fraction(ref.float_scale(ex))), (i, float(err))


@settings(PROFILE, max_examples=30)
@given(phi=phis, theta0=thetas, theta_star=thetas, steps=st.integers(0, 20))
def test_library_finite_difference_agrees_within_its_error(phi, theta0, theta_star, steps):
    """metaopt.finite_difference in floats: rounding error ~ U * L / eps dominates, so a looser check."""
    ex = ref.forward(phi, theta0, theta_star, steps)
    eps = 1e-6
    fd = metaopt.finite_difference(phi, theta0=theta0, theta_star=theta_star, steps=steps, eps=eps)
    atol = 1e3 * (steps + 1) ** 2 * (U / eps + eps**2) * ref.float_scale(ex)
    ref.assert_close_exact(fd, ex.dloss, rel=1e-6, atol=atol, what="finite_difference")


# --- sympy's closed form, evaluated exactly ------------------------------------------------
# The inner loop is linear in theta - theta*: theta_t - theta* = (theta0 - theta*) P_t(phi), so
# L = (theta0 - theta*)^2 P_T(phi)^2. The closed form is therefore computed once per horizon with
# theta0 = 1, theta* = 0 (integer coefficients, cached) and scaled by (theta0 - theta*)^2: sympy
# then runs once per horizon, not once per example.


@lru_cache(maxsize=None)
def unit_closed_form(steps):
    """[(coefficient, (i, j, k)), ...] for L and its 3 partial derivatives at theta0 = 1, theta* = 0."""
    L, dL = symbolic.meta_gradient(steps=steps, theta0=1, theta_star=0)
    polys = []
    for expr in (L, *dL):
        terms = []
        for term in sp.Add.make_args(expr):
            coeff, monomial = term.as_coeff_Mul()
            assert coeff.is_Integer, term
            powers = monomial.as_powers_dict() if monomial != 1 else {}
            terms.append((int(coeff), tuple(int(powers.get(x, 0)) for x in symbolic.PHI)))
        polys.append(terms)
    return polys


def evaluate(terms, phi):
    """Exact value of sum c phi1^i phi2^j phi3^k at Fraction phi, in integers over a common
    denominator q (phi_k = n_k / q): sum c n1^i n2^j n3^k q^(D - i - j - k) / q^D, D the largest degree."""
    q = math.lcm(*(v.denominator for v in phi))
    nums = [int(v * q) for v in phi]
    degree = max((sum(e) for _, e in terms), default=0)
    powers = {}

    def power(base, e):
        if (base, e) not in powers:
            powers[base, e] = base**e
        return powers[base, e]

    total = sum(
        c * power(nums[0], i) * power(nums[1], j) * power(nums[2], k) * power(q, degree - i - j - k)
        for c, (i, j, k) in terms
    )
    return Fraction(total, q**degree)


def closed_form(phi, theta0, theta_star, steps):
    phi = [ref.frac(v) for v in phi]
    scale = (ref.frac(theta0) - ref.frac(theta_star)) ** 2
    L, *dL = (scale * evaluate(terms, phi) for terms in unit_closed_form(steps))
    return L, tuple(dL)


@settings(PROFILE, max_examples=40)
@given(phi=phis, theta0=thetas, theta_star=thetas, steps=st.integers(0, 12))
def test_closed_form_equals_exact_loop(phi, theta0, theta_star, steps):
    """Up to 12 steps on random cases (sympy's polynomials at T = 12 have a few hundred terms)."""
    ex = ref.forward(phi, theta0, theta_star, steps)
    L, dL = closed_form(phi, theta0, theta_star, steps)
    assert L == ex.loss
    assert dL == ex.dloss


def test_closed_form_at_fifty_steps():
    """T = 50: sympy's exact closed form (~5000 terms per polynomial, about a second to build)
    equals the exact Fraction loop, and reverse mode is within rounding of both, on seeded cases.
    One horizon, several cases: building the closed form is the cost, evaluating it is cheap."""
    rng = np.random.default_rng(50)
    for _ in range(3):
        phi = (rng.uniform(-1, 1), rng.uniform(-0.9, 0.9), rng.uniform(-1, 1))
        theta0, theta_star = rng.uniform(-10, 10, 2)
        ex = ref.forward(phi, theta0, theta_star, MAX_STEPS)
        L, dL = closed_form(phi, theta0, theta_star, MAX_STEPS)
        assert (L, dL) == (ex.loss, ex.dloss)
        loss, grad = metaopt.meta_gradient(phi, theta0=theta0, theta_star=theta_star, steps=MAX_STEPS)
        atol = rounding_allowance(ex, MAX_STEPS)
        assert_close(loss, L, atol, "loss")
        assert_close(grad, dL, atol, "grad")


def test_closed_form_scaling_argument():
    """The scaling used above, checked once directly: closed form with the thetas themselves."""
    phi, theta0, theta_star = (Fraction(3, 8), Fraction(-1, 4), Fraction(5, 16)), Fraction(7, 2), Fraction(-3, 4)
    L, dL = symbolic.meta_gradient(steps=9, theta0=theta0, theta_star=theta_star)
    at = {x: sp.Rational(v.numerator, v.denominator) for x, v in zip(symbolic.PHI, phi)}
    scaled_L, scaled_dL = closed_form(phi, theta0, theta_star, 9)
    assert L.xreplace(at) == scaled_L
    assert tuple(d.xreplace(at) for d in dL) == scaled_dL


# --- batched = looped ---------------------------------------------------------------------


@settings(PROFILE, max_examples=30)
@given(rows=st.lists(phis, min_size=1, max_size=6), theta0=thetas, theta_star=thetas, steps=steps_)
def test_batch_equals_loop_bit_for_bit(rows, theta0, theta_star, steps):
    batch = np.array(rows)
    traj = metaopt.unroll(batch, theta0=theta0, theta_star=theta_star, steps=steps)
    loss, grad = metaopt.meta_gradient(batch, theta0=theta0, theta_star=theta_star, steps=steps)
    for k, phi in enumerate(rows):
        one = metaopt.unroll(phi, theta0=theta0, theta_star=theta_star, steps=steps)
        for name in ("theta", "grad", "h", "g"):
            assert np.array_equal(getattr(traj, name)[k], getattr(one, name)), name
        l1, g1 = metaopt.meta_gradient(phi, theta0=theta0, theta_star=theta_star, steps=steps)
        assert loss[k] == l1 and np.array_equal(grad[k], g1)


# --- the symmetry identity phi1 dL/dphi1 = phi3 dL/dphi3 --------------------------------------


@PROFILE
@given(phi=phis, theta0=thetas, theta_star=thetas, steps=steps_)
def test_symmetry_identity(phi, theta0, theta_star, steps):
    """The loop depends on phi1 and phi3 only through a = phi1 phi3, so phi1 dL/dphi1 = a dL/da = phi3 dL/dphi3."""
    ex = ref.forward(phi, theta0, theta_star, steps)
    p1, _, p3 = (ref.frac(v) for v in phi)
    assert p1 * ex.dloss[0] == p3 * ex.dloss[2]  # exactly, in rational arithmetic
    _, grad = metaopt.meta_gradient(phi, theta0=theta0, theta_star=theta_star, steps=steps)
    both = phi[0] * grad[0] - phi[2] * grad[2]
    assert abs(both) <= 2 * rounding_allowance(ex, steps), (both, rounding_allowance(ex, steps))


# --- accuracy: within 1e-12 relative of the exact values when the problem is well-conditioned --


def well_conditioned(ex, theta_star):
    """The final error theta_T - theta* is computed from values as large as the largest
    intermediate: a relative error U in those is a relative error U * (largest / |theta_T - theta*|)
    in the result. Well-conditioned here: that ratio is at most 10, and the squares stay far
    from the underflow threshold (theta0 - theta* = 1e-208 has an exact square of 1e-416, which
    no float can hold)."""
    e_T = abs(ex.theta[-1] - ref.frac(theta_star))
    if e_T < Fraction(1, 10**100):
        return False
    # the same for every value compared: a nonzero exact value below ~1e-308 underflows (e.g.
    # theta_1 = -2 phi1 phi3 = -3e-601 for phi1 = phi3 = 4e-301), a matter of range, not rounding
    compared = (ex.theta[-1], ex.loss, *ex.dloss)
    if any(v != 0 and abs(v) < Fraction(1, 10**250) for v in compared):
        return False
    largest = max(abs(v) for v in (*ex.theta, *ex.grad, *ex.h)) or Fraction(1)
    return largest / e_T <= 10


@settings(PROFILE, max_examples=60)
@given(phi=phis, theta0=thetas, theta_star=thetas, steps=steps_)
def test_accuracy_on_well_conditioned_cases(phi, theta0, theta_star, steps):
    ex = ref.forward(phi, theta0, theta_star, steps)
    assume(well_conditioned(ex, theta_star))
    event(f"horizon {'> 20' if steps > 20 else '<= 20'}")  # shown by --hypothesis-show-statistics
    traj = metaopt.unroll(phi, theta0=theta0, theta_star=theta_star, steps=steps)
    loss, grad = metaopt.meta_gradient(phi, theta0=theta0, theta_star=theta_star, steps=steps)
    ref.assert_close_exact(traj.theta[-1], ex.theta[-1], rel=1e-12, what="theta_T")
    ref.assert_close_exact(loss, ex.loss, rel=1e-12, what="loss")
    # the gradient as a vector: error relative to its largest component
    norm = max(abs(d) for d in ex.dloss)
    ref.assert_close_exact(grad, ex.dloss, rel=0, atol=1e-12 * norm, what="grad")


def test_accuracy_document_case():
    """The document's case, exactly: every value within 1e-12 relative (here: 1 ulp-level)."""
    ex = ref.forward(metaopt.PHI_OLD, 10, 5, 2)
    loss, grad = metaopt.meta_gradient()
    ref.assert_close_exact(loss, ex.loss, rel=1e-12, what="loss")
    ref.assert_close_exact(grad, ex.dloss, rel=1e-12, what="grad")


# --- divergence is never silent ------------------------------------------------------------


@settings(PROFILE, max_examples=60)
@given(
    phi=st.tuples(*(st.floats(-50.0, 50.0, **finite) for _ in range(3))),
    theta0=st.floats(-1e6, 1e6, **finite),
    theta_star=st.floats(-1e6, 1e6, **finite),
    steps=st.integers(0, 3000),
)
def test_never_a_silent_nan(phi, theta0, theta_star, steps):
    """Wild phi, long horizons: finite results or a DivergenceError naming the step; no nan, no warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning (overflow, invalid) would fail here
        for func in (metaopt.unroll, metaopt.meta_gradient):
            try:
                out = func(phi, theta0=theta0, theta_star=theta_star, steps=steps)
            except DivergenceError as exc:
                assert "step t=" in str(exc), str(exc)
                continue
            values = list(out) if func is metaopt.unroll else [out[0], out[1]]
            assert all(np.all(np.isfinite(v)) for v in values)


def test_never_a_silent_nan_in_a_batch():
    rng = np.random.default_rng(3000)
    phi = rng.uniform(-3, 3, (64, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DivergenceError, match=r"step t=\d+"):
            metaopt.meta_gradient(phi, theta0=10.0, theta_star=5.0, steps=3000)
