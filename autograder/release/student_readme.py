"""The README.md of a student release: what to edit, how to set up (laptop, JupyterHub, Colab), check and hand in.

The text is ``student_readme.md`` beside this module (a ``string.Template``);
``render`` fills in what comes from the assignment's configuration: the files a
student edits with the functions and sections of each, the files of earlier
assignments it builds on, its data and the hand-in list.
"""
from __future__ import annotations

from pathlib import Path
from string import Template

from autograder.config import Assignment

TEMPLATE = Path(__file__).with_name("student_readme.md")
GPU_ASSIGNMENTS = {"assignment2"}  # the ones whose README tells Colab users to pick a GPU runtime


def _where(function: str, sections: dict) -> str | None:
    where = sections.get(function, sections.get(function.split(".")[0]))
    return None if where is None else f"{where[0]} section {where[1]}"


def _edit_rows(assignment: Assignment, functions: dict, sections: dict) -> str:
    """A table row per student file: its functions (those of an extra-credit part's section marked so) and
    where each is taught."""
    extra = {_where(part.function, sections) for part in assignment.parts if part.extra_credit} - {None}
    rows = []
    for rel in assignment.own_files:
        names = functions.get(rel, [])
        where = sorted({w for w in (_where(f, sections) for f in names) if w}) or ["its docstrings"]
        listed = [f"`{f}`" + (" (extra credit)" if _where(f, sections) in extra else "") for f in names]
        rows.append(f"| `{rel}` | {', '.join(listed) or '-'} | {', '.join(where)} |")
    return "\n".join(rows)


def _builds_on(assignment: Assignment, with_reference: bool) -> str:
    if not assignment.builds_on:
        return ""
    paragraphs = ["", "## Files from earlier assignments", ""]
    for earlier, brought in assignment.builds_on.items():
        files = ", ".join(f"`{rel}`" for rel in brought)
        if with_reference:
            paragraphs.append(f"This assignment runs on {earlier}'s {files}. This release includes the course's "
                              "reference versions of them; you may replace them with your own. They are handed in "
                              "with this assignment either way.")
        else:
            paragraphs.append(f"This assignment runs on your own {earlier} files: copy {files} from your {earlier} "
                              "folder into `cs7150/` here before you start. Until they are here, importing the layers "
                              "names the missing file, and so does the hand-in check. They are handed in again with "
                              "this assignment.")
    return "\n".join(paragraphs) + "\n"


def render(assignment: Assignment, notebooks: list[str], functions: dict, sections: dict,
           with_reference: bool = False) -> str:
    """The release's README.md.

    Args:
        assignment: its configuration.
        notebooks: the released notebooks' file names.
        functions: student file -> the functions stubbed in it (qualified names).
        sections: function (or class) -> (notebook, section).
        with_reference: the files it builds on ship as the instructor's reference.
    """
    gpu = assignment.name in GPU_ASSIGNMENTS
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
        title=assignment.title,
        name=assignment.name,
        notebooks=", ".join(f"`{nb}`" for nb in notebooks) or "the notebook",
        first=f"`{notebooks[0]}`" if notebooks else "the notebook",
        edit_rows=_edit_rows(assignment, functions, sections),
        builds_on=_builds_on(assignment, with_reference),
        data="".join(f", including `{rel}/`" for rel in assignment.data),
        gpu=" (with a GPU)" if gpu else "",
        runtime=(" Then choose *Runtime -> Change runtime type -> T4 GPU*; `import torch; torch.cuda.is_available()` "
                 "then gives `True`.") if gpu else "",
        handin_list="\n".join(f"- `{rel}`" for rel in [*notebooks, *assignment.student_files]),
    )
