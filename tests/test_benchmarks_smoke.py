"""Smoke test of the spine benchmark: ``--quick`` runs and prints its table.

Only the shape of the report is checked (speed is measured by the benchmark itself, not
asserted in tests); the accuracy column is checked loosely as a guard against a broken
comparison: qsp and scipy BDF at rtol 1e-8 agree far better than 1e-3.
"""

from __future__ import annotations

import importlib.util
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _load_benchmark():
    spec = importlib.util.spec_from_file_location("bench_spine", ROOT / "benchmarks" / "bench_spine.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up in sys.modules
    spec.loader.exec_module(module)
    return module


def test_bench_spine_quick_prints_table(capsys):
    bench = _load_benchmark()
    status = bench.main(["--quick"])
    out = capsys.readouterr().out
    assert status == 0, out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| model |"))
    assert re.fullmatch(r"\|(---\|)+", lines[header + 1])
    rows = [line for line in lines[header + 2:] if line.startswith("|")]
    assert [row.split("|")[1].strip() for row in rows] == ["tmdd4", "net10"]
    columns = [c.strip() for c in lines[header].strip("|").split("|")]
    for row in rows:
        cells = dict(zip(columns, (c.strip() for c in row.strip("|").split("|"))))
        assert len(cells) == len(columns)
        for key in ("qsp.compile [s]", "re-sim jit [ms]", "scipy BDF [ms]"):
            assert float(cells[key]) > 0, (key, row)
        assert float(cells["max rel diff vs BDF"]) < 1e-3, row
        assert cells["recompiles"] == "no", row
    assert "parameter change recompiles: no" in out
    assert "4-state jitted re-simulation < 1 ms" in out
