"""Shared fixtures: one conformance suite, parametrized over every registered backend.

A backend that cannot run here is skipped with the reason the registry gives, never passed
silently. Backend state and random seeds are scoped per test.
"""
import zlib
from collections import Counter

import numpy as np
import pytest

import tensorlite as tl

BACKENDS = list(tl.backends.known())


def _seed(request):
    """A seed fixed per test and identical across backends (the backend id is dropped)."""
    callspec = getattr(request.node, "callspec", None)
    parts = [p for p in callspec.id.split("-") if p not in BACKENDS] if callspec else []
    key = f"{request.node.module.__name__}::{request.node.originalname}[{'-'.join(parts)}]"
    return zlib.crc32(key.encode())


@pytest.fixture(autouse=True)
def _scoped_state(request):
    """Seed NumPy's global generator and tensorlite's (which a fresh process seeds from the OS);
    check that no test leaks a backend switch or no_grad."""
    np.random.seed(_seed(request))
    tl.manual_seed(_seed(request))
    before = tl.get_backend().name
    yield
    assert tl.get_backend().name == before, "a test leaked a backend switch"
    probe = tl.tensor([1.0], device=tl.get_backend().device, requires_grad=True) * 1.0
    assert probe.requires_grad, "a test left grad mode disabled"


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Run the test under one backend; yields the backend object (`.name`, `.device`)."""
    name = request.param
    if name not in tl.backends.available():
        pytest.skip(tl.backends.unavailable_reason(name) or f"backend {name!r} is not available")
    with tl.use_backend(name):
        tl.manual_seed(_seed(request))
        yield tl.get_backend()


@pytest.fixture
def device(backend):
    return backend.device


@pytest.fixture(params=["serial", "parallel"])
def nb(request, monkeypatch):
    """The numba backend with its kernels forced onto one thread or onto the pool."""
    reason = tl.backends.unavailable_reason("numba")
    if reason:
        pytest.skip(reason)
    B = tl.backends.get("numba")
    monkeypatch.setattr(B, "PARALLEL_MIN", 1 << 62 if request.param == "serial" else 1)
    return B


@pytest.fixture
def rng(request):
    return np.random.default_rng(_seed(request))


def pytest_terminal_summary(terminalreporter):
    """Every skip, grouped by its reason, so an unavailable backend is never silent."""
    reasons = Counter(rep.longrepr[2].removeprefix("Skipped: ")
                      for rep in terminalreporter.stats.get("skipped", [])
                      if isinstance(rep.longrepr, tuple))
    if reasons:
        terminalreporter.section("skipped tests, by reason")
        for reason, n in reasons.most_common():
            terminalreporter.write_line(f"{n:6d}  {reason}")
