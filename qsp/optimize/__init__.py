"""Dose optimisation: choose amounts, times and infusion durations by gradient.

* :func:`optimize_regimen` (``qsp.optimize_regimen``): the front door; returns a
  :class:`RegimenOptimum` (the optimised regimen, objective trace, before/after plot).
* Ready objectives (losses to minimise; they add and scale): :func:`time_in_window`,
  :func:`target_auc`, :func:`target_trough`, :func:`rhythm_alignment` (with
  :func:`cosine_rhythm`); or any differentiable function of the :class:`~qsp.Solution`.
  Their integrals are integrated with the model (:mod:`qsp.optimize.augment`).
* Constraints (bounds, minimum interval, clock hours, maximum daily amount) are handled by an
  exact reparameterisation of the feasible set (:mod:`qsp.optimize.feasible`); amounts can be
  rounded to available strengths (:func:`achievable_amounts`).

Expected loss over parameter uncertainty and dose banding will build on the same pieces
(:class:`~qsp.optimize.solver.Problem` is the loss as a pytree). See ``docs/optimization.md``.
"""

from .objectives import (
    Objective, RhythmAlignment, TargetAUC, TargetLevel, TimeInWindow, cosine_rhythm, rhythm_alignment, target_auc,
    target_trough, time_in_window,
)
from .regimen_optimizer import optimize_regimen
from .result import RegimenOptimum
from .strengths import achievable_amounts

__all__ = [
    "optimize_regimen", "RegimenOptimum", "Objective", "time_in_window", "target_auc", "target_trough",
    "rhythm_alignment", "cosine_rhythm", "TimeInWindow", "TargetAUC", "TargetLevel", "RhythmAlignment", "achievable_amounts",
]
