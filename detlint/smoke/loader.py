"""The batches smoke trains on: an endless, full-batch DataLoader whose failing samples name themselves.

Owns :class:`Located` (a failing ``__getitem__`` becomes a :class:`Failure` that travels through
the DataLoader, even from worker processes, instead of an exception) and :func:`batches`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class Failure:
    """A sample whose loading raised; travels through the DataLoader instead of the exception."""

    index: int
    file: str | None
    error: str


class Located:
    """Wraps a dataset so a failing sample names itself (works inside DataLoader workers)."""

    def __init__(self, dataset: Any):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        try:
            return index, self.dataset[index]
        except Exception as error:  # noqa: BLE001 - any failure of user code or I/O becomes a diagnosis
            file = self.dataset.file_of(index) if hasattr(self.dataset, "file_of") else None
            return index, Failure(index, file, f"{type(error).__name__}: {error}")


class Cycle:
    """Sample indices 0..n-1, over and over (an endless sequential sampler)."""

    def __init__(self, n: int):
        self.n = n

    def __iter__(self) -> Iterator[int]:
        while True:
            yield from range(self.n)


def keep_samples(batch: list) -> list:
    """The collate function: the (index, sample) pairs as they are, inspected before collating."""
    return batch


def batches(dataset: Any, batch_size: int, num_workers: int) -> Iterator[list]:
    """Endless batches of (index, sample or :class:`Failure`) pairs."""
    from torch.utils.data import DataLoader

    # Cycle through the samples so every batch is full, as with drop_last in a real run: a
    # short last batch of 1 would fail in BatchNorm layers for a reason training never meets.
    loader = DataLoader(Located(dataset), batch_size=batch_size, sampler=Cycle(len(dataset)),
                        num_workers=num_workers, collate_fn=keep_samples)
    yield from loader
