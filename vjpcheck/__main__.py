"""``python -m vjpcheck``: the same commands as ``vjpcheck``."""

import sys

from .cli import main

sys.exit(main())
