"""``python autograder/notebook/nbgrader_main.py ARGS``: nbgrader's own command line, without an import it never uses.

jsonschema (through nbformat) imports ``rfc3987_syntax`` when it is
installed, to check the "iri" string format, and that module builds a parser
for the whole RFC 3987 grammar at import time: about 60% of importing
nbgrader's apps (``python -X importtime``; 10.4 s of 10.4 -> 4.3 s measured on
the shared 2-core machine), paid by every nbgrader process the grader starts
(the class's ``generate_assignment``, and per student ``autograde`` and
``generate_feedback``). No notebook schema uses that format, so jsonschema
simply has no "iri" checker here: what nbgrader validates is unchanged.

Run by its path (its folder, not the repository, goes on ``sys.path``), it
imports only the standard library and nbgrader; ``block_unused_imports`` is
also called by the grader before its own nbgrader imports.
"""
import sys

UNUSED = ("rfc3987_syntax",)  # modules nbgrader's dependencies import but no nbgrader step needs


def block_unused_imports() -> None:
    """Make ``import`` of each ``UNUSED`` module raise ImportError (which jsonschema expects and skips)."""
    for name in UNUSED:
        sys.modules.setdefault(name, None)


if __name__ == "__main__":
    block_unused_imports()
    from nbgrader.apps.nbgraderapp import main

    main()
