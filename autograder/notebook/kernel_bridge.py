"""The grader's bridge in the student's kernel: sent there as source (``source()``) and run in the kernel's
namespace, where ``snapshot`` finds the student's names. It is the same for everyone and secret to no one:
whatever the student changes in it changes only what their own functions appear to return. Standard library
only (NumPy and PyTorch are looked up only when a value is theirs); what it sends is ``wire.py``'s format."""
import inspect


def _cs7150_bridge(LAYERS):
    import base64, copy, io, pickle, sys
    snapshots = {}
    tag = "\x00cs7150:"

    def encode(value, depth=0, kept=None):
        """Plain data for ``value``; with ``kept`` (a list), a model is kept there and sent as its index."""
        if depth > 40:
            return (tag + "object", "a value nested too deeply")
        if value is None or isinstance(value, (bool, int, str, bytes, complex)):
            return value
        if isinstance(value, float):
            return value if value == value and abs(value) != float("inf") else (tag + "float", repr(value))
        if is_module(value) and kept is not None:
            kept.append(value)
            return (tag + "model", len(kept) - 1)
        if is_module(value):
            return describe(value, depth)
        kind = type(value).__module__.split(".")[0]
        if kind == "numpy":
            import numpy
            if isinstance(value, numpy.generic):
                return encode(value.item(), depth + 1)
            if isinstance(value, numpy.ndarray) and value.dtype.kind in "biufc":
                buffer = io.BytesIO()
                numpy.save(buffer, value, allow_pickle=False)  # (ascontiguousarray would make a 0-d array 1-d)
                return (tag + "ndarray", base64.b64encode(buffer.getvalue()).decode("ascii"))
        if kind == "torch" and hasattr(value, "detach"):
            array = encode(value.detach().cpu().numpy(), depth + 1)
            return (tag + "tensor", array[1], bool(value.requires_grad), str(value.device.type))

        if isinstance(value, dict):
            return (tag + "dict", [(encode(k, depth + 1), encode(v, depth + 1, kept)) for k, v in value.items()])
        if isinstance(value, (list, tuple, set, frozenset)):
            items = [encode(v, depth + 1, kept) for v in value]
            return items if type(value) is list else (tag + type(value).__name__ if type(value) in (tuple, set, frozenset) else tag + "tuple", items)
        return (tag + "object", type(value).__qualname__)

    def is_module(value):
        torch = sys.modules.get("torch")
        return torch is not None and isinstance(value, torch.nn.Module)

    def describe(module, depth):
        """A torch.nn built-in layer as data: its type's name, constructor arguments, training flag, children and
        own parameters and buffers (the grader rebuilds it); any other module as its type's name only."""
        import torch
        name = type(module).__name__
        if name not in LAYERS or type(module) is not getattr(torch.nn, name, None) or depth > 40:
            return (tag + "object", type(module).__qualname__, "module")
        arguments = {argument: getattr(module, argument) for argument in LAYERS[name]}
        if name in ("Conv2d", "Linear"):
            arguments["bias"] = module.bias is not None
        own = [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]
        return (tag + "module", name, encode(arguments, depth + 1), bool(module.training),
                [(child_name, describe(child, depth + 1)) for child_name, child in module.named_children()],
                [(key, encode(tensor.detach().cpu().numpy(), depth + 1)) for key, tensor in own if tensor is not None])

    def snapshot(key, names):
        found, namespace = {}, globals()
        for name in names:
            if name not in namespace:
                continue
            value = namespace[name]
            if callable(value) and not is_module(value):  # a model is a value: it is sent as its description
                snapshots.setdefault(key, {})[name] = value
                found[name] = ("function",)
            else:
                try:
                    value = copy.deepcopy(value)
                except Exception:
                    pass
                found[name] = ("value", encode(value, 0, snapshots.setdefault(key, {}).setdefault("\x00models", [])))
        return repr(found)

    def fetch(key, index):
        """The description of a model a snapshot kept (one reply per model: a value may hold many)."""
        try:
            return repr(("value", describe(snapshots[key]["\x00models"][index], 0)))
        except BaseException as error:
            return repr(("raise", [c.__name__ for c in type(error).__mro__], str(error)[:2000]))

    def call(key, name, payload):
        args, kwargs = pickle.loads(base64.b64decode(payload))
        try:
            return repr(("value", encode(snapshots[key][name](*args, **kwargs))))
        except BaseException as error:
            return repr(("raise", [c.__name__ for c in type(error).__mro__], str(error)[:2000]))

    return snapshot, call, fetch


def source(layers: dict) -> str:
    """The code that defines the bridge in a kernel, for the allowed torch.nn layers ``layers`` (name -> the
    constructor arguments sent): three functions, ``_cs7150_snapshot``, ``_cs7150_call``, ``_cs7150_fetch``."""
    return (inspect.getsource(_cs7150_bridge)
            + f"\n_cs7150_snapshot, _cs7150_call, _cs7150_fetch = _cs7150_bridge({layers!r})\ndel _cs7150_bridge\n")
