"""tensorlite.save / load: exact round trips, corruption detection, no code run, atomicity."""
import base64
import builtins
import collections
import hashlib
import importlib
import io
import json
import math
import os
import pickle
import struct

import numpy as np
import pytest
import torch

import tensorlite as tl
from tensorlite import serialization
from tensorlite.serialization import CheckpointError

MAGIC = b"\x89TLITE\r\n"
TENSOR_DTYPES = ["float16", "float32", "float64", "int32", "int64", "bool"]


def host(t):
    return np.asarray(t)


def f64(bits):
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def special_values(dtype):
    """Values that a lossy format would change: NaNs with payloads and signs, -0.0, infs,
    subnormals, extremes."""
    d = np.dtype(dtype)
    if d.kind == "f":
        u = {2: np.uint16, 4: np.uint32, 8: np.uint64}[d.itemsize]
        info = np.finfo(d)
        bits = {2: [0x7E01, 0xFE00, 0x7C01], 4: [0x7FC00001, 0xFFC00000, 0x7F800001],
                8: [0x7FF8000000000001, 0xFFF8000000000000, 0x7FF0000000000001]}[d.itemsize]
        nans = np.array(bits, dtype=u).view(d)
        regular = np.array([0.0, -0.0, np.inf, -np.inf, info.max, info.min, info.smallest_subnormal,
                            -info.smallest_subnormal, 1 / 3, -2.5], dtype=d)
        return np.concatenate([nans, regular])
    if d.kind == "b":
        return np.array([True, False, False, True])
    info = np.iinfo(d)
    return np.array([info.min, info.max, 0, -1, 1, 12345], dtype=d)


def same_array(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


def assert_same(a, b, where="obj"):
    """Deep equality that checks exact types, key order and the bits of every value."""
    assert type(a) is type(b), f"{where}: {type(a)} != {type(b)}"
    if isinstance(a, tl.Tensor):
        assert a.device == b.device and a.requires_grad == b.requires_grad, where
        same_array(host(a), host(b))
    elif isinstance(a, (np.ndarray, np.generic)):
        same_array(np.asarray(a), np.asarray(b))
    elif isinstance(a, float):
        assert struct.pack("<d", a) == struct.pack("<d", b), where
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            assert type(k) is type([kk for kk in b if kk == k][0])
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def roundtrip(obj, tmp_path, **kw):
    path = tmp_path / "ckpt.tl"
    tl.save(obj, path)
    return tl.load(path, **kw)


# -- round trips ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", TENSOR_DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (2, 0, 3), (10,), (2, 5)])
def test_tensor_round_trip_bit_exact(tmp_path, dtype, shape):
    vals = special_values(dtype)
    n = math.prod(shape)
    arr = np.resize(vals, n).reshape(shape) if n else np.zeros(shape, dtype=dtype)
    t = tl.from_numpy(arr.astype(dtype))
    out = roundtrip({"t": t}, tmp_path)["t"]
    assert isinstance(out, tl.Tensor) and out.dtype == np.dtype(dtype) and out.shape == shape
    same_array(host(out), arr.astype(dtype))


def test_non_contiguous_and_big_endian_sources(tmp_path):
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    t = tl.from_numpy(base).T  # a transposed view
    big = np.arange(5, dtype=">i4")
    out = roundtrip([t, big, base[::2, 1::3]], tmp_path)
    same_array(host(out[0]), base.T.copy())
    assert out[1].dtype == np.dtype("int32") and out[1].tolist() == list(range(5))
    same_array(out[2], base[::2, 1::3].copy())


def test_python_values_round_trip_exactly(tmp_path):
    obj = {
        "floats": [0.1, -0.0, math.inf, -math.inf, f64(0x7FF8000000000001), f64(0xFFF0000000000002),
                   5e-324, 1.7976931348623157e308],
        "ints": [0, -1, 2 ** 63, -(2 ** 70), 10 ** 30],
        "flags": (True, False, None),
        "text": ["", "üñí\u2603 \"quoted\" \\ \n \x00", "\ud800"],
        "empty": ([], (), {}, collections.OrderedDict()),
        "nested": [[[(1,)]]],
    }
    assert_same(roundtrip(obj, tmp_path), obj)


def test_containers_keep_types_and_key_order(tmp_path):
    od = collections.OrderedDict([("z", tl.ones(2)), ("a", tl.zeros(1)), ("m", tl.arange(3))])
    obj = {"b": 1, "a": 2, 3: "int key", -1.5: "float key", None: "none key",
           (1, "x", (2.5,)): "tuple key", "od": od, "t": (od, [od["z"]])}
    out = roundtrip(obj, tmp_path)
    assert_same(out, obj)
    assert list(out) == ["b", "a", 3, -1.5, None, (1, "x", (2.5,)), "od", "t"]
    assert type(out["od"]) is collections.OrderedDict and list(out["od"]) == ["z", "a", "m"]
    assert type(out["t"]) is tuple and type(out["t"][1]) is list


def test_optimizer_like_state_dict(tmp_path):
    rng = np.random.default_rng(0)
    state = {
        "state": {0: {"step": tl.tensor(3.0), "exp_avg": tl.tensor(rng.standard_normal((3, 2))),
                      "exp_avg_sq": tl.tensor(rng.random((3, 2)).astype(np.float32))},
                  1: {"step": 7, "momentum_buffer": None}},
        "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0,
                          "amsgrad": False, "maximize": False, "foreach": None,
                          "params": [0, 1], "name": "encoder"}],
    }
    assert_same(roundtrip(state, tmp_path), state)


def test_shared_tensor_and_requires_grad(tmp_path):
    w = tl.randn(3, requires_grad=True)
    out = roundtrip({"a": w, "b": [w, w.detach()]}, tmp_path)
    assert out["a"] is out["b"][0]  # one tensor saved once, loaded once
    assert out["a"].requires_grad and out["a"].is_leaf and not out["b"][1].requires_grad
    same_array(host(out["a"]), host(w.detach()))
    (out["a"] * 2).sum().backward()
    np.testing.assert_array_equal(host(out["a"].grad), [2.0, 2.0, 2.0])


def test_loaded_tensors_are_writable_and_independent(tmp_path):
    out = roundtrip({"a": tl.zeros(3), "b": tl.zeros(3)}, tmp_path)
    out["a"][0] = 5.0
    assert host(out["b"]).tolist() == [0.0, 0.0, 0.0] and host(out["a"])[0] == 5.0


def test_numpy_values_round_trip_as_numpy(tmp_path):
    obj = {"arr": np.arange(6, dtype=np.uint8).reshape(2, 3), "s": np.float32(2.5),
           "i": np.int64(-4), "b": np.bool_(True), "c": np.array([1 + 2j])}
    assert_same(roundtrip(obj, tmp_path), obj)


def test_file_objects_and_determinism(tmp_path):
    obj = collections.OrderedDict(w=tl.tensor([[1.0, 2.0]]), n=3)
    buf = io.BytesIO()
    tl.save(obj, buf)
    buf.seek(0)
    assert_same(tl.load(buf), obj)
    tl.save(obj, tmp_path / "a")
    tl.save(obj, tmp_path / "b")
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes() == buf.getvalue()
    tl.save(obj, str(tmp_path / "c"))  # str paths too
    assert_same(tl.load(str(tmp_path / "c")), obj)


def test_load_puts_tensors_on_the_requested_device(backend, tmp_path):
    """Saved from the backend's device; loaded to the default device, 'cpu' or a mapping."""
    t = tl.tensor([1.5, -0.0, math.nan], device=backend.device)
    path = tmp_path / "dev.tl"
    tl.save({"t": t, "k": tl.arange(3, device=backend.device)}, path)
    data = path.read_bytes()
    entries = json.loads(data[64:64 + struct.unpack_from("<Q", data, 16)[0]])
    assert {e["device"] for e in entries["tensors"]} == {backend.device}
    for kw, device in [({}, tl.backends.default_device()), ({"map_location": "cpu"}, "cpu"),
                       ({"map_location": {backend.device: "cpu"}}, "cpu"),
                       ({"map_location": {"other": "cpu"}}, backend.device),
                       ({"map_location": backend.device + ":0"}, backend.device)]:
        out = tl.load(path, **kw)
        assert out["t"].device == device and out["k"].device == device, kw
        same_array(host(out["t"]), host(t))
    with pytest.raises(ValueError, match="unknown device"):
        tl.load(path, map_location="tpu")


# -- the format, written independently from its documentation ------------------------------------
def craft(path, header, payload=b"", version=1, flags=0, pad_byte=b"\0"):
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    prefix = MAGIC + struct.pack("<IIQQ", version, flags, len(raw), len(payload))
    body = raw + pad_byte * ((-len(raw)) % 64) + payload
    path.write_bytes(prefix + hashlib.sha256(prefix + body).digest() + body)
    return path


def entry(dtype="float32", shape=(2,), offset=0, kind="tensor", device="cpu",
          requires_grad=False, nbytes=None):
    n = math.prod(shape) * np.dtype(dtype).itemsize if nbytes is None else nbytes
    return {"kind": kind, "dtype": dtype, "shape": list(shape), "offset": offset, "nbytes": n,
            "device": device, "requires_grad": requires_grad}


def header(root, tensors=()):
    return {"format": "tensorlite.checkpoint", "root": root, "tensors": list(tensors)}


def test_documented_format_loads(tmp_path):
    payload = np.array([1.0, -2.0], "<f4").tobytes() + bytes(56) + np.array([7], "<i8").tobytes()
    path = craft(tmp_path / "hand.tl", header(
        {"odict": [["w", {"tensor": 0}], [3, [{"float": struct.pack(">d", 0.5).hex()},
                                               {"tuple": [None, True, "s"]}]],
                   ["n", {"ndarray": 1}]]},
        [entry(), entry("int64", (1,), offset=64, kind="ndarray")]), payload)
    out = tl.load(path)
    assert type(out) is collections.OrderedDict and list(out) == ["w", 3, "n"]
    assert host(out["w"]).tolist() == [1.0, -2.0] and out[3] == [0.5, (None, True, "s")]
    assert isinstance(out["n"], np.ndarray) and out["n"].tolist() == [7]
    # and what save writes is that format
    tl.save(out, tmp_path / "again.tl")
    data = (tmp_path / "again.tl").read_bytes()
    assert data[:8] == MAGIC and struct.unpack_from("<II", data, 8) == (1, 0)
    assert hashlib.sha256(data[:32] + data[64:]).digest() == data[32:64]


# -- corrupt and foreign files -------------------------------------------------------------------
@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.tl"
    tl.save({"w": tl.tensor(np.arange(6, dtype=np.float32).reshape(2, 3)), "step": 4,
             "b": tl.tensor([True, False]), "lr": 0.01}, path)
    return path, path.read_bytes()


def load_error(path, match=None):
    with pytest.raises(CheckpointError) as info:
        tl.load(path)
    assert str(path) in str(info.value) and info.value.path == str(path)
    if match:
        assert match in info.value.reason, info.value.reason
    return info.value


def test_every_truncation_is_detected(good, tmp_path):
    path, data = good
    hlen = struct.unpack_from("<Q", data, 16)[0]
    cuts = {0, 1, 7, 8, 12, 31, 32, 63, 64, 65, 64 + hlen // 2, 64 + hlen, len(data) - 25,
            len(data) - 1}
    for cut in sorted(cuts):
        bad = tmp_path / f"cut{cut}.tl"
        bad.write_bytes(data[:cut])
        err = load_error(bad, "the file is empty" if cut == 0 else "truncated")
        assert isinstance(err, Exception)
    bad = tmp_path / "longer.tl"
    bad.write_bytes(data + b"\0")
    load_error(bad, "trailing data")


def test_every_flipped_byte_is_detected(good, tmp_path):
    path, data = good
    hlen = struct.unpack_from("<Q", data, 16)[0]
    assert data[64 + hlen:64 + hlen + 1] == b"\0"  # there is header padding to flip too
    bad = tmp_path / "flipped.tl"
    reasons = collections.Counter()
    for pos in range(len(data)):
        for mask in (0x01, 0x80):
            corrupt = bytearray(data)
            corrupt[pos] ^= mask
            bad.write_bytes(bytes(corrupt))
            reasons[load_error(bad).reason.split(":")[0]] += 1
    assert reasons["checksum mismatch"] > len(data)  # header and payload flips: the checksum


def test_flips_in_header_and_payload_say_checksum(good, tmp_path):
    path, data = good
    for pos in (70, len(data) - 3):  # inside the JSON header, inside the last tensor
        corrupt = bytearray(data)
        corrupt[pos] ^= 0x20
        bad = tmp_path / f"flip{pos}.tl"
        bad.write_bytes(bytes(corrupt))
        load_error(bad, "checksum mismatch")


class Boom:
    def __reduce__(self):
        return (builtins.exec, ("import os; os.environ['TL_PWNED'] = '1'",))


def test_foreign_files(tmp_path):
    p = tmp_path / "model.pkl"
    p.write_bytes(pickle.dumps({"w": [1.0, 2.0], "boom": Boom()}))
    load_error(p, "pickle")
    assert "TL_PWNED" not in os.environ
    p = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, p)
    load_error(p, "zip archive")
    p = tmp_path / "notes.txt"
    p.write_text("hello, this is not a checkpoint\n" * 4)
    load_error(p, "text file")
    p = tmp_path / "arr.npy"
    np.save(p, np.zeros(3))
    load_error(p, "numpy")
    p = tmp_path / "noise.bin"
    p.write_bytes(bytes(np.random.default_rng(0).integers(128, 256, 100, dtype=np.uint8)))
    load_error(p, "magic")
    p = tmp_path / "empty.tl"
    p.write_bytes(b"")
    load_error(p, "empty")
    p = tmp_path / "short.tl"
    p.write_bytes(MAGIC[:5])
    load_error(p, "truncated")


def test_newer_version_and_bad_flags(tmp_path):
    load_error(craft(tmp_path / "v2.tl", header(None), version=2), "version 2")
    load_error(craft(tmp_path / "f.tl", header(None), flags=4), "flags")
    assert tl.load(craft(tmp_path / "ok.tl", header(None))) is None


DEEP = [1]
for _ in range(200):
    DEEP = [DEEP, "x"]


@pytest.mark.parametrize("hdr,payload,reason", [
    (b"{not json", b"", "malformed header"),
    (b"\xff\xfe", b"", "malformed header"),
    (b"[1, 2]", b"", "not a tensorlite checkpoint header"),
    (json.dumps({"format": "other", "root": None, "tensors": []}).encode(), b"", "header"),
    (header({"__reduce__": ["os.system", "echo pwned"]}), b"", "unknown node"),
    (header({"class": "os.system"}), b"", "unknown node"),
    (header({"float": 1.5}), b"", "bad float"),
    (header({"dict": [[[1], 2]]}), b"", "unexpected key"),
    (header({"dict": [["a", 1], ["a", 2]]}), b"", "duplicate key"),
    (header({"dict": [[{"tensor": 0}, 1]]}, [entry()]), bytes(8), "as a dict key"),
    (header({"tensor": 1}, [entry()]), bytes(8), "out of range"),
    (header({"ndarray": 0}, [entry()]), bytes(8), "refers to a tensor entry"),
    (header({"tensor": 0}, [entry(dtype="object")]), bytes(8), "unsupported dtype"),
    (header({"tensor": 0}, [entry(dtype="uint16", shape=(4,))]), bytes(8), "unsupported dtype"),
    (header({"tensor": 0}, [entry(nbytes=4)]), bytes(8), "need 8"),
    (header({"tensor": 0}, [entry(offset=4)]), bytes(8), "offset"),
    (header({"tensor": 0}, [entry(shape=(-1,), nbytes=-4)]), bytes(8), "invalid shape"),
    (header({"tensor": 0}, [entry(dtype="int64", shape=(1,), requires_grad=True)]), bytes(8),
     "requires grad"),
    (header({"tensor": 0}, [dict(entry(), code="print(1)")]), bytes(8), "exactly the keys"),
    (header(DEEP), b"", None),
])
def test_crafted_headers_with_valid_checksums(tmp_path, hdr, payload, reason):
    path = craft(tmp_path / "crafted.tl", hdr, payload)
    if reason is None:  # deep but valid nesting loads
        assert tl.load(path) == DEEP
        return
    load_error(path, reason)


def test_non_zero_header_padding(tmp_path):
    assert len(json.dumps(header(1))) % 64  # there is padding
    load_error(craft(tmp_path / "pad.tl", json.dumps(header(1)).encode(), pad_byte=b" "), "padding")


def test_deeply_nested_header_is_an_error_not_a_crash(tmp_path):
    deep = b"[" * 100000 + b"]" * 100000
    load_error(craft(tmp_path / "deep.tl", b'{"format":"tensorlite.checkpoint","tensors":[],'
                     b'"root":' + deep + b"}"), "malformed header")


def test_loading_never_runs_code(tmp_path, good, monkeypatch):
    """Neither a valid checkpoint nor a crafted or foreign file makes load unpickle, eval or
    import anything."""
    path, _ = good
    crafted = craft(tmp_path / "crafted.tl",
                    header({"pickle": base64.b64encode(pickle.dumps(Boom())).decode()}))
    pkl = tmp_path / "x.pkl"
    pkl.write_bytes(pickle.dumps(Boom()))
    calls = []

    def forbidden(name):
        def f(*a, **k):
            calls.append(name)
            raise AssertionError(f"load called {name}")
        return f

    real_import = builtins.__import__

    def guarded_import(name, *a, **k):
        calls.append(f"import {name}")
        return real_import(name, *a, **k)

    for mod, attr in [(pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"),
                      (builtins, "eval"), (builtins, "exec"), (builtins, "compile"),
                      (importlib, "import_module"), (torch, "load")]:
        monkeypatch.setattr(mod, attr, forbidden(f"{mod.__name__}.{attr}"))
    monkeypatch.setattr(builtins, "__import__", guarded_import)
    try:
        out = tl.load(path)
        for bad in (crafted, pkl):
            with pytest.raises(CheckpointError):
                tl.load(bad)
    finally:
        monkeypatch.undo()
    assert calls == []
    assert host(out["w"]).tolist() == [[0, 1, 2], [3, 4, 5]]
    assert "TL_PWNED" not in os.environ
    source = open(serialization.__file__).read()
    for word in ("import pickle", "eval(", "exec(", "__import__", "importlib", "marshal"):
        assert word not in source


# -- atomic writes -------------------------------------------------------------------------------
def test_save_leaves_only_the_target(tmp_path):
    tl.save({"a": tl.ones(3)}, tmp_path / "m.tl")
    tl.save({"a": tl.zeros(3)}, tmp_path / "m.tl")  # overwrite
    assert os.listdir(tmp_path) == ["m.tl"]
    assert host(tl.load(tmp_path / "m.tl")["a"]).tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("fail_at", ["replace", "fsync", "write"])
def test_failed_save_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch, fail_at):
    target = tmp_path / "m.tl"
    tl.save({"v": 1}, target)
    before = target.read_bytes()

    def boom(*a, **k):
        raise OSError(f"disk full ({fail_at})")

    if fail_at == "write":
        real_fdopen = os.fdopen

        class Failing(io.RawIOBase):
            def __init__(self, f):
                self.f = f
                self.n = 0

            def write(self, b):
                self.n += 1
                if self.n == 3:
                    raise OSError("disk full (write)")
                return self.f.write(b)

            def __getattr__(self, name):
                return getattr(self.f, name)

            def __exit__(self, *a):
                self.f.close()

        monkeypatch.setattr(serialization.os, "fdopen",
                            lambda *a, **k: Failing(real_fdopen(*a, **k)))
    else:
        monkeypatch.setattr(serialization.os, fail_at, boom)
    with pytest.raises(OSError, match="disk full"):
        tl.save({"v": tl.arange(100)}, target)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["m.tl"] and target.read_bytes() == before


def test_unsavable_objects_raise_before_touching_the_file(tmp_path):
    target = tmp_path / "m.tl"
    rec = [1]
    rec.append(rec)
    cases = [({"a": [1, object()]}, TypeError, r"obj\['a'\]\[1\] is a builtins.object"),
             (collections.defaultdict(list), TypeError, "defaultdict"),
             ({(1, frozenset([2])): 3}, TypeError, "key of type frozenset"),
             ({tl.ones(1): 3}, TypeError, "key of type Tensor"),
             ({"r": rec}, ValueError, "contains itself"),
             ({"o": np.array(["x"])}, TypeError, "numpy array of dtype <U1"),
             ({"b": b"bytes"}, TypeError, "builtins.bytes")]
    for obj, exc, match in cases:
        with pytest.raises(exc, match=match):
            tl.save(obj, target)
    assert os.listdir(tmp_path) == []


def test_checkpoint_error_type():
    assert issubclass(CheckpointError, Exception)
    err = CheckpointError("/x/y.tl", "the file is empty (0 bytes)")
    assert "/x/y.tl" in str(err) and "empty" in str(err)
