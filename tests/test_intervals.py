"""symbolic.helpful_intervals: every interval of eta > 0 where phi - eta*d lowers the meta-loss.

Checked against the exact Fraction loop of tests/reference.py (no sympy): just inside
each interval's ends the meta-loss is below its starting value, just outside above it,
and on a fine grid of step sizes the loss is below the start exactly where the
intervals say. Directions: the document's assumed gradient, the true one, and random ones.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

import reference as ref
from metaopt import symbolic

PHI = (0.1, 0.5, -1.0)
PROBLEM = dict(theta0=10, theta_star=5, steps=2)
TRUE = (Fraction(-567, 5), Fraction(-27, 5), Fraction(567, 50))  # from the exact reference, below
ASSUMED = (15, 8, -10)


def loss_at(eta, direction, phi=PHI, **problem):
    problem = problem or PROBLEM
    point = [ref.frac(str(p)) - eta * ref.frac(d) for p, d in zip(phi, direction)]
    return ref.loss(point, problem["theta0"], problem["theta_star"], problem["steps"])


def test_true_direction_is_the_reference_gradient():
    assert ref.forward([Fraction(1, 10), Fraction(1, 2), Fraction(-1)], 10, 5, 2).dloss == TRUE


def rational(x, digits=40):
    return Fraction(str(sp.Float(x.evalf(digits + 10), digits)))


def check(direction, phi=PHI, **problem):
    problem = problem or PROBLEM
    intervals = symbolic.helpful_intervals(phi, direction=[sp.Rational(str(ref.frac(d))) for d in direction],
                                           **problem)
    start = loss_at(Fraction(0), direction, phi, **problem)
    delta = Fraction(1, 10**12)
    for low, high in intervals:
        assert low < high
        inner_low = rational(low) + delta if low != 0 else delta
        assert loss_at(inner_low, direction, phi, **problem) < start
        if low != 0:
            assert loss_at(rational(low) - delta, direction, phi, **problem) > start
        if high is not sp.oo:
            assert loss_at(rational(high) - delta, direction, phi, **problem) < start
            assert loss_at(rational(high) + delta, direction, phi, **problem) > start
    # a grid: below the start exactly inside the intervals
    top = max([float(h) for _, h in intervals if h is not sp.oo] + [float(l) for l, _ in intervals] + [0.01]) * 1.5
    for eta in np.linspace(top / 241, top, 241):
        eta = Fraction(float(eta))
        inside = any(float(l) < eta and (h is sp.oo or eta < float(h)) for l, h in intervals)
        near_end = any(abs(float(eta) - float(x)) < 1e-9 for i in intervals for x in i if x is not sp.oo)
        if not near_end:
            assert (loss_at(eta, direction, phi, **problem) < start) == inside, float(eta)
    return intervals


def test_assumed_direction_helps_only_far_out():
    intervals = check(ASSUMED)
    assert len(intervals) == 1 and intervals[0].low > 0.1  # no small step helps; a lucky large one does


def test_true_direction_helps_near_zero_and_again_further_out():
    intervals = check(TRUE)
    assert intervals[0].low == 0
    assert intervals[0].high == symbolic.step_sizes(PHI, direction=TRUE, **PROBLEM).eta_max
    assert len(intervals) == 2


@pytest.mark.parametrize("seed", range(4))
def test_random_directions(seed):
    rng = np.random.default_rng(seed)
    direction = tuple(Fraction(int(v), 4) for v in rng.integers(-40, 40, size=3))
    check(direction, theta0=3, theta_star=-1, steps=int(rng.integers(1, 3)))


def test_eta_train_is_a_small_step_that_helps():
    """ETA_TRAIN (chapter 4) lies in the first interval (0, eta_max) of the true direction; the document's eta in none."""
    from metaopt import ETA, ETA_TRAIN

    intervals = symbolic.helpful_intervals(PHI, direction=TRUE, **PROBLEM)
    assert intervals[0].low == 0 and ETA_TRAIN < intervals[0].high
    assert not any(low < ETA < high for low, high in intervals)
