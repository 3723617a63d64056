"""Bad input gives a clear TypeError / ValueError naming the argument; an unstable
inner loop or meta-training gives DivergenceError naming the step / iteration,
never a silent inf or nan and never a RuntimeWarning."""

import math
import re
import sys
import warnings
from fractions import Fraction

import numpy as np
import pytest

import metaopt
import reference as ref
from metaopt import DivergenceError

FLOAT_MAX = sys.float_info.max

# The functions taking (phi, theta0, theta_star, steps).
INNER = [metaopt.unroll, metaopt.meta_gradient, metaopt.meta_loss, metaopt.backprop_trace]
INNER_IDS = ["unroll", "meta_gradient", "meta_loss", "backprop_trace"]
WITH_FD = INNER + [metaopt.finite_difference]
WITH_FD_IDS = INNER_IDS + ["finite_difference"]

GOOD = dict(phi=(0.1, 0.5, -1.0), theta0=10.0, theta_star=5.0, steps=2)


def call(func, **overrides):
    kw = dict(GOOD, **overrides)
    return func(kw["phi"], theta0=kw["theta0"], theta_star=kw["theta_star"], steps=kw["steps"])


# ---------------------------------------------------------------------------
# bad arguments
# ---------------------------------------------------------------------------

BAD_PHI = [
    pytest.param((float("nan"), 0.5, -1.0), ValueError, id="nan"),
    pytest.param((0.1, float("inf"), -1.0), ValueError, id="inf"),
    pytest.param((0.1, 0.5, -float("inf")), ValueError, id="-inf"),
    pytest.param(np.array([[0.1, 0.5, -1.0], [0.1, np.nan, -1.0]]), ValueError, id="nan-in-batch"),
    pytest.param(("a", "b", "c"), TypeError, id="strings"),
    pytest.param((0.1, "x", -1.0), TypeError, id="one-string"),
    pytest.param([1j, 0.0, 0.0], TypeError, id="python-complex"),
    pytest.param({"a": 1}, TypeError, id="dict"),
]
BAD_PHI_SHAPE = [
    pytest.param((0.1, 0.5), id="2-entries"),
    pytest.param((0.1, 0.5, -1.0, 0.0), id="4-entries"),
    pytest.param(0.5, id="scalar"),
    pytest.param((), id="empty"),
    pytest.param(np.zeros((3, 2)), id="shape-3x2"),
]


@pytest.mark.parametrize("func", WITH_FD, ids=WITH_FD_IDS)
@pytest.mark.parametrize("phi, exc", BAD_PHI)
def test_bad_phi_values(func, phi, exc):
    with pytest.raises(exc, match=r"\bphi\b"):
        call(func, phi=phi)


@pytest.mark.parametrize("func", INNER, ids=INNER_IDS)
@pytest.mark.parametrize("phi", BAD_PHI_SHAPE)
def test_bad_phi_shape(func, phi):
    with pytest.raises(ValueError, match=r"\bphi\b"):
        call(func, phi=phi)


@pytest.mark.parametrize("phi", BAD_PHI_SHAPE + [pytest.param((0.5,), id="1-entry")])
def test_bad_phi_shape_finite_difference(phi):
    """finite_difference adds e_i to phi: without its own check a 1-entry or scalar phi
    would broadcast silently to (x, x, x), and 2 or 4 entries give numpy's message."""
    with pytest.raises(ValueError, match=r"\bphi\b"):
        call(metaopt.finite_difference, phi=phi)


@pytest.mark.parametrize("func", WITH_FD, ids=WITH_FD_IDS)
@pytest.mark.parametrize(
    "phi",
    [
        pytest.param(("0.1", "0.5", "-1"), id="numeric-strings"),
        pytest.param(np.array(["0.1", "0.5", "-1"]), id="numeric-string-array"),
        pytest.param(np.array([True, False, True]), id="bool-array"),
        pytest.param(None, id="None"),
    ],
)
def test_phi_that_only_looks_numeric_is_rejected(func, phi):
    """np.asarray(x, dtype=float) would accept all of these silently."""
    with pytest.raises(TypeError, match=r"\bphi\b"):
        call(func, phi=phi)


@pytest.mark.parametrize("func", WITH_FD, ids=WITH_FD_IDS)
def test_complex_array_phi_is_rejected(func):
    """A complex numpy array must not be cast to float (dropping the imaginary part)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not even a ComplexWarning
        with pytest.raises(TypeError, match=r"\bphi\b"):
            call(func, phi=np.array([0.1 + 1j, 0.5, -1.0]))


@pytest.mark.parametrize("func", WITH_FD, ids=WITH_FD_IDS)
@pytest.mark.parametrize(
    "name, value, exc",
    [
        pytest.param("theta0", float("nan"), ValueError, id="theta0-nan"),
        pytest.param("theta0", float("inf"), ValueError, id="theta0-inf"),
        pytest.param("theta0", np.array([1.0, -np.inf]), ValueError, id="theta0-array-inf"),
        pytest.param("theta0", "ten", TypeError, id="theta0-string"),
        pytest.param("theta_star", float("inf"), ValueError, id="theta_star-inf"),
        pytest.param("theta_star", float("nan"), ValueError, id="theta_star-nan"),
        pytest.param("theta_star", "five", TypeError, id="theta_star-string"),
    ],
)
def test_bad_thetas(func, name, value, exc):
    with pytest.raises(exc, match=rf"\b{name}\b"):
        call(func, **{name: value})


@pytest.mark.parametrize("func", WITH_FD, ids=WITH_FD_IDS)
@pytest.mark.parametrize(
    "steps, exc",
    [
        pytest.param(-1, ValueError, id="-1"),
        pytest.param(-100, ValueError, id="-100"),
        pytest.param(2.0, TypeError, id="2.0"),
        pytest.param(2.5, TypeError, id="2.5"),
        pytest.param(True, TypeError, id="True"),
        pytest.param(False, TypeError, id="False"),
        pytest.param("2", TypeError, id="str"),
        pytest.param(None, TypeError, id="None"),
        pytest.param(np.float64(2.0), TypeError, id="np.float64"),
    ],
)
def test_bad_steps(func, steps, exc):
    with pytest.raises(exc, match=r"\bsteps\b"):
        call(func, steps=steps)


@pytest.mark.parametrize("func", INNER, ids=INNER_IDS)
def test_numpy_integer_steps_accepted(func):
    a = call(func, steps=np.int64(2))
    b = call(func, steps=2)
    if func is metaopt.unroll:
        assert np.array_equal(a.theta, b.theta)
    elif func is metaopt.meta_gradient:
        assert a[0] == b[0] and np.array_equal(a[1], b[1])
    else:
        assert a == b


BAD_ETA = [
    pytest.param(0, ValueError, id="0"),
    pytest.param(0.0, ValueError, id="0.0"),
    pytest.param(-0.01, ValueError, id="negative"),
    pytest.param(float("nan"), ValueError, id="nan"),
    pytest.param(float("inf"), ValueError, id="inf"),
    pytest.param("0.01", TypeError, id="str"),
    pytest.param(True, TypeError, id="True"),
    pytest.param(None, TypeError, id="None"),
]


@pytest.mark.parametrize("eta, exc", BAD_ETA)
def test_meta_step_bad_eta(eta, exc):
    with pytest.raises(exc, match=r"\beta\b"):
        metaopt.meta_step(metaopt.PHI_OLD, grad=metaopt.ASSUMED_GRADIENT, eta=eta)


@pytest.mark.parametrize("eta, exc", BAD_ETA)
def test_meta_train_bad_eta(eta, exc):
    with pytest.raises(exc, match=r"\beta\b"):
        metaopt.meta_train(metaopt.PHI_OLD, eta=eta, iterations=3)


def test_meta_step_bad_phi_and_grad():
    with pytest.raises(ValueError, match=r"\bgrad\b"):
        metaopt.meta_step(metaopt.PHI_OLD, grad=(1.0, float("nan"), 0.0), eta=0.01)
    with pytest.raises(ValueError, match=r"\bphi\b"):
        metaopt.meta_step((float("inf"), 0.0, 0.0), grad=metaopt.ASSUMED_GRADIENT, eta=0.01)
    with pytest.raises(ValueError, match=r"\bgrad\b"):
        metaopt.meta_step(metaopt.PHI_OLD, grad=(1.0, 2.0), eta=0.01)
    with pytest.raises(ValueError, match=r"\bphi\b"):
        metaopt.meta_step((1.0, 2.0, 3.0, 4.0), grad=metaopt.ASSUMED_GRADIENT, eta=0.01)


@pytest.mark.parametrize(
    "iterations, exc",
    [
        pytest.param(-1, ValueError, id="-1"),
        pytest.param(1.5, TypeError, id="1.5"),
        pytest.param(2.0, TypeError, id="2.0"),
        pytest.param(True, TypeError, id="True"),
        pytest.param("3", TypeError, id="str"),
    ],
)
def test_meta_train_bad_iterations(iterations, exc):
    with pytest.raises(exc, match=r"\biterations\b"):
        metaopt.meta_train(metaopt.PHI_OLD, eta=0.001, iterations=iterations)


@pytest.mark.parametrize(
    "overrides, name, exc",
    [
        ({"phi": (0.1, float("nan"), 0.0)}, "phi", ValueError),
        ({"phi": (0.1, 0.5)}, "phi", ValueError),
        ({"theta0": float("inf")}, "theta0", ValueError),
        ({"theta_star": float("nan")}, "theta_star", ValueError),
        ({"steps": -1}, "steps", ValueError),
        ({"steps": 2.0}, "steps", TypeError),
    ],
)
def test_meta_train_bad_inner_arguments(overrides, name, exc):
    kw = dict(GOOD, **overrides)
    with pytest.raises(exc, match=rf"\b{name}\b"):
        metaopt.meta_train(kw["phi"], eta=0.001, iterations=2, theta0=kw["theta0"], theta_star=kw["theta_star"], steps=kw["steps"])


def test_finite_difference_bad_eps():
    for eps in (0, -1e-6, float("nan"), float("inf")):  # wrong values
        with pytest.raises(ValueError, match=r"\beps\b"):
            metaopt.finite_difference(metaopt.PHI_OLD, eps=eps)
    for eps in ("1e-6", None, True, 1e-6j):  # wrong types
        with pytest.raises(TypeError, match=r"\beps\b"):
            metaopt.finite_difference(metaopt.PHI_OLD, eps=eps)


@pytest.mark.parametrize("func", WITH_FD, ids=WITH_FD_IDS)
def test_old_positional_problem_is_a_type_error(func):
    """phi is the only positional argument: the old call func(phi, theta0, theta_star, steps) raises TypeError."""
    with pytest.raises(TypeError, match="positional argument"):
        func(GOOD["phi"], GOOD["theta0"], GOOD["theta_star"], GOOD["steps"])
    with pytest.raises(TypeError, match="positional argument"):
        func(GOOD["phi"], GOOD["theta0"])


def test_old_positional_meta_calls_are_type_errors():
    with pytest.raises(TypeError, match="positional argument"):
        metaopt.meta_step(metaopt.PHI_OLD, metaopt.ASSUMED_GRADIENT, 0.01)
    with pytest.raises(TypeError, match="positional argument"):
        metaopt.meta_step(metaopt.PHI_OLD, metaopt.ASSUMED_GRADIENT)
    with pytest.raises(TypeError, match="positional argument"):
        metaopt.meta_train(metaopt.PHI_OLD, 0.001, 2)


# ---------------------------------------------------------------------------
# divergence
# ---------------------------------------------------------------------------

# phi = (1, 0, -2): with phi2 = 0, h_t = phi1 grad_t, so
# theta_{t+1} - theta* = (1 + 2 phi1 phi3)(theta_t - theta*) = -3 (theta_t - theta*):
# |theta_t - theta*| = 5 * 3^t from theta0 = 10, theta* = 5.
UNSTABLE = (1.0, 0.0, -2.0)
# The first t at which 5 * 3^t is past the largest float, in exact integers: 645.
FIRST_BAD_T = next(t for t in range(2000) if 5 * 3**t > FLOAT_MAX)


def test_first_bad_t_is_what_we_think():
    assert FIRST_BAD_T == 645
    # theta_644 = 5 + 5*3^644 is about 0.51 * FLOAT_MAX: finite; theta_645 about 1.54 * FLOAT_MAX
    assert 5 * 3 ** (FIRST_BAD_T - 1) < Fraction(FLOAT_MAX) * Fraction(6, 10)


def _step_in(message):
    m = re.search(r"step t=(\d+)", message)
    assert m, f"message does not name the step: {message!r}"
    return int(m.group(1))


@pytest.mark.parametrize("func", INNER, ids=INNER_IDS)
def test_forward_divergence_names_the_step(func):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning (overflow / invalid) may escape
        with pytest.raises(DivergenceError) as info:
            func(UNSTABLE, theta0=10.0, theta_star=5.0, steps=1000)
    t = _step_in(str(info.value))
    # theta_645 is the first non-finite value (produced by the update of step 644).
    assert t in (FIRST_BAD_T - 1, FIRST_BAD_T)
    assert f"theta_{FIRST_BAD_T}" in str(info.value)


def test_the_unstable_phi_is_fine_before_overflow():
    """Same phi, fewer steps: no error, and |theta_t - theta*| = 5 * 3^t exactly where representable."""
    traj = metaopt.unroll(UNSTABLE, theta0=10.0, theta_star=5.0, steps=30)
    expected = [5.0 + 5.0 * (-3.0) ** t for t in range(31)]
    np.testing.assert_allclose(traj.theta, expected, rtol=1e-15)


def test_divergence_in_one_row_of_a_batch():
    phi = np.array([metaopt.PHI_OLD, UNSTABLE, metaopt.PHI_OLD])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DivergenceError, match=r"step t="):
            metaopt.meta_gradient(phi, theta0=10.0, theta_star=5.0, steps=1000)


def _first_overflow_back(phi, theta0, theta_star, steps):
    """The first step, counting back from T - 1, after which a value of the reverse sweep (theta_bar_t,
    phi2 * h_bar_t handed to step t - 1, or a running sum dL/dphi_i) is past the float range, and which
    values are: the sweep in exact rationals, written out here from the chain rule."""
    p1, p2, p3 = (Fraction(p) for p in phi)
    theta, h, grads, hs = Fraction(theta0), Fraction(0), [], []
    for _ in range(steps):
        grads.append(2 * (theta - Fraction(theta_star)))
        h = p1 * grads[-1] + p2 * h
        hs.append(h)
        theta += p3 * h
    big = Fraction(sys.float_info.max)
    theta_bar, h_bar_next, sums = 2 * (theta - Fraction(theta_star)), Fraction(0), [Fraction(0)] * 3
    for t in range(steps - 1, -1, -1):
        h_prev = hs[t - 1] if t else Fraction(0)
        sums[2] += theta_bar * hs[t]
        h_bar = h_bar_next + p3 * theta_bar
        sums[0] += h_bar * grads[t]
        sums[1] += h_bar * h_prev
        h_bar_next = p2 * h_bar
        theta_bar = theta_bar + 2 * p1 * h_bar
        values = dict(theta_bar=theta_bar, h_bar_next=h_bar_next, dphi1=sums[0], dphi2=sums[1], dphi3=sums[2])
        past = {name for name, v in values.items() if abs(v) > big}
        if past:
            return t, past
    return None, set()


@pytest.mark.parametrize("phi, theta0, steps, which", [
    ((-2.5e-101, 0.0, 1e100), 1e150, 3, 0),
    ((-2.0**-101, 2.0**-600, 2.0**100), 2.0**1000, 2, 1)])
def test_backward_divergence_in_one_sum_alone_names_its_step(phi, theta0, steps, which):
    """Every adjoint stays finite, and so do two of the three sums dL/dphi_i; the other one alone
    leaves the float range, at the last step t = T - 1 (theta* = 0).

    First case: phi2 = 0, theta halves each step from 1e150; theta_bar ~ 1e150, h_bar ~ 1e250, but
    dL/dphi1 = sum h_bar_t grad_t ~ 1e250 x 1e150 is not a float. Second, in powers of two (exact):
    h_0 = -2^900 takes theta_1 to 0 exactly (so grad_1 = 0), theta_2 = -2^400, h_bar_1 = -2^501, and
    dL/dphi2 = h_bar_1 h_0 = 2^1401 is past 2^1024, while dL/dphi1 = 2^902 (at t = 0) and dL/dphi3 = 2^701 are not."""
    assert _first_overflow_back(phi, theta0, 0.0, steps) == (steps - 1, {f"dphi{which + 1}"})
    for func in (metaopt.meta_gradient, metaopt.backprop_trace):
        with pytest.raises(DivergenceError, match=rf"adjoints left the finite floating-point range at step t={steps - 1} of"):
            func(phi, theta0=theta0, theta_star=0.0, steps=steps)


def test_backward_divergence_names_the_step():
    """phi1 = 0: theta never moves (forward is finite, L = 25), but the adjoint of h grows
    like phi2^(T - t) = 10^(T - t) backwards, and the true dL/dphi1 is ~1e400: not a float."""
    phi = (0.0, 10.0, 1.0)
    traj = metaopt.unroll(phi, theta0=10.0, theta_star=5.0, steps=400)
    assert np.all(traj.theta == 10.0)
    assert metaopt.meta_loss(phi, theta0=10.0, theta_star=5.0, steps=400) == 25.0
    # h_bar_t = 10 (1 + 10 + ... + 10^(399 - t)); phi2 * h_bar_t passes 1.8e308 near t = 92.
    for func in (metaopt.meta_gradient, metaopt.backprop_trace):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(DivergenceError, match="overflowed in backpropagation through time") as info:
                func(phi, theta0=10.0, theta_star=5.0, steps=400)
        t = _step_in(str(info.value))
        assert t == _first_overflow_back(phi, 10.0, 5.0, 400)[0] == 92
    # the same phi in a batch, beside stable ones: the same step is named
    with pytest.raises(DivergenceError) as info:
        metaopt.meta_gradient([metaopt.PHI_OLD, phi], theta0=10.0, theta_star=5.0, steps=400)
    assert _step_in(str(info.value)) == t
    # and with fewer steps it is finite: dL/dphi1 = sum_t h_bar_t * grad_t, exactly by the reference
    ex = ref.forward(phi, 10, 5, 20)
    _, grad = metaopt.meta_gradient(phi, theta0=10.0, theta_star=5.0, steps=20)
    ref.assert_close_exact(grad, ex.dloss, 1e-12, 0, "grad")


def test_meta_loss_overflow_raises():
    """T = 400 with the unstable phi: theta_T ~ 5*3^400 ~ 1e191 is finite but its square is not."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for func in (metaopt.meta_loss, metaopt.meta_gradient, metaopt.backprop_trace):
            with pytest.raises(DivergenceError, match=r"^the meta-loss \(theta_400 - theta_star\)\^2 overflowed after the last step t=399"):
                func(UNSTABLE, theta0=10.0, theta_star=5.0, steps=400)
        traj = metaopt.unroll(UNSTABLE, theta0=10.0, theta_star=5.0, steps=400)
    assert np.all(np.isfinite(traj.theta))


def test_divergence_error_is_a_floating_point_error():
    assert issubclass(DivergenceError, FloatingPointError)
    from metaopt import validate

    assert metaopt.DivergenceError is validate.DivergenceError  # defined once, in the input policy
    assert metaopt.core.DivergenceError is validate.DivergenceError


def _first_overflowing_iteration(eta, iterations):
    """Meta-train exactly (Fractions, forward-mode gradient); first k whose meta-loss is past the float range."""
    phi = [Fraction(v) for v in metaopt.PHI_OLD]
    eta = Fraction(eta)
    for k in range(iterations + 1):
        ex = ref.forward(phi, 10, 5, 2)
        if ex.loss > FLOAT_MAX:
            return k
        phi = [p - eta * d for p, d in zip(phi, ex.dloss)]
    return None


def test_meta_train_with_document_eta_diverges():
    k_exact = _first_overflowing_iteration(0.01, 10)
    assert k_exact == 4  # losses 7.29, ~59, ~2.4e7, ~6.6e45, ~5.6e314
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DivergenceError) as info:
            metaopt.meta_train(metaopt.PHI_OLD, eta=metaopt.ETA, iterations=100)
    message = str(info.value)
    m = re.search(r"iteration (\d+)", message)
    assert m, message
    assert int(m.group(1)) == k_exact
    assert "eta=0.01" in message
    assert isinstance(info.value.__cause__, DivergenceError)


def test_meta_train_update_overflow_is_divergence():
    """The meta-update itself overflowing is a divergence too, naming the iteration
    (not a ValueError about phi from the next meta_gradient call)."""
    # steps=1, phi=(0,0,1), theta0 - theta* = 1e150: L = 1e300 (finite), dL/dphi1 = 4 e0^2 phi3 = 4e300
    # (finite), so phi1 - 1e10 * 4e300 = -inf at iteration 1.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DivergenceError, match=r"iteration 1"):
            metaopt.meta_train((0.0, 0.0, 1.0), eta=1e10, iterations=3, theta0=1e150, theta_star=0.0, steps=1)


@pytest.mark.parametrize("func, steps, n, keeps", [
    (metaopt.unroll, 10**7, 1000, 8), (metaopt.meta_gradient, 10**7, 1000, 2),
    (metaopt.backprop_trace, 10**5, 10**5, 16)])
def test_a_call_that_would_keep_too_much_is_refused_up_front(func, steps, n, keeps):
    """Within the limit on work (steps x batch <= MAX_WORK) but past 1 GiB of kept values: refused
    before anything is allocated, saying how many values and why (without the check, numpy would
    try to allocate 160 GB)."""
    from metaopt import core
    assert steps * n <= core.MAX_WORK and keeps * steps * n > metaopt.validate.MAX_VALUES
    phi = np.broadcast_to(np.array(metaopt.PHI_OLD), (n, 3))
    with pytest.raises(ValueError, match=rf"would keep {keeps * steps * n} values .*{keeps} values per step per phi "
                                         rf"\(steps={steps}, a batch of {n} phi\)"):
        func(phi, steps=steps)


def test_a_batch_past_the_work_limit_is_refused_up_front():
    """steps x batch past core.MAX_WORK (10^10 optimizer-steps, minutes) is refused before the loop
    runs, naming both counts, even where nothing is kept (the forward-only meta-loss)."""
    from metaopt import core
    phi = np.broadcast_to(np.array(metaopt.PHI_OLD), (10**4, 3))
    assert 10**7 * 10**4 > core.MAX_WORK
    for func in (metaopt.meta_loss, metaopt.finite_difference):  # the others keep values: memory is refused first
        with pytest.raises(ValueError, match=r"steps × batch must be <= 10000000000: .*; got 10000000 × 10000 = 100000000000"):
            func(phi, steps=10**7)


@pytest.mark.parametrize("func", [metaopt.meta_loss, metaopt.unroll, metaopt.meta_gradient])
@pytest.mark.parametrize("phi, steps", [((1e-300, 1e300, 1.0), 8), ((1.0, -0.99, -1.0), 1000)])
def test_the_first_step_that_overflows_is_named(func, phi, steps):
    """The step named is the first whose theta leaves the float range, found here by the recurrence
    in exact rationals (theta0 = 1, theta* = 0, h_{-1} = 0). By hand for the first phi: h_0 = 2e-300,
    theta_1 = 1, h_1 = 2, theta_2 = 3, h_2 = 2e300, theta_3 = 2e300, then h_3 is past the range: theta_4.
    The second diverges slowly (step 811), through phi2 < 0: a sign error in h's recurrence would not."""
    from fractions import Fraction as F
    p1, p2, p3 = (F(p) for p in phi)
    theta, h, bad = F(1), F(0), None
    for t in range(steps):
        h = p1 * 2 * theta + p2 * h
        theta = theta + p3 * h
        if abs(theta) > F(sys.float_info.max):
            bad = t + 1
            break
    assert bad == {8: 4, 1000: 811}[steps]
    match = rf"theta_{bad} left the finite floating-point range at step t={bad - 1} "
    with pytest.raises(DivergenceError, match=match):
        func(phi, theta0=1.0, theta_star=0.0, steps=steps)
    with pytest.raises(DivergenceError, match=match):  # in a batch, beside a stable phi: the batch code's loops
        func(np.array([metaopt.PHI_OLD, phi]), theta0=1.0, theta_star=0.0, steps=steps)
