"""The NumPy twin of LeNet-5: ``NumpyLeNet5.forward`` and ``NumpyLeNet5.logits_loss_and_grads``, each a method of
``NumpyLeNet5(**options, dtype)`` whose ``params`` the runner sets to weights the grader drew."""
from __future__ import annotations

from typing import Iterator

import numpy as np

from autograder.kinds.kind import Kind, KindError, Variant

PARAMS = ("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias", "fc2.weight",
          "fc2.bias")  # NumpyLeNet5's params (and grads) keys, as LeNet5().state_dict()'s
OPTIONS = {"pool": ("max", "avg"), "activation": (True, False), "kernel_size": (3, 5, 7), "padding": (True, False),
           "num_classes": tuple(range(2, 11))}  # a case's options, and the values they may take
GRADS = tuple(f"grads[{name}]" for name in PARAMS)

WRONG_POOL = ("the other pooling: the twin's output matches max pooling where it was built with average "
              "pooling, or the reverse; use self.pool_forward and self.pool_backward")
NO_RELU = "ReLU applied to every layer: the twin's layers list has no ReLU when activation=False; follow self.layers"
GRADS_SUMMED = "gradients of the summed loss: they equal N times PyTorch's; softmax_loss's mean carries the 1 / N"


def check(raw: dict, where: str) -> None:
    options = raw.get("options", {})
    if not (isinstance(options, dict) and options.keys() <= OPTIONS.keys()
            and all(value in OPTIONS[key] and type(value) is type(OPTIONS[key][0]) for key, value in options.items())):
        raise KindError(f"{where}: 'options' must be an object of NumpyLeNet5 options {OPTIONS}, got {options!r}")


def draw(rng, spec: dict, labels: bool = False) -> dict:
    """PyTorch's initialisation of the weights (from a drawn seed), x standard normal, and with ``labels`` y."""
    from cs7150.numpy_lenet import NumpyLeNet5

    options = spec.get("options", {})
    weights = NumpyLeNet5(dtype=np.float64, seed=int(rng.integers(2**31)), **options).params
    inputs = {"x": rng.standard_normal(spec["x"]), **weights}
    if labels:
        inputs["y"] = rng.integers(0, options.get("num_classes", 10), spec["x"][0])
    return inputs


def reference_twin(case, inputs: dict, **changes):
    """The instructor's ``NumpyLeNet5(**options)`` in the case's dtype, holding the case's weights; ``changes``
    to its options give a mistaken twin."""
    from cs7150.numpy_lenet import NumpyLeNet5

    twin = NumpyLeNet5(dtype=np.dtype(case.dtype), **{**case.spec.get("options", {}), **changes})
    twin.params.update({name: inputs[name].copy() for name in PARAMS})
    return twin


def forward_reference(part, case, inputs: dict) -> dict:
    return {"logits": reference_twin(case, inputs).forward(inputs["x"])}


def grads_reference(part, case, inputs: dict) -> dict:
    logits, loss, grads = reference_twin(case, inputs).logits_loss_and_grads(inputs["x"], inputs["y"])
    return {"logits": logits, "loss": np.asarray(loss, dtype=case.dtype),
            **{f"grads[{name}]": grads[name] for name in PARAMS}}


def forward_call(pc, call: dict) -> None:
    """A method of ``NumpyLeNet5(**options)``, its ``params`` set to the grader's arrays; it returns the logits."""
    call.update(construct={**pc.case.spec.get("options", {}), "dtype": pc.case.dtype},
                fill={"params": {name: name for name in PARAMS}}, returns="outputs")


def grads_call(pc, call: dict) -> None:
    """As ``forward_call``; it returns (logits, loss, grads), the loss a Python float, grads a dict."""
    forward_call(pc, call)
    call.update(scalars={"loss": pc.case.dtype}, returned=["logits", "loss", {g: n for g, n in zip(GRADS, PARAMS)}])


def describe(pc, text: str) -> str:
    return f"NumpyLeNet5(**{pc.case.spec.get('options', {})}) with the grader's weights, {text}"


def forward_variants(pc) -> Iterator[Variant]:
    options = pc.case.spec.get("options", {})
    other = "max" if options.get("pool", "max") == "avg" else "avg"
    yield WRONG_POOL, {"logits": reference_twin(pc.case, pc.inputs, pool=other).forward(pc.inputs["x"])}
    if not options.get("activation", True):
        yield NO_RELU, {"logits": reference_twin(pc.case, pc.inputs, activation=True).forward(pc.inputs["x"])}


def grads_variants(pc) -> Iterator[Variant]:
    N = len(pc.inputs["x"])
    yield GRADS_SUMMED, {name: array * N for name, array in pc.reference.items() if name.startswith("grads[")}


_SHARED = dict(optional=frozenset({"options"}), check=check, hidden_inputs=PARAMS, describe=describe)
KINDS = (Kind("twin_forward", ("logits",), arrays=("x",), draw=draw, variants=forward_variants,
              reference=forward_reference, extend_call=forward_call, **_SHARED),
         Kind("twin_grads", ("logits", "loss", *GRADS), arrays=("x", "y"), draw=lambda rng, spec: draw(rng, spec, True),
              variants=grads_variants, reference=grads_reference, extend_call=grads_call, **_SHARED))
