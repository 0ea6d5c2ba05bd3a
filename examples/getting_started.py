"""Getting started: a one-compartment PK model, repeated IV boluses, checked against closed form.

The model is the one in DESIGN.md's public API contract (docs/getting-started.md builds
it step by step): drug amount A in a central compartment of volume V, eliminated with
clearance CL, so the concentration C = A / V obeys dC/dt = -(CL / V) C. Four 100 mg
boluses every 12 h give, by superposition,

    C(t) = sum over doses k with t_k <= t of (100 / V) * exp(-(CL / V) (t - t_k)).

The script simulates with CL = 2.5 L/h, prints C from qsp beside that closed form, and
with ``--plot PATH`` (and matplotlib installed) saves a plot of both.

Run:  python examples/getting_started.py [--plot pk1.png]
"""

from __future__ import annotations

import argparse

import jax.numpy as jnp
import numpy as np

import qsp


def build_model() -> qsp.Model:
    V = qsp.Parameter("V", 30.0, unit="L", description="central volume")
    CL = qsp.Parameter("CL", 3.0, unit="L/h", description="clearance")
    central = qsp.Compartment("central", volume=V)
    A = qsp.Species("A", central)  # integrated as an amount; in expressions A means amount / V
    return qsp.Model(
        "pk1",
        reactions=[qsp.Reaction(reactants=[A], products=[], rate=CL * A)],  # CL * concentration = mg/h
        observables={"C": A},
    )


def closed_form(t: np.ndarray, dose_times, amount: float, CL: float, V: float) -> np.ndarray:
    """Superposition of one-compartment IV bolus responses (right-continuous at dose times)."""
    t = np.asarray(t)[:, None]
    tk = np.asarray(dose_times)[None, :]
    return np.sum(np.where(t >= tk, amount / V * np.exp(-(CL / V) * (t - tk)), 0.0), axis=1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plot", metavar="PATH", help="save a plot of qsp vs closed form to PATH")
    args = parser.parse_args(argv)

    model = build_model()
    compiled = qsp.compile(model)  # structure only: compile once
    A = model.symbol("A")
    regimen = qsp.Regimen([qsp.Bolus(A, amount=100.0, time=0.0, interval=12.0, additional=3)])
    times = jnp.linspace(0.0, 48.0, 97)
    sol = qsp.simulate(compiled, times, params={"CL": 2.5}, regimen=regimen)

    c_qsp = np.asarray(sol["C"])
    c_exact = closed_form(np.asarray(times), [0.0, 12.0, 24.0, 36.0], 100.0, CL=2.5, V=30.0)
    rel = np.abs(c_qsp - c_exact) / c_exact

    print(f"{model!r}\n")
    print(f"{'t [h]':>6}  {'C qsp [mg/L]':>13}  {'C exact [mg/L]':>14}  {'rel. diff':>9}")
    for i in range(0, len(times), 8):  # every 4 h
        print(f"{float(times[i]):6.1f}  {c_qsp[i]:13.6f}  {c_exact[i]:14.6f}  {rel[i]:9.1e}")
    print(f"\nmax relative difference over {len(times)} times: {rel.max():.1e}")
    # Tolerance: qsp's defaults are rtol 1e-8 / atol 1e-10, so 1e-6 leaves two orders of slack.
    if not rel.max() < 1e-6:
        print("qsp and the closed form disagree")
        return 1

    if args.plot:
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib is not installed; no plot written")
            return 0
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(times, c_qsp, label="qsp.simulate")
        ax.plot(times[::4], c_exact[::4], "o", ms=3, label="closed form")
        ax.set_xlabel("time [h]")
        ax.set_ylabel("C [mg/L]")
        ax.set_title("pk1: 100 mg IV every 12 h, CL = 2.5 L/h, V = 30 L")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"plot written to {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
