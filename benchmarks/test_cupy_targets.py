"""Issue 5's GPU targets: tensorlite on the cupy backend beside PyTorch CUDA eager and a
hand-written CuPy version of the same work.

- a training step (zero_grad, forward, cross-entropy, backward, SGD with momentum) of a
  784-512-512-10 ReLU MLP at batch 256 and of a 1024-4096-4096-1000 one at batch 4096, fp32;
- the fused bias + ReLU forward on 8192x8192 fp32, in effective TB/s (bytes read + written
  over the kernel's time), beside a device-to-device copy of the same array.

Only the GPU rows run here (tensorlite-cupy, torch-cuda, cupy-hand); the CPU rows of the
``impl`` fixture are skipped with that reason, and every GPU row is skipped with its own reason
on a machine without a GPU.  Every timed call ends with a device synchronization (the previous
call's left the device idle), the first calls (kernel compilation, memory pool growth) are
timed apart into ``extra_info["first_call_s"]``, and each row is checked against a float64
reference before it is timed, so a broken implementation fails instead of looking fast.
"""
import math
import time

import numpy as np
import pytest

import conftest
import tensorlite as tl
from conftest import torch
from test_training import framework_step, hand_mlp_step, mlp

# impl name -> kind, for the rows that run on the GPU (an older conftest has "torch" only)
GPU_ROWS = {"tensorlite-cupy": "tensorlite", "torch-cuda": "torch", "cupy-hand": "hand"}
if "torch-cuda" not in conftest.IMPLS:
    GPU_ROWS["torch"] = "torch"


def _cupy():
    """CuPy when it sees a GPU, else None."""
    try:
        import cupy
        return cupy if cupy.cuda.runtime.getDeviceCount() > 0 else None
    except Exception:  # not installed, no driver, no device
        return None


def _gpu_row(impl):
    """The row's kind ('tensorlite', 'torch', 'hand'), or a skip saying why it does not run."""
    kind = GPU_ROWS.get(str(impl))
    if kind is None:
        pytest.skip(f"{impl} runs on the cpu; these cases are the GPU targets (rows "
                    f"{', '.join(GPU_ROWS)})")
    if kind == "torch" and not torch.cuda.is_available():
        pytest.skip(f"torch {torch.__version__} has no usable CUDA device here")
    if kind == "hand" and _cupy() is None:
        pytest.skip("cupy cannot run here: " + (tl.backends.unavailable_reason("cupy") or
                                                "no CUDA device"))
    return kind


def _sync(kind):
    if kind == "torch":
        torch.cuda.synchronize()
    else:
        _cupy().cuda.Device().synchronize()


def _timed(benchmark, kind, fn, check, warmup=3):
    """Check ``fn``'s first outputs, then time it with pytest-benchmark, synchronized."""
    _sync(kind)
    start = time.perf_counter()
    out = fn()
    _sync(kind)
    benchmark.extra_info["first_call_s"] = time.perf_counter() - start
    check(out)
    for _ in range(warmup):
        fn()
    _sync(kind)

    def call():
        result = fn()
        _sync(kind)
        return result
    return benchmark(call)


def _host(kind, x):
    if kind == "torch":
        return x.detach().cpu().numpy()
    if isinstance(x, tl.Tensor):
        return x.detach().cpu().numpy()
    return _cupy().asnumpy(x)


# -- MLP training step ----------------------------------------------------------------------------
def _mlp_data(dims, batch):
    rng = np.random.default_rng(5)
    arrays = []
    for fan_in, fan_out in zip(dims[:-1], dims[1:]):
        bound = 1 / math.sqrt(fan_in)
        arrays += [rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32),
                   rng.uniform(-bound, bound, fan_out).astype(np.float32)]
    x = rng.standard_normal((batch, dims[0])).astype(np.float32)
    y = rng.integers(0, dims[-1], batch)
    return arrays, x, y


def _reference(arrays, x, y):
    """The hand-written step in float64, twice (on the GPU when CuPy can run): the second loss
    and the parameters."""
    xp = _cupy() or np
    params = [xp.asarray(a, dtype=np.float64) for a in arrays]
    step = hand_mlp_step(xp, params, xp.asarray(x, dtype=np.float64), xp.asarray(y))
    step()
    loss = step()
    to_np = (lambda a: xp.asnumpy(a)) if xp is not np else np.asarray
    return float(loss), [to_np(p) for p in params]


MLPS = [pytest.param((784, 512, 512, 10), 256, 1e-4, 1e-5, id="784-512-512-10-batch256"),
        pytest.param((1024, 4096, 4096, 1000), 4096, 1e-3, 1e-4,
                     id="1024-4096-4096-1000-batch4096")]


@pytest.mark.parametrize("dims,batch,rtol,atol", MLPS)
def test_mlp_training_step_gpu(benchmark, impl, dims, batch, rtol, atol):
    """One SGD-momentum training step of a ReLU MLP, fp32, on the GPU."""
    kind = _gpu_row(impl)
    arrays, x, y = _mlp_data(dims, batch)
    if kind == "hand":
        cp = _cupy()
        params = [cp.asarray(a) for a in arrays]
        step = hand_mlp_step(cp, params, cp.asarray(x), cp.asarray(y))
        params_of = lambda: params  # noqa: E731
    else:
        step, params_of = framework_step(impl, mlp(impl.lib.nn, dims), arrays, x, y)
    want_loss, want_params = _reference(arrays, x, y)

    def check(first_loss):
        loss = step()  # the second step: compare with the reference's second step
        _sync(kind)
        np.testing.assert_allclose(float(_host(kind, loss)), want_loss, rtol=rtol, atol=atol)
        for i, (p, want) in enumerate(zip(params_of(), want_params)):
            np.testing.assert_allclose(_host(kind, p), want, rtol=rtol, atol=atol,
                                       err_msg=f"{impl}: parameter {i} after two steps")
    benchmark.extra_info.update(device="cuda", parameters=sum(a.size for a in arrays),
                                batch=batch)
    _timed(benchmark, kind, step, check)


def test_mlp_step_interleaved_gpu(benchmark, impl):
    """The small MLP step on every GPU row in turn, 25 rounds of 40 synchronized steps: the
    small-MLP target is read from these medians, since a single row drifts with the host's
    load (the step is launch-bound: ~0.15 ms of GPU work under ~1 ms of host time)."""
    if impl != "tensorlite-cupy":
        pytest.skip("an interleaved comparison of the GPU rows: runs once, as the "
                    "tensorlite-cupy row")
    _gpu_row(impl)
    dims, batch = MLPS[0].values[:2]
    arrays, x, y = _mlp_data(dims, batch)

    def maker(name, kind):
        def make():
            if kind == "hand":
                cp = _cupy()
                step = hand_mlp_step(cp, [cp.asarray(a) for a in arrays], cp.asarray(x),
                                     cp.asarray(y))
            else:
                row = conftest.Impl(name)
                step = framework_step(row, mlp(row.lib.nn, dims), arrays, x, y)[0]

            def synced():
                step()
                _sync(kind)
            return synced
        return make
    makers = {}
    for name, kind in GPU_ROWS.items():
        try:
            _gpu_row(name)
        except pytest.skip.Exception:
            continue
        makers[name] = maker(name, kind)
    medians, samples = benchmark.pedantic(conftest.interleaved, (makers, 25, 40), rounds=1,
                                          iterations=1)
    conftest.record_interleaved(benchmark, medians, samples,
                                [("tensorlite-cupy", "torch-cuda"),
                                 ("tensorlite-cupy", "cupy-hand")])


# -- fused bias + ReLU forward ---------------------------------------------------------------------
BIAS_RELU_SHAPE = (8192, 8192)


def _gpu_seconds(kind, fn, repeat=50):
    """Median time of ``fn`` on the GPU by CUDA events (no launch or Python overhead)."""
    if kind == "torch":
        times = []
        for _ in range(repeat):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        return float(np.median(times))
    from cupyx.profiler import benchmark as cupy_benchmark
    return float(np.median(cupy_benchmark(fn, n_repeat=repeat, n_warmup=3).gpu_times))


def test_bias_relu_forward_gpu(benchmark, impl):
    """relu(x + b) for x 8192x8192 fp32 and b 8192: effective TB/s = (read x + write y) / time."""
    kind = _gpu_row(impl)
    rng = np.random.default_rng(6)
    x = rng.standard_normal(BIAS_RELU_SHAPE, dtype=np.float32)
    b = rng.standard_normal(BIAS_RELU_SHAPE[1], dtype=np.float32)
    if kind == "torch":
        xd, bd = torch.tensor(x, device="cuda"), torch.tensor(b, device="cuda")
        fn = lambda: torch.relu(xd + bd)  # noqa: E731  (PyTorch eager: two kernels)
        copy = lambda: xd.clone()  # noqa: E731
    else:
        cp = _cupy()
        xd, bd = cp.asarray(x), cp.asarray(b)
        if kind == "tensorlite":
            B = tl.get_backend()
            fn = lambda: B.bias_act(xd, bd, "relu")  # noqa: E731  (the backend's fused kernel)
        else:
            kernel = cp.ElementwiseKernel("T x, T b", "T y", "y = max(x + b, (T)0)",
                                          "hand_bias_relu")
            fn = lambda: kernel(xd, bd)  # noqa: E731
        copy = lambda: xd.copy()  # noqa: E731
    nbytes = 2 * x.nbytes + b.nbytes

    def check(y):
        rows = slice(0, 8192, 37)  # a spread of rows: relu(x + b) in fp32 is exact
        np.testing.assert_array_equal(_host(kind, y)[rows], np.maximum(x[rows] + b, 0))
    _timed(benchmark, kind, fn, check)
    seconds, copy_seconds = _gpu_seconds(kind, fn), _gpu_seconds(kind, copy)
    benchmark.extra_info.update(
        device="cuda", gpu_time_us=seconds * 1e6, effective_TBps=nbytes / seconds / 1e12,
        copy_TBps=2 * x.nbytes / copy_seconds / 1e12)
