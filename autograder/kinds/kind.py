"""What a graded kind of function is: the case keys it takes, how the grader draws its inputs, calls it,
computes its reference outputs and recognises its likely mistakes. One module of this package per family of
layers defines its kinds (``KINDS``); ``autograder/kinds/__init__.py`` collects them."""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable, Iterator

from cs7150 import mistakes
from cs7150.mistakes import Variant  # (diagnosis, {output name: the mistaken array})



class KindError(ValueError):
    """A case does not fit its kind (raised by ``Kind.check`` with the case named)."""


def no_variants(pc) -> Iterator[Variant]:
    """A kind without a typical mistake of its own."""
    return iter(())


def accept(raw: dict, where: str) -> None:
    """A kind whose case keys need no check beyond their names and shapes."""


@dataclass(frozen=True)
class Kind:
    """A graded kind (``conv_forward``, ``softmax_loss``, ...): a function's inputs, call, reference and mistakes.

    ``draw(rng, spec) -> {name: array}`` draws a case's inputs in float64 (``"y"`` labels stay integers), in a
    fixed order: reruns see the same numbers. ``variants(pc)`` yields ``(diagnosis, outputs)`` for a prepared
    case (``autograder.package.cases.PreparedCase``). ``reference(part, case, inputs)`` replaces the generic
    forward/backward reference where the kind needs its own; ``extend_call(pc, call)`` adds the kind's own
    fields to the runner's call; ``describe(pc, text)`` words the inputs for feedback.
    """

    name: str
    outputs: tuple[str, ...]  # the outputs graded, in the order the function returns them
    arrays: tuple[str, ...]  # the forward pass's array arguments, in order
    draw: Callable
    required: frozenset = frozenset({"x"})  # case keys besides points, dtype and name
    optional: frozenset = frozenset()
    check: Callable = accept  # (raw case, where) -> None; raises KindError naming what is wrong
    variants: Callable = no_variants
    param_arrays: tuple[str, ...] = ()  # arrays carried inside the parameter dict (batch norm's running statistics)
    hidden_inputs: tuple[str, ...] = ()  # inputs feedback does not list (a model's weights)
    reference: Callable | None = None
    extend_call: Callable | None = None
    describe: Callable = field(default=lambda pc, text: text)


def reference_function(name: str):
    """The instructor's implementation of ``name`` from ``cs7150.layers``."""
    return getattr(importlib.import_module("cs7150.layers"), name)


def layer_variants(pc) -> Iterator[Variant]:
    """``cs7150.mistakes``'s variants of a convolution or pooling case, with the instructor's implementation as
    reference: the same diagnoses the notebooks' own checks name."""
    backward = pc.part.kind.endswith("_backward")
    case = mistakes.LayerCase(
        kind=pc.part.kind, inputs=pc.inputs, params=pc.case.params, reference=pc.reference,
        forward=reference_function(pc.part.forward if backward else pc.part.function),
        backward=reference_function(pc.part.function) if backward else None,
        fast=pc.part.function.endswith("_fast"))
    return mistakes.VARIANTS[pc.part.kind](case)


def pair(family: str, forward_outputs: tuple, backward_outputs: tuple,
         variants: tuple[Callable, Callable] = (no_variants, no_variants), **shared) -> tuple[Kind, Kind]:
    """A layer's ``<family>_forward`` and ``<family>_backward`` kinds, which draw and check their cases alike;
    ``variants``: the forward's and the backward's likely mistakes."""
    return (Kind(f"{family}_forward", forward_outputs, variants=variants[0], **shared),
            Kind(f"{family}_backward", backward_outputs, variants=variants[1], **shared))
