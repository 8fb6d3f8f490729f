"""Benchmark fixtures: every case runs once per implementation of the same work.

The ``impl`` fixture is the implementation's name (a ``str``, so ``impl == "torch"`` works) with
what a case needs to run on it:

  tensorlite-<backend>    every registered tensorlite backend (``tl.backends.known()``); inside
                          the test, tensorlite runs on that backend
  torch, torch-cuda       PyTorch eager on the CPU / on the GPU: reference rows
  numpy-hand, cupy-hand   the same work written by hand in NumPy / CuPy: reference rows

``impl.kind`` is "tensorlite", "torch" or "hand"; ``impl.lib`` is ``tensorlite`` or ``torch``
(their APIs are the same shape), ``impl.xp`` the array module of a hand-written row.  One that
cannot run here (package missing, no GPU) is skipped with its reason; ``TL_BENCH_IMPLS=a,b``
(``report.py --impl``) runs only the named ones.  Skips, failures and the run's settings go into
pytest-benchmark's JSON under "tensorlite" (and to $TL_BENCH_INFO), where ``report.py`` reads
them.  Cases in other files that use ``impl`` (or a ``backend`` parameter) are reported too.

``sizes(full, quick, tiny)`` picks a case's sizes by ``TL_BENCH_MODE`` (default full).
``measure()`` times a case: the first call (JIT compile, kernel build, first-touch pages) is
timed on its own into ``extra_info["first_call_s"]`` and kept out of the figures; GPU rows
synchronize the device after every call; the result is checked against a float64 reference
before (and, for pure functions, after) timing, so a broken implementation fails, never looks
fast.
"""
import functools
import json
import os
import platform
import time

import numpy as np
import pytest

import tensorlite as tl

try:
    import torch
except ImportError:  # the torch rows are skipped, with this reason
    torch = None

MODE = os.environ.get("TL_BENCH_MODE", "full")
if MODE not in ("full", "quick", "tiny"):
    raise ValueError(f"TL_BENCH_MODE must be full, quick or tiny, got {MODE!r}")

IMPLS = ([f"tensorlite-{name}" for name in tl.backends.known()]
         + ["torch", "torch-cuda", "numpy-hand", "cupy-hand"])
# The reference rows each implementation's ratios are taken against: those on its own device.
REFERENCES = {"cpu": {"torch": "torch", "hand": "numpy-hand"},
              "cuda": {"torch": "torch-cuda", "hand": "cupy-hand"}}
# The environment a reader needs to judge the figures; printed, never changed.
ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
            "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "MALLOC_MMAP_THRESHOLD_")


def sizes(full, quick, tiny):
    """A case's parameter list for the current mode."""
    return {"full": full, "quick": quick, "tiny": tiny}[MODE]


@functools.cache
def _cupy_reason():
    try:
        import cupy
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return "cupy sees no CUDA device"
    except Exception as e:  # missing package, no driver: say which
        return (f"cupy cannot run here: {e} (pip install \"tensorlite[cuda]\" on a machine with "
                "an NVIDIA GPU)")
    return None


def skip_reason(impl):
    """None if ``impl`` can run here, else why not."""
    selected = os.environ.get("TL_BENCH_IMPLS")
    if selected and impl not in selected.split(","):
        return f"not selected (TL_BENCH_IMPLS={selected})"
    if impl.startswith("tensorlite-"):
        return tl.backends.unavailable_reason(impl.removeprefix("tensorlite-"))
    if impl.startswith("torch"):
        if torch is None:
            return "torch is not installed (pip install 'tensorlite[test]')"
        if impl == "torch-cuda" and not torch.cuda.is_available():
            return (f"torch {torch.__version__} has no usable CUDA device here"
                    + ("" if torch.version.cuda else " (a CPU-only build)"))
    if impl == "cupy-hand":
        return _cupy_reason()
    return None


def device_of(impl):
    if impl.startswith("tensorlite-"):
        name = impl.removeprefix("tensorlite-")
        if tl.backends.unavailable_reason(name) is None:
            return tl.backends.get(name).device
        return "cuda" if name == "cupy" else "cpu"
    return "cuda" if impl in ("torch-cuda", "cupy-hand") else "cpu"


class Impl(str):
    """An implementation's name, with how to put data on it, read results back and sync."""

    def __new__(cls, name):
        self = super().__new__(cls, name)
        self.device = device_of(name)
        self.kind = ("tensorlite" if name.startswith("tensorlite-")
                     else "torch" if name.startswith("torch") else "hand")
        self.lib = tl if self.kind == "tensorlite" else torch if self.kind == "torch" else None
        self.xp = None
        if self.kind == "hand":
            if self.device == "cuda":
                import cupy
                self.xp = cupy
            else:
                self.xp = np
        return self

    def array(self, a, requires_grad=False):
        """A copy of the NumPy array ``a`` as this implementation's array or tensor."""
        if self.kind == "tensorlite":
            return tl.tensor(a, device=self.device, requires_grad=requires_grad)
        if self.kind == "torch":
            return torch.tensor(a, device=self.device, requires_grad=requires_grad)
        return self.xp.array(a)

    def numpy(self, x):
        """``x`` (a tensor or array of this implementation) as a NumPy array on the host."""
        if torch is not None and isinstance(x, torch.Tensor):
            return x.detach().cpu().numpy()
        if isinstance(x, tl.Tensor):
            return x.detach().cpu().numpy()
        if self.xp is not None and self.xp is not np:
            return self.xp.asnumpy(x)
        return np.asarray(x)

    def load_(self, params, arrays):
        """Copy the NumPy ``arrays`` into the module parameters ``params``, in order."""
        params = list(params)
        assert len(params) == len(arrays), (len(params), len(arrays))
        with self.lib.no_grad():
            for p, a in zip(params, arrays):
                assert tuple(p.shape) == a.shape, (tuple(p.shape), a.shape)
                p.copy_(self.array(a))

    def sync(self):
        """Wait for the device to finish queued work (a no-op on the CPU)."""
        if self.device != "cuda":
            return
        if self.kind == "torch":
            torch.cuda.synchronize()
        else:
            import cupy
            cupy.cuda.Device().synchronize()


@pytest.fixture(params=IMPLS)
def impl(request):
    """The implementation (an ``Impl``); inside the test, tensorlite runs on its backend."""
    reason = skip_reason(request.param)
    if reason:
        pytest.skip(reason)
    if request.param.startswith("tensorlite-"):
        with tl.use_backend(request.param.removeprefix("tensorlite-")):
            tl.manual_seed(0)
            yield Impl(request.param)
    else:
        yield Impl(request.param)


def measure(benchmark, impl, fn, check, calls_before_check=1, pure=False):
    """Time ``fn()`` on ``impl`` with pytest-benchmark, excluding its first call.

    The first call (compile, warm-up) is timed alone into ``extra_info["first_call_s"]``;
    then ``fn`` runs ``calls_before_check - 1`` more times and ``check(output)`` must pass
    before anything is timed.  ``pure`` functions are checked again on the timed output.
    """
    impl.sync()
    start = time.perf_counter()
    out = fn()
    impl.sync()
    benchmark.extra_info["first_call_s"] = time.perf_counter() - start
    benchmark.extra_info["device"] = impl.device
    for _ in range(calls_before_check - 1):
        out = fn()
    impl.sync()
    check(out)

    def timed():
        result = fn()
        impl.sync()
        return result

    out = benchmark(timed)
    if pure:
        check(out)
    return out


# -- interleaved comparisons: the implementations take turns, block after block ---------------
def interleaved(makers, blocks, calls):
    """Median seconds per call of each maker()'s function: ``blocks`` rounds, each running
    every implementation ``calls`` times in turn (in a rotating order)."""
    fns = {name: make() for name, make in makers.items()}
    for fn in fns.values():
        for _ in range(3):
            fn()
    times = {name: [] for name in fns}
    names = list(fns)
    for r in range(blocks):
        for name in names[r % len(names):] + names[:r % len(names)]:
            fn = fns[name]
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            times[name].append((time.perf_counter() - start) / calls)
    return {name: float(np.median(t)) for name, t in times.items()}, \
        {name: [float(v) for v in t] for name, t in times.items()}


def record_interleaved(benchmark, medians, samples, pairs):
    """Medians, their ratios for ``pairs`` and every sample into extra_info, printed (-s)."""
    info = benchmark.extra_info
    info["medians_ms"] = {k: round(v * 1e3, 4) for k, v in medians.items()}
    info["ratios"] = {f"{a}/{b}": round(medians[a] / medians[b], 3)
                      for a, b in pairs if a in medians and b in medians}
    info["samples_ms"] = {k: [round(v * 1e3, 4) for v in s] for k, s in samples.items()}
    info["loadavg_before_after"] = info.get("loadavg_before_after", []) + [os.getloadavg()]
    print("\n" + json.dumps({"medians_ms": info["medians_ms"], "ratios": info["ratios"],
                             "loadavg": info["loadavg_before_after"]}))


def assert_close(impl, actual, expected, rtol, atol, what="result"):
    """``actual`` (any implementation's array) equals the float64 reference ``expected``."""
    got = impl.numpy(actual).astype(np.float64)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol,
                               err_msg=f"{impl}: {what} differs from the float64 reference")


# -- what the report needs beyond pytest-benchmark's own JSON -----------------------------------
_OUTCOMES = {"skipped": [], "failed": [], "order": []}
_LOAD_AT_START = os.getloadavg()[0]


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Record the run order, and every skipped or failed case with its parameters and reason."""
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "setup":
        _OUTCOMES["order"].append(item.nodeid)
    if not (rep.skipped or rep.failed):
        return
    if rep.skipped and isinstance(rep.longrepr, tuple):
        reason = rep.longrepr[2].removeprefix("Skipped: ")
    elif call.excinfo is not None:  # the first lines name the error and, for a check, the row
        lines = [line.strip() for line in call.excinfo.exconly().splitlines() if line.strip()]
        reason = " ".join(lines[:4])[:300]
    else:
        reason = str(rep.longrepr).splitlines()[-1][:300]
    if rep.skipped and reason.startswith("Skipping non-benchmark"):
        return  # a plain test beside the benchmarks (--benchmark-only): not a case
    callspec = getattr(item, "callspec", None)
    _OUTCOMES["skipped" if rep.skipped else "failed"].append({
        "fullname": item.nodeid, "name": item.originalname,
        "params": _jsonable(dict(callspec.params)) if callspec else {},
        "when": rep.when, "reason": reason})


def _blas():
    try:
        deps = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{deps.get('name')} {deps.get('version')}"
    except Exception:  # older NumPy: no dict form
        return "unknown"


def _cpu():
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def run_info():
    """The settings the figures were taken under, and every implementation's status."""
    info = {
        "mode": MODE,
        "env": {name: os.environ.get(name) for name in ENV_VARS},
        "python": platform.python_version(),
        "numpy": np.__version__, "blas": _blas(),
        "cpu": _cpu(), "cpu_count": os.cpu_count(),
        "load": {"start": _LOAD_AT_START, "end": os.getloadavg()[0]},
        "implementations": {name: {"device": device_of(name), "reason": skip_reason(name)}
                            for name in IMPLS},
        "references": REFERENCES,
        "skipped": _OUTCOMES["skipped"], "failed": _OUTCOMES["failed"],
        "order": _OUTCOMES["order"],
    }
    if torch is not None and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    elif _cupy_reason() is None:
        import cupy
        info["gpu"] = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    if torch is not None:
        info.update(torch=torch.__version__, torch_threads=torch.get_num_threads(),
                    torch_interop_threads=torch.get_num_interop_threads())
    try:
        import numba
        info.update(numba=numba.__version__, numba_threads=numba.config.NUMBA_NUM_THREADS)
    except ImportError:
        pass
    return info


def pytest_benchmark_update_json(config, benchmarks, output_json):
    output_json["tensorlite"] = run_info()


def pytest_sessionfinish(session):
    """Also write the info to $TL_BENCH_INFO: pytest-benchmark writes no JSON when no case
    ran (every one failed or was skipped), and the report must still say why."""
    path = os.environ.get("TL_BENCH_INFO")
    if path:
        with open(path, "w") as f:
            json.dump(run_info(), f, indent=1)
