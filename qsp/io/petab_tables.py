"""Reading the files of a PEtab (format version 1) problem into plain, checked records.

Nothing here knows the model: cells are parsed (numbers, identifiers, formulas as text)
and checked for the shape the PEtab v1 specification requires; every error names the
file, the line (the header is line 1) and the column. :mod:`qsp.io.petab` resolves the
records against the SBML model.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from .._optional import optional_import
from .petab_math import PetabError, parse_number_or_name

SCALES = ("lin", "log", "log10")
TRANSFORMATIONS = ("lin", "log", "log10")
DISTRIBUTIONS = ("normal", "laplace")


@dataclass(frozen=True)
class ParameterRow:
    """One row of the parameter table (bounds and nominal value on the linear scale)."""

    id: str
    scale: str
    lower: float
    upper: float
    nominal: float
    estimate: bool
    line: int
    file: str = ""


@dataclass(frozen=True)
class ObservableRow:
    """One row of the observable table (formulas still as text)."""

    id: str
    formula: str
    noise_formula: str
    transformation: str
    distribution: str
    line: int
    file: str = ""


@dataclass(frozen=True)
class MeasurementRow:
    """One row of the measurement table; overrides are numbers or parameter ids."""

    observable: str
    preequilibration: str | None
    condition: str
    value: float
    time: float  # may be inf (steady-state measurement)
    observable_parameters: tuple
    noise_parameters: tuple
    line: int
    file: str = ""


@dataclass
class PetabTables:
    """The parsed files of one PEtab problem.

    Attributes:
        sbml: path of the SBML model.
        parameters: parameter-table rows, in file order.
        conditions: condition id -> {target id: number or parameter id (NaN: keep)}.
        condition_lines: condition id -> (file, line) of its row.
        observables: observable id -> :class:`ObservableRow`.
        measurements: :class:`MeasurementRow` in file order.
        files: which file each table came from (for messages).
    """

    sbml: Path
    parameters: list[ParameterRow]
    conditions: dict[str, dict[str, float | str]]
    condition_lines: dict[str, tuple[str, int]]
    observables: dict[str, ObservableRow]
    measurements: list[MeasurementRow]
    files: dict[str, str] = field(default_factory=dict)


def _read_tsv(path: Path):
    import pandas as pd

    if not path.is_file():
        raise PetabError(f"file {str(path)!r} named in the PEtab YAML does not exist.")
    # every cell as text: numbers, identifiers and formulas are parsed here, with messages
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    table.columns = [str(c).strip() for c in table.columns]
    return table


def _cell(row, column) -> str:
    value = row.get(column, "")
    return "" if value is None else str(value).strip()


def _require(table, columns, file):
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise PetabError(f"required column {missing[0]!r} is missing (columns: {', '.join(table.columns)}).",
                         file, 1, missing[0])


def _float(text, file, line, column, allow_empty=False, default=math.nan):
    if text == "" and allow_empty:
        return default
    try:
        return float(text)
    except ValueError:
        raise PetabError(f"{text!r} is not a number.", file, line, column) from None


def _identifier(text, file, line, column):
    if not text or not (text[0].isalpha() or text[0] == "_") or not text.replace("_", "a").isalnum():
        raise PetabError(f"{text!r} is not a valid identifier (letters, digits and underscores, not starting "
                         "with a digit).", file, line, column)
    return text


def read_parameters(path: Path) -> list[ParameterRow]:
    """The parameter table: scales, bounds and nominal values (linear scale), estimate flags."""
    file = path.name
    table = _read_tsv(path)
    _require(table, ["parameterId", "parameterScale", "nominalValue", "estimate"], file)
    rows, seen = [], {}
    for i, row in enumerate(table.to_dict("records")):
        line = i + 2
        pid = _identifier(_cell(row, "parameterId"), file, line, "parameterId")
        if pid in seen:
            raise PetabError(f"parameter {pid!r} is listed twice (also on line {seen[pid]}).", file, line,
                             "parameterId")
        seen[pid] = line
        scale = _cell(row, "parameterScale") or "lin"
        if scale not in SCALES:
            raise PetabError(f"parameterScale {scale!r} of {pid!r} is not one of {', '.join(SCALES)}.", file, line,
                             "parameterScale")
        estimate_text = _cell(row, "estimate")
        if estimate_text not in ("0", "1"):
            raise PetabError(f"estimate of {pid!r} is {estimate_text!r}; it must be 0 or 1.", file, line, "estimate")
        estimate = estimate_text == "1"
        nominal = _float(_cell(row, "nominalValue"), file, line, "nominalValue", allow_empty=estimate)
        lower = _float(_cell(row, "lowerBound"), file, line, "lowerBound", allow_empty=not estimate,
                       default=-math.inf)
        upper = _float(_cell(row, "upperBound"), file, line, "upperBound", allow_empty=not estimate,
                       default=math.inf)
        if estimate and not lower <= upper:
            raise PetabError(f"bounds of {pid!r} are reversed: lowerBound {lower:g} > upperBound {upper:g}.", file,
                             line, "lowerBound")
        if scale != "lin" and nominal <= 0:
            raise PetabError(f"{pid!r} is on the {scale} scale, so its nominalValue must be positive (got "
                             f"{nominal:g}).", file, line, "nominalValue")
        if scale != "lin" and estimate and lower <= 0:
            raise PetabError(f"{pid!r} is estimated on the {scale} scale, so its lowerBound must be positive "
                             f"(got {lower:g}).", file, line, "lowerBound")
        rows.append(ParameterRow(pid, scale, lower, upper, nominal, estimate, line, file))
    return rows


def read_conditions(path: Path, conditions: dict, lines: dict) -> None:
    """Add the rows of a condition table to ``conditions`` (id -> {target: value}) and ``lines``."""
    file = path.name
    table = _read_tsv(path)
    _require(table, ["conditionId"], file)
    targets = [c for c in table.columns if c not in ("conditionId", "conditionName")]
    for target in targets:
        _identifier(target, file, 1, target)
    for i, row in enumerate(table.to_dict("records")):
        line = i + 2
        cid = _identifier(_cell(row, "conditionId"), file, line, "conditionId")
        if cid in conditions:
            raise PetabError(f"condition {cid!r} is defined twice.", file, line, "conditionId")
        values = {}
        for target in targets:
            text = _cell(row, target)  # empty like NaN: keep the model's (or preequilibration's) value
            values[target] = math.nan if text == "" else parse_number_or_name(text, file, line, target)
        conditions[cid] = values
        lines[cid] = (file, line)


def read_observables(path: Path, observables: dict) -> None:
    """Add the rows of an observable table to ``observables``."""
    file = path.name
    table = _read_tsv(path)
    _require(table, ["observableId", "observableFormula", "noiseFormula"], file)
    for i, row in enumerate(table.to_dict("records")):
        line = i + 2
        oid = _identifier(_cell(row, "observableId"), file, line, "observableId")
        if oid in observables:
            raise PetabError(f"observable {oid!r} is defined twice.", file, line, "observableId")
        transformation = _cell(row, "observableTransformation") or "lin"
        if transformation not in TRANSFORMATIONS:
            raise PetabError(f"observableTransformation {transformation!r} of {oid!r} is not one of "
                             f"{', '.join(TRANSFORMATIONS)}.", file, line, "observableTransformation")
        distribution = _cell(row, "noiseDistribution") or "normal"
        if distribution not in DISTRIBUTIONS:
            raise PetabError(f"noiseDistribution {distribution!r} of {oid!r} is not one of "
                             f"{', '.join(DISTRIBUTIONS)}.", file, line, "noiseDistribution")
        for column in ("observableFormula", "noiseFormula"):
            if not _cell(row, column):
                raise PetabError(f"{column} of {oid!r} is empty.", file, line, column)
        observables[oid] = ObservableRow(oid, _cell(row, "observableFormula"), _cell(row, "noiseFormula"),
                                         transformation, distribution, line, file)


def _overrides(text, file, line, column) -> tuple:
    if text == "":
        return ()
    return tuple(parse_number_or_name(part, file, line, column) for part in text.split(";"))


def read_measurements(path: Path, measurements: list) -> None:
    """Add the rows of a measurement table to ``measurements``."""
    file = path.name
    table = _read_tsv(path)
    _require(table, ["observableId", "simulationConditionId", "measurement", "time"], file)
    for i, row in enumerate(table.to_dict("records")):
        line = i + 2
        time_text = _cell(row, "time")
        time = math.inf if time_text == "inf" else _float(time_text, file, line, "time")
        if not (time >= 0):
            raise PetabError(f"time {time_text!r} must be a non-negative number or 'inf'.", file, line, "time")
        value = _float(_cell(row, "measurement"), file, line, "measurement")
        if not math.isfinite(value):
            raise PetabError(f"measurement {value} is not finite.", file, line, "measurement")
        measurements.append(MeasurementRow(
            observable=_cell(row, "observableId"), preequilibration=_cell(row, "preequilibrationConditionId") or None,
            condition=_cell(row, "simulationConditionId"), value=value, time=time,
            observable_parameters=_overrides(_cell(row, "observableParameters"), file, line, "observableParameters"),
            noise_parameters=_overrides(_cell(row, "noiseParameters"), file, line, "noiseParameters"),
            line=line, file=file))


def _files(entry, key, yaml_file) -> list[str]:
    value = entry.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not value and key != "visualization_files":
        raise PetabError(f"the problem lists no {key}.", yaml_file)
    return list(value)


def read_tables(yaml_path) -> PetabTables:
    """Read the PEtab v1 YAML file and every table it names.

    Example:
        >>> read_tables("missing.yaml")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qsp.io.petab_math.PetabError: PEtab YAML file 'missing.yaml' does not exist.
    """
    yaml = optional_import("yaml", "reading PEtab", "io", "pyyaml")

    yaml_path = Path(os.fspath(yaml_path))
    if not yaml_path.is_file():
        raise PetabError(f"PEtab YAML file {str(yaml_path)!r} does not exist.")
    with open(yaml_path) as handle:
        spec = yaml.safe_load(handle)  # safe_load: plain data only, no object construction
    file = yaml_path.name
    if not isinstance(spec, dict):
        raise PetabError("the YAML file does not hold a mapping of PEtab entries.", file)
    version = str(spec.get("format_version", ""))
    if version not in ("1", "1.0.0", "1.0"):
        raise PetabError(f"format_version {version!r} is not supported; qsp reads PEtab format version 1.", file)
    problems = spec.get("problems") or []
    if len(problems) != 1:
        raise PetabError(f"the YAML lists {len(problems)} problems; qsp reads exactly one.", file)
    entry = problems[0]
    sbml_files = _files(entry, "sbml_files", file)
    if len(sbml_files) != 1:
        raise PetabError(f"the problem lists {len(sbml_files)} SBML files; qsp reads exactly one.", file)
    parameter_file = spec.get("parameter_file")
    if isinstance(parameter_file, list):
        if len(parameter_file) != 1:
            raise PetabError("qsp reads exactly one parameter file.", file)
        parameter_file = parameter_file[0]
    if not parameter_file:
        raise PetabError("the YAML names no parameter_file.", file)
    base = yaml_path.parent
    conditions, lines, observables, measurements = {}, {}, {}, []
    for name in _files(entry, "condition_files", file):
        read_conditions(base / name, conditions, lines)
    for name in _files(entry, "observable_files", file):
        read_observables(base / name, observables)
    for name in _files(entry, "measurement_files", file):
        read_measurements(base / name, measurements)
    files = {"parameters": str(parameter_file), "conditions": ", ".join(_files(entry, "condition_files", file)),
             "observables": ", ".join(_files(entry, "observable_files", file)),
             "measurements": ", ".join(_files(entry, "measurement_files", file)), "yaml": file}
    sbml = base / sbml_files[0]
    if not sbml.is_file():
        raise PetabError(f"SBML file {sbml_files[0]!r} does not exist.", file)
    return PetabTables(sbml, read_parameters(base / parameter_file), conditions, lines, observables,
                       measurements, files)
