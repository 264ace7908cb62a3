"""``python -m vjpcheck.cli``: the same commands as ``vjpcheck``."""

import sys

from . import main

sys.exit(main())
