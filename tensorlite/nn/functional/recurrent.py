"""The recurrent cells and the multi-layer, bidirectional recurrence of nn.RNN, nn.LSTM and nn.GRU,
with PyTorch's gate order and formulas (torch.rnn_tanh_cell, lstm_cell, gru_cell and
aten/src/ATen/native/RNN.cpp):

    RNN   h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)              act = tanh or relu
    LSTM  i, f, g, o = chunks of x W_ih^T + b_ih + h W_hh^T + b_hh  (in that order)
          c' = sigmoid(f) c + sigmoid(i) tanh(g);  h' = sigmoid(o) tanh(c')  [then h' W_hr^T]
    GRU   r, z, n: r = sigmoid(x_r + h_r), z = sigmoid(x_z + h_z)   x_* = x W_ih^T + b_ih,
          n = tanh(x_n + r * h_n),  h' = (h - n) z + n               h_* = h W_hh^T + b_hh

Everything is composed of differentiable tensor ops (linear, sigmoid, tanh, slicing, cat), so
gradients, also of higher order, come from the ops.  The input projection x W_ih^T + b_ih of
every time step is one matmul per layer and direction; each step then does one matmul with
W_hh and the pointwise gate arithmetic.

Sequences are handled in the packed layout (nn.utils.rnn.PackedSequence): the rows of step t
are the ``batch_sizes[t]`` sequences still running, longest first; a padded batch is the
special case of equal batch sizes.  A sequence's final state is its state after its last step,
so padding never reaches h_n.  These functions are tensorlite's (torch keeps them in
``torch._VF``); the modules in nn/rnn.py call them.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ...autograd.function import Function
from ...ops.movement import cat, stack
from .fusion import linear
from .regularization import dropout as _dropout

if TYPE_CHECKING:
    from ...tensor import Tensor

    # one time step: (gi, h, c, w_hh, b_hh, w_hr) -> (h, c)
    _Step = Callable[[Tensor, Tensor, Any, Tensor, Any, Any], tuple[Tensor, Any]]

__all__ = ["rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell", "rnn_layers"]


# ----------------------------------------------------------------------------- one step
# Each step takes the precomputed input projection gi (b, G) of its rows, the state h (b, H_out)
# (and c (b, H) for the LSTM) and returns the new (h, c); c is None except for the LSTM.
def _tanh_step(gi: Tensor, h: Tensor, c: Tensor | None, w_hh: Tensor, b_hh: Tensor | None,
              w_hr: Tensor | None) -> tuple[Tensor, Tensor | None]:
    return (gi + linear(h, w_hh, b_hh)).tanh(), None


def _relu_step(gi: Tensor, h: Tensor, c: Tensor | None, w_hh: Tensor, b_hh: Tensor | None,
              w_hr: Tensor | None) -> tuple[Tensor, Tensor | None]:
    return (gi + linear(h, w_hh, b_hh)).relu(), None


def _lstm_step(gi: Tensor, h: Tensor, c: Any, w_hh: Tensor, b_hh: Tensor | None,
               w_hr: Tensor | None) -> tuple[Tensor, Tensor]:
    gates = gi + linear(h, w_hh, b_hh)
    H = c.shape[1]
    s = gates.sigmoid()  # i, f and o (the g quarter is unused)
    c2 = s[:, H:2 * H] * c + s[:, :H] * gates[:, 2 * H:3 * H].tanh()
    h2 = s[:, 3 * H:] * c2.tanh()
    return (h2 if w_hr is None else linear(h2, w_hr)), c2


def _gru_step(gi: Tensor, h: Tensor, c: Tensor | None, w_hh: Tensor, b_hh: Tensor | None,
             w_hr: Tensor | None) -> tuple[Tensor, Tensor | None]:
    gh = linear(h, w_hh, b_hh)
    H = h.shape[1]
    rz = (gi[:, :2 * H] + gh[:, :2 * H]).sigmoid()
    n = (gi[:, 2 * H:] + rz[:, :H] * gh[:, 2 * H:]).tanh()
    return (h - n) * rz[:, H:] + n, None


STEPS: dict[str, _Step] = {"RNN_TANH": _tanh_step, "RNN_RELU": _relu_step, "LSTM": _lstm_step,
                           "GRU": _gru_step}


# ----------------------------------------------------------------------------- cells
def _check_cell(name: str, input: Tensor, hx: tuple[Tensor, ...], w_ih: Tensor, w_hh: Tensor,
                chunks: int) -> None:
    H = w_hh.shape[1]
    if input.ndim != 2 or input.shape[1] != w_ih.shape[1]:
        raise RuntimeError(f"{name}: input has shape {list(input.shape)}, expected "
                           f"[batch, {w_ih.shape[1]}] (the weight_ih's input size)")
    for k, h in enumerate(hx):
        if tuple(h.shape) != (input.shape[0], H):
            raise RuntimeError(f"{name}: hidden state {k} has shape {list(h.shape)}, expected "
                               f"{[input.shape[0], H]} (batch, hidden_size)")
    if w_ih.shape[0] != chunks * H or w_hh.shape[0] != chunks * H:
        raise RuntimeError(f"{name}: weight_ih {list(w_ih.shape)} and weight_hh "
                           f"{list(w_hh.shape)} must have {chunks} * hidden_size = {chunks * H} "
                           "rows")


def rnn_tanh_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                  b_hh: Tensor | None = None) -> Tensor:
    """One step of an Elman RNN: ``tanh(input W_ih^T + b_ih + hx W_hh^T + b_hh)``; input
    (B, I), hx (B, H)."""
    _check_cell("rnn_tanh_cell", input, (hx,), w_ih, w_hh, 1)
    return _tanh_step(linear(input, w_ih, b_ih), hx, None, w_hh, b_hh, None)[0]


def rnn_relu_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                  b_hh: Tensor | None = None) -> Tensor:
    """One step of an Elman RNN with relu."""
    _check_cell("rnn_relu_cell", input, (hx,), w_ih, w_hh, 1)
    return _relu_step(linear(input, w_ih, b_ih), hx, None, w_hh, b_hh, None)[0]


def lstm_cell(input: Tensor, hx: tuple[Tensor, Tensor], w_ih: Tensor, w_hh: Tensor,
              b_ih: Tensor | None = None, b_hh: Tensor | None = None
              ) -> tuple[Tensor, Tensor]:
    """One LSTM step; ``hx`` is (h, c), each (B, H); returns (h', c')."""
    _check_cell("lstm_cell", input, tuple(hx), w_ih, w_hh, 4)
    return _lstm_step(linear(input, w_ih, b_ih), hx[0], hx[1], w_hh, b_hh, None)


def gru_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
             b_hh: Tensor | None = None) -> Tensor:
    """One GRU step; hx (B, H)."""
    _check_cell("gru_cell", input, (hx,), w_ih, w_hh, 3)
    return _gru_step(linear(input, w_ih, b_ih), hx, None, w_hh, b_hh, None)[0]


# ----------------------------------------------------------------------------- sequences
class _Steps(Function):
    """The rows of each time step (``x.split(sizes)``) as ONE node whose backward joins the
    steps' gradients with one cat.  (Separate slices would each send back a zeros-filled
    gradient of all of ``x``: quadratic in the number of steps.)"""

    @staticmethod
    def forward(ctx: Any, x: Tensor, sizes: int | list[int]) -> tuple[Tensor, ...]:
        return tuple(x.split(sizes))

    @staticmethod
    def backward(ctx: Any, *grads: Tensor) -> tuple[Tensor, None]:
        return cat(grads), None


def _direction(step: _Step, gi: Tensor, batch_sizes: list[int], h0: Tensor, c0: Tensor | None,
               w_hh: Tensor, b_hh: Tensor | None, w_hr: Tensor | None, reverse: bool
               ) -> tuple[Tensor, Tensor, Tensor | None]:
    """Run ``step`` over the packed rows ``gi`` (N, G) of the time steps with ``batch_sizes``
    from the initial states h0 (B, H_out), c0 (B, H) or None, forward or in reverse.  Returns
    the outputs (N, H_out) in the rows of gi, and the final h (B, H_out) and c."""
    T = len(batch_sizes)
    B = h0.shape[0]
    pieces = (gi,) if T == 1 else _Steps.apply(gi, B if B and batch_sizes.count(B) == T
                                               else batch_sizes)
    outs: list[Any] = [None] * T
    h, c = h0, c0
    if not reverse:  # a sequence's last step leaves its rows (the shortest ones) in place
        done_h, done_c, rows = [], [], B
        for t in range(T):
            b = batch_sizes[t]
            if b < rows:
                done_h.append(h[b:])
                h = h[:b]
                if c is not None:
                    done_c.append(c[b:])
                    c = c[:b]
                rows = b
            h, c = step(pieces[t], h, c, w_hh, b_hh, w_hr)
            outs[t] = h
        if done_h:
            h = cat([h] + done_h[::-1])
            if c is not None:
                c = cat([c] + done_c[::-1])
    else:  # sequences join (from their initial state) at their last step
        rows = batch_sizes[-1]
        if rows < B:
            h = h[:rows]
            c = None if c is None else c[:rows]
        for t in range(T - 1, -1, -1):
            b = batch_sizes[t]
            if b > rows:
                h = cat([h, h0[rows:b]])
                if c is not None:
                    c = cat([c, c0[rows:b]])  # type: ignore[index]  # c0 is given with c
                rows = b
            h, c = step(pieces[t], h, c, w_hh, b_hh, w_hr)
            outs[t] = h
    return (outs[0] if T == 1 else cat(outs)), h, c


def rnn_layers(mode: str, input: Tensor, batch_sizes: list[int], h0: Tensor, c0: Tensor | None,
               weights: Sequence[tuple[Tensor, Tensor, Tensor | None, Tensor | None,
                                        Tensor | None]], num_layers: int, dropout: float,
               training: bool, bidirectional: bool) -> tuple[Tensor, Tensor, Any]:
    """The recurrence of nn.RNN/LSTM/GRU over packed rows.

    ``input`` (N, I) holds the rows of the time steps one after the other (``batch_sizes[t]``
    rows for step t, a non-increasing list of ints; for a padded (T, B, I) batch, its reshape to
    (T*B, I) with batch_sizes [B] * T).  ``h0`` (L*D, B, H_out) and, for 'LSTM', ``c0``
    (L*D, B, H) are the initial states; ``weights[l * D + d]`` is (w_ih, w_hh, b_ih, b_hh,
    w_hr) of layer l, direction d (None for absent ones).  Dropout with probability
    ``dropout`` applies to the outputs of every layer but the last when ``training``.  Returns
    (output (N, D*H_out), h_n (L*D, B, H_out), c_n or None)."""
    if not batch_sizes:
        raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
    step = STEPS[mode]
    D = 2 if bidirectional else 1
    x, hs, cs = input, [], []
    for layer in range(num_layers):
        outs = []
        for d in range(D):
            k = layer * D + d
            w_ih, w_hh, b_ih, b_hh, w_hr = weights[k]
            out, h, c = _direction(step, linear(x, w_ih, b_ih), batch_sizes, h0[k],
                                   None if c0 is None else c0[k], w_hh, b_hh, w_hr, d == 1)
            outs.append(out)
            hs.append(h)
            cs.append(c)
        x = outs[0] if D == 1 else cat(outs, 1)
        if dropout and training and layer < num_layers - 1:
            x = _dropout(x, dropout, True)
    return x, stack(hs), (None if c0 is None else stack(cs))  # type: ignore[arg-type]
