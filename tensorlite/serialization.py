"""Checkpoints: ``tensorlite.save(obj, f)`` / ``tensorlite.load(f, map_location=None)``.

What can be saved: tensors, NumPy arrays and NumPy numeric scalars, ``None``, bools, ints,
floats, strings, and lists, tuples, dicts and OrderedDicts of those, nested to any depth (dict
keys: strings, numbers, bools, None or tuples of them).  That covers module and optimizer state
dicts.  Sets, and whole ``nn.Module`` objects (``save(model, f)``, as PyTorch programs do: the
class by name and its attributes; parameters stay ``Parameter``s and shared modules and tied
weights stay shared) are saved too; a module class outside tensorlite loads only when the caller
allows it (``safe_globals([cls])``, ``add_safe_globals``), so loading still runs no code that
the file names.  Everything round-trips exactly: dtypes, shapes and bits of every value (NaN payloads,
-0.0, inf), dict key order and key types, tuple vs list, OrderedDict vs dict, a tensor's
``requires_grad``, and tensors that appear several times in ``obj`` (loaded as one tensor).
An ``nn.Parameter`` loads as a Parameter; another tensor subclass as a plain Tensor.

The format loads no code (no pickle, no eval, no imports): a file is

    offset  size
    0       8    magic  b"\\x89TLITE\\r\\n"
    8       4    format version, uint32 little-endian (1)
    12      4    flags, uint32 (0)
    16      8    H: header length in bytes, uint64
    24      8    P: payload length in bytes, uint64
    32      32   SHA-256 of bytes [0, 32) followed by bytes [64, end of file)
    64      H    header: ASCII JSON, zero-padded to a multiple of 64 bytes
    ...     P    payload: each array's raw little-endian C-order bytes, at 64-byte aligned
                 offsets (relative to the payload start)

The header is ``{"format": "tensorlite.checkpoint", "root": NODE, "tensors": [ENTRY, ...]}``.
A NODE is JSON null/true/false/integer/string for the Python value itself, a JSON array for a
list, or an object with exactly one key: ``{"float": "<16 hex digits: IEEE-754 binary64 bits,
big-endian>"}``, ``{"tuple": [NODE...]}``, ``{"dict": [[KEY, NODE]...]}``, ``{"odict": ...}``
(OrderedDict), ``{"tensor": i}``, ``{"ndarray": i}`` or ``{"scalar": i}`` (i indexes
"tensors").  An ENTRY is ``{"kind", "dtype", "shape", "offset", "nbytes", "device",
"requires_grad"}``.

A file that is empty, truncated, extended, corrupt anywhere (the checksum covers every byte but
the checksum itself, whose change is a mismatch too), of a newer version, or of another format
(a pickle, a PyTorch zip, text) raises ``CheckpointError`` naming the file and the problem.
``save`` writes a temporary file in the target's directory and renames it over the target, so
a crash never leaves a half-written checkpoint under the real name.  The temporary is named
``.<name>.<pid>.<8 hex digits>.tmp``; a writer killed mid-save leaves its temporary behind, and
the next save to the same target removes such leftovers of that target whose writer process is
gone (POSIX only; a live writer's temporary, or one written in the last minute, is left alone, so
a save in progress on another host sharing the directory is not broken).  CUDA tensors are saved
from a host copy; ``load`` puts tensors on the default device, or on ``map_location`` ("cpu",
"cuda", or a dict from saved device to target device, as in PyTorch).
"""
from __future__ import annotations

import collections
import hashlib
import json
import math
import os
import re
import secrets
import struct
import sys
import time
import types
from typing import IO, Any, NoReturn, Union

import numpy as np

from . import backends, dtypes
from .tensor import Tensor, wrap

MAGIC = b"\x89TLITE\r\n"
VERSION = 1
FORMAT = "tensorlite.checkpoint"
_PREFIX = struct.Struct("<8sIIQQ")  # magic, version, flags, header length, payload length
_FIXED = 64                          # the prefix plus the 32-byte SHA-256
_ALIGN = 64
_CHUNK = 1 << 22

# dtypes a tensor can have, and the further ones a saved NumPy array or scalar may have
_TENSOR_DTYPES = {str(d): d for d in dtypes.ALL}
_ARRAY_DTYPES = dict(_TENSOR_DTYPES, **{n: np.dtype(n) for n in (
    "int8", "int16", "uint8", "uint16", "uint32", "uint64", "complex64", "complex128")})
_KINDS = ("tensor", "ndarray", "scalar")
_ENTRY_KEYS = {"kind", "dtype", "shape", "offset", "nbytes", "device", "requires_grad"}

# What save and load take for ``f``: a path or a binary file object
FileLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]", IO[bytes]]
# load's map_location: None, a device ("cpu", "cuda") or {saved device: target device}
MapLocation = Union[None, str, "dict[str, str]"]


class CheckpointError(Exception):
    """A file that is not a valid tensorlite checkpoint; ``path`` names it and ``reason`` says
    what is wrong."""

    def __init__(self, path: str | None, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"cannot load checkpoint {path!r}: {reason}")


def _align(n: int) -> int:
    return -(-n // _ALIGN) * _ALIGN


# -- save ------------------------------------------------------------------------------------------
class _Encoder:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self.arrays: list[tuple[int, np.ndarray]] = []
        self.seen: dict[int, tuple[object, int]] = {}
        self.offset = 0
        self.stack: set[int] = set()
        self.objects: dict[int, tuple[object, int]] = {}  # modules saved so far, by id

    def array(self, kind: str, host: np.ndarray, obj: object, device: str = "cpu",
              requires_grad: bool = False) -> dict[str, int]:
        key = id(obj)
        if key in self.seen:  # the same object twice: stored once, loaded as one object
            return {kind: self.seen[key][1]}
        arr = host if host.flags.c_contiguous else host.copy(order="C")
        if arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and sys.byteorder == "big"):
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        start = _align(self.offset)
        self.entries.append({"kind": kind, "dtype": str(arr.dtype.newbyteorder("=")),
                             "shape": list(arr.shape), "offset": start, "nbytes": arr.nbytes,
                             "device": device, "requires_grad": bool(requires_grad)})
        self.arrays.append((start, arr.reshape(-1).view(np.uint8)))
        self.offset = start + arr.nbytes
        self.seen[key] = (obj, len(self.entries) - 1)  # keeps obj alive: its id stays unique
        return {kind: len(self.entries) - 1}

    def encode(self, obj: Any, where: str) -> Any:
        t = type(obj)
        if obj is None or t is bool or t is str:
            return obj
        if t is int:
            return obj
        if t is float:
            return {"float": struct.pack(">d", obj).hex()}
        if isinstance(obj, Tensor):
            host = obj.backend.to_host(obj._data)
            node = self.array("tensor", host, obj, obj.device, obj.requires_grad)
            return {"parameter": node} if _is_parameter(obj) else node
        if t is np.ndarray:
            if str(obj.dtype.newbyteorder("=")) not in _ARRAY_DTYPES:
                raise TypeError(f"save: {where} is a numpy array of dtype {obj.dtype}, which "
                                f"cannot be saved; supported: {', '.join(_ARRAY_DTYPES)}")
            return self.array("ndarray", obj, obj)
        if isinstance(obj, np.generic) and str(obj.dtype) in _ARRAY_DTYPES:
            return self.array("scalar", np.asarray(obj), obj)
        if t in (list, tuple, dict, collections.OrderedDict):
            if id(obj) in self.stack:
                raise ValueError(f"save: {where} contains itself; cannot save a recursive "
                                 "structure")
            self.stack.add(id(obj))
            try:
                if t is list:
                    return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]
                if t is tuple:
                    return {"tuple": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]}
                return {"dict" if t is dict else "odict":
                        [[self.key(k, where), self.encode(v, f"{where}[{k!r}]")]
                         for k, v in obj.items()]}
            finally:
                self.stack.discard(id(obj))
        if t is set or t is frozenset:
            return {t.__name__: [self.encode(v, f"{where} item") for v in obj]}
        if _is_module(obj):  # a whole model: its class by name and its attributes
            if id(obj) in self.stack:
                raise ValueError(f"save: {where} contains itself; cannot save a recursive "
                                 "structure")
            if id(obj) in self.objects:  # a module shared by two parents: one object
                return {"ref": self.objects[id(obj)][1]}
            self.objects[id(obj)] = (obj, len(self.objects))
            self.stack.add(id(obj))
            try:
                return {"object": [_name_of(t, where), len(self.objects) - 1,
                                   self.encode(dict(vars(obj)), f"{where}.__dict__")]}
            finally:
                self.stack.discard(id(obj))
        if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, type)):
            return {"global": _name_of(obj, where)}
        raise TypeError(
            f"save: {where} is a {t.__module__}.{t.__qualname__}, which a checkpoint cannot "
            "hold; supported: tensors, numpy arrays and numeric scalars, None, bool, int, float, "
            "str, and list, tuple, dict and OrderedDict of those (convert it first, e.g. a "
            "defaultdict with dict(...))")

    def key(self, k: Any, where: str) -> Any:
        t = type(k)
        if k is None or t in (bool, int, float, str):
            return self.encode(k, where)
        if t is tuple:
            return {"tuple": [self.key(v, where) for v in k]}
        raise TypeError(f"save: {where} has a key of type {t.__name__} ({k!r}); dict keys must "
                        "be str, int, float, bool, None or tuples of them")


def _serialize(obj: object) -> list[Any]:
    """The file's pieces (bytes-like objects, in order)."""
    enc = _Encoder()
    try:
        root = enc.encode(obj, "obj")
    except RecursionError:
        raise ValueError("save: obj is nested too deeply to save") from None
    header = json.dumps({"format": FORMAT, "root": root, "tensors": enc.entries},
                        separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("ascii")
    pieces: list[Any] = [None, bytes(32), header, bytes(_align(len(header)) - len(header))]
    end = 0
    for start, data in enc.arrays:
        if start > end:
            pieces.append(bytes(start - end))
        pieces.append(data)
        end = start + data.nbytes
    pieces[0] = _PREFIX.pack(MAGIC, VERSION, 0, len(header), end)
    digest = hashlib.sha256(pieces[0])
    for p in pieces[2:]:
        digest.update(p)
    pieces[1] = digest.digest()
    return pieces


def save(obj: object, f: FileLike) -> None:
    """Save ``obj`` (a state dict, an optimizer state dict, or nested containers of tensors and
    plain values) to ``f``, a path or a binary file object.  A path is written atomically
    (temporary file in the same directory, fsync, rename)."""
    pieces = _serialize(obj)
    if not isinstance(f, (str, bytes, os.PathLike)):
        if not hasattr(f, "write"):
            raise TypeError(f"save: f must be a path or a binary file object, got "
                            f"{type(f).__name__}")
        for p in pieces:
            f.write(p)
        return
    path = os.fsdecode(f)
    directory, base = os.path.split(os.path.abspath(path))
    _remove_stale_temporaries(directory, base)
    tmp = os.path.join(directory, f".{base}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            for p in pieces:
                out.write(p)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable (best effort: not every platform can open a dir)
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


_STALE_AFTER_S = 60  # a temporary this recently written may belong to a writer on another host


def _writer_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # this process: maybe another thread's save in progress
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # PermissionError: it exists, under another user;
        return True                     # anything else (a pid out of range): unsure, keep it
    return True


def _remove_stale_temporaries(directory: str, base: str) -> None:
    """Remove ``.<base>.<pid>.<hex>.tmp`` files that a save of this same target left behind when
    its process died mid-write; leave every other file, and a live writer's temporary, alone."""
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return
    pattern = re.compile(r"\." + re.escape(base) + r"\.([0-9]+)\.[0-9a-f]{8}\.tmp\Z")
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    now = time.time()
    for entry in entries:
        m = pattern.match(entry.name)
        if m is None:
            continue
        try:
            if not entry.is_file(follow_symlinks=False) or \
                    now - entry.stat(follow_symlinks=False).st_mtime < _STALE_AFTER_S or \
                    _writer_alive(int(m.group(1))):
                continue
            os.unlink(entry.path)
        except OSError:  # gone already (another save cleaned it), or not ours to remove
            pass


# -- load ------------------------------------------------------------------------------------------
def _sniff(head: bytes) -> str:
    """What a foreign file looks like, from its first bytes."""
    if head[:1] == b"\x80":
        return ("it looks like a Python pickle (e.g. written by torch.save or pickle.dump); "
                "tensorlite never unpickles, since unpickling can run arbitrary code: load it "
                "with torch, convert the tensors to tensorlite and save them with "
                "tensorlite.save")
    if head[:4] == b"PK\x03\x04":
        return ("it is a zip archive (a PyTorch checkpoint is one); tensorlite does not read "
                "those: load it with torch, convert the tensors and save them with "
                "tensorlite.save")
    if head[:6] == b"\x93NUMPY":
        return "it is a NumPy .npy file; read it with numpy.load"
    if head[:4] == b"\x89HDF":
        return "it is an HDF5 file"
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return "it looks like a text file"
    return "it does not start with the tensorlite checkpoint magic bytes"


def _open(f: FileLike) -> tuple[Any, str, bool]:
    if isinstance(f, (str, bytes, os.PathLike)):
        path = os.fsdecode(f)
        return open(path, "rb"), path, True
    if not hasattr(f, "read"):
        raise TypeError(f"load: f must be a path or a binary file object, got {type(f).__name__}")
    return f, getattr(f, "name", None) or f"<{type(f).__name__}>", False


def _file_size(fh: Any) -> int:
    try:
        return os.fstat(fh.fileno()).st_size - fh.tell()
    except (AttributeError, OSError, ValueError):
        here = fh.tell()
        end = fh.seek(0, os.SEEK_END)
        fh.seek(here)
        return end - here


class _Reader:
    def __init__(self, fh: Any, name: str) -> None:
        self.fh, self.name = fh, name

    def fail(self, reason: str) -> NoReturn:
        raise CheckpointError(self.name, reason)

    def read(self, n: int, what: str) -> bytes:
        data = self.fh.read(n)
        if len(data) != n:
            self.fail(f"the file is truncated (it ended while reading {what})")
        return data


def _check_entries(r: _Reader, header: dict[str, Any], payload_len: int) -> list[Any]:
    """Validate the tensor table; returns entries sorted by offset."""
    table = header["tensors"]
    if not isinstance(table, list):
        r.fail("malformed header: 'tensors' is not a list")
    end = 0
    for i, e in enumerate(table):
        what = f"malformed header: tensors[{i}]"
        if not isinstance(e, dict) or set(e) != _ENTRY_KEYS:
            r.fail(f"{what} does not have exactly the keys {sorted(_ENTRY_KEYS)}")
        kind, shape = e["kind"], e["shape"]
        if kind not in _KINDS:
            r.fail(f"{what} has unknown kind {kind!r}")
        table_ = _TENSOR_DTYPES if kind == "tensor" else _ARRAY_DTYPES
        if not isinstance(e["dtype"], str) or e["dtype"] not in table_:
            r.fail(f"{what} has unsupported dtype {e['dtype']!r}")
        if not isinstance(shape, list) or not all(type(n) is int and 0 <= n < 1 << 62
                                                  for n in shape) or len(shape) > 64:
            r.fail(f"{what} has an invalid shape {shape!r}")
        if kind == "scalar" and shape:
            r.fail(f"{what} is a scalar with shape {shape}")
        nbytes = math.prod(shape) * table_[e["dtype"]].itemsize
        offset = e["offset"]
        if type(e["nbytes"]) is not int or e["nbytes"] != nbytes:
            r.fail(f"{what} declares {e['nbytes']!r} bytes but dtype {e['dtype']} and shape "
                   f"{shape} need {nbytes}")
        if type(offset) is not int or offset < end or offset + nbytes > payload_len:
            r.fail(f"{what} has offset {offset!r}, outside the payload or overlapping the "
                   "previous array")
        end = offset + nbytes
        if e["device"] not in ("cpu", "cuda") or type(e["requires_grad"]) is not bool:
            r.fail(f"{what} has an invalid device or requires_grad")
        if e["requires_grad"] and (kind != "tensor" or dtypes.kind(table_[e["dtype"]]) < 2):
            r.fail(f"{what} requires grad but is not a floating point tensor")
    return table


def _target(map_location: MapLocation, saved: str) -> str:
    if map_location is None:
        return backends.default_device()
    if isinstance(map_location, dict):
        target = map_location.get(saved, saved)
    elif isinstance(map_location, str):
        target = map_location
    else:
        raise TypeError(f"load: map_location must be None, a device string ('cpu', 'cuda') or a "
                        f"dict from saved device to device, got {type(map_location).__name__}")
    device = str(target).split(":")[0]
    if device not in ("cpu", "cuda"):
        raise ValueError(f"load: unknown device {target!r} in map_location; use 'cpu' or 'cuda'")
    return device


class _Decoder:
    def __init__(self, r: _Reader, entries: list[Any], arrays: list[Any],
                 map_location: MapLocation) -> None:
        self.r, self.entries, self.arrays = r, entries, arrays
        self.map_location = map_location
        self.made: dict[int, Any] = {}
        self.parameters: dict[int, Any] = {}
        self.objects: dict[int, Any] = {}

    def fail(self, where: str, what: str) -> NoReturn:
        self.r.fail(f"malformed header: {what} at {where}")

    def item(self, kind: str, i: Any, where: str) -> Any:
        if type(i) is not int or not 0 <= i < len(self.entries):
            self.fail(where, f"{kind} index {i!r} out of range")
        e = self.entries[i]
        if e["kind"] != kind:
            self.fail(where, f"a {kind} node refers to a {e['kind']} entry")
        if i in self.made:
            return self.made[i]
        arr = self.arrays[i]
        out: Any
        if kind == "ndarray":
            out = arr
        elif kind == "scalar":
            out = arr[()]
        else:
            device = _target(self.map_location, e["device"])
            data = arr if device == "cpu" else backends.for_device(device).asarray(arr)
            out = wrap(data, device)
            if e["requires_grad"]:
                out.requires_grad = True
        self.made[i] = out
        return out

    def decode(self, node: Any, where: str, key: bool = False) -> Any:
        t = type(node)
        if node is None or t in (bool, int, str):
            return node
        if t is list and not key:
            return [self.decode(v, f"{where}[{i}]") for i, v in enumerate(node)]
        if t is not dict or len(node) != 1:
            self.fail(where, f"an unexpected {'key' if key else 'value'} {str(node)[:80]}")
        (tag, body), = node.items()
        if tag == "float":
            if type(body) is not str or len(body) != 16:
                self.fail(where, f"a bad float {body!r}")
            try:
                return struct.unpack(">d", bytes.fromhex(body))[0]
            except ValueError:
                self.fail(where, f"a bad float {body!r}")
        if tag == "tuple" and type(body) is list:
            return tuple(self.decode(v, f"{where}[{i}]", key) for i, v in enumerate(body))
        if key:
            self.fail(where, f"a {tag!r} node as a dict key")
        if tag in ("dict", "odict") and type(body) is list:
            out: dict[Any, Any] = {} if tag == "dict" else collections.OrderedDict()
            for pair in body:
                if type(pair) is not list or len(pair) != 2:
                    self.fail(where, "a dict item that is not a [key, value] pair")
                k = self.decode(pair[0], where, key=True)
                if k in out:
                    self.fail(where, f"the duplicate key {k!r}")
                out[k] = self.decode(pair[1], f"{where}[{k!r}]")
            return out
        if tag in _KINDS:
            return self.item(tag, body, where)
        if tag == "parameter" and type(body) is dict and "tensor" in body:
            i = body["tensor"]
            if i not in self.parameters:
                from .nn.module import Parameter
                t = self.item("tensor", i, where)
                self.parameters[i] = Parameter(t, requires_grad=t.requires_grad)
            return self.parameters[i]
        if tag in ("set", "frozenset") and type(body) is list:
            items = [self.decode(v, f"{where} item", key=True) for v in body]
            return set(items) if tag == "set" else frozenset(items)
        if tag == "global" and type(body) is str:
            return self.resolve(body, where)
        if tag == "ref" and body in self.objects:
            return self.objects[body]
        if tag == "object" and type(body) is list and len(body) == 3:
            name, index, state = body
            cls = self.resolve(name, where)
            if not (isinstance(cls, type) and _is_module_class(cls)) or index in self.objects:
                self.fail(where, f"an object of {name!r}, which is not a Module class")
            obj: Any = object.__new__(cls)  # (no __init__: its state follows)
            self.objects[index] = obj
            attrs = self.decode(state, f"{where}.__dict__")
            if type(attrs) is not dict:
                self.fail(where, "an object whose state is not a dict")
            obj.__dict__.update(attrs)
            return obj
        self.fail(where, f"an unknown node {tag!r}")

    def resolve(self, name: str, where: str) -> Any:
        """The class or function saved under ``name`` ("module:qualname"): one of tensorlite's
        own (found among the loaded modules: nothing is imported), or one the caller allowed
        (``safe_globals``, given the object itself).  ``weights_only=False`` allows no more:
        a checkpoint never makes tensorlite import or run code it names."""
        if name in _SAFE_GLOBALS:
            return _SAFE_GLOBALS[name]
        module, _, qualname = name.partition(":")
        if not (module == "tensorlite" or module.startswith("tensorlite.")):
            raise CheckpointError(
                self.r.name, f"it holds a {module}.{qualname} at {where}; allow that class "
                "first (tensorlite never imports what a file names): tensorlite.serialization."
                "add_safe_globals([cls]) or `with tensorlite.serialization.safe_globals([cls]):`")
        obj: Any = sys.modules.get(module)
        for part in qualname.split("."):
            obj = getattr(obj, part, None)
        if obj is None:
            raise CheckpointError(self.r.name, f"{module}.{qualname} (at {where}) does not "
                                  "exist in this tensorlite")
        return obj


def load(f: FileLike, map_location: MapLocation = None, weights_only: bool = True) -> Any:
    """Load what ``save`` wrote.  ``f`` is a path or a binary file object.  Tensors go to the
    default device, or to ``map_location`` ("cpu", "cuda", or a dict {saved: target}).
    ``weights_only`` is accepted for PyTorch compatibility: the format never holds code, so
    loading is always as safe as PyTorch's ``weights_only=True``.  Raises ``CheckpointError``
    for a file that is not an intact tensorlite checkpoint."""
    fh, name, owned = _open(f)
    try:
        return _load(_Reader(fh, name), map_location)
    finally:
        if owned:
            fh.close()


def _load(r: _Reader, map_location: MapLocation) -> Any:
    size = _file_size(r.fh)
    head = r.fh.read(_FIXED)
    if not head:
        r.fail("the file is empty (0 bytes)")
    if head[:len(MAGIC)] != MAGIC[:len(head)]:
        r.fail(f"not a tensorlite checkpoint: {_sniff(head)}")
    if len(head) < _FIXED:
        r.fail(f"the file is truncated: it has {size} bytes, less than the {_FIXED}-byte "
               "fixed header")
    magic, version, flags, hlen, plen = _PREFIX.unpack_from(head)
    if version != VERSION:
        r.fail(f"format version {version}, but this tensorlite reads version {VERSION}: "
               + ("it was written by a newer tensorlite (upgrade to load it), or its fixed "
                  "header is corrupt" if version > VERSION else "the file is corrupt"))
    if flags != 0:
        r.fail(f"unknown flags {flags:#x} in the fixed header (the file is corrupt)")
    expected = _FIXED + _align(hlen) + plen
    if expected != size:
        if expected > size:
            r.fail(f"the file is truncated (or its length fields are corrupt): its fixed header "
                   f"declares {expected} bytes, the file has {size}")
        r.fail(f"the file has {size} bytes, but its header declares {expected}: trailing data "
               "or a corrupt length field")
    digest = hashlib.sha256(head[:32])
    raw = r.read(_align(hlen), "the header")
    digest.update(raw)

    def verify() -> None:
        if digest.digest() != head[32:64]:
            r.fail("checksum mismatch: the contents do not match the SHA-256 stored in the "
                   "file, so it is corrupt (a flipped bit, a partial copy or an edit)")

    def rest_then_fail(reason: str) -> NoReturn:
        # a bad header: report corruption if the checksum says so
        left = plen
        while left:
            chunk = r.read(min(left, _CHUNK), "the payload")
            digest.update(chunk)
            left -= len(chunk)
        verify()
        r.fail(reason)

    try:
        header = json.loads(raw[:hlen].decode("ascii"), parse_constant=_no_constant)
        if not isinstance(header, dict) or set(header) != {"format", "root", "tensors"} \
                or header["format"] != FORMAT:
            raise ValueError("it is not a tensorlite checkpoint header")
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError and JSONDecodeError too
        rest_then_fail(f"malformed header: {e}")
    if any(raw[hlen:]):
        rest_then_fail("malformed header: non-zero padding")
    try:
        entries = _check_entries(r, header, plen)
    except CheckpointError as e:
        rest_then_fail(e.reason)

    arrays: list[Any] = [None] * len(entries)
    pos = 0
    for i in sorted(range(len(entries)), key=lambda i: entries[i]["offset"]):
        entry = entries[i]
        if entry["offset"] > pos:
            digest.update(r.read(entry["offset"] - pos, "the payload"))
        dtype = _ARRAY_DTYPES[entry["dtype"]].newbyteorder("<")
        arr = np.empty(entry["shape"], dtype=dtype)
        view = arr.reshape(-1).view(np.uint8)
        if r.fh.readinto(view) != entry["nbytes"]:
            r.fail(f"the file is truncated (it ended while reading tensors[{i}])")
        digest.update(view.data)
        arrays[i] = arr if sys.byteorder == "little" else arr.astype(dtype.newbyteorder("="))
        pos = entry["offset"] + entry["nbytes"]
    if plen > pos:
        digest.update(r.read(plen - pos, "the payload"))
    verify()
    try:
        return _Decoder(r, entries, arrays, map_location).decode(header["root"], "obj")
    except RecursionError:
        r.fail("malformed header: structure nested too deeply")


# -- whole modules: their class by name, allowlisted for loading ---------------------------------
_SAFE_GLOBALS: dict[str, Any] = {}


def _name_of(obj: Any, where: str) -> str:
    qualname = getattr(obj, "__qualname__", "")
    module = getattr(obj, "__module__", None)
    if not module or not qualname or "<" in qualname:
        raise TypeError(f"save: {where} is {obj!r}, which has no importable name (a lambda or "
                        "a local definition); a checkpoint can hold only module-level classes "
                        "and functions")
    return f"{module}:{qualname}"


def _is_module_class(cls: type) -> bool:
    from .nn.module import Module
    return issubclass(cls, Module)


def _is_module(obj: object) -> bool:
    return _is_module_class(type(obj))


def _is_parameter(t: Tensor) -> bool:
    from .nn.module import Parameter
    return isinstance(t, Parameter)


def add_safe_globals(safe_globals: list[Any]) -> None:
    """Allow ``load`` to rebuild objects of these classes (and to return these functions) from
    a checkpoint that ``save`` wrote from a whole model: PyTorch's
    ``torch.serialization.add_safe_globals``.  tensorlite's own classes need no allowing."""
    for obj in safe_globals:
        _SAFE_GLOBALS[_name_of(obj, "add_safe_globals")] = obj


def get_safe_globals() -> list[Any]:
    return list(_SAFE_GLOBALS.values())


def clear_safe_globals() -> None:
    _SAFE_GLOBALS.clear()


class safe_globals:
    """``with safe_globals([cls, ...]):`` allows them for the loads inside the block only."""

    def __init__(self, safe_globals: list[Any]) -> None:
        self.allowed = list(safe_globals)

    def __enter__(self) -> None:
        self.saved = dict(_SAFE_GLOBALS)
        add_safe_globals(self.allowed)

    def __exit__(self, *exc: object) -> None:
        _SAFE_GLOBALS.clear()
        _SAFE_GLOBALS.update(self.saved)


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"unexpected constant {name} in the header")
