"""python -m engine.cli: the same as songwriter-cli."""

import sys

from engine.cli import main

sys.exit(main())
