"""``python -m flint.cli``: the ``flint`` command."""

import sys

from flint.cli import main

sys.exit(main())
