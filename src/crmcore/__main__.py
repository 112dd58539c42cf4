"""``python -m crmcore``: the same as the ``crmcore`` command."""

import sys

from crmcore.cli import main

sys.exit(main())
