"""Fuzz entries for the ops that came with the small integer and complex dtypes
(tensorlite/ops/dtype_ops.py): floor_divide and the bit shifts (with their operators and
in-place forms), and the complex ops on real tensors (the fuzz draws real dtypes; complex
inputs are compared in tests/test_dtypes_small.py); merged into opinfo.TABLE (see opinfo.py)."""
import operator

import numpy as np

from opinfo import ALL, FLOAT, I64, OpInfo, binary, unary, with_number

# the small signed integers (uint8 is left out: the fuzz draws negative integers)
SMALL = (np.dtype(np.int8), np.dtype(np.int16))


def _updated(a, name, *args):
    c = a.clone()
    out = getattr(c, name)(*args)
    assert out is c, f"{name} must return the tensor it updated"
    return c


def _two(name, method=False):
    if method:
        return lambda lib, a, b: getattr(a, name)(b)
    return lambda lib, a, b: getattr(lib, name)(a, b)


def _number(name):
    return lambda lib, a, s, tensor_first: (getattr(lib, name)(a, s) if tensor_first
                                            else getattr(lib, name)(s, a))


def _operator(op):
    return lambda lib, a, s, tensor_first: op(a, s) if tensor_first else op(s, a)


def _shift_sample(g):
    """An integer tensor and shift counts, mostly in range (-3..70: out-of-range counts too)."""
    (sa, sb), _ = g.bshapes(2)
    return [g.tensor(sa, "real"), g.tensor(sb, "real")], {}


_SHIFTS = ("bitwise_left_shift", "bitwise_right_shift")
_COMPLEX_ON_REAL = ("real", "conj", "conj_physical", "resolve_conj", "resolve_neg")

TABLE = [
    # no derivative (as torch): fuzzed without gradients
    OpInfo("floor_divide", _two("floor_divide"), binary(), dtypes=ALL + SMALL, grad=False),
    OpInfo("floor_divide_method", _two("floor_divide", True), binary(), dtypes=ALL, grad=False,
           covers=("floor_divide",)),
    OpInfo("floor_divide_number", _number("floor_divide"), with_number(), dtypes=ALL + SMALL,
           grad=False, covers=("floor_divide",)),
    OpInfo("floordiv_operator", _operator(operator.floordiv), with_number(), dtypes=ALL,
           grad=False, covers=("floor_divide",)),
    OpInfo("floor_divide_", lambda lib, a, b: _updated(a, "floor_divide_", b), binary(),
           dtypes=ALL, grad=False),
    OpInfo("angle", lambda lib, a: lib.angle(a), unary(), dtypes=ALL),
    OpInfo("angle_method", lambda lib, a: a.angle(), unary(), dtypes=FLOAT, covers=("angle",)),
]
for _n in _SHIFTS:
    TABLE += [
        OpInfo(_n, _two(_n), _shift_sample, dtypes=ALL + SMALL, grad=False),
        OpInfo(f"{_n}_method", _two(_n, True), _shift_sample, dtypes=(I64,), grad=False,
               covers=(_n,)),
        OpInfo(f"{_n}_", lambda lib, a, b, n=_n: _updated(a, n + "_", b), _shift_sample,
               dtypes=(I64,), grad=False),
    ]
TABLE += [
    OpInfo("shift_operators", lambda lib, a, b, op: op(a, b),
           lambda g: (_shift_sample(g)[0], {"op": g.pick(operator.lshift, operator.rshift)}),
           dtypes=(I64,), grad=False, covers=_SHIFTS),
    OpInfo("shift_operators_number", lambda lib, a, s, tensor_first, op: (
        op(a, s) if tensor_first else op(s, a)),
        lambda g: (lambda args, kw: (args, dict(kw, op=g.pick(operator.lshift,
                                                               operator.rshift))))(
            *with_number(kinds=("int",))(g)),
        dtypes=(I64,), grad=False, covers=_SHIFTS),
]
for _n in _COMPLEX_ON_REAL:  # on a real tensor: the tensor itself (the gradient passes)
    TABLE.append(OpInfo(_n, lambda lib, a, n=_n: getattr(lib, n)(a) * 1, unary(), dtypes=ALL))
TABLE.append(OpInfo("imag", lambda lib, a: lib.imag(a), unary(), dtypes=FLOAT, grad=False))

EXCLUDED = {
    "is_complex": "returns a Python bool, not a tensor; compared with torch for every dtype in "
                  "tests/test_dtypes_small.py",
    "is_conj": "returns a Python bool (always False: no lazy conjugates); tested in "
               "tests/test_dtypes_small.py",
    "complex": "its result is complex (forward only; the fuzz's dtypes are real): compared with "
               "torch in tests/test_dtypes_small.py",
    "polar": "its result is complex (forward only): compared with torch in "
             "tests/test_dtypes_small.py",
    "view_as_real": "takes a complex tensor (the fuzz draws real ones): tested in "
                    "tests/test_dtypes_small.py",
    "view_as_complex": "its result is complex (forward only): tested in "
                       "tests/test_dtypes_small.py",
}
