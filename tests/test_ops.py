"""Every differentiable op, against PyTorch autograd and a float64 gradcheck, on every backend.

Each case is ``fn(lib, *args)`` with ``lib`` either tensorlite or torch; see helpers.py.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tensorlite as tl
from helpers import A, F, N, NC, P, U, Const, check_op, check_second_order, to_np


def case(id, fn, *args, **opts):
    return pytest.param(fn, args, opts, id=id)


# ----------------------------------------------------------------------------- elementwise binary
BROADCAST_PAIRS = [
    ("same", (2, 3), (2, 3)),
    ("col_row", (3, 1), (1, 4)),
    ("rank3_vec", (2, 3, 4), (4,)),
    ("vec_rank3", (4,), (2, 3, 4)),
    ("size1", (1,), (3,)),
    ("mid1", (2, 1, 3), (2, 4, 1)),
    ("t_0d", (2, 3), ()),
    ("0d_t", (), (2, 3)),
    ("0d_0d", (), ()),
]
BINARY = {
    "add": (lambda lib, a, b: a + b, N, N),
    "sub": (lambda lib, a, b: a - b, N, N),
    "mul": (lambda lib, a, b: a * b, N, N),
    "div": (lambda lib, a, b: a / b, N, P),
    "pow_op": (lambda lib, a, b: a ** b, P, N),
    "pow_fn": (lambda lib, a, b: lib.pow(a, b), P, N),
    "pow_method": (lambda lib, a, b: a.pow(b), P, N),
    "maximum": (lambda lib, a, b: lib.maximum(a, b), N, N),
    "minimum": (lambda lib, a, b: lib.minimum(a, b), N, N),
    "maximum_method": (lambda lib, a, b: a.maximum(b), N, N),
    "minimum_method": (lambda lib, a, b: a.minimum(b), N, N),
}
BINARY_CASES = [
    case(f"{name}-{pid}", fn, sa(*s1), sb(*s2))
    for name, (fn, sa, sb) in BINARY.items()
    for pid, s1, s2 in BROADCAST_PAIRS
] + [
    case("add-noncontig", lambda lib, a, b: a + b, NC(N(3, 4)), F(N(3, 4))),
    case("mul-noncontig_bcast", lambda lib, a, b: a * b, F(N(4, 3)), NC(N(1, 3))),
    case("div-noncontig", lambda lib, a, b: a / b, F(N(3, 4)), NC(P(3, 4))),
    case("maximum-noncontig", lambda lib, a, b: lib.maximum(a, b), F(N(3, 4)), NC(N(3, 4))),
    case("sub-transposed_on_tape", lambda lib, a, b: a.T - b, N(4, 3), N(3, 4)),
    case("mul-same_tensor_twice", lambda lib, a: a * a, N(3, 4)),
    case("div-same_tensor", lambda lib, a: a / (a * a + 1.0), N(3, 4)),
]

SCALAR_CASES = [
    case("add_scalar_right", lambda lib, a: a + 2.5, N(2, 3)),
    case("add_scalar_left", lambda lib, a: 2.5 + a, N(2, 3)),
    case("add_int_scalar", lambda lib, a: a + 3, N(2, 3)),
    case("sub_scalar_right", lambda lib, a: a - 1.5, N(2, 3)),
    case("sub_scalar_left", lambda lib, a: 1.5 - a, N(2, 3)),
    case("mul_scalar_right", lambda lib, a: a * -3.0, N(2, 3)),
    case("mul_scalar_left", lambda lib, a: 2 * a, N(2, 3)),
    case("div_scalar_right", lambda lib, a: a / 2.5, N(2, 3)),
    case("div_scalar_left", lambda lib, a: 2.5 / a, P(2, 3)),
    case("pow_scalar_2", lambda lib, a: a ** 2, N(2, 3)),
    case("pow_scalar_3", lambda lib, a: a ** 3, N(2, 3)),
    case("pow_scalar_half", lambda lib, a: a ** 0.5, P(2, 3)),
    case("pow_scalar_neg", lambda lib, a: a ** -1.5, P(2, 3)),
    case("pow_fn_scalar", lambda lib, a: lib.pow(a, 2.0), N(2, 3)),
    case("rpow_scalar", lambda lib, a: 2.0 ** a, N(2, 3)),
    case("pow_0d_exponent", lambda lib, a, b: a ** b, P(2, 3), U(1.0, 2.0)),
    case("neg", lambda lib, a: -a, N(2, 3)),
    case("neg_0d", lambda lib, a: -a, N()),
    case("scalar_on_0d", lambda lib, a: 3.0 * a - 1.0, N()),
]

# ----------------------------------------------------------------------------- elementwise unary
UNARY = {
    "exp": N, "log": P, "sqrt": P, "rsqrt": P, "abs": N, "sin": N, "cos": N,
    "tanh": N, "sigmoid": N, "relu": N,
}
UNARY_CASES = []
for _name, _spec in UNARY.items():
    UNARY_CASES += [
        case(f"{_name}-fn", lambda lib, a, n=_name: getattr(lib, n)(a), _spec(3, 4)),
        case(f"{_name}-method", lambda lib, a, n=_name: getattr(a, n)(), _spec(2, 1, 3)),
        case(f"{_name}-0d", lambda lib, a, n=_name: getattr(lib, n)(a), _spec()),
        case(f"{_name}-noncontig", lambda lib, a, n=_name: getattr(a, n)(), NC(_spec(3, 4))),
    ]
UNARY_CASES += [
    case("clamp-both", lambda lib, a: a.clamp(-0.5, 0.5), N(3, 4)),
    case("clamp-fn", lambda lib, a: lib.clamp(a, -0.5, 0.5), N(3, 4)),
    case("clamp-min_kw", lambda lib, a: a.clamp(min=-0.3), N(3, 4)),
    case("clamp-max_kw", lambda lib, a: a.clamp(max=0.2), N(3, 4)),
    case("clamp-noncontig", lambda lib, a: a.clamp(min=-0.3, max=0.4), F(N(4, 3))),
    case("exp_log_chain", lambda lib, a: (a.exp() + 1.0).log(), N(3, 4)),
    case("tanh_of_transposed", lambda lib, a: a.T.tanh(), N(3, 4)),
]

# ----------------------------------------------------------------------------- kinks, ties, extremes
KINK_CASES = [
    case("relu_at_0", lambda lib, a: a.relu(), A([-1.0, 0.0, 2.0, 0.0]), gradcheck=False),
    case("abs_at_0", lambda lib, a: a.abs(), A([-1.0, 0.0, 2.0]), gradcheck=False),
    case("clamp_at_bounds", lambda lib, a: a.clamp(0.0, 1.0),
         A([-1.0, 0.0, 0.5, 1.0, 2.0]), gradcheck=False),
    case("clamp_min_at_bound", lambda lib, a: a.clamp(min=0.0), A([-1.0, 0.0, 1.0]),
         gradcheck=False),
    case("maximum_ties", lambda lib, a, b: lib.maximum(a, b),
         A([1.0, 2.0, -3.0]), A([1.0, 3.0, -3.0]), gradcheck=False),
    case("minimum_ties", lambda lib, a, b: lib.minimum(a, b),
         A([1.0, 2.0, -3.0]), A([1.0, 3.0, -3.0]), gradcheck=False),
    case("maximum_ties_bcast", lambda lib, a, b: lib.maximum(a, b),
         A([[1.0], [2.0]]), A([[1.0, 2.0, 0.0]]), gradcheck=False),
    case("max_all_ties", lambda lib, a: a.max(), A([[1.0, 3.0], [3.0, 2.0]]), gradcheck=False),
    case("min_all_ties", lambda lib, a: a.min(), A([[1.0, -3.0], [-3.0, -3.0]]), gradcheck=False),
    case("amax_ties", lambda lib, a: a.amax(dim=1), A([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]),
         gradcheck=False),
    case("amin_ties_all", lambda lib, a: lib.amin(a), A([[1.0, 0.0], [0.0, 4.0]]), gradcheck=False),
    case("amax_ties_keepdim", lambda lib, a: a.amax(dim=0, keepdim=True),
         A([[5.0, 1.0], [5.0, 2.0]]), gradcheck=False),
    case("sigmoid_extremes", lambda lib, a: a.sigmoid(), A([-400.0, -40.0, 0.0, 40.0, 400.0])),
    case("softmax_large", lambda lib, a: a.softmax(dim=-1), A([[1000.0, 0.0, -1000.0],
                                                               [800.0, 800.0, 799.0]])),
    case("log_softmax_large", lambda lib, a: a.log_softmax(dim=-1),
         A([[1000.0, 0.0, -1000.0], [800.0, 800.0, 799.0]])),
    case("logsumexp_large", lambda lib, a: a.logsumexp(dim=1), A([[1000.0, 1000.0],
                                                                  [-1000.0, -999.0]])),
]


def test_sigmoid_extremes_finite(backend):
    x64 = np.array([-400.0, -40.0, 40.0, 400.0])
    exact = np.exp(-np.logaddexp(0.0, -x64))  # stable float64 reference
    for dtype in (np.float32, np.float64):
        x = tl.tensor(x64.astype(dtype), device=backend.device, requires_grad=True)
        y = x.sigmoid()
        y.backward(tl.ones_like(y))
        out, g = to_np(y), to_np(x.grad)
        assert out.dtype == dtype and g.dtype == dtype
        assert np.all(np.isfinite(out)) and np.all(np.isfinite(g))
        np.testing.assert_allclose(out, exact.astype(dtype), rtol=1e-6, atol=0)
        np.testing.assert_allclose(g, (exact * (1 - exact)).astype(dtype), rtol=1e-5, atol=1e-12)


# ----------------------------------------------------------------------------- reductions
REDUCE_CASES = []
for _name in ("sum", "mean"):
    REDUCE_CASES += [
        case(f"{_name}-all", lambda lib, a, n=_name: getattr(a, n)(), N(3, 4)),
        case(f"{_name}-fn_all", lambda lib, a, n=_name: getattr(lib, n)(a), N(2, 3, 4)),
        case(f"{_name}-dim0", lambda lib, a, n=_name: getattr(a, n)(dim=0), N(3, 4)),
        case(f"{_name}-dim_neg", lambda lib, a, n=_name: getattr(a, n)(-1), N(2, 3, 4)),
        case(f"{_name}-dim_tuple", lambda lib, a, n=_name: getattr(a, n)(dim=(0, 2)), N(2, 3, 4)),
        case(f"{_name}-dim_tuple_neg_keepdim",
             lambda lib, a, n=_name: getattr(a, n)(dim=(-1, 0), keepdim=True), N(2, 3, 4)),
        case(f"{_name}-keepdim", lambda lib, a, n=_name: getattr(lib, n)(a, 1, keepdim=True),
             N(3, 4)),
        case(f"{_name}-size1_dim", lambda lib, a, n=_name: getattr(a, n)(dim=1), N(3, 1, 2)),
        case(f"{_name}-0d", lambda lib, a, n=_name: getattr(a, n)(), N()),
        case(f"{_name}-noncontig", lambda lib, a, n=_name: getattr(a, n)(dim=0), NC(N(3, 4))),
    ]
for _name in ("var", "std"):
    REDUCE_CASES += [
        case(f"{_name}-all", lambda lib, a, n=_name: getattr(a, n)(), N(3, 4)),
        case(f"{_name}-fn_dim", lambda lib, a, n=_name: getattr(lib, n)(a, dim=1), N(3, 4)),
        case(f"{_name}-dim_neg_keepdim",
             lambda lib, a, n=_name: getattr(a, n)(dim=-2, keepdim=True), N(2, 3, 4)),
        case(f"{_name}-dim_tuple", lambda lib, a, n=_name: getattr(a, n)(dim=(0, 1)), N(2, 3, 4)),
        case(f"{_name}-correction0", lambda lib, a, n=_name: getattr(a, n)(dim=0, correction=0),
             N(4, 3)),
        case(f"{_name}-correction2", lambda lib, a, n=_name: getattr(a, n)(correction=2), N(2, 3)),
        case(f"{_name}-noncontig", lambda lib, a, n=_name: getattr(a, n)(dim=1), F(N(4, 3))),
    ]
for _name in ("amax", "amin"):
    REDUCE_CASES += [
        case(f"{_name}-all", lambda lib, a, n=_name: getattr(a, n)(), N(3, 4)),
        case(f"{_name}-fn_dim", lambda lib, a, n=_name: getattr(lib, n)(a, dim=1), N(3, 4)),
        case(f"{_name}-dim_neg_keepdim",
             lambda lib, a, n=_name: getattr(a, n)(dim=-1, keepdim=True), N(2, 3, 4)),
        case(f"{_name}-dim_tuple", lambda lib, a, n=_name: getattr(a, n)(dim=(0, 2)), N(2, 3, 4)),
        case(f"{_name}-noncontig", lambda lib, a, n=_name: getattr(a, n)(0), NC(N(3, 4))),
    ]
for _name in ("max", "min"):
    REDUCE_CASES += [
        case(f"{_name}-all", lambda lib, a, n=_name: getattr(a, n)(), N(3, 4)),
        case(f"{_name}-fn_all", lambda lib, a, n=_name: getattr(lib, n)(a), N(2, 3)),
        case(f"{_name}-dim", lambda lib, a, n=_name: getattr(a, n)(dim=1), N(3, 4)),
        case(f"{_name}-fn_dim_neg", lambda lib, a, n=_name: getattr(lib, n)(a, -1), N(2, 3, 4)),
        case(f"{_name}-dim_keepdim", lambda lib, a, n=_name: getattr(a, n)(0, keepdim=True),
             N(3, 4)),
        case(f"{_name}-values_only", lambda lib, a, n=_name: getattr(a, n)(dim=1).values * 2.0,
             N(3, 4)),
        case(f"{_name}-noncontig", lambda lib, a, n=_name: getattr(a, n)(dim=0), F(N(4, 3))),
    ]
for _name in ("logsumexp", "softmax", "log_softmax"):
    REDUCE_CASES += [
        case(f"{_name}-dim_last", lambda lib, a, n=_name: getattr(a, n)(dim=-1), N(3, 4)),
        case(f"{_name}-fn_dim0", lambda lib, a, n=_name: getattr(lib, n)(a, 0), N(3, 4)),
        case(f"{_name}-rank3_mid", lambda lib, a, n=_name: getattr(a, n)(dim=1), N(2, 3, 4)),
        case(f"{_name}-size1_dim", lambda lib, a, n=_name: getattr(a, n)(dim=1), N(3, 1)),
        case(f"{_name}-noncontig", lambda lib, a, n=_name: getattr(a, n)(dim=1), NC(N(3, 4))),
    ]
REDUCE_CASES += [
    case("logsumexp-keepdim", lambda lib, a: a.logsumexp(dim=0, keepdim=True), N(3, 4)),
    case("logsumexp-dim_tuple", lambda lib, a: lib.logsumexp(a, dim=(0, 2)), N(2, 3, 4)),
]


def test_max_dim_returns_values_and_indices(backend):
    x = tl.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], device=backend.device)
    res = x.max(dim=1)
    values, indices = res
    np.testing.assert_array_equal(to_np(res.values), [5.0, 7.0])
    np.testing.assert_array_equal(to_np(res.indices), [1, 0])
    np.testing.assert_array_equal(to_np(values), to_np(res.values))
    np.testing.assert_array_equal(to_np(indices), to_np(res.indices))
    assert indices.dtype == tl.int64
    mn = tl.min(x, dim=0)
    np.testing.assert_array_equal(to_np(mn.values), [1.0, 0.0, 2.0])
    np.testing.assert_array_equal(to_np(mn.indices), [0, 1, 0])


def test_max_dim_ties_gradient_goes_to_returned_index(backend):
    x = tl.tensor([[3.0, 1.0, 3.0], [2.0, 2.0, 2.0]], dtype=tl.float64, device=backend.device,
                  requires_grad=True)
    values, indices = x.max(dim=1)
    g = np.array([1.5, -2.0])
    values.backward(tl.tensor(g, device=backend.device))
    idx = to_np(indices)
    assert idx[0] in (0, 2), "index of a tie must point at a maximal entry"
    expected = np.zeros((2, 3))
    expected[0, idx[0]], expected[1, idx[1]] = g
    np.testing.assert_array_equal(to_np(x.grad), expected)


# ----------------------------------------------------------------------------- shape ops
SHAPE_CASES = [
    case("reshape", lambda lib, a: a.reshape(4, 3), N(2, 6)),
    case("reshape_tuple_neg1", lambda lib, a: a.reshape((3, -1)), N(2, 3, 2)),
    case("reshape_fn", lambda lib, a: lib.reshape(a, (-1,)), N(3, 4)),
    case("reshape_noncontig", lambda lib, a: a.reshape(12), F(N(3, 4))),
    case("reshape_to_0d", lambda lib, a: a.reshape(()), N(1, 1)),
    case("view", lambda lib, a: a.view(3, 4), N(2, 6)),
    case("view_neg1", lambda lib, a: a.view(-1, 2), N(2, 6)),
    case("view_as", lambda lib, a, b: a.view_as(b) * b, N(2, 6), N(4, 3)),
    case("reshape_as", lambda lib, a, b: a.reshape_as(b) + b, N(2, 6), N(3, 4)),
    case("flatten", lambda lib, a: a.flatten(), N(2, 3, 4)),
    case("flatten_start", lambda lib, a: a.flatten(1), N(2, 3, 4)),
    case("flatten_range_fn", lambda lib, a: lib.flatten(a, 0, 1), N(2, 3, 4)),
    case("squeeze_all", lambda lib, a: a.squeeze(), N(1, 3, 1, 2)),
    case("squeeze_dim", lambda lib, a: a.squeeze(2), N(1, 3, 1, 2)),
    case("squeeze_neg_dim", lambda lib, a: lib.squeeze(a, -3), N(1, 3, 1, 2)),
    case("squeeze_non1_dim_noop", lambda lib, a: a.squeeze(1), N(1, 3, 1, 2)),
    case("unsqueeze", lambda lib, a: a.unsqueeze(0), N(3, 4)),
    case("unsqueeze_neg", lambda lib, a: lib.unsqueeze(a, -1), N(3, 4)),
    case("unsqueeze_mid", lambda lib, a: a.unsqueeze(1), N(3, 4)),
    case("permute", lambda lib, a: a.permute(2, 0, 1), N(2, 3, 4)),
    case("permute_tuple_neg", lambda lib, a: a.permute((-1, 1, 0)), N(2, 3, 4)),
    case("permute_fn", lambda lib, a: lib.permute(a, (1, 0, 2)), N(2, 3, 4)),
    case("transpose", lambda lib, a: a.transpose(0, 1), N(3, 4)),
    case("transpose_neg_fn", lambda lib, a: lib.transpose(a, 0, -1), N(2, 3, 4)),
    case("T", lambda lib, a: a.T, N(3, 4)),
    case("T_then_mul", lambda lib, a, b: a.T * b, N(3, 4), N(4, 3)),
    case("expand", lambda lib, a: a.expand(3, 4), N(1, 4)),
    case("expand_neg1_newdim", lambda lib, a: a.expand(2, -1, 4), N(3, 1)),
    case("expand_as", lambda lib, a, b: a.expand_as(b) * b, N(3, 1), N(3, 4)),
    case("repeat", lambda lib, a: a.repeat(2, 3), N(2, 3)),
    case("repeat_newdim", lambda lib, a: a.repeat(2, 1, 2), N(2, 3)),
    case("chain_views", lambda lib, a: a.permute(1, 0, 2).reshape(3, 8).T.unsqueeze(0).exp(),
         N(2, 3, 4)),
]

# ----------------------------------------------------------------------------- indexing
INDEX_CASES = [
    case("int", lambda lib, a: a[1], N(3, 4)),
    case("neg_int", lambda lib, a: a[-1], N(3, 4)),
    case("slice", lambda lib, a: a[:, 1:3], N(3, 4)),
    case("step_slice", lambda lib, a: a[::2, 1::2], N(5, 4)),
    case("neg_slice", lambda lib, a: a[-2:, :-1], N(3, 4)),
    case("ellipsis", lambda lib, a: a[..., 0], N(2, 3, 4)),
    case("none", lambda lib, a: a[None, 1, :, None], N(3, 4)),
    case("int_int", lambda lib, a: a[1, 2], N(3, 4)),
    case("noncontig_slice", lambda lib, a: a[1:, ::2], NC(N(3, 4))),
    case("adv_repeated_tensor", lambda lib, a, i: a[i], N(4, 3), Const([0, 2, 0, 0, 3])),
    case("adv_repeated_list", lambda lib, a: a[[1, 1, 0]], N(4, 3)),
    case("adv_two_axes", lambda lib, a, i, j: a[i, j], N(3, 4), Const([0, 2, 2, 1]),
         Const([3, 1, 1, 0])),
    case("adv_second_axis", lambda lib, a, i: a[:, i], N(3, 4), Const([3, 3, 0])),
    case("adv_2d_index", lambda lib, a, i: a[i], N(4, 2), Const([[0, 1], [1, 1], [3, 0]])),
    case("adv_negative", lambda lib, a, i: a[i], N(4, 2), Const([-1, 0, -1])),
    case("bool_mask_full", lambda lib, a, m: a[m], N(3, 4),
         Const(np.array([[1, 0, 1, 1], [0, 0, 0, 1], [1, 1, 0, 0]], dtype=bool))),
    case("bool_mask_rows", lambda lib, a, m: a[m], N(4, 3), Const([True, False, True, True])),
    case("bool_mask_from_compare", lambda lib, a: a[a > 0.0] * 2.0, N(3, 4)),
]

# ----------------------------------------------------------------------------- joins, selection
JOIN_CASES = [
    case("cat_dim0", lambda lib, a, b: lib.cat([a, b]), N(2, 3), N(4, 3)),
    case("cat_dim_neg", lambda lib, a, b, c: lib.cat([a, b, c], dim=-1), N(2, 1), N(2, 3),
         N(2, 2)),
    case("cat_same_tensor_twice", lambda lib, a, b: lib.cat([a, b, a], dim=1), N(2, 3), N(2, 1)),
    case("cat_noncontig", lambda lib, a, b: lib.cat((a, b), 0), F(N(3, 2)), NC(N(1, 2))),
    case("stack", lambda lib, a, b: lib.stack([a, b]), N(2, 3), N(2, 3)),
    case("stack_dim1", lambda lib, a, b, c: lib.stack([a, b, c], dim=1), N(2, 3), N(2, 3),
         N(2, 3)),
    case("stack_neg", lambda lib, a, b: lib.stack((a, b), dim=-1), N(2, 3), N(2, 3)),
    case("where", lambda lib, c, a, b: lib.where(c, a, b), Const([[True], [False], [True]]),
         N(1, 4), N(3, 4)),
    case("where_from_compare", lambda lib, a, b: lib.where(a > b, a * 2.0, b), N(3, 4), N(3, 4)),
    case("where_scalar_other", lambda lib, c, a: lib.where(c, a, 0.0),
         Const([True, False, True]), N(2, 3)),
    case("gather_dim1", lambda lib, a, i: lib.gather(a, 1, i), N(3, 4),
         Const([[0, 0], [3, 1], [2, 2]])),
    case("gather_dim0_method", lambda lib, a, i: a.gather(0, i), N(3, 4),
         Const([[0, 2, 2, 1], [0, 0, 0, 0]])),
    case("gather_neg_dim", lambda lib, a, i: a.gather(-1, i), N(2, 3), Const([[2], [0]])),
    case("masked_fill", lambda lib, a, m: a.masked_fill(m, 0.5), N(3, 4),
         Const(np.array([[1, 0, 0, 1], [0, 0, 0, 0], [1, 1, 1, 1]], dtype=bool))),
    case("masked_fill_bcast", lambda lib, a, m: a.masked_fill(m, -1.0), N(3, 4),
         Const([[True], [False], [True]])),
    case("masked_fill_fn", lambda lib, a, m: lib.masked_fill(a, m, 2.0), N(2, 3),
         Const([False, True, False])),
]

# ----------------------------------------------------------------------------- matmul
MATMUL_CASES = [
    case("mm", lambda lib, a, b: a @ b, N(3, 4), N(4, 5)),
    case("vec_mat", lambda lib, a, b: a @ b, N(4), N(4, 5)),
    case("mat_vec", lambda lib, a, b: a @ b, N(3, 4), N(4)),
    case("dot", lambda lib, a, b: a @ b, N(4), N(4)),
    case("batched_mat", lambda lib, a, b: a @ b, N(2, 3, 4), N(4, 5)),
    case("mat_batched", lambda lib, a, b: a @ b, N(3, 4), N(2, 4, 5)),
    case("batched_batched", lambda lib, a, b: a @ b, N(2, 3, 4), N(2, 4, 5)),
    case("batched_broadcast", lambda lib, a, b: a @ b, N(2, 1, 3, 4), N(3, 4, 2)),
    case("vec_batched", lambda lib, a, b: a @ b, N(4), N(2, 4, 5)),
    case("batched_vec", lambda lib, a, b: a @ b, N(2, 3, 4), N(4)),
    case("size1", lambda lib, a, b: a @ b, N(1, 4), N(4, 1)),
    case("noncontig", lambda lib, a, b: a @ b, F(N(3, 4)), NC(N(4, 2))),
    case("transposed_on_tape", lambda lib, a, b: a @ b.T, N(3, 4), N(2, 4)),
    case("same_operand", lambda lib, a: a @ a, N(3, 3)),
]

COMPOSITE_CASES = [
    case("x_used_three_times", lambda lib, a: a * a.exp() + a.sin(), N(3, 4)),
    case("mlp_layer", lambda lib, x, w, b: (x @ w + b).tanh().sum(dim=1), N(5, 3), N(3, 4), N(4)),
    case("normalize", lambda lib, a: (a - a.mean(dim=1, keepdim=True)) / a.std(dim=1, keepdim=True),
         N(3, 5)),
    case("cross_entropy_like", lambda lib, a, i: -a.log_softmax(dim=1).gather(1, i).mean(),
         N(4, 5), Const([[1], [0], [4], [4]])),
]

_INF = float("inf")
EDGE_CASES = [
    case("softmax_neg_inf_mask", lambda lib, a: a.softmax(dim=1),
         A([[0.0, -_INF, 1.0], [2.0, 3.0, -_INF]]), gradcheck=False),
    case("log_softmax_neg_inf_mask", lambda lib, a: a.log_softmax(dim=1),
         A([[0.0, -_INF, 1.0], [2.0, 3.0, -_INF]]), gradcheck=False),
    case("logsumexp_neg_inf", lambda lib, a: a.logsumexp(dim=1),
         A([[-_INF, 0.0, 1.0], [2.0, -_INF, 3.0]]), gradcheck=False),
    case("masked_fill_neg_inf_softmax",
         lambda lib, a, m: a.masked_fill(m, -_INF).softmax(dim=-1), N(3, 4),
         Const(np.array([[0, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 1]], dtype=bool))),
    case("pow_zero_base_tensor_exp", lambda lib, a, b: a ** b, A([0.0, 1.0, 0.5]),
         A([2.0, 3.0, 1.5]), gradcheck=False),
    case("pow_negative_base_int_exp", lambda lib, a: a ** 3, A([-2.0, -0.5, 1.5])),
    case("pow_negative_base_tensor_exp", lambda lib, a, b: a ** b, A([-2.0, 1.5]),
         A([2.0, 3.0]), gradcheck=False),
    case("empty_sum_dim0", lambda lib, a: a.sum(dim=0), N(0, 3), gradcheck=False),
    case("empty_mul_bcast", lambda lib, a, b: a * b, N(0, 3), N(3), gradcheck=False),
    case("empty_cat", lambda lib, a, b: lib.cat([a, b]), N(0, 3), N(2, 3), gradcheck=False),
    case("sum_none_keepdim", lambda lib, a: a.sum(dim=None, keepdim=True), N(2, 3)),
    case("squeeze_dim_tuple", lambda lib, a: a.squeeze((0, 2)), N(1, 3, 1, 2)),
    case("flatten_0d", lambda lib, a: a.flatten(), N()),
    case("unsqueeze_0d", lambda lib, a: a.unsqueeze(0), N()),
    case("index_0d_result_then_op", lambda lib, a: a[1, 2] * a[0], N(3, 4)),
]

ALL_CASES = (BINARY_CASES + SCALAR_CASES + UNARY_CASES + KINK_CASES + REDUCE_CASES
             + SHAPE_CASES + INDEX_CASES + JOIN_CASES + MATMUL_CASES + COMPOSITE_CASES
             + EDGE_CASES)


@pytest.mark.parametrize("fn, args, opts", ALL_CASES)
def test_op(backend, fn, args, opts):
    check_op(fn, *args, **opts)


# ----------------------------------------------------------------------------- second order
SECOND_ORDER_CASES = [
    case("tanh", lambda lib, a: a.tanh(), N(3, 4)),
    case("sigmoid", lambda lib, a: lib.sigmoid(a), N(3, 4)),
    case("exp", lambda lib, a: a.exp(), N(2, 3)),
    case("mul", lambda lib, a, b: a * b, N(3, 1), N(1, 4)),
    case("mul_self", lambda lib, a: a * a * a, N(3)),
    case("pow_scalar", lambda lib, a: a ** 3, N(2, 3)),
    case("pow_tensor", lambda lib, a, b: a ** b, P(2, 3), N(2, 3)),
    case("softmax", lambda lib, a: a.softmax(dim=-1), N(3, 4)),
    case("log_softmax", lambda lib, a: a.log_softmax(dim=0), N(3, 4)),
    case("matmul", lambda lib, a, b: a @ b, N(3, 4), N(4, 2)),
    case("matmul_tanh", lambda lib, a, b: (a @ b).tanh(), N(3, 4), N(4, 2)),
]


@pytest.mark.parametrize("fn, args, opts", SECOND_ORDER_CASES)
def test_second_order(backend, fn, args, opts):
    check_second_order(fn, *args, **opts)


# ----------------------------------------------------------------------------- broadcasting property
_dims = st.integers(min_value=1, max_value=3)


@st.composite
def _broadcast_shapes(draw):
    out = draw(st.lists(_dims, min_size=0, max_size=3))
    def operand():
        k = draw(st.integers(min_value=0, max_value=len(out)))
        return tuple(s if draw(st.booleans()) else 1 for s in out[len(out) - k:])
    return operand(), operand()


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shapes=_broadcast_shapes(), op=st.sampled_from(["add", "sub", "mul", "div", "maximum"]))
def test_broadcasting_property(backend, shapes, op):
    fns = {"add": lambda lib, a, b: a + b, "sub": lambda lib, a, b: a - b,
           "mul": lambda lib, a, b: a * b, "div": lambda lib, a, b: a / b,
           "maximum": lambda lib, a, b: lib.maximum(a, b)}
    s1, s2 = shapes
    check_op(fns[op], N(*s1), P(*s2) if op == "div" else N(*s2), gradcheck=False, float32=False)
