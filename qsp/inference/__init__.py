"""Estimation: error models, likelihood, ``qsp.fit`` (ML / MAP) and Bayesian individualisation.

* :mod:`~qsp.inference.error_models`: :class:`Additive`, :class:`Proportional`,
  :class:`Combined`, :class:`LogNormal` residual error (NONMEM / nlmixr2 conventions) and
  the M3 likelihood of samples below a quantification limit.
* :class:`Observations` and tables / NONMEM datasets as data; :class:`Likelihood`, the
  negative log-likelihood as a pure JAX function of the parameters.
* :func:`fit`: maximum likelihood or MAP (:class:`PopulationPrior`), parameter transforms
  (:class:`Log`, :class:`Logit`, :func:`Bounded`), multistart, autodiff standard errors;
  :class:`FitResult`, :class:`FitResults`.
* :func:`a_priori` and :meth:`FitResult.forecast`: the a posteriori dosing loop with a
  credible band (:class:`Forecast`).

See ``docs/estimation.md``.
"""

from .bayes import Forecast, a_priori
from .data import Observations
from .error_models import Additive, Combined, ErrorModel, LogNormal, Proportional
from .fit import fit
from .likelihood import Likelihood
from .priors import PopulationPrior
from .result import FitResult, FitResults
from .transforms import Bounded, Identity, Log, Logit, Transform

__all__ = [
    "fit", "FitResult", "FitResults", "Likelihood", "Observations", "PopulationPrior", "a_priori", "Forecast",
    "ErrorModel", "Additive", "Proportional", "Combined", "LogNormal",
    "Transform", "Identity", "Log", "Logit", "Bounded",
]
