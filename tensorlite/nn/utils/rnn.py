"""Padded and packed sequences, as torch.nn.utils.rnn: ``pad_sequence``, ``pack_padded_sequence``,
``pad_packed_sequence``, ``pack_sequence``, ``unpad_sequence``, ``unpack_sequence``,
``invert_permutation`` and ``PackedSequence`` (the recurrent layers take and return it).

A ``PackedSequence`` holds the time steps of a batch of sequences one after the other: ``data``
is (sum of lengths, *), step t contributing the ``batch_sizes[t]`` sequences still running
(sorted longest first); ``batch_sizes`` is an int64 tensor on the CPU; ``sorted_indices`` maps
the sorted batch back to the caller's order (None when the caller's batch was already sorted).

Every conversion here is one gather (advanced indexing with a precomputed row index) on the
rows of the input, so gradients flow to the data of every sequence and never to padding.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from ... import dtypes
from ...creation import full, tensor
from ...ops.movement import cat
from ...tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence",
           "pad_packed_sequence", "pad_sequence", "unpad_sequence", "pack_sequence",
           "unpack_sequence"]


class PackedSequence_(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(PackedSequence_):
    """The packed time steps of a batch of variable-length sequences (see the module
    docstring).  Build it with ``pack_padded_sequence`` or ``pack_sequence``; it unpacks as a
    4-tuple ``(data, batch_sizes, sorted_indices, unsorted_indices)``."""

    def __new__(cls, data: Any, batch_sizes: Tensor | None = None,
                sorted_indices: Tensor | None = None,
                unsorted_indices: Tensor | None = None) -> PackedSequence:
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        assert batch_sizes is not None
        if str(batch_sizes.device).split(":")[0] != "cpu":
            raise ValueError(
                "batch_sizes should always be on CPU. Instances of PackedSequence should never "
                "be created manually. They should be instantiated by functions like "
                "pack_sequence and pack_padded_sequences in nn.utils.rnn. "
                "https://pytorch.org/docs/stable/nn.html#torch.nn.utils.rnn.pack_sequence")
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """``data.to(*args, **kwargs)``; the indices follow data to its device, batch_sizes
        stays on the CPU."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        dev = data.device
        return type(self)(data, self.batch_sizes,
                          None if self.sorted_indices is None else self.sorted_indices.to(dev),
                          None if self.unsorted_indices is None else
                          self.unsorted_indices.to(dev))

    def cpu(self) -> PackedSequence:
        return self.to("cpu")

    def cuda(self, device: Any = None) -> PackedSequence:
        return self.to("cuda" if device is None else device)

    def pin_memory(self) -> PackedSequence:
        return self

    def double(self) -> PackedSequence:
        return self.to(dtype=dtypes.float64)

    def float(self) -> PackedSequence:
        return self.to(dtype=dtypes.float32)

    def half(self) -> PackedSequence:
        return self.to(dtype=dtypes.float16)

    def long(self) -> PackedSequence:
        return self.to(dtype=dtypes.int64)

    def int(self) -> PackedSequence:
        return self.to(dtype=dtypes.int32)

    @property
    def is_cuda(self) -> bool:
        return bool(self.data.is_cuda)

    def is_pinned(self) -> bool:
        return False


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The permutation ``q`` with ``q[permutation[i]] = i`` (None for None)."""
    if permutation is None:
        return None
    perm = permutation.tolist()
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tensor(inv, dtype=dtypes.int64, device=permutation.device)


def _int_list(values: Any, what: str) -> list[int]:
    if isinstance(values, Tensor):
        values = values.tolist()
    return [int(v) for v in values]


def _rows(input: Tensor, index: list[int], shape: tuple[int, ...],
          padding_value: float | None = None) -> Tensor:
    """``input``'s rows (its first dim) at ``index``, reshaped to ``shape``; with
    ``padding_value``, index ``len(input)`` is a row of that value (the padding)."""
    if padding_value is not None:
        pad = full((1,) + tuple(input.shape[1:]), padding_value, dtype=input.dtype,
                   device=input.device)
        input = cat([input, pad])
    idx = tensor(index, dtype=dtypes.int64, device=input.device)
    return input[idx].reshape(shape)


def pack_padded_sequence(input: Tensor, lengths: Tensor | Sequence[int], batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack ``input`` (T, B, *) (or (B, T, *) when ``batch_first``) of sequences with
    ``lengths``: sorted longest first when ``enforce_sorted`` (else sorted here, and the result
    remembers the permutation)."""
    lens = _int_list(lengths, "lengths")
    bdim, tdim = (0, 1) if batch_first else (1, 0)
    if input.ndim < 2:
        raise RuntimeError(f"pack_padded_sequence: input must have at least 2 dimensions "
                           f"(time and batch), got shape {list(input.shape)}")
    T, Bn = input.shape[tdim], input.shape[bdim]
    if len(lens) != Bn:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{len(lens)} (batch_size={Bn})")
    if enforce_sorted:
        if any(a < b for a, b in zip(lens, lens[1:])):
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is "
                "True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
                "pack_sequence to sidestep this requirement if you do not need ONNX "
                "exportability.")
        order = list(range(Bn))
        sorted_indices = None
    else:
        order = sorted(range(Bn), key=lambda j: -lens[j])  # stable, as torch.sort here
        sorted_indices = tensor(order, dtype=dtypes.int64, device=input.device)
    if Bn and min(lens) <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element "
                           "in 'lengths' that is <= 0")
    if Bn and max(lens) > T:
        raise RuntimeError(f"pack_padded_sequence: a length ({max(lens)}) exceeds the input's "
                           f"number of time steps ({T})")
    slens = [lens[j] for j in order]
    steps = slens[0] if slens else 0
    batch_sizes = [sum(1 for n in slens if n > t) for t in range(steps)]
    index: list[int] = []  # row of input.reshape(-1, *) for step t, sorted rank r
    for t, b in enumerate(batch_sizes):
        index.extend((order[r] * T + t) if batch_first else (t * Bn + order[r]) for r in range(b))
    rest = tuple(input.shape[2:])
    data = _rows(input.reshape((T * Bn,) + rest), index, (len(index),) + rest)
    return PackedSequence(data, tensor(batch_sizes, dtype=dtypes.int64, device="cpu"),
                          sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """The inverse of ``pack_padded_sequence``: (padded (T, B, *) or (B, T, *), lengths) in the
    caller's batch order, padded with ``padding_value`` up to ``total_length`` steps."""
    batch_sizes = _int_list(sequence.batch_sizes, "batch_sizes")
    steps = len(batch_sizes)
    if total_length is not None:
        if total_length < steps:
            raise ValueError("Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {steps}")
        steps = total_length
    data = sequence.data
    Bn = batch_sizes[0] if batch_sizes else 0
    lens = [sum(1 for b in batch_sizes if b > r) for r in range(Bn)]  # per sorted rank
    offsets, off = [], 0
    for b in batch_sizes:
        offsets.append(off)
        off += b
    rank = (list(range(Bn)) if sequence.unsorted_indices is None
            else _int_list(sequence.unsorted_indices, "unsorted_indices"))
    pad = data.shape[0]
    if batch_first:
        index = [offsets[t] + rank[j] if t < lens[rank[j]] else pad
                 for j in range(Bn) for t in range(steps)]
        shape = (Bn, steps)
    else:
        index = [offsets[t] + rank[j] if t < lens[rank[j]] else pad
                 for t in range(steps) for j in range(Bn)]
        shape = (steps, Bn)
    padded = _rows(data, index, shape + tuple(data.shape[1:]), padding_value)
    return padded, tensor([lens[rank[j]] for j in range(Bn)], dtype=dtypes.int64, device="cpu")


def pad_sequence(sequences: Tensor | Iterable[Tensor], batch_first: bool = False,
                 padding_value: float = 0.0, padding_side: str = "right") -> Tensor:
    """Stack variable-length sequences (each (L_i, *)) into (T, B, *) (or (B, T, *) when
    ``batch_first``), T the longest length, filling with ``padding_value`` after each sequence
    (``padding_side='right'``) or before it (``'left'``)."""
    if not isinstance(sequences, Iterable):
        raise RuntimeError("pad_sequence: Expected iterable for input sequences, but got arg of "
                           f"type: {type(sequences)}")
    seqs = list(sequences)
    if not seqs:
        raise RuntimeError("received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got "
                           f"{padding_side}.")
    rest = tuple(seqs[0].shape[1:])
    for s in seqs[1:]:
        if tuple(s.shape[1:]) != rest:
            raise RuntimeError(f"pad_sequence: every sequence must have the trailing shape "
                               f"{list(rest)} of the first, got {list(s.shape)}")
    flat = seqs
    lens = [s.shape[0] for s in flat]
    T, Bn = max(lens), len(seqs)
    starts, off = [], 0
    for n in lens:
        starts.append(off)
        off += n
    pad = off

    def row(t: int, j: int) -> int:
        k = t if padding_side == "right" else t - (T - lens[j])
        return starts[j] + k if 0 <= k < lens[j] else pad

    if batch_first:
        index = [row(t, j) for j in range(Bn) for t in range(T)]
        shape = (Bn, T)
    else:
        index = [row(t, j) for t in range(T) for j in range(Bn)]
        shape = (T, Bn)
    return _rows(cat(flat), index, shape + rest, padding_value)


def unpad_sequence(padded_sequences: Tensor, lengths: Tensor | Sequence[int],
                   batch_first: bool = False) -> list[Tensor]:
    """The sequences of a padded batch, each cut to its length."""
    lens = _int_list(lengths, "lengths")
    if batch_first:
        return [padded_sequences[j, :n] for j, n in enumerate(lens)]
    return [padded_sequences[:n, j] for j, n in enumerate(lens)]


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of variable-length sequences (each (L_i, *))."""
    lengths = [v.size(0) for v in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The list of sequences a PackedSequence holds, in the caller's order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
