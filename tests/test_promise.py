"""Core's promise kept by every public function, at the edges of the floating-point range (issue 16).

``tests/test_policy.py`` checks that plainly bad values (nan, inf, None, strings, bools, complex
numbers, wrong shapes, negative counts) get a named TypeError or ValueError. Here every public
function meets values that are *not* plainly bad: numbers at the edges of float64 (1e308 and
-1e308, whose products overflow; 1e-320, a subnormal whose reciprocal overflows), numpy scalars
and arrays of other dtypes, empty and ragged arrays, a batch of phi. Whatever the value, one of
these, and nothing else, may happen:

* a result whose every float is finite (no nan, no inf, anywhere inside it);
* a ``DivergenceError`` (the computation left the floating-point range, and says so);
* a TypeError or ValueError whose message names the parameter.

A RuntimeWarning is turned into an error, so an overflow that numpy only warns about fails here,
as does any other exception (numpy's own, sympy's, an OverflowError).

Counts (``steps``, ``iterations``, ``n``, ``pairs``, ``truncation``, ``order``) of every function
at 10^9 and 10^12 must be refused up front, with the limit and what it protects (time or memory);
the memory tests below check that the meta-loss is forward-only, that truncation keeps only its
steps, and that the smoothing order is bounded.
"""

from __future__ import annotations

import inspect
import re
import warnings

import numpy as np
import pytest

import test_policy as policy
from metaopt import DivergenceError

BIG, TINY = 1e308, 1e-320  # the products of BIG overflow; 1 / TINY overflows
EDGES = {
    "real": [("1e308", BIG), ("-1e308", -BIG), ("1e-320", TINY), ("np.float64", np.float64(0.5)),
             ("np.float32", np.float32(0.5)), ("np.int64", np.int64(2)), ("zero", 0.0), ("negative", -3.0)],
    "phi": [("1e308", (BIG, 0.5, -1.0)), ("-1e308", (0.1, 0.5, -BIG)), ("1e-320", (TINY, 0.5, -1.0)),
            ("float32", np.array([0.1, 0.5, -1.0], dtype=np.float32)), ("empty", ()),
            ("ragged", [[0.1, 0.5, -1.0], [0.1, 0.5]]), ("batch", np.tile([0.1, 0.5, -1.0], (3, 1)))],
    "array": [("1e308", [BIG, 1.0]), ("1e-320", [TINY, 1.0]), ("empty", []), ("ragged", [[1.0], [1.0, 2.0]]),
              ("int", np.array([1, 2]))],
    "anyarray": [("1e308", [BIG, 1.0]), ("empty", [])],
    "trajectory": [("1e308", [BIG, 1.0]), ("empty", [])],
}

# Where an inf in the result is the documented answer, not a silent failure: (function, parameter, edge).
DOCUMENTED_INF = {
    # a learning rate of 1e308 overflows: tune scores that grid point inf ("a run that overflows scores inf")
    ("baselines.tune", "grid", "1e308"), ("baselines.tune_step_size", "grid", "1e308"),
    ("lstm.tune", "grid", "1e308"),
}


def edge_cases():
    for func_name in sorted(policy.GOOD):
        func = policy.FUNCTIONS.get(func_name)
        if func is None:
            continue
        for param in inspect.signature(func).parameters.values():
            if param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                continue
            for label, value in EDGES.get(policy.kind_of(func_name, param.name), []):
                yield pytest.param(func_name, param.name, label, value, id=f"{func_name}-{param.name}-{label}")


def non_finite(result) -> list:
    """Every non-finite float inside a result (numbers, arrays, tuples, lists, dicts, NamedTuples)."""
    found = []

    def walk(x):
        if isinstance(x, (float, complex, np.floating, np.complexfloating)):
            if not np.isfinite(x):
                found.append(x)
        elif isinstance(x, np.ndarray):
            if x.dtype.kind in "fc" and not np.all(np.isfinite(x)):
                found.append(x[~np.isfinite(x)][:3].tolist())
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, (tuple, list)):
            for v in x:
                walk(v)

    walk(result)
    return found


@pytest.mark.parametrize("func_name, param, label, value", list(edge_cases()))
def test_edge_values_keep_the_promise(func_name, param, label, value):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning (overflow, invalid value) fails the call
        try:
            result = policy.call(func_name, replace=(param, value))
        except DivergenceError:
            return
        except (TypeError, ValueError) as error:
            assert re.search(rf"(?<![A-Za-z0-9_]){re.escape(param)}(?![A-Za-z0-9_])", str(error)), (
                f"{func_name}({param}={label}): the message does not name {param!r}: "
                f"{type(error).__name__}: {error}")
            return
    bad = non_finite(result)
    if (func_name, param, label) in DOCUMENTED_INF:
        assert bad and all(np.all(np.isinf(b)) for b in bad), f"{func_name}({param}={label}): expected its documented inf"
    else:
        assert not bad, f"{func_name}({param}={label}) returned non-finite values {bad[:3]}"


def test_the_walk_reaches_every_module():
    """The edge walk is not empty for any computational module, and covers every kind of number."""
    walked = {case.values[0].split(".")[0] for case in edge_cases()}
    missing = set(policy.COMPUTATIONAL) - walked - {"document"}  # document holds the document's numbers only
    assert not missing, f"no function of {sorted(missing)} meets an edge value"
    assert len(list(edge_cases())) >= 1000


# --- difference steps below their precision floor are refused (issue 16, part 2) -------------------


@pytest.mark.parametrize("eps", [1e-17, 1e-320, 1e-14])
def test_finite_difference_refuses_a_step_below_its_floor(eps):
    """eps = 1e-17 does not move phi2 = 0.5 or phi3 = -1 at all (it returned [-222, 0, 0]); 1e-320 returned zeros."""
    import metaopt

    assert 0.5 + 1e-17 == 0.5 and -1.0 + 1e-17 == -1.0  # the reason, in floats
    with pytest.raises(ValueError, match=r"^eps must be at least 2\.2e-13 here"):
        metaopt.finite_difference(eps=eps)


def test_es_refuses_a_scale_below_its_floor():
    """sigma = 1e-320 returned a zero gradient with a zero standard error."""
    from metaopt import horizon

    with pytest.raises(ValueError, match=r"^sigma must be at least"):
        horizon.es_meta_gradient(sigma=1e-320)
    with pytest.raises(ValueError, match=r"^sigma must be at least 1\.1e-10 here .*= 1e\+03\)"):
        horizon.es_gradient(lambda x: x.sum(axis=1), phi=(1e3, 0.5, -1.0), sigma=1e-12, pairs=4, seed=0)


def test_a_step_just_above_the_floor_still_gives_a_derivative():
    """At 10x the floor the central difference is within 1e-2 relative of the exact gradient
    (tests/reference.py, exact rationals): the floor refuses rounding noise, not usable steps."""
    import metaopt
    import reference as ref
    from metaopt import validate

    phi, floor = (0.1, 0.5, -1.0), validate.STEP_FLOOR_ULPS * np.spacing(1.0)
    exact = [float(d) for d in ref.forward(phi, 10.0, 5.0, 2).dloss]
    got = metaopt.finite_difference(phi, eps=10 * floor)
    assert np.allclose(got, exact, rtol=1e-2), (got, exact)
    with pytest.raises(ValueError):
        metaopt.finite_difference(phi, eps=0.5 * floor)


# --- stated upper limits for counts (issue 16, part 1: the symbolic family so far) ----------------

SYMBOLIC = sorted(name for name in policy.GOOD
                  if name.split(".")[0] in ("symbolic", "landscape") and name != "landscape.loss_slice"
                  and "steps" in inspect.signature(policy.FUNCTIONS[name]).parameters)


NOT_SIZES = {"seed", "i", "j"}  # a seed and an index are not amounts of work
COUNTS = [(name, param) for name in sorted(policy.GOOD) if name in policy.FUNCTIONS
          for param in inspect.signature(policy.FUNCTIONS[name]).parameters
          if policy.kind_of(name, param) == "count" and param not in NOT_SIZES]
# the refusal: a stated limit (and why), a memory bound, or the size of what the tasks hold
REFUSED = re.compile(r"must be <= \d+: .+; got [\d × =]+$|this call would keep \d+ values .*the limit is"
                     r"|must be at most the \d+ steps the tasks have|between 1 and steps=")


@pytest.fixture
def deadline():
    """Fail a call that has not returned within 20 s, instead of hanging the suite (SIGALRM)."""
    import signal

    def expired(signum, frame):
        raise TimeoutError("no answer within 20 s: this count has no limit stated up front")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("func_name, param", COUNTS, ids=[f"{f}-{p}" for f, p in COUNTS])
@pytest.mark.parametrize("size", [10**9, 10**12])
def test_every_count_has_a_stated_limit(func_name, param, size, deadline):
    """A count of 10^9 or 10^12 is refused at once, saying what the limit is and why, instead of
    running until memory or patience ends (every numeric function did, at 10^9)."""
    with pytest.raises(ValueError, match=REFUSED) as caught:
        policy.call(func_name, replace=(param, size))
    message = str(caught.value)
    assert param in message or "would keep" in message, message


def test_the_count_walk_is_complete():
    """Every module with counts is walked, and the walk knows every kind of count the library has."""
    assert {f.split(".")[0] for f, _ in COUNTS} >= {"core", "sweep", "tasks", "train", "baselines", "autodiff",
                                                    "horizon", "lstm", "digits", "dynamics", "symbolic"}
    assert {p for _, p in COUNTS} == {"steps", "iterations", "n", "pairs", "truncation", "order"}


@pytest.mark.parametrize("func_name", SYMBOLIC + ["horizon.closed_form_size", "horizon.bptt_tape"])
def test_exact_horizons_state_their_limit(func_name):
    """The exact family's limit is its own (the closed form grows like T^4, the Hessians' compiled
    polynomials faster), and just past it is refused."""
    from metaopt import horizon, landscape, symbolic

    limit = {"horizon.bptt_tape": horizon.TAPE_MAX_STEPS, "landscape.hessian": landscape.HESSIAN_MAX_STEPS,
             "landscape.hessian_exact": landscape.HESSIAN_MAX_STEPS, "landscape.hessian_symbolic":
             landscape.HESSIAN_MAX_STEPS, "landscape.sharpness": landscape.HESSIAN_MAX_STEPS}.get(func_name,
                                                                                                 symbolic.MAX_STEPS)
    with pytest.raises(ValueError, match=rf"^steps must be <= {limit}: .*; got {limit + 1}$"):
        policy.call(func_name, replace=("steps", limit + 1))


def _peak_bytes(func):
    """The peak of memory allocated (by Python and numpy) while ``func()`` runs."""
    import tracemalloc

    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_meta_loss_is_forward_only():
    """meta_loss keeps nothing of the inner loop but its current values: a batch of 100 phi at
    T = 10^5 (it stored 2 x 10^7 values, 160 MB) now peaks below 100 kB, and one phi at T = 10^6
    below 10 kB; the loss is the same bits as meta_gradient's."""
    import metaopt

    phis = np.random.default_rng(0).uniform([0.05, 0.0, -1.0], [0.2, 0.6, -0.5], (100, 3))
    assert _peak_bytes(lambda: metaopt.meta_loss(phis, theta0=10.0, theta_star=5.0, steps=10**5)) < 100_000
    assert _peak_bytes(lambda: metaopt.meta_loss((0.1, 0.5, -1.0), theta0=10.0, theta_star=5.0,
                                                 steps=10**6)) < 10_000
    for phi in (phis[:7], (0.1, 0.5, -1.0)):
        loss = metaopt.meta_loss(phi, theta0=10.0, theta_star=5.0, steps=300)
        np.testing.assert_array_equal(loss, metaopt.meta_gradient(phi, theta0=10.0, theta_star=5.0, steps=300).loss)


def test_a_diverging_forward_only_loop_still_names_its_step():
    """Without the stored trajectory, the step is found by running the loop again: the message is
    unroll's, which finds it in the trajectory it keeps (one phi on floats, and a batch)."""
    import metaopt

    for phi in ((3.0, 0.5, -1.0), np.array([(0.1, 0.5, -1.0), (3.0, 0.5, -1.0)])):
        with pytest.raises(DivergenceError) as kept:
            metaopt.unroll(phi, theta0=10.0, theta_star=5.0, steps=2000)
        with pytest.raises(DivergenceError) as forward:
            metaopt.meta_loss(phi, theta0=10.0, theta_star=5.0, steps=2000)
        assert str(forward.value) == str(kept.value)
        assert re.search(r"theta_\d+ left the finite floating-point range at step t=\d+", str(forward.value))


def test_truncation_keeps_only_its_steps():
    """Truncated BPTT through the last k steps keeps k steps: at T = 10^5 and k = 10 the sweep
    (it stored all 3 x 10^5 values) peaks below 100 kB (its values are checked against sympy's
    truncated gradient in tests/test_tasks.py)."""
    from metaopt import sweep

    peak = _peak_bytes(lambda: sweep.meta_gradient((0.1, 0.5, -1.0), theta0=10.0, theta_star=5.0,
                                                   steps=10**5, truncation=10))
    assert peak < 100_000, peak


def test_the_smoothing_order_is_bounded():
    """The exact Gauss-Hermite rule needs T + 1 nodes per axis, (T+1)^3 inner loops (a memory error
    at T = 1000); past MAX_ORDER the order must be given, and it is at most MAX_ORDER."""
    from metaopt import horizon

    with pytest.raises(ValueError, match=rf"^order must be given for steps > {horizon.MAX_ORDER - 1}"):
        horizon.smoothed_meta_loss((0.1, 0.5, -1.0), steps=1000)
    with pytest.raises(ValueError, match=rf"^order must be <= {horizon.MAX_ORDER}: "):
        horizon.smoothed_meta_loss((0.1, 0.5, -1.0), steps=3, order=horizon.MAX_ORDER + 1)
    exact = horizon.smoothed_meta_loss((0.1, 0.5, -1.0), steps=horizon.MAX_ORDER - 1, sigma=0.01)
    assert np.isfinite(exact)


def test_the_limits_are_where_the_book_works():
    """The limits leave the book's horizons alone: chapter 7 builds closed forms up to T = 60."""
    from metaopt import horizon, symbolic

    assert len(SYMBOLIC) >= 8
    assert symbolic.MAX_STEPS >= 60 and horizon.TAPE_MAX_STEPS >= 1000
    symbolic.meta_gradient(steps=2)
    with pytest.raises(ValueError):
        symbolic.unroll(steps=symbolic.MAX_STEPS + 1)
    assert len(horizon.bptt_tape(steps=3)) > 0


def test_the_readme_states_the_limits_the_library_has():
    """Every limit in the README's "Limits" table is the library's constant, and every constant that
    limits a count (MAX_*, *_MAX_STEPS) is in the table: the table cannot drift from the code."""
    import importlib
    from pathlib import Path

    import metaopt

    text = Path(__file__).resolve().parents[1].joinpath("README.md").read_text()
    section = text[text.index("## Limits: what a call may cost"):]
    section = section[:section.index("\n## ", 5)]

    def number(written):
        written = written.replace(",", "")
        base, _, power = written.partition("^")
        return int(base) ** int(power) if power else int(base)

    stated = {f"{m}.{name}": number(v) for m, name, v in re.findall(r"`(\w+)\.([A-Z_]+)` = ([\d,^]+)", section)}
    for qualified, value in stated.items():
        module, name = qualified.split(".")
        assert getattr(importlib.import_module(f"metaopt.{module}"), name) == value, qualified
    constants = {f"{m}.{name}" for m in policy.COMPUTATIONAL + ["validate"]
                 for name in getattr(importlib.import_module(f"metaopt.{m}"), "__all__", [])
                 if re.fullmatch(r"(\w+_)?MAX_\w+", name)}
    assert constants <= set(stated), constants - set(stated)
    assert metaopt.validate.MAX_VALUES == 2**27


def test_the_issues_accepted_bad_inputs_are_refused():
    """The bad inputs issue 16 found accepted (or refused with another library's error) are refused
    with a named error: a complex or boolean sympy value, a theta0 that adds a batch axis to phi in
    meta-training (it trained, then failed in numpy), a hand-built task with a negative curvature,
    a Hessian past the horizon where its polynomials can be compiled (a RecursionError)."""
    import sympy as sp

    import metaopt
    from metaopt import landscape, meta_optimizers, symbolic, tasks

    cases = [
        (lambda: symbolic.exact(1 + sp.I, name="value"), TypeError, r"^value must be real, got the complex number"),
        (lambda: symbolic.exact(sp.true, name="value"), TypeError, r"^value must be a real number or a sympy"),
        (lambda: symbolic.unroll(theta0=sp.I, theta_star=5.0, steps=2), TypeError, r"^theta0 must be real"),
        (lambda: metaopt.meta_train(theta0=[10.0, 12.0], iterations=2), ValueError, r"^theta0 \(shape \(2,\)\) must"),
        (lambda: meta_optimizers.meta_train_with(optimizer=meta_optimizers.sgd(0.01), theta_star=[1.0, 2.0]),
         ValueError, r"^theta_star \(shape \(2,\)\) must broadcast to phi's batch shape \(\)"),
        (lambda: tasks.unroll_tasks(metaopt.PHI_OLD, steps=2, tasks=tasks.QuadraticTasks(
            np.array([-1.0]), np.array([5.0]), np.array([10.0]))), ValueError, r"^tasks\.curvature must be positive"),
        (lambda: landscape.hessian(metaopt.PHI_OLD, steps=40), ValueError,
         rf"^steps must be <= {landscape.HESSIAN_MAX_STEPS}: the Hessian's polynomials"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()
    # a batch of phi, one per problem, still trains
    record = metaopt.meta_train(np.tile(metaopt.PHI_OLD, (2, 1)), theta0=[10.0, 12.0], iterations=2)
    assert record.phi.shape == (3, 2, 3)
