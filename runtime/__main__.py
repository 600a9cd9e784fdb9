"""``python -m runtime IMAGE... --model FILE``: see ``runtime.cli``."""

from runtime.cli import main

raise SystemExit(main())
