"""The reference loss kernels: the cross-entropy pieces and the binary cross-entropies.  A mixin
of the reference backend over ``self.xp`` (see backends/contract.py).
"""
import numpy as np


class Losses:
    """Loss primitives: log_softmax with the target's pick, target checks, gradients."""

    def log_softmax_pick(self, x, target):
        """log_softmax of the rows of ``x`` (M, C) and each row's value at column ``target[m]``
        (a valid class for every row).  Returns (logp, picked)."""
        logp = self.log_softmax(x, 1)
        return logp, self.xp.take_along_axis(logp, target.reshape(-1, 1), 1).reshape(-1)

    def class_target_stats(self, t, classes, ignore_index):
        """For class indices ``t`` (flat int64): how many lie outside [0, classes) without being
        ``ignore_index``, and how many equal it, as two host ints (one read of the device)."""
        lo, hi = (int(t.min()), int(t.max())) if t.size else (0, -1)
        if 0 <= lo and hi < classes and not lo <= ignore_index <= hi:
            return 0, 0  # the usual case: two reductions
        ignored = t == ignore_index
        bad = self.xp.logical_and(self.xp.logical_not(ignored), (t < 0) | (t >= classes))
        return tuple(int(n) for n in self.to_host(self.xp.stack([bad.sum(), ignored.sum()])))

    def cross_entropy_grad(self, logp, target, scale):
        """(softmax - onehot(target)) * scale from log-probabilities ``logp`` (M, C): the
        gradient of summed cross-entropy at the logits, ``scale`` a number or an array that
        broadcasts against (M, 1)."""
        g = self.xp.exp(logp)
        g[self.xp.arange(g.shape[0]), target] -= 1
        g *= scale
        return g

    def binary_cross_entropy(self, x, t):
        """-(t log x + (1 - t) log(1 - x)) elementwise, each log clamped at -100 (torch)."""
        xp = self.xp
        with np.errstate(divide="ignore"):
            a, b = xp.maximum(xp.log(x), -100), xp.maximum(xp.log1p(-x), -100)
        return -(t * (a - b) + b)

    def binary_cross_entropy_with_logits(self, x, t, pos_weight=None):
        """(1 - t) x + (1 + (pos_weight - 1) t) log(1 + exp(-x)), stable for any x."""
        xp = self.xp
        softplus_neg = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))
        if pos_weight is not None:
            softplus_neg = softplus_neg * ((pos_weight - 1) * t + 1)
        return (1 - t) * x + softplus_neg
