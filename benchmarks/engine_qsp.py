"""qsp's side of the engine benchmark: issue 5's model built and run through qsp's public API.

The model is written as a modeller would: amounts in two compartments of volumes V1 and V2,
the binding, synthesis, degradation and internalisation reactions in the central one, and
the regimen as one ``qsp.Bolus`` with ``interval=14, additional=5``. ``sol[name]`` gives the
concentrations that ``engine_problem`` integrates directly, so the two are compared as is.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import engine_problem as ep
import qsp


def build():
    """``(compiled, regimen)`` of the TMDD model with two-compartment PK."""
    p = {k: qsp.Parameter(k, v) for k, v in ep.PARAMS.items()}
    central = qsp.Compartment("central", volume=p["V1"])
    peripheral = qsp.Compartment("peripheral", volume=p["V2"])
    lc, lp = qsp.Species("Lc", central), qsp.Species("Lp", peripheral)
    r = qsp.Species("R", central, initial_concentration=p["ksyn"] / p["kdeg"])
    rl = qsp.Species("RL", central)
    reactions = [  # rates in amount/day; species symbols are concentrations
        qsp.Reaction([lc], [], rate=p["CL"] * lc, name="elimination"),
        qsp.Reaction([lc], [lp], rate=p["Q"] * (lc - lp), name="distribution"),
        qsp.Reaction([lc, r], [rl], rate=(p["kon"] * lc * r - p["koff"] * rl) * central, name="binding"),
        qsp.Reaction([], [r], rate=p["ksyn"] * central, name="synthesis"),
        qsp.Reaction([r], [], rate=p["kdeg"] * r * central, name="degradation"),
        qsp.Reaction([rl], [], rate=p["kint"] * rl * central, name="internalisation"),
    ]
    compiled = qsp.compile(qsp.Model("tmdd_2cmt", reactions=reactions))
    regimen = qsp.Regimen([qsp.Bolus(lc, amount=ep.DOSE, time=ep.DOSE_TIMES[0],
                                     interval=ep.DOSE_TIMES[1] - ep.DOSE_TIMES[0],
                                     additional=len(ep.DOSE_TIMES) - 1)])
    return compiled, regimen


def concentrations(sol) -> jax.Array:
    """(times, 4) concentrations Lc, Lp, R, RL of a ``qsp.Solution``."""
    return jnp.stack([sol[name] for name in ep.STATES], axis=-1)


def as_jax(p: dict) -> dict:
    return {k: jnp.asarray(v, jnp.float64) for k, v in p.items()}


def front_door(compiled, regimen, ts, p=None, **options):
    """``qsp.simulate`` called as a user calls it (Python floats in, concentrations out)."""
    ts = np.asarray(ts)
    p = dict(p or {})

    def run():
        return concentrations(qsp.simulate(compiled, ts, params=p, regimen=regimen, **options))
    return run


def jitted(compiled, regimen, ts, p=None, **options):
    """``jax.jit`` of a function of the parameter dict: the cost of one solve without Python dispatch."""
    ts = jnp.asarray(ts)
    f = jax.jit(lambda q: concentrations(qsp.simulate(compiled, ts, params=q, regimen=regimen, **options)))
    values = as_jax({**ep.PARAMS, **(p or {})})
    return lambda: f(values)


def gradient(compiled, regimen, obs, adjoint: str, rtol=1e-8, atol=1e-10):
    """T3: the gradient of the sum of squared errors of Lc w.r.t. the 9 parameters, ``jax.grad``
    with ``adjoint="reverse"`` or ``jax.jacfwd`` with ``adjoint="forward"``; returns a no-argument
    function giving the gradient in ``ep.NAMES`` order."""
    ts, obs = jnp.asarray(ep.observation_times()), jnp.asarray(obs)

    def loss(q):
        sol = qsp.simulate(compiled, ts, params=q, regimen=regimen, rtol=rtol, atol=atol, adjoint=adjoint)
        return jnp.sum((sol["Lc"] - obs) ** 2)

    transform = jax.grad if adjoint == "reverse" else jax.jacfwd

    def ordered(q):
        grad = transform(loss)(q)
        return jnp.stack([grad[k] for k in ep.NAMES])

    g = jax.jit(ordered)
    values = as_jax(ep.PARAMS)
    return lambda: g(values)


def dose_time_gradient(compiled, obs, adjoint: str, rtol=1e-8, atol=1e-10):
    """T6: the gradient of T3's loss w.r.t. the times of doses 2-6, ``jax.grad`` with
    ``adjoint="reverse"`` or ``jax.jacfwd`` with ``adjoint="forward"``. The regimen is built
    inside the differentiated function, one ``qsp.Bolus`` per dose with a traced ``time`` (the
    first at day 0); returns a no-argument function giving the five derivatives."""
    ts, obs = jnp.asarray(ep.observation_times()), jnp.asarray(obs)
    values = as_jax(ep.PARAMS)

    def loss(tau):
        regimen = qsp.Regimen([qsp.Bolus("Lc", amount=ep.DOSE, time=ep.DOSE_TIMES[0]),
                               *(qsp.Bolus("Lc", amount=ep.DOSE, time=tau[k]) for k in range(tau.shape[0]))])
        sol = qsp.simulate(compiled, ts, params=values, regimen=regimen, rtol=rtol, atol=atol, adjoint=adjoint)
        return jnp.sum((sol["Lc"] - obs) ** 2)

    transform = jax.grad if adjoint == "reverse" else jax.jacfwd
    g = jax.jit(transform(loss))
    tau = jnp.asarray(ep.DOSE_TIMES[1:], jnp.float64)
    return lambda: g(tau)
