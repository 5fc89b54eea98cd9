"""The child's data path (training/batches.py), without a child: batches gathered by threads in
order, the batched random-resized crop and flip, and the input the network gets."""

import numpy as np
import pytest
import torch

from training import batches


def test_index_batches_by_steps_or_epochs():
    epochs = list(batches.index_batches(10, 4, 2, None, 0))
    assert [len(b) for b in epochs] == [4, 4, 2, 4, 4, 2]
    assert sorted(np.concatenate(epochs[:3]).tolist()) == list(range(10))  # an epoch sees every image once
    assert all((np.diff(b) > 0).all() for b in epochs)  # sorted: the memory map is read forwards
    assert [len(b) for b in batches.index_batches(9, 4, 1, None, 0)] == [4, 4]  # a last batch of one is skipped
    assert len(list(batches.index_batches(10, 4, 1, 7, 0))) == 7  # steps win over epochs
    assert [b.tolist() for b in batches.index_batches(10, 4, 1, None, 3)] == \
        [b.tolist() for b in batches.index_batches(10, 4, 1, None, 3)]  # seeded


def test_threads_gather_batches_in_order(tmp_path):
    x = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.uint8, shape=(100, 3, 4, 4))
    x[:] = np.arange(100, dtype=np.uint8)[:, None, None, None]
    x.flush()
    x = np.load(tmp_path / "x.npy", mmap_mode="r")
    y = np.arange(100) * 10
    indices = list(batches.index_batches(100, 7, 3, None, 1))
    got = list(batches.Batches(x, y, iter(indices), threads=4))
    assert len(got) == len(indices)
    for index, (images, labels) in zip(indices, got):
        assert images[:, 0, 0, 0].tolist() == index.tolist() and labels.tolist() == (index * 10).tolist()


def test_augment_is_a_crop_and_flip_of_the_whole_batch():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    generator = torch.Generator().manual_seed(0)
    same = batches.augment(x, generator, crop=False, flip=False, torch=torch)
    assert torch.allclose(same, x, atol=1e-4)  # the identity map samples every pixel at its centre
    flipped = batches.augment(x, torch.Generator().manual_seed(1), crop=False, flip=True, torch=torch)
    for image, out in zip(x, flipped):
        assert torch.allclose(out, image, atol=1e-4) or torch.allclose(out, image.flip(-1), atol=1e-4)
    cropped = batches.augment(x.repeat(16, 1, 1, 1), generator, crop=True, flip=True, torch=torch)
    assert cropped.shape == (32, 3, 8, 8) and cropped.min() >= x.min() - 1e-4 and cropped.max() <= x.max() + 1e-4
    assert not torch.allclose(cropped[0], cropped[2])  # each image its own crop
    assert batches.crop_scale(196) == (0.08, 1.0) and batches.crop_scale(32) == (0.35, 1.0)


def test_the_input_is_normalised_floats_from_read_only_memory(tmp_path):
    np.save(tmp_path / "x.npy", np.full((2, 3, 2, 2), 255, np.uint8))
    view = np.load(tmp_path / "x.npy", mmap_mode="r")[:2]
    mean, std = torch.full((1, 3, 1, 1), 0.5), torch.full((1, 3, 1, 1), 0.25)
    x = batches.to_input(view, torch.device("cpu"), mean, std, torch)
    assert x.dtype == torch.float32 and torch.allclose(x, torch.full_like(x, 2.0))
