"""Issue 15's CPU targets: ``tensorlite.compile`` on the numba backend beside PyTorch eager.

Each case is a whole training step (zero_grad, forward, loss, backward, optimizer step), or the
200-op chain of test_overhead.py (forward + backward), timed in turns, one process per row:

  tensorlite-numba-compiled   ``tl.compile(step)`` on the numba backend: past its first calls
                              (capture, plan), every call replays the plan
  tensorlite-numba            the same step eagerly on the numba backend (for reference)
  torch                       PyTorch eager, the same model code from the same weights
  matmuls-alone               (MLP only) the step's eight matrix products, NumPy on the same
                              shapes into buffers made once: the floor of any framework over
                              this BLAS

Targets (time / the reference, the medians of the interleaved rounds): MLP 784-512-512-10 at
batch 256 (test_numba_targets.py's step: plain SGD) compiled <= 0.7x torch and <= 1.1x the
matmuls alone; the small CNN of test_training.py (1x14x14, SGD momentum) compiled <= 0.7x torch
(the digits CNN of test_numba_targets.py, 1x8x8, is reported beside it); the small GPT of
test_models.py (n_layer 4, n_head 4, n_embd 128, block 64, batch 16, AdamW) <= 0.8x; the chain
replays at <= 0.2x torch per op.  They are recorded (``extra_info["targets"]``, printed with
-s), never asserted: a benchmark reports figures.

Before anything is timed, in the test's own process: the step is run eagerly and compiled (the
same initial weights and batch, numba backend) for a few steps, and each compiled step's loss
(the chain: loss and gradients) and the parameters after them must equal eager's within the
case's tolerance (float rounding: fusion may reorder a sum); a compile that fell back to eager
(its RuntimeWarning) fails the case.  The first calls of a fresh compiled step (capture and plan
building, with the eager kernels already compiled by the eager run) are timed there, into
``extra_info["first_calls"]``: the first call captures; the second captures again when the
step's leaves had no ``.grad`` on entry to the first (a guard), then every call replays (the
first replay of a plan can take longer: ``first_replay_s``).

Run as ``python benchmarks/test_compile.py --worker ROW``, this file is a row's worker.
"""
import contextlib
import copy
import functools
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

import tensorlite as tl
from conftest import Impl, record_interleaved, sizes, skip_reason
from interleave import Workers, alternate, serve
from test_numba_targets import _cnn_step as _digits_cnn_step
from test_numba_targets import _digits
from test_overhead import CHAIN_OPS, framework_chain
from test_overhead import _data as _chain_data
from test_training import _uniform, framework_step, mlp

COMPILED, EAGER, TORCH, FLOOR = ("tensorlite-numba-compiled", "tensorlite-numba", "torch",
                                 "matmuls-alone")
# each row's worker: (the Impl it runs as, compiled?)
ROWS = {COMPILED: ("tensorlite-numba", True), EAGER: ("tensorlite-numba", False),
        TORCH: ("torch", False), FLOOR: ("numpy-hand", False)}

# per case and mode: (size, interleaved rounds, calls per round)
CASES = {
    "mlp": sizes(full=({"dims": (784, 512, 512, 10), "batch": 256}, 15, 10),
                 quick=({"dims": (784, 512, 512, 10), "batch": 256}, 3, 4),
                 tiny=({"dims": (16, 8, 8, 4), "batch": 4}, 1, 1)),
    "cnn": sizes(full=({"channels": (8, 16), "batch": 64}, 15, 10),
                 quick=({"channels": (8, 16), "batch": 64}, 3, 4),
                 tiny=({"channels": (2, 3), "batch": 4}, 1, 1)),
    "cnn_digits": sizes(full=({}, 15, 10), quick=({}, 3, 4), tiny=({}, 1, 1)),
    "gpt": sizes(full=({"batch": 16, "n_layer": 4, "n_head": 4, "n_embd": 128,
                        "block_size": 64}, 10, 3),
                 quick=({"batch": 4, "n_layer": 2, "n_head": 4, "n_embd": 64,
                         "block_size": 32}, 3, 2),
                 tiny=({"batch": 2, "n_layer": 1, "n_head": 2, "n_embd": 8,
                        "block_size": 4}, 1, 1)),
    "chain": sizes(full=({"size": 64}, 15, 20), quick=({"size": 64}, 3, 5),
                   tiny=({"size": 4}, 1, 1)),
}
# the targets: (row, reference) -> at most this ratio of medians
TARGETS = {"mlp": {(COMPILED, TORCH): 0.7, (COMPILED, FLOOR): 1.1},
           "cnn": {(COMPILED, TORCH): 0.7}, "cnn_digits": {(COMPILED, TORCH): 0.7},
           "gpt": {(COMPILED, TORCH): 0.8}, "chain": {(COMPILED, TORCH): 0.2}}
# compiled against eager (numba, float32): (rtol, atol) of the losses, of the parameters.
# AdamW's first steps are nearly sign(g) * lr: a rounding difference in a tiny gradient can
# move a GPT parameter by up to lr (1e-3), as test_models.py's tolerances say.
TOL = {"mlp": ((1e-5, 1e-6), (1e-5, 1e-6)), "cnn": ((1e-5, 1e-6), (1e-5, 1e-6)),
       "cnn_digits": ((1e-5, 1e-6), (1e-5, 1e-6)), "gpt": ((1e-4, 1e-5), (1e-3, 2e-3)),
       "chain": ((1e-5, 1e-6), (1e-5, 1e-6))}
CHECK_STEPS = 4  # capture, capture again (grads now set), then replays


# -- the cases: step(), parameters() on an Impl (tensorlite or torch: the same code) ----------
def _mlp(impl, size):
    dims, batch = size["dims"], size["batch"]
    rng = np.random.default_rng(4)
    arrays = []
    for fan_in, fan_out in zip(dims[:-1], dims[1:]):
        arrays += [_uniform(rng, (fan_out, fan_in), fan_in), _uniform(rng, (fan_out,), fan_in)]
    x = rng.standard_normal((batch, dims[0])).astype(np.float32)
    y = rng.integers(0, dims[-1], batch)
    if impl == FLOOR:
        return _matmuls_alone(arrays, x, dims), lambda: []
    return framework_step(impl, mlp(impl.lib.nn, dims), arrays, x, y, momentum=0)


def _matmuls_alone(arrays, x, dims):
    """The MLP step's 8 matrix products: 3 forward (x W1^T, h1 W2^T, h2 W3^T), 3 weight
    gradients (g^T h) and 2 input gradients (g W; none for the data), transposes as views."""
    w = arrays[0::2]
    batch = len(x)
    acts = [x] + [np.ones((batch, d), np.float32) for d in dims[1:-1]]
    grads = [np.full((batch, d), 1e-3, np.float32) for d in dims[1:]]
    fwd = [np.empty((batch, d), np.float32) for d in dims[1:]]
    gw = [np.empty_like(a) for a in w]
    gx = [np.empty((batch, d), np.float32) for d in dims[1:-1]]

    def step():
        for i in range(len(w)):
            np.matmul(acts[i], w[i].T, out=fwd[i])
        for i in reversed(range(len(w))):
            np.matmul(grads[i].T, acts[i], out=gw[i])
            if i:
                np.matmul(grads[i], w[i], out=gx[i - 1])
        return gw
    return step


def _cnn(impl, size):
    """test_training.py's CNN: conv(1->c1)-ReLU-pool-conv(c1->c2)-ReLU-pool-linear, 1x14x14."""
    c1, c2 = size["channels"]
    rng = np.random.default_rng(2)
    arrays = [_uniform(rng, (c1, 1, 3, 3), 9), _uniform(rng, (c1,), 9),
              _uniform(rng, (c2, c1, 3, 3), 9 * c1), _uniform(rng, (c2,), 9 * c1),
              _uniform(rng, (10, c2 * 9), c2 * 9), _uniform(rng, (10,), c2 * 9)]
    x = rng.standard_normal((size["batch"], 1, 14, 14)).astype(np.float32)
    y = rng.integers(0, 10, size["batch"])
    nn = impl.lib.nn
    model = nn.Sequential(nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(c2 * 9, 10))
    return framework_step(impl, model, arrays, x, y)


def _cnn_digits(impl, size):
    return _digits_cnn_step(impl, *_digits())


def _gpt(impl, size):
    from test_models import make_step
    step, params, _ = make_step("gpt", impl, size)
    return step, params


def _chain_case(impl, size):
    """test_overhead.py's chain: forward + backward, returns the loss and both gradients."""
    step, leaves = framework_chain(impl, *_chain_data(size["size"]))
    return step, lambda: leaves


BUILD = {"mlp": _mlp, "cnn": _cnn, "cnn_digits": _cnn_digits, "gpt": _gpt, "chain": _chain_case}


@contextlib.contextmanager
def _no_fallback():
    """A compile that cannot capture runs eagerly with a RuntimeWarning: here, an error."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="tensorlite.compile", category=RuntimeWarning)
        yield


def _compiled(step):
    return tl.compile(step)


def _make(row, case, impl):
    """The worker's function for ``case`` on ``row`` (serve() calls it twice to warm up)."""
    size = CASES[case][0]
    if row == FLOOR:
        if case != "mlp":
            raise ValueError("the matmuls-alone row is the MLP's floor only")
        return _mlp(FLOOR, size)[0]
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        step, _ = BUILD[case](impl, size)
    if not ROWS[row][1]:
        return step
    compiled = _compiled(step)
    with _no_fallback():
        for _ in range(CHECK_STEPS):  # past every capture: from here on, replays
            compiled()
        captures = compiled.captures
        compiled()
    assert compiled.captures == captures and compiled.plans(), (
        f"{case}: the compiled step is still capturing ({compiled.captures} captures)")
    return compiled


# -- the check and the first calls, in the test's process -------------------------------------
def _host(outputs):
    outs = outputs if isinstance(outputs, tuple) else (outputs,)
    return [o.detach().numpy().astype(np.float64) for o in outs]


def _check_and_first_calls(case):
    """Eager and compiled numba from the same weights, CHECK_STEPS steps each: the compiled
    outputs and parameters equal eager's within TOL[case]; returns the first calls' times."""
    size = CASES[case][0]
    row = Impl(EAGER)
    (out_rtol, out_atol), (p_rtol, p_atol) = TOL[case]
    with tl.use_backend("numba"), open(os.devnull, "w") as quiet, \
            contextlib.redirect_stdout(quiet):
        tl.manual_seed(0)
        step, params = BUILD[case](row, size)
        eager_outs, eager_times = [], []
        for _ in range(CHECK_STEPS):
            start = time.perf_counter()
            eager_outs.append(_host(step()))
            eager_times.append(time.perf_counter() - start)
        eager_params = [p.detach().numpy().astype(np.float64) for p in params()]

        tl.manual_seed(0)
        step, params = BUILD[case](row, size)
        compiled = _compiled(step)
        times, captures = [], []
        with _no_fallback():
            for k in range(CHECK_STEPS):
                start = time.perf_counter()
                out = compiled()
                times.append(time.perf_counter() - start)
                captures.append(compiled.captures)
                for i, (got, want) in enumerate(zip(_host(out), eager_outs[k])):
                    np.testing.assert_allclose(got, want, rtol=out_rtol, atol=out_atol,
                                               err_msg=f"{case}: output {i} of compiled step "
                                               f"{k + 1} differs from eager")
        for i, (p, want) in enumerate(zip(params(), eager_params)):
            np.testing.assert_allclose(p.detach().numpy().astype(np.float64), want,
                                       rtol=p_rtol, atol=p_atol,
                                       err_msg=f"{case}: parameter {i} after {CHECK_STEPS} "
                                       "compiled steps differs from eager")
    assert compiled.plans(), f"{case}: no plan was made"
    plan = compiled.plans()[-1]
    return {"call_s": [round(t, 6) for t in times], "captures_after_call": captures,
            "first_call_s": round(times[0], 6),
            "capture_calls_s": round(sum(times[:captures[-1]]), 6),
            # (the first replay can be slower than later ones: generated kernels, first touch)
            "first_replay_s": round(times[captures[-1]], 6),
            "eager_step_s": round(float(np.median(eager_times[1:])), 6),
            "plans": len(compiled.plans()), "primitive_calls": plan.calls,
            "plan_source_lines": plan.source.count("\n"),
            "stats": {k: v for k, v in getattr(plan.trace, "stats", {}).items()
                      if isinstance(v, (int, float, str))}}


def _compiler_commit():
    """The last commit that touched tensorlite/compiler/ (the figures are of that code), and
    whether the working tree differs from it there."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.run(["git", "log", "-1", "--format=%h", "--", "tensorlite/compiler"],
                                cwd=root, capture_output=True, text=True, timeout=10).stdout
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "tensorlite/compiler"],
                               cwd=root, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return commit.strip() + (" (+ uncommitted changes)" if dirty.strip() else "")


# -- the interleaved runs -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def workers():
    started = []

    def get():
        if not started:
            started.append(Workers(__file__, [n for n, (base, _) in ROWS.items()
                                              if skip_reason(base) is None]))
        return started[0]
    yield get
    if started:
        started[0].close()


def _subset(all_workers, names):
    """The workers of ``names`` only (alternate() takes turns among all it is given)."""
    sub = copy.copy(all_workers)
    sub.procs = {n: all_workers.procs[n] for n in names if n in all_workers.procs}
    return sub


STEPS = [case for case in CASES if case != "chain"]


@pytest.mark.parametrize("case", STEPS)
def test_compiled_step_interleaved(benchmark, impl, case, workers):
    """The training step compiled and eager on the numba backend, PyTorch eager (and for the
    MLP its matmuls alone), one process each, taking turns; checked against eager first."""
    _interleaved(benchmark, impl, case, workers)


def test_compiled_chain_interleaved(benchmark, impl, workers):
    """test_overhead.py's 200-op chain (forward + backward, no optimizer) compiled and eager
    on the numba backend and PyTorch eager, taking turns: the per-op figures (``per_op_us``:
    the median / 201 ops).  Not a training step: apart from the steps' summary line."""
    _interleaved(benchmark, impl, "chain", workers)


def _interleaved(benchmark, impl, case, workers):
    if impl != "tensorlite-numba":
        pytest.skip("an interleaved comparison of tensorlite.compile on the numba backend: runs "
                    "once, as the tensorlite-numba row")
    info = benchmark.extra_info
    info["size"] = {k: list(v) if isinstance(v, tuple) else v
                    for k, v in CASES[case][0].items()}
    info["compiler_commit"] = _compiler_commit()
    info["first_calls"] = _check_and_first_calls(case)
    print("\n" + json.dumps({"case": case, "first_calls": info["first_calls"]}))
    names = [COMPILED, EAGER, TORCH] + ([FLOOR] if case == "mlp" else [])
    _, rounds, calls = CASES[case]
    info["loadavg_before_after"] = [os.getloadavg()]
    medians, samples = benchmark.pedantic(alternate, (_subset(workers(), names), case, rounds,
                                                      calls), rounds=1, iterations=1)
    pairs = [(COMPILED, TORCH), (EAGER, TORCH), (COMPILED, EAGER)] + (
        [(COMPILED, FLOOR)] if case == "mlp" else [])
    record_interleaved(benchmark, medians, samples, pairs)
    if case == "chain":
        info["per_op_us"] = {k: round(v * 1e6 / (CHAIN_OPS + 1), 3) for k, v in medians.items()}
    info["targets"] = {f"{a}/{b}": {"at_most": limit, "ratio": info["ratios"].get(f"{a}/{b}"),
                                    "met": info["ratios"].get(f"{a}/{b}", np.inf) <= limit}
                       for (a, b), limit in TARGETS[case].items()}
    print(json.dumps({"case": case, "targets": info["targets"],
                      **({"per_op_us": info["per_op_us"]} if case == "chain" else {})}))


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    serve(ROWS[sys.argv[2]][0], functools.partial(_make, sys.argv[2]))
