"""Synthetic students of assignment 1, each with the points it earns in all: out of 88, plus up to 12 extra credit.

Points per function are in ``autograder/assignments/assignment1.json``:
conv naive 15 + 15, max pool naive 8 + 10, avg pool naive 4 + 5, conv fast
10 + 10, max pool fast 3 + 4, avg pool fast 2 + 2; extra credit: conv1d 3 + 3,
conv3d 3 + 3. A sample's ``extra_credit`` says how many of its points are extra
credit where that is not all 12.
"""
from cs7150 import mistakes
from coursetools.samples import Body, Edit, Sample

FORGER = '''
import json, os, sys
import numpy
numpy.allclose = lambda *args, **kwargs: True          # a patched comparison inside the child
numpy.array_equal = lambda *args, **kwargs: True
results = os.path.join(os.getcwd(), os.pardir, "results")
for folder in (os.getcwd(), results):                  # forged results next to the real ones
    try:
        with open(os.path.join(folder, "results.json"), "w") as file:
            json.dump({"score": 100, "tests": []}, file)
        with open(os.path.join(folder, "status.jsonl"), "a") as file:
            for case in range(100):
                file.write(json.dumps({"id": f"p00c{case:02d}", "status": "ok"}) + "\\n")
    except OSError:
        pass


class AlwaysEqual(np.ndarray):                         # an "array" that claims to equal anything
    def __eq__(self, other):
        return True

    def __array_finalize__(self, obj):
        pass


return np.zeros(4).view(AlwaysEqual), (x, w, b, conv_param)
'''

TORCH_CONV = '''
import torch
out = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b),
                                 stride=stride, padding=conv_param["pad"], dilation=dilation, groups=groups).numpy()
cache = (x, w, b, conv_param)
return out, cache
'''

RUNAWAY = '''
import signal
signal.signal(signal.SIGALRM, signal.SIG_IGN)          # ignores the per-case time limit
while True:
    pass
'''

SAMPLES = [
    Sample("reference", 100),
    Sample("blank", 0, blank=True, extra_credit=0),
    Sample("bias_missing", 85, (Edit("conv_forward_naive", " + b[f]", ""),), layout="zip",
           diagnoses={"conv_forward_naive": mistakes.BIAS}),
    Sample("flipped_kernel", 85, (Edit("conv_forward_naive", "patch * w[f]", "patch * w[f, :, ::-1, ::-1]"),),
           diagnoses={"conv_forward_naive": mistakes.FLIPPED}),
    Sample("one_sided_padding", 85,
           (Edit("conv_forward_naive", "(0, 0), (0, 0), *pad)", "(0, 0), (0, 0), *((2 * top, 0) for top, _ in pad))"),),
           diagnoses={"conv_forward_naive": mistakes.ONE_SIDED}),
    Sample("stride_ignored", 94,  # the stride-1 cases pass: 3 + 2 + 2 + 2 of 15
           (Edit("conv_forward_naive", "i * stride_h", "i", 2), Edit("conv_forward_naive", "j * stride_w", "j", 2)),
           layout="nbgrader", diagnoses={"conv_forward_naive": mistakes.STRIDE}),
    Sample("dx_assigned", 85,  # every backward case has overlapping windows
           (Edit("conv_backward_naive", "dx_padded[n, channels, h_window, w_window] +=",
                 "dx_padded[n, channels, h_window, w_window] ="),),
           diagnoses={"conv_backward_naive": mistakes.DX_ASSIGNED}),
    Sample("dw_first_chunk", 94,  # the fast backward passes' cases of several batch chunks fail: 2 + 2 + 2
           (Edit("conv_backward_fast", "dw_rows += dout_rows @ cols.T", "dw_rows = dout_rows @ cols.T"),
            Edit("conv_nd_backward", "dw += np.matmul", "dw = np.matmul")), extra_credit=8,
           diagnoses={"conv_backward_fast": mistakes.DW_ONE_CHUNK, "conv1d_backward_fast": mistakes.DW_ONE_CHUNK,
                      "conv3d_backward_fast": mistakes.DW_ONE_CHUNK}),
    Sample("col2im_assigned", 90,  # every conv_backward_fast case has overlapping windows: 10 of 10
           (Edit("col2im", "dx_padded[:, :, rows, columns] +=", "dx_padded[:, :, rows, columns] ="),),
           diagnoses={"conv_backward_fast": mistakes.DX_ASSIGNED}),
    Sample("wrong_output_size", 92,
           (Edit("max_pool_forward_naive", "(N, C, H_out, W_out)", "(N, C, H_out - 1, W_out - 1)"),
            Edit("max_pool_forward_naive", "range(H_out)", "range(H_out - 1)"),
            Edit("max_pool_forward_naive", "range(W_out)", "range(W_out - 1)")),
           diagnoses={"max_pool_forward_naive": "wrong output size"}),
    Sample("max_pool_ties", 97,  # only the 3-point tie case fails
           (Edit("max_pool_backward_naive", "dx_padded[n, c, h0 + r, w0 + s] += dout[n, c, i, j]",
                 "dx_padded[n, c, h0:h0 + PH, w0:w0 + PW] += (window == window.max()) * dout[n, c, i, j]"),),
           diagnoses={"max_pool_backward_naive": mistakes.TIES}),
    Sample("naive_torch", 85, (Body("conv_forward_naive", TORCH_CONV),),
           diagnoses={"conv_forward_naive": "naive conv used PyTorch"}),
    Sample("forger", 70, (Body("conv_forward_naive", FORGER), Body("conv_backward_naive", "import sys\nsys.exit(0)"))),
    Sample("quitter", 92, (Body("max_pool_forward_naive", "import os\nos._exit(0)"),)),  # ends its process: 0 for it only
    Sample("hang_and_memory", 93,  # every avg_pool_backward_naive case times out; a 64 GiB array fails
           (Body("avg_pool_backward_naive", "while True:\n    pass"),
            Body("avg_pool_forward_fast", "return np.ones(2 ** 33), None"))),
    Sample("runaway", 48, (Body("avg_pool_forward_naive", RUNAWAY),), extra_credit=0),  # killed at the wall-time limit
    Sample("partial_files", 57, extra_credit=0, omit=("cs7150/conv_fast.py", "cs7150/pool_fast.py"),
           extra={"notes.txt": "my notes", "cs7150/helper_unused.py": "raise SystemExit(1)\n"}),
]
