"""How simulate_population runs its chunks (cost-balanced order; subjects one after another or in
lockstep) changes speed only, never a number."""

import jax.numpy as jnp
import numpy as np
import pytest

import qsp
from qsp.simulate import balance


def test_features_log_positive_columns_and_drop_constant_ones():
    p = np.array([[1.0, 5.0, -1.0], [np.e, 5.0, 1.0], [np.e ** 2, 5.0, 3.0]])
    x = balance.features(p, {"amount": np.array([[10.0], [10.0], [10.0]])})
    # column 0 enters as log (0, 1, 2), column 1 and the dose are constant, column 2 has a negative value
    expected = np.array([[-1.0, -1.0], [0.0, 0.0], [1.0, 1.0]]) / np.sqrt(2.0 / 3.0)
    np.testing.assert_allclose(x, expected, rtol=1e-12)


def test_rest_is_sorted_by_the_cost_learned_from_the_first_chunk():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((400, 3))
    steps = np.exp(5.0 + 0.4 * x[:, 1] - 0.2 * x[:, 2])  # exactly log-linear: the fit recovers it
    head = balance.first_chunk(400, 100)
    assert len(np.unique(head)) == 100
    rest = balance.rest_by_predicted_cost(x, head, steps[head])
    assert sorted(np.concatenate([head, rest]).tolist()) == list(range(400))
    # the true cost order, up to swaps of near-ties (the ridge penalty shrinks the two slopes by
    # slightly different factors): rank correlation with the true order > 0.999
    ranks = np.argsort(np.argsort(steps[rest]))
    assert np.corrcoef(ranks, np.arange(len(rest)))[0, 1] > 0.999
    swapped = np.argsort(steps[rest])[::-1]  # a wrong (reversed) order fails the same check
    assert np.corrcoef(np.argsort(swapped), np.arange(len(rest)))[0, 1] < 0


def test_products_are_added_only_when_the_training_set_supports_them():
    x = np.arange(12.0).reshape(4, 3)
    assert balance.with_products(x, max_columns=9).shape == (4, 9)  # 3 + 6 products
    assert balance.with_products(x, max_columns=8).shape == (4, 3)


@pytest.fixture(scope="module")
def oral():
    ka, cl, v = qsp.Parameter("ka", 1.0), qsp.Parameter("CL", 5.0), qsp.Parameter("V", 50.0)
    gut = qsp.Species("gut", qsp.Compartment("gut_c", volume=1.0))
    central = qsp.Species("A", qsp.Compartment("central", volume=v))
    model = qsp.Model("oral_balance", reactions=[qsp.Reaction([gut], [central], rate=ka * gut),
                                                 qsp.Reaction([central], [], rate=cl * central)],
                      observables={"C": central})
    return qsp.compile(model), gut


def test_balanced_chunks_give_the_unbalanced_numbers_in_the_callers_order(oral):
    cm, gut = oral
    rng = np.random.default_rng(11)
    n = 12  # chunk_size 4: three chunks, so the first one trains the ordering of the other two
    kas = np.exp(rng.uniform(np.log(0.2), np.log(20.0), n))  # fast absorption needs more steps
    cls = np.exp(rng.uniform(np.log(2.0), np.log(8.0), n))
    ts = np.linspace(0.0, 24.0, 9)
    regimen = qsp.Regimen([qsp.Bolus(gut, 100.0, time=0.0)])
    runs = {b: qsp.simulate_population(cm, ts, params={"ka": kas, "CL": cls}, regimen=regimen, chunk_size=4,
                                       balance=b, progress=False, batching="vmap") for b in (True, False)}
    # identical per-subject arithmetic whichever chunk a subject lands in: equal to rounding
    np.testing.assert_allclose(np.asarray(runs[True]["C"]), np.asarray(runs[False]["C"]), rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(np.asarray(runs[True].n_steps), np.asarray(runs[False].n_steps))
    # and against the closed form (Bateman), in the caller's order: the default rtol 1e-8
    k = cls / 50.0
    bateman = 100.0 / 50.0 * kas[:, None] / (kas[:, None] - k[:, None]) * (
        np.exp(-k[:, None] * ts) - np.exp(-kas[:, None] * ts))
    np.testing.assert_allclose(np.asarray(runs[True]["C"]), bateman, rtol=1e-6, atol=1e-9)
    steps = np.asarray(runs[True].n_steps)
    assert steps.shape == (n,) and np.all(steps > 0)
    one = qsp.simulate(cm, jnp.asarray(ts), params={"ka": float(kas[0]), "CL": float(cls[0])}, regimen=regimen)
    assert int(one.n_steps) > 0


def test_one_after_another_equals_lockstep_and_the_closed_form(oral):
    """``batching="map"`` (each subject's loop compiled natively on CPU) against ``"vmap"`` (the
    lockstep batch a GPU runs) and against the Bateman function; ``"auto"`` picks the map on
    CPU for this straight-line model and lockstep for a diffrax solver."""
    import diffrax
    from qsp.simulate import solver_options
    from qsp.simulate.population import batching_mode

    cm, gut = oral
    rng = np.random.default_rng(5)
    n = 10  # chunk_size 4: two full chunks and a padded one
    kas = np.exp(rng.uniform(np.log(0.2), np.log(20.0), n))
    cls = np.exp(rng.uniform(np.log(2.0), np.log(8.0), n))
    ts = np.linspace(0.0, 24.0, 9)
    regimens = [qsp.Regimen([qsp.Bolus(gut, 100.0, time=0.0)] + ([qsp.Bolus(gut, 50.0, time=12.0)] if i % 2 else []))
                for i in range(n)]  # the odd subjects get a second dose: padded regimens
    runs = {b: qsp.simulate_population(cm, ts, params={"ka": kas, "CL": cls}, regimen=regimens, chunk_size=4,
                                       progress=False, batching=b) for b in ("map", "vmap")}
    # the same step sequence per subject; only the linear algebra's rounding may differ
    np.testing.assert_allclose(np.asarray(runs["map"]["C"]), np.asarray(runs["vmap"]["C"]), rtol=1e-10, atol=1e-14)
    k = cls[:, None] / 50.0
    ka = kas[:, None]

    def bateman(amount, t_dose):
        s = np.clip(ts - t_dose, 0.0, None)
        return amount / 50.0 * ka / (ka - k) * (np.exp(-k * s) - np.exp(-ka * s))

    expected = bateman(100.0, 0.0) + np.where(np.arange(n)[:, None] % 2 == 1, bateman(50.0, 12.0), 0.0)
    np.testing.assert_allclose(np.asarray(runs["map"]["C"]), expected, rtol=1e-6, atol=1e-9)
    assert np.asarray(runs["map"].n_steps).shape == (n,)

    options = solver_options(None, None, None, None, None)
    if qsp._small_loops.active():  # the native loop needs XLA's option, set at import when possible
        assert batching_mode(cm, options) == "map"
    assert batching_mode(cm, solver_options(diffrax.Tsit5(), None, None, None, None)) == "vmap"
    with pytest.raises(qsp.errors.SolverError, match="batching='lockstep'"):
        batching_mode(cm, options, "lockstep")


@pytest.mark.parametrize("batching", ["map", "vmap"])
def test_a_failing_subject_is_named_with_its_time(oral, batching):
    cm, gut = oral
    regimen = qsp.Regimen([qsp.Bolus(gut, 100.0, time=0.0)])
    kas = np.array([1.0, 1.0, np.nan, 1.0])  # the third subject's absorption makes no number
    with pytest.raises(qsp.errors.SolverError, match=r"subject 103 \(position 2\).*not finite at t=0"):
        qsp.simulate_population(cm, np.linspace(0.0, 24.0, 5), params={"ka": kas}, regimen=regimen,
                                ids=[101, 102, 103, 104], chunk_size=2, progress=False, batching=batching)
