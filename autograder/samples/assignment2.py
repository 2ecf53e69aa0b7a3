"""Synthetic students of assignment 2's package part (batch normalization), each with its expected score out of 18.

Points per function are in ``autograder/assignments/assignment2.json``: batchnorm_forward 7 (5 of them in train
mode), batchnorm_backward 6 (4 in train mode), spatial_batchnorm_forward 3 (2 in train mode),
spatial_batchnorm_backward 2 (1 in train mode). The spatial functions call the (N, D) ones, so a mistake in
those costs their train-mode cases too.
"""
from autograder import diagnoses
from autograder.samples import Edit, Sample

SAMPLES = [
    Sample("reference", 18),
    Sample("blank", 0, blank=True),
    Sample("biased_running_var", 18 - 5 - 2, edits=(
        Edit("batchnorm_forward", "running_var += (1 - momentum) * var * N / (N - 1)",
             "running_var += (1 - momentum) * var"),),
        diagnoses={"batchnorm_forward": diagnoses.BIASED_RUNNING_VAR}),
    Sample("constant_statistics_backward", 18 - 4 - 1, edits=(
        Edit("batchnorm_backward", "dx = (dx_hat - dx_hat.mean(axis=0) - x_hat * (dx_hat * x_hat).mean(axis=0)) / std",
             "dx = dx_hat / std"),),
        diagnoses={"batchnorm_backward": diagnoses.DX_CONSTANT_STATS}),
]
