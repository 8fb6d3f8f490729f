"""The ``nccl`` process group: ``cupy.cuda.nccl`` collectives on device arrays, in place.

One GPU per process: the process uses device ``LOCAL_RANK`` (or ``device_id``), rank 0 makes
the NCCL unique id and MPI (the launcher's COMM_WORLD) carries it to the other ranks, so an
NCCL job is launched exactly like an MPI one.  Collectives run on a dedicated CUDA stream that
first waits for the current stream (the tensors' producers); ``Work.wait()`` blocks the host on
an event recorded after the collective.  Host tensors are staged through the device.

UNVERIFIED: written against cupy's documented NcclCommunicator API (allReduce, broadcast,
reduce, allGather, reduceScatter, send/recv with groupStart/groupEnd) but never run; the
machine this was written on has no GPU.  The mpi backend is the tested one.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ..tensor import Tensor, wrap

# ReduceOp value -> nccl op name (bool tensors travel as uint8: SUM/MAX = or, PRODUCT/MIN = and)
_OPS = {0: "NCCL_SUM", 1: "NCCL_SUM", 2: "NCCL_PROD", 3: "NCCL_MIN", 4: "NCCL_MAX"}
_BOOL_OPS = {0: "NCCL_MAX", 2: "NCCL_MIN", 3: "NCCL_MIN", 4: "NCCL_MAX"}
_TYPES = {"float16": "NCCL_FLOAT16", "float32": "NCCL_FLOAT32", "float64": "NCCL_FLOAT64",
          "int8": "NCCL_INT8", "uint8": "NCCL_UINT8", "int32": "NCCL_INT32",
          "int64": "NCCL_INT64", "bool": "NCCL_UINT8", "bfloat16": "NCCL_BFLOAT16"}


class _Event:
    """The transport of an NCCL Work: an event recorded after the collective."""

    def __init__(self, event: Any) -> None:
        self.event = event

    def test(self) -> bool:
        return bool(self.event.done)

    def wait(self) -> None:
        self.event.synchronize()


class NCCLGroup:
    backend = "nccl"

    def __init__(self, world: Any, device_id: Any = None) -> None:
        import cupy
        from cupy.cuda import nccl
        self.cupy, self.nccl, self.world = cupy, nccl, world
        self.rank, self.size, self.ranks = world.rank, world.size, world.ranks
        if device_id is None:
            device_id = int(os.environ.get("LOCAL_RANK", world.rank % max(
                cupy.cuda.runtime.getDeviceCount(), 1)))
        index = device_id if isinstance(device_id, int) else int(str(device_id).split(":")[-1])
        cupy.cuda.Device(index).use()
        uid = nccl.get_unique_id() if self.rank == 0 else None
        uid = world.bcast_object(uid, 0)
        self.comm = nccl.NcclCommunicator(self.size, uid, self.rank)
        self.stream = cupy.cuda.Stream(non_blocking=True)

    # -- helpers --------------------------------------------------------------------------------
    def stage(self, t: Tensor, reduction: bool) -> Tensor:
        from ..autograd.grad_mode import no_grad
        data = t._data
        if t.device == "cuda" and data.flags.c_contiguous:
            return t
        with no_grad():
            staged = t.detach().to("cuda")
            if staged is t or not staged._data.flags.c_contiguous:
                staged = wrap(self.cupy.ascontiguousarray(staged._data).copy(), "cuda")
            return staged

    def empty(self, shape: Sequence[int], like: Tensor) -> Tensor:
        return wrap(self.cupy.empty(tuple(shape), dtype=like.dtype), "cuda")

    def _args(self, t: Tensor) -> tuple[int, int, int]:
        data = t._data
        name = "bfloat16" if data.dtype.kind == "V" else data.dtype.name
        if name not in _TYPES:
            raise RuntimeError(f"nccl: dtype {t.dtype} is not supported by NCCL")
        return data.data.ptr, data.size, getattr(self.nccl, _TYPES[name])

    def _op(self, op: int, t: Tensor) -> int:
        table = _BOOL_OPS if t.dtype.name == "bool" else _OPS
        if op not in table:
            raise RuntimeError(f"nccl: ReduceOp {op} is not supported by NCCL (SUM, PRODUCT, "
                               f"MIN, MAX)")
        return int(getattr(self.nccl, table[op]))

    def _launch(self) -> tuple[int, Any]:
        current = self.cupy.cuda.get_current_stream()
        self.stream.wait_event(current.record())  # after the tensors' producers
        return self.stream.ptr, None

    def _after(self) -> _Event:
        return _Event(self.stream.record())

    # -- collectives ----------------------------------------------------------------------------
    def allreduce(self, t: Tensor, op: int, what: str) -> _Event:
        ptr, n, dtype = self._args(t)
        stream, _ = self._launch()
        self.comm.allReduce(ptr, ptr, n, dtype, self._op(op, t), stream)
        return self._after()

    def reduce(self, t: Tensor, dst: int, op: int, what: str) -> _Event:
        ptr, n, dtype = self._args(t)
        stream, _ = self._launch()
        self.comm.reduce(ptr, ptr, n, dtype, self._op(op, t), dst, stream)
        return self._after()

    def broadcast(self, t: Tensor, src: int, what: str) -> _Event:
        ptr, n, dtype = self._args(t)
        stream, _ = self._launch()
        self.comm.broadcast(ptr, ptr, n, dtype, src, stream)
        return self._after()

    def allgather(self, out: Tensor, t: Tensor, what: str) -> _Event:
        src, n, dtype = self._args(t)
        dst, _, _ = self._args(out)
        stream, _ = self._launch()
        self.comm.allGather(src, dst, n, dtype, stream)
        return self._after()

    def reduce_scatter(self, out: Tensor, t: Tensor, op: int, what: str) -> _Event:
        src, _, dtype = self._args(t)
        dst, n, _ = self._args(out)
        stream, _ = self._launch()
        self.comm.reduceScatter(src, dst, n, dtype, self._op(op, t), stream)
        return self._after()

    def gather(self, out: Tensor | None, t: Tensor, dst: int, what: str) -> _Event:
        src, n, dtype = self._args(t)
        stream, _ = self._launch()
        item = t._data.itemsize
        self.nccl.groupStart()
        if self.rank == dst:
            assert out is not None
            base = out._data.data.ptr
            for r in range(self.size):
                if r == self.rank:
                    self.cupy.cuda.runtime.memcpyAsync(base + r * n * item, src, n * item,
                                                       3, stream)  # device to device
                else:
                    self.comm.recv(base + r * n * item, n, dtype, r, stream)
        else:
            self.comm.send(src, n, dtype, dst, stream)
        self.nccl.groupEnd()
        return self._after()

    def scatter(self, t: Tensor, src_flat: Tensor | None, src: int, what: str) -> _Event:
        dst, n, dtype = self._args(t)
        stream, _ = self._launch()
        item = t._data.itemsize
        self.nccl.groupStart()
        if self.rank == src:
            assert src_flat is not None
            base = src_flat._data.data.ptr
            for r in range(self.size):
                if r == self.rank:
                    self.cupy.cuda.runtime.memcpyAsync(dst, base + r * n * item, n * item, 3,
                                                       stream)
                else:
                    self.comm.send(base + r * n * item, n, dtype, r, stream)
        else:
            self.comm.recv(dst, n, dtype, src, stream)
        self.nccl.groupEnd()
        return self._after()

    def send(self, t: Tensor, dst: int, tag: int, what: str) -> _Event:
        ptr, n, dtype = self._args(t)
        stream, _ = self._launch()
        self.comm.send(ptr, n, dtype, dst, stream)
        return self._after()

    def recv(self, t: Tensor, src: int | None, tag: int, what: str) -> _Event:
        if src is None:
            raise RuntimeError(f"{what}: the nccl backend needs src= (NCCL has no receive from "
                               f"any rank)")
        ptr, n, dtype = self._args(t)
        stream, _ = self._launch()
        self.comm.recv(ptr, n, dtype, src, stream)
        event = self._after()
        event.source = src  # type: ignore[attr-defined]
        return event

    def source(self, transport: Any) -> int:
        return int(transport.source)

    def barrier(self) -> _Event:
        one = self.cupy.zeros(1, dtype="float32")
        stream, _ = self._launch()
        self.comm.allReduce(one.data.ptr, one.data.ptr, 1, self.nccl.NCCL_FLOAT32,
                            self.nccl.NCCL_SUM, stream)
        event = self._after()
        event.wait()
        return event

    def allgather_ints(self, values: Sequence[int]) -> Any:
        return self.world.allgather_ints(values)

    def bcast_object(self, obj: Any, src: int) -> Any:
        return self.world.bcast_object(obj, src)

    def abort(self, code: int) -> None:
        self.world.abort(code)

    def destroy(self) -> None:
        self.comm.destroy()
