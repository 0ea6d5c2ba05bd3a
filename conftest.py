"""Test-session set-up shared by tests/ and the doctests in qsp/, models/ and docs/.

JAX's persistent compilation cache is switched on (``QSP_CACHE_DIR``, read by ``import
qsp``), in one directory for both pytest-xdist workers: many tests build models of the
same structure (parameters are data, so those lower to the same XLA program), and a cache
hit turns seconds of XLA compilation into a file read. The directory is git-ignored, so a
fresh clone (CI) starts empty and fills it during the run. Set ``QSP_CACHE_DIR`` yourself
to put it elsewhere.
"""

import os
from pathlib import Path

os.environ.setdefault("QSP_CACHE_DIR", str(Path(__file__).resolve().parent / ".jax_cache"))
