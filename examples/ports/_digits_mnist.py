"""A stand-in for the parts of torchvision that pytorch/examples' ``mnist`` and ``vae`` use
(``datasets.MNIST``, ``transforms.ToTensor / Normalize / Compose`` and ``utils.save_image``),
serving scikit-learn's bundled handwritten digits instead of downloading MNIST.

The digits are 1797 8x8 images with values 0..16: each is scaled to [0, 1], enlarged 3x by
repeating pixels (24x24) and padded with 2 zero pixels on every side, so it is 28x28 like an
MNIST image (whose digits also sit in a centred box with a blank border) and the programs'
layer shapes (784 inputs, 9216 features after the convolutions) work unchanged.
``MNIST(train=True)`` holds the first 1437 (80%), ``train=False`` the other 360.

Library-neutral on purpose: ``ToTensor`` returns a float32 NumPy array (1, 28, 28) and a
target is a Python int, so the DataLoader of whichever library runs the program (tensorlite or
PyTorch) collates them into its own tensors; the same program file runs on both.
"""
import os
import struct
import zlib

import numpy as np

TRAIN_SIZE = 1437


def digits_28x28():
    """(images float32 (1797, 28, 28) in [0, 1], labels int64 (1797,)) from sklearn's digits."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    small = digits.images.astype(np.float32) / 16.0
    big = np.repeat(np.repeat(small, 3, axis=1), 3, axis=2)
    images = np.zeros((len(small), 28, 28), dtype=np.float32)
    images[:, 2:26, 2:26] = big
    return images, digits.target.astype(np.int64)


class MNIST:
    """``torchvision.datasets.MNIST(root, train=True, transform=None, target_transform=None,
    download=False)`` on the digits: ``root`` and ``download`` are accepted and ignored."""

    classes = [f"{i} - {name}" for i, name in enumerate(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])]

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        images, labels = digits_28x28()
        part = slice(0, TRAIN_SIZE) if train else slice(TRAIN_SIZE, None)
        self.data, self.targets = images[part], labels[part]
        self.root, self.train = root, train
        self.transform, self.target_transform = transform, target_transform

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        img, target = self.data[index], int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target


class ToTensor:
    """An (H, W) image in [0, 1] -> a float32 (1, H, W) array (torchvision's channel-first
    layout; uint8 images are divided by 255 as torchvision does)."""

    def __call__(self, pic):
        arr = np.asarray(pic)
        scale = 255.0 if arr.dtype == np.uint8 else 1.0
        arr = arr.astype(np.float32) / np.float32(scale)
        return arr[None] if arr.ndim == 2 else arr

    def __repr__(self):
        return "ToTensor()"


class Normalize:
    """Per channel ``(x - mean) / std`` on a (C, H, W) array, in its dtype."""

    def __init__(self, mean, std, inplace=False):
        self.mean, self.std, self.inplace = mean, std, inplace

    def __call__(self, arr):
        mean = np.asarray(self.mean, dtype=arr.dtype).reshape(-1, 1, 1)
        std = np.asarray(self.std, dtype=arr.dtype).reshape(-1, 1, 1)
        return (arr - mean) / std

    def __repr__(self):
        return f"Normalize(mean={self.mean}, std={self.std})"


class Compose:
    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img


class _Namespace:
    def __init__(self, **members):
        self.__dict__.update(members)


datasets = _Namespace(MNIST=MNIST)
transforms = _Namespace(ToTensor=ToTensor, Normalize=Normalize, Compose=Compose)


def make_grid(tensor, nrow=8, padding=2, pad_value=0.0):
    """torchvision.utils.make_grid for a (B, C, H, W) batch (tensorlite or torch tensor, or an
    array): a (3, rows, cols) float array, 1-channel images repeated to RGB."""
    arr = np.asarray(tensor.detach().cpu().numpy() if hasattr(tensor, "detach") else tensor,
                     dtype=np.float64)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.shape[1] == 1:
        arr = np.repeat(arr, 3, axis=1)
    n, c, h, w = arr.shape
    xmaps = min(nrow, n)
    ymaps = -(-n // xmaps)
    hp, wp = h + padding, w + padding
    grid = np.full((c, ymaps * hp + padding, xmaps * wp + padding), pad_value)
    for k in range(n):
        y, x = divmod(k, xmaps)
        grid[:, y * hp + padding:y * hp + padding + h, x * wp + padding:x * wp + padding + w] = arr[k]
    return grid


def save_image(tensor, fp, nrow=8, padding=2, pad_value=0.0, format=None):
    """torchvision.utils.save_image: the grid of the batch as an 8-bit RGB PNG at ``fp``."""
    grid = make_grid(tensor, nrow=nrow, padding=padding, pad_value=pad_value)
    pixels = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    height, width, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[row].tobytes() for row in range(height))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    png = (b"\x89PNG\r\n\x1a\n"
           + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    with open(os.fspath(fp), "wb") as f:
        f.write(png)
