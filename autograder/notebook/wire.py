"""The wire format between the student's kernel and the grader: what comes back from the kernel is plain data
(numbers, strings, lists, dicts, ``.npy`` arrays) or the description of a model made of allow-listed torch.nn
layers, rebuilt here; never a pickle. The kernel's side is ``autograder/notebook/kernel_bridge.py``."""
from __future__ import annotations

import base64
import builtins
import io

import numpy as np

MAX_DEPTH = 40  # nesting of a returned value


# The torch.nn layers a model from the kernel may be made of: name -> {constructor argument: check of its value}
# (Conv2d's and Linear's ``bias`` is a bool: whether it has one). A model is sent as a description (these names,
# arguments, children, training flags, parameters and buffers as arrays) and rebuilt here from torch.nn itself.
def _size(value) -> bool:
    return (type(value) is int and value >= 0) or (type(value) is tuple and 0 < len(value) <= 3
                                                   and all(type(v) is int and v >= 0 for v in value))


def _flag(value) -> bool:
    return type(value) is bool


def _number(value) -> bool:
    return type(value) in (int, float) and value >= 0


def _optional_number(value) -> bool:
    return value is None or _number(value)


LAYERS = {
    "Sequential": {},
    "Conv2d": {"in_channels": _size, "out_channels": _size, "kernel_size": _size, "stride": _size,
               "padding": lambda v: _size(v) or v in ("same", "valid"), "dilation": _size, "groups": _size,
               "padding_mode": lambda v: v in ("zeros", "reflect", "replicate", "circular"), "bias": _flag},
    "Linear": {"in_features": _size, "out_features": _size, "bias": _flag},
    "ReLU": {"inplace": _flag},
    "MaxPool2d": {"kernel_size": _size, "stride": _size, "padding": _size, "dilation": _size, "return_indices": _flag,
                  "ceil_mode": _flag},
    "AvgPool2d": {"kernel_size": _size, "stride": _size, "padding": _size, "ceil_mode": _flag,
                  "count_include_pad": _flag, "divisor_override": lambda v: v is None or (type(v) is int and v > 0)},
    "Flatten": {"start_dim": lambda v: type(v) is int, "end_dim": lambda v: type(v) is int},
    "BatchNorm1d": {"num_features": _size, "eps": _number, "momentum": _optional_number, "affine": _flag,
                    "track_running_stats": _flag},
    "BatchNorm2d": {"num_features": _size, "eps": _number, "momentum": _optional_number, "affine": _flag,
                    "track_running_stats": _flag},
    "Dropout": {"p": lambda v: _number(v) and v <= 1, "inplace": _flag},
    "Identity": {},
}


_MADE_ON_META = ("Conv2d", "Linear", "BatchNorm1d", "BatchNorm2d")  # layers with parameters: built without memory first


class KernelError(RuntimeError):
    """The student's kernel did not answer a call (it died, timed out, or sent something unreadable)."""


class StudentObject:
    """What the grader sees of a returned object that is not plain data: its type's name only."""

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<an object of type {self.type_name}>"


MODEL_RULE = ("models are sent to the grader as a description and rebuilt there, so a model must be an "
              "nn.Sequential (or one torch.nn layer) of the torch.nn layers " + ", ".join(sorted(LAYERS)))


class StudentModel(StudentObject):
    """A model from the kernel that the grader cannot rebuild: every use fails, saying why."""

    def __init__(self, type_name: str, why: str):
        super().__init__(type_name)
        self.why = why

    def _refuse(self, *args, **kwargs):
        raise TypeError(f"the notebook's model is a {self.type_name} ({self.why}): {MODEL_RULE}")

    def __getattr__(self, name):
        if name.startswith("__") or name in ("type_name", "why"):
            raise AttributeError(name)
        self._refuse()

    __call__ = __reduce__ = __reduce_ex__ = __iter__ = _refuse


def build_module(name: str, arguments, training, children, state, depth: int = 0):
    """A fresh torch.nn module from a kernel's description (``LAYERS`` only, arguments checked, arrays of the
    shapes the arguments imply), or a ``StudentModel`` saying what could not be rebuilt."""
    import torch
    from torch import nn

    if depth > MAX_DEPTH or name not in LAYERS:
        return StudentModel(str(name), "not a torch.nn layer the grader rebuilds")
    checks = LAYERS[name]
    arguments = decode(arguments, depth + 1)
    if not (isinstance(arguments, dict) and arguments.keys() == checks.keys()
            and all(check(arguments[key]) for key, check in checks.items()) and type(training) is bool):
        return StudentModel(name, f"its arguments {arguments!r} are not those of an nn.{name}")
    if not (isinstance(children, list) and isinstance(state, list)):
        return StudentModel(name, "an unreadable description")
    try:
        if name == "Sequential":
            built = [(child_name, decode(child, depth + 1)) for child_name, child in children]
            broken = next((child for _, child in built if not isinstance(child, nn.Module)), None)
            if broken is not None:
                kind = getattr(broken, "type_name", type(broken).__name__)
                return StudentModel(f"nn.Sequential holding a {kind}", getattr(broken, "why", "not a layer"))
            from collections import OrderedDict
            module = nn.Sequential(OrderedDict((str(child_name), child) for child_name, child in built))
        else:
            if children:
                return StudentModel(name, f"an nn.{name} with children of its own")
            module = getattr(nn, name)(**arguments, **({"device": "meta"} if name in _MADE_ON_META else {}))
        expected = {key: tuple(t.shape) for key, t in
                    [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)] if t is not None}
        arrays = {str(key): decode(array, depth + 1) for key, array in state}
        shapes = {key: tuple(getattr(array, "shape", ())) for key, array in arrays.items()}
        if shapes != expected or not all(isinstance(a, np.ndarray) for a in arrays.values()):
            return StudentModel(name, f"its parameters {shapes} are not the {expected} of its arguments")
        if name in _MADE_ON_META:
            module = module.to_empty(device="cpu")
        with torch.no_grad():
            for key, tensor in [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]:
                if tensor is not None:
                    tensor.copy_(torch.from_numpy(arrays[key]))
    except (TypeError, ValueError, RuntimeError, KeyError, AttributeError, IndexError) as error:
        return StudentModel(name, f"it could not be rebuilt: {type(error).__name__}: {str(error)[:200]}")
    module.training = training  # this module's own flag; its children carry theirs
    return module


def read_npy(data: bytes) -> np.ndarray:
    """A numeric array from ``.npy`` bytes, its header checked before anything is allocated.

    Raises ValueError for a pickled, non-numeric or truncated array.
    """
    stream = io.BytesIO(data)
    version = np.lib.format.read_magic(stream)
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    if version not in readers:
        raise ValueError(f".npy format version {version}")
    shape, _, dtype = readers[version](stream)
    if dtype.kind not in "biufc" or np.prod(shape, dtype=np.float64) * dtype.itemsize > len(data):
        raise ValueError("not a numeric array of the size sent")
    stream.seek(0)
    return np.load(stream, allow_pickle=False)


def _npy_bytes(text) -> bytes:
    """The ``.npy`` bytes the bridge sent as base64 text."""
    if not isinstance(text, str):
        raise ValueError("an array not sent as base64 text")
    return base64.b64decode(text.encode("ascii"), validate=True)


def decode(value, depth: int = 0, fetch=None):
    """Plain data from what the kernel's bridge encoded (``ast.literal_eval`` output); never runs code.

    ``fetch(index)``: the encoded description of the model a snapshot kept at ``index`` (asked of the kernel)."""
    if depth > MAX_DEPTH:
        raise ValueError("a value nested too deeply")
    if isinstance(value, list):
        return [decode(v, depth + 1, fetch) for v in value]
    if not (isinstance(value, tuple) and value and isinstance(value[0], str) and value[0].startswith("\x00cs7150:")):
        if isinstance(value, tuple):
            return tuple(decode(v, depth + 1, fetch) for v in value)
        return value
    kind, rest = value[0][len("\x00cs7150:"):], value[1:]
    if kind == "float":
        return float(rest[0])
    if kind == "ndarray":
        return read_npy(_npy_bytes(rest[0]))
    if kind == "tensor":
        import torch
        tensor = torch.from_numpy(read_npy(_npy_bytes(rest[0])))
        if len(rest) > 2 and rest[2] != "cpu":  # its values came back; where it lived shows, but it holds none here
            tensor = tensor.to("meta")
        return tensor.requires_grad_(bool(rest[1])) if tensor.is_floating_point() else tensor
    if kind == "module" and len(rest) == 5:
        return build_module(*rest, depth=depth)
    if kind == "object" and len(rest) == 2 and rest[1] == "module":
        return StudentModel(str(rest[0]), "not a torch.nn layer the grader rebuilds")
    if kind == "dict":
        return {decode(k, depth + 1): decode(v, depth + 1, fetch) for k, v in rest[0]}
    if kind in ("tuple", "set", "frozenset"):
        return {"tuple": tuple, "set": set, "frozenset": frozenset}[kind](decode(v, depth + 1, fetch) for v in rest[0])
    if kind == "model" and fetch is not None and len(rest) == 1 and type(rest[0]) is int:
        return decode(fetch(rest[0]), depth)
    return StudentObject(str(rest[0]))


def student_exception(names, message: str) -> BaseException:
    """The first built-in exception class among ``names`` (a raised exception's MRO), with ``message``."""
    for name in names:
        kind = getattr(builtins, str(name), None)
        if isinstance(kind, type) and issubclass(kind, Exception):
            return kind(str(message))
    return RuntimeError(f"{names[0] if names else 'an exception'}: {message}")

