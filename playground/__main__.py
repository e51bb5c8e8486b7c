"""`python -m playground`: the command line (see `playground/cli.py`)."""

from .cli import main

raise SystemExit(main())
