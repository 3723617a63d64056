r"""The worked example's values, defined once: every default in the library comes from here.

The document (``worked-example.ko.md``) sets up

* the optimizee :math:`L(\theta) = (\theta - \theta^*)^2` with :math:`\theta^* = 5`, started at :math:`\theta_0 = 10`;
* the linear-RNN optimizer with :math:`\phi_{old} = (0.1, 0.5, -1.0)`, run for :math:`T = 2` inner steps;
* one meta-update with the meta step size :math:`\eta = 0.01`, using the meta-gradient
  it presents "arbitrarily" (임의로), as a stand-in for what an autodiff library would
  compute: :math:`[15, 8, -10]`.

``ETA_TRAIN`` is the book's, not the document's: a meta step size that works.
"""

__all__ = ["PHI_OLD", "THETA0", "THETA_STAR", "STEPS", "CURVATURE", "ETA", "ETA_TRAIN", "ASSUMED_GRADIENT"]

#: The document's initial optimizer parameters (phi1, phi2, phi3).
PHI_OLD = (0.1, 0.5, -1.0)
#: The optimizee's starting point.
THETA0 = 10.0
#: The optimizee's minimizer.
THETA_STAR = 5.0
#: The number of inner steps.
STEPS = 2
#: The optimizee's curvature c in c(θ − θ*)²: 1 for the document's (θ − 5)².
CURVATURE = 1.0
#: The document's meta step size.
ETA = 0.01
#: A meta step size that works for meta-training from phi_old (the book's choice): below the
#: exact largest step that lowers the meta-loss along the true meta-gradient
#: (symbolic.step_sizes, about 0.0035), and small enough for every later iteration
#: (tests/test_train.py checks both).
ETA_TRAIN = 0.001
#: The meta-gradient the document presents "arbitrarily" (임의로), assuming an autodiff library had computed it.
ASSUMED_GRADIENT = (15.0, 8.0, -10.0)
