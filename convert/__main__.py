"""``python -m convert MODEL.keras --out DIR --formats LIST``."""

from convert.cli import main

raise SystemExit(main())
