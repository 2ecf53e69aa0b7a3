"""The course's grader: student releases, the sandboxed package grader, notebook grading with nbgrader, and
what it writes. Nothing here is released to students. docs/layers.md draws its layers; docs/grader.md
specifies each module."""
