"""Shared code of the NONMEM dosing oracle (nlmixr2data/nmtest.csv): model and per-subject simulation."""

from __future__ import annotations

import numpy as np

import qsp
from qsp.io import read_nonmem


def nmtest_model():
    """depot -> central, CL 1.1, V 20, KA 1.5; cp = central / (V/1000); F, lag, modelled rate and
    duration of the central compartment come from data items (bioav, lagt, rat2, dur2)."""
    CL, V, KA = qsp.Parameter("CL", 1.1), qsp.Parameter("V", 20.0), qsp.Parameter("KA", 1.5)
    unit = qsp.Compartment("gut", volume=1.0)
    central = qsp.Compartment("central_volume", volume=V)
    depot = qsp.Species("depot", unit, amount_based=True)
    centre = qsp.Species("central", central, amount_based=True)
    data = {name: qsp.Parameter(name, value) for name, value in
            [("lagt", 0.0), ("bioav", 1.0), ("rat2", 1.0), ("dur2", 1.0)]}
    model = qsp.Model(
        "nmtest",
        reactions=[qsp.Reaction([depot], [centre], rate=KA * depot),
                   qsp.Reaction([centre], [], rate=CL / V * centre)],
        observables={"cp": centre / (V / 1000)},
        parameters=list(data.values()),
    )
    return model, data


def read_nmtest(path, data):
    return read_nonmem(path, ["depot", "central"], lag={2: data["lagt"]}, bioavailability={2: data["bioav"]},
                       modeled_rate={2: data["rat2"]}, modeled_duration={2: data["dur2"]},
                       covariates=["cp", "lagt", "bioav", "rat2", "dur2"])


def simulate_subject(compiled, subject, **options):
    times = np.asarray(subject.times, dtype=float)
    sol = qsp.simulate(compiled, times, regimen=subject.substitute_covariates(), before=subject.before_dose,
                       **options)
    return np.asarray(sol["cp"])


def simulate_all(compiled, dataset, **options):
    """Every subject in one batched call (one compilation): times padded to a common length."""
    subjects = list(dataset)
    width = max(len(s.times) for s in subjects)

    def pad(values, fill_last=True):
        values = np.asarray(values)
        extra = width - len(values)
        return np.concatenate([values, np.repeat(values[-1:], extra)]) if extra else values

    times = np.stack([pad(np.asarray(s.times, float)) for s in subjects])
    before = np.stack([pad(np.asarray(s.before_dose, bool)) for s in subjects])
    regimens = [s.substitute_covariates() for s in subjects]
    pop = qsp.simulate_population(compiled, times, regimen=regimens, before=before, ids=[s.id for s in subjects],
                                  progress=False, **options)
    cp = np.asarray(pop["cp"])
    return {s.id: cp[i, : len(s.times)] for i, s in enumerate(subjects)}
