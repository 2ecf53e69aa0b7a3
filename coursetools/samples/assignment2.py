"""Synthetic students of assignment 2's package part, each with its expected score out of 47.

Points per function are in ``autograder/assignments/assignment2.json``: affine_forward 1.5, affine_backward 1.5,
relu_forward 1, relu_backward 1 (0.5 of it where x = 0), softmax_loss 4 (3.5 of it on batches of more than one
sample), NumpyLeNet5.forward 8 (2 of it with average pooling), NumpyLeNet5.logits_loss_and_grads 12 (3 with
average pooling); batchnorm_forward 7 (5 of them in train mode), batchnorm_backward 6 (4 in train mode),
spatial_batchnorm_forward 3 (2 in train mode), spatial_batchnorm_backward 2 (1 in train mode). The spatial
functions call the (N, D) ones, so a mistake in those costs their train-mode cases too; the twin calls the
student's layers, so a mistake in a layer costs the twin's cases too.
"""
from autograder.kinds import batchnorm, dense, softmax, twin
from coursetools.samples import Edit, Sample

SAMPLES = [
    Sample("reference", 47),
    Sample("blank", 0, blank=True),
    Sample("biased_running_var", 47 - 5 - 2, edits=(
        Edit("batchnorm_forward", "running_var += (1 - momentum) * var * N / (N - 1)",
             "running_var += (1 - momentum) * var"),),
        diagnoses={"batchnorm_forward": batchnorm.BIASED_RUNNING_VAR}),
    Sample("constant_statistics_backward", 47 - 4 - 1, edits=(
        Edit("batchnorm_backward", "dx = (dx_hat - dx_hat.mean(axis=0) - x_hat * (dx_hat * x_hat).mean(axis=0)) / std",
             "dx = dx_hat / std"),),
        diagnoses={"batchnorm_backward": batchnorm.DX_CONSTANT_STATS}),
    Sample("relu_gradient_at_zero", 47 - 0.5, edits=(
        Edit("relu_backward", "dx = dout * (x > 0)", "dx = dout * (x >= 0)"),),
        diagnoses={"relu_backward": dense.RELU_AT_ZERO}),
    Sample("loss_summed", 47 - 3.5 - 12, edits=(
        Edit("softmax_loss", "loss = -log_probs[np.arange(N), y].mean()", "loss = -log_probs[np.arange(N), y].sum()"),
        Edit("softmax_loss", "dx /= N", "pass")),
        diagnoses={"softmax_loss": softmax.LOSS_SUMMED,
                   "NumpyLeNet5.logits_loss_and_grads": twin.GRADS_SUMMED}),
    Sample("affine_without_bias", 47 - 1.5 - 8 - 12, edits=(
        Edit("affine_forward", "out = x.reshape(x.shape[0], D) @ w + b", "out = x.reshape(x.shape[0], D) @ w"),),
        diagnoses={"affine_forward": dense.AFFINE_BIAS}),
    Sample("twin_always_max_pool", 47 - 2 - 3, edits=(
        Edit("NumpyLeNet5._forward_with_caches", "self.pool_forward(h, self.pool_param)",
             "max_pool_forward_fast(h, self.pool_param)"),),
        diagnoses={"NumpyLeNet5.forward": twin.WRONG_POOL}),
]
