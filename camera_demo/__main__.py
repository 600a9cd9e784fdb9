"""``python -m camera_demo``: the live digit reader (see ``camera_demo.cli``)."""

from runtime.cli_common import run_module_main

run_module_main("camera_demo.cli", "entry")
