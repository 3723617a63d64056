"""meta_train: gradient descent on phi, checked step by step against the exact reference."""

from fractions import Fraction

import numpy as np
import pytest

import metaopt
import reference as ref


@pytest.fixture(scope="module")
def run():
    return metaopt.meta_train(metaopt.PHI_OLD, eta=metaopt.ETA_TRAIN, iterations=100)


def test_shapes_and_start(run):
    assert run.phi.shape == (101, 3)
    assert run.loss.shape == (101,)
    assert run.grad.shape == (101, 3)
    assert run.phi[0].tolist() == [0.1, 0.5, -1.0]
    assert run.loss[0] == pytest.approx(7.29, rel=1e-13)
    np.testing.assert_allclose(run.grad[0], (-113.4, -5.4, 11.34), rtol=1e-12)


def test_loss_never_increases_and_converges(run):
    diffs = np.diff(run.loss)
    assert np.all(diffs <= 0), np.nonzero(diffs > 0)
    assert run.loss[1] < run.loss[0]
    # strictly decreasing while the loss is well above rounding level
    big = run.loss[:-1] > 1e-25
    assert np.all(diffs[big] < 0)
    assert run.loss[-1] < 1e-20
    assert run.loss[1] == pytest.approx(float(ref.loss(run.phi[1].tolist(), 10, 5, 2)), rel=1e-9)


def test_each_update_is_phi_minus_eta_grad(run):
    eta = metaopt.ETA_TRAIN
    for k in range(100):
        assert np.array_equal(run.phi[k + 1], run.phi[k] - eta * run.grad[k]), k


def test_recorded_loss_and_grad_are_right(run):
    """Every recorded (loss, grad) against the exact forward-mode reference at the recorded phi."""
    for k in range(0, 101, 5):
        ex = ref.forward(run.phi[k].tolist(), 10, 5, 2)
        atol = 1e-12 * ref.float_scale(ex)
        ref.assert_close_exact(run.loss[k], ex.loss, 1e-9, atol, f"loss[{k}]")
        ref.assert_close_exact(run.grad[k], ex.dloss, 1e-9, atol, f"grad[{k}]")


def test_trained_optimizer_reaches_theta_star(run):
    """The final phi, unrolled exactly for 2 steps from theta0 = 10, lands on theta* = 5."""
    ex = ref.forward(run.phi[-1].tolist(), 10, 5, 2)
    assert abs(ex.theta[2] - 5) < Fraction(1, 10**9)
    assert ex.theta[0] == 10 and abs(ex.theta[1] - 5) > 1  # it gets there in two steps, not one
    # the float library agrees
    assert metaopt.unroll(run.phi[-1]).theta[-1] == pytest.approx(5.0, abs=1e-9)


def test_trained_phi_is_a_zero_of_the_two_step_factor(run):
    """theta_2 - theta* = (theta0 - theta*) r(phi), r = (1 + 2 phi1 phi3)^2 + 2 phi1 phi2 phi3 (by hand):
    training drives r to 0."""
    p1, p2, p3 = (Fraction(v) for v in run.phi[-1].tolist())
    r = (1 + 2 * p1 * p3) ** 2 + 2 * p1 * p2 * p3
    assert abs(r) < Fraction(1, 10**9)


def test_zero_iterations():
    run = metaopt.meta_train(metaopt.PHI_OLD, eta=metaopt.ETA_TRAIN, iterations=0)
    assert run.phi.shape == (1, 3) and run.loss.shape == (1,) and run.grad.shape == (1, 3)
    assert run.phi[0].tolist() == [0.1, 0.5, -1.0]
    assert run.loss[0] == pytest.approx(7.29, rel=1e-13)


def test_defaults():
    """Defaults: the document's phi_old, theta0, theta*, T; only eta and iterations chosen here."""
    a = metaopt.meta_train(eta=0.001, iterations=3)
    b = metaopt.meta_train(metaopt.PHI_OLD, eta=0.001, iterations=3, theta0=10.0, theta_star=5.0, steps=2)
    assert np.array_equal(a.phi, b.phi) and np.array_equal(a.loss, b.loss)


def test_old_positional_call_is_a_type_error():
    """Only phi is positional: the old positional call meta_train(phi, eta, iterations, ...) raises TypeError."""
    with pytest.raises(TypeError, match="positional argument"):
        metaopt.meta_train(metaopt.PHI_OLD, 0.001, 3, 10.0, 5.0, 2)
    with pytest.raises(TypeError, match="positional argument"):
        metaopt.meta_step(metaopt.PHI_OLD, (15.0, 8.0, -10.0), 0.01)


def test_other_problem_trains_too():
    """A different theta0, theta*, horizon: the loss still goes down and the record is consistent."""
    run = metaopt.meta_train((0.05, 0.2, -0.5), eta=1e-4, iterations=30, theta0=-3.0, theta_star=4.0, steps=3)
    assert run.loss[-1] < run.loss[0]
    for k in range(30):
        assert np.array_equal(run.phi[k + 1], run.phi[k] - 1e-4 * run.grad[k])
    ex = ref.forward(run.phi[17].tolist(), -3.0, 4.0, 3)
    ref.assert_close_exact(run.grad[17], ex.dloss, 1e-9, 1e-12 * ref.float_scale(ex), "grad[17]")


def test_meta_train_loop_is_gradient_then_step():
    """train.meta_train_loop, the outer loop behind every meta-trainer: records phi, loss, grad; iteration 0 is the start."""
    from metaopt import train

    calls = []

    def gradient(phi):
        calls.append(("gradient", phi.tolist()))
        return float(phi.sum()), np.ones(3)  # loss = sum(phi), grad = (1, 1, 1)

    def step(phi, grad):
        calls.append(("step", phi.tolist()))
        return phi - 0.5 * grad

    record = train.meta_train_loop((1.0, 2.0, 3.0), gradient=gradient, step=step, iterations=2)
    assert isinstance(record, metaopt.MetaTraining)
    assert record.phi.tolist() == [[1.0, 2.0, 3.0], [0.5, 1.5, 2.5], [0.0, 1.0, 2.0]]
    assert record.loss.tolist() == [6.0, 4.5, 3.0]
    assert record.grad.tolist() == [[1.0, 1.0, 1.0]] * 3
    assert [c[0] for c in calls] == ["gradient", "step", "gradient", "step", "gradient"]


def test_meta_train_loop_names_the_iteration_with_context_and_advice():
    from metaopt import train

    def gradient(phi):
        if phi[0] < -0.5:
            raise metaopt.DivergenceError("the inner loop diverged")
        return 1.0, np.ones(3)

    with pytest.raises(metaopt.DivergenceError) as info:
        train.meta_train_loop((0.0, 0.0, 0.0), gradient=gradient, step=lambda phi, grad: phi - 0.4 * grad,
                              iterations=5, context=" (here)", advice=" Try again.")
    # phi1 = 0, -0.4, -0.8: the gradient at iteration 2 raises
    assert str(info.value) == "meta-training diverged at iteration 2 (here): the inner loop diverged Try again."

    def bad_step(phi, grad):
        raise metaopt.DivergenceError("the update overflowed")

    with pytest.raises(metaopt.DivergenceError, match=r"^meta-training diverged at iteration 1: the update overflowed$"):
        train.meta_train_loop((0.0, 0.0, 0.0), gradient=gradient, step=bad_step, iterations=3)


def test_meta_train_loop_bad_arguments():
    from metaopt import train

    good = dict(gradient=lambda phi: (1.0, np.ones(3)), step=lambda phi, grad: phi, iterations=1)
    with pytest.raises(TypeError, match="gradient"):
        train.meta_train_loop(metaopt.PHI_OLD, **dict(good, gradient=None))
    with pytest.raises(TypeError, match="step"):
        train.meta_train_loop(metaopt.PHI_OLD, **dict(good, step=3))
    with pytest.raises(ValueError, match="iterations"):
        train.meta_train_loop(metaopt.PHI_OLD, **dict(good, iterations=-1))
    with pytest.raises(TypeError, match="iterations"):
        train.meta_train_loop(metaopt.PHI_OLD, **dict(good, iterations=2.5))
    with pytest.raises(ValueError, match="phi"):
        train.meta_train_loop((0.1, 0.5), **good)
    with pytest.raises(TypeError, match="positional argument"):  # old order (phi, iterations, gradient, step), positionally
        train.meta_train_loop(metaopt.PHI_OLD, 1, good["gradient"], good["step"])
