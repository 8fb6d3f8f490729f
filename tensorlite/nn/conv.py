"""Convolution and pooling layers (torch.nn names, arguments, defaults and initializations)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..creation import empty
from . import functional as F
from . import init
from .layers import add_weight_and_bias
from .module import Module, Parameter

if TYPE_CHECKING:
    from ..dtypes import DTypeLike
    from ..tensor import Tensor

    _Size1 = int | tuple[int]
    _Size2 = int | tuple[int, int]
    _Size3 = int | tuple[int, int, int]

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "MaxPool1d",
           "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
           "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "MaxUnpool1d", "MaxUnpool2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _ntuple(value: Any, n: int) -> tuple[Any, ...]:
    if isinstance(value, (tuple, list)):
        value = tuple(value)
        return value * n if len(value) == 1 else value
    return (value,) * n


class _ConvNd(Module):
    """The convolution layers' shared state: torch's attributes, checks, init and repr."""

    _dims = 2
    _transposed = False
    weight: Parameter
    bias: Parameter | None
    padding: str | tuple[int, ...]

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: str | None = None,
                 dtype: DTypeLike | None = None, output_padding: Any = 0) -> None:
        super().__init__()
        name, n = type(self).__name__, self._dims
        if groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by groups "
                             f"({groups})")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by groups "
                             f"({groups})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {list(_PADDING_MODES)}, got "
                             f"{padding_mode!r}")
        if self._transposed and padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {name}')
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = _ntuple(kernel_size, n), _ntuple(stride, n)
        self.dilation, self.groups, self.padding_mode = _ntuple(dilation, n), groups, padding_mode
        self.output_padding = _ntuple(output_padding, n)
        self.transposed = self._transposed
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"{name}: invalid padding string {padding!r}, should be one of "
                                 "['valid', 'same']")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided "
                                 "convolutions")
            self.padding = padding
        else:
            self.padding = _ntuple(padding, n)
        # F.pad's (before, after) pairs, last dim first, for the non-zero padding modes
        pads: list[int] = []
        numeric: tuple[Any, ...] = self.padding if isinstance(self.padding, tuple) else ()
        for d, k, i in zip(reversed(self.dilation), reversed(self.kernel_size),
                           reversed(range(n))):
            if self.padding == "same":
                total = d * (k - 1)
                pads += [total // 2, total - total // 2]
            elif self.padding == "valid":
                pads += [0, 0]
            else:
                pads += [int(numeric[i])] * 2
        self._reversed_padding_repeated_twice = tuple(pads)
        self._reversed_padding = self._reversed_padding_repeated_twice
        if self._transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
            self.weight = Parameter(empty(shape, device=device, dtype=dtype))
            if bias:
                self.bias = Parameter(empty(out_channels, device=device, dtype=dtype))
            else:
                self.register_parameter("bias", None)
            self.reset_parameters()
        else:
            add_weight_and_bias(self, (out_channels, in_channels // groups) + self.kernel_size,
                                bias, device, dtype)

    def reset_parameters(self) -> None:
        init._default_layer_init_(self.weight, self.bias)

    def _conv_forward(self, input: Tensor, fn: Any) -> Tensor:
        if self.padding_mode != "zeros":
            return fn(F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode),
                      self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return fn(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                  self.groups)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self._dims:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._dims:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._dims:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L) or (C, L) input.  weight (out, in/groups, k)
    ~ kaiming_uniform_(a=sqrt(5)), bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as torch."""

    _dims = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size: _Size1,
                 stride: _Size1 = 1, padding: _Size1 | str = 0, dilation: _Size1 = 1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: str | None = None, dtype: DTypeLike | None = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        return self._conv_forward(input, F.conv1d)


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W) or (C, H, W) input.  weight (out, in/groups, kh, kw)
    ~ kaiming_uniform_(a=sqrt(5)), bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as torch."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: _Size2,
                 stride: _Size2 = 1, padding: _Size2 | str = 0, dilation: _Size2 = 1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: str | None = None, dtype: DTypeLike | None = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        return self._conv_forward(input, F.conv2d)


class Conv3d(_ConvNd):
    """3-D convolution over (N, C, D, H, W) or (C, D, H, W) input, initialized as Conv2d."""

    _dims = 3

    def __init__(self, in_channels: int, out_channels: int, kernel_size: _Size3,
                 stride: _Size3 = 1, padding: _Size3 | str = 0, dilation: _Size3 = 1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: str | None = None, dtype: DTypeLike | None = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        return self._conv_forward(input, F.conv3d)


class _ConvTransposeNd(_ConvNd):
    _transposed = True
    _conv_transpose: Any = staticmethod(F.conv_transpose2d)  # the functional form

    def forward(self, input: Tensor, output_size: list[int] | None = None) -> Tensor:
        out: Tensor = self._conv_transpose(input, self.weight, self.bias, self.stride,
                                           self.padding,
                                           self._output_padding(input, output_size),
                                           self.groups, self.dilation)
        return out

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", device: str | None = None,
                 dtype: DTypeLike | None = None) -> None:
        if isinstance(padding, str):
            raise ValueError(f'{type(self).__name__}: padding="{padding}" is not supported '
                             "for transposed convolutions")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype, output_padding)

    def _output_padding(self, input: Tensor, output_size: Any) -> tuple[int, ...]:
        """The output_padding that gives ``output_size`` (torch's rule and message)."""
        if output_size is None:
            return self.output_padding
        n = self._dims
        lead = 2 if input.ndim == n + 2 else 1
        size = [int(v) for v in output_size]
        if len(size) == lead + n:
            size = size[lead:]
        if len(size) != n:
            raise ValueError(f"ConvTranspose{n}D: for {input.ndim}D input, output_size must "
                             f"have {n} or {lead + n} elements (got {len(output_size)})")
        assert isinstance(self.padding, tuple)
        lo = [(input.shape[lead + d] - 1) * self.stride[d] - 2 * self.padding[d]
              + self.dilation[d] * (self.kernel_size[d] - 1) + 1 for d in range(n)]
        hi = [lo[d] + self.stride[d] - 1 for d in range(n)]
        for d in range(n):
            if not lo[d] <= size[d] <= hi[d]:
                raise ValueError(f"requested an output size of {size}, but valid sizes range "
                                 f"from {lo} to {hi} (for an input of "
                                 f"{list(input.shape[lead:])})")
        return tuple(size[d] - lo[d] for d in range(n))


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution; weight (in, out/groups, k), initialized as Conv1d (fan_in
    from the weight's dim 1)."""

    _dims = 1
    _conv_transpose = staticmethod(F.conv_transpose1d)

    def __init__(self, in_channels: int, out_channels: int, kernel_size: _Size1,
                 stride: _Size1 = 1, padding: _Size1 = 0, output_padding: _Size1 = 0,
                 groups: int = 1, bias: bool = True, dilation: _Size1 = 1,
                 padding_mode: str = "zeros", device: str | None = None,
                 dtype: DTypeLike | None = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding,
                         output_padding, groups, bias, dilation, padding_mode, device, dtype)


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution; weight (in, out/groups, kh, kw), initialized as Conv2d
    (fan_in from the weight's dim 1)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: _Size2,
                 stride: _Size2 = 1, padding: _Size2 = 0, output_padding: _Size2 = 0,
                 groups: int = 1, bias: bool = True, dilation: _Size2 = 1,
                 padding_mode: str = "zeros", device: str | None = None,
                 dtype: DTypeLike | None = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding,
                         output_padding, groups, bias, dilation, padding_mode, device, dtype)


class _MaxPoolNd(Module):
    """The max over each kernel_size window (stride defaults to kernel_size); the subclass
    names its functional form (PyTorch's ``_MaxPoolNd``)."""

    _pool = "max_pool2d"

    def __init__(self, kernel_size: _Size2, stride: _Size2 | None = None, padding: _Size2 = 0,
                 dilation: _Size2 = 1, return_indices: bool = False,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input: Tensor) -> Any:  # (output, indices) with return_indices
        return getattr(F, self._pool)(input, self.kernel_size, self.stride, self.padding,
                                      self.dilation, ceil_mode=self.ceil_mode,
                                      return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool2d(_MaxPoolNd):
    """The max over each kernel_size window (stride defaults to kernel_size)."""


class AvgPool2d(Module):
    """The mean over each kernel_size window (stride defaults to kernel_size)."""

    def __init__(self, kernel_size: _Size2, stride: _Size2 | None = None, padding: _Size2 = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool1d(_MaxPoolNd):
    """The max over each kernel_size window along the last dim (stride defaults to
    kernel_size)."""

    _pool = "max_pool1d"


class AvgPool1d(Module):
    """The mean over each kernel_size window along the last dim."""

    def __init__(self, kernel_size: _Size1, stride: _Size1 | None = None, padding: _Size1 = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size = _ntuple(kernel_size, 1)
        self.stride = _ntuple(stride if stride is not None else kernel_size, 1)
        self.padding = _ntuple(padding, 1)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AdaptivePool(Module):
    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePool):
    """The mean over adaptive windows that give ``output_size`` positions."""

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool1d(input, self.output_size)


class AdaptiveAvgPool2d(_AdaptivePool):
    """The mean over adaptive windows that give an ``output_size`` plane (None keeps a
    size)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(input, self.output_size)


class AdaptiveMaxPool1d(_AdaptivePool):
    """The max over adaptive windows (``return_indices``: with their positions)."""

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input: Tensor) -> Any:
        return F.adaptive_max_pool1d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool2d(_AdaptivePool):
    """The max over adaptive windows of the plane (``return_indices``: with their flat H*W
    positions, for MaxUnpool2d)."""

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input: Tensor) -> Any:
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)


class _MaxUnpool(Module):
    _dims = 2

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        self.kernel_size = _ntuple(kernel_size, self._dims)
        self.stride = _ntuple(stride if stride is not None else kernel_size, self._dims)
        self.padding = _ntuple(padding, self._dims)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpool):
    """The inverse of MaxPool1d: the pooled values back at their positions, zeros elsewhere."""

    _dims = 1

    def forward(self, input: Tensor, indices: Tensor,
                output_size: list[int] | None = None) -> Tensor:
        return F.max_unpool1d(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size)


class MaxUnpool2d(_MaxUnpool):
    """The inverse of MaxPool2d: the pooled values back at their positions, zeros elsewhere."""

    def forward(self, input: Tensor, indices: Tensor,
                output_size: list[int] | None = None) -> Tensor:
        return F.max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size)
