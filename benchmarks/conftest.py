"""Benchmark fixtures: every case runs once per implementation of the same work.

An implementation is a tensorlite backend ("tensorlite-numpy", ...), PyTorch ("torch", when
installed) or a hand-written reference ("numpy-hand").  One that cannot run here is skipped
with its reason, which the report prints.
"""
import pytest

import tensorlite as tl

try:
    import torch
except ImportError:  # the torch rows are skipped, with this reason
    torch = None

IMPLS = [f"tensorlite-{name}" for name in tl.backends.known()] + ["torch", "numpy-hand"]


def skip_reason(impl):
    if impl.startswith("tensorlite-"):
        return tl.backends.unavailable_reason(impl.removeprefix("tensorlite-"))
    if impl == "torch" and torch is None:
        return "torch is not installed (pip install 'tensorlite[test]')"
    return None


@pytest.fixture(params=IMPLS)
def impl(request):
    """The implementation's name; inside the test, tensorlite runs on that backend."""
    reason = skip_reason(request.param)
    if reason:
        pytest.skip(reason)
    if request.param.startswith("tensorlite-"):
        with tl.use_backend(request.param.removeprefix("tensorlite-")):
            yield request.param
    else:
        yield request.param
