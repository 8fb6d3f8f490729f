"""tensorlite.distributed: data-parallel collectives, shaped like ``torch.distributed``.

Two backends, both engines clusters already run (tensorlite has no network layer of its own):

- ``"mpi"``: mpi4py over host arrays, in place through the buffer protocol (no pickling of
  array data).  Rank and world size come from the MPI launcher (``mpiexec -n 2 python
  train.py``, or ``python -m tensorlite.distributed.run --nproc 2 train.py``).  A cuda tensor
  is staged through the host.  ``pip install 'tensorlite[distributed]'`` installs mpi4py and
  the mpich wheel, so no system MPI is needed.
- ``"nccl"``: ``cupy.cuda.nccl`` on device arrays, one GPU per process (``LOCAL_RANK``); the
  NCCL unique id is sent over MPI, so NCCL jobs are launched the same way.  Written to the
  NCCL API but not run by the test suite (no GPU where it runs).

``init_process_group(backend="mpi")``, then ``all_reduce(t, op=ReduceOp.SUM, async_op=False)``
and friends, each in place on the tensors given.  With ``async_op=True`` a collective returns a
``Work`` whose ``wait()`` completes it.  Every collective first checks that all ranks called the
same collective with tensors of the same shape and dtype (one small all-gather of 16 integers)
and raises a RuntimeError naming each rank's tensor when they differ, instead of a hang or a
garbled result; ``TENSORLITE_DISTRIBUTED_CHECK=0`` turns the check off.  After
``init_process_group`` an exception that reaches the top of any rank prints the rank and the
traceback and aborts the whole job (non-zero exit on every rank) instead of leaving the other
ranks waiting forever in their next collective.
"""
from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import timedelta
from enum import IntEnum
from types import TracebackType
from typing import Any

from .. import _capture_hooks, dtypes
from ..autograd.grad_mode import no_grad
from ..tensor import Tensor, wrap

__all__ = ["Backend", "GroupMember", "ProcessGroup", "ReduceOp", "Work", "all_gather",
           "all_gather_into_tensor", "all_reduce", "barrier", "broadcast",
           "destroy_process_group", "gather", "get_backend", "get_rank", "get_world_size",
           "init_process_group", "irecv", "is_available", "is_initialized", "is_mpi_available",
           "is_nccl_available", "isend", "new_group", "recv", "reduce", "reduce_scatter_tensor",
           "scatter", "send"]


class ReduceOp:
    """How a reduction combines the ranks' values (``torch.distributed.ReduceOp``)."""

    class RedOpType(IntEnum):
        SUM = 0
        AVG = 1
        PRODUCT = 2
        MIN = 3
        MAX = 4
        BAND = 5
        BOR = 6
        BXOR = 7

    SUM = RedOpType.SUM
    AVG = RedOpType.AVG
    PRODUCT = RedOpType.PRODUCT
    MIN = RedOpType.MIN
    MAX = RedOpType.MAX
    BAND = RedOpType.BAND
    BOR = RedOpType.BOR
    BXOR = RedOpType.BXOR


class Backend(str):
    """The backend names (``torch.distributed.Backend``): ``Backend("MPI") == "mpi"``."""
    MPI = "mpi"
    NCCL = "nccl"
    GLOO = "gloo"

    def __new__(cls, name: str) -> Backend:
        value = str(name).lower()
        if value not in (cls.MPI, cls.NCCL, cls.GLOO):
            raise ValueError(f"Backend: unknown backend {name!r}; tensorlite.distributed has "
                             f"'mpi' (CPU, mpi4py) and 'nccl' (GPU, cupy)")
        return super().__new__(cls, value)


class ProcessGroup:
    """A set of ranks that run collectives together; ``rank()`` and ``size()`` are this
    process's rank in the group and the group's size."""

    def __init__(self, impl: Any, backend: str) -> None:
        self._impl = impl
        self._backend = backend
        self._ranks: list[int] = list(impl.ranks)

    def rank(self) -> int:
        return int(self._impl.rank)

    def size(self) -> int:
        return int(self._impl.size)

    def name(self) -> str:
        return self._backend

    def __repr__(self) -> str:
        return f"ProcessGroup(backend={self._backend!r}, rank={self.rank()}, size={self.size()})"


class GroupMember:
    """``GroupMember.WORLD`` is the default group once initialized; ``NON_GROUP_MEMBER`` is what
    ``new_group`` returns on ranks outside the new group."""
    WORLD: ProcessGroup | None = None
    NON_GROUP_MEMBER = object()


group = GroupMember  # torch.distributed.group.WORLD


class Work:
    """An operation in flight (``async_op=True``): ``wait()`` completes it (the tensors then
    hold the result), ``is_completed()`` asks without blocking."""

    def __init__(self, transport: Any, finish: Sequence[Callable[[], None]] = (),
                 result: Sequence[Tensor] = (), what: str = "") -> None:
        if _capture_hooks.active:  # (tensorlite.compile cannot replay a collective)
            _capture_hooks.outside(what or "a collective")
        self._transport = transport
        self._finish = list(finish)
        self._result = list(result)
        self._done = False
        self._what = what

    def _complete(self) -> None:
        if not self._done:
            self._done = True
            for fn in self._finish:
                fn()

    def wait(self, timeout: timedelta | None = None) -> bool:
        """Block until the operation is done (its tensors hold the result).  After ``timeout``
        (this call's, else the process group's ``init_process_group(timeout=)``) it raises a
        RuntimeError naming the operation and this rank: a peer died or never called it."""
        if not self._done:
            limit = timeout if timeout is not None else _TIMEOUT[0]
            if limit is None:
                self._transport.wait()
            else:
                deadline = time.monotonic() + limit.total_seconds()
                test = self._transport.test
                while not test():
                    if time.monotonic() > deadline:
                        rank = GroupMember.WORLD.rank() if GroupMember.WORLD else "?"
                        raise RuntimeError(
                            f"{self._what}: timed out after {limit.total_seconds():g} s on rank "
                            f"{rank} waiting for the other ranks (one may have failed or not "
                            f"called the same collective); init_process_group(timeout=) sets "
                            f"the limit")
            self._complete()
        return True

    def is_completed(self) -> bool:
        if not self._done and self._transport.test():
            self._complete()
        return self._done

    def is_success(self) -> bool:
        return self.is_completed()

    def exception(self) -> None:
        return None

    def result(self) -> list[Tensor]:
        self.wait()
        return self._result

    def __repr__(self) -> str:
        state = "completed" if self._done else "in flight"
        return f"<tensorlite.distributed.Work {self._what} ({state})>"


# -- the default group and setup -------------------------------------------------------------------

def is_available() -> bool:
    """Whether tensorlite.distributed can run here: mpi4py imports (and so an MPI is found) or
    cupy's NCCL does."""
    return is_mpi_available() or is_nccl_available()


def is_mpi_available() -> bool:
    import importlib.util
    return importlib.util.find_spec("mpi4py") is not None


def is_nccl_available() -> bool:
    try:
        from cupy.cuda import nccl  # noqa: F401
    except Exception:
        return False
    return True


def is_initialized() -> bool:
    return GroupMember.WORLD is not None


def _world(what: str) -> ProcessGroup:
    if GroupMember.WORLD is None:
        raise ValueError(f"{what}: Default process group has not been initialized, please make "
                         f"sure to call init_process_group.")
    return GroupMember.WORLD


def _group(group: Any, what: str) -> ProcessGroup:
    if group is None or group is GroupMember.WORLD:
        return _world(what)
    if group is GroupMember.NON_GROUP_MEMBER:
        raise ValueError(f"{what}: this rank is not a member of the group")
    if not isinstance(group, ProcessGroup):
        raise TypeError(f"{what}: group must be a ProcessGroup from new_group() or None, got "
                        f"{type(group).__name__}")
    return group


def init_process_group(backend: str | None = None, init_method: str | None = None,
                       timeout: timedelta | None = None, world_size: int = -1, rank: int = -1,
                       store: Any = None, group_name: str = "", pg_options: Any = None,
                       device_id: Any = None) -> None:
    """Join the job's default process group.  ``backend`` is "mpi" (the default) or "nccl";
    rank and world size come from the MPI launcher (``world_size=``/``rank=`` may be given,
    and must then agree with it).  ``timeout`` (default 30 minutes, as PyTorch's) bounds MPI's
    start-up and every wait for a collective; past it the rank raises (and so the job
    aborts).  ``init_method`` and ``store`` are accepted for PyTorch's signature: the launcher,
    not a rendezvous, brings the ranks together."""
    if GroupMember.WORLD is not None:
        raise RuntimeError("trying to initialize the default process group twice!")
    name = Backend("mpi" if backend is None else backend)
    if name == Backend.GLOO:
        raise RuntimeError("init_process_group: tensorlite has no 'gloo' backend; use "
                           "backend='mpi' on CPUs (launched with mpiexec or python -m "
                           "tensorlite.distributed.run) or 'nccl' on GPUs")
    from ._mpi import MPIGroup, load_mpi
    limit = _DEFAULT_TIMEOUT if timeout is None else timeout
    cancel = _init_watchdog(limit.total_seconds())
    try:
        MPI = load_mpi()
    finally:
        cancel()
    world = MPIGroup(MPI.COMM_WORLD, range(MPI.COMM_WORLD.Get_size()))
    for given, actual, what in ((world_size, world.size, "world_size"),
                                (rank, world.rank, "rank")):
        if given not in (-1, None) and int(given) != actual:
            raise ValueError(f"init_process_group: {what}={given} but the MPI launcher started "
                             f"this process with {what} {actual}; launch with mpiexec -n "
                             f"<world_size> (or leave {what} out)")
    impl: Any = world
    if name == Backend.NCCL:
        from ._nccl import NCCLGroup
        impl = NCCLGroup(world, device_id)
    GroupMember.WORLD = ProcessGroup(impl, name)
    _TIMEOUT[0] = limit
    os.environ.setdefault("RANK", str(world.rank))
    os.environ.setdefault("WORLD_SIZE", str(world.size))
    _install_abort_on_exception(world)


# PyTorch's default_pg_timeout: how long a collective (and MPI's start-up) may wait for peers
_DEFAULT_TIMEOUT = timedelta(minutes=30)
_TIMEOUT: list[timedelta | None] = [None]


def _init_watchdog(seconds: float) -> Callable[[], None]:
    """Bound MPI's start-up: MPI_Init waits in C for every rank (a rank that died before
    init_process_group leaves the others there forever), where no Python timer can run, so a
    forked watchdog process terminates this rank after ``seconds``, saying why; the returned
    function calls it off.  A no-op where MPI is already up or there is no fork."""
    if "mpi4py.MPI" in sys.modules or not hasattr(os, "fork"):
        return lambda: None
    import signal
    parent = os.getpid()
    rank = next((os.environ[k] for k in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")
                 if k in os.environ), "?")
    import warnings
    with warnings.catch_warnings():  # (3.12 warns on fork with threads: the child only sleeps)
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the watchdog: sleep, then end the rank stuck in MPI_Init
        try:
            time.sleep(seconds)
            os.write(2, (f"tensorlite.distributed: rank {rank}: MPI start-up did not finish "
                         f"within {seconds:g} s (init_process_group timeout): another rank "
                         f"probably exited before init_process_group; terminating this rank\n"
                         ).encode())
            os.kill(parent, signal.SIGTERM)
        finally:
            os._exit(0)

    def cancel() -> None:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except OSError:
            pass
    return cancel


def _install_abort_on_exception(world: Any) -> None:
    """An exception that ends one rank aborts every rank, printing which rank raised what."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException,
             tb: TracebackType | None) -> None:
        if GroupMember.WORLD is None or world.size == 1 or issubclass(kind, KeyboardInterrupt):
            previous(kind, value, tb)
            return
        sys.stderr.write(f"tensorlite.distributed: rank {world.rank} of {world.size} raised "
                         f"{kind.__name__}: {value}\n")
        traceback.print_exception(kind, value, tb)
        sys.stderr.write(f"tensorlite.distributed: rank {world.rank} aborts the job (every rank "
                         f"exits) so that no rank waits forever in a collective\n")
        world.abort(1)

    sys.excepthook = hook


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Leave ``group`` (by default the default group: tensorlite.distributed is then
    uninitialized and may be initialized again)."""
    pg = _group(group, "destroy_process_group")
    pg._impl.destroy()
    if pg is GroupMember.WORLD:
        GroupMember.WORLD = None
        _TIMEOUT[0] = None


def new_group(ranks: Sequence[int] | None = None, timeout: timedelta | None = None,
              backend: str | None = None, pg_options: Any = None,
              use_local_synchronization: bool = False) -> Any:
    """A group of ``ranks`` (global ranks; all of them by default).  Every rank of the default
    group must call it; ranks outside ``ranks`` get ``GroupMember.NON_GROUP_MEMBER``."""
    world = _world("new_group")
    if world._backend != Backend.MPI:
        raise RuntimeError("new_group: only the 'mpi' backend makes subgroups here")
    members = sorted(set(int(r) for r in ranks)) if ranks is not None else None
    if members is not None and any(not 0 <= r < world.size() for r in members):
        raise ValueError(f"new_group: ranks {list(ranks or [])} must be in [0, "
                         f"{world.size() - 1}]")
    from ._mpi import MPIGroup
    comm = world._impl.split(members)
    if comm is None:
        return GroupMember.NON_GROUP_MEMBER
    return ProcessGroup(MPIGroup(comm, members if members is not None else
                                 range(world.size())), Backend.MPI)


def get_rank(group: ProcessGroup | None = None) -> int:
    """This process's rank in ``group`` (the default group when None)."""
    return _group(group, "get_rank").rank()


def get_world_size(group: ProcessGroup | None = None) -> int:
    return _group(group, "get_world_size").size()


def get_backend(group: ProcessGroup | None = None) -> str:
    return _group(group, "get_backend").name()


def _group_rank(pg: ProcessGroup, rank: int, what: str, arg: str) -> int:
    """A global rank as ``pg``'s rank (src/dst arguments are global ranks, as in torch)."""
    if rank not in pg._ranks:
        raise ValueError(f"{what}: {arg}={rank} is not a rank of the group (its ranks are "
                         f"{pg._ranks})")
    return pg._ranks.index(rank)


# -- staging: a tensor the transport can use in place -------------------------------------------

_CHECK_CODES = {"all_reduce": 1, "broadcast": 2, "all_gather": 3, "all_gather_into_tensor": 4,
                "reduce_scatter_tensor": 5, "gather": 6, "scatter": 7, "reduce": 8, "barrier": 9}


def _check_tensor(t: Any, what: str, arg: str = "tensor") -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"{what}: {arg} must be a tensorlite Tensor, got {type(t).__name__}")
    return t


def _stage(pg: ProcessGroup, t: Tensor, reduction: bool, finish: list[Callable[[], None]],
           writes: bool = True) -> Tensor:
    """The tensor the transport reads and writes: ``t`` itself when it can be used in place
    (contiguous, on the backend's device, a dtype it carries), else a staged copy, with the
    copy back into ``t`` appended to ``finish`` when ``writes``."""
    impl = pg._impl
    staged = impl.stage(t, reduction)
    if staged is t:
        if writes:
            finish.append(lambda: _bump(t))
        return t
    if writes:
        def back() -> None:
            with no_grad():
                t.copy_(staged)
        finish.append(back)
    return staged


def _bump(t: Tensor) -> None:
    t._version[0] += 1  # written in place: saved copies of it are stale


def _signature(t: Tensor | None, code: int, extra: int) -> list[int]:
    if t is None:
        return [code, -1, -1, -1, extra] + [-1] * 11
    shape = list(t.shape)[:10]
    return ([code, dtypes.ALL.index(t.dtype) if t.dtype in dtypes.ALL else -2, t.ndim,
             t.numel(), extra] + shape + [-1] * (11 - len(shape)))


def _describe(row: list[int]) -> str:
    if row[1] == -1:
        return "no tensor"
    dtype = dtypes.ALL[row[1]] if 0 <= row[1] < len(dtypes.ALL) else "?"
    return f"shape {row[5:5 + row[2]]} dtype {dtype}"


def _allgather_ints(pg: ProcessGroup, values: list[int], what: str) -> list[list[int]]:
    """Every rank's ``values``, waited for within the group's timeout."""
    transport, rows = pg._impl.allgather_ints(values)
    Work(transport, what=f"{what} (argument check)").wait()
    return list(rows())


def _agree(pg: ProcessGroup, what: str, t: Tensor | None, extra: int = 0,
           extra_name: str = "") -> None:
    """Raise on every rank when the ranks did not call ``what`` alike (a blocking all-gather
    of a few integers), instead of hanging or garbling the result."""
    if pg.size() == 1 or os.environ.get("TENSORLITE_DISTRIBUTED_CHECK", "1") == "0":
        return
    rows = _allgather_ints(pg, _signature(t, _CHECK_CODES[what], extra), what)
    if all(r == rows[0] for r in rows):
        return
    names = {v: k for k, v in _CHECK_CODES.items()}
    if any(r[0] != rows[0][0] for r in rows):
        calls = ", ".join(f"rank {i} called {names.get(r[0], '?')}" for i, r in enumerate(rows))
        raise RuntimeError(f"{what}: the ranks called different collectives ({calls}); every "
                           f"rank must call the same collectives in the same order")
    if extra_name and any(r[4] != rows[0][4] for r in rows):
        given = ", ".join(f"rank {i}: {extra_name}={r[4]}" for i, r in enumerate(rows))
        raise RuntimeError(f"{what}: the ranks passed different {extra_name} ({given}); every "
                           f"rank must pass the same {extra_name}")
    detail = "; ".join(f"rank {i}: {_describe(r)}" for i, r in enumerate(rows))
    raise RuntimeError(f"{what}: the ranks passed tensors of different shapes or dtypes "
                       f"({detail}); every rank must pass a tensor of the same shape and dtype")


def _run(pg: ProcessGroup, transport: Any, finish: list[Callable[[], None]], async_op: bool,
         what: str, result: Sequence[Tensor] = ()) -> Work | None:
    return _handle(Work(transport, finish, result, what), async_op)


def _handle(work: Work, async_op: bool) -> Work | None:
    """The Work for an async call; otherwise wait for it here (and return None, as torch)."""
    if async_op:
        return work
    work.wait()
    return None


def _reduce_op(op: Any, t: Tensor, what: str) -> int:
    try:
        code = int(op)
        ReduceOp.RedOpType(code)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: op must be a ReduceOp (SUM, AVG, PRODUCT, MIN, MAX, BAND, "
                         f"BOR, BXOR), got {op!r}") from None
    kind = dtypes.kind(t.dtype)
    if code in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and kind == 2:
        raise RuntimeError(f"{what}: ReduceOp.{ReduceOp.RedOpType(code).name} needs an integer "
                           f"or bool tensor, got dtype {t.dtype}")
    if code == ReduceOp.AVG and kind != 2:
        raise RuntimeError(f"{what}: ReduceOp.AVG needs a floating point tensor, got dtype "
                           f"{t.dtype}; use ReduceOp.SUM and divide")
    if code in (ReduceOp.MIN, ReduceOp.MAX) and t.dtype.kind == "c":
        raise RuntimeError(f"{what}: ReduceOp.{ReduceOp.RedOpType(code).name} is not defined "
                           f"for complex dtype {t.dtype}")
    return code


def _average(t: Tensor, n: int) -> Callable[[], None]:
    def divide() -> None:
        with no_grad():
            t.div_(n)
    return divide


# -- collectives -----------------------------------------------------------------------------------

def all_reduce(tensor: Tensor, op: Any = ReduceOp.SUM, group: ProcessGroup | None = None,
               async_op: bool = False) -> Work | None:
    """Combine ``tensor`` over the ranks with ``op``; every rank gets the result in place."""
    what = "all_reduce"
    t = _check_tensor(tensor, what)
    pg = _group(group, what)
    code = _reduce_op(op, t, what)
    _agree(pg, what, t, code, "op")
    return _handle(_all_reduce_work(pg, t, code), async_op)


def _all_reduce_work(pg: ProcessGroup, t: Tensor, code: int) -> Work:
    """all_reduce without the argument checks (DistributedDataParallel's buckets)."""
    finish: list[Callable[[], None]] = []
    staged = _stage(pg, t, True, finish)
    if code == ReduceOp.AVG:
        finish.insert(0, _average(staged, pg.size()))
    return Work(pg._impl.allreduce(staged, code, "all_reduce"), finish, [t], "all_reduce")


def reduce(tensor: Tensor, dst: int = 0, op: Any = ReduceOp.SUM,
           group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """Combine ``tensor`` over the ranks into rank ``dst``'s ``tensor``."""
    what = "reduce"
    t = _check_tensor(tensor, what)
    pg = _group(group, what)
    code = _reduce_op(op, t, what)
    root = _group_rank(pg, dst, what, "dst")
    _agree(pg, what, t, root, "dst")
    finish: list[Callable[[], None]] = []
    staged = _stage(pg, t, True, finish, writes=pg.rank() == root)
    if code == ReduceOp.AVG and pg.rank() == root:
        finish.insert(0, _average(staged, pg.size()))
    transport = pg._impl.reduce(staged, root, code, what)
    return _run(pg, transport, finish, async_op, what, [t])


def broadcast(tensor: Tensor, src: int = 0, group: ProcessGroup | None = None,
              async_op: bool = False) -> Work | None:
    """Copy rank ``src``'s ``tensor`` into every rank's ``tensor``."""
    what = "broadcast"
    t = _check_tensor(tensor, what)
    pg = _group(group, what)
    root = _group_rank(pg, src, what, "src")
    _agree(pg, what, t, root, "src")
    return _handle(_broadcast_work(pg, t, root), async_op)


def _broadcast_work(pg: ProcessGroup, t: Tensor, root: int) -> Work:
    """broadcast from group rank ``root`` without the argument checks (DDP's buffers)."""
    finish: list[Callable[[], None]] = []
    staged = _stage(pg, t, False, finish, writes=pg.rank() != root)
    return Work(pg._impl.broadcast(staged, root, "broadcast"), finish, [t], "broadcast")


def _flat_out(pg: ProcessGroup, like: Tensor, n: int) -> Tensor:
    """A fresh contiguous buffer of ``n`` copies of ``like`` on the transport's side."""
    return pg._impl.empty((n,) + tuple(like.shape), like)


def all_gather(tensor_list: list[Tensor], tensor: Tensor, group: ProcessGroup | None = None,
               async_op: bool = False) -> Work | None:
    """Every rank's ``tensor``, into ``tensor_list[r]`` for rank r (on every rank)."""
    what = "all_gather"
    t = _check_tensor(tensor, what)
    pg = _group(group, what)
    _check_list(tensor_list, pg.size(), t, what, "tensor_list")
    _agree(pg, what, t)
    finish: list[Callable[[], None]] = []
    src = _stage(pg, t, False, finish, writes=False)
    out = _flat_out(pg, src, pg.size())

    def unpack() -> None:
        with no_grad():
            for i, target in enumerate(tensor_list):
                target.copy_(out[i])
    finish.append(unpack)
    transport = pg._impl.allgather(out, src, what)
    return _run(pg, transport, finish, async_op, what, list(tensor_list))


def _check_list(tensors: Any, n: int, like: Tensor, what: str, arg: str) -> None:
    if not isinstance(tensors, (list, tuple)) or len(tensors) != n:
        raise ValueError(f"{what}: {arg} must be a list of {n} tensors (one per rank), got "
                         f"{type(tensors).__name__} of length {len(tensors) if hasattr(tensors, '__len__') else '?'}")
    for i, x in enumerate(tensors):
        _check_tensor(x, what, f"{arg}[{i}]")
        if x.shape != like.shape or x.dtype != like.dtype:
            raise RuntimeError(f"{what}: {arg}[{i}] has shape {list(x.shape)} and dtype "
                               f"{x.dtype}, but the tensor has shape {list(like.shape)} and "
                               f"dtype {like.dtype}; they must match")


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor,
                           group: ProcessGroup | None = None,
                           async_op: bool = False) -> Work | None:
    """Every rank's ``input_tensor``, concatenated in rank order into ``output_tensor`` (of
    world_size times its elements: shape (world_size * n, ...) or (world_size, n, ...))."""
    what = "all_gather_into_tensor"
    out = _check_tensor(output_tensor, what, "output_tensor")
    t = _check_tensor(input_tensor, what, "input_tensor")
    pg = _group(group, what)
    _check_sized(out, t, pg.size(), what, "output_tensor", "input_tensor")
    _agree(pg, what, t)
    finish: list[Callable[[], None]] = []
    src = _stage(pg, t, False, finish, writes=False)
    dst = _stage(pg, out, False, finish)
    transport = pg._impl.allgather(dst, src, what)
    return _run(pg, transport, finish, async_op, what, [out])


def _check_sized(big: Tensor, small: Tensor, n: int, what: str, big_name: str,
                 small_name: str) -> None:
    if big.dtype != small.dtype:
        raise RuntimeError(f"{what}: {big_name} has dtype {big.dtype} but {small_name} has "
                           f"dtype {small.dtype}; they must match")
    if big.numel() != n * small.numel():
        raise ValueError(f"{what}: {big_name} of shape {list(big.shape)} must have world_size "
                         f"({n}) times the elements of {small_name} (shape "
                         f"{list(small.shape)})")


def reduce_scatter_tensor(output: Tensor, input: Tensor, op: Any = ReduceOp.SUM,
                          group: ProcessGroup | None = None,
                          async_op: bool = False) -> Work | None:
    """Reduce ``input`` (world_size chunks along its memory) over the ranks with ``op`` and
    leave chunk r of the result in rank r's ``output``."""
    what = "reduce_scatter_tensor"
    out = _check_tensor(output, what, "output")
    t = _check_tensor(input, what, "input")
    pg = _group(group, what)
    _check_sized(t, out, pg.size(), what, "input", "output")
    code = _reduce_op(op, t, what)
    _agree(pg, what, t, code, "op")
    finish: list[Callable[[], None]] = []
    src = _stage(pg, t, True, finish, writes=False)
    dst = _stage(pg, out, True, finish)
    if code == ReduceOp.AVG:
        finish.insert(0, _average(dst, pg.size()))
    transport = pg._impl.reduce_scatter(dst, src, code, what)
    return _run(pg, transport, finish, async_op, what, [out])


def _root_list(pg: ProcessGroup, root: int, tensors: list[Tensor] | None, like: Tensor,
               what: str, name: str, root_name: str) -> None:
    """gather's and scatter's list: one tensor like ``like`` per rank on the root, none
    elsewhere (as torch)."""
    if pg.rank() == root:
        if tensors is None:
            raise ValueError(f"{what}: {name} must be given on {root_name}")
        _check_list(tensors, pg.size(), like, what, name)
    elif tensors:
        raise ValueError(f"{what}: {name} must be None (or empty) on ranks other than "
                         f"{root_name}")


def gather(tensor: Tensor, gather_list: list[Tensor] | None = None, dst: int = 0,
           group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """Every rank's ``tensor`` into ``gather_list`` on rank ``dst`` (None on the others)."""
    what = "gather"
    t = _check_tensor(tensor, what)
    pg = _group(group, what)
    root = _group_rank(pg, dst, what, "dst")
    finish: list[Callable[[], None]] = []
    out: Tensor | None = None
    _root_list(pg, root, gather_list, t, what, "gather_list", f"the destination rank {dst}")
    _agree(pg, what, t, root, "dst")
    src = _stage(pg, t, False, finish, writes=False)
    if pg.rank() == root:
        buf = out = _flat_out(pg, src, pg.size())
        targets = list(gather_list or [])

        def unpack() -> None:
            with no_grad():
                for i, target in enumerate(targets):
                    target.copy_(buf[i])
        finish.append(unpack)
    transport = pg._impl.gather(out, src, root, what)
    return _run(pg, transport, finish, async_op, what, list(gather_list or []))


def scatter(tensor: Tensor, scatter_list: list[Tensor] | None = None, src: int = 0,
            group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """Rank ``src``'s ``scatter_list[r]`` into rank r's ``tensor``."""
    what = "scatter"
    t = _check_tensor(tensor, what)
    pg = _group(group, what)
    root = _group_rank(pg, src, what, "src")
    flat: Tensor | None = None
    _root_list(pg, root, scatter_list, t, what, "scatter_list", f"the source rank {src}")
    _agree(pg, what, t, root, "src")
    finish: list[Callable[[], None]] = []
    dst = _stage(pg, t, False, finish)
    if pg.rank() == root:
        flat = _flat_out(pg, dst, pg.size())
        with no_grad():
            for i, piece in enumerate(scatter_list or []):
                flat[i].copy_(piece)
    transport = pg._impl.scatter(dst, flat, root, what)
    return _run(pg, transport, finish, async_op, what, [t])


def barrier(group: ProcessGroup | None = None, async_op: bool = False,
            device_ids: Any = None) -> Work | None:
    """Wait until every rank of ``group`` reaches the barrier."""
    pg = _group(group, "barrier")
    return _run(pg, pg._impl.barrier(), [], async_op, "barrier")


def isend(tensor: Tensor, dst: int, group: ProcessGroup | None = None,
          tag: int = 0) -> Work:
    """Start sending ``tensor`` to rank ``dst``; wait on the returned Work before changing it."""
    what = "isend"
    t = _check_tensor(tensor, what)
    pg = _group(group, what)
    peer = _group_rank(pg, dst, what, "dst")
    if peer == pg.rank():
        raise ValueError(f"{what}: dst={dst} is this rank; a rank cannot send to itself")
    finish: list[Callable[[], None]] = []
    src = _stage(pg, t, False, finish, writes=False)
    work = _run(pg, pg._impl.send(src, peer, tag, what), finish, True, what, [t])
    assert work is not None
    return work


def irecv(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None,
          tag: int = 0) -> Work:
    """Start receiving into ``tensor`` from rank ``src`` (any rank when None)."""
    what = "irecv"
    t = _check_tensor(tensor, what)
    pg = _group(group, what)
    peer = None if src is None else _group_rank(pg, src, what, "src")
    finish: list[Callable[[], None]] = []
    dst = _stage(pg, t, False, finish)
    transport = pg._impl.recv(dst, peer, tag, what)
    work = Work(transport, finish, [t], what)
    work._source = lambda: pg._ranks[pg._impl.source(transport)]  # type: ignore[attr-defined]
    return work


def send(tensor: Tensor, dst: int, group: ProcessGroup | None = None, tag: int = 0) -> None:
    """Send ``tensor`` to rank ``dst`` (blocks until it may be changed again)."""
    isend(tensor, dst, group, tag).wait()


def recv(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None,
         tag: int = 0) -> int:
    """Receive into ``tensor`` from rank ``src`` (any rank when None); returns the sender."""
    work = irecv(tensor, src, group, tag)
    work.wait()
    return int(work._source())  # type: ignore[attr-defined]


def _raw(pg: ProcessGroup) -> Any:
    """The transport of a group (for DistributedDataParallel's bucketed all-reduce)."""
    return pg._impl

