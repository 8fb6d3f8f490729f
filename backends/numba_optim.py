"""The numba backend's optimizer steps: one fused pass per parameter.  A mixin of NumbaBackend."""
from . import numba_kernels as K
from .numba_common import _empty, _fits


class NumbaOptim:
    """Fused optimizer steps (a mixin before the reference optim_kernels)."""

    # -- optimizer steps: one fused pass per parameter -----------------------------------------
    def sgd_step(self, param, grad, momentum_buf, lr, momentum=0.0, dampening=0.0,
                 weight_decay=0.0, nesterov=False, maximize=False, first=False):
        if not (_fits(param, grad) if momentum_buf is None else _fits(param, grad, momentum_buf)
                ) or grad.shape != param.shape or (momentum_buf is not None
                                                   and momentum_buf.shape != param.shape):
            return super().sgd_step(param, grad, momentum_buf, lr, momentum, dampening,
                                    weight_decay, nesterov, maximize, first)
        buf = _empty(param.dtype) if momentum_buf is None else momentum_buf.reshape(-1)
        self._run(param.size, K.sgd_par, K.sgd_body,
                  (param.reshape(-1), grad.reshape(-1), buf, float(lr), float(momentum),
                   1.0 - dampening if dampening else 1.0, float(weight_decay), bool(nesterov),
                   bool(maximize), bool(first)), param.size)

    def adam_step(self, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1,
                  beta2, eps, weight_decay=0.0, decoupled_weight_decay=False, maximize=False):
        shape = param.shape
        if not (_fits(param, grad, exp_avg, exp_avg_sq) if max_exp_avg_sq is None else
                _fits(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq)) or not (
                grad.shape == exp_avg.shape == exp_avg_sq.shape == shape) or (
                max_exp_avg_sq is not None and max_exp_avg_sq.shape != shape):
            return super().adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr,
                                     beta1, beta2, eps, weight_decay, decoupled_weight_decay,
                                     maximize)
        decay, wd = 1.0, float(weight_decay)
        if weight_decay and decoupled_weight_decay:
            decay, wd = 1 - lr * weight_decay, 0.0
        w1 = 1 - beta1
        vmax = _empty(param.dtype) if max_exp_avg_sq is None else max_exp_avg_sq.reshape(-1)
        self._run(param.size, K.adam_par, K.adam_body,
                  (param.reshape(-1), grad.reshape(-1), exp_avg.reshape(-1),
                   exp_avg_sq.reshape(-1), vmax, float(decay), wd, bool(maximize), float(w1),
                   abs(w1) < 0.5, float(1 - w1), float(beta2), float(1 - beta2),
                   float((1 - beta2 ** step) ** 0.5), float(eps),
                   float(lr / (1 - beta1 ** step))), param.size)
