"""The reference optimizer steps: torch.optim's single-tensor update formulas, one call per
parameter, in place.  A mixin of the reference backend over ``self.xp`` (see
backends/contract.py); accelerated backends override each step with one fused loop.
"""


class OptimizerSteps:
    """One call per parameter: update ``param`` and its state arrays in place with
    torch.optim's single-tensor formulas, in torch's order of operations.  ``grad`` is only
    read.  ``step`` is the step count after this step's increment.  An optional state array is
    None when its option is off."""

    def sgd_step(self, param, grad, momentum_buf, lr, momentum=0.0, dampening=0.0,
                 weight_decay=0.0, nesterov=False, maximize=False, first=False):
        """SGD; ``first``: momentum_buf is uninitialized and becomes the gradient (torch)."""
        xp = self.xp
        d, owned = self._decayed_grad(param, grad, weight_decay, maximize)
        if momentum_buf is not None:
            if first:
                xp.copyto(momentum_buf, d)
            else:
                xp.multiply(momentum_buf, momentum, out=momentum_buf)
                if dampening:
                    s = xp.multiply(d, 1 - dampening, out=self._scratch(param))
                    xp.add(momentum_buf, s, out=momentum_buf)
                else:
                    xp.add(momentum_buf, d, out=momentum_buf)
            if nesterov:
                s = xp.multiply(momentum_buf, momentum, out=self._scratch(param))
                d, owned = xp.add(d, s, out=s), True
            else:
                d, owned = momentum_buf, False
        s = d if owned else self._scratch(param)
        xp.subtract(param, xp.multiply(d, lr, out=s), out=param)

    def adam_step(self, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1,
                  beta2, eps, weight_decay=0.0, decoupled_weight_decay=False, maximize=False):
        """Adam (AdamW with decoupled_weight_decay); max_exp_avg_sq is None without amsgrad."""
        xp = self.xp
        if weight_decay and decoupled_weight_decay:
            xp.multiply(param, 1 - lr * weight_decay, out=param)
            weight_decay = 0.0
        g, _ = self._decayed_grad(param, grad, weight_decay, maximize)
        s = self._scratch(param)
        self._lerp(exp_avg, g, 1 - beta1, s)
        self._ema_sq(exp_avg_sq, g, beta2, s)
        step_size = lr / (1 - beta1 ** step)
        bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
        v = exp_avg_sq
        if max_exp_avg_sq is not None:
            v = xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        denom = xp.add(xp.divide(xp.sqrt(v, out=s), bias_correction2_sqrt, out=s), eps, out=s)
        update = xp.multiply(xp.divide(exp_avg, denom, out=s), step_size, out=s)
        xp.subtract(param, update, out=param)

    def rmsprop_step(self, param, grad, square_avg, grad_avg, momentum_buf, lr, alpha, eps,
                     weight_decay=0.0, momentum=0.0, maximize=False):
        """RMSprop; grad_avg is None unless centered, momentum_buf None unless momentum > 0."""
        xp = self.xp
        g, _ = self._decayed_grad(param, grad, weight_decay, maximize)
        s = self._scratch(param)
        self._ema_sq(square_avg, g, alpha, s)
        if grad_avg is not None:
            self._lerp(grad_avg, g, 1 - alpha, s)
            avg = xp.sqrt(xp.subtract(square_avg, xp.multiply(grad_avg, grad_avg, out=s), out=s),
                          out=s)
        else:
            avg = xp.sqrt(square_avg, out=s)
        ratio = xp.divide(g, xp.add(avg, eps, out=s), out=s)
        if momentum_buf is not None:
            xp.multiply(momentum_buf, momentum, out=momentum_buf)
            ratio = xp.add(momentum_buf, ratio, out=momentum_buf)
        xp.subtract(param, xp.multiply(ratio, lr, out=s), out=param)

    def adagrad_step(self, param, grad, state_sum, step, lr, lr_decay=0.0, weight_decay=0.0,
                     eps=1e-10, maximize=False):
        """Adagrad; ``state_sum`` accumulates the squared gradients."""
        xp = self.xp
        g, _ = self._decayed_grad(param, grad, weight_decay, maximize)
        s = self._scratch(param)
        xp.add(state_sum, xp.multiply(g, g, out=s), out=state_sum)
        clr = lr / (1 + (step - 1) * lr_decay)
        std = xp.add(xp.sqrt(state_sum, out=s), eps, out=s)
        xp.subtract(param, xp.multiply(xp.divide(g, std, out=s), clr, out=s), out=param)

    def adadelta_step(self, param, grad, square_avg, acc_delta, lr, rho, eps, weight_decay=0.0,
                      maximize=False):
        """Adadelta; ``square_avg`` and ``acc_delta`` are the running averages of g**2 and
        of the squared updates."""
        xp = self.xp
        g, _ = self._decayed_grad(param, grad, weight_decay, maximize)
        s, delta = self._scratch(param), self._scratch(param)
        self._ema_sq(square_avg, g, rho, s)
        std = xp.sqrt(xp.add(square_avg, eps, out=s), out=s)
        xp.sqrt(xp.add(acc_delta, eps, out=delta), out=delta)
        xp.multiply(xp.divide(delta, std, out=delta), g, out=delta)
        self._ema_sq(acc_delta, delta, rho, s)
        xp.subtract(param, xp.multiply(delta, lr, out=delta), out=param)

    def total_norm(self, arrays, norm_type):
        """clip_grad_norm_'s total: the ``norm_type``-norm of the arrays' norms (a 0-d array)."""
        xp = self.xp
        norms = xp.stack([xp.asarray(self._vector_norm(a, norm_type)) for a in arrays])
        return xp.asarray(self._vector_norm(norms, norm_type))

    # -- helpers of the steps ---------------------------------------------------------------------
    def _scratch(self, like):
        """An uninitialized array like ``like`` for intermediate results."""
        return self.xp.empty_like(like)

    def _decayed_grad(self, param, grad, weight_decay, maximize):
        """(+/-)grad + weight_decay * param; returns (array, whether it is a fresh scratch)."""
        xp = self.xp
        if weight_decay:
            d = xp.multiply(param, weight_decay, out=self._scratch(param))
            (xp.subtract if maximize else xp.add)(d, grad, out=d)
            return d, True
        if maximize:
            return xp.negative(grad, out=self._scratch(param)), True
        return grad, False

    def _lerp(self, x, end, weight, scratch):
        """x <- torch.lerp(x, end, weight), in place (torch's two-sided formula)."""
        xp = self.xp
        xp.subtract(end, x, out=scratch)
        if abs(weight) < 0.5:
            xp.add(x, xp.multiply(scratch, weight, out=scratch), out=x)
        else:
            xp.subtract(end, xp.multiply(scratch, 1 - weight, out=scratch), out=x)

    def _ema_sq(self, avg, g, decay, scratch):
        """avg <- avg * decay + (1 - decay) * g * g  (torch's mul_().addcmul_())."""
        xp = self.xp
        xp.multiply(avg, decay, out=avg)
        xp.multiply(xp.multiply(g, 1 - decay, out=scratch), g, out=scratch)
        xp.add(avg, scratch, out=avg)

    def _vector_norm(self, x, p):
        """The ``p``-norm of the elements of ``x`` (torch.linalg.vector_norm's cases)."""
        xp = self.xp
        a = xp.abs(x)
        if a.size == 0:
            return xp.zeros((), dtype=a.dtype)
        if p == float("inf"):
            return a.max()
        if p == float("-inf"):
            return a.min()
        if p == 0:
            return (a != 0).sum().astype(a.dtype)
        if p == 1:
            return a.sum()
        if p == 2:
            return xp.sqrt((a * a).sum())
        return (a ** p).sum() ** (1.0 / p)

