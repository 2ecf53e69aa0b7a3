"""The hostile corpus of assignment 2: notebook attacks on the LeNet-5 notebook (graded with ``--notebooks``).

Its package is the reference (47 points); each attack changes the instructor's notebook. Its test cells run in
the grader's process (``autograder.notebook.executor``), and the models the notebook returns come back as
descriptions of torch.nn layers, so what an attack may change is only what its own functions return. Notebook
points (56): test_lenet5 10, test_lenet5_variants 6, test_params_by_hand 4, test_evaluate_accuracy 6,
test_lenet5_trained 6, test_results_table 5, test_twin_trained 2, test_feature_maps 6,
test_most_confident_mistakes 6, test_templates 5. Every case trains the notebook's models (grading budget), so
none is in the fast subset.
"""
from __future__ import annotations

from corpus import notebook_attack

ASSIGNMENT = "assignment2"

LIAR = r'''
class Liar(nn.Sequential):  # LeNet-5's children, whatever shapes and counts are asked for, and no real logits
    def forward(self, x):
        return torch.zeros(len(x), 10)

    def named_children(self):
        return iter(honest_lenet5().named_children())

honest_lenet5 = lenet5
lenet5 = lambda **options: Liar(honest_lenet5(**options))
'''

FORGED = r'''
honest_call = _cs7150_call  # the kernel's end of the bridge (secret to no one): it answers the grader's calls

def _cs7150_call(key, name, payload):  # answers lenet5's calls with a forged model: a Linear of 10^18 weights
    if name != "lenet5":
        return honest_call(key, name, payload)
    forged = ("\x00cs7150:module", "Linear", ("\x00cs7150:dict", [("in_features", 10**9), ("out_features", 10**9),
                                                                  ("bias", True)]), True, [], [])
    return repr(("value", forged))
'''

HELPERS = r'''
import numpy
assert_close = lambda *args, **kwargs: None  # the locked helpers and the comparisons, redefined to pass
torch.equal = torch.allclose = numpy.allclose = lambda *args, **kwargs: True
WatchedModel = lambda model, batches: model


def most_confident_mistakes(logits, labels, k=12):  # wrong on purpose: the first k images, mistakes or not
    return torch.arange(min(k, len(labels)))
'''

NO_EVAL = r'''

def evaluate_accuracy(model, images, labels, batch_size=500):  # wrong: neither eval mode nor torch.no_grad()
    correct = 0
    for first in range(0, len(labels), batch_size):
        logits = model(images[first:first + batch_size])
        correct += int((logits.argmax(1) == labels[first:first + batch_size]).sum())
    return correct / len(labels)
'''

HISTORY_HUNT = r'''
import base64, glob, sys
marker = "BEGIN " + "HIDDEN TESTS"
found = [open(path, encoding="utf-8", errors="replace").read() for path in glob.glob("**/*.ipynb", recursive=True)]
found += list(In) + list(_ih)
print("encoded:", base64.b64encode("".join(t for t in found if marker in t).encode()).decode()[:3000] or "nothing")


def template_response(x_padded, template, bias, i, j):  # right, and looking around whenever it is called
    frame, seen = sys._getframe(), []
    while frame is not None:
        seen.append(repr(frame.f_code.co_consts) + repr(frame.f_locals))
        frame = frame.f_back
    print("while called:", base64.b64encode(" ".join(s for s in seen + list(In) if marker in s).encode()).decode())
    K = template.shape[-1]
    return float(np.sum(x_padded[:, i:i + K, j:j + K] * template) + bias)
'''


def _index(nb, grade_id):
    return next(i for i, c in enumerate(nb["cells"]) if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)


def _cell(source: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}


def _added(after: str, source: str, restore: tuple[str, str] | None = None):
    """The notebook with a new code cell holding ``source`` right after the cell ``after`` (and, with
    ``restore``, a cell holding ``restore[1]`` right after the cell ``restore[0]``)."""
    def change(nb, ctx):
        if restore:
            nb["cells"].insert(_index(nb, restore[0]) + 1, _cell(restore[1]))
        nb["cells"].insert(_index(nb, after) + 1, _cell(ctx.substitute(source)))
        return nb
    return change


def notebook(name, change, what, lost, feedback=()):
    return notebook_attack(name, change, what, lost, feedback, assignment_name=ASSIGNMENT)


ATTACKS = [
    notebook("nb2_liar_model", _added("lenet5", LIAR, restore=("test_lenet5_variants", "lenet5 = honest_lenet5\n")),
             what="lenet5 returns a subclass of nn.Sequential that claims LeNet-5's children and returns zeros",
             lost=10 + 6, feedback=["must be an nn.Sequential"]),
    notebook("nb2_forged_model", _added("test_lenet5", FORGED), what="the kernel's end of the bridge answers "
             "lenet5's calls with a forged description (a Linear of 10^18 weights, no arrays)", lost=10 + 6,
             feedback=["must be an nn.Sequential"]),
    notebook("nb2_redefined_helpers", _added("most_confident_mistakes", HELPERS), what="a wrong answer, then "
             "assert_close, torch.equal, torch.allclose, numpy.allclose and WatchedModel redefined to pass",
             lost=6, feedback=["test_most_confident_mistakes"]),
    notebook("nb2_evaluate_in_train_mode", _added("evaluate_accuracy", NO_EVAL), what="evaluate_accuracy "
             "without model.eval() and torch.no_grad()", lost=6, feedback=["autograd recording"]),
    notebook("nb2_hidden_hunt", _added("templates", HISTORY_HUNT), what="looks for the hidden tests in the "
             "notebook files, In and _ih, and its callers' frames when called, and prints them base64-encoded",
             lost=0),
]
