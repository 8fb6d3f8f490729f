"""Training steps: the 784-512-512-10 MLP, a small CNN on 1x14x14 inputs, an Adam step.

A step is what a training loop does per batch: zero the gradients, forward, cross-entropy,
backward, optimizer step (SGD with momentum).  tensorlite and PyTorch run the same model code
(their nn/optim APIs are the same shape) from the same initial weights; the hand-written row
does the same arithmetic with array calls and the backward written out.  Before timing, every
row runs two steps and its loss and parameters must match the hand-written step run in float64.
"""
import math

import numpy as np
import pytest

from conftest import assert_close, measure, sizes

LR, MOMENTUM = 0.01, 0.9


def _uniform(rng, shape, fan_in):
    bound = 1 / math.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape).astype(np.float32)


def _check_after_two_steps(benchmark, impl, step, params_of, expected_loss, expected_params,
                           rtol, atol):
    def check(loss):
        if expected_loss is not None:
            assert_close(impl, loss, expected_loss, rtol=rtol, atol=atol, what="loss")
        for i, (got, want) in enumerate(zip(params_of(), expected_params)):
            assert_close(impl, got, want, rtol=rtol, atol=atol, what=f"parameter {i} after 2 steps")
    measure(benchmark, impl, step, check, calls_before_check=2)


def _sgd(momentum):
    """torch.optim.SGD without dampening: p -= lr*g, or with momentum buf = m*buf + g and
    p -= lr*buf; the gradients are consumed."""
    bufs = {}

    def update(params, grads):
        for i, (p, g) in enumerate(zip(params, grads)):
            if momentum:
                if i in bufs:
                    bufs[i] *= momentum
                    bufs[i] += g
                else:
                    bufs[i] = g.copy()
                g = bufs[i]
            p -= LR * g
    return update


def _cross_entropy(xp, logits, y):
    """Mean cross-entropy and its gradient with respect to the logits."""
    n = logits.shape[0]
    rows = xp.arange(n)
    m = logits.max(1, keepdims=True)
    e = xp.exp(logits - m)
    s = e.sum(1, keepdims=True)
    loss = (xp.log(s[:, 0]) + m[:, 0] - logits[rows, y]).mean()
    e /= s
    e[rows, y] -= 1
    e /= n
    return loss, e


def framework_step(impl, model, arrays, x, y, momentum=MOMENTUM):
    """One SGD training step of ``model`` on ``impl`` (tensorlite or torch: the same code),
    its parameters loaded from ``arrays``; returns (step, parameters)."""
    lib = impl.lib
    model = model.to(impl.device)
    impl.load_(model.parameters(), arrays)
    opt = lib.optim.SGD(model.parameters(), lr=LR, momentum=momentum)
    xt, yt = impl.array(x), impl.array(y)
    F = lib.nn.functional

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        return loss
    return step, lambda: list(model.parameters())


def mlp(nn, dims):
    """Linear-ReLU-...-Linear over ``dims`` in ``nn`` (tensorlite.nn or torch.nn)."""
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:])):
        layers += [nn.Linear(fan_in, fan_out)] + ([nn.ReLU()] if i < len(dims) - 2 else [])
    return nn.Sequential(*layers)


def _expected(hand_step, arrays, x, y):
    """The hand-written step in float64, twice: the second loss and the parameters."""
    params = [a.astype(np.float64) for a in arrays]
    step = hand_step(np, params, x.astype(np.float64), y)
    step()
    return step(), params


# -- MLP ------------------------------------------------------------------------------------------
def hand_mlp_step(xp, params, x, y, momentum=MOMENTUM):
    """Linear-ReLU-...-Linear, cross-entropy, SGD (with momentum unless 0); params = [W1, b1,
    W2, b2, ...] change in place.  The hand-written reference row of every MLP benchmark."""
    Ws, bs = params[0::2], params[1::2]
    update = _sgd(momentum)

    def step():
        hs = [x]
        for i, (W, b) in enumerate(zip(Ws, bs)):
            z = hs[-1] @ W.T
            z += b
            if i < len(Ws) - 1:
                xp.maximum(z, 0, out=z)
            hs.append(z)
        loss, g = _cross_entropy(xp, hs[-1], y)
        grads = [None] * len(params)
        for i in reversed(range(len(Ws))):
            grads[2 * i], grads[2 * i + 1] = g.T @ hs[i], g.sum(0)
            if i:
                g = g @ Ws[i]
                g *= hs[i] > 0
        update(params, grads)
        return loss
    return step


MLP = sizes(full=[((784, 512, 512, 10), 256)], quick=[((784, 512, 512, 10), 256)],
            tiny=[((20, 16, 16, 10), 8)])


@pytest.mark.parametrize("dims,batch", MLP, ids=lambda v: "-".join(map(str, v))
                         if isinstance(v, tuple) else str(v))
def test_mlp_step(benchmark, impl, dims, batch):
    """One SGD-momentum step of a ReLU MLP with cross-entropy on a float32 batch."""
    rng = np.random.default_rng(1)
    arrays = []
    for fan_in, fan_out in zip(dims[:-1], dims[1:]):
        arrays += [_uniform(rng, (fan_out, fan_in), fan_in), _uniform(rng, (fan_out,), fan_in)]
    x = rng.standard_normal((batch, dims[0])).astype(np.float32)
    y = rng.integers(0, dims[-1], batch)
    expected_loss, expected_params = _expected(hand_mlp_step, arrays, x, y)
    if impl.kind == "hand":
        params = [impl.array(a) for a in arrays]
        step = hand_mlp_step(impl.xp, params, impl.array(x), impl.array(y))
        params_of = lambda: params  # noqa: E731
    else:
        step, params_of = framework_step(impl, mlp(impl.lib.nn, dims), arrays, x, y)
    benchmark.extra_info["parameters"] = sum(a.size for a in arrays)
    _check_after_two_steps(benchmark, impl, step, params_of, expected_loss, expected_params,
                           rtol=1e-4, atol=1e-5)


# -- CNN: conv3x3-ReLU-maxpool2, conv3x3-ReLU-maxpool2, linear; channels-last inside ----------
def _conv3x3(xp, x, w):
    """3x3 convolution, padding 1, of channels-last x (N, H, W, C) by w (O, C, 3, 3): the
    output (N, H, W, O) before bias, the im2col matrix and w as a matrix."""
    n, h, wd, c = x.shape
    padded = xp.zeros((n, h + 2, wd + 2, c), x.dtype)
    padded[:, 1:-1, 1:-1] = x
    cols = xp.empty((n, h, wd, 3, 3, c), x.dtype)
    for i in range(3):
        for j in range(3):
            cols[:, :, :, i, j] = padded[:, i:i + h, j:j + wd]
    cols = cols.reshape(n * h * wd, 9 * c)
    wmat = w.transpose(0, 2, 3, 1).reshape(len(w), 9 * c)
    return (cols @ wmat.T).reshape(n, h, wd, len(w)), cols, wmat


def _conv3x3_backward(xp, g, cols, wmat, x_shape, need_input):
    """Gradients of the weight (O, C, 3, 3), the bias and (if asked) the input."""
    n, h, wd, c = x_shape
    g2 = g.reshape(-1, g.shape[-1])
    gw = (g2.T @ cols).reshape(len(wmat), 3, 3, c).transpose(0, 3, 1, 2)
    gx = None
    if need_input:
        dcols = (g2 @ wmat).reshape(n, h, wd, 3, 3, c)
        padded = xp.zeros((n, h + 2, wd + 2, c), g.dtype)
        for i in range(3):
            for j in range(3):
                padded[:, i:i + h, j:j + wd] += dcols[:, :, :, i, j]
        gx = padded[:, 1:-1, 1:-1]
    return gw, g2.sum(0), gx


def _pool2(a):
    """2x2 max-pool, stride 2, of channels-last a (odd sizes lose their last row/column)."""
    n, h, w, c = a.shape
    return a[:, :h // 2 * 2, :w // 2 * 2].reshape(n, h // 2, 2, w // 2, 2, c).max((2, 4))


def _pool2_backward(xp, g, a, pooled):
    """The gradient routed to each window's maximum (ties only occur among the zeros of a
    ReLU output, whose gradient the ReLU then drops)."""
    n, h, w, c = a.shape
    ho, wo = h // 2, w // 2
    windows = a[:, :ho * 2, :wo * 2].reshape(n, ho, 2, wo, 2, c)
    at_max = windows == pooled[:, :, None, :, None]
    ga = xp.zeros_like(a)
    ga[:, :ho * 2, :wo * 2] = (at_max * g[:, :, None, :, None]).reshape(n, ho * 2, wo * 2, c)
    return ga


def hand_cnn_step(xp, params, x, y):
    """params = [conv1 w, b, conv2 w, b, linear w, b] in torch's layouts; x (N, 1, H, W)."""
    w1, b1, w2, b2, wl, bl = params
    update = _sgd(MOMENTUM)
    x_last = x.transpose(0, 2, 3, 1)

    def step():
        z1, cols1, wmat1 = _conv3x3(xp, x_last, w1)
        z1 += b1
        a1 = xp.maximum(z1, 0, out=z1)
        p1 = _pool2(a1)
        z2, cols2, wmat2 = _conv3x3(xp, p1, w2)
        z2 += b2
        a2 = xp.maximum(z2, 0, out=z2)
        p2 = _pool2(a2)
        flat = p2.transpose(0, 3, 1, 2).reshape(len(x), -1)  # torch's (C, H, W) order
        logits = flat @ wl.T
        logits += bl
        loss, g = _cross_entropy(xp, logits, y)
        gwl, gbl = g.T @ flat, g.sum(0)
        gp2 = (g @ wl).reshape(p2.shape[0], p2.shape[3], p2.shape[1], p2.shape[2])
        ga2 = _pool2_backward(xp, gp2.transpose(0, 2, 3, 1), a2, p2)
        ga2 *= a2 > 0
        gw2, gb2, gp1 = _conv3x3_backward(xp, ga2, cols2, wmat2, p1.shape, True)
        ga1 = _pool2_backward(xp, gp1, a1, p1)
        ga1 *= a1 > 0
        gw1, gb1, _ = _conv3x3_backward(xp, ga1, cols1, wmat1, x_last.shape, False)
        update(params, [gw1, gb1, gw2, gb2, gwl, gbl])
        return loss
    return step


CNN = sizes(full=[((8, 16), 64)], quick=[((8, 16), 64)], tiny=[((2, 3), 4)])


@pytest.mark.parametrize("channels,batch", CNN, ids=lambda v: "-".join(map(str, v))
                         if isinstance(v, tuple) else str(v))
def test_cnn_step(benchmark, impl, channels, batch):
    """One SGD-momentum step of conv(1->c1)-ReLU-pool-conv(c1->c2)-ReLU-pool-linear(->10)
    on 1x14x14 float32 images."""
    c1, c2 = channels
    rng = np.random.default_rng(2)
    arrays = [_uniform(rng, (c1, 1, 3, 3), 9), _uniform(rng, (c1,), 9),
              _uniform(rng, (c2, c1, 3, 3), 9 * c1), _uniform(rng, (c2,), 9 * c1),
              _uniform(rng, (10, c2 * 9), c2 * 9), _uniform(rng, (10,), c2 * 9)]
    x = rng.standard_normal((batch, 1, 14, 14)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    expected_loss, expected_params = _expected(hand_cnn_step, arrays, x, y)
    if impl.kind == "hand":
        params = [impl.array(a) for a in arrays]
        step = hand_cnn_step(impl.xp, params, impl.array(x), impl.array(y))
        params_of = lambda: params  # noqa: E731
    else:
        nn = impl.lib.nn
        model = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),      # c1 x 7 x 7
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),     # c2 x 3 x 3
            nn.Flatten(), nn.Linear(c2 * 9, 10))
        step, params_of = framework_step(impl, model, arrays, x, y)
    benchmark.extra_info["parameters"] = sum(a.size for a in arrays)
    _check_after_two_steps(benchmark, impl, step, params_of, expected_loss, expected_params,
                           rtol=1e-4, atol=1e-5)


# -- Adam -----------------------------------------------------------------------------------------
ADAM = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)


def hand_adam_step(xp, params, grads):
    """torch.optim.Adam (L2 weight decay added to the gradient, bias-corrected moments)."""
    lr, (b1, b2), eps, wd = ADAM["lr"], ADAM["betas"], ADAM["eps"], ADAM["weight_decay"]
    moments = [(xp.zeros_like(p), xp.zeros_like(p)) for p in params]
    t = [0]

    def step():
        t[0] += 1
        step_size, bc2_sqrt = lr / (1 - b1 ** t[0]), math.sqrt(1 - b2 ** t[0])
        for p, g, (m, v) in zip(params, grads, moments):
            d = p * wd
            d += g
            m *= b1
            m += (1 - b1) * d
            v *= b2
            d *= d
            d *= 1 - b2
            v += d
            denom = xp.sqrt(v)
            denom /= bc2_sqrt
            denom += eps
            d = xp.divide(m, denom, out=denom)
            d *= step_size
            p -= d
        return params
    return step


ADAM_SHAPES = sizes(full=[((512, 1024), (1024,), (1024, 512), (512,))],
                    quick=[((512, 1024), (1024,), (1024, 512), (512,))],
                    tiny=[((4, 3), (3,))])


@pytest.mark.parametrize("shapes", ADAM_SHAPES,
                         ids=lambda s: f"{sum(math.prod(x) for x in s)}params")
def test_adam_step(benchmark, impl, shapes):
    """One Adam step (weight_decay 0.01) over ~1M float32 parameters in four tensors; the
    gradients are fixed, so only the update is timed."""
    rng = np.random.default_rng(3)
    arrays = [(0.05 * rng.standard_normal(s)).astype(np.float32) for s in shapes]
    grads = [(0.01 * rng.standard_normal(s)).astype(np.float32) for s in shapes]
    expected = [a.astype(np.float64) for a in arrays]
    oracle = hand_adam_step(np, expected, [g.astype(np.float64) for g in grads])
    oracle()
    oracle()
    if impl.kind == "hand":
        params = [impl.array(a) for a in arrays]
        step = hand_adam_step(impl.xp, params, [impl.array(g) for g in grads])
        params_of = lambda: params  # noqa: E731
    else:
        params = [impl.array(a, requires_grad=True) for a in arrays]
        for p, g in zip(params, grads):
            p.grad = impl.array(g)
        opt = impl.lib.optim.Adam(params, **ADAM)
        step = opt.step
        params_of = lambda: params  # noqa: E731
    benchmark.extra_info["parameters"] = sum(a.size for a in arrays)
    _check_after_two_steps(benchmark, impl, step, params_of, None, expected,
                           rtol=1e-5, atol=1e-6)
