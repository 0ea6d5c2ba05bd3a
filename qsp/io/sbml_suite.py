"""Run cases of the SBML semantic test suite through qsp and report pass or fail per case.

A case folder ``NNNNN/`` holds ``NNNNN-sbml-l3v2.xml`` (or another level), the settings
``NNNNN-settings.txt`` and the expected trajectories ``NNNNN-results.csv``. The case is
simulated from ``start`` for ``duration`` with ``steps`` equal steps (``steps + 1`` output
rows); each listed variable is output (species listed under ``amount:`` as amounts,
those under ``concentration:`` as concentrations, whatever the species' own setting),
and a point passes when

.. math:: |C - U| \\le \\text{absolute} + \\text{relative} \\cdot |C|

with C the expected value and U ours, using the case's own ``absolute`` and
``relative``. ``NaN`` and ``INF`` in the expected values (any case) must be matched
exactly.

Command line::

    python -m qsp.io.sbml_suite 00001 00026            # case numbers under the default root
    python -m qsp.io.sbml_suite path/to/00001 --rtol 1e-10
    python -m qsp.io.sbml_suite all --root ../shared/reference/sbml-test-suite/cases/semantic

It prints one line per case (``pass``, ``FAIL`` or ``REFUSED`` with the reason) and a
summary. Each case is a new model structure and so one JAX compilation.
"""

from __future__ import annotations

import argparse
import os
import sys
import time as clock
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import QSPError
from .mathml import SBMLError, UnsupportedSBMLError

#: where the cases are by default: ../shared/reference next to the repository
DEFAULT_ROOT = Path(__file__).resolve().parents[3] / "shared" / "reference" / "sbml-test-suite" / "cases" / "semantic"

#: solver tolerances of the runner: 1e-4 of the suite's own relative tolerance (1e-4 in
#: every case) keeps the integration error far below the acceptance band.
RTOL = 1e-8
ATOL = 1e-12

#: the runner's integrator. Each case is a new structure, so compilation dominates: qsp's
#: explicit Tsit5 with forward-mode loops compiles in about 1.9 s of CPU per case here
#: against 3.2 s for the stiff default (Rodas5P, reverse mode). A case where it fails is
#: rerun with the default.
SOLVER = "tsit5"


@dataclass(frozen=True)
class CaseSettings:
    """The settings file of one case."""

    start: float
    duration: float
    steps: int
    variables: tuple[str, ...]
    absolute: float
    relative: float
    amount: frozenset
    concentration: frozenset

    @property
    def times(self) -> np.ndarray:
        return np.linspace(self.start, self.start + self.duration, self.steps + 1)


@dataclass
class CaseResult:
    """Outcome of one case: ``status`` is ``"pass"``, ``"fail"`` or ``"refused"`` (qsp refused the
    model with a typed error naming the construct)."""

    case: str
    status: str
    reason: str = ""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def __str__(self) -> str:
        label = {"pass": "pass", "fail": "FAIL", "refused": "REFUSED"}[self.status]
        return f"{self.case}  {label:7s} {self.seconds:6.1f} s  {self.reason}".rstrip()


def read_settings(path) -> CaseSettings:
    """Parse a ``NNNNN-settings.txt`` file.

    Example:
        >>> import tempfile, os
        >>> text = "start: 0\\nduration: 5\\nsteps: 50\\nvariables: S1, S2\\nabsolute: 1e-7\\nrelative: 1e-4\\n"
        >>> text += "amount: S1, S2\\nconcentration:\\n"
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = os.path.join(d, "s.txt"); _ = open(p, "w").write(text)
        ...     s = read_settings(p)
        >>> s.steps, s.variables, sorted(s.amount)
        (50, ('S1', 'S2'), ['S1', 'S2'])
    """
    fields = {}
    for line in Path(path).read_text().splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()

    def names(key):
        return tuple(x.strip() for x in fields.get(key, "").split(",") if x.strip())

    try:
        return CaseSettings(float(fields["start"]), float(fields["duration"]), int(fields["steps"]),
                            names("variables"), float(fields["absolute"]), float(fields["relative"]),
                            frozenset(names("amount")), frozenset(names("concentration")))
    except KeyError as exc:
        raise SBMLError(f"settings file {path} lacks {exc.args[0]!r}.") from None


def read_results(path) -> tuple[list[str], np.ndarray]:
    """The expected results: column names (after ``time``) and values (rows × columns).

    ``NaN``, ``INF`` and ``-INF`` are read in any letter case.
    """
    lines = [x for x in Path(path).read_text().splitlines() if x.strip()]
    header = [h.strip() for h in lines[0].split(",")]
    rows = [[float(v.strip()) for v in line.split(",")] for line in lines[1:]]  # float() reads nan/inf/INF
    return header[1:], np.array(rows, dtype=float)[:, 1:]


def model_file(folder: Path) -> Path:
    """The case's SBML file: Level 3 Version 2 when present, else the highest level there."""
    case = folder.name
    preferred = folder / f"{case}-sbml-l3v2.xml"
    if preferred.is_file():
        return preferred
    candidates = sorted(folder.glob(f"{case}-sbml-l*.xml"))
    if not candidates:
        raise SBMLError(f"case folder {folder} has no {case}-sbml-l*.xml file.")
    return candidates[-1]


def outputs(translation, settings: CaseSettings) -> dict:
    """SBML id -> expression of what the suite expects for it."""
    out = {}
    for v in settings.variables:
        if v in translation.species:
            if v in settings.amount:
                out[v] = translation.amount(v)
            elif v in settings.concentration:
                out[v] = translation.concentration(v)
            else:  # not listed: the species' own meaning
                out[v] = translation.species[v][0] if translation.species[v][2] else translation.concentration(v)
        elif v in translation.values:
            out[v] = translation.values[v]
        else:
            raise SBMLError(f"the settings ask for {v!r}, which is not an identifier of the model.")
    return out


def simulate_case(folder, rtol: float = RTOL, atol: float = ATOL, solver: str = SOLVER) -> tuple[CaseSettings, dict]:
    """Simulate a case at its output times; returns its settings and SBML id -> values.

    The model is integrated with ``solver`` (forward-mode loops: no gradient is needed),
    falling back to qsp's stiff default when that fails; the suite's quantities are then
    evaluated on the states by qsp's own expression walk (no per-output tracing).
    """
    import qsp

    from ..simulate import DEFAULT_SOLVER
    from .sbml import translate_sbml

    folder = Path(folder)
    settings = read_settings(folder / f"{folder.name}-settings.txt")
    translation = translate_sbml(model_file(folder))
    wanted = outputs(translation, settings)
    compiled = qsp.compile(translation.model)
    ts = settings.times
    try:
        sol = qsp.simulate(compiled, ts, rtol=rtol, atol=atol, solver=solver, adjoint="forward")
    except qsp.SolverError:
        if solver == DEFAULT_SOLVER:
            raise
        sol = qsp.simulate(compiled, ts, rtol=rtol, atol=atol)
    return settings, _evaluate(compiled, ts, sol, sol.args, wanted)


def _evaluate(compiled, ts, sol, args, wanted: dict) -> dict:
    """Each wanted expression at each output time, from the simulated states."""
    from ..compile.treewalk import evaluate
    from ..model import Species, time
    from ..model.rules import inline_assignments

    model = compiled.model
    env = {time: ts}
    env.update({model.symbol(n): v for n, v in zip(compiled.parameter_names, np.asarray(args.p))})
    env.update(dict(zip(model.compartments, np.asarray(args.volumes))))
    for name in compiled.state_names:
        symbol = model.symbol(name)
        concentration = isinstance(symbol, Species) and not symbol.amount_based
        env[symbol] = np.asarray(sol.concentration(name) if concentration else sol.amount(name))
    rules = list(model.assignment_rules)
    return {v: np.broadcast_to(np.asarray(evaluate(inline_assignments(expr, rules), env), dtype=float), ts.shape)
            for v, expr in wanted.items()}


def compare(settings: CaseSettings, expected_names, expected, values) -> str:
    """Empty string if every point passes, else the reason (the worst point)."""
    worst = None
    for j, name in enumerate(expected_names):
        if name not in values:
            return f"no value for {name!r}"
        c, u = expected[:, j], values[name]
        both_nan = np.isnan(c) & np.isnan(u)
        same_inf = np.isinf(c) & (c == u)
        bound = settings.absolute + settings.relative * np.abs(c)
        with np.errstate(invalid="ignore"):
            excess = np.where(both_nan | same_inf, 0.0, np.abs(c - u) - bound)
        excess = np.where(np.isnan(excess), np.inf, excess)
        i = int(np.argmax(excess))
        if excess[i] > 0 and (worst is None or excess[i] > worst[0]):
            worst = (excess[i], name, i, c[i], u[i], bound[i])
    if worst is None:
        return ""
    _, name, i, c, u, bound = worst
    return (f"{name} at t={settings.times[i]:g}: expected {c:.10g}, got {u:.10g} "
            f"(|diff| {abs(c - u):.3g} > allowed {bound:.3g})")


def run_case(folder, rtol: float = RTOL, atol: float = ATOL, solver: str = SOLVER) -> CaseResult:
    """Run one case folder and say whether it passes, and why not.

    A model that qsp refuses (an unsupported construct) is ``"refused"``; any other error
    or a mismatch is ``"fail"`` with the error or the worst point.
    """
    folder = Path(folder)
    start = clock.perf_counter()
    try:
        settings, values = simulate_case(folder, rtol, atol, solver)
        names, expected = read_results(folder / f"{folder.name}-results.csv")
        if expected.shape[0] != settings.steps + 1:
            raise SBMLError(f"results have {expected.shape[0]} rows, settings say {settings.steps + 1}.")
        reason = compare(settings, names, expected, values)
        status = "fail" if reason else "pass"
    except UnsupportedSBMLError as exc:
        status, reason = "refused", f"{type(exc).__name__}: {exc}"
    except (QSPError, ValueError, FileNotFoundError) as exc:
        status, reason = "fail", f"{type(exc).__name__}: {exc}"
    return CaseResult(folder.name, status, reason, clock.perf_counter() - start)


def _folders(cases, root: Path) -> list[Path]:
    out = []
    for c in cases:
        if c == "all":
            out.extend(sorted(p for p in root.iterdir() if p.is_dir()))
            continue
        path = Path(c)
        if not path.is_dir():
            path = root / (c.zfill(5) if c.isdigit() else c)
        if not path.is_dir():
            raise SystemExit(f"no case folder {c!r} (looked in {root}); pass folder paths or case numbers.")
        out.append(path)
    return out


def main(argv=None) -> int:
    """Command-line entry point; returns 0 if every case passed."""
    parser = argparse.ArgumentParser(prog="python -m qsp.io.sbml_suite", description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="+", help="case folders, case numbers (e.g. 00001), or 'all'")
    parser.add_argument("--root", default=os.environ.get("QSP_SBML_SUITE", str(DEFAULT_ROOT)),
                        help="folder of the case folders (default: %(default)s)")
    parser.add_argument("--rtol", type=float, default=RTOL, help="solver relative tolerance")
    parser.add_argument("--atol", type=float, default=ATOL, help="solver absolute tolerance")
    parser.add_argument("--solver", default=SOLVER, help="qsp solver name (default: %(default)s, falling back to "
                        "the stiff default where it fails)")
    args = parser.parse_args(argv)
    results = []
    for folder in _folders(args.cases, Path(args.root)):
        result = run_case(folder, args.rtol, args.atol, args.solver)
        results.append(result)
        print(result, flush=True)
    counts = {s: sum(r.status == s for r in results) for s in ("pass", "fail", "refused")}
    total = sum(r.seconds for r in results)
    print(f"SBML suite: {counts['pass']} pass, {counts['fail']} fail, {counts['refused']} refused "
          f"of {len(results)} cases in {total:.0f} s")
    return 0 if counts["pass"] == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
