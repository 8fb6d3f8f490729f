"""The backend registry and backend selection."""
import os
import subprocess
import sys

import numpy as np
import pytest

import tensorlite as tl
from helpers import to_np


def test_registry_lists_all_backends():
    known = tl.backends.known()
    assert {"numpy", "numba", "cupy"} <= set(known)
    available = tl.backends.available()
    assert "numpy" in available
    assert set(available) <= set(known)
    for name in known:
        reason = tl.backends.unavailable_reason(name)
        if name in available:
            assert reason is None, f"{name} is available but has a reason: {reason}"
        else:
            assert isinstance(reason, str) and reason.strip(), f"{name} gives no reason"


def test_unavailable_reason_for_missing_package():
    try:
        import cupy  # noqa: F401
        pytest.skip("cupy is installed here; its reason (if any) is about the GPU")
    except ImportError:
        pass
    reason = tl.backends.unavailable_reason("cupy")
    assert "cupy" in reason.lower()


def test_backend_fixture_selects_backend(backend):
    assert tl.get_backend().name in tl.backends.known()
    assert tl.get_backend() is backend or tl.get_backend().name == backend.name
    assert backend.device in ("cpu", "cuda")
    x = tl.ones(2, device=backend.device)
    assert x.device == backend.device


@pytest.mark.parametrize("name", ["numpy", "numba", "cupy"])
def test_use_backend_switches_and_restores(name):
    if name not in tl.backends.available():
        pytest.skip(tl.backends.unavailable_reason(name))
    before = tl.get_backend().name
    with tl.use_backend(name):
        assert tl.get_backend().name == name
        with tl.use_backend("numpy"):
            assert tl.get_backend().name == "numpy"
        assert tl.get_backend().name == name
    assert tl.get_backend().name == before


def test_use_backend_restores_on_exception():
    before = tl.get_backend().name
    other = next(n for n in tl.backends.available() if n != before) if len(
        tl.backends.available()) > 1 else before
    with pytest.raises(ZeroDivisionError):
        with tl.use_backend(other):
            assert tl.get_backend().name == other
            1 / 0
    assert tl.get_backend().name == before


def test_set_backend():
    before = tl.get_backend().name
    try:
        for name in tl.backends.available():
            tl.set_backend(name)
            assert tl.get_backend().name == name
    finally:
        tl.set_backend(before)
    assert tl.get_backend().name == before


@pytest.mark.parametrize("enter", [tl.set_backend, lambda n: tl.use_backend(n).__enter__()])
def test_unknown_backend_error_lists_known(enter):
    before = tl.get_backend().name
    with pytest.raises(ValueError) as info:
        enter("bogus")
    msg = str(info.value)
    assert "bogus" in msg
    for name in tl.backends.known():
        assert name in msg
    assert tl.get_backend().name == before


def _run_python(code, **env):
    full = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full, timeout=120)


def test_unknown_backend_in_environment_fails_import():
    r = _run_python("import tensorlite", TENSORLITE_BACKEND="bogus")
    assert r.returncode != 0
    assert "bogus" in r.stderr
    for name in ("numpy", "numba", "cupy"):
        assert name in r.stderr
    assert "ValueError" in r.stderr


def test_source_tree_on_sys_path_finds_backends_folder():
    """With only the source tree on sys.path (no install's mapping of backends/ to
    tensorlite.backends), importing tensorlite still finds the backends folder."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(tl.__file__)))
    code = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path "
            "if 'editable' not in getattr(f, '__module__', '').lower()]; "
            f"sys.path.insert(0, {root!r}); import tensorlite as tl; "
            "print(tl.backends.__file__, tl.get_backend().name)")
    r = _run_python(code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [os.path.join(root, "backends", "__init__.py"), "numpy"]


@pytest.mark.parametrize("name", ["numpy", "numba"])
def test_backend_from_environment(name):
    r = _run_python("import tensorlite as tl; print(tl.get_backend().name)",
                    TENSORLITE_BACKEND=name)
    if name not in tl.backends.available():
        assert r.returncode != 0 and name in r.stderr
        return
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == name


def test_host_backends_share_tensors():
    """numpy and numba share host arrays: a tensor made under one is usable under the other."""
    hosts = [n for n in tl.backends.available() if n in ("numpy", "numba")]
    if len(hosts) < 2:
        pytest.skip("needs both numpy and numba: "
                    f"{tl.backends.unavailable_reason('numba')}")
    with tl.use_backend(hosts[0]):
        x = tl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with tl.use_backend(hosts[1]):
        y = (x * x).sum()
        y.backward()
    np.testing.assert_array_equal(to_np(x.grad), [2.0, 4.0, 6.0])
    assert y.item() == 14.0
