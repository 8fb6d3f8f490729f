"""Issue 4's targets: tensorlite on the numba backend beside the numpy backend, PyTorch CPU
eager and a hand-written NumPy version of the same work.

- a training step (zero_grad, forward, cross-entropy, backward, plain SGD) of a 784-512-512-10
  ReLU MLP at batch 256, fp32: numba at most 1.0x torch and at most 1.15x numpy-hand;
- bias + ReLU forward on 256x4096 fp32 (the fused linear's second half, the backend primitive
  ``bias_act``): numba at least 4x faster than the numpy backend;
- a training step of a small CNN on digits-sized 1x8x8 images, conv-relu-pool-conv-relu-pool-
  linear at batch 64, SGD with momentum: numba at least 2x faster than the numpy backend;
- the numba backend's first-call compile time and its warm start-up (a fresh process with the
  on-disk kernel cache filled: ``import tensorlite`` + the first MLP step), target under 1 s.

The machine is shared and 2-core, so single rows drift with the load: the ``*_interleaved``
cases run the implementations in turn, block after block, and report the medians and their
ratios (``extra_info``, printed with -s); those are the figures the targets are read from.
The MLP rows take turns in one process each (PyTorch's OpenMP pool and OpenBLAS's threads in
one process slow each other down); the CNN and bias + ReLU cases compare the two tensorlite
backends, which share one process.
"""
import json
import math
import os
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np
import pytest

import tensorlite as tl
from conftest import (Impl, assert_close, interleaved, measure, record_interleaved, sizes,
                      skip_reason, torch)
from test_training import framework_step, hand_mlp_step

CPU_ROWS = ("tensorlite-numba", "tensorlite-numpy", "torch", "numpy-hand")
# the quick mode's smaller counts keep the report under 2 minutes on 2 cores
MLP_ROUNDS_STEPS = sizes(full=(15, 20), quick=(3, 4), tiny=(1, 1))
BIAS_RELU_ROUNDS_CALLS = sizes(full=(30, 20), quick=(10, 10), tiny=(1, 1))
STARTUP_WARM_PYC = sizes(full=(3, 4), quick=None, tiny=(1, 2))


def _cpu_row(impl):
    if impl.device != "cpu":
        pytest.skip(f"{impl} runs on {impl.device}; these are the CPU (numba) targets")


def _uniform(rng, shape, fan_in):
    bound = 1 / math.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape).astype(np.float32)


# -- MLP training step ----------------------------------------------------------------------------
DIMS, BATCH = (784, 512, 512, 10), 256


def _mlp_data():
    rng = np.random.default_rng(4)
    arrays = []
    for fan_in, fan_out in zip(DIMS[:-1], DIMS[1:]):
        arrays += [_uniform(rng, (fan_out, fan_in), fan_in), _uniform(rng, (fan_out,), fan_in)]
    return arrays, rng.standard_normal((BATCH, DIMS[0])).astype(np.float32), \
        rng.integers(0, DIMS[-1], BATCH)


def _mlp_step(impl, arrays, x, y):
    """(step, parameters) on ``impl``: tensorlite and torch run the same model code."""
    if impl.kind == "hand":
        params = [a.copy() for a in arrays]
        return hand_mlp_step(np, params, x, y, momentum=0), lambda: params
    nn = impl.lib.nn
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10))
    return framework_step(impl, model, arrays, x, y, momentum=0)


def _mlp_expected(arrays, x, y):
    params = [a.astype(np.float64) for a in arrays]
    step = hand_mlp_step(np, params, x.astype(np.float64), y, momentum=0)
    step()
    return step(), params


def _check_two_steps(impl, expected):
    loss64, params64 = expected

    def check(out):
        loss, params = out
        assert_close(impl, loss, loss64, rtol=1e-4, atol=1e-5, what="loss of step 2")
        for i, (got, want) in enumerate(zip(params(), params64)):
            assert_close(impl, got, want, rtol=1e-4, atol=1e-5, what=f"parameter {i}")
    return check


def test_mlp_step(benchmark, impl):
    """One plain-SGD training step of the 784-512-512-10 ReLU MLP, fp32, batch 256."""
    _cpu_row(impl)
    arrays, x, y = _mlp_data()
    step, params = _mlp_step(impl, arrays, x, y)
    benchmark.extra_info["parameters"] = sum(a.size for a in arrays)
    measure(benchmark, impl, lambda: (step(), params), _check_two_steps(
        impl, _mlp_expected(arrays, x, y)), calls_before_check=2)


# -- bias + ReLU forward --------------------------------------------------------------------------
def test_bias_relu_forward(benchmark, impl):
    """relu(z + b) for z 256x4096 and b 4096, fp32, into a new array: the backend's bias_act
    (tensorlite), torch.relu(z + b), np.maximum(z + b, 0)."""
    _cpu_row(impl)
    rng = np.random.default_rng(6)
    z, b = rng.standard_normal((256, 4096)).astype(np.float32), rng.standard_normal(4096).astype(
        np.float32)
    expected = np.maximum(z.astype(np.float64) + b, 0)
    if impl.kind == "tensorlite":
        B = tl.get_backend()
        fn = lambda: B.bias_act(z, b, "relu")  # noqa: E731
    elif impl.kind == "torch":
        tz, tb = torch.from_numpy(z), torch.from_numpy(b)
        fn = lambda: torch.relu(tz + tb)  # noqa: E731
    else:
        fn = lambda: np.maximum(z + b, 0)  # noqa: E731
    benchmark.extra_info["bytes_moved"] = 2 * z.nbytes + b.nbytes
    measure(benchmark, impl, fn, lambda out: assert_close(impl, out, expected, 1e-6, 1e-6),
            pure=True)


# -- small CNN training step on digits-sized images ----------------------------------------------
CNN_PARAMS = [((8, 1, 3, 3), 9), ((8,), 9), ((16, 8, 3, 3), 72), ((16,), 72), ((10, 64), 64),
              ((10,), 64)]  # (shape, fan_in) in the model's parameter order


def _cnn_step(impl, x, y):
    nn = impl.lib.nn
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 8x4x4
                          nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 16x2x2
                          nn.Flatten(), nn.Linear(64, 10))
    rng = np.random.default_rng(7)
    arrays = [_uniform(rng, shape, fan_in) for shape, fan_in in CNN_PARAMS]
    return framework_step(impl, model, arrays, x, y)


def _digits():
    rng = np.random.default_rng(8)
    return rng.standard_normal((64, 1, 8, 8)).astype(np.float32), rng.integers(0, 10, 64)


def _cnn_reference(x, y):
    """PyTorch's loss after two steps and parameters, or None without torch."""
    if torch is None:
        return None
    step, params = _cnn_step(Impl("torch"), x, y)
    step()
    loss = float(step().detach())
    return loss, [p.detach().numpy().astype(np.float64) for p in params()]


def test_cnn_step(benchmark, impl):
    """One SGD-momentum step of conv(1->8)-ReLU-pool-conv(8->16)-ReLU-pool-linear(64->10) on
    64 1x8x8 fp32 images; tensorlite's rows are checked against PyTorch after two steps."""
    _cpu_row(impl)
    if impl.kind == "hand":
        pytest.skip("no hand-written CNN row here (benchmarks/test_training.py has one)")
    x, y = _digits()
    step, params = _cnn_step(impl, x, y)
    want = _cnn_reference(x, y) if impl.kind == "tensorlite" else None

    def check(out):
        assert np.isfinite(float(impl.numpy(out[0]))), f"{impl}: the loss is not finite"
        if want is not None:
            assert_close(impl, out[0], want[0], rtol=1e-4, atol=1e-5, what="loss of step 2")
            for i, (got, w) in enumerate(zip(out[1](), want[1])):
                assert_close(impl, got, w, rtol=1e-4, atol=1e-5, what=f"parameter {i}")
    measure(benchmark, impl, lambda: (step(), params), check, calls_before_check=2)


# -- the targets, read from interleaved runs ------------------------------------------------------
def _available(names):
    return [n for n in names if skip_reason(n) is None]


def _backend_fn(name, make):
    """``make()``'s function, run with tensorlite on backend ``name``."""
    def outer():
        with tl.use_backend(name):
            fn = make()

        def call():
            with tl.use_backend(name):
                return fn()
        return call
    return outer


def _only_numba(impl):
    if impl != "tensorlite-numba":
        pytest.skip("an interleaved comparison of every CPU implementation: runs once, as the "
                    "tensorlite-numba row")


def _mlp_worker(name):
    """Run in a subprocess: build the MLP step on ``name``, then answer each "N" on stdin with
    the N step times (seconds, a JSON list) on stdout."""
    arrays, x, y = _mlp_data()
    row = Impl(name)
    if row.kind == "tensorlite":
        tl.set_backend(name.removeprefix("tensorlite-"))
    step, _ = _mlp_step(row, arrays, x, y)
    for _ in range(5):
        step()
    print("ready", flush=True)
    for line in sys.stdin:
        times = []
        for _ in range(int(line)):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        print(json.dumps(times), flush=True)


def _alternate_workers(names, rounds, steps, pause=0.25):
    """Median step time per implementation, each in its own process (no two thread pools in
    one process), the processes taking turns block by block; ``pause`` seconds before each
    block let the previous process's BLAS/OpenMP threads fall asleep."""
    env = dict(os.environ)
    env.pop("TENSORLITE_BACKEND", None)
    workers = {n: subprocess.Popen([sys.executable, __file__, "--mlp-worker", n], env=env,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for n in names}
    try:
        for n, w in workers.items():
            assert w.stdout.readline().strip() == "ready", f"the {n} worker did not start"
        samples = {n: [] for n in names}
        for r in range(rounds):
            for n in names[r % len(names):] + names[:r % len(names)]:
                time.sleep(pause)
                workers[n].stdin.write(f"{steps}\n")
                workers[n].stdin.flush()
                samples[n] += json.loads(workers[n].stdout.readline())
    finally:
        for w in workers.values():
            w.stdin.close()
            w.wait(timeout=60)
    return {n: float(np.median(v)) for n, v in samples.items()}, samples


def test_mlp_step_interleaved(benchmark, impl):
    """The MLP step on every CPU implementation, one process each, taking turns: 15 rounds of
    20 steps (4 of 5 in quick mode).  The targets are read from these medians."""
    _only_numba(impl)
    names = _available(CPU_ROWS)
    benchmark.extra_info["loadavg_before_after"] = [os.getloadavg()]
    medians, samples = benchmark.pedantic(_alternate_workers, (names, *MLP_ROUNDS_STEPS),
                                          rounds=1, iterations=1)
    record_interleaved(benchmark, medians, samples, [("tensorlite-numba", "torch"),
                                          ("tensorlite-numba", "numpy-hand"),
                                          ("tensorlite-numpy", "tensorlite-numba")])


def test_cnn_step_interleaved(benchmark, impl):
    """The CNN step on the numba and numpy backends in turn, 30 rounds of 10 steps."""
    _only_numba(impl)
    x, y = _digits()
    makers = {f"tensorlite-{name}": _backend_fn(
        name, lambda row=Impl(f"tensorlite-{name}"): _cnn_step(row, x, y)[0])
        for name in ("numba", "numpy")}
    benchmark.extra_info["loadavg_before_after"] = [os.getloadavg()]
    medians, samples = benchmark.pedantic(interleaved, (makers, 30, 10), rounds=1,
                                          iterations=1)
    record_interleaved(benchmark, medians, samples, [("tensorlite-numpy", "tensorlite-numba")])


def test_bias_relu_interleaved(benchmark, impl):
    """bias + ReLU (bias_act) on the numba and numpy backends in turn, 30 rounds of 20 (10 of
    10 in quick mode)."""
    _only_numba(impl)
    rng = np.random.default_rng(6)
    z, b = rng.standard_normal((256, 4096)).astype(np.float32), rng.standard_normal(4096).astype(
        np.float32)
    makers = {f"tensorlite-{name}": (lambda B=tl.backends.get(name): lambda: B.bias_act(
        z, b, "relu")) for name in ("numba", "numpy")}
    benchmark.extra_info["loadavg_before_after"] = [os.getloadavg()]
    medians, samples = benchmark.pedantic(interleaved, (makers, *BIAS_RELU_ROUNDS_CALLS),
                                          rounds=1, iterations=1)
    record_interleaved(benchmark, medians, samples, [("tensorlite-numpy", "tensorlite-numba")])


# -- compile time and warm start-up ---------------------------------------------------------------
_STARTUP = textwrap.dedent("""
    import time
    start = time.perf_counter()
    import json
    import numpy as np
    import tensorlite as tl
    imported = time.perf_counter()
    nn = tl.nn
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10))
    opt = tl.optim.SGD(model.parameters(), lr=0.01)
    x = tl.tensor(rng.standard_normal((256, 784)).astype(np.float32))
    y = tl.tensor(rng.integers(0, 10, 256))
    built = time.perf_counter()
    opt.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    first = time.perf_counter()
    opt.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    second = time.perf_counter()
    print(json.dumps({"import_s": imported - start, "first_step_s": first - built,
                      "second_step_s": second - first, "import_and_first_step_s": first - start,
                      "backend": tl.get_backend().name}))
""")


def _startup(cache_dir, pycache=None):
    """The start-up script in a fresh process on the Numba cache ``cache_dir``; with
    ``pycache``, Python writes and reads its bytecode cache there (an environment with
    PYTHONDONTWRITEBYTECODE=1 otherwise recompiles tensorlite's sources in every process)."""
    env = dict(os.environ, TENSORLITE_BACKEND="numba", NUMBA_CACHE_DIR=cache_dir)
    if pycache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    out = subprocess.run([sys.executable, "-c", _STARTUP], capture_output=True, text=True,
                         env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_numba_compile_and_warm_startup(benchmark, impl):
    """A fresh process on an empty kernel cache (compiles every kernel of the MLP step), then
    fresh processes on the filled cache: the timed figure is the warm import + first step.
    ``warm_with_bytecode_cache_s`` is the same with Python's bytecode cache warm as well (a
    user's second run; this machine sets PYTHONDONTWRITEBYTECODE).  Full and tiny modes only:
    its fresh processes (one compiling every kernel) take the quick mode's time."""
    _only_numba(impl)
    if STARTUP_WARM_PYC is None:
        pytest.skip("the compile and start-up figures are taken in full mode only (fresh "
                    "processes, one compiling every kernel: ~15 s on 2 cores)")
    with tempfile.TemporaryDirectory() as cache:
        pycache = os.path.join(cache, "pycache")
        cold = _startup(cache)
        assert cold["backend"] == "numba"
        warm = []
        warm_rounds, pyc_runs = STARTUP_WARM_PYC
        benchmark.pedantic(lambda: warm.append(_startup(cache)), rounds=warm_rounds,
                           iterations=1)
        # the first one fills the bytecode cache
        with_pyc = [_startup(cache, pycache) for _ in range(pyc_runs)][1:]
    info = benchmark.extra_info
    info["cold"] = cold
    info["warm"] = warm
    info["first_call_compile_s"] = cold["first_step_s"] - float(np.median(
        [w["first_step_s"] for w in warm]))
    for key, runs in (("warm_import_and_first_step_s", warm),
                      ("warm_with_bytecode_cache_s", with_pyc)):
        info[key] = float(np.median([w["import_and_first_step_s"] for w in runs]))
    print("\n" + json.dumps({k: info[k] for k in ("first_call_compile_s",
                                                  "warm_import_and_first_step_s",
                                                  "warm_with_bytecode_cache_s")}))


if __name__ == "__main__" and sys.argv[1:2] == ["--mlp-worker"]:
    _mlp_worker(sys.argv[2])
