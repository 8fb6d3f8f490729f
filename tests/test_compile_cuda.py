"""tensorlite.compile's CUDA-graph replay (tensorlite/compiler/cuda_graph.py) on the host
stand-in for CuPy (tests/cupy_standin.py), whose streams record device work while they capture
and whose graphs run it again on launch, and which refuses cuBLAS and host copies during a
capture as CuPy does.  Expected values come from the same program run eagerly."""
import sys
import warnings

import numpy as np
import pytest

import cupy_standin
import tensorlite as tl
from cupy_standin import host_cuda, host_cupy  # noqa: F401  (pytest fixtures used by name)
from tensorlite.compiler.cuda_graph import MAX_CAPTURES, GraphedPlan

STEPS = 5


def _np(t):
    return sys.modules["cupy"].asnumpy(t._data)


def _train(compiled=None, optimizer="sgd", steps=STEPS, dropout=False):
    """A small MLP on "cuda", trained ``steps`` steps on a new batch each step, eagerly or
    compiled with the options ``compiled``: (loss tensors, parameters, grads, batches, fn)."""
    rng = np.random.default_rng(5)
    nn = tl.nn
    layers = [nn.Linear(6, 8), nn.ReLU()] + ([nn.Dropout(0.25)] if dropout else []) + \
        [nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3)]
    model = nn.Sequential(*layers).to(tl.float64)
    with tl.no_grad():
        for p in model.parameters():
            p.copy_(tl.tensor(rng.standard_normal(p.shape), dtype=tl.float64))
    model.to("cuda")
    if optimizer == "sgd":
        opt = tl.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    else:
        opt = tl.optim.Adam(model.parameters(), lr=1e-2)
    tl.manual_seed(0)

    def step(x, y):
        opt.zero_grad()
        loss = tl.nn.functional.cross_entropy(model(x), y, label_smoothing=0.1)
        loss.backward()
        opt.step()
        return loss

    fn = step if compiled is None else tl.compile(step, **compiled)
    batches = [(tl.tensor(rng.standard_normal((5, 6)), device="cuda"),
                tl.tensor(rng.integers(0, 3, 5), device="cuda")) for _ in range(steps)]
    losses = [fn(x, y) for x, y in batches]
    return (losses, [_np(p) for p in model.parameters()],
            [_np(p.grad) for p in model.parameters()], batches, fn)


def _check_same(run, expected, exact=False):
    check = np.testing.assert_array_equal if exact else \
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    # the loss of every step, read after the last step (a kept loss is not overwritten)
    check([_np(t) for t in run[0]], [_np(t) for t in expected[0]])
    for a, b in zip(run[1], expected[1]):
        check(a, b)
    for a, b in zip(run[2], expected[2]):
        check(a, b)
    for (x, y), (x0, y0) in zip(run[3], expected[3]):  # the arguments are left as they were
        np.testing.assert_array_equal(_np(x), _np(x0))
        np.testing.assert_array_equal(_np(y), _np(y0))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_mlp_step_as_cuda_graphs_equals_eager(host_cuda, optimizer):
    eager = _train(None, optimizer)
    stats = dict(cupy_standin.GRAPH_STATS)
    graphs = _train({"cuda_graph": True}, optimizer)
    launched = cupy_standin.GRAPH_STATS["launches"] - stats["launches"]
    plain = _train({"cuda_graph": False}, optimizer)
    _check_same(graphs, eager)
    _check_same(graphs, plain, exact=True)  # the same calls, replayed by graphs or by Python
    # call 1 captures with no .grad yet, call 2 captures again (the grads exist now); the
    # second plan: call 3 probes, 4 captures the graphs and launches them, 5 launches them
    first, plan = graphs[4].plans()
    assert isinstance(plan, GraphedPlan) and plan.stage == "launch", plan
    assert first.stage == "probe" and first.launches == 0
    assert not any(isinstance(p, GraphedPlan) for p in plain[4].plans())
    segments = len(plan.segments)
    assert segments >= 2 and plan.launches == launched == 2 * segments
    names = {plan.trace.program[pos].name for pos in plan.eager}
    # cuBLAS calls are refused during a capture (as CuPy refuses them), and so is the host
    # read of the targets' checks: outside the graphs
    assert {"linear", "matmul"} <= names <= {"linear", "matmul", "linear_act_grad",
                                             "class_target_stats"}, names
    captured = sum(len(s.calls) for s in plan.segments)
    assert captured + len(plan.eager) == plan.calls and captured > len(plan.eager)


def test_random_draws_stay_outside_the_graphs(host_cuda):
    eager = _train(None, dropout=True)
    graphs = _train({"cuda_graph": True}, dropout=True)
    _check_same(graphs, eager)
    plan = graphs[4].plans()[-1]
    assert plan.stage == "launch" and plan.launches > 0
    names = {plan.trace.program[pos].name for pos in plan.eager}
    assert "dropout_mask" in names, names  # it draws through the backend's rand


def test_compiled_module_as_cuda_graphs_equals_eager(host_cuda):
    """tl.compile(model): a forward under no_grad (one plan) and a forward whose backward the
    autograd engine runs (two plans, the saved arrays handed from one to the other)."""
    runs = []
    for compiled in (False, True):
        rng = np.random.default_rng(2)
        model = tl.nn.Sequential(tl.nn.Linear(4, 6), tl.nn.GELU(), tl.nn.LayerNorm(6),
                                 tl.nn.Linear(6, 2)).to(tl.float64).to("cuda")
        with tl.no_grad():
            for p in model.parameters():
                p.copy_(tl.tensor(rng.standard_normal(p.shape), device="cuda"))
        m = tl.compile(model) if compiled else model
        opt = tl.optim.Adam(model.parameters(), lr=1e-2)
        xs = [tl.tensor(rng.standard_normal((3, 4)), device="cuda") for _ in range(STEPS)]
        with tl.no_grad():
            results = [m(x) for x in xs]
        for x in xs:
            opt.zero_grad()
            loss = (m(x) ** 2).sum()
            loss.backward()
            opt.step()
            results.append(loss)
        runs.append(([_np(r) for r in results], [_np(p) for p in model.parameters()], m))
    for a, b in zip(runs[1][0] + runs[1][1], runs[0][0] + runs[0][1]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    m = runs[1][2]
    (inference,) = m._compiled.plans()
    ((step,),) = m._steps.values()
    for plan in (inference, step.forward, step.backward):
        assert isinstance(plan, GraphedPlan) and plan.stage == "launch" and plan.launches > 0


def test_batchnorm_and_gradients_kept_across_steps(host_cuda):
    """BatchNorm's running statistics written in place by a graph, and gradients accumulated
    over steps (no zero_grad: each step reads the last one's .grad)."""
    runs = []
    for compiled in (None, {}):
        rng = np.random.default_rng(4)
        model = tl.nn.Sequential(tl.nn.Linear(4, 6), tl.nn.BatchNorm1d(6), tl.nn.ReLU(),
                                 tl.nn.Linear(6, 2)).to(tl.float64).to("cuda")
        with tl.no_grad():
            for p in model.parameters():
                p.copy_(tl.tensor(rng.standard_normal(p.shape), device="cuda"))
        opt = tl.optim.SGD(model.parameters(), lr=0.02)

        def step(x):
            loss = (model(x) ** 2).mean()
            loss.backward()
            opt.step()
            return loss
        fn = step if compiled is None else tl.compile(step, **compiled)
        losses = [fn(tl.tensor(rng.standard_normal((5, 4)), device="cuda")) for _ in range(7)]
        runs.append(([_np(t) for t in losses] + [_np(t) for t in model.state_dict().values()]
                     + [_np(p.grad) for p in model.parameters()], fn))
    for a, b in zip(runs[1][0], runs[0][0]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    plan = runs[1][1].plans()[-1]  # (the backward adds into the .grad arrays it reads)
    assert isinstance(plan, GraphedPlan) and plan.stage == "launch" and plan.launches > 0
    assert any(getattr(i, "kind", None) == "grad" for i in plan.trace.program)


def test_without_capture_support_the_plan_replays_plainly(host_cuda, monkeypatch):
    monkeypatch.delattr(cupy_standin.HostStream, "begin_capture")
    eager = _train(None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = _train({})
    _check_same(run, eager)
    assert run[4].plans() and not any(isinstance(p, GraphedPlan) for p in run[4].plans())


@pytest.mark.parametrize("where", ["begin_capture", "end_capture"])
def test_cupy_raising_during_capture_falls_back_to_plain_replay(host_cuda, monkeypatch, where):
    """Every capture raising: the probe keeps every call outside the graphs (begin_capture), or
    the capture of each segment fails after the probe (end_capture, raising only from the third
    call on) and the call finishes plainly, up to MAX_CAPTURES times."""
    calls = {"n": 0}
    real = getattr(cupy_standin.HostStream, where)

    def broken(self, *args):
        calls["n"] += 1
        if where == "end_capture" and plan_stage() != "capture":
            return real(self, *args)
        real(self, *args) if where == "end_capture" else None
        raise RuntimeError("cudaErrorStreamCaptureInvalidated")

    stages = []

    def plan_stage():
        return stages[-1].stage if stages else None
    original = GraphedPlan.__init__

    def init(self, *a, **k):
        original(self, *a, **k)
        stages.append(self)
    monkeypatch.setattr(GraphedPlan, "__init__", init)
    monkeypatch.setattr(cupy_standin.HostStream, where, broken)
    expected = _train(None, steps=MAX_CAPTURES + 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = _train({}, steps=MAX_CAPTURES + 5)
    _check_same(run, expected)
    plan = run[4].plans()[-1]
    assert plan.stage == "plain" and plan.launches == 0 and calls["n"] > 0, plan.why_plain


def test_a_replaced_tensor_array_captures_again(host_cuda):
    """A tensor a graph reads gets a new array between steps (as load_state_dict may give): that
    call runs plainly, the next captures the graphs again with the new array."""
    results = []
    for compiled in (None, {}):
        rng = np.random.default_rng(1)
        model = tl.nn.Sequential(tl.nn.Linear(4, 5), tl.nn.Tanh(), tl.nn.Linear(5, 2)).to(
            tl.float64).to("cuda")
        with tl.no_grad():
            for p in model.parameters():
                p.copy_(tl.tensor(rng.standard_normal(p.shape), device="cuda"))
        scale = tl.tensor(rng.standard_normal(2), device="cuda")
        opt = tl.optim.SGD(model.parameters(), lr=0.05)

        def step(x):
            opt.zero_grad()
            loss = ((model(x) * scale) ** 2).mean()
            loss.backward()
            opt.step()
            return loss
        fn = step if compiled is None else tl.compile(step, **compiled)
        x = tl.tensor(rng.standard_normal((3, 4)), device="cuda")
        losses = []
        for i in range(8):
            if i == 5:
                scale._data = scale._data * 0.5
            losses.append(_np(fn(x)))
        results.append((losses, [_np(p) for p in model.parameters()], fn))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-12)
    for a, b in zip(results[1][1], results[0][1]):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    plan = results[1][2].plans()[-1]
    # calls 3 (probe), 4 (capture), 5 (launch), 6 (scale replaced: plain), 7 (capture), 8
    assert isinstance(plan, GraphedPlan) and plan.stage == "launch" and plan.captures == 2
    assert plan.launches == 4 * len(plan.segments)


def test_the_stand_in_records_while_capturing_and_runs_on_launch(host_cupy):
    cp = sys.modules["cupy"]
    a = cp.ones(3)
    s = cp.cuda.Stream(non_blocking=True)
    with s:
        s.begin_capture()
        b = a * 2
        a += 1
        with pytest.raises(NotImplementedError, match="cuBLAS"):
            host_cupy.matmul(cp.ones((2, 2)), cp.ones((2, 2)))
        with pytest.raises(RuntimeError, match="Capture"):
            cp.asnumpy(a)
        g = s.end_capture()
    assert np.isnan(cp.asnumpy(b)).all() and cp.asnumpy(a).tolist() == [1, 1, 1]
    g.launch(s)
    assert cp.asnumpy(b).tolist() == [2, 2, 2] and cp.asnumpy(a).tolist() == [2, 2, 2]
    g.launch(s)
    assert cp.asnumpy(b).tolist() == [4, 4, 4] and cp.asnumpy(a).tolist() == [3, 3, 3]
