"""tensorlite ships type hints (tensorlite/py.typed): mypy, configured in pyproject.toml
([tool.mypy]), must find no error in the package or in backends/.

Run by hand from the repository root as ``mypy`` (the configuration names what to check).  The
incremental cache (.mypy_cache) makes a rerun take about a second; a cold run takes several.
"""
import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None,
                    reason="mypy is not installed (it comes with the dev extra: "
                           "pip install -e '.[dev]')")
def test_mypy_finds_no_errors():
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", os.path.join(ROOT, "pyproject.toml")],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    report = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"mypy reported errors (exit status {proc.returncode}):\n{report}"
    assert "Success: no issues found" in report, report
