"""The ``mpi`` process group: mpi4py collectives on host arrays, in place.

Every array travels through the buffer protocol (``Comm.Allreduce``, ``Comm.Iallreduce``, ...,
mpi4py's upper-case methods): no array data is ever pickled.  This module is the one place in
tensorlite.distributed that touches a tensor's host array, and only to hand it to MPI (or to view
a bfloat16 array as the uint16 bits MPI can move); every change of values (AVG's division,
bfloat16 staging) is done by the caller with tensor ops.

mpi4py is imported lazily (``from mpi4py import MPI`` initializes MPI), so ``import
tensorlite.distributed`` costs nothing where MPI is absent.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..tensor import Tensor, wrap

# ReduceOp value (see __init__.ReduceOp) -> MPI op name; bool tensors use the logical ops
_OPS = {0: "SUM", 1: "SUM", 2: "PROD", 3: "MIN", 4: "MAX", 5: "BAND", 6: "BOR", 7: "BXOR"}
_BOOL_OPS = {0: "LOR", 1: "LOR", 2: "LAND", 3: "LAND", 4: "LOR", 5: "LAND", 6: "LOR", 7: "LXOR"}


def load_mpi() -> Any:
    """mpi4py's MPI module (initializing MPI), or ImportError naming the extra to install."""
    try:
        from mpi4py import MPI
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("tensorlite.distributed: the 'mpi' backend needs mpi4py and an MPI "
                          "library: pip install 'tensorlite[distributed]' (installs mpi4py and "
                          f"the mpich wheel) ({e})") from e
    return MPI


def buffer(t: Tensor) -> Any:
    """The host array MPI reads and writes in place (a bfloat16 array as its uint16 bits)."""
    data = t._data
    if data.dtype.kind == "V":  # ml_dtypes' bfloat16: MPI has no type for it, move its bits
        return data.view(np.uint16)
    return data


class Requests:
    """A set of MPI requests: the transport under a ``Work``."""

    def __init__(self, requests: Sequence[Any], on_error: Callable[[Exception], Exception],
                 statuses: list[Any] | None = None) -> None:
        self.requests = list(requests)
        self.on_error = on_error
        self.statuses = statuses  # filled by wait (recv: the sender's rank)

    def test(self) -> bool:
        try:
            if not self.requests:
                return True
            return bool(self.requests[0].Testall(self.requests, self.statuses))
        except Exception as e:
            raise self.on_error(e) from e

    def wait(self) -> None:
        if self.requests:
            try:
                self.requests[0].Waitall(self.requests, self.statuses)
            except Exception as e:
                raise self.on_error(e) from e


class MPIGroup:
    """A process group over an MPI communicator (COMM_WORLD, or a split of it)."""

    backend = "mpi"

    def __init__(self, comm: Any, ranks: Sequence[int]) -> None:
        self.MPI = load_mpi()
        self.comm = comm
        self.ranks = list(ranks)  # the group's members, as global ranks, by group rank
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()

    # -- what the front end needs -------------------------------------------------------------
    def stage(self, t: Tensor, reduction: bool) -> Tensor:
        """``t`` itself when MPI can use its host array in place (contiguous, writeable, a
        dtype MPI carries), else a host copy for MPI to use (the caller copies results back):
        a cuda tensor goes through the host, a bfloat16 reduction through float32."""
        from ..autograd.grad_mode import no_grad
        data = t._data
        bf16 = data.dtype.kind == "V"
        if (t.device == "cpu" and not (bf16 and reduction) and type(data) is np.ndarray
                and data.flags.c_contiguous and data.flags.writeable):
            return t
        with no_grad():
            staged = t.detach().cpu()
            if bf16 and reduction:
                return staged.float()
            B = staged.backend
            return wrap(B.ascontiguousarray(B.copy(staged._data)), "cpu")

    def empty(self, shape: Sequence[int], like: Tensor) -> Tensor:
        """An uninitialized contiguous host tensor of ``like``'s dtype."""
        from .. import backends
        return wrap(backends.for_device("cpu").empty(tuple(shape), like.dtype), "cpu")

    def _op(self, op: int, t: Tensor) -> Any:
        table = _BOOL_OPS if t.dtype == np.dtype(bool) else _OPS
        return getattr(self.MPI, table[op])

    def _done(self, request: Any, what: str) -> Requests:
        return Requests([request], lambda e: RuntimeError(f"{what} failed in MPI: {e}"))

    def allreduce(self, t: Tensor, op: int, what: str) -> Requests:
        return self._done(self.comm.Iallreduce(self.MPI.IN_PLACE, buffer(t), self._op(op, t)),
                          what)

    def reduce(self, t: Tensor, dst: int, op: int, what: str) -> Requests:
        buf = buffer(t)
        send = self.MPI.IN_PLACE if self.rank == dst else buf
        recv = buf if self.rank == dst else None
        return self._done(self.comm.Ireduce(send, recv, self._op(op, t), root=dst), what)

    def broadcast(self, t: Tensor, src: int, what: str) -> Requests:
        return self._done(self.comm.Ibcast(buffer(t), root=src), what)

    def allgather(self, out: Tensor, t: Tensor, what: str) -> Requests:
        return self._done(self.comm.Iallgather(buffer(t), buffer(out)), what)

    def gather(self, out: Tensor | None, t: Tensor, dst: int, what: str) -> Requests:
        recv = buffer(out) if out is not None else None
        return self._done(self.comm.Igather(buffer(t), recv, root=dst), what)

    def scatter(self, t: Tensor, src_flat: Tensor | None, src: int, what: str) -> Requests:
        send = buffer(src_flat) if src_flat is not None else None
        return self._done(self.comm.Iscatter(send, buffer(t), root=src), what)

    def reduce_scatter(self, out: Tensor, t: Tensor, op: int, what: str) -> Requests:
        return self._done(self.comm.Ireduce_scatter_block(buffer(t), buffer(out),
                                                          self._op(op, t)), what)

    def send(self, t: Tensor, dst: int, tag: int, what: str) -> Requests:
        return self._done(self.comm.Isend(buffer(t), dest=dst, tag=tag), what)

    def recv(self, t: Tensor, src: int | None, tag: int, what: str) -> Requests:
        source = self.MPI.ANY_SOURCE if src is None else src
        buf = buffer(t)

        def error(e: Exception) -> Exception:
            if "truncat" in str(e).lower():
                return RuntimeError(f"{what}: the message sent is larger than the receiving "
                                    f"tensor of shape {list(t.shape)} and dtype {t.dtype}; send "
                                    f"and recv must use tensors of the same shape and dtype")
            return RuntimeError(f"{what} failed in MPI: {e}")
        request = self.comm.Irecv(buf, source=source, tag=tag)
        return Requests([request], error, [self.MPI.Status()])

    def source(self, requests: Requests) -> int:
        """The group rank a finished recv came from."""
        assert requests.statuses is not None
        return int(requests.statuses[0].Get_source())

    def barrier(self) -> Requests:
        return self._done(self.comm.Ibarrier(), "barrier")

    def allgather_ints(self, values: Sequence[int]
                       ) -> tuple[Requests, Callable[[], list[list[int]]]]:
        """Start gathering every rank's ``values`` (same length everywhere): the signature
        check.  Returns the requests and, to call once they are done, the rows by rank."""
        mine = np.asarray(values, dtype=np.int64)
        every = np.empty((self.size, len(values)), dtype=np.int64)
        request = self.comm.Iallgather(mine, every)
        return (Requests([request], lambda e: RuntimeError(f"argument check failed in MPI: {e}")),
                lambda: every.tolist())

    def bcast_object(self, obj: Any, src: int) -> Any:
        """A small Python object from ``src`` (the NCCL unique id; never array data)."""
        return self.comm.bcast(obj, root=src)

    def split(self, ranks: Sequence[int] | None) -> Any:
        """A communicator of ``ranks`` (global ranks, in this order), or None here when this
        rank is not one of them; collective over this group."""
        me = self.ranks[self.rank]
        inside = ranks is None or me in ranks
        color = 0 if inside else self.MPI.UNDEFINED
        key = 0 if ranks is None or not inside else list(ranks).index(me)
        comm = self.comm.Split(color, key)
        return comm if inside else None

    def abort(self, code: int) -> None:
        sys.stderr.flush()
        self.MPI.COMM_WORLD.Abort(code)

    def destroy(self) -> None:
        if self.comm != self.MPI.COMM_WORLD and self.comm != self.MPI.COMM_NULL:
            self.comm.Free()
