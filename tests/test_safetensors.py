"""tensorlite.save_file / load_file: the safetensors format, through the safetensors package's
NumPy API, interchangeable with safetensors.torch in both directions."""
import numpy as np
import pytest
import torch

import tensorlite as tl

safetensors = pytest.importorskip("safetensors")
import safetensors.torch as st  # noqa: E402
from safetensors import safe_open  # noqa: E402


def torch_net():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(4 * 5 * 5, 8), torch.nn.LayerNorm(8),
        torch.nn.Tanh(), torch.nn.Linear(8, 3))


def tl_net():
    return tl.nn.Sequential(
        tl.nn.Conv2d(3, 4, 3, padding=1), tl.nn.BatchNorm2d(4), tl.nn.ReLU(),
        tl.nn.Flatten(), tl.nn.Linear(4 * 5 * 5, 8), tl.nn.LayerNorm(8),
        tl.nn.Tanh(), tl.nn.Linear(8, 3))


X = np.random.default_rng(1).standard_normal((6, 3, 5, 5)).astype(np.float32)


def test_a_pytorch_checkpoint_loads_into_the_tensorlite_twin(tmp_path, backend):
    net = torch_net()
    net.train()
    for _ in range(3):  # running statistics and num_batches_tracked move off their defaults
        net(torch.from_numpy(X) * 2 + 1)
    net.eval()
    path = tmp_path / "model.safetensors"
    st.save_file(net.state_dict(), str(path), metadata={"format": "pt"})
    state = tl.load_file(path, device=backend.device)
    assert set(state) == set(net.state_dict())
    assert all(v.device == backend.device for v in state.values())
    assert state["1.num_batches_tracked"].dtype == tl.int64
    assert int(state["1.num_batches_tracked"]) == 3
    twin = tl_net()
    result = twin.load_state_dict(state)
    assert list(result.missing_keys) == [] and list(result.unexpected_keys) == []
    twin.eval()
    with torch.no_grad():
        expected = net(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(np.asarray(twin(tl.tensor(X)).detach()), expected, rtol=1e-5,
                               atol=1e-5)
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(np.asarray(twin.state_dict()[k]), v.numpy())


def test_a_tensorlite_checkpoint_loads_into_pytorch(tmp_path):
    tl.manual_seed(0)
    twin = tl_net()
    twin.train()
    twin(tl.tensor(X) * 3)
    twin.eval()
    path = tmp_path / "model.safetensors"
    tl.save_file(twin.state_dict(), path, metadata={"framework": "tensorlite"})
    net = torch_net()
    net.load_state_dict(st.load_file(str(path)))
    net.eval()
    with torch.no_grad():
        expected = net(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(np.asarray(twin(tl.tensor(X)).detach()), expected, rtol=1e-5,
                               atol=1e-5)
    with safe_open(str(path), framework="np") as f:
        assert f.metadata() == {"framework": "tensorlite"}
        assert set(f.keys()) == set(twin.state_dict())


def test_dtypes_values_and_bytes_round_trip(tmp_path):
    tensors = {"f16": tl.tensor([1.5, -0.0, float("inf")], dtype=tl.float16),
               "f64": tl.tensor([[np.nan, 1e-300]], dtype=tl.float64),
               "i32": tl.tensor([-(2**31), 2**31 - 1], dtype=tl.int32),
               "i64": tl.tensor(2**62), "b": tl.tensor([True, False]),
               "empty": tl.zeros(0, 3), "view": tl.arange(12.0).reshape(3, 4).t()}
    path = tmp_path / "t.safetensors"
    tl.save_file(tensors, str(path))
    for loaded in (tl.load_file(path), tl.safetensors.load(tl.safetensors.save(tensors))):
        assert list(sorted(loaded)) == sorted(tensors)
        for k, v in tensors.items():
            assert loaded[k].dtype == v.dtype and loaded[k].shape == v.shape, k
            np.testing.assert_array_equal(np.asarray(loaded[k]), np.asarray(v))
    torch_side = st.load_file(str(path))
    assert torch_side["f16"].dtype == torch.float16 and torch_side["b"].dtype == torch.bool
    np.testing.assert_array_equal(torch_side["view"].numpy(), np.arange(12.0).reshape(3, 4).T)
    loaded = tl.load_file(path)
    loaded["i32"].add_(1)  # loaded tensors own writable memory
    assert int(loaded["i32"][0]) == -(2**31) + 1


def test_float64_checkpoint_into_a_float32_model_and_strictness(tmp_path):
    net = torch_net().double()
    path = tmp_path / "m.safetensors"
    st.save_file(net.state_dict(), str(path))
    twin = tl_net()
    twin.load_state_dict(tl.load_file(path))
    assert twin[0].weight.dtype == tl.float32  # copied into the existing parameters
    np.testing.assert_allclose(np.asarray(twin[0].weight.detach()),
                               net[0].weight.detach().numpy(), rtol=1e-6)
    state = tl.load_file(path)
    del state["7.bias"]
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "7.bias"'):
        twin.load_state_dict(state)


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="Key `a` is invalid"):
        st.save_file({"a": np.zeros(2)}, str(tmp_path / "x"))
    with pytest.raises(ValueError, match="Key `a` is invalid"):
        tl.save_file({"a": np.zeros(2)}, tmp_path / "x")
    with pytest.raises(TypeError, match="metadata"):
        tl.save_file({"a": tl.zeros(2)}, tmp_path / "x", metadata={"a": 1})
    st.save_file({"u8": torch.zeros(2, dtype=torch.uint16)}, str(tmp_path / "u8"))
    with pytest.raises(TypeError, match="'u8'.*(uint16|U16)"):
        tl.load_file(tmp_path / "u8")
    with pytest.raises(ValueError, match="device"):
        tl.load_file(tmp_path / "u8", device="tpu")
    with pytest.raises(FileNotFoundError):
        tl.load_file(tmp_path / "missing")
