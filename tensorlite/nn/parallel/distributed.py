"""DistributedDataParallel: one model replica per process, gradients averaged over the ranks.

How the gradients get averaged (PyTorch's Reducer, on this engine's hooks):

- Parameters are grouped into buckets in reverse registration order (gradients arrive roughly
  in that order), one dtype and device per bucket; a bucket closes once it holds
  ``bucket_cap_mb`` (the first one at 1 MiB, as PyTorch's first bucket).
- After each forward (grad enabled, not under ``no_sync``) the graph below the outputs is walked
  once: every edge into a parameter is counted and a post hook (``Node.register_hook``) is put on
  each node that sends a gradient to a parameter.  That hook adds the gradient into the
  parameter's slot of its bucket (a flat buffer) and counts the edge down; a parameter whose
  edges are all done is ready, and a bucket whose parameters are all ready starts a
  non-blocking all-reduce (``Iallreduce``, pre-divided by the world size) at once, in bucket
  order on every rank, while backward goes on through the earlier layers.
  (The engine accumulates leaf gradients into ``.grad`` only after the whole graph has run, so
  the leaf hooks themselves would fire too late to overlap anything; the node hooks fire as the
  gradients are made.)
- The parameters' ``register_post_accumulate_grad_hook`` finishes the job: when the engine has
  written a parameter's local ``.grad``, its bucket's all-reduce is waited for and the average
  is copied into ``.grad``.  A ``.grad`` accumulated under ``no_sync()`` is part of what the next
  synchronized backward all-reduces, as in PyTorch.
- Unused parameters: with ``find_unused_parameters=True`` the parameters the forward graph
  does not reach are marked ready when backward ends (their slot holds their ``.grad`` or zeros),
  and a used-map all-reduce tells whether any rank used them (a parameter no rank used keeps its
  ``.grad``, None or not, as in PyTorch).  Without it a bucket waits for its unused parameter
  forever, and the next forward raises PyTorch's "Expected to have finished reduction in the
  prior iteration" error naming the parameters.

``state_dict()`` and ``load_state_dict()`` are the wrapped module's: the keys have no ``module.``
prefix (PyTorch's DDP adds one, the prefix problem its users know), so a checkpoint saved from
the wrapper loads into the bare model and back; ``load_state_dict`` also accepts a PyTorch-style
dict whose every key starts with ``module.``.  ``named_parameters()`` keeps PyTorch's
``module.`` names.
"""
from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ... import distributed as dist
from ...autograd.graph import Node
from ...autograd.grad_mode import is_grad_enabled, no_grad
from ...tensor import Tensor
from ..module import Module, Parameter, _IncompatibleKeys

_FIRST_BUCKET_MB = 1.0  # PyTorch's dist._DEFAULT_FIRST_BUCKET_BYTES (1 MiB)


class _Bucket:
    __slots__ = ("index", "params", "flat", "slots", "pending", "work", "launched")

    def __init__(self, index: int, params: list[int], flat: Tensor, slots: list[Tensor]) -> None:
        self.index, self.params, self.flat, self.slots = index, params, flat, slots
        self.pending = len(params)
        self.work: Any = None
        self.launched = False


class _State:
    """DDP's per-iteration bookkeeping, a plain object (Module.__setattr__ is slow on the hot
    path of the hooks)."""
    __slots__ = ("armed", "started", "edges", "got", "ready", "accumulated", "flushed",
                 "next_bucket", "used_work", "used", "generation", "overlapped")
    armed: bool          # a forward prepared a backward that has not ended
    started: bool        # some gradient of that backward has arrived
    edges: list[int]     # per parameter, graph edges into it not yet run
    got: list[bool]      # per parameter, a gradient reached its slot
    ready: list[bool]
    accumulated: int     # post-accumulate hooks seen in this backward
    flushed: bool
    next_bucket: int     # the next bucket to launch (buckets go out in order on every rank)
    used_work: Any
    used: Tensor | None
    generation: int      # forwards prepared so far: a node hook knows which one it serves
    overlapped: int      # of the last backward: buckets sent while gradients were to come

    def __init__(self) -> None:
        self.generation = 0
        self.overlapped = 0


class DistributedDataParallel(Module):
    """Data parallelism over the default process group (or ``process_group``): wrap the model,
    call it, backward, step; ``.grad`` is then the average over the ranks.  Parameters and
    buffers are broadcast from rank 0 on construction (and buffers before every forward with
    ``broadcast_buffers=True``), so every replica starts equal and stays equal."""

    def __init__(self, module: Module, device_ids: Any = None, output_device: Any = None,
                 dim: int = 0, broadcast_buffers: bool = True, process_group: Any = None,
                 bucket_cap_mb: float | None = None, find_unused_parameters: bool = False,
                 check_reduction: bool = False, gradient_as_bucket_view: bool = False,
                 static_graph: bool = False) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be a tensorlite.nn.Module, got "
                            f"{type(module).__name__}")
        self.module = module
        self.process_group = dist._group(process_group, "DistributedDataParallel")
        self._pg = dist._raw(self.process_group)
        self.device_ids = device_ids
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.bucket_cap_mb = 25.0 if bucket_cap_mb is None else float(bucket_cap_mb)
        self.require_backward_grad_sync = True
        self.world_size = self.process_group.size()
        self._s = _State()
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have "
                               "any parameter that requires a gradient.")
        self._names = [n for n, _ in named]
        self._params: list[Parameter] = [p for _, p in named]
        self._index = {id(p): i for i, p in enumerate(self._params)}
        self._verify_shapes()
        self._sync_module_states()
        self._build_buckets()
        for i, p in enumerate(self._params):
            p.register_post_accumulate_grad_hook(self._make_accumulated_hook(i))
        self._reset()

    # -- construction ---------------------------------------------------------------------------
    def _verify_shapes(self) -> None:
        """Every rank wraps the same parameters (count, shapes, dtypes), or a clear error."""
        if self.world_size == 1:
            return
        sig = [len(self._params)] + [zlib.crc32(f"{tuple(p.shape)}{p.dtype}".encode())
                                     for p in self._params[:14]]
        sig += [0] * (15 - len(sig))
        rows = dist._allgather_ints(self.process_group,
                                    sig + [sum(p.numel() for p in self._params)],
                                    "DistributedDataParallel")
        if any(r != rows[0] for r in rows):
            raise RuntimeError(
                "DistributedDataParallel: the ranks' modules differ in their parameters "
                f"(count or shapes or dtypes): rank 0 has {rows[0][0]} parameters with "
                f"{rows[0][-1]} elements, " + ", ".join(
                    f"rank {i} has {r[0]} with {r[-1]}" for i, r in enumerate(rows) if i) +
                "; every rank must wrap the same model")

    def _sync_module_states(self) -> None:
        """Rank 0's parameters and buffers, copied into every rank's."""
        src = self.process_group._ranks[0]
        with no_grad():
            for p in self.module.parameters():
                dist.broadcast(p, src, group=self.process_group)
            self._broadcast_buffers()

    def _broadcast_buffers(self) -> None:
        works = [dist._broadcast_work(self.process_group, b, 0) for b in self.module.buffers()]
        for w in works:
            w.wait()

    def _build_buckets(self) -> None:
        """Reverse parameter order, split by dtype and device, the first bucket capped at
        1 MiB and the others at ``bucket_cap_mb`` (a bucket closes once it reaches its cap)."""
        groups: dict[tuple[str, str], list[int]] = {}
        order: list[list[int]] = []
        sizes: dict[tuple[str, str], float] = {}
        caps: dict[tuple[str, str], float] = {}
        for i in reversed(range(len(self._params))):
            p = self._params[i]
            key = (str(p.dtype), p.device)
            if key not in groups:
                groups[key] = []
                order.append(groups[key])
                sizes[key] = 0.0
                caps[key] = min(_FIRST_BUCKET_MB, self.bucket_cap_mb) * 2 ** 20
            groups[key].append(i)
            sizes[key] += p.numel() * p._data.itemsize
            if sizes[key] >= caps[key]:
                groups[key] = []
                order.append(groups[key])
                sizes[key] = 0.0
                caps[key] = self.bucket_cap_mb * 2 ** 20
        self._buckets: list[_Bucket] = []
        self._bucket_of: list[int] = [0] * len(self._params)
        self._slot_of: list[Tensor] = [None] * len(self._params)  # type: ignore[list-item]
        for members in order:
            if not members:
                continue
            first = self._params[members[0]]
            total = sum(self._params[i].numel() for i in members)
            from ... import zeros
            flat = zeros(total, dtype=first.dtype, device=first.device)
            slots, offset = [], 0
            for i in members:
                n = self._params[i].numel()
                slot = flat[offset:offset + n].view(self._params[i].shape)
                slots.append(slot)
                self._bucket_of[i] = len(self._buckets)
                self._slot_of[i] = slot
                offset += n
            self._buckets.append(_Bucket(len(self._buckets), members, flat, slots))

    # -- per-iteration state ----------------------------------------------------------------------
    def _reset(self) -> None:
        self._s.armed = False
        self._s.started = False
        self._s.edges = [0] * len(self._params)
        self._s.got = [False] * len(self._params)
        self._s.ready = [False] * len(self._params)
        self._s.accumulated = 0
        self._s.flushed = False
        self._s.next_bucket = 0
        self._s.used_work = None
        self._s.used = None
        for b in self._buckets:
            b.pending, b.work, b.launched = len(b.params), None, False

    def _check_previous_reduction(self) -> None:
        if self._s.armed and self._s.started:
            unready = [self._names[i] for i, r in enumerate(self._s.ready) if not r]
            self._wait_launched()
            self._reset()
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a "
                "new one. This error indicates that your module has parameters that were not "
                "used in producing loss. You can enable unused parameter detection by passing "
                "the keyword argument `find_unused_parameters=True` to "
                "`tensorlite.nn.parallel.DistributedDataParallel`, and by making sure all "
                "`forward` function outputs participate in calculating loss. Parameters that "
                f"did not receive a gradient on rank {self.process_group.rank()}: "
                f"{', '.join(unready)}")

    def _wait_launched(self) -> None:
        for b in self._buckets:
            if b.work is not None:
                b.work.wait()

    # -- forward ----------------------------------------------------------------------------------
    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        self._check_previous_reduction()
        if self.broadcast_buffers and self.world_size > 1:
            with no_grad():
                self._broadcast_buffers()
        out = self.module(*inputs, **kwargs)
        if is_grad_enabled() and self.require_backward_grad_sync:
            self._prepare_for_backward(out)
        return out

    def _prepare_for_backward(self, out: Any) -> None:
        self._reset()
        self._s.generation += 1
        roots: list[Node] = []
        _outputs(out, roots)
        index, edges = self._index, self._s.edges
        hooked: list[Node] = []
        stack, seen = list(roots), set(map(id, roots))
        while stack:
            node = stack.pop()
            feeds = False
            for nxt in node.next:
                if type(nxt) is Node:
                    if id(nxt) not in seen:
                        seen.add(id(nxt))
                        stack.append(nxt)
                elif nxt is not None and id(nxt) in index:
                    edges[index[id(nxt)]] += 1
                    feeds = True
            if feeds:
                hooked.append(node)
        if not hooked:
            return
        for node in hooked:
            if node.backward is not None:
                node.register_hook(self._make_node_hook(node))
        self._s.armed = True

    # -- backward ---------------------------------------------------------------------------------
    def _make_node_hook(self, node: Node) -> Any:
        edges = [(j, self._index[id(e)]) for j, e in enumerate(node.next)
                 if e is not None and type(e) is not Node and id(e) in self._index]

        generation = self._s.generation

        def hook(grad_inputs: tuple[Any, ...], grad_outputs: tuple[Any, ...]) -> None:
            if generation != self._s.generation:
                self._wait_launched()  # (no request left behind)
                self._reset()
                raise RuntimeError(
                    "DistributedDataParallel: this backward goes through the graph of an "
                    "earlier forward of the wrapped module, whose gradients DDP no longer "
                    "tracks (each forward prepares the next backward). Call backward after each "
                    "forward, or run all but the last forward under no_sync().")
            if not self._s.armed:
                return
            self._s.started = True
            with no_grad():
                for j, k in edges:
                    g = grad_inputs[j] if j < len(grad_inputs) else None
                    if g is not None:
                        self._add(k, g)
                    self._s.edges[k] -= 1
                    if self._s.edges[k] == 0 and self._s.got[k]:
                        self._mark_ready(k)
            self._poke()
        return hook

    def _add(self, k: int, g: Tensor) -> None:
        slot = self._slot_of[k]
        if not self._s.got[k]:
            self._s.got[k] = True
            old = self._params[k].grad
            slot.copy_(g if old is None else old + g)
        else:
            slot.add_(g)

    def _mark_ready(self, k: int) -> None:
        if self._s.ready[k]:
            return
        self._s.ready[k] = True
        bucket = self._buckets[self._bucket_of[k]]
        bucket.pending -= 1
        while (self._s.next_bucket < len(self._buckets)
               and self._buckets[self._s.next_bucket].pending == 0):
            self._launch(self._buckets[self._s.next_bucket])
            self._s.next_bucket += 1

    def _launch(self, bucket: _Bucket) -> None:
        bucket.launched = True
        if bucket.index == 0:
            self._s.overlapped = 0
        if not all(self._s.ready):
            self._s.overlapped += 1
        if self.world_size == 1:
            return
        bucket.flat.div_(self.world_size)
        bucket.work = dist._all_reduce_work(self.process_group, bucket.flat,
                                            int(dist.ReduceOp.SUM))

    def _poke(self) -> None:
        """Let MPI progress the all-reduces in flight (MPICH progresses only inside MPI calls)."""
        for b in self._buckets[:self._s.next_bucket]:
            if b.work is not None:
                b.work.is_completed()

    def _flush(self) -> None:
        """Backward has produced every gradient it will (the engine now writes leaf grads):
        parameters reached only through skipped nodes are ready; unused ones are ready (slot
        = their ``.grad`` or zeros) when ``find_unused_parameters``; then the used-map."""
        self._s.flushed = True
        with no_grad():
            for k in range(len(self._params)):
                if self._s.ready[k]:
                    continue
                if self._s.got[k]:
                    self._mark_ready(k)
                elif self.find_unused_parameters:
                    old = self._params[k].grad
                    if old is None:
                        self._slot_of[k].zero_()
                    else:
                        self._slot_of[k].copy_(old)
                    self._mark_ready(k)
            if self.find_unused_parameters and self.world_size > 1:
                from ... import int32, tensor
                # used here: a gradient in this backward, or one accumulated under no_sync
                used = tensor([int(g or p.grad is not None)
                               for g, p in zip(self._s.got, self._params)], dtype=int32)
                self._s.used = used
                self._s.used_work = dist._all_reduce_work(self.process_group, used,
                                                        int(dist.ReduceOp.MAX))

    def _make_accumulated_hook(self, k: int) -> Any:
        def hook(param: Tensor) -> None:
            if not (self._s.armed and self._s.started):
                return
            if not self._s.flushed:
                self._flush()
            self._s.accumulated += 1
            bucket = self._buckets[self._bucket_of[k]]
            if bucket.launched:
                if bucket.work is not None:
                    bucket.work.wait()
                    bucket.work = None
                if self._s.got[k]:
                    with no_grad():
                        assert param.grad is not None
                        param.grad.copy_(self._slot_of[k])
            if self._s.accumulated == sum(self._s.got):
                self._finish()
        return hook

    def _finish(self) -> None:
        """The last parameter with a local gradient is done: set the unused parameters' grads
        to the average where some rank used them, then forget the iteration."""
        if all(b.launched for b in self._buckets):
            self._wait_launched()
            if self.find_unused_parameters:
                used = None
                if self._s.used_work is not None:
                    self._s.used_work.wait()
                    used = self._s.used
                with no_grad():
                    for k, p in enumerate(self._params):
                        if self._s.got[k]:
                            continue
                        anyone = used is not None and bool(used[k].item())
                        if anyone and p.grad is not None:
                            p.grad.copy_(self._slot_of[k])
                        elif anyone:
                            p.grad = self._slot_of[k].clone()
            self._reset()
        # else: a bucket still waits for an unused parameter; the next forward raises

    @property
    def overlapped_buckets(self) -> int:
        """Of the last backward: how many buckets were all-reduced while gradients of other
        buckets were still to come (the overlap; the last bucket never is)."""
        return self._s.overlapped

    # -- PyTorch's API --------------------------------------------------------------------------
    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes inside only accumulate local gradients (no communication); the first
        synchronized backward after it all-reduces the accumulated ``.grad``."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def state_dict(self, *, destination: dict[str, Any] | None = None, prefix: str = "",
                   keep_vars: bool = False) -> dict[str, Any]:
        """The wrapped module's state dict: keys without the ``module.`` prefix."""
        return self.module.state_dict(destination=destination, prefix=prefix,
                                      keep_vars=keep_vars)

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True,
                        assign: bool = False) -> _IncompatibleKeys:
        """Load into the wrapped module; a dict whose every key starts with ``module.`` (as
        PyTorch's DDP saves) has the prefix taken off first."""
        keys = list(state_dict)
        if keys and all(k.startswith("module.") for k in keys):
            state_dict = {k[len("module."):]: v for k, v in state_dict.items()}
        return self.module.load_state_dict(state_dict, strict=strict, assign=assign)

    def extra_repr(self) -> str:
        return ""


def _outputs(out: Any, roots: list[Node]) -> None:
    """The graph roots of a forward's outputs (tensors in tuples, lists and dicts)."""
    if isinstance(out, Tensor):
        if out.grad_fn is not None:
            roots.append(out.grad_fn)
    elif isinstance(out, (list, tuple)):
        for o in out:
            _outputs(o, roots)
    elif isinstance(out, dict):
        for o in out.values():
            _outputs(o, roots)
