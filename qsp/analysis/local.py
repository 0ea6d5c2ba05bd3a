"""Local sensitivities by forward-mode automatic differentiation through ``qsp.simulate``."""

from __future__ import annotations

from typing import Mapping, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..compile import CompiledModel
from ..errors import ModelError
from .inputs import DOSE_FIELDS, Inputs
from .result import LocalSensitivity


class _Outputs(eqx.Module):
    """x ↦ the named outputs at every time, shape (outputs, times): the function differentiated."""

    inputs: Inputs
    times: jax.Array
    outputs: tuple = eqx.field(static=True)
    options: tuple = eqx.field(static=True)  # simulate options, as sorted (name, value) pairs

    def __call__(self, x):
        sol = self.inputs.simulate(x, self.times, adjoint="forward", **dict(self.options))
        return jnp.stack([sol[name] for name in self.outputs])


@eqx.filter_jit
def _values_and_jacobian(f: _Outputs, x):
    # one forward pass per input column (jacfwd); the primal values come out of the same pass
    jac, y = jax.jacfwd(lambda v: (f(v), f(v)), has_aux=True)(x)
    return y, jac


def sensitivity(compiled: CompiledModel, times, params: Mapping | None = None, regimen=None, *,
                outputs: Sequence[str] | None = None, parameters: Sequence[str] | None = None,
                doses: Sequence[str] | bool = DOSE_FIELDS, **options) -> LocalSensitivity:
    r"""Local sensitivities of outputs over time to parameters and dose numbers.

    For each output :math:`y` (an observable, species, rule variable — anything ``sol[name]``
    gives), each time :math:`t` and each input :math:`x` (a parameter, or a dose's amount,
    time or infusion duration), the raw sensitivity is

    .. math:: S_{y,x}(t) = \frac{\partial y(t)}{\partial x}

    computed exactly (to the integrator's tolerance) by forward-mode automatic
    differentiation through :func:`qsp.simulate` — one Jacobian–vector pass per input,
    which is the cheap direction when inputs are few and output times many. The normalised
    (relative) sensitivity is

    .. math:: \bar S_{y,x}(t) = \frac{\partial \log y(t)}{\partial \log x} = S_{y,x}(t)\,\frac{x}{y(t)}

    for parameters, amounts and durations; for a dose *time* it is
    :math:`\partial \log y / \partial t = S/y` (relative change per unit time the dose is
    moved later), because the logarithm of a clock time has no meaning. Where :math:`y(t) = 0`
    the normalised value is 0 if :math:`S = 0` (nothing there to change) and NaN otherwise
    (a relative change of zero is undefined); the ranked table skips NaNs.

    A dose-time sensitivity is the derivative of a jump's position: at an output time
    *equal* to that dose's time it is undefined (the output jumps there), so keep sampling
    times off the dose times when you read it. Likewise a dose given exactly at the start
    of the simulation cannot move earlier: pass ``t0=`` (a ``qsp.simulate`` option) before
    it to read its time sensitivity.

    Args:
        compiled: from :func:`qsp.compile`.
        times: output times.
        params: parameter values (name → value) other than the defaults: the point of expansion.
        regimen: the dosing regimen.
        outputs: names to differentiate (default: the observables; the species' concentrations if
            the model has none).
        parameters: parameter names (default: all of the model's parameters).
        doses: which dose numbers are inputs: any of ``"amount"``, ``"time"``, ``"duration"``
            (default all three; an infusion's duration only when given as a number), or
            ``False``. Single doses are numbered from 1 in :meth:`qsp.Regimen.doses` order:
            ``dose1.amount``, ``dose2.time``...
        **options: passed to :func:`qsp.simulate` (``rtol``, ``atol``, ``solver``, ``max_steps``, ``t0``).
            The default tolerances give sensitivities accurate to about 1e-6 relative.

    Returns:
        a :class:`LocalSensitivity` (arrays, a ranked table, heat-map and tornado plots).

    Example:
        >>> import qsp, numpy as np
        >>> V, CL = qsp.Parameter("V", 10.0), qsp.Parameter("CL", 1.0)
        >>> A = qsp.Species("A", qsp.Compartment("c", volume=V))
        >>> cm = qsp.compile(qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=CL * A)], observables={"C": A}))
        >>> s = sensitivity(cm, [5.0], regimen=qsp.Bolus(A, amount=100.0, time=0.0), doses=["amount"])
        >>> # C = D/V exp(-CL t/V): d log C / d log CL = -CL t / V = -0.5, d log C / d log V = CL t/V - 1 = -0.5
        >>> [round(float(v), 6) for v in s.normalised[0, 0]]
        [-0.5, -0.5, 1.0]
    """
    if "adjoint" in options:
        raise ModelError("sensitivity() differentiates in forward mode; do not pass adjoint=.")
    inputs = Inputs.build(compiled, params, regimen, parameters=parameters, doses=doses)
    if outputs is None:
        outputs = list(compiled.observable_names) or list(compiled.species_names)
    elif isinstance(outputs, str):
        outputs = [outputs]
    for name in outputs:
        compiled.output_expression(name)  # raises ModelError naming the unknown output
    ts = np.atleast_1d(np.asarray(times, np.float64))
    f = _Outputs(inputs, jnp.asarray(ts), tuple(outputs), tuple(sorted(options.items())))
    x = inputs.values
    y, jac = _values_and_jacobian(f, x)
    y, jac = np.asarray(y), np.asarray(jac)
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(jac))):
        bad = np.argwhere(~np.isfinite(jac))[0] if not np.all(np.isfinite(jac)) else np.argwhere(~np.isfinite(y))[0]
        raise ModelError(
            f"sensitivity of {outputs[bad[0]]!r} at t={ts[bad[1]]:g} is not finite; check the parameter values "
            "(division by zero, log of a negative number) and the solver options."
        )
    return LocalSensitivity(times=ts, outputs=tuple(outputs), inputs=inputs.names, kinds=inputs.kinds,
                            values=np.asarray(x), scale=inputs.scale(), y=y, raw=jac)
