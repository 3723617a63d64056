"""metaopt.autodiff (JAX, chapter 9) against the library and the exact reference.

JAX's derivatives are checked against methods that share no code with them:

* the exact forward-mode Fraction loop of ``reference.py`` (``ref.forward(...).dloss``), on
  random (phi, theta0, theta_star, T), one phi at a time and as a batch (``jax.vmap``);
* the library's own reverse sweep (``metaopt.sweep.meta_gradient``) for curvature, weights and
  truncation, and ``metaopt.first_order`` for ``first_order=True`` (``stop_gradient``);
* sympy's exact Hessian (``metaopt.landscape.hessian_exact``) for ``jax.hessian``;
* forward mode (``jax.jacfwd``) against reverse mode.

Tolerances are those of the library's own tests (see ``reference.float_scale``): a float64
computation differs from the exact value by a modest multiple of 2.2e-16 times the square of
its largest intermediate, so ``atol = 1e-12 * float_scale`` is a few thousand ulps of that:
loose enough for XLA's reordering and for cancellation in a component near zero, far too
tight for a wrong derivative.

``jax.jit`` compiles once per batch shape, horizon and switch (0.3 to 1 s each), so the tests
share a few: batches of 6 cases at the horizons T = 0, 1, 2, 5, 8 (the reference's cases cycle
through 0..8), one phi at T = 2 (also the docstrings' and the policy walk's) and T = 5, and
the Hessian at T = 2 and 3 (sympy's exact Hessian grows quickly with T).
"""

from __future__ import annotations

from fractions import Fraction
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

import metaopt
import reference as ref
from metaopt import DivergenceError, PHI_OLD, autodiff, first_order, horizon, landscape, sweep

REL = 1e-9  # float64 against exact, as in test_gradients.py
ATOL_FACTOR = 1e-12  # times ref.float_scale
CASES = ref.random_cases(54, seed=2016_09)  # steps cycle through 0..8: 6 cases per horizon
HORIZONS = [0, 1, 2, 5, 8]  # the ones compiled here: none, one, the document's, and two longer
PROBLEM = dict(theta0=10.0, theta_star=5.0, steps=2)


def group(steps):
    """The cases with this horizon as one batch: phi (n, 3), theta0 (n,), theta_star (n,)."""
    cases = [c for c in CASES if c[3] == steps]
    return (np.array([c[0] for c in cases]), np.array([c[1] for c in cases]),
            np.array([c[2] for c in cases]), cases)


def exact(case):
    phi, theta0, theta_star, steps = case
    return ref.forward(phi, theta0, theta_star, steps)


def assert_exact(loss, grad, case, what):
    ex = exact(case)
    scale = ref.float_scale(ex)
    ref.assert_close_exact(loss, [ex.loss], rel=REL, atol=ATOL_FACTOR * scale, what=f"{what} loss")
    ref.assert_close_exact(grad, ex.dloss, rel=REL, atol=ATOL_FACTOR * scale, what=f"{what} grad")


def test_cases_cover_the_horizons():
    assert sorted({c[3] for c in CASES}) == list(range(9))
    assert all(len(group(T)[3]) == 6 for T in HORIZONS)


def test_float64_is_on():
    assert jnp.array(0.1).dtype == jnp.float64
    assert jax.config.jax_enable_x64


def test_the_worked_example():
    loss, grad = autodiff.meta_gradient(PHI_OLD, **PROBLEM)
    assert isinstance(loss, float) and grad.shape == (3,)
    ref.assert_close_exact(loss, ["7.29"], rel=1e-15)
    ref.assert_close_exact(grad, ["-113.4", "-5.4", "11.34"], rel=1e-14)


# --- reverse mode against the exact reference and the library -----------------------------


@pytest.mark.parametrize("steps", HORIZONS)
def test_reverse_mode_batched_against_exact_and_library(steps):
    """One vmapped, jitted call per horizon, theta0 and theta_star varying along the batch."""
    phi, theta0, theta_star, cases = group(steps)
    loss, grad = autodiff.meta_gradient(phi, theta0=theta0, theta_star=theta_star, steps=steps)
    assert loss.shape == (len(cases),) and grad.shape == (len(cases), 3)
    library = sweep.meta_gradient(phi, theta0=theta0, theta_star=theta_star, steps=steps)
    for i, case in enumerate(cases):
        assert_exact(loss[i], grad[i], case, f"T={steps} case {i}")
        scale = ref.float_scale(exact(case))
        np.testing.assert_allclose(grad[i], library.grad[i], rtol=REL, atol=ATOL_FACTOR * scale)
        np.testing.assert_allclose(loss[i], library.loss[i], rtol=REL, atol=ATOL_FACTOR * scale)


@pytest.mark.parametrize("case", [c for c in CASES if c[3] in (2, 5)], ids=lambda c: f"T{c[3]}")
def test_reverse_mode_one_phi_against_exact(case):
    phi, theta0, theta_star, steps = case
    loss, grad = autodiff.meta_gradient(phi, theta0=theta0, theta_star=theta_star, steps=steps)
    assert isinstance(loss, float) and isinstance(grad, np.ndarray) and grad.shape == (3,)
    assert_exact(loss, grad, case, "one phi")


def test_batch_shapes_and_broadcasting():
    phi = np.array(PHI_OLD) + 0.01 * np.arange(18).reshape(2, 3, 3)  # 6 optimizers, as a (2, 3) batch
    loss, grad = autodiff.meta_gradient(phi, theta0=[[10.0], [3.0]], theta_star=5.0, steps=2)
    assert loss.shape == (2, 3) and grad.shape == (2, 3, 3)
    library = sweep.meta_gradient(phi, theta0=[[10.0], [3.0]], theta_star=5.0, steps=2)
    np.testing.assert_allclose(grad, library.grad, rtol=1e-12)
    np.testing.assert_allclose(loss, library.loss, rtol=1e-12)


def test_meta_loss_is_a_jax_function():
    """jax.grad and jax.vmap of the plain function give the library's values (no wrapper needed)."""
    f = partial(autodiff.meta_loss, **PROBLEM)
    phis = jnp.array(PHI_OLD) + 0.01 * jnp.arange(6.0).reshape(2, 3)
    losses, grads = jax.jit(jax.vmap(jax.value_and_grad(f)))(phis)
    np.testing.assert_allclose(grads, sweep.meta_gradient(phis, **PROBLEM).grad, rtol=1e-12)
    np.testing.assert_allclose(losses, sweep.meta_loss(phis, **PROBLEM), rtol=1e-13)
    # phi as a tuple of three traced scalars: the form gradient_program uses
    g = jax.grad(partial(autodiff.meta_loss_unrolled, **PROBLEM))(PHI_OLD)
    assert isinstance(g, tuple) and len(g) == 3
    np.testing.assert_allclose(g, metaopt.meta_gradient(PHI_OLD).grad, rtol=1e-13)


@pytest.mark.parametrize("steps", [0, 1, 5, 8])
def test_the_unrolled_loop_against_exact(steps):
    """The Python-loop version, run op by op (no compilation per horizon), on two cases per horizon."""
    phi, theta0, theta_star, cases = group(steps)
    for i, case in enumerate(cases[:2]):
        kw = dict(theta0=float(theta0[i]), theta_star=float(theta_star[i]), steps=steps)
        loss, grad = jax.value_and_grad(partial(autodiff.meta_loss_unrolled, **kw))(tuple(phi[i]))
        assert_exact(loss, grad, case, "unrolled")


# --- forward mode, first order, curvature, weights, truncation -------------------------------


@pytest.mark.parametrize("steps", [2, 5])
def test_forward_mode_equals_reverse_mode_and_exact(steps):
    phi, theta0, theta_star, cases = group(steps)
    forward = autodiff.meta_gradient_forward(phi, theta0=theta0, theta_star=theta_star, steps=steps)
    reverse = autodiff.meta_gradient(phi, theta0=theta0, theta_star=theta_star, steps=steps)
    for i, case in enumerate(cases):
        assert_exact(forward.loss[i], forward.grad[i], case, f"forward T={steps}")
        scale = ref.float_scale(exact(case))
        np.testing.assert_allclose(forward.grad[i], reverse.grad[i], rtol=REL, atol=ATOL_FACTOR * scale)
    assert np.array_equal(forward.loss, reverse.loss) or np.allclose(forward.loss, reverse.loss, rtol=1e-14)


@pytest.mark.parametrize("steps", [2, 5])
def test_stop_gradient_is_the_first_order_meta_gradient(steps):
    phi, theta0, theta_star, cases = group(steps)
    jax_fo = autodiff.meta_gradient(phi, theta0=theta0, theta_star=theta_star, steps=steps, first_order=True)
    library = first_order.meta_gradient_first_order(phi, theta0=theta0, theta_star=theta_star, steps=steps)
    exact_grad = autodiff.meta_gradient(phi, theta0=theta0, theta_star=theta_star, steps=steps).grad
    for i, case in enumerate(cases):
        scale = ref.float_scale(exact(case))
        np.testing.assert_allclose(jax_fo.grad[i], library.grad[i], rtol=REL, atol=ATOL_FACTOR * scale)
        ref.assert_close_exact(jax_fo.loss[i], [exact(case).loss], rel=REL, atol=ATOL_FACTOR * scale)
    assert not np.allclose(jax_fo.grad, exact_grad, rtol=1e-3)  # a different gradient, the same loss


def test_stop_gradient_at_phi_old_is_chapter_6s():
    _, grad = autodiff.meta_gradient(PHI_OLD, first_order=True, **PROBLEM)
    ref.assert_close_exact(grad, ["-124.2", "-5.4", "12.42"], rel=1e-14)


def test_curvature_weights_truncation_against_the_library_sweep():
    phi, theta0, theta_star, cases = group(5)
    rng = np.random.default_rng(5)
    curvature = rng.uniform(0.2, 2.0, len(cases))
    weights = rng.uniform(0.0, 1.0, 5)
    for k in (None, 2):
        kw = dict(theta0=theta0, theta_star=theta_star, steps=5, curvature=curvature, weights=weights,
                  truncation=k)
        got, want = autodiff.meta_gradient(phi, **kw), sweep.meta_gradient(phi, **kw)
        scale = max(ref.float_scale(exact(c)) for c in cases) * curvature.max() ** 2
        np.testing.assert_allclose(got.loss, want.loss, rtol=REL, atol=ATOL_FACTOR * scale)
        np.testing.assert_allclose(got.grad, want.grad, rtol=REL, atol=ATOL_FACTOR * scale)


def test_the_switches_at_the_policy_walks_values():
    """The valid call of tests/test_policy.py (one phi, T = 2, weights, truncation 1), against the library."""
    kw = dict(curvature=0.7, weights=[0.5, 1.0], truncation=1, first_order=False, **PROBLEM)
    got, want = autodiff.meta_gradient(PHI_OLD, **kw), sweep.meta_gradient(PHI_OLD, **kw)
    np.testing.assert_allclose(got.grad, want.grad, rtol=1e-13)
    assert got.loss == pytest.approx(want.loss, rel=1e-14)
    truncated = autodiff.meta_gradient(PHI_OLD, truncation=1, **PROBLEM).grad
    np.testing.assert_allclose(truncated, horizon.truncated_meta_gradient(PHI_OLD, truncation=1, **PROBLEM).grad,
                               rtol=1e-13)


def test_steps_zero():
    phi, theta0, theta_star, cases = group(0)
    got = autodiff.meta_gradient(phi, theta0=theta0, theta_star=theta_star, steps=0)
    np.testing.assert_array_equal(got.loss, (theta0 - theta_star) ** 2)
    assert np.all(got.grad == 0.0)
    assert float(autodiff.meta_loss(PHI_OLD, theta0=1.0, theta_star=3.0, steps=0, weights=[])) == 0.0


# --- the Hessian against sympy ---------------------------------------------------------------


@pytest.mark.parametrize("steps", [2, 3])
def test_jax_hessian_against_the_exact_sympy_hessian(steps):
    """Random phi, the document's theta0 and theta_star (one sympy Hessian per horizon, then exact values)."""
    phi = group(steps)[0]
    H = autodiff.hessian(phi, theta0=10.0, theta_star=5.0, steps=steps)
    assert H.shape == (len(phi), 3, 3)
    for i in range(len(phi)):
        exact_H = landscape.hessian_exact(phi[i], theta0=10.0, theta_star=5.0, steps=steps)
        # second derivatives carry one more factor of the intermediates than the gradient: rel 1e-9 and
        # 1e-10 * float_scale, a hundred times the gradient's allowance and still far below any wrong entry
        scale = ref.float_scale(ref.forward(phi[i], 10.0, 5.0, steps))
        for (r, c), value in np.ndenumerate(H[i]):
            e = exact_H[r, c]
            e = Fraction(int(sp.numer(e)), int(sp.denom(e)))
            assert abs(Fraction(float(value)) - e) <= Fraction(REL) * abs(e) + Fraction(1e-10 * scale), (i, r, c)


def test_hessian_at_phi_old_is_chapter_6s():
    H = autodiff.hessian(PHI_OLD, **PROBLEM)
    np.testing.assert_allclose(H, np.array(landscape.hessian_exact(), dtype=float), rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(H, H.T, rtol=1e-13)


# --- float32 against float64, as chapter 9 shows it --------------------------------------------


def test_float32_differs_from_float64_by_about_its_machine_epsilon():
    """Chapter 9: at phi_old, float32 results differ from float64 by relative amounts of the order of
    float32's epsilon 2^-23 (within a factor of 10 either way), float64 ones from exact by < 1e-15."""
    eps32 = float(np.finfo(np.float32).eps)
    f = partial(autodiff.meta_loss_unrolled, **PROBLEM)
    loss32, grad32 = jax.value_and_grad(f)(jnp.array(PHI_OLD, dtype=jnp.float32))
    loss64, grad64 = jax.value_and_grad(f)(jnp.array(PHI_OLD))
    assert loss32.dtype == grad32.dtype == jnp.float32 and loss64.dtype == jnp.float64
    values32 = np.array([loss32, *grad32], dtype=float)
    values64 = np.array([loss64, *grad64], dtype=float)
    relative = np.abs(values32 - values64) / np.abs(values64)
    assert np.all(relative > eps32 / 10) and np.all(relative < 10 * eps32), relative
    exact_values = [Fraction("7.29"), Fraction("-113.4"), Fraction("-5.4"), Fraction("11.34")]
    for value, e in zip(values64, exact_values):  # float64: the decimal inputs' rounding and 16 digits
        assert abs(Fraction(value) - e) <= Fraction(1, 10**15) * abs(e)
    # the public, jitted function follows phi's dtype too
    loss, grad = autodiff.meta_gradient(np.array(PHI_OLD, dtype=np.float32), **PROBLEM)
    assert grad.dtype == np.float32
    np.testing.assert_allclose(grad, values32[1:], rtol=10 * eps32)
    # JAX's default without the switch is float32
    with jax.enable_x64(False):
        assert jnp.array(PHI_OLD).dtype == jnp.float32


# --- the program jax.grad runs is the book's backward sweep ----------------------------------


def test_gradient_program_is_chapter_3s_sweep():
    program = autodiff.gradient_program(PHI_OLD, **PROBLEM)
    values = [eq.value for eq in program]
    forward_lines = len(jax.make_jaxpr(partial(autodiff.meta_loss_unrolled, **PROBLEM))(PHI_OLD).eqns)
    assert forward_lines == 14 and len(program) == 32  # the forward pass, then the backward pass
    assert program[forward_lines - 1].text.startswith("_:")  # the meta-loss, which grad does not return
    np.testing.assert_allclose(values[forward_lines - 1], 7.29, rtol=1e-15)
    np.testing.assert_allclose(values[-1], -113.4, rtol=1e-15)
    # every adjoint of chapter 3's table appears, in the order the sweep visits them, except the two
    # JAX never needs: grad_bar and theta_bar at t = 0 (theta_0 is given, it does not depend on phi)
    backward = values[forward_lines:]
    rows = metaopt.backprop_trace(PHI_OLD, **PROBLEM)
    wanted = [rows[0][k] for k in ("theta_next_bar", "h_bar", "dphi3", "dphi2", "grad_bar", "dphi1", "theta_bar")]
    wanted += [rows[1][k] for k in ("h_bar", "dphi3", "dphi2", "dphi1")]
    position = 0
    for value in wanted:
        position = next(i for i in range(position, len(backward)) if np.isclose(backward[i], value, rtol=1e-14))
    assert not any(np.isclose(v, rows[1][k], rtol=1e-12) for v in backward for k in ("grad_bar", "theta_bar"))


def test_gradient_program_first_order_drops_the_theta_line():
    """stop_gradient on grad_t removes, at t = 1, the lines of grad_bar_1 = phi1 h_bar_1 and of
    theta_bar_1 = theta_bar_2 + 2 grad_bar_1 (two mul, one add_any): chapter 6's eq-first-order."""
    exact_program = autodiff.gradient_program(PHI_OLD, **PROBLEM)
    fo_program = autodiff.gradient_program(PHI_OLD, first_order=True, **PROBLEM)

    def split(program):
        primitives = [eq.text.split(" = ")[1].split()[0] for eq in program]
        loss_line = next(i for i, eq in enumerate(program) if eq.text.startswith("_:"))
        return primitives[:loss_line + 1], primitives[loss_line + 1:]

    (exact_fwd, exact_bwd), (fo_fwd, fo_bwd) = split(exact_program), split(fo_program)
    assert fo_fwd.count("stop_gradient") == 2 and [p for p in fo_fwd if p != "stop_gradient"] == exact_fwd
    assert len(fo_bwd) == len(exact_bwd) - 3
    removed = {p: exact_bwd.count(p) - fo_bwd.count(p) for p in set(exact_bwd)}
    assert {p: n for p, n in removed.items() if n} == {"mul": 2, "add_any": 1}
    # the last lines are dL/dphi3, dL/dphi2, dL/dphi1 (every other line from the end)
    np.testing.assert_allclose([eq.value for eq in fo_program[-5::2]], [12.42, -5.4, -124.2], rtol=1e-14)
    np.testing.assert_allclose([eq.value for eq in exact_program[-5::2]], [11.34, -5.4, -113.4], rtol=1e-14)


def test_scan_program_does_not_grow_with_the_horizon():
    size = {}
    for T in (2, 20, 200):
        unrolled = partial(autodiff.meta_loss_unrolled, theta0=10.0, theta_star=5.0, steps=T)
        scanned = partial(autodiff.meta_loss, theta0=10.0, theta_star=5.0, steps=T)
        size[T] = (len(jax.make_jaxpr(unrolled)(PHI_OLD).eqns), len(jax.make_jaxpr(scanned)(jnp.array(PHI_OLD)).eqns))
    assert [size[T][0] for T in size] == [7 * T for T in size]  # 7 lines per step, the first folded
    assert len({size[T][1] for T in size}) == 1


# --- errors -----------------------------------------------------------------------------------


def test_divergence_names_the_step():
    phi, theta0, theta_star, _ = group(8)
    phi = phi.copy()
    phi[3] = (1e20, 0.5, -1e20)  # a step of 2e40 times the error: theta overflows at step t = 7
    with pytest.raises(DivergenceError, match=r"theta_8 left the finite floating-point range at step t=7"):
        autodiff.meta_gradient(phi, theta0=theta0, theta_star=theta_star, steps=8)


def test_bad_input_inside_and_outside_jax():
    with pytest.raises(ValueError, match="phi"):
        autodiff.meta_loss((0.1, 0.5), **PROBLEM)
    with pytest.raises(ValueError, match="phi"):
        jax.grad(partial(autodiff.meta_loss, **PROBLEM))(jnp.ones(2))
    with pytest.raises(ValueError, match="truncation"):
        autodiff.meta_gradient(PHI_OLD, truncation=3, **PROBLEM)
    with pytest.raises(ValueError, match="weights"):
        autodiff.meta_gradient(PHI_OLD, weights=[1.0], **PROBLEM)
    with pytest.raises(ValueError, match="do not broadcast"):
        autodiff.meta_gradient(np.ones((2, 3)), theta0=[1.0, 2.0, 3.0], theta_star=5.0, steps=2)
