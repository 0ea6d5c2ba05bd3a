r"""Ready-made dosing objectives: losses of a :class:`~qsp.Solution` (smaller is better).

**Integrals are integrated, not summed.** An objective that needs :math:`\int g(y(t))\,dt`
(an AUC, the time inside a window, an activity-weighted effect) adds a state
:math:`dI/dt = g(y(t))` to the model — a rate rule, compiled once per objective *type* —
and reads :math:`I(end) - I(start)`. This is exact to the solver's tolerance and smooth in
dose times. A trapezoidal sum on a fixed output grid is not: when a bolus jumps the
integrated output, the sum is a sawtooth in the dose time (each cell's trapezoid grows as the
dose nears the cell's end), and its gradient has the wrong sign. Custom objectives that
integrate an output over time should do the same: add a ``qsp.RateRule`` to the model.

Each objective is an equinox module; its numbers (targets, window edges) are data — window
edges become parameters of the augmented model — so a new target never recompiles.
Objectives add and scale (``a + 0.1 * b``); any differentiable ``f(sol)`` or
``f(sol, regimen)`` returning a scalar can be used instead.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import sympy as sp

from ..errors import DosingError
from ..model import Parameter
from ..model import time as model_time


class Objective(eqx.Module):
    """Base class: ``objective(sol, regimen) -> scalar loss`` (to be minimised).

    A ready objective also declares what it needs from the simulation: integrals
    (:meth:`integrands`, rate-rule states added to the model), parameters of those integrands
    (:meth:`parameter_values`) and output times (:meth:`times`). ``key`` names its states and
    parameters; :func:`qsp.optimize_regimen` assigns it.
    """

    def __call__(self, sol, regimen=None):
        raise NotImplementedError

    def leaves(self) -> list:
        """The objectives summed in this one."""
        return [self]

    def integrands(self, compiled) -> dict:
        """State name → integrand (sympy, in the model's symbols and this objective's parameters)."""
        return {}

    def parameter_values(self, compiled) -> dict:
        """Parameter name → value, for the parameters that :meth:`integrands` adds to ``compiled``'s model."""
        return {}

    def times(self) -> list:
        """Output times this objective reads (added to the simulation's output times)."""
        return []

    def __add__(self, other):
        return _Sum(self, as_objective(other))

    def __radd__(self, other):
        return _Sum(as_objective(other), self)

    def __mul__(self, weight):
        return _Scaled(self, jnp.asarray(weight, jnp.float64))

    __rmul__ = __mul__


class _Sum(Objective):
    a: Objective
    b: Objective

    def __call__(self, sol, regimen=None):
        return self.a(sol, regimen) + self.b(sol, regimen)

    def leaves(self):
        return [*self.a.leaves(), *self.b.leaves()]


class _Scaled(Objective):
    inner: Objective
    weight: jax.Array

    def __call__(self, sol, regimen=None):
        return self.weight * self.inner(sol, regimen)

    def leaves(self):
        return self.inner.leaves()


class _Function(Objective):
    fn: Callable = eqx.field(static=True)
    takes_regimen: bool = eqx.field(static=True)

    def __call__(self, sol, regimen=None):
        return self.fn(sol, regimen) if self.takes_regimen else self.fn(sol)


def as_objective(objective) -> Objective:
    """An :class:`Objective` from an objective or a function ``f(sol)`` / ``f(sol, regimen)``."""
    if isinstance(objective, Objective):
        return objective
    if not callable(objective):
        raise DosingError(f"objective {objective!r} is not callable; give a qsp.optimize objective or a function "
                          "of the Solution returning a scalar to minimise.")
    try:
        n = len([p for p in inspect.signature(objective).parameters.values()
                 if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])
    except (TypeError, ValueError):
        n = 1
    return _Function(objective, n >= 2)


def with_keys(objective: Objective, prefix: str = "qsp_objective") -> Objective:
    """The objective with a distinct ``key`` on every ready objective it sums (``prefix0``, ``prefix1``...)."""
    counter = iter(range(10**6))

    def visit(o):
        if isinstance(o, _Sum):
            return _Sum(visit(o.a), visit(o.b))
        if isinstance(o, _Scaled):
            return _Scaled(visit(o.inner), o.weight)
        if hasattr(o, "key"):
            return dataclasses.replace(o, key=f"{prefix}{next(counter)}")
        return o
    return visit(objective)


def _between(sol, name, start, end):
    """I(end) - I(start) for a running integral on the output grid (exact at output times)."""
    y = sol[name]
    t0 = sol.ts[0] if start is None else start
    t1 = sol.ts[-1] if end is None else end
    return jnp.interp(t1, sol.ts, y) - jnp.interp(t0, sol.ts, y)


def _span(start, end):
    return [float(v) for v in (start, end) if v is not None]


class TimeInWindow(Objective):
    r"""Loss :math:`1 - \bar w`: the fraction of ``[start, end]`` *outside* the window ``[low, high]``, smoothed.

    .. math:: \bar w = \frac{1}{T}\int_{start}^{end} \sigma\!\Big(\frac{y-\mathrm{low}}{s\,\mathrm{low}}\Big)
              \,\sigma\!\Big(\frac{\mathrm{high}-y}{s\,\mathrm{high}}\Big)\,dt

    with :math:`\sigma` the logistic function and ``softness`` :math:`s` the relative width of each
    edge (default 0.05: the indicator goes from 0.27 to 0.73 within ±5 % of the edge). As
    :math:`s \to 0` this is the exact time in window; a softer edge gives gradients from
    further away. Build with :func:`time_in_window`.
    """

    output: str = eqx.field(static=True)
    low: jax.Array
    high: jax.Array
    softness: jax.Array
    start: float | None = eqx.field(static=True)
    end: float | None = eqx.field(static=True)
    key: str = eqx.field(static=True, default="window")

    def _parameters(self):
        return {f"{self.key}_{n}": v for n, v in (("low", self.low), ("high", self.high), ("softness", self.softness))}

    def integrands(self, compiled):
        y = compiled.output_expression(self.output)
        low, high, s = (Parameter(name, 1.0) for name in self._parameters())
        inside = 1 / (1 + sp.exp(-(y - low) / (s * low))) / (1 + sp.exp(-(high - y) / (s * high)))
        return {f"{self.key}_inside": inside}

    def parameter_values(self, compiled):
        return {k: float(v) for k, v in self._parameters().items()}

    def times(self):
        return _span(self.start, self.end)

    def __call__(self, sol, regimen=None):
        t0 = sol.ts[0] if self.start is None else self.start
        t1 = sol.ts[-1] if self.end is None else self.end
        return 1.0 - _between(sol, f"{self.key}_inside", self.start, self.end) / (t1 - t0)


def time_in_window(output: str, low, high, *, start=None, end=None, softness=0.05) -> TimeInWindow:
    """Maximise the time ``output`` spends in ``[low, high]`` over ``[start, end]`` (a :class:`TimeInWindow` loss).

    Example:
        >>> obj = time_in_window("C", 2.0, 8.0, start=0.0, end=24.0)
        >>> float(obj.low), float(obj.high), obj.times()
        (2.0, 8.0, [0.0, 24.0])
    """
    if not 0 < low < high:
        raise DosingError(f"time_in_window: need 0 < low < high, got low={low}, high={high}.")
    if not softness > 0:
        raise DosingError(f"time_in_window: softness={softness} must be positive (e.g. 0.05).")
    return TimeInWindow(output, *(jnp.asarray(v, jnp.float64) for v in (low, high, softness)),
                        *(None if v is None else float(v) for v in (start, end)))


class TargetAUC(Objective):
    r"""Loss :math:`(\mathrm{AUC}/\mathrm{target} - 1)^2`, AUC of ``output`` over ``[start, end]``.

    The AUC is integrated with the model (a rate-rule state :math:`dI/dt = y`): exact to the
    solver's tolerance, whatever the output grid. Build with :func:`target_auc`.
    """

    output: str = eqx.field(static=True)
    target: jax.Array
    start: float | None = eqx.field(static=True)
    end: float | None = eqx.field(static=True)
    key: str = eqx.field(static=True, default="auc")

    def integrands(self, compiled):
        return {f"{self.key}_auc": compiled.output_expression(self.output)}

    def times(self):
        return _span(self.start, self.end)

    def auc(self, sol):
        """The AUC this objective measures."""
        return _between(sol, f"{self.key}_auc", self.start, self.end)

    def __call__(self, sol, regimen=None):
        return (self.auc(sol) / self.target - 1.0) ** 2


def target_auc(output: str, target, *, start=None, end=None) -> TargetAUC:
    """Bring the AUC of ``output`` over ``[start, end]`` to ``target`` (a :class:`TargetAUC` loss).

    Example:
        >>> float(target_auc("C", 500.0, start=24.0, end=48.0).target)
        500.0
    """
    if not target > 0:
        raise DosingError(f"target_auc: target={target} must be positive.")
    return TargetAUC(output, jnp.asarray(target, jnp.float64), *(None if v is None else float(v) for v in (start, end)))


class TargetLevel(Objective):
    r"""Loss :math:`\mathrm{mean}_i (y(t_i)/\mathrm{target} - 1)^2` at the given times (troughs, peaks).

    The times are added to the output times. At a dose time the output is the post-dose
    value; sample a trough just before the dose. Build with :func:`target_trough`.
    """

    output: str = eqx.field(static=True)
    target: jax.Array
    at: tuple = eqx.field(static=True)

    def times(self):
        return list(self.at)

    def __call__(self, sol, regimen=None):
        y = jnp.interp(jnp.asarray(self.at), sol.ts, sol[self.output])
        return jnp.mean((y / self.target - 1.0) ** 2)


def target_trough(output: str, target, times) -> TargetLevel:
    """Bring ``output`` at ``times`` (e.g. just before each dose) to ``target`` (a :class:`TargetLevel` loss).

    Example:
        >>> target_trough("C", 10.0, [11.99, 23.99]).times()
        [11.99, 23.99]
    """
    if not target > 0:
        raise DosingError(f"target_trough: target={target} must be positive.")
    return TargetLevel(output, jnp.asarray(target, jnp.float64), tuple(float(t) for t in jnp.atleast_1d(
        jnp.asarray(times, jnp.float64)).tolist()))


class RhythmAlignment(Objective):
    r"""Loss :math:`-\int y(t)\,a(t)\,dt / \int a(t)\,dt` over ``[start, end]``: the activity-weighted
    mean of ``output``, negated.

    Maximises the effect where the disease is active — a circadian symptom rhythm such as
    :func:`cosine_rhythm`. ``activity`` is a sympy expression of :data:`qsp.time` (and numbers
    or model parameters), integrated with the model. Build with :func:`rhythm_alignment`.
    """

    output: str = eqx.field(static=True)
    activity: sp.Expr = eqx.field(static=True)
    start: float | None = eqx.field(static=True)
    end: float | None = eqx.field(static=True)
    key: str = eqx.field(static=True, default="rhythm")

    def integrands(self, compiled):
        y = compiled.output_expression(self.output)
        return {f"{self.key}_weighted": y * self.activity, f"{self.key}_weight": self.activity}

    def parameter_values(self, compiled):
        # parameters of the activity that the model lacks (cosine_rhythm's): their values are data, set on
        # every call, so a cached augmented model never carries a stale default
        return {x.name: float(x.value) for x in self.activity.free_symbols
                if isinstance(x, Parameter) and x.name not in compiled.parameter_names}

    def times(self):
        return _span(self.start, self.end)

    def __call__(self, sol, regimen=None):
        weighted = _between(sol, f"{self.key}_weighted", self.start, self.end)
        return -weighted / _between(sol, f"{self.key}_weight", self.start, self.end)


def cosine_rhythm(peak: float, period: float = 24.0, amplitude: float = 1.0, *, name: str = "rhythm",
                  time_unit: str | None = "h") -> sp.Expr:
    r"""A disease-activity rhythm :math:`1 + A\cos(2\pi(t - t_{peak})/P)` as a sympy expression of ``qsp.time``.

    Peak, period and amplitude are parameters (``{name}_peak``, ``{name}_period`` in
    ``time_unit``, ``{name}_amplitude`` dimensionless), so the expression passes the unit
    check of a model with units, and ``params={"rhythm_peak": 6.0}`` moves the peak without
    recompiling. (The ``cosinor`` block of :mod:`qsp.blocks` gives the same rhythm as part of a
    model.)

    Example:
        >>> cosine_rhythm(8.0)
        rhythm_amplitude*cos(2*pi*(-rhythm_peak + t)/rhythm_period) + 1
    """
    peak_p = Parameter(f"{name}_peak", float(peak), unit=time_unit)
    period_p = Parameter(f"{name}_period", float(period), unit=time_unit)
    amplitude_p = Parameter(f"{name}_amplitude", float(amplitude), unit=None if time_unit is None else "1")
    return 1 + amplitude_p * sp.cos(2 * sp.pi * (model_time - peak_p) / period_p)


def rhythm_alignment(output: str, activity: sp.Expr, *, start=None, end=None) -> RhythmAlignment:
    """Make ``output`` (an effect) coincide with a time-varying disease ``activity`` (a :class:`RhythmAlignment` loss).

    Example:
        >>> rhythm_alignment("E", cosine_rhythm(8.0), start=144.0, end=168.0).times()
        [144.0, 168.0]
    """
    if not isinstance(activity, sp.Basic):
        raise DosingError(f"rhythm_alignment: activity {activity!r} must be a sympy expression of qsp.time, "
                          "e.g. qsp.optimize.cosine_rhythm(peak=8.0).")
    return RhythmAlignment(output, activity, *(None if v is None else float(v) for v in (start, end)))
