"""Reverse-mode automatic differentiation: the tape, the engine and the checks."""
from .engine import backward, grad
from .function import Function, FunctionCtx, once_differentiable
from .grad_mode import (detect_anomaly, enable_grad, inference_mode, is_grad_enabled,
                        is_inference_mode_enabled, no_grad, set_grad_enabled)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .graph import Node

__all__ = ["backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
           "inference_mode", "is_inference_mode_enabled", "detect_anomaly", "gradcheck",
           "gradgradcheck", "GradcheckError", "Node", "Function", "FunctionCtx",
           "once_differentiable"]
