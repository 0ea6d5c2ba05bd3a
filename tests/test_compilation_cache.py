"""The persistent compilation cache: a second process reuses the first one's compiled simulation.

Oracle: JAX's own monitoring events (``/jax/compilation_cache/cache_hits``), counted in a fresh
process, and the files in the cache directory; nothing qsp computes. Timing is not asserted
(benchmarks measure it), only that the compilation was read back instead of redone.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qsp.compilation_cache import default_cache_directory

SCRIPT = """
import json, sys
import jax
hits = []
jax.monitoring.register_event_listener(lambda name, **kw: hits.append(name) if name.endswith("cache_hits") else None)
import numpy as np, qsp
CL, V = qsp.Parameter("CL", float(sys.argv[1])), qsp.Parameter("V", 20.0)
A = qsp.Species("A", qsp.Compartment("central", volume=V))
model = qsp.Model("pk", reactions=[qsp.Reaction([A], [], rate=CL * A)])
sol = qsp.simulate(qsp.compile(model), np.linspace(0.0, 24.0, 5), regimen=qsp.Bolus(A, 100.0, time=0.0))
print(json.dumps({"hits": len(hits), "C": float(sol["A"][-1])}))
"""


def _run(cache: Path, clearance: float) -> dict:
    env = {**os.environ, "QSP_CACHE_DIR": str(cache)}
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(clearance)], env=env, capture_output=True, text=True,
                         timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_second_process_reads_the_compiled_simulation_back(tmp_path):
    cache = tmp_path / "cache"
    first = _run(cache, 2.0)
    assert first["hits"] == 0 and any(cache.iterdir())  # compiled, and stored
    # another parameter value in a new process: the same program, so read back, not recompiled
    second = _run(cache, 3.0)
    assert second["hits"] >= 1
    # and still the right answer: C(24) = D/V exp(-CL/V 24), to the solver's rtol 1e-8
    assert second["C"] == pytest.approx(100.0 / 20.0 * math.exp(-3.0 / 20.0 * 24.0), rel=1e-7)


def test_default_directory_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("QSP_CACHE_DIR", str(tmp_path / "here"))
    assert default_cache_directory() == tmp_path / "here"
    monkeypatch.delenv("QSP_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_directory() == tmp_path / "xdg" / "qsp" / "jax"
