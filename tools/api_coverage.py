"""Which of the PyTorch names that real programs use tensorlite has (issue 12's lists).

    python tools/api_coverage.py            # a line per gap, then a summary; exit 1 on a gap
    python tools/api_coverage.py --all      # every name, present or not

Each name is looked up where PyTorch (the installed torch, the test oracle) has it: as a
function ``torch.<name>``, a Tensor method ``torch.Tensor.<name>``, an in-place method, or in
``torch.linalg``; tensorlite must have it in the same places.  A present registered op is
marked "not fuzzed" when the differential fuzz (tests/opinfo*.py) does not cover it and no
entry excludes it with a reason: it exists, but nothing compares it with PyTorch.  A dtype
"behaves differently" when its name, size, category or promotion with any other dtype differs
from torch's (torch.promote_types for every pair).  Exit status 1 on an absent name or a
difference.
"""
import argparse
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

FAMILIES = {
    "math": """log1p expm1 log2 log10 exp2 erf erfc erfinv tan asin acos atan atan2 sinh cosh
        asinh acosh atanh hypot lerp floor ceil round trunc frac fmod remainder reciprocal square
        sign sgn logit xlogy sinc deg2rad rad2deg clamp clip maximum minimum fmax fmin nan_to_num
        isnan isinf isfinite isposinf isneginf allclose isclose equal logical_and logical_or
        logical_not logical_xor bitwise_and bitwise_or bitwise_xor bitwise_not float_power
        addcmul addcdiv""",
    "reductions": """prod cumsum cumprod cummax cummin logcumsumexp norm dist cdist median
        nanmedian mode quantile nanquantile nansum nanmean var_mean std_mean count_nonzero all
        any aminmax""",
    "sorting": """sort argsort topk kthvalue unique unique_consecutive bincount histc
        searchsorted bucketize msort""",
    "linear algebra": """mm bmm baddbmm addmm addmv mv dot vdot outer inner tensordot einsum
        kron cross diag diagonal diag_embed diagflat tril triu trace tril_indices triu_indices""",
    "torch.linalg": """linalg.norm linalg.vector_norm linalg.matrix_norm linalg.inv linalg.det
        linalg.slogdet linalg.solve linalg.cholesky linalg.qr linalg.svd linalg.eigh
        linalg.lstsq linalg.pinv linalg.matrix_power""",
    "shape and indexing": """flip fliplr flipud roll rot90 repeat_interleave tile broadcast_to
        broadcast_tensors meshgrid narrow unbind movedim moveaxis swapaxes swapdims t mT
        unflatten hstack vstack dstack column_stack concat concatenate atleast_1d atleast_2d
        atleast_3d take take_along_dim index_select masked_select nonzero argwhere unfold
        scatter scatter_add scatter_reduce index_add index_copy index_fill index_put
        masked_scatter new_zeros new_ones new_full new_empty new_tensor type_as element_size
        stride is_contiguous contiguous view""",
    "in-place": """add_ sub_ mul_ div_ pow_ clamp_ masked_fill_ fill_ zero_ copy_ exp_
        scatter_ scatter_add_ index_add_ index_copy_ index_fill_ index_put_ masked_scatter_""",
    "random": """Generator get_rng_state set_rng_state seed initial_seed manual_seed multinomial
        bernoulli poisson normal randperm rand_like randn_like randint_like normal_ uniform_
        bernoulli_ exponential_ random_ geometric_""",
    "ported programs": """device LongTensor FloatTensor BoolTensor nelement unsqueeze_ squeeze_
        t_ cuda.is_available set_default_device""",
    "dtypes and misc": """bfloat16 uint8 int8 int16 complex64 finfo iinfo is_tensor
        is_floating_point promote_types result_type can_cast Size numel as_tensor""",
}


def _lookup(root, dotted):
    obj = root
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def places(torch, name):
    """Where PyTorch has ``name``: 'function' (torch.<name>), 'method' (torch.Tensor.<name>)."""
    if torch is None:
        return ("function",)
    found = []
    if _lookup(torch, name) is not None:
        found.append("function")
    if "." not in name and hasattr(torch.Tensor, name):
        found.append("method")
    return tuple(found) or ("function",)


def tested_names():
    """The public names the fuzz covers or excludes with a reason."""
    try:
        import opinfo
    except Exception:  # (hypothesis not installed: nothing can be said about testing)
        return None
    names = set(opinfo.EXCLUDED)
    for entry in opinfo.TABLE:
        names.update(entry.covers)
    return names


_DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32",
           "float64", "complex64", "complex128")


def dtype_differences(tl, torch, name):
    """How tensorlite's dtype ``name`` behaves unlike torch's: its name, size, category, and
    its promotion with every dtype both have (torch's complex32, which NumPy lacks, is taken
    as complex64).  Empty for a name that is no torch dtype."""
    want, got = getattr(torch, name, None), getattr(tl, name, None)
    if torch is None or not isinstance(want, torch.dtype) or got is None:
        return []
    out = []
    if str(got) != str(want).removeprefix("torch."):
        out.append(f"is {got}, torch's is {want}")
    if got.itemsize != want.itemsize:
        out.append(f"has {got.itemsize} bytes, torch's {want.itemsize}")
    if tl.dtypes.is_floating_point(got) != want.is_floating_point or \
            tl.dtypes.is_complex(got) != want.is_complex:
        out.append("is of another category (floating point / complex) than torch's")
    for other in _DTYPES:
        if hasattr(tl, other) and hasattr(torch, other):
            expect = str(torch.promote_types(want, getattr(torch, other))).removeprefix("torch.")
            seen = str(tl.promote_types(got, getattr(tl, other)))
            if seen != expect.replace("complex32", "complex64"):
                out.append(f"promotes with {other} to {seen}, torch's to {expect}")
    return out


def report(show_all=False, out=sys.stdout):
    import tensorlite as tl
    from tensorlite.ops.registry import REGISTRY as registry
    try:
        import torch
    except ImportError:
        torch = None
    tested = tested_names()
    gaps = total = differ = 0
    for family, text in FAMILIES.items():
        for name in text.split():
            total += 1
            missing = []
            for where in places(torch, name):
                root = tl if where == "function" else tl.Tensor
                if _lookup(root, name) is None:
                    missing.append(f"tensorlite.{name}" if where == "function"
                                   else f"Tensor.{name}")
            untested = (not missing and tested is not None and name in registry
                        and name not in tested)
            unlike = [] if missing else dtype_differences(tl, torch, name)
            status = ("absent: " + ", ".join(missing) if missing else
                      "behaves differently: " + "; ".join(unlike) if unlike else
                      "present, not fuzzed against torch" if untested else "present")
            if missing:
                gaps += 1
            differ += bool(unlike)
            if missing or unlike or show_all:
                print(f"{family:20s} {name:22s} {status}", file=out)
    print(f"{total - gaps} of {total} names present, {gaps} absent, {differ} behaving "
          "differently", file=out)
    return gaps + differ


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="list every name, not only gaps")
    sys.exit(1 if report(parser.parse_args().all) else 0)
