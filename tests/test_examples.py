"""The examples run end to end and say true things.

- examples/train_digits.py and examples/cnn_digits.py, on a small epoch budget: they learn,
  early stopping restores the best weights, the checkpoint reloads (here, independently of the
  script's own check) to identical predictions, and the plot is a real PNG.
- examples/seed_tutorials.py: the tutorials' hand-derived gradients against tensorlite's
  autograd, central differences and (as an outside oracle) PyTorch, with the discrepancies the
  script claims, by the factors it claims.
"""
import os
import re
import struct
import sys
import zlib

import numpy as np
import pytest

import tensorlite as tl

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
sys.path.insert(0, EXAMPLES)

import _common  # noqa: E402
import cnn_digits  # noqa: E402
import seed_tutorials as st  # noqa: E402
import train_digits  # noqa: E402

FINAL_LINE = re.compile(r"^test accuracy: (0\.\d{3}|1\.000) \(backend (\w+), (\d+) epochs, "
                        r"[\d.]+ s\)$", re.M)


def assert_png(path):
    """A valid PNG: signature, well-formed chunks with correct CRCs, IHDR first, IEND last,
    and image data that decompresses."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} has no PNG signature"
    pos, kinds, idat = 8, [], b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in the {kind!r} chunk of {path}"
        kinds.append(kind)
        if kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND", kinds
    width, height = struct.unpack(">II", data[16:24])
    assert width > 100 and height > 100
    assert len(zlib.decompress(idat)) > width * height  # at least one byte per pixel


def run_example(module, argv, tmp_path, capsys):
    result = module.main(argv + ["--out", str(tmp_path), "--quiet"])
    out = capsys.readouterr().out
    match = FINAL_LINE.search(out)
    assert match, f"no final 'test accuracy: ...' line in:\n{out}"
    assert float(match.group(1)) == pytest.approx(result["test_accuracy"], abs=5e-4)
    assert match.group(2) == tl.get_backend().name  # the backend is not hard-coded
    assert int(match.group(3)) == result["epochs"]
    return result


def check_pipeline(result, build_model, tmp_path, seed, image):
    hist = result["history"]
    # it learned: training and validation losses fall, the restored epoch is the best one
    assert hist["train_loss"][-1] < 0.5 * hist["train_loss"][0]
    assert min(hist["val_loss"]) < 0.5 * hist["val_loss"][0]
    assert result["best_epoch"] == int(np.argmin(hist["val_loss"]))
    _, val, test = _common.load_splits(seed, image=image)
    val_loss, _, _ = _common.evaluate(result["model"], *val)
    assert val_loss == pytest.approx(hist["val_loss"][result["best_epoch"]], rel=1e-6)

    # the checkpoint, reloaded here into a fresh model, gives identical test predictions
    ckpt = tmp_path / os.path.basename(result["checkpoint"])
    assert ckpt.exists()
    tl.manual_seed(seed + 12345)  # a different initialization, overwritten by the checkpoint
    fresh = build_model()
    before = _common.predict(fresh, test[0]).numpy()
    state = tl.load(str(ckpt))
    fresh.load_state_dict(state["model"])
    after = _common.predict(fresh, test[0]).numpy()
    assert not np.array_equal(before, after)
    np.testing.assert_array_equal(after, result["test_logits"].numpy())
    assert state["test_accuracy"] == result["test_accuracy"]
    assert state["best_epoch"] == result["best_epoch"]

    assert_png(tmp_path / os.path.basename(result["plot"]))


# -- the digits examples ---------------------------------------------------------------------------

def test_train_digits_learns_and_checkpoints(tmp_path, capsys):
    result = run_example(train_digits, ["--epochs", "8", "--seed", "0"], tmp_path, capsys)
    assert result["test_accuracy"] >= 0.9
    assert result["epochs"] == 8
    check_pipeline(result, train_digits.build_model, tmp_path, seed=0, image=False)


def test_train_digits_stops_early_and_takes_l1(tmp_path, capsys):
    result = run_example(train_digits, ["--epochs", "40", "--patience", "1", "--l1", "1e-4",
                                        "--l2", "1e-4", "--seed", "1"], tmp_path, capsys)
    hist = result["history"]
    assert result["epochs"] < 40
    # it stopped right after the first epoch that did not improve on the best
    assert result["epochs"] == result["best_epoch"] + 2
    assert hist["val_loss"][-1] >= hist["val_loss"][result["best_epoch"]] - 1e-4
    assert result["test_accuracy"] >= 0.9


def test_splits_are_seeded_disjoint_and_standardized_on_train_only():
    (a, ya), (b, yb), (c, yc) = _common.load_splits(3)
    (a2, _), _, _ = _common.load_splits(3)
    (a3, _), _, _ = _common.load_splits(4)
    np.testing.assert_array_equal(a.numpy(), a2.numpy())
    assert not np.array_equal(a.numpy(), a3.numpy())
    assert (len(a), len(b), len(c)) == (1258, 270, 269)
    rows = {r.tobytes() for r in a.numpy()}
    assert not any(r.tobytes() in rows for r in c.numpy())
    train = a.numpy()
    varying = train.std(axis=0) > 0
    np.testing.assert_allclose(train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(train.std(axis=0)[varying], 1, rtol=1e-4)
    assert np.abs(c.numpy().mean(axis=0)[varying]).max() > 0.05  # test stats were not used
    img, _ = _common.load_splits(3, image=True)[0]
    assert img.shape == (1258, 1, 8, 8)
    np.testing.assert_array_equal(img.numpy().reshape(1258, 64), train)


def test_penalty_is_l1_plus_l2_over_weights_only():
    tl.manual_seed(0)
    model = train_digits.build_model()
    weights = [p.detach().numpy() for n, p in model.named_parameters() if n.endswith("weight")]
    expected = 0.3 * sum(np.abs(w).sum() for w in weights) + 0.2 * sum((w * w).sum()
                                                                       for w in weights)
    assert _common.penalty(model, l1=0.3, l2=0.2).item() == pytest.approx(expected, rel=1e-5)
    assert _common.penalty(model) is None


def test_l1_penalty_shrinks_the_trained_weights(tmp_path, capsys):
    def weight_l1(l1):
        result = run_example(train_digits, ["--epochs", "2", "--l1", str(l1)], tmp_path, capsys)
        return sum(np.abs(p.detach().numpy()).sum()
                   for n, p in result["model"].named_parameters() if n.endswith("weight"))
    assert weight_l1(1e-3) < 0.8 * weight_l1(0.0)  # 766 vs 1129 when written


def test_cnn_digits_learns_and_checkpoints(tmp_path, capsys):
    result = run_example(cnn_digits, ["--epochs", "5", "--seed", "0"], tmp_path, capsys)
    assert result["test_accuracy"] >= 0.9
    check_pipeline(result, cnn_digits.build_model, tmp_path, seed=0, image=True)


# -- the seed tutorials ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def seed000():
    return st.compare_seed000()


@pytest.fixture(scope="module")
def seed001():
    return st.compare_seed001()


@pytest.fixture(scope="module")
def seed002():
    return st.compare_seed002()


def test_seed000_hand_gradients_are_right(seed000):
    assert seed000["hand_vs_autograd"] < 1e-10
    assert seed000["hand_vs_numeric"] < 1e-6
    assert seed000["autograd_gradcheck"] is True
    # trained the tutorial's way (lr 0.01, 1000 epochs), tensorlite follows the same path
    assert seed000["train_loss_diff"] < 1e-10 and seed000["train_weight_diff"] < 1e-10
    assert seed000["loss_last"] < 0.02 * seed000["loss_first"]


def test_seed001_output_error_is_wrong_by_the_claimed_factor(seed001):
    N = seed001["N"]
    for point in ("at_init", "at_trained"):
        g = seed001[point]
        # autograd == the corrected hand gradient, and both match central differences
        assert g["corrected_vs_autograd"] < 1e-10
        assert g["corrected_vs_numeric"] < 1e-6
        assert g["autograd_gradcheck"] is True
        # the tutorial's gradient is far off; its dz_L is N / (2 sigmoid'(z_L)) times the truth
        assert g["hand_vs_autograd"] > 100 * g["scale"]
        assert g["hand_vs_numeric"] > 100 * g["scale"]
        assert g["output_error_ratio_vs_claim"] < 1e-10
        # ... which is the exact gradient of the summed binary cross-entropy
        assert g["hand_vs_autograd_of_summed_bce"] < 1e-10 * 2 * N
    lo, hi = seed001["at_init"]["output_error_ratio"]
    assert lo == pytest.approx(2 * N, rel=1e-4) and hi == pytest.approx(2 * N, rel=1e-4)
    for lo, hi in seed001["at_init"]["param_ratio_ranges"]:
        assert lo == pytest.approx(2 * N, rel=1e-4) and hi == pytest.approx(2 * N, rel=1e-4)
    lo, hi = seed001["at_trained"]["output_error_ratio"]
    assert lo > 2 * N * 1.5 and hi > lo * 1.01  # not one fixed factor


def test_seed001_training_as_written_saturates(seed001):
    first, last = seed001["tutorial_loss"]
    assert last == pytest.approx(seed001["mse_of_predicting_0"], abs=1e-9)
    assert seed001["tutorial_saturated_epoch"] is not None
    assert seed001["tutorial_max_abs_zL"] > 709  # np.exp(-z) overflows
    assert seed001["tutorial_max_abs_W2"] > 100 * seed001["corrected_max_abs_W2"]
    assert seed001["corrected_loss"][1] < seed001["corrected_loss"][0]
    assert seed001["corrected_vs_tl_train_loss_diff"] < 1e-10
    assert seed001["corrected_vs_tl_train_weight_diff"] < 1e-10


def test_seed001_hand_gradient_against_torch():
    """An outside oracle for the claim: torch's gradient of the tutorial's MSE."""
    torch = pytest.importorskip("torch")
    network, X, y = st.setup_seed001(seed=5)
    params = [torch.tensor(a, requires_grad=True)
              for pair in zip(network.weights, network.biases) for a in pair]
    a = torch.tensor(X)
    for W, b in zip(params[::2], params[1::2]):
        z = W @ a + b
        a = torch.sigmoid(z)
    z.retain_grad()
    torch.mean((torch.tensor(y) - a) ** 2).backward()
    truth = [p.grad.numpy() for p in params]
    hand = st._grads_001(network, X, y)
    corrected = st._grads_001(st._rebind(network, st.CorrectedNeuralNetwork001), X, y)
    assert st.max_abs_diff(corrected, truth) < 1e-12
    # the tutorial's output error a_L - y is N / (2 sigmoid'(z_L)) times dL/dz_L, per sample
    s = torch.sigmoid(z).detach().numpy()
    np.testing.assert_allclose(a.detach().numpy() - y, y.size / (2 * s * (1 - s)) * z.grad.numpy(),
                               rtol=1e-12, atol=0)
    # at these initial weights (z_L ~ 0, sigmoid' ~ 1/4) every gradient is ~2N times the truth
    np.testing.assert_allclose(np.concatenate([h.ravel() for h in hand]),
                               2 * y.size * np.concatenate([t.ravel() for t in truth]), rtol=1e-4)


def test_seed001_basic_backward_pass_indexes_one_layer_off():
    r = st.check_backward_pass_001()
    assert r["keys_read"] == ["a2", "a0", "z0"]
    assert r["dW1_shape"] == (1, 2) and r["W1_shape"] == (1, 3)
    assert isinstance(r["error"], KeyError) and r["error"].args == ("z0",)


def test_seed002_hand_gradients_are_right(seed002):
    for name in ("one_sample", "train_batch"):
        assert seed002[name]["hand_vs_autograd"] < 1e-10
        assert seed002[name]["hand_vs_numeric"] < 1e-6
        assert seed002[name]["autograd_gradcheck"] is True
    before, after = seed002["one_step"]["loss"]
    assert after < before
    np.testing.assert_allclose(seed002["one_step"]["tl_loss"], (before, after), rtol=1e-12)
    train = seed002["train"]
    assert train["loss"][1] < train["loss"][0]
    assert train["loss_diff"] < 1e-10 and train["weight_diff"] < 1e-10


def test_seed_tutorials_report(capsys):
    st.main()
    out = capsys.readouterr().out
    assert out.count("DISAGREES") == 1
    assert out.count("verdict: correct") == 2
    for name in (st.SEED_000, st.SEED_001, st.SEED_002):
        assert name in out


def test_train_digits_compiled_follows_the_eager_run(tmp_path, capsys):
    """--compile replays the captured training step: the same history, epoch by epoch."""
    eager = run_example(train_digits, ["--epochs", "3", "--seed", "1"], tmp_path / "e", capsys)
    compiled = run_example(train_digits, ["--epochs", "3", "--seed", "1", "--compile"],
                           tmp_path / "c", capsys)
    assert compiled["compiled"]["captures"] >= 1 and eager["compiled"] is None
    for key in ("train_loss", "val_loss", "val_acc"):
        np.testing.assert_allclose(compiled["history"][key], eager["history"][key], rtol=1e-5,
                                   atol=1e-6, err_msg=key)
    assert compiled["test_accuracy"] == eager["test_accuracy"]
