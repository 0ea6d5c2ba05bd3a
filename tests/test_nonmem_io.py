"""Tests of qsp.io.nonmem: reading, validating and writing NONMEM datasets."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

pd = pytest.importorskip("pandas")

from qsp.dosing import Bolus, Infusion, Regimen, Reset  # noqa: E402
from qsp.errors import DataError  # noqa: E402
from qsp.io import read_nonmem, write_nonmem  # noqa: E402
from qsp.io.nonmem import NonmemDataset, Subject  # noqa: E402
from qsp.model import Compartment, Parameter, Species  # noqa: E402

NMTEST = Path("/work/shared/reference/nlmixr2data/nmtest.csv")

LAGT = Parameter("lagt", 0.0)
BIOAV = Parameter("bioav", 1.0)
RAT2 = Parameter("rat2", 1.0)
DUR2 = Parameter("dur2", 1.0)
NM_KW = dict(compartments=["depot", "central"], lag={2: LAGT}, bioavailability={2: BIOAV},
             modeled_rate={2: RAT2}, modeled_duration={2: DUR2})


def _reference(path: Path) -> Path:
    if not path.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"reference file {path} is missing (CI=true requires /work/shared/reference)")
        pytest.skip(f"reference file {path} is not available; skipping the nmtest.csv checks")
    return path


@pytest.fixture(scope="module")
def nmtest_path():
    return _reference(NMTEST)


@pytest.fixture(scope="module")
def nmtest(nmtest_path):
    return read_nonmem(nmtest_path, **NM_KW)


@pytest.fixture(scope="module")
def nmtest_frame(nmtest_path):
    return pd.read_csv(nmtest_path)


def _assert_same(a: Subject, b: Subject):
    assert a.id == b.id
    assert a.regimen == b.regimen
    np.testing.assert_array_equal(a.times, b.times)
    np.testing.assert_array_equal(a.dv, b.dv)  # NaN == NaN for assert_array_equal
    np.testing.assert_array_equal(a.mdv, b.mdv)
    assert list(a.cmt) == list(b.cmt)
    np.testing.assert_array_equal(a.before_dose, b.before_dose)
    np.testing.assert_array_equal(a.evid, b.evid)
    assert a.covariates.keys() == b.covariates.keys()
    for k in a.covariates:
        np.testing.assert_array_equal(a.covariates[k], b.covariates[k])
    assert a.dose_covariates.keys() == b.dose_covariates.keys()
    for k in a.dose_covariates:
        np.testing.assert_array_equal(a.dose_covariates[k], b.dose_covariates[k])
    assert a.baseline_covariates == b.baseline_covariates


# ----------------------------------------------------------------------------- nmtest.csv


def test_nmtest_subjects_and_observation_counts(nmtest, nmtest_frame):
    assert isinstance(nmtest, NonmemDataset)
    assert len(nmtest) == 54
    assert nmtest.ids == tuple(pd.unique(nmtest_frame["id"]))
    assert nmtest.covariate_names == ("cp", "lagt", "bioav", "rat2", "dur2", "mode")
    total = 0
    for s in nmtest:
        rows = nmtest_frame[nmtest_frame["id"] == s.id]
        obs = rows[rows["evid"] == 0]
        assert s.times.size == len(obs)
        np.testing.assert_array_equal(s.times, obs["time"].to_numpy(float))
        np.testing.assert_array_equal(s.covariates["cp"], obs["cp"].to_numpy(float))
        np.testing.assert_array_equal(s.rows, obs.index.to_numpy())
        assert set(s.cmt) == {"central"}
        assert not s.before_dose.any()  # every observation row follows its dose rows
        assert (s.evid == 0).all()
        assert (s.mdv == 1).all() and np.isnan(s.dv).all()  # no DV column: cp is a prediction
        total += s.times.size
    assert total == int((nmtest_frame["evid"] == 0).sum()) == 7074


def test_nmtest_regimens_by_hand(nmtest):
    # id 1: 1,0,0.0,1,100,1,24,0,3,0.0,...  oral 100 q24h x4 into the depot (no lag/F mapped there)
    assert nmtest[1].regimen == Regimen([Bolus("depot", 100.0, time=0.0, interval=24.0, additional=3)])
    # id 3: infusion of 100 at rate 10 into central, q24h x4, ALAG2 = lagt, F2 = bioav
    assert nmtest[3].regimen.records == (
        Infusion("central", 100.0, time=0.0, interval=24.0, additional=3, rate=10.0, lag=LAGT,
                 bioavailability=BIOAV),)
    # id 5: RATE=-2 -> duration modelled (D2 = dur2)
    (rec,) = nmtest[5].regimen.records
    assert isinstance(rec, Infusion) and rec.amount == 480.0 and rec.duration == DUR2 and rec.rate is None
    # id 9: SS=1 infusion, rate 10, II 24, ADDL 3
    (rec,) = nmtest[9].regimen.records
    assert (rec.steady_state, rec.interval, rec.additional, rec.rate, rec.amount) == (1, 24.0, 3, 10.0, 100.0)
    # id 20: infusion into the depot, then EVID 4 at 50: reset and a bolus of 120 q12h x4
    assert nmtest[20].regimen.records == (
        Infusion("depot", 100.0, time=0.0, interval=12.0, additional=2, rate=50.0),
        Reset(50.0),
        Bolus("depot", 120.0, time=50.0, interval=12.0, additional=3),
    )
    # id 23: EVID 3 at 50 (reset alone), then a bolus at 54
    recs = nmtest[23].regimen.records
    assert recs[1] == Reset(50.0)
    assert recs[2] == Bolus("depot", 120.0, time=54.0, interval=16.0, additional=2)
    assert nmtest[23].dose_rows[1] == 2957  # the reset row is a record, not an output time
    assert 2957 not in nmtest[23].rows
    # id 25: SS=1 then SS=2 (superposition) 12 h later
    assert nmtest[25].regimen.records == (
        Bolus("depot", 100.0, time=0.0, interval=24.0, additional=3, steady_state=1),
        Bolus("depot", 50.0, time=12.0, interval=24.0, additional=3, steady_state=2),
    )
    # id 225: infusions at steady state into central with lag/F expressions
    recs = nmtest[225].regimen.records
    assert [(r.rate, r.steady_state) for r in recs] == [(25.0, 1), (12.5, 2)]
    assert all(r.lag == LAGT and r.bioavailability == BIOAV for r in recs)


def test_nmtest_constant_steady_state_infusion(nmtest):
    # id 26: AMT=0, RATE=100, SS=1, II=0: a constant infusion at steady state, read as a
    # never-pausing infusion lasting until the last record (time 130)
    (rec,) = nmtest[26].regimen.records
    assert isinstance(rec, Infusion)
    assert (rec.rate, rec.interval, rec.amount, rec.steady_state) == (100.0, 130.0, 13000.0, 1)
    assert rec.lag == 0.0 and rec.bioavailability == 1.0
    assert rec.amount * rec.bioavailability / rec.rate == rec.interval  # duration == interval: never pauses


def test_nmtest_dose_row_covariates_substituted(nmtest):
    # id 17: lagt is 1 on the dose row but 0 on the observation rows; NONMEM uses the dose row's value
    s = nmtest[17]
    assert s.covariates["lagt"][0] == 0.0 and s.dose_covariates["lagt"][0] == 1.0
    assert s.regimen.records[0].lag == LAGT
    assert s.substitute_covariates().records[0].lag == 1.0
    # id 5: duration dur2 = 48 and F = bioav = 0.5 on the dose row
    rec = nmtest[5].substitute_covariates().records[0]
    assert (rec.duration, rec.bioavailability) == (48.0, 0.5)


def test_nmtest_modeled_duration_required(nmtest_path):
    kw = dict(NM_KW)
    del kw["modeled_duration"]
    with pytest.raises(DataError) as err:
        read_nonmem(nmtest_path, **kw)
    msg = str(err.value)
    # first RATE=-2 row: id 5, data row 529
    assert "data row 529" in msg and "ID 5" in msg and "'rate'" in msg and "modeled_duration" in msg


def test_nmtest_round_trip(nmtest, tmp_path):
    path = tmp_path / "nmtest_rt.csv"
    df = write_nonmem(nmtest, path)
    assert list(df.columns[:11]) == ["ID", "TIME", "AMT", "CMT", "EVID", "MDV", "RATE", "II", "ADDL", "SS", "DV"]
    assert set(df.loc[df["RATE"] < 0, "RATE"]) == {-2.0}
    again = read_nonmem(path, **NM_KW)
    assert again.ids == nmtest.ids
    for a, b in zip(nmtest, again):
        _assert_same(a, b)
    # constant infusion written back in NONMEM's form
    row = df[(df["ID"] == 26) & (df["EVID"] == 1)].iloc[0]
    assert (row["AMT"], row["RATE"], row["II"], row["SS"]) == (0.0, 100.0, 0.0, 1)
    # the data frame itself reads back the same (to_pandas is write_nonmem)
    again2 = read_nonmem(nmtest.to_pandas(), **NM_KW)
    _assert_same(nmtest[20], again2[20])


# ----------------------------------------------------------------------------- small datasets


def frame(**cols):
    return pd.DataFrame(cols)


def test_csv_text_missing_values_and_case_insensitive_columns(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(
        "Id,Time,Amt,Cmt,Evid,Dv,Wt\n"
        "1,0,100,1,1,.,70\n"
        "1,1,.,2,0,4.5,70\n"
        "1,2,.,2,0,.,71\n"
        "2,0,50,1,1,.,80\n"
        "2,4,.,2,0,1.25,80\n"
    )
    data = read_nonmem(path, ["depot", "central"])
    assert data.ids == (1, 2)
    s = data[1]
    assert s.regimen == Regimen([Bolus("depot", 100.0)])
    np.testing.assert_array_equal(s.times, [1.0, 2.0])
    np.testing.assert_array_equal(s.dv, [4.5, np.nan])
    np.testing.assert_array_equal(s.mdv, [0, 1])  # no DV on the last row: nothing observed
    assert list(s.cmt) == ["central", "central"]
    np.testing.assert_array_equal(s.covariates["Wt"], [70.0, 71.0])
    assert s.baseline_covariates == {"Wt": 70.0}
    np.testing.assert_array_equal(s.rows, [1, 2])
    assert s.n_observations == 1
    assert data[2].regimen.records[0].amount == 50.0
    with pytest.raises(KeyError, match="no subject with ID 3"):
        data[3]


def test_evid_and_mdv_derived_nonmem_style():
    df = frame(ID=[1, 1, 1, 1], TIME=[0, 1, 2, 3], AMT=[100, 0, 0, 0], MDV=[1, 0, 1, 0], DV=[".", 2.0, ".", 1.0])
    s = read_nonmem(df, ["central"])[1]
    assert s.regimen == Regimen([Bolus("central", 100.0)])  # single compartment: CMT not needed
    np.testing.assert_array_equal(s.times, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(s.evid, [0, 2, 0])  # MDV=1 without a dose: other-type event
    np.testing.assert_array_equal(s.mdv, [0, 1, 0])
    # no MDV column: derived from EVID and DV
    s = read_nonmem(frame(ID=[1, 1, 1], TIME=[0, 1, 2], AMT=[5, ".", "."], DV=[".", 3.0, "."]), ["c"])[1]
    np.testing.assert_array_equal(s.evid, [0, 0])
    np.testing.assert_array_equal(s.mdv, [0, 1])


def test_evid_records_reset_and_other_events():
    df = frame(ID=[7] * 7, TIME=[0, 0, 5, 10, 10, 12, 12],
               AMT=[100, 0, 0, 0, 80, 0, 0], CMT=[1, 1, 1, 1, 1, 1, 1], EVID=[1, 0, 2, 3, 4, 0, 0],
               DV=[".", 0.0, ".", ".", ".", 3.0, 2.9])
    s = read_nonmem(df, ["central"])[7]
    assert s.regimen.records == (Bolus("central", 100.0), Reset(10.0), Reset(10.0), Bolus("central", 80.0, time=10.0))
    np.testing.assert_array_equal(s.times, [0.0, 5.0, 12.0, 12.0])
    np.testing.assert_array_equal(s.evid, [0, 2, 0, 0])
    np.testing.assert_array_equal(s.mdv, [0, 1, 0, 0])
    np.testing.assert_array_equal(s.dose_rows, [0, 3, 4, 4])


def test_before_dose_follows_file_order():
    # trough at 12 before the dose at 12, and a peak sample at 12 after it; at 24 the sample follows the dose
    df = frame(ID=[1] * 6, TIME=[0, 12, 12, 12, 24, 24], AMT=[100, 0, 100, 0, 100, 0],
               EVID=[1, 0, 1, 0, 1, 0], DV=[".", 1.0, ".", 5.0, ".", 6.0])
    s = read_nonmem(df, ["central"])[1]
    np.testing.assert_array_equal(s.times, [12.0, 12.0, 24.0])
    np.testing.assert_array_equal(s.before_dose, [True, False, False])
    # a sample before a reset at the same time is also taken before the event
    df = frame(ID=[1] * 4, TIME=[0, 6, 6, 8], AMT=[100, 0, 0, 0], EVID=[1, 0, 3, 0], DV=[".", 1.0, ".", 0.0])
    np.testing.assert_array_equal(read_nonmem(df, ["central"])[1].before_dose, [True, False])


def test_infusions_modeled_rate_and_duration_with_parameters():
    R1, D1, F1, A1 = Parameter("R1", 5.0), Parameter("D1", 2.0), Parameter("F1", 0.8), Parameter("ALAG1", 0.25)
    df = frame(ID=[1] * 4, TIME=[0, 1, 2, 30], AMT=[100, 100, 100, 0], RATE=[20, -1, -2, 0], EVID=[1, 1, 1, 0],
               CMT=["central"] * 4, DV=[".", ".", ".", 1.0])
    s = read_nonmem(df, ["central"], lag={"central": A1}, bioavailability={1: F1},
                    modeled_rate={1: R1}, modeled_duration={"central": D1})[1]
    assert s.regimen.records == (
        Infusion("central", 100.0, time=0.0, rate=20.0, lag=A1, bioavailability=F1),
        Infusion("central", 100.0, time=1.0, rate=R1, lag=A1, bioavailability=F1),
        Infusion("central", 100.0, time=2.0, duration=D1, lag=A1, bioavailability=F1),
    )
    # expression-valued rates are written back as RATE=-1 / -2
    out = write_nonmem(read_nonmem(df, ["central"], modeled_rate={1: R1}, modeled_duration={1: D1}))
    assert out.loc[out["EVID"] == 1, "RATE"].tolist() == [20.0, -1.0, -2.0]
    # sympy expressions of parameters are accepted too
    CL = Parameter("CL", 2.0)
    s = read_nonmem(df, ["central"], modeled_rate={1: 3 * CL}, modeled_duration={1: D1 / 2})[1]
    assert s.regimen.records[1].rate == 3 * CL and s.regimen.records[2].duration == D1 / 2


def test_compartments_as_mapping_species_and_names():
    central = Species("central", Compartment("Vc", volume=10.0))
    depot = Species("depot", Compartment("gut", volume=1.0))
    df = frame(ID=[1, 1, 1], TIME=[0, 1, 2], AMT=[100, 50, 0], CMT=[1, 3, 3], EVID=[1, 1, 0], DV=[".", ".", 2.0])
    s = read_nonmem(df, {1: depot, 3: central})[1]
    assert s.regimen.records[0].species is depot and s.regimen.records[1].species is central
    assert list(s.cmt) == ["central"]
    # CMT given by names, without compartments
    df = frame(ID=[1, 1], TIME=[0, 1], AMT=[100, 0], CMT=["depot", "central"], EVID=[1, 0], DV=[".", 2.0])
    data = read_nonmem(df)
    assert data[1].regimen == Regimen([Bolus("depot", 100.0)]) and list(data[1].cmt) == ["central"]
    assert data.compartments is None
    out = write_nonmem(data)
    assert out["CMT"].tolist() == ["depot", "central"]
    _assert_same(read_nonmem(out)[1], data[1])


def test_round_trip_small_dataset(tmp_path):
    R1 = Parameter("R1", 5.0)
    df = frame(
        ID=[3, 3, 3, 3, 3, 3, 3, 3, 9, 9, 9],
        TIME=[0, 0, 4, 12, 12, 20, 20, 30, 0, 1, 2],
        AMT=[0, 100, 0, 0, 100, 0, 50, 0, 10, 0, 0],
        CMT=[2, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2],
        EVID=[0, 1, 2, 0, 1, 3, 4, 0, 1, 0, 0],
        RATE=[0, 0, 0, 0, -1, 0, 25, 0, 0, 0, 0],
        II=[0, 12, 0, 0, 0, 0, 12, 0, 0, 0, 0],
        ADDL=[0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0],
        SS=[0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        DV=[0.0, ".", ".", 3.5, ".", ".", ".", 2.25, ".", 1.5, "."],
        WT=[70, 70, 70, 72, 72, 72, 72, 73, 55, 55, 55],
    )
    first = read_nonmem(df, ["depot", "central"], modeled_rate={2: R1})
    assert first[3].before_dose.tolist() == [True, False, True, False]
    path = tmp_path / "rt.csv"
    written = write_nonmem(first, path)
    text = path.read_text().splitlines()
    assert text[0] == "ID,TIME,AMT,CMT,EVID,MDV,RATE,II,ADDL,SS,DV,WT"
    assert written["EVID"].tolist() == [0, 1, 2, 0, 1, 3, 4, 0, 1, 0, 0]
    second = read_nonmem(path, ["depot", "central"], modeled_rate={2: R1})
    for a, b in zip(first, second):
        _assert_same(a, b)


def test_write_orders_pre_dose_rows_and_combines_reset_dose():
    s = Subject(
        id=1,
        regimen=Regimen([Bolus("central", 100.0, time=0.0), Reset(24.0), Bolus("central", 50.0, time=24.0)]),
        times=[24.0, 24.0, 30.0], dv=[1.0, 9.0, 4.0], cmt=["central"] * 3, before_dose=[True, False, False],
        covariates={"WT": [70.0, 70.0, 71.0]}, baseline_covariates={"WT": 70.0},
    )
    df = write_nonmem(s, compartments=["central"])
    assert df["TIME"].tolist() == [0.0, 24.0, 24.0, 24.0, 30.0]
    assert df["EVID"].tolist() == [1, 0, 4, 0, 0]
    np.testing.assert_array_equal(df["DV"].to_numpy(), [np.nan, 1.0, np.nan, 9.0, 4.0])
    assert df["MDV"].tolist() == [1, 0, 1, 0, 0]
    assert df["WT"].tolist() == [70.0, 70.0, 70.0, 70.0, 71.0]
    back = read_nonmem(df, ["central"])[1]
    assert back.regimen == s.regimen
    np.testing.assert_array_equal(back.before_dose, [True, False, False])
    np.testing.assert_array_equal(back.dv, [1.0, 9.0, 4.0])


def test_write_numeric_duration_and_unsupported_expression():
    s = Subject(id=1, regimen=Regimen([Infusion("c", 100.0, duration=4.0, bioavailability=0.5)]), times=[1.0])
    df = write_nonmem(s)
    assert df.loc[0, "RATE"] == 100.0 * 0.5 / 4.0
    s = Subject(id=1, regimen=Regimen([Infusion("c", 100.0, duration=4.0, bioavailability=Parameter("F", 1.0))]),
                times=[1.0])
    with pytest.raises(DataError, match="cannot express"):
        write_nonmem(s)
    s = Subject(id=1, regimen=Regimen([Bolus("other", 1.0)]), times=[1.0])
    with pytest.raises(DataError, match="'other'"):
        write_nonmem(s, compartments=["c"])


def test_pandas_imported_lazily():
    import subprocess
    import sys

    code = "import sys, qsp.io.nonmem; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------------------- validation errors


def base(**changes):
    cols = dict(ID=[1, 1, 1], TIME=[0.0, 1.0, 2.0], AMT=[100, ".", "."], CMT=[1, 2, 2], EVID=[1, 0, 0],
                DV=[".", 3.0, 2.0])
    for key, value in changes.items():
        if value is None:
            del cols[key]
        else:
            cols[key] = value
    return pd.DataFrame(cols)


def assert_data_error(df, row, column, *fragments, compartments=("depot", "central"), **kw):
    with pytest.raises(DataError) as err:
        read_nonmem(df, list(compartments) if compartments is not None else None, **kw)
    msg = str(err.value)
    assert f"data row {row}" in msg, msg
    if row is not None and "ID" in df.columns:
        assert f"ID {df['ID'].iloc[row - 1]}" in msg, msg
    assert f"column {column!r}" in msg, msg
    for fragment in fragments:
        assert fragment in msg, msg
    return msg


def test_valid_base_reads():
    s = read_nonmem(base(), ["depot", "central"])[1]
    assert s.regimen == Regimen([Bolus("depot", 100.0)])


@pytest.mark.parametrize("missing", ["ID", "TIME"])
def test_error_missing_required_column(missing):
    with pytest.raises(DataError, match=f"no {missing} column"):
        read_nonmem(base(**{missing: None}), ["depot", "central"])


def test_error_non_numeric_value():
    assert_data_error(base(AMT=[100, "abc", "."]), 2, "AMT", "'abc'", "not a finite number")
    assert_data_error(base(TIME=[0.0, "1h", 2.0]), 2, "TIME", "'1h'")


def test_error_non_numeric_covariate_names_the_fix():
    assert_data_error(base(SEX=["M", "M", "M"]), 1, "SEX", "covariates=")
    # leaving it out works
    assert read_nonmem(base(SEX=["M", "M", "M"]), ["depot", "central"], covariates=[]).covariate_names == ()


def test_error_missing_id_and_time():
    with pytest.raises(DataError, match=r"data row 2, column 'ID'.*missing"):
        read_nonmem(base(ID=[1, ".", 1]), ["depot", "central"])
    assert_data_error(base(TIME=[0.0, ".", 2.0]), 2, "TIME", "missing")


def test_error_negative_time():
    assert_data_error(base(TIME=[-1.0, 1.0, 2.0]), 1, "TIME", "negative")


def test_error_time_decreasing():
    assert_data_error(base(TIME=[0.0, 2.0, 1.0]), 3, "TIME", "goes back from 2 to 1")
    # even at an EVID 4 reset (documented: qsp keeps one time axis per subject)
    df = base(TIME=[0.0, 5.0, 0.0], AMT=[100, ".", 100], EVID=[1, 0, 4], CMT=[1, 2, 1], DV=[".", 1.0, "."])
    assert_data_error(df, 3, "TIME", "EVID 4", "own ID")


def test_error_ids_not_contiguous():
    df = base(ID=[1, 2, 1], AMT=[100, 100, "."], EVID=[1, 1, 0], CMT=[1, 1, 2], DV=[".", ".", 1.0])
    assert_data_error(df, 3, "ID", "appears again")


def test_error_amount_on_observation_row():
    assert_data_error(base(AMT=[100, 5, "."]), 2, "AMT", "observation", "EVID=1")
    # also for reset and other-type rows
    assert_data_error(base(AMT=[100, 5, "."], EVID=[1, 3, 0]), 2, "AMT", "reset", "EVID=4")
    # and without an EVID column, when MDV=0 says the row is an observation
    assert_data_error(base(EVID=None, MDV=[1, 0, 0], AMT=[100, 5, "."]), 2, "AMT", "MDV=0")


def test_error_dose_fields_on_observation_row():
    assert_data_error(base(RATE=[0, 10, 0]), 2, "RATE", "dose rows only")
    assert_data_error(base(ADDL=[0, 2, 0]), 2, "ADDL", "dose rows only")
    assert_data_error(base(SS=[0, 1, 0]), 2, "SS", "dose rows only")
    assert_data_error(base(II=[0, 12, 0]), 2, "II", "dose rows only")


@pytest.mark.parametrize("amount,fragment", [(".", "AMT is missing"), (-5, "negative"), (0, "AMT > 0")])
def test_error_dose_amount(amount, fragment):
    assert_data_error(base(AMT=[amount, ".", "."]), 1, "AMT", fragment)


def test_error_steady_state_without_interval():
    assert_data_error(base(SS=[1, 0, 0]), 1, "II", "SS=1", "II must be > 0")
    assert_data_error(base(SS=[2, 0, 0], II=[0, 0, 0]), 1, "II", "SS=2")
    assert_data_error(base(SS=[3, 0, 0], II=[12, 0, 0]), 1, "SS", "SS 3")


def test_error_additional_without_interval():
    assert_data_error(base(ADDL=[3, 0, 0]), 1, "II", "ADDL=3", "II must be > 0")
    assert_data_error(base(ADDL=[1.5, 0, 0], II=[12, 0, 0]), 1, "ADDL", "whole number")
    assert_data_error(base(II=[-12, 0, 0]), 1, "II", "negative")


def test_error_compartment():
    # missing on a dose row with two compartments
    assert_data_error(base(CMT=[".", 2, 2]), 1, "CMT", "missing on a dose row", "1 = 'depot'")
    # out of range, unknown name, numbers without compartments, negative
    assert_data_error(base(CMT=[3, 2, 2]), 1, "CMT", "CMT 3 is not a known compartment")
    assert_data_error(base(CMT=[1, "liver", 2]), 2, "CMT", "'liver'")
    assert_data_error(base(), 1, "CMT", "compartments=", compartments=None)
    assert_data_error(base(CMT=[-1, 2, 2]), 1, "CMT", "not supported")
    assert_data_error(base(CMT=[1.5, 2, 2]), 1, "CMT", "whole")


def test_error_unknown_evid():
    assert_data_error(base(EVID=[1, 5, 0]), 2, "EVID", "EVID 5 is unknown")
    assert_data_error(base(EVID=[1, ".", 0]), 2, "EVID", "missing")


def test_error_negative_rate():
    assert_data_error(base(RATE=[-3, 0, 0]), 1, "RATE", "RATE -3 is invalid")


@pytest.mark.parametrize("rate,kwarg", [(-1, "modeled_rate"), (-2, "modeled_duration")])
def test_error_modeled_rate_missing(rate, kwarg):
    msg = assert_data_error(base(RATE=[rate, 0, 0]), 1, "RATE", kwarg, f"RATE={rate}")
    assert "compartment 1 ('depot')" in msg
    # given for another compartment only: still an error
    assert_data_error(base(RATE=[rate, 0, 0]), 1, "RATE", kwarg, **{kwarg: {2: sp.Symbol("x")}})


def test_error_mdv_inconsistent():
    assert_data_error(base(MDV=[1, 0, 2]), 3, "MDV", "MDV 2")
    assert_data_error(base(MDV=[0, 0, 0]), 1, "MDV", "EVID 1")
    assert_data_error(base(MDV=[1, 0, 0], DV=[".", ".", 2.0]), 2, "DV", "DV is missing")


def test_error_duplicate_columns_and_bad_arguments():
    df = base()
    df["amt"] = 0
    with pytest.raises(DataError, match="case-insensitive"):
        read_nonmem(df, ["depot", "central"])
    with pytest.raises(DataError, match="covariate column 'WT'"):
        read_nonmem(base(), ["depot", "central"], covariates=["WT"])
    with pytest.raises(DataError, match="compartment number 3"):
        read_nonmem(base(), ["depot", "central"], lag={3: 1.0})
    with pytest.raises(DataError, match="give a number or a sympy expression"):
        read_nonmem(base(), ["depot", "central"], lag={1: "ALAG1"})


def test_file_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("ID,TIME,AMT,EVID\n1,0,100,1\n1,-1,.,0\n")
    with pytest.raises(DataError) as err:
        read_nonmem(path, ["central"])
    assert str(err.value).startswith(f"{path}: data row 2 (ID 1), column 'TIME'")
    with pytest.raises(DataError, match="no such file"):
        read_nonmem(tmp_path / "absent.csv")


def test_reference_missing_skips_or_fails_under_ci(monkeypatch, tmp_path):
    absent = tmp_path / "absent.csv"
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        _reference(absent)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        _reference(absent)
