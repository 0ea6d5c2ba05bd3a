"""A small PEtab problem written to a folder, for examples and quick checks.

The model is first-order elimination of a drug from a 10 L compartment,
``dA/dt = -k·A`` with the concentration ``C = A/V`` observed; two conditions give
different doses (initial concentrations), and the measurements carry normal noise of
standard deviation ``sigma``. Estimated: ``k`` (log10 scale) and ``sigma`` (log10).

Example:
    >>> import tempfile
    >>> from qsp.io import read_petab
    >>> problem = read_petab(write_example_problem(tempfile.mkdtemp()))
    >>> problem.estimated_ids, problem.scales
    (('k', 'sigma'), ('log10', 'log10'))
    >>> [round(float(x), 4) for x in problem.nominal_theta()]    # log10(0.2), log10(0.5)
    [-0.699, -0.301]
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["write_example_problem"]

_SBML = """<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2"><model id="elimination">
<listOfCompartments><compartment id="V" spatialDimensions="3" size="10" constant="true"/></listOfCompartments>
<listOfSpecies><species id="C" compartment="V" initialConcentration="1" hasOnlySubstanceUnits="false"
  boundaryCondition="false" constant="false"/></listOfSpecies>
<listOfParameters><parameter id="k" value="0.1" constant="true"/></listOfParameters>
<listOfReactions><reaction id="elimination" reversible="false">
  <listOfReactants><speciesReference species="C" stoichiometry="1" constant="true"/></listOfReactants>
  <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/><ci>k</ci><ci>C</ci><ci>V</ci>
  </apply></math></kineticLaw></reaction></listOfReactions>
</model></sbml>
"""

_FILES = {
    "model.xml": _SBML,
    "conditions.tsv": "conditionId\tC\nlow\t5\nhigh\t10\n",
    "observables.tsv": "observableId\tobservableFormula\tnoiseFormula\nconcentration\tC\tsigma\n",
    "measurements.tsv": "observableId\tsimulationConditionId\tmeasurement\ttime\n"
                        "concentration\tlow\t4.1\t1\nconcentration\tlow\t1.9\t4\nconcentration\tlow\t0.9\t8\n"
                        "concentration\thigh\t8.3\t1\nconcentration\thigh\t4.4\t4\nconcentration\thigh\t2.1\t8\n",
    "parameters.tsv": "parameterId\tparameterScale\tlowerBound\tupperBound\tnominalValue\testimate\n"
                      "k\tlog10\t0.001\t10\t0.2\t1\nsigma\tlog10\t0.01\t10\t0.5\t1\n",
    "problem.yaml": "format_version: 1\nparameter_file: parameters.tsv\nproblems:\n- sbml_files: [model.xml]\n"
                    "  condition_files: [conditions.tsv]\n  observable_files: [observables.tsv]\n"
                    "  measurement_files: [measurements.tsv]\n",
}


def write_example_problem(folder) -> Path:
    """Write the example problem's files into ``folder`` (created if needed); returns its YAML path.

    Its log-likelihood has a closed form: ``C(t) = C0 exp(-k t)`` per condition and
    :math:`\\sum_i \\log N(m_i; C(t_i), \\sigma^2)`.

    Example:
        >>> import tempfile
        >>> write_example_problem(tempfile.mkdtemp()).name
        'problem.yaml'
    """
    folder = Path(os.fspath(folder))
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in _FILES.items():
        (folder / name).write_text(text)
    return folder / "problem.yaml"
