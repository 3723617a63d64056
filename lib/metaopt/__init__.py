"""metaopt: learning to learn by gradient descent, on one tiny example, computed exactly.

The library behind the book. Every number the book shows is computed here.
It needs only numpy and sympy; the figures (:mod:`metaopt.plotting`) need the
``book`` extra (``pip install "metaopt[book]"``, which adds matplotlib).

One shape throughout: the subject of a function (``phi``, a batch of tasks, a
trajectory) is its only positional argument; the problem (``theta0``,
``theta_star``, ``steps``, ``curvature``, ``weights``, ...) is passed by name, with
the document's values (:mod:`metaopt.document`) as defaults; pairs come back as
named tuples (``MetaGradient(loss, grad)``, ``StepSizes(eta_max, eta_best)``, ...).

>>> from metaopt import unroll, meta_gradient
>>> unroll((0.1, 0.5, -1.0), theta0=10.0, theta_star=5.0, steps=2).theta.tolist()
[10.0, 9.0, 7.7]

Modules, in the book's order (a module imports only earlier ones):

- :mod:`~metaopt.validate`, :mod:`~metaopt.document`, :mod:`~metaopt.sweep`: the input policy,
  the document's values, and the one general inner loop with its reverse sweep;
- :mod:`~metaopt.core` (chapters 2-3), :mod:`~metaopt.symbolic` (sympy), :mod:`~metaopt.train` (chapter 4);
- :mod:`~metaopt.dynamics` (5), :mod:`~metaopt.landscape`, :mod:`~metaopt.meta_optimizers`,
  :mod:`~metaopt.first_order` (6), :mod:`~metaopt.horizon` (7), :mod:`~metaopt.tasks`,
  :mod:`~metaopt.baselines` (8);
- :mod:`~metaopt.book` (glue and tables) and :mod:`~metaopt.plotting` (figures), for the notebooks.
"""

from . import symbolic
from .core import backprop_trace, finite_difference, meta_gradient, meta_loss, unroll
from .document import ASSUMED_GRADIENT, CURVATURE, ETA, ETA_TRAIN, PHI_OLD, STEPS, THETA0, THETA_STAR
from .sweep import MetaGradient, Trajectory
from .train import MetaTraining, meta_step, meta_train
from .validate import DivergenceError

__all__ = [
    "unroll",
    "meta_gradient",
    "meta_loss",
    "meta_step",
    "meta_train",
    "Trajectory",
    "MetaGradient",
    "MetaTraining",
    "DivergenceError",
    "symbolic",
    "PHI_OLD",
    "THETA0",
    "THETA_STAR",
    "STEPS",
    "CURVATURE",
    "ETA",
    "ETA_TRAIN",
    "finite_difference",
    "backprop_trace",
    "ASSUMED_GRADIENT",
]
