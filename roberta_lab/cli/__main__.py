"""``python -m roberta_lab.cli``: the ``roberta-lab`` command."""

import sys

from . import main

sys.exit(main())
