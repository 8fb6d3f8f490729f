"""tensorlite.nn's recurrent layers (RNN, LSTM, GRU, the cells) and nn.utils.rnn against torch.

Each layer is built with the same arguments in both libraries, torch's weights are loaded into
the tensorlite twin through load_state_dict, and outputs, final states, input and initial-state
gradients and every parameter's gradient (random upstream gradients on the output and on every
state) are compared, in float32 and float64, on every backend.
"""
import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.utils.rnn as thR

import tensorlite as tl
import tensorlite.nn as nn
import tensorlite.nn.utils.rnn as R
from cupy_standin import host_cuda, host_cupy  # noqa: F401  (pytest fixtures used by name)
from helpers import FWD_TOL, GRAD_TOL, assert_close, tl_tensor, to_np

F64, F32 = np.dtype(np.float64), np.dtype(np.float32)
TH_DTYPE = {F64: torch.float64, F32: torch.float32}
TL_DTYPE = {F64: tl.float64, F32: tl.float32}
I, H = 4, 6

LAYERS = {"RNN_TANH": ("RNN", {}), "RNN_RELU": ("RNN", {"nonlinearity": "relu"}),
          "LSTM": ("LSTM", {}), "GRU": ("GRU", {})}


def twin(kind, dtype, *args, **kwargs):
    """(torch module, tensorlite module) of class ``kind`` with the same arguments and
    torch's weights."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dropout with num_layers=1
        th = getattr(torch.nn, kind)(*args, **kwargs).to(TH_DTYPE[dtype])
        ours = getattr(nn, kind)(*args, **kwargs).to(TL_DTYPE[dtype])
    state = th.state_dict()
    assert list(ours.state_dict()) == list(state), "parameter names or order differ from torch's"
    result = ours.load_state_dict({k: tl_tensor(v.detach().numpy().copy())
                                   for k, v in state.items()})
    assert tuple(result) == ([], [])
    return th, ours


def leaf(arr):
    return tl_tensor(arr, requires_grad=True), torch.from_numpy(arr.copy()).requires_grad_(True)


def flat(x):
    """The tensors of a nested output (PackedSequence data, (h, c) tuples)."""
    if isinstance(x, (R.PackedSequence, thR.PackedSequence)):
        return [x.data]
    if isinstance(x, (tuple, list)):
        return [t for part in x for t in flat(part)]
    return [x]


def compare(ours, th, args_tl, args_th, leaves_tl, leaves_th, dtype):
    """Run both modules, compare every output, then backward with the same random upstream
    gradients and compare the gradients of the leaves and of every parameter."""
    out_tl, out_th = flat(ours(*args_tl)), flat(th(*args_th))
    assert len(out_tl) == len(out_th)
    for k, (a, e) in enumerate(zip(out_tl, out_th)):
        assert_close(a, e, what=f"output {k}", **FWD_TOL[dtype])
    gs = [np.random.standard_normal(tuple(e.shape)).astype(dtype) for e in out_th]
    torch.autograd.backward(out_th, [torch.from_numpy(g) for g in gs])
    tl.autograd.backward(out_tl, [tl_tensor(g) for g in gs])
    for k, (a, e) in enumerate(zip(leaves_tl, leaves_th)):
        assert a.grad is not None, f"input {k} got no gradient"
        assert_close(a.grad, e.grad, what=f"gradient of input {k}", **GRAD_TOL[dtype])
    params = dict(ours.named_parameters())
    for name, p in th.named_parameters():
        assert params[name].grad is not None, f"{name} got no gradient"
        assert_close(params[name].grad, p.grad, what=f"gradient of {name}", **GRAD_TOL[dtype])


def states(kind, shape_h, shape_c, dtype):
    """Random initial states (tensorlite, torch, leaves of each)."""
    h = np.random.standard_normal(shape_h).astype(dtype)
    ht, hh = leaf(h)
    if kind != "LSTM":
        return ht, hh, [ht], [hh]
    ct, ch = leaf(np.random.standard_normal(shape_c).astype(dtype))
    return (ht, ct), (hh, ch), [ht, ct], [hh, ch]


CONFIGS = {
    "default": {},
    "two_layers_bidirectional": dict(num_layers=2, bidirectional=True),
    "batch_first": dict(batch_first=True),
    "three_layers_bias_false": dict(num_layers=3, bias=False),
    "dropout_eval": dict(num_layers=2, dropout=0.5),
    "bidirectional_batch_first": dict(bidirectional=True, batch_first=True),
}


@pytest.mark.parametrize("dtype", [F64, F32], ids=["float64", "float32"])
@pytest.mark.parametrize("with_hx", [False, True], ids=["zero_state", "hx"])
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("mode", list(LAYERS))
def test_layer_matches_torch(backend, mode, config, with_hx, dtype):
    kind, extra = LAYERS[mode]
    kw = dict(CONFIGS[config], **extra)
    th, ours = twin(kind, dtype, I, H, **kw)
    th.eval(), ours.eval()  # dropout (where set) is off: deterministic
    T, B = 5, 3
    D = 2 if kw.get("bidirectional") else 1
    L = kw.get("num_layers", 1)
    shape = (B, T, I) if kw.get("batch_first") else (T, B, I)
    xt, xh = leaf(np.random.standard_normal(shape).astype(dtype))
    args_tl, args_th, lt, lh = [xt], [xh], [xt], [xh]
    if with_hx:
        st, sh, slt, slh = states(kind, (L * D, B, H), (L * D, B, H), dtype)
        args_tl.append(st), args_th.append(sh)
        lt, lh = lt + slt, lh + slh
    compare(ours, th, args_tl, args_th, lt, lh, dtype)


@pytest.mark.parametrize("dtype", [F64, F32], ids=["float64", "float32"])
@pytest.mark.parametrize("kw", [dict(proj_size=3), dict(proj_size=2, num_layers=2,
                                                       bidirectional=True, batch_first=True)],
                         ids=["proj", "proj_2layers_bidirectional"])
def test_lstm_projection(backend, kw, dtype):
    th, ours = twin("LSTM", dtype, I, H, **kw)
    assert tuple(ours.weight_hr_l0.shape) == (kw["proj_size"], H)
    T, B = 4, 2
    D = 2 if kw.get("bidirectional") else 1
    L = kw.get("num_layers", 1)
    shape = (B, T, I) if kw.get("batch_first") else (T, B, I)
    xt, xh = leaf(np.random.standard_normal(shape).astype(dtype))
    st, sh, slt, slh = states("LSTM", (L * D, B, kw["proj_size"]), (L * D, B, H), dtype)
    compare(ours, th, [xt, st], [xh, sh], [xt] + slt, [xh] + slh, dtype)
    _, (h, c) = ours(xt)
    assert tuple(h.shape) == (L * D, B, kw["proj_size"]) and tuple(c.shape) == (L * D, B, H)


@pytest.mark.parametrize("with_hx", [False, True], ids=["zero_state", "hx"])
@pytest.mark.parametrize("mode", list(LAYERS))
def test_unbatched_input(backend, mode, with_hx):
    kind, extra = LAYERS[mode]
    th, ours = twin(kind, F64, I, H, num_layers=2, bidirectional=True, **extra)
    xt, xh = leaf(np.random.standard_normal((5, I)))
    args_tl, args_th, lt, lh = [xt], [xh], [xt], [xh]
    if with_hx:
        st, sh, slt, slh = states(kind, (4, H), (4, H), F64)
        args_tl.append(st), args_th.append(sh)
        lt, lh = lt + slt, lh + slh
    compare(ours, th, args_tl, args_th, lt, lh, F64)
    out, _ = ours(xt)
    assert tuple(out.shape) == (5, 2 * H)


@pytest.mark.parametrize("batch_first", [False, True], ids=["time_first", "batch_first"])
def test_unbatched_batch_first(backend, batch_first):
    th, ours = twin("GRU", F64, I, H, batch_first=batch_first)
    xt, xh = leaf(np.random.standard_normal((5, I)))
    compare(ours, th, [xt], [xh], [xt], [xh], F64)


@pytest.mark.parametrize("mode", list(LAYERS))
def test_empty_batch_and_empty_sequence(backend, mode):
    kind, extra = LAYERS[mode]
    th, ours = twin(kind, F64, I, H, num_layers=2, bidirectional=True, **extra)
    out_th, hid_th = th(torch.zeros(3, 0, I, dtype=torch.float64))
    out_tl, hid_tl = ours(tl_tensor(np.zeros((3, 0, I))))
    for a, e in zip(flat((out_tl, hid_tl)), flat((out_th, hid_th))):
        assert tuple(a.shape) == tuple(e.shape)
    with pytest.raises(RuntimeError) as e_th:
        th(torch.zeros(0, 2, I, dtype=torch.float64))
    with pytest.raises(RuntimeError) as e_tl:
        ours(tl_tensor(np.zeros((0, 2, I))))
    assert str(e_tl.value) == str(e_th.value)


# ----------------------------------------------------------------------------- packed input
PACKED = [pytest.param([5, 3, 3, 1], True, id="sorted"),
          pytest.param([2, 5, 1, 5, 3], False, id="unsorted"),
          pytest.param([4, 4, 4], False, id="equal_lengths")]


@pytest.mark.parametrize("dtype", [F64, F32], ids=["float64", "float32"])
@pytest.mark.parametrize("lengths,enforce_sorted", PACKED)
@pytest.mark.parametrize("mode", list(LAYERS))
def test_packed_sequence_input(backend, mode, lengths, enforce_sorted, dtype):
    """pack_padded_sequence -> layer -> packed output and h_n (in the caller's batch order),
    gradients through the packing to the padded input, the initial state and the weights."""
    kind, extra = LAYERS[mode]
    th, ours = twin(kind, dtype, I, H, num_layers=2, bidirectional=True, batch_first=True,
                    **extra)
    B, T = len(lengths), max(lengths)
    xt, xh = leaf(np.random.standard_normal((B, T, I)).astype(dtype))
    pt = R.pack_padded_sequence(xt, lengths, batch_first=True, enforce_sorted=enforce_sorted)
    ph = thR.pack_padded_sequence(xh, torch.tensor(lengths), batch_first=True,
                                  enforce_sorted=enforce_sorted)
    assert pt.batch_sizes.tolist() == ph.batch_sizes.tolist()
    st, sh, slt, slh = states(kind, (4, B, H), (4, B, H), dtype)
    out_t, _ = ours(pt, st)
    assert isinstance(out_t, R.PackedSequence)
    assert out_t.batch_sizes.tolist() == ph.batch_sizes.tolist()
    if not enforce_sorted:
        assert out_t.sorted_indices.tolist() == ph.sorted_indices.tolist()
        assert out_t.unsorted_indices.tolist() == ph.unsorted_indices.tolist()
    compare(ours, th, [pt, st], [ph, sh], [xt] + slt, [xh] + slh, dtype)
    # the padded positions got no gradient
    g = to_np(xt.grad)
    for j, n in enumerate(lengths):
        assert not np.any(g[j, n:]), f"sequence {j}: gradient reached its padding"


@pytest.mark.parametrize("mode", list(LAYERS))
def test_padding_never_reaches_final_state(backend, mode):
    """h_n of a packed batch is each sequence's state after its own last step: changing the
    padding changes nothing, and it equals running each sequence alone."""
    kind, extra = LAYERS[mode]
    _, ours = twin(kind, F64, I, H, bidirectional=True, **extra)
    lengths = [3, 5, 2]
    x = np.random.standard_normal((5, 3, I))
    noisy = x.copy()
    for j, n in enumerate(lengths):
        noisy[n:, j] = 1e3
    runs = []
    for arr in (x, noisy):
        packed = R.pack_padded_sequence(tl_tensor(arr), lengths, enforce_sorted=False)
        out, hid = ours(packed)
        padded, lens = R.pad_packed_sequence(out)
        assert lens.tolist() == lengths
        runs.append([to_np(t) for t in flat(hid)] + [to_np(padded)])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    for j, n in enumerate(lengths):
        out, hid = ours(tl_tensor(x[:n, j:j + 1].copy()))
        for whole, alone in zip(runs[0][:-1], [to_np(t) for t in flat(hid)]):
            np.testing.assert_allclose(whole[:, j], alone[:, 0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(runs[0][-1][:n, j], to_np(out)[:, 0], rtol=1e-12,
                                   atol=1e-14)
        assert not np.any(runs[0][-1][n:, j]), "padded outputs are not zero"


# ----------------------------------------------------------------------------- cells
CELLS = {"RNNCell": {}, "RNNCell_relu": {"nonlinearity": "relu"}, "LSTMCell": {},
         "GRUCell": {}, "GRUCell_no_bias": {"bias": False}}


@pytest.mark.parametrize("dtype", [F64, F32], ids=["float64", "float32"])
@pytest.mark.parametrize("form", ["batched", "batched_hx", "unbatched", "unbatched_hx"])
@pytest.mark.parametrize("name", list(CELLS))
def test_cell_matches_torch(backend, name, form, dtype):
    kind = name.split("_")[0]
    th, ours = twin(kind, dtype, I, H, **CELLS[name])
    shape = (3, I) if form.startswith("batched") else (I,)
    xt, xh = leaf(np.random.standard_normal(shape).astype(dtype))
    args_tl, args_th, lt, lh = [xt], [xh], [xt], [xh]
    if form.endswith("hx"):
        hs = shape[:-1] + (H,)
        st, sh, slt, slh = states("LSTM" if kind == "LSTMCell" else kind, hs, hs, dtype)
        args_tl.append(st), args_th.append(sh)
        lt, lh = lt + slt, lh + slh
    compare(ours, th, args_tl, args_th, lt, lh, dtype)


def test_cell_unrolled_equals_layer(backend):
    """An LSTMCell stepped over a sequence gives what an LSTM with the same weights gives."""
    layer = nn.LSTM(I, H).double()
    cell = nn.LSTMCell(I, H).double()
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
    x = tl_tensor(np.random.standard_normal((6, 2, I)))
    out, (h, c) = layer(x)
    hc = None
    for t in range(6):
        hc = cell(x[t], hc)
        np.testing.assert_allclose(to_np(hc[0]), to_np(out[t]), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(to_np(hc[1]), to_np(c[0]), rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------------------- gradients
def test_gradcheck_lstm_and_second_order_gru(backend):
    """Finite differences agree with the gradients, and gradients of gradients exist
    (create_graph) for a packed, bidirectional recurrence."""
    lstm = nn.LSTM(2, 3, bidirectional=True, proj_size=2).double()
    x = tl_tensor(np.random.standard_normal((3, 2, 2)), requires_grad=True)
    h0 = tl_tensor(np.random.standard_normal((2, 2, 2)), requires_grad=True)
    c0 = tl_tensor(np.random.standard_normal((2, 2, 3)), requires_grad=True)
    assert tl.autograd.gradcheck(lambda a, b, c: lstm(a, (b, c))[0], (x, h0, c0))
    gru = nn.GRU(2, 3, bidirectional=True).double()
    y = tl_tensor(np.random.standard_normal((4, 2, 2)), requires_grad=True)

    def packed_gru(inp):
        out, h = gru(R.pack_padded_sequence(inp, [4, 2], enforce_sorted=True))
        return R.pad_packed_sequence(out)[0], h

    assert tl.autograd.gradgradcheck(packed_gru, (y,))


@pytest.mark.parametrize("mode", list(LAYERS))
def test_second_order_against_torch(backend, mode):
    kind, extra = LAYERS[mode]
    th, ours = twin(kind, F64, I, H, num_layers=2, **extra)
    xt, xh = leaf(np.random.standard_normal((4, 2, I)))
    (gt,) = tl.autograd.grad(ours(xt)[0].pow(2).sum(), xt, create_graph=True)
    (gh,) = torch.autograd.grad(th(xh)[0].pow(2).sum(), xh, create_graph=True)
    assert_close(gt, gh, what="first order", **GRAD_TOL[F64])
    v = np.random.standard_normal((4, 2, I))
    (ggt,) = tl.autograd.grad(gt, xt, grad_outputs=tl_tensor(v))
    (ggh,) = torch.autograd.grad(gh, xh, grad_outputs=torch.from_numpy(v))
    assert_close(ggt, ggh, what="second order", **GRAD_TOL[F64])


def test_training_trajectory_matches_torch(backend):
    """An embedding -> LSTM -> linear language model trained 5 SGD steps with cross-entropy
    (dropout 0, train mode) follows torch's losses and ends at torch's weights."""
    def model(lib):
        return lib.nn.ModuleDict({"emb": lib.nn.Embedding(11, I),
                                  "rnn": lib.nn.LSTM(I, H, num_layers=2, dropout=0.0),
                                  "out": lib.nn.Linear(H, 11)})
    th = model(torch).double()
    ours = model(tl).double()
    ours.load_state_dict({k: tl_tensor(v.detach().numpy().copy())
                          for k, v in th.state_dict().items()})
    data = np.random.randint(0, 11, size=(8, 3))
    opt_th = torch.optim.SGD(th.parameters(), lr=0.5)
    opt_tl = tl.optim.SGD(ours.parameters(), lr=0.5)
    for _ in range(5):
        losses = []
        for lib, m, opt in ((torch, th, opt_th), (tl, ours, opt_tl)):
            src = lib.tensor(data[:-1]) if lib is torch else tl_tensor(data[:-1])
            tgt = lib.tensor(data[1:]) if lib is torch else tl_tensor(data[1:])
            out, _ = m["rnn"](m["emb"](src))
            loss = lib.nn.functional.cross_entropy(m["out"](out).reshape(-1, 11),
                                                   tgt.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert abs(losses[0] - losses[1]) < 1e-10
    theirs = dict(th.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p, theirs[name], what=name, **FWD_TOL[F64])


def test_dropout_between_layers_in_training(backend):
    """dropout applies to every layer's output but the last, in train mode only."""
    m = nn.GRU(I, H, num_layers=2, dropout=0.5).double()
    x = tl_tensor(np.random.standard_normal((5, 3, I)))
    m.eval()
    out_eval, h_eval = m(x)
    m.train()
    out_train, h_train = m(x)
    assert not np.allclose(to_np(out_train), to_np(out_eval))
    # layer 0's final state is before any dropout: the same in both modes
    np.testing.assert_allclose(to_np(h_train[0]), to_np(h_eval[0]), rtol=1e-12)
    one = nn.GRU(I, H, num_layers=1).double()
    one.train()
    a, b = one(x)[0], one(x)[0]
    np.testing.assert_array_equal(to_np(a), to_np(b))


# ----------------------------------------------------------------------------- structure
@pytest.mark.parametrize("kind,kw", [
    ("RNN", dict(num_layers=2, nonlinearity="relu", bias=False, batch_first=True)),
    ("LSTM", dict(num_layers=2, bidirectional=True, proj_size=3, dropout=0.25)),
    ("GRU", dict(bidirectional=True)),
    ("RNNCell", dict(nonlinearity="relu")), ("LSTMCell", dict(bias=False)), ("GRUCell", {})])
def test_parameters_repr_and_all_weights(kind, kw):
    th = getattr(torch.nn, kind)(I, H, **kw)
    ours = getattr(nn, kind)(I, H, **kw)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in th.state_dict().items()]
    assert repr(ours) == repr(th)
    if kind in ("RNN", "LSTM", "GRU"):
        assert ours._flat_weights_names == th._flat_weights_names
        assert [[tuple(p.shape) for p in ws] for ws in ours.all_weights] == \
            [[tuple(p.shape) for p in ws] for ws in th.all_weights]
        assert ours.flatten_parameters() is None


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN", "LSTMCell"])
def test_default_init_statistics(kind):
    """Every parameter is U(-1/sqrt(H), 1/sqrt(H)), as torch's."""
    hidden = 64
    th = getattr(torch.nn, kind)(32, hidden)
    ours = getattr(nn, kind)(32, hidden)
    bound = 1 / math.sqrt(hidden)
    theirs = dict(th.named_parameters())
    for name, p in ours.named_parameters():
        a = to_np(p.detach()).ravel()
        assert np.abs(a).max() <= bound and np.abs(a).max() > 0.9 * bound, name
        if p.ndim == 2:  # thousands of values (a bias's 64 are too few for these bounds)
            b = theirs[name].detach().numpy().ravel()
            assert abs(a.mean() - b.mean()) < 0.1 * bound, name
            assert abs(a.std() - bound / math.sqrt(3)) < 0.03 * bound, name
            assert abs(a.std() - b.std()) < 0.05 * bound, name


def test_constructor_errors_as_torch():
    cases = [
        (lambda lib: lib.nn.RNN(I, H, nonlinearity="sigmoid"), ValueError),
        (lambda lib: lib.nn.GRU(I, H, proj_size=2), ValueError),
        (lambda lib: lib.nn.RNN(I, H, proj_size=2), ValueError),
        (lambda lib: lib.nn.LSTM(I, H, proj_size=H), ValueError),
        (lambda lib: lib.nn.LSTM(I, H, proj_size=-1), ValueError),
        (lambda lib: lib.nn.LSTM(I, 0), ValueError),
        (lambda lib: lib.nn.LSTM(I, H, num_layers=0), ValueError),
        (lambda lib: lib.nn.LSTM(I, H, dropout=1.5), ValueError),
        (lambda lib: lib.nn.LSTM(I, 2.5), TypeError),
        (lambda lib: lib.nn.LSTM(I, H, bias=1), TypeError),
    ]
    for make, exc in cases:
        with pytest.raises(exc):
            make(torch)
        with pytest.raises(exc):
            make(tl)
    for lib in (torch, tl):
        with pytest.warns(UserWarning, match="dropout option adds dropout"):
            lib.nn.GRU(I, H, dropout=0.3)


def test_forward_errors_as_torch(backend):
    def both(kind, call, exc, match, **kw):
        th, ours = twin(kind, F64, I, H, **kw)
        with pytest.raises(exc) as e_th:
            call(torch, th, lambda a: torch.from_numpy(np.asarray(a, dtype=np.float64)))
        with pytest.raises(exc, match=match) as e_tl:
            call(tl, ours, lambda a: tl_tensor(np.asarray(a, dtype=np.float64)))
        assert str(e_tl.value) == str(e_th.value)

    z = np.zeros
    both("LSTM", lambda lib, m, t: m(t(z((2, 3, I + 1)))), RuntimeError, "input_size")
    both("GRU", lambda lib, m, t: m(t(z((2, 3, I))), t(z((1, 2, H)))), RuntimeError,
         "Expected hidden size")
    both("LSTM", lambda lib, m, t: m(t(z((2, 3, I))), (t(z((1, 3, H))), t(z((1, 2, H))))),
         RuntimeError, r"Expected hidden\[1\] size")
    both("RNN", lambda lib, m, t: m(t(z((2, 3, 4, I))))[0], ValueError, "2D or 3D")
    both("LSTM", lambda lib, m, t: m(t(z((2, I))), (t(z((1, 1, H))), t(z((1, 1, H))))),
         RuntimeError, "unbatched 2-D input")
    both("GRU", lambda lib, m, t: m(t(z((2, 3, I))), t(z((1, H)))), RuntimeError,
         "batched 3-D input")
    both("GRUCell", lambda lib, m, t: m(t(z((2, 3, I)))), ValueError, "1D or 2D")
    th, ours = twin("LSTM", F64, I, H)
    with pytest.raises(ValueError, match="dtype"):
        ours(tl_tensor(np.zeros((2, 3, I), dtype=np.float32)))


# ----------------------------------------------------------------------------- nn.utils.rnn
@pytest.mark.parametrize("batch_first", [False, True], ids=["time_first", "batch_first"])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence(backend, batch_first, padding_side):
    seqs = [np.random.standard_normal((n, 2, 3)) for n in (3, 1, 4)]
    lt, lh = zip(*(leaf(s) for s in seqs))
    a = R.pad_sequence(list(lt), batch_first=batch_first, padding_value=-2.0,
                       padding_side=padding_side)
    b = thR.pad_sequence(list(lh), batch_first=batch_first, padding_value=-2.0,
                         padding_side=padding_side)
    assert_close(a, b, what="padded", **FWD_TOL[F64])
    g = np.random.standard_normal(tuple(b.shape))
    a.backward(tl_tensor(g))
    b.backward(torch.from_numpy(g))
    for k, (x, y) in enumerate(zip(lt, lh)):
        assert_close(x.grad, y.grad, what=f"gradient of sequence {k}", **GRAD_TOL[F64])


@pytest.mark.parametrize("batch_first", [False, True], ids=["time_first", "batch_first"])
@pytest.mark.parametrize("lengths,enforce_sorted", PACKED)
def test_pack_and_pad_round_trip(backend, lengths, enforce_sorted, batch_first):
    B, T = len(lengths), max(lengths)
    shape = (B, T, 2) if batch_first else (T, B, 2)
    xt, xh = leaf(np.random.standard_normal(shape))
    pt = R.pack_padded_sequence(xt, lengths, batch_first=batch_first,
                                enforce_sorted=enforce_sorted)
    ph = thR.pack_padded_sequence(xh, lengths, batch_first=batch_first,
                                  enforce_sorted=enforce_sorted)
    assert_close(pt.data, ph.data, what="packed data", **FWD_TOL[F64])
    assert pt.batch_sizes.dtype == tl.int64 and str(pt.batch_sizes.device) == "cpu"
    for name in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        a, b = getattr(pt, name), getattr(ph, name)
        assert (a is None) == (b is None), name
        if a is not None:
            assert a.tolist() == b.tolist(), name
    at, lt_ = R.pad_packed_sequence(pt, batch_first=batch_first, padding_value=7.0,
                                    total_length=T + 2)
    ah, lh_ = thR.pad_packed_sequence(ph, batch_first=batch_first, padding_value=7.0,
                                      total_length=T + 2)
    assert_close(at, ah, what="padded", **FWD_TOL[F64])
    assert lt_.tolist() == lh_.tolist() and lt_.dtype == tl.int64
    g = np.random.standard_normal(tuple(ah.shape))
    at.backward(tl_tensor(g))
    ah.backward(torch.from_numpy(g))
    assert_close(xt.grad, xh.grad, what="gradient through pack and pad", **GRAD_TOL[F64])


def test_pack_sequence_unpack_and_unpad(backend):
    seqs = [np.random.standard_normal((n, 3)) for n in (2, 5, 1, 5)]
    pt = R.pack_sequence([tl_tensor(s) for s in seqs], enforce_sorted=False)
    ph = thR.pack_sequence([torch.from_numpy(s) for s in seqs], enforce_sorted=False)
    assert_close(pt.data, ph.data, what="packed", **FWD_TOL[F64])
    assert pt.sorted_indices.tolist() == ph.sorted_indices.tolist()
    for a, s in zip(R.unpack_sequence(pt), seqs):
        np.testing.assert_array_equal(to_np(a), s)
    padded = R.pad_sequence([tl_tensor(s) for s in seqs], batch_first=True)
    for a, s in zip(R.unpad_sequence(padded, tl.tensor([2, 5, 1, 5]), batch_first=True), seqs):
        np.testing.assert_array_equal(to_np(a), s)
    data, batch_sizes, sorted_indices, unsorted_indices = pt  # a 4-tuple, as torch's
    assert batch_sizes.tolist() == [4, 3, 2, 2, 2]
    assert R.invert_permutation(tl.tensor([2, 0, 1])).tolist() == [1, 2, 0]
    assert R.invert_permutation(None) is None
    assert pt.double().data.dtype == tl.float64 and pt.float().data.dtype == tl.float32
    assert pt.to(tl.float32).sorted_indices.tolist() == sorted_indices.tolist()
    assert not pt.is_cuda


def test_packing_errors_as_torch():
    x = np.zeros((4, 3, 2))
    for lengths, kw in [([2, 3, 1], {}), ([3, 0, 1], {"enforce_sorted": False})]:
        with pytest.raises(RuntimeError) as e_th:
            thR.pack_padded_sequence(torch.from_numpy(x), torch.tensor(lengths), **kw)
        with pytest.raises(RuntimeError) as e_tl:
            R.pack_padded_sequence(tl.tensor(x), lengths, **kw)
        assert str(e_tl.value) == str(e_th.value)
    p = R.pack_padded_sequence(tl.tensor(x), [3, 2, 1])
    with pytest.raises(ValueError, match="total_length=2"):
        R.pad_packed_sequence(p, total_length=2)
    with pytest.raises(RuntimeError, match="empty list"):
        R.pad_sequence([])
    with pytest.raises(RuntimeError, match="padding_side"):
        R.pad_sequence([tl.zeros(2)], padding_side="middle")
    assert nn.utils.rnn.PackedSequence is R.PackedSequence
    from tensorlite.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: F401


# ----------------------------------------------------------------------------- the cupy backend
@pytest.mark.parametrize("mode", list(LAYERS))
def test_layers_on_the_cupy_host_stand_in(host_cuda, mode):
    """The same layer on "cpu" and on "cuda" (the CuPy backend on the host stand-in, whose
    device arrays refuse host arrays): packed unsorted input with initial states, padding back,
    and every gradient agree; nothing leaks between host and device."""
    kind, extra = LAYERS[mode]
    cpu = getattr(nn, kind)(I, H, num_layers=2, bidirectional=True, **extra).double()
    x = np.random.standard_normal((5, 4, I))
    h = np.random.standard_normal((4, 4, H))
    on = {}
    for device in ("cpu", "cuda"):
        m = getattr(nn, kind)(I, H, num_layers=2, bidirectional=True, **extra).double()
        m.load_state_dict(cpu.state_dict())
        m.to(device)
        xt = tl.tensor(x, device=device, requires_grad=True)
        ht = tl.tensor(h, device=device, requires_grad=True)
        hx = (ht, ht * 0.5) if kind == "LSTM" else ht
        packed = R.pack_padded_sequence(xt, [2, 5, 1, 4], enforce_sorted=False)
        out, hid = m(packed, hx)
        padded, lengths = R.pad_packed_sequence(out)
        res = [padded] + flat(hid)
        sum((r * r).sum() for r in res).backward()
        assert str(padded.device) == device and str(lengths.device) == "cpu"
        on[device] = [to_np(r) for r in res] + [to_np(xt.grad), to_np(ht.grad)] + [
            to_np(p.grad) for p in m.parameters()]
    for c, g in zip(on["cpu"], on["cuda"]):
        np.testing.assert_allclose(c, g, rtol=1e-10, atol=1e-12)
