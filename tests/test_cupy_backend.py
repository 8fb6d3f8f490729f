"""The cupy backend: what happens without CuPy or a GPU, its kernels against the NumPy reference,
and the front end on a "cuda" device.

Three groups of tests:
- without CuPy / a GPU (run everywhere): choosing cupy fails with an error naming what is
  missing and the install command, ``available()`` leaves it out, importing tensorlite never
  imports CuPy, and the conformance suite's ``backend`` fixture skips it with that reason;
- kernel checks (CupyBackend's primitives against NumpyBackend's on odd shapes) and device
  checks (the front end on "cuda" against the same program on "cpu"), each written once and run
  twice: on a real GPU through the ``backend`` fixture (skipped with its reason elsewhere), and on
  a host stand-in for CuPy (below), which runs CupyBackend's own Python code and its kernels'
  own source text on the CPU.

The host stand-in lives in tests/cupy_standin.py.
"""
import importlib.util
import itertools
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import tensorlite as tl
from tensorlite.backends.cupy_backend import CupyBackend
from tensorlite.backends.scalar_ops import ACTIVATIONS

from cupy_standin import host_cuda, host_cupy  # noqa: F401  (pytest fixtures used by name)

ROOT = Path(__file__).resolve().parents[1]
F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
INSTALL = 'pip install "tensorlite[cuda]"'
gpu = pytest.mark.parametrize("backend", ["cupy"], indirect=True)


# ================================================================================================
# Without CuPy or without a GPU
# ================================================================================================
def test_choosing_cupy_names_what_is_missing_and_the_install_command():
    reason = tl.backends.unavailable_reason("cupy")
    before = tl.get_backend().name
    if reason is None:  # a GPU machine: it is chosen, on cuda
        with tl.use_backend("cupy") as b:
            assert (b.name, b.device, tl.ones(2).device) == ("cupy", "cuda", "cuda")
        return
    with pytest.raises(RuntimeError) as info:
        tl.set_backend("cupy")
    msg = str(info.value)
    assert INSTALL in msg and "cupy" in msg
    if importlib.util.find_spec("cupy") is None:
        assert "CuPy is not installed" in msg
    else:
        assert "no CUDA device is visible" in msg or "cannot be imported" in msg
    assert tl.get_backend().name == before


@pytest.mark.parametrize("situation, error, words", [
    ("missing", ImportError, "CuPy is not installed"),
    ("broken", ImportError, "CuPy is installed but cannot be imported (libcudart.so.12"),
    ("no device", RuntimeError, "no CUDA device is visible (cupy.cuda.runtime.getDeviceCount() "
                                "returned 0)"),
    ("no driver", RuntimeError, "no CUDA device is visible (CUDARuntimeError: "
                                "cudaErrorNoDevice"),
])
def test_building_the_backend_says_which_piece_is_missing(situation, error, words, monkeypatch,
                                                          tmp_path):
    """Each failure CupyBackend() can meet, simulated (the real one is tested above)."""
    if situation == "missing":
        monkeypatch.setitem(sys.modules, "cupy", None)  # `import cupy` -> ModuleNotFoundError
    elif situation == "broken":  # installed, but its CUDA libraries do not load
        (tmp_path / "cupy").mkdir()
        (tmp_path / "cupy" / "__init__.py").write_text(
            "raise ImportError('libcudart.so.12: cannot open shared object file')\n")
        monkeypatch.delitem(sys.modules, "cupy", raising=False)
        monkeypatch.syspath_prepend(str(tmp_path))
    else:
        class CUDARuntimeError(RuntimeError):
            pass

        def count():
            if situation == "no driver":
                raise CUDARuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")
            return 0
        fake = types.ModuleType("cupy")
        fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=count))
        monkeypatch.setitem(sys.modules, "cupy", fake)
    with pytest.raises(error) as info:
        CupyBackend()
    assert words in str(info.value)


def test_available_leaves_cupy_out_exactly_when_it_cannot_run():
    reason = tl.backends.unavailable_reason("cupy")
    assert ("cupy" in tl.backends.available()) == (reason is None)
    assert "cupy" in tl.backends.known()
    if reason is not None:
        assert INSTALL in reason


def _run(args, **env):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, **env), timeout=300)


def test_importing_tensorlite_never_imports_cupy():
    code = ("import sys, tensorlite as tl\n"
            "import tensorlite.backends.cupy_backend, tensorlite.backends.cupy_kernels\n"
            "(tl.ones(3, requires_grad=True) * 2).sum().backward()\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('cupy', 'cupyx', 'cupy_backends')))\n")
    r = _run(["-c", code], TENSORLITE_BACKEND="numpy")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


@gpu
def test_backend_fixture_gives_cupy_on_cuda(backend):
    """The probe the next test runs: on a GPU machine it passes, elsewhere it is skipped."""
    assert (backend.name, backend.device, tl.get_backend().name) == ("cupy", "cuda", "cupy")
    assert tl.zeros(3).device == "cuda"


def test_conformance_backend_fixture_skips_cupy_with_its_reason():
    node = "tests/test_cupy_backend.py::test_backend_fixture_gives_cupy_on_cuda"
    r = _run(["-m", "pytest", node, "-rs", "-q", "-p", "no:cacheprovider"], COLUMNS="500")
    out = r.stdout + r.stderr
    reason = tl.backends.unavailable_reason("cupy")
    if reason is None:
        assert r.returncode == 0 and "1 passed" in out, out
    else:
        assert r.returncode == 0 and "1 skipped" in out, out
        assert reason in " ".join(out.split()), out  # -rs prints the registry's reason


# ================================================================================================
# Kernel checks: CupyBackend's primitives against NumpyBackend's, on odd shapes
# ================================================================================================
def _ref():
    return tl.backends.get("numpy")


def _same(B, got, want, exact, rtol=None, atol=None):
    """``got`` (a device array of B) equals the reference's ``want`` (bit for bit when exact;
    otherwise within the dtype's tolerance)."""
    assert isinstance(got, B.xp.ndarray), type(got)
    host = B.to_host(got)
    assert host.dtype == want.dtype and host.shape == want.shape, (host.dtype, host.shape,
                                                                   want.dtype, want.shape)
    if exact:
        np.testing.assert_array_equal(host, want)
    else:
        default = (1e-6, 1e-7) if want.dtype == F32 else (1e-13, 1e-15)
        np.testing.assert_allclose(host, want, rtol=rtol or default[0], atol=atol or default[1])


def _special(n, dt):
    vals = np.array([0.0, -0.0, 1.0, -1.0, 30.0, -30.0, 100.0, -100.0, np.inf, -np.inf, np.nan,
                     1e-30, -1e-30, 0.5, -0.5, 2.0], dtype=dt)
    return np.resize(vals, n)


def check_activation_grads(B, exact):
    ref, rng = _ref(), np.random.default_rng(1)
    for dt, act in itertools.product((F32, F64), ("relu", "tanh", "sigmoid")):
        x = rng.standard_normal((7, 13)).astype(dt)
        x[3] = _special(13, dt)
        y = getattr(ref, act)(x)
        g = rng.standard_normal((7, 13)).astype(dt)
        g_row = rng.standard_normal((1, 13)).astype(dt)
        variants = ((g, B.asarray(g)),                                           # contiguous
                    (np.broadcast_to(g_row, g.shape),                             # strides 0
                     B.xp.broadcast_to(B.asarray(g_row), g.shape)),
                    (g[:, ::-1], B.asarray(g)[:, ::-1]))                          # reversed view
        for host_g, dev_g in variants:
            want = getattr(ref, f"{act}_grad")(host_g, y)
            _same(B, getattr(B, f"{act}_grad")(dev_g, B.asarray(y)), want, exact)


def _quiet(check):
    """The reference warns of inf * 0 in GELU/softplus on the special values: expected."""
    def run(B, exact):
        with np.errstate(invalid="ignore"):
            check(B, exact)
    run.__name__ = check.__name__
    return run


@_quiet
def check_activations_and_bias_act(B, exact):
    """sigmoid and bias_act on the float4 path (float32, N % 4 == 0, aligned), the generic
    path (N % 4 != 0, float64, a misaligned or transposed view) and without a bias."""
    ref, rng = _ref(), np.random.default_rng(2)
    for dt, shape in ((F32, (5, 12)), (F32, (5, 10)), (F64, (3, 8)), (F32, (1, 4)),
                      (F32, (2, 3, 8))):
        x = rng.standard_normal(shape).astype(dt) * 3
        x.reshape(-1, shape[-1])[0] = _special(shape[-1], dt)
        b = rng.standard_normal(shape[-1]).astype(dt)
        _same(B, B.sigmoid(B.asarray(x)), ref.sigmoid(x), False)
        for act in ACTIVATIONS:
            want = ref.bias_act(x, b, act)
            dx = B.asarray(x)
            # (float32 GELU: 1 + erf(x / sqrt 2) rounds to 0 below x = -5.4 in float32, where
            # the reference's float64 polynomial still gives -1e-7: an absolute tolerance)
            tol = dict(rtol=4e-6, atol=1e-6) if dt == F32 else {}
            _same(B, B.bias_act(dx, B.asarray(b), act), want, False, **tol)
            _same(B, B.bias_act(dx, None, act), ref.bias_act(x, None, act), False, **tol)
            np.testing.assert_array_equal(B.to_host(dx), x)  # the input is not changed
    x = rng.standard_normal((5, 8)).astype(F32)
    b = rng.standard_normal(8).astype(F32)
    flat = B.asarray(np.concatenate([[0], x.ravel()]).astype(F32))
    misaligned = flat[1:].reshape(5, 8)  # contiguous, 4 bytes past a 16-byte boundary
    transposed = B.asarray(np.ascontiguousarray(x.T)).T
    for dx in (misaligned, transposed):
        for act in ACTIVATIONS:
            _same(B, B.bias_act(dx, B.asarray(b), act), ref.bias_act(x, b, act), False,
                  rtol=4e-6, atol=1e-6)


@_quiet
def check_generated_elementwise(B, exact):
    """The ops whose kernels are generated from their scalar descriptions (cupy_codegen): the
    forward (CUDA's erf/exp/tanh may differ from the host's by an ulp: a tolerance on the GPU)
    and GELU's gradient (arithmetic and erf/exp: bit for bit on the host)."""
    ref, rng = _ref(), np.random.default_rng(3)
    for dt in (F32, F64):
        x = (rng.standard_normal((6, 11)) * 3).astype(dt)
        x[2] = _special(11, dt)
        g = rng.standard_normal((6, 11)).astype(dt)
        dx = B.asarray(x)
        cases = [("relu", ()), ("erf", ()), ("sigmoid", ()), ("gelu", ("none",)),
                 ("gelu", ("tanh",)), ("softplus", (1.0, 20.0)), ("softplus", (2.5, 3.0)),
                 ("leaky_relu", (0.01,))]
        tol = dict(rtol=4e-6, atol=1e-6) if dt == F32 else dict(rtol=1e-13, atol=1e-15)
        for op, args in cases:
            _same(B, getattr(B, op)(dx, *args), getattr(ref, op)(x, *args), False, **tol)
        for approximate in ("none", "tanh"):
            _same(B, B.gelu_grad(B.asarray(g), dx, approximate),
                  ref.gelu_grad(g, x, approximate), False, **tol)
        np.testing.assert_array_equal(B.to_host(dx), x)  # inputs unchanged


def _softmax_inputs(rng, dt):
    yield rng.standard_normal((1, 1)).astype(dt)
    yield rng.standard_normal((3, 1)).astype(dt)
    x = rng.standard_normal((6, 33)).astype(dt)
    x[1] *= 1e4                      # large logits: the max is taken out first
    x[2, :5] = -np.inf               # some -inf: probability 0, log-probability -inf
    x[3] = -np.inf                   # all -inf: NaN, as the reference
    x[4, 7] = np.nan                 # a NaN: the whole row is NaN
    yield x
    yield rng.standard_normal((2, 700)).astype(dt) * 5   # more columns than threads
    yield rng.standard_normal((2, 3, 5)).astype(dt)       # leading dims


def check_softmax(B, exact):
    ref, rng = _ref(), np.random.default_rng(3)
    for dt in (F32, F64):
        tol = (2e-6, 1e-6) if dt == F32 else (1e-12, 1e-13)
        for x in _softmax_inputs(rng, dt):
            for name in ("softmax", "log_softmax"):
                for axis in sorted({x.ndim - 1, 0}):  # the row kernel, and the reference path
                    with np.errstate(invalid="ignore"):  # the all -inf row: -inf - -inf
                        want = getattr(ref, name)(x, axis)
                        got = getattr(B, name)(B.asarray(x), axis)
                    _same(B, got, want, False, *tol)
            if x.ndim == 2 and x.shape[1] > 1:  # a transposed (non-contiguous) input
                with np.errstate(invalid="ignore"):
                    want = ref.log_softmax(x, 1)
                    got = B.log_softmax(B.asarray(np.ascontiguousarray(x.T)).T, 1)
                _same(B, got, want, False, *tol)


def check_log_softmax_pick(B, exact):
    ref, rng = _ref(), np.random.default_rng(4)
    for dt in (F32, F64):
        tol = (2e-6, 1e-6) if dt == F32 else (1e-12, 1e-13)
        for m, c in ((7, 5), (1, 1), (3, 700), (40, 10)):
            x = rng.standard_normal((m, c)).astype(dt) * 4
            t = rng.integers(0, c, m)
            t[0], t[-1] = 0, c - 1
            want_logp, want_picked = ref.log_softmax_pick(x, t)
            for dx, dt_ in ((B.asarray(x), B.asarray(t)),
                            (B.asarray(np.ascontiguousarray(x.T)).T,
                             B.asarray(np.repeat(t, 2))[::2])):
                logp, picked = B.log_softmax_pick(dx, dt_)
                _same(B, logp, want_logp, False, *tol)
                _same(B, picked, want_picked, False, *tol)


def _states(rng, shape, dt, n):
    return [rng.standard_normal(shape).astype(dt) for _ in range(n)]


def check_sgd_step(B, exact):
    ref, rng = _ref(), np.random.default_rng(5)
    options = itertools.product((F32, F64), (0.0, 0.9), (0.0, 0.25), (False, True), (0.0, 0.01),
                                (False, True))
    for dt, momentum, dampening, nesterov, wd, maximize in options:
        if nesterov and (momentum == 0 or dampening):
            continue
        p, buf = _states(rng, (5, 7), dt, 2)
        dp, dbuf = B.asarray(p), B.asarray(buf)
        use_buf = momentum != 0
        for step in range(3):
            g = rng.standard_normal((5, 7)).astype(dt)
            kw = dict(momentum=momentum, dampening=dampening, weight_decay=wd,
                      nesterov=nesterov, maximize=maximize, first=step == 0)
            ref.sgd_step(p, g, buf if use_buf else None, 0.1, **kw)
            B.sgd_step(dp, B.asarray(g), dbuf if use_buf else None, 0.1, **kw)
            _same(B, dp, p, exact)
            if use_buf:
                _same(B, dbuf, buf, exact)


def check_adam_step(B, exact):
    ref, rng = _ref(), np.random.default_rng(6)
    options = itertools.product((F32, F64), (False, True), (0.0, 0.05), (False, True),
                                (False, True), (0.9, 0.3))
    for dt, amsgrad, wd, decoupled, maximize, beta1 in options:
        p = rng.standard_normal((4, 9)).astype(dt)
        m, v, vmax = (np.zeros_like(p) for _ in range(3))
        dev = [B.asarray(a) for a in (p, m, v, vmax)]
        for step in range(1, 4):
            g = rng.standard_normal((4, 9)).astype(dt)
            kw = dict(weight_decay=wd, decoupled_weight_decay=decoupled, maximize=maximize)
            ref.adam_step(p, g, m, v, vmax if amsgrad else None, step, 1e-2, beta1, 0.999,
                          1e-8, **kw)
            B.adam_step(dev[0], B.asarray(g), dev[1], dev[2], dev[3] if amsgrad else None, step,
                        1e-2, beta1, 0.999, 1e-8, **kw)
            for got, want in zip(dev, (p, m, v, vmax) if amsgrad else (p, m, v)):
                _same(B, got, want, exact)


def check_index_add_and_scatter_add(B, exact):
    ref, rng = _ref(), np.random.default_rng(7)
    tol = dict(rtol=1e-6, atol=1e-6)  # atomics add in any order
    for dt in (F32, F64):
        values = rng.standard_normal((6, 3)).astype(dt)
        rows = np.array([0, 2, 2, 1, 2, 0])
        cases = [((rows,), values),
                 ((rows, np.array([1, 1, 0, 2, 1, 1])), values[:, 0]),
                 ((np.array([True, False, True, True]),), values[:3]),
                 ((slice(1, 3),), values[:2])]
        for index, vals in cases:
            want = ref.index_add((4, 3), dt, index, vals)
            dev_index = tuple(B.asarray(i) if isinstance(i, np.ndarray) else i for i in index)
            _same(B, B.index_add((4, 3), dt, dev_index, B.asarray(vals)), want, False, **tol)
        idx = rng.integers(0, 4, (5, 3))
        for axis in (0, 1):
            shape = (4, 3) if axis == 0 else (5, 4)
            want = ref.scatter_add(shape, axis, idx, values[:5])
            _same(B, B.scatter_add(shape, axis, B.asarray(idx), B.asarray(values[:5])), want,
                  False, **tol)


def check_random(B, exact):
    for dt in (F32, F64, np.dtype(np.float16)):
        B.seed(123)
        a = B.to_host(B.rand((3, 4), dt))
        B.seed(123)
        assert np.array_equal(a, B.to_host(B.rand((3, 4), dt)))
        assert a.dtype == dt and a.shape == (3, 4) and (a >= 0).all()
        assert (a < 1).all() if dt != np.float16 else (a <= 1).all()  # float16 rounds up to 1
        n = B.to_host(B.randn((2000,), dt)).astype(np.float64)
        assert n.dtype == np.float64 and abs(n.mean()) < 0.15 and 0.85 < n.std() < 1.15
    r = B.to_host(B.randint(-3, 4, (500,), np.dtype(np.int64)))
    assert r.dtype == np.int64 and r.min() == -3 and r.max() == 3
    assert B.to_host(B.randint(0, 5, (7,), np.dtype(np.int32))).dtype == np.int32
    for fn, args in ((B.rand, ((0, 3), F32)), (B.randn, ((2, 0), F64)),
                     (B.randint, (0, 5, (0,), np.dtype(np.int64)))):
        assert B.to_host(fn(*args)).shape == args[-2]
    with pytest.raises(ValueError):
        B.randint(5, 5, (3,), np.dtype(np.int64))


def check_conversions(B, exact):
    host = np.arange(6, dtype=np.float64).reshape(2, 3)
    dev = B.asarray(host)
    assert isinstance(dev, B.xp.ndarray) and dev.dtype == F64
    host[0, 0] = 99.0  # a copy on the device: the host array is not aliased
    back = B.to_host(dev)
    assert type(back) is np.ndarray and back[0, 0] == 0.0
    assert B.asarray(dev) is dev
    assert B.to_host(B.asarray(dev, dtype=F32)).dtype == F32
    assert B.to_host(B.asarray(2.5, dtype=F32)).shape == ()


def check_matmul_layouts(B, exact):
    """cuBLAS called directly: C- and F-ordered operands, one row or column, against NumPy."""
    rng = np.random.default_rng(12)
    for dt in (F32, F64):
        for m, k, n in ((5, 3, 4), (1, 7, 2), (6, 1, 3), (4, 5, 1)):
            a, b = rng.standard_normal((m, k)).astype(dt), rng.standard_normal((k, n)).astype(dt)
            for order_a in "CF":
                for order_b in "CF":
                    got = B.matmul(B.asarray(np.asarray(a, order=order_a)),
                                   B.asarray(np.asarray(b, order=order_b)))
                    _same(B, got, a @ b, False, rtol=1e-5 if dt == F32 else 1e-12, atol=1e-6)
        a, b = rng.standard_normal((6, 8)).astype(dt), rng.standard_normal((4, 3)).astype(dt)
        strided = B.asarray(a)[:, ::2]  # neither C nor F order: CuPy's matmul
        _same(B, B.matmul(strided, B.asarray(b)), a[:, ::2] @ b, False, rtol=1e-5, atol=1e-5)


def check_linear_act_grad_bias(B, exact):
    rng = np.random.default_rng(13)
    for dt in (F32, F64):
        g, y = rng.standard_normal((7, 5)).astype(dt), rng.standard_normal((7, 5)).astype(dt)
        gz, gb = B.linear_act_grad(B.asarray(g), B.asarray(y), "relu")
        want = np.where(y > 0, g, 0).astype(dt)
        _same(B, gz, want, exact)
        _same(B, gb, want.sum(0), False, rtol=1e-5 if dt == F32 else 1e-12, atol=1e-6)


def check_cross_entropy_primitives(B, exact):
    ref, rng = _ref(), np.random.default_rng(14)
    t = np.array([0, 3, -100, 4, 7, -1, 2, 2])
    assert ref.class_target_stats(t, 5, -100) == (2, 1)  # 7 and -1 out of range; one ignored
    for C, ignore, want in ((6, -100, (0, 0)), (6, 2, (0, 1)), (5, -100, (1, 0)), (5, 5, (0, 1))):
        assert ref.class_target_stats(np.arange(6), C, ignore) == want
    assert ref.class_target_stats(np.arange(0), 3, -100) == (0, 0)
    for C, ignore in ((5, -100), (8, -100), (5, 2), (9, 7)):
        assert B.class_target_stats(B.asarray(t), C, ignore) == \
            ref.class_target_stats(t, C, ignore)
    assert B.class_target_stats(B.asarray(np.arange(1000) % 7), 7, -100) == (0, 0)
    assert B.class_target_stats(B.asarray(np.full(1000, 3)), 3, -100) == (1000, 0)
    target = np.array([2, 0, 4, 4, 1, 3])
    for dt in (F32, F64):
        logp = ref.log_softmax(rng.standard_normal((6, 5)).astype(dt), 1)
        for scale in (np.asarray(0.25, dt), rng.standard_normal((6, 1)).astype(dt)):
            want = ref.cross_entropy_grad(logp.copy(), target, scale)
            got = B.cross_entropy_grad(B.asarray(logp), B.asarray(target), B.asarray(scale))
            _same(B, got, want, False, rtol=1e-6 if dt == F32 else 1e-14)


KERNEL_CHECKS = [check_matmul_layouts, check_linear_act_grad_bias,
                 check_cross_entropy_primitives, check_activation_grads, check_activations_and_bias_act,
                 check_generated_elementwise, check_softmax,
                 check_log_softmax_pick, check_sgd_step, check_adam_step,
                 check_index_add_and_scatter_add, check_random, check_conversions]


@pytest.mark.parametrize("check", KERNEL_CHECKS, ids=lambda f: f.__name__[6:])
def test_kernels_on_the_host_stand_in(check, host_cupy):
    check(host_cupy, exact=True)


@gpu
@pytest.mark.parametrize("check", KERNEL_CHECKS, ids=lambda f: f.__name__[6:])
def test_kernels_on_the_gpu(check, backend):
    check(backend, exact=False)


# ================================================================================================
# Device checks: the front end on "cuda" against the same program on "cpu"
# ================================================================================================
def _np(t):
    return np.asarray(t.detach().cpu().numpy())


def check_mixed_devices_raise_naming_both():
    a, b = tl.ones(2, device="cpu"), tl.ones(2, device="cuda")
    for fn in (lambda: a + b, lambda: b * a, lambda: tl.ones(2, 2, device="cpu") @
               tl.ones(2, 2, device="cuda"), lambda: tl.where(a > 0, a, b),
               lambda: tl.nn.functional.linear(tl.ones(3, 2, device="cuda"),
                                               tl.ones(4, 2, device="cpu")),
               lambda: tl.nn.functional.cross_entropy(tl.ones(3, 4, device="cuda"),
                                                      tl.zeros(3, dtype=tl.int64, device="cpu")),
               lambda: a.to("cuda").add_(a)):
        with pytest.raises(RuntimeError) as info:
            fn()
        assert "cpu" in str(info.value) and "cuda" in str(info.value), str(info.value)


def check_to_and_back():
    host = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = tl.tensor(host, device="cuda")
    host[0, 0] = -1.0
    assert t.device == "cuda" and isinstance(t._data, tl.get_backend().xp.ndarray)
    c = t.cpu()
    assert c.device == "cpu" and type(c._data) is np.ndarray and c.numpy()[0, 0] == 0.0
    assert t.to("cuda") is t and c.to("cpu") is c
    back = c.to("cuda").to(tl.float64)
    assert (back.device, back.dtype) == ("cuda", tl.float64)
    np.testing.assert_array_equal(_np(back), np.arange(12).reshape(3, 4))
    with pytest.raises(TypeError):
        t.numpy()
    assert t.sum().item() == 66.0 and t[1].tolist() == [4.0, 5.0, 6.0, 7.0]
    assert "device='cuda'" in repr(t)
    assert tl.ones(2).device == "cuda" and tl.ones(2, device="cpu").device == "cpu"
    B, to_host = tl.get_backend(), tl.get_backend().to_host
    B.to_host = lambda x: pytest.fail("tl.tensor(a cuda tensor) went through the host")
    try:
        same, cast = tl.tensor(t), tl.tensor(t, dtype=tl.float64, device="cuda")
    finally:
        B.to_host = to_host
    t[0, 1] = 100.0  # copies: the source changes alone
    assert (same.device, same.dtype, cast.device, cast.dtype) == ("cuda", tl.float32, "cuda",
                                                                  tl.float64)
    np.testing.assert_array_equal(_np(same), np.arange(12).reshape(3, 4))
    np.testing.assert_array_equal(_np(cast), np.arange(12).reshape(3, 4))


def check_gradients_cross_to():
    x = tl.tensor([1.0, -2.0, 3.0], dtype=tl.float64, requires_grad=True, device="cpu")
    w = tl.tensor([0.5, 4.0, -1.0], dtype=tl.float64, requires_grad=True, device="cuda")
    y = (x.to("cuda") * w).tanh().sum()
    y.backward()
    assert (x.grad.device, w.grad.device) == ("cpu", "cuda")
    xv, wv = np.array([1.0, -2.0, 3.0]), np.array([0.5, 4.0, -1.0])
    d = 1 - np.tanh(xv * wv) ** 2
    np.testing.assert_allclose(_np(x.grad), d * wv, rtol=1e-12)
    np.testing.assert_allclose(_np(w.grad), d * xv, rtol=1e-12)
    z = tl.tensor([2.0], requires_grad=True, device="cuda")
    (z.cpu() * 3).sum().backward()
    assert z.grad.device == "cuda" and _np(z.grad).tolist() == [3.0]


def _train(device, optimizer, steps=2):
    """A small MLP trained on ``device`` from fixed float64 weights: the losses and parameters."""
    rng = np.random.default_rng(8)
    nn = tl.nn
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(),
                          nn.Linear(8, 3)).to(tl.float64)
    with tl.no_grad():
        for p in model.parameters():
            p.copy_(tl.tensor(rng.standard_normal(p.shape), dtype=tl.float64))
    model.to(device)
    opt = optimizer(model.parameters())
    x = tl.tensor(rng.standard_normal((5, 6)), device=device)
    y = tl.tensor(rng.integers(0, 3, 5), device=device)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = tl.nn.functional.cross_entropy(model(x), y, label_smoothing=0.1)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, [_np(p) for p in model.parameters()]


def check_training_matches_cpu():
    for opt in (lambda p: tl.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-3),
                lambda p: tl.optim.Adam(p, lr=1e-2, amsgrad=True),
                lambda p: tl.optim.AdamW(p, lr=1e-2)):
        cuda_losses, cuda_params = _train("cuda", opt)
        cpu_losses, cpu_params = _train("cpu", opt)
        np.testing.assert_allclose(cuda_losses, cpu_losses, rtol=1e-10)
        for a, b in zip(cuda_params, cpu_params):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def check_linear_activation_float32_matches_cpu():
    """Linear then an activation (one fused op where the front end fuses Sequential), float32
    with 8 outputs: the float4 bias + activation kernel on the cupy backend."""
    rng = np.random.default_rng(12)
    x, g = rng.standard_normal((5, 6)).astype(np.float32), rng.standard_normal((5, 8))
    weights = [rng.standard_normal((8, 6)).astype(np.float32),
               rng.standard_normal(8).astype(np.float32)]
    for act in (tl.nn.ReLU, tl.nn.Tanh, tl.nn.Sigmoid):
        results = []
        for device in ("cuda", "cpu"):
            model = tl.nn.Sequential(tl.nn.Linear(6, 8), act())
            with tl.no_grad():
                for p, w in zip(model.parameters(), weights):
                    p.copy_(tl.tensor(w))
            model.to(device)
            xt = tl.tensor(x, device=device, requires_grad=True)
            y = model(xt)
            y.backward(tl.tensor(g, dtype=tl.float32, device=device))
            results.append([_np(y), _np(xt.grad)] + [_np(p.grad) for p in model.parameters()])
        for a, b in zip(*results):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _same_on_both(fn, *arrays, rtol=1e-10, atol=1e-12):
    """fn(*tensors) forward and input gradients (random upstream) on cuda equal those on cpu."""
    results = []
    for device in ("cuda", "cpu"):
        ts = [tl.tensor(a, device=device, requires_grad=a.dtype.kind == "f") for a in arrays]
        out = fn(*ts)
        g = tl.tensor(np.random.default_rng(9).standard_normal(out.shape), dtype=out.dtype,
                      device=device)
        out.backward(g)
        assert out.device == device
        results.append([_np(out)] + [None if t.grad is None else _np(t.grad) for t in ts])
    for a, b in zip(*results):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def check_ops_match_cpu():
    rng = np.random.default_rng(10)
    F = tl.nn.functional
    x, w = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    _same_on_both(lambda x, w: F.avg_pool2d(F.max_pool2d(F.relu(F.conv2d(x, w, padding=1)), 2),
                                            2, count_include_pad=False, padding=1), x, w)
    _same_on_both(lambda x: F.pad(x, (1, 2, 2, 1), mode="reflect").sigmoid(), x)
    logits, target = rng.standard_normal((6, 4)), np.array([0, 3, 1, -100, 2, 3])
    weight = rng.uniform(0.5, 2, 4)
    _same_on_both(lambda z, w: F.cross_entropy(z, tl.tensor(target, device=z.device), weight=w,
                                               ignore_index=-100), logits, weight)
    _same_on_both(lambda z: F.nll_loss(z.log_softmax(1), tl.tensor(target, device=z.device),
                                       reduction="sum"), logits)
    p, t = rng.uniform(0.05, 0.95, (3, 4)), rng.uniform(0, 1, (3, 4))
    _same_on_both(lambda p, t: F.binary_cross_entropy(p, t) + F.binary_cross_entropy_with_logits(
        p, t, pos_weight=t[0]) + F.mse_loss(p, t) + F.smooth_l1_loss(p, t), p, t)
    table, idx = rng.standard_normal((7, 3)), np.array([[1, 6, 1], [0, 1, 5]])
    _same_on_both(lambda e: F.embedding(tl.tensor(idx, device=e.device), e, padding_idx=6), table)
    _same_on_both(lambda a: a[tl.tensor([2, 0, 2], device=a.device)].gather(
        1, tl.tensor([[0, 0], [2, 1], [1, 1]], device=a.device)), table)
    _same_on_both(lambda a: a.masked_fill(a > 0.5, 0.0).softmax(0).amax(1), table)
    _same_on_both(lambda a, g, b: F.layer_norm(a, (3,), g, b) + F.gelu(a), table,
                  rng.standard_normal(3), rng.standard_normal(3))
    _same_on_both(lambda a: F.batch_norm(a, None, None, training=True), table)


def check_tools_on_device():
    rng = np.random.default_rng(11)
    p = tl.tensor(rng.standard_normal(5), device="cuda", requires_grad=True)
    (p * p).sum().backward()
    total = tl.nn.utils.clip_grad_norm_([p], 1.0)
    assert total.device == "cuda" and abs(total.item() - 2 * np.linalg.norm(_np(p))) < 1e-5
    assert abs(np.linalg.norm(_np(p.grad)) - 1.0) < 1e-5
    data = tl.data.TensorDataset(tl.arange(10, device="cuda"), tl.arange(10, device="cuda") * 2)
    seen = []
    for a, b in tl.data.DataLoader(data, batch_size=4, shuffle=True):
        assert a.device == b.device == "cuda"
        assert (_np(b) == 2 * _np(a)).all()
        seen += _np(a).tolist()
    assert sorted(seen) == list(range(10))
    tl.manual_seed(3)
    r1 = [_np(tl.rand(3)), _np(tl.randn(3)), _np(tl.randint(0, 9, (3,))), _np(tl.randperm(5))]
    tl.manual_seed(3)
    r2 = [_np(tl.rand(3)), _np(tl.randn(3)), _np(tl.randint(0, 9, (3,))), _np(tl.randperm(5))]
    for a, b in zip(r1, r2):
        np.testing.assert_array_equal(a, b)
    assert sorted(r1[3].tolist()) == list(range(5))
    d = tl.nn.functional.dropout(tl.ones(1000), 0.25)
    assert d.device == "cuda" and 0.6 < (_np(d) > 0).mean() < 0.9


DEVICE_CHECKS = [check_mixed_devices_raise_naming_both, check_to_and_back,
                 check_gradients_cross_to, check_training_matches_cpu,
                 check_linear_activation_float32_matches_cpu, check_ops_match_cpu,
                 check_tools_on_device]


@pytest.mark.parametrize("check", DEVICE_CHECKS, ids=lambda f: f.__name__[6:])
def test_front_end_on_the_host_stand_in(check, host_cuda):
    check()


@gpu
@pytest.mark.parametrize("check", DEVICE_CHECKS, ids=lambda f: f.__name__[6:])
def test_front_end_on_the_gpu(check, backend):
    check()


@gpu
def test_dlpack_shares_device_memory(backend):
    xp = backend.xp
    a = xp.arange(6, dtype=xp.float32)
    t = tl.from_dlpack(a)
    assert t.device == "cuda"
    a[0] = 7.0
    assert t[0].item() == 7.0
    b = xp.from_dlpack(t)
    b[1] = -1.0
    assert t[1].item() == -1.0
    with pytest.raises(TypeError):
        backend.from_dlpack(np.arange(3.0))
