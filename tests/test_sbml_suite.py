"""The SBML semantic test suite: every copied case must pass with its own tolerances.

Each case is read by :func:`qsp.io.read_sbml`, simulated by qsp and compared point by
point with the suite's expected results (``|C - U| <= absolute + relative * |C|``, the
case's own settings); see :mod:`qsp.io.sbml_suite`. The expected values come from the
suite (analytic solutions, or agreement of at least two independent simulators), so
nothing here is computed by the code under test.

Each case is a new model structure and so one JAX compilation (about 2-3 s of CPU on
this machine with the runner's explicit integrator): slow.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("libsbml")

from qsp.io.sbml_suite import run_case  # noqa: E402

CASES_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "sbml-test-suite" / "cases" / "semantic"
CASES = sorted(p.name for p in CASES_DIR.iterdir()) if CASES_DIR.is_dir() else []

#: Cases with SBML events, which qsp reads (qsp.Event) but cannot simulate yet: compile
#: raises CompileError until event simulation lands. Empty this set then (strict xfail
#: makes every case here that starts to pass a failure, so the set cannot go stale).
EVENT_SIMULATION_PENDING = {
    "00026", "00172", "00354", "00369", "00374", "00384", "00387", "00389", "00619", "00634", "00646", "00652",
    "00654", "00680", "00689", "00699", "00707", "00723", "00749", "00751", "00754", "00755", "00791", "00883",
    "00944", "00979", "01227", "01303",
}


def test_the_copied_cases_are_there(reference_dir):
    # 113 cases were copied (reference README); fewer means the parametrisation below lost some
    assert len(CASES) == 113, f"found {len(CASES)} cases in {CASES_DIR}"


@pytest.mark.slow
@pytest.mark.parametrize("case", [
    pytest.param(c, marks=pytest.mark.xfail(reason="event simulation pending", strict=True))
    if c in EVENT_SIMULATION_PENDING else c for c in CASES
])
def test_sbml_case(case):
    result = run_case(CASES_DIR / case)
    assert result.passed, str(result)
