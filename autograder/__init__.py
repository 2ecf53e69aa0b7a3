"""The course's hidden grading tools: student releases and the package autograder.

Nothing here is released to students (``cs7150 release`` checks that no line
of these files reaches a release).

- ``autograder.release.build``    build ``assignments/release/<assignment>/`` from the instructor tree
- ``autograder.autograde``  grade submissions in sandboxed child processes (``runner.py``)
- ``autograder.notebook.nbgrade``  grade the notebooks with ``nbgrader autograde`` and merge the scores
- ``autograder.sandbox.isolation``  the jail (``jail.py``) that confines student code: own uid, minimal root, no network
- ``coursetools.samples``    synthetic submissions generated from the reference, with expected scores
- ``corpus``     hostile and broken submissions, with the outcomes the grader must give them
- ``autograder/assignments/<assignment>.json``  student files, notebook sections, grading cases and points
"""
