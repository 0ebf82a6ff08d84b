"""``python -m openbank_sim``: the same as the ``openbank-sim`` command."""

import sys

from .cli import main

sys.exit(main())
