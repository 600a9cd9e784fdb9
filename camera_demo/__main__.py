"""``python -m camera_demo``: the live digit reader (see ``camera_demo.cli``)."""

from camera_demo.cli import entry

raise SystemExit(entry())
