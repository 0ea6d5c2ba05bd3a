"""Analysis: how the outputs of a model depend on its inputs.

* :func:`sensitivity` (``qsp.sensitivity``): local sensitivities to parameters and to dose
  amounts, times and infusion durations, raw and normalised, by forward-mode autodiff;
  returns a :class:`LocalSensitivity` (ranked table, heat map, tornado chart).
* :class:`Inputs`: the shared vocabulary of named inputs (parameters and dose numbers) and
  the pure map from their values to a simulation — what global sensitivity (Morris, Sobol)
  and the assumption audit will sample and perturb.
* :class:`DoseNumbers`: a regimen split into its static shape and its numbers, and rebuilt
  from (traced) arrays; dose optimisation uses it too.

See ``docs/sensitivity.md``.
"""

from .dose_numbers import DoseNumbers
from .inputs import Inputs
from .local import sensitivity
from .result import LocalSensitivity

__all__ = ["sensitivity", "LocalSensitivity", "Inputs", "DoseNumbers"]
