"""Every number of the source document, typed from the document itself.

The document's example: phi_old = (0.1, 0.5, -1.0), theta_0 = 10, theta* = 5,
T = 2 inner steps, meta step size eta = 0.01, and an "assumed" meta-gradient
(15, 8, -10). None of the expected values below is computed by metaopt.
"""

from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

import metaopt
import reference as ref
from metaopt import symbolic

# The document's inputs, typed in.
DOC_PHI = (0.1, 0.5, -1.0)
DOC_THETA0 = 10.0
DOC_THETA_STAR = 5.0
DOC_STEPS = 2
DOC_ETA = 0.01
DOC_ASSUMED = (15.0, 8.0, -10.0)

# The document's inner loop, typed in:
#   ∇0 = 2(10 − 5) = 10,  h0 = 0.1·10 = 1.0,        g0 = −1·1.0 = −1.0, θ1 = 9.0
#   ∇1 = 2(9 − 5)  = 8,   h1 = 0.1·8 + 0.5·1.0 = 1.3, g1 = −1.3,        θ2 = 7.7
#   L(θ2) = (7.7 − 5)² = 2.7² = 7.29
DOC_THETA = [10.0, 9.0, 7.7]
DOC_GRAD = [10.0, 8.0]
DOC_H = [1.0, 1.3]
DOC_G = [-1.0, -1.3]
DOC_LOSS = 7.29

# The true meta-gradient at the document's values, by hand.
# With e_t = θ_t − θ* and a = φ1·φ3:
#   e1 = e0 + φ3·φ1·2e0 = e0 (1 + 2a),           h0 = 2 φ1 e0
#   e2 = e1 + φ3 (φ1·2e1 + φ2 h0) = e1 (1 + 2a) + 2 a φ2 e0
#      = e0 [(1 + 2a)² + 2 a φ2] = e0 · r,  r = (1 + 2φ1φ3)² + 2 φ1 φ2 φ3.
# e0 = 5, so L = 25 r², and ∂L/∂φ = 50 r ∂r/∂φ.
# At φ = (1/10, 1/2, −1): a = −1/10, 1 + 2a = 4/5,
#   r = 16/25 − 1/10 = 27/50 = 0.54       (L = 25 · 0.2916 = 7.29 ✓)
#   ∂r/∂φ1 = 2(1 + 2a)·2φ3 + 2φ2φ3 = −16/5 − 1   = −21/5  = −4.2
#   ∂r/∂φ2 = 2φ1φ3                              = −1/5   = −0.2
#   ∂r/∂φ3 = 2(1 + 2a)·2φ1 + 2φ1φ2 = 8/25 + 1/10 = 21/50  = 0.42
#   50 r = 27, so ∂L/∂φ = 27 · (−21/5, −1/5, 21/50) = (−567/5, −27/5, 567/50)
#                                                  = (−113.4, −5.4, 11.34).
TRUE_GRAD_EXACT = (Fraction(-567, 5), Fraction(-27, 5), Fraction(567, 50))
TRUE_GRAD = (-113.4, -5.4, 11.34)

# The document's update with the assumed gradient:
#   φ_new = (0.1, 0.5, −1.0) − 0.01·(15, 8, −10) = (−0.05, 0.42, −0.9).
DOC_PHI_NEW = (-0.05, 0.42, -0.9)
# Its meta-loss, by the formula above: a = 0.045, r = 1.09² + 2·0.045·0.42 = 1.2259,
#   L = 25 · 1.2259² = 25 · 1.50283081 = 37.57077025  (> 7.29: the loss went up).
DOC_LOSS_AFTER_ASSUMED = Fraction("37.57077025")

# The true-gradient update φ − η·∇L, typed in:
#   η = 0.01:  (0.1 + 1.134, 0.5 + 0.054, −1 − 0.1134)      = (1.234, 0.554, −1.1134)
#   η = 0.001: (0.1 + 0.1134, 0.5 + 0.0054, −1 − 0.01134)   = (0.2134, 0.5054, −1.01134)
PHI_TRUE_STEP_001 = ("1.234", "0.554", "-1.1134")
PHI_TRUE_STEP_0001 = ("0.2134", "0.5054", "-1.01134")


def test_constants_are_the_documents():
    assert metaopt.PHI_OLD == DOC_PHI
    assert metaopt.THETA0 == DOC_THETA0
    assert metaopt.THETA_STAR == DOC_THETA_STAR
    assert metaopt.STEPS == DOC_STEPS
    assert metaopt.ETA == DOC_ETA
    assert metaopt.ETA_TRAIN == 0.001
    assert tuple(metaopt.ASSUMED_GRADIENT) == DOC_ASSUMED
    assert metaopt.CURVATURE == 1.0  # the document's (theta - 5)^2


def test_constants_are_defined_once_in_metaopt_document():
    from metaopt import document

    for name in ("PHI_OLD", "THETA0", "THETA_STAR", "STEPS", "CURVATURE", "ETA", "ETA_TRAIN", "ASSUMED_GRADIENT"):
        assert getattr(metaopt, name) is getattr(document, name), name


def test_reference_loop_reproduces_the_document():
    """The independent Fraction loop gives the document's numbers exactly (sanity of the reference)."""
    phi = ("0.1", "0.5", "-1")
    ex = ref.forward(phi, 10, 5, 2)
    assert ex.theta == [Fraction(10), Fraction(9), Fraction("7.7")]
    assert ex.grad == [Fraction(10), Fraction(8)]
    assert ex.h == [Fraction(1), Fraction("1.3")]
    assert ex.g == [Fraction(-1), Fraction("-1.3")]
    assert ex.loss == Fraction("7.29")
    assert ex.dloss == TRUE_GRAD_EXACT


def test_unroll_document_trajectory():
    traj = metaopt.unroll(DOC_PHI, theta0=DOC_THETA0, theta_star=DOC_THETA_STAR, steps=DOC_STEPS)
    assert traj.theta.shape == (3,)
    assert traj.grad.shape == traj.h.shape == traj.g.shape == (2,)
    np.testing.assert_allclose(traj.theta, DOC_THETA, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(traj.grad, DOC_GRAD, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(traj.h, DOC_H, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(traj.g, DOC_G, rtol=1e-14, atol=1e-14)


def test_unroll_defaults_are_the_document():
    traj = metaopt.unroll()
    np.testing.assert_allclose(traj.theta, DOC_THETA, rtol=1e-14)


def test_document_meta_loss():
    assert metaopt.meta_loss(DOC_PHI, theta0=DOC_THETA0, theta_star=DOC_THETA_STAR, steps=DOC_STEPS) == pytest.approx(DOC_LOSS, rel=1e-13)
    loss, _ = metaopt.meta_gradient(DOC_PHI, theta0=DOC_THETA0, theta_star=DOC_THETA_STAR, steps=DOC_STEPS)
    assert type(loss) is float  # a Python float when unbatched
    assert loss == pytest.approx(DOC_LOSS, rel=1e-13)


def test_document_update_with_assumed_gradient():
    phi_new = metaopt.meta_step(DOC_PHI, grad=DOC_ASSUMED, eta=DOC_ETA)
    assert phi_new.shape == (3,)
    np.testing.assert_allclose(phi_new, DOC_PHI_NEW, rtol=1e-13, atol=1e-15)


def test_true_meta_gradient_float():
    loss, grad = metaopt.meta_gradient(DOC_PHI, theta0=DOC_THETA0, theta_star=DOC_THETA_STAR, steps=DOC_STEPS)
    assert grad.shape == (3,)
    np.testing.assert_allclose(grad, TRUE_GRAD, rtol=1e-12)


def test_true_meta_gradient_exact_sympy():
    L, dL = symbolic.meta_gradient(steps=DOC_STEPS, theta0=DOC_THETA0, theta_star=DOC_THETA_STAR)
    at = {symbolic.phi1: sp.Rational(1, 10), symbolic.phi2: sp.Rational(1, 2), symbolic.phi3: -1}
    assert L.subs(at) == sp.Rational(729, 100)
    got = tuple(d.subs(at) for d in dL)
    assert got == (sp.Rational(-567, 5), sp.Rational(-27, 5), sp.Rational(567, 50))
    assert all(isinstance(x, sp.Rational) for x in got)


def test_assumed_gradient_points_uphill():
    # 15·(−113.4) + 8·(−5.4) + (−10)·11.34 = −1701 − 43.2 − 113.4 = −1857.6 < 0:
    # −assumed is an ascent direction of the true meta-loss.
    dot = sum(a * Fraction(str(b)) for a, b in zip(TRUE_GRAD_EXACT, DOC_ASSUMED))
    assert dot == Fraction("-1857.6")
    _, grad = metaopt.meta_gradient(DOC_PHI, theta0=DOC_THETA0, theta_star=DOC_THETA_STAR, steps=DOC_STEPS)
    assert float(np.dot(grad, DOC_ASSUMED)) == pytest.approx(-1857.6, rel=1e-12)
    assert float(np.dot(grad, DOC_ASSUMED)) < 0


def test_document_update_raises_the_loss():
    after = metaopt.meta_loss(DOC_PHI_NEW, theta0=DOC_THETA0, theta_star=DOC_THETA_STAR, steps=DOC_STEPS)
    assert after > DOC_LOSS
    assert after == pytest.approx(float(DOC_LOSS_AFTER_ASSUMED), rel=1e-12)
    # exact, by the independent loop, on the decimal values
    assert ref.loss(("-0.05", "0.42", "-0.9"), 10, 5, 2) == DOC_LOSS_AFTER_ASSUMED
    # and through meta_step, without typing phi_new
    stepped = metaopt.meta_step(DOC_PHI, grad=DOC_ASSUMED, eta=DOC_ETA)
    assert metaopt.meta_loss(stepped, theta0=DOC_THETA0, theta_star=DOC_THETA_STAR, steps=DOC_STEPS) > DOC_LOSS


def test_true_gradient_step_of_eta_001_overshoots():
    exact_after = ref.loss(PHI_TRUE_STEP_001, 10, 5, 2)
    assert exact_after > Fraction("7.29")
    phi = metaopt.meta_step(DOC_PHI, grad=TRUE_GRAD, eta=DOC_ETA)
    np.testing.assert_allclose(phi, [float(Fraction(v)) for v in PHI_TRUE_STEP_001], rtol=1e-13)
    after = metaopt.meta_loss(phi, theta0=DOC_THETA0, theta_star=DOC_THETA_STAR, steps=DOC_STEPS)
    assert after > DOC_LOSS
    assert after == pytest.approx(float(exact_after), rel=1e-10)


def test_true_gradient_step_of_eta_train_descends():
    exact_after = ref.loss(PHI_TRUE_STEP_0001, 10, 5, 2)
    assert exact_after < Fraction("7.29")
    phi = metaopt.meta_step(DOC_PHI, grad=TRUE_GRAD, eta=metaopt.ETA_TRAIN)
    np.testing.assert_allclose(phi, [float(Fraction(v)) for v in PHI_TRUE_STEP_0001], rtol=1e-13)
    after = metaopt.meta_loss(phi, theta0=DOC_THETA0, theta_star=DOC_THETA_STAR, steps=DOC_STEPS)
    assert after < DOC_LOSS
    assert after == pytest.approx(float(exact_after), rel=1e-10)
