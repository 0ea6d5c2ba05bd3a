"""Units: the grammar, the dimensional check run by compile, and model conversion.

Oracles: unit scales written out by hand from the SI definitions (1 mL = 1e-6 m^3,
1 day = 86400 s, 1 nM = 1e-6 mol/m^3); the one-compartment oral closed form (Bateman);
hand-computed conversions through a molecular weight.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import qsp
from qsp.errors import UnitError
from qsp.model import units
from qsp.model.units import check_units, conversion_factor, convert, parse_unit, to_base_units

P, C, S, V = qsp.Parameter, qsp.Compartment, qsp.Species, qsp.Variable
R = sp.Rational


# ------------------------------------------------------------------ grammar
# (text, dimension in words, scale in g / mol / m / s / U written out by hand)
PARSE_CASES = [
    ("mg", "mass", R(1, 10**3)),
    ("µg", "mass", R(1, 10**6)),          # micro sign U+00B5
    ("μg", "mass", R(1, 10**6)),          # Greek mu U+03BC
    ("ug", "mass", R(1, 10**6)),
    ("mcg", "mass", R(1, 10**6)),
    ("kg", "mass", 1000),
    ("L", "volume", R(1, 10**3)),
    ("mL", "volume", R(1, 10**6)),
    ("dL", "volume", R(1, 10**4)),
    ("h", "time", 3600),
    ("day", "time", 86400),
    ("min", "time", 60),
    ("week", "time", 604800),
    ("nmol", "substance", R(1, 10**9)),
    ("mmol/L", "substance/volume", 1),
    ("L/h", "volume/time", R(1, 3600 * 10**3)),
    ("1/h", "1/time", R(1, 3600)),
    ("h^-1", "1/time", R(1, 3600)),
    ("h**-1", "1/time", R(1, 3600)),
    ("h⁻¹", "1/time", R(1, 3600)),
    ("mg*h/L", "mass·time/volume", 3600),
    ("mg·h/L", "mass·time/volume", 3600),
    ("nM", "substance/volume", R(1, 10**6)),
    ("mg/L", "mass/volume", 1),
    ("mL/min/1.73m^2", "length/time", R(1, 10**6) / 60 / R(173, 100)),   # left to right: (mL/min)/(1.73 m^2)
    ("mL/min/1.73 m²", "length/time", R(1, 10**6) / 60 / R(173, 100)),
    ("mL/min/1.73m2", "length/time", R(1, 10**6) / 60 / R(173, 100)),    # UCUM-style attached exponent
    ("(L/h)/(mL/min/1.73m2)", "length^2", R(1, 10**3) / 3600 / (R(1, 10**6) / 60 / R(173, 100))),
    ("h-1", "1/time", R(1, 3600)),
    ("L/(nmol*h)", "volume/(substance·time)", R(1, 10**3) / (R(1, 10**9) * 3600)),
    ("1/(nM*day)", "volume/(substance·time)", 1 / (R(1, 10**6) * 86400)),
    ("U/L/h", "activity/(volume·time)", 1 / (R(1, 10**3) * 3600)),
    ("L/h/kg", "volume/(mass·time)", R(1, 10**3) / 3600 / 1000),
    ("(mg/L)^2", "mass^2/volume^2", 1),
    ("%", "dimensionless", R(1, 100)),
    ("1", "dimensionless", 1),
    ("dimensionless", "dimensionless", 1),
]


@pytest.mark.parametrize("text, dimension, scale", PARSE_CASES)
def test_parse_unit(text, dimension, scale):
    unit = parse_unit(text)
    assert unit.dimension == dimension
    assert unit.scale == scale  # exact rationals: no tolerance


@pytest.mark.parametrize("a, b", [("mg/L", "ug/mL"), ("nM", "nmol/L"), ("h^-1", "1/h"), ("µg", "mcg"),
                                  ("mL", "cc"), ("1/(nM*h)", "L/nmol/h"), ("mg*h/L", "h*mg/L")])
def test_equivalent_spellings(a, b):
    assert parse_unit(a) == parse_unit(b)


@pytest.mark.parametrize("text", ["mg/", "foo", "mg//L", "mg^x", "month", "(mg", "mg)", "mg L", "", "h- 1", "m 2",
                                  "mg^1.5", "m2.5", "nm0l"])
def test_bad_unit_strings_name_the_item_and_list_accepted_forms(text):
    with pytest.raises(UnitError) as err:
        parse_unit(text, "Parameter 'CL'")
    message = str(err.value)
    assert "Parameter 'CL'" in message and repr(text) in message
    assert "accepted units" in message and "'mg/L'" in message


def test_bad_unit_in_a_model_is_reported_at_compile():
    CL = P("CL", 3.0, unit="L/hour/x")
    A = S("A", C("central", volume=P("V", 30.0, unit="L")), unit="mg")
    model = qsp.Model("pk", reactions=[qsp.Reaction([A], [], rate=CL * A)])
    with pytest.raises(UnitError, match=r"Parameter 'CL': unit 'L/hour/x' does not parse"):
        qsp.compile(model)


def test_conversion_factors_against_hand_values():
    assert conversion_factor("mL/min", "L/h") == R(60, 1000)
    assert conversion_factor("day", "h") == 24
    assert conversion_factor("ug/mL", "mg/L") == 1
    assert conversion_factor("ng/mL", "mg/L") == R(1, 1000)
    # 2 mg/L of a 250 g/mol drug: 2e-3 g/L / 250 g/mol = 8e-6 mol/L = 8000 nmol/L
    assert convert(2.0, "mg/L", "nmol/L", molecular_weight=250.0) == pytest.approx(8000.0, rel=1e-15)
    # back: 8000 nmol/L x 250 g/mol = 2e-3 g/L
    assert convert(8000.0, "nM", "mg/L", molecular_weight=250.0) == pytest.approx(2.0, rel=1e-15)
    assert np.allclose(convert(np.array([1.0, 2.0]), "h", "min"), [60.0, 120.0], rtol=0, atol=0)
    with pytest.raises(UnitError, match="molecular_weight"):
        convert(1.0, "mg/L", "nmol/L")
    with pytest.raises(UnitError, match="cannot convert"):
        convert(1.0, "mg", "L")


# ------------------------------------------------------------------ models that pass
def _annotated_pkpd(CL_unit="L/h", CL_value=3.0):
    """Oral one-compartment PK, Hill PD, an effect compartment and a circadian turnover."""
    ka = P("ka", 1.2, unit="1/h")
    CL = P("CL", CL_value, unit=CL_unit)
    Vc = P("V", 30.0, unit="L")
    gut = C("gut", volume=1.0, unit="L")
    central = C("central", volume=Vc)
    depot = S("depot", gut, amount_based=True, unit="mg")
    A = S("A", central, unit="mg")
    Emax, EC50, n = P("Emax", 1.0, unit="1"), P("EC50", 2.0, unit="mg/L"), P("n", 2.5, unit="1")
    ke0 = P("ke0", 0.5, unit="1/h")
    Ce = V("Ce", initial=0.0, unit="mg/L")
    E = V("E", unit="1")
    k0, amp, phi, period = P("k0", 10.0, unit="U/L/h"), P("amp", 0.3, unit="1"), P("phi", 8.0, unit="h"), \
        P("period", 24.0, unit="h")
    kout = P("kout", 0.1, unit="1/h")
    effect = C("effect", volume=1.0, unit="L")
    Resp = S("Resp", effect, initial_concentration=k0 / kout, unit="U/L")
    kin = k0 * (1 + amp * sp.cos(2 * sp.pi * (qsp.time - phi) / period))
    return qsp.Model("pkpd", reactions=[
        qsp.Reaction([depot], [A], rate=ka * depot, name="absorption"),
        qsp.Reaction([A], [], rate=CL * A, name="elimination"),
        qsp.Reaction([], [Resp], rate=kin * (1 - E) * effect, name="production"),
        qsp.mass_action(kout, [Resp], [], name="loss"),
    ], rules=[qsp.RateRule(Ce, ke0 * (A - Ce)), qsp.AssignmentRule(E, Emax * Ce**n / (EC50**n + Ce**n))],
        observables={"C": A, "E_obs": E, "AUC_rate": CL * A, "Resp_total": Resp * effect})


def test_a_fully_annotated_model_passes_and_reports_units():
    report = check_units(_annotated_pkpd())
    assert report.annotated and report.time == "h"
    assert report.unchecked == ()
    assert report.unit("C") == "mg/L" and report.unit("E") == "1" and report.unit("Ce") == "mg/L"
    assert report.unit("AUC_rate") == "mg/h" and report.unit("Resp_total") == "U"
    assert report.amounts["depot"] == parse_unit("mg")
    assert report.rates["production"] == parse_unit("U/h")
    assert report.rates["loss"] == parse_unit("U/h")


def test_target_binding_in_molar_units_passes():
    Vp = P("Vp", 3.0, unit="L")
    plasma = C("plasma", volume=Vp)
    L, Rc, RL = S("L", plasma, unit="nmol"), S("R", plasma, unit="nM", initial_concentration=P("R0", 5.0, unit="nM")), \
        S("RL", plasma, unit="nmol")
    kon, koff = P("kon", 1.0, unit="1/(nM*h)"), P("koff", 0.1, unit="1/h")
    ksyn, kdeg = P("ksyn", 0.5, unit="nM/h"), P("kdeg", 0.1, unit="1/h")
    model = qsp.Model("binding", reactions=[
        qsp.mass_action(kon, [L, Rc], [RL]), qsp.mass_action(koff, [RL], [L, Rc]),
        qsp.Reaction([], [Rc], rate=ksyn * plasma, name="synthesis"), qsp.mass_action(kdeg, [Rc], []),
    ], observables={"occupancy": RL / (Rc + RL)})
    report = check_units(model)
    assert report.time == "h" and report.unit("occupancy") == "1" and report.unchecked == ()


def test_a_day_model_infers_days_and_refuses_hours():
    A = S("A", C("c", volume=P("V", 2.0, unit="L")), unit="mg")
    model = qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=P("CL", 1.0, unit="L/day") * A)])
    assert check_units(model).time == "day"
    with pytest.raises(UnitError, match="different size"):
        check_units(model, time="h")


def test_an_exact_written_out_conversion_factor_is_accepted():
    A = S("A", C("c", volume=P("V", 2.0, unit="L")), unit="mg")
    out = V("C_ng_per_mL", unit="ng/mL")   # 1 mg/L = 1000 ng/mL
    model = qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=P("CL", 1.0, unit="L/h") * A)],
                      rules=[qsp.AssignmentRule(out, 1000 * A)])
    report = check_units(model)
    assert report.unit("C_ng_per_mL") == "ng/mL" and report.outputs["C_ng_per_mL"] == parse_unit("ng/mL")
    wrong = model.extended(rules=[qsp.AssignmentRule(V("C_wrong", unit="ng/mL"), 100 * A)])
    with pytest.raises(UnitError, match="C_wrong"):
        check_units(wrong)


def test_models_without_units_are_not_checked():
    A = S("A", C("c", volume=2.0))
    model = qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=P("k", 1.0) * A * A)])
    report = check_units(model)
    assert not report.annotated and report.unchecked == ()


def test_partial_annotation_checks_what_it_can_and_lists_the_rest():
    Vc, CL = P("V", 30.0, unit="L"), P("CL", 3.0, unit="L/h")
    A = S("A", C("central", volume=Vc))     # no unit: its concentration is unknown
    model = qsp.Model("pk", reactions=[qsp.Reaction([A], [], rate=CL * A, name="elim")], observables={"C": A})
    report = check_units(model)
    assert report.time is None and report.rates["elim"] is None
    assert any("reaction 'elim'" in item and "no unit for A" in item for item in report.unchecked)
    # what is known is still checked: a volume that is not a volume fails
    bad = qsp.Model("pk", reactions=[qsp.Reaction([S("B", C("c2", volume=CL))], [], rate=CL)])
    with pytest.raises(UnitError, match="compartment 'c2' volume"):
        check_units(bad)


# ------------------------------------------------------------------ each kind of mismatch
def _mismatch_models():
    Vc = P("V", 30.0, unit="L")
    central = C("central", volume=Vc)
    A = S("A", central, unit="mg")
    CL = P("CL", 3.0, unit="L/h")
    elim = qsp.Reaction([A], [], rate=CL * A, name="elimination")
    Rn = S("R", central, unit="nmol")
    ksyn = P("ksyn", 1.0, unit="nM/h")
    fu = P("fu", 0.1, unit="1")
    ke0 = P("ke0", 0.5, unit="L/h")
    Ce, Cfree = V("Ce", unit="mg/L"), V("Cfree", unit="mg/L")
    B = S("B", central, unit="nmol")
    k = P("k", 0.2, unit="1/h")
    depot = S("depot", C("gut", volume=1.0, unit="L"), amount_based=True, unit="mg")
    CLmin = P("CLmin", 50.0, unit="mL/min")
    EC50 = P("EC50", 500.0, unit="ng/mL")
    return {
        "rate is a concentration per time": (
            qsp.Model("m", reactions=[qsp.Reaction([], [Rn], rate=ksyn, name="synthesis")]),
            ["reaction 'synthesis' rate", "ksyn", "substance/(volume·time)", "substance/time"]),
        "volume is not a volume": (
            qsp.Model("m", reactions=[qsp.Reaction([S("X", C("tank", volume=CL), unit="mg")], [], rate=CL)]),
            ["compartment 'tank' volume", "CL", "volume/time", "volume"]),
        "assignment rule": (
            qsp.Model("m", reactions=[elim, qsp.Reaction([depot], [A], rate=k * depot, name="absorption")],
                      rules=[qsp.AssignmentRule(Cfree, fu * depot)]),
            ["assignment rule for 'Cfree'", "fu*depot", "has dimension mass", "mass/volume"]),
        "rate rule": (
            qsp.Model("m", reactions=[elim], rules=[qsp.RateRule(Ce, ke0 * (A - Ce))]),
            ["rate rule for 'Ce'", "ke0*(A - Ce)", "mass/time", "mass/(volume·time)"]),
        "observable sum": (
            qsp.Model("m", reactions=[elim], observables={"bad": A + CL}),
            ["observable 'bad'", "mass/volume", "volume/time"]),
        "mass meets substance": (
            qsp.Model("m", reactions=[qsp.Reaction([A], [B], rate=k * A * Vc, name="convert")]),
            ["reaction 'convert' rate", "species 'B'", "mass/time", "substance"]),
        "mixed time scales": (
            qsp.Model("m", reactions=[qsp.Reaction([depot], [A], rate=k * depot, name="absorption"),
                                      qsp.Reaction([A], [], rate=CLmin * A, name="elimination")]),
            ["mixes units", "reaction 'absorption' rate", "per h", "reaction 'elimination' rate", "to_base_units"]),
        "function of a dimensional argument": (
            qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=CL * A * sp.exp(-CL), name="elimination")]),
            ["reaction 'elimination' rate", "exp(-CL)", "volume/time", "dimensionless"]),
        "same dimension, different size": (
            qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=CL * A * A / (EC50 + A), name="saturable")]),
            ["reaction 'saturable' rate", "EC50 + A", "different size", "0.001 mg/L"]),
        "species unit neither amount nor concentration": (
            qsp.Model("m", reactions=[qsp.Reaction([S("Z", central, unit="L/h")], [], rate=CL)]),
            ["Species 'Z'", "'L/h'", "neither an amount"]),
    }


@pytest.mark.parametrize("case", list(_mismatch_models()))
def test_each_kind_of_mismatch_names_the_item_the_expression_and_both_units(case):
    model, fragments = _mismatch_models()[case]
    with pytest.raises(UnitError) as err:
        check_units(model)
    for fragment in fragments:
        assert fragment in str(err.value), (fragment, str(err.value))


def test_compile_runs_the_check():
    model, _ = _mismatch_models()["rate is a concentration per time"]
    with pytest.raises(UnitError, match="reaction 'synthesis'"):
        qsp.compile(model)


def test_hill_terms_need_one_unit_for_concentration_and_ec50():
    central = C("central", volume=P("V", 3.0, unit="L"))
    X = S("X", central, unit="nmol")
    n = P("n", 2.0, unit="1")
    kmax = P("kmax", 1.0, unit="nmol/h")
    ok = qsp.Model("m", reactions=[qsp.Reaction([X], [], rate=kmax * X**n / (P("EC50", 1.0, unit="nM")**n + X**n))])
    assert check_units(ok).time == "h"
    bad = qsp.Model("m", reactions=[qsp.Reaction([X], [], rate=kmax * X**n / (P("EC50", 1.0, unit="uM")**n + X**n))])
    with pytest.raises(UnitError, match="different size"):
        check_units(bad)


def test_time_thresholds_need_a_unit_and_events_are_checked():
    Vc, k, t_switch = P("V", 1.0, unit="L"), P("k", 1.0, unit="1/h"), P("t_switch", 5.0, unit="h")
    A = S("A", C("c", volume=Vc), unit="mg", initial_amount=10.0)
    bare = qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=k * A * Vc * sp.Piecewise((1, qsp.time > 5), (0, True)),
                                                  name="late")])
    with pytest.raises(UnitError, match=r"reaction 'late' rate: the two sides of t > 5 disagree.*t_switch"):
        check_units(bare)
    ok = qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=k * A * Vc * sp.Piecewise((1, qsp.time > t_switch),
                                                                                      (0, True)))],
                   events=[qsp.Event(qsp.time >= t_switch, {A: 2 * A}, name="double")])
    assert check_units(ok).time == "h"
    wrong = ok.extended(events=[qsp.Event(qsp.time >= t_switch, {A: k}, name="refill")])
    with pytest.raises(UnitError, match=r"event 'refill' assignment to 'A': k has dimension 1/time"):
        check_units(wrong)


# ------------------------------------------------------------------ conversion of a model
def test_to_base_units_rescales_mass_volume_and_time_exactly():
    Vc = P("V", 5000.0, unit="mL", bounds=(1000.0, 10000.0))
    CL = P("CL", 2400.0, unit="mL/day")
    A = S("A", C("c", volume=Vc), initial_amount=500, unit="ug")
    model = qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=CL * A, name="elim")], observables={"C": A})
    assert check_units(model).time == "day"
    base = to_base_units(model, time="h", amount="mg", volume="L")
    # by hand: 5000 mL = 5 L; 2400 mL/day = 2.4 L / 24 h = 0.1 L/h; 500 ug = 0.5 mg (an integer stays exact)
    assert base.symbol("V").value == 5.0 and base.symbol("V").bounds == (1.0, 10.0)
    assert base.symbol("CL").value == pytest.approx(0.1, rel=1e-15) and base.symbol("CL").unit == "L/h"
    assert base.symbol("A").initial_amount == R(1, 2) and base.symbol("A").unit == "mg"
    report = check_units(base)
    assert report.time == "h" and report.unit("C") == "mg/L"


def test_a_written_out_factor_in_a_rate_is_removed_by_conversion():
    ka, CL, Vc = P("ka", 1.2, unit="1/h"), P("CL", 50.0, unit="mL/min"), P("V", 30.0, unit="L")
    depot = S("depot", C("gut", volume=1.0, unit="L"), amount_based=True, unit="mg")
    A = S("A", C("central", volume=Vc), unit="mg")
    by_hand = qsp.Model("m", reactions=[qsp.Reaction([depot], [A], rate=ka * depot, name="absorption"),
                                        qsp.Reaction([A], [], rate=CL * A * 60 / 1000, name="elimination")])
    assert check_units(by_hand).time == "h"        # 60/1000 is exactly the factor from mL/min x mg/L to mg/h
    base = to_base_units(by_hand, time="h")
    assert base.symbol("CL").value == 3.0
    assert base.reactions[1].rate == base.symbol("CL") * base.symbol("A")   # the factor is gone, CL now in L/h
    # a volume written with a factor: 30000 mL / 1000 in a compartment declared in L
    V_mL = P("V_mL", 30000.0, unit="mL")
    B = S("B", C("c", volume=V_mL / 1000, unit="L"), unit="mg", initial_amount=100)
    vol = to_base_units(qsp.Model("v", reactions=[qsp.Reaction([B], [], rate=P("CL", 3.0, unit="L/h") * B)]))
    assert vol.symbol("c").volume == vol.symbol("V_mL") and vol.symbol("V_mL").value == 30.0


def test_to_base_units_needs_every_unit():
    A = S("A", C("c", volume=P("V", 2.0, unit="L")), unit="mg")
    model = qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=P("k", 1.0) * A * P("V2", 1.0, unit="L"))])
    with pytest.raises(UnitError, match=r"Parameter 'k'"):
        to_base_units(model, time="h")


def test_mass_to_substance_with_a_molecular_weight():
    # A drug (mg, 500 g/mol) binds a receptor counted in nmol: the model as written mixes mass and substance.
    plasma = C("plasma", volume=P("Vp", 2.0, unit="L"))
    D = S("D", plasma, initial_amount=10.0, unit="mg", molecular_weight=500.0)
    Rr = S("R", plasma, initial_concentration=4.0, unit="nM")
    DR = S("DR", plasma, unit="nmol")
    kon, koff = P("kon", 0.01, unit="1/(nM*h)"), P("koff", 0.1, unit="1/h")
    EC50 = P("EC50", 0.5, unit="mg/L")
    model = qsp.Model("binding", reactions=[qsp.mass_action(kon, [D, Rr], [DR], name="bind"),
                                            qsp.mass_action(koff, [DR], [D, Rr], name="unbind")],
                      observables={"occ": D / (EC50 + D)})
    with pytest.raises(UnitError, match="reaction 'bind'"):
        check_units(model)
    with pytest.raises(UnitError):   # EC50 (mg/L) meets D (now nmol/L) unless it gets the weight too
        to_base_units(model, time="h", amount="nmol")
    base = to_base_units(model, time="h", amount="nmol", molecular_weights={"EC50": 500.0})
    # by hand: 10 mg / 500 g/mol = 2e-5 mol = 20000 nmol; 0.5 mg/L / 500 g/mol = 1e-6 mol/L = 1000 nM
    assert base.symbol("D").unit == "nmol" and float(base.symbol("D").initial_amount) == pytest.approx(20000.0)
    assert base.symbol("EC50").unit == "nmol/L" and base.symbol("EC50").value == pytest.approx(1000.0, rel=1e-15)
    assert base.symbol("kon").value == pytest.approx(0.01, rel=1e-15)      # already nmol, L, h
    assert check_units(base).unit("occ") == "1"
    # the other way: a drug counted in nmol (300 g/mol) moved to mg, its EC50 with it
    A = S("A", C("c", volume=P("Vc", 10.0, unit="L")), initial_amount=3000.0, unit="nmol", molecular_weight=300.0)
    EC = P("EC50n", 100.0, unit="nM")
    small = qsp.Model("small", reactions=[qsp.Reaction([A], [], rate=P("CL", 1.0, unit="L/h") * A)],
                      observables={"E": A / (EC + A)})
    mass = to_base_units(small, time="h", amount="mg", molecular_weights={"EC50n": 300.0})
    # by hand: 3000 nmol x 300 g/mol = 9e-4 g = 0.9 mg; 100 nM x 300 g/mol = 3e-5 g/L = 0.03 mg/L
    assert mass.symbol("A").unit == "mg" and float(mass.symbol("A").initial_amount) == pytest.approx(0.9, rel=1e-15)
    assert mass.symbol("EC50n").unit == "mg/L" and mass.symbol("EC50n").value == pytest.approx(0.03, rel=1e-15)


# ------------------------------------------------------------------ mixed units simulate like consistent ones
KA, CL_L_PER_H, VOL, DOSE = 1.2, 3.0, 30.0, 100.0
TIMES_H = np.linspace(0.0, 24.0, 25)


def _oral(CL, cl_unit: str, name: str):
    """ka 1/h, CL in ``cl_unit``, V in L, dose in mg, outputs in µg/mL and ng/mL."""
    ka, Vc = P("ka", KA, unit="1/h"), P("V", VOL, unit="L")
    CLp = P("CL", CL, unit=cl_unit)
    depot = S("depot", C("gut", volume=1.0, unit="L"), amount_based=True, unit="mg")
    A = S("A", C("central", volume=Vc), unit="mg")
    c_ug, c_ng = V("C_ug_per_mL", unit="ug/mL"), V("C_ng_per_mL", unit="ng/mL")
    return qsp.Model(name, reactions=[qsp.Reaction([depot], [A], rate=ka * depot, name="absorption"),
                                      qsp.Reaction([A], [], rate=CLp * A, name="elimination")],
                     rules=[qsp.AssignmentRule(c_ug, A), qsp.AssignmentRule(c_ng, 1000 * A)], observables={"C": A})


def _bateman(t):
    k = CL_L_PER_H / VOL
    return DOSE * KA / (VOL * (KA - k)) * (np.exp(-k * t) - np.exp(-KA * t))   # mg/L = µg/mL


@pytest.fixture(scope="module")
def mixed_and_consistent():
    mixed = _oral(50.0, "mL/min", "mixed")          # 50 mL/min = 3 L/h
    consistent = _oral(CL_L_PER_H, "L/h", "consistent")
    regimen = qsp.Regimen([qsp.Bolus("depot", amount=DOSE, time=0.0)])
    options = dict(rtol=1e-10, atol=1e-12)
    converted = to_base_units(mixed, time="h", amount="mg", volume="L")
    sol_mixed = qsp.simulate(qsp.compile(converted), TIMES_H, regimen=regimen, **options)
    sol_consistent = qsp.simulate(qsp.compile(consistent), TIMES_H, regimen=regimen, **options)
    return mixed, converted, sol_mixed, sol_consistent


def test_mixed_units_are_refused_until_converted(mixed_and_consistent):
    mixed, converted, _, _ = mixed_and_consistent
    with pytest.raises(UnitError, match="mixes units"):
        qsp.compile(mixed)
    assert converted.symbol("CL").unit == "L/h" and converted.symbol("CL").value == CL_L_PER_H
    # every output is now in base units: the ng/mL variable lost its written-out factor 1000
    out = converted.symbol("C_ng_per_mL")
    assert out.unit == "mg/L" and converted.rules[1].expression == converted.symbol("A")


def test_mixed_units_simulate_like_consistent_units_and_the_closed_form(mixed_and_consistent):
    _, _, sol_mixed, sol_consistent = mixed_and_consistent
    # The converted model is the consistent one with CL = 50 * 3/50 = 3.0 exactly: the same ODE, so the
    # two runs agree to rounding (1e-12 allows for a different order of float operations).
    for name in ("C", "C_ug_per_mL"):
        np.testing.assert_allclose(sol_mixed[name], sol_consistent[name], rtol=1e-12, atol=1e-15)
    # outputs of the converted model are in base units (mg/L); convert() gives the declared ng/mL back
    np.testing.assert_allclose(convert(sol_mixed["C_ng_per_mL"], "mg/L", "ng/mL"), sol_consistent["C_ng_per_mL"],
                               rtol=1e-12, atol=1e-12)
    # Against the Bateman closed form at rtol 1e-10 / atol 1e-12: 1e-7 relative covers the
    # integrator's global error with margin (peak concentration about 2.6 mg/L).
    expected = _bateman(TIMES_H)
    np.testing.assert_allclose(sol_mixed["C_ug_per_mL"], expected, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(sol_consistent["C_ng_per_mL"], 1000 * expected, rtol=1e-7, atol=1e-7)


def test_converting_time_to_minutes_rescales_rates(mixed_and_consistent):
    _, converted, sol_hours, _ = mixed_and_consistent
    minutes = to_base_units(converted, time="min")
    assert minutes.symbol("ka").value == pytest.approx(KA / 60, rel=1e-15)
    assert minutes.symbol("CL").unit == "L/min" and minutes.symbol("CL").value == pytest.approx(0.05, rel=1e-15)
    # the minute model, simulated on the same instants written in minutes, gives the same curve
    sol = qsp.simulate(qsp.compile(minutes), TIMES_H * 60.0,
                       regimen=qsp.Regimen([qsp.Bolus("depot", amount=DOSE, time=0.0)]), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sol["C"], sol_hours["C"], rtol=1e-7, atol=1e-10)


def test_units_module_exports():
    assert set(units.__all__) >= {"parse_unit", "check_units", "to_base_units", "convert", "UnitReport", "Unit"}
