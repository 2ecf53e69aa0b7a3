"""The trainer behind ``cs7150 train``: device choice, a seeded training loop, checkpoints.

The whole dataset is copied to the device once; each epoch draws a seeded
permutation and slices mini-batches out of the resident tensors (no
DataLoader, no per-batch host-to-device copies). PyTorch models train with
Adam or SGD under a one-cycle learning-rate schedule; the NumPy twin
(``NumpyLeNet5``) trains through the same loop with SGD + momentum in NumPy.
"""
from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from cs7150.atomic import atomic_write
from cs7150.numpy_lenet import NumpyLeNet5

DEVICE_TYPES = ("cpu", "cuda", "mps")
OPTIMIZERS = ("adam", "sgd")
DEFAULT_LR = {"adam": 2e-3, "sgd": 0.05}  # peak learning rate of the one-cycle schedule
EVAL_BATCH_SIZE = 1000


def choose_device(name=None) -> torch.device:
    """The device to train on.

    Args:
        name: None to pick the best available (CUDA if
            ``torch.cuda.is_available()``, else MPS, else CPU), or an explicit
            'cpu', 'cuda', 'cuda:N', 'mps' (str or ``torch.device``).

    Returns:
        A ``torch.device``.

    Raises:
        ValueError: ``name`` is not a device string of a known type, or names a
            device this machine does not have (e.g. 'cuda' without a GPU).
    """
    if name is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    expected = "expected 'cpu', 'cuda', 'cuda:N' or 'mps'"
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {name!r}; {expected}") from None
    if device.type not in DEVICE_TYPES:
        raise ValueError(f"unknown device {name!r}; {expected}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} requested but CUDA is not available on this machine; use 'cpu'")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {name!r} requested but MPS is not available on this machine; use 'cpu'")
    return device


@dataclasses.dataclass
class TrainConfig:
    """Training options.

    Attributes:
        epochs: int >= 1, passes over the training set.
        batch_size: int >= 1, images per step.
        optimizer: 'adam' or 'sgd' (with ``momentum``); the NumPy twin
            always uses SGD + momentum.
        lr: peak learning rate of the one-cycle schedule; None for
            ``DEFAULT_LR`` of the optimizer.
        weight_decay: float >= 0, L2 penalty added to the gradients.
        momentum: float in [0, 1), SGD's momentum.
        seed: int, seeds the batch order (the model's weights are seeded by
            ``build_model``).
        amp: bool, CUDA autocast (bf16 where supported, else fp16 with a
            gradient scaler); ignored on other devices.
        channels_last: bool, NHWC memory format for model and batches on CUDA;
            ignored on other devices.
        progress: bool, show a tqdm bar per epoch.

    Raises:
        ValueError: an option out of range or an unknown optimizer.
    """

    epochs: int = 6
    batch_size: int = 128
    optimizer: str = "adam"
    lr: float | None = None
    weight_decay: float = 0.0
    momentum: float = 0.9
    seed: int = 0
    amp: bool = False
    channels_last: bool = False
    progress: bool = True

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")

    def peak_lr(self, optimizer: str) -> float:
        """``lr``, or the default peak learning rate of ``optimizer`` ('adam' or 'sgd')."""
        return DEFAULT_LR[optimizer] if self.lr is None else self.lr


def _one_cycle(optimizer, peak_lr: float, total_steps: int):
    """The one-cycle schedule (warm up to ``peak_lr`` over 30% of the steps, then anneal)."""
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=peak_lr, total_steps=total_steps)


class _TorchRunner:
    """Steps an ``nn.Module`` on resident device tensors (images (N, C, H, W), labels (N,))."""

    def __init__(self, model, train_set, config: TrainConfig, device: torch.device, total_steps: int):
        cuda = device.type == "cuda"
        self.device = device
        self.memory_format = torch.channels_last if config.channels_last and cuda else torch.contiguous_format
        self.model = model.to(device=device, memory_format=self.memory_format)
        self.images, self.labels = (torch.as_tensor(t).to(device) for t in train_set)
        self.amp_dtype = None
        if config.amp and cuda:
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = self.scheduler = None
        if params:  # the chance model has nothing to train
            if config.optimizer == "adam":
                self.optimizer = torch.optim.Adam(params, lr=config.peak_lr("adam"), weight_decay=config.weight_decay)
            else:
                self.optimizer = torch.optim.SGD(params, lr=config.peak_lr("sgd"), momentum=config.momentum,
                                                 weight_decay=config.weight_decay)
            self.scheduler = _one_cycle(self.optimizer, config.peak_lr(config.optimizer), total_steps)

    def order(self, permutation: torch.Tensor) -> torch.Tensor:
        return permutation.to(self.device)

    def step(self, idx) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimizer step on the batch ``idx``; returns (summed loss, correct count) as device tensors."""
        x = self.images[idx].contiguous(memory_format=self.memory_format)  # (B, C, H, W)
        y = self.labels[idx]                                                # (B,)
        self.model.train()
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            logits = self.model(x)                                          # (B, classes)
        loss = F.cross_entropy(logits.float(), y)
        if self.optimizer is not None:
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
        return loss.detach() * len(y), (logits.argmax(1) == y).sum()

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


class _NumpyRunner:
    """Steps a ``NumpyLeNet5`` with SGD + momentum in NumPy on CPU arrays."""

    def __init__(self, model: NumpyLeNet5, train_set, config: TrainConfig, total_steps: int):
        self.model = model
        self.images, self.labels = (np.asarray(a.cpu() if torch.is_tensor(a) else a) for a in train_set)
        self.images = self.images.astype(model.dtype, copy=False)
        self.momentum, self.weight_decay = config.momentum, config.weight_decay
        self.velocity = {name: np.zeros_like(p) for name, p in model.params.items()}
        # The learning rate follows the same one-cycle schedule as PyTorch's (read off a stand-in optimizer).
        self.lr_source = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=config.peak_lr("sgd"))
        self.scheduler = _one_cycle(self.lr_source, config.peak_lr("sgd"), total_steps)

    def order(self, permutation: torch.Tensor) -> np.ndarray:
        return permutation.numpy()

    def step(self, idx) -> tuple[float, int]:
        """One SGD + momentum step on the batch ``idx``; returns (summed loss, correct count)."""
        x, y = self.images[idx], self.labels[idx]  # (B, C, H, W), (B,)
        logits, loss, grads = self.model.logits_loss_and_grads(x, y)
        lr = self.scheduler.get_last_lr()[0]
        for name, p in self.model.params.items():
            v = self.velocity[name]
            v *= self.momentum
            v -= lr * (grads[name] + self.weight_decay * p)
            p += v
        self.lr_source.step()  # keeps PyTorch from warning that the scheduler stepped first
        self.scheduler.step()
        return loss * len(y), int((logits.argmax(1) == y).sum())

    def synchronize(self) -> None:
        pass


def predict_logits(model, images, batch_size: int = EVAL_BATCH_SIZE) -> torch.Tensor:
    """Logits of ``model`` for ``images`` in evaluation mode, in batches, without gradients.

    Args:
        model: an ``nn.Module`` or a ``NumpyLeNet5``.
        images: float tensor (any device) or ndarray (N, C, H, W); batches
            are moved to the device of the module's parameters.
        batch_size: int, images per forward pass.

    Returns:
        float32 tensor (N, classes): on the module's device (the images' for a
        module without parameters), on CPU for the NumPy twin.
    """
    if isinstance(model, NumpyLeNet5):
        x = np.asarray(images.cpu() if torch.is_tensor(images) else images, dtype=model.dtype)
        return torch.from_numpy(np.concatenate(
            [model.forward(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]).astype(np.float32))
    images = torch.as_tensor(images)
    param = next(model.parameters(), None)
    device = images.device if param is None else param.device
    model.eval()
    with torch.inference_mode():
        return torch.cat([model(images[i:i + batch_size].to(device)).float()
                          for i in range(0, len(images), batch_size)])


def evaluate(model, images, labels, batch_size: int = EVAL_BATCH_SIZE) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``images`` (N, C, H, W) / int ``labels`` (N,).

    ``model``, ``images`` as in ``predict_logits``; ``labels`` a tensor or ndarray.
    Returns ``(loss, accuracy)`` as Python floats, accuracy in [0, 1].
    """
    logits = predict_logits(model, images, batch_size)  # (N, classes)
    labels = torch.as_tensor(labels).to(logits.device)
    return F.cross_entropy(logits, labels).item(), (logits.argmax(1) == labels).float().mean().item()


def fit(model, train_set, test_set, config: TrainConfig | None = None, device=None, desc: str = "train") -> list[dict]:
    """Train ``model`` in place and evaluate it on the held-out set after every epoch.

    Args:
        model: an ``nn.Module`` mapping (B, C, H, W) to logits (B, classes), or a
            ``NumpyLeNet5`` (trained on CPU with SGD + momentum, whatever ``device``).
            A module without trainable parameters (the chance model) is only evaluated.
        train_set: ``(images, labels)``: float32 (N, C, H, W) and int64 (N,),
            NumPy arrays or tensors (copied to ``device`` once).
        test_set: ``(images, labels)`` of the held-out set, same layout.
        config: a ``TrainConfig``; default ``TrainConfig()``.
        device: passed to ``choose_device`` (None: best available).
        desc: label of the progress bars.

    Returns:
        The history, one dict per epoch with keys ``epoch``, ``train_loss``,
        ``train_acc`` (running means over the epoch's batches), ``test_loss``,
        ``test_acc`` (after the epoch), ``seconds`` (training time of the
        epoch, evaluation excluded) and ``lr`` (the peak learning rate).
        With a fixed seed, two runs on CPU give identical histories (but for ``seconds``).

    Raises:
        ValueError: a bad device, or images and labels of different lengths.
    """
    config = TrainConfig() if config is None else config
    n_train = len(train_set[1])
    if len(train_set[0]) != n_train or len(test_set[0]) != len(test_set[1]):
        raise ValueError(f"images and labels differ in length: train {len(train_set[0])} vs {n_train}, "
                         f"test {len(test_set[0])} vs {len(test_set[1])}")
    steps_per_epoch = math.ceil(n_train / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    if isinstance(model, NumpyLeNet5):
        runner = _NumpyRunner(model, train_set, config, total_steps)
        test_images, test_labels = test_set
        peak_lr = config.peak_lr("sgd")
    else:
        device = choose_device(device)
        runner = _TorchRunner(model, train_set, config, device, total_steps)
        test_images, test_labels = (torch.as_tensor(t).to(device) for t in test_set)
        peak_lr = config.peak_lr(config.optimizer)
    generator = torch.Generator().manual_seed(config.seed)
    history = []
    for epoch in range(1, config.epochs + 1):
        order = runner.order(torch.randperm(n_train, generator=generator))  # (N,)
        loss_sum = correct = 0
        with tqdm(total=steps_per_epoch, desc=f"{desc} epoch {epoch}/{config.epochs}", unit="batch",
                  disable=not config.progress) as bar:
            start = time.perf_counter()
            for first in range(0, n_train, config.batch_size):
                batch_loss, batch_correct = runner.step(order[first:first + config.batch_size])
                loss_sum, correct = loss_sum + batch_loss, correct + batch_correct
                bar.update()
            runner.synchronize()
            seconds = time.perf_counter() - start
            test_loss, test_acc = evaluate(model, test_images, test_labels)
            row = {"epoch": epoch, "train_loss": float(loss_sum) / n_train, "train_acc": float(correct) / n_train,
                   "test_loss": test_loss, "test_acc": test_acc, "seconds": seconds, "lr": peak_lr}
            bar.set_postfix(loss=f"{row['train_loss']:.3f}", acc=f"{row['train_acc']:.3f}",
                            test_acc=f"{test_acc:.3f}")
        history.append(row)
    return history


def _state_dict(model) -> dict:
    return model.to_torch_state() if isinstance(model, NumpyLeNet5) else model.state_dict()


def save_checkpoint(path, model, optimizer=None, history=None, **metadata) -> Path:
    """Write model weights (and optionally optimizer state, history, metadata) to ``path`` atomically.

    The checkpoint goes to a temporary file in the same folder, then
    ``os.replace`` renames it, so ``path`` is never half-written and no
    temporary file survives an error.

    Args:
        path: str or Path of the checkpoint (its folder is created).
        model: an ``nn.Module`` or a ``NumpyLeNet5`` (saved as its torch-keyed state).
        optimizer: a ``torch.optim.Optimizer`` or None.
        history: the list of dicts returned by ``fit``, or None.
        **metadata: plain values (str, int, float, lists, dicts) such as ``model_name``.

    Returns:
        The checkpoint's ``Path``.
    """
    path = Path(path)
    checkpoint = {"model": _state_dict(model), "optimizer": None if optimizer is None else optimizer.state_dict(),
                  "history": history, "metadata": metadata}
    with atomic_write(path) as tmp:
        torch.save(checkpoint, tmp)
    return path


def load_checkpoint(path, model=None, optimizer=None, map_location="cpu") -> dict:
    """Read a checkpoint written by ``save_checkpoint``; optionally restore it into ``model``/``optimizer``.

    Args:
        path: str or Path.
        model: an ``nn.Module`` or ``NumpyLeNet5`` of the saved architecture, or None.
        optimizer: an optimizer over ``model``'s parameters, or None.
        map_location: where tensors are loaded (default CPU).

    Returns:
        The dict with keys ``model`` (state dict), ``optimizer``, ``history``, ``metadata``.

    Raises:
        FileNotFoundError: no file at ``path``.
        RuntimeError / ValueError: the weights do not fit ``model``, or
            ``optimizer`` is given but none was saved.
    """
    checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    if isinstance(model, NumpyLeNet5):
        model.load_torch_state(checkpoint["model"])
    elif model is not None:
        model.load_state_dict(checkpoint["model"])
    if optimizer is not None:
        if checkpoint["optimizer"] is None:
            raise ValueError(f"{path} holds no optimizer state")
        optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint
