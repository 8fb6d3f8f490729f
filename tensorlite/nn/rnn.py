"""The recurrent layers, as torch.nn: RNN, LSTM (with proj_size), GRU and RNNCell, LSTMCell,
GRUCell, with PyTorch's constructor arguments, parameter names and shapes (weight_ih_l{k},
weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}, weight_hr_l{k}, with a ``_reverse`` suffix for the
second direction), initialization (every parameter U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))),
input forms (batched (T, B, I) or batch-first (B, T, I), unbatched (T, I), a PackedSequence),
argument checks and results.  The arithmetic is in nn/functional/recurrent.py."""
from __future__ import annotations

import math
import numbers
import warnings
from typing import TYPE_CHECKING, Any, overload

from ..creation import empty, zeros
from . import init
from .functional.recurrent import gru_cell, lstm_cell, rnn_layers, rnn_relu_cell, rnn_tanh_cell
from .module import Module, Parameter
from .utils.rnn import PackedSequence

if TYPE_CHECKING:
    from ..dtypes import DTypeLike
    from ..tensor import Tensor

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


class RNNBase(Module):
    """What RNN, LSTM and GRU share: the parameters of every layer and direction, their
    initialization, the checks of the input and the initial state, and the forward over a
    padded batch, an unbatched sequence or a PackedSequence."""

    mode: str
    input_size: int
    hidden_size: int
    num_layers: int
    bias: bool
    batch_first: bool
    dropout: float
    bidirectional: bool
    proj_size: int

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: str | None = None,
                 dtype: DTypeLike | None = None) -> None:
        super().__init__()
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first = bias, batch_first
        self.dropout = float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        D = 2 if bidirectional else 1
        if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
                or not 0 <= float(dropout) <= 1):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=2)
        if not isinstance(bias, bool):
            raise TypeError(f"bias should be of type bool, got: {type(bias).__name__}")
        if not isinstance(batch_first, bool):
            raise TypeError(f"batch_first should be of type bool, got: "
                            f"{type(batch_first).__name__}")
        if not isinstance(input_size, int):
            raise TypeError(f"input_size should be of type int, got: {type(input_size).__name__}")
        if input_size <= 0:
            raise ValueError("input_size must be greater than zero")
        if not isinstance(hidden_size, int):
            raise TypeError(f"hidden_size should be of type int, got: "
                            f"{type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            for direction in range(D):
                layer_input = input_size if layer == 0 else real_hidden * D
                shapes: list[tuple[str, tuple[int, ...]]] = [
                    ("weight_ih_l{}{}", (gate_size, layer_input)),
                    ("weight_hh_l{}{}", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih_l{}{}", (gate_size,)), ("bias_hh_l{}{}", (gate_size,))]
                if proj_size > 0:
                    shapes += [("weight_hr_l{}{}", (proj_size, hidden_size))]
                suffix = "_reverse" if direction == 1 else ""
                names = []
                for fmt, shape in shapes:
                    name = fmt.format(layer, suffix)
                    setattr(self, name, Parameter(empty(shape, device=device, dtype=dtype)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self) -> list[Tensor]:
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[Parameter]]:
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """A no-op (cuDNN's packed weight layout does not exist here), accepted as torch's."""

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)

    # ------------------------------------------------------------------ checks
    def check_input(self, input: Tensor, batch_sizes: list[int] | None) -> None:
        w = self._flat_weights[0]
        if input.dtype != w.dtype:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype "
                             f"({w.dtype}). Convert input: input.to({w.dtype}), or convert "
                             f"model: model.to({input.dtype})")
        expected = 2 if batch_sizes is not None else 3
        if input.dim() != expected:
            raise RuntimeError(f"input must have {expected} dimensions, got {input.dim()}")
        if self.input_size != input.size(-1):
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.size(-1)}")

    def _mini_batch(self, input: Tensor, batch_sizes: list[int] | None) -> int:
        if batch_sizes is not None:
            return batch_sizes[0]
        return int(input.size(0) if self.batch_first else input.size(1))

    def get_expected_hidden_size(self, input: Tensor,
                                 batch_sizes: list[int] | None) -> tuple[int, int, int]:
        D = 2 if self.bidirectional else 1
        return (self.num_layers * D, self._mini_batch(input, batch_sizes),
                self.proj_size if self.proj_size > 0 else self.hidden_size)

    def get_expected_cell_size(self, input: Tensor,
                               batch_sizes: list[int] | None) -> tuple[int, int, int]:
        D = 2 if self.bidirectional else 1
        return self.num_layers * D, self._mini_batch(input, batch_sizes), self.hidden_size

    def check_hidden_size(self, hx: Tensor, expected_hidden_size: tuple[int, int, int],
                          msg: str = "Expected hidden size {}, got {}") -> None:
        if tuple(hx.size()) != expected_hidden_size:
            raise RuntimeError(msg.format(expected_hidden_size, list(hx.size())))

    # ------------------------------------------------------------------ forward
    def _run(self, input: Tensor | PackedSequence, hx: Any, name: str) -> tuple[Any, Any]:
        """The forward of RNN, LSTM and GRU; ``hx`` is a tensor or, for the LSTM, (h, c)."""
        lstm = self.mode == "LSTM"
        D = 2 if self.bidirectional else 1
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        packed = isinstance(input, PackedSequence)
        is_batched = True
        if isinstance(input, PackedSequence):
            data, bs, sorted_indices, unsorted_indices = input
            batch_sizes: list[int] | None = [int(b) for b in bs.tolist()]
            x = data
        else:
            batch_sizes = sorted_indices = unsorted_indices = None
            x = input
            if x.dim() not in (2, 3):
                raise ValueError(f"{name}: Expected input to be 2D or 3D, got {x.dim()}D "
                                 + ("tensor instead" if name == "RNN" else "instead"))
            is_batched = x.dim() == 3
            if not is_batched:
                x = x.unsqueeze(0 if self.batch_first else 1)
                if hx is not None:
                    if lstm:
                        if hx[0].dim() != 2 or hx[1].dim() != 2:
                            raise RuntimeError("For unbatched 2-D input, hx and cx should also "
                                               f"be 2-D but got ({hx[0].dim()}-D, "
                                               f"{hx[1].dim()}-D) tensors")
                        hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
                    else:
                        if hx.dim() != 2:
                            raise RuntimeError("For unbatched 2-D input, hx should also be 2-D "
                                               f"but got {hx.dim()}-D tensor")
                        hx = hx.unsqueeze(1)
            elif hx is not None:
                if lstm and (hx[0].dim() != 3 or hx[1].dim() != 3):
                    raise RuntimeError("For batched 3-D input, hx and cx should also be 3-D but "
                                       f"got ({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
                if not lstm and hx.dim() != 3:
                    raise RuntimeError("For batched 3-D input, hx should also be 3-D but got "
                                       f"{hx.dim()}-D tensor")
        self.check_input(x, batch_sizes)
        B = self._mini_batch(x, batch_sizes)
        if hx is None:
            h0 = zeros((self.num_layers * D, B, real_hidden), dtype=x.dtype, device=x.device)
            c0 = (zeros((self.num_layers * D, B, self.hidden_size), dtype=x.dtype,
                        device=x.device) if lstm else None)
        elif lstm:
            h0, c0 = hx
            self.check_hidden_size(h0, self.get_expected_hidden_size(x, batch_sizes),
                                   "Expected hidden[0] size {}, got {}")
            self.check_hidden_size(c0, self.get_expected_cell_size(x, batch_sizes),
                                   "Expected hidden[1] size {}, got {}")
        else:
            h0, c0 = hx, None
            self.check_hidden_size(h0, self.get_expected_hidden_size(x, batch_sizes))
        if sorted_indices is not None:  # the caller's batch order -> the sorted one
            h0 = h0[:, sorted_indices]
            c0 = None if c0 is None else c0[:, sorted_indices]
        if batch_sizes is None:  # (T, B, I) rows, step after step
            seq = x.transpose(0, 1) if self.batch_first else x
            T = seq.shape[0]
            rows = seq.reshape(T * B, self.input_size)
            steps = [B] * T
        else:
            rows, steps = x, batch_sizes
        weights = self._flat_weights
        per = len(weights) // (self.num_layers * D)
        groups = []
        for k in range(self.num_layers * D):
            w = weights[k * per:(k + 1) * per]
            w_ih, w_hh = w[0], w[1]
            b_ih, b_hh = (w[2], w[3]) if self.bias else (None, None)
            groups.append((w_ih, w_hh, b_ih, b_hh, w[-1] if self.proj_size > 0 else None))
        out, h_n, c_n = rnn_layers(self.mode, rows, steps, h0, c0, groups, self.num_layers,
                                   self.dropout, self.training, self.bidirectional)
        if unsorted_indices is not None:
            h_n = h_n[:, unsorted_indices]
            c_n = None if c_n is None else c_n[:, unsorted_indices]
        hidden: Any = (h_n, c_n) if lstm else h_n
        if packed:
            assert isinstance(input, PackedSequence)
            return PackedSequence(out, input.batch_sizes, sorted_indices,
                                  unsorted_indices), hidden
        output = out.reshape(len(steps), B, out.shape[-1])
        if self.batch_first:
            output = output.transpose(0, 1)
        if not is_batched:
            output = output.squeeze(0 if self.batch_first else 1)
            hidden = (h_n.squeeze(1), c_n.squeeze(1)) if lstm else h_n.squeeze(1)
        return output, hidden


def _no_proj_size(kwargs: dict[str, Any], cls: str) -> None:
    if "proj_size" in kwargs:
        raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
    if kwargs:
        raise TypeError(f"{cls}.__init__() got an unexpected keyword argument "
                        f"'{next(iter(kwargs))}'")


class RNN(RNNBase):
    """An Elman RNN, ``h_t = nonlinearity(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` with
    ``nonlinearity`` 'tanh' or 'relu', stacked ``num_layers`` deep."""

    nonlinearity: str

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device: str | None = None,
                 dtype: DTypeLike | None = None, **kwargs: Any) -> None:
        _no_proj_size(kwargs, "RNN")
        self.nonlinearity = nonlinearity
        if nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             "'relu'.")
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype)

    @overload
    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]: ...

    @overload
    def forward(self, input: PackedSequence,
                hx: Tensor | None = None) -> tuple[PackedSequence, Tensor]: ...

    def forward(self, input: Tensor | PackedSequence, hx: Tensor | None = None) -> Any:
        """(output, h_n): output (T, B, D*H) (batch-first: (B, T, D*H); unbatched (T, D*H); a
        PackedSequence for one), h_n (num_layers*D, B, H)."""
        return self._run(input, hx, "RNN")


class LSTM(RNNBase):
    """A long short-term memory RNN (gates i, f, g, o in that order in the weights), with an
    optional projection of h to ``proj_size`` (weight_hr_l{k})."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: str | None = None,
                 dtype: DTypeLike | None = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)

    @overload
    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
                ) -> tuple[Tensor, tuple[Tensor, Tensor]]: ...

    @overload
    def forward(self, input: PackedSequence, hx: tuple[Tensor, Tensor] | None = None
                ) -> tuple[PackedSequence, tuple[Tensor, Tensor]]: ...

    def forward(self, input: Tensor | PackedSequence,
                hx: tuple[Tensor, Tensor] | None = None) -> Any:
        """(output, (h_n, c_n)); h_n has proj_size features when proj_size > 0."""
        return self._run(input, hx, "LSTM")


class GRU(RNNBase):
    """A gated recurrent unit RNN (gates r, z, n in that order in the weights; r scales
    ``h W_hn^T + b_hn`` as torch's)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device: str | None = None,
                 dtype: DTypeLike | None = None, **kwargs: Any) -> None:
        _no_proj_size(kwargs, "GRU")
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype)

    @overload
    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]: ...

    @overload
    def forward(self, input: PackedSequence,
                hx: Tensor | None = None) -> tuple[PackedSequence, Tensor]: ...

    def forward(self, input: Tensor | PackedSequence, hx: Tensor | None = None) -> Any:
        return self._run(input, hx, "GRU")


# --------------------------------------------------------------------------------- cells
class RNNCellBase(Module):
    """weight_ih (chunks*H, I), weight_hh (chunks*H, H), bias_ih, bias_hh (chunks*H), all
    U(-1/sqrt(H), 1/sqrt(H))."""

    input_size: int
    hidden_size: int
    bias: bool
    weight_ih: Parameter
    weight_hh: Parameter
    bias_ih: Parameter | None
    bias_hh: Parameter | None

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device: str | None = None, dtype: DTypeLike | None = None) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = Parameter(empty((num_chunks * hidden_size, input_size), device=device,
                                         dtype=dtype))
        self.weight_hh = Parameter(empty((num_chunks * hidden_size, hidden_size), device=device,
                                         dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(num_chunks * hidden_size, device=device, dtype=dtype))
            self.bias_hh = Parameter(empty(num_chunks * hidden_size, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.__dict__["nonlinearity"] != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _batched(self, name: str, input: Tensor, hx: Any, states: int) -> tuple[Tensor, Any,
                                                                                   bool]:
        """input as (B, I) and hx as (B, H) tensors (a tuple of two for the LSTM), zeros when
        None; and whether the input was batched."""
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None:
            for k, h in enumerate(hx if states == 2 else (hx,)):
                if h.dim() not in (1, 2):
                    what = f"hx[{k}]" if states == 2 else "hidden"
                    raise ValueError(f"{name}: Expected {what} to be 1D or 2D, got {h.dim()}D "
                                     "instead")
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
        if hx is None:
            z = zeros((input.size(0), self.hidden_size), dtype=input.dtype, device=input.device)
            hx = (z, z) if states == 2 else z
        elif not batched:
            hx = (hx[0].unsqueeze(0), hx[1].unsqueeze(0)) if states == 2 else hx.unsqueeze(0)
        return input, hx, batched


class RNNCell(RNNCellBase):
    """One step of an Elman RNN: ``h' = nonlinearity(x W_ih^T + b_ih + h W_hh^T + b_hh)``."""

    nonlinearity: str

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device: str | None = None,
                 dtype: DTypeLike | None = None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, h, batched = self._batched("RNNCell", input, hx, 1)
        if self.nonlinearity == "tanh":
            ret = rnn_tanh_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        elif self.nonlinearity == "relu":
            ret = rnn_relu_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        return ret if batched else ret.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step: (h', c') from (h, c); gates i, f, g, o."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: str | None = None, dtype: DTypeLike | None = None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input: Tensor,
                hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        x, h, batched = self._batched("LSTMCell", input, hx, 2)
        h2, c2 = lstm_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return (h2, c2) if batched else (h2.squeeze(0), c2.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step; gates r, z, n."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: str | None = None, dtype: DTypeLike | None = None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, h, batched = self._batched("GRUCell", input, hx, 1)
        ret = gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return ret if batched else ret.squeeze(0)
