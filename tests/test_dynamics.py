"""metaopt.dynamics: the momentum form, the 2x2 linear system and its spectral radius,
checked against the exact Fraction loop, a plain complex-arithmetic root formula,
LAPACK eigenvalues, long unrolls, and sympy."""

import cmath
import math
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

import metaopt
import reference as ref
from metaopt import dynamics, symbolic


def test_momentum_params_document():
    params = dynamics.momentum_params(metaopt.PHI_OLD)
    assert params == (0.1, 0.5)
    assert isinstance(params, dynamics.Momentum) and (params.alpha, params.beta) == (0.1, 0.5)
    assert repr(params) == "Momentum(alpha=0.1, beta=0.5)"


@pytest.mark.parametrize("case", ref.random_cases(60, seed=51))
def test_heavy_ball_matches_exact_rnn_trajectory(case):
    """Polyak's form, with no hidden state, gives the RNN's theta_t (exact Fraction loop)."""
    phi, theta0, theta_star, steps = case
    alpha, beta = dynamics.momentum_params(phi)
    got = dynamics.heavy_ball(alpha, beta=beta, theta0=theta0, theta_star=theta_star, steps=steps)
    exact = ref.forward(phi, theta0, theta_star, steps)
    scale = ref.float_scale(exact) ** 0.5
    ref.assert_close_exact(got, exact.theta, rel=1e-9, atol=1e-12 * scale, what="heavy_ball")
    np.testing.assert_allclose(got, metaopt.unroll(phi, theta0=theta0, theta_star=theta_star, steps=steps).theta, rtol=1e-9, atol=1e-12 * scale)


def test_heavy_ball_batched():
    rng = np.random.default_rng(5)
    phi = np.column_stack([rng.uniform(-1, 1, 7), rng.uniform(-0.9, 0.9, 7), rng.uniform(-1, 1, 7)])
    alpha, beta = dynamics.momentum_params(phi)
    got = dynamics.heavy_ball(alpha, beta=beta, theta0=3.0, theta_star=-1.0, steps=6)
    np.testing.assert_allclose(got, metaopt.unroll(phi, theta0=3.0, theta_star=-1.0, steps=6).theta, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", ref.random_cases(40, seed=52))
def test_matrix_powers_give_the_exact_errors(case):
    """(e_t, g_{t-1}) = M^t (e_0, 0), with e_t and g_t from the Fraction loop."""
    phi, theta0, theta_star, steps = case
    M = dynamics.transition_matrix(phi)
    exact = ref.forward(phi, theta0, theta_star, steps)
    z = np.array([theta0 - theta_star, 0.0])
    scale = ref.float_scale(exact) ** 0.5
    for t in range(steps):
        z = M @ z
        e_next = exact.theta[t + 1] - ref.frac(theta_star)
        ref.assert_close_exact(z, [e_next, exact.g[t]], rel=1e-9, atol=1e-12 * scale, what=f"z_{t + 1}")


def test_transition_matrix_symbolic():
    """M from the RNN lines, derived by sympy: the Jacobian of (e_{t+1}, g_t) w.r.t. (e_t, g_{t-1})."""
    e, gp = sp.symbols("e g_prev")
    p1, p2, p3 = symbolic.PHI
    # h_{t-1} = g_{t-1} / phi3
    h = p1 * 2 * e + p2 * gp / p3
    g = p3 * h
    J = sp.Matrix([e + g, g]).jacobian([e, gp])
    rng = np.random.default_rng(53)
    for _ in range(10):
        phi = [sp.Rational(int(v), 97) for v in rng.integers(-96, 97, 3)]
        if phi[2] == 0:
            continue
        expected = np.array(J.subs(dict(zip(symbolic.PHI, phi))), dtype=float)
        np.testing.assert_allclose(dynamics.transition_matrix([float(v) for v in phi]), expected, rtol=1e-14, atol=1e-15)


def test_eigenvalues_match_lapack_and_plain_formula():
    rng = np.random.default_rng(54)
    phi = np.column_stack([rng.uniform(-2, 2, 300), rng.uniform(-1.5, 1.5, 300), rng.uniform(-2, 2, 300)])
    lam = dynamics.eigenvalues(phi)
    lapack = np.linalg.eigvals(dynamics.transition_matrix(phi))
    np.testing.assert_allclose(np.sort(np.abs(lam), -1), np.sort(np.abs(lapack), -1), rtol=1e-7, atol=1e-7)
    for p, pair in zip(phi[:50], lam[:50]):
        alpha, beta = -p[0] * p[2], p[1]
        trace = 1 - 2 * alpha + beta
        disc = cmath.sqrt(trace * trace - 4 * beta)
        plain = sorted([(trace + disc) / 2, (trace - disc) / 2], key=abs, reverse=True)
        assert abs(plain[0] - pair[0]) < 1e-9 * (1 + abs(plain[0]))
        assert abs(abs(plain[1]) - abs(pair[1])) < 1e-9 * (1 + abs(plain[1]))


def test_spectral_radius_document():
    # phi_old: complex pair, |lambda|^2 = det M = beta = 1/2
    assert dynamics.spectral_radius(metaopt.PHI_OLD) == pytest.approx(0.5**0.5, rel=1e-14)
    # the dead-beat optimizer alpha = 1/2, beta = 0 has M nilpotent
    assert dynamics.spectral_radius((0.5, 0.0, -1.0)) == 0.0


def test_spectral_radius_predicts_long_unrolls():
    """rho < 1: the error has shrunk by 1e-6 after many steps; rho > 1: it has grown by 1e10.

    Random phi, kept away from rho = 1 so that the finite horizon decides.
    """
    rng = np.random.default_rng(55)
    checked = {True: 0, False: 0}
    while min(checked.values()) < 40:
        phi = (rng.uniform(-1.5, 1.5), rng.uniform(-1.2, 1.2), rng.uniform(-1.5, 1.5))
        rho = dynamics.spectral_radius(phi)
        if abs(rho - 1) < 0.03:
            continue
        theta0, theta_star = rng.uniform(-10, 10), rng.uniform(-10, 10)
        e0 = abs(theta0 - theta_star)
        if rho < 1:
            traj = metaopt.unroll(phi, theta0=theta0, theta_star=theta_star, steps=1500)
            assert np.max(np.abs(traj.theta[-2:] - theta_star)) < 1e-6 * e0, (phi, rho)
        else:
            steps = int(np.ceil(30 * np.log(10) / np.log(rho)))
            traj = metaopt.unroll(phi, theta0=theta0, theta_star=theta_star, steps=steps)
            assert np.max(np.abs(traj.theta[-2:] - theta_star)) > 1e10 * e0, (phi, rho)
        checked[rho < 1] += 1


def test_growth_rate_is_the_spectral_radius():
    """|e_t|^(1/t) over a long unroll approaches rho."""
    rng = np.random.default_rng(56)
    for _ in range(30):
        phi = (rng.uniform(-1, 1), rng.uniform(-0.9, 0.9), rng.uniform(-1, 1))
        rho = dynamics.spectral_radius(phi)
        if rho < 0.2 or abs(rho - 1) < 0.02:
            continue
        steps = min(600, int(200 / abs(np.log(rho))))
        traj = metaopt.unroll(phi, theta0=1.0, theta_star=0.0, steps=steps)
        tail = np.maximum(np.abs(traj.theta[-1]), np.abs(traj.theta[-2]))
        rate = tail ** (1.0 / steps)
        assert rate == pytest.approx(rho, rel=0.05), (phi, rho, rate)


def test_stability_region_is_polyaks_triangle():
    """rho < 1 iff 0 < alpha < 1 + beta and |beta| < 1 (Jury's conditions for a quadratic)."""
    rng = np.random.default_rng(57)
    alpha = rng.uniform(-1, 3, 4000)
    beta = rng.uniform(-1.5, 1.5, 4000)
    margin = np.minimum.reduce([np.abs(alpha), np.abs(1 + beta - alpha), np.abs(1 - np.abs(beta))])
    keep = margin > 1e-6
    rho = dynamics.spectral_radius(dynamics.phi_from_momentum(alpha, beta=beta))
    jury = (alpha > 0) & (alpha < 1 + beta) & (np.abs(beta) < 1)
    assert np.array_equal((rho < 1)[keep], jury[keep])
    assert jury.sum() > 500 and (~jury).sum() > 500


def test_convergence_map_layout():
    alphas = np.linspace(0.05, 1.5, 7)
    betas = np.linspace(-0.5, 0.9, 5)
    grid = dynamics.convergence_map(alphas, betas=betas)
    assert grid.shape == (5, 7)
    for i, b in enumerate(betas):
        for j, a in enumerate(alphas):
            # heavy ball on (theta - theta*)^2: e_{t+1} = e_t - 2 a e_t + b (e_t - e_{t-1}), so the state
            # (e_t, e_{t-1}) is multiplied by this matrix at every step, written here from the recurrence
            M = np.array([[1 - 2 * a + b, -b], [1.0, 0.0]])
            assert grid[i, j] == pytest.approx(np.max(np.abs(np.linalg.eigvals(M))), rel=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_phi_from_momentum_runs_heavy_ball(seed):
    """phi_from_momentum's optimizer is heavy ball with that alpha and beta: its trajectory (the
    exact RNN loop of tests/reference.py) equals the exact heavy-ball recurrence written here,
    theta_{t+1} = theta_t - alpha grad_t + beta (theta_t - theta_{t-1}), in rationals; and
    momentum_params reads alpha and beta back. Random alpha, beta and phi3, nobody's choice."""
    rng = np.random.default_rng(seed)
    alpha, beta, phi3 = rng.uniform(0.01, 0.5), rng.uniform(0.0, 0.95), rng.choice([-1, 1]) * rng.uniform(0.2, 3)
    phi = dynamics.phi_from_momentum(alpha, beta=beta, phi3=phi3)
    theta0, theta_star = 10.0, 5.0
    rnn = ref.forward(phi.tolist(), theta0, theta_star, 6, number=Fraction).theta
    a, b = Fraction(alpha), Fraction(beta)
    # phi's floats round alpha = -phi1 phi3 by at most an ulp or two of phi1: compare to 1e-12
    heavy = [Fraction(theta0), Fraction(theta0)]  # theta_{-1} = theta_0
    for _ in range(6):
        now, before = heavy[-1], heavy[-2]
        heavy.append(now - a * 2 * (now - Fraction(theta_star)) + b * (now - before))
    np.testing.assert_allclose([float(v) for v in rnn], [float(v) for v in heavy[1:]], rtol=1e-12)
    assert dynamics.momentum_params(phi) == pytest.approx((alpha, beta), rel=1e-15)
    assert phi[2] == phi3 and phi[1] == beta
    with pytest.raises(ValueError, match="phi3"):
        dynamics.phi_from_momentum(0.3, beta=0.6, phi3=0.0)


def test_old_positional_calls_raise_type_error():
    """alpha (or phi) is the only positional argument; the old positional calls raise TypeError."""
    with pytest.raises(TypeError, match="positional argument"):
        dynamics.phi_from_momentum(1.2, 0.1)
    with pytest.raises(TypeError, match="positional argument"):
        dynamics.heavy_ball(0.1, 0.5, 10.0, 5.0, 2)
    with pytest.raises(TypeError, match="positional argument"):
        dynamics.convergence_map([0.1, 0.2], [0.0, 0.5])
    with pytest.raises(TypeError, match="positional argument"):
        dynamics.zero_loss_phi2(0.1, -1.0)
    with pytest.raises(TypeError, match="positional argument"):
        dynamics.spectral_radius(metaopt.PHI_OLD, 2.0)


def test_zero_loss_phi2_is_what_sympy_solves():
    """Solve theta_2 = theta* for phi2 with sympy from the symbolic unroll, compare with the formula."""
    traj = symbolic.unroll(steps=2, theta0=sp.Symbol("t0"), theta_star=sp.Symbol("ts"))
    solutions = sp.solve(sp.Eq(traj.theta[2], sp.Symbol("ts")), symbolic.phi2)
    assert len(solutions) == 1
    rng = np.random.default_rng(58)
    for _ in range(20):
        p1, p3 = rng.uniform(-2, 2, 2)
        expected = float(solutions[0].subs({symbolic.phi1: p1, symbolic.phi3: p3}))
        assert dynamics.zero_loss_phi2(p1, phi3=p3) == pytest.approx(expected, rel=1e-12)


def test_zero_loss_phi2_zeroes_the_exact_loss():
    """Exact rational phi1, phi3 and the formula in Fractions: the Fraction loop's loss is exactly 0;
    the float function's phi2 leaves only rounding."""
    rng = np.random.default_rng(59)
    for _ in range(30):
        p1, p3 = (Fraction(int(n), 64) for n in rng.integers(-128, 128, 2))
        if p1 * p3 == 0:
            continue
        a = p1 * p3
        p2 = -((1 + 2 * a) ** 2) / (2 * a)
        assert ref.loss((p1, p2, p3), 10, 5, 2) == 0
        got = dynamics.zero_loss_phi2(float(p1), phi3=float(p3))
        assert got == pytest.approx(float(p2), rel=1e-14)
    with pytest.raises(ValueError, match="phi1 \\* phi3"):
        dynamics.zero_loss_phi2(0.0, phi3=1.0)


def test_zero_loss_beta_matches_phi2():
    for alpha in (0.2, 0.25, 0.5, 1.3):
        assert dynamics.zero_loss_beta(alpha) == pytest.approx(dynamics.zero_loss_phi2(alpha, phi3=-1.0), rel=1e-14)


@pytest.mark.parametrize("alpha", [0.2, 0.25, 0.5, 1.3, 0.0625])
def test_zero_loss_beta_makes_the_meta_loss_zero(alpha):
    """Independently of both formulas: with phi = (alpha, zero_loss_beta(alpha), -1), the exact
    two-step loop (tests/reference.py, rationals) lands within rounding of theta* (the float beta
    is rounded, so the exact loss is of the order of its rounding, not zero)."""
    beta = dynamics.zero_loss_beta(alpha)
    assert ref.loss((alpha, beta, -1.0), 10.0, 5.0, 2) < Fraction(1, 10**25)
    # one by hand: alpha = 1/4 gives (1 - 1/2)^2 / (1/2) = 1/2
    assert dynamics.zero_loss_beta(0.25) == 0.5


@pytest.mark.parametrize("case", ref.random_cases(40, seed=60))
def test_symmetry_identity_exact(case):
    """phi1 dL/dphi1 == phi3 dL/dphi3, exactly, in the Fraction reference; and in the library's floats."""
    phi, theta0, theta_star, steps = case
    exact = ref.forward(phi, theta0, theta_star, steps)
    p1, p3 = ref.frac(phi[0]), ref.frac(phi[2])
    assert p1 * exact.dloss[0] == p3 * exact.dloss[2]
    _, grad = metaopt.meta_gradient(phi, theta0=theta0, theta_star=theta_star, steps=steps)
    scale = ref.float_scale(exact)
    assert phi[0] * grad[0] == pytest.approx(phi[2] * grad[2], rel=1e-9, abs=1e-11 * scale)


def test_balance_changes_by_eta_squared_only():
    """One gradient step changes phi1^2 - phi3^2 by exactly eta^2 (g1^2 - g3^2) (up to rounding)."""
    rng = np.random.default_rng(61)
    for _ in range(30):
        phi = np.array([rng.uniform(-1, 1), rng.uniform(-0.9, 0.9), rng.uniform(-1, 1)])
        eta = float(rng.uniform(1e-4, 1e-2))
        _, g = metaopt.meta_gradient(phi, theta0=10.0, theta_star=5.0, steps=2)
        new = metaopt.meta_step(phi, grad=g, eta=eta)
        change = dynamics.balance(new) - dynamics.balance(phi)
        expected = eta**2 * (g[0] ** 2 - g[2] ** 2)
        assert change == pytest.approx(expected, rel=1e-6, abs=1e-12 * (1 + np.abs(g).max() ** 2))


def test_errors():
    with pytest.raises(ValueError, match="phi"):
        dynamics.spectral_radius((1.0, 2.0))
    with pytest.raises(TypeError, match="phi"):
        dynamics.transition_matrix(("a", 1, 2))
    with pytest.raises(ValueError, match="alpha"):
        dynamics.zero_loss_beta(0.0)
    with pytest.raises(metaopt.DivergenceError, match="step"):
        dynamics.heavy_ball(5.0, beta=0.9, theta0=10.0, theta_star=5.0, steps=2000)


def test_critical_beta_is_where_the_discriminant_vanishes():
    rng = np.random.default_rng(62)
    for alpha in rng.uniform(0, 2, 20):
        beta = dynamics.critical_beta(alpha)
        trace = 1 - 2 * alpha + beta
        assert trace * trace - 4 * beta == pytest.approx(0.0, abs=1e-12)
        above = dynamics.eigenvalues((alpha, beta + 0.01, -1.0))
        below = dynamics.eigenvalues((alpha, beta - 0.01, -1.0))
        assert abs(above[0].imag) > 0 and abs(below[0].imag) == 0
        # in the complex region the spectral radius is sqrt(beta), whatever alpha is
        assert dynamics.spectral_radius((alpha, beta + 0.01, -1.0)) == pytest.approx((beta + 0.01) ** 0.5)


# ---------------------------------------------------------------------------
# what mutation testing (make mutate) found untested
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_heavy_ball_and_eigenvalues_at_other_curvatures(seed):
    """At a curvature c != 1 (chapter 8's tasks), heavy ball is the exact recurrence on c(theta - theta*)^2
    and its eigenvalues those of the matrix written here (every test used c = 1, where 2c = 2/c)."""
    rng = np.random.default_rng(seed)
    alpha, beta, c = rng.uniform(0.02, 0.4), rng.uniform(0.0, 0.9), rng.uniform(0.3, 3.0)
    theta = dynamics.heavy_ball(alpha, beta=beta, theta0=10.0, theta_star=5.0, steps=8, curvature=c)
    a, b, cc, ts = Fraction(alpha), Fraction(beta), Fraction(c), Fraction(5)
    exact = [Fraction(10), Fraction(10)]  # theta_{-1} = theta_0
    for _ in range(8):
        now, before = exact[-1], exact[-2]
        exact.append(now - a * 2 * cc * (now - ts) + b * (now - before))
    np.testing.assert_allclose(theta, [float(v) for v in exact[1:]], rtol=1e-12)
    # e_{t+1} = (1 - 2 c alpha + beta) e_t - beta e_{t-1}
    M = np.array([[1 - 2 * c * alpha + beta, -beta], [1.0, 0.0]])
    lam = dynamics.eigenvalues((alpha, beta, -1.0), curvature=c)
    np.testing.assert_allclose(sorted(np.abs(lam)), sorted(np.abs(np.linalg.eigvals(M))), rtol=1e-12)
    T = dynamics.transition_matrix((alpha, beta, -1.0), curvature=c)  # in its own coordinates: similar to M
    np.testing.assert_allclose(sorted(np.abs(np.linalg.eigvals(T))), sorted(np.abs(np.linalg.eigvals(M))), rtol=1e-10)


@pytest.mark.parametrize("func", ["heavy_ball", "transition_matrix", "eigenvalues"])
@pytest.mark.parametrize("curvature", [0.0, -1.0])
def test_a_curvature_that_is_not_positive_is_refused(func, curvature):
    call = {"heavy_ball": lambda: dynamics.heavy_ball(0.1, beta=0.5, curvature=curvature),
            "transition_matrix": lambda: dynamics.transition_matrix(metaopt.PHI_OLD, curvature=curvature),
            "eigenvalues": lambda: dynamics.eigenvalues(metaopt.PHI_OLD, curvature=curvature)}[func]
    with pytest.raises(ValueError, match=r"^curvature must be positive, got -?[\d.]+$"):
        call()


def test_heavy_ball_names_the_step_where_it_overflowed():
    """The step in the message is the first theta that is not finite, found here by a plain float loop."""
    alpha, beta = 3.0, 0.5
    theta, before, first = 10.0, 10.0, None
    for t in range(2000):
        new = theta - alpha * 2.0 * (theta - 5.0) + beta * (theta - before)
        before, theta = theta, new
        if not math.isfinite(theta):
            first = t
            break
    assert first is not None
    with pytest.raises(metaopt.DivergenceError, match=rf"theta_{first + 1} left the finite range at step t={first}$"):
        dynamics.heavy_ball(alpha, beta=beta, steps=2000)


def test_heavy_ball_states_what_a_large_batch_would_keep():
    """The refusal counts the values kept, 2 (steps + 1) per run: 200,000,200 for 100 runs of 10^6 steps."""
    with pytest.raises(ValueError, match=r"^this call would keep 200000200 values \(1\.49 GiB\): the trajectory"):
        dynamics.heavy_ball(np.full(100, 0.1), beta=0.5, steps=10**6)


def test_momentum_params_gives_a_positive_zero():
    """alpha = -phi1 phi3 is +0.0, not -0.0, when phi1 or phi3 is 0 (a -0.0 would print as '-0')."""
    for phi in ((0.0, 0.5, -1.0), (0.1, 0.5, 0.0), np.array([[0.0, 0.5, -1.0], [-0.0, 0.5, 1.0]])):
        alpha = np.asarray(dynamics.momentum_params(phi).alpha)
        assert np.all(alpha == 0) and not np.any(np.signbit(alpha)), phi


@pytest.mark.parametrize("func, subject, options", [
    (dynamics.zero_loss_phi2, 0.2, dict(phi3=-1.0)), (dynamics.zero_loss_beta, 0.2, {}),
    (dynamics.critical_beta, 0.2, {}), (dynamics.spectral_radius, (0.1, 0.5, -1.0), {}),
])
def test_one_value_in_one_float_out_an_array_in_an_array_out(func, subject, options):
    """A scalar (or one phi) gives a Python float; a batch gives an array of the batch's shape."""
    one = func(subject, **options)
    assert type(one) is float
    batch = func(np.stack([np.asarray(subject, dtype=float)] * 2), **options)
    assert isinstance(batch, np.ndarray) and batch.shape == (2,) and np.all(batch == one)


def test_critical_beta_holds_on_its_closed_interval_only():
    """alpha in [0, 2], ends included: beta = (1 - sqrt(2 alpha))^2 is 1 at 0, 0 at 1/2 and
    (1 - 2)^2 = 1 at 2 (by hand); outside, and for a batch with one value outside, it is refused."""
    assert dynamics.critical_beta(0.0) == 1.0 and dynamics.critical_beta(0.5) == 0.0
    assert dynamics.critical_beta(2.0) == 1.0
    for bad in (-1e-9, 2.0 + 1e-9, [0.5, 3.0], [-0.1, 0.5]):
        with pytest.raises(ValueError, match=r"^alpha must be in \[0, 2\] for the critical-damping curve"):
            dynamics.critical_beta(bad)
