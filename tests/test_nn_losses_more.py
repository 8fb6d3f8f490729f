"""The losses of issue 13 against torch.nn, on every backend: modules and functional forms with
torch's arguments, each reduction, float32 and float64, random upstream gradients for the
inputs (and differentiable targets); CTC through a log_softmax with padded and concatenated
targets, unbatched input, zero_infinity and impossible alignments; errors as torch's."""
import math
import warnings

import numpy as np
import pytest
import torch

import tensorlite as tl
from helpers import FWD_TOL, GRAD_TOL, assert_close

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
REDUCTIONS = ["mean", "sum", "none"]


def run_both(make, arrays, dtype, rng, grad=None, call_kw=None):
    """``make(nn)(*inputs)`` in torch and tensorlite; ``arrays`` are numpy arrays (float ones
    are cast to ``dtype``), ``grad`` the indices of those that require grad (default: every
    float one).  Compares the loss and the gradients for a random upstream gradient."""
    th_in, tl_in, leaves = [], [], []
    for i, a in enumerate(arrays):
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            a = a.astype(dtype)
        want = isinstance(a, np.ndarray) and a.dtype.kind == "f" and (grad is None or i in grad)
        if isinstance(a, np.ndarray):
            th = torch.from_numpy(a.copy()).requires_grad_(want)
            t = tl.tensor(a.copy(), requires_grad=want)
        else:
            th = t = a
        th_in.append(th), tl_in.append(t)
        if want:
            leaves.append(i)
    kw = call_kw or {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yh = make(torch.nn)(*th_in, **kw)
        yt = make(tl.nn)(*tl_in, **kw)
    assert_close(yt, yh, what="loss", **FWD_TOL[dtype])
    if not leaves:
        return yt, yh
    g = rng.standard_normal(tuple(yh.shape)).astype(dtype)
    gh = torch.autograd.grad(yh, [th_in[i] for i in leaves], torch.from_numpy(g))
    gt = tl.autograd.grad(yt, [tl_in[i] for i in leaves], tl.tensor(g))
    for i, a, e in zip(leaves, gt, gh):
        assert_close(a, e, what=f"gradient of input {i}", **GRAD_TOL[dtype])
    return yt, yh


def _signs(rng, shape):
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0)


CASES = {
    "KLDivLoss": (lambda nn, r: nn.KLDivLoss(reduction=r),
                  lambda rng: [rng.standard_normal((3, 4)), rng.random((3, 4))]),
    "KLDivLoss-log_target": (lambda nn, r: nn.KLDivLoss(reduction=r, log_target=True),
                             lambda rng: [rng.standard_normal((3, 4)),
                                          rng.standard_normal((3, 4))]),
    "HuberLoss": (lambda nn, r: nn.HuberLoss(reduction=r, delta=0.6),
                  lambda rng: [rng.standard_normal((3, 4)), rng.standard_normal((3, 4))]),
    "SmoothL1Loss": (lambda nn, r: nn.SmoothL1Loss(reduction=r, beta=0.4),
                     lambda rng: [rng.standard_normal((3, 4)), rng.standard_normal((3, 4))]),
    "CosineEmbeddingLoss": (lambda nn, r: nn.CosineEmbeddingLoss(margin=0.2, reduction=r),
                            lambda rng: [rng.standard_normal((5, 4)), rng.standard_normal((5, 4)),
                                         _signs(rng, (5,))]),
    "MarginRankingLoss": (lambda nn, r: nn.MarginRankingLoss(margin=0.3, reduction=r),
                          lambda rng: [rng.standard_normal(6), rng.standard_normal(6),
                                       _signs(rng, (6,))]),
    "TripletMarginLoss": (lambda nn, r: nn.TripletMarginLoss(margin=1.5, p=1.5, swap=True,
                                                             reduction=r),
                          lambda rng: [rng.standard_normal((4, 3)) for _ in range(3)]),
    "TripletMarginWithDistanceLoss": (
        lambda nn, r: nn.TripletMarginWithDistanceLoss(
            distance_function=lambda a, b: 1.0 - nn.functional.cosine_similarity(a, b),
            margin=0.5, reduction=r),
        lambda rng: [rng.standard_normal((4, 3)) for _ in range(3)]),
    "HingeEmbeddingLoss": (lambda nn, r: nn.HingeEmbeddingLoss(margin=0.8, reduction=r),
                           lambda rng: [rng.standard_normal((3, 4)), _signs(rng, (3, 4))]),
    "MultiMarginLoss": (lambda nn, r: nn.MultiMarginLoss(reduction=r),
                        lambda rng: [rng.standard_normal((5, 4)), rng.integers(0, 4, 5)]),
    "MultiMarginLoss-p2": (lambda nn, r: nn.MultiMarginLoss(p=2, margin=0.5, reduction=r),
                           lambda rng: [rng.standard_normal((5, 4)), rng.integers(0, 4, 5)]),
    "MultiLabelMarginLoss": (lambda nn, r: nn.MultiLabelMarginLoss(reduction=r),
                             lambda rng: [rng.standard_normal((3, 4)),
                                          np.array([[3, 0, -1, 1], [1, 2, 3, 0], [-1, 1, 1, 1]])]),
    "MultiLabelSoftMarginLoss": (lambda nn, r: nn.MultiLabelSoftMarginLoss(reduction=r),
                                 lambda rng: [rng.standard_normal((3, 4)),
                                              (rng.random((3, 4)) < 0.5) * 1.0]),
    "SoftMarginLoss": (lambda nn, r: nn.SoftMarginLoss(reduction=r),
                       lambda rng: [rng.standard_normal((3, 4)), _signs(rng, (3, 4))]),
    "PoissonNLLLoss": (lambda nn, r: nn.PoissonNLLLoss(reduction=r),
                       lambda rng: [rng.standard_normal((3, 4)), rng.random((3, 4)) * 4]),
    "PoissonNLLLoss-full": (lambda nn, r: nn.PoissonNLLLoss(log_input=False, full=True,
                                                            reduction=r),
                            lambda rng: [rng.random((3, 4)) + 0.1, rng.random((3, 4)) * 4]),
    "GaussianNLLLoss": (lambda nn, r: nn.GaussianNLLLoss(full=True, reduction=r),
                        lambda rng: [rng.standard_normal((3, 4)), rng.standard_normal((3, 4)),
                                     rng.random((3, 4)) + 0.1]),
    "GaussianNLLLoss-var-per-row": (lambda nn, r: nn.GaussianNLLLoss(eps=0.2, reduction=r),
                                    lambda rng: [rng.standard_normal((3, 4)),
                                                 rng.standard_normal((3, 4)),
                                                 rng.random(3)]),
}


@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(CASES))
def test_loss_module_matches_torch(backend, rng, name, reduction, dtype):
    make, arrays = CASES[name]
    # (the +-1 targets of the embedding and margin losses take no gradient)
    grad = (0, 1) if name.startswith("CosineEmbedding") or name.startswith("MarginRanking") \
        else (0,) if name.startswith(("HingeEmbedding", "SoftMargin")) else None
    run_both(lambda nn: make(nn, reduction), arrays(rng), dtype, rng, grad=grad)


def test_soft_margin_loss_refuses_a_target_that_requires_grad():
    for lib in (torch, tl):
        x = lib.zeros(3, dtype=lib.float64)
        t = lib.ones(3, dtype=lib.float64, requires_grad=True)
        with pytest.raises(RuntimeError, match="not differentiable"):
            lib.nn.functional.soft_margin_loss(x, t)


@pytest.mark.parametrize("name", ["MultiMarginLoss", "MultiLabelSoftMarginLoss"])
def test_class_weights(backend, rng, name):
    w = np.array([1.0, 2.0, 0.5, 1.5])
    if name == "MultiMarginLoss":
        arrays = [rng.standard_normal((5, 4)), rng.integers(0, 4, 5)]
    else:
        arrays = [rng.standard_normal((5, 4)), (rng.random((5, 4)) < 0.5) * 1.0]
    run_both(lambda nn: getattr(nn, name)(weight=(torch if nn is torch.nn else tl).tensor(w)),
             arrays, F64, rng, grad=(0,))


def test_loss_modules_keep_torch_defaults():
    pairs = [(n, getattr(tl.nn, n)(), getattr(torch.nn, n)())
             for n in ["KLDivLoss", "HuberLoss", "CosineEmbeddingLoss", "MarginRankingLoss",
                       "TripletMarginLoss", "HingeEmbeddingLoss", "MultiMarginLoss",
                       "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss", "SoftMarginLoss",
                       "PoissonNLLLoss", "GaussianNLLLoss", "CTCLoss"]]
    for name, a, e in pairs:
        for attr in ["reduction", "margin", "p", "eps", "swap", "delta", "log_input", "full",
                     "blank", "zero_infinity", "log_target"]:
            if hasattr(e, attr):
                assert getattr(a, attr) == getattr(e, attr), f"{name}.{attr}"


def test_kl_div_batchmean_and_mean_warning(backend, rng):
    x, t = rng.standard_normal((4, 5)), rng.random((4, 5))
    run_both(lambda nn: nn.KLDivLoss(reduction="batchmean"), [x, t], F64, rng)
    with pytest.warns(UserWarning, match="batchmean"):
        tl.nn.functional.kl_div(tl.tensor(x), tl.tensor(t))
    with pytest.raises(ValueError):
        tl.nn.functional.kl_div(tl.tensor(x), tl.tensor(t), reduction="avg")


def test_gaussian_nll_loss_float_var_and_errors(backend, rng):
    x, t = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    run_both(lambda nn: nn.GaussianNLLLoss(), [x, t], F64, rng, call_kw={"var": 0.5})
    F = tl.nn.functional
    with pytest.raises(ValueError, match="negative"):
        F.gaussian_nll_loss(tl.tensor(x), tl.tensor(t), tl.tensor(-np.ones((3, 2))))
    with pytest.raises(ValueError, match="incorrect size"):
        F.gaussian_nll_loss(tl.tensor(x), tl.tensor(t), tl.tensor(np.ones((2, 3))))


def test_loss_argument_errors():
    F = tl.nn.functional
    a = tl.tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match="margin"):
        tl.nn.TripletMarginLoss(margin=0.0)
    with pytest.raises(ValueError, match="p == 1 and p == 2"):
        F.multi_margin_loss(a, tl.tensor([0, 1]), p=3)
    with pytest.raises(RuntimeError, match="non-positive"):
        F.huber_loss(a, a, delta=0.0)
    for lib in (torch, tl):  # same exception types as torch
        x = lib.ones(2, 3, dtype=lib.float64)
        with pytest.raises(ValueError):
            lib.nn.functional.multi_margin_loss(x, lib.tensor([0, 1]), p=3)
        with pytest.raises(RuntimeError):
            lib.nn.functional.huber_loss(x, x, delta=-1.0)


# -- CTC -----------------------------------------------------------------------------------------
def _ctc_inputs(rng, T=7, N=3, C=5):
    logits = rng.standard_normal((T, N, C))
    targets = np.array([[1, 2, 2, 4], [3, 1, 0, 0], [4, 4, 1, 2]])
    return logits, targets, [7, 6, 5], [3, 2, 4]


@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("form", ["padded", "concatenated", "tensor-lengths"])
def test_ctc_loss_through_log_softmax(backend, rng, form, reduction, dtype):
    logits, targets, il, tlen = _ctc_inputs(rng)
    if form == "concatenated":
        targets = np.concatenate([r[:n] for r, n in zip(targets, tlen)])
    lengths = (lambda lib: (lib.tensor(il), lib.tensor(tlen))) if form == "tensor-lengths" \
        else (lambda lib: (il, tlen))

    def make(nn):
        lib = torch if nn is torch.nn else tl
        ctc = nn.CTCLoss(blank=0, reduction=reduction)
        return lambda x, t: ctc(x.log_softmax(2), t, *lengths(lib))
    run_both(make, [logits, targets], dtype, rng)


def test_ctc_loss_gradient_of_log_probs_is_torchs(backend, rng):
    """Given log_probs as a leaf (no log_softmax), torch's gradient is exp(lp) - ... at t <
    input_length: not the plain derivative, which tensorlite reproduces."""
    logits, targets, il, tlen = _ctc_inputs(rng)
    lp = torch.from_numpy(logits).log_softmax(2).numpy()
    run_both(lambda nn: (lambda x, t: nn.functional.ctc_loss(x, t, il, tlen, blank=0,
                                                               reduction="sum")),
             [lp, targets], F64, rng)


def test_ctc_loss_unbatched_and_other_blank(backend, rng):
    logits = rng.standard_normal((6, 4))
    target = np.array([0, 2, 2])

    def make(nn):
        return lambda x, t: nn.functional.ctc_loss(x.log_softmax(1), t, (6,), (3,), blank=3)
    run_both(make, [logits, target], F64, rng)


@pytest.mark.parametrize("zero_infinity", [False, True])
def test_ctc_loss_impossible_alignment(backend, rng, zero_infinity):
    logits = rng.standard_normal((3, 2, 4))
    targets = np.array([[1, 1, 1], [2, 3, 1]])  # repeated labels need 5 steps: infinite loss
    il, tlen = [3, 3], [3, 2]
    yt, yh = run_both(lambda nn: (lambda x, t: nn.functional.ctc_loss(
        x, t, il, tlen, reduction="none", zero_infinity=zero_infinity)),
        [logits, targets], F64, rng)
    assert (float(yt[0]) == 0.0) if zero_infinity else math.isinf(float(yt[0]))


def test_ctc_loss_errors():
    F = tl.nn.functional
    lp = tl.tensor(np.zeros((4, 2, 3)))
    with pytest.raises(TypeError, match="input_lengths"):
        F.ctc_loss(lp, tl.tensor([[1], [2]]), 4, [1, 1])
    with pytest.raises(RuntimeError, match="at most 4"):
        F.ctc_loss(lp, tl.tensor([[1], [2]]), [5, 4], [1, 1])
    with pytest.raises(RuntimeError, match="size 2 at dimension 0"):
        F.ctc_loss(lp, tl.tensor([1, 2, 1]), [4, 4], [1, 1])
    with pytest.raises(RuntimeError, match="at least 2 at dimension 1"):
        F.ctc_loss(lp, tl.tensor([[1], [2]]), [4, 4], [2, 1])


def test_ctc_loss_second_order_through_log_softmax(backend, rng):
    """The recursion is composed of tensor ops, so it has second derivatives (torch's CTC has
    none: it raises); they are checked numerically."""
    logits = rng.standard_normal((4, 2, 3))
    targets, il, tlen = np.array([[1, 2], [2, 0]]), [4, 3], [2, 1]
    x = torch.tensor(logits, requires_grad=True)
    loss = torch.nn.functional.ctc_loss(x.log_softmax(2), torch.tensor(targets), il, tlen)
    (g,) = torch.autograd.grad(loss, x, create_graph=True)
    with pytest.raises(RuntimeError, match="not implemented"):
        torch.autograd.grad(g.sum(), x)

    def f(x):
        return tl.nn.functional.ctc_loss(x.log_softmax(2), tl.tensor(targets), il, tlen)
    xt = tl.tensor(logits, requires_grad=True)
    assert tl.autograd.gradcheck(f, (xt,))
    assert tl.autograd.gradgradcheck(f, (xt,))
