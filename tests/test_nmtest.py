"""NONMEM 7.4.3 dosing oracle: nlmixr2data/nmtest.csv (54 subjects; bolus, infusion, ADDL/II,
SS=1/2, lag, F, modelled rate and duration). Model and conventions: shared/reference/README.md.

Tolerance: 1e-4 relative (the issue's bar). NONMEM's `cp` is printed with 5 significant
digits, so rounding alone is up to 5e-5 relative; qsp integrates at rtol 1e-8.

Deliberate differences from NONMEM, each with its reason:

* Steady-state doses whose lag is longer than the dosing interval (ids 409, 410, 411, 415,
  509, 510, 610, 709, 809, 825, 909, 1009): NONMEM 7.4.3 prints *negative* concentrations
  early on (e.g. id 409 at t=0: -18569), which no dosing history can produce. qsp computes
  the true periodic steady state (pending lagged doses of earlier intervals included), and
  matches NONMEM once those artefacts have passed: we compare after the times rxode2's own
  test uses (24, 48 or 96 h; 24 h for 509, which rxode2 does not list).
* Id 26, a steady-state *constant* infusion (AMT=0, RATE=100, SS=1, II=0): qsp keeps the
  infusion running (as mrgsolve does: a constant infusion at steady state stays on); NONMEM's
  output stops it at the record time.

A reset or SS=1 record cancels what is still pending from earlier records (lagged doses,
infusions not yet started) but not what already happened, as NONMEM does (id 725 checks it:
an SS=2 record's wrapped infusion runs on until the next SS=1 record).
"""

from __future__ import annotations

import numpy as np
import pytest

import qsp
from nmtest_harness import nmtest_model, read_nmtest, simulate_all

TOLERANCE = 1e-4
SKIP_BEFORE = {409: 24, 410: 24, 411: 24, 415: 24, 509: 24, 510: 24, 610: 24, 709: 24,
               809: 48, 909: 48, 1009: 48, 825: 96}
KNOWN_DIFFERENT = {26}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def nmtest(reference_dir):
    model, data = nmtest_model()
    compiled = qsp.compile(model)
    dataset = read_nmtest(reference_dir / "nlmixr2data" / "nmtest.csv", data)
    return dataset, simulate_all(compiled, dataset)


def _errors(subject, predicted):
    reference = np.asarray(subject.covariates["cp"], float)
    keep = (np.asarray(subject.evid) == 0) & (np.asarray(subject.times) >= SKIP_BEFORE.get(subject.id, 0))
    return np.abs(predicted[keep] - reference[keep]) / np.maximum(np.abs(reference[keep]), 1e-3)


def test_every_subject_matches_nonmem(nmtest):
    dataset, results = nmtest
    assert len(dataset) == 54
    failures = {}
    for subject in dataset:
        if subject.id in KNOWN_DIFFERENT:
            continue
        err = _errors(subject, results[subject.id])
        assert err.size > 0
        if err.max() > TOLERANCE:
            failures[subject.id] = float(err.max())
    assert not failures, f"subjects differing from NONMEM by more than {TOLERANCE}: {failures}"


@pytest.mark.parametrize("subject_id", sorted(KNOWN_DIFFERENT))
def test_documented_differences_are_still_different(nmtest, subject_id):
    """The documented deviations are real (if one starts matching, update the docs)."""
    dataset, results = nmtest
    assert _errors(dataset[subject_id], results[subject_id]).max() > TOLERANCE
