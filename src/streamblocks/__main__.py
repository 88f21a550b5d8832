"""``python -m streamblocks``: the command line (same as the ``streamblocks`` script)."""

import sys

from .cli import main

sys.exit(main())
