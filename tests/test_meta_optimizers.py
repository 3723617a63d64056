"""metaopt.meta_optimizers: SGD and Adam in optax style, checked against a plain-Python
transcription of Kingma & Ba's Algorithm 1, closed forms, and the Fraction reference."""

import math

import numpy as np
import pytest

import metaopt
import reference as ref
from metaopt import meta_optimizers as mo


def adam_algorithm_1(grad_f, x0, alpha, beta1, beta2, eps, iterations):
    """Kingma & Ba (2015), Algorithm 1, line by line, one coordinate at a time, in plain floats."""
    theta = list(x0)
    m = [0.0] * len(theta)  # Initialize 1st moment vector
    v = [0.0] * len(theta)  # Initialize 2nd moment vector
    path = [list(theta)]
    for t in range(1, iterations + 1):
        g = grad_f(theta)
        for i in range(len(theta)):
            m[i] = beta1 * m[i] + (1 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] ** 2
            m_hat = m[i] / (1 - beta1**t)
            v_hat = v[i] / (1 - beta2**t)
            theta[i] = theta[i] - alpha * m_hat / (math.sqrt(v_hat) + eps)
        path.append(list(theta))
    return path


def run(optimizer, grad_f, x0, iterations):
    x = np.array(x0, dtype=float)
    state = optimizer.init(x)
    path = [x.copy()]
    for _ in range(iterations):
        updates, state = optimizer.update(grad_f(x), state)
        x = x + updates
        path.append(x.copy())
    return np.array(path)


@pytest.mark.parametrize("seed", range(5))
def test_adam_matches_algorithm_1_on_a_quadratic(seed):
    rng = np.random.default_rng(70 + seed)
    c = rng.uniform(0.1, 50.0, 3)  # curvatures of f(x) = 1/2 sum c_i (x_i - x*_i)^2
    x_star = rng.uniform(-3, 3, 3)
    grad_f = lambda x: [float(ci * (xi - si)) for ci, xi, si in zip(c, x, x_star)]  # noqa: E731
    x0 = rng.uniform(-3, 3, 3)
    settings = dict(alpha=float(rng.uniform(1e-3, 0.1)), beta1=0.9, beta2=0.999, eps=1e-8)
    expected = adam_algorithm_1(grad_f, x0, iterations=200, **settings)
    got = run(mo.adam(settings["alpha"], b1=settings["beta1"], b2=settings["beta2"], eps=settings["eps"]), grad_f, x0, 200)
    np.testing.assert_allclose(got, np.array(expected), rtol=1e-12, atol=1e-12)


def test_adam_first_step_is_eta_times_sign():
    """Closed form: after one step m_hat = g and v_hat = g^2, so the update is -eta g / (|g| + eps)."""
    g = np.array([-113.4, -5.4, 11.34])
    opt = mo.adam(0.01)
    updates, state = opt.update(g, opt.init(np.zeros(3)))
    np.testing.assert_allclose(updates, -0.01 * g / (np.abs(g) + 1e-8), rtol=1e-12)
    assert state.count == 1


def test_sgd_training_is_the_exact_gradient_descent():
    """Three SGD meta-steps from phi_old, against phi - eta dL/dphi with the Fraction reference's gradient."""
    eta = 0.001
    record = mo.meta_train_with(metaopt.PHI_OLD, optimizer=mo.sgd(eta), iterations=3)
    phi = list(metaopt.PHI_OLD)
    for k in range(4):
        exact = ref.forward(phi, 10.0, 5.0, 2)
        np.testing.assert_allclose(record.phi[k], phi, rtol=1e-12)
        assert record.loss[k] == pytest.approx(float(exact.loss), rel=1e-10)
        phi = [p - eta * float(d) for p, d in zip(phi, exact.dloss)]


def test_sgd_training_follows_the_exact_meta_gradient():
    """Both SGD meta-trainers take 20 steps phi <- phi - eta * dL/dphi, with dL/dphi from the exact
    reference (tests/reference.py: rationals, forward mode) at each float phi, not from metaopt."""
    eta, phi, expected = 0.002, np.array(metaopt.PHI_OLD), [np.array(metaopt.PHI_OLD)]
    for _ in range(20):
        exact = ref.forward(phi.tolist(), 10.0, 5.0, 2)
        phi = phi - eta * np.array([float(d) for d in exact.dloss])
        expected.append(phi)
    for record in (mo.meta_train_with(metaopt.PHI_OLD, optimizer=mo.sgd(eta), iterations=20),
                   metaopt.meta_train(metaopt.PHI_OLD, eta=eta, iterations=20)):
        np.testing.assert_allclose(record.phi, expected, rtol=1e-12)


def test_custom_gradient_is_used():
    calls = []

    def fake(phi, *, theta0, theta_star, steps):  # called with the problem by keyword
        calls.append((theta0, theta_star, steps))
        return 1.0, np.array([1.0, 2.0, 3.0])

    record = mo.meta_train_with((0.0, 0.0, 0.0), optimizer=mo.sgd(0.5), iterations=2, gradient=fake)
    np.testing.assert_allclose(record.phi[-1], [-1.0, -2.0, -3.0])
    assert calls == [(10.0, 5.0, 2)] * 3  # the document's problem by default
    mo.meta_train_with((0.0, 0.0, 0.0), optimizer=mo.sgd(0.5), iterations=0, gradient=fake,
                       theta0=-1.0, theta_star=2.0, steps=4)
    assert calls[-1] == (-1.0, 2.0, 4)
    # the record's loss is whatever the gradient function reports with it
    assert record.loss.tolist() == [1.0, 1.0, 1.0]


def test_divergence_names_the_iteration():
    with pytest.raises(metaopt.DivergenceError, match="iteration"):
        mo.meta_train_with(metaopt.PHI_OLD, optimizer=mo.sgd(0.01), iterations=50)


def test_an_overflowing_update_is_not_silent():
    """A finite gradient whose update leaves the float range stops training, naming the iteration."""
    huge = lambda phi, **problem: (1.0, np.full(3, 1e308))  # noqa: E731
    with pytest.raises(metaopt.DivergenceError, match=r"iteration 1: the update of the parameters overflowed"):
        mo.meta_train_with(metaopt.PHI_OLD, optimizer=mo.sgd(10.0), iterations=3, gradient=huge)


@pytest.mark.parametrize(
    "make, exc",
    [
        (lambda: mo.sgd(0.0), ValueError),
        (lambda: mo.sgd("0.1"), TypeError),
        (lambda: mo.adam(-1.0), ValueError),
        (lambda: mo.adam(0.01, b1=1.0), ValueError),
        (lambda: mo.adam(0.01, b2=True), TypeError),
        (lambda: mo.adam(0.01, eps=0.0), ValueError),
    ],
)
def test_bad_settings(make, exc):
    with pytest.raises(exc):
        make()


def test_bad_training_arguments():
    with pytest.raises(TypeError, match="optimizer"):
        mo.meta_train_with(optimizer=0.01)
    with pytest.raises(TypeError, match="optimizer"):
        mo.meta_train_with(0.01)  # no optimizer given
    with pytest.raises(ValueError, match="iterations"):
        mo.meta_train_with(optimizer=mo.sgd(0.1), iterations=-1)
    with pytest.raises(TypeError, match="gradient"):
        mo.meta_train_with(optimizer=mo.sgd(0.1), gradient="exact")


def test_old_positional_calls_raise_type_error():
    """phi is the only positional argument of meta_train_with; the old order (optimizer, phi) raises TypeError."""
    with pytest.raises(TypeError, match="positional argument"):
        mo.meta_train_with(mo.sgd(0.001), metaopt.PHI_OLD, iterations=3)
    with pytest.raises(TypeError, match="positional argument"):
        mo.adam(0.01, 0.9, 0.999, 1e-8)
    with pytest.raises(TypeError, match="positional argument"):
        mo.momentum(0.01, 0.9)
    with pytest.raises(TypeError, match="positional argument"):
        mo.apply(mo.sgd(0.1), np.zeros(3))


def test_adam_defaults_are_kingma_and_ba():
    assert (mo.ADAM_B1, mo.ADAM_B2, mo.ADAM_EPS) == (0.9, 0.999, 1e-8)
    rng = np.random.default_rng(75)
    grads = rng.normal(size=(6, 3))
    feed = iter(grads)
    expected = adam_algorithm_1(lambda x: list(next(feed)), [0.0, 0.0, 0.0], 0.001, 0.9, 0.999, 1e-8, 6)
    feed2 = iter(grads)
    got = run(mo.adam(), lambda x: next(feed2), [0.0, 0.0, 0.0], 6)
    np.testing.assert_allclose(got, np.array(expected), rtol=1e-12, atol=1e-15)


def heavy_ball_plain(grad_f, x0, lr, beta, iterations):
    """Polyak's heavy ball as the velocity form v_k = beta v_{k-1} + g_k, x_k = x_{k-1} - lr v_k, in plain floats."""
    x = list(x0)
    v = [0.0] * len(x)
    path = [list(x)]
    for _ in range(iterations):
        g = grad_f(x)
        for i in range(len(x)):
            v[i] = beta * v[i] + g[i]
            x[i] = x[i] - lr * v[i]
        path.append(list(x))
    return path


@pytest.mark.parametrize("seed", range(3))
def test_momentum_matches_plain_heavy_ball(seed):
    rng = np.random.default_rng(76 + seed)
    c = rng.uniform(0.1, 5.0, 3)
    x_star = rng.uniform(-3, 3, 3)
    grad_f = lambda x: [float(ci * (xi - si)) for ci, xi, si in zip(c, x, x_star)]  # noqa: E731
    x0 = rng.uniform(-3, 3, 3)
    lr, beta = float(rng.uniform(0.01, 0.1)), float(rng.uniform(0.0, 0.9))
    expected = heavy_ball_plain(grad_f, x0, lr, beta, 100)
    got = run(mo.momentum(lr, beta=beta), grad_f, x0, 100)
    np.testing.assert_allclose(got, np.array(expected), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "make, exc",
    [
        (lambda: mo.momentum(0.0, beta=0.5), ValueError),
        (lambda: mo.momentum(0.1, beta=1.0), ValueError),
        (lambda: mo.momentum(0.1, beta=-0.1), ValueError),
        (lambda: mo.momentum(0.1, beta="0.5"), TypeError),
        (lambda: mo.momentum(None, beta=0.5), TypeError),
    ],
)
def test_bad_momentum_settings(make, exc):
    with pytest.raises(exc):
        make()


def test_apply_keeps_the_state_between_calls():
    """apply(optimizer, params=...) steps like init/update by hand: Adam's second step is not its first."""
    g1, g2 = np.array([1.0, -2.0, 3.0]), np.array([0.5, 0.5, -4.0])
    x0 = np.array([0.1, 0.5, -1.0])
    step = mo.apply(mo.adam(0.01), params=x0)
    x1 = step(x0, g1)
    x2 = step(x1, g2)
    feed = iter([g1, g2])
    expected = adam_algorithm_1(lambda x: list(next(feed)), list(x0), 0.01, 0.9, 0.999, 1e-8, 2)
    np.testing.assert_allclose([x0, x1, x2], np.array(expected), rtol=1e-13, atol=1e-15)
    sgd_step = mo.apply(mo.sgd(0.5), params=x0)
    assert np.array_equal(sgd_step(x0, g1), x0 - 0.5 * g1)


def test_apply_raises_on_an_overflowing_update():
    step = mo.apply(mo.sgd(10.0), params=np.zeros(3))
    with pytest.raises(metaopt.DivergenceError, match="overflowed"):
        step(np.zeros(3), np.full(3, 1e308))
    with pytest.raises(TypeError, match="optimizer"):
        mo.apply("adam", params=np.zeros(3))


def test_optimizer_is_init_and_update():
    for opt in (mo.sgd(0.1), mo.momentum(0.1, beta=0.5), mo.adam(0.1)):
        assert isinstance(opt, mo.Optimizer) and opt._fields == ("init", "update")
