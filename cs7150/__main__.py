"""``python -m cs7150`` is the ``cs7150`` command."""
import sys

from cs7150.cli import main

sys.exit(main())
