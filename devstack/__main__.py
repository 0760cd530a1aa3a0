"""``python -m devstack``: see :mod:`devstack.run`."""

from __future__ import annotations

import sys

from devstack.run import main

sys.exit(main())
