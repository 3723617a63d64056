"""An independent, exact reference for the metaopt tests.

Nothing here imports metaopt: the expected values of the tests are computed by
this tiny scalar loop in exact rational arithmetic (``fractions.Fraction``),
with forward-mode derivatives (each quantity carries its three partial
derivatives with respect to phi), so the library's reverse mode (BPTT) is
checked against a different algorithm, and its floats against exact values.

Floats are dyadic rationals (m · 2^e), and the loop only adds, subtracts and
multiplies, so when every input is a float or an int the loop runs in
:class:`Dyadic` numbers: exact like Fraction, without a gcd after every
operation (at 50 steps the numerators have thousands of bits, and the gcds
were almost all of the suite's exact-arithmetic time). The results are
returned as Fractions either way; ``forward(..., number=Fraction)`` runs the
same loop in Fractions, and the tests check that the two agree.

    ∇_t = 2(θ_t − θ*),  h_t = φ1 ∇_t + φ2 h_{t−1},  g_t = φ3 h_t,
    θ_{t+1} = θ_t + g_t,  h_{−1} = 0,  L = (θ_T − θ*)².
"""

from __future__ import annotations

import random
from fractions import Fraction
from typing import NamedTuple

import numpy as np


def frac(x) -> Fraction:
    """Exact Fraction of x: a float by its exact binary value, a str by its decimal value."""
    if isinstance(x, Fraction):
        return x
    if isinstance(x, str):
        return Fraction(x)
    if isinstance(x, (int, np.integer)):
        return Fraction(int(x))
    return Fraction(float(x))  # exact binary value of the float


class Dyadic:
    """An exact dyadic rational m · 2^e (m, e ints): +, −, × and nothing else, no normalization."""

    __slots__ = ("m", "e")

    def __init__(self, m: int, e: int = 0):
        self.m, self.e = m, e

    @classmethod
    def of(cls, x) -> "Dyadic | None":
        """x exactly, or None when x is not dyadic (a decimal string such as "0.1", say)."""
        x = frac(x)
        den = x.denominator
        if den & (den - 1):  # not a power of two
            return None
        return cls(x.numerator, -(den.bit_length() - 1))

    def _aligned(self, other):
        if not isinstance(other, Dyadic):
            other = Dyadic(int(other))  # the loop's integer constants (2 * ...)
        if self.e <= other.e:
            return self.m, other.m << (other.e - self.e), self.e
        return self.m << (self.e - other.e), other.m, other.e

    def __add__(self, other):
        a, b, e = self._aligned(other)
        return Dyadic(a + b, e)

    __radd__ = __add__

    def __sub__(self, other):
        a, b, e = self._aligned(other)
        return Dyadic(a - b, e)

    def __mul__(self, other):
        if not isinstance(other, Dyadic):
            return Dyadic(self.m * int(other), self.e)
        return Dyadic(self.m * other.m, self.e + other.e)

    __rmul__ = __mul__

    def fraction(self) -> Fraction:
        return Fraction(self.m << self.e) if self.e >= 0 else Fraction(self.m, 1 << -self.e)


class Exact(NamedTuple):
    theta: list  # θ_0 .. θ_T
    grad: list  # ∇_0 .. ∇_{T-1}
    h: list
    g: list
    loss: Fraction
    dloss: tuple  # (∂L/∂φ1, ∂L/∂φ2, ∂L/∂φ3), exact


def _numbers(values, number):
    """The inputs as exact numbers of the loop: Dyadic when every one is dyadic (or number=Fraction)."""
    if number is not Fraction:
        dyadic = [Dyadic.of(v) for v in values]
        if all(d is not None for d in dyadic):
            return dyadic, Dyadic(0), Dyadic.fraction
    return [frac(v) for v in values], Fraction(0), lambda x: x


def forward(phi, theta0, theta_star, steps, number=Dyadic) -> Exact:
    """Run the inner loop exactly, with forward-mode derivatives w.r.t. phi (results as Fractions)."""
    (p1, p2, p3, t0, ts), zero, out = _numbers([*phi, theta0, theta_star], number)
    theta, dtheta = t0, [zero, zero, zero]
    h, dh = zero, [zero, zero, zero]  # h_{-1} = 0
    thetas, grads, hs, gs = [theta], [], [], []
    for _ in range(steps):
        grad = 2 * (theta - ts)
        dgrad = [2 * d for d in dtheta]
        h_new = p1 * grad + p2 * h
        dh_new = [p1 * dgrad[i] + p2 * dh[i] for i in range(3)]
        dh_new[0] += grad  # ∂(φ1 ∇)/∂φ1
        dh_new[1] += h  # ∂(φ2 h_{t-1})/∂φ2
        g = p3 * h_new
        dg = [p3 * dh_new[i] for i in range(3)]
        dg[2] += h_new  # ∂(φ3 h_t)/∂φ3
        theta = theta + g
        dtheta = [dtheta[i] + dg[i] for i in range(3)]
        h, dh = h_new, dh_new
        thetas.append(theta)
        grads.append(grad)
        hs.append(h_new)
        gs.append(g)
    err = theta - ts
    loss = err * err
    dloss = tuple(2 * err * d for d in dtheta)
    return Exact([out(v) for v in thetas], [out(v) for v in grads], [out(v) for v in hs], [out(v) for v in gs],
                 out(loss), tuple(out(d) for d in dloss))


def loss(phi, theta0, theta_star, steps, number=Dyadic) -> Fraction:
    """The exact meta-loss alone, by the plain loop (no derivatives)."""
    (p1, p2, p3, theta, ts), h, out = _numbers([*phi, theta0, theta_star], number)
    for _ in range(steps):
        h = p1 * 2 * (theta - ts) + p2 * h
        theta = theta + p3 * h
    return out((theta - ts) * (theta - ts))


def fd_gradient(phi, theta0, theta_star, steps, eps=Fraction(1, 10**6)) -> tuple:
    """Central finite differences of the exact loss (truncation error only, O(eps^2))."""
    base = [frac(v) for v in phi]
    out = []
    for i in range(3):
        plus, minus = list(base), list(base)
        plus[i] += eps
        minus[i] -= eps
        out.append((loss(plus, theta0, theta_star, steps) - loss(minus, theta0, theta_star, steps)) / (2 * eps))
    return tuple(out)


def random_cases(n, seed, max_steps=8):
    """n random (phi, theta0, theta_star, steps) with Python floats; steps cycle through 0..max_steps."""
    rng = np.random.default_rng(seed)
    order = list(range(n))
    random.Random(seed).shuffle(order)
    cases = []
    for k in range(n):
        phi = (
            float(rng.uniform(-1.0, 1.0)),
            float(rng.uniform(-0.9, 0.9)),
            float(rng.uniform(-1.0, 1.0)),
        )
        theta0 = float(rng.uniform(-10.0, 10.0))
        theta_star = float(rng.uniform(-10.0, 10.0))
        steps = order[k] % (max_steps + 1)
        cases.append((phi, theta0, theta_star, steps))
    return cases


def float_scale(ex: Exact) -> float:
    """A magnitude for the absolute rounding error of a float computation of ex.

    The float loop rounds every intermediate; the loss and its gradient are
    products of theta_T - theta* with sums of terms built from the
    intermediates, so their absolute rounding error is a modest multiple of
    2.2e-16 * (largest intermediate)^2. Tests use atol = 1e-12 * float_scale,
    a few thousand ulps of that: loose enough for cancellation in a component
    near zero, far too tight for any wrong formula.
    """
    big = max(
        [abs(float(v)) for v in ex.theta] + [abs(float(v)) for v in ex.grad] + [abs(float(v)) for v in ex.h] + [1.0]
    )
    return big * big


def assert_close_exact(got, expected, rel=1e-9, atol=0.0, what=""):
    """|got - expected| <= rel * |expected| + atol, element-wise; expected exact (Fraction).

    The comparison itself is done exactly (the float is converted to its exact
    Fraction value), so no rounding of the expected value hides an error.
    """
    got = np.atleast_1d(np.asarray(got, dtype=float))
    expected = list(expected) if isinstance(expected, (list, tuple)) else [expected]
    assert got.shape == (len(expected),), (what, got.shape, len(expected))
    for i, (a, b) in enumerate(zip(got.tolist(), expected)):
        b = frac(b)
        err = abs(Fraction(a) - b)
        bound = Fraction(rel) * abs(b) + Fraction(atol)
        assert err <= bound, (
            f"{what}[{i}]: got {a!r}, exact {float(b)!r}, |err|={float(err):.3g} > {float(bound):.3g}"
        )


def unpack_flat(flat, shapes):
    """A flat parameter vector as named numpy arrays, in the order ``shapes`` = [(name, shape), ...]:
    the test suite's own reading of a layout, written without metaopt's."""
    import numpy as np

    out, k = {}, 0
    for name, shape in shapes:
        size = int(np.prod(shape))
        out[name] = flat[k:k + size].reshape(shape)
        k += size
    assert k == flat.size
    return out
