"""ruff, as configured in pyproject.toml: the lint rules and the formatter, over all Python code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PATHS = ["src", "tests", "benchmarks"]


@pytest.mark.parametrize("command", [["check", "--no-fix"], ["format", "--check"]], ids=["check", "format"])
def test_ruff(command):
    # `python -m ruff`: the ruff of this environment (the test extra pins its minor version).
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "--no-cache", *PATHS], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, (
        f"ruff {' '.join(command)} failed; `ruff check --fix` and `ruff format` "
        f"fix most of it:\n{proc.stdout}{proc.stderr}"
    )
