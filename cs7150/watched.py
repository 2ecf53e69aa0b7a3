"""A model that checks how it is called: what a test of an evaluation loop sends to the loop.

``WatchedModel(model, batches)`` runs ``model`` and, before every call,
checks what an evaluation must do: autograd off (``torch.no_grad()``),
evaluation mode (dropout off, batch norm on its running statistics), and a
batch of one of the sizes still expected. A failed check raises
``RuntimeError`` saying what was wrong, so the loop's caller sees it even where
only the exception comes back (the notebooks' graders call the loop in the
student's kernel and get back its result or its exception, never the model).
"""
from __future__ import annotations

import torch
from torch import nn


class WatchedModel(nn.Module):
    """``model``, checking every call: no autograd, evaluation mode, and batch sizes from ``batches``.

    Args:
        model: nn.Module mapping (B, ...) to (B, classes).
        batches: the batch sizes an evaluation of all the images makes, in any order (e.g. ``[10, 10, 10, 7]``
            for 37 images in batches of 10); each call takes one of them.

    Raises (when called):
        RuntimeError: autograd is recording, the model is in training mode, or the batch is not one of the sizes
            still expected (larger than the batch size, or one call too many).
    """

    def __init__(self, model: nn.Module, batches: list[int]):
        super().__init__()
        self.model = model
        self.batch_size = max(batches)
        self.expected = [int(n) for n in batches]
        self.remaining = list(self.expected)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            raise RuntimeError("the model was called with autograd recording: evaluate under torch.no_grad()")
        if any(module.training for module in self.modules()):
            raise RuntimeError("the model was called in training mode (dropout still on): call model.eval() first")
        n = len(x)
        if n > self.batch_size:
            raise RuntimeError(f"the model was called on a batch of {n} images; batch_size was {self.batch_size}")
        if n not in self.remaining:
            raise RuntimeError(f"the model was called on a batch of {n} images after {self._seen()}; "
                               f"{sum(self.expected)} images in batches of {self.batch_size} are {self.expected}")
        self.remaining.remove(n)
        return self.model(x)

    def _seen(self) -> str:
        seen = list(self.expected)
        for n in self.remaining:
            seen.remove(n)
        return f"batches of {seen}" if seen else "no batch"
