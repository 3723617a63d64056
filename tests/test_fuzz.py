"""Core's promise, fuzzed: hypothesis draws the arguments, every public function must keep it (issue 16).

``tests/test_policy.py`` and ``tests/test_promise.py`` try fixed lists of values. Here hypothesis
draws them, for every public function in ``test_policy.GOOD`` (which a new function must join,
or ``test_every_public_function_is_covered`` fails): one parameter at a time is replaced by a
value of its kind, some plainly bad (nan or inf anywhere inside an array, None, strings, bools
and complex numbers alone or inside a container, a wrong shape, a negative, fractional or huge
count, a hand-built task with a negative curvature), some merely unusual (any finite float from
subnormals to 1e308, numpy scalars, other dtypes, batches). The promise:

* a plainly bad value gets a TypeError or ValueError whose message names the parameter;
* any other value gets a finite result (no nan or inf anywhere inside it), a DivergenceError,
  or a TypeError or ValueError naming the parameter;
* nothing else: no RuntimeWarning (turned into an error), no numpy, sympy or JAX error, no
  call that runs for more than 20 s (a huge count is refused up front, not run).

The examples are derandomized (``derandomize=True``): the same cases on every machine and run, so
a failure here can be reproduced, while the cases are still ones nobody chose by hand.
"""

from __future__ import annotations

import inspect
import signal
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import test_policy as policy
from metaopt import DivergenceError
from metaopt.tasks import QuadraticTasks
from test_promise import non_finite

FUNCTION_NAMES = sorted(name for name in policy.GOOD if name in policy.FUNCTIONS)

# ---------------------------------------------------------------------------
# values by kind: each strategy draws (value, plainly_bad)
# ---------------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)  # every finite float64, subnormals to 1.8e308
moderate = st.floats(-20.0, 20.0)
non_finite_float = st.sampled_from([float("nan"), float("inf"), float("-inf")])
junk = st.sampled_from([None, "x", "2.5", b"1", True, False, 1j, 2 + 0j, object()])  # never a number


def bad(strategy):
    return strategy.map(lambda v: (v, True))


def ok(strategy):
    return strategy.map(lambda v: (v, False))


@st.composite
def float_arrays(draw, shape, elements=moderate):
    values = draw(st.lists(elements, min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    return np.array(values, dtype=float).reshape(shape)


@st.composite
def spoiled(draw, shape, spoil):
    """A finite array of ``shape`` (as nested lists) with one entry replaced by ``spoil``: bad anywhere."""
    array = draw(float_arrays(shape)).astype(object)
    index = draw(st.integers(0, array.size - 1))
    array.flat[index] = draw(spoil)
    return array.tolist()


def array_values(shape_last=None, any_shape=False):
    """An array argument: its last axis ``shape_last`` long (3 for phi), or any 1-D length."""
    shapes = st.just((shape_last,)) if shape_last else st.integers(1, 4).map(lambda n: (n,))
    batch = st.integers(1, 3).map(lambda n: (n, shape_last)) if shape_last else st.just((2,))
    spoils = st.one_of(non_finite_float, st.sampled_from([True, "a", 1j, None]))
    return st.one_of(
        ok(shapes.flatmap(float_arrays)),
        ok(shapes.flatmap(lambda s: float_arrays(s, finite))),
        ok(batch.flatmap(float_arrays)),
        ok(shapes.flatmap(float_arrays).map(lambda a: a.astype(np.float32))),
        bad(shapes.flatmap(lambda s: spoiled(s, spoils))),
        bad(junk),
        bad(st.just([[1.0, 2.0, 3.0], [1.0, 2.0]])),  # ragged
        bad(st.integers(1, 5).filter(lambda n: n != shape_last).flatmap(lambda n: float_arrays((2, 2, n))))
        if shape_last else (ok if any_shape else bad)(st.just(np.ones((2, 2, 2)))),
    )


KINDS = {
    "real": st.one_of(
        ok(finite), ok(moderate), ok(moderate.map(np.float64)), ok(moderate.map(np.float32)),
        ok(st.integers(-5, 5).map(np.int64)), bad(non_finite_float), bad(junk),
        bad(st.lists(moderate, min_size=1, max_size=3).map(lambda v: [*v, True])),  # a bool inside a list
    ),
    "phi": array_values(3),
    "array": array_values(),
    "anyarray": array_values(any_shape=True),  # parameters of any shape
    "trajectory": st.one_of(array_values(any_shape=True), bad(st.just(1.0))),  # time last, any batch before
    "count": st.one_of(
        ok(st.integers(0, 5)), ok(st.integers(0, 5).map(np.int64)), bad(st.integers(10**9, 10**15)),
        bad(st.integers(-10**6, -1)), bad(junk), bad(st.floats(0.5, 5.5).filter(lambda x: x != int(x))),
        bad(st.integers(0, 5).map(float)),
    ),
    "counts": st.one_of(
        ok(st.lists(st.integers(0, 6), min_size=1, max_size=4)), bad(st.just([10**12])), bad(junk),
        bad(st.lists(st.integers(0, 6), min_size=1, max_size=3).map(lambda v: [*v, -1])),
        bad(st.lists(st.integers(0, 6), min_size=1, max_size=3).map(lambda v: [*v, 2.5])),
        bad(st.lists(st.integers(0, 6), min_size=1, max_size=3).map(lambda v: [*v, True])),
    ),
    "range": st.one_of(
        ok(st.tuples(moderate, moderate).map(sorted).map(tuple)), bad(junk),
        bad(st.tuples(moderate, non_finite_float)), bad(st.tuples(moderate, moderate, moderate)),
    ),
    "callable": bad(st.sampled_from([None, "f", 1.0, (1, 2)])),
    "tasks": st.one_of(
        bad(st.sampled_from([None, "tasks", (1.0, 5.0, 10.0)])),
        # hand-built tasks: a negative or zero curvature, a nan, a bool, unequal lengths
        bad(st.tuples(st.floats(-5.0, 0.0), moderate, moderate).map(
            lambda v: QuadraticTasks(np.array([v[0]]), np.array([v[1]]), np.array([v[2]])))),
        bad(st.tuples(st.floats(0.1, 5.0), non_finite_float).map(
            lambda v: QuadraticTasks(np.array([v[0]]), np.array([v[1]]), np.array([1.0])))),
        bad(st.just(QuadraticTasks(np.array([1.0, 2.0]), np.array([True, False]), np.array([1.0, 2.0])))),
        bad(st.just(QuadraticTasks(np.array([1.0, 2.0]), np.array([1.0]), np.array([1.0, 2.0])))),
    ),
    "optimizer": bad(st.sampled_from([None, "adam", (1, 2), 0.1])),
    "bool": st.one_of(ok(st.booleans()), bad(st.sampled_from([None, "yes", 1, 0, 1.0]))),
    "str": st.one_of(ok(st.text(max_size=5)), bad(st.sampled_from([None, 5, 1.0, True]))),
    "choice": bad(st.one_of(st.sampled_from([None, 5, True]), st.text(max_size=6).filter(str.islower).map(
        lambda t: t + "_")),),
}


def parameters(func_name):
    params = inspect.signature(policy.FUNCTIONS[func_name]).parameters.values()
    return [p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]


@st.composite
def replacement(draw, func_name):
    """One parameter of ``func_name`` and a drawn value for it: (name, value, plainly_bad)."""
    name = draw(st.sampled_from(parameters(func_name)))
    value, plainly_bad = draw(KINDS[policy.kind_of(func_name, name)])
    if name == "seed" and isinstance(value, int) and value >= 10**9:
        plainly_bad = False  # a large seed is still a seed; any other large count must be refused
    return name, value, plainly_bad


class Expired(Exception):
    pass


def _expired(signum, frame):
    raise Expired("no answer within 20 s")


def keeps_the_promise(func_name, name, value, plainly_bad):
    previous = signal.signal(signal.SIGALRM, _expired)
    signal.alarm(20)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a RuntimeWarning fails the call
            try:
                result = policy.call(func_name, replace=(name, value))
            except DivergenceError as error:
                assert not plainly_bad, f"a plainly bad {name}={value!r} was blamed on the computation: {error}"
                return
            except (TypeError, ValueError) as error:
                assert name in str(error), f"{type(error).__name__} for {name}={value!r} does not name it: {error}"
                return
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert not plainly_bad, f"{func_name} accepted the bad value {name}={value!r}"
    found = non_finite(result)
    assert not found, f"{func_name}({name}={value!r}) returned non-finite numbers: {found}"


def test_every_kind_has_a_strategy():
    """A new kind of parameter in test_policy must get values here too."""
    kinds = {policy.kind_of(f, p) for f in FUNCTION_NAMES for p in parameters(f)}
    assert kinds <= set(KINDS), kinds - set(KINDS)


@pytest.mark.parametrize("func_name", FUNCTION_NAMES)
def test_fuzzed_arguments_keep_the_promise(func_name):
    @settings(max_examples=12, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(replacement(func_name))
    def check(case):
        keeps_the_promise(func_name, *case)

    check()
