"""Population priors: typical values and a covariance of log-scale random effects.

A population PK model says each patient's parameters scatter log-normally around typical
values (which the model may already adjust for covariates such as weight or creatinine
clearance):

.. math:: \\theta_{i,k} = \\theta_{\\mathrm{typ},k}\\, e^{\\eta_{i,k}}, \\qquad \\eta_i \\sim N(0, \\Omega)

This is NONMEM's ``CL = TVCL * EXP(ETA(1))`` with ``$OMEGA`` the covariance of the etas.
As a prior for one patient it contributes the negative log-density

.. math:: -\\log p(\\eta) = \\tfrac12 \\eta^\\top \\Omega^{-1} \\eta + \\tfrac12 \\log\\det(2\\pi\\Omega),

and the MAP estimate minimises the data's negative log-likelihood plus this term (NONMEM's
POSTHOC empirical Bayes estimate). The random effects sit on the named model parameters
themselves: put covariate effects into the model's expressions (``CL * (1 + 0.0154*(CRCL - 66))``)
and the random effect on the typical value ``CL`` scales the individual clearance by
:math:`e^\\eta`, exactly as in the usual multiplicative covariate models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ..errors import ModelError

__all__ = ["PopulationPrior"]


@dataclass(frozen=True, eq=False)
class PopulationPrior:
    """Log-normal population prior over named model parameters.

    Args:
        omega: covariance of the log-scale random effects, a (k, k) matrix in the order of
            ``names``, or a mapping name -> variance (diagonal Ω), or a lower triangle
            (PKPDsim/NONMEM ``$OMEGA BLOCK`` order: ω11, ω21, ω22, ω31, ...).
        names: the parameters the random effects act on (needed with a matrix or triangle).
        typical: name -> typical value; missing names take the model's values (or the
            ``params=`` given to the fit).

    Example:
        >>> prior = PopulationPrior(omega=[0.0406, 0.0623, 0.117], names=["CL", "V"],
        ...                         typical={"CL": 7.67, "V": 97.7})
        >>> prior.omega.tolist()
        [[0.0406, 0.0623], [0.0623, 0.117]]
        >>> round(prior.cv()["CL"], 4)    # sqrt(exp(0.0406) - 1)
        0.2036
    """

    omega: np.ndarray
    names: tuple = ()
    typical: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self):
        omega, names = self.omega, tuple(self.names)
        if isinstance(omega, Mapping):
            if names and tuple(omega) != names:
                raise ModelError("PopulationPrior: omega is a mapping; leave names out (they are its keys).")
            names = tuple(omega)
            omega = np.diag([float(v) for v in omega.values()])
        omega = np.asarray(omega, dtype=float)
        k = len(names)
        if not k:
            raise ModelError("PopulationPrior needs names=[...] for the parameters the random effects act on.")
        if omega.ndim == 1:
            if omega.size != k * (k + 1) // 2:
                raise ModelError(f"PopulationPrior: a lower triangle for {k} parameters has {k * (k + 1) // 2} "
                                 f"entries; got {omega.size}.")
            full = np.zeros((k, k))
            full[np.tril_indices(k)] = omega
            omega = full + np.tril(full, -1).T
        if omega.shape != (k, k):
            raise ModelError(f"PopulationPrior: omega has shape {omega.shape}; expected ({k}, {k}) for {list(names)}.")
        if not np.allclose(omega, omega.T):
            raise ModelError("PopulationPrior: omega must be symmetric.")
        try:
            np.linalg.cholesky(omega)
        except np.linalg.LinAlgError:
            raise ModelError(f"PopulationPrior: omega is not positive definite (eigenvalues "
                             f"{np.round(np.linalg.eigvalsh(omega), 6).tolist()}); a zero variance means a fixed "
                             "parameter: leave it out of names.") from None
        if len(set(names)) != k:
            raise ModelError(f"PopulationPrior: names {list(names)} repeat a name.")
        unknown = set(self.typical) - set(names)
        if unknown:
            raise ModelError(f"PopulationPrior: typical values given for {sorted(unknown)}, which carry no random "
                             f"effect; names are {list(names)}.")
        for n, v in self.typical.items():
            if not float(v) > 0:
                raise ModelError(f"PopulationPrior: typical {n} = {v}; log-normal parameters must be positive.")
        object.__setattr__(self, "omega", omega)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "typical", {str(n): float(v) for n, v in self.typical.items()})

    def cv(self) -> dict[str, float]:
        """Between-subject coefficient of variation per parameter, :math:`\\sqrt{e^{\\omega^2} - 1}`."""
        return {n: float(np.sqrt(np.expm1(self.omega[i, i]))) for i, n in enumerate(self.names)}

    def typical_values(self, defaults: Mapping[str, float]) -> np.ndarray:
        """Typical values in the order of ``names``: given ones, else ``defaults[name]``."""
        out = []
        for n in self.names:
            v = self.typical.get(n, defaults.get(n))
            if v is None:
                raise ModelError(f"PopulationPrior: no typical value for {n!r}; it is not a model parameter.")
            if not float(v) > 0:
                raise ModelError(f"PopulationPrior: typical {n} = {v}; log-normal parameters must be positive.")
            out.append(float(v))
        return np.asarray(out)

    def sample(self, n: int, seed: int = 0, defaults: Mapping[str, float] | None = None) -> dict[str, np.ndarray]:
        """``n`` draws of the parameters from the prior (name -> array), e.g. a virtual population.

        Example:
            >>> draws = PopulationPrior({"CL": 0.09}, typical={"CL": 3.0}).sample(20000, seed=1)
            >>> round(float(np.median(draws["CL"])), 1)
            3.0
        """
        typical = self.typical_values(defaults or {})
        eta = np.random.default_rng(seed).multivariate_normal(np.zeros(len(self.names)), self.omega, size=n)
        return {name: typical[i] * np.exp(eta[:, i]) for i, name in enumerate(self.names)}

    def __repr__(self):
        return f"PopulationPrior(names={list(self.names)}, cv={ {k: round(v, 3) for k, v in self.cv().items()} })"


def as_names(values: Sequence[str] | str) -> tuple[str, ...]:
    return (values,) if isinstance(values, str) else tuple(values)
