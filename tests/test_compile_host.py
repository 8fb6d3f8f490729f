"""tensorlite.compile and the Python around the backend work: what a replay must redo (seeding,
optimizer hooks, writes into buffers) and what it must not replay behind another capture."""
import warnings

import numpy as np

import tensorlite as tl


def test_manual_seed_inside_the_step_reseeds_every_replay():
    def f(x):
        tl.manual_seed(3)
        return tl.nn.functional.dropout(x, 0.5)
    compiled, x = tl.compile(f), tl.ones(1000)
    outs = [compiled(x).numpy().copy() for _ in range(3)]
    want = f(x).numpy()
    assert compiled.captures == 1
    for out in outs:
        np.testing.assert_array_equal(out, want)


def test_dropout_draws_fresh_numbers_on_each_replay():
    compiled, x = tl.compile(lambda x: tl.nn.functional.dropout(x, 0.5)), tl.ones(1000)
    first, second = compiled(x).numpy().copy(), compiled(x).numpy().copy()
    assert not np.array_equal(first, second)
    assert compiled.captures == 1


def test_setitem_without_gradient_is_replayed():
    def f(x):
        buf = tl.zeros(3, 4)
        with tl.no_grad():
            buf[1] = x * 2
            buf[:, 0] = 7
        return buf.argmax(), buf
    compiled = tl.compile(f)
    for seed in range(3):
        tl.manual_seed(seed)
        x = tl.randn(4)
        (got_arg, got), (want_arg, want) = compiled(x), f(x)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        np.testing.assert_array_equal(got_arg.numpy(), want_arg.numpy())
    assert compiled.captures == 1


def test_optimizer_step_hooks_run_on_every_replay():
    model = tl.nn.Linear(3, 2)
    opt = tl.optim.SGD(model.parameters(), lr=0.1)
    calls = []
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append(1))

    @tl.compile
    def step(x):
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()
    for _ in range(4):
        step(tl.ones(2, 3))
    assert len(calls) == 4 and step.captures == 2


def test_a_compiled_module_inside_a_compiled_step_is_recorded_by_it():
    tl.manual_seed(0)
    inner = tl.nn.Linear(3, 2)
    twin = tl.nn.Linear(3, 2)
    twin.load_state_dict(inner.state_dict())
    compiled_inner = tl.compile(inner)
    with tl.no_grad():  # the inner module has a plan of its own before the step is captured
        compiled_inner(tl.ones(1, 3))
        compiled_inner(tl.ones(1, 3))
    opt, twin_opt = (tl.optim.SGD(m.parameters(), lr=0.1) for m in (inner, twin))

    @tl.compile
    def step(x):
        opt.zero_grad()
        loss = compiled_inner(x).pow(2).sum()
        loss.backward()
        opt.step()
        return loss
    x = tl.ones(4, 3)
    for _ in range(4):
        got = step(x)
        twin_opt.zero_grad()
        want = twin(x).pow(2).sum()
        want.backward()
        twin_opt.step()
        assert got.item() == want.item()
    for p, q in zip(inner.parameters(), twin.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_a_collective_inside_the_capture_falls_back(monkeypatch):
    from tensorlite import _capture_hooks

    def f(x):
        _capture_hooks.outside("all_reduce")  # what every distributed Work reports
        return x + 1
    compiled = tl.compile(f)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        compiled(tl.ones(2))
        compiled(tl.ones(2))
    messages = [str(w.message) for w in record if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1 and "all_reduce" in messages[0] and "eagerly" in messages[0]


def test_an_array_made_outside_the_backend_falls_back_instead_of_becoming_a_constant():
    from tensorlite.tensor import wrap

    def f(x):  # an op that (wrongly) computes on its array directly: the capture cannot see it
        return wrap(x._data * 2, x.device) + 1
    compiled = tl.compile(f)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for v in (1.0, 2.0, 3.0):
            np.testing.assert_array_equal(compiled(tl.full((3,), v)).numpy(), np.full(3, 2 * v + 1))
    messages = [str(w.message) for w in record if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1 and "outside the backend" in messages[0]


def test_argmax_accuracy_is_computed_on_every_replay():
    def accuracy(x, y):
        return (x.argmax(dim=1) == y).sum()
    compiled, y = tl.compile(accuracy), tl.tensor([0, 1, 2, 0])
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = tl.tensor(rng.standard_normal((4, 3)).astype(np.float32))
        assert compiled(x, y).item() == accuracy(x, y).item()
    assert compiled.captures == 1


def test_an_argument_that_requires_grad_gets_its_gradient_on_every_replay():
    w = tl.tensor([1.0, -2.0, 0.5])

    def step(x):
        loss = (x * w).tanh().sum()
        loss.backward()
        return loss
    compiled = tl.compile(step)
    rng = np.random.default_rng(3)
    for _ in range(4):
        values = rng.standard_normal(3).astype(np.float32)
        x, twin = tl.tensor(values, requires_grad=True), tl.tensor(values, requires_grad=True)
        compiled(x)
        step(twin)
        np.testing.assert_array_equal(x.grad.numpy(), twin.grad.numpy())
    assert compiled.captures == 1  # a fresh argument each call is the same signature


def test_a_mode_switch_inside_the_step_is_replayed():
    model = tl.nn.Sequential(tl.nn.Linear(3, 3), tl.nn.Dropout(0.5))

    @tl.compile
    def evaluate(x):
        model.eval()  # the step leaves the model in eval mode, as eager would
        with tl.no_grad():
            return model(x)
    x = tl.ones(2, 3)
    for _ in range(3):
        model.train()
        out = evaluate(x)
        assert not model.training and not model[1].training
        with tl.no_grad():
            np.testing.assert_array_equal(out.numpy(), model(x).numpy())
    assert evaluate.captures == 1  # the guard compares entry with entry: train() each time


def test_compiling_something_not_callable_is_refused_at_once():
    import pytest
    with pytest.raises(RuntimeError, match="tensorlite.compile: expected a function or a Module"):
        tl.compile(5)
    with pytest.raises(RuntimeError, match="got Tensor"):
        tl.compile(fullgraph=True)(tl.ones(2))
