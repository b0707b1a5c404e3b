"""`python -m newsmon` runs the CLI (how `newsmon run` starts its role processes)."""

import sys

from newsmon.app.cli import main

sys.exit(main())
