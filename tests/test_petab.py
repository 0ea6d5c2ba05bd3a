"""PEtab import: tables, formulas, noise models, preequilibration, and the log-likelihood.

Fast part: a hand-made PEtab problem written to a temporary folder, whose log-likelihood
has a closed form. Its SBML model is

    d[A]/dt = ksyn - kdeg [A]      [A](0) = A0   (A in compartment c of size 2)
    dB/dt   = -kb B                B(0) = 1.5    (B amount-based: hasOnlySubstanceUnits)

so [A](t) = ksyn/kdeg + ([A]0 - ksyn/kdeg) exp(-kdeg t) and B(t) = B(0) exp(-kb t). Its
observables use every noise distribution with every transformation, placeholders
overridden by numbers and by parameter ids, a table-only parameter and ``time`` in a
formula, the compartment's size; its experiments include a preequilibration (whose steady
state is ksyn_pre/kdeg), species overrides (a concentration and an amount) and a
steady-state (``inf``) measurement. The oracle evaluates the closed forms and
``scipy.stats`` densities, independently of qsp.

Slow part: the 13 problems of the PEtab benchmark collection that have an AMICI reference
log-likelihood, at their nominal parameters (rtol 1e-3, atol 1e-3 as AMICI's own check),
and finite-difference checks of the gradient on two small ones.
"""

from __future__ import annotations

import math
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp
from scipy import stats

from qsp.io.petab import PetabError, PetabFormulaError, read_petab
from qsp.io.petab_math import parse_formula

pytest.importorskip("libsbml")
pytest.importorskip("yaml")


def _ci(x):
    return f"<ci>{x}</ci>"


def _apply(op, *args):
    return f"<apply><{op}/>{''.join(args)}</apply>"


def _math(body):
    return f'<math xmlns="http://www.w3.org/1998/Math/MathML">{body}</math>'


SBML = f"""<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2"><model id="turnover">
<listOfCompartments><compartment id="c" spatialDimensions="3" size="2" constant="true"/></listOfCompartments>
<listOfSpecies>
  <species id="A" compartment="c" initialConcentration="1" hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>
  <species id="B" compartment="c" initialAmount="1.5" hasOnlySubstanceUnits="true" boundaryCondition="false" constant="false"/>
</listOfSpecies>
<listOfParameters>
  <parameter id="ksyn" value="1" constant="true"/><parameter id="kdeg" value="0.1" constant="true"/>
  <parameter id="A0" value="1" constant="true"/><parameter id="kb" value="0.3" constant="true"/>
</listOfParameters>
<listOfInitialAssignments><initialAssignment symbol="A">{_math(_ci("A0"))}</initialAssignment></listOfInitialAssignments>
<listOfReactions>
  <reaction id="synthesis" reversible="false"><listOfProducts><speciesReference species="A" stoichiometry="1" constant="true"/></listOfProducts>
    <kineticLaw>{_math(_apply("times", _ci("ksyn"), _ci("c")))}</kineticLaw></reaction>
  <reaction id="degradation" reversible="false"><listOfReactants><speciesReference species="A" stoichiometry="1" constant="true"/></listOfReactants>
    <kineticLaw>{_math(_apply("times", _ci("kdeg"), _ci("A"), _ci("c")))}</kineticLaw></reaction>
  <reaction id="loss" reversible="false"><listOfReactants><speciesReference species="B" stoichiometry="1" constant="true"/></listOfReactants>
    <kineticLaw>{_math(_apply("times", _ci("kb"), _ci("B")))}</kineticLaw></reaction>
</listOfReactions></model></sbml>
"""

# the parameter table; theta = (log10 ksyn, ln kdeg, scale_obs, log10 sd1)
PARAMETERS = """parameterId\tparameterScale\tlowerBound\tupperBound\tnominalValue\testimate
ksyn\tlog10\t0.01\t100\t2.0\t1
kdeg\tlog\t0.01\t10\t0.5\t1
A0\tlin\t0\t10\t4.0\t0
scale_obs\tlin\t0.1\t10\t1.5\t1
sd1\tlog10\t0.01\t10\t0.3\t1
offset\tlin\t-1\t1\t0.1\t0
ksyn_pre\tlin\t0.1\t10\t1.0\t0
"""

CONDITIONS = """conditionId\tconditionName\tksyn\tA\tB
c_main\tmain\tNaN\tNaN\tNaN
c_pre\tbefore\tksyn_pre\tNaN\t
c_dose\toverrides\tNaN\t5\t3
"""

OBSERVABLES = """observableId\tobservableFormula\tnoiseFormula\tobservableTransformation\tnoiseDistribution
o_lin_normal\tobservableParameter1_o_lin_normal * A + offset\tnoiseParameter1_o_lin_normal\tlin\tnormal
o_log_normal\tA * c\t0.2\tlog\tnormal
o_log10_normal\tA\tnoiseParameter1_o_log10_normal + noiseParameter2_o_log10_normal * A\tlog10\tnormal
o_lin_laplace\tA\t0.3\tlin\tlaplace
o_log_laplace\tA^2\t0.25\tlog\tlaplace
o_log10_laplace\texp(log(A))\t0.1\tlog10\tlaplace
o_time\tA + time / 100\t1\t\t
o_B\tB\t0.1\tlin\tnormal
"""

MEASUREMENTS = """observableId\tpreequilibrationConditionId\tsimulationConditionId\tmeasurement\ttime\tobservableParameters\tnoiseParameters
o_lin_normal\t\tc_main\t6.3\t0\tscale_obs\tsd1
o_lin_normal\t\tc_main\t7.9\t1\t2.0\t0.4
o_lin_normal\t\tc_main\t6.0\t2\tscale_obs\tsd1
o_log_normal\t\tc_main\t7.5\t0.5\t\t
o_log_normal\t\tc_main\t8.4\t2\t\t
o_log10_normal\t\tc_main\t3.8\t1\t\t0.05;sd1
o_log10_normal\t\tc_main\t4.3\t4\t\t0.05;sd1
o_lin_laplace\t\tc_main\t4.2\t1\t\t
o_lin_laplace\t\tc_main\t3.7\t3\t\t
o_log_laplace\t\tc_main\t15.0\t2\t\t
o_log10_laplace\t\tc_main\t4.1\t0.5\t\t
o_log10_laplace\t\tc_main\t3.9\t4\t\t
o_time\t\tc_main\t4.5\t1\t\t
o_B\t\tc_main\t1.45\t0\t\t
o_B\t\tc_main\t0.85\t2\t\t
o_lin_normal\tc_pre\tc_main\t3.2\t0\tscale_obs\tsd1
o_lin_normal\tc_pre\tc_main\t5.1\t2\tscale_obs\tsd1
o_log10_normal\tc_pre\tc_main\t2.9\t1\t\t0.05;0.1
o_B\tc_pre\tc_main\t0.05\t1\t\t
o_lin_laplace\t\tc_dose\t5.2\t0\t\t
o_lin_laplace\t\tc_dose\t4.5\t1\t\t
o_B\t\tc_dose\t2.3\t1\t\t
o_lin_normal\t\tc_dose\t6.2\tinf\tscale_obs\tsd1
"""

YAML = """format_version: 1
parameter_file: parameters.tsv
problems:
- condition_files: [conditions.tsv]
  measurement_files: [measurements.tsv]
  observable_files: [observables.tsv]
  sbml_files: [model.xml]
"""

NOMINAL = dict(ksyn=2.0, kdeg=0.5, A0=4.0, scale_obs=1.5, sd1=0.3, offset=0.1, ksyn_pre=1.0, kb=0.3, c=2.0)


def write_problem(folder: Path, **replace) -> Path:
    """The hand-made problem in ``folder``; ``replace`` maps a file name to new text."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"model.xml": SBML, "parameters.tsv": PARAMETERS, "conditions.tsv": CONDITIONS,
             "observables.tsv": OBSERVABLES, "measurements.tsv": MEASUREMENTS, "problem.yaml": YAML}
    files.update(replace)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder / "problem.yaml"


def closed_form_llh(v: dict) -> float:
    """The oracle: closed-form states, PEtab's densities via scipy.stats, summed over rows."""
    s, k, kb = v["ksyn"], v["kdeg"], v["kb"]

    def a(t, a0):
        return s / k + (a0 - s / k) * math.exp(-k * t) if math.isfinite(t) else s / k

    starts = {("", "c_main"): (v["A0"], 1.5), ("c_pre", "c_main"): (v["ksyn_pre"] / k, 0.0),
              ("", "c_dose"): (5.0, 3.0)}
    number = lambda x: v[x] if x in v else float(x)  # noqa: E731
    total = 0.0
    for line in MEASUREMENTS.strip().splitlines()[1:]:
        oid, pre, cond, m, t, obs_p, noise_p = (line.split("\t") + [""] * 7)[:7]
        m, t = float(m), float(t)
        a0, b0 = starts[(pre, cond)]
        A, B = a(t, a0), b0 * math.exp(-kb * t)
        noise = [number(x) for x in noise_p.split(";")] if noise_p else []
        h, sigma, kind = {
            "o_lin_normal": lambda: (number(obs_p) * A + v["offset"], noise[0] if noise else None, "lin normal"),
            "o_log_normal": lambda: (A * v["c"], 0.2, "log normal"),
            "o_log10_normal": lambda: (A, noise[0] + noise[1] * A if noise else None, "log10 normal"),
            "o_lin_laplace": lambda: (A, 0.3, "lin laplace"),
            "o_log_laplace": lambda: (A**2, 0.25, "log laplace"),
            "o_log10_laplace": lambda: (A, 0.1, "log10 laplace"),
            "o_time": lambda: (A + t / 100, 1.0, "lin normal"),
            "o_B": lambda: (B, 0.1, "lin normal"),
        }[oid]()
        transform, distribution = kind.split()
        g = {"lin": lambda x: x, "log": math.log, "log10": math.log10}[transform]
        density = stats.norm if distribution == "normal" else stats.laplace
        # the density of g(m), times |g'(m)| (PEtab v1's log-normal and log10-normal)
        jacobian = {"lin": 0.0, "log": -math.log(m), "log10": -math.log(m * math.log(10))}[transform]
        total += density.logpdf(g(m), loc=g(h), scale=sigma) + jacobian
    return total


def theta_of(v: dict) -> np.ndarray:
    return np.array([math.log10(v["ksyn"]), math.log(v["kdeg"]), v["scale_obs"], math.log10(v["sd1"])])


@pytest.fixture(scope="module")
def problem(tmp_path_factory):
    return read_petab(write_problem(tmp_path_factory.mktemp("petab")))


# ---------------------------------------------------------------------------- the problem
def test_problem_layout(problem):
    assert problem.estimated_ids == ("ksyn", "kdeg", "scale_obs", "sd1")
    assert problem.scales == ("log10", "log", "lin", "log10")
    np.testing.assert_allclose(problem.nominal_theta(), theta_of(NOMINAL), rtol=1e-15)
    np.testing.assert_allclose(problem.lower_bounds, [-2.0, math.log(0.01), 0.1, -2.0], rtol=1e-15)
    np.testing.assert_allclose(problem.upper_bounds, [2.0, math.log(10), 10.0, 1.0], rtol=1e-15)
    assert len(problem.layout.experiments) == 3


def test_log_likelihood_matches_closed_form(problem):
    # observed differences: 4e-10 at nominal, 6e-9 moved (integration at rtol/atol 1e-8);
    # 1e-6 absolute is far below any convention error (a Jacobian term alone is ~1).
    expected = closed_form_llh(NOMINAL)
    assert float(problem.log_likelihood(problem.nominal_theta())) == pytest.approx(expected, abs=1e-6)
    # away from nominal: checks the scale transforms (log10, ln, lin) of theta
    moved = {**NOMINAL, "ksyn": 2.6, "kdeg": 0.35, "scale_obs": 1.2, "sd1": 0.45}
    assert float(problem.log_likelihood(theta_of(moved))) == pytest.approx(closed_form_llh(moved), abs=1e-6)
    assert float(problem.neg_log_likelihood(theta_of(moved))) == pytest.approx(-closed_form_llh(moved), abs=1e-6)


def test_per_measurement_simulation(problem):
    table = problem.simulate()
    assert table["steady_state_reached"].all()
    pre = table[(table.preequilibrationConditionId == "c_pre") & (table.observableId == "o_lin_normal")]
    # preequilibrated at ksyn_pre/kdeg = 2, then relaxing to ksyn/kdeg = 4: h = 1.5 [A] + 0.1
    a = 4.0 + (2.0 - 4.0) * np.exp(-0.5 * pre.time.to_numpy())
    np.testing.assert_allclose(pre.simulation, 1.5 * a + 0.1, rtol=1e-7)
    steady = table[np.isinf(table.time)]
    np.testing.assert_allclose(steady.simulation, 1.5 * 4.0 + 0.1, rtol=1e-7)  # inf: at ksyn/kdeg
    dose = table[(table.simulationConditionId == "c_dose") & (table.observableId == "o_B")]
    np.testing.assert_allclose(dose.simulation, 3.0 * np.exp(-0.3), rtol=1e-7)  # amount override B = 3
    assert float(table.llh.sum()) == pytest.approx(closed_form_llh(NOMINAL), abs=1e-6)


def test_gradient_matches_finite_differences(problem):
    # through the preequilibration, the start-state boluses and every noise model
    theta = problem.nominal_theta() + jnp.array([0.05, -0.1, 0.2, 0.03])
    value, grad = problem.value_and_grad(theta)
    fd = central_differences(problem.neg_log_likelihood, theta, step=1e-5)
    # observed: relative differences 1e-11 to 1e-9 (steps 1e-4 to 1e-6 agree to 1e-8); the
    # truncation error of central differences is ~step^2 = 1e-10 relative. 1e-6 leaves room.
    np.testing.assert_allclose(np.asarray(grad), fd, rtol=1e-6)
    assert float(value) == pytest.approx(float(problem.neg_log_likelihood(theta)), rel=1e-12)


def central_differences(f, theta, step):
    out = []
    for i in range(theta.shape[0]):
        e = jnp.zeros_like(theta).at[i].set(step)
        out.append((float(f(theta + e)) - float(f(theta - e))) / (2 * step))
    return np.array(out)


# ---------------------------------------------------------------------------- formula parser
X, K = sp.Symbol("x"), sp.Symbol("k")
NAMES = {"x": X, "k": K}.get


@pytest.mark.parametrize("text, expected", [
    ("-x^2", -X**2),
    ("2^3^2", sp.Integer(2) ** 9),
    ("x**2 / k", X**2 / K),
    ("2 * -x", -2 * X),
    ("log(x)", sp.log(X)),                      # natural log (PEtab), not log10 as libsbml's parser
    ("log(x, 2)", sp.log(X, 2)),
    ("log10(x) + ln(k)", sp.log(X, 10) + sp.log(K)),
    ("1e-3 * x + .5", sp.Float(1e-3) * X + sp.Float(0.5)),
    ("piecewise(1, x > 2, x^2)", sp.Piecewise((1, X > 2), (X**2, True))),
    # a condition used as the value of a formula is 1 where true, 0 where false
    ("(x < 1) && (k >= 2) || !(x == k)",
     sp.Piecewise((1, sp.Or(sp.And(X < 1, K >= 2), sp.Not(sp.Eq(X, K)))), (0, True))),
    ("max(x, k, 2) - abs(-x)", sp.Max(X, K, 2) - sp.Abs(X)),
    ("pi * x", sp.pi * X),
])
def test_formula_parser(text, expected):
    result = parse_formula(text, NAMES)
    assert result == expected or sp.simplify(result - expected) == 0


@pytest.mark.parametrize("text, message", [
    ("x + y", "'y' is not a model symbol"),
    ("eval(x)", "function 'eval' is not allowed"),
    ("__import__(x)", "function '__import__' is not allowed"),
    ("x.real", "unexpected character '.'"),
    ("x[0]", "unexpected character '['"),
    ("(x + 1", "expected ')'"),
    ("x +", "expected a number, a name or '('"),
    ("x k", "unexpected 'k'"),
    ("", "the formula is empty"),
    ("exp(x, k)", "exp() takes 1 argument(s), got 2"),
    ("'x'", "unexpected character"),
])
def test_formula_parser_refusals(text, message):
    with pytest.raises(PetabFormulaError, match=None) as err:
        parse_formula(text, NAMES, file="observables.tsv", row=3, column="observableFormula")
    assert message in str(err.value)
    assert (err.value.file, err.value.row, err.value.column) == ("observables.tsv", 3, "observableFormula")
    assert str(err.value).startswith("observables.tsv, line 3, column 'observableFormula'")


# ---------------------------------------------------------------------------- refusals
def _replace_line(text, old, new):
    assert old in text
    return text.replace(old, new)


@pytest.mark.parametrize("file, old, new, error, where, message", [
    ("observables.tsv", "A * c\t0.2", "A * c * y\t0.2", PetabFormulaError,
     ("observables.tsv", 3, "observableFormula"), "'y' is not a model symbol"),
    ("observables.tsv", "exp(log(A))", "system(A)", PetabFormulaError,
     ("observables.tsv", 7, "observableFormula"), "function 'system' is not allowed"),
    ("parameters.tsv", "kdeg\tlog\t", "kdeg\tlog2\t", PetabError,
     ("parameters.tsv", 3, "parameterScale"), "parameterScale 'log2'"),
    ("measurements.tsv", "6.3\t0\tscale_obs\tsd1", "6.3\t0\tscale_obs;2\tsd1", PetabError,
     ("measurements.tsv", 2, "observableParameters"), "gives 2 value(s)"),
    ("measurements.tsv", "6.3\t0\tscale_obs\tsd1", "6.3\t0\tnot_a_parameter\tsd1", PetabError,
     ("measurements.tsv", 2, "observableParameters"), "'not_a_parameter', which is not in the parameter table"),
    ("measurements.tsv", "o_B\t\tc_dose", "o_B\t\tc_missing", PetabError,
     ("measurements.tsv", 23, "simulationConditionId"), "condition 'c_missing' is not in the condition table"),
    ("measurements.tsv", "o_time\t\tc_main\t4.5\t1", "o_time\t\tc_main\t4.5\t-1", PetabError,
     ("measurements.tsv", 14, "time"), "must be a non-negative number"),
    ("conditions.tsv", "conditionName\tksyn\tA\tB", "conditionName\tksyn\tA\tZ", PetabError,
     ("conditions.tsv", 2, "Z"), "'Z' is not a parameter, species or compartment"),
    ("conditions.tsv", "conditionName\tksyn\tA\tB", "conditionName\tksyn\tA\tc", PetabError,
     ("conditions.tsv", 4, "c"), "compartment 'c'"),  # NaN rows keep the size; c_dose's 3 is refused
    ("conditions.tsv", "before\tksyn_pre", "before\tnowhere", PetabError,
     ("conditions.tsv", 3, "ksyn"), "'nowhere', which is not in the parameter table"),
])
def test_table_refusals(tmp_path, file, old, new, error, where, message):
    texts = {"parameters.tsv": PARAMETERS, "conditions.tsv": CONDITIONS, "observables.tsv": OBSERVABLES,
             "measurements.tsv": MEASUREMENTS}
    path = write_problem(tmp_path, **{file: _replace_line(texts[file], old, new)})
    with pytest.raises(error) as err:
        read_petab(path)
    assert (err.value.file, err.value.row, err.value.column) == where
    assert message in str(err.value)


def test_model_refusals(tmp_path):
    # a state set by a rate rule cannot be started from a preequilibrated state (no way to
    # hand it to qsp.simulate yet): refused, not silently reset to its initial value
    with_rate_rule = SBML.replace('<parameter id="kb" value="0.3" constant="true"/>',
                                  '<parameter id="kb" value="0.3" constant="true"/>'
                                  '<parameter id="p" value="0" constant="false"/>').replace(
        "</listOfInitialAssignments>",
        f'</listOfInitialAssignments><listOfRules><rateRule variable="p">{_math("<cn> 1 </cn>")}</rateRule>'
        "</listOfRules>")
    with pytest.raises(PetabError, match="states set by rate rules"):
        read_petab(write_problem(tmp_path / "rate", **{"model.xml": with_rate_rule}))
    constant = SBML.replace("</listOfSpecies>", '<species id="E" compartment="c" initialConcentration="1" '
                            'hasOnlySubstanceUnits="false" boundaryCondition="false" constant="true"/></listOfSpecies>')
    with pytest.raises(PetabError, match="constant species 'E'") as err:
        read_petab(write_problem(tmp_path / "constant", **{"model.xml": constant, "conditions.tsv": CONDITIONS.replace(
            "\tB\n", "\tE\n")}))
    assert (err.value.file, err.value.row, err.value.column) == ("conditions.tsv", 4, "E")


def test_yaml_refusals(tmp_path):
    with pytest.raises(PetabError, match="format_version '2'"):
        read_petab(write_problem(tmp_path, **{"problem.yaml": YAML.replace("format_version: 1", "format_version: 2")}))
    with pytest.raises(PetabError, match="does not exist"):
        read_petab(tmp_path / "absent.yaml")
    missing = write_problem(tmp_path / "b", **{"problem.yaml": YAML.replace("model.xml", "other.xml")})
    with pytest.raises(PetabError, match="SBML file 'other.xml' does not exist"):
        read_petab(missing)


# ---------------------------------------------------------------------------- benchmark collection
#: the problems of ../shared/reference/petab-benchmark with an AMICI reference llh (README, section 2)
BENCHMARK = ["Bachmann_MSB2011", "Boehm_JProteomeRes2014", "Borghans_BiophysChem1997", "Brannmark_JBC2010",
             "Bruno_JExpBot2016", "Crauste_CellSystems2017", "Elowitz_Nature2000", "Fiedler_BMCSystBiol2016",
             "Fujita_SciSignal2010", "Schwen_PONE2014", "Sneyd_PNAS2002", "Weber_BMC2015", "Zheng_PNAS2012"]

#: problems that cannot pass, with the reason (strict xfail); none at present
EXPECTED_FAILURES: dict[str, str] = {}

_PROBLEMS: dict = {}


def benchmark_problem(reference_dir, name):
    """The problem read once per session (its likelihood compiles once)."""
    if name not in _PROBLEMS:
        _PROBLEMS[name] = read_petab(reference_dir / "petab-benchmark" / name / f"{name}.yaml")
    return _PROBLEMS[name]


@pytest.fixture(scope="module")
def amici_reference(reference_dir):
    import yaml

    with open(reference_dir / "amici-benchmark-reference" / "benchmark_models.yaml") as handle:
        return yaml.safe_load(handle)


@pytest.mark.slow
def test_benchmark_list_is_complete(reference_dir, amici_reference):
    # every copied problem with an AMICI reference is tested (Perelson has none)
    copied = {p.name for p in (reference_dir / "petab-benchmark").iterdir() if p.is_dir()}
    assert sorted(copied & set(amici_reference)) == sorted(BENCHMARK)


@pytest.mark.slow
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=EXPECTED_FAILURES[n]))
                                  if n in EXPECTED_FAILURES else n for n in BENCHMARK])
def test_benchmark_nominal_llh(reference_dir, amici_reference, name):
    problem = benchmark_problem(reference_dir, name)
    llh = float(problem.log_likelihood(problem.nominal_theta()))
    expected = amici_reference[name]["llh"]
    # AMICI's own acceptance (test_nominal_parameters_llh): rtol 1e-3, atol 1e-3. Observed
    # |difference| <= 1e-4 except Crauste (1.2e-3, 6.5e-6 relative), where libRoadRunner at
    # rtol 1e-12 agrees with qsp to 1e-8: the reference carries AMICI's integration error.
    assert abs(llh - expected) <= 1e-3 + 1e-3 * abs(expected), (llh, expected)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["Boehm_JProteomeRes2014"])
def test_benchmark_gradient(reference_dir, name):
    problem = benchmark_problem(reference_dir, name)
    theta = problem.nominal_theta()
    _, grad = problem.value_and_grad(theta)
    fd = central_differences(problem.neg_log_likelihood, theta, step=1e-5)
    # central differences on log10-scaled parameters; rtol 1e-4 relative to the largest
    # component covers truncation (~1e-10) and the integration's noise at rtol 1e-8
    np.testing.assert_allclose(np.asarray(grad), fd, rtol=1e-4, atol=1e-4 * np.max(np.abs(fd)))


@pytest.mark.slow
def test_steady_state_not_reached_is_infinite(tmp_path):
    # integrated only to t = 0.5 (kdeg = 0.5): the preequilibration and the inf measurement
    # are far from steady state, so the likelihood is refused (+inf) and the experiments named
    problem = read_petab(write_problem(tmp_path), steady_state_time=0.5)
    assert float(problem.neg_log_likelihood(problem.nominal_theta())) == math.inf
    table = problem.simulate()
    reached = table.groupby(["preequilibrationConditionId", "simulationConditionId"]).steady_state_reached.all()
    assert reached.to_dict() == {("", "c_dose"): False, ("", "c_main"): True, ("c_pre", "c_main"): False}


@pytest.mark.slow
def test_benchmark_script_runs(reference_dir, capsys):
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_petab.py"
    spec = importlib.util.spec_from_file_location("bench_petab", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    status = bench.main(["--problems", "Boehm_JProteomeRes2014", "--repeats", "1", "--no-grad"])
    out = capsys.readouterr().out
    assert status == 0, out
    row = next(line for line in out.splitlines() if line.startswith("| Boehm_JProteomeRes2014 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert float(cells[7]) > 0  # llh [ms]
    assert "nominal llh within rtol 1e-3, atol 1e-3 of AMICI: 1/1" in out
    if importlib.util.find_spec("roadrunner"):  # libRoadRunner's trajectories through qsp's observables
        assert float(cells[-1]) == pytest.approx(-138.222, abs=1e-3)
