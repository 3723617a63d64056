"""metaopt: learning to learn by gradient descent, on one tiny example, computed exactly.

The library behind the book. Every number the book shows is computed here.

>>> from metaopt import unroll, meta_gradient
>>> unroll((0.1, 0.5, -1.0), theta0=10.0, theta_star=5.0, steps=2).theta.tolist()
[10.0, 9.0, 7.7]
"""

from . import symbolic
from .core import (
    PHI_OLD,
    STEPS,
    THETA0,
    THETA_STAR,
    DivergenceError,
    Trajectory,
    meta_gradient,
    backprop_trace,
    finite_difference,
    meta_loss,
    unroll,
)
from .train import ASSUMED_GRADIENT, ETA, ETA_TRAIN, MetaTraining, meta_step, meta_train

__all__ = [
    "unroll",
    "meta_gradient",
    "meta_loss",
    "meta_step",
    "meta_train",
    "Trajectory",
    "MetaTraining",
    "DivergenceError",
    "symbolic",
    "PHI_OLD",
    "THETA0",
    "THETA_STAR",
    "STEPS",
    "ETA",
    "ETA_TRAIN",
    "finite_difference",
    "backprop_trace",
    "ASSUMED_GRADIENT",
]
