"""examples/ports/loss_table.py: the README's table of ported programs (one small port only)."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples", "ports"))
import loss_table  # noqa: E402


def test_every_port_directory_has_a_compare_with_rows():
    ports = sorted(d for d in os.listdir(loss_table.HERE)
                   if os.path.isfile(os.path.join(loss_table.HERE, d, "compare.py")))
    assert ports == sorted(loss_table.STEPS)


def test_rows_of_nanogpt_agree_with_torch():
    (row,) = loss_table.rows("nanogpt", 2)
    name, steps, numpy_loss, numba_loss, torch_loss = row
    assert (name, steps) == ("nanoGPT", 2)
    assert numpy_loss == pytest.approx(torch_loss, rel=1e-5)
    assert numba_loss == pytest.approx(torch_loss, rel=1e-5)
    line = loss_table.format_row(row)
    assert line.startswith("| nanoGPT | 2 | ") and line.count("|") == 7


def test_max_relative_difference():
    assert loss_table.max_rel_diff(1.0, 1.5, 2.0) == 0.5
    assert loss_table.format_row(("p", 3, 1.0, 1.0, 1.0)).endswith("| 0.0e+00 |")
