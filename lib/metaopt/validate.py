r"""The library's one input policy, and its one error for a run that overflows.

Every public function of :mod:`metaopt` checks its arguments with the functions
here, so the same mistake gives the same error everywhere:

* a value of the wrong **type** (a string, ``None``, a bool, a complex number,
  a float where a count is needed) raises :class:`TypeError`;
* a value of the right type but the wrong **value** (nan, inf, a negative count,
  a step size of 0, a ``phi`` without 3 entries) raises :class:`ValueError`;
* every message names the argument and shows what was given.

A computation that leaves the floating-point range raises :class:`DivergenceError`
naming the step (or iteration) where it happened, never a silent ``inf`` or ``nan``.

``tests/test_policy.py`` walks every public function of every module with the
same bad values and checks this policy, so a new function cannot skip it.

>>> count("steps", 2.5)
Traceback (most recent call last):
    ...
TypeError: steps must be an integer, got 2.5 (float)
>>> real("theta0", float("nan"))
Traceback (most recent call last):
    ...
ValueError: theta0 must be finite, got nan
"""

from __future__ import annotations

import functools
import numbers

import numpy as np

__all__ = [
    "DivergenceError",
    "real",
    "positive",
    "unit_interval",
    "count",
    "seed",
    "real_array",
    "phi",
    "one_phi",
    "vector",
    "problem",
    "callable_",
    "instance",
    "choice",
    "finite_results",
    "difference_step",
    "STEP_FLOOR_ULPS",
    "work",
    "memory",
    "MAX_VALUES",
]


class DivergenceError(FloatingPointError):
    """A run of the inner loop, its backward pass or meta-training left the finite floating-point range.

    Raised instead of returning ``inf`` or ``nan``; the message names the step (or iteration).
    """


def _is_bool(value) -> bool:
    return isinstance(value, (bool, np.bool_))


def real(name: str, value) -> float:
    """``value`` as a finite Python float: TypeError unless a real number (bools excluded), ValueError if nan or inf."""
    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def positive(name: str, value) -> float:
    """A finite real number > 0 (a step size, a scale, an epsilon)."""
    value = real(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return value


#: A difference step must be at least this many units in the last place of max(1, |largest coordinate|).
STEP_FLOOR_ULPS = 1000


def difference_step(name: str, value, at) -> float:
    """A step size for finite differences or perturbations at the point(s) ``at``: positive, and at
    least :data:`STEP_FLOOR_ULPS` units in the last place of max(1, |largest coordinate|).

    Below that floor the perturbed points are rounded (``0.5 + 1e-17 == 0.5``), and the
    difference quotient is dominated by rounding: zeros or confident nonsense, not a derivative.

    >>> difference_step("eps", 1e-17, (0.1, 0.5, -1.0))
    Traceback (most recent call last):
        ...
    ValueError: eps must be at least 2.2e-13 here (1000 units in the last place of max(1, |phi|) = 1), got 1e-17: below that the perturbed points are rounded and the difference is rounding error
    """
    value = positive(name, value)
    scale = max(1.0, float(np.max(np.abs(np.asarray(at, dtype=float)), initial=0.0)))
    floor = STEP_FLOOR_ULPS * float(np.spacing(scale))
    if value < floor:
        raise ValueError(f"{name} must be at least {floor:.2g} here ({STEP_FLOOR_ULPS} units in the last place of "
                         f"max(1, |phi|) = {scale:.3g}), got {value!r}: below that the perturbed points are "
                         f"rounded and the difference is rounding error")
    return value


def unit_interval(name: str, value) -> float:
    """A real number in [0, 1): a decay rate or a momentum coefficient."""
    value = real(name, value)
    if not 0 <= value < 1:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return value


def count(name: str, value, minimum: int = 0, maximum: int | None = None, why: str = "") -> int:
    """An integer >= ``minimum`` (a number of steps, iterations, samples): 2.5 or True is a TypeError.

    ``maximum``, if given, is a stated upper limit (``why`` says what a larger count would cost), so
    that a request that would take minutes or gigabytes is refused up front instead of hanging.
    """
    if _is_bool(value) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}{': ' + why if why else ''}; got {value!r}")
    return int(value)


def work(limit: int, why: str, **counts: int) -> None:
    """Refuse up front a call whose work, the product of its (already checked) ``counts``, exceeds ``limit``.

    The counts are what the call repeats one after another (steps, iterations, grid points); a
    count of 0 counts as 1 (a call with ``steps=0`` still runs its iterations). ``why`` says what
    one unit costs, so the message tells the caller what the request would have taken:

    >>> work(10**7, "about 0.2 us a step here", steps=10**9)
    Traceback (most recent call last):
        ...
    ValueError: steps must be <= 10000000: about 0.2 us a step here; got 1000000000
    """
    total = 1
    for value in counts.values():
        total *= max(int(value), 1)
    if total > limit:
        names = " × ".join(counts)
        given = " × ".join(str(v) for v in counts.values())
        got = given if len(counts) == 1 else f"{given} = {total}"
        raise ValueError(f"{names} must be <= {limit}: {why}; got {got}")


#: The most float64 values a call may keep at once (1 GiB); :func:`memory` refuses more up front.
MAX_VALUES = 2**27


def memory(values: int, what: str, limit: int = MAX_VALUES) -> None:
    """Refuse up front a call that would keep more than ``limit`` float64 values (default 1 GiB).

    ``what`` names the arguments the size comes from and how, so the caller knows which to shrink:

    >>> memory(4 * 10**9, "2 x steps x batch (steps=10**6, a batch of 2000 phi)")
    Traceback (most recent call last):
        ...
    ValueError: this call would keep 4000000000 values (29.8 GiB): 2 x steps x batch (steps=10**6, a batch of 2000 phi); the limit is 134217728 values (1 GiB)
    """
    if values > limit:
        raise ValueError(f"this call would keep {values} values ({values * 8 / 2**30:.3g} GiB): {what}; "
                         f"the limit is {limit} values ({limit * 8 / 2**30:.3g} GiB)")


def seed(name: str, value) -> int:
    """A random seed: an integer >= 0, so that every random result in the book can be reproduced."""
    return count(name, value, minimum=0)


def real_array(name: str, value) -> np.ndarray:
    """``value`` as a float array of finite real numbers.

    numpy would quietly turn ``True`` into 1.0 and ``"2"`` into 2.0 inside a list,
    and drop the imaginary part of a complex number: those are TypeErrors here.
    """
    if value is None:
        raise TypeError(f"{name} must be real numbers, got None")
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged sequences and the like
        raise TypeError(f"{name} must be real numbers, got {value!r} ({exc})") from None
    if not isinstance(value, np.ndarray) and raw.ndim > 0:
        items = np.asarray(value, dtype=object).ravel()
        if any(_is_bool(v) or isinstance(v, (str, bytes)) for v in items):
            raise TypeError(f"{name} must be real numbers, got {value!r}")
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged sequences and the like
        raise TypeError(f"{name} must be real numbers, got {value!r} ({exc})") from None
    if raw.dtype.kind == "O":
        if not all(isinstance(v, numbers.Real) and not _is_bool(v) for v in raw.flat):
            raise TypeError(f"{name} must be real numbers, got {value!r}")
    elif raw.dtype.kind not in "iuf":  # strings, booleans, complex numbers, ...
        raise TypeError(f"{name} must be real numbers, got {value!r} (dtype {raw.dtype})")
    arr = raw.astype(float)
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))
        where = f" at index {tuple(int(i) for i in bad[0])}" if arr.ndim else ""
        raise ValueError(f"{name} must be finite, got {value!r} (non-finite value{where})")
    return arr


def phi(value, name: str = "phi") -> np.ndarray:
    """Optimizer parameters: a float array of shape ``(..., 3)``, the leading axes a batch."""
    arr = real_array(name, value)
    if arr.ndim == 0 or arr.shape[-1] != 3:
        raise ValueError(
            f"{name} must hold the 3 optimizer parameters (phi1, phi2, phi3) along its "
            f"last axis, got shape {arr.shape}"
        )
    return arr


def one_phi(value, name: str = "phi") -> np.ndarray:
    """One optimizer: ``phi`` of shape ``(3,)`` exactly."""
    arr = phi(value, name)
    if arr.shape != (3,):
        raise ValueError(f"{name} must be one optimizer (phi1, phi2, phi3), got shape {arr.shape}")
    return arr


def vector(name: str, value) -> np.ndarray:
    """A 1-D float array of finite real numbers (a grid of values, a list of weights)."""
    arr = real_array(name, value)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of numbers, got shape {arr.shape}")
    return arr


def problem(phi_value, *, theta0, theta_star, curvature):
    """The inner loop's inputs, checked together: ``(phi, theta0, theta_star, curvature, batch)``.

    ``phi`` has shape ``(..., 3)``; ``theta0``, ``theta_star`` and the positive ``curvature``
    broadcast against its batch shape, which is returned as ``batch`` (the arrays are not
    broadcast here).
    """
    phi_arr = phi(phi_value)
    theta0 = real_array("theta0", theta0)
    theta_star = real_array("theta_star", theta_star)
    curvature = real_array("curvature", curvature)
    if np.any(curvature <= 0):
        raise ValueError(f"curvature must be positive, got {curvature!r}")
    try:
        batch = np.broadcast_shapes(phi_arr.shape[:-1], theta0.shape, theta_star.shape, curvature.shape)
    except ValueError:
        raise ValueError(
            f"phi (batch shape {phi_arr.shape[:-1]}), theta0 {theta0.shape}, theta_star {theta_star.shape} "
            f"and curvature {curvature.shape} do not broadcast together"
        ) from None
    return phi_arr, theta0, theta_star, curvature, batch


def callable_(name: str, value):
    """A function: TypeError if ``value`` cannot be called."""
    if not callable(value):
        raise TypeError(f"{name} must be a function, got {value!r} ({type(value).__name__})")
    return value


def instance(name: str, value, cls, hint: str = ""):
    """``value`` if it is a ``cls``, else TypeError naming ``name`` (``hint`` says how to make one)."""
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be a {cls.__name__}{hint}, got {value!r} ({type(value).__name__})")
    return value


def choice(name: str, value, options):
    """One of the strings ``options``: TypeError for a non-string, ValueError for another string."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {', '.join(map(repr, options))}, got {value!r} ({type(value).__name__})")
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}, got {value!r}")
    return value


def _all_finite(result) -> bool:
    if isinstance(result, (tuple, list)):
        return all(_all_finite(v) for v in result)
    array = np.asarray(result)
    return array.dtype.kind not in "fc" or bool(np.all(np.isfinite(array)))


def finite_results(func):
    """Decorator for a closed-form function of floats: a finite result, or a DivergenceError.

    The formula runs with numpy's floating-point warnings off; if any number of its result
    (a float, an array, a tuple of them) is inf or nan, or Python's own float conversion
    overflows, the call raises :class:`DivergenceError` naming the function, instead of
    returning inf or nan with a RuntimeWarning. Input checks inside still raise as usual.
    """

    @functools.wraps(func)
    def checked(*args, **kwargs):
        try:
            with np.errstate(all="ignore"):
                result = func(*args, **kwargs)
        except OverflowError as error:
            raise DivergenceError(f"{func.__name__}: a value left the floating-point range ({error})") from None
        if not _all_finite(result):
            raise DivergenceError(f"{func.__name__}: the result left the floating-point range "
                                  f"(an input too large or too small for float64)")
        return result

    return checked
