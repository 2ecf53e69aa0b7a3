"""``python -m coursetools`` is the ``cs7150`` command."""
import sys

from coursetools.cli import main

sys.exit(main())
