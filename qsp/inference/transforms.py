"""Parameter transforms: the optimiser works on an unconstrained ``u``; the model sees ``θ = g(u)``.

=================  ==========================================  ===========================
transform          θ = g(u)                                    for
=================  ==========================================  ===========================
:class:`Identity`  :math:`u`                                   unbounded parameters
:class:`Log`       :math:`L + e^{u}`                           θ > L (default L = 0)
:class:`Logit`     :math:`L + (U - L)\\,\\sigma(u)`               L < θ < U (default 0 < θ < 1)
=================  ==========================================  ===========================

:func:`Bounded` picks the right one from ``(lower, upper)`` (either may be ``None``).
Standard errors are reported on θ by the delta method:
:math:`\\operatorname{Cov}(θ) ≈ J\\,\\operatorname{Cov}(u)\\,J^\\top` with :math:`J = \\operatorname{diag}(g'(u))`.
At an optimum (zero gradient) this equals inverting the Hessian taken in θ directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from ..errors import ModelError

__all__ = ["Transform", "Identity", "Log", "Logit", "Bounded", "as_transform"]


@dataclass(frozen=True)
class Transform:
    """Base class: a smooth bijection from ℝ onto a parameter's allowed range."""

    def to_natural(self, u):
        """θ = g(u)."""
        raise NotImplementedError

    def to_internal(self, theta):
        """u = g⁻¹(θ)."""
        raise NotImplementedError

    def derivative(self, u):
        """dθ/du at ``u`` (used by the delta method)."""
        return jax.grad(lambda x: self.to_natural(x))(jnp.asarray(u, float))

    def contains(self, theta: float) -> bool:
        """Whether θ lies strictly inside the range (where g⁻¹ is finite)."""
        return True


@dataclass(frozen=True)
class Identity(Transform):
    """θ = u.

    Example:
        >>> float(Identity().to_natural(-2.0))
        -2.0
    """

    def to_natural(self, u):
        return u

    def to_internal(self, theta):
        return jnp.asarray(theta, float)

    def derivative(self, u):
        return jnp.ones_like(jnp.asarray(u, float))


@dataclass(frozen=True)
class Log(Transform):
    """θ = lower + exp(u): positive parameters (lower = 0), the default for rate constants,
    clearances, volumes and standard deviations.

    Example:
        >>> t = Log()
        >>> float(t.to_natural(t.to_internal(3.0)))
        3.0
    """

    lower: float = 0.0

    def to_natural(self, u):
        return self.lower + jnp.exp(u)

    def to_internal(self, theta):
        return jnp.log(jnp.asarray(theta, float) - self.lower)

    def derivative(self, u):
        return jnp.exp(u)

    def contains(self, theta):
        return theta > self.lower


@dataclass(frozen=True)
class UpperLog(Transform):
    """θ = upper - exp(u): parameters bounded above only."""

    upper: float = 0.0

    def to_natural(self, u):
        return self.upper - jnp.exp(u)

    def to_internal(self, theta):
        return jnp.log(self.upper - jnp.asarray(theta, float))

    def derivative(self, u):
        return -jnp.exp(u)

    def contains(self, theta):
        return theta < self.upper


@dataclass(frozen=True)
class Logit(Transform):
    """θ = lower + (upper - lower)·σ(u), σ the logistic function: parameters within bounds
    (a fraction absorbed F in (0, 1) by default).

    Example:
        >>> t = Logit(0.0, 1.0)
        >>> float(t.to_natural(0.0))
        0.5
    """

    lower: float = 0.0
    upper: float = 1.0

    def __post_init__(self):
        if not (math.isfinite(self.lower) and math.isfinite(self.upper) and self.lower < self.upper):
            raise ModelError(f"Logit({self.lower}, {self.upper}): bounds must be finite with lower < upper.")

    def to_natural(self, u):
        return self.lower + (self.upper - self.lower) * jax.nn.sigmoid(u)

    def to_internal(self, theta):
        p = (jnp.asarray(theta, float) - self.lower) / (self.upper - self.lower)
        return jnp.log(p) - jnp.log1p(-p)

    def derivative(self, u):
        s = jax.nn.sigmoid(u)
        return (self.upper - self.lower) * s * (1.0 - s)

    def contains(self, theta):
        return self.lower < theta < self.upper


def Bounded(lower=None, upper=None) -> Transform:  # noqa: N802 - reads as a transform's name
    """The transform for ``lower < θ < upper`` (either may be ``None``): :class:`Logit` with both,
    :class:`Log` with a lower bound, an upper-bounded log with an upper bound, else :class:`Identity`.

    Example:
        >>> Bounded(0.0, 1.0), Bounded(lower=2.0)
        (Logit(lower=0.0, upper=1.0), Log(lower=2.0))
    """
    lower = None if lower is None or lower == -math.inf else float(lower)
    upper = None if upper is None or upper == math.inf else float(upper)
    if lower is not None and upper is not None:
        return Logit(lower, upper)
    if lower is not None:
        return Log(lower)
    if upper is not None:
        return UpperLog(upper)
    return Identity()


_BY_NAME = {"log": Log, "logit": Logit, "identity": Identity, "none": Identity}


def as_transform(spec, name: str) -> Transform:
    """A :class:`Transform` from a transform, a name (``"log"``, ``"logit"``, ``"identity"``) or
    a ``(lower, upper)`` pair."""
    if isinstance(spec, Transform):
        return spec
    if isinstance(spec, str) and spec.lower() in _BY_NAME:
        return _BY_NAME[spec.lower()]()
    if isinstance(spec, (tuple, list)) and len(spec) == 2:
        return Bounded(*spec)
    raise ModelError(f"transform for {name!r} is {spec!r}; give 'log', 'logit', 'identity', a (lower, upper) "
                     "pair or a qsp.inference transform (Log(), Logit(lower, upper), Identity()).")
