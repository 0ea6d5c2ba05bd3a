"""The code in the guides runs: every ```python block of each docs/*.md, in order.

The blocks of one guide form one session (later blocks use names defined earlier), so
each guide runs in its own subprocess, block by block; a failure names the guide, the
block and its line. The blocks check their own numbers with asserts (closed forms,
finite differences), so this also guards what the guides claim. Slow: the guides compile
a dozen simulations, each a JAX compilation of the stiff solver.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
GUIDES = sorted(p for p in (ROOT / "docs").glob("*.md") if "```python" in p.read_text())

_RUNNER = r"""
import json, sys, traceback
blocks = json.load(open(sys.argv[1]))
namespace = {"__name__": "__docs__"}
for block in blocks:
    try:
        exec(compile(block["code"], f"{block['guide']} (block at line {block['line']})", "exec"), namespace)
    except BaseException:
        traceback.print_exc()
        print(f"FAILED: {block['guide']}, python block starting at line {block['line']}", file=sys.stderr)
        sys.exit(1)
print(f"ran {len(blocks)} blocks")
"""


def python_blocks(path: pathlib.Path) -> list[dict]:
    """The ```python fenced blocks of a markdown file, with the line each starts on."""
    text = path.read_text()
    blocks = []
    for match in re.finditer(r"^```python\n(.*?)^```", text, flags=re.S | re.M):
        line = text.count("\n", 0, match.start()) + 2
        blocks.append({"guide": path.name, "line": line, "code": match.group(1)})
    return blocks


def test_getting_started_has_code():
    assert python_blocks(ROOT / "docs" / "getting-started.md")


@pytest.mark.slow
@pytest.mark.parametrize("guide", GUIDES, ids=[p.name for p in GUIDES])
def test_guide_code_runs(guide, tmp_path):
    blocks_file = tmp_path / "blocks.json"
    blocks_file.write_text(json.dumps(python_blocks(guide)))
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-c", _RUNNER, str(blocks_file)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"--- stdout ---\n{result.stdout[-4000:]}\n--- stderr ---\n{result.stderr[-4000:]}"
