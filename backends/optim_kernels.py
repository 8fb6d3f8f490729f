"""The reference optimizer steps: torch.optim's single-tensor update formulas, one call per
parameter, in place, and their group forms (``*_steps``: every parameter of a group, by
lists).  A mixin of the reference backend over ``self.xp`` (see backends/contract.py);
accelerated backends override each step with one fused loop.
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

    def adamax_step(self, param, grad, exp_avg, exp_inf, step, lr, beta1, beta2, eps,
                    weight_decay=0.0, maximize=False):
        """Adamax; ``exp_inf`` is the exponentially weighted infinity norm."""
        xp = self.xp
        g, _ = self._decayed_grad(param, grad, weight_decay, maximize)
        s = self._scratch(param)
        self._lerp(exp_avg, g, 1 - beta1, s)
        xp.multiply(exp_inf, beta2, out=exp_inf)
        xp.maximum(exp_inf, xp.add(xp.abs(g, out=s), eps, out=s), out=exp_inf)
        clr = lr / (1 - beta1 ** step)
        xp.add(param, xp.multiply(xp.divide(exp_avg, exp_inf, out=s), -clr, out=s), out=param)

    def nadam_step(self, param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, mu,
                   mu_next, mu_product, weight_decay=0.0, decoupled_weight_decay=False,
                   maximize=False):
        """NAdam; ``mu``/``mu_next`` are this and the next step's momentum coefficients and
        ``mu_product`` their running product including ``mu`` (torch keeps it in float32)."""
        xp = self.xp
        if weight_decay and decoupled_weight_decay:
            xp.multiply(param, 1 - lr * weight_decay, out=param)
            weight_decay = 0.0
        g, _ = self._decayed_grad(param, grad, weight_decay, maximize)
        s, denom = self._scratch(param), self._scratch(param)
        self._lerp(exp_avg, g, 1 - beta1, s)
        self._ema_sq(exp_avg_sq, g, beta2, s)
        xp.add(xp.sqrt(xp.divide(exp_avg_sq, 1 - beta2 ** step, out=denom), out=denom), eps,
               out=denom)
        mu_product_next = mu_product * mu_next
        c1 = -lr * (1.0 - mu) / (1.0 - mu_product)
        c2 = (-lr * mu_next) / (1.0 - mu_product_next)
        xp.add(param, xp.multiply(xp.divide(g, denom, out=s), c1, out=s), out=param)
        xp.add(param, xp.multiply(xp.divide(exp_avg, denom, out=s), c2, out=s), out=param)

    def radam_step(self, param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps,
                   weight_decay=0.0, decoupled_weight_decay=False, maximize=False):
        """RAdam: Adam with the variance rectification (plain momentum SGD while rho_t <= 5)."""
        xp = self.xp
        if weight_decay and decoupled_weight_decay:
            xp.multiply(param, 1 - lr * weight_decay, out=param)
            weight_decay = 0.0
        g, _ = self._decayed_grad(param, grad, weight_decay, maximize)
        s = self._scratch(param)
        self._lerp(exp_avg, g, 1 - beta1, s)
        self._ema_sq(exp_avg_sq, g, beta2, s)
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
        u = xp.multiply(xp.divide(exp_avg, bias_correction1, out=s), lr, out=s)
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            a = self._scratch(param)
            xp.add(xp.sqrt(exp_avg_sq, out=a), eps, out=a)
            xp.divide(bias_correction2 ** 0.5, a, out=a)
            xp.multiply(xp.multiply(u, a, out=u), rect, out=u)
        xp.subtract(param, u, out=param)

    def rprop_step(self, param, grad, prev, step_size, etaminus, etaplus, step_size_min,
                   step_size_max, maximize=False):
        """Rprop: per-element step sizes grown by ``etaplus`` / shrunk by ``etaminus`` as the
        gradient's sign holds / flips; ``prev`` keeps the last gradient used."""
        xp = self.xp
        g = xp.negative(grad, out=self._scratch(param)) if maximize else \
            xp.array(grad, copy=True)
        sign = xp.sign(xp.multiply(g, prev))
        factor = xp.where(sign > 0, etaplus, xp.where(sign < 0, etaminus,
                                                       xp.where(sign == 0, 1.0, sign)))
        factor = factor.astype(param.dtype, copy=False)
        xp.multiply(step_size, factor, out=step_size)
        xp.clip(step_size, step_size_min, step_size_max, out=step_size)
        g[factor == etaminus] = 0
        xp.subtract(param, xp.multiply(xp.sign(g), step_size), out=param)
        xp.copyto(prev, g)

    def asgd_step(self, param, grad, ax, eta, mu, lambd, weight_decay=0.0, maximize=False):
        """ASGD with this step's ``eta`` and averaging weight ``mu`` (Python floats); ``ax``
        is the running average of the parameter."""
        xp = self.xp
        g, _ = self._decayed_grad(param, grad, weight_decay, maximize)
        s = self._scratch(param)
        xp.multiply(param, 1 - lambd * eta, out=param)
        xp.add(param, xp.multiply(g, -eta, out=s), out=param)
        if mu != 1:
            xp.add(ax, xp.multiply(xp.subtract(param, ax, out=s), mu, out=s), out=ax)
        else:
            xp.copyto(ax, param)

    def sparse_adam_step(self, param, grad, mask, exp_avg, exp_avg_sq, step, lr, beta1, beta2,
                         eps, maximize=False):
        """SparseAdam on the elements where ``mask`` (bool) is set; the others stay as they
        are (moments included).  ``grad`` is dense (zero off the mask)."""
        xp = self.xp
        g = xp.negative(grad[mask]) if maximize else grad[mask]
        old_m, old_v = exp_avg[mask], exp_avg_sq[mask]
        upd_m = xp.multiply(xp.subtract(g, old_m), 1 - beta1)
        upd_v = xp.multiply(xp.subtract(xp.multiply(g, g), old_v), 1 - beta2)
        exp_avg[mask] = old_m + upd_m
        exp_avg_sq[mask] = old_v + upd_v
        numer = xp.add(upd_m, old_m)
        denom = xp.add(xp.sqrt(xp.add(upd_v, old_v)), eps)
        step_size = lr * (1 - beta2 ** step) ** 0.5 / (1 - beta1 ** step)
        param[mask] = param[mask] + xp.multiply(xp.divide(numer, denom), -step_size)

    # -- group steps: every parameter of a group in one call ------------------------------------
    # Lists of arrays (one entry per parameter, in the group's order) and per-parameter lists of
    # the values that differ between parameters (``steps``, ...); a list of optional state is
    # None when its option is off.  Here: the one-parameter step for each entry in turn, so the
    # results equal the per-parameter calls; accelerated backends fuse the group into one pass.
    def sgd_steps(self, params, grads, momentum_bufs, lr, momentum=0.0, dampening=0.0,
                  weight_decay=0.0, nesterov=False, maximize=False, firsts=None):
        """sgd_step on each parameter; ``firsts[i]``: momentum_bufs[i] is uninitialized."""
        for i, p in enumerate(params):
            self.sgd_step(p, grads[i], None if momentum_bufs is None else momentum_bufs[i], lr,
                          momentum, dampening, weight_decay, nesterov, maximize,
                          bool(firsts and firsts[i]))

    def adam_steps(self, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr,
                   beta1, beta2, eps, weight_decay=0.0, decoupled_weight_decay=False,
                   maximize=False):
        """adam_step on each parameter, ``steps[i]`` its step count."""
        for i, p in enumerate(params):
            self.adam_step(p, grads[i], exp_avgs[i], exp_avg_sqs[i],
                           None if max_exp_avg_sqs is None else max_exp_avg_sqs[i], steps[i],
                           lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay,
                           maximize)

    def rmsprop_steps(self, params, grads, square_avgs, grad_avgs, momentum_bufs, lr, alpha,
                      eps, weight_decay=0.0, momentum=0.0, maximize=False):
        """rmsprop_step on each parameter."""
        for i, p in enumerate(params):
            self.rmsprop_step(p, grads[i], square_avgs[i],
                              None if grad_avgs is None else grad_avgs[i],
                              None if momentum_bufs is None else momentum_bufs[i], lr, alpha,
                              eps, weight_decay, momentum, maximize)

    def adagrad_steps(self, params, grads, state_sums, steps, lr, lr_decay=0.0,
                      weight_decay=0.0, eps=1e-10, maximize=False):
        """adagrad_step on each parameter."""
        for i, p in enumerate(params):
            self.adagrad_step(p, grads[i], state_sums[i], steps[i], lr, lr_decay, weight_decay,
                              eps, maximize)

    def adadelta_steps(self, params, grads, square_avgs, acc_deltas, lr, rho, eps,
                       weight_decay=0.0, maximize=False):
        """adadelta_step on each parameter."""
        for i, p in enumerate(params):
            self.adadelta_step(p, grads[i], square_avgs[i], acc_deltas[i], lr, rho, eps,
                               weight_decay, maximize)

    def adamax_steps(self, params, grads, exp_avgs, exp_infs, steps, lr, beta1, beta2, eps,
                     weight_decay=0.0, maximize=False):
        """adamax_step on each parameter."""
        for i, p in enumerate(params):
            self.adamax_step(p, grads[i], exp_avgs[i], exp_infs[i], steps[i], lr, beta1, beta2,
                             eps, weight_decay, maximize)

    def nadam_steps(self, params, grads, exp_avgs, exp_avg_sqs, steps, lr, beta1, beta2, eps,
                    mus, mu_nexts, mu_products, weight_decay=0.0, decoupled_weight_decay=False,
                    maximize=False):
        """nadam_step on each parameter (``mus``, ``mu_nexts``, ``mu_products``: its own)."""
        for i, p in enumerate(params):
            self.nadam_step(p, grads[i], exp_avgs[i], exp_avg_sqs[i], steps[i], lr, beta1,
                            beta2, eps, mus[i], mu_nexts[i], mu_products[i], weight_decay,
                            decoupled_weight_decay, maximize)

    def radam_steps(self, params, grads, exp_avgs, exp_avg_sqs, steps, lr, beta1, beta2, eps,
                    weight_decay=0.0, decoupled_weight_decay=False, maximize=False):
        """radam_step on each parameter."""
        for i, p in enumerate(params):
            self.radam_step(p, grads[i], exp_avgs[i], exp_avg_sqs[i], steps[i], lr, beta1,
                            beta2, eps, weight_decay, decoupled_weight_decay, maximize)

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

