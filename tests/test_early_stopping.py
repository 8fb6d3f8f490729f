"""tensorlite.utils.EarlyStopping: patience, min_delta, mode, NaN, restoring the best weights."""
import collections
import math

import numpy as np
import pytest

import tensorlite as tl
from tensorlite.utils import EarlyStopping


class FakeModule:
    """What EarlyStopping needs from a module: state_dict() returning tensors that share the
    parameters' storage (as nn.Module's do) and load_state_dict() copying values in."""

    def __init__(self):
        self.w = tl.zeros(2, 3)
        self.b = tl.zeros(3)
        self.loaded = 0

    def state_dict(self):
        return collections.OrderedDict(w=self.w.detach(), b=self.b.detach())

    def load_state_dict(self, state):
        with tl.no_grad():
            self.w.copy_(state["w"])
            self.b.copy_(state["b"])
        self.loaded += 1
        return [], []


def run(stopper, metrics):
    return [stopper.step(m) for m in metrics]


def test_patience_counts_consecutive_bad_epochs_min_mode():
    es = EarlyStopping(patience=2)
    assert run(es, [5, 4, 4.5, 4.2, 3.9, 4, 4, 4]) == [False, False, False, True, False, False,
                                                        True, True]
    assert es.best == 3.9 and es.best_epoch == 4 and es.should_stop and es.num_bad_epochs == 3


def test_equal_metric_is_not_an_improvement():
    es = EarlyStopping(patience=1)
    assert run(es, [1.0, 1.0]) == [False, True]
    assert es.best_epoch == 0


def test_min_delta_is_a_strict_margin():
    es = EarlyStopping(patience=3, min_delta=0.5)
    run(es, [10.0, 9.6, 9.5, 9.4, 9.0])
    # 9.6 and 9.5 are not better than 10 - 0.5; 9.4 is; 9.0 is not better than 9.4 - 0.5
    assert (es.best, es.best_epoch, es.num_bad_epochs) == (9.4, 3, 1)
    es = EarlyStopping(patience=9, min_delta=0.25, mode="max")
    epochs = []
    for m in [0.5, 0.75, 0.76, 1.0, 1.2]:
        es.step(m)
        epochs.append(es.best_epoch)
    assert epochs == [0, 0, 2, 2, 4] and es.best == 1.2


def test_max_mode():
    es = EarlyStopping(patience=2, mode="max")
    assert run(es, [0.1, 0.3, 0.2, 0.35, 0.34, 0.3]) == [False] * 5 + [True]
    assert (es.best, es.best_epoch) == (0.35, 3)


def test_patience_zero_stops_at_the_first_bad_epoch():
    es = EarlyStopping(patience=0)
    assert run(es, [3, 2, 2.5]) == [False, False, True]


def test_improvement_after_stop_resets():
    es = EarlyStopping(patience=1)
    assert run(es, [1, 2, 0.5]) == [False, True, False]
    assert not es.should_stop and es.best_epoch == 2


def test_nan_never_improves():
    es = EarlyStopping(patience=2)
    assert run(es, [math.nan, 3.0, math.nan, math.nan]) == [False, False, False, True]
    assert es.best == 3.0 and es.best_epoch == 1
    es = EarlyStopping(patience=1, mode="max")
    assert run(es, [math.nan, 0.5]) == [True, False]  # a NaN epoch is a bad epoch
    assert es.best_epoch == 1


def test_metric_types():
    es = EarlyStopping(patience=5)
    es.step(tl.tensor(2.0))
    es.step(tl.tensor([1.5], dtype=tl.float64))
    es.step(np.float32(1.25))
    es.step(tl.tensor(3.0, requires_grad=True) * 1.0)
    assert es.best == 1.25 and es.best_epoch == 2
    with pytest.raises(ValueError, match="one-element"):
        es.step(tl.ones(2))
    with pytest.raises(TypeError, match="str"):
        es.step("0.5")
    with pytest.raises(TypeError, match="bool"):
        es.step(True)


@pytest.mark.parametrize("kw,match", [({"patience": -1}, "patience"),
                                      ({"patience": 1.5}, "patience"),
                                      ({"min_delta": -0.1}, "min_delta"),
                                      ({"min_delta": math.nan}, "min_delta"),
                                      ({"mode": "minimize"}, "mode")])
def test_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        EarlyStopping(**kw)


def test_restore_best_weights():
    model = FakeModule()
    es = EarlyStopping(patience=2)
    losses = [3.0, 2.0, 2.5, 1.0, 1.5, 1.8]
    snapshots = []
    for epoch, loss in enumerate(losses):
        with tl.no_grad():  # "training": change the weights in place every epoch
            model.w.fill_(float(epoch))
            model.b.add_(tl.ones(3))
        snapshots.append((np.asarray(model.w).copy(), np.asarray(model.b).copy()))
        if es.step(loss, model):
            break
    assert epoch == 5 and es.best_epoch == 3
    assert np.asarray(model.w)[0, 0] == 5.0
    es.restore(model)
    np.testing.assert_array_equal(np.asarray(model.w), snapshots[3][0])
    np.testing.assert_array_equal(np.asarray(model.b), snapshots[3][1])
    # the kept copy is independent of the model: changing the model keeps it intact
    with tl.no_grad():
        model.w.fill_(-1.0)
    np.testing.assert_array_equal(np.asarray(es.best_state["w"]), snapshots[3][0])
    es.restore(model)
    np.testing.assert_array_equal(np.asarray(model.w), snapshots[3][0])
    assert model.loaded == 2 and type(es.best_state) is collections.OrderedDict


def test_restore_errors():
    model = FakeModule()
    es = EarlyStopping(restore_best=False)
    es.step(1.0, model)
    assert es.best_state is None
    with pytest.raises(RuntimeError, match="restore_best=False"):
        es.restore(model)
    es = EarlyStopping()
    es.step(1.0)
    with pytest.raises(RuntimeError, match="pass the model"):
        es.restore(model)
    es.step(0.5, model)
    es.step(0.1)  # a better epoch without the model: the older copy is no longer the best
    assert es.best_state is None


def test_state_dict_round_trip_through_a_checkpoint(tmp_path):
    model = FakeModule()
    es = EarlyStopping(patience=3)
    with tl.no_grad():
        model.w.fill_(7.0)
    run(es, [4.0])
    es.step(2.0, model)
    es.step(2.5, model)
    tl.save(es.state_dict(), tmp_path / "es.tl")
    es2 = EarlyStopping(patience=3)
    es2.load_state_dict(tl.load(tmp_path / "es.tl"))
    assert (es2.best, es2.best_epoch, es2.num_bad_epochs, es2.epoch) == (2.0, 1, 1, 3)
    assert run(es2, [3.0, 3.0]) == [False, True]
    with tl.no_grad():
        model.w.fill_(0.0)
    es2.restore(model)
    assert float(np.asarray(model.w).min()) == 7.0
    es2.reset()
    assert es2.best == math.inf and es2.best_epoch is None and not es2.should_stop
