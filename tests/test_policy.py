"""One shape and one input policy for every public function of the library (issue 9).

The walk below covers every public function (``__all__``) of every computational
module of ``metaopt`` (all but ``validate``, which *is* the policy and has its own
tests below, and ``book`` and ``plotting``, the notebooks' display helpers). A new
function that is not listed in ``GOOD`` fails ``test_every_public_function_is_covered``,
so it cannot skip the policy:

* its subject is its only positional parameter; everything else is keyword-only;
* the same bad values give the same errors everywhere: a wrong type (None, a string,
  a bool, a complex number, a float where a count is needed) is a TypeError, a wrong
  value (nan, inf, a negative count, a wrong shape) a ValueError, and the message
  names the argument.

Each parameter's kind comes from its name (one spelling across the library), with a
few per-function exceptions listed in ``KIND_OVERRIDES``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import numpy as np
import pytest

import metaopt
from metaopt import DivergenceError, PHI_OLD, validate
from metaopt import meta_optimizers as mo
from metaopt.tasks import make_tasks

LIB = Path(metaopt.__file__).parent
EXEMPT = {"validate", "book", "plotting", "figure_words"}  # figure_words: the Korean figures' words, no function
COMPUTATIONAL = sorted(
    m.name for m in pkgutil.iter_modules(metaopt.__path__) if not m.name.startswith("_") and m.name not in EXEMPT
)


def public_functions():
    for name in COMPUTATIONAL:
        module = importlib.import_module(f"metaopt.{name}")
        for attr in module.__all__:
            obj = getattr(module, attr)
            if inspect.isfunction(obj) and obj.__module__ == module.__name__:
                yield f"{name}.{attr}", obj


FUNCTIONS = dict(public_functions())

# ---------------------------------------------------------------------------
# one valid call per public function: (positional subject or None, keyword arguments)
# ---------------------------------------------------------------------------

TASKS = make_tasks(curvature=[1.0, 0.5], theta_star=[5.0, -1.0], theta0=[10.0, 2.0])
PROBLEM = dict(theta0=10.0, theta_star=5.0, steps=2)
NO_SUBJECT = object()


def _square_losses(points):
    return np.sum(np.asarray(points) ** 2, axis=-1)


GOOD = {
    # (the valid calls of autodiff share the shapes its docstrings and tests/test_autodiff.py compile)
    "autodiff.meta_loss": (PHI_OLD, PROBLEM),
    "autodiff.meta_loss_unrolled": (PHI_OLD, dict(curvature=1.0, first_order=False, **PROBLEM)),
    "autodiff.meta_gradient": (
        PHI_OLD, dict(curvature=0.7, weights=[0.5, 1.0], truncation=1, first_order=False, **PROBLEM)
    ),
    "autodiff.meta_gradient_forward": (PHI_OLD, PROBLEM),
    "autodiff.hessian": (PHI_OLD, PROBLEM),
    "autodiff.gradient_program": (PHI_OLD, dict(first_order=False, **PROBLEM)),
    "baselines.run_learned": (PHI_OLD, dict(tasks=TASKS, steps=3)),
    "baselines.run_optimizer": (mo.sgd(0.1), dict(tasks=TASKS, steps=3, name="SGD")),
    "baselines.run_sgd": (TASKS, dict(steps=3, lr=0.1)),
    "baselines.run_momentum": (TASKS, dict(steps=3, lr=0.1, beta=0.5)),
    "baselines.run_adam": (TASKS, dict(steps=3, lr=0.1, b1=0.9, b2=0.999, eps=1e-8)),
    "baselines.summed_loss": (np.ones((2, 3)), dict(tasks=TASKS, weights=[1.0, 1.0])),
    "baselines.tune": (
        metaopt.baselines.run_momentum, dict(tasks=TASKS, steps=3, grid={"lr": [0.1, 0.2], "beta": [0.0, 0.5]})
    ),
    "baselines.tune_step_size": (metaopt.baselines.run_sgd, dict(tasks=TASKS, steps=3, grid=[0.1, 0.2])),
    "core.unroll": (PHI_OLD, PROBLEM),
    "core.meta_gradient": (PHI_OLD, PROBLEM),
    "core.meta_loss": (PHI_OLD, PROBLEM),
    "core.finite_difference": (PHI_OLD, dict(PROBLEM, eps=1e-6)),
    "core.backprop_trace": (PHI_OLD, PROBLEM),
    "dynamics.momentum_params": (PHI_OLD, {}),
    "dynamics.phi_from_momentum": (0.1, dict(beta=0.5, phi3=-1.0)),
    "dynamics.heavy_ball": (0.1, dict(beta=0.5, curvature=1.0, **PROBLEM)),
    "dynamics.transition_matrix": (PHI_OLD, dict(curvature=1.0)),
    "dynamics.eigenvalues": (PHI_OLD, dict(curvature=1.0)),
    "dynamics.spectral_radius": (PHI_OLD, dict(curvature=1.0)),
    "dynamics.convergence_map": ([0.1, 0.2], dict(betas=[0.0, 0.5])),
    "dynamics.zero_loss_phi2": (0.1, dict(phi3=-1.0)),
    "dynamics.zero_loss_beta": (0.1, {}),
    "dynamics.balance": (PHI_OLD, {}),
    "dynamics.critical_beta": (0.1, {}),
    "first_order.meta_gradient_first_order": (PHI_OLD, PROBLEM),
    "first_order.frozen_loss": (PHI_OLD, dict(grads=[10.0, 8.0], theta0=10.0, theta_star=5.0)),
    "horizon.meta_gradient_norms": (PHI_OLD, dict(horizons=[1, 2], theta0=10.0, theta_star=5.0)),
    "horizon.truncated_meta_gradient": (PHI_OLD, dict(truncation=1, **PROBLEM)),
    "horizon.closed_form_size": (NO_SUBJECT, PROBLEM),
    "horizon.bptt_tape": (NO_SUBJECT, dict(steps=2)),
    "horizon.es_gradient": (_square_losses, dict(phi=PHI_OLD, sigma=0.1, pairs=4, seed=0)),
    "horizon.es_meta_gradient": (PHI_OLD, dict(sigma=0.01, pairs=4, seed=0, **PROBLEM)),
    "horizon.smoothed_meta_loss": (PHI_OLD, dict(sigma=0.1, order=3, **PROBLEM)),
    "horizon.smoothed_meta_gradient": (PHI_OLD, dict(sigma=0.1, order=3, **PROBLEM)),
    "landscape.hessian_symbolic": (NO_SUBJECT, PROBLEM),
    "landscape.hessian": (PHI_OLD, PROBLEM),
    "landscape.hessian_exact": (PHI_OLD, PROBLEM),
    "landscape.sharpness": (PHI_OLD, PROBLEM),
    "landscape.quadratic_step_sizes": ((1.0, 2.0, 3.0), dict(hessian=np.eye(3))),
    "landscape.loss_slice": (PHI_OLD, dict(i=0, j=2, u=[0.1, 0.2], v=[-1.0, -0.5], **PROBLEM)),
    "lstm.sample_quadratics": (2, dict(seed=0)),
    "lstm.log_and_sign": ([1.0, -2.0], {}),
    "lstm.lstm_init": (0, {}),
    "lstm.run_lstm": (metaopt.lstm.lstm_init(0), dict(tasks=metaopt.lstm.sample_quadratics(2, seed=0), steps=2)),
    "lstm.run_rnn": (PHI_OLD, dict(tasks=metaopt.lstm.sample_quadratics(2, seed=0), steps=2)),
    "lstm.lstm_meta_gradient": (
        metaopt.lstm.lstm_init(0), dict(tasks=metaopt.lstm.sample_quadratics(2, seed=0), steps=2, first_order=True)
    ),
    "lstm.meta_train_lstm": (
        metaopt.lstm.lstm_init(0),
        dict(tasks=metaopt.lstm.sample_quadratics(2, seed=0), iterations=1, steps=2, truncation=1, lr=0.001, seed=0, n=2),
    ),
    "lstm.meta_train_rnn": (
        (1.0, 0.5, -0.01),
        dict(tasks=metaopt.lstm.sample_quadratics(2, seed=0), iterations=1, steps=2, truncation=1, lr=0.001, seed=0, n=2),
    ),
    "lstm.rmsprop": (0.1, dict(eps=1e-8)),
    "lstm.nag": (0.1, dict(beta=0.9)),
    "lstm.run_sgd": (metaopt.lstm.sample_quadratics(2, seed=0), dict(steps=2, lr=0.01)),
    "lstm.run_rmsprop": (metaopt.lstm.sample_quadratics(2, seed=0), dict(steps=2, lr=0.01)),
    "lstm.run_adam": (metaopt.lstm.sample_quadratics(2, seed=0), dict(steps=2, lr=0.01)),
    "lstm.run_nag": (metaopt.lstm.sample_quadratics(2, seed=0), dict(steps=2, lr=0.01, beta=0.9)),
    "lstm.tune": (
        metaopt.lstm.run_nag,
        dict(tasks=metaopt.lstm.sample_quadratics(2, seed=0), steps=2, grid=[0.01, 0.02], betas=[0.0, 0.5]),
    ),
    "digits.load": ("test", {}),
    "digits.sample_tasks": (1, dict(seed=0, steps=2, split="train", activation="sigmoid")),
    "digits.start_gradients": (metaopt.digits.sample_tasks(1, seed=0, steps=2), {}),
    "digits.mlp_loss": (np.zeros(metaopt.digits.MLP_SIZE), dict(split="test", activation="relu")),
    "digits.lstm_init": (0, {}),
    "digits.run_lstm": (metaopt.digits.lstm_init(0), dict(tasks=metaopt.digits.sample_tasks(1, seed=0, steps=2), steps=2)),
    "digits.run_quadratic_lstm": (
        metaopt.lstm.lstm_init(0), dict(tasks=metaopt.digits.sample_tasks(1, seed=0, steps=2), steps=2)
    ),
    "digits.lstm_meta_gradient": (
        metaopt.digits.lstm_init(0), dict(tasks=metaopt.digits.sample_tasks(1, seed=0, steps=2), steps=2, first_order=True)
    ),
    "digits.meta_train": (
        metaopt.digits.lstm_init(0),
        dict(tasks=metaopt.digits.sample_tasks(1, seed=0, steps=2), iterations=1, steps=2, truncation=1, lr=0.001,
             seed=0, n=1),
    ),
    "digits.run_sgd": (metaopt.digits.sample_tasks(1, seed=0, steps=2), dict(steps=2, lr=0.01)),
    "digits.run_rmsprop": (metaopt.digits.sample_tasks(1, seed=0, steps=2), dict(steps=2, lr=0.01)),
    "digits.run_adam": (metaopt.digits.sample_tasks(1, seed=0, steps=2), dict(steps=2, lr=0.01)),
    "digits.run_nag": (metaopt.digits.sample_tasks(1, seed=0, steps=2), dict(steps=2, lr=0.01, beta=0.9)),
    "meta_optimizers.sgd": (0.1, {}),
    "meta_optimizers.momentum": (0.1, dict(beta=0.5)),
    "meta_optimizers.adam": (0.1, dict(b1=0.9, b2=0.999, eps=1e-8)),
    "meta_optimizers.apply": (mo.sgd(0.1), dict(params=[1.0, 2.0])),
    "meta_optimizers.meta_train_with": (PHI_OLD, dict(optimizer=mo.sgd(0.001), iterations=2, **PROBLEM)),
    "sweep.unroll": (PHI_OLD, dict(curvature=1.0, **PROBLEM)),
    "sweep.meta_loss": (PHI_OLD, dict(curvature=1.0, weights=[0.5, 1.0], **PROBLEM)),
    "sweep.meta_gradient": (
        PHI_OLD, dict(curvature=1.0, weights=[0.5, 1.0], truncation=1, first_order=False, **PROBLEM)
    ),
    "symbolic.exact": (0.1, dict(name="value")),
    "symbolic.exact_phi": (PHI_OLD, {}),
    "symbolic.unroll": (NO_SUBJECT, PROBLEM),
    "symbolic.meta_gradient": (NO_SUBJECT, PROBLEM),
    "symbolic.loss_along": (PHI_OLD, dict(direction=(1.0, 1.0, 1.0), **PROBLEM)),
    "symbolic.step_sizes": (PHI_OLD, dict(direction=(-113.4, -5.4, 11.34), theta0=10.0, theta_star=5.0, steps=1)),
    "symbolic.helpful_intervals": (PHI_OLD, dict(direction=(1.0, 1.0, 1.0), theta0=10.0, theta_star=5.0, steps=1)),
    "tasks.make_tasks": (NO_SUBJECT, dict(curvature=1.0, theta_star=5.0, theta0=10.0)),
    "tasks.sample_tasks": (3, dict(seed=0, curvature=(0.5, 2.0), theta_star=(-1.0, 1.0), theta0=(-1.0, 1.0))),
    "tasks.check_tasks": (TASKS, {}),
    "tasks.unroll_tasks": (PHI_OLD, dict(tasks=TASKS, steps=3)),
    "tasks.inner_losses": (np.ones((2, 3)), dict(tasks=TASKS)),
    "tasks.trajectory_meta_loss": (PHI_OLD, dict(tasks=TASKS, steps=2, weights=[1.0, 1.0])),
    "tasks.trajectory_meta_gradient": (PHI_OLD, dict(tasks=TASKS, steps=2, weights=[1.0, 1.0], truncation=1)),
    "tasks.meta_train_tasks": (
        PHI_OLD, dict(tasks=TASKS, steps=2, iterations=2, eta=0.01, weights=[1.0, 1.0], b1=0.9, b2=0.999, eps=1e-8)
    ),
    "tasks.stability_limit": (PHI_OLD, {}),
    "train.meta_step": (PHI_OLD, dict(grad=(1.0, 1.0, 1.0), eta=0.01)),
    "train.meta_train": (PHI_OLD, dict(eta=0.001, iterations=2, **PROBLEM)),
    "train.meta_train_loop": (
        PHI_OLD,
        dict(gradient=lambda p: metaopt.meta_gradient(p), step=lambda p, g: p - 0.001 * g, iterations=2,
             context="", advice=""),
    ),
}

# ---------------------------------------------------------------------------
# the kinds of parameter, by name, and the bad values of each kind
# ---------------------------------------------------------------------------

KIND = {
    # real numbers, scalars or arrays that broadcast
    **dict.fromkeys(
        ["theta0", "theta_star", "curvature", "alpha", "beta", "phi1", "phi3", "eta", "lr", "sigma", "eps",
         "b1", "b2", "value"], "real"),
    # arrays whose shape is checked
    **dict.fromkeys(["phi", "grad", "direction", "center"], "phi"),
    **dict.fromkeys(["weights", "u", "v", "alphas", "betas", "grid", "theta", "hessian"], "array"),
    "params": "anyarray",  # any shape of parameters
    "grads": "trajectory",  # time last; a single number is the wrong shape
    **dict.fromkeys(["steps", "iterations", "n", "pairs", "truncation", "order", "seed", "i", "j"], "count"),
    "horizons": "counts",
    **dict.fromkeys(["func", "gradient", "run", "step"], "callable"),
    "tasks": "tasks",
    "optimizer": "optimizer",
    "first_order": "bool",
    **dict.fromkeys(["name", "context", "advice"], "str"),
    **dict.fromkeys(["split", "activation"], "choice"),
}
KIND_OVERRIDES = {
    # sample_tasks takes ranges (low, high), not values
    ("tasks.sample_tasks", "curvature"): "range",
    ("tasks.sample_tasks", "theta_star"): "range",
    ("tasks.sample_tasks", "theta0"): "range",
    # frozen_loss and inner_losses get a trajectory; a scalar is the wrong shape
    ("tasks.inner_losses", "theta"): "array",
}

NAN, INF = float("nan"), float("inf")
# (label, value, expected exception); None as expected means "this kind has no such bad value"
BAD = {
    "real": [("nan", NAN, ValueError), ("inf", INF, ValueError), ("None", None, TypeError),
             ("string", "x", TypeError), ("bool", True, TypeError), ("complex", 1j, TypeError)],
    "phi": [("nan", (NAN, 0.5, -1.0), ValueError), ("inf", (0.1, INF, -1.0), ValueError),
            ("None", None, TypeError), ("string", "abc", TypeError), ("bool", (True, 0.5, -1.0), TypeError),
            ("complex", (1j, 0.5, -1.0), TypeError), ("shape", (0.1, 0.5), ValueError)],
    "array": [("nan", [NAN, 1.0], ValueError), ("inf", [1.0, INF], ValueError), ("None", None, TypeError),
              ("string", ["a", "b"], TypeError), ("bool", [True, False], TypeError),
              ("complex", [1j, 1.0], TypeError), ("shape", np.ones((2, 2, 2)), ValueError)],
    "anyarray": [("nan", [NAN, 1.0], ValueError), ("inf", [1.0, INF], ValueError), ("None", None, TypeError),
                 ("string", ["a", "b"], TypeError), ("bool", [True, False], TypeError),
                 ("complex", [1j, 1.0], TypeError)],
    "trajectory": [("nan", [NAN, 1.0], ValueError), ("inf", [1.0, INF], ValueError), ("None", None, TypeError),
                   ("string", ["a", "b"], TypeError), ("bool", [True, False], TypeError),
                   ("complex", [1j, 1.0], TypeError), ("shape", 1.0, ValueError)],
    "count": [("nan", NAN, TypeError), ("inf", INF, TypeError), ("None", None, TypeError),
              ("string", "2", TypeError), ("bool", True, TypeError), ("complex", 2j, TypeError),
              ("non-integer", 2.5, TypeError), ("negative", -1, ValueError)],
    "counts": [("None", None, TypeError), ("string", "12", TypeError), ("non-integer", [1, 2.5], TypeError),
               ("negative", [1, -1], ValueError), ("bool", [True], TypeError)],
    "range": [("nan", (NAN, 1.0), ValueError), ("inf", (0.5, INF), ValueError), ("None", None, TypeError),
              ("string", "ab", TypeError), ("bool", (True, 2.0), TypeError), ("complex", (1j, 2.0), TypeError),
              ("shape", (0.5, 1.0, 2.0), TypeError)],
    "callable": [("None", None, TypeError), ("string", "f", TypeError), ("number", 1.0, TypeError)],
    "tasks": [("None", None, TypeError), ("string", "tasks", TypeError), ("tuple", (1.0, 5.0, 10.0), TypeError)],
    "optimizer": [("None", None, TypeError), ("string", "adam", TypeError), ("tuple", (1, 2), TypeError)],
    "bool": [("None", None, TypeError), ("string", "yes", TypeError), ("number", 1, TypeError)],
    "str": [("None", None, TypeError), ("number", 5, TypeError)],
    "choice": [("None", None, TypeError), ("number", 5, TypeError), ("bool", True, TypeError),
               ("other string", "neither", ValueError), ("capitalized", "Train", ValueError)],
}


def kind_of(func_name, param):
    return KIND_OVERRIDES.get((func_name, param), KIND.get(param))


def bad_cases():
    for func_name in sorted(GOOD):
        func = FUNCTIONS.get(func_name)
        if func is None:
            continue
        subject, kwargs = GOOD[func_name]
        params = inspect.signature(func).parameters
        for param in params.values():
            if param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                continue
            kind = kind_of(func_name, param.name)
            for label, value, exc in BAD[kind]:
                if value is None and param.default is None:
                    continue  # None is this parameter's documented default ("not given")
                yield pytest.param(func_name, param.name, value, exc, id=f"{func_name}-{param.name}-{label}")


def call(func_name, replace=None):
    func = FUNCTIONS[func_name]
    subject, kwargs = GOOD[func_name]
    kwargs = dict(kwargs)
    params = inspect.signature(func).parameters
    first = next(iter(params.values()), None)
    positional = first is not None and first.kind is first.POSITIONAL_OR_KEYWORD
    if replace is not None:
        name, value = replace
        if positional and name == first.name:
            subject = value
        else:
            kwargs[name] = value
    if positional and subject is not NO_SUBJECT:
        return func(subject, **kwargs)
    return func(**kwargs)


# ---------------------------------------------------------------------------
# the tests
# ---------------------------------------------------------------------------


def test_the_walk_sees_the_library():
    assert {"core", "sweep", "symbolic", "train", "tasks", "baselines", "horizon"} <= set(COMPUTATIONAL)
    assert len(FUNCTIONS) >= 60


def test_every_public_function_is_covered():
    assert sorted(set(FUNCTIONS) - set(GOOD)) == [], "add a valid call for each new function to GOOD"
    assert sorted(set(GOOD) - set(FUNCTIONS)) == [], "GOOD names a function that is no longer public"


@pytest.mark.parametrize("func_name", sorted(FUNCTIONS))
def test_only_the_subject_is_positional(func_name):
    params = list(inspect.signature(FUNCTIONS[func_name]).parameters.values())
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    assert len(positional) <= 1, f"{func_name}: only the subject may be positional, got {positional}"


@pytest.mark.parametrize("func_name", sorted(FUNCTIONS))
def test_every_parameter_has_a_kind(func_name):
    for param in inspect.signature(FUNCTIONS[func_name]).parameters.values():
        if param.kind not in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            assert kind_of(func_name, param.name) in BAD, f"{func_name}: no kind for parameter {param.name!r}"


@pytest.mark.parametrize("func_name", sorted(GOOD))
def test_the_valid_call_works(func_name):
    call(func_name)


@pytest.mark.parametrize("func_name, param, value, exc", list(bad_cases()))
def test_bad_values_follow_the_policy(func_name, param, value, exc):
    with pytest.raises(Exception) as info:
        call(func_name, replace=(param, value))
    error = info.value
    assert type(error) is exc, f"{func_name}({param}={value!r}) raised {type(error).__name__}: {error}"
    assert re.search(rf"(?<![A-Za-z0-9_]){re.escape(param)}(?![A-Za-z0-9_])", str(error)), (
        f"{func_name}({param}={value!r}): the message does not name {param!r}: {error}"
    )


# --- the old positional calls of the issue now fail loudly ------------------------------------

OLD_CALLS = [
    pytest.param(lambda: metaopt.landscape.sharpness(PHI_OLD, 10, 5, 2), id="landscape.sharpness(phi, 10, 5, 2)"),
    pytest.param(lambda: metaopt.landscape.hessian(PHI_OLD, 2, 10.0, 5.0), id="landscape.hessian(phi, steps, ...)"),
    pytest.param(lambda: metaopt.symbolic.unroll(2, 10, 5), id="symbolic.unroll(steps, theta0, theta_star)"),
    pytest.param(lambda: metaopt.symbolic.meta_gradient(2, 10, 5), id="symbolic.meta_gradient(steps, ...)"),
    pytest.param(lambda: metaopt.symbolic.step_sizes((1, 1, 1), PHI_OLD), id="symbolic.step_sizes(d, phi)"),
    pytest.param(lambda: metaopt.tasks.make_tasks(1.0, 5.0, 10.0), id="tasks.make_tasks(c, theta_star, theta0)"),
    pytest.param(lambda: metaopt.meta_gradient(PHI_OLD, 10.0, 5.0, 2), id="meta_gradient(phi, 10, 5, 2)"),
    pytest.param(lambda: metaopt.unroll(PHI_OLD, 10.0, 5.0, 2), id="unroll(phi, 10, 5, 2)"),
    pytest.param(lambda: metaopt.meta_step(PHI_OLD, (15.0, 8.0, -10.0), 0.01), id="meta_step(phi, grad, eta)"),
    pytest.param(lambda: metaopt.baselines.run_sgd(TASKS, 3, 0.1), id="run_sgd(tasks, steps, lr)"),
    pytest.param(lambda: metaopt.dynamics.phi_from_momentum(0.1, 0.5), id="phi_from_momentum(alpha, beta)"),
]


@pytest.mark.parametrize("old_call", OLD_CALLS)
def test_old_positional_calls_raise_type_error(old_call):
    with pytest.raises(TypeError, match="positional argument"):
        old_call()


def test_one_order_for_step_sizes():
    """Both step-size functions return StepSizes(eta_max, eta_best): the quadratic model's eta_max is twice its eta_best."""
    exact = metaopt.symbolic.step_sizes(PHI_OLD, direction=(-113.4, -5.4, 11.34), steps=1)
    model = metaopt.landscape.quadratic_step_sizes((1.0, 2.0, 3.0), hessian=np.eye(3))
    assert type(exact) is type(model) is metaopt.symbolic.StepSizes
    assert model.eta_max == 2 * model.eta_best == 2 * 14 / 14
    assert exact._fields == ("eta_max", "eta_best")


def test_same_mistake_same_error():
    """The issue's examples: the same bad value is the same error in every function."""
    for call_ in (lambda: metaopt.meta_train(eta="x"), lambda: metaopt.baselines.run_sgd(TASKS, steps=2, lr="x")):
        with pytest.raises(TypeError, match=r"^(eta|lr) must be a real number, got .x. \(str\)$"):
            call_()
    for call_ in (lambda: metaopt.tasks.sample_tasks(2.5, seed=0),
                  lambda: metaopt.horizon.es_gradient(_square_losses, phi=PHI_OLD, sigma=0.1, pairs=2.5, seed=0)):
        with pytest.raises(TypeError, match=r"^(n|pairs) must be an integer, got 2.5 \(float\)$"):
            call_()


# --- the input policy itself -------------------------------------------------------------------


@pytest.mark.parametrize("check, value, exc", [
    (lambda v: validate.real("x", v), NAN, ValueError),
    (lambda v: validate.real("x", v), "1", TypeError),
    (lambda v: validate.real("x", v), np.bool_(True), TypeError),
    (lambda v: validate.positive("x", v), 0.0, ValueError),
    (lambda v: validate.unit_interval("x", v), 1.0, ValueError),
    (lambda v: validate.count("x", v), np.float64(2.0), TypeError),
    (lambda v: validate.count("x", v, minimum=1), 0, ValueError),
    (lambda v: validate.seed("x", v), None, TypeError),
    (lambda v: validate.real_array("x", v), [1, "2"], TypeError),
    (lambda v: validate.real_array("x", v), [[1.0], [2.0, 3.0]], TypeError),
    (lambda v: validate.phi(v), np.zeros((3, 2)), ValueError),
    (lambda v: validate.one_phi(v), np.zeros((2, 3)), ValueError),
    (lambda v: validate.callable_("x", v), 3, TypeError),
    (lambda v: validate.instance("x", v, tuple), [1], TypeError),
])
def test_validate_checks(check, value, exc):
    with pytest.raises(exc):
        check(value)


def test_validate_accepts_good_values():
    assert validate.real("x", np.float32(0.5)) == 0.5
    assert validate.count("x", np.int64(3)) == 3
    assert validate.phi([[0.1, 0.5, -1.0]]).shape == (1, 3)
    assert issubclass(DivergenceError, FloatingPointError)


# --- the import structure: no underscore names across modules, no later chapter imported ------

#: The modules in the book's order; a module may import only modules before it.
ORDER = ["validate", "document", "sweep", "core", "symbolic", "train", "dynamics", "landscape",
         "meta_optimizers", "first_order", "horizon", "tasks", "baselines", "autodiff", "lstm", "digits", "book", "figure_words",
         "plotting"]


def metaopt_imports(path):
    """(module imported, names imported) for every import of a metaopt module in ``path``."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level >= 1 or (node.module or "").startswith("metaopt")):
            module = (node.module or "").removeprefix("metaopt").lstrip(".")
            names = [a.name for a in node.names]
            if module:
                yield module, names
            else:  # from . import x, y
                for name in names:
                    yield name, []
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("metaopt."):
                    yield alias.name.removeprefix("metaopt."), []


SOURCES = sorted(p for p in LIB.glob("*.py") if p.name != "__init__.py")


def test_order_lists_every_module():
    assert sorted(p.stem for p in SOURCES) == sorted(ORDER)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_imports_follow_the_book(path):
    here = ORDER.index(path.stem)
    for module, names in metaopt_imports(path):
        top = module.split(".")[0]
        assert not top.startswith("_"), f"{path.name} imports the private module {module}"
        assert not [n for n in names if n.startswith("_")], f"{path.name} imports private names {names} from {module}"
        assert ORDER.index(top) < here, f"{path.name} (chapter order {here}) imports the later module {module}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_no_private_name_of_another_module_is_used(path):
    """``lstm._cell`` from digits.py is the same reach into another module's privates as an import of it."""
    modules = {p.stem for p in SOURCES}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            assert not node.attr.startswith("_"), f"{path.name} uses {node.value.id}.{node.attr}, a private name"
