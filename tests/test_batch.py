"""Batches: phi of shape (..., 3) and broadcast theta0 / theta_star give, element by
element, the same numbers as one call per case (the computation is element-wise,
so equality is exact)."""

import itertools

import numpy as np
import pytest

import metaopt
import reference as ref

STEPS = [0, 1, 2, 5]


def _random_phi(shape, seed):
    rng = np.random.default_rng(seed)
    phi = np.empty(shape + (3,))
    phi[..., 0] = rng.uniform(-1, 1, shape)
    phi[..., 1] = rng.uniform(-0.9, 0.9, shape)
    phi[..., 2] = rng.uniform(-1, 1, shape)
    return phi


@pytest.mark.parametrize("steps", STEPS)
@pytest.mark.parametrize("shape", [(7,), (3, 4), (1,), (2, 1, 3)])
def test_unroll_batch_equals_per_case(shape, steps):
    phi = _random_phi(shape, seed=len(shape) * 10 + steps)
    traj = metaopt.unroll(phi, theta0=2.5, theta_star=-1.25, steps=steps)
    assert traj.theta.shape == shape + (steps + 1,)
    assert traj.grad.shape == traj.h.shape == traj.g.shape == shape + (steps,)
    for idx in itertools.product(*(range(n) for n in shape)):
        one = metaopt.unroll(phi[idx], theta0=2.5, theta_star=-1.25, steps=steps)
        for name in ("theta", "grad", "h", "g"):
            assert np.array_equal(getattr(traj, name)[idx], getattr(one, name)), (idx, name)


@pytest.mark.parametrize("steps", STEPS)
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 1, 3)])
def test_meta_gradient_batch_equals_per_case(shape, steps):
    phi = _random_phi(shape, seed=100 + len(shape) * 10 + steps)
    loss, grad = metaopt.meta_gradient(phi, theta0=3.0, theta_star=7.5, steps=steps)
    assert isinstance(loss, np.ndarray) and loss.shape == shape
    assert grad.shape == shape + (3,)
    losses = metaopt.meta_loss(phi, theta0=3.0, theta_star=7.5, steps=steps)
    assert isinstance(losses, np.ndarray) and losses.shape == shape
    for idx in itertools.product(*(range(n) for n in shape)):
        l1, g1 = metaopt.meta_gradient(phi[idx], theta0=3.0, theta_star=7.5, steps=steps)
        assert loss[idx] == l1 and losses[idx] == l1
        assert np.array_equal(grad[idx], g1)


def test_batch_values_are_right_not_only_consistent():
    """A batch against the exact reference loop, so an error common to both paths is caught too."""
    phi = _random_phi((4, 2), seed=7)
    loss, grad = metaopt.meta_gradient(phi, theta0=-4.0, theta_star=6.0, steps=3)
    for idx in itertools.product(range(4), range(2)):
        ex = ref.forward(phi[idx].tolist(), -4.0, 6.0, 3)
        atol = 1e-12 * ref.float_scale(ex)
        ref.assert_close_exact(loss[idx], ex.loss, 1e-9, atol, "loss")
        ref.assert_close_exact(grad[idx], ex.dloss, 1e-9, atol, "grad")


def test_rows_do_not_interact():
    """Changing one row leaves the others bit-identical."""
    phi = _random_phi((5,), seed=3)
    _, grad = metaopt.meta_gradient(phi, theta0=10.0, theta_star=5.0, steps=4)
    phi2 = phi.copy()
    phi2[2] = (0.3, -0.2, 0.9)
    _, grad2 = metaopt.meta_gradient(phi2, theta0=10.0, theta_star=5.0, steps=4)
    keep = [0, 1, 3, 4]
    assert np.array_equal(grad[keep], grad2[keep])
    assert not np.array_equal(grad[2], grad2[2])


def test_broadcast_theta0_and_theta_star():
    phi = _random_phi((4, 1), seed=11)  # batch shape (4, 1)
    theta0 = np.array([10.0, -3.0, 0.5])  # (3,)
    theta_star = np.array([[5.0], [1.0], [-2.0], [0.0]])  # (4, 1)
    steps = 3
    traj = metaopt.unroll(phi, theta0=theta0, theta_star=theta_star, steps=steps)
    loss, grad = metaopt.meta_gradient(phi, theta0=theta0, theta_star=theta_star, steps=steps)
    assert traj.theta.shape == (4, 3, steps + 1)
    assert loss.shape == (4, 3) and grad.shape == (4, 3, 3)
    for i, j in itertools.product(range(4), range(3)):
        one = metaopt.unroll(phi[i, 0], theta0=theta0[j], theta_star=theta_star[i, 0], steps=steps)
        assert np.array_equal(traj.theta[i, j], one.theta)
        assert np.array_equal(traj.g[i, j], one.g)
        l1, g1 = metaopt.meta_gradient(phi[i, 0], theta0=theta0[j], theta_star=theta_star[i, 0], steps=steps)
        assert loss[i, j] == l1 and np.array_equal(grad[i, j], g1)
        assert traj.theta[i, j, 0] == theta0[j]


def test_single_phi_with_array_of_theta0():
    """An unbatched phi with an array theta0: the batch shape comes from theta0."""
    theta0 = np.array([10.0, 6.0, 5.0, -1.0])
    loss, grad = metaopt.meta_gradient(metaopt.PHI_OLD, theta0=theta0, theta_star=5.0, steps=2)
    assert loss.shape == (4,) and grad.shape == (4, 3)
    # L = (theta0 - 5)^2 r^2 with r = 0.54 at phi_old (see test_document): scales with e0^2
    np.testing.assert_allclose(loss, (theta0 - 5.0) ** 2 * 0.54**2, rtol=1e-12, atol=1e-15)
    assert loss[2] == 0.0 and np.array_equal(grad[2], np.zeros(3))
    for j, t0 in enumerate(theta0):
        l1, g1 = metaopt.meta_gradient(metaopt.PHI_OLD, theta0=t0, theta_star=5.0, steps=2)
        assert loss[j] == l1 and np.array_equal(grad[j], g1)


def test_incompatible_batch_shapes_raise():
    with pytest.raises(ValueError, match="broadcast"):
        metaopt.unroll(np.zeros((3, 3)), theta0=np.zeros(4), theta_star=5.0, steps=2)


def test_finite_difference_batch_shape():
    phi = _random_phi((2, 3), seed=5)
    fd = metaopt.finite_difference(phi, theta0=1.0, theta_star=-1.0, steps=3)
    assert fd.shape == (2, 3, 3)
    _, grad = metaopt.meta_gradient(phi, theta0=1.0, theta_star=-1.0, steps=3)
    np.testing.assert_allclose(fd, grad, rtol=1e-6, atol=1e-6)


def test_meta_step_batch():
    phi = _random_phi((4,), seed=9)
    grad = _random_phi((4,), seed=10)
    out = metaopt.meta_step(phi, grad=grad, eta=0.5)
    assert out.shape == (4, 3)
    for i in range(4):
        assert np.array_equal(out[i], metaopt.meta_step(phi[i], grad=grad[i], eta=0.5))
        assert np.array_equal(out[i], phi[i] - 0.5 * grad[i])


@pytest.mark.parametrize("shape", [(3,), (2, 2)])
def test_meta_train_batch_equals_per_row(shape):
    phi = _random_phi(shape, seed=42) * 0.5
    run = metaopt.meta_train(phi, eta=0.001, iterations=15, theta0=10.0, theta_star=5.0, steps=2)
    assert run.phi.shape == (16,) + shape + (3,)
    assert run.loss.shape == (16,) + shape
    assert run.grad.shape == (16,) + shape + (3,)
    assert np.array_equal(run.phi[0], phi)
    for idx in itertools.product(*(range(n) for n in shape)):
        one = metaopt.meta_train(phi[idx], eta=0.001, iterations=15, theta0=10.0, theta_star=5.0, steps=2)
        assert one.phi.shape == (16, 3) and one.loss.shape == (16,)
        sel = (slice(None),) + idx
        assert np.array_equal(run.phi[sel], one.phi), idx
        assert np.array_equal(run.loss[sel], one.loss), idx
        assert np.array_equal(run.grad[sel], one.grad), idx
