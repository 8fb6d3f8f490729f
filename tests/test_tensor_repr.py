"""Tensor printing wraps lines as PyTorch's (linewidth 80): the same values a line."""
import numpy as np
import pytest
import torch

import tensorlite as tl

_rng = np.random.default_rng(0)
CASES = {
    "float32": _rng.standard_normal(30).astype(np.float32),
    "float32 positive": _rng.random(30).astype(np.float32),
    "float64 2-d": _rng.standard_normal((3, 20)),
    "float32 3-d": _rng.standard_normal((2, 3, 12)).astype(np.float32),
    "scientific": (_rng.standard_normal(30) * 1e-6).astype(np.float32),
    "whole floats": np.arange(-20, 20).astype(np.float32),
    "int64": np.arange(-50, 50, 3),
    "int64 wide": _rng.integers(-10**6, 10**6, 40),
    "int32": np.arange(40, dtype=np.int32),
    "uint8": np.arange(60, dtype=np.uint8),
    "bool": _rng.random(40) > 0.5,
    "bool 2-d": _rng.random((2, 30)) > 0.5,
}


@pytest.mark.parametrize("name", list(CASES))
def test_repr_wraps_as_torch(name):
    a = CASES[name]
    ours = repr(tl.tensor(a)).replace("tensorlite.", "torch.")
    theirs = repr(torch.tensor(a))
    assert [line.count(",") for line in ours.splitlines()] == \
        [line.count(",") for line in theirs.splitlines()], (ours, theirs)
    assert ours == theirs
