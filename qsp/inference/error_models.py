"""Residual error models: how an observation scatters around the model prediction.

Each model gives the density of an observation ``y`` given the prediction ``f`` (the
simulated output at the observation time) and one or two standard-deviation parameters.
The conventions are those of NONMEM and nlmixr2:

=====================  ===============================================  =======================
model                  observation                                      NONMEM ``$ERROR``
=====================  ===============================================  =======================
:class:`Additive`      :math:`y = f + a\\,\\varepsilon`                    ``Y = F + EPS(1)``
:class:`Proportional`  :math:`y = f + b\\,|f|\\,\\varepsilon`               ``Y = F + F*EPS(1)``
:class:`Combined`      :math:`y = f + \\sqrt{a^2 + b^2 f^2}\\,\\varepsilon`  ``Y = F + F*EPS(1) + EPS(2)``
:class:`LogNormal`     :math:`\\log y = \\log f + \\sigma\\,\\varepsilon`      log-transform both sides
=====================  ===============================================  =======================

with :math:`\\varepsilon \\sim N(0, 1)`. The parameters are *standard deviations*
(nlmixr2's ``add.sd``/``prop.sd``; NONMEM's SIGMA is their square). So for the normal
models, with :math:`s(f)` the standard deviation above, the log-density is

.. math:: \\log p(y \\mid f) = -\\tfrac12 \\log(2\\pi) - \\log s(f) - \\tfrac12 \\left(\\frac{y - f}{s(f)}\\right)^2

and for :class:`LogNormal` it is the density *of y* (so that objective values compare
across error models):

.. math:: \\log p(y \\mid f) = -\\tfrac12 \\log(2\\pi) - \\log \\sigma - \\log y
          - \\tfrac12 \\left(\\frac{\\log y - \\log f}{\\sigma}\\right)^2 .

(NONMEM's log-transform-both-sides objective leaves out :math:`-\\sum \\log y`, a constant.)

An observation censored below a limit of quantification ``L`` (the M3 method of Beal 2001)
contributes the probability of being below it, :math:`\\log \\Phi((L - f)/s(f))`, or for
:class:`LogNormal` :math:`\\log \\Phi((\\log L - \\log f)/\\sigma)`; above an upper limit,
:math:`\\log \\Phi(-(U - f)/s(f))`. ``log Φ`` is computed by ``jax.scipy.special.log_ndtr``,
accurate far in the tail (no ``log(0)``).

Every model maps onto one vectorised form (a *family* code and the two numbers ``a``, ``b``), so
observations of several outputs with different error models are evaluated together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax.numpy as jnp
from jax.scipy.special import log_ndtr

from ..errors import ModelError

__all__ = ["ErrorModel", "Additive", "Proportional", "Combined", "LogNormal"]

#: family codes of the vectorised form
NORMAL_VARIANCE_SUM = 0  # s = sqrt(a² + b² f²)
NORMAL_SD_SUM = 1  # s = a + b |f|
LOG_NORMAL = 2  # log y ~ N(log f, a²)

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _positive(value, what):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ModelError(f"{what} is {value!r}; give a positive number (a standard deviation).") from None
    if not value > 0 or not math.isfinite(value):
        raise ModelError(f"{what} is {value}; a standard deviation must be positive and finite.")
    return value


@dataclass(frozen=True)
class ErrorModel:
    """Base class: a residual error model with named standard-deviation parameters.

    Subclasses set :attr:`family` and map their parameters onto ``(a, b)``. The parameter
    names (``sigma_add``, ``sigma_prop``, ``sigma_log`` by default) are the names to list in
    ``qsp.fit(..., estimate=[...])`` to estimate them; give other names (``name=``) when two
    outputs each have their own error model.
    """

    family = NORMAL_VARIANCE_SUM

    @property
    def parameters(self) -> dict[str, float]:
        """Parameter name -> value (standard deviations)."""
        raise NotImplementedError

    def ab(self, values: dict) -> tuple:
        """The vectorised form's ``(a, b)`` from parameter values (name -> value)."""
        raise NotImplementedError

    # -- the math, for a single model (the likelihood uses the vectorised functions below)
    def sd(self, f, values: dict | None = None):
        """Standard deviation of an observation at prediction ``f`` (of ``log y`` for LogNormal).

        Example:
            >>> float(Combined(additive=1.0, proportional=0.1).sd(10.0))   # sqrt(1 + 1)
            1.4142135623730951
        """
        a, b = self.ab(self.parameters if values is None else {**self.parameters, **values})
        return standard_deviation(jnp.asarray(self.family), a, b, jnp.asarray(f, float))

    def log_density(self, y, f, values: dict | None = None):
        """log p(y | f) of an observed value.

        Example:
            >>> from scipy.stats import norm
            >>> bool(abs(float(Additive(2.0).log_density(3.0, 1.0)) - norm.logpdf(3.0, 1.0, 2.0)) < 1e-12)
            True
        """
        a, b = self.ab(self.parameters if values is None else {**self.parameters, **values})
        y, f = jnp.asarray(y, float), jnp.asarray(f, float)
        return log_density(jnp.asarray(self.family), a, b, y, f)

    def log_censored(self, limit, f, values: dict | None = None, *, above: bool = False):
        """M3: log P(y < limit | f) (or log P(y > limit) with ``above=True``).

        Example:
            >>> from scipy.stats import norm
            >>> bool(abs(float(Additive(0.5).log_censored(0.1, 1.0)) - norm.logcdf(0.1, 1.0, 0.5)) < 1e-12)
            True
        """
        a, b = self.ab(self.parameters if values is None else {**self.parameters, **values})
        direction = jnp.asarray(-1 if above else 1)
        return log_censored(jnp.asarray(self.family), a, b, jnp.asarray(limit, float), jnp.asarray(f, float),
                            direction)


@dataclass(frozen=True)
class Additive(ErrorModel):
    """Constant standard deviation: :math:`y = f + a\\,\\varepsilon` (NONMEM ``Y = F + EPS(1)``, SIGMA = a²).

    Example:
        >>> Additive(0.7).parameters
        {'sigma_add': 0.7}
    """

    sigma: float = 1.0
    name: str = "sigma_add"

    def __post_init__(self):
        object.__setattr__(self, "sigma", _positive(self.sigma, f"Additive error {self.name}"))

    @property
    def parameters(self):
        return {self.name: self.sigma}

    def ab(self, values):
        return values[self.name], 0.0


@dataclass(frozen=True)
class Proportional(ErrorModel):
    """Standard deviation proportional to the prediction: :math:`y = f + b\\,|f|\\,\\varepsilon`
    (NONMEM ``Y = F + F*EPS(1)``, SIGMA = b², the coefficient of variation).

    A zero prediction (before an oral dose is absorbed) has zero standard deviation: an
    observation there has no finite likelihood; use :class:`Combined` or leave it out.

    Example:
        >>> Proportional(0.2).parameters
        {'sigma_prop': 0.2}
    """

    sigma: float = 0.1
    name: str = "sigma_prop"

    def __post_init__(self):
        object.__setattr__(self, "sigma", _positive(self.sigma, f"Proportional error {self.name}"))

    @property
    def parameters(self):
        return {self.name: self.sigma}

    def ab(self, values):
        return 0.0, values[self.name]


@dataclass(frozen=True)
class Combined(ErrorModel):
    """Additive plus proportional error.

    ``form="variance"`` (default; NONMEM ``Y = F + F*EPS(1) + EPS(2)`` with independent
    epsilons, nlmixr2 ``combined2``): :math:`s = \\sqrt{a^2 + b^2 f^2}`.
    ``form="sd"`` (nlmixr2 ``combined1``): :math:`s = a + b\\,|f|`.

    Example:
        >>> Combined(additive=1.6, proportional=0.15).parameters   # vancomycin, Thomson 2009
        {'sigma_add': 1.6, 'sigma_prop': 0.15}
    """

    additive: float = 1.0
    proportional: float = 0.1
    form: str = "variance"
    names: tuple = ("sigma_add", "sigma_prop")

    def __post_init__(self):
        object.__setattr__(self, "additive", _positive(self.additive, f"Combined error {self.names[0]}"))
        object.__setattr__(self, "proportional", _positive(self.proportional, f"Combined error {self.names[1]}"))
        if self.form not in ("variance", "sd"):
            raise ModelError(f"Combined error form={self.form!r}; use 'variance' (s = sqrt(a² + b² f²)) or "
                             "'sd' (s = a + b|f|).")
        names = tuple(self.names)
        if len(names) != 2 or names[0] == names[1]:
            raise ModelError(f"Combined error names={self.names!r}; give two different names (additive, "
                             "proportional).")
        object.__setattr__(self, "names", names)

    @property
    def family(self):  # noqa: D401 - a property of the form
        return NORMAL_VARIANCE_SUM if self.form == "variance" else NORMAL_SD_SUM

    @property
    def parameters(self):
        return {self.names[0]: self.additive, self.names[1]: self.proportional}

    def ab(self, values):
        return values[self.names[0]], values[self.names[1]]


@dataclass(frozen=True)
class LogNormal(ErrorModel):
    """Log-normal error: :math:`\\log y = \\log f + \\sigma\\,\\varepsilon` (exponential error,
    NONMEM's log-transform-both-sides; nlmixr2 ``lnorm``). Observations must be positive.

    Example:
        >>> LogNormal(0.2).parameters
        {'sigma_log': 0.2}
    """

    sigma: float = 0.2
    name: str = "sigma_log"
    family = LOG_NORMAL

    def __post_init__(self):
        object.__setattr__(self, "sigma", _positive(self.sigma, f"LogNormal error {self.name}"))

    @property
    def parameters(self):
        return {self.name: self.sigma}

    def ab(self, values):
        return values[self.name], 0.0


# ----------------------------------------------------------------------------- vectorised form
def standard_deviation(family, a, b, f):
    """s(f) per observation (of log y for the log-normal family)."""
    variance_sum = jnp.sqrt(a * a + (b * f) ** 2)
    sd_sum = a + b * jnp.abs(f)
    return jnp.where(family == NORMAL_VARIANCE_SUM, variance_sum, jnp.where(family == NORMAL_SD_SUM, sd_sum, a))


def _safe_log(x, use):
    # log only where it is used: the other branch of a jnp.where must stay finite for gradients
    return jnp.log(jnp.where(use, x, 1.0))


def standardised_residual(family, a, b, y, f):
    """(y - f)/s(f), or (log y - log f)/σ for the log-normal family (IWRES)."""
    log_normal = family == LOG_NORMAL
    s = standard_deviation(family, a, b, f)
    numerator = jnp.where(log_normal, _safe_log(y, log_normal) - _safe_log(f, log_normal), y - f)
    return numerator / s


def log_density(family, a, b, y, f):
    """log p(y | f) per observation (see the module docstring)."""
    log_normal = family == LOG_NORMAL
    s = standard_deviation(family, a, b, f)
    z = standardised_residual(family, a, b, y, f)
    jacobian = jnp.where(log_normal, _safe_log(y, log_normal), 0.0)
    return -_HALF_LOG_2PI - jnp.log(s) - 0.5 * z * z - jacobian


def log_censored(family, a, b, limit, f, direction):
    """M3 term per observation: log Φ(direction · z) with z the standardised limit.

    ``direction`` is +1 for a value below ``limit`` (BLQ), -1 for a value above it.
    """
    z = standardised_residual(family, a, b, limit, f)
    return log_ndtr(direction * z)
