"""cs7150: what students import: convolution and pooling from scratch, LeNet-5, checks and plots.

Submodules (import what you need; nothing heavy happens at import time):

- ``cs7150.layers``     every layer function (conv, pool, affine, relu, batchnorm, loss)
- ``cs7150.gradcheck``  numerical gradients and relative errors (``rel_error``, the course's one definition)
- ``cs7150.oracle``     PyTorch's answers for the layers and the checks against them (``assert_close``, ``tie_free``)
- ``cs7150.mistakes``   the likely mistakes a failing check (and the grader) names; ``cs7150.probes`` the letter-F
                        input its picture shows them on
- ``cs7150.shapes``     output sizes, receptive fields, parameter/MAC counts, ``summarize``
- ``cs7150.data``       the MNIST IDX reader and the offline subset
- ``cs7150.models``     LeNet-5 and its variants by name, and the baselines (``cs7150.lenet5``: the reference network)
- ``cs7150.lenet5_spec`` LeNet-5's numbers and option checks, without PyTorch
- ``cs7150.numpy_lenet`` the NumPy twin of LeNet-5, built from ``cs7150.layers``
- ``cs7150.train``      the trainer used by ``cs7150 train``; ``cs7150.plots`` its figures
- ``cs7150.stopwatch``  median timings, libraries timed in alternating blocks; ``cs7150.tables`` plain-text tables
- ``cs7150.handin``     a release's hand-in: check the graded files, zip exactly those

A student release holds the modules its assignment needs (its manifest,
``autograder/assignments/<assignment>.json``).

The course's tools (the ``cs7150`` command, demo, bench) live in the package
``coursetools`` and the grader in ``autograder``; both import this package,
never the reverse (the contracts in ``pyproject.toml``, checked by ``make test``).
"""
__version__ = "0.1.0"
