"""The course's tools above what students import: the ``cs7150`` command and its subcommands.

- ``coursetools.cli``          the ``cs7150`` command; imports only the chosen subcommand's module
- ``coursetools.demo``         ``cs7150 demo``: the lecture's numbers and a timing table
- ``coursetools.bench``        ``cs7150 bench``: every benchmark in one table (``coursetools.timing``)
- ``coursetools.train_cli``, ``compare_cli``, ``data_cli``: ``cs7150 train``, ``compare``, ``data``

Never shipped to students; imports ``cs7150`` and ``autograder``, never the reverse.
"""
