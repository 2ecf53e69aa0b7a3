"""The course's hidden grading tools: student releases and the package autograder.

Nothing here is released to students (``cs7150 release`` checks that no line
of these files reaches a release).

- ``autograder.release``    build ``assignments/release/<assignment>/`` from the instructor tree
- ``autograder.autograde``  grade submissions in sandboxed child processes (``child.py``)
- ``autograder.notebooks``  grade the notebooks with ``nbgrader autograde`` and merge the scores
- ``autograder.isolation``  the jail (``jail.py``) that confines student code: own uid, minimal root, no network
- ``autograder.samples``    synthetic submissions generated from the reference, with expected scores
- ``autograder.corpus``     hostile and broken submissions, with the outcomes the grader must give them
- ``autograder/assignments/<assignment>.json``  student files, notebook sections, grading cases and points
"""
