"""tensorlite.compile against eager execution of the same program (issue 15).

Each test runs a program twice from identical state: eagerly, and through ``tl.compile`` (the
first call captures, later calls replay the plan).  The expected values always come from the
eager run, never from the compiled code's own output.

Tolerance: float32 throughout.  On the numpy backend a replay calls the same primitives in the
same order (bit for bit equal); on numba the fusion pass (compiler/fuse.py) generates kernels
whose float32 exp/tanh/sum differ from the backend's by a few ulps (seen: up to ~1e-7 in an
LSTM's parameters after 5 steps), and Adam/SGD carry such differences through every step, so
models are compared with rtol=1e-4 / atol=1e-5 (RTOL/ATOL): orders of magnitude above ulp drift
over 50 steps, orders below any real mistake (a missed step, a stale learning rate, a wrong
mask or batch statistic moves values by 1e-2 or more).  Single functions: rtol 1e-5/1e-6.

Backends: numpy everywhere; numba (small shapes) where fusion and memory planning change the
plan; cupy is covered by tests/test_compile_cuda.py.  Cold (empty Numba cache) the file takes
~32 s on 2 shared cores, warm ~4 s; the numba cases' kernel compiles are most of it.
"""
import importlib.util
import os
import sys
import warnings

import numpy as np
import pytest

import tensorlite as tl
import tensorlite.nn.functional as F
from tensorlite import nn
from tensorlite.compiler.module import OptimizedModule

RTOL, ATOL = 1e-4, 1e-5
NANOGPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "examples", "ports", "nanogpt")


@pytest.fixture(params=["numpy", "numba"])
def backend(request):
    """The CPU backends (numba's fused kernels are where compiled and eager may differ)."""
    reason = tl.backends.unavailable_reason(request.param)
    if reason:
        pytest.skip(reason)
    with tl.use_backend(request.param):
        tl.manual_seed(0)
        yield tl.get_backend()


# -- helpers ------------------------------------------------------------------------------------
def twins(make):
    """Two models with identical initial weights (the second loads the first's state dict)."""
    a, b = make(), make()
    b.load_state_dict(a.state_dict())
    return a, b


def arr(t):
    return t.detach().numpy()


def floats(rng, *shape):
    return tl.tensor(rng.standard_normal(shape).astype(np.float32))


def assert_states_close(a, b, rtol=RTOL, atol=ATOL):
    """Every parameter and buffer of ``b`` (compiled) equals ``a``'s (eager)."""
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        np.testing.assert_allclose(arr(sb[k]), arr(sa[k]), rtol=rtol, atol=atol, err_msg=k)


def states_differ(before, model):
    """Some entry of ``model``'s state moved away from ``before`` (training did something)."""
    return any(not np.array_equal(before[k], arr(v)) for k, v in model.state_dict().items())


def snapshot(model):
    return {k: arr(v).copy() for k, v in model.state_dict().items()}


def train_step(model, opt, x, y):
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    opt.zero_grad()
    return loss


def runtime_warnings(record):
    return [w for w in record if issubclass(w.category, RuntimeWarning)]


# -- 1. MLP with Adam, 50 steps -----------------------------------------------------------------
def mlp():
    return nn.Sequential(nn.Linear(20, 32), nn.Tanh(), nn.Linear(32, 32), nn.ReLU(),
                         nn.Linear(32, 4))


def test_mlp_adam_50_steps_match_eager(backend):
    a, b = twins(mlp)
    start = snapshot(a)
    oa, ob = (tl.optim.Adam(m.parameters(), lr=1e-2) for m in (a, b))
    step = tl.compile(train_step)
    rng = np.random.default_rng(0)
    wants, gots = [], []
    for i in range(50):
        x, y = floats(rng, 8, 20), tl.tensor(rng.integers(0, 4, 8))
        wants.append(train_step(a, oa, x, y).item())
        gots.append(step(b, ob, x, y))
        assert gots[-1].shape == () and gots[-1].dtype == tl.float32
        assert gots[-1].item() == pytest.approx(wants[-1], rel=RTOL, abs=ATOL), i
    # the loss tensors of earlier steps kept their values (no buffer reused under them)
    np.testing.assert_allclose([g.item() for g in gots], wants, rtol=RTOL, atol=ATOL)
    assert step.captures == 1 and len(step.plans()) == 1 and step.plans()[0].calls > 0
    assert states_differ(start, a)
    assert_states_close(a, b)


# -- 2. CNN with BatchNorm and Dropout, SGD with momentum ---------------------------------------
def small_cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Dropout(0.5), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))


def cnn_step(model, opt, x, y):
    out = model(x)
    loss = F.cross_entropy(out, y)
    loss.backward()
    opt.step()
    opt.zero_grad()
    return loss, out.detach()


def run_cnn_pair(a, b, oa, ob, step, rng, steps, seed0):
    """``steps`` steps of both; the generator seeded alike before each so that eager and compiled
    draw the same dropout masks."""
    for i in range(steps):
        x, y = floats(rng, 4, 1, 8, 8), tl.tensor(rng.integers(0, 3, 4))
        tl.manual_seed(seed0 + i)
        want_loss, want_out = cnn_step(a, oa, x, y)
        tl.manual_seed(seed0 + i)
        got_loss, got_out = step(b, ob, x, y)
        np.testing.assert_allclose(arr(got_out), arr(want_out), rtol=RTOL, atol=ATOL)
        assert got_loss.item() == pytest.approx(want_loss.item(), rel=RTOL, abs=ATOL)


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_cnn_batchnorm_dropout_match_eager(backend, mode):
    a, b = twins(small_cnn)
    for m in (a, b):
        getattr(m, mode)()
    start = snapshot(a)
    oa, ob = (tl.optim.SGD(m.parameters(), lr=0.05, momentum=0.9) for m in (a, b))
    step = tl.compile(cnn_step)
    run_cnn_pair(a, b, oa, ob, step, np.random.default_rng(1), 6, 100)
    assert step.captures == 1
    assert_states_close(a, b)  # parameters and BatchNorm's running stats / num_batches_tracked
    bn = dict(a.state_dict())
    moved = not np.array_equal(start["1.running_mean"], arr(bn["1.running_mean"]))
    assert moved == (mode == "train")  # running stats move in train mode only
    assert int(arr(bn["1.num_batches_tracked"])) == (6 if mode == "train" else 0)


def test_cnn_train_eval_switch_recaptures(backend):
    a, b = twins(small_cnn)
    oa, ob = (tl.optim.SGD(m.parameters(), lr=0.05, momentum=0.9) for m in (a, b))
    step = tl.compile(cnn_step)
    rng = np.random.default_rng(2)
    captures = []
    for k, mode in enumerate(["train", "eval", "train", "eval"]):
        for m in (a, b):
            getattr(m, mode)()
        run_cnn_pair(a, b, oa, ob, step, rng, 2, 10 * k)
        captures.append(step.captures)
    assert captures == [1, 2, 2, 2]  # one plan per mode, each reused
    assert_states_close(a, b)


def test_dropout_draws_fresh_masks_on_each_replay(backend):
    drop = tl.compile(lambda x: F.dropout(x, 0.5, training=True))
    x = tl.ones(256)
    masks = [arr(drop(x)) for _ in range(3)]  # a capture, then two replays
    assert drop.captures == 1
    for m in masks:
        assert set(np.unique(m)) <= {0.0, 2.0} and 0 < (m == 0).sum() < 256
    assert not np.array_equal(masks[1], masks[2])
    assert not np.array_equal(masks[0], masks[1])
    for seed in (3, 4):  # a replay draws what eager draws from the same generator state
        tl.manual_seed(seed)
        want = arr(F.dropout(x, 0.5, training=True))
        tl.manual_seed(seed)
        np.testing.assert_array_equal(arr(drop(x)), want)


def test_replays_advance_the_generators_as_eager(backend):
    """Draws from the default generator and from an explicit Generator: the same numbers as
    eager, call after call, and the generator left where eager leaves it."""
    def noisy(x):
        return F.dropout(x, 0.5, training=True) + tl.randn(x.shape) * 0.1
    compiled = tl.compile(noisy)
    x = tl.ones(50)
    tl.manual_seed(3)
    want = [arr(noisy(x)) for _ in range(4)] + [arr(tl.rand(5))]
    tl.manual_seed(3)
    got = [arr(compiled(x)) for _ in range(4)] + [arr(tl.rand(5))]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    assert compiled.captures == 1

    gen = tl.Generator().manual_seed(7)

    def shifted(x):
        return x + tl.randn(x.shape, generator=gen)
    compiled = tl.compile(shifted)
    got = [arr(compiled(tl.zeros(3))) for _ in range(3)]
    gen.manual_seed(7)
    want = [arr(shifted(tl.zeros(3))) for _ in range(3)]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    assert not np.array_equal(got[1], got[2])


# -- 3. a small GPT (the nanoGPT port), AdamW ---------------------------------------------------
def nanogpt():
    """examples/ports/nanogpt/model.py, loaded from its file under its own name (no sys.path
    entry, no "model" left in sys.modules)."""
    spec = importlib.util.spec_from_file_location("_nanogpt_model_for_compile",
                                                  os.path.join(NANOGPT, "model.py"))
    gpt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpt)
    return gpt


def test_nanogpt_adamw_matches_eager(backend):
    run_nanogpt(dropout=0.0, bias=True)


def test_nanogpt_with_dropout_and_no_bias_matches_eager():  # (numpy: numba's cold compiles)
    run_nanogpt(dropout=0.1, bias=False)


def run_nanogpt(dropout, bias):
    gpt = nanogpt()
    cfg = gpt.GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=8, vocab_size=32,
                        dropout=dropout, bias=bias)
    a, b = twins(lambda: gpt.GPT(cfg))
    start = snapshot(a)
    oa, ob = (tl.optim.AdamW(m.parameters(), lr=1e-2, weight_decay=0.1) for m in (a, b))

    def step(model, opt, x, y):
        _, loss = model(x, y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # as nanoGPT's train.py
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss
    compiled = tl.compile(step)
    rng = np.random.default_rng(3)
    for i in range(10):
        ix = rng.integers(0, 32, (4, 9))
        x, y = tl.tensor(ix[:, :-1]), tl.tensor(ix[:, 1:])
        tl.manual_seed(i)  # (the same dropout masks)
        want = step(a, oa, x, y).item()
        tl.manual_seed(i)
        assert compiled(b, ob, x, y).item() == pytest.approx(want, rel=RTOL, abs=ATOL), i
    assert compiled.captures == 1
    assert states_differ(start, a)
    assert_states_close(a, b)


class _Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, 5, batch_first=True)
        self.norm = nn.LayerNorm(5)
        self.head = nn.Linear(5, 2)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(self.norm(out[:, -1]))


def test_lstm_rmsprop_with_clipping_matches_eager():  # (numpy: numba's cold compiles ~12 s)
    a, b = twins(_Recurrent)
    oa, ob = (tl.optim.RMSprop(m.parameters(), lr=1e-2) for m in (a, b))

    def step(model, opt, x, y):
        loss = F.mse_loss(model(x), y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
        opt.zero_grad()
        return loss
    compiled = tl.compile(step)
    rng = np.random.default_rng(25)
    for i in range(5):
        x, y = floats(rng, 4, 6, 3), floats(rng, 4, 2)
        want = step(a, oa, x, y).item()
        assert compiled(b, ob, x, y).item() == pytest.approx(want, rel=RTOL, abs=ATOL), i
    assert compiled.captures == 1
    assert_states_close(a, b)


# -- 4. retracing on a new batch size -----------------------------------------------------------
def test_new_batch_size_retraces_and_same_size_replays():
    a, b = twins(lambda: nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)))
    oa, ob = (tl.optim.SGD(m.parameters(), lr=0.1) for m in (a, b))
    step = tl.compile(train_step)
    rng = np.random.default_rng(4)
    captures = []
    for batch in (8, 8, 5, 5, 8, 5):
        x, y = floats(rng, batch, 6), tl.tensor(rng.integers(0, 3, batch))
        want = train_step(a, oa, x, y).item()
        assert step(b, ob, x, y).item() == pytest.approx(want, rel=RTOL, abs=ATOL), batch
        captures.append(step.captures)
    assert captures == [1, 1, 2, 2, 2, 2]
    assert len(step.plans()) == 2
    assert_states_close(a, b)


def affine_tanh(x, w):
    return (x @ w).tanh() * 2.0 - x.sum()


def test_dtype_grad_mode_backend_and_requires_grad_each_retrace():
    if tl.backends.unavailable_reason("numba"):
        pytest.skip(tl.backends.unavailable_reason("numba"))
    f = tl.compile(affine_tanh)
    rng = np.random.default_rng(19)
    x32, w32 = floats(rng, 3, 4), floats(rng, 4, 4)
    x64, w64 = x32.double(), w32.double()

    def calls():
        yield x32, w32, None
        yield x64, w64, None                           # dtype
        yield x32, w32, "no_grad"                      # grad mode
        yield x32, w32, "numba"                        # backend
        yield x32, w32.clone().requires_grad_(), "no_grad"  # an argument's requires_grad
    seen = []
    for rounds in range(2):
        for x, w, how in calls():
            if how == "numba":
                with tl.use_backend("numba"):
                    x, w = tl.tensor(arr(x)), tl.tensor(arr(w))
                    got, want = f(x, w), affine_tanh(x, w)
            elif how == "no_grad":
                with tl.no_grad():
                    got, want = f(x, w), affine_tanh(x, w)
            else:
                got, want = f(x, w), affine_tanh(x, w)
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_allclose(arr(got), arr(want), rtol=1e-6, atol=1e-6)
            seen.append(f.captures)
    assert seen == [1, 2, 3, 4, 5] + [5] * 5  # each new signature once, then replays


# -- 5. the fallback warning for a host read inside the step ------------------------------------
HOST_READS = {"item": ".item()", "bool": "bool()", "numpy": "numpy()", "tolist": ".tolist()"}


@pytest.mark.parametrize("read", list(HOST_READS))
def test_host_read_falls_back_with_one_warning(read):
    a, b = twins(lambda: nn.Linear(5, 3))
    oa, ob = (tl.optim.SGD(m.parameters(), lr=0.1) for m in (a, b))
    lines, runs = [], []
    here = sys._getframe

    def step(model, opt, x):
        loss = model(x).pow(2).mean()
        if read == "item":
            loss.item(); lines.append(here().f_lineno)  # noqa: E702 (the read's own line)
        elif read == "bool":
            bool(loss > 0); lines.append(here().f_lineno)  # noqa: E702
        elif read == "numpy":
            loss.detach().numpy(); lines.append(here().f_lineno)  # noqa: E702
        else:
            loss.tolist(); lines.append(here().f_lineno)  # noqa: E702
        runs.append(1)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss
    compiled = tl.compile(step)
    rng = np.random.default_rng(5)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for i in range(4):
            x = floats(rng, 4, 5)
            want = step(a, oa, x).item()
            n = len(runs)
            assert compiled(b, ob, x).item() == pytest.approx(want, rel=RTOL, abs=ATOL)
            assert len(runs) == n + 1  # the function's Python ran: eager, every call
    got = runtime_warnings(record)
    assert len(got) == 1, [str(w.message) for w in got]
    message = str(got[0].message)
    assert message.startswith("tensorlite.compile: cannot capture")
    assert HOST_READS[read] in message and "run eagerly" in message
    assert f"{__file__}:{lines[0]}" in message  # the line of the read
    assert os.path.abspath(got[0].filename) == os.path.abspath(__file__)  # the caller's line
    assert compiled.captures == 1 and compiled.plans() == []
    assert_states_close(a, b)


# -- 6. gradients accumulated over replays without zero_grad ------------------------------------
def test_gradients_accumulate_over_replays(backend):
    a, b = twins(lambda: nn.Linear(5, 3))

    def forward_backward(model, x):
        model(x).tanh().pow(2).sum().backward()
    compiled = tl.compile(forward_backward)
    rng = np.random.default_rng(6)
    first = None
    for i in range(4):
        x = floats(rng, 4, 5)
        forward_backward(a, x)
        compiled(b, x)
        for name, p in a.named_parameters():
            q = dict(b.named_parameters())[name]
            assert q.grad is not None and q.grad is not p.grad
            np.testing.assert_allclose(arr(q.grad), arr(p.grad), rtol=RTOL, atol=ATOL,
                                       err_msg=f"{name} after {i + 1} calls")
        if first is None:
            first = arr(a.weight.grad).copy()
    assert not np.allclose(arr(a.weight.grad), first)  # the gradients did accumulate
    # the first call (.grad None) and the second (.grad set) each captured; then replays
    assert compiled.captures == 2


def test_gradients_handed_out_by_earlier_calls_keep_their_values(backend):
    a, b = twins(lambda: nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 1)))

    def forward_backward(model, x):
        loss = model(x).pow(2).mean()
        loss.backward()
        return loss
    compiled = tl.compile(forward_backward)
    rng = np.random.default_rng(16)
    kept_a, kept_b = [], []
    for _ in range(4):
        x = floats(rng, 3, 5)
        kept_a.append((forward_backward(a, x), [p.grad for p in a.parameters()]))
        kept_b.append((compiled(b, x), [p.grad for p in b.parameters()]))
        for m in (a, b):
            m.zero_grad(set_to_none=True)
    assert compiled.captures == 1
    for (la, ga), (lb, gb) in zip(kept_a, kept_b):
        assert lb.item() == pytest.approx(la.item(), rel=RTOL, abs=ATOL)
        for p, q in zip(ga, gb):
            np.testing.assert_allclose(arr(q), arr(p), rtol=RTOL, atol=ATOL)


def test_zero_grad_in_place_at_the_start_of_the_step(backend):
    a, b = twins(lambda: nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3)))
    oa, ob = (tl.optim.Adam(m.parameters(), lr=1e-2) for m in (a, b))

    def step(model, opt, x, y):
        opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    compiled = tl.compile(step)
    rng = np.random.default_rng(17)
    for i in range(6):
        x, y = floats(rng, 3, 5), tl.tensor(rng.integers(0, 3, 3))
        want = step(a, oa, x, y).item()
        assert compiled(b, ob, x, y).item() == pytest.approx(want, rel=RTOL, abs=ATOL), i
    assert compiled.captures == 2  # .grad None at the first call, set after it
    assert_states_close(a, b)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(arr(q.grad), arr(p.grad), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("variant", ["rebind", "in place", "clip value", "noise", "groups"])
def test_gradients_changed_between_backward_and_step(variant):
    """Work on .grad between backward and the optimizer step (rebinding it, scaling it in place,
    clipping, noise from the generator) and parameter groups with their own options."""
    a, b = twins(lambda: nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)))

    def optimizer(m):
        if variant == "groups":
            return tl.optim.SGD([{"params": m[0].parameters(), "lr": 0.5},
                                 {"params": m[2].parameters()}], lr=0.05, momentum=0.9,
                                weight_decay=0.01)
        return tl.optim.SGD(m.parameters(), lr=0.1)
    oa, ob = optimizer(a), optimizer(b)

    def step(model, opt, x):
        loss = model(x).pow(2).mean()
        loss.backward()
        if variant == "rebind":
            for p in model.parameters():
                p.grad = p.grad * 0.5
        elif variant == "in place":
            with tl.no_grad():
                for p in model.parameters():
                    p.grad.mul_(0.5)
        elif variant == "clip value":
            nn.utils.clip_grad_value_(model.parameters(), 0.01)
        elif variant == "noise":
            for p in model.parameters():
                p.grad.add_(tl.randn_like(p.grad) * 0.01)
        opt.step()
        opt.zero_grad()
        return loss
    compiled = tl.compile(step)
    rng = np.random.default_rng(23)
    start = snapshot(a)
    for i in range(5):
        x = floats(rng, 4, 3)
        tl.manual_seed(i)
        want = step(a, oa, x).item()
        tl.manual_seed(i)
        assert compiled(b, ob, x).item() == pytest.approx(want, rel=RTOL, abs=ATOL), i
    assert compiled.captures == 1 and states_differ(start, a)
    assert_states_close(a, b)


# -- 7. learning rate schedules between and inside replays --------------------------------------
@pytest.mark.parametrize("where", ["outside", "inside", "assigned"])
def test_learning_rate_changes_are_honoured(where):
    a, b = twins(lambda: nn.Linear(5, 3))
    oa, ob = (tl.optim.SGD(m.parameters(), lr=0.2, momentum=0.5) for m in (a, b))
    if where == "inside":
        sa, sb = (tl.optim.lr_scheduler.LambdaLR(o, lambda e: 1 / (1 + e)) for o in (oa, ob))
    else:
        sa, sb = (tl.optim.lr_scheduler.StepLR(o, 2, gamma=0.5) for o in (oa, ob))

    def step(model, opt, sched, x):
        loss = model(x).pow(2).mean()
        loss.backward()
        opt.step()
        opt.zero_grad()
        if where == "inside":
            sched.step()
        return loss
    compiled = tl.compile(step)
    rng = np.random.default_rng(7)
    lrs = []
    for i in range(7):
        x = floats(rng, 4, 5)
        want = step(a, oa, sa, x).item()
        assert compiled(b, ob, sb, x).item() == pytest.approx(want, rel=RTOL, abs=ATOL), i
        if where == "outside":
            sa.step()
            sb.step()
        elif where == "assigned":
            for o in (oa, ob):
                o.param_groups[0]["lr"] = 0.3 / (i + 2)
        assert ob.param_groups[0]["lr"] == oa.param_groups[0]["lr"]
        lrs.append(oa.param_groups[0]["lr"])
        np.testing.assert_allclose(arr(b.weight), arr(a.weight), rtol=RTOL, atol=ATOL)
    assert len(set(lrs)) > 2  # the rate did change
    assert compiled.captures == 1
    assert_states_close(a, b)


# -- 8. fusion and memory planning on and off ---------------------------------------------------
def chain(x, bias, scale):
    """Elementwise chains over one shape, broadcast operands and a trailing reduction."""
    h = ((x + bias).tanh() * scale).exp() - 1.0
    g = F.gelu(x * 0.5 + bias) * h.sigmoid()
    return (g * g + h).sum(dim=1), h.mean()


@pytest.mark.parametrize("fusion,memory", [(True, True), (True, False), (False, True),
                                           (False, False)])
def test_fusion_and_memory_options_agree_with_eager_on_numba(fusion, memory):
    reason = tl.backends.unavailable_reason("numba")
    if reason:
        pytest.skip(reason)
    rng = np.random.default_rng(8)
    with tl.use_backend("numba"):
        f = tl.compile(chain, fusion=fusion, memory=memory)
        assert f.options == {"fusion": fusion, "memory": memory, "cuda_graph": True}
        bias, scale = floats(rng, 1, 16), floats(rng, 16) * 0.1
        for _ in range(3):
            x = floats(rng, 8, 16)
            got, want = f(x, bias, scale), chain(x, bias, scale)
            for g, w in zip(got, want):
                np.testing.assert_allclose(arr(g), arr(w), rtol=1e-5, atol=1e-6)
        assert f.captures == 1
        plain = tl.compile(chain, fusion=False, memory=False)
        plain(x, bias, scale)
        if fusion:  # the elementwise runs became generated kernels: fewer calls
            assert f.plans()[0].calls < plain.plans()[0].calls
        else:
            assert f.plans()[0].calls == plain.plans()[0].calls

        a, b = twins(mlp)  # test 1's MLP: its generated kernels are compiled once
        oa, ob = (tl.optim.Adam(m.parameters(), lr=1e-2) for m in (a, b))
        step = tl.compile(train_step, fusion=fusion, memory=memory)
        for i in range(8):
            x, y = floats(rng, 8, 20), tl.tensor(rng.integers(0, 4, 8))
            want = train_step(a, oa, x, y).item()
            assert step(b, ob, x, y).item() == pytest.approx(want, rel=RTOL, abs=ATOL), i
        assert step.captures == 1
        assert_states_close(a, b)


@pytest.mark.parametrize("memory", [True, False])
def test_non_contiguous_arguments_replay_right(backend, memory):
    """Strides are not part of the signature: a plan captured with contiguous arguments replays
    transposed and strided views of the same shapes (generated kernels must not assume the
    captured layout)."""
    f = tl.compile(chain, memory=memory)
    rng = np.random.default_rng(22)
    x, bias, scale = floats(rng, 8, 16), floats(rng, 1, 16), floats(rng, 16) * 0.1
    f(x, bias, scale)
    for x, bias in [(floats(rng, 16, 8).t(), bias), (x, floats(rng, 16, 1).t()),
                    (floats(rng, 8, 32)[:, ::2], bias), (x, bias)]:
        for g, w in zip(f(x, bias, scale), chain(x, bias, scale)):
            np.testing.assert_allclose(arr(g), arr(w), rtol=1e-5, atol=1e-6)
    assert f.captures == 1


def test_aliased_arguments_at_capture_then_distinct_and_back():
    def f(a, b):
        return a * 2 + b

    def g(a, b):  # writes its first argument, then reads its second
        a.add_(1)
        return b * 2
    for fn in (f, g):
        compiled = tl.compile(fn)
        for aliased in (True, False, True, False):
            x, y = tl.ones(3), tl.zeros(3)
            x2, y2 = tl.ones(3), tl.zeros(3)
            got = compiled(x, x) if aliased else compiled(x, y)
            want = fn(x2, x2) if aliased else fn(x2, y2)
            np.testing.assert_array_equal(arr(got), arr(want), err_msg=f"{fn.__name__}")
            np.testing.assert_array_equal(arr(x), arr(x2))
        assert compiled.captures == 2


def test_constants_made_in_the_step(backend):
    """Tensors the step makes from nothing (zeros, ones): those that leave are fresh on every
    call, an accumulator written in place starts from its constant each time."""
    def f(x):
        z, o = tl.zeros(3), tl.ones(3) * 2
        return x + o, z, o.reshape(3, 1)

    def g(x):
        acc = tl.zeros(3)
        acc += x
        acc.add_(1)
        return acc * 1
    cf, cg = tl.compile(f), tl.compile(g)
    for i in range(4):
        x = tl.ones(3) * i
        got = cf(x)
        for a, b in zip(got, f(x)):
            np.testing.assert_array_equal(arr(a), arr(b))
        for t in got:
            t.fill_(9.0)  # the caller's to keep or change
        np.testing.assert_array_equal(arr(cg(x)), arr(g(x)))
    assert cf.captures == cg.captures == 1


def test_in_place_chains_on_views_of_an_argument(backend):
    """In-place runs on a column and on a transpose of an argument (non-contiguous targets a
    fused kernel must write where they live, or leave alone)."""
    def column(x, y):
        v = x[:, 1]
        v.mul_(2.0)
        v.add_(y)
        v.sub_(0.5)
        return x * 1

    def transposed(x, y):
        v = x.t()
        v.mul_(2.0)
        v.add_(y)
        return x * 1
    for fn, y_of in ((column, lambda i: tl.tensor(float(i + 1))),
                     (transposed, lambda i: tl.ones(3, 4) * (i + 1))):
        compiled = tl.compile(fn)
        for i in range(3):
            x1, x2 = (tl.tensor(np.arange(12, dtype=np.float32).reshape(4, 3)) for _ in "ab")
            want, got = fn(x1, y_of(i)), compiled(x2, y_of(i))
            np.testing.assert_array_equal(arr(got), arr(want), err_msg=fn.__name__)
            np.testing.assert_array_equal(arr(x2), arr(x1), err_msg=fn.__name__)
        assert compiled.captures == 1


def views_and_results(x, w):
    h = (x * 2.0 + 1.0).tanh()
    g = (h * w).exp()
    return h, g.t(), g[1], (g - h).reshape(-1), h.sum(dim=0)


@pytest.mark.parametrize("memory", [True, False])
def test_results_of_earlier_calls_are_not_overwritten(backend, memory):
    """Planned buffers are reused across steps: a result (or a view of one) handed out by an
    earlier call must keep its values."""
    f = tl.compile(views_and_results, memory=memory)
    rng = np.random.default_rng(15)
    w = floats(rng, 1, 6)
    kept, want = [], []
    for _ in range(4):
        x = floats(rng, 3, 6)
        kept.append(f(x, w))
        want.append([arr(t).copy() for t in views_and_results(x, w)])
    assert f.captures == 1
    for got, exp in zip(kept, want):
        for g, e in zip(got, exp):
            np.testing.assert_allclose(arr(g), e, rtol=1e-5, atol=1e-6)
    for _ in range(3):  # the caller overwrites what it got: later calls are unaffected
        x = floats(rng, 3, 6)
        got = f(x, w)
        for g, e in zip(got, views_and_results(x, w)):
            np.testing.assert_allclose(arr(g), arr(e), rtol=1e-5, atol=1e-6)
        for g in got:
            g.fill_(7.0)


# -- 9. bad and edge input; the decorator forms; compiled modules --------------------------------
def test_returning_an_object_falls_back_with_a_warning():
    class Box:
        pass

    @tl.compile
    def f(x):
        box = Box()
        box.y = x * 2
        return box
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        outs = [f(tl.ones(3) * i) for i in range(3)]
    got = runtime_warnings(record)
    assert len(got) == 1 and "returns a Box" in str(got[0].message)
    assert all(type(o) is Box for o in outs)
    assert [arr(o.y).tolist() for o in outs] == [[0, 0, 0], [2, 2, 2], [4, 4, 4]]
    assert f.captures == 1


def test_a_function_returning_a_live_graph_falls_back_with_a_warning():
    """A compiled function (not a module) that returns a tensor still on the tape: one warning,
    eager calls, gradients as eager's."""
    a, b = twins(lambda: nn.Linear(3, 2))
    f = tl.compile(lambda x: b(x).tanh())
    rng = np.random.default_rng(28)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for _ in range(3):
            x = floats(rng, 2, 3)
            out = f(x)
            assert out.grad_fn is not None
            out.sum().backward()
            a(x).tanh().sum().backward()
    got = runtime_warnings(record)
    assert len(got) == 1 and "autograd graph is still alive" in str(got[0].message)
    assert os.path.abspath(got[0].filename) == os.path.abspath(__file__)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(arr(q.grad), arr(p.grad), rtol=1e-6, atol=1e-7)


def test_strings_none_and_containers_in_the_result_replay():
    @tl.compile
    def f(x):
        return "tag", None, [x * 2], {"neg": -x}
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for i in range(3):
            x = tl.tensor([1.0, 2.0]) + i
            tag, none, (double,), d = f(x)
            assert tag == "tag" and none is None
            assert arr(double).tolist() == arr(x * 2).tolist()
            assert arr(d["neg"]).tolist() == arr(-x).tolist()
    assert f.captures == 1


def test_keyword_arguments():
    def f(x, *, scale, shift=None):
        y = x * scale
        return y if shift is None else y + shift
    c = tl.compile(f)
    rng = np.random.default_rng(9)
    calls = [dict(scale=2.0), dict(scale=2.0), dict(scale=3.0), dict(scale=3.0, shift=None)]
    for kw in calls:
        x = floats(rng, 3)
        np.testing.assert_array_equal(arr(c(x, **kw)), arr(f(x, **kw)))
    # another value of a non-tensor argument, or another set of keywords: another signature
    assert c.captures == 3
    for _ in range(2):
        x, s = floats(rng, 3), floats(rng, 3)
        np.testing.assert_array_equal(arr(c(x, scale=0.5, shift=s)), arr(f(x, scale=0.5, shift=s)))
    assert c.captures == 4


def test_decorator_forms():
    @tl.compile
    def f(x):
        return x.exp() + 1

    @tl.compile(fusion=False, memory=False)
    def g(x):
        return x.exp() + 1

    h = tl.compile(fusion=False)(lambda x: x.exp() + 1)

    def plain(x):
        return x.exp() + 1
    assert tl.compile(plain, disable=True) is plain
    assert f.__name__ == "f" and g.__name__ == "g"
    assert g.options["fusion"] is False and g.options["memory"] is False
    assert h.options["fusion"] is False and f.options["fusion"] is True
    for i in range(3):
        x = tl.tensor([0.5, -1.0, 2.0]) * i
        want = arr(plain(x))
        for c in (f, g, h):
            np.testing.assert_array_equal(arr(c(x)), want)
    assert f.captures == g.captures == h.captures == 1


def test_an_error_during_capture_propagates_and_leaves_nothing_behind():
    from tensorlite import _capture_hooks
    c = tl.compile(lambda x, w: x @ w)
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        c(tl.ones(2, 3), tl.ones(4, 2))
    assert _capture_hooks.active == [] and c.plans() == []
    assert all(type(b).__name__ != "Recorder" for b in tl.backends.active.values())
    for k in (1.0, 2.0):
        np.testing.assert_array_equal(arr(c(tl.ones(2, 3) * k, tl.ones(3, 2))),
                                      np.full((2, 2), 3 * k))
    assert len(c.plans()) == 1
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        c(tl.ones(2, 3), tl.ones(4, 2))


def test_nested_compiled_functions():
    """A compiled function called inside another's capture (fresh, or already captured) is
    part of the outer plan: the outer replays compute it too."""
    fresh = tl.compile(lambda x: x.exp() + 1)
    seen = tl.compile(lambda x: x * 3)
    seen(tl.ones(2))
    outer = tl.compile(lambda x: fresh(x) * 2 + seen(x))
    for v in (0.0, 1.0, 2.5, -1.0):
        x = tl.full((2,), v)
        np.testing.assert_allclose(arr(outer(x)), arr((x.exp() + 1) * 2 + x * 3), rtol=1e-6)
    assert outer.captures == 1


def test_compiled_module_under_no_grad_equals_the_model(backend):
    a, b = twins(lambda: nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.GELU(),
                                       nn.Linear(6, 2)))
    compiled = tl.compile(b)
    assert isinstance(compiled, OptimizedModule) and compiled._orig_mod is b
    assert list(compiled.state_dict()) == ["_orig_mod." + k for k in b.state_dict()]
    rng = np.random.default_rng(10)
    captures = []
    with tl.no_grad():
        for mode in (True, False, True):  # train: running stats move; eval: they are used
            a.train(mode)
            compiled.train(mode)
            assert b.training is mode and b[1].training is mode
            for _ in range(3):
                x = floats(rng, 5, 4)
                out = compiled(x)
                assert out.shape == (5, 2) and not out.requires_grad
                np.testing.assert_allclose(arr(out), arr(a(x)), rtol=1e-5, atol=1e-6)
            captures.append(compiled._compiled.captures)
    assert captures == [1, 2, 2]
    assert_states_close(a, b)


def module_steps(compiled):
    """The forward+backward plans a compiled module made in grad mode (module.py's _Step)."""
    return [s for e in compiled._steps.values() for s in e]


def test_compiled_module_trains_as_eager(backend):
    """In grad mode tl.compile(model) replays a forward plan and a backward plan under one tape
    node: loss.backward(), accumulation and an optimizer outside the module work as in eager."""
    a, b = twins(lambda: nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Tanh(),
                                       nn.Dropout(0.3), nn.Linear(6, 3)))
    compiled = tl.compile(b)
    oa, ob = (tl.optim.Adam(m.parameters(), lr=1e-2) for m in (a, b))
    rng = np.random.default_rng(11)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for i in range(6):
            x, y = floats(rng, 5, 4), tl.tensor(rng.integers(0, 3, 5))
            tl.manual_seed(i)
            want = F.cross_entropy(a(x), y)
            want.backward()
            tl.manual_seed(i)
            out = compiled(x)
            assert out.requires_grad and out.grad_fn is not None
            got = F.cross_entropy(out, y)
            got.backward()
            assert got.item() == pytest.approx(want.item(), rel=RTOL, abs=ATOL), i
            for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
                np.testing.assert_allclose(arr(q.grad), arr(p.grad), rtol=RTOL, atol=ATOL,
                                           err_msg=f"{name}.grad, step {i}")
            if i % 2:  # gradients of two steps accumulated, then one optimizer step
                for o in (oa, ob):
                    o.step()
                    o.zero_grad()
    assert not runtime_warnings(record), [str(w.message) for w in record]
    steps = module_steps(compiled)
    assert steps and "eager" not in steps and len(steps) <= 2  # (.grad None, then set)
    assert_states_close(a, b)


def test_compiled_module_called_twice_in_one_graph(backend):
    """Two calls before one backward (a siamese loss): each call's saved values are its own,
    whatever buffers the plans reuse."""
    a, b = twins(lambda: nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 6), nn.GELU(),
                                       nn.Linear(6, 3)))
    compiled = tl.compile(b)
    rng = np.random.default_rng(27)
    for _ in range(3):
        x1, x2 = floats(rng, 5, 4), floats(rng, 5, 4)
        want = (a(x1) - a(x2)).pow(2).sum()
        got = (compiled(x1) - compiled(x2)).pow(2).sum()
        want.backward()
        got.backward()
        assert got.item() == pytest.approx(want.item(), rel=1e-5, abs=1e-6)
        for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
            np.testing.assert_allclose(arr(q.grad), arr(p.grad), rtol=1e-5, atol=1e-6,
                                       err_msg=name)
        for m in (a, b):
            m.zero_grad()


def test_compiled_module_input_gradients_and_double_backward():
    a, b = twins(lambda: nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)))
    compiled = tl.compile(b)
    rng = np.random.default_rng(21)
    for _ in range(3):
        x = floats(rng, 4, 3)
        xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
        # a gradient penalty: the input gradient, differentiated again
        ga, = tl.autograd.grad(a(xa).pow(2).sum(), xa, create_graph=True)
        gb, = tl.autograd.grad(compiled(xb).pow(2).sum(), xb, create_graph=True)
        np.testing.assert_allclose(arr(gb), arr(ga), rtol=1e-5, atol=1e-6)
        for m in (a, b):
            m.zero_grad()
        ga.pow(2).sum().backward()
        gb.pow(2).sum().backward()
        for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
            np.testing.assert_allclose(arr(q.grad), arr(p.grad), rtol=1e-5, atol=1e-6,
                                       err_msg=name)
        assert abs(arr(a[0].weight.grad)).sum() > 0


class _ReadsOnTheHost(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2)

    def forward(self, x):
        y = self.lin(x)
        self.last = y.sum().item()
        return y


@pytest.mark.parametrize("grad", [True, False])
def test_compiled_module_host_read_falls_back_with_one_warning(grad):
    a, b = twins(_ReadsOnTheHost)
    compiled = tl.compile(b)
    rng = np.random.default_rng(20)
    with warnings.catch_warnings(record=True) as record, tl.set_grad_enabled(grad):
        warnings.simplefilter("always")
        for _ in range(3):
            x = floats(rng, 4, 3)
            want, got = a(x), compiled(x)
            np.testing.assert_allclose(arr(got), arr(want), rtol=1e-6, atol=1e-7)
            assert b.last == pytest.approx(a.last, rel=1e-6)  # the forward's Python ran
            if grad:
                want.sum().backward()
                got.sum().backward()
    if grad:
        for p, q in zip(a.parameters(), b.parameters()):
            np.testing.assert_allclose(arr(q.grad), arr(p.grad), rtol=1e-6, atol=1e-7)
    got = runtime_warnings(record)
    assert len(got) == 1 and ".item()" in str(got[0].message), [str(w.message) for w in got]
    assert os.path.abspath(got[0].filename) == os.path.abspath(__file__)


def test_returning_a_leaf_that_requires_grad():
    m = nn.Linear(2, 2)
    f = tl.compile(lambda x: (x, m.weight))
    x = tl.ones(2, requires_grad=True)
    for _ in range(2):
        got_x, got_w = f(x)
        assert got_x.requires_grad and got_w.requires_grad
        assert got_x is x and got_w is m.weight


def test_cache_size_bounds_the_plans():
    f = tl.compile(lambda x: x * 2 + 1, cache_size=2)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for n in (1, 2, 1, 2):
            np.testing.assert_array_equal(arr(f(tl.ones(n))), np.full(n, 3.0))
        assert f.captures == 2 and len(f.plans()) == 2 and not runtime_warnings(record)
        for n in (3, 4, 3):
            np.testing.assert_array_equal(arr(f(tl.ones(n))), np.full(n, 3.0))
    got = runtime_warnings(record)
    assert len(f.plans()) <= 2, f"cache_size=2 but {len(f.plans())} plans"
    assert len(got) == 1 and "cache_size" in str(got[0].message)


# Python state that the function reads, changed between calls: eager sees the change; a
# replay must too (torch.compile guards these and recompiles) or at least not replay stale work.
_SCALE = 2.0
_OFFSET = None
_CONFIG = {"scale": 2.0}


class _Settings:
    temperature = 1.0


_SETTINGS = _Settings()


def _scaled(x):
    return x * _SCALE + _OFFSET


def _configured(x):
    return x * _CONFIG["scale"] / _SETTINGS.temperature


def _python_state_case(case):
    """(fn, change): ``fn`` reads some Python state; ``change()`` changes it."""
    global _SCALE, _OFFSET
    _SCALE, _OFFSET = 2.0, tl.ones(3)
    if case == "global number":
        return _scaled, lambda: globals().update(_SCALE=5.0)
    if case == "global tensor rebound":
        return _scaled, lambda: globals().update(_OFFSET=tl.zeros(3))
    if case == "global dict item":
        return _configured, lambda: _CONFIG.update(scale=5.0)
    if case == "global object attribute":
        return _configured, lambda: setattr(_SETTINGS, "temperature", 4.0)
    if case == "closure number":
        k = 1.0

        def fn(x):
            return x * k + 1

        def change():
            nonlocal k
            k = 3.0
        return fn, change
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5))
    if case == "parameter rebound":
        def change():
            model[0].weight = nn.Parameter(tl.zeros(3, 3))
    elif case == "module attribute":
        def change():
            model[1].p = 0.0
    return (lambda x: model(x).detach()), change


@pytest.mark.parametrize("case", ["global number", "global tensor rebound", "closure number",
                                  "parameter rebound", "module attribute",
                                  "global dict item", "global object attribute"])
def test_python_state_changed_between_calls(case):
    try:
        fn, change = _python_state_case(case)
        compiled = tl.compile(fn)
        x = tl.ones(3)
        for _ in range(2):
            tl.manual_seed(1)
            want = arr(fn(x))
            tl.manual_seed(1)
            np.testing.assert_array_equal(arr(compiled(x)), want)
        change()
        tl.manual_seed(1)
        want = arr(fn(x))
        tl.manual_seed(1)
        np.testing.assert_allclose(arr(compiled(x)), want, rtol=1e-6, err_msg=case)
    finally:
        globals().update(_SCALE=2.0, _OFFSET=None)
        _CONFIG["scale"], _SETTINGS.temperature = 2.0, 1.0


def test_parameters_converted_in_place_between_calls():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    compiled = tl.compile(lambda x: model(x))
    x = tl.ones(2, 3)
    with tl.no_grad():
        compiled(x)
        compiled(x)
        model.double()
        with pytest.raises(RuntimeError, match="float64") as eager:
            model(x)
        with pytest.raises(RuntimeError) as got:
            compiled(x)
        assert str(got.value) == str(eager.value)


def _sgd_step(model, opt, x):
    loss = model(x).pow(2).mean()
    loss.backward()
    opt.step()
    opt.zero_grad()
    return loss


@pytest.mark.parametrize("hook", ["forward", "forward pre", "gradient", "forward removed"])
def test_hooks_registered_between_calls(hook):
    a, b = twins(lambda: nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)))
    oa, ob = (tl.optim.SGD(m.parameters(), lr=0.1) for m in (a, b))

    compiled = tl.compile(_sgd_step)
    rng = np.random.default_rng(26)
    handles = [m[0].register_forward_hook(lambda mod, inp, out: out * 0.5) for m in (a, b)
               if hook == "forward removed"]
    for i in range(4):
        if i == 2:
            for h in handles:
                h.remove()
            for m in (a, b):
                if hook == "forward removed":
                    continue
                if hook == "forward":
                    m[0].register_forward_hook(lambda mod, inp, out: out * 0.5)
                elif hook == "forward pre":
                    m[0].register_forward_pre_hook(lambda mod, inp: (inp[0] * 0.5,))
                else:
                    m[0].weight.register_hook(lambda g: g * 0)
        x = floats(rng, 4, 3)
        want = _sgd_step(a, oa, x).item()
        assert compiled(b, ob, x).item() == pytest.approx(want, rel=RTOL, abs=ATOL), i
        np.testing.assert_allclose(arr(b[0].weight), arr(a[0].weight), rtol=RTOL, atol=ATOL)


def test_default_dtype_changed_between_calls():
    def f(x):
        return x + tl.ones(3) + tl.tensor(0.1)
    compiled = tl.compile(f)
    x = tl.tensor([1, 2, 3])
    compiled(x)
    compiled(x)
    tl.set_default_dtype(tl.float64)
    try:
        want, got = f(x), compiled(x)
    finally:
        tl.set_default_dtype(tl.float32)
    assert want.dtype == tl.float64
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(arr(got), arr(want))


def test_freezing_a_parameter_between_calls():
    a, b = twins(lambda: nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2)))
    oa, ob = (tl.optim.SGD(m.parameters(), lr=0.1) for m in (a, b))

    compiled = tl.compile(_sgd_step)
    rng = np.random.default_rng(18)
    for i in range(4):
        if i == 2:  # fine-tuning: freeze the first layer
            for m in (a, b):
                m[0].weight.requires_grad_(False)
        x = floats(rng, 3, 4)
        want = _sgd_step(a, oa, x).item()
        assert compiled(b, ob, x).item() == pytest.approx(want, rel=RTOL, abs=ATOL)
    assert_states_close(a, b)


def test_two_boolean_reductions_that_agree_at_capture(backend):
    def flags(x):
        return (x > 5).any(), (x < 0).any(), (x == x).all()
    compiled = tl.compile(flags)
    compiled(tl.tensor([1.0, 2.0]))  # captured with (False, False, True)
    for v in ([-1.0, 2.0], [9.0, 2.0], [1.0, float("nan")], [1.0, 2.0]):
        x = tl.tensor(v)
        assert [bool(t) for t in compiled(x)] == [bool(t) for t in flags(x)], v


# -- 10. bounds checks in the step are checked again on each replay -----------------------------
def test_out_of_range_token_in_a_later_call_raises(backend):
    a, b = twins(lambda: nn.Sequential(nn.Embedding(10, 6), nn.Flatten(), nn.Linear(18, 4)))
    oa, ob = (tl.optim.SGD(m.parameters(), lr=0.1) for m in (a, b))
    step = tl.compile(train_step)
    rng = np.random.default_rng(12)

    def batch(bad=None):
        ix = rng.integers(0, 10, (5, 3))
        if bad is not None:
            ix[2, 1] = bad
        return tl.tensor(ix), tl.tensor(rng.integers(0, 4, 5))
    for _ in range(2):
        x, y = batch()
        want = train_step(a, oa, x, y).item()
        assert step(b, ob, x, y).item() == pytest.approx(want, rel=RTOL, abs=ATOL)
    for bad in (10, 57, -11):
        x, y = batch(bad)
        with pytest.raises(IndexError) as eager:
            train_step(a, oa, x, y)
        before = snapshot(b)
        with pytest.raises(IndexError, match=f"index {bad} is out of range") as compiled:
            step(b, ob, x, y)
        assert str(compiled.value) == str(eager.value)
        assert not states_differ(before, b)  # nothing was written before the check
    captures = step.captures
    for _ in range(2):  # the plan still replays valid batches, and rightly
        x, y = batch()
        want = train_step(a, oa, x, y).item()
        assert step(b, ob, x, y).item() == pytest.approx(want, rel=RTOL, abs=ATOL)
    assert step.captures == captures
    assert_states_close(a, b)


def test_out_of_range_computed_index_raises():
    """A check on a value computed from the inputs alone runs before anything is written: the
    call goes to eager and raises eager's error; one on a random draw diverges mid-replay."""
    emb = nn.Embedding(10, 3)

    @tl.compile
    def lookup(i, shift):
        with tl.no_grad():
            return emb(i + shift)
    np.testing.assert_array_equal(arr(lookup(tl.tensor([1, 2]), tl.tensor(3))),
                                  arr(emb.weight)[[4, 5]])
    np.testing.assert_array_equal(arr(lookup(tl.tensor([0, 2]), tl.tensor(7))),
                                  arr(emb.weight)[[7, 9]])
    with pytest.raises(IndexError) as eager:
        emb(tl.tensor([1, 2]) + tl.tensor(8))
    with pytest.raises(IndexError) as compiled:
        lookup(tl.tensor([1, 2]), tl.tensor(8))
    assert str(compiled.value) == str(eager.value) and "out of range" in str(eager.value)
    captures = lookup.captures
    np.testing.assert_array_equal(arr(lookup(tl.tensor([2, 0]), tl.tensor(1))),
                                  arr(emb.weight)[[3, 1]])
    assert lookup.captures == captures

    @tl.compile
    def random_rows(scale):
        with tl.no_grad():
            return emb((tl.rand(2) * scale).long())
    for s in (5.0, 9.0):
        tl.manual_seed(1)
        want = arr(emb((tl.rand(2) * tl.tensor(s)).long()))
        tl.manual_seed(1)
        np.testing.assert_array_equal(arr(random_rows(tl.tensor(s))), want)
    with pytest.raises(RuntimeError, match="went the other way"):
        random_rows(tl.tensor(1000.0))
    assert random_rows.captures == 1


@pytest.mark.parametrize("name", ["numpy", "numba"])
def test_out_of_range_class_target_in_a_later_call_raises(name):
    reason = tl.backends.unavailable_reason(name)
    if reason:
        pytest.skip(reason)
    with tl.use_backend(name):
        x = floats(np.random.default_rng(13), 4, 3)
        ce = tl.compile(lambda x, y: F.cross_entropy(x, y))
        y = tl.tensor([0, 1, 2, 0])
        assert ce(x, y).item() == pytest.approx(F.cross_entropy(x, y).item(), rel=1e-6)
        for bad in (3, 7, -1, -3):
            t = tl.tensor([0, 1, 2, bad])
            with pytest.raises(IndexError, match="out of bounds"):
                F.cross_entropy(x, t)
            with pytest.raises(IndexError):
                ce(x, t)


def test_ignored_targets_varying_in_a_training_step(backend):
    """A language-model step whose batches ignore 0, 1 or 2 targets (padding): the mean divides
    by each batch's own count."""
    a, b = twins(lambda: nn.Sequential(nn.Embedding(12, 4), nn.Linear(4, 12)))
    oa, ob = (tl.optim.Adam(m.parameters(), lr=1e-2) for m in (a, b))

    def step(model, opt, x, y):
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, 12), y.view(-1), ignore_index=-1)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss
    compiled = tl.compile(step)
    rng = np.random.default_rng(24)
    for i in range(7):
        ix = rng.integers(0, 12, (3, 5))
        target = ix[:, 1:].copy()
        target[0, :i % 3] = -1
        x, y = tl.tensor(ix[:, :-1]), tl.tensor(target)
        want = step(a, oa, x, y).item()
        assert compiled(b, ob, x, y).item() == pytest.approx(want, rel=RTOL, abs=ATOL), i
    assert compiled.captures <= 3
    assert_states_close(a, b)


@pytest.mark.parametrize("targets", [([0, 1, 2, -100], [0, 1, 2, 1]),
                                     ([0, 1, 2, 1], [0, -100, 2, -100])])
def test_ignore_index_count_changing_between_calls(targets):
    x = floats(np.random.default_rng(14), 4, 3)
    ce = tl.compile(lambda x, y: F.cross_entropy(x, y))
    for t in targets:
        y = tl.tensor(t)
        assert ce(x, y).item() == pytest.approx(F.cross_entropy(x, y).item(), rel=1e-6), t
